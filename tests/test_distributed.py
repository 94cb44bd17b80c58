"""process_group: real gloo processes on CPU, each holding an uneven shard of one float64
batch. The SUM over ranks of the per-rank gradients must equal the one-process gradient on
the concatenated batch, and every metric the one-process value, for every named design and
every aggregation mode. One spawn per world size runs everything (world 4 has a rank with no
sequences at all, B = 0, and one whose sequences have no valid token); the parent asserts."""

from __future__ import annotations

import math
import os
import tempfile

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from isreshape.torch_impl import distributed as tdist
from isreshape.torch_impl import losses, peers

T = 6
#: sequences per rank (world 4: rank 2 has none, B = 0); EMPTY marks the rank whose
#: sequences have no valid token
SHARDS = {2: [3, 4], 4: [5, 2, 0, 1]}
EMPTY = {2: None, 4: 1}
REFUSED = ("kl_cov", "clip_cov")
#: designs run with the B = 0 rank's shard at T = 0 (0, 0) in the modes that divide by T
B0_T0_DESIGNS = ("ppo_clip", "is_reshape_ess", "tis_token_batch_normalized")
#: kl_cov / clip_cov by other spellings: refused by the resolved function, not the name
REFUSED_OTHER = ("peers.kl_cov", "peers.clip_cov", peers.kl_cov, peers.clip_cov)


def _global_mean_design(log_w, A, mask=None, process_group=None):
    """A user's callable design with batch statistics of its own: w A / mean over every rank's
    selected tokens of w (a ProcessGroup's all_reduce; local without a group)."""
    w = log_w.exp()
    keep = torch.ones_like(log_w, dtype=torch.bool) if mask is None else mask
    tot = torch.stack([torch.where(keep, w, 0.0).sum(), keep.sum().to(w.dtype)])
    if process_group is not None:
        _SEEN.append(isinstance(process_group, dist.ProcessGroup))
        dist.all_reduce(tot, group=process_group)
    return w * A / (tot[0] / tot[1])


_SEEN: list = []


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


def _run(design, mode: str, lp, old, adv, mask, process_group=None, fn=None):
    x = lp.clone().requires_grad_(True)
    loss, metrics = losses.policy_loss_and_metrics(
        x, old, adv, mask, design if fn is None else fn, mode, process_group=process_group
    )
    loss.backward()
    return x.grad.detach().clone(), {k: float(v) for k, v in metrics.items()}, float(loss.detach())


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
        x = lp.clone().requires_grad_(True)
        losses.policy_loss(x, old, adv, mask, "is_reshape_ess").backward()
        results["local"] = (x.grad.detach().clone(),)
        # kl_cov / clip_cov by a dotted name or as the function: refused too
        for i, d in enumerate(REFUSED_OTHER):
            try:
                losses.policy_loss(lp, old, adv, mask, d, process_group=group)
            except ValueError as exc:
                results[("other", i)] = str(exc)
            else:
                results[("other", i)] = None
        # a user's callable gets the ProcessGroup itself (it runs its own all_reduce)
        _SEEN.clear()
        results["callable"] = _run("x", "token-mean", lp, old, adv, mask, group, _global_mean_design)
        results["callable_got"] = list(_SEEN)
        # a different T per rank for the modes that divide by T: ValueError on every rank
        short = [t[..., : T - rank] for t in (lp, old, adv.expand(-1, T), mask)]
        for mode in ("seq-mean-token-sum-norm", "trl-dr_grpo"):
            try:
                losses.policy_loss(*short, "ppo_clip", mode, process_group=group)
            except ValueError as exc:
                results[("T", mode)] = str(exc)
            else:
                results[("T", mode)] = None
            # loss_scale_factor: no T involved, runs
            losses.policy_loss(*short, "ppo_clip", mode, 6.0, process_group=group)
        # a rank with B = 0 is not in the T check: its empty shard may have T = 0
        zero_t = (lp[:, :0], old[:, :0], adv, mask[:, :0]) if lp.shape[0] == 0 else (lp, old, adv, mask)
        for design in B0_T0_DESIGNS:
            for mode in ("seq-mean-token-sum-norm", "trl-dr_grpo"):
                results[("T0", design, mode)] = _run(design, mode, *zero_t, group)
        # a Reducer made outside a call is refused (its cache would outlive its batch)
        try:
            losses.policy_loss(lp, old, adv, mask, "is_reshape_ess", process_group=tdist.Reducer(group))
        except ValueError as exc:
            results["reducer"] = str(exc)
        else:
            results["reducer"] = None
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
        # the collectives of one call, counted with the private hook
        counted: list = []
        tdist._GATHER_HOOKS.append(lambda red: counted.append(red))
        try:
            for key, call, design in (
                ("ess+metrics", losses.policy_loss_and_metrics, "is_reshape_ess"),
                ("tis+metrics", losses.policy_loss_and_metrics, "tis_token_batch_normalized"),
                ("ppo+metrics", losses.policy_loss_and_metrics, "ppo_clip"),
                ("ess", losses.policy_loss, "is_reshape_ess"),
                ("ppo", losses.policy_loss, "ppo_clip"),
            ):
                counted.clear()
                call(lp, old, adv, mask, design, process_group=group)
                # one fresh reducer per call
                results[("collectives", key)] = (len(counted), len({id(r) for r in counted}))
        finally:
            tdist._GATHER_HOOKS.clear()
    finally:
        dist.destroy_process_group()
    # after destroy_process_group: group.WORLD is None (the single-process path), and the
    # stale ProcessGroup object is refused with a ValueError naming process_group
    results["world_after"] = dist.group.WORLD
    try:
        losses.policy_loss(lp, old, adv, mask, "ppo_clip", process_group=group)
    except ValueError as exc:
        results["stale"] = str(exc)
    else:
        results["stale"] = None
    torch.save(results, os.path.join(out_dir, f"rank{rank}.pt"))


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
            g_single, m_single, l_single = _run(design, mode, lp, old, adv, mask)
            for r, res in enumerate(per_rank):  # the B = 0 rank: an empty gradient
                assert res[(design, mode)][0].shape == (SHARDS[world][r], T)
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
            # each rank's loss is its share: the sum over ranks is the one-process loss
            if not _close(sum(res[(design, mode)][2] for res in per_rank), l_single):
                failures.append(f"{design} {mode}: loss sum != one-process loss {l_single!r}")
    # the B = 0 rank with T = 0 (world 4): not in the T check, the same as one process
    for design in B0_T0_DESIGNS:
        for mode in ("seq-mean-token-sum-norm", "trl-dr_grpo"):
            g_single, m_single, l_single = _run(design, mode, lp, old, adv, mask)
            got = [res[("T0", design, mode)] for res in per_rank]
            for r, (g, m, _) in enumerate(got):
                assert g.shape == ((0, 0) if SHARDS[world][r] == 0 else (SHARDS[world][r], T))
                assert set(m) == set(m_single), (design, mode)
                for k, v in m_single.items():
                    if not _close(m[k], v):
                        failures.append(f"T0 {design} {mode} rank {r}: {k} {m[k]!r} != {v!r}")
            if not _close(torch.cat([g for g, _, _ in got if g.shape[0]]), g_single):
                failures.append(f"T0 {design} {mode}: gradient")
            if not _close(sum(loss for _, _, loss in got), l_single):
                failures.append(f"T0 {design} {mode}: loss {[x[2] for x in got]} vs {l_single!r}")
    assert not failures, "\n".join(failures[:40])
    # the test sees unreduced statistics: per-rank gamma and denominators give another gradient
    g_single = _run("is_reshape_ess", "token-mean", lp, old, adv, mask)[0]
    g_local = torch.cat([res["local"][0] for res in per_rank])
    assert (g_local - g_single).abs().max().item() > 1e-6
    for design in ("is_reshape_ess", "tis_sequence_batch_normalized", "variational_gamma"):
        phi = torch.cat([res[("phi", design)] for res in per_rank])
        assert _close(phi, losses.gradient_weights(lp, old, adv, mask, design)), design
    g_made = torch.cat([res["made"] for res in per_rank])
    assert _close(g_made, g_single)
    for res in per_rank:
        for i, d in enumerate(REFUSED_OTHER):
            msg = res[("other", i)]
            assert msg is not None and "process_group" in msg, d
        assert res["callable_got"] == [True]
        assert res["reducer"] is not None and "process_group" in res["reducer"]
        for mode in ("seq-mean-token-sum-norm", "trl-dr_grpo"):
            msg = res[("T", mode)]
            assert msg is not None and f"T from {T - world + 1} to {T}" in msg, (mode, msg)
        assert res["world_after"] is None
        assert res["stale"] is not None and "process_group" in res["stale"]
        # (collectives, distinct reducers): design statistics, denominators, metrics
        assert res[("collectives", "ess+metrics")] == (3, 1)
        assert res[("collectives", "tis+metrics")] == (3, 1)
        assert res[("collectives", "ppo+metrics")] == (2, 1)
        assert res[("collectives", "ess")] == (2, 1)
        assert res[("collectives", "ppo")] == (1, 1)
    # a callable design with its own all_reduce over the ProcessGroup it is given
    g_single, m_single, _ = _run("x", "token-mean", lp, old, adv, mask, None, _global_mean_design)
    assert _close(torch.cat([res["callable"][0] for res in per_rank]), g_single)
    for res in per_rank:
        assert all(_close(res["callable"][1][k], v) for k, v in m_single.items())


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
    # the same as Chan's pairwise fold in rank order (count-0 rows included), to 1e-12
    n0, mean0, m20 = table[0]
    for nb, mb, m2b in table[1:]:
        tot = n0 + nb
        if tot > 0:
            delta = mb - mean0
            mean0, m20 = mean0 + delta * nb / tot, m20 + m2b + delta * delta * n0 * nb / tot
        n0 = tot
    assert _close(torch.stack([n, mean, m2]), torch.stack([n0, mean0, m20]))
    assert [v.item() for v in tdist.chan_combine(torch.zeros(3, 3, dtype=torch.float64))] == [0, 0, 0]


def test_chan_combine_is_vectorised() -> None:
    """No Python loop over the ranks: the same number of torch ops for 4 and 256 rows."""
    from torch.utils._python_dispatch import TorchDispatchMode

    class Count(TorchDispatchMode):
        def __init__(self) -> None:
            super().__init__()
            self.ops = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            self.ops += 1
            return func(*args, **(kwargs or {}))

    counts = []
    for world in (4, 256):
        table = torch.rand(world, 3, dtype=torch.float64)
        with Count() as c:
            tdist.chan_combine(table)
        counts.append(c.ops)
    assert counts[0] == counts[1], counts
