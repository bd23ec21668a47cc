"""One thread setting for every backend: OpenMP in the C++ extension and Numba's pool.

Both runtimes keep the setting per calling thread (omp_set_num_threads and
numba.set_num_threads are thread-local), while ``fastnn.set_num_threads`` is process-wide, as in
PyTorch. So the value lives here, and ``apply_to_this_thread()`` -- called by every kernel
dispatch (``fastnn.backends.get``) -- hands it to the runtimes once per Python thread.
"""

import os
import threading

_state = {"n": None}
_local = threading.local()


def _default() -> int:
    return (
        len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    )


def _apply(n: int) -> None:
    import numba

    numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    from .backends import cpp

    if cpp.available()[0]:  # the extension may be unavailable; `python -m fastnn info` says why
        cpp.lib().set_num_threads(n)
    _local.n = n


def apply_to_this_thread() -> None:
    """Give the process-wide setting to this thread's OpenMP and Numba (a no-op after the first
    call in a thread, until the setting changes)."""
    n = _state["n"]
    if n is not None and getattr(_local, "n", None) != n:
        _apply(n)


def set_num_threads(n: int) -> None:
    """Use ``n`` threads in the C++ (OpenMP) and Numba kernels, in every Python thread."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n: expected a positive int, got {n!r}")
    _state["n"] = n
    _apply(n)


def get_num_threads() -> int:
    """The thread count the kernels use."""
    return _state["n"] or _default()
