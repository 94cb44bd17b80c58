"""Oracles for ``reference/variational.py`` (seed 000, IS Reshape v2.1), written from the seed's
text and the docstrings' domains and edges, without the generator's code.

Routes: the marginal utility of section 2.3 by its piecewise definition in w (1 / (1 + w) for
A > 0, w / (1 + w) for A < 0), not the sigmoid of log w; gamma* of Theorem 4.1 as the matching
exponent log f* / log w of section 4.1 with f* = phi / (2 lambda |A|) from that piecewise phi;
the case-based gammas (sections 8.1-8.3 and the section 10 code) as expectations of the
per-case gamma over the four case probabilities P(w >< 1) P(A >< 0) (an explicit sum over the
support), each sigmoid 1 / (1 + e^-x) from its own exponential; the hard gamma from the case
table of section 8.1; lambda of appendix B by bisection on the budget equation
mean((f* A)^2) = C_max; the code's variance in exact rational arithmetic (fractions).
"""

from __future__ import annotations

from fractions import Fraction

import mpmath

from isreshape.reference.golden import register_oracle

_GUARD = 30  # decimal guard digits for every intermediate (products of doubles are exact)


def _sgn(x) -> int:
    return 1 if x > 0 else (-1 if x < 0 else 0)


def _sig(x):
    """sigma(x) = 1 / (1 + e^-x) (mpmath has no overflow; +-inf are the limits)."""
    if x == mpmath.inf:
        return mpmath.mpf(1)
    if x == -mpmath.inf:
        return mpmath.mpf(0)
    return 1 / (1 + mpmath.exp(-x))


def _mul(a, b):
    """a * b with 0 * (+-inf) = 0 (a zero temperature-free factor wins)."""
    if a == 0 or b == 0:
        return mpmath.mpf(0)
    return a * b


def _phi_pw(log_w, A):
    """Section 2.3: 1 / (1 + w) for A > 0, w / (1 + w) for A < 0, and the boxed form's
    1 / (1 + w^0) = 1/2 at A = 0; w = 0 and w = inf are the limits."""
    s = _sgn(A)
    if s == 0:
        return mpmath.mpf(1) / 2
    if log_w == mpmath.inf:
        return mpmath.mpf(0 if s > 0 else 1)
    if log_w == -mpmath.inf:
        return mpmath.mpf(1 if s > 0 else 0)
    w = mpmath.exp(log_w)
    return 1 / (1 + w) if s > 0 else w / (1 + w)


def oracle_phi_2_3(log_w, A):
    with mpmath.extradps(_GUARD):
        return _phi_pw(log_w, A)


def oracle_phi_hard(log_w, A):
    # section 6.3: phi = 1[sign(log w) != sign(A)] with sign(0) = 0 (a one-line definition)
    return mpmath.mpf(1 if _sgn(log_w) != _sgn(A) else 0)


def oracle_phi_soft(log_w, A, temperature=1.0):
    # section 6.3: sigma(-sign(A) log w T); for A > 0 that is 1 / (1 + w^T), for A < 0
    # w^T / (1 + w^T) = 1 / (1 + w^-T)
    s = _sgn(A)
    with mpmath.extradps(_GUARD):
        if s == 0:
            return mpmath.mpf(1) / 2
        x = _mul(log_w, mpmath.mpf(temperature))  # log of w^T
        return _sig(-x) if s > 0 else _sig(x)


def oracle_optimal_weight(log_w, A, lam):
    # section 3.3: the vertex f* = |A| phi / (2 lambda A^2) of the concave parabola
    # f |A| phi - lambda f^2 A^2 (the first-order condition of 3.2), phi of 2.3
    with mpmath.extradps(_GUARD):
        return abs(A) * _phi_pw(log_w, A) / (2 * lam * A * A)


def oracle_lambda(log_w, A, c_max, mask=None):
    """Appendix B: the lambda at which the sample mean of (f* A)^2, f* = phi / (2 lambda |A|),
    equals C_max, found by bisection on log lambda (the mean decreases in lambda)."""
    keep = [True] * len(log_w) if mask is None else list(mask)
    with mpmath.extradps(_GUARD):
        sel = [(lw, a) for lw, a, k in zip(log_w, A, keep) if k]
        phis = [_phi_pw(lw, a) for lw, a in sel]
        if all(p == 0 for p in phis):
            return mpmath.mpf(0)
        c = mpmath.mpf(c_max)

        def excess(lam):
            vals = [(p / (2 * lam * abs(a)) * a) ** 2 for p, (_, a) in zip(phis, sel)]
            return mpmath.fsum(vals) / len(vals) - c

        lo, hi = mpmath.mpf(1), mpmath.mpf(1)
        while excess(lo) < 0:
            lo /= 1024
        while excess(hi) > 0:
            hi *= 1024
        tol = mpmath.mpf(10) ** -(mpmath.mp.dps - 5)
        while hi - lo > tol * hi:
            mid = mpmath.sqrt(lo * hi)
            if excess(mid) > 0:
                lo = mid
            else:
                hi = mid
        return mpmath.sqrt(lo * hi)


def _gamma_match(log_w, A, alpha_log):
    """Section 4.1: the exponent with w^gamma = f*, i.e. log f* / log w, clipped to [0, 1];
    f* = phi / alpha with phi of 2.3 and log alpha = alpha_log (-inf for alpha = 0)."""
    s = _sgn(A)
    if alpha_log == -mpmath.inf:  # f* = +inf: w^gamma -> inf needs gamma -> +inf (w > 1)
        return mpmath.mpf(1 if log_w > 0 else 0)
    w = mpmath.exp(log_w)
    if s > 0:  # log(1 / (1 + w)); log1p keeps w ~ e^-700 (a sum 1 + w would round it away)
        log_phi = -mpmath.log1p(w)
    elif s < 0:  # log(w / (1 + w))
        log_phi = log_w - mpmath.log1p(w)
    else:
        log_phi = -mpmath.log(2)
    g = (log_phi - alpha_log) / log_w
    return min(max(g, mpmath.mpf(0)), mpmath.mpf(1))


def oracle_gamma_star_exact(log_w, A, lam):
    with mpmath.extradps(_GUARD):
        alpha = 2 * lam * abs(A)
        return _gamma_match(log_w, A, mpmath.log(alpha) if alpha else -mpmath.inf)


def oracle_gamma_star_approx(log_w, A):
    with mpmath.extradps(_GUARD):
        return _gamma_match(log_w, A, mpmath.mpf(0))  # alpha = 1


def oracle_gamma_6_1(log_w, A, eps):
    # section 6.1 as printed, phi of section 2.3 (a one-line definition)
    with mpmath.extradps(_GUARD):
        phi = _phi_pw(log_w, A)
        return 1 - phi * mpmath.log(1 / phi) / max(abs(log_w), mpmath.mpf(eps))


def oracle_gamma_6_2(log_w, A, gamma_base):
    # section 6.2's table: g = w / (1 + w) for A > 0, 1 / (1 + w) for A < 0 (w^0 / 2 at A = 0)
    s = _sgn(A)
    with mpmath.extradps(_GUARD):
        if s == 0:
            g = mpmath.mpf(1) / 2
        elif mpmath.isinf(log_w):
            g = mpmath.mpf(1 if (log_w > 0) == (s > 0) else 0)
        else:
            w = mpmath.exp(log_w)
            g = w / (1 + w) if s > 0 else 1 / (1 + w)
        return gamma_base + (1 - gamma_base) * g


def oracle_gamma_hard(log_w, A, gamma_base):
    # the case table of section 8.1; on its undefined boundaries the boxed Theorem 7.1
    # (no indicator fires) gives gamma_base
    gb = mpmath.mpf(gamma_base)
    if log_w > 0 and A > 0:
        return mpmath.mpf(0)  # case 1
    if log_w < 0 and A < 0:
        return mpmath.mpf(1)  # case 4
    return gb  # cases 2, 3 and the boundaries


def _case_expectation(values, l_x, a_x):
    """sum over the four cases (w > 1, A > 0), (w > 1, A < 0), (w < 1, A > 0), (w < 1, A < 0)
    of value * P(w side) P(A side), with P(w > 1) = sigma(l_x), P(A > 0) = sigma(a_x)."""
    hi, lo = _sig(l_x), _sig(-l_x)
    pos, neg = _sig(a_x), _sig(-a_x)
    probs = (hi * pos, hi * neg, lo * pos, lo * neg)
    return mpmath.fsum(v * p for v, p in zip(values, probs) if v != 0)


def oracle_gamma_8_2(log_w, A, gamma_base, temperature):
    # section 8.2 as printed: gamma_base sigma(-s l T) + sigma(l T) (1 - sigma(-s l T))
    s = _sgn(A)
    with mpmath.extradps(_GUARD):
        lT = _mul(log_w, mpmath.mpf(temperature))
        slT = _mul(s, lT)
        phi, one_minus_phi = _sig(-slT), _sig(slT)  # 1 - sigma(-x) = 1 / (1 + e^-x)
        return gamma_base * phi + _sig(lT) * one_minus_phi


def oracle_gamma_8_2_corrected(log_w, A, gamma_base, temperature):
    # section 7.4's soft form gamma_base phi + (1 - phi) 1[w < 1] with 1[w < 1] -> sigma(-l T)
    s = _sgn(A)
    with mpmath.extradps(_GUARD):
        lT = _mul(log_w, mpmath.mpf(temperature))
        slT = _mul(s, lT)
        return gamma_base * _sig(-slT) + _sig(-lT) * _sig(slT)


def oracle_gamma_8_3(log_w, A, gamma_base):
    # printed 8.3 = gamma_base + (1 - gamma_base) P(w > 1, A < 0) - gamma_base P(w < 1, A > 0)
    # = expectation of (gamma_base, 1, 0, gamma_base) over the four cases (no temperature)
    with mpmath.extradps(_GUARD):
        gb = mpmath.mpf(gamma_base)
        return _case_expectation((gb, mpmath.mpf(1), 0, gb), log_w, A)


def oracle_gamma_8_3_corrected(log_w, A, gamma_base, temperature):
    # the 8.1 table (0, gamma_base, gamma_base, 1) in expectation over the tempered cases
    with mpmath.extradps(_GUARD):
        gb = mpmath.mpf(gamma_base)
        T = mpmath.mpf(temperature)
        return _case_expectation((0, gb, gb, mpmath.mpf(1)), _mul(log_w, T), _mul(A, T))


def _code_gamma(log_w, A, mask, rho_min, gamma_min, gamma_max, temperature):
    """The section 10 code step by step: torch's unbiased var of the selected log_w (exact,
    in fractions), gamma_base = max(gamma_min, min(gamma_max, sqrt(-log rho / var))) or
    gamma_max when var < 1e-8, then the four case probabilities and the clamp."""
    keep = [True] * len(log_w) if mask is None else [bool(m) for m in mask]
    sel = [Fraction(float(x)) for x, k in zip(log_w, keep) if k]
    if len(sel) > 1:
        mean = sum(sel) / len(sel)
        var = sum((x - mean) ** 2 for x in sel) / (len(sel) - 1)
    else:
        var = Fraction(0)
    gmin, gmax = mpmath.mpf(gamma_min), mpmath.mpf(gamma_max)
    if var < Fraction(1, 10**8):
        gb = gmax
    else:
        v = mpmath.mpf(var.numerator) / var.denominator
        gb = min(gmax, mpmath.sqrt(-mpmath.log(mpmath.mpf(rho_min)) / v))
    gb = max(gmin, gb)
    T = mpmath.mpf(temperature)
    out = []
    for lw, a in zip(log_w, A):
        g = _case_expectation((0, gb, gb, mpmath.mpf(1)), _mul(lw, T), _mul(a, T))
        out.append(min(max(g, gmin), gmax))
    return out, keep


def oracle_code_gamma(
    log_w, A, mask=None, rho_min=0.3, gamma_min=0.0, gamma_max=1.0, temperature=5.0
):
    with mpmath.extradps(_GUARD):
        return _code_gamma(log_w, A, mask, rho_min, gamma_min, gamma_max, temperature)[0]


def oracle_code_weight(
    log_w, A, mask=None, rho_min=0.3, gamma_min=0.0, gamma_max=1.0, temperature=5.0
):
    # pg_loss = -sum(sg(w^gamma) A log_prob m) / sum(m): d(-pg_loss)/d log_prob_i
    with mpmath.extradps(_GUARD):
        gam, keep = _code_gamma(log_w, A, mask, rho_min, gamma_min, gamma_max, temperature)
        n = sum(keep)
        return [
            mpmath.exp(g * lw) * a / n if k else mpmath.mpf(0)
            for g, lw, a, k in zip(gam, log_w, A, keep)
        ]


# ---------------------------------------------------------------- domains (from the docstrings)


def _nan(x) -> bool:
    return mpmath.isnan(mpmath.mpf(x))


def _fin(x) -> bool:
    return mpmath.isfinite(mpmath.mpf(x))


def _pos(x) -> bool:
    """finite and > 0 (temperature, lam, eps, c_max)."""
    return _fin(x) and mpmath.mpf(x) > 0


def _unit(x) -> bool:
    return not _nan(x) and 0 <= mpmath.mpf(x) <= 1


def _tok(log_w, A) -> bool:
    """log_w in [-inf, inf] not NaN, A finite."""
    return not _nan(log_w) and _fin(A)


def _d_tok(log_w, A):
    return _tok(log_w, A)


def _d_soft(log_w, A, temperature=1.0):
    return _tok(log_w, A) and _pos(temperature)


def _d_optimal_weight(log_w, A, lam):
    # A nonzero: f* = phi / (2 lambda |A|)
    return _tok(log_w, A) and A != 0 and _pos(lam)


def _mask_ok(mask, n) -> bool:
    return mask is None or len(mask) == n


def _d_lambda(log_w, A, c_max, mask=None):
    """Equal-length samples, log_w without NaN, A finite, nonzero where selected, c_max finite
    > 0, at least one selected entry."""
    if len(A) != len(log_w) or not _mask_ok(mask, len(log_w)):
        return False
    keep = [True] * len(log_w) if mask is None else [bool(m) for m in mask]
    return (
        not any(_nan(v) for v in log_w)
        and all(_fin(a) for a in A)
        and any(keep)
        and all(a != 0 for a, k in zip(A, keep) if k)
        and _pos(c_max)
    )


def _d_gamma_star_exact(log_w, A, lam):
    # log_w finite and nonzero (w = 1 makes .../log w undefined)
    return _fin(log_w) and log_w != 0 and _fin(A) and _pos(lam)


def _d_gamma_star_approx(log_w, A):
    return _fin(log_w) and log_w != 0 and _fin(A)


def _d_gamma_6_1(log_w, A, eps):
    return _fin(log_w) and _fin(A) and _pos(eps)


def _d_gamma_base(log_w, A, gamma_base):
    return _tok(log_w, A) and _unit(gamma_base)


def _d_gamma_base_t(log_w, A, gamma_base, temperature):
    return _d_gamma_base(log_w, A, gamma_base) and _pos(temperature)


def _d_code_gamma(log_w, A, mask=None, rho_min=0.3, gamma_min=0.0, gamma_max=1.0, temperature=5.0):
    """Equal-length log_w and A, all finite; rho_min in (0, 1];
    0 <= gamma_min <= gamma_max <= 1; temperature finite > 0 (an empty mask is valid)."""
    if len(A) != len(log_w) or not _mask_ok(mask, len(log_w)):
        return False
    if not all(_fin(v) for v in list(log_w) + list(A)):
        return False
    rho, gmin, gmax = (mpmath.mpf(v) for v in (rho_min, gamma_min, gamma_max))
    if _nan(rho) or not 0 < rho <= 1 or _nan(gmin) or _nan(gmax):
        return False
    return 0 <= gmin <= gmax <= 1 and _pos(temperature)


def _d_code_weight(log_w, A, mask=None, rho_min=0.3, gamma_min=0.0, gamma_max=1.0, temperature=5.0):
    # as the gamma, and the loss divides by mask.sum(): an empty mask is invalid
    if not _d_code_gamma(log_w, A, mask, rho_min, gamma_min, gamma_max, temperature):
        return False
    keep = [True] * len(log_w) if mask is None else [bool(m) for m in mask]
    return any(keep)


_DOMAIN = {
    "marginal_utility_section_2_3": _d_tok,
    "marginal_utility_hard": _d_tok,
    "marginal_utility_soft": _d_soft,
    "optimal_weight": _d_optimal_weight,
    "lagrange_multiplier_variance_budget": _d_lambda,
    "gamma_star_exact": _d_gamma_star_exact,
    "gamma_star_approx": _d_gamma_star_approx,
    "gamma_approx_section_6_1": _d_gamma_6_1,
    "gamma_practical_section_6_2": _d_gamma_base,
    "gamma_hard": _d_gamma_base,
    "gamma_soft_section_8_2": _d_gamma_base_t,
    "gamma_soft_section_8_2_corrected": _d_gamma_base_t,
    "gamma_soft_section_8_3": _d_gamma_base,
    "gamma_soft_section_8_3_corrected": _d_gamma_base_t,
    "is_reshape_v2_gamma": _d_code_gamma,
    "is_reshape_v2_gradient_weight": _d_code_weight,
}

_EXACT_WHY = (
    "mpmath at 50 + 30 guard digits: products of doubles are exact, each exp / log correctly "
    "rounded, no cancellation beyond the guard digits; 35 required"
)


def _reg(name, route, fn, digits=35, why=_EXACT_WHY):
    register_oracle(f"variational.{name}", route, fn, digits=digits, why=why, domain=_DOMAIN[name])


_reg(
    "marginal_utility_section_2_3",
    "section 2.3's piecewise definition in w: 1 / (1 + w) for A > 0, w / (1 + w) for A < 0, "
    "1/2 at A = 0 (the boxed 1 / (1 + w^0)), not the sigmoid of log w",
    oracle_phi_2_3,
)
_reg(
    "marginal_utility_hard",
    "section 6.3: 1[sign(log w) != sign(A)], sign(0) = 0 (a one-line definition)",
    oracle_phi_hard,
)
_reg(
    "marginal_utility_soft",
    "section 6.3 soft: 1 / (1 + w^T) for A > 0, 1 / (1 + w^-T) for A < 0, 1/2 at A = 0 "
    "(a one-line definition, w^T = exp(T log w))",
    oracle_phi_soft,
)
_reg(
    "optimal_weight",
    "section 3.2-3.3: the vertex |A| phi / (2 lambda A^2) of the pointwise Lagrangian, phi by "
    "section 2.3's piecewise definition (a one-line definition)",
    oracle_optimal_weight,
)
_reg(
    "lagrange_multiplier_variance_budget",
    "appendix B's budget equation mean((f* A)^2) = C_max solved for lambda by bisection on "
    "log lambda (not the closed form sqrt), f* = phi / (2 lambda |A|) with section 2.3's phi",
    oracle_lambda,
    digits=35,
    why="bisection to a relative bracket of 1e-75 at 80 digits; 35 required",
)
_reg(
    "gamma_star_exact",
    "section 4.1's matching exponent log f* / log w (w^gamma = f*), f* = phi / (2 lambda |A|) "
    "with section 2.3's piecewise phi, clipped to [0, 1]; alpha = 0 gives f* = inf",
    oracle_gamma_star_exact,
)
_reg(
    "gamma_star_approx",
    "section 4.1's matching exponent log f* / log w with alpha = 1 (f* = phi of section 2.3, "
    "piecewise), clipped to [0, 1]",
    oracle_gamma_star_approx,
)
_reg(
    "gamma_approx_section_6_1",
    "section 6.1 as printed, 1 - phi log(1 / phi) / max(|log w|, eps), phi by section 2.3's "
    "piecewise definition (a one-line definition)",
    oracle_gamma_6_1,
)
_reg(
    "gamma_practical_section_6_2",
    "section 6.2: gamma_base + (1 - gamma_base) g with g from its table (w / (1 + w) for A > 0, "
    "1 / (1 + w) for A < 0, 1/2 at A = 0)",
    oracle_gamma_6_2,
)
_reg(
    "gamma_hard",
    "section 8.1's case table branched on (w vs 1, A vs 0); the boundaries give gamma_base "
    "(Theorem 7.1 with no indicator firing)",
    oracle_gamma_hard,
)
_reg(
    "gamma_soft_section_8_2",
    "section 8.2 as printed with 1 - sigma(-x) taken as 1 / (1 + e^-x) (sigmoids from their "
    "exponentials; a one-line definition)",
    oracle_gamma_8_2,
)
_reg(
    "gamma_soft_section_8_2_corrected",
    "section 7.4's soft form gamma_base phi + (1 - phi) sigma(-l T), phi = sigma(-s l T), "
    "sigmoids from their exponentials",
    oracle_gamma_8_2_corrected,
)
_reg(
    "gamma_soft_section_8_3",
    "expectation of (gamma_base, 1, 0, gamma_base) over the four case probabilities "
    "sigma(+-l) sigma(+-A): the printed 8.3 rewritten with P1 + P2 + P3 + P4 = 1",
    oracle_gamma_8_3,
)
_reg(
    "gamma_soft_section_8_3_corrected",
    "expectation of the 8.1 table (0, gamma_base, gamma_base, 1) over the tempered case "
    "probabilities sigma(+-l T) sigma(+-A T) (an explicit sum over the four cases)",
    oracle_gamma_8_3_corrected,
)
_reg(
    "is_reshape_v2_gamma",
    "the section 10 code step by step: unbiased variance in exact fractions, the code's "
    "min/max gamma_base (not the closed form), the four case probabilities, the clamp",
    oracle_code_gamma,
)
_reg(
    "is_reshape_v2_gradient_weight",
    "d(-pg_loss)/d log_prob of the section 10 loss: m w^gamma A / sum(m) with gamma from the "
    "code step by step (exact-fraction variance)",
    oracle_code_weight,
)
