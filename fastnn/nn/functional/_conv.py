"""The convolution family's part of fastnn.nn.functional (PyTorch's names, signatures and
semantics): conv1d/2d/3d, conv_transpose1d/2d/3d, max_pool2d, avg_pool2d, adaptive_avg_pool2d,
batch_norm, pad.

Only conv2d and conv_transpose2d are Functions over the conv2d kernels; the others compose them:
conv1d is conv2d over a unit height, conv3d sums KD conv2d calls over strided depth slices (the
output depth folded into the batch), conv_transpose3d sums KD conv_transpose2d calls, each
spread over the output depth by zero-insertion and padding."""

from __future__ import annotations

import numbers

from ..._util import pair
from ...functions.batchnorm import BatchNormFunction
from ...functions.conv2d import Conv2dFunction, ConvTranspose2dFunction, PadFunction
from ...functions.pooling import AdaptiveAvgPool2dFunction, AvgPool2dFunction, MaxPool2dFunction
from ...ops.pooling import pool_args

__all__ = ["conv1d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
           "conv2d", "max_pool2d", "max_pool2d_with_indices", "avg_pool2d",
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


def ntuple(value, n, name, minimum=None):
    """(int,) * n from an int or an n-sequence of ints (PyTorch's _single/_pair/_triple)."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        out = (int(value),) * n
    elif (isinstance(value, (tuple, list)) and len(value) in (1, n)
          and all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in value)):
        out = tuple(int(v) for v in value) * (n // len(value))
    else:
        raise TypeError(f"{name}: expected an int or a {n}-tuple of ints, got {value!r}")
    if minimum is not None and min(out) < minimum:
        raise ValueError(f"{name}: expected values >= {minimum}, got {value!r}")
    return out


def _check_conv(input, weight, n, name):
    if input.ndim not in (n + 1, n + 2):
        raise ValueError(f"input: {name} expects a {n + 1}-D (unbatched) or {n + 2}-D (batched) "
                         f"input, got {input.ndim}-D with shape {tuple(input.shape)}")
    if weight.ndim != n + 2:
        raise ValueError(f"weight: {name} expects a {n + 2}-D weight, got {weight.ndim}-D with "
                         f"shape {tuple(weight.shape)}")


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution over (N, C, L) or (C, L) input with weight (OC, C // groups, K): conv2d
    over a unit height. padding: int, 1-tuple, "valid" or "same"."""
    _check_conv(input, weight, 1, "conv1d")
    stride = (1, *ntuple(stride, 1, "stride"))
    dilation = (1, *ntuple(dilation, 1, "dilation"))
    if not isinstance(padding, str):
        padding = (0, *ntuple(padding, 1, "padding"))
    y = Conv2dFunction.apply(input.unsqueeze(-2), weight.unsqueeze(-2), bias, stride, padding,
                             dilation, groups, None)
    return y.squeeze(-2)


def _same_pads(kernel, dilation):
    """(before, after) per spatial dim for padding="same" (an odd total puts one more after)."""
    return [(d * (k - 1) // 2, d * (k - 1) - d * (k - 1) // 2) for k, d in zip(kernel, dilation)]


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """3-D convolution over (N, C, D, H, W) or (C, D, H, W) input with weight
    (OC, C // groups, KD, KH, KW): a sum over the KD kernel slices of conv2d calls on the
    strided depth slices of the input (output depth folded into the batch)."""
    _check_conv(input, weight, 3, "conv3d")
    stride = ntuple(stride, 3, "stride", 1)
    dilation = ntuple(dilation, 3, "dilation", 1)
    unbatched = input.ndim == 4
    x = input.unsqueeze(0) if unbatched else input
    if isinstance(padding, str):
        if padding not in ("same", "valid"):
            raise ValueError(f"padding: expected an int, a triple, 'same' or 'valid', got "
                             f"{padding!r}")
        if padding == "same" and stride != (1, 1, 1):
            raise ValueError("padding: 'same' is only supported with stride 1 (as in PyTorch)")
        pads = (_same_pads(weight.shape[2:], dilation) if padding == "same"
                else [(0, 0)] * 3)
        x = pad(x, [w for p in reversed(pads) for w in p])
        padding = (0, 0, 0)
    padding = ntuple(padding, 3, "padding", 0)
    if padding[0]:
        x = pad(x, (0, 0, 0, 0, padding[0], padding[0]))
    n, c, d = x.shape[:3]
    kd = weight.shape[2]
    od = (d - dilation[0] * (kd - 1) - 1) // stride[0] + 1
    if od < 1:
        raise ValueError(f"weight: kernel depth {kd} (dilation {dilation[0]}) is larger than the "
                         f"padded input depth {d}")
    y = None
    for k in range(kd):
        start = k * dilation[0]
        xs = x[:, :, start:start + stride[0] * (od - 1) + 1:stride[0]]
        xs = xs.permute(0, 2, 1, 3, 4).reshape(n * od, c, *x.shape[3:])
        yk = Conv2dFunction.apply(xs, weight[:, :, k], bias if k == 0 else None, stride[1:],
                                  padding[1:], dilation[1:], groups, None)
        y = yk if y is None else y + yk
    y = y.reshape(n, od, *y.shape[1:]).permute(0, 2, 1, 3, 4)
    return y.squeeze(0) if unbatched else y


def _transposed_size(size, k, s, p, d, op):
    return (size - 1) * s - 2 * p + d * (k - 1) + op + 1


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """2-D transposed convolution (the adjoint of conv2d) over (N, C_in, H, W) or (C_in, H, W)
    with weight (C_in, C_out // groups, KH, KW). Output size per dim:
    (H - 1) * stride - 2 * padding + dilation * (KH - 1) + output_padding + 1."""
    _check_conv(input, weight, 2, "conv_transpose2d")
    stride = pair(stride, "stride", 1)
    padding = pair(padding, "padding", 0)
    dilation = pair(dilation, "dilation", 1)
    output_padding = pair(output_padding, "output_padding", 0)
    if not isinstance(groups, numbers.Integral) or groups < 1:
        raise ValueError(f"groups: expected a positive int, got {groups!r}")
    for o, s_, d_ in zip(output_padding, stride, dilation):
        if o >= s_ and o >= d_:
            raise ValueError(f"output_padding: must be smaller than either stride or dilation, "
                             f"got output_padding={output_padding}, stride={stride}, "
                             f"dilation={dilation}")
    if input.shape[-3] != weight.shape[0]:
        raise ValueError(f"weight: expected {input.shape[-3]} input channels in dim 0, got "
                         f"shape {tuple(weight.shape)}")
    if output_padding[0] >= stride[0] or output_padding[1] >= stride[1]:
        # conv2d's input gradient cannot make rows past its last window: run unpadded, then
        # crop `padding` off the front and take `output_padding - padding` more (zeros) after
        y = conv_transpose2d(input, weight, None, stride, 0, 0, groups, dilation)
        (ph, pw), (oh, ow) = padding, output_padding
        y = pad(y, (-pw, ow - pw, -ph, oh - ph))
        return y if bias is None else y + bias.reshape(-1, 1, 1)
    out_hw = tuple(_transposed_size(input.shape[-2 + a], weight.shape[2 + a], stride[a],
                                    padding[a], dilation[a], output_padding[a]) for a in (0, 1))
    if min(out_hw) < 1:
        raise ValueError(f"input: conv_transpose2d output size {out_hw} is not positive")
    return ConvTranspose2dFunction.apply(input, weight, bias, stride, padding, dilation,
                                         int(groups), out_hw)


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """1-D transposed convolution: conv_transpose2d over a unit height."""
    _check_conv(input, weight, 1, "conv_transpose1d")
    y = conv_transpose2d(input.unsqueeze(-2), weight.unsqueeze(-2), bias,
                         (1, *ntuple(stride, 1, "stride")), (0, *ntuple(padding, 1, "padding")),
                         (0, *ntuple(output_padding, 1, "output_padding")), groups,
                         (1, *ntuple(dilation, 1, "dilation")))
    return y.squeeze(-2)


def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """3-D transposed convolution over (N, C_in, D, H, W) or (C_in, D, H, W) with weight
    (C_in, C_out // groups, KD, KH, KW): for each kernel depth slice, conv_transpose2d over the
    input planes (depth folded into the batch), spread to output depths k*dilation + i*stride by
    zero-insertion and padding, summed; then the depth padding is cropped."""
    _check_conv(input, weight, 3, "conv_transpose3d")
    stride = ntuple(stride, 3, "stride", 1)
    padding = ntuple(padding, 3, "padding", 0)
    dilation = ntuple(dilation, 3, "dilation", 1)
    output_padding = ntuple(output_padding, 3, "output_padding", 0)
    if output_padding[0] >= max(stride[0], dilation[0]):
        raise ValueError(f"output_padding: must be smaller than either stride or dilation, got "
                         f"output_padding={output_padding}, stride={stride}, "
                         f"dilation={dilation}")
    unbatched = input.ndim == 4
    x = input.unsqueeze(0) if unbatched else input
    n, c, d = x.shape[:3]
    kd = weight.shape[2]
    full = (d - 1) * stride[0] + dilation[0] * (kd - 1) + output_padding[0] + 1
    if full - 2 * padding[0] < 1:
        raise ValueError(f"input: conv_transpose3d output depth {full - 2 * padding[0]} is not "
                         f"positive")
    planes = x.permute(0, 2, 1, 3, 4).reshape(n * d, c, *x.shape[3:])
    spread = (d - 1) * stride[0] + 1
    y = None
    for k in range(kd):
        z = conv_transpose2d(planes, weight[:, :, k], None, stride[1:], padding[1:],
                             output_padding[1:], groups, dilation[1:])
        z = z.reshape(n, d, *z.shape[1:]).permute(0, 2, 1, 3, 4)
        if stride[0] > 1:  # zero-insertion: D planes -> (D - 1) * stride + 1
            z = pad(z.unsqueeze(3), (0, 0, 0, 0, 0, stride[0] - 1))
            z = z.reshape(*z.shape[:2], d * stride[0], *z.shape[4:])[:, :, :spread]
        start = k * dilation[0]
        z = pad(z, (0, 0, 0, 0, start, full - start - spread))
        y = z if y is None else y + z
    if padding[0]:
        y = y[:, :, padding[0]:full - padding[0]]
    if bias is not None:
        y = y + bias.reshape(1, -1, 1, 1, 1)
    return y.squeeze(0) if unbatched else y


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
        for (a, b), n in zip(widths, input.shape):
            m = n - max(-a, 0) - max(-b, 0)  # the length left after negative widths crop
            if mode == "reflect" and max(a, b) >= m and max(a, b) > 0:
                raise ValueError(f"pad: reflect padding ({a}, {b}) must be smaller than the "
                                 f"dimension ({m})")
            if mode == "circular" and max(a, b) > m:
                raise ValueError(f"pad: circular padding ({a}, {b}) must be at most the "
                                 f"dimension ({m})")
            if mode == "replicate" and (a or b) and (n < 1 or n + a + b < 0):
                raise ValueError(f"pad: replicate padding ({a}, {b}) of a dimension of size "
                                 f"{n} leaves no output")
    return PadFunction.apply(input, tuple(widths), mode, 0.0 if value is None else float(value))


_pad = pad


def constant_pad_nd(input, pad, value=0):
    """torch.constant_pad_nd: F.pad in constant mode (negative widths crop)."""
    return _pad(input, pad, "constant", value)
