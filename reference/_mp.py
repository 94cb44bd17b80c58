"""Small mpmath helpers shared by the reference modules."""

from __future__ import annotations

import mpmath


def sigmoid(x):
    """1 / (1 + exp(-x)) at the ambient precision; exact at +-inf, no overflow for large |x|."""
    x = mpmath.mpf(x)
    if mpmath.isinf(x):
        return mpmath.mpf(1) if x > 0 else mpmath.mpf(0)
    if x >= 0:
        return 1 / (1 + mpmath.exp(-x))
    e = mpmath.exp(x)
    return e / (1 + e)
