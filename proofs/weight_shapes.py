"""Sympy derivations for the shapes of seed 002's weight designs (sections 5, 6, 8, 9, 10):
power, truncation, the two printed soft saturations, the mixture, Michaelis-Menten and SAPO.

Every function returns a sympy object (a derivative, a limit, a solution) that
tests/test_seed002_proofs.py and proofs/claims/seed_002.py check. Weights are written per unit
advantage, phi(w, A) / A, as functions of w > 0.
"""

from __future__ import annotations

from functools import lru_cache

import sympy as sp

w = sp.symbols("w", positive=True)
u = sp.symbols("u", positive=True)  # u = w^gamma
gamma = sp.symbols("gamma", positive=True)
tau = sp.symbols("tau", positive=True)
lam = sp.symbols("lambda", positive=True)
w_th = sp.symbols("w_th", positive=True)


# --- power w^gamma (sections 4, 6.3) -----------------------------------------------------


@lru_cache(maxsize=1)
def power_derivatives() -> tuple[sp.Expr, sp.Expr]:
    """(d/dw, d^2/dw^2) of w^gamma: gamma w^(gamma-1) and gamma (gamma-1) w^(gamma-2)."""
    p = w**gamma
    return sp.simplify(sp.diff(p, w)), sp.factor(sp.simplify(sp.diff(p, w, 2)))


# --- Michaelis-Menten (sections 5.4, 9.2, 10.2) ------------------------------------------


def michaelis_menten() -> sp.Expr:
    """phi(w) = (1 + tau) w / (tau + w)."""
    return (1 + tau) * w / (tau + w)


@lru_cache(maxsize=1)
def michaelis_menten_facts() -> dict[str, sp.Expr]:
    """Value at 1, first and second derivative, limit at infinity, slope at 0 and at 1."""
    p = michaelis_menten()
    d1 = sp.factor(sp.simplify(sp.diff(p, w)))
    d2 = sp.factor(sp.simplify(sp.diff(p, w, 2)))
    return {
        "at_1": sp.simplify(p.subs(w, 1)),
        "d1": d1,
        "d2": d2,
        "limit_inf": sp.limit(p, w, sp.oo),
        "slope_0": sp.simplify(d1.subs(w, 0)),
        "slope_1": sp.simplify(d1.subs(w, 1)),
        "inflection_points": sp.solve(sp.Eq(sp.numer(sp.together(d2)), 0), w),
    }


# --- soft saturation as printed in section 5.4 (scheme 2) ---------------------------------


def soft_saturation_54_upper() -> sp.Expr:
    """Scheme 2 of section 5.4 on its saturating branch u = w^gamma >= 1:
    u / (1 + lambda (u - 1)). (Below, u < 1, it is u itself.)"""
    return u / (1 + lam * (u - 1))


@lru_cache(maxsize=1)
def soft_saturation_54_facts() -> dict[str, sp.Expr]:
    """d/du on the upper branch ((1 - lambda) / (1 + lambda (u - 1))^2: increasing iff
    lambda < 1, constant at lambda = 1, decreasing for lambda > 1), the limit u -> infinity
    (1 / lambda), the value at u = 1 (1, continuous with the lower branch), and the right-hand
    slope in w at w = 1 (gamma (1 - lambda), against gamma from the left)."""
    h = soft_saturation_54_upper()
    dh = sp.factor(sp.simplify(sp.diff(h, u)))
    right_slope_w = sp.simplify(sp.diff(h.subs(u, w**gamma), w).subs(w, 1))
    return {
        "d_du": dh,
        "limit_inf": sp.limit(h, u, sp.oo),
        "at_1": sp.simplify(h.subs(u, 1)),
        "right_slope_w1": sp.factor(right_slope_w),
    }


# --- soft saturation as printed in section 9.2 ----------------------------------------------


def soft_saturation_92_upper() -> sp.Expr:
    """Section 9.2 for w >= w_th: w^gamma / (1 + lambda (w - w_th))."""
    return w**gamma / (1 + lam * (w - w_th))


@lru_cache(maxsize=1)
def soft_saturation_92_facts() -> dict[str, sp.Expr]:
    """The growth exponent at infinity (phi ~ w^(gamma-1) / lambda: the limit of
    phi / w^(gamma-1) is 1 / lambda, so phi -> infinity for gamma > 1), the right-hand slope at
    w_th (w_th^(gamma-1) (gamma - lambda w_th): negative when lambda w_th > gamma), and the
    stationary point (the local minimum) of the upper branch."""
    h = soft_saturation_92_upper()
    dh = sp.diff(h, w)
    num = sp.factor(sp.simplify(dh * (1 + lam * (w - w_th)) ** 2 / w ** (gamma - 1)))
    return {
        "ratio_limit": sp.limit(h / w ** (gamma - 1), w, sp.oo),
        "right_slope_wth": sp.factor(sp.simplify(dh.subs(w, w_th))),
        "slope_numerator": num,
        "stationary": sp.solve(sp.Eq(num, 0), w),
    }


# --- mixture (section 9.3) ------------------------------------------------------------------


def mixture() -> sp.Expr:
    """beta(w) w^gamma + (1 - beta(w)) w with beta(w) = sigmoid(-lambda (w - w_th))."""
    beta = 1 / (1 + sp.exp(lam * (w - w_th)))
    return beta * w**gamma + (1 - beta) * w


@lru_cache(maxsize=1)
def mixture_facts() -> dict[str, sp.Expr]:
    """Value at 1 (1), slope at 1 (1 + beta(1) (gamma - 1)), phi / w at infinity (1: linear
    growth, unbounded) and the derivative (for numerical monotonicity scans)."""
    p = mixture()
    d1 = sp.diff(p, w)
    beta1 = 1 / (1 + sp.exp(lam * (1 - w_th)))
    return {
        "at_1": sp.simplify(p.subs(w, 1)),
        "slope_1_residual": sp.simplify(d1.subs(w, 1) - (1 + beta1 * (gamma - 1))),
        "ratio_limit_inf": sp.limit(
            (p / w).subs({gamma: sp.Rational(3, 2), lam: 1, w_th: 3}), w, sp.oo
        ),
        "d1": d1,
    }


# --- SAPO (sections 6.2 and 8) -----------------------------------------------------------


def sapo_objective() -> sp.Expr:
    """The function the seed prints as phi_SAPO (section 8.1): sigmoid(tau (w - 1)) * 4 / tau.
    In SAPO it is the surrogate objective f(w) (the loss is -f(w) A)."""
    return 4 / tau / (1 + sp.exp(-tau * (w - 1)))


@lru_cache(maxsize=1)
def sapo_gradient_weight() -> sp.Expr:
    """w * f'(w) for the SAPO objective (the seed's own rule phi = w df/dw of section 3.1):
    4 w sigma(tau (w - 1)) (1 - sigma(tau (w - 1))), written with exponentials."""
    return sp.simplify(w * sp.diff(sapo_objective(), w))


@lru_cache(maxsize=1)
def sapo_weight_residual() -> sp.Expr:
    """w f' - 4 w s (1 - s) with s = sigmoid(tau (w - 1)): zero."""
    s = 1 / (1 + sp.exp(-tau * (w - 1)))
    return sp.simplify((sapo_gradient_weight() - 4 * w * s * (1 - s)).rewrite(sp.exp))


@lru_cache(maxsize=1)
def sapo_printed_integrand_second_derivative() -> sp.Expr:
    """F''(w) for F(w) = integral of phi_printed(w) / w (section 8.1): the convexity test of
    the objective that the printed phi integrates to."""
    g = sapo_objective() / w
    return sp.simplify(sp.diff(g, w))


def sapo_gates() -> tuple[sp.Expr, sp.Expr]:
    """(gate_pos, gate_neg) of section 6.2: 2 sigmoid(-tau (w - 1)), 2 sigmoid(tau (w - 1))."""
    return 2 / (1 + sp.exp(tau * (w - 1))), 2 / (1 + sp.exp(-tau * (w - 1)))


@lru_cache(maxsize=1)
def sapo_gate_derivatives() -> tuple[sp.Expr, sp.Expr]:
    """d/dw of the two gates: negative (gate_pos) and positive (gate_neg) for tau > 0."""
    gp, gn = sapo_gates()
    return sp.simplify(sp.diff(gp, w)), sp.simplify(sp.diff(gn, w))
