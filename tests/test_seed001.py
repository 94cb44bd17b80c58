"""Seed 001 torch twins against the mpmath reference on random inputs (hypothesis), plus edge
cases: documented values, ValueErrors naming the argument, no NaN from finite inputs, inputs
never modified, batching."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import isreshape.torch_impl.divergences as tdiv
import isreshape.torch_impl.estimators as tes
import isreshape.torch_impl.gamma as tgamma
from isreshape.reference import divergences as rdiv
from isreshape.reference import estimators as rest
from isreshape.reference import gamma as rgamma

F64 = torch.float64
DPS = 30


def t(x):
    return torch.tensor(x, dtype=F64)


def close(got, want, rel=1e-12, abs_=1e-300):
    got = [float(v) for v in torch.as_tensor(got).reshape(-1).tolist()]
    want = [float(v) for v in (want if isinstance(want, list) else [want])]
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert not math.isnan(g), (got, want)
        if math.isinf(w):
            assert g == w, (got, want)
        else:
            assert math.isclose(g, w, rel_tol=rel, abs_tol=abs_), (got, want)


logit = st.floats(-40, 40, allow_nan=False)
logits_pair = st.integers(2, 8).flatmap(
    lambda k: st.tuples(
        st.lists(logit, min_size=k, max_size=k), st.lists(logit, min_size=k, max_size=k)
    )
)
sample = st.lists(st.floats(-50, 50, allow_nan=False), min_size=2, max_size=30)


# ---------------------------------------------------------------- gamma rules


@settings(max_examples=60, deadline=None)
@given(sample, st.floats(1e-6, 1.0))
def test_seed_code_gamma_matches_reference(log_w, rho):
    with mpmath.workdps(DPS):
        want = float(rgamma.compute_optimal_gamma_seed_code(log_w, [0.0] * len(log_w), rho))
        want_tr = float(rgamma.trainer_gamma_seed_code(log_w, rho, 0.1, 0.9))
    close(
        tgamma.compute_optimal_gamma_seed_code(t(log_w), torch.zeros(len(log_w), dtype=F64), rho),
        want,
        1e-10,
    )
    close(tgamma.trainer_gamma_seed_code(t(log_w), rho, 0.1, 0.9), want_tr, 1e-10)


@settings(max_examples=100, deadline=None)
@given(st.floats(0, 1e6), st.floats(0, 1e6), st.floats(1e-3, 1e3), st.floats(1e-300, 1.0))
def test_reward_adjusted_matches_reference(s2, sr2, tau, rho):
    with mpmath.workdps(DPS):
        want = float(rgamma.gamma_reward_adjusted(s2, sr2, tau, rho))
    got = tgamma.gamma_reward_adjusted(t(s2), t(sr2), t(tau), t(rho))
    close(got, want, 1e-13)
    assert 0 <= float(got) <= 1


@settings(max_examples=100, deadline=None)
@given(st.floats(0, 1e6), st.floats(0, 10), st.floats(0.1, 10), st.floats(1e-6, 1.0))
def test_reward_adjusted_corrected_matches_reference_and_keeps_ess(s2, sr2, tau, rho):
    with mpmath.workdps(DPS):
        want = float(rgamma.gamma_reward_adjusted_corrected(s2, sr2, tau, rho))
    got = tgamma.gamma_reward_adjusted_corrected(t(s2), t(sr2), t(tau), t(rho))
    close(got, want, 1e-12)
    # independent check of the defining property: ESS/n = exp(-g^2 s2 - sr2/tau^2) >= rho
    # whenever some gamma is feasible (exp(-sr2/tau^2) > rho)
    if math.exp(-sr2 / tau**2) > rho * (1 + 1e-12) and s2 > 0:
        assert math.exp(-(want**2) * s2 - sr2 / tau**2) >= rho * (1 - 1e-9)


@settings(max_examples=100, deadline=None)
@given(st.floats(-1e300, 1e300), st.floats(1e-3, 10))
def test_khat_bound_matches_reference(khat, threshold):
    with mpmath.workdps(DPS):
        want = float(rgamma.gamma_khat_bound(khat, threshold))
    close(tgamma.gamma_khat_bound(t(khat), t(threshold)), want, 1e-15)


def test_gamma_edges_and_messages():
    with pytest.raises(ValueError, match="rho_min"):
        tgamma.compute_optimal_gamma_seed_code(t([0.0, 1.0]), t([0.0, 0.0]), 0.0)
    with pytest.raises(ValueError, match="log_pi"):
        tgamma.compute_optimal_gamma_seed_code(t([0.0]), t([0.0]), 0.3)
    with pytest.raises(ValueError, match="tau"):
        tgamma.gamma_reward_adjusted(1.0, 1.0, 0.0, 0.3)
    with pytest.raises(ValueError, match="khat"):
        tgamma.gamma_khat_bound(float("nan"))
    # batched: one gamma per row
    lw = torch.tensor([[0.0, 0.0, 0.0], [0.0, 2.0, 4.0]], dtype=F64)
    out = tgamma.trainer_gamma_seed_code(lw, 0.3, 0.0, 0.8)
    assert out.shape == (2,) and float(out[0]) == 0.8
    assert float(tgamma.gamma_khat_bound(t(-0.0))) == math.inf


# ---------------------------------------------------------------- divergences


@settings(max_examples=80, deadline=None)
@given(logits_pair, st.floats(0, 3))
def test_renyi_and_kl_match_reference(pair, alpha):
    lp, lq = pair
    with mpmath.workdps(DPS):
        want = float(rdiv.renyi_divergence(lp, lq, alpha))
        kl = float(rdiv.kl_divergence(lp, lq))
    close(tdiv.renyi_divergence(t(lp), t(lq), t(alpha)), want, 1e-9, 1e-13)
    close(tdiv.kl_divergence(t(lp), t(lq)), kl, 1e-9, 1e-13)


@settings(max_examples=80, deadline=None)
@given(logits_pair, st.floats(0, 2.5))
def test_renyi_identity_sides_match_reference(pair, gamma):
    lp, lm = pair
    with mpmath.workdps(DPS):
        lhs = float(rdiv.power_moment_from_logits(lp, lm, gamma))
        rhs = float(rdiv.renyi_identity_rhs(lp, lm, gamma))
    got_l = tdiv.power_moment_from_logits(t(lp), t(lm), t(gamma))
    got_r = tdiv.renyi_identity_rhs(t(lp), t(lm), t(gamma))
    close(got_l, lhs, 1e-10)
    close(got_r, rhs, 1e-8)


@settings(max_examples=50, deadline=None)
@given(st.floats(0, 1e3), st.floats(0, 1e3))
def test_renyi_lognormal_matches_reference(alpha, s2):
    with mpmath.workdps(DPS):
        want = float(rdiv.renyi_divergence_lognormal(alpha, s2))
    close(tdiv.renyi_divergence_lognormal(t(alpha), t(s2)), want, 1e-15)


def test_renyi_is_continuous_at_one_and_exact_at_equality():
    lp, lq = t([0.3, -1.0, 2.0, 0.0]), t([0.0, 0.5, 1.0, -0.5])
    kl = float(tdiv.kl_divergence(lp, lq))
    for eps in (1e-12, 1e-9, 1e-6):
        for a in (1 - eps, 1 + eps):
            d = float(tdiv.renyi_divergence(lp, lq, t(a)))
            assert abs(d / kl - 1) < 10 * eps + 1e-12, (a, d, kl)
    # exactly shifted copies (dyadic logits: x + 3 and x - 2 are exact) are the same distribution
    ld = t([0.25, -1.0, 2.0, 0.0])
    assert float(tdiv.renyi_divergence(ld, ld + 3.0, t(0.5))) == 0.0
    assert float(tdiv.kl_divergence(ld, ld - 2.0)) == 0.0
    # fl(0.3 + 3) - 0.3 != 3: the float inputs lp + 3 are a different distribution, D = 8e-34
    with mpmath.workdps(50):
        want = float(rdiv.renyi_divergence(lp.tolist(), (lp + 3.0).tolist(), 0.5))
    assert want > 0
    close(tdiv.renyi_divergence(lp, lp + 3.0, t(0.5)), want, 16 * 2.0**-52)


def test_divergence_edges():
    inf = float("inf")
    p, q = t([0.0, 0.0]), t([0.0, -inf])  # p not << q
    assert float(tdiv.renyi_divergence(p, q, t(2.0))) == inf
    assert float(tdiv.kl_divergence(p, q)) == inf
    assert math.isclose(float(tdiv.renyi_divergence(p, q, t(0.5))), -2 * math.log(math.sqrt(0.5)))
    with pytest.raises(ValueError, match="alpha"):
        tdiv.renyi_divergence(p, p, t(-1.0))
    with pytest.raises(ValueError, match="logits_q"):
        tdiv.kl_divergence(p, t([0.0, 0.0, 0.0]))
    with pytest.raises(ValueError, match="gamma = 1"):
        tdiv.renyi_identity_rhs(p, q, t(1.0))
    # batched rows with a per-row order
    lp = torch.stack([t([0.0, 1.0, 2.0]), t([2.0, 1.0, 0.0])])
    out = tdiv.renyi_divergence(lp, torch.zeros_like(lp), t([0.5, 2.0]))
    with mpmath.workdps(DPS):
        want = [
            float(rdiv.renyi_divergence([0.0, 1.0, 2.0], [0.0] * 3, 0.5)),
            float(rdiv.renyi_divergence([2.0, 1.0, 0.0], [0.0] * 3, 2.0)),
        ]
    close(out, want, 1e-13)


# ---------------------------------------------------------------- estimators


weights_case = st.integers(1, 12).flatmap(
    lambda n: st.tuples(
        st.lists(st.floats(-700, 700, allow_nan=False), min_size=n, max_size=n),
        st.lists(st.floats(1e-3, 1e3), min_size=n, max_size=n),
    )
)


@settings(max_examples=80, deadline=None)
@given(weights_case, st.floats(0, 1))
def test_effective_target_weights_match_reference(wa, gamma):
    lw, a = wa
    with mpmath.workdps(DPS):
        want = [float(v) for v in rest.effective_target_weights(lw, a, gamma)]
    got = tes.effective_target_weights(t(lw), t(a), t(gamma))
    close(got, want, 1e-9, 1e-290)
    assert math.isclose(float(got.mean()), 1.0, rel_tol=1e-12)


@settings(max_examples=80, deadline=None)
@given(
    st.integers(2, 8).flatmap(
        lambda k: st.tuples(*[st.lists(logit, min_size=k, max_size=k) for _ in range(3)])
    ),
    st.floats(0, 1),
)
def test_effective_target_log_probs_match_reference(vecs, gamma):
    lm, lp, lr = vecs
    with mpmath.workdps(DPS):
        want = [float(v) for v in rest.effective_target_log_probs(lm, lp, lr, gamma)]
    got = tes.effective_target_log_probs(t(lm), t(lp), t(lr), t(gamma))
    close(got, want, 1e-9, 1e-11)
    assert math.isclose(float(torch.exp(got).sum()), 1.0, rel_tol=1e-12)


@settings(max_examples=80, deadline=None)
@given(weights_case, st.floats(-2, 2))
def test_trainer_code_matches_reference(wa, gamma):
    lw, a = wa
    lm = [0.25 * v for v in lw]
    lp = [x + y for x, y in zip(lw, lm)]
    with mpmath.workdps(DPS):
        w = [float(v) for v in rest.trainer_weights_seed_code(lw, gamma)]
        phi = [float(v) for v in rest.trainer_gradient_weights_seed_code(lw, a, gamma)]
        loss = float(rest.trainer_loss_seed_code(lp, lm, gamma, a))
    close(tes.trainer_weights_seed_code(t(lw), t(gamma)), w, 1e-9, 1e-290)
    close(tes.trainer_gradient_weights_seed_code(t(lw), t(a), t(gamma)), phi, 1e-9, 1e-290)
    close(tes.trainer_loss_seed_code(t(lp), t(lm), t(gamma), t(a)), loss, 1e-9, 1e-9)


def test_trainer_gradient_is_self_normalised_not_definition_4_1():
    lw = t([0.0, 1.0, -1.0, 2.0])
    lp = (lw - 3.0).clone().requires_grad_(True)
    loss = tes.trainer_loss_seed_code(lp, t([-3.0] * 4), t(0.5), t([1.0] * 4))
    (grad,) = torch.autograd.grad(loss, lp)
    definition = -torch.exp(0.5 * lw) / 4  # -(1/n) w^gamma r
    ratio = grad / definition
    assert torch.allclose(ratio, ratio[0].expand(4), rtol=1e-12)
    assert not math.isclose(float(ratio[0]), 1.0, rel_tol=1e-3)  # n / sum w^gamma != 1
    assert math.isclose(float(ratio[0]), 4 / float(torch.exp(0.5 * lw).sum()), rel_tol=1e-12)


def test_estimator_edges_and_inputs_untouched():
    lw, a = t([0.0, 5.0, -700.0]), t([1.0, 2.0, 3.0])
    before = (lw.clone(), a.clone())
    out = tes.effective_target_weights(lw, a, t(0.5), mask=torch.tensor([True, False, True]))
    assert float(out[1]) == 0.0 and math.isclose(float(out.sum()), 2.0)
    assert torch.equal(lw, before[0]) and torch.equal(a, before[1])
    with pytest.raises(ValueError, match="A"):
        tes.effective_target_weights(lw, t([1.0, -1.0, 1.0]), t(0.5))
    with pytest.raises(ValueError, match="gamma"):
        tes.effective_target_weights(lw, a, t(1.5))
    with pytest.raises(ValueError, match="log_w"):
        tes.trainer_weights_seed_code(t([0.0, float("-inf")]), t(0.5))
    # w^0 = 1 at log_w = -inf (gamma = 0 is SFT), no NaN
    out0 = tes.effective_target_weights(t([float("-inf"), 0.0]), t([1.0, 1.0]), t(0.0))
    close(out0, [1.0, 1.0])
    # batched rows
    lw2 = torch.stack([lw, lw + 1.0])
    out2 = tes.effective_target_weights(lw2, a, t(0.5))
    assert torch.allclose(out2[0], out2[1], rtol=1e-12)
    rng = np.random.default_rng(0)
    big = t(rng.normal(0, 300, size=(3, 64)))
    for fn in (
        lambda x: tes.trainer_weights_seed_code(x, t(1.0)),
        lambda x: tes.effective_target_weights(x, torch.ones_like(x), t(1.0)),
    ):
        assert not torch.isnan(fn(big)).any()


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float64])
def test_python_number_orders_keep_the_logits_dtype(dtype):
    x, y = torch.randn(2, 5).to(dtype), torch.randn(2, 5).to(dtype)
    for fn in (tdiv.renyi_divergence, tdiv.power_moment_from_logits, tdiv.renyi_identity_rhs):
        assert fn(x, y, 0.5).dtype == dtype
    assert tes.effective_target_weights(x, torch.ones_like(x), 0.5).dtype == dtype
    assert tes.trainer_weights_seed_code(x, 0.5).dtype == dtype


@pytest.mark.parametrize("order", [0.0, 0.5, 1.0, 1.5, 2.0])
def test_logit_gradients_are_finite(order):
    torch.manual_seed(1)
    x = torch.randn(3, 6, dtype=F64, requires_grad=True)
    y = torch.randn(3, 6, dtype=F64, requires_grad=True)
    for fn in (tdiv.renyi_divergence, tdiv.power_moment_from_logits, tdiv.renyi_identity_rhs):
        gx, gy = torch.autograd.grad(fn(x, y, t(order)).sum(), (x, y))
        assert torch.isfinite(gx).all() and torch.isfinite(gy).all(), fn.__name__
    gx, gy = torch.autograd.grad(tdiv.kl_divergence(x, y).sum(), (x, y))
    assert torch.isfinite(gx).all() and torch.isfinite(gy).all()
    g = min(order, 1.0)
    out = tes.effective_target_log_probs(x, y, torch.zeros_like(x), t(g)).sum()
    out = out + tes.effective_target_weights(x, torch.ones_like(x), t(g))[:, 0].sum()
    (gx,) = torch.autograd.grad(out, x)
    assert torch.isfinite(gx).all()


def test_divergences_of_nearby_distributions_keep_relative_accuracy():
    """Findings of tests/test_properties_all.py: sum p (log p - log q) of nearby distributions
    cancelled (KL 1.5e5 eps, Renyi 3e5 eps in float64), and in float32 the Renyi divergence near
    alpha = 1 went negative (-1.3e-7 where the answer is 2.5e-12)."""
    f32 = [[0.0, 2.0, 1.0], [5.000001549767818, 7.0, 6.000005099999999]]
    cases = [
        ("kl", [2.0000000155878372, 1.0, 0.0], [7.005296444631146, 5.998198194523155, 5.0], None),
        (
            "renyi",
            [0.10000000009223685, -0.3, 1.2],
            [0.10099999900000001, -0.3, 1.197423507926101],
            0.999998999999325,
        ),
        ("renyi", *f32, 1.000001),
        ("renyi", *f32, 0.999999),
        (  # alpha < 1/2: D = 1.3e-22, the direct form gave -3.4e-17
            "renyi",
            [0.0, 0.9999999999675303, 2.0000000000437965],
            [5.000000000000192, 6.0, 7.000000000000595],
            0.2523574162474453,
        ),
        ("renyi", [0.0, 1.000000000000861, 2.0], [5.000000000000499, 6.00000006, 7.0], 2.5),
    ]
    for dtype in (torch.float64, torch.float32):
        eps = torch.finfo(dtype).eps
        for kind, lp, lq, alpha in cases:
            tp, tq = torch.tensor(lp, dtype=dtype), torch.tensor(lq, dtype=dtype)
            xp, xq = tp.double().tolist(), tq.double().tolist()  # the inputs the twin sees
            with mpmath.workdps(50):
                if kind == "kl":
                    want = float(rdiv.kl_divergence(xp, xq))
                    got = tdiv.kl_divergence(tp, tq)
                else:
                    ta = torch.tensor(alpha, dtype=dtype)
                    want = float(rdiv.renyi_divergence(xp, xq, float(ta)))
                    got = tdiv.renyi_divergence(tp, tq, ta)
            assert float(got) >= 0, (kind, dtype, lp, lq, alpha, float(got))
            close(got, want, 16 * eps)
