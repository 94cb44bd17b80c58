"""Peer gradient-weight designs (PPO, dual clip, CISPO, SAPO, TIS / IcePop, GSPO, TOPR, DFT,
VESPO) in the phi(w, A) form of seed 002 section 1.2.

phi is the per-token gradient weight on grad log pi_theta: the estimator is
g = E_mu[phi(w, A) grad log pi_theta], w = pi_theta / mu, A the advantage. For a design that
is written as a per-token loss L(log_w, A) (log_w = log_prob - old_log_prob, the behaviour
log-probability being constant), phi = -dL / d log_w: exactly what autograd of the library's
loss gives, including the pessimistic min() of PPO and every stop-gradient.

Parameter names follow the library that defines the design (verl ``compute_policy_loss_*`` in
``verl/trainer/ppo/core_algos.py``; TRL ``GRPOTrainer`` / ``GRPOConfig``). Library details that
only serve numerical stability (verl clamps log_w to [-20, 20] before exp, GSPO's log ratio to
<= 10, TRL VESPO clamps the sequence log-ratio to [log 1e-8, 20]) are NOT reproduced: each
docstring says where they would change phi.

Kinks and ties. At a clip boundary the loss has a kink. The convention here is the closed
interval: at w == 1 + hi (A > 0), w == 1 - lo (A < 0), w == c (dual clip, A < 0) and for GSPO's
s on those bounds, phi is the "inside" value w A (s A); ``mis_*`` keep their bounds too.
The tie is reachable. This module computes w = exp(log_w) exactly and meets a bound only at
log_w = 0 with eps = 0, but a floating-point w is rounded, and w == 1 + eps holds for whole
runs of inputs: seven consecutive float64 log_w (0.1823215567939545 to 0.18232155679395468)
give a rounded exp(log_w) == 1.2, and so do float32 log_w such as 0.18232154846191406 (torch's
float32 exp). At two of those float64 inputs the exact w exceeds 1 + 0.2, so this module gives
0 where a float twin, deciding on its rounded w, sits on the tie and gives w A: a rounding of
w, not a convention. The convention is a choice, not autograd's: autograd of
-min(w A, clamp(w) A) at the tie gives w A on torch <= 2.13 (clamp passes gradient 1 at its
bounds, minimum splits it evenly between two equal gradients) but w A / 2 (0.6 A at w = 1.2)
on torch >= 2.14, whose clamp passes 0 there (1/2 with tensor bounds: 3 w A / 4). The torch
twins and their surrogates implement the closed interval with ``torch.where``.

Inputs: token designs take ``log_w`` (not NaN, < +inf; -inf means w = 0) and a finite ``A``.
Sequence designs take ``log_w`` as a list of token log-ratios, ``mask`` (booleans, None = all),
a finite per-sequence ``A``; selected log_w must be finite; they return one phi per token,
0 for masked-out tokens (an empty mask gives all zeros).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import mpmath
import numpy as np

from isreshape.reference._checks import (
    as_mask,
    as_mp_list,
    require_finite,
    require_not_nan,
    require_range,
)
from isreshape.reference._mp import sigmoid as _sigmoid
from isreshape.reference.golden import case, register_golden

INF = float("inf")


# ----------------------------------------------------------------------------- helpers


def _token_inputs(log_w: Any, A: Any) -> tuple[mpmath.mpf, mpmath.mpf, mpmath.mpf]:
    lw = require_not_nan("log_w", log_w)
    if mpmath.isinf(lw) and lw > 0:
        raise ValueError(f"log_w must be < +inf (w = inf has no weight), got {log_w!r}")
    a = require_finite("A", A)
    return lw, mpmath.exp(lw), a


def _seq_inputs(log_w: Sequence[Any], A: Any, mask: Sequence[Any] | None):
    lw = as_mp_list("log_w", log_w)
    keep = as_mask("mask", mask, len(lw))
    for i, (v, k) in enumerate(zip(lw, keep)):
        if k and not mpmath.isfinite(v):
            raise ValueError(f"log_w[{i}] is selected by mask and must be finite, got {v}")
    a = require_finite("A", A)
    return lw, keep, a


def _clip_bounds(clip_ratio_low: Any, clip_ratio_high: Any) -> tuple[mpmath.mpf, mpmath.mpf]:
    lo = require_range("clip_ratio_low", require_finite("clip_ratio_low", clip_ratio_low), 0, 1)
    hi = require_range("clip_ratio_high", require_finite("clip_ratio_high", clip_ratio_high), 0)
    return 1 - lo, 1 + hi


def _ppo_rule(w, A, lo, hi):
    """-d/dlog_w of -min(w A, clip(w, lo, hi) A): w A inside the trust region (closed), else 0."""
    if A > 0:
        return w * A if w <= hi else mpmath.mpf(0)
    if A < 0:
        return w * A if w >= lo else mpmath.mpf(0)
    return mpmath.mpf(0)


def _ratio_bounds(clip_min: Any, clip_max: Any) -> tuple[mpmath.mpf, mpmath.mpf]:
    cmin = require_range("clip_min", require_finite("clip_min", clip_min), lo=0)
    cmax = require_range("clip_max", clip_max, lo=cmin)
    return cmin, cmax


# ----------------------------------------------------------------------------- token level


def ppo_clip(log_w, A, clip_ratio_low=0.2, clip_ratio_high=0.2):
    """PPO clip with clip-higher: phi = w A where min(w A, clip(w, 1-lo, 1+hi) A) is unclipped.

    Loss (verl ``compute_policy_loss_vanilla`` with ``clip_ratio_low`` / ``clip_ratio_high``;
    TRL ``loss_type="grpo"|"dapo"|...`` with ``epsilon`` / ``epsilon_high``; DAPO's clip-higher
    recommends 0.28): L = -min(w A, clip(w, 1 - clip_ratio_low, 1 + clip_ratio_high) A).
    phi = w A if (A > 0 and w <= 1 + hi) or (A < 0 and w >= 1 - lo), else 0; A = 0 gives 0.
    Seed 002 section 1.3 lists PPO's weight as clip(w) A (kept as :func:`ppo_phi_section_1_3`);
    that saturates outside the region where autograd of PPO's loss gives 0 (it is CISPO's
    weight), so the two differ for every w outside [1 - lo, 1 + hi] on the side A pushes.
    Domain: clip_ratio_low in [0, 1], clip_ratio_high >= 0 finite; log_w = -inf gives w = 0
    (phi = 0). Kink w = 1 + hi (A > 0) / 1 - lo (A < 0): the inside value w A.
    """
    _, w, a = _token_inputs(log_w, A)
    lo, hi = _clip_bounds(clip_ratio_low, clip_ratio_high)
    return _ppo_rule(w, a, lo, hi)


def ppo_phi_section_1_3(log_w, A, epsilon=0.2):
    """Seed 002 sections 1.3 / 3.3 / 5.2 as written: "PPO" phi = clip(w, 1 - epsilon, 1 + epsilon) A.

    This is not PPO's gradient weight: autograd of PPO's loss -min(w A, clip(w) A) gives w A
    inside the trust region and 0 outside (:func:`ppo_clip`); clip(w) A saturates instead of
    zeroing, which is CISPO's weight (:func:`cispo_verl` with symmetric clip ratios). The two
    agree only for 1 - epsilon <= w <= 1 + epsilon. Domain: epsilon in [0, 1].
    """
    _, w, a = _token_inputs(log_w, A)
    eps = require_range("epsilon", require_finite("epsilon", epsilon), 0, 1)
    return min(max(w, 1 - eps), 1 + eps) * a


def ppo_dual_clip(log_w, A, clip_ratio_low=0.2, clip_ratio_high=0.2, clip_ratio_c=3.0):
    """Dual-clip PPO (verl ``clip_ratio_c``, Ye et al. 2020): PPO clip, and for A < 0 also 0 for w > c.

    verl: for A < 0 the loss is min(-A c, max(-A w, -A clip(w))), so phi = w A for
    1 - lo <= w <= c and 0 otherwise; for A >= 0 it is :func:`ppo_clip`. verl asserts
    clip_ratio_c > 1 (default 3.0); here c <= 1 raises ValueError. TRL's ``delta`` (INTELLECT-2
    two-sided clipping, coef_1 = min(w, delta)) gives the same phi when delta >= 1 + hi.
    Kink at w = c (reachable in floating point, see module docstring): the inside w A, like
    the ppo_clip kinks (w = 1 + hi for A > 0, w = 1 - lo for A < 0). Autograd of verl's
    min(-A c, .) splits the gradient there (w A / 2 on every torch); the twin does not.
    """
    _, w, a = _token_inputs(log_w, A)
    lo, hi = _clip_bounds(clip_ratio_low, clip_ratio_high)
    c = require_range(
        "clip_ratio_c", require_finite("clip_ratio_c", clip_ratio_c), lo=1, lo_open=True
    )
    if a < 0 and w > c:
        return mpmath.mpf(0)
    return _ppo_rule(w, a, lo, hi)


def cispo_verl(log_w, A, clip_ratio_low=0.2, clip_ratio_high=0.2):
    """CISPO as verl writes it: phi = clip(w, 1 - clip_ratio_low, 1 + clip_ratio_high) A.

    verl ``compute_policy_loss_cispo``: L = -sg(clip(w, 1-lo, 1+hi)) A log pi (MiniMax-M1,
    arXiv 2506.13585): every token keeps a gradient, weighted by the clipped stop-gradient IS
    ratio. Domain as :func:`ppo_clip`; log_w = -inf gives (1 - lo) A. No kink in phi (clip is
    continuous).
    """
    _, w, a = _token_inputs(log_w, A)
    lo, hi = _clip_bounds(clip_ratio_low, clip_ratio_high)
    return min(max(w, lo), hi) * a


def cispo_trl(log_w, A, epsilon_high=5.0):
    """CISPO as TRL / ScaleRL write it: phi = min(w, epsilon_high) A (an absolute upper cap).

    TRL ``loss_type="cispo"``: L = -sg(clamp(w, max=epsilon_high)) A log pi; ``epsilon_high`` is
    ScaleRL's eps_max (arXiv 2510.13786, recommended 5.0). Note: TRL's ``epsilon_high`` defaults
    to ``epsilon`` (0.2) when unset, which caps every weight at 0.2. Domain: epsilon_high > 0
    (+inf allowed: plain IS). log_w = -inf gives 0.
    """
    _, w, a = _token_inputs(log_w, A)
    cap = require_range("epsilon_high", epsilon_high, lo=0, lo_open=True)
    return min(w, cap) * a


def sapo(log_w, A, tau_pos=1.0, tau_neg=1.05):
    """SAPO gradient weight: phi = 4 w sigma(z) sigma(-z) A, z = tau (w - 1), tau by sign of A.

    SAPO (arXiv 2511.20347; verl ``compute_policy_loss_sapo`` with ``tau_pos`` / ``tau_neg``,
    TRL ``sapo_temperature_pos`` / ``sapo_temperature_neg``, defaults 1.0 / 1.05) writes the loss
    L = -(4 / tau) sigma(tau (w - 1)) A with tau = tau_pos if A > 0 else tau_neg. Autograd gives
    phi = -dL/dlog_w = (4 / tau) tau sigma'(z) w A = 4 w sigma(z)(1 - sigma(z)) A. phi(1, A) = A;
    phi -> 0 as w -> 0 and as w -> inf (like w e^{-tau w}); no kink.
    Seed 002 section 8.1 prints sigma(tau (w - 1)) 4 / tau as "the weight function"; that is the
    gate (the loss value per unit A), see ``reference.weights.sapo_weight_section_8_1``.
    Domain: tau_pos, tau_neg > 0 finite. log_w = -inf gives 0.
    """
    lw, _, a = _token_inputs(log_w, A)
    tp = require_range("tau_pos", require_finite("tau_pos", tau_pos), lo=0, lo_open=True)
    tn = require_range("tau_neg", require_finite("tau_neg", tau_neg), lo=0, lo_open=True)
    tau = tp if a > 0 else tn
    # z = tau (w - 1) has as many integer digits as w; e^{-z} needs them all
    with mpmath.extradps(_integer_digits_of_exp(lw)):
        w = mpmath.exp(lw)
        z = tau * (w - 1)
        phi = 4 * w * _sigmoid(z) * _sigmoid(-z) * a
    return +phi


def tis_token(log_w, A, clip_min=0.0, clip_max=2.0):
    """Token-level truncated IS (TIS): phi = clamp(w, clip_min, clip_max) A.

    TRL ``vllm_importance_sampling_mode="token_truncate"`` (C_min, C_max; TRL default C_max 3.0,
    C_min unset = 0 for a ratio) and verl rollout correction ``rollout_is_threshold`` (TIS upper
    bound, 2.0 in its docs): the stop-gradient truncated ratio multiplies a REINFORCE term,
    L = -sg(clamp(w)) A log pi. Domain: 0 <= clip_min <= clip_max (clip_max may be +inf).
    log_w = -inf gives clip_min A.
    """
    _, w, a = _token_inputs(log_w, A)
    cmin, cmax = _ratio_bounds(clip_min, clip_max)
    return min(max(w, cmin), cmax) * a


def mis_token(log_w, A, clip_min=0.5, clip_max=5.0):
    """Token-level masked IS (IcePop): phi = w A if clip_min <= w <= clip_max, else 0.

    verl rollout correction IcePop (``rollout_is_threshold="0.5_5.0"``: zero weight outside
    [lower, upper], defaults 0.5 / 5.0) and TRL ``vllm_importance_sampling_mode="token_mask"``
    (ratios < C_min or > C_max are set to 0, the bounds themselves are kept):
    L = -sg(w 1[C_min <= w <= C_max]) A log pi. Domain: 0 <= clip_min <= clip_max (+inf allowed).
    At the bounds the weight is kept (w A).
    """
    _, w, a = _token_inputs(log_w, A)
    cmin, cmax = _ratio_bounds(clip_min, clip_max)
    return w * a if cmin <= w <= cmax else mpmath.mpf(0)


def topr(log_w, A):
    """TOPR (tapered off-policy REINFORCE, Le Roux et al. 2025): phi = A for A >= 0, clamp(w, 0, 1) A for A < 0.

    Positive examples get the SFT weight (no IS ratio); negative ones the truncated ratio
    min(w, 1), stop-gradient: L = -sg(weight) A log pi. Domain: log_w < +inf; log_w = -inf gives
    A for A >= 0 and 0 for A < 0.
    """
    _, w, a = _token_inputs(log_w, A)
    return a if a >= 0 else min(w, mpmath.mpf(1)) * a


def dft(log_w, A=1.0):
    """DFT (Dynamic Fine-Tuning, Wu et al. 2025): phi = sg(p) A with p = pi_theta(y_t).

    DFT's loss is L = -sg(p) log p (times a reward or 1 for SFT). In the phi(w, A) form the
    demonstration is a point-mass behaviour policy (mu(y_t) = 1), so w = p and ``log_w`` is the
    token log-probability (<= 0 in that reading; larger values are accepted and give w A).
    phi = w A: the same weight as plain IS, reached through a stop-gradient weight times log p.
    Domain: log_w < +inf (-inf gives 0), A finite (default 1: plain SFT data).
    """
    _, w, a = _token_inputs(log_w, A)
    return w * a


# ----------------------------------------------------------------------------- sequence level


def gspo_sequence_ratio(log_w, mask=None):
    """GSPO's sequence ratio s = exp(mean of the selected token log-ratios) (geometric mean of w_t).

    GSPO (arXiv 2507.18071; verl ``compute_policy_loss_gspo``, TRL
    ``importance_sampling_level="sequence"``): s = (pi(y) / mu(y))^(1/|y|). Empty mask: 1 (the
    masked mean is 0, as verl and TRL do with ``clamp(min=1)`` on the token count).
    """
    lw, keep, _ = _seq_inputs(log_w, 0, mask)
    kept = [v for v, k in zip(lw, keep) if k]
    if not kept:
        return mpmath.mpf(1)
    return mpmath.exp(mpmath.fsum(kept) / len(kept))


def gspo(log_w, A, mask=None, clip_ratio_low=3e-4, clip_ratio_high=4e-4):
    """GSPO per-token gradient weight: phi_t = s A if s is inside PPO's trust region, else 0.

    verl ``compute_policy_loss_gspo``: s_t = sg(s) pi_t / sg(pi_t) (value s, gradient s on
    log pi_t), per-token loss -min(s_t A, clip(s_t, 1-lo, 1+hi) A), aggregated
    "seq-mean-token-mean". So phi_t = s A where the PPO rule (:func:`ppo_clip`) keeps s, else 0,
    for every selected token; masked-out tokens 0. The sequence objective of the GSPO paper / TRL
    (-min(s A, clip(s) A) per sequence) has gradient phi_t / |y| on each token: the 1/|y| is the
    token-mean of the aggregation. Defaults are the GSPO paper's 3e-4 / 4e-4. verl clamps
    log s_t <= 10 (not reproduced: for s > e^10 verl's weight is e^10 A, not s A).
    Tie s == 1 + hi (A > 0) / 1 - lo (A < 0): inside, phi_t = s A (module docstring).
    Domain: as :func:`ppo_clip` for the clip ratios; see module docstring for log_w / mask.
    """
    lw, keep, a = _seq_inputs(log_w, A, mask)
    lo, hi = _clip_bounds(clip_ratio_low, clip_ratio_high)
    s = gspo_sequence_ratio(lw, keep)
    phi = _ppo_rule(s, a, lo, hi)
    return [phi if k else mpmath.mpf(0) for k in keep]


def _integer_digits_of_exp(x) -> int:
    """Guard digits for e^{-c e^x}: e^x has about x / ln 10 digits before the point, and an
    exponent known to d significant digits fixes e^{-exponent} to d minus that many."""
    if not mpmath.isfinite(x) or x <= 0:
        return 10
    return int(x / mpmath.log(10)) + 10


def _sequence_log_ratio(lw, keep):
    return mpmath.fsum(v for v, k in zip(lw, keep) if k)


def tis_sequence(log_w, A, mask=None, clip_min=0.0, clip_max=3.0):
    """Sequence-level truncated IS: phi_t = clamp(W, clip_min, clip_max) A, W = prod of selected w_t.

    TRL ``vllm_importance_sampling_mode="sequence_truncate"``: W = exp(sum of the token
    log-ratios), truncated to [C_min, C_max] (TRL default C_max 3.0), stop-gradient, on a
    REINFORCE term for every token. Masked-out tokens 0; empty mask: all zeros.
    Domain: 0 <= clip_min <= clip_max (+inf allowed).
    """
    lw, keep, a = _seq_inputs(log_w, A, mask)
    cmin, cmax = _ratio_bounds(clip_min, clip_max)
    W = mpmath.exp(_sequence_log_ratio(lw, keep))
    phi = min(max(W, cmin), cmax) * a
    return [phi if k else mpmath.mpf(0) for k in keep]


def mis_sequence(log_w, A, mask=None, clip_min=0.0, clip_max=3.0):
    """Sequence-level masked IS: phi_t = W A if clip_min <= W <= clip_max, else 0 (W = prod w_t).

    TRL ``vllm_importance_sampling_mode="sequence_mask"`` (its default mode): the whole sequence
    is dropped when its ratio leaves [C_min, C_max]; the bounds themselves are kept.
    Masked-out tokens 0; empty mask: all zeros. Domain as :func:`tis_sequence`.
    """
    lw, keep, a = _seq_inputs(log_w, A, mask)
    cmin, cmax = _ratio_bounds(clip_min, clip_max)
    W = mpmath.exp(_sequence_log_ratio(lw, keep))
    phi = W * a if cmin <= W <= cmax else mpmath.mpf(0)
    return [phi if k else mpmath.mpf(0) for k in keep]


def vespo(log_w, A, mask=None, k_pos=2.0, lambda_pos=3.0, k_neg=3.0, lambda_neg=2.0):
    """VESPO as TRL writes it: phi_t = exp(lambda + k log W - lambda W) A, W = prod of selected w_t.

    TRL ``loss_type="vespo"`` (``get_gamma_weights``): a gamma-shaped sequence weight
    e^lambda W^k e^{-lambda W} (equal to 1 at W = 1, peak at W = k / lambda), with
    (k, lambda) = (k_pos, lambda_pos) for A >= 0 and (k_neg, lambda_neg) for A < 0 (defaults
    2, 3, 3, 2), stop-gradient, on -A log pi for every token. W is the product of the token
    ratios (sum of log-ratios, not GSPO's mean). TRL clamps each token log-ratio to [-20, 20],
    log W to [log 1e-8, 20] and lambda to >= 1e-4 (not reproduced: they change phi only outside
    those ranges). Domain: k finite, lambda >= 0 finite. k = 0 means W^0 = 1 (also at W = 0).
    Masked-out tokens 0; empty mask: all zeros (W = 1 is never used).
    """
    lw, keep, a = _seq_inputs(log_w, A, mask)
    kp = require_finite("k_pos", k_pos)
    kn = require_finite("k_neg", k_neg)
    lp = require_range("lambda_pos", require_finite("lambda_pos", lambda_pos), lo=0)
    ln = require_range("lambda_neg", require_finite("lambda_neg", lambda_neg), lo=0)
    k, lam = (kp, lp) if a >= 0 else (kn, ln)
    # lambda W has as many integer digits as W; e^{-lambda W} needs them all
    with mpmath.extradps(
        _integer_digits_of_exp(
            max(lw_i for lw_i, kk in zip(lw, keep) if kk) * sum(keep) if any(keep) else 0
        )
    ):
        log_W = _sequence_log_ratio(lw, keep)
        phi = mpmath.exp(lam + k * log_W - lam * mpmath.exp(log_W)) * a
    phi = +phi
    return [phi if kk else mpmath.mpf(0) for kk in keep]


# ----------------------------------------------------------------------------- fixtures

_BASE_LOG_W = (
    -700.0, -100.0, -20.0, -5.0, -2.0, -1.0, -0.5, -0.1, -0.01, -1e-6, -1e-12,
    -0.0, 0.0, 1e-12, 1e-6, 0.01, 0.1, 0.5, 1.0, 2.0, 5.0, 20.0, 100.0, 700.0,
)  # fmt: skip
_OFFSETS = (-1e-2, -1e-3, -1e-4, 1e-4, 1e-3, 1e-2)  # relative offsets around a boundary ratio
_A_MAIN = (-1.5, 0.7)
_A_EDGE = (-1e3, -1e-300, -0.0, 0.0, 1e-300, 1e3)
_EDGE_LOG_W = (-700.0, -1.0, -0.0, 0.0, 1.0, 700.0)


def _near(ratio: float) -> list[float]:
    """log_w values at relative distances 1e-4 .. 1e-2 on both sides of the ratio ``ratio``."""
    if ratio <= 0 or not np.isfinite(ratio):
        return []
    return [float(np.log(ratio) + np.log1p(d)) for d in _OFFSETS]


def _token_cases(params: dict[str, Any], boundaries: Sequence[float], label: str = "") -> list:
    """Grid (log_w over [-700, 700], dense near 0 and near the boundary ratios) x A."""
    cs = []
    near = [x for b in boundaries for x in _near(b)]
    for a in _A_MAIN:
        for lw in list(_BASE_LOG_W) + near:
            cs.append(case(f"{label}grid A={a} log_w={lw!r}", log_w=lw, A=a, **params))
    for a in _A_EDGE:
        for lw in list(_EDGE_LOG_W) + near[2:4]:
            cs.append(case(f"{label}edge A={a!r} log_w={lw!r}", log_w=lw, A=a, **params))
    cs.append(case(f"{label}extreme: log_w = -inf (w = 0)", log_w=-INF, A=0.7, **params))
    cs.append(case(f"{label}extreme: log_w = -inf, A < 0", log_w=-INF, A=-1.5, **params))
    return cs


def _error_cases(params: dict[str, Any], bad: dict[str, Any]) -> list:
    cs = [
        case("edge: log_w NaN", log_w=float("nan"), A=1.0, **params),
        case("edge: log_w = +inf", log_w=INF, A=1.0, **params),
        case("edge: A = +inf", log_w=0.0, A=INF, **params),
        case("edge: A NaN", log_w=0.0, A=float("nan"), **params),
    ]
    for name, value in bad.items():
        cs.append(case(f"edge: {name} = {value!r}", log_w=0.1, A=1.0, **{**params, name: value}))
    return cs


def _seeded_token_cases(params: dict[str, Any], n: int = 24) -> list:
    rng = np.random.default_rng(20261122)
    lw = rng.normal(0.0, 0.5, size=n)
    a = rng.normal(0.0, 1.0, size=n)
    return [
        case(f"seeded random {i}", log_w=float(x), A=float(y), **params)
        for i, (x, y) in enumerate(zip(lw, a))
    ]


def _ppo_cases():
    p = {"clip_ratio_low": 0.2, "clip_ratio_high": 0.28}
    cs = _token_cases(p, (0.8, 1.28))
    cs += _seeded_token_cases(p)
    cs += [
        case("kink: eps = 0, w = 1, A > 0", log_w=0.0, A=0.7, clip_ratio_low=0.0, clip_ratio_high=0.0),
        case("kink: eps = 0, w = 1, A < 0", log_w=0.0, A=-0.7, clip_ratio_low=0.0, clip_ratio_high=0.0),
        case("eps = 0, w > 1, A > 0", log_w=1e-6, A=0.7, clip_ratio_low=0.0, clip_ratio_high=0.0),
        case("eps = 0, w < 1, A < 0", log_w=-1e-6, A=-0.7, clip_ratio_low=0.0, clip_ratio_high=0.0),
        case("clip_ratio_low = 1 (lower bound 0)", log_w=-50.0, A=-0.7, clip_ratio_low=1.0, clip_ratio_high=0.2),
        case("symmetric default 0.2", log_w=0.15, A=0.7, clip_ratio_low=0.2, clip_ratio_high=0.2),
        case("symmetric default 0.2, clipped", log_w=0.19, A=0.7, clip_ratio_low=0.2, clip_ratio_high=0.2),
        case("large clip_ratio_high", log_w=2.0, A=0.7, clip_ratio_low=0.2, clip_ratio_high=10.0),
    ]  # fmt: skip
    cs += _error_cases(p, {"clip_ratio_low": -0.1, "clip_ratio_high": -0.1})
    cs.append(
        case("edge: clip_ratio_low > 1", log_w=0.1, A=1.0, clip_ratio_low=1.5, clip_ratio_high=0.2)
    )
    return cs


def _dual_clip_cases():
    p = {"clip_ratio_low": 0.2, "clip_ratio_high": 0.28, "clip_ratio_c": 3.0}
    cs = _token_cases(p, (0.8, 1.28, 3.0))
    cs += _seeded_token_cases(p)
    cs += [
        case("kink: eps = 0, w = 1, A < 0", log_w=0.0, A=-0.7, clip_ratio_low=0.0, clip_ratio_high=0.0, clip_ratio_c=3.0),
        case("c just above 1", log_w=0.5, A=-0.7, clip_ratio_low=0.2, clip_ratio_high=0.2, clip_ratio_c=1.0 + 1e-9),
        case("c below 1 + clip_ratio_high", log_w=0.2, A=-0.7, clip_ratio_low=0.2, clip_ratio_high=0.5, clip_ratio_c=1.1),
        case("c below 1 + clip_ratio_high, A > 0", log_w=0.2, A=0.7, clip_ratio_low=0.2, clip_ratio_high=0.5, clip_ratio_c=1.1),
    ]  # fmt: skip
    cs += _error_cases(p, {"clip_ratio_c": 1.0, "clip_ratio_low": -0.1})
    cs.append(case("edge: clip_ratio_c < 1", log_w=0.1, A=-1.0, **{**p, "clip_ratio_c": 0.5}))
    return cs


def _ppo_13_cases():
    p = {"epsilon": 0.2}
    cs = _token_cases(p, (0.8, 1.2)) + _seeded_token_cases(p)
    return cs + _error_cases(p, {"epsilon": 1.5})


def _cispo_verl_cases():
    p = {"clip_ratio_low": 0.2, "clip_ratio_high": 0.28}
    cs = _token_cases(p, (0.8, 1.28)) + _seeded_token_cases(p)
    cs += [
        case("clip_ratio_low = 1 (no lower bound)", log_w=-50.0, A=0.7, clip_ratio_low=1.0, clip_ratio_high=4.0),
        case("eps = 0: weight 1 (plain REINFORCE)", log_w=3.0, A=0.7, clip_ratio_low=0.0, clip_ratio_high=0.0),
    ]  # fmt: skip
    return cs + _error_cases(p, {"clip_ratio_low": 1.01, "clip_ratio_high": -1e-3})


def _cispo_trl_cases():
    p = {"epsilon_high": 5.0}
    cs = _token_cases(p, (5.0,)) + _seeded_token_cases(p)
    cs += [
        case("TRL default epsilon_high = epsilon = 0.2", log_w=0.0, A=0.7, epsilon_high=0.2),
        case("epsilon_high = +inf (plain IS)", log_w=30.0, A=0.7, epsilon_high=INF),
    ]
    return cs + _error_cases(p, {"epsilon_high": 0.0})


def _sapo_cases():
    p = {"tau_pos": 1.0, "tau_neg": 1.05}
    cs = _token_cases(p, (1.0,)) + _seeded_token_cases(p)
    for lw in (3.0, 4.0, 6.0, 6.6, 7.0):
        cs.append(case(f"large z, log_w={lw}", log_w=lw, A=0.7, **p))
    cs += [
        case("tau small", log_w=2.0, A=0.7, tau_pos=1e-3, tau_neg=1.05),
        case("tau large", log_w=0.01, A=-0.7, tau_pos=1.0, tau_neg=50.0),
    ]
    return cs + _error_cases(p, {"tau_pos": 0.0, "tau_neg": -1.0})


def _tis_token_cases():
    p = {"clip_min": 0.0, "clip_max": 2.0}
    cs = _token_cases(p, (2.0,)) + _seeded_token_cases(p)
    cs += [
        case("clip_min = 0.5", log_w=-3.0, A=0.7, clip_min=0.5, clip_max=2.0),
        case("clip_max = +inf", log_w=30.0, A=0.7, clip_min=0.0, clip_max=INF),
        case("clip_min = clip_max", log_w=1.0, A=0.7, clip_min=1.0, clip_max=1.0),
    ]
    return cs + _error_cases(p, {"clip_min": -0.1, "clip_max": float("nan")})


def _mis_token_cases():
    p = {"clip_min": 0.5, "clip_max": 5.0}
    cs = _token_cases(p, (0.5, 5.0)) + _seeded_token_cases(p)
    cs += [
        case("clip_max = +inf", log_w=30.0, A=0.7, clip_min=0.5, clip_max=INF),
        case("kept at w = 1 = clip_min = clip_max", log_w=0.0, A=0.7, clip_min=1.0, clip_max=1.0),
    ]
    return cs + _error_cases(p, {"clip_min": 6.0, "clip_max": -1.0})


def _topr_cases():
    return _token_cases({}, (1.0,)) + _seeded_token_cases({}) + _error_cases({}, {})


def _dft_cases():
    cs = _token_cases({}, ()) + _seeded_token_cases({})
    cs.append(case("SFT A = 1: p = 0.25", log_w=float(np.log(0.25)), A=1.0))
    return cs + _error_cases({}, {})


_SEQS = (
    ("short", [0.1, -0.2, 0.05], None),
    ("single token", [0.3], None),
    ("all zero", [0.0, 0.0, 0.0, 0.0], None),
    ("masked tail", [0.2, -0.1, 5.0, -7.0], [True, True, False, False]),
    ("masked middle", [0.01, 3.0, -0.02], [True, False, True]),
    ("empty mask", [0.5, -0.5], [False, False]),
    ("extreme +-700", [700.0, -700.0, 0.25], None),
    ("large sum", [300.0, 300.0, 100.0], None),
    ("very negative sum", [-300.0, -300.0, -100.0], None),
    ("tiny ratios", [1e-5, -2e-5, 1e-5], None),
)


def _seq_cases(params: dict[str, Any], extra_seqs=()) -> list:
    rng = np.random.default_rng(20261123)
    seqs = list(_SEQS) + list(extra_seqs)
    for i, scale in enumerate((0.01, 0.1, 0.5, 1.0)):
        lw = [float(x) for x in rng.normal(0.0, scale, size=12)]
        mask = [bool(b) for b in rng.random(12) < 0.75]
        seqs.append((f"seeded random scale={scale}", lw, mask if i % 2 else None))
    cs = []
    for a in (-1.5, -0.0, 0.0, 0.7, 1e-300, 1e3):
        for name, lw, mask in seqs:
            kw = {} if mask is None else {"mask": mask}
            cs.append(case(f"{name}, A={a!r}", log_w=lw, A=a, **kw, **params))
    cs += [
        case("edge: NaN token", log_w=[0.0, float("nan")], A=1.0, **params),
        case("edge: selected -inf", log_w=[0.0, -INF], A=1.0, **params),
        case("edge: A = inf", log_w=[0.0, 0.1], A=INF, **params),
        case("edge: mask length", log_w=[0.0, 0.1], A=1.0, mask=[True], **params),
    ]
    return cs


def _near_seq(ratio: float, n: int = 3) -> list:
    """Sequences whose geometric-mean ratio sits 1e-4 .. 1e-2 either side of ``ratio``."""
    return [
        (f"mean log-ratio near log({ratio}) {d:+g}", [float(np.log(ratio) + np.log1p(d))] * n, None)
        for d in _OFFSETS
    ]


def _near_prod(ratio: float, n: int = 3) -> list:
    """Sequences whose product ratio sits 1e-4 .. 1e-2 either side of ``ratio``."""
    return [
        (f"sum log-ratio near log({ratio}) {d:+g}", [float((np.log(ratio) + np.log1p(d)) / n)] * n, None)
        for d in _OFFSETS
    ]  # fmt: skip


def _gspo_cases():
    p = {"clip_ratio_low": 3e-4, "clip_ratio_high": 4e-4}
    cs = _seq_cases(p, _near_seq(1 - 3e-4) + _near_seq(1 + 4e-4))
    cs += [
        case("wide clip 0.2", log_w=[0.1, 0.1, -0.05], A=0.7, clip_ratio_low=0.2, clip_ratio_high=0.2),
        case("kink: eps = 0 and s = 1", log_w=[0.1, -0.1], A=0.7, clip_ratio_low=0.0, clip_ratio_high=0.0),
        case("edge: clip_ratio_low < 0", log_w=[0.1], A=0.7, clip_ratio_low=-1.0, clip_ratio_high=0.0),
    ]  # fmt: skip
    return cs


def _gspo_ratio_cases():
    cs = []
    for name, lw, mask in _SEQS:
        kw = {} if mask is None else {"mask": mask}
        cs.append(case(name, log_w=lw, **kw))
    cs += [
        case("edge: NaN token", log_w=[0.0, float("nan")]),
        case("masked-out NaN still rejected", log_w=[0.0, float("nan")], mask=[True, False]),
    ]
    return cs


def _tis_seq_cases():
    p = {"clip_min": 0.0, "clip_max": 3.0}
    cs = _seq_cases(p, _near_prod(3.0))
    cs += [
        case("clip_min = 0.5", log_w=[-1.0, -1.0], A=0.7, clip_min=0.5, clip_max=3.0),
        case("clip_max = +inf", log_w=[10.0, 10.0], A=0.7, clip_min=0.0, clip_max=INF),
        case("edge: clip_min > clip_max", log_w=[0.1], A=0.7, clip_min=4.0, clip_max=3.0),
    ]
    return cs


def _mis_seq_cases():
    p = {"clip_min": 0.5, "clip_max": 3.0}
    cs = _seq_cases(p, _near_prod(3.0) + _near_prod(0.5))
    cs += [
        case("clip_max = +inf", log_w=[10.0, 10.0], A=0.7, clip_min=0.0, clip_max=INF),
        case("edge: clip_min < 0", log_w=[0.1], A=0.7, clip_min=-1.0, clip_max=3.0),
    ]
    return cs


def _vespo_cases():
    p = {"k_pos": 2.0, "lambda_pos": 3.0, "k_neg": 3.0, "lambda_neg": 2.0}
    peak = [
        (f"near the peak W = k / lambda = {r:.4g}", [float(np.log(r)) / 2] * 2, None)
        for r in (2 / 3, 1.5)
    ]
    cs = _seq_cases(p, peak)
    cs += [
        case("k = 0, lambda = 0: weight 1", log_w=[5.0, 5.0], A=0.7, k_pos=0.0, lambda_pos=0.0, k_neg=3.0, lambda_neg=2.0),
        case("k = 0 at W -> 0", log_w=[-300.0, -300.0, -200.0], A=0.7, k_pos=0.0, lambda_pos=1.0, k_neg=3.0, lambda_neg=2.0),
        case("negative k", log_w=[-1.0], A=-0.7, k_pos=2.0, lambda_pos=3.0, k_neg=-1.0, lambda_neg=2.0),
        case("edge: lambda_pos < 0", log_w=[0.1], A=0.7, k_pos=2.0, lambda_pos=-1.0, k_neg=3.0, lambda_neg=2.0),
        case("edge: k_neg inf", log_w=[0.1], A=0.7, k_pos=2.0, lambda_pos=3.0, k_neg=INF, lambda_neg=2.0),
    ]  # fmt: skip
    return cs


_TOKEN = ("log_w", "A")

register_golden(ppo_clip, _ppo_cases, _TOKEN, ("clip_ratio_low", "clip_ratio_high"))
register_golden(
    ppo_dual_clip, _dual_clip_cases, _TOKEN, ("clip_ratio_low", "clip_ratio_high", "clip_ratio_c")
)
register_golden(ppo_phi_section_1_3, _ppo_13_cases, _TOKEN, ("epsilon",))
register_golden(cispo_verl, _cispo_verl_cases, _TOKEN, ("clip_ratio_low", "clip_ratio_high"))
register_golden(cispo_trl, _cispo_trl_cases, _TOKEN, ("epsilon_high",))
register_golden(sapo, _sapo_cases, _TOKEN, ("tau_pos", "tau_neg"))
register_golden(tis_token, _tis_token_cases, _TOKEN, ("clip_min", "clip_max"))
register_golden(mis_token, _mis_token_cases, _TOKEN, ("clip_min", "clip_max"))
register_golden(topr, _topr_cases, _TOKEN)
register_golden(dft, _dft_cases, _TOKEN)
register_golden(gspo_sequence_ratio, _gspo_ratio_cases, ("log_w",))
register_golden(gspo, _gspo_cases, _TOKEN, ("clip_ratio_low", "clip_ratio_high"))
register_golden(tis_sequence, _tis_seq_cases, _TOKEN, ("clip_min", "clip_max"))
register_golden(mis_sequence, _mis_seq_cases, _TOKEN, ("clip_min", "clip_max"))
register_golden(vespo, _vespo_cases, _TOKEN, ("k_pos", "lambda_pos", "k_neg", "lambda_neg"))
