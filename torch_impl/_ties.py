"""Clamps whose value AND autograd gradient at the bound are fixed by the code, not by torch.

``torch.clamp`` / ``torch.minimum`` / ``torch.maximum`` leave the gradient at a tie to torch's
convention, which changed: up to torch 2.13 ``clamp`` passes gradient 1 at its bounds, from
2.14 it passes 0 (1/2 with tensor bounds); ``minimum`` / ``maximum`` split it evenly between
equal arguments. Every
clamp on a path that autograd differentiates goes through these helpers instead. Each selects
with ``torch.where`` and a strict comparison, so at x == bound the result is x itself: value
the bound, gradient that of x (the closed interval, the reference's convention: the bound is
inside). Bounds may be Python numbers or tensors that broadcast with x.
"""

from __future__ import annotations

from typing import Any

import torch


def cap_above(x: torch.Tensor, hi: Any) -> torch.Tensor:
    """min(x, hi); at x == hi the value x with the gradient of x."""
    return torch.where(x > hi, hi, x)


def cap_below(x: torch.Tensor, lo: Any) -> torch.Tensor:
    """max(x, lo); at x == lo the value x with the gradient of x."""
    return torch.where(x < lo, lo, x)


def clip_closed(x: torch.Tensor, lo: Any, hi: Any) -> torch.Tensor:
    """clamp(x, lo, hi) (lo <= hi); x itself, with its gradient, on the closed [lo, hi]."""
    return cap_above(cap_below(x, lo), hi)
