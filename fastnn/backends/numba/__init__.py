"""The numba backend: Numba @njit CPU kernels with prange threads (no compiler at install)."""

import numba

from .attention import attention_backward, attention_forward
from .conv2d import conv2d_backward_input, conv2d_backward_weight, conv2d_forward
from .gemm import gemm
from .lstm import (
    lstm_cell_backward,
    lstm_cell_forward,
    lstm_sequence_backward,
    lstm_sequence_forward,
)
from .pooling import max_pool2d_backward, max_pool2d_forward

NAME = "numba"
DEVICE = "cpu"
PRIORITY = 10
DTYPES = ("float32", "float64")
VERSIONS: dict = {}


def available():
    return True, f"Numba {numba.__version__}, threading layer {numba.config.THREADING_LAYER}"
