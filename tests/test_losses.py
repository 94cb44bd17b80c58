"""torch_impl.losses: the gradient of policy_loss w.r.t. log_prob equals the aggregated -phi of
the mpmath reference; masked tokens get exactly zero gradient; empty masks give 0, not NaN;
inputs are never modified; verl's own PPO loss form has the same gradient."""

from __future__ import annotations

import math
import zlib

import mpmath
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import isreshape.reference.peers as ref
from isreshape.torch_impl import losses

PARAMS = {
    "ppo_clip": {"clip_ratio_low": 0.2, "clip_ratio_high": 0.28},
    "ppo_dual_clip": {"clip_ratio_low": 0.2, "clip_ratio_high": 0.28, "clip_ratio_c": 1.5},
    "cispo_verl": {"clip_ratio_low": 0.2, "clip_ratio_high": 0.28},
    "cispo_trl": {"epsilon_high": 1.3},
    "sapo": {"tau_pos": 1.0, "tau_neg": 1.05},
    "tis_token": {"clip_min": 0.5, "clip_max": 1.4},
    "mis_token": {"clip_min": 0.7, "clip_max": 1.4},
    "topr": {},
    "dft": {},
    "gspo": {"clip_ratio_low": 0.05, "clip_ratio_high": 0.08},
    "tis_sequence": {"clip_min": 0.5, "clip_max": 1.5},
    "mis_sequence": {"clip_min": 0.5, "clip_max": 1.5},
    "vespo": {"k_pos": 2.0, "lambda_pos": 3.0, "k_neg": 3.0, "lambda_neg": 2.0},
}


def _batch(seed: int, B: int = 5, T: int = 6):
    g = torch.Generator().manual_seed(seed)
    old = -torch.rand(B, T, generator=g, dtype=torch.float64) * 3 - 0.5
    log_prob = (old + torch.randn(B, T, generator=g, dtype=torch.float64) * 0.4).clamp(max=0.0)
    mask = torch.rand(B, T, generator=g) < 0.7
    mask[0] = False  # a fully masked sequence
    mask[1] = True
    adv = torch.randn(B, 1, generator=g, dtype=torch.float64)
    adv[2] = 0.0
    return log_prob, old, mask, adv


def _ref_phi(design, log_prob, old, mask, adv) -> list[list[float]]:
    """phi per token from the mpmath reference (0 where masked)."""
    params = PARAMS[design]
    fn = getattr(ref, design)
    out = []
    with mpmath.workdps(30):
        for b in range(log_prob.shape[0]):
            lw = (log_prob[b] - old[b]).tolist()
            a = float(adv[b, 0])
            m = mask[b].tolist()
            if design in losses.SEQUENCE_DESIGNS:
                row = [float(v) for v in fn(lw, a, mask=m, **params)]
            else:
                row = [float(fn(x, a, **params)) if k else 0.0 for x, k in zip(lw, m)]
            out.append(row)
    return out


def _expected_grad(phi, mask, mode) -> list[list[float]]:
    """-d loss / d log_prob by hand from the aggregation definitions (verl agg_loss)."""
    T = len(phi[0])
    counts = [sum(r) for r in mask.tolist()]
    n_tok = max(sum(counts), 1)
    n_seq = max(sum(1 for c in counts if c > 0), 1)
    B = len(phi)
    out = []
    for b, row in enumerate(phi):
        # TRL's GRPOTrainer (trl/trainer/grpo_trainer.py, loss_type): grpo = mean over B of the
        # per-sequence token means; luspo = mean over B of the sequence sums; dr_grpo = token
        # sum / (B * max_completion_length); bnpo = token mean
        if mode == "trl-grpo":
            scale = 1 / (max(counts[b], 1) * B)
        elif mode == "trl-luspo":
            scale = 1 / B
        elif mode == "trl-dr_grpo":
            scale = 1 / (B * T)
        elif mode in ("token-mean", "trl-bnpo"):
            scale = 1 / n_tok
        elif mode == "token-sum":
            scale = 1.0
        elif mode == "seq-mean-token-sum":
            scale = 1 / n_seq
        elif mode == "seq-mean-token-mean":
            scale = 1 / (max(counts[b], 1) * n_seq)
        else:  # seq-mean-token-sum-norm: verl sums the sequence losses and divides by T
            scale = 1 / T
        out.append([-p * scale for p in row])
    return out


@pytest.mark.parametrize("mode", losses.AGG_MODES)
@pytest.mark.parametrize("design", sorted(PARAMS))
def test_gradient_is_aggregated_minus_phi(design, mode):
    log_prob, old, mask, adv = _batch(seed=zlib.crc32(f"{design}|{mode}".encode()) % 1000)
    lp = log_prob.clone().requires_grad_(True)
    loss = losses.policy_loss(lp, old, adv, mask, design, mode, **PARAMS[design])
    (grad,) = torch.autograd.grad(loss, lp)
    phi = _ref_phi(design, log_prob, old, mask, adv)
    want = _expected_grad(phi, mask, mode)
    for b in range(len(want)):
        for t in range(len(want[b])):
            assert math.isclose(float(grad[b, t]), want[b][t], rel_tol=1e-12, abs_tol=1e-300), (
                design,
                mode,
                b,
                t,
            )
    assert bool((grad[~mask] == 0).all())
    # loss_value="phi": the value is -agg(phi), the same linear functional applied to the weights
    loss_phi = losses.policy_loss(
        log_prob, old, adv, mask, design, mode, loss_value="phi", **PARAMS[design]
    )
    assert math.isclose(float(loss_phi), sum(map(sum, want)), rel_tol=1e-12, abs_tol=1e-300)


def test_verl_vanilla_ppo_loss_has_the_same_gradient():
    """verl compute_policy_loss_vanilla (dual clip) with agg_loss token-mean, written out."""
    log_prob, old, mask, adv = _batch(seed=7)
    adv = adv.expand_as(log_prob)
    lo, hi, c = 0.2, 0.28, 1.5
    lp = log_prob.clone().requires_grad_(True)
    ratio = torch.exp(lp - old)
    l1 = -adv * ratio
    l2 = -adv * torch.clamp(ratio, 1 - lo, 1 + hi)
    clip1 = torch.maximum(l1, l2)
    clip2 = torch.min(-adv * c, clip1)
    per_token = torch.where(adv < 0, clip2, clip1)
    m = mask.to(per_token.dtype)
    verl = (per_token * m).sum() / m.sum()
    (g_verl,) = torch.autograd.grad(verl, lp)
    lp2 = log_prob.clone().requires_grad_(True)
    ours = losses.policy_loss(
        lp2,
        old,
        adv,
        mask,
        "ppo_dual_clip",
        "token-mean",
        clip_ratio_low=lo,
        clip_ratio_high=hi,
        clip_ratio_c=c,
    )
    (g_ours,) = torch.autograd.grad(ours, lp2)
    assert torch.allclose(g_ours, g_verl, rtol=1e-14, atol=1e-300)


@pytest.mark.parametrize("mode", losses.AGG_MODES)
def test_empty_mask_gives_zero_loss_and_zero_gradient(mode):
    log_prob, old, _, adv = _batch(seed=3)
    mask = torch.zeros_like(log_prob, dtype=torch.bool)
    for design in ("ppo_clip", "gspo", "vespo"):
        lp = log_prob.clone().requires_grad_(True)
        loss = losses.policy_loss(lp, old, adv, mask, design, mode)
        (grad,) = torch.autograd.grad(loss, lp)
        assert float(loss.detach()) == 0.0 and bool((grad == 0).all())


def test_masked_garbage_has_zero_gradient_and_no_nan():
    log_prob, old, mask, adv = _batch(seed=4)
    log_prob = log_prob.clone()
    old = old.clone()
    log_prob[~mask] = float("nan")
    old[0, :3] = float("inf")
    old[0, 3:] = float("-inf")
    for design in PARAMS:
        for mode in losses.AGG_MODES:
            lp = log_prob.clone().requires_grad_(True)
            loss = losses.policy_loss(lp, old, adv, mask, design, mode, **PARAMS[design])
            (grad,) = torch.autograd.grad(loss, lp)
            assert math.isfinite(float(loss)), (design, mode)
            assert bool(torch.isfinite(grad).all()) and bool((grad[~mask] == 0).all())


def test_inputs_are_not_modified():
    log_prob, old, mask, adv = _batch(seed=5)
    copies = [x.clone() for x in (log_prob, old, mask, adv)]
    lp = log_prob.requires_grad_(True)
    for design in PARAMS:
        losses.policy_loss(
            lp, old, adv, mask, design, "seq-mean-token-mean", **PARAMS[design]
        ).backward()
    for x, y in zip((log_prob.detach(), old, mask, adv), copies):
        assert torch.equal(x, y)


def test_extreme_ratios_give_no_nan_in_low_precision():
    old = torch.full((2, 4), -2e4)
    lp = old + torch.tensor([[-700.0, -50.0, 0.0, 50.0], [88.0, 200.0, -1e4, 1e4]])
    adv = torch.tensor([[1.0], [-1.0]])
    for dtype in (torch.float32, torch.bfloat16):
        for design in PARAMS:
            x = lp.to(dtype).requires_grad_(True)
            loss = losses.policy_loss(
                x, old.to(dtype), adv.to(dtype), None, design, **PARAMS[design]
            )
            assert loss.dtype == dtype
            (grad,) = torch.autograd.grad(loss, x)
            assert not bool(torch.isnan(grad).any()) and not math.isnan(float(loss)), (
                dtype,
                design,
            )


def test_callable_design_and_errors():
    log_prob, old, mask, adv = _batch(seed=6)

    def power_half(log_w, A):
        return torch.exp(0.5 * log_w) * A

    lp = log_prob.clone().requires_grad_(True)
    loss = losses.policy_loss(lp, old, adv, mask, power_half, "token-sum")
    (grad,) = torch.autograd.grad(loss, lp)
    for b in range(log_prob.shape[0]):
        for t in range(log_prob.shape[1]):
            want = -math.exp(0.5 * float(log_prob[b, t] - old[b, t])) * float(adv[b, 0])
            want = want if bool(mask[b, t]) else 0.0
            assert math.isclose(float(grad[b, t]), want, rel_tol=1e-13, abs_tol=1e-300)
    with pytest.raises(ValueError, match="loss_agg_mode"):
        losses.policy_loss(log_prob, old, adv, mask, "ppo_clip", "seq-sum")
    with pytest.raises(ValueError, match="design"):
        losses.policy_loss(log_prob, old, adv, mask, "grpo")
    with pytest.raises(ValueError, match="old_log_prob"):
        losses.policy_loss(log_prob, old[:, :3], adv, mask)
    with pytest.raises(ValueError, match="clip_ratio_high"):
        losses.policy_loss(log_prob, old, adv, mask, "ppo_clip", clip_ratio_high=-0.1)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 4),
    st.integers(1, 5),
    st.sampled_from(losses.AGG_MODES),
    st.sampled_from(sorted(PARAMS)),
    st.integers(0, 2**31 - 1),
)
def test_property_gradient_matches_reference(B, T, mode, design, seed):
    g = torch.Generator().manual_seed(seed)
    old = -torch.rand(B, T, generator=g, dtype=torch.float64) * 5
    log_prob = (old + torch.randn(B, T, generator=g, dtype=torch.float64) * 2).clamp(max=0.0)
    mask = torch.rand(B, T, generator=g) < 0.6
    adv = torch.randn(B, 1, generator=g, dtype=torch.float64) * 3
    lp = log_prob.clone().requires_grad_(True)
    loss = losses.policy_loss(lp, old, adv, mask, design, mode, **PARAMS[design])
    (grad,) = torch.autograd.grad(loss, lp)
    want = _expected_grad(_ref_phi(design, log_prob, old, mask, adv), mask, mode)
    for b in range(B):
        for t in range(T):
            assert math.isclose(float(grad[b, t]), want[b][t], rel_tol=1e-11, abs_tol=1e-300)


def test_module_function_design_names():
    """A seed design from another torch_impl module, by name; expectation from independent math."""
    weights = pytest.importorskip("isreshape.torch_impl.weights")
    if not hasattr(weights, "power_weight"):
        pytest.skip("torch_impl.weights.power_weight not present")
    log_prob, old, mask, adv = _batch(seed=8)
    lp = log_prob.clone().requires_grad_(True)
    loss = losses.policy_loss(lp, old, adv, mask, "weights.power_weight", "token-sum", gamma=0.5)
    (grad,) = torch.autograd.grad(loss, lp)
    for b in range(log_prob.shape[0]):
        for t in range(log_prob.shape[1]):
            want = -math.exp(0.5 * float(log_prob[b, t] - old[b, t])) * float(adv[b, 0])
            want = want if bool(mask[b, t]) else 0.0
            assert math.isclose(float(grad[b, t]), want, rel_tol=1e-13, abs_tol=1e-300)
    with pytest.raises(ValueError, match="design"):
        losses.policy_loss(log_prob, old, adv, mask, "nosuchmodule.fn")


def test_batch_statistic_designs_see_the_response_mask():
    """design='variational.is_reshape_v2_gradient_weight' got no mask (issue 13): padding entered
    its variance and 1/n. Now the padded entries' values cannot change a valid token's phi."""
    from isreshape.torch_impl import variational as tv

    g = torch.Generator().manual_seed(3)
    lp = torch.randn(2, 6, generator=g, dtype=torch.float64) * 0.3 - 1.0
    old = lp + torch.randn(2, 6, generator=g, dtype=torch.float64) * 0.2
    adv = torch.randn(2, 1, generator=g, dtype=torch.float64)
    mask = torch.tensor([[1, 1, 1, 1, 0, 0], [1, 1, 1, 0, 0, 0]], dtype=torch.bool)
    design = "variational.is_reshape_v2_gradient_weight"
    phi = losses.gradient_weights(lp, old, adv, mask, design=design)
    want = tv.is_reshape_v2_gradient_weight(lp - old, adv, mask=mask)
    assert torch.allclose(phi[mask], want[mask], rtol=1e-15, atol=0)
    garbage = torch.where(mask, old, old + 50.0)
    phi2 = losses.gradient_weights(lp, garbage, adv, mask, design=design)
    assert torch.equal(phi, phi2)
    # without the mask the padding would have counted: the unmasked call differs
    unmasked = tv.is_reshape_v2_gradient_weight(lp - garbage, adv)
    assert not torch.allclose(unmasked[mask], want[mask])
    # a callable design with a mask parameter gets it too
    phi3 = losses.gradient_weights(lp, garbage, adv, mask, design=tv.is_reshape_v2_gradient_weight)
    assert torch.equal(phi3, phi)
    with pytest.raises(ValueError, match="response_mask"):
        losses.gradient_weights(lp, old, adv, mask, design=design, mask=mask)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.bfloat16])
def test_log_ratios_of_200_give_finite_losses_and_gradients(dtype):
    """A float32 log-ratio of +200 gave a loss of inf (ppo_clip) or NaN (power weight): the
    default clamp at +-20 (verl's) keeps every design finite; without it the overflow shows."""
    lp = torch.tensor([[-1.0, -202.0, -0.5, -153.0]], dtype=dtype)
    old = lp - torch.tensor([[200.0, -200.0, 150.0, -150.0]], dtype=dtype)
    adv = torch.tensor([[1.0]], dtype=dtype)
    designs = [*losses.TOKEN_DESIGNS, *losses.SEQUENCE_DESIGNS, "weights.power_weight"]
    for design in designs:
        params = {"gamma": 0.5} if design == "weights.power_weight" else {}
        x = lp.clone().requires_grad_(True)
        loss = losses.policy_loss(x, old, adv, None, design, **params)
        (grad,) = torch.autograd.grad(loss, x)
        assert torch.isfinite(loss) and torch.isfinite(grad).all(), design
    x = lp.clone().requires_grad_(True)
    raw = losses.policy_loss(
        x, old, adv, None, "weights.power_weight", log_ratio_clamp=None, gamma=0.5
    )
    if dtype != torch.float64:
        assert not torch.isfinite(raw)
    with pytest.raises(ValueError, match="log_ratio_clamp"):
        losses.policy_loss(lp, old, adv, None, "ppo_clip", log_ratio_clamp=0.0)


def test_inputs_that_would_broadcast_or_fail_silently_are_refused():
    """(B,) advantages with B == T broadcast along T silently; a NaN log-prob was reported as
    'log_w must be not NaN'; a mismatched advantage shape gave a raw torch error (issue 13)."""
    lp = torch.full((3, 3), -1.0, dtype=torch.float64)
    old = lp - 0.1
    with pytest.raises(ValueError, match=r"per sequence: shape \(3, 1\)"):
        losses.policy_loss(lp, old, torch.ones(3, dtype=torch.float64))
    with pytest.raises(ValueError, match="does not broadcast"):
        losses.policy_loss(lp, old, torch.ones(3, 2, dtype=torch.float64))
    bad = lp.clone()
    bad[1, 2] = float("nan")
    with pytest.raises(ValueError, match="log_prob must be finite at a selected token"):
        losses.policy_loss(bad, old, torch.ones(3, 1, dtype=torch.float64))
    mask = torch.ones(3, 3, dtype=torch.bool)
    mask[1, 2] = False  # a NaN where the mask is False is padding: accepted
    loss = losses.policy_loss(bad, old, torch.ones(3, 1, dtype=torch.float64), mask)
    assert torch.isfinite(loss)
    inf_lp = lp.clone()
    inf_lp[0, 0] = float("inf")  # 1 + inf - inf would be a silent NaN loss
    with pytest.raises(ValueError, match="log_prob must be finite"):
        losses.policy_loss(inf_lp, old, torch.ones(3, 1, dtype=torch.float64))
    # (3, 4) and (1, 4) broadcast against each other, but not to log_prob's (1, 4)
    with pytest.raises(ValueError, match="does not broadcast"):
        losses.policy_loss(lp[:1, :3], old[:1, :3], torch.ones(3, 3, dtype=torch.float64))
    # per-token advantages: NaN padding is fine, NaN at a selected token is named
    adv_tok = torch.ones(3, 3, dtype=torch.float64)
    adv_tok[1, 2] = float("nan")
    assert torch.isfinite(losses.policy_loss(lp, old, adv_tok, mask, "is_reshape_ess"))
    with pytest.raises(ValueError, match="advantages must be finite"):
        losses.policy_loss(lp, old, adv_tok)
    # the accepted shapes: scalar, (B, 1), (B, T)
    for adv in (torch.tensor(1.0, dtype=torch.float64), torch.ones(3, 1), torch.ones(3, 3)):
        assert torch.isfinite(losses.policy_loss(lp, old, adv.to(torch.float64)))


def test_metrics_are_tensors_with_the_values_computed_by_hand():
    g = torch.Generator().manual_seed(0)
    lp = -torch.rand(4, 8, generator=g, dtype=torch.float64) * 2
    old = (lp + torch.randn(4, 8, generator=g, dtype=torch.float64) * 0.3).clamp(max=0.0)
    adv = torch.randn(4, 1, generator=g, dtype=torch.float64)
    mask = torch.ones(4, 8, dtype=torch.bool)
    mask[0, 5:] = False
    loss, m = losses.policy_loss_and_metrics(lp, old, adv, mask, "ppo_clip")
    assert torch.equal(loss, losses.policy_loss(lp, old, adv, mask, "ppo_clip"))
    assert all(isinstance(v, torch.Tensor) and v.dim() == 0 for v in m.values())
    lw = [float(a - b) for a, b, k in zip(lp.flatten(), old.flatten(), mask.flatten()) if k]
    A = [float(adv[i // 8, 0]) for i, k in enumerate(mask.flatten().tolist()) if k]
    w = [math.exp(x) for x in lw]
    n = len(w)
    # PPO clip (0.2): phi = 0 exactly where the clipped branch is active
    clipped = sum(1 for wi, a in zip(w, A) if (a > 0 and wi > 1.2) or (a < 0 and wi < 0.8))
    assert clipped > 0
    assert float(m["zeroed_fraction"]) == pytest.approx(clipped / n, abs=1e-15)
    assert float(m["reshaped_fraction"]) == pytest.approx(clipped / n, abs=1e-15)
    assert float(m["ratio/mean"]) == pytest.approx(sum(w) / n, rel=1e-14)
    assert float(m["ratio/max"]) == pytest.approx(max(w), rel=1e-15)
    assert float(m["ess_fraction"]) == pytest.approx(
        sum(w) ** 2 / sum(x * x for x in w) / n, rel=1e-13
    )
    assert float(m["kl/k1"]) == pytest.approx(-sum(lw) / n, rel=1e-13)
    assert float(m["kl/k3"]) == pytest.approx(sum(math.expm1(x) - x for x in lw) / n, rel=1e-12)
    # plain importance sampling reshapes nothing
    _, m_is = losses.policy_loss_and_metrics(lp, old, adv, mask, "weights.power_weight", gamma=1.0)
    assert float(m_is["reshaped_fraction"]) == 0.0 and float(m_is["zeroed_fraction"]) == 0.0
    # nothing selected: loss 0, metrics NaN
    loss0, m0 = losses.policy_loss_and_metrics(lp, old, adv, torch.zeros_like(mask), "ppo_clip")
    assert float(loss0) == 0.0 and all(math.isnan(float(v)) for v in m0.values())


def test_seed_designs_by_name_use_the_selected_tokens_only():
    from isreshape.torch_impl import gamma as tg
    from isreshape.torch_impl import weights as tw

    g = torch.Generator().manual_seed(0)
    lp = -torch.rand(4, 8, generator=g, dtype=torch.float64) * 2
    old = (lp + torch.randn(4, 8, generator=g, dtype=torch.float64) * 1.5).clamp(max=0.0)
    adv = torch.randn(4, 1, generator=g, dtype=torch.float64)
    mask = torch.ones(4, 8, dtype=torch.bool)
    mask[0, 5:] = False
    mask[2, 3:] = False
    lw_sel = (lp - old)[mask]
    # ESS rule: gamma from the variance of the selected log w (population variance)
    gamma = tg.gamma_star_ess(lw_sel.var(correction=0), 0.3)
    assert 0 < float(gamma) < 1
    phi = losses.gradient_weights(lp, old, adv, mask, "is_reshape_ess")
    want = tw.power_weight(lp - old, adv, gamma)
    assert torch.allclose(phi[mask], want[mask], rtol=1e-14, atol=0)
    # counting the padding (log w = 0 there) would change gamma, hence phi
    wrong = tg.gamma_star_ess(torch.where(mask, lp - old, 0.0).var(correction=0), 0.3)
    assert abs(float(wrong) - float(gamma)) > 1e-3
    # per-sign rule over the selected tokens
    A_full = torch.broadcast_to(adv, lp.shape)
    gp, gn = tg.per_sign_gamma(lp - old, A_full, mask, 0.3)
    phi = losses.gradient_weights(lp, old, adv, mask, "per_sign_power")
    want = tw.asymmetric_power_weight(lp - old, adv, gp, gn)
    assert torch.allclose(phi[mask], want[mask], rtol=1e-14, atol=0)
    for name in losses.SEED_DESIGNS:
        loss = losses.policy_loss(lp, old, adv, mask, name)
        assert torch.isfinite(loss), name
    with pytest.raises(ValueError, match="is_reshape_ess"):
        losses.policy_loss(lp, old, adv, mask, "no_such_design")


_ALL_NAMED = (
    sorted(losses.TOKEN_DESIGNS) + sorted(losses.SEQUENCE_DESIGNS) + sorted(losses.SEED_DESIGNS)
)


def _pad(x: torch.Tensor, extra_t: torch.Tensor, extra_rows: torch.Tensor) -> torch.Tensor:
    """x (B, T) with extra positions appended and fully padded rows inserted after row 1."""
    wide = torch.cat([x, extra_t], dim=1)
    return torch.cat([wide[:2], extra_rows, wide[2:]], dim=0)


_ROLLOUT = {
    "rollout_is": "sequence",
    "rollout_rejection": {
        "geometric": 1.3,
        "sequence": 3.0,
        "token_any": (0.3, 3.0),
        "token": (0.5, 1.8),
        "k3": 0.15,
    },
}


@pytest.mark.parametrize("rollout", [False, True], ids=["plain", "rollout"])
@pytest.mark.parametrize("mode", losses.AGG_MODES)
@pytest.mark.parametrize("design", _ALL_NAMED)
def test_extra_masked_padding_never_changes_the_gradient(design, mode, rollout):
    """Issue 13 done-when: every named design, token and sequence level, gives the same gradient
    (and loss value) on the real tokens whether or not the batch carries extra masked padding:
    3 extra positions per sequence and 2 extra fully padded sequences, holding NaN, +-inf,
    +-1e30 and random values in log_prob, old_log_prob, rollout_log_prob and the advantages.
    seq-mean-token-sum-norm with a fixed loss_scale_factor: its default divisor is the padded
    length T, as verl's."""
    log_prob, old, mask, adv = _batch(seed=zlib.crc32(f"pad|{design}|{mode}".encode()) % 1000)
    B, T = log_prob.shape
    g = torch.Generator().manual_seed(5)
    roll = (old + torch.randn(B, T, generator=g, dtype=torch.float64) * 0.4).clamp(max=0.0)
    pad_t, pad_b = 3, 2
    if mode in losses.BATCH_SIZE_MODES:
        pad_b = 0  # TRL divides by all B sequences: a padded sequence changes B, as in TRL

    def junk(rows: int, cols: int) -> torch.Tensor:
        x = torch.randn(rows, cols, generator=g, dtype=torch.float64) * 40
        specials = torch.tensor([math.nan, math.inf, -math.inf, 1e30, -1e30], dtype=torch.float64)
        idx = torch.randint(0, 10, (rows, cols), generator=g)
        return torch.where(idx < 5, specials[idx.clamp(max=4)], x)

    def padded(x: torch.Tensor) -> torch.Tensor:
        return _pad(x, junk(B, pad_t), junk(pad_b, T + pad_t))

    lp_pad, old_pad, roll_pad = padded(log_prob), padded(old), padded(roll)
    mask_pad = _pad(
        mask,
        torch.zeros(B, pad_t, dtype=torch.bool),
        torch.zeros(pad_b, T + pad_t, dtype=torch.bool),
    )
    adv_pad = torch.cat([adv[:2], junk(pad_b, 1), adv[2:]], dim=0)
    real = [0, 1, *range(2 + pad_b, B + pad_b)]
    params = PARAMS.get(design, {})
    scale = 17.0 if mode in ("seq-mean-token-sum-norm", "trl-dr_grpo") else None
    out = []
    for lp, od, rl, m, a in (
        (log_prob, old, roll, mask, adv),
        (lp_pad, old_pad, roll_pad, mask_pad, adv_pad),
    ):
        extra = {"rollout_log_prob": rl, **_ROLLOUT} if rollout else {}
        x = lp.clone().requires_grad_(True)
        loss = losses.policy_loss(x, od, a, m, design, mode, scale, **extra, **params)
        (gr,) = torch.autograd.grad(loss, x)
        out.append((loss.detach(), gr))
    (loss0, g0), (loss1, g1) = out
    assert torch.isfinite(loss1) and bool(torch.isfinite(g1).all()), (design, mode)
    assert torch.allclose(g1[real, :T], g0, rtol=1e-12, atol=1e-300), (design, mode)
    assert bool((g1[:, T:] == 0).all()) and bool((g1[2 : 2 + pad_b] == 0).all())
    assert math.isclose(float(loss1), float(loss0), rel_tol=1e-12, abs_tol=1e-300)


def test_seed_designs_match_the_mpmath_reference_at_their_defaults():
    """trust_region_adaptive (seed 003 section 5.1: 0.1, 0.9, 1, 1), truncated_power (gamma 1,
    M 2), soft_saturation (gamma 1, lam 0.5) against reference/ at every selected token; the
    inputs are not modified."""
    import isreshape.reference.trust_region as rtr
    import isreshape.reference.weights as rw

    log_prob, old, mask, adv = _batch(seed=11)
    before = [t.clone() for t in (log_prob, old, mask, adv)]
    refs = {
        "trust_region_adaptive": lambda lw, a: rtr.phi_adaptive(lw, a, 0.1, 0.9, 1.0, 1.0),
        "truncated_power": lambda lw, a: rw.truncated_power_weight(lw, a, 1.0, 2.0),
        "soft_saturation": lambda lw, a: rw.soft_saturation_weight(lw, a, 1.0, 0.5),
    }
    for name, ref_fn in refs.items():
        phi = losses.gradient_weights(log_prob, old, adv, mask, name)
        for b, t in zip(*torch.nonzero(mask, as_tuple=True)):
            lw = float(log_prob[b, t] - old[b, t])
            with mpmath.workdps(30):
                want = float(ref_fn(lw, float(adv[b, 0])))
            assert math.isclose(float(phi[b, t]), want, rel_tol=1e-13, abs_tol=1e-300), name
        losses.policy_loss_and_metrics(log_prob, old, adv, mask, name)
    for t, t0 in zip((log_prob, old, mask, adv), before):
        assert torch.equal(t, t0)


def test_trl_modes_by_hand():
    """TRL GRPOTrainer's loss_type aggregations on a 3 x 3 batch with an empty sequence
    (values worked out by hand: rows [1, 2], [3], []; B = 3, max completion length 3)."""
    x = torch.tensor([[1.0, 2.0, 9.0], [3.0, 9.0, 9.0], [9.0, 9.0, 9.0]], dtype=torch.float64)
    m = torch.tensor([[1, 1, 0], [1, 0, 0], [0, 0, 0]], dtype=torch.bool)
    want = {
        "trl-grpo": (1.5 + 3.0 + 0.0) / 3,
        "trl-bnpo": 6.0 / 3,
        "trl-dr_grpo": 6.0 / (3 * 3),
        "trl-luspo": (3.0 + 3.0 + 0.0) / 3,
        "seq-mean-token-mean": (1.5 + 3.0) / 2,  # verl: non-empty sequences only
    }
    for mode, v in want.items():
        assert float(losses.aggregate(x, m, mode)) == pytest.approx(v, rel=1e-15), mode
    assert float(losses.aggregate(x, m, "trl-dr_grpo", 4.0)) == pytest.approx(6.0 / 12)
    with pytest.raises(ValueError, match="loss_scale_factor"):
        losses.aggregate(x, m, "trl-grpo", 4.0)


@pytest.mark.parametrize("name", sorted(losses.PRESETS))
def test_presets_build_and_match_their_design(name):
    """Each framework preset builds a validated loss whose gradient is -agg(phi) of its design
    with its parameters (the generic check above, at the preset's own mode and values)."""
    preset = dict(losses.PRESETS[name])
    design, mode = preset.pop("design"), preset.pop("loss_agg_mode")
    log_prob, old, mask, adv = _batch(seed=zlib.crc32(name.encode()) % 1000)
    fn = losses.make_policy_loss(design, loss_agg_mode=mode, **preset)
    lp = log_prob.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(fn(lp, old, adv, mask), lp)
    lp2 = log_prob.clone().requires_grad_(True)
    (g2,) = torch.autograd.grad(
        losses.policy_loss(lp2, old, adv, mask, design, mode, **preset), lp2
    )
    assert torch.equal(g, g2)
    assert losses.PRESETS["verl_ppo"]["clip_ratio_c"] == 3.0  # verl's "vanilla" is dual clip


def test_make_policy_loss_refuses_per_call_arguments_and_bool_clamp():
    log_prob, old, mask, adv = _batch(seed=11)
    with pytest.raises(ValueError, match="rollout_log_prob"):
        losses.make_policy_loss("ppo_clip", rollout_log_prob=old)
    with pytest.raises(ValueError, match="log_ratio_clamp"):
        losses.policy_loss(log_prob, old, adv, mask, "ppo_clip", log_ratio_clamp=True)


def test_verl_ppo_preset_is_verl_vanilla_written_out():
    """PRESETS['verl_ppo'] against verl's compute_policy_loss_vanilla at verl's defaults
    (clip_ratio 0.2, clip_ratio_c 3.0, token-mean), written out here: value and gradient. The
    batch's log-ratios are widened (x 8) so that the dual clip (w > 3, A < 0) binds."""
    log_prob, old, mask, adv = _batch(seed=9)
    old = (log_prob - (log_prob - old) * 8).clamp(max=-1e-6)
    adv = adv.expand_as(log_prob)
    lp = log_prob.clone().requires_grad_(True)
    ratio = torch.exp(lp - old)
    l1, l2 = -adv * ratio, -adv * torch.clamp(ratio, 0.8, 1.2)
    clip1 = torch.maximum(l1, l2)
    per_token = torch.where(adv < 0, torch.min(-adv * 3.0, clip1), clip1)
    m = mask.to(per_token.dtype)
    verl = (per_token * m).sum() / m.sum()
    (g_verl,) = torch.autograd.grad(verl, lp)
    assert bool(((ratio > 3) & (adv < 0) & mask).any())  # the dual clip is exercised
    fn = losses.make_policy_loss(**losses.PRESETS["verl_ppo"])
    lp2 = log_prob.clone().requires_grad_(True)
    ours = fn(lp2, old, adv, mask)
    (g_ours,) = torch.autograd.grad(ours, lp2)
    assert torch.allclose(g_ours, g_verl, rtol=1e-13, atol=1e-300)
    assert float(ours) == pytest.approx(float(verl), rel=1e-13)
