"""Sympy steps for seed 001 sections 2, 5, 6 and 7 (Renyi divergence, the geometric path, the
bias of Definition 7.1 and the log-normal variance). Each function returns a sympy object that
a claim or test checks (a residual that simplifies to zero, a solution, a derivative)."""

from __future__ import annotations

from functools import lru_cache

import sympy as sp

from isreshape.proofs import lognormal

alpha = sp.symbols("alpha", positive=True)
tau = sp.symbols("tau", positive=True)
g = lognormal.gamma
sigma = lognormal.sigma
m = lognormal.m

# a two-outcome discrete model: P = (p, 1 - p), Q = (q, 1 - q)
p, q = sp.symbols("p q", positive=True)


def renyi_lognormal() -> sp.Expr:
    """D_alpha(pi || mu) = log E_mu[w^alpha] / (alpha - 1) under Assumption 7.3 (m = -s^2/2)."""
    mom = lognormal.power_moment().subs({m: -(sigma**2) / 2, g: alpha})
    return sp.simplify(sp.expand_log(sp.log(mom), force=True) / (alpha - 1))


def renyi_variance_residual() -> sp.Expr:
    """Theorem 6.3 under Assumption 7.3: log E[w^(2g)] - (2g - 1) D_(2g); zero."""
    mom = lognormal.power_moment().subs({m: -(sigma**2) / 2, g: 2 * g})
    d2g = renyi_lognormal().subs(alpha, 2 * g)
    return sp.simplify(sp.expand_log(sp.log(mom), force=True) - (2 * g - 1) * d2g)


def renyi_two_point() -> sp.Expr:
    """log(sum p^alpha q^(1 - alpha)) / (alpha - 1) for two outcomes."""
    s = p**alpha * q ** (1 - alpha) + (1 - p) ** alpha * (1 - q) ** (1 - alpha)
    return sp.log(s) / (alpha - 1)


def renyi_kl_limit_residual() -> sp.Expr:
    """Corollary 6.4 (1): d/d alpha log(sum p^a q^(1-a)) at alpha = 1 minus KL(P || Q); zero,
    so the 0/0 limit of D_alpha at alpha = 1 (L'Hopital) is the KL divergence."""
    s = p**alpha * q ** (1 - alpha) + (1 - p) ** alpha * (1 - q) ** (1 - alpha)
    d = sp.diff(sp.log(s), alpha).subs(alpha, 1)
    kl = p * sp.log(p / q) + (1 - p) * sp.log((1 - p) / (1 - q))
    return sp.simplify(sp.expand_log(d - kl, force=True))


def variance_derivative_residual() -> sp.Expr:
    """Corollary 7.5: dV/dg - V s^2 (4 g - 1) for V = exp(s^2 g (2 g - 1)); zero."""
    v = sp.exp(sigma**2 * g * (2 * g - 1))
    return sp.simplify(sp.diff(v, g) - v * sigma**2 * (4 * g - 1))


def variance_minimiser_general_mean() -> list[sp.Expr]:
    """Stationary points of E[w^(2g)] = exp(2 g m + 2 g^2 s^2) for log w ~ N(m, s^2): the
    minimiser is g = -m / (2 s^2), which is 1/4 only when m = -s^2 / 2."""
    return sp.solve(sp.diff(2 * g * m + 2 * g**2 * sigma**2, g), g)


def theorem_7_4_exponent_residual() -> sp.Expr:
    """The proof line of Theorem 7.4: 2g(-s^2/2) + (2g)^2 s^2 / 2 - s^2 g (2g - 1); zero."""
    return sp.expand(
        2 * g * (-(sigma**2) / 2) + (2 * g) ** 2 * sigma**2 / 2 - sigma**2 * g * (2 * g - 1)
    )


@lru_cache(maxsize=1)
def theorem_2_2_residual() -> sp.Expr:
    """KL(pi || p*) - (-H(pi) - E_pi[r] / tau + log Z) for three outcomes with symbolic
    probabilities and rewards, p* = exp(r / tau) / Z; zero (Theorem 2.2's proof)."""
    a, b = sp.symbols("a b", positive=True)
    r = sp.symbols("r1:4", real=True)
    pi = (a, b, 1 - a - b)
    z = sum(sp.exp(ri / tau) for ri in r)
    kl = sum(pi_i * (sp.log(pi_i) - (r_i / tau - sp.log(z))) for pi_i, r_i in zip(pi, r))
    rhs = (
        sum(pi_i * sp.log(pi_i) for pi_i in pi)
        - sum(pi_i * r_i for pi_i, r_i in zip(pi, r)) / tau
        + sp.log(z)
    )
    return sp.simplify(sp.expand(kl - rhs))


def theorem_5_2_first_order() -> sp.Expr:
    """Theorem 5.2's first-order condition solved for log p:
    (1-g)(log p - log mu + 1) + g (log p - log p* + 1) + lambda = 0."""
    lp, lmu, lps, lam = sp.symbols("logp logmu logpstar lambda", real=True)
    eq = (1 - g) * (lp - lmu + 1) + g * (lp - lps + 1) + lam
    return sp.solve(sp.Eq(eq, 0), lp)[0]


def bias_decomposition_residual() -> sp.Expr:
    """Theorem 7.2's proof: KL(p* || p_g) - ((1 - g) KL(p* || mu) + log Z_g), two outcomes,
    p* = (p, 1 - p), mu = (q, 1 - q), p_g ~ mu^(1-g) p*^g; zero."""
    za = q ** (1 - g) * p**g + (1 - q) ** (1 - g) * (1 - p) ** g
    pg = (q ** (1 - g) * p**g / za, (1 - q) ** (1 - g) * (1 - p) ** g / za)
    kl = p * sp.log(p / pg[0]) + (1 - p) * sp.log((1 - p) / pg[1])
    kl_mu = p * sp.log(p / q) + (1 - p) * sp.log((1 - p) / (1 - q))
    return sp.simplify(sp.expand_log(kl - ((1 - g) * kl_mu + sp.log(za)), force=True))


def bias_derivative_at_one() -> sp.Expr:
    """d/dg KL(p* || p_g) at g = 1 (two outcomes): zero, so 'dBias/dg < 0' fails at g = 1."""
    za = q ** (1 - g) * p**g + (1 - q) ** (1 - g) * (1 - p) ** g
    kl_mu = p * sp.log(p / q) + (1 - p) * sp.log((1 - p) / (1 - q))
    bias = (1 - g) * kl_mu + sp.log(za)
    return sp.simplify(sp.expand_log(sp.diff(bias, g).subs(g, 1), force=True))
