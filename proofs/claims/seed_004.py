"""Claims of seed 004 (optimal sampling distribution: full derivation).

Each check takes its subject: the seed's formula (a callable or a sympy expression), its code
(ported line by line in ``proofs/sampling_proofs.py``), a number it prints, or a statement's
parameters; it computes the truth by another route (exact rationals, mpmath at 30-50 digits,
sympy, finite differences, a numerical search, a seeded simulation judged at 5 standard
errors) and decides. Notation as in ``proofs/sampling_proofs.py``: q_alpha ∝ pi_theta^alpha
pi_t^(1-alpha), ell = log(pi_t / pi_theta), Delta(alpha) = KL(q_alpha||pi_theta) -
KL(q_alpha||pi_t), ESS_pi(q) = 1 / sum pi^2 / q (the ESS fraction). Large-vocabulary statistics
use NumPy float64 on the seed's own example generator (section 7.4 ``__main__``: pi =
softmax(randn(V)) for both policies, independently), the only random pairs the seed describes.
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction
from functools import lru_cache

import mpmath
import numpy as np
import sympy as sp

from isreshape.proofs import sampling_proofs as S
from isreshape.proofs import theorems as T
from isreshape.proofs.ledger import (
    FALSE,
    HOLDS,
    HOLDS_WITH_CONDITIONS,
    UNCHECKABLE,
    Variant,
    claim,
    decide,
    uncheckable,
)

MC_SEED = 20261122
NB = "notebooks/seed_004.py"
P = "proofs/sampling_proofs.py::"

# Fixed small examples (probabilities are exact decimal inputs)
E1 = ([0.7, 0.2, 0.1], [0.2, 0.1, 0.7])  # generic three-point pair
E2 = ([0.005, 0.99499999, 1e-8], [0.12, 0.77, 0.11])  # q* loses to pi_t in min-ESS
E_ENT = ([0.999, 0.001], [0.5, 0.5])  # entropy approximation far off
LLM_SCALE, LLM_V = 6.0, 50_000  # LLM-like logits for the eps = 1e-10 counterexample


def _n(x, d: int = 4) -> str:
    return mpmath.nstr(x, d)


def _lp(pair):
    return S.log_probs(pair[0]), S.log_probs(pair[1])


def _fr(t) -> str:
    """A tuple of exact rationals as printed in evidence: (1/2, 3/10, 0)."""
    return "(" + ", ".join(str(x) for x in t) + ")"


# ----------------------------------------------------------------------------------------
# shared, cached computations
# ----------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _seed_example() -> dict:
    """The seed's 7.4 example generator, 100 pairs at V = 10 000: exact alpha* (float64
    Newton), the seed's code (float64 and float32 class), ESS, acceptance, entropy rule."""
    lt, lq = S.seed_example_pairs(100, 10_000, MC_SEED)
    a = S.alpha_star_np(lt, lq, 40)
    lqa = S.log_q_alpha_np(lt, lq, a)
    ess_th, ess_t = S.ess_fraction_np(lt, lqa), S.ess_fraction_np(lq, lqa)
    pt, pq = np.exp(lt), np.exp(lq)
    a64, it64, _ = S.solve_kl_symmetry_seed_code(pt, pq)
    q64 = S.geometric_mean_seed_code(pt, pq, a64)
    lq64 = np.log(q64)
    kth, kt = S.kl_np(lq64, lt), S.kl_np(lq64, lq)
    info32 = S.seed_class_diagnostics(pt, pq)
    a_ent = S.entropy_np(lt) / (S.entropy_np(lt) + S.entropy_np(lq))
    return {
        "alpha": a,
        "ess_theta": ess_th,
        "ess_t": ess_t,
        "ess_t_at_theta": S.ess_fraction_np(lq, lt),
        "ess_theta_at_t": S.ess_fraction_np(lt, lq),
        "ratio": ess_th / ess_t,
        "accept": np.minimum(pt, np.exp(lqa)).sum(axis=-1),
        "ent_err": np.abs(a_ent / a - 1),
        "seed64_alpha": a64,
        "seed64_iters": it64,
        "seed64_symerr": np.abs(kth - kt) / (kth + kt),
        "seed32": info32,
        "alpha_ess": S.alpha_ess_balance_np(lt, lq, 40),
    }


@lru_cache(maxsize=1)
def _asym_example() -> dict:
    """Same generator but pi_t's logits scaled by 3 (a sharper target), 50 pairs, V = 10 000."""
    lt, lq = S.seed_example_pairs(50, 10_000, MC_SEED + 1, scale_t=3.0)
    a = S.alpha_star_np(lt, lq, 40)
    lqa = S.log_q_alpha_np(lt, lq, a)
    ratio = S.ess_fraction_np(lt, lqa) / S.ess_fraction_np(lq, lqa)
    a_ent = S.entropy_np(lt) / (S.entropy_np(lt) + S.entropy_np(lq))
    return {
        "alpha": a,
        "ratio": ratio,
        "accept": np.minimum(np.exp(lt), np.exp(lqa)).sum(axis=-1),
        "ent_err": np.abs(a_ent / a - 1),
        "alpha_ess": S.alpha_ess_balance_np(lt, lq, 40),
    }


@lru_cache(maxsize=1)
def _e1() -> dict:
    with mpmath.workdps(50):
        lt, lq = _lp(E1)
        a = S.alpha_star(lt, lq)
        lqa = S.log_q_alpha(lt, lq, a)
        return {
            "lt": lt,
            "lq": lq,
            "alpha": a,
            "lqa": lqa,
            "alpha_ess": S.alpha_ess_balance(lt, lq),
            "alpha_ent": S.alpha_entropy(lt, lq),
            "ess_th": S.ess_fraction(lt, lqa),
            "ess_t": S.ess_fraction(lq, lqa),
            "kl_th": S.kl(lqa, lt),
            "kl_t": S.kl(lqa, lq),
        }


@lru_cache(maxsize=1)
def _ess_front_dominates_qstar() -> tuple:
    """Search the ESS Pareto front q ∝ sqrt(b pi_theta^2 + (1-b) pi_t^2) for a member that
    beats q* of E1 in both ESS at once. Returns (b, ESS_theta, ESS_t) of the best margin and
    the number of grid members searched."""
    d = _e1()
    with mpmath.workdps(30):
        best, n_grid = None, 0
        for k in range(1, 200):
            n_grid += 1
            b = mpmath.mpf(k) / 200
            lqb = S.ess_front_member(d["lt"], d["lq"], b)
            eth, et = S.ess_fraction(d["lt"], lqb), S.ess_fraction(d["lq"], lqb)
            margin = min(eth - d["ess_th"], et - d["ess_t"])
            if best is None or margin > best[0]:
                best = (margin, b, eth, et)
        return best[1:] + (n_grid,)


@lru_cache(maxsize=1)
def _speculative_e1() -> dict:
    d = _e1()
    with mpmath.workdps(50):
        pt = S.probs(d["lt"])
        q = S.probs(d["lqa"])
        out_seed = S.speculative_output_seed(pt, q)
        out_res = S.speculative_output_residual(pt, q)
        return {
            "pt": pt,
            "q": q,
            "seed": out_seed,
            "res": out_res,
            "tv_seed": S.tv(out_seed, q),
            "tv_res": S.tv(out_res, q),
            "accept": S.acceptance_rate(pt, q),
        }


# ----------------------------------------------------------------------------------------
# Part 1: the problem
# ----------------------------------------------------------------------------------------


def _half_unit(printed: str) -> Fraction:
    """Half a unit in the last printed significant digit of a decimal string ('0.001' ->
    0.0005): the largest rounding error a correctly rounded printed value can carry."""
    digits = printed.split(".")[1] if "." in printed else ""
    return Fraction(1, 2) * Fraction(1, 10 ** len(digits))


@claim(
    "004-1.2-a",
    "1.2",
    "With pi_theta(y) = 0.001 and pi_t(y) = 0.9, the importance weight pi_theta/q = 0.001/0.9 "
    "is approximately 0.001.",
    HOLDS,
    subject={"pi_theta": "0.001", "q": "0.9", "printed": "0.001"},
    counter_case=Variant(
        "the weight is approximately 0.0009 (0.001 x 0.9: multiplied by q instead of divided)",
        {"pi_theta": "0.001", "q": "0.9", "printed": "0.0009"},
    ),
    method="exhaustive",
)
def _c_1_2_a(s):
    w = Fraction(s["pi_theta"]) / Fraction(s["q"])
    printed = Fraction(s["printed"])
    gap = abs(w - printed)
    # "≈ printed" read as: the printed decimal is the exact weight rounded to the digits shown
    half = _half_unit(s["printed"])
    return decide(
        gap <= half,
        f"{s['pi_theta']}/{s['q']} = {float(w):.6g}; printed {s['printed']}: gap {float(gap):.3g} "
        f"vs half a unit of the last printed digit {float(half):g} (exact rationals; relative "
        f"gap {float(gap / w):.1%})",
        numbers={"weight": w, "printed": printed, "gap": gap, "half_unit_tol": half},
    )


def _softmax_grad_rows(p):
    """Row y: grad_theta log softmax(theta)(y) = e_y - p (softmax policy with logits theta)."""
    return np.eye(len(p)) - p


def _fd_grad(fun, theta, h=1e-5):
    """Central finite differences (error O(h^2) ~ 1e-10 plus rounding eps/h ~ 2e-11)."""
    g = np.zeros(len(theta))
    for i in range(len(theta)):
        e = np.zeros(len(theta))
        e[i] = h
        g[i] = (fun(theta + e) - fun(theta - e)) / (2 * h)
    return g


def _logsoftmax(x):
    return x - np.log(np.exp(x - x.max()).sum()) - x.max()


FD_TOL = 1e-8  # central differences at h = 1e-5: truncation ~h^2 |f'''| ~ 1e-10, rounding ~1e-11
# as seed 001's: the pinned finite-difference errors are rounding noise that differs across NumPy
# builds (004-1.4-b: 1.12e-11 pinned, 1.52e-11 with NumPy 2.4.6); the verdict compares them with
# FD_TOL, 1000 times larger. The tolerance is pinned among the numbers (a change needs a re-pin)
FD_EVIDENCE = (1e-9, 1e-9, "central-difference rounding noise ~1e-11 differs across NumPy builds")
FD_PINNED = dict(zip(("snapshot_tol_rel", "snapshot_tol_abs"), FD_EVIDENCE))


def _sft_gradient_printed(pt, ptarget, A):
    """Section 1.4 as printed: SFT gradient = E_{pi_t}[grad log pi_theta(y) A(y)]."""
    return (ptarget * A) @ _softmax_grad_rows(pt)


def _sft_gradient_no_a(pt, ptarget, A):
    return ptarget @ _softmax_grad_rows(pt)


@claim(
    "004-1.4-a",
    "1.4",
    "The SFT gradient is E_{pi_t}[grad log pi_theta(y) * A(y)] (the gradient of the printed "
    "SFT objective max E_{pi_t}[log pi_theta]).",
    FALSE,
    subject=_sft_gradient_printed,
    correction=Variant(
        "The gradient of the SFT objective E_{pi_t}[log pi_theta(y)] is E_{pi_t}[grad log "
        "pi_theta(y)] (no advantage A; an A-weighted version belongs to E_{pi_t}[A log pi_theta])",
        _sft_gradient_no_a,
    ),
    method="counterexample",
)
def _c_1_4_a(grad_formula):
    rng = np.random.default_rng(MC_SEED + 10)
    worst = 0.0
    for _ in range(5):
        th = rng.normal(size=4)
        pt = np.exp(_logsoftmax(th))
        ptarget = rng.dirichlet(np.ones(4))
        A = rng.normal(size=4)
        fd = _fd_grad(lambda x, w=ptarget: float(w @ _logsoftmax(x)), th)
        worst = max(worst, float(np.max(np.abs(grad_formula(pt, ptarget, A) - fd))))
    return decide(
        worst < FD_TOL,
        f"softmax policy, 5 seeded (theta, pi_t, A) on 4 points: max |formula - finite-difference "
        f"gradient of E_pi_t[log pi_theta]| = {worst:.2e} (tolerance {FD_TOL:g}: central "
        "differences at h = 1e-5)",
        numbers={"max_abs_diff": worst, "fd_tol": FD_TOL},
    )


def _bias_printed(pt, ptarget, A):
    """Section 1.4: bias = E_{pi_t}[(pi_theta/pi_t - 1) grad log pi_theta A], the expectation
    under pi_t summed over pi_t's support."""
    m = ptarget > 0
    g = _softmax_grad_rows(pt)
    return (ptarget[m] * (pt[m] / ptarget[m] - 1) * A[m]) @ g[m]


def _bias_flipped(pt, ptarget, A):
    return -_bias_printed(pt, ptarget, A)


def _bias_cases(fn):
    """max |fn - (true - SFT)| with both gradients by finite differences of the objectives
    J(theta) = sum softmax(theta) A (on-policy) and sum pi_t A log softmax(theta) (SFT, 1.4)."""
    rng = np.random.default_rng(MC_SEED + 11)
    full, cut = 0.0, 0.0
    for k in range(6):
        th = rng.normal(size=5)
        pt = np.exp(_logsoftmax(th))
        ptarget = rng.dirichlet(np.ones(5))
        if k >= 3:  # pi_t = 0 on a point where pi_theta > 0
            ptarget[0] = 0.0
            ptarget /= ptarget.sum()
        A = rng.normal(size=5)
        true = _fd_grad(lambda x, a=A: float(np.exp(_logsoftmax(x)) @ a), th)
        sft = _fd_grad(lambda x, w=ptarget * A: float(w @ _logsoftmax(x)), th)
        err = float(np.max(np.abs(fn(pt, ptarget, A) - (true - sft))))
        if k < 3:
            full = max(full, err)
        else:
            cut = max(cut, err)
    return full, cut


@claim(
    "004-1.4-b",
    "1.4",
    "The on-policy gradient minus the SFT gradient equals "
    "E_{pi_t}[(pi_theta/pi_t - 1) grad log pi_theta(y) A(y)].",
    HOLDS_WITH_CONDITIONS,
    subject=_bias_printed,
    counter_case=Variant(
        "the difference is E_{pi_t}[(1 - pi_theta/pi_t) grad log pi_theta A] (sign flipped)",
        _bias_flipped,
    ),
    method="sampled",
    evidence_tolerance=FD_EVIDENCE,
)
def _c_1_4_b(bias):
    full, cut = _bias_cases(bias)
    return decide(
        full < FD_TOL,
        "true gradient and SFT gradient by finite differences of their objectives (softmax "
        f"policy, 5 points, seeded): pi_t > 0 everywhere: max |formula - (true - SFT)| = "
        f"{full:.2e}; pi_t(y0) = 0 < pi_theta(y0): {cut:.2e} (tolerance {FD_TOL:g})",
        numbers={
            "max_err_full_support": full,
            "max_err_pi_t_zero": cut,
            "fd_tol": FD_TOL,
            **FD_PINNED,
        },
        conditions="pi_t > 0 wherever pi_theta > 0 (otherwise E_pi_t misses the on-policy "
        "gradient's mass there); 'SFT gradient' is the 1.4 one that includes A",
        ok_without_conditions=cut < FD_TOL,
    )


def _is_weight(pi, q):
    return pi / q


def _is_weight_flipped(pi, q):
    return q / pi


def _is_cases(weight):
    """Exact rationals: E_q[w f] over q's support vs E_pi[f]; returns (max gap with q > 0
    wherever pi f != 0, max gap where q misses part of pi's support, sum of the supported
    cases' gaps: each case moves it, the max only the largest; sum of their targets E_pi f)."""
    F = Fraction
    cases = [
        ((F(1, 2), F(1, 2)), (F(4, 5), F(1, 5)), (F(1), F(1))),
        ((F(1, 5), F(3, 10), F(1, 2)), (F(1, 3), F(1, 3), F(1, 3)), (F(2), F(-1), F(3))),
        ((F(7, 10), F(2, 10), F(1, 10)), (F(1, 10), F(2, 10), F(7, 10)), (F(-1), F(4), F(1))),
    ]
    bad = [((F(1, 2), F(1, 2)), (F(1), F(0)), (F(1), F(1)))]

    def gap(pi, q, f):
        lhs = sum(qq * weight(p, qq) * ff for p, qq, ff in zip(pi, q, f) if qq > 0)
        return abs(lhs - sum(p * ff for p, ff in zip(pi, f)))

    gaps = [gap(*c) for c in cases]
    target = sum(sum(p * ff for p, ff in zip(pi, f)) for pi, _, f in cases)
    return max(gaps), max(gap(*c) for c in bad), sum(gaps), target


@claim(
    "004-1.4-c",
    "1.4",
    "Importance sampling is unbiased: E_q[(pi/q) f] = E_pi[f] for any q.",
    HOLDS_WITH_CONDITIONS,
    subject=_is_weight,
    counter_case=Variant("E_q[(q/pi) f] = E_pi[f] (the weight inverted)", _is_weight_flipped),
    method="sampled",
)
def _c_1_4_c(weight):
    ok_gap, bad_gap, sum_gap, target = _is_cases(weight)
    return decide(
        ok_gap == 0,
        f"exact rationals, 3 (pi, q, f) with q > 0 on pi's support: max |E_q[w f] - E_pi f| = "
        f"{float(ok_gap):g} (sum over the 3: {float(sum_gap):g}); pi = (1/2, 1/2), q = (1, 0), "
        f"f = 1: {float(bad_gap):g}",
        numbers={
            "max_gap_supported": ok_gap,
            "gap_unsupported": bad_gap,
            "sum_gap_supported": sum_gap,
            "sum_targets_supported": target,
        },
        conditions="q(y) > 0 wherever pi(y) f(y) != 0",
        ok_without_conditions=bad_gap == 0,
    )


# ----------------------------------------------------------------------------------------
# Part 2: two information needs
# ----------------------------------------------------------------------------------------


def _cm_weights_printed(p_theta, p_t, q):
    """Section 2.1: w_theta = pi_theta/q (gradient), w_t = pi_t/q (target evaluation)."""
    return p_theta / q, p_t / q


def _cm_weights_swapped(p_theta, p_t, q):
    return p_t / q, p_theta / q


def _change_of_measure(weights):
    """Exact rationals on 3 points: grad J = sum pi_theta (e_y - pi_theta) A (on-policy) vs
    E_q[w_theta (e_y - pi_theta) A]; J = E_pi_t[g] vs E_q[w_t g] for a test function g
    (log pi is irrational; any g tests the change of measure). Returns (gap with q > 0,
    gap with q(y0) = 0, the design as printed, q's mass, the sum of the gaps with q > 0 and
    the L1 size of the targets |grad J|_1 + |J|)."""
    F = Fraction
    pth, pt = (F(1, 2), F(3, 10), F(1, 5)), (F(1, 5), F(3, 10), F(1, 2))
    A, g = (F(1), F(-2), F(3)), (F(-1), F(2), F(5))

    def gap(q):
        wth, wt = zip(*(weights(a, b, c) if c > 0 else (0, 0) for a, b, c in zip(pth, pt, q)))
        gaps, target = [], F(0)
        for j in range(3):  # component j of grad log softmax(y) = 1{y = j} - pi_theta(j)
            comp = [(1 if y == j else 0) - pth[j] for y in range(3)]
            true = sum(p * c * a for p, c, a in zip(pth, comp, A))
            est = sum(qq * w * c * a for qq, w, c, a in zip(q, wth, comp, A))
            gaps.append(abs(true - est))
            target += abs(true)
        true_j = sum(p * x for p, x in zip(pt, g))
        est_j = sum(qq * w * x for qq, w, x in zip(q, wt, g))
        gaps.append(abs(true_j - est_j))
        # the sum moves with every component, the max not; target: |grad J|_1 + |J|
        return max(gaps), sum(gaps), target + abs(true_j)

    q_ok, q_bad = (F(1, 3), F(1, 3), F(1, 3)), (F(0), F(1, 2), F(1, 2))
    design = (
        f"pi_theta = {_fr(pth)}, pi_t = {_fr(pt)}, A = {_fr(A)}, g = {_fr(g)}, softmax score",
        _fr(q_ok),
        _fr(q_bad),
    )
    (ok_max, ok_sum, target), (bad_max, _, _) = gap(q_ok), gap(q_bad)
    return ok_max, bad_max, design, sum(q_ok), ok_sum, target


@claim(
    "004-2.1-a",
    "2.1",
    "grad J = E_q[(pi_theta/q) grad log pi_theta A] and J(pi) = E_q[(pi_t/q) log pi] for a "
    "sampling distribution q.",
    HOLDS_WITH_CONDITIONS,
    subject=_cm_weights_printed,
    counter_case=Variant(
        "the weights swapped: pi_t/q for the gradient and pi_theta/q for J",
        _cm_weights_swapped,
    ),
    method="sampled",
)
def _c_2_1_a(weights):
    ok_gap, bad_gap, (design, q_ok, q_bad), q_mass, sum_gap, target = _change_of_measure(weights)
    return decide(
        ok_gap == 0,
        f"exact rationals, {design}: q = {q_ok}: max gap {float(ok_gap):g}; q = {q_bad}: "
        f"{float(bad_gap):.4g}",
        numbers={
            "max_gap_supported": ok_gap,
            "sum_gap_supported": sum_gap,
            "gap_unsupported": bad_gap,
            "q_mass": q_mass,
            "target_l1": target,
        },
        conditions="q > 0 wherever pi_theta A != 0 (resp. pi_t log pi != 0)",
        ok_without_conditions=bad_gap == 0,
    )


def _ess_frac(pi, q):
    """1 / sum pi^2 / q (section 4.5), exact on rationals."""
    return 1 / sum(p * p / qq for p, qq in zip(pi, q) if qq > 0)


def _max_min_ess(pth, pt):
    """max over q of min(ESS_theta(q), ESS_t(q)): on the ESS front q ∝ sqrt(b pth^2 +
    (1-b) pt^2), bisection in b for the balance (mpmath, 30 digits), plus 2000 seeded random q
    that must not beat it. Returns (max-min, best random)."""
    with mpmath.workdps(30):
        pth = [mpmath.mpf(x) for x in pth]
        pt = [mpmath.mpf(x) for x in pt]

        def member(b):
            r = [mpmath.sqrt(b * x * x + (1 - b) * y * y) for x, y in zip(pth, pt)]
            s = mpmath.fsum(r)
            return [x / s for x in r]

        def ess(pi, q):
            return 1 / mpmath.fsum(p * p / qq for p, qq in zip(pi, q))

        lo, hi = mpmath.mpf(0), mpmath.mpf(1)
        for _ in range(80):
            mid = (lo + hi) / 2
            q = member(mid)
            if ess(pth, q) < ess(pt, q):
                lo = mid
            else:
                hi = mid
        q = member((lo + hi) / 2)
        best = min(ess(pth, q), ess(pt, q))
    rng = np.random.default_rng(MC_SEED + 12)
    qs = rng.dirichlet(np.ones(len(pth)), size=2000)
    a, b = np.array([float(x) for x in pth]), np.array([float(x) for x in pt])
    rand = float(np.max(np.minimum(1 / (a**2 / qs).sum(1), 1 / (b**2 / qs).sum(1))))
    return best, rand


@claim(
    "004-2.2-a",
    "2.2",
    "No single q makes both importance weights ideal: ESS_theta(q) = ESS_t(q) = 1 only if "
    "pi_theta = pi_t.",
    HOLDS,
    subject=[E1, ([0.5, 0.3, 0.2], [0.45, 0.35, 0.2])],
    counter_case=Variant(
        "the same for a pair with pi_theta = pi_t (the 'only if' condition violated)",
        [E1, ([0.5, 0.3, 0.2], [0.5, 0.3, 0.2])],
    ),
    method="sampled",
)
def _c_2_2_a(pairs):
    rows, worst = [], 0.0
    for pth, pt in pairs:
        best, rand = _max_min_ess(pth, pt)
        worst = max(worst, float(best))
        rows.append(
            f"{pth} vs {pt}: max_q min ESS = {_n(best, 8)} (best of 2000 random q {rand:.4f})"
        )
    tol = 1e-20  # 30-digit arithmetic; a pair with pi_theta = pi_t reaches 1 to that precision
    return decide(
        worst < 1 - tol,
        "ESS_pi(q) = 1 / (1 + chi^2(pi||q)) is 1 only at q = pi; the best common q (balanced "
        "member of the ESS front) gives " + "; ".join(rows),
        numbers={"worst_max_min_ess": worst, "tol": tol},
    )


# ----------------------------------------------------------------------------------------
# Part 3-4: information, Fisher information, ESS
# ----------------------------------------------------------------------------------------

PI_H, F_12 = (Fraction(1, 2), Fraction(1, 2)), (Fraction(1), Fraction(2))


def _is_var(pi, q, f):
    """Per-sample variance of w f under q, centred form sum q (pi f / q - mu)^2 (exact)."""
    mu = sum(p * x for p, x in zip(pi, f))
    return sum(qq * (p * x / qq - mu) ** 2 for p, qq, x in zip(pi, q, f) if qq > 0)


def _grid_min_var(pi, f, n=2000):
    """Minimum over the grid q = (k/n, 1 - k/n) of the IS variance (two points, exact)."""
    return min(_is_var(pi, (Fraction(k, n), 1 - Fraction(k, n)), f) for k in range(1, n))


def _proposal_is_pi(pi, f):
    return pi


def _proposal_abs_f(pi, f):
    z = sum(p * abs(x) for p, x in zip(pi, f))
    return tuple(p * abs(x) / z for p, x in zip(pi, f))


@lru_cache(maxsize=1)
def _grid_min_var_12():
    return _grid_min_var(PI_H, F_12)


@claim(
    "004-3.2-a",
    "3.2",
    "Sampling from q = pi (w = 1) is the most efficient way to estimate E_pi[f] by importance "
    "sampling.",
    FALSE,
    subject=_proposal_is_pi,
    correction=Variant(
        "The variance-minimising proposal is q ∝ pi |f| (zero variance for f of one sign), not "
        "q = pi; q = pi is best only for the estimate of a constant",
        _proposal_abs_f,
    ),
    method="counterexample",
)
def _c_3_2_a(proposal):
    q = proposal(PI_H, F_12)
    v = _is_var(PI_H, q, F_12)
    gmin = _grid_min_var_12()
    return decide(
        v <= gmin,
        f"pi = (1/2, 1/2), f = (1, 2), exact rationals: the proposal {tuple(str(x) for x in q)} "
        f"has per-sample variance {float(v):.4g}; the minimum over the grid q_1 = k/2000 is "
        f"{float(gmin):.4g} (no tolerance: exact arithmetic)",
        numbers={"variance": v, "grid_min_variance": gmin},
    )


def _bern_cases():
    """Bernoulli(p), n = 2 draws, exact: Fisher information of the sample (enumeration of the
    4 outcomes) and the variance of every unbiased estimator T (T(0,0) = 0, T(1,1) = 1,
    T(0,1) = c, T(1,0) = 1 - c: the unbiased ones), c on a grid; plus the biased constant 1/2."""
    F = Fraction
    out = []
    for p in (F(1, 5), F(1, 2), F(7, 10)):
        info = F(0)
        for x in ((0, 0), (0, 1), (1, 0), (1, 1)):
            prob = F(1)
            score = F(0)
            for xi in x:
                prob *= p if xi else 1 - p
                score += 1 / p if xi else -1 / (1 - p)
            info += prob * score**2
        for k in range(0, 11):
            c = F(k, 10)
            t = {(0, 0): F(0), (0, 1): c, (1, 0): 1 - c, (1, 1): F(1)}
            probs = {x: (p if x[0] else 1 - p) * (p if x[1] else 1 - p) for x in t}
            mean = sum(probs[x] * t[x] for x in t)
            var = sum(probs[x] * (t[x] - mean) ** 2 for x in t)
            out.append((p, info, True, var))
        out.append((p, info, False, F(0)))  # the constant estimator 1/2 (biased)
    return out


def _cr_bound(info):
    return 1 / info


def _cr_bound_doubled(info):
    return 2 / info


@claim(
    "004-4.1-a",
    "4.1",
    "Cramer-Rao: every unbiased estimator has Var >= 1 / I(theta), I = E[(d/dtheta log p)^2].",
    HOLDS_WITH_CONDITIONS,
    links=(P + "bernoulli_fisher",),
    subject=_cr_bound,
    counter_case=Variant("every unbiased estimator has Var >= 2 / I(theta)", _cr_bound_doubled),
    method="sampled",
)
def _c_4_1_a(bound):
    cases = _bern_cases()
    unb = [(v, bound(i)) for p, i, u, v in cases if u]
    biased = [(v, bound(i)) for p, i, u, v in cases if not u]
    margin = min(v - b for v, b in unb)
    margin_b = min(v - b for v, b in biased)
    # every case moves the total (the min only the tightest): pins the p values and c grid
    total = sum(v - b for v, b in unb)
    info, resid = S.bernoulli_fisher()
    return decide(
        margin >= 0,
        f"Bernoulli(p), n = 2, p in (1/5, 1/2, 7/10), exact rationals: I of the sample by "
        f"enumeration (sympy per draw: {info}); over the 33 unbiased estimators min (Var - "
        f"bound) = {float(margin):.4g} (0 = attained by the sample mean); the biased constant "
        f"1/2: Var - bound = {float(margin_b):.4g}",
        numbers={
            "min_margin_unbiased": margin,
            "min_margin_biased": margin_b,
            "sum_margin_unbiased": total,
            "unbiased_estimators": len(unb),
        },
        conditions="unbiased estimators and the usual regularity (support independent of "
        "theta); I(theta) is the information of the whole sample (N I_1 for N iid draws)",
        ok_without_conditions=margin_b >= 0,
    )


def _var_of_mean_enum(pi, q, f, n):
    """Exact variance of (1/n) sum w f over all q-draws of n iid points (enumeration)."""
    vals = [p * x / qq for p, qq, x in zip(pi, q, f)]
    mean, second = Fraction(0), Fraction(0)
    for idx in itertools.product(range(len(q)), repeat=n):
        prob = Fraction(1)
        for i in idx:
            prob *= q[i]
        m = sum(vals[i] for i in idx) / n
        mean += prob * m
        second += prob * m * m
    return second - mean * mean


def _var_over_n(var1, n):
    return var1 / n


def _var_no_n(var1, n):
    return var1


@claim(
    "004-4.2-a",
    "4.2",
    "The IS estimate mu_hat = (1/N) sum w(y_i) f(y_i), y_i ~ q iid, has variance Var_q[w f] / N.",
    HOLDS,
    subject=_var_over_n,
    counter_case=Variant("Var(mu_hat) = Var_q[w f] (the 1/N dropped)", _var_no_n),
    method="sampled",
)
def _c_4_2_a(formula):
    F = Fraction
    pi, q, f = (F(1, 2), F(3, 10), F(1, 5)), (F(1, 5), F(3, 10), F(1, 2)), (F(1), F(-2), F(3))
    worst = total = F(0)
    for n in (1, 2, 3, 4):
        exact = _var_of_mean_enum(pi, q, f, n)
        total += exact  # each N moves it: pins the N checked
        worst = max(worst, abs(formula(_is_var(pi, q, f), n) - exact))
    return decide(
        worst == 0,
        "pi = (1/2, 3/10, 1/5), q = (1/5, 3/10, 1/2), f = (1, -2, 3), exact enumeration of all "
        f"3^N draws for N = 1..4: max |formula - Var(mu_hat)| = {float(worst):g}",
        numbers={"max_abs_diff": worst, "var_single": _is_var(pi, q, f), "sum_exact_var": total},
    )


def _ess_42(pi, q, n):
    """Section 4.2: N / E_q[w^2], E_q over q's support."""
    return n / sum(qq * (p / qq) ** 2 for p, qq in zip(pi, q) if qq > 0)


def _ess_42_inverted(pi, q, n):
    return n * sum(qq * (p / qq) ** 2 for p, qq in zip(pi, q) if qq > 0)


@claim(
    "004-4.2-b",
    "4.2",
    "ESS_pi(q) = N / E_q[w^2] lies in [0, N], with ESS = N when q = pi.",
    HOLDS_WITH_CONDITIONS,
    links=(P + "ess_fraction",),
    subject=_ess_42,
    counter_case=Variant("ESS = N E_q[w^2]", _ess_42_inverted),
    method="sampled",
)
def _c_4_2_b(ess):
    F = Fraction
    rng = np.random.default_rng(MC_SEED + 13)
    n, n_pairs, n_pts, w_max = 100, 50, 4, 19
    worst_excess = None
    for _ in range(n_pairs):
        k = rng.integers(1, w_max + 1, size=n_pts)
        pi = tuple(F(int(x), int(k.sum())) for x in k)
        j = rng.integers(1, w_max + 1, size=n_pts)
        q = tuple(F(int(x), int(j.sum())) for x in j)
        e = ess(pi, q, n)
        excess = max(e - n, -e)  # > 0 iff outside [0, N]
        worst_excess = excess if worst_excess is None else max(worst_excess, excess)
    at_pi = ess((F(1, 5), F(3, 10), F(1, 2)), (F(1, 5), F(3, 10), F(1, 2)), n)
    bad_pi, bad_q = (F(1, 2), F(1, 2)), (F(1), F(0))
    bad = ess(bad_pi, bad_q, n)
    return decide(
        worst_excess <= 0 and at_pi == n,
        f"N = {n}, {n_pairs} seeded full-support rational pairs on {n_pts} points (weights "
        f"1 to {w_max}): max distance outside "
        f"[0, N] {float(max(worst_excess, 0)):g} (largest ESS - N {float(worst_excess):.4g}); "
        f"q = pi gives {float(at_pi):g}; pi = {_fr(bad_pi)}, q = {_fr(bad_q)}: {float(bad):g} > N",
        numbers={
            "worst_excess": worst_excess,
            "ess_at_pi": at_pi,
            "ess_missing_support": bad,
            "pi_mass_missing_support": sum(bad_pi),
            "pairs": n_pairs,
            "points": n_pts,
            "weight_max": w_max,
        },
        conditions="q > 0 on the support of pi (then E_q[w^2] >= (E_q w)^2 = 1); otherwise the "
        "formula can exceed N",
        ok_without_conditions=bad <= n,
    )


def _equiv_fraction_ess(pi, q, f):
    """Section 4.2's reading: the equivalent fraction of pi-draws is ESS/N = 1/sum pi^2/q."""
    return _ess_frac(pi, q)


def _equiv_fraction_var(pi, q, f):
    mu = sum(p * x for p, x in zip(pi, f))
    var_pi = sum(p * (x - mu) ** 2 for p, x in zip(pi, f))
    return var_pi / _is_var(pi, q, f)


@claim(
    "004-4.2-c",
    "4.2",
    "N draws from q are equivalent to ESS_pi(q) draws from pi (same estimator variance).",
    FALSE,
    subject=_equiv_fraction_ess,
    correction=Variant(
        "For estimating E_pi[f], N draws from q equal N Var_pi(f) / Var_q(w f) draws from pi: "
        "the equivalent number depends on f; ESS = N / E_q[w^2] is Kong's f-free heuristic",
        _equiv_fraction_var,
    ),
    method="counterexample",
)
def _c_4_2_c(fraction):
    F = Fraction
    pi, q = (F(1, 2), F(1, 2)), (F(4, 5), F(1, 5))
    rows, worst = [], F(0)
    for name, f in (("1{y=0}", (F(1), F(0))), ("1{y=1}", (F(0), F(1))), ("y", (F(0), F(1)))):
        n = 2
        var_is = _var_of_mean_enum(pi, q, f, n)  # N = 2 draws from q, enumerated
        mu = sum(p * x for p, x in zip(pi, f))
        var_pi1 = sum(p * (x - mu) ** 2 for p, x in zip(pi, f))
        m_equiv = var_pi1 / var_is  # M pi-draws with Var_pi f / M = Var(IS mean)
        got = fraction(pi, q, f)
        worst = max(worst, abs(got - m_equiv / n))
        rows.append(
            f"f = {name}: equivalent fraction {float(m_equiv / n):.4g}, formula {float(got):.4g}"
        )
    return decide(
        worst == 0,
        "pi = (1/2, 1/2), q = (4/5, 1/5), exact enumeration of N = 2 draws: " + "; ".join(rows),
        numbers={"max_abs_diff": worst},
    )


def _predictor_inv_ess(pi, q, f):
    """Theorem 1 (4.3): estimator variance ∝ 1/ESS_pi(q) = sum pi^2 / q, whatever f."""
    return 1 / _ess_frac(pi, q)


def _predictor_var(pi, q, f):
    mu = sum(p * x for p, x in zip(pi, f))
    return sum(p * p * x * x / qq for p, qq, x in zip(pi, q, f)) - mu * mu


@claim(
    "004-4.3-a",
    "4.3",
    "Theorem 1: the Fisher information of importance sampling is proportional to the ESS, "
    "I_pi(q) ∝ ESS_pi(q) (estimator variance ∝ 1/ESS).",
    FALSE,
    subject=_predictor_inv_ess,
    correction=Variant(
        "The variance of the IS estimate of E_pi[f] is Var_q(w f) / N = (sum pi^2 f^2 / q - "
        "(E_pi f)^2) / N: it depends on f, and is not ∝ 1/ESS (the seed names no parameter "
        "whose Fisher information this would be)",
        _predictor_var,
    ),
    method="counterexample",
)
def _c_4_3_a(predictor):
    F = Fraction
    pi = (F(1, 2), F(1, 2))
    qs = [(F(4, 5), F(1, 5)), (F(3, 10), F(7, 10)), (F(1, 2), F(1, 2)), (F(1, 10), F(9, 10))]
    worst = total = F(0)
    for f in ((F(1), F(0)), (F(1), F(2)), (F(3), F(-1))):
        ratios = [_is_var(pi, q, f) / predictor(pi, q, f) for q in qs]
        worst = max(worst, max(ratios) / min(ratios) - 1)
        total += max(ratios) / min(ratios) - 1  # each f moves it, the max only the largest
    return decide(
        worst == 0,
        "pi = (1/2, 1/2), 4 proposals q, f in {1{y=0}, (1, 2), (3, -1)}, exact rationals: "
        "per-sample variance sum q (w f - mu)^2 divided by the predictor must be constant in q; "
        f"max spread max/min - 1 = {float(worst):.4g}",
        numbers={"max_ratio_spread": worst, "sum_ratio_spread": total},
    )


def _crit_ess(pi, q, f):
    return _ess_frac(pi, q)


def _crit_weighted_ess(pi, q, f):
    return 1 / sum(p * p * x * x / qq for p, qq, x in zip(pi, q, f))


@claim(
    "004-4.3-b",
    "4.3",
    "Maximising the ESS is equivalent to minimising the estimation variance.",
    FALSE,
    subject=_crit_ess,
    correction=Variant(
        "Maximising 1 / E_q[(w f)^2] (the ESS of the weighted integrand) is equivalent to "
        "minimising the variance of the estimate of E_pi[f]; the plain ESS only when |f| is "
        "constant",
        _crit_weighted_ess,
    ),
    method="counterexample",
)
def _c_4_3_b(criterion):
    n = 300
    qs = [(Fraction(k, n), 1 - Fraction(k, n)) for k in range(1, n)]
    c = [criterion(PI_H, q, F_12) for q in qs]
    ks_crit = {k for k, v in enumerate(c) if v == max(c)}
    vs = [_is_var(PI_H, q, F_12) for q in qs]
    ks_var = {k for k, v in enumerate(vs) if v == min(vs)}
    k1, k2 = min(ks_crit) + 1, min(ks_var) + 1
    return decide(
        ks_crit == ks_var,
        f"pi = (1/2, 1/2), f = (1, 2), q_1 = k/{n}, exact rationals: the criterion is maximal at "
        f"q_1 = {k1}/{n}, the variance minimal at q_1 = {k2}/{n}",
        numbers={"argmax_criterion_q1": Fraction(k1, n), "argmin_variance_q1": Fraction(k2, n)},
    )


@lru_cache(maxsize=1)
def _log_ess_over_kl_numeric() -> tuple:
    """log ESS_pi(q) / KL(q||pi) on 12 seeded random pairs (V = 2..6, 40 digits) at
    q = pi + t d for t = 1e-3 and 1e-4 (d a seeded zero-sum direction). Returns the ratios
    at t = 1e-4 and the largest change between the two t (the O(t) remainder)."""
    rng = np.random.default_rng(MC_SEED + 14)
    r4, change = [], mpmath.mpf(0)
    with mpmath.workdps(40):
        for _ in range(12):
            v = int(rng.integers(2, 7))
            pi = [mpmath.mpf(float(x)) for x in rng.dirichlet(np.ones(v) * 2)]
            d = rng.normal(size=v)
            d = [mpmath.mpf(float(x)) for x in d - d.mean()]
            scale = min(pi) / max(abs(x) for x in d)
            lp = S.log_probs(pi)
            rs = []
            for t in ("1e-3", "1e-4"):
                tt = mpmath.mpf(t) * scale
                lq = S.log_probs([p + tt * x for p, x in zip(pi, d)])
                rs.append(mpmath.log(S.ess_fraction(lp, lq)) / S.kl(lq, lp))
            r4.append(rs[1])
            change = max(change, abs(rs[0] - rs[1]))
    return r4, change


@claim(
    "004-4.4-a",
    "4.4",
    "Theorem 2: near q = pi, log ESS_pi(q) = -KL(q||pi) + O(KL^2).",
    FALSE,
    links=(P + "log_ess_kl_series",),
    subject=-1,
    correction=Variant(
        "Near q = pi, log ESS_pi(q) = -2 KL(q||pi) + O(t^3) (exactly log ESS = -D_2(pi||q), the "
        "Renyi divergence of order 2)",
        -2,
    ),
    method="counterexample",
)
def _c_4_4_a(coef):
    s_ess, s_kl, ratio = S.log_ess_kl_series()
    residual = sp.simplify(ratio - coef)
    return decide(
        residual == 0,
        f"sympy on pi = (p, 1-p), q = (p+t, 1-p-t): log ESS = {s_ess} + O(t^3), KL(q||pi) = "
        f"{s_kl} + O(t^3); limit of the ratio {ratio}, stated coefficient {coef}",
        numbers={"limit_ratio": ratio, "stated_coefficient": coef, "residual": residual},
    )


@claim(
    "004-4.4-c",
    "4.4",
    "The ESS-KL relation log ESS_pi(q) ≈ -KL(q||pi) holds on various distributions near "
    "q = pi (what the cited test_fisher_information.py is said to verify).",
    FALSE,
    subject=-1,
    correction=Variant(
        "On every distribution pair near q = pi, log ESS_pi(q) / KL(q||pi) -> -2",
        -2,
    ),
    method="counterexample",
)
def _c_4_4_c(coef):
    r4, change = _log_ess_over_kl_numeric()
    worst = max(abs(r - coef) for r in r4)
    # the remainder of the ratio is O(t): ten times the change between t = 1e-3 and 1e-4
    # bounds the distance of the t = 1e-4 ratios from their limit
    tol = 10 * change
    return decide(
        worst <= tol,
        f"12 seeded random pairs (V = 2..6, 40 digits) at q = pi + t d, t = 1e-4: log ESS / KL "
        f"in [{_n(min(r4), 6)}, {_n(max(r4), 6)}], max |ratio - ({coef})| = {_n(worst, 3)}; "
        f"tolerance {_n(tol, 3)} = 10 x the largest change from t = 1e-3 (the O(t) remainder)",
        numbers={"max_abs_dev": worst, "tol": tol, "min_ratio": min(r4), "max_ratio": max(r4)},
    )


def _div_kl_q_pi(lp, lq):
    """The seed's reading of 4.4: KL(q || pi)."""
    return (np.exp(lq) * (lq - lp)).sum(axis=-1)


def _div_renyi2(lp, lq):
    """D_2(pi || q) = log sum pi^2 / q."""
    x = 2 * lp - lq
    m = x.max(axis=-1, keepdims=True)
    return m[..., 0] + np.log(np.exp(x - m).sum(axis=-1))


@claim(
    "004-4.4-b",
    "4.4",
    "The ESS decreases as q moves away from pi in KL (the farther q is from pi, the smaller "
    "the ESS).",
    FALSE,
    subject=_div_kl_q_pi,
    correction=Variant(
        "ESS_pi(q) = exp(-D_2(pi||q)) decreases exactly as the Renyi-2 divergence D_2(pi||q) = "
        "log sum pi^2/q grows; it is not a function of KL(q||pi)",
        _div_renyi2,
    ),
    method="counterexample",
)
def _c_4_4_b(div):
    rng = np.random.default_rng(MC_SEED + 15)
    pi, n_q = np.array([0.6, 0.3, 0.1]), 300
    lp = np.log(pi)
    lq = np.log(rng.dirichlet(np.ones(pi.size), size=n_q))
    d = div(lp, lq)
    ess = S.ess_fraction_np(np.broadcast_to(lp, lq.shape), lq)
    # a pair is discordant when q_i is closer in D and also has the smaller ESS; margins of
    # 1e-12 (relative, and absolute for D) keep float64 rounding (~1e-15) from counting
    tol = 1e-12
    closer = d[:, None] < d[None, :] * (1 - tol) - tol
    smaller = ess[:, None] < ess[None, :] * (1 - tol)
    disc = int(np.sum(closer & smaller))
    # ordered pairs decided strictly by each quantity: n(n-1)/2 when no two q tie within the
    # margins (a tie, or a self-pair counted as closer, would show here)
    n_closer, n_smaller = int(np.sum(closer)), int(np.sum(smaller))
    pi_txt = ", ".join(f"{x:g}" for x in pi)
    return decide(
        disc == 0,
        f"pi = ({pi_txt}), {n_q} seeded Dirichlet(1) q: {disc} of {n_q * (n_q - 1) // 2} pairs "
        "where the q closer in the divergence has the smaller ESS (margins 1e-12 relative: "
        f"float64 rounding); pairs strictly ordered by the divergence {n_closer}, by the ESS "
        f"{n_smaller}",
        numbers={
            "discordant_pairs": disc,
            "pairs_ordered_by_divergence": n_closer,
            "pairs_ordered_by_ess": n_smaller,
            "margin_tol": tol,
        },
    )


def _channel_eff(pi, q):
    return 1 / sum(p * p / qq for p, qq in zip(pi, q))


def _channel_eff_wrong(pi, q):
    return 1 / sum(p * p / (qq * qq) for p, qq in zip(pi, q))


@claim(
    "004-4.5-a",
    "4.5",
    "The channel efficiencies ESS_pi_theta(q) = 1/sum pi_theta^2/q and ESS_pi_t(q) = "
    "1/sum pi_t^2/q are the 4.2 ESS divided by N.",
    HOLDS,
    links=(P + "ess_fraction",),
    subject=_channel_eff,
    counter_case=Variant("ESS_pi(q) = 1 / sum pi^2 / q^2", _channel_eff_wrong),
    method="sampled",
)
def _c_4_5_a(eff):
    rng = np.random.default_rng(MC_SEED + 4)
    worst, n = Fraction(0), 1000
    for _ in range(20):
        k, j = rng.integers(1, 30, size=6), rng.integers(1, 30, size=6)
        pi = tuple(Fraction(int(x), int(k.sum())) for x in k)
        q = tuple(Fraction(int(x), int(j.sum())) for x in j)
        worst = max(worst, abs(eff(pi, q) - _ess_42(pi, q, n) / n))
    return decide(
        worst == 0,
        f"20 seeded rational pairs on 6 points: max |formula - (N / E_q[(pi/q)^2]) / N| = "
        f"{float(worst):g} (exact)",
        numbers={"max_abs_diff": worst},
    )


# ----------------------------------------------------------------------------------------
# Part 5: Pareto front
# ----------------------------------------------------------------------------------------


def _geo_mp(lt, lq, a):
    """The geometric family as the seed writes it (log q_alpha, mpmath)."""
    return S.log_q_alpha(lt, lq, a)


def _mix_mp(lt, lq, a):
    """The arithmetic mixture alpha pi_theta + (1 - alpha) pi_t (a wrong family), log."""
    a = mpmath.mpf(a)
    return [mpmath.log(a * mpmath.exp(x) + (1 - a) * mpmath.exp(y)) for x, y in zip(lt, lq)]


def _ess_front_mp(lt, lq, b):
    return S.ess_front_member(lt, lq, b)


def _ess_kkt_residual(lt, lq, lqq):
    """ESS Pareto optimality of q (KKT): 1/ESS_pi(q) = sum pi^2/q is convex in q, so q is on
    the ESS front iff b pi_theta^2 + (1 - b) pi_t^2 = lam q^2 for some b in [0, 1], lam > 0.
    Least squares in (b, lam) over the V equations; returns (relative residual, b)."""
    P = [mpmath.exp(2 * x) for x in lt]
    T = [mpmath.exp(2 * y) for y in lq]
    Q = [mpmath.exp(2 * z) for z in lqq]
    # pt^2 + b (P - T) - lam Q = 0: columns u = P - T, v = -Q, right side -T
    u = [p - t for p, t in zip(P, T)]
    v = [-q for q in Q]
    r = [-t for t in T]
    suu = mpmath.fsum(x * x for x in u)
    suv = mpmath.fsum(x * y for x, y in zip(u, v))
    svv = mpmath.fsum(y * y for y in v)
    sur = mpmath.fsum(x * z for x, z in zip(u, r))
    svr = mpmath.fsum(y * z for y, z in zip(v, r))
    det = suu * svv - suv * suv
    b = (sur * svv - svr * suv) / det
    lam = (suu * svr - suv * sur) / det
    res = mpmath.sqrt(mpmath.fsum((b * x + lam * y - z) ** 2 for x, y, z in zip(u, v, r)))
    return res / mpmath.sqrt(mpmath.fsum(t * t for t in T)), b


KKT_TOL = mpmath.mpf(10) ** -20  # 30-digit arithmetic over a handful of sums and a 2x2 solve


@claim(
    "004-5.1-a",
    "5.1",
    "Maximising ESS_pi_theta(q) and ESS_pi_t(q) is equivalent to minimising KL(q||pi_theta) "
    "and KL(q||pi_t) (same trade-off, same Pareto front).",
    FALSE,
    links=(P + "ess_front_stationarity", P + "ess_front_member"),
    subject=_geo_mp,
    correction=Variant(
        "The Pareto front of (ESS_theta, ESS_t) is q ∝ sqrt(b pi_theta^2 + (1 - b) pi_t^2), "
        "b in [0, 1], not the geometric (KL) family: maximising the two ESS is a different "
        "trade-off from minimising the two KLs",
        _ess_front_mp,
    ),
    method="counterexample",
)
def _c_5_1_a(family):
    d = _e1()
    worst, rows = mpmath.mpf(0), []
    with mpmath.workdps(30):
        dps = mpmath.mp.dps
        for a in (mpmath.mpf("0.25"), mpmath.mpf("0.5"), mpmath.mpf("0.75")):
            res, b = _ess_kkt_residual(d["lt"], d["lq"], family(d["lt"], d["lq"], a))
            bad = res if 0 <= b <= 1 else max(res, mpmath.mpf(1))
            worst = max(worst, bad)
            rows.append(f"member {_n(a, 2)}: residual {_n(res, 3)} (b = {_n(b, 4)})")
    fb, eth, et, n_front = _ess_front_dominates_qstar()
    return decide(
        worst < KKT_TOL,
        f"E1 pi_theta = {E1[0]}, pi_t = {E1[1]}, {dps} digits: ESS-front KKT test (b pi_theta^2 + "
        "(1-b) pi_t^2 ∝ q^2 for some b in [0, 1]) on family members: "
        + "; ".join(rows)
        + f" (tolerance {_n(KKT_TOL, 2)}). The geometric q* (ESS {_n(d['ess_th'])}, "
        f"{_n(d['ess_t'])}) is beaten in both ESS by the ESS-front member b = {_n(fb, 3)} "
        f"({_n(eth)}, {_n(et)}; best of {n_front} front members)",
        numbers={
            "dps": dps,
            "worst_kkt_residual": worst,
            "kkt_tol": KKT_TOL,
            "front_b": fb,
            "front_members_searched": n_front,
        },
    )


def _geo_np(lt, lq, alphas):
    """Geometric family rows, probability space with 0^0 = 1 (endpoints exact on any
    supports); returns log q, shape (len(alphas), V)."""
    a = np.asarray(alphas, dtype=np.float64)[:, None]
    with np.errstate(divide="ignore"):
        w = np.exp(lt)[None, :] ** a * np.exp(lq)[None, :] ** (1 - a)
        return np.log(w / w.sum(axis=1, keepdims=True))


def _family_agreement(family, lt, lq, n=11):
    """max |log q| difference between the family's sympy form (normalised numerically) and
    its NumPy form at n interior alphas, on a full-support pair."""
    al, a, b, L = sp.symbols("alpha a b L", real=True)
    f = sp.lambdify((al, a, b, L), family.sym(al, a, b, L), "numpy")
    alphas = np.linspace(0.05, 0.95, n)
    rows = np.asarray(f(alphas[:, None], lt[None, :], lq[None, :], 0.0), dtype=np.float64)
    m = rows.max(axis=1, keepdims=True)
    rows = rows - m - np.log(np.exp(rows - m).sum(axis=1, keepdims=True))
    return float(np.max(np.abs(rows - family.num(lt, lq, alphas))))


def _mix_np(lt, lq, alphas):
    a = np.asarray(alphas, dtype=np.float64)[:, None]
    with np.errstate(divide="ignore"):
        return np.log(a * np.exp(lt)[None, :] + (1 - a) * np.exp(lq)[None, :])


# the two families as formulas: log q_alpha at one token (a = log pi_theta, b = log pi_t, L the
# normaliser) for the proofs, and the NumPy rows for the searches
_GEO = T.Formula(sym=lambda al, a, b, L: al * a + (1 - al) * b - L, num=_geo_np)
_MIX = T.Formula(
    sym=lambda al, a, b, L: sp.log(al * sp.exp(a) + (1 - al) * sp.exp(b)) - L, num=_mix_np
)
AGREE_TOL = 1e-12  # two float64 routes to the same log q (V = 6): rounding ~1e-15


def _proof_text(proof) -> str:
    if proof.holds:
        return f"{proof.name}: {proof.n_checked()} sympy-checked steps hold (V symbolic)"
    return f"{proof.name} fails at: " + "; ".join(proof.failed_steps())


def _kl_inf(lq, lp):
    """KL(q || p) along the last axis from log-probabilities, +inf where q charges a p-null
    point, 0 log 0 = 0."""
    q = np.exp(lq)
    with np.errstate(invalid="ignore"):
        terms = np.where(q > 0, q * (lq - lp), 0.0)
    return terms.sum(axis=-1)


DOM_TOL = 1e-12  # float64 KLs of <= 10 terms: rounding ~1e-15; "weakly dominated" up to this


MATCH_STEPS = 60  # bisection halvings of [0, 1]: alpha to 2^-60, KL to ~1e-17


def _undominated_by_matching(family, lt, lq, lqs):
    """Number of test q (rows of lqs) not weakly dominated by the family member that the proof's
    construction picks: the alpha with KL(q_alpha||pi_theta) = KL(q||pi_theta) (bisection;
    KL(q_alpha||pi_theta) decreases in alpha for the families here), alpha = 0 when KL(q||
    pi_theta) is larger than every member's. Dominated: both KLs <= q's (within DOM_TOL;
    inf <= inf). No grid: a member off any grid is matched as exactly as one on it."""
    k_th, k_t = _kl_inf(lqs, lt), _kl_inf(lqs, lq)
    lo, hi = np.zeros(len(lqs)), np.ones(len(lqs))
    for _ in range(MATCH_STEPS):
        mid = (lo + hi) / 2
        above = _kl_inf(family(lt, lq, mid), lt) > k_th  # still farther from pi_theta than q
        lo, hi = np.where(above, mid, lo), np.where(above, hi, mid)
    rows = family(lt, lq, hi)
    m_th, m_t = _kl_inf(rows, lt), _kl_inf(rows, lq)
    ok_th = (m_th <= k_th + DOM_TOL) | (np.isinf(m_th) & np.isinf(k_th))
    ok_t = (m_t <= k_t + DOM_TOL) | (np.isinf(m_t) & np.isinf(k_t))
    return int(np.sum(~(ok_th & ok_t)))


@lru_cache(maxsize=4)
def _front_pair(kind: str):
    """Seeded test pairs: 'full' (common full support, V = 6) and 'gap' (pi_theta = 0 on one
    point, pi_t = 0 on another; the test q are then zero on both points, so their KLs are
    finite). Returns (lt, lq, log q of the test distributions, the design as printed)."""
    rng = np.random.default_rng(MC_SEED + 12)
    V, conc, geo_a = 6, 0.3, (0.1234567, 0.3770001, 0.6110003, 0.8880007)
    lt = S.log_softmax_np(rng.normal(size=V) * 2)
    lq = S.log_softmax_np(rng.normal(size=V))
    qs = rng.dirichlet(np.ones(V) * conc, size=600)
    if kind == "gap":
        with np.errstate(divide="ignore"):
            pt_, pq_ = np.exp(lt), np.exp(lq)
            pt_[0], pq_[1] = 0.0, 0.0
            lt, lq = np.log(pt_ / pt_.sum()), np.log(pq_ / pq_.sum())
        # test points with finite KLs to both: zero where either policy is (else every point
        # has two infinite KLs and 'dominated' holds for any family: inf <= inf)
        qs = qs.copy()
        qs[:, 0], qs[:, 1] = 0.0, 0.0
        qs = qs / qs.sum(axis=1, keepdims=True)
    # test points: random q plus members of the geometric family built independently
    # (normalised pi_theta^a pi_t^(1-a) by exp/log, a off the search grid)
    with np.errstate(divide="ignore"):
        geo = [np.exp(a * lt + (1 - a) * lq) for a in geo_a]  # 0 < a < 1: exact zeros
        extra = np.array([g / g.sum() for g in geo])
        lqs = np.log(np.vstack([qs, extra]))
    design = (
        f"V = {V} seeded pair, {len(qs)} sparse Dirichlet({conc:g}) q plus {len(extra)} "
        f"geometric members (a = {', '.join(f'{a:.7f}' for a in geo_a)})"
    )
    return lt, lq, lqs, design


@claim(
    "004-5.2-a",
    "5.2",
    "Every q off the Pareto front is dominated by some point of the front (here the front of "
    "Theorem 3, the geometric family).",
    HOLDS,
    links=("proofs/theorems.py::pareto_proof", NB),
    subject=_GEO,
    counter_case=Variant(
        "every q is dominated by a member of the arithmetic mixture alpha pi_theta + (1 - alpha) "
        "pi_t",
        _MIX,
    ),
    method="proof",
)
def _c_5_2_a(family):
    proof = T.pareto_proof(family.sym)
    out, finite = {}, {}
    for kind in ("full", "gap"):
        lt, lq, lqs, design = _front_pair(kind)
        k_th, k_t = _kl_inf(lqs, lt), _kl_inf(lqs, lq)
        out[kind] = _undominated_by_matching(family.num, lt, lq, lqs)
        # the test set's support pattern: test points with a finite KL to each policy
        finite[kind] = int(np.sum(np.isfinite(k_th))) + int(np.sum(np.isfinite(k_t)))
    agree = _family_agreement(family, *_front_pair("full")[:2])
    return decide(
        proof.holds and agree < AGREE_TOL and out["full"] == 0,
        f"{_proof_text(proof)}; the formula's sympy and NumPy forms agree to {agree:.1e} "
        f"(tolerance {AGREE_TOL:g}). Search, {design}: the member with q's KL to pi_theta "
        f"({MATCH_STEPS} bisection steps) fails to weakly dominate q for {out['full']} of "
        f"{len(lqs)} test points (tolerance {DOM_TOL:g}); "
        f"with pi_theta(y0) = 0 and pi_t(y1) = 0 and test points zero there ({finite['gap']} "
        f"finite KLs): {out['gap']}",
        numbers={
            "proof_holds": proof.holds,
            "proof_steps_checked": proof.n_checked(),
            "forms_disagree": agree,
            "agree_tol": AGREE_TOL,
            "undominated_full": out["full"],
            "undominated_gap": out["gap"],
            "finite_test_kls_gap": finite["gap"],
            "tol": DOM_TOL,
            "test_points": len(lqs),
            "match_steps": MATCH_STEPS,
            "vocabulary": lqs.shape[1],
        },
        conditions="common full support (finite KLs)",
        ok_without_conditions=out["gap"] == 0,
    )


def _beaten_members(family, lt, lq, rng, n_alpha, n_pert, eps=0.05):
    """Members q_a (a on a grid) strictly dominated by a local perturbation q exp(eps z)
    (z seeded normal, renormalised): both KLs <= and one < by more than DOM_TOL."""
    alphas = np.linspace(0, 1, n_alpha)
    fam = family(lt, lq, alphas)
    beaten = 0
    for row in fam:
        z = rng.normal(size=(n_pert, len(row)))
        with np.errstate(invalid="ignore"):
            pert = np.where(np.isinf(row), -np.inf, row + eps * z)
        m = pert.max(axis=1, keepdims=True)
        pert = pert - m - np.log(np.exp(pert - m).sum(axis=1, keepdims=True))
        a0, b0 = _kl_inf(row, lt), _kl_inf(row, lq)
        a1, b1 = _kl_inf(pert, lt), _kl_inf(pert, lq)
        better = (a1 <= a0 + 0) & (b1 <= b0) & ((a1 < a0 - DOM_TOL) | (b1 < b0 - DOM_TOL))
        beaten += int(np.any(better))
    return beaten


@claim(
    "004-5.3-a",
    "5.3",
    "Theorem 3: the Pareto front of (KL(q||pi_theta), KL(q||pi_t)) is exactly the geometric "
    "family {q_alpha : alpha in [0, 1]}.",
    HOLDS,
    links=(P + "weighted_sum_residual", "proofs/theorems.py::pareto_proof", NB),
    subject=_GEO,
    counter_case=Variant(
        "the Pareto front is the arithmetic mixture family alpha pi_theta + (1 - alpha) pi_t",
        _MIX,
    ),
    method="proof",
)
def _c_5_3_a(family):
    proof = T.pareto_proof(family.sym)
    out = {}
    n_alpha, n_pert = 21, 300  # family members tested, local perturbations of each
    for kind in ("full", "gap"):
        lt, lq, lqs, design = _front_pair(kind)
        und = _undominated_by_matching(family.num, lt, lq, lqs)
        rng = np.random.default_rng(MC_SEED + 5)
        beaten = _beaten_members(family.num, lt, lq, rng, n_alpha, n_pert)
        out[kind] = (und, beaten)
    (u1, b1), (u2, b2) = out["full"], out["gap"]
    agree = _family_agreement(family, *_front_pair("full")[:2])
    return decide(
        proof.holds and agree < AGREE_TOL and u1 == 0 and b1 == 0,
        f"{_proof_text(proof)}; sympy and NumPy forms agree to {agree:.1e}. Search, "
        f"{design}: {u1} of {len(lqs)} test q not weakly dominated by the member with their KL "
        f"to pi_theta ({MATCH_STEPS} bisection steps), {b1} of {n_alpha} family members strictly beaten by one of {n_pert} local "
        f"perturbations; with pi_theta(y0) = 0, pi_t(y1) = 0 (test q zero there): {u2} and {b2}",
        numbers={
            "proof_holds": proof.holds,
            "proof_steps_checked": proof.n_checked(),
            "forms_disagree": agree,
            "agree_tol": AGREE_TOL,
            "test_points": len(lqs),
            "match_steps": MATCH_STEPS,
            "vocabulary": lqs.shape[1],
            "members_tested": n_alpha,
            "perturbations": n_pert,
            "undominated_full": u1,
            "members_beaten_full": b1,
            "undominated_gap": u2,
            "members_beaten_gap": b2,
        },
        conditions="pi_theta and pi_t with a common full support (finite KLs)",
        ok_without_conditions=u2 == 0 and b2 == 0,
    )


_al, _a, _b, _lq, _C = sp.symbols("alpha a b logq C", real=True)


@claim(
    "004-5.3-b",
    "5.3",
    "Step 1: alpha KL(q||pi_theta) + (1-alpha) KL(q||pi_t) = sum q log q - sum q "
    "[alpha log pi_theta + (1-alpha) log pi_t].",
    HOLDS,
    subject=_lq - (_al * _a + (1 - _al) * _b),
    counter_case=Variant(
        "= sum q log q - sum q [alpha log pi_theta + log pi_t] (the factor 1 - alpha dropped)",
        _lq - (_al * _a + _b),
    ),
    method="symbolic",
)
def _c_5_3_b(integrand):
    r = sp.expand(_al * (_lq - _a) + (1 - _al) * (_lq - _b) - integrand)
    f = sp.lambdify((_al, _a, _b, _lq), integrand, "mpmath")
    d = _e1()
    with mpmath.workdps(30):
        dps = mpmath.mp.dps
        q = S.log_probs([0.3, 0.5, 0.2])
        worst = mpmath.mpf(0)
        for al in (mpmath.mpf("0.2"), mpmath.mpf("0.7")):
            lhs = al * S.kl(q, d["lt"]) + (1 - al) * S.kl(q, d["lq"])
            rhs = mpmath.fsum(
                mpmath.exp(z) * f(al, x, y, z) for x, y, z in zip(d["lt"], d["lq"], q)
            )
            worst = max(worst, abs(lhs - rhs))
    tol = mpmath.mpf(10) ** -25  # 30-digit sums of three terms
    return decide(
        r == 0 and worst < tol,
        f"sympy pointwise residual {r}; E1 with q = (0.3, 0.5, 0.2) at alpha 0.2, 0.7 ({dps} "
        f"digits): max |weighted KL sum - sum q (integrand)| = {_n(worst, 3)}",
        numbers={
            "dps": dps,
            "symbolic_residual_is_zero": r == 0,
            "max_abs_diff": worst,
            "tol": tol,
        },
    )


@claim(
    "004-5.3-c",
    "5.3",
    "Step 3: the Lagrangian stationarity condition gives log q = alpha log pi_theta + "
    "(1-alpha) log pi_t + C, i.e. q = q_alpha.",
    HOLDS,
    links=(P + "kl_stationarity",),
    subject=_al * _a + (1 - _al) * _b + _C,
    counter_case=Variant(
        "log q = alpha log pi_t + (1 - alpha) log pi_theta + C (the weights swapped)",
        _al * _b + (1 - _al) * _a + _C,
    ),
    method="symbolic",
)
def _c_5_3_c(logq):
    lam = sp.symbols("lam", real=True)
    # d/dq(y) of the Lagrangian, pointwise, at the stated log q: must be free of a, b, alpha
    # (then one C = -1 - lam makes it vanish for every y)
    grad = 1 + logq - (_al * _a + (1 - _al) * _b) + lam
    free = [sp.simplify(sp.diff(grad, v)) for v in (_a, _b, _al)]
    symbolic = all(x == 0 for x in free)
    # numeric: the stated q is the minimiser of the weighted KL sum among 150 perturbations
    f = sp.lambdify((_al, _a, _b, _C), logq, "mpmath")
    d = _e1()
    rng = np.random.default_rng(MC_SEED + 16)
    with mpmath.workdps(30):
        dps = mpmath.mp.dps
        al = mpmath.mpf("0.3")
        lq0 = S.log_normalize([f(al, x, y, 0) for x, y in zip(d["lt"], d["lq"])])

        def obj(lq_):
            return al * S.kl(lq_, d["lt"]) + (1 - al) * S.kl(lq_, d["lq"])

        base = obj(lq0)
        best_gain = mpmath.mpf(-1)
        n_pert = 150
        for z in rng.normal(size=(n_pert, 3)):
            pert = S.log_normalize(
                [x + mpmath.mpf(float(e)) * mpmath.mpf("0.01") for x, e in zip(lq0, z)]
            )
            best_gain = max(best_gain, base - obj(pert))
    tol = mpmath.mpf(10) ** -25
    return decide(
        symbolic and best_gain < tol,
        f"sympy: d/dq(y) of the Lagrangian at the stated log q, differentiated in (a, b, alpha): "
        f"{free}; E1 at alpha = 0.3 ({dps} digits): largest decrease of alpha KL_theta + (1-alpha) KL_t over "
        f"{n_pert} seeded perturbations (step 0.01) of the normalised stated q = "
        f"{_n(best_gain, 3)}",
        numbers={
            "dps": dps,
            "stationary_is_constant": symbolic,
            "perturbations": n_pert,
            "best_gain": best_gain,
            "tol": tol,
        },
    )


def _x_grid():
    return np.linspace(1e-4, 1 - 1e-4, 9999)


def _kl_pair_2pt(x):
    """The seed's objectives on two points: q = (x, 1 - x), pi_theta = (0.8, 0.2), pi_t =
    (0.3, 0.7)."""
    q = np.stack([x, 1 - x], axis=-1)
    lq = np.log(q)
    return _kl_inf(lq, np.log([0.8, 0.2])), _kl_inf(lq, np.log([0.3, 0.7]))


def _nonconvex_pair(x):
    return x, 1 - x**2


def _supported_gap(f1, f2):
    """Largest distance above the lower convex hull among the Pareto points of the sampled
    image (f1, f2): 0 when every Pareto point minimises some weighted sum."""
    order = np.argsort(f1, kind="stable")
    a, b = f1[order], f2[order]
    keep = b < np.minimum.accumulate(np.concatenate([[np.inf], b[:-1]]))
    a, b = a[keep], b[keep]
    hull = []
    for p in zip(a, b):
        while len(hull) >= 2:
            (x1, y1), (x2, y2) = hull[-2], hull[-1]
            if (x2 - x1) * (p[1] - y1) - (y2 - y1) * (p[0] - x1) <= 0:
                hull.pop()
            else:
                break
        hull.append(p)
    hx, hy = np.array([h[0] for h in hull]), np.array([h[1] for h in hull])
    return float(np.max(b - np.interp(a, hx, hy))), int(a.size)


@claim(
    "004-5.3-d",
    "5.3",
    "Step 4: since both KLs are convex in q, the weighted-sum solutions form the complete "
    "Pareto front.",
    HOLDS_WITH_CONDITIONS,
    subject=_kl_pair_2pt,
    counter_case=Variant(
        "the weighted-sum solutions form the complete front also for the non-convex pair "
        "(x, 1 - x^2)",
        _nonconvex_pair,
    ),
    method="sampled",
)
def _c_5_3_d(objectives):
    x = _x_grid()
    gap, npar = _supported_gap(*objectives(x))
    gap_nc, _ = _supported_gap(*_nonconvex_pair(x))
    # points of a convex image lie on its lower hull; float64 cross products of O(1) values
    # carry ~1e-16, interpolation adds as much
    tol = 1e-12
    return decide(
        gap <= tol,
        f"q = (x, 1-x) on a grid of 9999 x: {npar} Pareto points of the image, largest height "
        f"above the lower convex hull (unsupported by any weighted sum) {gap:.2e}; for the "
        f"non-convex pair (x, 1 - x^2): {gap_nc:.3f} (tolerance {tol:g}, float64 rounding)",
        numbers={
            "max_unsupported_gap": gap,
            "pareto_points": npar,
            "gap_nonconvex": gap_nc,
            "tol": tol,
        },
        conditions="the objectives are convex (true for both KLs) and finite (common full "
        "support); for non-convex objectives the weighted-sum method misses unsupported points",
        ok_without_conditions=gap_nc <= tol,
    )


def _geo_prob(pth, pt, a):
    """q_alpha in probability space as the seed defines it (0^0 = 1), mpmath."""
    w = [mpmath.mpf(x) ** a * mpmath.mpf(y) ** (1 - a) for x, y in zip(pth, pt)]
    z = mpmath.fsum(w)
    return [v / z for v in w]


def _geo_prob_swapped(pth, pt, a):
    return _geo_prob(pt, pth, a)


@claim(
    "004-5.4-a",
    "5.4",
    "Endpoints: q_1 = pi_theta and q_0 = pi_t.",
    HOLDS,
    links=(P + "log_q_alpha",),
    subject=_geo_prob,
    counter_case=Variant(
        "q_alpha ∝ pi_theta^(1-alpha) pi_t^alpha (exponents swapped) has the same endpoints",
        _geo_prob_swapped,
    ),
    method="sampled",
)
def _c_5_4_a(family):
    pairs = [E1, E2, ([0.5, 0.5, 0], [1 / 3, 1 / 3, 1 / 3])]
    worst = total = mpmath.mpf(0)
    with mpmath.workdps(30):
        dps = mpmath.mp.dps
        for pth, pt in pairs:
            pth_n = [mpmath.mpf(x) / mpmath.fsum(map(mpmath.mpf, pth)) for x in pth]
            pt_n = [mpmath.mpf(x) / mpmath.fsum(map(mpmath.mpf, pt)) for x in pt]
            e1 = max(abs(x - y) for x, y in zip(family(pth, pt, 1), pth_n))
            e0 = max(abs(x - y) for x, y in zip(family(pth, pt, 0), pt_n))
            worst = max(worst, e1, e0)
            # every entry of every pair moves the squared total, the max only the largest
            total += mpmath.fsum((x - y) ** 2 for x, y in zip(family(pth, pt, 1), pth_n))
            total += mpmath.fsum((x - y) ** 2 for x, y in zip(family(pth, pt, 0), pt_n))
    tol = mpmath.mpf(10) ** -25
    return decide(
        worst < tol,
        f"E1, E2 and pi_theta = (1/2, 1/2, 0) vs uniform ({dps} digits, 0^0 = 1): max |q_1 - "
        f"pi_theta|, |q_0 - pi_t| = {_n(worst, 3)}. (As alpha -> 0 with pi_theta = 0 < pi_t "
        "somewhere, q_alpha does not tend to pi_t: continuity, not the endpoint, needs a "
        "common support)",
        numbers={"dps": dps, "max_endpoint_err": worst, "sum_sq_endpoint_err": total, "tol": tol},
    )


@claim(
    "004-5.4-b",
    "5.4",
    "log q_alpha = alpha log pi_theta + (1-alpha) log pi_t + const (linear in log space).",
    HOLDS,
    subject=_geo_mp,
    counter_case=Variant(
        "the arithmetic mixture alpha pi_theta + (1 - alpha) pi_t is linear in log space",
        _mix_mp,
    ),
    method="sampled",
)
def _c_5_4_b(family):
    d = _e1()
    spread = mpmath.mpf(0)
    with mpmath.workdps(30):
        dps = mpmath.mp.dps
        for a in (mpmath.mpf("0.3"), mpmath.mpf("0.7")):
            lqa = family(d["lt"], d["lq"], a)
            consts = [z - (a * x + (1 - a) * y) for x, y, z in zip(d["lt"], d["lq"], lqa)]
            spread = max(spread, max(consts) - min(consts))
    tol = mpmath.mpf(10) ** -25  # 30-digit logs
    return decide(
        spread < tol,
        f"E1 at alpha = 0.3, 0.7 ({dps} digits): log q - (alpha log pi_theta + (1-alpha) log "
        f"pi_t) has "
        f"spread {_n(spread, 3)} over y (a constant = -log Z_alpha iff ~0; tolerance 1e-25)",
        numbers={"dps": dps, "max_spread": spread, "tol": tol},
    )


@claim(
    "004-5.4-c",
    "5.4",
    "The geometric family is the e-geodesic (a straight line in the natural parameters) from "
    "pi_theta to pi_t.",
    HOLDS,
    subject=_geo_mp,
    counter_case=Variant(
        "the arithmetic mixture (the m-geodesic) is the e-geodesic",
        _mix_mp,
    ),
    method="sampled",
)
def _c_5_4_c(family):
    d = _e1()
    with mpmath.workdps(40):
        dps = mpmath.mp.dps

        def natural(a):  # natural parameters: log q_alpha(y) - log q_alpha(y_0)
            lqa = family(d["lt"], d["lq"], mpmath.mpf(a))
            return [x - lqa[0] for x in lqa]

        n1, n2, n3 = natural("0.2"), natural("0.5"), natural("0.8")
        curvature = max(abs(x + z - 2 * y) for x, y, z in zip(n1, n2, n3))
    tol = mpmath.mpf(10) ** -35  # 40-digit logs
    return decide(
        curvature < tol,
        f"E1 ({dps} digits), natural parameters log q(y) - log q(y0) at alpha 0.2/0.5/0.8: max "
        f"|n(0.2) + "
        f"n(0.8) - 2 n(0.5)| = {_n(curvature, 3)} (0 iff affine in alpha: a straight line of "
        "the exponential connection, Amari)",
        numbers={"dps": dps, "curvature": curvature, "tol": tol},
    )


def _geo_path(pth, pt, s):
    return _geo_prob(pth, pt, 1 - s)


def _fr_path(pth, pt, s):
    """The Fisher-Rao geodesic: sqrt q moves on the great circle from sqrt pi_theta to
    sqrt pi_t (s = 0 to 1)."""
    a = [mpmath.sqrt(mpmath.mpf(x)) for x in pth]
    b = [mpmath.sqrt(mpmath.mpf(x)) for x in pt]
    th = mpmath.acos(mpmath.fsum(x * y for x, y in zip(a, b)))
    u = [
        (mpmath.sin((1 - s) * th) * x + mpmath.sin(s * th) * y) / mpmath.sin(th)
        for x, y in zip(a, b)
    ]
    return [v * v for v in u]


@claim(
    "004-5.4-d",
    "5.4",
    "For the Fisher metric, the e-geodesic q_alpha is the shortest path from pi_theta to pi_t.",
    FALSE,
    links=(P + "e_geodesic_fisher_length", P + "fisher_rao_distance"),
    subject=_geo_path,
    correction=Variant(
        "The shortest path for the Fisher metric is the Fisher-Rao geodesic (sqrt q on the "
        "great circle from sqrt pi_theta to sqrt pi_t, length 2 arccos sum sqrt(pi_theta pi_t)); "
        "the e-geodesic is a geodesic of the exponential connection and is longer",
        _fr_path,
    ),
    method="counterexample",
)
def _c_5_4_d(path):
    pth, pt = [0.5, 0.49, 0.01], [0.01, 0.49, 0.5]
    with mpmath.workdps(20):
        dps = mpmath.mp.dps

        def speed(s):
            q = path(pth, pt, s)
            dq = [mpmath.diff(lambda x, i=i: path(pth, pt, x)[i], s) for i in range(3)]
            return mpmath.sqrt(mpmath.fsum(v * v / w for v, w in zip(dq, q)))

        length = mpmath.quad(speed, [0, 1])
        dist = S.fisher_rao_distance(S.log_probs(pth), S.log_probs(pt))
    tol = mpmath.mpf(10) ** -10  # quadrature and numerical derivative at 20 digits
    excess = length / dist - 1
    return decide(
        excess <= tol,
        f"pi_theta = {pth}, pi_t = {pt}: Fisher length of the path int sqrt(sum q'^2/q) ds = "
        f"{_n(length, 8)}, Fisher-Rao distance 2 arccos(sum sqrt(pi_theta pi_t)) = "
        f"{_n(dist, 8)}: excess {_n(excess, 3)} (tolerance 1e-10, {dps} digits)",
        numbers={"dps": dps, "length": length, "distance": dist, "excess": excess, "tol": tol},
    )


# ----------------------------------------------------------------------------------------
# Part 6: symmetric balance, alpha*
# ----------------------------------------------------------------------------------------


def _geo_mp_swapped(lt, lq, a):
    return S.log_q_alpha(lq, lt, a)


@claim(
    "004-6.1-a",
    "6.1",
    "Along the family, larger alpha moves q_alpha toward pi_theta (KL(q||pi_theta) decreases, "
    "KL(q||pi_t) increases).",
    HOLDS_WITH_CONDITIONS,
    links=(P + "kl_alpha_derivative_residuals",),
    subject=_geo_mp,
    counter_case=Variant(
        "the family q_alpha ∝ pi_theta^(1-alpha) pi_t^alpha moves toward pi_theta as alpha grows",
        _geo_mp_swapped,
    ),
    method="symbolic",
)
def _c_6_1_a(family):
    r0, r1, r2 = S.kl_alpha_derivative_residuals()

    def monotone(lt, lq):
        grid = [mpmath.mpf(k) / 20 for k in range(21)]
        lqs = [family(lt, lq, a) for a in grid]
        kth = [S.kl(x, lt) for x in lqs]
        kt = [S.kl(x, lq) for x in lqs]
        # steps strictly decreasing in KL_theta and strictly increasing in KL_t
        n_dec = sum(x > y for x, y in zip(kth, kth[1:]))
        n_inc = sum(x < y for x, y in zip(kt, kt[1:]))
        return n_dec == n_inc == len(grid) - 1, kth, kt, n_dec + n_inc

    with mpmath.workdps(30):
        dps = mpmath.mp.dps
        ok, kth, kt, steps = monotone(*_lp(E1))
        ok_same, _, _, steps_same = monotone(*_lp((E1[0], E1[0])))
    return decide(
        (r0, r1, r2) == (0, 0, 0) and ok,
        f"sympy: (log Z)' + m = {r0}, KL_theta' + (1-alpha) Var = {r1}, KL_t' - alpha Var = "
        f"{r2}; E1 on 21 alphas ({dps} digits): KL(q||pi_theta) {_n(kth[0])} -> {_n(kth[-1])}, KL(q||pi_t) "
        f"{_n(kt[0])} -> {_n(kt[-1])}, strictly monotone as stated: {ok}; pi_theta = pi_t: "
        f"{ok_same}",
        numbers={
            "dps": dps,
            "strict_e1": ok,
            "strict_equal_pair": ok_same,
            "strict_steps_e1": steps,
            "strict_steps_equal_pair": steps_same,
            "kl_theta_at_0": kth[0],
            "kl_t_at_1": kt[-1],
        },
        conditions="strict when Var_q(ell) > 0, i.e. pi_theta != pi_t on a common support",
        ok_without_conditions=ok_same,
    )


@claim(
    "004-6.2-a",
    "6.2",
    "Symmetry principle: without prior preference the two channels should be equally "
    "efficient (information-theoretic fairness, a Nash equilibrium).",
    UNCHECKABLE,
)
def _c_6_2_a():
    return uncheckable(
        "a modelling axiom (a choice among Pareto points), not a mathematical statement; no "
        "game (players, strategies, payoffs) is defined for the Nash-equilibrium reading. The "
        "third reason given, the geodesic midpoint, is decided in 004-6.2-b"
    )


@lru_cache(maxsize=1)
def _fisher_midpoint_e1():
    """alpha at half the Fisher arc length of the e-geodesic, E1 (mpmath quad + findroot)."""
    d = _e1()
    with mpmath.workdps(15):

        def arc(a):
            return mpmath.quad(lambda s: mpmath.sqrt(S.var_ell(d["lt"], d["lq"], s)), [0, a])

        total = arc(1)
        return mpmath.findroot(lambda a: arc(a) - total / 2, mpmath.mpf("0.5"))


def _alpha_star_rule(lt, lq):
    return S.alpha_star(lt, lq)


def _fisher_midpoint_trapezoid(lt, lq, n=4000):
    """Half-arc-length alpha by a cumulative trapezoid rule in float64 (another route)."""
    a = np.linspace(0, 1, n + 1)
    lt_, lq_ = np.array([float(x) for x in lt]), np.array([float(x) for x in lq])
    lqa = S.log_q_alpha_np(
        np.broadcast_to(lt_, (n + 1, lt_.size)), np.broadcast_to(lq_, (n + 1, lt_.size)), a
    )
    q, ell = np.exp(lqa), lq_ - lt_
    m = (q * ell).sum(1)
    speed = np.sqrt((q * (ell - m[:, None]) ** 2).sum(1))
    cum = np.concatenate([[0], np.cumsum((speed[1:] + speed[:-1]) / 2 / n)])
    return float(np.interp(cum[-1] / 2, cum, a))


@claim(
    "004-6.2-b",
    "6.2",
    "The balance point alpha* is the midpoint of the geodesic between pi_theta and pi_t.",
    FALSE,
    subject=_alpha_star_rule,
    correction=Variant(
        "The Fisher arc-length midpoint of the e-geodesic is a different alpha (E1: 0.4541 vs "
        "alpha* = 0.4690): KL symmetry does not pick the geodesic midpoint",
        _fisher_midpoint_trapezoid,
    ),
    method="counterexample",
)
def _c_6_2_b(rule):
    d = _e1()
    mid = _fisher_midpoint_e1()
    with mpmath.workdps(30):
        dps = mpmath.mp.dps
        got = mpmath.mpf(rule(d["lt"], d["lq"]))
    # trapezoid at n = 4000 on a smooth speed: error ~ h^2/12 max|speed''| ~ 1e-8; 1e-6 keeps
    # a hundredfold margin and is far below the 6e-3 gap to alpha*
    tol = 1e-6
    err = abs(got - mid)
    return decide(
        err < tol,
        f"E1 pi_theta = {E1[0]}, pi_t = {E1[1]} ({dps} digits): the rule gives alpha = "
        f"{_n(got, 8)}; the "
        f"Fisher arc-length midpoint (mpmath quad + findroot) is {_n(mid, 8)}; the parameter "
        f"midpoint is 0.5; |diff| = {_n(err, 3)} (tolerance {tol:g})",
        numbers={
            "dps": dps,
            "alpha_rule": got,
            "fisher_midpoint": mid,
            "abs_diff": err,
            "tol": tol,
        },
    )


@claim(
    "004-6.2-c",
    "6.2",
    "Equal ESS in the two channels means equal estimation variance (at the same sample size).",
    FALSE,
    subject=_predictor_inv_ess,
    correction=Variant(
        "The variance of each channel's estimate of E_pi[f] is Var_q(w f)/N = (sum pi^2 f^2/q - "
        "(E_pi f)^2)/N: at the ESS-balanced q the two channels' variances still differ unless "
        "these f-dependent quantities agree",
        _predictor_var,
    ),
    method="counterexample",
)
def _c_6_2_c(predictor):
    d = _e1()
    with mpmath.workdps(30):
        dps = mpmath.mp.dps
        lqb = S.log_q_alpha(d["lt"], d["lq"], d["alpha_ess"])
        q = S.probs(lqb)
        pth, pt = S.probs(d["lt"]), S.probs(d["lq"])
        e_th, e_t = S.ess_fraction(d["lt"], lqb), S.ess_fraction(d["lq"], lqb)
        worst = mpmath.mpf(0)
        for f in ([1, 0, 0], [0, 1, 0], [1, 2, 3]):
            f = [mpmath.mpf(x) for x in f]
            actual = _is_var(pth, q, f) / _is_var(pt, q, f)
            pred = predictor(pth, q, f) / predictor(pt, q, f)
            worst = max(worst, abs(actual / pred - 1))
    tol = mpmath.mpf(10) ** -20  # 30-digit sums
    return decide(
        worst < tol,
        f"E1 at the ESS-balance alpha {_n(d['alpha_ess'], 6)} ({dps} digits): ESS_theta = "
        f"{_n(e_th, 6)}, ESS_t = {_n(e_t, 6)}; for f in (1{{y=0}}, 1{{y=1}}, y+1) the ratio of the "
        f"two channels' IS variances vs the predicted ratio: max relative mismatch "
        f"{float(worst):.3e}",
        numbers={
            "dps": dps,
            "max_ratio_mismatch": worst,
            "ess_theta": e_th,
            "ess_t": e_t,
            "tol": tol,
        },
    )


@lru_cache(maxsize=1)
def _first_order_ratios():
    """E1 with pi_t replaced by q_(1-s) (log ratio scaled by s): (alpha_ESS - 1/2) /
    (alpha* - 1/2) at s = 1e-2 and 1e-3 (40 digits). Cumulants of ell under pi_theta give
    alpha* = 1/2 - k3/(24 k2) + ..., alpha_ESS = 1/2 - k3/(8 k2) + ...: the ratio tends to 3."""
    out = []
    with mpmath.workdps(40):
        lt0, lq0 = _lp(E1)
        for s in ("1e-2", "1e-3"):
            lq = S.log_q_alpha(lt0, lq0, 1 - mpmath.mpf(s))
            a1, a2 = S.alpha_star(lt0, lq), S.alpha_ess_balance(lt0, lq)
            out.append(((a2 - mpmath.mpf(1) / 2) / (a1 - mpmath.mpf(1) / 2), a1, a2))
    return out


@claim(
    "004-6.3-a",
    "6.3",
    "Theorem 4: ESS balance ESS_theta(q) = ESS_t(q) is equivalent to KL symmetry to first order "
    "(the two conditions pick the same alpha up to second-order terms).",
    FALSE,
    links=(P + "alpha_ess_balance", P + "alpha_star"),
    subject=1,
    correction=Variant(
        "Both conditions give alpha = 1/2 at leading order, and their first-order deviations "
        "differ by a factor 3: alpha* = 1/2 - k3/(24 k2), alpha_ESS = 1/2 - k3/(8 k2) (k2, k3 "
        "the cumulants of ell = log(pi_t/pi_theta) under pi_theta); the seed's proof uses "
        "log ESS ≈ -KL, which is -2 KL (004-4.4-a)",
        3,
    ),
    method="counterexample",
)
def _c_6_3_a(ratio_claimed):
    (r2, a12, a22), (r3, a13, a23) = _first_order_ratios()
    # the ratio converges with an O(s) (here O(s^2)) remainder: its change from s = 1e-2 to
    # 1e-3 bounds the distance of the s = 1e-3 value from the limit with a 9x margin
    tol = abs(r2 - r3)
    dev = abs(r3 - ratio_claimed)
    return decide(
        dev <= tol,
        "E1 with pi_t -> q_(1-s) (ell scaled by s): (alpha_ESS - 1/2)/(alpha* - 1/2) = "
        f"{_n(r2, 10)} at s = 1e-2 (alpha* {_n(a12, 8)}, alpha_ESS {_n(a22, 8)}), {_n(r3, 10)} at "
        f"s = 1e-3; stated ratio of first-order terms {ratio_claimed}: |diff| {_n(dev, 3)} vs "
        f"tolerance {_n(tol, 3)} (change between the two s). Both alphas -> 1/2, so any "
        "symmetric rule agrees at zeroth order; first order separates them",
        numbers={"ratio_s1e-2": r2, "ratio_s1e-3": r3, "abs_dev": dev, "tol": tol},
    )


@claim(
    "004-6.3-b",
    "6.3",
    "Numerically, ESS balance and KL symmetry differ by less than 2% (in the alpha they pick).",
    FALSE,
    subject=0.02,
    correction=Variant(
        "On the seed's own example generator (softmax(randn(10 000)) pairs) the two alphas "
        "differ by up to 2.5%; more for policies of different sharpness (12.5% with pi_t's "
        "logits x3)",
        0.025,
    ),
    method="counterexample",
)
def _c_6_3_b(bound):
    ex, asym = _seed_example(), _asym_example()
    rel = np.abs(ex["alpha_ess"] / ex["alpha"] - 1)
    rel_a = np.abs(asym["alpha_ess"] / asym["alpha"] - 1)
    worst = float(rel.max())
    return decide(
        worst < bound,
        f"seed's 7.4 generator (100 pairs, V = 1e4, seeded): |alpha_ESS / alpha* - 1| mean "
        f"{rel.mean():.2%}, max {worst:.2%}, {int(np.sum(rel >= 0.02))} pairs at >= 2%; pi_t's "
        f"logits x3 (50 pairs): mean {rel_a.mean():.1%}, max {rel_a.max():.1%}; stated bound "
        f"{bound:.1%}",
        numbers={
            "max_rel_diff": worst,
            "mean_rel_diff": float(rel.mean()),
            "max_rel_diff_sharp": float(rel_a.max()),
            "bound": bound,
        },
    )


def _delta_mean_ell_np(lt, lq, alphas):
    """Section 6.4 step 2: Delta(alpha) = E_{q_alpha}[log(pi_t/pi_theta)] (0 log 0 = 0)."""
    lqa = _geo_np(lt, lq, alphas)
    q = np.exp(lqa)
    with np.errstate(invalid="ignore"):
        return np.where(q > 0, q * (lq - lt)[None, :], 0.0).sum(axis=1)


def _kl_sum_np(lt, lq, alphas):
    lqa = _geo_np(lt, lq, alphas)
    return _kl_inf(lqa, lt) + _kl_inf(lqa, lq)


# the balance function as a formula: its summand per unit of q, as a function of log q, a =
# log pi_theta, b = log pi_t (the difference of the two KL summands), and the NumPy function
_DELTA = T.Formula(sym=lambda lq, a, b: (lq - a) - (lq - b), num=_delta_mean_ell_np)
_KL_SUM = T.Formula(sym=lambda lq, a, b: (lq - a) + (lq - b), num=_kl_sum_np)
# seed 004's "common full support" is sufficient, not necessary: supports differ here
_SUPPORT_EXAMPLE = ((0.9, 0.1, 0.0), (0.05, 0.85, 0.1))


def _balance_agreement(balance, lt, lq) -> float:
    """max relative difference between sum_q q f(log q, a, b) from the sympy summand and the
    NumPy balance function, at 9 interior alphas of a full-support pair."""
    x, a, b = sp.symbols("x a b", real=True)
    f = sp.lambdify((x, a, b), balance.sym(x, a, b), "numpy")
    alphas = np.linspace(0.1, 0.9, 9)
    lqa = _geo_np(lt, lq, alphas)
    via_sym = (np.exp(lqa) * f(lqa, lt[None, :], lq[None, :])).sum(axis=1)
    num = balance.num(lt, lq, alphas)
    return float(np.max(np.abs(via_sym - num) / np.maximum(np.abs(num), 1.0)))


@claim(
    "004-6.4-a",
    "6.4",
    "Theorem 5: there is a unique alpha* in (0, 1) with KL(q_alpha*||pi_theta) = "
    "KL(q_alpha*||pi_t).",
    HOLDS_WITH_CONDITIONS,
    links=(P + "alpha_star", "proofs/theorems.py::alpha_star_proof", NB),
    subject=_DELTA,
    counter_case=Variant(
        "the balance function is KL(q||pi_theta) + KL(q||pi_t) (a sum, not the difference)",
        _KL_SUM,
    ),
    method="proof",
)
def _c_6_4_a(balance):
    proof = T.alpha_star_proof(balance.sym)
    delta_fn = balance.num
    rng = np.random.default_rng(MC_SEED + 6)
    n_pairs, good, sum_d0, sum_d1 = 300, 0, 0.0, 0.0
    v_lo, v_hi, s_lo, s_hi = 2, 7, 0.1, 6.0  # vocabulary sizes, logit scales
    grid = np.linspace(0, 1, 401)
    agree = 0.0
    for k in range(n_pairs):
        V = int(rng.integers(v_lo, v_hi + 1))
        lt = S.log_softmax_np(rng.normal(size=V) * rng.uniform(s_lo, s_hi))
        lq = S.log_softmax_np(rng.normal(size=V) * rng.uniform(s_lo, s_hi))
        d = delta_fn(lt, lq, grid)
        sign_changes = int(np.sum(np.diff(np.sign(d)) != 0))
        good += int(np.all(np.isfinite(d)) and sign_changes == 1 and d[0] > 0 > d[-1])
        sum_d0, sum_d1 = sum_d0 + float(d[0]), sum_d1 + float(d[-1])
        if k < 3:  # the formula's two forms on the first pairs
            agree = max(agree, _balance_agreement(balance, lt, lq))
    with np.errstate(divide="ignore"):
        p2, q2 = np.array([0.5, 0.5, 0.0]), np.array([1 / 3, 1 / 3, 1 / 3])
        lt2, lq2 = np.log(p2), np.log(q2)
        lt3, lq3 = (np.log(np.array(v)) for v in _SUPPORT_EXAMPLE)
    d2 = delta_fn(lt2, lq2, grid)
    changes2 = int(np.sum(np.diff(np.sign(d2)) != 0))
    good2 = bool(np.all(np.isfinite(d2)) and changes2 == 1)
    mid = grid.size // 2
    # supports differ, yet Delta(0+) > 0 > Delta(1-) on S: one root, enclosed with certainty
    d3 = delta_fn(lt3, lq3, grid)[1:-1]
    inner = grid[1:-1]
    changes3 = int(np.sum(np.diff(np.sign(d3)) != 0))
    lo, hi = T.enclose_alpha_star(list(lt3), list(lq3))
    k3 = int(np.argmax(np.diff(np.sign(d3)) != 0))
    inside = bool(inner[k3] < float(lo) and float(hi) < inner[k3 + 1])
    example_ok = changes3 == 1 and d3[0] > 0 > d3[-1] and inside
    return decide(
        proof.holds and agree < AGREE_TOL and good == n_pairs and example_ok,
        f"{_proof_text(proof)}; the balance formula's sympy and NumPy forms agree to "
        f"{agree:.1e}. {good} of {n_pairs} seeded full-support pairs "
        f"(V {v_lo}-{v_hi}, logits N(0, 1) x U({s_lo:g}, {s_hi:g}), {grid.size} alphas) have "
        f"finite values, Delta(0) > 0 > Delta(1) and exactly one sign change (mean Delta(0) "
        f"{sum_d0 / n_pairs:.4f}, mean Delta(1) {sum_d1 / n_pairs:.4f}). Different supports, "
        f"pi_theta = (0.9, 0.1, 0), pi_t = (0.05, 0.85, 0.1): Delta({inner[0]:g}) = "
        f"{d3[0]:.4f}, Delta({inner[-1]:g}) = {d3[-1]:.4f}, {changes3} sign change(s), "
        f"alpha* in [{mpmath.nstr(lo, 12)}, {mpmath.nstr(hi, 12)}] (certified, width "
        f"{mpmath.nstr(hi - lo, 2)}). pi_theta = (1/2, 1/2, 0), pi_t uniform (d constant on "
        f"S): Delta(0) = {d2[0]:.4g}, Delta({grid[mid]:g}) = {d2[mid]:.4g}, Delta(1) = "
        f"{d2[-1]:.4g}, {changes2} sign change(s)",
        numbers={
            "proof_holds": proof.holds,
            "proof_steps_checked": proof.n_checked(),
            "forms_disagree": agree,
            "agree_tol": AGREE_TOL,
            "pairs_with_unique_root": good,
            "pairs": n_pairs,
            "grid_points": grid.size,
            "degenerate_ok": good2,
            "delta_mid_degenerate": float(d2[mid]),
            "mass_degenerate_pair": float(p2.sum() + q2.sum()),
            "mean_delta_at_0": sum_d0 / n_pairs,
            "mean_delta_at_1": sum_d1 / n_pairs,
            "support_example_sign_changes": changes3,
            "support_example_alpha_lo": lo,
            "support_example_alpha_hi": hi,
        },
        conditions="Delta(0) > 0 > Delta(1) with d = log(pi_t / pi_theta) not constant on the "
        "common support (the exact condition; pi_theta != pi_t with a common full support is "
        "sufficient, since then Delta(0) = KL(pi_t||pi_theta) > 0 > -KL(pi_theta||pi_t) = "
        "Delta(1), but not necessary)",
        ok_without_conditions=good2,
    )


def _kl_step1(m, lz, a):
    """Section 6.4 step 1: (KL(q||pi_theta), KL(q||pi_t)) = ((1-a) m - log Z, -a m - log Z)."""
    return (1 - a) * m - lz, -a * m - lz


def _kl_step1_swapped(m, lz, a):
    return a * m - lz, -(1 - a) * m - lz


@claim(
    "004-6.4-b",
    "6.4",
    "Step 1: KL(q_alpha||pi_theta) = (1-alpha) E_q[ell] - log Z_alpha and "
    "KL(q_alpha||pi_t) = -alpha E_q[ell] - log Z_alpha.",
    HOLDS,
    links=(P + "kl_pointwise_residuals",),
    subject=_kl_step1,
    counter_case=Variant(
        "KL(q||pi_theta) = alpha E_q[ell] - log Z, KL(q||pi_t) = -(1-alpha) E_q[ell] - log Z",
        _kl_step1_swapped,
    ),
    method="sampled",
)
def _c_6_4_b(formula):
    worst = mpmath.mpf(0)
    with mpmath.workdps(50):
        dps = mpmath.mp.dps
        for pair in (E1, E2):
            lt, lq = _lp(pair)
            for a in (mpmath.mpf("0.3"), mpmath.mpf("0.8")):
                lqa = S.log_q_alpha(lt, lq, a)
                m = S.delta_mean_ell(lt, lq, a)
                lz = S.log_z_alpha(lt, lq, a)
                k1, k2 = formula(m, lz, a)
                worst = max(worst, abs(S.kl(lqa, lt) - k1), abs(S.kl(lqa, lq) - k2))
    tol = mpmath.mpf(10) ** -40  # 50-digit sums of logs
    return decide(
        worst < tol,
        f"E1 and E2 at alpha 0.3, 0.8 ({dps} digits): max |KL computed directly - formula| = "
        f"{_n(worst, 3)} (tolerance 1e-40)",
        numbers={"dps": dps, "max_abs_diff": worst, "tol": tol},
    )


def _delta_seed_mp(lt, lq, a):
    """Section 6.4 step 2: Delta = E_{q_alpha}[log(pi_t/pi_theta)]."""
    lqa = S.log_q_alpha(lt, lq, a)
    return mpmath.fsum(mpmath.exp(z) * (y - x) for x, y, z in zip(lt, lq, lqa))


def _delta_seed_mp_flipped(lt, lq, a):
    return -_delta_seed_mp(lt, lq, a)


@claim(
    "004-6.4-c",
    "6.4",
    "Step 2: Delta(alpha) = E_{q_alpha}[log(pi_t / pi_theta)].",
    HOLDS,
    subject=_delta_seed_mp,
    counter_case=Variant(
        "Delta(alpha) = E_{q_alpha}[log(pi_theta / pi_t)]", _delta_seed_mp_flipped
    ),
    method="symbolic",
)
def _c_6_4_c(delta_fn):
    _, _, r3 = S.kl_pointwise_residuals()
    worst = mpmath.mpf(0)
    with mpmath.workdps(50):
        dps = mpmath.mp.dps
        for pair in (E1, E2):
            lt, lq = _lp(pair)
            for a in (mpmath.mpf("0.1"), mpmath.mpf("0.5"), mpmath.mpf("0.9")):
                worst = max(worst, abs(S.delta(lt, lq, a) - delta_fn(lt, lq, a)))
    tol = mpmath.mpf(10) ** -40
    return decide(
        r3 == 0 and worst < tol,
        f"sympy: log(q/pi_theta) - log(q/pi_t) - ell = {r3}; E1, E2 at alpha 0.1/0.5/0.9 ({dps} "
        f"digits): max |KL(q||pi_theta) - KL(q||pi_t) - formula| = {_n(worst, 3)}",
        numbers={"dps": dps, "max_abs_diff": worst, "tol": tol},
    )


def _delta_ends(lt, lq):
    """Step 3 as printed: (Delta(0), Delta(1)) = (KL(pi_t||pi_theta), -KL(pi_theta||pi_t))."""
    return S.kl(lq, lt), -S.kl(lt, lq)


def _delta_ends_flipped(lt, lq):
    return -S.kl(lq, lt), S.kl(lt, lq)


@claim(
    "004-6.4-d",
    "6.4",
    "Step 3: Delta(0) = KL(pi_t||pi_theta) > 0 and Delta(1) = -KL(pi_theta||pi_t) < 0.",
    HOLDS_WITH_CONDITIONS,
    subject=_delta_ends,
    counter_case=Variant(
        "Delta(0) = -KL(pi_t||pi_theta) and Delta(1) = KL(pi_theta||pi_t) (signs flipped)",
        _delta_ends_flipped,
    ),
    method="sampled",
)
def _c_6_4_d(ends):
    worst = mpmath.mpf(0)
    signs = True
    with mpmath.workdps(50):
        dps = mpmath.mp.dps
        for pair in (E1, E2):
            lt, lq = _lp(pair)
            e0, e1 = ends(lt, lq)
            d0, d1 = _delta_seed_mp(lt, lq, 0), _delta_seed_mp(lt, lq, 1)
            worst = max(worst, abs(d0 - e0), abs(d1 - e1))
            signs = signs and e0 > 0 > e1
        lt, lq = _lp((E1[0], E1[0]))
        e0s, e1s = ends(lt, lq)
        signs_same = bool(e0s > 0 > e1s)
    tol = mpmath.mpf(10) ** -40
    return decide(
        worst < tol and signs,
        f"E1, E2 ({dps} digits): max |E_q[ell] at alpha = 0, 1 - formula| = {_n(worst, 3)}, signs "
        f"Delta(0) > 0 > Delta(1): {signs}; pi_theta = pi_t: ends ({_n(e0s)}, {_n(e1s)})",
        numbers={
            "dps": dps,
            "max_abs_diff": worst,
            "signs_ok": signs,
            "signs_ok_equal_pair": signs_same,
            "tol": tol,
        },
        conditions="pi_theta != pi_t and mutually absolutely continuous (else a KL is 0 or "
        "+inf and the strict signs or the finiteness fail)",
        ok_without_conditions=signs_same,
    )


def _delta_deriv(lt, lq, a):
    """Step 5 via the derivative: dDelta/dalpha = -Var_{q_alpha}(ell)."""
    return -S.var_ell(lt, lq, a)


def _delta_deriv_flipped(lt, lq, a):
    return S.var_ell(lt, lq, a)


@claim(
    "004-6.4-e",
    "6.4",
    "Step 5: Delta(alpha) is strictly decreasing in alpha (dDelta/dalpha = -Var_q_alpha(ell)).",
    HOLDS_WITH_CONDITIONS,
    links=(P + "delta_derivative_residual",),
    subject=_delta_deriv,
    counter_case=Variant(
        "dDelta/dalpha = +Var_q_alpha(ell) (Delta increasing)", _delta_deriv_flipped
    ),
    method="symbolic",
)
def _c_6_4_e(deriv):
    resid = S.delta_derivative_residual()
    worst, strict = mpmath.mpf(0), True
    with mpmath.workdps(30):
        dps = mpmath.mp.dps
        for pair in (E1, E2):
            lt, lq = _lp(pair)
            for a in (mpmath.mpf("0.2"), mpmath.mpf("0.4"), mpmath.mpf("0.8")):
                num = mpmath.diff(lambda x, u=lt, v=lq: S.delta(u, v, x), a)
                got = deriv(lt, lq, a)
                worst = max(worst, abs(num - got))
                strict = strict and got < 0
        lt, lq = _lp((E1[0], E1[0]))
        strict_same = bool(deriv(lt, lq, mpmath.mpf("0.4")) < 0)
    tol = mpmath.mpf(10) ** -15  # mpmath.diff at 30 digits: ~1e-20 absolute
    return decide(
        resid == 0 and worst < tol and strict,
        f"sympy: dDelta/dalpha + Var = {resid}; E1, E2 at alpha 0.2/0.4/0.8 ({dps} digits): max "
        f"|numerical "
        f"derivative of KL_theta - KL_t - formula| = {_n(worst, 3)}, formula < 0 everywhere: "
        f"{strict}; pi_theta = pi_t: derivative < 0: {strict_same}",
        numbers={
            "dps": dps,
            "max_abs_diff": worst,
            "strict": strict,
            "strict_equal_pair": strict_same,
            "tol": tol,
        },
        conditions="ell not constant on the common support (pi_theta != pi_t there). The "
        "seed's verbal argument ('q moves from pi_t to pi_theta') is not a proof; the "
        "derivative -Var_q(ell) is",
        ok_without_conditions=strict_same,
    )


@lru_cache(maxsize=1)
def _llm_pair() -> tuple:
    """LLM-like logits 6 randn(50 000) (seeded) and 10 pairs of the seed's generator (V = 1e4):
    probabilities and exact float64 alpha* (safeguarded Newton)."""
    rng = np.random.default_rng(MC_SEED + 7)
    lt = S.log_softmax_np(LLM_SCALE * rng.standard_normal(LLM_V))
    lq = S.log_softmax_np(LLM_SCALE * rng.standard_normal(LLM_V))
    lt2, lq2 = S.seed_example_pairs(10, 10_000, MC_SEED + 17)
    return (
        (np.exp(lt), np.exp(lq), float(S.alpha_star_np(lt, lq))),
        (np.exp(lt2), np.exp(lq2), S.alpha_star_np(lt2, lq2, 40)),
        float(np.mean(np.exp(lt) < 1e-10)),
    )


def _solver_seed(pt, pq):
    return S.solve_kl_symmetry_seed_code(pt, pq)[0]


def _solver_logs(pt, pq, tol=1e-6, max_iter=50):
    """The 6.5 bisection on exact log-probabilities (no eps inside the logs)."""
    lt, lq = np.log(pt), np.log(pq)
    lo, hi = np.zeros(pt.shape[:-1]), np.ones(pt.shape[:-1])
    for _ in range(max_iter):
        mid = (lo + hi) / 2
        lqa = S.log_q_alpha_np(lt, lq, mid)
        d = (np.exp(lqa) * (lq - lt)).sum(axis=-1)
        lo, hi = np.where(d > 0, mid, lo), np.where(d > 0, hi, mid)
        if np.max(hi - lo) < tol:
            break
    return (lo + hi) / 2


@claim(
    "004-6.5-a",
    "6.5",
    "solve_kl_symmetry (tol 1e-6, eps 1e-10) returns alpha* to within the tolerance.",
    FALSE,
    links=(P + "solve_kl_symmetry_seed_code",),
    subject=_solver_seed,
    correction=Variant(
        "The bisection returns alpha* to within tol when Delta is evaluated from exact "
        "log-probabilities (log-softmax of the logits); with eps = 1e-10 added inside the logs "
        "it is off wherever probabilities fall near or below 1e-10",
        _solver_logs,
    ),
    method="counterexample",
)
def _c_6_5_a(solver):
    (pt, pq, exact), (pt2, pq2, exact2), tiny = _llm_pair()
    err_llm = abs(float(np.asarray(solver(pt, pq))) - exact)
    err_seed = float(np.max(np.abs(solver(pt2, pq2) - exact2)))
    # the bisection stops at bracket width < 1e-6 and returns the midpoint: within 5e-7 of
    # the root of the Delta it evaluates; the seed claims tol = 1e-6
    tol = 1e-6
    return decide(
        max(err_llm, err_seed) <= tol,
        f"seed's 7.4 inputs (10 pairs, V = 1e4): max |alpha - alpha*| = {err_seed:.2e}; "
        f"LLM-like logits 6 randn(50 000) (seeded, {tiny:.0%} of pi_theta below eps = 1e-10): "
        f"exact alpha* = {exact:.6f}, error {err_llm:.2e} = {err_llm / tol:.1f} x tol",
        numbers={
            "err_llm_like": err_llm,
            "err_seed_inputs": err_seed,
            "tol": tol,
            "alpha_star_llm": exact,
        },
    )


@claim(
    "004-6.5-b",
    "6.5",
    "For eps = 1e-6 the bisection needs about 20 iterations; complexity O(V log(1/eps)).",
    HOLDS,
    subject=20,
    counter_case=Variant("the bisection runs its max_iter = 50 iterations", 50),
    method="exhaustive",
)
def _c_6_5_b(iters):
    _, (pt2, pq2, _), _ = _llm_pair()
    _, it, conv = S.solve_kl_symmetry_seed_code(
        pt2[:2, :200] / pt2[:2, :200].sum(1, keepdims=True),
        pq2[:2, :200] / pq2[:2, :200].sum(1, keepdims=True),
    )
    bound = math.ceil(math.log2(1e6))
    return decide(
        it == iters,
        f"the seed code stops after {it} iterations (converged {conv}); the bracket 2^-k "
        f"first falls below 1e-6 at k = ceil(log2 1e6) = {bound}; stated {iters}; each "
        "iteration is a constant number of passes over V",
        numbers={"iterations": it, "stated": iters, "log2_bound": bound},
    )


@claim(
    "004-6.5-c",
    "6.5",
    "The bisection takes about 2-3 ms for V = 50k.",
    UNCHECKABLE,
)
def _c_6_5_c():
    return uncheckable(
        "a wall-clock timing without a stated device, batch size or dtype; no computation "
        "decides it (the operation count is 004-6.5-b / 004-7.7-a)"
    )


# ----------------------------------------------------------------------------------------
# Part 7: the final solution, code and validation
# ----------------------------------------------------------------------------------------


def _alpha_ess_rule(lt, lq):
    return S.alpha_ess_balance(lt, lq)


@claim(
    "004-7.1-a",
    "7.1",
    "Theorem 6: alpha* is equivalently determined by Fisher information balance "
    "ESS_theta(q*) = ESS_t(q*).",
    FALSE,
    subject=_alpha_star_rule,
    correction=Variant(
        "ESS balance ESS_theta(q_alpha) = ESS_t(q_alpha) picks its own alpha_ESS (E1: 0.4202 vs "
        "alpha* = 0.4690); at alpha* the two ESS differ",
        _alpha_ess_rule,
    ),
    method="counterexample",
)
def _c_7_1_a(rule):
    worst, rows = mpmath.mpf(0), []
    with mpmath.workdps(30):
        dps = mpmath.mp.dps
        for pair in (E1, E2):
            lt, lq = _lp(pair)
            a = rule(lt, lq)
            lqa = S.log_q_alpha(lt, lq, a)
            e_th, e_t = S.ess_fraction(lt, lqa), S.ess_fraction(lq, lqa)
            gap = abs(mpmath.log(e_th / e_t))
            worst = max(worst, gap)
            rows.append(f"{pair[0]}: alpha {_n(a, 6)}, ESS {_n(e_th, 5)} vs {_n(e_t, 5)}")
    tol = mpmath.mpf(10) ** -20  # 30-digit root and sums
    return decide(
        worst < tol,
        f"E1, E2 ({dps} digits): "
        + "; ".join(rows)
        + f"; max |log(ESS_theta/ESS_t)| = {_n(worst, 3)}",
        numbers={"dps": dps, "max_abs_log_ratio": worst, "tol": tol},
    )


def _qstar_rule(lt, lq):
    return S.log_q_alpha(lt, lq, S.alpha_star(lt, lq))


def _ess_front_balanced(lt, lq):
    """The max-min ESS distribution: the ESS-front member with ESS_theta = ESS_t (bisection
    in b at the ambient precision)."""
    lo, hi = mpmath.mpf(0), mpmath.mpf(1)
    for _ in range(100):
        mid = (lo + hi) / 2
        lqb = S.ess_front_member(lt, lq, mid)
        if S.ess_fraction(lt, lqb) < S.ess_fraction(lq, lqb):
            lo = mid
        else:
            hi = mid
    return S.ess_front_member(lt, lq, (lo + hi) / 2)


@claim(
    "004-7.1-b",
    "7.1",
    "q* is the statistically optimal (Fisher-information-maximising) sampling distribution "
    "for the two channels.",
    FALSE,
    subject=_qstar_rule,
    correction=Variant(
        "Among all q, the ESS-optimal trade-offs are q ∝ sqrt(b pi_theta^2 + (1-b) pi_t^2); the "
        "balanced one (ESS_theta = ESS_t, the max-min ESS) beats q* in both channels",
        _ess_front_balanced,
    ),
    method="counterexample",
)
def _c_7_1_b(rule):
    d = _e1()
    with mpmath.workdps(30):
        dps = mpmath.mp.dps
        lqs = rule(d["lt"], d["lq"])
        res, b = _ess_kkt_residual(d["lt"], d["lq"], lqs)
        e_th, e_t = S.ess_fraction(d["lt"], lqs), S.ess_fraction(d["lq"], lqs)
    bad = res if 0 <= b <= 1 else max(res, mpmath.mpf(1))
    fb, eth, et, _ = _ess_front_dominates_qstar()
    return decide(
        bad < KKT_TOL,
        f"E1 ({dps} digits): the distribution has (ESS_theta, ESS_t) = ({_n(e_th)}, {_n(e_t)}); "
        f"ESS-front KKT residual {_n(res, 3)} (b = {_n(b, 4)}; tolerance {_n(KKT_TOL, 2)}). "
        f"For q*, the front member b = {_n(fb, 3)} has ({_n(eth)}, {_n(et)}): better in both",
        numbers={
            "dps": dps,
            "kkt_residual": bad,
            "ess_theta": e_th,
            "ess_t": e_t,
            "kkt_tol": KKT_TOL,
        },
    )


def _div_kl_q_pi_mp(lp, lq):
    return S.kl(lq, lp)


def _div_renyi2_mp(lp, lq):
    return mpmath.log(mpmath.fsum(mpmath.exp(2 * x - y) for x, y in zip(lp, lq)))


@claim(
    "004-7.2-a",
    "7.2",
    "Derivation chain: Fisher information ∝ ESS ∝ exp(-D_KL).",
    FALSE,
    subject=_div_kl_q_pi_mp,
    correction=Variant(
        "ESS_pi(q) = exp(-D_2(pi||q)) exactly (Renyi order 2, log sum pi^2/q), ≈ exp(-2 KL) only "
        "near q = pi; the Fisher-information link fails (004-4.3-a)",
        _div_renyi2_mp,
    ),
    method="counterexample",
)
def _c_7_2_a(div):
    with mpmath.workdps(30):
        dps = mpmath.mp.dps
        lp = S.log_probs([0.9, 0.1])
        ratios = []
        for q in ([0.99, 0.01], [0.6, 0.4], [0.3, 0.7]):
            lq = S.log_probs(q)
            ratios.append(S.ess_fraction(lp, lq) / mpmath.exp(-div(lp, lq)))
        spread = max(ratios) / min(ratios) - 1
    tol = mpmath.mpf(10) ** -20
    return decide(
        spread < tol,
        f"pi = (0.9, 0.1), q in (0.99, 0.01), (0.6, 0.4), (0.3, 0.7), {dps} digits: ESS_pi(q) / "
        "exp(-D) = "
        + ", ".join(_n(r) for r in ratios)
        + f" (spread {_n(spread, 3)}; proportional iff ~0)",
        numbers={"dps": dps, "ratio_spread": spread, "tol": tol},
    )


@lru_cache(maxsize=1)
def _class_inputs():
    """20 pairs of the seed's 7.4 generator (V = 1e4) with exact float64 alpha*."""
    lt, lq = S.seed_example_pairs(20, 10_000, MC_SEED + 18)
    return np.exp(lt), np.exp(lq), S.alpha_star_np(lt, lq, 40), lt, lq


def _class_alpha(pt, pq):
    return S.seed_class_diagnostics(pt, pq)["alpha"]


def _class_alpha_complement(pt, pq):
    return 1 - S.seed_class_diagnostics(pt, pq)["alpha"]


@claim(
    "004-7.4-a",
    "7.4",
    "The OptimalSamplingDistribution class implements the 6.5 bisection (same update, eps and "
    "stopping rule) and returns alpha* of the KL-symmetry condition.",
    HOLDS_WITH_CONDITIONS,
    links=(P + "seed_class_diagnostics", P + "solve_kl_symmetry_seed_code"),
    subject=_class_alpha,
    counter_case=Variant(
        "the class returns 1 - alpha* (the exponent of pi_t instead of pi_theta)",
        _class_alpha_complement,
    ),
    method="sampled",
)
def _c_7_4_a(solver):
    pt, pq, exact, _, _ = _class_inputs()
    err = float(np.max(np.abs(np.asarray(solver(pt, pq), dtype=np.float64) - exact)))
    (pl, ql, exact_l), _, _ = _llm_pair()
    err_l = abs(float(np.asarray(solver(pl[None, :], ql[None, :]))[0]) - exact_l)
    # the class's own tolerance: bracket width < 1e-6, midpoint within 5e-7 of the root of
    # the float32 Delta, whose root moves by ~eps32 |ell| / Var ~ 5e-7 at most here
    tol = 1e-6
    return decide(
        err <= tol,
        f"seed's 7.4 inputs (20 pairs, V = 1e4, float32 as in its example): max |alpha - "
        f"alpha*| = {err:.2e} (tolerance {tol:g}, the class's tol); LLM-like logits 6 randn(5e4) "
        f"(70% of probabilities below eps): {err_l:.2e}",
        numbers={"max_err_seed_inputs": err, "err_llm_like": err_l, "tol": tol},
        conditions="probabilities well above eps = 1e-10 (004-6.5-a shows the eps error otherwise)",
        ok_without_conditions=err_l <= tol,
    )


def _class_diag(pt, pq):
    """The 7.4 class's diagnostics, run in float64 (the class is dtype-agnostic; float64 keeps
    the pinned numbers reproducible across NumPy releases, float32 sums move by 3e-3)."""
    return S.seed_class_diagnostics(pt, pq, dtype=np.float64)


def _class_diag_reversed(pt, pq):
    """KL directions reversed: KL(pi||q*) reported as kl_theta / kl_t."""
    info = dict(S.seed_class_diagnostics(pt, pq, dtype=np.float64))
    q = info["q_star"]
    e = 1e-10
    info["kl_theta"] = (pt * np.log((pt + e) / (q + e))).sum(-1)
    info["kl_t"] = (pq * np.log((pq + e) / (q + e))).sum(-1)
    return info


@claim(
    "004-7.4-b",
    "7.4",
    "The class's diagnostics kl_theta, kl_t, ess_theta, ess_t are KL(q*||pi_theta), "
    "KL(q*||pi_t) and the ESS of section 4.5.",
    HOLDS_WITH_CONDITIONS,
    subject=_class_diag,
    counter_case=Variant(
        "kl_theta, kl_t are KL(pi_theta||q*), KL(pi_t||q*) (directions reversed)",
        _class_diag_reversed,
    ),
    method="sampled",
)
def _c_7_4_b(diag):
    def worst_rel(pt, pq):
        info = diag(pt, pq)
        lqs = np.log(info["q_star"].astype(np.float64))
        lt, lq = np.log(pt), np.log(pq)
        ref = {
            "kl_theta": S.kl_np(lqs, lt),
            "kl_t": S.kl_np(lqs, lq),
            "ess_theta": S.ess_fraction_np(lt, lqs),
            "ess_t": S.ess_fraction_np(lq, lqs),
        }
        return max(float(np.max(np.abs(info[k] / v - 1))) for k, v in ref.items())

    pt, pq, _, _, _ = _class_inputs()
    rel = worst_rel(pt, pq)
    (pl, ql, _), _, _ = _llm_pair()
    rel_l = worst_rel(pl[None, :], ql[None, :])
    # float64 sums of 1e4 terms (pairwise): ~ (log2 1e4 + 4) eps = 4e-15 relative per sum; a
    # KL of terms of both signs loses up to ~100x to cancellation, and eps = 1e-10 added to
    # probabilities ~1e-4 moves each term by ~1e-6 relative at most: 1e-5 covers both
    tol = 1e-5
    return decide(
        rel <= tol,
        f"seed's 7.4 inputs (20 pairs, V = 1e4): the class's diagnostics vs exact float64 at its "
        f"q*: max relative difference {rel:.1e} (tolerance {tol:g}); LLM-like logits (most "
        f"probabilities below eps = 1e-10): {rel_l:.1e}",
        numbers={"max_rel_diff": rel, "max_rel_diff_llm_like": rel_l, "tol": tol},
        conditions="probabilities well above eps = 1e-10, which enters the logs and the ESS "
        "denominator (on the seed's inputs it already moves them by ~3e-6 relative)",
        ok_without_conditions=rel_l <= tol,
    )


def _shape_run(shape):
    rng = np.random.default_rng(MC_SEED + 9)
    lt = S.log_softmax_np(rng.standard_normal(shape))
    lq = S.log_softmax_np(rng.standard_normal(shape))
    try:
        a, conv = S.seed_class_solve_shapes(np.exp(lt), np.exp(lq))
    except ValueError as exc:
        return False, f"{list(shape)}: broadcasting error ({str(exc).split(':')[0]})", np.inf
    exact = S.alpha_star_np(lt, lq, 40)
    ok_shape = np.shape(a) == tuple(shape[:-1])
    err = float(np.max(np.abs(a - exact))) if ok_shape else np.inf
    return bool(conv and ok_shape), f"{list(shape)}: alpha shape {list(np.shape(a))}", err


@claim(
    "004-7.4-c",
    "7.4",
    "The class accepts pi_theta, pi_t of its documented shape [batch, vocab_size] and returns "
    "alpha_star of shape [batch] (alpha* per row).",
    HOLDS,
    links=(P + "seed_class_solve_shapes",),
    subject=(9, 50),
    counter_case=Variant(
        "the class accepts [batch, seq_len, vocab] inputs (the token-level shape of 7.7, which "
        "its docstring does not promise) and returns [batch, seq_len]",
        (3, 3, 50),
    ),
    method="sampled",
)
def _c_7_4_c(shape):
    ok, row, err = _shape_run(tuple(shape))
    tol = 1e-6  # the class's bisection tolerance (probabilities here are far above eps)
    return decide(
        ok and err <= tol,
        "a faithful NumPy port of _solve_kl_symmetry/_geometric_mean (same broadcasting as "
        f"torch) on seeded inputs {row}; max |alpha - alpha*| = {err:.2e} (tolerance {tol:g})",
        numbers={
            "runs_with_right_shape": ok,
            "max_err": err if np.isfinite(err) else -1.0,
            "tol": tol,
            "input_entries": math.prod(shape),
        },
    )


@claim(
    "004-7.5-a",
    "7.5",
    "Validation 1: over 1000 random pairs the KL-symmetry error of the solver has mean "
    "< 1e-7 and max < 1e-5.",
    FALSE,
    subject=(1e-7, 1e-5),
    correction=Variant(
        "A bisection stopped at width 1e-6 in alpha leaves |Delta| <= Var(ell) x 5e-7, i.e. a "
        "symmetry error up to ~2e-6 on the seed's generator (Var(ell) ~ 2, KL sum ~ 0.5): mean "
        "below 2e-6 (about 9e-7), max below 1e-5",
        (2e-6, 1e-5),
    ),
    method="counterexample",
)
def _c_7_5_a(bounds):
    b_mean, b_max = bounds
    ex = _seed_example()
    e32 = ex["seed32"]["kl_symmetry_error"].astype(np.float64)
    e64 = ex["seed64_symerr"]
    # decided on the float64 6.5 code (reproducible to the last bits across NumPy releases);
    # the float32 class (its summation order differs between releases) is reported alongside
    mean, mx = float(e64.mean()), float(e64.max())
    return decide(
        mean < b_mean and mx < b_max,
        f"seed's own 7.4 generator (100 pairs, V = 1e4, seeded; the seed does not give its 1000 "
        f"pairs): class in float32 mean {e32.mean():.2e}, max {e32.max():.2e}; 6.5 code in "
        f"float64 mean {e64.mean():.2e}, max {e64.max():.2e}; stated mean < {b_mean:g}, "
        f"max < {b_max:g}",
        numbers={"mean_err": mean, "max_err": mx, "bound_mean": b_mean, "bound_max": b_max},
    )


@claim(
    "004-7.5-b",
    "7.5",
    "Validation 2: at alpha* the ESS ratio ESS_theta/ESS_t lies in [0.9, 1.1] in 95% of "
    "random pairs.",
    HOLDS_WITH_CONDITIONS,
    subject=(0.9, 1.1, 0.95),
    counter_case=Variant("the ratio lies in [0.99, 1.01] in 95% of pairs", (0.99, 1.01, 0.95)),
    method="sampled",
)
def _c_7_5_b(spec):
    lo, hi, share = spec
    ex, asym = _seed_example(), _asym_example()
    r, ra = ex["ratio"], asym["ratio"]
    frac = float(np.mean((r >= lo) & (r <= hi)))
    frac_a = float(np.mean((ra >= lo) & (ra <= hi)))
    # a binomial share from 100 pairs: judged at 5 standard errors sqrt(p(1-p)/n) of the
    # stated share
    se = math.sqrt(share * (1 - share) / r.size)
    se_a = math.sqrt(share * (1 - share) / ra.size)
    floor, floor_a = share - 5 * se, share - 5 * se_a  # the lowest share within 5 SE
    return decide(
        frac >= floor,
        f"seed's 7.4 generator (iid softmax(randn), {r.size} pairs, V = 1e4): {frac:.0%} in "
        f"[{lo}, {hi}] (range {r.min():.3f}-{r.max():.3f}); with pi_t's logits x3 ({ra.size} "
        f"pairs): {frac_a:.0%} (mean ratio {ra.mean():.3f}); stated {share:.0%}, 5 SE = "
        f"{5 * se:.3f} ({5 * se_a:.3f} for {ra.size} pairs)",
        numbers={
            "frac_seed": frac,
            "frac_sharp": frac_a,
            "stated": share,
            "five_se": 5 * se,
            "five_se_sharp": 5 * se_a,
            "share_floor": floor,
            "share_floor_sharp": floor_a,
        },
        conditions="pairs exchangeable like the seed's own generator; for policies of "
        "different sharpness KL symmetry does not balance the ESS",
        ok_without_conditions=frac_a >= floor_a,
    )


@claim(
    "004-7.5-c",
    "7.5",
    "Validation 2: the mean ESS ratio at alpha* is 0.98.",
    FALSE,
    subject=0.98,
    correction=Variant(
        "The mean ESS ratio at alpha* is 1.00 (1.003 +- 0.002 on the seed's generator); for "
        "exchangeable pairs E[R] = E[(R + 1/R)/2] >= 1, so a mean below 1 is impossible there",
        1.0,
    ),
    method="sampled",
)
def _c_7_5_c(mean_claimed):
    r = _seed_example()["ratio"]
    mean = float(r.mean())
    se = float(r.std(ddof=1) / math.sqrt(r.size))
    z = abs(mean - mean_claimed) / se
    return decide(
        z < 5,
        f"seed's 7.4 generator (100 pairs, V = 1e4): mean ratio {mean:.4f} +- {se:.4f} (SE over "
        f"pairs); stated {mean_claimed}: {z:.1f} SE away (decision at 5 SE); swap-symmetrised "
        f"{float(np.mean((r + 1 / r) / 2)):.4f}",
        numbers={"mean": mean, "se": se, "z": z, "z_max": 5},
    )


@lru_cache(maxsize=1)
def _validation3_pair():
    rng = np.random.default_rng(MC_SEED + 8)
    V = 8
    lt = S.log_softmax_np(rng.normal(size=V))
    lq = S.log_softmax_np(rng.normal(size=V) * 1.5)
    qs = rng.dirichlet(np.ones(V), size=1000)
    geo_a = (0.1510003, 0.4330007, 0.7270001)
    geo = [np.exp(a * lt + (1 - a) * lq) for a in geo_a]
    lqs = np.log(np.vstack([qs, [g / g.sum() for g in geo]]))
    return lt, lq, lqs, geo_a


@claim(
    "004-7.5-d",
    "7.5",
    "Validation 3: 100% of 1000 random distributions are dominated by the geometric family.",
    HOLDS,
    links=(NB,),
    subject=_geo_np,
    counter_case=Variant(
        "100% of random distributions are dominated by the arithmetic mixture family",
        _mix_np,
    ),
    method="sampled",
)
def _c_7_5_d(family):
    lt, lq, lqs, geo_a = _validation3_pair()
    und = _undominated_by_matching(family, lt, lq, lqs)
    return decide(
        und == 0,
        f"V = {lt.size} seeded pair, {len(lqs) - len(geo_a)} Dirichlet(1) q plus {len(geo_a)} "
        f"geometric members (a = {', '.join(f'{a:.7f}' for a in geo_a)}): {und} of {len(lqs)} "
        f"not weakly dominated by the member with their KL to pi_theta ({MATCH_STEPS} bisection "
        f"steps, tolerance {DOM_TOL:g})",
        numbers={
            "undominated": und,
            "tol": DOM_TOL,
            "test_points": len(lqs),
            "match_steps": MATCH_STEPS,
            "vocabulary": lt.size,
        },
    )


@claim(
    "004-7.5-e",
    "7.5",
    "Validation 3: the dominating family member reduces both KLs by 20-35% on average.",
    UNCHECKABLE,
)
def _c_7_5_e():
    rng = np.random.default_rng(MC_SEED + 8)
    V = 8
    lt = S.log_softmax_np(rng.normal(size=V))
    lq = S.log_softmax_np(rng.normal(size=V) * 1.5)
    alphas = np.linspace(0, 1, 4001)
    fam = S.log_q_alpha_np(np.broadcast_to(lt, (4001, V)), np.broadcast_to(lq, (4001, V)), alphas)
    f_th, f_t = S.kl_np(fam, lt), S.kl_np(fam, lq)
    out = {}
    for conc in (1.0, 10.0):
        qs = np.log(rng.dirichlet(np.ones(V) * conc, size=500))
        k_th, k_t = S.kl_np(qs, lt), S.kl_np(qs, lq)
        best = [float(np.max(np.minimum(1 - f_th / a, 1 - f_t / b))) for a, b in zip(k_th, k_t)]
        out[conc] = float(np.mean(best))
    return uncheckable(
        "the seed does not say how its 1000 distributions are drawn nor which dominating "
        "member it measures; the number depends on both: best simultaneous reduction, mean "
        f"over 500 Dirichlet(1) q: {out[1.0]:.0%}, Dirichlet(10) q: {out[10.0]:.0%} "
        "(same V = 8 pair as 004-7.5-d)"
    )


TABLE_7_5 = (("1.00", "0.02", "50.0"), ("0.02", "1.00", "0.02"), ("0.65", "0.67", "0.97"))


@claim(
    "004-7.5-f",
    "7.5",
    "Validation 4 table: ESS ratio column = ESS_theta / ESS_t (50.0, 0.02, 0.97).",
    HOLDS,
    subject=TABLE_7_5,
    counter_case=Variant(
        "the on-policy row's ratio is 0.02 (ESS_t / ESS_theta)",
        (("1.00", "0.02", "0.02"), ("0.02", "1.00", "0.02"), ("0.65", "0.67", "0.97")),
    ),
    method="exhaustive",
)
def _c_7_5_f(rows):
    # interval arithmetic on the printed decimals: each true value lies within half a unit of
    # its last printed digit; the ratio is consistent iff the two intervals meet
    worst = Fraction(0)
    for a, b, r in rows:
        ha, hb, hr = _half_unit(a), _half_unit(b), _half_unit(r)
        lo = (Fraction(a) - ha) / (Fraction(b) + hb)
        hi = (Fraction(a) + ha) / (Fraction(b) - hb)
        rlo, rhi = Fraction(r) - hr, Fraction(r) + hr
        gap = max(rlo - hi, lo - rhi, Fraction(0))
        worst = max(worst, gap)
    return decide(
        worst == 0,
        "each printed ESS and ratio widened by half a unit of its last digit (exact rationals): "
        f"largest gap between the ratio interval and ESS_theta/ESS_t's interval {float(worst):.4g}",
        numbers={"max_gap": worst},
    )


@claim(
    "004-7.5-g",
    "7.5",
    "Validation 4 table values, on the seed's own random pairs (7.4 generator): on-policy "
    "(ESS_theta, ESS_t) = (1.00, 0.02), off-policy (0.02, 1.00), q* (0.65, 0.67).",
    FALSE,
    subject=((1.00, 0.02), (0.02, 1.00), (0.65, 0.67)),
    correction=Variant(
        "On the seed's generator (softmax(randn(10 000)) pairs): on-policy (1.00, 0.14), "
        "off-policy (0.14, 1.00), q* (0.61, 0.61) (theory for large V: e^-2 and e^-1/2)",
        ((1.00, 0.14), (0.14, 1.00), (0.61, 0.61)),
    ),
    method="sampled",
)
def _c_7_5_g(table):
    ex = _seed_example()
    cols = (
        (np.ones(100), ex["ess_t_at_theta"]),
        (ex["ess_theta_at_t"], np.ones(100)),
        (ex["ess_theta"], ex["ess_t"]),
    )
    worst_z, rows = 0.0, []
    for (a, b), (x, y) in zip(table, cols):
        for v, s in ((a, x), (b, y)):
            se = float(np.std(s, ddof=1) / math.sqrt(s.size))
            # printed to 2 decimals: half a unit 0.005 of rounding, then 5 SE of the mean
            z = max(abs(float(s.mean()) - v) - 0.005, 0.0) / max(se, 1e-300)
            worst_z = max(
                worst_z, z if se > 0 else (0.0 if abs(float(s.mean()) - v) <= 0.005 else np.inf)
            )
        rows.append(f"({x.mean():.3f}, {y.mean():.3f}) vs printed ({a}, {b})")
    return decide(
        worst_z < 5,
        "seed's 7.4 generator, 100 pairs, V = 1e4 (the only random pairs the seed describes; "
        "the table names none): on-policy, off-policy, q*: "
        + "; ".join(rows)
        + f"; worst distance beyond rounding {worst_z:.1f} SE (decision at 5 SE)",
        numbers={
            "worst_z": worst_z,
            "z_max": 5,
            "on_policy_ess_t": float(ex["ess_t_at_theta"].mean()),
            "qstar_ess_theta": float(ex["ess_theta"].mean()),
        },
    )


@claim(
    "004-7.5-h",
    "7.5",
    "Validation 4: q* is balanced and more sample-efficient than the on- and off-policy "
    "endpoints (its worse channel beats theirs).",
    FALSE,
    subject=_qstar_rule,
    correction=Variant(
        "The max-min ESS distribution (ESS-front member with ESS_theta = ESS_t) is balanced and "
        "beats both endpoints in its worse channel; q* need not (E2)",
        _ess_front_balanced,
    ),
    method="counterexample",
)
def _c_7_5_h(rule):
    rows, worst_margin, worst_bal = [], None, mpmath.mpf(0)
    with mpmath.workdps(30):
        dps = mpmath.mp.dps
        for pair in (E1, E2):
            lt, lq = _lp(pair)
            lqs = rule(lt, lq)
            eth, et = S.ess_fraction(lt, lqs), S.ess_fraction(lq, lqs)
            end = max(min(S.ess_fraction(lt, lq), 1), min(S.ess_fraction(lq, lt), 1))
            margin = min(eth, et) - end
            worst_margin = margin if worst_margin is None else min(worst_margin, margin)
            worst_bal = max(worst_bal, abs(mpmath.log(eth / et)))
            rows.append(f"{pair[0]}: ESS ({_n(eth)}, {_n(et)}), best endpoint min {_n(end)}")
    # balanced: the two ESS within 10% (Validation 2's band)
    return decide(
        worst_margin > 0 and worst_bal < math.log(1.1),
        f"{dps} digits: "
        + "; ".join(rows)
        + f"; worst margin of the worse channel over the endpoints "
        f"{_n(worst_margin)}, worst |log ESS ratio| {_n(worst_bal)} (balanced: < log 1.1)",
        numbers={"dps": dps, "worst_margin": worst_margin, "worst_abs_log_ratio": worst_bal},
    )


def _chain_links(theorem2_coef, front_same, balance_same):
    return {
        "theorem2_coef": theorem2_coef,
        "kl_front_is_ess_front": front_same,
        "ess_balance_is_kl_symmetry": balance_same,
    }


@claim(
    "004-7.6-a",
    "7.6",
    "Every link of the derivation (ESS-KL, Pareto front, ESS balance = KL symmetry) is a "
    "rigorous result; the chain has no heuristic assumption.",
    FALSE,
    subject=_chain_links(-1, True, True),
    correction=Variant(
        "Three links are wrong as stated: log ESS ≈ -2 KL (not -KL), the ESS front is not the "
        "KL front, and ESS balance picks another alpha than KL symmetry; the symmetry principle "
        "itself is an axiom",
        _chain_links(-2, False, False),
    ),
    method="counterexample",
)
def _c_7_6_a(links):
    _, _, ratio = S.log_ess_kl_series()
    d = _e1()
    with mpmath.workdps(30):
        dps = mpmath.mp.dps
        res, _ = _ess_kkt_residual(d["lt"], d["lq"], d["lqa"])
    front_same = bool(res < KKT_TOL)
    # alpha* and alpha_ESS are 50-digit roots: "the same alpha" means equal far below 1e-20
    balance_tol = mpmath.mpf(10) ** -20
    alpha_gap = abs(d["alpha"] - d["alpha_ess"])
    balance_same = bool(alpha_gap < balance_tol)
    computed = _chain_links(ratio, front_same, balance_same)
    wrong = [k for k in computed if sp.sympify(computed[k]) != sp.sympify(links[k])]
    return decide(
        not wrong,
        f"computed: Theorem 2 coefficient {ratio} (004-4.4-a), q* on the ESS front: {front_same} "
        f"(KKT residual {_n(res, 3)} at {dps} digits, 004-5.1-a), alpha* = alpha_ESS: {balance_same} (E1 "
        f"{_n(d['alpha'], 5)} vs {_n(d['alpha_ess'], 5)}); links stated wrongly: {wrong or 'none'}",
        numbers={
            "dps": dps,
            "links_wrong": len(wrong),
            "theorem2_coef": ratio,
            "kkt_residual": res,
            "alpha_gap": alpha_gap,
            "balance_tol": balance_tol,
        },
    )


SEED_6_5_CODE = """
def solve_kl_symmetry(pi_theta, pi_t, tol=1e-6, max_iter=50):
    alpha_low, alpha_high = 0.0, 1.0
    for _ in range(max_iter):
        alpha_mid = (alpha_low + alpha_high) / 2
        q_alpha = geometric_mean(pi_theta, pi_t, alpha_mid)
        log_ratio = np.log(pi_t + 1e-10) - np.log(pi_theta + 1e-10)
        delta = (q_alpha * log_ratio).sum()
        if delta > 0:
            alpha_low = alpha_mid
        else:
            alpha_high = alpha_mid
        if alpha_high - alpha_low < tol:
            break
    return (alpha_low + alpha_high) / 2

def geometric_mean(pi_theta, pi_t, alpha):
    log_q = alpha * np.log(pi_theta + 1e-10) + (1 - alpha) * np.log(pi_t + 1e-10)
    q = np.exp(log_q - log_q.max())
    return q / q.sum()
"""


@lru_cache(maxsize=1)
def _passes_per_iteration() -> int:
    """Elementwise passes over the vocabulary per bisection iteration of the printed 6.5 code:
    every arithmetic operation or numpy call whose operands involve a vocabulary-sized array
    (names pi_theta, pi_t, q_alpha, log_ratio, log_q, q), counted in the loop body and in
    geometric_mean (called once per iteration)."""
    import ast

    vec = {"pi_theta", "pi_t", "q_alpha", "log_ratio", "log_q", "q"}
    tree = ast.parse(SEED_6_5_CODE)
    bodies = []
    for node in ast.walk(tree):
        if isinstance(node, ast.For):
            bodies.extend(node.body)
        if isinstance(node, ast.FunctionDef) and node.name == "geometric_mean":
            bodies.extend(node.body)
    n = 0
    for stmt in bodies:
        for node in ast.walk(stmt):
            if isinstance(node, (ast.BinOp, ast.Call)):
                names = {x.id for x in ast.walk(node) if isinstance(x, ast.Name)}
                is_call_of_helper = (
                    isinstance(node, ast.Call) and getattr(node.func, "id", "") == "geometric_mean"
                )
                if names & vec and not is_call_of_helper:
                    n += 1
    return n


@claim(
    "004-7.7-a",
    "7.7",
    "At eps = 1e-6 the bisection does about 20 iterations, 50k x 20 = 1M operations for V = 50k.",
    HOLDS_WITH_CONDITIONS,
    subject=1_000_000,
    counter_case=Variant("50k x 50 = 2.5M operations (max_iter iterations)", 2_500_000),
    method="exhaustive",
)
def _c_7_7_a(ops):
    _, (pt2, pq2, _), _ = _llm_pair()
    _, it, _ = S.solve_kl_symmetry_seed_code(
        pt2[:1, :200] / pt2[:1, :200].sum(), pq2[:1, :200] / pq2[:1, :200].sum()
    )
    V = 50_000
    passes = _passes_per_iteration()
    return decide(
        ops == V * it,
        f"the seed code runs {it} iterations at tol 1e-6; V x iterations = {V * it:,}; stated "
        f"{ops:,}. Counting the printed code's elementwise passes per iteration ({passes}: logs, "
        f"products, sums, max, exp, divide) gives {V * it * passes:,}",
        numbers={"iterations": it, "ops_stated": ops, "passes_per_iteration": passes},
        conditions="counting one operation per vocabulary entry per iteration; the printed "
        "code makes more elementwise passes per iteration",
        ok_without_conditions=ops == V * it * passes,
    )


TIMES_7_7 = {"alpha_ms": (2.0, 3.0), "forward_ms": (10.0, 100.0)}


@claim(
    "004-7.7-b",
    "7.7",
    "With the seed's own timings (alpha* 2-3 ms, model forward pass 10-100 ms), the alpha* "
    "solve takes < 5% of the time.",
    FALSE,
    subject=0.05,
    correction=Variant(
        "With the seed's own figures alpha* takes 2-23% of (forward pass + alpha*); it is below "
        "5% only when the forward pass takes more than 57 ms. (The timings themselves are not "
        "checkable: no device, batch size or dtype is stated)",
        0.25,
    ),
    method="counterexample",
)
def _c_7_7_b(share_bound):
    (a_lo, a_hi), (f_lo, f_hi) = TIMES_7_7["alpha_ms"], TIMES_7_7["forward_ms"]
    worst = Fraction(a_hi) / (Fraction(f_lo) + Fraction(a_hi))
    best = Fraction(a_lo) / (Fraction(f_hi) + Fraction(a_lo))
    return decide(
        worst < share_bound,
        f"share of alpha* in (forward + alpha*) over the seed's printed ranges: {float(best):.1%} "
        f"(2 ms vs 100 ms) to {float(worst):.1%} (3 ms vs 10 ms); stated bound {share_bound:.0%}",
        numbers={"worst_share": worst, "best_share": best, "bound": share_bound},
    )


@claim(
    "004-7.7-c",
    "7.7",
    "alpha* has no closed form; even for V = 2 the equation is transcendental with no "
    "elementary solution.",
    FALSE,
    links=(P + "two_point_alpha_star",),
    subject=None,
    correction=Variant(
        "For V = 2, pi_theta = (p, 1-p), pi_t = (r, 1-r): alpha* = log(-B (1-r) / (A r)) / "
        "log(p (1-r) / ((1-p) r)) with A = log(r/p), B = log((1-r)/(1-p)) (elementary)",
        S.two_point_alpha_star()[0],
    ),
    method="counterexample",
)
def _c_7_7_c(closed_form):
    # the statement "no elementary solution" (subject None) is refuted by exhibiting one;
    # a stated formula (subject an expression) is verified against the numerical root
    cand = closed_form if closed_form is not None else S.two_point_alpha_star()[0]
    p, r = sorted(cand.free_symbols, key=lambda s: s.name)
    worst = mpmath.mpf(0)
    with mpmath.workdps(40):
        dps = mpmath.mp.dps
        for pv, rv in (("0.3", "0.8"), ("0.9", "0.2"), ("0.01", "0.5")):
            val = mpmath.mpf(str(sp.N(cand.subs({p: sp.Rational(pv), r: sp.Rational(rv)}), 45)))
            exact = S.alpha_star(
                S.log_probs([mpmath.mpf(pv), 1 - mpmath.mpf(pv)]),
                S.log_probs([mpmath.mpf(rv), 1 - mpmath.mpf(rv)]),
            )
            worst = max(worst, abs(val - exact))
    tol = mpmath.mpf(10) ** -30  # 40-digit root vs 45-digit evaluation
    verified = bool(worst < tol)
    return decide(
        verified == (closed_form is not None),
        f"V = 2: elementary candidate alpha* = {cand}; max |candidate - numerical root| over 3 "
        f"(p, r) = {_n(worst, 3)} at {dps} digits (verified: {verified}); the statement "
        + ("asserts none exists" if closed_form is None else "gives this formula"),
        numbers={"dps": dps, "max_abs_diff": worst, "verified": verified, "tol": tol},
    )


@claim(
    "004-7.7-d",
    "7.7",
    "The entropy approximation alpha = H(pi_theta)/(H(pi_theta) + H(pi_t)) is off by 5-10% "
    "typically and by at most about 30% in extreme cases.",
    FALSE,
    links=(P + "alpha_entropy",),
    subject=(0.05, 0.10, 0.30),
    correction=Variant(
        "On the seed's own generator the entropy rule is off by 0.3-0.7% typically (median, "
        "90th percentile); the error grows with the difference in sharpness (26% mean with "
        "pi_t's logits x3) and has no 30% bound (96% for pi_theta = (0.999, 0.001) vs uniform)",
        (0.0025, 0.0075, None),
    ),
    method="counterexample",
)
def _c_7_7_d(spec):
    lo, hi, mx = spec
    ex, asym = _seed_example(), _asym_example()
    med, q90 = (float(x) for x in np.quantile(ex["ent_err"], [0.5, 0.9]))
    with mpmath.workdps(30):
        dps = mpmath.mp.dps
        lt, lq = _lp(E_ENT)
        a, ae = S.alpha_star(lt, lq), S.alpha_entropy(lt, lq)
    extreme = float(abs(ae / a - 1))
    worst = max(extreme, float(asym["ent_err"].max()))
    ok_typ = lo <= med and q90 <= hi
    ok_max = mx is None or worst <= mx
    return decide(
        ok_typ and ok_max,
        f"seed's generator (100 pairs): relative error median {med:.2%}, 90th percentile "
        f"{q90:.2%}; pi_t's logits x3: mean {asym['ent_err'].mean():.1%}, max "
        f"{asym['ent_err'].max():.1%}; pi_theta = {E_ENT[0]}, pi_t = {E_ENT[1]}: alpha* = "
        f"{_n(a, 5)}, rule {_n(ae, 5)} ({extreme:.0%}, {dps} digits); stated typical [{lo:g}, {hi:g}], max {mx}",
        numbers={
            "dps": dps,
            "median": med,
            "q90": q90,
            "worst": worst,
            "typical_ok": ok_typ,
            "max_ok": ok_max,
        },
    )


def _reject_from_q(p, q):
    """The printed 7.7 scheme: on rejection, draw from q* itself."""
    return list(q)


def _reject_residual(p, q):
    """Standard speculative sampling: on rejection, draw from (q - p)_+ / sum (q - p)_+."""
    r = [max(b - a, 0) for a, b in zip(p, q)]
    z = mpmath.fsum(r)
    return [x / z for x in r]


@lru_cache(maxsize=1)
def _spec_draws():
    """Seeded draws shared by both schemes: proposals from pi_theta, acceptance uniforms,
    uniforms for the rejection draw (inverse CDF of whatever the scheme draws from)."""
    s = _speculative_e1()
    pt = np.array([float(x) for x in s["pt"]])
    q = np.array([float(x) for x in s["q"]])
    rng = np.random.default_rng(MC_SEED)
    n = 200_000
    prop = rng.choice(3, size=n, p=pt)
    accept = rng.random(n) < np.minimum(1.0, q[prop] / pt[prop])
    u = rng.random(n)
    return prop, accept, u, q, n


def _spec_check(rule):
    s = _speculative_e1()
    with mpmath.workdps(50):
        p, q = s["pt"], s["q"]
        beta = mpmath.fsum(min(a, b) for a, b in zip(p, q))
        r = rule(p, q)
        out = [min(a, b) + (1 - beta) * x for a, b, x in zip(p, q, r)]
        tv = S.tv(out, q)
    prop, accept, u, qf, n = _spec_draws()
    rf = np.array([float(x) for x in r])
    fresh = np.minimum(np.searchsorted(np.cumsum(rf), u * rf.sum(), side="right"), 2)
    f = np.bincount(np.where(accept, prop, fresh), minlength=3) / n
    z = float(np.max(np.abs(f - qf) / np.sqrt(qf * (1 - qf) / n)))
    return tv, f, z, q, out


@claim(
    "004-7.7-e",
    "7.7",
    "Speculative sampling as printed (propose from pi_theta, accept with min(1, q*/pi_theta), "
    "else draw from q*) strictly preserves q*.",
    FALSE,
    links=(P + "speculative_output_seed", NB),
    subject=_reject_from_q,
    correction=Variant(
        "The scheme preserves q* if on rejection one draws from the residual (q* - pi_theta)_+ "
        "/ sum (q* - pi_theta)_+ (standard speculative sampling), not from q*",
        _reject_residual,
    ),
    method="counterexample",
)
def _c_7_7_e(rule):
    tv, f, z, q, out = _spec_check(rule)
    tol = mpmath.mpf(10) ** -40  # 50-digit sums
    return decide(
        tv < tol and z < 5,
        f"E1 pi_theta = {E1[0]}, q* = {[_n(x, 4) for x in q]}: exact output distribution "
        f"min(pi_theta, q*) + (1 - beta) r = {[_n(x, 4) for x in out]}, TV to q* = {_n(tv, 3)}; "
        f"seeded Monte Carlo (2e5 draws) frequencies {np.round(f, 4).tolist()}, worst "
        f"{z:.1f} SE from q* (decision at 5 SE)",
        numbers={"tv_exact": tv, "mc_worst_z": z, "tol": tol, "z_max": 5},
    )


@claim(
    "004-7.7-f",
    "7.7",
    "(Corrected scheme) drawing from the residual (q* - pi_theta)_+ on rejection gives exactly q*.",
    HOLDS,
    links=(P + "speculative_output_residual", NB),
    subject=_reject_residual,
    counter_case=Variant(
        "drawing from q* itself on rejection (the printed scheme)", _reject_from_q
    ),
    method="sampled",
)
def _c_7_7_f(rule):
    tv, f, z, q, out = _spec_check(rule)
    tol = mpmath.mpf(10) ** -40
    return decide(
        tv < tol and z < 5,
        f"E1: exact TV(output, q*) = {_n(tv, 3)}; seeded Monte Carlo (2e5 draws) frequencies "
        f"{np.round(f, 4).tolist()} vs q* {[_n(x, 4) for x in q]}: worst {z:.1f} SE (decision at "
        "5 SE)",
        numbers={"tv_exact": tv, "mc_worst_z": z, "tol": tol, "z_max": 5},
    )


@claim(
    "004-7.7-g",
    "7.7",
    "The speculative scheme's acceptance rate is 40-60% (depending on alpha*).",
    FALSE,
    subject=(0.4, 0.6),
    correction=Variant(
        "Acceptance is sum min(pi_theta, q*) = 1 - TV(pi_theta, q*): 72-73% on the seed's own "
        "generator, 44% with pi_t's logits x3, -> 1 as pi_t -> pi_theta; no fixed range",
        (0.71, 0.74),
    ),
    method="counterexample",
)
def _c_7_7_g(rng_):
    lo, hi = rng_
    ex, asym = _seed_example(), _asym_example()
    acc = ex["accept"]
    s = _speculative_e1()
    return decide(
        lo <= float(acc.min()) and float(acc.max()) <= hi,
        f"acceptance = sum min(pi_theta, q*). Seed's 7.4 generator (100 pairs, V = 1e4): mean "
        f"{acc.mean():.3f}, range {acc.min():.3f}-{acc.max():.3f}; pi_t logits x3: "
        f"{asym['accept'].mean():.3f}; E1: {_n(s['accept'], 4)}; stated [{lo}, {hi}]",
        numbers={
            "acc_min": float(acc.min()),
            "acc_max": float(acc.max()),
            "acc_sharp": float(asym["accept"].mean()),
            "lo": lo,
            "hi": hi,
        },
    )


@claim(
    "004-7.7-h",
    "7.7",
    "The speculative scheme gives a 1.5-2x speed-up.",
    FALSE,
    subject=(1.5, 2.0),
    correction=Variant(
        "The printed scheme needs q*(candidate), i.e. alpha* and Z over the whole vocabulary "
        "(the full cost of q*), and saves at most one sampling pass: its speed-up over drawing "
        "from q* directly is at most 1 + 1/20 = 1.05",
        (1.0, 1.05),
    ),
    method="counterexample",
)
def _c_7_7_h(spec):
    lo, hi = spec
    # costs relative to computing q* (c_q = 1): direct = c_q + c_s; speculative = c_theta +
    # c_q + (1 - beta) c_s (accept_prob needs q*(candidate), the rejection branch samples q*).
    # Drawing from an explicit distribution is one pass over V, computing q* takes >= 20
    # bisection iterations of at least one pass each (004-6.5-b): c_s <= 1/20; c_theta >= 0.
    grid = np.linspace(0, 1, 101)
    best = 0.0
    for beta in grid:
        for cs in grid / 20:
            best = max(best, (1 + cs) / (1 + (1 - beta) * cs))
    return decide(
        lo <= best <= hi,
        f"supremum of direct / speculative cost over beta in [0, 1], c_theta >= 0, c_s in "
        f"[0, c_q/20]: {best:.4f} (at beta = 1, c_theta = 0, c_s = c_q/20); stated range "
        f"[{lo}, {hi}] must contain the attainable best",
        numbers={"max_speedup": best, "lo": lo, "hi": hi, "grid_points": grid.size},
    )


SNIPPET_7_7 = """
logits_theta = model_theta(input_ids)
logits_t = model_t(input_ids)
alphas = solve_kl_symmetry_batch(
    F.softmax(logits_theta, dim=-1),
    F.softmax(logits_t, dim=-1)
)
q_star = geometric_mean(probs_theta, probs_t, alphas)
"""

SNIPPET_7_7_FIXED = """
logits_theta = model_theta(input_ids)
logits_t = model_t(input_ids)
probs_theta = F.softmax(logits_theta, dim=-1)
probs_t = F.softmax(logits_t, dim=-1)
alphas = solve_kl_symmetry_batch(probs_theta, probs_t)
q_star = geometric_mean(probs_theta, probs_t, alphas)
"""


@claim(
    "004-7.7-i",
    "7.7",
    "The token-level snippet computes alpha* per position and then q* from the same probabilities.",
    FALSE,
    subject=SNIPPET_7_7,
    correction=Variant(
        "The snippet needs probs_theta = softmax(logits_theta), probs_t = softmax(logits_t) "
        "assigned before use (it reads them undefined); solve_kl_symmetry_batch is defined "
        "nowhere in the seed (6.5 defines solve_kl_symmetry for one pair)",
        SNIPPET_7_7_FIXED,
    ),
    method="counterexample",
)
def _c_7_7_i(snippet):
    import ast

    tree = ast.parse(snippet)
    assigned = {
        t.id for node in ast.walk(tree) if isinstance(node, ast.Assign) for t in node.targets
    }
    loaded = {
        n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
    }
    external = {"model_theta", "model_t", "input_ids", "F", "solve_kl_symmetry_batch"}
    undefined = sorted(loaded - assigned - external - {"geometric_mean"})
    return decide(
        not undefined,
        f"names read but never assigned (besides the models, input_ids, F and the two solver "
        f"functions): {undefined}",
        numbers={"undefined_names": len(undefined)},
    )


__all__ = ["FALSE", "HOLDS", "HOLDS_WITH_CONDITIONS", "UNCHECKABLE"]
