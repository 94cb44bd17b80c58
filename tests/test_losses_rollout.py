"""torch_impl.losses, rollout correction stacked with a design (issue 13 item 4): rho = 1
(rollout == old) reproduces the plain design exactly; TIS / MIS weights, token and sequence
level, and every rejection mask on small cases computed by hand; the denominators shrink
(verl) or keep; the masked fractions in the metrics."""

from __future__ import annotations

import math

import pytest
import torch

from isreshape.torch_impl import losses


def _batch(seed: int = 0, B: int = 4, T: int = 5):
    g = torch.Generator().manual_seed(seed)
    old = -torch.rand(B, T, generator=g, dtype=torch.float64) * 3 - 0.5
    lp = (old + torch.randn(B, T, generator=g, dtype=torch.float64) * 0.3).clamp(max=0.0)
    mask = torch.rand(B, T, generator=g) < 0.8
    mask[0, 0] = True
    adv = torch.randn(B, 1, generator=g, dtype=torch.float64)
    return lp, old, mask, adv


def _grad(lp, *args, **kw):
    x = lp.clone().requires_grad_(True)
    loss = losses.policy_loss(x, *args, **kw)
    (g,) = torch.autograd.grad(loss, x)
    return loss.detach(), g


NO_OP = {
    "geometric": 1.5,
    "sequence": 2.0,
    "token_any": (0.1, 10.0),
    "token": 3.0,
    "k1": 0.5,
    "k2": 0.5,
    "k3": 0.5,
}


@pytest.mark.parametrize("design", losses.all_designs())
@pytest.mark.parametrize("level", [None, "token", "sequence"])
@pytest.mark.parametrize("mode", ["truncate", "mask"])
def test_rollout_equal_to_old_reproduces_the_plain_design_exactly(design, level, mode):
    lp, old, mask, adv = _batch(1)
    agg = "seq-mean-token-mean"
    plain_loss, plain_grad = _grad(lp, old, adv, mask, design, agg)
    loss, grad = _grad(
        lp,
        old,
        adv,
        mask,
        design,
        agg,
        rollout_log_prob=old.clone(),
        rollout_is=level,
        rollout_is_mode=mode,
        rollout_rejection=NO_OP,
    )
    assert torch.equal(loss, plain_loss) and torch.equal(grad, plain_grad)
    _, m = losses.policy_loss_and_metrics(
        lp,
        old,
        adv,
        mask,
        design,
        agg,
        rollout_log_prob=old.clone(),
        rollout_is=level,
        rollout_is_mode=mode,
        rollout_rejection=NO_OP,
    )
    assert float(m["rollout/rejected_fraction"]) == 0.0
    assert float(m["rollout/kl/k3"]) == 0.0
    if level is not None:
        assert float(m["rollout/is_weight/min"]) == 1.0 == float(m["rollout/is_weight/max"])


def _two_sequences():
    """Two sequences of 3 tokens, the last token of sequence 1 padding; ppo_clip with a wide
    clip range (phi = w A everywhere) so the expected gradient is easy to write."""
    lp = torch.tensor([[-6.0, -7.0, -5.5], [-6.5, -5.7, -8.0]], dtype=torch.float64)
    old = lp - torch.tensor([[0.1, -0.2, 0.05], [0.0, 0.3, 0.0]], dtype=torch.float64)
    mask = torch.tensor([[True, True, True], [True, True, False]])
    adv = torch.tensor([[1.0], [-2.0]], dtype=torch.float64)
    params = {"clip_ratio_low": 0.9, "clip_ratio_high": 9.0}
    return lp, old, mask, adv, params


def test_token_tis_and_mis_by_hand():
    lp, old, mask, adv, params = _two_sequences()
    # rollout - old per token: log rho = old - rollout
    log_rho = torch.tensor([[0.9, -0.1, -2.0], [0.2, 0.0, 5.0]], dtype=torch.float64)
    roll = old - log_rho
    w = torch.exp(lp - old)
    A = adv.expand_as(lp)
    rho = torch.exp(log_rho)
    for mode, cap in (("truncate", 2.0), ("mask", 2.0)):
        if mode == "truncate":
            applied = torch.clamp(rho, max=cap)
        else:  # band [1/2, 2]: 0.9 -> e^0.9 = 2.46 out, -2 -> 0.135 out
            applied = torch.where((rho >= 0.5) & (rho <= 2.0), rho, torch.zeros_like(rho))
        want = -(applied * w * A) * mask / mask.sum()
        _, grad = _grad(
            lp,
            old,
            adv,
            mask,
            "ppo_clip",
            rollout_log_prob=roll,
            rollout_is="token",
            rollout_is_mode=mode,
            rollout_is_threshold=cap,
            **params,
        )
        assert torch.allclose(grad, want, rtol=1e-14, atol=0), mode
        _, m = losses.policy_loss_and_metrics(
            lp,
            old,
            adv,
            mask,
            "ppo_clip",
            rollout_log_prob=roll,
            rollout_is="token",
            rollout_is_mode=mode,
            rollout_is_threshold=cap,
            **params,
        )
        # clipped: token (0, 0) rho = 2.46 > 2, token (0, 2) 0.135 < 1/2 in mask mode only
        want_clipped = 1 / 5 if mode == "truncate" else 2 / 5
        assert float(m["rollout/is_clipped_fraction"]) == pytest.approx(want_clipped)
        sel_rho = applied[mask]
        assert float(m["rollout/is_weight/mean"]) == pytest.approx(float(sel_rho.mean()))
    # TIS with a lower bound: clamp(rho, 0.5, 2)
    _, grad = _grad(
        lp,
        old,
        adv,
        mask,
        "ppo_clip",
        rollout_log_prob=roll,
        rollout_is="token",
        rollout_is_threshold=2.0,
        rollout_is_threshold_lower=0.5,
        **params,
    )
    want = -(torch.clamp(rho, 0.5, 2.0) * w * A) * mask / mask.sum()
    assert torch.allclose(grad, want, rtol=1e-14, atol=0)


def test_sequence_tis_by_hand():
    lp, old, mask, adv, params = _two_sequences()
    log_rho = torch.tensor([[0.3, 0.2, 0.4], [-0.1, -0.2, 7.0]], dtype=torch.float64)
    roll = old - log_rho
    # sequence 0: rho = e^0.9 = 2.46 -> capped at 2; sequence 1: e^-0.3 (the padding's 7 unused)
    rho_seq = torch.tensor([[2.0], [math.exp(-0.3)]], dtype=torch.float64)
    w = torch.exp(lp - old)
    want = -(rho_seq * w * adv) * mask / mask.sum()
    _, grad = _grad(
        lp, old, adv, mask, "ppo_clip", rollout_log_prob=roll, rollout_is="sequence", **params
    )
    assert torch.allclose(grad, want, rtol=1e-14, atol=0)
    # the loss value is multiplied by rho too (verl multiplies pg_losses by the IS weights)
    loss = losses.policy_loss(
        lp, old, adv, mask, "ppo_clip", rollout_log_prob=roll, rollout_is="sequence", **params
    )
    want_value = float((-(rho_seq * w * adv) * mask).sum() / mask.sum())
    assert float(loss) == pytest.approx(want_value, rel=1e-14)


def _rejection_batch():
    """Three sequences of 4 tokens (sequence 2 has one padded token) with chosen log rho."""
    lp = torch.full((3, 4), -1.0, dtype=torch.float64)
    old = lp.clone()
    log_rho = torch.tensor(
        [
            [0.01, -0.01, 0.02, 0.0],  # close: kept by every mask
            [0.5, -0.5, 0.4, -0.4],  # geometric mean e^0 = 1 but single tokens e^+-0.5
            [0.3, 0.3, 0.3, 99.0],  # geometric mean e^0.3; the padding (99) never counts
        ],
        dtype=torch.float64,
    )
    roll = old - log_rho
    mask = torch.ones(3, 4, dtype=torch.bool)
    mask[2, 3] = False
    adv = torch.tensor([[1.0], [1.0], [1.0]], dtype=torch.float64)
    return lp, old, roll, mask, adv, log_rho


def _rejected_rows(rejection):
    lp, old, roll, mask, adv, _ = _rejection_batch()
    _, m = losses.policy_loss_and_metrics(
        lp, old, adv, mask, "ppo_clip", rollout_log_prob=roll, rollout_rejection=rejection
    )
    phi = losses.gradient_weights(
        lp, old, adv, mask, "ppo_clip", rollout_log_prob=roll, rollout_rejection=rejection
    )
    rows = [b for b in range(3) if bool((phi[b][mask[b]] == 0).all())]
    return rows, m


def test_geometric_rejection_by_hand():
    # band (1/1.2, 1.2): log 1.2 = 0.182; means 0.005, 0, 0.3 -> sequence 2 rejected
    rows, m = _rejected_rows({"geometric": 1.2})
    assert rows == [2]
    assert float(m["rollout/rejected_fraction/geometric"]) == pytest.approx(3 / 11)
    assert float(m["rollout/rejected_fraction"]) == pytest.approx(3 / 11)


def test_token_any_rejection_by_hand():
    # band (e^-0.45, e^0.45): sequence 1 has tokens at +-0.5 -> rejected; 2's 0.3 inside
    rows, m = _rejected_rows({"token_any": (math.exp(-0.45), math.exp(0.45))})
    assert rows == [1]
    assert float(m["rollout/rejected_fraction/token_any"]) == pytest.approx(4 / 11)
    # verl's veto: any token ratio below 0.65 (e^-0.5 = 0.607) -> the band (0.65, inf)
    rows, _ = _rejected_rows({"token_any": (0.65, math.inf)})
    assert rows == [1]


def test_sequence_product_rejection_by_hand():
    # log products 0.02, 0, 0.9; band (e^-0.5, e^0.5): sequence 2 out (its mean 0.3 is in)
    rows, m = _rejected_rows({"sequence": math.exp(0.5)})
    assert rows == [2]
    assert float(m["rollout/rejected_fraction/sequence"]) == pytest.approx(3 / 11)
    rows, _ = _rejected_rows({"geometric": math.exp(0.5)})
    assert rows == []


def test_token_rejection_by_hand():
    # band (e^-0.45, e^0.45): tokens (1, 0) at +0.5 and (1, 1) at -0.5 are dropped, only them
    lp, old, roll, mask, adv, _ = _rejection_batch()
    rej = {"token": (math.exp(-0.45), math.exp(0.45))}
    phi = losses.gradient_weights(
        lp, old, adv, mask, "ppo_clip", rollout_log_prob=roll, rollout_rejection=rej
    )
    dropped = torch.zeros_like(mask)
    dropped[1, 0] = dropped[1, 1] = True
    assert bool((phi[dropped] == 0).all()) and bool((phi[mask & ~dropped] != 0).all())
    _, m = losses.policy_loss_and_metrics(
        lp, old, adv, mask, "ppo_clip", rollout_log_prob=roll, rollout_rejection=rej
    )
    assert float(m["rollout/rejected_fraction/token"]) == pytest.approx(2 / 11)
    # shrink: token-mean over the 9 kept tokens
    _, grad = _grad(lp, old, adv, mask, "ppo_clip", rollout_log_prob=roll, rollout_rejection=rej)
    assert torch.allclose(grad, -phi / 9, rtol=1e-15, atol=0)


@pytest.mark.parametrize("k", ["k1", "k2", "k3"])
def test_kl_rejection_by_hand(k):
    _, _, _, mask, _, log_rho = _rejection_batch()

    def est(x):
        return {"k1": -x, "k2": x * x / 2, "k3": math.expm1(x) - x}[k]

    means = []
    for b in range(3):
        vals = [est(float(log_rho[b, t])) for t in range(4) if bool(mask[b, t])]
        means.append(sum(vals) / len(vals))
    stat = [abs(v) if k == "k1" else v for v in means]
    # a threshold between the statistics of the sequences
    thr = sorted(stat)[1] * 0.999 + sorted(stat)[2] * 0.001
    want = [b for b in range(3) if stat[b] > thr]
    rows, m = _rejected_rows({k: thr})
    assert rows == want and len(want) >= 1
    n_rej = sum(int(mask[b].sum()) for b in want)
    assert float(m[f"rollout/rejected_fraction/{k}"]) == pytest.approx(n_rej / 11)


def test_rejection_shrinks_or_keeps_the_denominators():
    lp, old, roll, mask, adv, _ = _rejection_batch()
    lp = lp + torch.tensor([[-0.1, 0.0, -0.2, 0.0]], dtype=torch.float64)
    rej = {"geometric": 1.2}  # rejects sequence 2 (3 tokens)
    w = torch.exp(lp - old)
    kept = mask.clone()
    kept[2] = False
    for denom, n in (("shrink", 8), ("keep", 11)):
        _, grad = _grad(
            lp,
            old,
            adv,
            mask,
            "ppo_clip",
            "token-mean",
            rollout_log_prob=roll,
            rollout_rejection=rej,
            rollout_rejection_denominator=denom,
        )
        want = -(w * adv) * kept / n
        assert torch.allclose(grad, want, rtol=1e-14, atol=0), denom
    # seq-mean-token-mean: the rejected sequence leaves the sequence count (shrink) or not
    for denom, n_seq in (("shrink", 2), ("keep", 3)):
        _, grad = _grad(
            lp,
            old,
            adv,
            mask,
            "ppo_clip",
            "seq-mean-token-mean",
            rollout_log_prob=roll,
            rollout_rejection=rej,
            rollout_rejection_denominator=denom,
        )
        want = -(w * adv) * kept / (mask.sum(-1, keepdim=True) * n_seq)
        assert torch.allclose(grad, want, rtol=1e-14, atol=0), denom


def test_batch_statistic_designs_do_not_see_rejected_tokens():
    lp, old, roll, mask, adv, _ = _rejection_batch()
    lp = lp + torch.tensor([[-0.1, 0.0, -0.5, -0.3]], dtype=torch.float64)
    kept = mask.clone()
    kept[2] = False
    phi = losses.gradient_weights(
        lp,
        old,
        adv,
        mask,
        "is_reshape_ess",
        rollout_log_prob=roll,
        rollout_rejection={"geometric": 1.2},
    )
    want = losses.gradient_weights(lp, old, adv, kept, "is_reshape_ess")
    assert torch.equal(phi, want)


def test_rollout_options_are_checked():
    lp, old, mask, adv = _batch(2)
    with pytest.raises(ValueError, match="rollout_log_prob"):
        losses.policy_loss(lp, old, adv, mask, rollout_is="token")
    with pytest.raises(ValueError, match="rollout_log_prob"):
        losses.policy_loss(lp, old, adv, mask, rollout_rejection={"k3": 0.1})
    with pytest.raises(ValueError, match="rollout_is must be"):
        losses.policy_loss(lp, old, adv, mask, rollout_log_prob=old, rollout_is="geometric")
    with pytest.raises(ValueError, match="rollout_is_mode"):
        losses.policy_loss(
            lp, old, adv, mask, rollout_log_prob=old, rollout_is="token", rollout_is_mode="tis"
        )
    with pytest.raises(ValueError, match="rollout_is_threshold"):
        losses.policy_loss(
            lp, old, adv, mask, rollout_log_prob=old, rollout_is="token", rollout_is_threshold=0
        )
    with pytest.raises(ValueError, match="rollout_is_threshold_lower"):
        losses.policy_loss(
            lp,
            old,
            adv,
            mask,
            rollout_log_prob=old,
            rollout_is="token",
            rollout_is_threshold_lower=3.0,
        )
    with pytest.raises(ValueError, match="rollout_rejection names"):
        losses.policy_loss(lp, old, adv, mask, rollout_log_prob=old, rollout_rejection={"k4": 1})
    with pytest.raises(ValueError, match=r"rollout_rejection\['geometric'\]"):
        losses.policy_loss(
            lp, old, adv, mask, rollout_log_prob=old, rollout_rejection={"geometric": 0.5}
        )
    with pytest.raises(ValueError, match=r"rollout_rejection\['k2'\]"):
        losses.policy_loss(lp, old, adv, mask, rollout_log_prob=old, rollout_rejection={"k2": -1})
    with pytest.raises(ValueError, match="rollout_rejection_denominator"):
        losses.policy_loss(
            lp, old, adv, mask, rollout_log_prob=old, rollout_rejection_denominator="drop"
        )
    with pytest.raises(ValueError, match="rollout_log_prob has shape"):
        losses.policy_loss(lp, old, adv, mask, rollout_log_prob=old[:, :2])
    bad = old.clone()
    bad[mask] = bad[mask].clone().fill_(0.5)
    with pytest.raises(ValueError, match="rollout_log_prob must be a log-probability"):
        losses.policy_loss(lp, old, adv, mask, rollout_log_prob=bad)
    nan = old.clone()
    nan[0, 0] = float("nan")
    with pytest.raises(ValueError, match="rollout_log_prob must be finite"):
        losses.policy_loss(lp, old, adv, mask, rollout_log_prob=nan)


def test_off_policy_sequence_mask_by_hand():
    """TRL's off-policy sequence mask (trl GRPOTrainer.get_off_policy_mask): keep a sequence if
    A >= 0 or mean over its tokens of (log pi_rollout - log pi_theta) <= delta. Three
    sequences, delta = 0.1: mean KLs 0.2 (A < 0: dropped), 0.2 (A > 0: kept), 0.05 (A < 0:
    kept)."""
    import torch

    from isreshape.torch_impl import losses

    lp = torch.full((3, 2), -1.0, dtype=torch.float64)
    roll = lp + torch.tensor([[0.1, 0.3], [0.2, 0.2], [0.0, 0.1]], dtype=torch.float64)
    adv = torch.tensor([[-1.0], [1.0], [-1.0]], dtype=torch.float64)
    mask = torch.ones(3, 2, dtype=torch.bool)
    x = lp.clone().requires_grad_(True)
    loss, metrics = losses.policy_loss_and_metrics(
        x, lp, adv, mask, "ppo_clip", rollout_log_prob=roll,
        rollout_rejection={"off_policy_sequence": 0.1}, rollout_rejection_denominator="keep",
    )
    (g,) = torch.autograd.grad(loss, x)
    assert bool((g[0] == 0).all()) and bool((g[1:] != 0).all())
    # kept tokens: phi = w A = A (w = 1), token-mean over all 6 tokens: d loss / d lp = -A / 6
    assert torch.allclose(g[1:], -adv[1:].expand(2, 2) / 6, rtol=1e-15)
    assert float(metrics["rollout/rejected_fraction/off_policy_sequence"]) == 2 / 6


def test_off_policy_sequence_keeps_zero_advantage():
    """TRL keeps a sequence when A >= 0: a zero-advantage group (every reward equal, common in
    GRPO) is never dropped however far off-policy, so it stays in the denominators and out of
    the rejected fraction; the same sequence with A < 0 is dropped."""
    import torch

    from isreshape.torch_impl import losses

    lp = torch.full((2, 2), -1.0, dtype=torch.float64)
    roll = lp + 0.5  # mean log pi_rollout - log pi_theta = 0.5 > delta in both sequences
    mask = torch.ones(2, 2, dtype=torch.bool)
    for a, want in ((0.0, 0.0), (-1.0, 0.5)):
        adv = torch.tensor([[a], [1.0]], dtype=torch.float64)
        _, metrics = losses.policy_loss_and_metrics(
            lp, lp, adv, mask, "ppo_clip", rollout_log_prob=roll,
            rollout_rejection={"off_policy_sequence": 0.1},
        )
        assert float(metrics["rollout/rejected_fraction/off_policy_sequence"]) == want, a
