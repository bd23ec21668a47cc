"""Reference conv2d (the specification): im2col through a strided view, then one matmul per group.

Clear over fast: the column matrix is materialised (N, G, Cg*KH*KW, OH*OW), which is fine for the
test shapes this backend exists for. Works in float32 and float64.
"""

import numpy as np
from numpy.lib.stride_tricks import as_strided


def _out_size(size, k, s, p, d):
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


def _windows(x, kh, kw, stride, padding, dilation):
    """A read-only (N, C, KH, KW, OH, OW) view of the zero-padded x: element [n, c, i, j, oh, ow]
    is xp[n, c, oh*sh + i*dh, ow*sw + j*dw]."""
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw))) if ph or pw else np.ascontiguousarray(x)
    n, c, hp, wp = xp.shape
    oh = (hp - dh * (kh - 1) - 1) // sh + 1
    ow = (wp - dw * (kw - 1) - 1) // sw + 1
    s0, s1, s2, s3 = xp.strides
    view = as_strided(xp, (n, c, kh, kw, oh, ow), (s0, s1, s2 * dh, s3 * dw, s2 * sh, s3 * sw),
                      writeable=False)
    return view, oh, ow


def _columns(x, kh, kw, stride, padding, dilation, groups):
    """(N, G, Cg*KH*KW, OH*OW) im2col matrix and (OH, OW)."""
    view, oh, ow = _windows(x, kh, kw, stride, padding, dilation)
    n, c = x.shape[:2]
    cols = view.reshape(n, groups, (c // groups) * kh * kw, oh * ow)
    return cols, oh, ow


def conv2d_forward(x, w, bias, stride, padding, dilation, groups, activation):
    n = x.shape[0]
    oc, cg, kh, kw = w.shape
    cols, oh, ow = _columns(x, kh, kw, stride, padding, dilation, groups)
    wg = w.reshape(groups, oc // groups, cg * kh * kw)
    y = np.matmul(wg[None], cols)  # (N, G, OCg, OH*OW)
    y = y.reshape(n, oc, oh, ow)
    if bias is not None:
        y = y + bias.reshape(1, oc, 1, 1)
    if activation == "relu":
        y = np.maximum(y, 0)
    return np.ascontiguousarray(y, dtype=x.dtype)


def conv2d_backward_input(grad_out, w, input_shape, stride, padding, dilation, groups):
    n, c, h, wd = input_shape
    oc, cg, kh, kw = w.shape
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    _, _, oh, ow = grad_out.shape
    wg = w.reshape(groups, oc // groups, cg * kh * kw)
    dy = grad_out.reshape(n, groups, oc // groups, oh * ow)
    dcols = np.matmul(wg.transpose(0, 2, 1)[None], dy)  # (N, G, Cg*KH*KW, OH*OW)
    dcols = dcols.reshape(n, c, kh, kw, oh, ow)
    # col2im: every kernel tap adds its columns back into the strided window it was read from.
    dxp = np.zeros((n, c, h + 2 * ph, wd + 2 * pw), dtype=grad_out.dtype)
    for i in range(kh):
        for j in range(kw):
            r0, c0 = i * dh, j * dw
            rows = slice(r0, r0 + sh * (oh - 1) + 1, sh)
            cols = slice(c0, c0 + sw * (ow - 1) + 1, sw)
            dxp[:, :, rows, cols] += dcols[:, :, i, j]
    return np.ascontiguousarray(dxp[:, :, ph:ph + h, pw:pw + wd])


def conv2d_backward_weight(x, grad_out, weight_shape, stride, padding, dilation, groups, need_bias):
    oc, cg, kh, kw = weight_shape
    n = x.shape[0]
    cols, oh, ow = _columns(x, kh, kw, stride, padding, dilation, groups)
    dy = grad_out.reshape(n, groups, oc // groups, oh * ow)
    dw = np.matmul(dy, cols.transpose(0, 1, 3, 2)).sum(axis=0)  # (G, OCg, Cg*KH*KW)
    dw = np.ascontiguousarray(dw.reshape(weight_shape), dtype=x.dtype)
    db = np.ascontiguousarray(grad_out.sum(axis=(0, 2, 3)), dtype=x.dtype) if need_bias else None
    return dw, db


# ------------------------------------------------------------------------------- max pooling
# Written against the array module of x (NumPy here; the pooling Function reuses it for CuPy).


def pool_output_size(size, k, s, p, d, ceil_mode):
    """PyTorch's pooling output length (ceil_mode drops a last window starting in the padding)."""
    span = size + 2 * p - d * (k - 1) - 1
    out = (-(-span // s) if ceil_mode else span // s) + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


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
    xp = _xp(x)
    out = xp.full(x.shape[:-2] + (hp, wp), value, dtype=x.dtype)
    out[..., padding[0]:padding[0] + h, padding[1]:padding[1] + w] = x
    return out


def tap(a, i, j, oh, ow, stride, dilation):
    """The strided view of the padded plane that kernel tap (i, j) reads for every output."""
    r0, c0 = i * dilation[0], j * dilation[1]
    rows = slice(r0, r0 + stride[0] * (oh - 1) + 1, stride[0])
    return a[..., rows, slice(c0, c0 + stride[1] * (ow - 1) + 1, stride[1])]


def _xp(x):
    if isinstance(x, np.ndarray):
        return np
    import cupy  # the pooling Function hands CuPy arrays here on a GPU

    return cupy


def max_pool2d_forward(x, kernel, stride, padding, dilation, ceil_mode):
    xp = _xp(x)
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
    xp = _xp(grad_out)
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
        xp.multiply(grad_out, mask, out=picked)
        view = tap(gpad, t // kernel[1], t % kernel[1], oh, ow, stride, dilation)
        if tiles:
            view[...] = picked
        else:
            view += picked
    if (hp, wp) == (h, w):
        return gpad
    return xp.ascontiguousarray(gpad[..., padding[0]:padding[0] + h, padding[1]:padding[1] + w])
