"""Fast, batched, device-agnostic PyTorch twins of ``reference`` (same module, same names).

Functions take tensors (or Python numbers) that broadcast, return tensors, and do no ``.item()``
and no Python branching on tensor values in the math. Argument checks (``ValueError`` naming
the argument) run on Python numbers and CPU tensors; on CUDA tensors they are skipped unless
``torch_impl.set_device_validation(True)`` (a check on device data would synchronise the host).
This package never imports mpmath or sympy.
"""

from isreshape.torch_impl._validate import set_device_validation

__all__ = ["set_device_validation"]
