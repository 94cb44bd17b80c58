"""Issue 13's missing peer designs (GPG, GMPO, KL-Cov, Clip-Cov, batch-normalised TIS): torch
twins against the mpmath reference, against the libraries' losses written here from their
formulas (verl ``core_algos.py`` / ``rollout_corr_helper.py`` as facts, not code), padding
invariance, extremes, selection ties and the errors."""

from __future__ import annotations

import math

import mpmath
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import isreshape.reference.peers as ref
import isreshape.torch_impl.peers as tp

F64 = torch.float64
ADV = st.floats(-1e3, 1e3, allow_nan=False)


def _ref(name, *args, **kw):
    with mpmath.workdps(30):
        out = getattr(ref, name)(*args, **kw)
    if isinstance(out, list):
        return [[float(v) for v in r] if isinstance(r, list) else float(r) for r in out]
    return float(out)


def _batch(seed=0, B=5, T=7, scale=0.3, lp_scale=1.0):
    g = torch.Generator().manual_seed(seed)
    log_w = torch.randn(B, T, generator=g, dtype=F64) * scale
    log_prob = -(torch.randn(B, T, generator=g, dtype=F64) * lp_scale + 1.0).abs()
    mask = torch.rand(B, T, generator=g) < 0.75
    mask[0] = True
    mask[1] = False  # a fully masked sequence
    A = torch.randn(B, 1, generator=g, dtype=F64) * 1.5
    return log_w, log_prob, mask, A


# ------------------------------------------------------------------ twins against the reference


@settings(max_examples=100, deadline=None)
@given(st.floats(-700, 700, allow_nan=False), ADV)
def test_gpg_twin_is_the_advantage(log_w, A):
    got = tp.gpg(torch.tensor(log_w, dtype=F64), torch.tensor(A, dtype=F64))
    assert float(got) == A == _ref("gpg", log_w, A)


@st.composite
def sequences(draw, max_len=8):
    n = draw(st.integers(1, max_len))
    log_w = draw(st.lists(st.floats(-30, 30, allow_nan=False), min_size=n, max_size=n))
    mask = draw(st.one_of(st.none(), st.lists(st.booleans(), min_size=n, max_size=n)))
    return log_w, mask


@settings(max_examples=150, deadline=None)
@given(sequences(), ADV, st.sampled_from([(0.4, 0.4), (0.2, 0.28), (0.0, 0.0), (1.0, 0.1)]))
def test_gmpo_twin_matches_reference(seq, A, clip):
    log_w, mask = seq
    lo, hi = clip
    assume(all(abs(x - hi) > 1e-9 and abs(x + lo) > 1e-9 for x in log_w))
    want = _ref("gmpo", log_w, A, mask=mask, clip_ratio_low=lo, clip_ratio_high=hi)
    got = tp.gmpo(
        torch.tensor(log_w, dtype=F64),
        torch.tensor(A, dtype=F64),
        mask=mask,
        clip_ratio_low=lo,
        clip_ratio_high=hi,
    )
    for g, w in zip(got.tolist(), want):
        assert math.isclose(g, w, rel_tol=1e-13, abs_tol=1e-300), (log_w, mask, A, got, want)


@pytest.mark.parametrize("seed", range(4))
def test_batch_twins_match_reference_on_random_batches(seed):
    log_w, log_prob, mask, A = _batch(seed, lp_scale=2.0)
    lists = dict(log_w=log_w.tolist(), A=A.tolist(), mask=mask.tolist())
    cases = {
        "kl_cov": dict(log_prob=log_prob, kl_cov_ratio=0.2, ppo_kl_coef=0.7),
        "clip_cov": dict(log_prob=log_prob, clip_cov_ratio=0.2, clip_cov_lb=0.1, clip_cov_ub=3.0),
        "tis_token_batch_normalized": dict(clip_max=1.5),
        "tis_sequence_batch_normalized": dict(clip_max=1.5),
    }
    for name, kw in cases.items():
        got = getattr(tp, name)(log_w, A, mask=mask, **kw)
        rkw = {k: (v.tolist() if isinstance(v, torch.Tensor) else v) for k, v in kw.items()}
        want = _ref(name, **lists, **rkw)
        assert torch.allclose(got, torch.tensor(want, dtype=F64), rtol=1e-14, atol=0), name


# ------------------------------------------------------------------ against the libraries' losses


def _verl_geo_mean_loss(log_prob, old_log_prob, advantages, response_mask, lo, hi):
    """verl geo_mean (GMPO) as its formulas read: per token sgn(A) min(sgn(A) l, sgn(A)
    clamp(l, -lo, hi)); ratio = exp(masked sum / n); advantage = masked mean of A; loss the mean
    over sequences of -advantage * ratio."""
    neg_kl = log_prob - old_log_prob
    sgn = torch.sign(advantages)
    clamped = torch.clamp(neg_kl, -lo, hi)
    lmin = sgn * torch.min(sgn * neg_kl, sgn * clamped)
    m = response_mask.to(log_prob.dtype)
    n = m.sum(-1)
    ratio = torch.exp((lmin * m).sum(-1) / n.clamp(min=1))
    adv = (advantages * m).sum(-1) / n.clamp(min=1)
    return torch.mean(-adv * ratio)


@pytest.mark.parametrize("per_token", [False, True])
def test_gmpo_is_verl_geo_mean_gradient(per_token):
    """-d(verl loss)/dlog_prob_t = phi_t / (B n_b): the 1/n is the token mean of
    seq-mean-token-mean, the 1/B verl's mean over sequences. A per-token advantage: verl clips
    each token by its own sign and weights by the sequence mean; the twin does the same."""
    log_w, _, mask, A = _batch(3, scale=0.5)
    B = log_w.shape[0]
    if per_token:
        A = A + 0.3 * torch.randn(
            log_w.shape, generator=torch.Generator().manual_seed(9), dtype=F64
        )
    A_full = torch.broadcast_to(A, log_w.shape)
    lo, hi = 0.4, 0.4
    lp = log_w.clone().requires_grad_(True)
    loss = _verl_geo_mean_loss(lp, torch.zeros_like(lp), A_full, mask, lo, hi)
    (grad,) = torch.autograd.grad(loss, lp)
    n = mask.sum(-1, keepdim=True).clamp(min=1).to(F64)
    phi = tp.gmpo(log_w, A, mask=mask, clip_ratio_low=lo, clip_ratio_high=hi)
    assert torch.allclose(-grad * B * n, phi, rtol=1e-13, atol=1e-300)
    assert bool((phi[mask] == 0).any()) and bool((phi[mask] != 0).any())  # clipping is exercised


def test_gmpo_loss_value_is_verl_geo_mean_value():
    """The per-token value -A r, aggregated seq-mean-token-mean (non-empty sequences), is
    verl's geo_mean loss value times B / (number of non-empty sequences)."""
    log_w, _, mask, A = _batch(3, scale=0.5)
    A_full = torch.broadcast_to(A, log_w.shape)
    verl = _verl_geo_mean_loss(log_w, torch.zeros_like(log_w), A_full, mask, 0.4, 0.4)
    value = tp._gmpo_loss_value(log_w, A, mask=mask)
    n = mask.sum(-1)
    nonempty = n > 0
    per_seq = value.sum(-1)[nonempty] / n[nonempty]
    B = log_w.shape[0]
    assert float(per_seq.mean()) == pytest.approx(float(verl) * B / int(nonempty.sum()), rel=1e-14)
    assert bool((value[~mask] == 0).all())


def test_gpg_is_verl_gpg_gradient():
    log_w, _, mask, A = _batch(4)
    old = -torch.rand(log_w.shape, dtype=F64)
    lp = (old + log_w).clone().requires_grad_(True)
    loss = (-lp * A * mask).sum()  # verl: pg_losses = -log_prob * advantages (then agg_loss)
    (grad,) = torch.autograd.grad(loss, lp)
    assert torch.equal(-grad, tp.gpg(log_w, A) * mask)


def _verl_kl_cov_phi(log_w, log_prob, A, mask, ratio, coef):
    """verl kl_cov: covariance over the valid tokens, torch.topk of k = max(1, int(N ratio)),
    loss -A w (+ coef |log w| on the top k); -autograd."""
    lw = log_w.clone().requires_grad_(True)
    valid = mask.reshape(-1)
    adv = torch.broadcast_to(A, log_w.shape).reshape(-1)
    lp = log_prob.reshape(-1)
    a_v, l_v = adv[valid], lp[valid]
    cov = (a_v - a_v.mean()) * (l_v - l_v.mean())
    k = max(1, int(len(cov) * ratio))
    top = torch.nonzero(valid).flatten()[torch.topk(cov, k).indices]
    ratio_t = torch.exp(lw).reshape(-1)
    losses = -adv * ratio_t
    with_kl = losses + coef * lw.reshape(-1).abs()
    sel = torch.zeros_like(valid)
    sel[top] = True
    loss = (torch.where(sel, with_kl, losses) * valid).sum()
    (grad,) = torch.autograd.grad(loss, lw)
    return -grad


@pytest.mark.parametrize("ratio", [0.0002, 0.1, 0.3, 1.0])
def test_kl_cov_is_verl_kl_cov_gradient(ratio):
    log_w, log_prob, mask, A = _batch(5, B=6, T=9, lp_scale=2.0)
    want = _verl_kl_cov_phi(log_w, log_prob, A, mask, ratio, 0.8)
    got = tp.kl_cov(log_w, A, log_prob, mask=mask, kl_cov_ratio=ratio, ppo_kl_coef=0.8)
    assert torch.allclose(got, want, rtol=1e-14, atol=0)


def _verl_clip_cov_candidates(log_w, log_prob, A, mask, lo, hi, lb, ub):
    """verl clip_cov's candidates: valid, not clip_by_origin (-A clip(w) > -A w), lb < cov < ub."""
    ratio = torch.exp(log_w)
    pg1 = -A * ratio
    pg2 = -A * torch.clamp(ratio, 1 - lo, 1 + hi)
    clip_by_origin = (pg2 > pg1) & mask
    m = mask.to(log_w.dtype)
    a_bar = (torch.broadcast_to(A, log_w.shape) * m).sum() / m.sum()
    l_bar = (log_prob * m).sum() / m.sum()
    cov = (A - a_bar) * (log_prob - l_bar)
    return mask & ~clip_by_origin & (cov > lb) & (cov < ub)


def test_clip_cov_is_verl_clip_cov_when_every_candidate_is_chosen():
    """With clip_num >= #candidates verl's random choice takes them all: deterministic."""
    log_w, log_prob, mask, A = _batch(6, B=6, T=9, scale=0.3, lp_scale=2.0)
    lo = hi = 0.2
    cand = _verl_clip_cov_candidates(log_w, log_prob, A, mask, lo, hi, 0.5, 3.0)
    assert 0 < int(cand.sum()) < int(mask.sum())
    ppo = tp.ppo_clip(log_w, torch.broadcast_to(A, log_w.shape), lo, hi) * mask
    want = torch.where(cand, torch.zeros_like(ppo), ppo)
    got = tp.clip_cov(
        log_w, A, log_prob, mask=mask, clip_cov_ratio=1.0, clip_cov_lb=0.5, clip_cov_ub=3.0
    )
    assert torch.equal(got, want)


def test_clip_cov_priority_reproduces_a_uniform_random_choice():
    """priority = torch.rand(shape, generator=g): exactly n of the candidates, each about
    equally often over seeds (verl's randperm choice); the same seed gives the same choice."""
    log_w, log_prob, mask, A = _batch(7, B=6, T=9, lp_scale=2.0)
    kw = dict(mask=mask, clip_cov_ratio=0.05, clip_cov_lb=-math.inf, clip_cov_ub=math.inf)
    cand = _verl_clip_cov_candidates(log_w, log_prob, A, mask, 0.2, 0.2, -math.inf, math.inf)
    n_sel = max(1, int(0.05 * int(mask.sum())))
    assert int(cand.sum()) > n_sel
    ppo = tp.clip_cov(log_w, A, log_prob, **{**kw, "clip_cov_lb": 1e9, "clip_cov_ub": 2e9})
    counts = torch.zeros(log_w.shape, dtype=F64)
    runs = 600
    for seed in range(runs):
        g = torch.Generator().manual_seed(seed)
        prio = torch.rand(log_w.shape, generator=g, dtype=F64)
        got = tp.clip_cov(log_w, A, log_prob, priority=prio, **kw)
        chosen = (got == 0) & (ppo != 0)
        assert int(chosen.sum()) == n_sel and bool((chosen <= cand).all())
        counts += chosen.to(F64)
    p = n_sel / int(cand.sum())
    se = math.sqrt(p * (1 - p) / runs)
    freq = counts[cand] / runs
    assert float((freq - p).abs().max()) < 5 * se, (freq, p, se)  # 5 SE
    again = torch.rand(log_w.shape, generator=torch.Generator().manual_seed(3), dtype=F64)
    first = torch.rand(log_w.shape, generator=torch.Generator().manual_seed(3), dtype=F64)
    assert torch.equal(
        tp.clip_cov(log_w, A, log_prob, priority=again, **kw),
        tp.clip_cov(log_w, A, log_prob, priority=first, **kw),
    )


def _verl_batch_normalized(log_w, mask, threshold, level):
    """verl compute_rollout_correction_weights with rollout_is_batch_normalize (no clamp at 20):
    weights * mask, clamp(max=threshold), divided by the mean (token: masked mean; sequence:
    mean over non-empty sequences) when it exceeds 1e-8."""
    m = mask.to(log_w.dtype)
    if level == "token":
        w = torch.exp(log_w) * m
    else:
        w = torch.exp((log_w * m).sum(-1, keepdim=True)).expand_as(log_w) * m
    w = w.clamp(max=threshold)
    if level == "token":
        mean = (w * m).sum() / m.sum()
    else:
        seq = (w * m).sum(-1) / m.sum(-1).clamp(min=1e-8)
        nonempty = (m.sum(-1) > 0).to(log_w.dtype)
        mean = (seq * nonempty).sum() / nonempty.sum()
    return w / mean if mean > 1e-8 else w


@pytest.mark.parametrize("level", ["token", "sequence"])
@pytest.mark.parametrize("threshold", [2.0, 1.1, math.inf])
def test_batch_normalized_tis_is_verl_rollout_correction(level, threshold):
    log_w, _, mask, A = _batch(8, scale=0.2)
    want = _verl_batch_normalized(log_w, mask, threshold, level) * A
    fn = tp.tis_token_batch_normalized if level == "token" else tp.tis_sequence_batch_normalized
    got = fn(log_w, A, mask=mask, clip_max=threshold)
    assert torch.allclose(got, want, rtol=1e-14, atol=0)
    if threshold == math.inf:  # normalised: the applied weights average 1 over the batch
        weights = got / A
        if level == "token":
            assert float(weights[mask].mean()) == pytest.approx(1.0, rel=1e-14)
        else:
            assert float(weights[mask.any(-1), :].amax(-1).mean()) == pytest.approx(1.0, rel=1e-14)


# ------------------------------------------------------------------ padding, extremes, ties


def _designs(log_prob):
    return {
        "gpg": lambda lw, A, m: tp.gpg(lw, A) * m,
        "gmpo": lambda lw, A, m: tp.gmpo(lw, A, mask=m),
        "kl_cov": lambda lw, A, m: tp.kl_cov(lw, A, log_prob(lw), mask=m, kl_cov_ratio=0.2),
        "clip_cov": lambda lw, A, m: tp.clip_cov(
            lw, A, log_prob(lw), mask=m, clip_cov_ratio=0.2, clip_cov_lb=0.1
        ),
        "tis_token_batch_normalized": lambda lw, A, m: tp.tis_token_batch_normalized(lw, A, mask=m),
        "tis_sequence_batch_normalized": lambda lw, A, m: tp.tis_sequence_batch_normalized(
            lw, A, mask=m
        ),
    }


def test_padding_never_changes_phi_on_real_tokens():
    """Issue 13's 'done when': extra masked columns and fully masked rows holding arbitrary
    finite values change nothing on the real tokens (every batch statistic is masked)."""
    log_w, log_prob, mask, A = _batch(10, lp_scale=2.0)
    B, T = log_w.shape
    g = torch.Generator().manual_seed(11)
    pad_lw = torch.cat([log_w, torch.randn(B, 3, generator=g, dtype=F64) * 40], -1)
    pad_lp = torch.cat([log_prob, -torch.rand(B, 3, generator=g, dtype=F64) * 50], -1)
    pad_mask = torch.cat([mask, torch.zeros(B, 3, dtype=torch.bool)], -1)
    rows_lw = torch.cat([pad_lw, torch.randn(2, T + 3, generator=g, dtype=F64) * 40], 0)
    rows_lp = torch.cat([pad_lp, -torch.rand(2, T + 3, generator=g, dtype=F64) * 50], 0)
    rows_mask = torch.cat([pad_mask, torch.zeros(2, T + 3, dtype=torch.bool)], 0)
    rows_A = torch.cat([A, torch.tensor([[1e3], [-7.0]], dtype=F64)], 0)
    lps = {id(log_w): log_prob, id(pad_lw): pad_lp, id(rows_lw): rows_lp}
    for name, fn in _designs(lambda lw: lps[id(lw)]).items():
        base = fn(log_w, A, mask)
        padded = fn(pad_lw, A, pad_mask)
        more = fn(rows_lw, rows_A, rows_mask)
        assert torch.allclose(padded[:, :T], base, rtol=1e-14, atol=0), name
        assert torch.allclose(more[:B, :T], base, rtol=1e-14, atol=0), name
        assert bool((padded[:, T:] == 0).all()) and bool((more[B:] == 0).all()), name


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.bfloat16])
def test_no_nan_at_log_ratios_of_200(dtype):
    log_w = torch.tensor([[200.0, -200.0, 0.0, 20.0], [-200.0, 200.0, 1.0, -1.0]], dtype=dtype)
    log_prob = torch.tensor([[-0.1, -5.0, -1.0, -2.0], [-3.0, -0.5, -1.5, -0.2]], dtype=dtype)
    for a in (-1e30, -1.0, -0.0, 0.0, 1.0, 1e30):
        A = torch.tensor([[a], [-0.5]], dtype=dtype)
        for name, fn in _designs(lambda lw: log_prob).items():
            out = fn(log_w, A, torch.ones_like(log_w, dtype=torch.bool))
            assert out.dtype == dtype and not bool(torch.isnan(out).any()), (name, a, out)
        for cap in (2.0, math.inf):
            for fn in (tp.tis_token_batch_normalized, tp.tis_sequence_batch_normalized):
                out = fn(log_w, A, clip_max=cap, min_mean=0.0)
                assert not bool(torch.isnan(out).any()), (fn.__name__, cap, a)


def test_selection_ties_go_to_the_earlier_position():
    """Equal covariances (identical rows): the earlier row is chosen, in the twin, the
    reference and for every stacking of the batch (leading dimensions are independent)."""
    lw = torch.tensor([[0.1, -0.2, 0.05], [0.3, 0.2, 0.0], [0.15, -0.2, 0.05]], dtype=F64)
    lp = torch.tensor([[-0.05, -1.0, -2.0], [-1.0, -1.0, -1.0], [-0.05, -1.0, -2.0]], dtype=F64)
    A = torch.tensor([[1.0], [-1.0], [1.0]], dtype=F64)
    got = tp.kl_cov(lw, A, lp, kl_cov_ratio=0.0002)
    want = _ref("kl_cov", lw.tolist(), A.tolist(), lp.tolist(), kl_cov_ratio=0.0002)
    assert torch.allclose(got, torch.tensor(want, dtype=F64), rtol=1e-15, atol=0)
    assert float(got[0, 0]) == pytest.approx(math.exp(0.1) - 1, rel=1e-15)  # row 0: penalised
    assert float(got[2, 0]) == pytest.approx(math.exp(0.15), rel=1e-15)  # its twin row: not
    stacked = tp.kl_cov(torch.stack([lw, lw]), torch.stack([A, A]), torch.stack([lp, lp]))
    assert torch.equal(stacked[0], got) and torch.equal(stacked[1], got)
    cc = tp.clip_cov(lw, A, lp, clip_cov_lb=-math.inf)
    assert float(cc[0, 0]) == 0.0 and float(cc[2, 0]) == pytest.approx(math.exp(0.15))


def test_kl_cov_count_is_verl_float64_product():
    """k = max(1, int(N ratio)) with the product rounded as verl's Python float: 10 * 0.3 is
    3.0 in float64 (exactly 2.99999999999999988898): three tokens, also for float32 inputs."""
    lw, lp, _, A = _batch(12, B=2, T=5, lp_scale=2.0)
    for dtype in (F64, torch.float32):
        out = tp.kl_cov(lw.to(dtype), A.to(dtype), lp.to(dtype), kl_cov_ratio=0.3, ppo_kl_coef=0.0)
        pen = tp.kl_cov(lw.to(dtype), A.to(dtype), lp.to(dtype), kl_cov_ratio=0.3, ppo_kl_coef=1.0)
        assert int((out != pen).sum()) == 3, dtype


def test_inputs_not_modified_and_errors_name_argument_and_value():
    log_w, log_prob, mask, A = _batch(13)
    before = [t.clone() for t in (log_w, log_prob, mask, A)]
    for fn in _designs(lambda lw: log_prob).values():
        fn(log_w, A, mask)
    assert all(torch.equal(a, b) for a, b in zip(before, (log_w, log_prob, mask, A)))
    bad = [
        (tp.kl_cov, dict(log_prob=log_prob, kl_cov_ratio=0.0), "kl_cov_ratio", "0.0"),
        (tp.kl_cov, dict(log_prob=log_prob, ppo_kl_coef=-1.0), "ppo_kl_coef", "-1.0"),
        (tp.clip_cov, dict(log_prob=log_prob, clip_cov_ratio=1.5), "clip_cov_ratio", "1.5"),
        (
            tp.clip_cov,
            dict(log_prob=log_prob, clip_cov_lb=5.0, clip_cov_ub=1.0),
            "clip_cov_ub",
            "1.0",
        ),
        (tp.clip_cov, dict(log_prob=log_prob, clip_ratio_low=1.5), "clip_ratio_low", "1.5"),
        (tp.kl_cov, dict(log_prob=-log_prob), "log_prob", "<= 0"),
        (tp.gmpo, dict(clip_ratio_high=-0.1), "clip_ratio_high", "-0.1"),
        (tp.tis_token_batch_normalized, dict(clip_max=0.0), "clip_max", "0.0"),
        (tp.tis_sequence_batch_normalized, dict(min_mean=-1.0), "min_mean", "-1.0"),
    ]
    for fn, kw, arg, value in bad:
        with pytest.raises(ValueError) as exc:
            fn(log_w, A, **kw)
        assert arg in str(exc.value) and value in str(exc.value), (fn.__name__, str(exc.value))
    with pytest.raises(ValueError, match="A of shape"):  # (B,) would broadcast along the tokens
        tp.kl_cov(log_w[:, :5], A[:5, 0], log_prob[:, :5])
    with pytest.raises(ValueError, match="log_w must be a tensor of shape"):
        tp.tis_token_batch_normalized(log_w[0], A[0])
    with pytest.raises(ValueError, match="priority"):
        tp.clip_cov(log_w, A, log_prob, priority=torch.zeros(3))
    with pytest.raises(ValueError, match="log_w"):
        tp.gpg(torch.tensor(float("nan")), torch.tensor(1.0))


@pytest.mark.slow
def test_issue13_designs_compile_fullgraph():
    log_w, log_prob, mask, A = _batch(14)
    for name, fn in _designs(lambda lw: log_prob).items():
        compiled = torch.compile(fn, fullgraph=True)
        assert torch.allclose(compiled(log_w, A, mask), fn(log_w, A, mask)), name
