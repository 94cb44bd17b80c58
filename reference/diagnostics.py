"""Sample diagnostics of importance weights: Kish effective sample size (seed 001 section 8.1).

Inputs are log-weights, so weights from exp(-700) to exp(700) (and beyond) are exact.
"""

from __future__ import annotations

import mpmath

from reference._checks import as_mask, as_mp_list
from reference.golden import case, register_golden


def _masked_log_weights(log_w, mask):
    lw = as_mp_list("log_w", log_w)
    keep = as_mask("mask", mask, len(lw))
    kept = [v for v, k in zip(lw, keep) if k]
    if not kept:
        raise ValueError("mask selects no entries (empty sample)")
    for v in kept:
        if mpmath.isinf(v) and v > 0:
            raise ValueError(
                f"log_w contains +inf ({v}); the ESS of an infinite weight is undefined"
            )
    if all(mpmath.isinf(v) for v in kept):
        raise ValueError("every selected log_w is -inf: the weights have no mass")
    return kept


def kish_ess(log_w, mask=None):
    """Kish effective sample size (sum w)^2 / sum w^2 of the selected entries.

    Seed 001 Definition 8.1 with w_i = exp(log_w_i); pass gamma * log_w for ESS_gamma.
    Domain: log_w without NaN or +inf, at least one selected entry with log_w > -inf; mask is a
    sequence of booleans (True = keep) of the same length. Entries with log_w = -inf carry weight
    0 and count in n but not in the ESS. Range [1, n].
    """
    kept = _masked_log_weights(log_w, mask)
    m = max(kept)
    s1 = mpmath.fsum(mpmath.exp(v - m) for v in kept)
    s2 = mpmath.fsum(mpmath.exp(2 * (v - m)) for v in kept)
    return s1**2 / s2


def kish_ess_ratio(log_w, mask=None):
    """Normalised Kish ESS: kish_ess / n, n the number of selected entries. Range [1/n, 1]."""
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


def kish_ess_ratio_np(log_w, mask=None, axis: int = -1):
    """NumPy float64 twin of :func:`kish_ess_ratio` for large samples (no argument checks
    beyond shape; used by Monte Carlo checks). Shift-invariant form, so |log_w| ~ 700 is fine."""
    import numpy as np

    lw = np.asarray(log_w, dtype=np.float64)
    keep = np.ones(lw.shape, dtype=bool) if mask is None else np.broadcast_to(mask, lw.shape)
    lw = np.where(keep, lw, -np.inf)
    top = np.max(lw, axis=axis, keepdims=True)
    z = np.exp(lw - top)
    n = keep.sum(axis=axis)
    return np.sum(z, axis=axis) ** 2 / np.sum(z * z, axis=axis) / n
