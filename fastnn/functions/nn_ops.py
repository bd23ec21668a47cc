"""nn Functions that are not a kernel family's: dropout, embedding, layer_norm (Linear lives with
the GEMM family in gemm.py).

Each forward works on raw arrays (NumPy or CuPy) and its backward sits right under it.
"""

from __future__ import annotations

import numpy as np

from .._util import xp_of
from ..autograd import Function
from ..ops import eltwise
from ..ops.softmax import dropout_backward, dropout_forward, embedding_backward

__all__ = ["DropoutFunction", "EmbeddingFunction", "LayerNormFunction"]


class DropoutFunction(Function):
    """Inverted dropout: y = x * mask / (1 - p), mask ~ Bernoulli(1 - p) drawn by
    ``fastnn.ops.softmax.dropout_forward`` (seeded from fastnn's generator; uint8 mask saved).

    ``mask_shape`` (broadcastable to x) drops whole channels (Dropout1d/2d/3d)."""

    @staticmethod
    def forward(ctx, x, p, mask_shape=None):
        y, mask = dropout_forward(x, p, mask_shape)
        ctx.save_for_backward(mask)
        ctx.scale = 1.0 / (1.0 - p)
        return y

    @staticmethod
    def backward(ctx, grad):
        (mask,) = ctx.saved_tensors
        return dropout_backward(grad, mask, ctx.scale), None, None


class EmbeddingFunction(Function):
    """Row lookup ``weight[indices]``; backward scatter-adds rows in index order
    (``fastnn.ops.softmax.embedding_backward``; the padding_idx row gets none,
    ``scale_grad_by_freq`` divides by each index's count in the batch)."""

    @staticmethod
    def forward(ctx, weight, indices, padding_idx=None, scale_grad_by_freq=False):
        ctx.save_for_backward(indices)
        ctx.num_weights = weight.shape
        ctx.padding_idx = padding_idx
        ctx.scale_grad_by_freq = scale_grad_by_freq
        return weight[indices]

    @staticmethod
    def backward(ctx, grad):
        (indices,) = ctx.saved_tensors
        gw = embedding_backward(grad, indices, ctx.num_weights[0], ctx.padding_idx,
                                ctx.scale_grad_by_freq)
        return gw, None, None, None


class LayerNormFunction(Function):
    """Layer normalisation over the trailing ``len(normalized_shape)`` dims, fused fwd + bwd.

    y = (x - mean) * rstd * w + b,  rstd = 1 / sqrt(var + eps)  (biased variance, like PyTorch).
    Backward (per row of n elements, xhat = (x - mean) * rstd, g = dy * w):
    dx = rstd * (g - mean(g) - xhat * mean(g * xhat)); dw = sum(dy * xhat); db = sum(dy).
    Float32 NumPy arrays run the C++ kernels (``fastnn.ops.eltwise``: one pass per row each
    way, saving x, mean and rstd) when the cpp backend is selected; the NumPy/CuPy code below is
    their reference and every other array's path (saving xhat and rstd).
    """

    @staticmethod
    def forward(ctx, x, weight, bias, n_norm, eps):
        xp = xp_of(x)
        lead = x.shape[: x.ndim - n_norm]
        n = int(np.prod(x.shape[x.ndim - n_norm:], dtype=np.int64))
        ctx.shapes = (x.shape, lead, n, None if bias is None else bias.shape)
        if n and eltwise.lib_for(x, weight, bias) is not None:
            y, mean, rstd = eltwise.layer_norm_forward(x, weight, bias, n, eps)
            ctx.save_for_backward(x, mean, rstd, weight)
            ctx.cpp = True
            return y
        ctx.cpp = False
        # few fresh buffers: on this machine allocating (page-faulting) a large array costs
        # more than the arithmetic on it
        x2 = x.reshape(-1, n)
        xhat = x2 - x2.mean(axis=1, keepdims=True)
        y = xp.multiply(xhat, xhat)
        var = y.mean(axis=1, keepdims=True)
        var += x.dtype.type(eps)
        rstd = xp.sqrt(var)
        xp.reciprocal(rstd, out=rstd)
        xhat *= rstd
        if weight is not None:
            xp.multiply(xhat, weight.reshape(1, n), out=y)
        else:
            y[...] = xhat
        if bias is not None:
            y += bias.reshape(1, n)
        ctx.save_for_backward(xhat, rstd, weight)
        return y.reshape(x.shape)

    @staticmethod
    def backward(ctx, grad):
        x_shape, lead, n, bshape = ctx.shapes
        need = ctx.needs_input_grad
        if ctx.cpp:
            x, mean, rstd, weight = ctx.saved_tensors
            if eltwise.lib_for(grad) is not None:
                gx, gw, gb = eltwise.layer_norm_backward(
                    grad, x, mean, rstd, weight, n,
                    (need[0], weight is not None and need[1], bshape is not None and need[2]))
                if gw is not None:
                    gw = gw.reshape(weight.shape)
                if gb is not None:
                    gb = gb.reshape(bshape)
                return gx, gw, gb, None, None
            rstd = rstd.reshape(-1, 1)  # the reference backward from the saved statistics
            xhat = (x.reshape(-1, n) - mean.reshape(-1, 1)) * rstd
        else:
            xhat, rstd, weight = ctx.saved_tensors
        xp = xp_of(grad)
        g2 = grad.reshape(-1, n)
        gw = gb = gx = None
        tmp = xp.multiply(g2, xhat)
        if weight is not None and need[1]:
            gw = tmp.sum(axis=0).reshape(weight.shape)
        if bshape is not None and need[2]:
            gb = g2.sum(axis=0).reshape(bshape)
        if need[0]:
            if weight is not None:
                g = xp.multiply(g2, weight.reshape(1, n))
                xp.multiply(g, xhat, out=tmp)
            else:
                g = g2.copy()
            mgx = tmp.mean(axis=1, keepdims=True)
            g -= g.mean(axis=1, keepdims=True)
            xp.multiply(xhat, mgx, out=tmp)
            g -= tmp
            g *= rstd
            gx = g.reshape(x_shape)
        return gx, gw, gb, None, None
