"""Torch twin of ``reference/lab.py``: exact bias, variance, mse(n) and ESS of a gradient-weight
design on single-step bandits, batched over any number of instances (float64 on any device,
so a sweep of thousands of instances is one call on a GPU).

For softmax policies pi_theta = softmax(z_theta), mu = softmax(z_mu) over the last dimension V,
rewards r and A(y) = r(y) - sum_y' pi_theta(y') r(y'), one draw y ~ mu gives the logit-space
estimate g_hat(y) = phi(w(y), A(y)) (e_y - pi_theta), w = pi_theta / mu. With G the V x V
matrix of the g_hat(y) (row y) and g = sum_y pi_theta(y) A(y) (e_y - pi_theta):

    bias = || mu^T G - g ||,    variance = sum_y mu(y) || G[y] - mu^T G ||^2,
    mse(n) = bias^2 + variance / n,    ess = 1 / sum_y mu(y) w(y)^2.

Designs are named as in the reference (``DESIGNS`` and ``RULE_DESIGNS``); the rule designs'
gamma uses the population statistic Var_mu[log w] (the reference's convention). Domain: finite
logits and rewards, V >= 2; mu > 0 everywhere follows from finite logits.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from isreshape.torch_impl import gamma as tgamma
from isreshape.torch_impl import peers, trust_region, variational, weights

__all__ = ["DESIGNS", "RULE_DESIGNS", "design_moments"]

# name -> (phi(log_w, A, **params), default params): the reference's DESIGNS, torch twins
DESIGNS: dict[str, tuple[Callable[..., Tensor], dict[str, float]]] = {
    "is": (weights.power_weight, {"gamma": 1.0}),
    "power": (weights.power_weight, {"gamma": 0.5}),
    "sft_weighted": (weights.power_weight, {"gamma": 0.0}),
    "asymmetric_power": (weights.asymmetric_power_weight, {"gamma_pos": 0.5, "gamma_neg": 1.5}),
    "truncated_power": (weights.truncated_power_weight, {"gamma": 1.0, "M": 1.5}),
    "soft_saturation": (weights.soft_saturation_weight, {"gamma": 1.0, "lam": 0.5}),
    "mixture": (
        weights.mixture_weight,
        {"gamma_pos": 0.5, "gamma_neg": 1.5, "lam": 1.0, "w_th": 3.0},
    ),
    "michaelis_menten": (weights.michaelis_menten_weight, {"tau": 1.0}),
    "sapo_weight": (weights.sapo_weight, {"tau": 1.0}),
    "trust_region": (trust_region.phi_gamma, {"gamma": 1.0, "tau": 1.0}),
    "trust_region_adaptive": (
        trust_region.phi_adaptive,
        {"gamma_base": 0.1, "gamma_max": 0.9, "tau_h": 1.0, "tau_c": 1.0},
    ),
    "ppo_clip": (peers.ppo_clip, {"clip_ratio_low": 0.2, "clip_ratio_high": 0.2}),
    "ppo_dual_clip": (
        peers.ppo_dual_clip,
        {"clip_ratio_low": 0.2, "clip_ratio_high": 0.2, "clip_ratio_c": 1.5},
    ),
    "cispo_verl": (peers.cispo_verl, {"clip_ratio_low": 0.2, "clip_ratio_high": 0.2}),
    "cispo_trl": (peers.cispo_trl, {"epsilon_high": 1.3}),
    "sapo": (peers.sapo, {"tau_pos": 1.0, "tau_neg": 1.05}),
    "tis_token": (peers.tis_token, {"clip_min": 0.0, "clip_max": 1.4}),
    "mis_token": (peers.mis_token, {"clip_min": 0.5, "clip_max": 5.0}),
    "topr": (peers.topr, {}),
}


def _gamma_base_ess(log_w: Tensor, mu: Tensor, rho_min: float) -> Tensor:
    mean = (mu * log_w).sum(-1, keepdim=True)
    var = (mu * (log_w - mean) ** 2).sum(-1, keepdim=True)
    return tgamma.gamma_star_ess(var, rho_min)


def _rule_is_reshape_ess(log_w: Tensor, A: Tensor, mu: Tensor, rho_min: float = 0.3) -> Tensor:
    return weights.power_weight(log_w, A, _gamma_base_ess(log_w, mu, rho_min).expand_as(log_w))


def _rule_is_reshape_range(log_w: Tensor, A: Tensor, mu: Tensor, rho_min: float = 0.3) -> Tensor:
    spread = log_w.amax(-1, keepdim=True) - log_w.amin(-1, keepdim=True)  # mu > 0 everywhere
    g = tgamma.gamma_star_ess(spread * spread / 4, rho_min)
    return weights.power_weight(log_w, A, g.expand_as(log_w))


def _rule_variational(gamma_of: Callable[..., Tensor]) -> Callable[..., Tensor]:
    def rule(log_w: Tensor, A: Tensor, mu: Tensor, rho_min: float = 0.3, **kw: Any) -> Tensor:
        gb = _gamma_base_ess(log_w, mu, rho_min).expand_as(log_w)
        return weights.power_weight(log_w, A, gamma_of(log_w, A, gb, **kw))

    return rule


RULE_DESIGNS: dict[str, tuple[Callable[..., Tensor], dict[str, float]]] = {
    "is_reshape_ess": (_rule_is_reshape_ess, {"rho_min": 0.3}),
    "is_reshape_range": (_rule_is_reshape_range, {"rho_min": 0.3}),
    "variational_hard": (_rule_variational(variational.gamma_hard), {"rho_min": 0.3}),
    "variational_soft": (
        _rule_variational(variational.gamma_soft_section_8_3_corrected),
        {"rho_min": 0.3, "temperature": 5.0},
    ),
    "variational_soft_section_8_3": (
        _rule_variational(variational.gamma_soft_section_8_3),
        {"rho_min": 0.3},
    ),
}


def _as_logits(name: str, x: Any) -> Tensor:
    t = torch.as_tensor(x, dtype=torch.float64)
    if t.dim() < 1 or t.shape[-1] < 2:
        raise ValueError(f"{name} must have a last dimension V >= 2, got shape {tuple(t.shape)}")
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"{name} must be finite, got {x!r}")
    return t


def design_moments(
    logits_theta: Any,
    logits_mu: Any,
    rewards: Any,
    design: str,
    params: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Exact bias, variance, mse {1, 64, 4096} and ess of ``design`` (module docstring) for a
    batch of bandits: the three inputs broadcast to (..., V); every result has shape (...).
    Computed in float64 on the inputs' device (Python numbers and lists go to the CPU).
    ``params`` override the design's defaults; an unknown design or parameter raises
    ``ValueError``. Host-synchronising (it validates the inputs' values): a lab tool, not a
    training-loop function."""
    if params is not None and not isinstance(params, dict):
        raise ValueError(f"params must be a dict or None, got {params!r}")
    if not isinstance(design, str) or (design not in DESIGNS and design not in RULE_DESIGNS):
        raise ValueError(
            f"design must be one of {sorted(DESIGNS) + sorted(RULE_DESIGNS)}, got {design!r}"
        )
    fn, defaults = DESIGNS[design] if design in DESIGNS else RULE_DESIGNS[design]
    params = dict(defaults, **(params or {}))
    unknown = set(params) - set(defaults)
    if unknown:
        raise ValueError(f"params {sorted(unknown)} unknown for design {design!r}")
    zt = _as_logits("logits_theta", logits_theta)
    zm = _as_logits("logits_mu", logits_mu).to(zt.device)
    r = _as_logits("rewards", rewards).to(zt.device)
    try:
        zt, zm, r = torch.broadcast_tensors(zt, zm, r)
    except RuntimeError as exc:
        raise ValueError(
            f"logits_theta, logits_mu, rewards must broadcast, got shapes "
            f"{tuple(zt.shape)}, {tuple(zm.shape)}, {tuple(r.shape)}"
        ) from exc
    log_pi, log_mu = zt.log_softmax(-1), zm.log_softmax(-1)
    pi, mu = log_pi.exp(), log_mu.exp()
    adv = r - (pi * r).sum(-1, keepdim=True)
    log_w = log_pi - log_mu
    if design in DESIGNS:
        phi = fn(log_w, adv, **params)
    else:
        phi = fn(log_w, adv, mu, **params)
    V = pi.shape[-1]
    jac = torch.eye(V, dtype=pi.dtype, device=pi.device) - pi.unsqueeze(-2)  # row y: e_y - pi
    G = phi.unsqueeze(-1) * jac
    mean = (mu.unsqueeze(-1) * G).sum(-2)
    target = ((pi * adv).unsqueeze(-1) * jac).sum(-2)
    bias = torch.linalg.vector_norm(mean - target, dim=-1)
    variance = (mu * ((G - mean.unsqueeze(-2)) ** 2).sum(-1)).sum(-1)
    ess = 1 / (mu * torch.exp(2 * log_w)).sum(-1)
    return {
        "design": design,
        "params": params,
        "bias": bias,
        "variance": variance,
        "mse": {n: bias**2 + variance / n for n in (1, 64, 4096)},
        "ess": ess,
    }
