"""The float32 alpha* formulation that ``torch.compile(optimal_alpha)`` runs
(``sampling._solve_fused32``, issue 14): the float32-internals tests of tests/test_sampling.py
and tests/test_alpha_edges.py (V > 1024, float32) run again through it (eagerly: the same
tensor program, ``_FUSED_EAGER``; the two whose mpmath / NumPy values are costly,
test_near_identical_rows_float32_fast_path and test_optimal_alpha_large_vocabulary, check both
paths against one reference value in their own modules), its own edge and invalid-row checks, the two defects a review
found (a large uncentred K(1) rounded to one float32 word; a target whose mass on S underflows),
batch shapes, and (slow) the compiled function itself against the eager one and the float64
reference.

The reused tests compare against mpmath / NumPy float64 values computed on the same inputs, so
they check the formulation, not its agreement with the eager solver.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from isreshape.reference import sampling as ref
from isreshape.torch_impl import sampling as ts
from isreshape.torch_impl.benchmarks.alpha import families, reference_alpha

# The float32-path tests of the two modules, collected here again and run with the fused
# formulation by the autouse fixture below (their float64 parts run unchanged).
from tests.test_alpha_edges import (  # noqa: F401
    test_identical_and_shifted_identical_rows_give_one_half,
    test_shift_with_different_supports_goes_to_the_endpoint,
    test_unchecked_invalid_rows_come_out_nan,
)
from tests.test_sampling import (  # noqa: F401
    _check_edge_batch,
    _edge_batch,
    test_float32_passes_argument_reaches_sharp_logits,
)


@pytest.fixture(autouse=True)
def fused(monkeypatch):
    monkeypatch.setattr(ts, "_FUSED_EAGER", True)


def test_the_fused_path_is_the_one_running(monkeypatch):
    # without the fixture's switch the eager solver runs: a disjoint row raises there and is
    # NaN in the fused formulation (which never raises: no host synchronisation)
    x = torch.zeros(2, 2000)
    y = torch.zeros(2, 2000)
    x[1, :1000] = -math.inf
    y[1, 1000:] = -math.inf
    got = ts.optimal_alpha(x, y)
    assert got[0] == 0.5 and torch.isnan(got[1])
    monkeypatch.setattr(ts, "_FUSED_EAGER", False)
    with pytest.raises(ValueError, match="disjoint"):
        ts.optimal_alpha(x, y)


def test_edges_and_invalid_rows():
    """The edge batch of test_float32_fast_path_edges_and_supports (each row against the NumPy
    float64 reference on the same float32 inputs), then rows the argument checks would refuse:
    they come out NaN, the valid rows beside them unchanged."""
    v = 3000
    x, y = _edge_batch(v, seed=5)
    got = ts.optimal_alpha(x, y)
    _check_edge_batch(x, y, got)

    bad_x, bad_y = x[:5].clone(), y[:5].clone()
    bad_x[0, 3] = math.nan
    bad_y[1, 4] = math.inf
    bad_x[2] = -math.inf
    bad_x[3, : v // 2] = -math.inf  # disjoint supports
    bad_y[3, v // 2 :] = -math.inf
    x_in, y_in = bad_x.clone(), bad_y.clone()
    out = ts.optimal_alpha(torch.cat([bad_x, x]), torch.cat([bad_y, y]))
    assert torch.isnan(out[:4]).all(), out[:4]
    assert out[4] == got[4] and torch.equal(out[5:], got)
    for a, b in ((bad_x, x_in), (bad_y, y_in)):  # inputs untouched
        assert torch.allclose(a, b, rtol=0, atol=0, equal_nan=True)


def test_target_disfavouring_the_top_token():
    # review finding D1: the target takes c nats from pi_theta's top token, so the uncentred
    # K(1) ~ c; rounded to one float32 word it shifted every d by up to ulp(c) / 2 and alpha by
    # that over Var_q(d) (1.4e-4 at c = 60, at any pass count). Two words: 1.3e-7 (4 passes,
    # which these rows need to converge; the eager solver: 2.2e-6)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(6, 20000, generator=g)
    y = x + 0.1 * torch.randn(6, 20000, generator=g)
    y[torch.arange(6), x.argmax(-1)] -= torch.tensor([10.0, 30.0, 60.0, 10.0, 30.0, 60.0])
    want = ref.optimal_alpha_np(x.double().numpy(), y.double().numpy())
    got = ts.optimal_alpha(x, y, passes=4).double().numpy()
    assert np.abs(got - want).max() <= 1e-6


def test_target_mass_on_the_support_underflows():
    # review finding D2: pi_t puts all but < 1e-45 of its mass on a token pi_theta masks, so
    # its mass on S underflows in float32 (0 / 0 in E_t e): Delta < 0 everywhere, alpha* = 0
    # (the fused path gave 0.125 with 2 passes)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 4000, generator=g)
    y = torch.randn(3, 4000, generator=g)
    x[:, 0] = -math.inf
    y[:, 0] = torch.tensor([60.0, 110.0, 200.0])
    want = ref.optimal_alpha_np(x.double().numpy(), y.double().numpy())
    assert (want == 0).all()
    assert (ts.optimal_alpha(x, y) == 0).all()


def test_batch_shapes_broadcasting_and_strides():
    # [B, T, V], a broadcast target and a non-contiguous theta give the row-by-row values
    x, y = families(6, 3000)["gaussian"]
    flat = ts.optimal_alpha(x, y)
    assert torch.equal(ts.optimal_alpha(x.reshape(2, 3, -1), y.reshape(2, 3, -1)), flat.reshape(2, 3))
    wide = torch.stack([x, x], -1)  # a strided view of x
    assert torch.equal(ts.optimal_alpha(wide[..., 0], y), flat)
    one = ts.optimal_alpha(x, y[:1].expand_as(x))
    rows = torch.stack([ts.optimal_alpha(x[i : i + 1], y[:1])[0] for i in range(6)])
    assert torch.equal(one, rows)
    assert ts.optimal_alpha(x[:0], y[:0]).shape == (0,)


def test_passes_decide_the_accuracy():
    # the accuracy bound above can fail: one Halley pass from 1/2 is ~1e-4 off on these rows
    x, y = families(8, 20000)["gaussian"]
    want, certified = reference_alpha(x, y)
    assert certified
    errs = [(ts.optimal_alpha(x, y, passes=p).double() - want).abs().max().item() for p in (1, 2)]
    assert errs[0] > 1e-5 and errs[1] <= 1e-6, errs


@pytest.mark.slow
def test_compiled_optimal_alpha_one_graph_and_accurate(monkeypatch):
    """torch.compile(optimal_alpha) (inductor): one graph, no break; valid rows within 1e-6 of
    the certified float64 reference (and of the eager fused formulation to float32 rounding of
    sums taken in another order: 1e-6), invalid rows NaN."""
    monkeypatch.setattr(ts, "_FUSED_EAGER", False)
    x, y = families(6, 20000)["zipf"]
    x, y = x.clone(), y.clone()
    x[4] = y[4]  # identical -> 1/2
    x[5, :10000] = -math.inf
    y[5, 10000:] = -math.inf  # disjoint -> NaN
    explain = torch._dynamo.explain(ts.optimal_alpha)(x, y)
    assert explain.graph_break_count == 0 and explain.graph_count == 1, explain.break_reasons
    torch._dynamo.reset()
    got = torch.compile(ts.optimal_alpha)(x, y)
    want, certified = reference_alpha(x[:4], y[:4])
    assert certified
    assert (got[:4].double() - want).abs().max().item() <= 1e-6
    assert got[4] == 0.5 and torch.isnan(got[5])
    monkeypatch.setattr(ts, "_FUSED_EAGER", True)
    eager = ts.optimal_alpha(x, y)
    assert (got[:5] - eager[:5]).abs().max().item() <= 1e-6
