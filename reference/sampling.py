"""The optimal sampling distribution of seed 004 (geometric family, alpha*, speculative sampling).

Notation (seed 004 sections 5-7): pi_theta and pi_t are given by logits (``logits_theta``,
``logits_target``; lists, -inf marks a token outside the support), l_theta = log pi_theta,
l_t = log pi_t (log-softmax), d(y) = l_t(y) - l_theta(y) (the seed's ell), and the geometric
family q_alpha = pi_theta^alpha pi_t^(1-alpha) / Z_alpha (section 5.3).

Support conventions (used by every function and by the torch twins):

* S = supp(pi_theta) & supp(pi_t) is the *common support*. For 0 < alpha < 1, q_alpha lives on S
  (pi^a with a > 0 is 0 off the support). At the endpoints the seed's property 1 holds exactly
  with the convention 0 * (-inf) = 0 (pi^0 = 1): q_0 = pi_t and q_1 = pi_theta, so the family is
  discontinuous at an endpoint whose support is larger than S.
* alpha* (:func:`optimal_alpha`) is the minimiser over [0, 1] of the convex continuous function
  F(alpha) = log sum_{y in S} pi_theta^alpha pi_t^(1-alpha) (the log normaliser of the family
  restricted to S; F'(alpha) = -Delta(alpha), F'' = Var_{q_alpha}(d) >= 0). When S = supp of
  both, this is the root of Delta(alpha) = E_{q_alpha}[d] = D(q||pi_theta) - D(q||pi_t), i.e.
  exactly the KL-symmetry condition of section 6.4; the solver finds that root (not the
  ESS-balance root, which is :func:`alpha_ess_balance`). When d is constant on S (identical
  distributions, or pi_t proportional to pi_theta on S) F is linear: alpha* = 1/2 if that
  constant is 0 (every alpha gives the same q, 1/2 is the symmetric choice), else the endpoint
  that minimises F (1 if the constant is > 0, 0 if < 0; Delta has no root then).
* q* (:func:`optimal_distribution`) is the family member on S at alpha*, i.e. the limit from the
  interior of the family; it equals q_{alpha*} whenever 0 < alpha* < 1 and always has finite
  KL to both pi_theta and pi_t. Disjoint supports (S empty) raise ``ValueError``.

Inputs are checked: logits must be a non-empty list without NaN or +inf and with at least one
finite entry; paired lists must have equal length; alpha must lie in [0, 1].
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import mpmath

from isreshape.reference._checks import require_range
from isreshape.reference.divergences import kl_divergence  # noqa: F401  (one KL: re-exported here)
from isreshape.reference.golden import case, register_golden

NO_GOLDEN = {
    "solve_kl_symmetry_seed_code_np": "float64 NumPy port of the seed's section 6.5 bisection "
    "(returns alpha and the iteration count); its mpmath twin has the fixture",
    "optimal_alpha_np": "NumPy float64 companion used for large-V test references",
}

# ------------------------------------------------------------------------------ helpers


def _logits(name: str, logits: Sequence[Any]) -> list[mpmath.mpf]:
    if not isinstance(logits, (list, tuple)) or len(logits) == 0:
        raise ValueError(f"{name} must be a non-empty list of logits, got {logits!r}")
    out = [mpmath.mpf(v) for v in logits]
    for i, v in enumerate(out):
        if mpmath.isnan(v):
            raise ValueError(f"{name}[{i}] is NaN")
        if mpmath.isinf(v) and v > 0:
            raise ValueError(f"{name}[{i}] is +inf (logits must be finite or -inf)")
    if all(mpmath.isinf(v) for v in out):
        raise ValueError(f"every entry of {name} is -inf: the distribution has no mass")
    return out


def _lse(values: Sequence[mpmath.mpf]) -> mpmath.mpf:
    finite = [v for v in values if not mpmath.isinf(v)]
    if not finite:
        return mpmath.mpf("-inf")
    m = max(finite)
    return m + mpmath.log(mpmath.fsum(mpmath.exp(v - m) for v in finite))


def _log_softmax(name: str, logits: Sequence[Any]) -> list[mpmath.mpf]:
    """Checked log-softmax of a logits list (-inf stays -inf). Helper for the other functions."""
    x = _logits(name, logits)
    c = _lse(x)
    return [v - c if not mpmath.isinf(v) else v for v in x]


def _pair(logits_theta, logits_target, names=("logits_theta", "logits_target")):
    lt_ = _log_softmax(names[0], logits_theta)
    lg = _log_softmax(names[1], logits_target)
    if len(lt_) != len(lg):
        raise ValueError(
            f"{names[0]} and {names[1]} have lengths {len(lt_)} and {len(lg)}; they must match"
        )
    return lt_, lg


def _alpha(alpha) -> mpmath.mpf:
    return require_range("alpha", alpha, lo=0, hi=1)


def _family_terms(l_theta, l_t, alpha) -> list[mpmath.mpf]:
    """alpha l_theta + (1 - alpha) l_t entrywise, with 0 * (-inf) = 0 at the endpoints."""
    s = []
    for a, b in zip(l_theta, l_t):
        ta = mpmath.mpf(0) if alpha == 0 else alpha * a
        tb = mpmath.mpf(0) if alpha == 1 else (1 - alpha) * b
        s.append(ta + tb)
    return s


def _family_log(l_theta, l_t, alpha) -> list[mpmath.mpf]:
    """log q_alpha with the endpoint convention 0 * (-inf) = 0 (exactly pi_t / pi_theta)."""
    if alpha == 0:
        return list(l_t)
    if alpha == 1 or l_theta == l_t:
        return list(l_theta)
    s = _family_terms(l_theta, l_t, alpha)
    c = _lse(s)
    if mpmath.isinf(c):
        raise ValueError(
            "pi_theta and pi_target have disjoint supports: q_alpha is undefined for 0 < alpha < 1"
        )
    return [v - c if not mpmath.isinf(v) else v for v in s]


def _snap(value, scale):
    """0 for a value below the rounding of the working precision (relative to ``scale``).

    Sums that are exactly 0 in exact arithmetic (a KL of equal distributions, the log normaliser
    of identical ones) come out as +-10^-dps noise; reporting them as 0 keeps the two working
    precisions in agreement. Genuine values of float64 inputs are far above this threshold.
    """
    if abs(value) <= mpmath.mpf(10) ** (-(mpmath.mp.dps - 12)) * (1 + scale):
        return mpmath.mpf(0)
    return value


def _xlogy_sum(p_log, f) -> mpmath.mpf:
    """sum_y p(y) f(y) over supp p, with p given as log-probabilities (0 * anything = 0)."""
    return mpmath.fsum(mpmath.exp(lp) * fv for lp, fv in zip(p_log, f) if not mpmath.isinf(lp))


def _kl(p_log, q_log) -> mpmath.mpf:
    """D(p || q) from log-probabilities: +inf when supp p is not inside supp q."""
    terms = []
    for lp, lq in zip(p_log, q_log):
        if mpmath.isinf(lp):
            continue
        if mpmath.isinf(lq):
            return mpmath.mpf("inf")
        terms.append(mpmath.exp(lp) * (lp - lq))
    return _snap(mpmath.fsum(terms), mpmath.fsum(abs(t) for t in terms))


def _common(l_theta, l_t):
    idx = [
        i for i, (a, b) in enumerate(zip(l_theta, l_t)) if not (mpmath.isinf(a) or mpmath.isinf(b))
    ]
    if not idx:
        raise ValueError(
            "pi_theta and pi_target have disjoint supports (no token has positive probability "
            "under both): the geometric family is empty for 0 < alpha < 1"
        )
    return idx


def _restricted(l_theta, l_t, idx):
    """(l_theta, d = l_t - l_theta) on the common support ``idx``."""
    return [l_theta[i] for i in idx], [l_t[i] - l_theta[i] for i in idx]


def _restricted_moments(a_s, d_s, alpha):
    """log Z, E[d], Var[d] of the family restricted to S at alpha (a_s = l_theta on S)."""
    s = [ai + (1 - alpha) * di for ai, di in zip(a_s, d_s)]  # alpha l_theta + (1-alpha) l_t
    m = max(s)
    e = [mpmath.exp(v - m) for v in s]
    z = mpmath.fsum(e)
    m1 = mpmath.fsum(ei * di for ei, di in zip(e, d_s)) / z
    var = mpmath.fsum(ei * (di - m1) ** 2 for ei, di in zip(e, d_s)) / z
    return m + mpmath.log(z), m1, var


def _raw_pair(logits_theta, logits_target):
    """Checked raw logits (the checks of :func:`_pair`, without the log-softmax)."""
    x = _logits("logits_theta", logits_theta)
    y = _logits("logits_target", logits_target)
    if len(x) != len(y):
        raise ValueError(
            f"logits_theta and logits_target have lengths {len(x)} and {len(y)}; they must match"
        )
    return x, y


def _shift_free(x, y):
    """The alpha* problem on the common support S in shift-free form (see optimal_alpha).

    With r the first argmax of x on S, m = (y - x)[r], p = pi_theta restricted to S:
    returns (idx, la, e, k1, L): la = x - x[r] on S (log p + const), e = (y - x) - m on S
    (exact differences of the inputs, e[r] = 0), k1 = K(1) = log E_p exp(e) computed as
    log1p(E_p expm1(e)) (relative accuracy when e is small), and L = log pi_t(S) -
    log pi_theta(S) from log1p of the off-S masses (exactly 0 when the supports agree).
    Then d = l_t - l_theta = e - (k1 - L) on S, with no difference of two log-normalisers.
    """
    idx = _common(x, y)
    r = max(idx, key=lambda i: x[i])
    m = y[r] - x[r]
    la = [x[i] - x[r] for i in idx]
    e = [(y[i] - x[i]) - m for i in idx]
    p = [mpmath.exp(v) for v in la]
    big_p = mpmath.fsum(p)
    x1 = mpmath.fsum(pi * mpmath.expm1(ei) for pi, ei in zip(p, e))  # sum_S p (e^e - 1)
    k1 = mpmath.log1p(x1 / big_p)
    inside = set(idx)
    off_theta = mpmath.fsum(
        mpmath.exp(x[i] - x[r]) for i in range(len(x)) if i not in inside and not mpmath.isinf(x[i])
    )
    off_t = mpmath.fsum(  # sum_S exp(y - y[r]) = sum_S p e^e = big_p + x1
        mpmath.exp(y[i] - y[r]) for i in range(len(y)) if i not in inside and not mpmath.isinf(y[i])
    )
    big_l = mpmath.log1p(off_theta / big_p) - mpmath.log1p(off_t / (big_p + x1))
    return idx, la, e, k1, big_l


def _solve_alpha_star(x, y):
    """alpha* from raw logits as documented in :func:`optimal_alpha`; returns (alpha*, idx)."""
    idx = _common(x, y)
    dt = [y[i] - x[i] for i in idx]
    w = max(dt) - min(dt)
    # E_q[d] is a sum of terms of size ~w that cancels to ~Var_q(d) |alpha - alpha*| ~ w^2
    # (and K(1) ~ E_p[e] + Var / 2): log10(1/w) more digits keep the ambient number of
    # correct digits in alpha*
    extra = max(0, -int(mpmath.floor(mpmath.log10(w)))) + 5 if w > 0 else 5
    with mpmath.workdps(mpmath.mp.dps + extra):
        idx, la, e, k1, big_l = _shift_free(x, y)
        if w == 0:  # e == 0 on S: d = L is constant, F is linear
            if big_l == 0:
                return mpmath.mpf(1) / 2, idx
            return (mpmath.mpf(1) if big_l > 0 else mpmath.mpf(0)), idx
        alpha = _newton_alpha(la, [ei - (k1 - big_l) for ei in e])
    return +alpha, idx


def _newton_alpha(a_s, d_s):
    """Root in [0, 1] of Delta(alpha) = E_{q_alpha}[d] on S (0 / 1 when it has none)."""
    lo, hi = mpmath.mpf(0), mpmath.mpf(1)
    _, g_lo, _ = _restricted_moments(a_s, d_s, lo)
    if g_lo <= 0:
        return lo
    _, g_hi, _ = _restricted_moments(a_s, d_s, hi)
    if g_hi >= 0:
        return hi
    alpha = mpmath.mpf(1) / 2
    eps = mpmath.mpf(2) ** (-mpmath.mp.prec + 6)
    for _ in range(20 * mpmath.mp.prec):
        _, g, var = _restricted_moments(a_s, d_s, alpha)
        if g > 0:
            lo = alpha
        elif g < 0:
            hi = alpha
        else:
            return alpha
        # Newton on F'(alpha) = -Delta(alpha) = 0: alpha <- alpha + Delta / Var
        new = alpha + g / var if var > 0 else (lo + hi) / 2
        if not (lo < new < hi):
            new = (lo + hi) / 2
        if abs(new - alpha) <= eps * max(abs(alpha), mpmath.mpf(2) ** -20) or hi - lo <= eps:
            return new
        alpha = new
    raise RuntimeError("optimal_alpha did not converge")  # pragma: no cover


def _restricted_log_q(l_theta, l_t, alpha, idx):
    a_s, d_s = _restricted(l_theta, l_t, idx)
    logz, _, _ = _restricted_moments(a_s, d_s, alpha)
    out = [mpmath.mpf("-inf")] * len(l_theta)
    for i, ai, di in zip(idx, a_s, d_s):
        out[i] = ai + (1 - alpha) * di - logz
    return out


def _probs(log_p):
    return [mpmath.exp(v) if not mpmath.isinf(v) else mpmath.mpf(0) for v in log_p]


# ------------------------------------------------------------------ public: distributions


def entropy(logits):
    """Shannon entropy H(pi) = -sum pi log pi of softmax(logits) (seed 004 section 7.7).

    Domain: non-empty list, no NaN / +inf, at least one finite entry; -inf entries carry no
    mass (0 log 0 = 0). A one-hot row (one finite entry) has entropy 0.
    """
    return _entropy_parts(_logits("logits", logits))[0]


def _entropy_parts(x):
    """(H, one_hot) of softmax(x) for checked logits x, without forming log p.

    With r the first argmax and u = x - x[r] on the other finite entries, T = sum e^u:
    H = log1p(T) + sum e^u (-u) / (1 + T), a sum of nonnegative terms (the peak's
    -p_r log p_r = log1p(T) / (1 + T) is not rounded away when log p_r = -log1p(T) is far below
    the precision of the logits). one_hot: a single finite entry (H = 0 exactly)."""
    fin = [i for i, v in enumerate(x) if not mpmath.isinf(v)]
    r = max(fin, key=lambda i: x[i])
    u = [x[i] - x[r] for i in fin if i != r]
    if not u:
        return mpmath.mpf(0), True
    eu = [mpmath.exp(v) for v in u]
    big_t = mpmath.fsum(eu)
    lin = mpmath.fsum(e * (-v) for e, v in zip(eu, u))
    return mpmath.log1p(big_t) + lin / (1 + big_t), False


def geometric_distribution(logits_theta, logits_target, alpha):
    """q_alpha(y) = pi_theta^alpha pi_t^(1-alpha) / Z_alpha as probabilities (section 5.3).

    Domain: alpha in [0, 1]. Endpoints exactly: alpha = 1 gives pi_theta, alpha = 0 gives pi_t
    (convention 0 * (-inf) = 0). For 0 < alpha < 1 the support is the common support; disjoint
    supports raise ``ValueError``.
    """
    l_theta, l_t = _pair(logits_theta, logits_target)
    return _probs(_family_log(l_theta, l_t, _alpha(alpha)))


def log_partition(logits_theta, logits_target, alpha):
    """log Z_alpha = log sum_y pi_theta^alpha pi_t^(1-alpha) (section 5.3, normalised pi's).

    Convex in alpha, <= 0 (Hoelder), = 0 at alpha in {0, 1} (convention 0 * (-inf) = 0, so Z_0 =
    sum pi_t = 1) and for identical distributions. For 0 < alpha < 1 only the common support
    contributes; disjoint supports give -inf there.
    """
    l_theta, l_t = _pair(logits_theta, logits_target)
    s = _family_terms(l_theta, l_t, _alpha(alpha))
    return _snap(
        _lse(s),
        max(abs(v) for v in s if not mpmath.isinf(v)) if any(not mpmath.isinf(v) for v in s) else 0,
    )


def delta_alpha(logits_theta, logits_target, alpha):
    """Delta(alpha) = E_{q_alpha}[log(pi_t / pi_theta)] = D(q||pi_theta) - D(q||pi_t) (6.4).

    Domain: alpha in [0, 1]. At alpha = 0 this is D(pi_t || pi_theta) (+inf if supp pi_t is not
    inside supp pi_theta); at alpha = 1 it is -D(pi_theta || pi_t) (-inf likewise). Identically
    0 for identical distributions. Disjoint supports with 0 < alpha < 1 raise ``ValueError``.
    """
    l_theta, l_t = _pair(logits_theta, logits_target)
    lq = _family_log(l_theta, l_t, _alpha(alpha))
    terms = []
    for lqv, a, b in zip(lq, l_theta, l_t):
        if mpmath.isinf(lqv):
            continue
        if mpmath.isinf(a):
            return mpmath.mpf("inf")
        if mpmath.isinf(b):
            return mpmath.mpf("-inf")
        terms.append(mpmath.exp(lqv) * (b - a))
    return _snap(mpmath.fsum(terms), mpmath.fsum(abs(t) for t in terms))


def kl_q_theta(logits_theta, logits_target, alpha):
    """D(q_alpha || pi_theta) = (1 - alpha) E_q[d] - log Z_alpha (section 6.4 step 1).

    Decreasing in alpha, 0 at alpha = 1; at alpha = 0 it is D(pi_t || pi_theta) (may be +inf).
    """
    l_theta, l_t = _pair(logits_theta, logits_target)
    return _kl(_family_log(l_theta, l_t, _alpha(alpha)), l_theta)


def kl_q_target(logits_theta, logits_target, alpha):
    """D(q_alpha || pi_t) = -alpha E_q[d] - log Z_alpha (section 6.4 step 1).

    Increasing in alpha, 0 at alpha = 0; at alpha = 1 it is D(pi_theta || pi_t) (may be +inf).
    """
    l_theta, l_t = _pair(logits_theta, logits_target)
    return _kl(_family_log(l_theta, l_t, _alpha(alpha)), l_t)


def kl_symmetry_error(logits_theta, logits_target, alpha):
    """|D(q||pi_theta) - D(q||pi_t)| / (D(q||pi_theta) + D(q||pi_t)) at q = q_alpha (7.4).

    The seed's diagnostic without its eps. Returns 0 when both KLs are 0 (identical
    distributions); ``ValueError`` when a KL is infinite (endpoint with a larger support).
    """
    l_theta, l_t = _pair(logits_theta, logits_target)
    lq = _family_log(l_theta, l_t, _alpha(alpha))
    a, b = _kl(lq, l_theta), _kl(lq, l_t)
    if mpmath.isinf(a) or mpmath.isinf(b):
        raise ValueError(f"alpha={alpha}: a KL of q_alpha is infinite (support mismatch)")
    if a + b == 0:
        return mpmath.mpf(0)
    return abs(a - b) / (a + b)


# ------------------------------------------------------------------------------ ESS


def ess_section_4_5(logits_pi, logits_q):
    """ESS fraction 1 / sum_y pi(y)^2 / q(y) of seed 004 section 4.5 (and its code, no eps).

    The sum runs over every y, so it is 0 when pi puts mass where q has none. Equals
    ess_section_4_2 / N whenever supp pi is inside supp q. Range [0, 1]; 1 iff pi = q.
    """
    lp, lq = _pair(logits_pi, logits_q, ("logits_pi", "logits_q"))
    terms = []
    for a, b in zip(lp, lq):
        if mpmath.isinf(a):
            continue
        if mpmath.isinf(b):
            return mpmath.mpf(0)
        terms.append(mpmath.exp(2 * a - b))
    return 1 / mpmath.fsum(terms)


def ess_section_4_2(logits_pi, logits_q, n):
    """ESS = N / E_q[w^2], w = pi / q, of seed 004 section 4.2 (expectation under q).

    E_q[w^2] = sum_{q > 0} pi^2 / q only sees supp q: where pi has mass outside supp q this is
    *larger* than N times :func:`ess_section_4_5` (which is 0 there), although the IS estimator
    is then biased. ``n`` is a positive number of samples (``ValueError`` otherwise).
    """
    n = require_range("n", n, lo=0, lo_open=True)
    if mpmath.isinf(n):
        raise ValueError(f"n must be finite, got {n!r}")
    lp, lq = _pair(logits_pi, logits_q, ("logits_pi", "logits_q"))
    terms = [
        mpmath.exp(2 * a - b) for a, b in zip(lp, lq) if not mpmath.isinf(a) and not mpmath.isinf(b)
    ]
    if not terms:
        raise ValueError("pi and q have disjoint supports: w = 0 q-almost surely, ESS undefined")
    return n / mpmath.fsum(terms)


# --------------------------------------------------------------------------- alpha*


def optimal_alpha(logits_theta, logits_target):
    """alpha*: the KL-symmetry point of seed 004 section 6.4 / theorem 6, to working precision.

    Solved as the minimiser of the convex F(alpha) = log sum_S pi_theta^alpha pi_t^(1-alpha)
    (safeguarded Newton on F' = -Delta, bracket [0, 1]), i.e. the root of Delta(alpha) =
    D(q_alpha||pi_theta) - D(q_alpha||pi_t) = 0 when it exists in (0, 1). Edges (see module
    docstring): identical distributions give 1/2; d constant and nonzero on the common support
    S (e.g. a one-hot pi_theta inside supp pi_t, or pi_t a truncation of pi_theta) gives the
    endpoint 0 or 1 (Delta has no root); disjoint supports raise ``ValueError``.

    Shift-free form (all three implementations): with z the raw logits, r the first argmax of
    z_theta on S, e = (z_t - z_theta) - (z_t - z_theta)[r] on S (exact differences of the
    inputs), p = pi_theta restricted to S, K(t) = log E_p exp(t e) and L = log pi_t(S) -
    log pi_theta(S) (from log1p of the off-S masses, exactly 0 for equal supports),
    d = e - (K(1) - L) with K(1) = log1p(E_p expm1(e)). No difference of two log-normalisers
    is formed, so d is accurate relative to its own spread w = max e - min e and the
    conditioning 1 / Var_q(d) costs no digits; the Newton runs at log10(1 / w) + 5 extra
    digits (the sum E_q[d] cancels from ~w to ~w^2 |alpha - alpha*|). e == 0 exactly on S
    (identical rows, or rows that differ by an exactly representable constant) gives 1/2 if
    L == 0, else the endpoint by the sign of L. Accurate to the working precision for any w
    > 0 and for rows peaked on a shared token (off-peak mass 1e-300 keeps its digits).
    """
    return _solve_alpha_star(*_raw_pair(logits_theta, logits_target))[0]


def optimal_distribution(logits_theta, logits_target):
    """q* = pi_theta^a pi_t^(1-a) / Z on the common support, a = :func:`optimal_alpha` (7.1).

    Probabilities. Equals q_{alpha*} when 0 < alpha* < 1; at an endpoint alpha* it is the limit
    of the family from the interior (pi_theta or pi_t restricted to S and renormalised), the
    only members with finite KL to both.
    """
    a, idx = _solve_alpha_star(*_raw_pair(logits_theta, logits_target))
    l_theta, l_t = _pair(logits_theta, logits_target)
    return _probs(_restricted_log_q(l_theta, l_t, a, idx))


def alpha_entropy_approx(logits_theta, logits_target):
    """alpha_entropy = H(pi_theta) / (H(pi_theta) + H(pi_t)) (seed 004 section 7.7).

    Edges, decided by the distributions (a single finite logit = one-hot, H = 0), never by an
    entropy that is merely tiny: both one-hot gives 1/2 (the value for identical
    distributions); only pi_theta one-hot gives 0, only pi_t one-hot gives 1. Entropies are
    computed without log-softmax (see :func:`entropy`).
    """
    x, y = _raw_pair(logits_theta, logits_target)
    (h1, oh1), (h2, oh2) = _entropy_parts(x), _entropy_parts(y)
    if oh1 and oh2:
        return mpmath.mpf(1) / 2
    return h1 / (h1 + h2)


def alpha_ess_balance(logits_theta, logits_target):
    """The exact ESS-balance point of section 6.3: alpha with sum pi_theta^2/q = sum pi_t^2/q.

    With q = q_alpha, sum pi_theta^2 / q_alpha = Z_alpha sum pi_theta^(2-alpha) pi_t^(alpha-1),
    so the condition is B(alpha) = log sum pi_theta^(2-alpha) pi_t^(alpha-1) -
    log sum pi_t^(1+alpha) pi_theta^(-alpha) = 0 (B(0) >= 0 >= B(1)); solved by bisection to
    working precision (B is evaluated on every token, so the sums need both supports equal:
    otherwise ``ValueError``). Identical distributions give 1/2.
    """
    l_theta, l_t = _pair(logits_theta, logits_target)
    for a, b in zip(l_theta, l_t):
        if mpmath.isinf(a) != mpmath.isinf(b):
            raise ValueError("alpha_ess_balance needs equal supports (an ESS would be 0)")
    pairs = [(a, b) for a, b in zip(l_theta, l_t) if not mpmath.isinf(a)]
    if all(b - a == 0 for a, b in pairs):
        return mpmath.mpf(1) / 2

    def balance(al):
        return _lse([(2 - al) * a + (al - 1) * b for a, b in pairs]) - _lse(
            [(1 + al) * b - al * a for a, b in pairs]
        )

    lo, hi = mpmath.mpf(0), mpmath.mpf(1)
    if balance(lo) <= 0:
        return lo
    if balance(hi) >= 0:
        return hi
    for _ in range(mpmath.mp.prec + 10):
        mid = (lo + hi) / 2
        if balance(mid) > 0:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def solve_kl_symmetry_seed_code(logits_theta, logits_target, tol=1e-6, max_iter=50, eps=1e-10):
    """The seed's bisection ``solve_kl_symmetry`` (section 6.5; same loop in 7.4), as written.

    pi = softmax(logits); every log is log(pi + eps); q = softmax(alpha log(pi_theta + eps) +
    (1 - alpha) log(pi_t + eps)); delta = sum q (log(pi_t + eps) - log(pi_theta + eps)); if
    delta > 0 move alpha_low up else alpha_high down; stop when alpha_high - alpha_low < tol or
    after max_iter halvings; return the midpoint. Evaluated in exact arithmetic, so the result
    is the dyadic midpoint the code would return without rounding. The width after k steps is
    2^-k for every input, so the iteration count is min(max_iter, ceil(log2(1 / tol))) (20 for
    the defaults). Domain: tol > 0, max_iter >= 1 integer, eps >= 0.
    """
    l_theta, l_t = _pair(logits_theta, logits_target)
    tol = require_range("tol", tol, lo=0, lo_open=True)
    eps = require_range("eps", eps, lo=0)
    if int(max_iter) != max_iter or max_iter < 1:
        raise ValueError(f"max_iter must be a positive integer, got {max_iter!r}")
    lp_theta = [
        mpmath.log(mpmath.exp(a) + eps) if not mpmath.isinf(a) else mpmath.log(eps) for a in l_theta
    ]
    lp_t = [
        mpmath.log(mpmath.exp(b) + eps) if not mpmath.isinf(b) else mpmath.log(eps) for b in l_t
    ]
    if any(mpmath.isinf(v) for v in lp_theta + lp_t):
        raise ValueError("eps = 0 with a zero probability: log(0) in the seed's code")
    log_ratio = [b - a for a, b in zip(lp_theta, lp_t)]
    lo, hi = mpmath.mpf(0), mpmath.mpf(1)
    for _ in range(int(max_iter)):
        mid = (lo + hi) / 2
        s = [mid * a + (1 - mid) * b for a, b in zip(lp_theta, lp_t)]
        c = _lse(s)
        delta = mpmath.fsum(mpmath.exp(v - c) * r for v, r in zip(s, log_ratio))
        if delta > 0:
            lo = mid
        else:
            hi = mid
        if hi - lo < tol:
            break
    return (lo + hi) / 2


# ------------------------------------------------------------------------- Pareto front


def _pareto(logits_q, logits_theta, logits_target):
    # The margin of a q near the front is a small difference of O(1) KLs: work at twice the
    # ambient precision so that the result keeps the ambient number of correct digits.
    dps = mpmath.mp.dps
    with mpmath.workdps(2 * dps):
        best, margin = _pareto_inner(logits_q, logits_theta, logits_target)
    return +best, +margin


def _pareto_inner(logits_q, logits_theta, logits_target):
    lq = _log_softmax("logits_q", logits_q)
    l_theta, l_t = _pair(logits_theta, logits_target)
    if len(lq) != len(l_theta):
        raise ValueError(f"logits_q has length {len(lq)}, expected {len(l_theta)}")
    a, b = _kl(lq, l_theta), _kl(lq, l_t)
    if mpmath.isinf(a) or mpmath.isinf(b):
        raise ValueError(
            "logits_q puts mass outside the common support: a KL is +inf, no comparison"
        )
    idx = _common(l_theta, l_t)
    a_s, d_s = _restricted(l_theta, l_t, idx)

    def kls(al):
        logz, m1, _ = _restricted_moments(a_s, d_s, al)
        return (1 - al) * m1 - logz, -al * m1 - logz

    # a - D_theta(alpha) increases, b - D_t(alpha) decreases in alpha: find the crossing,
    # i.e. Delta(alpha) = a - b on the family restricted to S (bisection to working precision).
    lo, hi = mpmath.mpf(0), mpmath.mpf(1)

    def gap(al):
        kt, kg = kls(al)
        return (a - kt) - (b - kg)

    def gap_end(al):
        kt, kg = kls(al)
        return _snap((a - kt) - (b - kg), a + b + kt + kg)

    if gap_end(lo) >= 0:
        best = lo
    elif gap_end(hi) <= 0:
        best = hi
    else:
        for _ in range(mpmath.mp.prec + 10):
            mid = (lo + hi) / 2
            if gap(mid) < 0:
                lo = mid
            else:
                hi = mid
        best = (lo + hi) / 2
    kt, kg = kls(best)
    return best, _snap(min(a - kt, b - kg), a + b + kt + kg)


def pareto_margin(logits_q, logits_theta, logits_target):
    """max_alpha min(D(q||pi_theta) - D(q_a||pi_theta), D(q||pi_t) - D(q_a||pi_t)) (5.2-5.3).

    The largest amount by which a member of the geometric family (restricted to the common
    support) improves *both* KLs of q at once. > 0: q is strictly dominated by the family;
    = 0: q lies on the family (the Pareto front); the weighted-sum identity
    a D(q||pi_theta) + (1-a) D(q||pi_t) = D(q||q_a) - log Z_a makes it >= 0 for every q with
    finite KLs. ``ValueError`` if a KL of q is +inf (q outside the common support).
    """
    return _pareto(logits_q, logits_theta, logits_target)[1]


def pareto_dominating_alpha(logits_q, logits_theta, logits_target):
    """The alpha attaining :func:`pareto_margin` (the root of Delta(alpha) = D(q||pi_theta) -
    D(q||pi_t), clamped to [0, 1]); q_alpha at it dominates q when the margin is > 0."""
    return _pareto(logits_q, logits_theta, logits_target)[0]


# ---------------------------------------------------------------- speculative sampling


def ess_front_distribution(logits_theta, logits_target, b):
    """The true Pareto front of the two ESS channels: q_b = sqrt(b pi_theta^2 + (1 - b) pi_t^2) / Z.

    Corrects seed 004 section 5.1, which identifies the ESS front with the geometric family
    (claim 004-5.1-a is FALSE). Both inverse channel efficiencies sum pi^2 / q are convex in q,
    so every Pareto-optimal q minimises b sum pi_theta^2 / q + (1 - b) sum pi_t^2 / q on the
    simplex for some b in [0, 1]; the Lagrange condition c_y / q_y^2 = const gives
    q_y proportional to sqrt(c_y). Computed in the log domain:
    log q = logaddexp(2 log pi_theta + log b, 2 log pi_t + log(1 - b)) / 2 - log Z.
    Domain: b in [0, 1]; b = 1 gives pi_theta and b = 0 gives pi_t exactly. The support is the
    union of the two supports (unlike the geometric family), so disjoint supports are fine.
    """
    l_theta, l_t = _pair(logits_theta, logits_target)
    bb = require_range("b", b, lo=0, hi=1)
    terms = []
    for a, c in zip(l_theta, l_t):
        parts = []
        if bb > 0 and not mpmath.isinf(a):
            parts.append(2 * a + mpmath.log(bb))
        if bb < 1 and not mpmath.isinf(c):
            parts.append(2 * c + mpmath.log(1 - bb))
        terms.append(_lse(parts) / 2 if parts else mpmath.mpf("-inf"))
    z = _lse(terms)
    return _probs([t - z if not mpmath.isinf(t) else t for t in terms])


def _front_cases():
    cs = []
    base = [c for c in _pair_cases() if not c.note.startswith("edge")]
    for c in base:
        for bb in (0.0, 0.3, 1.0):
            cs.append(case(f"{c.note}, b={bb}", b=bb, **c.inputs))
    cs += [
        case("disjoint supports, b=0.5", b=0.5, logits_theta=[0.0, NEG], logits_target=[NEG, 0.0]),
        case("edge: b < 0", b=-0.1, logits_theta=[0.0, 1.0], logits_target=[1.0, 0.0]),
        case("edge: b > 1", b=1.5, logits_theta=[0.0, 1.0], logits_target=[1.0, 0.0]),
        case("edge: b NaN", b=float("nan"), logits_theta=[0.0, 1.0], logits_target=[1.0, 0.0]),
        case("edge: NaN logit", b=0.5, logits_theta=[0.0, float("nan")], logits_target=[0.0, 1.0]),
    ]
    return cs


def _spec(logits_proposal, logits_q):
    lp, lq = _pair(logits_proposal, logits_q, ("logits_proposal", "logits_q"))
    return _probs(lp), _probs(lq)


def _reject_mass(p, q):
    """1 - beta = sum max(0, q - p) = TV(p, q), exactly 0 when p = q."""
    return mpmath.fsum(max(mpmath.mpf(0), b - a) for a, b in zip(p, q))


def speculative_acceptance_rate(logits_proposal, logits_q):
    """beta = P(accept) = sum_y min(p(y), q(y)) = 1 - TV(p, q) for the section 7.7 scheme.

    p is the proposal (the seed proposes from pi_theta), q the target (q*). Both schemes of
    section 7.7 (as written and residual) accept with min(1, q/p), so they share this rate.
    Computed as sum min(p, q): 1 - sum max(0, q - p) cancels to 0 when beta is tiny (beta =
    1.1e-4343 for logits +-1e4, found by the fixture oracle).
    """
    p, q = _spec(logits_proposal, logits_q)
    return mpmath.fsum(min(a, b) for a, b in zip(p, q))


def speculative_output_section_7_7(logits_proposal, logits_q):
    """Exact output distribution of the seed's scheme (section 7.7) as written.

    Draw y ~ p; accept with min(1, q(y)/p(y)); on rejection draw a fresh y ~ q. Output
    P(y) = min(p, q)(y) + (1 - beta) q(y), beta = sum min(p, q). This is q only when
    beta = 1 (p = q): the seed's "strictly preserves the distribution" is false otherwise.
    Probabilities.
    """
    p, q = _spec(logits_proposal, logits_q)
    r = _reject_mass(p, q)
    return [min(a, b) + r * b for a, b in zip(p, q)]


def speculative_output_residual(logits_proposal, logits_q):
    """Exact output distribution of standard speculative sampling (accept with min(1, q/p),
    else draw from max(0, q - p) / (1 - beta)): min(p, q) + max(0, q - p) = q exactly.

    When beta = 1 (p = q) the residual is 0/0 but is never used; the output is q. Probabilities.
    """
    p, q = _spec(logits_proposal, logits_q)
    r = _reject_mass(p, q)
    if r == 0:
        return q
    return [min(a, b) + max(mpmath.mpf(0), b - a) for a, b in zip(p, q)]


def speculative_bias_tv_section_7_7(logits_proposal, logits_q):
    """TV(output of the as-written section 7.7 scheme, q) = 1/2 sum |min(p,q) - beta q|.

    0 when p = q, when p and q are disjoint (every proposal is rejected, the redraw is from q)
    and when q is p restricted to a subset and renormalised (then min(p, q) = p = beta q on
    supp q); values below the working-precision rounding are reported as 0.
    """
    p, q = _spec(logits_proposal, logits_q)
    r = _reject_mass(p, q)
    return _snap(mpmath.fsum(abs(min(a, b) - (1 - r) * b) for a, b in zip(p, q)) / 2, 1)


# ------------------------------------------------------------------------ NumPy companions


# alpha* in float64: a cumulant series where the spread of e on S is small, Newton otherwise
SERIES_TERMS = 10  # cumulants kappa_2 .. kappa_10
SERIES_SPREAD = 0.05  # rows with max e - min e on S at most this use the series


def _np_logits(name: str, logits):
    import numpy as np

    x = np.asarray(logits, dtype=np.float64)
    if x.ndim == 0 or x.shape[-1] == 0:
        raise ValueError(
            f"{name} must have a non-empty last (vocabulary) axis, got shape {x.shape}"
        )
    for bad, what in (
        (np.isnan(x), "NaN"),
        (np.isposinf(x), "+inf (logits must be finite or -inf)"),
    ):
        if bad.any():
            i = ", ".join(str(int(k)) for k in np.argwhere(bad)[0])
            raise ValueError(f"{name}[{i}] is {what}")
    empty = ~np.isfinite(x).any(-1)
    if empty.any():
        where = "" if x.ndim == 1 else f" in row {tuple(int(k) for k in np.argwhere(empty)[0])}"
        raise ValueError(f"every entry of {name} is -inf{where}: the distribution has no mass")
    return x


def _np_shift_free(x, y):
    """:func:`_shift_free` batched in float64, centred: (common, la, ec, k1c, L) with ec = e -
    E_p[e] and k1c = log E_p exp(ec) = K(1) - E_p[e] (so d = ec - (k1c - L)); la = -inf and
    ec = 0 off S."""
    import numpy as np

    common = np.isfinite(x) & np.isfinite(y)
    if not common.any(-1).all():
        raise ValueError(
            "pi_theta and pi_target have disjoint supports in some row (no token has positive "
            "probability under both): the geometric family is empty for 0 < alpha < 1"
        )
    r = np.argmax(np.where(common, x, -np.inf), axis=-1)[..., None]
    xr = np.take_along_axis(x, r, -1)
    m = np.take_along_axis(y, r, -1) - xr
    with np.errstate(invalid="ignore"):  # -inf - -inf off S, masked out
        e = np.where(common, (y - x) - m, 0.0)
        la = np.where(common, x - xr, -np.inf)
    p = np.exp(la)  # p[r] = 1
    big_p = p.sum(-1)
    mu = (p * e).sum(-1) / big_p
    ec = np.where(common, e - mu[..., None], 0.0)
    # k1c = log1p(E_p expm1(ec)) >= 0 (Jensen): relative accuracy as ec -> 0. Where expm1
    # would overflow, log E_p exp(e) with the largest term of each sum factored out (the
    # rest through log1p, so a shared peak keeps the off-peak mass), minus mu.
    x1 = (p * np.expm1(np.minimum(ec, 700.0))).sum(-1)
    s = la + e  # log(p e^e), -inf off S
    i = np.argmax(s, axis=-1)[..., None]
    smax = np.take_along_axis(s, i, -1)
    rest_s = np.exp(s - smax)
    np.put_along_axis(rest_s, i, 0.0, -1)
    rest_p = p.copy()
    np.put_along_axis(rest_p, r, 0.0, -1)
    k1_far = smax[..., 0] + np.log1p(rest_s.sum(-1)) - np.log1p(rest_p.sum(-1)) - mu
    k1c = np.where(ec.max(-1) <= 700.0, np.log1p(x1 / big_p), k1_far)

    def log_mass_outside(z):  # log1p(mass off S / mass on S) = -log pi(S), 0 if no mass off S
        w = np.exp(z - z.max(-1, keepdims=True))  # z has a finite entry (checked)
        return np.log1p(np.where(common, 0.0, w).sum(-1) / np.where(common, w, 0.0).sum(-1))

    with np.errstate(divide="ignore", over="ignore"):
        big_l = log_mass_outside(x) - log_mass_outside(y)
    return common, la, ec, k1c, big_l


def _np_series_alpha(p, e, big_l, terms: int = SERIES_TERMS):
    """alpha* from the cumulants of e under p: g(t) = sum_{n>=2} kappa_n (t^(n-1)/(n-1)! -
    1/n!) + L = 0, t = 1 - alpha (kappa_1 cancels exactly). Central moments of e under p are
    accurate to rounding relative to their own size, so g keeps its digits as Var -> 0."""
    import numpy as np

    big_p = p.sum(-1)
    ec = e - ((p * e).sum(-1) / big_p)[..., None]  # centred (the problem is shift-invariant)
    mom = [np.ones_like(big_p)]
    pw = p.copy()
    for _ in range(terms):
        pw = pw * ec
        mom.append(pw.sum(-1) / big_p)
    kap = [np.zeros_like(big_p)] * (terms + 1)
    for n in range(1, terms + 1):  # cumulants from moments (the residual mean is ~0)
        kap[n] = mom[n] - sum(math.comb(n - 1, j - 1) * kap[j] * mom[n - j] for j in range(1, n))

    def g(t):
        val, der = big_l.copy(), np.zeros_like(t)
        for n in range(2, terms + 1):
            val = val + kap[n] * (t ** (n - 1) / math.factorial(n - 1) - 1 / math.factorial(n))
            der = der + kap[n] * t ** (n - 2) / math.factorial(n - 2)
        return val, der

    k2 = kap[2]
    pos = k2 > 0
    t = np.where(pos, np.clip(0.5 - big_l / np.where(pos, k2, 1.0), 0.0, 1.0), 0.5)
    for _ in range(8):  # g is nearly linear here (|kappa_3 / kappa_2| <= spread)
        val, der = g(t)
        step = np.where(der > 0, val / np.where(der > 0, der, 1.0), 0.0)
        t = np.clip(t - step, 0.0, 1.0)
    g0, _ = g(np.zeros_like(t))
    g1, _ = g(np.ones_like(t))
    alpha = np.where(g0 >= 0, 1.0, np.where(g1 <= 0, 0.0, 1.0 - t))
    const = np.where(big_l == 0, 0.5, np.where(big_l > 0, 1.0, 0.0))
    return np.where(pos, alpha, const)


def optimal_alpha_np(logits_theta, logits_target, iters: int = 100):
    """NumPy float64 alpha* per row (last axis = vocabulary), tested against :func:`optimal_alpha`.

    Same definition and edges as :func:`optimal_alpha`, in its shift-free form: with e = (z_t -
    z_theta) - m on the common support S (exact differences of the inputs) and p = pi_theta
    restricted to S, alpha* = 1 - t where E_{q_t}[e] = K(1) - L, q_t ∝ p exp(t e),
    K(t) = log E_p exp(t e), L = log pi_t(S) - log pi_theta(S). Rows whose spread
    w = max e - min e on S is at most ``SERIES_SPREAD`` = 0.05 are solved from the cumulant
    series g(t) = sum_{n=2..10} kappa_n (t^(n-1)/(n-1)! - 1/n!) + L = 0 (K is analytic for
    |t| < ~pi / w, so the dropped terms are ~(w / pi)^9 relative: < 1e-16); the others by
    safeguarded Newton (``iters`` steps) on Delta(alpha) = E_q[d], d = e - (K(1) - L), whose
    rounding is ~eps / w relative to Var_q(d), < 1e-14 above the threshold.

    Accuracy (float64, against the mpmath function on the same inputs): ~1e-15 for nearly
    identical rows at any spread (the conditioning 1 / Var_q(d) no longer meets a difference
    of log-normalisers), ~1e-15 for rows peaked on a shared token up to a peak logit ~700
    (beyond it the off-peak mass underflows and alpha* is lost). Edges: identical rows and
    rows that differ by a constant (exactly) give 1/2; d constant and nonzero on S gives 0 or
    1; rows with no batch entries give an empty array. ``ValueError`` naming the argument and
    the value for NaN or +inf logits, an empty vocabulary axis, a row of only -inf, vocabulary
    lengths that differ, unbroadcastable batch shapes and disjoint supports. Inputs are not
    modified.
    """
    import numpy as np

    x = _np_logits("logits_theta", logits_theta)
    y = _np_logits("logits_target", logits_target)
    if x.shape[-1] != y.shape[-1]:
        raise ValueError(
            f"logits_theta and logits_target have vocabularies {x.shape[-1]} and {y.shape[-1]}"
        )
    try:
        x, y = np.broadcast_arrays(x, y)
    except ValueError:
        raise ValueError(
            f"logits_theta and logits_target have batch shapes {x.shape[:-1]} and "
            f"{y.shape[:-1]} that do not broadcast"
        ) from None
    common, la, e, k1c, big_l = _np_shift_free(x, y)
    p = np.exp(la)
    d = np.where(common, e - (k1c - big_l)[..., None], 0.0)

    def moments(al):
        s = la + (1 - al)[..., None] * d
        w = np.exp(s - s.max(axis=-1, keepdims=True))
        z = w.sum(-1)
        m1 = (w * d).sum(-1) / z
        var = (w * (d - m1[..., None]) ** 2).sum(-1) / z
        return m1, var

    shape = d.shape[:-1]
    lo, hi = np.zeros(shape), np.ones(shape)
    g0, _ = moments(lo)
    g1, _ = moments(hi)
    alpha = np.full(shape, 0.5)
    for _ in range(iters):
        g, var = moments(alpha)
        lo = np.where(g > 0, alpha, lo)
        hi = np.where(g < 0, alpha, hi)
        with np.errstate(divide="ignore", invalid="ignore"):
            new = alpha + g / var
        bad = ~((new > lo) & (new < hi)) | ~np.isfinite(new)
        alpha = np.where(g == 0, alpha, np.where(bad, (lo + hi) / 2, new))
    alpha = np.where(g0 <= 0, 0.0, np.where(g1 >= 0, 1.0, alpha))
    spread = np.where(common, e, -np.inf).max(-1) - np.where(common, e, np.inf).min(-1)
    small = spread <= SERIES_SPREAD
    return np.where(small, _np_series_alpha(p, e, big_l), alpha)


def solve_kl_symmetry_seed_code_np(pi_theta, pi_t, tol=1e-6, max_iter=50):
    """The seed's NumPy ``solve_kl_symmetry`` + ``geometric_mean`` (section 6.5) verbatim, on
    probabilities (eps = 1e-10 hard-coded as in the seed). Returns (alpha, iterations run)."""
    import numpy as np

    def geometric_mean(pi_theta, pi_t, alpha):
        log_q = alpha * np.log(pi_theta + 1e-10) + (1 - alpha) * np.log(pi_t + 1e-10)
        q = np.exp(log_q - log_q.max())
        return q / q.sum()

    alpha_low, alpha_high = 0.0, 1.0
    it = 0
    for _ in range(max_iter):
        it += 1
        alpha_mid = (alpha_low + alpha_high) / 2
        q_alpha = geometric_mean(pi_theta, pi_t, alpha_mid)
        log_ratio = np.log(pi_t + 1e-10) - np.log(pi_theta + 1e-10)
        delta = (q_alpha * log_ratio).sum()
        if delta > 0:
            alpha_low = alpha_mid
        else:
            alpha_high = alpha_mid
        if alpha_high - alpha_low < tol:
            break
    return (alpha_low + alpha_high) / 2, it


# ----------------------------------------------------------------------------- fixtures

NEG = float("-inf")


def _rng_logits(seed, v, scale=3.0):
    import numpy as np

    rng = np.random.default_rng(seed)
    return [float(x) for x in scale * rng.standard_normal(v)]


def _pair_cases(with_error_cases: bool = True):
    import numpy as np

    rng = np.random.default_rng(20261122)
    cs = []
    for v in (2, 3, 5, 8):
        for k in range(2):
            a = [float(x) for x in 3 * rng.standard_normal(v)]
            b = [float(x) for x in 3 * rng.standard_normal(v) + 0.5 * np.array(a)]
            cs.append(case(f"seeded Gaussian logits V={v} #{k}", logits_theta=a, logits_target=b))
    z = [float(-1.1 * np.log(i + 1)) for i in range(6)]
    cs.append(case("Zipf theta vs reversed Zipf", logits_theta=z, logits_target=z[::-1]))
    cs.append(
        case("peaked theta vs flat target", logits_theta=[8.0, 0, 0, 0], logits_target=[0.0] * 4)
    )
    cs.append(case("V=2", logits_theta=[0.0, 1.0], logits_target=[2.0, -1.0]))
    cs.append(
        case("extreme logits +-1e4", logits_theta=[1e4, -1e4, 0.0], logits_target=[-1e4, 1e4, 0.0])
    )
    cs.append(
        case(
            "extreme logits near-disjoint mass",
            logits_theta=[1e4, 0.0, 9990.0],
            logits_target=[0.0, 1e4, 9990.0],
        )
    )
    cs.append(
        case(
            "partly disjoint supports",
            logits_theta=[0.0, 1.0, NEG, 2.0],
            logits_target=[1.0, NEG, 0.5, 0.0],
        )
    )
    cs.append(
        case(
            "target support inside theta's",
            logits_theta=[0.0, 1.0, 0.5],
            logits_target=[1.0, NEG, 0.0],
        )
    )
    cs.append(
        case(
            "identical distributions", logits_theta=[0.3, -1.0, 2.0], logits_target=[0.3, -1.0, 2.0]
        )
    )
    cs.append(case("V=1", logits_theta=[0.5], logits_target=[-3.0]))
    cs.append(
        case(
            "both one-hot, same token",
            logits_theta=[0.0, NEG, NEG],
            logits_target=[NEG, NEG, 1.0][::-1],
        )
    )
    cs.append(
        case(
            "theta one-hot inside target support",
            logits_theta=[NEG, 0.0, NEG],
            logits_target=[0.0, 1.0, -1.0],
        )
    )
    cs.append(
        case(
            "target = theta truncated (top-2)",
            logits_theta=[2.0, 1.0, 0.0, -1.0],
            logits_target=[2.0, 1.0, NEG, NEG],
        )
    )
    if with_error_cases:
        cs += [
            case("edge: disjoint supports", logits_theta=[0.0, NEG], logits_target=[NEG, 0.0]),
            case("edge: NaN logit", logits_theta=[0.0, float("nan")], logits_target=[0.0, 1.0]),
            case("edge: +inf logit", logits_theta=[0.0, 1.0], logits_target=[float("inf"), 1.0]),
            case("edge: all -inf", logits_theta=[NEG, NEG], logits_target=[0.0, 1.0]),
            case("edge: length mismatch", logits_theta=[0.0, 1.0], logits_target=[0.0, 1.0, 2.0]),
        ]
    return cs


def _alpha_cases():
    cs = []
    base = [c for c in _pair_cases() if not c.note.startswith("edge")]
    for c in base:
        for al in (0.0, 0.3, 1.0):
            cs.append(case(f"{c.note}, alpha={al}", alpha=al, **c.inputs))
    cs += [
        case(
            "alpha=0.5 Gaussian V=4",
            alpha=0.5,
            logits_theta=_rng_logits(1, 4),
            logits_target=_rng_logits(2, 4),
        ),
        case("edge: alpha < 0", alpha=-0.1, logits_theta=[0.0, 1.0], logits_target=[1.0, 0.0]),
        case("edge: alpha > 1", alpha=1.5, logits_theta=[0.0, 1.0], logits_target=[1.0, 0.0]),
        case(
            "edge: alpha NaN", alpha=float("nan"), logits_theta=[0.0, 1.0], logits_target=[1.0, 0.0]
        ),
        case(
            "edge: disjoint, alpha=0.5",
            alpha=0.5,
            logits_theta=[0.0, NEG],
            logits_target=[NEG, 0.0],
        ),
        case(
            "disjoint, alpha=1 (endpoint: pi_theta)",
            alpha=1.0,
            logits_theta=[0.0, NEG],
            logits_target=[NEG, 0.0],
        ),
        case(
            "edge: NaN logit", alpha=0.5, logits_theta=[0.0, float("nan")], logits_target=[0.0, 1.0]
        ),
    ]
    return cs


def _single_cases():
    cs = [
        case("uniform V=4", logits=[0.0] * 4),
        case("one-hot", logits=[NEG, 3.0, NEG]),
        case("V=1", logits=[2.0]),
        case("extreme +-1e4", logits=[1e4, -1e4, 9999.0]),
        case("Gaussian V=8", logits=_rng_logits(3, 8)),
        case("Zipf V=6", logits=[-1.1 * float(i) for i in range(6)]),
        case("edge: NaN", logits=[0.0, float("nan")]),
        case("edge: +inf", logits=[0.0, float("inf")]),
        case("edge: all -inf", logits=[NEG, NEG]),
    ]
    return cs


def _pq_cases(names=("logits_p", "logits_q")):
    out = []
    for c in _pair_cases():
        out.append(
            case(
                c.note, **{names[0]: c.inputs["logits_theta"], names[1]: c.inputs["logits_target"]}
            )
        )
    return out


def _ess42_cases():
    out = []
    for c in _pq_cases(("logits_pi", "logits_q")):
        if c.note == "edge: disjoint supports":
            out.append(case(c.note, n=64.0, **c.inputs))
        else:
            out.append(case(c.note, n=64.0, **c.inputs))
    out += [
        case("edge: n = 0", n=0.0, logits_pi=[0.0, 1.0], logits_q=[1.0, 0.0]),
        case("edge: n NaN", n=float("nan"), logits_pi=[0.0, 1.0], logits_q=[1.0, 0.0]),
    ]
    return out


def _seed_code_cases():
    out = []
    for c in _pair_cases():
        out.append(case(c.note, tol=1e-6, max_iter=50, eps=1e-10, **c.inputs))
    out.append(case("tol 1e-3", tol=1e-3, max_iter=50, eps=1e-10, **_pair_cases()[0].inputs))
    out.append(case("max_iter 5", tol=1e-6, max_iter=5, eps=1e-10, **_pair_cases()[0].inputs))
    return out


def _ess_balance_cases():
    return [c for c in _pair_cases() if "extreme" not in c.note]


def _pareto_cases():
    import numpy as np

    rng = np.random.default_rng(7)
    cs = []
    th, tg = _rng_logits(11, 5), _rng_logits(12, 5)
    for k in range(4):
        q = [float(x) for x in 2 * rng.standard_normal(5)]
        cs.append(case(f"random q #{k}", logits_q=q, logits_theta=th, logits_target=tg))
    # q on the front (pi_theta, pi_t, q_0.4) has margin 0 or ~1e-33: a relative comparison
    # of a rounding-level number is meaningless, so those are tested with an absolute
    # tolerance in tests/test_sampling.py instead of being fixture cases.
    cs.append(case("uniform q", logits_q=[0.0] * 5, logits_theta=th, logits_target=tg))
    cs.append(
        case(
            "edge: q outside common support",
            logits_q=[0.0, 0.0, 0.0],
            logits_theta=[0.0, NEG, 1.0],
            logits_target=[0.0, 1.0, 1.0],
        )
    )
    cs.append(
        case(
            "edge: NaN",
            logits_q=[0.0, float("nan")],
            logits_theta=[0.0, 1.0],
            logits_target=[1.0, 0.0],
        )
    )
    return cs


register_golden(entropy, _single_cases, tensor_args=("logits",))
_LT = ("logits_theta", "logits_target")
register_golden(geometric_distribution, _alpha_cases, tensor_args=(*_LT, "alpha"))
register_golden(log_partition, _alpha_cases, tensor_args=(*_LT, "alpha"))
register_golden(delta_alpha, _alpha_cases, tensor_args=(*_LT, "alpha"))
register_golden(kl_q_theta, _alpha_cases, tensor_args=(*_LT, "alpha"))
register_golden(kl_q_target, _alpha_cases, tensor_args=(*_LT, "alpha"))
register_golden(kl_symmetry_error, _alpha_cases, tensor_args=(*_LT, "alpha"))
register_golden(
    ess_section_4_5, lambda: _pq_cases(("logits_pi", "logits_q")), ("logits_pi", "logits_q")
)
register_golden(ess_section_4_2, _ess42_cases, ("logits_pi", "logits_q"), float_args=("n",))
register_golden(optimal_alpha, _pair_cases, tensor_args=_LT)
register_golden(optimal_distribution, _pair_cases, tensor_args=_LT)
register_golden(alpha_entropy_approx, _pair_cases, tensor_args=_LT)
register_golden(alpha_ess_balance, _ess_balance_cases, tensor_args=_LT)
register_golden(
    solve_kl_symmetry_seed_code, _seed_code_cases, tensor_args=_LT, float_args=("tol", "eps")
)
_PQ = ("logits_q", "logits_theta", "logits_target")
register_golden(pareto_margin, _pareto_cases, tensor_args=_PQ)
register_golden(pareto_dominating_alpha, _pareto_cases, tensor_args=_PQ)
_SP = ("logits_proposal", "logits_q")
_sp_cases = lambda: _pq_cases(_SP)  # noqa: E731
register_golden(speculative_acceptance_rate, _sp_cases, tensor_args=_SP)
register_golden(speculative_output_section_7_7, _sp_cases, tensor_args=_SP)
register_golden(speculative_output_residual, _sp_cases, tensor_args=_SP)
register_golden(speculative_bias_tv_section_7_7, _sp_cases, tensor_args=_SP)
register_golden(ess_front_distribution, _front_cases, tensor_args=(*_LT, "b"))
