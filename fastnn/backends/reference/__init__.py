"""The reference backend: plain NumPy, the specification every other backend is tested against.
Clear over fast; float32 and float64 (the tests run it in float64 as the oracle)."""

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

NAME = "reference"
DEVICE = "cpu"
PRIORITY = 0
DTYPES = ("float32", "float64")
VERSIONS: dict = {}


def available():
    return True, "NumPy (the specification)"
