"""The exact laboratory's token MDP (issue 12): token- and sequence-level gradient-weight designs
compared on one multi-step problem, every expectation a finite sum over all V^T sequences at the
working precision.

Instance (:class:`MDPInstance`): an autoregressive policy over T steps and a vocabulary of V
tokens, pi_theta(y_t | y_<t) = softmax(z_theta[t, prev])[y_t], where ``prev`` is y_{t-1} (for
t = 0 the start symbol, a single row), and the behaviour policy mu likewise with the table
z_mu. A terminal reward R(y) for every sequence y = (y_1 .. y_T), and the sequence advantage
A(y) = R(y) - E_{pi_theta}[R], shared by all tokens of y.

The parameter is the full logit table of pi_theta, flattened row by row: row 0 is
(t = 0, start), row 1 + (t - 1) V + prev is (t, prev) for t >= 1; D = (1 + (T - 1) V) V
coordinates. The token score grad_t = grad log pi_theta(y_t | y_<t) is e_{y_t} - pi_theta(. | row)
in the block of row (t, y_{t-1}) and 0 elsewhere; grad log pi_theta(y) = sum_t grad_t. One
sequence y ~ mu gives

    g_hat(y) = sum_t phi_t(y) grad_t,    log w_t = log pi_theta(y_t | .) - log mu(y_t | .),

where a token-level design sets phi_t = phi(log w_t, A(y)) and a sequence-level design gets
the list (log w_1 .. log w_T) and A(y) and returns phi_1 .. phi_T. The target is the policy
gradient g = sum_y pi_theta(y) A(y) grad log pi_theta(y), and for a design:

    bias     = || E_mu[g_hat] - g ||                      (Euclidean, over the D coordinates)
    variance = E_mu || g_hat - E_mu[g_hat] ||^2           (trace of one draw's covariance)
    mse(n)   = bias^2 + variance / n                      (the mean of n independent sequences)
    ess      = 1 / E_mu[W^2],  W = prod_t w_t = pi_theta(y) / mu(y)   (Kish ESS per sequence)

Plain sequence importance sampling (phi_t = W A for every t) is unbiased:
E_mu[W A grad log pi] = E_pi[A grad log pi] = g. Plain token IS (phi_t = w_t A) is biased for
T > 1 in general: w_t corrects step t's token but neither the prefix y_<t (drawn from mu) nor
the future tokens that A depends on.

``token_mdp`` is the canonical instance; its numbers are written out literally below so that
results can be compared across versions and with other implementations.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import mpmath

from isreshape.reference import peers, weights
from isreshape.reference._checks import as_mask, as_mp_list, require_finite

__all__ = [
    "DESIGNS",
    "INSTANCES",
    "MDPInstance",
    "mdp_design_moments",
    "mdp_lab_table",
    "token_mdp",
]

NO_GOLDEN = {
    "token_mdp": "a fixed problem instance (numbers written out in the source), not a formula; "
    "its moments are checked against an independent torch enumeration in tests/test_lab_mdp.py",
    "mdp_design_moments": "exact bias / variance of a design on a token MDP; "
    "tests/test_lab_mdp.py checks it against an independent torch float64 enumeration "
    "(autograd scores, the torch twins of the designs) to 1e-12",
    "mdp_lab_table": "mdp_design_moments for every design of DESIGNS (the `isreshape lab "
    "--instance token_mdp` table)",
}

Table = tuple[tuple[tuple[float, ...], ...], ...]


def _is_finite_number(v: Any) -> bool:
    """A finite number that mpmath takes exactly: int, float (NumPy float64 included) or mpf;
    not a bool, a string, None or another NumPy scalar."""
    if isinstance(v, bool) or not isinstance(v, (int, float, mpmath.mpf)):
        return False
    return bool(mpmath.isfinite(mpmath.mpf(v)))


def _check_table(name: str, table: Any, T: int, V: int) -> None:
    if not isinstance(table, tuple) or len(table) != T:
        raise ValueError(f"{name} must be a tuple of T = {T} steps, got {table!r}")
    for t, rows in enumerate(table):
        n_rows = 1 if t == 0 else V
        if not isinstance(rows, tuple) or len(rows) != n_rows:
            raise ValueError(
                f"{name}[{t}] must hold {n_rows} rows (step 0: the start row; later steps: one "
                f"per previous token), got {rows!r}"
            )
        for p, row in enumerate(rows):
            if not isinstance(row, tuple) or len(row) != V:
                raise ValueError(f"{name}[{t}][{p}] must hold V = {V} logits, got {row!r}")
            for v in row:
                if not _is_finite_number(v):
                    raise ValueError(f"{name}[{t}][{p}] must be finite numbers, got {row!r}")


@dataclass(frozen=True)
class MDPInstance:
    """A token MDP: horizon T >= 1, vocabulary V >= 2, the logit tables of pi_theta and mu and
    the terminal reward of every sequence.

    ``logits_theta`` / ``logits_mu``: tuples of T steps; step 0 holds one row (the start
    symbol), step t >= 1 holds V rows indexed by the previous token; each row V finite logits.
    ``rewards``: V^T finite values, sequence y at index sum_t y_t V^(T-1-t) (y_1 most
    significant, the order of ``itertools.product(range(V), repeat=T)``). Anything else:
    ``ValueError`` naming the field and the value.
    """

    name: str
    T: int
    V: int
    logits_theta: Table
    logits_mu: Table
    rewards: tuple[float, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.T, int) or isinstance(self.T, bool) or self.T < 1:
            raise ValueError(f"T must be an integer >= 1, got {self.T!r}")
        if not isinstance(self.V, int) or isinstance(self.V, bool) or self.V < 2:
            raise ValueError(f"V must be an integer >= 2, got {self.V!r}")
        _check_table("logits_theta", self.logits_theta, self.T, self.V)
        _check_table("logits_mu", self.logits_mu, self.T, self.V)
        if not isinstance(self.rewards, tuple) or len(self.rewards) != self.V**self.T:
            raise ValueError(
                f"rewards must be a tuple of V^T = {self.V**self.T} values, got {self.rewards!r}"
            )
        if not all(_is_finite_number(v) for v in self.rewards):
            raise ValueError(f"rewards must be finite numbers, got {self.rewards!r}")


#: token_mdp's reward: the target token whose occurrences count, and the end-token bonus
TARGET_TOKEN = 0
END_TOKEN = 3
END_BONUS = 0.25


def token_mdp() -> MDPInstance:
    """T = 3, V = 4: the canonical token MDP (64 sequences).

    Logits (one decimal, drawn once from N(0, 1) for theta and theta + N(0, 0.6) for mu, then
    written out): the per-token log-ratios log w lie in [-0.714, 1.269] (w in [0.490, 3.558]),
    the sequence ratio W = pi_theta(y) / mu(y) in [0.239, 14.91], GSPO's geometric mean s in
    [0.621, 2.461]. Reward, a verifiable rule plus a small term:

        R(y) = #{t : y_t = 0} + 0.25 [y_T = 3]

    (count of the target token 0, a bonus for ending on token 3); exact in binary.
    """
    T, V = 3, 4
    theta: Table = (
        ((0.0, 1.0, 0.7, 0.7),),
        (
            (1.6, -1.2, -0.6, -1.3),
            (-0.1, 1.0, 0.0, 0.5),
            (-1.9, 0.1, -0.9, 1.8),
            (0.9, 0.9, -0.1, 0.6),
        ),
        (
            (0.7, -0.3, -0.5, -0.1),
            (-0.6, -0.6, -0.3, -0.7),
            (0.8, -1.6, 0.8, -0.6),
            (-0.5, -1.4, -0.1, -0.2),
        ),
    )
    mu: Table = (
        ((0.1, 0.7, 0.8, 1.8),),
        (
            (1.8, -1.5, 0.0, -1.4),
            (0.3, 1.4, -0.2, -0.7),
            (-2.1, 0.4, -1.1, 2.1),
            (1.5, 0.6, 0.6, 1.6),
        ),
        (
            (1.3, 0.4, 0.2, 1.3),
            (-0.5, -0.6, 0.1, -1.2),
            (-0.1, -2.1, 1.0, -0.3),
            (-1.4, -2.5, -0.3, -0.3),
        ),
    )
    rewards = tuple(
        float(sum(1 for tok in y if tok == TARGET_TOKEN) + (END_BONUS if y[-1] == END_TOKEN else 0))
        for y in itertools.product(range(V), repeat=T)
    )
    return MDPInstance("token_mdp", T, V, theta, mu, rewards)


INSTANCES: dict[str, Callable[[], MDPInstance]] = {"token_mdp": token_mdp}


def _is_sequence(log_w: Sequence[Any], A: Any, mask: Sequence[Any] | None = None) -> list:
    """Plain sequence IS: phi_t = W A for every selected token, W = exp(sum of selected log_w);
    masked-out tokens 0. Selected log_w finite, A finite (``ValueError`` otherwise)."""
    lw = as_mp_list("log_w", log_w)
    keep = as_mask("mask", mask, len(lw))
    for i, (v, k) in enumerate(zip(lw, keep)):
        if k and not mpmath.isfinite(v):
            raise ValueError(f"log_w[{i}] is selected by mask and must be finite, got {v}")
    a = require_finite("A", A)
    phi = mpmath.exp(mpmath.fsum(v for v, k in zip(lw, keep) if k)) * a
    return [phi if k else mpmath.mpf(0) for k in keep]


# name -> (phi, default params, level). Peer names as in torch_impl.losses ("is_token" /
# "is_sequence" are plain phi_t = w_t A / W A). Caps chosen to bind on token_mdp (token w in
# [0.490, 3.558], sequence W in [0.239, 14.91], GSPO's s in [0.621, 2.461]): the library
# defaults bind for ppo_clip, cispo_verl, tis_token (2.0), tis_sequence and mis_sequence (3.0);
# cispo_trl's 5.0 and dual clip's 3.0 are lowered to 1.3 and 2.0 (1.3, not truncated_power's
# M = 1.5, so that the two rows differ), mis_token's upper bound to
# 2.0 (its default 5.0 never binds), and GSPO's paper clips 3e-4 / 4e-4 would drop every
# sequence of this short horizon (s within 4e-4 of 1 never occurs), so GSPO runs at PPO's 0.2.
DESIGNS: dict[str, tuple[Callable[..., Any], dict[str, float], str]] = {
    "is_token": (weights.power_weight, {"gamma": 1.0}, "token"),
    "power": (weights.power_weight, {"gamma": 0.5}, "token"),
    "truncated_power": (weights.truncated_power_weight, {"gamma": 1.0, "M": 1.5}, "token"),
    "soft_saturation": (weights.soft_saturation_weight, {"gamma": 1.0, "lam": 0.5}, "token"),
    "ppo_clip": (peers.ppo_clip, {"clip_ratio_low": 0.2, "clip_ratio_high": 0.2}, "token"),
    "ppo_dual_clip": (
        peers.ppo_dual_clip,
        {"clip_ratio_low": 0.2, "clip_ratio_high": 0.2, "clip_ratio_c": 2.0},
        "token",
    ),
    "cispo_verl": (peers.cispo_verl, {"clip_ratio_low": 0.2, "clip_ratio_high": 0.2}, "token"),
    "cispo_trl": (peers.cispo_trl, {"epsilon_high": 1.3}, "token"),
    "sapo": (peers.sapo, {"tau_pos": 1.0, "tau_neg": 1.05}, "token"),
    "tis_token": (peers.tis_token, {"clip_min": 0.0, "clip_max": 2.0}, "token"),
    "mis_token": (peers.mis_token, {"clip_min": 0.5, "clip_max": 2.0}, "token"),
    "topr": (peers.topr, {}, "token"),
    "is_sequence": (_is_sequence, {}, "sequence"),
    "gspo": (peers.gspo, {"clip_ratio_low": 0.2, "clip_ratio_high": 0.2}, "sequence"),
    "tis_sequence": (peers.tis_sequence, {"clip_min": 0.0, "clip_max": 3.0}, "sequence"),
    "mis_sequence": (peers.mis_sequence, {"clip_min": 0.0, "clip_max": 3.0}, "sequence"),
    "vespo": (
        peers.vespo,
        {"k_pos": 2.0, "lambda_pos": 3.0, "k_neg": 3.0, "lambda_neg": 2.0},
        "sequence",
    ),
}


def _log_softmax(z: Sequence[Any]) -> list:
    zs = [mpmath.mpf(v) for v in z]
    m = max(zs)
    log_s = m + mpmath.log(mpmath.fsum(mpmath.exp(v - m) for v in zs))
    return [v - log_s for v in zs]


def _row(t: int, prev: int, V: int) -> int:
    """Index of the logit row (t, prev) in the flattened table (row 0 is step 0's start row)."""
    return 0 if t == 0 else 1 + (t - 1) * V + prev


def _rows(table: Table) -> list:
    """log-probabilities of every row of ``table``, in flattened row order."""
    return [_log_softmax(row) for step in table for row in step]


def mdp_design_moments(
    instance: MDPInstance, design: str, params: dict[str, float] | None = None
) -> dict[str, Any]:
    """Exact moments of ``design`` on the token MDP ``instance`` (module docstring), at the
    ambient mpmath precision, by enumerating all V^T sequences.

    Returns a dict: ``instance`` (name), ``design``, ``params`` (defaults updated by
    ``params``), ``level`` ("token" or "sequence"), ``bias``, ``variance``, ``mse`` {1, 64, 4096:
    bias^2 + variance / n}, ``ess`` (1 / E_mu[W^2], the same for every design), and the vectors
    ``mean`` (E_mu[g_hat]) and ``gradient`` (g), D = (1 + (T - 1) V) V mpf each, in the
    flattened row order. Edges: a sequence whose advantage is 0 contributes g_hat = 0 for every
    design; bias is 0 exactly only when E_mu[g_hat] = g at the working precision (plain
    sequence IS: up to rounding). ``ValueError`` for an instance that is not an
    :class:`MDPInstance`, an unknown design, an unknown parameter name, or a parameter value
    the design refuses (its own message).
    """
    if not isinstance(instance, MDPInstance):
        raise ValueError(f"instance must be an MDPInstance, got {instance!r}")
    if not isinstance(design, str) or design not in DESIGNS:
        raise ValueError(f"design must be one of {sorted(DESIGNS)}, got {design!r}")
    if params is not None and not isinstance(params, dict):
        raise ValueError(f"params must be a dict or None, got {params!r}")
    fn, defaults, level = DESIGNS[design]
    unknown = set(params or {}) - set(defaults)
    if unknown:
        raise ValueError(f"params {sorted(unknown)} unknown for design {design!r}, got {params!r}")
    params = dict(defaults, **(params or {}))
    T, V = instance.T, instance.V
    lp_theta = _rows(instance.logits_theta)
    lp_mu = _rows(instance.logits_mu)
    n_rows = len(lp_theta)
    D = n_rows * V

    seqs = list(itertools.product(range(V), repeat=T))
    rows_of = [[_row(t, 0 if t == 0 else y[t - 1], V) for t in range(T)] for y in seqs]
    log_pi = [
        mpmath.fsum(lp_theta[r][tok] for r, tok in zip(rs, y)) for y, rs in zip(seqs, rows_of)
    ]
    log_mu = [mpmath.fsum(lp_mu[r][tok] for r, tok in zip(rs, y)) for y, rs in zip(seqs, rows_of)]
    pi = [mpmath.exp(v) for v in log_pi]
    mu = [mpmath.exp(v) for v in log_mu]
    R = [mpmath.mpf(v) for v in instance.rewards]
    baseline = mpmath.fsum(p * r for p, r in zip(pi, R))
    adv = [r - baseline for r in R]
    probs = [[mpmath.exp(v) for v in row] for row in lp_theta]

    def scores(y: tuple[int, ...], rs: list[int], coefs: Sequence[Any]) -> list:
        """sum_t coefs[t] grad_t as a dense D-vector."""
        out = [mpmath.mpf(0)] * D
        for t, (r, tok) in enumerate(zip(rs, y)):
            c = coefs[t]
            for k in range(V):
                out[r * V + k] += c * ((1 if k == tok else 0) - probs[r][k])
        return out

    g_hats = []
    for y, rs, a in zip(seqs, rows_of, adv):
        log_w = [lp_theta[r][tok] - lp_mu[r][tok] for r, tok in zip(rs, y)]
        if level == "token":
            phi = [fn(lw, a, **params) for lw in log_w]
        else:
            phi = list(fn(log_w, a, **params))
        g_hats.append(scores(y, rs, phi))
    mean = [mpmath.fsum(m * g[k] for m, g in zip(mu, g_hats)) for k in range(D)]
    grads = [scores(y, rs, [1] * T) for y, rs in zip(seqs, rows_of)]
    target = [mpmath.fsum(p * a * g[k] for p, a, g in zip(pi, adv, grads)) for k in range(D)]
    bias = mpmath.sqrt(mpmath.fsum((m - g) ** 2 for m, g in zip(mean, target)))
    variance = mpmath.fsum(
        m * mpmath.fsum((g[k] - mean[k]) ** 2 for k in range(D)) for m, g in zip(mu, g_hats)
    )
    ess = 1 / mpmath.fsum(mpmath.exp(2 * lp - lm) for lp, lm in zip(log_pi, log_mu))
    return {
        "instance": instance.name,
        "design": design,
        "params": params,
        "level": level,
        "bias": bias,
        "variance": variance,
        "mse": {n: bias**2 + variance / n for n in (1, 64, 4096)},
        "ess": ess,
        "mean": mean,
        "gradient": target,
    }


def mdp_lab_table(instance: MDPInstance | None = None) -> list[dict[str, Any]]:
    """:func:`mdp_design_moments` of every design in :data:`DESIGNS` (default params), on
    ``instance`` (default :func:`token_mdp`); ``ValueError`` for a non-:class:`MDPInstance`."""
    inst = token_mdp() if instance is None else instance
    if not isinstance(inst, MDPInstance):
        raise ValueError(f"instance must be an MDPInstance, got {instance!r}")
    return [mdp_design_moments(inst, d) for d in DESIGNS]
