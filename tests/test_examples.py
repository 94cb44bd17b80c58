"""examples/train_tiny_lm.py trains: the reward of a tiny causal LM rises with an IS Reshape
loss on stale rollouts, and the logged metrics see the staleness."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import pytest

PATH = Path(__file__).resolve().parents[1] / "examples" / "train_tiny_lm.py"


def _example():
    spec = importlib.util.spec_from_file_location("train_tiny_lm", PATH)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("design", ["is_reshape_ess", "ppo_clip"])
def test_tiny_lm_learns_from_stale_rollouts(design):
    ex = _example()
    hist = ex.train(ex.Config(batch=32), design, steps=16)
    first = sum(h["reward"] for h in hist[:4]) / 4
    last = sum(h["reward"] for h in hist[-4:]) / 4
    assert last > first + 0.2, (first, last)
    assert all(math.isfinite(h["loss"]) for h in hist)
    # between refreshes the behaviour policy is stale: w moves away from 1 and ESS below 1
    stale = [h for h in hist if h["step"] % ex.Config().refresh]
    assert max(h["ratio/max"] for h in stale) > 1.05
    assert min(h["ess_fraction"] for h in stale) < 0.99
    fresh = [h for h in hist if h["step"] % ex.Config().refresh == 0]
    assert all(h["ratio/max"] == 1.0 and h["ratio/min"] == 1.0 for h in fresh)


def test_example_command_line(capsys):
    assert _example().main(["--steps", "4", "--log-every", "2"]) == 0
    out = capsys.readouterr().out
    assert "reward" in out and "mean reward: first steps" in out
