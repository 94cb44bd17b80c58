"""PSIS Pareto k-hat: the mpmath reference, its NumPy companion and the batched torch twin
against each other, against ArviZ's documented tail-length formula, and on samples with a known
tail index. Plus Kish ESS edges."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import isreshape.torch_impl.diagnostics as tdiag
from isreshape.reference.diagnostics import (
    kish_ess_ratio,
    psis_khat,
    psis_khat_np,
    psis_tail_length,
)


def test_tail_length_matches_arviz_float_formula():
    # ArviZ psislw: cutoff_ind = -ceil(min(n / 5, 3 sqrt(n / r_eff))) - 1 with r_eff = 1
    for n in range(1, 5001):
        assert psis_tail_length(n) == int(math.ceil(min(n / 5.0, 3 * (n / 1.0) ** 0.5))), n
    with pytest.raises(ValueError, match="n"):
        psis_tail_length(0)


def test_torch_tail_length_is_exact():
    s = torch.arange(1, 200_001)
    got = tdiag._tail_length(s)
    want = torch.tensor([psis_tail_length(int(n)) for n in range(1, 200_001, 997)])
    assert torch.equal(got[::997], want)


samples = st.lists(st.floats(-30, 30, allow_nan=False), min_size=21, max_size=80)


@settings(max_examples=25, deadline=None)
@given(samples)
def test_numpy_companion_matches_mpmath(log_w):
    with mpmath.workdps(30):
        want = float(psis_khat(log_w))
    got = psis_khat_np(log_w)
    if math.isinf(want):
        assert got == want
    else:
        assert math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-12), (got, want)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-700, 700, allow_nan=False), min_size=1, max_size=300))
def test_torch_matches_numpy_companion(log_w):
    want = psis_khat_np(log_w)
    got = float(tdiag.psis_khat(torch.tensor(log_w, dtype=torch.float64)))
    assert not math.isnan(got)
    if math.isinf(want):
        assert got == want
    else:
        assert math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-12), (got, want)


def test_batched_masked_rows_equal_single_rows():
    rng = np.random.default_rng(7)
    lw = rng.standard_t(2, size=(5, 400))
    mask = rng.random((5, 400)) < np.array([[1.0], [0.9], [0.5], [0.2], [0.04]])
    got = tdiag.psis_khat(torch.tensor(lw), torch.tensor(mask))
    want = [psis_khat_np(lw[i][mask[i]]) for i in range(5)]
    for g, w in zip(got.tolist(), want):
        assert (math.isinf(w) and g == w) or math.isclose(g, w, rel_tol=1e-10), (g, w)
    # the sample dim can be any dim
    got_t = tdiag.psis_khat(torch.tensor(lw.T), torch.tensor(mask.T), dim=0)
    assert torch.allclose(got_t, got, rtol=1e-12)


@pytest.mark.parametrize("k_true", [0.3, 0.7, 1.2])
def test_known_pareto_tail_index(k_true):
    """w = exp(E), E ~ Exponential(scale k): P(w > t) = t^(-1/k), GPD shape k. 8 replicates of
    S = 20000 (tail M = 425); tolerance 3 standard errors of the mean, the asymptotic sd of the
    shape estimate being (1 + k) / sqrt(M)."""
    rng = np.random.default_rng(int(k_true * 1000))
    lw = rng.exponential(k_true, size=(8, 20_000))
    est = tdiag.psis_khat(torch.tensor(lw))
    tol = 3 * (1 + k_true) / math.sqrt(425 * 8)
    assert abs(float(est.mean()) - k_true) < tol, (est, tol)


def test_known_student_t_tail_index():
    """|t_nu| has a regularly varying tail with index nu: shape 1 / nu (nu = 2 -> 0.5).
    Tolerance 0.1 on the mean of 4 replicates of S = 20000 (second-order bias of Student-t)."""
    rng = np.random.default_rng(2)
    t = rng.standard_t(2, size=(4, 20_000))
    est = tdiag.psis_khat(torch.tensor(np.log(np.abs(t))))
    assert abs(float(est.mean()) - 0.5) < 0.1, est


def test_bounded_and_light_tails():
    rng = np.random.default_rng(3)
    u = rng.uniform(size=20_000)  # bounded weights: GPD shape -1
    assert psis_khat_np(np.log(u)) < -0.5
    lw = rng.normal(0, 0.5, size=20_000)  # light tail: k-hat small
    assert psis_khat_np(lw) < 0.3


def test_shift_invariance_and_no_nan_at_extremes():
    rng = np.random.default_rng(4)
    lw = rng.exponential(0.6, size=500)
    base = float(tdiag.psis_khat(torch.tensor(lw)))
    for c in (-650.0, 650.0):
        shifted = float(tdiag.psis_khat(torch.tensor(lw + c)))
        assert math.isclose(shifted, base, rel_tol=1e-9)
    wide = np.concatenate([[700.0, -700.0, 300.0], rng.normal(-600, 50, size=200)])
    for dt in (torch.float64, torch.float32, torch.bfloat16):
        out = tdiag.psis_khat(torch.tensor(wide).to(dt))
        assert out.dtype == dt and not torch.isnan(out).any()


def test_khat_edges():
    assert math.isinf(psis_khat_np([0.5] * 50))
    assert math.isinf(float(tdiag.psis_khat(torch.zeros(50, dtype=torch.float64))))
    assert math.isinf(float(tdiag.psis_khat(torch.randn(20, dtype=torch.float64))))
    lw = torch.tensor([0.0, float("-inf")] * 30, dtype=torch.float64)
    assert not torch.isnan(tdiag.psis_khat(lw)).any()
    with pytest.raises(ValueError, match="NaN"):
        tdiag.psis_khat(torch.tensor([0.0] * 30 + [float("nan")]))
    with pytest.raises(ValueError, match=r"\+inf"):
        tdiag.psis_khat(torch.tensor([0.0] * 30 + [float("inf")]))
    with pytest.raises(ValueError, match="empty"):
        tdiag.psis_khat(torch.zeros(2, 30), mask=torch.tensor([[True] * 30, [False] * 30]))
    with pytest.raises(ValueError, match="log_w"):
        psis_khat([1.0, float("nan")])


def test_khat_does_not_modify_input():
    lw = torch.randn(3, 100)
    before = lw.clone()
    tdiag.psis_khat(lw)
    assert torch.equal(lw, before)


def test_kish_edges():
    # -inf entries count in n but carry no weight; the ESS ratio is then below 1
    with mpmath.workdps(30):
        assert float(kish_ess_ratio([0.0, float("-inf")])) == 0.5
    out = tdiag.kish_ess_ratio(torch.tensor([[700.0, -700.0], [0.0, 0.0]], dtype=torch.float64))
    assert torch.allclose(out, torch.tensor([0.5, 1.0], dtype=torch.float64))
