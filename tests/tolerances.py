"""The one tolerance table, in units of each dtype's machine epsilon.

Defaults are tight. Low-precision results are compared with the fixture value computed from the
input rounded to that dtype, so input rounding is never charged to the implementation.
Overrides may only loosen, and each carries its reason.
"""

from __future__ import annotations

import torch

DTYPES = {"float64": torch.float64, "float32": torch.float32, "bfloat16": torch.bfloat16}

# (rtol in eps, atol in units of the dtype's smallest normal number)
DEFAULT = {
    "float64": (16, 1),
    "float32": (16, 1),
    "bfloat16": (2, 1),
}

# key "module.function" -> dtype -> (rtol in eps, reason)
OVERRIDES: dict[str, dict[str, tuple[float, str]]] = {
    "weights.sapo_weight": {
        "float64": (
            1160,
            "4 w sigmoid(x) sigmoid(-x) (z = x) ~ 4 w e^-|z| turns the absolute error of its computed argument z = tau (w - 1) = tau expm1(log_w) into a relative one: torch's expm1 is within 1 ulp (<= eps relative) and the product with tau adds <= eps / 2, so |dz| <= 1.5 eps |z|. The value stays above the absolute tolerance (the smallest normal, 2.2e-308) only while |z| <= 709.8 + log(4 w |A|), with w = 1 + |z| / tau, tau >= 1e-12 and |A| <= 1.1e6 (the fixtures' ranges, perturbed by <= 10 %) that is |z| <= 760; 1.5 x 760 = 1140 eps, plus <= 12 eps for the O(1) roundings of exp, log1p and the products: 1152 -> 1160 eps. An accurate z needs exp(log_w) to eps / |z|, below float64 (two-word exp not implemented). Measured: 55 eps at log_w = 5.268, tau = 1 (|z| = 193)",
        ),
        "float32": (
            32,
            "sigmoid(-x) ~ e^-x turns the rounding of x = tau expm1(log_w) into |x| eps; fixture "
            "'tau=10 log_w=2' has x = 64; measured 24 eps (f64), 25 eps (f32)",
        ),
    },
    "sampling.alpha_ess_balance": {
        "float32": (
            75,
            "bisection root of B(alpha), a difference of two log-sums that is flat for nearly identical distributions (B' ~ 1e-2): error eps / |B'|; measured 58 eps (f32), 92 eps (f64)",
        ),
        "float64": (
            120,
            "bisection root of B(alpha), a difference of two log-sums that is flat for nearly identical distributions (B' ~ 1e-2): error eps / |B'|; measured 58 eps (f32), 92 eps (f64)",
        ),
    },
    "sampling.solve_kl_symmetry_seed_code": {
        "float32": (
            80,
            "the seed's bisection branches on sign(delta); in float32 delta flips sign at the last halvings where |delta| is below rounding (V=2 #1, Var_q(d) = 1.6e-2), moving the dyadic result by 2^-18: measured 63 eps",
        ),
    },
    "trust_region.trust_region_h": {
        "float64": (
            160,
            "exp(-t) with t = tau |w - 1| turns the rounding of t (computed with ~1.5 ulp from expm1(log_w)) into t eps before the value underflows; measured 135 eps at tau (w - 1) = 664 (log_w = 6.5, tau = 1)",
        ),
    },
    "trust_region.trust_region_weight": {
        "float64": (
            160,
            "exp(-t) with t = tau |w - 1| turns the rounding of t (computed with ~1.5 ulp from expm1(log_w)) into t eps before the value underflows; measured 135 eps at tau (w - 1) = 664 (log_w = 6.5, tau = 1)",
        ),
    },
    "trust_region.g_gamma": {
        "float64": (
            160,
            "exp(-t) with t = tau |w - 1| turns the rounding of t (computed with ~1.5 ulp from expm1(log_w)) into t eps before the value underflows; measured 135 eps at tau (w - 1) = 664 (log_w = 6.5, tau = 1)",
        ),
    },
    "trust_region.phi_gamma": {
        "float64": (
            1160,
            "w h(w) ~ 4 w e^-|z| turns the absolute error of its computed argument z = tau (w - 1) (h = 4 sigma(z) sigma(-z), z = tau expm1(log_w), halved and doubled exactly) into a relative one: torch's expm1 is within 1 ulp (<= eps relative) and the product with tau adds <= eps / 2, so |dz| <= 1.5 eps |z|. The value stays above the absolute tolerance (the smallest normal, 2.2e-308) only while |z| <= 709.8 + log(4 w |A|), with w = 1 + |z| / tau, tau >= 1e-12 and |A| <= 1.1e6 (the fixtures' ranges, perturbed by <= 10 %) that is |z| <= 760; 1.5 x 760 = 1140 eps, plus <= 12 eps for the O(1) roundings of exp, log1p and the products: 1152 -> 1160 eps. An accurate z needs exp(log_w) to eps / |z|, below float64 (two-word exp not implemented). Measured: 219 eps at log_w = 6.49999, tau = 1 (|z| = 664)",
        ),
    },
    "trust_region.g_adaptive": {
        "float64": (
            160,
            "exp(-t) with t = tau |w - 1| turns the rounding of t (computed with ~1.5 ulp from expm1(log_w)) into t eps before the value underflows; measured 135 eps at tau (w - 1) = 664 (log_w = 6.5, tau = 1)",
        ),
    },
    "trust_region.phi_adaptive": {
        "float64": (
            160,
            "exp(-t) with t = tau |w - 1| turns the rounding of t (computed with ~1.5 ulp from expm1(log_w)) into t eps before the value underflows; measured 135 eps at tau (w - 1) = 664 (log_w = 6.5, tau = 1)",
        ),
    },
    "trust_region.g_adaptive_max_section_5_4": {
        "float64": (
            160,
            "exp(-t) with t = tau |w - 1| turns the rounding of t (computed with ~1.5 ulp from expm1(log_w)) into t eps before the value underflows; measured 135 eps at tau (w - 1) = 664 (log_w = 6.5, tau = 1)",
        ),
    },
    "divergences.ess_ratio_lognormal_closed_form": {
        "float64": (
            64,
            "exp(x) turns the rounding of x = -sigma2 gamma^2 into |x| eps, |x| <= 1600",
        ),
        "float32": (64, "exp(x) turns the rounding of x = -sigma2 gamma^2 into |x| eps, |x| <= 88"),
    },
    "divergences.variance_lognormal_power": {
        "float64": (64, "exp(x) turns the rounding of x into |x| eps, |x| up to 400"),
        "float32": (64, "exp(x) turns the rounding of x into |x| eps, |x| up to 88"),
    },
    "peers.sapo": {
        "float64": (
            1160,
            "4 w sigma(z) sigma(-z) ~ 4 w e^-|z| turns the absolute error of its computed argument z = tau (w - 1) = tau expm1(log_w) into a relative one: torch's expm1 is within 1 ulp (<= eps relative) and the product with tau adds <= eps / 2, so |dz| <= 1.5 eps |z|. The value stays above the absolute tolerance (the smallest normal, 2.2e-308) only while |z| <= 709.8 + log(4 w |A|), with w = 1 + |z| / tau, tau >= 1e-12 and |A| <= 1.1e6 (the fixtures' ranges, perturbed by <= 10 %) that is |z| <= 760; 1.5 x 760 = 1140 eps, plus <= 12 eps for the O(1) roundings of exp, log1p and the products: 1152 -> 1160 eps. An accurate z needs exp(log_w) to eps / |z|, below float64 (two-word exp not implemented). Measured: 248 eps at log_w = 6.364, tau = 1.05 (|z| = 610)",
        ),
    },
    "variational.gamma_approx_section_6_1": {
        "float64": (
            24,
            "1 - x cancels when x = phi log(1/phi) / |log w| is near 1 (the formula as printed "
            "crosses 0 near |log w| = 0.3); measured 19.3 eps at log_w = +-0.3",
        ),
        "float32": (24, "same 1 - x cancellation; measured 20.5 eps at a seeded random point"),
    },
    "variational.gamma_star_exact": {
        "float64": (
            24,
            "-log(2 lambda |A|) and log(1 + w^s) are both ~700 and cancel to ~8 at log_w = -700, "
            "A = -1e-300; measured 21.3 eps",
        ),
    },
}


# key "module.function" -> dtype -> (atol in absolute units, reason): for values that are exactly 0
# in exact arithmetic where the computed one is a rounding-level remainder
_R2 = 4 * (1.1 * 4.856328670002229) ** 2  # 4 R^2, R = max |logit| of the fixture cases + 10 %
_PARETO_ATOL_REASON = (
    "the margin is exactly 0 for q on the family (every V = 2 q between pi_theta and pi_t); "
    "inside it is computed as D(q || q_a) at the bisection's a, which is stationary at a*: "
    "D = (a - a*)^2 Var_q(d) / 2 + the second-order effect of rounding the family's logits "
    "(eps |z| / 2 each) <= eps^2 (4 R^2) / 2 + eps^2 R^2 / 4 with |a - a*| <= eps, "
    "Var(d) <= (2 R)^2 and R = max |logit| over the fixture cases (4.86) + 10 % for the "
    "perturbation: atol = eps^2 4 R^2 (covering also the KL helper's rounding of its "
    "O(y^2) terms). Measured 3.0e-32 (f64) at the reproducer"
)
ABS_OVERRIDES: dict[str, dict[str, tuple[float, str]]] = {
    "sampling.pareto_margin": {
        "float64": (_R2 * torch.finfo(torch.float64).eps ** 2, _PARETO_ATOL_REASON),
        "float32": (_R2 * torch.finfo(torch.float32).eps ** 2, _PARETO_ATOL_REASON),
    },
}


def tolerance(key: str, dtype: str) -> tuple[float, float]:
    """(rtol, atol) in absolute units for function ``key`` at ``dtype``."""
    finfo = torch.finfo(DTYPES[dtype])
    rtol_eps, atol_tiny = DEFAULT[dtype]
    override = OVERRIDES.get(key, {}).get(dtype)
    if override is not None:
        if override[0] < rtol_eps:
            raise ValueError(f"override for {key} at {dtype} tightens the default")
        rtol_eps = override[0]
    atol = atol_tiny * finfo.tiny
    abs_override = ABS_OVERRIDES.get(key, {}).get(dtype)
    if abs_override is not None:
        if abs_override[0] < atol:
            raise ValueError(f"absolute override for {key} at {dtype} tightens the default")
        atol = abs_override[0]
    return rtol_eps * finfo.eps, atol
