"""Numba conv2d (float32/float64): implicit GEMM on packed im2col tiles, no np.dot.

Version 1 (``_gemm_acc``, still used for strided backward_input): ``C[M, L] += A[M, R] . B[R, L]``
as plain loops, A read as scalars in 4x4 blocks, B and C rows vectorised by LLVM over L.
Measured 8-9 GFLOP/s on one Zen 4 core (benchmarks/conv_tuning.py --backend numba --threads 1
--clock cpu): LLVM keeps the C rows in memory, so every FMA costs a load and a store.

Version 2 (forward, stride-1 backward_input, backward_weight): the numba GEMM's SIMD intrinsics
(``_vload``/``_vfma``/``_vstore`` from gemm.py, VBITS-wide vectors) in a 6 x 2-vector register
tile (``_micro``): weights packed once per call into 6-row panels (K x 6), im2col columns of a
tile packed into 2-vector panels (K x NR, NR = 2 * VBITS / dtype bits: 16 float32 on AVX2), the
accumulators stay in registers for the whole reduction. Stride-1 backward_input is this forward
on dY with transposed, flipped weights (padding d*(k-1) - p). backward_weight reduces over a
tile's pixels: dY rows are the A panels, the transposed im2col tile the B panels, into
per-thread partial sums.
Threads: prange over (image, group, pixel tile) items.
``fastmath={"contract"}`` only lets LLVM fuse multiply-adds; NaN/Inf semantics are unchanged.
"""

import numba
import numpy as np
from numba import njit, prange

from .gemm import VBITS, _lanes, _vfma, _vload, _vstore, _vzero

_FM = {"contract"}


@njit(cache=True, fastmath=_FM)
def _gemm_acc(a, a_off, a_rs, a_cs, b, b_off, ldb, c, c_off, ldc, M, R, L):
    """c[c_off + m*ldc + l] += sum_r a[a_off + m*a_rs + r*a_cs] * b[b_off + r*ldb + l]."""
    m = 0
    while m + 4 <= M:
        c0, c1 = c_off + m * ldc, c_off + (m + 1) * ldc
        c2, c3 = c_off + (m + 2) * ldc, c_off + (m + 3) * ldc
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
            for col in range(L):
                x0, x1, x2, x3 = b[b0 + col], b[b1 + col], b[b2 + col], b[b3 + col]
                c[c0 + col] += a00 * x0 + a01 * x1 + a02 * x2 + a03 * x3
                c[c1 + col] += a10 * x0 + a11 * x1 + a12 * x2 + a13 * x3
                c[c2 + col] += a20 * x0 + a21 * x1 + a22 * x2 + a23 * x3
                c[c3 + col] += a30 * x0 + a31 * x1 + a32 * x2 + a33 * x3
            r += 4
        while r < R:
            ar = a_off + m * a_rs + r * a_cs
            a0, a1, a2, a3 = a[ar], a[ar + a_rs], a[ar + 2 * a_rs], a[ar + 3 * a_rs]
            b0 = b_off + r * ldb
            for col in range(L):
                x0 = b[b0 + col]
                c[c0 + col] += a0 * x0
                c[c1 + col] += a1 * x0
                c[c2 + col] += a2 * x0
                c[c3 + col] += a3 * x0
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
            for col in range(L):
                c[c0 + col] += (a0 * b[b0 + col] + a1 * b[b1 + col] + a2 * b[b2 + col]
                                + a3 * b[b3 + col])
            r += 4
        while r < R:
            a0 = a[a_off + m * a_rs + r * a_cs]
            b0 = b_off + r * ldb
            for col in range(L):
                c[c0 + col] += a0 * b[b0 + col]
            r += 1
        m += 1


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


MR = 6  # rows of the register tile


@njit(cache=True)
def _micro(kc, ap, aoff, bp, boff, c, coff, ldc, accum):
    """c[coff + r*ldc : +NR] (= or +=) A panel (kc x MR, p-major) . B panel (kc x NR)."""
    w = _lanes(bp)
    if accum:
        c00, c01 = _vload(c, coff), _vload(c, coff + w)
        c10, c11 = _vload(c, coff + ldc), _vload(c, coff + ldc + w)
        c20, c21 = _vload(c, coff + 2 * ldc), _vload(c, coff + 2 * ldc + w)
        c30, c31 = _vload(c, coff + 3 * ldc), _vload(c, coff + 3 * ldc + w)
        c40, c41 = _vload(c, coff + 4 * ldc), _vload(c, coff + 4 * ldc + w)
        c50, c51 = _vload(c, coff + 5 * ldc), _vload(c, coff + 5 * ldc + w)
    else:
        c00 = c01 = c10 = c11 = c20 = c21 = _vzero(bp)
        c30 = c31 = c40 = c41 = c50 = c51 = _vzero(bp)
    for _ in range(kc):
        b0 = _vload(bp, boff)
        b1 = _vload(bp, boff + w)
        c00 = _vfma(ap, aoff, b0, c00)
        c01 = _vfma(ap, aoff, b1, c01)
        c10 = _vfma(ap, aoff + 1, b0, c10)
        c11 = _vfma(ap, aoff + 1, b1, c11)
        c20 = _vfma(ap, aoff + 2, b0, c20)
        c21 = _vfma(ap, aoff + 2, b1, c21)
        c30 = _vfma(ap, aoff + 3, b0, c30)
        c31 = _vfma(ap, aoff + 3, b1, c31)
        c40 = _vfma(ap, aoff + 4, b0, c40)
        c41 = _vfma(ap, aoff + 4, b1, c41)
        c50 = _vfma(ap, aoff + 5, b0, c50)
        c51 = _vfma(ap, aoff + 5, b1, c51)
        aoff += MR
        boff += 2 * w
    _vstore(c, coff, c00)
    _vstore(c, coff + w, c01)
    _vstore(c, coff + ldc, c10)
    _vstore(c, coff + ldc + w, c11)
    _vstore(c, coff + 2 * ldc, c20)
    _vstore(c, coff + 2 * ldc + w, c21)
    _vstore(c, coff + 3 * ldc, c30)
    _vstore(c, coff + 3 * ldc + w, c31)
    _vstore(c, coff + 4 * ldc, c40)
    _vstore(c, coff + 4 * ldc + w, c41)
    _vstore(c, coff + 5 * ldc, c50)
    _vstore(c, coff + 5 * ldc + w, c51)


@njit(cache=True)
def _pack_weights(w, G, OCg, K, ap):
    """ap[((g*np + ip)*K + k)*MR + r] = w[g*OCg + ip*MR + r, k] (zero rows past OCg)."""
    npan = (OCg + MR - 1) // MR
    for g in range(G):
        for ip in range(npan):
            base = (g * npan + ip) * K * MR
            for r in range(MR):
                oc = ip * MR + r
                if oc < OCg:
                    src = (g * OCg + oc) * K
                    for k in range(K):
                        ap[base + k * MR + r] = w[src + k]
                else:
                    for k in range(K):
                        ap[base + k * MR + r] = 0


@njit(cache=True)
def _gather(x, xc, H, W, KH, KW, sh, sw, ph, pw, dh, dw, OW, k, p0, pt, n_out, out, o_off,
            o_panel, o_step, NR):
    """Row k = (c, i, j) of the im2col matrix at columns p0..p0+n_out (zero past pt) into
    out[o_off + (q // NR)*o_panel + (q % NR)*o_step]; pixel coordinates advance by counters."""
    i = (k // KW) % KH
    j = k % KW
    oh = p0 // OW
    ow = p0 - oh * OW
    ih = oh * sh - ph + i * dh
    iw0 = j * dw - pw
    q = 0
    for jb in range((n_out + NR - 1) // NR):
        d = o_off + jb * o_panel
        for _ in range(NR):
            if q >= n_out:
                break
            if q >= pt:
                out[d] = 0
            else:
                iw = ow * sw + iw0
                if ih >= 0 and ih < H and iw >= 0 and iw < W:
                    out[d] = x[xc + ih * W + iw]
                else:
                    out[d] = 0
                ow += 1
                if ow == OW:
                    ow = 0
                    ih += sh
            d += o_step
            q += 1


@njit(cache=True)
def _pack_tile(x, x_off, Cg, H, W, KH, KW, sh, sw, ph, pw, dh, dw, OW, p0, pt, K, NR, bp):
    """im2col columns p0..p0+pt of one image-group -> bp[(jb*K + k)*NR + l], q = jb*NR + l;
    columns past pt are zero."""
    n_out = ((pt + NR - 1) // NR) * NR
    for k in range(K):
        xc = x_off + (k // (KH * KW)) * H * W
        _gather(x, xc, H, W, KH, KW, sh, sw, ph, pw, dh, dw, OW, k, p0, pt, n_out, bp, k * NR,
                K * NR, 1, NR)


@njit(cache=True, parallel=True)
def _forward_v2(x, w, bias, has_bias, relu, y, N, C, H, W, OC, KH, KW, OH, OW, sh, sw, ph, pw,
                dh, dw, G, NR, PT):
    Cg, OCg = C // G, OC // G
    K, P = Cg * KH * KW, OH * OW
    npan = (OCg + MR - 1) // MR
    ap = np.empty(G * npan * K * MR, dtype=x.dtype)
    _pack_weights(w, G, OCg, K, ap)
    ntiles = (P + PT - 1) // PT
    for it in prange(N * G * ntiles):
        t = it % ntiles
        ng = it // ntiles
        grp = ng % G
        n = ng // G
        p0 = t * PT
        pt = min(PT, P - p0)
        bp = np.empty(PT * K, dtype=x.dtype)
        ct = np.empty(MR * NR, dtype=x.dtype)
        _pack_tile(x, (n * C + grp * Cg) * H * W, Cg, H, W, KH, KW, sh, sw, ph, pw, dh, dw, OW,
                   p0, pt, K, NR, bp)
        for jb in range((pt + NR - 1) // NR):
            cols = min(NR, pt - jb * NR)
            for ip in range(npan):
                _micro(K, ap, (grp * npan + ip) * K * MR, bp, jb * K * NR, ct, 0, NR, False)
                for r in range(min(MR, OCg - ip * MR)):
                    oc = grp * OCg + ip * MR + r
                    dst = (n * OC + oc) * P + p0 + jb * NR
                    for q in range(cols):
                        v = ct[r * NR + q]
                        if has_bias:
                            v += bias[oc]
                        if relu and v < 0:
                            v = 0
                        y[dst + q] = v


@njit(cache=True, parallel=True)
def _backward_weight_v2(x, dy, partial, N, C, H, W, OC, KH, KW, OH, OW, sh, sw, ph, pw, dh, dw,
                        G, NR, PT, nparts):
    Cg, OCg = C // G, OC // G
    K, P = Cg * KH * KW, OH * OW
    npan = (OCg + MR - 1) // MR
    OCp = npan * MR
    nkb = (K + NR - 1) // NR
    Kp = nkb * NR
    ntiles = (P + PT - 1) // PT
    items = N * G * ntiles
    for part in prange(nparts):
        ap = np.empty(npan * PT * MR, dtype=x.dtype)
        bp = np.empty(nkb * PT * NR, dtype=x.dtype)
        acc = part * G * OCp * Kp
        for it in range(part * items // nparts, (part + 1) * items // nparts):
            t = it % ntiles
            ng = it // ntiles
            grp = ng % G
            n = ng // G
            p0 = t * PT
            pt = min(PT, P - p0)
            for ip in range(npan):  # dY rows -> ap[(ip*PT + q)*MR + r]
                for r in range(MR):
                    oc = ip * MR + r
                    src = (n * OC + grp * OCg + oc) * P + p0
                    base = ip * PT * MR + r
                    if oc < OCg:
                        for q in range(pt):
                            ap[base + q * MR] = dy[src + q]
                    else:
                        for q in range(pt):
                            ap[base + q * MR] = 0
            x_off = (n * C + grp * Cg) * H * W
            for k in range(Kp):  # im2col^T -> bp[(kb*PT + q)*NR + l]
                base = (k // NR) * PT * NR + k % NR
                if k >= K:
                    for q in range(pt):
                        bp[base + q * NR] = 0
                    continue
                xc = x_off + (k // (KH * KW)) * H * W
                _gather(x, xc, H, W, KH, KW, sh, sw, ph, pw, dh, dw, OW, k, p0, pt, pt, bp, base,
                        NR * NR, NR, NR)
            for ip in range(npan):
                for kb in range(nkb):
                    _micro(pt, ap, ip * PT * MR, bp, kb * PT * NR, partial,
                           acc + (grp * OCp + ip * MR) * Kp + kb * NR, Kp, True)


@njit(cache=True)
def _reduce_partials(partial, nparts, G, OCg, OCp, K, Kp, dw):
    psize = G * OCp * Kp
    for grp in range(G):
        for oc in range(OCg):
            for k in range(K):
                s = partial[(grp * OCp + oc) * Kp + k]
                for t in range(1, nparts):
                    s += partial[t * psize + (grp * OCp + oc) * Kp + k]
                dw[(grp * OCg + oc) * K + k] = s


def _nr(dtype):
    """Columns of the 2-vector register tile: must match gemm's _lanes (VBITS wide vectors)."""
    return 2 * (VBITS // 8 // np.dtype(dtype).itemsize)


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
    k = (c // groups) * kh * kw
    y = (np.empty if k else np.zeros)((n, oc, oh, ow), dtype=x.dtype)
    if y.size == 0:
        return y
    if k == 0:  # no input channels: bias (and ReLU) alone
        if bias is not None:
            y += bias.reshape(1, oc, 1, 1)
        return np.maximum(y, 0, out=y) if activation == "relu" else y
    nr = _nr(x.dtype)
    pt = nr * max(1, min(8, 65536 // (k * nr), -(-(oh * ow) // nr)))
    b = bias if bias is not None else np.zeros(1, dtype=x.dtype)
    _forward_v2(x.reshape(-1), w.reshape(-1), b, bias is not None, activation == "relu",
                y.reshape(-1), *geo, groups, nr, pt)
    return y


def conv2d_backward_input(grad_out, w, input_shape, stride, padding, dilation, groups):
    geo = _geometry(input_shape, w.shape, stride, padding, dilation)
    n, c, h, wd, oc, kh, kw, oh, ow = geo[:9]
    if (stride == (1, 1) and padding[0] <= dilation[0] * (kh - 1)
            and padding[1] <= dilation[1] * (kw - 1) and grad_out.size and c // groups >= 16):
        # stride 1: a forward convolution of dY with each group's weights transposed and flipped
        # (few input channels would leave its 6-row panels mostly empty: those take version 1)
        cg, ocg = c // groups, oc // groups
        wt = w.reshape(groups, ocg, cg, kh, kw)[:, :, :, ::-1, ::-1].transpose(0, 2, 1, 3, 4)
        wt = np.ascontiguousarray(wt).reshape(c, ocg, kh, kw)
        pad = (dilation[0] * (kh - 1) - padding[0], dilation[1] * (kw - 1) - padding[1])
        return conv2d_forward(grad_out, wt, None, (1, 1), pad, dilation, groups, None)
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
    nr = _nr(x.dtype)
    ocg = oc // groups
    ocp = -(-ocg // MR) * MR
    kp = -(-k // nr) * nr
    pt = max(16, min(1024, 65536 // kp))
    items = n * groups * (-(-(oh * ow) // pt))
    nparts = max(1, min(numba.get_num_threads(), items))
    partial = np.zeros(nparts * groups * ocp * kp, dtype=x.dtype)
    _backward_weight_v2(x.reshape(-1), grad_out.reshape(-1), partial, *geo, groups, nr, pt,
                        nparts)
    dw = np.empty(tuple(weight_shape), dtype=x.dtype)
    _reduce_partials(partial, nparts, groups, ocg, ocp, k, kp, dw.reshape(-1))
    return dw, db


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


# ------------------------------------------------------------------------------- max pooling


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
    from ..reference.conv2d import pool_geometry

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
