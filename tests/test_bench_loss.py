"""``isreshape bench loss``: the quick mode's output format, the listing, and that the
hand-written PPO-clip baseline is PPO-clip (same gradient as the ``ppo_clip`` design). Never
timings (CONTRIBUTING: benchmarks report ratios, tests do not assert them)."""

from __future__ import annotations

import re

import pytest
import torch

from isreshape.proofs import cli
from isreshape.torch_impl import losses
from isreshape.torch_impl.benchmarks import loss as bench

ROW = re.compile(
    r"^\[(\d+)x(\d+) (float32|bfloat16)\] (\S+)\s+"
    r"(\d+\.\d{3}|-)\s+(\d+\.\d{2}x|-)\s+(\d+\.\d{3}|-)\s+(\d+\.\d{2}x|-)$"
)


def test_quick_mode_output_format(capsys):
    argv = ["--quick", "--backend", "aot_eager", "--designs", "ppo_clip,gspo"]
    assert bench.main(argv + ["--repeats", "1", "--warmup", "1"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("loss benchmark: forward + backward of policy_loss_and_metrics")
    assert "ratio = time / PPO-clip's time in the same mode, same run" in out[0]
    rows = [ROW.match(line) for line in out[2:-2]]
    assert all(rows), out
    assert [m.group(4) for m in rows] == [bench.BASELINE, "ppo_clip", "gspo"]
    for m in rows:
        assert (m.group(1), m.group(2), m.group(3)) == ("4", "64", "float32")
        assert "-" not in (m.group(5), m.group(7))  # eager and compiled both timed
    assert rows[0].group(6) == rows[0].group(8) == "1.00x"  # the baseline against itself
    assert re.match(
        r"^\[4x64 float32\] compiled within 1\.2x of compiled PPO-clip: \d/2; worst \S+ "
        r"\d+\.\d\dx; median \d+\.\d\dx$",
        out[-2],
    ), out[-2]
    own = re.match(
        r"^\[4x64 float32\] compiled against the ppo_clip design \(the same metrics\): median "
        r"(\d+\.\d\d)x; worst gspo (\d+\.\d\d)x; ppo_clip design / hand-written PPO-clip "
        r"(\d+\.\d\d)x$",
        out[-1],
    )
    assert own, out[-1]
    # the like-for-like ratio is gspo's over ppo_clip's, both from the rows above (ms, 3 decimals)
    gspo_ms, ppo_ms = float(rows[2].group(7)), float(rows[1].group(7))
    assert float(own.group(1)) == float(own.group(2))
    assert abs(float(own.group(1)) - gspo_ms / ppo_ms) <= 0.01 + 2e-3 / ppo_ms
    assert own.group(3) == rows[1].group(8)[:-1]


def test_eager_only_loss_variant_format(capsys):
    argv = ["--quick", "--modes", "eager", "--variant", "loss", "--dtypes", "bfloat16"]
    assert bench.main(argv + ["--designs", "tis_token", "--repeats", "1", "--warmup", "0"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "of policy_loss (token-mean)" in out[0] and "without its metrics" in out[0]
    rows = [ROW.match(line) for line in out[2:]]
    assert all(rows) and len(rows) == 2, out  # no compiled timing: no summary line
    assert all(m.group(3) == "bfloat16" and m.group(7) == "-" for m in rows)


@pytest.mark.parametrize(
    "argv",
    [["--designs", "nope"], ["--shapes", "64"], ["--dtypes", "float16"], ["--modes", "jit"]],
)
def test_bad_arguments_exit_2(argv):
    with pytest.raises(SystemExit) as exc:
        bench.main(argv)
    assert exc.value.code == 2


def test_listed_with_one_line(capsys):
    assert cli.main(["bench"]) == 0
    lines = capsys.readouterr().out.splitlines()
    loss_lines = [line for line in lines if line.split()[0] == "loss"]
    assert len(loss_lines) == 1 and "PPO-clip" in loss_lines[0]


def test_every_named_design_is_benchmarked_by_default():
    assert bench.all_designs() == (
        list(losses.TOKEN_DESIGNS) + list(losses.SEQUENCE_DESIGNS) + list(losses.SEED_DESIGNS)
    )


def test_baseline_is_ppo_clip():
    """The hand-written loss has the ppo_clip design's gradient (float64, off the clip kinks),
    and its clip fraction counts the tokens where the clipped term is taken."""
    lp, old, A, mask = bench.make_inputs(8, 64, torch.float64)
    noise = 0.3 * torch.randn(old.shape, generator=torch.Generator().manual_seed(1))
    old = (old + noise).clamp(max=-1e-3)  # off-policy enough that PPO clips
    loss, metrics = bench.ppo_clip_baseline(lp, old, A, mask)
    (g_base,) = torch.autograd.grad(loss, lp)
    ours = losses.policy_loss(lp, old, A, mask, design="ppo_clip")
    (g_ours,) = torch.autograd.grad(ours, lp)
    torch.testing.assert_close(g_base, g_ours, rtol=1e-12, atol=1e-15)
    w = (lp - old).exp().detach()
    clipped = ((A > 0) & (w > 1.2)) | ((A < 0) & (w < 0.8))
    assert metrics["clipfrac"].item() == pytest.approx(clipped[mask].double().mean().item())
    assert 0 < metrics["clipfrac"].item() < 1
    assert (g_base[~mask] == 0).all()


@pytest.mark.parametrize("noise", [0.05, 1.5])  # gamma = 1 (small spread), gamma < 1
def test_unguarded_floor_is_the_is_reshape_ess_loss(noise):
    """The guard-free floor is the is_reshape_ess design: same value and gradient (float64,
    moderate log-ratios where the guards change nothing), gamma < 1 included."""
    lp, old, A, mask = bench.make_inputs(8, 64, torch.float64)
    g = torch.Generator().manual_seed(2)
    old = (old + noise * torch.randn(old.shape, generator=g, dtype=torch.float64)).clamp(max=-1e-3)
    loss, metrics = bench.is_reshape_ess_unguarded(lp, old, A, mask)
    (g_floor,) = torch.autograd.grad(loss, lp)
    ours, ours_metrics = losses.policy_loss_and_metrics(lp, old, A, mask, design="is_reshape_ess")
    (g_ours,) = torch.autograd.grad(ours, lp)
    gamma = ours_metrics["design/gamma"].item()
    assert (gamma == 1.0) if noise < 1 else (0.2 < gamma < 0.95), gamma
    torch.testing.assert_close(g_floor, g_ours, rtol=1e-12, atol=1e-15)
    torch.testing.assert_close(loss, ours, rtol=1e-12, atol=1e-15)
    assert metrics["ess_fraction"].item() == pytest.approx(ours_metrics["ess_fraction"].item())
    assert (g_floor[~mask] == 0).all()


def test_floor_is_timed_beside_is_reshape_ess_and_kept_out_of_the_target_count(capsys):
    argv = ["--quick", "--backend", "aot_eager", "--designs", "is_reshape_ess"]
    assert bench.main(argv + ["--repeats", "1", "--warmup", "1"]) == 0
    out = capsys.readouterr().out.splitlines()
    rows = [ROW.match(line) for line in out[2:-2]]  # no ppo_clip: no like-for-like line
    assert all(rows), out
    assert [m.group(4) for m in rows] == [bench.BASELINE, "is_reshape_ess", bench.FLOOR]
    assert re.search(r"compiled within 1\.2x of compiled PPO-clip: \d/1;", out[-2]), out[-2]
    floor = re.match(
        r"^\[4x64 float32\] is_reshape_ess hand-written without its guards "
        r"\(is_reshape_ess_unguarded\): (\d+\.\d\d)x of compiled PPO-clip; the library's "
        r"is_reshape_ess: (\d+\.\d\d)x$",
        out[-1],
    )
    assert floor, out[-1]
    assert floor.group(1) == rows[2].group(8)[:-1] and floor.group(2) == rows[1].group(8)[:-1]


# ------------------------------------------------------------------ --device (both benchmarks)


@pytest.mark.parametrize("text, device", [("cpu", "cpu"), ("CUDA", "cuda"), ("cuda:1", "cuda:1")])
def test_device_syntax(text, device):
    assert bench.parse_device(text) == device


@pytest.mark.parametrize("name", ["loss", "alpha"])
@pytest.mark.parametrize("device", ["tpu", "cuda:", "cpu:0", "cuda:99"])
def test_bad_or_missing_device_exits_2_naming_device(name, device, capsys):
    """A malformed device, or one this machine lacks (cuda:99), is an argument error."""
    with pytest.raises(SystemExit) as exc:
        cli.main(["bench", name, "--quick", "--device", device])
    assert exc.value.code == 2
    assert "argument --device" in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
@pytest.mark.parametrize("name", ["loss", "alpha"])
def test_cuda_without_cuda_is_a_clear_error(name, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["bench", name, "--quick", "--device", "cuda"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "argument --device: 'cuda': CUDA is not available here" in err


def test_clock_per_device():
    """CPU: CPU time by default, wall on request; CUDA: wall, and a CPU-time clock refused."""
    assert bench.resolve_clock("cpu", None) == ("cpu", None)
    assert bench.resolve_clock("cpu", "wall") == ("wall", None)
    assert bench.resolve_clock("cuda", None) == ("wall", None)
    assert bench.resolve_clock("cuda:0", "wall") == ("wall", None)
    clock, problem = bench.resolve_clock("cuda", "cpu")
    assert clock is None and "torch.cuda.synchronize()" in problem


def test_header_names_the_device(capsys):
    argv = ["--quick", "--modes", "eager", "--designs", "ppo_clip", "--repeats", "1"]
    assert bench.main(argv + ["--warmup", "0", "--device", "cpu"]) == 0
    assert ", device cpu, 1 threads, " in capsys.readouterr().out.splitlines()[0]
