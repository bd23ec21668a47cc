"""Batch normalization as one Function (NumPy or CuPy arrays, any (N, C, *) input).

Training mode normalises with the batch statistics (biased variance) and updates the running
statistics in place with the unbiased variance, as PyTorch does; eval mode uses the running
statistics. Backward is the closed form (one pass of two channel reductions).
"""

from __future__ import annotations

import numpy as np

from .._util import xp_of
from ..autograd import Function
from . import _batchnorm_numba as _fast

__all__ = ["BatchNormFunction"]


def _channel_shape(x):
    return (1, x.shape[1]) + (1,) * (x.ndim - 2)


def _update_running(running_mean, running_var, mean, var, momentum, count):
    """In place, as PyTorch: running = (1 - momentum) * running + momentum * batch statistic,
    the variance unbiased."""
    if running_mean is not None:
        running_mean *= 1 - momentum
        running_mean += (momentum * mean).astype(running_mean.dtype)
    if running_var is not None:
        unbiased = var * (count / (count - 1))
        running_var *= 1 - momentum
        running_var += (momentum * unbiased).astype(running_var.dtype)


class BatchNormFunction(Function):
    """y = (x - mean) / sqrt(var + eps) * weight + bias over channel dim 1.

    Positional args: x, weight (or None), bias (or None), running_mean, running_var (arrays or
    None; updated in place in training), training, momentum (a float; the module turns
    momentum=None into the cumulative-average factor 1/num_batches_tracked), eps.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, running_mean, running_var, training, momentum, eps):
        xp = xp_of(x)
        axes = (0,) + tuple(range(2, x.ndim))
        cshape = _channel_shape(x)
        count = x.size // max(x.shape[1], 1)
        ctx.empty = x.size == 0
        if ctx.empty:  # PyTorch: an empty batch passes through; running statistics stay
            return x.copy()
        if training:
            if count <= 1:
                raise ValueError(
                    f"input: expected more than 1 value per channel when training, got input "
                    f"of shape {tuple(x.shape)}")
            if _fast.applies(x):  # CPU: one fused Numba pass per direction (_batchnorm_numba)
                y, mean, var, invstd = _fast.forward_train(x, weight, bias, eps)
                _update_running(running_mean, running_var, mean, var, momentum, count)
                ctx.save_for_backward(x, mean, invstd, weight)
                ctx.training, ctx.fused = True, True
                ctx.has_bias = bias is not None
                return y
            mean = x.mean(axis=axes, dtype=np.float64 if x.dtype == np.float32 else None)
            xc = x - mean.astype(x.dtype).reshape(cshape)
            var = (xc * xc).mean(axis=axes, dtype=np.float64 if x.dtype == np.float32 else None)
            _update_running(running_mean, running_var, mean, var, momentum, count)
            invstd = (1.0 / xp.sqrt(var + eps)).astype(x.dtype)
        else:
            mean, var = running_mean, running_var
            xc = x - mean.astype(x.dtype).reshape(cshape)
            invstd = (1.0 / xp.sqrt(var.astype(np.float64) + eps)).astype(x.dtype)
        xhat = xc * invstd.reshape(cshape)
        y = xhat
        if weight is not None:
            y = y * weight.reshape(cshape)
        if bias is not None:
            y = y + bias.reshape(cshape)
        ctx.save_for_backward(xhat, invstd, weight)
        ctx.training, ctx.fused = training, False
        ctx.has_bias = bias is not None
        return y.astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad):
        need = ctx.needs_input_grad
        if ctx.empty:
            zeros = xp_of(grad).zeros((grad.shape[1],), dtype=grad.dtype)
            return (grad.copy(), zeros if need[1] else None, zeros.copy() if need[2] else None,
                    None, None, None, None, None)
        if ctx.fused:
            x, mean, invstd, weight = ctx.saved_tensors
            gx, gweight, gbias = _fast.backward_train(grad, x, mean, invstd, weight, need[0])
            return (gx, gweight if weight is not None and need[1] else None,
                    gbias if ctx.has_bias and need[2] else None, None, None, None, None, None)
        xhat, invstd, weight = ctx.saved_tensors
        axes = (0,) + tuple(range(2, grad.ndim))
        cshape = _channel_shape(grad)
        gbias = grad.sum(axis=axes)
        gweight = (grad * xhat).sum(axis=axes)
        gx = None
        if need[0]:
            scale = invstd if weight is None else invstd * weight
            if ctx.training:
                count = grad.size // max(grad.shape[1], 1)
                gx = (grad - (gbias / count).reshape(cshape)
                      - xhat * (gweight / count).reshape(cshape)) * scale.reshape(cshape)
            else:
                gx = grad * scale.reshape(cshape)
            gx = gx.astype(grad.dtype, copy=False)
        return (gx, gweight if weight is not None and need[1] else None,
                gbias if ctx.has_bias and need[2] else None, None, None, None, None, None)
