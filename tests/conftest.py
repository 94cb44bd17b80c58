"""Session-wide accuracy log: the observed maximum relative error per function and dtype."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import settings

# CI must be reproducible: property tests draw the same examples on every run (a hash of the
# test). HYPOTHESIS_PROFILE=explore draws fresh random examples for bug hunting.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("explore", derandomize=False, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

ACCURACY: dict[str, dict[str, float]] = {}
BUILD = Path(__file__).resolve().parent.parent / "build"


def record_accuracy(key: str, dtype: str, max_rel_err: float) -> None:
    slot = ACCURACY.setdefault(key, {})
    slot[dtype] = max(slot.get(dtype, 0.0), max_rel_err)


def pytest_collection_modifyitems(config, items):
    markexpr = config.option.markexpr or ""
    if os.environ.get("ISRESHAPE_SLOW") == "1" or "slow" in markexpr or "heavy" in markexpr:
        return
    skip = pytest.mark.skip(reason="slow: set ISRESHAPE_SLOW=1 or pass -m slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


def pytest_sessionfinish(session):
    # an xdist worker hands its table to the controller (pytest_testnodedown below)
    out = getattr(session.config, "workeroutput", None)
    if out is not None:
        out["isreshape_accuracy"] = json.dumps(ACCURACY)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    table = json.loads(getattr(node, "workeroutput", {}).get("isreshape_accuracy", "{}"))
    for key, per_dtype in table.items():
        for dtype, err in per_dtype.items():
            record_accuracy(key, dtype, err)


def pytest_terminal_summary(terminalreporter):
    if not ACCURACY:
        return
    BUILD.mkdir(exist_ok=True)
    (BUILD / "accuracy.json").write_text(json.dumps(ACCURACY, indent=1, sort_keys=True))
    tr = terminalreporter
    tr.section("observed max relative error vs fixtures (worst 5 per dtype)")
    for dtype in ("float64", "float32", "bfloat16"):
        rows = sorted(((v[dtype], k) for k, v in ACCURACY.items() if dtype in v), reverse=True)[:5]
        tr.write_line(f"{dtype}: " + ", ".join(f"{k} {e:.2e}" for e, k in rows))
    tr.write_line(f"full table: {BUILD / 'accuracy.json'}")
