"""The corrected ESS rule ``is_reshape_range`` (ledger 001-8.3-d, 001-12.1-f): the Kish ESS of
the applied weights w^gamma over the selected tokens is at least rho_min n on every batch,
heavy-tailed or not, where ``is_reshape_ess`` (Theorem 8.3 as written) falls below it."""

from __future__ import annotations

import math

import pytest
import torch

from isreshape.torch_impl import losses

F64 = torch.float64


def _applied_ess_fraction(design: str, log_w: torch.Tensor, mask: torch.Tensor, rho: float):
    """Kish ESS / n of v = phi / A (A = 1) over the selected tokens, computed here."""
    phi = losses.SEED_DESIGNS[design](log_w, torch.ones_like(log_w), mask=mask, rho_min=rho)
    v = phi[mask]
    return float(v.sum() ** 2 / (v * v).sum() / v.numel())


def _batches(n: int = 200):
    g = torch.Generator().manual_seed(20261206)
    for k in range(n):
        shape = (4, 16)
        t = torch.distributions.StudentT(torch.tensor(1.5, dtype=F64))
        lw = t.sample(shape) * (0.1 + 3 * k / n)  # heavy tails, from mild to far off-policy
        lw = lw.clamp(-20, 20)  # the loss's own clamp of log w
        mask = torch.rand(shape, generator=g) < 0.8
        mask[0, 0] = True
        yield lw, mask


@pytest.mark.parametrize("rho", [0.1, 0.3, 0.8])
def test_range_rule_keeps_the_ess_on_every_batch(rho):
    torch.manual_seed(3)
    worst_range, worst_ess, below_ess = 1.0, 1.0, 0
    for lw, mask in _batches():
        worst_range = min(worst_range, _applied_ess_fraction("is_reshape_range", lw, mask, rho))
        e = _applied_ess_fraction("is_reshape_ess", lw, mask, rho)
        worst_ess = min(worst_ess, e)
        below_ess += e < rho
    # the guarantee, up to float64 rounding of two sums of <= 64 terms
    assert worst_range >= rho * (1 - 1e-12), worst_range
    # the rule as written misses it on these heavy-tailed batches (the test can tell them apart)
    assert below_ess > 0 and worst_ess < rho, (below_ess, worst_ess)


def test_range_rule_gamma_by_hand():
    """log w in {-1, 0, 2} (R = 3): gamma = min(1, 2 sqrt(-log 0.3) / 3) = 0.73155...;
    a constant log w (R = 0) gives gamma = 1; masked tokens do not count."""
    lw = torch.tensor([[-1.0, 0.0, 2.0, 50.0]], dtype=F64)
    mask = torch.tensor([[True, True, True, False]])
    A = torch.ones_like(lw)
    phi = losses.is_reshape_range(lw, A, mask=mask, rho_min=0.3)
    g = 2 * math.sqrt(-math.log(0.3)) / 3
    assert torch.allclose(phi[0, :3], torch.exp(g * lw[0, :3]), rtol=1e-15)
    const = losses.is_reshape_range(torch.full((1, 3), 0.7, dtype=F64), A[:, :3])
    assert torch.allclose(const, torch.full((1, 3), math.exp(0.7), dtype=F64), rtol=1e-15)
    _, metrics = losses.policy_loss_and_metrics(
        torch.log(torch.tensor([[0.5, 0.2, 0.9]], dtype=F64)),
        torch.log(torch.tensor([[0.25, 0.4, 0.3]], dtype=F64)),
        torch.ones(1, 1, dtype=F64),
        design="is_reshape_range",
    )
    lwr = math.log(0.9 / 0.3) - math.log(0.2 / 0.4)
    want = min(1.0, 2 * math.sqrt(-math.log(0.3)) / lwr)
    assert float(metrics["design/gamma"]) == pytest.approx(want, rel=1e-14)
