"""Oracles for ``reference/gamma.py``: every rule's gamma as the largest exponent that keeps the
log-normal ESS fraction of its definition (seed 001 Theorem 8.2: exp(-gamma^2 Var)) at least
rho_min, found by bisection on that inequality (not the square-root closed form); sample
variances in exact rationals (Fraction of the float64 inputs); the seed codes' thresholds,
floors, clamps and NaN behaviour branched from their docstrings' reading of the code."""

from __future__ import annotations

from fractions import Fraction

import mpmath

from isreshape.reference.golden import register_oracle

_GUARD = 25  # the root's relative accuracy loses log10(1 / |log rho_min|) digits


def _frac(x) -> Fraction:
    return Fraction(float(x))  # every input is a float64: exact


def _unbiased_var(xs) -> Fraction:
    """Two-pass unbiased variance in exact rationals (n >= 2)."""
    fs = [_frac(v) for v in xs]
    n = len(fs)
    mean = sum(fs, Fraction(0)) / n
    return sum(((v - mean) ** 2 for v in fs), Fraction(0)) / (n - 1)


def _mp(q: Fraction):
    return mpmath.mpf(q.numerator) / q.denominator


def _largest_gamma(ok, cap=mpmath.inf):
    """The largest g in [0, cap] with ok(g), for ok true at 0 and monotone (true below the
    root, false above): powers of two bracket the root, then bisection to the working
    precision. ok true everywhere gives cap (+inf when unbounded)."""
    if cap != mpmath.inf and ok(cap):
        return mpmath.mpf(cap)
    two = mpmath.mpf(2)
    hi = mpmath.mpf(1)
    if ok(hi):
        while ok(hi):
            hi *= 2
            if hi > two**4000:
                return mpmath.inf
        lo = hi / 2
    else:
        lo = hi / 2
        while not ok(lo):
            lo /= 2
            if lo < two**-4000:
                return mpmath.mpf(0)
        hi = lo * 2
    tol = mpmath.mpf(10) ** -(mpmath.mp.dps - 3)
    while hi - lo > tol * hi:
        mid = (lo + hi) / 2
        if ok(mid):
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def _ess_rule(var, rho_min, cap=mpmath.inf, offset=0):
    """Largest gamma in [0, cap] with ESS/n = exp(-gamma^2 var - offset) >= rho_min."""
    if var == mpmath.inf:
        return mpmath.mpf(0)
    rho_min = mpmath.mpf(rho_min)  # a default arrives as a Python float

    def ok(g):  # exp(.) >= rho_min as expm1(.) >= rho_min - 1: no rounding to 1 at tiny g
        return mpmath.expm1(-(g * g) * var - offset) >= rho_min - 1

    return _largest_gamma(ok, cap)


def _gamma_star_ess(sigma2, rho_min):
    with mpmath.extradps(_GUARD):
        return +_ess_rule(sigma2, rho_min, cap=1)


def _gamma_reward_adjusted(sigma2, sigma_r2, tau, rho_min):
    """The printed rule is Theorem 8.3 for the tempered factor (w e^(r / tau))^gamma, whose log
    has variance sigma2 + sigma_r2 / tau^2."""
    with mpmath.extradps(_GUARD):
        return +_ess_rule(sigma2 + sigma_r2 / (tau * tau), rho_min, cap=1)


def _gamma_reward_adjusted_corrected(sigma2, sigma_r2, tau, rho_min):
    """Largest gamma in [0, 1] with ESS/n of w^gamma e^(r / tau) >= rho_min; no feasible gamma
    (the reward term alone is below rho_min) gives 0."""
    with mpmath.extradps(_GUARD):
        offset = sigma_r2 / (tau * tau)
        if mpmath.expm1(-offset) < rho_min - 1:
            return mpmath.mpf(0)
        return +_ess_rule(sigma2, rho_min, cap=1, offset=offset)


def _gamma_khat_bound(khat, threshold=0.7):
    """gamma k-hat <= threshold (k-hat of w^gamma is gamma k-hat), in exact rationals."""
    if khat == mpmath.inf:
        return mpmath.mpf(0)
    if khat <= 0:
        return mpmath.inf
    with mpmath.extradps(_GUARD):
        return +_mp(_frac(threshold) / _frac(khat))


_THRESHOLD = Fraction(1e-8)  # the seed's double 1e-8


def _compute_optimal_gamma_seed_code(log_pi, log_mu, rho_min=0.3):
    d = [_frac(p) - _frac(m) for p, m in zip(log_pi, log_mu)]
    n = len(d)
    mean = sum(d, Fraction(0)) / n
    var = sum(((v - mean) ** 2 for v in d), Fraction(0)) / (n - 1)
    if var < _THRESHOLD:
        return mpmath.mpf(1)
    with mpmath.extradps(_GUARD):
        return +_ess_rule(_mp(var), rho_min, cap=1)


def _trainer_gamma_seed_code(log_w, rho_min=0.3, gamma_min=0.0, gamma_max=1.0):
    var = _unbiased_var(log_w)
    if var < _THRESHOLD:
        return mpmath.mpf(gamma_max)
    with mpmath.extradps(_GUARD):
        r = _ess_rule(_mp(var), rho_min)  # unclipped
        return +max(mpmath.mpf(gamma_min), min(mpmath.mpf(gamma_max), r))


def _sign_groups(log_w, A, mask=None):
    keep = [True] * len(log_w) if mask is None else list(mask)
    pos = [lw for lw, a, k in zip(log_w, A, keep) if k and a > 0]
    neg = [lw for lw, a, k in zip(log_w, A, keep) if k and a < 0]
    return pos, neg


def _per_sign_gamma(
    log_w,
    A,
    mask=None,
    rho_min=0.3,
    gamma_pos_range=(0.1, 0.99),
    gamma_neg_range=(1.01, 1.99),
    default_pos=0.5,
    default_neg=1.5,
):
    """Section 9.1's rule per sign: gamma_pos = the largest gamma with ESS/n >= rho_min clipped
    to its range; gamma_neg = 1 + that for the negative tokens, clipped; no spread measured (one
    token) is an unbounded r; no token the default."""
    pos, neg = _sign_groups(log_w, A, mask)
    out = []
    with mpmath.extradps(_GUARD):
        for group, shift, (lo, hi), default in (
            (pos, 0, gamma_pos_range, default_pos),
            (neg, 1, gamma_neg_range, default_neg),
        ):
            lo, hi = mpmath.mpf(lo), mpmath.mpf(hi)
            if not group:
                out.append(mpmath.mpf(default))
                continue
            r = mpmath.inf if len(group) < 2 else _ess_rule(_mp(_unbiased_var(group)), rho_min)
            x = shift + r
            out.append(+(lo if x < lo else hi if x > hi else x))
    return out


def _per_sign_gamma_seed_code(
    log_w, A, rho_min=0.3, gamma_pos_range=(0.1, 0.99), gamma_neg_range=(1.01, 1.99)
):
    """The seed's compute_gamma as its docstring reads it: variance floored at the double 1e-8;
    a single token is a NaN variance, against which Python's max / min keep their first
    argument."""
    pos, neg = _sign_groups(log_w, A)
    lo_p, hi_p = (mpmath.mpf(v) for v in gamma_pos_range)
    lo_n, hi_n = (mpmath.mpf(v) for v in gamma_neg_range)
    out = []
    with mpmath.extradps(_GUARD):
        for group, sign in ((pos, 1), (neg, -1)):
            if not group:
                out.append(mpmath.mpf("0.5") if sign > 0 else mpmath.mpf("1.5"))
                continue
            if len(group) < 2:  # NaN: min(hi, nan) = hi, max(lo, hi) = max(lo, hi)
                out.append(max(lo_p, hi_p) if sign > 0 else max(lo_n, 1 + (hi_n - 1)))
                continue
            var = max(_unbiased_var(group), _THRESHOLD)
            r = _ess_rule(_mp(var), rho_min)
            if sign > 0:
                out.append(+max(lo_p, min(hi_p, r)))
            else:
                out.append(+max(lo_n, 1 + min(hi_n - 1, r)))
    return out


# ---------------------------------------------------------------- domains (from the docstrings)


def _fin(x) -> bool:
    return mpmath.isfinite(x)


def _rho_ok(rho_min) -> bool:
    return not mpmath.isnan(rho_min) and 0 < rho_min <= 1


def _var_ok(v) -> bool:
    """A variance: >= 0, finite or +inf, not NaN."""
    return not mpmath.isnan(v) and v >= 0


def _d_gamma_star_ess(sigma2, rho_min):
    return _var_ok(sigma2) and _rho_ok(rho_min)


def _d_reward(sigma2, sigma_r2, tau, rho_min):
    return _var_ok(sigma2) and _var_ok(sigma_r2) and _fin(tau) and tau > 0 and _rho_ok(rho_min)


def _d_khat(khat, threshold=0.7):
    threshold = mpmath.mpf(threshold)
    return not mpmath.isnan(khat) and _fin(threshold) and threshold > 0


def _d_compute_optimal(log_pi, log_mu, rho_min=0.3):
    return (
        len(log_pi) == len(log_mu) >= 2
        and all(_fin(v) for v in list(log_pi) + list(log_mu))
        and _rho_ok(mpmath.mpf(rho_min))
    )


def _d_trainer_gamma(log_w, rho_min=0.3, gamma_min=0.0, gamma_max=1.0):
    return (
        len(log_w) >= 2
        and all(_fin(v) for v in log_w)
        and _rho_ok(mpmath.mpf(rho_min))
        and _fin(mpmath.mpf(gamma_min))
        and _fin(mpmath.mpf(gamma_max))
    )


def _range_ok(r, ordered) -> bool:
    lo, hi = (mpmath.mpf(v) for v in r)
    return _fin(lo) and _fin(hi) and (lo <= hi or not ordered)


def _d_per_sign(
    log_w,
    A,
    mask=None,
    rho_min=0.3,
    gamma_pos_range=(0.1, 0.99),
    gamma_neg_range=(1.01, 1.99),
    default_pos=0.5,
    default_neg=1.5,
):
    """log_w and A finite everywhere (masked-out entries too), equal lengths, mask booleans of
    that length, 0 < rho_min <= 1, finite ranges with lo <= hi, finite defaults."""
    if len(A) != len(log_w) or not all(_fin(v) for v in list(log_w) + list(A)):
        return False
    if mask is not None and len(mask) != len(log_w):
        return False
    return (
        _rho_ok(mpmath.mpf(rho_min))
        and _range_ok(gamma_pos_range, True)
        and _range_ok(gamma_neg_range, True)
        and _fin(mpmath.mpf(default_pos))
        and _fin(mpmath.mpf(default_neg))
    )


def _d_per_sign_seed(
    log_w, A, rho_min=0.3, gamma_pos_range=(0.1, 0.99), gamma_neg_range=(1.01, 1.99)
):
    """As per_sign_gamma without a mask and without lo <= hi (the code returns lo then)."""
    if len(A) != len(log_w) or not all(_fin(v) for v in list(log_w) + list(A)):
        return False
    return (
        _rho_ok(mpmath.mpf(rho_min))
        and _range_ok(gamma_pos_range, False)
        and _range_ok(gamma_neg_range, False)
    )


_DOMAIN = {
    "gamma_star_ess": _d_gamma_star_ess,
    "gamma_reward_adjusted": _d_reward,
    "gamma_reward_adjusted_corrected": _d_reward,
    "gamma_khat_bound": _d_khat,
    "compute_optimal_gamma_seed_code": _d_compute_optimal,
    "trainer_gamma_seed_code": _d_trainer_gamma,
    "per_sign_gamma": _d_per_sign,
    "per_sign_gamma_seed_code": _d_per_sign_seed,
}


_BISECT = (
    "bisection on the defining inequality exp(-gamma^2 Var) >= rho_min (the log-normal ESS "
    "fraction of Theorem 8.2, compared as expm1 >= rho_min - 1) at 25 guard digits"
)
_WHY = "bisection to 10^-72 relative at 75 digits; the root's conditioning costs <= 6 digits"

register_oracle(
    "gamma.gamma_star_ess",
    "largest gamma in [0, 1] with exp(-sigma2 gamma^2) >= rho_min, by " + _BISECT,
    _gamma_star_ess,
    digits=35,
    why=_WHY,
    domain=_DOMAIN["gamma_star_ess"],
)
register_oracle(
    "gamma.gamma_reward_adjusted",
    "the printed rule as Theorem 8.3 for (w e^(r/tau))^gamma, Var = sigma2 + sigma_r2 / "
    "tau^2: largest gamma in [0, 1] by " + _BISECT,
    _gamma_reward_adjusted,
    digits=35,
    why=_WHY,
    domain=_DOMAIN["gamma_reward_adjusted"],
)
register_oracle(
    "gamma.gamma_reward_adjusted_corrected",
    "largest gamma in [0, 1] with exp(-gamma^2 sigma2 - sigma_r2 / tau^2) >= rho_min (0 if "
    "infeasible at gamma = 0), by " + _BISECT,
    _gamma_reward_adjusted_corrected,
    digits=35,
    why=_WHY,
    domain=_DOMAIN["gamma_reward_adjusted_corrected"],
)
register_oracle(
    "gamma.gamma_khat_bound",
    "threshold / khat in exact rationals (the largest gamma with gamma khat <= threshold; "
    "one-line definition), khat <= 0 and +inf branched",
    _gamma_khat_bound,
    digits=35,
    why="an exact quotient rounded to 75 digits",
    domain=_DOMAIN["gamma_khat_bound"],
)
register_oracle(
    "gamma.compute_optimal_gamma_seed_code",
    "unbiased variance of log_pi - log_mu in exact rationals, the double 1e-8 threshold, then "
    "the largest gamma in [0, 1] by " + _BISECT,
    _compute_optimal_gamma_seed_code,
    digits=35,
    why=_WHY,
    domain=_DOMAIN["compute_optimal_gamma_seed_code"],
)
register_oracle(
    "gamma.trainer_gamma_seed_code",
    "unbiased variance in exact rationals, the double 1e-8 threshold, the unclipped root by "
    + _BISECT
    + ", then the code's max(gamma_min, min(gamma_max, .))",
    _trainer_gamma_seed_code,
    digits=35,
    why=_WHY,
    domain=_DOMAIN["trainer_gamma_seed_code"],
)
register_oracle(
    "gamma.per_sign_gamma",
    "per sign of A over the selected tokens: exact-rational unbiased variance, the unclipped "
    "root by " + _BISECT + " (one token: unbounded), clipped to the range; no token: the "
    "default",
    _per_sign_gamma,
    digits=35,
    why=_WHY,
    domain=_DOMAIN["per_sign_gamma"],
)
register_oracle(
    "gamma.per_sign_gamma_seed_code",
    "per sign of A: exact-rational unbiased variance floored at the double 1e-8, the unclipped "
    "root by " + _BISECT + ", the code's max/min order; one token as Python's max/min "
    "against NaN",
    _per_sign_gamma_seed_code,
    digits=35,
    why=_WHY,
    domain=_DOMAIN["per_sign_gamma_seed_code"],
)
