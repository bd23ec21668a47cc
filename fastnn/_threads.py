"""One thread setting for every backend: OpenMP in the C++ extension and Numba's pool."""

import os

_state = {"n": None}


def _default() -> int:
    return (
        len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    )


def set_num_threads(n: int) -> None:
    """Use ``n`` threads in the C++ (OpenMP) and Numba kernels."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n: expected a positive int, got {n!r}")
    import numba

    numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    try:
        from .backends.cpp._loader import load

        load().set_num_threads(n)
    except Exception:  # the extension may be unavailable; `python -m fastnn info` says why
        pass
    _state["n"] = n


def get_num_threads() -> int:
    """The thread count the kernels use."""
    return _state["n"] or _default()
