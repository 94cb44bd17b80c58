"""Divergences and their log-normal closed forms (seed 001 sections 6-8).

Under Assumption 7.3 of seed 001, log w ~ N(m, sigma^2) with m = -sigma^2 / 2 (so E[w] = 1).
The moment generating function of the normal gives every power moment exactly.
"""

from __future__ import annotations

import mpmath

from reference._checks import require_finite, require_range
from reference.golden import case, register_golden


def lognormal_moment(gamma, mean, sigma2):
    """E[w^gamma] for log w ~ N(mean, sigma2): exp(gamma mean + gamma^2 sigma2 / 2).

    Seed 001 section 7.2 / 8.2 (the normal MGF). Domain: gamma, mean finite, sigma2 >= 0
    (sigma2 = 0 is the point mass w = exp(mean)). Returns +inf on overflow of exp only when the
    exponent is astronomically large (mpmath has no float overflow at 1e300).
    """
    gamma = require_finite("gamma", gamma)
    mean = require_finite("mean", mean)
    sigma2 = require_range("sigma2", require_finite("sigma2", sigma2), lo=0)
    return mpmath.exp(gamma * mean + gamma**2 * sigma2 / 2)


def ess_ratio_lognormal_moments(gamma, mean, sigma2):
    """Population ESS_gamma / n = E[w^gamma]^2 / E[w^(2 gamma)], from the exact moments.

    Seed 001 Theorem 8.2 (the first line of its proof). Domain as :func:`lognormal_moment`.
    Computed in the log domain so that huge moments do not overflow.
    """
    gamma = require_finite("gamma", gamma)
    mean = require_finite("mean", mean)
    sigma2 = require_range("sigma2", require_finite("sigma2", sigma2), lo=0)
    log_m1 = gamma * mean + gamma**2 * sigma2 / 2
    log_m2 = 2 * gamma * mean + (2 * gamma) ** 2 * sigma2 / 2
    return mpmath.exp(2 * log_m1 - log_m2)


def ess_ratio_lognormal_closed_form(gamma, sigma2):
    """The closed form of seed 001 Theorem 8.2: ESS_gamma / n = exp(-sigma^2 gamma^2).

    Domain: gamma finite, sigma2 >= 0 finite. Equals :func:`ess_ratio_lognormal_moments` for
    every mean (the mean cancels), so Assumption 7.3's E[w] = 1 is not needed.
    """
    gamma = require_finite("gamma", gamma)
    sigma2 = require_range("sigma2", require_finite("sigma2", sigma2), lo=0)
    return mpmath.exp(-sigma2 * gamma**2)


def variance_lognormal_power(gamma, sigma2):
    """Seed 001 Theorem 7.4: V(gamma) = E[w^(2 gamma)] = exp(sigma^2 gamma (2 gamma - 1)).

    Under Assumption 7.3 (mean = -sigma^2 / 2). Domain: gamma finite, sigma2 >= 0.
    """
    gamma = require_finite("gamma", gamma)
    sigma2 = require_range("sigma2", require_finite("sigma2", sigma2), lo=0)
    return mpmath.exp(sigma2 * gamma * (2 * gamma - 1))


def _moment_cases():
    cs = []
    for s2 in (0.0, 1e-12, 0.01, 0.25, 1.0, 4.0, 25.0):
        for g in (0.0, 0.25, 0.5, 1.0, 2.0):
            cs.append(case(f"grid sigma2={s2} gamma={g}", gamma=g, mean=-s2 / 2, sigma2=s2))
    cs += [
        case("mean not -sigma2/2", gamma=0.7, mean=1.5, sigma2=2.0),
        case("large: exponent ~ 600", gamma=1.0, mean=0.0, sigma2=1200.0),
        case("negative gamma", gamma=-0.5, mean=-0.5, sigma2=1.0),
        case("edge: sigma2 < 0", gamma=0.5, mean=0.0, sigma2=-1.0),
        case("edge: gamma NaN", gamma=float("nan"), mean=0.0, sigma2=1.0),
        case("edge: sigma2 inf", gamma=0.5, mean=0.0, sigma2=float("inf")),
    ]
    return cs


def _closed_form_cases():
    cs = []
    for s2 in (0.0, 1e-300, 1e-8, 0.1, 0.5, 1.0, 2.0, 10.0, 100.0):
        for g in (0.0, 0.1, 0.3, 0.5, 0.8, 1.0):
            cs.append(case(f"grid sigma2={s2} gamma={g}", gamma=g, sigma2=s2))
    cs += [
        case("extreme: exponent -700", gamma=1.0, sigma2=700.0),
        case("extreme: underflow below float64", gamma=2.0, sigma2=400.0),
        case("edge: sigma2 < 0", gamma=0.5, sigma2=-0.1),
        case("edge: gamma inf", gamma=float("inf"), sigma2=1.0),
    ]
    return cs


register_golden(lognormal_moment, _moment_cases, tensor_args=("gamma", "mean", "sigma2"))
register_golden(ess_ratio_lognormal_moments, _moment_cases, tensor_args=("gamma", "mean", "sigma2"))
register_golden(ess_ratio_lognormal_closed_form, _closed_form_cases, ("gamma", "sigma2"))
register_golden(variance_lognormal_power, _closed_form_cases, ("gamma", "sigma2"))
