"""The KL estimators k1, k2, k3 (issue 12, item 3) and their exact moments.

One draw x ~ q with log ratio log_r = log p(x) - log q(x) estimates KL(q || p) by

    k1 = -log_r                       (unbiased, variance Var_q(log r))
    k2 = log_r^2 / 2                  (biased: E = KL + O(KL^2), low variance near q = p)
    k3 = (r - 1) - log_r,  r = e^log_r (unbiased: E_q[r] = 1; >= 0 pointwise)

These are the approximations used for the KL penalty in RL for language models (k3 is verl's
"low_var_kl"). Domain: log_r finite (``ValueError`` otherwise). k3 is computed as
expm1(log_r) - log_r with guard digits: the two terms cancel to ~log_r^2 / 2.

Gaussian closed forms (:func:`gaussian_kl_estimator_moments`), q = N(0, 1), p = N(delta, 1):
log r = delta x - delta^2 / 2 ~ N(-delta^2 / 2, delta^2), KL(q||p) = delta^2 / 2, and

    k1: mean delta^2 / 2,                 variance delta^2
    k2: mean delta^2 / 2 + delta^4 / 8,   variance delta^4 / 2 + delta^6 / 4
    k3: mean delta^2 / 2,                 variance e^(delta^2) - 1 - delta^2

(k3: Var r = e^(delta^2) - 1, Var log r = delta^2, Cov(r, log r) = E_p[log r] + delta^2 / 2 =
delta^2). tests/test_kl_estimators.py integrates each against the normal density with sympy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import mpmath

from isreshape.reference._checks import require_finite
from isreshape.reference.golden import case, register_golden

__all__ = [
    "ESTIMATORS",
    "discrete_kl_estimator_moments",
    "gaussian_kl_estimator_moments",
    "kl_k1",
    "kl_k2",
    "kl_k3",
]

NO_GOLDEN = {
    "gaussian_kl_estimator_moments": "closed forms in delta, checked against sympy integrals "
    "over the normal density in tests/test_kl_estimators.py",
    "discrete_kl_estimator_moments": "finite sums over an instance, checked against an "
    "independent torch enumeration in tests/test_kl_estimators.py",
}


def kl_k1(log_r: Any) -> mpmath.mpf:
    """k1 = -log r, the plain Monte Carlo estimate of KL(q||p) from one draw x ~ q."""
    return -require_finite("log_r", log_r)


def kl_k2(log_r: Any) -> mpmath.mpf:
    """k2 = (log r)^2 / 2 (biased; its mean is an f-divergence close to KL near q = p)."""
    x = require_finite("log_r", log_r)
    return x * x / 2


def kl_k3(log_r: Any) -> mpmath.mpf:
    """k3 = (r - 1) - log r (unbiased since E_q[r] = 1, and >= 0 since e^x >= 1 + x)."""
    x = require_finite("log_r", log_r)
    if x == 0:
        return mpmath.mpf(0)
    # expm1(x) - x cancels to ~x^2 / 2: about log10(2 / |x|) digits are lost
    lost = max(0, int(-mpmath.log10(abs(x)))) + 5
    with mpmath.extradps(lost):
        v = mpmath.expm1(x) - x
    return +v  # rounded to the working precision, outside the guard digits


ESTIMATORS = {"k1": kl_k1, "k2": kl_k2, "k3": kl_k3}


def gaussian_kl_estimator_moments(delta: Any, estimator: str) -> tuple[mpmath.mpf, mpmath.mpf]:
    """(mean, variance) of ``estimator`` for q = N(0, 1), p = N(delta, 1) (module docstring);
    the true KL(q||p) is delta^2 / 2. ``delta`` finite."""
    d = require_finite("delta", delta)
    d2 = d * d
    if estimator == "k1":
        return d2 / 2, d2
    if estimator == "k2":
        return d2 / 2 + d2 * d2 / 8, d2 * d2 / 2 + d2**3 / 4
    if estimator == "k3":
        return d2 / 2, mpmath.expm1(d2) - d2
    raise ValueError(f"estimator must be one of {sorted(ESTIMATORS)}, got {estimator!r}")


def discrete_kl_estimator_moments(
    logits_q: Sequence[Any], logits_p: Sequence[Any], estimator: str
) -> dict[str, mpmath.mpf]:
    """Exact {kl, mean, bias, variance} of ``estimator`` for one draw y ~ q = softmax(logits_q),
    log r = log p(y) - log q(y), p = softmax(logits_p), estimating KL(q||p). Equal lengths,
    finite logits (every action has positive probability under both)."""
    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator must be one of {sorted(ESTIMATORS)}, got {estimator!r}")
    if len(logits_q) != len(logits_p) or len(logits_q) == 0:
        raise ValueError(
            f"logits_q and logits_p need one non-zero length, got {len(logits_q)}, {len(logits_p)}"
        )
    zq = [require_finite("logits_q", v) for v in logits_q]
    zp = [require_finite("logits_p", v) for v in logits_p]

    def log_softmax(z):
        m = max(z)
        lse = m + mpmath.log(mpmath.fsum(mpmath.exp(v - m) for v in z))
        return [v - lse for v in z]

    lq, lp = log_softmax(zq), log_softmax(zp)
    q = [mpmath.exp(v) for v in lq]
    log_r = [b - a for a, b in zip(lq, lp)]
    k = [ESTIMATORS[estimator](x) for x in log_r]
    kl = -mpmath.fsum(qi * x for qi, x in zip(q, log_r))
    mean = mpmath.fsum(qi * v for qi, v in zip(q, k))
    var = mpmath.fsum(qi * (v - mean) ** 2 for qi, v in zip(q, k))
    return {"kl": kl, "mean": mean, "bias": mean - kl, "variance": var}


# ------------------------------------------------------------------------------ fixtures
_LOG_R = (
    -30.0,
    -5.0,
    -1.0,
    -0.5,
    -1e-3,
    -1e-8,
    -1e-300,
    0.0,
    1e-300,
    1e-8,
    1e-3,
    0.5,
    1.0,
    5.0,
    30.0,
    700.0,
    -700.0,
)


def _cases() -> list:
    cs = [case(f"log_r={x!r}", log_r=x) for x in _LOG_R]
    cs += [
        case("edge: log_r NaN", log_r=float("nan")),
        case("edge: log_r = +inf", log_r=float("inf")),
        case("edge: log_r = -inf", log_r=float("-inf")),
    ]
    return cs


for _fn in (kl_k1, kl_k2, kl_k3):
    register_golden(_fn, _cases, tensor_args=("log_r",))
