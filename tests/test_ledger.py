"""Every claim: registered with an id, source and section; its check computes the recorded
expected verdict; FALSE claims carry evidence. Plus the CLI contract of `isreshape audit`."""

from __future__ import annotations

import json

import pytest

from isreshape.proofs import cli
from isreshape.proofs.ledger import (
    ERROR,
    FALSE,
    HOLDS_WITH_CONDITIONS,
    ID_PATTERN,
    SEEDS,
    UNCHECKABLE,
    Outcome,
    claim,
    load_all_claims,
    run_claim,
)

CLAIMS = load_all_claims()


def test_ledger_is_not_empty():
    assert len(CLAIMS) >= 4


@pytest.mark.parametrize("claim_id", sorted(CLAIMS))
def test_claim_verdict_is_computed_and_expected(claim_id):
    c = CLAIMS[claim_id]
    assert ID_PATTERN.match(c.id) and c.source == SEEDS[c.id[:3]]
    assert c.section and c.statement and callable(c.check)
    result = run_claim(c)
    o = result.outcome
    assert o.verdict != ERROR, o.evidence
    assert o.verdict == c.expected, (
        f"{claim_id}: computed {o.verdict}, recorded {c.expected}\nevidence: {o.evidence}"
    )
    if o.verdict == FALSE:
        assert len(o.evidence) > 20, f"{claim_id}: FALSE without evidence"
    if o.verdict == HOLDS_WITH_CONDITIONS:
        assert o.conditions.strip()
    if o.verdict == UNCHECKABLE:
        assert o.evidence.strip(), "UNCHECKABLE needs its reason"


def test_outcome_rejects_missing_evidence_and_conditions():
    with pytest.raises(ValueError):
        Outcome(FALSE, "  ")
    with pytest.raises(ValueError):
        Outcome(HOLDS_WITH_CONDITIONS, "numbers", "")
    with pytest.raises(ValueError):
        Outcome("MAYBE", "numbers")


def test_claim_ids_are_validated():
    with pytest.raises(ValueError):
        claim("9-1-a", "1", "x", FALSE)
    with pytest.raises(ValueError):
        claim("001-8.1-b", "8.2", "duplicate", FALSE)


def test_audit_json_keys(capsys):
    rc = cli.main(["audit", "--format", "json"])
    rows = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert {r["id"] for r in rows} >= {"001-8.1-b", "001-8.2-b"}
    for r in rows:
        assert {"id", "source", "section", "statement", "verdict", "conditions", "evidence"} <= set(
            r
        )


def test_audit_single_claim_and_markdown(capsys):
    assert cli.main(["audit", "--claim", "001-8.1-c"]) == 0
    out = capsys.readouterr().out
    assert "001-8.1-c" in out and "001-8.2-b" not in out
    assert cli.main(["audit", "--format", "markdown", "--seed", "001"]) == 0
    md = capsys.readouterr().out
    assert md.startswith("# isreshape audit") and "### Section 8.2" in md
    assert cli.main(["audit", "--claim", "999-1-a"]) == 2


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
    with pytest.raises(SystemExit) as exc:
        cli.main(["audit", "--format", "yaml"])
    assert exc.value.code == 2


def test_audit_exit_status_flags_a_mismatch(monkeypatch, capsys):
    c = CLAIMS["001-8.1-c"]
    monkeypatch.setattr(c, "expected", FALSE)
    assert cli.main(["audit", "--claim", "001-8.1-c"]) == 1
    assert "differ" in capsys.readouterr().out
