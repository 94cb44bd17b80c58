"""Error-free transformations (double-word arithmetic) for the torch twins.

A sum or product of two floating tensors is split into its rounded value and the exact rounding
error, ``a + b = s + e`` and ``a * b = p + e`` (Knuth's TwoSum, Dekker's TwoProduct with
Veltkamp's split). Twins use them where a function turns the rounding of an intermediate into
a large relative error (exp(x) turns an absolute error of x into a relative one of the value,
|x| times larger; a difference of nearly equal logits loses the digits they share). Only
additions, subtractions and multiplications of tensors: device-agnostic, no host
synchronisation, differentiable (the error terms have zero derivative up to rounding).
"""

from __future__ import annotations

import torch

# Veltkamp's constant 2^ceil(p / 2) + 1 and the magnitude above which c * a would overflow
_SPLIT = {
    torch.float64: (134217729.0, 1e290),
    torch.float32: (4097.0, 1e34),
}


def two_sum(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(s, e) with s = fl(a + b) and a + b = s + e exactly (finite a, b, no overflow); e = 0
    where s is not finite."""
    s = a + b
    bb = s - a
    e = (a - (s - bb)) + (b - bb)
    return s, torch.where(torch.isfinite(s), e, torch.zeros_like(e))


def _split(a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    c, big = _SPLIT[a.dtype]
    safe = a.abs() <= big
    a_s = torch.where(safe, a, torch.zeros_like(a))
    t = c * a_s
    hi = t - (t - a_s)
    return hi, a_s - hi


def two_prod(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(p, e) with p = fl(a b) and a b = p + e exactly (float64 / float32, |a|, |b| below
    ~1e290 / 1e34 and no underflow of e); e = 0 where p is not finite or an operand is huge."""
    a, b = torch.broadcast_tensors(a, b)
    p = a * b
    ah, al = _split(a)
    bh, bl = _split(b)
    e = ((ah * bh - p) + ah * bl + al * bh) + al * bl
    c, big = _SPLIT[a.dtype]
    ok = torch.isfinite(p) & (a.abs() <= big) & (b.abs() <= big)
    return p, torch.where(ok, e, torch.zeros_like(e))


def sigmoid2(hi: torch.Tensor, lo: torch.Tensor) -> torch.Tensor:
    """sigma(hi + lo) for |lo| <= ulp(hi): sigma(hi) (1 + lo sigma(-hi)) (d log sigma = sigma(-x)),
    to a few eps where sigma(hi) alone would carry the relative error |hi| eps / 2 of hi."""
    return torch.sigmoid(hi) * (1 + lo * torch.sigmoid(-hi))


def exp2w(hi: torch.Tensor, lo: torch.Tensor) -> torch.Tensor:
    """exp(hi + lo) for |lo| <= ulp(hi): exp(hi) (1 + lo)."""
    return torch.exp(hi) * (1 + lo)
