"""Soft trust region and the adaptive SFT-RL interpolation of seed 003 (IS Reshape v5).

Every function takes the log importance ratio ``log_w`` (w = pi_theta / mu) and, for the
adaptive design, the advantage ``A``. Symbols of the seed:

* trust region (section 3.1):   h(w) = sech^2(tau (w - 1) / 2)
* RL weight with trust region (3.2): w h(w)
* interpolation (3.3):          g_gamma(w) = (1 - gamma) + gamma w h(w)
* correctness (4.2):            C(w, A) = A log w
* probability "wrong" (4.3):    P_wrong = sigmoid(-C / tau_c)
* adaptive gamma (4.3):         gamma(w, A) = gamma_base + (gamma_max - gamma_base) P_wrong
* full weight (4.4, 9.1):       g(w, A) = (1 - gamma(w, A)) + gamma(w, A) w h(w)
* objective (part 7):           f_gamma(w) = (1 - gamma) log w + gamma (2 / tau) tanh(tau (w - 1) / 2)

The "phi form" multiplies by the advantage: phi(w, A) = A g(w, A), the per-sample factor of
grad log pi_theta in E_mu[phi(w, A) grad log pi_theta]; an objective F(w, A) generates phi when
dF / d(log w) = phi.

Numerics: the argument tau (w - 1) / 2 reaches 1e304 at log_w = 700, so sech^2 and the sigmoid
are evaluated at extra working precision (as many extra digits as the argument has) and the
result is rounded back to the ambient precision; nothing here overflows or loses accuracy at
|log_w| = 700. Parameters (tau, tau_h, tau_c > 0 finite; gamma, gamma_base, gamma_max in
[0, 1]) outside their domain raise ``ValueError`` naming the argument; so do NaN inputs and
infinite advantages. log_w = -inf (w = 0) and +inf (w = infinity) are accepted and give the
limit values documented per function.
"""

from __future__ import annotations

import mpmath

from isreshape.reference._checks import require_finite, require_not_nan, require_range
from isreshape.reference.golden import case, register_golden

# ---------------------------------------------------------------- argument checks and helpers


def _log_w(log_w) -> mpmath.mpf:
    return require_not_nan("log_w", log_w)


def _positive(name: str, value) -> mpmath.mpf:
    v = require_finite(name, value)
    return require_range(name, v, lo=0, lo_open=True)


def _unit(name: str, value) -> mpmath.mpf:
    return require_range(name, require_finite(name, value), lo=0, hi=1)


def _extra_digits(magnitude) -> int:
    """Extra decimal digits needed so that exp(-|x|) keeps the ambient relative accuracy when x
    has about ``magnitude`` (a positive mpf) as its size: one digit per digit of x, plus 10."""
    if magnitude == 0 or not mpmath.isfinite(magnitude):
        return 10
    return max(0, int(mpmath.log10(abs(magnitude)))) + 10


def _sech2_arg(log_w, tau) -> tuple[mpmath.mpf, int]:
    """(x, extra digits) with x = tau (w - 1) / 2, computed at the caller's precision."""
    if mpmath.isinf(log_w):
        return (mpmath.inf if log_w > 0 else -tau / 2), 10
    rough = tau * (mpmath.exp(log_w) + 1)
    return tau * mpmath.expm1(log_w) / 2, _extra_digits(rough)


def _h_and_wh(log_w, tau) -> tuple[mpmath.mpf, mpmath.mpf]:
    """(h(w), w h(w)) at the ambient precision, computed with enough guard digits."""
    if log_w == mpmath.inf:
        return mpmath.mpf(0), mpmath.mpf(0)
    _, extra = _sech2_arg(log_w, tau)
    with mpmath.workdps(mpmath.mp.dps + extra):
        x, _ = _sech2_arg(log_w, tau)
        h = mpmath.sech(x) ** 2
        wh = mpmath.mpf(0) if log_w == -mpmath.inf else mpmath.exp(log_w) * h
    return +h, +wh


def _sigmoid_pair(z) -> tuple[mpmath.mpf, mpmath.mpf]:
    """(sigmoid(z), sigmoid(-z)) at the ambient precision, exact in both tails."""
    if mpmath.isinf(z):
        return (mpmath.mpf(1), mpmath.mpf(0)) if z > 0 else (mpmath.mpf(0), mpmath.mpf(1))
    with mpmath.workdps(mpmath.mp.dps + _extra_digits(z)):
        s_pos = 1 / (1 + mpmath.exp(-z))
        s_neg = 1 / (1 + mpmath.exp(z))
    return +s_pos, +s_neg


def _correctness(log_w, A) -> mpmath.mpf:
    if A == 0:
        return mpmath.mpf(0)
    return A * log_w


def _z(log_w, A, tau_c):
    """z = -C / tau_c, computed exactly enough: the product A log w is exact in mpmath only up
    to the working precision, so it is formed at the extra precision its size requires."""
    C = _correctness(log_w, A)
    if C == 0 or mpmath.isinf(C):
        return -C / tau_c if C != 0 else mpmath.mpf(0)
    extra = _extra_digits(C / tau_c)
    with mpmath.workdps(mpmath.mp.dps + extra):
        return -(A * log_w) / tau_c


def _gamma_pair(log_w, A, gamma_base, gamma_max, tau_c) -> tuple[mpmath.mpf, mpmath.mpf]:
    """(gamma(w, A), 1 - gamma(w, A)), each as a sum of non-negative terms."""
    z = _z(log_w, A, tau_c)
    if mpmath.isinf(z):
        s_pos, s_neg = _sigmoid_pair(z)
        return gamma_base * s_neg + gamma_max * s_pos, (1 - gamma_base) * s_neg + (
            1 - gamma_max
        ) * s_pos
    with mpmath.workdps(mpmath.mp.dps + _extra_digits(z)):
        s_pos, s_neg = _sigmoid_pair(z)
        g = gamma_base * s_neg + gamma_max * s_pos
        one_minus = (1 - gamma_base) * s_neg + (1 - gamma_max) * s_pos
    return +g, +one_minus


# ---------------------------------------------------------------- section 3: the trust region


def trust_region_h(log_w, tau):
    """Soft trust region h(w) = sech^2(tau (w - 1) / 2), w = exp(log_w) (seed 003 section 3.1).

    Domain: log_w not NaN (+-inf allowed), tau > 0 finite. Values in (0, 1]; h(1) = 1.
    Edges: log_w = -inf (w = 0) gives sech^2(tau / 2) (not 0: the seed's "h -> 0 as w -> 0" is
    false); log_w = +inf gives 0. At log_w = 700, tau = 1 the value is about
    exp(-1e304) (exact in mpmath; 0 in floating point).
    """
    log_w = _log_w(log_w)
    tau = _positive("tau", tau)
    return _h_and_wh(log_w, tau)[0]


def trust_region_weight(log_w, tau):
    """RL weight with trust region w h(w) = w sech^2(tau (w - 1) / 2) (seed 003 section 3.2).

    The gamma = 1 end of :func:`g_gamma` (the SAPO-form weight). Domain as
    :func:`trust_region_h`. Edges: log_w = -inf gives 0, log_w = +inf gives 0 (the limit).
    Maximum over w: see :func:`trust_region_weight_max` (about 1.5747 at w = 2.0601 for tau = 1).
    """
    log_w = _log_w(log_w)
    tau = _positive("tau", tau)
    return _h_and_wh(log_w, tau)[1]


def g_gamma(log_w, gamma, tau):
    """SFT-RL interpolation g_gamma(w) = (1 - gamma) + gamma w h(w) (seed 003 section 3.3).

    gamma = 0 gives 1 (SFT), gamma = 1 gives w h(w). Domain: log_w not NaN, gamma in [0, 1],
    tau > 0 finite. Edges: log_w = +-inf give 1 - gamma (w h(w) -> 0 at both ends).
    """
    log_w = _log_w(log_w)
    gamma = _unit("gamma", gamma)
    tau = _positive("tau", tau)
    return (1 - gamma) + gamma * _h_and_wh(log_w, tau)[1]


def phi_gamma(log_w, A, gamma, tau):
    """Phi form of :func:`g_gamma` with a fixed gamma: phi(w, A) = A ((1 - gamma) + gamma w h(w)).

    Seed 003 sections 3.3 and 7 (the objective A f_gamma(w) generates it). Domain: log_w not
    NaN, A finite, gamma in [0, 1], tau > 0 finite. A = 0 (either sign) gives a zero of that
    sign.
    """
    log_w = _log_w(log_w)
    A = require_finite("A", A)
    gamma = _unit("gamma", gamma)
    tau = _positive("tau", tau)
    return A * ((1 - gamma) + gamma * _h_and_wh(log_w, tau)[1])


# ---------------------------------------------------------------- section 4: adaptive gamma


def correctness(log_w, A):
    """Correctness metric C(w, A) = A log w (seed 003 section 4.2).

    Domain: log_w not NaN (+-inf allowed), A finite. Edge: A = 0 gives 0 for every w, including
    w = 0 and w = infinity (where A log w would be 0 * inf).
    """
    log_w = _log_w(log_w)
    A = require_finite("A", A)
    return _correctness(log_w, A)


def p_wrong(log_w, A, tau_c):
    """P_wrong(w, A) = sigmoid(-A log w / tau_c) (seed 003 section 4.3). Range (0, 1); 1/2 at
    C = 0 (A = 0 or w = 1); 0 or 1 at C = +-inf. Domain: log_w not NaN, A finite, tau_c > 0."""
    log_w = _log_w(log_w)
    A = require_finite("A", A)
    tau_c = _positive("tau_c", tau_c)
    return _sigmoid_pair(_z(log_w, A, tau_c))[0]


def gamma_adaptive(log_w, A, gamma_base, gamma_max, tau_c):
    """gamma(w, A) = gamma_base + (gamma_max - gamma_base) sigmoid(-A log w / tau_c)
    (seed 003 sections 4.3 and 9.1).

    Domain: log_w not NaN, A finite, gamma_base and gamma_max in [0, 1] (either order; the seed
    intends gamma_base < gamma_max), tau_c > 0 finite. Edges: C = 0 gives the midpoint
    (gamma_base + gamma_max) / 2; C -> +inf gives gamma_base, C -> -inf gives gamma_max.
    """
    log_w = _log_w(log_w)
    A = require_finite("A", A)
    gamma_base = _unit("gamma_base", gamma_base)
    gamma_max = _unit("gamma_max", gamma_max)
    tau_c = _positive("tau_c", tau_c)
    return _gamma_pair(log_w, A, gamma_base, gamma_max, tau_c)[0]


def _g_adaptive(log_w, A, gamma_base, gamma_max, tau_h, tau_c):
    gamma, one_minus = _gamma_pair(log_w, A, gamma_base, gamma_max, tau_c)
    return one_minus + gamma * _h_and_wh(log_w, tau_h)[1]


def _adaptive_args(log_w, A, gamma_base, gamma_max, tau_h, tau_c):
    return (
        _log_w(log_w),
        require_finite("A", A),
        _unit("gamma_base", gamma_base),
        _unit("gamma_max", gamma_max),
        _positive("tau_h", tau_h),
        _positive("tau_c", tau_c),
    )


def g_adaptive(log_w, A, gamma_base, gamma_max, tau_h, tau_c):
    """Full v5 weight g(w, A) = (1 - gamma(w, A)) + gamma(w, A) w sech^2(tau_h (w - 1) / 2)
    (seed 003 sections 4.4 and 9.1), the multiplier of A grad log pi.

    Domain as :func:`gamma_adaptive` plus tau_h > 0 finite. Range: 0 < g <= (1 - gamma) +
    gamma max_w(w h) (1.5172 at the seed's section 5.1 parameters); edges: log_w = +-inf give
    1 - gamma(w, A) at that limit (not 0).
    """
    args = _adaptive_args(log_w, A, gamma_base, gamma_max, tau_h, tau_c)
    return _g_adaptive(*args)


def phi_adaptive(log_w, A, gamma_base, gamma_max, tau_h, tau_c):
    """Phi form of the full v5 weight: phi(w, A) = A g(w, A) (seed 003 sections 4.4, 9.1).

    Domain as :func:`g_adaptive`. A = 0 gives a zero of A's sign.
    """
    args = _adaptive_args(log_w, A, gamma_base, gamma_max, tau_h, tau_c)
    return args[1] * _g_adaptive(*args)


def g_adaptive_max_section_5_4(log_w, A, gamma_base, gamma_max, tau_h, tau_c):
    """Section 5.4's alternative: g = max((1 - gamma) + gamma w h(w), 1) when C = A log w < 0,
    else the full weight g(w, A) of :func:`g_adaptive`.

    Offered by the seed for case 3 (w < 1, A > 0) to raise its weight to at least the SFT
    weight; as written it also applies to case 2 (w > 1, A < 0). Domain as :func:`g_adaptive`;
    at C = 0 (A = 0 or w = 1) the plain g(w, A) is used.
    """
    args = _adaptive_args(log_w, A, gamma_base, gamma_max, tau_h, tau_c)
    g = _g_adaptive(*args)
    return max(g, mpmath.mpf(1)) if _correctness(args[0], args[1]) < 0 else g


# ---------------------------------------------------------------- part 7: the objective


def _tanh_term(log_w, tau):
    """(2 / tau) tanh(tau (w - 1) / 2) at ambient precision (exact at both ends)."""
    if log_w == mpmath.inf:
        return 2 / tau
    x, _ = _sech2_arg(log_w, tau)
    return 2 * mpmath.tanh(x) / tau


def _f(log_w, gamma, one_minus, tau):
    log_part = mpmath.mpf(0) if one_minus == 0 else one_minus * log_w
    return log_part + gamma * _tanh_term(log_w, tau)


def f_gamma(log_w, gamma, tau):
    """Part 7 objective f_gamma(w) = (1 - gamma) log w + gamma (2 / tau) tanh(tau (w - 1) / 2).

    With gamma constant, d f_gamma / d(log w) = w f_gamma'(w) = g_gamma(w) exactly (the
    objective E_mu[A f_gamma(w)] has gradient E_mu[A g_gamma(w) grad log pi], with a plus sign:
    the seed's minus sign in part 7 is wrong). f_gamma(1) = 0.
    Domain: log_w not NaN, gamma in [0, 1], tau > 0 finite. Edges: log_w = -inf gives -inf
    (gamma < 1) or (2 / tau) tanh(-tau / 2) (gamma = 1); log_w = +inf gives +inf (gamma < 1) or
    2 / tau (gamma = 1).
    """
    log_w = _log_w(log_w)
    gamma = _unit("gamma", gamma)
    tau = _positive("tau", tau)
    return _f(log_w, gamma, 1 - gamma, tau)


def f_gamma_adaptive_section_7(log_w, A, gamma_base, gamma_max, tau_h, tau_c):
    """Part 7's boxed objective with the adaptive gamma(w, A) of section 4.3 plugged in, as the
    seed combines them: (1 - gamma(w, A)) log w + gamma(w, A) (2 / tau_h) tanh(tau_h (w - 1) / 2).

    Seed-as-written: its derivative in log w is NOT g(w, A), because gamma depends on w (the
    integration in part 7 treats gamma as a constant). See :func:`f_adaptive_exact` for an
    objective that does generate g(w, A), and claim 003-7-e. Domain as :func:`g_adaptive`;
    edges as :func:`f_gamma` with gamma = gamma(w, A) at the limit.
    """
    log_w, A, gamma_base, gamma_max, tau_h, tau_c = _adaptive_args(
        log_w, A, gamma_base, gamma_max, tau_h, tau_c
    )
    gamma, one_minus = _gamma_pair(log_w, A, gamma_base, gamma_max, tau_c)
    return _f(log_w, gamma, one_minus, tau_h)


def f_adaptive_exact(log_w, A, gamma_base, gamma_max, tau_h, tau_c):
    """An objective that does generate the adaptive weight: F(w, A) = integral from 0 to log w
    of g(e^s, A) ds, so that dF / d(log w) = g(w, A) and F(1, A) = 0 (corrects part 7 for the
    adaptive gamma). No closed form (the gamma(w, A) w h(w) term has none); mpmath quadrature,
    split at the points where the integrand changes scale. Domain as :func:`g_adaptive` with
    log_w finite.
    """
    log_w, A, gamma_base, gamma_max, tau_h, tau_c = _adaptive_args(
        log_w, A, gamma_base, gamma_max, tau_h, tau_c
    )
    log_w = require_finite("log_w", log_w)
    if log_w == 0:
        return mpmath.mpf(0)

    def integrand(s):
        return _g_adaptive(s, A, gamma_base, gamma_max, tau_h, tau_c)

    knots = sorted({mpmath.mpf(0), log_w} | {k for k in (-2, -1, 1, 2) if k * log_w > 0})
    knots = [k for k in knots if min(0, log_w) <= k <= max(0, log_w)]
    total = mpmath.quad(integrand, knots)
    return total if log_w > 0 else -total


def trust_region_weight_max(tau):
    """(w*, max) of w h(w) over w > 0: w* solves w tau tanh(tau (w - 1) / 2) = 1 (the zero of
    d(w h)/dw = h (1 - w tau tanh(tau (w - 1) / 2))), unique on w > 1. Seed 003 section 8.1 says
    about 1.5 at w = 1.7; for tau = 1 it is 1.5747 at w = 2.0601. Domain: tau > 0 finite.
    mpmath root finding (used by the ledger; no torch twin).
    """
    tau = _positive("tau", tau)

    def stationary(w):
        return w * tau * mpmath.tanh(tau * (w - 1) / 2) - 1

    # bracket: stationary(1) = -1 < 0, and at w = 1 + 2/tau + 1/tau, w tau tanh(.) > 1
    lo, hi = mpmath.mpf(1), 1 + 3 / tau + 3
    while stationary(hi) <= 0:
        hi *= 2
    w_star = mpmath.findroot(stationary, (lo, hi), solver="anderson")
    return w_star, w_star * mpmath.sech(tau * (w_star - 1) / 2) ** 2


def _sigmoid_np(z):
    import numpy as np

    z = np.asarray(z, dtype=np.float64)
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def trust_region_weight_np(log_w, tau):
    """NumPy float64 companion of :func:`trust_region_weight` (w h(w)) for grids and Monte
    Carlo in the ledger: 4 w sigmoid(-t) sigmoid(t), t = tau |w - 1|, with far points
    (t > max(log_w, 0) + 800, value below exp(-798)) set to 0. No argument checks."""
    import numpy as np

    lw = np.asarray(log_w, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        t = tau * np.abs(np.expm1(lw))
        far = (t > np.maximum(lw, 0) + 800) | np.isposinf(lw)
        safe = np.where(far, 0.0, lw)
        t = tau * np.abs(np.expm1(safe))
        wh = np.exp(safe) * 4 * _sigmoid_np(-t) * _sigmoid_np(t)
    return np.where(far, 0.0, wh)


def g_adaptive_np(log_w, A, gamma_base, gamma_max, tau_h, tau_c):
    """NumPy float64 companion of :func:`g_adaptive` (no argument checks); broadcasts."""
    import numpy as np

    lw = np.asarray(log_w, dtype=np.float64)
    A = np.asarray(A, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        C = np.where(A == 0, 0.0, A * lw)
    z = -C / tau_c
    s_pos, s_neg = _sigmoid_np(z), _sigmoid_np(-z)
    gamma = gamma_base * s_neg + gamma_max * s_pos
    one_minus = (1 - gamma_base) * s_neg + (1 - gamma_max) * s_pos
    return one_minus + gamma * trust_region_weight_np(lw, tau_h)


NO_GOLDEN = {
    "f_adaptive_exact": "mpmath quadrature with no closed form; the ledger uses it to show what "
    "part 7 should integrate to, and the torch surrogate uses a stop-gradient gamma instead",
    "trust_region_weight_max": "mpmath root solve of w tau tanh(tau (w-1)/2) = 1 for the "
    "ledger's maximum claims; not a training-time quantity",
}


# ---------------------------------------------------------------- golden fixtures

LOG_W_GRID = (
    -700.0,
    -100.0,
    -20.0,
    -5.0,
    -2.0,
    -1.0,
    -0.6931471805599453,  # log 0.5
    -0.1,
    -1e-3,
    -1e-8,
    -0.0,
    0.0,
    1e-8,
    1e-3,
    0.1,
    0.4054651081081644,  # log 1.5
    0.6931471805599453,  # log 2
    1.0,
    1.0986122886681098,  # log 3
    1.5,
    1.6094379124341003,  # log 5
    2.0,
    2.302585092994046,  # log 10
    3.0,
    5.0,
    6.5,
    10.0,
    20.0,
    100.0,
    700.0,
)
LOG_W_SMALL = (-700.0, -5.0, -1.0, -1e-8, 0.0, 1e-8, 0.5, 1.0, 3.0, 6.5, 700.0)
INF = float("inf")
NAN = float("nan")
# the w values the seed prints (tables 3.2, 5.x, 6.2, 8.2); log of each as a float64
SEED_W = {
    0.2: -1.6094379124341003,
    0.5: -0.6931471805599453,
    1.0: 0.0,
    2.0: 0.6931471805599453,
    3.0: 1.0986122886681098,
    5.0: 1.6094379124341003,
    10.0: 2.302585092994046,
}
SEED_H_PRINTED = {
    0.2: "0.50",
    0.5: "0.79",
    1.0: "1.00",
    2.0: "0.79",
    5.0: "0.07",
    10.0: "0.0002",
    3.0: "0.42",
}
SEED_WH_PRINTED = {
    0.2: "0.10",
    0.5: "0.39",
    1.0: "1.00",
    2.0: "1.57",
    5.0: "0.35",
    10.0: "0.002",
    3.0: "1.26",
}


def _h_cases():
    cs = []
    for tau in (1.0, 2.0, 0.5, 1e-12, 1e6):
        for lw in LOG_W_GRID:
            cs.append(case(f"grid tau={tau} log_w={lw}", log_w=lw, tau=tau))
    for w, lw in SEED_W.items():
        cs.append(
            case(
                f"seed table 3.2 / 8.2 (tau=1): w={w}, printed h={SEED_H_PRINTED[w]}, "
                f"w h={SEED_WH_PRINTED[w]}",
                log_w=lw,
                tau=1.0,
            )
        )
    cs += [
        case("edge: w = 0 (log_w = -inf) gives sech^2(tau/2)", log_w=-INF, tau=1.0),
        case("edge: w = inf (log_w = +inf) gives 0", log_w=INF, tau=1.0),
        case("extreme: tau tiny, log_w = 700", log_w=700.0, tau=1e-300),
        case("extreme: tau large, w near 1", log_w=1e-9, tau=1e9),
        case("edge: tau = 0", log_w=0.5, tau=0.0),
        case("edge: tau < 0", log_w=0.5, tau=-1.0),
        case("edge: tau = inf", log_w=0.5, tau=INF),
        case("edge: tau NaN", log_w=0.5, tau=NAN),
        case("edge: log_w NaN", log_w=NAN, tau=1.0),
    ]
    return cs


def _g_gamma_cases():
    cs = []
    for gamma, tau in ((0.0, 1.0), (1.0, 1.0), (0.5, 1.0), (0.3, 2.0), (1.0, 1e-12), (1.0, 1e6)):
        for lw in LOG_W_GRID:
            cs.append(
                case(f"grid gamma={gamma} tau={tau} log_w={lw}", log_w=lw, gamma=gamma, tau=tau)
            )
    cs.append(
        case(
            "seed 6.2: w=10, gamma=0.9, tau=1, printed g=0.102",
            log_w=SEED_W[10.0],
            gamma=0.9,
            tau=1.0,
        )
    )
    for lw, note in ((-INF, "w = 0"), (INF, "w = inf")):
        cs.append(case(f"edge: {note} gives 1 - gamma", log_w=lw, gamma=0.25, tau=1.0))
    cs += [
        case("edge: gamma < 0", log_w=0.5, gamma=-0.1, tau=1.0),
        case("edge: gamma > 1", log_w=0.5, gamma=1.5, tau=1.0),
        case("edge: gamma NaN", log_w=0.5, gamma=NAN, tau=1.0),
        case("edge: tau = 0", log_w=0.5, gamma=0.5, tau=0.0),
        case("edge: log_w NaN", log_w=NAN, gamma=0.5, tau=1.0),
    ]
    return cs


A_VALUES = (-1.0, -0.0, 0.0, 1.0, 1e-300, -1e6, 2.5)


def _phi_gamma_cases():
    cs = []
    for gamma, tau in ((0.0, 1.0), (1.0, 1.0), (0.5, 2.0), (1.0, 1e-12)):
        for A in A_VALUES:
            for lw in LOG_W_SMALL:
                cs.append(
                    case(
                        f"grid gamma={gamma} tau={tau} A={A} log_w={lw}",
                        log_w=lw,
                        A=A,
                        gamma=gamma,
                        tau=tau,
                    )
                )
    cs += [
        case("edge: w = 0", log_w=-INF, A=1.0, gamma=0.5, tau=1.0),
        case("edge: w = inf", log_w=INF, A=-1.0, gamma=0.5, tau=1.0),
        case("edge: A = inf", log_w=0.5, A=INF, gamma=0.5, tau=1.0),
        case("edge: A NaN", log_w=0.5, A=NAN, gamma=0.5, tau=1.0),
        case("edge: gamma > 1", log_w=0.5, A=1.0, gamma=2.0, tau=1.0),
        case("edge: tau < 0", log_w=0.5, A=1.0, gamma=0.5, tau=-2.0),
    ]
    return cs


def _c_cases():
    cs = []
    for A in A_VALUES + (1e300, -1e300):
        for lw in LOG_W_GRID:
            cs.append(case(f"grid A={A} log_w={lw}", log_w=lw, A=A))
    printed = {"5.2 case 1": "0.69", "5.3 case 2": "-1.10", "5.4 case 3": "-0.69"}
    for name, w, A, *_ in SEED_QUADRANTS:  # defined below; cases are built lazily
        note = f"seed {name}: w={w}, A={A}, printed C={printed.get(name, '0.69')}"
        cs.append(case(note, log_w=SEED_W[w], A=A))
    cs += [
        case("edge: A = 0, w = 0 gives 0", log_w=-INF, A=0.0),
        case("edge: A = 0, w = inf gives 0", log_w=INF, A=-0.0),
        case("edge: A > 0, w = 0 gives -inf", log_w=-INF, A=1.0),
        case("edge: A < 0, w = inf gives -inf", log_w=INF, A=-2.0),
        case("edge: A inf", log_w=1.0, A=INF),
        case("edge: log_w NaN", log_w=NAN, A=1.0),
    ]
    return cs


# (gamma_base, gamma_max, tau_h, tau_c): the seed's section 5.1 setting first, then boundaries
ADAPTIVE_PARAMS = (
    (0.1, 0.9, 1.0, 1.0),
    (0.0, 1.0, 1.0, 1.0),
    (0.3, 0.7, 2.0, 0.5),
    (0.1, 0.9, 1e-12, 1.0),
    (0.1, 0.9, 1e6, 1.0),
    (0.1, 0.9, 1.0, 1e-6),
    (0.1, 0.9, 1.0, 1e6),
    (0.9, 0.1, 1.0, 1.0),
    (1.0, 1.0, 1.0, 1.0),
)
# the four worked examples of section 5 (w, A, printed P_wrong, gamma, h, w h, g)
SEED_QUADRANTS = (
    ("5.2 case 1", 2.0, 1.0, "0.33", "0.37", "0.79", "1.57", "1.21"),
    ("5.3 case 2", 3.0, -1.0, "0.75", "0.70", "0.42", "1.26", "1.18"),
    ("5.4 case 3", 0.5, 1.0, "0.67", "0.64", "0.79", "0.39", "0.61"),
    ("5.5 case 4", 0.5, -1.0, "0.33", "0.37", "0.79", "0.39", "0.78"),
)


def _adaptive_cases(with_tau_h: bool):
    def params(gb, gm, th, tc):
        d = {"gamma_base": gb, "gamma_max": gm, "tau_c": tc}
        if with_tau_h:
            d["tau_h"] = th
        return d

    cs = []
    seen = set()
    for i, (gb, gm, th, tc) in enumerate(ADAPTIVE_PARAMS):
        if not with_tau_h and (gb, gm, tc) in seen:
            continue
        seen.add((gb, gm, tc))
        grid = LOG_W_GRID if i == 0 else LOG_W_SMALL
        for A in A_VALUES if i == 0 else (-1.0, 0.0, 1.0):
            for lw in grid:
                p = params(gb, gm, th, tc)
                cs.append(case(f"grid {p} A={A} log_w={lw}", log_w=lw, A=A, **p))
    seed = params(0.1, 0.9, 1.0, 1.0)
    for name, w, A, pw, g, h, wh, gw in SEED_QUADRANTS:
        cs.append(
            case(
                f"seed {name}: w={w}, A={A}; printed P_wrong={pw}, gamma={g}, h={h}, w h={wh}, "
                f"g={gw}",
                log_w=SEED_W[w],
                A=A,
                **seed,
            )
        )
    cs.append(
        case(
            "seed 6.2 style: w=10, A=+1 (far off-policy, correct)",
            log_w=SEED_W[10.0],
            A=1.0,
            **seed,
        )
    )
    cs.append(
        case(
            "seed 6.2 style: w=10, A=-1 (far off-policy, wrong)", log_w=SEED_W[10.0], A=-1.0, **seed
        )
    )
    cs += [
        case(
            "extreme: C/tau_c overflows float64 (A=1e300, log_w=700, tau_c=1e-6)",
            log_w=700.0,
            A=1e300,
            **params(0.1, 0.9, 1.0, 1e-6),
        ),
        case("edge: w = 0, A > 0", log_w=-INF, A=1.0, **seed),
        case("edge: w = inf, A < 0", log_w=INF, A=-1.0, **seed),
        case("edge: w = inf, A = 0", log_w=INF, A=0.0, **seed),
        case("edge: A inf", log_w=0.5, A=INF, **seed),
        case("edge: log_w NaN", log_w=NAN, A=1.0, **seed),
        case("edge: gamma_base < 0", log_w=0.5, A=1.0, **params(-0.1, 0.9, 1.0, 1.0)),
        case("edge: gamma_max > 1", log_w=0.5, A=1.0, **params(0.1, 1.1, 1.0, 1.0)),
        case("edge: tau_c = 0", log_w=0.5, A=1.0, **params(0.1, 0.9, 1.0, 0.0)),
        case("edge: tau_c inf", log_w=0.5, A=1.0, **params(0.1, 0.9, 1.0, INF)),
    ]
    if with_tau_h:
        cs.append(case("edge: tau_h = 0", log_w=0.5, A=1.0, **params(0.1, 0.9, 0.0, 1.0)))
        cs.append(case("edge: tau_h NaN", log_w=0.5, A=1.0, **params(0.1, 0.9, NAN, 1.0)))
    return cs


def _p_wrong_cases():
    cs = []
    for tc in (1.0, 1e-6, 1e6):
        for A in A_VALUES if tc == 1.0 else (-1.0, 1.0):
            for lw in LOG_W_GRID if tc == 1.0 else LOG_W_SMALL:
                cs.append(case(f"grid tau_c={tc} A={A} log_w={lw}", log_w=lw, A=A, tau_c=tc))
    for name, w, A, pw, *_ in SEED_QUADRANTS:
        cs.append(
            case(
                f"seed {name}: w={w}, A={A}, printed P_wrong={pw}", log_w=SEED_W[w], A=A, tau_c=1.0
            )
        )
    cs += [
        case("extreme: C/tau_c overflows", log_w=700.0, A=1e300, tau_c=1e-6),
        case("edge: w = 0, A = 1 gives 1", log_w=-INF, A=1.0, tau_c=1.0),
        case("edge: w = 0, A = -1 gives 0", log_w=-INF, A=-1.0, tau_c=1.0),
        case("edge: w = inf, A = 1 gives 0", log_w=INF, A=1.0, tau_c=1.0),
        case("edge: w = inf, A = -1 gives 1", log_w=INF, A=-1.0, tau_c=1.0),
        # A = 0 at w = 0 / inf: C = 0 (not 0 * inf = NaN), so P_wrong = 1/2
        case("edge: A = 0, w = 0 gives 1/2 (C = 0)", log_w=-INF, A=0.0, tau_c=1.0),
        case("edge: A = -0.0, w = 0 gives 1/2 (C = 0)", log_w=-INF, A=-0.0, tau_c=1e-6),
        case("edge: A = 0, w = inf gives 1/2 (C = 0)", log_w=INF, A=0.0, tau_c=1e-6),
        case("edge: A = -0.0, w = inf gives 1/2 (C = 0)", log_w=INF, A=-0.0, tau_c=1e6),
        case("edge: tau_c = 0", log_w=0.5, A=1.0, tau_c=0.0),
        case("edge: tau_c < 0", log_w=0.5, A=1.0, tau_c=-1.0),
        case("edge: A NaN", log_w=0.5, A=NAN, tau_c=1.0),
    ]
    return cs


def _f_gamma_cases():
    cs = []
    for gamma, tau in ((0.0, 1.0), (1.0, 1.0), (0.5, 1.0), (0.3, 2.0), (1.0, 1e-12), (1.0, 1e6)):
        for lw in LOG_W_GRID:
            cs.append(
                case(f"grid gamma={gamma} tau={tau} log_w={lw}", log_w=lw, gamma=gamma, tau=tau)
            )
    cs += [
        case("edge: w = 0, gamma < 1 gives -inf", log_w=-INF, gamma=0.5, tau=1.0),
        case("edge: w = 0, gamma = 1 gives (2/tau) tanh(-tau/2)", log_w=-INF, gamma=1.0, tau=1.0),
        case("edge: w = inf, gamma < 1 gives +inf", log_w=INF, gamma=0.5, tau=1.0),
        case("edge: w = inf, gamma = 1 gives 2/tau", log_w=INF, gamma=1.0, tau=2.0),
        case("edge: gamma > 1", log_w=0.5, gamma=1.5, tau=1.0),
        case("edge: tau = 0", log_w=0.5, gamma=0.5, tau=0.0),
        case("edge: log_w NaN", log_w=NAN, gamma=0.5, tau=1.0),
    ]
    return cs


ADAPTIVE_ARGS = ("log_w", "A", "gamma_base", "gamma_max", "tau_h", "tau_c")
register_golden(trust_region_h, _h_cases, tensor_args=("log_w", "tau"))
register_golden(trust_region_weight, _h_cases, tensor_args=("log_w", "tau"))
register_golden(g_gamma, _g_gamma_cases, tensor_args=("log_w", "gamma", "tau"))
register_golden(phi_gamma, _phi_gamma_cases, tensor_args=("log_w", "A", "gamma", "tau"))
register_golden(correctness, _c_cases, tensor_args=("log_w", "A"))
register_golden(p_wrong, _p_wrong_cases, tensor_args=("log_w", "A", "tau_c"))
register_golden(
    gamma_adaptive,
    lambda: _adaptive_cases(with_tau_h=False),
    tensor_args=("log_w", "A", "gamma_base", "gamma_max", "tau_c"),
)
register_golden(g_adaptive, lambda: _adaptive_cases(with_tau_h=True), tensor_args=ADAPTIVE_ARGS)
register_golden(phi_adaptive, lambda: _adaptive_cases(with_tau_h=True), tensor_args=ADAPTIVE_ARGS)
register_golden(
    g_adaptive_max_section_5_4,
    lambda: _adaptive_cases(with_tau_h=True),
    tensor_args=ADAPTIVE_ARGS,
)
register_golden(f_gamma, _f_gamma_cases, tensor_args=("log_w", "gamma", "tau"))


def _f_adaptive_cases():
    """The shared adaptive cases plus gamma(w, A) = 1 exactly at (and near) the ends of w, where
    the objective is its tanh term alone: 2 / tau_h at w = inf, (2 / tau_h) tanh(-tau_h / 2) at
    w = 0 (tau_h = 4 tells 2 / tau_h from 1 / tau_h and 2 tau_h)."""
    cs = _adaptive_cases(with_tau_h=True)
    rows = (
        ("w = inf, A = -1 (P_wrong = 1), gamma_max = 1: gamma = 1 gives 2 / tau_h", INF, -1.0, 0.1),
        ("w = inf, A = 0, gamma_base = gamma_max = 1 gives 2 / tau_h", INF, 0.0, 1.0),
        ("w = inf, A = 1 (P_wrong = 0), gamma_base = gamma_max = 1 gives 2 / tau_h", INF, 1.0, 1.0),
        (
            "w = 0, A = 1 (P_wrong = 1), gamma_max = 1 gives (2/tau_h) tanh(-tau_h/2)",
            -INF,
            1.0,
            0.1,
        ),
        ("log_w = 700, A = -1, gamma_max = 1: ~2 / tau_h plus 700 (1 - gamma)", 700.0, -1.0, 0.1),
        ("log_w = 700, A = -1, gamma_base = gamma_max = 1 gives 2 / tau_h", 700.0, -1.0, 1.0),
    )
    for note, lw, A, gb in rows:
        for tau_h in (4.0, 1.0):
            cs.append(
                case(
                    f"edge: {note} (tau_h={tau_h})",
                    log_w=lw,
                    A=A,
                    gamma_base=gb,
                    gamma_max=1.0,
                    tau_h=tau_h,
                    tau_c=1.0,
                )
            )
    return cs


register_golden(f_gamma_adaptive_section_7, _f_adaptive_cases, tensor_args=ADAPTIVE_ARGS)
