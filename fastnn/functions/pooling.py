"""Pooling Functions (max, average, adaptive average) on NCHW arrays, NumPy or CuPy.

Max pooling on NumPy arrays runs the pooling family's max_pool2d kernels (one pass per plane in
C++/Numba); CuPy arrays, and average pooling, loop over the KH*KW kernel taps, each a strided
slice of the padded input as large as the output: a handful of vectorised passes, no window
copies, and backward is the same loop adding into strided slices (overlapping windows included).
"""

from __future__ import annotations

import numpy as np

from .._util import pool_output_size, xp_of
from ..autograd import Function
from ..backends.reference import pooling as _ref
from ..backends.reference.pooling import pad_to as _pad
from ..backends.reference.pooling import pool_geometry as _geometry
from ..backends.reference.pooling import tap as _tap
from ..ops.pooling import max_pool2d, max_pool2d_backward

__all__ = ["MaxPool2dFunction", "AvgPool2dFunction", "AdaptiveAvgPool2dFunction",
           "pool_output_size"]


class MaxPool2dFunction(Function):
    """Max over each window; returns the values, and with ``return_indices`` also the flat argmax
    positions in each input H*W plane (int64, not differentiable). NumPy arrays go through the
    max_pool2d kernels of the pooling family (``fastnn.ops.max_pool2d``); CuPy arrays run the
    reference's array-module code."""

    @staticmethod
    def forward(ctx, x, kernel, stride, padding, dilation, ceil_mode, return_indices=False):
        x4 = x if x.ndim == 4 else x[None]  # (C, H, W) runs as a batch of one
        geo = (kernel, stride, padding, dilation, ceil_mode)
        if isinstance(x4, np.ndarray):
            best, arg = max_pool2d(x4, *geo)
        else:
            best, arg = _ref.max_pool2d_forward(x4, *geo)
        ctx.save_for_backward(arg)
        ctx.geometry = (x.shape, x4.shape, geo)
        if x.ndim != 4:
            best, arg = best[0], arg[0]
        if not return_indices:
            return best
        xp = xp_of(x)
        oh, ow = best.shape[-2:]
        w = x.shape[-1]
        rows = (xp.arange(oh) * stride[0] - padding[0])[:, None]
        cols = (xp.arange(ow) * stride[1] - padding[1])[None, :]
        arg64 = arg.astype(np.int64)
        ki, kj = arg64 // kernel[1], arg64 % kernel[1]
        indices = (rows + ki * dilation[0]) * w + cols + kj * dilation[1]
        ctx.mark_non_differentiable(indices)
        return best, indices

    @staticmethod
    def backward(ctx, grad, _grad_indices=None):
        (arg,) = ctx.saved_tensors
        shape, shape4, geo = ctx.geometry
        g4 = grad if grad.ndim == 4 else grad[None]
        if isinstance(g4, np.ndarray):
            gx = max_pool2d_backward(g4, arg, shape4, *geo)
        else:
            gx = _ref.max_pool2d_backward(g4, arg, shape4, *geo)
        return gx.reshape(shape), *([None] * 6)


def _avg_count(size, out, k, s, p, include_pad):
    """Window lengths along one axis (PyTorch: windows are clipped to the padded input, and with
    count_include_pad=False also to the input itself)."""
    start = np.arange(out) * s - p
    end = np.minimum(start + k, size + p)
    if include_pad:
        count = end - start
    else:
        count = np.minimum(end, size) - np.maximum(start, 0)
    return count


class AvgPool2dFunction(Function):
    """Mean over each window (PyTorch's ceil_mode, count_include_pad and divisor_override)."""

    @staticmethod
    def forward(ctx, x, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override):
        xp = xp_of(x)
        one = (1, 1)
        oh, ow, hp, wp = _geometry(x.shape, kernel, stride, padding, one, ceil_mode)
        xpad = _pad(x, padding, hp, wp, 0)
        acc = None
        for i in range(kernel[0]):
            for j in range(kernel[1]):
                v = _tap(xpad, i, j, oh, ow, stride, one)
                acc = v.copy() if acc is None else acc + v
        if divisor_override:
            div = np.asarray(float(divisor_override))
        else:
            h, w = x.shape[-2:]
            rh = _avg_count(h, oh, kernel[0], stride[0], padding[0], count_include_pad)
            rw = _avg_count(w, ow, kernel[1], stride[1], padding[1], count_include_pad)
            div = (rh[:, None] * rw[None, :]).astype(np.float64)
        scale = xp.asarray((1.0 / div).astype(x.dtype))
        ctx.geometry = (x.shape, kernel, stride, padding, oh, ow, hp, wp)
        ctx.scale = scale
        return acc * scale

    @staticmethod
    def backward(ctx, grad):
        shape, kernel, stride, padding, oh, ow, hp, wp = ctx.geometry
        xp = xp_of(grad)
        g = grad * ctx.scale
        gpad = xp.zeros(shape[:-2] + (hp, wp), dtype=grad.dtype)
        for i in range(kernel[0]):
            for j in range(kernel[1]):
                _tap(gpad, i, j, oh, ow, stride, (1, 1))[...] += g
        h, w = shape[-2:]
        return gpad[..., padding[0]:padding[0] + h, padding[1]:padding[1] + w], *([None] * 6)


def _adaptive_matrix(size, out, dtype):
    """(out, size) averaging matrix: row i averages [floor(i*size/out), ceil((i+1)*size/out))."""
    m = np.zeros((out, size), dtype=np.float64)
    for i in range(out):
        a, b = (i * size) // out, -(-((i + 1) * size) // out)
        m[i, a:b] = 1.0 / (b - a)
    return m.astype(dtype)


class AdaptiveAvgPool2dFunction(Function):
    """Adaptive average pooling to (OH, OW): y = Ah . x . Aw^T with averaging matrices."""

    @staticmethod
    def forward(ctx, x, output_size):
        xp = xp_of(x)
        h, w = x.shape[-2:]
        oh, ow = output_size
        if h % oh == 0 and w % ow == 0:  # equal windows: a reshape and a mean
            kh, kw = h // oh, w // ow
            ctx.equal = (kh, kw)
            ctx.shape = x.shape
            y = x.reshape(x.shape[:-2] + (oh, kh, ow, kw)).mean(axis=(-3, -1))
            return y.astype(x.dtype, copy=False)
        ah = xp.asarray(_adaptive_matrix(h, oh, x.dtype))
        aw = xp.asarray(_adaptive_matrix(w, ow, x.dtype))
        ctx.equal = None
        ctx.mats = (ah, aw)
        return xp.matmul(xp.matmul(ah, x), aw.T)

    @staticmethod
    def backward(ctx, grad):
        xp = xp_of(grad)
        if ctx.equal is not None:
            kh, kw = ctx.equal
            oh, ow = grad.shape[-2:]
            g = grad / np.asarray(kh * kw, dtype=grad.dtype)
            g = xp.broadcast_to(g[..., :, None, :, None], grad.shape[:-2] + (oh, kh, ow, kw))
            return g.reshape(ctx.shape), None
        ah, aw = ctx.mats
        return xp.matmul(xp.matmul(ah.T, grad), aw), None

