"""Train a tiny causal language model with an IS Reshape loss (no download, CPU, seconds).

The model (an embedding, one GRU layer, a linear head; built here from a config) writes
responses of ``length`` tokens over a vocabulary of ``vocab`` tokens. The reward is verifiable:
the fraction of response tokens equal to ``target``. Rollouts come from a *behaviour* copy of
the policy refreshed every ``refresh`` steps, so the data is stale between refreshes as in real
RL pipelines, and the loss corrects for it with the chosen design's gradient weight phi(w, A).

    python examples/train_tiny_lm.py --design is_reshape_ess --steps 60

prints the reward and the loss metrics (ratio range, ESS fraction, KL estimates, the fraction
of tokens the design reshaped) every ``--log-every`` steps.
"""

from __future__ import annotations

import argparse
import copy
from dataclasses import dataclass

import torch

from isreshape.torch_impl import losses


@dataclass
class Config:
    vocab: int = 6
    length: int = 5
    hidden: int = 32
    target: int = 3
    batch: int = 64
    refresh: int = 4
    lr: float = 0.01
    seed: int = 0


class TinyLM(torch.nn.Module):
    def __init__(self, cfg: Config) -> None:
        super().__init__()
        self.cfg = cfg
        self.embed = torch.nn.Embedding(cfg.vocab + 1, cfg.hidden)  # + a start token
        self.rnn = torch.nn.GRU(cfg.hidden, cfg.hidden, batch_first=True)
        self.head = torch.nn.Linear(cfg.hidden, cfg.vocab)

    def logits(self, tokens: torch.Tensor) -> torch.Tensor:
        """Next-token logits for every prefix: (B, L) tokens -> (B, L, vocab)."""
        start = torch.full((tokens.shape[0], 1), self.cfg.vocab, dtype=torch.long)
        h, _ = self.rnn(self.embed(torch.cat([start, tokens[:, :-1]], dim=1)))
        return self.head(h)

    @torch.no_grad()
    def sample(self, n: int, gen: torch.Generator) -> torch.Tensor:
        tokens = torch.zeros(n, 0, dtype=torch.long)
        x = self.embed(torch.full((n, 1), self.cfg.vocab, dtype=torch.long))
        h = None
        for _ in range(self.cfg.length):
            out, h = self.rnn(x, h)
            probs = torch.softmax(self.head(out[:, -1]), -1)
            nxt = torch.multinomial(probs, 1, generator=gen)
            tokens = torch.cat([tokens, nxt], dim=1)
            x = self.embed(nxt)
        return tokens


def token_log_probs(model: TinyLM, tokens: torch.Tensor) -> torch.Tensor:
    logp = torch.log_softmax(model.logits(tokens), -1)
    return logp.gather(-1, tokens[..., None])[..., 0]


def train(cfg: Config, design: str, steps: int, log_every: int = 0, **params) -> list[dict]:
    """Returns one record per step: reward and the loss metrics (floats). The caller's global
    torch RNG is left as it was."""
    if cfg.refresh < 1 or steps < 0:
        raise ValueError(f"refresh must be >= 1 and steps >= 0, got {cfg.refresh}, {steps}")
    with torch.random.fork_rng():
        return _train(cfg, design, steps, log_every, **params)


def _train(cfg: Config, design: str, steps: int, log_every: int, **params) -> list[dict]:
    torch.manual_seed(cfg.seed)  # the model's initialisation
    gen = torch.Generator().manual_seed(cfg.seed)
    model = TinyLM(cfg)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    behaviour = copy.deepcopy(model)
    history = []
    for step in range(steps):
        if step % cfg.refresh == 0:
            behaviour.load_state_dict(model.state_dict())
        tokens = behaviour.sample(cfg.batch, gen)
        reward = (tokens == cfg.target).float().mean(-1)
        adv = (reward - reward.mean())[:, None]  # batch-mean baseline, one advantage per sequence
        with torch.no_grad():
            old = token_log_probs(behaviour, tokens)
        loss, metrics = losses.policy_loss_and_metrics(
            token_log_probs(model, tokens), old, adv, None, design, **params
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
        rec = {"step": step, "reward": float(reward.mean()), "loss": float(loss.detach())}
        rec.update({k: float(v) for k, v in metrics.items()})
        history.append(rec)
        if log_every and step % log_every == 0:
            print(
                f"step {step:4d} reward {rec['reward']:.3f} ratio [{rec['ratio/min']:.3f}, "
                f"{rec['ratio/max']:.3f}] ess {rec['ess_fraction']:.3f} kl_k3 {rec['kl/k3']:.2e} "
                f"reshaped {rec['reshaped_fraction']:.2f}"
            )
    return history


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--design", default="is_reshape_ess")
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--log-every", type=int, default=7)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    hist = train(Config(seed=args.seed), args.design, args.steps, args.log_every)
    first, last = hist[: len(hist) // 5 or 1], hist[-(len(hist) // 5 or 1) :]
    print(
        f"mean reward: first steps {sum(h['reward'] for h in first) / len(first):.3f}, "
        f"last steps {sum(h['reward'] for h in last) / len(last):.3f} (random policy: "
        f"{1 / Config().vocab:.3f})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
