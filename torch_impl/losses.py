"""Training-facing policy losses built on the gradient weights phi(w, A).

``policy_loss(log_prob, old_log_prob, advantages, response_mask, design, loss_agg_mode, **params)``
computes w = exp(log_prob - old_log_prob) per token, the design's phi(w, A) (``torch_impl.peers``
by name, or any callable phi(log_w, A, **params) such as the seed designs), and the per-token loss

    l_t = -sg(phi_t) (1 + log_prob_t - sg(log_prob_t)),

whose value is -phi_t and whose gradient with respect to log_prob_t is exactly -phi_t (the
estimator g = E_mu[phi grad log pi] of seed 002 section 1.2). The per-token losses are then
aggregated as verl's ``agg_loss`` does:

- ``"token-mean"``: sum over selected tokens / number of selected tokens;
- ``"token-sum"``: sum over selected tokens;
- ``"seq-mean-token-sum"``: per-sequence token sum, mean over sequences with >= 1 token;
- ``"seq-mean-token-mean"``: per-sequence token mean, mean over sequences with >= 1 token;
- ``"seq-mean-token-sum-norm"``: the *sum* of the per-sequence token sums / ``loss_scale_factor``
  (default: the number of token positions T), as verl's ``agg_loss`` (Dr. GRPO). Not divided
  by the number of sequences: TRL's ``dr_grpo`` divides by B T, i.e. pass
  ``loss_scale_factor=B * T`` for it.

The log-ratio is clamped to [-20, 20] before the design sees it (``log_ratio_clamp``, verl's
bound; ``None`` for the exact phi), so no finite input gives inf / NaN in float64, float32
and bfloat16 (e^20 = 4.9e8). float16 overflows at 65504 = e^11.09: pass ``log_ratio_clamp=10``
for it.

Edges: an empty mask (no selected token anywhere) gives loss 0 and zero gradient, never NaN
(verl would divide by 0); fully masked sequences are left out of the sequence means, as verl
does. Masked-out positions may hold any value (padding, +-inf, NaN): they are replaced before
any arithmetic, so their gradient is exactly 0. The value is not the library's objective
(for PPO that is -min(w A, clip(w) A)); it is -agg(phi), i.e. the loss has the library's
gradient, not its value. Inputs are never modified.
"""

from __future__ import annotations

import importlib
import inspect
import math
from collections.abc import Callable
from typing import Any

import torch

from isreshape.torch_impl import peers
from isreshape.torch_impl._validate import LOW_PRECISION, _checkable

Tensor = torch.Tensor

TOKEN_DESIGNS: dict[str, Callable[..., Tensor]] = {
    "ppo_clip": peers.ppo_clip,
    "ppo_dual_clip": peers.ppo_dual_clip,
    "cispo_verl": peers.cispo_verl,
    "cispo_trl": peers.cispo_trl,
    "sapo": peers.sapo,
    "tis_token": peers.tis_token,
    "mis_token": peers.mis_token,
    "topr": peers.topr,
    "dft": peers.dft,
}
SEQUENCE_DESIGNS: dict[str, Callable[..., Tensor]] = {
    "gspo": peers.gspo,
    "tis_sequence": peers.tis_sequence,
    "mis_sequence": peers.mis_sequence,
    "vespo": peers.vespo,
}


# ------------------------------------------------------------------ the seeds' designs
# Batch statistics (the variance of log w, per-sign variances) are computed over the selected
# tokens only: gradient_weights passes response_mask as ``mask``.


def _selected(log_w: Tensor, mask: Tensor | None) -> Tensor:
    return torch.ones_like(log_w, dtype=torch.bool) if mask is None else mask.to(torch.bool)


def is_reshape_ess(log_w: Tensor, A: Tensor, mask: Tensor | None = None, rho_min: float = 0.3):
    """phi = w^gamma A, gamma = min(1, sqrt(-log rho_min / s^2)) with s^2 the variance of log w
    over the selected tokens (seed 001 theorem 8.3: under log-normal weights ESS / n =
    exp(-s^2 gamma^2) >= rho_min). gamma is a batch statistic, detached; no token or s^2 = 0
    gives gamma = 1 (plain importance sampling). Default rho_min = 0.3, the seed's."""
    from isreshape.torch_impl import gamma as tg
    from isreshape.torch_impl import weights as tw

    keep = _selected(log_w, mask)
    lw = log_w.detach()
    n = keep.sum().clamp(min=1).to(lw.dtype)
    zero = torch.zeros((), dtype=lw.dtype, device=lw.device)
    mean = torch.where(keep, lw, zero).sum() / n
    var = torch.where(keep, (lw - mean) ** 2, zero).sum() / n
    g = tg.gamma_star_ess(var, rho_min)
    return tw.power_weight(log_w, A, g)


def per_sign_power(log_w: Tensor, A: Tensor, mask: Tensor | None = None, rho_min: float = 0.3):
    """phi = w^gamma_+ A for A > 0, w^gamma_- A for A < 0, with seed 002's corrected per-sign rule
    over the selected tokens (``gamma.per_sign_gamma``: gamma_+ in [0.1, 0.99], gamma_- in
    [1.01, 1.99], detached)."""
    from isreshape.torch_impl import gamma as tg
    from isreshape.torch_impl import weights as tw

    A_full = torch.broadcast_to(
        torch.as_tensor(A, dtype=log_w.dtype, device=log_w.device), log_w.shape
    )
    gp, gn = tg.per_sign_gamma(log_w.detach(), A_full, _selected(log_w, mask), rho_min).unbind(0)
    return tw.asymmetric_power_weight(log_w, A, gp, gn)


def trust_region_adaptive(
    log_w: Tensor,
    A: Tensor,
    gamma_base: float = 0.1,
    gamma_max: float = 0.9,
    tau_h: float = 1.0,
    tau_c: float = 1.0,
):
    """Seed 003's soft trust region with the adaptive gamma (``trust_region.phi_adaptive``), at
    the seed's section 5.1 parameters."""
    from isreshape.torch_impl import trust_region as ttr

    return ttr.phi_adaptive(log_w, A, gamma_base, gamma_max, tau_h, tau_c)


def truncated_power(log_w: Tensor, A: Tensor, gamma: float = 1.0, M: float = 2.0):
    """Seed 002's truncation min(w^gamma, M) A (``weights.truncated_power_weight``); defaults
    gamma = 1 (importance sampling below the cap), M = 2."""
    from isreshape.torch_impl import weights as tw

    return tw.truncated_power_weight(log_w, A, gamma, M)


def soft_saturation(log_w: Tensor, A: Tensor, gamma: float = 1.0, lam: float = 0.5):
    """Seed 002's soft saturation w^gamma / (1 + lam (w^gamma - 1)^+) A; defaults gamma = 1,
    lam = 0.5 (the weight tends to A / lam = 2 A)."""
    from isreshape.torch_impl import weights as tw

    return tw.soft_saturation_weight(log_w, A, gamma, lam)


SEED_DESIGNS: dict[str, Callable[..., Tensor]] = {
    "is_reshape_ess": is_reshape_ess,
    "per_sign_power": per_sign_power,
    "trust_region_adaptive": trust_region_adaptive,
    "truncated_power": truncated_power,
    "soft_saturation": soft_saturation,
}
AGG_MODES = (
    "token-mean",
    "token-sum",
    "seq-mean-token-sum",
    "seq-mean-token-mean",
    "seq-mean-token-sum-norm",
)


#: the default bound on |log_prob - old_log_prob| (verl's clamp of the log-ratio)
LOG_RATIO_CLAMP = 20.0


def gradient_weights(
    log_prob: Tensor,
    old_log_prob: Tensor,
    advantages: Tensor,
    response_mask: Tensor | None = None,
    design: str | Callable[..., Tensor] = "ppo_clip",
    log_ratio_clamp: float | None = LOG_RATIO_CLAMP,
    **params: Any,
) -> Tensor:
    """phi_t (detached, 0 at masked-out positions) for every token; shape of log_prob.

    ``log_ratio_clamp``: log w = log_prob - old_log_prob is clamped to [-c, c] before the
    design sees it (verl clamps at 20), so no finite input overflows w = e^(log w) to inf in
    float32 / bfloat16 (e^20 = 4.9e8; float16 needs c <= 11); ``None`` passes log w unchanged
    (the exact phi). Shape rules: log_prob and old_log_prob (..., T), equal shapes;
    advantages a scalar or with log_prob's dimensions, broadcasting to it ((B, 1) per
    sequence, (B, T) per token); response_mask broadcasting to it. Selected tokens must have
    finite log-probabilities and advantages; masked positions may hold anything.

    ``design`` is a name in ``TOKEN_DESIGNS`` / ``SEQUENCE_DESIGNS``, a ``"module.function"``
    token design of ``torch_impl`` (e.g. ``"weights.power_weight"``, with ``gamma=...``), or a
    callable token design phi(log_w, A, **params). ``advantages`` broadcasts against log_prob (per-sequence: (B, 1)).
    """
    if not isinstance(log_prob, Tensor) or not isinstance(old_log_prob, Tensor):
        raise ValueError("log_prob and old_log_prob must be tensors")
    if log_prob.dim() < 1:
        raise ValueError(f"log_prob must have a token dimension, got shape {tuple(log_prob.shape)}")
    if old_log_prob.shape != log_prob.shape:
        raise ValueError(
            f"old_log_prob has shape {tuple(old_log_prob.shape)}, log_prob {tuple(log_prob.shape)}"
        )
    mask = _mask(response_mask, log_prob)
    _check_inputs(log_prob, old_log_prob, advantages, mask)
    compute = _compute_dtype(log_prob)
    zero = torch.zeros((), dtype=compute, device=log_prob.device)
    diff = log_prob.detach().to(compute) - old_log_prob.detach().to(compute)
    if log_ratio_clamp is not None:
        if not log_ratio_clamp > 0:
            raise ValueError(f"log_ratio_clamp must be > 0 or None, got {log_ratio_clamp!r}")
        diff = diff.clamp(-log_ratio_clamp, log_ratio_clamp)
    log_w = torch.where(mask, diff, zero)
    adv = advantages.detach() if isinstance(advantages, Tensor) else advantages
    if isinstance(adv, Tensor) and adv.shape == log_prob.shape:
        # per-token advantages: padding may hold anything (NaN); the design never sees it
        adv = torch.where(mask, adv, torch.zeros((), dtype=adv.dtype, device=adv.device))
    if isinstance(design, str):
        if design in TOKEN_DESIGNS:
            phi = TOKEN_DESIGNS[design](log_w, adv, **params)
        elif design in SEQUENCE_DESIGNS:
            phi = _call_with_mask(SEQUENCE_DESIGNS[design], log_w, adv, mask, params)
        elif design in SEED_DESIGNS:
            phi = _call_with_mask(SEED_DESIGNS[design], log_w, adv, mask, params)
        elif "." in design:
            phi = _call_with_mask(_resolve(design), log_w, adv, mask, params)
        else:
            known = sorted(TOKEN_DESIGNS) + sorted(SEQUENCE_DESIGNS) + sorted(SEED_DESIGNS)
            raise ValueError(f"design must be one of {known} or a callable, got {design!r}")
    elif callable(design):
        phi = _call_with_mask(design, log_w, adv, mask, params)
    else:
        raise ValueError(f"design must be a name or a callable, got {design!r}")
    phi = torch.broadcast_to(phi, log_prob.shape).to(compute)
    return torch.where(mask, phi, torch.zeros_like(phi)).detach()


def _call_with_mask(fn: Callable[..., Tensor], log_w, adv, mask, params) -> Tensor:
    """fn(log_w, A, **params), with ``mask=response_mask`` when fn takes a mask: a design with
    batch statistics (``variational.is_reshape_v2_gradient_weight``'s variance and 1 / n) must
    not count padding."""
    try:
        takes_mask = "mask" in inspect.signature(fn).parameters
    except (TypeError, ValueError):  # builtins without a signature
        takes_mask = False
    if takes_mask:
        if "mask" in params:
            raise ValueError("pass the mask as response_mask, not as a design parameter 'mask'")
        return fn(log_w, adv, mask=mask, **params)
    return fn(log_w, adv, **params)


def policy_loss(
    log_prob: Tensor,
    old_log_prob: Tensor,
    advantages: Tensor,
    response_mask: Tensor | None = None,
    design: str | Callable[..., Tensor] = "ppo_clip",
    loss_agg_mode: str = "token-mean",
    loss_scale_factor: float | None = None,
    log_ratio_clamp: float | None = LOG_RATIO_CLAMP,
    **params: Any,
) -> Tensor:
    """Scalar loss whose gradient w.r.t. log_prob is -agg(phi) (see the module docstring).

    log_prob, old_log_prob: (..., T) per-token log-probabilities under pi_theta and mu;
    advantages broadcasts against them; response_mask (bool or 0/1, None = all) likewise.
    ``params`` go to the design (e.g. clip_ratio_low=0.2, clip_ratio_high=0.28).
    """
    if loss_agg_mode not in AGG_MODES:
        raise ValueError(f"loss_agg_mode must be one of {AGG_MODES}, got {loss_agg_mode!r}")
    phi = gradient_weights(
        log_prob, old_log_prob, advantages, response_mask, design, log_ratio_clamp, **params
    )
    return _loss_from_phi(phi, log_prob, response_mask, loss_agg_mode, loss_scale_factor)


def _loss_from_phi(phi, log_prob, response_mask, loss_agg_mode, loss_scale_factor) -> Tensor:
    mask = _mask(response_mask, log_prob)
    zero = torch.zeros((), dtype=phi.dtype, device=log_prob.device)
    lp = torch.where(mask, log_prob.to(phi.dtype), zero)  # masked garbage never reaches arithmetic
    per_token = -phi * (1 + (lp - lp.detach()))
    return aggregate(per_token, mask, loss_agg_mode, loss_scale_factor).to(log_prob.dtype)


def policy_loss_and_metrics(
    log_prob: Tensor,
    old_log_prob: Tensor,
    advantages: Tensor,
    response_mask: Tensor | None = None,
    design: str | Callable[..., Tensor] = "ppo_clip",
    loss_agg_mode: str = "token-mean",
    loss_scale_factor: float | None = None,
    log_ratio_clamp: float | None = LOG_RATIO_CLAMP,
    **params: Any,
) -> tuple[Tensor, dict[str, Tensor]]:
    """:func:`policy_loss` and a dict of 0-d tensor metrics over the selected tokens (computed
    without gradient; selecting the tokens by boolean indexing synchronises once on an
    accelerator, so call it where the metrics are logged):

    - ``ratio/mean``, ``ratio/min``, ``ratio/max``: w = exp(log_prob - old_log_prob), clamped
      as the design saw it; ``log_ratio/std`` and ``log_ratio/max_abs`` of the unclamped log w;
    - ``reshaped_fraction``: tokens where phi differs from plain importance sampling w A (by
      more than 64 eps of the compute dtype, relative); ``zeroed_fraction``: phi = 0 while
      A != 0 (clipped out or masked by the design);
    - ``ess_fraction``: Kish ESS / n of w; ``khat``: PSIS k-hat of w (+inf below 5 tail draws);
    - ``kl/k1``, ``kl/k2``, ``kl/k3``: estimates of KL(behaviour || current) from the tokens
      (log r = log w; see ``kl_estimators``).
    With no selected token every metric is NaN (a mean over nothing), the loss 0.
    """
    from isreshape.torch_impl import diagnostics, kl_estimators

    if loss_agg_mode not in AGG_MODES:
        raise ValueError(f"loss_agg_mode must be one of {AGG_MODES}, got {loss_agg_mode!r}")
    phi_all = gradient_weights(
        log_prob, old_log_prob, advantages, response_mask, design, log_ratio_clamp, **params
    )
    loss = _loss_from_phi(phi_all, log_prob, response_mask, loss_agg_mode, loss_scale_factor)
    with torch.no_grad():
        mask = _mask(response_mask, log_prob)
        compute = _compute_dtype(log_prob)
        raw = (log_prob.to(compute) - old_log_prob.to(compute))[mask]
        lw = raw if log_ratio_clamp is None else raw.clamp(-log_ratio_clamp, log_ratio_clamp)
        w = lw.exp()
        adv = advantages if isinstance(advantages, Tensor) else torch.tensor(advantages)
        adv = torch.broadcast_to(adv.to(device=log_prob.device, dtype=compute), log_prob.shape)
        a = adv[mask]
        phi = phi_all[mask].to(compute)
        n = torch.tensor(a.numel(), dtype=compute, device=log_prob.device)
        nan = torch.tensor(float("nan"), dtype=compute, device=log_prob.device)

        def mean(x: Tensor) -> Tensor:
            return x.to(compute).sum() / n if a.numel() else nan

        eps = torch.finfo(compute).eps
        is_phi = w * a
        reshaped = (phi - is_phi).abs() > 64 * eps * is_phi.abs().clamp(
            min=torch.finfo(compute).tiny
        )
        metrics = {
            "ratio/mean": mean(w),
            "ratio/min": w.min() if a.numel() else nan,
            "ratio/max": w.max() if a.numel() else nan,
            "log_ratio/std": raw.std(correction=0) if a.numel() else nan,
            "log_ratio/max_abs": raw.abs().max() if a.numel() else nan,
            "reshaped_fraction": mean(reshaped),
            "zeroed_fraction": mean((phi == 0) & (a != 0)),
            "ess_fraction": (w.sum() ** 2 / (w * w).sum() / n) if a.numel() else nan,
            "khat": diagnostics.psis_khat(lw) if a.numel() else nan,
        }
        for k in ("k1", "k2", "k3"):
            metrics[f"kl/{k}"] = mean(getattr(kl_estimators, f"kl_{k}")(lw))
    return loss, {k: v.to(compute) for k, v in metrics.items()}


def aggregate(
    loss_mat: Tensor,
    mask: Tensor,
    loss_agg_mode: str = "token-mean",
    loss_scale_factor: float | None = None,
) -> Tensor:
    """verl-style aggregation of per-token losses (..., T) over selected tokens; empty -> 0."""
    if loss_agg_mode not in AGG_MODES:
        raise ValueError(f"loss_agg_mode must be one of {AGG_MODES}, got {loss_agg_mode!r}")
    if loss_scale_factor is not None:
        if loss_agg_mode != "seq-mean-token-sum-norm":
            raise ValueError(
                f"loss_scale_factor applies to seq-mean-token-sum-norm only, got it with "
                f"{loss_agg_mode!r}"
            )
        if not (isinstance(loss_scale_factor, (int, float)) and 0 < loss_scale_factor < math.inf):
            raise ValueError(f"loss_scale_factor must be finite and > 0, got {loss_scale_factor!r}")
    mask = _mask(mask, loss_mat)
    zero = torch.zeros((), dtype=loss_mat.dtype, device=loss_mat.device)
    masked = torch.where(mask, loss_mat, zero)
    if loss_agg_mode == "token-sum":
        return masked.sum()
    if loss_agg_mode == "token-mean":
        return masked.sum() / mask.sum().clamp(min=1).to(loss_mat.dtype)
    counts = mask.sum(-1)
    seq_sum = masked.sum(-1)
    if loss_agg_mode == "seq-mean-token-mean":
        seq_loss = seq_sum / counts.clamp(min=1).to(loss_mat.dtype)
    else:
        seq_loss = seq_sum
    nonempty = counts > 0
    if loss_agg_mode == "seq-mean-token-sum-norm":
        scale = loss_mat.shape[-1] if loss_scale_factor is None else loss_scale_factor
        if not scale > 0:
            raise ValueError(f"loss_scale_factor must be > 0, got {scale!r}")
        # verl: sum over sequences (no 1 / n_seq), then / scale
        return torch.where(nonempty, seq_loss, zero).sum() / scale
    n_seq = nonempty.sum().clamp(min=1).to(loss_mat.dtype)
    return torch.where(nonempty, seq_loss, zero).sum() / n_seq


def _resolve(design: str) -> Callable[..., Tensor]:
    module, _, name = design.partition(".")
    try:
        fn = getattr(importlib.import_module(f"isreshape.torch_impl.{module}"), name)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"design {design!r} is not a torch_impl module.function") from exc
    if not callable(fn) or name.startswith("_"):
        raise ValueError(f"design {design!r} is not a public torch_impl function")
    return fn


def _compute_dtype(x: Tensor) -> torch.dtype:
    if not x.dtype.is_floating_point:
        raise ValueError(f"log_prob must be a floating tensor, got {x.dtype}")
    return torch.float32 if x.dtype in LOW_PRECISION else x.dtype


def _check_inputs(log_prob: Tensor, old_log_prob: Tensor, advantages: Any, mask: Tensor) -> None:
    """Shapes and devices always; NaN at selected tokens where ``_validate`` checks values (CPU
    tensors, or every device after set_device_validation)."""
    for name, t in (("old_log_prob", old_log_prob), ("advantages", advantages)):
        if isinstance(t, Tensor) and t.device != log_prob.device:
            raise ValueError(f"{name} is on {t.device}, log_prob on {log_prob.device}")
    if isinstance(advantages, Tensor) and advantages.dim() > 0:
        shape, want = tuple(advantages.shape), tuple(log_prob.shape)
        if advantages.dim() != log_prob.dim():
            hint = (
                f" (per sequence: shape {want[:-1] + (1,)})"
                if advantages.dim() == log_prob.dim() - 1
                else ""
            )
            raise ValueError(
                f"advantages must have log_prob's {log_prob.dim()} dimensions {want} or be a "
                f"scalar, got shape {shape}{hint}: a (B,) tensor would broadcast along T"
            )
        try:
            ok = torch.broadcast_shapes(shape, want) == torch.Size(want)
        except RuntimeError:
            ok = False
        if not ok:  # (3, 4) against (1, 4) broadcasts both ways, but not *to* log_prob
            raise ValueError(f"advantages of shape {shape} does not broadcast to {want}")
    for name, t in (("log_prob", log_prob), ("old_log_prob", old_log_prob)):
        if not _checkable(t):
            continue
        sel = t.detach()[mask]
        if not bool(torch.isfinite(sel).all()):
            raise ValueError(
                f"{name} must be finite at a selected token (response_mask is True there), got "
                f"{sel[~torch.isfinite(sel)][:4].tolist()}"
            )
    if isinstance(advantages, Tensor) and _checkable(advantages):
        sel = torch.broadcast_to(advantages.detach(), log_prob.shape)[mask]
        if not bool(torch.isfinite(sel).all()):
            raise ValueError(
                f"advantages must be finite at a selected token, got "
                f"{sel[~torch.isfinite(sel)][:4].tolist()}"
            )


def _mask(mask: Any, like: Tensor) -> Tensor:
    if mask is None:
        return torch.ones(like.shape, dtype=torch.bool, device=like.device)
    m = torch.as_tensor(mask, device=like.device)
    if m.dtype != torch.bool:
        m = m != 0
    try:
        return torch.broadcast_to(m, like.shape)
    except RuntimeError as exc:
        raise ValueError(
            f"response_mask of shape {tuple(m.shape)} does not broadcast to {tuple(like.shape)}"
        ) from exc
