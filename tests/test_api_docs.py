"""The API reference builds from the docstrings with one command (``tools/make_api_docs.sh``,
pdoc) and documents the training losses and the reference formulas."""

from __future__ import annotations

import inspect
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("pdoc")

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tools" / "make_api_docs.sh"


def _words(fn) -> list[str]:
    """Plain words of the docstring's first line (markup such as ``x`` renders differently)."""
    return re.findall(r"[A-Za-z]{4,}", inspect.getdoc(fn).splitlines()[0])[:4]


@pytest.fixture(scope="module")
def api(tmp_path_factory) -> Path:
    if shutil.which("bash") is None:
        pytest.skip("tools/make_api_docs.sh needs bash")
    out = tmp_path_factory.mktemp("api")
    env = {**os.environ, "PYTHON": sys.executable}
    proc = subprocess.run(
        ["bash", str(SCRIPT), str(out)], env=env, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"API reference: {out}/index.html" in proc.stdout
    return out


def test_training_losses_are_documented(api):
    from isreshape.torch_impl import losses

    page = (api / "isreshape" / "torch_impl" / "losses.html").read_text()
    for fn in (losses.policy_loss, losses.policy_loss_and_metrics, losses.is_reshape_ess):
        assert f'id="{fn.__name__}"' in page, fn.__name__
        assert all(w in page for w in _words(fn)), (fn.__name__, _words(fn))
    front = (api / "isreshape.html").read_text()
    assert 'id="policy_loss"' in front and 'id="policy_loss_and_metrics"' in front


def test_reference_formulas_are_documented(api):
    from isreshape.reference import weights

    page = (api / "isreshape" / "reference" / "weights.html").read_text()
    for fn in (weights.power_weight, weights.truncated_power_weight, weights.sapo_weight):
        assert f'id="{fn.__name__}"' in page, fn.__name__
        assert all(w in page for w in _words(fn)), (fn.__name__, _words(fn))
    # the torch twins' pages and the index are there too; private modules are not
    assert (api / "isreshape" / "torch_impl" / "weights.html").is_file()
    assert (api / "index.html").is_file()
    assert not list(api.rglob("_*.html")), sorted(p.name for p in api.rglob("_*.html"))
