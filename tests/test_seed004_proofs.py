"""Tests of proofs/sampling_proofs.py (seed 004 derivations and exact computations).

Expected values come from independent math: the V = 2 closed form of alpha*, the fact that
on a two-point simplex every monotone path has the Fisher-Rao length, the swap symmetry
alpha*(theta, t) = 1 - alpha*(t, theta), and direct sums. Most numerics in sampling_proofs are
adapters to reference/sampling.py, so these tests check the reference through them.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import sympy as sp

from isreshape.proofs import sampling_proofs as S

PAIRS = [
    ([0.7, 0.2, 0.1], [0.2, 0.1, 0.7]),
    ([0.5, 0.49, 0.01], [0.01, 0.49, 0.5]),
    ([0.25, 0.25, 0.25, 0.25], [0.4, 0.3, 0.2, 0.1]),
    ([0.999, 0.001], [0.5, 0.5]),
]


def _lp(pair):
    return S.log_probs(pair[0]), S.log_probs(pair[1])


def test_sympy_residuals_vanish():
    assert S.kl_pointwise_residuals() == (0, 0, 0)
    assert S.weighted_sum_residual() == 0
    assert S.delta_derivative_residual() == 0
    assert S.kl_alpha_derivative_residuals() == (0, 0, 0)
    info, resid = S.bernoulli_fisher()
    p = sp.symbols("p", positive=True)
    assert sp.simplify(info - 1 / (p * (1 - p))) == 0 and resid == 0


def test_stationarity_solutions():
    (q,) = S.kl_stationarity()
    c, lam = sp.symbols("c lam", real=True)
    assert sp.simplify(q - sp.exp(c - 1 - lam)) == 0
    (q2,) = S.ess_front_stationarity()
    qq, P, T, lam2, beta = sp.symbols("q P T lam beta", positive=True)
    # the returned q must make the derivative vanish
    obj = beta * P / qq + (1 - beta) * T / qq + lam2 * qq
    assert sp.simplify(sp.diff(obj, qq).subs(qq, q2)) == 0


def test_log_ess_kl_series_ratio_is_minus_two():
    s_ess, s_kl, ratio = S.log_ess_kl_series()
    assert ratio == -2
    # numeric check against direct sums at t = 1e-6 (independent of the series)
    with mpmath.workdps(40):
        p, t = mpmath.mpf("0.3"), mpmath.mpf("1e-6")
        log_ess = -mpmath.log(p**2 / (p + t) + (1 - p) ** 2 / (1 - p - t))
        kl = (p + t) * mpmath.log((p + t) / p) + (1 - p - t) * mpmath.log((1 - p - t) / (1 - p))
        assert abs(log_ess / kl + 2) < 1e-5


@pytest.mark.parametrize("p,r", [("0.3", "0.8"), ("0.9", "0.2"), ("0.01", "0.5"), ("0.6", "0.55")])
def test_alpha_star_two_point_closed_form(p, r):
    with mpmath.workdps(50):
        P, R = mpmath.mpf(p), mpmath.mpf(r)
        A, B = mpmath.log(R / P), mpmath.log((1 - R) / (1 - P))
        c = P * (1 - R) / ((1 - P) * R)
        closed = mpmath.log(-B * (1 - R) / (A * R)) / mpmath.log(c)
        got = S.alpha_star(S.log_probs([P, 1 - P]), S.log_probs([R, 1 - R]))
        assert abs(got - closed) < mpmath.mpf("1e-45")
        a_sym, _ = S.two_point_alpha_star()
        ps, rs = sorted(a_sym.free_symbols, key=lambda s: s.name)
        sym_val = sp.N(a_sym.subs({ps: sp.Rational(p), rs: sp.Rational(r)}), 50)
        assert abs(mpmath.mpf(str(sym_val)) - closed) < mpmath.mpf("1e-45")


@pytest.mark.parametrize("pair", PAIRS)
def test_alpha_star_root_precisions_and_swap(pair):
    vals = []
    for dps in (50, 70):
        with mpmath.workdps(dps):
            lt, lq = _lp(pair)
            a = S.alpha_star(lt, lq)
            assert 0 < a < 1
            assert abs(S.delta(lt, lq, a)) < mpmath.mpf(10) ** (-(dps - 8))
            assert abs(S.alpha_star(lq, lt) - (1 - a)) < mpmath.mpf(10) ** (-(dps - 8))
            vals.append(a)
    assert abs(vals[0] - vals[1]) < mpmath.mpf("1e-40")


@pytest.mark.parametrize("pair", PAIRS)
def test_alphas_against_direct_sums(pair):
    """alpha_star, alpha_ess_balance and alpha_entropy delegate to reference/sampling.py; check
    each against its defining equation evaluated here by direct sums on the probabilities."""
    with mpmath.workdps(50):
        p, r = ([mpmath.mpf(x) / mpmath.fsum(d) for x in d] for d in pair)  # float sums != 1
        lt, lq = _lp(pair)

        def q_at(a):
            u = [x**a * y ** (1 - a) for x, y in zip(p, r)]
            return [v / mpmath.fsum(u) for v in u]

        a = S.alpha_star(lt, lq)
        q = q_at(a)
        assert abs(mpmath.fsum(v * mpmath.log(y / x) for v, x, y in zip(q, p, r))) < 1e-40
        q = q_at(S.alpha_ess_balance(lt, lq))
        e_th = mpmath.fsum(x**2 / v for x, v in zip(p, q))
        e_t = mpmath.fsum(y**2 / v for y, v in zip(r, q))
        assert abs(e_th / e_t - 1) < 1e-30
        h_th, h_t = (-mpmath.fsum(x * mpmath.log(x) for x in d) for d in (p, r))
        assert abs(S.alpha_entropy(lt, lq) - h_th / (h_th + h_t)) < 1e-40


def test_alpha_star_requires_overlap_and_difference():
    with mpmath.workdps(30):
        lt = S.log_probs([0.5, 0.5])
        with pytest.raises(ValueError):
            S.alpha_star(lt, lt)
        with pytest.raises(ValueError):
            S.alpha_star(S.log_probs([0.5, 0.5, 0]), S.log_probs([1 / 3, 1 / 3, 1 / 3]))
    with pytest.raises(ValueError):
        S.log_normalize([])
    with pytest.raises(ValueError):
        S.log_normalize([float("nan"), 0.0])


def test_numpy_alpha_star_matches_mpmath():
    lts = np.array([[math.log(x) for x in p[0]] for p in PAIRS[:2]])
    lqs = np.array([[math.log(x) for x in p[1]] for p in PAIRS[:2]])
    got = S.alpha_star_np(S.log_softmax_np(lts), S.log_softmax_np(lqs))
    with mpmath.workdps(30):
        want = [float(S.alpha_star(*_lp(p))) for p in PAIRS[:2]]
    np.testing.assert_allclose(got, want, rtol=1e-13)


def test_seed_code_within_tol_on_moderate_inputs_and_20_iterations():
    lt, lq = S.seed_example_pairs(4, 2000, 7)
    exact = S.alpha_star_np(lt, lq)
    a, iters, converged = S.solve_kl_symmetry_seed_code(np.exp(lt), np.exp(lq))
    assert converged and iters == 20
    assert np.max(np.abs(a - exact)) < 1e-6
    info = S.seed_class_diagnostics(np.exp(lt), np.exp(lq))
    assert np.max(np.abs(info["alpha"] - exact)) < 1e-6


def test_ess_and_kl_against_direct_sums():
    rng = np.random.default_rng(0)
    p, q = rng.dirichlet(np.ones(5)), rng.dirichlet(np.ones(5))
    with mpmath.workdps(30):
        lp, lq = S.log_probs(p.tolist()), S.log_probs(q.tolist())
        assert abs(float(S.ess_fraction(lp, lq)) - 1 / np.sum(p**2 / q)) < 1e-14
        assert abs(float(S.kl(lp, lq)) - np.sum(p * np.log(p / q))) < 1e-14
    assert abs(S.ess_fraction_np(np.log(p), np.log(q)) - 1 / np.sum(p**2 / q)) < 1e-14
    assert abs(S.kl_np(np.log(p), np.log(q)) - np.sum(p * np.log(p / q))) < 1e-14


def test_fisher_lengths():
    with mpmath.workdps(20):
        # on two points every monotone path has the geodesic length
        lt, lq = S.log_probs([0.9, 0.1]), S.log_probs([0.2, 0.8])
        length = S.e_geodesic_fisher_length(lt, lq)
        dist = S.fisher_rao_distance(lt, lq)
        assert abs(length - dist) < 1e-12
        # on three points the geodesic is shorter than the e-geodesic
        lt, lq = _lp(PAIRS[1])
        assert S.e_geodesic_fisher_length(lt, lq) > S.fisher_rao_distance(lt, lq) * (1 + 1e-3)


def test_speculative_output_distributions():
    with mpmath.workdps(40):
        pt = [mpmath.mpf(x) for x in ("0.7", "0.2", "0.1")]
        q = [mpmath.mpf(x) for x in ("0.3", "0.3", "0.4")]
        res = S.speculative_output_residual(pt, q)
        assert S.tv(res, q) < mpmath.mpf("1e-35")
        seed = S.speculative_output_seed(pt, q)
        assert abs(mpmath.fsum(seed) - 1) < mpmath.mpf("1e-35")
        # by hand: min = (0.3, 0.2, 0.1), beta = 0.6, output = min + 0.4 q
        want = [mpmath.mpf(x) for x in ("0.42", "0.32", "0.26")]
        assert max(abs(a - b) for a, b in zip(seed, want)) < mpmath.mpf("1e-35")
        assert abs(S.acceptance_rate(pt, q) - mpmath.mpf("0.6")) < mpmath.mpf("1e-35")
        # proposal equal to the target: both schemes are exact
        assert S.tv(S.speculative_output_seed(q, q), q) < mpmath.mpf("1e-35")


def test_ess_front_member_minimises_weighted_inverse_ess():
    with mpmath.workdps(30):
        lt, lq = _lp(PAIRS[0])
        b = mpmath.mpf("0.3")

        def obj(lqq):
            return b / S.ess_fraction(lt, lqq) + (1 - b) / S.ess_fraction(lq, lqq)

        best = obj(S.ess_front_member(lt, lq, b))
        rng = np.random.default_rng(1)
        for _ in range(50):
            other = S.log_probs(rng.dirichlet(np.ones(3)).tolist())
            assert obj(other) >= best
        for a in (0.2, 0.5, 0.8):
            assert obj(S.log_q_alpha(lt, lq, a)) >= best


def _seed_class_solve_torch(pi_theta, pi_t, tol=1e-6, max_iter=50, eps=1e-10):
    """The seed's 7.4 torch code for _solve_kl_symmetry/_geometric_mean, verbatim in shape
    handling (used only to confirm the NumPy port's broadcasting behaviour)."""
    import torch
    import torch.nn.functional as F

    lo = torch.zeros(pi_theta.shape[0], dtype=pi_theta.dtype)
    hi = torch.ones(pi_theta.shape[0], dtype=pi_theta.dtype)

    def geo(alpha):
        if alpha.dim() == 1:
            alpha = alpha.unsqueeze(-1)
        log_q = alpha * torch.log(pi_theta + eps) + (1 - alpha) * torch.log(pi_t + eps)
        return F.softmax(log_q, dim=-1)

    for _ in range(max_iter):
        mid = (lo + hi) / 2
        q = geo(mid)
        log_ratio = torch.log(pi_t + eps) - torch.log(pi_theta + eps)
        delta = (q * log_ratio).sum(dim=-1)
        mask = delta > 0
        lo = torch.where(mask, mid, lo)
        hi = torch.where(mask, hi, mid)
        if (hi - lo).max() < tol:
            return (lo + hi) / 2, True
    return (lo + hi) / 2, False


def test_seed_class_port_matches_torch_shapes():
    torch = pytest.importorskip("torch")
    lt, lq = S.seed_example_pairs(9, 50, 3)
    pt, pq = np.exp(lt), np.exp(lq)
    a_np, conv_np = S.seed_class_solve_shapes(pt, pq)
    a_t, conv_t = _seed_class_solve_torch(torch.tensor(pt), torch.tensor(pq))
    assert conv_np and conv_t
    np.testing.assert_allclose(a_np, a_t.numpy(), atol=1e-12)
    for b, t in ((2, 3), (3, 3)):
        x = pt[: b * t].reshape(b, t, 50)
        y = pq[: b * t].reshape(b, t, 50)
        with pytest.raises(ValueError):
            S.seed_class_solve_shapes(x, y)
        with pytest.raises(RuntimeError):
            _seed_class_solve_torch(torch.tensor(x), torch.tensor(y))


def test_kl_derivatives_numerically():
    # finite differences of the two KLs along the family against -(1-alpha) Var and alpha Var
    with mpmath.workdps(40):
        lt, lq = _lp(PAIRS[2])
        a = mpmath.mpf("0.37")
        var = S.var_ell(lt, lq, a)

        def k(which, x):
            return S.kl(S.log_q_alpha(lt, lq, x), lt if which == 0 else lq)

        d0 = mpmath.diff(lambda x: k(0, x), a)
        d1 = mpmath.diff(lambda x: k(1, x), a)
        assert abs(d0 + (1 - a) * var) < 1e-25
        assert abs(d1 - a * var) < 1e-25
