"""Torch twins of ``reference.gamma``: rules that choose the reshaping exponent."""

from __future__ import annotations

import torch

from isreshape.torch_impl._ties import cap_above, cap_below, clip_closed
from isreshape.torch_impl._validate import (
    check_finite,
    check_not_nan,
    check_range,
    promote,
    scalar,
)


def gamma_star_ess(sigma2, rho_min) -> torch.Tensor:
    """gamma* = min(1, sqrt(-log(rho_min) / sigma2)) (seed 001 Theorem 8.3).

    Domain sigma2 >= 0, 0 < rho_min <= 1; sigma2 = 0 gives 1, sigma2 = inf gives 0.
    Branch-free: 0/0 (sigma2 = 0, rho_min = 1) resolves to 1 like the reference.
    """
    check_range("sigma2", sigma2, lo=0)
    check_range("rho_min", rho_min, lo=0, hi=1, lo_open=True)
    (sigma2, rho_min), out_dtype = promote(sigma2, rho_min)
    ratio = -torch.log(rho_min) / sigma2
    ratio = torch.where(sigma2 == 0, torch.ones_like(ratio), ratio)
    return cap_above(torch.sqrt(ratio), 1.0).to(out_dtype)


# ---------------------------------------------------------------- seed 001 sections 8.4, 9, 11, 12

_SEED_VAR_THRESHOLD = 1e-8


def _check_finite_sample(name: str, x) -> None:
    check_finite(name, x)


def _seed_sigma_sq(log_w: torch.Tensor, name: str) -> torch.Tensor:
    if not isinstance(log_w, torch.Tensor):
        raise ValueError(f"{name} must be a tensor, got {type(log_w).__name__}")
    if log_w.shape[-1] < 2:
        raise ValueError(
            f"{name} needs at least 2 entries along the last dim for torch.var, "
            f"got {log_w.shape[-1] if log_w.dim() else 0}"
        )
    return torch.var(log_w, dim=-1, unbiased=True)


def compute_optimal_gamma_seed_code(log_pi, log_mu, rho_min=0.3) -> torch.Tensor:
    """Seed 001 Algorithm 8.4 as written, batched over leading dims (sample along dim -1):
    1 if Var_unbiased(log_pi - log_mu) < 1e-8 else min(1, sqrt(-log rho_min / Var)).
    Domain: finite log_pi, log_mu (n >= 2), 0 < rho_min <= 1. Edges as the reference: NaN or
    +-inf raise ``ValueError`` naming the argument and the value (CPU tensors; on a device the
    row comes out NaN); n < 2 always raises."""
    _check_finite_sample("log_pi", log_pi)
    _check_finite_sample("log_mu", log_mu)
    check_range("rho_min", rho_min, lo=0, hi=1, lo_open=True)
    (log_pi, log_mu, rho_min), out_dtype = promote(log_pi, log_mu, rho_min)
    s2 = _seed_sigma_sq(log_pi - log_mu, "log_pi")
    g = cap_above(torch.sqrt(-torch.log(rho_min) / s2), 1.0)
    return torch.where(s2 < _SEED_VAR_THRESHOLD, torch.ones_like(g), g).to(out_dtype)


def trainer_gamma_seed_code(log_w, rho_min=0.3, gamma_min=0.0, gamma_max=1.0) -> torch.Tensor:
    """Seed 001 section 12.1 ``ISReshapeTrainer.compute_optimal_gamma`` as written, batched:
    gamma_max if Var_unbiased(log_w) < 1e-8 else max(gamma_min, min(gamma_max, sqrt(-log
    rho_min / Var))). Domain: finite log_w (n >= 2), 0 < rho_min <= 1, finite clamps.
    Edges as the reference: NaN or +-inf in log_w raise ``ValueError`` naming log_w and the
    value (CPU tensors; on a device the row comes out NaN); n < 2 always raises."""
    _check_finite_sample("log_w", log_w)
    check_range("rho_min", rho_min, lo=0, hi=1, lo_open=True)
    check_finite("gamma_min", gamma_min)
    check_finite("gamma_max", gamma_max)
    (log_w, rho_min, gamma_min, gamma_max), out_dtype = promote(
        log_w, rho_min, gamma_min, gamma_max
    )
    s2 = _seed_sigma_sq(log_w, "log_w")
    g = torch.sqrt(-torch.log(rho_min) / s2)
    g = cap_below(cap_above(g, gamma_max), gamma_min)  # max(min, min(max, g)): gamma_min wins if min > max
    return torch.where(s2 < _SEED_VAR_THRESHOLD, gamma_max.expand_as(g), g).to(out_dtype)


def gamma_reward_adjusted(sigma2, sigma_r2, tau, rho_min) -> torch.Tensor:
    """Seed 001 Theorem 9.1: min(1, sqrt(-log rho_min / (sigma2 + sigma_r2 / tau^2))).
    A zero denominator gives 1, an infinite one 0 (as the reference)."""
    check_range("sigma2", sigma2, lo=0)
    check_range("sigma_r2", sigma_r2, lo=0)
    check_finite("tau", tau)
    check_range("tau", tau, lo=0, lo_open=True)
    check_range("rho_min", rho_min, lo=0, hi=1, lo_open=True)
    (sigma2, sigma_r2, tau, rho_min), out_dtype = promote(sigma2, sigma_r2, tau, rho_min)
    denom = sigma2 + sigma_r2 / (tau * tau)
    ratio = -torch.log(rho_min) / denom
    ratio = torch.where(denom == 0, torch.ones_like(ratio), ratio)
    return cap_above(torch.sqrt(ratio), 1.0).to(out_dtype)


def gamma_khat_bound(khat, threshold=0.7) -> torch.Tensor:
    """Seed 001 section 11.2: threshold / khat; +inf for khat <= 0, 0 for khat = +inf.

    Domain: khat not NaN, threshold > 0 finite (``ValueError`` naming the argument and the
    value on CPU; on a device a NaN khat comes out NaN). ``psis_khat`` gives NaN only for the
    invalid rows that raise on CPU (NaN / +inf log_w, nothing selected).
    """
    check_not_nan("khat", khat)
    check_finite("threshold", threshold)
    check_range("threshold", threshold, lo=0, lo_open=True)
    (khat, threshold), out_dtype = promote(khat, threshold)
    bound = threshold / khat
    bound = torch.where(khat <= 0, torch.full_like(bound, float("inf")), bound)
    return bound.to(out_dtype)


def gamma_reward_adjusted_corrected(sigma2, sigma_r2, tau, rho_min) -> torch.Tensor:
    """Corrected Theorem 9.1: min(1, sqrt(max(0, -log rho_min - sigma_r2 / tau^2) / sigma2)),
    the largest gamma with ESS/n of w^gamma exp(r / tau) >= rho_min (0 when none is feasible,
    1 for sigma2 = 0 with a feasible reward term)."""
    check_range("sigma2", sigma2, lo=0)
    check_range("sigma_r2", sigma_r2, lo=0)
    check_finite("tau", tau)
    check_range("tau", tau, lo=0, lo_open=True)
    check_range("rho_min", rho_min, lo=0, hi=1, lo_open=True)
    (sigma2, sigma_r2, tau, rho_min), out_dtype = promote(sigma2, sigma_r2, tau, rho_min)
    budget = -torch.log(rho_min) - sigma_r2 / (tau * tau)
    feasible = budget > 0
    ratio = cap_below(budget, 0.0) / sigma2
    ratio = torch.where(sigma2 == 0, torch.ones_like(ratio), ratio)
    g = cap_above(torch.sqrt(ratio), 1.0)
    return torch.where(feasible, g, torch.zeros_like(g)).to(out_dtype)


# --- seed 002 per-sign rule ---
# Owned by the seed-002 weights work: everything below this marker (torch twins of
# reference.gamma.per_sign_gamma_seed_code / per_sign_gamma). Batch rules: they reduce over
# every element of log_w and return a tensor [gamma_pos, gamma_neg] of shape (2,).


def _seed002_pair(name, value):
    if len(value) != 2:
        raise ValueError(f"{name} must be a pair (lo, hi), got {value!r}")
    check_finite(f"{name}[0]", value[0])
    check_finite(f"{name}[1]", value[1])
    return value[0], value[1]


def _seed002_prepare(log_w, A, mask):
    check_finite("log_w", log_w)
    check_finite("A", A)
    (log_w, A), out_dtype = promote(log_w, A)
    log_w, A = torch.broadcast_tensors(log_w, A)
    if mask is None:
        keep = torch.ones_like(log_w, dtype=torch.bool)
    else:
        keep = torch.as_tensor(mask, device=log_w.device).to(torch.bool)
        if keep.shape != log_w.shape:
            raise ValueError(
                f"mask must have the shape of log_w {tuple(log_w.shape)}, got {tuple(keep.shape)}"
            )
    return log_w, A, keep, out_dtype


def _seed002_var(x: torch.Tensor, sel: torch.Tensor):
    """(n, unbiased variance) of x over sel (two-pass with a refined mean; no host sync)."""
    w = sel.to(x.dtype)
    n = w.sum()
    n1 = torch.clamp(n, min=1)
    mean = (x * w).sum() / n1
    mean = mean + ((x - mean) * w).sum() / n1
    var = (((x - mean) * w) ** 2).sum() / torch.clamp(n - 1, min=1)
    return n, var


def per_sign_gamma_seed_code(
    log_w, A, rho_min=0.3, gamma_pos_range=(0.1, 0.99), gamma_neg_range=(1.01, 1.99)
) -> torch.Tensor:
    """Seed 002 appendix B compute_gamma as written, over all elements: [gamma_pos, gamma_neg].

    r = sqrt(-log rho_min / max(var, 1e-8)) per sign (unbiased variance of log_w over A > 0,
    resp. A < 0); gamma_pos = max(lo, min(hi, r)), gamma_neg = max(lo, 1 + min(hi - 1, r));
    one token of a sign gives max(lo, hi) (the code's NaN comparison); none gives 0.5 / 1.5.
    """
    check_range("rho_min", rho_min, lo=0, hi=1, lo_open=True)
    lo_p, hi_p = _seed002_pair("gamma_pos_range", gamma_pos_range)
    lo_n, hi_n = _seed002_pair("gamma_neg_range", gamma_neg_range)
    log_w, A, keep, out_dtype = _seed002_prepare(log_w, A, None)
    dt, dev = log_w.dtype, log_w.device

    def t(v):
        return scalar(v, dt, dev)

    log_rho = -torch.log(t(rho_min))

    def rule(sel, lo, hi, offset, default):
        n, var = _seed002_var(log_w, sel)
        r = torch.sqrt(log_rho / cap_below(var, 1e-8))
        g = cap_below(offset + cap_above(r, t(hi) - offset), t(lo))
        g = torch.where(n == 1, torch.maximum(t(lo), t(hi)), g)
        return torch.where(n == 0, t(default), g)

    g_pos = rule(keep & (A > 0), lo_p, hi_p, 0.0, 0.5)
    g_neg = rule(keep & (A < 0), lo_n, hi_n, 1.0, 1.5)
    return torch.stack([g_pos, g_neg]).to(out_dtype)


def per_sign_gamma(
    log_w,
    A,
    mask=None,
    rho_min=0.3,
    gamma_pos_range=(0.1, 0.99),
    gamma_neg_range=(1.01, 1.99),
    default_pos=0.5,
    default_neg=1.5,
) -> torch.Tensor:
    """Corrected per-sign rule over the tokens selected by ``mask``: [gamma_pos, gamma_neg],
    gamma_pos = clip(r, lo, hi), gamma_neg = clip(1 + r, lo, hi), r = sqrt(-log rho_min / s^2);
    s^2 = 0 or one token gives r = inf (upper end); no token gives the default."""
    check_range("rho_min", rho_min, lo=0, hi=1, lo_open=True)
    lo_p, hi_p = _seed002_pair("gamma_pos_range", gamma_pos_range)
    lo_n, hi_n = _seed002_pair("gamma_neg_range", gamma_neg_range)
    for name, (lo, hi) in (
        ("gamma_pos_range", (lo_p, hi_p)),
        ("gamma_neg_range", (lo_n, hi_n)),
    ):
        if not isinstance(lo, torch.Tensor) and lo > hi:
            raise ValueError(f"{name} must have lo <= hi, got {(lo, hi)!r}")
    check_finite("default_pos", default_pos)
    check_finite("default_neg", default_neg)
    log_w, A, keep, out_dtype = _seed002_prepare(log_w, A, mask)
    dt, dev = log_w.dtype, log_w.device

    def t(v):
        return scalar(v, dt, dev)

    log_rho = -torch.log(t(rho_min))

    def rule(sel, lo, hi, offset, default):
        n, var = _seed002_var(log_w, sel)
        spread = (n >= 2) & (var > 0)
        r = torch.sqrt(log_rho / torch.where(spread, var, torch.ones_like(var)))
        r = torch.where(spread, r, torch.full_like(r, float("inf")))
        g = clip_closed(offset + r, t(lo), t(hi))
        return torch.where(n == 0, t(default), g)

    g_pos = rule(keep & (A > 0), lo_p, hi_p, 0.0, default_pos)
    g_neg = rule(keep & (A < 0), lo_n, hi_n, 1.0, default_neg)
    return torch.stack([g_pos, g_neg]).to(out_dtype)
