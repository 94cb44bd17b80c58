"""Oracles for ``reference/kl_estimators.py``: each estimator from the density ratio r itself.

r - 1 = expm1(log_r) is formed at 60 extra digits and the estimators are written on r (k1 =
-log r, k2 = (log r)^2 / 2 with log r = log1p(r - 1) recomputed from r, k3 = r - 1 - log r): a different
route through exp / log than the generator's direct use of log_r and expm1. For k3 the series
sum_{n >= 2} log_r^n / n! is used where |log_r| < 1e-5 (the direct form loses all digits there
even at 60 extra digits for |log_r| ~ 1e-300)."""

from __future__ import annotations

import mpmath

from isreshape.reference.golden import register_oracle

_EXTRA = 60


def _domain(log_r) -> bool:
    return bool(mpmath.isfinite(log_r))


def _log_from_ratio(log_r):
    # near 0 via r - 1 = expm1(log_r) and log1p (tiny log_r keeps its digits); far below 0
    # r itself (r - 1 would round to -1)
    with mpmath.extradps(_EXTRA):
        if log_r < -1:
            return mpmath.log(mpmath.exp(log_r))
        return mpmath.log1p(mpmath.expm1(log_r))


def _k1(log_r):
    return -_log_from_ratio(log_r)


def _k2(log_r):
    x = _log_from_ratio(log_r)
    return x**2 / 2


def _k3(log_r):
    if abs(log_r) < mpmath.mpf("1e-5"):
        return mpmath.nsum(lambda n: log_r**n / mpmath.factorial(n), [2, mpmath.inf])
    with mpmath.extradps(_EXTRA):
        r = mpmath.exp(log_r)
        return +(r - 1 - mpmath.log(r))


_WHY = "60 guard digits for the exp / log round trip; the series converges geometrically"
for _name, _fn, _route in (
    ("kl_k1", _k1, "-log1p(r - 1) with r - 1 = expm1(log_r) formed at 60 extra digits"),
    ("kl_k2", _k2, "log1p(r - 1)^2 / 2 with r - 1 = expm1(log_r) formed at 60 extra digits"),
    ("kl_k3", _k3, "r - 1 - log r at 60 extra digits (no expm1); the series for |log_r| < 1e-5"),
):
    register_oracle(f"kl_estimators.{_name}", _route, _fn, digits=35, why=_WHY, domain=_domain)
