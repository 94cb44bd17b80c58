"""examples/trl_grpo.py: an IS Reshape loss inside TRL's GRPOTrainer trains a tiny random model,
computes exactly ``isreshape.policy_loss`` on TRL's tensors, and logs its metrics.

Needs the ``trl`` extra (``pip install -e ".[test,trl]"``); skipped where TRL is not installed
(CI's minimum environment)."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import pytest

pytest.importorskip("trl")
pytest.importorskip("datasets")

import torch  # noqa: E402

import isreshape  # noqa: E402

PATH = Path(__file__).resolve().parents[1] / "examples" / "trl_grpo.py"


def _example():
    spec = importlib.util.spec_from_file_location("trl_grpo", PATH)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def ex():
    return _example()


def test_grpo_trains_and_logs_isreshape_metrics(ex, tmp_path):
    # rho_min = 0.999 asks for ESS / n >= 0.999, so the mild staleness of num_iterations=2
    # (std of log w 0.05 to 0.17) makes the ESS rule pick gamma = sqrt(-log rho_min) / std < 1:
    # the design really reshapes the weights on stale steps
    rho_min = 0.999
    trainer = ex.build_trainer(steps=4, output_dir=str(tmp_path), rho_min=rho_min)
    before = {k: v.detach().clone() for k, v in trainer.model.named_parameters()}
    rec = ex.MetricsRecorder()
    trainer.add_callback(rec)
    trainer.train()

    assert [r["step"] for r in rec.records] == [1, 2, 3, 4]
    for r in rec.records:
        for key in ex.METRIC_KEYS:
            assert f"isreshape/{key}" in r, key
        # TRL logs its loss from the value _compute_loss returns: ours
        assert r["loss"] == pytest.approx(r["isreshape/loss"], rel=1e-6, abs=1e-9)
        # khat needs 5 tail draws of distinct weights: +inf when w == 1 everywhere
        finite = [k for k in ex.METRIC_KEYS if k != "khat"]
        assert all(math.isfinite(r[f"isreshape/{k}"]) for k in finite), r
    fresh, stale = rec.records[0::2], rec.records[1::2]
    # num_iterations=2: odd steps generate (w == 1 exactly), even steps reuse those rollouts
    for r in fresh:
        assert r["isreshape/ratio/min"] == r["isreshape/ratio/max"] == 1.0
        assert r["isreshape/reshaped_fraction"] == 0.0 and "reward" in r
    for r in stale:
        assert r["isreshape/ratio/max"] > 1.0 > r["isreshape/ratio/min"]
        assert r["isreshape/ess_fraction"] < 1.0 and r["isreshape/kl/k3"] > 0
        # one micro-batch per step on one process: the logged std is the design's s
        assert r["isreshape/log_ratio/std"] ** 2 > -math.log(rho_min)
        assert r["isreshape/reshaped_fraction"] > 0.5
        if "isreshape/design/gamma" in r:  # the ESS rule's exponent, where the loss reports it
            gamma = math.sqrt(-math.log(rho_min)) / r["isreshape/log_ratio/std"]
            assert r["isreshape/design/gamma"] == pytest.approx(gamma, rel=1e-4)
        assert math.isfinite(r["isreshape/khat"])
    changed = [k for k, v in trainer.model.named_parameters() if not torch.equal(v, before[k])]
    assert len(changed) == len(before), sorted(set(before) - set(changed))


def _fixed_batch(trainer, gen: torch.Generator) -> dict[str, torch.Tensor]:
    B, P, T = 6, 4, 7
    n_vocab = len(trainer.processing_class)
    completion_mask = torch.ones(B, T, dtype=torch.long)
    for b, length in enumerate([7, 5, 3, 7, 1, 6]):  # right padding, as TRL's completions
        completion_mask[b, length:] = 0
    return {
        "prompt_ids": torch.randint(3, n_vocab, (B, P), generator=gen),
        "prompt_mask": torch.ones(B, P, dtype=torch.long),
        "completion_ids": torch.randint(3, n_vocab, (B, T), generator=gen),
        "completion_mask": completion_mask,
        "advantages": torch.randn(B, generator=gen),
    }


def _logps_by_hand(model, inputs, logit_noise: torch.Tensor | None = None) -> torch.Tensor:
    """log pi(completion token | prefix) from the model's logits, not through TRL; with
    ``logit_noise`` added to the logits, those of another policy (a stale behaviour policy)."""
    ids = torch.cat([inputs["prompt_ids"], inputs["completion_ids"]], 1)
    att = torch.cat([inputs["prompt_mask"], inputs["completion_mask"]], 1)
    T = inputs["completion_ids"].shape[1]
    logits = model(input_ids=ids, attention_mask=att).logits[:, -T - 1 : -1].float()
    if logit_noise is not None:
        logits = logits + logit_noise
    logp = torch.log_softmax(logits, -1)
    return logp.gather(-1, inputs["completion_ids"][..., None])[..., 0]


@pytest.mark.parametrize("design", ["is_reshape_ess", "ppo_clip"])
def test_compute_loss_is_policy_loss_on_trls_tensors(ex, tmp_path, design):
    trainer = ex.build_trainer(steps=1, design=design, output_dir=str(tmp_path))
    model = trainer.model
    model.train()
    trainer.current_gradient_accumulation_steps = 1
    gen = torch.Generator().manual_seed(5)
    inputs = _fixed_batch(trainer, gen)
    mask = inputs["completion_mask"].bool()
    B, T = mask.shape
    noise = 2.0 * torch.randn(B, T, len(trainer.processing_class), generator=gen)
    with torch.no_grad():
        inputs["old_per_token_logps"] = _logps_by_hand(model, inputs, noise)
        log_w = _logps_by_hand(model, inputs) - inputs["old_per_token_logps"]
    # a stale behaviour policy (its logits off by N(0, 2^2)): the variance of log w exceeds
    # -log 0.3, so the ESS rule picks gamma < 1 (is_reshape_ess reshapes), and PPO clips
    assert log_w[mask].var(correction=0) > -math.log(0.3)

    loss = trainer._compute_loss(model, inputs)
    loss.backward()
    grads = {k: p.grad.clone() for k, p in model.named_parameters()}
    model.zero_grad()

    logp = _logps_by_hand(model, inputs)
    expected = isreshape.policy_loss(
        logp, inputs["old_per_token_logps"], inputs["advantages"][:, None], mask, design=design
    )
    expected.backward()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5, abs=1e-7)
    for k, p in model.named_parameters():
        torch.testing.assert_close(grads[k], p.grad, rtol=1e-4, atol=1e-6, msg=k)
    assert any(p.grad.abs().max() > 0 for p in model.parameters())

    # the metrics logged for this call are those of policy_loss_and_metrics on the same tensors
    _, metrics = isreshape.policy_loss_and_metrics(
        logp.detach(),
        inputs["old_per_token_logps"],
        inputs["advantages"][:, None],
        mask,
        design=design,
    )
    logged = trainer._metrics["train"]
    for key in ("ratio/max", "ess_fraction", "reshaped_fraction", "kl/k3"):
        assert logged[f"isreshape/{key}"][-1] == pytest.approx(metrics[key].item(), rel=1e-4)
    assert 0 < logged["isreshape/reshaped_fraction"][-1] <= 1


def test_gradient_accumulation_scales_the_loss(ex, tmp_path):
    trainer = ex.build_trainer(steps=1, output_dir=str(tmp_path))
    trainer.model.train()
    inputs = _fixed_batch(trainer, torch.Generator().manual_seed(1))
    trainer.current_gradient_accumulation_steps = 1
    one = trainer._compute_loss(trainer.model, inputs).item()
    trainer.current_gradient_accumulation_steps = 4
    assert trainer._compute_loss(trainer.model, inputs).item() == pytest.approx(one / 4)


def test_options_it_does_not_implement_are_refused(ex, tmp_path):
    from trl import GRPOConfig

    cfg = GRPOConfig(
        output_dir=str(tmp_path),
        off_policy_mask_threshold=0.5,
        use_cpu=True,
        **{ex._checkpointing_option(): False},
        bf16=False,
        report_to="none",
        per_device_train_batch_size=4,
        num_generations=4,
    )
    tok = ex.make_tokenizer()
    from datasets import Dataset

    with pytest.raises(ValueError, match="off_policy_mask_threshold"):
        ex.ISReshapeGRPOTrainer(
            model=ex.make_model(tok),
            reward_funcs=ex.target_reward,
            args=cfg,
            train_dataset=Dataset.from_dict({"prompt": ex.PROMPTS}),
            processing_class=tok,
        )


def test_command_line(ex, capsys):
    assert ex.main(["--steps", "2"]) == 0
    out = capsys.readouterr().out
    assert "step   2" in out and "ess_fraction" in out and "is_reshape_ess" in out
