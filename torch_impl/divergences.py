"""Torch twins of ``reference.divergences`` (log-normal closed forms, seed 001 sections 7-8)."""

from __future__ import annotations

import math

import torch

from isreshape.torch_impl._ties import cap_below
from isreshape.torch_impl._twofold import exp2w, two_prod, two_sum
from isreshape.torch_impl._validate import (
    LOW_PRECISION,
    _checkable,
    check_finite,
    check_range,
    promote,
)


def lognormal_moment(gamma, mean, sigma2) -> torch.Tensor:
    """E[w^gamma] = exp(gamma mean + gamma^2 sigma2 / 2) for log w ~ N(mean, sigma2)."""
    check_finite("gamma", gamma)
    check_finite("mean", mean)
    check_finite("sigma2", sigma2)
    check_range("sigma2", sigma2, lo=0)
    (gamma, mean, sigma2), out_dtype = promote(gamma, mean, sigma2)
    # exp(x) turns the rounding of x into |x| eps / 2 (176 eps at x = 600): x is carried as
    # hi + lo with the products and the sum error-free (halving is exact)
    m_hi, m_lo = two_prod(gamma, mean)
    g2_hi, g2_lo = two_prod(gamma, gamma)
    v_hi, v_lo = two_prod(g2_hi, sigma2)
    hi, s_lo = two_sum(m_hi, v_hi / 2)
    lo = s_lo + m_lo + (v_lo + g2_lo * sigma2) / 2
    return exp2w(hi, lo).to(out_dtype)


def ess_ratio_lognormal_moments(gamma, mean, sigma2) -> torch.Tensor:
    """E[w^gamma]^2 / E[w^(2 gamma)] from the exact log-normal moments (log domain)."""
    check_finite("gamma", gamma)
    check_finite("mean", mean)
    check_finite("sigma2", sigma2)
    check_range("sigma2", sigma2, lo=0)
    (gamma, mean, sigma2), out_dtype = promote(gamma, mean, sigma2)
    log_m1 = gamma * mean + gamma * gamma * sigma2 / 2
    log_m2 = 2 * gamma * mean + 2 * gamma * gamma * sigma2
    return torch.exp(2 * log_m1 - log_m2).to(out_dtype)


def ess_ratio_lognormal_closed_form(gamma, sigma2) -> torch.Tensor:
    """Seed 001 Theorem 8.2: ESS_gamma / n = exp(-sigma2 gamma^2)."""
    check_finite("gamma", gamma)
    check_finite("sigma2", sigma2)
    check_range("sigma2", sigma2, lo=0)
    (gamma, sigma2), out_dtype = promote(gamma, sigma2)
    return torch.exp(-sigma2 * gamma * gamma).to(out_dtype)


def variance_lognormal_power(gamma, sigma2) -> torch.Tensor:
    """Seed 001 Theorem 7.4: E[w^(2 gamma)] = exp(sigma2 gamma (2 gamma - 1)), mean -sigma2/2."""
    check_finite("gamma", gamma)
    check_finite("sigma2", sigma2)
    check_range("sigma2", sigma2, lo=0)
    (gamma, sigma2), out_dtype = promote(gamma, sigma2)
    return torch.exp(sigma2 * gamma * (2 * gamma - 1)).to(out_dtype)


# ---------------------------------------------------------------- discrete distributions (logits)


def _log_probs(name: str, logits) -> torch.Tensor:
    if not isinstance(logits, torch.Tensor) or not logits.dtype.is_floating_point:
        raise ValueError(f"{name} must be a floating tensor, got {type(logits).__name__}")
    if logits.dim() == 0 or logits.shape[-1] == 0:
        raise ValueError(f"{name} must have at least one outcome along the last dim")
    if _checkable(logits):
        if bool(torch.isnan(logits).any()):
            raise ValueError(f"{name} contains NaN")
        if bool(torch.isposinf(logits).any()):
            raise ValueError(f"{name} contains +inf")
        if bool(torch.isneginf(logits).all(-1).any()):
            raise ValueError(f"{name} has a row with no finite entry (no probability mass)")
    compute = torch.float32 if logits.dtype in LOW_PRECISION else logits.dtype
    x = logits.to(compute)
    # (x - max) - log sum exp(x - max): shifted copies of one logits vector give identical
    # log-probabilities, so KL and Renyi of a distribution with itself are exactly 0.
    top = x.amax(-1, keepdim=True)
    shifted = x - top
    return shifted - torch.logsumexp(shifted, -1, keepdim=True)


def _pair(a, b, names=("logits_p", "logits_q")):
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.shape[-1] != b.shape[-1]:
        raise ValueError(
            f"{names[1]} has {b.shape[-1]} outcomes, expected {a.shape[-1]} ({names[0]})"
        )
    out_dtype = torch.promote_types(a.dtype, b.dtype)
    lp, lq = _log_probs(names[0], a), _log_probs(names[1], b)
    compute = torch.promote_types(lp.dtype, lq.dtype)
    return lp.to(compute), lq.to(compute), out_dtype


def kl_divergence(logits_p, logits_q) -> torch.Tensor:
    """KL(softmax(logits_p) || softmax(logits_q)) along the last dim; -inf logits are masked.
    p_i = 0 contributes 0, p_i > 0 = q_i gives +inf (seed 001 sections 2, 6.4)."""
    lp, lq, out_dtype = _pair(logits_p, logits_q)
    a, b = logits_p.to(lp.dtype), logits_q.to(lp.dtype)
    c = _centred(a, b, lp)
    near = cap_below(c.delta + torch.log1p(c.v - c.delta), 0.0)
    return torch.where(c.ok, near, _kl(lp, lq)).to(out_dtype)


# G(z) = e^z - 1 - z = z^2 sum_k z^k / (k + 2)!, k <= 17 (the next term is below eps / 10 of
# G for |z| <= 1)
_G_COEFFS = [1 / math.factorial(k + 2) for k in range(18)]


def _expm1_minus(z: torch.Tensor) -> torch.Tensor:
    """G(z) = e^z - 1 - z >= 0 without cancellation: the Taylor series for |z| <= 1, else
    expm1(z) - z (which then loses at most a factor 4.4 to cancellation)."""
    small = z.abs() <= 1
    zs = torch.where(small, z, torch.zeros_like(z))
    acc = torch.full_like(z, _G_COEFFS[-1])
    for coeff in reversed(_G_COEFFS[:-1]):
        acc = acc * zs + coeff
    zl = torch.where(small, torch.ones_like(z), z)
    return torch.where(small, zs * zs * acc, torch.expm1(zl) - zl)


class _Centred:
    """The log-ratios of P and Q on the support of P, centred under P (see :func:`_centred`)."""

    def __init__(self, w, y, delta, v, ok):
        self.w, self.y, self.delta, self.v, self.ok = w, y, delta, v, ok


def _centred(a: torch.Tensor, b: torch.Tensor, lp: torch.Tensor) -> _Centred:
    """KL and Renyi of nearby distributions without cancellation.

    With d_i = a_i - b_i (logits of P and Q) on the support of P, pi = P, any centre M and
    y_i = d_i - M: log(p_i / q_i) = y_i + L, where e^(L + M) = sum pi e^-y + r and r = the mass
    of Q outside supp P relative to e^-M (the normalisers cancel exactly). With delta =
    sum pi y (~0) and G(z) = e^z - 1 - z >= 0:
        KL = delta + log1p(S + r - delta),             S = sum pi G(-y),
        D_alpha = log1p(S + r - delta) + log1p(t delta + T) / t,  T = sum pi G(t y), t = alpha - 1.
    Every sum is of nonnegative terms or is delta. d = s + e is exact (two_sum of the logits),
    M is d at the mode of P (shifted copies of a distribution give y = 0 exactly) plus the
    P-mean of the rounded y, so y keeps its relative accuracy and delta is at rounding level.
    ``ok`` marks the rows where this applies: every outcome of P has q > 0 and |y|, log r below
    0.8 log(max float) (else e^-y or r could overflow; those rows keep the direct formula)."""
    a, b, lp = torch.broadcast_tensors(a, b, lp)
    ninf = torch.full_like(a, -math.inf)
    zero = torch.zeros_like(a)
    pos = lp > -math.inf
    clean = pos & (b > -math.inf)
    s, e = two_sum(torch.where(clean, a, zero), -torch.where(clean, b, zero))
    j = lp.argmax(-1, keepdim=True)
    u, v = two_sum(s, -s.gather(-1, j))
    ej = e.gather(-1, j)
    y = torch.where(clean, u + (v + (e - ej)), zero)
    p = torch.where(pos, torch.exp(lp), zero)
    w = p / p.sum(-1, keepdim=True)
    c = (w * y).sum(-1, keepdim=True)
    y = torch.where(clean, y - c, zero)
    delta = (w * y).sum(-1)
    big = 0.8 * math.log(torch.finfo(a.dtype).max)
    # r = exp(lse_{not P}(b) - lse_P(a) + M), M = a_j - b_j - e_j + c, shifted by a_j and b_j
    aj, bj = a.gather(-1, j), b.gather(-1, j)
    bj = torch.where(bj > -math.inf, bj, torch.zeros_like(bj))
    lb = torch.logsumexp(torch.where(pos, ninf, b - bj), -1)
    la = torch.logsumexp(torch.where(pos, a - aj, ninf), -1)
    log_r = lb - la + (c - ej).squeeze(-1)
    r = torch.exp(torch.clamp(log_r, max=big))
    yc = torch.clamp(y, min=-big, max=big)
    ok = ~(pos & ~clean).any(-1) & (y.abs() <= big).all(-1) & (log_r <= big)
    v_ = (w * _expm1_minus(-yc)).sum(-1) + r
    return _Centred(w, yc, delta, v_, ok)


def _kl(lp: torch.Tensor, lq: torch.Tensor) -> torch.Tensor:
    p = torch.exp(lp)
    pos = lp > -math.inf
    # p > 0 = q gives +inf as a constant: p * (lp - lq) with lp - lq = inf would send a NaN
    # gradient through every torch.where that discards this value
    q_zero = pos & (lq == -math.inf)
    diff = torch.where(pos & ~q_zero, lp - lq, torch.zeros_like(lp))
    total = torch.where(pos, p * diff, torch.zeros_like(p)).sum(-1) / p.sum(-1)
    return torch.where(q_zero.any(-1), math.inf, total)


def renyi_divergence(logits_p, logits_q, alpha) -> torch.Tensor:
    """Renyi D_alpha(P || Q) = log(sum p^alpha q^(1 - alpha)) / (alpha - 1), alpha >= 0
    (seed 001 Definition 6.1). alpha = 1 gives KL, alpha = 0 gives -log Q(p > 0).

    Near alpha = 1 it uses log1p(sum p expm1((alpha - 1) log(p / q))) / (alpha - 1), so the
    O(alpha - 1) logarithm keeps its relative accuracy; far from it (or for nearly disjoint
    supports) a logsumexp. The support of P is decided in the log domain. Gradients with
    respect to the logits are finite for finite logits; with respect to alpha they are not
    provided at alpha = 0 and alpha = 1 exactly (those branches are constant in alpha)."""
    check_finite("alpha", alpha)
    check_range("alpha", alpha, lo=0)
    out, out_dtype = _renyi(logits_p, logits_q, alpha, ("logits_p", "logits_q"))
    return out.to(out_dtype)


def _order(x, lp: torch.Tensor, out_dtype: torch.dtype):
    """An order (alpha or gamma) as a tensor in the compute dtype; a Python number does not
    change the output dtype, a tensor promotes it."""
    if isinstance(x, torch.Tensor):
        out_dtype = torch.promote_types(out_dtype, x.dtype)
        compute = torch.promote_types(
            lp.dtype, torch.float32 if x.dtype in LOW_PRECISION else x.dtype
        )
        return x.to(device=lp.device, dtype=compute), compute, out_dtype
    return torch.tensor(x, dtype=lp.dtype, device=lp.device), lp.dtype, out_dtype


def _renyi(a, b, alpha, names) -> tuple[torch.Tensor, torch.dtype]:
    """D_alpha in the compute dtype, and the output dtype."""
    lp, lq, out_dtype = _pair(a, b, names)
    alpha, compute, out_dtype = _order(alpha, lp, out_dtype)
    lp, lq = lp.to(compute), lq.to(compute)
    t = (alpha - 1).unsqueeze(-1)
    p = torch.exp(lp)
    pos = lp > -math.inf  # the support, decided in the log domain (exp may underflow)
    zero = torch.zeros_like(lp)
    y = torch.where(pos, lp - lq, zero)  # log p / q on the support of p (+inf where q = 0)
    # p > 0 = q: e^(t y) is 0 (alpha < 1) or +inf (alpha > 1), a constant; the product t y is
    # never formed there, so its gradient (t * inf) cannot turn into NaN
    q_zero = pos & torch.isposinf(y)
    ty = torch.where(pos & ~q_zero, t * torch.where(q_zero, zero, y), zero)
    ty_lim = torch.where(t < 0, -math.inf, math.inf).expand_as(ty)
    # the near form is used only where |u| < 1/2; capping t y there keeps expm1 finite (and its
    # gradient, which the discarded branch still multiplies by 0) without changing any value used
    big = 0.8 * math.log(torch.finfo(lp.dtype).max)
    em1 = torch.where(q_zero, torch.expm1(ty_lim), torch.expm1(torch.clamp(ty, max=big)))
    mass = p.sum(-1)
    u = torch.where(pos, p * em1, zero).sum(-1) / mass
    near = torch.log1p(u)
    ty_far = torch.where(q_zero, ty_lim, ty)
    far = torch.logsumexp(torch.where(pos, lp + ty_far, torch.full_like(lp, -math.inf)), -1) - (
        torch.logsumexp(lp, -1)
    )
    log_s = torch.where(u.abs() < 0.5, near, far)
    tt = t.squeeze(-1)
    # alpha = 1 takes the KL branch below; a safe divisor keeps its gradient free of 0/0
    safe_t = torch.where(tt == 0, torch.ones_like(tt), tt)
    general = log_s / safe_t
    # the centred form of _centred (no cancellation of nearby P, Q): for alpha >= 1/2 directly
    # (its two logarithms have equal signs for alpha > 1 and lose at most a factor 1 / alpha <= 2
    # for alpha < 1), for 0 < alpha < 1/2 through D_alpha(P || Q) = alpha / (1 - alpha)
    # D_(1 - alpha)(Q || P) (again a factor <= 2); the direct formulas where it does not apply
    a, b = a.to(compute), b.to(compute)
    cen = _centred(a, b, lp)
    direct, ok_direct = _renyi_centred(cen, t)
    swapped, ok_swapped = _renyi_centred(_centred(b, a, lq), -alpha.unsqueeze(-1))
    one_minus = torch.where(alpha < 0.5, 1 - alpha, torch.ones_like(alpha))
    swapped = alpha / one_minus * swapped
    general = torch.where(ok_direct & (alpha >= 0.5) & (tt != 0), direct, general)
    general = torch.where(ok_swapped & (alpha < 0.5) & (alpha > 0), swapped, general)
    # alpha = 0: -log Q(p > 0) as a ratio of sums (exactly 0 when supp P covers supp Q)
    q = torch.exp(lq)
    seen = torch.where(pos, q, torch.zeros_like(q)).sum(-1)
    order0 = -torch.log(seen / q.sum(-1))
    out = torch.where(alpha == 0, order0, general)
    kl = cap_below(cen.delta + torch.log1p(cen.v - cen.delta), 0.0)
    out = torch.where(alpha == 1, torch.where(cen.ok, kl, _kl(lp, lq)), out)
    return cap_below(out, 0.0), out_dtype  # D_alpha >= 0; rounding of the direct forms


def _renyi_centred(cen: _Centred, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """D_alpha (t = alpha - 1, with a trailing unit dim) from the centred log-ratios, >= 0, and
    where it applies (no overflow of e^(t y))."""
    tt = t.squeeze(-1)
    safe_t = torch.where(tt == 0, torch.ones_like(tt), tt)
    ty = t * cen.y
    big = 0.8 * math.log(torch.finfo(cen.y.dtype).max)
    tsum = (cen.w * _expm1_minus(torch.clamp(ty, max=big))).sum(-1)
    val = torch.log1p(cen.v - cen.delta) + torch.log1p(tt * cen.delta + tsum) / safe_t
    return cap_below(val, 0.0), cen.ok & (ty <= big).all(-1)


def power_moment_from_logits(logits_pi, logits_mu, gamma) -> torch.Tensor:
    """E_mu[w^gamma] = sum_{mu_i > 0} mu_i^(1 - gamma) pi_i^gamma (seed 001 Theorem 6.2, left
    side), with w^0 = 1 where pi_i = 0 and +inf for gamma < 0 there."""
    check_finite("gamma", gamma)
    lpi, lmu, out_dtype = _pair(logits_pi, logits_mu, ("logits_pi", "logits_mu"))
    g, compute, out_dtype = _order(gamma, lpi, out_dtype)
    lpi, lmu, g = lpi.to(compute), lmu.to(compute), g.unsqueeze(-1)
    g_lpi = torch.where(g == 0, torch.zeros_like(lpi), g * lpi)
    expo = torch.where(lmu > -math.inf, g_lpi + (1 - g) * lmu, torch.full_like(lmu, -math.inf))
    return torch.exp(torch.logsumexp(expo, -1)).to(out_dtype)


def renyi_identity_rhs(logits_pi, logits_mu, gamma) -> torch.Tensor:
    """exp((gamma - 1) D_gamma(pi || mu)) (seed 001 Theorem 6.2, right side), gamma >= 0.
    +inf for gamma > 1 with pi not << mu, 0 for gamma < 1 and disjoint supports; gamma = 1 with
    KL = inf raises ValueError (checked inputs) or gives NaN (unchecked, e.g. on CUDA)."""
    check_finite("gamma", gamma)
    check_range("gamma", gamma, lo=0)
    d, out_dtype = _renyi(logits_pi, logits_mu, gamma, ("logits_pi", "logits_mu"))
    g = torch.as_tensor(gamma, device=d.device).to(d.dtype)
    out = torch.exp((g - 1) * d)
    if _checkable(out) and bool(torch.isnan(out).any()):
        raise ValueError("gamma = 1 with KL(pi || mu) = inf: (gamma - 1) * D is 0 * inf")
    return out.to(out_dtype)


def renyi_divergence_lognormal(alpha, sigma2) -> torch.Tensor:
    """alpha sigma2 / 2: D_alpha(pi || mu) for log w ~ N(-sigma2 / 2, sigma2) (Assumption 7.3)."""
    check_finite("alpha", alpha)
    check_range("alpha", alpha, lo=0)
    check_finite("sigma2", sigma2)
    check_range("sigma2", sigma2, lo=0)
    (alpha, sigma2), out_dtype = promote(alpha, sigma2)
    return (alpha * sigma2 / 2).to(out_dtype)
