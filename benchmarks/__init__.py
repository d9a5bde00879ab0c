"""The benchmarks, each run from the repository root as `python -m benchmarks.NAME` (its docstring says what it
writes)."""
