"""process_group: real gloo processes on CPU, each holding an uneven shard of one float64
batch. The SUM over ranks of the per-rank gradients must equal the one-process gradient on
the concatenated batch, and every metric the one-process value, for every named design and
every aggregation mode. One spawn per world size runs everything; the parent asserts."""

from __future__ import annotations

import math
import os
import tempfile

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from isreshape.torch_impl import distributed as tdist
from isreshape.torch_impl import losses

T = 6
#: sequences per rank; a 0 in EMPTY marks the rank whose sequences have no valid token
SHARDS = {2: [3, 4], 4: [3, 2, 4, 1]}
EMPTY = {2: None, 4: 1}
REFUSED = ("kl_cov", "clip_cov")


def _batch(world: int):
    g = torch.Generator().manual_seed(1234 + world)
    sizes = SHARDS[world]
    B = sum(sizes)
    lp = -(torch.rand(B, T, generator=g, dtype=torch.float64) * 2 + 0.01)
    old = lp - 0.6 * torch.randn(B, T, generator=g, dtype=torch.float64)
    old = old.clamp(max=0.0)
    adv = torch.randn(B, 1, generator=g, dtype=torch.float64)
    lengths = torch.randint(1, T + 1, (B,), generator=g)
    mask = torch.arange(T)[None, :] < lengths[:, None]
    e = EMPTY[world]
    if e is not None:
        start = sum(sizes[:e])
        mask[start : start + sizes[e]] = False
    return lp, old, adv, mask


def _shard(x: torch.Tensor, world: int, rank: int) -> torch.Tensor:
    sizes = SHARDS[world]
    start = sum(sizes[:rank])
    return x[start : start + sizes[rank]]


def _run(design: str, mode: str, lp, old, adv, mask, process_group=None):
    x = lp.clone().requires_grad_(True)
    loss, metrics = losses.policy_loss_and_metrics(
        x, old, adv, mask, design, mode, process_group=process_group
    )
    loss.backward()
    return x.grad.detach().clone(), {k: float(v) for k, v in metrics.items()}


def _worker(rank: int, world: int, init: str, out_dir: str) -> None:
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=world)
    try:
        torch.set_num_threads(1)
        group = dist.group.WORLD
        lp, old, adv, mask = (_shard(t, world, rank) for t in _batch(world))
        results: dict = {}
        for design in losses.all_designs():
            for mode in losses.AGG_MODES:
                if design in REFUSED:
                    try:
                        _run(design, mode, lp, old, adv, mask, group)
                    except ValueError as exc:
                        results[(design, mode)] = ("refused", str(exc))
                    else:
                        results[(design, mode)] = ("ran", None)
                    continue
                results[(design, mode)] = _run(design, mode, lp, old, adv, mask, group)
        # per-rank statistics (no group): must NOT match on uneven shards
        results["local"] = _run("is_reshape_ess", "token-mean", lp, old, adv, mask)
        # make_policy_loss passes the group through, its probe runs without it
        fn = losses.make_policy_loss("is_reshape_ess", process_group=group)
        x = lp.clone().requires_grad_(True)
        fn(x, old, adv, mask).backward()
        results["made"] = x.grad.detach().clone()
        # gradient_weights with the group: the design's phi of every rank's batch
        for design in ("is_reshape_ess", "tis_sequence_batch_normalized", "variational_gamma"):
            results[("phi", design)] = losses.gradient_weights(
                lp, old, adv, mask, design, process_group=group
            )
        # the collectives of one call, counted
        red = tdist.Reducer(group)
        x = lp.clone().requires_grad_(True)
        losses.policy_loss_and_metrics(x, old, adv, mask, "is_reshape_ess", process_group=red)
        results["collectives"] = red.collectives
        torch.save(results, os.path.join(out_dir, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


def _close(a: torch.Tensor | float, b: torch.Tensor | float) -> bool:
    a = torch.as_tensor(a, dtype=torch.float64)
    b = torch.as_tensor(b, dtype=torch.float64)
    return bool(torch.allclose(a, b, rtol=1e-12, atol=1e-15, equal_nan=True))


def _check(world: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        init = "file://" + os.path.join(tmp, "init")
        mp.spawn(_worker, args=(world, init, tmp), nprocs=world, join=True)
        per_rank = [torch.load(os.path.join(tmp, f"rank{r}.pt")) for r in range(world)]
    lp, old, adv, mask = _batch(world)
    failures = []
    for design in losses.all_designs():
        for mode in losses.AGG_MODES:
            if design in REFUSED:
                for res in per_rank:
                    kind, msg = res[(design, mode)]
                    assert kind == "refused" and design in msg and "process_group" in msg
                continue
            g_single, m_single = _run(design, mode, lp, old, adv, mask)
            g_dist = torch.cat([res[(design, mode)][0] for res in per_rank])
            if not _close(g_dist, g_single):
                err = (g_dist - g_single).abs().max().item()
                failures.append(f"{design} {mode}: gradient off by {err:.3g}")
            for r, res in enumerate(per_rank):
                m_dist = res[(design, mode)][1]
                assert set(m_dist) == set(m_single), (design, mode)
                for k, v in m_single.items():
                    if not _close(m_dist[k], v):
                        failures.append(f"{design} {mode} rank {r}: {k} {m_dist[k]!r} != {v!r}")
    assert not failures, "\n".join(failures[:40])
    # the test sees unreduced statistics: per-rank gamma and denominators give another gradient
    g_single, _ = _run("is_reshape_ess", "token-mean", lp, old, adv, mask)
    g_local = torch.cat([res["local"][0] for res in per_rank])
    assert (g_local - g_single).abs().max().item() > 1e-6
    for design in ("is_reshape_ess", "tis_sequence_batch_normalized", "variational_gamma"):
        phi = torch.cat([res[("phi", design)] for res in per_rank])
        assert _close(phi, losses.gradient_weights(lp, old, adv, mask, design)), design
    g_made = torch.cat([res["made"] for res in per_rank])
    assert _close(g_made, g_single)
    # design statistics, denominators, metrics
    assert all(res["collectives"] == 3 for res in per_rank)


def test_two_ranks() -> None:
    _check(2)


def test_four_ranks() -> None:
    _check(4)


def test_bad_process_group() -> None:
    lp, old, adv, mask = _batch(2)
    with pytest.raises(ValueError, match="process_group must be None or a torch.distributed"):
        losses.policy_loss(lp, old, adv, mask, "is_reshape_ess", process_group="world")
    with pytest.raises(ValueError, match="process_group"):
        losses.make_policy_loss("ppo_clip", process_group=3)


def test_chan_combine() -> None:
    x = torch.randn(50, dtype=torch.float64)
    parts = [x[:7], x[7:7], x[7:30], x[30:]]
    table = torch.stack([tdist.local_moments(p, torch.ones_like(p, dtype=torch.bool)) for p in parts])
    n, mean, m2 = tdist.chan_combine(table)
    assert n.item() == 50
    assert math.isclose(mean.item(), x.mean().item(), rel_tol=1e-13, abs_tol=1e-15)
    assert math.isclose((m2 / n).item(), x.var(unbiased=False).item(), rel_tol=1e-13)
    assert tdist.tail_length(1000) == 95 and tdist.tail_length(10) == 2
