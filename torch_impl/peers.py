"""Torch twins of ``reference.peers``: the peer gradient weights phi(w, A), batched and masked.

Every function takes ``log_w`` (log pi_theta - log mu) and ``A`` as tensors that broadcast,
returns a tensor of the promoted input dtype (bfloat16 / float16 computed in float32), does no
host synchronisation in the math and never modifies its inputs. Sequence-level designs reduce
over the last dimension of ``log_w`` (tokens); their ``A`` broadcasts against ``log_w`` (pass a
per-sequence advantage as shape (..., 1)); ``mask`` (bool or 0/1, None = all tokens) broadcasts
against ``log_w``; masked-out tokens get phi = 0.

``SURROGATES`` maps each phi to the per-token loss as its library writes it (verl
``core_algos.py`` / TRL ``GRPOTrainer``), in terms of log_w; ``tests/test_gradients.py`` checks
autograd of each against -phi. See ``reference.peers`` for the formulas, sources and edges.

Ties. w == 1 + clip_ratio_high (A > 0), 1 - clip_ratio_low (A < 0), clip_ratio_c (dual clip,
A < 0) and the GSPO ratio s on those bounds are reachable in floating point (e.g. float64
log_w = 0.1823215567939546 has exp(log_w) == 1.2). There the phi functions and the autograd
gradient of their surrogates follow the reference: the bound is inside, phi = w A (s A). The
surrogates write the library's clamp / min / max as ``torch.where`` (``torch_impl._ties``), so
this does not depend on torch's tie gradient: verl's literal loss gives w A up to torch 2.13
and w A / 2 from torch 2.14, whose clamp passes gradient 0 at its bounds (1/2 with tensor
bounds); its dual clip min(-A c, .) at w == c gives w A / 2 on every torch. ``mis_token`` /
``mis_sequence`` keep their bounds (w A); the clamp-type weights (CISPO, TIS, TOPR) are
continuous in w and are only used as values (stop-gradient), so their min / max need no rule.
"""

from __future__ import annotations

from typing import Any

import torch

from isreshape.torch_impl._ties import clip_closed
from isreshape.torch_impl._twofold import exp2w, two_prod, two_sum
from isreshape.torch_impl._validate import (
    _checkable,
    check,
    check_finite,
    check_not_nan,
    check_range,
    promote,
    scalar,
)

Tensor = torch.Tensor
INF = float("inf")


# ----------------------------------------------------------------------------- helpers


def _check_token(log_w: Any, A: Any) -> None:
    check_not_nan("log_w", log_w)
    check("log_w", log_w, lambda t: t < INF, "< +inf (w = inf has no weight)")
    check_finite("A", A)


def _check_clip(clip_ratio_low: Any, clip_ratio_high: Any) -> None:
    check_finite("clip_ratio_low", clip_ratio_low)
    check_range("clip_ratio_low", clip_ratio_low, lo=0, hi=1)
    check_finite("clip_ratio_high", clip_ratio_high)
    check_range("clip_ratio_high", clip_ratio_high, lo=0)


def _check_ratio_bounds(clip_min: Any, clip_max: Any) -> None:
    check_finite("clip_min", clip_min)
    check_range("clip_min", clip_min, lo=0)
    check_not_nan("clip_max", clip_max)
    if _checkable(clip_min) and _checkable(clip_max):
        ok = torch.as_tensor(clip_max, dtype=torch.float64) >= torch.as_tensor(
            clip_min, dtype=torch.float64
        )
        if not bool(ok.all()):
            raise ValueError(f"clip_max must be >= clip_min, got {clip_max!r} < {clip_min!r}")


def _times(x: Tensor, A: Tensor) -> Tensor:
    """x * A with A = +-0 giving A itself (so an overflowed x = inf never makes a NaN)."""
    return torch.where(A == 0, A * 0, x * A)


def _ppo_keep(w: Tensor, A: Tensor, lo: Tensor, hi: Tensor) -> Tensor:
    """True where -min(w A, clip(w, lo, hi) A) passes the gradient of w A (closed region)."""
    return torch.where(
        A > 0, w <= hi, torch.where(A < 0, w >= lo, torch.ones_like(w, dtype=torch.bool))
    )


def _mask(mask: Any, like: Tensor) -> Tensor:
    if mask is None:
        return torch.ones_like(like, dtype=torch.bool)
    m = torch.as_tensor(mask, device=like.device)
    if m.dtype != torch.bool:
        m = m != 0
    return torch.broadcast_to(m, like.shape)


def _check_seq(log_w: Any, A: Any, mask: Any) -> None:
    if not isinstance(log_w, torch.Tensor):
        raise ValueError(f"log_w must be a tensor of token log-ratios, got {type(log_w).__name__}")
    if log_w.dim() == 0:
        raise ValueError("log_w must have a token dimension (last), got a 0-d tensor")
    if mask is not None:
        shape = (
            tuple(mask.shape)
            if isinstance(mask, torch.Tensor)
            else tuple(torch.as_tensor(mask).shape)
        )
        ok = len(shape) >= 1 and shape[-1] == log_w.shape[-1]
        try:
            torch.broadcast_shapes(shape, log_w.shape)
        except RuntimeError:
            ok = False
        if not ok:
            raise ValueError(
                f"mask of shape {shape} must have the token dimension of log_w {tuple(log_w.shape)}"
            )
    check_not_nan("log_w", log_w)
    if _checkable(log_w):
        m = _mask(mask, log_w)
        bad = m & ~torch.isfinite(log_w)
        if bool(bad.any()):
            raise ValueError(
                f"log_w must be finite where mask is set, got {log_w[bad][:4].tolist()}"
            )
    check_finite("A", A)


def _seq_prepare(log_w: Tensor, A: Any, mask: Any, *params: Any):
    (lw, a, *ps), out_dtype = promote(log_w, A, *params)
    m = _mask(mask, lw)
    m = torch.broadcast_to(m, torch.broadcast_shapes(m.shape, a.shape))
    lw = torch.broadcast_to(lw, m.shape)
    zero = torch.zeros((), dtype=lw.dtype, device=lw.device)
    lw_sel = torch.where(m, lw, zero)
    return lw_sel, a, m, ps, out_dtype


# ----------------------------------------------------------------------------- token level


def ppo_clip(
    log_w: Tensor, A: Tensor, clip_ratio_low: Any = 0.2, clip_ratio_high: Any = 0.2
) -> Tensor:
    """phi = w A where -min(w A, clip(w, 1 - low, 1 + high) A) is unclipped, else 0 (verl / TRL).

    Tie w == 1 + high (A > 0) or 1 - low (A < 0): inside, phi = w A (as the reference)."""
    _check_token(log_w, A)
    _check_clip(clip_ratio_low, clip_ratio_high)
    (lw, a, lo, hi), out_dtype = promote(log_w, A, clip_ratio_low, clip_ratio_high)
    w = torch.exp(lw)
    keep = _ppo_keep(w, a, 1 - lo, 1 + hi)
    return torch.where(keep, _times(w, a), torch.zeros_like(w)).to(out_dtype)


def ppo_phi_section_1_3(log_w: Tensor, A: Tensor, epsilon: Any = 0.2) -> Tensor:
    """Seed 002 section 1.3 as written: clip(w, 1 - epsilon, 1 + epsilon) A (not PPO's phi)."""
    _check_token(log_w, A)
    check_finite("epsilon", epsilon)
    check_range("epsilon", epsilon, lo=0, hi=1)
    (lw, a, eps), out_dtype = promote(log_w, A, epsilon)
    w = torch.minimum(torch.maximum(torch.exp(lw), 1 - eps), 1 + eps)
    return (w * a).to(out_dtype)


def ppo_dual_clip(
    log_w: Tensor,
    A: Tensor,
    clip_ratio_low: Any = 0.2,
    clip_ratio_high: Any = 0.2,
    clip_ratio_c: Any = 3.0,
) -> Tensor:
    """Dual-clip PPO (verl ``clip_ratio_c`` > 1): :func:`ppo_clip`, and 0 for A < 0, w > c.

    Ties as :func:`ppo_clip`; w == c (A < 0) is inside too: phi = w A."""
    _check_token(log_w, A)
    _check_clip(clip_ratio_low, clip_ratio_high)
    check_finite("clip_ratio_c", clip_ratio_c)
    check_range("clip_ratio_c", clip_ratio_c, lo=1, lo_open=True)
    (lw, a, lo, hi, c), out_dtype = promote(log_w, A, clip_ratio_low, clip_ratio_high, clip_ratio_c)
    w = torch.exp(lw)
    keep = _ppo_keep(w, a, 1 - lo, 1 + hi) & ~((a < 0) & (w > c))
    return torch.where(keep, _times(w, a), torch.zeros_like(w)).to(out_dtype)


def cispo_verl(
    log_w: Tensor, A: Tensor, clip_ratio_low: Any = 0.2, clip_ratio_high: Any = 0.2
) -> Tensor:
    """CISPO (verl): phi = clip(w, 1 - clip_ratio_low, 1 + clip_ratio_high) A."""
    _check_token(log_w, A)
    _check_clip(clip_ratio_low, clip_ratio_high)
    (lw, a, lo, hi), out_dtype = promote(log_w, A, clip_ratio_low, clip_ratio_high)
    w = torch.minimum(torch.maximum(torch.exp(lw), 1 - lo), 1 + hi)
    return (w * a).to(out_dtype)


def cispo_trl(log_w: Tensor, A: Tensor, epsilon_high: Any = 5.0) -> Tensor:
    """CISPO (TRL / ScaleRL): phi = min(w, epsilon_high) A, epsilon_high > 0 (+inf allowed)."""
    _check_token(log_w, A)
    check_range("epsilon_high", epsilon_high, lo=0, lo_open=True)
    (lw, a, cap), out_dtype = promote(log_w, A, epsilon_high)
    return _times(torch.minimum(torch.exp(lw), cap), a).to(out_dtype)


def _sapo_weight(lw: Tensor, tau: Tensor) -> Tensor:
    """4 w sigma(z) sigma(-z), z = tau (w - 1), without overflow: w = inf or s = 0 never give NaN."""
    w = torch.exp(lw)
    z = tau * torch.expm1(lw)
    az = z.abs()
    log_s = -az - 2 * torch.log1p(torch.exp(-az))  # log sigma(z) sigma(-z)
    s = torch.exp(log_s)
    direct = w * s
    # when s underflows (|z| > ~745) or w overflows, w s is exp(log_w + log s) (-inf -> 0)
    return 4 * torch.where(s > 0, direct, torch.exp(lw + log_s))


def sapo(log_w: Tensor, A: Tensor, tau_pos: Any = 1.0, tau_neg: Any = 1.05) -> Tensor:
    """SAPO gradient weight 4 w sigma(z) sigma(-z) A, z = tau (w - 1), tau = tau_pos if A > 0."""
    _check_token(log_w, A)
    for name, t in (("tau_pos", tau_pos), ("tau_neg", tau_neg)):
        check_finite(name, t)
        check_range(name, t, lo=0, lo_open=True)
    (lw, a, tp, tn), out_dtype = promote(log_w, A, tau_pos, tau_neg)
    tau = torch.where(a > 0, tp, tn)
    return (_sapo_weight(lw, tau) * a).to(out_dtype)


def tis_token(log_w: Tensor, A: Tensor, clip_min: Any = 0.0, clip_max: Any = 2.0) -> Tensor:
    """Token-level truncated IS: phi = clamp(w, clip_min, clip_max) A (TRL token_truncate)."""
    _check_token(log_w, A)
    _check_ratio_bounds(clip_min, clip_max)
    (lw, a, cmin, cmax), out_dtype = promote(log_w, A, clip_min, clip_max)
    w = torch.minimum(torch.maximum(torch.exp(lw), cmin), cmax)
    return _times(w, a).to(out_dtype)


def mis_token(log_w: Tensor, A: Tensor, clip_min: Any = 0.5, clip_max: Any = 5.0) -> Tensor:
    """Token-level masked IS (IcePop): phi = w A for clip_min <= w <= clip_max, else 0."""
    _check_token(log_w, A)
    _check_ratio_bounds(clip_min, clip_max)
    (lw, a, cmin, cmax), out_dtype = promote(log_w, A, clip_min, clip_max)
    w = torch.exp(lw)
    keep = (w >= cmin) & (w <= cmax)
    return torch.where(keep, _times(w, a), torch.zeros_like(w)).to(out_dtype)


def topr(log_w: Tensor, A: Tensor) -> Tensor:
    """TOPR: phi = A for A >= 0, clamp(w, 0, 1) A for A < 0."""
    _check_token(log_w, A)
    (lw, a), out_dtype = promote(log_w, A)
    weight = torch.where(a >= 0, torch.ones_like(lw), torch.clamp(torch.exp(lw), max=1.0))
    return (weight * a).to(out_dtype)


def dft(log_w: Tensor, A: Any = 1.0) -> Tensor:
    """DFT: phi = sg(p) A with p = exp(log_w) the token probability (mu = the demonstration)."""
    _check_token(log_w, A)
    (lw, a), out_dtype = promote(log_w, A)
    return _times(torch.exp(lw), a).to(out_dtype)


# ----------------------------------------------------------------------------- sequence level


def gspo_sequence_ratio(log_w: Tensor, mask: Any = None) -> Tensor:
    """s = exp(masked mean of log_w over the last dimension); an empty mask gives 1."""
    _check_seq(log_w, 0.0, mask)
    (lw,), out_dtype = promote(log_w)
    m = _mask(mask, lw)
    lw_sel = torch.where(m, lw, torch.zeros((), dtype=lw.dtype, device=lw.device))
    return _exp_mean(lw_sel, m).squeeze(-1).to(out_dtype)


def _exp_mean(lw_sel: Tensor, m: Tensor) -> Tensor:
    """exp(masked mean of log_w) over the last dim (kept), the mean in two words.

    exp turns an absolute error of its argument into a relative one: a rounded sum / n (error
    ~eps sum |log_w| / n, e.g. log_w = [700, -700, x]) would cost that many eps. The sum is
    a two_sum pairwise tree (value + accumulated rounding errors, relative error ~eps^2) and
    the division by n is corrected with two_prod, so exp(hi + lo) = exp(hi) (1 + lo) is within
    a few eps of the exact value."""
    x = torch.where(m, lw_sel, torch.zeros_like(lw_sel))
    n = m.sum(-1, keepdim=True).clamp(min=1).to(x.dtype)
    err = torch.zeros_like(x)
    while x.shape[-1] > 1:
        if x.shape[-1] % 2:
            pad = torch.zeros_like(x[..., :1])
            x, err = torch.cat([x, pad], -1), torch.cat([err, pad], -1)
        x, e = two_sum(x[..., 0::2], x[..., 1::2])
        err = err[..., 0::2] + err[..., 1::2] + e
    total, err = x, err
    hi = total / n
    ok = torch.isfinite(hi)
    p, pe = two_prod(torch.where(ok, hi, torch.zeros_like(hi)), n)
    lo = torch.where(ok, ((total - p) - pe + err) / n, torch.zeros_like(hi))
    return torch.where(ok, exp2w(torch.where(ok, hi, 0.0), lo), torch.exp(hi))


def gspo(
    log_w: Tensor,
    A: Tensor,
    mask: Any = None,
    clip_ratio_low: Any = 3e-4,
    clip_ratio_high: Any = 4e-4,
) -> Tensor:
    """GSPO per-token weight: s A where the PPO rule keeps s = geometric-mean ratio, else 0.

    Tie s == 1 + high (A > 0) or 1 - low (A < 0): inside, phi = s A (as the reference)."""
    _check_seq(log_w, A, mask)
    _check_clip(clip_ratio_low, clip_ratio_high)
    lw_sel, a, m, (lo, hi), out_dtype = _seq_prepare(
        log_w, A, mask, clip_ratio_low, clip_ratio_high
    )
    s = torch.broadcast_to(_exp_mean(lw_sel, m), m.shape)
    keep = m & _ppo_keep(s, a, 1 - lo, 1 + hi)
    return torch.where(keep, _times(s, a), torch.zeros_like(s)).to(out_dtype)


def tis_sequence(
    log_w: Tensor, A: Tensor, mask: Any = None, clip_min: Any = 0.0, clip_max: Any = 3.0
) -> Tensor:
    """Sequence truncated IS: phi_t = clamp(W, clip_min, clip_max) A, W = prod of selected w_t."""
    _check_seq(log_w, A, mask)
    _check_ratio_bounds(clip_min, clip_max)
    lw_sel, a, m, (cmin, cmax), out_dtype = _seq_prepare(log_w, A, mask, clip_min, clip_max)
    W = torch.exp(lw_sel.sum(-1, keepdim=True))
    W = torch.broadcast_to(torch.minimum(torch.maximum(W, cmin), cmax), m.shape)
    return torch.where(m, _times(W, a), torch.zeros_like(W)).to(out_dtype)


def mis_sequence(
    log_w: Tensor, A: Tensor, mask: Any = None, clip_min: Any = 0.0, clip_max: Any = 3.0
) -> Tensor:
    """Sequence masked IS: phi_t = W A if clip_min <= W <= clip_max, else 0 (W = prod w_t)."""
    _check_seq(log_w, A, mask)
    _check_ratio_bounds(clip_min, clip_max)
    lw_sel, a, m, (cmin, cmax), out_dtype = _seq_prepare(log_w, A, mask, clip_min, clip_max)
    W = torch.broadcast_to(torch.exp(lw_sel.sum(-1, keepdim=True)), m.shape)
    keep = m & (W >= cmin) & (W <= cmax)
    return torch.where(keep, _times(W, a), torch.zeros_like(W)).to(out_dtype)


def _vespo_weight(log_W: Tensor, a: Tensor, k_pos, lambda_pos, k_neg, lambda_neg) -> Tensor:
    nonneg = a >= 0
    k = torch.where(nonneg, k_pos, k_neg)
    lam = torch.where(nonneg, lambda_pos, lambda_neg)
    zero = torch.zeros((), dtype=log_W.dtype, device=log_W.device)
    k_term = torch.where(k == 0, zero, k * log_W)
    lam_term = torch.where(lam == 0, zero, lam * torch.exp(log_W))
    return torch.exp(lam + k_term - lam_term)


def vespo(
    log_w: Tensor,
    A: Tensor,
    mask: Any = None,
    k_pos: Any = 2.0,
    lambda_pos: Any = 3.0,
    k_neg: Any = 3.0,
    lambda_neg: Any = 2.0,
) -> Tensor:
    """VESPO (TRL): phi_t = exp(lambda + k log W - lambda W) A, W = prod of selected w_t."""
    _check_seq(log_w, A, mask)
    for name, v in (
        ("k_pos", k_pos),
        ("k_neg", k_neg),
        ("lambda_pos", lambda_pos),
        ("lambda_neg", lambda_neg),
    ):
        check_finite(name, v)
    check_range("lambda_pos", lambda_pos, lo=0)
    check_range("lambda_neg", lambda_neg, lo=0)
    lw_sel, a, m, (kp, lp, kn, ln), out_dtype = _seq_prepare(
        log_w, A, mask, k_pos, lambda_pos, k_neg, lambda_neg
    )
    log_W = torch.broadcast_to(lw_sel.sum(-1, keepdim=True), m.shape)
    weight = _vespo_weight(log_W, a, kp, lp, kn, ln)
    return torch.where(m, _times(weight, a), torch.zeros_like(weight)).to(out_dtype)


# ----------------------------------------------------------------------------- surrogates
# Per-token losses as the libraries write them, in terms of log_w = log_prob - old_log_prob
# (old_log_prob is a constant, so d/dlog_w = d/dlog_prob). Where a library multiplies a
# stop-gradient weight by log_prob, log_w stands in for log_prob (same gradient).


def _pessimistic(pg_losses1, pg_losses2):
    """max(pg_losses1, pg_losses2) with the unclipped pg_losses1 (and its gradient) at a tie:
    torch.maximum would split the gradient, and with torch >= 2.14's clamp (gradient 0 at the
    bound) give w A / 2 at w == 1 + clip_ratio_high instead of the reference's w A."""
    return torch.where(pg_losses2 > pg_losses1, pg_losses2, pg_losses1)


def _ppo_clip_loss(log_w, A, clip_ratio_low=0.2, clip_ratio_high=0.2):
    # -min(w A, clip(w) A): clip and min written as where, the tie counted inside
    ratio = torch.exp(log_w)
    clipped = clip_closed(ratio, 1 - clip_ratio_low, 1 + clip_ratio_high)
    return _pessimistic(-ratio * A, -clipped * A)


def _ppo_dual_clip_loss(log_w, A, clip_ratio_low=0.2, clip_ratio_high=0.2, clip_ratio_c=3.0):
    # verl compute_policy_loss_vanilla; its clamp / maximum / minimum as where, ties inside
    ratio = torch.exp(log_w)
    pg_losses1 = -A * ratio
    pg_losses2 = -A * clip_closed(ratio, 1 - clip_ratio_low, 1 + clip_ratio_high)
    clip_pg_losses1 = _pessimistic(pg_losses1, pg_losses2)
    pg_losses3 = -A * clip_ratio_c
    # min(pg_losses3, clip_pg_losses1): at w == c (A < 0) keep clip_pg_losses1 (gradient w A)
    clip_pg_losses2 = torch.where(pg_losses3 < clip_pg_losses1, pg_losses3, clip_pg_losses1)
    return torch.where(A < 0, clip_pg_losses2, clip_pg_losses1)


def _cispo_verl_loss(log_w, A, clip_ratio_low=0.2, clip_ratio_high=0.2):
    ratio = torch.exp(log_w)
    clipped = torch.clamp(ratio, 1 - clip_ratio_low, 1 + clip_ratio_high).detach()
    return -clipped * A * log_w


def _cispo_trl_loss(log_w, A, epsilon_high=5.0):
    return -torch.clamp(torch.exp(log_w), max=epsilon_high).detach() * A * log_w


def _sapo_loss(log_w, A, tau_pos=1.0, tau_neg=1.05):
    # verl / TRL: -(4 / tau) sigmoid(tau (w - 1)) A. For z > 0 the same gate is written as
    # 1 - sigmoid(-z): torch's sigmoid backward forms s (1 - s) from the rounded s, which is 0
    # for z > ~37 (float64) although the true derivative is e^{-z}; the identity keeps autograd
    # accurate. tests/test_peers.py compares the verbatim form where it is well conditioned.
    ratio = torch.exp(log_w)
    tau = torch.where(
        A > 0,
        torch.as_tensor(tau_pos, dtype=ratio.dtype),
        torch.as_tensor(tau_neg, dtype=ratio.dtype),
    )
    z = tau * (ratio - 1)
    gate = torch.where(z > 0, 1 - torch.sigmoid(-z), torch.sigmoid(z))
    return -gate * 4 / tau * A


def _tis_token_loss(log_w, A, clip_min=0.0, clip_max=2.0):
    return -torch.clamp(torch.exp(log_w), clip_min, clip_max).detach() * A * log_w


def _mis_token_loss(log_w, A, clip_min=0.5, clip_max=5.0):
    ratio = torch.exp(log_w)
    weight = ratio.masked_fill((ratio < clip_min) | (ratio > clip_max), 0.0).detach()
    return -weight * A * log_w


def _topr_loss(log_w, A):
    weight = torch.where(A >= 0, torch.ones_like(log_w), torch.clamp(torch.exp(log_w), 0, 1))
    return -weight.detach() * A * log_w


def _dft_loss(log_w, A=1.0):
    # DFT: -sg(p) log p, scaled by A; log_w is the token log-probability log p
    return -torch.exp(log_w).detach() * A * log_w


def _gspo_loss(log_w, A, mask=None, clip_ratio_low=3e-4, clip_ratio_high=4e-4):
    # verl compute_policy_loss_gspo (without its clamp of log s_t at 10), per token, masked
    m = _mask(mask, log_w).to(log_w.dtype)
    seq_lengths = m.sum(-1, keepdim=True).clamp(min=1)
    log_s = (log_w * m).sum(-1, keepdim=True) / seq_lengths
    log_s_t = log_w - log_w.detach() + log_s.detach()
    s_t = torch.exp(log_s_t)
    pg_losses1 = -A * s_t
    pg_losses2 = -A * clip_closed(s_t, 1 - clip_ratio_low, 1 + clip_ratio_high)
    return _pessimistic(pg_losses1, pg_losses2) * m


def _tis_sequence_loss(log_w, A, mask=None, clip_min=0.0, clip_max=3.0):
    m = _mask(mask, log_w).to(log_w.dtype)
    W = torch.exp((log_w * m).sum(-1, keepdim=True))
    return -torch.clamp(W, clip_min, clip_max).detach() * A * log_w * m


def _mis_sequence_loss(log_w, A, mask=None, clip_min=0.0, clip_max=3.0):
    m = _mask(mask, log_w).to(log_w.dtype)
    W = torch.exp((log_w * m).sum(-1, keepdim=True))
    W = W.masked_fill((W < clip_min) | (W > clip_max), 0.0).detach()
    return -W * A * log_w * m


def _vespo_loss(log_w, A, mask=None, k_pos=2.0, lambda_pos=3.0, k_neg=3.0, lambda_neg=2.0):
    # TRL get_gamma_weights (without its clamps), detached, times -A log pi
    m = _mask(mask, log_w).to(log_w.dtype)
    log_W = (log_w * m).sum(-1, keepdim=True)

    def t(x):
        return torch.as_tensor(x, dtype=log_w.dtype)

    k = torch.where(A >= 0, t(k_pos), t(k_neg))
    lam = torch.where(A >= 0, t(lambda_pos), t(lambda_neg))
    phi_seq = torch.exp(lam + k * log_W - lam * torch.exp(log_W)).detach()
    return -phi_seq * A * log_w * m


SURROGATES = {
    "ppo_clip": _ppo_clip_loss,
    "ppo_dual_clip": _ppo_dual_clip_loss,
    "cispo_verl": _cispo_verl_loss,
    "cispo_trl": _cispo_trl_loss,
    "sapo": _sapo_loss,
    "tis_token": _tis_token_loss,
    "mis_token": _mis_token_loss,
    "topr": _topr_loss,
    "dft": _dft_loss,
    "gspo": _gspo_loss,
    "tis_sequence": _tis_sequence_loss,
    "mis_sequence": _mis_sequence_loss,
    "vespo": _vespo_loss,
}


# ============================================================================ issue 13 designs
# GPG, GMPO, KL-Cov, Clip-Cov and batch-normalised truncated IS (see ``reference.peers`` for
# the formulas, sources, defaults and edges). The batch designs (kl_cov, clip_cov,
# tis_*_batch_normalized) take ``log_w`` of shape (..., B, T): the statistics (means,
# covariances, counts, the normalising mean) run over the last two dimensions, the selected
# tokens only; leading dimensions are independent batches. ``A`` broadcasts to log_w
# ((..., B, 1) per sequence, (..., B, T) per token); a (B,) advantage is refused (it would
# broadcast along the tokens). The selection statistics are computed in float64 (a
# covariance near-tie ranked in float32 could pick another token than the exact rule).


def gpg(log_w: Tensor, A: Tensor) -> Tensor:
    """GPG (verl ``loss_mode="gpg"``, L = -A log pi): phi = A; log_w is checked, then unused."""
    _check_token(log_w, A)
    (lw, a), out_dtype = promote(log_w, A)
    return torch.broadcast_to(a, torch.broadcast_shapes(lw.shape, a.shape)).clone().to(out_dtype)


def _gmpo_parts(lw, a, lo, hi):
    """(clipped log-ratio c_t, gradient passes) of verl's geo_mean sign trick, closed interval."""
    zero = torch.zeros((), dtype=lw.dtype, device=lw.device)
    pos, neg = a > 0, a < 0
    inside = torch.where(pos, lw <= hi, torch.where(neg, lw >= -lo, torch.zeros_like(pos)))
    c = torch.where(pos, torch.minimum(lw, hi), torch.where(neg, torch.maximum(lw, -lo), zero))
    return c, inside


def gmpo(
    log_w: Tensor,
    A: Tensor,
    mask: Any = None,
    clip_ratio_low: Any = 0.4,
    clip_ratio_high: Any = 0.4,
) -> Tensor:
    """GMPO per-token weight: r A on unclipped selected tokens, r = exp(mean clipped log w).

    Clipping in log space by the sign of A (verl ``geo_mean``): c_t = min(log w_t, high) for
    A > 0, max(log w_t, -low) for A < 0. A per-token A is read as verl does: its sign clips
    each token and its masked mean is the sequence advantage."""
    _check_seq(log_w, A, mask)
    for name, v in (("clip_ratio_low", clip_ratio_low), ("clip_ratio_high", clip_ratio_high)):
        check_finite(name, v)
        check_range(name, v, lo=0)
    lw_sel, a, m, (lo, hi), out_dtype = _seq_prepare(
        log_w, A, mask, clip_ratio_low, clip_ratio_high
    )
    a = torch.broadcast_to(a, m.shape)
    c, inside = _gmpo_parts(lw_sel, a, lo, hi)
    r = torch.broadcast_to(_exp_mean(torch.where(m, c, torch.zeros_like(c)), m), m.shape)
    zero = torch.zeros((), dtype=a.dtype, device=a.device)
    n = m.sum(-1, keepdim=True).clamp(min=1).to(a.dtype)
    a_seq = torch.where(m, a, zero).sum(-1, keepdim=True) / n
    keep = m & inside
    return torch.where(keep, _times(r, torch.broadcast_to(a_seq, m.shape)), zero).to(out_dtype)


def _check_batch(log_w: Any, A: Any, mask: Any, log_prob: Any = None) -> None:
    if not isinstance(log_w, torch.Tensor) or log_w.dim() < 2:
        raise ValueError(
            "log_w must be a tensor of shape (..., B, T) (a batch of sequences), got "
            + (f"shape {tuple(log_w.shape)}" if isinstance(log_w, torch.Tensor) else repr(log_w))
        )
    if isinstance(A, torch.Tensor):
        ok = A.dim() == 0 or (A.dim() >= 2 and A.shape[-1] in (1, log_w.shape[-1]))
        try:
            torch.broadcast_shapes(A.shape, log_w.shape)
        except RuntimeError:
            ok = False
        if not ok:
            raise ValueError(
                f"A of shape {tuple(A.shape)} must broadcast to log_w {tuple(log_w.shape)} as "
                "(..., B, 1) per sequence or (..., B, T) per token"
            )
    if log_prob is not None and (
        not isinstance(log_prob, torch.Tensor) or log_prob.shape != log_w.shape
    ):
        shape = tuple(log_prob.shape) if isinstance(log_prob, torch.Tensor) else log_prob
        raise ValueError(
            f"log_prob must be a tensor of log_w's shape {tuple(log_w.shape)}, got {shape}"
        )
    _check_seq(log_w, A, mask)
    if log_prob is not None and _checkable(log_prob):
        m = _mask(mask, log_w)
        bad = m & ~(torch.isfinite(log_prob) & (log_prob <= 0))
        if bool(bad.any()):
            raise ValueError(
                "log_prob must be a finite log-probability (<= 0) where mask is set, got "
                f"{log_prob[bad][:4].tolist()}"
            )


def _batch_prepare(log_w, A, mask, *params):
    """Selected log_w (0 elsewhere), A and mask broadcast to log_w's shape, params, dtype."""
    (lw, a, *ps), out_dtype = promote(log_w, A, *params)
    m = _mask(mask, lw)
    a = torch.broadcast_to(a, lw.shape)
    zero = torch.zeros((), dtype=lw.dtype, device=lw.device)
    return torch.where(m, lw, zero), torch.where(m, a, zero), m, ps, out_dtype


def _masked_cov(a: Tensor, log_prob: Tensor, m: Tensor) -> Tensor:
    """(A - mean A)(log pi - mean log pi) in float64, means over the selected tokens of the
    last two dimensions; 0 at masked-out tokens."""
    a64 = torch.where(m, a.to(torch.float64), 0.0)
    lp64 = torch.where(m, log_prob.detach().to(torch.float64), 0.0)
    n = m.sum((-2, -1), keepdim=True).clamp(min=1).to(torch.float64)
    a_bar = a64.sum((-2, -1), keepdim=True) / n
    l_bar = lp64.sum((-2, -1), keepdim=True) / n
    return torch.where(m, (a64 - a_bar) * (lp64 - l_bar), 0.0)


def _first_k(key: Tensor, eligible: Tensor, k: Tensor) -> Tensor:
    """True at the k eligible entries of largest key per batch (last two dims flattened);
    equal keys go to the earlier position (a stable descending sort). No host sync."""
    flat_shape = key.shape[:-2] + (-1,)
    neg_inf = torch.full((), -torch.inf, dtype=key.dtype, device=key.device)
    keyed = torch.where(eligible, key, neg_inf).reshape(flat_shape)
    order = torch.sort(keyed, dim=-1, descending=True, stable=True).indices
    # the inverse permutation (an argsort of distinct integers); a scatter into an empty
    # tensor was miscompiled by inductor (torch 2.13: wrong selection under torch.compile)
    rank = torch.argsort(order, dim=-1)
    return (rank.reshape(key.shape) < k) & eligible


def _f64(x: Any, like: Tensor) -> Tensor:
    """A selection parameter in float64 as given (not rounded to a float32 compute dtype: the
    count int(ratio N) and the band test must see the value verl sees)."""
    return scalar(x, torch.float64, like.device)


def _verl_count(ratio: Tensor, m: Tensor) -> Tensor:
    """max(1, int(ratio N)) per batch, N the selected tokens, the product in float64 (verl)."""
    n = m.sum((-2, -1), keepdim=True).to(torch.float64)
    return torch.floor(n * ratio.to(torch.float64)).clamp(min=1)


def _check_unit_ratio(name: str, v: Any) -> None:
    check_finite(name, v)
    check_range(name, v, lo=0, hi=1, lo_open=True)


def kl_cov(
    log_w: Tensor,
    A: Tensor,
    log_prob: Tensor,
    mask: Any = None,
    kl_cov_ratio: Any = 0.0002,
    ppo_kl_coef: Any = 1.0,
) -> Tensor:
    """KL-Cov (verl ``loss_mode="kl_cov"``): phi = w A, minus ppo_kl_coef sign(log w) on the
    top-k selected tokens by cov(A, log pi), k = max(1, int(kl_cov_ratio N)); ties to the
    earlier position. ``log_prob`` (..., B, T): the current token log-probabilities."""
    _check_batch(log_w, A, mask, log_prob)
    _check_unit_ratio("kl_cov_ratio", kl_cov_ratio)
    check_finite("ppo_kl_coef", ppo_kl_coef)
    check_range("ppo_kl_coef", ppo_kl_coef, lo=0)
    lw, a, m, (coef,), out_dtype = _batch_prepare(log_w, A, mask, ppo_kl_coef)
    cov = _masked_cov(a, log_prob, m)
    top = _first_k(cov, m, _verl_count(_f64(kl_cov_ratio, lw), m))
    base = _times(torch.exp(lw), a)
    phi = torch.where(top, base - coef * torch.sign(lw), base)
    return torch.where(m, phi, torch.zeros_like(phi)).to(out_dtype)


def clip_cov(
    log_w: Tensor,
    A: Tensor,
    log_prob: Tensor,
    mask: Any = None,
    clip_ratio_low: Any = 0.2,
    clip_ratio_high: Any = 0.2,
    clip_cov_ratio: Any = 0.0002,
    clip_cov_lb: Any = 1.0,
    clip_cov_ub: Any = 5.0,
    priority: Tensor | None = None,
) -> Tensor:
    """Clip-Cov (verl ``loss_mode="clip_cov"``): the ppo_clip phi, 0 on the chosen tokens.

    Candidates: selected, not clipped by PPO, clip_cov_lb < cov(A, log pi) < clip_cov_ub; the
    n = max(1, int(clip_cov_ratio N)) of largest cov (``priority=None``) or of smallest
    ``priority`` (pass ``torch.rand(log_w.shape, generator=g)`` for verl's uniform random
    choice, seeded) are chosen; ties to the earlier position."""
    _check_batch(log_w, A, mask, log_prob)
    _check_clip(clip_ratio_low, clip_ratio_high)
    _check_unit_ratio("clip_cov_ratio", clip_cov_ratio)
    check_not_nan("clip_cov_lb", clip_cov_lb)
    check_not_nan("clip_cov_ub", clip_cov_ub)
    if _checkable(clip_cov_lb) and _checkable(clip_cov_ub):
        ok = torch.as_tensor(clip_cov_ub, dtype=torch.float64) >= torch.as_tensor(
            clip_cov_lb, dtype=torch.float64
        )
        if not bool(ok.all()):
            raise ValueError(
                f"clip_cov_ub must be >= clip_cov_lb, got {clip_cov_ub!r} < {clip_cov_lb!r}"
            )
    if priority is not None:
        priority = torch.as_tensor(priority, dtype=torch.float64, device=log_w.device)
        if priority.shape != log_w.shape:
            raise ValueError(
                f"priority must have log_w's shape {tuple(log_w.shape)}, got {tuple(priority.shape)}"
            )
        check_finite("priority", priority)
    lw, a, m, (lo, hi), out_dtype = _batch_prepare(log_w, A, mask, clip_ratio_low, clip_ratio_high)
    ratio, lb64, ub64 = (_f64(v, lw) for v in (clip_cov_ratio, clip_cov_lb, clip_cov_ub))
    w = torch.exp(lw)
    inside = _ppo_keep(w, a, 1 - lo, 1 + hi)
    ppo = torch.where(inside, _times(w, a), torch.zeros_like(w))
    cov = _masked_cov(a, log_prob, m)
    cand = m & inside & (cov > lb64) & (cov < ub64)
    key = cov if priority is None else -priority
    chosen = _first_k(key, cand, _verl_count(ratio, m))
    phi = torch.where(chosen, torch.zeros_like(ppo), ppo)
    return torch.where(m, phi, torch.zeros_like(phi)).to(out_dtype)


def _check_group_2d(log_w: Any, process_group: Any) -> None:
    if process_group is None:
        return
    from isreshape.torch_impl import distributed as tdist

    tdist.check_process_group(process_group)
    if not (isinstance(log_w, torch.Tensor) and log_w.dim() == 2):
        raise ValueError(
            "log_w must be (B, T) with a process_group (one batch per rank), got shape "
            f"{tuple(getattr(log_w, 'shape', ()))}"
        )


def _check_tis_norm(clip_max: Any, min_mean: Any) -> None:
    check_range("clip_max", clip_max, lo=0, lo_open=True)
    check_finite("min_mean", min_mean)
    check_range("min_mean", min_mean, lo=0)


def _normalised_by_batch_mean(
    hi: Tensor,
    lo: Tensor,
    present: Tensor,
    cap: Tensor,
    floor: Tensor,
    dims: tuple,
    process_group: Any = None,
) -> Tensor:
    """v / m for v = min(e^(hi + lo), cap) over the entries ``present``, m = mean of v over
    them (the dims ``dims``) when m > floor, else v; max-scaled in logs: v / m =
    e^(log v - M) / mean e^(log v - M), M = the largest log v, so no v or m over- or
    underflows on the way (e.g. e^200 in float32, or every weight e^-150)."""
    log_cap = torch.log(cap)
    capped = (hi + lo) >= log_cap
    hi = torch.where(capped, log_cap, hi)
    lo = torch.where(capped, torch.zeros_like(lo), lo)
    neg_inf = torch.full_like(hi, -torch.inf)
    masked_hi = torch.where(present, hi, neg_inf)
    if masked_hi.numel():
        M = masked_hi.amax(dims, keepdim=True)
    else:  # no entries (a data-parallel rank with B = 0): the empty max, -inf
        M = torch.full_like(masked_hi.sum(dims, keepdim=True), -torch.inf)
    M = torch.where(torch.isfinite(M), M, torch.zeros_like(M))  # nothing present
    d_hi, d_lo = two_sum(hi, -M)
    scaled = torch.where(present, exp2w(d_hi, d_lo + lo), torch.zeros_like(hi))
    if process_group is not None:
        # every rank: one collective of (max, count, sum scaled by the local max); the sums
        # rescaled to the global max, then this rank's entries scaled by the global max
        from isreshape.torch_impl import distributed as tdist

        red = tdist.as_reducer(process_group)
        f64 = torch.float64
        local = torch.stack(
            [M.reshape(()).to(f64), present.sum().to(f64), scaled.sum().to(f64)]
        )
        table = red.gather(local)
        has = table[:, 1] > 0
        m_glob = torch.where(has, table[:, 0], torch.full_like(table[:, 0], -torch.inf)).amax()
        m_glob = torch.where(torch.isfinite(m_glob), m_glob, torch.zeros_like(m_glob))
        parts = torch.where(has, table[:, 2] * torch.exp(table[:, 0] - m_glob), 0.0)
        M = m_glob.to(hi.dtype).reshape(M.shape)
        d_hi, d_lo = two_sum(hi, -M)
        scaled = torch.where(present, exp2w(d_hi, d_lo + lo), torch.zeros_like(hi))
        count = table[:, 1].sum().clamp(min=1)
        mean_scaled = (parts.sum() / count).to(hi.dtype).reshape(M.shape)
    else:
        count = present.sum(dims, keepdim=True).clamp(min=1).to(hi.dtype)
        mean_scaled = scaled.sum(dims, keepdim=True) / count
    # m = e^M mean_scaled > floor, decided in logs (m itself may under- or overflow)
    normalise = (M + torch.log(mean_scaled)) > torch.log(floor)
    raw = torch.where(capped, cap, exp2w(hi, lo))
    safe_mean = torch.where(mean_scaled > 0, mean_scaled, torch.ones_like(mean_scaled))
    return torch.where(normalise, scaled / safe_mean, raw)


def tis_token_batch_normalized(
    log_w: Tensor,
    A: Tensor,
    mask: Any = None,
    clip_max: Any = 2.0,
    min_mean: Any = 1e-8,
    *,
    process_group: Any = None,
) -> Tensor:
    """verl token TIS with ``rollout_is_batch_normalize``: phi = A v / m, v = min(w, clip_max),
    m = masked mean of v over the batch (last two dims) when m > min_mean, else v unscaled.
    Max-scaled in the log domain (no overflow of w = e^200 in float32 with clip_max = inf).
    ``process_group`` (a ``torch.distributed`` ProcessGroup, log_w (B, T)): m and the max
    over every rank's selected tokens (one collective)."""
    _check_batch(log_w, A, mask)
    _check_tis_norm(clip_max, min_mean)
    _check_group_2d(log_w, process_group)
    lw, a, m, (cap, floor), out_dtype = _batch_prepare(log_w, A, mask, clip_max, min_mean)
    W = _normalised_by_batch_mean(
        lw, torch.zeros_like(lw), m, cap, floor, (-2, -1), process_group
    )
    return torch.where(m, _times(W, a), torch.zeros_like(W)).to(out_dtype)


def _sum2(lw_sel: Tensor, m: Tensor) -> tuple[Tensor, Tensor]:
    """Masked sum over the last dim (kept) as two words (hi, lo): a two_sum pairwise tree."""
    x = torch.where(m, lw_sel, torch.zeros_like(lw_sel))
    err = torch.zeros_like(x)
    while x.shape[-1] > 1:
        if x.shape[-1] % 2:
            pad = torch.zeros_like(x[..., :1])
            x, err = torch.cat([x, pad], -1), torch.cat([err, pad], -1)
        x, e = two_sum(x[..., 0::2], x[..., 1::2])
        err = err[..., 0::2] + err[..., 1::2] + e
    return x, err


def tis_sequence_batch_normalized(
    log_w: Tensor,
    A: Tensor,
    mask: Any = None,
    clip_max: Any = 2.0,
    min_mean: Any = 1e-8,
    *,
    process_group: Any = None,
) -> Tensor:
    """verl sequence TIS with ``rollout_is_batch_normalize``: phi_t = A V_b / m,
    V_b = min(prod of the selected w_t of sequence b, clip_max), m = mean of V over the
    non-empty sequences of the batch when m > min_mean, else V_b unscaled.

    Computed in the log domain: log V_b as a two-word sum, V_b / m = e^(log V_b - M) / mean_b'
    e^(log V_b' - M) with M the largest log V_b, so neither a product of many ratios that
    under- or overflows nor the rounding of a long log-sum (|sum| eps) reaches the value.
    ``process_group`` (log_w (B, T)): the mean over every rank's non-empty sequences (one
    collective)."""
    _check_batch(log_w, A, mask)
    _check_tis_norm(clip_max, min_mean)
    _check_group_2d(log_w, process_group)
    lw, a, m, (cap, floor), out_dtype = _batch_prepare(log_w, A, mask, clip_max, min_mean)
    nonempty = m.any(-1, keepdim=True)
    hi, lo = _sum2(lw, m)
    V = _normalised_by_batch_mean(hi, lo, nonempty, cap, floor, (-2,), process_group)
    W = torch.broadcast_to(V, m.shape)
    return torch.where(m, _times(W, a), torch.zeros_like(W)).to(out_dtype)


# ----------------------------------------------------------------------------- issue 13 surrogates


def _gpg_loss(log_w, A):
    # verl compute_policy_loss_gpg: -A log pi (log_w stands in for log pi: same gradient)
    return -A * log_w


def _gmpo_loss(log_w, A, mask=None, clip_ratio_low=0.4, clip_ratio_high=0.4):
    # verl compute_policy_loss_geo_mean per sequence, -A exp(masked mean of the sign-clipped
    # log-ratios), times the token count n (undoing the token mean that seq-mean-token-mean
    # supplies, so the gradient per token is -phi_t); verl's sgn min(sgn l, sgn clamp(l)) as
    # torch.where with the bound inside (the module's closed interval)
    m = _mask(mask, log_w)
    A = torch.as_tensor(A, dtype=log_w.dtype)
    c = torch.where(
        A > 0,
        torch.where(log_w <= clip_ratio_high, log_w, log_w.detach() * 0 + clip_ratio_high),
        torch.where(
            A < 0,
            torch.where(log_w >= -clip_ratio_low, log_w, log_w * 0 - clip_ratio_low),
            log_w * 0,
        ),
    )
    mf = m.to(log_w.dtype)
    n = mf.sum(-1, keepdim=True).clamp(min=1)
    ratio = torch.exp((torch.where(m, c, c * 0)).sum(-1, keepdim=True) / n)
    return -A * ratio * n


def _gmpo_loss_value(log_w, A, mask=None, clip_ratio_low=0.4, clip_ratio_high=0.4):
    """Per-token value -A r of GMPO's sequence loss (r = exp(masked mean of the sign-clipped
    log-ratios)) on every selected token, 0 elsewhere: aggregated with seq-mean-token-mean it is
    the value verl's geo_mean / TRL's GMPOTrainer log (their mean over sequences; verl's also
    counts fully masked sequences). No gradient is meant to flow through it (a value only)."""
    with torch.no_grad():
        lw_sel, a, m, (lo, hi), out_dtype = _seq_prepare(
            log_w, A, mask, clip_ratio_low, clip_ratio_high
        )
        a = torch.broadcast_to(a, m.shape)
        c, _ = _gmpo_parts(lw_sel, a, lo, hi)
        r = _exp_mean(torch.where(m, c, torch.zeros_like(c)), m)
        n = m.sum(-1, keepdim=True).clamp(min=1).to(a.dtype)
        a_seq = torch.where(m, a, torch.zeros_like(a)).sum(-1, keepdim=True) / n
        value = torch.broadcast_to(-_times(r, a_seq), m.shape)
        return torch.where(m, value, torch.zeros_like(value)).to(out_dtype)


def _kl_cov_loss(log_w, A, log_prob, mask=None, kl_cov_ratio=0.0002, ppo_kl_coef=1.0):
    # verl compute_policy_loss_kl_cov: -A w, and -A w + coef |log w| on the top-k tokens by
    # covariance (the selection a constant; |x| as where with subgradient 0 at 0)
    m = _mask(mask, log_w)
    a = torch.broadcast_to(torch.as_tensor(A, dtype=log_w.dtype), log_w.shape)
    cov = _masked_cov(a, log_prob, m)
    top = _first_k(cov, m, _verl_count(_f64(kl_cov_ratio, log_w), m))
    abs_kl = torch.where(log_w > 0, log_w, torch.where(log_w < 0, -log_w, log_w * 0))
    pg = -a * torch.exp(log_w)
    return torch.where(m, torch.where(top, pg + ppo_kl_coef * abs_kl, pg), pg * 0)


def _clip_cov_loss(
    log_w,
    A,
    log_prob,
    mask=None,
    clip_ratio_low=0.2,
    clip_ratio_high=0.2,
    clip_cov_ratio=0.0002,
    clip_cov_lb=1.0,
    clip_cov_ub=5.0,
    priority=None,
):
    # verl compute_policy_loss_clip_cov: max(-A w, -A clip(w)) * corr, corr = 0 on the chosen
    # tokens (chosen as the twin chooses: verl's choice is random)
    m = _mask(mask, log_w)
    a = torch.broadcast_to(torch.as_tensor(A, dtype=log_w.dtype), log_w.shape)
    ppo = _ppo_clip_loss(log_w, a, clip_ratio_low, clip_ratio_high)
    w = torch.exp(log_w.detach())
    inside = _ppo_keep(w, a, 1 - clip_ratio_low, 1 + clip_ratio_high)
    cov = _masked_cov(a, log_prob, m)
    lb, ub = _f64(clip_cov_lb, log_w), _f64(clip_cov_ub, log_w)
    cand = m & inside & (cov > lb) & (cov < ub)
    key = cov if priority is None else -torch.as_tensor(priority, dtype=torch.float64)
    chosen = _first_k(key, cand, _verl_count(_f64(clip_cov_ratio, log_w), m))
    corr = (~chosen & m).to(log_w.dtype)
    return torch.where(m, ppo * corr, ppo * 0)


def _tis_token_batch_normalized_loss(log_w, A, mask=None, clip_max=2.0, min_mean=1e-8):
    # verl rollout correction, token level, batch-normalised, as a weight on -A log pi
    m = _mask(mask, log_w)
    v = torch.where(m, torch.exp(log_w).clamp(max=clip_max), log_w * 0)
    mean = v.sum((-2, -1), keepdim=True) / m.sum((-2, -1), keepdim=True).clamp(min=1)
    weight = torch.where(mean > min_mean, v / mean, v).detach()
    return torch.where(m, -weight * A * log_w, log_w * 0)


SURROGATES.update(
    {
        "gpg": _gpg_loss,
        "gmpo": _gmpo_loss,
        "kl_cov": _kl_cov_loss,
        "clip_cov": _clip_cov_loss,
        "tis_token_batch_normalized": _tis_token_batch_normalized_loss,
    }
)
