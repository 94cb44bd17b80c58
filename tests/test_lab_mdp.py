"""The exact token MDP (reference/lab_mdp.py): its 50-digit moments against an independent
float64 enumeration (torch twins of every design, torch.autograd for the token scores, tensor
formulation of the moments), plain sequence importance sampling unbiased where token-level
designs are not, a seeded Monte Carlo of autoregressively sampled sequences within 5 standard
errors, and the refusals of bad input."""

from __future__ import annotations

import mpmath
import pytest
import torch

from isreshape.reference import lab_mdp
from isreshape.torch_impl import peers as tpeers
from isreshape.torch_impl import weights as tweights

F64 = torch.float64
TWINS = {"weights": tweights, "peers": tpeers}


@pytest.fixture(scope="module")
def exact():
    """mdp_design_moments of every design at 50 digits (about 1 s)."""
    with mpmath.workdps(50):
        return {r["design"]: r for r in lab_mdp.mdp_lab_table()}


def _sequences(inst: lab_mdp.MDPInstance) -> torch.Tensor:
    """All V^T sequences [N, T], y_1 most significant (the order of inst.rewards)."""
    grids = torch.meshgrid(*[torch.arange(inst.V)] * inst.T, indexing="ij")
    return torch.stack([g.reshape(-1) for g in grids], 1)


def _token_logp(tables: list[torch.Tensor], Y: torch.Tensor) -> torch.Tensor:
    """log p(y_t | y_<t) [N, T] from per-step logit tables (step 0: [1, V], later [V, V])."""
    out = []
    for t, z in enumerate(tables):
        prev = torch.zeros_like(Y[:, 0]) if t == 0 else Y[:, t - 1]
        out.append(torch.log_softmax(z, -1)[prev, Y[:, t]])
    return torch.stack(out, 1)


def _tables(table) -> list[torch.Tensor]:
    return [torch.tensor(step, dtype=F64) for step in table]


def _torch_route(inst: lab_mdp.MDPInstance, design: str):
    """Per-sequence estimates G [N, D] and the moments, by another code route: autograd
    Jacobian of the token log-probabilities for grad_t, torch twins for phi, matrix sums."""
    fn, params, level = lab_mdp.DESIGNS[design]
    Y = _sequences(inst)
    theta = _tables(inst.logits_theta)
    sizes = [z.numel() for z in theta]

    def token_logp(flat: torch.Tensor) -> torch.Tensor:
        zs = [c.reshape(z.shape) for c, z in zip(flat.split(sizes), theta)]
        return _token_logp(zs, Y)

    flat = torch.cat([z.reshape(-1) for z in theta])
    J = torch.autograd.functional.jacobian(token_logp, flat, vectorize=True)  # [N, T, D]
    lp_theta = token_logp(flat)
    lp_mu = _token_logp(_tables(inst.logits_mu), Y)
    pi, mu = lp_theta.sum(1).exp(), lp_mu.sum(1).exp()
    R = torch.tensor(inst.rewards, dtype=F64)
    A = (R - (pi * R).sum())[:, None]
    log_w = lp_theta - lp_mu
    if design == "is_sequence":  # no library twin: plain W A on every token
        phi = (log_w.sum(-1, keepdim=True).exp() * A).expand_as(log_w)
    else:
        twin = getattr(TWINS[fn.__module__.split(".")[-1]], fn.__name__)
        phi = twin(log_w, A, **params)
    assert phi.shape == log_w.shape
    G = torch.einsum("nt,ntd->nd", phi, J)
    mean = mu @ G
    target = (pi * A[:, 0]) @ J.sum(1)
    bias = torch.linalg.norm(mean - target)
    variance = (mu * ((G - mean) ** 2).sum(1)).sum()
    ess = 1 / (pi * pi / mu).sum()
    return {"G": G, "mu": mu, "mean": mean, "bias": bias, "variance": variance, "ess": ess}


@pytest.mark.parametrize("design", sorted(lab_mdp.DESIGNS))
def test_exact_moments_agree_with_an_independent_enumeration(exact, design):
    row = exact[design]
    tr = _torch_route(lab_mdp.token_mdp(), design)
    bias, variance = float(tr["bias"]), float(tr["variance"])
    # float64 sums of 64 terms of size <= ~10: rounding well below 1e-12
    assert abs(float(row["bias"]) - bias) <= 1e-12, (row["bias"], bias)
    assert abs(float(row["variance"]) - variance) <= 1e-12 * float(row["variance"])
    assert abs(float(row["ess"]) - float(tr["ess"])) <= 1e-12 * float(row["ess"])
    for n, v in row["mse"].items():  # against the torch route's bias and variance
        assert abs(float(v) - (bias**2 + variance / n)) <= 1e-12 * float(v) + 1e-15
    # coordinate by coordinate: same flattening of the logit table
    mean = torch.tensor([float(v) for v in row["mean"]], dtype=F64)
    assert torch.allclose(mean, tr["mean"], rtol=0, atol=1e-12), (mean - tr["mean"]).abs().max()
    assert row["level"] == lab_mdp.DESIGNS[design][2]
    assert row["instance"] == "token_mdp"


def test_sequence_importance_sampling_is_unbiased_and_others_are_not(exact):
    assert len(exact) >= 15
    assert exact["is_sequence"]["bias"] < mpmath.mpf(10) ** -45
    # token IS corrects each token but not the prefix nor the future the advantage depends on
    for d in ("is_token", "gspo", "ppo_clip", "tis_token", "vespo", "topr"):
        assert exact[d]["bias"] > mpmath.mpf("1e-3"), d
    # the caps bind on token_mdp: these rows are not the uncapped weight they truncate
    for capped, plain in (
        ("tis_token", "is_token"),
        ("mis_token", "is_token"),
        ("cispo_trl", "is_token"),
        ("truncated_power", "is_token"),
        ("tis_sequence", "is_sequence"),
        ("mis_sequence", "is_sequence"),
    ):
        assert abs(exact[capped]["bias"] - exact[plain]["bias"]) > mpmath.mpf("1e-4"), capped
    assert abs(exact["ppo_dual_clip"]["variance"] - exact["ppo_clip"]["variance"]) > 1e-3
    # the unbiased estimator pays in variance: every other design is below it here
    for d, r in exact.items():
        if d != "is_sequence":
            assert r["variance"] < exact["is_sequence"]["variance"], d
    assert {r["level"] for r in exact.values()} == {"token", "sequence"}


def test_token_is_is_unbiased_at_horizon_one():
    """At T = 1 token and sequence IS coincide and both are unbiased: the bias of token IS on
    token_mdp comes from the horizon, not from the code."""
    base = lab_mdp.token_mdp()
    inst = lab_mdp.MDPInstance(
        "one_step", 1, base.V, base.logits_theta[:1], base.logits_mu[:1], (1.0, 0.0, 0.5, 0.25)
    )
    with mpmath.workdps(50):
        tok = lab_mdp.mdp_design_moments(inst, "is_token")
        seq = lab_mdp.mdp_design_moments(inst, "is_sequence")
    assert tok["bias"] < mpmath.mpf(10) ** -45
    assert abs(tok["variance"] - seq["variance"]) < mpmath.mpf(10) ** -45


def test_token_mdp_numbers_are_pinned(exact):
    """Regression pins of the canonical instance (computed by this module at 50 digits and
    matched by the torch route above): a change of token_mdp's numbers, reward or design
    defaults shows here even when both routes move together."""
    pins = {  # 50-digit values rounded to float64; rel 1e-12 is far above the float rounding
        ("is_sequence", "ess"): 0.48488824503624783,
        ("is_sequence", "variance"): 2.214400501773328,
        ("is_token", "bias"): 0.0940534571410876,
        ("ppo_clip", "bias"): 0.28403065384806253,
        ("gspo", "bias"): 0.187578019693235,
    }
    for (design, key), value in pins.items():
        assert float(exact[design][key]) == pytest.approx(value, rel=1e-12), (design, key)


def test_monte_carlo_against_the_exact_moments(exact):
    """n = 100000 sequences sampled token by token from mu (seed 12; the conditionals, not the
    enumerated sequence probabilities), each estimate g_hat(y) from the torch route: the
    sample mean against the exact E_mu[g_hat] coordinate by coordinate within 5 SE, and the
    sample trace-variance against the exact variance within 5 SE of that estimate."""
    inst = lab_mdp.token_mdp()
    mu_tables = [torch.softmax(z, -1) for z in _tables(inst.logits_mu)]
    n = 100_000
    gen = torch.Generator().manual_seed(12)
    Y = torch.empty(n, inst.T, dtype=torch.long)
    for t, probs in enumerate(mu_tables):
        rows = probs[0].expand(n, -1) if t == 0 else probs[Y[:, t - 1]]
        Y[:, t] = torch.multinomial(rows, 1, generator=gen)[:, 0]
    index = (Y * inst.V ** torch.arange(inst.T - 1, -1, -1)).sum(1)
    for design in ("is_sequence", "ppo_clip", "gspo"):
        draws = _torch_route(inst, design)["G"][index]
        mean = draws.mean(0)
        want = torch.tensor([float(v) for v in exact[design]["mean"]], dtype=F64)
        se = draws.std(0) / n**0.5
        assert bool((se > 0).all()), design
        assert float(((mean - want).abs() / se).max()) < 5, design
        sq = ((draws - mean) ** 2).sum(1)
        se_var = float(sq.std()) / n**0.5
        assert abs(float(sq.mean()) - float(exact[design]["variance"])) < 5 * se_var, design


def test_bad_input_is_refused():
    inst = lab_mdp.token_mdp()
    with pytest.raises(ValueError, match="design.*'nonsense'"):
        lab_mdp.mdp_design_moments(inst, "nonsense")
    with pytest.raises(ValueError, match="instance.*None"):
        lab_mdp.mdp_design_moments(None, "is_token")
    with pytest.raises(ValueError, match="params.*gama"):
        lab_mdp.mdp_design_moments(inst, "is_token", {"gama": 1.0})
    with pytest.raises(ValueError, match="params"):
        lab_mdp.mdp_design_moments(inst, "is_token", [("gamma", 1.0)])
    with pytest.raises(ValueError, match="clip_ratio_low"):
        lab_mdp.mdp_design_moments(inst, "ppo_clip", {"clip_ratio_low": -0.1})
    with pytest.raises(ValueError, match="instance.*'token_mdp'"):
        lab_mdp.mdp_lab_table("token_mdp")
    fields = dict(
        name="x",
        T=inst.T,
        V=inst.V,
        logits_theta=inst.logits_theta,
        logits_mu=inst.logits_mu,
        rewards=inst.rewards,
    )
    bad = {
        "T": 0,
        "V": 1,
        "rewards": inst.rewards[:-1],
        "logits_mu": inst.logits_mu[:2],
        "logits_theta": (inst.logits_theta[0] * 2,) + inst.logits_theta[1:],
    }
    for name, value in bad.items():
        with pytest.raises(ValueError, match=name):
            lab_mdp.MDPInstance(**dict(fields, **{name: value}))
    nan_row = ((0.0, float("nan"), 0.0, 0.0),)
    with pytest.raises(ValueError, match=r"logits_theta\[0\]\[0\] must be finite"):
        lab_mdp.MDPInstance(**dict(fields, logits_theta=(nan_row,) + inst.logits_theta[1:]))
    with pytest.raises(ValueError, match="rewards must be finite"):
        lab_mdp.MDPInstance(**dict(fields, rewards=(float("inf"),) + inst.rewards[1:]))
    # not numbers at all: a ValueError naming the field too (not mpmath's TypeError / message)
    for bad_value in (None, "a", True):
        bad_row = ((0.0, bad_value, 0.0, 0.0),)
        with pytest.raises(ValueError, match=r"logits_mu\[0\]\[0\] must be finite"):
            lab_mdp.MDPInstance(**dict(fields, logits_mu=(bad_row,) + inst.logits_mu[1:]))
        with pytest.raises(ValueError, match="rewards must be finite"):
            lab_mdp.MDPInstance(**dict(fields, rewards=(bad_value,) + inst.rewards[1:]))


def test_instances_registry():
    assert set(lab_mdp.INSTANCES) == {"token_mdp"}
    inst = lab_mdp.INSTANCES["token_mdp"]()
    assert (inst.T, inst.V, len(inst.rewards)) == (3, 4, 64)
    # R(y) = #{t : y_t = 0} + 0.25 [y_T = 3]: y = (0, 0, 3) is index 3, y = (3, 3, 3) index 63
    assert inst.rewards[3] == 2.25 and inst.rewards[63] == 0.25 and inst.rewards[0] == 3.0
