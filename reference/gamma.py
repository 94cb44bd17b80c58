"""Rules that choose the reshaping exponent gamma.

Seed 001 Theorem 8.3: gamma* = min(1, sqrt(-log rho_min / sigma^2)), the largest gamma in
[0, 1] whose log-normal ESS fraction exp(-sigma^2 gamma^2) is at least rho_min.
"""

from __future__ import annotations

import mpmath

from reference._checks import require_range
from reference.golden import case, register_golden


def gamma_star_ess(sigma2, rho_min):
    """gamma* = min(1, sqrt(-log(rho_min) / sigma2)) (seed 001 Theorem 8.3).

    Domain: sigma2 >= 0 (finite or +inf), 0 < rho_min <= 1.
    Edges: sigma2 = 0 gives 1 (the ESS fraction is 1 for every gamma; the seed's code returns
    gamma_max there); sigma2 = +inf gives 0; rho_min = 1 with sigma2 > 0 gives 0 (only gamma = 0
    keeps the full ESS). rho_min outside (0, 1] or sigma2 < 0 or NaN raise ``ValueError``.
    """
    sigma2 = require_range("sigma2", sigma2, lo=0)
    rho_min = require_range("rho_min", rho_min, lo=0, hi=1, lo_open=True)
    if sigma2 == 0:
        return mpmath.mpf(1)
    if mpmath.isinf(sigma2):
        return mpmath.mpf(0)
    return min(mpmath.mpf(1), mpmath.sqrt(-mpmath.log(rho_min) / sigma2))


def _gamma_star_cases():
    cs = []
    for rho in (1e-12, 0.01, 0.1, 0.3, 0.5, 0.9, 0.999999):
        for s2 in (1e-10, 0.01, 0.1, 0.5, 1.0, 1.2, 2.0, 5.0, 100.0, 1e6):
            cs.append(case(f"grid rho_min={rho} sigma2={s2}", sigma2=s2, rho_min=rho))
    cs += [
        case("seed example rho_min=0.3, sigma2=1.2 (gamma = 1 boundary)", sigma2=1.2, rho_min=0.3),
        case("edge: sigma2 = 0", sigma2=0.0, rho_min=0.3),
        case("edge: sigma2 = +inf", sigma2=float("inf"), rho_min=0.3),
        case("edge: rho_min = 1", sigma2=1.0, rho_min=1.0),
        case("edge: rho_min = 0", sigma2=1.0, rho_min=0.0),
        case("edge: rho_min > 1", sigma2=1.0, rho_min=1.5),
        case("edge: rho_min < 0", sigma2=1.0, rho_min=-0.3),
        case("edge: sigma2 < 0", sigma2=-1.0, rho_min=0.3),
        case("edge: sigma2 NaN", sigma2=float("nan"), rho_min=0.3),
        case("extreme: sigma2 tiny", sigma2=1e-300, rho_min=0.3),
    ]
    return cs


register_golden(gamma_star_ess, _gamma_star_cases, tensor_args=("sigma2", "rho_min"))
