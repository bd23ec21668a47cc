"""Small array-math helpers shared by the reference backend and the framework."""

import math

import numpy as np

_erf_scalar = np.frompyfunc(math.erf, 1, 1)


def erf(x):
    """Elementwise erf to full double precision (math.erf per element: slow, exact)."""
    x = np.asarray(x)
    return _erf_scalar(x).astype(x.dtype if x.dtype.kind == "f" else np.float64)


def gelu(x):
    """Exact GELU, x * Phi(x), as PyTorch's default."""
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def sigmoid(x):
    """Overflow-free logistic function."""
    out = np.empty_like(x)
    pos = x >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-x[pos]))
    ex = np.exp(x[~pos])
    out[~pos] = ex / (1.0 + ex)
    return out


ACTIVATIONS = {
    None: lambda x: x,
    "relu": lambda x: np.maximum(x, 0),
    "gelu": gelu,
    "sigmoid": sigmoid,
    "tanh": np.tanh,
}
