"""Reductions (sum, mean, var/std, prod, max/min with indices, amax/amin, argmax/argmin,
logsumexp, norm, all/any), cumulative sums, and numerically stable softmax / log_softmax.

``dim`` is an int, a tuple of ints or None (all dims); ``keepdim`` keeps reduced dims as size 1.
"""

from __future__ import annotations

import builtins
import collections
import math

import numpy as np

from .. import dtypes as _dt
from .._util import xp_of
from ..autograd.function import Function
from ..ops import softmax as _sm
from ..tensor import Tensor, _make
from .elementwise import _to_tensor, cast


def _axes(dim, ndim):
    """None (all dims) or a sorted tuple of non-negative axes."""
    if dim is None:
        return None
    if isinstance(dim, (list, tuple)):
        if len(dim) == 0:
            return None
        dims = dim
    else:
        dims = (dim,)
    n = builtins.max(ndim, 1)
    out = []
    for d in dims:
        d = int(d)
        if not -n <= d < n:
            raise IndexError(
                f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {d})"
            )
        out.append(d % n if ndim else 0)
    return tuple(sorted(set(out))) if ndim else None


def _expand(g, axes, keepdim, ndim):
    """A reduced gradient reshaped so it broadcasts against the input."""
    if keepdim or ndim == 0:
        return g
    if axes is None:
        return g.reshape((1,) * ndim)
    return np.expand_dims(g, axes)


def _count(shape, axes):
    if axes is None:
        return math.prod(shape)
    return math.prod(shape[a] for a in axes)


# ------------------------------------------------------------------------------ sum / mean
class Sum(Function):
    @staticmethod
    def forward(ctx, x, axes, keepdim, dtype=None):
        ctx.meta = (x.shape, axes, keepdim)
        return x.sum(axis=axes, keepdims=keepdim, dtype=dtype)

    @staticmethod
    def backward(ctx, g):
        shape, axes, keepdim = ctx.meta
        return np.broadcast_to(_expand(g, axes, keepdim, len(shape)), shape), None, None


def _prep(input, dim):
    x = input if isinstance(input, Tensor) else _to_tensor(input)
    return x, _axes(dim, x.array.ndim)


def sum(input, dim=None, keepdim=False, *, dtype=None):  # noqa: A001,A002
    """Sum over ``dim`` (all dims by default). bool/int inputs sum to int64."""
    if (
        dim is None
        and dtype is None
        and isinstance(input, Tensor)
        and (input.array.dtype.kind in "fc")
    ):
        return Sum.apply(input, None, bool(keepdim), None)
    x, axes = _prep(input, dim)
    if dtype is None and x.array.dtype.kind in "biu":
        dtype = _dt.int64
    elif dtype is not None:
        dtype = _dt.as_dtype(dtype)
        x = cast(x, dtype) if dtype.kind in "fc" else x
    return Sum.apply(x, axes, bool(keepdim), dtype)


class Mean(Function):
    @staticmethod
    def forward(ctx, x, axes, keepdim):
        ctx.meta = (x.shape, axes, keepdim)
        return x.mean(axis=axes, keepdims=keepdim)

    @staticmethod
    def backward(ctx, g):
        shape, axes, keepdim = ctx.meta
        n = _count(shape, axes)
        g = _expand(g, axes, keepdim, len(shape)) / g.dtype.type(n if n else 1)
        return np.broadcast_to(g, shape), None, None


def mean(input, dim=None, keepdim=False, *, dtype=None):  # noqa: A002
    x, axes = _prep(input, dim)
    if dtype is not None:
        x = cast(x, dtype)
    if x.array.dtype.kind not in "fc":
        raise RuntimeError(
            "mean(): could not infer output dtype. Input dtype must be either a floating point or "
            f"complex dtype. Got: {_dt.dtype_name(x.array.dtype).split('.')[-1].capitalize()}"
        )
    return Mean.apply(x, axes, bool(keepdim))


class Var(Function):
    @staticmethod
    def forward(ctx, x, axes, correction, keepdim, take_sqrt):
        m = np.mean(x, axis=axes, keepdims=True)
        d = x - m
        n = _count(x.shape, axes)
        denom = builtins.max(n - correction, 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            var = np.sum(d * d, axis=axes, keepdims=keepdim) / x.dtype.type(denom)
            out = np.sqrt(var) if take_sqrt else var
        ctx.save_for_backward(d, out)
        ctx.meta = (x.shape, axes, keepdim, denom, take_sqrt)
        return np.asarray(out, dtype=x.dtype)

    @staticmethod
    def backward(ctx, g):
        d, out = ctx.saved_tensors
        shape, axes, keepdim, denom, take_sqrt = ctx.meta
        g = _expand(g, axes, keepdim, len(shape))
        with np.errstate(divide="ignore", invalid="ignore"):
            if take_sqrt:
                gx = g * d / (denom * _expand(np.asarray(out), axes, keepdim, len(shape)))
            else:
                gx = g * 2 * d / d.dtype.type(denom)
        return gx.astype(d.dtype, copy=False), None, None, None, None


def _correction(unbiased, correction):
    if correction is not None:
        return correction
    return 1 if unbiased in (None, True) else 0


def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None):  # noqa: A002
    """Variance with Bessel's correction by default (``correction=1``), as PyTorch."""
    if isinstance(dim, bool):
        dim, unbiased = None, dim
    x, axes = _prep(input, dim)
    return Var.apply(x, axes, _correction(unbiased, correction), bool(keepdim), False)


def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None):  # noqa: A002
    """Standard deviation, unbiased by default, as PyTorch."""
    if isinstance(dim, bool):
        dim, unbiased = None, dim
    x, axes = _prep(input, dim)
    return Var.apply(x, axes, _correction(unbiased, correction), bool(keepdim), True)


def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):  # noqa: A002
    if isinstance(dim, bool):  # var_mean(x, unbiased)
        dim, unbiased = None, dim
    return var(input, dim, unbiased, keepdim, correction=correction), mean(input, dim, keepdim)


def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):  # noqa: A002
    if isinstance(dim, bool):  # std_mean(x, unbiased)
        dim, unbiased = None, dim
    return std(input, dim, unbiased, keepdim, correction=correction), mean(input, dim, keepdim)


class Prod(Function):
    @staticmethod
    def forward(ctx, x, axis, keepdim):
        ctx.save_for_backward(x)
        ctx.meta = (axis, keepdim)
        return np.asarray(np.prod(x, axis=axis, keepdims=keepdim))

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        axis, keepdim = ctx.meta
        if x.size == 0:
            return np.zeros_like(x), None, None
        # product of all the other elements = exclusive cumprod from the left times from the right
        xm = x.reshape(1, -1) if axis is None else np.moveaxis(x, axis, -1)
        ones = xp_of(x).ones(xm.shape[:-1] + (1,), x.dtype)
        left = np.cumprod(np.concatenate([ones, xm[..., :-1]], -1), -1)
        right = np.flip(np.cumprod(np.flip(np.concatenate([xm[..., 1:], ones], -1), -1), -1), -1)
        others = left * right
        if axis is None:
            return (g.reshape(()) * others.reshape(x.shape)).astype(x.dtype), None, None
        ge = g if keepdim else np.expand_dims(g, axis)
        return (np.moveaxis(others, -1, axis) * ge).astype(x.dtype), None, None


def prod(input, dim=None, keepdim=False, *, dtype=None):  # noqa: A002
    x = input if isinstance(input, Tensor) else _to_tensor(input)
    if dtype is not None:
        x = cast(x, dtype)
    axis = None if dim is None else _axes(dim, x.array.ndim)
    return Prod.apply(x, None if axis is None else axis[0], bool(keepdim))


# --------------------------------------------------------------------------- max / min
return_max = collections.namedtuple("max", ["values", "indices"])
return_min = collections.namedtuple("min", ["values", "indices"])
return_sort = collections.namedtuple("sort", ["values", "indices"])
return_topk = collections.namedtuple("topk", ["values", "indices"])
return_mode = collections.namedtuple("mode", ["values", "indices"])


class AMax(Function):
    """amax/amin (and full max/min): ties share the gradient evenly."""

    @staticmethod
    def forward(ctx, x, axes, keepdim, is_min):
        y = (np.min if is_min else np.max)(x, axis=axes, keepdims=True)
        ctx.save_for_backward(x, y)
        ctx.meta = axes
        return np.asarray(y if keepdim else (y.reshape(()) if axes is None else y.squeeze(axes)))

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        axes = ctx.meta
        mask = x == y
        count = mask.sum(axis=axes, keepdims=True)
        return (g.reshape(y.shape) * mask / count).astype(x.dtype), None, None, None


class MaxDim(Function):
    """max/min along one dim: (values, indices); the gradient goes to the returned index."""

    @staticmethod
    def forward(ctx, x, axis, keepdim, is_min):
        idx = (np.argmin if is_min else np.argmax)(x, axis=axis, keepdims=True)
        vals = np.take_along_axis(x, idx, axis)
        ctx.save_for_backward(idx)
        ctx.meta = (x.shape, x.dtype, axis)
        if not keepdim:
            vals, idx = vals.squeeze(axis), idx.squeeze(axis)
        idx = idx.astype(np.int64, copy=False)
        ctx.mark_non_differentiable(idx)
        return vals, idx

    @staticmethod
    def backward(ctx, g, _gi):
        (idx,) = ctx.saved_tensors
        shape, dtype, axis = ctx.meta
        gx = xp_of(g).zeros(shape, dtype)
        xp_of(g).put_along_axis(gx, idx, g.reshape(idx.shape), axis)
        return gx, None, None, None


def _max_min(input, dim, keepdim, is_min, other=None):
    if isinstance(dim, Tensor) or other is not None:  # torch.max(a, b) == maximum
        from .elementwise import maximum, minimum

        o = dim if other is None else other
        return minimum(input, o) if is_min else maximum(input, o)
    x = input if isinstance(input, Tensor) else _to_tensor(input)
    if dim is None:
        if x.array.size == 0:
            raise RuntimeError(
                "max(): Expected reduction dim to be specified for input.numel() == 0. Specify "
                "the reduction dim with the 'dim' argument."
            )
        return AMax.apply(x, None, False, is_min)
    (axis,) = _axes(dim, x.array.ndim) or (0,)
    if x.array.ndim == 0:
        return (return_min if is_min else return_max)(
            x.clone(), _make(np.zeros((), np.int64), False, None, 0)
        )
    vals, idx = MaxDim.apply(x, axis, bool(keepdim), is_min)
    return (return_min if is_min else return_max)(vals, idx)


def max(input, dim=None, keepdim=False, *, other=None):  # noqa: A001,A002
    """Full max (a 0-d tensor), ``max(dim)`` -> (values, indices), or ``max(a, b)``."""
    return _max_min(input, dim, keepdim, False, other)


def min(input, dim=None, keepdim=False, *, other=None):  # noqa: A001,A002
    """Full min (a 0-d tensor), ``min(dim)`` -> (values, indices), or ``min(a, b)``."""
    return _max_min(input, dim, keepdim, True, other)


def amax(input, dim=(), keepdim=False):  # noqa: A002
    x, axes = _prep(input, dim)
    return AMax.apply(x, axes, bool(keepdim), False)


def amin(input, dim=(), keepdim=False):  # noqa: A002
    x, axes = _prep(input, dim)
    return AMax.apply(x, axes, bool(keepdim), True)


def _arg(input, dim, keepdim, fn):
    a = input.array
    if dim is None:
        r = fn(a.reshape(-1))
        out = np.asarray(r, dtype=np.int64)
        if keepdim:
            out = out.reshape((1,) * a.ndim)
    else:
        (axis,) = _axes(dim, a.ndim) or (0,)
        out = fn(a, axis=axis, keepdims=bool(keepdim)) if a.ndim else np.asarray(0)
        out = np.asarray(out).astype(np.int64, copy=False)
    return _make(out, False, None, 0)


def argmax(input, dim=None, keepdim=False):  # noqa: A002
    return _arg(input, dim, keepdim, np.argmax)


def argmin(input, dim=None, keepdim=False):  # noqa: A002
    return _arg(input, dim, keepdim, np.argmin)


# ----------------------------------------------------------------------- logsumexp / norm
class LogSumExp(Function):
    @staticmethod
    def forward(ctx, x, axes, keepdim):
        m = np.max(x, axis=axes, keepdims=True) if x.size else np.zeros((1,) * x.ndim, x.dtype)
        m = np.where(np.isfinite(m), m, 0).astype(x.dtype, copy=False)
        with np.errstate(divide="ignore"):
            out = np.log(np.sum(np.exp(x - m), axis=axes, keepdims=True)) + m
        ctx.save_for_backward(x, out)
        ctx.meta = (axes, keepdim)
        return np.asarray(
            out if keepdim else (out.reshape(()) if axes is None else out.squeeze(axes))
        )

    @staticmethod
    def backward(ctx, g):
        x, out = ctx.saved_tensors
        with np.errstate(invalid="ignore"):
            w = np.exp(x - out)
        return (g.reshape(out.shape) * w).astype(x.dtype, copy=False), None, None


def logsumexp(input, dim=None, keepdim=False):  # noqa: A002
    """``log(sum(exp(x)))`` over ``dim``, computed stably (max subtracted first)."""
    x, axes = _prep(input, dim)
    if x.array.dtype.kind not in "fc":
        x = cast(x, _dt.get_default_dtype())
    return LogSumExp.apply(x, axes, bool(keepdim))


class Norm(Function):
    @staticmethod
    def forward(ctx, x, p, axes, keepdim):
        ax = np.abs(x)
        if p == math.inf:
            out = np.max(ax, axis=axes, keepdims=True)
        elif p == -math.inf:
            out = np.min(ax, axis=axes, keepdims=True)
        elif p == 0:
            out = np.sum(x != 0, axis=axes, keepdims=True).astype(x.dtype)
        elif p == 1:
            out = np.sum(ax, axis=axes, keepdims=True)
        elif p == 2:
            out = np.sqrt(np.sum(x * x, axis=axes, keepdims=True))
        else:
            out = np.sum(ax**p, axis=axes, keepdims=True) ** (1.0 / p)
        ctx.save_for_backward(x, out)
        ctx.meta = (p, axes, keepdim)
        out = out.astype(x.dtype, copy=False)
        return np.asarray(
            out if keepdim else (out.reshape(()) if axes is None else out.squeeze(axes))
        )

    @staticmethod
    def backward(ctx, g):
        x, out = ctx.saved_tensors
        p, axes, keepdim = ctx.meta
        g = g.reshape(out.shape)
        with np.errstate(divide="ignore", invalid="ignore"):
            if p in (math.inf, -math.inf):
                mask = np.abs(x) == out
                gx = g * np.sign(x) * mask / mask.sum(axis=axes, keepdims=True)
            elif p == 0:
                gx = np.zeros_like(x)
            elif p == 1:
                gx = g * np.sign(x)
            elif p == 2:
                gx = np.where(out == 0, 0, g * x / out)
            else:
                gx = np.where(out == 0, 0, g * x * np.abs(x) ** (p - 2) / out ** (p - 1))
        return gx.astype(x.dtype, copy=False), None, None, None


def norm(input, p="fro", dim=None, keepdim=False, dtype=None):  # noqa: A002
    """Vector p-norm over ``dim`` ("fro" and None are 2; inf, -inf, 0, 1 and other numbers)."""
    x, axes = _prep(input, dim)
    if dtype is not None:
        x = cast(x, dtype)
    if p in ("fro", None):
        p = 2
    if p == "nuc":  # the sum of singular values: linalg's composition over svdvals
        from .. import linalg

        return linalg.matrix_norm(x, "nuc", (-2, -1) if dim is None else dim, keepdim)
    return Norm.apply(x, float(p), axes, bool(keepdim))


def all(input, dim=None, keepdim=False):  # noqa: A001,A002
    a = input.array if isinstance(input, Tensor) else np.asarray(input)
    axes = _axes(dim, a.ndim)
    return _make(np.asarray(np.all(a, axis=axes, keepdims=keepdim)), False, None, 0)


def any(input, dim=None, keepdim=False):  # noqa: A001,A002
    a = input.array if isinstance(input, Tensor) else np.asarray(input)
    axes = _axes(dim, a.ndim)
    return _make(np.asarray(np.any(a, axis=axes, keepdims=keepdim)), False, None, 0)


def count_nonzero(input, dim=None):  # noqa: A002
    a = input.array
    return _make(
        np.asarray(np.count_nonzero(a, axis=_axes(dim, a.ndim))).astype(np.int64), False, None, 0
    )


# ------------------------------------------------------------------------------- cumulative
class CumSum(Function):
    @staticmethod
    def forward(ctx, x, axis):
        ctx.axis = axis
        return np.cumsum(x, axis=axis)

    @staticmethod
    def backward(ctx, g):
        a = ctx.axis
        return np.flip(np.cumsum(np.flip(g, a), axis=a), a), None


def cumsum(input, dim, *, dtype=None):  # noqa: A002
    x = input if isinstance(input, Tensor) else _to_tensor(input)
    if dtype is not None:
        x = cast(x, dtype)
    elif x.array.dtype.kind in "biu":
        x = cast(x, _dt.int64)
    (axis,) = _axes(dim, x.array.ndim) or (0,)
    if x.array.ndim == 0:
        return x.clone()
    return CumSum.apply(x, axis)


# ------------------------------------------------------------------------------- softmax
def _softmax_dim(ndim):
    return 0 if ndim in (0, 1, 3) else 1  # PyTorch's legacy implicit dim


class Softmax(Function):
    """Row softmax along ``axis`` (``fastnn.ops.softmax``: the cpp kernel for float32)."""

    @staticmethod
    def forward(ctx, x, axis):
        if x.ndim == 0:
            y = np.ones_like(x)
        elif x.size == 0:
            y = x.copy()
        else:
            y = _sm.softmax(x, axis)
        ctx.save_for_backward(y)
        ctx.axis = axis
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        if y.ndim == 0:
            return g * 0, None
        return _sm.softmax_backward(y, g, ctx.axis), None


class LogSoftmax(Function):
    @staticmethod
    def forward(ctx, x, axis):
        if x.ndim == 0:
            y = np.zeros_like(x)
        elif x.size == 0:
            y = x.copy()
        else:
            y = _sm.softmax(x, axis, log=True)
        ctx.save_for_backward(y)
        ctx.axis = axis
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        if y.ndim == 0:
            return g * 0, None
        return _sm.softmax_backward(y, g, ctx.axis, log=True), None


def _softmax_prep(input, dim, dtype):
    x = input if isinstance(input, Tensor) else _to_tensor(input)
    if dtype is not None:
        x = cast(x, dtype)
    elif x.array.dtype.kind not in "fc":
        x = cast(x, _dt.get_default_dtype())
    if dim is None:
        dim = _softmax_dim(x.array.ndim)
    (axis,) = _axes(dim, x.array.ndim) or (0,)
    return x, axis


def softmax(input, dim=None, dtype=None):  # noqa: A002
    """``exp(x) / sum(exp(x))`` along ``dim``, with the max subtracted first (no overflow)."""
    x, axis = _softmax_prep(input, dim, dtype)
    return Softmax.apply(x, axis)


def log_softmax(input, dim=None, dtype=None):  # noqa: A002
    """``x - logsumexp(x)`` along ``dim``, computed stably."""
    x, axis = _softmax_prep(input, dim, dtype)
    return LogSoftmax.apply(x, axis)


# ------------------------------------------------------- more scans (issue 18's long tail)
class CumProd(Function):
    @staticmethod
    def forward(ctx, x, axis):
        y = np.cumprod(x, axis=axis)
        ctx.save_for_backward(x, y)
        ctx.axis = axis
        return y

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        a = ctx.axis
        if x.size == 0:
            return g * 0, None
        if not (x == 0).any():
            # d y_j / d x_i = y_j / x_i for j >= i: a reversed cumsum of g * y, divided by x
            return np.flip(np.cumsum(np.flip(g * y, a), axis=a), a) / x, None
        # with zeros: each x_i's gradient is sum_j>=i g_j * prod_{k<=j, k!=i} x_k, by moving i
        # to the end of the axis (O(n^2) along the axis; zeros are rare)
        xm, gm = np.moveaxis(x, a, -1), np.moveaxis(g, a, -1)
        n = xm.shape[-1]
        out = np.zeros_like(xm)
        for i in range(n):
            xi = xm.copy()
            xi[..., i] = 1
            p = np.cumprod(xi, axis=-1)
            out[..., i] = np.sum((gm * p)[..., i:], axis=-1)
        return np.moveaxis(out, -1, a), None


def cumprod(input, dim, *, dtype=None):  # noqa: A002
    x = input if isinstance(input, Tensor) else _to_tensor(input)
    if dtype is not None:
        x = cast(x, dtype)
    elif x.array.dtype.kind in "biu":
        x = cast(x, _dt.int64)
    (axis,) = _axes(dim, x.array.ndim) or (0,)
    if x.array.ndim == 0:
        return x.clone() if x.array.dtype.kind == "f" else x
    return CumProd.apply(x, axis)


class LogCumSumExp(Function):
    @staticmethod
    def forward(ctx, x, axis):
        y = np.logaddexp.accumulate(x, axis=axis) if x.size else x.copy()
        ctx.save_for_backward(x, y)
        ctx.axis = axis
        return y

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        a = ctx.axis
        if x.size == 0:
            return g * 0, None
        # dx_i = sum_{j>=i} g_j exp(x_i - y_j): a reversed logcumsumexp of log|g| - y per sign
        # the two signed sums may nearly cancel: accumulate them in float64
        g64, x64, y64 = (v.astype(np.float64) for v in (g, x, y))
        with np.errstate(divide="ignore"):
            out = np.zeros_like(x64)
            for sign in (1, -1):
                lg = np.where(sign * g64 > 0, np.log(np.abs(g64)), -np.inf) - y64
                r = np.flip(np.logaddexp.accumulate(np.flip(lg, a), axis=a), a)
                out = out + sign * np.exp(r + x64)
        return out.astype(x.dtype, copy=False), None


def logcumsumexp(input, dim):  # noqa: A002
    x = input if isinstance(input, Tensor) else _to_tensor(input)
    if x.array.dtype.kind not in "fc":
        x = cast(x, _dt.get_default_dtype())
    (axis,) = _axes(dim, x.array.ndim) or (0,)
    if x.array.ndim == 0:
        return x.clone()
    return LogCumSumExp.apply(x, axis)
