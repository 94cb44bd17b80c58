"""Torch twins of ``reference.trust_region``: the soft trust region and adaptive SFT-RL weight of
seed 003 (IS Reshape v5).

Formulas (w = exp(log_w)):

* h(w) = sech^2(tau (w - 1) / 2), the RL weight w h(w), g_gamma(w) = (1 - gamma) + gamma w h(w)
* C = A log w, P_wrong = sigmoid(-C / tau_c),
  gamma(w, A) = gamma_base + (gamma_max - gamma_base) P_wrong
* g(w, A) = (1 - gamma(w, A)) + gamma(w, A) w h(w), phi(w, A) = A g(w, A)
* f_gamma(w) = (1 - gamma) log w + gamma (2 / tau) tanh(tau (w - 1) / 2)

Numerics (all branch-free, no host synchronisation in the math):

* sech^2(x) = 1 - tanh(x)^2 for |x| < 1/2 (at most 1) and 4 sigmoid(-2|x|) sigmoid(2|x|)
  beyond (exact in the tails).
* w - 1 is expm1(log_w) for log_w >= -1 and exp(log_w) - 1 below (both the value and the
  autograd derivative exp(log_w) stay accurate at log_w = -700). The switch is a
  ``torch.where`` on the input, so at log_w = -1 exactly the gradient is e^-1 whatever
  torch's clamp does at a bound (torch >= 2.14 gives 0 there).
* "Far" points, where tau |w - 1| > max(log_w, 0) + 800, have h = w h = 0 exactly in every
  floating dtype (the exact value is below exp(-798)); there the math is evaluated at the safe
  point log_w = 0 and replaced, so w = exp(log_w) never overflows into the result or into a
  gradient (float32 at log_w = 700 gives 0, not NaN).
* gamma and 1 - gamma are both formed as sums of non-negative terms,
  gamma = gamma_base sigmoid(-z) + gamma_max sigmoid(z), z = -C / tau_c, so 1 - gamma is
  accurate when gamma is close to 1.
* Accuracy limit: exp(-tau (w - 1)) turns the rounding of tau (w - 1) into a relative error of
  about tau |w - 1| eps (up to ~1400 eps in float64 where the result does not underflow).

Edges follow the reference: log_w = -inf / +inf are w = 0 / infinity (limit values), A = 0
gives C = 0 for every w, NaN inputs, infinite A and parameters outside their domain raise
``ValueError`` (tau, tau_h, tau_c > 0 finite; gamma, gamma_base, gamma_max in [0, 1]). tau must
be a normal number of the compute dtype (for float32, tau < 1e-35 together with w > 3e38 can
overflow an intermediate).

``SURROGATES`` maps each weight to the training objective that generates it (the surrogate
loss whose autograd gradient in log_w is -phi): -A f_gamma(w) for a fixed gamma (part 7), and
for the adaptive weight the same objective with gamma(w, A) held fixed per sample
(stop-gradient); without the stop-gradient the part 7 objective does not generate g(w, A)
(claim 003-7-e).
"""

from __future__ import annotations

import torch

from isreshape.torch_impl._ties import cap_below
from isreshape.torch_impl._twofold import sigmoid2, two_prod
from isreshape.torch_impl._validate import check_finite, check_not_nan, check_range, promote

_FAR_MARGIN = 800.0


# ---------------------------------------------------------------- checks


def _check_log_w(log_w) -> None:
    check_not_nan("log_w", log_w)


def _check_positive(name: str, x) -> None:
    check_finite(name, x)
    check_range(name, x, lo=0, lo_open=True)


def _check_unit(name: str, x) -> None:
    check_range(name, x, lo=0, hi=1)


# ---------------------------------------------------------------- numerical cores


def _wm1(log_w: torch.Tensor) -> torch.Tensor:
    """w - 1 with an accurate value and an accurate autograd derivative (= w).

    Each branch sees log_w itself where it is selected (log_w = -1 goes to expm1, with its
    gradient) and the finite constant -1 elsewhere, so neither clamp's tie gradient nor a
    non-finite discarded branch reaches the result."""
    low_side = log_w < -1
    minus_one = torch.full_like(log_w, -1.0)
    low = torch.exp(torch.where(low_side, log_w, minus_one)) - 1
    high = torch.expm1(torch.where(low_side, minus_one, log_w))
    return torch.where(low_side, low, high)


def _far_and_safe(log_w: torch.Tensor, tau: torch.Tensor):
    """(far mask, log_w with far points replaced by 0)."""
    lw = log_w.detach()
    t = tau.detach() * torch.abs(_wm1(lw))
    far = (t > torch.clamp(lw, min=0) + _FAR_MARGIN) | torch.isposinf(lw)
    safe = torch.where(far, torch.zeros_like(log_w), log_w)
    return far, safe


def _h_parts(log_w: torch.Tensor, tau: torch.Tensor):
    """(h, w h, far, x) with x = tau (w - 1) / 2 at the safe point."""
    far, safe = _far_and_safe(log_w, tau)
    x = tau * _wm1(safe) / 2
    s = 2 * torch.abs(x)
    # 1 - tanh^2 near w = 1 (never above 1, and the same formula autograd uses for the
    # surrogate's tanh), 4 sigmoid(-s) sigmoid(s) in the tails (no cancellation)
    small = s < 1
    t_small = torch.tanh(torch.where(small, x, torch.zeros_like(x)))
    s_big = torch.where(small, torch.ones_like(s), s)
    h_safe = torch.where(
        small, 1 - t_small * t_small, 4 * torch.sigmoid(-s_big) * torch.sigmoid(s_big)
    )
    zero = torch.zeros_like(h_safe)
    h = torch.where(far, zero, h_safe)
    wh = torch.where(far, zero, torch.exp(safe) * h_safe)
    return h, wh, far, x


def _tanh_accurate(x: torch.Tensor) -> torch.Tensor:
    """tanh(x) whose autograd derivative is accurate in the tails: tanh for |x| < 1/2 (where
    1 - tanh^2 >= 0.78), sign(x) (1 - 2 sigmoid(-2|x|)) outside (derivative
    4 sigmoid(-2|x|) sigmoid(2|x|) without cancellation)."""
    small = torch.abs(x) < 0.5
    x_small = torch.where(small, x, torch.zeros_like(x))
    x_big = torch.where(small, torch.ones_like(x), x)
    big = torch.sign(x_big) * (1 - 2 * torch.sigmoid(-2 * torch.abs(x_big)))
    return torch.where(small, torch.tanh(x_small), big)


def _tanh_term(log_w: torch.Tensor, tau: torch.Tensor) -> torch.Tensor:
    """(2 / tau) tanh(tau (w - 1) / 2); at far points its limit (2 / tau) sign(log_w)."""
    far, safe = _far_and_safe(log_w, tau)
    t = _tanh_accurate(tau * _wm1(safe) / 2)
    t = torch.where(far, torch.sign(log_w.detach()), t)
    return 2 * t / tau


def _objective(log_w, gamma, one_minus, tau) -> torch.Tensor:
    """(1 - gamma) log w + gamma (2 / tau) tanh(tau (w - 1) / 2); (1 - gamma) log w is 0 when
    1 - gamma = 0 (also at w = 0 and infinity)."""
    log_part = torch.where(one_minus == 0, torch.zeros_like(log_w), one_minus * log_w)
    return log_part + gamma * _tanh_term(log_w, tau)


def _correctness(log_w, A) -> torch.Tensor:
    return torch.where(A == 0, torch.zeros_like(log_w * A), A * log_w)


def _gamma_pair(log_w, A, gamma_base, gamma_max, tau_c):
    # z = -A log w / tau_c in two words: sigma turns the rounding of z into a relative error
    # of |z| eps / 2 (19 eps at z = -88, where the tolerance table allows 16). promote() has
    # made every argument float32 or float64, the dtypes two_prod splits
    c = _correctness(log_w, A)
    z = -c / tau_c
    _, e = two_prod(A, log_w)  # A log w = c + e exactly
    q, qe = two_prod(z, tau_c)  # z tau_c = q + qe; -c - q is exact (Sterbenz)
    lo = (((-c - q) - qe) - torch.where(A == 0, 0.0, e)) / tau_c
    lo = torch.where(torch.isfinite(z), lo, 0.0)
    s_pos, s_neg = sigmoid2(z, lo), sigmoid2(-z, -lo)
    gamma = gamma_base * s_neg + gamma_max * s_pos
    one_minus = (1 - gamma_base) * s_neg + (1 - gamma_max) * s_pos
    return gamma, one_minus


def _check_adaptive(log_w, A, gamma_base, gamma_max, tau_h, tau_c) -> None:
    _check_log_w(log_w)
    check_finite("A", A)
    _check_unit("gamma_base", gamma_base)
    _check_unit("gamma_max", gamma_max)
    if tau_h is not None:
        _check_positive("tau_h", tau_h)
    _check_positive("tau_c", tau_c)


# ---------------------------------------------------------------- section 3


def trust_region_h(log_w, tau) -> torch.Tensor:
    """h(w) = sech^2(tau (w - 1) / 2) (seed 003 section 3.1). log_w = -inf gives
    sech^2(tau / 2), +inf gives 0."""
    _check_log_w(log_w)
    _check_positive("tau", tau)
    (log_w, tau), out_dtype = promote(log_w, tau)
    return _h_parts(log_w, tau)[0].to(out_dtype)


def trust_region_weight(log_w, tau) -> torch.Tensor:
    """w h(w) = w sech^2(tau (w - 1) / 2) (seed 003 section 3.2); 0 at w = 0 and w = inf."""
    _check_log_w(log_w)
    _check_positive("tau", tau)
    (log_w, tau), out_dtype = promote(log_w, tau)
    return _h_parts(log_w, tau)[1].to(out_dtype)


def g_gamma(log_w, gamma, tau) -> torch.Tensor:
    """g_gamma(w) = (1 - gamma) + gamma w h(w) (seed 003 section 3.3)."""
    _check_log_w(log_w)
    _check_unit("gamma", gamma)
    _check_positive("tau", tau)
    (log_w, gamma, tau), out_dtype = promote(log_w, gamma, tau)
    return ((1 - gamma) + gamma * _h_parts(log_w, tau)[1]).to(out_dtype)


def phi_gamma(log_w, A, gamma, tau) -> torch.Tensor:
    """phi(w, A) = A ((1 - gamma) + gamma w h(w)) with a fixed gamma (sections 3.3, 7)."""
    _check_log_w(log_w)
    check_finite("A", A)
    _check_unit("gamma", gamma)
    _check_positive("tau", tau)
    (log_w, A, gamma, tau), out_dtype = promote(log_w, A, gamma, tau)
    return (A * ((1 - gamma) + gamma * _h_parts(log_w, tau)[1])).to(out_dtype)


# ---------------------------------------------------------------- section 4


def correctness(log_w, A) -> torch.Tensor:
    """C(w, A) = A log w (seed 003 section 4.2); 0 whenever A == 0 (also at w = 0, inf)."""
    _check_log_w(log_w)
    check_finite("A", A)
    (log_w, A), out_dtype = promote(log_w, A)
    return _correctness(log_w, A).to(out_dtype)


def p_wrong(log_w, A, tau_c) -> torch.Tensor:
    """P_wrong = sigmoid(-A log w / tau_c) (seed 003 section 4.3)."""
    _check_log_w(log_w)
    check_finite("A", A)
    _check_positive("tau_c", tau_c)
    (log_w, A, tau_c), out_dtype = promote(log_w, A, tau_c)
    # sigmoid(-z) ~ e^-z turns the rounding of z = A log w / tau_c into |z| eps: z in two words
    # (two_prod for A log w, the division's remainder from two_prod), then sigma(hi + lo)
    log_w, A, tau_c = torch.broadcast_tensors(log_w, A, tau_c)
    c = _correctness(log_w, A)
    p, pe = two_prod(A, log_w)
    pe = torch.where(A == 0, torch.zeros_like(pe), pe)
    hi = c / tau_c
    ok = torch.isfinite(hi)
    hi0 = torch.where(ok, hi, torch.zeros_like(hi))
    q, qe = two_prod(hi0, tau_c)
    lo = torch.where(ok, ((torch.where(ok, c, 0.0) - q) - qe + pe) / tau_c, torch.zeros_like(hi))
    return torch.where(ok, sigmoid2(-hi0, -lo), torch.sigmoid(-hi)).to(out_dtype)


def gamma_adaptive(log_w, A, gamma_base, gamma_max, tau_c) -> torch.Tensor:
    """gamma(w, A) = gamma_base + (gamma_max - gamma_base) sigmoid(-A log w / tau_c)
    (seed 003 sections 4.3, 9.1), formed as gamma_base sigmoid(-z) + gamma_max sigmoid(z)."""
    _check_adaptive(log_w, A, gamma_base, gamma_max, None, tau_c)
    (log_w, A, gamma_base, gamma_max, tau_c), out_dtype = promote(
        log_w, A, gamma_base, gamma_max, tau_c
    )
    return _gamma_pair(log_w, A, gamma_base, gamma_max, tau_c)[0].to(out_dtype)


def _g_adaptive(log_w, A, gamma_base, gamma_max, tau_h, tau_c) -> torch.Tensor:
    gamma, one_minus = _gamma_pair(log_w, A, gamma_base, gamma_max, tau_c)
    return one_minus + gamma * _h_parts(log_w, tau_h)[1]


def g_adaptive(log_w, A, gamma_base, gamma_max, tau_h, tau_c) -> torch.Tensor:
    """g(w, A) = (1 - gamma(w, A)) + gamma(w, A) w sech^2(tau_h (w - 1) / 2) (4.4, 9.1)."""
    _check_adaptive(log_w, A, gamma_base, gamma_max, tau_h, tau_c)
    args, out_dtype = promote(log_w, A, gamma_base, gamma_max, tau_h, tau_c)
    return _g_adaptive(*args).to(out_dtype)


def phi_adaptive(log_w, A, gamma_base, gamma_max, tau_h, tau_c) -> torch.Tensor:
    """phi(w, A) = A g(w, A), the full v5 gradient weight in phi form (4.4, 9.1)."""
    _check_adaptive(log_w, A, gamma_base, gamma_max, tau_h, tau_c)
    args, out_dtype = promote(log_w, A, gamma_base, gamma_max, tau_h, tau_c)
    return (args[1] * _g_adaptive(*args)).to(out_dtype)


def g_adaptive_max_section_5_4(log_w, A, gamma_base, gamma_max, tau_h, tau_c) -> torch.Tensor:
    """Section 5.4's alternative: max(g(w, A), 1) where C = A log w < 0, else g(w, A).
    Tie g == 1: g itself (value 1, gradient that of g)."""
    _check_adaptive(log_w, A, gamma_base, gamma_max, tau_h, tau_c)
    args, out_dtype = promote(log_w, A, gamma_base, gamma_max, tau_h, tau_c)
    g = _g_adaptive(*args)
    wrong = _correctness(args[0], args[1]) < 0
    return torch.where(wrong, cap_below(g, 1.0), g).to(out_dtype)


# ---------------------------------------------------------------- part 7


def f_gamma(log_w, gamma, tau) -> torch.Tensor:
    """f_gamma(w) = (1 - gamma) log w + gamma (2 / tau) tanh(tau (w - 1) / 2) (part 7).
    d f_gamma / d log w = g_gamma(w). Edges: w = 0 / inf give -inf / +inf (gamma < 1), or
    (2 / tau) tanh(-tau / 2) / (2 / tau) (gamma = 1)."""
    _check_log_w(log_w)
    _check_unit("gamma", gamma)
    _check_positive("tau", tau)
    (log_w, gamma, tau), out_dtype = promote(log_w, gamma, tau)
    return _objective(log_w, gamma, 1 - gamma, tau).to(out_dtype)


def f_gamma_adaptive_section_7(log_w, A, gamma_base, gamma_max, tau_h, tau_c) -> torch.Tensor:
    """Seed-as-written: the part 7 objective with gamma = gamma(w, A) plugged in. Its log-w
    derivative is not g(w, A) (claim 003-7-e)."""
    _check_adaptive(log_w, A, gamma_base, gamma_max, tau_h, tau_c)
    (log_w, A, gamma_base, gamma_max, tau_h, tau_c), out_dtype = promote(
        log_w, A, gamma_base, gamma_max, tau_h, tau_c
    )
    gamma, one_minus = _gamma_pair(log_w, A, gamma_base, gamma_max, tau_c)
    return _objective(log_w, gamma, one_minus, tau_h).to(out_dtype)


# ---------------------------------------------------------------- surrogate losses


def surrogate_trust_region_weight(log_w, tau) -> torch.Tensor:
    """-(2 / tau) tanh(tau (w - 1) / 2): the SAPO-form objective (up to a constant), whose
    log-w gradient is -w h(w)."""
    (log_w, tau), _ = promote(log_w, tau)
    return -_tanh_term(log_w, tau)


def surrogate_g_gamma(log_w, gamma, tau) -> torch.Tensor:
    """-f_gamma(w) (part 7 with fixed gamma); gradient -g_gamma(w)."""
    (log_w, gamma, tau), _ = promote(log_w, gamma, tau)
    return -_objective(log_w, gamma, 1 - gamma, tau)


def surrogate_phi_gamma(log_w, A, gamma, tau) -> torch.Tensor:
    """-A f_gamma(w); gradient -A g_gamma(w)."""
    (log_w, A, gamma, tau), _ = promote(log_w, A, gamma, tau)
    return -A * _objective(log_w, gamma, 1 - gamma, tau)


def _adaptive_objective_sg(log_w, A, gamma_base, gamma_max, tau_h, tau_c) -> torch.Tensor:
    gamma, one_minus = _gamma_pair(log_w.detach(), A, gamma_base, gamma_max, tau_c)
    return _objective(log_w, gamma.detach(), one_minus.detach(), tau_h)


def surrogate_g_adaptive(log_w, A, gamma_base, gamma_max, tau_h, tau_c) -> torch.Tensor:
    """-f_gamma(w) with gamma = stopgrad(gamma(w, A)); gradient -g(w, A)."""
    args, _ = promote(log_w, A, gamma_base, gamma_max, tau_h, tau_c)
    return -_adaptive_objective_sg(*args)


def surrogate_phi_adaptive(log_w, A, gamma_base, gamma_max, tau_h, tau_c) -> torch.Tensor:
    """-A f_gamma(w) with gamma = stopgrad(gamma(w, A)); gradient -A g(w, A) = -phi."""
    args, _ = promote(log_w, A, gamma_base, gamma_max, tau_h, tau_c)
    return -args[1] * _adaptive_objective_sg(*args)


SURROGATES = {
    "trust_region_weight": surrogate_trust_region_weight,
    "g_gamma": surrogate_g_gamma,
    "phi_gamma": surrogate_phi_gamma,
    "g_adaptive": surrogate_g_adaptive,
    "phi_adaptive": surrogate_phi_adaptive,
}
