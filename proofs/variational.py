"""Sympy derivations for seed 000 (IS Reshape v2.1, variational principle).

Each function returns a sympy object (a residual that must be 0, a derivative, a solution, a
limit) for the claims in ``proofs/claims/seed_000.py`` and the notebook; nothing is asserted
here. Symbols: w > 0 the ratio, a = |A| > 0, lam > 0, phi in (0, 1), alpha > 0, C > 0.
"""

from __future__ import annotations

from functools import lru_cache

import sympy as sp

w = sp.symbols("w", positive=True)
a, lam, alpha, c_max, f = sp.symbols("a lambda alpha C_max f", positive=True)
phi = sp.symbols("phi", positive=True)
gb = sp.symbols("gamma_base", real=True)
l = sp.symbols("l", real=True)  # noqa: E741  (log w)
p, q = sp.symbols("p q", positive=True)  # sigma(log w T), sigma(A T)


def sigmoid(x: sp.Expr) -> sp.Expr:
    return 1 / (1 + sp.exp(-x))


def phi_piecewise_vs_unified() -> tuple[sp.Expr, sp.Expr]:
    """Section 2.3: 1/(1+w) - 1/(1+w^1) and w/(1+w) - 1/(1+w^-1); both simplify to 0."""
    return (
        sp.simplify(1 / (1 + w) - 1 / (1 + w**1)),
        sp.simplify(w / (1 + w) - 1 / (1 + w ** (-1))),
    )


def phi_sigmoid_identity() -> tuple[sp.Expr, sp.Expr]:
    """1/(1 + w^s) - sigma(-s log w) for s = +1 and s = -1 (sections 2.3 vs 7.1): both 0, so the
    "corrected" marginal utility of section 7.1 is the section 2.3 one."""
    return tuple(sp.simplify(1 / (1 + w**s) - sigmoid(-s * sp.log(w))) for s in (1, -1))  # type: ignore[return-value]


def phi_limits() -> dict[str, sp.Expr]:
    """Limits of phi = 1/(1+w) (A > 0) and w/(1+w) (A < 0) at w -> 0+, 1, inf (sections 2.3,
    5.2)."""
    pos, neg = 1 / (1 + w), w / (1 + w)
    return {
        "A>0, w->0": sp.limit(pos, w, 0, "+"),
        "A>0, w->1": sp.limit(pos, w, 1),
        "A>0, w->oo": sp.limit(pos, w, sp.oo),
        "A<0, w->0": sp.limit(neg, w, 0, "+"),
        "A<0, w->1": sp.limit(neg, w, 1),
        "A<0, w->oo": sp.limit(neg, w, sp.oo),
    }


def phi_derivative_positive_a() -> sp.Expr:
    """d/dw 1/(1 + w) = -1/(1 + w)^2 (appendix A monotonicity for A > 0)."""
    return sp.simplify(sp.diff(1 / (1 + w), w))


def phi_symmetry_residual() -> sp.Expr:
    """phi(w, A > 0) - phi(1/w, A < 0) = 1/(1+w) - (1/w)/(1 + 1/w): 0 (appendix A symmetry)."""
    return sp.simplify(1 / (1 + w) - (1 / w) / (1 + 1 / w))


def lagrangian() -> sp.Expr:
    """Pointwise Lagrangian of section 3.1 (A^2 = a^2): f a phi - lam f^2 a^2."""
    return f * a * phi - lam * f**2 * a**2


def lagrangian_sign_residual() -> sp.Expr:
    """E[U] - lam (E[C] - C_max) minus the printed L = E[U - lam C] + lam C_max: 0."""
    u, cost = sp.symbols("U C", real=True)
    return sp.simplify((u - lam * (cost - c_max)) - ((u - lam * cost) + lam * c_max))


def first_order_condition() -> sp.Expr:
    """d L / d f (section 3.2)."""
    return sp.diff(lagrangian(), f)


def second_derivative() -> sp.Expr:
    """d^2 L / d f^2 = -2 lam a^2 < 0: the stationary point is the maximum."""
    return sp.diff(lagrangian(), f, 2)


def optimal_f() -> list[sp.Expr]:
    """Solutions of the first-order condition (section 3.3)."""
    return sp.solve(sp.Eq(first_order_condition(), 0), f)


def f_star_substituted_residual() -> sp.Expr:
    """Section 3.4: phi/(2 lam a) with phi = 1/(1 + u) minus 1/(2 lam a (1 + u)): 0."""
    u = sp.symbols("u", positive=True)
    return sp.simplify((1 / (1 + u)) / (2 * lam * a) - 1 / (2 * lam * a * (1 + u)))


def gamma_expansion_residual() -> sp.Expr:
    """Section 4.2: log(1/(2 lam a (1 + u))) - (-log(2 lam a) - log(1 + u)): 0."""
    u = sp.symbols("u", positive=True)
    lhs = sp.log(1 / (2 * lam * a * (1 + u)))
    rhs = -sp.log(2 * lam * a) - sp.log(1 + u)
    return sp.simplify(sp.expand_log(lhs - rhs, force=True))


def gamma_raw(sign: int) -> sp.Expr:
    """Unclipped gamma* of Theorem 4.1: (-log alpha - log(1 + w^sign)) / log w."""
    return (-sp.log(alpha) - sp.log(1 + w**sign)) / sp.log(w)


def gamma_raw_sign_difference() -> sp.Expr:
    """gamma_raw(A < 0) - gamma_raw(A > 0): simplifies to 1 (the two signs differ by exactly 1)."""
    return sp.simplify(sp.expand_log(gamma_raw(-1) - gamma_raw(1), force=True))


@lru_cache(maxsize=1)
def gamma_raw_limits() -> dict[str, sp.Expr]:
    """Limits of the unclipped gamma* (fixed alpha) in the four asymptotic regimes of 4.3."""
    return {
        "case 1 (A>0, w->oo)": sp.limit(gamma_raw(1), w, sp.oo),
        "case 2 (A<0, w->oo)": sp.limit(gamma_raw(-1), w, sp.oo),
        "case 3 (A>0, w->0+)": sp.limit(gamma_raw(1), w, 0, "+"),
        "case 4 (A<0, w->0+)": sp.limit(gamma_raw(-1), w, 0, "+"),
    }


def gamma_raw_case3_small_w() -> sp.Expr:
    """The leading term the seed keeps in case 3: -log(alpha) / log(w) (log(1+w) ~ 0); for
    0 < w < 1 and alpha < 1 its sign is that of log(alpha) / |log w| < 0."""
    return -sp.log(alpha) / sp.log(w)


def g_identity_residual() -> sp.Expr:
    """Section 6.2: 1 - 1/(1 + u) - u/(1 + u): 0."""
    u = sp.symbols("u", positive=True)
    return sp.simplify(1 - 1 / (1 + u) - u / (1 + u))


def section_7_4_simplification_residual() -> sp.Expr:
    """Section 7.4: gb phi + 1 (1-phi) I + 0 (1-phi)(1-I) - (gb phi + (1-phi) I): 0."""
    ind = sp.symbols("I", real=True)
    full = gb * phi + 1 * (1 - phi) * ind + 0 * (1 - phi) * (1 - ind)
    return sp.simplify(full - (gb * phi + (1 - phi) * ind))


def case_probabilities() -> dict[str, sp.Expr]:
    """The section 10 code's case probabilities with p = P(w > 1), q = P(A > 0)."""
    return {"P1": p * q, "P2": p * (1 - q), "P3": (1 - p) * q, "P4": (1 - p) * (1 - q)}


def section_8_3_rewrite_residual() -> sp.Expr:
    """gb + (1 - gb) P4 - gb P1 - (gb (P2 + P3) + P4): 0 when P1..P4 are the code's four
    products (they sum to 1). This is the algebra of 8.3's "equivalently" line."""
    c = case_probabilities()
    return sp.simplify(
        gb + (1 - gb) * c["P4"] - gb * c["P1"] - (gb * (c["P2"] + c["P3"]) + c["P4"])
    )


def code_comment_residual() -> sp.Expr:
    """Section 10 comment: 0 P1 + gb P2 + gb P3 + 1 P4 - (gb (P2 + P3) + 1 P4): 0."""
    c = case_probabilities()
    lhs = 0 * c["P1"] + gb * c["P2"] + gb * c["P3"] + 1 * c["P4"]
    return sp.simplify(lhs - (gb * (c["P2"] + c["P3"]) + c["P4"]))


def variance_budget_residual() -> sp.Expr:
    """Appendix B: (phi / (2 lam a))^2 a^2 - phi^2 / (4 lam^2): 0."""
    return sp.simplify((phi / (2 * lam * a)) ** 2 * a**2 - phi**2 / (4 * lam**2))


def lambda_solutions() -> list[sp.Expr]:
    """Positive solutions lam of E[phi^2] / (4 lam^2) = C_max (E[phi^2] as the symbol phi^2)."""
    m2 = sp.symbols("m2", positive=True)
    return sp.solve(sp.Eq(m2 / (4 * lam**2), c_max), lam)


def lambda_closed_form_residual() -> sp.Expr:
    """The unique positive solution minus (1/2) sqrt(E[phi^2] / C_max): 0."""
    m2 = sp.symbols("m2", positive=True)
    sols = lambda_solutions()
    return sp.simplify(sols[0] - sp.sqrt(m2 / c_max) / 2) if len(sols) == 1 else sp.nan
