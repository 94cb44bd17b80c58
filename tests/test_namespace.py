"""One installed top-level package, ``isreshape``; no generic ``reference``/``proofs``/``torch_impl``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _run(code: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True)


def test_isreshape_imports_from_any_directory(tmp_path):
    out = _run(
        "import sys, isreshape, isreshape.reference.peers, isreshape.proofs.ledger\n"
        "print(isreshape.__version__, 'torch' in sys.modules)",
        tmp_path,
    )
    assert out.returncode == 0, out.stderr
    version, torch_loaded = out.stdout.split()
    assert version.count(".") == 2
    # the front door and the reference stay torch-free until a torch name is used
    assert torch_loaded == "False"


def test_front_door_names_load_lazily(tmp_path):
    out = _run(
        "import isreshape, isreshape.torch_impl.losses as L, isreshape.torch_impl.diagnostics as D\n"
        "assert isreshape.policy_loss is L.policy_loss\n"
        "assert isreshape.psis_khat is D.psis_khat\n"
        "print(sorted(set(isreshape.__all__) - set(dir(isreshape))))",
        tmp_path,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
    bad = _run("import isreshape; isreshape.no_such_name", tmp_path)
    assert "AttributeError" in bad.stderr


def test_generic_top_level_names_are_not_installed(tmp_path):
    for name in ("reference", "proofs", "torch_impl"):
        out = _run(f"import {name}", tmp_path)
        assert out.returncode != 0 and "ModuleNotFoundError" in out.stderr, name


def test_console_script_points_into_the_namespace():
    text = (ROOT / "pyproject.toml").read_text()
    assert 'isreshape = "isreshape.proofs.cli:main"' in text


def test_checkout_resolves_subpackages_without_the_editable_finder():
    # as with a regular (non-editable) install run from the repo root: the folder isreshape/
    # shadows the installed package, and must still find reference/ beside it
    code = (
        "import sys\n"
        "sys.meta_path[:] = [f for f in sys.meta_path\n"
        "                    if not getattr(f, '__module__', '').startswith('__editable__')]\n"
        "for name in [m for m in sys.modules if m.startswith('__editable__')]:\n"
        "    del sys.modules[name]\n"
        "import isreshape.reference.peers as p\n"
        "print(p.__file__)\n"
    )
    out = _run(code, ROOT)
    assert out.returncode == 0, out.stderr
    assert Path(out.stdout.strip()) == ROOT / "reference" / "peers.py"
