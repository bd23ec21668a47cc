"""Benchmark cases per kernel family (one module each); ``cases(family, sizes)`` lists them."""

from __future__ import annotations

from . import attention, conv2d, gemm, lstm
from .base import Case, Unavailable, optional, rel_error, tolerance  # noqa: F401

FAMILIES = {"gemm": gemm, "conv2d": conv2d, "lstm": lstm, "attention": attention}
SIZES = ("tiny", "quick", "full")


def cases(family: str, sizes: str) -> list[Case]:
    """The cases of ``family`` for ``sizes`` ("quick", "full", or "tiny" for smoke tests)."""
    if sizes not in SIZES:
        raise ValueError(f"sizes: expected one of {', '.join(SIZES)}, got {sizes!r}")
    return FAMILIES[family].cases(sizes)
