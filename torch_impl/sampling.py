"""Torch twins of ``reference.sampling``: the optimal sampling distribution of seed 004.

Batched over any leading shape, vocabulary on the last dim, inputs are logits (float64,
float32, bfloat16; bfloat16 / float16 are computed in float32). Conventions (support, alpha* at
the edges, endpoints of the family) are those of :mod:`reference.sampling`; read its module
docstring. ``alpha`` arguments have the batch shape (the logits' shape without the last dim) or
broadcast to it.

The solver (:func:`optimal_alpha`) runs a fixed number of passes over the vocabulary (no
``.item()``, no data-dependent Python branching, so no host synchronisation on CUDA and
``torch.compile`` friendly). Argument checks (NaN / +inf logits, rows without mass, disjoint
supports) run on CPU tensors, on accelerators only with
``torch_impl._validate.set_device_validation(True)``; unchecked invalid rows give NaN.
"""

from __future__ import annotations

import math

import torch

from isreshape.torch_impl._twofold import exp2w, two_sum
from isreshape.torch_impl._validate import LOW_PRECISION, _checkable
from isreshape.torch_impl.divergences import (
    _expm1_minus,
    kl_divergence,  # noqa: F401  (one KL: re-exported here)
)

NEG_INF = float("-inf")

# --------------------------------------------------------------------------- helpers


def _compute_dtype(*xs: torch.Tensor) -> tuple[torch.dtype, torch.dtype]:
    dtype = xs[0].dtype
    for x in xs[1:]:
        dtype = torch.promote_types(dtype, x.dtype)
    if not dtype.is_floating_point:
        dtype = torch.get_default_dtype()
    return (torch.float32 if dtype in LOW_PRECISION else dtype), dtype


def _raise_bad_logits(name: str, x: torch.Tensor) -> None:
    """ValueError naming the argument, the first bad index and the value (as the reference)."""

    def at(mask):
        return ", ".join(str(int(k)) for k in mask.nonzero()[0])

    if bool(torch.isnan(x).any()):
        raise ValueError(f"{name}[{at(torch.isnan(x))}] is NaN")
    if bool(torch.isposinf(x).any()):
        raise ValueError(f"{name}[{at(torch.isposinf(x))}] is +inf (logits must be finite or -inf)")
    empty = ~torch.isfinite(x).any(-1)
    row = "" if x.dim() == 1 else f" in row {tuple(int(k) for k in empty.nonzero()[0])}"
    raise ValueError(f"every entry of {name} is -inf{row}: the distribution has no mass")


def _check_logits(name: str, x) -> None:
    if not isinstance(x, torch.Tensor) or not x.dtype.is_floating_point:
        raise ValueError(f"{name} must be a floating tensor of logits, got {type(x).__name__}")
    if x.dim() == 0 or x.shape[-1] == 0:
        raise ValueError(
            f"{name} must have a non-empty last (vocabulary) dim, got {tuple(x.shape)}"
        )
    if not _checkable(x):
        return
    top = x.amax(-1)  # NaN if a row has a NaN, +inf if it has +inf, -inf if it has no mass
    if not bool(torch.isfinite(top).all()):
        _raise_bad_logits(name, x)


def _check_pair(x, y, names=("logits_theta", "logits_target")) -> None:
    _check_logits(names[0], x)
    _check_logits(names[1], y)
    if x.shape[-1] != y.shape[-1]:
        raise ValueError(
            f"{names[0]} and {names[1]} have vocabularies {x.shape[-1]} and {y.shape[-1]}"
        )


def _check_common(x, y) -> None:
    if _checkable(x) and _checkable(y):
        common = torch.isfinite(x) & torch.isfinite(y)
        if bool((~common.any(-1)).any()):
            raise ValueError(
                "pi_theta and pi_target have disjoint supports in some row: the geometric "
                "family is empty for 0 < alpha < 1"
            )


def _check_alpha(alpha) -> None:
    if isinstance(alpha, torch.Tensor):
        if _checkable(alpha):
            ok = (alpha >= 0) & (alpha <= 1)
            if not bool(ok.all()):
                raise ValueError(
                    f"alpha must lie in [0, 1], got {alpha[~ok].flatten()[:4].tolist()}"
                )
    elif not (0 <= float(alpha) <= 1):
        raise ValueError(f"alpha must lie in [0, 1], got {alpha!r}")


def _prep(x, y, names=("logits_theta", "logits_target")):
    _check_pair(x, y, names)
    compute, out = _compute_dtype(x, y)
    x, y = torch.broadcast_tensors(x.to(compute), y.to(compute))
    return x, y, out


def _alpha_col(alpha, like: torch.Tensor) -> torch.Tensor:
    a = torch.as_tensor(alpha, dtype=like.dtype, device=like.device)
    return a.unsqueeze(-1) if a.dim() > 0 else a


def _check_interior_common(x, y, a) -> None:
    if _checkable(x):
        interior = (a > 0) & (a < 1)
        common = (torch.isfinite(x) & torch.isfinite(y)).any(-1, keepdim=True)
        if bool((interior & ~common).any()):
            raise ValueError("disjoint supports: q_alpha is undefined for 0 < alpha < 1")


def _family_raw(x, y, a):
    """Unnormalised log q_alpha from raw logits x (theta), y (target), a broadcastable to x:
    y + a (x - y) on the common support, the exact endpoints at a in {0, 1}."""
    common = torch.isfinite(x) & torch.isfinite(y)
    inner = torch.where(common, y + a * torch.where(common, x - y, 0.0), NEG_INF)
    return torch.where(a == 0, y, torch.where(a == 1, x, inner))


def _xlogy_sum(lp: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """sum p f over supp p (p = exp(lp)); 0 * anything = 0 off the support."""
    fin = torch.isfinite(lp)
    return torch.where(fin, torch.exp(lp) * torch.where(fin, f, 0.0), 0.0).sum(-1)


def _kl(lp: torch.Tensor, lq: torch.Tensor) -> torch.Tensor:
    """D(p || q) from log-probabilities, +inf when supp p is not inside supp q."""
    fp, fq = torch.isfinite(lp), torch.isfinite(lq)
    term = torch.exp(lp) * torch.where(fp & fq, lp - lq, 0.0)
    term = torch.where(fp & ~fq, math.inf, term)
    return torch.where(fp, term, 0.0).sum(-1)


# ------------------------------------------------------------------------ distributions


def _entropy_scaled(z: torch.Tensor):
    """H(softmax(z)) = e^(m_hi + m_lo) h, without cancellation and without underflow of h.

    With r the first argmax of z, u = z - z[r] on the other finite entries (exact as
    u_hi + u_lo, two_sum), T = sum e^u: H = log1p(T) + sum e^u (-u) / (1 + T), two sums of
    nonnegative terms (no log-softmax, whose peak entry log p_r = -log1p(T) would be formed as
    a difference of O(|z|) numbers). m = max u (the second-largest logit minus the largest);
    h = T' log1p(T) / T + sum t (-u) / (1 + T) with t = e^(u - m), T' = sum t >= 1, is of
    order 1 to V |u| even where H underflows. Returns (m_hi, m_lo, h, one_hot); one-hot rows
    (a single finite entry) give h = 0 and m = 0."""
    fin = torch.isfinite(z)
    top = z.amax(-1, keepdim=True)
    r = z.argmax(-1, keepdim=True)
    pos = torch.arange(z.shape[-1], device=z.device)
    off = fin & (pos != r)
    zero = torch.zeros_like(z)
    u_hi, u_lo = two_sum(torch.where(off, z, top), -top)
    u_hi = torch.where(off, u_hi, -math.inf)
    j = u_hi.argmax(-1, keepdim=True)
    one_hot = ~off.any(-1, keepdim=True)
    m_hi = torch.where(one_hot, 0.0, u_hi.gather(-1, j))
    m_lo = torch.where(one_hot, 0.0, u_lo.gather(-1, j))
    v_hi, v_err = two_sum(torch.where(off, u_hi, m_hi), -m_hi)
    t = torch.where(off, exp2w(v_hi, v_err + (u_lo - m_lo)), zero)
    big_t1 = t.sum(-1, keepdim=True)  # T' = T e^-m, >= 1 (0 for one-hot rows)
    big_t = big_t1 * exp2w(m_hi, m_lo)
    small = big_t < torch.finfo(z.dtype).eps ** 2  # log1p(T) / T = 1 - T / 2 + ... rounds to 1
    ratio = torch.where(small, 1.0, torch.log1p(big_t) / torch.where(small, 1.0, big_t))
    lin = (t * torch.where(off, -(u_hi + u_lo), zero)).sum(-1, keepdim=True)
    h = big_t1 * ratio + lin / (1 + big_t)
    return m_hi.squeeze(-1), m_lo.squeeze(-1), h.squeeze(-1), one_hot.squeeze(-1)


def entropy(logits: torch.Tensor) -> torch.Tensor:
    """H(pi) = -sum pi log pi of softmax(logits) over the last dim (one-hot rows give 0).

    Computed as log1p(T) + sum_{y != r} e^u (-u) / (1 + T), u = logits - max, T = sum e^u
    (two sums of nonnegative terms; see :func:`_entropy_scaled`)."""
    _check_logits("logits", logits)
    compute, out = _compute_dtype(logits)
    return _entropy(logits.to(compute)).to(out)


def _entropy(z: torch.Tensor) -> torch.Tensor:
    m_hi, m_lo, h, _ = _entropy_scaled(z)
    return exp2w(m_hi, m_lo) * h


def geometric_log_probs(logits_theta, logits_target, alpha) -> torch.Tensor:
    """log q_alpha (log-probabilities), q_alpha = pi_theta^alpha pi_t^(1-alpha) / Z (5.3).

    Exact endpoints (alpha = 1: pi_theta, alpha = 0: pi_t); common support inside."""
    x, y, out = _prep(logits_theta, logits_target)
    _check_alpha(alpha)
    a = _alpha_col(alpha, x)
    _check_interior_common(x, y, a)
    return torch.log_softmax(_family_raw(x, y, a), -1).to(out)


def geometric_distribution(logits_theta, logits_target, alpha) -> torch.Tensor:
    """q_alpha as probabilities (see :func:`geometric_log_probs`)."""
    x, y, out = _prep(logits_theta, logits_target)
    _check_alpha(alpha)
    a = _alpha_col(alpha, x)
    _check_interior_common(x, y, a)
    return torch.softmax(_family_raw(x, y, a), -1).to(out)


def log_partition(logits_theta, logits_target, alpha) -> torch.Tensor:
    """log Z_alpha = log sum pi_theta^alpha pi_t^(1-alpha) (normalised pi's; 0 at the
    endpoints and for identical distributions, -inf for disjoint supports inside)."""
    x, y, out = _prep(logits_theta, logits_target)
    _check_alpha(alpha)
    a = _alpha_col(alpha, x)
    lx, ly = torch.log_softmax(x, -1), torch.log_softmax(y, -1)
    # renormalising the log-softmax outputs once more makes every exact 0 come out exactly
    # (endpoints, identical and one-hot rows): the same operations on the same numbers cancel
    cx, cy = torch.logsumexp(lx, -1), torch.logsumexp(ly, -1)
    a0 = a.squeeze(-1) if a.dim() > 0 else a
    direct = (torch.logsumexp(_family_raw(lx, ly, a), -1) - cy) - a0 * (cx - cy)
    # rows where the family's KLs are computed without cancellation: log Z from them (a sum of
    # two nonpositive terms; the direct form is a difference of O(|log p|) log-normalisers)
    _, _, ok, log_z = _family_kls(x, y, a)
    return torch.where(ok, log_z, direct).to(out)


def _family_terms(logits_theta, logits_target, alpha):
    x, y, out = _prep(logits_theta, logits_target)
    _check_alpha(alpha)
    a = _alpha_col(alpha, x)
    _check_interior_common(x, y, a)
    lq = torch.log_softmax(_family_raw(x, y, a), -1)
    return lq, torch.log_softmax(x, -1), torch.log_softmax(y, -1), out, (x, y, a)


# G(z) = e^z - 1 - z >= 0 without cancellation: one implementation, in divergences
_g = _expm1_minus


def _family_kls(x, y, a):
    """(KL(q_a || pi_theta), KL(q_a || pi_t), ok) without a difference of log-normalisers.

    For rows with equal supports. Base b = pi_theta if a >= 1/2 else pi_t (o the other, s the
    exponent of o: q = b^(1-s) o^s / Z, s <= 1/2). On the support, l_o - l_b = g - K(1) with
    g = z_o - z_b (raw logits, exact in two words), centred: y = g - sum_b b g (so E_b y = delta
    is at rounding level), K(t) = log E_b e^(t y) = log1p(t delta + E_b G(t y)). Then
    log(q / b) = s y - K(s) =: zb and log(q / o) = zb - y + K(1) =: zo, and since q, b, o all
    sum to 1 on the support, KL(q || b) = E_q[G(-zb)] and KL(q || o) = E_q[G(-zo)]: sums of
    nonnegative terms. ok marks the rows used (equal supports, max |y| <= log(max float) / 2);
    the callers keep the direct log-softmax formulas on the others. Unequal supports (for
    0 < a < 1, where q lives on the common support S): the same on S with b, o renormalised to
    S, plus -log b(S) >= 0 and -log o(S) >= 0 (log1p of the off-S mass ratios)."""
    first = a >= 0.5
    u = torch.where(first, x, y)  # base logits
    v = torch.where(first, y, x)
    s = torch.where(first, 1 - a, a)
    fu, fv = torch.isfinite(u), torch.isfinite(v)
    fin = fu & fv  # the common support S
    interior = (a > 0) & (a < 1)
    ok = fin.any(-1, keepdim=True) & ((fu == fv).all(-1, keepdim=True) | interior)
    fin_ok = fin & ok
    zero = torch.zeros_like(u)
    lim = 0.5 * math.log(torch.finfo(u.dtype).max)

    def log_mass_off(z, fz):  # -log pi(S) = log1p(mass off S / mass on S) >= 0
        top = torch.where(fin_ok, z, NEG_INF).amax(-1, keepdim=True)
        top = torch.where(torch.isfinite(top), top, zero[..., :1])
        dz = torch.where(fz, z - top, NEG_INF)
        on = torch.where(fin_ok, torch.exp(dz), zero).sum(-1, keepdim=True)
        off_d = torch.where(fz & ~fin, dz, NEG_INF)
        off = torch.exp(off_d.clamp(max=lim)).sum(-1, keepdim=True)
        return torch.log1p(off / torch.where(on > 0, on, 1.0)), off_d.amax(-1, keepdim=True)

    l_b, top_b = log_mass_off(u, fu)
    l_o, top_o = log_mass_off(v, fv)
    ok = ok & (top_b <= lim) & (top_o <= lim)
    fin_ok = fin & ok
    uu = torch.where(fin_ok, u, zero)
    g_hi, g_lo = two_sum(torch.where(fin_ok, v, zero), -uu)
    pb = torch.softmax(torch.where(fin_ok, u, NEG_INF), -1)
    pb = torch.where(fin_ok, pb, zero)
    c = (pb * g_hi).sum(-1, keepdim=True)
    yy = torch.where(fin_ok, (g_hi - c) + g_lo, zero)
    yy = torch.where(fin_ok, yy - (pb * yy).sum(-1, keepdim=True), zero)  # re-centred
    delta = (pb * yy).sum(-1, keepdim=True)
    # e^(t y) must stay finite: wider rows keep the direct formulas
    ok = ok & (yy.abs().amax(-1, keepdim=True) <= 0.5 * math.log(torch.finfo(u.dtype).max))
    yy = torch.where(ok, yy, zero)

    def big_k(t):
        return torch.log1p(t * delta + (pb * _g(t * yy)).sum(-1, keepdim=True))

    ks, k1 = big_k(s), big_k(torch.ones_like(s))
    zb = s * yy - ks
    q = torch.where(fin_ok, pb * torch.exp(zb), zero)
    zo = zb - yy + k1
    kl_b = (q * torch.where(fin_ok, _g(-zb), zero)).sum(-1) + l_b.squeeze(-1)
    kl_o = (q * torch.where(fin_ok, _g(-zo), zero)).sum(-1) + l_o.squeeze(-1)
    f = first.squeeze(-1) if first.dim() > 0 else first
    kl_theta = torch.where(f, kl_b, kl_o)
    kl_t = torch.where(f, kl_o, kl_b)
    s0 = s.squeeze(-1) if s.dim() > 0 else s
    # log Z = -((1 - s) KL(q||b) + s KL(q||o)) (log q = (1 - s) log b + s log o - log Z on S)
    log_z = -((1 - s0) * kl_b + s0 * kl_o)
    return kl_theta, kl_t, ok.squeeze(-1), log_z


def delta_alpha(logits_theta, logits_target, alpha) -> torch.Tensor:
    """Delta(alpha) = E_{q_alpha}[log pi_t - log pi_theta] (6.4); +-inf at an endpoint whose
    support is larger than the other distribution's."""
    lq, lx, ly, out, xya = _family_terms(logits_theta, logits_target, alpha)
    fq, fx, fy = torch.isfinite(lq), torch.isfinite(lx), torch.isfinite(ly)
    term = torch.exp(lq) * torch.where(fx & fy, ly - lx, 0.0)
    term = torch.where(fq & ~fx, math.inf, torch.where(fq & ~fy, -math.inf, term))
    direct = torch.where(fq, term, 0.0).sum(-1)
    # D(q||pi_theta) - D(q||pi_t) from the cancellation-free KLs where they apply
    ka, kb, ok, _ = _family_kls(*xya)
    return torch.where(ok, ka - kb, direct).to(out)


def kl_q_theta(logits_theta, logits_target, alpha) -> torch.Tensor:
    """D(q_alpha || pi_theta) (decreasing in alpha, 0 at alpha = 1)."""
    lq, lx, _, out, xya = _family_terms(logits_theta, logits_target, alpha)
    ka, _, ok, _ = _family_kls(*xya)
    return torch.where(ok, ka, _kl(lq, lx)).to(out)


def kl_q_target(logits_theta, logits_target, alpha) -> torch.Tensor:
    """D(q_alpha || pi_t) (increasing in alpha, 0 at alpha = 0)."""
    lq, _, ly, out, xya = _family_terms(logits_theta, logits_target, alpha)
    _, kb, ok, _ = _family_kls(*xya)
    return torch.where(ok, kb, _kl(lq, ly)).to(out)


def kl_symmetry_error(logits_theta, logits_target, alpha) -> torch.Tensor:
    """|D(q||pi_theta) - D(q||pi_t)| / (D(q||pi_theta) + D(q||pi_t)) (7.4, no eps); 0 for
    identical distributions; ValueError (CPU) / NaN where a KL is infinite."""
    lq, lx, ly, out, xya = _family_terms(logits_theta, logits_target, alpha)
    ka_c, kb_c, ok, _ = _family_kls(*xya)
    ka = torch.where(ok, ka_c, _kl(lq, lx))
    kb = torch.where(ok, kb_c, _kl(lq, ly))
    if _checkable(lq) and bool((torch.isinf(ka) | torch.isinf(kb)).any()):
        raise ValueError("a KL of q_alpha is infinite (support mismatch at an endpoint)")
    tot = ka + kb
    safe = torch.where(tot == 0, 1.0, tot)
    return torch.where(tot == 0, 0.0, (ka - kb).abs() / safe).to(out)


# ------------------------------------------------------------------------------- ESS


def ess_section_4_5(logits_pi, logits_q) -> torch.Tensor:
    """1 / sum_y pi^2 / q (section 4.5): 0 when pi has mass where q has none."""
    x, y, out = _prep(logits_pi, logits_q, ("logits_pi", "logits_q"))
    lp, lq = torch.log_softmax(x, -1), torch.log_softmax(y, -1)
    fp = torch.isfinite(lp)
    t = torch.exp(torch.where(fp, 2 * lp - lq, NEG_INF))
    return (1 / t.sum(-1)).to(out)


def ess_section_4_2(logits_pi, logits_q, n) -> torch.Tensor:
    """N / E_q[w^2] = N / sum_{q > 0} pi^2 / q (section 4.2; ignores pi's mass off supp q)."""
    if isinstance(n, torch.Tensor):
        if _checkable(n) and not bool(((n > 0) & torch.isfinite(n)).all()):
            raise ValueError(f"n must be positive and finite, got {n}")
    elif not (math.isfinite(float(n)) and float(n) > 0):
        raise ValueError(f"n must be positive and finite, got {n!r}")
    x, y, out = _prep(logits_pi, logits_q, ("logits_pi", "logits_q"))
    lp, lq = torch.log_softmax(x, -1), torch.log_softmax(y, -1)
    both = torch.isfinite(lp) & torch.isfinite(lq)
    if _checkable(x) and bool((~both.any(-1)).any()):
        raise ValueError("pi and q have disjoint supports: ESS undefined")
    t = torch.exp(torch.where(both, 2 * lp - lq, NEG_INF))
    return (n / t.sum(-1)).to(out)


# --------------------------------------------------------------------------- alpha*

DEFAULT_PASSES = {torch.float64: 5}  # float64 internals; float32 internals: FAST_PASSES
DEFAULT_CHUNK_ELEMS = 1 << 19
SMALL_VOCAB = 1024  # below this, float32 / bfloat16 rows are solved with float64 internals


SERIES_SPREAD = 0.05  # float64 internals: rows with spread(e) <= this use the cumulant series
SERIES_TERMS = 10  # kappa_2 .. kappa_10: dropped terms ~(spread / pi)^9 < 1e-16 relative


def _series_alpha(mom: torch.Tensor, big_l: torch.Tensor) -> torch.Tensor:
    """alpha* = 1 - t from g(t) = sum_{n>=2} kappa_n (t^(n-1)/(n-1)! - 1/n!) + L = 0, the
    shift-free condition K'(t) = K(1) - L in cumulants of e under p (kappa_1 cancels exactly).

    ``mom`` [n, N + 1] holds the raw moments 1, E_p ec, ..., E_p ec^N of the (nearly) centred
    ec (float64). g is increasing (g' = Var of the tilted e) and nearly linear where the series
    is used (|kappa_3 / kappa_2| <= spread), so 4 clamped Newton steps from the linear root
    reach the rounding. Endpoints as in the reference; kappa_2 == 0 (e constant on S): 1/2 if
    L == 0, else 1 (L > 0) or 0 (L < 0). Vectorised over rows (called once per solve)."""
    big_n = mom.shape[-1] - 1
    kap = torch.zeros_like(mom)
    for n in range(1, big_n + 1):  # cumulants from moments, one vectorised step per order
        comb = mom.new_tensor([math.comb(n - 1, j - 1) for j in range(1, n)])
        kap[:, n] = mom[:, n] - (comb * kap[:, 1:n] * mom[:, 1:n].flip(-1)).sum(-1)
    k = kap[:, 2:]  # kappa_2 .. kappa_N
    j = torch.arange(1, big_n, dtype=mom.dtype, device=mom.device)  # powers of t: 1 .. N-1
    fact = torch.exp(torch.lgamma(j + 1))  # j!
    c = k / fact  # coefficient of t^j is kappa_(j+1) / j!
    c0 = big_l - (c / (j + 1)).sum(-1)  # g(0) = L - sum kappa_n / n!
    g1 = c0 + c.sum(-1)  # g(1)
    cj = c * j
    k2 = k[:, 0]
    pos = k2 > 0
    t = torch.where(pos, (0.5 - big_l / torch.where(pos, k2, 1.0)).clamp(0, 1), 0.5)
    for _ in range(4):  # Newton, quadratic from the linear root: 4 steps reach the rounding
        tp = t.unsqueeze(-1) ** (j - 1)
        val, der = c0 + (c * tp).sum(-1) * t, (cj * tp).sum(-1)
        t = (t - torch.where(der > 0, val / torch.where(der > 0, der, 1.0), 0.0)).clamp(0, 1)
    alpha = torch.where(c0 >= 0, 1.0, torch.where(g1 <= 0, 0.0, 1 - t))
    const = torch.where(big_l == 0, 0.5, torch.where(big_l > 0, 1.0, 0.0))
    return torch.where(pos, alpha, const)


def _hermite_root(lo, hi, glo, ghi, slo, shi, steps: int = 4):
    """Root in [lo, hi] of the cubic Hermite interpolant of h (values g, slopes s at the ends),
    by Newton on the cubic in Horner form from the secant point."""
    h = hi - lo
    m0, m1 = slo * h, shi * h
    # p(t) = c0 + c1 t + c2 t^2 + c3 t^3 on t in [0, 1]
    c0, c1 = glo, m0
    c2 = 3 * (ghi - glo) - 2 * m0 - m1
    c3 = 2 * (glo - ghi) + m0 + m1
    t = glo / (glo - ghi)
    t = torch.where(torch.isfinite(t), t.clamp(0, 1), torch.full_like(t, 0.5))
    for _ in range(steps):
        p = ((c3 * t + c2) * t + c1) * t + c0
        dp = (3 * c3 * t + 2 * c2) * t + c1
        tn = t - p / dp
        t = torch.where((tn >= 0) & (tn <= 1) & torch.isfinite(tn), tn, t)
    return lo + t * h


_BLOCK = 2048  # vocabulary block of the batched matrix-vector products (accuracy, see _h_of)


def _h_of(D: torch.Tensor, e: torch.Tensor, sums: bool = False):
    """h = log sum e d+ - log sum e d- and its first two alpha-derivatives.

    D is [n, K, 6, B] (rows d+, d+^2, d+^3, d-, d-^2, d-^3 of K vocabulary blocks of B), e is
    [n, K * B]. One batched matrix-vector product gives the 6 sums per block; the K block sums
    are added in float64. (A single float32 GEMV over 152064 terms accumulates ~1e-5 relative
    error, which would cost ~1e-6 in alpha.)"""
    n, k, six, b = D.shape
    c = e.shape[-1] if e.dim() == 4 else 1  # several right-hand sides share one read of D
    r = torch.bmm(D.view(n * k, six, b), e.reshape(n * k, b, c)).view(n, k, six, c)
    r = r.to(torch.float64).sum(1).to(e.dtype)
    if c == 1:
        r = r.squeeze(-1)
    else:
        r = r.transpose(-1, -2)  # [n, c, 6]
    p0, p1, p2, m0, m1, m2 = r.unbind(-1)
    h = torch.log(p0) - torch.log(m0)
    u, w = p1 / p0, m1 / m0
    out = (h, -(u + w), p2 / p0 - u * u - m2 / m0 + w * w)
    return (*out, r) if sums else out


class _Workspace:
    """Buffers for one row chunk, allocated once per solve and reused (out= everywhere): on CPU
    a fresh [n, V] allocation costs more than the exp that fills it (page faults). The
    vocabulary is padded to K blocks of _BLOCK (padding: log-prob -inf, d = 0)."""

    def __init__(self, n: int, v: int, dtype: torch.dtype, device: torch.device):
        kw = {"dtype": dtype, "device": device}
        b = min(_BLOCK, v)
        k = -(-v // b)
        self.v, self.k, self.b = v, k, b
        vp = k * b
        self.a = torch.full((n, vp), NEG_INF, **kw)
        self.e2 = torch.zeros(n, k, b, 2, **kw)  # exp at alpha = 1 and alpha = 0, interleaved
        self.s = torch.zeros(n, vp, **kw)
        self.d = torch.zeros(n, vp, **kw)
        self.D = torch.zeros(n, k, 6, b, **kw)

    def view(self, n: int):
        return self.a[:n], self.e2[:n], self.s[:n], self.d[:n], self.D[:n]


def _solve_block(x: torch.Tensor, y: torch.Tensor, passes: int, ws: _Workspace) -> torch.Tensor:
    """alpha* for a [n, V] block of raw logits (compute dtype); see :func:`optimal_alpha`."""
    n, v = x.shape
    a, e2, s, d, D = ws.view(n)
    av, sv, dv = a[:, :v], s[:, :v], d[:, :v]
    nk = (n, ws.k, ws.b)
    mx, my = x.amax(-1, keepdim=True), y.amax(-1, keepdim=True)
    torch.sub(x, mx, out=av)  # <= 0, max 0: exp never overflows and sums to >= 1
    torch.sub(y, my, out=sv)
    s[:, v:] = NEG_INF  # padding
    ea, eb = e2[..., 0], e2[..., 1]  # [n, K, B] strided views
    torch.exp(a.view(nk), out=ea)
    torch.exp(s.view(nk), out=eb)

    # log normalisers. When both rows are peaked on the same token, d there is ~ -(mass off
    # the peak) ~ 1e-9, which log(1 + 1e-9) would lose to rounding in the working dtype:
    # float64 rows use log1p(ties - 1 + sum of the non-maximal terms); float32 rows sum in
    # float64 (exact enough for float32's own resolution, and one pass instead of four).
    if x.dtype == torch.float64:

        def log_norm(shifted, e):
            ties = (shifted == 0).sum(-1).to(x.dtype)
            rest = torch.where(shifted.view(nk) < 0, e, 0.0).sum((-1, -2))
            return torch.log1p((ties - 1) + rest)

        c0 = log_norm(s, eb) - log_norm(a, ea)
    else:
        c0 = torch.log(eb.sum((-1, -2), dtype=torch.float64)) - torch.log(
            ea.sum((-1, -2), dtype=torch.float64)
        )
    c0 = c0.to(x.dtype).unsqueeze(-1)
    # a becomes log pi_theta + const on S and -inf off S via min(a, y + BIG) (y + BIG is -inf
    # exactly where pi_t = 0, huge elsewhere), no bool masks
    big = torch.finfo(x.dtype).max / 4
    torch.minimum(av, torch.add(y, big, out=sv), out=av)
    if _checkable(x) and bool((a.amax(-1) == NEG_INF).any()):
        raise ValueError(
            "pi_theta and pi_target have disjoint supports in some row: the geometric "
            "family is empty for 0 < alpha < 1"
        )
    # shift-free d (see optimal_alpha): e = (y - x) - m with m = (y - x)[r], r the argmax of
    # p = pi_theta on S; y - x is exact for nearby logits, so e keeps its digits as e -> 0
    r = av.argmax(-1, keepdim=True)
    m = y.gather(-1, r) - x.gather(-1, r)
    torch.sub(y, x, out=dv)
    dv.sub_(m)  # e on S, +-inf / NaN off S
    dp, dp2, dp3, dm, dm2, dm3 = D.unbind(-2)  # scratch until the moment rows are built
    e0, p = dp, dp2
    torch.nan_to_num(d.view(nk), nan=0.0, posinf=0.0, neginf=0.0, out=e0)
    torch.sub(a.view(nk), a.gather(-1, r).unsqueeze(-1), out=p).exp_()  # 0 off S
    red = (-1, -2)
    big_p = p.sum(red)
    mu = (p * e0).sum(red) / big_p
    ec = torch.sub(e0, mu.view(n, 1, 1), out=dm)  # centred: E_p exp(ec) >= 1 (Jensen)
    emax, emin = e0.amax(red), e0.amin(red)  # e[r] = 0, so the zeros off S change neither
    # K(1) - mu = log E_p exp(ec) = log1p(E_p expm1(ec)): relative accuracy as ec -> 0
    torch.mul(torch.expm1(torch.clamp_max(ec, 700.0, out=dp3), out=dp3), p, out=dp3)
    k1c = torch.log1p(dp3.sum(red) / big_p)
    # L = log pi_t(S) - log pi_theta(S) from the off-S masses (exactly 0 for equal supports)
    on = torch.isfinite(a.view(nk))

    def log_mass_outside(ex):
        return torch.log1p(torch.where(on, 0.0, ex).sum(red) / torch.where(on, ex, 0.0).sum(red))

    big_l = log_mass_outside(ea) - log_mass_outside(eb)
    # d = e - mu - (k1c - L); the old normaliser difference c0 where this one cannot be
    # formed (spread > 700: expm1 overflows; S carries < ~1e-308 of pi_theta's mass)
    c_new = k1c - big_l
    ok = torch.isfinite(c_new) & (emax - mu <= 700.0)
    c_old = c0.squeeze(-1) + ((my - mx) - m).squeeze(-1)  # exact 0 in brackets for a shared peak
    dv.sub_(torch.where(ok, mu, 0.0).unsqueeze(-1))
    dv.sub_(torch.where(ok, c_new, c_old).unsqueeze(-1))
    torch.nan_to_num(dv, nan=0.0, posinf=0.0, neginf=0.0, out=dv)
    # small spread: the cumulant series (central moments of e under p, then _series_alpha)
    pw = dm2.copy_(p)
    mom = [torch.ones_like(big_p)]
    for _ in range(SERIES_TERMS):
        pw.mul_(ec)
        mom.append(pw.sum(red) / big_p)
    series = (
        torch.stack(mom, -1),
        torch.where(ok, big_l, 0.0),
        (emax - emin <= SERIES_SPREAD) & ok,
    )
    dp, dp2, dp3, dm, dm2, dm3 = D.unbind(-2)
    torch.clamp_min(d.view(nk), 0, out=dp)
    torch.mul(dp, dp, out=dp2)
    torch.mul(dp2, dp, out=dp3)
    torch.sub(dp, d.view(nk), out=dm)  # d- = d+ - d
    torch.mul(dm, dm, out=dm2)
    torch.mul(dm2, dm, out=dm3)
    # endpoints from the normalising exponentials (D is 0 off S, so the sums are over S)
    hh, ss, _, r = _h_of(D, e2, sums=True)  # both endpoints in one read of D
    # d == 0 on S (identical distributions): every sum of e d+ and e d- vanishes at both ends
    dzero = (r[..., 0] == 0).all(-1) & (r[..., 3] == 0).all(-1)
    h1, h0 = hh.unbind(-1)  # alpha = 1: pi_theta on S; alpha = 0: pi_t on S
    s1, s0 = ss.unbind(-1)
    zeros = torch.zeros(n, dtype=x.dtype, device=x.device)
    lo, hi = zeros, zeros + 1
    alpha = _hermite_root(lo, hi, h0, h1, s0, s1)
    alpha = torch.where(torch.isfinite(alpha), alpha, torch.full_like(alpha, 0.5))
    for _ in range(passes):
        torch.addcmul(a, d, (1 - alpha).unsqueeze(-1), out=s)  # log q_alpha + const
        m = s.amax(-1, keepdim=True)
        s.sub_(torch.where(torch.isfinite(m), m, 0.0)).exp_()
        h, hp, hpp = _h_of(D, s)
        lo = torch.where(h > 0, alpha, lo)
        hi = torch.where(h < 0, alpha, hi)
        new = alpha - 2 * h * hp / (2 * hp * hp - h * hpp)  # Halley
        ok = (new >= lo) & (new <= hi) & torch.isfinite(new)
        alpha = torch.where(h == 0, alpha, torch.where(ok, new, (lo + hi) / 2))
    # edges: Delta <= 0 already at alpha = 0 -> 0; Delta >= 0 at alpha = 1 -> 1; d == 0 on S -> 1/2
    alpha = torch.where(h0 <= 0, 0.0, torch.where(h1 >= 0, 1.0, alpha))
    return torch.where(dzero, 0.5, alpha), series


# float32 solver (the default for float32 / bfloat16 / float16 inputs above SMALL_VOCAB)

FAST_PASSES = 2
SERIES_SPREAD32 = 0.2  # float32 internals: the series (kappa_2 .. kappa_6) up to this spread
_SUM_BLOCK = 4096  # float32 partial sums of this length, added in float64 (see _row_sum)


def _row_sum(e: torch.Tensor) -> torch.Tensor:
    """float64 row sums of a contiguous [n, V] float32 buffer: vectorised float32 sums over
    blocks of _SUM_BLOCK, the block sums added in float64 (one float32 reduction or GEMV over
    150k terms loses ~1e-5 relative in a cancelling sum such as sum e d: 1e-5 in alpha)."""
    n, v = e.shape
    cut = v - v % _SUM_BLOCK
    s = e[:, :cut].reshape(n, -1, _SUM_BLOCK).sum(-1).to(torch.float64).sum(-1)
    if cut < v:
        s = s + e[:, cut:].sum(-1).to(torch.float64)
    return s


def _row_sum_top(e: torch.Tensor) -> torch.Tensor:
    """sum - 1 of the rows of e = exp(logits - max) (float64): :func:`_row_sum` with the block
    of largest sum summed again in float64, its entries equal to 1 counted apart. For a row
    peaked on one token (e = 1 there, ~1e-12 elsewhere) a float32 block sum returns exactly 1
    and log Z loses the off-peak mass, which is all of d at the peak (both inputs peaked on
    the same token): that block is the one with the largest sum."""
    n, v = e.shape
    b = _SUM_BLOCK
    cut = v - v % b
    parts = [e[:, :cut].reshape(n, -1, b).sum(-1)]
    if cut < v:
        parts.append(e[:, cut:].sum(-1, keepdim=True))
    bs = torch.cat(parts, -1)
    top = bs.argmax(-1, keepdim=True)
    idx = top * b + torch.arange(b, device=e.device)
    block = torch.where(idx < v, e.gather(-1, idx.clamp_max(v - 1)), 0.0).to(torch.float64)
    others = bs.to(torch.float64).sum(-1) - bs.gather(-1, top).squeeze(-1).to(torch.float64)
    # sum - 1 without forming 1 + tiny: the entries equal to 1 (the row maximum, exp(0)) are
    # counted apart, so log Z = log1p(...) keeps the digits of the off-peak mass
    ones = block == 1
    rest = torch.where(ones, 0.0, block).sum(-1) + (ones.sum(-1).to(torch.float64) - 1)
    return others + rest


def _row_dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-row dot products; on CPU one BLAS dot per row (fused, no [n, V] temporary)."""
    if a.device.type == "cpu":
        return torch.stack([torch.dot(a[i], b[i]) for i in range(a.shape[0])])
    return torch.linalg.vecdot(a, b)


def _row_moments(M: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
    """[n, k, V] x [n, V] -> [n, k]: one matrix-vector product per row (BLAS on CPU)."""
    if e.device.type == "cpu":
        out = e.new_empty(M.shape[:2])
        for i in range(e.shape[0]):
            torch.mv(M[i], e[i], out=out[i])
        return out
    return torch.bmm(M, e.unsqueeze(-1)).squeeze(-1)


class _Workspace32:
    """Buffers of one row chunk of the float32 solver, allocated once per solve and reused:
    base (logits_theta - max), two exp scratch buffers, d (0 off the common support), the
    exponent slope w (d with -inf where pi_t = 0) and the moment rows d+, d+^2, d+^3, d-,
    d-^2, d-^3."""

    def __init__(self, n: int, v: int, dtype: torch.dtype, device: torch.device):
        kw = {"dtype": dtype, "device": device}
        self.b = torch.empty(n, v, **kw)
        self.s = torch.empty(n, v, **kw)
        self.t = torch.empty(n, v, **kw)
        self.d = torch.empty(n, v, **kw)
        self.w = torch.empty(n, v, **kw)
        self.m = torch.empty(n, 6, v, **kw)

    def view(self, n: int):
        return self.b[:n], self.s[:n], self.t[:n], self.d[:n], self.w[:n], self.m[:n]


def _halley_update(alpha, lo, hi, sums, r=None):
    """One safeguarded Halley step on h = log P0 - log M0 (P_k = sum e d+^(k+1), M_k = sum
    e d-^(k+1) at alpha, float64 [n]); with ``r`` = sum e d (the root condition itself, the
    last pass) h = log((s + r) / (s - r)), s = P0 + M0, where |r| < s / 2. The bracket [lo, hi]
    follows the sign of h; a step leaving it bisects. Returns (alpha, lo, hi)."""
    p0, p1, p2, m0, m1, m2 = sums
    h = torch.log(p0) - torch.log(m0)
    if r is not None:
        tot = p0 + m0
        near = r.abs() < tot / 2
        h = torch.where(near, torch.log((tot + r) / torch.where(near, tot - r, 1.0)), h)
    u, v_ = p1 / p0, m1 / m0
    h1 = -(u + v_)
    h2 = p2 / p0 - u * u - m2 / m0 + v_ * v_
    lo = torch.where(h > 0, alpha, lo)
    hi = torch.where(h < 0, alpha, hi)
    hal = alpha - 2 * h * h1 / (2 * h1 * h1 - h * h2)  # Halley
    good = (hal >= lo) & (hal <= hi) & torch.isfinite(hal)
    return torch.where(h == 0, alpha, torch.where(good, hal, (lo + hi) / 2)), lo, hi


def _solve_block32(x, y, mx, my, passes: int, ws: _Workspace32) -> torch.Tensor:
    """alpha* for a [n, V] float32 block (mx, my: row maxima [n, 1]); see :func:`optimal_alpha`.

    Passes over [n, V]: setup 3 sub, 2 exp, 2 nan_to_num, 2 dots, 6 for the moment rows;
    then per pass one addcmul, one max, one in-place shift + exp and one GEMV per row against
    [d+, d+^2, d+^3, d-, d-^2, d-^3] (Halley on h = log E d+ - log E d-), plus on the last pass
    sum e d once more with float64 block accumulation (the root condition itself)."""
    n, v = x.shape
    B, S, T, D, W, M = ws.view(n)
    f64 = torch.float64
    torch.sub(x, mx, out=B)  # log pi_theta + const, <= 0
    torch.sub(y, my, out=T)
    torch.exp(B, out=S)
    T.exp_()
    # normaliser difference c0 = log Z_t - log Z_theta (used only where the shift-free form
    # below cannot be formed: spread > 80, where expm1 overflows)
    c0 = torch.log1p(_row_sum_top(T)) - torch.log1p(_row_sum_top(S))
    # shift-free d (as in _solve_block): e = (y - x) - m on S, m = (y - x)[r], r the argmax
    # of pi_theta on S; p = exp(B) on S, 0 off S (kept in W until d is formed)
    r0, p = M[:, 0], W
    torch.minimum(B, torch.add(y, torch.finfo(x.dtype).max / 4, out=r0), out=r0)  # -inf off S
    r = r0.argmax(-1, keepdim=True)
    empty = torch.eq(r0.gather(-1, r), NEG_INF).squeeze(-1)
    if _checkable(x) and bool(empty.any()):
        raise ValueError(
            "pi_theta and pi_target have disjoint supports in some row: the geometric "
            "family is empty for 0 < alpha < 1"
        )
    m = y.gather(-1, r) - x.gather(-1, r)
    torch.exp(r0, out=p)
    off = torch.eq(r0, NEG_INF)
    torch.sub(y, x, out=D)
    D.sub_(m)  # e on S, +-inf / NaN off S
    e0, tmp = M[:, 1], M[:, 2]
    torch.nan_to_num(D, nan=0.0, posinf=0.0, neginf=0.0, out=e0)
    big_p = _row_sum(p)
    off_theta = _row_sum(torch.sub(S, p, out=tmp))  # exactly S off S, 0 on S
    torch.where(off, T, T.new_zeros(()), out=tmp)
    off_t = _row_sum(tmp)
    on_t = _row_sum(tmp.sub_(T).neg_())
    big_l = torch.log1p(off_theta / big_p) - torch.log1p(off_t / on_t)
    mu = _row_sum(torch.mul(p, e0, out=tmp)) / big_p
    emax, emin = e0.amax(-1).to(f64), e0.amin(-1).to(f64)
    ec = torch.sub(e0, mu.to(x.dtype).unsqueeze(-1), out=M[:, 0])
    torch.mul(torch.expm1(torch.clamp_max(ec, 80.0, out=tmp), out=tmp), p, out=tmp)
    k1c = torch.log1p(_row_sum(tmp) / big_p)  # log E_p exp(ec) >= 0, relative accuracy
    c_new = k1c - big_l
    ok = torch.isfinite(c_new) & (emax - mu <= 80.0)
    c_old = c0 + ((my - mx) - m).squeeze(-1).to(f64)
    # small spread: cumulant series from the moments of ec under p (one GEMV over 6 rows)
    for k in range(1, 6):
        torch.mul(M[:, k - 1], ec, out=M[:, k])
    mom = torch.cat([torch.ones_like(big_p).unsqueeze(-1), _row_moments(M, p).to(f64)], -1)
    series = (mom / big_p.unsqueeze(-1), torch.where(ok, big_l, 0.0))
    series = (*series, (emax - emin <= SERIES_SPREAD32) & ok)
    D.sub_(torch.where(ok, mu, 0.0).to(x.dtype).unsqueeze(-1))
    D.sub_(torch.where(ok, c_new, c_old).to(x.dtype).unsqueeze(-1))  # d, +-inf / NaN off S
    # exponent slope: -inf where pi_t = 0 (so q = 0 there for alpha < 1), 0 where pi_theta = 0
    # (the base is -inf there); d itself: 0 off the common support
    torch.nan_to_num(D, nan=0.0, posinf=0.0, neginf=NEG_INF, out=W)
    torch.nan_to_num(D, nan=0.0, posinf=0.0, neginf=0.0, out=D)
    g1 = _row_dot(S, D)  # sign of Delta(1) (pi_theta on S, unnormalised)
    g0 = _row_dot(T, D)  # sign of Delta(0)
    dp, dp2, dp3, dm, dm2, dm3 = M.unbind(1)
    torch.clamp_min(D, 0, out=dp)
    torch.mul(dp, dp, out=dp2)
    torch.mul(dp2, dp, out=dp3)
    torch.sub(dp, D, out=dm)  # d- = d+ - d
    torch.mul(dm, dm, out=dm2)
    torch.mul(dm2, dm, out=dm3)
    alpha = torch.full((n,), 0.5, dtype=f64, device=x.device)
    lo, hi = torch.zeros_like(alpha), torch.ones_like(alpha)
    tiny = torch.finfo(x.dtype).tiny
    dzero = None
    for k in range(passes):
        w = (1 - alpha).clamp_min(tiny).to(x.dtype).unsqueeze(-1)
        torch.addcmul(B, W, w, out=S)  # log q_alpha + const
        m = S.amax(-1, keepdim=True)
        S.sub_(torch.where(torch.isfinite(m), m, 0.0)).exp_()
        p0, p1, p2, m0, m1, m2 = _row_moments(M, S).to(f64).unbind(-1)
        if dzero is None:  # d == 0 on S (identical distributions)
            dzero = (p0 == 0) & (m0 == 0)
        # the root condition sum e d = 0 on the last pass from float64 block sums (a float32
        # GEMV over 150k terms is only good to ~1e-5 relative)
        r = _row_sum(torch.mul(S, D, out=T)) if k == passes - 1 else None
        alpha, lo, hi = _halley_update(alpha, lo, hi, (p0, p1, p2, m0, m1, m2), r)
    # edges: Delta <= 0 at alpha = 0 -> 0; Delta >= 0 at alpha = 1 -> 1; d == 0 on S -> 1/2
    alpha = torch.where(g0 <= 0, 0.0, torch.where(g1 >= 0, 1.0, alpha))
    alpha = torch.where(dzero, 0.5, alpha)
    return torch.where(empty, math.nan, alpha).to(x.dtype), series


# float32 solver for torch.compile (optimal_alpha uses it when compiling)
#
# Written for inductor's CPU and GPU code generation: plain row reductions, one loop over the
# vocabulary per kernel, nothing of size [N, V] stored. Two inductor heuristics shape it: an
# [N, V] expression used by more than one kernel is stored as an [N, V] buffer when it contains
# exp / log or reads more than 4 inputs (so every such expression is local to one kernel), and
# per-row values computed by pointwise code are inlined into every loop that reads them (so
# they go through _stored).


def _stored(v: torch.Tensor) -> torch.Tensor:
    """v [..., k] as the output of a reduction: a stored per-row buffer that the [N, V] loops
    load (one buffer counts as one read however many columns they load), instead of an
    expression inlined into them (which makes them "heavy" and stored). Reductions of at most
    8 elements are unrolled into pointwise code, hence 16 copies; the maximum of copies is
    exact."""
    return v.unsqueeze(-1).expand(*v.shape, 16).amax(-1)


def _fused_top(x, y):
    """(1) row maxima of both inputs and r, the argmax of x on the common support S."""
    on = torch.isfinite(x) & torch.isfinite(y)
    r = torch.where(on, x, NEG_INF).argmax(-1, keepdim=True)
    return x.amax(-1, keepdim=True), y.amax(-1, keepdim=True), r


def _fused_setup(x, y, mx, my, xr, m) -> dict:
    """(2) one sweep: p = pi_theta / pi_theta(r) on S (<= 1, p[r] = 1), the masses of both
    inputs on and off S, sum_S pi_t e, e = (y - x) - m on S (shift-free, e[r] = 0), E_p expm1(e), E_p e^k
    (k = 1 .. 6, products in float64) and the range of e. Every sum is accumulated in float64."""
    f64 = torch.float64
    on = torch.isfinite(x) & torch.isfinite(y)
    zero = torch.zeros((), dtype=x.dtype, device=x.device)
    ex = torch.exp(x - torch.where(on, xr, mx))  # p on S; pi_theta / max pi_theta off S
    ey = torch.exp(y - my)
    e0 = torch.where(on, (y - x) - m, zero)
    p = torch.where(on, ex, zero)
    p64, e64 = p.to(f64), e0.to(f64)
    # K(1) = log E_p exp(e) = log1p(E_p expm1(e)) is uncentred here: ~c when the target
    # disfavours pi_theta's top token by c. The float32 expm1 terms keep it to ~1e-7 absolute
    # (relative errors of the terms, not of K(1)); its rounding to float32 is what would cost,
    # so d subtracts it as two float32 words (_fused_halley)
    pe = p64 * torch.expm1(torch.clamp_max(e0, 80.0)).to(f64)
    return {
        "big_p": p.sum(-1, dtype=f64),
        "off_theta": torch.where(on, zero, ex).sum(-1, dtype=f64),
        "on_t": torch.where(on, ey, zero).sum(-1, dtype=f64),
        "off_t": torch.where(on, zero, ey).sum(-1, dtype=f64),
        "t_e": (torch.where(on, ey, zero) * e0).sum(-1, dtype=f64),
        "expm1": pe.sum(-1),
        "expm1_e": (pe * e64).sum(-1),
        "raw": [(p64 * e64**k).sum(-1) for k in range(1, 7)],
        "emax": e0.amax(-1).to(f64),
        "emin": e0.amin(-1).to(f64),
    }


def _fused_halley(x, y, mx, shifts, w, last: bool) -> list:
    """(4) + (5) one Halley pass at slope w = 1 - alpha: the maximum of log q_alpha, then
    e = q_alpha (unnormalised) and the sums of e d+^k, e d-^k (k = 1 .. 3; float32 sums, they
    only steer the step) and, on the last pass, sum e d in float64 (the root condition)."""
    f64 = torch.float64
    on = torch.isfinite(x) & torch.isfinite(y)
    m, hi, lo = shifts[..., 0:1], shifts[..., 1:2], shifts[..., 2:3]  # one stored buffer
    # the shift from its own expression (any value near the maximum will do): an expression
    # shared with the exp kernel would be stored as [N, V] between the two kernels
    ms = torch.where(on, x + w * ((y - x) - (m + hi)), NEG_INF).amax(-1, keepdim=True) - mx
    # d = e - kshift, kshift = hi + lo in two float32 words (one word would shift every d by
    # up to half an ulp of kshift, which is ~c when the target disfavours the top token by c);
    # m first: d[r] = -kshift keeps its digits
    d = torch.where(on, (((y - x) - m) - hi) - lo, 0.0)
    s = torch.where(on, (x - mx) + w * d, NEG_INF)
    e = torch.exp(s - torch.where(torch.isfinite(ms), ms, 0.0))
    dp = torch.clamp_min(d, 0.0)
    dm = dp - d
    ep, em = e * dp, e * dm
    out = [ep.sum(-1), (ep * dp).sum(-1), (ep * dp * dp).sum(-1)]
    out += [em.sum(-1), (em * dm).sum(-1), (em * dm * dm).sum(-1)]
    out = [o.to(f64) for o in out]
    if last:
        out.append((e * d).sum(-1, dtype=f64))
    return out


def _central_moments(raw: list) -> list:
    """E (e - mu)^k for k = 1 .. 6 from the raw moments E e^k (float64, binomial expansion).
    The expansion loses ~(|mu| / sd)^k eps64 relative in the k-th moment (review: kappa_4 3e-5
    at |mu| / sd = 100, 4e-2 at 1e3). In the series regime (spread <= 0.2) |mu| / sd is at
    most ~sqrt(V) and kappa_k enters alpha with weight ~spread^(k-2), so alpha is unaffected
    (measured against the eager centred moments)."""
    mu = raw[0]
    full = [torch.ones_like(mu), *raw]
    return [
        sum(math.comb(k, j) * full[j] * (-mu) ** (k - j) for j in range(k + 1))
        for k in range(1, 7)
    ]


def _solve_fused32(x: torch.Tensor, y: torch.Tensor, passes: int):
    """alpha* for [n, V] float32 rows, written for ``torch.compile`` (:func:`optimal_alpha`
    uses it when compiling; eager calls keep the chunked :func:`_solve_block32`).

    The mathematics of :func:`_solve_block32` (shift-free d, L from the off-support masses,
    the old normaliser difference where the shift-free one cannot be formed, Halley passes on
    h = log E_q d+ - log E_q d- from alpha = 1/2, the cumulant series for spreads <= 0.2) in
    2 + 2 ``passes`` sweeps of both inputs: (1) maxima and r; (2) masses, K(1) = log E_p exp(e)
    = log1p(E_p expm1(e)) and the series moments (raw, uncentred, products in float64; the
    eager solver centres them in a further sweep); per pass (4) the maximum and (5) the sums.
    Differences from the eager solver: every setup sum is accumulated in float64; pi_theta on
    S is exponentiated relative to its maximum on S; the signs of Delta at the endpoints come
    from KLs: Delta(1) = L - KL_S(pi_theta || pi_t), Delta(0) = L + KL_S(pi_t || pi_theta), so
    with equal supports (L = 0) neither endpoint is taken unless d == 0 on S (1/2); invalid
    rows (NaN, +inf, no finite entry, disjoint supports) come out NaN and nothing raises (no
    host synchronisation)."""
    f64 = torch.float64
    mx, my, r = _fused_top(x, y)
    xg, yg = x.gather(-1, r), y.gather(-1, r)
    on_r = torch.isfinite(xg) & torch.isfinite(yg)
    empty = ~on_r.squeeze(-1)  # no common support
    xr = torch.where(on_r, xg, 0.0)
    m = torch.where(on_r, yg, 0.0) - xr
    bad = ~(torch.isfinite(mx) & torch.isfinite(my)).squeeze(-1) | empty
    o = _fused_setup(x, y, mx, my, _stored(xr), _stored(m))
    big_p = o["big_p"]
    raw = [q / big_p for q in o["raw"]]
    mu = raw[0]
    gap = (mx - xr).squeeze(-1).to(f64)  # >= 0: x's maximum off S is e^gap times x[r]
    # L = log pi_t(S) - log pi_theta(S) (exactly 0 for equal supports)
    big_l = torch.log1p(
        torch.exp(torch.log(o["off_theta"]) + gap - torch.log(big_p))
    ) - torch.log1p(o["off_t"] / o["on_t"])
    k1 = torch.log1p(o["expm1"] / big_p)  # K(1) = log E_p exp(e)
    ok = torch.isfinite(k1) & torch.isfinite(big_l) & (o["emax"] <= 80.0)
    # where the shift-free form cannot be formed: the normaliser difference (float64 sums)
    lz_t = my.squeeze(-1).to(f64) + torch.log(o["on_t"] + o["off_t"])
    lz_th = mx.squeeze(-1).to(f64) + torch.log(torch.exp(-gap) * big_p + o["off_theta"])
    c_old = lz_t - lz_th - m.squeeze(-1).to(f64)
    kshift = torch.where(ok, k1 - big_l, c_old)  # d = e - kshift on S
    # endpoint signs from the KLs on S (each >= 0; rounding clamped)
    # E_t e (pi_t on S ~ p e^e): relative to K(1) where ok, from the plain sums elsewhere
    et = (mu * big_p + o["expm1_e"]) / (big_p + o["expm1"])
    delta1 = torch.where(ok, big_l - torch.clamp_min(k1 - mu, 0.0), mu - c_old)
    # where pi_t's mass on S underflows (on_t = 0) E_t e is only bounded: E_t e <= max e
    et_old = torch.where(o["on_t"] > 0, o["t_e"] / o["on_t"], o["emax"])
    delta0 = torch.where(ok, big_l + torch.clamp_min(et - k1, 0.0), et_old - c_old)
    equal = ok & (big_l == 0)
    delta1 = torch.where(equal, -1.0, delta1)
    delta0 = torch.where(equal, 1.0, delta0)
    k_hi = kshift.to(x.dtype)
    k_lo = (kshift - k_hi.to(f64)).to(x.dtype)
    shifts = _stored(torch.stack([m.squeeze(-1), k_hi, k_lo], -1))
    alpha = torch.full(empty.shape, 0.5, dtype=f64, device=x.device)
    lo, hi = torch.zeros_like(alpha), torch.ones_like(alpha)
    tiny = torch.finfo(x.dtype).tiny
    dzero = torch.zeros_like(empty)
    for k in range(passes):
        w = (1 - alpha).clamp_min(tiny).to(x.dtype).unsqueeze(-1)
        sums = _fused_halley(x, y, mx, shifts, w, k == passes - 1)
        if k == 0:  # d == 0 on S (identical distributions): no sum of e d+ or e d-
            dzero = (sums[0] == 0) & (sums[3] == 0)
        last = sums[6] if k == passes - 1 else None
        alpha, lo, hi = _halley_update(alpha, lo, hi, sums[:6], last)
    # edges: Delta <= 0 at alpha = 0 -> 0; Delta >= 0 at alpha = 1 -> 1; d == 0 on S -> 1/2
    alpha = torch.where(delta0 <= 0, 0.0, torch.where(delta1 >= 0, 1.0, alpha))
    alpha = torch.where(dzero, 0.5, alpha)
    alpha = torch.where(bad, math.nan, alpha).to(x.dtype)
    mom = torch.stack([torch.ones_like(big_p), *_central_moments(raw)], -1)
    small = (o["emax"] - o["emin"] <= SERIES_SPREAD32) & ok & ~bad
    return alpha, (mom, torch.where(ok, big_l, 0.0), small)


_FUSED_EAGER = False  # tests: run _solve_fused32 eagerly through optimal_alpha


def _with_series(res: torch.Tensor, series) -> torch.Tensor:
    """The small-spread rows from the cumulant series, solved once for all rows."""
    mom, big_l, small = series
    return torch.where(small, _series_alpha(mom, big_l).to(res.dtype), res)


def _check_logits_meta(name: str, x) -> None:
    """:func:`_check_logits`'s type and shape checks (no pass over the values)."""
    if not isinstance(x, torch.Tensor) or not x.dtype.is_floating_point:
        raise ValueError(f"{name} must be a floating tensor of logits, got {type(x).__name__}")
    if x.dim() == 0 or x.shape[-1] == 0:
        raise ValueError(
            f"{name} must have a non-empty last (vocabulary) dim, got {tuple(x.shape)}"
        )


def _check_pair_vocab(x, y) -> None:
    if x.shape[-1] != y.shape[-1]:
        raise ValueError(
            f"logits_theta and logits_target have vocabularies {x.shape[-1]} and {y.shape[-1]}"
        )


def _check_logits_top(name: str, x: torch.Tensor, top: torch.Tensor) -> None:
    """:func:`_check_logits`'s value checks given the row maxima ``top`` (computed once)."""
    if _checkable(x) and not bool(torch.isfinite(top).all()):
        _raise_bad_logits(name, x)


def optimal_alpha(
    logits_theta: torch.Tensor,
    logits_target: torch.Tensor,
    passes: int | None = None,
    chunk_elems: int = DEFAULT_CHUNK_ELEMS,
    compute_dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """alpha* per row: the KL-symmetry point D(q||pi_theta) = D(q||pi_t) (seed 004 6.4, 7.1).

    alpha* minimises the convex F(alpha) = log sum_S pi_theta^alpha pi_t^(1-alpha) (S the
    common support), i.e. solves Delta(alpha) = E_q[d] = 0 with d = log pi_t - log pi_theta.
    Both solvers work on h(alpha) = log E_q[d+] - log E_q[d-] (same root, decreasing, nearly
    linear even for peaked rows where Delta is step-like; exactly linear for V = 2), with
    safeguarded Halley passes (bracket [lo, hi] from the signs of h, bisection when a step
    leaves it). Fixed pass count, no host synchronisation. Rows are processed in chunks of
    about ``chunk_elems`` elements (at least one row) with buffers reused across chunks, so the
    extra memory is ~11 buffers of one chunk, never of [N, V].

    float32 internals (default for float32 / bfloat16 / float16 inputs with V > SMALL_VOCAB;
    :func:`_solve_block32`), tuned for speed: the row maxima are computed once (argument
    checks and shift); one sweep gives exp(logits - max) of both inputs (normalisers, float32
    block sums of 4096 added in float64, the largest block re-summed in float64) and the signs
    of Delta at alpha = 1 and 0 (one dot per row); the rows d+, d+^2, d+^3, d-, d-^2, d-^3
    are built once. Then ``passes`` (default ``FAST_PASSES`` = 2) Halley passes from
    alpha = 1/2: s = log pi_theta + (1 - alpha) d, one max, one in-place shift + exp, one
    GEMV per row against the six rows; on the last pass sum e d is re-accumulated in float64
    blocks (a float32 GEMV over 150k terms is only good to ~1e-5 relative) and h taken from it.
    Two passes reach float32 rounding (~1e-7) on Gaussian logits of scale <= 10, Zipf
    (s <= 4), Dirichlet, masked (-inf) and peaked rows; scale 30 needs 3 passes (1.2e-6 with
    2), scale 100 needs 3 (3e-4 with 2), scale 300 needs 4 (2.7e-2 with 2): pass ``passes``
    for logits that sharp. A target that takes c nats from pi_theta's top token (otherwise
    close to it) needs more: c = 60 at V = 4000 leaves 0.047 with 2 passes, 5.6e-4 with 4,
    6e-8 with 6. Cost on N = 64, V = 152064 (one CPU thread): about 5.7-7
    logsumexp-equivalents (``isreshape bench alpha``, eager).

    Under ``torch.compile`` float32 internals run :func:`_solve_fused32` instead: the same
    mathematics in 2 + 2 ``passes`` fused sweeps of both inputs, no [N, V] buffer (2.5-2.9
    eager-logsumexp-equivalents compiled, 70-90x the seed's bisection, error ~5e-8 on the
    benchmark; 8-14 equivalents of a compiled logsumexp). There invalid rows come out NaN
    and nothing raises; with equal supports the endpoints 0 / 1 are taken only for d == 0
    (Delta's endpoint signs come from KLs, not float32 dots).

    float64 internals (float64 inputs, and float32 rows with V <= ``SMALL_VOCAB`` = 1024 where
    they cost nothing and remove the float32 floor; :func:`_solve_block`): a cubic Hermite
    model of h from the endpoint sums gives the start, then ``passes`` (default 5) Halley
    passes whose six sums come from one batched matrix-vector product per vocabulary block of
    2048, the blocks added in float64. ``compute_dtype`` sets the internal dtype
    (``compute_dtype=torch.float32`` forces the float32 path).

    Shift-free d (both internals; see :func:`reference.sampling.optimal_alpha`): e = (y - x) -
    (y - x)[r] on S (exact differences for nearby logits), p = pi_theta on S, d = e - E_p[e] -
    (log1p(E_p expm1(e - E_p[e])) - L), L = log pi_t(S) - log pi_theta(S) from the off-S masses
    (exactly 0 for equal supports). No difference of two log-normalisers enters d, so rows
    whose spread w = max e - min e is small keep their digits. Rows with w <= ``SERIES_SPREAD``
    (0.05, float64 internals) / ``SERIES_SPREAD32`` (0.2, float32) are solved from the
    cumulant series g(t) = sum_{n>=2} kappa_n (t^(n-1)/(n-1)! - 1/n!) + L = 0, t = 1 - alpha
    (kappa_1 cancels exactly; central moments of e under p up to order 10 / 6, the series
    converges like (w / pi)^n), all rows by Halley; ``torch.where`` picks per row (no host
    synchronisation). Where the shift-free normaliser cannot be formed (spread > 700 in
    float64, > 80 in float32: expm1 overflows; or S carries < ~1e-308 of pi_theta's mass) the
    old normaliser difference is used.

    Edges as in the reference: identical distributions and rows that differ by an exactly
    representable constant give exactly 1/2; Delta <= 0 at alpha = 0 gives 0 and Delta >= 0 at
    alpha = 1 gives 1 (d constant on S, one-hot rows); disjoint supports raise ``ValueError``
    (checked on CPU); NaN / +inf logits and rows of only -inf raise ``ValueError`` naming the
    argument, index and value; zero rows give an empty result. Where those checks do not run
    (device tensors unless ``set_device_validation(True)``, and under ``torch.compile``) such
    rows come out NaN, never a number.

    Accuracy against the mpmath value on the same inputs (measured): float64 internals
    ~1e-15 for nearly identical rows at any spread (target = theta + delta noise, delta from
    1e-1 to 1e-12) and for rows peaked on a shared token up to a peak logit of 700; float32
    internals (fast path) <= 1e-5 for nearly identical rows at any delta (<= 3e-8 in the
    series regime, ~1e-6 just above it, where d's float32 rounding ~eps32 w meets Var ~ w^2),
    ~1e-7 for Gaussian logits of scale 3; ~1e-5 when both rows put all but ~1e-12 of their
    mass on the same token.

    Range limits (not detected, the answer is then wrong): alpha* is decided by the off-peak
    masses, so they must be representable in the internal dtype. Rows peaked on a shared token
    with the rest more than ~90 nats below (off-peak mass < ~1e-38) exceed the float32
    internals (error 3e-3 at 100 nats, 0.12 at 200): pass ``compute_dtype=torch.float64``.
    The float64 internals hold to ~700 nats (mass ~1e-304); beyond ~745 nats they fail too.
    """
    for name, t in (("logits_theta", logits_theta), ("logits_target", logits_target)):
        _check_logits_meta(name, t)
    _check_pair_vocab(logits_theta, logits_target)
    compute, out = _compute_dtype(logits_theta, logits_target)
    if compute_dtype is None and compute == torch.float32 and logits_theta.shape[-1] <= SMALL_VOCAB:
        compute_dtype = torch.float64
    compute = compute_dtype if compute_dtype is not None else compute
    x, y = torch.broadcast_tensors(logits_theta.to(compute), logits_target.to(compute))
    batch, v = x.shape[:-1], x.shape[-1]
    xr, yr = x.reshape(-1, v), y.reshape(-1, v)
    rows = min(max(1, chunk_elems // max(v, 1)), max(xr.shape[0], 1))
    if compute == torch.float32 and (torch.compiler.is_compiling() or _FUSED_EAGER):
        # one formulation in plain row reductions, which inductor fuses (see _solve_fused32)
        passes = FAST_PASSES if passes is None else passes
        return _with_series(*_solve_fused32(xr, yr, passes)).reshape(batch).to(out)
    if compute == torch.float32:
        # the row maxima serve both the argument checks and the solver (one read each)
        mx, my = xr.amax(-1, keepdim=True), yr.amax(-1, keepdim=True)
        _check_logits_top("logits_theta", xr, mx)
        _check_logits_top("logits_target", yr, my)
        passes = FAST_PASSES if passes is None else passes
        ws32 = _Workspace32(rows, v, x.dtype, x.device)
        parts = [
            _solve_block32(
                xr[i : i + rows], yr[i : i + rows], mx[i : i + rows], my[i : i + rows], passes, ws32
            )
            for i in range(0, xr.shape[0], rows)
        ]
    else:
        _check_pair(x, y)
        if passes is None:
            passes = DEFAULT_PASSES.get(x.dtype, 7)
        ws = _Workspace(rows, v, x.dtype, x.device)
        parts = [
            _solve_block(xr[i : i + rows], yr[i : i + rows], passes, ws)
            for i in range(0, xr.shape[0], rows)
        ]
    if not parts:
        return xr.new_zeros(0).reshape(batch).to(out)
    series = tuple(torch.cat([pt[1][i] for pt in parts]) for i in range(3))
    res = _with_series(torch.cat([pt[0] for pt in parts]), series)
    if not _checkable(xr):
        # the argument checks did not run (device tensors, compiling): invalid rows must not
        # come out as a number (the solvers would give 1/2 or 0 there)
        common = torch.isfinite(xr) & torch.isfinite(yr)
        invalid = ~common.any(-1)
        for z in (xr, yr):
            invalid |= (torch.isnan(z) | torch.isposinf(z)).any(-1)
        res = torch.where(invalid, torch.full_like(res, math.nan), res)
    return res.reshape(batch).to(out)


def _restricted_raw(x, y, alpha):
    common = torch.isfinite(x) & torch.isfinite(y)
    a = alpha.unsqueeze(-1)
    return torch.where(common, y + a * torch.where(common, x - y, 0.0), NEG_INF)


def optimal_logits(logits_theta, logits_target, alpha=None, **solver) -> torch.Tensor:
    """log q* (log-probabilities): the family on the common support at alpha* (7.1).

    ``alpha`` may be passed (e.g. from :func:`optimal_alpha`) to avoid solving twice."""
    x, y, out = _prep(logits_theta, logits_target)
    if alpha is None:
        alpha = optimal_alpha(x, y, **solver)
    alpha = torch.as_tensor(alpha, dtype=x.dtype, device=x.device)
    return torch.log_softmax(_restricted_raw(x, y, alpha.expand(x.shape[:-1])), -1).to(out)


def optimal_distribution(logits_theta, logits_target, alpha=None, **solver) -> torch.Tensor:
    """q* as probabilities (see :func:`optimal_logits`)."""
    x, y, out = _prep(logits_theta, logits_target)
    if alpha is None:
        alpha = optimal_alpha(x, y, **solver)
    alpha = torch.as_tensor(alpha, dtype=x.dtype, device=x.device)
    return torch.softmax(_restricted_raw(x, y, alpha.expand(x.shape[:-1])), -1).to(out)


def alpha_entropy_approx(logits_theta, logits_target) -> torch.Tensor:
    """H(pi_theta) / (H(pi_theta) + H(pi_t)) (7.7); 1/2 when both rows are one-hot (a single
    finite logit each), 0 / 1 when only pi_theta / only pi_t is one-hot.

    One-hot is decided by the distribution, not by an entropy that underflows: with
    H = e^m h (:func:`_entropy_scaled`) the ratio is h1 / (h1 + h2 e^(m2 - m1)) (or its
    mirror), m2 - m1 carried in two words, so rows whose entropies are below the float range
    keep their ratio."""
    x, y, out = _prep(logits_theta, logits_target)
    m1, l1, h1, oh1 = _entropy_scaled(x)
    m2, l2, h2, oh2 = _entropy_scaled(y)
    d_hi, d_err = two_sum(m2, -m1)  # m2 - m1 = d_hi + d_lo
    d_lo = d_err + (l2 - l1)
    first = d_hi <= 0  # H2 / H1 = (h2 / h1) e^(m2 - m1): scale the smaller one down
    e = exp2w(torch.where(first, d_hi, -d_hi), torch.where(first, d_lo, -d_lo))
    a1 = torch.where(first, h1, h1 * e)
    a2 = torch.where(first, h2 * e, h2)
    res = a1 / (a1 + a2)
    res = torch.where(oh1, 0.0, torch.where(oh2, 1.0, res))
    return torch.where(oh1 & oh2, 0.5, res).to(out)


def alpha_ess_balance(logits_theta, logits_target, iters: int | None = None) -> torch.Tensor:
    """alpha with sum pi_theta^2 / q_alpha = sum pi_t^2 / q_alpha (exact ESS balance, 6.3).

    Bisection on B(alpha) = LSE((2-a) l_theta + (a-1) l_t) - LSE((1+a) l_t - a l_theta) with a
    fixed number of halvings (64 in float64, 40 in float32). Needs equal supports
    (``ValueError`` on CPU); identical distributions give 1/2.
    """
    x, y, out = _prep(logits_theta, logits_target)
    if _checkable(x) and bool((torch.isfinite(x) != torch.isfinite(y)).any()):
        raise ValueError("alpha_ess_balance needs equal supports (an ESS would be 0)")
    lx, ly = torch.log_softmax(x, -1), torch.log_softmax(y, -1)
    fin = torch.isfinite(lx)
    lx0, ly0 = torch.where(fin, lx, 0.0), torch.where(fin, ly, 0.0)

    def balance(al):
        a = al.unsqueeze(-1)
        u = torch.where(fin, (2 - a) * lx0 + (a - 1) * ly0, NEG_INF)
        v = torch.where(fin, (1 + a) * ly0 - a * lx0, NEG_INF)
        return torch.logsumexp(u, -1) - torch.logsumexp(v, -1)

    zeros = torch.zeros(x.shape[:-1], dtype=x.dtype, device=x.device)
    lo, hi = zeros, zeros + 1
    b0, b1 = balance(lo), balance(hi)
    if iters is None:
        iters = 64 if x.dtype == torch.float64 else 40
    for _ in range(iters):
        mid = (lo + hi) / 2
        pos = balance(mid) > 0
        lo = torch.where(pos, mid, lo)
        hi = torch.where(pos, hi, mid)
    res = torch.where(b0 <= 0, 0.0, torch.where(b1 >= 0, 1.0, (lo + hi) / 2))
    same = ((lx0 == ly0) | ~fin).all(-1)
    return torch.where(same, 0.5, res).to(out)


def seed_code_iterations(tol: float = 1e-6, max_iter: int = 50) -> int:
    """Iterations the seed's bisection runs: the bracket width after k steps is 2^-k for every
    input, so it stops at the first k with 2^-k < tol (or at max_iter)."""
    k, width = 0, 1.0
    while k < max_iter:
        k += 1
        width /= 2
        if width < tol:
            break
    return k


def solve_kl_symmetry_seed_code(
    logits_theta, logits_target, tol=1e-6, max_iter=50, eps=1e-10
) -> torch.Tensor:
    """The seed's ``OptimalSamplingDistribution._solve_kl_symmetry`` (7.4), batched, faithful:
    pi = softmax(logits), logs of pi + eps, softmax geometric mean, delta = sum q log-ratio,
    torch.where bracket update. Its early exit ``(high - low).max() < tol`` is replaced by the
    iteration count it always takes (:func:`seed_code_iterations`), which removes the host
    synchronisation without changing the result."""
    if not (float(tol) > 0):
        raise ValueError(f"tol must be > 0, got {tol!r}")
    if not (float(eps) >= 0):
        raise ValueError(f"eps must be >= 0, got {eps!r}")
    if int(max_iter) != max_iter or max_iter < 1:
        raise ValueError(f"max_iter must be a positive integer, got {max_iter!r}")
    x, y, out = _prep(logits_theta, logits_target)
    pi_theta, pi_t = torch.softmax(x, -1), torch.softmax(y, -1)
    if eps == 0 and _checkable(x) and bool(((pi_theta == 0) | (pi_t == 0)).any()):
        raise ValueError("eps = 0 with a zero probability: log(0) in the seed's code")
    alpha = _seed_bisection(pi_theta, pi_t, tol, int(max_iter), eps)
    return alpha.to(out)


def _seed_bisection(pi_theta, pi_t, tol=1e-6, max_iter=50, eps=1e-10):
    """The seed's loop body on probabilities (used by the benchmark as written)."""
    alpha_low = torch.zeros(pi_theta.shape[:-1], dtype=pi_theta.dtype, device=pi_theta.device)
    alpha_high = torch.ones_like(alpha_low)
    for _ in range(seed_code_iterations(tol, max_iter)):
        alpha_mid = (alpha_low + alpha_high) / 2
        a = alpha_mid.unsqueeze(-1)
        log_q = a * torch.log(pi_theta + eps) + (1 - a) * torch.log(pi_t + eps)
        q_alpha = torch.softmax(log_q, dim=-1)
        log_ratio = torch.log(pi_t + eps) - torch.log(pi_theta + eps)
        delta = (q_alpha * log_ratio).sum(dim=-1)
        mask = delta > 0
        alpha_low = torch.where(mask, alpha_mid, alpha_low)
        alpha_high = torch.where(mask, alpha_high, alpha_mid)
    return (alpha_low + alpha_high) / 2


# ----------------------------------------------------------------------- diagnostics


def diagnostics(logits_theta, logits_target, alpha=None, **solver) -> dict[str, torch.Tensor]:
    """The section 7.4 diagnostics at q* as tensors (exact forms, no eps): alpha, kl_theta =
    D(q*||pi_theta), kl_t = D(q*||pi_t), kl_diff, kl_symmetry_error, ess_theta / ess_t (both
    section 4.5 fractions 1 / sum pi^2 / q*), ess_ratio (from logs: inf / 0 only when the
    ratio itself is outside the dtype's range), entropy_theta, entropy_t, entropy_q."""
    x, y, out = _prep(logits_theta, logits_target)
    if alpha is None:
        alpha = optimal_alpha(x, y, **solver)
    alpha = torch.as_tensor(alpha, dtype=x.dtype, device=x.device).expand(x.shape[:-1])
    zq = _restricted_raw(x, y, alpha)
    lq = torch.log_softmax(zq, -1)
    lx, ly = torch.log_softmax(x, -1), torch.log_softmax(y, -1)
    ka, kb = _kl(lq, lx), _kl(lq, ly)
    tot = ka + kb
    fq = torch.isfinite(lq)

    def log_inv_ess(lp):  # log sum pi^2 / q*, +inf where pi has mass off supp q*
        return torch.logsumexp(
            torch.where(torch.isfinite(lp), 2 * lp - torch.where(fq, lq, NEG_INF), NEG_INF), -1
        )

    lt_, lg_ = log_inv_ess(lx), log_inv_ess(ly)
    ess_t, ess_g = torch.exp(-lt_), torch.exp(-lg_)
    res = {
        "alpha": alpha,
        "kl_theta": ka,
        "kl_t": kb,
        "kl_diff": (ka - kb).abs(),
        "kl_symmetry_error": torch.where(
            tot == 0, 0.0, (ka - kb).abs() / torch.where(tot == 0, 1.0, tot)
        ),
        "ess_theta": ess_t,
        "ess_t": ess_g,
        "ess_ratio": torch.exp(lg_ - lt_),  # log domain: no 0/0 when both ESS underflow
        "entropy_theta": _entropy(x),
        "entropy_t": _entropy(y),
        "entropy_q": _entropy(zq),
    }
    return {k: v.to(out) for k, v in res.items()}


# ------------------------------------------------------------------------- Pareto front


def _pareto(logits_q, logits_theta, logits_target, iters):
    _check_logits("logits_q", logits_q)
    x, y, out = _prep(logits_theta, logits_target)
    if logits_q.shape[-1] != x.shape[-1]:
        raise ValueError(f"logits_q has vocabulary {logits_q.shape[-1]}, expected {x.shape[-1]}")
    _check_common(x, y)
    z = logits_q.to(x.dtype)
    z, x, y = torch.broadcast_tensors(z, x, y)
    lz, lx, ly = (torch.log_softmax(t, -1) for t in (z, x, y))
    ka, kb = _kl(lz, lx), _kl(lz, ly)
    if _checkable(z) and bool((torch.isinf(ka) | torch.isinf(kb)).any()):
        raise ValueError("logits_q puts mass outside the common support: a KL is +inf")
    common = torch.isfinite(lx) & torch.isfinite(ly)
    d = torch.where(common, ly - lx, 0.0)
    lx_s = torch.where(common, lx, NEG_INF)

    def kls(al):
        s = lx_s + (1 - al).unsqueeze(-1) * d
        logz = torch.logsumexp(s, -1)
        q = torch.exp(s - logz.unsqueeze(-1))
        m1 = (q * d).sum(-1)
        return (1 - al) * m1 - logz, -al * m1 - logz

    def gap(al):
        kt, kg = kls(al)
        return (ka - kt) - (kb - kg)

    zeros = torch.zeros(x.shape[:-1], dtype=x.dtype, device=x.device)
    lo, hi = zeros, zeros + 1
    g0, g1 = gap(lo), gap(hi)
    if iters is None:
        iters = 64 if x.dtype == torch.float64 else 40
    for _ in range(iters):
        mid = (lo + hi) / 2
        neg = gap(mid) < 0
        lo = torch.where(neg, mid, lo)
        hi = torch.where(neg, hi, mid)
    best = torch.where(g0 >= 0, 0.0, torch.where(g1 <= 0, 1.0, (lo + hi) / 2))
    kt, kg = kls(best)
    margin = torch.minimum(ka - kt, kb - kg)
    # at an interior crossing a - D_theta(a*) = b - D_t(a*) the margin equals D(q || q_a*)
    # (weighted-sum identity), a KL computed without the O(1) cancellation of the differences;
    # it is stationary in alpha there, so the bisection's ulp in a* costs (da)^2 Var / 2 only
    inner = (g0 < 0) & (g1 > 0)
    at_best = kl_divergence(z, _restricted_raw(x, y, best))
    return best, torch.where(inner, at_best, margin), out


def pareto_margin(logits_q, logits_theta, logits_target, iters: int | None = None):
    """max_a min(D(q||pi_theta) - D(q_a||pi_theta), D(q||pi_t) - D(q_a||pi_t)) (5.2-5.3):
    > 0 strictly dominated by the family, 0 on it. Bisection with a fixed count."""
    _, m, out = _pareto(logits_q, logits_theta, logits_target, iters)
    return m.to(out)


def pareto_dominating_alpha(logits_q, logits_theta, logits_target, iters: int | None = None):
    """The alpha attaining :func:`pareto_margin` (root of Delta = D(q||pi_theta) -
    D(q||pi_t), clamped to [0, 1])."""
    a, _, out = _pareto(logits_q, logits_theta, logits_target, iters)
    return a.to(out)


# ---------------------------------------------------------------- speculative sampling


def _spec(logits_proposal, logits_q):
    x, y, out = _prep(logits_proposal, logits_q, ("logits_proposal", "logits_q"))
    p, q = torch.softmax(x, -1), torch.softmax(y, -1)
    r = (q - p).clamp_min(0).sum(-1, keepdim=True)  # 1 - beta = TV(p, q)
    return p, q, r, out


def _beta(p, q, r):
    """beta = sum min(p, q), from whichever of sum min(p, q) and 1 - r has no cancellation
    (1 - r is exactly 1 for p = q; the direct sum is accurate for nearly disjoint p, q)."""
    return torch.where(r < 0.5, 1 - r, torch.minimum(p, q).sum(-1, keepdim=True))


def speculative_acceptance_rate(logits_proposal, logits_q) -> torch.Tensor:
    """beta = sum min(p, q) = 1 - sum max(0, q - p) (section 7.7, both schemes)."""
    p, q, r, out = _spec(logits_proposal, logits_q)
    return _beta(p, q, r).squeeze(-1).to(out)


def speculative_output_section_7_7(logits_proposal, logits_q) -> torch.Tensor:
    """Output distribution of the seed's scheme: min(p, q) + (1 - beta) q (biased unless p = q)."""
    p, q, r, out = _spec(logits_proposal, logits_q)
    return (torch.minimum(p, q) + r * q).to(out)


def speculative_output_residual(logits_proposal, logits_q) -> torch.Tensor:
    """Output distribution of residual speculative sampling: min(p, q) + max(0, q - p) = q."""
    p, q, r, out = _spec(logits_proposal, logits_q)
    return torch.where(r == 0, q, torch.minimum(p, q) + (q - p).clamp_min(0)).to(out)


def speculative_bias_tv_section_7_7(logits_proposal, logits_q) -> torch.Tensor:
    """TV(seed scheme's output, q) = 1/2 sum |min(p, q) - beta q|.

    As 1/2 E_q |f - E_q f| with f = min(p / q, 1) = min(e^lam, 1) on supp q (0 where p = 0),
    lam = log p - log q = (g - g[k]) + lam[k], g = x - y in two words, k the most likely
    token of q inside supp p, lam[k] = -log(A_p / A_q) (A = sums of e^(z - z[k]), no
    log-normaliser of size |z| is formed). The deviations use delta = f - f[k]
    (e^lam[k] expm1(g - g[k]) where both ratios are below 1), so nearly proportional p and q
    (TV ~ 1e-4 of O(1) terms min(p, q) and beta q) keep their digits; rows where p and q share
    no token, or whose shared most likely token of q is e^(log(max float) / 2) below a peak,
    keep the direct formula."""
    p, q, r, out = _spec(logits_proposal, logits_q)
    direct = (torch.minimum(p, q) - _beta(p, q, r) * q).abs().sum(-1) / 2
    x, y, _ = _prep(logits_proposal, logits_q, ("logits_proposal", "logits_q"))
    fp, fq = torch.isfinite(x), torch.isfinite(y)
    both = fp & fq
    ok = both.any(-1, keepdim=True)
    zero = torch.zeros_like(x)
    k = torch.where(both, y, NEG_INF).argmax(-1, keepdim=True)
    xk, yk = x.gather(-1, k), y.gather(-1, k)
    xk = torch.where(ok, xk, zero[..., :1])
    yk = torch.where(ok, yk, zero[..., :1])
    ex = torch.where(fp, torch.where(fp, x, 0.0) - xk, NEG_INF)
    ey = torch.where(fq, torch.where(fq, y, 0.0) - yk, NEG_INF)
    # A_p, A_q must not overflow (p[k] or q[k] far below the peak): those rows keep the direct form
    lim = 0.5 * math.log(torch.finfo(x.dtype).max)
    ok = ok & (ex.amax(-1, keepdim=True) <= lim) & (ey.amax(-1, keepdim=True) <= lim)
    a_p = torch.exp(ex.clamp(max=lim)).sum(-1, keepdim=True)
    a_q = torch.exp(ey.clamp(max=lim)).sum(-1, keepdim=True)
    g_hi, g_lo = two_sum(torch.where(both, x, zero), -torch.where(both, y, zero))
    d_hi, d_err = two_sum(g_hi, -g_hi.gather(-1, k))
    d = d_hi + (d_err + (g_lo - g_lo.gather(-1, k)))  # g - g[k]
    lam_k = -torch.log(a_p / a_q)  # log p[k] - log q[k] = log A_q - log A_p
    lam = d + lam_k
    below = lam < 0
    below_k = lam_k < 0
    fm1 = torch.where(below, torch.expm1(torch.where(below, lam, 0.0)), zero)  # f - 1 <= 0
    fm1_k = torch.where(below_k, torch.expm1(torch.where(below_k, lam_k, 0.0)), 0.0)
    delta = torch.where(below & below_k, torch.exp(lam_k) * torch.expm1(d), fm1 - fm1_k)
    delta = torch.where(both, delta, -(1 + fm1_k))  # p = 0 on supp q: f = 0
    delta = torch.where(fq & ok, delta, zero)
    mean = (q * delta).sum(-1, keepdim=True)
    tv = (q * (delta - mean).abs()).sum(-1) / 2
    return torch.where(ok.squeeze(-1), tv, direct).to(out)


# --------------------------------------------------------------------------- samplers


def sample_categorical(log_probs: torch.Tensor, generator: torch.Generator | None = None):
    """One exact draw per row from softmax(log_probs) by Gumbel-max (-inf entries never drawn).

    Exact in distribution up to the float rounding of the Gumbel noise; sampled in float64
    for float64 input and float32 otherwise."""
    lp = log_probs.to(torch.float64 if log_probs.dtype == torch.float64 else torch.float32)
    u = torch.rand(lp.shape, dtype=lp.dtype, device=lp.device, generator=generator)
    tiny = torch.finfo(lp.dtype).tiny
    expo = -torch.log(u.clamp_min(tiny))  # Exp(1) draws
    g = -torch.log(expo.clamp_min(tiny))  # Gumbel(0, 1)
    return torch.argmax(lp + g, dim=-1)


def sample_optimal(
    logits_theta, logits_target, alpha=None, generator: torch.Generator | None = None, **solver
) -> torch.Tensor:
    """One token index per row drawn exactly from q* (Gumbel-max on log q*)."""
    return sample_categorical(
        optimal_logits(logits_theta, logits_target, alpha, **solver), generator
    )


def sample_speculative_residual(
    logits_proposal, logits_q, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Standard speculative sampling: y ~ p, accept with min(1, q/p), else y ~ (q - p)+ / (1 - beta).

    Returns (tokens, accepted). Exact: tokens ~ q. Rows with p = q never reject."""
    x, y, _ = _prep(logits_proposal, logits_q, ("logits_proposal", "logits_q"))
    p, q = torch.softmax(x, -1), torch.softmax(y, -1)
    cand = sample_categorical(torch.log(p), generator)
    pc = p.gather(-1, cand.unsqueeze(-1)).squeeze(-1)
    qc = q.gather(-1, cand.unsqueeze(-1)).squeeze(-1)
    u = torch.rand(pc.shape, dtype=p.dtype, device=p.device, generator=generator)
    accept = u * pc < qc  # u < min(1, q/p) without dividing
    res = (q - p).clamp_min(0)
    res_log = torch.where(res.sum(-1, keepdim=True) > 0, torch.log(res), torch.log(q))
    redraw = sample_categorical(res_log, generator)
    return torch.where(accept, cand, redraw), accept


def sample_speculative_section_7_7(
    logits_proposal, logits_q, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The seed's scheme (7.7) as written: y ~ p, accept with min(1, q/p), else a fresh y ~ q.

    Returns (tokens, accepted). Biased: tokens ~ min(p, q) + (1 - beta) q, not q."""
    x, y, _ = _prep(logits_proposal, logits_q, ("logits_proposal", "logits_q"))
    p, q = torch.softmax(x, -1), torch.softmax(y, -1)
    cand = sample_categorical(torch.log(p), generator)
    pc = p.gather(-1, cand.unsqueeze(-1)).squeeze(-1)
    qc = q.gather(-1, cand.unsqueeze(-1)).squeeze(-1)
    u = torch.rand(pc.shape, dtype=p.dtype, device=p.device, generator=generator)
    accept = u * pc < qc
    redraw = sample_categorical(torch.log(q), generator)
    return torch.where(accept, cand, redraw), accept


def ess_front_distribution(logits_theta, logits_target, b) -> torch.Tensor:
    """The true ESS Pareto front (corrects seed 004 section 5.1, claim 004-5.1-a):
    q_b = sqrt(b pi_theta^2 + (1 - b) pi_t^2) / Z, b in [0, 1], from log-softmaxed logits in the
    log domain (logaddexp of 2 log pi_theta + log b and 2 log pi_t + log(1 - b), halved).
    b = 1 gives pi_theta and b = 0 gives pi_t; the support is the union of both supports."""
    x, y, out = _prep(logits_theta, logits_target)
    if isinstance(b, torch.Tensor):
        if _checkable(b):
            ok = (b >= 0) & (b <= 1)
            if not bool(ok.all()):
                raise ValueError(f"b must lie in [0, 1], got {b[~ok].flatten()[:4].tolist()}")
    elif not (0 <= float(b) <= 1):
        raise ValueError(f"b must lie in [0, 1], got {b!r}")
    bb = _alpha_col(b, x)
    t_theta = 2 * torch.log_softmax(x, -1) + torch.log(bb)
    t_target = 2 * torch.log_softmax(y, -1) + torch.log1p(-bb)
    return torch.softmax(torch.logaddexp(t_theta, t_target) / 2, -1).to(out)
