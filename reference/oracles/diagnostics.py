"""Oracles for ``reference/diagnostics.py``: the Kish ESS from the plain weights exp(log_w) (no
max shift, no log domain: mpmath's exponent is unbounded), and the PSIS k-hat written again from
Vehtari et al. (2024) / Zhang & Stephens (2009) as ArviZ's ``psislw`` / ``_gpdfit`` state it:
plain exceedances at 40 guard digits and the grid posterior weights as exp(L_j) / sum exp(L)."""

from __future__ import annotations

import math

import mpmath

from isreshape.reference.golden import register_oracle

_GUARD = 40  # extra digits: exceedances exp(l) - exp(cutoff) cancel when l is near the cutoff


def _kept(log_w, mask):
    if mask is None:
        return list(log_w)
    return [x for x, keep in zip(log_w, mask) if keep]


def _kish_ess(log_w, mask=None):
    """(sum w)^2 / sum w^2 over the selected entries, w = exp(log_w) (exp(-inf) = 0)."""
    with mpmath.extradps(10):
        w = [mpmath.exp(x) for x in _kept(log_w, mask)]
        s1 = mpmath.fsum(w)
        s2 = mpmath.fsum(x * x for x in w)
        return s1 * s1 / s2


def _kish_ess_ratio(log_w, mask=None):
    n = len(_kept(log_w, mask))
    with mpmath.extradps(10):
        return _kish_ess(log_w, mask) / n


def _tail_length(s):
    """ceil(min(S / 5, 3 sqrt(S))) in integers: ceil(S / 5) and the least M with M^2 >= 9 S."""
    a = -(-s // 5)
    b = math.isqrt(9 * s)
    if b * b < 9 * s:
        b += 1
    return min(a, b)


def _psis_khat(log_w, mask=None):
    x = _kept(log_w, mask)
    s = len(x)
    m_tail = _tail_length(s)
    if m_tail <= 4:  # the tail has at most m_tail draws: "not enough tail samples"
        return mpmath.inf
    with mpmath.extradps(_GUARD):
        top = max(x)
        rel = sorted(v - top for v in x)  # ascending, relative to the maximum
        floor = mpmath.log(mpmath.mpf(2.2250738585072014e-308))  # ArviZ's cutoff minimum
        cutoff = max(rel[-m_tail - 1], floor)
        tail = [v for v in rel if v > cutoff]  # ascending
        n = len(tail)
        if n <= 4:
            return mpmath.inf
        ex = [mpmath.exp(v) - mpmath.exp(cutoff) for v in tail]  # exceedances, ascending
        # Zhang & Stephens (2009) grid
        m = 30 + math.isqrt(n)
        xq = ex[int(mpmath.floor(mpmath.mpf(n) / 4 + mpmath.mpf(1) / 2)) - 1]
        thetas = [
            1 / ex[-1] + (1 - mpmath.sqrt(mpmath.mpf(m) / (j - mpmath.mpf(1) / 2))) / (3 * xq)
            for j in range(1, m + 1)
        ]

        def k_of(theta):
            return mpmath.fsum(mpmath.log1p(-theta * v) for v in ex) / n

        ks = [k_of(t) for t in thetas]
        logl = [n * (mpmath.log(-t / k) - k - 1) for t, k in zip(thetas, ks)]
        z = mpmath.fsum(mpmath.exp(v) for v in logl)
        wts = [mpmath.exp(v) / z for v in logl]
        floor_w = mpmath.mpf(10 * 2.220446049250313e-16)  # 10 eps(float64), ArviZ
        kept = [(w, t) for w, t in zip(wts, thetas) if w >= floor_w]
        zk = mpmath.fsum(w for w, _ in kept)
        theta_post = mpmath.fsum(w * t for w, t in kept) / zk
        k = k_of(theta_post)
        return (n * k + 10 * mpmath.mpf(1) / 2) / (n + 10)


# ---------------------------------------------------------------- domains (from the docstrings)


def _is_nan(x) -> bool:
    return mpmath.isnan(x)


def _mask_ok(log_w, mask) -> bool:
    return mask is None or (
        len(mask) == len(log_w) and all(isinstance(k, bool) for k in mask) and any(mask)
    )


def _kish_domain(log_w, mask=None):
    """Non-empty; the mask (same length) selects something; selected entries neither NaN nor
    +inf; at least one selected entry above -inf."""
    if not log_w or not _mask_ok(log_w, mask):
        return False
    sel = _kept(log_w, mask)
    if any(_is_nan(x) or x == mpmath.inf for x in sel):
        return False
    return any(x > -mpmath.inf for x in sel)


def _psis_domain(log_w, mask=None):
    """As kish_ess except that every selected entry may be -inf (no tail: +inf)."""
    if not log_w or not _mask_ok(log_w, mask):
        return False
    return not any(_is_nan(x) or x == mpmath.inf for x in _kept(log_w, mask))


_DOMAIN = {"kish_ess": _kish_domain, "kish_ess_ratio": _kish_domain, "psis_khat": _psis_domain}


register_oracle(
    "diagnostics.kish_ess",
    "(sum w)^2 / sum w^2 on the plain weights exp(log_w) at 10 guard digits (one-line "
    "definition; no max shift, mpmath's exponent is unbounded)",
    _kish_ess,
    digits=35,
    why="two positive sums and a quotient at 60 digits: exact to ~55 digits",
    domain=_DOMAIN["kish_ess"],
)
register_oracle(
    "diagnostics.kish_ess_ratio",
    "the plain-weight Kish ESS divided by the count of selected entries (one-line definition)",
    _kish_ess_ratio,
    digits=35,
    why="as kish_ess",
    domain=_DOMAIN["kish_ess_ratio"],
)
register_oracle(
    "diagnostics.psis_khat",
    "ArviZ psislw / _gpdfit (Zhang-Stephens grid, prior 10 / n_tail toward 1/2) written again "
    "from the paper's description: integer tail length, plain exceedances "
    "exp(l - max) - exp(cutoff - max) at 40 guard digits, grid weights exp(L_j) / sum exp(L)",
    _psis_khat,
    digits=30,
    why="every step at 90 digits; the exceedance cancellation near the cutoff costs at most "
    "~17 of them, the log1p means and the softmax none",
    domain=_DOMAIN["psis_khat"],
)
