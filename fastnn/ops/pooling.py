"""Array-level max pooling (NCHW, PyTorch semantics) and its backward: validate, lay out,
dispatch to the chosen backend."""

from __future__ import annotations

import numpy as np

from .. import backends
from .._util import check_array, check_grad_shape, contiguous, pair, pool_output_size, shape4

__all__ = ["max_pool2d", "max_pool2d_backward"]


def pool_args(kernel_size, stride=None, padding=0, dilation=1):
    """(kernel, stride, padding, dilation) as int pairs, validated as PyTorch does: stride
    defaults to the kernel (None or an empty sequence), padding at most half the kernel."""
    kernel = pair(kernel_size, "kernel_size", 1)
    empty = isinstance(stride, (tuple, list)) and not stride
    stride = kernel if stride is None or empty else pair(stride, "stride", 1)
    padding = pair(padding, "padding", 0)
    dilation = pair(dilation, "dilation", 1)
    if padding[0] > kernel[0] // 2 or padding[1] > kernel[1] // 2:
        raise ValueError(f"padding: should be at most half of the kernel size, got padding="
                         f"{padding} and kernel_size={kernel}")
    return kernel, stride, padding, dilation


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               backend=None):
    """Max pooling over NCHW input (PyTorch's semantics; padding counts as -inf).

    Returns:
        (y, arg): y (N, C, OH, OW) of x's dtype; arg (N, C, OH, OW) int32, the kernel tap
        ``i*KW + j`` of each window's maximum (the first one; NaN wins), what
        ``max_pool2d_backward`` takes.
    """
    check_array(x, "x", 4)
    geo = pool_args(kernel_size, stride, padding, dilation)
    _pool_out(x.shape, *geo, ceil_mode)
    fn, _ = backends.get("max_pool2d_forward", x, backend=backend)
    return fn(contiguous(x), *geo, bool(ceil_mode))


def max_pool2d_backward(grad_out, arg, input_shape, kernel_size, stride=None, padding=0,
                        dilation=1, ceil_mode=False, backend=None):
    """Gradient of ``max_pool2d``: each grad_out element goes to its window's maximum."""
    check_array(grad_out, "grad_out", 4)
    input_shape = shape4(input_shape, "input_shape")
    geo = pool_args(kernel_size, stride, padding, dilation)
    want = (*input_shape[:2], *_pool_out(input_shape, *geo, ceil_mode))
    check_grad_shape(grad_out, want)
    if not hasattr(arg, "shape") or not hasattr(arg, "dtype"):
        raise TypeError(f"arg: expected an int32 array, got {type(arg).__name__}")
    if tuple(arg.shape) != want or np.dtype(arg.dtype) != np.int32:
        raise ValueError(f"arg: expected an int32 array of shape {want}, got "
                         f"{np.dtype(arg.dtype)} {tuple(arg.shape)}")
    taps = geo[0][0] * geo[0][1]
    if arg.size and (int(arg.min()) < 0 or int(arg.max()) >= taps):
        raise ValueError(f"arg: tap indices must lie in [0, {taps}) for a {geo[0][0]}x"
                         f"{geo[0][1]} kernel, got values in [{int(arg.min())}, "
                         f"{int(arg.max())}]")
    fn, _ = backends.get("max_pool2d_backward", grad_out, backend=backend)
    return fn(contiguous(grad_out), contiguous(arg), input_shape, *geo, bool(ceil_mode))


def _pool_out(shape, kernel, stride, padding, dilation, ceil_mode):
    out = tuple(pool_output_size(shape[2 + a], kernel[a], stride[a], padding[a], dilation[a],
                                 ceil_mode) for a in (0, 1))
    if min(out) < 1:
        raise ValueError(f"kernel_size: the pooling window does not fit the input {shape}")
    return out
