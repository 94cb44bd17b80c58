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
