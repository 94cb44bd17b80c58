"""Torch twins of ``reference.weights``: gradient weights phi(w, A) of seed 002 (v8).

Every function takes ``log_w`` (= log pi_theta - log mu) and ``A`` as tensors (or numbers) that
broadcast with the parameters, returns a tensor of the promoted input dtype (bfloat16 / float16
computed in float32), and has no ``.item()`` or Python branching on tensor values.

Numerics: w^gamma is exp(gamma log_w), with the rounding error of the product gamma log_w
carried exactly (Dekker's TwoProduct), so the exponential does not turn it into |gamma log_w|
eps. A product g(w) A is formed directly when g(w) is a normal number, as (A e^c) e^(log g - c)
when g over- or underflows by up to the exponent range (so a tiny A times a huge w^gamma, or
the reverse, is exact to a few ulp), and as sign(A) exp(log g + log|A|) beyond. A == 0 gives 0
(never inf * 0 = NaN). Branches are selected with ``torch.where`` on sanitised inputs: the
gradients of the twins are meant to be NaN-free wherever their value is finite, and the
gradients of the surrogates below NaN-free for every finite input. Known exceptions, kept as
strict xfails with their reproducers in tests/test_weights_gradients_extreme.py: at extreme
hyperparameters or near the dtype's exponent range, threshold saturation, the blend / mixture
gate, Michaelis-Menten at tau = 0 and Box-Cox (A / gamma overflowing) can give inf or NaN
gradients where the value is finite.

Ties: every clamp on a differentiated path is a ``torch.where`` (``torch_impl._ties``), so
value and gradient at the bound do not depend on torch's clamp convention (changed in 2.14).
The seeds' clamp(log_w, -20, 20) is closed, as the reference's 1[|log_w| <= 20]: at
|log_w| = 20 exactly the gradient passes (:func:`_seed_clamp`). Caps that only keep exp finite
in a saturated region pass the gradient of the uncapped expression at the cap.

``SURROGATES`` maps each weight to a training loss written the way the design (or common
practice) writes it; ``tests/test_gradients.py`` checks that its autograd gradient with respect to
log_w is -phi. Objectives (Box-Cox, the truncation's piecewise objective, Michaelis-Menten,
SAPO's gate) and the seed's own losses are real checks. The threshold, blend, mixture and
text-design weights have no closed-form objective; a stop-gradient loss -sg(phi) log pi would
reproduce phi by construction (a test that cannot fail), so they have no surrogate.
"""

from __future__ import annotations

import math
import struct

import torch
import torch.nn.functional as F

from isreshape.torch_impl._ties import cap_above, clip_closed
from isreshape.torch_impl._validate import check_finite, check_range, promote

SEED_CLAMP = 20.0
_LOG_CAP = 1.0e4  # |log g| beyond this is 0 or inf for every finite A


# ------------------------------------------------------------------------------- helpers


def _check_inputs(log_w, A) -> None:
    check_finite("log_w", log_w)
    check_finite("A", A)


def _zeros(x: torch.Tensor) -> torch.Tensor:
    return torch.zeros_like(x)


def _scale(log_mag: torch.Tensor, A: torch.Tensor, mag_from=None, err=None) -> torch.Tensor:
    """g A where log g = log_mag (may be -inf, never NaN), over/underflow- and NaN-safe.

    Three regimes: g a normal number: g A directly (``mag_from(s, e)`` may compute g more
    accurately from the sanitised log g ``s``; ``e`` is exp(s) there, 1 elsewhere); |log g| up
    to about twice the exponent range: (A e^c) e^(log g - c) with c at the edge of the range,
    which never rounds log|A|; beyond:
    sign(A) exp(log g + log|A|). ``err`` is a known relative correction of e^(log g) (the
    rounding of a product in the exponent), applied in the second regime. One exponential
    serves the three regimes (its argument chosen per element; the per-token transcendentals
    are most of a compiled loss's time on a CPU)."""
    finfo = torch.finfo(log_mag.dtype)
    lo, hi = math.log(finfo.tiny), math.log(finfo.max)
    log_mag = cap_above(log_mag, _LOG_CAP)
    direct_ok = (log_mag > lo) & (log_mag < hi)
    nonzero = A != 0
    two_step = ~direct_ok & nonzero & (log_mag > 2 * lo + 2) & (log_mag < 2 * hi - 2)
    use_log = ~direct_ok & ~two_step & nonzero
    # two steps: c = hi - 1 (overflow side) or lo + 1 (underflow side), e^c a normal number
    pos = log_mag > 0
    c = torch.where(pos, torch.full_like(log_mag, hi - 1), lo + 1)
    e_hi, e_lo = _EXP_C64 if log_mag.dtype == torch.float64 else _EXP_C32
    exp_c = torch.where(pos, torch.full_like(log_mag, e_hi), e_lo)
    log_abs = torch.log(torch.where(nonzero, A.abs(), torch.ones_like(A)))
    zero = _zeros(log_mag)
    x = torch.where(two_step, log_mag - c, torch.where(use_log, log_mag + log_abs, zero))
    x = torch.where(direct_ok, log_mag, x)
    e = torch.exp(x)
    # each regime's factor is 0 outside it: e is shared, so an unselected regime's inf factor
    # (A e^c for a huge A) would otherwise send 0 * inf = NaN into e's gradient
    if mag_from is None:
        direct = e * torch.where(direct_ok, A, _zeros(A))
    else:
        # e = exp(s) on the direct regime (s = log_mag there): mag_from may use it instead of
        # an exponential of its own
        s = torch.where(direct_ok, log_mag, zero)
        mag = mag_from(s, torch.where(direct_ok, e, torch.ones_like(e)))
        direct = torch.where(direct_ok, mag, torch.ones_like(mag)) * A
    stepped = e * torch.where(two_step, A * exp_c, _zeros(A))
    if err is not None:
        stepped = stepped * (1 + torch.where(two_step, err, _zeros(err)))
    via_log = e * torch.where(use_log, torch.sign(A), _zeros(A))
    out = torch.where(direct_ok, direct, _zeros(direct))
    out = torch.where(two_step, stepped, out)
    return torch.where(use_log, via_log, out)


def _exp_c(dtype: torch.dtype) -> tuple[float, float]:
    """e^c for the two-step constants c = log(max) - 1 and log(tiny) + 1 as ``dtype`` holds them
    (math.exp of the rounded c; the tensor that holds e^c rounds it to ``dtype``)."""
    finfo = torch.finfo(dtype)
    hi, lo = math.log(finfo.max) - 1, math.log(finfo.tiny) + 1
    if dtype == torch.float32:  # the float32 value of c
        hi, lo = (struct.unpack("f", struct.pack("f", c))[0] for c in (hi, lo))
    return math.exp(hi), math.exp(lo)


# the compute dtypes of ``promote`` (float32 or float64); built at import: struct is not
# traceable by torch.compile in torch 2.4
_EXP_C32, _EXP_C64 = _exp_c(torch.float32), _exp_c(torch.float64)


def _normal_range(log_mag: torch.Tensor) -> torch.Tensor:
    """Where exp(log_mag) is a normal number (the direct regime of :func:`_scale`)."""
    finfo = torch.finfo(log_mag.dtype)
    return (log_mag > math.log(finfo.tiny)) & (log_mag < math.log(finfo.max))


def _prod_err(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """a b - t exactly, t = fl(a b) (Dekker's TwoProduct with Veltkamp splitting); 0 where
    the split could overflow. exp(t) (1 + err) is then exp(a b) to a few ulp, instead of
    carrying the |a b| eps rounding of the product into the exponential."""
    factor = 134217729.0 if t.dtype == torch.float64 else 4097.0
    bound = math.sqrt(torch.finfo(t.dtype).max) / (4 * factor)
    a, b, t = torch.broadcast_tensors(a, b, t)
    ok = (a.abs() < bound) & (b.abs() < bound)
    a = torch.where(ok, a, _zeros(a))
    b = torch.where(ok, b, _zeros(b))
    p = a * b

    def split(x):
        c = factor * x
        hi = c - (c - x)
        return hi, x - hi

    ah, al = split(a)
    bh, bl = split(b)
    err = ((ah * bh - p) + ah * bl + al * bh) + al * bl
    return torch.where(ok, err, _zeros(err))


def _exp_prod(a: torch.Tensor, b: torch.Tensor):
    """(t, mag_from, err) for g = exp(a b): t = fl(a b), the exact rounding error err of the
    product, and a ``mag_from`` for :func:`_scale` that returns exp(s) (1 + err) (``e``, when
    given, is exp(s) already computed)."""
    t = a * b
    err = _prod_err(a.detach(), b.detach(), t.detach())

    def mag_from(s, e=None):
        return (torch.exp(s) if e is None else e) * (1 + err)

    return t, mag_from, err


def _log_sigmoid(x: torch.Tensor) -> torch.Tensor:
    return F.logsigmoid(x)


def _seed_clamp(log_w: torch.Tensor) -> torch.Tensor:
    """The seeds' clamp(log_w, -20, 20), closed: at |log_w| = 20 exactly the value is log_w and
    its gradient 1, as torch <= 2.13 differentiates clamp and as the reference's
    1[|log_w| <= 20] has it (torch >= 2.14's clamp would give 0 at the bounds)."""
    return clip_closed(log_w, -SEED_CLAMP, SEED_CLAMP)


def _clamp_top(log_w: torch.Tensor) -> torch.Tensor:
    """log_w capped 2 below the dtype's overflow of exp (used inside saturated gates, where
    any larger log_w gives the same value; keeps exp and its gradient finite)."""
    return cap_above(log_w, math.log(torch.finfo(log_w.dtype).max) - 2.0)


def _gate_argument(log_w: torch.Tensor, lam: torch.Tensor, w_th: torch.Tensor) -> torch.Tensor:
    """z = lam (w - w_th) without overflowing w: beyond the dtype's range lam w is taken as
    exp(min(log lam + log w, cap)), exact for tiny (even subnormal) lam, where the gate is not
    saturated and capping w itself was wrong (hypothesis found lam = 2.2e-313, log w = 709)."""
    cap = math.log(torch.finfo(log_w.dtype).max) - 2.0
    over = log_w > cap
    direct = lam * (torch.exp(cap_above(log_w, cap)) - w_th)
    # cap the product, not w: once lam w > e^cap the gate is saturated for any larger value
    log_prod = cap_above(torch.log(lam) + torch.where(over, log_w, _zeros(log_w)), cap)
    beyond = torch.exp(log_prod) - lam * w_th
    return torch.where(over, beyond, direct)


# ------------------------------------------------------------------------ power family


def power_weight(log_w, A, gamma) -> torch.Tensor:
    """phi = w^gamma A = exp(gamma log_w) A (seed 002 sections 1.3, 4.1; seed 001).

    Domain: log_w, A, gamma finite (ValueError otherwise). A == 0 gives 0 at every w.
    """
    _check_inputs(log_w, A)
    check_finite("gamma", gamma)
    (log_w, A, gamma), out_dtype = promote(log_w, A, gamma)
    t, mag_from, err = _exp_prod(gamma, log_w)
    return _scale(t, A, mag_from, err).to(out_dtype)


def _expm1_over(t: torch.Tensor, gamma: torch.Tensor, log_w: torch.Tensor, err) -> torch.Tensor:
    """(e^t - 1) / gamma with the gamma = 0 limit log_w; finite unless e^t overflows (then the
    caller uses the log form). Written so that autograd is accurate: expm1's backward uses
    result + 1, which is exact only for |t| < 1/2."""
    g0 = gamma == 0
    g_safe = torch.where(g0, torch.ones_like(gamma), gamma)
    # |t| < 1e-5: (e^t - 1) / gamma = log_w (1 + t/2 + t^2/6), exact to O(t^3) and free of
    # the underflow of t = gamma log_w itself (gamma = log_w = 1e-242 gives t = 0)
    tiny = t.abs() < 1e-5
    series = log_w * (1 + t / 2 * (1 + t / 3))
    small = t.abs() < 0.5
    t_small = torch.where(small, t, _zeros(t))
    em_small = torch.expm1(t_small)
    # e^t (1 + err) - 1 = expm1(t) + err e^t, e^t as 1 + expm1(t) (err is an O(eps |t|)
    # correction: an exponential of its own would change only its last bits)
    em = torch.where(
        small,
        em_small + err * (1 + em_small),
        torch.exp(torch.where(small, _zeros(t), t)) * (1 + err) - 1,
    )
    return torch.where(g0, log_w, torch.where(tiny, series, em / g_safe))


def box_cox_objective(log_w, A, gamma) -> torch.Tensor:
    """f = (w^gamma - 1) / gamma A, gamma = 0 giving log(w) A (seed 002 section 7.1).

    d f / d log_w = w^gamma A (autograd of this function is exactly :func:`power_weight`).
    Domain: log_w, A, gamma finite. A == 0 gives 0.
    """
    _check_inputs(log_w, A)
    check_finite("gamma", gamma)
    (log_w, A, gamma), out_dtype = promote(log_w, A, gamma)
    log_w, A, gamma = torch.broadcast_tensors(log_w, A, gamma)
    t = gamma * log_w
    err = _prod_err(gamma.detach(), log_w.detach(), t.detach())
    finfo = torch.finfo(t.dtype)
    lo, hi = math.log(finfo.tiny) + 1.0, math.log(finfo.max) - 1.0
    under = t < lo
    extreme = (t > hi) | under
    t_safe = torch.where(extreme, _zeros(t), t)
    direct = _expm1_over(t_safe, gamma, log_w, torch.where(extreme, _zeros(err), err)) * A
    # e^t over- or underflows: e^t A / gamma scaled in two steps (the -1 is then below one
    # ulp, resp. a constant -A / gamma whose derivative is 0), so value and gradient stay
    # accurate
    g_safe = torch.where(gamma != 0, gamma, torch.ones_like(gamma))
    A_g = A / g_safe
    via = _scale(
        torch.where(extreme, t, _zeros(t)), A_g, None, torch.where(extreme, err, _zeros(err))
    )
    via = via - torch.where(under, A_g, _zeros(A_g))
    return torch.where(extreme, via, direct).to(out_dtype)


def asymmetric_power_weight(log_w, A, gamma_pos, gamma_neg) -> torch.Tensor:
    """phi = w^gamma(A) A, gamma_pos for A > 0 and gamma_neg for A < 0 (seed 002 sections 4.3,
    9.1). A == 0 and -0.0 give 0. Domain: every input finite."""
    _check_inputs(log_w, A)
    check_finite("gamma_pos", gamma_pos)
    check_finite("gamma_neg", gamma_neg)
    (log_w, A, gp, gn), out_dtype = promote(log_w, A, gamma_pos, gamma_neg)
    gamma = torch.where(A > 0, gp, gn)
    t, mag_from, err = _exp_prod(gamma, log_w)
    return _scale(t, A, mag_from, err).to(out_dtype)


def truncated_power_weight(log_w, A, gamma, M) -> torch.Tensor:
    """phi = min(w^gamma, M) A (seed 002 section 5.4 scheme 1). Domain: M > 0 finite."""
    _check_inputs(log_w, A)
    check_finite("gamma", gamma)
    check_finite("M", M)
    check_range("M", M, lo=0, lo_open=True)
    (log_w, A, gamma, M), out_dtype = promote(log_w, A, gamma, M)
    t, pow_from, err = _exp_prod(gamma, log_w)
    log_M = torch.log(M)
    below = t < log_M

    def mag_from(s, e):
        return torch.where(below, pow_from(s, e), M)

    log_mag = cap_above(t, log_M)
    return _scale(log_mag, A, mag_from, torch.where(below, err, _zeros(err))).to(out_dtype)


def _soft_saturation_log_mag(t: torch.Tensor, lam: torch.Tensor) -> torch.Tensor:
    """log of u / (1 + lam (u - 1)^+) with u = e^t, i.e. t for t <= 0 and
    -log(lam + (1 - lam) e^{-t}) above."""
    pos = t > 0
    tp = torch.where(pos, t, _zeros(t))
    le1 = lam <= 1
    lam1 = torch.where(le1, lam, torch.full_like(lam, 0.5))
    lam2 = torch.where(le1, torch.full_like(lam, 2.0), lam)
    log_den_le1 = torch.logaddexp(torch.log(lam1), torch.log1p(-lam1) - tp)
    den_gt1 = lam2 - (lam2 - 1) * torch.exp(-tp)
    # den_gt1 rounds to 0 where (lam - 1) e^-t rounds to lam (lam 1e30, t 2e-29): log(0) =
    # -inf, but log's backward 0 / 0 put NaN into the gradient; den_gt1 >= 0 (e^-t <= 1 and
    # fl(lam - 1) <= lam). Known value defect there: the weight comes out inf, true A / 21
    # (the cancellation lam - (lam - 1) e^-t; lam (1 - e^-t) + e^-t would not cancel)
    den_ok = den_gt1 > 0
    log_den_gt1 = torch.where(
        den_ok,
        torch.log(torch.where(den_ok, den_gt1, torch.ones_like(den_gt1))),
        torch.full_like(den_gt1, -math.inf),
    )
    log_den = torch.where(le1, log_den_le1, log_den_gt1)
    return torch.where(pos, -log_den, t)


def soft_saturation_weight(log_w, A, gamma, lam) -> torch.Tensor:
    """phi = w^gamma / (1 + lam (w^gamma - 1)^+) A (seed 002 section 5.4 scheme 2).

    Tends to A / lam as w -> inf; lam = 1 is min(w^gamma, 1) A. Domain: lam >= 0 finite.
    """
    _check_inputs(log_w, A)
    check_finite("gamma", gamma)
    check_finite("lam", lam)
    check_range("lam", lam, lo=0)
    (log_w, A, gamma, lam), out_dtype = promote(log_w, A, gamma, lam)
    log_w, A, gamma, lam = torch.broadcast_tensors(log_w, A, gamma, lam)
    t, pow_from, _ = _exp_prod(gamma, log_w)
    pos = t > 0
    e_neg = torch.exp(-torch.where(pos, t, _zeros(t)))

    sat_on = pos & (lam > 0)

    def mag_from(s, e):
        # u <= 1: u; u > 1: 1 / (lam + (1 - lam) / u), 1/u = e^{-t} (1 - err). The gradient is
        # e's (e = exp(log g) here, the same function): the reciprocal's backward squares
        # 1 / den, which overflows once g > sqrt(max) (lam 1e-30, w = e^50 in float32: inf for
        # a gradient of 5e21), and an unselected huge 1 / den put 0 * inf = NaN into it (lam 0)
        den = lam + (1 - lam) * e_neg * (2 - pow_from(_zeros(s)))
        sat = (1 / torch.where(sat_on, den, torch.ones_like(den))).detach()
        sat = sat + (e - e.detach())
        return torch.where(sat_on, sat, pow_from(s, e))

    return _scale(_soft_saturation_log_mag(t, lam), A, mag_from).to(out_dtype)


def threshold_saturation_weight(log_w, A, gamma, lam, w_th) -> torch.Tensor:
    """phi = w^gamma / (1 + lam (w - w_th)^+) A (seed 002 section 9.2 as printed; grows like
    w^(gamma - 1) / lam, unbounded for gamma > 1). Domain: lam >= 0, w_th finite."""
    _check_inputs(log_w, A)
    check_finite("gamma", gamma)
    check_finite("lam", lam)
    check_range("lam", lam, lo=0)
    check_finite("w_th", w_th)
    (log_w, A, gamma, lam, w_th), out_dtype = promote(log_w, A, gamma, lam, w_th)
    log_w, A, gamma, lam, w_th = torch.broadcast_tensors(log_w, A, gamma, lam, w_th)
    t, pow_from, err = _exp_prod(gamma, log_w)
    big = log_w > 30.0
    lw_small = torch.where(big, _zeros(log_w), log_w)
    w_small = torch.exp(lw_small)
    # (w - w_th)^+, 0 (gradient 0) at w == w_th
    excess = torch.where(w_small > w_th, w_small - w_th, _zeros(w_small))
    den_small = 1 + lam * excess
    # w > e^30 (always above any sane threshold): w^gamma / (lam w + d), d = 1 - lam w_th,
    # = w^(gamma - 1) / (lam + d e^{-log w}); lam = 0 leaves w^gamma.
    lam_pos = lam > 0
    lam_s = torch.where(lam_pos, lam, torch.ones_like(lam))
    lw_big = torch.where(big, log_w, torch.full_like(log_w, 30.0))
    den_big = lam_s + (1 - lam_s * w_th) * torch.exp(-lw_big)
    t1, pow1_from, err1 = _exp_prod(gamma - 1, lw_big)
    use_big = big & lam_pos & (den_big > 0)
    log_mag = torch.where(use_big, t1 - torch.log(torch.abs(den_big)), t - torch.log(den_small))

    ok = _normal_range(log_mag)

    # the direct quotient needs w^(gamma - 1) and den_big to be normal numbers themselves
    # (w = e^1000, gamma = 0, lam = 9e-211: e^-1000 underflows although the weight is 5.6e-225)
    big_direct = _normal_range(t1) & (den_big >= torch.finfo(den_big.dtype).tiny)

    def mag_from(s, e):
        small_val = pow_from(torch.where(ok & ~use_big, t, _zeros(t))) / den_small
        big_val = pow1_from(torch.where(ok & use_big & big_direct, t1, _zeros(t1))) / den_big
        big_val = torch.where(big_direct, big_val, e)
        return torch.where(use_big, big_val, small_val)

    return _scale(log_mag, A, mag_from, torch.where(use_big, err1, err)).to(out_dtype)


def _blend_log_mag(log_w, gamma, lam, w_th):
    """(log g, mag_from) for g = beta w^gamma + (1 - beta) w, beta = sigmoid(-lam (w - w_th)).

    mag_from evaluates g directly where w and w^gamma are normal numbers (a few ulp), the
    log form elsewhere."""
    z = _gate_argument(log_w, lam, w_th)
    t, pow_from, _ = _exp_prod(gamma, log_w)
    log_mag = torch.logaddexp(t + _log_sigmoid(-z), log_w + _log_sigmoid(z))
    lim = math.log(torch.finfo(log_w.dtype).max) - 2.0
    safe = (log_w.abs() < lim) & (t.abs() < lim)
    lw_s = torch.where(safe, log_w, _zeros(log_w))
    t_s = torch.where(safe, t, _zeros(t))

    def mag_from(s, e):
        direct = torch.sigmoid(-z) * pow_from(t_s) + torch.sigmoid(z) * torch.exp(lw_s)
        return torch.where(safe, direct, e)

    return log_mag, mag_from


def _check_blend(lam, w_th, lam_name="lam", th_name="w_th") -> None:
    check_finite(lam_name, lam)
    check_range(lam_name, lam, lo=0)
    check_finite(th_name, w_th)


def sigmoid_blend_weight(log_w, A, gamma, lam, w_th) -> torch.Tensor:
    """phi = [beta w^gamma + (1 - beta) w] A, beta = sigmoid(-lam (w - w_th)) (the soft
    saturation of the seed's appendix-B code). Domain: gamma, w_th finite, lam >= 0."""
    _check_inputs(log_w, A)
    check_finite("gamma", gamma)
    _check_blend(lam, w_th)
    (log_w, A, gamma, lam, w_th), out_dtype = promote(log_w, A, gamma, lam, w_th)
    log_mag, mag_from = _blend_log_mag(log_w, gamma, lam, w_th)
    return _scale(log_mag, A, mag_from).to(out_dtype)


def mixture_weight(log_w, A, gamma_pos, gamma_neg, lam, w_th) -> torch.Tensor:
    """Seed 002 section 9.3: w^gamma_pos A for A > 0, [beta w^gamma_neg + (1 - beta) w] A for
    A < 0, beta = sigmoid(-lam (w - w_th)); A == 0 gives 0."""
    _check_inputs(log_w, A)
    check_finite("gamma_pos", gamma_pos)
    check_finite("gamma_neg", gamma_neg)
    _check_blend(lam, w_th)
    (log_w, A, gp, gn, lam, w_th), out_dtype = promote(log_w, A, gamma_pos, gamma_neg, lam, w_th)
    t, pow_from, _ = _exp_prod(gp, log_w)
    log_neg, neg_from = _blend_log_mag(log_w, gn, lam, w_th)
    pos = A > 0

    def mag_from(s, e):
        return torch.where(pos, pow_from(s, e), neg_from(s, e))

    return _scale(torch.where(pos, t, log_neg), A, mag_from).to(out_dtype)


def _mm_fractions(log_w, tau):
    """(w / (tau + w), tau / (tau + w)) = (sigmoid(x), sigmoid(-x)), x = log w - log tau:
    formed from w directly while w is a normal number (no rounding of log tau), else from x."""
    lim = math.log(torch.finfo(log_w.dtype).max) - 2.0
    ok = log_w.abs() < lim
    w = torch.exp(torch.where(ok, log_w, _zeros(log_w)))
    x = log_w - torch.log(tau)
    a = torch.where(ok, w / (tau + w), torch.sigmoid(x))
    b = torch.where(ok, tau / (tau + w), torch.sigmoid(-x))
    return a, b, x


def _mm_mag_from(log_w, tau):
    """(1 + tau) w / (tau + w) where w / (tau + w) is a normal number, else exp(s).

    The direct form never rounds log tau; exp(s) with s = log1p(tau) + log sigmoid(x) carries
    the rounding of x = log w - log tau, |x| eps relative (|x| = 34 at log_w = -20, tau = 1e6)."""
    a, _, x = _mm_fractions(log_w, tau)
    tiny = torch.finfo(a.dtype).tiny

    def mag_from(s, e):
        return torch.where(a >= tiny, (1 + tau) * a, e)

    return mag_from


def michaelis_menten_weight(log_w, A, tau) -> torch.Tensor:
    """phi = (1 + tau) w / (tau + w) A = (1 + tau) sigmoid(log_w - log tau) A (seed 002
    sections 5.4, 9.2, 10.2). tau = 0 gives A. Domain: tau >= 0 finite."""
    _check_inputs(log_w, A)
    check_finite("tau", tau)
    check_range("tau", tau, lo=0)
    (log_w, A, tau), out_dtype = promote(log_w, A, tau)
    x = log_w - torch.log(tau)
    return _scale(torch.log1p(tau) + _log_sigmoid(x), A, _mm_mag_from(log_w, tau)).to(out_dtype)


def michaelis_menten_objective(log_w, A, tau) -> torch.Tensor:
    """f = (1 + tau) log((tau + w) / (tau + 1)) A, f'(w) w = the MM weight; tau = 0 gives
    log(w) A. Domain: tau >= 0 finite. A == 0 gives 0."""
    _check_inputs(log_w, A)
    check_finite("tau", tau)
    check_range("tau", tau, lo=0)
    (log_w, A, tau), out_dtype = promote(log_w, A, tau)
    log_w, A, tau = torch.broadcast_tensors(log_w, A, tau)
    # log((tau + w) / (1 + tau)) = log1p(r), r = (w - 1) / (1 + tau), where |r| < 1/2;
    # elsewhere logaddexp(log tau, log w) - log1p(tau) has no cancellation.
    lw_c = cap_above(log_w, 600.0)
    small = lw_c.abs() < 0.5
    # where e^lw_c overflows (float32 above 88.7, below the cap) em1 is inf without a
    # gradient: exp's backward result * 0 = inf * 0 put NaN into the gradient although that
    # branch is never selected (r = inf is not near)
    over = torch.isinf(torch.exp(lw_c.detach()))
    em1 = torch.where(
        small,
        torch.expm1(torch.where(small, lw_c, _zeros(lw_c))),
        torch.exp(torch.where(small | over, _zeros(lw_c), lw_c)) - 1,
    )
    em1 = torch.where(over, torch.full_like(em1, math.inf), em1)
    r = em1 / (1 + tau)
    near = (r.abs() < 0.5) & (log_w < 600.0)
    g_near = torch.log1p(torch.where(near, r, _zeros(r)))
    lw_far = torch.where(near, torch.ones_like(log_w), log_w)
    lim = math.log(torch.finfo(log_w.dtype).max) - 2.0
    w_ok = lw_far.abs() < lim
    w_far = torch.exp(torch.where(w_ok, lw_far, _zeros(lw_far)))
    # log(tau + w) as log w + log1p(tau / w) or log tau + log1p(w / tau): the derivative
    # w / (tau + w) is then formed without a tiny 1 / (tau + w) factor (no underflow in autograd)
    w_big = w_far >= tau
    tau_s = torch.where(w_big, torch.ones_like(tau), tau)
    w_b = torch.where(w_big, w_far, torch.ones_like(w_far))
    w_s = torch.where(w_big, _zeros(w_far), w_far)
    log_tw = torch.where(
        w_big,
        lw_far + torch.log1p(tau / w_b),
        torch.log(tau_s) + torch.log1p(w_s / tau_s),
    )
    g_far = torch.where(w_ok, log_tw, torch.logaddexp(torch.log(tau), lw_far)) - torch.log1p(tau)
    g = torch.where(near, g_near, g_far)
    out = (1 + tau) * g * A
    return torch.where(A == 0, _zeros(out), out).to(out_dtype)


# --------------------------------------------------------------------------------- SAPO


def _check_sapo_tau(tau) -> None:
    check_finite("tau", tau)
    check_range("tau", tau, lo=0, lo_open=True)


def sapo_weight_section_8_1(log_w, A, tau) -> torch.Tensor:
    """phi = sigmoid(tau (w - 1)) 4 / tau A as seed 002 section 8.1 writes it (this is SAPO's
    objective, not its gradient weight). Domain: tau > 0 finite."""
    _check_inputs(log_w, A)
    _check_sapo_tau(tau)
    (log_w, A, tau), out_dtype = promote(log_w, A, tau)
    x = tau * torch.expm1(_clamp_top(log_w))

    def mag_from(s, e):
        return torch.sigmoid(x) * (4 / tau)

    return _scale(torch.log(4 / tau) + _log_sigmoid(x), A, mag_from).to(out_dtype)


def sapo_weight(log_w, A, tau) -> torch.Tensor:
    """SAPO's gradient weight 4 w sigmoid(tau (w - 1)) sigmoid(-tau (w - 1)) A = d/dlog w of
    (4 / tau) sigmoid(tau (w - 1)) A. phi(1) = A. Domain: tau > 0 finite."""
    _check_inputs(log_w, A)
    _check_sapo_tau(tau)
    (log_w, A, tau), out_dtype = promote(log_w, A, tau)
    x = tau * torch.expm1(_clamp_top(log_w))
    log_mag = math.log(4.0) + log_w + _log_sigmoid(x) + _log_sigmoid(-x)
    lim = math.log(torch.finfo(log_w.dtype).max) - 2.0
    safe = (log_w.abs() < lim) & (x.abs() < lim)
    lw_s = torch.where(safe, log_w, _zeros(log_w))

    def mag_from(s, e):
        direct = 4 * torch.exp(lw_s) * torch.sigmoid(x) * torch.sigmoid(-x)
        return torch.where(safe, direct, e)

    return _scale(log_mag, A, mag_from).to(out_dtype)


# ---------------------------------------------------------------------------------- SFT


def _sft_phi_slope(c, gamma, use_michaelis_menten: bool, mm_tau):
    """phi(w), d phi / d log w at log w = c, and sigma(x), sigma(-x) for the MM design."""
    if use_michaelis_menten:
        x = c - torch.log(mm_tau)
        one = torch.ones_like(x)
        phi = _scale(torch.log1p(mm_tau) + _log_sigmoid(x), one, _mm_mag_from(c, mm_tau))
        return phi, phi * _mm_fractions(c, mm_tau)[1]
    t, pow_from, _ = _exp_prod(gamma, c)
    p = pow_from(t)
    return p, gamma * p


def sft_gradient_weight(
    log_w, gamma, use_michaelis_menten: bool = False, mm_tau=1.0
) -> torch.Tensor:
    """SFT weight of seed 002 section 10: w^gamma, or (1 + mm_tau) w / (mm_tau + w) with
    ``use_michaelis_menten`` (A taken as 1). Domain: gamma finite, mm_tau >= 0 finite."""
    check_finite("log_w", log_w)
    check_finite("gamma", gamma)
    check_finite("mm_tau", mm_tau)
    check_range("mm_tau", mm_tau, lo=0)
    (log_w, gamma, mm_tau), out_dtype = promote(log_w, gamma, mm_tau)
    return _sft_phi_slope(log_w, gamma, bool(use_michaelis_menten), mm_tau)[0].to(out_dtype)


def sft_gradient_weight_seed_code(
    log_w, log_mu, gamma, use_michaelis_menten: bool = False, mm_tau=1.0
) -> torch.Tensor:
    """The gradient weight the seed's ``SFTGradientWeight`` loss -mean(phi(w) log_pi) really
    has: phi(c) + 1[|log_w| <= 20] log_pi dphi/dlog w (c), c = clamp(log_w, -20, 20),
    log_pi = log_w + log_mu (power design: w^gamma (1 + gamma log_pi), negative for
    log_pi < -1/gamma). Domain: log_w, log_mu, gamma finite, mm_tau >= 0 finite."""
    check_finite("log_w", log_w)
    check_finite("log_mu", log_mu)
    check_finite("gamma", gamma)
    check_finite("mm_tau", mm_tau)
    check_range("mm_tau", mm_tau, lo=0)
    (log_w, log_mu, gamma, mm_tau), out_dtype = promote(log_w, log_mu, gamma, mm_tau)
    c = _seed_clamp(log_w)
    log_pi = log_w + log_mu
    inside = log_w.abs() <= SEED_CLAMP
    if use_michaelis_menten:
        # phi (1 + log_pi sigma(-x)), written as phi ((1 + log_pi) - log_pi sigma(x)) where
        # sigma(-x) is close to 1, so the zero at log_pi = -1 / sigma(-x) is not a cancellation
        x = c - torch.log(mm_tau)
        one = torch.ones_like(x)
        phi = _scale(torch.log1p(mm_tau) + _log_sigmoid(x), one, _mm_mag_from(c, mm_tau))
        a, b, _ = _mm_fractions(c, mm_tau)
        lp = torch.where(inside, log_pi, _zeros(log_pi))
        factor = torch.where(x < 0, (1 + lp) - lp * a, 1 + lp * b)
        return (phi * factor).to(out_dtype)
    phi, slope = _sft_phi_slope(c, gamma, False, mm_tau)
    extra = torch.where(inside, log_pi * slope, _zeros(slope))
    return (phi + extra).to(out_dtype)


# --------------------------------------------------------- the appendix-B design class


def gradient_weight_design(
    log_w,
    A,
    gamma_pos,
    gamma_neg,
    use_soft_saturation: bool = True,
    saturation_threshold=3.0,
    saturation_lambda=1.0,
) -> torch.Tensor:
    """The text's reading of ``GradientWeightDesign.compute_phi``: :func:`mixture_weight`
    (use_soft_saturation) or :func:`asymmetric_power_weight`, as the gradient weight."""
    _check_blend(
        saturation_lambda, saturation_threshold, "saturation_lambda", "saturation_threshold"
    )
    if use_soft_saturation:
        return mixture_weight(
            log_w, A, gamma_pos, gamma_neg, saturation_lambda, saturation_threshold
        )
    return asymmetric_power_weight(log_w, A, gamma_pos, gamma_neg)


def gradient_weight_design_seed_code(
    log_w,
    A,
    gamma_pos,
    gamma_neg,
    use_soft_saturation: bool = True,
    saturation_threshold=3.0,
    saturation_lambda=1.0,
) -> torch.Tensor:
    """The gradient weight the seed's ``GradientWeightDesign`` loss -mean(phi) really has:
    1[|log_w| <= 20] w dphi/dw at w = exp(clamp(log_w, -20, 20)); see the reference."""
    _check_inputs(log_w, A)
    check_finite("gamma_pos", gamma_pos)
    check_finite("gamma_neg", gamma_neg)
    _check_blend(
        saturation_lambda, saturation_threshold, "saturation_lambda", "saturation_threshold"
    )
    (log_w, A, gp, gn, lam, th), out_dtype = promote(
        log_w, A, gamma_pos, gamma_neg, saturation_lambda, saturation_threshold
    )
    c = _seed_clamp(log_w)
    # each sign's formula on a neutral log_w where the other is selected: an unselected
    # inf (lam w = 1e30 e^20 in float32, or e^(gamma_pos c)) sent 0 * inf = NaN into the
    # selected one's gradient
    pos_sel = A > 0
    c_pos = torch.where(pos_sel, c, _zeros(c))
    c_neg = torch.where(pos_sel, _zeros(c), c)
    w = torch.exp(c_neg)
    pos = gp * torch.exp(gp * c_pos)
    p = torch.exp(gn * c_neg)
    if use_soft_saturation:
        z = lam * (w - th)
        beta, one_minus = torch.sigmoid(-z), torch.sigmoid(z)
        neg = beta * gn * p + one_minus * w - lam * w * beta * one_minus * (p - w)
    else:
        neg = gn * p
    slope = torch.where(pos_sel, pos, neg)
    out = torch.where(log_w.abs() <= SEED_CLAMP, slope * A, _zeros(slope * A))
    return out.to(out_dtype)


# ----------------------------------------------------------------------------- surrogates


def _sg(x: torch.Tensor) -> torch.Tensor:
    return x.detach()


def _power_surrogate(log_w, A, gamma):
    """Box-Cox objective: -(w^gamma - 1) / gamma A (seed 002 section 7.1)."""
    return -box_cox_objective(log_w, A, gamma)


def _asymmetric_surrogate(log_w, A, gamma_pos, gamma_neg):
    """Box-Cox objective with the exponent of the sample's sign (seed 002 section 7.4)."""
    dt = log_w.dtype
    gamma = torch.where(
        torch.as_tensor(A, dtype=dt) > 0,
        torch.as_tensor(gamma_pos, dtype=dt),
        torch.as_tensor(gamma_neg, dtype=dt),
    )
    return -box_cox_objective(log_w, A, gamma)


def _truncated_surrogate(log_w, A, gamma, M):
    """The objective of min(w^gamma, M) A (seed 002 section 3.3, piecewise): Box-Cox below the
    cap, M A log w (plus a constant) above it."""
    t = gamma * log_w
    log_M = torch.log(torch.as_tensor(M, dtype=t.dtype))
    below = t.detach() <= log_M
    lw_below = torch.where(below, log_w, _zeros(log_w))
    f_below = box_cox_objective(lw_below, A, gamma)
    f_above = torch.as_tensor(M, dtype=t.dtype) * torch.as_tensor(A, dtype=t.dtype) * log_w
    return -torch.where(below, f_below, f_above)


def _nan_free_coef(weight, A):
    coef = weight * A
    return torch.where(torch.as_tensor(A) == 0, torch.zeros_like(coef), coef)


def _soft_saturation_surrogate(log_w, A, gamma, lam):
    """-sg(u / (1 + lam (u - 1)^+)) A log pi, u = w^gamma, written for u > 1 as
    1 / (lam + (1 - lam) / u)."""
    t = gamma * _sg(log_w)
    sat = 1 / (lam + (1 - lam) * torch.exp(-torch.clamp(t, min=0)))
    weight = torch.where(t > 0, sat, torch.exp(torch.clamp(t, max=0)))
    return -_nan_free_coef(weight, A) * log_w


def _mm_surrogate(log_w, A, tau):
    """Objective form: -(1 + tau) log((tau + w) / (tau + 1)) A."""
    return -michaelis_menten_objective(log_w, A, tau)


def _sapo_section_surrogate(log_w, A, tau):
    """The seed's reading (the gate as a gradient weight): -sg(gate) A log pi."""
    gate = torch.sigmoid(tau * torch.expm1(_sg(log_w))) * (4 / tau)
    return -_nan_free_coef(gate, A) * log_w


def _sapo_surrogate(log_w, A, tau):
    """SAPO's objective -(4 / tau) sigmoid(tau (w - 1)) A, with sigmoid written as
    exp(logsigmoid) so that autograd keeps its relative accuracy in the saturated tail."""
    x = tau * (torch.exp(cap_above(log_w, 600.0)) - 1)
    return -(4 / tau) * torch.exp(F.logsigmoid(x)) * A


def _sft_surrogate(log_w, gamma, use_michaelis_menten=False, mm_tau=1.0):
    """Objective form: -(w^gamma - 1) / gamma (or the MM objective), A = 1."""
    if use_michaelis_menten:
        return -michaelis_menten_objective(log_w, 1.0, mm_tau)
    return -box_cox_objective(log_w, 1.0, gamma)


def _sft_seed_code_surrogate(log_w, log_mu, gamma, use_michaelis_menten=False, mm_tau=1.0):
    """The seed's SFTGradientWeight.__call__ per token, as written (no stop-gradient; the
    clamp closed: gradient 1 at |log_w| = 20, see :func:`_seed_clamp`)."""
    log_pi = log_w + log_mu
    w = torch.exp(_seed_clamp(log_w))
    if use_michaelis_menten:
        phi = (1 + mm_tau) * w / (mm_tau + w)
    else:
        phi = w**gamma
    return -(phi * log_pi)


def _design_compute_phi_seed(w, A, gamma_pos, gamma_neg, soft, threshold, lam):
    """The seed's GradientWeightDesign.compute_phi, as written (boolean-mask assignment)."""
    A = torch.as_tensor(A, dtype=w.dtype).expand_as(w).clone()
    pos_mask = A > 0
    neg_mask = A < 0
    phi = torch.zeros_like(A)
    gp = torch.as_tensor(gamma_pos, dtype=w.dtype).expand_as(w)
    gn = torch.as_tensor(gamma_neg, dtype=w.dtype).expand_as(w)
    if pos_mask.any():
        phi[pos_mask] = (w[pos_mask] ** gp[pos_mask]) * A[pos_mask]
    if neg_mask.any():
        w_neg = w[neg_mask]
        A_neg = A[neg_mask]
        if soft:
            beta = torch.sigmoid(-lam * (w_neg - threshold))
            weight = beta * (w_neg ** gn[neg_mask]) + (1 - beta) * w_neg
        else:
            weight = w_neg ** gn[neg_mask]
        phi[neg_mask] = weight * A_neg
    return phi


def _design_seed_code_surrogate(
    log_w,
    A,
    gamma_pos,
    gamma_neg,
    use_soft_saturation=True,
    saturation_threshold=3.0,
    saturation_lambda=1.0,
):
    """The seed's loss -phi(w, A) per token, w = exp(clamp(log_w, -20, 20)), as written (the
    clamp closed: gradient 1 at |log_w| = 20, see :func:`_seed_clamp`)."""
    w = torch.exp(_seed_clamp(log_w))
    phi = _design_compute_phi_seed(
        w, A, gamma_pos, gamma_neg, use_soft_saturation, saturation_threshold, saturation_lambda
    )
    # + 0 w keeps the graph connected when no token has A != 0 (value and gradient unchanged)
    return -(phi + 0.0 * w)


SURROGATES = {
    "power_weight": _power_surrogate,
    "asymmetric_power_weight": _asymmetric_surrogate,
    "truncated_power_weight": _truncated_surrogate,
    "soft_saturation_weight": _soft_saturation_surrogate,
    "michaelis_menten_weight": _mm_surrogate,
    "sapo_weight_section_8_1": _sapo_section_surrogate,
    "sapo_weight": _sapo_surrogate,
    "sft_gradient_weight": _sft_surrogate,
    "sft_gradient_weight_seed_code": _sft_seed_code_surrogate,
    "gradient_weight_design_seed_code": _design_seed_code_surrogate,
}
