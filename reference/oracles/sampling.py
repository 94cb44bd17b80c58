"""Oracles for ``reference/sampling.py`` (seed 004): every quantity from the plain probabilities
exp(z) / sum exp(z) (no log-softmax, no max shift: mpmath's exponent is unbounded) at a precision
raised by the digits of the largest logit, with the support conventions of the module docstring
branched on the definitions.

Routes: Delta(alpha) as -F'(alpha) by mpmath.diff of the log partition F on the common support
(not the expectation E_q[d]); the KLs as explicit sums q log(q / p); alpha* by bisection on the
sign of the explicit sum over S of pi_theta^a pi_t^(1-a) d (not Newton on a shift-free form);
the ESS balance by bisection on sum pi_theta^2 / q - sum pi_t^2 / q with q = q_alpha itself
(not the simplified B(alpha)); the Pareto margin by bisection on the crossing of the two KL
improvements (max of a min of a rising and a falling curve); the seed's bisection from the root
of its eps-smoothed delta (the dyadic interval that contains it) instead of re-running the loop;
speculative sampling from the scheme's explicit accept / reject probabilities."""

from __future__ import annotations

from fractions import Fraction

import mpmath

from isreshape.reference.golden import register_oracle

_GUARD = 30
_NEG_INF = mpmath.mpf("-inf")


def _lead(*rows) -> int:
    """Guard digits for logits of size up to max |z| (log p carries them before the point)."""
    m = max((abs(z) for row in rows for z in row if mpmath.isfinite(z)), default=0)
    return _GUARD + (int(mpmath.log10(m)) + 2 if m >= 1 else 0)


def _probs(z):
    e = [mpmath.exp(v) for v in z]  # exp(-inf) = 0
    s = mpmath.fsum(e)
    return [v / s for v in e]


def _log(p):
    return mpmath.log(p) if p > 0 else _NEG_INF


def _common(pt, pq):
    return [a > 0 and b > 0 for a, b in zip(pt, pq)]


def _identical(zth, zt) -> bool:
    """Same support and z_t - z_theta constant on it (exact differences of the inputs)."""
    if [mpmath.isfinite(a) for a in zth] != [mpmath.isfinite(b) for b in zt]:
        return False
    diffs = {b - a for a, b in zip(zth, zt) if mpmath.isfinite(a)}
    return len(diffs) == 1


def _family(pth, pt, alpha):
    """q_alpha as probabilities: endpoints exactly pi_t / pi_theta; inside, on the common
    support, pi_theta^a pi_t^(1 - a) / sum."""
    if alpha == 0:
        return list(pt)
    if alpha == 1:
        return list(pth)
    u = [
        mpmath.power(a, alpha) * mpmath.power(b, 1 - alpha) if a > 0 and b > 0 else 0
        for a, b in zip(pth, pt)
    ]
    s = mpmath.fsum(u)
    return [v / s for v in u]


def _family_on_s(pth, pt, alpha):
    """The family member restricted to the common support at any alpha in [0, 1]."""
    u = [
        mpmath.exp(alpha * mpmath.log(a) + (1 - alpha) * mpmath.log(b)) if a > 0 and b > 0 else 0
        for a, b in zip(pth, pt)
    ]
    s = mpmath.fsum(u)
    return [v / s for v in u]


def _kl(q, p):
    """sum over supp q of q log(q / p); q > 0 = p gives +inf."""
    total = mpmath.mpf(0)
    for a, b in zip(q, p):
        if a == 0:
            continue
        if b == 0:
            return mpmath.inf
        total += a * (mpmath.log(a) - mpmath.log(b))
    return total


# ---------------------------------------------------------------- elementary quantities


def _entropy_of(z):
    """H = E_p[log Z - z]: log Z - z_i = (z_max - z_i) + log1p(off-peak mass) (no cancellation,
    so a one-hot-like row with H ~ e^-10000 keeps its digits), p_i = e^(z_i - log Z)."""
    top = max(z)
    i_top = z.index(top)
    rest = mpmath.fsum(mpmath.exp(v - top) for i, v in enumerate(z) if i != i_top)
    lr = mpmath.log1p(rest)
    gaps = [(top - v) + lr for v in z]  # log Z - z_i; +inf where z_i = -inf
    return mpmath.fsum(mpmath.exp(-g) * g for g in gaps if mpmath.isfinite(g))


def _entropy(logits):
    if sum(1 for z in logits if mpmath.isfinite(z)) == 1:
        return mpmath.mpf(0)
    with mpmath.extradps(_lead(logits)):
        return +_entropy_of(logits)


def _alpha_entropy_approx(logits_theta, logits_target):
    one_th = sum(1 for z in logits_theta if mpmath.isfinite(z)) == 1
    one_t = sum(1 for z in logits_target if mpmath.isfinite(z)) == 1
    if one_th and one_t:
        return mpmath.mpf(1) / 2
    if one_th:
        return mpmath.mpf(0)
    if one_t:
        return mpmath.mpf(1)
    with mpmath.extradps(_lead(logits_theta, logits_target)):
        h1, h2 = _entropy_of(logits_theta), _entropy_of(logits_target)
        return +(h1 / (h1 + h2))


def _geometric_distribution(logits_theta, logits_target, alpha):
    with mpmath.extradps(_lead(logits_theta, logits_target)):
        q = _family(_probs(logits_theta), _probs(logits_target), alpha)
        return [+v for v in q]


def _log_partition(logits_theta, logits_target, alpha):
    if alpha in (0, 1):
        return mpmath.mpf(0)
    with mpmath.extradps(_lead(logits_theta, logits_target)):
        pth, pt = _probs(logits_theta), _probs(logits_target)
        z = mpmath.fsum(
            mpmath.power(a, alpha) * mpmath.power(b, 1 - alpha)
            for a, b in zip(pth, pt)
            if a > 0 and b > 0
        )
        return +mpmath.log(z) if z > 0 else _NEG_INF


def _f_on_s(pth, pt):
    s = _common(pth, pt)
    la = [mpmath.log(a) for a, k in zip(pth, s) if k]
    lb = [mpmath.log(b) for b, k in zip(pt, s) if k]

    def f(alpha):
        return mpmath.log(
            mpmath.fsum(mpmath.exp(alpha * x + (1 - alpha) * y) for x, y in zip(la, lb))
        )

    return f


def _subset(small, big) -> bool:
    return all(b > 0 for a, b in zip(small, big) if a > 0)


def _delta_alpha(logits_theta, logits_target, alpha):
    """-F'(alpha), F the log partition on the common support, by mpmath.diff (one-sided at the
    endpoints, where q_0 = pi_t and q_1 = pi_theta must live on S or Delta is infinite)."""
    with mpmath.extradps(_lead(logits_theta, logits_target)):
        pth, pt = _probs(logits_theta), _probs(logits_target)
        if alpha == 0 and not _subset(pt, pth):
            return mpmath.inf
        if alpha == 1 and not _subset(pth, pt):
            return -mpmath.inf
        f = _f_on_s(pth, pt)
        direction = 1 if alpha == 0 else -1 if alpha == 1 else 0
        return +(-mpmath.diff(f, alpha, direction=direction))


def _kl_q_target(logits_theta, logits_target, alpha):
    with mpmath.extradps(_lead(logits_theta, logits_target)):
        pth, pt = _probs(logits_theta), _probs(logits_target)
        return +_kl(_family(pth, pt, alpha), pt)


def _kl_q_theta(logits_theta, logits_target, alpha):
    with mpmath.extradps(_lead(logits_theta, logits_target)):
        pth, pt = _probs(logits_theta), _probs(logits_target)
        return +_kl(_family(pth, pt, alpha), pth)


def _kl_symmetry_error(logits_theta, logits_target, alpha):
    if _identical(logits_theta, logits_target):
        return mpmath.mpf(0)
    with mpmath.extradps(_lead(logits_theta, logits_target)):
        pth, pt = _probs(logits_theta), _probs(logits_target)
        q = _family(pth, pt, alpha)
        a, b = _kl(q, pth), _kl(q, pt)
        return +(abs(a - b) / (a + b))


# ---------------------------------------------------------------- alpha* and q*


def _bisect_sign(g, lo, hi, steps):
    """Root of g, g(lo) > 0 > g(hi), by plain bisection (``steps`` halvings)."""
    lo, hi = mpmath.mpf(lo), mpmath.mpf(hi)
    for _ in range(steps):
        mid = (lo + hi) / 2
        if g(mid) > 0:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def _steps() -> int:
    return int(mpmath.mp.prec) + 10  # halvings of [0, 1] to below the working precision


def _alpha_star(pth, pt, zth, zt):
    """argmin over [0, 1] of F on S: Delta(a) is, up to the positive factor Z_a, the sum over S
    of pi_theta^a pi_t^(1-a) d with d = log pi_t - log pi_theta, and it decreases in a."""
    s = _common(pth, pt)
    lth = [mpmath.log(a) for a, k in zip(pth, s) if k]
    lt = [mpmath.log(b) for b, k in zip(pt, s) if k]
    d = [y - x for x, y in zip(lth, lt)]
    # d constant on S (exact input differences): F linear
    zs = [b - a for a, b, k in zip(zth, zt, s) if k]
    if len(set(zs)) == 1:
        slope = mpmath.log(mpmath.fsum(a for a, k in zip(pth, s) if k)) - mpmath.log(
            mpmath.fsum(b for b, k in zip(pt, s) if k)
        )  # F(1) - F(0)
        if slope == 0:
            return mpmath.mpf(1) / 2
        return mpmath.mpf(0) if slope > 0 else mpmath.mpf(1)

    def g(a):
        return mpmath.fsum(mpmath.exp(a * x + (1 - a) * y) * v for x, y, v in zip(lth, lt, d))

    if g(mpmath.mpf(0)) <= 0:
        return mpmath.mpf(0)
    if g(mpmath.mpf(1)) >= 0:
        return mpmath.mpf(1)
    return _bisect_sign(g, 0, 1, _steps())


def _optimal_alpha(logits_theta, logits_target):
    with mpmath.extradps(_lead(logits_theta, logits_target)):
        pth, pt = _probs(logits_theta), _probs(logits_target)
        return +_alpha_star(pth, pt, logits_theta, logits_target)


def _optimal_distribution(logits_theta, logits_target):
    with mpmath.extradps(_lead(logits_theta, logits_target)):
        pth, pt = _probs(logits_theta), _probs(logits_target)
        a = _alpha_star(pth, pt, logits_theta, logits_target)
        return [+v for v in _family_on_s(pth, pt, a)]


def _alpha_ess_balance(logits_theta, logits_target):
    if _identical(logits_theta, logits_target):
        return mpmath.mpf(1) / 2
    with mpmath.extradps(_lead(logits_theta, logits_target)):
        pth, pt = _probs(logits_theta), _probs(logits_target)

        def g(a):  # sum pi_theta^2 / q_a - sum pi_t^2 / q_a, q_a normalised
            q = _family_on_s(pth, pt, a)
            return mpmath.fsum(x * x / v for x, v in zip(pth, q) if v > 0) - mpmath.fsum(
                y * y / v for y, v in zip(pt, q) if v > 0
            )

        return +_bisect_sign(g, 0, 1, _steps())


def _ess_front_distribution(logits_theta, logits_target, b):
    with mpmath.extradps(_lead(logits_theta, logits_target)):
        pth, pt = _probs(logits_theta), _probs(logits_target)
        u = [mpmath.sqrt(b * x * x + (1 - b) * y * y) for x, y in zip(pth, pt)]
        s = mpmath.fsum(u)
        return [+(v / s) for v in u]


def _ess_section_4_2(logits_pi, logits_q, n):
    """N / E_q[w^2] with the expectation as the explicit sum over supp q of q (pi / q)^2."""
    with mpmath.extradps(_lead(logits_pi, logits_q)):
        p, q = _probs(logits_pi), _probs(logits_q)
        m2 = mpmath.fsum(b * (a / b) ** 2 for a, b in zip(p, q) if b > 0)
        return +(n / m2)


def _ess_section_4_5(logits_pi, logits_q):
    with mpmath.extradps(_lead(logits_pi, logits_q)):
        p, q = _probs(logits_pi), _probs(logits_q)
        if any(a > 0 and b == 0 for a, b in zip(p, q)):
            return mpmath.mpf(0)
        return +(1 / mpmath.fsum(a * a / b for a, b in zip(p, q) if b > 0))


def _pareto(logits_q, logits_theta, logits_target):
    """(margin, alpha): max over alpha of min(g1, g2), g1 = D(q||pth) - D(q_a||pth) rising in
    alpha, g2 = D(q||pt) - D(q_a||pt) falling; the max is at their crossing (bisection) or at
    an endpoint when they do not cross."""
    pq, pth, pt = _probs(logits_q), _probs(logits_theta), _probs(logits_target)
    d1, d2 = _kl(pq, pth), _kl(pq, pt)

    def gaps(a):
        qa = _family_on_s(pth, pt, a)
        return d1 - _kl(qa, pth), d2 - _kl(qa, pt)

    g1, g2 = gaps(mpmath.mpf(0))
    if g1 >= g2:
        return g2, mpmath.mpf(0)
    g1, g2 = gaps(mpmath.mpf(1))
    if g1 <= g2:
        return g1, mpmath.mpf(1)

    def h(a):
        x, y = gaps(a)
        return y - x

    a = _bisect_sign(h, 0, 1, _steps())
    return min(gaps(a)), a


def _pareto_margin(logits_q, logits_theta, logits_target):
    with mpmath.extradps(_lead(logits_q, logits_theta, logits_target)):
        return +_pareto(logits_q, logits_theta, logits_target)[0]


def _pareto_dominating_alpha(logits_q, logits_theta, logits_target):
    with mpmath.extradps(_lead(logits_q, logits_theta, logits_target)):
        return +_pareto(logits_q, logits_theta, logits_target)[1]


def _solve_kl_symmetry_seed_code(logits_theta, logits_target, tol=1e-6, max_iter=50, eps=1e-10):
    """The seed's loop keeps the dyadic interval of width 2^-k that contains the root r of its
    eps-smoothed delta (delta > 0 below r): the result is that interval's midpoint. A root that
    is itself a visited midpoint (delta = 0 there: the loop moves alpha_high) gives r - 2^-(k+1);
    no root in (0, 1) gives the end midpoint."""
    tol_f, width, k = Fraction(float(tol)), Fraction(1), 0
    while k < max_iter:
        width /= 2
        k += 1
        if width < tol_f:
            break
    half = mpmath.mpf(2) ** -(k + 1)
    with mpmath.extradps(_lead(logits_theta, logits_target)):
        eps = mpmath.mpf(eps)
        lth = [mpmath.log(p + eps) for p in _probs(logits_theta)]
        lt = [mpmath.log(p + eps) for p in _probs(logits_target)]

        def delta(a):
            q = _probs([a * x + (1 - a) * y for x, y in zip(lth, lt)])
            return mpmath.fsum(v * (y - x) for v, x, y in zip(q, lth, lt))

        if delta(mpmath.mpf(0)) <= 0:
            return +half
        if delta(mpmath.mpf(1)) > 0:
            return +(1 - half)
        r = _bisect_sign(delta, 0, 1, _steps())
        scaled = r * 2**k
        nearest = mpmath.nint(scaled)
        if abs(scaled - nearest) < mpmath.mpf(10) ** -(mpmath.mp.dps - 15):
            return +(nearest / mpmath.mpf(2) ** k - half)
        return +(mpmath.floor(scaled) / mpmath.mpf(2) ** k + half)


# ---------------------------------------------------------------- speculative sampling


def _scheme(logits_proposal, logits_q):
    """Per-token accept mass p min(1, q / p) and the total rejection probability."""
    p, q = _probs(logits_proposal), _probs(logits_q)
    acc = [a * min(mpmath.mpf(1), b / a) if a > 0 else mpmath.mpf(0) for a, b in zip(p, q)]
    reject = mpmath.fsum(a - c for a, c in zip(p, acc))
    return p, q, acc, reject


def _speculative_acceptance_rate(logits_proposal, logits_q):
    with mpmath.extradps(_lead(logits_proposal, logits_q)):
        p, q = _probs(logits_proposal), _probs(logits_q)
        return +mpmath.fsum(min(a, b) for a, b in zip(p, q))


def _speculative_output_section_7_7(logits_proposal, logits_q):
    with mpmath.extradps(_lead(logits_proposal, logits_q)):
        _, q, acc, reject = _scheme(logits_proposal, logits_q)
        return [+(c + reject * b) for c, b in zip(acc, q)]


def _speculative_bias_tv(logits_proposal, logits_q):
    with mpmath.extradps(_lead(logits_proposal, logits_q)):
        _, q, acc, reject = _scheme(logits_proposal, logits_q)
        return +(mpmath.fsum(abs(c + reject * b - b) for c, b in zip(acc, q)) / 2)


def _speculative_output_residual(logits_proposal, logits_q):
    with mpmath.extradps(_lead(logits_proposal, logits_q)):
        p, q, acc, reject = _scheme(logits_proposal, logits_q)
        res = [max(mpmath.mpf(0), b - a) for a, b in zip(p, q)]
        total = mpmath.fsum(res)
        if reject == 0 or total == 0:
            return [+v for v in q]
        return [+(c + reject * r / total) for c, r in zip(acc, res)]


# ---------------------------------------------------------------- domains (from the docstrings)


def _row_ok(z) -> bool:
    """Non-empty, no NaN or +inf, at least one finite entry."""
    return (
        len(z) > 0
        and all(not mpmath.isnan(v) and v != mpmath.inf for v in z)
        and any(mpmath.isfinite(v) for v in z)
    )


def _pair_ok(a, b) -> bool:
    return len(a) == len(b) and _row_ok(a) and _row_ok(b)


def _alpha_ok(alpha) -> bool:
    return not mpmath.isnan(alpha) and 0 <= alpha <= 1


def _meets(a, b) -> bool:
    """The supports (finite logits) intersect."""
    return any(mpmath.isfinite(x) and mpmath.isfinite(y) for x, y in zip(a, b))


def _same_support(a, b) -> bool:
    return [mpmath.isfinite(x) for x in a] == [mpmath.isfinite(y) for y in b]


def _inside(a, b) -> bool:
    """supp a inside supp b."""
    return all(mpmath.isfinite(y) for x, y in zip(a, b) if mpmath.isfinite(x))


def _d_entropy(logits):
    return _row_ok(logits)


def _d_pair(logits_theta, logits_target):
    return _pair_ok(logits_theta, logits_target)


def _d_family(logits_theta, logits_target, alpha):
    """alpha in [0, 1]; inside (0, 1) the family lives on the common support: disjoint supports
    raise."""
    if not (_pair_ok(logits_theta, logits_target) and _alpha_ok(alpha)):
        return False
    return alpha in (0, 1) or _meets(logits_theta, logits_target)


def _d_log_partition(logits_theta, logits_target, alpha):
    return _pair_ok(logits_theta, logits_target) and _alpha_ok(alpha)  # disjoint: -inf


def _d_kl_symmetry_error(logits_theta, logits_target, alpha):
    """As the family, and both KLs of q_alpha finite: at alpha = 0 q = pi_t needs supp pi_t
    inside supp pi_theta, at alpha = 1 the reverse."""
    if not _d_family(logits_theta, logits_target, alpha):
        return False
    if alpha == 0:
        return _inside(logits_target, logits_theta)
    if alpha == 1:
        return _inside(logits_theta, logits_target)
    return True


def _d_optimal(logits_theta, logits_target):
    return _pair_ok(logits_theta, logits_target) and _meets(logits_theta, logits_target)


def _d_ess_balance(logits_theta, logits_target):
    """B(alpha) is evaluated on every token: both supports equal."""
    return _pair_ok(logits_theta, logits_target) and _same_support(logits_theta, logits_target)


def _d_ess_front(logits_theta, logits_target, b):
    return _pair_ok(logits_theta, logits_target) and not mpmath.isnan(b) and 0 <= b <= 1


def _d_ess_4_2(logits_pi, logits_q, n):
    """n a positive number; E_q[w^2] sums over supp q: zero (no ESS) when pi has no mass there."""
    return (
        _pair_ok(logits_pi, logits_q)
        and mpmath.isfinite(n)
        and n > 0
        and _meets(logits_pi, logits_q)
    )


def _d_pareto(logits_q, logits_theta, logits_target):
    """Both KLs of q finite: supp q inside the common support."""
    if not (
        len(logits_q) == len(logits_theta) == len(logits_target)
        and all(_row_ok(r) for r in (logits_q, logits_theta, logits_target))
    ):
        return False
    return _inside(logits_q, logits_theta) and _inside(logits_q, logits_target)


def _d_solve_seed(logits_theta, logits_target, tol=1e-6, max_iter=50, eps=1e-10):
    tol, eps = mpmath.mpf(tol), mpmath.mpf(eps)
    return (
        _pair_ok(logits_theta, logits_target)
        and mpmath.isfinite(tol)
        and tol > 0
        and isinstance(max_iter, int)
        and max_iter >= 1
        and mpmath.isfinite(eps)
        and eps >= 0
    )


def _d_ess_4_5(logits_pi, logits_q):
    return _pair_ok(logits_pi, logits_q)  # pi with mass outside supp q: 0, a value


def _d_speculative(logits_proposal, logits_q):
    return _pair_ok(logits_proposal, logits_q)


_DOMAIN = {
    "entropy": _d_entropy,
    "alpha_entropy_approx": _d_pair,
    "geometric_distribution": _d_family,
    "log_partition": _d_log_partition,
    "delta_alpha": _d_family,
    "kl_q_target": _d_family,
    "kl_q_theta": _d_family,
    "kl_symmetry_error": _d_kl_symmetry_error,
    "optimal_alpha": _d_optimal,
    "optimal_distribution": _d_optimal,
    "alpha_ess_balance": _d_ess_balance,
    "ess_front_distribution": _d_ess_front,
    "ess_section_4_2": _d_ess_4_2,
    "ess_section_4_5": _d_ess_4_5,
    "pareto_margin": _d_pareto,
    "pareto_dominating_alpha": _d_pareto,
    "solve_kl_symmetry_seed_code": _d_solve_seed,
    "speculative_acceptance_rate": _d_speculative,
    "speculative_output_section_7_7": _d_speculative,
    "speculative_bias_tv_section_7_7": _d_speculative,
    "speculative_output_residual": _d_speculative,
}


_SUMS = "plain-probability sums at 30 + digits(max |z|) guard digits: exact to ~75 digits"
_ZERO = "identical distributions cancel to ~1e-70 where the reference has an exact 0: atol"
_ROOT = "bisection to 2^-(prec+10) at 30+ guard digits; the root's conditioning costs < 10"

register_oracle(
    "sampling.entropy",
    "H = E_p[log Z - z] with log Z - z_i = (z_max - z_i) + log1p(off-peak mass), not -sum p log p",
    _entropy,
    digits=35,
    why=_SUMS,
    atol=1e-45,
    domain=_DOMAIN["entropy"],
)
register_oracle(
    "sampling.alpha_entropy_approx",
    "H_theta / (H_theta + H_t) with H = E_p[log Z - z] as for entropy; one-hot edges by the "
    "count of finite logits",
    _alpha_entropy_approx,
    digits=35,
    why=_SUMS,
    domain=_DOMAIN["alpha_entropy_approx"],
)
register_oracle(
    "sampling.geometric_distribution",
    "pi_theta^a pi_t^(1-a) on the common support over its sum, from plain probabilities; the "
    "endpoints exactly pi_t / pi_theta",
    _geometric_distribution,
    digits=35,
    why=_SUMS,
    domain=_DOMAIN["geometric_distribution"],
)
register_oracle(
    "sampling.log_partition",
    "log of the explicit sum over the common support of pi_theta^a pi_t^(1-a); 0 at the endpoints",
    _log_partition,
    digits=35,
    why=_SUMS + "; " + _ZERO,
    atol=1e-45,
    domain=_DOMAIN["log_partition"],
)
register_oracle(
    "sampling.delta_alpha",
    "-F'(alpha) by mpmath.diff of the log partition F on the common support (one-sided at the "
    "endpoints; +-inf when q_0 = pi_t or q_1 = pi_theta leaves S), not E_q[d]",
    _delta_alpha,
    digits=30,
    why="mpmath.diff's central difference at twice the precision: ~50 digits of F' "
    "relative to F's size; " + _ZERO,
    atol=1e-40,
    domain=_DOMAIN["delta_alpha"],
)
register_oracle(
    "sampling.kl_q_target",
    "explicit sum q log(q / pi_t) over supp q, q = q_alpha from plain probabilities",
    _kl_q_target,
    digits=35,
    why=_SUMS + "; " + _ZERO,
    atol=1e-45,
    domain=_DOMAIN["kl_q_target"],
)
register_oracle(
    "sampling.kl_q_theta",
    "explicit sum q log(q / pi_theta) over supp q, q = q_alpha from plain probabilities",
    _kl_q_theta,
    digits=35,
    why=_SUMS + "; " + _ZERO,
    atol=1e-45,
    domain=_DOMAIN["kl_q_theta"],
)
register_oracle(
    "sampling.kl_symmetry_error",
    "|D_theta - D_t| / (D_theta + D_t) from the two explicit KL sums; identical distributions "
    "(same support, constant logit difference) give 0",
    _kl_symmetry_error,
    digits=30,
    why=_SUMS + "; the quotient of two KLs loses at most a few digits",
    domain=_DOMAIN["kl_symmetry_error"],
)
register_oracle(
    "sampling.optimal_alpha",
    "bisection on the sign of sum_S pi_theta^a pi_t^(1-a) d (Delta(a) up to Z_a), endpoints "
    "by the sign at 0 / 1, linear F (constant logit difference on S) by F(1) - F(0); not "
    "Newton on the shift-free form",
    _optimal_alpha,
    digits=30,
    why=_ROOT,
    domain=_DOMAIN["optimal_alpha"],
)
register_oracle(
    "sampling.optimal_distribution",
    "pi_theta^a pi_t^(1-a) on S over its sum at the bisected alpha* (the endpoint members "
    "restricted to S)",
    _optimal_distribution,
    digits=30,
    why=_ROOT,
    domain=_DOMAIN["optimal_distribution"],
)
register_oracle(
    "sampling.alpha_ess_balance",
    "bisection on sum pi_theta^2 / q_a - sum pi_t^2 / q_a with q_a itself (not the simplified "
    "B(alpha)); identical distributions 1/2",
    _alpha_ess_balance,
    digits=30,
    why=_ROOT,
    domain=_DOMAIN["alpha_ess_balance"],
)
register_oracle(
    "sampling.ess_front_distribution",
    "sqrt(b pi_theta^2 + (1 - b) pi_t^2) / sum on plain probabilities (not logaddexp)",
    _ess_front_distribution,
    digits=35,
    why=_SUMS,
    domain=_DOMAIN["ess_front_distribution"],
)
register_oracle(
    "sampling.ess_section_4_2",
    "N / E_q[w^2], the expectation as the explicit sum over supp q of q (pi / q)^2",
    _ess_section_4_2,
    digits=35,
    why=_SUMS,
    domain=_DOMAIN["ess_section_4_2"],
)
register_oracle(
    "sampling.ess_section_4_5",
    "1 / sum pi^2 / q over every token (pi > 0 = q: 0) (one-line definition)",
    _ess_section_4_5,
    digits=35,
    why=_SUMS,
    domain=_DOMAIN["ess_section_4_5"],
)
register_oracle(
    "sampling.pareto_margin",
    "max over alpha of min(KL improvements) by bisection on the crossing of the rising and "
    "falling improvement curves (explicit KL sums), endpoints when they do not cross",
    _pareto_margin,
    digits=30,
    why=_ROOT,
    domain=_DOMAIN["pareto_margin"],
)
register_oracle(
    "sampling.pareto_dominating_alpha",
    "the alpha of that crossing (bisection on the two explicit KL improvements)",
    _pareto_dominating_alpha,
    digits=30,
    why=_ROOT,
    domain=_DOMAIN["pareto_dominating_alpha"],
)
register_oracle(
    "sampling.solve_kl_symmetry_seed_code",
    "the dyadic interval of width 2^-k (k from tol and max_iter in exact rationals) around the "
    "root of the eps-smoothed delta found by a 2^-(prec+10) bisection, not the seed's loop",
    _solve_kl_symmetry_seed_code,
    digits=35,
    why="a dyadic rational: exact unless the root lies within 1e-60 of a grid point (then "
    "treated as the grid point, where the seed's delta is 0)",
    domain=_DOMAIN["solve_kl_symmetry_seed_code"],
)
register_oracle(
    "sampling.speculative_acceptance_rate",
    "sum min(p, q) (not 1 - sum max(0, q - p))",
    _speculative_acceptance_rate,
    digits=35,
    why=_SUMS,
    domain=_DOMAIN["speculative_acceptance_rate"],
)
register_oracle(
    "sampling.speculative_output_section_7_7",
    "the scheme's explicit probabilities: p min(1, q / p) + P(reject) q, P(reject) = sum of "
    "p - p min(1, q / p)",
    _speculative_output_section_7_7,
    digits=35,
    why=_SUMS,
    domain=_DOMAIN["speculative_output_section_7_7"],
)
register_oracle(
    "sampling.speculative_bias_tv_section_7_7",
    "1/2 sum |P - q| with P the scheme's explicit output probabilities",
    _speculative_bias_tv,
    digits=30,
    why=_SUMS + "; the reference reports values below its rounding as 0: atol",
    atol=1e-40,
    domain=_DOMAIN["speculative_bias_tv_section_7_7"],
)
register_oracle(
    "sampling.speculative_output_residual",
    "accept mass + P(reject) x residual max(0, q - p) normalised (q when nothing is "
    "rejected), not the simplified q",
    _speculative_output_residual,
    digits=35,
    why=_SUMS,
    domain=_DOMAIN["speculative_output_residual"],
)
