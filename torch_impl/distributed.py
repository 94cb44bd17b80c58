"""Collective helpers for data-parallel batch statistics (``process_group`` of ``losses``).

Every batch statistic of the policy losses (the seed designs' gamma rules, the batch-normalised
TIS means, the aggregation denominators, the metrics and k-hat) is a function of a few local
partials per rank: sums, maxima, minima, and (count, mean, M2) triples. A :class:`Reducer`
packs the local partials of one phase into one float64 vector, gathers it from every rank with
one ``all_gather`` (a (world, K) table) and combines the table identically on every
rank (sums, max / min, Chan's parallel formula for the moments), so every rank gets the same
global statistic bit for bit, and one phase costs one collective.

No collective runs with ``process_group=None``: the losses then take their single-process path.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

Tensor = torch.Tensor


def _process_group_type() -> type | None:
    if not torch.distributed.is_available():
        return None
    return getattr(torch.distributed, "ProcessGroup", None)


def check_process_group(process_group: Any) -> None:
    """``ValueError`` naming the argument unless it is None or a ``torch.distributed``
    ProcessGroup of an initialised default group (``torch.distributed.group.WORLD`` after
    ``init_process_group``; before it, and after ``destroy_process_group``, ``group.WORLD`` is
    None: the single-process path). A :class:`Reducer` is refused unless it is the live
    reducer of the call in progress (the losses pass theirs to their own designs): its cache
    belongs to one call, so a reducer cannot be reused across calls."""
    if process_group is None:
        return
    if isinstance(process_group, Reducer):
        if process_group.live:
            return
        raise ValueError(
            "process_group must be None or a torch.distributed ProcessGroup, got a Reducer "
            "outside the call that made it (its cached statistics belong to that call's batch); "
            f"pass the group itself: {process_group!r}"
        )
    pg = _process_group_type()
    if pg is not None and isinstance(process_group, pg):
        if not torch.distributed.is_initialized():
            raise ValueError(
                "process_group is a ProcessGroup but torch.distributed is not initialised "
                f"(call init_process_group first, or pass None), got {process_group!r}"
            )
        return
    raise ValueError(
        "process_group must be None or a torch.distributed ProcessGroup (e.g. "
        f"torch.distributed.group.WORLD after init_process_group), got {process_group!r}"
    )


#: private test hook: every callable here is called with the :class:`Reducer` after each of
#: its collectives (``tests/test_distributed.py`` counts the collectives of one call with it)
_GATHER_HOOKS: list[Callable[[Reducer], None]] = []


class Reducer:
    """One call's view of a process group (internal): :meth:`gather` runs one collective and
    counts it (``collectives``); ``cache`` holds statistics already reduced in this call (a
    design's gamma is needed by phi, the loss value and the metrics: one collective, not
    three). Made fresh by :func:`open_call` for every public call and ``live`` only inside it, so
    no cached statistic outlives the batch it was computed on."""

    def __init__(self, process_group: Any) -> None:
        check_process_group(process_group)
        if isinstance(process_group, Reducer):
            process_group = process_group.group
        self.group = process_group
        self.world = torch.distributed.get_world_size(process_group)
        self.collectives = 0
        self.cache: dict[Any, Any] = {}
        self.live = False

    def gather(self, vec: Tensor) -> Tensor:
        """(world, K) float64 table of every rank's 1-D ``vec`` (same K on every rank), rows in
        rank order. One ``all_gather``."""
        v = vec.detach().to(torch.float64).reshape(-1).contiguous()
        # all_gather (a list of tensors): supported by every backend and torch version
        # (all_gather_into_tensor is deprecated in torch 2.13 and refuses a (world, K) output
        # on gloo)
        out = [torch.empty_like(v) for _ in range(self.world)]
        torch.distributed.all_gather(out, v, group=self.group)
        self.collectives += 1
        for hook in _GATHER_HOOKS:
            hook(self)
        return torch.stack(out)


def open_call(process_group: Any) -> Reducer | None:
    """The reducer of one public call: None for None, else a fresh :class:`Reducer` (empty
    cache), live until :func:`close_call` (a plain function pair, not a context manager: the
    single-process path stays traceable by ``torch.compile`` in every supported torch)."""
    check_process_group(process_group)
    if process_group is None:
        return None
    red = Reducer(process_group)  # (a live reducer given: a fresh one on its group)
    red.live = True
    return red


def close_call(red: Reducer | None) -> None:
    """End of the call that opened ``red``: it is no longer accepted as a process_group and
    its cache is dropped. (A call that raises leaves it open, but nothing outside the call
    holds it: user designs get the ProcessGroup, never the reducer.)"""
    if red is not None:
        red.live = False
        red.cache.clear()


def as_reducer(process_group: Any) -> Reducer | None:
    """None for None, the live reducer itself, else a new one (for one computation)."""
    check_process_group(process_group)
    if process_group is None:
        return None
    if isinstance(process_group, Reducer):
        return process_group
    return Reducer(process_group)


def amax_all(x: Tensor) -> Tensor:
    """0-d max of every entry; -inf (the identity of max) for an empty tensor, so a rank with
    no sequences joins every collective and contributes nothing."""
    if x.numel():
        return x.amax()
    return torch.full((), -math.inf, dtype=x.dtype, device=x.device)


def amin_all(x: Tensor) -> Tensor:
    """0-d min of every entry; +inf for an empty tensor (see :func:`amax_all`)."""
    if x.numel():
        return x.amin()
    return torch.full((), math.inf, dtype=x.dtype, device=x.device)


def local_moments(x: Tensor, keep: Tensor) -> Tensor:
    """(count, mean, M2) of x over ``keep`` in float64 (two-pass mean, M2 = sum of squared
    deviations), a 1-D tensor of 3; count 0 gives (0, 0, 0)."""
    x64 = x.detach().to(torch.float64)
    k = torch.broadcast_to(keep, x64.shape)
    zero = torch.zeros((), dtype=torch.float64, device=x64.device)
    n = k.sum().to(torch.float64)
    mean = torch.where(k, x64, zero).sum() / n.clamp(min=1)
    mean = mean + torch.where(k, x64 - mean, zero).sum() / n.clamp(min=1)
    m2 = torch.where(k, (x64 - mean) ** 2, zero).sum()
    return torch.stack([n, mean, m2])


def chan_combine(table: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Global (count, mean, M2) from a (world, 3) table of local (count, mean, M2): Chan et
    al.'s parallel formula for all ranks at once (N = sum n_r, mean = sum n_r mean_r / N,
    M2 = sum M2_r + n_r (mean_r - mean)^2; N = 0 gives (0, 0, 0)), the same on every rank."""
    n_r, mean_r, m2_r = table[:, 0], table[:, 1], table[:, 2]
    n = n_r.sum()
    safe = torch.where(n > 0, n, torch.ones_like(n))
    mean = (n_r * mean_r).sum() / safe
    m2 = (m2_r + n_r * (mean_r - mean) ** 2).sum()
    return n, mean, m2


class Packer:
    """Local partials of one phase, reduced with one :meth:`Reducer.gather`.

    ``sum`` / ``max`` / ``min`` / ``moments`` / ``rows`` register a local partial and return a
    slot; :meth:`run` gathers them all at once; :meth:`get` returns the global value of a slot
    (a 0-d float64 tensor; (count, mean, M2) for moments; the (world, K) table for rows)."""

    def __init__(self, reducer: Reducer) -> None:
        self.reducer = reducer
        self._parts: list[Tensor] = []
        self._kinds: list[tuple[str, int, int]] = []
        self._size = 0
        self._table: Tensor | None = None

    def _add(self, kind: str, v: Tensor) -> int:
        v = v.detach().to(torch.float64).reshape(-1)
        self._parts.append(v)
        self._kinds.append((kind, self._size, v.numel()))
        self._size += v.numel()
        return len(self._kinds) - 1

    def sum(self, x: Tensor) -> int:
        return self._add("sum", x)

    def max(self, x: Tensor) -> int:
        return self._add("max", x)

    def min(self, x: Tensor) -> int:
        return self._add("min", x)

    def moments(self, x: Tensor, keep: Tensor) -> int:
        return self._add("moments", local_moments(x, keep))

    def rows(self, x: Tensor) -> int:
        return self._add("rows", x)

    def run(self) -> None:
        dev = self._parts[0].device if self._parts else torch.device("cpu")
        vec = torch.cat(self._parts) if self._parts else torch.zeros(0, dtype=torch.float64, device=dev)
        self._table = self.reducer.gather(vec)

    def get(self, slot: int) -> Any:
        if self._table is None:
            raise RuntimeError("Packer.get before Packer.run")
        kind, start, size = self._kinds[slot]
        t = self._table[:, start : start + size]
        if kind == "sum":
            return t.sum(0).reshape(()) if size == 1 else t.sum(0)
        if kind == "max":
            return t.amax(0).reshape(()) if size == 1 else t.amax(0)
        if kind == "min":
            return t.amin(0).reshape(()) if size == 1 else t.amin(0)
        if kind == "moments":
            return chan_combine(t)
        return t


def tail_length(count: int) -> int:
    """ceil(min(S / 5, 3 sqrt(S))) (the PSIS tail length M of ``diagnostics.psis_khat``)."""
    s = max(int(count), 1)
    return min(-(-s // 5), math.isqrt(9 * s - 1) + 1)
