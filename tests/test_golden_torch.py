"""Every golden spec: its torch twin (same module, same name) matches the fixture in float64,
float32 and bfloat16, case by case and batched; error cases raise ValueError."""

from __future__ import annotations

import importlib

import pytest
import torch

from reference.golden import decode_input, decode_value, load_all_specs, load_fixture
from tests.conftest import record_accuracy
from tests.fixture_compare import compare, flatten, representable
from tests.tolerances import DTYPES, tolerance

SPECS = load_all_specs()


def twin(spec):
    module = importlib.import_module(f"torch_impl.{spec.module}")
    return getattr(module, spec.name)


def to_tensor(value, dtype: torch.dtype) -> torch.Tensor:
    t = torch.tensor(value, dtype=torch.float64)
    if dtype == torch.bfloat16:
        t = t.to(torch.float32)  # the fixtures round float64 -> float32 -> bfloat16
    return t.to(dtype)


def build_args(spec, inputs, dtype):
    args = {}
    for k, v in inputs.items():
        v = decode_input(v)
        args[k] = to_tensor(v, dtype) if k in spec.tensor_args else v
    return args


def expected_for(row, dtype_name):
    return row["expected"] if dtype_name == "float64" else row[f"expected_{dtype_name}"]


@pytest.mark.parametrize("key", sorted(SPECS))
def test_every_spec_has_twin_and_fixture(key):
    spec = SPECS[key]
    assert spec.path.exists(), f"no fixture file for {key}: run `isreshape golden --write`"
    assert callable(twin(spec)), f"torch_impl.{spec.module} has no {spec.name}"


@pytest.mark.parametrize("dtype_name", list(DTYPES))
@pytest.mark.parametrize("key", sorted(SPECS))
def test_twin_matches_fixture(key, dtype_name):
    spec = SPECS[key]
    if dtype_name != "float64" and not spec.low_precision:
        pytest.skip(f"{key} has no low-precision fixtures")
    dtype = DTYPES[dtype_name]
    fn = twin(spec)
    fixture = load_fixture(spec.module, spec.name)
    rtol, atol = tolerance(key, dtype_name)
    failures, got_all, want_all, labels = [], [], [], []
    for row in fixture["cases"]:
        want = expected_for(row, dtype_name)
        args = build_args(spec, row["inputs"], dtype)
        if isinstance(want, dict):
            with pytest.raises(ValueError):
                fn(**args)
            continue
        out = fn(**args)
        assert isinstance(out, torch.Tensor), f"{key} returned {type(out).__name__}, not a tensor"
        assert out.dtype == dtype, f"{key}: output dtype {out.dtype}, input dtype {dtype}"
        got = flatten(out)
        wanted = [representable(w, dtype) for w in flatten(decode_value(want))]
        got_all += got
        want_all += wanted
        labels += [f"{row['note']}[{i}]" for i in range(len(got))]
    bad, worst = compare(got_all, want_all, rtol, atol, labels)
    record_accuracy(key, dtype_name, worst)
    if bad:
        failures.append(f"{key} at {dtype_name}: {len(bad)} of {len(got_all)} points fail")
        failures += bad
        pytest.fail("\n".join(failures))


@pytest.mark.parametrize("key", sorted(SPECS))
def test_twin_batched_float64(key):
    """All scalar cases sharing their non-tensor inputs go through the twin in one call."""
    spec = SPECS[key]
    fn = twin(spec)
    fixture = load_fixture(spec.module, spec.name)
    groups: dict[str, list] = {}
    for row in fixture["cases"]:
        if isinstance(row["expected"], dict) or isinstance(row["expected"], list):
            continue
        if any(isinstance(row["inputs"][k], list) for k in spec.tensor_args):
            continue
        rest = {k: v for k, v in row["inputs"].items() if k not in spec.tensor_args}
        groups.setdefault(repr(sorted(rest.items())), []).append(row)
    if not groups:
        pytest.skip(f"{key} has no scalar cases to batch")
    rtol, atol = tolerance(key, "float64")
    for rows in groups.values():
        args = {
            k: torch.tensor([float(r["inputs"][k]) for r in rows], dtype=torch.float64).reshape(
                -1, 1
            )
            if k in spec.tensor_args
            else decode_input(v)
            for k, v in rows[0]["inputs"].items()
        }
        out = fn(**args)
        assert out.shape == (len(rows), 1)
        bad, _ = compare(
            flatten(out),
            [float(r["expected"]) for r in rows],
            rtol,
            atol,
            [r["note"] for r in rows],
        )
        assert not bad, "\n".join([f"{key} batched:"] + bad)
