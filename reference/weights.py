"""Gradient weights phi(w, A) and the objectives f(w, A) they integrate to (seed 002, v8).

Every design is a per-token gradient weight: the policy gradient is E_mu[phi(w, A) grad log pi]
with w = pi_theta / mu. Inputs are log-domain: ``log_w`` = log pi_theta - log mu and the
advantage ``A``; w^gamma is always exp(gamma log_w), so log_w = +-700 and beyond is exact here
(the float64 value may still over- or underflow; that is the correct rounding, never a NaN).

Conventions shared by every function of this module:

* ``log_w`` and ``A`` must be finite; NaN or +-inf raise ``ValueError`` naming the argument.
* ``A == 0`` (and ``A == -0.0``) gives exactly 0 for every design, also where w^gamma
  overflows (the product is 0, not inf * 0).
* Parameters must be finite and inside the documented domain, else ``ValueError``.
* A parameter may be given per token (the torch twins broadcast it), so a per-sign exponent is
  just ``gamma = gamma_pos if A > 0 else gamma_neg``; :func:`asymmetric_power_weight` spells that
  out.

Where the seed's reference code (appendix B) computes something different from its text, the
code is kept as written under ``<name>_seed_code`` next to the text / corrected version.
"""

from __future__ import annotations

import math

import mpmath

from isreshape.reference._checks import require_finite, require_range
from isreshape.reference._mp import sigmoid as _sigmoid
from isreshape.reference.golden import case, register_golden

# Defaults of the seed's appendix-B code.
SEED_CLAMP = 20.0  # GradientWeightDesign / SFTGradientWeight clamp log_w to [-20, 20]
SEED_SATURATION_THRESHOLD = 3.0
SEED_SATURATION_LAMBDA = 1.0
SEED_SFT_GAMMA = 0.5
SEED_MM_TAU = 1.0

# ------------------------------------------------------------------------------- helpers


def _inputs(log_w, A):
    return require_finite("log_w", log_w), require_finite("A", A)


def _param(name, value, lo=None, lo_open=False):
    v = require_finite(name, value)
    if lo is not None:
        require_range(name, v, lo=lo, lo_open=lo_open)
    return v


def _pow_w(log_w, gamma):
    """w^gamma = exp(gamma log_w)."""
    return mpmath.exp(gamma * log_w)


def _times_A(mag, A):
    """mag * A with the documented A == 0 -> 0."""
    return mpmath.mpf(0) if A == 0 else mag * A


# ------------------------------------------------------------------------ power family


def power_weight(log_w, A, gamma):
    """phi(w, A) = w^gamma A (seed 002 sections 1.3, 4.1, 9.1; seed 001's f(w) = w^gamma).

    gamma = 1 is importance sampling (unbiased, Theorem 2.1), gamma = 0 is weighted SFT
    (phi = A). Domain: log_w, A, gamma finite (any real gamma; the seed uses [0, 2]).
    Edges: A == 0 gives 0 at every w; w -> 0 (log_w -> -inf) gives 0 for gamma > 0 and A for
    gamma = 0; w -> inf gives sign(A) inf for gamma > 0. Computed as exp(gamma log_w) A.
    """
    log_w, A = _inputs(log_w, A)
    gamma = _param("gamma", gamma)
    return _times_A(_pow_w(log_w, gamma), A)


def box_cox_objective(log_w, A, gamma):
    """f(w, A) = (w^gamma - 1) / gamma * A, the objective of w^gamma A (seed 002 section 7.1).

    f'(w) w = w^gamma A = :func:`power_weight` and f(1, A) = 0 (h(A) = -A / gamma).
    gamma -> 0 is the limit log(w) A (defined, not an error). Domain: log_w, A, gamma finite.
    Edges: A == 0 gives 0; w = 1 (log_w = 0) gives 0 for every gamma.
    """
    log_w, A = _inputs(log_w, A)
    gamma = _param("gamma", gamma)
    if gamma == 0:
        return _times_A(log_w, A)
    return _times_A(mpmath.expm1(gamma * log_w) / gamma, A)


def asymmetric_power_weight(log_w, A, gamma_pos, gamma_neg):
    """phi(w, A) = w^gamma(A) A with gamma(A) = gamma_pos for A > 0, gamma_neg for A < 0.

    Seed 002 sections 4.3, 7.4, 9.1 (the seed wants gamma_pos in (0, 1), gamma_neg in (1, 2);
    any finite values are accepted). A == 0 and A == -0.0 give 0 (sign(A) = 0 selects neither
    exponent). The per-sign exponents of the seed's code come from
    :func:`reference.gamma.per_sign_gamma_seed_code` (corrected: ``per_sign_gamma``).
    """
    log_w, A = _inputs(log_w, A)
    gamma_pos = _param("gamma_pos", gamma_pos)
    gamma_neg = _param("gamma_neg", gamma_neg)
    if A == 0:
        return mpmath.mpf(0)
    return _pow_w(log_w, gamma_pos if A > 0 else gamma_neg) * A


def truncated_power_weight(log_w, A, gamma, M):
    """phi(w, A) = min(w^gamma, M) A (seed 002 section 5.4, scheme 1, "truncation").

    Domain: log_w, A, gamma finite; M > 0 finite (M <= 0 or non-finite raise ValueError).
    M = 1 caps the weight at the SFT value 1 (phi = min(w^gamma, 1) A). Bounded: |phi| <= M |A|.
    A == 0 gives 0.
    """
    log_w, A = _inputs(log_w, A)
    gamma = _param("gamma", gamma)
    M = _param("M", M, lo=0, lo_open=True)
    return _times_A(min(_pow_w(log_w, gamma), M), A)


def soft_saturation_weight(log_w, A, gamma, lam):
    """phi(w, A) = w^gamma / (1 + lam (w^gamma - 1)^+) A (seed 002 section 5.4, scheme 2).

    Below w^gamma = 1 it is w^gamma A; above, u / (1 + lam (u - 1)) with u = w^gamma, which
    tends to A / lam as w -> inf (bounded for lam > 0). lam = 0 is :func:`power_weight`;
    lam = 1 equals the truncation min(w^gamma, 1) A exactly; lam > 1 makes the weight decrease
    in w above u = 1 (allowed, documented). Domain: lam >= 0 finite (lam < 0 has a pole at
    u = 1 - 1 / lam, so ValueError), gamma finite. A == 0 gives 0.
    """
    log_w, A = _inputs(log_w, A)
    gamma = _param("gamma", gamma)
    lam = _param("lam", lam, lo=0)
    u = _pow_w(log_w, gamma)
    if u <= 1:
        return _times_A(u, A)
    # u / (1 + lam (u - 1)) = 1 / (lam + (1 - lam) / u), exact rewrite that avoids inf / inf
    return _times_A(1 / (lam + (1 - lam) * mpmath.exp(-gamma * log_w)), A)


def threshold_saturation_weight(log_w, A, gamma, lam, w_th):
    """phi(w, A) = w^gamma / (1 + lam (w - w_th)^+) A (seed 002 section 9.2, as printed).

    Note that the threshold acts on w, not on w^gamma: for w -> inf the weight behaves like
    w^(gamma - 1) / lam, which still grows without bound for gamma > 1 (the seed's gamma_-), so
    this design does not saturate for the exponents it is proposed for (compare
    :func:`soft_saturation_weight`, which does). Domain: gamma, w_th finite, lam >= 0 finite.
    lam = 0 is :func:`power_weight`. A == 0 gives 0.
    """
    log_w, A = _inputs(log_w, A)
    gamma = _param("gamma", gamma)
    lam = _param("lam", lam, lo=0)
    w_th = _param("w_th", w_th)
    w = mpmath.exp(log_w)
    den = 1 + lam * max(w - w_th, 0)
    return _times_A(_pow_w(log_w, gamma) / den, A)


def _blend_magnitude(log_w, gamma, lam, w_th):
    w = mpmath.exp(log_w)
    z = lam * (w - w_th)
    # 1 - beta = sigmoid(z), not 1 - beta (which cancels when beta ~ 1)
    return _sigmoid(-z) * _pow_w(log_w, gamma) + _sigmoid(z) * w


def sigmoid_blend_weight(log_w, A, gamma, lam, w_th):
    """phi(w, A) = [beta(w) w^gamma + (1 - beta(w)) w] A, beta(w) = sigmoid(-lam (w - w_th)).

    The "soft saturation" branch of the seed's appendix-B code (``use_soft_saturation``) and
    the A < 0 branch of the section 9.3 mixture, applied to every sign. Below w_th it follows
    w^gamma, above it blends into the linear w: its growth is linear, so it is not bounded
    (the seed calls that "bounded growth"). For lam > 0 and gamma > 1 it need not even be
    monotone in w. Domain: gamma, w_th finite, lam >= 0 finite (lam = 0 gives beta = 1/2
    everywhere, the average of w^gamma and w). A == 0 gives 0.
    """
    log_w, A = _inputs(log_w, A)
    gamma = _param("gamma", gamma)
    lam = _param("lam", lam, lo=0)
    w_th = _param("w_th", w_th)
    return _times_A(_blend_magnitude(log_w, gamma, lam, w_th), A)


def mixture_weight(log_w, A, gamma_pos, gamma_neg, lam, w_th):
    """Seed 002 section 9.3 mixture: w^gamma_pos A for A > 0, and for A < 0
    [beta(w) w^gamma_neg + (1 - beta(w)) w] A with beta(w) = sigmoid(-lam (w - w_th)).

    This is also what the appendix-B ``compute_phi`` returns with ``use_soft_saturation=True``
    (seed defaults lam = 1, w_th = 3). A == 0 (and -0.0) gives 0. Domain as
    :func:`sigmoid_blend_weight`, with gamma_pos, gamma_neg finite.
    """
    log_w, A = _inputs(log_w, A)
    gamma_pos = _param("gamma_pos", gamma_pos)
    gamma_neg = _param("gamma_neg", gamma_neg)
    lam = _param("lam", lam, lo=0)
    w_th = _param("w_th", w_th)
    if A == 0:
        return mpmath.mpf(0)
    if A > 0:
        return _pow_w(log_w, gamma_pos) * A
    return _blend_magnitude(log_w, gamma_neg, lam, w_th) * A


def michaelis_menten_weight(log_w, A, tau):
    """phi(w, A) = (1 + tau) w / (tau + w) A (seed 002 sections 5.4 scheme 3, 9.2, 10.2).

    Concave, increasing, phi(1) = A, bounded by (1 + tau) |A| (section 10.2's four
    properties). Computed as (1 + tau) sigmoid(log_w - log tau) A. Domain: tau >= 0 finite;
    tau = 0 is the limit phi = A (the SFT weight) for every finite log_w; tau -> inf tends to
    w A. tau < 0 (pole at w = -tau) raises ValueError. A == 0 gives 0.
    """
    log_w, A = _inputs(log_w, A)
    tau = _param("tau", tau, lo=0)
    if tau == 0:
        return _times_A(mpmath.mpf(1), A)
    return _times_A((1 + tau) * _sigmoid(log_w - mpmath.log(tau)), A)


def michaelis_menten_objective(log_w, A, tau):
    """f(w, A) = (1 + tau) log((tau + w) / (tau + 1)) A, the objective of the MM weight.

    Not printed in the seed (section 3's integral of phi / w); f'(w) w =
    :func:`michaelis_menten_weight` and f(1, A) = 0. tau = 0 gives log(w) A (the SFT
    objective). Domain: tau >= 0 finite. A == 0 gives 0.
    """
    log_w, A = _inputs(log_w, A)
    tau = _param("tau", tau, lo=0)
    if tau == 0:
        return _times_A(log_w, A)
    # log((tau + w) / (tau + 1)): log1p((w - 1) / (tau + 1)) near 1 (no cancellation there),
    # log(tau + w) - log1p(tau) elsewhere (log1p(r) with r near -1 would cancel)
    r = mpmath.expm1(log_w) / (1 + tau)
    if abs(r) < 0.5:
        g = mpmath.log1p(r)
    else:
        g = mpmath.log(tau + mpmath.exp(log_w)) - mpmath.log1p(tau)
    return _times_A((1 + tau) * g, A)


# --------------------------------------------------------------------------------- SAPO


def _sapo_x(log_w, tau):
    return tau * mpmath.expm1(log_w)


def _with_room(log_w, fn):
    """Evaluate fn with enough extra digits that tau (w - 1) keeps the ambient relative
    precision in absolute terms (sigmoid(-x) ~ exp(-x) for w ~ e^700 needs ~300 more)."""
    extra = 10 + max(0, int(float(log_w) / 2.302585092994046) + 1)
    with mpmath.workdps(mpmath.mp.dps + extra):
        value = fn()
    return +value


def sapo_weight_section_8_1(log_w, A, tau):
    """phi(w, A) = sigmoid(tau (w - 1)) 4 / tau * A, SAPO's "weight" as seed 002 section 8.1
    writes it (times A).

    This is SAPO's soft-gate objective f(w) (its surrogate, f(1) = 2 / tau), not its gradient
    weight; the gradient weight of that objective is w f'(w) A = :func:`sapo_weight`.
    Domain: tau > 0 finite (tau = 0 would divide by 0: ValueError). Bounded by 4 / tau |A|.
    A == 0 gives 0.
    """
    log_w, A = _inputs(log_w, A)
    tau = _param("tau", tau, lo=0, lo_open=True)
    return _with_room(log_w, lambda: _times_A(_sigmoid(_sapo_x(log_w, tau)) * 4 / tau, A))


def sapo_weight(log_w, A, tau):
    """SAPO's gradient weight: phi(w, A) = 4 w sigmoid(tau (w - 1)) sigmoid(-tau (w - 1)) A.

    The corrected reading of seed 002 section 8.1: d/dlog w of SAPO's objective
    (4 / tau) sigmoid(tau (w - 1)) A. phi(1, A) = A (on-policy it equals IS), and it decays
    like 4 w exp(-tau (w - 1)) for large w (bounded, tends to 0). Domain: tau > 0 finite.
    A == 0 gives 0. (SAPO uses a separate tau for each sign of A: pass a per-token tau.)
    """
    log_w, A = _inputs(log_w, A)
    tau = _param("tau", tau, lo=0, lo_open=True)

    def value():
        x = _sapo_x(log_w, tau)
        return _times_A(4 * mpmath.exp(log_w) * _sigmoid(x) * _sigmoid(-x), A)

    return _with_room(log_w, value)


# ---------------------------------------------------------------------------------- SFT


def _sft_phi_and_slope(c, gamma, use_michaelis_menten, mm_tau):
    """phi(w) and d phi / d log w at log w = c for the SFT designs of section 10.2."""
    if use_michaelis_menten:
        if mm_tau == 0:
            return mpmath.mpf(1), mpmath.mpf(0)
        x = c - mpmath.log(mm_tau)
        s = _sigmoid(x)
        return (1 + mm_tau) * s, (1 + mm_tau) * s * _sigmoid(-x)
    p = _pow_w(c, gamma)
    return p, gamma * p


def sft_gradient_weight(log_w, gamma, use_michaelis_menten=False, mm_tau=1.0):
    """SFT gradient weight of seed 002 section 10 (A > 0 always, so A is taken as 1):
    phi(w) = w^gamma (section 10.3, L = -E[sg(w^gamma) log pi]) or, with
    ``use_michaelis_menten``, (1 + mm_tau) w / (mm_tau + w) (section 10.2 option 2).

    This is the text's design: the weight multiplies grad log pi. Domain: log_w, gamma finite,
    mm_tau >= 0 finite (mm_tau is ignored unless use_michaelis_menten). gamma = 0 is plain SFT
    (phi = 1); gamma = 1 is IS. Compare :func:`sft_gradient_weight_seed_code`.
    """
    log_w = require_finite("log_w", log_w)
    gamma = _param("gamma", gamma)
    mm_tau = _param("mm_tau", mm_tau, lo=0)
    return _sft_phi_and_slope(log_w, gamma, bool(use_michaelis_menten), mm_tau)[0]


def sft_gradient_weight_seed_code(log_w, log_mu, gamma, use_michaelis_menten=False, mm_tau=1.0):
    """The gradient weight that the seed's ``SFTGradientWeight.__call__`` actually produces.

    The code computes L = -mean(phi(w) * log_pi) with w = exp(clamp(log_w, -20, 20)) and no
    stop-gradient, so per token -dL/dlog_pi (times the batch size) is
    phi(c) + 1[|log_w| <= 20] * log_pi * dphi/dlog w (c), c = clamp(log_w, -20, 20),
    log_pi = log_w + log_mu: for the power design w_c^gamma (1 + gamma log_pi). This is negative
    (it lowers log pi of the target token) whenever log_pi < -1 / gamma, and outside the clamp
    the weight is phi(e^{+-20}) instead of phi(w). log_mu is the behaviour log-probability
    (held constant). Domain: log_w, log_mu, gamma finite, mm_tau >= 0 finite.
    Tie |log_w| = 20 exactly: inside (the slope term is kept), the closed clamp, as autograd
    of torch.clamp gives up to torch 2.13; from torch 2.14 clamp passes gradient 0 at its bounds
    and the seed's code run there would drop the term. The torch twin's surrogate writes the
    clamp with ``torch.where`` so that it keeps this convention on every torch.
    """
    log_w = require_finite("log_w", log_w)
    log_mu = require_finite("log_mu", log_mu)
    gamma = _param("gamma", gamma)
    mm_tau = _param("mm_tau", mm_tau, lo=0)
    c = min(max(log_w, -SEED_CLAMP), SEED_CLAMP)
    phi, slope = _sft_phi_and_slope(c, gamma, bool(use_michaelis_menten), mm_tau)
    if abs(log_w) > SEED_CLAMP:
        return phi
    return phi + (log_w + log_mu) * slope


# --------------------------------------------------------- the appendix-B design class


def gradient_weight_design(
    log_w,
    A,
    gamma_pos,
    gamma_neg,
    use_soft_saturation=True,
    saturation_threshold=SEED_SATURATION_THRESHOLD,
    saturation_lambda=SEED_SATURATION_LAMBDA,
):
    """phi(w, A) of the seed's ``GradientWeightDesign.compute_phi`` read as the text means it:
    the weight that multiplies grad log pi (section 1.2), with no clamp of log_w.

    use_soft_saturation: :func:`mixture_weight` (section 9.3, w_th = saturation_threshold,
    lam = saturation_lambda); otherwise :func:`asymmetric_power_weight`. A == 0 gives 0.
    Domain: gamma_pos, gamma_neg, saturation_threshold finite; saturation_lambda >= 0.
    The seed's own loss does something else: :func:`gradient_weight_design_seed_code`.
    """
    _param("saturation_lambda", saturation_lambda, lo=0)
    _param("saturation_threshold", saturation_threshold)
    if use_soft_saturation:
        return mixture_weight(
            log_w, A, gamma_pos, gamma_neg, saturation_lambda, saturation_threshold
        )
    return asymmetric_power_weight(log_w, A, gamma_pos, gamma_neg)


def gradient_weight_design_seed_code(
    log_w,
    A,
    gamma_pos,
    gamma_neg,
    use_soft_saturation=True,
    saturation_threshold=SEED_SATURATION_THRESHOLD,
    saturation_lambda=SEED_SATURATION_LAMBDA,
):
    """The gradient weight that the seed's ``GradientWeightDesign.__call__`` actually produces.

    The code's loss is L = -mean(phi(w, A)) with w = exp(clamp(log_w, -20, 20)) and phi not
    detached, i.e. phi is used as an objective. Per token, -dL/dlog_w (times the batch size)
    is 1[|log_w| <= 20] * w dphi/dw at w = e^c, c = clamp(log_w, -20, 20):

    * A > 0: gamma_pos w^gamma_pos A (the text's weight times gamma_pos);
    * A < 0 without saturation: gamma_neg w^gamma_neg A;
    * A < 0 with saturation: [beta gamma_neg w^g + (1 - beta) w - lam w beta (1 - beta)
      (w^g - w)] A, beta = sigmoid(-lam (w - w_th)), which can change sign: for
      w in (4.889, 5.260) with the seed defaults and gamma_neg = 1.99 (maximum +0.0587 |A|
      at w = 5.08) a bad sample's probability is pushed up.

    Outside |log_w| <= 20 the gradient is exactly 0 (torch.clamp). A == 0 gives 0. Tie
    |log_w| = 20 exactly: inside (the slope above), the closed clamp, as in
    :func:`sft_gradient_weight_seed_code`.
    """
    log_w, A = _inputs(log_w, A)
    gamma_pos = _param("gamma_pos", gamma_pos)
    gamma_neg = _param("gamma_neg", gamma_neg)
    lam = _param("saturation_lambda", saturation_lambda, lo=0)
    w_th = _param("saturation_threshold", saturation_threshold)
    if A == 0 or abs(log_w) > SEED_CLAMP:
        return mpmath.mpf(0)
    if A > 0:
        return gamma_pos * _pow_w(log_w, gamma_pos) * A
    p = _pow_w(log_w, gamma_neg)
    if not use_soft_saturation:
        return gamma_neg * p * A
    w = mpmath.exp(log_w)
    z = lam * (w - w_th)
    beta, one_minus = _sigmoid(-z), _sigmoid(z)
    slope = beta * gamma_neg * p + one_minus * w - lam * w * beta * one_minus * (p - w)
    return slope * A


# ------------------------------------------------------------------------------ fixtures

# log_w: [-700, 700], dense near 0, the seed clamp +-20, float32 / float64 exp limits, beyond.
LOG_W_GRID = (
    -1000.0,
    -745.5,
    -700.0,
    -88.5,
    -20.5,
    -20.0,
    -5.0,
    -1.0,
    -0.25,
    -1e-3,
    -1e-8,
    -0.0,
    0.0,
    1e-12,
    1e-6,
    0.01,
    0.3,
    1.0,
    math.log(3.0),
    2.0,
    20.0,
    20.5,
    88.0,
    300.0,
    700.0,
    709.5,
    1000.0,
)
LOG_W_SHORT = (-700.0, -20.0, -1.0, -1e-6, 0.0, 1e-6, 0.5, 1.0, 2.0, 20.0, 100.0, 700.0)
A_GRID = (-1e6, -2.5, -1.0, -1e-30, -0.0, 0.0, 1e-300, 1e-30, 0.7, 1.0, 1e6)
A_SHORT = (-1.5, -0.0, 0.0, 1.0)
EDGE_NAN = float("nan")
EDGE_INF = float("inf")


def _input_edges(**params):
    return [
        case("edge: log_w NaN", log_w=EDGE_NAN, A=1.0, **params),
        case("edge: log_w +inf", log_w=EDGE_INF, A=1.0, **params),
        case("edge: log_w -inf", log_w=-EDGE_INF, A=1.0, **params),
        case("edge: A NaN", log_w=0.0, A=EDGE_NAN, **params),
        case("edge: A inf", log_w=0.0, A=EDGE_INF, **params),
    ]


def _random(n, seed, **params):
    import numpy as np

    rng = np.random.default_rng(seed)
    lw = rng.normal(0.0, 3.0, size=n)
    A = rng.normal(0.0, 2.0, size=n)
    return [
        case(f"seeded random #{i}", log_w=float(x), A=float(a), **params)
        for i, (x, a) in enumerate(zip(lw, A))
    ]


def _grid(params_list, log_ws=LOG_W_SHORT, As=A_SHORT, label=""):
    cs = []
    for params in params_list:
        tag = " ".join(f"{k}={v}" for k, v in params.items())
        for lw in log_ws:
            for a in As:
                cs.append(case(f"{label}grid {tag} log_w={lw} A={a}", log_w=lw, A=a, **params))
    return cs


def _power_cases():
    cs = _grid([{"gamma": 0.3}], LOG_W_GRID, A_GRID)
    cs += _grid([{"gamma": g} for g in (0.0, 1.0, 0.5, 1.5, 1.99, -0.5)], label="gamma boundary ")
    cs += _random(30, 2002, gamma=0.7)
    cs += [
        case("seed 4.1: gamma = 1 is IS, w = 2, A = 1 -> 2", log_w=math.log(2.0), A=1.0, gamma=1.0),
        case("seed 4.1: gamma = 0 is SFT, any w -> A", log_w=5.0, A=-0.5, gamma=0.0),
        case("extreme: gamma 1.99 at log_w = 700 (overflow)", log_w=700.0, A=1.0, gamma=1.99),
        case("extreme: tiny A rescues overflow of w^gamma", log_w=800.0, A=1e-300, gamma=1.0),
        case("extreme: huge A rescues underflow of w^gamma", log_w=-745.0, A=1e300, gamma=1.0),
        case("edge: gamma NaN", log_w=0.0, A=1.0, gamma=EDGE_NAN),
        case("edge: gamma inf", log_w=0.0, A=1.0, gamma=EDGE_INF),
    ]
    return cs + _input_edges(gamma=0.5)


def _box_cox_cases():
    cs = _grid([{"gamma": 0.3}], LOG_W_GRID, (-2.5, -0.0, 0.0, 1e-30, 1.0))
    cs += _grid([{"gamma": g} for g in (0.0, 1e-12, 1.0, 0.5, 1.99, -0.5)], label="gamma boundary ")
    cs += _random(20, 2007, gamma=0.5)
    cs += [
        case("seed 7.1: f(1, A) = 0", log_w=0.0, A=3.0, gamma=0.4),
        case("seed 7.1: gamma -> 0 limit log w A", log_w=2.0, A=1.0, gamma=0.0),
        case("extreme: overflow of w^gamma / gamma", log_w=1000.0, A=1e-200, gamma=1.0),
        case("edge: gamma NaN", log_w=0.0, A=1.0, gamma=EDGE_NAN),
    ]
    return cs + _input_edges(gamma=0.5)


def _asymmetric_cases():
    cs = _grid([{"gamma_pos": 0.5, "gamma_neg": 1.5}], LOG_W_GRID, A_GRID)
    cs += _grid(
        [
            {"gamma_pos": 0.1, "gamma_neg": 1.01},
            {"gamma_pos": 0.99, "gamma_neg": 1.99},
            {"gamma_pos": 0.0, "gamma_neg": 2.0},
            {"gamma_pos": 1.0, "gamma_neg": 1.0},
        ],
        label="seed ranges ",
    )
    cs += _random(20, 2043, gamma_pos=0.6, gamma_neg=1.4)
    cs += [
        case("edge: gamma_pos NaN", log_w=0.0, A=1.0, gamma_pos=EDGE_NAN, gamma_neg=1.5),
        case("edge: gamma_neg inf", log_w=0.0, A=-1.0, gamma_pos=0.5, gamma_neg=EDGE_INF),
    ]
    return cs + _input_edges(gamma_pos=0.5, gamma_neg=1.5)


def _truncated_cases():
    cs = _grid([{"gamma": 0.8, "M": 2.0}], LOG_W_GRID, A_GRID)
    cs += _grid(
        [{"gamma": g, "M": m} for g in (0.0, 1.0, 1.5) for m in (1.0, 1e-3, 1e6)],
        label="boundary ",
    )
    cs += _random(20, 2054, gamma=1.0, M=1.5)
    cs += [
        case(
            "M exactly at w^gamma: log_w = log 2, gamma = 1, M = 2",
            log_w=math.log(2),
            A=1.0,
            gamma=1.0,
            M=2.0,
        ),
        case("edge: M = 0", log_w=0.0, A=1.0, gamma=1.0, M=0.0),
        case("edge: M < 0", log_w=0.0, A=1.0, gamma=1.0, M=-1.0),
        case("edge: M inf", log_w=0.0, A=1.0, gamma=1.0, M=EDGE_INF),
        case("edge: M NaN", log_w=0.0, A=1.0, gamma=1.0, M=EDGE_NAN),
    ]
    return cs + _input_edges(gamma=1.0, M=2.0)


def _soft_saturation_cases():
    cs = _grid([{"gamma": 1.5, "lam": 0.5}], LOG_W_GRID, A_GRID)
    cs += _grid(
        [{"gamma": g, "lam": lam} for g in (0.0, 1.0, 1.99) for lam in (0.0, 1.0, 1e-12, 3.0)],
        label="boundary ",
    )
    cs += _random(20, 2055, gamma=1.3, lam=0.7)
    cs += [
        case(
            "lam = 1 equals min(w^gamma, 1): w^gamma = 4 -> A",
            log_w=math.log(4.0),
            A=1.0,
            gamma=1.0,
            lam=1.0,
        ),
        case("saturation limit A / lam at log_w = 700", log_w=700.0, A=1.0, gamma=1.5, lam=0.25),
        case("edge: lam < 0", log_w=0.0, A=1.0, gamma=1.0, lam=-0.5),
        case("edge: lam inf", log_w=0.0, A=1.0, gamma=1.0, lam=EDGE_INF),
    ]
    return cs + _input_edges(gamma=1.5, lam=0.5)


def _threshold_saturation_cases():
    cs = _grid([{"gamma": 1.5, "lam": 1.0, "w_th": 3.0}], LOG_W_GRID, A_GRID)
    cs += _grid(
        [
            {"gamma": 1.99, "lam": 0.0, "w_th": 3.0},
            {"gamma": 1.01, "lam": 1e-6, "w_th": 1.0},
            {"gamma": 0.5, "lam": 10.0, "w_th": 0.0},
            {"gamma": 1.5, "lam": 1.0, "w_th": -2.0},
        ],
        label="boundary ",
    )
    cs += _random(20, 2092, gamma=1.5, lam=1.0, w_th=3.0)
    cs += [
        case(
            "seed 9.2 defaults w = 100: grows like w^0.5",
            log_w=math.log(100.0),
            A=-1.0,
            gamma=1.5,
            lam=1.0,
            w_th=3.0,
        ),
        case("edge: lam < 0", log_w=0.0, A=1.0, gamma=1.5, lam=-1.0, w_th=3.0),
        case("edge: w_th NaN", log_w=0.0, A=1.0, gamma=1.5, lam=1.0, w_th=EDGE_NAN),
    ]
    return cs + _input_edges(gamma=1.5, lam=1.0, w_th=3.0)


def _blend_cases():
    cs = _grid([{"gamma": 1.5, "lam": 1.0, "w_th": 3.0}], LOG_W_GRID, A_GRID)
    cs += _grid(
        [
            {"gamma": 1.99, "lam": 0.0, "w_th": 3.0},
            {"gamma": 1.01, "lam": 1e-6, "w_th": 3.0},
            {"gamma": 1.99, "lam": 100.0, "w_th": 3.0},
            {"gamma": 0.5, "lam": 1.0, "w_th": 0.5},
        ],
        label="boundary ",
    )
    cs += _random(20, 2093, gamma=1.5, lam=1.0, w_th=3.0)
    cs += [
        case(
            "seed code defaults at w = w_th = 3: beta = 1/2",
            log_w=math.log(3.0),
            A=-1.0,
            gamma=1.5,
            lam=1.0,
            w_th=3.0,
        ),
        case("edge: lam < 0", log_w=0.0, A=1.0, gamma=1.5, lam=-1.0, w_th=3.0),
        case("edge: w_th inf", log_w=0.0, A=1.0, gamma=1.5, lam=1.0, w_th=EDGE_INF),
    ]
    return cs + _input_edges(gamma=1.5, lam=1.0, w_th=3.0)


def _mixture_cases():
    cs = _grid([{"gamma_pos": 0.5, "gamma_neg": 1.5, "lam": 1.0, "w_th": 3.0}], LOG_W_GRID, A_GRID)
    cs += _grid(
        [
            {"gamma_pos": 0.1, "gamma_neg": 1.99, "lam": 0.0, "w_th": 3.0},
            {"gamma_pos": 0.99, "gamma_neg": 1.01, "lam": 100.0, "w_th": 1.0},
        ],
        label="boundary ",
    )
    cs += _random(20, 2094, gamma_pos=0.5, gamma_neg=1.5, lam=1.0, w_th=3.0)
    cs += [
        case("edge: lam < 0", log_w=0.0, A=-1.0, gamma_pos=0.5, gamma_neg=1.5, lam=-1.0, w_th=3.0),
        case(
            "edge: gamma_neg NaN",
            log_w=0.0,
            A=-1.0,
            gamma_pos=0.5,
            gamma_neg=EDGE_NAN,
            lam=1.0,
            w_th=3.0,
        ),
    ]
    return cs + _input_edges(gamma_pos=0.5, gamma_neg=1.5, lam=1.0, w_th=3.0)


def _mm_cases():
    cs = _grid([{"tau": 1.0}], LOG_W_GRID, A_GRID)
    cs += _grid([{"tau": t} for t in (0.0, 1e-300, 1e-8, 0.5, 10.0, 1e8)], label="tau boundary ")
    cs += _random(20, 2010, tau=2.0)
    cs += [
        case("seed 10.2: phi(1) = 1 (tau = 1)", log_w=0.0, A=1.0, tau=1.0),
        case("seed 10.2: phi(1) = 1 (tau = 0.3)", log_w=0.0, A=1.0, tau=0.3),
        case(
            "seed 10.2: bounded by 1 + tau (tau = 1, log_w = 700 -> 2)", log_w=700.0, A=1.0, tau=1.0
        ),
        case("edge: tau < 0", log_w=0.0, A=1.0, tau=-0.5),
        case("edge: tau inf", log_w=0.0, A=1.0, tau=EDGE_INF),
    ]
    return cs + _input_edges(tau=1.0)


def _mm_objective_cases():
    cs = _grid([{"tau": 1.0}], LOG_W_GRID, (-2.5, -0.0, 0.0, 1.0))
    cs += _grid([{"tau": t} for t in (0.0, 1e-8, 0.5, 1e8)], label="tau boundary ")
    cs += [
        case("f(1) = 0", log_w=0.0, A=2.0, tau=0.7),
        case("edge: tau < 0", log_w=0.0, A=1.0, tau=-0.5),
    ]
    return cs + _input_edges(tau=1.0)


def _sapo_cases():
    cs = _grid([{"tau": 1.0}], LOG_W_GRID, A_GRID)
    cs += _grid([{"tau": t} for t in (1e-8, 0.5, 10.0, 1e4)], label="tau boundary ")
    cs += _random(20, 2081, tau=1.0)
    cs += [
        case(
            "w = 1 (tau = 1): section 8.1 gate 2/tau = 2; SAPO weight 1", log_w=0.0, A=1.0, tau=1.0
        ),
        case(
            "seed 8.1/8.3 'bounded': 4/tau = 4 reached at log_w = 700 (tau = 1)",
            log_w=700.0,
            A=1.0,
            tau=1.0,
        ),
        case(
            "seed 5.2 table: SAPO weight -> 0 (not 4/tau) for large w (tau = 1, w = e^5)",
            log_w=5.0,
            A=1.0,
            tau=1.0,
        ),
        case("edge: tau = 0", log_w=0.0, A=1.0, tau=0.0),
        case("edge: tau < 0", log_w=0.0, A=1.0, tau=-1.0),
        case("edge: tau NaN", log_w=0.0, A=1.0, tau=EDGE_NAN),
    ]
    return cs + _input_edges(tau=1.0)


def _sft_grid(log_ws, gammas, mm):
    cs = []
    for g in gammas:
        for m in mm:
            for t in (0.0, 1.0, 1e6) if m else (1.0,):
                for lw in log_ws:
                    cs.append(
                        case(
                            f"grid gamma={g} mm={m} tau={t} log_w={lw}",
                            log_w=lw,
                            gamma=g,
                            use_michaelis_menten=m,
                            mm_tau=t,
                        )
                    )
    return cs


def _sft_cases():
    cs = _sft_grid(LOG_W_GRID, (0.5,), (False, True))
    cs += _sft_grid(LOG_W_SHORT, (0.0, 1.0, 0.99), (False,))
    cs += [
        case(
            "seed defaults gamma = 0.5, w = 4 -> 2",
            log_w=math.log(4.0),
            gamma=0.5,
            use_michaelis_menten=False,
            mm_tau=1.0,
        ),
        case(
            "seed 10.2: MM phi(1) = 1", log_w=0.0, gamma=0.5, use_michaelis_menten=True, mm_tau=1.0
        ),
        case("edge: log_w NaN", log_w=EDGE_NAN, gamma=0.5, use_michaelis_menten=False, mm_tau=1.0),
        case(
            "edge: log_w -inf", log_w=-EDGE_INF, gamma=0.5, use_michaelis_menten=False, mm_tau=1.0
        ),
        case("edge: gamma inf", log_w=0.0, gamma=EDGE_INF, use_michaelis_menten=False, mm_tau=1.0),
        case("edge: mm_tau < 0", log_w=0.0, gamma=0.5, use_michaelis_menten=True, mm_tau=-1.0),
    ]
    return cs


def _sft_seed_code_cases():
    cs = []
    for row in _sft_cases():
        if row.note.startswith("edge"):
            continue
        # -3.3, not -3: with log_w = 1 or 2 a log_mu of -3 puts log_pi exactly on a zero of the
        # weight, where two float64 evaluations differ by one rounding of 0
        for lm in (-0.1, -3.3):
            inputs = dict(row.inputs, log_mu=lm)
            cs.append(case(f"{row.note} log_mu={lm}", **inputs))
    cs += [
        case(
            "seed defaults: log_pi = -3 < -1/gamma = -2, weight negative",
            log_w=0.0,
            log_mu=-3.0,
            gamma=0.5,
            use_michaelis_menten=False,
            mm_tau=1.0,
        ),
        case(
            "seed defaults: log_pi = -2 = -1/gamma, weight 0",
            log_w=0.0,
            log_mu=-2.0,
            gamma=0.5,
            use_michaelis_menten=False,
            mm_tau=1.0,
        ),
        case(
            "clamp boundary log_w = 20 (gradient passes)",
            log_w=20.0,
            log_mu=-25.0,
            gamma=0.5,
            use_michaelis_menten=False,
            mm_tau=1.0,
        ),
        case(
            "edge: log_mu NaN",
            log_w=0.0,
            log_mu=EDGE_NAN,
            gamma=0.5,
            use_michaelis_menten=False,
            mm_tau=1.0,
        ),
        case(
            "edge: log_mu -inf",
            log_w=0.0,
            log_mu=-EDGE_INF,
            gamma=0.5,
            use_michaelis_menten=False,
            mm_tau=1.0,
        ),
        case(
            "edge: log_w inf",
            log_w=EDGE_INF,
            log_mu=-1.0,
            gamma=0.5,
            use_michaelis_menten=False,
            mm_tau=1.0,
        ),
    ]
    return cs


def _design_cases():
    cs = []
    for soft in (True, False):
        for gp, gn in ((0.5, 1.5), (0.99, 1.99), (0.1, 1.01)):
            for lw in LOG_W_GRID:
                for a in (-2.0, -0.0, 0.0, 1e-30, 1.5):
                    cs.append(
                        case(
                            f"grid soft={soft} gamma_pos={gp} gamma_neg={gn} log_w={lw} A={a}",
                            log_w=lw,
                            A=a,
                            gamma_pos=gp,
                            gamma_neg=gn,
                            use_soft_saturation=soft,
                            saturation_threshold=3.0,
                            saturation_lambda=1.0,
                        )
                    )
    # The seed code's weight changes sign for w in (4.889, 5.260) at these settings (maximum
    # +0.059 at w = 5.08); there it is a cancellation of terms ~10, so it is checked against
    # mpmath in tests/test_weights.py with its own tolerance rather than in the shared fixture.
    for lw in (math.log(4.0), math.log(6.0), math.log(8.0)):
        cs.append(
            case(
                f"seed defaults, gamma_neg = 1.99, A = -1, w = {math.exp(lw):.3g}",
                log_w=lw,
                A=-1.0,
                gamma_pos=0.99,
                gamma_neg=1.99,
                use_soft_saturation=True,
                saturation_threshold=3.0,
                saturation_lambda=1.0,
            )
        )
    for lam, th in ((0.0, 3.0), (5.0, 1.0)):
        for lw in LOG_W_SHORT:
            cs.append(
                case(
                    f"lam={lam} w_th={th} log_w={lw}",
                    log_w=lw,
                    A=-1.0,
                    gamma_pos=0.5,
                    gamma_neg=1.5,
                    use_soft_saturation=True,
                    saturation_threshold=th,
                    saturation_lambda=lam,
                )
            )
    base = dict(
        gamma_pos=0.5,
        gamma_neg=1.5,
        use_soft_saturation=True,
        saturation_threshold=3.0,
        saturation_lambda=1.0,
    )
    cs += [case(c.note, **dict(c.inputs, **base)) for c in _input_edges()]
    cs.append(
        case("edge: saturation_lambda < 0", log_w=0.0, A=-1.0, **dict(base, saturation_lambda=-1.0))
    )
    return cs


register_golden(power_weight, _power_cases, tensor_args=("log_w", "A", "gamma"))
register_golden(box_cox_objective, _box_cox_cases, tensor_args=("log_w", "A", "gamma"))
register_golden(
    asymmetric_power_weight, _asymmetric_cases, tensor_args=("log_w", "A", "gamma_pos", "gamma_neg")
)
register_golden(truncated_power_weight, _truncated_cases, tensor_args=("log_w", "A", "gamma", "M"))
register_golden(
    soft_saturation_weight, _soft_saturation_cases, tensor_args=("log_w", "A", "gamma", "lam")
)
register_golden(
    threshold_saturation_weight,
    _threshold_saturation_cases,
    tensor_args=("log_w", "A", "gamma", "lam", "w_th"),
)
register_golden(
    sigmoid_blend_weight, _blend_cases, tensor_args=("log_w", "A", "gamma", "lam", "w_th")
)
register_golden(
    mixture_weight,
    _mixture_cases,
    tensor_args=("log_w", "A", "gamma_pos", "gamma_neg", "lam", "w_th"),
)
register_golden(michaelis_menten_weight, _mm_cases, tensor_args=("log_w", "A", "tau"))
register_golden(michaelis_menten_objective, _mm_objective_cases, tensor_args=("log_w", "A", "tau"))
register_golden(sapo_weight_section_8_1, _sapo_cases, tensor_args=("log_w", "A", "tau"))
register_golden(sapo_weight, _sapo_cases, tensor_args=("log_w", "A", "tau"))
register_golden(sft_gradient_weight, _sft_cases, tensor_args=("log_w", "gamma", "mm_tau"))
register_golden(
    sft_gradient_weight_seed_code,
    _sft_seed_code_cases,
    tensor_args=("log_w", "log_mu", "gamma", "mm_tau"),
)
_DESIGN_TENSORS = ("log_w", "A", "gamma_pos", "gamma_neg")
register_golden(
    gradient_weight_design,
    _design_cases,
    tensor_args=_DESIGN_TENSORS,
    float_args=("saturation_threshold", "saturation_lambda"),
)
register_golden(
    gradient_weight_design_seed_code,
    _design_cases,
    tensor_args=_DESIGN_TENSORS,
    float_args=("saturation_threshold", "saturation_lambda"),
)
