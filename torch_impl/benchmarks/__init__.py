"""Benchmarks run by `isreshape bench NAME` (module NAME.py with main(argv) -> int)."""
