"""The claims ledger: one record per checkable claim of the seeds, with a computed verdict.

A claim's verdict is whatever its check returns; the record's ``expected`` verdict is what the
maintainers last agreed the check says. ``isreshape audit`` exits 1 when the two differ, so a
change in the math shows up as a red test, never as a silent edit.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

SEEDS = {
    "000": "000_34894e68ab44ae30.txt",
    "001": "001_bfb951ae7e89f971.txt",
    "002": "002_dc6597fe9a0afa78.txt",
    "003": "003_b788f82d0ebb3a54.txt",
    "004": "004_baf66f7cfa9e14f6.txt",
}

HOLDS = "HOLDS"
HOLDS_WITH_CONDITIONS = "HOLDS-WITH-CONDITIONS"
FALSE = "FALSE"
UNCHECKABLE = "UNCHECKABLE"
VERDICTS = (HOLDS, HOLDS_WITH_CONDITIONS, FALSE, UNCHECKABLE)
ERROR = "ERROR"  # the check itself crashed; never an expected verdict

ID_PATTERN = re.compile(r"^(?P<seed>\d{3})-(?P<section>[0-9A-Za-z.]+)-(?P<letter>[a-z]{1,2})$")


@dataclass(frozen=True)
class Outcome:
    """What a check computed: the verdict, the conditions (for HOLDS-WITH-CONDITIONS) and the
    evidence (numbers; for FALSE the counterexample or the correct value)."""

    verdict: str
    evidence: str
    conditions: str = ""

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS + (ERROR,):
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")
        if not self.evidence.strip():
            raise ValueError("an outcome needs evidence")
        if self.verdict == HOLDS_WITH_CONDITIONS and not self.conditions.strip():
            raise ValueError("HOLDS-WITH-CONDITIONS needs its conditions")


def holds(evidence: str) -> Outcome:
    return Outcome(HOLDS, evidence)


def holds_if(conditions: str, evidence: str) -> Outcome:
    return Outcome(HOLDS_WITH_CONDITIONS, evidence, conditions)


def false(evidence: str) -> Outcome:
    return Outcome(FALSE, evidence)


def uncheckable(reason: str) -> Outcome:
    return Outcome(UNCHECKABLE, reason)


def verdict_from(ok: bool, evidence: str, conditions: str = "") -> Outcome:
    """HOLDS (or HOLDS-WITH-CONDITIONS when conditions are given) if ok, else FALSE."""
    if not ok:
        return false(evidence)
    return holds_if(conditions, evidence) if conditions else holds(evidence)


@dataclass
class Claim:
    id: str
    section: str
    statement: str
    expected: str
    check: Callable[[], Outcome]
    assumptions: str = ""
    links: tuple[str, ...] = field(default_factory=tuple)

    @property
    def seed(self) -> str:
        return self.id[:3]

    @property
    def source(self) -> str:
        return SEEDS[self.seed]


@dataclass(frozen=True)
class Result:
    claim: Claim
    outcome: Outcome
    seconds: float

    @property
    def matches(self) -> bool:
        return self.outcome.verdict == self.claim.expected

    def as_dict(self) -> dict:
        c, o = self.claim, self.outcome
        return {
            "id": c.id,
            "source": c.source,
            "section": c.section,
            "statement": c.statement,
            "verdict": o.verdict,
            "conditions": o.conditions,
            "evidence": o.evidence,
            "expected": c.expected,
            "assumptions": c.assumptions,
            "links": list(c.links),
            "seconds": round(self.seconds, 4),
        }


REGISTRY: dict[str, Claim] = {}


def claim(
    id: str,
    section: str,
    statement: str,
    expected: str,
    assumptions: str = "",
    links: tuple[str, ...] | list[str] = (),
) -> Callable[[Callable[[], Outcome]], Callable[[], Outcome]]:
    """Register the decorated zero-argument check as claim ``id``."""
    m = ID_PATTERN.match(id)
    if not m or m["seed"] not in SEEDS:
        raise ValueError(f"claim id must look like '001-8.1-b' with a known seed, got {id!r}")
    if expected not in VERDICTS:
        raise ValueError(f"expected verdict must be one of {VERDICTS}, got {expected!r}")
    if id in REGISTRY:
        raise ValueError(f"claim id {id!r} registered twice")

    def decorate(fn: Callable[[], Outcome]) -> Callable[[], Outcome]:
        REGISTRY[id] = Claim(id, section, statement, expected, fn, assumptions, tuple(links))
        return fn

    return decorate


def load_all_claims() -> dict[str, Claim]:
    from isreshape.proofs import claims

    for info in pkgutil.iter_modules(claims.__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"isreshape.proofs.claims.{info.name}")
    return dict(sorted(REGISTRY.items(), key=lambda kv: _sort_key(kv[0])))


def _sort_key(claim_id: str):
    m = ID_PATTERN.match(claim_id)
    parts = [int(p) if p.isdigit() else p for p in re.split(r"[.]", m["section"])]
    return (m["seed"], [(0, p) if isinstance(p, int) else (1, p) for p in parts], m["letter"])


def run_claim(c: Claim) -> Result:
    t0 = time.perf_counter()
    try:
        outcome = c.check()
        if not isinstance(outcome, Outcome):
            raise TypeError(f"check returned {type(outcome).__name__}, not an Outcome")
    except Exception as exc:  # a crashing check is reported, not hidden
        tb = traceback.format_exception_only(type(exc), exc)[-1].strip()
        outcome = Outcome(ERROR, f"check raised {tb}")
    return Result(c, outcome, time.perf_counter() - t0)
