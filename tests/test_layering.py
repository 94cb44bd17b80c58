"""reference/ never imports torch; torch_impl/ never imports mpmath or sympy (checked by AST
and by importing each package in a fresh interpreter)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = {"reference": {"torch"}, "torch_impl": {"mpmath", "sympy"}}


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_forbidden_import_statements(package):
    offenders = []
    for path in sorted((ROOT / package).rglob("*.py")):
        bad = imported_roots(path) & FORBIDDEN[package]
        if bad:
            offenders.append(f"{path.relative_to(ROOT)} imports {sorted(bad)}")
    assert not offenders, "\n".join(offenders)


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_forbidden_modules_loaded(package):
    forbidden = sorted(FORBIDDEN[package])
    code = (
        "import importlib, pkgutil, sys\n"
        f"import isreshape.{package} as pkg\n"
        f"for m in pkgutil.walk_packages(pkg.__path__, 'isreshape.{package}.'):\n"
        "    importlib.import_module(m.name)\n"
        f"print(sorted(set({forbidden!r}) & set(sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]", f"{package} loaded {out.stdout.strip()}"


def test_layering_detector_catches_a_violation(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import torch.nn as nn\nfrom mpmath import mpf\n")
    assert imported_roots(bad) == {"torch", "mpmath"}
