"""Seed 003 (soft trust region): hypothesis properties of every torch twin against the mpmath
reference, edge behaviour (no NaN values or gradients for finite inputs, ValueError naming the
argument), broadcasting, the NumPy companions, and the part 7 objective."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import isreshape.reference.trust_region as R
import isreshape.torch_impl.trust_region as T

DPS = 30
EPS = 2.220446049250313e-16
# exp(-t), t = tau |w - 1| (or t = |A log w / tau_c| in the sigmoid), turns the rounding of t
# into ~t eps; t <= ~1450 before the value underflows
REL = 1600 * EPS
N = 120  # hypothesis examples per property

log_w_st = st.one_of(
    st.floats(-60, 60, allow_nan=False),
    st.floats(-1e-6, 1e-6, allow_nan=False),
    st.sampled_from([-700.0, 700.0, -0.0, 0.0, float("-inf"), float("inf")]),
)
A_st = st.one_of(st.floats(-1e3, 1e3, allow_nan=False), st.sampled_from([-0.0, 0.0, 1e-300]))
unit_st = st.floats(0, 1, allow_nan=False)
tau_st = st.floats(1e-3, 1e3, allow_nan=False)


def _close(got: torch.Tensor, want, rel: float = REL) -> None:
    g = float(got)
    w = float(want)
    if math.isinf(w) or math.isinf(g):
        assert g == w, (g, w)
        return
    assert not math.isnan(g), (g, w)
    assert math.isclose(g, w, rel_tol=rel, abs_tol=1e-300), (g, w, abs(g - w) / abs(w))


def _ref(fn, *args):
    with mpmath.workdps(DPS):
        return fn(*args)


def _t(x: float) -> torch.Tensor:
    return torch.tensor(x, dtype=torch.float64)


# ---------------------------------------------------------------- twins vs reference


@settings(max_examples=N, deadline=None)
@given(log_w_st, tau_st)
def test_h_and_weight_match_reference(log_w, tau):
    _close(T.trust_region_h(_t(log_w), tau), _ref(R.trust_region_h, log_w, tau))
    _close(T.trust_region_weight(_t(log_w), tau), _ref(R.trust_region_weight, log_w, tau))
    h = float(T.trust_region_h(_t(log_w), tau))
    assert 0 <= h <= 1


@settings(max_examples=N, deadline=None)
@given(log_w_st, unit_st, tau_st)
def test_g_gamma_and_f_gamma_match_reference(log_w, gamma, tau):
    _close(T.g_gamma(_t(log_w), gamma, tau), _ref(R.g_gamma, log_w, gamma, tau))
    _close(T.f_gamma(_t(log_w), gamma, tau), _ref(R.f_gamma, log_w, gamma, tau))


@settings(max_examples=N, deadline=None)
@given(log_w_st, A_st, unit_st, tau_st)
def test_phi_gamma_matches_reference(log_w, A, gamma, tau):
    _close(T.phi_gamma(_t(log_w), _t(A), gamma, tau), _ref(R.phi_gamma, log_w, A, gamma, tau))


@settings(max_examples=N, deadline=None)
@given(log_w_st, A_st, st.floats(1e-4, 1e4))
def test_correctness_and_p_wrong_match_reference(log_w, A, tau_c):
    _close(T.correctness(_t(log_w), _t(A)), _ref(R.correctness, log_w, A), 4 * EPS)
    # sigmoid(z) ~ exp(z) for z << 0 turns the rounding of z = -A log w / tau_c into |z| eps
    _close(T.p_wrong(_t(log_w), _t(A), tau_c), _ref(R.p_wrong, log_w, A, tau_c))


@settings(max_examples=N, deadline=None)
@given(log_w_st, A_st, unit_st, unit_st, tau_st, st.floats(1e-4, 1e4))
def test_adaptive_family_matches_reference(log_w, A, gb, gm, tau_h, tau_c):
    lw, a = _t(log_w), _t(A)
    _close(
        T.gamma_adaptive(lw, a, gb, gm, tau_c),
        _ref(R.gamma_adaptive, log_w, A, gb, gm, tau_c),
    )
    args = (gb, gm, tau_h, tau_c)
    _close(T.g_adaptive(lw, a, *args), _ref(R.g_adaptive, log_w, A, *args))
    _close(T.phi_adaptive(lw, a, *args), _ref(R.phi_adaptive, log_w, A, *args))
    _close(
        T.f_gamma_adaptive_section_7(lw, a, *args),
        _ref(R.f_gamma_adaptive_section_7, log_w, A, *args),
    )
    _close(
        T.g_adaptive_max_section_5_4(lw, a, *args),
        _ref(R.g_adaptive_max_section_5_4, log_w, A, *args),
    )
    g = float(T.g_adaptive(lw, a, *args))
    assert g >= 0


@settings(max_examples=N, deadline=None)
@given(
    st.floats(-700, 700),
    st.floats(-1e3, 1e3),
    unit_st,
    unit_st,
    st.floats(1e-3, 1e3),
    st.floats(1e-3, 1e3),
)
def test_numpy_companions_match_reference(log_w, A, gb, gm, tau_h, tau_c):
    want = _ref(R.g_adaptive, log_w, A, gb, gm, tau_h, tau_c)
    _close(R.g_adaptive_np(log_w, A, gb, gm, tau_h, tau_c), want)
    _close(R.trust_region_weight_np(log_w, tau_h), _ref(R.trust_region_weight, log_w, tau_h))


# ---------------------------------------------------------------- gradients and edges

EXTREME_LOG_W = [-1e30, -700.0, -88.0, -1.0, -1e-12, -0.0, 0.0, 1e-12, 1.0, 88.0, 89.0, 700.0]
EXTREME_LOG_W += [1e30, float("-inf"), float("inf")]
PARAMS = [(0.1, 0.9, 1.0, 1.0), (0.0, 1.0, 1e-6, 1e-6), (1.0, 1.0, 1e6, 1e6), (0.5, 0.0, 2.0, 0.5)]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("params", PARAMS)
def test_no_nan_in_weights_or_surrogate_gradients(dtype, params):
    lw = torch.tensor(EXTREME_LOG_W, dtype=dtype)[:, None].requires_grad_(True)
    A = torch.tensor([-1e30, -2.0, -0.0, 0.0, 1e-30, 3.0, 1e30], dtype=dtype)[None, :]
    gb, gm, th, tc = params
    phi = T.phi_adaptive(lw, A, gb, gm, th, tc)
    assert not torch.isnan(phi).any()
    for name, fn, args in (
        ("phi_adaptive", T.surrogate_phi_adaptive, (A, gb, gm, th, tc)),
        ("g_adaptive", T.surrogate_g_adaptive, (A, gb, gm, th, tc)),
        ("phi_gamma", T.surrogate_phi_gamma, (A, gm, th)),
        ("g_gamma", T.surrogate_g_gamma, (gm, th)),
        ("trust_region_weight", T.surrogate_trust_region_weight, (th,)),
    ):
        (grad,) = torch.autograd.grad(fn(lw, *args).sum(), lw)
        assert not torch.isnan(grad).any(), name
    # d phi / d log_w itself (not just the surrogate) is NaN-free for moderate A
    A_mod = torch.tensor([-2.0, 0.0, 3.0], dtype=dtype)[None, :]
    (dphi,) = torch.autograd.grad(T.phi_adaptive(lw, A_mod, gb, gm, th, tc).sum(), lw)
    assert not torch.isnan(dphi).any()
    for fn in (T.trust_region_h, T.trust_region_weight):
        (d,) = torch.autograd.grad(fn(lw, th).sum(), lw)
        assert not torch.isnan(d).any()


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_surrogate_gradient_is_minus_phi_in_each_dtype(dtype):
    """float32 too (the generic test is float64), and at the float32 overflow point 700."""
    lw = torch.tensor(
        [-700.0, -20.0, -1.0, -0.1, 0.0, 0.3, 0.7, 1.5, 3.0, 88.5, 700.0], dtype=dtype
    )
    lw = lw[:, None].expand(-1, 3).clone().requires_grad_(True)
    A = torch.tensor([-1.5, 0.0, 2.0], dtype=dtype)[None, :]
    (grad,) = torch.autograd.grad(T.surrogate_phi_adaptive(lw, A, 0.1, 0.9, 1.0, 1.0).sum(), lw)
    phi = T.phi_adaptive(lw.detach(), A, 0.1, 0.9, 1.0, 1.0)
    eps = torch.finfo(dtype).eps
    assert torch.allclose(grad, -phi, rtol=64 * eps, atol=0)


def test_without_stop_gradient_the_part7_objective_is_not_the_weight():
    """Claim 003-7-e: differentiating f_gamma with gamma = gamma(w, A) does not give g(w, A)."""
    lw = torch.tensor([math.log(2.0), math.log(0.5)], dtype=torch.float64, requires_grad=True)
    A = torch.tensor([1.0, -1.0], dtype=torch.float64)
    f = T.f_gamma_adaptive_section_7(lw, A, 0.1, 0.9, 1.0, 1.0)
    (grad,) = torch.autograd.grad(f.sum(), lw)
    g = T.g_adaptive(lw.detach(), A, 0.1, 0.9, 1.0, 1.0)
    assert (grad - g).abs().min() > 1e-3
    # the exact objective of the reference does generate g(w, A)
    with mpmath.workdps(25):
        for x, a in ((math.log(2.0), 1.0), (math.log(0.5), -1.0)):
            d = mpmath.diff(lambda t, a=a: R.f_adaptive_exact(t, a, 0.1, 0.9, 1.0, 1.0), x)
            assert abs(d - R.g_adaptive(x, a, 0.1, 0.9, 1.0, 1.0)) < 1e-15


@pytest.mark.parametrize(
    "call,name,value",
    [
        (lambda: T.trust_region_h(torch.tensor([0.5]), 0.0), "tau", "0.0"),
        (lambda: T.trust_region_weight(torch.tensor([0.5]), -1.0), "tau", "-1.0"),
        (lambda: T.trust_region_h(torch.tensor([0.5]), float("inf")), "tau", "inf"),
        (lambda: T.g_gamma(torch.tensor([0.5]), 1.5, 1.0), "gamma", "1.5"),
        (
            lambda: T.phi_gamma(torch.tensor([0.5]), torch.tensor([float("inf")]), 0.5, 1.0),
            "A",
            "inf",
        ),
        (lambda: T.correctness(torch.tensor([float("nan")]), 1.0), "log_w", "nan"),
        (lambda: T.p_wrong(torch.tensor([0.5]), 1.0, -2.0), "tau_c", "-2.0"),
        (
            lambda: T.gamma_adaptive(torch.tensor([0.5]), 1.0, -0.25, 0.9, 1.0),
            "gamma_base",
            "-0.25",
        ),
        (lambda: T.g_adaptive(torch.tensor([0.5]), 1.0, 0.1, 1.25, 1.0, 1.0), "gamma_max", "1.25"),
        (lambda: T.phi_adaptive(torch.tensor([0.5]), 1.0, 0.1, 0.9, 0.0, 1.0), "tau_h", "0.0"),
        (lambda: T.f_gamma(torch.tensor([0.5]), float("nan"), 1.0), "gamma", "nan"),
    ],
)
def test_bad_arguments_raise_naming_the_argument(call, name, value):
    with pytest.raises(ValueError) as info:
        call()
    msg = str(info.value)
    assert msg.startswith(name + " "), msg
    assert value in msg, msg


def test_reference_errors_name_the_argument():
    with mpmath.workdps(DPS):
        for call, name in (
            (lambda: R.trust_region_h(0.5, 0.0), "tau"),
            (lambda: R.g_adaptive(0.5, 1.0, 0.1, 0.9, 1.0, -1.0), "tau_c"),
            (lambda: R.phi_gamma(float("nan"), 1.0, 0.5, 1.0), "log_w"),
            (lambda: R.correctness(0.5, float("inf")), "A"),
        ):
            with pytest.raises(ValueError, match=f"^{name} "):
                call()


def test_inputs_are_not_modified_and_shapes_broadcast():
    lw = torch.linspace(-3, 3, 5, dtype=torch.float64)[:, None]
    A = torch.tensor([-1.0, 0.0, 2.0], dtype=torch.float64)
    before = (lw.clone(), A.clone())
    out = T.phi_adaptive(lw, A, torch.tensor([0.1, 0.2, 0.3]).double(), 0.9, 1.0, 1.0)
    assert out.shape == (5, 3) and out.dtype == torch.float64
    assert torch.equal(lw, before[0]) and torch.equal(A, before[1])
    bf = T.g_gamma(lw.to(torch.bfloat16), 0.5, 1.0)
    assert bf.dtype == torch.bfloat16 and bf.shape == (5, 1)


def test_edge_values_are_the_documented_limits():
    inf = float("inf")
    x = torch.tensor([-inf, inf], dtype=torch.float64)
    assert torch.allclose(
        T.trust_region_h(x, 1.0), torch.tensor([1 / math.cosh(0.5) ** 2, 0.0]).double()
    )
    assert torch.equal(T.trust_region_weight(x, 1.0), torch.zeros(2, dtype=torch.float64))
    assert torch.equal(
        T.correctness(x, torch.tensor([0.0, -0.0]).double()), torch.zeros(2).double()
    )
    g = T.g_adaptive(x, torch.tensor([1.0, -1.0]).double(), 0.1, 0.9, 1.0, 1.0)
    assert torch.allclose(g, torch.tensor([0.1, 0.1]).double())  # C -> -inf: gamma -> gamma_max
    f = T.f_gamma(x, 1.0, 2.0)
    assert torch.allclose(f, torch.tensor([math.tanh(-1.0), 1.0]).double())
    assert torch.equal(T.f_gamma(x, 0.5, 2.0), torch.tensor([-inf, inf]).double())
    # float32 at log_w = 700: w overflows, the weight is exactly 0, not NaN
    assert float(T.trust_region_weight(torch.tensor(700.0), 1.0)) == 0.0


def test_weight_maximiser():
    with mpmath.workdps(DPS):
        w_star, peak = R.trust_region_weight_max(1.0)
        assert abs(w_star * mpmath.tanh((w_star - 1) / 2) - 1) < 1e-25
        grid = max(R.trust_region_weight(mpmath.log(w), 1.0) for w in np.linspace(1.5, 2.6, 111))
        assert grid <= peak and peak - grid < 1e-4
    assert abs(float(w_star) - 2.0601) < 1e-4 and abs(float(peak) - 1.5747) < 1e-4
