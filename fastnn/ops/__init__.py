"""fastnn.ops: the array-level kernel API. NumPy (or CuPy) arrays in, the same type out; each call
is validated here, once, and then runs on the backend ``fastnn.backends`` selects. Drop-in for
NumPy code:

    >>> import numpy as np, fastnn.ops as ops
    >>> y = ops.gemm(np.ones((4, 3), np.float32), np.ones((3, 2), np.float32), activation="relu")

One module per kernel family: gemm, conv2d, pooling, lstm, attention.
"""

from .attention import (
    attention,
    attention_backward,
    attention_dropout_backward,
    attention_dropout_forward,
    attention_forward,
    attention_mask,
)
from .conv2d import conv2d, conv2d_backward_input, conv2d_backward_weight, conv2d_output_shape
from .gemm import gemm, matmul
from .lstm import (
    lstm,
    lstm_cell,
    lstm_cell_backward,
    lstm_cell_forward,
    lstm_sequence_backward,
    lstm_sequence_forward,
)
from .pooling import max_pool2d, max_pool2d_backward

__all__ = [
    "attention", "attention_backward", "attention_dropout_backward", "attention_dropout_forward",
    "attention_forward", "attention_mask",
    "conv2d", "conv2d_backward_input", "conv2d_backward_weight", "conv2d_output_shape",
    "gemm", "matmul",
    "lstm", "lstm_cell", "lstm_cell_backward", "lstm_cell_forward", "lstm_sequence_backward",
    "lstm_sequence_forward",
    "max_pool2d", "max_pool2d_backward",
]
