"""Compare computed values with fixture values; report every failing point, not the first."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch


def flatten(value) -> list[float]:
    if isinstance(value, torch.Tensor):
        return [float(v) for v in value.detach().to(torch.float64).cpu().reshape(-1).tolist()]
    if isinstance(value, (list, tuple)):
        out: list[float] = []
        for v in value:
            out.extend(flatten(v))
        return out
    return [float(value)]


def representable(want: float, dtype: torch.dtype) -> float:
    """What an exact computation can return in ``dtype``: overflow to inf, else the value."""
    if math.isfinite(want) and abs(want) > torch.finfo(dtype).max:
        return math.copysign(math.inf, want)
    return want


def relative_errors(got: Sequence[float], want: Sequence[float]) -> list[float]:
    errs = []
    for g, w in zip(got, want):
        if math.isnan(w) or math.isinf(w) or math.isnan(g) or math.isinf(g):
            errs.append(0.0 if (g == w or (math.isnan(g) and math.isnan(w))) else math.inf)
        else:
            errs.append(abs(g - w) / abs(w) if w != 0 else abs(g))
    return errs


def compare(
    got: Sequence[float],
    want: Sequence[float],
    rtol: float,
    atol: float,
    labels: Sequence[str],
) -> tuple[list[str], float]:
    """Return (failure lines, max relative error over the finite points where rtol |want|
    exceeds atol, i.e. where the relative criterion is the binding one)."""
    if len(got) != len(want):
        return [f"length mismatch: got {len(got)} values, wanted {len(want)}"], math.inf
    bad: list[str] = []
    worst = 0.0
    for g, w, e, label in zip(got, want, relative_errors(got, want), labels):
        if math.isfinite(w) and math.isfinite(g):
            ok = abs(g - w) <= atol + rtol * abs(w)
            if rtol * abs(w) > atol:  # only where the relative criterion is the binding one
                worst = max(worst, e)
        else:
            ok = e == 0.0
            if not ok:
                worst = math.inf
        if not ok:
            bad.append(f"  {label}: got {g!r}, wanted {w!r}, rel err {e:.3e} (rtol {rtol:.2e})")
    return bad, worst
