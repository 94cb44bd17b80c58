"""Oracles for ``reference/estimators.py``: every quantity from the plain probabilities and
weights (exp of the inputs, no max shift and no log-sum-exp: mpmath's exponent is unbounded),
normalised as an explicit quotient by the sum, with the conventions 0^0 = 1 and 0 * x = 0
branched on the definition."""

from __future__ import annotations

import mpmath

from isreshape.reference.golden import register_oracle

_GUARD = 15


def _probs(logits):
    e = [mpmath.exp(z) for z in logits]
    s = mpmath.fsum(e)
    return [x / s for x in e]


def _power(p, a):
    """p^a with 0^0 = 1 (the factor is absent when its exponent is 0)."""
    if a == 0:
        return mpmath.mpf(1)
    if p == 0:
        return mpmath.mpf(0)
    return mpmath.power(p, a)


def _effective_target_log_probs(logits_mu, logits_pi, log_r, gamma):
    with mpmath.extradps(_GUARD):
        mu, pi = _probs(logits_mu), _probs(logits_pi)
        u = [
            _power(m, 1 - gamma) * _power(p, gamma) * mpmath.exp(lr)
            for m, p, lr in zip(mu, pi, log_r)
        ]
        s = mpmath.fsum(u)
        return [mpmath.log(x / s) if x > 0 else mpmath.mpf("-inf") for x in u]


def _effective_target_weights(log_w, A, gamma, mask=None):
    keep = [True] * len(log_w) if mask is None else list(mask)
    with mpmath.extradps(_GUARD):
        v = [
            _power(mpmath.exp(lw), gamma) * a if k else mpmath.mpf(0)
            for lw, a, k in zip(log_w, A, keep)
        ]
        mean = mpmath.fsum(v) / sum(1 for k in keep if k)
        return [x / mean for x in v]


def _softmax_plain(x):
    e = [mpmath.exp(v) for v in x]
    s = mpmath.fsum(e)
    return [v / s for v in e]


def _trainer_weights(log_w, gamma):
    with mpmath.extradps(_GUARD):
        return _softmax_plain([gamma * lw for lw in log_w])


def _trainer_gradient_weights(log_w, A, gamma):
    with mpmath.extradps(_GUARD):
        return [s * a for s, a in zip(_softmax_plain([gamma * lw for lw in log_w]), A)]


def _trainer_loss(log_pi, log_mu, gamma, A):
    with mpmath.extradps(_GUARD):
        wts = _softmax_plain([gamma * (p - m) for p, m in zip(log_pi, log_mu)])
        return -mpmath.fsum(w * a * p for w, a, p in zip(wts, A, log_pi))


# ---------------------------------------------------------------- domains (from the docstrings)


def _no_nan_no_pinf(xs) -> bool:
    return all(not mpmath.isnan(x) and x != mpmath.inf for x in xs)


def _all_finite(xs) -> bool:
    return all(mpmath.isfinite(x) for x in xs)


def _d_effective_target_log_probs(logits_mu, logits_pi, log_r, gamma):
    """Equal lengths, no NaN / +inf, a finite entry in each of logits_mu / logits_pi, gamma in
    [0, 1], and some outcome with a nonzero product (else all outcomes are -inf)."""
    rows = (logits_mu, logits_pi, log_r)
    if len({len(r) for r in rows}) != 1 or not all(_no_nan_no_pinf(r) for r in rows):
        return False
    if not any(mpmath.isfinite(z) for z in logits_mu) or not any(
        mpmath.isfinite(z) for z in logits_pi
    ):
        return False
    if mpmath.isnan(gamma) or not 0 <= gamma <= 1:
        return False
    return any(
        (gamma == 1 or m > -mpmath.inf) and (gamma == 0 or p > -mpmath.inf) and r > -mpmath.inf
        for m, p, r in zip(logits_mu, logits_pi, log_r)
    )


def _d_effective_target_weights(log_w, A, gamma, mask=None):
    """log_w without NaN / +inf, A >= 0 finite, gamma in [0, 1], mask booleans of the same
    length, and a selected entry with w^gamma A > 0."""
    if len(A) != len(log_w) or not _no_nan_no_pinf(log_w):
        return False
    if not all(mpmath.isfinite(a) and a >= 0 for a in A):
        return False
    if mpmath.isnan(gamma) or not 0 <= gamma <= 1:
        return False
    keep = [True] * len(log_w) if mask is None else mask
    if len(keep) != len(log_w):
        return False
    return any(k and a > 0 and (gamma == 0 or lw > -mpmath.inf) for lw, a, k in zip(log_w, A, keep))


def _d_trainer_weights(log_w, gamma):
    return len(log_w) > 0 and _all_finite(log_w) and mpmath.isfinite(gamma)


def _d_trainer_gradient_weights(log_w, A, gamma):
    return len(A) == len(log_w) and _d_trainer_weights(log_w, gamma) and _all_finite(A)


def _d_trainer_loss(log_pi, log_mu, gamma, A):
    rows = (log_pi, log_mu, A)
    return (
        len({len(r) for r in rows}) == 1
        and len(log_pi) > 0
        and all(_all_finite(r) for r in rows)
        and mpmath.isfinite(gamma)
    )


_DOMAIN = {
    "effective_target_log_probs": _d_effective_target_log_probs,
    "effective_target_weights": _d_effective_target_weights,
    "trainer_weights_seed_code": _d_trainer_weights,
    "trainer_gradient_weights_seed_code": _d_trainer_gradient_weights,
    "trainer_loss_seed_code": _d_trainer_loss,
}


_WHY = "plain exps, sums and quotients at 15 guard digits: good to ~60 digits"

register_oracle(
    "estimators.effective_target_log_probs",
    "log of mu^(1 - gamma) pi^gamma r / sum(...) from the plain probabilities exp(z) / sum "
    "exp(z) (0^0 = 1 branched), not a log-softmax of the log-domain sum",
    _effective_target_log_probs,
    digits=35,
    why=_WHY,
    domain=_DOMAIN["effective_target_log_probs"],
)
register_oracle(
    "estimators.effective_target_weights",
    "exp(log_w)^gamma A / (sum over selected / n_selected), 0^0 = 1 (one-line definition)",
    _effective_target_weights,
    digits=35,
    why=_WHY,
    domain=_DOMAIN["effective_target_weights"],
)
register_oracle(
    "estimators.trainer_weights_seed_code",
    "softmax as exp(gamma log_w) / sum exp(gamma log_w), no max shift (one-line definition)",
    _trainer_weights,
    digits=35,
    why=_WHY,
    domain=_DOMAIN["trainer_weights_seed_code"],
)
register_oracle(
    "estimators.trainer_gradient_weights_seed_code",
    "exp(gamma log_w_i) / sum exp(gamma log_w) times A_i, no max shift (one-line definition)",
    _trainer_gradient_weights,
    digits=35,
    why=_WHY,
    domain=_DOMAIN["trainer_gradient_weights_seed_code"],
)
register_oracle(
    "estimators.trainer_loss_seed_code",
    "-sum of the plain-exp softmax weights times A log_pi (one-line definition)",
    _trainer_loss,
    digits=35,
    why=_WHY,
    domain=_DOMAIN["trainer_loss_seed_code"],
)
