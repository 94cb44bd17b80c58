"""An IS Reshape loss inside TRL's ``GRPOTrainer`` (tiny random model, no download, CPU, seconds).

TRL lets a user change GRPO's loss by subclassing ``GRPOTrainer`` and overriding
``_compute_loss(model, inputs)``: ``inputs`` holds the prompt and completion token ids and
masks, one advantage per completion (group-normalised rewards) and, when the rollouts are
stale, ``old_per_token_logps`` (the behaviour policy's per-token log-probabilities; TRL computes
them when ``num_iterations > 1`` or ``steps_per_generation > gradient_accumulation_steps``,
otherwise the data is on-policy and w = 1). :class:`ISReshapeGRPOTrainer` recomputes the
current per-token log-probabilities with TRL's own ``_get_per_token_logps_and_entropies`` and
replaces TRL's clipped surrogate by :func:`isreshape.policy_loss_and_metrics` with any
design of ``isreshape.torch_impl.losses`` (default ``is_reshape_ess``: w^gamma A with gamma from
the ESS rule over the selected tokens). The metrics go through TRL's ``self._metrics``, so they
appear in every log record under ``isreshape/<name>``.

The model is a 2-layer Llama built from a config with random weights, the tokenizer a
character-level ``PreTrainedTokenizerFast`` built in memory, the dataset a few in-memory
prompts. The reward is verifiable: the number of completion characters equal to ``TARGET``
divided by the completion budget ``max_completion_length``.

    python examples/trl_grpo.py --steps 3

prints one line of metrics per step. Needs ``pip install isreshape[trl]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import tempfile
import time
from typing import Any

import torch
from datasets import Dataset
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
from transformers import (
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedTokenizerFast,
    PrinterCallback,
    TrainerCallback,
)
from trl import GRPOConfig, GRPOTrainer

import isreshape

SPECIALS = ["<pad>", "<eos>", "<unk>"]
CHARS = "abcdefgh "
TARGET = "a"
PROMPTS = ["abc", "bad", "cafe", "dead", "fade", "beef", "ace", "bed"]

#: the metrics :class:`ISReshapeGRPOTrainer` logs, each under ``isreshape/<name>``
METRIC_KEYS = (
    "loss",
    "ratio/mean",
    "ratio/min",
    "ratio/max",
    "log_ratio/std",
    "log_ratio/max_abs",
    "reshaped_fraction",
    "zeroed_fraction",
    "ess_fraction",
    "khat",
    "kl/k1",
    "kl/k2",
    "kl/k3",
)


# ------------------------------------------------------------------ the trainer


class ISReshapeGRPOTrainer(GRPOTrainer):
    """``GRPOTrainer`` whose policy loss is :func:`isreshape.policy_loss_and_metrics`.

    ``design``, ``loss_agg_mode`` and ``design_params`` go to the loss unchanged (see
    ``isreshape.torch_impl.losses``; ``loss_agg_mode="trl-grpo"`` is TRL's ``grpo``
    normalisation (the mean over all B sequences, empty ones too), ``"trl-bnpo"`` (=
    ``"token-mean"``) over the micro-batch its ``bnpo``). TRL's own ``loss_type``,
    ``epsilon`` and ``delta`` are not used. The loss's gradient with respect to the current
    per-token log-probabilities is -agg(phi(w, A)) / gradient_accumulation_steps, with
    w = exp(logp - old_logp) and A the completion's advantage.

    Options of TRL's loss that this subclass does not reproduce raise ``ValueError`` at
    construction rather than being ignored silently: vLLM rollout importance correction,
    sequence-level importance sampling, the off-policy sequence mask, the entropy mask and
    bonus, the MoE aux loss. ``beta > 0`` (KL to a reference model) is supported: TRL's k3
    estimate per token, aggregated with ``loss_agg_mode``, is added as TRL does.
    """

    def __init__(
        self,
        *args: Any,
        design: str = "is_reshape_ess",
        loss_agg_mode: str = "token-mean",
        design_params: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.design = design
        self.loss_agg_mode = loss_agg_mode
        self.design_params = dict(design_params or {})
        unsupported = {
            "use_vllm": self.use_vllm,
            "importance_sampling_level != 'token'": self.importance_sampling_level != "token",
            "off_policy_mask_threshold": self.off_policy_mask_threshold is not None,
            "top_entropy_quantile < 1": self.top_entropy_quantile < 1.0,
            "entropy bonus": self._entropy_bonus_enabled,
            "router aux loss": self.aux_loss_enabled,
        }
        bad = [name for name, on in unsupported.items() if on]
        if bad:
            raise ValueError(f"ISReshapeGRPOTrainer does not implement {', '.join(bad)}")

    def isreshape_loss(
        self,
        per_token_logps: torch.Tensor,
        old_per_token_logps: torch.Tensor,
        advantages: torch.Tensor,
        mask: torch.Tensor,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The policy loss and its metrics on (B, T) log-probs, (B,) or (B, T) advantages and
        the (B, T) completion mask; no gradient-accumulation scaling, no KL term."""
        if advantages.dim() == 1:
            advantages = advantages.unsqueeze(1)  # one advantage per completion: (B, 1)
        return isreshape.policy_loss_and_metrics(
            per_token_logps,
            old_per_token_logps,
            advantages,
            mask,
            design=self.design,
            loss_agg_mode=self.loss_agg_mode,
            **self.design_params,
        )

    def _compute_loss(self, model: torch.nn.Module, inputs: dict[str, Any]) -> torch.Tensor:
        prompt_ids, prompt_mask = inputs["prompt_ids"], inputs["prompt_mask"]
        completion_ids, completion_mask = inputs["completion_ids"], inputs["completion_mask"]
        input_ids = torch.cat([prompt_ids, completion_ids], dim=1)
        attention_mask = torch.cat([prompt_mask, completion_mask], dim=1)
        mask = (
            completion_mask if "tool_mask" not in inputs else completion_mask * inputs["tool_mask"]
        )
        per_token_logps, entropies, _ = self._get_per_token_logps_and_entropies(
            model, input_ids, attention_mask, completion_ids.size(1), compute_entropy=True
        )
        old = inputs.get("old_per_token_logps")
        # on-policy (TRL skipped the old log-probs): w = 1 exactly, as TRL's own loss does
        old = per_token_logps.detach() if old is None else old
        loss, metrics = self.isreshape_loss(per_token_logps, old, inputs["advantages"], mask)
        if self.beta != 0.0:
            ref = inputs["ref_per_token_logps"]
            per_token_kl = torch.exp(ref - per_token_logps) - (ref - per_token_logps) - 1
            kl = isreshape.aggregate(per_token_kl, mask, self.loss_agg_mode)
            loss = loss + self.beta * kl
            metrics["kl_to_ref"] = kl.detach()

        mode = "train" if self.model.training else "eval"
        self._log_isreshape_metrics(mode, {"loss": loss.detach(), **metrics})
        with torch.no_grad():
            m = mask.to(entropies.dtype)
            self._metrics[mode]["entropy"].append(
                ((entropies * m).sum() / m.sum().clamp(min=1)).item()
            )
        if mode == "train":  # TRL turns transformers' own scaling off; scale as its losses do
            loss = loss / getattr(self, "current_gradient_accumulation_steps", 1)
        return loss

    def _log_isreshape_metrics(self, mode: str, metrics: dict[str, torch.Tensor]) -> None:
        # one value per process, gathered and reduced the way each statistic combines
        # (min of minima, max of maxima, mean of the rest: an unweighted mean over processes)
        for name, value in metrics.items():
            v = self.accelerator.gather(value.detach().float().reshape(1))
            if name.endswith("/min"):
                out = v.min()
            elif name.endswith("max") or name.endswith("max_abs"):
                out = v.max()
            else:
                out = v.nanmean()
            self._metrics[mode][f"isreshape/{name}"].append(out.item())


# ------------------------------------------------------------------ a tiny local setup


def make_tokenizer() -> PreTrainedTokenizerFast:
    """A character-level tokenizer over ``CHARS`` built in memory (no download)."""
    vocab = {tok: i for i, tok in enumerate([*SPECIALS, *CHARS])}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    tok.decoder = decoders.Fuse()
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token="<pad>",
        eos_token="<eos>",
        unk_token="<unk>",
        padding_side="left",
    )


def make_model(tokenizer: PreTrainedTokenizerFast, seed: int = 0) -> LlamaForCausalLM:
    """A randomly initialised 2-layer Llama with the tokenizer's vocabulary."""
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=64,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.eos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=False,
    )
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return LlamaForCausalLM(config)


def target_reward(completions: list[str], max_completion_length: int = 8, **_: Any) -> list[float]:
    """Verifiable reward: the number of ``TARGET`` characters / the completion budget."""
    return [c.count(TARGET) / max_completion_length for c in completions]


class MetricsRecorder(TrainerCallback):
    """Keeps every training log record that carries the isreshape metrics (one per step with
    ``logging_steps=1``); ``echo`` prints each as one line."""

    def __init__(self, echo: bool = False) -> None:
        self.records: list[dict[str, float]] = []
        self.echo = echo

    def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: ANN001 (TRL's signature)
        if logs and "isreshape/loss" in logs:
            self.records.append({"step": state.global_step, **logs})
            if self.echo:
                print(format_record(self.records[-1]), flush=True)


def format_record(r: dict[str, Any]) -> str:
    """One line: the step, the mean reward (steps that generated) and the main metrics."""
    keys = [
        "reward",
        "isreshape/loss",
        "isreshape/ratio/min",
        "isreshape/ratio/max",
        "isreshape/ess_fraction",
        "isreshape/reshaped_fraction",
        "isreshape/design/gamma",  # the exponent the design used, where it reports one
        "isreshape/kl/k3",
    ]
    parts = [f"step {r['step']:3d}"]
    parts += [f"{k.removeprefix('isreshape/')} {r[k]:+.4g}" for k in keys if k in r]
    return "  ".join(parts)


def _checkpointing_option() -> str:
    names = {f.name for f in dataclasses.fields(GRPOConfig)}
    return (
        "activation_checkpointing"
        if "activation_checkpointing" in names
        else "gradient_checkpointing"
    )


def build_trainer(
    steps: int = 3,
    design: str = "is_reshape_ess",
    output_dir: str | None = None,
    seed: int = 0,
    **design_params: Any,
) -> ISReshapeGRPOTrainer:
    """An :class:`ISReshapeGRPOTrainer` on the tiny setup. ``num_iterations=2``: every batch of
    rollouts is used for two optimiser steps, so the second sees stale data (w != 1)."""
    tokenizer = make_tokenizer()
    model = make_model(tokenizer, seed)
    max_len = 8
    args = GRPOConfig(
        output_dir=output_dir or tempfile.mkdtemp(prefix="isreshape-trl-"),
        max_steps=steps,
        per_device_train_batch_size=8,
        num_generations=4,
        max_completion_length=max_len,
        num_iterations=2,
        learning_rate=3e-3,
        beta=0.0,
        logging_steps=1,
        report_to="none",
        save_strategy="no",
        use_cpu=True,
        bf16=False,
        disable_tqdm=True,
        seed=seed,
        temperature=1.0,
        # a 2-layer model needs no activation checkpointing (TRL turns it on by default;
        # transformers 5 renamed the option)
        **{_checkpointing_option(): False},
    )
    dataset = Dataset.from_dict({"prompt": PROMPTS})

    def reward(completions: list[str], **kw: Any) -> list[float]:
        return target_reward(completions, max_len)

    reward.__name__ = "target_reward"
    return ISReshapeGRPOTrainer(
        model=model,
        reward_funcs=reward,
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        design=design,
        design_params=design_params,
    )


def train(
    steps: int = 3,
    design: str = "is_reshape_ess",
    echo: bool = False,
    seed: int = 0,
    **design_params: Any,
) -> tuple[ISReshapeGRPOTrainer, list[dict[str, float]]]:
    """Trains for ``steps`` optimiser steps; returns the trainer and one log record per step."""
    trainer = build_trainer(steps, design, seed=seed, **design_params)
    collect = MetricsRecorder(echo)
    trainer.add_callback(collect)
    if echo:  # our one line per step instead of transformers' printed dicts
        trainer.remove_callback(PrinterCallback)
    trainer.train()
    return trainer, collect.records


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--design", default="is_reshape_ess")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    t0 = time.perf_counter()
    _, records = train(a.steps, a.design, echo=True, seed=a.seed)
    bad = [r["step"] for r in records if not math.isfinite(r["isreshape/loss"])]
    print(f"{len(records)} steps with design {a.design!r} in {time.perf_counter() - t0:.1f} s")
    return 1 if bad or not records else 0


if __name__ == "__main__":
    raise SystemExit(main())
