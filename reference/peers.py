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


# ============================================================================ issue 13 designs
# GPG, GMPO, KL-Cov, Clip-Cov and batch-normalised truncated IS (issue 13, item 6), in the same
# phi form. Facts from verl ``verl/trainer/ppo/core_algos.py`` (``compute_policy_loss_gpg``,
# ``_geo_mean``, ``_kl_cov``, ``_clip_cov``) and ``verl/trainer/ppo/rollout_corr_helper.py``
# (``compute_rollout_correction_weights``), read at verl commit b178a3c (2026-01-29).
#
# Batch designs (kl_cov, clip_cov, tis_*_batch_normalized) take a *batch*: ``log_w`` as a list
# of B sequences of T token log-ratios, ``A`` as B lists of 1 (per sequence) or T (per token)
# advantages, ``mask`` as B lists of T booleans (None = all); they return B lists of T phi.
# Every batch statistic (means, covariances, counts, the normalising mean) is over the tokens
# selected by ``mask`` only; masked-out tokens get phi = 0 and never enter a statistic.


def gpg(log_w, A):
    """GPG (Group Policy Gradient, Chu et al. 2025, arXiv 2504.02546): phi = A, whatever w.

    Loss (verl ``compute_policy_loss_gpg``, ``loss_mode="gpg"``): L = -A log pi_theta per token,
    aggregated by ``agg_loss`` (default token-mean); no ratio, no clip, no KL. Its gradient in
    log pi is -A, so phi = A: the REINFORCE / SFT weight without importance correction (the
    estimator E_mu[A grad log pi] is unbiased only on-policy, w = 1; GPG runs one update per
    batch). The paper's other half is the advantage, not the loss: A = alpha (r - mean_group r)
    / F_norm with F_norm = 1 (no std) and alpha = B / (B - M), M the number of samples in
    groups whose rewards are all equal (verl ``compute_gpg_outcome_advantage``); pass that A.
    Domain: log_w not NaN and < +inf (it is checked, then unused; -inf gives A), A finite.
    No kink. verl also multiplies by optional rollout-correction weights (not part of phi).
    TRL has no GPG loss type (checked at f2cd577); its ``loss_type="grpo"`` with one update
    per batch (w = 1) has the same phi = A.
    """
    _token_inputs(log_w, A)
    return +mpmath.mpf(A)


def _gmpo_clipped(lw, a, lo, hi):
    """(clipped log-ratio, gradient passes) of verl's sign trick sgn min(sgn l, sgn clamp(l))."""
    if a > 0:
        return (lw, True) if lw <= hi else (hi, False)
    if a < 0:
        return (lw, True) if lw >= -lo else (-lo, False)
    return mpmath.mpf(0), False


def gmpo(log_w, A, mask=None, clip_ratio_low=0.4, clip_ratio_high=0.4):
    """GMPO per-token weight: phi_t = r A where token t's log-ratio is unclipped, else 0.

    GMPO (Geometric-Mean Policy Optimization, Zhao et al. 2025, arXiv 2507.20673; verl
    ``compute_policy_loss_geo_mean``, ``loss_mode="geo_mean"``) maximises the geometric mean
    of the clipped token ratios of a sequence: the sequence loss is -A r with
    r = exp(mean over the selected tokens of c_t), where the token log-ratio l_t = log w_t is
    clipped in log space, pessimistically by the sign of A:
    c_t = min(l_t, clip_ratio_high) for A > 0, c_t = max(l_t, -clip_ratio_low) for A < 0
    (verl: sgn(A) min(sgn(A) l, sgn(A) clamp(l, -low, high)); for A > 0 a very negative l_t is
    NOT clipped, as in PPO). d(-A r)/dl_t = -A r 1[t unclipped] / n, so phi_t = r A on the
    selected tokens whose l_t is inside (closed: l_t == high for A > 0 and l_t == -low for
    A < 0 count as inside), 0 on clipped and masked-out tokens; the 1/n is the token-mean of
    the aggregation: verl's loss (mean over sequences of -A r) is ``seq-mean-token-mean`` of
    -phi (verl's torch.mean also counts fully masked sequences in its denominator, and adds
    1e-8 to the token count: not reproduced).
    TRL's experimental ``GMPOTrainer`` (``trl/experimental/gmpo``, read at f2cd577) computes
    the same per-sequence loss (clamp in log space, then minimum for A > 0 and maximum
    otherwise, token count clamped at 1, plain mean over sequences) with ``epsilon`` (default
    0.4) and ``epsilon_high`` (default ``epsilon``) as clip_ratio_low / clip_ratio_high; its
    optional entropy mask (``top_entropy_quantile``) and KL term are not part of phi.
    Defaults: the GMPO paper's range (e^-0.4, e^0.4), clip_ratio_low = clip_ratio_high = 0.4,
    as TRL's GMPOConfig and verl's example script (verl itself falls back on its global
    clip_ratio, 0.2, when unset). verl averages a per-token A over the sequence; here A is the
    per-sequence advantage (the torch twin also takes verl's per-token form).
    A = 0 (or -0): all zeros. Empty mask: all zeros. Domain: clip ratios finite >= 0; selected
    log_w finite (module docstring).
    """
    lw, keep, a = _seq_inputs(log_w, A, mask)
    lo = require_range("clip_ratio_low", require_finite("clip_ratio_low", clip_ratio_low), lo=0)
    hi = require_range("clip_ratio_high", require_finite("clip_ratio_high", clip_ratio_high), lo=0)
    zero = mpmath.mpf(0)
    n = sum(keep)
    if n == 0 or a == 0:
        return [zero] * len(lw)
    clipped = [_gmpo_clipped(v, a, lo, hi) if k else (zero, False) for v, k in zip(lw, keep)]
    r = mpmath.exp(mpmath.fsum(c for (c, _), k in zip(clipped, keep) if k) / n)
    return [r * a if k and inside else zero for (_, inside), k in zip(clipped, keep)]


def _batch_inputs(log_w, A, mask, log_prob=None):
    """Validated batch: (B x T log_w, B x T A, B x T keep, B x T log_prob or None)."""
    if not isinstance(log_w, (list, tuple)) or not all(isinstance(r, (list, tuple)) for r in log_w):
        raise ValueError(f"log_w must be a list of sequences (B lists of T), got {log_w!r}")
    B = len(log_w)
    T = len(log_w[0]) if B else 0
    if any(len(r) != T for r in log_w):
        raise ValueError(f"log_w rows must have one length T, got {[len(r) for r in log_w]}")
    lw = [as_mp_list(f"log_w[{b}]", r) for b, r in enumerate(log_w)]
    if mask is None:
        keep = [[True] * T for _ in range(B)]
    else:
        if len(mask) != B:
            raise ValueError(f"mask has {len(mask)} rows, log_w {B}")
        keep = [as_mask(f"mask[{b}]", m, T) for b, m in enumerate(mask)]
    if not isinstance(A, (list, tuple)) or len(A) != B:
        raise ValueError(f"A must be B = {B} lists of 1 or T = {T} advantages, got {A!r}")
    adv = []
    for b, row in enumerate(A):
        if not isinstance(row, (list, tuple)) or len(row) not in (1, T):
            raise ValueError(f"A[{b}] must hold 1 or T = {T} advantages, got {row!r}")
        vals = [require_finite(f"A[{b}]", v) for v in row]
        adv.append(vals * T if len(vals) == 1 else vals)
    for b in range(B):
        for t in range(T):
            if keep[b][t] and not mpmath.isfinite(lw[b][t]):
                raise ValueError(
                    f"log_w[{b}][{t}] is selected by mask and must be finite, got {lw[b][t]}"
                )
    lp = None
    if log_prob is not None:
        if len(log_prob) != B or any(len(r) != T for r in log_prob):
            raise ValueError("log_prob must have the shape of log_w")
        lp = [as_mp_list(f"log_prob[{b}]", r) for b, r in enumerate(log_prob)]
        for b in range(B):
            for t in range(T):
                v = lp[b][t]
                if keep[b][t] and not (mpmath.isfinite(v) and v <= 0):
                    raise ValueError(
                        f"log_prob[{b}][{t}] must be a finite log-probability (<= 0) where "
                        f"mask is set, got {v}"
                    )
    return lw, adv, keep, lp


def _masked_cov(adv, lp, keep):
    """(A_t - mean A)(log pi_t - mean log pi), means over the selected tokens; None if none."""
    cells = [(b, t) for b, row in enumerate(keep) for t, k in enumerate(row) if k]
    if not cells:
        return cells, None
    n = len(cells)
    a_bar = mpmath.fsum(adv[b][t] for b, t in cells) / n
    l_bar = mpmath.fsum(lp[b][t] for b, t in cells) / n
    return cells, {(b, t): (adv[b][t] - a_bar) * (lp[b][t] - l_bar) for b, t in cells}


def _verl_count(ratio, n: int) -> int:
    """max(1, int(ratio * n)) as verl computes it: the float64 product, truncated."""
    return max(1, int(float(ratio) * float(n)))


def _ratio_in_unit(name, value):
    return require_range(name, require_finite(name, value), lo=0, hi=1, lo_open=True)


def kl_cov(log_w, A, log_prob, mask=None, kl_cov_ratio=0.0002, ppo_kl_coef=1.0):
    """KL-Cov (Cui et al. 2025, arXiv 2505.22617): plain IS, plus a |log w| penalty on the top-k
    tokens by covariance of log pi and A.

    verl ``compute_policy_loss_kl_cov`` (``loss_mode="kl_cov"``): over the selected tokens of
    the batch, cov_t = (A_t - mean A)(log pi_t - mean log pi) (log pi = ``log_prob``, the
    current policy's token log-probability; means over the selected tokens); the
    k = max(1, int(kl_cov_ratio N)) tokens of largest cov_t (N = number of selected tokens,
    the product in float64 as verl computes it) get the loss -A w + ppo_kl_coef |log w|, every
    other selected token -A w (no clip). phi = -dL/dlog w: w A off the top-k,
    w A - ppo_kl_coef sign(log w) on it, sign(0) = 0 (the subgradient of |x| at 0 torch's abs
    passes), 0 on masked-out tokens. Defaults are verl's (kl_cov_ratio 2e-4, ppo_kl_coef 1.0).
    Deterministic: equal covariances are ranked by their position in the batch (row-major,
    earlier first); torch.topk leaves that order unspecified. verl selects per call of the
    loss (a micro-batch); so does this function (one call = one batch). TRL has no KL-Cov /
    Clip-Cov (checked at f2cd577).
    Domain: kl_cov_ratio in (0, 1], ppo_kl_coef finite >= 0, log_prob finite and <= 0 and
    log_w finite where mask is set, A finite. Empty mask: all zeros.
    """
    lw, adv, keep, lp = _batch_inputs(log_w, A, mask, log_prob)
    ratio = _ratio_in_unit("kl_cov_ratio", kl_cov_ratio)
    coef = require_range("ppo_kl_coef", require_finite("ppo_kl_coef", ppo_kl_coef), lo=0)
    cells, cov = _masked_cov(adv, lp, keep)
    out = [[mpmath.mpf(0)] * len(r) for r in lw]
    if not cells:
        return out
    k = _verl_count(ratio, len(cells))
    order = sorted(cells, key=lambda c: (-cov[c], c))
    top = set(order[:k])
    for b, t in cells:
        phi = mpmath.exp(lw[b][t]) * adv[b][t]
        if (b, t) in top:
            phi -= coef * mpmath.sign(lw[b][t])
        out[b][t] = phi
    return out


def clip_cov(
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
    """Clip-Cov (Cui et al. 2025, arXiv 2505.22617): PPO clip, with the gradient of a few
    high-covariance tokens detached (phi = 0).

    verl ``compute_policy_loss_clip_cov`` (``loss_mode="clip_cov"``): the PPO loss
    -min(w A, clip(w, 1 - low, 1 + high) A) times corr_t, corr_t = 0 on the chosen tokens, 1
    elsewhere. Candidates: selected tokens that PPO does not clip (-A clip(w) > -A w is false),
    with clip_cov_lb < cov_t < clip_cov_ub, cov_t = (A_t - mean A)(log pi_t - mean log pi) over
    the selected tokens (log pi = ``log_prob``). verl chooses min(n, #candidates) of them
    uniformly at random (torch.randperm), n = max(1, int(clip_cov_ratio N)) (float64 product,
    N = number of selected tokens). Here the choice is explicit and deterministic:
    ``priority=None`` takes the candidates of largest cov_t (the kl_cov rule); a ``priority``
    of B x T reals takes the candidates of smallest priority, so
    ``priority = torch.rand(shape, generator=g)`` reproduces verl's uniform choice with a
    seeded generator. Ties (equal cov or priority) go to the earlier position (row-major).
    phi_t = the ppo_clip phi (closed interval, module docstring) off the chosen tokens, 0 on
    them and on masked-out tokens. Defaults: verl's (clip ratios 0.2, clip_cov_ratio 2e-4,
    lb 1.0, ub 5.0). Domain: clip ratios as :func:`ppo_clip`, clip_cov_ratio in (0, 1],
    clip_cov_lb <= clip_cov_ub (not NaN, may be infinite), priority finite where given, the
    rest as :func:`kl_cov`. Empty mask: all zeros.
    """
    lw, adv, keep, lp = _batch_inputs(log_w, A, mask, log_prob)
    lo, hi = _clip_bounds(clip_ratio_low, clip_ratio_high)
    ratio = _ratio_in_unit("clip_cov_ratio", clip_cov_ratio)
    lb = require_not_nan("clip_cov_lb", clip_cov_lb)
    ub = require_not_nan("clip_cov_ub", clip_cov_ub)
    if lb > ub:
        raise ValueError(
            f"clip_cov_ub must be >= clip_cov_lb, got {clip_cov_ub!r} < {clip_cov_lb!r}"
        )
    prio = None
    if priority is not None:
        if len(priority) != len(lw) or any(len(p) != len(r) for p, r in zip(priority, lw)):
            raise ValueError("priority must have the shape of log_w")
        prio = [
            [require_finite(f"priority[{b}]", v) for v in row] for b, row in enumerate(priority)
        ]
    cells, cov = _masked_cov(adv, lp, keep)
    out = [[mpmath.mpf(0)] * len(r) for r in lw]
    if not cells:
        return out
    phi = {(b, t): _ppo_rule(mpmath.exp(lw[b][t]), adv[b][t], lo, hi) for b, t in cells}

    def clipped(b, t):
        w, a = mpmath.exp(lw[b][t]), adv[b][t]
        return (a > 0 and w > hi) or (a < 0 and w < lo)

    cand = [c for c in cells if not clipped(*c) and lb < cov[c] < ub]
    n = _verl_count(ratio, len(cells))
    if prio is None:
        cand.sort(key=lambda c: (-cov[c], c))
    else:
        cand.sort(key=lambda c: (prio[c[0]][c[1]], c))
    chosen = set(cand[:n])
    for c in cells:
        out[c[0]][c[1]] = mpmath.mpf(0) if c in chosen else phi[c]
    return out


def _tis_cap(clip_max):
    return require_range("clip_max", clip_max, lo=0, lo_open=True)


def _min_mean(min_mean):
    return require_range("min_mean", require_finite("min_mean", min_mean), lo=0)


def tis_token_batch_normalized(log_w, A, mask=None, clip_max=2.0, min_mean=1e-8):
    """Token TIS normalised to batch mean 1: phi_t = A_t v_t / m, v_t = min(w_t, clip_max),
    m = mean of v over the selected tokens of the batch.

    verl rollout correction, ``rollout_is="token"`` with ``rollout_is_batch_normalize=True``
    (``compute_rollout_correction_weights``): the truncated weight min(w, rollout_is_threshold)
    (default 2.0), then divided by its masked mean over the batch when that mean exceeds 1e-8
    (else left unnormalised); stop-gradient, multiplying the loss. As a design here it
    multiplies a REINFORCE term like :func:`tis_token` (L = -sg(v / m) A log pi). verl clamps
    log w to [-20, 20] before exp (not reproduced) and, under torch.distributed, takes the mean
    over all ranks (here: over the one batch given). TRL's vLLM importance sampling has no
    batch normalisation (checked at f2cd577). Domain: clip_max > 0 (+inf: no
    truncation), min_mean finite >= 0 (m <= min_mean: no normalisation, phi = A v); selected
    log_w finite. Empty mask: all zeros.
    """
    lw, adv, keep, _ = _batch_inputs(log_w, A, mask)
    cap, floor = _tis_cap(clip_max), _min_mean(min_mean)
    cells = [(b, t) for b, row in enumerate(keep) for t, k in enumerate(row) if k]
    out = [[mpmath.mpf(0)] * len(r) for r in lw]
    if not cells:
        return out
    v = {(b, t): min(mpmath.exp(lw[b][t]), cap) for b, t in cells}
    m = mpmath.fsum(v.values()) / len(cells)
    scale = m if m > floor else mpmath.mpf(1)
    for b, t in cells:
        out[b][t] = v[(b, t)] / scale * adv[b][t]
    return out


def tis_sequence_batch_normalized(log_w, A, mask=None, clip_max=2.0, min_mean=1e-8):
    """Sequence TIS normalised to batch mean 1: phi_t = A V_b / m on sequence b's selected
    tokens, V_b = min(prod of its w_t, clip_max), m = mean of V over the non-empty sequences.

    verl rollout correction, ``rollout_is="sequence"`` with ``rollout_is_batch_normalize=True``:
    V_b = min(exp(sum of the selected log w_t), rollout_is_threshold) (default 2.0), normalised
    by the mean of V_b over the sequences with >= 1 selected token when that mean exceeds 1e-8
    (else unnormalised); as a design it multiplies a REINFORCE term like :func:`tis_sequence`.
    verl clamps the summed log-ratio to [-20, 20] (not reproduced). Domain as
    :func:`tis_token_batch_normalized`. Fully masked sequences get zeros and are not counted;
    an empty mask gives all zeros.
    """
    lw, adv, keep, _ = _batch_inputs(log_w, A, mask)
    cap, floor = _tis_cap(clip_max), _min_mean(min_mean)
    out = [[mpmath.mpf(0)] * len(r) for r in lw]
    rows = [b for b, row in enumerate(keep) if any(row)]
    if not rows:
        return out
    V = {b: min(mpmath.exp(_sequence_log_ratio(lw[b], keep[b])), cap) for b in rows}
    m = mpmath.fsum(V.values()) / len(rows)
    scale = m if m > floor else mpmath.mpf(1)
    for b in rows:
        for t, k in enumerate(keep[b]):
            if k:
                out[b][t] = V[b] / scale * adv[b][t]
    return out


# ----------------------------------------------------------------------------- issue 13 fixtures


def _gpg_cases():
    return _token_cases({}, ()) + _seeded_token_cases({}) + _error_cases({}, {})


def _gmpo_near(value: float) -> list:
    """Sequences whose first token log-ratio sits 1e-4 .. 1e-2 (absolute) either side of value."""
    return [
        (f"first log-ratio near {value:+g} {d:+g}", [value + d, 0.1, -0.2], None) for d in _OFFSETS
    ]


def _gmpo_cases():
    p = {"clip_ratio_low": 0.4, "clip_ratio_high": 0.4}
    cs = _seq_cases(p, _gmpo_near(0.4) + _gmpo_near(-0.4))
    cs += [
        case("kink: log w == clip_ratio_high, A > 0 (inside)", log_w=[0.5, 0.1], A=0.7, clip_ratio_low=0.5, clip_ratio_high=0.5),
        case("kink: log w == -clip_ratio_low, A < 0 (inside)", log_w=[-0.5, 0.1], A=-0.7, clip_ratio_low=0.5, clip_ratio_high=0.5),
        case("A > 0: very negative log w not clipped", log_w=[-5.0, 0.9, 0.1], A=0.7, **p),
        case("A < 0: very positive log w not clipped", log_w=[5.0, -0.9, 0.1], A=-0.7, **p),
        case("zero range: every token on the bound", log_w=[0.0, 0.0], A=0.7, clip_ratio_low=0.0, clip_ratio_high=0.0),
        case("zero range, A > 0", log_w=[0.1, -0.1, 0.0], A=0.7, clip_ratio_low=0.0, clip_ratio_high=0.0),
        case("verl global default 0.2", log_w=[0.3, 0.1, -0.3], A=-1.1, clip_ratio_low=0.2, clip_ratio_high=0.2),
        case("asymmetric range", log_w=[0.3, 0.1, -0.3], A=1.1, clip_ratio_low=0.1, clip_ratio_high=0.25),
        case("edge: clip_ratio_low < 0", log_w=[0.1], A=0.7, clip_ratio_low=-0.1, clip_ratio_high=0.4),
        case("edge: clip_ratio_high inf", log_w=[0.1], A=0.7, clip_ratio_low=0.4, clip_ratio_high=INF),
    ]  # fmt: skip
    return cs


_B, _T = 4, 5


def _rows(x) -> list:
    return [[float(v) for v in row] for row in np.asarray(x)]


def _batch_seeded(seed: int, B: int = _B, T: int = _T, scale: float = 0.3):
    rng = np.random.default_rng(seed)
    log_w = _rows(rng.normal(0.0, scale, size=(B, T)))
    log_prob = _rows(-np.abs(rng.normal(1.0, 1.0, size=(B, T))))
    mask = [[bool(v) for v in row] for row in rng.random((B, T)) < 0.75]
    return log_w, log_prob, mask


_ADV_SEQ = [[1.2], [-0.8], [0.5], [-0.9]]
_ADV_BIG = [[2.0], [-1.5], [1.0], [-2.5]]


def _tie_batch():
    """Rows 0 and 2 identical (A and log pi), row 0's first token the largest covariance: a
    tie at the top, broken by position (row 0 first)."""
    lp = [[-0.05, -1.0, -2.0, -1.5, -1.0], [-1.0] * 5, [-0.05, -1.0, -2.0, -1.5, -1.0], [-1.0] * 5]
    lw = [
        [0.1, -0.2, 0.05, 0.0, 0.3],
        [0.2, 0.1, -0.1, 0.0, 0.05],
        [0.2, 0.2, -0.3, 0.1, 0.1],
        [-0.1, 0.1, 0.2, -0.2, 0.0],
    ]
    return lw, lp, [[1.0], [-1.0], [1.0], [-1.0]]  # fmt: skip


def _batch_error_cases(params: dict[str, Any], bad: dict[str, Any], with_log_prob: bool) -> list:
    lw, lp, _ = _batch_seeded(7)
    extra = {"log_prob": lp} if with_log_prob else {}
    nan_row = [[float("nan")] + lw[0][1:]] + lw[1:]
    cs = [
        case("edge: NaN log_w", log_w=nan_row, A=_ADV_SEQ, **extra, **params),
        case("edge: selected -inf log_w", log_w=[[-INF] + lw[0][1:]] + lw[1:], A=_ADV_SEQ, **extra, **params),
        case("edge: A = inf", log_w=lw, A=[[INF], [1.0], [1.0], [1.0]], **extra, **params),
        case("edge: A of shape (B,) (would broadcast along T)", log_w=lw, A=[1.0, -1.0, 0.5, 0.2], **extra, **params),
        case("edge: mask row too short", log_w=lw, A=_ADV_SEQ, mask=[[True] * (_T - 1)] * _B, **extra, **params),
    ]  # fmt: skip
    if with_log_prob:
        pos = [[0.5] + lp[0][1:]] + lp[1:]
        cs.append(
            case(
                "edge: log_prob > 0 (a probability?)", log_w=lw, A=_ADV_SEQ, log_prob=pos, **params
            )
        )
    for name, value in bad.items():
        cs.append(
            case(
                f"edge: {name} = {value!r}",
                log_w=lw,
                A=_ADV_SEQ,
                **extra,
                **{**params, name: value},
            )
        )
    return cs


def _kl_cov_cases():
    cs = []
    for seed in range(4):
        lw, lp, mask = _batch_seeded(100 + seed)
        for ratio, coef in ((0.0002, 1.0), (0.1, 1.0), (0.25, 0.5), (1.0, 1.0)):
            p = {"kl_cov_ratio": ratio, "ppo_kl_coef": coef}
            cs.append(
                case(
                    f"seeded batch {seed}, ratio {ratio}, coef {coef}",
                    log_w=lw,
                    A=_ADV_SEQ,
                    log_prob=lp,
                    **p,
                )
            )
            cs.append(
                case(
                    f"seeded batch {seed} masked, ratio {ratio}, coef {coef}",
                    log_w=lw,
                    A=_ADV_SEQ,
                    log_prob=lp,
                    mask=mask,
                    **p,
                )
            )
    lw, lp, adv = _tie_batch()
    p = {"kl_cov_ratio": 0.0002, "ppo_kl_coef": 1.0}
    cs.append(
        case(
            "tie at the top: the earlier position (row 0) is chosen",
            log_w=lw,
            A=adv,
            log_prob=lp,
            **p,
        )
    )
    cs.append(
        case("tie, k = 2: both", log_w=lw, A=adv, log_prob=lp, kl_cov_ratio=0.1, ppo_kl_coef=1.0)
    )
    zero_top = [[0.0] + lw[0][1:]] + lw[1:]
    cs.append(case("top token has log w = 0: sign(0) = 0", log_w=zero_top, A=adv, log_prob=lp, **p))
    lw, lp, mask = _batch_seeded(110)
    mask[1] = [False] * _T
    cs.append(
        case(
            "a fully masked row",
            log_w=lw,
            A=_ADV_SEQ,
            log_prob=lp,
            mask=mask,
            kl_cov_ratio=0.25,
            ppo_kl_coef=1.0,
        )
    )
    cs.append(
        case(
            "empty mask: all zeros",
            log_w=lw,
            A=_ADV_SEQ,
            log_prob=lp,
            mask=[[False] * _T] * _B,
            **p,
        )
    )
    cs.append(
        case(
            "coef 0: plain IS", log_w=lw, A=_ADV_SEQ, log_prob=lp, kl_cov_ratio=0.5, ppo_kl_coef=0.0
        )
    )
    # verl's count: int(0.3 * 10) in float64 is 3 (0.3 * 10 rounds to 3.0); exactly it is 2.999...
    lw2, lp2, _ = _batch_seeded(111, B=2)
    cs.append(
        case(
            "k = int(fl(0.3 * 10)) = 3 (float64 product, as verl)",
            log_w=lw2,
            A=[[1.0], [-0.5]],
            log_prob=lp2,
            kl_cov_ratio=0.3,
            ppo_kl_coef=1.0,
        )
    )
    lw3, lp3, _ = _batch_seeded(112, B=3)
    adv_tok = _rows(np.random.default_rng(113).normal(0.0, 1.0, size=(3, _T)))
    cs.append(
        case(
            "per-token advantages",
            log_w=lw3,
            A=adv_tok,
            log_prob=lp3,
            kl_cov_ratio=0.2,
            ppo_kl_coef=1.0,
        )
    )
    big = [[700.0, -700.0, 0.0, 0.1, -0.1]] + lw3[1:]
    cs.append(
        case(
            "extreme log w +-700",
            log_w=big,
            A=adv_tok,
            log_prob=lp3,
            kl_cov_ratio=0.2,
            ppo_kl_coef=1.0,
        )
    )
    cs += _batch_error_cases(p, {"kl_cov_ratio": 0.0, "ppo_kl_coef": -1.0}, True)
    cs.append(
        case(
            "edge: kl_cov_ratio > 1",
            log_w=lw,
            A=_ADV_SEQ,
            log_prob=lp,
            kl_cov_ratio=1.5,
            ppo_kl_coef=1.0,
        )
    )
    return cs


def _clip_cov_cases():
    base = {"clip_ratio_low": 0.2, "clip_ratio_high": 0.2}
    cs = []
    for seed in range(4):
        lw, lp, mask = _batch_seeded(200 + seed, scale=0.2)
        lp = [[3 * v for v in row] for row in lp]  # covariances of order 1..5
        for ratio, lb, ub in (
            (0.0002, 1.0, 5.0),
            (0.1, 1.0, 5.0),
            (0.25, -INF, INF),
            (1.0, 0.5, 3.0),
        ):
            p = {**base, "clip_cov_ratio": ratio, "clip_cov_lb": lb, "clip_cov_ub": ub}
            cs.append(
                case(
                    f"seeded batch {seed}, ratio {ratio}, band ({lb}, {ub})",
                    log_w=lw,
                    A=_ADV_BIG,
                    log_prob=lp,
                    **p,
                )
            )
            cs.append(
                case(
                    f"seeded batch {seed} masked, ratio {ratio}, band ({lb}, {ub})",
                    log_w=lw,
                    A=_ADV_BIG,
                    log_prob=lp,
                    mask=mask,
                    **p,
                )
            )
        prio = _rows(np.random.default_rng(300 + seed).random((_B, _T)))
        p = {**base, "clip_cov_ratio": 0.25, "clip_cov_lb": -INF, "clip_cov_ub": INF}
        cs.append(
            case(
                f"seeded batch {seed}, uniform priority (verl's random choice, seeded)",
                log_w=lw,
                A=_ADV_BIG,
                log_prob=lp,
                priority=prio,
                **p,
            )
        )
    lw, lp, mask = _batch_seeded(210, scale=0.2)
    lp = [[3 * v for v in row] for row in lp]
    p = {**base, "clip_cov_ratio": 0.25, "clip_cov_lb": -INF, "clip_cov_ub": INF}
    cs.append(
        case(
            "equal priorities: the earliest candidates",
            log_w=lw,
            A=_ADV_BIG,
            log_prob=lp,
            priority=[[0.0] * _T] * _B,
            **p,
        )
    )
    clipped = [[1.0, -1.0] + lw[0][2:]] + lw[1:]  # A > 0: w = e > 1.2 clipped; w = 1/e inside
    cs.append(
        case("tokens PPO clips are never candidates", log_w=clipped, A=_ADV_BIG, log_prob=lp, **p)
    )
    for d in (-1e-3, 1e-3):
        near = [[float(np.log(1.2)) + d] + lw[0][1:]] + lw[1:]
        cs.append(case(f"log w = log(1 + high) {d:+g}", log_w=near, A=_ADV_BIG, log_prob=lp, **p))
    lw_t, lp_t, adv_t = _tie_batch()
    lw_t[2][0] = 0.15  # inside PPO's region, so the tie is between two candidates
    cs.append(
        case(
            "tie at the top of cov: the earlier position",
            log_w=lw_t,
            A=adv_t,
            log_prob=lp_t,
            **{**p, "clip_cov_ratio": 0.0002},
        )
    )
    cs.append(
        case(
            "empty band: PPO",
            log_w=lw,
            A=_ADV_BIG,
            log_prob=lp,
            **{**p, "clip_cov_lb": 100.0, "clip_cov_ub": 200.0},
        )
    )
    cs.append(
        case(
            "empty mask: all zeros",
            log_w=lw,
            A=_ADV_BIG,
            log_prob=lp,
            mask=[[False] * _T] * _B,
            **p,
        )
    )
    lw3, lp3, _ = _batch_seeded(212, B=3)
    adv_tok = _rows(np.random.default_rng(213).normal(0.0, 2.0, size=(3, _T)))
    cs.append(case("per-token advantages", log_w=lw3, A=adv_tok, log_prob=lp3, **p))
    p0 = {**base, "clip_cov_ratio": 0.0002, "clip_cov_lb": 1.0, "clip_cov_ub": 5.0}
    cs += _batch_error_cases(
        p0, {"clip_cov_ratio": 0.0, "clip_ratio_low": 1.5, "clip_cov_lb": float("nan")}, True
    )
    cs.append(
        case(
            "edge: clip_cov_ub < clip_cov_lb",
            log_w=lw,
            A=_ADV_BIG,
            log_prob=lp,
            **{**p0, "clip_cov_lb": 5.0, "clip_cov_ub": 1.0},
        )
    )
    cs.append(
        case(
            "edge: priority NaN",
            log_w=lw,
            A=_ADV_BIG,
            log_prob=lp,
            priority=[[float("nan")] * _T] * _B,
            **p0,
        )
    )
    return cs


def _tis_norm_cases(scale: float):
    cs = []
    for seed in range(4):
        lw, _, mask = _batch_seeded(400 + seed, scale=scale)
        for cap in (2.0, INF, 0.5):
            p = {"clip_max": cap, "min_mean": 1e-8}
            cs.append(case(f"seeded batch {seed}, clip_max {cap}", log_w=lw, A=_ADV_SEQ, **p))
            cs.append(
                case(
                    f"seeded batch {seed} masked, clip_max {cap}",
                    log_w=lw,
                    A=_ADV_SEQ,
                    mask=mask,
                    **p,
                )
            )
    lw, _, mask = _batch_seeded(410, scale=scale)
    p = {"clip_max": 2.0, "min_mean": 1e-8}
    tiny = [[v - 30.0 for v in row] for row in lw]
    cs.append(case("mean below min_mean: not normalised", log_w=tiny, A=_ADV_SEQ, **p))
    cs.append(
        case("min_mean 0: always normalised", log_w=tiny, A=_ADV_SEQ, clip_max=2.0, min_mean=0.0)
    )
    big = [[v + 30.0 for v in row] for row in lw]
    cs.append(case("every weight at the cap: weight 1", log_w=big, A=_ADV_SEQ, **p))
    mask_row = [list(r) for r in mask]
    mask_row[2] = [False] * _T
    cs.append(case("a fully masked row", log_w=lw, A=_ADV_SEQ, mask=mask_row, **p))
    cs.append(case("empty mask: all zeros", log_w=lw, A=_ADV_SEQ, mask=[[False] * _T] * _B, **p))
    cs.append(
        case("extreme log w", log_w=[[700.0, -700.0, 0.0, 1.0, -1.0]] + lw[1:], A=_ADV_SEQ, **p)
    )
    lw3, _, _ = _batch_seeded(412, B=3, scale=scale)
    adv_tok = _rows(np.random.default_rng(413).normal(0.0, 1.0, size=(3, _T)))
    cs.append(case("per-token advantages", log_w=lw3, A=adv_tok, **p))
    cs += _batch_error_cases(p, {"clip_max": 0.0, "min_mean": -1.0}, False)
    cs.append(case("edge: min_mean inf", log_w=lw, A=_ADV_SEQ, clip_max=2.0, min_mean=INF))
    return cs


register_golden(gpg, _gpg_cases, _TOKEN)
register_golden(gmpo, _gmpo_cases, _TOKEN, ("clip_ratio_low", "clip_ratio_high"))
register_golden(kl_cov, _kl_cov_cases, ("log_w", "A", "log_prob"), ("kl_cov_ratio", "ppo_kl_coef"))
register_golden(
    clip_cov,
    _clip_cov_cases,
    ("log_w", "A", "log_prob"),
    (
        "clip_ratio_low",
        "clip_ratio_high",
        "clip_cov_ratio",
        "clip_cov_lb",
        "clip_cov_ub",
        "priority",
    ),
)
register_golden(
    tis_token_batch_normalized,
    lambda: _tis_norm_cases(0.5),
    _TOKEN,
    ("clip_max", "min_mean"),
)
register_golden(
    tis_sequence_batch_normalized,
    lambda: _tis_norm_cases(0.2),
    _TOKEN,
    ("clip_max", "min_mean"),
)
