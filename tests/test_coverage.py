"""Every public reference function has a golden fixture and a torch twin, unless its module
lists it in ``NO_GOLDEN = {name: reason}`` (for example a NumPy ``_np`` companion, a sampler,
or an mpmath-only solver), with a reason."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

from isreshape import reference
from isreshape.reference.golden import load_all_specs

SPECS = load_all_specs()
SKIP_MODULES = {"golden"}


def public_functions():
    for info in pkgutil.iter_modules(reference.__path__):
        if info.name.startswith("_") or info.name in SKIP_MODULES:
            continue
        mod = importlib.import_module(f"isreshape.reference.{info.name}")
        exempt = getattr(mod, "NO_GOLDEN", {})
        for name, fn in inspect.getmembers(mod, inspect.isfunction):
            if fn.__module__ != mod.__name__ or name.startswith("_"):
                continue
            yield info.name, name, exempt.get(name)


FUNCTIONS = sorted(public_functions())


@pytest.mark.parametrize("module,name,reason", FUNCTIONS, ids=[f"{m}.{n}" for m, n, _ in FUNCTIONS])
def test_reference_function_has_fixture_and_twin(module, name, reason):
    if name.endswith("_np"):
        return  # NumPy companions are tested against their mpmath function
    if reason is not None:
        assert len(reason) > 10, f"{module}.{name}: NO_GOLDEN needs a real reason"
        return
    assert f"{module}.{name}" in SPECS, f"reference.{module}.{name} has no golden spec"
    twin = getattr(importlib.import_module(f"isreshape.torch_impl.{module}"), name, None)
    assert callable(twin), f"torch_impl.{module}.{name} is missing"
