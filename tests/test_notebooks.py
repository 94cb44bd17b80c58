"""Every notebook in notebooks/ executes top to bottom (a failing cell or assertion fails)."""

import pytest

from isreshape.proofs.notebook_runner import execute, notebook_paths

PATHS = notebook_paths()


def test_there_are_notebooks():
    assert PATHS


# slow (about 130 CPU-s in all: each notebook re-runs its seed's claims, which the ledger tests
# check anyway): CI executes them once, in its slow stage under the newest versions
@pytest.mark.slow
@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_notebook_executes(path):
    nb = execute(path, timeout=120)
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
