"""The declared lower bounds are the ones CI's minimum environment tests, and the running
environment satisfies them."""

from __future__ import annotations

import re
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORE = ("torch", "numpy", "scipy", "mpmath", "sympy")


def _release(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.match(r"\d+(?:\.\d+)*", text).group(0).split("."))


def declared_minimums() -> dict[str, str]:
    text = (ROOT / "pyproject.toml").read_text()
    block = text[text.index("dependencies = [") :]
    block = block[: block.index("]")]
    return dict(re.findall(r'"([A-Za-z0-9_-]+)>=([0-9.]+)"', block))


def pinned_minimums() -> dict[str, str]:
    lines = (ROOT / ".ci" / "minimum-versions.txt").read_text().splitlines()
    return dict(
        line.split("==") for line in (ln.strip() for ln in lines) if line and not line.startswith("#")
    )


def test_every_core_dependency_has_a_lower_bound():
    assert sorted(declared_minimums()) == sorted(CORE)


def test_declared_lower_bounds_are_the_ones_ci_pins():
    declared = {k: _release(v) for k, v in declared_minimums().items()}
    pinned = {k: _release(v) for k, v in pinned_minimums().items()}
    # 1.12 and 1.12.0 name the same release
    pad = {k: v + (0,) * (3 - len(v)) for k, v in declared.items()}
    assert pad == {k: v + (0,) * (3 - len(v)) for k, v in pinned.items()}


@pytest.mark.parametrize("name", CORE)
def test_installed_version_meets_the_declared_bound(name):
    assert _release(version(name)) >= _release(declared_minimums()[name])


def test_python_meets_requires_python():
    text = (ROOT / "pyproject.toml").read_text()
    floor = _release(re.search(r'requires-python = ">=([0-9.]+)"', text).group(1))
    assert sys.version_info[: len(floor)] >= floor


def test_release_parser():
    assert _release("2.13.0+cpu") == (2, 13, 0)
    assert _release("1.12") < _release("1.12.1") < _release("2.4.1")
