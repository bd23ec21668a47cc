"""The numba backend: Numba @njit CPU kernels with prange threads (no compiler at install)."""

import numba

from ..checks import checked
from . import attention as _attention
from . import conv2d as _conv2d
from . import gemm as _gemm
from . import lstm as _lstm
from . import pooling as _pooling

# The @njit loops index without bounds checks: every kernel runs behind the contract's argument
# checks (fastnn.ops has validated its own calls already; these guard direct callers).
gemm = checked(_gemm.gemm)
conv2d_forward = checked(_conv2d.conv2d_forward)
conv2d_backward_input = checked(_conv2d.conv2d_backward_input)
conv2d_backward_weight = checked(_conv2d.conv2d_backward_weight)
max_pool2d_forward = checked(_pooling.max_pool2d_forward)
max_pool2d_backward = checked(_pooling.max_pool2d_backward)
lstm_cell_forward = checked(_lstm.lstm_cell_forward)
lstm_cell_backward = checked(_lstm.lstm_cell_backward)
lstm_sequence_forward = checked(_lstm.lstm_sequence_forward)
lstm_sequence_backward = checked(_lstm.lstm_sequence_backward)
attention_forward = checked(_attention.attention_forward)
attention_backward = checked(_attention.attention_backward)

NAME = "numba"
DEVICE = "cpu"
PRIORITY = 10
DTYPES = ("float32", "float64")
VERSIONS: dict = {}


def available():
    return True, f"Numba {numba.__version__}, threading layer {numba.config.THREADING_LAYER}"
