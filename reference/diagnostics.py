"""Sample diagnostics of importance weights: Kish effective sample size (seed 001 section 8.1)
and the PSIS Pareto k-hat of the right tail (seed 001 section 11.2).

Inputs are log-weights, so weights from exp(-700) to exp(700) (and beyond) are exact.
"""

from __future__ import annotations

import mpmath

from isreshape.reference._checks import as_mask
from isreshape.reference.golden import case, register_golden

NO_GOLDEN = {
    "psis_tail_length": "integer helper (PSIS tail size ceil(min(S/5, 3 sqrt(S)))); tested "
    "against ArviZ's float formula in tests/test_diagnostics.py",
}


def _selected(log_w, mask):
    """The selected log-weights as mpf, after the checks shared by every diagnostic.

    Masked-out entries are not read (padding may hold NaN or +-inf). Raises ``ValueError``
    naming the argument and the value for: no entries, a mask selecting none, a selected NaN,
    a selected +inf. The messages are the ones of the NumPy and torch twins.
    """
    values = list(log_w)
    if not values:
        raise ValueError("log_w must hold at least one entry, got []")
    keep = as_mask("mask", mask, len(values))
    if not any(keep):
        raise ValueError(
            f"mask must select at least one entry (empty sample), got all {len(keep)} False"
        )
    kept = []
    for i, (v, k) in enumerate(zip(values, keep)):
        if not k:
            continue
        v = mpmath.mpf(v)
        if mpmath.isnan(v):
            raise ValueError(f"log_w[{i}] must not be NaN, got nan")
        if mpmath.isinf(v) and v > 0:
            raise ValueError(f"log_w[{i}] must be below +inf (an infinite weight), got inf")
        kept.append(v)
    return kept


def _masked_log_weights(log_w, mask):
    kept = _selected(log_w, mask)
    if all(mpmath.isinf(v) for v in kept):
        raise ValueError(_NO_MASS)
    return kept


# (sum w)^2 / sum w^2 is 0 / 0 when every weight is 0, and has no limit there: scaling weights
# toward 0 keeps any value in [1, n]. No ESS exists, so every twin raises (NaN on a device).
_NO_MASS = "log_w must have a selected entry above -inf (all weights 0: no ESS), got all -inf"


def kish_ess(log_w, mask=None):
    """Kish effective sample size (sum w)^2 / sum w^2 of the selected entries.

    Seed 001 Definition 8.1 with w_i = exp(log_w_i); pass gamma * log_w for ESS_gamma.
    Domain: selected log_w without NaN or +inf, at least one selected entry above -inf; mask is
    a sequence of booleans (True = keep) of the same length; masked-out entries are not read.
    log_w = -inf is a zero weight (a token pi_theta cannot emit): it counts in n but adds
    nothing to either sum. Range [1, n].
    Edges (``ValueError`` naming the argument and the value, identically in
    :func:`kish_ess_ratio_np` and the torch twins): empty log_w, a mask selecting nothing, a
    selected NaN, a selected +inf (mu = 0 at a token drawn from mu: an upstream error that the
    limit value 1 would hide), every selected entry -inf (0 / 0 with no limit: no ESS exists).
    """
    kept = _masked_log_weights(log_w, mask)
    m = max(kept)
    s1 = mpmath.fsum(mpmath.exp(v - m) for v in kept)
    s2 = mpmath.fsum(mpmath.exp(2 * (v - m)) for v in kept)
    return s1**2 / s2


def kish_ess_ratio(log_w, mask=None):
    """Normalised Kish ESS: kish_ess / n, n the number of selected entries. Range [1/n, 1].

    n includes the -inf entries (zero weights). Domain and edges as :func:`kish_ess`.
    """
    kept = _masked_log_weights(log_w, mask)
    return kish_ess(kept) / len(kept)


def _kish_cases():
    import numpy as np

    rng = np.random.default_rng(20261122)
    cs = [
        case("equal weights", log_w=[0.0, 0.0, 0.0, 0.0]),
        case("single entry", log_w=[3.5]),
        case("two entries", log_w=[0.0, -1.0]),
        case("extreme: log_w = +-700", log_w=[700.0, -700.0, 699.0, 0.0]),
        case("extreme: all near -700", log_w=[-700.0, -701.5, -699.25]),
        case("a -inf entry (zero weight)", log_w=[0.0, float("-inf"), 1.0]),
        case("mask drops the outlier", log_w=[0.0, 50.0, 0.1], mask=[True, False, True]),
        case("mask keeps one", log_w=[1.0, 2.0, 3.0], mask=[False, True, False]),
        case("edge: empty mask", log_w=[1.0, 2.0], mask=[False, False]),
        case("edge: NaN", log_w=[0.0, float("nan")]),
        case("edge: +inf", log_w=[0.0, float("inf")]),
        case("edge: all -inf", log_w=[float("-inf"), float("-inf")]),
    ]
    for s2 in (0.1, 1.0, 4.0):
        lw = rng.normal(-s2 / 2, np.sqrt(s2), size=64)
        cs.append(case(f"seeded log-normal sigma2={s2} n=64", log_w=[float(x) for x in lw]))
    lw = rng.normal(0, 2, size=32)
    mask = [bool(b) for b in rng.random(32) < 0.6]
    cs.append(case("seeded random mask n=32", log_w=[float(x) for x in lw], mask=mask))
    return cs


register_golden(kish_ess, _kish_cases, tensor_args=("log_w",))
register_golden(kish_ess_ratio, _kish_cases, tensor_args=("log_w",))


def _np_index(idx) -> str:
    return ", ".join(str(int(i)) for i in idx)


def _np_check(lw, keep, axis=None):
    """The checks of :func:`_selected` on NumPy arrays (keep broadcast to lw); rows along axis."""
    import numpy as np

    if lw.size == 0 or (axis is not None and lw.shape[axis] == 0):
        raise ValueError(f"log_w must hold at least one entry, got shape {lw.shape}")
    if not keep.any(axis=axis).all():
        n = lw.size if axis is None else lw.shape[axis]
        raise ValueError(f"mask must select at least one entry (empty sample), got all {n} False")
    for bad, what in (
        (np.isnan(lw) & keep, "must not be NaN, got nan"),
        (np.isposinf(lw) & keep, "must be below +inf (an infinite weight), got inf"),
    ):
        if bad.any():
            raise ValueError(f"log_w[{_np_index(np.argwhere(bad)[0])}] {what}")


def kish_ess_ratio_np(log_w, mask=None, axis: int = -1):
    """NumPy float64 twin of :func:`kish_ess_ratio` along ``axis`` (large samples, Monte
    Carlo): (sum w)^2 / (n sum w^2), in the shift-invariant form exp(l - max) so that
    |log_w| ~ 700 is exact. Same domain, -inf meaning (weight 0, counted in n) and
    ``ValueError`` edges as :func:`kish_ess`, raised if any row along ``axis`` has one.
    Never NaN.
    """
    import numpy as np

    lw = np.asarray(log_w, dtype=np.float64)
    keep = np.ones(lw.shape, dtype=bool) if mask is None else np.broadcast_to(mask, lw.shape)
    keep = np.asarray(keep, dtype=bool)
    if lw.ndim == 0:
        raise ValueError(f"log_w must have a sample axis, got a scalar {float(lw)!r}")
    _np_check(lw, keep, axis)
    lw = np.where(keep, lw, -np.inf)  # a new array: the input is not modified
    top = np.max(lw, axis=axis, keepdims=True)
    if not np.isfinite(top).all():
        raise ValueError(_NO_MASS)
    z = np.exp(lw - top)
    n = keep.sum(axis=axis)
    return np.sum(z, axis=axis) ** 2 / np.sum(z * z, axis=axis) / n


# ---------------------------------------------------------------- PSIS Pareto k-hat
#
# The estimator of Vehtari, Simpson, Gelman, Yao and Gabry (2024, "Pareto smoothed importance
# sampling", JMLR) as ArviZ implements it (``psislw`` / ``_gpdfit``) with r_eff = 1:
#   * tail length M = ceil(min(S / 5, 3 sqrt(S))) for S draws; the tail is the draws whose
#     log-weight exceeds the (M+1)-th largest one (clamped below at log of the smallest normal
#     double, relative to the maximum), so ties at the cutoff shorten the tail;
#   * the exceedances x = exp(l - max) - exp(cutoff - max) are fitted by the generalized Pareto
#     profile-likelihood method of Zhang & Stephens (2009): m = 30 + floor(sqrt(n)) grid points
#     theta_j = 1 / x_(n) + (1 - sqrt(m / (j - 1/2))) / (3 x_q), x_q the ascending order
#     statistic number floor(n / 4 + 1/2), profile log-likelihood
#     L_j = n (log(-theta_j / k_j) - k_j - 1) with k_j = mean(log1p(-theta_j x)), weights
#     softmax(L) with those below 10 eps(float64) dropped and the rest renormalised, posterior
#     mean theta = sum w_j theta_j, k = mean(log1p(-theta x));
#   * the weakly informative prior shrinks k toward 0.5 with weight 10 / n:
#     k_hat = (n k + 10 * 0.5) / (n + 10).
# A tail of 4 or fewer draws gives k_hat = +inf (ArviZ's "not enough tail samples").
# The float64 twins (psis_khat_np, torch psis_khat) run the same fit on log-exceedances, since
# the exceedances can span more than the float64 range (ArviZ's own would underflow there).

_LOG_TINY = mpmath.mpf(-708.39641853226410622)  # log(2.2250738585072014e-308), ArviZ cutoffmin
_WEIGHT_FLOOR = mpmath.mpf(10 * 2.220446049250313e-16)  # ArviZ: weights >= 10 * eps(float64)


def psis_tail_length(n: int) -> int:
    """M = ceil(min(n / 5, 3 sqrt(n))) (r_eff = 1), in exact integer arithmetic."""
    import math

    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    by_fifth = -(-n // 5)
    by_root = math.isqrt(9 * n - 1) + 1  # ceil(sqrt(9 n)) for n >= 1
    return min(by_fifth, by_root)


def _gpd_khat(x_sorted):
    """Zhang-Stephens posterior-mean shape with the 0.5-prior, x ascending and positive."""
    n = len(x_sorted)
    m = 30 + int(mpmath.floor(mpmath.sqrt(n)))
    xq = x_sorted[int(mpmath.floor(mpmath.mpf(n) / 4 + mpmath.mpf(1) / 2)) - 1]
    xmax = x_sorted[-1]
    thetas, logl = [], []
    for j in range(1, m + 1):
        th = 1 / xmax + (1 - mpmath.sqrt(mpmath.mpf(m) / (j - mpmath.mpf(1) / 2))) / (3 * xq)
        k = mpmath.fsum(mpmath.log1p(-th * x) for x in x_sorted) / n
        ratio = -th / k if k != 0 else 1 / (mpmath.fsum(x_sorted) / n)
        thetas.append(th)
        logl.append(n * (mpmath.log(ratio) - k - 1))
    top = max(logl)
    e = [mpmath.exp(v - top) for v in logl]
    tot = mpmath.fsum(e)
    w = [v / tot for v in e]
    kept = [(wi, th) for wi, th in zip(w, thetas) if wi >= _WEIGHT_FLOOR]
    wsum = mpmath.fsum(wi for wi, _ in kept)
    theta = mpmath.fsum(wi * th for wi, th in kept) / wsum
    k = mpmath.fsum(mpmath.log1p(-theta * x) for x in x_sorted) / n
    return (n * k + 5) / (n + 10)


def psis_khat(log_w, mask=None):
    """PSIS Pareto k-hat of the right tail of the weights exp(log_w) (seed 001 section 11.2).

    The ArviZ / Vehtari et al. (2024) estimator, described above this function: tail length
    ceil(min(S/5, 3 sqrt(S))), Zhang-Stephens (2009) grid posterior mean, prior toward 0.5 with
    weight 10 / n_tail. Invariant to adding a constant to log_w (k-hat is scale-free).
    Domain: selected log_w without NaN or +inf; mask booleans, masked-out entries not read.
    A -inf entry is a zero weight: it counts in S, never in the tail.
    Edges: a tail of <= 4 draws gives +inf, ArviZ's "not enough tail samples" (S <= 20; ties
    at the cutoff, e.g. all log_w equal; every draw but the top more than 708.4 nats below it,
    ArviZ's cutoff floor; every selected log_w -inf, no tail at all). ``ValueError`` naming
    the argument and the value for empty log_w, a mask selecting nothing, a selected NaN or
    +inf (as :func:`kish_ess`).
    Degenerate tails are values, not errors: the estimator is evaluated exactly (50 digits,
    unbounded exponents), including tails whose exceedances span more than the float64 range,
    such as one draw 700 nats above a tight cluster, where k-hat ~ (spread in nats) / n_tail
    (a very heavy tail, far above 0.7); equal exceedances give a finite value.
    Typical reading: k-hat < 0.7 reliable.
    """
    kept = _selected(log_w, mask)
    s = len(kept)
    desc = sorted(kept, reverse=True)
    top = desc[0]
    if mpmath.isinf(top):
        return mpmath.inf  # every weight is zero: no tail
    m_tail = psis_tail_length(s)
    if m_tail >= s:
        return mpmath.inf
    cutoff = max(desc[m_tail], top + _LOG_TINY)
    tail = [v for v in desc[:m_tail] if v > cutoff]
    if len(tail) <= 4:
        return mpmath.inf
    # exp(l - top) - exp(c - top) = exp(l - top) * (-expm1(c - l)), with c - l taken from the
    # inputs themselves (exact for nearby values): no cancellation for l close to c
    x = sorted(mpmath.exp(v - top) * -mpmath.expm1(cutoff - v) for v in tail)
    return _gpd_khat(x)


def _log_tail_np(log_w, mask=None):
    """Ascending log-exceedances lx = log(exp(l - top) - exp(c - top)) of the PSIS tail, or
    None for a tail of <= 4 draws; the checks of :func:`psis_khat` first."""
    import numpy as np

    lw = np.asarray(log_w, dtype=np.float64).ravel()
    keep = np.ones(lw.shape, bool) if mask is None else np.asarray(mask, dtype=bool).ravel()
    if keep.shape != lw.shape:
        raise ValueError(f"mask has length {keep.size}, expected {lw.size}")
    _np_check(lw, keep)
    lw = lw[keep]
    desc = np.sort(lw)[::-1]
    top = desc[0]
    if np.isneginf(top):
        return None
    m_tail = psis_tail_length(lw.size)
    if m_tail >= lw.size:
        return None
    cutoff = max(desc[m_tail], top + float(_LOG_TINY))
    tail = desc[:m_tail]
    tail = tail[tail > cutoff]
    if tail.size <= 4:
        return None
    # log of exp(l - top) * (-expm1(c - l)): never underflows (ArviZ's exp(l) - exp(c) does)
    return np.sort((tail - top) + np.log(-np.expm1(cutoff - tail)))


def _log1p_neg_t_rho(t, d):
    """log(1 - t exp(d)) for the scaled grid theta t = theta x_q and d = log(x / x_q), without
    forming exp(d) (up to exp(750)). 1 - t exp(d) > 0 on the tail for every grid theta."""
    import numpy as np

    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        neg = np.logaddexp(0.0, np.log(-t) + d)  # t < 0: log(1 + |t| rho)
        pos = np.log1p(-t * np.exp(d))  # t > 0 only where rho < 1 / t: no overflow
    return np.where(t < 0, neg, pos)


def psis_khat_np(log_w, mask=None) -> float:
    """NumPy float64 companion of :func:`psis_khat` for one sample (large S, Monte Carlo).

    Same estimator, domain, edges and messages. The Zhang-Stephens fit is scale-free, so it
    runs on the log-exceedances lx with theta measured in units of 1 / x_q: with
    rho_i = x_i / x_q = exp(lx_i - lx_q), t_j = theta_j x_q = x_q / x_max - (sqrt(m / (j - 1/2))
    - 1) / 3 and log1p(-theta_j x_i) = log(1 - t_j rho_i) (a softplus for t_j < 0), no
    quantity leaves the float64 range even when the exceedances span e^-750 to 1. The profile
    log-likelihood loses the constant -n log x_q, which the softmax ignores. Never NaN.
    """
    import numpy as np

    lx = _log_tail_np(log_w, mask)
    if lx is None:
        return float("inf")
    n = lx.size
    m = 30 + int(np.floor(np.sqrt(n)))
    lxq = lx[int(n / 4 + 0.5) - 1]
    d = lx - lxq
    j = np.arange(1, m + 1, dtype=np.float64)
    t = np.exp(lxq - lx[-1]) - (np.sqrt(m / (j - 0.5)) - 1) / 3
    k = _log1p_neg_t_rho(t[:, None], d[None, :]).mean(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        # k = 0 only for t = 0: ArviZ's 1 / mean(x), here x_q / mean(x)
        log_ratio = np.where(k != 0, np.log(-t / k), -(np.logaddexp.reduce(d) - np.log(n)))
    logl = n * (log_ratio - k - 1)
    w = np.exp(logl - logl.max())
    w /= w.sum()
    keep = w >= float(_WEIGHT_FLOOR)
    post = np.sum(w[keep] * t[keep]) / np.sum(w[keep])
    kk = _log1p_neg_t_rho(post, d).mean()
    return float((n * kk + 5) / (n + 10))


def _khat_cases():
    import numpy as np

    rng = np.random.default_rng(11001)
    ninf = float("-inf")
    cs = []
    for s in (30, 100, 400):
        for k_true in (0.2, 0.5, 1.0):
            lw = rng.exponential(k_true, size=s)  # Pareto tail: w = exp(E), P(w > t) = t^-1/k
            cs.append(
                case(f"seeded Pareto k={k_true} S={s}", fast=s <= 100, log_w=[float(v) for v in lw])
            )
    for s2 in (0.5, 4.0):
        lw = rng.normal(-s2 / 2, np.sqrt(s2), size=200)
        cs.append(case(f"seeded log-normal sigma2={s2} S=200", log_w=[float(v) for v in lw]))
    t = rng.standard_t(3, size=200)
    cs.append(case("seeded |Student-t nu=3| S=200", log_w=[float(v) for v in np.log(np.abs(t))]))
    u = rng.uniform(size=100)
    cs.append(case("bounded weights (uniform) S=100", log_w=[float(v) for v in np.log(u)]))
    base = [float(v) for v in rng.exponential(0.5, size=60)]
    cs += [
        case("shifted by +650 (scale invariance)", log_w=[v + 650.0 for v in base]),
        case("shifted by -650 (scale invariance)", log_w=[v - 650.0 for v in base]),
        case("unshifted twin of the two above", log_w=base),
        case("extreme: spread of 1400 in log_w", log_w=[700.0, -700.0] + base[:58]),
        case("with -inf entries (zero weights)", log_w=base[:40] + [ninf] * 5),
        case("mask drops half", log_w=base, mask=[i % 2 == 0 for i in range(60)]),
        case("S = 21: tail of 5 draws", log_w=base[:21]),
        case("S = 20: tail of 4 draws gives inf", log_w=base[:20]),
        case("all equal: no tail beyond the cutoff gives inf", log_w=[0.5] * 50),
        case(
            "ties at the cutoff shorten the tail", log_w=[3.0, 2.5, 2.0, 1.8, 1.5, 1.2] + [1.0] * 44
        ),
        case("single draw gives inf", log_w=[1.0]),
        case("edge: empty mask", log_w=[0.0, 1.0], mask=[False, False]),
        case("edge: NaN", log_w=base[:30] + [float("nan")]),
        case("edge: +inf", log_w=base[:30] + [float("inf")]),
    ]
    return cs


register_golden(psis_khat, _khat_cases, tensor_args=("log_w",))
