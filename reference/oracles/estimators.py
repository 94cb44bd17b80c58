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


_WHY = "plain exps, sums and quotients at 15 guard digits: good to ~60 digits"

register_oracle(
    "estimators.effective_target_log_probs",
    "log of mu^(1 - gamma) pi^gamma r / sum(...) from the plain probabilities exp(z) / sum "
    "exp(z) (0^0 = 1 branched), not a log-softmax of the log-domain sum",
    _effective_target_log_probs,
    digits=35,
    why=_WHY,
)
register_oracle(
    "estimators.effective_target_weights",
    "exp(log_w)^gamma A / (sum over selected / n_selected), 0^0 = 1 (one-line definition)",
    _effective_target_weights,
    digits=35,
    why=_WHY,
)
register_oracle(
    "estimators.trainer_weights_seed_code",
    "softmax as exp(gamma log_w) / sum exp(gamma log_w), no max shift (one-line definition)",
    _trainer_weights,
    digits=35,
    why=_WHY,
)
register_oracle(
    "estimators.trainer_gradient_weights_seed_code",
    "exp(gamma log_w_i) / sum exp(gamma log_w) times A_i, no max shift (one-line definition)",
    _trainer_gradient_weights,
    digits=35,
    why=_WHY,
)
register_oracle(
    "estimators.trainer_loss_seed_code",
    "-sum of the plain-exp softmax weights times A log_pi (one-line definition)",
    _trainer_loss,
    digits=35,
    why=_WHY,
)
