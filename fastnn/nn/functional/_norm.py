"""group_norm, instance_norm, rms_norm, local_response_norm and bilinear: compositions of the fused
LayerNorm Function (the statistics of group and instance norm are a layer norm over a reshaped
view), the GEMM and ordinary Tensor ops, so autograd comes with them."""

from __future__ import annotations

import numpy as np

from ...functions.nn_ops import LayerNormFunction
from ...functions.shape import cat
from ...tensor import wrap
from ._core import linear

__all__ = ["group_norm", "instance_norm", "rms_norm", "local_response_norm", "bilinear"]


def _channel_view(t, ndim):
    """A (C,) per-channel tensor shaped (1, C, 1, ...) against an ``ndim``-D input."""
    return t.reshape((1, -1) + (1,) * (ndim - 2))


def _affine(y, weight, bias):
    if weight is not None:
        y = y * _channel_view(weight, y.dim())
    if bias is not None:
        y = y + _channel_view(bias, y.dim())
    return y


def _prod(shape):
    return int(np.prod(shape, dtype=np.int64)) if len(shape) else 1


def group_norm(input, num_groups: int, weight=None, bias=None, eps: float = 1e-5):
    """Normalise (N, C, *) input over each group of C / num_groups channels and all spatial
    positions (biased variance), then scale and shift per channel."""
    if input.dim() < 2:
        raise RuntimeError(
            f"Expected at least 2 dimensions for input tensor but received {input.dim()}"
        )
    shape = tuple(input.shape)
    N, C = shape[:2]
    if num_groups <= 0 or C % num_groups:
        raise RuntimeError(
            f"Expected number of channels in input to be divisible by num_groups, but got input "
            f"of shape {list(shape)} and num_groups={num_groups}"
        )
    if N * _prod(shape[2:]) == 1 and C // num_groups == 1:
        raise ValueError(
            "Expected more than 1 value per channel when training, got input size "
            f"{[N * C // num_groups, num_groups, *shape[2:]]}"
        )
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and (t.dim() != 1 or t.shape[0] != C):
            raise RuntimeError(
                f"Expected {name} to be a vector of size equal to the number of channels in "
                f"input, but got {name} of shape {list(t.shape)} and input of shape {list(shape)}"
            )
    per_group = (C // num_groups) * _prod(shape[2:])
    y = LayerNormFunction.apply(input.reshape(N, num_groups, per_group), None, None, 1, eps)
    return _affine(y.reshape(shape), weight, bias)


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None,
                  use_input_stats: bool = True, momentum: float = 0.1, eps: float = 1e-5):
    """Normalise each (sample, channel) of (N, C, *) input over its spatial positions
    (``use_input_stats``; the running statistics, if given, take the batch mean of the
    per-instance means and unbiased variances) or with ``running_mean``/``running_var``."""
    shape = tuple(input.shape)
    if input.dim() < 2:
        raise RuntimeError(f"instance_norm: expected at least a 2D input, got {input.dim()}D")
    N, C = shape[:2]
    spatial = _prod(shape[2:])
    if use_input_stats:
        if spatial == 1:
            raise ValueError(
                f"Expected more than 1 spatial element when training, got input size "
                f"{list(shape)}"
            )
        rows = input.reshape(N, C, spatial)
        if running_mean is not None or running_var is not None:
            _update_running(rows.array, running_mean, running_var, momentum)
        y = LayerNormFunction.apply(rows, None, None, 1, eps).reshape(shape)
    else:
        if running_mean is None or running_var is None:
            raise RuntimeError("Expected running_mean and running_var to be defined when "
                               "use_input_stats is false")
        y = (input - _channel_view(running_mean, input.dim())) / (
            _channel_view(running_var, input.dim()) + eps).sqrt()
    return _affine(y, weight, bias)


def _update_running(a, running_mean, running_var, momentum):
    """In place, outside autograd, as torch's batch norm over the (1, N*C, *) view does."""
    m = a.dtype.type(momentum)
    if running_mean is not None:
        rm = running_mean.array
        rm[...] = (1 - m) * rm + m * a.mean(axis=(0, 2)).astype(rm.dtype)
    if running_var is not None:
        rv = running_var.array
        var = a.var(axis=2, ddof=1)  # unbiased, per instance (more than 1 spatial element)
        rv[...] = (1 - m) * rv + m * var.mean(axis=0).astype(rv.dtype)


def _check_normalized_shape(input, normalized_shape):
    if isinstance(normalized_shape, int):
        normalized_shape = (normalized_shape,)
    normalized_shape = tuple(normalized_shape)
    k = len(normalized_shape)
    if k == 0 or input.dim() < k or tuple(input.shape[input.dim() - k:]) != normalized_shape:
        raise RuntimeError(
            f"Given normalized_shape={list(normalized_shape)}, expected input with shape "
            f"[*, {', '.join(map(str, normalized_shape))}], but got input of size"
            f"{list(input.shape)}"
        )
    return normalized_shape


def rms_norm(input, normalized_shape, weight=None, eps=None):
    """x / sqrt(mean(x^2 over the trailing ``normalized_shape`` dims) + eps) * weight; eps
    defaults to the machine epsilon of the input's dtype (float32's for lower precisions)."""
    normalized_shape = _check_normalized_shape(input, normalized_shape)
    if weight is not None and tuple(weight.shape) != normalized_shape:
        raise RuntimeError(
            f"Expected weight to be of same shape as normalized_shape, but got weight of shape "
            f"{list(weight.shape)} and normalized_shape = {list(normalized_shape)}"
        )
    if eps is None:
        dt = input.array.dtype
        eps = float(np.finfo(dt if dt == np.float64 else np.float32).eps)
    dims = tuple(range(input.dim() - len(normalized_shape), input.dim()))
    y = input * ((input * input).mean(dims, keepdim=True) + eps).rsqrt()
    return y if weight is None else y * weight


def local_response_norm(input, size: int, alpha: float = 1e-4, beta: float = 0.75,
                        k: float = 1.0):
    """x / (k + alpha * mean of x^2 over ``size`` neighbouring channels)^beta (zero-padded
    window of size//2 channels before and (size-1)//2 after, as torch)."""
    if input.dim() < 3:
        raise ValueError(
            f"Expected 3D or higher dimensionality input (got {input.dim()} dimensions)"
        )
    if size <= 0:
        raise ValueError(f"local_response_norm: size must be positive, got {size}")
    if input.numel() == 0:
        return input
    C = input.shape[1]
    sq = input * input
    before, after = size // 2, (size - 1) // 2
    rest = tuple(input.shape[2:])
    a = input.array
    parts = []
    if before:
        parts.append(wrap(_zeros_like(a, (input.shape[0], before) + rest)))
    parts.append(sq)
    if after:
        parts.append(wrap(_zeros_like(a, (input.shape[0], after) + rest)))
    padded = cat(parts, 1) if len(parts) > 1 else sq
    window = padded[:, 0:C]
    for s in range(1, size):
        window = window + padded[:, s:s + C]
    div = (window * (alpha / size) + k) ** beta
    return input / div


def _zeros_like(a, shape):
    if isinstance(a, np.ndarray):
        return np.zeros(shape, dtype=a.dtype)
    import cupy

    return cupy.zeros(shape, dtype=a.dtype)


def bilinear(input1, input2, weight, bias=None):
    """y[..., o] = x1 @ weight[o] @ x2 + bias[o]: one GEMM against ``weight`` (out, in1, in2)
    viewed as (out * in2, in1), then a product with x2 and a sum.

    Shapes: input1 (*, in1), input2 (*, in2) with the same leading dims, weight (out, in1, in2),
    bias (out,). Output (*, out).
    """
    if weight.dim() != 3:
        raise RuntimeError(f"bilinear(): weight must be 3D, got {weight.dim()}D")
    out_f, in1, in2 = weight.shape
    if input1.dim() != input2.dim():
        raise RuntimeError(
            f"bilinear(): input dimensions do not match: got {input1.dim()} and {input2.dim()}"
        )
    if tuple(input1.shape[:-1]) != tuple(input2.shape[:-1]):
        raise RuntimeError(
            "bilinear(): input batch dimensions do not match: got "
            f"{list(input1.shape[:-1])} and {list(input2.shape[:-1])}"
        )
    if input1.shape[-1] != in1:
        raise RuntimeError(
            f"bilinear(): input1 size does not match weight size: got {input1.shape[-1]} but "
            f"expected {in1}"
        )
    if input2.shape[-1] != in2:
        raise RuntimeError(
            f"bilinear(): input2 size does not match weight size: got {input2.shape[-1]} but "
            f"expected {in2}"
        )
    if bias is not None and tuple(bias.shape) != (out_f,):
        raise RuntimeError(
            f"bilinear(): bias size does not match weight size: got {list(bias.shape)} but "
            f"expected {[out_f]}"
        )
    lead = tuple(input1.shape[:-1])
    w = weight.transpose(1, 2).reshape(out_f * in2, in1)
    t = linear(input1, w).reshape(lead + (out_f, in2))
    y = (t * input2.unsqueeze(-2)).sum(-1)
    return y if bias is None else y + bias

