"""fastnn: compiled kernels (GEMM, conv2d, LSTM, fused attention) behind a PyTorch-style API.

``import fastnn as torch`` runs ordinary PyTorch training scripts; ``fastnn.ops`` is the
array-level kernel API; ``fastnn.backends`` chooses among reference, numba, cpp and cuda.
"""

__version__ = "0.1.0"

from . import backends, ops
from ._threads import get_num_threads, set_num_threads

__all__ = ["backends", "ops", "set_num_threads", "get_num_threads", "__version__"]
