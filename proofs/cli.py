"""``isreshape``: a thin dispatcher to the ledger, the fixture generator, the benchmarks and the
notebook runner. Heavy imports happen inside each subcommand."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter


def _truncate(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."


def _table(results) -> str:
    rows = [("id", "source", "section", "verdict", "ok", "evidence")]
    for r in results:
        d = r.as_dict()
        rows.append(
            (
                d["id"],
                d["source"],
                d["section"],
                d["verdict"],
                "" if r.matches else f"!= {d['expected']}",
                _truncate(d["evidence"], 90),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = []
    for row in rows:
        lines.append("  ".join(c.ljust(w) for c, w in zip(row[:5], widths)) + "  " + row[5])
    return "\n".join(lines)


def _summary(results, seconds: float) -> str:
    from isreshape.proofs.ledger import VERDICTS

    by_verdict = Counter(r.outcome.verdict for r in results)
    by_seed: dict[str, Counter] = {}
    for r in results:
        by_seed.setdefault(r.claim.seed, Counter())[r.outcome.verdict] += 1
    lines = [
        f"{len(results)} claims in {seconds:.1f} s: "
        + ", ".join(
            f"{v} {by_verdict.get(v, 0)}"
            for v in VERDICTS + ("ERROR",)
            if by_verdict.get(v) or v in VERDICTS
        )
    ]
    for seed, cnt in sorted(by_seed.items()):
        lines.append(f"  seed {seed}: " + ", ".join(f"{v} {cnt[v]}" for v in VERDICTS if cnt[v]))
    mismatched = [r for r in results if not r.matches]
    lines.append(
        "every computed verdict equals its recorded expected verdict"
        if not mismatched
        else f"{len(mismatched)} computed verdict(s) differ from the recorded expected verdict: "
        + ", ".join(r.claim.id for r in mismatched)
    )
    return "\n".join(lines)


def _markdown(results, seconds: float) -> str:
    out = ["# isreshape audit: the claims ledger", "", "```", _summary(results, seconds), "```"]
    seed = section = None
    for r in results:
        d = r.as_dict()
        if r.claim.seed != seed:
            seed = r.claim.seed
            out += ["", f"## Seed {seed} (`{d['source']}`)"]
            section = None
        if d["section"] != section:
            section = d["section"]
            out += ["", f"### Section {section}"]
        flag = "" if r.matches else f" (expected {d['expected']})"
        method = f", {d['method']}" if d["method"] else ""
        out += ["", f"- **{d['id']}** [{d['verdict']}{flag}{method}] {d['statement']}"]
        if d["assumptions"]:
            out.append(f"  - assumptions: {d['assumptions']}")
        if d["conditions"]:
            out.append(f"  - conditions: {d['conditions']}")
        out.append(f"  - evidence: {' '.join(d['evidence'].split())}")
        for role, label in (("correction", "correction"), ("counter_case", "counter-case")):
            if role in d:
                v = d[role]
                out.append(f"  - {label} [{v['verdict']}]: {v['statement']}")
                out.append(f"    - evidence: {' '.join(v['evidence'].split())}")
        if d["links"]:
            out.append("  - see: " + ", ".join(f"`{x}`" for x in d["links"]))
    return "\n".join(out) + "\n"


def _errata(results) -> str:
    """The seeds' errata: every FALSE claim, as written and corrected, with the evidence."""
    out = ["# Errata of the IS Reshape seeds (computed by `isreshape audit --errata`)", ""]
    n = 0
    for r in results:
        if r.outcome.verdict != "FALSE":
            continue
        n += 1
        d = r.as_dict()
        corr = d.get("correction")
        out += [f"## {d['id']} (seed {r.claim.seed}, section {d['section']})", ""]
        out.append(f"- as written: {d['statement']}")
        out.append(f"  - evidence: {' '.join(d['evidence'].split())}")
        if corr:
            cond = f" (conditions: {corr['conditions']})" if corr["conditions"] else ""
            out.append(f"- corrected: {corr['statement']}")
            out.append(
                f"  - the same check says {corr['verdict']}{cond}: "
                f"{' '.join(corr['evidence'].split())}"
            )
        else:
            out.append("- corrected: (no correction recorded yet)")
        out.append("")
    out.insert(1, f"{n} FALSE claims.")
    return "\n".join(out)


def cmd_audit(args: argparse.Namespace) -> int:
    from isreshape.proofs.ledger import (
        MAX_UNCHECKABLE,
        UNCHECKABLE,
        evidence_problems,
        load_all_claims,
        load_evidence,
        run_claim,
        write_evidence,
    )

    if args.errata and args.format != "table":
        print("--errata is its own report: give it without --format", file=sys.stderr)
        return 2
    claims = load_all_claims()
    seeds = sorted({c.seed for c in claims.values()})
    if args.claim:
        missing = [c for c in args.claim if c not in claims]
        if missing:
            print(
                f"unknown claim id(s): {', '.join(missing)}; ids look like "
                f"{next(iter(claims))} (seeds {', '.join(seeds)}); "
                "`isreshape audit --format json` lists them all",
                file=sys.stderr,
            )
            return 2
        selected = [claims[c] for c in args.claim]
    else:
        selected = list(claims.values())
    if args.seed:
        unknown = [s for s in args.seed if s not in seeds]
        if unknown:
            print(
                f"unknown seed(s): {', '.join(unknown)}; valid seeds: {', '.join(seeds)}",
                file=sys.stderr,
            )
            return 2
        selected = [c for c in selected if c.seed in args.seed]
        if not selected:
            print("no claim matches both --claim and --seed", file=sys.stderr)
            return 2
    t0 = time.perf_counter()
    results = [run_claim(c) for c in selected]
    seconds = time.perf_counter() - t0
    problems = [p for r in results for p in r.problems()]
    snapshots = {s: load_evidence(s) for s in {r.claim.seed for r in results}}
    moved = [p for r in results for p in evidence_problems(r, snapshots[r.claim.seed])]
    if args.write_evidence:
        if problems:
            # pin only what decides as recorded: a red run's numbers are not the truth
            for p in problems:
                print(p, file=sys.stderr)
            print("nothing pinned: fix the problems above first", file=sys.stderr)
            return 1
        for p in moved:
            print(f"re-pinned {p}", file=sys.stderr)
        for path in write_evidence(results):
            print(f"wrote {path}", file=sys.stderr)
    else:
        problems += moved
    n_unch = sum(c.expected == UNCHECKABLE for c in claims.values())
    if not (args.claim or args.seed) and n_unch > MAX_UNCHECKABLE:
        problems.append(f"{n_unch} UNCHECKABLE claims, at most {MAX_UNCHECKABLE} allowed")
    incomplete = [x for r in results if (x := r.incomplete())]
    # every record says how its check knows (ledger.METHODS)
    problems += [
        f"{r.claim.id}: no method= (how the check knows)" for r in results if r.method is None
    ]
    if args.format == "json":
        print(json.dumps([r.as_dict() for r in results], indent=1))
    elif args.format == "markdown":
        print(_markdown(results, seconds), end="")
    elif args.errata and args.format == "table":
        print(_errata(results))
    else:
        print(_table(results))
        print()
        print(_summary(results, seconds))
    if incomplete:
        print(
            f"{len(incomplete)} claim(s) not yet deciding (no subject or no variant)",
            file=sys.stderr,
        )

    for p in problems:
        print(p, file=sys.stderr)
    return 0 if not problems else 1


def cmd_golden(args: argparse.Namespace) -> int:
    from isreshape.reference import golden

    if args.only:
        keys = golden.load_all_specs()
        modules = sorted({k.split(".")[0] for k in keys})
        unknown = [o for o in args.only if o not in keys and o not in modules]
        if unknown:
            print(
                f"unknown --only {', '.join(unknown)}: give a module ({', '.join(modules)}) "
                "or module.function",
                file=sys.stderr,
            )
            return 2
    if args.write:
        # --write regenerates every case of the chosen files: a sample or a part of them would
        # leave the rest stale, so the check-only flags are refused, not ignored
        flags = {"--full": args.full, "--quick": args.quick, "--shard": args.shard is not None}
        given = [f for f, on in flags.items() if on]
        if given:
            print(f"{', '.join(given)} only go with --check, not --write", file=sys.stderr)
            return 2
        return golden.write_all(only=args.only)
    if args.quick and args.full:
        print("--quick and --full exclude each other", file=sys.stderr)
        return 2
    try:
        k, n = (int(x) for x in (args.shard or "1/1").split("/"))
        if not 1 <= k <= n:
            raise ValueError
    except ValueError:
        print(f"--shard must be K/N with 1 <= K <= N, got {args.shard!r}", file=sys.stderr)
        return 2
    problems = golden.check_all(
        only=args.only,
        fast_only=not args.full,
        bulk_stride=golden.QUICK_STRIDE if args.quick else 1,
        shard=(k, n),
    )
    for p in problems:
        print(p)
    return 1 if problems else 0


def cmd_bench(args: argparse.Namespace) -> int:
    import importlib
    import pkgutil

    from isreshape.torch_impl import benchmarks

    names = sorted(m.name for m in pkgutil.iter_modules(benchmarks.__path__))
    if args.name is None:  # the list, one line each (the module docstring's first line)
        for name in names:
            mod = importlib.import_module(f"isreshape.torch_impl.benchmarks.{name}")
            doc = (mod.__doc__ or "").strip().splitlines()
            print(f"{name:12s} {doc[0] if doc else ''}")
        return 0
    if args.name not in names:
        print(f"unknown benchmark {args.name!r}; valid: {', '.join(names)}", file=sys.stderr)
        return 2
    module = importlib.import_module(f"isreshape.torch_impl.benchmarks.{args.name}")
    return int(module.main(args.rest) or 0)


def cmd_notebooks(args: argparse.Namespace) -> int:
    from isreshape.proofs.notebook_runner import run_all

    return run_all(names=args.only, out_dir=args.out)


def cmd_selftest(args: argparse.Namespace) -> int:
    from isreshape.proofs.selftest import run

    return run(args)


def cmd_lab(args: argparse.Namespace) -> int:
    import mpmath

    from isreshape.reference import lab, lab_mdp

    instances = {**lab.INSTANCES, **lab_mdp.INSTANCES}
    if args.instance not in instances:
        print(
            f"unknown instance {args.instance!r}; valid: {', '.join(sorted(instances))}",
            file=sys.stderr,
        )
        return 2
    with mpmath.workdps(50):
        if args.instance in lab_mdp.INSTANCES:
            rows = lab_mdp.mdp_lab_table(lab_mdp.INSTANCES[args.instance]())
        else:
            rows = lab.lab_table(lab.INSTANCES[args.instance]())
    records = [
        {
            "instance": r["instance"],
            "design": r["design"],
            "level": r.get("level", "token"),
            "params": r["params"],
            "bias": float(r["bias"]),
            "variance": float(r["variance"]),
            "mse": {str(n): float(v) for n, v in r["mse"].items()},
            "ess": float(r["ess"]),
        }
        for r in rows
    ]
    if args.format == "json":
        print(json.dumps(records, indent=1))
        return 0
    per = "1 / E_mu[W^2] per sequence" if args.instance in lab_mdp.INSTANCES else (
        "1 / E_mu[w^2] per draw"
    )
    print(f"instance {args.instance}: exact (50-digit enumeration); ess = {per}")
    head = (
        f"{'design':28s} {'level':8s} {'bias':>11s} {'variance':>11s} {'mse n=1':>11s} "
        f"{'n=64':>11s} {'n=4096':>11s}  params"
    )
    print(head)
    for r in records:
        m = r["mse"]
        params = ", ".join(f"{k}={v:g}" for k, v in r["params"].items())
        print(
            f"{r['design']:28s} {r['level']:8s} {r['bias']:11.4e} {r['variance']:11.4e} "
            f"{m['1']:11.4e} {m['64']:11.4e} {m['4096']:11.4e}  {params}"
        )
    print(f"ess {records[0]['ess']:.6f}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="isreshape", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    a = sub.add_parser("audit", help="run the claims ledger")
    a.add_argument("--format", choices=("table", "json", "markdown"), default="table")
    a.add_argument("--claim", action="append", metavar="ID", help="run only this claim")
    a.add_argument("--seed", action="append", metavar="NNN", help="only claims of this seed")
    a.add_argument(
        "--errata",
        action="store_true",
        help="print the seeds' errata: each FALSE claim as written and corrected",
    )
    a.add_argument(
        "--write-evidence",
        action="store_true",
        help="pin the numbers the selected checks compute (proofs/evidence/)",
    )
    a.set_defaults(func=cmd_audit)

    g = sub.add_parser("golden", help="regenerate (--write) or check (--check) the fixtures")
    mode = g.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true")
    mode.add_argument("--check", action="store_true")
    g.add_argument("--full", action="store_true", help="check every case, not the fast subset")
    g.add_argument(
        "--quick",
        action="store_true",
        help="check a sample of the fast subset: every edge, seed and extreme row, one in "
        "6 grid and seeded-random rows (the test suite's check)",
    )
    g.add_argument(
        "--shard",
        default=None,
        metavar="K/N",
        help="check the K-th of N interleaved parts of the files (parallel runs; default 1/1)",
    )
    g.add_argument("--only", action="append", metavar="KEY", help="module or module.function")
    g.set_defaults(func=cmd_golden)

    b = sub.add_parser("bench", help="run a benchmark (torch_impl/benchmarks/NAME.py)")
    b.add_argument("name", nargs="?", help="a benchmark; without it, the list")
    b.add_argument("rest", nargs=argparse.REMAINDER)
    b.set_defaults(func=cmd_bench)

    n = sub.add_parser("notebooks", help="execute the notebooks, write .ipynb and HTML")
    n.add_argument("--only", action="append", metavar="NAME")
    n.add_argument("--out", default="build/notebooks")
    n.set_defaults(func=cmd_notebooks)

    lb = sub.add_parser("lab", help="exact bias / variance of every design (reference/lab.py)")
    lb.add_argument(
        "--instance",
        default="bandit8",
        help="bandit8 (default), bandit8_far (mu at t = 3 on the off-policy line), "
        "bandit8_heavy_tail (eps = 1e-3), token_mdp (T = 3, V = 4: token and sequence designs)",
    )
    lb.add_argument("--format", choices=("table", "json"), default="table")
    lb.set_defaults(func=cmd_lab)

    from isreshape.proofs.selftest import add_arguments as selftest_arguments

    t = sub.add_parser(
        "selftest", help="mutation testing of the claims ledger (proofs/selftest.py)"
    )
    selftest_arguments(t)
    t.set_defaults(func=cmd_selftest)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
