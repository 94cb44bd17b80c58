"""torch_impl.losses, the loss value conventions (issue 13 item 2): the gradient is identical
under every convention, the default value is the one verl logs (PPO's -min(w A, clip(w) A)
aggregated, written out here), the seed designs' objectives have phi as their log-w derivative
and the value A at w = 1."""

from __future__ import annotations

import math
import zlib

import pytest
import torch

from isreshape.torch_impl import losses

DESIGNS = losses.all_designs()


def _batch(seed: int, B: int = 5, T: int = 7):
    g = torch.Generator().manual_seed(seed)
    old = -torch.rand(B, T, generator=g, dtype=torch.float64) * 3 - 0.5
    lp = (old + torch.randn(B, T, generator=g, dtype=torch.float64) * 0.5).clamp(max=0.0)
    mask = torch.rand(B, T, generator=g) < 0.75
    mask[0] = False
    mask[1] = True
    adv = torch.randn(B, 1, generator=g, dtype=torch.float64)
    adv[2] = 0.0
    return lp, old, mask, adv


def _grad(loss, x):
    (g,) = torch.autograd.grad(loss, x)
    return g


@pytest.mark.parametrize("mode", losses.AGG_MODES)
@pytest.mark.parametrize("design", DESIGNS)
def test_gradient_is_identical_under_every_loss_value_convention(design, mode):
    lp, old, mask, adv = _batch(zlib.crc32(f"{design}|{mode}".encode()) % 1000)
    grads, values = {}, {}
    for conv in losses.LOSS_VALUES:
        x = lp.clone().requires_grad_(True)
        loss = losses.policy_loss(x, old, adv, mask, design, mode, loss_value=conv)
        grads[conv] = _grad(loss, x)
        values[conv] = float(loss.detach())
        assert math.isfinite(values[conv])
    for conv in losses.LOSS_VALUES[1:]:
        diff = (grads[conv] - grads["surrogate"]).abs().max()
        assert float(diff) <= 1e-12 * max(1.0, float(grads["surrogate"].abs().max())), conv
    # weighted_logprob is -agg(sg(phi) log_prob), written out for token-sum
    if mode == "token-sum":
        phi = losses.gradient_weights(lp, old, adv, mask, design)
        want = -float((phi * torch.where(mask, lp, 0.0)).sum())
        assert values["weighted_logprob"] == pytest.approx(want, rel=1e-12, abs=1e-300)
        assert values["phi"] == pytest.approx(-float(phi.sum()), rel=1e-12, abs=1e-300)


def _verl_ppo_value(lp, old, adv, mask, lo, hi, c=None):
    """verl compute_policy_loss_vanilla + agg_loss(token-mean), written out in float64."""
    ratio = torch.exp(torch.clamp(lp - old, -20.0, 20.0))
    A = adv.expand_as(lp)
    l1 = -A * ratio
    l2 = -A * torch.clamp(ratio, 1 - lo, 1 + hi)
    per_token = torch.maximum(l1, l2)
    if c is not None:
        per_token = torch.where(A < 0, torch.minimum(-A * c, per_token), per_token)
    m = mask.to(lp.dtype)
    return float((per_token * m).sum() / m.sum())


def test_ppo_clip_value_equals_verl_pg_loss():
    lp, old, mask, adv = _batch(7)
    lo, hi = 0.2, 0.28
    want = _verl_ppo_value(lp, old, adv, mask, lo, hi)
    got = losses.policy_loss(lp, old, adv, mask, "ppo_clip", clip_ratio_low=lo, clip_ratio_high=hi)
    assert float(got) == pytest.approx(want, rel=1e-14, abs=1e-15)
    # the former convention -agg(phi) differs wherever the clip binds
    phi_value = losses.policy_loss(
        lp, old, adv, mask, "ppo_clip", loss_value="phi", clip_ratio_low=lo, clip_ratio_high=hi
    )
    assert abs(float(phi_value) - want) > 1e-3
    # dual clip with c = 1.5 (binds for A < 0, w > 1.5)
    lp2 = lp.clone()
    lp2[3] = (old[3] + 0.9).clamp(max=0.0)
    adv2 = adv.clone()
    adv2[3] = -1.0
    want = _verl_ppo_value(lp2, old, adv2, mask, lo, hi, c=1.5)
    got = losses.policy_loss(
        lp2,
        old,
        adv2,
        mask,
        "ppo_dual_clip",
        clip_ratio_low=lo,
        clip_ratio_high=hi,
        clip_ratio_c=1.5,
    )
    assert float(got) == pytest.approx(want, rel=1e-14, abs=1e-15)


def test_ppo_clip_value_equals_verl_in_float32_and_bfloat16():
    lp, old, mask, adv = _batch(8)
    want = _verl_ppo_value(lp, old, adv, mask, 0.2, 0.2)
    for dtype, tol in ((torch.float32, 1e-5), (torch.bfloat16, 2e-2)):
        got = losses.policy_loss(lp.to(dtype), old.to(dtype), adv.to(dtype), mask, "ppo_clip")
        assert got.dtype == dtype
        assert float(got) == pytest.approx(want, rel=tol, abs=tol)


def test_reinforce_form_peers_log_minus_weight_times_log_prob():
    """CISPO (verl): pg_loss = agg(-sg(clip(w, 1 - lo, 1 + hi)) A log_prob), written out."""
    lp, old, mask, adv = _batch(9)
    w = torch.exp(lp - old)
    per_token = -torch.clamp(w, 0.8, 1.28) * adv * lp
    m = mask.to(lp.dtype)
    want = float((per_token * m).sum() / m.sum())
    got = losses.policy_loss(
        lp, old, adv, mask, "cispo_verl", clip_ratio_low=0.2, clip_ratio_high=0.28
    )
    assert float(got) == pytest.approx(want, rel=1e-14)


def test_kl_cov_and_clip_cov_log_verl_pg_losses():
    """verl's kl_cov / clip_cov modes log PPO-form pg_losses, written out where the selection
    is fixed: kl_cov with kl_cov_ratio = 1 puts every selected token in the top k, so verl's
    pg_loss is token-mean(-A w + coef |log w|); clip_cov with clip_cov_lb = clip_cov_ub has no
    candidate, so it is token-mean(-min(w A, clip(w) A)). Not the REINFORCE form
    -sg(phi) log_prob (the value logged before: another number under the same name)."""
    lp, old, mask, adv = _batch(13)
    m = mask.to(lp.dtype)
    lw = lp - old
    w = torch.exp(lw)
    kl = -adv * w + 0.5 * lw.abs()
    want = float((kl * m).sum() / m.sum())
    got = losses.policy_loss(lp, old, adv, mask, "kl_cov", kl_cov_ratio=1.0, ppo_kl_coef=0.5)
    assert float(got) == pytest.approx(want, rel=1e-13)
    ppo = -torch.minimum(w * adv, torch.clamp(w, 0.8, 1.2) * adv)
    want = float((ppo * m).sum() / m.sum())
    got = losses.policy_loss(lp, old, adv, mask, "clip_cov", clip_cov_lb=1.0, clip_cov_ub=1.0)
    assert float(got) == pytest.approx(want, rel=1e-13)


def test_seed_design_values_are_their_objectives():
    """is_reshape_ess: -(A + A (w^gamma - 1) / gamma) with gamma from the selected tokens'
    variance, by hand; every seed design at w = 1 logs -A (as PPO does)."""
    lp, old, mask, adv = _batch(10)
    lw = (lp - old)[mask]
    var = float(((lw - lw.mean()) ** 2).mean())
    gamma = min(1.0, math.sqrt(-math.log(0.3) / var))
    A = adv.expand_as(lp)[mask]
    f = A + A * torch.expm1(gamma * lw) / gamma
    want = -float(f.sum()) / int(mask.sum())
    got = losses.policy_loss(lp, old, adv, mask, "is_reshape_ess")
    assert float(got) == pytest.approx(want, rel=1e-12)
    A_tok = adv.expand_as(lp)
    want_on_policy = -float(A_tok[mask].sum()) / int(mask.sum())
    for design in losses.SEED_DESIGNS:
        got = losses.policy_loss(lp, lp.clone(), adv, mask, design)
        assert float(got) == pytest.approx(want_on_policy, rel=1e-13, abs=1e-15), design


@pytest.mark.parametrize(
    "name,params",
    [
        ("truncated_power", {"gamma": 1.0, "M": 2.0}),
        ("truncated_power", {"gamma": 0.6, "M": 1.3}),
        ("truncated_power", {"gamma": -0.7, "M": 0.8}),
        ("truncated_power", {"gamma": 0.0, "M": 0.5}),
        # kinks on grid points (t = L at log w = 0, the on-policy point, and at log w = 2):
        # the gradient there must be the design's, whatever clamp's boundary convention
        ("truncated_power", {"gamma": 1.0, "M": 1.0}),
        ("truncated_power", {"gamma": 0.5, "M": math.e}),
        ("soft_saturation", {"gamma": 1.0, "lam": 0.5}),
        ("soft_saturation", {"gamma": 0.5, "lam": 0.5}),
        ("soft_saturation", {"gamma": 0.7, "lam": 2.0}),
        ("soft_saturation", {"gamma": -1.2, "lam": 0.3}),
        ("soft_saturation", {"gamma": 1.0, "lam": 0.0}),
        ("soft_saturation", {"gamma": 0.0, "lam": 0.5}),
    ],
)
def test_fixed_gamma_objectives_have_phi_as_derivative(name, params):
    """d f / d log w = phi (autograd of the closed form against the design), f(1, A) = A."""
    lw = torch.linspace(-6.0, 6.0, 97, dtype=torch.float64).requires_grad_(True)
    A = torch.where(torch.arange(97) % 3 == 0, -1.7, 0.9).to(torch.float64)
    f = losses._SEED_OBJECTIVES[name](lw, A, **params)
    (df,) = torch.autograd.grad(f.sum(), lw)
    phi = losses.SEED_DESIGNS[name](lw.detach(), A, **params)
    assert torch.allclose(df, phi, rtol=1e-12, atol=1e-13), (df - phi).abs().max()
    f0 = losses._SEED_OBJECTIVES[name](torch.zeros(3, dtype=torch.float64), A[:3], **params)
    assert torch.allclose(f0, A[:3], rtol=0, atol=1e-15)
    # the value is continuous in log w (a kink is allowed, a jump is not): on a fine grid
    # (2001 points) each step is at most spacing * max |phi| (1 % slack: the max of phi
    # between two grid points may exceed the grid's)
    fine = torch.linspace(-6.0, 6.0, 2001, dtype=torch.float64)
    for a in (-1.7, 0.9):
        A_c = torch.full_like(fine, a)
        fv = losses._SEED_OBJECTIVES[name](fine, A_c, **params)
        bound = float(fine[1] - fine[0]) * float(
            losses.SEED_DESIGNS[name](fine, A_c, **params).abs().max()
        )
        assert float(fv.diff().abs().max()) <= 1.01 * bound


def test_trust_region_and_variational_objectives_with_gamma_held_fixed():
    """The objective's derivative with gamma frozen at its per-token value is phi."""
    from isreshape.torch_impl import trust_region as ttr

    lw = torch.linspace(-4.0, 4.0, 41, dtype=torch.float64)
    A = torch.where(torch.arange(41) % 2 == 0, -0.8, 1.3).to(torch.float64)
    g = ttr.gamma_adaptive(lw, A, 0.1, 0.9, 1.0)
    x = lw.clone().requires_grad_(True)
    f = A + A * ttr.f_gamma(x, g, 1.0)
    (df,) = torch.autograd.grad(f.sum(), x)
    phi = losses.trust_region_adaptive(lw, A)
    assert torch.allclose(df, phi, rtol=1e-12, atol=1e-14)
    got = losses._SEED_OBJECTIVES["trust_region_adaptive"](lw, A)
    assert torch.allclose(got, f.detach(), rtol=1e-15, atol=0)


def test_loss_value_errors():
    lp, old, mask, adv = _batch(11)
    with pytest.raises(ValueError, match="loss_value"):
        losses.policy_loss(lp, old, adv, mask, loss_value="objective")


def test_before_and_after_on_a_verl_batch(capsys):
    """The numbers quoted for issue 13: the former value -agg(phi) against verl's pg_loss."""
    lp, old, mask, adv = _batch(13)
    want = _verl_ppo_value(lp, old, adv, mask, 0.2, 0.2)
    after = float(losses.policy_loss(lp, old, adv, mask, "ppo_clip"))
    before = float(losses.policy_loss(lp, old, adv, mask, "ppo_clip", loss_value="phi"))
    print(f"verl {want:.6f} after {after:.6f} before {before:.6f}")
    assert after == pytest.approx(want, rel=1e-14)


@pytest.mark.parametrize("A", [1.3, -0.7])
def test_the_general_definition_gives_verl_objective_for_ppo_clip(A):
    """f(w, A) = A + int_0^{log w} phi(s, A) ds, integrated numerically (trapezoid, step
    h = 1e-4: the error is at most h |jump of phi| / 2 ~ 1e-4 at the clip boundary), equals
    PPO's min(w A, clip(w, 0.8, 1.2) A) at every log w in [-1, 1]: the definition the seed
    designs' values follow is PPO's own objective when applied to PPO's phi."""
    from isreshape.torch_impl import peers

    h = 1e-4
    for sign in (1.0, -1.0):
        s = torch.arange(0, 10001, dtype=torch.float64) * h * sign
        phi = peers.ppo_clip(s, torch.tensor(A, dtype=torch.float64))
        f = A + torch.cumulative_trapezoid(phi, s, dim=0)
        w = torch.exp(s[1:])
        want = torch.minimum(w * A, torch.clamp(w, 0.8, 1.2) * A)
        assert float((f - want).abs().max()) < 2e-4
        # and the package logs that value: the per-token loss equals -f
        lp = torch.full((1, 1), -2.0, dtype=torch.float64)
        for idx in (2000, 5000, 9999):
            old = lp - s[idx + 1]
            v = losses.policy_loss(lp, old, torch.tensor([[A]], dtype=torch.float64))
            assert float(v) == pytest.approx(-float(want[idx]), rel=1e-14)
