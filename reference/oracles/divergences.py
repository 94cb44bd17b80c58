"""Oracles for ``reference/divergences.py``: the log-normal moments by quadrature of the normal
density (not the MGF formula the generator uses)."""

from __future__ import annotations

import functools

import mpmath

from isreshape.reference.golden import register_oracle


def _lognormal_moment_quad(gamma, mean, sigma2):
    """E[w^gamma] = integral of exp(gamma x) N(x; mean, sigma2) dx, by tanh-sinh quadrature on
    the standardised variable; sigma2 = 0 is the point mass."""
    if sigma2 == 0:
        return mpmath.exp(gamma * mean)
    s = mpmath.sqrt(sigma2)
    # centre the integrand on its peak (the tilted mean) so the quadrature sees one bump
    c = gamma * s

    def f(z):
        return mpmath.exp(gamma * mean + c * c / 2 - (z - c) ** 2 / 2) / mpmath.sqrt(2 * mpmath.pi)

    return mpmath.quad(f, [-mpmath.inf, c, mpmath.inf])


# ---------------------------------------------------------------- domains (from the docstrings)


def _fin(x) -> bool:
    return mpmath.isfinite(x)


def _d_lognormal(gamma, mean, sigma2):
    """gamma, mean finite; sigma2 >= 0 finite."""
    return _fin(gamma) and _fin(mean) and _fin(sigma2) and sigma2 >= 0


def _d_lognormal_closed(gamma, sigma2):
    return _fin(gamma) and _fin(sigma2) and sigma2 >= 0


def _d_renyi_lognormal(alpha, sigma2):
    return _fin(alpha) and alpha >= 0 and _fin(sigma2) and sigma2 >= 0


def _row_ok(z) -> bool:
    return (
        len(z) > 0
        and all(not mpmath.isnan(v) and v != mpmath.inf for v in z)
        and any(_fin(v) for v in z)
    )


def _d_pair(p, q) -> bool:
    """Equal-length logits without NaN or +inf, each with a finite entry."""
    return len(p) == len(q) and _row_ok(p) and _row_ok(q)


def _d_kl(logits_p, logits_q):
    return _d_pair(logits_p, logits_q)


def _d_power_moment(logits_pi, logits_mu, gamma):
    return _d_pair(logits_pi, logits_mu) and _fin(gamma)


def _d_renyi(logits_p, logits_q, alpha):
    return _d_pair(logits_p, logits_q) and _fin(alpha) and alpha >= 0


def _d_renyi_identity_rhs(logits_pi, logits_mu, gamma):
    """gamma >= 0 finite; at gamma = 1 the KL must be finite (supp pi inside supp mu), else
    (gamma - 1) D is 0 * inf."""
    if not (_d_pair(logits_pi, logits_mu) and _fin(gamma) and gamma >= 0):
        return False
    if gamma == 1:
        return all(m > -mpmath.inf for p, m in zip(logits_pi, logits_mu) if p > -mpmath.inf)
    return True


_DOMAIN = {
    "lognormal_moment": _d_lognormal,
    "ess_ratio_lognormal_moments": _d_lognormal,
    "ess_ratio_lognormal_closed_form": _d_lognormal_closed,
    "variance_lognormal_power": _d_lognormal_closed,
    "renyi_divergence_lognormal": _d_renyi_lognormal,
    "kl_divergence": _d_kl,
    "power_moment_from_logits": _d_power_moment,
    "renyi_divergence": _d_renyi,
    "renyi_identity_rhs": _d_renyi_identity_rhs,
}


register_oracle(
    "divergences.lognormal_moment",
    "mpmath.quad of exp(gamma x) against the normal density",
    _lognormal_moment_quad,
    digits=30,
    why="tanh-sinh quadrature of a smooth Gaussian bump at 50 digits is good to ~45 digits; "
    "30 leaves room for the 1e-12-variance cases",
    domain=_DOMAIN["lognormal_moment"],
)


# ---------------------------------------------------------------- log-normal family: sympy


@functools.cache
def _lognormal_forms():
    """Closed forms that sympy derives from the defining integrals (not the hand-written MGF):
    E[w^g] = integral of exp(g x) N(x; m, s^2) dx, and KL(pi || mu) = integral of x e^x
    N(x; -s^2/2, s^2) dx = E_mu[w log w]; the Renyi divergence log E_mu[w^a] / (a - 1) and the
    ESS ratio E[w^g]^2 / E[w^(2 g)] simplified by sympy. Lambdified to mpmath."""
    import sympy as sp

    x, g, m = sp.symbols("x g m", real=True)
    s = sp.symbols("s", positive=True)
    dens = sp.exp(-((x - m) ** 2) / (2 * s**2)) / (s * sp.sqrt(2 * sp.pi))
    moment = sp.simplify(sp.integrate(sp.exp(g * x) * dens, (x, -sp.oo, sp.oo)))
    log_moment = sp.expand(sp.expand_log(sp.log(moment), force=True))
    ess = sp.simplify(2 * log_moment - log_moment.subs(g, 2 * g))  # log of the ESS ratio
    renyi = sp.simplify(log_moment.subs(m, -(s**2) / 2) / (g - 1))
    kl = sp.simplify(
        sp.integrate(x * sp.exp(x) * dens.subs(m, -(s**2) / 2), (x, -sp.oo, sp.oo)).rewrite(sp.erf)
    )
    for expr in (log_moment, ess, renyi, kl):
        if expr.has(sp.Integral, sp.Piecewise):
            raise RuntimeError(f"sympy left {expr} unevaluated")
    return {
        "log_moment": sp.lambdify((g, m, s), log_moment, "mpmath"),
        "log_ess": sp.lambdify((g, s), ess, "mpmath"),
        "renyi": sp.lambdify((g, s), renyi, "mpmath"),
        "kl": sp.lambdify((s,), kl, "mpmath"),
    }


def _ess_ratio_moments(gamma, mean, sigma2):
    with mpmath.extradps(10):
        lm = _lognormal_forms()["log_moment"]
        s = mpmath.sqrt(sigma2)
        return mpmath.exp(2 * lm(gamma, mean, s) - lm(2 * gamma, mean, s))


def _ess_ratio_closed_form(gamma, sigma2):
    with mpmath.extradps(10):
        return mpmath.exp(_lognormal_forms()["log_ess"](gamma, mpmath.sqrt(sigma2)))


def _variance_lognormal_power(gamma, sigma2):
    # Theorem 7.4's E[w^(2 gamma)] under Assumption 7.3's mean -sigma2 / 2
    with mpmath.extradps(10):
        lm = _lognormal_forms()["log_moment"]
        return mpmath.exp(lm(2 * gamma, -sigma2 / 2, mpmath.sqrt(sigma2)))


def _renyi_lognormal(alpha, sigma2):
    if sigma2 == 0:
        return mpmath.mpf(0)
    with mpmath.extradps(10):
        s = mpmath.sqrt(sigma2)
        if alpha == 1:
            return _lognormal_forms()["kl"](s)
        return _lognormal_forms()["renyi"](alpha, s)


# ---------------------------------------------------------------- discrete: explicit sums


def _probs(logits):
    e = [mpmath.exp(z) for z in logits]
    t = mpmath.fsum(e)
    return [x / t for x in e]


def _kl(logits_p, logits_q):
    with mpmath.extradps(20):
        p, q = _probs(logits_p), _probs(logits_q)
        total = mpmath.mpf(0)
        for a, b in zip(p, q):
            if a == 0:
                continue
            if b == 0:
                return mpmath.inf
            total += a * mpmath.log(a / b)
        return total


def _renyi_sum(p, q, alpha):
    """sum over supp(p) of p^alpha q^(1 - alpha) (q = 0: 0 for alpha < 1, +inf for alpha > 1)."""
    total = mpmath.mpf(0)
    for a, b in zip(p, q):
        if a == 0:
            continue
        if b == 0:
            if alpha > 1:
                return mpmath.inf
            if alpha < 1:
                continue
            total += a  # alpha = 1: q^0 = 1
            continue
        total += mpmath.power(a, alpha) * mpmath.power(b, 1 - alpha)
    return total


def _renyi(logits_p, logits_q, alpha):
    if alpha == 1:
        return _kl(logits_p, logits_q)
    guard = 20 + max(0, int(-mpmath.log10(abs(alpha - 1))))
    with mpmath.extradps(guard):
        p, q = _probs(logits_p), _probs(logits_q)
        z = _renyi_sum(p, q, alpha)
        if z == 0:  # alpha < 1, disjoint supports
            return mpmath.inf
        if mpmath.isinf(z):
            return mpmath.inf
        return mpmath.log(z) / (alpha - 1)


def _power_moment(logits_pi, logits_mu, gamma):
    """E_mu[w^gamma] as the explicit sum over supp(mu) of mu_i (pi_i / mu_i)^gamma."""
    with mpmath.extradps(20):
        pi, mu = _probs(logits_pi), _probs(logits_mu)
        total = mpmath.mpf(0)
        for a, m in zip(pi, mu):
            if m == 0:
                continue
            w = a / m
            if w == 0:
                if gamma == 0:
                    total += m
                elif gamma < 0:
                    return mpmath.inf
                continue
            total += m * mpmath.power(w, gamma)
        return total


def _renyi_identity_rhs(logits_pi, logits_mu, gamma):
    """exp((gamma - 1) D_gamma) unwound: the Renyi sum over supp(pi) itself (no log / exp);
    gamma = 0: Q(pi > 0) = exp(-D_0); gamma = 1: 1 (the KL is finite on every such case)."""
    with mpmath.extradps(20):
        pi, mu = _probs(logits_pi), _probs(logits_mu)
        if gamma == 1:
            return mpmath.mpf(1)
        return _renyi_sum(pi, mu, gamma)


_SYMPY_WHY = "a closed form evaluated at 60 digits; sympy's erf / erfc at s <= sqrt(10) keep ~55"

register_oracle(
    "divergences.ess_ratio_lognormal_moments",
    "E[w^gamma]^2 / E[w^(2 gamma)], each moment the closed form sympy derives from the "
    "integral of exp(gamma x) N(x; mean, sigma2) dx (not the hand-written MGF)",
    _ess_ratio_moments,
    digits=35,
    why=_SYMPY_WHY,
    domain=_DOMAIN["ess_ratio_lognormal_moments"],
)
register_oracle(
    "divergences.ess_ratio_lognormal_closed_form",
    "Theorem 8.2's proof route: E[w^gamma]^2 / E[w^(2 gamma)] simplified by sympy from the "
    "integral of exp(gamma x) N(x; m, s^2) dx (m cancels symbolically)",
    _ess_ratio_closed_form,
    digits=35,
    why=_SYMPY_WHY,
    domain=_DOMAIN["ess_ratio_lognormal_closed_form"],
)
register_oracle(
    "divergences.variance_lognormal_power",
    "E[w^(2 gamma)] at mean -sigma2/2 from sympy's integral of exp(2 gamma x) N(x) dx (not "
    "Theorem 7.4's exponent)",
    _variance_lognormal_power,
    digits=35,
    why=_SYMPY_WHY,
    domain=_DOMAIN["variance_lognormal_power"],
)
register_oracle(
    "divergences.renyi_divergence_lognormal",
    "log E_mu[w^alpha] / (alpha - 1) simplified by sympy from the integral of exp(alpha x) "
    "N(x; -s^2/2, s^2) dx; alpha = 1: E_mu[w log w] = sympy's integral of x e^x N(x) dx "
    "(erf form)",
    _renyi_lognormal,
    digits=35,
    why=_SYMPY_WHY,
    domain=_DOMAIN["renyi_divergence_lognormal"],
)
register_oracle(
    "divergences.kl_divergence",
    "sum over supp(p) of p log(p / q) on the plain probabilities exp(z) / sum exp(z) at 20 "
    "guard digits, q = 0 < p branched to +inf (one-line definition)",
    _kl,
    digits=35,
    why="plain sums at 70 digits; shifted logits of one distribution cancel to ~1e-65: atol",
    atol=1e-40,
    domain=_DOMAIN["kl_divergence"],
)
register_oracle(
    "divergences.renyi_divergence",
    "log of the Renyi sum over supp(p) of p^alpha q^(1 - alpha) on plain probabilities, over "
    "alpha - 1, at 20 + log10(1 / |alpha - 1|) guard digits; alpha = 1 the KL sum; q = 0 "
    "branched by the sign of alpha - 1",
    _renyi,
    digits=35,
    why="plain sums at 70+ digits; equal distributions (shifted logits) cancel to ~1e-60: atol",
    atol=1e-40,
    domain=_DOMAIN["renyi_divergence"],
)
register_oracle(
    "divergences.power_moment_from_logits",
    "E_mu[w^gamma] as the explicit sum over supp(mu) of mu (pi / mu)^gamma, w = 0 branched "
    "(w^0 = 1, +inf for gamma < 0)",
    _power_moment,
    digits=35,
    why="plain sums at 70 digits",
    domain=_DOMAIN["power_moment_from_logits"],
)
register_oracle(
    "divergences.renyi_identity_rhs",
    "exp((gamma - 1) D_gamma) unwound to the Renyi sum over supp(pi) of pi^gamma mu^(1-gamma) "
    "(no log, no exp); gamma = 0 is Q(pi > 0), gamma = 1 is 1",
    _renyi_identity_rhs,
    digits=35,
    why="plain sums at 70 digits",
    domain=_DOMAIN["renyi_identity_rhs"],
)
