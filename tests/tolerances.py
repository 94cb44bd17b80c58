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
            32,
            "sigmoid(-x) ~ e^-x turns the rounding of x = tau expm1(log_w) into |x| eps; fixture "
            "'tau=10 log_w=2' has x = 64; measured 24 eps (f64), 25 eps (f32)",
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
    "sampling.speculative_bias_tv_section_7_7": {
        "float32": (
            32,
            "sum |min(p, q) - beta q| of terms that nearly cancel (V=2 #1, TV = 6e-3): measured 25 eps",
        ),
        "float64": (
            25,
            "sum |min(p, q) - beta q| of terms that nearly cancel (V=2 #1, TV = 6e-3): measured 19 eps",
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
            160,
            "exp(-t) with t = tau |w - 1| turns the rounding of t (computed with ~1.5 ulp from expm1(log_w)) into t eps before the value underflows; measured 135 eps at tau (w - 1) = 664 (log_w = 6.5, tau = 1)",
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
            64,
            "exp(-|z|) turns the rounding of z = tau (w - 1) into |z| eps before phi underflows "
            "(|z| up to ~740); measured 56 eps at log_w = 6",
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


def tolerance(key: str, dtype: str) -> tuple[float, float]:
    """(rtol, atol) in absolute units for function ``key`` at ``dtype``."""
    finfo = torch.finfo(DTYPES[dtype])
    rtol_eps, atol_tiny = DEFAULT[dtype]
    override = OVERRIDES.get(key, {}).get(dtype)
    if override is not None:
        if override[0] < rtol_eps:
            raise ValueError(f"override for {key} at {dtype} tightens the default")
        rtol_eps = override[0]
    return rtol_eps * finfo.eps, atol_tiny * finfo.tiny
