"""Seed 000 (variational principle): hypothesis property tests of every torch twin against the
mpmath reference, and the edges (A == 0, -0.0, w = 1, NaN / inf, no NaN gradients)."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import isreshape.reference.variational as ref
import isreshape.torch_impl.variational as tv

LOG_W = st.floats(-700, 700, allow_nan=False)
ADV = st.one_of(st.floats(-1e3, 1e3, allow_nan=False), st.sampled_from([0.0, -0.0, 1e-300]))
GB = st.floats(0, 1)
TEMP = st.floats(1e-3, 1e3)
SETTINGS = settings(max_examples=200, deadline=None)


def _ref(fn, *args, **kw):
    with mpmath.workdps(30):
        out = fn(*args, **kw)
    if isinstance(out, list):
        return [float(v) for v in out]
    return float(out)


def _torch(fn, *args, **kw):
    t = [torch.tensor(a, dtype=torch.float64) if isinstance(a, (list, float)) else a for a in args]
    return fn(*t, **kw)


def _close(got, want, rel=1e-12, abs_=1e-300):
    got = [float(v) for v in torch.as_tensor(got).reshape(-1)]
    want = want if isinstance(want, list) else [want]
    for g, w in zip(got, want, strict=True):
        assert math.isclose(g, w, rel_tol=rel, abs_tol=abs_), (g, w)


# ------------------------------------------------------------ properties vs reference


@SETTINGS
@given(LOG_W, ADV)
def test_marginal_utilities(log_w, A):
    for fn in (tv.marginal_utility_section_2_3, tv.marginal_utility_hard):
        want = _ref(getattr(ref, fn.__name__), log_w, A)
        _close(_torch(fn, log_w, A), want)
        assert 0 <= want <= 1


@SETTINGS
@given(LOG_W, ADV, TEMP)
def test_marginal_utility_soft(log_w, A, t):
    _close(
        _torch(tv.marginal_utility_soft, log_w, A, t), _ref(ref.marginal_utility_soft, log_w, A, t)
    )


@SETTINGS
@given(LOG_W, st.floats(-1e3, 1e3).filter(lambda a: a != 0), st.floats(1e-3, 1e3))
def test_optimal_weight(log_w, A, lam):
    _close(_torch(tv.optimal_weight, log_w, A, lam), _ref(ref.optimal_weight, log_w, A, lam))


@SETTINGS
@given(
    st.lists(
        st.tuples(LOG_W, st.floats(-10, 10).filter(lambda a: a != 0)), min_size=1, max_size=20
    ),
    st.floats(1e-3, 1e3),
)
def test_lagrange_multiplier(pairs, c_max):
    lw, a = [p[0] for p in pairs], [p[1] for p in pairs]
    want = _ref(ref.lagrange_multiplier_variance_budget, lw, a, c_max)
    _close(_torch(tv.lagrange_multiplier_variance_budget, lw, a, c_max), want, rel=1e-13)


@SETTINGS
@given(LOG_W.filter(lambda x: x != 0), ADV, st.floats(1e-3, 1e3))
def test_gamma_star_exact(log_w, A, lam):
    want = _ref(ref.gamma_star_exact, log_w, A, lam)
    _close(_torch(tv.gamma_star_exact, log_w, A, lam), want, rel=1e-10, abs_=1e-13)
    if A != 0:
        _close(ref.gamma_star_exact_np(log_w, A, lam), want, rel=1e-10, abs_=1e-13)
    assert 0 <= want <= 1


@SETTINGS
@given(LOG_W.filter(lambda x: x != 0), ADV)
def test_gamma_star_approx(log_w, A):
    want = _ref(ref.gamma_star_approx, log_w, A)
    _close(_torch(tv.gamma_star_approx, log_w, A), want, rel=1e-13)


@SETTINGS
@given(LOG_W, ADV, st.floats(1e-6, 10))
def test_gamma_approx_section_6_1(log_w, A, eps):
    want = _ref(ref.gamma_approx_section_6_1, log_w, A, eps)
    # 1 - x cancels near the root of the printed formula: absolute accuracy is what it keeps
    _close(_torch(tv.gamma_approx_section_6_1, log_w, A, eps), want, rel=1e-12, abs_=1e-13)
    assert want <= 1


@SETTINGS
@given(LOG_W, ADV, GB)
def test_gamma_base_designs(log_w, A, gb):
    for name in ("gamma_practical_section_6_2", "gamma_hard", "gamma_soft_section_8_3"):
        want = _ref(getattr(ref, name), log_w, A, gb)
        _close(_torch(getattr(tv, name), log_w, A, gb), want)
        assert -1e-15 <= want <= 1 + 1e-15


@SETTINGS
@given(LOG_W, ADV, GB, TEMP)
def test_gamma_soft_with_temperature(log_w, A, gb, t):
    for name in (
        "gamma_soft_section_8_2",
        "gamma_soft_section_8_2_corrected",
        "gamma_soft_section_8_3_corrected",
    ):
        want = _ref(getattr(ref, name), log_w, A, gb, t)
        _close(_torch(getattr(tv, name), log_w, A, gb, t), want)


CODE_PARAMS = st.fixed_dictionaries(
    {
        "rho_min": st.floats(1e-6, 1),
        "gamma_max": st.floats(0, 1),
        "temperature": TEMP,
    }
)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(-50, 50), st.floats(-5, 5), st.booleans()), min_size=1, max_size=16
    ),
    CODE_PARAMS,
    st.floats(0, 1),
)
def test_section_10_code(rows, params, frac):
    lw = [r[0] for r in rows]
    a = [r[1] for r in rows]
    mask = [r[2] for r in rows]
    params = {**params, "gamma_min": frac * params["gamma_max"]}
    want = _ref(ref.is_reshape_v2_gamma, lw, a, mask, **params)
    got = tv.is_reshape_v2_gamma(
        torch.tensor(lw, dtype=torch.float64), torch.tensor(a, dtype=torch.float64), mask, **params
    )
    _close(got, want, rel=1e-12)
    assert all(params["gamma_min"] - 1e-15 <= g <= params["gamma_max"] + 1e-15 for g in want)
    assume(any(mask))
    want_w = _ref(ref.is_reshape_v2_gradient_weight, lw, a, mask, **params)
    got_w = tv.is_reshape_v2_gradient_weight(
        torch.tensor(lw, dtype=torch.float64), torch.tensor(a, dtype=torch.float64), mask, **params
    )
    _close(got_w, want_w, rel=1e-11)


# ------------------------------------------------------------------------------ edges


def test_a_zero_and_negative_zero_values():
    for a0 in (0.0, -0.0):
        a = torch.tensor(a0, dtype=torch.float64)
        lw = torch.tensor([-3.0, -0.5, 0.0, 0.5, 3.0], dtype=torch.float64)
        assert torch.equal(tv.marginal_utility_section_2_3(lw, a), torch.full_like(lw, 0.5))
        assert torch.equal(tv.marginal_utility_soft(lw, a, 5.0), torch.full_like(lw, 0.5))
        # hard phi as written: sign(log w) != sign(0) except at w = 1
        assert tv.marginal_utility_hard(lw, a).tolist() == [1.0, 1.0, 0.0, 1.0, 1.0]
        assert tv.gamma_hard(lw, a, 0.3).tolist() == [0.3] * 5
        assert torch.allclose(tv.gamma_practical_section_6_2(lw, a, 0.3), torch.full_like(lw, 0.65))
        nz = lw[lw != 0]
        # alpha = 2 lambda |A| = 0: the numerator is +inf, gamma* = 1 above w = 1 and 0 below
        assert tv.gamma_star_exact(nz, a, 0.05).tolist() == [0.0, 0.0, 1.0, 1.0]
        with pytest.raises(ValueError, match="A"):
            tv.optimal_weight(lw, a, 0.05)


def test_log_w_zero_raises_for_ratio_designs():
    for fn, args in ((tv.gamma_star_exact, (1.0, 0.05)), (tv.gamma_star_approx, (1.0,))):
        for z in (0.0, -0.0):
            with pytest.raises(ValueError, match="log_w"):
                fn(torch.tensor([0.5, z], dtype=torch.float64), *args)
            with pytest.raises(ValueError):
                with mpmath.workdps(30):
                    getattr(ref, fn.__name__)(z, *args)


def test_case_table_values():
    lw = torch.tensor([5.0, 5.0, -5.0, -5.0], dtype=torch.float64)
    a = torch.tensor([1.0, -1.0, 1.0, -1.0], dtype=torch.float64)
    assert tv.gamma_hard(lw, a, 0.4).tolist() == [0.0, 0.4, 0.4, 1.0]
    assert tv.marginal_utility_hard(lw, a).tolist() == [0.0, 1.0, 1.0, 0.0]
    big = tv.gamma_soft_section_8_3_corrected(lw * 100, a * 100, 0.4, 1.0)
    assert torch.allclose(big, torch.tensor([0.0, 0.4, 0.4, 1.0], dtype=torch.float64))
    printed = tv.gamma_soft_section_8_2(lw * 100, a, 0.4, 1.0)
    assert torch.allclose(printed, torch.tensor([1.0, 0.4, 0.4, 0.0], dtype=torch.float64))


NAMED = [
    ("marginal_utility_section_2_3", ()),
    ("marginal_utility_hard", ()),
    ("marginal_utility_soft", (2.0,)),
    ("optimal_weight", (0.05,)),
    ("gamma_star_exact", (0.05,)),
    ("gamma_star_approx", ()),
    ("gamma_approx_section_6_1", (1e-3,)),
    ("gamma_practical_section_6_2", (0.5,)),
    ("gamma_hard", (0.5,)),
    ("gamma_soft_section_8_2", (0.5, 5.0)),
    ("gamma_soft_section_8_2_corrected", (0.5, 5.0)),
    ("gamma_soft_section_8_3", (0.5,)),
    ("gamma_soft_section_8_3_corrected", (0.5, 5.0)),
]


@pytest.mark.parametrize("name,params", NAMED, ids=[n for n, _ in NAMED])
def test_nan_and_inf_inputs_raise_naming_the_argument(name, params):
    fn = getattr(tv, name)
    with pytest.raises(ValueError, match="log_w"):
        fn(torch.tensor([0.5, math.nan], dtype=torch.float64), 1.0, *params)
    for bad in (math.nan, math.inf, -math.inf):
        with pytest.raises(ValueError, match="A"):
            fn(torch.tensor(0.5, dtype=torch.float64), torch.tensor([1.0, bad]), *params)


@pytest.mark.parametrize("name,params", NAMED, ids=[n for n, _ in NAMED])
def test_no_nan_value_or_gradient_for_finite_inputs(name, params):
    fn = getattr(tv, name)
    lw_vals = [-700.0, -30.0, -1.0, -1e-8, -0.0, 0.0, 1e-8, 1.0, 30.0, 700.0]
    a_vals = [-1e6, -1.0, -1e-300, -0.0, 0.0, 1e-300, 1.0, 1e6]
    lw, a = np.meshgrid(lw_vals, a_vals)
    keep = np.ones_like(lw, dtype=bool)
    if name in ("gamma_star_exact", "gamma_star_approx"):
        keep &= lw != 0
    if name == "optimal_weight":
        keep &= a != 0
    lw_t = torch.tensor(lw[keep], dtype=torch.float64, requires_grad=True)
    a_t = torch.tensor(a[keep], dtype=torch.float64, requires_grad=True)
    out = fn(lw_t, a_t, *params)
    assert not torch.isnan(out).any()
    if not out.requires_grad:  # piecewise-constant designs (hard phi, hard gamma)
        return
    g_lw, g_a = torch.autograd.grad(out.sum(), (lw_t, a_t), allow_unused=True)
    for g in (g_lw, g_a):
        assert g is None or not torch.isnan(g).any(), (name, g)


def test_section_10_code_no_nan_and_edges():
    lw = torch.tensor([700.0, -700.0, 0.0, -0.0, 1.0], dtype=torch.float64, requires_grad=True)
    a = torch.tensor([0.0, -0.0, 1e6, -1e6, 1.0], dtype=torch.float64, requires_grad=True)
    mask = torch.tensor([True, True, True, False, True])
    for fn in (tv.is_reshape_v2_gamma, tv.is_reshape_v2_gradient_weight):
        out = fn(lw, a, mask)
        assert not torch.isnan(out).any()
        grads = torch.autograd.grad(out.sum(), (lw, a), allow_unused=True)
        assert all(g is None or not torch.isnan(g).any() for g in grads)
    # empty mask: gamma_base = gamma_max (seed code); the loss weight divides by 0 -> error
    none = torch.zeros(5, dtype=torch.bool)
    g = tv.is_reshape_v2_gamma(lw.detach(), a.detach(), none, temperature=1e3)
    with mpmath.workdps(30):
        want = ref.is_reshape_v2_gamma(lw.tolist(), a.tolist(), none.tolist(), temperature=1e3)
    _close(g, [float(v) for v in want])
    with pytest.raises(ValueError, match="mask"):
        tv.is_reshape_v2_gradient_weight(lw.detach(), a.detach(), none)
    with pytest.raises(ValueError, match="rho_min"):
        tv.is_reshape_v2_gamma(lw.detach(), a.detach(), rho_min=0.0)
    with pytest.raises(ValueError, match="gamma_min"):
        tv.is_reshape_v2_gamma(lw.detach(), a.detach(), gamma_min=0.9, gamma_max=0.5)


def test_seed_loss_ignores_old_log_prob_and_has_minus_weight_gradient():
    rng = np.random.default_rng(3)
    lp = torch.tensor(rng.normal(-2, 0.5, 12), dtype=torch.float64, requires_grad=True)
    ref_lp = torch.tensor(rng.normal(-2, 0.5, 12), dtype=torch.float64)
    adv = torch.tensor(rng.normal(0, 1, 12), dtype=torch.float64)
    mask = torch.tensor(rng.random(12) < 0.7, dtype=torch.float64)
    l1 = tv.is_reshape_v2_loss(lp, ref_lp + 1.0, ref_lp, adv, mask)
    l2 = tv.is_reshape_v2_loss(lp, ref_lp - 3.0, ref_lp, adv, mask)
    assert torch.equal(l1, l2)
    (grad,) = torch.autograd.grad(l1, lp)
    lw = (lp - ref_lp).detach()
    with mpmath.workdps(30):
        want = ref.is_reshape_v2_gradient_weight(lw.tolist(), adv.tolist(), mask.bool().tolist())
    _close(-grad, [float(v) for v in want], rel=1e-12)


def test_inputs_not_modified_and_meta_tensors_run_without_sync():
    lw = torch.tensor([-1.0, 0.5, 2.0], dtype=torch.float64)
    a = torch.tensor([1.0, -1.0, 0.0], dtype=torch.float64)
    before = (lw.clone(), a.clone())
    for name, params in NAMED:
        if name in ("optimal_weight",):
            continue
        getattr(tv, name)(lw, a, *params)
        # meta tensors skip validation: the math itself must not read values on the host
        out = getattr(tv, name)(lw.to("meta"), a.to("meta"), *params)
        assert out.device.type == "meta" and out.shape == lw.shape
    tv.is_reshape_v2_gamma(
        lw.to("meta"), a.to("meta"), torch.ones(3, dtype=torch.bool, device="meta")
    )
    assert torch.equal(lw, before[0]) and torch.equal(a, before[1])


def test_low_precision_dtype_and_broadcast():
    lw = torch.linspace(-3, 3, 7, dtype=torch.bfloat16).reshape(7, 1)
    a = torch.tensor([-1.0, 0.0, 2.0], dtype=torch.bfloat16)
    for name, params in NAMED:
        if name in ("optimal_weight", "gamma_star_exact", "gamma_star_approx"):
            continue
        out = getattr(tv, name)(lw, a, *params)
        assert out.dtype == torch.bfloat16 and out.shape == (7, 3)


def test_numpy_companion_phi():
    lw = np.array([-700.0, -1.0, 0.0, 1.0, 700.0])
    for a in (-2.0, 0.0, 3.0):
        with mpmath.workdps(30):
            want = [float(ref.marginal_utility_section_2_3(v, a)) for v in lw]
        got = ref.marginal_utility_section_2_3_np(lw, a)
        assert np.allclose(got, want, rtol=1e-14, atol=1e-300)


@pytest.mark.slow
@pytest.mark.heavy
@pytest.mark.parametrize("name,params", NAMED, ids=[n for n, _ in NAMED])
def test_torch_compile_fullgraph(name, params):
    """No host synchronisation or Python branching on tensor values: fullgraph compiles."""
    fn = getattr(tv, name)
    lw = torch.linspace(-5, 5, 33, dtype=torch.float64) + 1e-3
    a = torch.linspace(-2, 2, 33, dtype=torch.float64) + 1e-3
    compiled = torch.compile(fn, fullgraph=True)
    assert torch.allclose(compiled(lw, a, *params), fn(lw, a, *params), rtol=1e-12, atol=1e-300)


def test_numpy_companion_phi_has_no_cancellation():
    """0.5 (1 - tanh(x / 2)) cancelled to 0 for x = sign(A) log w > ~37 (findings of
    tests/test_properties_all.py); sigma(-x) keeps its relative accuracy down to underflow."""
    for log_w, A, want in (
        (-40.0, -1.0, 4.248354255291589e-18),
        (-700.0, -1e6, 9.85967654375977e-305),
    ):
        got = float(ref.marginal_utility_section_2_3_np(log_w, A))
        assert math.isclose(got, want, rel_tol=4 * 2.0**-52), (log_w, A, got, want)
    assert float(ref.marginal_utility_section_2_3_np(math.inf, 0.0)) == 0.5  # w^0 = 1


def test_soft_gammas_carry_the_temperature_product_exactly():
    """sigma(+-l T) ~ e^-|l T| turned the rounding of l T = 224 into 64 eps (128 eps for the
    product of two such factors); the twins carry l T = hi + lo."""
    row = dict(log_w=44.79951324902969, A=-3.850102230686463e-23)
    for fn in (
        "gamma_soft_section_8_2",
        "gamma_soft_section_8_2_corrected",
        "gamma_soft_section_8_3_corrected",
    ):
        want = _ref(getattr(ref, fn), row["log_w"], row["A"], 0.0, 5.0)
        got = getattr(tv, fn)(torch.tensor(row["log_w"], dtype=torch.float64), row["A"], 0.0, 5.0)
        _close(got, want, rel=4 * 2.0**-52)
    want = _ref(ref.marginal_utility_soft, -28.908593580277792, -2.4474374263610628, 5.0)
    got = tv.marginal_utility_soft(
        torch.tensor(-28.908593580277792, dtype=torch.float64), -2.4474374263610628, 5.0
    )
    _close(got, want, rel=4 * 2.0**-52)
