"""KL estimators: Gaussian closed forms against sympy integrals over the normal density, exact
discrete moments against an independent torch enumeration, and the torch k3 near 0."""

from __future__ import annotations

import math

import mpmath
import pytest
import sympy as sp
import torch

from isreshape.reference import kl_estimators as K
from isreshape.reference import lab
from isreshape.torch_impl import kl_estimators as tk


@pytest.mark.parametrize("estimator", ["k1", "k2", "k3"])
def test_gaussian_closed_forms_against_sympy_integrals(estimator):
    x = sp.symbols("x", real=True)
    d = sp.symbols("delta", positive=True)
    log_r = d * x - d**2 / 2  # log N(x; d, 1) - log N(x; 0, 1)
    k = {"k1": -log_r, "k2": log_r**2 / 2, "k3": sp.exp(log_r) - 1 - log_r}[estimator]
    pdf = sp.exp(-(x**2) / 2) / sp.sqrt(2 * sp.pi)
    mean = sp.simplify(sp.integrate(k * pdf, (x, -sp.oo, sp.oo)))
    second = sp.simplify(sp.integrate(k**2 * pdf, (x, -sp.oo, sp.oo)))
    for delta in ("0.1", "1"):
        with mpmath.workdps(40):
            want_mean, want_var = K.gaussian_kl_estimator_moments(mpmath.mpf(delta), estimator)
            m = mpmath.mpf(sp.N(mean.subs(d, sp.Rational(delta)), 50))
            v = mpmath.mpf(sp.N((second - mean**2).subs(d, sp.Rational(delta)), 50))
            assert abs(m - want_mean) <= mpmath.mpf(10) ** -35 * abs(want_mean)
            assert abs(v - want_var) <= mpmath.mpf(10) ** -35 * abs(want_var)


def test_gaussian_numbers_of_the_issue():
    """True KL 0.005 and 0.5; k1 and k3 unbiased, k2 biased by delta^4 / 8; k3's variance is
    ~delta^4 / 2 for small delta, far below k1's delta^2."""
    with mpmath.workdps(30):
        for delta, kl in ((0.1, 0.005), (1.0, 0.5)):
            m1, v1 = K.gaussian_kl_estimator_moments(delta, "k1")
            m2, _ = K.gaussian_kl_estimator_moments(delta, "k2")
            m3, v3 = K.gaussian_kl_estimator_moments(delta, "k3")
            assert math.isclose(m1, kl, rel_tol=1e-15) and math.isclose(m3, kl, rel_tol=1e-15)
            assert math.isclose(m2 - kl, delta**4 / 8, rel_tol=1e-12)
            assert v3 < v1
        _, v1 = K.gaussian_kl_estimator_moments(0.1, "k1")
        _, v3 = K.gaussian_kl_estimator_moments(0.1, "k3")
        assert math.isclose(v1, 0.01, rel_tol=1e-12) and math.isclose(v3, 5.0167e-5, rel_tol=1e-4)


@pytest.mark.parametrize("estimator", ["k1", "k2", "k3"])
def test_discrete_moments_against_an_independent_enumeration(estimator):
    inst = lab.bandit8()  # q = mu, p = pi_theta
    with mpmath.workdps(50):
        exact = K.discrete_kl_estimator_moments(inst.logits_mu, inst.logits_theta, estimator)
        assert abs(exact["bias"]) < mpmath.mpf(10) ** -45 or estimator == "k2"
    lq = torch.log_softmax(torch.tensor(inst.logits_mu, dtype=torch.float64), 0)
    lp = torch.log_softmax(torch.tensor(inst.logits_theta, dtype=torch.float64), 0)
    q = lq.exp()
    k = getattr(tk, f"kl_{estimator}")(lp - lq)
    mean = (q * k).sum()
    var = (q * (k - mean) ** 2).sum()
    assert abs(float(mean) - float(exact["mean"])) <= 1e-14
    assert abs(float(var) - float(exact["variance"])) <= 1e-13 * float(exact["variance"])
    assert float(exact["kl"]) == pytest.approx(float((q * (lq - lp)).sum()), rel=1e-13)
    if estimator == "k2":
        assert exact["bias"] > 0


def test_torch_k3_keeps_its_digits_near_zero():
    x = torch.tensor(
        [1e-12, -1e-8, 1e-3, 0.4999, -0.4999, 0.5001, -0.5001, 2.0, -3.0], dtype=torch.float64
    )
    got = tk.kl_k3(x)
    with mpmath.workdps(50):
        want = [float(K.kl_k3(float(v))) for v in x]
    for g, w in zip(got.tolist(), want):
        # the direct form at |log_r| = 1/2: 2 eps / |log_r| = 4 eps, plus expm1's ulp
        assert abs(g - w) <= 8 * 2.0**-52 * w, (g, w)


def test_bad_input_is_refused():
    for fn in (K.kl_k1, K.kl_k2, K.kl_k3, tk.kl_k1, tk.kl_k2, tk.kl_k3):
        with pytest.raises(ValueError, match="log_r"):
            fn(float("nan"))
    with pytest.raises(ValueError, match="estimator"):
        K.gaussian_kl_estimator_moments(0.1, "k4")
    with pytest.raises(ValueError, match="estimator"):
        K.discrete_kl_estimator_moments([0.0, 1.0], [1.0, 0.0], "k0")
