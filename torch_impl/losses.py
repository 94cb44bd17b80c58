"""Training-facing policy losses built on the gradient weights phi(w, A).

``policy_loss(log_prob, old_log_prob, advantages, response_mask, design, loss_agg_mode, ...)``
computes w = exp(log_prob - old_log_prob) per token, the design's phi(w, A) (a name in
``TOKEN_DESIGNS`` / ``SEQUENCE_DESIGNS`` / ``SEED_DESIGNS``, a ``"module.function"`` of
``torch_impl``, or any callable phi(log_w, A, **params)), and the per-token loss

    l_t = sg(v_t) - sg(phi_t) (log_prob_t - sg(log_prob_t)),

whose gradient with respect to log_prob_t is exactly -phi_t (the estimator
g = E_mu[phi grad log pi] of seed 002 section 1.2) and whose value is v_t, the loss value of
the convention ``loss_value`` (below). The per-token losses are aggregated as verl's
``agg_loss`` does:

- ``"token-mean"``: sum over selected tokens / number of selected tokens;
- ``"token-sum"``: sum over selected tokens;
- ``"seq-mean-token-sum"``: per-sequence token sum, mean over sequences with >= 1 token;
- ``"seq-mean-token-mean"``: per-sequence token mean, mean over sequences with >= 1 token;
- ``"seq-mean-token-sum-norm"``: the *sum* of the per-sequence token sums / ``loss_scale_factor``
  (default: the number of token positions T), as verl's ``agg_loss`` (Dr. GRPO). Not divided
  by the number of sequences: TRL's ``dr_grpo`` divides by B T, i.e. pass
  ``loss_scale_factor=B * T`` for it.

Loss value (``loss_value``; the gradient is -agg(phi) in every convention, bit for bit):

- ``"surrogate"`` (default): the value a verl / TRL user logs as ``pg_loss``, the design's
  objective. Ratio-form designs log their objective: PPO -min(w A, clip(w) A) (verl's
  ``compute_policy_loss_vanilla``), dual clip, SAPO -(4 / tau) sigmoid(tau (w - 1)) A, GSPO,
  KL-Cov and Clip-Cov (verl's PPO-form ``pg_losses`` of those modes).
  REINFORCE-form designs (CISPO, TIS, MIS, TOPR, DFT, sequence TIS / MIS, VESPO) log
  -sg(weight) A log_prob, as verl and TRL write them. The seed designs log -f(w, A) with

      f(w, A) = A + int_0^{log w} phi(s, A) ds   (gamma held fixed),

  the one objective whose log-w derivative is phi (gamma is a detached statistic in every
  seed design, so that is the design's gradient) and whose value at w = 1 is A. The same
  definition applied to PPO's phi (w A inside the clip range, 0 outside) gives exactly
  min(w A, clip(w) A), verl's objective (``tests/test_losses_value.py`` integrates it), so
  the seed designs' values are comparable with PPO's. Closed forms: A + A (w^gamma - 1) /
  gamma for the powers (seed 002's Box-Cox objective plus A), and below for truncation,
  saturation and the soft trust region. A callable or ``"module.function"`` design has no
  objective here: it logs the REINFORCE form -sg(phi) log_prob (as does a named design not
  in ``SURROGATE_VALUES`` or ``SEED_DESIGNS``).
- ``"weighted_logprob"``: -sg(phi) log_prob for every design (verl's value for CISPO).
- ``"phi"``: -phi, the value before the conventions existed (the loss then equals its own
  derivative along a unit step of every log_prob).

The log-ratio is clamped to [-20, 20] before the design sees it (``log_ratio_clamp``, verl's
bound; ``None`` for the exact phi), so no finite input gives inf / NaN in float64, float32
and bfloat16 (e^20 = 4.9e8). float16 overflows at 65504 = e^11.09: pass ``log_ratio_clamp=10``
for it.

Rollout correction (decoupled PPO, three policies): with ``rollout_log_prob`` (the rollout
engine's log-probs; ``old_log_prob`` is then the proximal policy recomputed by the trainer),
the design's phi is multiplied by rho = pi_old / pi_rollout (no gradient: rho does not depend
on the trained parameters), token or sequence level (``rollout_is``), truncated at a cap (TIS,
``rollout_is_mode="truncate"``) or zeroed outside a band (MIS, ``"mask"``); and sequence-level
rejection masks (``rollout_rejection``) drop whole sequences: ``"geometric"`` (geometric-mean
rho outside a band, verl's ``rollout_rs="geometric"``), ``"sequence"`` (the product of the
sequence's rho outside a band, verl's ``"sequence"``), ``"token_any"`` (any token's rho outside
a band; with the band (veto, inf) it is verl's ``rollout_token_veto_threshold``), ``"k1"`` /
``"k2"`` / ``"k3"`` (the sequence mean of that estimator of KL(pi_rollout || pi_old) above a
threshold; |mean k1| for k1, which is signed); ``"off_policy_sequence"`` (TRL's
``off_policy_mask_threshold``, DeepSeek-V3.2's off-policy sequence masking: a sequence with
A < 0 whose mean of log pi_rollout - log pi_theta exceeds the threshold; TRL uses its old
log-probs when it has no rollout log-probs: pass ``rollout_log_prob=old_log_prob`` for that,
and ``rollout_rejection_denominator="keep"`` for TRL's denominators); ``"token"`` drops single
tokens whose rho leaves a band (verl's ``"token"``). The product and the means run over the selected tokens;
the KL estimators take log rho clamped to ``log_ratio_clamp``. Differences from verl's rollout correction (``rollout_corr_helper``, docs
``docs/algo/rollout_corr.md``): verl applies its rejection through the response mask, so a
rejected sequence leaves the aggregation denominators; that is the default here
(``rollout_rejection_denominator="shrink"``), ``"keep"`` zeroes the rejected tokens' phi
and keeps them in the denominators (as this package's ``mis_token`` design does). verl's MIS
("mask" mode) keeps rho unclamped and rejects through the mask; here ``"mask"`` zeroes rho
outside the band and keeps the tokens in the denominators (use a rejection mask to drop them).
verl's sequence-level rho is bounded to [e^-20, e^20] as here (``log_ratio_clamp``). verl's
``rollout_is_batch_normalize`` is not an option here (the batch-normalised TIS designs of
``torch_impl.peers`` are designs, not corrections).

Edges: an empty mask (no selected token anywhere) gives loss 0 and zero gradient, never NaN
(verl would divide by 0); fully masked sequences are left out of the sequence means, as verl
does. Masked-out positions may hold any value (padding, +-inf, NaN, in every log-prob and in
the advantages): they are replaced before any arithmetic, so their gradient is exactly 0 and
the real tokens' gradient does not depend on them. Inputs are never modified.
"""

from __future__ import annotations

import importlib
import inspect
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch

from isreshape.torch_impl import distributed as tdist
from isreshape.torch_impl import peers
from isreshape.torch_impl._validate import LOW_PRECISION, _checkable, scalar

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
    "gpg": peers.gpg,
}
# sequence- or batch-level: they see the mask (and kl_cov / clip_cov the current log_prob);
# gmpo, kl_cov, clip_cov and the batch-normalised TIS compute batch statistics over (B, T)
SEQUENCE_DESIGNS: dict[str, Callable[..., Tensor]] = {
    "gspo": peers.gspo,
    "tis_sequence": peers.tis_sequence,
    "mis_sequence": peers.mis_sequence,
    "vespo": peers.vespo,
    "gmpo": peers.gmpo,
    "kl_cov": peers.kl_cov,
    "clip_cov": peers.clip_cov,
    "tis_token_batch_normalized": peers.tis_token_batch_normalized,
    "tis_sequence_batch_normalized": peers.tis_sequence_batch_normalized,
}
#: the per-token loss value under ``loss_value="surrogate"`` of the peers whose library logs a
#: ratio-form objective: fn(log_w, A, [mask], **params) (a ``mask`` parameter gets the selected
#: tokens). A named design not here and not a seed design logs the REINFORCE form
#: -sg(phi) log_prob (CISPO, TIS, MIS, TOPR, DFT, VESPO, GPG: what verl / TRL log for them).
SURROGATE_VALUES: dict[str, Callable[..., Tensor]] = {
    **{name: peers.SURROGATES[name] for name in ("ppo_clip", "ppo_dual_clip", "sapo", "gspo")},
    # verl's kl_cov / clip_cov log their PPO-form pg_losses (-A w, + coef |log w| on the
    # top-k tokens; the clipped -min(w A, clip(w) A), 0 on the chosen tokens); a
    # ``log_prob`` parameter gets the current log-probs, as the design does
    **{name: peers.SURROGATES[name] for name in ("kl_cov", "clip_cov")},
    # the value verl and TRL log for GMPO under seq-mean-token-mean
    "gmpo": peers._gmpo_loss_value,
}


# ------------------------------------------------------------------ the seeds' designs
# Batch statistics (the variance of log w, per-sign variances) are computed over the selected
# tokens only: gradient_weights passes response_mask as ``mask``. Every gamma is detached.


def _selected(log_w: Tensor, mask: Tensor | None) -> Tensor:
    if mask is None:
        return torch.ones_like(log_w, dtype=torch.bool)
    return torch.broadcast_to(torch.as_tensor(mask, device=log_w.device) != 0, log_w.shape)


def _full(A: Any, log_w: Tensor) -> Tensor:
    return torch.broadcast_to(scalar(A, log_w.dtype, log_w.device), log_w.shape)


# ---- the same statistics over every rank of a process group (``process_group``): each rule
# gathers its local partials once per call (cached in the call's ``distributed.Reducer``, so
# phi, the loss value and the metrics share one collective)


def _global_moments(red: tdist.Reducer, key: Any, x: Tensor, sels: list[Tensor]) -> list:
    """[(count, mean, M2)] over every rank for each selection (one collective, cached)."""
    if key not in red.cache:
        vec = torch.cat([tdist.local_moments(x, s) for s in sels])
        table = red.gather(vec)
        red.cache[key] = [tdist.chan_combine(table[:, 3 * i : 3 * i + 3]) for i in range(len(sels))]
    return red.cache[key]


def _ess_gamma_global(log_w: Tensor, mask: Any, rho_min: float, process_group: Any) -> Tensor:
    from isreshape.torch_impl import gamma as tg

    red = tdist.as_reducer(process_group)
    lw = log_w.detach()
    ((n, _, m2),) = _global_moments(red, "ess", lw, [_selected(log_w, mask)])
    var = (m2 / n.clamp(min=1)).to(lw.dtype)
    return tg.gamma_star_ess(var, rho_min)


def _range_gamma_global(log_w: Tensor, mask: Any, rho_min: float, process_group: Any) -> Tensor:
    from isreshape.torch_impl import gamma as tg

    red = tdist.as_reducer(process_group)
    keep = _selected(log_w, mask)
    lw = log_w.detach()
    if "range" not in red.cache:
        inf = torch.full((), math.inf, dtype=torch.float64, device=lw.device)
        lw64 = lw.to(torch.float64)
        hi = tdist.amax_all(torch.where(keep, lw64, -inf))  # -inf on a rank with no tokens
        neg_lo = tdist.amax_all(torch.where(keep, -lw64, -inf))
        table = red.gather(torch.stack([hi, neg_lo, keep.sum().to(torch.float64)]))
        red.cache["range"] = (table[:, 0].amax(), -table[:, 1].amax(), table[:, 2].sum())
    hi, lo, n = red.cache["range"]
    spread = torch.where(n > 0, hi - lo, torch.zeros_like(hi)).to(lw.dtype)
    return tg.gamma_star_ess(spread * spread / 4, rho_min)


def _per_sign_gammas_global(
    log_w: Tensor, A: Any, mask: Any, rho_min: float, process_group: Any
) -> tuple[Tensor, Tensor]:
    """``gamma.per_sign_gamma``'s rule (default ranges and defaults) on the per-sign counts and
    unbiased variances over every rank."""
    from isreshape.torch_impl._ties import clip_closed
    from isreshape.torch_impl._validate import check_range

    check_range("rho_min", rho_min, lo=0, hi=1, lo_open=True)
    red = tdist.as_reducer(process_group)
    lw = log_w.detach()
    A_full = _full(A, lw)
    keep = _selected(log_w, mask)
    stats = _global_moments(red, "per_sign", lw, [keep & (A_full > 0), keep & (A_full < 0)])
    dt, dev = lw.dtype, lw.device

    def t(v: float) -> Tensor:
        return scalar(v, dt, dev)

    log_rho = -torch.log(t(rho_min))
    out = []
    for (n, _, m2), (lo, hi), offset, default in (
        (stats[0], (0.1, 0.99), 0.0, 0.5),
        (stats[1], (1.01, 1.99), 1.0, 1.5),
    ):
        var = (m2 / torch.clamp(n - 1, min=1)).to(dt)
        spread = (n >= 2) & (var > 0)
        r = torch.sqrt(log_rho / torch.where(spread, var, torch.ones_like(var)))
        r = torch.where(spread, r, torch.full_like(r, math.inf))
        g = clip_closed(offset + r, t(lo), t(hi))
        out.append(torch.where(n == 0, t(default), g))
    return out[0], out[1]


def _variational_gammas_global(
    log_w: Tensor,
    A: Any,
    mask: Any,
    rho_min: float,
    gamma_min: float,
    gamma_max: float,
    temperature: float,
    process_group: Any,
) -> Tensor:
    """``variational.is_reshape_v2_gamma`` with gamma_base from the unbiased variance over
    every rank's selected tokens."""
    from isreshape.torch_impl import gamma as tg
    from isreshape.torch_impl import variational as tv
    from isreshape.torch_impl._ties import cap_above, cap_below, clip_closed
    from isreshape.torch_impl._validate import promote

    red = tdist.as_reducer(process_group)
    lw0 = log_w.detach()
    A_full = _full(A, lw0)
    keep = _selected(lw0, mask)
    tv._code_checks(lw0, A_full, rho_min, gamma_min, gamma_max, temperature)
    (lw, a, rho, gmin, gmax, tt), out = promote(
        lw0, A_full, rho_min, gamma_min, gamma_max, temperature
    )
    ((n, _, m2),) = _global_moments(red, "variational", lw, [keep])
    sigma2 = (m2 / (n - 1).clamp(min=1)).to(lw.dtype)
    sigma2 = torch.where(n > 1, sigma2, torch.zeros_like(sigma2))
    small = sigma2 < tv.SIGMA2_FLOOR
    safe = torch.where(small, torch.ones_like(sigma2), sigma2)
    gb = torch.where(small, gmax, cap_above(tg.gamma_star_ess(safe, rho), gmax))
    gb = cap_below(gb, gmin)
    p_hi, p_lo = torch.sigmoid(lw * tt), torch.sigmoid(-lw * tt)
    p_pos, p_neg = torch.sigmoid(a * tt), torch.sigmoid(-a * tt)
    gamma = gb * (p_hi * p_neg + p_lo * p_pos) + p_lo * p_neg
    return clip_closed(gamma, gmin, gmax).to(out).to(lw0.dtype)


def _ess_gamma(
    log_w: Tensor, mask: Tensor | None, rho_min: float, process_group: Any = None
) -> Tensor:
    from isreshape.torch_impl import gamma as tg

    if process_group is not None:
        return _ess_gamma_global(log_w, mask, rho_min, process_group)
    keep = _selected(log_w, mask)
    lw = log_w.detach()
    n = keep.sum().clamp(min=1).to(lw.dtype)
    zero = torch.zeros((), dtype=lw.dtype, device=lw.device)
    mean = torch.where(keep, lw, zero).sum() / n
    var = torch.where(keep, (lw - mean) ** 2, zero).sum() / n
    return tg.gamma_star_ess(var, rho_min)


def is_reshape_ess(
    log_w: Tensor,
    A: Tensor,
    mask: Tensor | None = None,
    rho_min: float = 0.3,
    *,
    process_group: Any = None,
) -> Tensor:
    """phi = w^gamma A, gamma = min(1, sqrt(-log rho_min / s^2)) with s^2 the (population)
    variance of log w over the selected tokens (seed 001 theorem 8.3: under log-normal weights
    ESS / n = exp(-s^2 gamma^2) >= rho_min). gamma is a batch statistic, detached; no token or
    s^2 = 0 gives gamma = 1 (plain importance sampling).

    ``process_group`` (a ``torch.distributed`` ProcessGroup): s^2 over the selected tokens of
    every rank (one collective, Chan's formula). Defaults: rho_min = 0.3 (seed 001's)."""
    from isreshape.torch_impl import weights as tw

    return tw.power_weight(log_w, A, _ess_gamma(log_w, mask, rho_min, process_group))


def _range_gamma(
    log_w: Tensor, mask: Tensor | None, rho_min: float, process_group: Any = None
) -> Tensor:
    from isreshape.torch_impl import gamma as tg

    if process_group is not None:
        return _range_gamma_global(log_w, mask, rho_min, process_group)
    keep = _selected(log_w, mask)
    lw = log_w.detach()
    inf = torch.full((), math.inf, dtype=lw.dtype, device=lw.device)
    spread = torch.where(keep, lw, -inf).amax() - torch.where(keep, lw, inf).amin()
    spread = torch.where(keep.any(), spread, torch.zeros_like(spread))
    return tg.gamma_star_ess(spread * spread / 4, rho_min)


def is_reshape_range(
    log_w: Tensor,
    A: Tensor,
    mask: Tensor | None = None,
    rho_min: float = 0.3,
    *,
    process_group: Any = None,
) -> Tensor:
    """phi = w^gamma A, gamma = min(1, 2 sqrt(-log rho_min) / R) with R = max - min of log w
    over the selected tokens: the corrected ESS rule (ledger claims 001-8.3-d, 001-12.1-f).
    Theorem 8.3's closed form with s^2 replaced by R^2 / 4, which bounds every tilted variance
    of log w (Popoviciu), so the Kish ESS of the applied weights w^gamma over the selected
    tokens is at least rho_min n for every batch, log-normal or not (``is_reshape_ess``
    guarantees it only for log-normal weights and misses it by up to 70x on the exact lab's
    heavy tails). gamma is a batch statistic, detached; R = 0 (or no token) gives gamma = 1.

    ``process_group``: R over the selected tokens of every rank (global max and min, one
    collective). Defaults: rho_min = 0.3 (seed 001's)."""
    from isreshape.torch_impl import weights as tw

    return tw.power_weight(log_w, A, _range_gamma(log_w, mask, rho_min, process_group))


def _per_sign_gammas(
    log_w: Tensor, A: Any, mask: Tensor | None, rho_min: float, process_group: Any = None
):
    from isreshape.torch_impl import gamma as tg

    if process_group is not None:
        return _per_sign_gammas_global(log_w, A, mask, rho_min, process_group)
    A_full = _full(A, log_w)
    return tg.per_sign_gamma(log_w.detach(), A_full, _selected(log_w, mask), rho_min).unbind(0)


def per_sign_power(
    log_w: Tensor,
    A: Tensor,
    mask: Tensor | None = None,
    rho_min: float = 0.3,
    *,
    process_group: Any = None,
) -> Tensor:
    """phi = w^gamma_+ A for A > 0, w^gamma_- A for A < 0, with seed 002's corrected per-sign
    rule over the selected tokens (``gamma.per_sign_gamma``, detached): gamma_+ =
    clip(r_+, 0.1, 0.99), gamma_- = clip(1 + r_-, 1.01, 1.99), r = sqrt(-log rho_min / s^2)
    with s^2 the variance of log w over the selected tokens of that sign; no token of a sign
    gives 0.5 / 1.5.

    ``process_group``: the per-sign counts and variances over every rank's selected tokens
    (one collective). Defaults: rho_min = 0.3, the ranges (0.1, 0.99) and (1.01, 1.99) of
    seed 002."""
    from isreshape.torch_impl import weights as tw

    gp, gn = _per_sign_gammas(log_w, A, mask, rho_min, process_group)
    return tw.asymmetric_power_weight(log_w, A, gp, gn)


def _variational_gammas(
    log_w: Tensor,
    A: Any,
    mask: Tensor | None,
    rho_min: float,
    gamma_min: float,
    gamma_max: float,
    temperature: float,
    process_group: Any = None,
) -> Tensor:
    """Per-token gamma of seed 000 section 10 (section 8.3 corrected), gamma_base from the
    selected tokens of the whole batch (flattened: the seed's code takes the variance of the
    masked log-ratios of the batch; with a process group, of every rank's batch)."""
    from isreshape.torch_impl import variational as tv

    if process_group is not None:
        return _variational_gammas_global(
            log_w, A, mask, rho_min, gamma_min, gamma_max, temperature, process_group
        )
    lw = log_w.detach()
    A_full = _full(A, lw)
    keep = _selected(lw, mask)
    g = tv.is_reshape_v2_gamma(
        lw.reshape(-1),
        A_full.reshape(-1),
        keep.reshape(-1),
        rho_min,
        gamma_min,
        gamma_max,
        temperature,
    )
    return g.reshape(lw.shape).to(lw.dtype)


def variational_gamma(
    log_w: Tensor,
    A: Tensor,
    mask: Tensor | None = None,
    rho_min: float = 0.3,
    gamma_min: float = 0.0,
    gamma_max: float = 1.0,
    temperature: float = 5.0,
    *,
    process_group: Any = None,
) -> Tensor:
    """Seed 000's variational case-based gamma, as corrected: phi = w^gamma_t A with

        gamma_t = gamma_base + (1 - gamma_base) P4 - gamma_base P1,
        P1 = sigma(l T) sigma(A T) (case 1: w > 1, A > 0, gamma -> 0),
        P4 = sigma(-l T) sigma(-A T) (case 4: w < 1, A < 0, gamma -> 1),

    clamped to [gamma_min, gamma_max], l = log w (``variational.is_reshape_v2_gamma``: the
    section 10 code, which is section 8.3 with sigma(+-log w) swapped, claims 000-8.3-a and
    000-10-c; cases 2 and 3 get gamma_base). gamma_base = clamp(min(1, sqrt(-log rho_min /
    s^2)), gamma_min, gamma_max) with s^2 the unbiased variance of log w over the selected
    tokens of the whole batch (gamma_max when s^2 < 1e-8 or fewer than 2 tokens). The ratio is
    the importance ratio pi_theta / mu (log_prob - old_log_prob, the correction of claim
    000-10-e: the seed's code divides by the reference policy). gamma is detached. The seed's
    1 / sum(mask) is the aggregation's (``loss_agg_mode="token-mean"`` reproduces it).

    Defaults: rho_min = 0.3, gamma_min = 0, gamma_max = 1, temperature T = 5 (the section 10
    code's). ``process_group``: s^2 over every rank's selected tokens (one collective)."""
    from isreshape.torch_impl import weights as tw

    g = _variational_gammas(
        log_w, A, mask, rho_min, gamma_min, gamma_max, temperature, process_group
    )
    return tw.power_weight(log_w, A, g)


def trust_region_adaptive(
    log_w: Tensor,
    A: Tensor,
    gamma_base: float = 0.1,
    gamma_max: float = 0.9,
    tau_h: float = 1.0,
    tau_c: float = 1.0,
) -> Tensor:
    """Seed 003's soft trust region with the adaptive gamma (``trust_region.phi_adaptive``):
    phi = A ((1 - gamma) + gamma w sech^2(tau_h (w - 1) / 2)), gamma = gamma_base +
    (gamma_max - gamma_base) sigmoid(-A log w / tau_c).

    Defaults: gamma_base = 0.1, gamma_max = 0.9, tau_h = tau_c = 1 (seed 003 section 5.1)."""
    from isreshape.torch_impl import trust_region as ttr

    return ttr.phi_adaptive(log_w, A, gamma_base, gamma_max, tau_h, tau_c)


def truncated_power(log_w: Tensor, A: Tensor, gamma: float = 1.0, M: float = 2.0) -> Tensor:
    """Seed 002's truncation phi = min(w^gamma, M) A (``weights.truncated_power_weight``).

    Defaults: gamma = 1 (importance sampling below the cap), M = 2."""
    from isreshape.torch_impl import weights as tw

    return tw.truncated_power_weight(log_w, A, gamma, M)


def soft_saturation(log_w: Tensor, A: Tensor, gamma: float = 1.0, lam: float = 0.5) -> Tensor:
    """Seed 002's soft saturation phi = w^gamma / (1 + lam (w^gamma - 1)^+) A
    (``weights.soft_saturation_weight``).

    Defaults: gamma = 1, lam = 0.5 (the weight tends to A / lam = 2 A)."""
    from isreshape.torch_impl import weights as tw

    return tw.soft_saturation_weight(log_w, A, gamma, lam)


SEED_DESIGNS: dict[str, Callable[..., Tensor]] = {
    "is_reshape_ess": is_reshape_ess,
    "is_reshape_range": is_reshape_range,
    "per_sign_power": per_sign_power,
    "variational_gamma": variational_gamma,
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
    # TRL GRPOTrainer's loss_type, as TRL computes it on one process without accumulation:
    "trl-grpo",  # per-sequence token mean, then the mean over all B sequences (empty ones too)
    "trl-bnpo",  # token mean over the batch (= token-mean)
    "trl-dr_grpo",  # token sum / (B * max_completion_length); that length = loss_scale_factor or T
    "trl-luspo",  # per-sequence token sum, then the mean over all B sequences
)
#: TRL modes that divide by the batch size B (all sequences, padded ones included): a fully
#: padded sequence changes their value, as it does in TRL
BATCH_SIZE_MODES = ("trl-grpo", "trl-dr_grpo", "trl-luspo")
LOSS_VALUES = ("surrogate", "weighted_logprob", "phi")
ROLLOUT_IS_LEVELS = ("token", "sequence")
ROLLOUT_IS_MODES = ("truncate", "mask")
ROLLOUT_REJECTIONS = (
    "geometric",
    "sequence",
    "token_any",
    "token",
    "k1",
    "k2",
    "k3",
    "off_policy_sequence",
)

#: the default bound on |log_prob - old_log_prob| (verl's clamp of the log-ratio)
LOG_RATIO_CLAMP = 20.0


def all_designs() -> list[str]:
    """Every named design: the peers (token, sequence level) and the seeds'."""
    return [*TOKEN_DESIGNS, *SEQUENCE_DESIGNS, *SEED_DESIGNS]


# ------------------------------------------------------------------ the seeds' objectives
# f(w, A) with d f / d log w = phi (gamma held fixed) and f(1, A) = A; the loss value is -f.


def _box_cox_plus_A(log_w: Tensor, A: Tensor, gamma: Any) -> Tensor:
    from isreshape.torch_impl import weights as tw

    return A + tw.box_cox_objective(log_w, A, gamma)


def _objective_is_reshape_ess(log_w, A, mask=None, rho_min=0.3, process_group=None):
    return _box_cox_plus_A(log_w, A, _ess_gamma(log_w, mask, rho_min, process_group))


def _objective_is_reshape_range(log_w, A, mask=None, rho_min=0.3, process_group=None):
    return _box_cox_plus_A(log_w, A, _range_gamma(log_w, mask, rho_min, process_group))


def _objective_per_sign_power(log_w, A, mask=None, rho_min=0.3, process_group=None):
    gp, gn = _per_sign_gammas(log_w, A, mask, rho_min, process_group)
    return _box_cox_plus_A(log_w, A, torch.where(A > 0, gp, gn))


def _objective_variational_gamma(
    log_w,
    A,
    mask=None,
    rho_min=0.3,
    gamma_min=0.0,
    gamma_max=1.0,
    temperature=5.0,
    process_group=None,
):
    g = _variational_gammas(
        log_w, A, mask, rho_min, gamma_min, gamma_max, temperature, process_group
    )
    return _box_cox_plus_A(log_w, A, g)


def _objective_trust_region_adaptive(log_w, A, gamma_base=0.1, gamma_max=0.9, tau_h=1.0, tau_c=1.0):
    from isreshape.torch_impl import trust_region as ttr

    g = ttr.gamma_adaptive(log_w, A, gamma_base, gamma_max, tau_c)
    return A + A * ttr.f_gamma(log_w, g, tau_h).to(log_w.dtype)


def _objective_truncated_power(log_w, A, gamma=1.0, M=2.0):
    """f = A + A int_0^l min(e^{gamma s}, M) ds = A + (A / gamma) (K(t) - K(0)), t = gamma l,
    K(t) = e^{min(t, L)} + M (t - L)^+, L = log M; gamma = 0 gives A + min(1, M) A l."""
    g = scalar(gamma, log_w.dtype, log_w.device)
    m = scalar(M, log_w.dtype, log_w.device)
    t = g * log_w
    L = torch.log(m)
    b = torch.clamp(L, max=0.0)
    zero = torch.zeros((), dtype=log_w.dtype, device=log_w.device)
    # torch.where, not clamp / minimum: at t == L those pass 0, 1/2 or all of the gradient
    # depending on the torch version (clamp's boundary gradient is 1 in 2.13, 0 in 2.15)
    above = t > L
    k = torch.exp(b) * torch.expm1(torch.where(above, L, t) - b)
    k = k + m * (torch.where(above, t - L, zero) - torch.clamp(-L, min=0.0))
    g_safe = torch.where(g == 0, torch.ones_like(g), g)
    inner = torch.where(g == 0, torch.clamp(m, max=1.0) * log_w, k / g_safe)
    return A + torch.where(A == 0, zero, A * inner)


def _objective_soft_saturation(log_w, A, gamma=1.0, lam=0.5):
    """f = A + (A / gamma) J(t), t = gamma l: J = e^t - 1 for t <= 0, log(1 + lam (e^t - 1))
    / lam above (e^t - 1 for lam = 0); gamma = 0 gives A + A l."""
    g = scalar(gamma, log_w.dtype, log_w.device)
    lam_t = scalar(lam, log_w.dtype, log_w.device)
    t = g * log_w
    zero = torch.zeros((), dtype=log_w.dtype, device=log_w.device)
    lam_safe = torch.where(lam_t > 0, lam_t, torch.ones_like(lam_t))
    # torch.where, not clamp: clamp's gradient at its bound is 1 in torch 2.13 and 0 in 2.15,
    # and t = 1 (w = e at gamma = 1) must get the gradient of the branch that is used
    one = torch.ones((), dtype=log_w.dtype, device=log_w.device)
    t_mid = torch.where(t > 1, one, torch.where(t < 0, zero, t))
    t_big = torch.where(t > 1, t, one)
    sat_mid = torch.log1p(lam_safe * torch.expm1(t_mid)) / lam_safe
    sat_big = (t_big + torch.log(lam_safe + (1 - lam_safe) * torch.exp(-t_big))) / lam_safe
    sat = torch.where(t > 1, sat_big, sat_mid)
    j = torch.where((t <= 0) | (lam_t == 0), torch.expm1(t), sat)
    g_safe = torch.where(g == 0, torch.ones_like(g), g)
    inner = torch.where(g == 0, log_w, j / g_safe)
    return A + torch.where(A == 0, zero, A * inner)


_SEED_OBJECTIVES: dict[str, Callable[..., Tensor]] = {
    "is_reshape_ess": _objective_is_reshape_ess,
    "is_reshape_range": _objective_is_reshape_range,
    "per_sign_power": _objective_per_sign_power,
    "variational_gamma": _objective_variational_gamma,
    "trust_region_adaptive": _objective_trust_region_adaptive,
    "truncated_power": _objective_truncated_power,
    "soft_saturation": _objective_soft_saturation,
}


# ------------------------------------------------------------------ the designs' own metrics


def _masked_stats(x: Tensor, keep: Tensor, prefix: str) -> dict[str, Tensor]:
    n = keep.sum().to(x.dtype)
    nan = torch.full((), math.nan, dtype=x.dtype, device=x.device)
    inf = torch.full((), math.inf, dtype=x.dtype, device=x.device)
    xs = torch.broadcast_to(x, keep.shape)
    return {
        f"{prefix}/mean": torch.where(keep, xs, torch.zeros_like(xs)).sum() / n,
        f"{prefix}/min": torch.where(n > 0, torch.where(keep, xs, inf).amin(), nan),
        f"{prefix}/max": torch.where(n > 0, torch.where(keep, xs, -inf).amax(), nan),
    }


def _fraction(cond: Tensor, keep: Tensor) -> Tensor:
    return (cond & keep).sum().to(torch.float64) / keep.sum().to(torch.float64)


def _metrics_is_reshape_ess(log_w, A, keep, rho_min=0.3, process_group=None):
    return {"design/gamma": _ess_gamma(log_w, keep, rho_min, process_group)}


def _metrics_is_reshape_range(log_w, A, keep, rho_min=0.3, process_group=None):
    return {"design/gamma": _range_gamma(log_w, keep, rho_min, process_group)}


def _metrics_per_sign_power(log_w, A, keep, rho_min=0.3, process_group=None):
    gp, gn = _per_sign_gammas(log_w, A, keep, rho_min, process_group)
    return {"design/gamma_pos": gp, "design/gamma_neg": gn}


def _metrics_variational_gamma(
    log_w, A, keep, rho_min=0.3, gamma_min=0.0, gamma_max=1.0, temperature=5.0
):
    g = _variational_gammas(log_w, A, keep, rho_min, gamma_min, gamma_max, temperature)
    out = _masked_stats(g, keep, "design/gamma")
    cases = {
        1: (log_w > 0) & (A > 0),
        2: (log_w > 0) & (A < 0),
        3: (log_w < 0) & (A > 0),
        4: (log_w < 0) & (A < 0),
    }
    for c, cond in cases.items():
        out[f"design/case{c}_fraction"] = _fraction(cond, keep)
    return out


def _metrics_trust_region_adaptive(
    log_w, A, keep, gamma_base=0.1, gamma_max=0.9, tau_h=1.0, tau_c=1.0
):
    from isreshape.torch_impl import trust_region as ttr

    g = ttr.gamma_adaptive(log_w, A, gamma_base, gamma_max, tau_c)
    return _masked_stats(g, keep, "design/gamma")


def _metrics_truncated_power(log_w, A, keep, gamma=1.0, M=2.0):
    return {"design/truncated_fraction": _fraction(gamma * log_w > math.log(M), keep)}


def _metrics_soft_saturation(log_w, A, keep, gamma=1.0, lam=0.5):
    return {"design/saturated_fraction": _fraction(gamma * log_w > 0, keep)}


_SEED_METRICS: dict[str, Callable[..., dict[str, Tensor]]] = {
    "is_reshape_ess": _metrics_is_reshape_ess,
    "is_reshape_range": _metrics_is_reshape_range,
    "per_sign_power": _metrics_per_sign_power,
    "variational_gamma": _metrics_variational_gamma,
    "trust_region_adaptive": _metrics_trust_region_adaptive,
    "truncated_power": _metrics_truncated_power,
    "soft_saturation": _metrics_soft_saturation,
}


# ------------------------------------------------------------------ options and checks


@dataclass(frozen=True)
class _Rollout:
    log_prob: Tensor | None
    level: str | None
    mode: str
    upper: float
    lower: float
    rejection: tuple[tuple[str, tuple[float, float]], ...]
    denominator: str


def _band(name: str, value: Any) -> tuple[float, float]:
    """A band (lo, hi) on a ratio; a single number hi means (1 / hi, hi)."""
    where = f"rollout_rejection[{name!r}]"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        hi = float(value)
        if not (1 <= hi < math.inf):
            raise ValueError(
                f"{where} must be a finite upper ratio >= 1 or (lo, hi), got {value!r}"
            )
        return 1 / hi, hi
    if isinstance(value, (tuple, list)) and len(value) == 2:
        lo, hi = (float(v) for v in value)
        if not (0 <= lo <= hi) or math.isnan(hi):
            raise ValueError(f"{where} must be a band 0 <= lo <= hi (hi may be inf), got {value!r}")
        return lo, hi
    raise ValueError(f"{where} must be a number or a pair (lo, hi), got {value!r}")


def _rollout_options(
    rollout_log_prob: Tensor | None,
    rollout_is: str | None,
    rollout_is_mode: str,
    rollout_is_threshold: float,
    rollout_is_threshold_lower: float | None,
    rollout_rejection: Mapping[str, Any] | None,
    rollout_rejection_denominator: str,
) -> _Rollout:
    if rollout_is is not None and rollout_is not in ROLLOUT_IS_LEVELS:
        raise ValueError(
            f"rollout_is must be None or one of {ROLLOUT_IS_LEVELS}, got {rollout_is!r}"
        )
    if rollout_is_mode not in ROLLOUT_IS_MODES:
        raise ValueError(
            f"rollout_is_mode must be one of {ROLLOUT_IS_MODES}, got {rollout_is_mode!r}"
        )
    if rollout_rejection_denominator not in ("shrink", "keep"):
        raise ValueError(
            "rollout_rejection_denominator must be 'shrink' (verl: rejected tokens leave the "
            f"denominators) or 'keep', got {rollout_rejection_denominator!r}"
        )
    up = rollout_is_threshold
    if not (isinstance(up, (int, float)) and not isinstance(up, bool) and 0 < up < math.inf):
        raise ValueError(f"rollout_is_threshold must be a finite number > 0, got {up!r}")
    if rollout_is_threshold_lower is None:
        lo = 0.0 if rollout_is_mode == "truncate" else 1 / up
    else:
        lo = rollout_is_threshold_lower
        if not (isinstance(lo, (int, float)) and not isinstance(lo, bool) and 0 <= lo <= up):
            raise ValueError(
                f"rollout_is_threshold_lower must be in [0, rollout_is_threshold = {up!r}], "
                f"got {lo!r}"
            )
    rejection: list[tuple[str, tuple[float, float]]] = []
    if rollout_rejection is not None:
        if not isinstance(rollout_rejection, Mapping):
            raise ValueError(
                "rollout_rejection must be a dict {name: threshold} with names in "
                f"{ROLLOUT_REJECTIONS}, got {rollout_rejection!r}"
            )
        for name, value in rollout_rejection.items():
            if name in ("geometric", "sequence", "token_any", "token"):
                rejection.append((name, _band(name, value)))
            elif name in ("k1", "k2", "k3", "off_policy_sequence"):
                ok = isinstance(value, (int, float)) and not isinstance(value, bool)
                if not (ok and 0 <= value < math.inf):
                    raise ValueError(
                        f"rollout_rejection[{name!r}] must be a finite KL threshold >= 0, "
                        f"got {value!r}"
                    )
                rejection.append((name, (0.0, float(value))))
            else:
                raise ValueError(
                    f"rollout_rejection names must be in {ROLLOUT_REJECTIONS}, got {name!r}"
                )
    if rollout_log_prob is None and (rollout_is is not None or rejection):
        raise ValueError(
            "rollout_is / rollout_rejection need rollout_log_prob (the rollout engine's "
            "log-probs; old_log_prob is the proximal policy)"
        )
    return _Rollout(
        rollout_log_prob,
        rollout_is,
        rollout_is_mode,
        float(up),
        float(lo),
        tuple(rejection),
        rollout_rejection_denominator,
    )


def _resolve_design(design: Any) -> tuple[str, Callable[..., Tensor]]:
    """(kind, fn) with kind 'token', 'sequence', 'seed' or 'callable'."""
    if isinstance(design, str):
        if design in TOKEN_DESIGNS:
            return "token", TOKEN_DESIGNS[design]
        if design in SEQUENCE_DESIGNS:
            return "sequence", SEQUENCE_DESIGNS[design]
        if design in SEED_DESIGNS:
            return "seed", SEED_DESIGNS[design]
        if "." in design:
            return "callable", _resolve(design)
        known = sorted(TOKEN_DESIGNS) + sorted(SEQUENCE_DESIGNS) + sorted(SEED_DESIGNS)
        raise ValueError(f"design must be one of {known} or a callable, got {design!r}")
    if callable(design):
        return "callable", design
    raise ValueError(f"design must be a name or a callable, got {design!r}")


_Signature = tuple[bool, "frozenset[str] | None"]
#: the registered designs' signatures (filled once at import, at the end of this module)
_SIGNATURES: dict[Any, _Signature] = {}
#: user callables' signatures, at most _USER_SIGNATURES_MAX, the oldest dropped first: a
#: training loop that passes a new lambda or functools.partial per step keeps at most that many
#: closures alive. A plain dict read with .get, not a weakref.WeakKeyDictionary: torch 2.4's
#: dynamo does not trace WeakKeyDictionary.get, and a compiled call of a user callable must
#: find its signature here (after one eager call). An unhashable callable is read every call.
_USER_SIGNATURES: dict[Any, _Signature] = {}
_USER_SIGNATURES_MAX = 32


def _read_signature(fn: Callable[..., Tensor]) -> _Signature:
    try:
        ps = inspect.signature(fn).parameters
    except (TypeError, ValueError):  # builtins without a signature
        return (False, None)
    var_kw = any(p.kind is p.VAR_KEYWORD for p in ps.values())
    names = [n for n, p in ps.items() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    return ("mask" in ps, None if var_kw else frozenset(names[2:]))


def _signature(fn: Callable[..., Tensor]) -> _Signature:
    """(takes a mask, its parameter names beyond (log_w, A) or None if it takes **kwargs)."""
    try:
        # .get, not [key] with except KeyError: dynamo in torch 2.4 fails while building
        # the KeyError of a miss on a function key (the first call being compiled)
        hit = _SIGNATURES.get(fn)
    except TypeError:
        hit = None
    if hit is not None:
        return hit
    try:
        hit = _USER_SIGNATURES.get(fn)
    except TypeError:  # unhashable
        return _read_signature(fn)
    if hit is not None:
        return hit
    out = _read_signature(fn)
    while len(_USER_SIGNATURES) >= _USER_SIGNATURES_MAX:
        del _USER_SIGNATURES[next(iter(_USER_SIGNATURES))]
    _USER_SIGNATURES[fn] = out
    return out


def _check_params(design: Any, fn: Callable[..., Tensor], params: Mapping[str, Any]) -> bool:
    takes_mask, names = _signature(fn)
    if "mask" in params:
        raise ValueError("pass the mask as response_mask, not as a design parameter 'mask'")
    if "log_prob" in params:
        raise ValueError("log_prob is passed by policy_loss, not as a design parameter")
    if names is not None:
        unknown = sorted(set(params) - names)
        if unknown:
            allowed = sorted(names - {"mask", "log_prob", "process_group"})
            raise ValueError(
                f"design {design!r} takes the parameters {allowed}, got unknown {unknown}"
            )
    return takes_mask


# ------------------------------------------------------------------ the computation


@dataclass
class _Parts:
    phi: Tensor  # applied weight rho * phi, detached, 0 outside keep
    value: Tensor  # per-token loss value (detached), 0 outside keep
    keep: Tensor  # tokens the design sees (selected and not rejected)
    agg_mask: Tensor  # tokens in the aggregation denominators
    selected: Tensor  # response_mask as given
    log_w: Tensor  # clamped log ratio log_prob - old_log_prob, 0 outside selected
    raw_log_w: Tensor  # unclamped, 0 outside selected
    adv: Tensor  # advantages broadcast to the token shape, 0 outside selected
    phi_design: Tensor  # the design's phi before rho
    rho: Tensor | None
    rho_raw_log: Tensor | None
    rollout_lr: Tensor | None
    rejected: dict[str, Tensor]
    kind: str
    design: Any
    params: dict[str, Any]
    compute: torch.dtype


def _parts(
    log_prob: Tensor,
    old_log_prob: Tensor,
    advantages: Any,
    response_mask: Any,
    design: Any,
    log_ratio_clamp: float | None,
    loss_value: str,
    rollout: _Rollout,
    params: dict[str, Any],
    red: tdist.Reducer | None = None,
) -> _Parts:
    if loss_value not in LOSS_VALUES:
        raise ValueError(f"loss_value must be one of {LOSS_VALUES}, got {loss_value!r}")
    if log_ratio_clamp is not None and not (
        isinstance(log_ratio_clamp, (int, float))
        and not isinstance(log_ratio_clamp, bool)
        and log_ratio_clamp > 0
    ):
        raise ValueError(f"log_ratio_clamp must be > 0 or None, got {log_ratio_clamp!r}")
    kind, fn = _resolve_design(design)
    takes_mask = _check_params(design, fn, params)
    if red is not None:
        _refuse_top_k(design, fn)
    selected = _check_inputs(log_prob, old_log_prob, advantages, response_mask, rollout.log_prob)
    compute = _compute_dtype(log_prob)
    dev = log_prob.device
    zero = torch.zeros((), dtype=compute, device=dev)

    def clamp(x: Tensor) -> Tensor:
        return x if log_ratio_clamp is None else x.clamp(-log_ratio_clamp, log_ratio_clamp)

    lp = torch.where(selected, log_prob.detach().to(compute), zero)
    old = torch.where(selected, old_log_prob.detach().to(compute), zero)
    raw = lp - old
    log_w = clamp(raw)
    if isinstance(advantages, Tensor):
        adv = advantages.detach().to(compute)
    else:
        adv = scalar(advantages, compute, dev)
    adv = torch.where(selected, torch.broadcast_to(adv, log_prob.shape), zero)

    # rollout correction: rejection masks first (the design sees only accepted tokens)
    rejected: dict[str, Tensor] = {}
    rho = rho_raw_log = rollout_lr = None
    keep = selected
    if rollout.log_prob is not None:
        roll = torch.where(selected, rollout.log_prob.detach().to(compute), zero)
        rollout_lr = old - roll  # log pi_old / pi_rollout per token, 0 outside selected
        n_tok = selected.sum(-1, keepdim=True)
        n_safe = n_tok.clamp(min=1).to(compute)
        any_rej = torch.zeros_like(selected)
        for name, (lo, hi) in rollout.rejection:
            if name == "geometric":
                mean_lr = rollout_lr.sum(-1, keepdim=True) / n_safe
                rej = (mean_lr < _log(lo)) | (mean_lr > _log(hi))
            elif name == "sequence":
                sum_lr = rollout_lr.sum(-1, keepdim=True)
                rej = (sum_lr < _log(lo)) | (sum_lr > _log(hi))
            elif name in ("token_any", "token"):
                out = (rollout_lr < _log(lo)) | (rollout_lr > _log(hi))
                rej = (out & selected).any(-1, keepdim=True) if name == "token_any" else out
            elif name == "off_policy_sequence":
                # TRL's off_policy_mask_threshold (DeepSeek-V3.2 off-policy sequence masking):
                # drop A < 0 where the sequence mean of log pi_rollout - log pi_theta > delta
                kl_seq = torch.where(selected, roll - lp, zero).sum(-1, keepdim=True) / n_safe
                rej = (adv < 0) & (kl_seq > hi)
            else:
                from isreshape.torch_impl import kl_estimators

                k = getattr(kl_estimators, f"kl_{name}")(clamp(rollout_lr))
                mean_k = torch.where(selected, k, zero).sum(-1, keepdim=True) / n_safe
                stat = mean_k.abs() if name == "k1" else mean_k
                rej = stat > hi
            rej = torch.broadcast_to(rej, selected.shape) & selected
            rejected[name] = rej
            any_rej = any_rej | rej
        keep = selected & ~any_rej
        if rollout.level is not None:
            if rollout.level == "token":
                rho_raw_log = rollout_lr
            else:
                seq = torch.where(keep, rollout_lr, zero).sum(-1, keepdim=True)
                rho_raw_log = torch.broadcast_to(seq, selected.shape)
            r = torch.exp(clamp(rho_raw_log))
            lo_t = scalar(rollout.lower, compute, dev)
            up_t = scalar(rollout.upper, compute, dev)
            if rollout.mode == "truncate":
                rho = torch.minimum(torch.maximum(r, lo_t), up_t)
            else:
                rho = torch.where((r >= lo_t) & (r <= up_t), r, zero)
            rho = torch.where(keep, rho, zero)
    agg_mask = keep if rollout.denominator == "shrink" else selected
    log_w_d = torch.where(keep, log_w, zero)
    adv_d = torch.where(keep, adv, zero)

    # kl_cov / clip_cov select tokens by the covariance of log pi and A: they get log_prob
    names = _signature(fn)[1]
    with_lp = {"log_prob": lp} if names is not None and "log_prob" in names else {}
    if red is not None and names is not None and "process_group" in names:
        # batch statistics over every rank: a named design shares the call's reducer (its
        # cache); a callable or "module.function" design gets the ProcessGroup itself
        with_lp["process_group"] = red if kind != "callable" else red.group
    if takes_mask:
        phi = fn(log_w_d, adv_d, mask=keep, **with_lp, **params)
    else:
        phi = fn(log_w_d, adv_d, **with_lp, **params)
    phi = torch.where(keep, torch.broadcast_to(phi, log_prob.shape).to(compute), zero).detach()

    with torch.no_grad():
        name = design if isinstance(design, str) else None
        if loss_value == "phi":
            value = -phi
        elif loss_value == "surrogate" and name in SURROGATE_VALUES:
            sur = SURROGATE_VALUES[name]
            extra = {"mask": keep} if _signature(sur)[0] else {}
            if "log_prob" in (_signature(sur)[1] or ()):
                extra["log_prob"] = lp
            value = sur(log_w_d, adv_d, **extra, **params).to(compute)
        elif loss_value == "surrogate" and name in _SEED_OBJECTIVES:
            extra = {"mask": keep} if takes_mask else {}
            if red is not None and "process_group" in (_signature(_SEED_OBJECTIVES[name])[1] or ()):
                extra["process_group"] = red
            value = -_SEED_OBJECTIVES[name](log_w_d, adv_d, **extra, **params).to(compute)
        else:  # REINFORCE form: -sg(phi) log_prob
            value = -phi * lp
        value = torch.where(keep, torch.broadcast_to(value, log_prob.shape), zero)
    phi_design = phi
    if rho is not None:
        phi = rho * phi
        value = rho * value
    return _Parts(
        phi,
        value,
        keep,
        agg_mask,
        selected,
        log_w,
        raw,
        adv,
        phi_design,
        rho,
        rho_raw_log,
        rollout_lr,
        rejected,
        kind,
        design,
        params,
        compute,
    )


#: designs whose token choice is a batch top-k: refused with a process group, by the resolved
#: function (a name, a "peers.kl_cov" dotted name or the function itself)
_NO_GLOBAL_TOP_K = (peers.kl_cov, peers.clip_cov)


def _refuse_top_k(design: Any, fn: Callable[..., Tensor] | None = None) -> None:
    if fn is None:
        fn = _resolve_design(design)[1]
    if any(fn is f for f in _NO_GLOBAL_TOP_K):
        raise ValueError(
            f"design {design!r} does not support process_group: its top-k token choice "
            "(k = max(1, int(ratio N))) would need an exact global top-k over every rank's "
            "tokens, which is not implemented; computing it per rank would silently give a "
            "different selection than one process on the whole batch"
        )


def _log(x: float) -> float:
    return -math.inf if x == 0 else math.log(x)


def _loss(
    parts: _Parts,
    log_prob: Tensor,
    loss_agg_mode: str,
    loss_scale_factor,
    red: tdist.Reducer | None = None,
) -> Tensor:
    zero = torch.zeros((), dtype=parts.compute, device=log_prob.device)
    lp = torch.where(parts.agg_mask, log_prob.to(parts.compute), zero)  # garbage never enters
    per_token = parts.value - parts.phi * (lp - lp.detach())
    if red is None:
        return aggregate(per_token, parts.agg_mask, loss_agg_mode, loss_scale_factor).to(
            log_prob.dtype
        )
    # one collective for the denominators and the metrics' token count (k-hat's tail length)
    _global_counts(red, parts.agg_mask, parts.keep)
    loss = aggregate(
        per_token, parts.agg_mask, loss_agg_mode, loss_scale_factor, process_group=red
    )
    return loss.to(log_prob.dtype)


def _global_counts(red: tdist.Reducer, mask: Tensor, keep: Tensor | None = None) -> Tensor:
    """[selected tokens, non-empty sequences, sequences B, tokens of ``keep``] summed over
    every rank, then [max T, min T] over the ranks with at least one sequence (T = the token
    dimension; a rank with B = 0 sends the neutral -inf / +inf, so its T, often 0 for an empty
    shard, is not compared; max T = -inf when every rank is empty; float64; one collective,
    cached for the call)."""
    if "counts" not in red.cache:
        f64 = torch.float64
        b = math.prod(mask.shape[:-1])
        t = float(mask.shape[-1])
        # slots 4, 5 hold T and -T, both reduced by max; B = 0 sends -inf to both (neutral)
        t_hi, t_neg = (t, -t) if b > 0 else (-math.inf, -math.inf)
        local = torch.stack(
            [
                mask.sum().to(f64),
                (mask.sum(-1) > 0).sum().to(f64),
                torch.full((), float(b), dtype=f64, device=mask.device),
                (keep if keep is not None else mask).sum().to(f64),
                torch.full((), t_hi, dtype=f64, device=mask.device),
                torch.full((), t_neg, dtype=f64, device=mask.device),
            ]
        )
        table = red.gather(local)
        t_max, neg_t_min = table[:, 4].amax(), table[:, 5].amax()
        red.cache["counts"] = torch.cat([table[:, :4].sum(0), torch.stack([t_max, -neg_t_min])])
    return red.cache["counts"]


def gradient_weights(
    log_prob: Tensor,
    old_log_prob: Tensor,
    advantages: Tensor,
    response_mask: Tensor | None = None,
    design: str | Callable[..., Tensor] = "ppo_clip",
    log_ratio_clamp: float | None = LOG_RATIO_CLAMP,
    *,
    rollout_log_prob: Tensor | None = None,
    rollout_is: str | None = None,
    rollout_is_mode: str = "truncate",
    rollout_is_threshold: float = 2.0,
    rollout_is_threshold_lower: float | None = None,
    rollout_rejection: Mapping[str, Any] | None = None,
    rollout_rejection_denominator: str = "shrink",
    process_group: Any = None,
    **params: Any,
) -> Tensor:
    """The applied weight rho_t phi_t (detached, 0 at masked-out or rejected positions) for
    every token; shape of log_prob, dtype float32 for low-precision inputs.

    ``log_ratio_clamp``: log w = log_prob - old_log_prob is clamped to [-c, c] before the
    design sees it (verl clamps at 20), so no finite input overflows w = e^(log w) to inf in
    float32 / bfloat16 (e^20 = 4.9e8; float16 needs c <= 11); ``None`` passes log w unchanged
    (the exact phi).

    Shape rules (each a ``ValueError`` naming the argument): log_prob (..., T) floating, with
    a token dimension; old_log_prob and rollout_log_prob of log_prob's shape, on its device;
    advantages a Python number, a 0-d tensor, or a tensor with log_prob's number of dimensions
    broadcasting *to* it ((B, 1) per sequence, (B, T) per token; a (B,) tensor is refused: it
    would broadcast along T); response_mask (bool or 0/1, None = all) with log_prob's number of
    dimensions (or 0-d) broadcasting to it, on its device (a (B,) mask is refused, as advantages). At a selected token the log-probabilities must be finite and <= 0 (up to
    sqrt(eps) of the dtype: a positive value is a probability passed by mistake) and the
    advantage finite; masked positions may hold anything. Values are checked on CPU tensors
    (on an accelerator after ``_validate.set_device_validation(True)``), never while compiling.

    ``design`` is a name in ``TOKEN_DESIGNS`` / ``SEQUENCE_DESIGNS`` / ``SEED_DESIGNS``, a
    ``"module.function"`` token design of ``torch_impl`` (e.g. ``"weights.power_weight"``, with
    ``gamma=...``), or a callable design phi(log_w, A, **params); a design with a ``mask``
    parameter gets the selected (not rejected) tokens, so batch statistics never count padding.
    ``params`` go to the design; an unknown one is a ``ValueError`` listing the design's.
    The ``rollout_*`` keywords and ``process_group`` are those of :func:`policy_loss`.
    """
    red = tdist.open_call(process_group)  # a fresh reducer (or None) for this call
    rollout = _rollout_options(
        rollout_log_prob,
        rollout_is,
        rollout_is_mode,
        rollout_is_threshold,
        rollout_is_threshold_lower,
        rollout_rejection,
        rollout_rejection_denominator,
    )
    parts = _parts(
        log_prob,
        old_log_prob,
        advantages,
        response_mask,
        design,
        log_ratio_clamp,
        "phi",
        rollout,
        params,
        red,
    )
    tdist.close_call(red)
    return parts.phi


def policy_loss(
    log_prob: Tensor,
    old_log_prob: Tensor,
    advantages: Tensor,
    response_mask: Tensor | None = None,
    design: str | Callable[..., Tensor] = "ppo_clip",
    loss_agg_mode: str = "token-mean",
    loss_scale_factor: float | None = None,
    log_ratio_clamp: float | None = LOG_RATIO_CLAMP,
    *,
    loss_value: str = "surrogate",
    rollout_log_prob: Tensor | None = None,
    rollout_is: str | None = None,
    rollout_is_mode: str = "truncate",
    rollout_is_threshold: float = 2.0,
    rollout_is_threshold_lower: float | None = None,
    rollout_rejection: Mapping[str, Any] | None = None,
    rollout_rejection_denominator: str = "shrink",
    process_group: Any = None,
    **params: Any,
) -> Tensor:
    """Scalar loss whose gradient w.r.t. log_prob is -agg(rho phi) (see the module docstring).

    log_prob, old_log_prob: (..., T) per-token log-probabilities under pi_theta and the
    behaviour (proximal) policy; advantages and response_mask as :func:`gradient_weights`.
    ``loss_value``: ``"surrogate"`` (default, the design's objective as verl logs it),
    ``"weighted_logprob"`` (-sg(phi) log_prob) or ``"phi"`` (-phi); the gradient is the same.
    ``params`` go to the design (e.g. clip_ratio_low=0.2, clip_ratio_high=0.28).

    Rollout correction: ``rollout_log_prob`` (..., T), the rollout engine's log-probs;
    ``rollout_is`` None / ``"token"`` / ``"sequence"``: rho = pi_old / pi_rollout per token or
    the product over the sequence's accepted tokens (bounded by ``log_ratio_clamp`` in the log
    domain, as verl's [e^-20, e^20]); ``rollout_is_mode`` ``"truncate"`` (TIS: clamp(rho, lower,
    threshold), lower default 0) or ``"mask"`` (MIS: rho inside [lower, threshold], else 0;
    lower default 1 / threshold); ``rollout_is_threshold`` (default 2.0, verl's);
    ``rollout_rejection`` a dict {name: threshold}: ``"geometric"``, ``"sequence"``,
    ``"token_any"`` and ``"token"`` take a band (lo, hi) of the ratio or hi (then lo = 1 / hi),
    ``"k1"`` / ``"k2"`` / ``"k3"`` / ``"off_policy_sequence"`` a KL threshold;
    ``rollout_rejection_denominator`` ``"shrink"`` (default, verl: rejected tokens
    leave the denominators) or ``"keep"``.

    Data-parallel (``process_group``, a ``torch.distributed`` ProcessGroup or
    ``torch.distributed.group.WORLD``; None = this process only, the single-process code):
    every batch statistic is taken over the union of all ranks' selected tokens (the seed
    designs' gamma rules, the batch-normalised TIS means, the aggregation denominators), and
    the loss is this rank's share of the global loss: the SUM over ranks of the per-rank
    gradients equals the one-process gradient on the concatenated batch (DDP averages
    gradients: multiply the loss by the world size there). seq-mean-token-sum-norm and
    trl-dr_grpo without ``loss_scale_factor`` need the same T on every rank (checked in the
    denominators' collective: a ``ValueError`` on every rank otherwise). ``kl_cov`` /
    ``clip_cov`` raise ``ValueError`` with a process group (no global top-k), by any name
    (``"peers.kl_cov"``) or as the function. A callable design (or a ``"module.function"``
    name) gets the ProcessGroup itself as ``process_group`` if it has that parameter, else its
    statistics stay local. Collectives (``all_gather`` of one packed float64 vector each): one
    for a design with batch statistics (is_reshape_ess, is_reshape_range, per_sign_power,
    variational_gamma, tis_*_batch_normalized), one for the denominators; every rank must make
    the same call. A rank with no sequences (B = 0) takes part and contributes nothing (an
    empty gradient). Input errors (shapes, a non-finite or positive log-prob at a selected
    token, ...) raise ``ValueError`` on the rank that has them, before any collective; the
    other ranks then wait in their first collective until the backend's timeout
    (``init_process_group(timeout=...)``): validate the batch before the call when one rank's
    error must not stall the job, and do not catch the error and go on (the next collective
    would pair with the waiting ranks' one). A fresh internal reducer is made for every call:
    no statistic is carried from one call to the next.
    """
    if loss_agg_mode not in AGG_MODES:
        raise ValueError(f"loss_agg_mode must be one of {AGG_MODES}, got {loss_agg_mode!r}")
    _check_scale(loss_agg_mode, loss_scale_factor)
    red = tdist.open_call(process_group)  # a fresh reducer (or None) for this call
    rollout = _rollout_options(
        rollout_log_prob,
        rollout_is,
        rollout_is_mode,
        rollout_is_threshold,
        rollout_is_threshold_lower,
        rollout_rejection,
        rollout_rejection_denominator,
    )
    parts = _parts(
        log_prob,
        old_log_prob,
        advantages,
        response_mask,
        design,
        log_ratio_clamp,
        loss_value,
        rollout,
        params,
        red,
    )
    loss = _loss(parts, log_prob, loss_agg_mode, loss_scale_factor, red)
    tdist.close_call(red)
    return loss


def policy_loss_and_metrics(
    log_prob: Tensor,
    old_log_prob: Tensor,
    advantages: Tensor,
    response_mask: Tensor | None = None,
    design: str | Callable[..., Tensor] = "ppo_clip",
    loss_agg_mode: str = "token-mean",
    loss_scale_factor: float | None = None,
    log_ratio_clamp: float | None = LOG_RATIO_CLAMP,
    *,
    loss_value: str = "surrogate",
    rollout_log_prob: Tensor | None = None,
    rollout_is: str | None = None,
    rollout_is_mode: str = "truncate",
    rollout_is_threshold: float = 2.0,
    rollout_is_threshold_lower: float | None = None,
    rollout_rejection: Mapping[str, Any] | None = None,
    rollout_rejection_denominator: str = "shrink",
    process_group: Any = None,
    **params: Any,
) -> tuple[Tensor, dict[str, Tensor]]:
    """:func:`policy_loss` and a dict of 0-d tensor metrics (no gradient; with
    ``process_group=None`` no host synchronisation: masked reductions only, so it runs on an
    accelerator and under ``torch.compile(fullgraph=True)``; with a group it syncs with the host
    once for k-hat's tail length, plus once for the ranks' T check in ``seq-mean-token-sum-norm``
    and ``trl-dr_grpo`` without ``loss_scale_factor``, and is not meant for ``torch.compile``).
    Over the tokens the design sees (selected, not rejected), float64 metrics for float64
    inputs, float32 otherwise:

    - ``ratio/mean``, ``ratio/min``, ``ratio/max``: w = exp(log_prob - old_log_prob), clamped
      as the design saw it; ``log_ratio/std`` (population) and ``log_ratio/max_abs`` of the
      unclamped log w;
    - ``reshaped_fraction``: tokens where phi differs from plain importance sampling w A (by
      more than 64 eps of the compute dtype, relative); ``zeroed_fraction``: phi = 0 while
      A != 0 (clipped out or masked by the design: PPO's clip fraction);
    - ``ess_fraction``: Kish ESS / n of w; ``ess/applied_fraction``: Kish ESS / n of the
      applied weights |rho phi / A| over the tokens with A != 0 (0 when every applied weight
      is 0, NaN when every A is 0); ``khat``: PSIS k-hat of w
      (``diagnostics.psis_khat`` over the batch, batched and sync-free; +inf below 5 tail
      draws);
    - ``kl/k1``, ``kl/k2``, ``kl/k3``: estimates of KL(behaviour || current) from the tokens
      (log r = log w; see ``kl_estimators``);
    - the design's own: ``design/gamma`` (is_reshape_ess, is_reshape_range), ``design/gamma_pos`` /
      ``design/gamma_neg`` (per_sign_power), ``design/gamma/mean|min|max`` and
      ``design/case{1..4}_fraction`` (variational_gamma; case 1 w > 1, A > 0; 2 w > 1, A < 0;
      3 w < 1, A > 0; 4 w < 1, A < 0), ``design/gamma/mean|min|max`` (trust_region_adaptive),
      ``design/truncated_fraction``, ``design/saturated_fraction``;
    - with ``rollout_log_prob``: ``rollout/kl/k1|k2|k3`` (KL(rollout || old) over the selected
      tokens), ``rollout/rejected_fraction/<name>`` for each rejection mask and
      ``rollout/rejected_fraction`` for their union (fractions of the selected tokens), and
      with ``rollout_is`` ``rollout/is_weight/mean|min|max`` and ``rollout/is_clipped_fraction``
      (truncated, resp. zeroed by the band).
    With no selected token every metric is NaN (a mean over nothing), the loss 0.

    ``process_group``: as :func:`policy_loss`, and every metric over the union of all ranks'
    tokens, identical on every rank (sums, max / min and Chan's (count, mean, M2) packed into
    one collective). k-hat is exact: each rank contributes its K largest log w (K = M + 1,
    M = ceil(min(S / 5, 3 sqrt(S))) the PSIS tail length of the global token count S, known
    from the denominators' collective), gathered in the same collective; ``psis_khat`` then
    runs on those values padded with -inf (zero weights: they count in S, never in the tail)
    to S entries: the global top M + 1 are among the gathered values, so the estimate equals
    the one-process k-hat. Collectives per call: at most 3 (design statistics, denominators,
    metrics); 2 for designs without batch statistics.
    """
    if loss_agg_mode not in AGG_MODES:
        raise ValueError(f"loss_agg_mode must be one of {AGG_MODES}, got {loss_agg_mode!r}")
    _check_scale(loss_agg_mode, loss_scale_factor)
    red = tdist.open_call(process_group)  # a fresh reducer (or None) for this call
    rollout = _rollout_options(
        rollout_log_prob,
        rollout_is,
        rollout_is_mode,
        rollout_is_threshold,
        rollout_is_threshold_lower,
        rollout_rejection,
        rollout_rejection_denominator,
    )
    parts = _parts(
        log_prob,
        old_log_prob,
        advantages,
        response_mask,
        design,
        log_ratio_clamp,
        loss_value,
        rollout,
        params,
        red,
    )
    loss = _loss(parts, log_prob, loss_agg_mode, loss_scale_factor, red)
    with torch.no_grad():
        if red is None:
            metrics = _metrics(parts, rollout)
        else:
            metrics = _metrics_global(parts, rollout, red)
    tdist.close_call(red)
    return loss, {k: v.to(parts.compute) for k, v in metrics.items()}


def _metrics(p: _Parts, rollout: _Rollout) -> dict[str, Tensor]:
    from isreshape.torch_impl import diagnostics, kl_estimators

    keep, compute = p.keep, p.compute
    dev = keep.device
    zero = torch.zeros((), dtype=compute, device=dev)
    nan = torch.full((), math.nan, dtype=compute, device=dev)
    n = keep.sum().to(compute)

    def mean(x: Tensor) -> Tensor:
        return torch.where(keep, x.to(compute), zero).sum() / n

    def fraction(cond: Tensor) -> Tensor:
        return (cond & keep).sum().to(compute) / n

    lw = torch.where(keep, p.log_w, zero)
    raw = torch.where(keep, p.raw_log_w, zero)
    w = torch.where(keep, lw.exp(), zero)
    a, phi = p.adv, p.phi_design
    eps = torch.finfo(compute).eps
    is_phi = w * a
    reshaped = (phi - is_phi).abs() > 64 * eps * is_phi.abs().clamp(min=torch.finfo(compute).tiny)
    raw_mean = mean(raw)
    out = _masked_stats(w, keep, "ratio")
    out.update(
        {
            "log_ratio/std": torch.sqrt(mean((raw - raw_mean) ** 2)),
            "log_ratio/max_abs": torch.where(n > 0, raw.abs().amax(), nan),
            "reshaped_fraction": fraction(reshaped),
            "zeroed_fraction": fraction((phi == 0) & (a != 0)),
            "ess_fraction": w.sum() ** 2 / (w * w).sum() / n,
        }
    )
    live = keep & (a != 0)
    applied = torch.where(live, (p.phi / torch.where(live, a, torch.ones_like(a))).abs(), zero)
    sq = (applied * applied).sum()
    n_live = live.sum().to(compute)
    ess_applied = applied.sum() ** 2 / torch.where(sq > 0, sq, torch.ones_like(sq)) / n_live
    # every applied weight 0 (all clipped or masked): no sample carries weight, ESS 0
    out["ess/applied_fraction"] = torch.where(sq > 0, ess_applied, zero / n_live)
    flat_keep = keep.reshape(-1)
    first = torch.arange(flat_keep.numel(), device=dev) == 0
    safe_keep = flat_keep | (first & (n == 0))  # psis_khat needs a token; NaN below
    khat = diagnostics.psis_khat(lw.reshape(-1), safe_keep)
    out["khat"] = torch.where(n > 0, khat.to(compute), nan)
    for k in ("k1", "k2", "k3"):
        out[f"kl/{k}"] = mean(getattr(kl_estimators, f"kl_{k}")(lw))
    name = p.design if isinstance(p.design, str) else None
    if name in _SEED_METRICS:
        out.update(_SEED_METRICS[name](lw, torch.where(keep, a, zero), keep, **p.params))
    if p.rollout_lr is not None:
        sel = p.selected
        n_sel = sel.sum().to(compute)
        r_lr = torch.where(sel, p.rollout_lr, zero)
        for k in ("k1", "k2", "k3"):
            kv = getattr(kl_estimators, f"kl_{k}")(r_lr.clamp(-LOG_RATIO_CLAMP, LOG_RATIO_CLAMP))
            out[f"rollout/kl/{k}"] = torch.where(sel, kv, zero).sum() / n_sel
        union = torch.zeros_like(sel)
        for rname, rej in p.rejected.items():
            out[f"rollout/rejected_fraction/{rname}"] = (rej & sel).sum().to(compute) / n_sel
            union = union | rej
        out["rollout/rejected_fraction"] = (union & sel).sum().to(compute) / n_sel
        if p.rho is not None and p.rho_raw_log is not None:
            out.update(_masked_stats(p.rho, keep, "rollout/is_weight"))
            r = torch.exp(p.rho_raw_log)
            lo, up = rollout.lower, rollout.upper
            out["rollout/is_clipped_fraction"] = fraction((r < lo) | (r > up))
    return out


def _metrics_global(p: _Parts, rollout: _Rollout, red: tdist.Reducer) -> dict[str, Tensor]:
    """:func:`_metrics` over every rank of ``red``'s group: every local partial (sums, max,
    min, (count, mean, M2), the k-hat tail) in one packed collective; the global token count S
    (k-hat's tail length) comes from the denominators' collective, cached by ``_loss``."""
    from isreshape.torch_impl import diagnostics, kl_estimators

    keep, compute = p.keep, p.compute
    dev = keep.device
    f64 = torch.float64
    zero = torch.zeros((), dtype=compute, device=dev)
    inf = torch.full((), math.inf, dtype=compute, device=dev)
    nan = torch.full((), math.nan, dtype=compute, device=dev)
    # host sync (data-parallel path only): the static tail length K of k-hat's gather
    s_global = int(_global_counts(red, p.agg_mask, keep)[3].item())
    k_tail = tdist.tail_length(s_global) + 1
    pk = tdist.Packer(red)
    finish: list[Callable[[], dict[str, Tensor]]] = []

    def g(slot: int) -> Tensor:
        return pk.get(slot).to(compute)

    n_slot = pk.sum(keep.sum())

    def N() -> Tensor:
        return g(n_slot)

    def stats(x: Tensor, where_: Tensor, prefix: str, n_of: Callable[[], Tensor]) -> None:
        xs = torch.broadcast_to(x.to(compute), where_.shape)
        s1 = pk.sum(torch.where(where_, xs, zero).sum())
        s2 = pk.max(tdist.amax_all(torch.where(where_, xs, -inf)))  # empty shard: -inf
        s3 = pk.min(tdist.amin_all(torch.where(where_, xs, inf)))

        def done() -> dict[str, Tensor]:
            n = n_of()
            return {
                f"{prefix}/mean": g(s1) / n,
                f"{prefix}/min": torch.where(n > 0, g(s3), nan),
                f"{prefix}/max": torch.where(n > 0, g(s2), nan),
            }

        finish.append(done)

    def mean(key: str, x: Tensor) -> None:
        slot = pk.sum(torch.where(keep, x.to(compute), zero).sum())
        finish.append(lambda: {key: g(slot) / N()})

    def fraction(key: str, cond: Tensor) -> None:
        slot = pk.sum((cond & keep).sum())
        finish.append(lambda: {key: g(slot) / N()})

    lw = torch.where(keep, p.log_w, zero)
    raw = torch.where(keep, p.raw_log_w, zero)
    w = torch.where(keep, lw.exp(), zero)
    a, phi = p.adv, p.phi_design
    eps = torch.finfo(compute).eps
    is_phi = w * a
    reshaped = (phi - is_phi).abs() > 64 * eps * is_phi.abs().clamp(min=torch.finfo(compute).tiny)
    stats(w, keep, "ratio", N)
    raw_mom = pk.moments(raw, keep)
    max_abs = pk.max(tdist.amax_all(raw.abs()))
    fraction("reshaped_fraction", reshaped)
    fraction("zeroed_fraction", (phi == 0) & (a != 0))
    w_sum, w_sq = pk.sum(w.sum()), pk.sum((w * w).sum())
    live = keep & (a != 0)
    applied = torch.where(live, (p.phi / torch.where(live, a, torch.ones_like(a))).abs(), zero)
    ap_sum, ap_sq, n_live = pk.sum(applied.sum()), pk.sum((applied * applied).sum()), pk.sum(live.sum())
    # k-hat: this rank's k_tail largest selected log w (-inf padded: the same K on every rank)
    flat = torch.where(keep, lw, -inf).reshape(-1).to(f64)
    top = torch.topk(flat, min(k_tail, flat.numel())).values
    top = torch.cat([top, torch.full((k_tail - top.numel(),), -math.inf, dtype=f64, device=dev)])
    tail = pk.rows(top)
    for k in ("k1", "k2", "k3"):
        mean(f"kl/{k}", getattr(kl_estimators, f"kl_{k}")(lw))
    name = p.design if isinstance(p.design, str) else None
    prm = p.params
    a_k = torch.where(keep, a, zero)
    if name in ("is_reshape_ess", "is_reshape_range", "per_sign_power"):
        seed = _SEED_METRICS[name](lw, a_k, keep, **prm, process_group=red)
        finish.append(lambda: seed)
    elif name == "variational_gamma":
        gam = _variational_gammas(
            lw,
            a_k,
            keep,
            prm.get("rho_min", 0.3),
            prm.get("gamma_min", 0.0),
            prm.get("gamma_max", 1.0),
            prm.get("temperature", 5.0),
            red,
        )
        stats(gam, keep, "design/gamma", N)
        cases = {
            1: (lw > 0) & (a_k > 0),
            2: (lw > 0) & (a_k < 0),
            3: (lw < 0) & (a_k > 0),
            4: (lw < 0) & (a_k < 0),
        }
        for c, cond in cases.items():
            fraction(f"design/case{c}_fraction", cond)
    elif name == "trust_region_adaptive":
        from isreshape.torch_impl import trust_region as ttr

        gam = ttr.gamma_adaptive(
            lw, a_k, prm.get("gamma_base", 0.1), prm.get("gamma_max", 0.9), prm.get("tau_c", 1.0)
        )
        stats(gam, keep, "design/gamma", N)
    elif name == "truncated_power":
        fraction(
            "design/truncated_fraction", prm.get("gamma", 1.0) * lw > math.log(prm.get("M", 2.0))
        )
    elif name == "soft_saturation":
        fraction("design/saturated_fraction", prm.get("gamma", 1.0) * lw > 0)
    if p.rollout_lr is not None:
        sel = p.selected
        n_sel_slot = pk.sum(sel.sum())

        def n_sel() -> Tensor:
            return g(n_sel_slot)

        r_lr = torch.where(sel, p.rollout_lr, zero)
        for k in ("k1", "k2", "k3"):
            kv = getattr(kl_estimators, f"kl_{k}")(r_lr.clamp(-LOG_RATIO_CLAMP, LOG_RATIO_CLAMP))
            slot = pk.sum(torch.where(sel, kv, zero).sum())
            finish.append(lambda k=k, slot=slot: {f"rollout/kl/{k}": g(slot) / n_sel()})
        union = torch.zeros_like(sel)
        for rname, rej in p.rejected.items():
            slot = pk.sum((rej & sel).sum())
            finish.append(
                lambda rname=rname, slot=slot: {
                    f"rollout/rejected_fraction/{rname}": g(slot) / n_sel()
                }
            )
            union = union | rej
        u_slot = pk.sum((union & sel).sum())
        finish.append(lambda: {"rollout/rejected_fraction": g(u_slot) / n_sel()})
        if p.rho is not None and p.rho_raw_log is not None:
            stats(p.rho, keep, "rollout/is_weight", N)
            r = torch.exp(p.rho_raw_log)
            fraction("rollout/is_clipped_fraction", (r < rollout.lower) | (r > rollout.upper))
    pk.run()  # the one collective of the metrics

    n = N()
    out: dict[str, Tensor] = {}
    out.update(finish[0]())  # ratio/mean|min|max first, as _metrics
    cnt, _, m2 = pk.get(raw_mom)
    out["log_ratio/std"] = torch.sqrt((m2 / cnt).to(compute))
    out["log_ratio/max_abs"] = torch.where(n > 0, g(max_abs), nan)
    for f in finish[1:3]:
        out.update(f())
    out["ess_fraction"] = g(w_sum) ** 2 / g(w_sq) / n
    sq, nl = g(ap_sq), g(n_live)
    ess_applied = g(ap_sum) ** 2 / torch.where(sq > 0, sq, torch.ones_like(sq)) / nl
    out["ess/applied_fraction"] = torch.where(sq > 0, ess_applied, zero / nl)
    # the global top k_tail log w are among the gathered rows; the other S - k tokens enter
    # psis_khat as -inf (zero weights: counted in S, never in the tail), so this is the
    # one-process estimator exactly
    gathered = torch.sort(pk.get(tail).reshape(-1), descending=True).values[: max(s_global, 1)]
    fill = torch.full((max(s_global, 1) - gathered.numel(),), -math.inf, dtype=f64, device=dev)
    if s_global > 0:
        khat = diagnostics.psis_khat(torch.cat([gathered, fill]))
        out["khat"] = khat.to(compute)
    else:
        out["khat"] = nan
    for f in finish[3:]:
        out.update(f())
    return out


def _check_scale(loss_agg_mode: str, loss_scale_factor: Any) -> None:
    if loss_scale_factor is None:
        return
    if loss_agg_mode not in ("seq-mean-token-sum-norm", "trl-dr_grpo"):
        raise ValueError(
            f"loss_scale_factor applies to seq-mean-token-sum-norm and trl-dr_grpo only, got it with "
            f"{loss_agg_mode!r}"
        )
    ok = isinstance(loss_scale_factor, (int, float)) and not isinstance(loss_scale_factor, bool)
    if not (ok and 0 < loss_scale_factor < math.inf):
        raise ValueError(f"loss_scale_factor must be finite and > 0, got {loss_scale_factor!r}")


def aggregate(
    loss_mat: Tensor,
    mask: Tensor,
    loss_agg_mode: str = "token-mean",
    loss_scale_factor: float | None = None,
    *,
    process_group: Any = None,
) -> Tensor:
    """Aggregation of per-token losses (..., T) over selected tokens; empty -> 0. verl's modes
    by verl's names (``seq-mean-token-sum-norm``: the sum of the sequence sums / T or
    ``loss_scale_factor``); TRL's ``loss_type`` as ``trl-<name>`` (``trl-grpo`` and
    ``trl-luspo`` divide by all B sequences, ``trl-dr_grpo`` by B times the maximum completion
    length; TRL's ``dapo`` / ``cispo`` divide by the token count of the whole generation
    batch, which is ``token-mean`` on one process without gradient accumulation).

    ``process_group`` (a ``torch.distributed`` ProcessGroup): this rank's share of the loss of
    the batch of every rank: the local numerator over the global denominator (token count of
    every rank for token-mean / trl-bnpo, non-empty sequences of every rank for seq-mean-*,
    B of every rank for trl-grpo / trl-luspo / trl-dr_grpo; one collective), so the SUM over
    ranks of the per-rank gradients is the one-process gradient of the concatenated batch.
    DDP averages gradients over ranks: multiply this loss by the world size there.
    seq-mean-token-sum-norm and trl-dr_grpo without ``loss_scale_factor`` divide by T: every
    rank must then have the same T (or pass ``loss_scale_factor``); the ranks' T range rides
    in the denominators' collective, and a mismatch is a ``ValueError`` on every rank."""
    if loss_agg_mode not in AGG_MODES:
        raise ValueError(f"loss_agg_mode must be one of {AGG_MODES}, got {loss_agg_mode!r}")
    _check_scale(loss_agg_mode, loss_scale_factor)
    tdist.check_process_group(process_group)
    mask = _mask(mask, loss_mat)
    zero = torch.zeros((), dtype=loss_mat.dtype, device=loss_mat.device)
    masked = torch.where(mask, loss_mat, zero)
    if process_group is not None:
        return _aggregate_global(
            masked, mask, loss_agg_mode, loss_scale_factor, tdist.as_reducer(process_group)
        )
    n_batch = max(math.prod(loss_mat.shape[:-1]), 1)  # B: every sequence, empty ones too
    if loss_agg_mode == "trl-grpo":
        seq_mean = masked.sum(-1) / mask.sum(-1).clamp(min=1).to(loss_mat.dtype)
        return seq_mean.sum() / n_batch
    if loss_agg_mode == "trl-luspo":
        return masked.sum() / n_batch
    if loss_agg_mode == "trl-dr_grpo":
        length = loss_mat.shape[-1] if loss_scale_factor is None else loss_scale_factor
        return masked.sum() / (n_batch * length)
    if loss_agg_mode == "trl-bnpo":
        loss_agg_mode = "token-mean"
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
        # verl: sum over sequences (no 1 / n_seq), then / scale
        return torch.where(nonempty, seq_loss, zero).sum() / scale
    n_seq = nonempty.sum().clamp(min=1).to(loss_mat.dtype)
    return torch.where(nonempty, seq_loss, zero).sum() / n_seq


def _aggregate_global(
    masked: Tensor,
    mask: Tensor,
    loss_agg_mode: str,
    loss_scale_factor: float | None,
    red: tdist.Reducer,
) -> Tensor:
    """``aggregate`` with the denominators of every rank (see its docstring)."""
    dt = masked.dtype
    zero = torch.zeros((), dtype=dt, device=masked.device)
    counts = _global_counts(red, mask)
    n_tok, n_seq, n_b = (c.to(dt) for c in counts[:3])
    n_b = n_b.clamp(min=1)
    length = masked.shape[-1] if loss_scale_factor is None else loss_scale_factor
    if loss_scale_factor is None and loss_agg_mode in ("seq-mean-token-sum-norm", "trl-dr_grpo"):
        # the same gathered T range on every rank: the same decision, no rank left waiting
        # (one host sync, these modes only). Ranks with B = 0 are not in the range: with
        # t_max = -inf every rank is empty and there is nothing to compare
        t_max, t_min = counts[4:6].tolist()
        if math.isfinite(t_max):
            if t_max != t_min:
                raise ValueError(
                    f"loss_agg_mode {loss_agg_mode!r} without loss_scale_factor divides by T, "
                    f"and the ranks of process_group have T from {int(t_min)} to {int(t_max)} "
                    f"(this rank {masked.shape[-1]}): pad every rank to one length or pass "
                    "loss_scale_factor"
                )
            # the common T: an empty rank divides its zero sum by it, not by its own T (0 / 0)
            length = int(t_max)
    if loss_agg_mode == "trl-grpo":
        seq_mean = masked.sum(-1) / mask.sum(-1).clamp(min=1).to(dt)
        return seq_mean.sum() / n_b
    if loss_agg_mode == "trl-luspo":
        return masked.sum() / n_b
    if loss_agg_mode == "trl-dr_grpo":
        return masked.sum() / (n_b * length)
    if loss_agg_mode == "token-sum":
        return masked.sum()
    if loss_agg_mode in ("token-mean", "trl-bnpo"):
        return masked.sum() / n_tok.clamp(min=1)
    counts = mask.sum(-1)
    seq_sum = masked.sum(-1)
    if loss_agg_mode == "seq-mean-token-mean":
        seq_loss = seq_sum / counts.clamp(min=1).to(dt)
    else:
        seq_loss = seq_sum
    nonempty = counts > 0
    if loss_agg_mode == "seq-mean-token-sum-norm":
        return torch.where(nonempty, seq_loss, zero).sum() / length
    return torch.where(nonempty, seq_loss, zero).sum() / n_seq.clamp(min=1)


#: "module.function" designs resolved so far (str keys: a compiled call after one eager call
#: finds its function here, without importlib, which dynamo does not trace)
_RESOLVED: dict[str, Callable[..., Tensor]] = {}


def _resolve(design: str) -> Callable[..., Tensor]:
    hit = _RESOLVED.get(design)
    if hit is not None:
        return hit
    module, _, name = design.partition(".")
    try:
        fn = getattr(importlib.import_module(f"isreshape.torch_impl.{module}"), name)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"design {design!r} is not a torch_impl module.function") from exc
    if not callable(fn) or name.startswith("_"):
        raise ValueError(f"design {design!r} is not a public torch_impl function")
    _RESOLVED[design] = fn
    return fn


def _compute_dtype(x: Tensor) -> torch.dtype:
    return torch.float32 if x.dtype in LOW_PRECISION else x.dtype


def _check_inputs(
    log_prob: Any,
    old_log_prob: Any,
    advantages: Any,
    response_mask: Any,
    rollout_log_prob: Any = None,
) -> Tensor:
    """Every argument's type, shape and device (always), and its values at the selected tokens
    where ``_validate`` checks values (CPU tensors, or every device after
    set_device_validation; never while compiling). Returns the boolean selection mask."""
    if not isinstance(log_prob, Tensor):
        raise ValueError(f"log_prob must be a tensor, got {type(log_prob).__name__}")
    if not log_prob.dtype.is_floating_point:
        raise ValueError(f"log_prob must be a floating tensor, got {log_prob.dtype}")
    if log_prob.dim() < 1:
        raise ValueError(f"log_prob must have a token dimension, got shape {tuple(log_prob.shape)}")
    want = tuple(log_prob.shape)
    named = [("old_log_prob", old_log_prob)]
    if rollout_log_prob is not None:
        named.append(("rollout_log_prob", rollout_log_prob))
    for name, t in named:
        if not isinstance(t, Tensor):
            raise ValueError(f"{name} must be a tensor, got {type(t).__name__}")
        if not t.dtype.is_floating_point:
            raise ValueError(f"{name} must be a floating tensor, got {t.dtype}")
        if tuple(t.shape) != want:
            raise ValueError(f"{name} has shape {tuple(t.shape)}, log_prob {want}")
    for name, t in (*named, ("advantages", advantages), ("response_mask", response_mask)):
        if isinstance(t, Tensor) and t.device != log_prob.device:
            raise ValueError(f"{name} is on {t.device}, log_prob on {log_prob.device}")
    if isinstance(advantages, bool) or not isinstance(advantages, (Tensor, int, float)):
        raise ValueError(
            f"advantages must be a number or a tensor, got {type(advantages).__name__}"
        )
    if isinstance(advantages, Tensor) and advantages.dim() > 0:
        shape = tuple(advantages.shape)
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
    if response_mask is not None:
        m_dim = torch.as_tensor(response_mask).dim()
        if 0 < m_dim != log_prob.dim():
            raise ValueError(
                f"response_mask must have log_prob's {log_prob.dim()} dimensions {want}, got "
                f"shape {tuple(torch.as_tensor(response_mask).shape)}: a (B,) mask would "
                "broadcast along T"
            )
    mask = _mask(response_mask, log_prob)
    values = [("log_prob", log_prob), *named]
    for name, t in values:
        if not _checkable(t):
            continue
        sel = t.detach()[mask]
        if not bool(torch.isfinite(sel).all()):
            raise ValueError(
                f"{name} must be finite at a selected token (response_mask is True there), got "
                f"{sel[~torch.isfinite(sel)][:4].tolist()}"
            )
        tol = math.sqrt(torch.finfo(t.dtype).eps)
        if bool((sel > tol).any()):
            raise ValueError(
                f"{name} must be a log-probability (<= 0) at a selected token, got "
                f"{sel[sel > tol][:4].tolist()}: were probabilities passed?"
            )
    if isinstance(advantages, Tensor) and _checkable(advantages):
        sel = torch.broadcast_to(advantages.detach(), log_prob.shape)[mask]
        if not bool(torch.isfinite(sel).all()):
            raise ValueError(
                f"advantages must be finite at a selected token, got "
                f"{sel[~torch.isfinite(sel)][:4].tolist()}"
            )
    elif not isinstance(advantages, Tensor) and not math.isfinite(advantages):
        raise ValueError(f"advantages must be finite, got {advantages!r}")
    return mask


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


#: framework defaults as keyword sets for :func:`make_policy_loss` / :func:`policy_loss`
#: (``make_policy_loss(**PRESETS["verl_ppo"])``): where a framework's default differs from this
#: package's, its preset says what that framework computes by default (facts from verl's
#: actor config and TRL's GRPOConfig / GRPOTrainer, one process, no gradient accumulation)
PRESETS: dict[str, dict[str, Any]] = {
    # verl actor defaults: policy loss "vanilla" is dual clip with clip_ratio_c = 3
    "verl_ppo": {
        "design": "ppo_dual_clip",
        "clip_ratio_low": 0.2,
        "clip_ratio_high": 0.2,
        "clip_ratio_c": 3.0,
        "loss_agg_mode": "token-mean",
    },
    # verl's GSPO recipe: clip range 3e-4 / 4e-4, sequence-mean token-mean
    "verl_gspo": {
        "design": "gspo",
        "clip_ratio_low": 3e-4,
        "clip_ratio_high": 4e-4,
        "loss_agg_mode": "seq-mean-token-mean",
    },
    # TRL GRPOConfig defaults: loss_type "dapo" (PPO clip, epsilon = epsilon_high = 0.2, the
    # token sum over the generation batch's token count: token-mean on one process), beta = 0
    "trl_grpo": {
        "design": "ppo_clip",
        "clip_ratio_low": 0.2,
        "clip_ratio_high": 0.2,
        "loss_agg_mode": "token-mean",
    },
    # TRL loss_type "sapo": temperatures 1.0 / 1.05, aggregated as "grpo"
    "trl_sapo": {"design": "sapo", "tau_pos": 1.0, "tau_neg": 1.05, "loss_agg_mode": "trl-grpo"},
    # TRL loss_type "vespo": k / lambda 2 / 3 (A > 0) and 3 / 2 (A < 0), token normaliser
    "trl_vespo": {
        "design": "vespo",
        "k_pos": 2.0,
        "lambda_pos": 3.0,
        "k_neg": 3.0,
        "lambda_neg": 2.0,
        "loss_agg_mode": "token-mean",
    },
}


def make_policy_loss(
    design: str | Callable[..., Tensor] = "ppo_clip",
    *,
    with_metrics: bool = False,
    **options: Any,
) -> Callable[..., Any]:
    """A validated loss to compile: ``fn(log_prob, old_log_prob, advantages,
    response_mask=None, rollout_log_prob=None)`` calling :func:`policy_loss` (or, with
    ``with_metrics``, :func:`policy_loss_and_metrics`) with ``design`` and ``options`` (every
    keyword of those functions: loss_agg_mode, loss_value, rollout options, the design's
    parameters) fixed.

    Why: argument checks do not run while ``torch.compile`` traces (they would break the graph
    or branch on symbolic numbers), so a compiled ``policy_loss(..., clip_ratio_low=-0.5)``
    would compute silently. Here every option is checked once, eagerly, by a call on a small
    CPU (or the options' device) float64 batch, and a bad one raises ``ValueError`` at
    construction; without ``process_group`` the returned function is then safe to compile
    (``fullgraph=True`` works; with a group it runs collectives and host syncs: call it eagerly).
    Tensor inputs are still checked on every eager call of the returned function. A per-batch
    tensor option (``clip_cov``'s ``priority``) cannot go through the probe batch: call
    :func:`policy_loss` for it. ``process_group`` is passed through to every call; the probe
    runs without it (no collective at construction).
    """
    if not isinstance(with_metrics, bool):
        raise ValueError(f"with_metrics must be True or False, got {with_metrics!r}")
    per_call = {"log_prob", "old_log_prob", "advantages", "response_mask", "rollout_log_prob"}
    if per_call & set(options):
        raise ValueError(
            f"{sorted(per_call & set(options))} are arguments of the returned function, one "
            "per call, not options of make_policy_loss"
        )
    devs = {v.device for v in options.values() if isinstance(v, Tensor)}
    dev = devs.pop() if len(devs) == 1 else torch.device("cpu")
    f64 = torch.float64
    lp = torch.tensor([[-1.0, -2.0, -0.5], [-1.5, -0.7, -3.0]], dtype=f64, device=dev)
    old = lp + torch.tensor([[0.1, -0.2, 0.05], [-0.1, 0.3, 0.0]], dtype=f64, device=dev)
    adv = torch.tensor([[0.5], [-1.0]], dtype=f64, device=dev)
    mask = torch.tensor([[1, 1, 0], [1, 1, 1]], dtype=torch.bool, device=dev)
    wants_rollout = options.get("rollout_is") is not None or bool(options.get("rollout_rejection"))
    probe_rollout = old - 0.05 if wants_rollout else None
    call = policy_loss_and_metrics if with_metrics else policy_loss
    # the probe runs on this process only: a collective here would hang the other ranks
    probe_options = {k: v for k, v in options.items() if k != "process_group"}
    tdist.check_process_group(options.get("process_group"))
    if options.get("process_group") is not None:
        _refuse_top_k(design)  # by the resolved function (names, dotted names, callables)
    if isinstance(design, str) and _resolve_design(design)[0] == "callable":
        # a "module.function" name, resolved once here: the returned function never imports
        design = _resolve(design)
    call(lp, old, adv, mask, design, rollout_log_prob=probe_rollout, **probe_options)

    def loss_fn(
        log_prob: Tensor,
        old_log_prob: Tensor,
        advantages: Any,
        response_mask: Tensor | None = None,
        rollout_log_prob: Tensor | None = None,
    ) -> Any:
        return call(
            log_prob,
            old_log_prob,
            advantages,
            response_mask,
            design,
            rollout_log_prob=rollout_log_prob,
            **options,
        )

    return loss_fn


# The registered designs' signatures, read once here: inspect.signature cannot be traced by
# dynamo in torch 2.4, so a compiled first call must find them cached (user callables are read
# on their first eager call; make_policy_loss makes one)
for _fn in (
    *TOKEN_DESIGNS.values(),
    *SEQUENCE_DESIGNS.values(),
    *SEED_DESIGNS.values(),
    *SURROGATE_VALUES.values(),
    *_SEED_OBJECTIVES.values(),
):
    _SIGNATURES[_fn] = _read_signature(_fn)
del _fn
