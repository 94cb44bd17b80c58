"""Oracles for ``reference/trust_region.py`` (seed 003, IS Reshape v5), written from the seed's
formulas and the docstrings' domains and edges, without the generator's code.

Routes: sech^2 as the seed's exponential definition 4 / (e^x + e^-x)^2 (section 3.1) and the
sigmoid as 1 / (1 + e^-z), each evaluated at a working precision raised by the number of
digits of its argument (x reaches 1e310 at log_w = 700); the adaptive gamma as the convex
combination gamma_base P_right + gamma_max P_wrong with both probabilities computed separately
from the exponential (not 1 - the other); the objectives' tanh term by tanh-sinh quadrature of
sech^2 (part 7's integral, not the closed form tanh); section 5.4's max rule branched on the
seed's text (C < 0). Infinite log_w are the limits stated in the docstrings.
"""

from __future__ import annotations

import mpmath

from isreshape.reference.golden import register_oracle

_GUARD = 20  # decimal digits beyond the ambient precision for every intermediate


def _int_digits(v) -> int:
    """Decimal digits of |v| before the point (0 for |v| < 1, zero or non-finite)."""
    if not v or not mpmath.isfinite(v):
        return 0
    return max(0, int(mpmath.mag(v) * 0.30103) + 2)


def _frac_digits(v) -> int:
    """Decimal digits lost to cancellation in e^v - 1 for small |v| (0 for |v| >= 1)."""
    if not v or not mpmath.isfinite(v) or abs(v) >= 1:
        return 0
    return int(-mpmath.mag(v) * 0.30103) + 2


def _x(log_w, tau):
    """(x, dps): x = tau (w - 1) / 2 for finite log_w, accurate to about dps - digits(x)
    significant digits, i.e. to 10^-(ambient + guard) in absolute terms."""
    lead = _int_digits(tau) + (int(log_w / mpmath.ln(10)) + 2 if log_w > 0 else 1)
    dps = mpmath.mp.dps + _GUARD + lead
    with mpmath.workdps(dps + _frac_digits(log_w)):
        x = tau * (mpmath.exp(log_w) - 1) / 2
    return x, dps


def _sech2_of(x, dps):
    """The seed's 4 / (e^x + e^-x)^2 at dps digits (no overflow in mpmath)."""
    with mpmath.workdps(dps):
        return 4 / (mpmath.exp(x) + mpmath.exp(-x)) ** 2


def _h(log_w, tau):
    if log_w == mpmath.inf:
        return mpmath.mpf(0)
    if log_w == -mpmath.inf:  # w = 0: x = -tau / 2
        return _sech2_of(-tau / 2, mpmath.mp.dps + _GUARD + _int_digits(tau))
    x, dps = _x(log_w, tau)
    return _sech2_of(x, dps)


def _wh(log_w, tau):
    if mpmath.isinf(log_w):  # w = 0 gives 0; w -> inf: w sech^2 ~ 4 w e^{-tau w} -> 0
        return mpmath.mpf(0)
    x, dps = _x(log_w, tau)
    with mpmath.workdps(dps):
        return mpmath.exp(log_w) * _sech2_of(x, dps)


def oracle_h(log_w, tau):
    return _h(log_w, tau)


def oracle_weight(log_w, tau):
    return _wh(log_w, tau)


def oracle_g_gamma(log_w, gamma, tau):
    with mpmath.workdps(mpmath.mp.dps + _GUARD):
        return (1 - gamma) + gamma * _wh(log_w, tau)


def oracle_phi_gamma(log_w, A, gamma, tau):
    if A == 0:
        return mpmath.mpf(0)
    with mpmath.workdps(mpmath.mp.dps + _GUARD):
        return A * ((1 - gamma) + gamma * _wh(log_w, tau))


def _C(log_w, A):
    """A log w, 0 when A = 0 (also at w = 0 and w = inf)."""
    if A == 0:
        return mpmath.mpf(0)
    with mpmath.workdps(mpmath.mp.dps + 40):  # product of two doubles: exact
        return A * log_w


def oracle_correctness(log_w, A):
    return _C(log_w, A)


def _sigmoid(z, lead):
    """1 / (1 + e^-z) at ambient + guard + lead digits, lead = digits of |z|."""
    if z == mpmath.inf:
        return mpmath.mpf(1)
    if z == -mpmath.inf:
        return mpmath.mpf(0)
    with mpmath.workdps(mpmath.mp.dps + _GUARD + lead):
        return 1 / (1 + mpmath.exp(-z))


def _p_pair(log_w, A, tau_c):
    """(P_wrong, P_right) = (sigma(-C / tau_c), sigma(C / tau_c)), each from its own exponential."""
    C = _C(log_w, A)
    if mpmath.isinf(C):
        return (mpmath.mpf(0), mpmath.mpf(1)) if C > 0 else (mpmath.mpf(1), mpmath.mpf(0))
    lead = _int_digits(C) + _int_digits(1 / tau_c) + 2
    with mpmath.workdps(mpmath.mp.dps + _GUARD + lead):
        z = -C / tau_c
    return _sigmoid(z, lead), _sigmoid(-z, lead)


def oracle_p_wrong(log_w, A, tau_c):
    return _p_pair(log_w, A, tau_c)[0]


def _gamma_pair(log_w, A, gamma_base, gamma_max, tau_c):
    """(gamma, 1 - gamma) with gamma = gamma_base + (gamma_max - gamma_base) P_wrong written as
    the convex combination gamma_base P_right + gamma_max P_wrong (no cancellation)."""
    pw, pr = _p_pair(log_w, A, tau_c)
    with mpmath.workdps(mpmath.mp.dps + _GUARD):
        return gamma_base * pr + gamma_max * pw, (1 - gamma_base) * pr + (1 - gamma_max) * pw


def oracle_gamma_adaptive(log_w, A, gamma_base, gamma_max, tau_c):
    return _gamma_pair(log_w, A, gamma_base, gamma_max, tau_c)[0]


def _g(log_w, A, gamma_base, gamma_max, tau_h, tau_c):
    g, one_minus = _gamma_pair(log_w, A, gamma_base, gamma_max, tau_c)
    with mpmath.workdps(mpmath.mp.dps + _GUARD):
        return one_minus + g * _wh(log_w, tau_h)


def oracle_g_adaptive(log_w, A, gamma_base, gamma_max, tau_h, tau_c):
    return _g(log_w, A, gamma_base, gamma_max, tau_h, tau_c)


def oracle_phi_adaptive(log_w, A, gamma_base, gamma_max, tau_h, tau_c):
    if A == 0:
        return mpmath.mpf(0)
    with mpmath.workdps(mpmath.mp.dps + _GUARD):
        return A * _g(log_w, A, gamma_base, gamma_max, tau_h, tau_c)


def oracle_g_max_5_4(log_w, A, gamma_base, gamma_max, tau_h, tau_c):
    # seed 003 section 5.4: g = max((1 - gamma) + gamma w h(w), 1) "when C < 0"
    g = _g(log_w, A, gamma_base, gamma_max, tau_h, tau_c)
    if _C(log_w, A) < 0:
        return max(g, mpmath.mpf(1))
    return g


_QUAD_CUTS = (0, 0.25, 0.5, 1, 2, 4, 8, 16, 32, 64, 96)


def _int_sech2(x):
    """integral_0^x sech^2(t) dt by tanh-sinh quadrature, split where the integrand changes
    scale; beyond |x| = 96 the rest of the integral, 1 - tanh(96) < 1e-83, is dropped."""
    if x == 0:
        return mpmath.mpf(0)
    a = abs(x)
    with mpmath.workdps(mpmath.mp.dps + 10):
        if a <= 1:
            pts = [0, a]
        else:
            pts = [c for c in _QUAD_CUTS if c < a] + [min(a, mpmath.mpf(96))]
        v = mpmath.quad(lambda t: 1 / mpmath.cosh(t) ** 2, pts)
    return v if x > 0 else -v


def _T(log_w, tau):
    """Part 7's integral of h(w) dw from 1 to w: (2 / tau) integral_0^x sech^2(t) dt with
    x = tau (w - 1) / 2 (substitution t = tau (v - 1) / 2); w = inf gives x = inf."""
    if log_w == mpmath.inf:
        return 2 / tau * _int_sech2(mpmath.mpf(97))
    if log_w == -mpmath.inf:
        x = -tau / 2
    else:
        x, _ = _x(log_w, tau)
    with mpmath.workdps(mpmath.mp.dps + _GUARD):
        return 2 / tau * _int_sech2(x)


def _f(log_w, one_minus, gamma, tau):
    T = _T(log_w, tau)
    with mpmath.workdps(mpmath.mp.dps + _GUARD):
        if one_minus == 0:  # gamma = 1: no log term (0 * inf at w = 0, inf is 0)
            return gamma * T
        if mpmath.isinf(log_w):
            return log_w
        return one_minus * log_w + gamma * T


def oracle_f_gamma(log_w, gamma, tau):
    return _f(log_w, 1 - gamma, gamma, tau)


def oracle_f_gamma_adaptive_7(log_w, A, gamma_base, gamma_max, tau_h, tau_c):
    g, one_minus = _gamma_pair(log_w, A, gamma_base, gamma_max, tau_c)
    return _f(log_w, one_minus, g, tau_h)


# ---------------------------------------------------------------- domains (from the docstrings)
# The module docstring: tau, tau_h, tau_c > 0 finite; gamma, gamma_base, gamma_max in [0, 1];
# log_w not NaN (-inf is w = 0, +inf is w = infinity, both accepted); A finite.


def _lw_ok(log_w) -> bool:
    return not mpmath.isnan(log_w)


def _a_ok(A) -> bool:
    return mpmath.isfinite(A)


def _tau_ok(tau) -> bool:
    return mpmath.isfinite(tau) and tau > 0


def _unit_ok(g) -> bool:
    return not mpmath.isnan(g) and 0 <= g <= 1


def _d_h(log_w, tau):
    return _lw_ok(log_w) and _tau_ok(tau)


def _d_g_gamma(log_w, gamma, tau):
    return _lw_ok(log_w) and _unit_ok(gamma) and _tau_ok(tau)


def _d_phi_gamma(log_w, A, gamma, tau):
    return _d_g_gamma(log_w, gamma, tau) and _a_ok(A)


def _d_correctness(log_w, A):
    return _lw_ok(log_w) and _a_ok(A)


def _d_p_wrong(log_w, A, tau_c):
    # p_wrong's docstring says tau_c > 0; the module's parameter rule adds "finite"
    return _d_correctness(log_w, A) and _tau_ok(tau_c)


def _d_gamma_adaptive(log_w, A, gamma_base, gamma_max, tau_c):
    # gamma_base and gamma_max in [0, 1] in either order (the docstring)
    return _d_p_wrong(log_w, A, tau_c) and _unit_ok(gamma_base) and _unit_ok(gamma_max)


def _d_adaptive(log_w, A, gamma_base, gamma_max, tau_h, tau_c):
    return _d_gamma_adaptive(log_w, A, gamma_base, gamma_max, tau_c) and _tau_ok(tau_h)


_EXP = "definition from seed 003 written from its text: "
_DEF_WHY = (
    "exact-arithmetic route: mpmath at 50 + 20 guard digits plus as many digits as the "
    "exponent's argument has (up to ~310), so every value is good to ~60 digits; 35 required"
)
_QUAD_WHY = (
    "tanh-sinh quadrature of sech^2 at 60 digits, split at 1/4, 1/2, 1, ..., 64 (smooth "
    "pieces): ~50 digits; 30 required, the dropped tail beyond t = 96 is below 1e-83"
)

register_oracle(
    "trust_region.trust_region_h",
    _EXP + "h = 4 / (e^x + e^-x)^2, x = tau (w - 1) / 2 (section 3.1; a one-line definition)",
    oracle_h,
    digits=35,
    why=_DEF_WHY,
    domain=_d_h,
)
register_oracle(
    "trust_region.trust_region_weight",
    _EXP + "w * 4 / (e^x + e^-x)^2 (section 3.2; a one-line definition)",
    oracle_weight,
    digits=35,
    why=_DEF_WHY,
    domain=_d_h,
)
register_oracle(
    "trust_region.g_gamma",
    _EXP + "(1 - gamma) + gamma w 4 / (e^x + e^-x)^2 (section 3.3; a one-line definition)",
    oracle_g_gamma,
    digits=35,
    why=_DEF_WHY,
    domain=_d_g_gamma,
)
register_oracle(
    "trust_region.phi_gamma",
    _EXP + "A ((1 - gamma) + gamma w 4 / (e^x + e^-x)^2) (a one-line definition)",
    oracle_phi_gamma,
    digits=35,
    why=_DEF_WHY,
    domain=_d_phi_gamma,
)
register_oracle(
    "trust_region.correctness",
    _EXP + "A log w at 90 digits (exact for doubles), 0 for A = 0 (a one-line definition)",
    oracle_correctness,
    digits=35,
    why=_DEF_WHY,
    domain=_d_correctness,
)
register_oracle(
    "trust_region.p_wrong",
    _EXP + "1 / (1 + exp(A log w / tau_c)) (section 4.3; a one-line definition)",
    oracle_p_wrong,
    digits=35,
    why=_DEF_WHY,
    domain=_d_p_wrong,
)
register_oracle(
    "trust_region.gamma_adaptive",
    _EXP + "gamma_base P_right + gamma_max P_wrong, P_wrong = 1 / (1 + exp(C / tau_c)) and "
    "P_right = 1 / (1 + exp(-C / tau_c)) each from its exponential (section 4.3)",
    oracle_gamma_adaptive,
    digits=35,
    why=_DEF_WHY,
    domain=_d_gamma_adaptive,
)
register_oracle(
    "trust_region.g_adaptive",
    _EXP + "(1 - gamma(w, A)) + gamma(w, A) w 4 / (e^x + e^-x)^2 with gamma and 1 - gamma as "
    "convex combinations of P_right, P_wrong (sections 4.4, 9.1)",
    oracle_g_adaptive,
    digits=35,
    why=_DEF_WHY,
    domain=_d_adaptive,
)
register_oracle(
    "trust_region.phi_adaptive",
    _EXP + "A times the section 4.4 weight (exponential definitions as g_adaptive's oracle)",
    oracle_phi_adaptive,
    digits=35,
    why=_DEF_WHY,
    domain=_d_adaptive,
)
register_oracle(
    "trust_region.g_adaptive_max_section_5_4",
    _EXP + "section 5.4's rule branched on the text: max(g, 1) when C = A log w < 0, else g "
    "(g as g_adaptive's oracle)",
    oracle_g_max_5_4,
    digits=35,
    why=_DEF_WHY,
    domain=_d_adaptive,
)
register_oracle(
    "trust_region.f_gamma",
    "part 7's integral: (1 - gamma) log w + gamma * integral_1^w sech^2(tau (v - 1) / 2) dv by "
    "mpmath.quad (not the closed form tanh)",
    oracle_f_gamma,
    digits=30,
    why=_QUAD_WHY,
    domain=_d_g_gamma,
)
register_oracle(
    "trust_region.f_gamma_adaptive_section_7",
    "(1 - gamma(w, A)) log w + gamma(w, A) * integral_1^w sech^2(tau_h (v - 1) / 2) dv by "
    "mpmath.quad, gamma(w, A) as the convex combination of P_right, P_wrong",
    oracle_f_gamma_adaptive_7,
    digits=30,
    why=_QUAD_WHY,
    domain=_d_adaptive,
)
