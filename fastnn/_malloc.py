"""Keep freed array memory for reuse: glibc malloc tuned at ``import fastnn``.

A training step allocates the same large arrays every step (activations, gradients, workspaces:
24 MB logits gradients in an LSTM language model's step). With glibc's defaults, blocks above a
(dynamic, at most 32 MiB) threshold are mmap'ed and unmapped on free, and free memory at the top
of the heap is given back to the OS; each step then pays fresh page faults for every such block.
Raising the mmap threshold to 256 MiB and the trim threshold to 1 GiB makes freed blocks stay in
the process for the next step -- the cheap form of a caching allocator (PyTorch users get the
same from jemalloc/tcmalloc). Measured on the training race, 2 threads, same process build:
LSTM-LM H1024 step 203-210 ms -> 157-168 ms, Transformer 57.9-59.6 -> 55.6-56.0 ms
(docs/benchmarks.md). The cost: up to 1 GiB of freed memory may stay mapped.

``FASTNN_MALLOC=default`` keeps glibc's behaviour; ``python -m fastnn info`` says which is on.
Only glibc (Linux) is tuned; elsewhere this does nothing and says so.
"""

from __future__ import annotations

import ctypes
import os

MMAP_THRESHOLD = 256 * 1024 * 1024
TRIM_THRESHOLD = 1024 * 1024 * 1024
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's malloc.h
_state = {"status": "not applied"}


def apply() -> str:
    """Tune glibc malloc once per process (unless FASTNN_MALLOC=default); returns the status."""
    if _state["status"] != "not applied":
        return _state["status"]
    choice = os.environ.get("FASTNN_MALLOC", "").strip().lower()
    if choice == "default":
        _state["status"] = "glibc defaults (FASTNN_MALLOC=default)"
        return _state["status"]
    if choice not in ("", "tuned"):
        raise ValueError(f"FASTNN_MALLOC: expected 'default' or 'tuned', got {choice!r}")
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
        get_version = libc.gnu_get_libc_version  # glibc only
    except (OSError, AttributeError):
        _state["status"] = "not tuned (not glibc)"
        return _state["status"]
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    get_version.restype = ctypes.c_char_p
    version = get_version().decode()
    ok = mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
    ok = mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1 and ok
    _state["status"] = (
        f"glibc {version}, freed blocks kept for reuse (mmap threshold "
        f"{MMAP_THRESHOLD >> 20} MiB, trim threshold {TRIM_THRESHOLD >> 20} MiB; "
        "FASTNN_MALLOC=default turns this off)"
        if ok
        else f"glibc {version} refused mallopt; defaults kept"
    )
    return _state["status"]


def status() -> str:
    return _state["status"]
