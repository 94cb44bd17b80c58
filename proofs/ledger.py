"""The claims ledger: one record per checkable claim of the seeds, with a computed verdict.

A claim is a *check* applied to a *subject*: the seed's formula, number, code or statement as
written. The check computes numbers and decides with :func:`decide`, a three-way comparison
(HOLDS, HOLDS-WITH-CONDITIONS, FALSE); it never names its verdict. Each claim also carries a
second subject on which the same check must reach the other side:

- a FALSE claim carries its ``correction`` (the true value, the right formula, the missing
  condition), on which the check must return HOLDS or HOLDS-WITH-CONDITIONS;
- a HOLDS or HOLDS-WITH-CONDITIONS claim carries a ``counter_case`` (a wrong constant, a
  dropped term, the condition violated), on which the check must return FALSE.

So a check whose verdict does not depend on its subject fails its own audit. The numbers each
check computes are pinned in ``proofs/evidence/seed_NNN.json`` (``isreshape audit
--write-evidence``), so a changed number is a visible change even when the verdict survives.
Only a claim that no computation can decide is UNCHECKABLE, and it says why.

``isreshape audit`` exits 1 when any verdict differs from the recorded ``expected`` one, when a
correction or a counter-case does not reach its side, or when a pinned number moved.
"""

from __future__ import annotations

import importlib
import json
import math
import pkgutil
import re
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
MAX_UNCHECKABLE = 12

ID_PATTERN = re.compile(r"^(?P<seed>\d{3})-(?P<section>[0-9A-Za-z.]+)-(?P<letter>[a-z]{1,2})$")
EVIDENCE_DIR = Path(__file__).resolve().parent / "evidence"

# Pinned numbers come from exact (mpmath, sympy) or fixed-seed computations. Between NumPy,
# SciPy and mpmath releases and SIMD paths their last bits move (the fixtures saw 16 ulps at
# most); 1e-9 relative leaves a million times that, while any change of a formula, a constant
# or a sample moves a number far more. The absolute floor keeps exact zeros and residuals of
# 1e-40 comparable.
EVIDENCE_RTOL = 1e-9
EVIDENCE_ATOL = 1e-12
# A tolerance is a constant, not a computed number: it is pinned to 1e-12 relative with no
# absolute floor, so loosening MP_TOL = 1e-25 to 1e-13 is a red audit. Keys that name one:
TOLERANCE_KEY = re.compile(r"(?:^|_)(?:tol|tolerance|threshold|z_max)(?:$|_)")
TOLERANCE_RTOL = 1e-12
PRINTED_ATOL = 1e-10
# the largest snapshot tolerance a claim may state: a measured float32 rounding error moves
# by a few 1e-3 between NumPy's summation orders (004-7.4-b); looser than 5% is not pinning
MAX_EVIDENCE_RTOL = 0.05


# How a check knows (issue 15; "symbolic" is ours: many checks decide by one sympy identity in
# general symbols, stronger than a sample, short of a proof chain). "proof" and "certified" are
# witnessed: the check must run a general proof (proofs/theorems.py, Proof.verify) or compute
# a certified enclosure (theorems.enclose_alpha_star) while it decides, or the audit reports it.
METHODS = {
    "proof": "a general sympy proof (proofs/theorems.py), every step checked in the run",
    "certified": "a rigorous interval enclosure (reference/certified.py) computed in the run",
    "symbolic": "a sympy identity, solution or series in general symbols decides (one step, "
    "not a proof chain)",
    "exhaustive": "every case of a finite statement enumerated, or exact arithmetic on the "
    "statement's own numbers",
    "sampled": "a random search, a grid or a Monte Carlo estimate (its size in the evidence)",
    "counterexample": "FALSE from an explicit, reproducible counterexample",
    "lab": "an experiment of the exact laboratory (reference/lab*.py): named instances, exact "
    "expectations, a stated threshold (proofs/claims/lab.py)",
    "none": "UNCHECKABLE: no computation can decide",
}
WITNESSED_METHODS = ("proof", "certified")
_WITNESSED: set[str] = set()


def witness(method: str) -> None:
    """Record that the running check did the work ``method`` names (called by
    ``theorems.Proof.verify`` and the certified-enclosure helper, never by a check)."""
    if method not in WITNESSED_METHODS:
        raise ValueError(f"method must be one of {WITNESSED_METHODS}, got {method!r}")
    _WITNESSED.add(method)


@dataclass(frozen=True)
class Outcome:
    """What a check computed: the verdict, the conditions (for HOLDS-WITH-CONDITIONS), the
    evidence text and the named numbers it decided from (pinned by the evidence snapshot).
    Checks never build one directly: they call :func:`decide` or :func:`uncheckable`."""

    verdict: str
    evidence: str
    conditions: str = ""
    numbers: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS + (ERROR,):
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")
        if not self.evidence.strip():
            raise ValueError("an outcome needs evidence")
        if self.verdict == HOLDS_WITH_CONDITIONS and not self.conditions.strip():
            raise ValueError("HOLDS-WITH-CONDITIONS needs its conditions")

    def as_dict(self) -> dict:
        return {
            "verdict": self.verdict,
            "conditions": self.conditions,
            "evidence": self.evidence,
            "numbers": dict(self.numbers),
        }


def _as_bool(name: str, value: Any) -> bool:
    # only the result of a comparison: a number, an array or None would decide by truthiness
    if type(value).__name__ not in ("bool", "bool_"):
        raise ValueError(f"{name} must be a bool computed by a comparison, got {value!r}")
    return bool(value)


def _clean_numbers(numbers: Mapping[str, Any]) -> dict[str, float]:
    if not isinstance(numbers, Mapping) or not numbers:
        raise ValueError("numbers must name at least one computed number the verdict rests on")
    out: dict[str, float] = {}
    for k, v in numbers.items():
        if not isinstance(k, str) or not k:
            raise ValueError(f"numbers keys must be non-empty strings, got {k!r}")
        try:
            out[k] = float(v)
        except (TypeError, ValueError):
            raise ValueError(f"numbers[{k!r}] must be a real number, got {v!r}") from None
        if math.isnan(out[k]):
            # NaN compares false both ways: `not (err > tol)` would pass on it
            raise ValueError(f"numbers[{k!r}] is NaN: a check must not decide from a NaN")
    return out


def decide(
    ok: Any,
    evidence: str,
    *,
    numbers: Mapping[str, Any],
    conditions: str = "",
    ok_without_conditions: Any = None,
) -> Outcome:
    """The three-way decision every check ends with.

    ``ok``: the statement held on every case the check computed where the stated conditions
    are met (every case, when there are none). With ``conditions``, the check must also have
    computed cases that violate them, and ``ok_without_conditions`` says whether the statement
    held there too. Verdict: FALSE if not ``ok``; HOLDS if ``ok`` and either there are no
    conditions or they turned out unnecessary; HOLDS-WITH-CONDITIONS otherwise. ``numbers``
    are the computed quantities the comparison used (errors, margins, tolerances, counts),
    pinned by the evidence snapshot.
    """
    ok = _as_bool("ok", ok)
    nums = _clean_numbers(numbers)
    if conditions.strip():
        if ok_without_conditions is None:
            raise ValueError(
                "a check with conditions must compute ok_without_conditions: does the statement "
                "hold where the conditions are violated?"
            )
        general = _as_bool("ok_without_conditions", ok_without_conditions)
    else:
        if ok_without_conditions is not None:
            raise ValueError("ok_without_conditions needs the conditions it drops")
        general = True
    if not ok:
        return _mint(Outcome(FALSE, evidence, "", nums))
    if general:
        return _mint(Outcome(HOLDS, evidence, "", nums))
    return _mint(Outcome(HOLDS_WITH_CONDITIONS, evidence, conditions, nums))


def uncheckable(reason: str) -> Outcome:
    """For a claim no computation can decide (an opinion, a plan, undescribed experiments)."""
    return _mint(Outcome(UNCHECKABLE, reason))


# ids of the outcomes decide() / uncheckable() built during the running check: run_claim
# rejects any other Outcome (one built directly, or copied with a new verdict by
# dataclasses.replace), so a check cannot hand back a verdict it chose
_MINTED: set[int] = set()


def _mint(o: Outcome) -> Outcome:
    _MINTED.add(id(o))
    return o


@dataclass(frozen=True)
class Variant:
    """A second subject for a claim's check: the corrected statement of a FALSE claim, or the
    perturbed statement (counter-case) of a HOLDS / HOLDS-WITH-CONDITIONS claim."""

    statement: str
    subject: Any

    def __post_init__(self) -> None:
        if not self.statement.strip():
            raise ValueError("a variant needs its statement")


_NO_SUBJECT = object()


@dataclass
class Claim:
    id: str
    section: str
    statement: str
    expected: str
    check: Callable[..., Outcome]
    assumptions: str = ""
    links: tuple[str, ...] = field(default_factory=tuple)
    subject: Any = _NO_SUBJECT
    correction: Variant | None = None
    counter_case: Variant | None = None
    evidence_tolerance: tuple[float, float, str] | None = None
    method: str | None = None

    @property
    def seed(self) -> str:
        return self.id[:3]

    @property
    def source(self) -> str:
        return SEEDS[self.seed]

    @property
    def has_subject(self) -> bool:
        return self.subject is not _NO_SUBJECT

    @property
    def variant(self) -> tuple[str, Variant] | None:
        """('correction', v) for a FALSE claim, ('counter_case', v) for a HOLDS / HWC one."""
        if self.correction is not None:
            return "correction", self.correction
        if self.counter_case is not None:
            return "counter_case", self.counter_case
        return None


def _run_check(c: Claim, subject: Any) -> Outcome:
    _MINTED.clear()
    _WITNESSED.clear()
    try:
        outcome = c.check(subject) if c.has_subject else c.check()
        if not isinstance(outcome, Outcome):
            raise TypeError(f"check returned {type(outcome).__name__}, not an Outcome")
        if id(outcome) not in _MINTED:
            raise TypeError("check returned an Outcome that decide() / uncheckable() did not build")
    except Exception as exc:  # a crashing check is reported, not hidden
        tb = traceback.format_exception_only(type(exc), exc)[-1].strip()
        outcome = Outcome(ERROR, f"check raised {tb}")
    return outcome


@dataclass(frozen=True)
class Result:
    claim: Claim
    outcome: Outcome
    seconds: float
    variant_outcome: Outcome | None = None
    witnessed: frozenset = frozenset()

    @property
    def method(self) -> str | None:
        return "none" if self.claim.expected == UNCHECKABLE else self.claim.method

    @property
    def matches(self) -> bool:
        return self.outcome.verdict == self.claim.expected

    def problems(self) -> list[str]:
        """Everything wrong with this result, evidence snapshot aside (see evidence_problems)."""
        c, o = self.claim, self.outcome
        out = []
        if o.verdict != c.expected:
            out.append(f"{c.id}: computed {o.verdict}, recorded {c.expected}")
        if c.method in WITNESSED_METHODS and c.method not in self.witnessed:
            out.append(f"{c.id}: method {c.method!r} declared, but the check ran no {c.method}")
        if c.method == "counterexample" and c.expected != FALSE:
            out.append(f"{c.id}: method 'counterexample' is for FALSE claims")
        if c.expected == UNCHECKABLE:
            if c.has_subject or c.variant is not None:
                out.append(f"{c.id}: an UNCHECKABLE claim has a subject or a variant")
            return out
        v = c.variant
        if v is None:
            return out  # reported by incomplete()
        role, variant = v
        vo = self.variant_outcome
        want = (FALSE,) if role == "counter_case" else (HOLDS, HOLDS_WITH_CONDITIONS)
        if c.expected == FALSE and role != "correction":
            out.append(f"{c.id}: a FALSE claim needs a correction, not a counter_case")
        elif c.expected != FALSE and role != "counter_case":
            out.append(f"{c.id}: a {c.expected} claim needs a counter_case, not a correction")
        elif vo is None or vo.verdict not in want:
            got = vo.verdict if vo else "nothing"
            out.append(f"{c.id}: its {role} gives {got}, must give {' or '.join(want)}")
        return out

    def incomplete(self) -> str | None:
        """Why this claim is not yet a deciding claim (legacy zero-argument check, no variant)."""
        c = self.claim
        if c.expected == UNCHECKABLE:
            return None
        if not c.has_subject:
            return f"{c.id}: check takes no subject"
        if c.variant is None:
            return f"{c.id}: no {'correction' if c.expected == FALSE else 'counter_case'}"
        return None

    def as_dict(self) -> dict:
        c, o = self.claim, self.outcome
        d = {
            "id": c.id,
            "source": c.source,
            "section": c.section,
            "statement": c.statement,
            "verdict": o.verdict,
            "method": self.method,
            "conditions": o.conditions,
            "evidence": o.evidence,
            "numbers": dict(o.numbers),
            "expected": c.expected,
            "assumptions": c.assumptions,
            "links": list(c.links),
            "seconds": round(self.seconds, 4),
        }
        v = c.variant
        if v is not None and self.variant_outcome is not None:
            role, variant = v
            d[role] = {"statement": variant.statement, **self.variant_outcome.as_dict()}
        return d

    def pinned_numbers(self) -> dict[str, dict[str, float]]:
        out = {"subject": dict(self.outcome.numbers)}
        v = self.claim.variant
        if v is not None and self.variant_outcome is not None:
            out[v[0]] = dict(self.variant_outcome.numbers)
        return out

    def pinned_text(self) -> dict[str, list[str]]:
        """The numbers printed in each evidence text, as printed (see ``_printed_numbers``)."""
        out = {"subject": _printed_numbers(self.outcome.evidence)}
        v = self.claim.variant
        if v is not None and self.variant_outcome is not None:
            out[v[0]] = _printed_numbers(self.variant_outcome.evidence)
        return out

    def pinned_words(self) -> dict[str, str]:
        """Each evidence text with its numbers replaced by their printed formats (see
        ``_text_skeleton``): the words and the printed precision are pinned exactly."""
        out = {"subject": _text_skeleton(self.outcome.evidence)}
        v = self.claim.variant
        if v is not None and self.variant_outcome is not None:
            out[v[0]] = _text_skeleton(self.variant_outcome.evidence)
        return out


# a number as printed in evidence text, not the digits inside a name (float64, s2, x_1)
_PRINTED = re.compile(r"(?<![A-Za-z_0-9.])[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")


def _printed_numbers(text: str) -> list[str]:
    return _PRINTED.findall(text)


# a printed number with this many significant digits or more is a full-precision repr, whose
# last digits (and so its length) may move between NumPy releases
_REPR_DIGITS = 13


def _number_format(token: str) -> str:
    """The printed format of a number: ``#d<decimals>`` plus ``e`` when in exponent form;
    ``#0`` for a value below PRINTED_ATOL (a rounding diagnostic whose form varies between
    releases: 0 vs 1.7e-11) and ``#r`` for a full-precision repr."""
    mant, e, _ = token.lower().lstrip("+-").partition("e")
    if abs(float(token)) < PRINTED_ATOL:
        return "#0"
    if len(mant.replace(".", "").lstrip("0")) >= _REPR_DIGITS:
        return "#r"
    decimals = len(mant.split(".")[1]) if "." in mant else 0
    return f"#d{decimals}" + ("e" if e else "")


def _text_skeleton(text: str) -> str:
    """The evidence text with every printed number replaced by its format: "h(0.5) = 0.940"
    -> "h(#d1) = #d3". Rounding to 5 places where the seed table has 4 changes it."""
    return _PRINTED.sub(lambda m: _number_format(m.group(0)), text)


def _last_digit_unit(token: str) -> float:
    """One unit of the last printed digit: 0.1234 -> 1e-4, 2.5e-3 -> 1e-4, 1000 -> 1."""
    mant, _, exp = token.lower().partition("e")
    decimals = len(mant.split(".")[1]) if "." in mant else 0
    return 10.0 ** (int(exp or 0) - decimals)


def _printed_close(a: str, b: str, rtol: float, atol: float) -> bool:
    x, y = float(a), float(b)
    if x == y:
        return True
    if not (math.isfinite(x) and math.isfinite(y)):
        return False
    # a printed value may round the other way when it sits on a digit boundary: one unit of
    # the last printed digit (the finer of the two: 9.9e-07 vs 1.0e-06 is a boundary flip of
    # 1e-08, while 1e-07 vs 1e-06 printed at 0 decimals is a tenfold change, not one unit of
    # 1e-06); otherwise the same rule as the pinned numbers
    unit = min(_last_digit_unit(a), _last_digit_unit(b))
    # printed values below 1e-10 are rounding diagnostics (a finite-difference error of 1.4e-11
    # under NumPy 2.4 prints 1.7e-11 under 1.24); what they are compared with is pinned as a
    # number
    floor = max(atol, PRINTED_ATOL)
    return abs(x - y) <= max(unit, floor + rtol * max(abs(x), abs(y))) * (1 + 1e-12)


REGISTRY: dict[str, Claim] = {}


def claim(
    id: str,
    section: str,
    statement: str,
    expected: str,
    assumptions: str = "",
    links: tuple[str, ...] | list[str] = (),
    *,
    subject: Any = _NO_SUBJECT,
    correction: Variant | None = None,
    counter_case: Variant | None = None,
    evidence_tolerance: tuple[float, float, str] | None = None,
    method: str | None = None,
) -> Callable[[Callable[..., Outcome]], Callable[..., Outcome]]:
    """Register the decorated check as claim ``id``.

    ``subject`` is what the seed says (a formula as a callable, a number, code, a statement's
    parameters); the check is called as ``check(subject)``, and as ``check(v.subject)`` for the
    ``correction`` (FALSE claims) or ``counter_case`` (HOLDS / HWC claims). An UNCHECKABLE claim
    has no subject and its zero-argument check returns ``uncheckable(reason)``.
    ``evidence_tolerance = (rtol, atol, reason)`` replaces the default snapshot tolerance.
    ``method`` says how the check knows (one of :data:`METHODS` but "none", which UNCHECKABLE
    claims get by themselves); "proof" and "certified" must be witnessed in the run.
    """
    m = ID_PATTERN.match(id)
    if not m or m["seed"] not in SEEDS:
        raise ValueError(f"claim id must look like '001-8.1-b' with a known seed, got {id!r}")
    if expected not in VERDICTS:
        raise ValueError(f"expected verdict must be one of {VERDICTS}, got {expected!r}")
    if id in REGISTRY:
        raise ValueError(f"claim id {id!r} registered twice")
    if correction is not None and counter_case is not None:
        raise ValueError(f"{id}: a claim has a correction (FALSE) or a counter_case, not both")
    if correction is not None and expected != FALSE:
        raise ValueError(f"{id}: only a FALSE claim has a correction")
    if counter_case is not None and expected not in (HOLDS, HOLDS_WITH_CONDITIONS):
        raise ValueError(f"{id}: only a HOLDS / HOLDS-WITH-CONDITIONS claim has a counter_case")
    if method is not None and (method not in METHODS or method == "none"):
        raise ValueError(f"{id}: method must be one of {sorted(set(METHODS) - {'none'})}")
    if method is not None and expected == UNCHECKABLE:
        raise ValueError(f"{id}: an UNCHECKABLE claim has no method")
    if (correction or counter_case) and subject is _NO_SUBJECT:
        raise ValueError(f"{id}: a variant needs the subject it varies")
    if evidence_tolerance is not None:
        rtol, atol, why = evidence_tolerance
        if not (0 <= rtol <= MAX_EVIDENCE_RTOL and 0 <= atol <= 1 and why.strip()):
            raise ValueError(
                f"{id}: evidence_tolerance must be (0 <= rtol <= {MAX_EVIDENCE_RTOL}, "
                "0 <= atol <= 1, reason)"
            )

    def decorate(fn: Callable[..., Outcome]) -> Callable[..., Outcome]:
        REGISTRY[id] = Claim(
            id,
            section,
            statement,
            expected,
            fn,
            assumptions,
            tuple(links),
            subject,
            correction,
            counter_case,
            evidence_tolerance,
            method,
        )
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
    outcome = _run_check(c, c.subject)
    witnessed = frozenset(_WITNESSED)
    variant_outcome = None
    v = c.variant
    if v is not None:
        variant_outcome = _run_check(c, v[1].subject)
    return Result(c, outcome, time.perf_counter() - t0, variant_outcome, witnessed)


# ---------------------------------------------------------------- the evidence snapshot


def evidence_path(seed: str) -> Path:
    return EVIDENCE_DIR / f"seed_{seed}.json"


def load_evidence(seed: str) -> dict[str, dict[str, dict[str, float]]]:
    p = evidence_path(seed)
    return json.loads(p.read_text()) if p.exists() else {}


def write_evidence(results: list[Result]) -> list[Path]:
    """Merge the numbers of ``results`` into their seeds' snapshot files."""
    by_seed: dict[str, list[Result]] = {}
    for r in results:
        by_seed.setdefault(r.claim.seed, []).append(r)
    written = []
    for seed, rs in sorted(by_seed.items()):
        # claims that no longer exist lose their pinned numbers
        snap = {k: v for k, v in load_evidence(seed).items() if k in REGISTRY}
        for r in rs:
            if r.outcome.verdict in (ERROR, UNCHECKABLE):
                snap.pop(r.claim.id, None)
                continue
            snap[r.claim.id] = {
                **r.pinned_numbers(),
                "printed": r.pinned_text(),
                "words": r.pinned_words(),
            }
        snap = dict(sorted(snap.items(), key=lambda kv: _sort_key(kv[0])))
        p = evidence_path(seed)
        p.parent.mkdir(parents=True, exist_ok=True)
        lines = [f" {json.dumps(k)}: {json.dumps(v, sort_keys=True)}" for k, v in snap.items()]
        p.write_text("{\n" + ",\n".join(lines) + "\n}\n")
        written.append(p)
    return written


def _close(a: float, b: float, rtol: float, atol: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= atol + rtol * max(abs(a), abs(b))


def evidence_problems(r: Result, snapshot: Mapping[str, Any]) -> list[str]:
    """Differences between the numbers ``r`` computed and the pinned ones."""
    c = r.claim
    if r.outcome.verdict in (ERROR, UNCHECKABLE):
        return []
    pinned = snapshot.get(c.id)
    if pinned is None:
        return [f"{c.id}: no pinned numbers (isreshape audit --claim {c.id} --write-evidence)"]
    rtol, atol = (
        c.evidence_tolerance[:2] if c.evidence_tolerance else (EVIDENCE_RTOL, EVIDENCE_ATOL)
    )
    out = []
    fresh = r.pinned_numbers()
    printed = pinned.get("printed")
    if printed is not None:
        # the evidence text is evidence too: h(0.5) printed as 0.5 instead of 0.940 is red
        for role, tokens in r.pinned_text().items():
            old = printed.get(role, [])
            if len(old) != len(tokens):
                out.append(
                    f"{c.id} [{role}]: evidence prints {len(tokens)} numbers, pinned {len(old)}"
                )
                continue
            for i, (x, y) in enumerate(zip(tokens, old)):
                if not _printed_close(x, y, rtol, atol):
                    out.append(f"{c.id} [{role}]: printed number #{i} is {x}, pinned {y}")
    words = pinned.get("words")
    if words is not None:
        # the words and the printed precision: only a deliberate --write-evidence changes them
        for role, skeleton in r.pinned_words().items():
            if skeleton != words.get(role):
                out.append(
                    f"{c.id} [{role}]: evidence text reads {skeleton!r}, pinned "
                    f"{words.get(role)!r}"
                )
    pinned = {k: v for k, v in pinned.items() if k not in ("printed", "words")}
    for role in sorted(set(fresh) | set(pinned)):
        a, b = fresh.get(role, {}), pinned.get(role, {})
        if a.keys() != b.keys():
            out.append(f"{c.id} [{role}]: numbers {sorted(a)} != pinned {sorted(b)}")
            continue
        for k in a:
            tol = (TOLERANCE_RTOL, 0.0) if TOLERANCE_KEY.search(k) else (rtol, atol)
            if not _close(a[k], b[k], *tol):
                out.append(f"{c.id} [{role}]: {k} = {a[k]!r}, pinned {b[k]!r}")
    return out
