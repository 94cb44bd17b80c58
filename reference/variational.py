"""Seed 000 (IS Reshape v2.1, "a unified framework from a variational principle").

Every design of the seed, as written and, where the printed formula is wrong, corrected:

- marginal utility phi(w, A): section 2.3 (``marginal_utility_section_2_3``), the hard
  indicator of section 6.3 (``marginal_utility_hard``) and the sigmoid of sections 6.3 / 7.1
  (``marginal_utility_soft``; section 7.1 is temperature 1);
- the optimal weight f* = phi / (2 lambda |A|) (sections 3.3 / 7.2, ``optimal_weight``) and
  lambda from the variance budget (appendix B, ``lagrange_multiplier_variance_budget``);
- gamma*(w, A) of Theorem 4.1, exact (alpha = 2 lambda |A|, ``gamma_star_exact``) and
  approximate (alpha ignored, ``gamma_star_approx``);
- the "practical" gammas of sections 6.1 and 6.2;
- the hard four-case gamma of Theorem 7.1 / section 8.1 (``gamma_hard``);
- the soft formulas of sections 8.2 and 8.3 exactly as printed and corrected so that their
  limits reproduce the case table of section 8.1;
- the section 10 reference code: ``is_reshape_v2_gamma`` (soft case mixture with gamma_base
  from the ESS rule) and the per-token gradient weight of ``is_reshape_v2_loss``.

Conventions: inputs are log-domain (``log_w`` = log pi_theta / mu) and the advantage ``A``;
mpmath at the ambient precision (callers scope it with ``mpmath.workdps``). sign(0) = 0 and
-0.0 is 0 (mpmath has no negative zero). sigma(x) = 1 / (1 + exp(-x)).
"""

from __future__ import annotations

from collections.abc import Sequence

import mpmath
import numpy as np

from isreshape.reference._checks import as_mask, require_finite, require_not_nan, require_range
from isreshape.reference._mp import sigmoid as _sigmoid
from isreshape.reference.gamma import gamma_star_ess
from isreshape.reference.golden import case, register_golden

Real = float | mpmath.mpf

# ------------------------------------------------------------------------------ helpers


def _sign(x) -> int:
    return 0 if x == 0 else (1 if x > 0 else -1)


def _softplus(x):
    """log(1 + exp(x))."""
    if mpmath.isinf(x):
        return mpmath.inf if x > 0 else mpmath.mpf(0)
    return mpmath.log1p(mpmath.exp(x))


def _log_w(log_w, finite: bool = False):
    return require_finite("log_w", log_w) if finite else require_not_nan("log_w", log_w)


def _log_w_nonzero(log_w):
    lw = require_finite("log_w", log_w)
    if lw == 0:
        raise ValueError(
            f"log_w must be nonzero (w = 1 makes the ratio .../log w undefined), got {log_w!r}"
        )
    return lw


def _adv(A):
    return require_finite("A", A)


def _gamma_base(gamma_base):
    return require_range("gamma_base", gamma_base, lo=0, hi=1)


def _temperature(temperature):
    t = require_finite("temperature", temperature)
    return require_range("temperature", t, lo=0, lo_open=True)


def _slog(s: int, lw):
    """sign(A) * log_w with 0 * (+-inf) = 0 (w^0 = 1 for every w)."""
    return mpmath.mpf(0) if s == 0 else s * lw


# ------------------------------------------------------------------ marginal utilities


def marginal_utility_section_2_3(log_w: Real, A: Real) -> mpmath.mpf:
    """phi(w, A) = 1 / (1 + w^sign(A)) (seed 000 section 2.3, boxed unified form).

    The piecewise definition of section 2.3 is 1/(1 + w) for A > 0 and w/(1 + w) for A < 0;
    the boxed form agrees with it for A != 0 and gives 1/2 at A = 0 (and A = -0.0), where the
    piecewise form is undefined. Computed as sigma(-sign(A) log w), which is the same function
    (so the "corrected" phi of section 7.1 is identical to this one).
    Domain: log_w in [-inf, inf] (w = 0 gives 1 for A > 0, 0 for A < 0; w = inf the reverse),
    A finite. NaN log_w and non-finite A raise ``ValueError``. Range [0, 1].
    """
    lw = _log_w(log_w)
    s = _sign(_adv(A))
    return _sigmoid(-_slog(s, lw))


def marginal_utility_hard(log_w: Real, A: Real) -> mpmath.mpf:
    """phi(w, A) = 1[sign(log w) != sign(A)] (seed 000 section 6.3, "correct" definition).

    As written with sign(0) = 0: the four open cases give 0 (w > 1, A > 0), 1 (w > 1, A < 0),
    1 (w < 1, A > 0), 0 (w < 1, A < 0); on the boundaries w = 1 (log_w = 0) with A != 0, and
    A = 0 with w != 1, the signs differ and phi = 1; log_w = 0 and A = 0 together give 0.
    Domain: log_w in [-inf, inf] not NaN, A finite. Range {0, 1}.
    """
    lw = _log_w(log_w)
    a = _adv(A)
    return mpmath.mpf(1 if _sign(lw) != _sign(a) else 0)


def marginal_utility_soft(log_w: Real, A: Real, temperature: Real = 1.0) -> mpmath.mpf:
    """phi(w, A) = sigma(-sign(A) log w T) (seed 000 section 6.3 soft version; T = 1 is the
    phi of section 7.1 and appendix A).

    Domain: log_w in [-inf, inf] not NaN, A finite, temperature T finite and > 0. A = 0 (or
    -0.0) gives 1/2 for every w (w^0 = 1). T -> inf tends to :func:`marginal_utility_hard` off
    the boundaries; at w = 1 the value is 1/2 for every T. Range [0, 1].
    """
    lw = _log_w(log_w)
    s = _sign(_adv(A))
    t = _temperature(temperature)
    return _sigmoid(-_slog(s, lw) * t)


# ---------------------------------------------------------------- optimal weight, lambda


def optimal_weight(log_w: Real, A: Real, lam: Real) -> mpmath.mpf:
    """f*(w, A) = phi(w, A) / (2 lambda |A|) with phi = 1 / (1 + w^sign(A)) (seed 000 sections
    3.3-3.4; with the identical phi of section 7.1 also section 7.2).

    Domain: log_w in [-inf, inf] not NaN, A finite and nonzero, lam finite and > 0. A = 0
    raises ``ValueError`` (the first-order condition |A| phi = 2 lambda f A^2 holds for every f
    there); lam <= 0 raises (the Lagrangian is then not concave in f). Range [0, inf).
    """
    phi = marginal_utility_section_2_3(log_w, A)
    a = _adv(A)
    if a == 0:
        raise ValueError(f"A must be nonzero (f* = phi / (2 lambda |A|)), got {A!r}")
    lam = require_range("lam", require_finite("lam", lam), lo=0, lo_open=True)
    return phi / (2 * lam * abs(a))


def lagrange_multiplier_variance_budget(
    log_w: Sequence[Real], A: Sequence[Real], c_max: Real, mask: Sequence[bool] | None = None
) -> mpmath.mpf:
    """lambda = (1/2) sqrt(mean(phi^2) / C_max), phi = sigma(-sign(A) log w) (seed 000 appendix
    B), the multiplier for which the sample mean of (f*)^2 A^2 = phi^2 / (4 lambda^2) equals
    C_max.

    log_w and A are sequences of equal length (the sample; the expectation is the mean over
    the entries selected by ``mask``). Domain: log_w without NaN, A finite and nonzero on the
    selected entries (f* is undefined at A = 0), c_max finite and > 0, at least one selected
    entry. Violations raise ``ValueError``. Range (0, inf) except that every phi = 0 (all
    w = 0 with A < 0 or w = inf with A > 0) gives 0.
    """
    lw = [_log_w(v) for v in log_w]
    adv = [_adv(v) for v in A]
    if len(adv) != len(lw):
        raise ValueError(f"A has length {len(adv)}, expected {len(lw)}")
    keep = as_mask("mask", mask, len(lw))
    if not any(keep):
        raise ValueError("mask selects no entries (empty sample)")
    c_max = require_range("c_max", require_finite("c_max", c_max), lo=0, lo_open=True)
    phis = []
    for v, a, k in zip(lw, adv, keep):
        if not k:
            continue
        if a == 0:
            raise ValueError("A must be nonzero on the selected entries, got 0.0")
        phis.append(marginal_utility_section_2_3(v, a))
    mean_sq = mpmath.fsum(p * p for p in phis) / len(phis)
    return mpmath.sqrt(mean_sq / c_max) / 2


# ------------------------------------------------------------------- Theorem 4.1 gammas


def gamma_star_exact(log_w: Real, A: Real, lam: Real) -> mpmath.mpf:
    """Theorem 4.1: gamma* = clip[(-log(2 lambda |A|) - log(1 + w^sign(A))) / log w, 0, 1].

    Seed 000 sections 4.2-4.4 with alpha = 2 lambda |A|; the section 5.1 examples (alpha = 0.1)
    are A = +-1, lam = 0.05. Domain: log_w finite and nonzero (w = 1 makes the ratio
    undefined: ``ValueError``), A finite, lam finite and > 0. A = 0 gives alpha = 0, the
    numerator +inf, and so 1 for w > 1 and 0 for w < 1 (the alpha -> 0+ limit). Range [0, 1].
    """
    lw = _log_w_nonzero(log_w)
    a = _adv(A)
    lam = require_range("lam", require_finite("lam", lam), lo=0, lo_open=True)
    alpha = 2 * lam * abs(a)
    if alpha == 0:
        return mpmath.mpf(1) if lw > 0 else mpmath.mpf(0)
    raw = (-mpmath.log(alpha) - _softplus(_slog(_sign(a), lw))) / lw
    return min(mpmath.mpf(1), max(mpmath.mpf(0), raw))


def gamma_star_approx(log_w: Real, A: Real) -> mpmath.mpf:
    """Theorem 4.1, approximate form: gamma* ~ clip[-log(1 + w^sign(A)) / log w, 0, 1] (seed
    000 section 4.4, alpha ignored; equal to the exact form at alpha = 1).

    Domain: log_w finite and nonzero (``ValueError`` otherwise), A finite; A = 0 gives
    clip(-log 2 / log w): 0 for w > 1 and min(1, log 2 / |log w|) for w < 1. Range [0, 1].
    """
    lw = _log_w_nonzero(log_w)
    s = _sign(_adv(A))
    raw = -_softplus(_slog(s, lw)) / lw
    return min(mpmath.mpf(1), max(mpmath.mpf(0), raw))


# ------------------------------------------------------------------- section 6 gammas


def gamma_approx_section_6_1(log_w: Real, A: Real, eps: Real) -> mpmath.mpf:
    """gamma*_approx = 1 - phi log(1/phi) / max(|log w|, eps) (seed 000 section 6.1), with the
    phi of section 2.3, phi = 1 / (1 + w^sign(A)), so log(1/phi) = log(1 + w^sign(A)).

    As printed there is no clip: the value can be far below 0 when |log w| is small (for
    example log w = 0.01, A > 0 gives about -33.7). Domain: log_w finite, A finite, eps finite
    and > 0. log_w = 0 divides by eps. A = 0 gives 1 - log(2) / (2 max(|log w|, eps)).
    Range (-inf, 1).
    """
    lw = _log_w(log_w, finite=True)
    s = _sign(_adv(A))
    eps = require_range("eps", require_finite("eps", eps), lo=0, lo_open=True)
    x = _slog(s, lw)
    phi = _sigmoid(-x)
    return 1 - phi * _softplus(x) / max(abs(lw), eps)


def gamma_practical_section_6_2(log_w: Real, A: Real, gamma_base: Real) -> mpmath.mpf:
    """gamma*_practical = gamma_base + (1 - gamma_base) g(w, A), g = 1 - phi = w^s / (1 + w^s),
    s = sign(A), phi of section 2.3 (seed 000 section 6.2).

    Domain: log_w in [-inf, inf] not NaN, A finite, gamma_base in [0, 1]. A = 0 gives
    (1 + gamma_base) / 2. Range [gamma_base, 1].
    """
    lw = _log_w(log_w)
    s = _sign(_adv(A))
    gb = _gamma_base(gamma_base)
    return gb + (1 - gb) * _sigmoid(_slog(s, lw))


# ------------------------------------------------------------ Theorem 7.1 / section 8


def gamma_hard(log_w: Real, A: Real, gamma_base: Real) -> mpmath.mpf:
    """Theorem 7.1 (boxed) = the section 8.1 case table: gamma = gamma_base
    + (1 - gamma_base) 1[w < 1, A < 0] - gamma_base 1[w > 1, A > 0].

    Case 1 (w > 1, A > 0): 0; cases 2 and 3: gamma_base; case 4 (w < 1, A < 0): 1. On the
    boundaries (log_w = 0 or A = 0, -0.0 included), which the table of 8.1 leaves undefined,
    neither indicator fires and the boxed formula gives gamma_base. Domain: log_w in
    [-inf, inf] not NaN, A finite, gamma_base in [0, 1].
    """
    lw = _log_w(log_w)
    a = _adv(A)
    gb = _gamma_base(gamma_base)
    if lw > 0 and a > 0:
        return mpmath.mpf(0)
    if lw < 0 and a < 0:
        return mpmath.mpf(1)
    return gb


def gamma_soft_section_8_2(log_w: Real, A: Real, gamma_base: Real, temperature: Real) -> mpmath.mpf:
    """Section 8.2 as printed: gamma = gamma_base sigma(-s l T) + sigma(l T) (1 - sigma(-s l T)),
    l = log w, s = sign(A), T the temperature.

    As T -> inf this tends to 1 in case 1 and 0 in case 4, the opposite of the table of 8.1
    (the factor sigma(l T) is P(w > 1), not P(w < 1)); see
    :func:`gamma_soft_section_8_2_corrected`. Computed as gamma_base sigma(-s l T)
    + sigma(l T) sigma(s l T) (no cancellation). Domain: log_w in [-inf, inf] not NaN, A
    finite, gamma_base in [0, 1], temperature finite > 0. A = 0: gamma_base / 2 + sigma(l T) / 2.
    """
    lw = _log_w(log_w)
    s = _sign(_adv(A))
    gb = _gamma_base(gamma_base)
    t = _temperature(temperature)
    x = _slog(s, lw) * t
    return gb * _sigmoid(-x) + _sigmoid(lw * t) * _sigmoid(x)


def gamma_soft_section_8_2_corrected(
    log_w: Real, A: Real, gamma_base: Real, temperature: Real
) -> mpmath.mpf:
    """Section 8.2 corrected: gamma = gamma_base phi + sigma(-l T) (1 - phi), phi =
    sigma(-s l T): the continuous version of the "soft form" of Theorem 7.1 (section 7.4),
    gamma_base phi + (1 - phi) 1[w < 1], with 1[w < 1] -> sigma(-l T).

    Its T -> inf limits are the case table of 8.1 (0, gamma_base, gamma_base, 1). Domain as
    :func:`gamma_soft_section_8_2`. A = 0: gamma_base / 2 + sigma(-l T) / 2.
    """
    lw = _log_w(log_w)
    s = _sign(_adv(A))
    gb = _gamma_base(gamma_base)
    t = _temperature(temperature)
    x = _slog(s, lw) * t
    return gb * _sigmoid(-x) + _sigmoid(-lw * t) * _sigmoid(x)


def gamma_soft_section_8_3(log_w: Real, A: Real, gamma_base: Real) -> mpmath.mpf:
    """Section 8.3 as printed (boxed): gamma = gamma_base + (1 - gamma_base) sigma(l) sigma(-A)
    - gamma_base sigma(-l) sigma(A), l = log w, no temperature, the raw advantage A.

    Its limits are swapped against the table of 8.1: sigma(l) sigma(-A) -> 1 in case 2 (not 4)
    and sigma(-l) sigma(A) -> 1 in case 3 (not 1), so |l|, |A| -> inf gives case 1 ->
    gamma_base, case 2 -> 1, case 3 -> 0, case 4 -> gamma_base. Computed without cancellation
    as gamma_base (sigma(l) + sigma(-l) sigma(-A)) + (1 - gamma_base) sigma(l) sigma(-A).
    Domain: log_w in [-inf, inf] not NaN, A finite, gamma_base in [0, 1]. Range [0, 1].
    """
    lw = _log_w(log_w)
    a = _adv(A)
    gb = _gamma_base(gamma_base)
    p_hi, p_lo = _sigmoid(lw), _sigmoid(-lw)
    p_neg = _sigmoid(-a)
    return gb * (p_hi + p_lo * p_neg) + (1 - gb) * p_hi * p_neg


def gamma_soft_section_8_3_corrected(
    log_w: Real, A: Real, gamma_base: Real, temperature: Real
) -> mpmath.mpf:
    """Section 8.3 corrected: gamma = gamma_base + (1 - gamma_base) P4 - gamma_base P1 with
    P4 = sigma(-l T) sigma(-A T) (w < 1, A < 0) and P1 = sigma(l T) sigma(A T) (w > 1, A > 0).

    Equals gamma_base (P2 + P3) + P4 (the four case probabilities sum to 1), i.e. the section
    10 code's gamma before its clamp. Limits (|l| T, |A| T -> inf): the table of 8.1. Computed
    as gamma_base (sigma(-l T) + sigma(l T) sigma(-A T)) + (1 - gamma_base) P4 (no
    cancellation). Domain: log_w in [-inf, inf] not NaN, A finite, gamma_base in [0, 1],
    temperature finite > 0. Range [0, 1].
    """
    lw = _log_w(log_w)
    a = _adv(A)
    gb = _gamma_base(gamma_base)
    t = _temperature(temperature)
    p_hi, p_lo = _sigmoid(lw * t), _sigmoid(-lw * t)
    p_neg = _sigmoid(-a * t)
    return gb * (p_lo + p_hi * p_neg) + (1 - gb) * p_lo * p_neg


# ------------------------------------------------------------------ section 10 code

SIGMA2_FLOOR = mpmath.mpf("1e-8")  # the seed code's `if sigma_sq < 1e-8: gamma_base = gamma_max`


def _code_checks(log_w, A, mask, rho_min, gamma_min, gamma_max, temperature):
    lw = [_log_w(v, finite=True) for v in log_w]
    adv = [_adv(v) for v in A]
    if len(adv) != len(lw):
        raise ValueError(f"A has length {len(adv)}, expected {len(lw)}")
    keep = as_mask("mask", mask, len(lw))
    rho_min = require_range("rho_min", rho_min, lo=0, hi=1, lo_open=True)
    gamma_max = require_range("gamma_max", gamma_max, lo=0, hi=1)
    gamma_min = require_range("gamma_min", gamma_min, lo=0, hi=gamma_max)
    t = _temperature(temperature)
    return lw, adv, keep, rho_min, gamma_min, gamma_max, t


def _code_gamma_base(lw, keep, rho_min, gamma_min, gamma_max):
    valid = [v for v, k in zip(lw, keep) if k]
    n = len(valid)
    if n > 1:
        mean = mpmath.fsum(valid) / n
        sigma2 = mpmath.fsum((v - mean) ** 2 for v in valid) / (n - 1)  # torch .var(): n - 1
    else:
        sigma2 = mpmath.mpf(0)
    if sigma2 < SIGMA2_FLOOR:
        gb = gamma_max
    else:
        gb = min(gamma_max, gamma_star_ess(sigma2, rho_min))
    return max(gamma_min, gb)


def is_reshape_v2_gamma(
    log_w: Sequence[Real],
    A: Sequence[Real],
    mask: Sequence[bool] | None = None,
    rho_min: Real = 0.3,
    gamma_min: Real = 0.0,
    gamma_max: Real = 1.0,
    temperature: Real = 5.0,
) -> list[mpmath.mpf]:
    """Per-token gamma of the seed 000 section 10 code ``is_reshape_v2_gamma``.

    gamma_base = max(gamma_min, min(gamma_max, sqrt(-log rho_min / sigma2))) with sigma2 the
    unbiased (n - 1) variance of the selected log_w (0 for fewer than 2 selected entries) and
    gamma_base = gamma_max when sigma2 < 1e-8; the closed form is
    ``reference.gamma.gamma_star_ess`` (equal to the code's min because gamma_max <= 1). Then
    with p_hi = sigma(l T), p_lo = sigma(-l T), p_pos = sigma(A T), p_neg = sigma(-A T):
    gamma = clamp(gamma_base (p_hi p_neg + p_lo p_pos) + p_lo p_neg, gamma_min, gamma_max),
    computed for every entry (the mask only selects the entries of the variance).
    log_w and A are equal-length sequences. Domain: log_w and A finite, rho_min in (0, 1],
    0 <= gamma_min <= gamma_max <= 1, temperature finite > 0. An empty mask gives sigma2 = 0
    and gamma_base = gamma_max (as the code). Returns a list.
    """
    lw, adv, keep, rho_min, gamma_min, gamma_max, t = _code_checks(
        log_w, A, mask, rho_min, gamma_min, gamma_max, temperature
    )
    gb = _code_gamma_base(lw, keep, rho_min, gamma_min, gamma_max)
    out = []
    for v, a in zip(lw, adv):
        p_hi, p_lo = _sigmoid(v * t), _sigmoid(-v * t)
        p_pos, p_neg = _sigmoid(a * t), _sigmoid(-a * t)
        g = gb * (p_hi * p_neg + p_lo * p_pos) + p_lo * p_neg
        out.append(min(gamma_max, max(gamma_min, g)))
    return out


def is_reshape_v2_gradient_weight(
    log_w: Sequence[Real],
    A: Sequence[Real],
    mask: Sequence[bool] | None = None,
    rho_min: Real = 0.3,
    gamma_min: Real = 0.0,
    gamma_max: Real = 1.0,
    temperature: Real = 5.0,
) -> list[mpmath.mpf]:
    """Per-token gradient weight of the section 10 loss ``is_reshape_v2_loss``:
    -d pg_loss / d log_prob_i = m_i w_i^gamma_i A_i / sum(m), gamma from
    :func:`is_reshape_v2_gamma` (w^gamma is detached in the code, so gamma carries no gradient).

    Here log_w = log_prob - ref_log_prob as in the code. Domain as
    :func:`is_reshape_v2_gamma`; an empty mask raises ``ValueError`` (the code divides by
    mask.sum() = 0). Masked entries give 0. Returns a list.
    """
    gammas = is_reshape_v2_gamma(log_w, A, mask, rho_min, gamma_min, gamma_max, temperature)
    keep = as_mask("mask", mask, len(gammas))
    n = sum(keep)
    if n == 0:
        raise ValueError("mask selects no entries: the loss divides by mask.sum() = 0")
    out = []
    for v, a, g, k in zip(log_w, A, gammas, keep):
        out.append(mpmath.exp(g * mpmath.mpf(v)) * mpmath.mpf(a) / n if k else mpmath.mpf(0))
    return out


# ------------------------------------------------------------------ NumPy companions


def marginal_utility_section_2_3_np(log_w: np.ndarray | float, A: np.ndarray | float) -> np.ndarray:
    """NumPy float64 twin of :func:`marginal_utility_section_2_3` (no argument checks).

    sigma(-x), x = sign(A) log w (0 where A = 0, also for infinite log w), as e^-x / (1 + e^-x)
    for x >= 0 and 1 / (1 + e^x) for x < 0: no cancellation (0.5 (1 - tanh(x / 2)) gives 0
    for x > ~37) and no overflow.
    """
    s = np.sign(np.asarray(A, dtype=np.float64))
    lw = np.asarray(log_w, dtype=np.float64)
    x = s * np.where(s == 0, 0.0, lw)
    e = np.exp(-np.abs(x))  # in (0, 1]
    return np.where(x >= 0, e / (1 + e), 1 / (1 + e))


def gamma_star_exact_np(log_w: np.ndarray | float, A: np.ndarray | float, lam: float) -> np.ndarray:
    """NumPy float64 twin of :func:`gamma_star_exact` (no argument checks; log_w != 0)."""
    lw = np.asarray(log_w, dtype=np.float64)
    a = np.asarray(A, dtype=np.float64)
    with np.errstate(divide="ignore", over="ignore"):  # |num / lw| -> inf is clipped to 0 or 1
        num = -np.log(2 * lam * np.abs(a)) - np.logaddexp(0.0, np.sign(a) * lw)
        return np.clip(num / lw, 0.0, 1.0)


NO_GOLDEN: dict[str, str] = {}

# ------------------------------------------------------------------------ fixtures

LOG_W_GRID = (
    -700.0,
    -100.0,
    -30.0,
    -5.0,
    -2.302585092994046,  # log 0.1 (section 5.1)
    -1.0,
    -0.6931471805599453,  # log 0.5 (section 5.1)
    -0.3,
    -0.1,
    -0.01,
    -1e-3,
    -1e-6,
    -1e-12,
    -1e-300,
    -0.0,
    0.0,
    1e-300,
    1e-12,
    1e-6,
    1e-3,
    0.01,
    0.1,
    0.3,
    0.6931471805599453,  # log 2 (section 5.1)
    1.0,
    5.0,
    30.0,
    100.0,
    700.0,
)
A_GRID = (-1e6, -3.0, -1.0, -1e-300, -0.0, 0.0, 1e-300, 1e-8, 0.5, 1.0, 3.0, 1e6)
A_SMALL = (-3.0, -1.0, -0.0, 0.0, 1e-8, 1.0, 1e6)
LOG_W_SMALL = (-700.0, -5.0, -0.6931471805599453, -0.01, -1e-6, 0.0, 1e-6, 0.01, 0.69, 5.0, 700.0)
NAN, INF = float("nan"), float("inf")


def _grid(params: dict, log_ws=LOG_W_GRID, advs=A_GRID, fast=True):
    label = " ".join(f"{k}={v}" for k, v in params.items())
    return [
        case(f"grid log_w={lw!r} A={a!r} {label}".strip(), fast=fast, log_w=lw, A=a, **params)
        for lw in log_ws
        for a in advs
    ]


def _random(params: dict, n: int = 24, seed: int = 0):
    rng = np.random.default_rng(20261122 + seed)
    lws = rng.normal(0.0, 2.0, size=n)
    advs = rng.normal(0.0, 1.5, size=n)
    label = " ".join(f"{k}={v}" for k, v in params.items())
    return [
        case(f"seeded random #{i} {label}".strip(), log_w=float(lw), A=float(a), **params)
        for i, (lw, a) in enumerate(zip(lws, advs))
    ]


def _edge_errors(params: dict, bad_params: dict):
    cs = [
        case("edge: log_w NaN", log_w=NAN, A=1.0, **params),
        case("edge: A NaN", log_w=0.5, A=NAN, **params),
        case("edge: A +inf", log_w=0.5, A=INF, **params),
        case("edge: A -inf", log_w=-0.5, A=-INF, **params),
    ]
    for name, values in bad_params.items():
        for v in values:
            cs.append(case(f"edge: {name}={v!r}", log_w=0.5, A=1.0, **{**params, name: v}))
    return cs


def _inf_cases(params: dict):
    return [
        case(f"w = {'inf' if lw > 0 else '0'}, A={a}", log_w=lw, A=a, **params)
        for lw in (INF, -INF)
        for a in (-1.0, 0.0, 1.0)
    ]


def _seed_examples(params: dict, printed: bool = False):
    """The (w, A) points of the section 5.1 table (w = 2, 0.5, 0.1; A = +-1). With
    ``printed`` the note names the number the seed prints there for gamma* (alpha = 0.1); the
    fixture stores what the formula really gives."""
    rows = (
        ("Case 1: w=2, A=1", 2.0, 1.0, 0.42, "1 (unclipped 1.737)"),
        ("Case 2: w=2, A=-1", 2.0, -1.0, 0.85, "1 (unclipped 2.737)"),
        ("Case 3: w=0.5, A=1", 0.5, 1.0, 0.58, "0 (unclipped -2.737)"),
        ("Case 4: w=0.5, A=-1", 0.5, -1.0, 0.93, "0 (unclipped -1.737)"),
        ("Case 4 extreme: w=0.1, A=-1", 0.1, -1.0, 0.99, "0.0414"),
    )
    out = []
    for label, w, a, num, real in rows:
        note = f"section 5.1 {label}"
        if printed:
            note += f" (seed prints ~{num}; the formula gives {real})"
        out.append(case(note, log_w=float(np.log(w)), A=a, **params))
    return out


def _phi_2_3_cases():
    return _grid({}) + _random({}) + _inf_cases({}) + _seed_examples({}) + _edge_errors({}, {})


def _phi_hard_cases():
    return _phi_2_3_cases()


def _phi_soft_cases():
    cs = []
    for t in (1.0, 5.0):
        cs += _grid({"temperature": t}, fast=t == 1.0)
    for t in (1e-30, 1e-3, 1e3, 1e30):
        cs += _grid({"temperature": t}, LOG_W_SMALL, A_SMALL, fast=False)
    cs += _random({"temperature": 1.0}) + _inf_cases({"temperature": 2.0})
    cs += _seed_examples({"temperature": 1.0})
    cs += _edge_errors({"temperature": 1.0}, {"temperature": (0.0, -1.0, INF, NAN)})
    return cs


def _optimal_weight_cases():
    adv = tuple(a for a in A_GRID if a != 0)
    cs = _grid({"lam": 0.05}, advs=adv)
    for lam in (1e-30, 1.0, 1e30):
        cs += _grid({"lam": lam}, LOG_W_SMALL, (-3.0, -1e-300, 1e-8, 1.0, 1e6), fast=False)
    cs += _random({"lam": 0.5}) + _seed_examples({"lam": 0.05})
    cs += [
        case(f"w = {'inf' if lw > 0 else '0'}, A={a}", log_w=lw, A=a, lam=0.05)
        for lw in (INF, -INF)
        for a in (-1.0, 1.0)
    ]
    cs += [
        case("edge: A = 0", log_w=0.5, A=0.0, lam=0.05),
        case("edge: A = -0.0", log_w=0.5, A=-0.0, lam=0.05),
    ]
    cs += _edge_errors({"lam": 0.05}, {"lam": (0.0, -1.0, INF, NAN)})
    return cs


def _lambda_cases():
    rng = np.random.default_rng(7)
    cs = []
    for n in (1, 2, 16, 64):
        lw = [float(x) for x in rng.normal(0.0, 1.5, size=n)]
        a = [float(x) for x in rng.choice([-1.0, 1.0], size=n) * rng.uniform(0.1, 3, size=n)]
        for c_max in (1e-30, 0.01, 1.0, 1e30):
            cs.append(case(f"seeded n={n} c_max={c_max}", log_w=lw, A=a, c_max=c_max))
    cs += [
        case("extreme: log_w = +-700", log_w=[700.0, -700.0, 0.0], A=[1.0, -1.0, 2.0], c_max=1.0),
        case("every phi = 0 (w = inf, A > 0)", log_w=[INF, INF], A=[1.0, 2.0], c_max=1.0),
        case(
            "mask drops an A = 0 entry",
            log_w=[0.1, 0.2, 0.3],
            A=[1.0, 0.0, -1.0],
            mask=[True, False, True],
            c_max=0.5,
        ),
        case("edge: A = 0 selected", log_w=[0.1, 0.2], A=[1.0, 0.0], c_max=1.0),
        case("edge: empty mask", log_w=[0.1, 0.2], A=[1.0, 1.0], mask=[False, False], c_max=1.0),
        case("edge: c_max = 0", log_w=[0.1, 0.2], A=[1.0, 1.0], c_max=0.0),
        case("edge: c_max = inf", log_w=[0.1, 0.2], A=[1.0, 1.0], c_max=INF),
        case("edge: log_w NaN", log_w=[NAN, 0.2], A=[1.0, 1.0], c_max=1.0),
        case("edge: A inf", log_w=[0.1, 0.2], A=[INF, 1.0], c_max=1.0),
    ]
    return cs


def _gamma_exact_cases():
    cs = _grid({"lam": 0.05}) + _random({"lam": 0.05})
    for lam in (1e-30, 0.25, 5.0, 1e30):
        cs += _grid({"lam": lam}, LOG_W_SMALL, A_SMALL, fast=False)
    cs += _seed_examples({"lam": 0.05}, printed=True)
    cs += _edge_errors({"lam": 0.05}, {"lam": (0.0, -1.0, INF, NAN)})
    cs += [
        case(f"edge: log_w = {lw}", log_w=lw, A=a, lam=0.05)
        for lw in (INF, -INF)
        for a in (-1.0, 1.0)
    ]
    return cs


def _gamma_approx_cases():
    cs = _grid({}) + _random({}) + _seed_examples({}) + _edge_errors({}, {})
    cs += [case(f"edge: log_w = {lw}", log_w=lw, A=1.0) for lw in (INF, -INF)]
    return cs


def _gamma_6_1_cases():
    cs = _grid({"eps": 1e-3}) + _random({"eps": 1e-3})
    for eps in (1e-30, 1.0, 1e30):
        cs += _grid({"eps": eps}, LOG_W_SMALL, A_SMALL, fast=False)
    cs += _seed_examples({"eps": 1e-3})
    cs += _edge_errors({"eps": 1e-3}, {"eps": (0.0, -1.0, INF, NAN)})
    cs += [case(f"edge: log_w = {lw}", log_w=lw, A=1.0, eps=1e-3) for lw in (INF, -INF)]
    return cs


def _gamma_base_cases(extra: dict | None = None, temperatures=(None,)):
    extra = extra or {}
    cs = []
    for t in temperatures:
        tp = {} if t is None else {"temperature": t}
        cs += _grid({"gamma_base": 0.5, **tp}, fast=t in (None, 1.0))
        for gb in (0.0, 1.0):
            cs += _grid({"gamma_base": gb, **tp}, LOG_W_SMALL, A_SMALL, fast=False)
        cs += _random({"gamma_base": 0.37, **tp})
        cs += _inf_cases({"gamma_base": 0.5, **tp})
        cs += _seed_examples({"gamma_base": 0.5, **tp})
    tp = {} if temperatures[0] is None else {"temperature": 1.0}
    bad = {"gamma_base": (-0.1, 1.1, NAN)}
    if tp:
        bad["temperature"] = (0.0, -1.0, INF, NAN)
    cs += _edge_errors({"gamma_base": 0.5, **tp}, bad)
    return cs


def _gamma_soft_t_cases():
    cs = _gamma_base_cases(temperatures=(1.0, 5.0))
    for t in (1e-30, 1e3, 1e30):
        cs += _grid({"gamma_base": 0.5, "temperature": t}, LOG_W_SMALL, A_SMALL, fast=False)
    return cs


def _code_cases():
    rng = np.random.default_rng(11)
    cs = []
    for n, s in ((8, 0.3), (16, 1.0), (32, 2.0)):
        lw = [float(x) for x in rng.normal(-s * s / 2, s, size=n)]
        a = [float(x) for x in rng.normal(0.0, 1.0, size=n)]
        cs.append(case(f"seeded n={n} sd(log w)={s} defaults", log_w=lw, A=a))
        for t in (1.0, 50.0):
            cs.append(case(f"seeded n={n} sd={s} T={t}", log_w=lw, A=a, temperature=t))
        cs.append(
            case(
                f"seeded n={n} sd={s} rho_min=0.9 gamma_min=0.1 gamma_max=0.8",
                log_w=lw,
                A=a,
                rho_min=0.9,
                gamma_min=0.1,
                gamma_max=0.8,
            )
        )
        mask = [bool(b) for b in rng.random(n) < 0.6]
        cs.append(case(f"seeded n={n} sd={s} random mask", log_w=lw, A=a, mask=mask))
    four = [0.6931471805599453, 0.6931471805599453, -0.6931471805599453, -0.6931471805599453]
    cs += [
        case("section 8.1 four cases (w=2, 0.5; A=+-1)", log_w=four, A=[1.0, -1.0, 1.0, -1.0]),
        case(
            "four cases, T = 1000 (near the hard table)",
            log_w=four,
            A=[1.0, -1.0, 1.0, -1.0],
            temperature=1000.0,
        ),
        case("extreme: log_w = +-700", log_w=[700.0, -700.0, 0.0, 1.0], A=[1.0, -1.0, 0.0, -0.0]),
        case("single entry (sigma2 = 0 -> gamma_max)", log_w=[0.3], A=[1.0]),
        case("equal log_w (sigma2 = 0)", log_w=[0.2, 0.2, 0.2], A=[1.0, -1.0, 0.0]),
        case("sigma2 just below 1e-8", log_w=[0.0, 1e-4 * 0.99], A=[1.0, -1.0], rho_min=0.9999),
        case("sigma2 above 1e-8", log_w=[0.0, 1e-3], A=[1.0, -1.0], rho_min=0.9999),
        # rho_min = 1 makes the floor visible: gamma_max below it, gamma_base = 0 above it
        case(
            "sigma2 = 5e-9 < 1e-8, rho_min = 1 (floor: gamma_max)",
            log_w=[0.0, 1e-4],
            A=[1.0, -1.0],
            rho_min=1.0,
        ),
        case(
            "sigma2 = 2e-8 > 1e-8, rho_min = 1 (gamma_base = 0 -> gamma_min)",
            log_w=[0.0, 2e-4],
            A=[1.0, -1.0],
            rho_min=1.0,
        ),
        case(
            "sigma2 = 5e-9 < 1e-8, rho_min = 1, gamma in [0.1, 0.8]",
            log_w=[0.0, 1e-4],
            A=[1.0, -1.0],
            rho_min=1.0,
            gamma_min=0.1,
            gamma_max=0.8,
        ),
        case(
            "gamma_min = gamma_max = 0.5",
            log_w=[0.0, 1.0, -1.0],
            A=[1.0, 1.0, -1.0],
            gamma_min=0.5,
            gamma_max=0.5,
        ),
        case("gamma_max = 0", log_w=[0.0, 1.0, -1.0], A=[1.0, 1.0, -1.0], gamma_max=0.0),
        case("rho_min = 1e-30", log_w=[0.0, 1.0, -1.0], A=[1.0, -1.0, -1.0], rho_min=1e-30),
        case(
            "rho_min = 1 (gamma_base = 0)", log_w=[0.0, 1.0, -1.0], A=[1.0, 1.0, -1.0], rho_min=1.0
        ),
        case("edge: log_w NaN", log_w=[NAN, 0.0], A=[1.0, 1.0]),
        case("edge: log_w inf", log_w=[INF, 0.0], A=[1.0, 1.0]),
        case("edge: A NaN", log_w=[0.0, 0.1], A=[NAN, 1.0]),
        case("edge: rho_min = 0", log_w=[0.0, 0.1], A=[1.0, 1.0], rho_min=0.0),
        case(
            "edge: gamma_min > gamma_max",
            log_w=[0.0, 0.1],
            A=[1.0, 1.0],
            gamma_min=0.9,
            gamma_max=0.5,
        ),
        case("edge: gamma_max > 1", log_w=[0.0, 0.1], A=[1.0, 1.0], gamma_max=1.5),
        case("edge: temperature = 0", log_w=[0.0, 0.1], A=[1.0, 1.0], temperature=0.0),
    ]
    return cs


def _code_gamma_cases():
    return _code_cases() + [
        case(
            "empty mask (sigma2 = 0, gamma_base = gamma_max)",
            log_w=[0.1, -0.4],
            A=[1.0, -2.0],
            mask=[False, False],
        )
    ]


def _code_weight_cases():
    return _code_cases() + [
        case("edge: empty mask", log_w=[0.1, -0.4], A=[1.0, -2.0], mask=[False, False]),
        case("large A, log_w = 700", log_w=[700.0, -3.0], A=[1e6, 1.0]),
    ]


_T = ("log_w", "A")
register_golden(marginal_utility_section_2_3, _phi_2_3_cases, tensor_args=_T)
register_golden(marginal_utility_hard, _phi_hard_cases, tensor_args=_T)
register_golden(marginal_utility_soft, _phi_soft_cases, tensor_args=_T, float_args=("temperature",))
register_golden(optimal_weight, _optimal_weight_cases, tensor_args=_T, float_args=("lam",))
register_golden(
    lagrange_multiplier_variance_budget, _lambda_cases, tensor_args=_T, float_args=("c_max",)
)
register_golden(gamma_star_exact, _gamma_exact_cases, tensor_args=_T, float_args=("lam",))
register_golden(gamma_star_approx, _gamma_approx_cases, tensor_args=_T)
register_golden(gamma_approx_section_6_1, _gamma_6_1_cases, tensor_args=_T, float_args=("eps",))
register_golden(
    gamma_practical_section_6_2, _gamma_base_cases, tensor_args=_T, float_args=("gamma_base",)
)
register_golden(gamma_hard, _gamma_base_cases, tensor_args=_T, float_args=("gamma_base",))
register_golden(
    gamma_soft_section_8_3, _gamma_base_cases, tensor_args=_T, float_args=("gamma_base",)
)
for _fn in (
    gamma_soft_section_8_2,
    gamma_soft_section_8_2_corrected,
    gamma_soft_section_8_3_corrected,
):
    register_golden(
        _fn, _gamma_soft_t_cases, tensor_args=_T, float_args=("gamma_base", "temperature")
    )
_CODE_FLOATS = ("rho_min", "gamma_min", "gamma_max", "temperature")
register_golden(is_reshape_v2_gamma, _code_gamma_cases, tensor_args=_T, float_args=_CODE_FLOATS)
register_golden(
    is_reshape_v2_gradient_weight, _code_weight_cases, tensor_args=_T, float_args=_CODE_FLOATS
)
