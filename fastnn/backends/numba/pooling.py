"""Numba max pooling (float32/float64): one prange item per (n, c) plane, PyTorch's tie and NaN
rules (first in-bounds maximum wins; a NaN wins).

Versions:
  version  idea                                          measured                     date
  1 (now)  scalar loops with bounds checks per tap       not measured separately      2026-11-23
"""

import numpy as np
from numba import njit, prange

from ..reference.pooling import pool_geometry


@njit(cache=True, parallel=True)
def _max_pool_fwd(x, y, arg, kh, kw, sh, sw, ph, pw, dh, dw):
    n, c, h, w = x.shape
    oh_, ow_ = y.shape[2], y.shape[3]
    for plane in prange(n * c):
        b, ch = plane // c, plane % c
        for oh in range(oh_):
            for ow in range(ow_):
                best = x[b, ch, 0, 0]
                bt = -1
                for i in range(kh):
                    ih = oh * sh - ph + i * dh
                    if ih < 0 or ih >= h:
                        continue
                    for j in range(kw):
                        iw = ow * sw - pw + j * dw
                        if iw < 0 or iw >= w:
                            continue
                        v = x[b, ch, ih, iw]
                        # PyTorch's rule: first in-bounds tap, then strictly greater or NaN
                        if bt < 0 or v > best or v != v:
                            best = v
                            bt = i * kw + j
                y[b, ch, oh, ow] = best
                arg[b, ch, oh, ow] = max(bt, 0)


@njit(cache=True, parallel=True)
def _max_pool_bwd(g, arg, dx, kh, kw, sh, sw, ph, pw, dh, dw):
    n, c, h, w = dx.shape
    oh_, ow_ = g.shape[2], g.shape[3]
    for plane in prange(n * c):
        b, ch = plane // c, plane % c
        for oh in range(oh_):
            for ow in range(ow_):
                t = arg[b, ch, oh, ow]
                ih = oh * sh - ph + (t // kw) * dh
                iw = ow * sw - pw + (t % kw) * dw
                if ih >= 0 and ih < h and iw >= 0 and iw < w:
                    dx[b, ch, ih, iw] += g[b, ch, oh, ow]


def max_pool2d_forward(x, kernel, stride, padding, dilation, ceil_mode):
    oh, ow, _, _ = pool_geometry(x.shape, kernel, stride, padding, dilation, ceil_mode)
    y = np.empty(x.shape[:2] + (oh, ow), dtype=x.dtype)
    arg = np.zeros(y.shape, dtype=np.int32)
    if y.size:
        _max_pool_fwd(x, y, arg, *kernel, *stride, *padding, *dilation)
    return y, arg


def max_pool2d_backward(grad_out, arg, input_shape, kernel, stride, padding, dilation, ceil_mode):
    dx = np.zeros(tuple(input_shape), dtype=grad_out.dtype)
    if grad_out.size:
        _max_pool_bwd(grad_out, arg, dx, *kernel, *stride, *padding, *dilation)
    return dx
