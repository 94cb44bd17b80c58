"""Torch twins of ``reference.diagnostics``: masked, batched Kish ESS from log-weights."""

from __future__ import annotations

import math

import torch

from isreshape.torch_impl._validate import LOW_PRECISION, _checkable


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


# ---------------------------------------------------------------- PSIS Pareto k-hat

_LOG_TINY = -708.3964185322641  # log of the smallest normal float64 (ArviZ's cutoffmin)
_WEIGHT_FLOOR = 10 * 2.220446049250313e-16  # ArviZ drops grid weights below 10 eps(float64)


def _tail_length(s: torch.Tensor) -> torch.Tensor:
    """ceil(min(s / 5, 3 sqrt(s))) for integer tensors s >= 1, exactly."""
    by_fifth = torch.div(s + 4, 5, rounding_mode="floor")
    nine = 9 * s
    r = torch.floor(torch.sqrt(nine.to(torch.float64))).to(s.dtype)
    r = r + (r * r < nine).to(s.dtype) - ((r - 1) * (r - 1) >= nine).to(s.dtype)
    return torch.minimum(by_fifth, r)


def _isqrt(n: torch.Tensor) -> torch.Tensor:
    r = torch.floor(torch.sqrt(n.to(torch.float64))).to(n.dtype)
    r = r - (r * r > n).to(n.dtype)
    return r + ((r + 1) * (r + 1) <= n).to(n.dtype)


def psis_khat(log_w: torch.Tensor, mask: torch.Tensor | None = None, dim: int = -1) -> torch.Tensor:
    """PSIS Pareto k-hat of the right tail of exp(log_w) along ``dim`` (seed 001 section 11.2).

    The ArviZ / Vehtari et al. (2024) estimator of ``reference.diagnostics.psis_khat``: tail of
    ceil(min(S/5, 3 sqrt(S))) draws above the cutoff, Zhang-Stephens grid posterior mean,
    k_hat = (n k + 5) / (n + 10); +inf for a tail of <= 4 draws. Batched and masked (S and the
    tail length vary by row, padded to the static maximum), no host synchronisation.
    Every input dtype is computed in float64 (float32 exceedances would underflow for tails
    wider than ~87 nats) and the result is rounded once to the input dtype.
    """
    if not isinstance(log_w, torch.Tensor) or not log_w.dtype.is_floating_point:
        raise ValueError(f"log_w must be a floating tensor, got {type(log_w).__name__}")
    if log_w.dim() == 0:
        raise ValueError("log_w must have a sample dimension")
    lw = log_w.movedim(dim, -1)
    if mask is None:
        keep = torch.ones_like(lw, dtype=torch.bool)
    else:
        keep = torch.broadcast_to(
            torch.as_tensor(mask, device=log_w.device).to(torch.bool).movedim(dim, -1)
            if torch.as_tensor(mask).dim() == log_w.dim()
            else torch.as_tensor(mask, device=log_w.device).to(torch.bool),
            lw.shape,
        )
    if _checkable(log_w):
        if bool(torch.isnan(lw).any()):
            raise ValueError("log_w contains NaN")
        if bool((torch.isposinf(lw) & keep).any()):
            raise ValueError("log_w contains +inf; the tail of an infinite weight is undefined")
        if bool((keep.sum(-1) == 0).any()):
            raise ValueError("mask selects no entries (empty sample) in some row")
    # float64 for every input dtype (a diagnostic, not a hot path): the Zhang-Stephens fit
    # needs the dynamic range; float32 exceedances underflow for tails wider than ~87 nats.
    compute = torch.float64
    big = lw.shape[-1]
    m_max = max(1, min(-(-big // 5), math.isqrt(9 * big - 1) + 1 if big > 0 else 1))
    if big == 0:
        raise ValueError("log_w has no draws")
    x = lw.to(compute).masked_fill(~keep, -math.inf)
    desc, _ = torch.sort(x, dim=-1, descending=True)
    top = desc[..., :1]
    s = keep.sum(-1, keepdim=True)
    m_tail = _tail_length(torch.clamp(s, min=1))
    finite_top = torch.isfinite(top)
    top0 = torch.where(finite_top, top, torch.zeros_like(top))
    cut_idx = torch.clamp(m_tail, max=big - 1)
    cutoff = torch.maximum(torch.gather(desc, -1, cut_idx), top0 + _LOG_TINY)
    cutoff = torch.where(m_tail >= s, torch.full_like(cutoff, math.inf), cutoff)
    head = desc[..., :m_max]  # the m_max largest log-weights, unshifted
    pos = torch.arange(m_max, device=lw.device)
    valid = (pos < m_tail) & (head > cutoff) & finite_top
    n = valid.sum(-1, keepdim=True)
    nf = n.to(compute)
    safe_head = torch.where(valid, head, torch.zeros_like(head))
    safe_cut = torch.where(torch.isfinite(cutoff), cutoff, torch.zeros_like(cutoff))
    # exp(l - top) - exp(c - top) = exp(l - top) * (-expm1(c - l)); c - l from the inputs
    # themselves is exact for nearby values, so exceedances just above the cutoff stay accurate
    ex = torch.exp(safe_head - top0) * -torch.expm1(safe_cut - safe_head)
    ex = torch.clamp(ex, min=torch.finfo(compute).tiny)
    ex = torch.where(valid, ex, torch.zeros_like(ex))
    n_safe = torch.clamp(n, min=1)
    # descending order: the ascending order statistic number q = floor(n/4 + 1/2) sits at
    # descending position n - q
    q = torch.div(n_safe + 2, 4, rounding_mode="floor")
    xq = torch.gather(ex, -1, torch.clamp(n_safe - q, min=0, max=m_max - 1))
    xmax = ex[..., :1]
    xq = torch.where(xq > 0, xq, torch.ones_like(xq))
    xmax = torch.where(xmax > 0, xmax, torch.ones_like(xmax))
    m_grid = 30 + _isqrt(n_safe)
    g_max = 30 + math.isqrt(m_max)
    j = torch.arange(1, g_max + 1, device=lw.device, dtype=compute)
    grid_ok = j <= m_grid
    mg = m_grid.to(compute)
    theta = 1 / xmax + (1 - torch.sqrt(mg / (j - 0.5))) / (3 * xq)  # (..., g_max)
    prod = theta.unsqueeze(-1) * ex.unsqueeze(-2)  # (..., g_max, m_max)
    logs = torch.where(valid.unsqueeze(-2), torch.log1p(-prod), torch.zeros_like(prod))
    nfs = torch.clamp(nf, min=1)
    k = logs.sum(-1) / nfs
    mean_x = ex.sum(-1, keepdim=True) / nfs
    ratio = torch.where(k != 0, -theta / torch.where(k != 0, k, torch.ones_like(k)), 1 / mean_x)
    logl = nf * (torch.log(ratio) - k - 1)
    logl = torch.where(grid_ok, logl, torch.full_like(logl, -math.inf))
    w = torch.softmax(logl, dim=-1)
    w = torch.where(w >= _WEIGHT_FLOOR, w, torch.zeros_like(w))
    post = (w * theta).sum(-1, keepdim=True) / w.sum(-1, keepdim=True)
    kk = (
        torch.where(valid, torch.log1p(-post * ex), torch.zeros_like(ex)).sum(-1, keepdim=True)
        / nfs
    )
    khat = (nf * kk + 5) / (nf + 10)
    khat = torch.where(n <= 4, torch.full_like(khat, math.inf), khat)
    return khat.squeeze(-1).to(log_w.dtype)
