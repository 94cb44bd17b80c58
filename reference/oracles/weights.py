"""Oracles for ``reference/weights.py`` (seed 002, IS-Reshape v8), written from the seed's text and
appendix-B code and the docstrings' domains and edges, without the generator's code.

Routes: the weights as the seed prints them with w = e^log_w as an mpmath number (no overflow),
w^gamma as mpmath.power(w, gamma), piecewise designs branched on their printed conditions, the
Michaelis-Menten weight as the rational (1 + tau) w / (tau + w), sigmoids as 1 / (1 + e^-x) at a
precision raised by the digits of x; the objectives (Box-Cox, Michaelis-Menten) by tanh-sinh
quadrature of phi over log w from 0 (f(1) = 0, df / dlog w = phi), not their closed forms;
SAPO's gradient weight and both ``*_seed_code`` weights as numerical derivatives (mpmath.diff)
of the objective or of the seed code's per-token loss, with torch.clamp's gradient convention
(passes at its bounds, zero outside) written out.
"""

from __future__ import annotations

import mpmath

from isreshape.reference.golden import register_oracle

_GUARD = 30
_QUAD_DPS = 60  # fixed, so that mpmath caches the tanh-sinh nodes across cases


def _int_digits(v) -> int:
    """Decimal digits of |v| before the point (0 for |v| < 1, zero or non-finite)."""
    if not v or not mpmath.isfinite(v):
        return 0
    return max(0, int(mpmath.mag(v) * 0.30103) + 2)


def _sig(x):
    """sigma(x) = 1 / (1 + e^-x); +-inf give the limits."""
    if x == mpmath.inf:
        return mpmath.mpf(1)
    if x == -mpmath.inf:
        return mpmath.mpf(0)
    return 1 / (1 + mpmath.exp(-x))


def _wpow(log_w, gamma):
    """w^gamma with w = e^log_w held as an mpmath number (no overflow)."""
    return mpmath.power(mpmath.exp(log_w), gamma)


# ---------------------------------------------------------------- sections 1.3, 4.3, 5.4, 9


def oracle_power(log_w, A, gamma):
    if A == 0:
        return mpmath.mpf(0)
    with mpmath.extradps(_GUARD):
        return _wpow(log_w, gamma) * A


def oracle_asymmetric(log_w, A, gamma_pos, gamma_neg):
    if A == 0:
        return mpmath.mpf(0)
    with mpmath.extradps(_GUARD):
        return _wpow(log_w, gamma_pos if A > 0 else gamma_neg) * A


def oracle_truncated(log_w, A, gamma, M):
    # section 5.4 scheme 1: min(w^gamma, M) A, branched on w^gamma >= M
    if A == 0:
        return mpmath.mpf(0)
    with mpmath.extradps(_GUARD):
        u = _wpow(log_w, gamma)
        return (M if u >= M else u) * A


def oracle_soft_saturation(log_w, A, gamma, lam):
    # section 5.4 scheme 2: w^gamma / (1 + lam (w^gamma - 1)^+) A, branched on w^gamma > 1
    if A == 0:
        return mpmath.mpf(0)
    with mpmath.extradps(_GUARD):
        u = _wpow(log_w, gamma)
        if u > 1:
            u = u / (1 + lam * (u - 1))
        return u * A


def oracle_threshold_saturation(log_w, A, gamma, lam, w_th):
    # section 9.2 as printed: w^gamma / (1 + lam (w - w_th)^+) A, branched on w > w_th
    if A == 0:
        return mpmath.mpf(0)
    with mpmath.extradps(_GUARD):
        w = mpmath.exp(log_w)
        u = mpmath.power(w, gamma)
        if w > w_th:
            u = u / (1 + lam * (w - w_th))
        return u * A


def _blend(log_w, gamma, lam, w_th):
    """beta w^gamma + (1 - beta) w with beta = sigma(-lam (w - w_th)) and 1 - beta = sigma(lam
    (w - w_th)) from its own exponential, at ambient + guard + digits of the argument."""
    with mpmath.extradps(_GUARD):
        w = mpmath.exp(log_w)
        x = lam * (w - w_th) if lam else mpmath.mpf(0)
    with mpmath.extradps(_GUARD + _int_digits(x)):
        w = mpmath.exp(log_w)
        x = lam * (w - w_th) if lam else mpmath.mpf(0)
        return _sig(-x) * mpmath.power(w, gamma) + _sig(x) * w


def oracle_blend(log_w, A, gamma, lam, w_th):
    if A == 0:
        return mpmath.mpf(0)
    return _blend(log_w, gamma, lam, w_th) * A


def oracle_mixture(log_w, A, gamma_pos, gamma_neg, lam, w_th):
    # section 9.3: w^gamma_+ A for A > 0, the blend with gamma_- for A < 0
    if A == 0:
        return mpmath.mpf(0)
    if A > 0:
        with mpmath.extradps(_GUARD):
            return _wpow(log_w, gamma_pos) * A
    return _blend(log_w, gamma_neg, lam, w_th) * A


def _mm(log_w, tau):
    """Section 5.4 scheme 3 / 10.2 as printed: (1 + tau) w / (tau + w)."""
    w = mpmath.exp(log_w)
    return (1 + tau) * w / (tau + w)


def oracle_mm(log_w, A, tau):
    if A == 0:
        return mpmath.mpf(0)
    with mpmath.extradps(_GUARD):
        return _mm(log_w, tau) * A


# ---------------------------------------------------------------- objectives by quadrature


def _geometric_cuts(a, b, centre, top=2048):
    """Break points centre +- 1, 2, 4, ..., top inside (a, b), plus a and b, sorted."""
    pts = {a, b}
    k = 1
    while k <= top:
        for p in (centre - k, centre + k):
            if min(a, b) < p < max(a, b):
                pts.add(p)
        k *= 2
    if min(a, b) < centre < max(a, b):
        pts.add(centre)
    return sorted(pts, reverse=b < a)


def oracle_box_cox(log_w, A, gamma):
    """Section 7.1: f = integral of phi / w dw from 1, i.e. A integral_0^log_w e^(gamma s) ds,
    by tanh-sinh quadrature on u = s / log_w in [0, 1], split geometrically towards the end
    where e^(gamma log_w u) concentrates."""
    if A == 0 or log_w == 0:
        return mpmath.mpf(0)
    with mpmath.workdps(_QUAD_DPS):
        c = gamma * log_w
        cuts = {mpmath.mpf(0), mpmath.mpf(1)}
        k = 1
        while k < abs(c):  # toward u = 1 for c > 0, toward u = 0 for c < 0
            cuts.add(1 - k / c if c > 0 else k / -c)
            k *= 2
        v = mpmath.quad(lambda u: mpmath.exp(c * u), sorted(cuts))
        return log_w * v * A


def oracle_mm_objective(log_w, A, tau):
    """A integral_0^log_w (1 + tau) e^s / (tau + e^s) ds (f(1) = 0, df / dlog w = the MM weight),
    by tanh-sinh quadrature split at log tau +- 1, 2, 4, ... (the integrand is a sigmoid in s)."""
    if A == 0 or log_w == 0:
        return mpmath.mpf(0)
    with mpmath.workdps(_QUAD_DPS):
        if tau == 0:
            return log_w * A  # the integrand is 1
        centre = mpmath.log(tau)
        pts = _geometric_cuts(mpmath.mpf(0), log_w, centre)
        v = mpmath.quad(lambda s: (1 + tau) / (1 + tau * mpmath.exp(-s)), pts)
        return v * A


# ---------------------------------------------------------------- SAPO (section 8.1)


def oracle_sapo_8_1(log_w, A, tau):
    # section 8.1 as printed: sigma(tau (w - 1)) 4 / tau A
    if A == 0:
        return mpmath.mpf(0)
    with mpmath.extradps(_GUARD + _int_digits(tau)):
        x = tau * (mpmath.exp(log_w) - 1)
        return _sig(x) * 4 / tau * A


_DIFF_X = 40  # |tau (w - 1)| up to which SAPO's weight is taken by numerical differentiation


def oracle_sapo(log_w, A, tau):
    """d/dlog w of SAPO's objective (4 / tau) sigma(tau (w - 1)) A by mpmath.diff where
    |tau (w - 1)| <= 40; beyond, where the weight is below 4 w e^-40 |A| and a finite difference
    of a sigmoid saturated to 1 - e^-|x| cannot resolve it, 4 w / ((1 + e^-x)(1 + e^x)) A, the
    derivative of the sigmoid written out, at ambient + guard + digits of x. For w << 1 the
    difference is taken with as many extra digits as 1 / w has."""
    if A == 0:
        return mpmath.mpf(0)
    with mpmath.extradps(_GUARD):
        x = tau * (mpmath.exp(log_w) - 1)
        if abs(x) <= _DIFF_X:
            # the objective moves by ~w per unit of log w: for w << 1 the difference needs
            # as many more digits as 1 / w has
            with mpmath.extradps(_int_digits(mpmath.exp(-log_w)) if log_w < 0 else 0):
                obj = lambda s: 4 / tau * _sig(tau * (mpmath.exp(s) - 1))  # noqa: E731
                return mpmath.diff(obj, log_w) * A
    with mpmath.extradps(_GUARD + _int_digits(x) + _int_digits(tau)):
        w = mpmath.exp(log_w)
        x = tau * (w - 1)
        return 4 * w / ((1 + mpmath.exp(-x)) * (1 + mpmath.exp(x))) * A


# ---------------------------------------------------------------- SFT (section 10)


def oracle_sft(log_w, gamma, use_michaelis_menten=False, mm_tau=1.0):
    with mpmath.extradps(_GUARD):
        return _mm(log_w, mm_tau) if use_michaelis_menten else _wpow(log_w, gamma)


_CLAMP = 20


def _clamp_grad_passes(log_w) -> bool:
    """torch.clamp(log_w, -20, 20) passes the gradient inside and at its bounds (closed)."""
    return -_CLAMP <= log_w <= _CLAMP


def oracle_sft_seed_code(log_w, log_mu, gamma, use_michaelis_menten=False, mm_tau=1.0):
    """-dL/dlog_pi of the appendix-B ``SFTGradientWeight`` loss per token,
    L = -phi(exp(clamp(log_pi - log_mu, -20, 20))) log_pi (no stop-gradient), by mpmath.diff in
    log_pi at log_pi = log_w + log_mu; outside the clamp the clamped value is a constant."""

    def phi(c):
        w = mpmath.exp(c)
        if use_michaelis_menten:
            return (1 + mm_tau) * w / (mm_tau + w)
        return mpmath.power(w, gamma)

    with mpmath.extradps(_GUARD):
        log_pi = log_w + log_mu  # exact for doubles at this precision
        if _clamp_grad_passes(log_w):
            neg_loss = lambda lp: phi(lp - log_mu) * lp  # noqa: E731
        else:
            c = mpmath.mpf(_CLAMP if log_w > 0 else -_CLAMP)
            neg_loss = lambda lp: phi(c) * lp  # noqa: E731
        return mpmath.diff(neg_loss, log_pi)


# ---------------------------------------------------------------- appendix B GradientWeightDesign


def _design_phi(log_w, A, gamma_pos, gamma_neg, soft, w_th, lam):
    """compute_phi of the appendix-B code read from the seed: w^gamma_pos A for A > 0; for
    A < 0 w^gamma_neg A, or with soft saturation the beta blend times A; 0 for A = 0."""
    if A > 0:
        return _wpow(log_w, gamma_pos) * A
    if A < 0:
        if soft:
            return _blend(log_w, gamma_neg, lam, w_th) * A
        return _wpow(log_w, gamma_neg) * A
    return mpmath.mpf(0)


def oracle_design(
    log_w,
    A,
    gamma_pos,
    gamma_neg,
    use_soft_saturation=True,
    saturation_threshold=3.0,
    saturation_lambda=1.0,
):
    if A == 0:
        return mpmath.mpf(0)
    with mpmath.extradps(_GUARD):
        return _design_phi(
            log_w,
            A,
            gamma_pos,
            gamma_neg,
            use_soft_saturation,
            mpmath.mpf(saturation_threshold),
            mpmath.mpf(saturation_lambda),
        )


def oracle_design_seed_code(
    log_w,
    A,
    gamma_pos,
    gamma_neg,
    use_soft_saturation=True,
    saturation_threshold=3.0,
    saturation_lambda=1.0,
):
    """-dL/dlog_w of the appendix-B ``GradientWeightDesign`` loss L = -phi(exp(clamp(log_w)), A)
    per token, by mpmath.diff of compute_phi in log_w; 0 outside the clamp (constant there)."""
    if A == 0 or not _clamp_grad_passes(log_w):
        return mpmath.mpf(0)
    w_th, lam = mpmath.mpf(saturation_threshold), mpmath.mpf(saturation_lambda)
    with mpmath.extradps(_GUARD):
        return mpmath.diff(
            lambda s: _design_phi(s, A, gamma_pos, gamma_neg, use_soft_saturation, w_th, lam),
            log_w,
        )


# ---------------------------------------------------------------- registration


# ---------------------------------------------------------------- domains (from the docstrings)
# The module docstring: log_w and A finite (NaN or +-inf raise), parameters finite and inside
# the domain each docstring states.


def _fin(*xs) -> bool:
    return all(mpmath.isfinite(mpmath.mpf(x)) for x in xs)


def _ge0(x) -> bool:
    """finite and >= 0 (lam, tau of Michaelis-Menten)."""
    return _fin(x) and x >= 0


def _gt0(x) -> bool:
    """finite and > 0 (M, SAPO's tau)."""
    return _fin(x) and x > 0


def _d_power(log_w, A, gamma):
    # power_weight, box_cox_objective: log_w, A, gamma finite (any real gamma)
    return _fin(log_w, A, gamma)


def _d_asymmetric(log_w, A, gamma_pos, gamma_neg):
    return _fin(log_w, A, gamma_pos, gamma_neg)


def _d_truncated(log_w, A, gamma, M):
    return _fin(log_w, A, gamma) and _gt0(M)


def _d_soft_saturation(log_w, A, gamma, lam):
    # lam < 0 has a pole at u = 1 - 1 / lam
    return _fin(log_w, A, gamma) and _ge0(lam)


def _d_threshold(log_w, A, gamma, lam, w_th):
    # threshold_saturation_weight, sigmoid_blend_weight: gamma, w_th finite, lam >= 0 finite
    return _fin(log_w, A, gamma, w_th) and _ge0(lam)


def _d_mixture(log_w, A, gamma_pos, gamma_neg, lam, w_th):
    return _fin(log_w, A, gamma_pos, gamma_neg, w_th) and _ge0(lam)


def _d_mm(log_w, A, tau):
    # tau >= 0 finite (tau < 0 has a pole at w = -tau; tau = 0 is the SFT limit)
    return _fin(log_w, A) and _ge0(tau)


def _d_sapo(log_w, A, tau):
    # tau > 0 finite (tau = 0 divides by 0)
    return _fin(log_w, A) and _gt0(tau)


def _d_sft(log_w, gamma, use_michaelis_menten=False, mm_tau=1.0):
    return _fin(log_w, gamma) and _ge0(mpmath.mpf(mm_tau))


def _d_sft_seed_code(log_w, log_mu, gamma, use_michaelis_menten=False, mm_tau=1.0):
    return _fin(log_w, log_mu, gamma) and _ge0(mpmath.mpf(mm_tau))


def _d_design(
    log_w,
    A,
    gamma_pos,
    gamma_neg,
    use_soft_saturation=True,
    saturation_threshold=3.0,
    saturation_lambda=1.0,
):
    # gamma_pos, gamma_neg, saturation_threshold finite; saturation_lambda >= 0 (finite, as
    # every parameter of the module), whether or not the soft saturation is used
    return _fin(log_w, A, gamma_pos, gamma_neg, saturation_threshold) and _ge0(
        mpmath.mpf(saturation_lambda)
    )


_DOMAIN = {
    "power_weight": _d_power,
    "box_cox_objective": _d_power,
    "asymmetric_power_weight": _d_asymmetric,
    "truncated_power_weight": _d_truncated,
    "soft_saturation_weight": _d_soft_saturation,
    "threshold_saturation_weight": _d_threshold,
    "sigmoid_blend_weight": _d_threshold,
    "mixture_weight": _d_mixture,
    "michaelis_menten_weight": _d_mm,
    "michaelis_menten_objective": _d_mm,
    "sapo_weight_section_8_1": _d_sapo,
    "sapo_weight": _d_sapo,
    "sft_gradient_weight": _d_sft,
    "sft_gradient_weight_seed_code": _d_sft_seed_code,
    "gradient_weight_design": _d_design,
    "gradient_weight_design_seed_code": _d_design,
}

_DEF_WHY = (
    "mpmath at 50 + 30 guard digits (more where a sigmoid's argument is large): exp, power "
    "and the rational forms are correctly rounded there; 35 required"
)
_QUAD_WHY = (
    "tanh-sinh quadrature at 60 digits on pieces where the integrand varies by at most a "
    "factor e^2 (geometric break points): ~50 digits; 30 required"
)
_DIFF_WHY = (
    "mpmath.diff (central difference at raised working precision) of an analytic function at "
    "80 digits: ~50 digits (checked); 30 required"
)


def _reg(name, route, fn, digits=35, why=_DEF_WHY, atol=0.0):
    register_oracle(
        f"weights.{name}", route, fn, digits=digits, why=why, atol=atol, domain=_DOMAIN[name]
    )


_reg(
    "power_weight",
    "w^gamma A with w = e^log_w an mpmath number, mpmath.power (a one-line definition)",
    oracle_power,
)
_reg(
    "box_cox_objective",
    "section 7.1's integral: A integral_0^log_w e^(gamma s) ds by mpmath.quad (f(1) = 0, "
    "df/dlog w = w^gamma A), not the closed form (w^gamma - 1) / gamma",
    oracle_box_cox,
    digits=30,
    why=_QUAD_WHY,
)
_reg(
    "asymmetric_power_weight",
    "w^gamma(A) A, gamma_pos for A > 0, gamma_neg for A < 0 (a one-line definition)",
    oracle_asymmetric,
)
_reg(
    "truncated_power_weight",
    "section 5.4 scheme 1 branched on w^gamma >= M (a one-line definition)",
    oracle_truncated,
)
_reg(
    "soft_saturation_weight",
    "section 5.4 scheme 2 branched on w^gamma > 1: w^gamma / (1 + lam (w^gamma - 1)) above, "
    "w^gamma below (a one-line definition)",
    oracle_soft_saturation,
)
_reg(
    "threshold_saturation_weight",
    "section 9.2 as printed, branched on w > w_th, w = e^log_w in mpmath (a one-line definition)",
    oracle_threshold_saturation,
)
_reg(
    "sigmoid_blend_weight",
    "appendix-B soft saturation: beta w^gamma + (1 - beta) w, beta and 1 - beta each from its "
    "own exponential at argument-sized precision (a one-line definition)",
    oracle_blend,
)
_reg(
    "mixture_weight",
    "section 9.3 branched on sign(A): w^gamma_+ A, or the beta blend with gamma_- times A",
    oracle_mixture,
)
_reg(
    "michaelis_menten_weight",
    "the seed's rational form (1 + tau) w / (tau + w) A with w = e^log_w in mpmath (not the "
    "sigmoid of log w - log tau)",
    oracle_mm,
)
_reg(
    "michaelis_menten_objective",
    "A integral_0^log_w (1 + tau) e^s / (tau + e^s) ds by mpmath.quad (the integral of phi / w "
    "of section 3), not the closed form log((tau + w) / (tau + 1))",
    oracle_mm_objective,
    digits=30,
    why=_QUAD_WHY,
)
_reg(
    "sapo_weight_section_8_1",
    "section 8.1 as printed, sigma(tau (w - 1)) 4 / tau A, sigma = 1 / (1 + e^-x) "
    "(a one-line definition)",
    oracle_sapo_8_1,
)
_reg(
    "sapo_weight",
    "mpmath.diff in log w of SAPO's objective (4 / tau) sigma(tau (w - 1)) A where "
    "|tau (w - 1)| <= 40; beyond, 4 w / ((1 + e^-x)(1 + e^x)) A at argument-sized precision",
    oracle_sapo,
    digits=30,
    why=_DIFF_WHY,
)
_reg(
    "sft_gradient_weight",
    "section 10.2/10.3: w^gamma, or (1 + tau) w / (tau + w) (a one-line definition)",
    oracle_sft,
)
_reg(
    "sft_gradient_weight_seed_code",
    "mpmath.diff in log_pi of the appendix-B SFTGradientWeight per-token loss "
    "-phi(exp(clamp(log_pi - log_mu))) log_pi, clamp gradient 1 on [-20, 20], 0 outside",
    oracle_sft_seed_code,
    digits=30,
    why=_DIFF_WHY,
)
_reg(
    "gradient_weight_design",
    "appendix-B compute_phi read from the seed: w^gamma_pos A (A > 0); w^gamma_neg A or the "
    "beta blend times A (A < 0); sigmoids from their exponentials",
    oracle_design,
)
_reg(
    "gradient_weight_design_seed_code",
    "mpmath.diff in log_w of the appendix-B compute_phi (the code's loss is -phi), 0 outside "
    "the clamp [-20, 20] (gradient passes at the bounds)",
    oracle_design_seed_code,
    digits=30,
    why=_DIFF_WHY,
)
