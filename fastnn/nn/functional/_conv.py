"""The convolution family's part of fastnn.nn.functional (PyTorch's names, signatures and
semantics): conv2d, max_pool2d, avg_pool2d, adaptive_avg_pool2d, batch_norm, pad."""

from __future__ import annotations

import numbers

from ...functions.batchnorm import BatchNormFunction
from ...functions.conv2d import Conv2dFunction, PadFunction
from ...functions.pooling import AdaptiveAvgPool2dFunction, AvgPool2dFunction, MaxPool2dFunction
from ...ops.pooling import pool_args

__all__ = ["conv2d", "max_pool2d", "max_pool2d_with_indices", "avg_pool2d",
           "adaptive_avg_pool2d", "batch_norm", "pad"]


def _check_ndim(input, name, allowed=(3, 4)):
    if input.ndim not in allowed:
        raise ValueError(
            f"{name}: expected a 3-D (unbatched) or 4-D (batched) input, got {input.ndim}-D "
            f"with shape {tuple(input.shape)}")


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution (cross-correlation) over (N, C, H, W) or unbatched (C, H, W) input.

    Args:
        input: (N, C, H, W) or (C, H, W).
        weight: (OC, C // groups, KH, KW).
        bias: optional (OC,).
        stride, dilation: int or pair. padding: int, pair, "valid" or "same".
        groups: splits the channels into groups (groups == C: depthwise).

    Returns:
        (N, OC, OH, OW) (or (OC, OH, OW)).
    """
    _check_ndim(input, "input")
    return Conv2dFunction.apply(input, weight, bias, stride, padding, dilation, groups, None)


def max_pool2d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=True):
    """(values, indices): indices are flat positions in each input H*W plane (int64)."""
    _check_ndim(input, "input")
    kernel, stride, padding, dilation = pool_args(kernel_size, stride, padding, dilation)
    return MaxPool2dFunction.apply(input, kernel, stride, padding, dilation, bool(ceil_mode),
                                   True)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """Max pooling over (N, C, H, W) or (C, H, W). ``stride`` defaults to ``kernel_size``;
    padding (at most half the kernel) counts as -inf. ``return_indices`` also returns the flat
    argmax positions (what ``max_unpool2d`` takes)."""
    if return_indices:
        return max_pool2d_with_indices(input, kernel_size, stride, padding, dilation, ceil_mode)
    _check_ndim(input, "input")
    kernel, stride, padding, dilation = pool_args(kernel_size, stride, padding, dilation)
    return MaxPool2dFunction.apply(input, kernel, stride, padding, dilation, bool(ceil_mode),
                                   False)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """Average pooling over (N, C, H, W) or (C, H, W) with PyTorch's divisor rules."""
    _check_ndim(input, "input")
    kernel, stride, padding, _ = pool_args(kernel_size, stride, padding)
    if divisor_override is not None and int(divisor_override) == 0:
        raise ValueError("divisor_override: must be nonzero")
    return AvgPool2dFunction.apply(input, kernel, stride, padding, bool(ceil_mode),
                                   bool(count_include_pad), divisor_override)


def adaptive_avg_pool2d(input, output_size):
    """Average pooling to a fixed (OH, OW) whatever the input size (None keeps that dim)."""
    _check_ndim(input, "input")
    if isinstance(output_size, numbers.Integral):
        output_size = (output_size, output_size)
    h, w = input.shape[-2:]
    oh = h if output_size[0] is None else int(output_size[0])
    ow = w if output_size[1] is None else int(output_size[1])
    if oh < 1 or ow < 1:
        raise ValueError(f"output_size: expected positive sizes, got {output_size!r}")
    return AdaptiveAvgPool2dFunction.apply(input, (oh, ow))


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """Batch normalization over dim 1 of (N, C, *) input.

    In training the batch statistics normalise and the running ones (if given) are updated in
    place: running = (1 - momentum) * running + momentum * batch (unbiased variance). Otherwise
    the running statistics normalise.
    """
    if input.ndim < 2:
        raise ValueError(f"input: expected at least 2-D (N, C, *), got {input.ndim}-D")
    c = input.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != (c,):
            raise ValueError(f"{name}: expected shape ({c},), got {tuple(t.shape)}")
    if not training and (running_mean is None or running_var is None):
        raise ValueError("running_mean, running_var: needed when training=False")
    return BatchNormFunction.apply(input, weight, bias, running_mean, running_var,
                                   bool(training), float(momentum if momentum is not None
                                                         else 0.0), float(eps))


def pad(input, pad, mode="constant", value=None):
    """Pads the last len(pad)//2 dims: pad = (left, right, top, bottom, ...) from the last dim
    backwards. Modes: "constant" (value, default 0; negative widths crop), "reflect",
    "replicate", "circular"."""
    if len(pad) % 2 or len(pad) // 2 > input.ndim:
        raise ValueError(f"pad: expected an even number of at most 2*{input.ndim} widths, "
                         f"got {len(pad)}")
    if mode not in ("constant", "reflect", "replicate", "circular"):
        raise ValueError(f"mode: expected 'constant', 'reflect', 'replicate' or 'circular', "
                         f"got {mode!r}")
    widths = [(0, 0)] * input.ndim
    for i in range(len(pad) // 2):
        widths[input.ndim - 1 - i] = (int(pad[2 * i]), int(pad[2 * i + 1]))
    if mode != "constant":
        if any(a < 0 or b < 0 for a, b in widths):
            raise ValueError(f"pad: negative widths need mode='constant', got {pad!r}")
        for (a, b), n in zip(widths, input.shape):
            if mode == "reflect" and (a >= n or b >= n):
                raise ValueError(f"pad: reflect padding ({a}, {b}) must be smaller than the "
                                 f"dimension ({n})")
    return PadFunction.apply(input, tuple(widths), mode, 0.0 if value is None else float(value))
