"""The exact laboratory (reference/lab.py): its 50-digit moments against an independent float64
enumeration (the torch twins of every design and a matrix formulation of the moments), plain
importance sampling unbiased, and a seeded Monte Carlo mean within 5 standard errors."""

from __future__ import annotations

import json

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
        for n, v in exact["mse"].items():
            assert v == exact["bias"] ** 2 + exact["variance"] / n
    bias, variance, *_ = _torch_moments(inst, design)
    assert abs(float(exact["bias"]) - bias) <= 1e-12
    assert abs(float(exact["variance"]) - variance) <= 1e-12 * float(exact["variance"])


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


def test_monte_carlo_mean_within_five_standard_errors():
    """n = 200000 seeded draws y ~ mu of the torch estimate, coordinate by coordinate."""
    inst = lab.bandit8()
    for design in ("is", "ppo_clip", "power"):
        _, _, G, mu, mean = _torch_moments(inst, design)
        gen = torch.Generator().manual_seed(12)
        ys = torch.multinomial(mu, 200_000, replacement=True, generator=gen)
        draws = G[ys]
        se = draws.std(0) / draws.shape[0] ** 0.5
        z = (draws.mean(0) - mean).abs() / se
        assert float(z.max()) < 5, (design, z)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="design"):
        lab.design_moments(lab.bandit8(), "nonsense")
    with pytest.raises(ValueError, match="params"):
        lab.design_moments(lab.bandit8(), "is", {"gama": 1.0})
    with pytest.raises(ValueError, match="equal length"):
        lab.Instance("x", (0.0, 1.0), (0.0,), (1.0, 0.0))
    with pytest.raises(ValueError, match="finite"):
        lab.Instance("x", (0.0, float("nan")), (0.0, 1.0), (1.0, 0.0))


def test_lab_command_json(capsys):
    assert cli.main(["lab", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["design"] for r in rows} == set(lab.DESIGNS)
    for r in rows:
        assert {"instance", "design", "params", "bias", "variance", "ess"} <= set(r)
        assert r["instance"] == "bandit8"
    assert cli.main(["lab"]) == 0
    assert "ppo_clip" in capsys.readouterr().out
