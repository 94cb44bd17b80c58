"""Oracles for ``reference/peers.py``: phi = -dL/dlog_w.

Designs whose loss has a gradient path through w (PPO clip, dual clip, GSPO, SAPO) are
differentiated numerically: mpmath.diff of the library's per-token loss, written from the
docstring's loss formula (min / max / clip as the library writes them, not the phi rule), with
w = exp(log_w + x) differentiated at x = 0. At a kink (w exactly on a bound) the module's
closed-interval convention takes the one-sided derivative from the unclipped side. SAPO's loss
saturates for large tau (w - 1) (its derivative underflows the loss's digits), so there the
derivative of the sigmoid's exponential definition e^-z / (1 + e^-z)^2 is used instead.

Designs written as -sg(c) A log pi (CISPO, TIS, MIS, TOPR, DFT, VESPO) have phi = c A: c from
the library's definition (sequence ratios as explicit products of the token ratios, not the
exponential of a sum; VESPO's weight as e^lambda W^k e^(-lambda W) literally)."""

from __future__ import annotations

import mpmath

from isreshape.reference.golden import register_oracle

_GUARD = 20


def _digits_of(v) -> int:
    """Decimal digits before the point of |v| (0 below 1)."""
    if not v or not mpmath.isfinite(v):
        return 0
    return max(0, int(mpmath.mag(v) * 0.30103) + 2)


def _clip(v, lo, hi):
    return min(max(v, lo), hi)


def _phi_from_loss(loss, bounds):
    """-d loss(x) / dx at x = 0; at a kink (a bound of ``bounds`` hit exactly at x = 0) the
    one-sided derivative with the larger magnitude (the unclipped side: the clipped side is
    flat)."""
    if any(hit for hit in bounds):
        left = -mpmath.diff(loss, 0, direction=-1)
        right = -mpmath.diff(loss, 0, direction=1)
        return left if abs(left) >= abs(right) else right
    return -mpmath.diff(loss, 0)


def _ppo_loss(w0_log, A, lo, hi):
    """verl compute_policy_loss_vanilla per token: -min(w A, clip(w, 1 - lo, 1 + hi) A)."""

    def loss(x):
        w = mpmath.exp(w0_log + x)
        return -min(w * A, _clip(w, 1 - lo, 1 + hi) * A)

    return loss


def _ppo_clip(log_w, A, clip_ratio_low=0.2, clip_ratio_high=0.2):
    if log_w == -mpmath.inf or A == 0:  # every branch carries the factor w (or A)
        return mpmath.mpf(0)
    lo, hi = mpmath.mpf(clip_ratio_low), mpmath.mpf(clip_ratio_high)
    with mpmath.extradps(_GUARD + _digits_of(log_w)):
        w = mpmath.exp(log_w)
        return +_phi_from_loss(_ppo_loss(log_w, A, lo, hi), (w == 1 + hi, w == 1 - lo))


def _ppo_dual_clip(log_w, A, clip_ratio_low=0.2, clip_ratio_high=0.2, clip_ratio_c=3.0):
    if log_w == -mpmath.inf or A == 0:
        return mpmath.mpf(0)
    lo, hi, c = (mpmath.mpf(v) for v in (clip_ratio_low, clip_ratio_high, clip_ratio_c))
    if A > 0:
        return _ppo_clip(log_w, A, lo, hi)
    with mpmath.extradps(_GUARD + _digits_of(log_w)):

        def loss(x):  # verl, A < 0: min(-A c, max(-A w, -A clip(w)))
            w = mpmath.exp(log_w + x)
            return min(-A * c, max(-A * w, -A * _clip(w, 1 - lo, 1 + hi)))

        w = mpmath.exp(log_w)
        return +_phi_from_loss(loss, (w == c, w == 1 - lo, w == 1 + hi))


def _selected(log_w, mask):
    keep = [True] * len(log_w) if mask is None else list(mask)
    return keep, [lw for lw, k in zip(log_w, keep) if k]


def _product_of_ratios(logs):
    """prod exp(l_t), term by term (not exp of the sum), at a precision that keeps its digits."""
    p = mpmath.mpf(1)
    for lw in logs:
        p *= mpmath.exp(lw)
    return p


def _gspo_sequence_ratio(log_w, mask=None):
    _, sel = _selected(log_w, mask)
    if not sel:
        return mpmath.mpf(1)
    with mpmath.extradps(_GUARD):
        return +mpmath.root(_product_of_ratios(sel), len(sel))


def _gspo(log_w, A, mask=None, clip_ratio_low=0.0003, clip_ratio_high=0.0004):
    keep, sel = _selected(log_w, mask)
    zero = [mpmath.mpf(0)] * len(log_w)
    if not sel or A == 0:
        return zero
    lo, hi = mpmath.mpf(clip_ratio_low), mpmath.mpf(clip_ratio_high)
    with mpmath.extradps(_GUARD):
        s = mpmath.root(_product_of_ratios(sel), len(sel))

        def loss(x):  # s_t = sg(s) pi_t / sg(pi_t): value s, derivative s in log pi_t
            st = s * mpmath.exp(x)
            return -min(st * A, _clip(st, 1 - lo, 1 + hi) * A)

        phi = +_phi_from_loss(loss, (s == 1 + hi, s == 1 - lo))
    return [phi if k else mpmath.mpf(0) for k in keep]


def _sapo(log_w, A, tau_pos=1.0, tau_neg=1.05):
    if log_w == -mpmath.inf or A == 0:
        return mpmath.mpf(0)
    tau = mpmath.mpf(tau_pos if A > 0 else tau_neg)
    lead = _digits_of(tau) + (int(log_w / mpmath.ln(10)) + 2 if log_w > 0 else 1)
    with mpmath.extradps(_GUARD + lead):
        z = tau * (mpmath.exp(log_w) - 1)
    if z < 40:
        # the loss -(4 / tau) sigma(tau (w - 1)) A, sigma(z) = 1 / (1 + e^-z); its derivative is
        # ~w e^-z of its value: raise the precision by those digits
        small = int(max(-log_w, 0) * 0.4343) + int(max(z, 0) * 0.4343) + 2
        with mpmath.extradps(_GUARD + small):

            def loss(x):
                zz = tau * (mpmath.exp(log_w + x) - 1)
                return -(4 / tau) * A / (1 + mpmath.exp(-zz))

            return +_phi_from_loss(loss, ())
    # far tail: d/dlog_w of 1 / (1 + e^-z) = e^-z / (1 + e^-z)^2 * dz/dlog_w, z = tau (w - 1)
    with mpmath.extradps(_GUARD + lead + _digits_of(z)):
        z = tau * (mpmath.exp(log_w) - 1)
        e = mpmath.exp(-z)
        return +((4 / tau) * A * e / (1 + e) ** 2 * tau * mpmath.exp(log_w))


def _w(log_w):
    return mpmath.exp(log_w)  # exp(-inf) = 0


def _cispo_trl(log_w, A, epsilon_high=5.0):
    with mpmath.extradps(_GUARD):
        return +(min(_w(log_w), mpmath.mpf(epsilon_high)) * A)


def _cispo_verl(log_w, A, clip_ratio_low=0.2, clip_ratio_high=0.2):
    with mpmath.extradps(_GUARD):
        lo, hi = mpmath.mpf(clip_ratio_low), mpmath.mpf(clip_ratio_high)
        return +(_clip(_w(log_w), 1 - lo, 1 + hi) * A)


def _ppo_phi_section_1_3(log_w, A, epsilon=0.2):
    with mpmath.extradps(_GUARD):
        eps = mpmath.mpf(epsilon)
        return +(_clip(_w(log_w), 1 - eps, 1 + eps) * A)


def _dft(log_w, A=1.0):
    with mpmath.extradps(_GUARD):
        return +(_w(log_w) * A)


def _tis_token(log_w, A, clip_min=0.0, clip_max=2.0):
    with mpmath.extradps(_GUARD):
        return +(_clip(_w(log_w), mpmath.mpf(clip_min), mpmath.mpf(clip_max)) * A)


def _mis_token(log_w, A, clip_min=0.5, clip_max=5.0):
    with mpmath.extradps(_GUARD):
        w = _w(log_w)
        keep = mpmath.mpf(clip_min) <= w <= mpmath.mpf(clip_max)
        return +(w * A) if keep else mpmath.mpf(0)


def _topr(log_w, A):
    if A >= 0:
        return mpmath.mpf(A)
    with mpmath.extradps(_GUARD):
        return +(_clip(_w(log_w), 0, 1) * A)


def _tis_sequence(log_w, A, mask=None, clip_min=0.0, clip_max=3.0):
    keep, sel = _selected(log_w, mask)
    with mpmath.extradps(_GUARD):
        big = _product_of_ratios(sel)
        phi = +(_clip(big, mpmath.mpf(clip_min), mpmath.mpf(clip_max)) * A)
    return [phi if k else mpmath.mpf(0) for k in keep]


def _mis_sequence(log_w, A, mask=None, clip_min=0.0, clip_max=3.0):
    keep, sel = _selected(log_w, mask)
    with mpmath.extradps(_GUARD):
        big = _product_of_ratios(sel)
        inside = mpmath.mpf(clip_min) <= big <= mpmath.mpf(clip_max)
        phi = +(big * A) if inside else mpmath.mpf(0)
    return [phi if k else mpmath.mpf(0) for k in keep]


def _vespo(log_w, A, mask=None, k_pos=2.0, lambda_pos=3.0, k_neg=3.0, lambda_neg=2.0):
    keep, sel = _selected(log_w, mask)
    k, lam = (k_pos, lambda_pos) if A >= 0 else (k_neg, lambda_neg)
    k, lam = mpmath.mpf(k), mpmath.mpf(lam)
    with mpmath.extradps(_GUARD):
        size = lam * _product_of_ratios(sel)  # magnitude of lambda W: digits e^(-lambda W) needs
    with mpmath.extradps(_GUARD + _digits_of(size)):
        big = _product_of_ratios(sel)
        power = mpmath.mpf(1) if k == 0 else mpmath.power(big, k)
        phi = +(mpmath.exp(lam) * power * mpmath.exp(-lam * big) * A)
    return [phi if t else mpmath.mpf(0) for t in keep]


# ---------------------------------------------------------------- domains (from the docstrings)


def _fin(x) -> bool:
    return mpmath.isfinite(x)


def _nan(x) -> bool:
    return mpmath.isnan(mpmath.mpf(x))


def _token_ok(log_w, A) -> bool:
    """log_w not NaN and < +inf (-inf is w = 0), A finite."""
    return not _nan(log_w) and log_w < mpmath.inf and _fin(A)


def _seq_ok(log_w, mask) -> bool:
    """mask booleans of the same length (None = all); selected log_w finite."""
    if mask is not None and (len(mask) != len(log_w) or not all(isinstance(k, bool) for k in mask)):
        return False
    keep = [True] * len(log_w) if mask is None else mask
    return all(_fin(v) for v, k in zip(log_w, keep) if k) and not any(_nan(v) for v in log_w)


def _ratios_ok(lo, hi) -> bool:
    """clip_ratio_low in [0, 1], clip_ratio_high >= 0 finite."""
    lo, hi = mpmath.mpf(lo), mpmath.mpf(hi)
    return not _nan(lo) and 0 <= lo <= 1 and _fin(hi) and hi >= 0


def _bounds_ok(cmin, cmax) -> bool:
    """0 <= C_min <= C_max, C_max may be +inf."""
    cmin, cmax = mpmath.mpf(cmin), mpmath.mpf(cmax)
    return not _nan(cmin) and not _nan(cmax) and _fin(cmin) and 0 <= cmin <= cmax


def _d_ppo_clip(log_w, A, clip_ratio_low=0.2, clip_ratio_high=0.2):
    return _token_ok(log_w, A) and _ratios_ok(clip_ratio_low, clip_ratio_high)


def _d_ppo_dual_clip(log_w, A, clip_ratio_low=0.2, clip_ratio_high=0.2, clip_ratio_c=3.0):
    c = mpmath.mpf(clip_ratio_c)
    return _d_ppo_clip(log_w, A, clip_ratio_low, clip_ratio_high) and _fin(c) and c > 1


def _d_cispo_trl(log_w, A, epsilon_high=5.0):
    e = mpmath.mpf(epsilon_high)
    return _token_ok(log_w, A) and not _nan(e) and e > 0


def _d_ppo_phi_section_1_3(log_w, A, epsilon=0.2):
    e = mpmath.mpf(epsilon)
    return _token_ok(log_w, A) and not _nan(e) and 0 <= e <= 1


def _d_dft(log_w, A=1.0):
    return _token_ok(log_w, mpmath.mpf(A))


def _d_topr(log_w, A):
    return _token_ok(log_w, A)


def _d_tis_token(log_w, A, clip_min=0.0, clip_max=2.0):
    return _token_ok(log_w, A) and _bounds_ok(clip_min, clip_max)


def _d_mis_token(log_w, A, clip_min=0.5, clip_max=5.0):
    return _token_ok(log_w, A) and _bounds_ok(clip_min, clip_max)


def _d_sapo(log_w, A, tau_pos=1.0, tau_neg=1.05):
    tp, tn = mpmath.mpf(tau_pos), mpmath.mpf(tau_neg)
    return _token_ok(log_w, A) and _fin(tp) and tp > 0 and _fin(tn) and tn > 0


def _d_gspo(log_w, A, mask=None, clip_ratio_low=0.0003, clip_ratio_high=0.0004):
    return _seq_ok(log_w, mask) and _fin(A) and _ratios_ok(clip_ratio_low, clip_ratio_high)


def _d_gspo_sequence_ratio(log_w, mask=None):
    return _seq_ok(log_w, mask)


def _d_seq_bounds(log_w, A, mask=None, clip_min=0.0, clip_max=3.0):
    return _seq_ok(log_w, mask) and _fin(A) and _bounds_ok(clip_min, clip_max)


def _d_vespo(log_w, A, mask=None, k_pos=2.0, lambda_pos=3.0, k_neg=3.0, lambda_neg=2.0):
    ks = [mpmath.mpf(v) for v in (k_pos, k_neg)]
    lams = [mpmath.mpf(v) for v in (lambda_pos, lambda_neg)]
    return (
        _seq_ok(log_w, mask)
        and _fin(A)
        and all(_fin(k) for k in ks)
        and all(_fin(v) and v >= 0 for v in lams)
    )


_DOMAIN = {
    "ppo_clip": _d_ppo_clip,
    "ppo_dual_clip": _d_ppo_dual_clip,
    "gspo": _d_gspo,
    "gspo_sequence_ratio": _d_gspo_sequence_ratio,
    "sapo": _d_sapo,
    "cispo_trl": _d_cispo_trl,
    "cispo_verl": _d_ppo_clip,
    "ppo_phi_section_1_3": _d_ppo_phi_section_1_3,
    "dft": _d_dft,
    "tis_token": _d_tis_token,
    "mis_token": _d_mis_token,
    "topr": _d_topr,
    "tis_sequence": _d_seq_bounds,
    "mis_sequence": _d_seq_bounds,
    "vespo": _d_vespo,
}


_DIFF_WHY = (
    "mpmath.diff's central difference with step 2^-(prec+10) at twice the precision: "
    "~55 digits away from kinks (the nearest case is 1e-4 from a bound)"
)
_DEF_WHY = "products, clips and exps at 20 guard digits: exact to ~65 digits"

register_oracle(
    "peers.ppo_clip",
    "mpmath.diff of verl's loss -min(w A, clip(w, 1-lo, 1+hi) A) in log_w (not the phi rule); "
    "at an exact kink the unclipped one-sided derivative; w = 0 the limit 0",
    _ppo_clip,
    digits=35,
    why=_DIFF_WHY,
    domain=_DOMAIN["ppo_clip"],
)
register_oracle(
    "peers.ppo_dual_clip",
    "mpmath.diff of verl's dual-clip loss min(-A c, max(-A w, -A clip(w))) for A < 0 (the "
    "ppo_clip oracle for A > 0); at an exact kink the unclipped one-sided derivative",
    _ppo_dual_clip,
    digits=35,
    why=_DIFF_WHY,
    domain=_DOMAIN["ppo_dual_clip"],
)
register_oracle(
    "peers.gspo",
    "mpmath.diff in log pi_t of verl's token loss -min(s_t A, clip(s_t) A), s_t = sg(s) "
    "pi_t / sg(pi_t), s the n-th root of the explicit product of the selected token ratios",
    _gspo,
    digits=35,
    why=_DIFF_WHY,
    domain=_DOMAIN["gspo"],
)
register_oracle(
    "peers.gspo_sequence_ratio",
    "n-th root of the explicit product of the selected token ratios (not exp of the mean log)",
    _gspo_sequence_ratio,
    digits=35,
    why=_DEF_WHY,
    domain=_DOMAIN["gspo_sequence_ratio"],
)
register_oracle(
    "peers.sapo",
    "mpmath.diff of SAPO's loss -(4 / tau) sigma(tau (w - 1)) A with sigma = 1 / (1 + e^-z) "
    "at z < 40 (precision raised by the digits of w e^-z); beyond, the quotient-rule derivative "
    "e^-z / (1 + e^-z)^2 of that definition at argument-sized precision",
    _sapo,
    digits=35,
    why=_DIFF_WHY + "; the tail's closed derivative at argument-sized precision is exact",
    domain=_DOMAIN["sapo"],
)
register_oracle(
    "peers.cispo_trl",
    "-d/dlog pi of -sg(min(w, epsilon_high)) A log pi: min(w, epsilon_high) A (one-line "
    "definition)",
    _cispo_trl,
    digits=35,
    why=_DEF_WHY,
    domain=_DOMAIN["cispo_trl"],
)
register_oracle(
    "peers.cispo_verl",
    "clip(w, 1 - lo, 1 + hi) A as min(max(.)) (one-line definition)",
    _cispo_verl,
    digits=35,
    why=_DEF_WHY,
    domain=_DOMAIN["cispo_verl"],
)
register_oracle(
    "peers.ppo_phi_section_1_3",
    "seed 002's printed clip(w, 1 - eps, 1 + eps) A (one-line definition)",
    _ppo_phi_section_1_3,
    digits=35,
    why=_DEF_WHY,
    domain=_DOMAIN["ppo_phi_section_1_3"],
)
register_oracle(
    "peers.dft",
    "sg(p) A with p = exp(log_w) (one-line definition)",
    _dft,
    digits=35,
    why=_DEF_WHY,
    domain=_DOMAIN["dft"],
)
register_oracle(
    "peers.tis_token",
    "clamp(w, C_min, C_max) A (one-line definition)",
    _tis_token,
    digits=35,
    why=_DEF_WHY,
    domain=_DOMAIN["tis_token"],
)
register_oracle(
    "peers.mis_token",
    "w A if C_min <= w <= C_max else 0 (one-line definition, bounds kept)",
    _mis_token,
    digits=35,
    why=_DEF_WHY,
    domain=_DOMAIN["mis_token"],
)
register_oracle(
    "peers.topr",
    "A for A >= 0, clamp(w, 0, 1) A for A < 0 (one-line definition)",
    _topr,
    digits=35,
    why=_DEF_WHY,
    domain=_DOMAIN["topr"],
)
register_oracle(
    "peers.tis_sequence",
    "clamp(W, C_min, C_max) A on every selected token, W the explicit product of the selected "
    "token ratios (not exp of the sum)",
    _tis_sequence,
    digits=35,
    why=_DEF_WHY,
    domain=_DOMAIN["tis_sequence"],
)
register_oracle(
    "peers.mis_sequence",
    "W A on every selected token if C_min <= W <= C_max else 0, W the explicit product of the "
    "selected token ratios",
    _mis_sequence,
    digits=35,
    why=_DEF_WHY,
    domain=_DOMAIN["mis_sequence"],
)
register_oracle(
    "peers.vespo",
    "TRL's gamma weight literally e^lambda * W^k * e^(-lambda W) (W^0 = 1), W the explicit "
    "product of the selected token ratios, at a precision raised by lambda W's digits",
    _vespo,
    digits=35,
    why=_DEF_WHY,
    domain=_DOMAIN["vespo"],
)


# ============================================================================ issue 13 designs
# GPG, GMPO, KL-Cov, Clip-Cov, batch-normalised TIS. Routes: mpmath.diff of the library's loss
# as verl writes it (GPG's -A log pi, GMPO's sequence loss with its sign trick, KL-Cov's
# -A w + c |log w|, Clip-Cov's max(-A w, -A clip(w)) corr); batch selections by counting, for
# each token, the tokens that outrank it (not a sort); covariances in expanded form at raised
# precision; normalising means as totals.


def _diff_at(loss, kink_left: bool = False, kink_right: bool = False):
    """-loss'(0): central, or the one-sided derivative from the named unclipped side."""
    if kink_left:
        return -mpmath.diff(loss, 0, direction=-1)
    if kink_right:
        return -mpmath.diff(loss, 0, direction=1)
    return -mpmath.diff(loss, 0)


def _gpg(log_w, A):
    if log_w == -mpmath.inf:
        return mpmath.mpf(A)
    mu = mpmath.mpf(1) / 3  # any behaviour probability: log pi = log(mu w)

    def loss(x):
        return -A * mpmath.log(mu * mpmath.exp(log_w + x))

    with mpmath.extradps(_GUARD + _digits_of(log_w)):
        return +_diff_at(loss)


def _gmpo(log_w, A, mask=None, clip_ratio_low=0.4, clip_ratio_high=0.4):
    keep, sel = _selected(log_w, mask)
    zero = [mpmath.mpf(0)] * len(log_w)
    if not sel or A == 0:
        return zero
    lo, hi = mpmath.mpf(clip_ratio_low), mpmath.mpf(clip_ratio_high)
    sgn = mpmath.sign(A)
    n = len(sel)
    idx = [i for i, k in enumerate(keep) if k]
    out = list(zero)
    with mpmath.extradps(_GUARD + _digits_of(max(abs(v) for v in sel))):
        for j, i in enumerate(idx):

            def loss(x, j=j):
                # verl: sgn * min(sgn * l, sgn * clamp(l, -lo, hi)); r the n-th root of the
                # product of exp(clipped); the sequence loss -A r
                prod = mpmath.mpf(1)
                for jj, v in enumerate(sel):
                    v = v + x if jj == j else v
                    c = sgn * min(sgn * v, sgn * _clip(v, -lo, hi))
                    prod *= mpmath.exp(c)
                return -A * mpmath.root(prod, n)

            v = log_w[i]
            left = (A > 0 and v == hi) or (A < 0 and v == -lo)
            # the token mean of the aggregation: phi_t = n * (-dL/dl_t)
            out[i] = +(n * _diff_at(loss, kink_left=A > 0 and left, kink_right=A < 0 and left))
    return out


def _grid(log_w, A, mask):
    B = len(log_w)
    T = len(log_w[0]) if B else 0
    keep = [[True] * T for _ in range(B)] if mask is None else [list(r) for r in mask]
    adv = [[row[0]] * T if len(row) == 1 else list(row) for row in A]
    cells = [(b, t) for b in range(B) for t in range(T) if keep[b][t]]
    return B, T, keep, adv, cells


def _covariances(adv, log_prob, cells):
    """cov_t = A_t l_t - A_t l_bar - a_bar l_t + a_bar l_bar (expanded), means as totals / N."""
    n = len(cells)
    with mpmath.extradps(2 * _GUARD):
        a_bar = sum((adv[b][t] for b, t in cells), mpmath.mpf(0)) / n
        l_bar = sum((log_prob[b][t] for b, t in cells), mpmath.mpf(0)) / n
        return {
            (b, t): +(
                adv[b][t] * log_prob[b][t]
                - adv[b][t] * l_bar
                - a_bar * log_prob[b][t]
                + a_bar * l_bar
            )
            for b, t in cells
        }


def _outranked_by(key, pool, c):
    """How many members of ``pool`` come before c: larger key, or equal key and earlier."""
    return sum(1 for d in pool if key[d] > key[c] or (key[d] == key[c] and d < c))


def _count(ratio, n):
    # verl: max(int(ratio * n), 1), the product a Python (float64) float
    return max(int(float(ratio) * n), 1)


def _kl_cov(log_w, A, log_prob, mask=None, kl_cov_ratio=0.0002, ppo_kl_coef=1.0):
    B, T, keep, adv, cells = _grid(log_w, A, mask)
    out = [[mpmath.mpf(0)] * T for _ in range(B)]
    if not cells:
        return out
    cov = _covariances(adv, log_prob, cells)
    k = _count(kl_cov_ratio, len(cells))
    coef = mpmath.mpf(ppo_kl_coef)
    with mpmath.extradps(_GUARD + _digits_of(max(abs(log_w[b][t]) for b, t in cells))):
        for b, t in cells:
            top = _outranked_by(cov, cells, (b, t)) < k
            a, lw = adv[b][t], log_w[b][t]

            def loss(x, a=a, lw=lw, top=top):  # verl: -A w, or -A w + coef |log w| on the top-k
                v = -a * mpmath.exp(lw + x)
                return v + coef * abs(lw + x) if top else v

            out[b][t] = +_diff_at(loss)
    return out


def _clip_cov(
    log_w,
    A,
    log_prob,
    mask=None,
    clip_ratio_low=0.2,
    clip_ratio_high=0.2,
    clip_cov_ratio=0.0002,
    clip_cov_lb=1.0,
    clip_cov_ub=5.0,
    priority=None,
):
    B, T, keep, adv, cells = _grid(log_w, A, mask)
    out = [[mpmath.mpf(0)] * T for _ in range(B)]
    if not cells:
        return out
    lo, hi = 1 - mpmath.mpf(clip_ratio_low), 1 + mpmath.mpf(clip_ratio_high)
    cov = _covariances(adv, log_prob, cells)
    with mpmath.extradps(_GUARD):

        def losses(c, x=0):  # verl's pg_losses1, pg_losses2
            w = mpmath.exp(log_w[c[0]][c[1]] + x)
            return -adv[c[0]][c[1]] * w, -adv[c[0]][c[1]] * _clip(w, lo, hi)

        clip_by_origin = {c: losses(c)[1] > losses(c)[0] for c in cells}
    lb, ub = mpmath.mpf(clip_cov_lb), mpmath.mpf(clip_cov_ub)
    cand = [c for c in cells if not clip_by_origin[c] and lb < cov[c] < ub]
    key = cov if priority is None else {c: -mpmath.mpf(priority[c[0]][c[1]]) for c in cand}
    n = _count(clip_cov_ratio, len(cells))
    chosen = {c for c in cand if _outranked_by(key, cand, c) < n}
    with mpmath.extradps(_GUARD + _digits_of(max(abs(log_w[b][t]) for b, t in cells))):
        for c in cells:
            corr = 0 if c in chosen else 1

            def loss(x, c=c, corr=corr):  # max(pg_losses1, pg_losses2) * corr
                return max(*losses(c, x)) * corr

            w = mpmath.exp(log_w[c[0]][c[1]])
            a = adv[c[0]][c[1]]
            # at a bound the closed interval: the unclipped side's one-sided derivative
            out[c[0]][c[1]] = +_diff_at(
                loss, kink_left=a > 0 and w == hi, kink_right=a < 0 and w == lo
            )
    return out


def _tis_token_batch_normalized(log_w, A, mask=None, clip_max=2.0, min_mean=1e-8):
    B, T, keep, adv, cells = _grid(log_w, A, mask)
    out = [[mpmath.mpf(0)] * T for _ in range(B)]
    if not cells:
        return out
    cap = mpmath.mpf(clip_max)
    with mpmath.extradps(_GUARD):
        v = {c: min(_w(log_w[c[0]][c[1]]), cap) for c in cells}
        total = sum(v.values(), mpmath.mpf(0))
        normalise = total > mpmath.mpf(min_mean) * len(cells)
        for b, t in cells:
            out[b][t] = +(
                adv[b][t] * v[(b, t)] * len(cells) / total if normalise else adv[b][t] * v[(b, t)]
            )
    return out


def _tis_sequence_batch_normalized(log_w, A, mask=None, clip_max=2.0, min_mean=1e-8):
    B, T, keep, adv, cells = _grid(log_w, A, mask)
    out = [[mpmath.mpf(0)] * T for _ in range(B)]
    rows = sorted({b for b, _ in cells})
    if not rows:
        return out
    cap = mpmath.mpf(clip_max)
    with mpmath.extradps(_GUARD):
        V = {
            b: min(_product_of_ratios([log_w[b][t] for t in range(T) if keep[b][t]]), cap)
            for b in rows
        }
        total = sum(V.values(), mpmath.mpf(0))
        normalise = total > mpmath.mpf(min_mean) * len(rows)
        for b, t in cells:
            out[b][t] = +(adv[b][t] * V[b] * len(rows) / total if normalise else adv[b][t] * V[b])
    return out


def _d_gpg(log_w, A):
    return _token_ok(log_w, A)


def _d_gmpo(log_w, A, mask=None, clip_ratio_low=0.4, clip_ratio_high=0.4):
    lo, hi = mpmath.mpf(clip_ratio_low), mpmath.mpf(clip_ratio_high)
    return _seq_ok(log_w, mask) and _fin(A) and _fin(lo) and lo >= 0 and _fin(hi) and hi >= 0


def _batch_ok(log_w, A, mask, log_prob=None) -> bool:
    """B x T log_w without NaN, B x T boolean mask (None = all), A B lists of 1 or T finite
    advantages, selected log_w finite; log_prob (if given) B x T without NaN, finite and <= 0
    where selected."""
    if not isinstance(log_w, list) or not all(isinstance(r, list) for r in log_w):
        return False
    B = len(log_w)
    T = len(log_w[0]) if B else 0
    if any(len(r) != T for r in log_w) or any(_nan(v) for r in log_w for v in r):
        return False
    if mask is not None and (
        len(mask) != B or any(len(r) != T or not all(isinstance(k, bool) for k in r) for r in mask)
    ):
        return False
    if not isinstance(A, list) or len(A) != B:
        return False
    for row in A:
        if not isinstance(row, list) or len(row) not in (1, T) or not all(_fin(v) for v in row):
            return False
    keep = [[True] * T for _ in range(B)] if mask is None else mask
    if any(keep[b][t] and not _fin(log_w[b][t]) for b in range(B) for t in range(T)):
        return False
    if log_prob is not None:
        if len(log_prob) != B or any(len(r) != T for r in log_prob):
            return False
        if any(_nan(v) for r in log_prob for v in r):
            return False
        for b in range(B):
            for t in range(T):
                v = log_prob[b][t]
                if keep[b][t] and not (_fin(v) and v <= 0):
                    return False
    return True


def _d_kl_cov(log_w, A, log_prob, mask=None, kl_cov_ratio=0.0002, ppo_kl_coef=1.0):
    r, c = mpmath.mpf(kl_cov_ratio), mpmath.mpf(ppo_kl_coef)
    return _batch_ok(log_w, A, mask, log_prob) and _fin(r) and 0 < r <= 1 and _fin(c) and c >= 0


def _d_clip_cov(
    log_w,
    A,
    log_prob,
    mask=None,
    clip_ratio_low=0.2,
    clip_ratio_high=0.2,
    clip_cov_ratio=0.0002,
    clip_cov_lb=1.0,
    clip_cov_ub=5.0,
    priority=None,
):
    r = mpmath.mpf(clip_cov_ratio)
    lb, ub = mpmath.mpf(clip_cov_lb), mpmath.mpf(clip_cov_ub)
    ok = (
        _batch_ok(log_w, A, mask, log_prob)
        and _ratios_ok(clip_ratio_low, clip_ratio_high)
        and _fin(r)
        and 0 < r <= 1
        and not _nan(lb)
        and not _nan(ub)
        and lb <= ub
    )
    if ok and priority is not None:
        ok = len(priority) == len(log_w) and all(
            len(p) == len(r) and all(_fin(v) for v in p) for p, r in zip(priority, log_w)
        )
    return ok


def _d_tis_batch_normalized(log_w, A, mask=None, clip_max=2.0, min_mean=1e-8):
    cap, floor = mpmath.mpf(clip_max), mpmath.mpf(min_mean)
    return _batch_ok(log_w, A, mask) and not _nan(cap) and cap > 0 and _fin(floor) and floor >= 0


_BATCH_WHY = (
    "selection by exact comparisons at 50 digits (no case has two covariances within 1e-30 "
    "other than exact ties); mpmath.diff of the per-token loss at raised precision: ~55 digits"
)

register_oracle(
    "peers.gpg",
    "mpmath.diff of GPG's loss -A log(mu e^{log_w + x}) at x = 0 (mu = 1/3); log_w = -inf: A",
    _gpg,
    digits=35,
    why=_DIFF_WHY,
    domain=_d_gpg,
)
register_oracle(
    "peers.gmpo",
    "mpmath.diff, token by token, of verl's geo_mean sequence loss -A (prod_t e^{c_t})^(1/n), "
    "c_t = sgn(A) min(sgn(A) l_t, sgn(A) clamp(l_t, -low, high)), times n (token mean); at an "
    "exact bound the one-sided derivative from the unclipped side",
    _gmpo,
    digits=35,
    why=_DIFF_WHY,
    domain=_d_gmpo,
)
register_oracle(
    "peers.kl_cov",
    "covariances in expanded form (A l - A l_bar - a_bar l + a_bar l_bar); a token is in the "
    "top k when fewer than k tokens outrank it (counted, no sort); mpmath.diff of verl's "
    "per-token loss -A e^{log w} (+ coef |log w| on the top k)",
    _kl_cov,
    digits=35,
    why=_BATCH_WHY,
    domain=_d_kl_cov,
)
register_oracle(
    "peers.clip_cov",
    "verl's clip_by_origin (pg_losses2 > pg_losses1) and band test on expanded covariances; a "
    "candidate is chosen when fewer than n candidates outrank it (cov, or -priority; counted); "
    "mpmath.diff of max(-A w, -A clip(w)) * corr",
    _clip_cov,
    digits=35,
    why=_BATCH_WHY,
    domain=_d_clip_cov,
)
register_oracle(
    "peers.tis_token_batch_normalized",
    "A v N / total with v = min(w, clip_max), total the sum of v over the N selected tokens, "
    "normalised when total > min_mean N",
    _tis_token_batch_normalized,
    digits=35,
    why=_DEF_WHY,
    domain=_d_tis_batch_normalized,
)
register_oracle(
    "peers.tis_sequence_batch_normalized",
    "A V_b R / total with V_b = min(explicit product of the sequence's selected token ratios, "
    "clip_max), total over the R non-empty sequences, normalised when total > min_mean R",
    _tis_sequence_batch_normalized,
    digits=35,
    why=_DEF_WHY,
    domain=_d_tis_batch_normalized,
)
