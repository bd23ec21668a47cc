"""Reference max pooling (the specification), written against the array module of x: NumPy here,
CuPy when the pooling Function hands it GPU arrays. Each kernel tap is a strided view of the padded
plane; the taps are compared (forward) or scattered back (backward) one at a time."""

import numpy as np

from ..._util import pool_output_size, xp_of


def pool_geometry(shape, kernel, stride, padding, dilation, ceil_mode):
    """(OH, OW, HP, WP): output size and the padded extent the window taps read."""
    h, w = shape[-2:]
    oh = pool_output_size(h, kernel[0], stride[0], padding[0], dilation[0], ceil_mode)
    ow = pool_output_size(w, kernel[1], stride[1], padding[1], dilation[1], ceil_mode)
    hp = max(h + 2 * padding[0], (oh - 1) * stride[0] + dilation[0] * (kernel[0] - 1) + 1)
    wp = max(w + 2 * padding[1], (ow - 1) * stride[1] + dilation[1] * (kernel[1] - 1) + 1)
    return oh, ow, hp, wp


def pad_to(x, padding, hp, wp, value):
    """x inside an (.., HP, WP) frame of ``value`` at offset ``padding``."""
    h, w = x.shape[-2:]
    if (hp, wp) == (h, w):
        return x
    xp = xp_of(x)
    out = xp.full(x.shape[:-2] + (hp, wp), value, dtype=x.dtype)
    out[..., padding[0]:padding[0] + h, padding[1]:padding[1] + w] = x
    return out


def tap(a, i, j, oh, ow, stride, dilation):
    """The strided view of the padded plane that kernel tap (i, j) reads for every output."""
    r0, c0 = i * dilation[0], j * dilation[1]
    rows = slice(r0, r0 + stride[0] * (oh - 1) + 1, stride[0])
    return a[..., rows, slice(c0, c0 + stride[1] * (ow - 1) + 1, stride[1])]


def max_pool2d_forward(x, kernel, stride, padding, dilation, ceil_mode):
    xp = xp_of(x)
    oh, ow, hp, wp = pool_geometry(x.shape, kernel, stride, padding, dilation, ceil_mode)
    xpad = pad_to(x, padding, hp, wp, -np.inf)
    taps = kernel[0] * kernel[1]
    best = xp.array(tap(xpad, 0, 0, oh, ow, stride, dilation))
    arg = xp.zeros(best.shape, dtype=np.int32)
    mask = xp.empty(best.shape, dtype=bool)
    for nan_aware in (False, True):
        for t in range(1, taps):
            v = tap(xpad, t // kernel[1], t % kernel[1], oh, ow, stride, dilation)
            xp.greater(v, best, out=mask)  # strict: the first maximum wins, as in PyTorch
            if nan_aware:  # NaN propagates (the last NaN of the window, as in PyTorch)
                xp.logical_or(mask, xp.isnan(v), out=mask)
            xp.copyto(best, v, where=mask)
            xp.copyto(arg, t, where=mask)
        # `>` ignores NaN; one cheap sum tells whether the NaN-aware pass is needed
        if nan_aware or not bool(xp.isnan(x.sum())):
            break
        best[...] = tap(xpad, 0, 0, oh, ow, stride, dilation)
        arg[...] = 0
    return best, arg


def max_pool2d_backward(grad_out, arg, input_shape, kernel, stride, padding, dilation, ceil_mode):
    xp = xp_of(grad_out)
    h, w = input_shape[-2:]
    oh, ow, hp, wp = pool_geometry(input_shape, kernel, stride, padding, dilation, ceil_mode)
    # windows that tile the input exactly: every input pixel is in one tap's slice, so the taps
    # can assign instead of accumulate into a zeroed buffer
    tiles = (stride == kernel and dilation == (1, 1) and padding == (0, 0)
             and (hp, wp) == (h, w) == (oh * kernel[0], ow * kernel[1]))
    gpad = (xp.empty if tiles else xp.zeros)(tuple(input_shape[:-2]) + (hp, wp),
                                            dtype=grad_out.dtype)
    picked = xp.empty(grad_out.shape, dtype=grad_out.dtype)
    mask = xp.empty(grad_out.shape, dtype=bool)
    for t in range(kernel[0] * kernel[1]):
        xp.equal(arg, t, out=mask)
        # select, not multiply: a NaN/Inf gradient reaches only its own tap (NaN * 0 is NaN)
        picked.fill(0)
        xp.copyto(picked, grad_out, where=mask)
        view = tap(gpad, t // kernel[1], t % kernel[1], oh, ow, stride, dilation)
        if tiles:
            view[...] = picked
        else:
            view += picked
    if (hp, wp) == (h, w):
        return gpad
    return xp.ascontiguousarray(gpad[..., padding[0]:padding[0] + h, padding[1]:padding[1] + w])
