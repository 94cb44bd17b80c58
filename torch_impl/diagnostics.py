"""Torch twins of ``reference.diagnostics``: masked, batched Kish ESS from log-weights."""

from __future__ import annotations

import torch

from torch_impl._validate import LOW_PRECISION, _checkable


def _prepare(log_w: torch.Tensor, mask: torch.Tensor | None, dim: int):
    if not isinstance(log_w, torch.Tensor) or not log_w.dtype.is_floating_point:
        raise ValueError(f"log_w must be a floating tensor, got {type(log_w).__name__}")
    if mask is None:
        mask = torch.ones_like(log_w, dtype=torch.bool)
    else:
        mask = torch.as_tensor(mask, device=log_w.device).to(torch.bool)
        mask = torch.broadcast_to(mask, log_w.shape)
    if _checkable(log_w):
        if bool(torch.isnan(log_w).any()):
            raise ValueError("log_w contains NaN")
        if bool((torch.isposinf(log_w) & mask).any()):
            raise ValueError("log_w contains +inf; the ESS of an infinite weight is undefined")
        if bool((mask.sum(dim) == 0).any()):
            raise ValueError("mask selects no entries (empty sample) in some row")
        if bool((~(mask & torch.isfinite(log_w))).all(dim).any()):
            raise ValueError("every selected log_w is -inf in some row: the weights have no mass")
    compute = torch.float32 if log_w.dtype in LOW_PRECISION else log_w.dtype
    masked = log_w.to(compute).masked_fill(~mask, float("-inf"))
    # ESS is shift-invariant; shifting by the row max keeps logsumexp at O(1) magnitude,
    # so |log_w| ~ 700 does not cost 700 eps of relative error.
    top = masked.amax(dim, keepdim=True)
    top = torch.where(torch.isfinite(top), top, torch.zeros_like(top))
    return masked - top, mask


def kish_ess(log_w: torch.Tensor, mask: torch.Tensor | None = None, dim: int = -1) -> torch.Tensor:
    """(sum w)^2 / sum w^2 over the selected entries along ``dim`` (seed 001 Definition 8.1).

    log-domain: exp(2 logsumexp(l) - logsumexp(2 l)); masked-out entries are ignored.
    """
    masked, _ = _prepare(log_w, mask, dim)
    log_ess = 2 * torch.logsumexp(masked, dim) - torch.logsumexp(2 * masked, dim)
    return torch.exp(log_ess).to(log_w.dtype)


def kish_ess_ratio(
    log_w: torch.Tensor, mask: torch.Tensor | None = None, dim: int = -1
) -> torch.Tensor:
    """kish_ess / n with n the number of selected entries along ``dim``. Range [1/n, 1]."""
    masked, mask = _prepare(log_w, mask, dim)
    n = mask.sum(dim).to(masked.dtype)
    log_ess = 2 * torch.logsumexp(masked, dim) - torch.logsumexp(2 * masked, dim)
    return torch.exp(log_ess - torch.log(n)).to(log_w.dtype)
