"""Sympy derivations for seed 003 (IS Reshape v5, soft trust region).

Each function returns a sympy object that the ledger and the tests check (an expression that
should simplify to zero, a limit, a derivative); nothing is asserted here.
"""

from __future__ import annotations

from functools import lru_cache

import sympy as sp

w, tau, tau_c = sp.symbols("w tau tau_c", positive=True)
x, s, C, A = sp.symbols("x s C A", real=True)
gamma, gamma_base, gamma_max = sp.symbols("gamma gamma_base gamma_max", nonnegative=True)
theta, mu = sp.symbols("theta mu", positive=True)


def h_expr(w_=w, tau_=tau) -> sp.Expr:
    """h(w) = sech^2(tau (w - 1) / 2) (section 3.1)."""
    return sp.sech(tau_ * (w_ - 1) / 2) ** 2


def wh_expr() -> sp.Expr:
    return w * h_expr()


def g_gamma_expr() -> sp.Expr:
    """g_gamma(w) = (1 - gamma) + gamma w h(w) (section 3.3)."""
    return (1 - gamma) + gamma * wh_expr()


def f_gamma_expr(w_=w) -> sp.Expr:
    """Part 7 boxed objective f_gamma(w) = (1 - gamma) log w + gamma (2/tau) tanh(tau (w-1)/2)."""
    return (1 - gamma) * sp.log(w_) + gamma * 2 / tau * sp.tanh(tau * (w_ - 1) / 2)


def gamma_adaptive_expr(w_=w) -> sp.Expr:
    """gamma(w, A) = gamma_base + (gamma_max - gamma_base) sigmoid(-A log w / tau_c) (4.3)."""
    return gamma_base + (gamma_max - gamma_base) / (1 + sp.exp(A * sp.log(w_) / tau_c))


def sech2_exponential_form_residual() -> sp.Expr:
    """sech^2(x) - 4 / (e^x + e^-x)^2 (section 3.1's second form); simplifies to 0."""
    return sp.simplify((sp.sech(x) ** 2 - 4 / (sp.exp(x) + sp.exp(-x)) ** 2).rewrite(sp.exp))


def h_at_one() -> sp.Expr:
    return sp.simplify(h_expr().subs(w, 1))


@lru_cache(maxsize=1)
def h_limits() -> dict[str, sp.Expr]:
    """h at w -> 0+, w -> oo; h as tau -> 0 and as tau -> oo for w != 1 (w = 2)."""
    return {
        "w->0": sp.simplify(sp.limit(h_expr(), w, 0, "+")),
        "w->oo": sp.limit(h_expr(), w, sp.oo),
        "tau->0": sp.limit(h_expr(), tau, 0, "+"),
        "tau->oo (w=2)": sp.limit(h_expr(sp.Integer(2)), tau, sp.oo),
        "tau->oo (w=1/2)": sp.limit(h_expr(sp.Rational(1, 2)), tau, sp.oo),
    }


def h_log_symmetry_residual() -> sp.Expr:
    """h(w) - h(1/w): zero for every w iff h were symmetric about log w = 0 (section 3.1)."""
    return h_expr() - h_expr(1 / w)


def h_w_symmetry_residual() -> sp.Expr:
    """h(1 + d) - h(1 - d): h is symmetric about w = 1 in w (zero)."""
    d = sp.symbols("d", real=True)
    return sp.simplify((h_expr(1 + d) - h_expr(1 - d)).rewrite(sp.exp))


def dwh_dw_factored_residual() -> sp.Expr:
    """d(w h)/dw - h (1 - w tau tanh(tau (w - 1) / 2)); zero, so the maximiser solves
    w tau tanh(tau (w - 1) / 2) = 1."""
    lhs = sp.diff(wh_expr(), w)
    rhs = h_expr() * (1 - w * tau * sp.tanh(tau * (w - 1) / 2))
    return sp.simplify((lhs - rhs).rewrite(sp.exp))


def dh_dtau() -> sp.Expr:
    """dh/dtau = -(w - 1) tanh(tau (w - 1) / 2) h(w) <= 0 (larger tau is stricter)."""
    return sp.diff(h_expr(), tau)


def dh_dtau_residual() -> sp.Expr:
    return sp.simplify(
        (dh_dtau() + (w - 1) * sp.tanh(tau * (w - 1) / 2) * h_expr()).rewrite(sp.exp)
    )


def tanh_antiderivative_residual() -> sp.Expr:
    """d/dw [(2/tau) tanh(tau (w - 1) / 2)] - sech^2(tau (w - 1) / 2) (part 7); zero."""
    return sp.simplify(
        (sp.diff(2 / tau * sp.tanh(tau * (w - 1) / 2), w) - h_expr()).rewrite(sp.exp)
    )


def f_prime_times_w_residual() -> sp.Expr:
    """w f_gamma'(w) - g_gamma(w) with gamma constant (part 7); zero."""
    return sp.simplify((w * sp.diff(f_gamma_expr(), w) - g_gamma_expr()).rewrite(sp.exp))


def f_prime_solution_residual() -> sp.Expr:
    """Part 7's middle step: f'(w) = (1 - gamma)/w + gamma h(w) solves f'(w) w = g_gamma."""
    fp = (1 - gamma) / w + gamma * h_expr()
    return sp.simplify(fp * w - g_gamma_expr())


def objective_gradient_sign() -> sp.Expr:
    """d/dtheta f(w) for w = exp(theta) / mu (log pi_theta = theta, mu fixed), divided by
    f'(w) w d(log pi)/dtheta: +1, so grad E_mu[f(w) A] = +E_mu[f'(w) w A grad log pi]
    (part 7 prints a minus sign)."""
    f = sp.Function("f")
    wt = sp.exp(theta) / mu
    lhs = sp.diff(f(wt), theta)
    fprime = sp.Subs(sp.Derivative(f(x), x), x, wt).doit()
    return sp.simplify(lhs / (fprime * wt * sp.diff(theta, theta)))


def adaptive_objective_residual() -> sp.Expr:
    """w d/dw [f_gamma(w) with gamma = gamma(w, A)] - g(w, A), unsimplified (sympy's simplify
    is slow on it); evaluate it with :func:`adaptive_residual_at`. It equals
    :func:`adaptive_objective_extra_term`, w gamma'(w) ((2/tau) tanh(tau (w-1)/2) - log w),
    which is nonzero whenever gamma depends on w."""
    g_w = gamma_adaptive_expr()
    f = f_gamma_expr().subs(gamma, g_w)
    g_full = (1 - g_w) + g_w * wh_expr()
    return w * sp.diff(f, w) - g_full


def adaptive_objective_extra_term() -> sp.Expr:
    g_w = gamma_adaptive_expr()
    return w * sp.diff(g_w, w) * (2 / tau * sp.tanh(tau * (w - 1) / 2) - sp.log(w))


def adaptive_residual_at(point: dict, digits: int = 30) -> tuple[sp.Float, sp.Float]:
    """(residual, residual - extra term) evaluated exactly at a rational point."""
    r = adaptive_objective_residual().subs(point)
    e = adaptive_objective_extra_term().subs(point)
    return sp.N(r, digits), sp.N(r - e, digits)


def sapo_objective_residual() -> sp.Expr:
    """w d/dw [(4/tau) sigmoid(tau (w - 1))] - w h(w): zero, so w h(w) is the gradient weight
    of the SAPO-form gate (4/tau) sigmoid(tau (w - 1)) (section 3.2)."""
    sapo = 4 / tau / (1 + sp.exp(-tau * (w - 1)))
    return sp.simplify((w * sp.diff(sapo, w) - wh_expr()).rewrite(sp.exp))


def sapo_minus_f1() -> sp.Expr:
    """(4/tau) sigmoid(tau (w - 1)) - f_1(w): the constant 2 / tau (part 7's gamma = 1 end)."""
    sapo = 4 / tau / (1 + sp.exp(-tau * (w - 1)))
    return sp.simplify((sapo - f_gamma_expr().subs(gamma, 1)).rewrite(sp.exp))


def dgamma_dC() -> sp.Expr:
    """d gamma / dC for gamma = gamma_base + (gamma_max - gamma_base) sigmoid(-C / tau_c)."""
    g = gamma_base + (gamma_max - gamma_base) / (1 + sp.exp(C / tau_c))
    return sp.simplify(sp.diff(g, C))


def gamma_limits_in_C() -> dict[str, sp.Expr]:
    g = gamma_base + (gamma_max - gamma_base) / (1 + sp.exp(C / tau_c))
    return {
        "C->+oo": sp.limit(g, C, sp.oo),
        "C->-oo": sp.limit(g, C, -sp.oo),
        "C=0": sp.simplify(g.subs(C, 0)),
    }


def g_gamma_endpoints() -> tuple[sp.Expr, sp.Expr]:
    """g_gamma at gamma = 0 and gamma = 1 (section 3.3's limit check)."""
    return sp.simplify(g_gamma_expr().subs(gamma, 0)), sp.simplify(g_gamma_expr().subs(gamma, 1))


def g_gamma_tau_to_zero() -> sp.Expr:
    """lim tau -> 0 of g_gamma(w) (section 8.3): (1 - gamma) + gamma w."""
    return sp.limit(g_gamma_expr(), tau, 0, "+")
