"""The general proofs (proofs/theorems.py): each holds for the seed's formula, fails for a wrong
one at the step that compares it, and each step kind can fail."""

from __future__ import annotations

import math

import mpmath
import pytest
import sympy as sp

from isreshape.proofs import theorems as T
from isreshape.reference import certified as C


def test_ess_closed_form_proof():
    p = T.ess_lognormal_proof(sp.exp(-T.s2 * T.g**2))
    assert p.holds and p.n_checked() == 5
    wrong = T.ess_lognormal_proof(sp.exp(-T.s2 * T.g**2 / 2))
    assert not wrong.holds and len(wrong.failed_steps()) == 1
    assert "stated closed form" in wrong.failed_steps()[0]
    # the counterexample step compares the two-point law with the stated form: equal would fail
    s, g = 2.0, 1.0
    assert math.cosh(g * s) ** 2 / math.cosh(2 * g * s) != pytest.approx(math.exp(-(s * s)))


def test_renyi_identity_proof():
    assert T.renyi_identity_proof(lambda g, D: sp.exp((g - 1) * D)).holds
    for bad in (lambda g, D: sp.exp((1 - g) * D), lambda g, D: sp.exp(g * D)):
        p = T.renyi_identity_proof(bad)
        assert p.failed_steps() == ["rhs(g, log(S) / (g - 1)) = S for S > 0, g != 1"]


def test_alpha_star_proof():
    assert T.alpha_star_proof().holds
    # the sum of the two KLs (the ledger's counter-case) is not E_q[d]
    p = T.alpha_star_proof(lambda lq, a, b: (lq - a) + (lq - b))
    assert len(p.failed_steps()) == 1 and "Delta = E_q[d]" in p.failed_steps()[0]


def test_alpha_star_without_common_support():
    """pi_theta = (.9, .1, 0), pi_t = (.05, .85, .1): Delta(0) > 0 > Delta(1) on S = {0, 1},
    so alpha* exists and is unique although the supports differ; its certified enclosure."""
    d0, d1 = T.alpha_star_support_example()
    assert d0.is_positive and d1.is_negative
    logp = [math.log(0.9), math.log(0.1), -math.inf]
    logt = [math.log(0.05), math.log(0.85), math.log(0.1)]
    lo, hi = C.optimal_alpha_enclosure(logp, logt)
    assert hi - lo <= mpmath.mpf("1e-40")
    assert mpmath.mpf("0.50346") < lo and hi < mpmath.mpf("0.50348")


def test_pareto_proof():
    assert T.pareto_proof().holds
    p = T.pareto_proof(lambda al, a, b, L: sp.log(al * sp.exp(a) + (1 - al) * sp.exp(b)) - L)
    assert len(p.failed_steps()) == 1 and "weighted" in p.failed_steps()[0]


@pytest.mark.parametrize(
    "kind,good,bad",
    [
        ("identity", sp.sin(T.x) ** 2 + sp.cos(T.x) ** 2 - 1, sp.sin(T.x) ** 2 - 1),
        ("positive", T.sigma**2 + 1, T.sigma - 2),
        ("nonnegative", T.x**2, T.x),
        ("nonzero", sp.exp(T.x), T.x),
        ("infinite", sp.oo, sp.Integer(10) ** 100),
    ],
)
def test_every_step_kind_can_fail(kind, good, bad):
    assert T.Step("good", kind, good).holds() is True
    assert T.Step("bad", kind, bad).holds() is False


def test_step_shape_is_checked():
    with pytest.raises(ValueError, match="kind"):
        T.Step("x", "probably", T.x)
    with pytest.raises(ValueError, match="cited"):
        T.Step("x", "cited", T.x)
    with pytest.raises(ValueError, match="cited"):
        T.Step("x", "identity")
