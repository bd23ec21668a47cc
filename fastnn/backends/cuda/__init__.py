"""The cuda backend: numba-cuda @cuda.jit kernels on __cuda_array_interface__ arrays (CuPy,
Numba device arrays). Under NUMBA_ENABLE_CUDASIM=1 the kernels run in Numba's simulator on NumPy
arrays (one block at a time: it checks indexing, not races or speed)."""

from ..._util import simulated

NAME = "cuda"
DEVICE = "cuda"
PRIORITY = 10
DTYPES = ("float32",)
VERSIONS: dict = {}

_KERNELS = (
    "gemm", "conv2d_forward", "conv2d_backward_input", "conv2d_backward_weight",
    "lstm_cell_forward", "lstm_cell_backward", "lstm_sequence_forward", "lstm_sequence_backward",
    "attention_forward", "attention_backward",
)
_numba_cuda = None
_IMPORT_ERROR = None
_loaded = False


def _load():
    """Import numba.cuda and the kernels on first use, not at ``import fastnn``: numba.cuda's
    import costs ~1.3 s here (ml_dtypes, the CUDA bindings), which every CPU-only script paid in
    wall time. Each kernel goes behind the contract's checks (no bounds checks on a GPU)."""
    global _numba_cuda, _IMPORT_ERROR, _loaded
    if _loaded:
        return
    _loaded = True
    try:  # numba-cuda is an extra (fastnn[cuda12] / [cuda13]); without it: unavailable
        from numba import cuda as numba_cuda
    except Exception as exc:
        _IMPORT_ERROR = exc
        return
    _numba_cuda = numba_cuda
    from ..checks import checked
    from . import attention, conv2d, gemm, lstm

    fns = {
        "gemm": gemm.gemm,
        "conv2d_forward": conv2d.conv2d_forward,
        "conv2d_backward_input": conv2d.conv2d_backward_input,
        "conv2d_backward_weight": conv2d.conv2d_backward_weight,
        "lstm_cell_forward": lstm.lstm_cell_forward,
        "lstm_cell_backward": lstm.lstm_cell_backward,
        "lstm_sequence_forward": lstm.lstm_sequence_forward,
        "lstm_sequence_backward": lstm.lstm_sequence_backward,
        "attention_forward": attention.attention_forward,
        "attention_backward": attention.attention_backward,
    }
    g = globals()
    for name in _KERNELS:  # the submodules' names (gemm, conv2d, ...) are replaced here too
        g[name] = checked(fns[name])


def __getattr__(name):  # PEP 562: the kernels appear on first access
    if name in _KERNELS:
        _load()
        if name in globals():
            return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def available():
    _load()
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
