"""Reference conv2d (the specification): im2col through a strided view, then one matmul per group.

Clear over fast: the column matrix is materialised (N, G, Cg*KH*KW, OH*OW), which is fine for the
test shapes this backend exists for. Works in float32 and float64.
"""

import numpy as np
from numpy.lib.stride_tricks import as_strided


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
