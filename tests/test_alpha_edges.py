"""alpha* at the edges (issue 11): nearly identical rows, rows peaked on a shared token, exactly
identical and shifted-identical rows, and bad input, in all three implementations (mpmath,
NumPy float64, torch float64 and the float32 fast path), each against the 50-digit mpmath
value computed on the same float inputs."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import torch

from isreshape.reference import sampling as ref
from isreshape.torch_impl import sampling as ts

DELTAS = (1e-1, 1e-3, 1e-5, 1e-7, 1e-9, 1e-12)


def _mp(th_row, tg_row, dps: int = 50) -> mpmath.mpf:
    with mpmath.workdps(dps):
        return ref.optimal_alpha([float(v) for v in th_row], [float(v) for v in tg_row])


def _near_identical(delta: float, v: int, rows: int, seed: int, dtype=np.float64):
    """target logits = theta logits + delta * noise, rounded to ``dtype`` (both returned as
    float64 arrays holding the ``dtype`` values)."""
    rng = np.random.default_rng(seed)
    th = (3 * rng.standard_normal((rows, v))).astype(dtype)
    tg = (th.astype(np.float64) + delta * rng.standard_normal((rows, v))).astype(dtype)
    return th.astype(np.float64), tg.astype(np.float64)


@pytest.mark.parametrize("delta", DELTAS)
def test_near_identical_rows_float64(delta):
    """NumPy and torch float64 within 1e-12 of mpmath for delta down to 1e-12 (before the
    shift-free form: 0.5 at 1e-7 in NumPy, 0.5 at 1e-9 in torch)."""
    th, tg = _near_identical(delta, 200, 2, seed=1)
    want = np.array([float(_mp(th[i], tg[i])) for i in range(2)])
    got_np = ref.optimal_alpha_np(th, tg)
    got_t = ts.optimal_alpha(torch.tensor(th), torch.tensor(tg)).numpy()
    assert np.abs(got_np - want).max() <= 1e-12, (got_np, want)
    assert np.abs(got_t - want).max() <= 1e-12, (got_t, want)
    # the exact answer tends to 1/2 (it is 1/2 + O(spread))
    assert np.abs(want - 0.5).max() <= 10 * delta


def test_mpmath_reference_is_precision_independent_at_tiny_spread():
    """The mpmath value at delta = 1e-12 agrees at 30, 50 and 80 digits (it used to lose
    log10(1 / Var) digits to the difference of two log-normalisers)."""
    th, tg = _near_identical(1e-12, 200, 1, seed=3)
    a30, a50, a80 = (_mp(th[0], tg[0], dps) for dps in (30, 50, 80))
    with mpmath.workdps(80):
        assert abs(a30 - a80) <= mpmath.mpf(10) ** -28
        assert abs(a50 - a80) <= mpmath.mpf(10) ** -48
        assert 0 < abs(a80 - mpmath.mpf(1) / 2) < mpmath.mpf(10) ** -11  # not snapped to 1/2


FLOAT32_BOUND = 1e-5  # documented in torch_impl.sampling.optimal_alpha (float32 internals)


@pytest.mark.parametrize("delta", (*DELTAS, 3e-2))
def test_near_identical_rows_float32_fast_path(delta, monkeypatch):
    """The float32 internals (V = 3000 > SMALL_VOCAB) within the documented bound of mpmath on
    the same float32 inputs (before: 7.8e-3 at delta = 1e-3, 0.5 from 1e-5 down): the eager
    solver and the formulation torch.compile runs (``_FUSED_EAGER``), against one mpmath value."""
    assert ts.SMALL_VOCAB < 3000
    th, tg = _near_identical(delta, 3000, 2, seed=2, dtype=np.float32)
    want = np.array([float(_mp(th[i], tg[i], 40)) for i in range(2)])
    x, y = torch.tensor(th, dtype=torch.float32), torch.tensor(tg, dtype=torch.float32)
    for fused in (False, True):
        monkeypatch.setattr(ts, "_FUSED_EAGER", fused)
        got = ts.optimal_alpha(x, y)
        assert got.dtype == torch.float32
        assert np.abs(got.double().numpy() - want).max() <= FLOAT32_BOUND, fused


@pytest.mark.parametrize("peak", (40.0, 45.0, 100.0, 700.0))
def test_rows_peaked_on_a_shared_token(peak):
    """Both rows put all but ~exp(-peak) of their mass on token 0: alpha* is decided by the
    off-peak mass, which log-sum-exp rounding used to drop (NumPy: 0.3 off at 40)."""
    rng = np.random.default_rng(5)
    th = 3 * rng.standard_normal((2, 50))
    tg = 3 * rng.standard_normal((2, 50))
    th[:, 0] = tg[:, 0] = peak
    want = np.array([float(_mp(th[i], tg[i])) for i in range(2)])
    assert ((want > 0.3) & (want < 0.4)).all()  # interior, the same limit for every peak
    got_np = ref.optimal_alpha_np(th, tg)
    got_t = ts.optimal_alpha(torch.tensor(th), torch.tensor(tg)).numpy()
    assert np.abs(got_np - want).max() <= 1e-12, (got_np, want)
    assert np.abs(got_t - want).max() <= 1e-12, (got_t, want)


def _grid_logits(v: int, seed: int) -> np.ndarray:
    """Logits on a 1/1024 grid in (-16, 16): adding 5.0 or 0.375 is exact in float32 and float64."""
    rng = np.random.default_rng(seed)
    return np.clip(np.round(3 * rng.standard_normal((2, v)) * 1024) / 1024, -15, 15)


@pytest.mark.parametrize("shift", (0.0, 5.0, -0.375))
def test_identical_and_shifted_identical_rows_give_one_half(shift):
    """target = theta + const (exactly representable) is the same distribution: exactly 1/2
    in every path (before: 0 or 1 from an exact == test on d)."""
    x = _grid_logits(3000, 7)
    y = x + shift
    assert np.array_equal(y - x, np.full_like(x, shift))  # the shift is exact
    with mpmath.workdps(50):
        assert ref.optimal_alpha(list(x[0, :200]), list(y[0, :200])) == mpmath.mpf(1) / 2
    assert (ref.optimal_alpha_np(x, y) == 0.5).all()
    for dt in (torch.float64, torch.float32):
        got = ts.optimal_alpha(torch.tensor(x, dtype=dt), torch.tensor(y, dtype=dt))
        assert (got == 0.5).all(), (dt, got)
    small = ts.optimal_alpha(
        torch.tensor(x[:, :100], dtype=torch.float32), torch.tensor(y[:, :100])
    )
    assert (small == 0.5).all()  # float32 input, float64 internals (V <= SMALL_VOCAB)


def test_shift_with_different_supports_goes_to_the_endpoint():
    """d constant and nonzero on S (target = theta truncated and shifted): the endpoint 1 in
    every path, as for the unshifted truncation."""
    x = _grid_logits(3000, 8)
    y = x + 5.0
    y[:, 1500:] = -math.inf
    with mpmath.workdps(30):
        assert ref.optimal_alpha(list(x[0, 1490:1510]), list(y[0, 1490:1510])) == 1
    assert (ref.optimal_alpha_np(x, y) == 1.0).all()
    for dt in (torch.float64, torch.float32):
        assert (ts.optimal_alpha(torch.tensor(x, dtype=dt), torch.tensor(y, dtype=dt)) == 1).all()


BAD = [
    ("logits_theta", [0.0, math.nan], [0.0, 1.0], r"logits_theta\[1\] is NaN"),
    ("logits_target", [0.0, 1.0], [math.inf, 1.0], r"logits_target\[0\] is \+inf"),
    ("logits_theta", [-math.inf, -math.inf], [0.0, 1.0], r"every entry of logits_theta is -inf"),
    ("logits_target", [0.0, 1.0], [], r"logits_target"),
    ("logits_theta", [0.0, -math.inf], [-math.inf, 0.0], r"disjoint"),
    ("logits_theta", [0.0, 1.0], [0.0, 1.0, 2.0], r"logits_theta and logits_target"),
]


@pytest.mark.parametrize(("name", "th", "tg", "pattern"), BAD)
def test_bad_input_raises_the_same_error_in_all_three(name, th, tg, pattern):
    """NaN, +inf, a row of only -inf, an empty vocabulary, disjoint supports and a length
    mismatch: ValueError naming the argument and the value, in mpmath, NumPy and torch
    (NumPy used to call NaN / +inf rows 'disjoint supports')."""
    with mpmath.workdps(30), pytest.raises(ValueError, match=pattern):
        ref.optimal_alpha(th, tg)
    with pytest.raises(ValueError, match=pattern):
        ref.optimal_alpha_np(th, tg)
    tt = torch.tensor(th, dtype=torch.float64)
    tgt = torch.tensor(tg, dtype=torch.float64)
    with pytest.raises(ValueError, match=pattern):
        ts.optimal_alpha(tt, tgt)


def test_numpy_batched_bad_values_name_the_index_and_inputs_are_untouched():
    x = np.zeros((3, 5))
    y = np.ones((3, 5))
    y[2, 4] = math.nan
    with pytest.raises(ValueError, match=r"logits_target\[2, 4\] is NaN"):
        ref.optimal_alpha_np(x, y)
    x[1] = -math.inf
    with pytest.raises(ValueError, match=r"every entry of logits_theta is -inf in row \(1,\)"):
        ref.optimal_alpha_np(x, np.ones((3, 5)))
    with pytest.raises(ValueError, match="do not broadcast"):
        ref.optimal_alpha_np(np.zeros((3, 5)), np.zeros((2, 5)))
    # no rows: an empty result; inputs are not modified
    assert ref.optimal_alpha_np(np.zeros((0, 5)), np.zeros((0, 5))).shape == (0,)
    a, b = _near_identical(1e-9, 50, 2, seed=9)
    a0, b0 = a.copy(), b.copy()
    ref.optimal_alpha_np(a, b)
    assert np.array_equal(a, a0) and np.array_equal(b, b0)


def test_series_and_newton_agree_where_both_apply():
    """Just above the series threshold the Newton path and the series give the same root:
    the switch at SERIES_SPREAD is not a jump."""
    rng = np.random.default_rng(11)
    th = 3 * rng.standard_normal((1, 300))
    u = rng.uniform(size=(1, 300))
    tg = th + ref.SERIES_SPREAD * 1.5 * (u - u.min()) / (u.max() - u.min())
    common, la, ec, _, big_l = ref._np_shift_free(th, tg)
    series = ref._np_series_alpha(np.exp(la), ec, big_l)
    newton = ref.optimal_alpha_np(th, tg)  # spread 0.075 > SERIES_SPREAD: Newton
    want = float(_mp(th[0], tg[0]))
    assert abs(newton[0] - want) <= 1e-13 and abs(series[0] - want) <= 1e-13


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("compute", [None, torch.float32])
def test_unchecked_invalid_rows_come_out_nan(dtype, compute, monkeypatch):
    # on a device the argument checks are skipped (simulated here): NaN / +inf logits, disjoint
    # supports and all -inf rows must give NaN, never 1/2 or 0; valid rows are unaffected
    import isreshape.torch_impl.sampling as S

    inf = math.inf
    theta = [[0.0, math.nan, 1.0], [0.0, -inf, -inf], [-inf, -inf, -inf], [0.0, inf, 1.0],
             [0.0, 1.0, 2.0]]
    target = [[0.0, 1.0, 2.0], [-inf, 0.0, 1.0], [0.0, 1.0, 2.0], [0.0, 1.0, 2.0],
              [0.5, 1.0, 2.0]]
    x, y = torch.tensor(theta, dtype=dtype), torch.tensor(target, dtype=dtype)
    want_last = S.optimal_alpha(x[4:], y[4:], compute_dtype=compute)
    monkeypatch.setattr(S, "_checkable", lambda t: False)
    got = S.optimal_alpha(x, y, compute_dtype=compute)
    assert torch.isnan(got[:4]).all(), got
    assert got[4] == want_last[0]
