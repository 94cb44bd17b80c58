"""Certified enclosures: intervals that provably contain a quantity of the seeds.

Everything here is computed in mpmath's interval context ``mpmath.iv`` (outward-rounded
interval arithmetic: every operation returns an interval that contains the exact result for
every point of its operands), so a returned enclosure ``(lo, hi)`` is a proof, not an estimate:
the quantity lies in ``[lo, hi]`` for the inputs exactly as given (a decimal string is
enclosed as the decimal it spells, a float or mpf as its exact binary value, an int outward).

Why ``mpmath.iv`` and not python-flint's ``arb``: mpmath is already the reference's only
dependency, the problems enclosed here have small vocabularies (the fixtures' V <= 64), and
the certification needs only two interval evaluations of a sum of V terms at ~70 digits
(milliseconds); arb would be ~10x faster per operation but adds a compiled dependency the
reference does not otherwise need.

alpha* (seed 004 section 6.4, theorem 5 / 6). With S the common support, d = log pi_t -
log pi_theta on S and q_a ∝ pi_theta^a pi_t^(1-a) on S,

    Delta(a) = KL(q_a || pi_theta) - KL(q_a || pi_t) = E_{q_a}[d],
    Delta'(a) = -Var_{q_a}(d) < 0 unless d is constant on S,

so Delta is strictly decreasing and has at most one root (the general proof, V symbolic, is
``proofs/theorems.alpha_star_proof``). ``G(a) = sum_S exp(a l_theta + (1 - a)
l_t - c) d`` has the sign of Delta(a) (it is Delta times the positive Z_a e^-c). If interval
evaluation shows G(lo) > 0 and G(hi) < 0, the intermediate value theorem puts the root in
(lo, hi) and monotonicity makes it the only one: that is the certificate.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

import mpmath
from mpmath import iv

from isreshape.reference import sampling as _S
from isreshape.reference.golden import register_enclosure

__all__ = ["NoInteriorRoot", "optimal_alpha_enclosure"]

NO_GOLDEN = {
    "optimal_alpha_enclosure": "a proof object, not a value to match: its bounds are stored in "
    "the sampling.optimal_alpha fixture rows ('enclosure') and the solvers are tested inside them",
}

#: the widest enclosure the fixtures accept (issue 15: at most 1e-40)
DEFAULT_WIDTH = mpmath.mpf("1e-40")
_START_DPS = 60
_MAX_DPS = 8000


def _interval(v: Any):
    """Point interval of an input: a decimal string as the decimal it spells (enclosed), a
    float or mpf exactly (an mpf keeps its own precision: ``mpmath.mpf(v)`` would round it to
    the ambient one), an int enclosed outward. -inf stays the marker ``None`` (off the support)."""
    if isinstance(v, str):
        x = mpmath.mpf(v)  # only to classify infinities; the value comes from the string
        if mpmath.isinf(x):
            return None if x < 0 else x
        return iv.mpf(v)
    if isinstance(v, float) and math.isinf(v) or isinstance(v, mpmath.mpf) and mpmath.isinf(v):
        return None if v < 0 else v
    if isinstance(v, (int, float, mpmath.mpf)):
        return iv.mpf(v)
    raise ValueError(f"logits must be floats, ints, mpf or decimal strings, got {v!r}")


def _exact(v: Any) -> Fraction | None:
    """The input as an exact rational (None for -inf): floats, ints, mpf and decimal strings
    all have one."""
    if isinstance(v, str):
        x = mpmath.mpf(v)
        return None if mpmath.isinf(x) else Fraction(v.strip())
    if isinstance(v, mpmath.mpf):
        if mpmath.isinf(v):
            return None
        man, exp = v.man_exp
        return Fraction(int(man)) * Fraction(2) ** int(exp)
    if isinstance(v, float) and math.isinf(v):
        return None
    return Fraction(v)


class NoInteriorRoot(ValueError):
    """Delta(alpha) has no root strictly inside (0, 1): alpha* is a convention there (the
    endpoint 0 or 1, or 1/2 for a constant d), not a root to enclose."""


def _interval_log_probs(vals: list) -> list:
    """log-softmax in interval arithmetic; ``None`` (-inf) stays ``None``."""
    finite = [v for v in vals if v is not None]
    m = iv.mpf(max(mpmath.mpf(v.mid) for v in finite))  # any point shift is exact algebra
    lse = m + iv.log(sum((iv.exp(v - m) for v in finite), iv.mpf(0)))
    return [None if v is None else v - lse for v in vals]


def _sign_g(l_theta: list, l_t: list, a) -> int:
    """+1 / -1 when G(a) (the sign of Delta(a)) is certainly positive / negative, 0 when the
    interval at the current precision contains 0."""
    a = iv.mpf(a)
    ex = [a * x + (1 - a) * y for x, y in zip(l_theta, l_t)]
    c = iv.mpf(max(mpmath.mpf(e.mid) for e in ex))
    g = sum((iv.exp(e - c) * (y - x) for e, x, y in zip(ex, l_theta, l_t)), iv.mpf(0))
    # compare the endpoints (point intervals): mpmath >= 1.4 raises on an undecided interval
    # comparison where 1.3 returned None
    if g.a > 0:
        return 1
    if g.b < 0:
        return -1
    return 0


def optimal_alpha_enclosure(
    logits_theta: Sequence[Any],
    logits_target: Sequence[Any],
    width: Any = DEFAULT_WIDTH,
    candidate: Any = "solve",
) -> tuple[mpmath.mpf, mpmath.mpf]:
    """An interval ``(lo, hi)``, ``hi - lo <= width``, that provably contains alpha*.

    alpha* is the root in (0, 1) of Delta(a) = KL(q_a||pi_theta) - KL(q_a||pi_t) (seed 004
    section 6.4), as :func:`isreshape.reference.sampling.optimal_alpha` defines it. Certificate:
    interval evaluations show Delta(lo) > 0 > Delta(hi), so the unique root (Delta decreases)
    is inside. ``candidate`` is where to look first: ``"solve"`` (default) takes the reference's
    Newton solution at ``log10(1/width) + 30`` digits; a number certifies a bracket of
    ``width`` around it; ``None`` bisects [0, 1] on certified signs alone. A wrong candidate
    fails its certificate and falls back to bisection, so the candidate affects only speed.

    Domain: the inputs of ``optimal_alpha`` (finite or -inf logits, equal lengths, a common
    support). ``ValueError`` (naming the argument) when Delta has no root strictly inside (0, 1)
    (a certified sign at an endpoint, where alpha* is the endpoint 0 or 1 by the solver's
    convention; d constant on S, where Delta keeps one sign or is 0 everywhere)
    or when the precision needed exceeds 8000 digits; ``width`` must be in (0, 1).
    """
    width = mpmath.mpf(width)
    if not (0 < width < 1):
        raise ValueError(f"width must be in (0, 1), got {width}")
    # the reference's checks (NaN, +inf, empty, length mismatch, disjoint supports)
    x, y = _S._raw_pair(list(logits_theta), list(logits_target))
    idx = _S._common(x, y)
    # d constant on S (decided on the exact inputs: the normalisers cancel in d_i - d_j)
    diffs = {
        _exact(b) - _exact(a)
        for a, b in ((list(logits_theta)[i], list(logits_target)[i]) for i in idx)
    }
    if len(diffs) == 1:
        _no_root("d = log pi_t - log pi_theta is constant on the common support")
    digits = int(-mpmath.log10(width)) + 1
    if candidate == "solve":
        with mpmath.workdps(digits + 30):
            candidate = _S.optimal_alpha(list(logits_theta), list(logits_target))
    saved = iv.prec
    try:
        dps = _START_DPS + digits
        while dps <= _MAX_DPS:
            iv.dps = dps
            lt = _interval_log_probs([_interval(v) for v in logits_theta])
            lg = _interval_log_probs([_interval(v) for v in logits_target])
            lt_s, lg_s = [lt[i] for i in idx], [lg[i] for i in idx]
            with mpmath.workdps(digits + 20):  # lo, hi, mid exact to below the width
                got = _enclose(lt_s, lg_s, width, candidate)
            if got is not None:
                return got
            dps *= 2
    finally:
        iv.prec = saved
    raise ValueError(
        f"logits_theta / logits_target: alpha* could not be enclosed to width {width} below "
        f"{_MAX_DPS} digits"
    )


def _enclose(l_theta, l_t, width, candidate):
    """The enclosure at the current interval precision, or None when a sign was undecided."""
    s0, s1 = _sign_g(l_theta, l_t, 0), _sign_g(l_theta, l_t, 1)
    if s0 == 0 or s1 == 0:
        return None
    if s0 < 0 or s1 > 0:
        _no_root(f"Delta(0) has sign {s0:+d} and Delta(1) sign {s1:+d}")
    if candidate is not None:
        got = _bracket(l_theta, l_t, mpmath.mpf(candidate), width)
        if got is not None:
            return got
    lo, hi = mpmath.mpf(0), mpmath.mpf(1)
    while hi - lo > width:
        mid = (lo + hi) / 2
        s = _sign_g(l_theta, l_t, mid)
        if s == 0:  # mid is (nearly) the root itself: certify a bracket around it
            return _bracket(l_theta, l_t, mid, width)
        if s > 0:
            lo = mid
        else:
            hi = mid
    return lo, hi


def _bracket(l_theta, l_t, c, width):
    """(c - width / 4, c + width / 4) when Delta is certified > 0 at its left end and < 0 at
    its right end, else None."""
    lo, hi = c - width / 4, c + width / 4
    if 0 < lo and hi < 1 and _sign_g(l_theta, l_t, lo) > 0 and _sign_g(l_theta, l_t, hi) < 0:
        return lo, hi
    return None


def _no_root(why: str):
    raise NoInteriorRoot(
        f"logits_theta / logits_target: Delta(alpha) has no root strictly inside (0, 1) ({why}); "
        "alpha* is an endpoint there and needs no enclosure"
    )


register_enclosure(
    "sampling.optimal_alpha",
    route=(
        "mpmath.iv interval arithmetic: Delta(lo) > 0 > Delta(hi) certified (the sign of "
        "sum_S exp(a l_theta + (1 - a) l_t - c) d), a unique root by Delta' = -Var_q(d) < 0"
    ),
    function=optimal_alpha_enclosure,
    width="1e-40",
    declines=NoInteriorRoot,
)
