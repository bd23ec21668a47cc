"""pytest-benchmark files (bench_*.py), one per kernel family; shared helpers in common.py."""
