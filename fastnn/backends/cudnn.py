"""``torch.backends.cudnn``: fastnn has no cuDNN, so ``is_available()`` is False; the flags
(``benchmark``, ``deterministic``, ``enabled``, ``allow_tf32``) are settable and read back as
scripts expect, and select nothing. A plain module (not a package): backend discovery skips it."""

from __future__ import annotations

import contextlib

enabled = True
benchmark = False
benchmark_limit = 10
deterministic = False
allow_tf32 = True
fp32_precision = "none"


def is_available() -> bool:
    return False


def version():
    """None: no cuDNN is loaded (what torch returns without cuDNN)."""
    return None


def is_acceptable(tensor) -> bool:
    return False


_FLAGS = (
    "enabled",
    "benchmark",
    "benchmark_limit",
    "deterministic",
    "allow_tf32",
    "fp32_precision",
)


def set_flags(
    _enabled=None,
    _benchmark=None,
    _benchmark_limit=None,
    _deterministic=None,
    _allow_tf32=None,
    _fp32_precision=None,
):
    """Sets the flags given (None leaves one alone); returns the previous values in order."""
    g = globals()
    orig = tuple(g[n] for n in _FLAGS)
    new = (_enabled, _benchmark, _benchmark_limit, _deterministic, _allow_tf32, _fp32_precision)
    for name, value in zip(_FLAGS, new):
        if value is not None:
            g[name] = value
    return orig


@contextlib.contextmanager
def flags(
    enabled=False,
    benchmark=False,
    benchmark_limit=10,
    deterministic=False,
    allow_tf32=True,
    fp32_precision="none",
):
    """Sets the flags for the block and restores them after (torch's signature and defaults)."""
    orig = set_flags(enabled, benchmark, benchmark_limit, deterministic, allow_tf32, fp32_precision)
    try:
        yield
    finally:
        set_flags(*orig)
