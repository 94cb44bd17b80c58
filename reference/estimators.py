"""Gradient estimators of seed 001: the effective target of Theorem 4.2 and the
self-normalised weights that the seed's ``ISReshapeTrainer`` (section 12.1) actually uses.

Definition 4.1 weights each sample by w^gamma r (``power_weight`` in ``reference.weights``);
Theorem 4.2 normalises them, w_bar = w^gamma r / E_mu[w^gamma r], and reads mu * w_bar as a
distribution pi_eff proportional to mu^(1 - gamma) pi^gamma r. The trainer instead weights by
softmax(gamma log w) over the batch, i.e. it divides by the batch sum of w^gamma.
"""

from __future__ import annotations

import mpmath

from isreshape.reference._checks import as_mask, as_mp_list, require_finite, require_range
from isreshape.reference.golden import case, register_golden


def _logsumexp(values):
    vals = [v for v in values if not (mpmath.isinf(v) and v < 0)]
    if not vals:
        return mpmath.ninf
    top = max(vals)
    return top + mpmath.log(mpmath.fsum(mpmath.exp(v - top) for v in vals))


def effective_target_weights(log_w, A, gamma, mask=None):
    """Sample version of Theorem 4.2's normalised weights: w_bar_i = w_i^gamma A_i /
    mean_j(w_j^gamma A_j), the mean over the selected entries (so the selected w_bar average 1;
    mu-sample average of w_bar estimates E_mu[w_bar] = 1 and w_bar / n is the weight of sample i
    under pi_eff ~ mu^(1 - gamma) pi^gamma r).

    Seed 001 Theorem 4.2 (r = A, the reward, must be >= 0 as in Theorem 2.1's r > 0).
    Domain: log_w without NaN or +inf; A >= 0 finite; gamma in [0, 1]; mask booleans.
    Edges: w^0 = 1 also at log_w = -inf (gamma = 0 is SFT); unselected entries get 0; entries
    with A = 0 or w^gamma = 0 get 0; no selected entry with positive w^gamma A raises
    ``ValueError`` (E_mu[w^gamma r] = 0, pi_eff undefined).
    """
    lw = as_mp_list("log_w", log_w)
    a = as_mp_list("A", A)
    if len(a) != len(lw):
        raise ValueError(f"A has length {len(a)}, expected {len(lw)} (log_w)")
    gamma = require_range("gamma", require_finite("gamma", gamma), lo=0, hi=1)
    keep = as_mask("mask", mask, len(lw))
    logs = []
    for i, (l, r, k) in enumerate(zip(lw, a, keep)):
        if mpmath.isinf(l) and l > 0:
            raise ValueError(f"log_w[{i}] is +inf")
        if not mpmath.isfinite(r) or r < 0:
            raise ValueError(f"A[{i}] must be finite and >= 0 (a reward, Theorem 4.2), got {r}")
        if not k or r == 0:
            logs.append(mpmath.ninf)
            continue
        gl = mpmath.mpf(0) if gamma == 0 else gamma * l
        logs.append(gl + mpmath.log(r))
    n_sel = sum(keep)
    lse = _logsumexp(logs)
    if n_sel == 0 or mpmath.isinf(lse):
        raise ValueError("no selected entry has w^gamma A > 0: E_mu[w^gamma r] is 0")
    return [mpmath.mpf(0) if mpmath.isinf(v) else n_sel * mpmath.exp(v - lse) for v in logs]


def effective_target_log_probs(logits_mu, logits_pi, log_r, gamma):
    """log pi_eff for discrete distributions: pi_eff ~ mu^(1 - gamma) pi^gamma r (Theorem 4.2),
    normalised (log-softmax of (1 - gamma) log mu + gamma log pi + log r).

    Domain: equal-length vectors without NaN or +inf, each of logits_mu / logits_pi with a
    finite entry; log_r = log r (r >= 0; -inf for r = 0); gamma in [0, 1].
    Edges: 0 * (-inf) = 0, i.e. mu^0 = 1 at gamma = 1 and pi^0 = 1 at gamma = 0; an outcome with
    zero probability in any factor it depends on gets -inf; all outcomes -inf raises.
    gamma = 0 gives the reward-tilted mu of Theorem 2.1, gamma = 1 gives pi r / E_pi[r].
    """
    gamma = require_range("gamma", require_finite("gamma", gamma), lo=0, hi=1)
    lm = as_mp_list("logits_mu", logits_mu)
    lp = as_mp_list("logits_pi", logits_pi)
    lr = as_mp_list("log_r", log_r)
    if not (len(lm) == len(lp) == len(lr)):
        raise ValueError(
            f"logits_mu, logits_pi, log_r lengths differ: {len(lm)}, {len(lp)}, {len(lr)}"
        )
    for name, vec in (("logits_mu", lm), ("logits_pi", lp), ("log_r", lr)):
        for i, v in enumerate(vec):
            if mpmath.isinf(v) and v > 0:
                raise ValueError(f"{name}[{i}] is +inf")
    for name, vec in (("logits_mu", lm), ("logits_pi", lp)):
        if all(mpmath.isinf(v) for v in vec):
            raise ValueError(f"{name} has no finite entry (no probability mass)")
    zm, zp = _logsumexp(lm), _logsumexp(lp)
    out = []
    for m, p, r in zip(lm, lp, lr):
        a = mpmath.mpf(0) if gamma == 1 else (1 - gamma) * (m - zm)
        b = mpmath.mpf(0) if gamma == 0 else gamma * (p - zp)
        out.append(a + b + r)
    z = _logsumexp(out)
    if mpmath.isinf(z):
        raise ValueError("pi_eff has no mass: mu^(1 - gamma) pi^gamma r is 0 everywhere")
    return [v - z for v in out]


def trainer_weights_seed_code(log_w, gamma):
    """Seed 001 section 12.1 as written: ``weights = torch.softmax(gamma * log_w, dim=0)``,
    i.e. w_i^gamma / sum_j w_j^gamma over the batch (self-normalised; they sum to 1, not to n).

    Domain: log_w finite (the seed's code turns 0 * -inf into NaN), gamma finite.
    """
    lw = as_mp_list("log_w", log_w)
    for i, v in enumerate(lw):
        if not mpmath.isfinite(v):
            raise ValueError(f"log_w[{i}] must be finite, got {v}")
    if not lw:
        raise ValueError("log_w is empty")
    gamma = require_finite("gamma", gamma)
    logs = [gamma * v for v in lw]
    lse = _logsumexp(logs)
    return [mpmath.exp(v - lse) for v in logs]


def trainer_gradient_weights_seed_code(log_w, A, gamma):
    """The per-sample weight on grad log pi_theta(y_i) in the seed's trainer loss
    -sum_i softmax(gamma log_w)_i A_i log pi_i (weights detached): softmax(gamma log_w)_i A_i.

    Definition 4.1's sample gradient weights sample i by w_i^gamma A_i / n instead; the ratio is
    the batch-dependent n / sum_j w_j^gamma (claim 001-12.1-a). Domain: log_w, A finite
    (rewards=None in the seed is A = 1), gamma finite.
    """
    a = as_mp_list("A", A)
    for i, v in enumerate(a):
        if not mpmath.isfinite(v):
            raise ValueError(f"A[{i}] must be finite, got {v}")
    w = trainer_weights_seed_code(log_w, gamma)
    if len(a) != len(w):
        raise ValueError(f"A has length {len(a)}, expected {len(w)} (log_w)")
    return [x * y for x, y in zip(w, a)]


def trainer_loss_seed_code(log_pi, log_mu, gamma, A):
    """Seed 001 section 12.1 loss as written: -sum_i softmax(gamma (log_pi - log_mu))_i A_i
    log_pi_i (the weights are computed from detached log-probabilities).

    Domain: log_pi, log_mu, A finite and of equal length; gamma finite.
    """
    lp = as_mp_list("log_pi", log_pi)
    lm = as_mp_list("log_mu", log_mu)
    if len(lp) != len(lm):
        raise ValueError(f"log_mu has length {len(lm)}, expected {len(lp)} (log_pi)")
    for name, vec in (("log_pi", lp), ("log_mu", lm)):
        for i, v in enumerate(vec):
            if not mpmath.isfinite(v):
                raise ValueError(f"{name}[{i}] must be finite, got {v}")
    phi = trainer_gradient_weights_seed_code([p - m for p, m in zip(lp, lm)], A, gamma)
    return -mpmath.fsum(f * p for f, p in zip(phi, lp))


# ---------------------------------------------------------------- fixtures


def _weight_cases(with_mask=True):
    import numpy as np

    rng = np.random.default_rng(4002)
    ninf = float("-inf")
    cs = []
    for s2 in (0.25, 1.0, 4.0):
        lw = rng.normal(-s2 / 2, np.sqrt(s2), size=16)
        r = rng.uniform(0.1, 2.0, size=16)
        for g in (0.0, 0.3, 0.5, 1.0):
            cs.append(
                case(
                    f"seeded log-normal s2={s2} n=16 gamma={g}",
                    log_w=[float(x) for x in lw],
                    A=[float(x) for x in r],
                    gamma=g,
                )
            )
    cs += [
        case("equal weights, unit rewards", log_w=[0.0, 0.0, 0.0], A=[1.0, 1.0, 1.0], gamma=0.5),
        case("extreme: log_w +-700", log_w=[700.0, -700.0, 0.0], A=[1.0, 2.0, 3.0], gamma=1.0),
        case("extreme: log_w +-700, gamma 0.5", log_w=[700.0, -700.0], A=[1.0, 1.0], gamma=0.5),
        case("a zero reward", log_w=[0.0, 1.0, 2.0], A=[1.0, 0.0, 1.0], gamma=0.5),
        case("log_w = -inf, gamma = 0 (w^0 = 1)", log_w=[ninf, 0.0], A=[1.0, 1.0], gamma=0.0),
        case("log_w = -inf, gamma > 0 (weight 0)", log_w=[ninf, 0.0], A=[1.0, 1.0], gamma=0.5),
        case("edge: negative reward", log_w=[0.0, 1.0], A=[1.0, -1.0], gamma=0.5),
        case("edge: all rewards zero", log_w=[0.0, 1.0], A=[0.0, 0.0], gamma=0.5),
        case("edge: gamma > 1", log_w=[0.0, 1.0], A=[1.0, 1.0], gamma=1.5),
        case("edge: log_w +inf", log_w=[0.0, float("inf")], A=[1.0, 1.0], gamma=0.5),
        case("edge: log_w NaN", log_w=[0.0, float("nan")], A=[1.0, 1.0], gamma=0.5),
    ]
    if with_mask:
        cs += [
            case(
                "mask drops one",
                log_w=[0.0, 5.0, 1.0],
                A=[1.0, 1.0, 2.0],
                gamma=0.5,
                mask=[True, False, True],
            ),
            case(
                "edge: empty mask", log_w=[0.0, 1.0], A=[1.0, 1.0], gamma=0.5, mask=[False, False]
            ),
        ]
    return cs


def _target_cases():
    import numpy as np

    rng = np.random.default_rng(4021)
    ninf = float("-inf")
    cs = []
    for k in (3, 8):
        m = rng.normal(0, 1, size=k)
        p = rng.normal(0, 1, size=k)
        r = np.log(rng.uniform(0.1, 3.0, size=k))
        for g in (0.0, 0.25, 0.5, 0.75, 1.0):
            cs.append(
                case(
                    f"seeded k={k} gamma={g}",
                    logits_mu=[float(x) for x in m],
                    logits_pi=[float(x) for x in p],
                    log_r=[float(x) for x in r],
                    gamma=g,
                )
            )
    cs += [
        case(
            "r = 1, gamma = 0 gives mu",
            logits_mu=[0.0, 1.0, 2.0],
            logits_pi=[2.0, 0.0, 0.0],
            log_r=[0.0, 0.0, 0.0],
            gamma=0.0,
        ),
        case(
            "masked in pi, gamma = 0 (pi^0 = 1)",
            logits_mu=[0.0, 1.0],
            logits_pi=[ninf, 0.0],
            log_r=[0.0, 0.0],
            gamma=0.0,
        ),
        case(
            "masked in pi, gamma = 0.5",
            logits_mu=[0.0, 1.0],
            logits_pi=[ninf, 0.0],
            log_r=[0.0, 0.0],
            gamma=0.5,
        ),
        case(
            "masked in mu, gamma = 1 (mu^0 = 1)",
            logits_mu=[ninf, 1.0],
            logits_pi=[0.0, 0.0],
            log_r=[0.0, 0.0],
            gamma=1.0,
        ),
        case(
            "zero reward",
            logits_mu=[0.0, 1.0, 0.0],
            logits_pi=[0.0, 0.0, 1.0],
            log_r=[ninf, 0.0, 0.5],
            gamma=0.5,
        ),
        case(
            "extreme: logits +-700",
            logits_mu=[700.0, -700.0, 0.0],
            logits_pi=[-700.0, 700.0, 0.0],
            log_r=[0.0, 0.0, 0.0],
            gamma=0.5,
        ),
        case(
            "edge: gamma < 0",
            logits_mu=[0.0, 1.0],
            logits_pi=[0.0, 0.0],
            log_r=[0.0, 0.0],
            gamma=-0.1,
        ),
        case(
            "edge: no mass",
            logits_mu=[ninf, 0.0],
            logits_pi=[0.0, ninf],
            log_r=[0.0, 0.0],
            gamma=0.5,
        ),
        case(
            "edge: +inf log_r",
            logits_mu=[0.0, 0.0],
            logits_pi=[0.0, 0.0],
            log_r=[float("inf"), 0.0],
            gamma=0.5,
        ),
        case(
            "edge: NaN logit",
            logits_mu=[0.0, float("nan")],
            logits_pi=[0.0, 0.0],
            log_r=[0.0, 0.0],
            gamma=0.5,
        ),
    ]
    return cs


def _trainer_weight_cases():
    out = []
    for c in _weight_cases(with_mask=False):
        inputs = dict(c.inputs)
        inputs.pop("A")
        out.append(case(c.note.replace(", unit rewards", ""), **inputs))
    out.append(case("negative gamma", log_w=[0.0, 1.0, 2.0], gamma=-0.5))
    out.append(case("edge: empty batch", log_w=[], gamma=0.5))
    return [c for c in out if "reward" not in c.note]


def _trainer_phi_cases():
    cs = [c for c in _weight_cases(with_mask=False) if "reward" not in c.note]
    cs.append(case("signed advantages", log_w=[0.0, 1.0, -1.0], A=[1.0, -2.0, 0.5], gamma=0.5))
    return cs


def _trainer_loss_cases():
    import numpy as np

    rng = np.random.default_rng(4012)
    cs = []
    for g in (0.0, 0.5, 1.0):
        lp = rng.normal(-5.0, 1.0, size=12)
        lm = lp - rng.normal(-0.5, 1.0, size=12)
        a = rng.normal(0.0, 1.0, size=12)
        cs.append(
            case(
                f"seeded n=12 gamma={g}",
                log_pi=[float(x) for x in lp],
                log_mu=[float(x) for x in lm],
                gamma=g,
                A=[float(x) for x in a],
            )
        )
    cs += [
        case(
            "rewards None (A = 1)",
            log_pi=[-1.0, -2.0],
            log_mu=[-1.5, -1.0],
            gamma=0.5,
            A=[1.0, 1.0],
        ),
        case(
            "extreme: log ratio 700",
            log_pi=[-1.0, -701.0],
            log_mu=[-701.0, -1.0],
            gamma=1.0,
            A=[1.0, 1.0],
        ),
        case(
            "edge: log_pi -inf",
            log_pi=[float("-inf"), -1.0],
            log_mu=[-1.0, -1.0],
            gamma=0.5,
            A=[1.0, 1.0],
        ),
    ]
    return cs


register_golden(effective_target_weights, _weight_cases, tensor_args=("log_w", "A", "gamma"))
register_golden(
    effective_target_log_probs,
    _target_cases,
    tensor_args=("logits_mu", "logits_pi", "log_r", "gamma"),
)
register_golden(trainer_weights_seed_code, _trainer_weight_cases, tensor_args=("log_w", "gamma"))
register_golden(
    trainer_gradient_weights_seed_code, _trainer_phi_cases, tensor_args=("log_w", "A", "gamma")
)
register_golden(
    trainer_loss_seed_code, _trainer_loss_cases, tensor_args=("log_pi", "log_mu", "gamma", "A")
)
