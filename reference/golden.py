"""Golden fixtures: registry, deterministic generator and checker.

Every reference function that has a torch twin registers a :class:`GoldenSpec` (usually at the
bottom of its module with :func:`register_golden`). ``isreshape golden --write`` evaluates every
case at two working precisions (50 and 70 digits), refuses to write a value on which they
disagree in the first ``VERIFIED_DIGITS`` digits, and writes one JSON file per function under
``tests/golden/<module>/<function>.json``. Output is byte-identical on rerun.

Each case also stores the value at the input rounded to float32 and to bfloat16 (via float32,
round-to-nearest-even), so low-precision torch results are judged against the exact answer for
the input they actually saw.

A value that only the generator produced would bless a wrong reference formula. So every spec
has an *oracle* (:func:`register_oracle`, in ``reference/oracles/<module>.py``): a second route
to the same values that shares no code with the generator (a quadrature, a sympy closed form,
a brute-force enumeration, a different algorithm). The generator evaluates the oracle at every
case's float64 inputs and refuses to write, and ``--check`` reports, any value on which the two
routes disagree beyond the oracle's stated digits; the fixture header names the oracle's route.
Where the reference raises ValueError there is no value; there the oracle's ``domain`` predicate
(written from the docstring) must call the inputs invalid, and valid everywhere else.
"""

from __future__ import annotations

import decimal
import importlib
import json
import math
import pkgutil
import re
import struct
import sys
import time
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mpmath
import numpy as np

WORKING_DIGITS = (50, 70)
VERIFIED_DIGITS = 40
STORED_DIGITS = 36
GOLDEN_DIR = Path(__file__).resolve().parent.parent / "tests" / "golden"
DTYPES = ("float32", "bfloat16")


@dataclass(frozen=True)
class Case:
    """One fixture case: keyword inputs (floats, ints, bools or nested lists) and a note."""

    inputs: dict[str, Any]
    note: str
    fast: bool = True  # part of the CI subset of `golden --check`


def case(note: str, *, fast: bool = True, **inputs: Any) -> Case:
    return Case(inputs=inputs, note=note, fast=fast)


@dataclass
class GoldenSpec:
    """Fixture spec for one reference function.

    ``tensor_args`` are the inputs that become tensors on the torch side (and are rounded for
    the float32 / bfloat16 expectations); other inputs are passed through unchanged.
    ``float_args`` are non-tensor inputs that are still real numbers (converted to mpf exactly).
    """

    function: Callable[..., Any]
    cases: Callable[[], Sequence[Case]]
    tensor_args: tuple[str, ...]
    float_args: tuple[str, ...] = ()
    low_precision: bool = True
    module: str = field(init=False)
    name: str = field(init=False)

    def __post_init__(self) -> None:
        self.module = self.function.__module__.split(".")[-1]
        self.name = self.function.__name__

    @property
    def key(self) -> str:
        return f"{self.module}.{self.name}"

    @property
    def path(self) -> Path:
        return GOLDEN_DIR / self.module / f"{self.name}.json"


REGISTRY: dict[str, GoldenSpec] = {}


@dataclass(frozen=True)
class Oracle:
    """An independent route to a spec's values.

    ``function`` takes the spec's keyword inputs (mpmath numbers for tensor and float args, at
    the ambient precision) and returns values of the same structure. ``digits``: the relative
    agreement the two routes must reach, with its reason in ``why`` (e.g., the quadrature's
    error estimate); ``atol``: an absolute floor for values that cancel to ~0. ``domain``
    takes the same inputs and says, from the docstring's stated domain and written
    independently of the reference's argument checks, whether the inputs are valid: the
    reference must raise ValueError exactly where it says False.
    """

    route: str
    function: Callable[..., Any]
    digits: int
    why: str
    atol: float = 0.0
    domain: Callable[..., bool] | None = None


ORACLES: dict[str, Oracle] = {}


@dataclass(frozen=True)
class Enclosure:
    """A certified enclosure of a spec's value (``reference/certified.py``).

    ``function`` takes the case's inputs as given (floats exact) and returns ``(lo, hi)`` that
    provably contain the value, or raises ``declines`` where the value is a convention (an
    endpoint) rather than a root to enclose; the row then stores ``"enclosure": null``. Any
    other error (a certificate that could not be completed) stops the generator.
    ``route`` says how it is proved; ``width`` is the widest enclosure accepted.
    """

    route: str
    function: Callable[..., Any]
    width: str
    declines: type[Exception] = ValueError


ENCLOSURES: dict[str, Enclosure] = {}
ENCLOSURE_DIGITS = 45  # significant digits of the stored bounds, rounded outward


def register_enclosure(
    key: str,
    route: str,
    function: Callable[..., Any],
    width: str,
    declines: type[Exception] = ValueError,
) -> None:
    """Register the certified enclosure of the golden spec ``key`` ("module.function")."""
    if key in ENCLOSURES and ENCLOSURES[key].function is not function:
        raise ValueError(f"enclosure {key!r} registered twice")
    ENCLOSURES[key] = Enclosure(route, function, width, declines)


def _outward(x: Any, up: bool) -> str:
    """x (an mpf) as a decimal of ENCLOSURE_DIGITS significant digits, rounded down (up=False)
    or up, so the stored interval still contains the computed one."""
    # not mpmath.mpf(x): that would round x to the ambient precision first
    man, exp = (x if isinstance(x, mpmath.mpf) else mpmath.mpf(x)).man_exp
    with decimal.localcontext() as big:
        # man * 2^exp has at most bitlen(man) + |exp| significant decimal digits: exact here
        big.prec = int(man).bit_length() + abs(int(exp)) + 10
        exact = decimal.Decimal(int(man)) * decimal.Decimal(2) ** int(exp)
    ctx = decimal.Context(
        prec=ENCLOSURE_DIGITS, rounding=decimal.ROUND_CEILING if up else decimal.ROUND_FLOOR
    )
    return str(ctx.plus(exact))


def register_oracle(
    key: str,
    route: str,
    function: Callable[..., Any],
    digits: int,
    why: str,
    atol: float = 0.0,
    domain: Callable[..., bool] | None = None,
) -> None:
    """Register the oracle of the golden spec ``key`` ("module.function")."""
    if key in ORACLES and ORACLES[key].function is not function:
        raise ValueError(f"oracle {key!r} registered twice")
    if not (1 <= digits <= VERIFIED_DIGITS) or not route.strip() or not why.strip():
        raise ValueError(f"oracle {key!r}: need a route, a reason and 1 <= digits <= 40")
    ORACLES[key] = Oracle(route, function, digits, why, atol, domain)


def register_golden(
    function: Callable[..., Any],
    cases: Callable[[], Sequence[Case]],
    tensor_args: Iterable[str],
    float_args: Iterable[str] = (),
    low_precision: bool = True,
) -> None:
    spec = GoldenSpec(function, cases, tuple(tensor_args), tuple(float_args), low_precision)
    if spec.key in REGISTRY and REGISTRY[spec.key].function is not function:
        raise ValueError(f"golden spec {spec.key!r} registered twice")
    REGISTRY[spec.key] = spec


def load_all_specs() -> dict[str, GoldenSpec]:
    """Import every ``reference`` module so that their ``register_golden`` calls run."""
    from isreshape import reference

    for info in pkgutil.iter_modules(reference.__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"isreshape.reference.{info.name}")
    from isreshape.reference import oracles

    for info in pkgutil.iter_modules(oracles.__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"isreshape.reference.oracles.{info.name}")
    return dict(sorted(REGISTRY.items()))


# ---------------------------------------------------------------- rounding and conversion


def round_float(x: float, dtype: str) -> float:
    """Round a float64 to float32 or bfloat16 (via float32, round to nearest even)."""
    if dtype == "float64":
        return float(x)
    with np.errstate(over="ignore"):  # 1e300 -> inf in float32 is the intended rounding
        f32 = float(np.float32(x))
    if dtype == "float32" or not math.isfinite(f32):
        return f32
    if dtype != "bfloat16":
        raise ValueError(f"dtype must be float32 or bfloat16, got {dtype!r}")
    (bits,) = struct.unpack("<I", struct.pack("<f", f32))
    bits = (bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000
    return struct.unpack("<f", struct.pack("<I", bits))[0]


def _map_floats(value: Any, fn: Callable[[float], Any]) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_map_floats(v, fn) for v in value]
    if isinstance(value, (int, float)):
        return fn(float(value))
    raise TypeError(f"unsupported fixture input {value!r}")


def _to_mp(value: Any) -> Any:
    return _map_floats(value, mpmath.mpf)


def encode_input(value: Any) -> Any:
    """Inputs are stored as float64 round-trip strings (ints and bools as themselves)."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, (list, tuple)):
        return [encode_input(v) for v in value]
    return repr(float(value))


def decode_input(value: Any) -> Any:
    if isinstance(value, str):
        return float(value)
    if isinstance(value, list):
        return [decode_input(v) for v in value]
    return value


def encode_value(value: Any, digits: int = STORED_DIGITS) -> Any:
    if isinstance(value, (list, tuple)):
        return [encode_value(v, digits) for v in value]
    if isinstance(value, bool):
        return value
    v = mpmath.mpf(value)
    if mpmath.isnan(v):
        return "nan"
    if mpmath.isinf(v):
        return "inf" if v > 0 else "-inf"
    if v == 0:
        return "0.0"
    return mpmath.nstr(_round_half_even(v, digits), digits, min_fixed=1, max_fixed=0)


def _round_half_even(v: mpmath.mpf, digits: int) -> mpmath.mpf:
    """v rounded to ``digits`` significant decimal digits, ties to even, as a binary number so
    close to that decimal that ``nstr(., digits)`` prints exactly it.

    mpmath's ``nstr`` breaks exact decimal ties differently across versions (1.3 rounds half
    up, 1.4 half to even; float32 inputs such as 9.999999974752427078783512115478515625e-7 have
    exactly 37 digits), so the rounding is done here, on the exact binary value."""
    sign, man, exp, _ = v._mpf_
    if abs(exp) > 2000:
        # no tie is possible: below, man 5^-exp has over 1400 digits; above, a tie would need
        # man divisible by 5^500. (mpmath exponents are unbounded: exp(-1e10) has exp ~ -1.4e10)
        return v
    # man 2^exp = man 5^-exp 10^exp: an exact decimal (scaleb only moves the exponent)
    coeff, scale = (man * 5**-exp, exp) if exp < 0 else (man << exp, 0)
    wide = decimal.Context(prec=decimal.MAX_PREC, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN)
    exact = decimal.Decimal(-coeff if sign else coeff).scaleb(scale, wide)
    ctx = decimal.Context(
        prec=digits, rounding=decimal.ROUND_HALF_EVEN, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN
    )
    rounded = ctx.plus(exact)
    with mpmath.workprec(4 * digits + 64):  # far below half a unit of the last digit
        return +mpmath.mpf(str(rounded))


def decode_value(value: Any) -> Any:
    if isinstance(value, list):
        return [decode_value(v) for v in value]
    return float(value)


def _agree(a: Any, b: Any, digits: int) -> bool:
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_agree(x, y, digits) for x, y in zip(a, b))
    a, b = mpmath.mpf(a), mpmath.mpf(b)
    if mpmath.isnan(a) or mpmath.isnan(b):
        return bool(mpmath.isnan(a) and mpmath.isnan(b))
    if mpmath.isinf(a) or mpmath.isinf(b):
        return a == b
    if b == 0:
        return a == 0
    # relative for every nonzero value, however small: mpmath has no underflow, and a floor
    # would make values below it agree vacuously (it hid wrong sapo / vespo values ~1e-(4e303))
    return abs(a - b) <= mpmath.mpf(10) ** (-digits) * abs(b)


def evaluate(spec: GoldenSpec, inputs: dict[str, Any], dtype: str = "float64") -> Any:
    """Evaluate one case at both working precisions; return the value or the error name."""
    rounded = {
        k: _map_floats(v, lambda x: round_float(x, dtype))
        if (k in spec.tensor_args and dtype != "float64")
        else v
        for k, v in inputs.items()
    }
    results = []
    for dps in WORKING_DIGITS:
        with mpmath.workdps(dps):
            args = {
                k: _to_mp(v) if (k in spec.tensor_args or k in spec.float_args) else v
                for k, v in rounded.items()
            }
            try:
                out = spec.function(**args)
            except ValueError:
                results.append({"error": "ValueError"})
                continue
            results.append(out)
    lo, hi = results
    if isinstance(hi, dict) or isinstance(lo, dict):
        if lo != hi:
            raise RuntimeError(f"{spec.key}: error at one precision only for {inputs}")
        return hi
    with mpmath.workdps(WORKING_DIGITS[1]):
        if not _agree(lo, hi, VERIFIED_DIGITS):
            raise RuntimeError(
                f"{spec.key}: {WORKING_DIGITS} digits disagree for {inputs}: {lo} vs {hi}"
            )
        return encode_value(hi)


class OracleDisagrees(RuntimeError):
    """The generator and the independent oracle disagree: nothing is written."""


def oracle_check(spec: GoldenSpec, inputs: dict[str, Any], expected: Any) -> None:
    """Raise OracleDisagrees unless the spec's oracle reproduces ``expected`` at ``inputs``."""
    oracle = ORACLES.get(spec.key)
    if oracle is None:
        return
    raised = isinstance(expected, dict)
    with mpmath.workdps(WORKING_DIGITS[0]):
        args = {
            k: _to_mp(v) if (k in spec.tensor_args or k in spec.float_args) else v
            for k, v in inputs.items()
        }
        if oracle.domain is not None:
            valid = bool(oracle.domain(**args))
            if valid == raised:
                raise OracleDisagrees(
                    f"{spec.key}: the oracle's domain calls {inputs} "
                    f"{'valid' if valid else 'invalid'} but the reference "
                    f"{'raises ValueError' if raised else 'returns ' + str(expected)}"
                )
        if raised:  # no value to compare
            return
        got = oracle.function(**args)
        if not _agree_atol(got, decode_mp(expected), oracle.digits, oracle.atol):
            raise OracleDisagrees(
                f"{spec.key}: the oracle ({oracle.route}) gives {got} where the reference "
                f"gives {expected} at {inputs} (required: {oracle.digits} digits, "
                f"atol {oracle.atol})"
            )


def decode_mp(value: Any) -> Any:
    if isinstance(value, list):
        return [decode_mp(v) for v in value]
    if isinstance(value, bool):
        return value
    return mpmath.mpf(value)


def _agree_atol(a: Any, b: Any, digits: int, atol: float) -> bool:
    if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
        if not (isinstance(a, (list, tuple)) and isinstance(b, (list, tuple))):
            return False
        return len(a) == len(b) and all(_agree_atol(x, y, digits, atol) for x, y in zip(a, b))
    if isinstance(b, bool) or isinstance(a, bool):
        return bool(a) == bool(b)
    a, b = mpmath.mpf(a), mpmath.mpf(b)
    if atol and not (mpmath.isnan(a) or mpmath.isnan(b) or mpmath.isinf(a) or mpmath.isinf(b)):
        if abs(a - b) <= atol:
            return True
    return _agree(a, b, digits)


def build_row(spec: GoldenSpec, note: str, fast: bool, inputs: dict[str, Any]) -> dict[str, Any]:
    """One fixture row: the inputs as stored and the exact values at them (checked against the
    oracle)."""
    expected = evaluate(spec, inputs)
    oracle_check(spec, inputs, expected)
    row: dict[str, Any] = {
        "note": note,
        "fast": fast,
        "inputs": {k: encode_input(v) for k, v in inputs.items()},
        "expected": expected,
    }
    if spec.low_precision:
        for dt in DTYPES:
            row[f"expected_{dt}"] = evaluate(spec, inputs, dt)
    enclosure = ENCLOSURES.get(spec.key)
    if enclosure is not None and not isinstance(expected, dict):
        row["enclosure"] = enclosure_row(spec, enclosure, inputs, expected)
    return row


def enclosure_row(spec: GoldenSpec, enclosure: Enclosure, inputs: dict, expected: Any):
    """``[lo, hi]`` (outward-rounded decimals) of the certified enclosure at ``inputs``, or
    None where the enclosure declines (a convention value); raises OracleDisagrees when the
    stored ``expected`` lies outside it by more than its own rounding or it is too wide."""
    try:
        lo, hi = enclosure.function(**inputs)
    except enclosure.declines:
        return None
    with mpmath.workdps(ENCLOSURE_DIGITS + 20):
        if hi - lo > mpmath.mpf(enclosure.width):
            raise OracleDisagrees(
                f"{spec.key}: enclosure [{lo}, {hi}] wider than {enclosure.width}"
            )
        value = decode_mp(expected)
        slack = abs(value) * mpmath.mpf(10) ** (1 - STORED_DIGITS)  # the stored rounding
        if not (lo - slack <= value <= hi + slack):
            raise OracleDisagrees(
                f"{spec.key}: the certified enclosure [{lo}, {hi}] excludes the reference's "
                f"{expected} at {inputs}"
            )
    return [_outward(lo, up=False), _outward(hi, up=True)]


_BULK_NOTE = re.compile(r"\bgrid\b|^seeded\b")


def _is_bulk(note: str) -> bool:
    """A grid or seeded-random case (most rows); the others are edges, seed examples, extremes."""
    return bool(_BULK_NOTE.search(note))


def quick_subset(key: str, notes: Sequence[str], bulk_stride: int) -> list[bool]:
    """Which of a fixture's (fast) rows the quick check keeps: every row that is not a grid or
    seeded-random case, and every ``bulk_stride``-th of those (from an offset drawn from the
    fixture's key, so files sample different grid positions; at least one where a file has
    any). Deterministic; stride 1 keeps all.
    """
    if bulk_stride < 1:
        raise ValueError(f"bulk_stride must be >= 1, got {bulk_stride!r}")
    n_bulk = sum(_is_bulk(n) for n in notes)
    # at most n_bulk: a file with fewer bulk rows than the stride still has one checked
    offset = zlib.crc32(key.encode()) % max(1, min(bulk_stride, n_bulk))
    keep, j = [], 0
    for note in notes:
        if _is_bulk(note):
            keep.append(j % bulk_stride == offset)
            j += 1
        else:
            keep.append(True)
    return keep


def build_fixture(
    spec: GoldenSpec, fast_only: bool = False, bulk_stride: int = 1
) -> dict[str, Any]:
    cases = [c for c in spec.cases() if c.fast or not fast_only]
    if bulk_stride != 1:
        keep = quick_subset(spec.key, [c.note for c in cases], bulk_stride)
        cases = [c for c, kept in zip(cases, keep) if kept]
    rows = []
    for c in cases:
        missing = set(spec.tensor_args) - set(c.inputs)
        if missing:
            raise ValueError(f"{spec.key}: case {c.note!r} lacks tensor args {sorted(missing)}")
        rows.append(build_row(spec, c.note, c.fast, c.inputs))
    doc = (spec.function.__doc__ or "").strip().splitlines()
    header = {
        "generator": spec.function.__module__,
        "function": spec.name,
        "description": doc[0] if doc else "",
        "mpmath_version": mpmath.__version__,
        "working_digits": list(WORKING_DIGITS),
        "verified_digits": VERIFIED_DIGITS,
        "stored_digits": STORED_DIGITS,
        "n_cases": len(rows),
        "tensor_args": list(spec.tensor_args),
        "float_args": list(spec.float_args),
    }
    oracle = ORACLES.get(spec.key)
    if oracle is not None:
        header["oracle"] = {"route": oracle.route, "digits": oracle.digits, "why": oracle.why}
    enclosure = ENCLOSURES.get(spec.key)
    if enclosure is not None:
        header["enclosure"] = {
            "route": enclosure.route,
            "width": enclosure.width,
            "stored_digits": ENCLOSURE_DIGITS,
        }
    return {"header": header, "cases": rows}


def dumps(fixture: dict[str, Any]) -> str:
    """Pretty header, one line per case (so a diff shows which cases changed)."""
    header = json.dumps(fixture["header"], indent=1, ensure_ascii=True)
    rows = ",\n".join(" " + json.dumps(r, ensure_ascii=True) for r in fixture["cases"])
    return '{"header": ' + header + ',\n"cases": [\n' + rows + "\n]}\n"


def load_fixture(module: str, name: str) -> dict[str, Any]:
    return json.loads((GOLDEN_DIR / module / f"{name}.json").read_text())


def _select(specs: dict[str, GoldenSpec], only: Sequence[str] | None) -> list[GoldenSpec]:
    if not only:
        return list(specs.values())
    chosen = [s for k, s in specs.items() if any(k == o or k.startswith(o + ".") for o in only)]
    if not chosen:
        raise ValueError(f"only={list(only)!r} matches no golden spec")
    return chosen


def write_all(only: Sequence[str] | None = None, out=sys.stdout) -> int:
    """Regenerate fixtures (all, or the keys / modules in ``only``); print progress."""
    specs = _select(load_all_specs(), only)
    t0 = time.perf_counter()
    for i, spec in enumerate(specs, 1):
        t = time.perf_counter()
        fixture = build_fixture(spec)  # raises OracleDisagrees: nothing is written
        spec.path.parent.mkdir(parents=True, exist_ok=True)
        spec.path.write_text(dumps(fixture))
        print(
            f"[{i}/{len(specs)}] {spec.key}: {fixture['header']['n_cases']} cases "
            f"({time.perf_counter() - t:.2f} s)",
            file=out,
            flush=True,
        )
    print(f"wrote {len(specs)} fixture files in {time.perf_counter() - t0:.1f} s", file=out)
    return 0


# Seeded cases draw bit-stable random numbers but pass them through NumPy's log, exp, sqrt...,
# whose last bits differ between NumPy releases and SIMD paths (seen: 1 ulp in log_w of a
# Student-t case, NumPy 1.24 vs 2.4). A few ops of 1/2 ulp each stay far below 16 ulps; a
# changed generator moves inputs by far more.
INPUT_DRIFT_ULPS = 16


_NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")


def _decoded(inputs: dict[str, Any]) -> dict[str, Any]:
    return {k: decode_input(v) for k, v in inputs.items()}


def _inputs_drifted(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Same case (note, keys, shapes, non-float inputs) with float inputs within the drift."""
    # notes may print a drifted input ("grid log_w=1.0885619528146084"): compare their words
    if _NUMBER.sub("#", old["note"]) != _NUMBER.sub("#", new["note"]) or old["fast"] != new["fast"]:
        return False
    a, b = old["inputs"], new["inputs"]
    if a == b or a.keys() != b.keys():
        return False
    flat_a, flat_b = _flatten_inputs(list(a.values())), _flatten_inputs(list(b.values()))
    if len(flat_a) != len(flat_b):
        return False
    for x, y in zip(flat_a, flat_b):
        if isinstance(x, str) and isinstance(y, str):
            fx, fy = float(x), float(y)
            if fx == fy or (math.isnan(fx) and math.isnan(fy)):
                continue
            if not (math.isfinite(fx) and math.isfinite(fy)):
                return False
            if abs(fx - fy) > INPUT_DRIFT_ULPS * math.ulp(max(abs(fx), abs(fy))):
                return False
        elif x != y:
            return False
    return True


def _flatten_inputs(values: list[Any]) -> list[Any]:
    out: list[Any] = []
    for v in values:
        if isinstance(v, list):
            out.append(("list", len(v)))
            out.extend(_flatten_inputs(v))
        else:
            out.append(v)
    return out


def _header_sans_version(fixture: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fixture["header"].items() if k != "mpmath_version"}


#: the quick check's stride over grid and seeded-random rows (``golden --check --quick``, and the
#: test suite's fixture check)
QUICK_STRIDE = 6


def check_all(
    only: Sequence[str] | None = None,
    fast_only: bool = True,
    out=sys.stdout,
    bulk_stride: int = 1,
    shard: tuple[int, int] = (1, 1),
) -> list[str]:
    """Regenerate (the fast subset of) every fixture and list the differences.

    ``bulk_stride`` > 1 checks a deterministic sample (:func:`quick_subset`: every edge, seed
    and extreme row, one in ``bulk_stride`` grid and seeded-random rows) of every file: the
    test suite's quick check (CI runs it under the newest mpmath too); ``--full`` (opt-in)
    checks every row. The header is compared in every mode. ``shard = (k, n)`` checks the
    k-th of n interleaved parts of the files (k = 1..n; parallel runs whose union is every
    file; the stale-file check runs in part 1)."""
    k, n = shard
    if not (isinstance(n, int) and isinstance(k, int) and n >= 1 and 1 <= k <= n):
        raise ValueError(f"shard must be (k, n) with 1 <= k <= n, got {shard!r}")
    if bulk_stride != 1 and not fast_only:
        raise ValueError(f"bulk_stride={bulk_stride!r} samples the fast subset: needs fast_only")
    registered = load_all_specs()
    specs = _select(registered, only)[k - 1 :: n]
    problems: list[str] = []
    drifted = 0
    t0 = time.perf_counter()
    for i, spec in enumerate(specs, 1):
        if not spec.path.exists():
            problems.append(f"{spec.key}: fixture file {spec.path} missing")
            continue
        stored = json.loads(spec.path.read_text())
        try:
            fresh = build_fixture(spec, fast_only=fast_only, bulk_stride=bulk_stride)
        except OracleDisagrees as exc:
            problems.append(str(exc))
            continue
        stored_rows = [r for r in stored["cases"] if r["fast"] or not fast_only]
        if bulk_stride != 1:
            # the sample hides a lost or added row: compare the whole fast subset's size
            n_fast = sum(c.fast for c in spec.cases())
            if len(stored_rows) != n_fast:
                problems.append(
                    f"{spec.key}: {len(stored_rows)} stored fast cases vs {n_fast} generated"
                )
            keep = quick_subset(spec.key, [r["note"] for r in stored_rows], bulk_stride)
            stored_rows = [r for r, kept in zip(stored_rows, keep) if kept]
        # the header's mpmath version is provenance: the values must not depend on it. Checked
        # in every mode (it costs nothing): a fast or sampled build counts only its own rows,
        # so there n_cases is compared with every case of the spec instead
        head_stored, head_fresh = _header_sans_version(stored), _header_sans_version(fresh)
        if fast_only:
            n_all = len(spec.cases())
            if head_stored.get("n_cases") != n_all:
                problems.append(
                    f"{spec.key}: header n_cases {head_stored.get('n_cases')} vs {n_all} cases"
                )
            head_stored = {k: v for k, v in head_stored.items() if k != "n_cases"}
            head_fresh = {k: v for k, v in head_fresh.items() if k != "n_cases"}
        if head_stored != head_fresh:
            problems.append(f"{spec.key}: header differs")
        if len(stored_rows) != len(fresh["cases"]):
            problems.append(
                f"{spec.key}: {len(stored_rows)} stored cases vs {len(fresh['cases'])} generated"
            )
        for old, new in zip(stored_rows, fresh["cases"]):
            if old == new:
                continue
            if _inputs_drifted(old, new):
                # the case generator's inputs moved by rounding only: judge the stored values
                # at the stored inputs, exactly
                again = build_row(spec, old["note"], old["fast"], _decoded(old["inputs"]))
                if again == old:
                    drifted += 1
                    continue
                new = again
            problems.append(f"{spec.key}: case {new['note']!r} differs: {old} != {new}")
        print(f"[{i}/{len(specs)}] {spec.key}: checked", file=out, flush=True)
    for path in sorted(GOLDEN_DIR.glob("*/*.json")) if k == 1 else ():
        key = f"{path.parent.name}.{path.stem}"
        if not only and key not in registered:
            problems.append(f"{key}: fixture file has no registered spec (stale)")
    print(
        f"checked {len(specs)} fixture files in {time.perf_counter() - t0:.1f} s: "
        f"{len(problems)} difference(s)"
        + (
            f" ({drifted} case(s) whose generated inputs moved by at most "
            f"{INPUT_DRIFT_ULPS} ulps were checked at their stored inputs)"
            if drifted
            else ""
        ),
        file=out,
    )
    return problems
