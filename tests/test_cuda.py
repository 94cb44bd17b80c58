"""CUDA against the CPU: the losses, their gradients and metrics, a compiled loss, host
synchronisation, and alpha*. This module runs only on a CUDA machine (tools/gpu_runbook.sh);
never run in this project's CI, which has no GPU: without CUDA every test is skipped.

* every named design (``losses.all_designs()``): ``policy_loss_and_metrics``'s loss, the
  gradient of the loss w.r.t. log_prob and every metric, on CUDA and on the CPU from the same
  inputs, equal within ``F64`` in float64 and ``F32`` in float32 (reasons beside them);
* ``torch.compile(fullgraph=True)`` of ``make_policy_loss(design, with_metrics=True)`` on CUDA
  equals the eager call (``COMPILED``: a few designs, each compile takes seconds);
* forward + backward (eager and compiled) under ``torch.cuda.set_sync_debug_mode("error")``:
  any operator that makes the host wait for the GPU raises. ``tests/test_compile_sync.py``
  counts the syncs with a dispatch mode on meta tensors, where only device -> host reads
  count; the debug mode is the direct check on a real GPU, and it also flags a synchronous
  host -> device copy (``torch.as_tensor(python_number, device="cuda")`` waits for the
  stream);
* ``sampling.optimal_alpha`` on CUDA equals the CPU (float64 and float32).

Inputs: B = 8 sequences of T = 64 tokens, response lengths uniform in [32, 64] (about 400
selected tokens), log_prob in (-1.5, -0.5), old_log_prob = log_prob + 0.3 N(0, 1) (off-policy
enough that the clipping designs clip), one advantage N(0, 1) per sequence; torch seed 0,
drawn in float64 on the CPU and cast, so both devices see the same numbers.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import pytest
import torch

from isreshape.torch_impl import losses, sampling

pytestmark = pytest.mark.skipif(
    not torch.cuda.is_available(),
    reason="no CUDA device (torch.cuda.is_available() is False); this module runs only on a "
    "GPU machine: bash tools/gpu_runbook.sh",
)

DESIGNS: list[str] = losses.all_designs()

#: designs whose compiled loss and sync-freedom are checked (a clip, the seed's ESS-gamma
#: reshaping, a sequence-level design, the variational gamma: the four code paths that differ
#: most); every design is covered by test_compile_sync.py on meta tensors
COMPILED = ["ppo_clip", "is_reshape_ess", "gspo", "variational_gamma"]

#: float64, CUDA vs CPU: the same formulas on the same numbers; they differ only in the order
#: of the reductions (CUDA sums in a tree over thread blocks, the CPU in vectorised chunks) and
#: in the last ulp or two of exp / log / pow. A sum of ~400 terms then carries a relative
#: error of at most ~400 eps = 9e-14, and the metrics that are ill-conditioned (a standard
#: deviation of log w, k-hat's tail fit, differences of sums) amplify it by at most ~100:
#: rtol 1e-10 leaves a margin and is still orders of magnitude below what a wrong formula, a
#: dropped term or a device-dependent branch would change. atol: values that cancel to ~0 (a
#: loss or kl/k1 near the on-policy point) have absolute rounding ~ n eps |terms|, |terms| <= 10.
F64 = {"rtol": 1e-10, "atol": 1e-12}

#: float32, CUDA vs CPU: on these inputs the CPU's float32 values differ from its float64
#: values by at most 4.2e-6 relative (kl/k1 of ppo_clip; measured with torch 2.13, every
#: design, every metric but the fractions); CUDA's float32 is as far from float64 on its own,
#: so the two devices differ by at most about twice that. rtol 1e-4 is a 10x margin over that
#: bound; atol 1e-5 covers values near 0 (gradients are ~|A| w / 400 ~ 1e-3).
F32 = {"rtol": 1e-4, "atol": 1e-5}

#: float32 fractions (reshaped_fraction, zeroed_fraction, case fractions, ...) count tokens
#: against a threshold (64 eps relative for reshaped_fraction, a clip bound for the others): a
#: token within float32 rounding of the threshold may be counted on one device only. 0.02 is
#: about 8 of the ~400 selected tokens (float32 vs float64 on the CPU moves reshaped_fraction
#: by up to 0.08 because the threshold itself is 64 eps of the dtype; across devices the
#: threshold is the same and only tokens within a few ulp of it can move).
F32_FRACTION = {"rtol": 0.0, "atol": 0.02}


def _inputs(dtype: torch.dtype, device: str | torch.device = "cpu", B: int = 8, T: int = 64):
    """log_prob (leaf, requires grad), old_log_prob, advantages [B, 1], response_mask."""
    g = torch.Generator().manual_seed(0)
    lp = -torch.rand(B, T, generator=g, dtype=torch.float64) - 0.5
    old = (lp + 0.3 * torch.randn(B, T, generator=g, dtype=torch.float64)).clamp(max=-0.01)
    A = torch.randn(B, 1, generator=g, dtype=torch.float64)
    lengths = torch.randint(T // 2, T + 1, (B, 1), generator=g)
    mask = torch.arange(T).unsqueeze(0) < lengths
    lp, old, A, mask = (t.to(device) for t in (lp, old, A, mask))
    return lp.to(dtype).requires_grad_(), old.to(dtype), A.to(dtype), mask


def _loss_grad_metrics(fn: Callable[..., Any], lp, old, A, mask) -> dict[str, torch.Tensor]:
    """{"loss", "grad", every metric}, detached and on the CPU."""
    loss, metrics = fn(lp, old, A, mask)
    (grad,) = torch.autograd.grad(loss, lp)
    out = {"loss": loss, "grad": grad, **metrics}
    return {k: v.detach().cpu() for k, v in out.items()}


def _metrics_fn(design: str) -> Callable[..., Any]:
    def fn(lp, old, A, mask):
        return losses.policy_loss_and_metrics(lp, old, A, mask, design=design)

    return fn


def _assert_same(got: dict, want: dict, tol: dict, fraction_tol: dict | None = None, what=""):
    assert got.keys() == want.keys(), f"{what}: keys {sorted(got)} != {sorted(want)}"
    for key, w in want.items():
        t = fraction_tol if fraction_tol is not None and key.endswith("fraction") else tol
        torch.testing.assert_close(
            got[key], w, equal_nan=True, msg=lambda m, key=key: f"{what} {key}: {m}", **t
        )


# ------------------------------------------------------------------ CUDA vs CPU, eager


@pytest.mark.parametrize("design", DESIGNS)
def test_float64_matches_cpu(design):
    cpu = _loss_grad_metrics(_metrics_fn(design), *_inputs(torch.float64))
    gpu = _loss_grad_metrics(_metrics_fn(design), *_inputs(torch.float64, "cuda"))
    assert all(v.dtype == torch.float64 for k, v in gpu.items()), "float64 in, float64 out"
    _assert_same(gpu, cpu, F64, what=f"{design} float64 cuda vs cpu")


@pytest.mark.parametrize("design", DESIGNS)
def test_float32_matches_cpu(design):
    cpu = _loss_grad_metrics(_metrics_fn(design), *_inputs(torch.float32))
    gpu = _loss_grad_metrics(_metrics_fn(design), *_inputs(torch.float32, "cuda"))
    _assert_same(gpu, cpu, F32, F32_FRACTION, what=f"{design} float32 cuda vs cpu")


# ------------------------------------------------------------------ compiled on CUDA


@functools.cache  # one compile per design (dynamo keeps its entries per code object: the
def _compiled(design: str) -> Callable[..., Any]:  # designs' closures share one, limit 8)
    fn = losses.make_policy_loss(design, with_metrics=True)  # validated once, on the CPU
    return torch.compile(fn, fullgraph=True, dynamic=False)


@pytest.mark.parametrize("design", COMPILED)
def test_compiled_matches_eager(design):
    """Inductor fuses the element-wise work and reorders the reductions: float32 tolerance."""
    inputs = _inputs(torch.float32, "cuda")
    eager = _loss_grad_metrics(losses.make_policy_loss(design, with_metrics=True), *inputs)
    compiled = _loss_grad_metrics(_compiled(design), *inputs)
    _assert_same(compiled, eager, F32, F32_FRACTION, what=f"{design} compiled vs eager")


# ------------------------------------------------------------------ no host synchronisation


def _forward_backward(fn: Callable[..., Any], lp, old, A, mask) -> None:
    loss, _ = fn(lp, old, A, mask)
    loss.backward()


def _without_sync(run: Callable[[], None]) -> None:
    """``run()`` with the sync debug mode at "error": a synchronising CUDA call raises."""
    previous = torch.cuda.get_sync_debug_mode()
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        run()
    finally:
        torch.cuda.set_sync_debug_mode(previous)
    torch.cuda.synchronize()


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["f32", "bf16"])
@pytest.mark.parametrize("design", COMPILED)
def test_no_host_sync_eager(design, dtype):
    lp, old, A, mask = _inputs(dtype, "cuda")
    fn = _metrics_fn(design)
    _forward_backward(fn, lp, old, A, mask)  # first call: lazy CUDA initialisation
    lp.grad = None
    _without_sync(lambda: _forward_backward(fn, lp, old, A, mask))
    assert lp.grad is not None and torch.isfinite(lp.grad).all()


@pytest.mark.parametrize("design", COMPILED)
def test_no_host_sync_compiled(design):
    lp, old, A, mask = _inputs(torch.float32, "cuda")
    fn = _compiled(design)
    _forward_backward(fn, lp, old, A, mask)  # compiles (and may sync) outside the mode
    lp.grad = None
    _without_sync(lambda: _forward_backward(fn, lp, old, A, mask))
    assert lp.grad is not None and torch.isfinite(lp.grad).all()


def test_sync_debug_mode_catches_a_sync():
    """The check can fail: ``.item()`` of a CUDA tensor raises under the mode."""
    x = torch.ones(3, device="cuda")
    with pytest.raises(RuntimeError, match="synchroniz"):
        _without_sync(lambda: x.sum().item())


# ------------------------------------------------------------------ alpha*


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
def test_optimal_alpha_matches_cpu(dtype):
    """Gaussian logits (3 randn; the target 3 randn + 0.5 theta), N = 16 rows of V = 32768.
    float64: the same Halley passes on both devices, differing in the order of the logsumexp
    reductions only (see ``F64``); float32: 1e-6 absolute, as test_sampling's CUDA test."""
    g = torch.Generator().manual_seed(0)
    theta = 3 * torch.randn(16, 32768, generator=g, dtype=torch.float64)
    target = 3 * torch.randn(16, 32768, generator=g, dtype=torch.float64) + 0.5 * theta
    x, y = theta.to(dtype), target.to(dtype)
    cpu = sampling.optimal_alpha(x, y)
    gpu = sampling.optimal_alpha(x.cuda(), y.cuda())
    assert gpu.device.type == "cuda" and gpu.dtype == dtype
    tol = F64 if dtype == torch.float64 else {"rtol": 0.0, "atol": 1e-6}
    torch.testing.assert_close(gpu.cpu(), cpu, **tol)
