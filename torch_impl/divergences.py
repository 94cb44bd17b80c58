"""Torch twins of ``reference.divergences`` (log-normal closed forms, seed 001 sections 7-8)."""

from __future__ import annotations

import torch

from torch_impl._validate import check_finite, check_range, promote


def lognormal_moment(gamma, mean, sigma2) -> torch.Tensor:
    """E[w^gamma] = exp(gamma mean + gamma^2 sigma2 / 2) for log w ~ N(mean, sigma2)."""
    check_finite("gamma", gamma)
    check_finite("mean", mean)
    check_finite("sigma2", sigma2)
    check_range("sigma2", sigma2, lo=0)
    (gamma, mean, sigma2), out_dtype = promote(gamma, mean, sigma2)
    return torch.exp(gamma * mean + gamma * gamma * sigma2 / 2).to(out_dtype)


def ess_ratio_lognormal_moments(gamma, mean, sigma2) -> torch.Tensor:
    """E[w^gamma]^2 / E[w^(2 gamma)] from the exact log-normal moments (log domain)."""
    check_finite("gamma", gamma)
    check_finite("mean", mean)
    check_finite("sigma2", sigma2)
    check_range("sigma2", sigma2, lo=0)
    (gamma, mean, sigma2), out_dtype = promote(gamma, mean, sigma2)
    log_m1 = gamma * mean + gamma * gamma * sigma2 / 2
    log_m2 = 2 * gamma * mean + 2 * gamma * gamma * sigma2
    return torch.exp(2 * log_m1 - log_m2).to(out_dtype)


def ess_ratio_lognormal_closed_form(gamma, sigma2) -> torch.Tensor:
    """Seed 001 Theorem 8.2: ESS_gamma / n = exp(-sigma2 gamma^2)."""
    check_finite("gamma", gamma)
    check_finite("sigma2", sigma2)
    check_range("sigma2", sigma2, lo=0)
    (gamma, sigma2), out_dtype = promote(gamma, sigma2)
    return torch.exp(-sigma2 * gamma * gamma).to(out_dtype)


def variance_lognormal_power(gamma, sigma2) -> torch.Tensor:
    """Seed 001 Theorem 7.4: E[w^(2 gamma)] = exp(sigma2 gamma (2 gamma - 1)), mean -sigma2/2."""
    check_finite("gamma", gamma)
    check_finite("sigma2", sigma2)
    check_range("sigma2", sigma2, lo=0)
    (gamma, sigma2), out_dtype = promote(gamma, sigma2)
    return torch.exp(sigma2 * gamma * (2 * gamma - 1)).to(out_dtype)
