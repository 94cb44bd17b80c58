"""Torch twins of ``reference.gamma``: rules that choose the reshaping exponent."""

from __future__ import annotations

import torch

from torch_impl._validate import check_range, promote


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
