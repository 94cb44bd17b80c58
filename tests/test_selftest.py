"""``isreshape selftest``: the mutation operators, kill / survive on toy claims, and (slow) the
mutation score of a seeded sample of the real ledger."""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

import pytest

from isreshape.proofs import ledger, selftest
from isreshape.proofs.selftest import SelfTest, enumerate_mutants, mutated_source, parse_module

SNIPPET = '''\
"""Docstring 1.5 stays."""
import math
from isreshape.proofs.ledger import HOLDS, claim, decide


@claim("000-99.1-a", "99.1", "a statement with 2 numbers", HOLDS, links=("x.py",), subject=2.0)
def _check(x):
    """Docstring with 3.0."""
    tol = 1e-9
    y = -x + 2 * x
    ok = y < tol and not (x == 0)
    return decide(ok or False, f"y = {y:.3g} and {3 * y}", numbers={"y": y})
'''


def _ops(src):
    return {(m.op, m.original, m.mutated, m.scope[-1] if m.scope else m.claim_id) for m in src}


def test_operators_on_a_snippet(tmp_path):
    path = tmp_path / "seed_000.py"
    path.write_text(SNIPPET)
    src = parse_module("toy.seed_000", path, SNIPPET)
    mutants = enumerate_mutants(src)
    got = _ops(mutants)
    expected = {
        # @claim: only the subject argument is mutated, not id / section / statement / links
        ("const", "2.0", "4.0", "000-99.1-a"),
        ("sign", "2.0", "-2.0", "000-99.1-a"),
        ("tolerance", "1e-09", "1e-08", "_check"),
        ("tolerance", "1e-09", "1e-10", "_check"),
        ("sign", "1e-09", "-1e-09", "_check"),
        ("sign", "-x", "x", "_check"),
        ("arith", "+", "-", "_check"),
        ("arith", "*", "/", "_check"),
        ("const", "2", "3", "_check"),
        ("compare", "<", "<=", "_check"),
        ("compare", "<", ">", "_check"),
        ("compare", "==", "!=", "_check"),
        ("const", "0", "1", "_check"),
        ("boolean", "and", "or", "_check"),
        ("boolean", "not x == 0", "x == 0", "_check"),
        ("boolean", "or", "and", "_check"),
        ("truth", "False", "True", "_check"),
        ("const", "3", "4", "_check"),  # an f-string expression, not its format spec
    }
    assert got == expected
    assert len({m.id for m in mutants}) == len(mutants)
    # the mutated source differs from the original in that node only
    m = next(m for m in mutants if m.op == "compare" and m.mutated == "<=")
    assert "y <= tol and (not x == 0)" in mutated_source(src, m)
    text = mutated_source(src, m)
    assert "tol = 1e-09" in text and "@claim('000-99.1-a', '99.1'" in text


TOY = '''\
"""Toy claims: one check that decides, one whose threshold cannot fail."""

from isreshape.proofs.ledger import HOLDS, Variant, claim, decide

TOL = 1e-12  # float64 rounding of one product


@claim(
    "000-99.1-a",
    "99.1",
    "f(x) = x^2 (a check that decides)",
    HOLDS,
    subject=lambda x: x * x,
    counter_case=Variant("f(x) = x^2 + 1e-3", lambda x: x * x + 1e-3),
)
def _decided(f):
    v = f(3.0)
    err = abs(v - 9.0)
    return decide(err < TOL, f"f(3) = {v}", numbers={"f3": v, "tol": TOL})


@claim(
    "000-99.1-b",
    "99.1",
    "f(x) = x^2 (a check whose tolerance is absurd)",
    HOLDS,
    subject=lambda x: x * x,
    counter_case=Variant("f(x) = x^2 + 1e7", lambda x: x * x + 1e7),
)
def _weak(f):
    v = f(3.0)
    return decide(abs(v - 9.0) < 1e6, "f(3) is near 9", numbers={"n": 1.0})
'''


@pytest.fixture
def toy(tmp_path, monkeypatch):
    pkg = tmp_path / "selftest_toy"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "seed_000.py").write_text(TOY)
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    before = dict(ledger.REGISTRY)
    for cid in ("000-99.1-a", "000-99.1-b"):
        ledger.REGISTRY.pop(cid, None)
    yield "selftest_toy"
    ledger.REGISTRY.clear()
    ledger.REGISTRY.update(before)
    for name in [n for n in sys.modules if n.startswith("selftest_toy")]:
        del sys.modules[name]


def _toy_run(package):
    # pin the toy claims' own numbers as their snapshot
    st = SelfTest(package=package, snapshots={}, equivalent_file=None)
    pinned = {cid: ledger.run_claim(c).pinned_numbers() for cid, c in st.claims.items()}
    st.adapter.snapshots = {"000": pinned}
    st.run_baseline()
    assert not st.base_red_full, "the toy claims are green before mutation"
    return st, {m.id: m for m in st.mutants()}


def test_weak_check_survives_decided_check_is_killed(toy):
    st, mutants = _toy_run(toy)
    decided = mutants["seed_000.py::_decided::const:9.0->18.0#1"]
    weak = mutants["seed_000.py::_weak::const:9.0->18.0#1"]
    for m in (decided, weak):
        st.run_mutant(m)
        st.finish_survivor(m)
    assert decided.status == "killed" and decided.verdict_killed
    assert decided.claims == ["000-99.1-a"]
    assert weak.status == "survived" and weak.category == "identical outcome"
    assert weak.claims == ["000-99.1-b"]

    # a module constant: the module is re-executed, its registry entries set aside and
    # restored; the tolerance is pinned but never decides, so the evidence kills it, not the
    # verdict
    tol = mutants["seed_000.py::<module>::tolerance:1e-12->1e-11#1"]
    assert st._plan(tol)[0] == "exec"
    st.run_mutant(tol)
    assert tol.status == "killed" and not tol.verdict_killed
    assert sorted(tol.claims) == ["000-99.1-a", "000-99.1-b"]
    assert ledger.REGISTRY["000-99.1-a"] is st.claims["000-99.1-a"]

    # < vs <= where the operands are never equal: equivalent by the probe
    boundary = mutants["seed_000.py::_weak::compare:<-><=#1"]
    st.run_mutant(boundary)
    st.finish_survivor(boundary)
    assert boundary.status == "equivalent"
    assert boundary.category == "equivalent: boundary never hit"

    # a lambda held by a counter-case: its code is swapped in place, then restored
    counter = mutants["seed_000.py::<lambda>::const:0.001->0.002#1"]
    assert st._plan(counter)[0] == "swap"
    st.run_mutant(counter)
    st.finish_survivor(counter)
    assert counter.claims == ["000-99.1-a"]
    assert counter.status == "killed"  # the pinned counter-case number moved
    assert ledger.run_claim(st.claims["000-99.1-a"]).problems() == []

    summary = selftest.summarize([decided, weak, tol, boundary, counter])
    assert summary["equivalent_excluded"] == 1
    assert summary["score_full"] == pytest.approx(3 / 4)
    assert summary["score_verdict_only"] == pytest.approx(1 / 4)


def test_equivalent_file_needs_reasons(tmp_path):
    f = tmp_path / "eq.txt"
    f.write_text("# comment\nseed_000.py::_f::const:1->2#1  the loop bound is never reached\n")
    assert selftest.load_equivalent(f) == {
        "seed_000.py::_f::const:1->2#1": "the loop bound is never reached"
    }
    f.write_text("seed_000.py::_f::const:1->2#1\n")
    with pytest.raises(ValueError, match="reason"):
        selftest.load_equivalent(f)
    # an id with spaces (the mutated text of `not x`) ends at its #N
    f.write_text("seed_000.py::_g::boolean:not isnan(a)->isnan(a)#1  never NaN here\n")
    assert selftest.load_equivalent(f) == {
        "seed_000.py::_g::boolean:not isnan(a)->isnan(a)#1": "never NaN here"
    }
    assert selftest.split_id("seed_001.py::_h::const:2->3#12  line 4: 2 -> 3") == (
        "seed_001.py::_h::const:2->3#12",
        "line 4: 2 -> 3",
    )


def test_committed_equivalent_list_parses():
    entries = selftest.load_equivalent(selftest.EQUIVALENT_FILE)
    assert all(reason for reason in entries.values())


# A seeded sample of the real ledger: 150 mutants took about 80 s on 2 cores when this was
# written; with today's ledger about 250 s (a full baseline audit, then ~1.4 s per mutant; a
# mutated module constant re-runs the module's every claim, ~10 s): heavy, out of CI's time. Issue 10's Done-when: the ledger kills 90% of its non-equivalent
# mutants. Measured at the resolution of issue 10: this sample 92.5% (136 of 147), a fresh
# 1000-mutant sample (seed 3, never used to fix checks) 92.4%.
SAMPLE_SIZE = 150


@pytest.mark.slow
@pytest.mark.heavy
def test_mutation_score_of_a_sample(tmp_path):
    from isreshape.proofs.cli import build_parser

    out = tmp_path / "selftest.json"
    args = build_parser().parse_args(
        ["selftest", "--max", str(SAMPLE_SIZE), "--sample-seed", "7", "--json", str(out)]
    )
    assert isinstance(args, argparse.Namespace)
    rc = selftest.run(args)
    import json

    summary = json.loads(Path(out).read_text())["summary"]
    assert summary["mutants"] == SAMPLE_SIZE
    assert summary["score_full"] >= 0.90, summary
    assert rc == 0
