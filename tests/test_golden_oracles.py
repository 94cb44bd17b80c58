"""Every fixture has an independent oracle that shares no code with its generator, and an oracle
that disagrees stops the generator."""

from __future__ import annotations

import ast
from pathlib import Path

import mpmath
import pytest

from isreshape.reference import golden

SPECS = golden.load_all_specs()
ORACLE_DIR = Path(golden.__file__).resolve().parent / "oracles"


def test_every_fixture_names_an_independent_oracle():
    missing = sorted(set(SPECS) - set(golden.ORACLES))
    assert not missing, f"{len(missing)} fixture specs without an oracle: {missing}"
    assert set(golden.ORACLES) <= set(SPECS), "oracles registered for unknown specs"


@pytest.mark.parametrize("path", sorted(ORACLE_DIR.glob("*.py")), ids=lambda p: p.name)
def test_oracle_modules_import_nothing_from_the_reference(path):
    # an oracle that imported the function under test would agree with any mistake in it
    tree = ast.parse(path.read_text())
    bad = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            mod = node.module
            names = {a.name for a in node.names}
            # from golden only register_oracle: golden.REGISTRY holds the generator itself
            if mod.startswith("isreshape.reference") and not (
                mod == "isreshape.reference.golden" and names <= {"register_oracle"}
            ):
                bad.append(f"from {mod} import {sorted(names)}")
            if mod.startswith(("isreshape.torch_impl", "isreshape.proofs")) or node.level:
                bad.append(f"from {'.' * node.level}{mod} import {sorted(names)}")
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("isreshape"):
                    bad.append(f"import {a.name}")
    assert not bad, f"{path.name} imports generator code: {bad}"


def test_a_disagreeing_oracle_stops_the_generator(monkeypatch):
    key = next(k for k in SPECS if k in golden.ORACLES)
    spec = SPECS[key]
    good = golden.ORACLES[key]

    def off_by_a_little(**kw):
        v = good.function(**kw)
        bump = mpmath.mpf(10) ** -(good.digits - 3)  # far above the stated agreement
        return [x * (1 + bump) for x in v] if isinstance(v, list) else v * (1 + bump)

    monkeypatch.setitem(
        golden.ORACLES, key, golden.Oracle(good.route, off_by_a_little, good.digits, good.why)
    )
    case = next(c for c in spec.cases() if c.fast)
    with pytest.raises(golden.OracleDisagrees):
        golden.build_row(spec, case.note, case.fast, case.inputs)
    monkeypatch.setitem(golden.ORACLES, key, good)
    golden.build_row(spec, case.note, case.fast, case.inputs)  # the real oracle agrees


def test_every_oracle_states_its_domain():
    # the reference's ValueErrors are judged too: a valid input it refuses is a red check
    missing = sorted(k for k, o in golden.ORACLES.items() if o.domain is None)
    assert not missing, f"{len(missing)} oracles without a domain predicate: {missing}"


def test_a_wrongly_refused_input_is_caught_by_the_domain(monkeypatch):
    key = next((k for k in SPECS if k in golden.ORACLES and golden.ORACLES[k].domain), None)
    if key is None:
        pytest.skip("no oracle states a domain yet")
    spec, good = SPECS[key], golden.ORACLES[key]
    case = next(c for c in spec.cases() if c.fast and "edge" not in c.note)
    row = golden.build_row(spec, case.note, case.fast, case.inputs)
    assert not isinstance(row["expected"], dict)
    # a reference that raised here would contradict the domain
    with pytest.raises(golden.OracleDisagrees, match="domain"):
        golden.oracle_check(spec, case.inputs, {"error": "ValueError"})
    monkeypatch.setitem(golden.ORACLES, key, good)
