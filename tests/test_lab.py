"""The exact laboratory (reference/lab.py): its 50-digit moments against an independent float64
enumeration (the torch twins of every design and a matrix formulation of the moments), plain
importance sampling unbiased, and a seeded Monte Carlo mean within 5 standard errors."""

from __future__ import annotations

import json
import math

import mpmath
import pytest
import torch

from isreshape.proofs import cli
from isreshape.reference import lab
from isreshape.torch_impl import peers as tpeers
from isreshape.torch_impl import trust_region as ttr
from isreshape.torch_impl import weights as tweights

F64 = torch.float64
TWINS = {"weights": tweights, "peers": tpeers, "trust_region": ttr}


def _torch_moments(inst: lab.Instance, design: str):
    fn, params = lab.DESIGNS[design]
    twin = getattr(TWINS[fn.__module__.split(".")[-1]], fn.__name__)
    pi = torch.softmax(torch.tensor(inst.logits_theta, dtype=F64), 0)
    mu = torch.softmax(torch.tensor(inst.logits_mu, dtype=F64), 0)
    r = torch.tensor(inst.rewards, dtype=F64)
    adv = r - (pi * r).sum()
    phi = twin(torch.log(pi) - torch.log(mu), adv, **params)
    jac = torch.eye(len(pi), dtype=F64) - pi[None, :]  # row y: e_y - pi
    G = phi[:, None] * jac
    mean = mu @ G
    target = (pi * adv) @ jac
    bias = torch.linalg.norm(mean - target)
    variance = (mu * ((G - mean) ** 2).sum(1)).sum()
    return float(bias), float(variance), G, mu, mean


@pytest.mark.parametrize("design", sorted(lab.DESIGNS))
def test_exact_moments_agree_with_an_independent_enumeration(design):
    inst = lab.bandit8()
    with mpmath.workdps(50):
        exact = lab.design_moments(inst, design)
    bias, variance, *_ = _torch_moments(inst, design)
    assert abs(float(exact["bias"]) - bias) <= 1e-12
    assert abs(float(exact["variance"]) - variance) <= 1e-12 * float(exact["variance"])
    for n, v in exact["mse"].items():  # against the torch route's bias and variance
        assert abs(float(v) - (bias**2 + variance / n)) <= 1e-12 * float(v) + 1e-15


def test_importance_sampling_is_unbiased_and_others_are_not():
    with mpmath.workdps(50):
        rows = {r["design"]: r for r in lab.lab_table()}
    assert len(rows) >= 15
    assert rows["is"]["bias"] < mpmath.mpf(10) ** -45
    # designs whose weight differs from w at some action of bandit8 are biased
    for d in ("power", "sft_weighted", "ppo_clip", "sapo", "topr", "mis_token"):
        assert rows[d]["bias"] > mpmath.mpf("1e-3"), d
    # clipping trades bias for variance: PPO's variance is below IS's
    assert rows["ppo_clip"]["variance"] < rows["is"]["variance"] / 3


def test_monte_carlo_against_the_exact_moments():
    """n = 200000 seeded draws y ~ mu of the torch estimate: the sample mean of g_hat against
    the exact E_mu[g_hat] = target + bias direction, coordinate by coordinate within 5 SE, and
    the sample trace-variance against the exact variance within 5 SE of that estimate."""
    inst = lab.bandit8()
    for design in ("is", "ppo_clip", "power"):
        with mpmath.workdps(30):
            exact = lab.design_moments(inst, design)
        _, _, G, mu, _ = _torch_moments(inst, design)
        gen = torch.Generator().manual_seed(12)
        n = 200_000
        ys = torch.multinomial(mu, n, replacement=True, generator=gen)
        draws = G[ys]
        mean = draws.mean(0)
        z = (mean - mean.new_tensor([float(v) for v in _exact_mean(inst, design)])).abs()
        assert float((z / (draws.std(0) / n**0.5)).max()) < 5, design
        sq = ((draws - mean) ** 2).sum(1)  # per-draw squared deviation
        se = float(sq.std()) / n**0.5
        assert abs(float(sq.mean()) - float(exact["variance"])) < 5 * se, design


def _exact_mean(inst, design):
    """E_mu[g_hat] at 30 digits from the reference's pieces (independent of the torch twin)."""
    fn, params = lab.DESIGNS[design]
    with mpmath.workdps(30):
        pi, mu = lab._softmax(inst.logits_theta), lab._softmax(inst.logits_mu)
        r = [mpmath.mpf(v) for v in inst.rewards]
        base = mpmath.fsum(p * v for p, v in zip(pi, r))
        phi = [fn(mpmath.log(p) - mpmath.log(m), v - base, **params) for p, m, v in zip(pi, mu, r)]
        V = len(pi)
        return [
            mpmath.fsum(mu[y] * phi[y] * ((1 if k == y else 0) - pi[k]) for y in range(V))
            for k in range(V)
        ]


def test_bandit8_numbers_are_pinned():
    """Values computed by an independent NumPy implementation in review (its own phi for the
    designs, the true gradient by finite differences of sum pi A): a drift of both the
    reference and the torch twins together would not pass here."""
    with mpmath.workdps(40):
        rows = {r["design"]: r for r in lab.lab_table()}
        ess = 1 / mpmath.fsum(
            p * p / m
            for p, m in zip(
                lab._softmax(lab.bandit8().logits_theta), lab._softmax(lab.bandit8().logits_mu)
            )
        )
    assert float(rows["is"]["variance"]) == pytest.approx(0.10320844048015182, rel=1e-13)
    assert float(rows["ppo_clip"]["bias"]) == pytest.approx(0.0907914807961295, rel=1e-10)
    assert float(rows["ppo_clip"]["variance"]) == pytest.approx(0.027989977618873913, rel=1e-13)
    assert float(rows["power"]["bias"]) == pytest.approx(0.030058753284992776, rel=1e-10)
    assert float(rows["is"]["ess"]) == pytest.approx(float(ess), rel=1e-15)
    assert float(ess) == pytest.approx(0.818596, abs=5e-7)
    # the caps bind on bandit8: these rows are not plain importance sampling
    for d in ("truncated_power", "cispo_trl", "tis_token"):
        assert rows[d]["bias"] > mpmath.mpf("1e-4"), d
    assert rows["ppo_dual_clip"]["variance"] != rows["ppo_clip"]["variance"]


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="design"):
        lab.design_moments(lab.bandit8(), "nonsense")
    with pytest.raises(ValueError, match="instance"):
        lab.design_moments(None, "is")
    with pytest.raises(ValueError, match="params"):
        lab.design_moments(lab.bandit8(), "is", {"gama": 1.0})
    with pytest.raises(ValueError, match="equal length"):
        lab.Instance("x", (0.0, 1.0), (0.0,), (1.0, 0.0))
    with pytest.raises(ValueError, match="finite"):
        lab.Instance("x", (0.0, float("nan")), (0.0, 1.0), (1.0, 0.0))


def test_lab_command_json(capsys):
    assert cli.main(["lab", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["design"] for r in rows} == set(lab.DESIGNS) | set(lab.RULE_DESIGNS)
    for r in rows:
        assert {"instance", "design", "params", "bias", "variance", "ess"} <= set(r)
        assert r["instance"] == "bandit8"
    assert cli.main(["lab"]) == 0
    assert "ppo_clip" in capsys.readouterr().out


def _torch_offpolicyness(inst):
    pi = torch.softmax(torch.tensor([float(v) for v in inst.logits_theta], dtype=F64), 0)
    mu = torch.softmax(torch.tensor([float(v) for v in inst.logits_mu], dtype=F64), 0)
    lw = torch.log(pi / mu)
    return {
        "kl_pi_mu": float((pi * lw).sum()),
        "kl_mu_pi": float((mu * -lw).sum()),
        "sigma2_log_w": float((mu * lw**2).sum() - (mu * lw).sum() ** 2),
        "max_w": float((pi / mu).max()),
    }


@pytest.mark.parametrize(
    "make", [lambda: lab.bandit8_offpolicy(3.0), lambda: lab.bandit8_heavy_tail(1e-3)]
)
def test_family_instances_against_the_torch_enumeration(make):
    """The off-policy sweep and the heavy tail: offpolicyness and every design's moments
    against the float64 torch route (relative 1e-12; the heavy tail's w reach ~1e3)."""
    inst = make()
    with mpmath.workdps(40):
        off = lab.offpolicyness(inst)
        rows = {d: lab.design_moments(inst, d) for d in lab.DESIGNS}
    for k, v in _torch_offpolicyness(inst).items():
        assert float(off[k]) == pytest.approx(v, rel=1e-12, abs=1e-14), k
    for d, r in rows.items():
        bias, variance, *_ = _torch_moments(
            lab.Instance(inst.name, *[tuple(float(x) for x in f) for f in (
                inst.logits_theta, inst.logits_mu, inst.rewards)]), d)
        assert float(r["bias"]) == pytest.approx(bias, rel=1e-10, abs=1e-12), d
        assert float(r["variance"]) == pytest.approx(variance, rel=1e-12), d


def test_offpolicy_sweep_ends_and_growth():
    """t = 1 is bandit8, t = 0 is on-policy (every w = 1: all KLs 0), and the distance grows
    with t; the heavy tail raises max w to about 1/eps times bandit8's w at those actions."""
    with mpmath.workdps(30):
        b8, t1 = lab.bandit8(), lab.bandit8_offpolicy(1)
        assert [mpmath.mpf(v) for v in t1.logits_mu] == [mpmath.mpf(v) for v in b8.logits_mu]
        on = lab.offpolicyness(lab.bandit8_offpolicy(0))
        assert on["kl_pi_mu"] == 0 and on["sigma2_log_w"] == 0 and on["max_w"] == 1
        kls = [lab.offpolicyness(lab.bandit8_offpolicy(t))["kl_pi_mu"] for t in (0.5, 1, 2, 4)]
        assert all(a < b for a, b in zip(kls, kls[1:]))
        assert lab.design_moments(lab.bandit8_offpolicy(0), "power")["bias"] < 1e-25
        pi = lab._softmax(b8.logits_theta)
        for eps in (0.1, 1e-3):
            mu = lab._softmax(lab.bandit8_heavy_tail(eps).logits_mu)
            mu8 = lab._softmax(b8.logits_mu)
            # odds against an untouched action (1) shrink by exactly eps; renormalisation gives
            # the rest more mass, so w there grows by a little less than 1/eps
            for k in lab.HEAVY_TAIL_ACTIONS:
                odds, odds8 = mu[k] / mu[1], mu8[k] / mu8[1]
                assert abs(odds / (eps * odds8) - 1) < mpmath.mpf(10) ** -25
                assert 1 / eps / 2 < (pi[k] / mu[k]) / (pi[k] / mu8[k]) < 1 / eps
    for bad in (-1.0, float("inf"), float("nan"), "1", True):
        with pytest.raises(ValueError, match="t must"):
            lab.bandit8_offpolicy(bad)
    for bad in (0.0, 1.5, float("nan"), None):
        with pytest.raises(ValueError, match="eps must"):
            lab.bandit8_heavy_tail(bad)
    with pytest.raises(ValueError, match="instance"):
        lab.offpolicyness("bandit8")


def test_lab_command_named_instances(capsys):
    for name in ("bandit8_far", "bandit8_heavy_tail"):
        assert cli.main(["lab", "--format", "json", "--instance", name]) == 0
        rows = json.loads(capsys.readouterr().out)
        assert rows[0]["instance"].startswith(("bandit8_offpolicy", "bandit8_heavy"))
        assert len(rows) == len(lab.DESIGNS) + len(lab.RULE_DESIGNS)
    assert cli.main(["lab", "--instance", "nope"]) == 2
    assert cli.main(["lab", "--format", "json", "--instance", "token_mdp"]) == 0
    rows = {r["design"]: r for r in json.loads(capsys.readouterr().out)}
    assert {r["level"] for r in rows.values()} == {"token", "sequence"}
    assert all(r["instance"] == "token_mdp" for r in rows.values())
    assert rows["is_sequence"]["bias"] < 1e-40 < rows["is_token"]["bias"]


def _torch_rule_phi(design, log_w, adv, mu, params):
    """The rule designs' phi by torch: the ESS gamma from the mu-weighted variance of log w,
    the per-action gamma from the torch twins of seed 000's gamma functions."""
    from isreshape.torch_impl import gamma as tgamma
    from isreshape.torch_impl import variational as tvar

    mean = (mu * log_w).sum()
    gb = tgamma.gamma_star_ess((mu * (log_w - mean) ** 2).sum(), params["rho_min"])
    if design == "is_reshape_ess":
        g = gb.expand_as(log_w)
    elif design == "is_reshape_range":
        spread = float(log_w.max() - log_w.min())
        g = torch.full_like(log_w, min(1.0, 2 * math.sqrt(-math.log(params["rho_min"])) / spread))
    elif design == "variational_hard":
        g = tvar.gamma_hard(log_w, adv, gb)
    elif design == "variational_soft":
        g = tvar.gamma_soft_section_8_3_corrected(log_w, adv, gb, params["temperature"])
    else:
        g = tvar.gamma_soft_section_8_3(log_w, adv, gb)
    return tweights.power_weight(log_w, adv, g)


@pytest.mark.parametrize("design", sorted(lab.RULE_DESIGNS))
@pytest.mark.parametrize("t", [1.0, 3.0])
def test_rule_designs_against_torch(design, t):
    inst = lab.bandit8_offpolicy(t)
    with mpmath.workdps(40):
        exact = lab.design_moments(inst, design)
    pi = torch.softmax(torch.tensor([float(v) for v in inst.logits_theta], dtype=F64), 0)
    mu = torch.softmax(torch.tensor([float(v) for v in inst.logits_mu], dtype=F64), 0)
    r = torch.tensor(inst.rewards, dtype=F64)
    adv = r - (pi * r).sum()
    phi = _torch_rule_phi(design, torch.log(pi) - torch.log(mu), adv, mu, exact["params"])
    jac = torch.eye(len(pi), dtype=F64) - pi[None, :]
    G = phi[:, None] * jac
    mean = mu @ G
    bias = float(torch.linalg.norm(mean - (pi * adv) @ jac))
    variance = float((mu * ((G - mean) ** 2).sum(1)).sum())
    assert float(exact["bias"]) == pytest.approx(bias, rel=1e-10, abs=1e-13)
    assert float(exact["variance"]) == pytest.approx(variance, rel=1e-12)
    # the variational rows differ from plain IS (their gamma is not 1 everywhere)
    if design.startswith("variational"):
        assert exact["bias"] > 1e-3


def test_torch_twin_agrees_batched_over_instances():
    """torch_impl.lab.design_moments on a stack of 6 instances (the off-policy sweep and the
    heavy tails) in one call, against the 40-digit reference, every design (rule designs
    too): bias to 1e-12 absolute, variance, mse and ess to 1e-12 relative."""
    from isreshape.torch_impl import lab as tlab

    assert set(tlab.DESIGNS) == set(lab.DESIGNS)
    assert set(tlab.RULE_DESIGNS) == set(lab.RULE_DESIGNS)
    insts = [lab.bandit8_offpolicy(t) for t in (0.5, 1.0, 3.0)] + [
        lab.bandit8_heavy_tail(e) for e in (0.1, 0.01, 0.001)
    ]

    def stack(field):
        return torch.tensor([[float(v) for v in getattr(i, field)] for i in insts], dtype=F64)

    for design in [*lab.DESIGNS, *lab.RULE_DESIGNS]:
        got = tlab.design_moments(
            stack("logits_theta"), stack("logits_mu"), stack("rewards"), design
        )
        assert got["bias"].shape == (len(insts),)
        for k, inst in enumerate(insts):
            with mpmath.workdps(40):
                ref = lab.design_moments(inst, design)
            assert abs(float(got["bias"][k]) - float(ref["bias"])) <= 1e-12, (design, k)
            for key in ("variance", "ess"):
                assert float(got[key][k]) == pytest.approx(float(ref[key]), rel=1e-12), key
            assert float(got["mse"][64][k]) == pytest.approx(float(ref["mse"][64]), rel=1e-12)


def test_torch_twin_bad_input():
    from isreshape.torch_impl import lab as tlab

    z = torch.zeros(8, dtype=F64)
    with pytest.raises(ValueError, match="design"):
        tlab.design_moments(z, z, z, "nonsense")
    with pytest.raises(ValueError, match="params"):
        tlab.design_moments(z, z, z, "is", {"gama": 1})
    with pytest.raises(ValueError, match="logits_mu must be finite"):
        tlab.design_moments(z, torch.full((8,), float("nan")), z, "is")
    with pytest.raises(ValueError, match="V >= 2"):
        tlab.design_moments(torch.zeros(1), torch.zeros(1), torch.zeros(1), "is")
    with pytest.raises(ValueError, match="broadcast"):
        tlab.design_moments(z, torch.zeros(5, dtype=F64), z, "is")


def test_bad_input_types_are_value_errors():
    from isreshape.torch_impl import lab as tlab

    for bad in (None, "abc", (0.0, None), (0.0, "1")):
        with pytest.raises(ValueError, match="logits_mu"):
            lab.Instance("x", (0.0, 1.0), bad, (1.0, 0.0))
    with pytest.raises(ValueError, match="params"):
        lab.design_moments(lab.bandit8(), "is", [("gamma", 1.0)])
    with pytest.raises(ValueError, match="design"):
        lab.design_moments(lab.bandit8(), ["is"])
    z = torch.zeros(8, dtype=F64)
    with pytest.raises(ValueError, match="params"):
        tlab.design_moments(z, z, z, "is", 1.0)
    with pytest.raises(ValueError, match="design"):
        tlab.design_moments(z, z, z, ["is"])
