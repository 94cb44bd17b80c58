"""Rules that choose the reshaping exponent gamma.

Seed 001 Theorem 8.3: gamma* = min(1, sqrt(-log rho_min / sigma^2)), the largest gamma in
[0, 1] whose log-normal ESS fraction exp(-sigma^2 gamma^2) is at least rho_min.
"""

from __future__ import annotations

import mpmath

from reference._checks import as_mp_list, require_finite, require_not_nan, require_range
from reference.golden import case, register_golden


def gamma_star_ess(sigma2, rho_min):
    """gamma* = min(1, sqrt(-log(rho_min) / sigma2)) (seed 001 Theorem 8.3).

    Domain: sigma2 >= 0 (finite or +inf), 0 < rho_min <= 1.
    Edges: sigma2 = 0 gives 1 (the ESS fraction is 1 for every gamma; the seed's code returns
    gamma_max there); sigma2 = +inf gives 0; rho_min = 1 with sigma2 > 0 gives 0 (only gamma = 0
    keeps the full ESS). rho_min outside (0, 1] or sigma2 < 0 or NaN raise ``ValueError``.
    """
    sigma2 = require_range("sigma2", sigma2, lo=0)
    rho_min = require_range("rho_min", rho_min, lo=0, hi=1, lo_open=True)
    if sigma2 == 0:
        return mpmath.mpf(1)
    if mpmath.isinf(sigma2):
        return mpmath.mpf(0)
    return min(mpmath.mpf(1), mpmath.sqrt(-mpmath.log(rho_min) / sigma2))


def _gamma_star_cases():
    cs = []
    for rho in (1e-12, 0.01, 0.1, 0.3, 0.5, 0.9, 0.999999):
        for s2 in (1e-10, 0.01, 0.1, 0.5, 1.0, 1.2, 2.0, 5.0, 100.0, 1e6):
            cs.append(case(f"grid rho_min={rho} sigma2={s2}", sigma2=s2, rho_min=rho))
    cs += [
        case("seed example rho_min=0.3, sigma2=1.2 (gamma = 1 boundary)", sigma2=1.2, rho_min=0.3),
        case("edge: sigma2 = 0", sigma2=0.0, rho_min=0.3),
        case("edge: sigma2 = +inf", sigma2=float("inf"), rho_min=0.3),
        case("edge: rho_min = 1", sigma2=1.0, rho_min=1.0),
        case("edge: rho_min = 0", sigma2=1.0, rho_min=0.0),
        case("edge: rho_min > 1", sigma2=1.0, rho_min=1.5),
        case("edge: rho_min < 0", sigma2=1.0, rho_min=-0.3),
        case("edge: sigma2 < 0", sigma2=-1.0, rho_min=0.3),
        case("edge: sigma2 NaN", sigma2=float("nan"), rho_min=0.3),
        case("extreme: sigma2 tiny", sigma2=1e-300, rho_min=0.3),
    ]
    return cs


register_golden(gamma_star_ess, _gamma_star_cases, tensor_args=("sigma2", "rho_min"))


# ---------------------------------------------------------------- seed 001 sections 8.4, 9, 11, 12

_SEED_VAR_THRESHOLD = mpmath.mpf(1e-8)  # the float literal of the seed's code, as a double


def _finite_list(name, values):
    out = as_mp_list(name, values)
    for i, v in enumerate(out):
        if not mpmath.isfinite(v):
            raise ValueError(f"{name}[{i}] must be finite, got {v}")
    return out


def _unbiased_var(xs):
    n = len(xs)
    if n < 2:
        raise ValueError(f"log_w needs at least 2 entries for the unbiased variance, got {n}")
    mean = mpmath.fsum(xs) / n
    return mpmath.fsum((x - mean) ** 2 for x in xs) / (n - 1)


def compute_optimal_gamma_seed_code(log_pi, log_mu, rho_min=0.3):
    """Seed 001 Algorithm 8.4 as written: sigma_sq = torch.var(log_pi - log_mu) (unbiased,
    divide by n - 1); 1.0 if sigma_sq < 1e-8, else min(1, sqrt(-log(rho_min) / sigma_sq)).

    Domain: log_pi, log_mu finite sequences of equal length n >= 2; 0 < rho_min <= 1.
    Edges: n < 2 raises ``ValueError`` (the seed's torch.var returns NaN there and its
    ``min(1.0, nan)`` then returns 1.0 by accident); rho_min outside (0, 1] raises (the seed's
    ``math.log`` / ``math.sqrt`` raise there too, except below the threshold where the seed
    returns 1.0 without reading rho_min). The threshold is compared with the double 1e-8.
    Compare :func:`gamma_star_ess`, which takes the population variance.
    """
    lp = _finite_list("log_pi", log_pi)
    lm = _finite_list("log_mu", log_mu)
    if len(lp) != len(lm):
        raise ValueError(f"log_mu has length {len(lm)}, expected {len(lp)} (log_pi)")
    rho_min = require_range("rho_min", rho_min, lo=0, hi=1, lo_open=True)
    s2 = _unbiased_var([a - b for a, b in zip(lp, lm)])
    if s2 < _SEED_VAR_THRESHOLD:
        return mpmath.mpf(1)
    return min(mpmath.mpf(1), mpmath.sqrt(-mpmath.log(rho_min) / s2))


def trainer_gamma_seed_code(log_w, rho_min=0.3, gamma_min=0.0, gamma_max=1.0):
    """Seed 001 section 12.1, ``ISReshapeTrainer.compute_optimal_gamma`` as written:
    gamma_max if torch.var(log_w) < 1e-8, else max(gamma_min, min(gamma_max,
    sqrt(-log(rho_min) / torch.var(log_w)))) with the unbiased variance.

    Domain: log_w finite, length >= 2; 0 < rho_min <= 1; gamma_min, gamma_max finite (not
    checked against each other: with gamma_min > gamma_max the code returns gamma_min).
    Note: a gamma_min above gamma* breaks the ESS guarantee of Theorem 8.3 (claim 001-12.1-d).
    """
    lw = _finite_list("log_w", log_w)
    rho_min = require_range("rho_min", rho_min, lo=0, hi=1, lo_open=True)
    gamma_min = require_finite("gamma_min", gamma_min)
    gamma_max = require_finite("gamma_max", gamma_max)
    s2 = _unbiased_var(lw)
    if s2 < _SEED_VAR_THRESHOLD:
        return gamma_max
    g = mpmath.sqrt(-mpmath.log(rho_min) / s2)
    return max(gamma_min, min(gamma_max, g))


def gamma_reward_adjusted(sigma2, sigma_r2, tau, rho_min):
    """Seed 001 Theorem 9.1: gamma_r* = min(1, sqrt(-log rho_min / (sigma2 + sigma_r2 / tau^2))).

    sigma2 = Var(log w), sigma_r2 = Var(r), tau > 0 the reward temperature. Domain: sigma2,
    sigma_r2 >= 0 (finite or +inf), tau > 0 finite, 0 < rho_min <= 1. Edges: a zero
    denominator gives 1 (as :func:`gamma_star_ess`), an infinite one gives 0. sigma_r2 = 0 is
    :func:`gamma_star_ess`. The rule is a heuristic of the seed, not derived (claim 001-9.1-a).
    """
    sigma2 = require_range("sigma2", sigma2, lo=0)
    sigma_r2 = require_range("sigma_r2", sigma_r2, lo=0)
    tau = require_range("tau", require_finite("tau", tau), lo=0, lo_open=True)
    rho_min = require_range("rho_min", rho_min, lo=0, hi=1, lo_open=True)
    denom = sigma2 + sigma_r2 / tau**2
    if denom == 0:
        return mpmath.mpf(1)
    if mpmath.isinf(denom):
        return mpmath.mpf(0)
    return min(mpmath.mpf(1), mpmath.sqrt(-mpmath.log(rho_min) / denom))


def gamma_khat_bound(khat, threshold=0.7):
    """Seed 001 section 11.2: the upper bound gamma <= threshold / k-hat (threshold 0.7).

    Domain: khat real or +-inf (not NaN), threshold > 0 finite. Edges: khat <= 0 (a light or
    bounded tail, including -0.0) gives +inf (no constraint: the seed's bound only makes sense
    for khat > 0); khat = +inf (too few tail draws, see ``psis_khat``) gives 0.
    The bound is not clipped to [0, 1]; combine with min(1, .) yourself.
    """
    khat = require_not_nan("khat", khat)
    threshold = require_range(
        "threshold", require_finite("threshold", threshold), lo=0, lo_open=True
    )
    if khat <= 0:
        return mpmath.inf
    if mpmath.isinf(khat):
        return mpmath.mpf(0)
    return threshold / khat


def _seed_code_cases():
    import numpy as np

    rng = np.random.default_rng(8004)
    cs = []
    for s in (0.05, 0.5, 1.0, 2.0, 5.0):
        for n in (2, 8, 64):
            lp = rng.normal(-1.0, 1.0, size=n)
            lm = lp - rng.normal(-s * s / 2, s, size=n)
            for rho in (0.3, 0.05):
                cs.append(
                    case(
                        f"seeded log-normal sd={s} n={n} rho_min={rho}",
                        log_pi=[float(x) for x in lp],
                        log_mu=[float(x) for x in lm],
                        rho_min=rho,
                    )
                )
    cs += [
        case(
            "identical policies: var 0 -> 1.0",
            log_pi=[-1.0, -2.0, -3.0],
            log_mu=[-1.0, -2.0, -3.0],
            rho_min=0.3,
        ),
        case(
            "var 2.5e-9 < 1e-8 threshold -> 1.0",
            log_pi=[0.0, 0.0, 0.0],
            log_mu=[0.0, 5e-5, -5e-5],
            rho_min=0.3,
        ),
        case(
            "var 2e-8 above threshold, clipped to 1",
            log_pi=[0.0, 2e-4],
            log_mu=[0.0, 0.0],
            rho_min=0.3,
        ),
        case(
            "rho_min = 1 gives 0 above the threshold",
            log_pi=[0.0, 1.0],
            log_mu=[0.0, 0.0],
            rho_min=1.0,
        ),
        case(
            "extreme: log ratios +-700",
            log_pi=[-700.0, 0.0, -1.0],
            log_mu=[0.0, -700.0, -1.0],
            rho_min=0.3,
        ),
        case(
            "seed default rho_min 0.3, var 1.2 * 2",
            log_pi=[0.0, 1.2, 2.4],
            log_mu=[0.0, 0.0, 0.0],
            rho_min=0.3,
        ),
        case("edge: n = 1", log_pi=[0.0], log_mu=[1.0], rho_min=0.3),
        case("edge: rho_min = 0", log_pi=[0.0, 1.0], log_mu=[0.0, 0.0], rho_min=0.0),
        case("edge: rho_min > 1", log_pi=[0.0, 1.0], log_mu=[0.0, 0.0], rho_min=1.5),
        case("edge: log_pi -inf", log_pi=[0.0, float("-inf")], log_mu=[0.0, 0.0], rho_min=0.3),
        case("edge: log_mu NaN", log_pi=[0.0, 1.0], log_mu=[0.0, float("nan")], rho_min=0.3),
    ]
    return cs


def _trainer_gamma_cases():
    import numpy as np

    rng = np.random.default_rng(8012)
    cs = []
    for s in (0.1, 1.0, 3.0):
        lw = rng.normal(-s * s / 2, s, size=32)
        for gmin, gmax in ((0.0, 1.0), (0.2, 0.8), (0.5, 1.0)):
            cs.append(
                case(
                    f"seeded sd={s} n=32 clamp [{gmin}, {gmax}]",
                    log_w=[float(x) for x in lw],
                    rho_min=0.3,
                    gamma_min=gmin,
                    gamma_max=gmax,
                )
            )
    cs += [
        case(
            "var 0 returns gamma_max", log_w=[0.5, 0.5], rho_min=0.3, gamma_min=0.0, gamma_max=0.7
        ),
        case(
            "gamma_min binds (ESS constraint broken)",
            log_w=[-3.0, 3.0, 0.0],
            rho_min=0.3,
            gamma_min=0.5,
            gamma_max=1.0,
        ),
        case(
            "gamma_min > gamma_max returns gamma_min",
            log_w=[0.0, 1.0, 2.0],
            rho_min=0.3,
            gamma_min=0.9,
            gamma_max=0.1,
        ),
        case(
            "extreme: log_w +-700", log_w=[700.0, -700.0], rho_min=0.3, gamma_min=0.0, gamma_max=1.0
        ),
        case("edge: n = 1", log_w=[1.0], rho_min=0.3, gamma_min=0.0, gamma_max=1.0),
        case("edge: rho_min = 0", log_w=[0.0, 1.0], rho_min=0.0, gamma_min=0.0, gamma_max=1.0),
        case(
            "edge: log_w inf", log_w=[0.0, float("inf")], rho_min=0.3, gamma_min=0.0, gamma_max=1.0
        ),
    ]
    return cs


def _reward_cases():
    cs = []
    for s2 in (0.0, 0.1, 1.0, 4.0):
        for sr2 in (0.0, 0.5, 2.0):
            for tau in (0.5, 1.0, 3.0):
                cs.append(
                    case(
                        f"grid s2={s2} sr2={sr2} tau={tau}",
                        sigma2=s2,
                        sigma_r2=sr2,
                        tau=tau,
                        rho_min=0.3,
                    )
                )
    cs += [
        case(
            "sigma_r2 = 0 reduces to gamma_star_ess", sigma2=2.0, sigma_r2=0.0, tau=1.0, rho_min=0.3
        ),
        case("rho_min = 0.05", sigma2=1.0, sigma_r2=1.0, tau=1.0, rho_min=0.05),
        case("rho_min = 1", sigma2=1.0, sigma_r2=1.0, tau=1.0, rho_min=1.0),
        case("large: denominator 1e200", sigma2=1e200, sigma_r2=1.0, tau=1.0, rho_min=0.3),
        case("edge: sigma2 = inf", sigma2=float("inf"), sigma_r2=1.0, tau=1.0, rho_min=0.3),
        case("edge: tau = 0", sigma2=1.0, sigma_r2=1.0, tau=0.0, rho_min=0.3),
        case("edge: tau < 0", sigma2=1.0, sigma_r2=1.0, tau=-1.0, rho_min=0.3),
        case("edge: sigma_r2 < 0", sigma2=1.0, sigma_r2=-1.0, tau=1.0, rho_min=0.3),
        case("edge: rho_min = 0", sigma2=1.0, sigma_r2=1.0, tau=1.0, rho_min=0.0),
        case("edge: sigma2 NaN", sigma2=float("nan"), sigma_r2=1.0, tau=1.0, rho_min=0.3),
    ]
    return cs


def _khat_bound_cases():
    cs = [
        case(f"khat={k}", khat=k, threshold=0.7)
        for k in (0.05, 0.3, 0.5, 0.7, 0.9, 1.0, 1.5, 3.0, 1e-300, 1e300)
    ]
    cs += [
        case("threshold 0.5", khat=0.8, threshold=0.5),
        case("khat = 0: no constraint (+inf)", khat=0.0, threshold=0.7),
        case("khat = -0.0: no constraint (+inf)", khat=-0.0, threshold=0.7),
        case("khat < 0: no constraint (+inf)", khat=-0.2, threshold=0.7),
        case("khat = +inf (tail too short): 0", khat=float("inf"), threshold=0.7),
        case("edge: khat NaN", khat=float("nan"), threshold=0.7),
        case("edge: threshold 0", khat=0.5, threshold=0.0),
        case("edge: threshold inf", khat=0.5, threshold=float("inf")),
    ]
    return cs


register_golden(
    compute_optimal_gamma_seed_code,
    _seed_code_cases,
    tensor_args=("log_pi", "log_mu"),
    float_args=("rho_min",),
)
register_golden(
    trainer_gamma_seed_code,
    _trainer_gamma_cases,
    tensor_args=("log_w",),
    float_args=("rho_min", "gamma_min", "gamma_max"),
)
register_golden(
    gamma_reward_adjusted, _reward_cases, tensor_args=("sigma2", "sigma_r2", "tau", "rho_min")
)
register_golden(gamma_khat_bound, _khat_bound_cases, tensor_args=("khat", "threshold"))
