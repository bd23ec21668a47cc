"""The cuda backend: numba-cuda @cuda.jit kernels on __cuda_array_interface__ arrays (CuPy,
Numba device arrays). Under NUMBA_ENABLE_CUDASIM=1 the kernels run in Numba's simulator on NumPy
arrays (one block at a time: it checks indexing, not races or speed)."""

from ..._util import simulated

NAME = "cuda"
DEVICE = "cuda"
PRIORITY = 10
DTYPES = ("float32",)
VERSIONS: dict = {}

try:  # numba-cuda is an extra (fastnn[cuda12] / [cuda13]); without it the backend is unavailable
    from numba import cuda as _numba_cuda

    _IMPORT_ERROR = None
except Exception as exc:
    _numba_cuda, _IMPORT_ERROR = None, exc

if _IMPORT_ERROR is None:  # each kernel behind the contract's checks (no bounds checks on a GPU)
    from ..checks import checked
    from . import attention as _attention
    from . import conv2d as _conv2d
    from . import gemm as _gemm
    from . import lstm as _lstm

    gemm = checked(_gemm.gemm)
    conv2d_forward = checked(_conv2d.conv2d_forward)
    conv2d_backward_input = checked(_conv2d.conv2d_backward_input)
    conv2d_backward_weight = checked(_conv2d.conv2d_backward_weight)
    lstm_cell_forward = checked(_lstm.lstm_cell_forward)
    lstm_cell_backward = checked(_lstm.lstm_cell_backward)
    lstm_sequence_forward = checked(_lstm.lstm_sequence_forward)
    lstm_sequence_backward = checked(_lstm.lstm_sequence_backward)
    attention_forward = checked(_attention.attention_forward)
    attention_backward = checked(_attention.attention_backward)


def available():
    if _IMPORT_ERROR is not None:
        return False, (f"numba.cuda does not import (install fastnn[cuda12] or [cuda13]): "
                       f"{_IMPORT_ERROR}")
    if simulated():
        return True, "Numba CUDA simulator (NUMBA_ENABLE_CUDASIM=1)"
    try:
        if not _numba_cuda.is_available():
            return False, "no CUDA GPU or driver found (numba.cuda.is_available() is False)"
        name = _numba_cuda.get_current_device().name
        name = name.decode() if isinstance(name, bytes) else name
    except Exception as exc:
        return False, f"CUDA driver error: {exc}"
    return True, f"GPU {name}"


# torch.backends.cuda's flags (matmul.allow_tf32, sdp switches): torch.backends.cuda is this package
from ._torch_flags import *  # noqa: E402, F401, F403
