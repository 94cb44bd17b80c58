"""isreshape: a verified numerical reference for the IS Reshape theory.

The front door. ``import isreshape`` is cheap and imports neither torch nor mpmath; the names
below load their module on first use:

- training losses (torch): ``policy_loss``, ``policy_loss_and_metrics``, ``make_policy_loss``
  (validated once, to compile), ``gradient_weights``, ``aggregate``
  (``isreshape.torch_impl.losses``);
- diagnostics (torch): ``kish_ess``, ``kish_ess_ratio``, ``psis_khat``
  (``isreshape.torch_impl.diagnostics``);
- the optimal sampling exponent (torch): ``optimal_alpha`` (``isreshape.torch_impl.sampling``).

The parts: ``isreshape.reference`` (mpmath and NumPy truth, never imports torch),
``isreshape.torch_impl`` (the PyTorch twins, never imports mpmath or sympy) and
``isreshape.proofs`` (sympy derivations and the claims ledger behind ``isreshape audit``).
In the source tree they are the top-level folders ``reference/``, ``torch_impl/`` and
``proofs/``, mapped into this package by ``pyproject.toml``.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

__version__ = "0.1.0"

# In a source checkout the subpackages are this folder's siblings (pyproject.toml maps them in
# when installing). An editable install finds them through its own finder; this also covers a
# checkout on sys.path without one (e.g. the repo root under ``python -m pytest`` next to a
# regular install, whose ``isreshape`` this folder then shadows).
_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if os.path.isfile(os.path.join(_root, "pyproject.toml")) and os.path.isfile(
    os.path.join(_root, "reference", "__init__.py")
):
    __path__.append(_root)  # noqa: F821 (the package's own __path__)

_LAZY = {
    "policy_loss": "isreshape.torch_impl.losses",
    "policy_loss_and_metrics": "isreshape.torch_impl.losses",
    "make_policy_loss": "isreshape.torch_impl.losses",
    "gradient_weights": "isreshape.torch_impl.losses",
    "aggregate": "isreshape.torch_impl.losses",
    "kish_ess": "isreshape.torch_impl.diagnostics",
    "kish_ess_ratio": "isreshape.torch_impl.diagnostics",
    "psis_khat": "isreshape.torch_impl.diagnostics",
    "optimal_alpha": "isreshape.torch_impl.sampling",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    # lazy, so that ``import isreshape.reference`` never loads torch
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'isreshape' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
