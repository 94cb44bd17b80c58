"""Per-token gradients: for every surrogate loss registered in a torch_impl module's
``SURROGATES = {phi_name: surrogate}``, autograd of surrogate(log_w, **args).sum() with
respect to log_w (equivalently the log-probability, the behaviour log-probability being
constant) equals -phi(log_w, **args) in float64, on every non-error fixture case of phi.

A surrogate is the training objective as the design (or the library it comes from) writes it,
e.g. -min(w A, clip(w) A) for PPO, or -f(w, A) for a design given by its objective f; it is
not -phi.detach() * log_w, which would make this test vacuous."""

from __future__ import annotations

import importlib
import pkgutil

import pytest
import torch

from isreshape import torch_impl
from isreshape.reference.golden import decode_input, load_all_specs
from tests.fixture_compare import compare, flatten

SPECS = load_all_specs()


def surrogates():
    for info in pkgutil.iter_modules(torch_impl.__path__):
        if info.name.startswith("_") or info.ispkg:
            continue
        mod = importlib.import_module(f"isreshape.torch_impl.{info.name}")
        for phi_name, fn in getattr(mod, "SURROGATES", {}).items():
            yield f"{info.name}.{phi_name}", mod, phi_name, fn


ITEMS = sorted(surrogates(), key=lambda t: t[0])


@pytest.mark.parametrize("key,mod,phi_name,surrogate", ITEMS, ids=[t[0] for t in ITEMS])
def test_surrogate_gradient_is_minus_phi(key, mod, phi_name, surrogate):
    spec = SPECS.get(key)
    assert spec is not None, f"{key} has a surrogate but no golden spec"
    from isreshape.reference.golden import load_fixture

    phi = getattr(mod, phi_name)
    rows = [
        r
        for r in load_fixture(spec.module, spec.name)["cases"]
        if not isinstance(r["expected"], dict)
    ]
    assert rows
    got, want, labels = [], [], []
    for row in rows:
        args = {k: decode_input(v) for k, v in row["inputs"].items()}
        targs = {
            k: torch.tensor(v, dtype=torch.float64) if k in spec.tensor_args else v
            for k, v in args.items()
        }
        log_w = targs.pop("log_w").clone().requires_grad_(True)
        loss = surrogate(log_w=log_w, **targs)
        (grad,) = torch.autograd.grad(loss.sum(), log_w, allow_unused=True)
        if grad is None:
            grad = torch.zeros_like(log_w)
        expected = -phi(log_w=log_w.detach(), **targs)
        got += flatten(grad)
        want += flatten(expected)
        labels += [row["note"]] * grad.numel()
    bad, _ = compare(got, want, rtol=64 * 2.2e-16, atol=1e-300, labels=labels)
    assert not bad, "\n".join([f"{key}: autograd gradient != -phi"] + bad)
