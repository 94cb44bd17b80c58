"""Divergences and their log-normal closed forms (seed 001 sections 6-8).

Under Assumption 7.3 of seed 001, log w ~ N(m, sigma^2) with m = -sigma^2 / 2 (so E[w] = 1).
The moment generating function of the normal gives every power moment exactly.
"""

from __future__ import annotations

import mpmath

from isreshape.reference._checks import as_mp_list, require_finite, require_range
from isreshape.reference.golden import case, register_golden


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


# ---------------------------------------------------------------- discrete distributions (logits)


def _log_probs(name, logits):
    """log-softmax of a logits vector; -inf entries are masked (probability 0)."""
    lg = as_mp_list(name, logits)
    for i, v in enumerate(lg):
        if mpmath.isinf(v) and v > 0:
            raise ValueError(f"{name}[{i}] is +inf")
    if not lg or all(mpmath.isinf(v) for v in lg):
        raise ValueError(f"{name} has no finite entry (no probability mass)")
    top = max(lg)
    shifted = [v - top for v in lg]  # exact for shifted copies of the same logits
    log_z = mpmath.log(mpmath.fsum(mpmath.exp(v) for v in shifted))
    return [v - log_z for v in shifted]


def _pair(logits_p, logits_q, names=("logits_p", "logits_q")):
    lp = _log_probs(names[0], logits_p)
    lq = _log_probs(names[1], logits_q)
    if len(lp) != len(lq):
        raise ValueError(f"{names[1]} has length {len(lq)}, expected {len(lp)} ({names[0]})")
    return lp, lq


def kl_divergence(logits_p, logits_q):
    """KL(P || Q) = sum_i p_i (log p_i - log q_i) for P = softmax(logits_p), Q = softmax(logits_q).

    Seed 001 sections 2, 6.4 (alpha -> 1 limit of Renyi). Domain: equal-length logits without
    NaN or +inf, each with a finite entry; -inf entries are zero-probability outcomes.
    Edges: p_i = 0 contributes 0; p_i > 0 = q_i gives +inf; identical inputs give 0.
    """
    lp, lq = _pair(logits_p, logits_q)
    with mpmath.extradps(10):
        total, mass = mpmath.mpf(0), mpmath.mpf(0)
        for a, b in zip(lp, lq):
            if mpmath.isinf(a):
                continue
            if mpmath.isinf(b):
                return mpmath.inf
            total += mpmath.exp(a) * (a - b)
            mass += mpmath.exp(a)
        # dividing by sum p (= 1 up to rounding) keeps identical inputs at exactly 0
        return +(total / mass)


def renyi_divergence(logits_p, logits_q, alpha):
    """Renyi divergence D_alpha(P || Q) = log(sum_i p_i^alpha q_i^(1 - alpha)) / (alpha - 1).

    Seed 001 Definition 6.1 (for P, Q given as logits). Domain: alpha >= 0 finite; logits as
    :func:`kl_divergence`. Edges: alpha = 1 is the KL limit; alpha = 0 gives -log Q(p > 0);
    for alpha > 1 and P not absolutely continuous w.r.t. Q (p_i > 0 = q_i) the value is +inf;
    for alpha < 1 and disjoint supports it is +inf. Near alpha = 1 the reference works with
    20 guard digits (the logarithm is O(alpha - 1)).
    """
    alpha = require_range("alpha", require_finite("alpha", alpha), lo=0)
    if alpha == 1:
        return kl_divergence(logits_p, logits_q)
    lp, lq = _pair(logits_p, logits_q)
    if alpha == 0:  # -log Q(p > 0), as a ratio of sums so that full support gives exactly 0
        seen = mpmath.fsum(mpmath.exp(b) for a, b in zip(lp, lq) if not mpmath.isinf(a))
        if seen == 0:
            return mpmath.inf
        return -mpmath.log(seen / mpmath.fsum(mpmath.exp(b) for b in lq))
    with mpmath.extradps(20):
        terms, mass = [], []
        for a, b in zip(lp, lq):
            if mpmath.isinf(a):
                continue  # p_i = 0: p_i^alpha = 0 for alpha > 0; 0^0 counts only p > 0
            mass.append(mpmath.exp(a))
            if mpmath.isinf(b):
                if alpha > 1:
                    return mpmath.inf
                continue  # q_i^(1 - alpha) = 0 for alpha < 1
            terms.append(mpmath.exp(a) * mpmath.exp((1 - alpha) * (b - a)))
        total = mpmath.fsum(terms) / mpmath.fsum(mass)  # sum p = 1; exact 0 for P = Q
        if total == 0:
            return mpmath.inf
        return +(mpmath.log(total) / (alpha - 1))


def power_moment_from_logits(logits_pi, logits_mu, gamma):
    """E_mu[w^gamma] = sum_{mu_i > 0} mu_i^(1 - gamma) pi_i^gamma, w = pi / mu (discrete).

    Seed 001 Theorem 6.2 (left side). Domain: gamma finite; logits as :func:`kl_divergence`.
    Edges: the expectation runs over the support of mu only (mass of pi outside it is invisible
    to samples from mu); w^0 = 1 also where pi_i = 0; gamma < 0 with pi_i = 0 < mu_i gives +inf.
    """
    gamma = require_finite("gamma", gamma)
    lpi, lmu = _pair(logits_pi, logits_mu, ("logits_pi", "logits_mu"))
    terms = []
    for a, b in zip(lpi, lmu):
        if mpmath.isinf(b):
            continue
        if mpmath.isinf(a):
            if gamma == 0:
                terms.append(mpmath.exp(b))
            elif gamma < 0:
                return mpmath.inf
            continue
        terms.append(mpmath.exp(gamma * a + (1 - gamma) * b))
    return mpmath.fsum(terms)


def renyi_identity_rhs(logits_pi, logits_mu, gamma):
    """The right side of seed 001 Theorem 6.2: exp((gamma - 1) D_gamma(pi || mu)).

    Domain: gamma >= 0 finite. Edges: D = +inf gives +inf for gamma > 1 (pi not << mu) and 0 for
    gamma < 1 (disjoint supports); gamma = 1 gives 1 when KL(pi || mu) is finite and raises
    ``ValueError`` (0 * inf) when it is not.
    """
    gamma = require_range("gamma", require_finite("gamma", gamma), lo=0)
    d = renyi_divergence(logits_pi, logits_mu, gamma)
    if mpmath.isinf(d):
        if gamma == 1:
            raise ValueError("gamma = 1 with KL(pi || mu) = inf: (gamma - 1) * D is 0 * inf")
        return mpmath.inf if gamma > 1 else mpmath.mpf(0)
    return mpmath.exp((gamma - 1) * d)


def renyi_divergence_lognormal(alpha, sigma2):
    """D_alpha(pi || mu) = alpha sigma^2 / 2 when log w ~ N(-sigma^2 / 2, sigma^2) under mu.

    From D_alpha = log E_mu[w^alpha] / (alpha - 1) and the normal MGF (Assumption 7.3); alpha = 1
    gives KL(pi || mu) = sigma^2 / 2. Domain: alpha >= 0 finite, sigma2 >= 0 finite. With it,
    Theorem 6.3 reads E[w^(2 gamma)] = exp((2 gamma - 1) gamma sigma^2) = Theorem 7.4.
    """
    alpha = require_range("alpha", require_finite("alpha", alpha), lo=0)
    sigma2 = require_range("sigma2", require_finite("sigma2", sigma2), lo=0)
    return alpha * sigma2 / 2


def _logit_pair_cases(first="logits_p", second="logits_q", order="alpha", orders=None):
    import numpy as np

    rng = np.random.default_rng(6001)
    orders = orders or (0.0, 0.25, 0.5, 0.999999, 1.0, 1.000001, 1.5, 2.0)
    ninf = float("-inf")
    pairs = [
        ("identical", [0.1, -0.3, 1.2], [0.1, -0.3, 1.2]),
        ("shifted logits (same distribution)", [0.0, 1.0, 2.0], [5.0, 6.0, 7.0]),
        ("two outcomes", [0.0, 0.0], [2.0, -1.0]),
        ("extreme: logits +-700", [700.0, -700.0, 0.0], [0.0, 0.0, 0.0]),
        ("p has a masked outcome", [0.0, ninf, 1.0], [0.0, 0.5, 0.3]),
        ("q has a masked outcome p uses (p not << q)", [0.0, 0.2, 1.0], [0.0, ninf, 0.3]),
        ("disjoint supports", [0.0, ninf], [ninf, 0.0]),
    ]
    for k in (4, 16):
        a = rng.normal(0, 1.5, size=k)
        b = rng.normal(0, 1.5, size=k)
        pairs.append((f"seeded random k={k}", [float(x) for x in a], [float(x) for x in b]))
    cs = []
    for note, a, b in pairs:
        for o in orders:
            cs.append(case(f"{note}, {order}={o}", **{first: a, second: b, order: o}))
    cs += [
        case(f"edge: {order} < 0", **{first: [0.0, 1.0], second: [0.0, 0.0], order: -0.5}),
        case(f"edge: {order} NaN", **{first: [0.0, 1.0], second: [0.0, 0.0], order: float("nan")}),
        case("edge: NaN logit", **{first: [0.0, float("nan")], second: [0.0, 0.0], order: 0.5}),
        case("edge: +inf logit", **{first: [0.0, 1.0], second: [float("inf"), 0.0], order: 0.5}),
        case("edge: all -inf", **{first: [ninf, ninf], second: [0.0, 0.0], order: 0.5}),
        case("edge: length mismatch", **{first: [0.0, 1.0], second: [0.0, 0.0, 0.0], order: 0.5}),
    ]
    return cs


def _kl_cases():
    out = []
    for c in _logit_pair_cases(orders=(1.0,)):
        inputs = dict(c.inputs)
        if inputs.pop("alpha") != 1.0:
            continue
        out.append(case(c.note.replace(", alpha=1.0", ""), **inputs))
    return out


def _renyi_cases():
    return _logit_pair_cases()


def _moment_logit_cases():
    return _logit_pair_cases("logits_pi", "logits_mu", "gamma", (0.0, 0.3, 0.5, 1.0, 1.4, 2.0))


def _moment_logit_cases_any_sign():
    cs = _moment_logit_cases()
    cs.append(
        case("negative gamma", logits_pi=[0.0, 1.0, -1.0], logits_mu=[0.5, 0.0, 0.0], gamma=-0.5)
    )
    cs.append(
        case(
            "negative gamma, pi_i = 0",
            logits_pi=[0.0, float("-inf")],
            logits_mu=[0.0, 0.0],
            gamma=-0.5,
        )
    )
    return cs


def _renyi_lognormal_cases():
    cs = [
        case(f"grid alpha={a} sigma2={s2}", alpha=a, sigma2=s2)
        for a in (0.0, 0.5, 1.0, 2.0)
        for s2 in (0.0, 0.1, 1.0, 10.0)
    ]
    cs += [
        case("large sigma2", alpha=2.0, sigma2=1e300),
        case("edge: alpha < 0", alpha=-1.0, sigma2=1.0),
        case("edge: sigma2 < 0", alpha=1.0, sigma2=-1.0),
        case("edge: alpha inf", alpha=float("inf"), sigma2=1.0),
    ]
    return cs


register_golden(kl_divergence, _kl_cases, tensor_args=("logits_p", "logits_q"))
register_golden(renyi_divergence, _renyi_cases, tensor_args=("logits_p", "logits_q", "alpha"))
register_golden(
    power_moment_from_logits,
    _moment_logit_cases_any_sign,
    tensor_args=("logits_pi", "logits_mu", "gamma"),
)
register_golden(
    renyi_identity_rhs, _moment_logit_cases, tensor_args=("logits_pi", "logits_mu", "gamma")
)
register_golden(renyi_divergence_lognormal, _renyi_lognormal_cases, tensor_args=("alpha", "sigma2"))
