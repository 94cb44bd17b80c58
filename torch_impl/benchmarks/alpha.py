"""``isreshape bench alpha``: the alpha* solver against the seed's bisection (section 6.5 / 7.4).

On N x V float32 logits (default N = 64, V = 152064, torch seed 0) and two families:

* gaussian: logits_theta = 3 randn, logits_target = 3 randn + 0.5 logits_theta (the brief's);
* zipf: peaked Zipf-like rows, logits = -1.5 log(rank) of a random permutation, the target's
  ranks perturbed by 2 randn in log space.

It times (process CPU time and one thread by default; ``--threads``, ``--clock wall``), in
one run (median of ``--repeats`` runs each, after one warm-up call that also compiles): the
seed's ``_solve_kl_symmetry`` ported to batched torch as written (probabilities + eps = 1e-10,
tol = 1e-6, max_iter = 50, its ``(high - low).max() < tol`` early exit included), our
:func:`optimal_alpha` compiled (``torch.compile``, default inductor settings; the float32
formulation :func:`_solve_fused32`) and eager (the chunked solver), and the unit: one eager
``torch.logsumexp`` over one [N, V] tensor. It prints both of ours as a speed-up over the seed
and in logsumexp-equivalents, the same cost against a compiled ``torch.logsumexp`` (a
stricter unit: inductor's fused exp-and-sum reads the tensor once with no [N, V] temporary),
and max |alpha - alpha_ref| for every solver, with alpha_ref
a float64 solve of the same inputs (30 Halley passes of the float64 solver) whose bracket is
certified by the sign of Delta at alpha_ref -+ 1e-9. ``--no-compile`` leaves out the compiled
solver (no compiler at hand). Timings on a shared machine are noisy: compare the ratios.

``--device cuda`` (or ``cuda:N``) runs everything, the reference included, on the GPU (inputs
drawn on the CPU, the same values as there, then moved), timed by wall clock with
``torch.cuda.synchronize()`` before and after each timed call; ``--clock cpu`` is refused there
and ``--threads`` is ignored. ``tools/gpu_runbook.sh`` runs it on a GPU.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from isreshape.torch_impl.benchmarks.loss import (
    add_device_arguments,
    device_clock,
    device_name,
)
from isreshape.torch_impl.sampling import optimal_alpha


class SeedOptimalSampling:
    """The seed's ``OptimalSamplingDistribution._solve_kl_symmetry`` and ``_geometric_mean``
    (section 7.4), copied as written (probabilities in, eps added inside every log)."""

    def __init__(self, tol=1e-6, max_iter=50, eps=1e-10):
        self.tol = tol
        self.max_iter = max_iter
        self.eps = eps
        self.iterations = 0

    def _solve_kl_symmetry(self, pi_theta, pi_t):
        batch_size = pi_theta.shape[0]
        device = pi_theta.device
        alpha_low = torch.zeros(batch_size, device=device)
        alpha_high = torch.ones(batch_size, device=device)
        for iteration in range(self.max_iter):
            self.iterations = iteration + 1
            alpha_mid = (alpha_low + alpha_high) / 2
            q_alpha = self._geometric_mean(pi_theta, pi_t, alpha_mid)
            log_ratio = torch.log(pi_t + self.eps) - torch.log(pi_theta + self.eps)
            delta = (q_alpha * log_ratio).sum(dim=-1)
            mask = delta > 0
            alpha_low = torch.where(mask, alpha_mid, alpha_low)
            alpha_high = torch.where(mask, alpha_high, alpha_mid)
            if (alpha_high - alpha_low).max() < self.tol:
                return (alpha_low + alpha_high) / 2, True
        return (alpha_low + alpha_high) / 2, False

    def _geometric_mean(self, pi_theta, pi_t, alpha):
        if alpha.dim() == 1:
            alpha = alpha.unsqueeze(-1)
        log_q = alpha * torch.log(pi_theta + self.eps) + (1 - alpha) * torch.log(pi_t + self.eps)
        return F.softmax(log_q, dim=-1)


def families(n: int, v: int) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    torch.manual_seed(0)
    theta = 3 * torch.randn(n, v)
    target = 3 * torch.randn(n, v) + 0.5 * theta
    out = {"gaussian": (theta, target)}
    g = torch.Generator().manual_seed(1)
    log_rank = torch.log(torch.arange(1, v + 1, dtype=torch.float32))
    perm = torch.stack([torch.randperm(v, generator=g) for _ in range(n)])
    lr = log_rank[perm]
    z_theta = -1.5 * lr
    z_target = -1.5 * (lr + 2 * torch.randn(n, v, generator=g))
    out["zipf"] = (z_theta, z_target)
    return out


CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}


def _median_time(fn, repeats: int, clock: str = "cpu", sync=None) -> float:
    """Median time of ``repeats`` calls after one warm-up. ``cpu``: CPU time of this process
    (time.process_time), with one thread the compute the call costs, not the time it waited
    for a core on the shared machine (with several threads it is the sum over threads);
    ``wall``: time.perf_counter. ``sync`` (on CUDA: ``torch.cuda.synchronize``) runs before
    and after each timed call."""
    tick = CLOCKS[clock]
    wait = sync or (lambda: None)
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        wait()
        t0 = tick()
        fn()
        wait()
        times.append(tick() - t0)
    return statistics.median(times)


def reference_alpha(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, bool]:
    """float64 alpha* (30 passes) and whether Delta changes sign across alpha -+ 1e-9."""
    xd, yd = x.double(), y.double()
    a = optimal_alpha(xd, yd, passes=30)
    lx, ly = torch.log_softmax(xd, -1), torch.log_softmax(yd, -1)
    d = ly - lx

    def delta(al):
        q = torch.softmax(ly - al.unsqueeze(-1) * d, -1)
        return (q * d).sum(-1)

    interior = (a > 1e-8) & (a < 1 - 1e-8)
    ok = (delta(a - 1e-9) > 0) & (delta(a + 1e-9) < 0)
    return a, bool((ok | ~interior).all())


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="isreshape bench alpha", description=__doc__)
    p.add_argument("--quick", action="store_true", help="N = 8, V = 4096 (for the test)")
    p.add_argument("--n", type=int, default=64)
    p.add_argument("--v", type=int, default=152064)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (default 1: on a loaded shared CPU, OpenMP barriers between "
        "threads dominate multi-threaded timings of every contender; no effect on CUDA)",
    )
    p.add_argument(
        "--no-compile",
        action="store_true",
        help="leave out the compiled solver (torch.compile needs a C++ compiler on CPU)",
    )
    add_device_arguments(p, "where the logits live and the solvers run")
    args = p.parse_args(argv)
    clock = device_clock(p, args)
    if args.device == "cpu":
        torch.set_num_threads(args.threads)
        where = f"device cpu, {torch.get_num_threads()} threads"
        sync = None
    else:
        where = f"device {device_name(args.device)}, CUDA {torch.version.cuda}"
        dev = torch.device(args.device)

        def sync():
            torch.cuda.synchronize(dev)

    n, v = (8, 4096) if args.quick else (args.n, args.v)
    repeats = 3 if args.quick else args.repeats
    clock_text = {
        "cpu": "process CPU time",
        "wall": "wall time" if args.device == "cpu" else "wall time, synchronised",
    }[clock]
    print(
        f"alpha* benchmark: N={n} V={v} float32, torch {torch.__version__}, "
        f"{where}, median of {repeats} runs after one warm-up, "
        f"clock: {clock_text}; "
        "ratios are from the same run"
    )
    worst = 0.0
    solvers = {"eager": optimal_alpha}
    if not args.no_compile:
        solvers = {"compiled": torch.compile(optimal_alpha), **solvers}
        lse_compiled = torch.compile(lambda t: torch.logsumexp(t, -1))
    for name, (x, y) in families(n, v).items():
        x, y = x.to(args.device), y.to(args.device)
        pt, pg = torch.softmax(x, -1), torch.softmax(y, -1)
        seed = SeedOptimalSampling()
        ck = clock
        solve_seed = seed._solve_kl_symmetry
        t_seed = _median_time(lambda: solve_seed(pt, pg), repeats, ck, sync)  # noqa: B023
        times, errs = {}, {}
        a_ref, certified = reference_alpha(x, y)
        for label, solve in solvers.items():
            t0 = time.perf_counter()
            solve(x, y)  # compiles on the first call
            if sync is not None:
                sync()
            first = time.perf_counter() - t0
            times[label] = _median_time(lambda: solve(x, y), repeats, ck, sync)  # noqa: B023
            errs[label] = (solve(x, y).double() - a_ref).abs().max().item()
            if label == "compiled":
                print(f"[{name}] compiled solver: first call (compilation) {first:.1f} s wall")
        t_lse = _median_time(lambda: torch.logsumexp(x, -1), repeats, ck, sync)  # noqa: B023
        a_seed, conv = seed._solve_kl_symmetry(pt, pg)
        err_seed = (a_seed.double() - a_ref).abs().max().item()
        worst = max(worst, *errs.values())
        print(f"[{name}] alpha_ref range [{a_ref.min().item():.4f}, {a_ref.max().item():.4f}]")
        print(f"[{name}] seed bisection: {t_seed * 1e3:9.2f} ms  ({seed.iterations} iterations)")
        for label, t in times.items():
            print(f"[{name}] ours, {label:8s}: {t * 1e3:9.2f} ms")
        print(f"[{name}] logsumexp unit: {t_lse * 1e3:9.2f} ms (eager torch.logsumexp)")
        for label, t in times.items():
            print(f"[{name}] {label}: speed-up over seed bisection: {t_seed / t:.1f}x")
            print(f"[{name}] {label}: cost in logsumexp-equivalents: {t / t_lse:.2f}")
        if "compiled" in times:
            t_clse = _median_time(lambda: lse_compiled(x), repeats, ck, sync)  # noqa: B023
            print(
                f"[{name}] compiled: cost in compiled-logsumexp-equivalents: "
                f"{times['compiled'] / t_clse:.2f} (compiled logsumexp {t_clse * 1e3:.2f} ms)"
            )
        ours = ", ".join(f"{label} {e:.2e}" for label, e in errs.items())
        print(
            f"[{name}] max |alpha - alpha_ref|: {ours}, seed {err_seed:.2e} "
            f"(reference bracket certified: {certified}; seed converged: {conv})"
        )
    print(f"max |alpha - alpha_ref| over families: {worst:.2e}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
