"""General proofs of the four headline theorems (issue 15): every step is checked by sympy.

A proof here is a chain of :class:`Step` objects. Each step states one identity or inequality
and carries the sympy expression that decides it: an ``identity`` step holds when its residual
simplifies to 0, a ``positive`` / ``nonnegative`` / ``nonzero`` step when sympy proves the sign
from the symbols' assumptions. Nothing is typed: :meth:`Proof.verify` recomputes every step, and
the builders take the *subject* (the formula a seed states) as an argument, so the same proof
run on a wrong formula fails at the step that compares it.

General means: the vocabulary size V is a symbol (``IndexedBase`` summands under ``Sum``, and a
step about a sum is reduced to its summand, a scalar lemma, by linearity), and the parameters
are symbols with only the assumptions the statement needs. Steps that rest on a standard
theorem sympy cannot check (the intermediate value theorem, the supporting hyperplane theorem,
uniqueness of a distribution with given cumulants) are ``cited`` steps: they are named, and the
sympy-checked steps are exactly the hypotheses that theorem needs.

Theorems (seed sections):

* :func:`ess_lognormal_proof` (001 section 8.1, theorem 8.2): log w ~ N(m, s2) gives
  ESS_gamma / n = exp(-s2 gamma^2), for every m; beyond log-normal the same closed form for all
  gamma near 0 forces every cumulant of order >= 3 to vanish (log w Gaussian), and a two-point
  log w is a counterexample family.
* :func:`renyi_identity_proof` (001 section 6.1, theorem 6.2): E_mu[w^gamma] = exp((gamma - 1)
  D_gamma(pi||mu)) for every V, gamma != 1, with the support condition pi << mu needed exactly
  when gamma > 1, and the gamma -> 1 limit (KL).
* :func:`alpha_star_proof` (004 section 6.4, theorem 5): Delta(alpha) = E_{q_alpha}[d],
  Delta' = -Var_{q_alpha}(d), existence and uniqueness of alpha* in (0, 1) exactly when
  Delta(0) > 0 > Delta(1) (d not constant on the common support); common full support is
  sufficient, not necessary.
* :func:`pareto_proof` (004 sections 5.2-5.3, theorem 3): the KL front is the geometric family
  (weighted-sum identity + Gibbs' inequality + convexity), the constructive dominating point
  for any q, and the ESS front q_b ∝ sqrt(b pi_theta^2 + (1 - b) pi_t^2).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import sympy as sp

from isreshape.proofs import ledger
from isreshape.reference import certified

__all__ = [
    "Formula",
    "Proof",
    "Step",
    "alpha_star_proof",
    "enclose_alpha_star",
    "ess_lognormal_proof",
    "pareto_proof",
    "renyi_identity_proof",
]

KINDS = ("identity", "positive", "nonnegative", "nonzero", "infinite", "cited")


@dataclass(frozen=True)
class Step:
    """One step. ``expr``: the residual (identity) or the quantity whose sign is claimed."""

    text: str
    kind: str
    expr: sp.Expr | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if (self.kind == "cited") != (self.expr is None):
            raise ValueError("a cited step has no expression; every other step has one")

    def holds(self) -> bool | None:
        """True / False as sympy decides it; None for a cited step."""
        if self.kind == "cited":
            return None
        e = self.expr
        if self.kind == "identity":
            r = sp.simplify(e)
            if r == 0:
                return True
            # a residual sympy cannot reduce is refuted only by a nonzero value
            return False
        if self.kind == "positive":
            return bool(sp.simplify(e).is_positive)
        if self.kind == "nonnegative":
            return bool(sp.simplify(e).is_nonnegative)
        if self.kind == "infinite":
            return sp.simplify(e) == sp.oo
        return bool(sp.simplify(e).is_nonzero)


@dataclass(frozen=True)
class Proof:
    name: str
    statement: str
    assumptions: tuple[str, ...]
    steps: tuple[Step, ...]
    notes: tuple[str, ...] = field(default=())

    def verify(self) -> list[tuple[Step, bool | None]]:
        """Every step, decided by sympy (once per Proof object; witnessed for the ledger's
        ``method="proof"`` on every call)."""
        ledger.witness("proof")
        cached = self.__dict__.get("_verified")
        if cached is None:
            cached = [(s, s.holds()) for s in self.steps]
            object.__setattr__(self, "_verified", cached)
        return cached

    @property
    def holds(self) -> bool:
        """Every checked step holds (cited steps are hypotheses-checked citations)."""
        return all(ok is not False for _, ok in self.verify())

    def failed_steps(self) -> list[str]:
        return [s.text for s, ok in self.verify() if ok is False]

    def n_checked(self) -> int:
        return sum(1 for s in self.steps if s.kind != "cited")


@dataclass(frozen=True)
class Formula:
    """A statement's formula in the two forms a claim needs: ``sym`` (the sympy callable a proof
    builder takes) and ``num`` (the NumPy / mpmath function the numerical searches evaluate). A
    check that takes a Formula must also show the two agree numerically, so a subject cannot
    pass the proof with one formula and the search with another."""

    sym: Callable[..., Any]
    num: Callable[..., Any]


# ------------------------------------------------------------------------------ symbols
x, m = sp.symbols("x m", real=True)
sigma = sp.symbols("sigma", positive=True)
s2 = sp.symbols("s2", positive=True)
g = sp.symbols("g", real=True)
alpha = sp.symbols("alpha", real=True)
V = sp.symbols("V", integer=True, positive=True)
i = sp.symbols("i", integer=True, positive=True)
n = sp.symbols("n", integer=True, positive=True)
D = sp.symbols("D", real=True)


@lru_cache(maxsize=1)
def _normal_mgf() -> sp.Expr:
    """E[e^{k x}] for x ~ N(m, sigma^2), by integrating against the density."""
    k = sp.symbols("k", real=True)
    pdf = sp.exp(-((x - m) ** 2) / (2 * sigma**2)) / sp.sqrt(2 * sp.pi * sigma**2)
    return sp.Lambda(k, sp.simplify(sp.integrate(sp.exp(k * x) * pdf, (x, -sp.oo, sp.oo))))


# --------------------------------------------------------------- 001 section 8.1 (ESS)


def ess_lognormal_proof(closed_form: sp.Expr) -> Proof:
    """ESS_gamma / n = ``closed_form`` (a sympy expression in ``g`` and ``s2``) for log w ~
    N(m, s2), every real m and gamma; and why nothing but log-normal weights gives it."""
    M = _normal_mgf()
    k = sp.symbols("k", real=True)
    stated = closed_form.subs({s2: sigma**2})
    ratio = M(g) ** 2 / M(2 * g)
    # cumulant lemma: coefficient n of 2 K(g) - K(2 g) for K(t) = sum kappa_n t^n / n!
    kappa = sp.symbols("kappa", real=True)
    coeff = 2 * kappa * g**n / sp.factorial(n) - kappa * (2 * g) ** n / sp.factorial(n)
    two_point = sp.cosh(g * sigma) ** 2 / sp.cosh(2 * g * sigma)
    return Proof(
        "ESS closed form (001 theorem 8.2)",
        "log w ~ N(m, s2)  =>  E[w^g]^2 / E[w^(2g)] = closed_form, for every m and g",
        ("log w ~ N(m, sigma^2), sigma > 0, m and gamma real",),
        (
            Step(
                "E[w^k] = int e^{k x} N(x; m, sigma^2) dx = exp(k m + k^2 sigma^2 / 2)",
                "identity",
                M(k) - sp.exp(k * m + k**2 * sigma**2 / 2),
            ),
            Step(
                "ESS_g / n = E[w^g]^2 / E[w^(2g)] equals the stated closed form (log of the "
                "ratio, so m must cancel)",
                "identity",
                sp.expand_log(sp.log(ratio), force=True)
                - sp.expand_log(sp.log(stated), force=True),
            ),
            Step(
                "for any law of log w with cumulant generating function K(t) = sum_n kappa_n "
                "t^n / n!: log(ESS_g / n) = 2 K(g) - K(2 g), whose g^n coefficient is "
                "kappa_n (2 - 2^n) / n!",
                "identity",
                sp.expand_power_base(coeff, force=True)
                - kappa * (2 - 2**n) * g**n / sp.factorial(n),
            ),
            Step(
                "2 - 2^n != 0 for n >= 2, so log(ESS_g / n) = -s2 g^2 near g = 0 forces "
                "kappa_2 = s2 and kappa_n = 0 for n >= 3",
                "positive",
                (2**n - 2).subs(n, n + 1),  # order k = n + 1 >= 2: 2^k - 2 > 0
            ),
            Step(
                "a law whose cumulants of order >= 3 vanish is Gaussian (Marcinkiewicz): the "
                "closed form holds for all small gamma exactly when log w is normal",
                "cited",
            ),
            Step(
                "counterexample family beyond log-normal: log w = +-sigma (probability 1/2), "
                "Var(log w) = sigma^2, ESS_g / n = cosh(g sigma)^2 / cosh(2 g sigma), which "
                "differs from the closed form at g = 1, sigma = 2",
                "nonzero",
                (two_point - stated).subs({g: 1, sigma: 2}),
            ),
        ),
    )


# ------------------------------------------------------------ 001 section 6.1 (Renyi)


def renyi_identity_proof(rhs: Callable[[sp.Expr, sp.Expr], sp.Expr]) -> Proof:
    """E_mu[w^g] = ``rhs(g, D_g(pi||mu))`` for distributions on V points (V symbolic)."""
    p, q = sp.IndexedBase("pi", positive=True), sp.IndexedBase("mu", positive=True)
    P, Q = sp.symbols("P Q", positive=True)  # one summand's pi_i, mu_i
    S = sp.symbols("S", positive=True)  # sum_i pi_i^g mu_i^(1 - g) > 0
    renyi = sp.log(S) / (g - 1)
    moment_sum = sp.Sum(q[i] * (p[i] / q[i]) ** g, (i, 1, V))
    renyi_sum = sp.Sum(p[i] ** g * q[i] ** (1 - g), (i, 1, V))
    # gamma -> 1: D_g -> S'(1) / S(1) with S(1) = sum pi = 1 on supp mu
    dsum = sp.diff(P**g * Q ** (1 - g), g).subs(g, 1)
    half = sp.Rational(1, 2)
    t, u, h = sp.symbols("t u h", positive=True)
    return Proof(
        "Renyi identity (001 theorem 6.2)",
        "E_mu[w^g] = rhs(g, D_g(pi||mu)),  D_g = log(sum pi^g mu^(1-g)) / (g - 1)",
        (
            "pi, mu distributions on V points (V symbolic); the sum over supp mu",
            "g != 1 in the formula (g = 1 by continuity); g > 1 needs pi << mu; g = 0 needs "
            "mu << pi",
        ),
        (
            Step(
                "summand of E_mu[w^g]: mu (pi / mu)^g = pi^g mu^(1 - g) for pi, mu > 0, so "
                "E_mu[w^g] = sum_{supp mu} pi^g mu^(1 - g) = S for every V (linearity)",
                "identity",
                sp.powsimp(
                    sp.expand_power_base(moment_sum.function - renyi_sum.function, force=True),
                    force=True,
                ),
            ),
            Step(
                "rhs(g, log(S) / (g - 1)) = S for S > 0, g != 1",
                "identity",
                rhs(g, renyi) - S,
            ),
            Step(
                "g -> 1: d/dg pi^g mu^(1 - g) at g = 1 is pi log(pi / mu), so D_g -> "
                "S'(1) / S(1) = KL(pi||mu) when sum_{supp mu} pi = 1 (L'Hopital)",
                "identity",
                sp.expand_log(dsum - P * sp.log(P / Q), force=True),
            ),
            Step(
                "a token with mu = 0 < pi: pi^g mu^(1 - g) -> 0 as mu -> 0 for every g in "
                "(0, 1) (g = 1 / (1 + u), u > 0): no support condition there ...",
                "identity",
                sp.limit(P ** (1 / (1 + u)) * t ** (u / (1 + u)), t, 0, "+"),
            ),
            Step(
                "... but -> +inf for every g > 1 (g = 1 + h, h > 0): D_g = inf while E_mu[w^g] "
                "is finite (pi << mu is needed when g > 1)",
                "infinite",
                sp.limit(P ** (1 + h) * t ** (-h), t, 0, "+"),
            ),
            Step(
                "g = 0: E_mu[w^0] = mu(supp mu) = 1 (w^0 = 1, 0^0 = 1) but exp(-D_0) = "
                "mu(supp pi): with mu = (1/2, 1/2), pi = (1, 0) they differ, so g = 0 needs "
                "mu << pi",
                "nonzero",
                sp.Integer(1) - half,
            ),
        ),
    )


# ------------------------------------------------------------- 004 section 6.4 (alpha*)


def alpha_star_proof(balance: Callable[..., sp.Expr] | None = None) -> Proof:
    """Theorem 5: Delta(alpha) = KL(q_alpha||pi_theta) - KL(q_alpha||pi_t) = E_q[d] is strictly
    decreasing; alpha* in (0, 1) exists and is unique iff Delta(0) > 0 > Delta(1).

    ``balance(logq, a, b)``: one summand of the balance function the seed uses (default the
    difference of the two KL summands, q (log q - a) - q (log q - b) / q), as a function of
    log q, a = log pi_theta, b = log pi_t; step 1 checks it equals q d / q = d summand-wise.
    """
    if balance is None:

        def balance(lq, a, b):
            return (lq - a) - (lq - b)

    a, b, lq, L = sp.symbols("a b logq L", real=True)
    dd = sp.symbols("d", real=True)
    # summands of S_k = sum_S e^{b - alpha d} d^k (q_alpha ∝ pi_t e^{-alpha d})
    e = sp.exp(b - alpha * dd)
    S0, S1, S2 = (sp.Function(f"S{k}")(alpha) for k in range(3))
    delta_fn = S1 / S0
    rules = {sp.Derivative(S0, alpha): -S1, sp.Derivative(S1, alpha): -S2}
    var = S2 / S0 - (S1 / S0) ** 2
    c, qi = sp.symbols("c q_i", positive=True)
    return Proof(
        "alpha* existence and uniqueness (004 theorem 5)",
        "Delta(alpha) = KL(q_a||pi_theta) - KL(q_a||pi_t) has exactly one root in (0, 1) iff "
        "Delta(0) > 0 > Delta(1) and d = log(pi_t / pi_theta) is not constant on S",
        (
            "pi_theta, pi_t on V points (V symbolic); S = common support (non-empty)",
            "q_alpha ∝ pi_theta^alpha pi_t^(1 - alpha) on S",
        ),
        (
            Step(
                "with log q = alpha a + (1 - alpha) b - L: the summand of Delta, q [balance], "
                "is q d (d = b - a): log q and L cancel, Delta = E_q[d]",
                "identity",
                sp.expand(balance(alpha * a + (1 - alpha) * b - L, a, b) - (b - a)),
            ),
            Step(
                "d/dalpha of the summand e^{b - alpha d} d^k is -e^{b - alpha d} d^(k+1): "
                "S0' = -S1, S1' = -S2 (every V, linearity)",
                "identity",
                sp.diff(e * dd, alpha) + e * dd**2 + sp.diff(e, alpha) + e * dd,
            ),
            Step(
                "Delta = S1 / S0, so Delta' = -(S2 / S0 - (S1 / S0)^2) = -Var_q(d)",
                "identity",
                sp.diff(delta_fn, alpha).subs(rules) + var,
            ),
            Step(
                "Var_q(d) = sum q (d - Delta)^2 / sum q >= 0 (a sum of squares with q > 0 on "
                "S); = 0 only when d is constant on S",
                "nonnegative",
                qi * (dd - c) ** 2,
            ),
            Step(
                "Delta is continuous on [0, 1] (a ratio of finite sums of exponentials, S0 > "
                "0); with Delta' < 0 the intermediate value theorem gives one root in (0, 1) "
                "exactly when Delta(0) > 0 > Delta(1)",
                "cited",
            ),
            Step(
                "sufficient: with a common full support, Delta(0) = KL(pi_t||pi_theta) and "
                "Delta(1) = -KL(pi_theta||pi_t); each is > 0 for pi_theta != pi_t by Gibbs' "
                "inequality (the next three steps)",
                "identity",
                _delta_endpoint_residual(),
            ),
            *_gibbs_steps(),
            Step(
                "when the condition fails the solver minimises the convex F(alpha) = log S0 "
                "(F' = -Delta, F'' = Var_q(d) >= 0) over [0, 1]: the endpoint",
                "identity",
                sp.diff(sp.log(S0), alpha).subs(rules) + delta_fn,
            ),
        ),
        notes=(
            "not necessary: pi_theta = (.9, .1, 0), pi_t = (.05, .85, .1) have different "
            "supports and a unique alpha* (see alpha_star_support_example)",
        ),
    )


def _gibbs_steps() -> tuple[Step, ...]:
    """KL(p||r) = sum_i r_i f(p_i / r_i) with f(u) = u log u - u + 1 (sum p = sum r = 1), and
    f >= 0 with f = 0 only at u = 1: Gibbs' inequality, in three checked steps."""
    u = sp.symbols("u", positive=True)
    f = u * sp.log(u) - u + 1
    return (
        Step("Gibbs' summand f(u) = u log u - u + 1: f(1) = 0 ...", "identity", f.subs(u, 1)),
        Step("... f'(1) = 0 ...", "identity", sp.diff(f, u).subs(u, 1)),
        Step(
            "... and f''(u) = 1 / u > 0: f is strictly convex, so u = 1 is its strict global "
            "minimum, f >= 0, and a KL is 0 only between equal distributions",
            "positive",
            sp.diff(f, u, 2),
        ),
    )


def _delta_endpoint_residual() -> sp.Expr:
    """Delta(0) - KL(pi_t||pi_theta) summand-wise at alpha = 0 (q_0 = pi_t on a common full
    support): pi_t d - pi_t (b - a) with d = b - a; and at alpha = 1 similarly."""
    a, b = sp.symbols("a b", real=True)
    pt, pth = sp.exp(b), sp.exp(a)
    r0 = pt * (b - a) - pt * sp.log(pt / pth)
    r1 = pth * (b - a) + pth * sp.log(pth / pt)
    return sp.expand_log(r0, force=True) ** 2 + sp.expand_log(r1, force=True) ** 2


def enclose_alpha_star(logits_theta, logits_target, width="1e-40"):
    """:func:`isreshape.reference.certified.optimal_alpha_enclosure`, witnessed for the ledger's
    ``method="certified"``."""
    ledger.witness("certified")
    return certified.optimal_alpha_enclosure(logits_theta, logits_target, width)


def alpha_star_support_example() -> tuple[sp.Expr, sp.Expr]:
    """(Delta(0), Delta(1)) for pi_theta = (9/10, 1/10, 0), pi_t = (1/20, 17/20, 1/10), exact:
    on S = {0, 1}, Delta(0) = E_{pi_t|S}[d] and Delta(1) = E_{pi_theta|S}[d]."""
    pth = [sp.Rational(9, 10), sp.Rational(1, 10)]
    pt = [sp.Rational(1, 20), sp.Rational(17, 20)]
    d = [sp.log(t / th) for th, t in zip(pth, pt)]
    d0 = sum(t * v for t, v in zip(pt, d)) / sum(pt)
    d1 = sum(th * v for th, v in zip(pth, d)) / sum(pth)
    return d0, d1


# --------------------------------------------------------- 004 sections 5.2-5.3 (Pareto)


def pareto_proof(family_log: Callable[..., sp.Expr] | None = None) -> Proof:
    """Theorem 3: the Pareto front of (KL(q||pi_theta), KL(q||pi_t)) is the geometric family.

    ``family_log(alpha, a, b, L)``: log q_alpha of the stated family at one token (a = log
    pi_theta, b = log pi_t, L its normaliser); default the geometric alpha a + (1 - alpha) b - L.
    """
    if family_log is None:

        def family_log(al, a, b, L):
            return al * a + (1 - al) * b - L

    a, b, lq, L = sp.symbols("a b logq L", real=True)
    lqa = family_log(alpha, a, b, L)
    # weights beta, 1 - beta of the two ESS objectives as two positive symbols
    qv, P, T, lam, w1, w2 = sp.symbols("q P T lam w1 w2", positive=True)
    ess_obj = w1 * P / qv + w2 * T / qv + lam * qv
    qb = sp.sqrt((w1 * P + w2 * T) / lam)
    return Proof(
        "Pareto front (004 theorem 3, sections 5.2-5.3)",
        "the Pareto front of (KL(q||pi_theta), KL(q||pi_t)) is {q_alpha: alpha in [0, 1]} and "
        "every q off it is dominated by a member",
        (
            "pi_theta, pi_t with a common full support (finite KLs); V symbolic",
            "q ranges over the simplex on that support",
        ),
        (
            Step(
                "summand: alpha (log q - a) + (1 - alpha)(log q - b) = (log q - log q_alpha) - "
                "L, so alpha KL(q||pi_theta) + (1 - alpha) KL(q||pi_t) = KL(q||q_alpha) - log "
                "Z_alpha (weighted by q, summed, sum q = 1)",
                "identity",
                sp.expand(alpha * (lq - a) + (1 - alpha) * (lq - b) - (lq - lqa) + L),
            ),
            *_gibbs_steps(),
            Step(
                "so KL(q||q_alpha) >= 0 with equality only at q = q_alpha: q_alpha is the "
                "unique minimiser of the weighted sum, hence Pareto optimal (the weighted-sum "
                "identity and Gibbs' inequality above)",
                "cited",
            ),
            Step(
                "both KLs are convex in q, so every Pareto point minimises some weighted sum "
                "with weights (alpha, 1 - alpha), alpha in [0, 1] (supporting hyperplane "
                "theorem): the front is exactly the family",
                "cited",
            ),
            Step(
                "along the family d/dalpha KL(q_alpha||pi_theta) = -(1 - alpha) Var_q(d) <= 0 "
                "(with L' = -m, m' = -Var): KL(q_alpha||pi_theta) decreases from "
                "KL(pi_t||pi_theta) at alpha = 0 to 0 at alpha = 1",
                "identity",
                _kl_theta_derivative_residual(),
            ),
            Step(
                "construction of the dominating member (continuity and the weighted-sum "
                "minimality above): for q off the front take alpha with KL(q_alpha||pi_theta) "
                "= KL(q||pi_theta), or alpha = 0 when KL(q||pi_theta) > KL(pi_t||pi_theta); "
                "then KL(q_alpha||pi_t) <= KL(q||pi_t), strictly when q is not q_alpha. The "
                "ledger's 004-5.2-a computes this member for every test q",
                "cited",
            ),
            Step(
                "ESS front: the stationarity of beta pi_theta^2 / q + (1 - beta) pi_t^2 / q + "
                "lam q at q_b = sqrt((beta pi_theta^2 + (1 - beta) pi_t^2) / lam)",
                "identity",
                sp.diff(ess_obj, qv).subs(qv, qb),
            ),
            Step(
                "... and the objective is strictly convex in q (second derivative 2 (beta P + "
                "(1 - beta) T) / q^3 > 0): q_b is the unique minimiser",
                "positive",
                sp.diff(ess_obj, qv, 2),
            ),
        ),
    )


def _kl_theta_derivative_residual() -> sp.Expr:
    mf, Lf = sp.Function("m")(alpha), sp.Function("L")(alpha)
    var = sp.symbols("Var", nonnegative=True)
    rules = {sp.Derivative(Lf, alpha): -mf, sp.Derivative(mf, alpha): -var}
    # KL(q_alpha||pi_theta) = (1 - alpha) m - L, m = E_q[d], L = log Z_alpha
    return sp.expand(sp.diff((1 - alpha) * mf - Lf, alpha).subs(rules) + (1 - alpha) * var)
