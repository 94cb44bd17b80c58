"""Sympy derivations and the claims ledger. Imports ``reference`` and sympy, never torch."""
