"""Rules that choose the reshaping exponent gamma.

Seed 001 Theorem 8.3: gamma* = min(1, sqrt(-log rho_min / sigma^2)), the largest gamma in
[0, 1] whose log-normal ESS fraction exp(-sigma^2 gamma^2) is at least rho_min.
"""

from __future__ import annotations

import mpmath

from isreshape.reference._checks import as_mp_list, require_finite, require_not_nan, require_range
from isreshape.reference.golden import case, register_golden


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


def _unbiased_var(xs, name="log_w"):
    n = len(xs)
    if n < 2:
        raise ValueError(f"{name} needs at least 2 entries for the unbiased variance, got {n}")
    mean = mpmath.fsum(xs) / n
    return mpmath.fsum((x - mean) ** 2 for x in xs) / (n - 1)


def compute_optimal_gamma_seed_code(log_pi, log_mu, rho_min=0.3):
    """Seed 001 Algorithm 8.4 as written: sigma_sq = torch.var(log_pi - log_mu) (unbiased,
    divide by n - 1); 1.0 if sigma_sq < 1e-8, else min(1, sqrt(-log(rho_min) / sigma_sq)).

    Domain: log_pi, log_mu finite sequences of equal length n >= 2; 0 < rho_min <= 1.
    Edges: NaN or +-inf entries raise ``ValueError`` naming the entry (a -inf log-prob, a
    zero weight, makes Var(log w) infinite and the seed's torch.var NaN, whose NaN comparisons
    would then return 1.0 by accident); n < 2 (empty included) raises ``ValueError`` (the seed's torch.var returns NaN there and its
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
    s2 = _unbiased_var([a - b for a, b in zip(lp, lm)], "log_pi")
    if s2 < _SEED_VAR_THRESHOLD:
        return mpmath.mpf(1)
    return min(mpmath.mpf(1), mpmath.sqrt(-mpmath.log(rho_min) / s2))


def trainer_gamma_seed_code(log_w, rho_min=0.3, gamma_min=0.0, gamma_max=1.0):
    """Seed 001 section 12.1, ``ISReshapeTrainer.compute_optimal_gamma`` as written:
    gamma_max if torch.var(log_w) < 1e-8, else max(gamma_min, min(gamma_max,
    sqrt(-log(rho_min) / torch.var(log_w)))) with the unbiased variance.

    Domain: log_w finite, length >= 2; 0 < rho_min <= 1; gamma_min, gamma_max finite (not
    checked against each other: with gamma_min > gamma_max the code returns gamma_min).
    Edges: NaN or +-inf in log_w (-inf: a zero weight, infinite Var(log w)) and n < 2 (empty
    included) raise ``ValueError`` naming log_w and the value.
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
    for khat > 0); khat = +inf (too few tail draws, see ``psis_khat``) gives 0; NaN raises
    ``ValueError`` naming khat. ``psis_khat`` (all three twins) never returns NaN for valid
    log_w, also on tails whose exceedances underflow float64, so the bound is defined there.
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


def gamma_reward_adjusted_corrected(sigma2, sigma_r2, tau, rho_min):
    """Corrected Theorem 9.1: the largest gamma in [0, 1] with ESS/n of w^gamma exp(r / tau) at
    least rho_min, for log w ~ N(., sigma2) and r ~ N(., sigma_r2) independent:
    exp(-gamma^2 sigma2 - sigma_r2 / tau^2) >= rho_min, i.e.
    gamma = min(1, sqrt((-log rho_min - sigma_r2 / tau^2) / sigma2)).

    The printed formula (:func:`gamma_reward_adjusted`) is exact only when the reward factor is
    tempered by gamma as well, (w e^(r/tau))^gamma (claim 001-9.1-a).
    Domain as :func:`gamma_reward_adjusted`. Edges: sigma_r2 / tau^2 >= -log rho_min leaves no
    feasible gamma (even gamma = 0 has ESS/n = exp(-sigma_r2 / tau^2) <= rho_min): returns 0,
    the most conservative choice; sigma2 = 0 with a feasible reward term gives 1; sigma2 = +inf
    gives 0.
    """
    sigma2 = require_range("sigma2", sigma2, lo=0)
    sigma_r2 = require_range("sigma_r2", sigma_r2, lo=0)
    tau = require_range("tau", require_finite("tau", tau), lo=0, lo_open=True)
    rho_min = require_range("rho_min", rho_min, lo=0, hi=1, lo_open=True)
    budget = -mpmath.log(rho_min) - sigma_r2 / tau**2
    if budget <= 0 or mpmath.isinf(sigma2):
        return mpmath.mpf(0)
    if sigma2 == 0:
        return mpmath.mpf(1)
    return min(mpmath.mpf(1), mpmath.sqrt(budget / sigma2))


def _reward_corrected_cases():
    cs = [c for c in _reward_cases() if "sigma2 = inf" not in c.note]
    cs += [
        case(
            "no feasible gamma: sigma_r2 / tau^2 > -log rho",
            sigma2=1.0,
            sigma_r2=2.0,
            tau=1.0,
            rho_min=0.3,
        ),
        case("seed 001-9.1-a example", sigma2=1.0, sigma_r2=1.0, tau=1.0, rho_min=0.3),
        case("sigma2 = inf", sigma2=float("inf"), sigma_r2=0.1, tau=1.0, rho_min=0.3),
    ]
    return cs


register_golden(
    gamma_reward_adjusted_corrected,
    _reward_corrected_cases,
    tensor_args=("sigma2", "sigma_r2", "tau", "rho_min"),
)


# --- seed 002 per-sign rule ---
# Owned by the seed-002 weights work: everything below this marker (seed 002 appendix B
# `GradientWeightDesign.compute_gamma` and its corrected batch version).

SEED002_RHO_MIN = 0.3
SEED002_GAMMA_POS_RANGE = (0.1, 0.99)
SEED002_GAMMA_NEG_RANGE = (1.01, 1.99)
SEED002_DEFAULTS = (0.5, 1.5)  # gamma_pos, gamma_neg when a sign is absent
SEED002_VAR_FLOOR = 1e-8


def _seed002_range(name, value):
    if len(value) != 2:
        raise ValueError(f"{name} must be a pair (lo, hi), got {value!r}")
    return require_finite(f"{name}[0]", value[0]), require_finite(f"{name}[1]", value[1])


def _seed002_split(log_w, A, mask):
    from isreshape.reference._checks import as_mask

    lw = as_mp_list("log_w", log_w)
    adv = as_mp_list("A", A)
    if len(lw) != len(adv):
        raise ValueError(f"log_w and A must have the same length, got {len(lw)} and {len(adv)}")
    for i, (x, a) in enumerate(zip(lw, adv)):
        require_finite(f"log_w[{i}]", x)
        require_finite(f"A[{i}]", a)
    keep = as_mask("mask", mask, len(lw))
    pos = [x for x, a, k in zip(lw, adv, keep) if k and a > 0]
    neg = [x for x, a, k in zip(lw, adv, keep) if k and a < 0]
    return pos, neg


def _sample_variance(xs):
    """Unbiased (n - 1) sample variance, as torch.Tensor.var(); None for n < 2."""
    n = len(xs)
    if n < 2:
        return None
    mean = mpmath.fsum(xs) / n
    return mpmath.fsum((x - mean) ** 2 for x in xs) / (n - 1)


def per_sign_gamma_seed_code(
    log_w,
    A,
    rho_min=SEED002_RHO_MIN,
    gamma_pos_range=SEED002_GAMMA_POS_RANGE,
    gamma_neg_range=SEED002_GAMMA_NEG_RANGE,
):
    """[gamma_pos, gamma_neg] of seed 002 appendix B ``GradientWeightDesign.compute_gamma``,
    as written: a batch rule over every token (the seed passes no mask to it).

    With s^2 = unbiased variance of log_w over the tokens with A > 0 (resp. A < 0), floored at
    1e-8, and r = sqrt(-log(rho_min) / s^2):
    gamma_pos = max(lo_pos, min(hi_pos, r)); gamma_neg = max(lo_neg, 1 + min(hi_neg - 1, r)).
    Defaults 0.5 / 1.5 when a sign is absent; A == 0 and -0.0 count for neither sign.
    A sign with a single token has variance NaN in torch; Python's max / min keep their first
    argument against NaN, so the code returns max(lo, hi) for gamma_pos and
    max(lo_neg, hi_neg) for gamma_neg there (reproduced). Section 9.1's text is this rule with
    ranges (0, 1 - eps) and (1, 2 - eps) (no lower clip); the text gives no defaults.
    Domain: log_w, A finite sequences of equal length, 0 < rho_min <= 1 (the code raises a
    math domain error for rho_min > 1 and for 0 only when a sign is present; here always
    ValueError), finite ranges. The seed's ``__call__`` clamps log_w to [-20, 20] before
    calling this (pass clamped values to reproduce the pipeline). Returns a list of 2 mpf.
    """
    rho_min = require_range("rho_min", rho_min, lo=0, hi=1, lo_open=True)
    lo_p, hi_p = _seed002_range("gamma_pos_range", gamma_pos_range)
    lo_n, hi_n = _seed002_range("gamma_neg_range", gamma_neg_range)
    pos, neg = _seed002_split(log_w, A, None)
    log_rho = -mpmath.log(rho_min)

    def ratio(xs):
        var = _sample_variance(xs)
        if var is None:
            return None  # NaN in the seed code
        return mpmath.sqrt(log_rho / max(var, mpmath.mpf(SEED002_VAR_FLOOR)))

    if pos:
        r = ratio(pos)
        gamma_pos = max(lo_p, hi_p if r is None else min(hi_p, r))
    else:
        gamma_pos = mpmath.mpf(SEED002_DEFAULTS[0])
    if neg:
        r = ratio(neg)
        gamma_neg = max(lo_n, 1 + (hi_n - 1 if r is None else min(hi_n - 1, r)))
    else:
        gamma_neg = mpmath.mpf(SEED002_DEFAULTS[1])
    return [gamma_pos, gamma_neg]


def per_sign_gamma(
    log_w,
    A,
    mask=None,
    rho_min=SEED002_RHO_MIN,
    gamma_pos_range=SEED002_GAMMA_POS_RANGE,
    gamma_neg_range=SEED002_GAMMA_NEG_RANGE,
    default_pos=SEED002_DEFAULTS[0],
    default_neg=SEED002_DEFAULTS[1],
):
    """[gamma_pos, gamma_neg]: the per-sign rule of seed 002 (section 9.1 / appendix B),
    corrected for batches: only tokens selected by ``mask`` count (the seed's code also
    counts padding), and the edges are defined instead of falling out of NaN comparisons.

    gamma_pos = clip(r_pos, lo_pos, hi_pos), gamma_neg = clip(1 + r_neg, lo_neg, hi_neg) with
    r = sqrt(-log(rho_min) / s^2) and s^2 the unbiased variance of log_w over the selected
    tokens of that sign. Edges: s^2 = 0 or a single token (no spread measured) gives r = +inf,
    i.e. the upper end of the range (the seed code's value); no token of a sign gives the
    default (0.5 / 1.5); A == 0 and -0.0 count for neither sign; rho_min = 1 gives r = 0
    (the lower ends). With ranges (0, 1 - eps), (1, 2 - eps) this is section 9.1's text.
    Domain: 0 < rho_min <= 1, finite ranges with lo <= hi (else ValueError; the code would
    silently return lo), finite defaults, mask a boolean sequence of the same length; log_w
    and A finite everywhere, masked-out entries included (NaN or +-inf raise ``ValueError``
    naming the entry; -inf, a zero weight, has infinite Var(log w)). Empty log_w or a mask
    selecting nothing: both defaults.
    """
    rho_min = require_range("rho_min", rho_min, lo=0, hi=1, lo_open=True)
    lo_p, hi_p = _seed002_range("gamma_pos_range", gamma_pos_range)
    lo_n, hi_n = _seed002_range("gamma_neg_range", gamma_neg_range)
    if lo_p > hi_p:
        raise ValueError(f"gamma_pos_range must have lo <= hi, got {gamma_pos_range!r}")
    if lo_n > hi_n:
        raise ValueError(f"gamma_neg_range must have lo <= hi, got {gamma_neg_range!r}")
    default_pos = require_finite("default_pos", default_pos)
    default_neg = require_finite("default_neg", default_neg)
    pos, neg = _seed002_split(log_w, A, mask)
    log_rho = -mpmath.log(rho_min)

    def ratio(xs):
        var = _sample_variance(xs)
        if var is None or var == 0:
            return mpmath.inf
        return mpmath.sqrt(log_rho / var)

    gamma_pos = min(hi_p, max(lo_p, ratio(pos))) if pos else default_pos
    gamma_neg = min(hi_n, max(lo_n, 1 + ratio(neg))) if neg else default_neg
    return [mpmath.mpf(gamma_pos), mpmath.mpf(gamma_neg)]


def _per_sign_batches():
    import numpy as np

    rng = np.random.default_rng(2002)
    out = []
    for s2 in (0.01, 0.5, 1.2, 4.0, 25.0):
        lw = rng.normal(-s2 / 2, s2**0.5, size=48)
        adv = rng.normal(0.0, 1.0, size=48)
        out.append((f"seeded sigma2={s2} n=48", [float(x) for x in lw], [float(a) for a in adv]))
    lw = rng.normal(0.0, 1.0, size=32)
    adv = rng.normal(0.0, 1.0, size=32)
    lw_neg_wide = [float(x * (4.0 if a < 0 else 0.5)) for x, a in zip(lw, adv)]
    out.append(("seeded: A<0 spread 4, A>0 spread 0.5", lw_neg_wide, [float(a) for a in adv]))
    return out


def _per_sign_common_cases():
    cs = [case(note, log_w=lw, A=adv) for note, lw, adv in _per_sign_batches()]
    cs += [
        case("no negative samples: gamma_neg default", log_w=[0.1, -0.5, 1.2], A=[1.0, 2.0, 0.5]),
        case(
            "no positive samples: gamma_pos default", log_w=[0.1, -0.5, 1.2], A=[-1.0, -2.0, -3.0]
        ),
        case("every A == 0 (and -0.0): both defaults", log_w=[0.3, -0.2], A=[0.0, -0.0]),
        case("single token of each sign (variance NaN in torch)", log_w=[0.4, -0.3], A=[1.0, -1.0]),
        case(
            "equal log_w within a sign (variance 0)",
            log_w=[0.2, 0.2, -1.0, -1.0],
            A=[1.0, 2.0, -1.0, -1.0],
        ),
        case(
            "A = 0 tokens ignored",
            log_w=[0.0, 50.0, 1.0, -1.0, 2.0, -2.0],
            A=[1.0, 0.0, 1.0, -1.0, -0.0, -1.0],
        ),
        case(
            "extreme: log_w +-700 (huge variance, lower clip)",
            log_w=[700.0, -700.0, 0.0, 650.0],
            A=[1.0, 1.0, -1.0, -1.0],
        ),
        case(
            "seed pipeline: log_w clamped to +-20",
            log_w=[20.0, -20.0, 3.0, -20.0, 20.0, 1.0],
            A=[1.0, 1.0, 1.0, -1.0, -1.0, -1.0],
        ),
        case(
            "tiny spread 1e-9 (floor 1e-8 in the code)",
            log_w=[1.0, 1.0 + 1e-9, 0.5, 0.5 + 1e-9],
            A=[1.0, 1.0, -1.0, -1.0],
        ),
        case("edge: NaN in log_w", log_w=[0.0, float("nan")], A=[1.0, -1.0]),
        case("edge: inf in A", log_w=[0.0, 1.0], A=[float("inf"), -1.0]),
        case("edge: -inf in log_w", log_w=[float("-inf"), 1.0], A=[1.0, -1.0]),
    ]
    return cs


def _per_sign_seed_code_cases():
    cs = _per_sign_common_cases()
    lw, adv = _per_sign_batches()[2][1:]
    cs += [
        case("rho_min = 1: lower clips", log_w=lw, A=adv, rho_min=1.0),
        case("rho_min = 1e-12", log_w=lw, A=adv, rho_min=1e-12),
        case(
            "section 9.1 text ranges (0, 0.99), (1, 1.99)",
            log_w=lw,
            A=adv,
            gamma_pos_range=[0.0, 0.99],
            gamma_neg_range=[1.0, 1.99],
        ),
        case("inverted range (code returns lo)", log_w=lw, A=adv, gamma_pos_range=[0.9, 0.2]),
        case("edge: rho_min = 0", log_w=lw, A=adv, rho_min=0.0),
        case("edge: rho_min > 1", log_w=lw, A=adv, rho_min=1.5),
        case("edge: range NaN", log_w=lw, A=adv, gamma_neg_range=[1.01, float("nan")]),
    ]
    return cs


def _per_sign_cases():
    cs = _per_sign_common_cases()
    lw, adv = _per_sign_batches()[2][1:]
    n = len(lw)
    cs += [
        case("mask keeps every token", log_w=lw, A=adv, mask=[True] * n),
        case("mask drops the first half", log_w=lw, A=adv, mask=[i >= n // 2 for i in range(n)]),
        case(
            "mask drops an outlier",
            log_w=[0.1, 0.3, 40.0, -0.2, 0.0],
            A=[1.0, 1.0, 1.0, -1.0, -1.0],
            mask=[True, True, False, True, True],
        ),
        case(
            "mask drops every positive token",
            log_w=[0.1, 0.3, -0.2, 0.0],
            A=[1.0, 1.0, -1.0, -1.0],
            mask=[False, False, True, True],
        ),
        case("empty mask: both defaults", log_w=[0.1, 0.3], A=[1.0, -1.0], mask=[False, False]),
        case("rho_min = 1: lower clips", log_w=lw, A=adv, rho_min=1.0),
        case(
            "section 9.1 text ranges (0, 0.99), (1, 1.99)",
            log_w=lw,
            A=adv,
            gamma_pos_range=[0.0, 0.99],
            gamma_neg_range=[1.0, 1.99],
        ),
        case("custom defaults", log_w=[0.1], A=[0.0], default_pos=0.7, default_neg=1.2),
        case("edge: inverted range", log_w=lw, A=adv, gamma_pos_range=[0.9, 0.2]),
        case("edge: rho_min = 0", log_w=lw, A=adv, rho_min=0.0),
        case("edge: mask length", log_w=[0.1, 0.2], A=[1.0, 1.0], mask=[True]),
    ]
    return cs


register_golden(
    per_sign_gamma_seed_code,
    _per_sign_seed_code_cases,
    tensor_args=("log_w", "A"),
    float_args=("rho_min", "gamma_pos_range", "gamma_neg_range"),
)
register_golden(
    per_sign_gamma,
    _per_sign_cases,
    tensor_args=("log_w", "A"),
    float_args=("rho_min", "gamma_pos_range", "gamma_neg_range", "default_pos", "default_neg"),
)
