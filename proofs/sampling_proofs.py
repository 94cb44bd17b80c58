"""Derivations and exact computations for seed 004 (the optimal sampling distribution).

Notation (seed 004, sections 5-7): pi_theta and pi_t are distributions on a finite vocabulary,
given here as logits (log-domain, normalised inside). The geometric family is
q_alpha = pi_theta^alpha pi_t^(1 - alpha) / Z_alpha, the log ratio is
ell = log(pi_t / pi_theta), Delta(alpha) = KL(q_alpha || pi_theta) - KL(q_alpha || pi_t),
and ESS_pi(q) = 1 / sum_y pi(y)^2 / q(y) (the ESS fraction ESS / N of section 4.2).

Two kinds of function live here:

* sympy derivations (``*_residual``, ``*_series``, ``*_stationarity`` ...) that return sympy
  objects a test or claim can check (an expression that simplifies to zero, a solution, a
  series coefficient);
* exact numerics: mpmath at the ambient precision for small vocabularies (callers scope the
  precision with ``mpmath.workdps``), and NumPy float64 batches (suffix ``_np``) for Monte
  Carlo and large vocabularies. ``*_seed_code`` functions reproduce the seed's own code as
  printed (probability inputs, ``eps = 1e-10``), so the ledger can compare it with the truth.

The numerics themselves live in ``reference/sampling.py`` (DESIGN: the math lives in
``reference/``); the mpmath functions here are adapters between this module's log-probability
lists and the reference's logits, plus the quantities the reference has no function for.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import mpmath
import numpy as np
import sympy as sp

from isreshape.reference import sampling as R

# ----------------------------------------------------------------------------------------
# exact (mpmath) numerics on small vocabularies: thin adapters to reference/sampling.py
# ----------------------------------------------------------------------------------------
# The math lives in ``reference.sampling`` (logits in, probabilities or scalars out). The
# functions below only convert: this module's vectors are log-probabilities (lists of mpf,
# -inf off the support), which are valid logits for the reference, and its speculative-sampling
# helpers take probabilities as the seed's 7.7 text does.


def log_normalize(logits: Sequence) -> list:
    """Log-probabilities from logits: logits - logsumexp(logits). -inf entries stay -inf."""
    xs = [mpmath.mpf(x) for x in logits]
    if not xs:
        raise ValueError("logits must be non-empty")
    if any(mpmath.isnan(x) for x in xs):
        raise ValueError(f"logits must not contain NaN, got {list(logits)!r}")
    m = max(xs)
    if not mpmath.isfinite(m):
        raise ValueError(f"logits need one finite maximum, got max {m}")
    lse = m + mpmath.log(mpmath.fsum(mpmath.exp(x - m) for x in xs))
    return [x - lse for x in xs]


def _log(ps: Sequence) -> list:
    """Entrywise log of probabilities (0 -> -inf), no renormalisation."""
    return [mpmath.log(p) if p > 0 else mpmath.ninf for p in ps]


def log_probs(p: Sequence) -> list:
    """log of a probability vector given as numbers (zeros become -inf); normalises."""
    return log_normalize(_log([mpmath.mpf(v) for v in p]))


def probs(logp: Sequence) -> list:
    return [mpmath.exp(x) for x in logp]


def log_q_alpha(lp_theta: Sequence, lp_t: Sequence, alpha) -> list:
    """log q_alpha, q_alpha = pi_theta^alpha pi_t^(1-alpha) / Z_alpha (seed 5.3): the log of
    ``reference.sampling.geometric_distribution`` (alpha = 1 gives pi_theta, alpha = 0 gives
    pi_t exactly). Inputs are log-probabilities."""
    return _log(R.geometric_distribution(list(lp_theta), list(lp_t), alpha))


def log_z_alpha(lp_theta: Sequence, lp_t: Sequence, alpha) -> mpmath.mpf:
    """log Z_alpha (``reference.sampling.log_partition``)."""
    return R.log_partition(list(lp_theta), list(lp_t), alpha)


def kl(lp: Sequence, lq: Sequence) -> mpmath.mpf:
    """KL(p || q) from log-probabilities (``reference.sampling.kl_divergence``); +inf if p
    charges a q-null entry."""
    return R.kl_divergence(list(lp), list(lq))


def tv(p: Sequence, q: Sequence) -> mpmath.mpf:
    """Total-variation distance 1/2 sum |p - q| of two probability vectors."""
    return mpmath.fsum(abs(mpmath.mpf(a) - b) for a, b in zip(p, q)) / 2


def ess_fraction(lp_pi: Sequence, lp_q: Sequence) -> mpmath.mpf:
    """ESS_pi(q) / N = 1 / E_q[(pi/q)^2] = 1 / sum_{q > 0} pi^2 / q (seed 4.2, 4.5):
    ``reference.sampling.ess_section_4_2`` with N = 1.

    Entries where q = 0 but pi > 0 are dropped, as a sample from q never sees them (the seed's
    formula then exceeds 1: see claim 004-4.2-b)."""
    return R.ess_section_4_2(list(lp_pi), list(lp_q), 1)


def delta(lp_theta: Sequence, lp_t: Sequence, alpha) -> mpmath.mpf:
    """Delta(alpha) = KL(q_alpha||pi_theta) - KL(q_alpha||pi_t) computed from the two KLs
    (``reference.sampling.kl_q_theta`` - ``kl_q_target``)."""
    lt, lq = list(lp_theta), list(lp_t)
    return R.kl_q_theta(lt, lq, alpha) - R.kl_q_target(lt, lq, alpha)


def delta_mean_ell(lp_theta: Sequence, lp_t: Sequence, alpha) -> mpmath.mpf:
    """E_{q_alpha}[ell] (the seed's simplified form of Delta, section 6.4 step 2):
    ``reference.sampling.delta_alpha``."""
    return R.delta_alpha(list(lp_theta), list(lp_t), alpha)


def var_ell(lp_theta: Sequence, lp_t: Sequence, alpha) -> mpmath.mpf:
    """Var_{q_alpha}(ell): minus the derivative of Delta, and the Fisher metric along q_alpha."""
    qs, ls = [], []
    for a, x, y in zip(log_q_alpha(lp_theta, lp_t, alpha), lp_theta, lp_t):
        if not mpmath.isinf(a):
            qs.append(mpmath.exp(a))
            ls.append(y - x)
    m1 = mpmath.fsum(q * v for q, v in zip(qs, ls))
    return mpmath.fsum(q * (v - m1) ** 2 for q, v in zip(qs, ls))


def alpha_star(lp_theta: Sequence, lp_t: Sequence) -> mpmath.mpf:
    """The root of Delta(alpha) = 0 in (0, 1): ``reference.sampling.optimal_alpha`` under
    Theorem 5's conditions, which this function enforces (the reference instead returns an
    endpoint or 1/2): a common full support and pi_theta != pi_t, else ValueError."""
    lt, lq = list(lp_theta), list(lp_t)
    if any(mpmath.isinf(x) != mpmath.isinf(y) for x, y in zip(lt, lq)):
        raise ValueError("alpha_star needs pi_theta and pi_t with the same support")
    if R.delta_alpha(lt, lq, 0) <= 0 or R.delta_alpha(lt, lq, 1) >= 0:
        raise ValueError("Delta(0) > 0 > Delta(1) fails: identical or non-overlapping inputs")
    return R.optimal_alpha(lt, lq)


def alpha_ess_balance(lp_theta: Sequence, lp_t: Sequence) -> mpmath.mpf:
    """The alpha with ESS_theta(q_alpha) = ESS_t(q_alpha) (the seed's 'exact condition' of
    6.3): ``reference.sampling.alpha_ess_balance``."""
    return R.alpha_ess_balance(list(lp_theta), list(lp_t))


def alpha_entropy(lp_theta: Sequence, lp_t: Sequence) -> mpmath.mpf:
    """The seed's entropy approximation (7.7) H(pi_theta) / (H(pi_theta) + H(pi_t)):
    ``reference.sampling.alpha_entropy_approx``."""
    return R.alpha_entropy_approx(list(lp_theta), list(lp_t))


def fisher_rao_distance(lp_a: Sequence, lp_b: Sequence) -> mpmath.mpf:
    """Fisher-Rao geodesic distance on the simplex, 2 arccos(sum sqrt(p q)) (the shortest path
    for the Fisher metric ds^2 = sum dp^2 / p)."""
    bc = mpmath.fsum(mpmath.exp((x + y) / 2) for x, y in zip(lp_a, lp_b))
    return 2 * mpmath.acos(min(bc, mpmath.mpf(1)))


def e_geodesic_fisher_length(lp_theta: Sequence, lp_t: Sequence) -> mpmath.mpf:
    """Fisher length of the e-geodesic q_alpha, alpha in [0, 1]: int sqrt(Var_{q_alpha} ell)."""
    return mpmath.quad(lambda a: mpmath.sqrt(var_ell(lp_theta, lp_t, a)), [0, 1])


def ess_front_member(lp_theta: Sequence, lp_t: Sequence, beta) -> list:
    """log of q ∝ sqrt(beta pi_theta^2 + (1 - beta) pi_t^2), the minimiser of
    beta / ESS_theta(q) + (1 - beta) / ESS_t(q), i.e. the Pareto front of the two ESS (see
    :func:`ess_front_stationarity`): the log of ``reference.sampling.ess_front_distribution``."""
    return _log(R.ess_front_distribution(list(lp_theta), list(lp_t), beta))


def speculative_output_seed(p_theta: Sequence, q: Sequence) -> list:
    """Exact output distribution of the seed's scheme (7.7), P(y) = min(pi_theta, q) +
    (1 - beta) q, beta = sum min(pi_theta, q): ``reference.sampling.
    speculative_output_section_7_7`` on probabilities."""
    return R.speculative_output_section_7_7(_log(p_theta), _log(q))


def speculative_output_residual(p_theta: Sequence, q: Sequence) -> list:
    """Exact output distribution of the residual scheme (standard speculative sampling; equals
    q): ``reference.sampling.speculative_output_residual`` on probabilities."""
    return R.speculative_output_residual(_log(p_theta), _log(q))


def acceptance_rate(p_theta: Sequence, q: Sequence) -> mpmath.mpf:
    """P(accept) = sum min(pi_theta, q) = 1 - TV(pi_theta, q):
    ``reference.sampling.speculative_acceptance_rate`` on probabilities."""
    return R.speculative_acceptance_rate(_log(p_theta), _log(q))


# ----------------------------------------------------------------------------------------
# NumPy float64 batches (Monte Carlo, large vocabularies)
# ----------------------------------------------------------------------------------------


def log_softmax_np(logits: np.ndarray) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64)
    m = z.max(axis=-1, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=-1, keepdims=True))


def log_q_alpha_np(lp_theta: np.ndarray, lp_t: np.ndarray, alpha) -> np.ndarray:
    a = np.asarray(alpha, dtype=np.float64)[..., None]
    return log_softmax_np(a * lp_theta + (1 - a) * lp_t)


def kl_np(lp: np.ndarray, lq: np.ndarray) -> np.ndarray:
    return (np.exp(lp) * (lp - lq)).sum(axis=-1)


def ess_fraction_np(lp_pi: np.ndarray, lp_q: np.ndarray) -> np.ndarray:
    x = 2 * lp_pi - lp_q
    m = x.max(axis=-1, keepdims=True)
    return np.exp(-(m[..., 0] + np.log(np.exp(x - m).sum(axis=-1))))


def alpha_star_np(lp_theta: np.ndarray, lp_t: np.ndarray, iters: int = 60) -> np.ndarray:
    """Batched alpha* in float64: ``reference.sampling.optimal_alpha_np`` (safeguarded Newton,
    ``iters`` steps) on log-probabilities."""
    return R.optimal_alpha_np(lp_theta, lp_t, iters)


def alpha_ess_balance_np(lp_theta: np.ndarray, lp_t: np.ndarray, iters: int = 60) -> np.ndarray:
    """Batched root of log ESS_theta(q_alpha) - log ESS_t(q_alpha) by bisection (float64).
    The function is +inf-free and increasing from <= 0 at alpha = 0 to >= 0 at alpha = 1."""
    shape = lp_theta.shape[:-1]
    lo, hi = np.zeros(shape), np.ones(shape)
    for _ in range(iters):
        mid = (lo + hi) / 2
        lq = log_q_alpha_np(lp_theta, lp_t, mid)
        g = np.log(ess_fraction_np(lp_theta, lq)) - np.log(ess_fraction_np(lp_t, lq))
        lo = np.where(g < 0, mid, lo)
        hi = np.where(g < 0, hi, mid)
    return (lo + hi) / 2


def entropy_np(lp: np.ndarray) -> np.ndarray:
    return -(np.exp(lp) * lp).sum(axis=-1)


# ----------------------------------------------------------------------------------------
# the seed's code as printed (section 6.5 NumPy, section 7.4 PyTorch class)
# ----------------------------------------------------------------------------------------


def geometric_mean_seed_code(
    pi_theta, pi_t, alpha, eps: float = 1e-10, dtype=np.float64
) -> np.ndarray:
    """Seed 6.5 ``geometric_mean``: probabilities in, eps added inside the logs, batched."""
    pt = np.asarray(pi_theta, dtype=dtype)
    pq = np.asarray(pi_t, dtype=dtype)
    a = np.asarray(alpha, dtype=dtype)[..., None]
    log_q = a * np.log(pt + dtype(eps)) + (1 - a) * np.log(pq + dtype(eps))
    q = np.exp(log_q - log_q.max(axis=-1, keepdims=True))
    return q / q.sum(axis=-1, keepdims=True)


def solve_kl_symmetry_seed_code(
    pi_theta, pi_t, tol: float = 1e-6, max_iter: int = 50, eps: float = 1e-10, dtype=np.float64
) -> tuple[np.ndarray, int, bool]:
    """Seed 6.5 ``solve_kl_symmetry`` as printed, row by row over the leading axes:
    ``reference.sampling.solve_kl_symmetry_seed_code_np`` on the probabilities cast to
    ``dtype`` (the seed hard-codes eps = 1e-10; other values are refused). The bracket width
    after k halvings is 2^-k for every row, so all rows stop together, as in the 7.4 torch
    class. Returns (alpha, iterations, converged)."""
    if eps != 1e-10:
        raise ValueError(f"the seed's code hard-codes eps = 1e-10, got eps={eps!r}")
    pt = np.asarray(pi_theta, dtype=dtype)
    pq = np.asarray(pi_t, dtype=dtype)
    shape = pt.shape[:-1]
    rows = [
        R.solve_kl_symmetry_seed_code_np(x, y, tol, max_iter)
        for x, y in zip(pt.reshape(-1, pt.shape[-1]), pq.reshape(-1, pq.shape[-1]))
    ]
    alpha = np.array([r[0] for r in rows], dtype=dtype).reshape(shape)
    it = max(r[1] for r in rows)
    return alpha, it, bool(2.0**-it < tol)


def seed_class_solve_shapes(
    pi_theta, pi_t, tol: float = 1e-6, max_iter: int = 50, eps: float = 1e-10
) -> tuple[np.ndarray, bool]:
    """Seed 7.4 ``_solve_kl_symmetry`` + ``_geometric_mean`` with the class's tensor shapes kept
    exactly (NumPy broadcasting = torch broadcasting): alpha has shape [pi.shape[0]] and is
    unsqueezed to [batch, 1] only while it is 1-D. Returns (alpha, converged); raises whatever
    the broadcasting raises (ValueError in NumPy, RuntimeError in torch)."""
    pt = np.asarray(pi_theta, dtype=np.float64)
    pq = np.asarray(pi_t, dtype=np.float64)
    lo = np.zeros(pt.shape[0])
    hi = np.ones(pt.shape[0])

    def geo(alpha):
        if alpha.ndim == 1:
            alpha = alpha[:, None]
        log_q = alpha * np.log(pt + eps) + (1 - alpha) * np.log(pq + eps)
        e = np.exp(log_q - log_q.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)

    for _ in range(max_iter):
        mid = (lo + hi) / 2
        q = geo(mid)
        d = (q * (np.log(pq + eps) - np.log(pt + eps))).sum(axis=-1)
        mask = d > 0
        lo = np.where(mask, mid, lo)
        hi = np.where(mask, hi, mid)
        if (hi - lo).max() < tol:
            return (lo + hi) / 2, True
    return (lo + hi) / 2, False


def seed_class_diagnostics(pi_theta, pi_t, eps: float = 1e-10, dtype=np.float32) -> dict:
    """Seed 7.4 ``OptimalSamplingDistribution.__call__`` translated line by line to NumPy
    (default dtype float32 as in the seed's torch example). Returns its ``info`` dict."""
    pt = np.asarray(pi_theta, dtype=dtype)
    pq = np.asarray(pi_t, dtype=dtype)
    e = dtype(eps)
    alpha, _, converged = solve_kl_symmetry_seed_code(pt, pq, 1e-6, 50, eps, dtype)
    q = geometric_mean_seed_code(pt, pq, alpha, eps, dtype)

    def _kl(p, r):
        return (p * np.log((p + e) / (r + e))).sum(axis=-1)

    def _ess(p, r):
        return 1.0 / ((p**2) / (r + e)).sum(axis=-1)

    kl_theta, kl_t = _kl(q, pt), _kl(q, pq)
    ess_theta, ess_t = _ess(pt, q), _ess(pq, q)
    return {
        "alpha": alpha,
        "q_star": q,
        "kl_theta": kl_theta,
        "kl_t": kl_t,
        "kl_symmetry_error": np.abs(kl_theta - kl_t) / (kl_theta + kl_t + e),
        "ess_theta": ess_theta,
        "ess_t": ess_t,
        "ess_ratio": ess_theta / (ess_t + e),
        "converged": converged,
    }


def seed_example_pairs(
    n_pairs: int, vocab: int, seed: int, scale_t: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """The seed's own example inputs (7.4 ``__main__``): pi = softmax(randn(vocab)) for both
    policies, independently (scale_t multiplies pi_t's logits; 1 is the seed's choice).
    Returns float64 log-probabilities (lp_theta, lp_t), shape (n_pairs, vocab)."""
    rng = np.random.default_rng(seed)
    zt = rng.standard_normal((n_pairs, vocab))
    zq = scale_t * rng.standard_normal((n_pairs, vocab))
    return log_softmax_np(zt), log_softmax_np(zq)


# ----------------------------------------------------------------------------------------
# sympy derivations
# ----------------------------------------------------------------------------------------

alpha_s = sp.symbols("alpha", real=True)


def kl_pointwise_residuals() -> tuple[sp.Expr, sp.Expr, sp.Expr]:
    """Section 6.4 step 1-2 pointwise: with a = log pi_theta(y), b = log pi_t(y), L = log Z,
    log q = alpha a + (1 - alpha) b - L. Returns the residuals of
    log(q/pi_theta) = (1 - alpha) ell - L, log(q/pi_t) = -alpha ell - L, and of their
    difference = ell (ell = b - a); each is 0, so Delta = E_q[ell] (the L terms cancel)."""
    a, b, L = sp.symbols("a b L", real=True)
    lq = alpha_s * a + (1 - alpha_s) * b - L
    ell_ = b - a
    r1 = sp.expand((lq - a) - ((1 - alpha_s) * ell_ - L))
    r2 = sp.expand((lq - b) - (-alpha_s * ell_ - L))
    r3 = sp.expand(((lq - a) - (lq - b)) - ell_)
    return r1, r2, r3


@lru_cache(maxsize=1)
def delta_derivative_residual(n: int = 3) -> sp.Expr:
    """d/dalpha E_{q_alpha}[ell] + Var_{q_alpha}(ell) for a generic n-point distribution
    (q_alpha ∝ pi_t exp(-alpha ell) with symbolic positive weights c_i and log ratios l_i);
    simplifies to 0, so Delta is strictly decreasing unless ell is q-a.s. constant."""
    c = sp.symbols(f"c0:{n}", positive=True)
    l_ = sp.symbols(f"l0:{n}", real=True)
    w = [ci * sp.exp(-alpha_s * li) for ci, li in zip(c, l_)]
    z = sum(w)
    m1 = sum(wi * li for wi, li in zip(w, l_)) / z
    m2 = sum(wi * li**2 for wi, li in zip(w, l_)) / z
    return sp.simplify(sp.together(sp.diff(m1, alpha_s) + (m2 - m1**2)))


@lru_cache(maxsize=1)
def kl_alpha_derivative_residuals() -> tuple[sp.Expr, sp.Expr, sp.Expr]:
    """Section 6.1 ('alpha large: closer to pi_theta'). With m(alpha) = E_{q_alpha}[ell] and
    L(alpha) = log Z_alpha, step 1 of 6.4 gives KL(q||pi_theta) = (1 - alpha) m - L and
    KL(q||pi_t) = -alpha m - L. Using L' = -m (checked here on a generic 3-point family) and
    m' = -Var (:func:`delta_derivative_residual`), returns the residuals of
    L' + m, d/dalpha KL(q||pi_theta) + (1 - alpha) Var, d/dalpha KL(q||pi_t) - alpha Var:
    (0, 0, 0). So the KL to pi_theta falls and the KL to pi_t rises along the family."""
    c = sp.symbols("c0:3", positive=True)
    l_ = sp.symbols("l0:3", real=True)
    w = [ci * sp.exp(-alpha_s * li) for ci, li in zip(c, l_)]
    z = sum(w)
    r0 = sp.simplify(sp.diff(sp.log(z), alpha_s) + sum(wi * li for wi, li in zip(w, l_)) / z)
    m = sp.Function("m")(alpha_s)
    L = sp.Function("L")(alpha_s)
    V = sp.symbols("V", nonnegative=True)
    rules = {sp.Derivative(L, alpha_s): -m, sp.Derivative(m, alpha_s): -V}
    r1 = sp.expand(sp.diff((1 - alpha_s) * m - L, alpha_s).subs(rules) + (1 - alpha_s) * V)
    r2 = sp.expand(sp.diff(-alpha_s * m - L, alpha_s).subs(rules) - alpha_s * V)
    return r0, r1, r2


def weighted_sum_residual() -> sp.Expr:
    """Section 5.3 pointwise: alpha (log q - a) + (1 - alpha)(log q - b) - (log q - log q_alpha)
    + L = 0 with log q_alpha = alpha a + (1 - alpha) b - L. Weighting by q and summing:
    alpha KL(q||pi_theta) + (1 - alpha) KL(q||pi_t) = KL(q||q_alpha) - log Z_alpha, so the
    weighted sum is minimised exactly (and uniquely) at q = q_alpha."""
    a, b, L, lq = sp.symbols("a b L logq", real=True)
    lqa = alpha_s * a + (1 - alpha_s) * b - L
    return sp.expand(alpha_s * (lq - a) + (1 - alpha_s) * (lq - b) - (lq - lqa) + L)


def kl_stationarity() -> list:
    """Section 5.3 step 3: solve d/dq [q log q - q c + lam q] = 0 for q (c = alpha a +
    (1 - alpha) b): q = exp(c - 1 - lam), i.e. log q = c + const."""
    q = sp.symbols("q", positive=True)
    c, lam = sp.symbols("c lam", real=True)
    return sp.solve(sp.diff(q * sp.log(q) - q * c + lam * q, q), q)


def ess_front_stationarity() -> list:
    """The Pareto front of the two ESS objectives (what section 5.1 says is 'equivalent' to
    the KL one): stationarity of beta P/q + (1 - beta) T/q + lam q in q (P = pi_theta^2,
    T = pi_t^2) gives q = sqrt((beta P + (1 - beta) T) / lam): a power-mean family, not the
    geometric one."""
    q, P, T, lam = sp.symbols("q P T lam", positive=True)
    beta = sp.symbols("beta", positive=True)
    return sp.solve(sp.diff(beta * P / q + (1 - beta) * T / q + lam * q, q), q)


@lru_cache(maxsize=1)
def log_ess_kl_series() -> tuple[sp.Expr, sp.Expr, sp.Expr]:
    """Section 4.4 (Theorem 2) on a two-point space: pi = (p, 1 - p), q = (p + t, 1 - p - t).
    Returns (series of log ESS_pi(q) in t, series of KL(q || pi) in t, the limit of
    log ESS / KL as t -> 0). The limit is -2, not the printed -1."""
    p = sp.symbols("p", positive=True)
    t = sp.symbols("t", real=True)
    log_ess = -sp.log(p**2 / (p + t) + (1 - p) ** 2 / (1 - p - t))
    kl_ = (p + t) * sp.log((p + t) / p) + (1 - p - t) * sp.log((1 - p - t) / (1 - p))
    s1 = sp.simplify(sp.series(log_ess, t, 0, 3).removeO())
    s2 = sp.simplify(sp.series(kl_, t, 0, 3).removeO())
    return s1, s2, sp.simplify(s1 / s2)


def two_point_alpha_star() -> tuple[sp.Expr, sp.Expr]:
    """Section 7.7 says alpha* has no elementary closed form even for V = 2. On two points
    pi_theta = (p, 1 - p), pi_t = (r, 1 - r): Delta = q_1 A + q_2 B with A = log(r/p),
    B = log((1-r)/(1-p)), and q_1/q_2 = (r/(1-r)) c^alpha, c = p(1-r)/((1-p) r), so
    alpha* = log(-B (1-r) / (A r)) / log c. Returns (alpha*, the residual Delta(alpha*)
    numerator r^(1-alpha) p^alpha A + (1-r)^(1-alpha) (1-p)^alpha B at alpha*, simplified)."""
    p, r = sp.symbols("p r", positive=True)
    A = sp.log(r / p)
    B = sp.log((1 - r) / (1 - p))
    c = p * (1 - r) / ((1 - p) * r)
    a_star = sp.log(-B * (1 - r) / (A * r)) / sp.log(c)
    resid = r ** (1 - a_star) * p**a_star * A + (1 - r) ** (1 - a_star) * (1 - p) ** a_star * B
    return a_star, resid


def bernoulli_fisher() -> tuple[sp.Expr, sp.Expr]:
    """Cramer-Rao on Bernoulli(p) (section 4.1): I(p) = E[(d/dp log f)^2] = 1 / (p (1 - p)),
    and the unbiased sample mean has variance p (1 - p) / n = 1 / (n I(p)) (the bound is
    attained). Returns (I(p), Var(mean) * n * I(p) - 1)."""
    p = sp.symbols("p", positive=True)
    n = sp.symbols("n", positive=True, integer=True)
    score1 = sp.diff(sp.log(p), p)
    score0 = sp.diff(sp.log(1 - p), p)
    info = sp.simplify(p * score1**2 + (1 - p) * score0**2)
    return info, sp.simplify(p * (1 - p) / n * n * info - 1)
