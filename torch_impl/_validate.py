"""Argument checks for torch twins. Only Python numbers and CPU tensors are checked by default."""

from __future__ import annotations

import math
from typing import Any

import torch

_DEVICE_VALIDATION = False


def set_device_validation(enabled: bool) -> None:
    """Also check tensors that live on an accelerator (costs one host synchronisation each)."""
    global _DEVICE_VALIDATION
    _DEVICE_VALIDATION = bool(enabled)


def _checkable(x: Any) -> bool:
    # Under torch.compile nothing is checked: a traced tensor's values are unknown, and a
    # Python float may be traced as a symbolic float (torch >= 2.5 no longer specialises
    # floats), on which neither math.isnan nor a comparison can branch. Validate by one eager
    # call; the eager path checks every argument.
    if torch.compiler.is_compiling():
        return False
    if not isinstance(x, torch.Tensor):
        return True
    return x.device.type == "cpu" or _DEVICE_VALIDATION


def _describe(x: Any, bad: torch.Tensor | None = None) -> str:
    if not isinstance(x, torch.Tensor):
        return repr(x)
    if bad is not None and bad.any():
        return f"{x[bad].flatten()[:4].tolist()} (first offending values)"
    return repr(x)


def scalar(x: Any, dtype: torch.dtype, device: torch.device | str | None) -> torch.Tensor:
    """x as a tensor of ``dtype`` on ``device``. A Python number becomes a 0-d tensor filled on
    the device (``torch.full``: a fill kernel, no host-to-device copy; ``torch.tensor(x,
    device=cuda)`` copies from pageable host memory, which synchronises), rounded to ``dtype``
    exactly as ``torch.tensor`` rounds it. A tensor is converted with ``.to``; anything else
    (a NumPy value, a list) goes through ``torch.as_tensor``."""
    if isinstance(x, torch.Tensor):
        return x.to(dtype=dtype, device=device)
    if isinstance(x, (bool, int, float)):
        if dtype.is_floating_point and not torch.compiler.is_compiling():
            x = float(x)  # as torch.tensor reads an int (an int beyond int64 included)
            if math.isfinite(x) and abs(x) > torch.finfo(dtype).max:
                # torch.full refuses a value beyond the dtype's range, torch.tensor rounds it
                # (to inf, or to the largest finite value within half an ulp): on the host
                x = float(torch.tensor(x, dtype=dtype))
        return torch.full((), x, dtype=dtype, device=device)
    return torch.as_tensor(x, dtype=dtype, device=device)


def as_tensor(x: Any, like: torch.Tensor | None = None, dtype=None) -> torch.Tensor:
    """Tensor view of x on like's device and dtype (Python numbers become 0-d tensors)."""
    if isinstance(x, torch.Tensor):
        if dtype is not None and x.dtype != dtype:
            return x.to(dtype)
        return x
    if like is not None:
        return scalar(x, dtype or like.dtype, like.device)
    return scalar(x, dtype or torch.get_default_dtype(), None)


LOW_PRECISION = (torch.bfloat16, torch.float16)


def promote(*xs: Any) -> tuple[list[torch.Tensor], torch.dtype]:
    """Promote inputs to one floating dtype and device; compute low precision in float32.

    Returns (tensors in the compute dtype, the output dtype). bfloat16 / float16 inputs are
    computed in float32 ("opmath", as PyTorch's own kernels do) and the caller casts the result
    back with ``.to(out_dtype)``, so the only low-precision error is the final rounding.
    """
    tensors = [x for x in xs if isinstance(x, torch.Tensor)]
    if tensors:
        dtype = tensors[0].dtype
        for t in tensors[1:]:
            dtype = torch.promote_types(dtype, t.dtype)
        if not dtype.is_floating_point:
            dtype = torch.get_default_dtype()
        device = tensors[0].device
    else:
        dtype, device = torch.get_default_dtype(), torch.device("cpu")
    compute = torch.float32 if dtype in LOW_PRECISION else dtype
    out = [
        x.to(dtype=compute, device=device)
        if isinstance(x, torch.Tensor)
        else scalar(x, compute, device)
        for x in xs
    ]
    return out, dtype


def check(name: str, x: Any, ok_fn, requirement: str, scalar_ok=None) -> None:
    """Raise ValueError(name, requirement, value) unless ok_fn(x) holds elementwise.

    A Python number is checked with ``scalar_ok(float(x))`` (default ``ok_fn``) in plain
    Python, without building a tensor. Nothing is checked while torch.compile traces (see
    ``_checkable``).
    """
    if not _checkable(x):
        return
    if isinstance(x, torch.Tensor):
        ok = ok_fn(x)
        if not bool(ok.all()):
            raise ValueError(f"{name} must be {requirement}, got {_describe(x, ~ok)}")
        return
    if not isinstance(x, (int, float)):  # NumPy values, lists: checked as a float64 tensor
        t = torch.as_tensor(x, dtype=torch.float64)
        if not bool(ok_fn(t).all()):
            raise ValueError(f"{name} must be {requirement}, got {x!r}")
        return
    v = float(x)
    # not `scalar_ok or ok_fn`: torch 2.4's dynamo cannot take the truth of a function
    fn = ok_fn if scalar_ok is None else scalar_ok
    if math.isnan(v) or not fn(v):
        raise ValueError(f"{name} must be {requirement}, got {x!r}")


def check_finite(name: str, x: Any) -> None:
    check(name, x, torch.isfinite, "finite", math.isfinite)


def check_not_nan(name: str, x: Any) -> None:
    check(name, x, lambda t: ~torch.isnan(t), "not NaN", lambda v: True)


def check_range(
    name: str, x: Any, lo=None, hi=None, lo_open: bool = False, hi_open: bool = False
) -> None:
    def ok(t: torch.Tensor) -> torch.Tensor:
        res = ~torch.isnan(t)
        if lo is not None:
            res &= (t > lo) if lo_open else (t >= lo)
        if hi is not None:
            res &= (t < hi) if hi_open else (t <= hi)
        return res

    def ok_scalar(v: float) -> bool:
        above = lo is None or (v > lo if lo_open else v >= lo)
        below = hi is None or (v < hi if hi_open else v <= hi)
        return above and below

    left, right = ("(" if lo_open else "["), (")" if hi_open else "]")
    lo_s = "-inf" if lo is None else lo
    hi_s = "inf" if hi is None else hi
    check(name, x, ok, f"in {left}{lo_s}, {hi_s}{right}", ok_scalar)
