"""Array-level GEMM and matmul: validate, lay out, dispatch to the chosen backend."""

from __future__ import annotations

import numbers

import numpy as np

from .. import backends
from .._util import as_gemm_operand, c_contiguous, check_array, writable, xp_of

ACTIVATIONS = (None, "relu", "gelu", "sigmoid", "tanh")


def gemm(a, b, bias=None, activation=None, *, trans_a=False, trans_b=False, alpha=1.0, beta=0.0,
         out=None, backend=None):
    """``act(alpha * op(a) @ op(b) + beta * out + bias)`` on the chosen backend.

    Args:
        a: (M, K) array, or (K, M) with ``trans_a=True``.
        b: (K, N) array, or (N, K) with ``trans_b=True``.
        bias: optional (N,) array added before the activation.
        activation: None, "relu", "gelu", "sigmoid" or "tanh", fused into the epilogue.
        trans_a, trans_b: use the transpose of a / b (no copy is made).
        alpha, beta: scale of the product and of ``out``'s old contents (beta needs ``out``).
        out: optional (M, N) array of a's dtype to write into.
        backend: optional backend name for this call (default: ``fastnn.backends`` selection).

    Returns:
        The (M, N) result, of the same array type and dtype as ``a`` (``out`` when given).
    """
    if out is None and type(a) is np.ndarray and type(b) is np.ndarray:
        res = _gemm_numpy_fast(a, b, bias, activation, trans_a, trans_b, alpha, beta, backend)
        if res is not None:
            return res
    check_array(a, "a", 2)
    check_array(b, "b", 2, a.dtype)
    trans_a, trans_b = _flag(trans_a, "trans_a"), _flag(trans_b, "trans_b")
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation: expected one of {ACTIVATIONS}, got {activation!r}")
    M, K = (a.shape[1], a.shape[0]) if trans_a else a.shape
    Kb, N = (b.shape[1], b.shape[0]) if trans_b else b.shape
    if K != Kb:
        raise ValueError(
            f"b: inner dimensions do not match: op(a) is {M}x{K} but op(b) is {Kb}x{N}"
        )
    if bias is not None:
        check_array(bias, "bias", 1, a.dtype)
        if bias.shape[0] != N:
            raise ValueError(f"bias: expected shape ({N},), got {tuple(bias.shape)}")
        bias = bias if c_contiguous(bias) else xp_of(bias).ascontiguousarray(bias)
    if not isinstance(alpha, numbers.Real) or not isinstance(beta, numbers.Real):
        raise TypeError("alpha, beta: expected real numbers")
    target = None
    if out is not None:
        check_array(out, "out", 2, a.dtype)
        if tuple(out.shape) != (M, N):
            raise ValueError(f"out: expected shape ({M}, {N}), got {tuple(out.shape)}")
        if not writable(out):
            raise ValueError("out: array is read-only")
        if not c_contiguous(out) or any(
            _overlaps(out, x) for x in (a, b, bias)
        ):  # a view, or an operand's memory: compute into a fresh buffer, then copy into out
            # (the kernels read a, b and bias while they write out; beta needs out's old values)
            target, out = out, xp_of(out).array(out, copy=True, order="C")
    elif beta != 0.0:
        raise ValueError("beta: a nonzero beta needs out= (the matrix it scales)")
    a2, ta = as_gemm_operand(a, bool(trans_a))
    b2, tb = as_gemm_operand(b, bool(trans_b))
    fn, _ = backends.get("gemm", a2, b2, bias, out, backend=backend)
    res = fn(a2, b2, bias, activation, ta, tb, float(alpha), float(beta), out)
    if target is not None:
        target[...] = res
        return target
    return res


def _flag(v, name: str) -> bool:
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    raise TypeError(f"{name}: expected a bool, got {v!r}")


def _overlaps(out, x) -> bool:
    if x is None:
        return False
    xp = xp_of(out)
    if xp is np:
        return np.may_share_memory(out, x)
    return bool(xp.shares_memory(out, x))  # CuPy: exact on device arrays


_FAST_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _gemm_numpy_fast(a, b, bias, activation, trans_a, trans_b, alpha, beta, backend):
    """The hot path of the framework (Linear, matmul and their backward): 2-D NumPy operands of
    one float dtype, contiguous or transposed, no ``out``. Checks the same things as the general
    path in a few microseconds; returns None to defer anything unusual to it (and its messages)."""
    dt = a.dtype
    if (
        dt not in _FAST_DTYPES
        or b.dtype != dt
        or a.ndim != 2
        or b.ndim != 2
        or beta != 0.0
        or activation not in ACTIVATIONS
        or type(alpha) not in (float, int)
        or type(trans_a) is not bool
        or type(trans_b) is not bool
    ):
        return None
    if bias is not None and not (
        type(bias) is np.ndarray and bias.dtype == dt and bias.ndim == 1
        and bias.flags.c_contiguous
    ):
        return None
    fa, fb = a.flags, b.flags
    if fa.c_contiguous:
        ta = bool(trans_a)
    elif fa.f_contiguous:
        a, ta = a.T, not trans_a
    else:
        return None
    if fb.c_contiguous:
        tb = bool(trans_b)
    elif fb.f_contiguous:
        b, tb = b.T, not trans_b
    else:
        return None
    K = a.shape[0] if ta else a.shape[1]
    Kb, N = (b.shape[1], b.shape[0]) if tb else b.shape
    if K != Kb or (bias is not None and bias.shape[0] != N):
        return None
    fn, _ = backends.get("gemm", a, b, bias, backend=backend)
    return fn(a, b, bias, activation, ta, tb, float(alpha), 0.0, None)


def matmul(a, b, *, backend=None):
    """NumPy ``matmul`` semantics (1-D operands, batched and broadcast leading dims) on gemm."""
    check_array(a, "a")
    check_array(b, "b", None, a.dtype)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError("a, b: matmul needs at least 1-D operands; use * for scalars")
    xp = xp_of(a)
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    if a2.shape[-1] != b2.shape[-2]:
        raise ValueError(
            f"b: inner dimensions do not match: a is {tuple(a.shape)}, b is {tuple(b.shape)}"
        )
    if a2.ndim == 2 and b2.ndim == 2:
        out = gemm(a2, b2, backend=backend)
    else:
        try:
            batch = np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
        except ValueError:
            raise ValueError(
                f"a, b: batch dimensions do not broadcast: a is {tuple(a.shape)}, "
                f"b is {tuple(b.shape)}"
            ) from None
        M, N = a2.shape[-2], b2.shape[-1]
        ab = xp.broadcast_to(a2, batch + a2.shape[-2:]).reshape((-1,) + a2.shape[-2:])
        bb = xp.broadcast_to(b2, batch + b2.shape[-2:]).reshape((-1,) + b2.shape[-2:])
        out = xp.empty((ab.shape[0], M, N), dtype=a.dtype)
        for i in range(out.shape[0]):
            gemm(ab[i], bb[i], out=out[i], backend=backend)
        out = out.reshape(batch + (M, N))
    if a.ndim == 1:
        out = out[..., 0, :]
    if b.ndim == 1:
        out = out[..., 0]
    return out
