"""torch_impl.losses, overflow safety (issue 13 item 3): log-ratios of +-200 (and +-1e4) in
float32, float64 and bfloat16 give a finite loss, gradient and metrics for every named design
(peers and seed designs), under every loss value convention, with and without rollout
correction; the default clamp at +-20 is what keeps them finite."""

from __future__ import annotations

import pytest
import torch

from isreshape.torch_impl import losses

DTYPES = [torch.float64, torch.float32, torch.bfloat16]


def _extreme(dtype):
    # log w = +200, -200, +150, -150, +1e4, -1e4, 0.3, -0.2 with every log-prob <= 0
    log_w = torch.tensor(
        [[200.0, -200.0, 150.0, -150.0], [1e4, -1e4, 0.3, -0.2]], dtype=torch.float64
    )
    lp = torch.where(log_w > 0, torch.full_like(log_w, -1.0), -1.0 + log_w)
    old = lp - log_w
    adv = torch.tensor([[1.0], [-1.0]], dtype=torch.float64)
    return lp.to(dtype), old.to(dtype), adv.to(dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("design", losses.all_designs())
def test_log_ratios_of_200_are_finite_for_every_design(design, dtype):
    lp, old, adv = _extreme(dtype)
    for conv in losses.LOSS_VALUES:
        for mode in losses.AGG_MODES:
            x = lp.clone().requires_grad_(True)
            loss = losses.policy_loss(x, old, adv, None, design, mode, loss_value=conv)
            (grad,) = torch.autograd.grad(loss, x)
            assert loss.dtype == dtype and grad.dtype == dtype
            assert torch.isfinite(loss) and bool(torch.isfinite(grad).all()), (conv, mode)
    x = lp.clone().requires_grad_(True)
    loss, metrics = losses.policy_loss_and_metrics(x, old, adv, None, design)
    (grad,) = torch.autograd.grad(loss, x)
    assert torch.isfinite(loss) and bool(torch.isfinite(grad).all())
    for k, v in metrics.items():
        assert v.dim() == 0 and not bool(torch.isnan(v)), k
        assert bool(torch.isfinite(v)) or k == "khat", k


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("design", losses.all_designs())
def test_rollout_log_ratios_of_200_are_finite(design, dtype):
    """The rollout engine's log-probs 200 nats away from old_log_prob, token and sequence."""
    lp, old, adv = _extreme(dtype)
    shift = torch.tensor([[200.0, -200.0, 0.0, 1e4], [-1e4, 0.0, 150.0, -150.0]])
    roll = torch.minimum(old.double() - shift.double(), torch.zeros(())).to(dtype)
    for level in ("token", "sequence"):
        for mode in ("truncate", "mask"):
            x = lp.clone().requires_grad_(True)
            loss, metrics = losses.policy_loss_and_metrics(
                x,
                old,
                adv,
                None,
                design,
                rollout_log_prob=roll,
                rollout_is=level,
                rollout_is_mode=mode,
                rollout_rejection={"k3": 1e9},  # k3(20) = 4.9e8: kept
            )
            (grad,) = torch.autograd.grad(loss, x)
            assert torch.isfinite(loss) and bool(torch.isfinite(grad).all()), (level, mode)
            for k, v in metrics.items():
                assert not bool(torch.isnan(v)), k


def test_the_clamp_is_what_keeps_it_finite():
    """Without the clamp a float32 log-ratio of +200 overflows (power weight NaN / inf)."""
    lp, old, adv = _extreme(torch.float32)
    x = lp.clone().requires_grad_(True)
    raw = losses.policy_loss(
        x, old, adv, None, "weights.power_weight", log_ratio_clamp=None, gamma=0.5
    )
    assert not torch.isfinite(raw)
    clamped = losses.policy_loss(x, old, adv, None, "weights.power_weight", gamma=0.5)
    assert torch.isfinite(clamped)
