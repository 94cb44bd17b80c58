"""Argument checks shared by the reference modules: a clear ``ValueError`` naming the argument."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import mpmath


def require_finite(name: str, value: Any) -> mpmath.mpf:
    v = mpmath.mpf(value)
    if not mpmath.isfinite(v):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return v


def require_not_nan(name: str, value: Any) -> mpmath.mpf:
    v = mpmath.mpf(value)
    if mpmath.isnan(v):
        raise ValueError(f"{name} must not be NaN, got {value!r}")
    return v


def require_range(
    name: str,
    value: Any,
    lo: Any = None,
    hi: Any = None,
    lo_open: bool = False,
    hi_open: bool = False,
) -> mpmath.mpf:
    v = require_not_nan(name, value)
    bad = (lo is not None and (v < lo or (lo_open and v == lo))) or (
        hi is not None and (v > hi or (hi_open and v == hi))
    )
    if bad:
        left = "(" if lo_open else "["
        right = ")" if hi_open else "]"
        interval = f"{left}{'-inf' if lo is None else lo}, {'inf' if hi is None else hi}{right}"
        raise ValueError(f"{name} must lie in {interval}, got {value!r}")
    return v


def as_mp_list(name: str, values: Sequence[Any]) -> list[mpmath.mpf]:
    out = [mpmath.mpf(v) for v in values]
    for i, v in enumerate(out):
        if mpmath.isnan(v):
            raise ValueError(f"{name}[{i}] is NaN")
    return out


def as_mask(name: str, mask: Sequence[Any] | None, n: int) -> list[bool]:
    if mask is None:
        return [True] * n
    if len(mask) != n:
        raise ValueError(f"{name} has length {len(mask)}, expected {n}")
    return [bool(m) for m in mask]
