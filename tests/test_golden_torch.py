"""Every golden spec: its torch twin (same module, same name) matches the fixture in float64,
float32 and bfloat16, case by case and batched; error cases raise ValueError."""

from __future__ import annotations

import importlib

import pytest
import torch

from isreshape.reference.golden import decode_input, decode_value, load_all_specs, load_fixture
from tests.conftest import record_accuracy
from tests.fixture_compare import compare, flatten, representable
from tests.tolerances import DTYPES, tolerance

SPECS = load_all_specs()


def twin(spec):
    module = importlib.import_module(f"isreshape.torch_impl.{spec.module}")
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


# functions whose value is a statistic of the whole input, so rows cannot be stacked
UNBATCHED = {
    "gamma.per_sign_gamma": "per-sign variances over the whole batch (seed 002 appendix B)",
    "gamma.per_sign_gamma_seed_code": "per-sign variances over the whole batch (seed code)",
}


@pytest.mark.parametrize("key", sorted(SPECS))
def test_twin_batched_float64(key):
    """Cases with the same shapes and the same non-tensor scalars go through the twin in one
    call: vector inputs (and vector non-tensor inputs such as masks) stacked to [B, n], scalar
    inputs to [B, 1] (or, beside vector inputs, to the batch shape [B])."""
    if key in UNBATCHED:
        pytest.skip(UNBATCHED[key])
    spec = SPECS[key]
    fn = twin(spec)
    fixture = load_fixture(spec.module, spec.name)
    groups: dict[str, list] = {}
    for row in fixture["cases"]:
        if isinstance(row["expected"], dict):
            continue
        inputs = row["inputs"]
        shape_key = [(k, len(v)) for k, v in sorted(inputs.items()) if isinstance(v, list)]
        rest = [(k, v) for k, v in sorted(inputs.items()) if not isinstance(v, list)]
        rest = [(k, v) for k, v in rest if k not in spec.tensor_args]
        groups.setdefault(repr((shape_key, rest)), []).append(row)
    groups = {k: rows for k, rows in groups.items() if len(rows) > 1}
    if not groups:
        pytest.skip(f"{key} has no cases to batch")
    rtol, atol = tolerance(key, "float64")
    for rows in groups.values():
        first = rows[0]["inputs"]
        has_vector = any(isinstance(v, list) for v in first.values())
        want = [decode_value(r["expected"]) for r in rows]
        per_row = len(flatten(want[0]))
        out = None
        # per-row scalars either broadcast against the elementwise shape ([B, 1]) or carry the
        # batch shape ([B]) beside vector inputs; a twin must batch under one of the two
        for trailing_one in (True, False) if has_vector else (True,):
            args = {}
            for k, v in first.items():
                column = [decode_input(r["inputs"][k]) for r in rows]
                if k in spec.tensor_args:
                    t = torch.tensor(column, dtype=torch.float64)
                    args[k] = t.reshape(-1, 1) if (t.dim() == 1 and trailing_one) else t
                elif isinstance(v, list):
                    args[k] = torch.tensor(column)
                else:
                    args[k] = decode_input(v)
            try:
                candidate = fn(**args)
            except (RuntimeError, ValueError):
                continue
            if candidate.shape[0] == len(rows) and candidate.numel() == len(rows) * per_row:
                out = candidate
                break
        assert out is not None, f"{key}: no batched call of {len(rows)} rows gave one row each"
        bad, _ = compare(
            flatten(out),
            flatten(want),
            rtol,
            atol,
            [r["note"] for r in rows for _ in range(per_row)],
        )
        assert not bad, "\n".join([f"{key} batched:"] + bad)
