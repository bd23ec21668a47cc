"""Helpers shared by every layer (nn, functions, ops, backends): the array module of an array,
argument checks with messages that name the argument, layout handling, and the output-size
arithmetic of convolution and pooling. They work on NumPy arrays and on __cuda_array_interface__
arrays (CuPy; Numba device arrays)."""

import numbers
import os

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def is_array(x) -> bool:
    return isinstance(x, np.ndarray) or hasattr(x, "__cuda_array_interface__")


def xp_of(x):
    """NumPy or CuPy, whichever owns x."""
    if type(x) is np.ndarray or isinstance(x, np.ndarray):
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


def simulated() -> bool:
    """True when numba-cuda runs in its simulator (NUMBA_ENABLE_CUDASIM=1): the cuda backend then
    takes NumPy arrays. Read once, at import, like Numba itself reads it."""
    return _SIMULATED


_SIMULATED = os.environ.get("NUMBA_ENABLE_CUDASIM", "0") == "1"


def pair(value, name: str, minimum: int | None = None) -> tuple[int, int]:
    """(int, int) from an int or a 1- or 2-sequence of ints, as PyTorch's ``_pair``; TypeError
    naming ``name`` otherwise, ValueError below ``minimum``."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        out = (int(value), int(value))
    elif (isinstance(value, (tuple, list)) and len(value) in (1, 2)
          and all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in value)):
        out = (int(value[0]), int(value[-1]))
    else:
        raise TypeError(f"{name}: expected an int or a pair of ints, got {value!r}")
    if minimum is not None and min(out) < minimum:
        raise ValueError(f"{name}: expected values >= {minimum}, got {value!r}")
    return out


def conv_output_size(size, k, s, p, d):
    """PyTorch's convolution output length along one axis."""
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


def pool_output_size(size, k, s, p, d, ceil_mode):
    """PyTorch's pooling output length (ceil_mode drops a last window starting in the padding)."""
    span = size + 2 * p - d * (k - 1) - 1
    out = (-(-span // s) if ceil_mode else span // s) + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


def shape4(shape, name: str) -> tuple:
    """A tuple of 4 non-negative ints (an NCHW shape argument), or an error naming ``name``."""
    try:
        ok = all(isinstance(s, numbers.Integral) and not isinstance(s, bool) for s in shape)
    except TypeError:  # not iterable
        ok = False
    if not ok:
        raise TypeError(f"{name}: expected a tuple of 4 ints, got {shape!r}")
    shape = tuple(int(s) for s in shape)
    if len(shape) != 4 or min(shape) < 0:
        raise ValueError(f"{name}: expected 4 non-negative sizes, got {shape!r}")
    return shape


def check_grad_shape(grad_out, want) -> None:
    if tuple(grad_out.shape) != tuple(want):
        raise ValueError(f"grad_out: expected shape {tuple(want)}, got {tuple(grad_out.shape)}")
