"""Edges of the sample diagnostics (Kish ESS, PSIS k-hat) and of the gamma rules that consume
log_w samples (issue 11): underflowing k-hat tails equal in mpmath, NumPy and torch; NaN, +inf,
-inf, empty and all-masked inputs give the documented value or a ValueError naming the argument
and the value, identically in every twin; on a device (no data checks) the documented NaN."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import isreshape.reference.diagnostics as rdiag
import isreshape.reference.gamma as rgamma
import isreshape.torch_impl._validate as tval
import isreshape.torch_impl.diagnostics as tdiag
import isreshape.torch_impl.gamma as tgamma

NAN, INF = float("nan"), float("inf")


def _tight_plus_outlier(sd: float, gap: float, s: int, seed: int = 0) -> list[float]:
    """s - 1 draws N(0, sd^2) and one draw gap nats above: for gap ~ 700 and sd <= 1e-6 the
    exceedances exp(l - max) - exp(cutoff - max) of the cluster are below 1e-308."""
    rng = np.random.default_rng(seed)
    return [float(v) for v in rng.normal(0.0, sd, size=s - 1)] + [gap]


def _mp_khat(lw, mask=None):
    with mpmath.workdps(50):
        return float(rdiag.psis_khat(lw, mask))


# ------------------------------------------------------------ k-hat on underflowing tails

# (sd, gap, S, k-hat from the 50-digit reference). Before the fix NumPy gave NaN on every row
# but the first and torch 24.5840 (rows 2-5) / 11.2687 (row 6).
UNDERFLOW = [
    (1e-3, 700.0, 100, 24.727364768514157),
    (1e-6, 700.0, 100, 24.957618529933477),
    (1e-9, 700.0, 100, 25.18789009597445),
    (1e-6, 705.0, 100, 25.124294687801648),
    (1e-3, 708.0, 100, 24.99404687780456),
    (1e-12, 700.0, 400, 12.009908132476701),
]


@pytest.mark.parametrize("sd, gap, s, want", UNDERFLOW)
def test_khat_underflowing_tail_equal_in_all_twins(sd, gap, s, want):
    lw = _tight_plus_outlier(sd, gap, s)
    ref = _mp_khat(lw)
    assert math.isclose(ref, want, rel_tol=1e-15)
    got_np = rdiag.psis_khat_np(lw)
    got_t = float(tdiag.psis_khat(torch.tensor(lw, dtype=torch.float64)))
    assert math.isclose(got_np, ref, rel_tol=1e-13), (got_np, ref)
    assert math.isclose(got_t, got_np, rel_tol=1e-14), (got_t, got_np)
    # and the k-hat bound is defined there (it raised on the NaN before)
    b_ref = float(rgamma.gamma_khat_bound(got_np))
    b_t = float(tgamma.gamma_khat_bound(torch.tensor(got_t, dtype=torch.float64)))
    assert math.isclose(b_ref, 0.7 / ref, rel_tol=1e-13)
    assert math.isclose(b_t, b_ref, rel_tol=1e-14)


@pytest.mark.parametrize("sd", [1e-3, 1e-6])
def test_khat_underflowing_tail_float32(sd):
    """float32 inputs: torch computes in float64 and rounds once, so it equals the float64
    NumPy value of the same (float32-representable) draws, rounded to float32."""
    lw32 = np.asarray(_tight_plus_outlier(sd, 700.0, 100, seed=3), dtype=np.float32)
    want = rdiag.psis_khat_np(lw32.astype(np.float64))
    assert math.isclose(want, _mp_khat([float(v) for v in lw32]), rel_tol=1e-13)
    got = tdiag.psis_khat(torch.tensor(lw32))
    assert got.dtype == torch.float32
    assert got.item() == float(np.float32(want)), (got.item(), want)


def test_khat_underflow_batched_and_masked_rows():
    rows = [
        _tight_plus_outlier(sd, gap, 100, seed=i)
        for i, (sd, gap) in enumerate([(1e-6, 700.0), (0.5, 0.0), (1e-9, 705.0), (1e-3, 100.0)])
    ]
    lw = torch.tensor(rows, dtype=torch.float64)
    mask = torch.ones_like(lw, dtype=torch.bool)
    mask[1, ::3] = False
    mask[2, :40] = False
    got = tdiag.psis_khat(lw, mask)
    for i in range(4):
        keep = mask[i].numpy()
        want = rdiag.psis_khat_np(np.asarray(rows[i]), keep)
        assert math.isclose(float(got[i]), want, rel_tol=1e-14), (i, float(got[i]), want)


tight = st.floats(1e-12, 1e-2)
gaps = st.floats(650.0, 708.0)


@settings(max_examples=30, deadline=None)
@given(tight, gaps, st.integers(21, 300), st.integers(0, 2**16))
def test_khat_tight_cluster_plus_outlier_numpy_equals_torch(sd, gap, s, seed):
    lw = _tight_plus_outlier(sd, gap, s, seed)
    want = rdiag.psis_khat_np(lw)
    got = float(tdiag.psis_khat(torch.tensor(lw, dtype=torch.float64)))
    assert math.isfinite(want) and want > 0.7  # one huge draw: a very heavy tail
    assert math.isclose(got, want, rel_tol=1e-13), (got, want)


@settings(max_examples=8, deadline=None)
@given(tight, gaps, st.integers(21, 60), st.integers(0, 2**16))
def test_khat_tight_cluster_plus_outlier_numpy_equals_mpmath(sd, gap, s, seed):
    lw = _tight_plus_outlier(sd, gap, s, seed)
    assert math.isclose(rdiag.psis_khat_np(lw), _mp_khat(lw), rel_tol=1e-12)


def test_khat_degenerate_tails():
    # five equal exceedances: a point mass tail, a finite (negative: bounded) value
    lw = [1.0] * 5 + [0.0] * 95
    want = _mp_khat(lw)
    assert math.isclose(want, -1.63635200745744, rel_tol=1e-13)
    assert math.isclose(rdiag.psis_khat_np(lw), want, rel_tol=1e-13)
    got = float(tdiag.psis_khat(torch.tensor(lw, dtype=torch.float64)))
    assert math.isclose(got, want, rel_tol=1e-13)
    # every other draw more than 708.4 nats below the top (ArviZ's cutoff floor): the tail is
    # the top draw alone, too short: +inf in every twin, and the bound is 0
    for gap in (708.5, 710.0, 1e4):
        lw = _tight_plus_outlier(1e-6, gap, 100)
        assert _mp_khat(lw) == INF
        assert rdiag.psis_khat_np(lw) == INF
        assert float(tdiag.psis_khat(torch.tensor(lw, dtype=torch.float64))) == INF
    assert float(rgamma.gamma_khat_bound(INF)) == 0.0
    # every weight 0: no tail, +inf (ArviZ's "not enough tail samples"), in every twin
    lw = [-INF] * 30
    assert _mp_khat(lw) == INF and rdiag.psis_khat_np(lw) == INF
    assert float(tdiag.psis_khat(torch.tensor(lw, dtype=torch.float64))) == INF


def test_khat_minus_inf_is_a_zero_weight():
    base = [float(v) for v in np.random.default_rng(5).exponential(0.7, size=60)]
    lw = base + [-INF] * 15  # S = 75: -inf draws count in S (tail 15), never in the tail
    want = _mp_khat(lw)
    assert math.isfinite(want)
    assert math.isclose(rdiag.psis_khat_np(lw), want, rel_tol=1e-12)
    assert math.isclose(
        float(tdiag.psis_khat(torch.tensor(lw, dtype=torch.float64))), want, rel_tol=1e-12
    )


# ------------------------------------------------------------ argument errors, every twin


def _mp(fn):
    def call(lw, mask=None):
        with mpmath.workdps(30):
            return fn(lw, mask)

    return call


def _torch(fn):
    def call(lw, mask=None):
        m = None if mask is None else torch.tensor(mask, dtype=torch.bool)
        return fn(torch.tensor(lw, dtype=torch.float64), m)

    return call


KISH = {
    "mp kish_ess": _mp(rdiag.kish_ess),
    "mp kish_ess_ratio": _mp(rdiag.kish_ess_ratio),
    "np kish_ess_ratio_np": rdiag.kish_ess_ratio_np,
    "torch kish_ess": _torch(tdiag.kish_ess),
    "torch kish_ess_ratio": _torch(tdiag.kish_ess_ratio),
}
KHAT = {
    "mp psis_khat": _mp(rdiag.psis_khat),
    "np psis_khat_np": rdiag.psis_khat_np,
    "torch psis_khat": _torch(tdiag.psis_khat),
}

# (log_w, mask, exact message): the same text from every twin
ERRORS = [
    ([0.0, NAN, 1.0], None, "log_w[1] must not be NaN, got nan"),
    ([0.0, 1.0, INF], None, "log_w[2] must be below +inf (an infinite weight), got inf"),
    ([], None, None),  # the shape in the message differs by type; checked below
    (
        [1.0, 2.0],
        [False, False],
        "mask must select at least one entry (empty sample), got all 2 False",
    ),
]


@pytest.mark.parametrize("name, fn", list(KISH.items()) + list(KHAT.items()))
@pytest.mark.parametrize("lw, mask, msg", ERRORS)
def test_invalid_samples_raise_naming_argument_and_value(name, fn, lw, mask, msg):
    with pytest.raises(ValueError) as err:
        fn(lw, mask)
    if msg is None:
        assert str(err.value).startswith("log_w must hold at least one entry, got")
    else:
        assert str(err.value) == msg, name


@pytest.mark.parametrize("name, fn", list(KISH.items()))
def test_kish_all_minus_inf_raises(name, fn):
    """Every weight 0: (sum w)^2 / sum w^2 = 0 / 0 with no limit, no ESS: ValueError."""
    for lw, mask in (([-INF, -INF], None), ([-INF, 3.0, -INF], [True, False, True])):
        with pytest.raises(ValueError) as err:
            fn(lw, mask)
        assert str(err.value) == rdiag._NO_MASS == tdiag._NO_MASS
        assert "log_w" in str(err.value) and "-inf" in str(err.value)


def test_batched_errors_name_the_entry_identically():
    lw = np.zeros((3, 25))
    lw[2, 7] = NAN
    msg = "log_w[2, 7] must not be NaN, got nan"
    with pytest.raises(ValueError, match=r"^log_w\[2, 7\] must not be NaN, got nan$"):
        rdiag.kish_ess_ratio_np(lw)
    for fn in (tdiag.kish_ess, tdiag.kish_ess_ratio, tdiag.psis_khat):
        with pytest.raises(ValueError) as err:
            fn(torch.tensor(lw))
        assert str(err.value) == msg
    # the index is in log_w's own layout when dim is not the last
    with pytest.raises(ValueError) as err:
        tdiag.psis_khat(torch.tensor(lw.T), dim=0)
    assert str(err.value) == "log_w[7, 2] must not be NaN, got nan"
    lw[2, 7] = -INF
    lw[1, :] = -INF
    with pytest.raises(ValueError, match="all -inf"):
        rdiag.kish_ess_ratio_np(lw)
    with pytest.raises(ValueError, match="all -inf"):
        tdiag.kish_ess_ratio(torch.tensor(lw))
    assert tdiag.psis_khat(torch.tensor(lw))[1].item() == INF


# ------------------------------------------------------------ documented values


@pytest.mark.parametrize("name, fn", list(KISH.items()))
def test_kish_values_at_the_edges(name, fn):
    ratio = "ratio" in name
    # -inf is a zero weight: counted in n, not in the sums
    got = float(fn([0.0, -INF]))
    assert got == (0.5 if ratio else 1.0)
    got = float(fn([0.0, -INF, 1.0]))
    e = math.e
    ess = (1 + e) ** 2 / (1 + e * e)
    assert math.isclose(got, ess / 3 if ratio else ess, rel_tol=1e-15)
    # masked-out entries are not read (padding may hold NaN or +-inf)
    got = float(fn([0.0, NAN, 1.0, INF, -INF], [True, False, True, False, False]))
    assert math.isclose(got, ess / 2 if ratio else ess, rel_tol=1e-15)
    # a single selected entry, and extreme spread
    assert float(fn([700.0, 3.0], [False, True])) == 1.0
    assert math.isclose(float(fn([700.0, -700.0])), 0.5 if ratio else 1.0, rel_tol=1e-15)


@pytest.mark.parametrize("name, fn", list(KHAT.items()))
def test_khat_masked_out_entries_not_read(name, fn):
    base = [float(v) for v in np.random.default_rng(9).exponential(0.5, size=40)]
    want = _mp_khat(base)
    lw = base[:20] + [NAN, INF, -INF] + base[20:]
    mask = [True] * 20 + [False] * 3 + [True] * 20
    assert math.isclose(float(fn(lw, mask)), want, rel_tol=1e-12)


def test_numpy_inputs_not_modified():
    lw = np.array([[0.0, NAN, 1.0], [2.0, -INF, 3.0]])
    mask = np.array([[True, False, True], [True, True, True]])
    before = lw.copy()
    rdiag.kish_ess_ratio_np(lw, mask)
    rdiag.psis_khat_np(lw[1], mask[1])
    np.testing.assert_array_equal(lw, before)


# ------------------------------------------------------------ device path: no data checks


@pytest.fixture
def no_data_checks(monkeypatch):
    """What a CUDA tensor sees: ``_checkable`` is False, so only the math runs."""
    monkeypatch.setattr(tdiag, "_checkable", lambda x: False)
    monkeypatch.setattr(tval, "_checkable", lambda x: False)


def test_device_path_gives_nan_for_invalid_rows(no_data_checks):
    lw = torch.tensor(
        [
            [0.0] * 29 + [NAN],
            [0.0] * 29 + [INF],
            [1.0] * 30,  # masked out entirely below
            [-INF] * 30,
            [float(v) for v in np.random.default_rng(1).exponential(0.5, size=30)],
        ],
        dtype=torch.float64,
    )
    mask = torch.ones_like(lw, dtype=torch.bool)
    mask[2] = False
    ess = tdiag.kish_ess_ratio(lw, mask)
    assert torch.isnan(ess[:4]).all() and torch.isfinite(ess[4])
    assert torch.isnan(tdiag.kish_ess(lw, mask)[:4]).all()
    khat = tdiag.psis_khat(lw, mask)
    assert torch.isnan(khat[:3]).all()
    assert khat[3].item() == INF  # every weight 0: documented +inf, not an error
    assert math.isclose(khat[4].item(), rdiag.psis_khat_np(lw[4].numpy()), rel_tol=1e-14)
    bound = tgamma.gamma_khat_bound(khat)
    assert torch.isnan(bound[:3]).all() and bound[3].item() == 0.0


# ------------------------------------------------------------ gamma rules on log_w samples


def _both(ref_fn, torch_fn):
    def ref(*a, **k):
        with mpmath.workdps(30):
            return ref_fn(*a, **k)

    def tor(*a, **k):
        a = [torch.tensor(v, dtype=torch.float64) if isinstance(v, list) else v for v in a]
        return torch_fn(*a, **k)

    return [ref, tor]


# reference._checks.as_mp_list words NaN as "log_w[1] is NaN"; either way name and value
NONFINITE = r"(\[\d+\] is NaN|.*must be finite, got .*(nan|inf))"


@pytest.mark.parametrize("bad", [NAN, INF, -INF])
def test_seed_code_gamma_rules_reject_nonfinite_log_w(bad):
    for fn in _both(rgamma.trainer_gamma_seed_code, tgamma.trainer_gamma_seed_code):
        with pytest.raises(ValueError, match=r"^log_w" + NONFINITE):
            fn([0.0, bad, 1.0])
    for fn in _both(rgamma.compute_optimal_gamma_seed_code, tgamma.compute_optimal_gamma_seed_code):
        with pytest.raises(ValueError, match=r"^log_pi" + NONFINITE):
            fn([0.0, bad, 1.0], [0.0, 0.0, 0.0])
        with pytest.raises(ValueError, match=r"^log_mu" + NONFINITE):
            fn([0.0, 0.0, 0.0], [0.0, bad, 1.0])
    for fn in _both(rgamma.per_sign_gamma, tgamma.per_sign_gamma):
        with pytest.raises(ValueError, match=r"^log_w" + NONFINITE):
            fn([0.0, bad, 1.0], [1.0, -1.0, 1.0])


@pytest.mark.parametrize("lw", [[], [0.5]])
def test_seed_code_gamma_rules_reject_short_samples(lw):
    n = len(lw)
    for fn in _both(rgamma.trainer_gamma_seed_code, tgamma.trainer_gamma_seed_code):
        with pytest.raises(ValueError, match=rf"^log_w needs at least 2 entries.*got {n}$"):
            fn(lw)
    for fn in _both(rgamma.compute_optimal_gamma_seed_code, tgamma.compute_optimal_gamma_seed_code):
        with pytest.raises(ValueError, match=rf"^log_pi needs at least 2 entries.*got {n}$"):
            fn(lw, lw)


def test_per_sign_gamma_empty_and_all_masked_give_defaults():
    for fn in _both(rgamma.per_sign_gamma, tgamma.per_sign_gamma):
        assert [float(v) for v in fn([], [])] == [0.5, 1.5]
        got = fn([0.1, 0.3], [1.0, -1.0], mask=[False, False])
        assert [float(v) for v in got] == [0.5, 1.5]


def test_gamma_khat_bound_rejects_nan_naming_khat():
    with pytest.raises(ValueError, match=r"^khat must not be NaN, got nan$"):
        rgamma.gamma_khat_bound(NAN)
    with pytest.raises(ValueError, match=r"^khat must be not NaN, got \[nan\]"):
        tgamma.gamma_khat_bound(torch.tensor([0.5, NAN]))
