"""Execute the jupytext notebooks in ``notebooks/`` and write executed .ipynb and HTML."""

from __future__ import annotations

import sys
import time
from pathlib import Path

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"


def notebook_paths(names: list[str] | None = None) -> list[Path]:
    paths = sorted(p for p in NOTEBOOK_DIR.glob("*.py") if not p.name.startswith("_"))
    if names:
        paths = [p for p in paths if p.stem in names or p.name in names]
    return paths


def execute(path: Path, timeout: int = 300):
    """Run one notebook top to bottom in a fresh kernel; return the executed notebook."""
    import jupytext
    from nbclient import NotebookClient

    nb = jupytext.read(path)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK_DIR)}},
    )
    client.execute()
    return nb


def run_all(names: list[str] | None = None, out_dir: str = "build/notebooks") -> int:
    import nbformat
    from nbconvert import HTMLExporter

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    failed = 0
    for path in notebook_paths(names):
        t0 = time.perf_counter()
        try:
            nb = execute(path)
        except Exception as exc:  # report and go on to the next notebook
            failed += 1
            print(f"FAILED {path.name}: {type(exc).__name__}: {str(exc)[-2000:]}", file=sys.stderr)
            continue
        nbformat.write(nb, out / f"{path.stem}.ipynb")
        html, _ = HTMLExporter().from_notebook_node(nb)
        (out / f"{path.stem}.html").write_text(html)
        n_fig = sum(
            1
            for cell in nb.cells
            for o in cell.get("outputs", [])
            if "image/png" in o.get("data", {})
        )
        print(f"{path.name}: {time.perf_counter() - t0:.1f} s, {n_fig} figure(s) -> {out}")
    return 1 if failed else 0
