"""Mutation testing of the claims ledger (``isreshape selftest``).

Every claim check in ``proofs/claims/seed_*.py`` is meant to be able to fail. This module
changes the checks' source one small step at a time (a *mutant*) and asks whether the audit
would notice. A mutant is **killed** when, among the claims it can reach, the audit goes red:

- *full* criterion: any ``Result.problems()`` (a verdict differs from the recorded one, a
  correction or counter-case is not on its side, a crash, which is an ERROR verdict) or any
  ``evidence_problems`` against the evidence snapshot loaded at the start of the run;
- *verdict-only* criterion: ``Result.problems()`` alone (how well the decisions themselves are
  tested, the pinned numbers aside).

Under the old ledger (zero-argument checks, no variants, no snapshot) a mutant is killed when a
verdict differs from the recorded one or a check crashes; both criteria coincide there.

Operators (on the AST of the claim modules; strings, docstrings, imports, f-string format
specs, annotations, non-``claim`` decorators and the ``@claim`` id / section / statement /
expected / assumptions / links arguments are never touched):

=========  ==============================================================================
const      numeric constants: 0 -> 1, 1 -> 0 and 2, other ints n -> n + 1, floats c -> 2c
tolerance  floats with 0 < |c| < 1e-3: c -> 10c and c -> c/10
sign       unary minus removed (-x -> x); added to non-zero float constants (c -> -c)
arith      binary and augmented + <-> -, * <-> / (not on string, list or tuple literals)
compare    < -> <= and >, <= -> < and >=, > -> >= and <, >= -> > and <=, == <-> !=
boolean    and <-> or, ``not x`` -> x
truth      True <-> False
=========  ==============================================================================

How a mutant runs. A mutation inside a function body is compiled (its top-level statement
only) and the mutated code object is swapped into the live function objects of every level
of its enclosing function chain (module functions, ``lru_cache``-wrapped functions, lambdas
held as subjects, closures made at import); the claims whose check, subject or variant can
reach that function (statically: names, closures, defaults, containers, transitively across
the claim modules) are run, and the code is restored. A mutation outside any function body
(a ``@claim`` subject or variant expression, a module constant, a function called while the
module is imported) re-executes the mutated module source into a fresh module object, with the
module's registry entries set aside and restored afterwards; it runs the one claim whose
decorator was mutated, or else every claim of that module. All ``functools`` caches of the
claim modules are cleared around every mutant, and mpmath's precision and NumPy's error state
are restored.

Hangs. Each mutant runs under ``signal.setitimer`` with a limit of ``--timeout`` seconds plus
three times the baseline time of the claims it runs. A mutant past it is counted **killed
(timeout)**: the audit would not finish (CI's job limit would turn it red), listed separately.
The address space is capped at its size after loading plus ``--memory-gb`` (4 GiB): a mutant
that builds a huge array gets MemoryError, which the ledger reports as an ERROR verdict
(killed; the audit would crash or be killed by the OOM killer).

Survivors and equivalent mutants. A survivor whose every claim outcome (verdict, conditions,
evidence text and numbers, on the subject and on the variant) is byte-identical to the
baseline is a *candidate equivalent*. It is probed once with the original code instrumented at
the mutated expression:

- a comparison ``<``/``<=`` (``>``/``>=``) whose operands are plain numbers or NumPy arrays and
  were never equal on any evaluation is **equivalent (boundary never hit)**: the two operators
  differ only on equal operands, and the audit is deterministic;
- an expression that was never evaluated is reported as a survivor in *no coverage* (it
  counts against the score: dead code in a check is a finding, not an equivalence);
- otherwise it stays a survivor unless it is listed, with a reason, in
  ``proofs/selftest_equivalent.txt`` (reviewed by hand). An entry whose mutant is killed or
  changes an outcome is stale: it is reported and not excluded.

Score = killed / (mutants - equivalent - tool errors); tool errors (a mutant the tool could not
build) are listed and excluded. A survivor whose outcome differs from the baseline is never
equivalent: the audit simply does not pin what changed (often evidence text only).
"""

from __future__ import annotations
import __future__

import argparse
import ast
import functools
import gc
import importlib
import importlib.util
import json
import math
import operator
import random
import re
import signal
import sys
import time
import types
import warnings
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

CLAIMS_PACKAGE = "isreshape.proofs.claims"
EQUIVALENT_FILE = Path(__file__).resolve().parent / "selftest_equivalent.txt"
OPERATORS = ("const", "tolerance", "sign", "arith", "compare", "boolean", "truth")
SMALL = 1e-3  # floats below this magnitude are tolerances: mutated by factors of 10
CLAIM_META_ARGS = ("id", "section", "statement", "expected", "assumptions", "links")
PROBE = "__isreshape_selftest_probe__"


# ---------------------------------------------------------------- mutant enumeration


@dataclass
class Mutant:
    id: str  # stable: file::scope::op:original->mutated#k
    file: str  # file name, e.g. seed_001.py
    module: str
    site: int  # index of the node in the traversal order of the module's AST
    variant: int  # which mutation of that node
    op: str
    line: int
    original: str
    mutated: str
    scope: tuple[str, ...]  # enclosing function qualnames, outermost first; () at module level
    claim_id: str | None = None  # set when the node sits in a @claim(...) decorator call
    # filled by the run
    status: str = ""  # killed / survived / equivalent / error
    verdict_killed: bool = False
    detail: str = ""
    category: str = ""
    claims: list[str] = field(default_factory=list)
    seconds: float = 0.0


_CMP_SWAPS = {
    ast.Lt: (ast.LtE, ast.Gt),
    ast.LtE: (ast.Lt, ast.GtE),
    ast.Gt: (ast.GtE, ast.Lt),
    ast.GtE: (ast.Gt, ast.LtE),
    ast.Eq: (ast.NotEq,),
    ast.NotEq: (ast.Eq,),
}
_CMP_TEXT = {
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.Eq: "==",
    ast.NotEq: "!=",
}
_BIN_SWAPS = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult}
_BIN_TEXT = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _const_variants(v: int | float) -> list[tuple[str, Any]]:
    if isinstance(v, int):
        if v == 0:
            return [("const", 1)]
        if v == 1:
            return [("const", 0), ("const", 2)]
        return [("const", v + 1)]
    if v == 0.0:
        return [("const", 1.0)]
    if v == 1.0:
        return [("const", 0.0), ("const", 2.0), ("sign", -1.0)]
    if not math.isfinite(v):
        return []
    if abs(v) < SMALL:
        return [("tolerance", v * 10), ("tolerance", v / 10), ("sign", -v)]
    return [("const", 2 * v), ("sign", -v)]


def _is_textual(node: ast.AST) -> bool:
    """Operands whose + or * is concatenation or repetition (mutating them only crashes)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes)):
        return True
    if isinstance(node, (ast.JoinedStr, ast.List, ast.Tuple, ast.ListComp)):
        return True
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return node.func.attr in ("join", "format")
    return isinstance(node, ast.BinOp) and (_is_textual(node.left) or _is_textual(node.right))


def _claim_call_id(node: ast.AST) -> str | None:
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "claim"
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    ):
        return node.args[0].value
    return None


@dataclass
class _Site:
    node: ast.AST
    parent: ast.AST
    field_name: str
    index: int | None
    scope: tuple[str, ...]
    claim_id: str | None


def _walk_sites(tree: ast.Module) -> Iterator[_Site]:
    """Every mutable expression node with its parent slot, in a fixed order, skipping the
    protected parts (imports, docstrings and strings, annotations, format specs, the @claim
    metadata arguments, other decorators)."""

    def visit(node, scope, qual, claim_id, in_fstring):
        for name, value in ast.iter_fields(node):
            children = value if isinstance(value, list) else [value]
            for i, child in enumerate(children):
                if not isinstance(child, ast.AST):
                    continue
                idx = i if isinstance(value, list) else None
                yield from handle(node, name, idx, child, scope, qual, claim_id, in_fstring)

    def handle(parent, name, idx, node, scope, qual, claim_id, in_fstring):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            return
        if name in ("annotation", "returns", "format_spec", "type_comment"):
            return
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            yield from scoped(node, scope, qual, claim_id)
            return
        yield _Site(node, parent, name, idx, scope, claim_id)
        yield from visit(node, scope, qual, claim_id, in_fstring)

    def scoped(node, scope, qual, claim_id):
        # decorators and defaults are evaluated in the enclosing scope
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            for dec in node.decorator_list:
                cid = _claim_call_id(dec)
                if cid is None:
                    continue  # lru_cache(maxsize=...) and friends are not checks
                for j, a in enumerate(dec.args):
                    if j >= len(CLAIM_META_ARGS):
                        yield from handle(dec, "args", j, a, scope, qual, cid, False)
                for kw in dec.keywords:
                    if kw.arg not in CLAIM_META_ARGS:
                        yield from handle(kw, "value", None, kw.value, scope, qual, cid, False)
        if isinstance(node, ast.ClassDef):
            for i, b in enumerate(node.bases):
                yield from handle(node, "bases", i, b, scope, qual, claim_id, False)
            inner_qual = f"{qual}{node.name}."
            body = _strip_docstring(node.body)
            for i, stmt in enumerate(node.body):
                if stmt in body:
                    yield from handle(node, "body", i, stmt, scope, inner_qual, claim_id, False)
            return
        args = node.args
        for field_name in ("defaults", "kw_defaults"):
            for i, d in enumerate(getattr(args, field_name)):
                if d is not None:
                    yield from handle(args, field_name, i, d, scope, qual, claim_id, False)
        name = "<lambda>" if isinstance(node, ast.Lambda) else node.name
        fq = f"{qual}{name}"
        inner_scope = scope + (fq,)
        inner_qual = f"{fq}.<locals>."
        if isinstance(node, ast.Lambda):
            yield from handle(node, "body", None, node.body, inner_scope, inner_qual, None, False)
            return
        body = _strip_docstring(node.body)
        for i, stmt in enumerate(node.body):
            if stmt in body:
                yield from handle(node, "body", i, stmt, inner_scope, inner_qual, None, False)

    body = _strip_docstring(tree.body)
    for i, stmt in enumerate(tree.body):
        if stmt in body and not _is_main_guard(stmt):
            yield from handle(tree, "body", i, stmt, (), "", None, False)


def _strip_docstring(body: list[ast.stmt]) -> list[ast.stmt]:
    if (
        body
        and isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
        and isinstance(body[0].value.value, str)
    ):
        return body[1:]
    return body


def _is_main_guard(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.If) and "__main__" in ast.unparse(stmt.test)


def _mutations(site: _Site) -> list[tuple[str, str, str, Any]]:
    """(op, original text, mutated text, payload) for one node."""
    node = site.node
    out = []
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool):
            out.append(("truth", repr(node.value), repr(not node.value), not node.value))
        elif _is_number(node.value):
            under_minus = isinstance(site.parent, ast.UnaryOp) and isinstance(
                site.parent.op, ast.USub
            )
            for op, new in _const_variants(node.value):
                if op == "sign" and (under_minus or isinstance(node.value, int)):
                    continue
                out.append((op, repr(node.value), repr(new), new))
    elif isinstance(node, ast.UnaryOp):
        if isinstance(node.op, ast.USub):
            out.append(("sign", ast.unparse(node), ast.unparse(node.operand), None))
        elif isinstance(node.op, ast.Not):
            out.append(("boolean", ast.unparse(node), ast.unparse(node.operand), None))
    elif isinstance(node, (ast.BinOp, ast.AugAssign)):
        if type(node.op) in _BIN_SWAPS:
            left = node.left if isinstance(node, ast.BinOp) else node.target
            right = node.right if isinstance(node, ast.BinOp) else node.value
            if not (_is_textual(left) or _is_textual(right)):
                new = _BIN_SWAPS[type(node.op)]
                out.append(("arith", _BIN_TEXT[type(node.op)], _BIN_TEXT[new], new))
    elif isinstance(node, ast.Compare):
        for i, o in enumerate(node.ops):
            for new in _CMP_SWAPS.get(type(o), ()):
                out.append(("compare", _CMP_TEXT[type(o)], _CMP_TEXT[new], (i, new)))
    elif isinstance(node, ast.BoolOp):
        new = ast.Or if isinstance(node.op, ast.And) else ast.And
        out.append(("boolean", type(node.op).__name__.lower(), new.__name__.lower(), new))
    return out


def _apply(site: _Site, op: str, payload: Any) -> callable:
    """Mutate the tree in place; return the function that undoes it."""
    node = site.node
    if isinstance(node, ast.Constant):
        old = node.value
        node.value = payload

        def undo():
            node.value = old

        return undo
    if isinstance(node, ast.UnaryOp):  # removal: the operand takes the node's slot
        return _replace(site, node.operand)
    if isinstance(node, (ast.BinOp, ast.AugAssign, ast.BoolOp)):
        old = node.op
        node.op = payload()

        def undo():
            node.op = old

        return undo
    if isinstance(node, ast.Compare):
        i, new = payload
        old = node.ops[i]
        node.ops[i] = new()

        def undo():
            node.ops[i] = old

        return undo
    raise TypeError(f"cannot mutate {type(node).__name__}")


def _replace(site: _Site, new: ast.AST) -> callable:
    parent, name, idx = site.parent, site.field_name, site.index
    if idx is None:
        old = getattr(parent, name)
        setattr(parent, name, new)
        return lambda: setattr(parent, name, old)
    seq = getattr(parent, name)
    old = seq[idx]
    seq[idx] = new

    def undo():
        seq[idx] = old

    return undo


@dataclass
class SourceModule:
    name: str
    path: Path
    text: str
    tree: ast.Module
    sites: list[_Site]
    future_flags: int


def _future_flags(tree: ast.Module) -> int:
    flags = 0
    for stmt in tree.body:
        if isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__":
            for a in stmt.names:
                flags |= getattr(__future__, a.name).compiler_flag
    return flags


def parse_module(name: str, path: Path, text: str) -> SourceModule:
    tree = ast.parse(text, filename=str(path))
    sites = list(_walk_sites(tree))
    return SourceModule(name, path, text, tree, sites, _future_flags(tree))


def enumerate_mutants(src: SourceModule) -> list[Mutant]:
    out: list[Mutant] = []
    seen: Counter = Counter()
    for k, site in enumerate(src.sites):
        for v, (op, orig, new, _payload) in enumerate(_mutations(site)):
            scope = (
                site.scope[-1]
                if site.scope
                else (f"@{site.claim_id}" if site.claim_id else "<module>")
            )
            base = f"{src.path.name}::{scope}::{op}:{orig}->{new}"
            seen[base] += 1
            out.append(
                Mutant(
                    id=f"{base}#{seen[base]}",
                    file=src.path.name,
                    module=src.name,
                    site=k,
                    variant=v,
                    op=op,
                    line=getattr(site.node, "lineno", 0),
                    original=orig,
                    mutated=new,
                    scope=site.scope,
                    claim_id=site.claim_id,
                )
            )
    return out


def mutated_source(src: SourceModule, m: Mutant) -> str:
    """The module's source with ``m`` applied (for reading and for tests)."""
    site = src.sites[m.site]
    op, _, _, payload = _mutations(site)[m.variant]
    undo = _apply(site, op, payload)
    try:
        return ast.unparse(src.tree)
    finally:
        undo()


# ---------------------------------------------------------------- the ledger, old and new


class LedgerAdapter:
    """Runs a claim and says whether the audit would go red, for the new ledger (subjects,
    variants, evidence snapshot) and the old one (zero-argument checks: verdict and crash)."""

    def __init__(self) -> None:
        from isreshape.proofs import ledger

        self.ledger = ledger
        self.new = hasattr(ledger, "evidence_problems")
        self.snapshots: dict[str, Any] = {}

    def load_snapshots(self, seeds) -> None:
        if self.new:
            self.snapshots = {s: self.ledger.load_evidence(s) for s in seeds}

    def judge(self, c) -> tuple[list[str], list[str], tuple, float]:
        """(verdict problems, evidence problems, outcome signature, seconds)."""
        r = self.ledger.run_claim(c)
        o = r.outcome
        sig = [_outcome_sig(o)]
        if self.new:
            vp = r.problems()
            ep = self.ledger.evidence_problems(r, self.snapshots.get(c.seed, {}))
            if r.variant_outcome is not None:
                sig.append(_outcome_sig(r.variant_outcome))
        else:
            vp = [] if r.matches else [f"{c.id}: computed {o.verdict}, recorded {c.expected}"]
            ep = []
        return vp, ep, tuple(sig), r.seconds


def _outcome_sig(o) -> tuple:
    nums = getattr(o, "numbers", {}) or {}
    return (o.verdict, o.conditions, o.evidence, tuple((k, repr(v)) for k, v in nums.items()))


# ---------------------------------------------------------------- reachability


def _code_tree(code: types.CodeType) -> Iterator[types.CodeType]:
    yield code
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            yield from _code_tree(c)


def _key(code: types.CodeType) -> tuple[str, str, int]:
    return (code.co_filename, getattr(code, "co_qualname", code.co_name), code.co_firstlineno)


class Reach:
    """Which claim-module functions (by code key) an object can reach."""

    def __init__(self, files: set[str], modules: set[str]) -> None:
        self.files = files
        self.modules = modules

    def of(self, obj: Any) -> set:
        out: set = set()
        self._visit(obj, out, set(), 0)
        return out

    def _visit(self, obj, out, seen, depth) -> None:
        if id(obj) in seen or depth > 60:
            return
        seen.add(id(obj))
        if isinstance(obj, functools._lru_cache_wrapper):
            self._visit(obj.__wrapped__, out, seen, depth + 1)
        elif isinstance(obj, types.FunctionType):
            code = obj.__code__
            if code.co_filename not in self.files:
                return
            names = set()
            for c in _code_tree(code):
                out.add(_key(c))
                names.update(c.co_names)
            g = obj.__globals__
            for n in names:
                if n in g:
                    self._visit(g[n], out, seen, depth + 1)
            for cell in obj.__closure__ or ():
                try:
                    self._visit(cell.cell_contents, out, seen, depth + 1)
                except ValueError:  # empty cell
                    pass
            for d in (obj.__defaults__ or ()) + tuple((obj.__kwdefaults__ or {}).values()):
                self._visit(d, out, seen, depth + 1)
        elif isinstance(obj, types.MethodType):
            self._visit(obj.__func__, out, seen, depth + 1)
        elif isinstance(obj, functools.partial):
            self._visit(obj.func, out, seen, depth + 1)
            for a in obj.args + tuple(obj.keywords.values()):
                self._visit(a, out, seen, depth + 1)
        elif isinstance(obj, (tuple, list, set, frozenset)):
            if len(obj) <= 10_000:
                for x in obj:
                    self._visit(x, out, seen, depth + 1)
        elif isinstance(obj, dict):
            if len(obj) <= 10_000:
                for x in obj.values():
                    self._visit(x, out, seen, depth + 1)
        elif isinstance(obj, type):
            if obj.__module__ in self.modules:
                for x in vars(obj).values():
                    self._visit(x, out, seen, depth + 1)
        elif type(obj).__module__ in self.modules or type(obj).__name__ == "Variant":
            for x in getattr(obj, "__dict__", {}).values():
                self._visit(x, out, seen, depth + 1)


def claim_roots(c) -> list:
    roots = [c.check]
    for attr in ("subject", "correction", "counter_case"):
        if hasattr(c, attr):
            roots.append(getattr(c, attr))
    return roots


def _import_time_names(tree: ast.Module) -> set[str]:
    """Names module-level code may call while the module is imported (conservatively: every
    name it loads, except bare names handed to claim(...), Variant(...) or partial(...) and
    decorators other than claim(...))."""
    names: set[str] = set()

    def visit(node):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            return
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for dec in node.decorator_list:
                if _claim_call_id(dec) is not None:
                    visit(dec)
            for d in node.args.defaults + [d for d in node.args.kw_defaults if d]:
                visit(d)
            return
        if isinstance(node, ast.Lambda):
            return  # its body runs when called
        if isinstance(node, ast.Call):
            fname = node.func.id if isinstance(node.func, ast.Name) else ""
            if fname in ("claim", "Variant", "partial"):
                for a in list(node.args) + [k.value for k in node.keywords]:
                    if not isinstance(a, ast.Name):
                        visit(a)
                return
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            names.add(node.id)
        for child in ast.iter_child_nodes(node):
            visit(child)

    for stmt in tree.body:
        visit(stmt)
    return names


# ---------------------------------------------------------------- running


class _Timeout(BaseException):
    pass


def _on_alarm(signum, frame):
    raise _Timeout()


class _Probe:
    """Records, for the instrumented expression, whether it ran and whether a comparison's
    operands were ever equal (or of a kind where equality cannot be decided)."""

    def __init__(self) -> None:
        self.calls = 0
        self.maybe_equal = False
        self.op = None

    def value(self, v):
        self.calls += 1
        return v

    def compare(self, a, b):
        self.calls += 1
        if not self.maybe_equal:
            self.maybe_equal = _maybe_equal(a, b)
        return self.op(a, b)


def _maybe_equal(a, b) -> bool:
    import numpy as np

    plain = (int, float, np.number, np.ndarray)
    try:
        import mpmath

        plain = plain + (mpmath.mpf,)
    except ImportError:  # pragma: no cover
        pass
    if isinstance(a, bool) or isinstance(b, bool):
        return True
    if not (isinstance(a, plain) and isinstance(b, plain)):
        return True  # sympy, tensors, ...: equality is not numeric here, prove nothing
    try:
        if isinstance(a, np.ndarray) and a.dtype.kind not in "iuf":
            return True
        if isinstance(b, np.ndarray) and b.dtype.kind not in "iuf":
            return True
        return bool(np.any(np.asarray(a == b)))
    except Exception:
        return True


_PYOPS = {
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}


class SelfTest:
    def __init__(
        self,
        seeds: list[str] | None = None,
        *,
        timeout: float = 30.0,
        equivalent_file: Path | None = EQUIVALENT_FILE,
        package: str = CLAIMS_PACKAGE,
        snapshots: dict | None = None,
    ) -> None:
        """``package`` holds the claim modules (the ledger's by default; tests pass a toy
        one); ``snapshots`` replaces the committed evidence snapshot (seed -> pinned)."""
        self.adapter = LedgerAdapter()
        self.ledger = self.adapter.ledger
        self.timeout = timeout
        self.package = package
        self.sources = self._load_modules(seeds)
        self.claims = {
            cid: c
            for cid, c in self.ledger.REGISTRY.items()
            if getattr(c.check, "__module__", "") in self.all_sources
        }
        self.by_module: dict[str, list[str]] = defaultdict(list)
        for cid, c in self.claims.items():
            self.by_module[getattr(c.check, "__module__", "")].append(cid)
        if snapshots is not None:
            self.adapter.snapshots = snapshots
        else:
            self.adapter.load_snapshots(sorted({c.seed for c in self.claims.values()}))
        self.files = {str(s.path) for s in self.all_sources.values()}
        self.reach = Reach(self.files, set(self.all_sources))
        self.claim_reach = {cid: self.reach.of(claim_roots(c)) for cid, c in self.claims.items()}
        self.live = self._live_functions()
        self.import_time = self._import_time_keys()
        self.equivalent = load_equivalent(equivalent_file)
        self.baseline: dict[str, tuple] = {}
        self.base_red_full: set[str] = set()
        self.base_red_verdict: set[str] = set()
        self.base_seconds: dict[str, float] = {}
        self._tops: dict[tuple, ast.stmt] = {}

    # -- loading: the claim modules are executed from the very text that is then mutated, so
    # a file edited during the run cannot put the two out of step
    def _load_modules(self, seeds):
        pkg = importlib.import_module(self.package)
        pkg_dir = Path(pkg.__path__[0])
        self.all_sources: dict[str, SourceModule] = {}
        for path in sorted(pkg_dir.glob("*.py")):
            if path.name.startswith("_"):
                continue
            name = f"{self.package}.{path.stem}"
            text = path.read_text()
            src = parse_module(name, path, text)
            self.all_sources[name] = src
            if name not in sys.modules:
                mod = types.ModuleType(name)
                mod.__spec__ = importlib.util.spec_from_file_location(name, path)
                mod.__file__ = str(path)
                mod.__package__ = self.package
                sys.modules[name] = mod
                try:
                    exec(compile(src.tree, str(path), "exec", dont_inherit=True), mod.__dict__)
                except BaseException:
                    del sys.modules[name]
                    raise
                setattr(pkg, path.stem, mod)
        available = sorted(
            m.rsplit("_", 1)[-1] for m in self.all_sources if m.rsplit(".", 1)[-1][:5] == "seed_"
        )
        if seeds:
            unknown = [s for s in seeds if s not in available]
            if unknown:
                raise ValueError(
                    f"unknown seed(s): {', '.join(unknown)}; valid seeds: {', '.join(available)}"
                )
        chosen = seeds or available
        return {
            n: s
            for n, s in self.all_sources.items()
            if n.rsplit(".", 1)[-1].startswith("seed_") and n.rsplit("_", 1)[-1] in chosen
        }

    def _live_functions(self) -> dict[tuple, list[types.FunctionType]]:
        live: dict[tuple, list] = defaultdict(list)
        for obj in gc.get_objects():
            if isinstance(obj, types.FunctionType) and obj.__code__.co_filename in self.files:
                live[_key(obj.__code__)].append(obj)
        return live

    def _import_time_keys(self) -> set:
        keys: set = set()
        for name, src in self.all_sources.items():
            mod = sys.modules[name]
            for n in _import_time_names(src.tree):
                if n in mod.__dict__:
                    keys |= self.reach.of(mod.__dict__[n])
        return keys

    # -- baseline
    def run_baseline(self) -> None:
        for cid, c in self.claims.items():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                vp, ep, sig, secs = self.adapter.judge(c)
            self.baseline[cid] = sig
            self.base_seconds[cid] = secs
            if vp:
                self.base_red_verdict.add(cid)
            if vp or ep:
                self.base_red_full.add(cid)

    # -- mutants
    def mutants(self) -> list[Mutant]:
        out = []
        for src in self.sources.values():
            out += enumerate_mutants(src)
        return out

    def _clear_caches(self) -> None:
        for name in self.all_sources:
            mod = sys.modules.get(name)
            for v in list(vars(mod).values()) if mod else ():
                if isinstance(v, functools._lru_cache_wrapper):
                    v.cache_clear()

    def _top(self, src: SourceModule, m: Mutant) -> ast.stmt:
        """The module-level statement holding the mutated node (found before mutating: a
        removed unary operator takes its node out of the tree)."""
        k = (m.module, m.site)
        if k not in self._tops:
            node = src.sites[m.site].node
            self._tops[k] = next(s for s in src.tree.body if _contains(s, node))
        return self._tops[k]

    def _plan(self, m: Mutant) -> tuple[str, list]:
        """('swap', [(function, new code key)...]) or ('exec', [])."""
        self._top(self.sources[m.module], m)
        if not m.scope:
            return "exec", []
        src = self.sources[m.module]
        keys = self._scope_keys(src, m)
        if keys is None or any(k in self.import_time for k in keys):
            return "exec", keys or []
        if not any(self.live.get(k) for k in keys):
            return "exec", keys
        return "swap", keys

    def _scope_keys(self, src: SourceModule, m: Mutant) -> list[tuple] | None:
        """Code keys of the enclosing function chain (outermost first), from the unmutated
        compile of the top-level statement; None when a key is ambiguous."""
        funcs = self._enclosing_defs(src, m)
        keys = []
        for qual, node in zip(m.scope, funcs):
            lineno = node.lineno
            if not isinstance(node, ast.Lambda) and node.decorator_list:
                lineno = node.decorator_list[0].lineno
            keys.append((str(src.path), qual, lineno))
        for k in keys:
            same = [
                n
                for n in ast.walk(src.tree)
                if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
                and _def_line(n) == k[2]
            ]
            if len(same) > 1 and len({_def_name(n) for n in same}) < len(same):
                return None
        return keys

    def _enclosing_defs(self, src: SourceModule, m: Mutant) -> list[ast.AST]:
        target = src.sites[m.site].node
        path: list[ast.AST] = []

        def find(node, stack):
            if node is target:
                path.extend(stack)
                return True
            is_def = isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            for child in ast.iter_child_nodes(node):
                inside = is_def and not _in_def_header(node, child)
                if find(child, stack + [node] if inside else stack):
                    return True
            return False

        find(src.tree, [])
        return path

    def _affected(self, m: Mutant, keys: list) -> list[str]:
        if m.claim_id:
            return [m.claim_id] if m.claim_id in self.claims else []
        if not keys:
            return list(self.by_module.get(m.module, []))
        inner = keys[-1]
        return [cid for cid, r in self.claim_reach.items() if inner in r]

    def run_mutant(self, m: Mutant) -> None:
        t0 = time.perf_counter()
        try:
            self._run(m)
        except Exception as exc:  # the tool failed to build or run this mutant
            m.status, m.category = "error", "tool error"
            m.detail = f"{type(exc).__name__}: {exc}"
        m.seconds = time.perf_counter() - t0

    def _run(self, m: Mutant) -> None:
        mode, keys = self._plan(m)
        src = self.sources[m.module]
        site = src.sites[m.site]
        op, _, _, payload = _mutations(site)[m.variant]
        undo = _apply(site, op, payload)
        try:
            if mode == "swap":
                code = self._compile_stmt(src, m)
            else:
                code = compile(src.tree, str(src.path), "exec", dont_inherit=True)
        finally:
            undo()
        cids = self._affected(m, keys if mode == "swap" else ([] if not m.scope else keys))
        if mode == "exec" and not m.claim_id:
            cids = sorted(set(cids) | set(self.by_module.get(m.module, [])))
        m.claims = cids
        result = self._execute(m, mode, code, keys, cids)
        self._classify(m, result)

    def _compile_stmt(self, src: SourceModule, m: Mutant) -> dict[tuple, types.CodeType]:
        mod = ast.Module(body=[self._top(src, m)], type_ignores=[])
        code = compile(mod, str(src.path), "exec", flags=src.future_flags, dont_inherit=True)
        return {_key(c): c for c in _code_tree(code)}

    def _execute(self, m, mode, code, keys, cids):
        """Run the claims under the mutant; returns {claim id: (vp, ep, sig)} or a string
        ('timeout', 'import error: ...')."""
        import mpmath
        import numpy as np

        prec, err = mpmath.mp.prec, np.geterr()
        limit = self.timeout + 3 * sum(self.base_seconds.get(c, 1.0) for c in cids)
        swapped: list[tuple[types.FunctionType, types.CodeType]] = []
        registry = dict(self.ledger.REGISTRY)
        old_mod = sys.modules.get(m.module)
        out: dict | str = {}
        old_handler = signal.signal(signal.SIGALRM, _on_alarm)
        signal.setitimer(signal.ITIMER_REAL, limit)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if mode == "swap":
                    for k in keys:
                        new = code.get(k)
                        for f in self.live.get(k, ()):
                            if new is None or len(new.co_freevars) != len(f.__code__.co_freevars):
                                raise RuntimeError(f"cannot swap code of {k[1]}")
                            swapped.append((f, f.__code__))
                            f.__code__ = new
                    claims = {cid: self.claims[cid] for cid in cids}
                else:
                    claims, load_error = self._reexec(m, code, cids)
                    if load_error:
                        return load_error
                self._clear_caches()
                for cid, c in claims.items():
                    vp, ep, sig, _ = self.adapter.judge(c)
                    out[cid] = (vp, ep, sig)
        except _Timeout:
            out = "timeout"
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old_handler)
            for f, c in reversed(swapped):
                f.__code__ = c
            self.ledger.REGISTRY.clear()
            self.ledger.REGISTRY.update(registry)
            if old_mod is not None:
                sys.modules[m.module] = old_mod
            self._clear_caches()
            mpmath.mp.prec = prec
            np.seterr(**err)
        return out

    def _reexec(self, m, code, cids):
        mine = [k for k, c in self.ledger.REGISTRY.items() if c.check.__module__ == m.module]
        for k in mine:
            del self.ledger.REGISTRY[k]
        old = sys.modules[m.module]
        fresh = types.ModuleType(m.module)
        fresh.__file__ = old.__file__
        fresh.__package__ = self.package
        sys.modules[m.module] = fresh
        try:
            exec(code, fresh.__dict__)
        except _Timeout:
            raise
        except Exception as exc:
            return {}, f"import error: {type(exc).__name__}: {exc}"
        fresh_claims = {
            k: c for k, c in self.ledger.REGISTRY.items() if c.check.__module__ == m.module
        }
        missing = [c for c in cids if c not in fresh_claims]
        if missing:
            return {}, f"import error: claims {', '.join(missing)} no longer registered"
        for v in vars(fresh).values():  # its caches are cleared with the others
            if isinstance(v, functools._lru_cache_wrapper):
                v.cache_clear()
        return {c: fresh_claims[c] for c in cids}, ""

    def _classify(self, m: Mutant, result) -> None:
        if isinstance(result, str):
            m.status, m.verdict_killed = "killed", True
            m.category = "timeout" if result == "timeout" else "import error"
            m.detail = result
            return
        live_full = [c for c in result if c not in self.base_red_full]
        live_verdict = [c for c in result if c not in self.base_red_verdict]
        full = [p for c in live_full for p in result[c][0] + result[c][1]]
        verdict = [p for c in live_verdict for p in result[c][0]]
        m.verdict_killed = bool(verdict)
        if full:
            m.status = "killed"
            m.category = "verdict" if verdict else "evidence"
            m.detail = (verdict or full)[0]
            return
        m.status = "survived"
        if not result:
            m.category = "no claim reaches it"
            return
        if not live_full:
            m.status, m.category = "unjudged", "reaches only claims red before mutation"
            m.detail = ", ".join(result)
            return
        changed = [c for c in result if result[c][2] != self.baseline.get(c)]
        if changed:
            a, b = self.baseline.get(changed[0]), result[changed[0]][2]
            what = "numbers within tolerance" if _numbers_differ(a, b) else "evidence text"
            m.category = f"outcome changed, not pinned ({what})"
            m.detail = ", ".join(changed)
            return
        m.category = "identical outcome"

    # -- candidate equivalents
    def probe(self, m: Mutant) -> None:
        """Instrument the original code at the mutated node (a call through a probe held in
        ``builtins`` that records each evaluation and, for a comparison, whether its operands
        were ever equal) and rerun the claims the mutant ran."""
        import builtins

        src = self.sources[m.module]
        site = src.sites[m.site]
        node = site.node
        probe = _Probe()
        mode, keys = self._plan(m)
        boundary = (
            m.op == "compare"
            and isinstance(node, ast.Compare)
            and len(node.ops) == 1
            and {m.original, m.mutated} in ({"<", "<="}, {">", ">="})
        )
        if boundary:
            probe.op = _PYOPS[type(node.ops[0])]
            inner, method, args = node, "compare", [node.left, node.comparators[0]]
        elif isinstance(node, ast.AugAssign):
            inner, method, args = node.value, "value", [node.value]
        else:
            inner, method, args = node, "value", [node]
        call = ast.Call(
            func=ast.Attribute(ast.Name(PROBE, ast.Load()), method, ast.Load()),
            args=args,
            keywords=[],
        )
        ast.copy_location(call, inner)
        ast.fix_missing_locations(call)
        if isinstance(node, ast.AugAssign):
            old_value = node.value
            node.value = call

            def undo():
                node.value = old_value

        else:
            undo = _replace(site, call)
        try:
            code = (
                self._compile_stmt(src, m)
                if mode == "swap"
                else compile(src.tree, str(src.path), "exec", dont_inherit=True)
            )
        except Exception:
            return
        finally:
            undo()
        builtins.__dict__[PROBE] = probe
        try:
            result = self._execute(m, mode, code, keys, m.claims)
        finally:
            builtins.__dict__.pop(PROBE, None)
        if isinstance(result, str):
            return
        if probe.calls == 0:
            m.category = "no coverage (never evaluated)"
        elif boundary and not probe.maybe_equal:
            m.status, m.category = "equivalent", "equivalent: boundary never hit"
            m.detail = f"operands never equal in {probe.calls} evaluations"

    def finish_survivor(self, m: Mutant, probe: bool = True) -> None:
        if m.status != "survived":
            return
        if m.category == "identical outcome" and probe:
            self.probe(m)
        if m.status == "survived" and m.id in self.equivalent:
            if m.category in ("identical outcome", "no coverage (never evaluated)"):
                m.status, m.category = "equivalent", "equivalent: reviewed"
                m.detail = self.equivalent[m.id]

    def stale_equivalents(self, ran: list[Mutant]) -> list[str]:
        by_id = {m.id: m for m in ran}
        return [
            f"{i}: listed as equivalent but {by_id[i].status} ({by_id[i].category})"
            for i in self.equivalent
            if i in by_id and by_id[i].status != "equivalent"
        ]


def _def_line(n) -> int:
    if not isinstance(n, ast.Lambda) and n.decorator_list:
        return n.decorator_list[0].lineno
    return n.lineno


def _def_name(n) -> str:
    return "<lambda>" if isinstance(n, ast.Lambda) else n.name


def _in_def_header(defn: ast.AST, child: ast.AST) -> bool:
    """Children of a def evaluated in the enclosing scope (decorators, defaults)."""
    if isinstance(defn, ast.Lambda):
        return child is defn.args
    return child is defn.args or child in defn.decorator_list


def _contains(root: ast.AST, target: ast.AST) -> bool:
    return any(n is target for n in ast.walk(root))


def _numbers_differ(a, b) -> bool:
    if a is None or b is None or len(a) != len(b):
        return True
    return any(x[3] != y[3] or x[0] != y[0] for x, y in zip(a, b))


_ID = re.compile(r"^(\S+?\.py::.*?#\d+)(?=\s|$)")


def split_id(line: str) -> tuple[str, str]:
    """(mutant id, the rest) of a line that starts with an id. An id may contain spaces (the
    mutated text of ``not x``); it ends at its ``#N`` occurrence number."""
    line = line.strip()
    m = _ID.match(line)
    if m:
        return m.group(1), line[m.end() :].strip()
    parts = line.split(None, 1)
    return parts[0], (parts[1].strip() if len(parts) > 1 else "")


def load_equivalent(path: Path | None) -> dict[str, str]:
    """``mutant-id  reason`` per line; '#' starts a comment."""
    out: dict[str, str] = {}
    if path is None or not path.exists():
        return out
    for line in path.read_text().splitlines():
        line = line.split(" #", 1)[0].strip() if not line.startswith("#") else ""
        if not line:
            continue
        mid, reason = split_id(line)
        if not reason:
            raise ValueError(f"{path}: an equivalent mutant needs its reason: {line!r}")
        out[mid] = reason
    return out


# ---------------------------------------------------------------- report


def summarize(mutants: list[Mutant]) -> dict:
    def score(killed, denom):
        return killed / denom if denom else 1.0

    n = len(mutants)
    st = Counter(m.status for m in mutants)
    equiv, errors = st["equivalent"], st["error"] + st["unjudged"]
    denom = n - equiv - errors
    judged = [m for m in mutants if m.status in ("killed", "survived")]
    killed_v = sum(m.verdict_killed for m in judged)
    out = {
        "mutants": n,
        "killed": st["killed"],
        "survived": st["survived"],
        "equivalent_excluded": equiv,
        "errors": errors,
        "score_full": score(st["killed"], denom),
        "score_verdict_only": score(killed_v, denom),
        "killed_verdict_only": killed_v,
        "killed_by_timeout": sum(m.category == "timeout" for m in mutants),
        "seconds": sum(m.seconds for m in mutants),
        "by_seed": {},
        "by_operator": {},
        "survivors_by_category": dict(
            Counter(m.category for m in mutants if m.status == "survived").most_common()
        ),
        "equivalent_by_category": dict(
            Counter(m.category for m in mutants if m.status == "equivalent").most_common()
        ),
    }
    for key, attr in (("by_seed", "file"), ("by_operator", "op")):
        groups: dict[str, list[Mutant]] = defaultdict(list)
        for m in mutants:
            groups[getattr(m, attr)].append(m)
        for g, ms in sorted(groups.items()):
            s = Counter(m.status for m in ms)
            d = len(ms) - s["equivalent"] - s["error"] - s["unjudged"]
            out[key][g] = {
                "mutants": len(ms),
                "killed": s["killed"],
                "survived": s["survived"],
                "equivalent": s["equivalent"],
                "errors": s["error"] + s["unjudged"],
                "score_full": score(s["killed"], d),
                "score_verdict_only": score(
                    sum(m.verdict_killed for m in ms if m.status != "equivalent"), d
                ),
            }
    return out


def format_report(summary: dict, mutants: list[Mutant], *, survivors: bool, extra=()) -> str:
    s = summary
    lines = [
        f"{s['mutants']} mutants: killed {s['killed']} (of which by timeout "
        f"{s['killed_by_timeout']}), survived {s['survived']}, equivalent excluded "
        f"{s['equivalent_excluded']}, tool errors or unjudged {s['errors']}",
        f"mutation score (verdict + evidence): {s['score_full']:.1%}",
        f"mutation score (verdict only):       {s['score_verdict_only']:.1%} "
        f"({s['killed_verdict_only']} killed by a verdict, counter-case, correction or crash)",
        f"time {s['seconds']:.1f} s ({s['seconds'] / max(1, s['mutants']):.2f} s per mutant)",
        "",
        f"{'':16}{'mutants':>8}{'killed':>8}{'surv.':>7}{'equiv.':>7}{'err':>5}"
        f"{'full':>8}{'verdict':>9}",
    ]
    for key in ("by_seed", "by_operator"):
        for g, d in s[key].items():
            lines.append(
                f"{g:16}{d['mutants']:>8}{d['killed']:>8}{d['survived']:>7}"
                f"{d['equivalent']:>7}{d['errors']:>5}{d['score_full']:>8.1%}"
                f"{d['score_verdict_only']:>9.1%}"
            )
        lines.append("")
    if s["survivors_by_category"]:
        lines.append(
            "survivors: " + ", ".join(f"{k} {v}" for k, v in s["survivors_by_category"].items())
        )
    if s["equivalent_by_category"]:
        lines.append(
            "equivalent: " + ", ".join(f"{k} {v}" for k, v in s["equivalent_by_category"].items())
        )
    lines += list(extra)
    if survivors:
        lines.append("")
        for m in sorted(mutants, key=lambda m: (m.file, m.line)):
            if m.status in ("survived", "error", "unjudged"):
                claims = ", ".join(m.claims[:6]) + (" ..." if len(m.claims) > 6 else "")
                lines.append(
                    f"{m.file}:{m.line}: {m.original} -> {m.mutated} ({claims}) "
                    f"[{m.category}] {m.id}" + (f" {m.detail}" if m.status != "survived" else "")
                )
    return "\n".join(lines)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seed", action="append", metavar="NNN", help="mutate only this seed's claims")
    p.add_argument("--max", type=int, metavar="N", help="run a seeded sample of N mutants")
    p.add_argument("--sample-seed", type=int, default=0, metavar="S", help="sample seed (0)")
    p.add_argument("--survivors", action="store_true", help="list every surviving mutant")
    p.add_argument("--json", metavar="PATH", help="write every mutant and the summary as JSON")
    p.add_argument(
        "--min-score",
        type=float,
        default=0.90,
        help="exit 1 below this full score (default 0.90)",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        help="seconds per mutant on top of 3x its claims' baseline time (default 30)",
    )
    p.add_argument(
        "--memory-gb",
        type=float,
        default=4.0,
        help="address space a mutant may add before MemoryError (default 4 GiB)",
    )
    p.add_argument(
        "--ids",
        metavar="FILE",
        help="run exactly the mutants whose ids (each line's start, up to its #N) FILE lists",
    )
    p.add_argument("--no-probe", action="store_true", help="skip the equivalence probes")
    p.add_argument("--progress", action="store_true", help="a line per mutant on stderr")


def _limit_memory(extra_gb: float):
    """Cap the address space at its current size plus ``extra_gb`` (a mutant that broadcasts
    to a huge array then gets MemoryError, an ERROR verdict, instead of the OOM killer);
    returns the function that restores the old limit."""
    import resource

    old = resource.getrlimit(resource.RLIMIT_AS)
    try:
        with open("/proc/self/statm") as f:
            vsz = int(f.read().split()[0]) * resource.getpagesize()
    except OSError:
        return lambda: None
    cap = int(vsz + extra_gb * 2**30)
    if old[0] != resource.RLIM_INFINITY and old[0] <= cap:
        return lambda: None
    resource.setrlimit(resource.RLIMIT_AS, (cap, old[1]))
    return lambda: resource.setrlimit(resource.RLIMIT_AS, old)


def run(args: argparse.Namespace) -> int:
    restore: list = []
    try:
        return _run_args(args, restore)
    finally:
        for r in restore:
            r()


def _run_args(args: argparse.Namespace, restore: list) -> int:
    t0 = time.perf_counter()
    try:
        st = SelfTest(args.seed, timeout=args.timeout)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    st.run_baseline()
    t_base = time.perf_counter() - t0
    restore.append(_limit_memory(args.memory_gb))
    allm = st.mutants()
    chosen = allm
    if getattr(args, "ids", None):
        wanted = [split_id(ln)[0] for ln in Path(args.ids).read_text().splitlines() if ln.strip()]
        by_id = {m.id: m for m in allm}
        missing = [i for i in wanted if i not in by_id]
        if missing:
            print(f"--ids: unknown mutant id(s): {', '.join(missing[:5])}", file=sys.stderr)
            return 2
        chosen = [by_id[i] for i in dict.fromkeys(wanted)]
    elif args.max is not None and args.max < len(allm):
        chosen = random.Random(args.sample_seed).sample(allm, args.max)
        chosen.sort(key=lambda m: (m.module, m.site, m.variant))
    for i, m in enumerate(chosen):
        st.run_mutant(m)
        st.finish_survivor(m, probe=not args.no_probe)
        if args.progress:
            print(
                f"[{i + 1}/{len(chosen)}] {m.status:10} {m.seconds:6.2f}s {m.file}:{m.line} "
                f"{m.original} -> {m.mutated} [{m.category}]",
                file=sys.stderr,
                flush=True,
            )
    summary = summarize(chosen)
    summary["population"] = len(allm)
    summary["sample_seed"] = args.sample_seed if args.max is not None else None
    summary["baseline_seconds"] = t_base
    summary["wall_seconds"] = time.perf_counter() - t0
    summary["ledger"] = "new" if st.adapter.new else "old (verdict and crash only)"
    summary["baseline_red_full"] = sorted(st.base_red_full)
    summary["baseline_red_verdict"] = sorted(st.base_red_verdict)
    stale = st.stale_equivalents(chosen)
    extra = [
        f"listed: {len(chosen)} of {len(allm)} mutants ({args.ids})"
        if getattr(args, "ids", None)
        else f"sample: {len(chosen)} of {len(allm)} mutants (sample seed {args.sample_seed})"
        if len(chosen) < len(allm)
        else f"all {len(allm)} mutants",
        f"ledger: {summary['ledger']}; baseline {t_base:.1f} s, wall {summary['wall_seconds']:.1f} s",
    ]
    if st.base_red_full:
        extra.append(
            f"{len(st.base_red_full)} claim(s) already red before mutation (not counted as "
            f"kills): {', '.join(sorted(st.base_red_full)[:10])}"
            + (" ..." if len(st.base_red_full) > 10 else "")
        )
    extra += [f"stale equivalent entry: {s}" for s in stale]
    print(format_report(summary, chosen, survivors=args.survivors, extra=extra))
    if args.json:
        Path(args.json).write_text(
            json.dumps({"summary": summary, "mutants": [_mutant_dict(m) for m in chosen]}, indent=1)
        )
    return 0 if summary["score_full"] >= args.min_score else 1


def _mutant_dict(m: Mutant) -> dict:
    d = asdict(m)
    d["scope"] = list(m.scope)
    return d


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="selftest", description=__doc__.split("\n\n")[0])
    add_arguments(p)
    return run(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
