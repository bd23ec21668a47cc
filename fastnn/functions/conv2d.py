"""conv2d as a differentiable Function over the conv2d kernel family (``fastnn.ops.conv2d``), and
F.pad's Function.

Forward runs the fused kernel (bias and optional ReLU in the epilogue); backward runs
``conv2d_backward_input`` and ``conv2d_backward_weight`` (which also gives the bias gradient).
"""

from __future__ import annotations

import numpy as np

from .._util import xp_of
from ..autograd import Function
from ..ops.conv2d import conv2d, conv2d_backward_input, conv2d_backward_weight

__all__ = ["Conv2dFunction", "PadFunction"]


class Conv2dFunction(Function):
    """y = act(conv2d(x, w) + b) on NCHW arrays; ``activation`` None or "relu"."""

    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding, dilation, groups, activation=None):
        ctx.unbatched = x.ndim == 3  # (C, H, W) runs as a batch of one, like PyTorch
        if ctx.unbatched:
            x = x[None]
        y = conv2d(x, weight, bias, stride, padding, dilation, groups, activation)
        ctx.save_for_backward(x, weight, y if activation == "relu" else None)
        ctx.geometry = (stride, padding, dilation, groups)
        ctx.has_bias = bias is not None
        return y[0] if ctx.unbatched else y

    @staticmethod
    def backward(ctx, grad):
        x, weight, y = ctx.saved_tensors
        if ctx.unbatched:
            grad = grad[None]
        if y is not None:  # fused ReLU: the gradient passes where the output is positive
            grad = grad * (y > 0)
        need = ctx.needs_input_grad
        gx = gw = gb = None
        if need[0]:
            gx = conv2d_backward_input(grad, weight, x.shape, *ctx.geometry)
            if ctx.unbatched:
                gx = gx[0]
        need_b = ctx.has_bias and need[2]
        if need[1]:
            gw, gb = conv2d_backward_weight(x, grad, weight.shape, *ctx.geometry, need_bias=need_b)
        elif need_b:
            gb = grad.sum(axis=(0, 2, 3))
        return gx, gw, gb, None, None, None, None, None


_NUMPY_MODES = {"constant": "constant", "reflect": "reflect", "replicate": "edge",
                "circular": "wrap"}


class PadFunction(Function):
    """F.pad: ``widths`` is one (before, after) pair per dimension of x. Constant mode allows
    negative widths (cropping); reflect/replicate/circular gather through an index map, whose
    adjoint (a bincount) is the backward."""

    @staticmethod
    def forward(ctx, x, widths, mode, value):
        xp = xp_of(x)
        ctx.in_shape = x.shape
        ctx.widths = widths
        ctx.mode = mode
        if mode == "constant":
            crop = tuple(slice(max(-a, 0), n - max(-b, 0)) for (a, b), n in zip(widths, x.shape))
            grow = tuple((max(a, 0), max(b, 0)) for a, b in widths)
            ctx.crop = crop
            return xp.pad(x[crop], grow, mode="constant", constant_values=value)
        dims = [i for i, (a, b) in enumerate(widths) if a or b]
        lead = dims[0] if dims else x.ndim
        inner = x.shape[lead:]
        index = xp.arange(int(np.prod(inner)), dtype=np.int64).reshape(inner)
        index = xp.pad(index, widths[lead:], mode=_NUMPY_MODES[mode])
        ctx.index = index
        ctx.lead = lead
        flat = x.reshape(x.shape[:lead] + (-1,))
        return flat[..., index]

    @staticmethod
    def backward(ctx, grad):
        xp = xp_of(grad)
        if ctx.mode == "constant":
            grow = tuple(slice(max(a, 0), n - max(b, 0))
                         for (a, b), n in zip(ctx.widths, grad.shape))
            g = grad[grow]
            if g.shape == ctx.in_shape:
                return g, None, None, None
            shrink = tuple((max(-a, 0), max(-b, 0)) for a, b in ctx.widths)
            return xp.pad(g, shrink), None, None, None
        lead, index = ctx.lead, ctx.index
        batch = int(np.prod(ctx.in_shape[:lead]))
        inner = int(np.prod(ctx.in_shape[lead:]))
        offsets = (xp.arange(batch, dtype=np.int64) * inner)[:, None]
        flat_index = (offsets + index.reshape(1, -1)).ravel()
        g = xp.bincount(flat_index, weights=grad.reshape(-1).astype(np.float64),
                        minlength=batch * inner)
        return g.astype(grad.dtype).reshape(ctx.in_shape), None, None, None
