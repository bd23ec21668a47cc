"""The cuda backend: numba-cuda @cuda.jit kernels on __cuda_array_interface__ arrays (CuPy,
Numba device arrays). Under NUMBA_ENABLE_CUDASIM=1 the kernels run in Numba's simulator on NumPy
arrays (one block at a time: it checks indexing, not races or speed)."""

import os

from .._family import export_families

NAME = "cuda"
DEVICE = "cuda"
PRIORITY = 10
DTYPES = ("float32",)


def simulated() -> bool:
    return os.environ.get("NUMBA_ENABLE_CUDASIM", "0") == "1"


def available():
    try:
        from numba import cuda
    except Exception as exc:
        return False, f"numba.cuda does not import (install fastnn[cuda12] or [cuda13]): {exc}"
    if simulated():
        return True, "Numba CUDA simulator (NUMBA_ENABLE_CUDASIM=1)"
    try:
        if not cuda.is_available():
            return False, "no CUDA GPU or driver found (numba.cuda.is_available() is False)"
        name = cuda.get_current_device().name
        name = name.decode() if isinstance(name, bytes) else name
    except Exception as exc:
        return False, f"CUDA driver error: {exc}"
    return True, f"GPU {name}"


export_families(globals(), __name__)

# torch.backends.cuda's flags (matmul.allow_tf32, sdp switches): torch.backends.cuda is this package
from ._torch_flags import *  # noqa: E402, F401, F403
