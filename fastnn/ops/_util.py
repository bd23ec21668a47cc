"""Array helpers for the array-level API: validation messages and layout handling that work on
NumPy arrays and on __cuda_array_interface__ arrays (CuPy; Numba device arrays)."""

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def is_array(x) -> bool:
    return isinstance(x, np.ndarray) or hasattr(x, "__cuda_array_interface__")


def xp_of(x):
    """NumPy or CuPy, whichever owns x."""
    if isinstance(x, np.ndarray):
        return np
    mod = type(x).__module__
    if mod.startswith("cupy"):
        import cupy

        return cupy
    return np


def check_array(x, name: str, ndim=None, dtype=None):
    """TypeError/ValueError naming ``name`` unless x is a float32/float64 array of ``ndim`` dims
    (an int or a tuple of allowed counts) and, if given, of ``dtype``."""
    if not is_array(x):
        raise TypeError(
            f"{name}: expected an array (NumPy, or CUDA via CuPy), got {type(x).__name__}"
        )
    dt = np.dtype(x.dtype)
    if dt not in FLOAT_DTYPES:
        raise TypeError(f"{name}: expected a float32 or float64 array, got dtype {dt}")
    if dtype is not None and dt != np.dtype(dtype):
        raise TypeError(f"{name}: dtype {dt} does not match the other operands' {np.dtype(dtype)}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if x.ndim not in allowed:
            want = " or ".join(f"{n}-D" for n in allowed)
            raise ValueError(
                f"{name}: expected a {want} array, got {x.ndim}-D with shape {tuple(x.shape)}"
            )
    return x


def c_contiguous(x) -> bool:
    flags = getattr(x, "flags", None)
    if flags is not None and hasattr(flags, "__getitem__"):
        try:
            return bool(flags["C_CONTIGUOUS"])
        except (KeyError, TypeError):
            pass
    if hasattr(x, "is_c_contiguous"):
        return bool(x.is_c_contiguous())
    return True


def contiguous(x):
    """x itself if C-contiguous, else a C-contiguous copy (explicit, never a dtype change)."""
    if c_contiguous(x):
        return x
    return xp_of(x).ascontiguousarray(x)


def as_gemm_operand(x, trans: bool):
    """(buffer, trans) with a C-contiguous buffer: a transposed view becomes its contiguous
    base plus a flipped flag, so backward's A^T B never materialises a transpose."""
    if c_contiguous(x):
        return x, trans
    if x.ndim == 2 and c_contiguous(x.T):
        return x.T, not trans
    return contiguous(x), trans


def writable(x) -> bool:
    flags = getattr(x, "flags", None)
    try:
        return bool(flags["WRITEABLE"])
    except (KeyError, TypeError):
        return True
