"""torch_impl.losses, the seed 000 design ``variational_gamma`` (issue 13 item 1): phi = w^gamma_t A
with the corrected per-token gamma of ``reference.variational.is_reshape_v2_gamma`` (mpmath)
over the selected tokens of the whole batch, its case limits, and its gradient equal to the
seed's section 10 loss once that loss uses the importance ratio (claim 000-10-e)."""

from __future__ import annotations

import math

import mpmath
import pytest
import torch

import isreshape.reference.variational as rv
from isreshape.torch_impl import losses
from isreshape.torch_impl import variational as tv


def _batch(seed: int, B: int = 3, T: int = 6):
    g = torch.Generator().manual_seed(seed)
    lp = -torch.rand(B, T, generator=g, dtype=torch.float64) * 2 - 4.0
    old = lp + torch.randn(B, T, generator=g, dtype=torch.float64) * 0.8
    adv = torch.randn(B, 1, generator=g, dtype=torch.float64)
    mask = torch.rand(B, T, generator=g) < 0.7
    mask[:, 0] = True
    return lp, old, adv, mask


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(
    "params",
    [{}, {"rho_min": 0.8, "temperature": 1.0}, {"gamma_min": 0.2, "gamma_max": 0.9}],
)
def test_phi_matches_the_mpmath_reference_over_the_selected_tokens(seed, params):
    lp, old, adv, mask = _batch(seed)
    phi = losses.gradient_weights(lp, old, adv, mask, "variational_gamma", **params)
    lw = (lp - old)[mask].tolist()
    A = adv.expand_as(lp)[mask].tolist()
    defaults = {"rho_min": 0.3, "gamma_min": 0.0, "gamma_max": 1.0, "temperature": 5.0}
    kw = {**defaults, **params}
    with mpmath.workdps(30):
        gammas = rv.is_reshape_v2_gamma(lw, A, None, **kw)
        want = [float(mpmath.exp(g * mpmath.mpf(x)) * a) for g, x, a in zip(gammas, lw, A)]
    got = phi[mask].tolist()
    for i, (a, b) in enumerate(zip(got, want)):
        assert math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-300), (i, a, b)
    assert bool((phi[~mask] == 0).all())


def test_case_limits_are_the_seed_000_table():
    """Large |log w| and |A|: gamma -> 0 (case 1: w > 1, A > 0), gamma_base (cases 2, 3),
    1 (case 4: w < 1, A < 0), the section 8.1 table the corrected formula reproduces."""
    lw = torch.tensor([[8.0, 8.0, -8.0, -8.0, 0.5, -0.5]], dtype=torch.float64)
    A = torch.tensor([[9.0, -9.0, 9.0, -9.0, 0.0, 0.0]], dtype=torch.float64)
    g = losses._variational_gammas(lw, A, None, 0.3, 0.0, 1.0, 5.0)[0]
    s2 = float(lw.var())  # unbiased, as the seed's code
    gb = min(1.0, math.sqrt(-math.log(0.3) / s2))
    assert float(g[0]) == pytest.approx(0.0, abs=1e-15)
    assert float(g[1]) == pytest.approx(gb, rel=1e-15)
    assert float(g[2]) == pytest.approx(gb, rel=1e-15)
    assert float(g[3]) == pytest.approx(1.0, abs=1e-15)


def test_gradient_equals_the_section_10_loss_with_the_importance_ratio():
    """One sequence (the seed's code takes the variance of its masked log-ratios): the
    gradient of policy_loss(variational_gamma, token-mean) is that of the seed's loss with
    ref_log_prob = old_log_prob (the correction of claim 000-10-e)."""
    lp, old, adv, mask = _batch(5, B=1, T=9)
    adv_tok = adv.expand_as(lp).contiguous()
    x = lp.clone().requires_grad_(True)
    seed_loss = tv.is_reshape_v2_loss(x, old, old, adv_tok, mask.to(torch.float64))
    (g_seed,) = torch.autograd.grad(seed_loss, x)
    x = lp.clone().requires_grad_(True)
    ours = losses.policy_loss(x, old, adv, mask, "variational_gamma", "token-mean")
    (g_ours,) = torch.autograd.grad(ours, x)
    assert torch.allclose(g_ours, g_seed, rtol=1e-13, atol=1e-300)


def test_padding_values_never_enter_gamma():
    lp, old, adv, mask = _batch(6)
    phi = losses.gradient_weights(lp, old, adv, mask, "variational_gamma")
    garbage = torch.where(mask, old, old - 60.0)
    phi2 = losses.gradient_weights(lp, garbage, adv, mask, "variational_gamma")
    assert torch.equal(phi, phi2)
    # counting the padding would change gamma_base: the unmasked torch twin differs
    unmasked = tv.is_reshape_v2_gamma((lp - garbage).reshape(-1), adv.expand_as(lp).reshape(-1))
    masked = losses._variational_gammas(lp - old, adv, mask, 0.3, 0.0, 1.0, 5.0)
    assert not torch.allclose(unmasked.reshape(lp.shape)[mask], masked[mask])
