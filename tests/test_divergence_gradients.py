"""Finite logits give finite, correct gradients of the Renyi and KL divergences, also where a
discarded branch overflows (a large log-ratio) or Q excludes a token of P (q = 0 < p)."""

from __future__ import annotations

import math

import pytest
import torch

from isreshape.torch_impl.divergences import kl_divergence, renyi_divergence

CASES = [
    # (logits_p, logits_q, alpha): expm1(t y) overflowed in the unused near branch
    ([0.0, 0.0], [0.0, -800.0], 2.0),
    # Q excludes a token of P, alpha < 1 (finite value): t * inf used to reach the gradient
    ([0.0, 0.0, -1.0], [0.0, -math.inf, 1.0], 0.5),
    ([0.0, 0.0, -1.0], [0.0, -math.inf, 1.0], 0.3),
    ([0.0, 2.0, 1.0], [0.5, 1.0, 0.2], 1.5),
    ([0.0, 2.0, 1.0], [0.5, 1.0, 0.2], 0.7),
]


@pytest.mark.parametrize("lp, lq, alpha", CASES)
def test_renyi_gradient_is_finite_and_matches_finite_differences(lp, lq, alpha):
    finite_q = [i for i, v in enumerate(lq) if math.isfinite(v)]
    p = torch.tensor(lp, dtype=torch.float64, requires_grad=True)
    q_fin = torch.tensor([lq[i] for i in finite_q], dtype=torch.float64, requires_grad=True)
    a = torch.tensor(alpha, dtype=torch.float64, requires_grad=True)

    def f(p, q_fin, a):
        q = torch.full((len(lq),), -math.inf, dtype=torch.float64)
        q = q.index_put((torch.tensor(finite_q),), q_fin)
        return renyi_divergence(p, q, a)

    value = f(p, q_fin, a)
    grads = torch.autograd.grad(value, (p, q_fin, a))
    assert math.isfinite(value.item())
    assert all(torch.isfinite(g).all() for g in grads), grads
    assert torch.autograd.gradcheck(f, (p, q_fin, a), eps=1e-6, atol=1e-6, rtol=1e-5)


def test_kl_with_an_excluded_token_is_inf_and_kl_elsewhere_keeps_finite_gradients():
    p = torch.tensor([0.0, 0.0, -1.0], dtype=torch.float64, requires_grad=True)
    q = torch.tensor([0.0, -math.inf, 1.0], dtype=torch.float64)
    assert kl_divergence(p, q).item() == math.inf
    # alpha -> 1 does not take the KL branch at alpha = 0.5, but its value used to poison it
    (g,) = torch.autograd.grad(renyi_divergence(p, q, 0.5), p)
    assert torch.isfinite(g).all()
