"""Torch twins of ``reference.estimators``: Theorem 4.2's effective target and the seed's
``ISReshapeTrainer`` weights and loss (seed 001 sections 4.2 and 12.1). Samples lie along the
last dim; leading dims are batches."""

from __future__ import annotations

import math

import torch

from isreshape.torch_impl._twofold import two_prod, two_sum
from isreshape.torch_impl._validate import (
    LOW_PRECISION,
    _checkable,
    check_finite,
    check_range,
    promote,
)


def _float_tensor(name: str, x) -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or not x.dtype.is_floating_point:
        raise ValueError(f"{name} must be a floating tensor, got {type(x).__name__}")
    if x.dim() == 0 or x.shape[-1] == 0:
        raise ValueError(f"{name} must hold at least one sample along the last dim")
    return x


def _check(name: str, x: torch.Tensor, bad: torch.Tensor, what: str) -> None:
    if _checkable(x) and bool(bad.any()):
        raise ValueError(f"{name} {what}, got {x[bad].flatten()[:4].tolist()}")


def _compute_dtype(*xs: torch.Tensor) -> tuple[torch.dtype, torch.dtype]:
    out = xs[0].dtype
    for x in xs[1:]:
        if isinstance(x, torch.Tensor):
            out = torch.promote_types(out, x.dtype)
    return (torch.float32 if out in LOW_PRECISION else out), out


def effective_target_weights(log_w, A, gamma, mask=None) -> torch.Tensor:
    """w_bar_i = w_i^gamma A_i / mean_selected(w^gamma A) along the last dim (Theorem 4.2,
    sample version). A >= 0 (rewards), gamma in [0, 1]; w^0 = 1 at log_w = -inf; unselected
    entries get 0. Computed as n_sel * softmax(gamma log_w + log A)."""
    log_w = _float_tensor("log_w", log_w)
    A = torch.as_tensor(A, dtype=log_w.dtype, device=log_w.device)
    check_finite("gamma", gamma)
    check_range("gamma", gamma, lo=0, hi=1)
    _check("log_w", log_w, torch.isnan(log_w) | torch.isposinf(log_w), "must not be NaN or +inf")
    _check("A", A, ~torch.isfinite(A) | (A < 0), "must be finite and >= 0 (a reward)")
    compute, out_dtype = _compute_dtype(
        log_w, A, gamma if isinstance(gamma, torch.Tensor) else log_w
    )
    lw, a = log_w.to(compute), A.to(compute)
    g = torch.as_tensor(gamma, dtype=compute, device=lw.device).unsqueeze(-1)
    if mask is None:
        keep = torch.ones(
            torch.broadcast_shapes(lw.shape, a.shape), dtype=torch.bool, device=lw.device
        )
    else:
        keep = torch.broadcast_to(torch.as_tensor(mask, device=lw.device).to(torch.bool), lw.shape)
    gl = torch.where(g == 0, torch.zeros_like(lw), g * lw)
    logits = torch.where(keep & (a > 0), gl + torch.log(a), torch.full_like(gl, -math.inf))
    lse = torch.logsumexp(logits, -1, keepdim=True)
    if _checkable(lse) and bool(torch.isneginf(lse).any()):
        raise ValueError("no selected entry has w^gamma A > 0: E_mu[w^gamma r] is 0")
    n_sel = keep.sum(-1, keepdim=True).to(compute)
    return (n_sel * torch.exp(logits - lse)).to(out_dtype)


def _log_softmax_masked(name: str, logits: torch.Tensor, compute) -> torch.Tensor:
    x = logits.to(compute)
    _check(name, logits, torch.isnan(logits) | torch.isposinf(logits), "must not be NaN or +inf")
    if _checkable(logits) and bool(torch.isneginf(logits).all(-1).any()):
        raise ValueError(f"{name} has a row with no finite entry (no probability mass)")
    shifted = x - x.amax(-1, keepdim=True)
    return shifted - torch.logsumexp(shifted, -1, keepdim=True)


def effective_target_log_probs(logits_mu, logits_pi, log_r, gamma) -> torch.Tensor:
    """log pi_eff = log_softmax((1 - gamma) log mu + gamma log pi + log r) (Theorem 4.2) with
    0 * (-inf) = 0; gamma in [0, 1]; -inf for zero-probability outcomes."""
    logits_mu = _float_tensor("logits_mu", logits_mu)
    logits_pi = _float_tensor("logits_pi", logits_pi)
    log_r = _float_tensor("log_r", log_r)
    if not (logits_mu.shape[-1] == logits_pi.shape[-1] == log_r.shape[-1]):
        raise ValueError("logits_mu, logits_pi and log_r must have the same number of outcomes")
    check_finite("gamma", gamma)
    check_range("gamma", gamma, lo=0, hi=1)
    _check("log_r", log_r, torch.isnan(log_r) | torch.isposinf(log_r), "must not be NaN or +inf")
    compute, out_dtype = _compute_dtype(
        logits_mu, logits_pi, log_r, gamma if isinstance(gamma, torch.Tensor) else logits_mu
    )
    lm = _log_softmax_masked("logits_mu", logits_mu, compute)
    lp = _log_softmax_masked("logits_pi", logits_pi, compute)
    g = torch.as_tensor(gamma, dtype=compute, device=lm.device).unsqueeze(-1)
    a = torch.where(g == 1, torch.zeros_like(lm), (1 - g) * lm)
    b = torch.where(g == 0, torch.zeros_like(lp), g * lp)
    z = a + b + log_r.to(compute)
    top = z.amax(-1, keepdim=True)
    if _checkable(top) and bool(torch.isneginf(top).any()):
        raise ValueError("pi_eff has no mass: mu^(1 - gamma) pi^gamma r is 0 everywhere")
    # (z - max) - log sum exp(z - max): no cancellation of a large common offset
    zs = z - torch.where(torch.isfinite(top), top, torch.zeros_like(top))
    return (zs - torch.logsumexp(zs, -1, keepdim=True)).to(out_dtype)


def _softmax_scaled(g: torch.Tensor, lw: torch.Tensor) -> torch.Tensor:
    """softmax(g lw) along the last dim with g lw carried exactly (double-word): a weight
    exp(z_i - z_max) turns an absolute error of z_i - z_max into a relative one, and rounding
    g lw ~ 330 alone costs ~|z| eps / 2; here z = hi + lo (``two_prod``), z_i - z_max =
    u_i + v_i + lo_i - lo_max (``two_sum``), and exp(u + c) = exp(u) (1 + c)."""
    hi, lo = two_prod(g, lw)
    top = hi.argmax(-1, keepdim=True)
    u, v = two_sum(hi, -hi.gather(-1, top))
    c = v + (lo - lo.gather(-1, top))
    e = torch.exp(u) * (1 + c)
    return e / e.sum(-1, keepdim=True)


def trainer_weights_seed_code(log_w, gamma) -> torch.Tensor:
    """Seed 001 section 12.1 as written: softmax(gamma * log_w) along the last dim (the batch).
    log_w must be finite."""
    log_w = _float_tensor("log_w", log_w)
    check_finite("log_w", log_w)
    check_finite("gamma", gamma)
    (lw, g), out_dtype = promote(log_w, gamma)
    return _softmax_scaled(g.unsqueeze(-1), lw).to(out_dtype)


def trainer_gradient_weights_seed_code(log_w, A, gamma) -> torch.Tensor:
    """softmax(gamma log_w)_i A_i: the weight of grad log pi_i in the trainer's loss."""
    log_w = _float_tensor("log_w", log_w)
    check_finite("A", A)
    check_finite("log_w", log_w)
    check_finite("gamma", gamma)
    (lw, a, g), out_dtype = promote(log_w, A, gamma)
    return (_softmax_scaled(g.unsqueeze(-1), lw) * a).to(out_dtype)


def trainer_loss_seed_code(log_pi, log_mu, gamma, A) -> torch.Tensor:
    """Seed 001 section 12.1 loss as written: -sum(softmax(gamma (log_pi - log_mu).detach()) *
    A * log_pi) along the last dim; differentiable in log_pi through the last factor only."""
    log_pi = _float_tensor("log_pi", log_pi)
    log_mu = _float_tensor("log_mu", log_mu)
    check_finite("log_pi", log_pi)
    check_finite("log_mu", log_mu)
    check_finite("A", A)
    check_finite("gamma", gamma)
    (lp, lm, a, g), out_dtype = promote(log_pi, log_mu, A, gamma)
    log_w = (lp - lm).detach()
    weights = _softmax_scaled(g.unsqueeze(-1), log_w)
    return (-(weights * a * lp).sum(-1)).to(out_dtype)


def _trainer_surrogate(log_w, A, gamma) -> torch.Tensor:
    """The trainer's loss with log pi = log_w and log mu = 0 (log mu is constant in theta)."""
    return trainer_loss_seed_code(log_w, torch.zeros_like(log_w), gamma, A)


SURROGATES = {"trainer_gradient_weights_seed_code": _trainer_surrogate}
