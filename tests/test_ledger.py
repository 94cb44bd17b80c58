"""The ledger decides: every claim's verdict is computed from its subject and equals the
recorded one; every FALSE claim's correction and every HOLDS / HWC claim's counter-case reach
the other side under the same check; the numbers are pinned. Plus the CLI contract of
`isreshape audit`."""

from __future__ import annotations

import ast
import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest

from isreshape.proofs import cli, ledger
from isreshape.proofs.ledger import (
    ERROR,
    FALSE,
    HOLDS,
    HOLDS_WITH_CONDITIONS,
    ID_PATTERN,
    MAX_UNCHECKABLE,
    SEEDS,
    UNCHECKABLE,
    Claim,
    Outcome,
    Variant,
    claim,
    decide,
    evidence_problems,
    load_all_claims,
    load_evidence,
    run_claim,
    uncheckable,
)

CLAIMS = load_all_claims()
CLAIMS_DIR = Path(ledger.__file__).resolve().parent / "claims"
# what a check may take from the ledger: nothing that names a verdict by itself
ALLOWED_IMPORTS = {
    "claim",
    "decide",
    "uncheckable",
    "Variant",
    "HOLDS",
    "HOLDS_WITH_CONDITIONS",
    "FALSE",
    "UNCHECKABLE",
}


def test_ledger_is_not_empty():
    assert len(CLAIMS) >= 300


_RUN_CLAIM_MEMO: dict[str, object] = {}


@pytest.fixture
def memo_run_claim(monkeypatch):
    """The audit-report tests below check formatting and counts, not the checks: each claim is
    run once per process (a claim's result is deterministic; its checks are tested above)."""

    def run(c):
        if c.id not in _RUN_CLAIM_MEMO:
            _RUN_CLAIM_MEMO[c.id] = run_claim(c)
        return _RUN_CLAIM_MEMO[c.id]

    monkeypatch.setattr(ledger, "run_claim", run)


@pytest.mark.parametrize("claim_id", sorted(CLAIMS))
def test_claim_decides_both_ways_and_its_numbers_are_pinned(claim_id):
    c = CLAIMS[claim_id]
    assert ID_PATTERN.match(c.id) and c.source == SEEDS[c.id[:3]]
    assert c.section and c.statement and callable(c.check)
    r = run_claim(c)
    _RUN_CLAIM_MEMO[claim_id] = r  # the audit-report tests below reuse it (same process)
    assert r.outcome.verdict != ERROR, r.outcome.evidence
    assert r.incomplete() is None, r.incomplete()
    assert not r.problems(), "\n".join(r.problems()) + f"\nevidence: {r.outcome.evidence}"
    if c.expected == UNCHECKABLE:
        assert len(r.outcome.evidence) > 30, "UNCHECKABLE needs the reason no computation decides"
        return
    assert r.outcome.numbers, f"{claim_id}: the verdict rests on no named number"
    assert len(c.variant[1].statement) > 10
    problems = evidence_problems(r, load_evidence(c.seed))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", sorted(CLAIMS_DIR.glob("seed_*.py")), ids=lambda p: p.name)
def test_checks_cannot_name_their_own_verdict(path):
    tree = ast.parse(path.read_text())
    bad = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and "ledger" in node.module:
            bad += [a.name for a in node.names if a.name not in ALLOWED_IMPORTS]
        if isinstance(node, ast.Import):
            bad += [a.name for a in node.names if "ledger" in a.name]
        if isinstance(node, ast.Name) and node.id in ("Outcome", "ledger"):
            bad.append(node.id)
    assert not bad, f"{path.name} uses {sorted(set(bad))} from the ledger"


def test_uncheckable_claims_are_few_and_have_no_subject():
    unch = [c for c in CLAIMS.values() if c.expected == UNCHECKABLE]
    assert len(unch) <= MAX_UNCHECKABLE, [c.id for c in unch]
    for c in unch:
        assert not c.has_subject and c.variant is None, c.id


def test_evidence_snapshot_has_no_stale_entries():
    for seed in SEEDS:
        stale = set(load_evidence(seed)) - set(CLAIMS)
        assert not stale, f"seed {seed}: pinned numbers of unknown claims {sorted(stale)}"


# ---------------------------------------------------------------- the decision itself


def test_decide_reaches_all_three_verdicts_from_the_numbers():
    n = {"err": 0.0}
    assert decide(True, "e", numbers=n).verdict == HOLDS
    assert decide(False, "e", numbers=n).verdict == FALSE
    kw = {"numbers": n, "conditions": "x > 0"}
    assert decide(True, "e", ok_without_conditions=False, **kw).verdict == HOLDS_WITH_CONDITIONS
    # a condition that turns out unnecessary makes the claim HOLDS, not HWC
    assert decide(True, "e", ok_without_conditions=True, **kw).verdict == HOLDS
    assert decide(False, "e", ok_without_conditions=True, **kw).verdict == FALSE


def test_decide_refuses_what_would_let_a_check_type_its_verdict():
    with pytest.raises(ValueError, match="ok_without_conditions"):
        decide(True, "e", numbers={"a": 1}, conditions="x > 0")
    with pytest.raises(ValueError, match="ok_without_conditions"):
        decide(True, "e", numbers={"a": 1}, ok_without_conditions=True)
    with pytest.raises(ValueError, match="numbers"):
        decide(True, "e", numbers={})
    with pytest.raises(ValueError, match="ok"):
        decide("yes", "e", numbers={"a": 1})
    with pytest.raises(ValueError, match="numbers"):
        decide(True, "e", numbers={"a": "one"})
    for truthy in (0.3, 1e-300, np.array([1.0]), None):  # not a comparison's result
        with pytest.raises(ValueError, match="bool"):
            decide(truthy, "e", numbers={"a": 1})
    with pytest.raises(ValueError, match="NaN"):  # `not (err > tol)` passes on err = NaN
        decide(not (math.nan > 1e-9), "e", numbers={"err": math.nan})
    assert decide(np.float64(1.0) < 2, "e", numbers={"a": 1}).verdict == HOLDS


def test_an_outcome_the_check_built_itself_is_an_error():
    def replaced(_subject):
        return dataclasses.replace(decide(False, "e", numbers={"a": 1.0}), verdict=HOLDS)

    def direct(_subject):
        return Outcome(HOLDS, "e", "", {"a": 1.0})

    for check in (replaced, direct):
        r = run_claim(_toy(check, HOLDS, 1.0, counter_case=Variant("other", 2.0)))
        assert r.outcome.verdict == ERROR and "did not build" in r.outcome.evidence


def test_outcome_rejects_missing_evidence_and_conditions():
    with pytest.raises(ValueError):
        Outcome(FALSE, "  ")
    with pytest.raises(ValueError):
        Outcome(HOLDS_WITH_CONDITIONS, "numbers", "")
    with pytest.raises(ValueError):
        Outcome("MAYBE", "numbers")


def _toy(check, expected, subject, **variant):
    return Claim("000-0-z", "0", "toy", expected, check, subject=subject, **variant)


def test_a_check_that_cannot_fail_is_a_red_audit():
    def typed(_subject):  # ignores its subject: the old "typed verdict"
        return decide(True, "always", numbers={"x": 1.0})

    def real(value):
        return decide(abs(value - 2.0) < 1e-12, f"2 vs {value}", numbers={"value": value})

    counter = Variant("the value is 3", 3.0)
    assert run_claim(_toy(typed, HOLDS, 2.0, counter_case=counter)).problems()
    assert not run_claim(_toy(real, HOLDS, 2.0, counter_case=counter)).problems()
    # a FALSE claim whose correction the check does not accept
    correction = Variant("the value is 2.5", 2.5)
    assert run_claim(_toy(real, FALSE, 3.0, correction=correction)).problems()
    good = Variant("the value is 2", 2.0)
    assert not run_claim(_toy(real, FALSE, 3.0, correction=good)).problems()


def test_a_moved_number_is_reported_by_the_snapshot():
    def real(value):
        return decide(abs(value - 2.0) < 1e-12, f"2 vs {value}", numbers={"value": value})

    c = _toy(real, HOLDS, 2.0, counter_case=Variant("the value is 3", 3.0))
    r = run_claim(c)
    snap = {c.id: r.pinned_numbers()}
    assert not evidence_problems(r, snap)
    snap[c.id]["counter_case"]["value"] = 3.0 * (1 + 1e-6)
    assert evidence_problems(r, snap)
    assert evidence_problems(r, {})  # nothing pinned is a problem too


def test_evidence_words_and_printed_precision_are_pinned():
    def check(value, digits=3, word="vs"):
        text = f"h(0.5) = {value / 3:.{digits}f} {word} 2"
        return decide(abs(value - 2.0) < 1e-12, text, numbers={"value": value})

    def toy(**kw):
        return _toy(lambda v: check(v, **kw), HOLDS, 2.0, counter_case=Variant("3", 3.0))

    r = run_claim(toy())
    snap = {r.claim.id: {**r.pinned_numbers(), "words": r.pinned_words()}}
    assert r.pinned_words()["subject"] == "h(#d1) = #d3 vs #d0"
    assert not evidence_problems(r, snap)
    # one more printed digit, within one unit of the pinned one: only the format sees it
    assert evidence_problems(run_claim(toy(digits=4)), snap)
    assert evidence_problems(run_claim(toy(word="against")), snap)


def test_printed_formats_ignore_release_noise():
    from isreshape.proofs.ledger import _text_skeleton

    # a rounding diagnostic and a full-precision repr are pinned by value, not by form
    assert _text_skeleton("err 0 / 1.7e-11") == _text_skeleton("err 2.2e-16 / 0")
    assert _text_skeleton("x 0.30000000000000004") == _text_skeleton("x 0.3000000000000001")
    assert _text_skeleton("x 0.123") != _text_skeleton("x 0.1230")
    assert _text_skeleton("x 1.5e-3") != _text_skeleton("x 0.0015")


def test_printed_numbers_move_by_at_most_one_unit_of_the_finer_last_digit():
    from isreshape.proofs.ledger import _printed_close

    assert _printed_close("0.941", "0.940", 1e-9, 1e-12)  # a rounding flip
    assert not _printed_close("0.942", "0.940", 1e-9, 1e-12)
    assert _printed_close("9.9e-07", "1.0e-06", 1e-9, 1e-12)  # a flip across the exponent
    # printed at 0 decimals in exponent form, a tenfold change is not one unit of 1e-06
    assert not _printed_close("1e-07", "1e-06", 1e-9, 1e-12)
    assert _printed_close("3e-05", "2e-05", 1e-9, 1e-12)


def test_a_loosened_tolerance_is_reported_even_far_below_the_absolute_floor():
    def check(value, tol=1e-25):
        err = abs(value - 2.0)
        return decide(err < 1e-12, "e", numbers={"err": err, "tol": tol})

    c = _toy(check, HOLDS, 2.0, counter_case=Variant("the value is 3", 3.0))
    snap = {c.id: run_claim(c).pinned_numbers()}
    loose = _toy(
        lambda v: check(v, tol=1e-13), HOLDS, 2.0, counter_case=Variant("the value is 3", 3.0)
    )
    assert evidence_problems(run_claim(loose), snap)
    assert not evidence_problems(run_claim(c), snap)


def test_declared_proof_or_certificate_must_be_witnessed():
    """method="proof" / "certified" holds only when the check ran a Proof / an enclosure."""
    import sympy as sp

    from isreshape.proofs import theorems

    def by_proof(value):
        p = theorems.Proof(
            "toy", "x = 2", (), (theorems.Step("x - 2 = 0", "identity", sp.S(value) - 2),)
        )
        return decide(p.holds, "toy proof", numbers={"value": value})

    def by_hand(value):
        return decide(value == 2, "compared", numbers={"value": value})

    counter = Variant("the value is 3", 3)
    for method, check, bad in (
        ("proof", by_proof, False),
        ("proof", by_hand, True),
        ("certified", by_proof, True),
        ("sampled", by_hand, False),
    ):
        c = dataclasses.replace(_toy(check, HOLDS, 2, counter_case=counter), method=method)
        r = run_claim(c)
        assert r.method == method and r.as_dict()["method"] == method
        assert any("declared" in p for p in r.problems()) == bad, (method, check)
    c = dataclasses.replace(_toy(by_hand, HOLDS, 2, counter_case=counter), method="counterexample")
    assert any("counterexample" in p for p in run_claim(c).problems())


def test_every_claim_says_how_it_knows():
    missing = [i for i, c in CLAIMS.items() if c.method is None and c.expected != UNCHECKABLE]
    assert not missing
    methods = {c.method for c in CLAIMS.values() if c.expected != UNCHECKABLE}
    assert methods <= set(ledger.METHODS) - {"none"} and "proof" in methods
    # a counterexample is a FALSE verdict's method only
    assert all(c.expected == FALSE for c in CLAIMS.values() if c.method == "counterexample")


def test_claim_registration_is_validated():
    with pytest.raises(ValueError):
        claim("9-1-a", "1", "x", FALSE)
    with pytest.raises(ValueError):
        claim("001-8.1-b", "8.2", "duplicate", FALSE)
    with pytest.raises(ValueError, match="correction"):
        claim("000-0-y", "0", "x", HOLDS, subject=1, correction=Variant("c", 2))
    with pytest.raises(ValueError, match="counter_case"):
        claim("000-0-y", "0", "x", FALSE, subject=1, counter_case=Variant("c", 2))
    with pytest.raises(ValueError, match="subject"):
        claim("000-0-y", "0", "x", FALSE, correction=Variant("c", 2))
    with pytest.raises(ValueError, match="method"):
        claim("000-0-y", "0", "x", HOLDS, subject=1, method="guessed")
    with pytest.raises(ValueError, match="method"):
        claim("000-0-y", "0", "x", HOLDS, subject=1, method="none")
    with pytest.raises(ValueError, match="method"):
        claim("000-0-y", "0", "x", UNCHECKABLE, method="sampled")
    with pytest.raises(ValueError, match="method"):
        ledger.witness("sampled")
    assert uncheckable("an opinion").verdict == UNCHECKABLE


# ---------------------------------------------------------------- the command


def test_audit_json_carries_corrections_and_counter_cases(capsys, memo_run_claim):
    rc = cli.main(["audit", "--format", "json"])
    rows = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert {r["id"] for r in rows} >= {"001-8.1-b", "001-8.2-b"}
    for r in rows:
        assert {"id", "source", "section", "statement", "verdict", "conditions", "evidence"} <= set(
            r
        )
        if r["verdict"] == FALSE:
            assert r["correction"]["verdict"] in (HOLDS, HOLDS_WITH_CONDITIONS), r["id"]
        elif r["verdict"] in (HOLDS, HOLDS_WITH_CONDITIONS):
            assert r["counter_case"]["verdict"] == FALSE, r["id"]
        else:
            assert r["verdict"] == UNCHECKABLE


def test_audit_errata_lists_every_false_claim_with_its_correction(capsys, memo_run_claim):
    assert cli.main(["audit", "--errata"]) == 0
    out = capsys.readouterr().out
    n_false = sum(c.expected == FALSE for c in CLAIMS.values())
    assert out.count("- as written:") == n_false
    assert out.count("- corrected:") == n_false and "no correction recorded" not in out


def test_audit_single_claim_and_markdown(capsys, memo_run_claim):
    assert cli.main(["audit", "--claim", "001-8.1-b"]) == 0
    out = capsys.readouterr().out
    assert "001-8.1-b" in out and "001-8.2-b" not in out
    assert cli.main(["audit", "--format", "markdown", "--seed", "001"]) == 0
    md = capsys.readouterr().out
    assert md.startswith("# isreshape audit") and "### Section 8.2" in md
    assert "counter-case" in md


def test_commands_refuse_what_they_cannot_do(capsys):
    # unknown seeds, claims, fixture keys and benchmarks run nothing and exit 2 with the choices
    assert cli.main(["audit", "--seed", "9"]) == 2
    err = capsys.readouterr().err
    assert "unknown seed(s): 9" in err and "000, 001, 002, 003, 004" in err
    assert cli.main(["audit", "--claim", "999-1-a"]) == 2
    assert "unknown claim id(s): 999-1-a" in capsys.readouterr().err
    assert cli.main(["audit", "--claim", "001-8.1-c", "--seed", "004"]) == 2
    assert cli.main(["golden", "--check", "--only", "nosuchmodule"]) == 2
    assert "peers" in capsys.readouterr().err
    assert cli.main(["bench", "nosuchbench"]) == 2
    assert "valid: alpha" in capsys.readouterr().err
    assert cli.main(["bench"]) == 0  # the list, one line per benchmark
    listing = capsys.readouterr().out.splitlines()
    assert listing and listing[0].startswith("alpha ") and "bisection" in listing[0]
    with pytest.raises(SystemExit) as exc:
        cli.main(["audit", "--format", "yaml"])
    assert exc.value.code == 2


def test_audit_exit_status_flags_a_mismatch(monkeypatch, capsys):
    c = CLAIMS["001-8.1-b"]
    monkeypatch.setattr(c, "expected", FALSE)
    assert cli.main(["audit", "--claim", "001-8.1-b"]) == 1
    assert "computed HOLDS-WITH-CONDITIONS, recorded FALSE" in capsys.readouterr().err


def test_write_evidence_refuses_to_pin_a_red_run(monkeypatch, capsys, tmp_path):
    c = CLAIMS["001-8.1-b"]
    monkeypatch.setattr(ledger, "EVIDENCE_DIR", tmp_path)
    monkeypatch.setattr(c, "expected", FALSE)
    assert cli.main(["audit", "--claim", "001-8.1-b", "--write-evidence"]) == 1
    assert "nothing pinned" in capsys.readouterr().err and not list(tmp_path.iterdir())
    assert cli.main(["audit", "--errata", "--format", "json"]) == 2


def test_audit_exit_status_flags_a_counter_case_that_holds(monkeypatch, capsys):
    c = CLAIMS["001-8.1-b"]
    monkeypatch.setattr(c, "counter_case", Variant("the subject itself", c.subject))
    assert cli.main(["audit", "--claim", "001-8.1-b"]) == 1
    assert "counter_case gives HOLDS-WITH-CONDITIONS, must give FALSE" in capsys.readouterr().err
