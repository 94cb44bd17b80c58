"""Sympy derivations for the log-normal closed forms of seed 001 (sections 7.2, 8.1-8.3).

Each function returns a sympy object the tests can check (an expression that simplifies to
zero, a solution set, a derivative); nothing here is asserted by hand.
"""

from __future__ import annotations

from functools import lru_cache

import sympy as sp

x, m = sp.symbols("x m", real=True)
sigma = sp.symbols("sigma", positive=True)
gamma = sp.symbols("gamma", real=True)
rho = sp.symbols("rho", positive=True)


@lru_cache(maxsize=1)
def power_moment() -> sp.Expr:
    """E[w^gamma] for log w ~ N(m, sigma^2), by integrating exp(gamma x) against the normal
    density (the moment generating function of the normal evaluated at gamma)."""
    pdf = sp.exp(-((x - m) ** 2) / (2 * sigma**2)) / sp.sqrt(2 * sp.pi * sigma**2)
    return sp.simplify(sp.integrate(sp.exp(gamma * x) * pdf, (x, -sp.oo, sp.oo), conds="none"))


def ess_ratio_from_moments() -> sp.Expr:
    """ESS_gamma / n = E[w^gamma]^2 / E[w^(2 gamma)] (seed 001 Theorem 8.2, first proof line)."""
    return sp.simplify(power_moment() ** 2 / power_moment().subs(gamma, 2 * gamma))


def ess_closed_form_residual() -> sp.Expr:
    """log(E[w^g]^2 / E[w^(2g)]) - (-sigma^2 g^2); zero for every mean m (Theorem 8.2)."""
    return sp.simplify(
        sp.expand_log(sp.log(ess_ratio_from_moments()), force=True) + sigma**2 * gamma**2
    )


def seed_moment_residuals() -> tuple[sp.Expr, sp.Expr]:
    """The two moments the seed prints under Assumption 7.3 (m = -sigma^2 / 2), minus the
    integrals: E[w^g] = exp(sigma^2 g (g - 1) / 2) and E[w^(2g)] = exp(sigma^2 g (2g - 1))."""
    mom = power_moment().subs(m, -(sigma**2) / 2)
    r1 = sp.simplify(sp.log(mom) - sigma**2 * gamma * (gamma - 1) / 2)
    r2 = sp.simplify(sp.log(mom.subs(gamma, 2 * gamma)) - sigma**2 * gamma * (2 * gamma - 1))
    return sp.simplify(sp.expand_log(r1, force=True)), sp.simplify(sp.expand_log(r2, force=True))


def ess_ratio_derivative() -> sp.Expr:
    """d/dgamma exp(-sigma^2 gamma^2) = -2 sigma^2 gamma exp(-sigma^2 gamma^2): <= 0 on gamma >= 0."""
    return sp.diff(sp.exp(-(sigma**2) * gamma**2), gamma)


def gamma_star_solutions() -> list[sp.Expr]:
    """Solutions gamma > 0 of exp(-sigma^2 gamma^2) = rho (the boundary of Theorem 8.3)."""
    g = sp.symbols("g", positive=True)
    return sp.solve(sp.Eq(sp.exp(-(sigma**2) * g**2), rho), g)
