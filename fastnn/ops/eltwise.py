"""Array-level GELU and LayerNorm on the C++ extension (``csrc/eltwise.cpp``), forward and
backward, for float32 NumPy arrays when the cpp backend is the one selected for CPU float32
(``fastnn.backends.current``; ``backends.use("reference")`` or ``"numba"`` keep the NumPy path).

These are fused helpers beside the kernel contract (like the multi-tensor optimizer steps), not
contract kernels: the NumPy/CuPy code in ``GELUFunction`` and ``LayerNormFunction`` is their
reference and the path for every other array (float64, CuPy, other backends). ``lib_for``
answers which one runs; non-contiguous float32 input is copied to C order first (one copy is
cheaper than the ~20 NumPy passes of the reference GELU).
"""

from __future__ import annotations

import numpy as np

from .. import backends

__all__ = [
    "gelu_backward", "gelu_forward", "layer_norm_backward", "layer_norm_forward", "lib_for",
]


def lib_for(*arrays):
    """The C++ extension when every array (None skipped) is a float32 NumPy array and the cpp
    backend is selected now for CPU float32; else None (the caller keeps its NumPy path)."""
    for a in arrays:
        if a is not None and (type(a) is not np.ndarray or a.dtype != np.float32):
            return None
    if backends.current("cpu", "float32") != "cpp":
        return None
    from ..backends import cpp

    lib = cpp._C
    return lib if lib is not None and hasattr(lib, "gelu_forward") else None


def _c(a):
    return a if a.flags.c_contiguous else np.ascontiguousarray(a)


def _approx(approximate: str) -> str:
    if approximate not in ("none", "tanh"):
        raise ValueError(f"approximate: expected 'none' or 'tanh', got {approximate!r}")
    return approximate


def _lib(*arrays):
    lib = lib_for(*arrays)
    if lib is None:
        got = [None if a is None else getattr(a, "dtype", type(a).__name__) for a in arrays]
        raise TypeError("expected float32 NumPy arrays with the cpp backend selected (got "
                        f"{got}, backend {backends.current('cpu', 'float32')!r})")
    return lib


def gelu_forward(x: np.ndarray, approximate: str = "none") -> np.ndarray:
    """GELU of float32 ``x`` (any shape): ``x * Phi(x)`` or PyTorch's tanh form."""
    return _lib(x).gelu_forward(_c(x), _approx(approximate))


def gelu_backward(grad: np.ndarray, x: np.ndarray, approximate: str = "none") -> np.ndarray:
    """``grad * GELU'(x)``; grad and x float32 of one shape."""
    if np.shape(grad) != np.shape(x):
        raise ValueError(f"grad: expected the shape of x {np.shape(x)}, got {np.shape(grad)}")
    return _lib(grad, x).gelu_backward(_c(grad), _c(x), _approx(approximate))


def _rows(a, n, name):
    if a.ndim == 0 or n == 0 or a.size % n:
        raise ValueError(f"{name}: expected trailing dims of {n} elements, got shape {a.shape}")
    return _c(a).reshape(-1, n)


def _vec(a, n, name):
    if a is None:
        return None
    if a.size != n:
        raise ValueError(f"{name}: expected {n} elements, got shape {a.shape}")
    return _c(a).reshape(n)


def layer_norm_forward(x: np.ndarray, weight, bias, n: int, eps: float):
    """LayerNorm over the trailing dims of ``x`` holding ``n`` elements (biased variance).

    Returns:
        (y of x's shape, mean (rows,), rstd (rows,)), rows = x.size // n; rstd = 1/sqrt(var+eps).
    """
    lib = _lib(x, weight, bias)
    y, mean, rstd = lib.layer_norm_forward(_rows(x, n, "x"), _vec(weight, n, "weight"),
                                           _vec(bias, n, "bias"), float(eps))
    return y.reshape(x.shape), mean, rstd


def layer_norm_backward(grad, x, mean, rstd, weight, n: int, need=(True, True, True)):
    """Gradients of :func:`layer_norm_forward`: (dx of x's shape, dweight (n,), dbias (n,)),
    None where ``need`` (input, weight, bias) is False."""
    if np.shape(grad) != np.shape(x):
        raise ValueError(f"grad: expected the shape of x {np.shape(x)}, got {np.shape(grad)}")
    lib = _lib(grad, x, mean, rstd, weight)
    dx, dw, db = lib.layer_norm_backward(_rows(grad, n, "grad"), _rows(x, n, "x"), _c(mean),
                                         _c(rstd), _vec(weight, n, "weight"), bool(need[0]),
                                         bool(need[1]), bool(need[2]))
    return (None if dx is None else dx.reshape(x.shape)), dw, db
