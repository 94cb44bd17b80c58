"""Fixture values are rounded on the exact binary value, ties to even, so that every mpmath
version writes the same bytes (mpmath 1.3's nstr breaks exact ties upward, 1.4's to even)."""

from __future__ import annotations

from decimal import Decimal

import mpmath
import numpy as np

from isreshape.reference.golden import encode_value


def test_exact_decimal_tie_rounds_to_even():
    # float32(1e-6) = 9.999999974752427078783512115478515625e-7 exactly: 37 digits, a tie at 36
    x = mpmath.mpf(float(np.float32(1e-6)))
    assert Decimal(float(x)) == Decimal("9.999999974752427078783512115478515625E-7")
    assert encode_value(x) == "9.99999997475242707878351211547851562e-7"
    assert encode_value(-x) == "-9.99999997475242707878351211547851562e-7"
    # 1 + 2^-23 = 1.00000011920928955078125: a tie at 23 digits, the even 2 stays
    y = mpmath.mpf(1) + mpmath.mpf(2) ** -23
    assert encode_value(y, digits=23) == "1.0000001192092895507812"
    assert encode_value(mpmath.mpf("1.25"), digits=2) == "1.2"
    assert encode_value(mpmath.mpf("1.75"), digits=2) == "1.8"


def test_non_ties_match_mpmath_nstr():
    with mpmath.workdps(60):
        for v in (mpmath.pi, -mpmath.e * 1e-250, mpmath.sqrt(2) * 1e300, mpmath.mpf(1) / 3):
            assert encode_value(v) == mpmath.nstr(v, 36, min_fixed=1, max_fixed=0)


def test_huge_exponents_do_not_expand():
    with mpmath.workdps(50):
        tiny = mpmath.exp(-mpmath.mpf(10) ** 10)  # binary exponent ~ -1.4e10
        assert encode_value(tiny) == mpmath.nstr(tiny, 36, min_fixed=1, max_fixed=0)
    assert encode_value(0.0) == "0.0" and encode_value(float("-inf")) == "-inf"


def _fixture_with_drift(golden, spec, ulps):
    """The real fixture of ``spec`` with the first case's first float input moved by ``ulps``
    and its values recomputed there (a fixture written under another NumPy)."""
    import math

    fixture = golden.build_fixture(spec, fast_only=True)
    row = fixture["cases"][0]
    name = spec.tensor_args[0]
    value = row["inputs"][name]
    x = float(value if isinstance(value, str) else value[0])
    moved = repr(x + ulps * math.ulp(x))
    inputs = dict(row["inputs"])
    inputs[name] = moved if isinstance(value, str) else [moved, *value[1:]]
    fixture["cases"][0] = golden.build_row(spec, row["note"], row["fast"], golden._decoded(inputs))
    return fixture


def test_fixture_check_judges_drifted_inputs_at_the_stored_inputs(tmp_path, monkeypatch):
    import io

    from isreshape.reference import golden

    spec = golden.load_all_specs()["weights.power_weight"]
    monkeypatch.setattr(golden, "GOLDEN_DIR", tmp_path)
    spec.path.parent.mkdir(parents=True)

    def check(fixture):
        spec.path.write_text(golden.dumps(fixture))
        out = io.StringIO()
        return golden.check_all(only=[spec.key], out=out), out.getvalue()

    problems, text = check(golden.build_fixture(spec, fast_only=True))
    assert problems == [] and "moved" not in text

    drifted = _fixture_with_drift(golden, spec, 3)
    problems, text = check(drifted)
    assert problems == [] and "1 case(s) whose generated inputs moved" in text

    # a wrong stored value at the drifted input is still a difference
    drifted["cases"][0]["expected"] = golden.encode_value(float(drifted["cases"][0]["expected"]) * 1.5 + 1)
    problems, _ = check(drifted)
    assert len(problems) == 1 and "differs" in problems[0]

    # a move beyond the rounding drift is a changed generator, not drift
    problems, _ = check(_fixture_with_drift(golden, spec, 10**6))
    assert len(problems) == 1 and "differs" in problems[0]


def test_drift_allows_numbers_in_notes_to_move_but_not_words():
    from isreshape.reference.golden import _inputs_drifted

    def row(note, x):
        return {"note": note, "fast": True, "inputs": {"log_w": x, "A": "-1.5"}}

    a = row("grid A=-1.5 log_w=1.0885619528146082", "1.0885619528146082")
    b = row("grid A=-1.5 log_w=1.0885619528146084", "1.0885619528146084")
    assert _inputs_drifted(a, b)
    assert not _inputs_drifted(a, row("edge A=-1.5 log_w=1.0885619528146084", "1.0885619528146084"))
    assert not _inputs_drifted(a, row("grid A=-1.5 log_w=1.1", "1.1"))  # far beyond rounding
    assert not _inputs_drifted(a, a)  # identical rows are not drift
