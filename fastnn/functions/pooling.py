"""Pooling Functions (max, average, adaptive average) on NCHW arrays, NumPy or CuPy.

Max and average pooling loop over the KH*KW kernel taps, each a strided slice of the padded input
as large as the output: a handful of vectorised passes, no window copies, and backward is the same
loop adding into strided slices (overlapping windows included).
"""

from __future__ import annotations

import numpy as np

from ..autograd import Function
from ..ops._util import xp_of

__all__ = ["MaxPool2dFunction", "AvgPool2dFunction", "AdaptiveAvgPool2dFunction",
           "pool_output_size"]


def pool_output_size(size, k, s, p, d, ceil_mode):
    """PyTorch's pooling output length (ceil_mode drops a last window starting in the padding)."""
    span = size + 2 * p - d * (k - 1) - 1
    out = (-(-span // s) if ceil_mode else span // s) + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


def _geometry(shape, kernel, stride, padding, dilation, ceil_mode):
    h, w = shape[-2:]
    oh = pool_output_size(h, kernel[0], stride[0], padding[0], dilation[0], ceil_mode)
    ow = pool_output_size(w, kernel[1], stride[1], padding[1], dilation[1], ceil_mode)
    # padded extent the taps read: (out-1)*s + d*(k-1) + 1, at least the symmetric padding
    hp = max(h + 2 * padding[0], (oh - 1) * stride[0] + dilation[0] * (kernel[0] - 1) + 1)
    wp = max(w + 2 * padding[1], (ow - 1) * stride[1] + dilation[1] * (kernel[1] - 1) + 1)
    return oh, ow, hp, wp


def _pad(x, padding, hp, wp, value):
    h, w = x.shape[-2:]
    ph, pw = padding
    if (hp, wp) == (h, w):
        return x
    xp = xp_of(x)
    out = xp.full(x.shape[:-2] + (hp, wp), value, dtype=x.dtype)
    out[..., ph:ph + h, pw:pw + w] = x
    return out


def _tap(a, i, j, oh, ow, stride, dilation):
    r0, c0 = i * dilation[0], j * dilation[1]
    rows = slice(r0, r0 + stride[0] * (oh - 1) + 1, stride[0])
    return a[..., rows, slice(c0, c0 + stride[1] * (ow - 1) + 1, stride[1])]


class MaxPool2dFunction(Function):
    """Max over each window; returns the values, and with ``return_indices`` also the flat argmax
    positions in each input H*W plane (int64, not differentiable)."""

    @staticmethod
    def forward(ctx, x, kernel, stride, padding, dilation, ceil_mode, return_indices=False):
        xp = xp_of(x)
        oh, ow, hp, wp = _geometry(x.shape, kernel, stride, padding, dilation, ceil_mode)
        xpad = _pad(x, padding, hp, wp, -np.inf)
        taps = kernel[0] * kernel[1]
        best = xp.array(_tap(xpad, 0, 0, oh, ow, stride, dilation))
        arg = xp.zeros(best.shape, dtype=np.int8 if taps < 128 else np.int32)
        mask = xp.empty(best.shape, dtype=bool)
        nan_aware = False
        for _attempt in range(2):
            for t in range(1, taps):
                v = _tap(xpad, t // kernel[1], t % kernel[1], oh, ow, stride, dilation)
                xp.greater(v, best, out=mask)  # strict: the first maximum wins, as in PyTorch
                if nan_aware:  # NaN propagates (the last NaN in the window, as in PyTorch)
                    xp.logical_or(mask, xp.isnan(v), out=mask)
                xp.copyto(best, v, where=mask)
                xp.copyto(arg, t, where=mask)
            # `>` ignores NaN; one cheap sum tells whether the NaN-aware pass is needed
            if nan_aware or not bool(xp.isnan(x.sum())):
                break
            nan_aware = True
            best[...] = _tap(xpad, 0, 0, oh, ow, stride, dilation)
            arg[...] = 0
        ctx.save_for_backward(arg)
        ctx.geometry = (x.shape, kernel, stride, padding, dilation, oh, ow, hp, wp, x.dtype)
        if not return_indices:
            return best
        h, w = x.shape[-2:]
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
        shape, kernel, stride, padding, dilation, oh, ow, hp, wp, dtype = ctx.geometry
        xp = xp_of(grad)
        h, w = shape[-2:]
        # windows that tile the input exactly: every input pixel is in one tap's slice, so the
        # taps can assign instead of accumulate into a zeroed buffer
        tiles = (stride == kernel and dilation == (1, 1) and padding == (0, 0)
                 and (hp, wp) == (h, w) == (oh * kernel[0], ow * kernel[1]))
        gpad = (xp.empty if tiles else xp.zeros)(shape[:-2] + (hp, wp), dtype=dtype)
        picked = xp.empty(grad.shape, dtype=dtype)
        mask = xp.empty(grad.shape, dtype=bool)
        for t in range(kernel[0] * kernel[1]):
            xp.equal(arg, t, out=mask)
            xp.multiply(grad, mask, out=picked)
            view = _tap(gpad, t // kernel[1], t % kernel[1], oh, ow, stride, dilation)
            if tiles:
                view[...] = picked
            else:
                view += picked
        out = gpad if (hp, wp) == (h, w) and padding == (0, 0) else \
            gpad[..., padding[0]:padding[0] + h, padding[1]:padding[1] + w]
        return out, *([None] * 6)


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

