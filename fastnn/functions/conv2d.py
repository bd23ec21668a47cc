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

__all__ = ["Conv2dFunction", "ConvTranspose2dFunction", "PadFunction"]


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


class ConvTranspose2dFunction(Function):
    """y = conv_transpose2d(x, w) + b: the adjoint of conv2d, so its forward IS conv2d's input
    gradient (``conv2d_backward_input``), its input gradient is conv2d forward and its weight
    gradient is ``conv2d_backward_weight`` with the roles of input and output swapped.

    ``out_hw`` is the output's (H, W) (output_padding included); w is (C_in, C_out // groups,
    KH, KW) as in PyTorch.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding, dilation, groups, out_hw):
        ctx.unbatched = x.ndim == 3
        if ctx.unbatched:
            x = x[None]
        out_shape = (x.shape[0], weight.shape[1] * groups, *out_hw)
        y = conv2d_backward_input(x, weight, out_shape, stride, padding, dilation, groups)
        if bias is not None:
            y += bias.reshape(1, -1, 1, 1)
        ctx.save_for_backward(x, weight)
        ctx.geometry = (stride, padding, dilation, groups)
        ctx.has_bias = bias is not None
        return y[0] if ctx.unbatched else y

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        if ctx.unbatched:
            grad = grad[None]
        need = ctx.needs_input_grad
        gx = gw = gb = None
        if need[0]:
            gx = conv2d(grad, weight, None, *ctx.geometry)
            if ctx.unbatched:
                gx = gx[0]
        if need[1]:
            gw, _ = conv2d_backward_weight(grad, x, weight.shape, *ctx.geometry)
        if ctx.has_bias and need[2]:
            gb = grad.sum(axis=(0, 2, 3))
        return gx, gw, gb, None, None, None, None, None


def _source_index(n, before, after, mode):
    """Which input position each output position along one padded dim reads (int64)."""
    if mode == "replicate":  # PyTorch clamps, so a crop past the edge still reads the edge
        return np.clip(np.arange(n + before + after) - before, 0, n - 1)
    kept = np.arange(n)[max(-before, 0):n - max(-after, 0)]  # negative widths crop first
    return np.pad(kept, (max(before, 0), max(after, 0)),
                  mode="reflect" if mode == "reflect" else "wrap")


class PadFunction(Function):
    """F.pad: ``widths`` is one (before, after) pair per dimension of x; negative widths crop.
    Constant mode crops, then pads with ``value``; reflect/replicate/circular gather through an
    index map built one dim at a time, whose adjoint (a bincount) is the backward."""

    @staticmethod
    def forward(ctx, x, widths, mode, value):
        xp = xp_of(x)
        ctx.in_shape = x.shape
        ctx.mode = mode
        if mode == "constant":
            crop = tuple((max(-a, 0), max(-b, 0)) for a, b in widths)
            grow = tuple((max(a, 0), max(b, 0)) for a, b in widths)
            ctx.crop, ctx.grow = crop, grow
            if any(a or b for a, b in crop):
                x = x[tuple(slice(a, n - b) for (a, b), n in zip(crop, x.shape))]
            return xp.pad(x, grow, mode="constant", constant_values=value)
        dims = [i for i, (a, b) in enumerate(widths) if a or b]
        lead = dims[0] if dims else x.ndim
        inner = x.shape[lead:]
        size = int(np.prod(inner))
        index = xp.arange(size, dtype=np.int64).reshape(inner)
        for d, ((a, b), n) in enumerate(zip(widths[lead:], inner)):
            if a or b:
                index = xp.take(index, xp.asarray(_source_index(n, a, b, mode)), axis=d)
        ctx.index = index
        ctx.lead = lead
        return x.reshape(x.shape[:lead] + (size,))[..., index]

    @staticmethod
    def backward(ctx, grad):
        xp = xp_of(grad)
        shape = ctx.in_shape
        if ctx.mode == "constant":
            g = grad[tuple(slice(a, n - b) for (a, b), n in zip(ctx.grow, grad.shape))]
            if g.shape != shape:
                g = xp.pad(g, ctx.crop)
            return g, None, None, None
        lead, index = ctx.lead, ctx.index
        batch = int(np.prod(shape[:lead]))
        inner = int(np.prod(shape[lead:]))
        offsets = (xp.arange(batch, dtype=np.int64) * inner)[:, None]
        flat_index = (offsets + index.reshape(1, -1)).ravel()
        g = xp.bincount(flat_index, weights=grad.reshape(-1).astype(np.float64),
                        minlength=batch * inner)
        return g.astype(grad.dtype).reshape(shape), None, None, None
