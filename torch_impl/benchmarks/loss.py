"""``isreshape bench loss``: loss + gradient of every design against a hand-written PPO-clip.

For each shape (default [64, 4096] and [16, 32768]), dtype (float32, bfloat16) and design of
``losses.TOKEN_DESIGNS`` / ``SEQUENCE_DESIGNS`` / ``SEED_DESIGNS`` (``--designs``), it times
one training step's worth of loss work: ``policy_loss_and_metrics`` (``--variant loss``:
``policy_loss``) and the gradient of the loss with respect to log_prob, eager and compiled
(``torch.compile``, default mode, ``dynamic=False``). The baseline, timed in the same run and
in the same rounds, is the PPO-clip loss as a library writes it by hand, in the input dtype::

    w = exp(log_prob - old_log_prob)
    loss = masked token-mean of -min(w A, clip(w, 1 - 0.2, 1 + 0.2) A)

(verl's default clip ratios, the ``ppo_clip`` design's defaults), with verl's three PPO
metrics (clip fraction, lower clip fraction, approximate KL as masked means) in the metrics
variant. It prints, per design, the median time and the ratio to the
baseline in the same mode (compiled design / compiled PPO-clip, target <= 1.2x; eager /
eager). With ``is_reshape_ess`` among the designs, ``is_reshape_ess_unguarded`` (the same loss
hand-written without the library's numerical guards, :func:`is_reshape_ess_unguarded`) is timed
beside it as the floor of the weighting's cost. Inputs: per-sequence advantages A ~ N(0, 1) of shape [B, 1], log_prob in (-1.5, -0.5),
old_log_prob = log_prob + 0.05 N(0, 1), response lengths uniform in [T / 2, T] (torch seed 0).

Timing: ``--warmup`` calls of every contender first (compilation included), then
``--repeats`` rounds, each timing every contender once in turn (round-robin, so the load of
the shared machine drifts alike for all); the median per contender. Default clock: this
process's CPU time with one torch thread (``--threads``, ``--clock wall``), i.e. the compute a
call costs, not the time it waited for a core. Only the ratios mean anything on a shared
machine.

Devices: ``--device cpu`` (default), ``cuda`` or ``cuda:N``. On CUDA the inputs (the same
values as on the CPU: drawn there, then moved) live on the device, and the clock is wall time
with ``torch.cuda.synchronize()`` before and after each timed call (a CPU-time clock would count
the kernel launches, not the GPU's work: ``--clock cpu`` is refused there); ``--threads`` sets
the CPU's torch threads only and is ignored on CUDA. ``tools/gpu_runbook.sh`` runs it on a GPU.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
import types
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from isreshape.torch_impl import losses

Tensor = torch.Tensor
CLOCKS: dict[str, Callable[[], float]] = {"cpu": time.process_time, "wall": time.perf_counter}
DTYPES: dict[str, torch.dtype] = {"float32": torch.float32, "bfloat16": torch.bfloat16}
BASELINE = "ppo_clip_baseline"
TARGET = 1.2


def all_designs() -> list[str]:
    """Every named design of ``losses`` (token, sequence, the seeds')."""
    return list(losses.TOKEN_DESIGNS) + list(losses.SEQUENCE_DESIGNS) + list(losses.SEED_DESIGNS)


# ------------------------------------------------------------------ the baseline


def ppo_clip_baseline(
    log_prob: Tensor,
    old_log_prob: Tensor,
    advantages: Tensor,
    mask: Tensor,
    clip_low: float = 0.2,
    clip_high: float = 0.2,
    with_metrics: bool = True,
) -> tuple[Tensor, dict[str, Tensor]]:
    """Hand-written PPO-clip: masked token-mean of -min(w A, clip(w) A), in the input dtype,
    and (``with_metrics``) verl's clip fractions and approximate KL as masked means."""
    m = mask.to(log_prob.dtype)
    n = m.sum().clamp(min=1)
    log_ratio = log_prob - old_log_prob
    ratio = torch.exp(log_ratio)
    loss1 = -advantages * ratio
    loss2 = -advantages * torch.clamp(ratio, 1 - clip_low, 1 + clip_high)
    per_token = torch.maximum(loss1, loss2)
    loss = (per_token * m).sum() / n
    metrics: dict[str, Tensor] = {}
    if with_metrics:
        with torch.no_grad():
            metrics["clipfrac"] = ((loss2 > loss1).to(m.dtype) * m).sum() / n
            metrics["clipfrac_lower"] = (
                ((ratio < 1 - clip_low) & (advantages < 0)).to(m.dtype) * m
            ).sum() / n
            metrics["ppo_kl"] = (-log_ratio * m).sum() / n
    return loss, metrics


FLOOR = "is_reshape_ess_unguarded"


def is_reshape_ess_unguarded(
    log_prob: Tensor,
    old_log_prob: Tensor,
    advantages: Tensor,
    mask: Tensor,
    rho_min: float = 0.3,
    with_metrics: bool = True,
) -> tuple[Tensor, dict[str, Tensor]]:
    """The ``is_reshape_ess`` design written by hand the way the baseline is, without the
    library's numerical guards: gamma = min(1, sqrt(-log rho_min / s^2)) from the masked
    population variance s^2 of the clamped log w, phi = exp(gamma log w) A, loss value
    -(A + A (w^gamma - 1) / gamma), in the input dtype. Not a design to train with: the product
    gamma log w is rounded before the exponential (|gamma log w| eps relative error in w^gamma),
    w^gamma A over- or underflows beyond the dtype's exponent range, and gamma = 0 (s^2 = inf)
    divides by 0. It is the floor of the weighting's cost: compiled against compiled PPO-clip
    it is what a guard-free is_reshape_ess would cost: with ``--variant loss`` the gap to the
    library's design is the price of its guards; with metrics it also holds the library's
    fuller metrics (k-hat among them) against these three. Metrics (``with_metrics``): three masked means as cheap as the
    baseline's (approximate KL, mean ratio, Kish ESS / n)."""
    m = mask.to(log_prob.dtype)
    n = m.sum().clamp(min=1)
    log_ratio = (log_prob - old_log_prob).clamp(-losses.LOG_RATIO_CLAMP, losses.LOG_RATIO_CLAMP)
    with torch.no_grad():
        lw = log_ratio.detach()
        mean = (lw * m).sum() / n
        var = (((lw - mean) * m) ** 2).sum() / n
        gamma = torch.sqrt(-math.log(rho_min) / var).clamp(max=1.0)  # var = 0: inf -> 1
        w_gamma = torch.exp(gamma * lw)
        phi = w_gamma * advantages
        value = -(advantages + advantages * (w_gamma - 1) / gamma)
    per_token = value - phi * (log_prob - log_prob.detach())  # d / d log_prob = -phi
    loss = (per_token * m).sum() / n
    metrics: dict[str, Tensor] = {}
    if with_metrics:
        with torch.no_grad():
            w = torch.exp(lw) * m
            metrics["kl"] = (-lw * m).sum() / n
            metrics["ratio_mean"] = w.sum() / n
            metrics["ess_fraction"] = w.sum() ** 2 / (w * w).sum() / n
    return loss, metrics


# ------------------------------------------------------------------ contenders


def make_inputs(
    b: int, t: int, dtype: torch.dtype, device: str | torch.device = "cpu"
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """log_prob (requires grad), old_log_prob, advantages [B, 1], response_mask (prefixes), on
    ``device``: drawn on the CPU (the same values on every device), then moved."""
    g = torch.Generator().manual_seed(0)
    lp = -torch.rand(b, t, generator=g) - 0.5
    old = (lp + 0.05 * torch.randn(b, t, generator=g)).clamp(max=-1e-3)  # log-probabilities
    adv = torch.randn(b, 1, generator=g)
    lengths = torch.randint(max(1, t // 2), t + 1, (b, 1), generator=g)
    mask = torch.arange(t).unsqueeze(0) < lengths
    lp, old, adv, mask = (x.to(device) for x in (lp, old, adv, mask))
    return lp.to(dtype).requires_grad_(), old.to(dtype), adv.to(dtype), mask


def step_fn(design: str, variant: str) -> Callable[..., Any]:
    """The forward of one contender: (lp, old, A, mask) -> loss, or (loss, metrics)."""
    if design == BASELINE:
        with_metrics = variant == "metrics"

        def baseline(lp, old, A, mask):
            return ppo_clip_baseline(lp, old, A, mask, with_metrics=with_metrics)

        return baseline
    if design == FLOOR:
        with_metrics = variant == "metrics"

        def floor(lp, old, A, mask):
            return is_reshape_ess_unguarded(lp, old, A, mask, with_metrics=with_metrics)

        return floor
    if variant == "metrics":

        def with_metrics_fn(lp, old, A, mask):
            return losses.policy_loss_and_metrics(lp, old, A, mask, design=design)

        return with_metrics_fn

    def loss_fn(lp, old, A, mask):
        return losses.policy_loss(lp, old, A, mask, design=design)

    return loss_fn


def fresh_code(fn: Callable[..., Any], tag: str) -> Callable[..., Any]:
    """A copy of ``fn`` with its own code object: dynamo keeps its compiled entries (and checks
    their guards on every call) per code object, so contenders sharing one would pay for each
    other's guards."""
    name = "".join(c if c.isalnum() else "_" for c in f"{fn.__name__}_{tag}")
    code = fn.__code__.replace(co_name=name)
    return types.FunctionType(code, fn.__globals__, name, fn.__defaults__, fn.__closure__)


def forward_backward(forward: Callable[..., Any], inputs: Sequence[Tensor]) -> Callable[[], None]:
    """A zero-argument call: the forward, then the gradient of the loss w.r.t. log_prob."""
    lp = inputs[0]

    def call() -> None:
        out = forward(*inputs)
        loss = out[0] if isinstance(out, tuple) else out
        torch.autograd.grad(loss, lp)

    return call


# ------------------------------------------------------------------ timing


@dataclass
class Row:
    """One contender's median time (seconds) in one configuration."""

    shape: tuple[int, int]
    dtype: str
    mode: str  # "eager" or "compiled"
    design: str
    seconds: float


def time_round_robin(
    calls: dict[str, Callable[[], None]],
    repeats: int,
    warmup: int,
    clock: str,
    sync: Callable[[], None] | None = None,
) -> dict[str, float]:
    """Median time per call over ``repeats`` rounds, every contender once per round in turn,
    after ``warmup`` calls of each (compilation happens there). ``sync`` (on CUDA:
    ``torch.cuda.synchronize``) runs before and after each timed call, so a call's time
    includes the device work it queued and nothing queued before it."""
    tick = CLOCKS[clock]
    wait = sync or (lambda: None)
    for call in calls.values():
        for _ in range(warmup):
            call()
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            wait()
            t0 = tick()
            call()
            wait()
            times[name].append(tick() - t0)
    return {name: statistics.median(ts) for name, ts in times.items()}


def _allow_recompiles() -> None:
    # every contender has its own code object (fresh_code); this only keeps dynamo from
    # giving up should a function it inlines be specialised more than 8 times
    cfg = torch._dynamo.config
    for name in ("recompile_limit", "cache_size_limit", "accumulated_recompile_limit"):
        if hasattr(cfg, name):
            setattr(cfg, name, max(getattr(cfg, name), 4096))


def run(
    designs: Sequence[str],
    shapes: Sequence[tuple[int, int]],
    dtypes: Sequence[str],
    modes: Sequence[str] = ("eager", "compiled"),
    variant: str = "metrics",
    repeats: int = 5,
    warmup: int = 2,
    clock: str = "cpu",
    backend: str = "inductor",
    progress: Callable[[str], None] | None = None,
    device: str | torch.device = "cpu",
) -> list[Row]:
    """Time the baseline and ``designs`` in every (shape, dtype, mode) on ``device``; one Row
    each. On CUDA the clock must be ``wall``; each timed call is synchronised."""
    device = torch.device(device)
    if device.type == "cuda" and clock != "wall":
        raise ValueError(f"on {device} the clock must be 'wall', got {clock!r}")
    sync = (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else None
    _allow_recompiles()
    rows: list[Row] = []
    contenders = [BASELINE] + [d for d in designs if d not in (BASELINE, FLOOR)]
    if "is_reshape_ess" in contenders:  # its guard-free floor beside it
        contenders.append(FLOOR)
    for b, t in shapes:
        for dname in dtypes:
            inputs = make_inputs(b, t, DTYPES[dname], device)
            for mode in modes:
                calls = {}
                for design in contenders:
                    fwd = step_fn(design, variant)
                    if mode == "compiled":
                        fwd = fresh_code(fwd, f"{design}_{b}x{t}_{dname}")
                        fwd = torch.compile(fwd, backend=backend, dynamic=False)
                    calls[design] = forward_backward(fwd, inputs)
                if progress is not None:
                    progress(f"timing [{b}x{t}] {dname} {mode}: {len(calls)} contenders")
                med = time_round_robin(calls, repeats, warmup, clock, sync)
                rows += [Row((b, t), dname, mode, d, s) for d, s in med.items()]
    return rows


def format_rows(rows: Sequence[Row]) -> list[str]:
    """One line per (shape, dtype, design): eager and compiled ms and ratios to the baseline."""
    base = {(r.shape, r.dtype, r.mode): r.seconds for r in rows if r.design == BASELINE}
    lines = []
    keys = list(dict.fromkeys((r.shape, r.dtype) for r in rows))
    for shape, dtype in keys:
        cell = {(r.design, r.mode): r.seconds for r in rows if (r.shape, r.dtype) == (shape, dtype)}
        designs = list(dict.fromkeys(d for d, _ in cell))
        tag = f"[{shape[0]}x{shape[1]} {dtype}]"
        lines.append(
            f"{tag} {'design':24s} {'eager ms':>9s} {'ratio':>7s}   {'compiled ms':>11s} {'ratio':>7s}"
        )
        for design in designs:
            parts = [f"{tag} {design:24s}"]
            for mode, width in (("eager", 9), ("compiled", 11)):
                s = cell.get((design, mode))
                if s is None:
                    parts.append(f"{'-':>{width}s} {'-':>7s}")
                    continue
                ratio = s / base[(shape, dtype, mode)]
                parts.append(f"{s * 1e3:{width}.3f} {ratio:6.2f}x")
            lines.append(f"{parts[0]} {parts[1]}   {parts[2]}")
    return lines


def summary(rows: Sequence[Row], target: float = TARGET) -> list[str]:
    """Per (shape, dtype): designs within ``target`` of compiled PPO-clip, and the worst."""
    out = []
    base = {
        (r.shape, r.dtype): r.seconds for r in rows if r.design == BASELINE and r.mode == "compiled"
    }
    for (shape, dtype), b in base.items():
        ratios = {
            r.design: r.seconds / b
            for r in rows
            if (r.shape, r.dtype) == (shape, dtype)
            and r.mode == "compiled"
            and r.design != BASELINE
        }
        floor = ratios.pop(FLOOR, None)
        if not ratios:
            continue
        within = sorted(d for d, q in ratios.items() if q <= target)
        worst = max(ratios, key=ratios.get)
        out.append(
            f"[{shape[0]}x{shape[1]} {dtype}] compiled within {target}x of compiled PPO-clip: "
            f"{len(within)}/{len(ratios)}; worst {worst} {ratios[worst]:.2f}x; "
            f"median {statistics.median(ratios.values()):.2f}x"
        )
        if "ppo_clip" in ratios and len(ratios) > 1:
            # like for like: the library's own ppo_clip design computes the same metrics and
            # goes through the same code, so this ratio is the cost of the weighting alone
            own = {d: q / ratios["ppo_clip"] for d, q in ratios.items() if d != "ppo_clip"}
            worst_own = max(own, key=own.get)
            out.append(
                f"[{shape[0]}x{shape[1]} {dtype}] compiled against the ppo_clip design (the "
                f"same metrics): median {statistics.median(own.values()):.2f}x; worst "
                f"{worst_own} {own[worst_own]:.2f}x; ppo_clip design / hand-written PPO-clip "
                f"{ratios['ppo_clip']:.2f}x"
            )
        if floor is not None and "is_reshape_ess" in ratios:
            out.append(
                f"[{shape[0]}x{shape[1]} {dtype}] is_reshape_ess hand-written without its "
                f"guards ({FLOOR}): {floor:.2f}x of compiled PPO-clip; the library's "
                f"is_reshape_ess: {ratios['is_reshape_ess']:.2f}x"
            )
    return out


# ------------------------------------------------------------------ command line


def _shape(text: str) -> tuple[int, int]:
    b, _, t = text.lower().partition("x")
    try:
        shape = (int(b), int(t))
    except ValueError:
        raise argparse.ArgumentTypeError(f"a shape is BxT, e.g. 64x4096, got {text!r}") from None
    if min(shape) < 1:
        raise argparse.ArgumentTypeError(f"B and T must be >= 1, got {text!r}")
    return shape


def _names(text: str, valid: Sequence[str], what: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    bad = [n for n in names if n not in valid]
    if bad:
        raise argparse.ArgumentTypeError(f"unknown {what} {bad}; valid: {', '.join(valid)}")
    return names


def parse_device(text: str) -> str:
    """``cpu``, ``cuda`` or ``cuda:N`` (the syntax only; :func:`check_device` asks torch)."""
    kind, colon, index = text.strip().lower().partition(":")
    if kind == "cpu" and not colon:
        return "cpu"
    if kind == "cuda" and (not colon or index.isdigit()):
        return f"cuda:{int(index)}" if colon else "cuda"
    raise argparse.ArgumentTypeError(f"a device is cpu, cuda or cuda:N, got {text!r}")


def check_device(device: str) -> str | None:
    """Why ``device`` (from :func:`parse_device`) cannot run here, or None when it can."""
    if device == "cpu":
        return None
    if not torch.cuda.is_available():
        return f"{device!r}: CUDA is not available here (torch.cuda.is_available() is False)"
    index = torch.device(device).index
    if index is not None and index >= torch.cuda.device_count():
        n = torch.cuda.device_count()
        return f"{device!r}: this machine has {n} CUDA device(s), cuda:0 to cuda:{n - 1}"
    return None


def resolve_clock(device: str, clock: str | None) -> tuple[str | None, str | None]:
    """(clock, error): the default clock is ``cpu`` on the CPU and ``wall`` on CUDA, where a
    CPU-time clock is refused (it would count kernel launches, not the GPU's work)."""
    if device == "cpu":
        return clock or "cpu", None
    if clock == "cpu":
        return None, (
            f"process CPU time does not measure work on {device}; CUDA timings use "
            "wall time with torch.cuda.synchronize() around each call (--clock wall, the "
            "default there)"
        )
    return "wall", None


def add_device_arguments(p: argparse.ArgumentParser, where: str) -> None:
    """``--clock`` and ``--device`` (``where``: what lives on the device), shared by the
    benchmarks."""
    p.add_argument(
        "--clock",
        choices=sorted(CLOCKS),
        default=None,
        help="cpu: process CPU time (the default on the CPU); wall: elapsed time (use with "
        "--threads > 1; the default, and the only clock, on CUDA)",
    )
    p.add_argument(
        "--device",
        type=parse_device,
        default="cpu",
        help=f"cpu (default), cuda or cuda:N: {where}",
    )


def device_clock(p: argparse.ArgumentParser, args: argparse.Namespace) -> str:
    """The clock for ``args.device`` / ``args.clock``; an unusable device or clock is a parser
    error naming the argument (exit status 2)."""
    problem = check_device(args.device)
    if problem is not None:
        p.error(f"argument --device: {problem}")
    clock, problem = resolve_clock(args.device, args.clock)
    if problem is not None:
        p.error(f"argument --clock: {problem}")
    return clock


def device_name(device: str) -> str:
    """``cpu``, or ``cuda:N (<GPU name>)`` for the header line."""
    if device == "cpu":
        return "cpu"
    index = torch.device(device).index
    index = torch.cuda.current_device() if index is None else index
    return f"cuda:{index} ({torch.cuda.get_device_name(index)})"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="isreshape bench loss",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="shape 4x64, float32, designs ppo_clip and is_reshape_ess, 3 repeats (for the test)",
    )
    p.add_argument(
        "--designs",
        type=lambda s: _names(s, all_designs(), "design"),
        help="comma-separated design names (default: every named design)",
    )
    p.add_argument(
        "--shapes", type=_shape, nargs="+", default=None, help="BxT ... (default 64x4096 16x32768)"
    )
    p.add_argument(
        "--dtypes",
        type=lambda s: _names(s, list(DTYPES), "dtype"),
        default=None,
        help="comma-separated: float32,bfloat16 (default both)",
    )
    p.add_argument(
        "--modes",
        type=lambda s: _names(s, ["eager", "compiled"], "mode"),
        default=None,
        help="comma-separated: eager,compiled (default both)",
    )
    p.add_argument(
        "--variant",
        choices=("metrics", "loss"),
        default="metrics",
        help="metrics: policy_loss_and_metrics against PPO-clip with its metrics (default); "
        "loss: policy_loss against PPO-clip without metrics",
    )
    p.add_argument("--repeats", type=int, default=None, help="timed rounds (default 7)")
    p.add_argument("--warmup", type=int, default=2, help="untimed calls of each contender first")
    p.add_argument(
        "--backend", default="inductor", help="torch.compile backend (aot_eager for a quick check)"
    )
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="CPU torch threads (default 1, for a shared machine; no effect on CUDA)",
    )
    add_device_arguments(p, "where the inputs live and the loss runs")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    clock = device_clock(parser, args)
    if args.quick:
        designs = args.designs or ["ppo_clip", "is_reshape_ess"]
        shapes = args.shapes or [(4, 64)]
        dtypes = args.dtypes or ["float32"]
        repeats = args.repeats or 3
    else:
        designs = args.designs or all_designs()
        shapes = args.shapes or [(64, 4096), (16, 32768)]
        dtypes = args.dtypes or list(DTYPES)
        repeats = args.repeats or 7
    modes = args.modes or ["eager", "compiled"]
    if repeats < 1 or args.warmup < 0:
        print("--repeats must be >= 1 and --warmup >= 0", file=sys.stderr)
        return 2
    if args.device == "cpu":
        torch.set_num_threads(args.threads)
        where = f"device cpu, {torch.get_num_threads()} threads"
    else:
        where = f"device {device_name(args.device)}, CUDA {torch.version.cuda}"
    what = "policy_loss_and_metrics" if args.variant == "metrics" else "policy_loss"
    clock_text = {
        "cpu": "process CPU time",
        "wall": "wall time" if args.device == "cpu" else "wall time, synchronised",
    }[clock]
    print(
        f"loss benchmark: forward + backward of {what} (token-mean) against a hand-written "
        f"PPO-clip ({'with' if args.variant == 'metrics' else 'without'} its metrics), "
        f"torch {torch.__version__}, {where}, "
        f"compiled: torch.compile(backend={args.backend!r}, dynamic=False); "
        f"median of {repeats} round-robin rounds after {args.warmup} warm-up calls, "
        f"clock: {clock_text}; "
        "ratio = time / PPO-clip's time in the same mode, same run"
    )
    rows: list[Row] = []
    for shape in shapes:  # one table per (shape, dtype), printed as soon as it is timed
        for dtype in dtypes:
            group = run(
                designs,
                [shape],
                [dtype],
                modes,
                args.variant,
                repeats,
                args.warmup,
                clock,
                args.backend,
                progress=lambda s: print(s, file=sys.stderr, flush=True),
                device=args.device,
            )
            for line in format_rows(group):
                print(line, flush=True)
            rows += group
    for line in summary(rows):
        print(line)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
