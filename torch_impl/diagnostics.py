"""Torch twins of ``reference.diagnostics``: masked, batched Kish ESS from log-weights."""

from __future__ import annotations

import math

import torch

from isreshape.torch_impl._validate import LOW_PRECISION, _checkable


def _index(idx: torch.Tensor) -> str:
    return ", ".join(str(int(i)) for i in idx.tolist())


def _as_mask(log_w: torch.Tensor, mask, dim: int) -> torch.Tensor:
    """mask as a boolean tensor of log_w's shape, moved so that ``dim`` is last."""
    lw = log_w.movedim(dim, -1)
    if mask is None:
        return torch.ones_like(lw, dtype=torch.bool)
    keep = torch.as_tensor(mask, device=log_w.device).to(torch.bool)
    if keep.dim() == log_w.dim():
        keep = keep.movedim(dim, -1)
    return torch.broadcast_to(keep, lw.shape)


def _check_sample(log_w, keep: torch.Tensor, dim: int) -> None:
    """The checks of reference.diagnostics._selected, same messages, rows along the last dim
    of keep. Shape checks always run; checks that read data only on CPU (``_checkable``)."""
    if not isinstance(log_w, torch.Tensor) or not log_w.dtype.is_floating_point:
        raise ValueError(f"log_w must be a floating tensor, got {type(log_w).__name__}")
    if log_w.dim() == 0:
        raise ValueError(f"log_w must have a sample dimension, got a scalar {log_w!r}")
    if log_w.numel() == 0 or log_w.shape[dim] == 0:
        raise ValueError(f"log_w must hold at least one entry, got shape {tuple(log_w.shape)}")
    if not _checkable(log_w):
        return
    if not bool(keep.any(-1).all()):
        raise ValueError(
            f"mask must select at least one entry (empty sample), got all {keep.shape[-1]} False"
        )
    lw = log_w.movedim(dim, -1)
    for bad, what in (
        (torch.isnan(lw) & keep, "must not be NaN, got nan"),
        (torch.isposinf(lw) & keep, "must be below +inf (an infinite weight), got inf"),
    ):
        if bool(bad.any()):
            # index in log_w's own layout
            idx = torch.nonzero(bad.movedim(-1, dim))[0]
            raise ValueError(f"log_w[{_index(idx)}] {what}")


_NO_MASS = "log_w must have a selected entry above -inf (all weights 0: no ESS), got all -inf"


def _prepare(log_w: torch.Tensor, mask: torch.Tensor | None, dim: int):
    if isinstance(log_w, torch.Tensor) and log_w.dim() > 0:
        keep = _as_mask(log_w, mask, dim)
    else:
        keep = torch.ones(1, dtype=torch.bool)
    _check_sample(log_w, keep, dim)
    mask = keep.movedim(-1, dim)
    if _checkable(log_w) and bool((~(mask & ~torch.isneginf(log_w))).all(dim).any()):
        raise ValueError(_NO_MASS)
    compute = torch.float32 if log_w.dtype in LOW_PRECISION else log_w.dtype
    masked = log_w.to(compute).masked_fill(~mask, float("-inf"))
    # ESS is shift-invariant; shifting by the row max keeps logsumexp at O(1) magnitude,
    # so |log_w| ~ 700 does not cost 700 eps of relative error.
    top = masked.amax(dim, keepdim=True)
    top = torch.where(torch.isfinite(top), top, torch.zeros_like(top))
    return masked - top, mask


def kish_ess(log_w: torch.Tensor, mask: torch.Tensor | None = None, dim: int = -1) -> torch.Tensor:
    """(sum w)^2 / sum w^2 over the selected entries along ``dim`` (seed 001 Definition 8.1).

    log-domain: exp(2 logsumexp(l) - logsumexp(2 l)). Range [1, n].
    Domain: selected log_w without NaN or +inf, at least one selected entry above -inf in
    every row; masked-out entries are not read (padding may hold NaN or +-inf). log_w = -inf
    is a zero weight: it counts in n, adds nothing to the sums. Edges, as the reference
    (``ValueError`` naming the argument and the value): a dim of size 0, a row whose mask
    selects nothing, a selected NaN or +inf, a row of selected entries all -inf (0 / 0 with
    no limit: no ESS exists). Checks that read data run on CPU tensors only (see
    ``_validate._checkable``); on a device those rows come out NaN instead, never a number.
    """
    masked, _ = _prepare(log_w, mask, dim)
    log_ess = 2 * torch.logsumexp(masked, dim) - torch.logsumexp(2 * masked, dim)
    return torch.exp(log_ess).to(log_w.dtype)


def kish_ess_ratio(
    log_w: torch.Tensor, mask: torch.Tensor | None = None, dim: int = -1
) -> torch.Tensor:
    """kish_ess / n with n the number of selected entries along ``dim`` (zero weights
    included). Range [1/n, 1]. Domain, edges and device behaviour as :func:`kish_ess`."""
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


def _log1p_neg_t_rho(t: torch.Tensor, d: torch.Tensor, rho: torch.Tensor) -> torch.Tensor:
    """log(1 - t exp(d)) with rho = exp(min(d, 700)) computed once per draw (the grid is
    g x m of these, 69 x 1536 at 262144 draws: one log1p each, not an exp and a log1p per
    branch): log1p(-t rho) for d <= 700, either sign of t (|t| <= (sqrt(2 m) - 1) / 3 + 1 for
    grid size m: ~4 at 262144 draws, and |t| rho overflows only beyond |t| ~ 1.8e4);
    for t < 0 and d > 700, log(1 + |t| e^d) = log|t| + d to double precision (|t| e^d > e^37).
    t > 0 only occurs with exp(d) < 1 / t, so the clamp never binds where it is used."""
    far = (d > 700.0) & (t < 0)
    return torch.where(far, torch.log(torch.abs(t)) + d, torch.log1p(-t * rho))


def psis_khat(log_w: torch.Tensor, mask: torch.Tensor | None = None, dim: int = -1) -> torch.Tensor:
    """PSIS Pareto k-hat of the right tail of exp(log_w) along ``dim`` (seed 001 section 11.2).

    The ArviZ / Vehtari et al. (2024) estimator of ``reference.diagnostics.psis_khat``: tail of
    ceil(min(S/5, 3 sqrt(S))) draws above the cutoff max(l_(M+1), max l - 708.4), exceedances
    x = exp(l - max) - exp(cutoff - max), Zhang-Stephens grid posterior mean,
    k_hat = (n k + 5) / (n + 10). Batched and masked (S and the tail length vary by row,
    padded to the static maximum), no host synchronisation.
    The fit runs on log-exceedances as ``reference.diagnostics.psis_khat_np`` does (theta in
    units of 1 / x_q, log1p(-theta x) = log(1 - t rho), rho = e^d, as log1p(-t rho) with rho
    formed once per draw, and as log|t| + d where d > 700), so tails whose
    exceedances span more than the float range (one draw 700 nats above a tight cluster) give
    the exact estimator, as NumPy's does to rounding (the fit amplifies rounding by about the
    tail length: the twins agree to tens of ulps, not bitwise), instead of underflowed
    garbage. Every input dtype
    is computed in float64 and the result rounded once to the input dtype.
    Domain and edges as the reference: -inf is a zero weight (counts in S, never in the
    tail); masked-out entries are not read; a tail of <= 4 draws (or every selected log_w
    -inf) gives +inf. ``ValueError`` naming the argument and the value: no sample dim or a
    dim of size 0 (always), a row whose mask selects nothing, a selected NaN or +inf (CPU
    tensors only, see ``_validate._checkable``; on a device such rows come out NaN).
    """
    if isinstance(log_w, torch.Tensor) and log_w.dim() > 0:
        keep = _as_mask(log_w, mask, dim)
    else:
        keep = torch.ones(1, dtype=torch.bool)
    _check_sample(log_w, keep, dim)
    lw = log_w.movedim(dim, -1)
    # rows that raise on CPU give NaN on a device. Written for inductor's CPU code, which has
    # no vector isnan (lw != lw is one) and slow boolean any / int64 sums of masks: the count
    # S as a float64 sum (exact to 2^53), "any bad" as a float max; 1 ms less of k-hat's 6 at
    # 262144 draws
    s = keep.to(torch.float64).sum(-1, keepdim=True)
    flag = torch.where(((lw != lw) | torch.isposinf(lw)) & keep, 1.0, 0.0)
    bad = (flag.amax(-1, keepdim=True) > 0) | (s == 0)
    s = s.to(torch.int64)
    # float64 for every input dtype (a diagnostic, not a hot path)
    compute = torch.float64
    big = lw.shape[-1]
    m_max = max(1, min(-(-big // 5), math.isqrt(9 * big - 1) + 1))
    # only the m_max + 1 largest are read (the tail and the cutoff at position m_tail <= m_max):
    # a top-k, not a sort of all S draws (20x cheaper at S = 262144 on a CPU). The top-k runs
    # in the input's own dtype (float32 for bfloat16 / float16) and only its result is widened
    # to float64: widening is exact and monotone, so the values are those of a float64 top-k,
    # at a quarter less cost for float32 (half the bytes to scan)
    narrow = torch.float32 if lw.dtype in LOW_PRECISION else lw.dtype
    # unselected draws -inf; a bad row's NaN / +inf stay (its result is NaN, set below)
    x = torch.where(keep, lw.to(narrow), -math.inf)
    desc, _ = torch.topk(x, min(m_max + 1, big), dim=-1, largest=True, sorted=True)
    desc = desc.to(compute)
    top = desc[..., :1]
    m_tail = _tail_length(torch.clamp(s, min=1))
    finite_top = torch.isfinite(top)
    top0 = torch.where(finite_top, top, torch.zeros_like(top))
    cut_idx = torch.clamp(m_tail, max=big - 1)
    cutoff = torch.maximum(torch.gather(desc, -1, cut_idx), top0 + _LOG_TINY)
    cutoff = torch.where(m_tail >= s, torch.full_like(cutoff, math.inf), cutoff)
    head = desc[..., :m_max]  # the m_max largest log-weights, unshifted
    pos = torch.arange(m_max, device=lw.device)
    valid = (pos < m_tail) & (head > cutoff) & finite_top  # a prefix of each row
    n = valid.sum(-1, keepdim=True)
    nf = n.to(compute)
    nfs = torch.clamp(nf, min=1)
    safe_head = torch.where(valid, head, torch.zeros_like(head))
    safe_cut = torch.where(torch.isfinite(cutoff), cutoff, torch.zeros_like(cutoff))
    # log(exp(l - top) * (-expm1(c - l))): c - l from the inputs is exact for nearby values,
    # and the log never underflows (ArviZ's exp(l) - exp(c) does)
    lx = (safe_head - top0) + torch.log(-torch.expm1(safe_cut - safe_head))
    lx = torch.where(valid, lx, torch.full_like(lx, -math.inf))
    lx, _ = torch.sort(lx, dim=-1, descending=True)  # rounding may swap near-equal draws
    n_safe = torch.clamp(n, min=1)
    # descending order: the ascending order statistic number q = floor(n/4 + 1/2) sits at
    # descending position n - q
    q = torch.div(n_safe + 2, 4, rounding_mode="floor")
    lxq = torch.gather(lx, -1, torch.clamp(n_safe - q, min=0, max=m_max - 1))
    lxmax = lx[..., :1]
    ok = valid[..., :1]
    lxq = torch.where(ok, lxq, torch.zeros_like(lxq))
    lxmax = torch.where(ok, lxmax, torch.zeros_like(lxmax))
    d = torch.where(valid, lx - lxq, torch.zeros_like(lx))  # log(x / x_q)
    m_grid = 30 + _isqrt(n_safe)
    g_max = 30 + math.isqrt(m_max)
    j = torch.arange(1, g_max + 1, device=lw.device, dtype=compute)
    grid_ok = j <= m_grid
    mg = m_grid.to(compute)
    # t = theta x_q; theta x = t rho with rho = exp(d)
    t = torch.exp(lxq - lxmax) - (torch.sqrt(mg / (j - 0.5)) - 1) / 3  # (..., g_max)
    # stored before the grid: inductor would otherwise recompute t (tail length, square
    # roots) in every step of the g_max x m_max loop (a 16-copy max is a real reduction)
    t = t.unsqueeze(-1).expand(*t.shape, 16).amax(-1)
    rho = torch.exp(torch.clamp(d, max=700.0))  # once per draw (read by both fits below)
    logs = _log1p_neg_t_rho(t.unsqueeze(-1), d.unsqueeze(-2), rho.unsqueeze(-2))  # (.., g, m)
    logs = torch.where(valid.unsqueeze(-2), logs, torch.zeros_like(logs))
    k = logs.sum(-1) / nfs
    # k = 0 only for t = 0: ArviZ's 1 / mean(x), here x_q / mean(x)
    d_in = torch.where(valid, d, torch.full_like(d, -math.inf))
    log_inv_mean = torch.log(nfs) - torch.logsumexp(d_in, -1, keepdim=True)
    k_safe = torch.where(k != 0, k, torch.ones_like(k))
    log_ratio = torch.where(k != 0, torch.log(-t / k_safe), log_inv_mean)
    logl = nf * (log_ratio - k - 1)
    logl = torch.where(grid_ok, logl, torch.full_like(logl, -math.inf))
    w = torch.softmax(logl, dim=-1)
    w = torch.where(w >= _WEIGHT_FLOOR, w, torch.zeros_like(w))
    post = (w * t).sum(-1, keepdim=True) / w.sum(-1, keepdim=True)
    kk = torch.where(valid, _log1p_neg_t_rho(post, d, rho), torch.zeros_like(d))
    kk = kk.sum(-1, keepdim=True) / nfs
    khat = (nf * kk + 5) / (nf + 10)
    khat = torch.where(n <= 4, torch.full_like(khat, math.inf), khat)
    khat = torch.where(bad, torch.full_like(khat, math.nan), khat)
    return khat.squeeze(-1).to(log_w.dtype)
