"""Numba conv2d (float32/float64): implicit GEMM on packed im2col tiles with a register-blocked
micro-kernel written as plain loops (no np.dot).

Version 1. Every kernel is one shape of ``C[M, L] += A[M, R] . B[R, L]`` (``_gemm_acc``): A is read
as scalars in 4x4 blocks (its strides are free), B and C are rows that LLVM vectorises over L, so
each C row load/store carries four FMAs per A column block.
    forward          C = y tile (OCg x PT),    A = W_g,            B = im2col tile (K x PT)
    backward_input   C = dcol tile (K x PT),    A = W_g^T,          B = dY tile (OCg x PT); col2im
    backward_weight  C = dW_g (OCg x K),        A = dY tile,        B = im2col tile^T (PT x K)
Threads: prange over (image, group, tile) items (forward, backward_weight with per-thread partial
sums) or over (image, group) (backward_input: col2im regions of one image overlap).
``fastmath={"contract"}`` only lets LLVM fuse multiply-adds; NaN/Inf semantics are unchanged.
"""

import numba
import numpy as np
from numba import njit, prange

_FM = {"contract"}


@njit(cache=True, fastmath=_FM)
def _gemm_acc(a, a_off, a_rs, a_cs, b, b_off, ldb, c, c_off, ldc, M, R, L):
    """c[c_off + m*ldc + l] += sum_r a[a_off + m*a_rs + r*a_cs] * b[b_off + r*ldb + l]."""
    m = 0
    while m + 4 <= M:
        c0, c1, c2, c3 = c_off + m * ldc, c_off + (m + 1) * ldc, c_off + (m + 2) * ldc, c_off + (m + 3) * ldc
        r = 0
        while r + 4 <= R:
            ar = a_off + m * a_rs + r * a_cs
            a00, a01, a02, a03 = a[ar], a[ar + a_cs], a[ar + 2 * a_cs], a[ar + 3 * a_cs]
            ar += a_rs
            a10, a11, a12, a13 = a[ar], a[ar + a_cs], a[ar + 2 * a_cs], a[ar + 3 * a_cs]
            ar += a_rs
            a20, a21, a22, a23 = a[ar], a[ar + a_cs], a[ar + 2 * a_cs], a[ar + 3 * a_cs]
            ar += a_rs
            a30, a31, a32, a33 = a[ar], a[ar + a_cs], a[ar + 2 * a_cs], a[ar + 3 * a_cs]
            b0 = b_off + r * ldb
            b1, b2, b3 = b0 + ldb, b0 + 2 * ldb, b0 + 3 * ldb
            for l in range(L):
                x0, x1, x2, x3 = b[b0 + l], b[b1 + l], b[b2 + l], b[b3 + l]
                c[c0 + l] += a00 * x0 + a01 * x1 + a02 * x2 + a03 * x3
                c[c1 + l] += a10 * x0 + a11 * x1 + a12 * x2 + a13 * x3
                c[c2 + l] += a20 * x0 + a21 * x1 + a22 * x2 + a23 * x3
                c[c3 + l] += a30 * x0 + a31 * x1 + a32 * x2 + a33 * x3
            r += 4
        while r < R:
            ar = a_off + m * a_rs + r * a_cs
            a0, a1, a2, a3 = a[ar], a[ar + a_rs], a[ar + 2 * a_rs], a[ar + 3 * a_rs]
            b0 = b_off + r * ldb
            for l in range(L):
                x0 = b[b0 + l]
                c[c0 + l] += a0 * x0
                c[c1 + l] += a1 * x0
                c[c2 + l] += a2 * x0
                c[c3 + l] += a3 * x0
            r += 1
        m += 4
    while m < M:
        c0 = c_off + m * ldc
        r = 0
        while r + 4 <= R:
            ar = a_off + m * a_rs + r * a_cs
            a0, a1, a2, a3 = a[ar], a[ar + a_cs], a[ar + 2 * a_cs], a[ar + 3 * a_cs]
            b0 = b_off + r * ldb
            b1, b2, b3 = b0 + ldb, b0 + 2 * ldb, b0 + 3 * ldb
            for l in range(L):
                c[c0 + l] += a0 * b[b0 + l] + a1 * b[b1 + l] + a2 * b[b2 + l] + a3 * b[b3 + l]
            r += 4
        while r < R:
            a0 = a[a_off + m * a_rs + r * a_cs]
            b0 = b_off + r * ldb
            for l in range(L):
                c[c0 + l] += a0 * b[b0 + l]
            r += 1
        m += 1


@njit(cache=True)
def _im2col(x, x_off, Cg, H, W, KH, KW, sh, sw, ph, pw, dh, dw, OW, p0, pt, col, rs, cs):
    """col[k*rs + q*cs] = padded input of row k = (c, i, j) at output pixel p0 + q."""
    for c in range(Cg):
        xc = x_off + c * H * W
        for i in range(KH):
            for j in range(KW):
                row = ((c * KH + i) * KW + j) * rs
                q = 0
                while q < pt:
                    p = p0 + q
                    oh = p // OW
                    ow0 = p - oh * OW
                    ow1 = min(OW, ow0 + pt - q)
                    ih = oh * sh - ph + i * dh
                    base = row + (q - ow0) * cs
                    if ih < 0 or ih >= H:
                        for ow in range(ow0, ow1):
                            col[base + ow * cs] = 0
                    else:
                        src = xc + ih * W - pw + j * dw
                        for ow in range(ow0, ow1):
                            iw = ow * sw - pw + j * dw
                            if iw >= 0 and iw < W:
                                col[base + ow * cs] = x[src + ow * sw]
                            else:
                                col[base + ow * cs] = 0
                    q += ow1 - ow0


@njit(cache=True)
def _col2im(col, Cg, H, W, KH, KW, sh, sw, ph, pw, dh, dw, OW, p0, pt, ldcol, dx, dx_off):
    for c in range(Cg):
        dxc = dx_off + c * H * W
        for i in range(KH):
            for j in range(KW):
                row = ((c * KH + i) * KW + j) * ldcol
                q = 0
                while q < pt:
                    p = p0 + q
                    oh = p // OW
                    ow0 = p - oh * OW
                    ow1 = min(OW, ow0 + pt - q)
                    ih = oh * sh - ph + i * dh
                    if ih >= 0 and ih < H:
                        base = row + q - ow0
                        dst = dxc + ih * W - pw + j * dw
                        for ow in range(ow0, ow1):
                            iw = ow * sw - pw + j * dw
                            if iw >= 0 and iw < W:
                                dx[dst + ow * sw] += col[base + ow]
                    q += ow1 - ow0


def _tile_cols(K, P):
    pt = max(64, (12288 // max(K, 1)) // 16 * 16)
    return max(1, min(pt, P))


@njit(cache=True, parallel=True)
def _forward(x, w, y, N, C, H, W, OC, KH, KW, OH, OW, sh, sw, ph, pw, dh, dw, G, PT):
    Cg, OCg = C // G, OC // G
    K, P = Cg * KH * KW, OH * OW
    ntiles = (P + PT - 1) // PT
    for it in prange(N * G * ntiles):
        t = it % ntiles
        ng = it // ntiles
        grp = ng % G
        n = ng // G
        p0 = t * PT
        pt = min(PT, P - p0)
        col = np.empty(K * PT, dtype=x.dtype)
        _im2col(x, (n * C + grp * Cg) * H * W, Cg, H, W, KH, KW, sh, sw, ph, pw, dh, dw, OW,
                p0, pt, col, PT, 1)
        _gemm_acc(w, grp * OCg * K, K, 1, col, 0, PT, y, (n * OC + grp * OCg) * P + p0, P,
                  OCg, K, pt)


@njit(cache=True, parallel=True)
def _epilogue(y, bias, relu, N, OC, P):
    for nc in prange(N * OC):
        base = nc * P
        oc = nc % OC
        if bias.shape[0] > 0:
            b = bias[oc]
            for p in range(P):
                y[base + p] += b
        if relu:
            for p in range(P):
                if y[base + p] < 0:
                    y[base + p] = 0


@njit(cache=True, parallel=True)
def _backward_input(dy, w, dx, N, C, H, W, OC, KH, KW, OH, OW, sh, sw, ph, pw, dh, dw, G, PT):
    Cg, OCg = C // G, OC // G
    K, P = Cg * KH * KW, OH * OW
    ntiles = (P + PT - 1) // PT
    for ng in prange(N * G):
        grp = ng % G
        n = ng // G
        col = np.empty(K * PT, dtype=dy.dtype)
        for t in range(ntiles):
            p0 = t * PT
            pt = min(PT, P - p0)
            col[:] = 0
            _gemm_acc(w, grp * OCg * K, 1, K, dy, (n * OC + grp * OCg) * P + p0, P, col, 0, PT,
                      K, OCg, pt)
            _col2im(col, Cg, H, W, KH, KW, sh, sw, ph, pw, dh, dw, OW, p0, pt, PT, dx,
                    (n * C + grp * Cg) * H * W)


@njit(cache=True, parallel=True)
def _backward_weight(x, dy, partial, N, C, H, W, OC, KH, KW, OH, OW, sh, sw, ph, pw, dh, dw, G,
                     PT):
    Cg, OCg = C // G, OC // G
    K, P = Cg * KH * KW, OH * OW
    ntiles = (P + PT - 1) // PT
    items = N * G * ntiles
    nparts = partial.shape[0] // (OC * K)
    for part in prange(nparts):
        colT = np.empty(PT * K, dtype=x.dtype)
        for it in range(part * items // nparts, (part + 1) * items // nparts):
            t = it % ntiles
            ng = it // ntiles
            grp = ng % G
            n = ng // G
            p0 = t * PT
            pt = min(PT, P - p0)
            _im2col(x, (n * C + grp * Cg) * H * W, Cg, H, W, KH, KW, sh, sw, ph, pw, dh, dw, OW,
                    p0, pt, colT, 1, K)
            _gemm_acc(dy, (n * OC + grp * OCg) * P + p0, P, 1, colT, 0, K, partial,
                      part * OC * K + grp * OCg * K, K, OCg, pt, K)


def _geometry(x_shape, w_shape, stride, padding, dilation):
    n, c, h, w = x_shape
    oc, _, kh, kw = w_shape
    oh = (h + 2 * padding[0] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    ow = (w + 2 * padding[1] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    return (n, c, h, w, oc, kh, kw, oh, ow, stride[0], stride[1], padding[0], padding[1],
            dilation[0], dilation[1])


def conv2d_forward(x, w, bias, stride, padding, dilation, groups, activation):
    geo = _geometry(x.shape, w.shape, stride, padding, dilation)
    n, c, _, _, oc, kh, kw, oh, ow = geo[:9]
    y = np.zeros((n, oc, oh, ow), dtype=x.dtype)
    if y.size == 0:
        return y
    pt = _tile_cols((c // groups) * kh * kw, oh * ow)
    _forward(x.reshape(-1), w.reshape(-1), y.reshape(-1), *geo, groups, pt)
    if bias is not None or activation == "relu":
        b = bias if bias is not None else np.zeros(0, dtype=x.dtype)
        _epilogue(y.reshape(-1), b, activation == "relu", n, oc, oh * ow)
    return y


def conv2d_backward_input(grad_out, w, input_shape, stride, padding, dilation, groups):
    geo = _geometry(input_shape, w.shape, stride, padding, dilation)
    n, c, _, _, _, kh, kw, oh, ow = geo[:9]
    dx = np.zeros(tuple(input_shape), dtype=grad_out.dtype)
    if dx.size == 0 or grad_out.size == 0:
        return dx
    pt = _tile_cols((c // groups) * kh * kw, oh * ow)
    _backward_input(grad_out.reshape(-1), w.reshape(-1), dx.reshape(-1), *geo, groups, pt)
    return dx


def conv2d_backward_weight(x, grad_out, weight_shape, stride, padding, dilation, groups, need_bias):
    geo = _geometry(x.shape, weight_shape, stride, padding, dilation)
    n, c, _, _, oc, kh, kw, oh, ow = geo[:9]
    k = (c // groups) * kh * kw
    db = _bias_grad(grad_out) if need_bias else None
    if grad_out.size == 0 or k == 0:
        return np.zeros(tuple(weight_shape), dtype=x.dtype), db
    pt = _tile_cols(k, oh * ow)
    items = n * groups * ((oh * ow + pt - 1) // pt)
    nparts = max(1, min(numba.get_num_threads(), items))
    partial = np.zeros(nparts * oc * k, dtype=x.dtype)
    _backward_weight(x.reshape(-1), grad_out.reshape(-1), partial, *geo, groups, pt)
    dw = partial.reshape(nparts, -1)
    dw = dw[0] if nparts == 1 else _sum_rows(dw)
    return dw.reshape(tuple(weight_shape)), db


@njit(cache=True)
def _sum_rows(a):
    out = a[0].copy()
    for r in range(1, a.shape[0]):
        for i in range(a.shape[1]):
            out[i] += a[r, i]
    return out


@njit(cache=True, parallel=True)
def _bias_grad_kernel(g, out):
    n, oc, p = g.shape
    for o in prange(oc):
        s = 0.0
        for i in range(n):
            for q in range(p):
                s += g[i, o, q]
        out[o] = s


def _bias_grad(grad_out):
    n, oc = grad_out.shape[:2]
    out = np.zeros(oc, dtype=grad_out.dtype)
    if grad_out.size:
        _bias_grad_kernel(grad_out.reshape(n, oc, -1), out)
    return out
