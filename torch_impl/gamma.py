"""Torch twins of ``reference.gamma``: rules that choose the reshaping exponent."""

from __future__ import annotations

import torch

from torch_impl._validate import check_finite, check_not_nan, check_range, promote


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
    return torch.clamp(torch.sqrt(ratio), max=1.0).to(out_dtype)


# ---------------------------------------------------------------- seed 001 sections 8.4, 9, 11, 12

_SEED_VAR_THRESHOLD = 1e-8


def _check_finite_sample(name: str, x) -> None:
    check_finite(name, x)


def _seed_sigma_sq(log_w: torch.Tensor, name: str) -> torch.Tensor:
    if not isinstance(log_w, torch.Tensor):
        raise ValueError(f"{name} must be a tensor, got {type(log_w).__name__}")
    if log_w.shape[-1] < 2:
        raise ValueError(f"{name} needs at least 2 entries along the last dim for torch.var")
    return torch.var(log_w, dim=-1, unbiased=True)


def compute_optimal_gamma_seed_code(log_pi, log_mu, rho_min=0.3) -> torch.Tensor:
    """Seed 001 Algorithm 8.4 as written, batched over leading dims (sample along dim -1):
    1 if Var_unbiased(log_pi - log_mu) < 1e-8 else min(1, sqrt(-log rho_min / Var)).
    Domain: finite log_pi, log_mu (n >= 2), 0 < rho_min <= 1."""
    _check_finite_sample("log_pi", log_pi)
    _check_finite_sample("log_mu", log_mu)
    check_range("rho_min", rho_min, lo=0, hi=1, lo_open=True)
    (log_pi, log_mu, rho_min), out_dtype = promote(log_pi, log_mu, rho_min)
    s2 = _seed_sigma_sq(log_pi - log_mu, "log_pi")
    g = torch.clamp(torch.sqrt(-torch.log(rho_min) / s2), max=1.0)
    return torch.where(s2 < _SEED_VAR_THRESHOLD, torch.ones_like(g), g).to(out_dtype)


def trainer_gamma_seed_code(log_w, rho_min=0.3, gamma_min=0.0, gamma_max=1.0) -> torch.Tensor:
    """Seed 001 section 12.1 ``ISReshapeTrainer.compute_optimal_gamma`` as written, batched:
    gamma_max if Var_unbiased(log_w) < 1e-8 else max(gamma_min, min(gamma_max, sqrt(-log
    rho_min / Var))). Domain: finite log_w (n >= 2), 0 < rho_min <= 1, finite clamps."""
    _check_finite_sample("log_w", log_w)
    check_range("rho_min", rho_min, lo=0, hi=1, lo_open=True)
    check_finite("gamma_min", gamma_min)
    check_finite("gamma_max", gamma_max)
    (log_w, rho_min, gamma_min, gamma_max), out_dtype = promote(
        log_w, rho_min, gamma_min, gamma_max
    )
    s2 = _seed_sigma_sq(log_w, "log_w")
    g = torch.sqrt(-torch.log(rho_min) / s2)
    g = torch.maximum(gamma_min, torch.minimum(gamma_max, g))
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
    return torch.clamp(torch.sqrt(ratio), max=1.0).to(out_dtype)


def gamma_khat_bound(khat, threshold=0.7) -> torch.Tensor:
    """Seed 001 section 11.2: threshold / khat; +inf for khat <= 0, 0 for khat = +inf."""
    check_not_nan("khat", khat)
    check_finite("threshold", threshold)
    check_range("threshold", threshold, lo=0, lo_open=True)
    (khat, threshold), out_dtype = promote(khat, threshold)
    bound = threshold / khat
    bound = torch.where(khat <= 0, torch.full_like(bound, float("inf")), bound)
    return bound.to(out_dtype)
