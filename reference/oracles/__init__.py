"""Independent oracles for the golden fixtures, one module per reference module.

Each module registers, with :func:`isreshape.reference.golden.register_oracle`, a second route
to the values of the reference functions of the same-named module: a quadrature, a sympy
closed form, a brute-force enumeration, a different algorithm. An oracle module imports nothing
from ``isreshape.reference`` except ``golden`` (``tests/test_golden_oracles.py`` checks this), so
a mistake in a reference formula cannot reach its oracle.
"""
