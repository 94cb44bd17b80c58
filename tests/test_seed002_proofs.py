"""The sympy derivations of seed 002 (proofs/alpha_divergence.py, proofs/weight_shapes.py)
return what they should: each symbolic result is compared with an independent numerical
evaluation (mpmath derivatives, limits by evaluation near the point, direct sums)."""

from __future__ import annotations

import mpmath
import pytest
import sympy as sp

from isreshape.proofs import alpha_divergence as ad
from isreshape.proofs import weight_shapes as ws

W_POINTS = (0.1, 0.7, 1.0, 2.5, 9.0)


def _num(expr, subs):
    return float(sp.N(expr.subs(subs), 30))


def test_residuals_are_zero():
    res = ad.all_residuals()
    assert len(res) >= 12
    assert all(v == 0 for v in res.values()), res


def test_box_cox_objective_matches_numeric_derivative():
    f = ad.box_cox_objective()
    for g in (0.3, 1.7):
        for x in W_POINTS:
            num = x * mpmath.diff(lambda t, g=g: (t**g - 1) / g * 2, x)
            assert mpmath.almosteq(
                num, _num(ad.weight_from_objective(f), {ad.w: x, ad.gamma: g, ad.A: 2}), 1e-12
            )
    assert ad.box_cox_limit_gamma_zero() == ad.A * sp.log(ad.w)


@pytest.mark.parametrize("which,alpha0", [(0, 0.0), (1, 1.0)])
def test_alpha_limits_against_evaluation_near_the_point(which, alpha0):
    lim = ad.alpha_generator_limits()[which]
    with mpmath.workdps(40):
        for x in W_POINTS:
            x = mpmath.mpf(x)
            a = mpmath.mpf(alpha0) + mpmath.mpf("1e-15")
            centred = (x**a - 1 - a * (x - 1)) / (a * (a - 1))
            assert mpmath.almosteq(centred, _num(lim, {ad.w: x}), 1e-12)


def test_alpha_two_is_half_chi_square():
    two = ad.alpha_generator_limits()[2]
    for x in W_POINTS:
        assert abs(_num(two, {ad.w: x}) - (x - 1) ** 2 / 2) < 1e-14


def test_alpha_pole_and_second_derivative():
    assert sp.simplify(ad.alpha_generator_pole_at_one() - (ad.w - 1)) == 0
    d2 = ad.alpha_generator_second_derivative()
    for a in (-1.0, 0.5, 2.0):
        for x in W_POINTS:
            num = mpmath.diff(lambda t, a=a: (t**a - 1) / (a * (a - 1)), x, 2)
            assert mpmath.almosteq(num, _num(d2, {ad.w: x, ad.alpha: a}), 1e-10)


def test_alpha_gradient_weight_and_converse():
    gw = ad.alpha_gradient_weight()
    for a in (0.5, 2.0):
        for x in W_POINTS:
            num = x * mpmath.diff(lambda t, a=a: (t**a - 1) / (a * (a - 1)), x)
            assert mpmath.almosteq(num, _num(gw, {ad.w: x, ad.alpha: a}), 1e-12)
    F = ad.generator_from_power_weight()
    c = [s for s in F.free_symbols if s.name == "c"][0]
    assert sp.simplify(ad.w * sp.diff(F, ad.w) - c * ad.w**ad.gamma) == 0


def test_autograd_weights_of_the_seed_losses():
    code = ad.code_loss_gradient_weight()
    sft = ad.sft_loss_gradient_weight()
    for ell0, m0, g in ((-0.5, -0.2, 0.6), (-3.0, -3.0, 0.5), (1.0, 0.0, 1.5)):
        num_code = mpmath.diff(lambda e, g=g, m0=m0: mpmath.exp(g * (e - m0)) * 1.5, ell0)
        got_code = _num(code, {ad.ell: ell0, ad.m: m0, ad.gamma: g, ad.A: 1.5})
        assert mpmath.almosteq(num_code, got_code, 1e-12)
        num_sft = mpmath.diff(lambda e, g=g, m0=m0: mpmath.exp(g * (e - m0)) * e, ell0)
        assert mpmath.almosteq(num_sft, _num(sft, {ad.ell: ell0, ad.m: m0, ad.gamma: g}), 1e-12)
    # the sign flip the ledger reports (002-10.3-a): pi = 0.05, w = 1, gamma = 0.5
    assert (
        _num(
            sft,
            {ad.ell: sp.log(sp.Rational(1, 20)), ad.m: sp.log(sp.Rational(1, 20)), ad.gamma: 0.5},
        )
        < 0
    )


def test_clip_objective_is_continuous_numerically():
    lo, mid, hi = ad.clip_objective_pieces()
    e = 0.2
    for piece, x in ((lo, 0.5), (mid, 1.1), (hi, 3.0)):
        fn = sp.lambdify(ad.w, piece.subs({ad.eps: e, ad.A: 1}), "mpmath")
        num = x * mpmath.diff(fn, x)
        assert mpmath.almosteq(num, min(max(x, 1 - e), 1 + e), 1e-12)
    for edge in (1 - e, 1 + e):
        pieces = [float(p.subs({ad.w: edge, ad.eps: e, ad.A: 1})) for p in (lo, mid, hi)]
        near = pieces[:2] if edge < 1 else pieces[1:]
        assert abs(near[0] - near[1]) < 1e-15


def test_power_derivatives():
    d1, d2 = ws.power_derivatives()
    for g in (0.5, 1.5):
        for x in W_POINTS:
            assert mpmath.almosteq(
                mpmath.diff(lambda t, g=g: t**g, x, 2), _num(d2, {ws.w: x, ws.gamma: g}), 1e-10
            )
            assert mpmath.almosteq(
                mpmath.diff(lambda t, g=g: t**g, x), _num(d1, {ws.w: x, ws.gamma: g}), 1e-12
            )


def test_michaelis_menten_facts():
    f = ws.michaelis_menten_facts()
    tau = 0.7

    def mm(t):
        return (1 + tau) * t / (tau + t)

    assert f["at_1"] == 1 and f["inflection_points"] == []
    assert mpmath.almosteq(mm(1e12), _num(f["limit_inf"], {ws.tau: tau}), 1e-10)
    assert mpmath.almosteq(mpmath.diff(mm, 1e-30), _num(f["slope_0"], {ws.tau: tau}), 1e-10)
    assert mpmath.almosteq(mpmath.diff(mm, 1), _num(f["slope_1"], {ws.tau: tau}), 1e-12)
    for x in W_POINTS:
        assert mpmath.almosteq(mpmath.diff(mm, x, 2), _num(f["d2"], {ws.w: x, ws.tau: tau}), 1e-10)


def test_soft_saturation_54_facts():
    f = ws.soft_saturation_54_facts()
    g, lam = 1.5, 0.4

    def phi(t):
        u = t**g
        return u / (1 + lam * max(u - 1, 0))

    assert f["at_1"] == 1
    assert mpmath.almosteq(phi(1e15), _num(f["limit_inf"], {ws.lam: lam}), 1e-8)
    right = mpmath.diff(phi, 1 + mpmath.mpf("1e-20"), direction=1)
    assert mpmath.almosteq(right, _num(f["right_slope_w1"], {ws.gamma: g, ws.lam: lam}), 1e-8)


def test_soft_saturation_92_stationary_point_is_the_numeric_minimum():
    f = ws.soft_saturation_92_facts()
    g, lam, wth = 1.5, 1.0, 3.0

    def phi(t):
        return t**g / (1 + lam * (t - wth))

    x_min = mpmath.findroot(lambda t: mpmath.diff(phi, t), 5.0)
    sols = [_num(s, {ws.gamma: g, ws.lam: lam, ws.w_th: wth}) for s in f["stationary"]]
    assert mpmath.almosteq(x_min, sols[0], 1e-10)
    assert mpmath.almosteq(
        mpmath.diff(phi, wth),
        _num(f["right_slope_wth"], {ws.gamma: g, ws.lam: lam, ws.w_th: wth}),
        1e-10,
    )
    assert f["ratio_limit"] == 1 / ws.lam


def test_mixture_facts():
    f = ws.mixture_facts()
    g, lam, wth = 1.5, 1.0, 3.0

    def mix(t):
        b = 1 / (1 + mpmath.exp(lam * (t - wth)))
        return b * t**g + (1 - b) * t

    assert f["at_1"] == 1 and f["slope_1_residual"] == 0 and f["ratio_limit_inf"] == 1
    for x in W_POINTS:
        got = _num(f["d1"], {ws.w: x, ws.gamma: g, ws.lam: lam, ws.w_th: wth})
        assert mpmath.almosteq(mpmath.diff(mix, x), got, 1e-10)


def test_sapo_weight_and_gates():
    assert ws.sapo_weight_residual() == 0
    tau = 1.3

    def f(t):
        return 4 / tau / (1 + mpmath.exp(-tau * (t - 1)))

    for x in W_POINTS:
        assert mpmath.almosteq(
            x * mpmath.diff(f, x), _num(ws.sapo_gradient_weight(), {ws.w: x, ws.tau: tau}), 1e-10
        )
        fpp = mpmath.diff(lambda t: f(t) / t, x)
        got = _num(ws.sapo_printed_integrand_second_derivative(), {ws.w: x, ws.tau: tau})
        assert mpmath.almosteq(fpp, got, 1e-10)
    dp, dn = ws.sapo_gate_derivatives()
    gp, gn = ws.sapo_gates()
    for x in W_POINTS:
        num = mpmath.diff(lambda t: 2 / (1 + mpmath.exp(tau * (t - 1))), x)
        assert mpmath.almosteq(num, _num(dp, {ws.w: x, ws.tau: tau}), 1e-10)
        assert _num(dp, {ws.w: x, ws.tau: tau}) < 0 < _num(dn, {ws.w: x, ws.tau: tau})


def test_ledger_numpy_helpers_match_the_weights_reference():
    """The seed-002 claims evaluate the designs on grids of up to 10^5 points with small
    vectorised NumPy helpers (reference/weights.py is scalar mpmath with no NumPy companions,
    too slow for the audit there): this test is the explicit cross-check that keeps those
    independent implementations, against the mpmath reference."""
    import math

    import numpy as np

    import isreshape.reference.weights as rw
    from isreshape.proofs.claims import seed_002 as s

    w = np.array([0.01, 0.4, 1.0, 2.0, 3.0, 5.07, 40.0])
    with mpmath.workdps(30):
        pairs = [
            (s._mm(w, 0.7), [rw.michaelis_menten_weight(math.log(x), 1.0, 0.7) for x in w]),
            (
                s._soft_sat_54(w, 1.5, 0.4),
                [rw.soft_saturation_weight(math.log(x), 1.0, 1.5, 0.4) for x in w],
            ),
            (
                s._soft_sat_92(w, 1.5, 1.0, 3.0),
                [rw.threshold_saturation_weight(math.log(x), 1.0, 1.5, 1.0, 3.0) for x in w],
            ),
            (
                s._mixture(w, 1.99, 1.0, 3.0),
                [rw.sigmoid_blend_weight(math.log(x), 1.0, 1.99, 1.0, 3.0) for x in w],
            ),
        ]
        for got, want in pairs:
            assert np.allclose(got, [float(v) for v in want], rtol=1e-13)

        # finite differences of appendix B's loss -mean(phi), emulated here line by line
        # (w = exp(clamp(log pi - log mu, -20, 20)), the 9.3 mixture for A < 0 with lam = 1,
        # w_th = 3), against the reference's closed-form effective weight of that loss
        def seed_loss(lp, A, gp=0.6, gn=1.5):
            w = math.exp(min(max(lp, -20.0), 20.0))
            if A > 0:
                return -(w**gp) * A
            beta = 1 / (1 + math.exp(w - 3.0))
            return -(beta * w**gn + (1 - beta) * w) * A

        for lw, A in ((-0.5, 1.0), (0.3, 1.0), (-0.4, -1.0), (math.log(5.0), -1.0)):
            h = 1e-6
            fd = -(seed_loss(lw + h, A) - seed_loss(lw - h, A)) / (2 * h)
            want = float(rw.gradient_weight_design_seed_code(lw, A, 0.6, 1.5))
            assert abs(fd - want) < 1e-7 * max(1.0, abs(want))
