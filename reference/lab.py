"""The exact off-policy laboratory (issue 12): bias and variance of every gradient-weight design
on problems small enough to enumerate, every expectation a finite sum at the working precision.

Instance (a single-step bandit): softmax policies pi_theta = softmax(z_theta) and the behaviour
policy mu = softmax(z_mu) on V actions, rewards r, advantage A(y) = r(y) - sum_y' pi_theta(y')
r(y'). One draw y ~ mu gives the logit-space gradient estimate

    g_hat(y) = phi(w(y), A(y)) (e_y - pi_theta),    w = pi_theta / mu,

(e_y - pi_theta is the gradient of log pi_theta(y) with respect to the logits), whose target is
the policy gradient g = sum_y pi_theta(y) A(y) (e_y - pi_theta). For a design phi:

    bias     = || E_mu[g_hat] - g ||                      (Euclidean)
    variance = E_mu || g_hat - E_mu[g_hat] ||^2           (trace of one draw's covariance)
    mse(n)   = bias^2 + variance / n                      (the mean of n independent draws)
    ess      = 1 / E_mu[w^2]                              (Kish ESS per draw, E_mu[w] = 1)

Plain importance sampling (phi = w A) is unbiased: E_mu[w A (e_y - pi)] = g exactly.

``bandit8`` is the canonical instance; its numbers are fixed by issue 12 so that results can be
compared across versions and with other implementations.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import mpmath

from isreshape.reference import gamma as gamma_rules
from isreshape.reference import peers, trust_region, variational, weights

__all__ = [
    "DESIGNS",
    "RULE_DESIGNS",
    "Instance",
    "bandit8",
    "bandit8_heavy_tail",
    "bandit8_offpolicy",
    "design_moments",
    "lab_table",
    "offpolicyness",
]

NO_GOLDEN = {
    "bandit8": "a fixed problem instance (issue 12's numbers), not a formula; its moments are "
    "checked against an independent torch enumeration in tests/test_lab.py",
    "design_moments": "exact bias / variance of a design on an instance; tests/test_lab.py "
    "checks it against an independent torch float64 enumeration to 1e-12",
    "lab_table": "design_moments for every design of DESIGNS (the `isreshape lab` table)",
    "bandit8_offpolicy": "a family of problem instances (mu's logits moved along a line), not "
    "a formula; t = 1 is bandit8, checked in tests/test_lab.py",
    "bandit8_heavy_tail": "a family of problem instances (mu made tiny at two actions); its "
    "moments are checked against the torch enumeration in tests/test_lab.py",
    "offpolicyness": "KL and log-weight variance of an instance, checked against an independent "
    "torch route in tests/test_lab.py",
}


@dataclass(frozen=True)
class Instance:
    """A single-step bandit: logits of pi_theta and of mu, and the rewards (equal lengths)."""

    name: str
    logits_theta: tuple[float, ...]
    logits_mu: tuple[float, ...]
    rewards: tuple[float, ...]

    def __post_init__(self) -> None:
        for name in ("logits_theta", "logits_mu", "rewards"):
            vals = getattr(self, name)
            if isinstance(vals, (str, bytes)) or not isinstance(vals, Sequence):
                raise ValueError(f"{name} must be a sequence of numbers, got {vals!r}")
            for v in vals:
                if isinstance(v, (bool, str, bytes)) or v is None:
                    raise ValueError(f"{name} must hold numbers, got {v!r}")
        n = len(self.logits_theta)
        if n < 2 or len(self.logits_mu) != n or len(self.rewards) != n:
            raise ValueError(
                f"logits_theta, logits_mu, rewards must have one equal length >= 2, got "
                f"{n}, {len(self.logits_mu)}, {len(self.rewards)}"
            )
        for name in ("logits_theta", "logits_mu", "rewards"):
            vals = getattr(self, name)
            if not all(mpmath.isfinite(mpmath.mpf(v)) for v in vals):
                raise ValueError(f"{name} must be finite, got {vals!r}")


def bandit8() -> Instance:
    """V = 8, the numbers of issue 12 (z_theta, z_mu, r)."""
    return Instance(
        "bandit8",
        (0.5, -0.3, 1.2, 0.0, -1.0, 0.8, -0.5, 0.2),
        (0.0, 0.4, 0.6, -0.2, -0.6, 1.0, 0.1, -0.3),
        (1.0, 0.0, 0.5, 0.2, -0.5, 0.9, 0.1, 0.3),
    )


def bandit8_offpolicy(t: float) -> Instance:
    """bandit8 with mu's logits moved along the line through pi_theta's and bandit8's mu:
    z_mu(t) = z_theta + t (z_mu - z_theta), pi_theta and r unchanged. t = 0 is on-policy
    (w = 1 everywhere), t = 1 is bandit8, t > 1 moves mu further away (log w = t times a fixed
    vector up to a constant, so sigma^2 of log w grows roughly as t^2). Domain: finite t >= 0
    (a float is taken at its exact binary value)."""
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not 0 <= t < float("inf"):
        raise ValueError(f"t must be a finite number >= 0, got {t!r}")
    b = bandit8()
    t_mp = mpmath.mpf(t)
    z_mu = tuple(
        mpmath.mpf(a) + t_mp * (mpmath.mpf(m) - mpmath.mpf(a))
        for a, m in zip(b.logits_theta, b.logits_mu)
    )
    return Instance(f"bandit8_offpolicy_t{t:.17g}", b.logits_theta, z_mu, b.rewards)


HEAVY_TAIL_ACTIONS = (0, 5)  # the two best-rewarded actions of bandit8 (r = 1.0, 0.9)


def bandit8_heavy_tail(eps: float) -> Instance:
    """bandit8 with mu's logits of actions 0 and 5 (the two best rewards) lowered by
    -log(eps): mu puts about eps times its bandit8 mass there, so w is about 1/eps on the
    actions that matter most (a heavy right tail of w under mu). Domain: 0 < eps <= 1;
    eps = 1 is bandit8."""
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not 0 < eps <= 1:
        raise ValueError(f"eps must be a number in (0, 1], got {eps!r}")
    b = bandit8()
    drop = mpmath.log(mpmath.mpf(eps))
    z_mu = tuple(
        mpmath.mpf(m) + (drop if k in HEAVY_TAIL_ACTIONS else 0)
        for k, m in enumerate(b.logits_mu)
    )
    return Instance(f"bandit8_heavy_tail_eps{eps:.17g}", b.logits_theta, z_mu, b.rewards)


def offpolicyness(instance: Instance) -> dict[str, Any]:
    """How far mu is from pi_theta on ``instance``: KL(pi_theta || mu), KL(mu || pi_theta),
    sigma^2 = Var_mu[log w] and max w, at the ambient mpmath precision."""
    if not isinstance(instance, Instance):
        raise ValueError(f"instance must be an Instance, got {instance!r}")
    pi = _softmax(instance.logits_theta)
    mu = _softmax(instance.logits_mu)
    log_w = [mpmath.log(p) - mpmath.log(m) for p, m in zip(pi, mu)]
    mean = mpmath.fsum(m * lw for m, lw in zip(mu, log_w))
    return {
        "kl_pi_mu": mpmath.fsum(p * lw for p, lw in zip(pi, log_w)),
        "kl_mu_pi": -mean,
        "sigma2_log_w": mpmath.fsum(m * (lw - mean) ** 2 for m, lw in zip(mu, log_w)),
        "max_w": mpmath.exp(max(log_w)),
    }


INSTANCES: dict[str, Callable[[], Instance]] = {
    "bandit8": bandit8,
    "bandit8_far": lambda: bandit8_offpolicy(3.0),
    "bandit8_heavy_tail": lambda: bandit8_heavy_tail(1e-3),
}

# name -> (phi(log_w, A, **params), default params). Peer names as in torch_impl.losses; the
# caps are chosen to bind on bandit8 (its w lie in [0.457, 1.677]: the libraries' defaults
# M = 2, c = 3, eps_high = 5, clip_max = 2 would make those rows plain importance sampling);
# trust_region_adaptive at seed 003 section 5.1's parameters, as losses.SEED_DESIGNS.
DESIGNS: dict[str, tuple[Callable[..., Any], dict[str, float]]] = {
    "is": (weights.power_weight, {"gamma": 1.0}),
    "power": (weights.power_weight, {"gamma": 0.5}),
    "sft_weighted": (weights.power_weight, {"gamma": 0.0}),
    "asymmetric_power": (weights.asymmetric_power_weight, {"gamma_pos": 0.5, "gamma_neg": 1.5}),
    "truncated_power": (weights.truncated_power_weight, {"gamma": 1.0, "M": 1.5}),
    "soft_saturation": (weights.soft_saturation_weight, {"gamma": 1.0, "lam": 0.5}),
    "mixture": (
        weights.mixture_weight,
        {"gamma_pos": 0.5, "gamma_neg": 1.5, "lam": 1.0, "w_th": 3.0},
    ),
    "michaelis_menten": (weights.michaelis_menten_weight, {"tau": 1.0}),
    "sapo_weight": (weights.sapo_weight, {"tau": 1.0}),
    "trust_region": (trust_region.phi_gamma, {"gamma": 1.0, "tau": 1.0}),
    "trust_region_adaptive": (
        trust_region.phi_adaptive,
        {"gamma_base": 0.1, "gamma_max": 0.9, "tau_h": 1.0, "tau_c": 1.0},
    ),
    "ppo_clip": (peers.ppo_clip, {"clip_ratio_low": 0.2, "clip_ratio_high": 0.2}),
    "ppo_dual_clip": (
        peers.ppo_dual_clip,
        {"clip_ratio_low": 0.2, "clip_ratio_high": 0.2, "clip_ratio_c": 1.5},
    ),
    "cispo_verl": (peers.cispo_verl, {"clip_ratio_low": 0.2, "clip_ratio_high": 0.2}),
    "cispo_trl": (peers.cispo_trl, {"epsilon_high": 1.3}),
    "sapo": (peers.sapo, {"tau_pos": 1.0, "tau_neg": 1.05}),
    "tis_token": (peers.tis_token, {"clip_min": 0.0, "clip_max": 1.4}),
    "mis_token": (peers.mis_token, {"clip_min": 0.5, "clip_max": 5.0}),
    "topr": (peers.topr, {}),
}


def _gamma_base_ess(log_w: list, mu: list, rho_min: Any) -> Any:
    """The ESS rule's gamma at the population limit: gamma_star_ess(Var_mu[log w], rho_min)
    (a batch rule's sample variance tends to this as the batch grows)."""
    mean = mpmath.fsum(m * lw for m, lw in zip(mu, log_w))
    var = mpmath.fsum(m * (lw - mean) ** 2 for m, lw in zip(mu, log_w))
    return gamma_rules.gamma_star_ess(var, rho_min)


def _rule_is_reshape_ess(log_w, adv, mu, rho_min=0.3):
    g = _gamma_base_ess(log_w, mu, rho_min)
    return [weights.power_weight(lw, a, g) for lw, a in zip(log_w, adv)]


def _rule_is_reshape_range(log_w, adv, mu, rho_min=0.3):
    seen = [lw for lw, m in zip(log_w, mu) if m > 0]
    g = gamma_rules.gamma_star_ess((max(seen) - min(seen)) ** 2 / 4, rho_min)
    return [weights.power_weight(lw, a, g) for lw, a in zip(log_w, adv)]


def _rule_variational(gamma_of: Callable[..., Any]) -> Callable[..., list]:
    def rule(log_w, adv, mu, rho_min=0.3, **kw):
        gb = _gamma_base_ess(log_w, mu, rho_min)
        return [
            weights.power_weight(lw, a, gamma_of(lw, a, gb, **kw)) for lw, a in zip(log_w, adv)
        ]

    return rule


# Designs whose gamma is a rule of the batch: here at its population limit under mu (the batch
# statistic replaced by its expectation), so the lab shows the rule, not a batch's noise.
# name -> (rule(log_w, A, mu, **params) -> phi per action, default params)
RULE_DESIGNS: dict[str, tuple[Callable[..., list], dict[str, float]]] = {
    # seed 001 theorem 8.3: gamma = min(1, sqrt(-log rho_min / Var_mu[log w]))
    "is_reshape_ess": (_rule_is_reshape_ess, {"rho_min": 0.3}),
    # the corrected rule (claims 001-8.3-d, 001-12.1-f): sigma^2 -> range(log w)^2 / 4
    "is_reshape_range": (_rule_is_reshape_range, {"rho_min": 0.3}),
    # seed 000: the case table of theorem 7.1 (0, gamma_base, gamma_base, 1), gamma_base by ESS
    "variational_hard": (_rule_variational(variational.gamma_hard), {"rho_min": 0.3}),
    # seed 000 section 8.3 corrected (= the section 10 code's gamma), temperature 5 as the code
    "variational_soft": (
        _rule_variational(variational.gamma_soft_section_8_3_corrected),
        {"rho_min": 0.3, "temperature": 5.0},
    ),
    # seed 000 section 8.3 as printed (its limits swap cases): the as-written row
    "variational_soft_section_8_3": (
        _rule_variational(variational.gamma_soft_section_8_3),
        {"rho_min": 0.3},
    ),
}


def _softmax(z: Sequence[Any]) -> list:
    zs = [mpmath.mpf(v) for v in z]
    m = max(zs)
    e = [mpmath.exp(v - m) for v in zs]
    s = mpmath.fsum(e)
    return [v / s for v in e]


def design_moments(
    instance: Instance, design: str, params: dict[str, float] | None = None
) -> dict[str, Any]:
    """Exact bias, variance, mse(n) for n = 1, 64, 4096 and ess of ``design`` on ``instance``
    (module docstring), at the ambient mpmath precision. ``params`` override the design's
    defaults (``ValueError`` for an unknown design or parameter name)."""
    if not isinstance(instance, Instance):
        raise ValueError(f"instance must be an Instance, got {instance!r}")
    if params is not None and not isinstance(params, dict):
        raise ValueError(f"params must be a dict or None, got {params!r}")
    if not isinstance(design, str) or (design not in DESIGNS and design not in RULE_DESIGNS):
        raise ValueError(
            f"design must be one of {sorted(DESIGNS) + sorted(RULE_DESIGNS)}, got {design!r}"
        )
    fn, defaults = DESIGNS[design] if design in DESIGNS else RULE_DESIGNS[design]
    params = dict(defaults, **(params or {}))
    unknown = set(params) - set(defaults)
    if unknown:
        raise ValueError(f"params {sorted(unknown)} unknown for design {design!r}")
    pi = _softmax(instance.logits_theta)
    mu = _softmax(instance.logits_mu)
    r = [mpmath.mpf(v) for v in instance.rewards]
    V = len(pi)
    baseline = mpmath.fsum(p * v for p, v in zip(pi, r))
    adv = [v - baseline for v in r]
    log_w = [mpmath.log(p) - mpmath.log(m) for p, m in zip(pi, mu)]
    if design in DESIGNS:
        phi = [fn(lw, a, **params) for lw, a in zip(log_w, adv)]
    else:
        phi = fn(log_w, adv, mu, **params)

    def g_hat(y: int, coef) -> list:
        return [coef * ((1 if k == y else 0) - pi[k]) for k in range(V)]

    rows = [g_hat(y, phi[y]) for y in range(V)]
    mean = [mpmath.fsum(mu[y] * rows[y][k] for y in range(V)) for k in range(V)]
    target = [
        mpmath.fsum(pi[y] * adv[y] * ((1 if k == y else 0) - pi[k]) for y in range(V))
        for k in range(V)
    ]
    bias = mpmath.sqrt(mpmath.fsum((a - b) ** 2 for a, b in zip(mean, target)))
    variance = mpmath.fsum(
        mu[y] * mpmath.fsum((rows[y][k] - mean[k]) ** 2 for k in range(V)) for y in range(V)
    )
    ess = 1 / mpmath.fsum(m * mpmath.exp(2 * lw) for m, lw in zip(mu, log_w))
    return {
        "instance": instance.name,
        "design": design,
        "params": params,
        "bias": bias,
        "variance": variance,
        "mse": {n: bias**2 + variance / n for n in (1, 64, 4096)},
        "ess": ess,
    }


def lab_table(instance: Instance | None = None) -> list[dict[str, Any]]:
    """:func:`design_moments` of every design in :data:`DESIGNS` and :data:`RULE_DESIGNS`
    (default params)."""
    inst = bandit8() if instance is None else instance
    if not isinstance(inst, Instance):
        raise ValueError(f"instance must be an Instance, got {instance!r}")
    return [design_moments(inst, d) for d in [*DESIGNS, *RULE_DESIGNS]]
