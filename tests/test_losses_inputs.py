"""torch_impl.losses, bad input (issue 13 item 5): every argument's rule gives a ValueError that
names the argument in the user's terms (probabilities passed as log-probabilities, device
mismatches, NaN, unknown design parameters, wrong types), and the accepted edge inputs work."""

from __future__ import annotations

import pytest
import torch

from isreshape.torch_impl import losses


def _batch():
    lp = torch.full((3, 4), -1.0, dtype=torch.float64)
    old = lp - 0.1
    adv = torch.ones(3, 1, dtype=torch.float64)
    mask = torch.ones(3, 4, dtype=torch.bool)
    mask[2, 3] = False
    return lp, old, adv, mask


def test_probabilities_passed_as_log_probabilities():
    lp, old, adv, mask = _batch()
    with pytest.raises(ValueError, match="log_prob must be a log-probability.*probabilities"):
        losses.policy_loss(lp.exp(), old, adv, mask)
    with pytest.raises(ValueError, match="old_log_prob must be a log-probability"):
        losses.policy_loss(lp, old.exp(), adv, mask)
    # a positive value at a masked position is padding: accepted
    pad = lp.clone()
    pad[2, 3] = 0.7
    assert torch.isfinite(losses.policy_loss(pad, old, adv, mask))
    # rounding above 0 (a log-softmax of a certain token) is accepted: sqrt(eps) of the dtype
    near = lp.clone()
    near[0, 0] = 1e-9
    assert torch.isfinite(losses.policy_loss(near, old, adv, mask))
    near32 = lp.float().clone()
    near32[0, 0] = 1e-4
    assert torch.isfinite(losses.policy_loss(near32, old.float(), adv.float(), mask))


def test_devices_must_match():
    lp, old, adv, mask = _batch()
    meta = torch.device("meta")
    with pytest.raises(ValueError, match="old_log_prob is on meta"):
        losses.policy_loss(lp, old.to(meta), adv, mask)
    with pytest.raises(ValueError, match="advantages is on meta"):
        losses.policy_loss(lp, old, adv.to(meta), mask)
    with pytest.raises(ValueError, match="response_mask is on meta"):
        losses.policy_loss(lp, old, adv, mask.to(meta))
    with pytest.raises(ValueError, match="rollout_log_prob is on meta"):
        losses.policy_loss(lp, old, adv, mask, rollout_log_prob=old.to(meta))


def test_types_and_shapes_are_named():
    lp, old, adv, mask = _batch()
    with pytest.raises(ValueError, match="log_prob must be a tensor"):
        losses.policy_loss(lp.tolist(), old, adv, mask)
    with pytest.raises(ValueError, match="old_log_prob must be a tensor"):
        losses.policy_loss(lp, old.tolist(), adv, mask)
    with pytest.raises(ValueError, match="log_prob must be a floating tensor"):
        losses.policy_loss(lp.long(), old, adv, mask)
    with pytest.raises(ValueError, match="old_log_prob must be a floating tensor"):
        losses.policy_loss(lp, old.long(), adv, mask)
    with pytest.raises(ValueError, match="log_prob must have a token dimension"):
        losses.policy_loss(lp[0, 0], old[0, 0], 1.0)
    with pytest.raises(ValueError, match="advantages must be a number or a tensor"):
        losses.policy_loss(lp, old, [[1.0]] * 3, mask)
    with pytest.raises(ValueError, match="advantages must be a number or a tensor"):
        losses.policy_loss(lp, old, True, mask)
    with pytest.raises(ValueError, match="advantages must be finite"):
        losses.policy_loss(lp, old, float("nan"), mask)
    with pytest.raises(ValueError, match=r"per sequence: shape \(3, 1\)"):
        losses.policy_loss(lp, old, torch.ones(3, dtype=torch.float64), mask)
    with pytest.raises(ValueError, match="response_mask of shape"):
        losses.policy_loss(lp, old, adv, mask[:, :2])
    with pytest.raises(ValueError, match="old_log_prob has shape"):
        losses.policy_loss(lp, old[:2], adv, mask)
    nan = lp.clone()
    nan[0, 1] = float("nan")
    with pytest.raises(ValueError, match="log_prob must be finite at a selected token"):
        losses.policy_loss(nan, old, adv, mask)
    with pytest.raises(ValueError, match="loss_scale_factor"):
        losses.policy_loss(lp, old, adv, mask, "ppo_clip", "token-mean", 3.0)
    with pytest.raises(ValueError, match="log_ratio_clamp"):
        losses.policy_loss(lp, old, adv, mask, log_ratio_clamp=-1.0)


def test_design_parameters_are_checked_by_name():
    lp, old, adv, mask = _batch()
    with pytest.raises(ValueError, match=r"design 'ppo_clip' takes the parameters.*clip_ratio"):
        losses.policy_loss(lp, old, adv, mask, "ppo_clip", clip_ratio=0.2)
    with pytest.raises(ValueError, match=r"'is_reshape_ess' takes the parameters \['rho_min'\]"):
        losses.policy_loss(lp, old, adv, mask, "is_reshape_ess", gamma=0.5)
    with pytest.raises(ValueError, match="response_mask, not as a design parameter"):
        losses.policy_loss(lp, old, adv, mask, "gspo", mask=mask)
    with pytest.raises(ValueError, match="rho_min"):
        losses.policy_loss(lp, old, adv, mask, "variational_gamma", rho_min=1.5)

    def custom(log_w, A, **kw):
        return torch.exp(log_w) * A

    assert torch.isfinite(losses.policy_loss(lp, old, adv, mask, custom, anything=1))


def test_accepted_advantage_forms():
    lp, old, _, mask = _batch()
    for adv in (
        1.5,
        2,
        torch.tensor(1.5, dtype=torch.float64),
        torch.ones(3, 1, dtype=torch.float64),
        torch.ones(1, 4, dtype=torch.float64),
        torch.ones(3, 4, dtype=torch.float64),
        torch.ones(3, 1, dtype=torch.float32),
    ):
        loss = losses.policy_loss(lp, old, adv, mask)
        assert torch.isfinite(loss) and loss.dtype == torch.float64
    # a Python float advantage is taken exactly in float64 (0.1 is not rounded to float32)
    a = losses.policy_loss(lp, old, 0.1, mask, loss_value="phi")
    b = losses.policy_loss(lp, old, torch.tensor(0.1, dtype=torch.float64), mask, loss_value="phi")
    assert torch.equal(a, b)


def test_per_sequence_mask_of_length_t_is_refused():
    """A (B,) response_mask with B == T broadcast along T as one row for every sequence (a
    silent wrong loss, as (B,) advantages were); it is a ValueError naming response_mask."""
    import pytest
    import torch

    from isreshape.torch_impl import losses

    lp = torch.full((3, 3), -1.0, dtype=torch.float64)
    adv = torch.ones(3, 1, dtype=torch.float64)
    with pytest.raises(ValueError, match="response_mask must have log_prob's 2 dimensions"):
        losses.policy_loss(lp, lp - 0.1, adv, torch.tensor([1, 1, 0]))
    losses.policy_loss(lp, lp - 0.1, adv, torch.tensor([[1], [1], [0]]))  # (B, 1) broadcasts
