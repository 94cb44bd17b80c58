"""Sympy derivations for seed 002 (IS-Reshape v8), parts 1 and 3: objectives, integrability and
the alpha-divergence correspondence (sections 3, 7 and 8).

Each function returns a sympy object that the tests (tests/test_seed002_proofs.py) and the
claims (proofs/claims/seed_002.py) check: an expression that simplifies to zero, a limit, a
derivative. Nothing here is asserted by hand. The per-design weight shapes (truncation, soft
saturation, mixture, Michaelis-Menten, SAPO) are in proofs/weight_shapes.py.

Conventions of the seed: w = pi_theta / mu > 0, phi(w, A) = w * df/dw (section 3.1), and the
alpha-divergence D_alpha(pi || mu) = (E_mu[w^alpha] - 1) / (alpha (alpha - 1)) (section 7.2).
"""

from __future__ import annotations

from functools import lru_cache

import sympy as sp

w = sp.symbols("w", positive=True)
A = sp.symbols("A", real=True)
gamma = sp.symbols("gamma", real=True, nonzero=True)
alpha = sp.symbols("alpha", real=True)
eps = sp.symbols("epsilon", positive=True)
ell, m = sp.symbols("ell m", real=True)  # ell = log pi_theta, m = log mu


def weight_from_objective(f: sp.Expr) -> sp.Expr:
    """phi = w * df/dw (seed 002 section 3.1): the gradient weight of an objective f(w, A)."""
    return sp.simplify(w * sp.diff(f, w))


# --- section 3.3: the three worked antiderivatives ------------------------------------------


def example_is_residual() -> sp.Expr:
    """Example 1: f = w A gives phi = w A; returns w f' - w A (zero)."""
    return sp.simplify(weight_from_objective(w * A) - w * A)


def example_power_residual() -> sp.Expr:
    """Example 2: f = w^gamma / gamma * A gives phi = w^gamma A (gamma != 0); returns the
    residual w f' - w^gamma A (zero)."""
    return sp.simplify(weight_from_objective(w**gamma / gamma * A) - w**gamma * A)


@lru_cache(maxsize=1)
def example_power_gamma_zero_objective() -> sp.Expr:
    """The gamma = 0 case the seed excludes: phi = A is integrable too, with f = A log w
    (the integral of A / w); returned as the antiderivative sympy finds."""
    return sp.integrate(A / w, w)


def clip_objective_pieces() -> tuple[sp.Expr, sp.Expr, sp.Expr]:
    """Example 3: an antiderivative of clip(w, 1-eps, 1+eps) A / w on the three pieces
    (w < 1-eps, between, w > 1+eps), with constants chosen so that f is continuous and
    f(1) = 0. Returns (f_low, f_mid, f_high)."""
    lo, hi = 1 - eps, 1 + eps
    f_mid = A * (w - 1)
    f_low = A * lo * sp.log(w / lo) + f_mid.subs(w, lo)
    f_high = A * hi * sp.log(w / hi) + f_mid.subs(w, hi)
    return f_low, f_mid, f_high


@lru_cache(maxsize=1)
def clip_objective_residuals() -> tuple[sp.Expr, ...]:
    """w f' - clip(w) A on each piece and the two continuity gaps; all zero."""
    f_low, f_mid, f_high = clip_objective_pieces()
    lo, hi = 1 - eps, 1 + eps
    return (
        sp.simplify(weight_from_objective(f_low) - lo * A),
        sp.simplify(weight_from_objective(f_mid) - w * A),
        sp.simplify(weight_from_objective(f_high) - hi * A),
        sp.simplify(f_low.subs(w, lo) - f_mid.subs(w, lo)),
        sp.simplify(f_high.subs(w, hi) - f_mid.subs(w, hi)),
    )


# --- section 7.1: Box-Cox objective -------------------------------------------------------


def box_cox_objective() -> sp.Expr:
    """f(w, A) = (w^gamma - 1) / gamma * A (section 7.1, h(A) = -A / gamma)."""
    return (w**gamma - 1) / gamma * A


@lru_cache(maxsize=1)
def box_cox_residuals() -> tuple[sp.Expr, sp.Expr]:
    """(w f' - w^gamma A, f(1, A)): both zero."""
    f = box_cox_objective()
    return sp.simplify(weight_from_objective(f) - w**gamma * A), sp.simplify(f.subs(w, 1))


@lru_cache(maxsize=1)
def box_cox_limit_gamma_zero() -> sp.Expr:
    """lim_{gamma -> 0} (w^gamma - 1) / gamma * A = A log w (the SFT objective)."""
    g = sp.symbols("g", real=True)
    return sp.limit((w**g - 1) / g * A, g, 0)


# --- section 7.2-7.3: the alpha-divergence --------------------------------------------------


def alpha_generator() -> sp.Expr:
    """The generator F_alpha(w) = (w^alpha - 1) / (alpha (alpha - 1)), so that
    D_alpha(pi || mu) = E_mu[F_alpha(w)] (section 7.2)."""
    return (w**alpha - 1) / (alpha * (alpha - 1))


@lru_cache(maxsize=1)
def alpha_generator_second_derivative() -> sp.Expr:
    """F_alpha''(w) = w^(alpha - 2) > 0: the generator is convex for every alpha (alpha != 0, 1),
    so D_alpha >= 0 by Jensen (E_mu[w] = 1, F_alpha(1) = 0)."""
    return sp.simplify(sp.diff(alpha_generator(), w, 2))


@lru_cache(maxsize=1)
def alpha_generator_limits() -> tuple[sp.Expr, sp.Expr, sp.Expr]:
    """(lim alpha->0, lim alpha->1, value at alpha = 2) of the centred generator
    (w^alpha - 1 - alpha (w - 1)) / (alpha (alpha - 1)), which has the same mu-expectation as
    F_alpha because E_mu[w - 1] = 0. (F_alpha itself has no pointwise limit at alpha = 1: it
    behaves like (w - 1) / (alpha - 1); only its expectation converges.) The limits are
    w - 1 - log w (so D_0 = E_mu[-log w] = KL(mu || pi), the forward KL),
    w log w - w + 1 (so D_1 = E_mu[w log w] = KL(pi || mu), the reverse KL) and
    (w - 1)^2 / 2 (so D_2 = E_mu[(w - 1)^2] / 2 = chi^2(pi || mu) / 2)."""
    t = sp.symbols("t", real=True)
    Fc = (w**alpha - 1 - alpha * (w - 1)) / (alpha * (alpha - 1))
    return (
        sp.simplify(sp.limit(Fc.subs(alpha, t), t, 0)),
        sp.simplify(sp.limit(Fc.subs(alpha, 1 + t), t, 0)),
        sp.factor(sp.simplify(Fc.subs(alpha, 2))),
    )


@lru_cache(maxsize=1)
def alpha_generator_pole_at_one() -> sp.Expr:
    """The coefficient of 1 / (alpha - 1) in the Laurent series of F_alpha(w) at alpha = 1:
    w - 1 (nonzero), so D_alpha's limit at 1 exists only in expectation."""
    t = sp.symbols("t", real=True)
    return sp.simplify(sp.residue(alpha_generator().subs(alpha, 1 + t), t, 0))


@lru_cache(maxsize=1)
def alpha_gradient_weight() -> sp.Expr:
    """The gradient weight of D_alpha: d/dtheta E_mu[F(w)] = E_mu[w F'(w) grad log pi], and
    w F_alpha'(w) = w^alpha / (alpha - 1) (section 7.2, 'gradient structure')."""
    return sp.simplify(w * sp.diff(alpha_generator(), w))


@lru_cache(maxsize=1)
def box_cox_minus_alpha_generator() -> sp.Expr:
    """f_gamma / A - (gamma - 1) F_gamma = 0: the Box-Cox objective is (gamma - 1) times the
    alpha = gamma generator, so E_mu[f] = A (gamma - 1) D_gamma(pi || mu) for a constant A."""
    return sp.simplify(box_cox_objective() / A - (gamma - 1) * alpha_generator().subs(alpha, gamma))


@lru_cache(maxsize=1)
def generator_from_power_weight() -> sp.Expr:
    """The converse of section 7.2: every F with w F'(w) = c w^gamma (gamma != 0) is
    c w^gamma / gamma + const; returned as dsolve's general solution for F."""
    F = sp.Function("F")
    c = sp.symbols("c", real=True)
    sol = sp.dsolve(sp.Eq(w * F(w).diff(w), c * w**gamma), F(w))
    return sp.simplify(sol.rhs)


# --- appendix B and section 10.3: what autograd differentiates ------------------------------


@lru_cache(maxsize=1)
def code_loss_gradient_weight() -> sp.Expr:
    """GradientWeightDesign computes loss = -mean(phi) with phi = w^gamma A; autograd gives
    d(-phi)/d(log pi) = -w d phi / dw, so the weight on grad log pi is w phi'(w) = gamma w^gamma A
    (not phi). Returned: d/d ell of exp(gamma (ell - m)) A, with ell = log pi, m = log mu."""
    wl = sp.exp(ell - m)
    return sp.simplify(sp.diff(wl**gamma * A, ell))


@lru_cache(maxsize=1)
def sft_loss_gradient_weight() -> sp.Expr:
    """Section 10.3 / SFTGradientWeight: L = -w^gamma log pi with w = exp(ell - m) not detached.
    The weight on grad log pi of -dL/d ell is w^gamma (1 + gamma ell): negative once
    ell = log pi < -1 / gamma."""
    wl = sp.exp(gamma * (ell - m))
    return sp.factor(sp.simplify(sp.diff(wl * ell, ell)))


@lru_cache(maxsize=1)
def all_residuals() -> dict[str, sp.Expr]:
    """Every residual of this module that must simplify to zero (for the tests)."""
    out = {
        "example_is": example_is_residual(),
        "example_power": example_power_residual(),
        "box_cox_weight": box_cox_residuals()[0],
        "box_cox_at_1": box_cox_residuals()[1],
        "box_cox_vs_alpha": box_cox_minus_alpha_generator(),
        "gamma0_limit": sp.simplify(box_cox_limit_gamma_zero() - A * sp.log(w)),
        "alpha_grad_weight": sp.simplify(alpha_gradient_weight() - w**alpha / (alpha - 1)),
    }
    for i, r in enumerate(clip_objective_residuals()):
        out[f"clip_{i}"] = r
    return out
