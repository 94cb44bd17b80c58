"""KL estimators k1, k2, k3 of one draw's log ratio log_r = log p(x) - log q(x), x ~ q
(twins of ``reference/kl_estimators.py``; that module's docstring has the formulas).

Elementwise, broadcasting, dtype-preserving (bfloat16 / float16 computed in float32 and rounded
once). k3's gradient is NaN where e^log_r overflows (log_r > 88.7 in float32, > 709.8 in
float64), even under a zero upstream gradient: clamp log_r first when masking a KL penalty.
k3 = expm1(log_r) - log_r cancels to ~log_r^2 / 2, so its rounding is ~2 eps / |log_r|
relative; below |log_r| < 1/2 it is the Taylor polynomial x^2/2! + ... + x^17/17! instead
(truncation 2 |x|^16 / 18! < 5e-21 relative there), and above it the direct form is within
~4 eps plus expm1's own rounding.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from isreshape.torch_impl._validate import check_finite, promote

__all__ = ["kl_k1", "kl_k2", "kl_k3"]

_SERIES_BELOW = 0.5
_FACTORIALS = [float(math.factorial(k)) for k in range(2, 18)]


def _input(log_r: Any) -> tuple[torch.Tensor, torch.dtype]:
    check_finite("log_r", log_r)
    (x,), out_dtype = promote(log_r)
    return x, out_dtype


def kl_k1(log_r: Any) -> torch.Tensor:
    """k1 = -log_r."""
    x, out = _input(log_r)
    return (-x).to(out)


def kl_k2(log_r: Any) -> torch.Tensor:
    """k2 = log_r^2 / 2."""
    x, out = _input(log_r)
    return (x * x / 2).to(out)


def kl_k3(log_r: Any) -> torch.Tensor:
    """k3 = (e^log_r - 1) - log_r (>= 0)."""
    x, out = _input(log_r)
    small = x.abs() < _SERIES_BELOW
    xs = torch.where(small, x, torch.zeros_like(x))
    # Horner for x^2 (1/2! + x (1/3! + ... + x / 17!))
    poly = torch.full_like(xs, 1.0 / _FACTORIALS[-1])
    for f in reversed(_FACTORIALS[:-1]):
        poly = poly * xs + 1.0 / f
    series = xs * xs * poly
    direct = torch.expm1(x) - x
    return torch.where(small, series, direct).to(out)
