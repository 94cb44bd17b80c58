"""Ties: inputs that sit exactly on a clip bound, a clamp bound or a branch switch, in float32
and float64. At each, the torch value and the autograd gradient of the surrogate (with respect
to log_w) must be the documented phi of the reference (gradient = -phi), whatever torch's own
tie convention is (torch 2.14 changed clamp's gradient at its bounds from 1 to 0).

Clip ties are found, not assumed: float log_w whose torch.exp equals the bound 1 + eps (as the
twin computes it in the dtype) exactly; w == 1 + eps holds for runs of consecutive floats."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import torch

import isreshape.reference.peers as RP
import isreshape.reference.trust_region as RT
import isreshape.reference.weights as RW
import isreshape.torch_impl.peers as P
import isreshape.torch_impl.trust_region as T
import isreshape.torch_impl.weights as W

DTYPES = [torch.float64, torch.float32]
NP = {torch.float64: np.float64, torch.float32: np.float32}


def _eps(dtype: torch.dtype) -> float:
    return torch.finfo(dtype).eps


def tie_log_ws(bound: torch.Tensor, span: int = 256, limit: int = 16) -> torch.Tensor:
    """Up to ``limit`` float log_w (bound's dtype) with torch.exp(log_w) == bound exactly."""
    dtype = bound.dtype
    npt = NP[dtype]
    x0 = npt(math.log(float(bound)))
    xs = [x0]
    up = down = x0
    for _ in range(span):
        up = np.nextafter(up, npt(np.inf))
        down = np.nextafter(down, npt(-np.inf))
        xs += [up, down]
    cand = torch.tensor(np.array(sorted(xs), dtype=npt))
    hits = cand[torch.exp(cand) == bound][:limit]
    # the tie must also hold for the tensor the test passes on (exp per element, any shape)
    hits = hits[torch.exp(hits) == bound]
    assert hits.numel() > 0, f"no {dtype} log_w with exp(log_w) == {float(bound)!r}"
    return hits


def _grad(surrogate, log_w: torch.Tensor, *args, **kwargs) -> torch.Tensor:
    lw = log_w.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(surrogate(lw, *args, **kwargs).sum(), lw)
    return g


def _assert_close(got: torch.Tensor, want: torch.Tensor, rel: float, what: str) -> None:
    assert got.dtype == want.dtype, what
    bad = ~torch.isclose(got, want, rtol=rel, atol=0)
    assert not bad.any(), f"{what}: got {got[bad].tolist()}, want {want[bad].tolist()}"


def _ppo_reference(w: torch.Tensor, A: float, lo: torch.Tensor, hi: torch.Tensor, c=None):
    """phi by the reference's rule (reference.peers._ppo_rule, closed region; dual clip:
    0 only for w > c) at the rounded w and the bounds as the twin computes them."""
    out = []
    for wi in w.tolist():
        mw = mpmath.mpf(wi)
        if c is not None and A < 0 and mw > mpmath.mpf(float(c)):
            phi = mpmath.mpf(0)
        else:
            phi = RP._ppo_rule(mw, mpmath.mpf(A), mpmath.mpf(float(lo)), mpmath.mpf(float(hi)))
        out.append(float(phi))
    return torch.tensor(out, dtype=w.dtype)


# ------------------------------------------------------------------------ peers: PPO family


CLIPS = [(0.2, 0.2), (0.2, 0.28), (3e-4, 4e-4)]


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("low,high", CLIPS)
@pytest.mark.parametrize("A", [1.5, -1.5])
def test_ppo_clip_and_dual_clip_on_the_clip_bound(dtype, low, high, A):
    """w == 1 + high (A > 0) or 1 - low (A < 0): phi = w A (inside), gradient -w A."""
    lo_t, hi_t = torch.tensor(low, dtype=dtype), torch.tensor(high, dtype=dtype)
    bound = 1 + hi_t if A > 0 else 1 - lo_t
    log_w = tie_log_ws(bound)
    w = torch.exp(log_w)
    a = torch.tensor(A, dtype=dtype)
    want = _ppo_reference(w, A, 1 - lo_t, 1 + hi_t)
    assert torch.all(want == (w * a)), "the reference's tie is the inside value w A"
    for name in ("ppo_clip", "ppo_dual_clip"):
        phi = getattr(P, name)(log_w, a, lo_t, hi_t)
        _assert_close(phi, want, 2 * _eps(dtype), f"{name} value")
        grad = _grad(P.SURROGATES[name], log_w, a, lo_t, hi_t)
        _assert_close(grad, -want, 2 * _eps(dtype), f"{name} surrogate gradient")


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("x", [1.1, 0.7, 2.5])
def test_dual_clip_on_c(dtype, x):
    """w == clip_ratio_c with A < 0: inside, phi = w A; torch.minimum alone would give w A / 2."""
    log_w = torch.tensor([x], dtype=dtype)
    c = torch.exp(log_w)[0]  # the tie by construction
    a = torch.tensor(-2.0, dtype=dtype)
    lo_t, hi_t = torch.tensor(0.2, dtype=dtype), torch.tensor(0.2, dtype=dtype)
    w = torch.exp(log_w)
    want = _ppo_reference(w, -2.0, 1 - lo_t, 1 + hi_t, c=c)
    assert torch.all(want == w * a)
    phi = P.ppo_dual_clip(log_w, a, lo_t, hi_t, c)
    _assert_close(phi, want, 2 * _eps(dtype), "ppo_dual_clip value at w == c")
    grad = _grad(P.SURROGATES["ppo_dual_clip"], log_w, a, lo_t, hi_t, c)
    _assert_close(grad, -want, 2 * _eps(dtype), "ppo_dual_clip surrogate gradient at w == c")
    # one ulp above c the dual clip zeroes phi and the gradient
    above = torch.nextafter(log_w, torch.tensor(math.inf, dtype=dtype))
    if bool(torch.exp(above)[0] > c):
        assert float(P.ppo_dual_clip(above, a, lo_t, hi_t, c)[0]) == 0.0
        assert float(_grad(P.SURROGATES["ppo_dual_clip"], above, a, lo_t, hi_t, c)[0]) == 0.0


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("low,high", [(3e-4, 4e-4), (0.2, 0.2)])
@pytest.mark.parametrize("A", [0.7, -0.7])
def test_gspo_sequence_ratio_on_the_clip_bound(dtype, low, high, A):
    """s == 1 + high (A > 0) or 1 - low (A < 0): every token gets phi = s A, gradient -s A."""
    lo_t, hi_t = torch.tensor(low, dtype=dtype), torch.tensor(high, dtype=dtype)
    bound = 1 + hi_t if A > 0 else 1 - lo_t
    x = tie_log_ws(bound)
    log_w = torch.stack([x, x, x, x], dim=-1)  # mean of equal entries is exact: s = exp(x)
    a = torch.full((x.numel(), 1), A, dtype=dtype)
    s = torch.exp(x)
    want = _ppo_reference(s, float(a[0, 0]), 1 - lo_t, 1 + hi_t)[:, None].expand(-1, 4)
    assert torch.all(want == s[:, None] * a)
    phi = P.gspo(log_w, a, None, lo_t, hi_t)
    _assert_close(phi, want, 2 * _eps(dtype), "gspo value")
    grad = _grad(P.SURROGATES["gspo"], log_w, a, None, lo_t, hi_t)
    _assert_close(grad, -want, 2 * _eps(dtype), "gspo surrogate gradient")


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("which", ["min", "max"])
def test_masked_is_keeps_its_bounds(dtype, which):
    """mis_token / mis_sequence: w == clip_min or clip_max is kept, phi = w A."""
    cmin, cmax = torch.tensor(0.5, dtype=dtype), torch.tensor(1.25, dtype=dtype)
    log_w = tie_log_ws(cmin if which == "min" else cmax)
    a = torch.tensor(-1.25, dtype=dtype)
    want = torch.exp(log_w) * a
    _assert_close(P.mis_token(log_w, a, cmin, cmax), want, 0, "mis_token value")
    grad = _grad(P.SURROGATES["mis_token"], log_w, a, cmin, cmax)
    _assert_close(grad, -want, 0, "mis_token surrogate gradient")
    seq = log_w[:, None]
    _assert_close(P.mis_sequence(seq, a, None, cmin, cmax), want[:, None], 0, "mis_sequence")
    grad = _grad(P.SURROGATES["mis_sequence"], seq, a, None, cmin, cmax)
    _assert_close(grad, -want[:, None], 0, "mis_sequence surrogate gradient")


# -------------------------------------------------- trust region: the w - 1 switch at -1


TR_CASES = [
    ("trust_region_weight", (), (0.7,)),
    ("g_gamma", (), (0.6, 2.0)),
    ("phi_gamma", (-1.5,), (0.6, 2.0)),
    ("g_adaptive", (-1.5,), (0.1, 0.9, 1.0, 1.0)),
    ("phi_adaptive", (2.0,), (0.1, 0.9, 3.0, 0.5)),
    ("phi_adaptive", (-1.5,), (0.1, 0.9, 1.0, 1.0)),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("name,a_args,params", TR_CASES)
def test_trust_region_at_log_w_minus_one(dtype, name, a_args, params):
    """log_w = -1 (where w - 1 switches from exp(log_w) - 1 to expm1): value and gradient are
    the reference's; the old clamp-based switch lost d(w - 1)/dlog_w = w there on torch 2.14+."""
    log_w = torch.tensor([-1.0, math.nextafter(-1.0, 0.0), math.nextafter(-1.0, -2.0)], dtype=dtype)
    args = [torch.tensor(v, dtype=dtype) for v in a_args + params]
    with mpmath.workdps(40):
        want = torch.tensor(
            [float(getattr(RT, name)(float(x), *(a_args + params))) for x in log_w.tolist()],
            dtype=dtype,
        )
    rel = 64 * _eps(dtype)
    _assert_close(getattr(T, name)(log_w, *args), want, rel, f"{name} value")
    grad = _grad(T.SURROGATES[name], log_w, *args)
    _assert_close(grad, -want, rel, f"{name} surrogate gradient")


# ------------------------------------------------------ weights: the seeds' clamp at +-20


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("mm", [False, True])
def test_sft_seed_code_on_the_clamp_bound(dtype, mm):
    """|log_w| = 20 exactly is inside the seed's clamp: phi keeps the log_pi dphi/dlog w term,
    and the seed's loss has that gradient."""
    log_w = torch.tensor([20.0, -20.0], dtype=dtype)
    log_mu = torch.tensor([-25.0, 17.0], dtype=dtype)
    gamma, tau = torch.tensor(0.5, dtype=dtype), torch.tensor(2.0, dtype=dtype)
    with mpmath.workdps(40):
        want = torch.tensor(
            [
                float(RW.sft_gradient_weight_seed_code(x, m, 0.5, mm, 2.0))
                for x, m in zip(log_w.tolist(), log_mu.tolist())
            ],
            dtype=dtype,
        )
    rel = 64 * _eps(dtype)
    phi = W.sft_gradient_weight_seed_code(log_w, log_mu, gamma, mm, tau)
    _assert_close(phi, want, rel, "sft_gradient_weight_seed_code value")
    grad = _grad(W.SURROGATES["sft_gradient_weight_seed_code"], log_w, log_mu, gamma, mm, tau)
    _assert_close(grad, -want, rel, "sft seed loss gradient")


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("soft", [True, False])
def test_design_seed_code_on_the_clamp_bound(dtype, soft):
    """|log_w| = 20 exactly: the gradient w dphi/dw is kept (the reference's 1[|log_w| <= 20])."""
    log_w = torch.tensor([20.0, -20.0, 20.0, -20.0], dtype=dtype)
    A = torch.tensor([1.5, 1.5, -0.5, -0.5], dtype=dtype)
    gp, gn = 0.5, 1.5
    lam, th = 1e-8, 3.0
    with mpmath.workdps(40):
        want = torch.tensor(
            [
                float(RW.gradient_weight_design_seed_code(x, a, gp, gn, soft, th, lam))
                for x, a in zip(log_w.tolist(), A.tolist())
            ],
            dtype=dtype,
        )
    assert torch.all(want != 0), "the bound is inside the clamp"
    rel = 64 * _eps(dtype)
    phi = W.gradient_weight_design_seed_code(log_w, A, gp, gn, soft, th, lam)
    _assert_close(phi, want, rel, "gradient_weight_design_seed_code value")
    grad = _grad(W.SURROGATES["gradient_weight_design_seed_code"], log_w, A, gp, gn, soft, th, lam)
    _assert_close(grad, -want, rel, "design seed loss gradient")


# ---------------------------------------------------------------- helpers of torch_impl


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_closed_clip_helpers_pass_the_gradient_at_the_bound(dtype):
    from isreshape.torch_impl._ties import cap_above, cap_below, clip_closed

    x = torch.tensor([-1.0, 0.5, 2.0, -3.0, 3.0], dtype=dtype, requires_grad=True)
    for fn, want_v, want_g in (
        (lambda t: clip_closed(t, -1.0, 2.0), [-1.0, 0.5, 2.0, -1.0, 2.0], [1, 1, 1, 0, 0]),
        (lambda t: cap_above(t, 2.0), [-1.0, 0.5, 2.0, -3.0, 2.0], [1, 1, 1, 1, 0]),
        (lambda t: cap_below(t, -1.0), [-1.0, 0.5, 2.0, -1.0, 3.0], [1, 1, 1, 0, 1]),
    ):
        y = fn(x)
        (g,) = torch.autograd.grad(y.sum(), x)
        assert y.tolist() == want_v and g.tolist() == want_g
    before = x.detach().clone()
    clip_closed(x, -1.0, 2.0)
    assert torch.equal(x.detach(), before), "inputs are not modified"


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_gamma_star_on_its_cap(dtype):
    # sigma2 == -log(rho_min) exactly: gamma* = sqrt(1) = 1 sits on min(1, .); the closed cap
    # passes the gradient of sqrt(-log rho / sigma2), d/dsigma2 = -1 / (2 sigma2) at the tie
    # (torch 2.13's clamp gave that too, 2.14+ would give 0)
    from isreshape.torch_impl.gamma import gamma_star_ess

    rho = torch.tensor(math.exp(-1.0), dtype=dtype)
    s2 = (-torch.log(rho)).detach().requires_grad_(True)
    g = gamma_star_ess(s2, rho)
    assert g.item() == 1.0
    (grad,) = torch.autograd.grad(g, s2)
    assert abs(grad.item() - (-0.5 / s2.item())) <= 4 * _eps(dtype)
    # where sqrt(ratio) rounds above 1 the cap is active: gradient 0 (one or two steps down,
    # sqrt(1 + eps) still rounds to 1, another tie)
    s2b = s2.detach()
    while bool(torch.sqrt(-torch.log(rho) / s2b) <= 1):
        s2b = torch.nextafter(s2b, torch.tensor(0.0, dtype=dtype))
    s2b.requires_grad_(True)
    (gb,) = torch.autograd.grad(gamma_star_ess(s2b, rho), s2b)
    assert gamma_star_ess(s2b.detach(), rho).item() == 1.0 and gb.item() == 0.0
