"""Torch twins of ``reference.variational`` (seed 000, IS Reshape v2.1, variational principle).

Same names and formulas as the reference; tensors broadcast, low precision is computed in
float32 and rounded once, no host synchronisation in the math (argument checks run on Python
numbers and CPU tensors only, see ``torch_impl._validate``). sign(-0.0) = 0.

Also here: the seed's section 10 training loss ``is_reshape_v2_loss`` as written (it is not a
reference formula, so it has no fixture of its own), and ``SURROGATES``, which lets
``tests/test_gradients.py`` check that autograd of that loss equals minus the reference
gradient weight ``is_reshape_v2_gradient_weight``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from isreshape.torch_impl._ties import cap_above, cap_below, clip_closed
from isreshape.torch_impl._twofold import sigmoid2, two_prod
from isreshape.torch_impl._validate import (
    _checkable,
    check,
    check_finite,
    check_not_nan,
    check_range,
    promote,
)
from isreshape.torch_impl.gamma import gamma_star_ess

TensorLike = torch.Tensor | float

SIGMA2_FLOOR = 1e-8


def _softplus(x: torch.Tensor) -> torch.Tensor:
    """log(1 + exp(x)) without the threshold approximation of F.softplus."""
    return torch.logaddexp(torch.zeros_like(x), x)


def _slog(log_w: torch.Tensor, A: torch.Tensor) -> torch.Tensor:
    """sign(A) * log_w with 0 * (+-inf) = 0 (w^0 = 1)."""
    s = torch.sign(A)
    prod = s * torch.where(s == 0, torch.zeros_like(log_w), log_w)
    return prod


def _scaled(x: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """x T as (hi, lo) with x T = hi + lo exactly: sigma(+-x T) underflows like e^-|x T|, which
    turns the rounding of the product into a relative error |x T| eps / 2 of the value (64 eps
    at |x T| = 224); the twins evaluate sigma(hi + lo) instead (``_twofold.sigmoid2``)."""
    return two_prod(x, t)


def _clip_ratio(num: torch.Tensor, den: torch.Tensor) -> torch.Tensor:
    """clip(num / den, 0, 1) for den != 0 and num possibly +-inf, with NaN-free gradients:
    the quotient is only formed where it lies in [0, 1]; elsewhere the value is the constant
    0 or 1 (where the clip's gradient is 0 anyway)."""
    inside = (num * den >= 0) & (num.abs() <= den.abs())
    one = torch.ones_like(den)
    q = torch.where(inside, num, torch.zeros_like(num)) / torch.where(inside, den, one)
    above = (num * den > 0).to(q.dtype)
    return torch.where(inside, q, above)


def _check_la(log_w, A, finite_log_w: bool = False) -> None:
    if finite_log_w:
        check_finite("log_w", log_w)
    else:
        check_not_nan("log_w", log_w)
    check_finite("A", A)


def _check_nonzero_log_w(log_w) -> None:
    check_finite("log_w", log_w)
    check("log_w", log_w, lambda t: t != 0, "nonzero (w = 1 makes the ratio .../log w undefined)")


def _check_gamma_base(gamma_base) -> None:
    check_range("gamma_base", gamma_base, lo=0, hi=1)


def _check_temperature(temperature) -> None:
    check_finite("temperature", temperature)
    check_range("temperature", temperature, lo=0, lo_open=True)


# ------------------------------------------------------------------ marginal utilities


def marginal_utility_section_2_3(log_w: TensorLike, A: TensorLike) -> torch.Tensor:
    """phi = 1 / (1 + w^sign(A)) = sigma(-sign(A) log w) (seed 000 section 2.3); A = 0: 1/2."""
    _check_la(log_w, A)
    (log_w, A), out = promote(log_w, A)
    return torch.sigmoid(-_slog(log_w, A)).to(out)


def marginal_utility_hard(log_w: TensorLike, A: TensorLike) -> torch.Tensor:
    """phi = 1[sign(log w) != sign(A)] (seed 000 section 6.3), sign(0) = 0."""
    _check_la(log_w, A)
    (log_w, A), out = promote(log_w, A)
    return (torch.sign(log_w) != torch.sign(A)).to(log_w.dtype).to(out)


def marginal_utility_soft(
    log_w: TensorLike, A: TensorLike, temperature: TensorLike = 1.0
) -> torch.Tensor:
    """phi = sigma(-sign(A) log w T) (seed 000 sections 6.3 / 7.1); A = 0: 1/2."""
    _check_la(log_w, A)
    _check_temperature(temperature)
    (log_w, A, t), out = promote(log_w, A, temperature)
    hi, lo = _scaled(_slog(log_w, A), t)
    return sigmoid2(-hi, -lo).to(out)


# ---------------------------------------------------------------- optimal weight, lambda


def optimal_weight(log_w: TensorLike, A: TensorLike, lam: TensorLike) -> torch.Tensor:
    """f* = phi / (2 lambda |A|), phi = sigma(-sign(A) log w) (seed 000 sections 3.3-3.4, 7.2).

    A = 0 raises ``ValueError``; lam must be finite and > 0.
    """
    _check_la(log_w, A)
    check("A", A, lambda t: t != 0, "nonzero (f* = phi / (2 lambda |A|))")
    check_finite("lam", lam)
    check_range("lam", lam, lo=0, lo_open=True)
    (log_w, A, lam), out = promote(log_w, A, lam)
    x = _slog(log_w, A)
    phi, two_lam, a = torch.sigmoid(-x), 2 * lam, A.abs()
    tiny, big = torch.finfo(phi.dtype).tiny, torch.finfo(phi.dtype).max

    def normal(t: torch.Tensor) -> torch.Tensor:
        return (t >= tiny) & (t <= big)

    # The same two divisions in three orders; the first whose intermediate and result stay
    # normal is exact to a few eps; otherwise the log domain. Each branch sees safe inputs
    # where it is not chosen, so no inf / 0 reaches a gradient.
    ok1 = normal(two_lam * a) & normal(phi / (two_lam * a))
    ok2 = ~ok1 & normal(phi / a) & normal(phi / a / two_lam)
    ok3 = ~ok1 & ~ok2 & normal(phi / two_lam) & normal(phi / two_lam / a)
    ok4 = ~(ok1 | ok2 | ok3)
    one = torch.ones_like(a)
    first = phi / (two_lam * torch.where(ok1, a, one))
    second = phi / torch.where(ok2, a, one) / two_lam
    third = phi / two_lam / torch.where(ok3, a, one)
    logged = torch.exp(-_softplus(x) - torch.log(two_lam) - torch.log(torch.where(ok4, a, one)))
    res = torch.where(ok1, first, torch.where(ok2, second, torch.where(ok3, third, logged)))
    return res.to(out)


def lagrange_multiplier_variance_budget(
    log_w: TensorLike,
    A: TensorLike,
    c_max: TensorLike,
    mask: torch.Tensor | Sequence[bool] | None = None,
    dim: int = -1,
) -> torch.Tensor:
    """lambda = (1/2) sqrt(mean(phi^2) / C_max) over ``dim`` (seed 000 appendix B), phi =
    sigma(-sign(A) log w), the mean taken over the entries selected by ``mask``.

    A must be nonzero on the selected entries, c_max finite > 0, the mask non-empty per row.
    """
    check_not_nan("log_w", log_w)
    check_finite("A", A)
    check_finite("c_max", c_max)
    check_range("c_max", c_max, lo=0, lo_open=True)
    (log_w, A, c_max), out = promote(log_w, A, c_max)
    log_w, A = torch.broadcast_tensors(log_w, A)
    if mask is None:
        keep = torch.ones_like(log_w, dtype=torch.bool)
    else:
        keep = torch.broadcast_to(
            torch.as_tensor(mask, device=log_w.device).to(torch.bool), log_w.shape
        )
    if _checkable(log_w):
        if bool((keep.sum(dim) == 0).any()):
            raise ValueError("mask selects no entries (empty sample) in some row")
        if bool(((A == 0) & keep).any()):
            raise ValueError("A must be nonzero on the selected entries, got 0.0")
    # mean(phi^2) in the log domain (phi = e^-358 would square to a subnormal)
    log_phi = -_softplus(_slog(log_w, A))
    log_phi = torch.where(keep, log_phi, torch.full_like(log_phi, -torch.inf))
    top = log_phi.amax(dim, keepdim=True)
    top = torch.where(torch.isfinite(top), top, torch.zeros_like(top))
    z = torch.exp(log_phi - top)
    n = keep.sum(dim).to(z.dtype)
    rms = torch.sqrt((z * z).sum(dim) / n) * torch.exp(top.squeeze(dim))
    return (rms / torch.sqrt(c_max) / 2).to(out)


# ------------------------------------------------------------------- Theorem 4.1 gammas


def gamma_star_exact(log_w: TensorLike, A: TensorLike, lam: TensorLike) -> torch.Tensor:
    """Theorem 4.1: clip[(-log(2 lambda |A|) - log(1 + w^sign(A))) / log w, 0, 1].

    log_w = 0 raises ``ValueError`` (on unchecked devices the value there is 0, never NaN);
    A = 0 gives 1 for w > 1 and 0 for w < 1 (alpha -> 0+). Gradients are NaN-free.
    """
    _check_nonzero_log_w(log_w)
    check_finite("A", A)
    check_finite("lam", lam)
    check_range("lam", lam, lo=0, lo_open=True)
    (log_w, A, lam), out = promote(log_w, A, lam)
    x = _slog(log_w, A)
    # num = -log(2 alpha) - (log(1 + e^x) - log 2): the two brackets vanish together at
    # alpha = 1/2, w = 1 (a removable 0/0), so each is computed without cancellation
    zero_a = A == 0
    a_safe = torch.where(zero_a, torch.ones_like(A), A.abs())
    log_2alpha = torch.where(
        zero_a, torch.full_like(A, -torch.inf), torch.log(4 * lam) + torch.log(a_safe)
    )
    small = x.abs() < 1
    x_small = torch.where(small, x, torch.zeros_like(x))
    excess = torch.where(
        small,
        torch.log1p(torch.expm1(x_small) / 2),
        _softplus(x) - torch.log(torch.tensor(2.0, dtype=x.dtype)),
    )
    num = -log_2alpha - excess
    return _clip_ratio(num, log_w).to(out)


def gamma_star_approx(log_w: TensorLike, A: TensorLike) -> torch.Tensor:
    """Theorem 4.1 approximate form: clip[-log(1 + w^sign(A)) / log w, 0, 1]; log_w = 0 raises
    ``ValueError`` (on unchecked devices the value there is 0, never NaN)."""
    _check_nonzero_log_w(log_w)
    check_finite("A", A)
    (log_w, A), out = promote(log_w, A)
    return _clip_ratio(-_softplus(_slog(log_w, A)), log_w).to(out)


# ------------------------------------------------------------------- section 6 gammas


def gamma_approx_section_6_1(log_w: TensorLike, A: TensorLike, eps: TensorLike) -> torch.Tensor:
    """Section 6.1: 1 - phi log(1/phi) / max(|log w|, eps), phi = 1 / (1 + w^sign(A)); no clip."""
    _check_la(log_w, A, finite_log_w=True)
    check_finite("eps", eps)
    check_range("eps", eps, lo=0, lo_open=True)
    (log_w, A, eps), out = promote(log_w, A, eps)
    x = _slog(log_w, A)
    denom = cap_below(log_w.abs(), eps)
    return (1 - torch.sigmoid(-x) * _softplus(x) / denom).to(out)


def gamma_practical_section_6_2(
    log_w: TensorLike, A: TensorLike, gamma_base: TensorLike
) -> torch.Tensor:
    """Section 6.2: gamma_base + (1 - gamma_base) w^s / (1 + w^s), s = sign(A)."""
    _check_la(log_w, A)
    _check_gamma_base(gamma_base)
    (log_w, A, gb), out = promote(log_w, A, gamma_base)
    return (gb + (1 - gb) * torch.sigmoid(_slog(log_w, A))).to(out)


# ------------------------------------------------------------ Theorem 7.1 / section 8


def gamma_hard(log_w: TensorLike, A: TensorLike, gamma_base: TensorLike) -> torch.Tensor:
    """Theorem 7.1 / section 8.1: 0 (w > 1, A > 0), 1 (w < 1, A < 0), else gamma_base."""
    _check_la(log_w, A)
    _check_gamma_base(gamma_base)
    (log_w, A, gb), out = promote(log_w, A, gamma_base)
    case1 = (log_w > 0) & (A > 0)
    case4 = (log_w < 0) & (A < 0)
    gb = torch.broadcast_to(gb, torch.broadcast_shapes(log_w.shape, A.shape, gb.shape))
    res = torch.where(case1, torch.zeros_like(gb), torch.where(case4, torch.ones_like(gb), gb))
    return res.to(out)


def gamma_soft_section_8_2(
    log_w: TensorLike, A: TensorLike, gamma_base: TensorLike, temperature: TensorLike
) -> torch.Tensor:
    """Section 8.2 as printed: gamma_base sigma(-s l T) + sigma(l T) (1 - sigma(-s l T))."""
    _check_la(log_w, A)
    _check_gamma_base(gamma_base)
    _check_temperature(temperature)
    (log_w, A, gb, t), out = promote(log_w, A, gamma_base, temperature)
    hi, lo = _scaled(log_w, t)  # l T = hi + lo; s l T = s hi + s lo (sign flips are exact)
    s = torch.sign(A)
    xh, xl = torch.where(s == 0, torch.zeros_like(hi), s * hi), s * lo
    xh, xl = torch.broadcast_tensors(xh, xl)
    return (gb * sigmoid2(-xh, -xl) + sigmoid2(hi, lo) * sigmoid2(xh, xl)).to(out)


def gamma_soft_section_8_2_corrected(
    log_w: TensorLike, A: TensorLike, gamma_base: TensorLike, temperature: TensorLike
) -> torch.Tensor:
    """Section 8.2 corrected: gamma_base phi + sigma(-l T) (1 - phi), phi = sigma(-s l T)."""
    _check_la(log_w, A)
    _check_gamma_base(gamma_base)
    _check_temperature(temperature)
    (log_w, A, gb, t), out = promote(log_w, A, gamma_base, temperature)
    hi, lo = _scaled(log_w, t)  # l T = hi + lo; s l T = s hi + s lo (sign flips are exact)
    s = torch.sign(A)
    xh, xl = torch.where(s == 0, torch.zeros_like(hi), s * hi), s * lo
    xh, xl = torch.broadcast_tensors(xh, xl)
    return (gb * sigmoid2(-xh, -xl) + sigmoid2(-hi, -lo) * sigmoid2(xh, xl)).to(out)


def gamma_soft_section_8_3(
    log_w: TensorLike, A: TensorLike, gamma_base: TensorLike
) -> torch.Tensor:
    """Section 8.3 as printed: gamma_base + (1 - gamma_base) sigma(l) sigma(-A)
    - gamma_base sigma(-l) sigma(A) (computed without cancellation)."""
    _check_la(log_w, A)
    _check_gamma_base(gamma_base)
    (log_w, A, gb), out = promote(log_w, A, gamma_base)
    p_hi, p_lo, p_neg = torch.sigmoid(log_w), torch.sigmoid(-log_w), torch.sigmoid(-A)
    return (gb * (p_hi + p_lo * p_neg) + (1 - gb) * p_hi * p_neg).to(out)


def gamma_soft_section_8_3_corrected(
    log_w: TensorLike, A: TensorLike, gamma_base: TensorLike, temperature: TensorLike
) -> torch.Tensor:
    """Section 8.3 corrected: gamma_base + (1 - gamma_base) P4 - gamma_base P1, P4 =
    sigma(-l T) sigma(-A T), P1 = sigma(l T) sigma(A T) (= the section 10 code before clamp)."""
    _check_la(log_w, A)
    _check_gamma_base(gamma_base)
    _check_temperature(temperature)
    (log_w, A, gb, t), out = promote(log_w, A, gamma_base, temperature)
    lh, ll = _scaled(log_w, t)
    ah, al = _scaled(A, t)
    p_hi, p_lo, p_neg = sigmoid2(lh, ll), sigmoid2(-lh, -ll), sigmoid2(-ah, -al)
    return (gb * (p_lo + p_hi * p_neg) + (1 - gb) * p_lo * p_neg).to(out)


# ------------------------------------------------------------------ section 10 code


def _code_checks(log_w, A, rho_min, gamma_min, gamma_max, temperature) -> None:
    check_finite("log_w", log_w)
    check_finite("A", A)
    check_range("rho_min", rho_min, lo=0, hi=1, lo_open=True)
    check_range("gamma_max", gamma_max, lo=0, hi=1)
    check_range("gamma_min", gamma_min, lo=0)
    check(
        "gamma_min",
        torch.as_tensor(gamma_min) - torch.as_tensor(gamma_max),
        lambda t: t <= 0,
        f"<= gamma_max = {gamma_max!r}",
    )
    _check_temperature(temperature)


def _keep(mask, like: torch.Tensor) -> torch.Tensor:
    if mask is None:
        return torch.ones_like(like, dtype=torch.bool)
    return torch.broadcast_to(torch.as_tensor(mask, device=like.device).to(torch.bool), like.shape)


def is_reshape_v2_gamma(
    log_w: TensorLike,
    A: TensorLike,
    mask: torch.Tensor | Sequence[bool] | None = None,
    rho_min: TensorLike = 0.3,
    gamma_min: TensorLike = 0.0,
    gamma_max: TensorLike = 1.0,
    temperature: TensorLike = 5.0,
    dim: int = -1,
) -> torch.Tensor:
    """Per-token gamma of the section 10 code ``is_reshape_v2_gamma`` (no ``.item()``).

    gamma_base from the unbiased variance of the selected log_w along ``dim`` (0 for fewer than
    two entries; gamma_max when sigma2 < 1e-8) via ``gamma_star_ess``, clamped to
    [gamma_min, gamma_max]; gamma = clamp(gamma_base (P2 + P3) + P4, gamma_min, gamma_max).
    """
    _code_checks(log_w, A, rho_min, gamma_min, gamma_max, temperature)
    (log_w, A, rho, gmin, gmax, t), out = promote(
        log_w, A, rho_min, gamma_min, gamma_max, temperature
    )
    log_w, A = torch.broadcast_tensors(log_w, A)
    keep = _keep(mask, log_w)
    kf = keep.to(log_w.dtype)
    n = kf.sum(dim, keepdim=True)
    mean = (kf * log_w).sum(dim, keepdim=True) / n.clamp(min=1)
    dev = torch.where(keep, log_w - mean, torch.zeros_like(log_w))
    sigma2 = (dev * dev).sum(dim, keepdim=True) / (n - 1).clamp(min=1)
    sigma2 = torch.where(n > 1, sigma2, torch.zeros_like(sigma2))
    small = sigma2 < SIGMA2_FLOOR
    safe = torch.where(small, torch.ones_like(sigma2), sigma2)
    gb = torch.where(small, gmax, cap_above(gamma_star_ess(safe, rho), gmax))
    gb = cap_below(gb, gmin)
    p_hi, p_lo = torch.sigmoid(log_w * t), torch.sigmoid(-log_w * t)
    p_pos, p_neg = torch.sigmoid(A * t), torch.sigmoid(-A * t)
    gamma = gb * (p_hi * p_neg + p_lo * p_pos) + p_lo * p_neg
    return clip_closed(gamma, gmin, gmax).to(out)


def is_reshape_v2_gradient_weight(
    log_w: TensorLike,
    A: TensorLike,
    mask: torch.Tensor | Sequence[bool] | None = None,
    rho_min: TensorLike = 0.3,
    gamma_min: TensorLike = 0.0,
    gamma_max: TensorLike = 1.0,
    temperature: TensorLike = 5.0,
    dim: int = -1,
) -> torch.Tensor:
    """-d pg_loss / d log_prob of the section 10 loss: m w^gamma A / sum(m) (gamma detached).

    The exponent is replaced by 0 where m = 0 or A = 0 (both give 0), so an overflowing
    w^gamma never meets a zero factor (no inf * 0 = NaN, in values or gradients). An empty
    mask raises ``ValueError`` (the loss divides by 0).
    """
    gamma = is_reshape_v2_gamma(log_w, A, mask, rho_min, gamma_min, gamma_max, temperature, dim)
    (log_w, A, gamma), out = promote(log_w, A, gamma)
    log_w, A = torch.broadcast_tensors(log_w, A)
    keep = _keep(mask, log_w)
    n = keep.to(log_w.dtype).sum(dim, keepdim=True)
    if _checkable(log_w) and bool((n == 0).any()):
        raise ValueError("mask selects no entries: the loss divides by mask.sum() = 0")
    live = keep & (A != 0)
    expo = torch.where(live, gamma * log_w, torch.zeros_like(log_w))
    return (torch.exp(expo) * A * live.to(A.dtype) / n).to(out)


def is_reshape_v2_loss(
    log_prob: torch.Tensor,
    old_log_prob: torch.Tensor,
    ref_log_prob: torch.Tensor,
    advantages: torch.Tensor,
    response_mask: torch.Tensor,
    **kwargs,
) -> torch.Tensor:
    """The seed's section 10 loss as written (metrics dropped): log_w = log_prob - ref_log_prob
    (``old_log_prob`` is unused, as in the seed), gamma from :func:`is_reshape_v2_gamma` over
    the last dimension, w^gamma detached, pg_loss = -sum(w^gamma A log_prob m) / sum(m).

    Returns a 0-d tensor. An empty mask raises ``ValueError`` on checkable devices.
    """
    del old_log_prob  # unused by the seed's code (it uses ref_log_prob as the behaviour policy)
    log_w = log_prob - ref_log_prob
    gamma = is_reshape_v2_gamma(log_w, advantages, response_mask, **kwargs)
    w_gamma = torch.exp(gamma * log_w).detach()
    m = response_mask.to(log_prob.dtype)
    if _checkable(m) and bool(m.sum() == 0):
        raise ValueError("response_mask selects no entries: the loss divides by 0")
    return -(w_gamma * advantages * log_prob * m).sum() / m.sum()


def _seed_loss_surrogate(
    log_w: torch.Tensor, A: TensorLike, mask: Sequence[bool] | None = None, **kwargs
) -> torch.Tensor:
    """The section 10 loss with log_prob = log_w (ref_log_prob = 0), the gradient target."""
    log_w_t = torch.as_tensor(log_w)
    m = torch.ones_like(log_w_t) if mask is None else torch.as_tensor(mask, dtype=log_w_t.dtype)
    zeros = torch.zeros_like(log_w_t)
    return is_reshape_v2_loss(
        log_w_t, zeros, zeros, torch.as_tensor(A, dtype=log_w_t.dtype), m, **kwargs
    )


SURROGATES = {"is_reshape_v2_gradient_weight": _seed_loss_surrogate}
