"""Peer designs: torch twins against the mpmath reference (hypothesis), batched and masked
sequence-level gradients, library-form equivalences, and the edges (no NaN, no in-place)."""

from __future__ import annotations

import math

import mpmath
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import isreshape.reference.peers as ref
import isreshape.torch_impl.peers as tp
import isreshape.torch_impl.weights as tw

LOG_W = st.floats(-700, 700, allow_nan=False)
ADV = st.floats(-1e3, 1e3, allow_nan=False)

# token design -> (params, boundary ratios where phi has a kink or jump)
TOKEN = {
    "ppo_clip": ({"clip_ratio_low": 0.2, "clip_ratio_high": 0.28}, (0.8, 1.28)),
    "ppo_dual_clip": (
        {"clip_ratio_low": 0.2, "clip_ratio_high": 0.28, "clip_ratio_c": 3.0},
        (0.8, 1.28, 3.0),
    ),
    "cispo_verl": ({"clip_ratio_low": 0.2, "clip_ratio_high": 0.28}, ()),
    "ppo_phi_section_1_3": ({"epsilon": 0.2}, ()),
    "cispo_trl": ({"epsilon_high": 5.0}, ()),
    "sapo": ({"tau_pos": 1.0, "tau_neg": 1.05}, ()),
    "tis_token": ({"clip_min": 0.25, "clip_max": 2.0}, ()),
    "mis_token": ({"clip_min": 0.5, "clip_max": 5.0}, (0.5, 5.0)),
    "topr": ({}, ()),
    "dft": ({}, ()),
}
SEQUENCE = {
    "gspo": ({"clip_ratio_low": 0.2, "clip_ratio_high": 0.28}, (0.8, 1.28), "mean"),
    "tis_sequence": ({"clip_min": 0.1, "clip_max": 3.0}, (), "sum"),
    "mis_sequence": ({"clip_min": 0.1, "clip_max": 3.0}, (0.1, 3.0), "sum"),
    "vespo": ({"k_pos": 2.0, "lambda_pos": 3.0, "k_neg": 3.0, "lambda_neg": 2.0}, (), "sum"),
}


def _ref(name, *args, **kw):
    with mpmath.workdps(30):
        out = getattr(ref, name)(*args, **kw)
        return [float(v) for v in out] if isinstance(out, list) else float(out)


def _close(got: float, want: float) -> bool:
    return math.isclose(got, want, rel_tol=1e-12, abs_tol=1e-300)


def _off_kinks(log_ratio: float, boundaries) -> bool:
    return all(abs(log_ratio - math.log(b)) > 1e-9 for b in boundaries)


@pytest.mark.parametrize("name", sorted(TOKEN))
def test_token_twin_matches_reference(name):
    params, boundaries = TOKEN[name]

    @settings(max_examples=120, deadline=None)
    @given(LOG_W, ADV)
    def check(log_w, A):
        assume(_off_kinks(log_w, boundaries))
        want = _ref(name, log_w, A, **params)
        got = getattr(tp, name)(
            torch.tensor(log_w, dtype=torch.float64), torch.tensor(A, dtype=torch.float64), **params
        )
        assert got.dtype == torch.float64 and got.shape == ()
        assert _close(float(got), want), (log_w, A, float(got), want)

    check()


@st.composite
def sequences(draw, max_len: int = 8):
    n = draw(st.integers(1, max_len))
    log_w = draw(st.lists(st.floats(-30, 30, allow_nan=False), min_size=n, max_size=n))
    mask = draw(st.one_of(st.none(), st.lists(st.booleans(), min_size=n, max_size=n)))
    return log_w, mask


@pytest.mark.parametrize("name", sorted(SEQUENCE))
def test_sequence_twin_matches_reference(name):
    params, boundaries, reduce = SEQUENCE[name]

    @settings(max_examples=100, deadline=None)
    @given(sequences(), ADV)
    def check(seq, A):
        log_w, mask = seq
        kept = [x for x, k in zip(log_w, mask or [True] * len(log_w)) if k]
        if kept:
            stat = math.fsum(kept) / (len(kept) if reduce == "mean" else 1)
            assume(_off_kinks(stat, boundaries))
        want = _ref(name, log_w, A, mask=mask, **params)
        got = getattr(tp, name)(
            torch.tensor(log_w, dtype=torch.float64),
            torch.tensor(A, dtype=torch.float64),
            mask=mask,
            **params,
        )
        assert got.shape == (len(log_w),)
        for g, w in zip(got.tolist(), want):
            assert _close(g, w), (log_w, mask, A, got.tolist(), want)

    check()


@settings(max_examples=100, deadline=None)
@given(sequences())
def test_gspo_sequence_ratio_matches_reference(seq):
    log_w, mask = seq
    want = _ref("gspo_sequence_ratio", log_w, mask=mask)
    got = tp.gspo_sequence_ratio(torch.tensor(log_w, dtype=torch.float64), mask=mask)
    assert _close(float(got), want)


# ------------------------------------------------------------------ batched sequence gradients


def _batch(seed: int = 0, B: int = 6, T: int = 7):
    g = torch.Generator().manual_seed(seed)
    log_w = torch.randn(B, T, generator=g, dtype=torch.float64) * 0.3
    mask = torch.rand(B, T, generator=g) < 0.7
    mask[0] = False  # an empty sequence
    mask[1] = True
    A = torch.tensor([0.7, -1.3, 0.0, 2.0, -0.4, 1.1], dtype=torch.float64)[:B, None]
    return log_w, mask, A


SEQ_PARAMS = {
    "gspo": {"clip_ratio_low": 0.05, "clip_ratio_high": 0.08},
    "tis_sequence": {"clip_min": 0.5, "clip_max": 1.5},
    "mis_sequence": {"clip_min": 0.5, "clip_max": 1.5},
    "vespo": {"k_pos": 2.0, "lambda_pos": 3.0, "k_neg": 3.0, "lambda_neg": 2.0},
}


@pytest.mark.parametrize("name", sorted(SEQ_PARAMS))
def test_sequence_batched_gradient_is_minus_phi(name):
    """Autograd of the library's per-token loss (summed over the selected tokens) w.r.t. each
    token's log_w equals -phi_t from the mpmath reference, row by row; masked tokens get 0."""
    params = SEQ_PARAMS[name]
    log_w, mask, A = _batch()
    lw = log_w.clone().requires_grad_(True)
    loss = tp.SURROGATES[name](lw, A, mask=mask, **params)
    (grad,) = torch.autograd.grad(loss.sum(), lw)
    assert torch.equal(grad[~mask], torch.zeros_like(grad[~mask]))
    for b in range(log_w.shape[0]):
        want = _ref(name, log_w[b].tolist(), float(A[b, 0]), mask=mask[b].tolist(), **params)
        for t, w in enumerate(want):
            assert math.isclose(-float(grad[b, t]), w, rel_tol=1e-13, abs_tol=1e-300), (b, t)
    batched = getattr(tp, name)(log_w, A, mask=mask, **params)
    assert torch.allclose(batched, -grad, rtol=1e-13, atol=0)


def test_gspo_sequence_objective_gradient_is_phi_over_length():
    """The GSPO paper / TRL sequence objective -min(s A, clip(s) A) with s = exp(mean log_w):
    d/dlog_w_t = -phi_t / |y| (the token-mean of the aggregation)."""
    log_w, mask, A = _batch(seed=1)
    lo, hi = 0.05, 0.08
    lw = log_w.clone().requires_grad_(True)
    m = mask.to(lw.dtype)
    n = m.sum(-1, keepdim=True).clamp(min=1)
    s = torch.exp((lw * m).sum(-1, keepdim=True) / n)
    loss = -torch.minimum(s * A, torch.clamp(s, 1 - lo, 1 + hi) * A)
    (grad,) = torch.autograd.grad(loss.sum(), lw)
    phi = tp.gspo(log_w, A, mask=mask, clip_ratio_low=lo, clip_ratio_high=hi)
    assert torch.allclose(-grad, phi / n, rtol=1e-13, atol=1e-300)
    assert bool((phi[1] != 0).any()) and bool((phi[0] == 0).all())


def test_token_designs_batched_with_broadcast_advantage():
    """(B, T) log_w with a per-sequence (B, 1) advantage equals the element-wise reference."""
    log_w, _, A = _batch(seed=2)
    for name, (params, _) in TOKEN.items():
        out = getattr(tp, name)(log_w, A, **params)
        assert out.shape == log_w.shape
        for b in range(log_w.shape[0]):
            for t in range(0, log_w.shape[1], 3):
                want = _ref(name, float(log_w[b, t]), float(A[b, 0]), **params)
                assert _close(float(out[b, t]), want), (name, b, t)


# ------------------------------------------------------------------ library-form equivalences


def test_trl_delta_two_sided_clipping_equals_verl_dual_clip():
    """TRL's ``delta`` (coef_1 = min(w, delta), -min(coef_1 A, clip(w) A)) has the gradient of
    verl's dual clip with clip_ratio_c = delta when delta >= 1 + clip_ratio_high."""
    lo, hi, delta = 0.2, 0.28, 2.5
    log_w = torch.linspace(-3, 3, 601, dtype=torch.float64)
    keep_off = (
        ((log_w - math.log(1 - lo)).abs() > 1e-6)
        & ((log_w - math.log(1 + hi)).abs() > 1e-6)
        & ((log_w - math.log(delta)).abs() > 1e-6)
    )
    log_w = log_w[keep_off]
    for a in (-1.7, 0.0, 0.9):
        A = torch.full_like(log_w, a)
        lw = log_w.clone().requires_grad_(True)
        coef_1 = torch.exp(lw)
        coef_2 = torch.clamp(coef_1, 1 - lo, 1 + hi)
        coef_1 = torch.clamp(coef_1, max=delta)
        loss = -torch.min(coef_1 * A, coef_2 * A)
        (grad,) = torch.autograd.grad(loss.sum(), lw)
        phi = tp.ppo_dual_clip(log_w, A, clip_ratio_low=lo, clip_ratio_high=hi, clip_ratio_c=delta)
        assert torch.allclose(-grad, phi, rtol=1e-15, atol=0)
    # and the dual clip really differs from plain PPO for A < 0 beyond c
    assert float(tp.ppo_dual_clip(torch.tensor(1.5), torch.tensor(-1.0))) == 0.0
    assert float(tp.ppo_clip(torch.tensor(1.5), torch.tensor(-1.0))) == pytest.approx(
        -(math.e**1.5)
    )


def test_sapo_verbatim_loss_matches_phi_where_well_conditioned():
    """verl / TRL write the SAPO gate as sigmoid(tau (w - 1)) 4 / tau; its autograd equals phi
    for z = tau (w - 1) < 1 but loses digits as z grows (s (1 - s) from a rounded s) and is
    exactly 0 for z > ~37 in float64 where phi is ~4 w e^{-z} (documented, SURROGATES uses
    1 - sigmoid(-z) for z > 0)."""
    log_w = torch.linspace(-5, math.log(1.9), 300, dtype=torch.float64)
    for a, tau in ((0.8, 1.0), (-0.8, 1.05)):
        A = torch.full_like(log_w, a)
        lw = log_w.clone().requires_grad_(True)
        loss = -torch.sigmoid(tau * (torch.exp(lw) - 1)) * 4 / tau * A
        (grad,) = torch.autograd.grad(loss.sum(), lw)
        phi = tp.sapo(log_w, A)
        assert torch.allclose(-grad, phi, rtol=1e-13, atol=0)
    lw = torch.tensor([4.0], dtype=torch.float64, requires_grad=True)  # z = e^4 - 1 = 53.6
    loss = -torch.sigmoid(torch.exp(lw) - 1) * 4 * 0.8
    (grad,) = torch.autograd.grad(loss.sum(), lw)
    want = _ref("sapo", 4.0, 0.8)
    assert float(grad) == 0.0 and want > 1e-22
    assert _close(
        float(
            tp.sapo(torch.tensor(4.0, dtype=torch.float64), torch.tensor(0.8, dtype=torch.float64))
        ),
        want,
    )


def test_sapo_section_8_1_is_the_gate_not_the_gradient_weight():
    one = torch.tensor(0.0, dtype=torch.float64)
    A = torch.tensor(1.0, dtype=torch.float64)
    assert float(tp.sapo(one, A)) == pytest.approx(1.0, rel=1e-15)
    assert float(tw.sapo_weight_section_8_1(one, A, tau=1.0)) == pytest.approx(2.0, rel=1e-15)
    big = torch.tensor(5.0, dtype=torch.float64)
    assert float(tp.sapo(big, A)) < 1e-60
    assert float(tw.sapo_weight_section_8_1(big, A, tau=1.0)) == pytest.approx(4.0, rel=1e-15)


def test_phi_at_w_equal_one():
    """At w = 1 every design's weight is what its definition says."""
    z = torch.tensor(0.0, dtype=torch.float64)
    for a in (-1.3, 0.6):
        A = torch.tensor(a, dtype=torch.float64)
        for name in ("ppo_clip", "ppo_dual_clip", "cispo_verl", "sapo", "mis_token", "topr", "dft"):
            assert float(getattr(tp, name)(z, A)) == pytest.approx(a, rel=1e-15), name
        assert float(tp.cispo_trl(z, A, epsilon_high=0.2)) == pytest.approx(0.2 * a, rel=1e-15)
        seq = torch.zeros(4, dtype=torch.float64)
        for name in ("gspo", "tis_sequence", "mis_sequence", "vespo"):
            assert torch.allclose(getattr(tp, name)(seq, A), torch.full_like(seq, a), rtol=1e-15)


# ------------------------------------------------------------------ edges


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.bfloat16])
def test_no_nan_on_finite_extremes(dtype):
    log_w = torch.tensor([-1e30, -700.0, -88.0, 0.0, 88.0, 89.0, 700.0, 1e30], dtype=dtype)
    for a in (-1e30, -1.0, -0.0, 0.0, 1e-30, 1.0, 1e30):
        A = torch.full_like(log_w, a)
        for name, (params, _) in TOKEN.items():
            out = getattr(tp, name)(log_w, A, **params)
            assert out.dtype == dtype and not bool(torch.isnan(out).any()), (name, a)
        seq = log_w.reshape(2, 4)
        for name, (params, _, _) in SEQUENCE.items():
            out = getattr(tp, name)(seq, A.reshape(2, 4), **params)
            assert not bool(torch.isnan(out).any()), (name, a)


def test_masked_out_infinities_are_ignored():
    log_w = torch.tensor([[0.1, float("inf"), -0.2, float("-inf")]], dtype=torch.float64)
    mask = torch.tensor([[True, False, True, False]])
    A = torch.tensor([[0.5]], dtype=torch.float64)
    for name, (params, _, _) in SEQUENCE.items():
        out = getattr(tp, name)(log_w, A, mask=mask, **params)
        want = _ref(name, [0.1, 0.0, -0.2, 0.0], 0.5, mask=[True, False, True, False], **params)
        assert all(_close(g, w) for g, w in zip(out[0].tolist(), want)), name
        with pytest.raises(ValueError, match="log_w"):
            getattr(tp, name)(log_w, A, **params)


def test_inputs_not_modified_and_errors_name_argument():
    log_w = torch.tensor([[0.3, -0.2, 1.5]], dtype=torch.float64)
    A = torch.tensor([[-0.5]], dtype=torch.float64)
    mask = torch.tensor([[True, True, False]])
    before = (log_w.clone(), A.clone(), mask.clone())
    for name, (params, _) in TOKEN.items():
        getattr(tp, name)(log_w, A, **params)
    for name, (params, _, _) in SEQUENCE.items():
        getattr(tp, name)(log_w, A, mask=mask, **params)
    assert (
        torch.equal(log_w, before[0]) and torch.equal(A, before[1]) and torch.equal(mask, before[2])
    )
    cases = [
        (tp.ppo_clip, {"clip_ratio_low": 1.5}, "clip_ratio_low", "1.5"),
        (tp.ppo_dual_clip, {"clip_ratio_c": 0.9}, "clip_ratio_c", "0.9"),
        (tp.cispo_trl, {"epsilon_high": -2.0}, "epsilon_high", "-2.0"),
        (tp.sapo, {"tau_neg": 0.0}, "tau_neg", "0.0"),
        (tp.tis_token, {"clip_min": 3.0, "clip_max": 2.0}, "clip_max", "2.0"),
    ]
    for fn, kw, arg, value in cases:
        with pytest.raises(ValueError) as exc:
            fn(log_w, A, **kw)
        assert arg in str(exc.value) and value in str(exc.value)
    with pytest.raises(ValueError, match="A"):
        tp.topr(log_w, torch.tensor(float("nan")))
    with pytest.raises(ValueError, match="log_w"):
        tp.dft(torch.tensor(float("inf")))
    with pytest.raises(ValueError, match="mask"):
        tp.vespo(log_w, A, mask=torch.tensor([True, False]))


@pytest.mark.slow
def test_token_designs_compile_fullgraph():
    log_w = torch.randn(4, 5, dtype=torch.float64)
    A = torch.randn(4, 1, dtype=torch.float64)
    for name in ("ppo_dual_clip", "sapo", "vespo"):
        fn = getattr(tp, name)
        compiled = torch.compile(fn, fullgraph=True)
        assert torch.allclose(compiled(log_w, A), fn(log_w, A))


def test_ppo_section_1_3_differs_from_ppo_gradient_outside_the_trust_region():
    A = torch.tensor([0.7, 0.7, -0.7, -0.7], dtype=torch.float64)
    log_w = torch.tensor([0.1, 1.0, -0.1, -1.0], dtype=torch.float64)
    seed = tp.ppo_phi_section_1_3(log_w, A, epsilon=0.2)
    true = tp.ppo_clip(log_w, A, clip_ratio_low=0.2, clip_ratio_high=0.2)
    assert torch.allclose(seed[[0, 2]], true[[0, 2]], rtol=1e-15)
    assert float(true[1]) == 0.0 and float(seed[1]) == pytest.approx(1.2 * 0.7, rel=1e-15)
    assert float(true[3]) == 0.0 and float(seed[3]) == pytest.approx(-0.8 * 0.7, rel=1e-15)


def test_sapo_agrees_with_the_weights_module_if_present():
    """Two independent implementations of SAPO's gradient weight (reference.weights, written
    by another module owner with one tau) agree when tau_pos = tau_neg."""
    weights = pytest.importorskip("isreshape.reference.weights")
    if not hasattr(weights, "sapo_weight"):
        pytest.skip("reference.weights.sapo_weight not present")
    with mpmath.workdps(30):
        for lw in (-3.0, -0.2, 0.0, 0.4, 2.0, 5.0):
            for a in (-1.3, 0.8):
                mine = ref.sapo(lw, a, tau_pos=1.5, tau_neg=1.5)
                theirs = weights.sapo_weight(lw, a, 1.5)
                assert abs(mine - theirs) <= mpmath.mpf(10) ** -25 * abs(mine), (lw, a)
