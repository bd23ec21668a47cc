"""Numba conv2d (float32/float64): implicit GEMM in SIMD registers, no np.dot.

The SIMD values are the numba GEMM's intrinsics (``_vload``/``_vfma``/``_vstore`` from gemm.py,
VBITS-wide vectors: 8 float32 / 4 float64 on AVX2) plus two of this module's (``_vmuladd``,
``_vhsum``). Weights are packed once per call into p-major panels of MR output channels (K x MR).

Forward, stride 1 (also stride-1 backward_input: the forward of dY with each group's weights
transposed and flipped, padding d*(k-1) - p) -- ``_forward_direct``, no im2col: an item (image,
group, block of output rows) copies the input rows it reads into a zero-padded block (Cg x HL x
WP, WP = W + 2*pw). On that grid the im2col element (k = (c, i, j), column q = oh*WP + ow) is
xp[koff[k] + q], so the micro-kernel loads its B vectors straight from the block through a
per-tap offset table. The WP - OW columns past each output row are computed and dropped: tiles go
to a buffer with bias and ReLU applied in registers, then the valid columns are copied to y.
Tiles: 6 x 2 vectors (``_micro_d``), or 4 x 3 vectors (``_micro_d4``) where that pads no more
output channels (OCg = 3 in a first layer's grad_x, 32, 64, ...) and K <= 2048.
Forward, other strides -- ``_forward_v3``: im2col of PT columns of the batch's pixels (N*OH*OW,
spanning images) into a K x PT buffer (runs along output rows, SIMD copies for sw == 1), 6 x
2-vector tiles (``_micro_d`` with koff[k] = k * ldb) stored straight into y where 16 columns
lie in one image.
backward_weight -- ``_backward_weight_v3``: tiles of (group, up to 1024 columns of the batch's
pixels); per tile the dY rows, then per block of im2col rows (about 32K elements) those rows, go
to buffers (exact zeros past the tile, so no 0 * Inf), then 4 x 3 dot products along the
columns in 12 SIMD accumulators (``_dot43``), summed across lanes. With at least one block per
thread the threads split the blocks and add straight into dW; else they split the tiles into
per-thread partials. The bias gradient sums each dY row in 4 SIMD accumulators, rows added in
float64.
Strided backward_input keeps version 1 (``_gemm_acc`` + ``_col2im``): plain loops vectorised by
LLVM, 8-9 GFLOP/s on one core.
Threads: prange over items (at least two per thread for the forward where rows allow).
Copy loops index with unsigned integers: Numba's negative-index wraparound otherwise keeps LLVM
from vectorising them (a 24-element run copied 5x slower).
``fastmath={"contract"}`` only lets LLVM fuse multiply-adds; NaN/Inf semantics are unchanged
(the forward's dropped columns may read padding or neighbouring rows, never past the block).

Versions (ratio: vs PyTorch CPU timed interleaved, AVX2 Zen 3; every figure in
docs/benchmarks.md, "Kernel history"):
  version  idea                                          measured                     date
  1        packed im2col tiles + 4x4 loop micro-kernel   -                            2026-11-23
  2        6 x 2-vector tile on the GEMM intrinsics,     CNN1 fwd 0.19x, bwd 0.31x    2026-11-23
           branchy per-element gather, scalar epilogue
  3 (now)  stride-1 direct forward (no im2col), SIMD     1 thread 0.85-1.27x per      2026-12-01
           im2col/dot backward_weight, epilogue in       pass; 2 threads fwd
           registers                                     1.13-1.57x, bwd 1.16-1.89x
"""

import numba
import numpy as np
from llvmlite import ir
from numba import njit, prange
from numba.extending import intrinsic

from .gemm import (
    VBITS,
    _fmuladd,
    _lanes,
    _store_6x2,
    _tile_6x2,
    _vadd,
    _vfma,
    _vload,
    _vrelu,
    _vstore,
    _vzero,
)

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


MR = 6  # rows of the forward register tile


@intrinsic
def _vhsum(typingctx, v):
    """Sum of a vector's lanes (a halving tree of shuffles and adds)."""

    def codegen(context, builder, sig, args):
        x = args[0]
        n = x.type.count
        i32 = ir.IntType(32)
        while n > 1:
            h = n // 2
            lo = ir.Constant(ir.VectorType(i32, h), [ir.Constant(i32, k) for k in range(h)])
            hi = ir.Constant(ir.VectorType(i32, h), [ir.Constant(i32, k) for k in range(h, n)])
            x = builder.fadd(builder.shuffle_vector(x, x, lo), builder.shuffle_vector(x, x, hi))
            n = h
        return builder.extract_element(x, ir.Constant(i32, 0))

    return v.dtype(v), codegen


@intrinsic
def _vmuladd(typingctx, x, y, z):
    """x * y + z per lane (one FMA)."""

    def codegen(context, builder, sig, args):
        return _fmuladd(builder, args[0].type, args[0], args[1], args[2])

    return x(x, y, z), codegen


@njit(cache=True)
def _pack_panel(w, G, OCg, K, npan, pan, ap, mr):
    """Panel pan = g*npan + ip: ap[(pan*K + k)*mr + r] = w[g*OCg + ip*mr + r, k] (zero rows past
    OCg)."""
    g, ip = pan // npan, pan % npan
    base = pan * K * mr
    for r in range(mr):
        oc = ip * mr + r
        if oc < OCg:
            src = (g * OCg + oc) * K
            for k in range(K):
                ap[base + k * mr + r] = w[src + k]
        else:
            for k in range(K):
                ap[base + k * mr + r] = 0


@njit(cache=True)
def _fill0(a, start, stop):
    """a[start:stop] = 0 (unsigned indices: no negative-index wraparound, so LLVM vectorises)."""
    for e in range(np.uint64(start), np.uint64(stop)):
        a[e] = 0


@njit(cache=True)
def _im2col(x, C, H, W, KH, KW, sh, sw, ph, pw, dh, dw, OH, OW, x_c0, k0, k1, c0, pt, ptv, bcol,
            ldb):
    """bcol[(k-k0)*ldb + q] = im2col row k = (c, i, j) (k0 <= k < k1) at column c0 + q of the
    batch's pixels (column = n*OH*OW + oh*OW + ow, channels from x_c0), zero outside the image
    and for q in [pt, ptv). Copies runs along output rows (SIMD vectors for sw == 1: bcol needs
    a vector of slack past its last row)."""
    P = OH * OW
    lw = _lanes(x)
    xn = x.size
    n0 = c0 // P
    oh0 = (c0 - n0 * P) // OW
    ow00 = c0 - n0 * P - oh0 * OW
    for k in range(k0, k1):
        c = k // (KH * KW)
        i = (k // KW) % KH
        j = k % KW
        off = j * dw - pw  # iw = ow*sw + off
        lo = 0 if off >= 0 else (-off + sw - 1) // sw
        hi = (W - 1 - off) // sw + 1 if W - 1 - off >= 0 else 0
        hi = min(hi, OW)
        row = (k - k0) * ldb
        n, oh, ow0 = n0, oh0, ow00
        q = 0
        while q < pt:
            end = min(OW, ow0 + pt - q)
            dst = row + q - ow0  # bcol[dst + ow]
            ih = oh * sh - ph + i * dh
            if ih < 0 or ih >= H or lo >= hi:
                _fill0(bcol, dst + ow0, dst + end)
            else:
                a = min(max(ow0, lo), end)
                e = max(min(end, hi), a)
                _fill0(bcol, dst + ow0, dst + a)
                src = ((n * C + x_c0 + c) * H + ih) * W + off
                if sw == 1 and src + a + (e - a + lw - 1) // lw * lw <= xn:
                    # whole vectors: the last may run past e (up to lw - 1 elements), into
                    # columns or rows written after this one, or the buffer's slack
                    d, s = dst + a, src + a
                    for _ in range((e - a + lw - 1) // lw):
                        _vstore(bcol, d, _vload(x, s))
                        d += lw
                        s += lw
                elif sw == 1:
                    d = np.uint64(dst + a)
                    s = np.uint64(src + a)
                    for t in range(np.uint64(e - a)):
                        bcol[d + t] = x[s + t]
                else:
                    for ow in range(a, e):
                        bcol[np.uint64(dst + ow)] = x[np.uint64(src + ow * sw)]
                _fill0(bcol, dst + e, dst + end)
            q += end - ow0
            ow0 = 0
            oh += 1
            if oh == OH:
                oh = 0
                n += 1
        _fill0(bcol, row + pt, row + ptv)


@njit(cache=True, parallel=True)
def _forward_v3(x, w, biasp, relu, y, N, C, H, W, OC, KH, KW, OH, OW, sh, sw, ph, pw, dh, dw,
                G, NR, PT, LDB, ones, jb_outer):
    Cg, OCg = C // G, OC // G
    K, P = Cg * KH * KW, OH * OW
    npan = (OCg + MR - 1) // MR
    ap = np.empty(G * npan * K * MR, dtype=x.dtype)
    for pan in prange(G * npan):
        _pack_panel(w, G, OCg, K, npan, pan, ap, MR)
    cols = N * P
    ntiles = (cols + PT - 1) // PT
    koff = np.arange(K) * LDB  # im2col row k of the tile buffer (see _micro_d)
    for it in prange(G * ntiles):
        grp = it // ntiles
        c0 = (it - grp * ntiles) * PT
        pt = min(PT, cols - c0)
        nj = (pt + NR - 1) // NR
        bcol = np.empty(K * LDB + NR, dtype=x.dtype)
        ct = np.empty(MR * NR, dtype=x.dtype)
        _im2col(x, C, H, W, KH, KW, sh, sw, ph, pw, dh, dw, OH, OW, grp * Cg, 0, K, c0, pt,
                nj * NR, bcol, LDB)
        for o in range(nj * npan):
            if jb_outer:
                jb, ip = o // npan, o % npan
            else:
                ip, jb = o // nj, o % nj
            q0 = jb * NR
            gc = c0 + q0
            n = gc // P
            p = gc - n * P
            rows = min(MR, OCg - ip * MR)
            pan = grp * npan + ip
            if rows == MR and q0 + NR <= pt and p + NR <= P:
                _micro_d(K, ap, pan * K * MR, bcol, q0, koff, y,
                       (n * OC + grp * OCg + ip * MR) * P + p, P, biasp, pan * MR, ones, relu)
            else:
                _micro_d(K, ap, pan * K * MR, bcol, q0, koff, ct, 0, NR, biasp, pan * MR, ones,
                       relu)
                for q in range(min(NR, pt - q0)):
                    if p == P:
                        p = 0
                        n += 1
                    dst = (n * OC + grp * OCg + ip * MR) * P + p
                    for r in range(rows):
                        y[dst + r * P] = ct[r * NR + q]
                    p += 1


@njit(cache=True)
def _micro_d(kc, ap, aoff, b, boff, koff, c, coff, ldc, bias, bias_off, ones, relu):
    """c[coff + r*ldc : +NR] = bias[bias_off + r] + A panel (kc x MR, p-major) . B, then
    max(., 0) when relu; NR = 2 vectors: the GEMM's register tile (gemm._tile_6x2) started from
    the bias. B row k is at b[boff + koff[k]]: the padded input shifted per tap (direct
    forward), or row k of an im2col buffer (koff[k] = k * ldb)."""
    z = _vzero(b)
    one = _vload(ones, 0)
    acc = _tile_6x2(kc, ap, aoff, b, boff, koff, _vfma(bias, bias_off, one, z),
                    _vfma(bias, bias_off + 1, one, z), _vfma(bias, bias_off + 2, one, z),
                    _vfma(bias, bias_off + 3, one, z), _vfma(bias, bias_off + 4, one, z),
                    _vfma(bias, bias_off + 5, one, z))
    _store_6x2(c, coff, ldc, relu, acc)


@njit(cache=True)
def _micro_d4(kc, ap, aoff, b, boff, koff, c, coff, ldc, bias, bias_off, ones, relu):
    """_micro_d for 4 rows x 3 vectors (12 accumulators + 3 B vectors + 1 broadcast: 16 ymm)."""
    w = _lanes(b)
    z = _vzero(b)
    one = _vload(ones, 0)
    c00 = c01 = c02 = _vfma(bias, bias_off, one, z)
    c10 = c11 = c12 = _vfma(bias, bias_off + 1, one, z)
    c20 = c21 = c22 = _vfma(bias, bias_off + 2, one, z)
    c30 = c31 = c32 = _vfma(bias, bias_off + 3, one, z)
    for k in range(kc):
        o = boff + koff[k]
        b0 = _vload(b, o)
        b1 = _vload(b, o + w)
        b2 = _vload(b, o + 2 * w)
        c00 = _vfma(ap, aoff, b0, c00)
        c01 = _vfma(ap, aoff, b1, c01)
        c02 = _vfma(ap, aoff, b2, c02)
        c10 = _vfma(ap, aoff + 1, b0, c10)
        c11 = _vfma(ap, aoff + 1, b1, c11)
        c12 = _vfma(ap, aoff + 1, b2, c12)
        c20 = _vfma(ap, aoff + 2, b0, c20)
        c21 = _vfma(ap, aoff + 2, b1, c21)
        c22 = _vfma(ap, aoff + 2, b2, c22)
        c30 = _vfma(ap, aoff + 3, b0, c30)
        c31 = _vfma(ap, aoff + 3, b1, c31)
        c32 = _vfma(ap, aoff + 3, b2, c32)
        aoff += 4
    if relu:
        c00, c01, c02 = _vrelu(c00), _vrelu(c01), _vrelu(c02)
        c10, c11, c12 = _vrelu(c10), _vrelu(c11), _vrelu(c12)
        c20, c21, c22 = _vrelu(c20), _vrelu(c21), _vrelu(c22)
        c30, c31, c32 = _vrelu(c30), _vrelu(c31), _vrelu(c32)
    _vstore(c, coff, c00)
    _vstore(c, coff + w, c01)
    _vstore(c, coff + 2 * w, c02)
    _vstore(c, coff + ldc, c10)
    _vstore(c, coff + ldc + w, c11)
    _vstore(c, coff + ldc + 2 * w, c12)
    _vstore(c, coff + 2 * ldc, c20)
    _vstore(c, coff + 2 * ldc + w, c21)
    _vstore(c, coff + 2 * ldc + 2 * w, c22)
    _vstore(c, coff + 3 * ldc, c30)
    _vstore(c, coff + 3 * ldc + w, c31)
    _vstore(c, coff + 3 * ldc + 2 * w, c32)


@njit(cache=True, parallel=True)
def _forward_direct(x, w, biasp, relu, y, N, C, H, W, OC, KH, KW, OH, OW, ph, pw, dh, dw, G, mr,
                    TN, RB, LD, ones, jb_outer):
    """Stride 1: no im2col. Per item (image, group, RB output rows) the rows it reads are copied
    into a zero-padded block xp (Cg x HL x WP, WP = W + 2*pw); on that grid im2col row k = (c, i,
    j) at column q = oh*WP + ow is xp[koff[k] + q], so the micro-kernel reads it in place. The
    WP - OW columns past each output row are computed and dropped: the tiles (mr x TN: 6 x 2
    vectors, or 4 x 3 vectors where that pads fewer rows) go to a buffer (bias and ReLU applied
    in registers) whose valid columns are then copied to y."""
    Cg, OCg = C // G, OC // G
    K = Cg * KH * KW
    npan = (OCg + mr - 1) // mr
    ap = np.empty(G * npan * K * mr, dtype=x.dtype)
    for pan in prange(G * npan):
        _pack_panel(w, G, OCg, K, npan, pan, ap, mr)
    WP = W + 2 * pw
    HL = RB + (KH - 1) * dh
    xsize = Cg * HL * WP + TN + (KW - 1) * dw
    koff = np.empty(K, dtype=np.int64)
    for k in range(K):
        koff[k] = ((k // (KH * KW)) * HL + ((k // KW) % KH) * dh) * WP + (k % KW) * dw
    nrb = (OH + RB - 1) // RB
    for it in prange(N * G * nrb):
        rb = it % nrb
        ng = it // nrb
        grp = ng % G
        n = ng // G
        oh0 = rb * RB
        rows = min(RB, OH - oh0)
        xp = np.empty(xsize, dtype=x.dtype)
        yb = np.empty(npan * mr * LD, dtype=x.dtype)
        for c in range(Cg):
            for r in range(HL):
                d = (c * HL + r) * WP
                ih = oh0 + r - ph
                if ih < 0 or ih >= H or r >= rows + (KH - 1) * dh:
                    _fill0(xp, d, d + WP)
                else:
                    _fill0(xp, d, d + pw)
                    s = np.uint64(((n * C + grp * Cg + c) * H + ih) * W)
                    dd = np.uint64(d + pw)
                    for t in range(np.uint64(W)):
                        xp[dd + t] = x[s + t]
                    _fill0(xp, d + pw + W, d + WP)
        _fill0(xp, Cg * HL * WP, xsize)
        nj = (rows * WP + TN - 1) // TN
        for o in range(nj * npan):
            if jb_outer:
                jb, ip = o // npan, o % npan
            else:
                ip, jb = o // nj, o % nj
            pan = grp * npan + ip
            if mr == MR:
                _micro_d(K, ap, pan * K * MR, xp, jb * TN, koff, yb, ip * MR * LD + jb * TN, LD,
                         biasp, pan * MR, ones, relu)
            else:
                _micro_d4(K, ap, pan * K * 4, xp, jb * TN, koff, yb, ip * 4 * LD + jb * TN, LD,
                          biasp, pan * 4, ones, relu)
        for oc in range(OCg):
            for r in range(rows):
                s = np.uint64(oc * LD + r * WP)
                d = np.uint64(((n * OC + grp * OCg + oc) * OH + oh0 + r) * OW)
                for t in range(np.uint64(OW)):
                    y[d + t] = yb[s + t]


@njit(cache=True)
def _dot43(nv, a, a0, a1, a2, a3, b, b0, b1, b2, out):
    """out[r*3 + s] = sum over nv vectors of a[ar + l] * b[bs + l] (4 a rows x 3 b rows)."""
    w = _lanes(a)
    z = _vzero(a)
    s00 = s01 = s02 = s10 = s11 = s12 = s20 = s21 = s22 = s30 = s31 = s32 = z
    o = 0
    for _ in range(nv):
        x0 = _vload(b, b0 + o)
        x1 = _vload(b, b1 + o)
        x2 = _vload(b, b2 + o)
        y0 = _vload(a, a0 + o)
        s00 = _vmuladd(y0, x0, s00)
        s01 = _vmuladd(y0, x1, s01)
        s02 = _vmuladd(y0, x2, s02)
        y1 = _vload(a, a1 + o)
        s10 = _vmuladd(y1, x0, s10)
        s11 = _vmuladd(y1, x1, s11)
        s12 = _vmuladd(y1, x2, s12)
        y2 = _vload(a, a2 + o)
        s20 = _vmuladd(y2, x0, s20)
        s21 = _vmuladd(y2, x1, s21)
        s22 = _vmuladd(y2, x2, s22)
        y3 = _vload(a, a3 + o)
        s30 = _vmuladd(y3, x0, s30)
        s31 = _vmuladd(y3, x1, s31)
        s32 = _vmuladd(y3, x2, s32)
        o += w
    out[0], out[1], out[2] = _vhsum(s00), _vhsum(s01), _vhsum(s02)
    out[3], out[4], out[5] = _vhsum(s10), _vhsum(s11), _vhsum(s12)
    out[6], out[7], out[8] = _vhsum(s20), _vhsum(s21), _vhsum(s22)
    out[9], out[10], out[11] = _vhsum(s30), _vhsum(s31), _vhsum(s32)


@njit(cache=True, parallel=True)
def _backward_weight_v3(x, dy, partial, N, C, H, W, OC, KH, KW, OH, OW, sh, sw, ph, pw, dh, dw,
                        G, PT, LDB, KB, nparts, ksplit):
    """partial[part, g, oc, k] = sum over the part's tiles of dY[oc, col] * im2col[k, col]; a tile
    is (group, PT columns of the batch's pixels). ksplit: each part takes every tile but its own
    share of the KB-row blocks of im2col, all into partial[0] (disjoint k); else each its own
    share of the tiles, all k. Per tile: the dY rows, then per block the im2col rows into
    buffers (zero past the tile, in both), then 4 x 3 dot products along the columns in SIMD
    registers."""
    Cg, OCg = C // G, OC // G
    K, P = Cg * KH * KW, OH * OW
    cols = N * P
    ntiles = (cols + PT - 1) // PT
    nkb = (K + KB - 1) // KB
    for part in prange(nparts):
        w = _lanes(x)
        bcol = np.empty(KB * LDB + w, dtype=x.dtype)
        dyl = np.empty(OCg * LDB, dtype=x.dtype)
        out = np.empty(12, dtype=x.dtype)
        if ksplit:
            acc = 0
            kb_lo, kb_hi = part * nkb // nparts, (part + 1) * nkb // nparts
            t_lo, t_hi = 0, G * ntiles
        else:
            acc = part * G * OCg * K
            kb_lo, kb_hi = 0, nkb
            t_lo, t_hi = part * G * ntiles // nparts, (part + 1) * G * ntiles // nparts
        for tile in range(t_lo, t_hi):
            grp = tile // ntiles
            c0 = (tile - grp * ntiles) * PT
            pt = min(PT, cols - c0)
            nv = (pt + w - 1) // w
            for oc in range(OCg):  # dY rows of the tile, zero past pt
                q = 0
                n = c0 // P
                p = c0 - n * P
                row = oc * LDB
                while q < pt:
                    m = min(P - p, pt - q)
                    d = np.uint64(row + q)
                    src = np.uint64((n * OC + grp * OCg + oc) * P + p)
                    for t in range(np.uint64(m)):
                        dyl[d + t] = dy[src + t]
                    q += m
                    p = 0
                    n += 1
                _fill0(dyl, row + pt, row + nv * w)
            for kbi in range(kb_lo, kb_hi):
                k0 = kbi * KB
                k1 = min(K, k0 + KB)
                _im2col(x, C, H, W, KH, KW, sh, sw, ph, pw, dh, dw, OH, OW, grp * Cg, k0, k1, c0,
                        pt, nv * w, bcol, LDB)
                kn = k1 - k0
                for ob in range(0, OCg, 4):
                    r1, r2, r3 = min(ob + 1, OCg - 1), min(ob + 2, OCg - 1), min(ob + 3, OCg - 1)
                    for kb in range(0, kn, 3):
                        kk1, kk2 = min(kb + 1, kn - 1), min(kb + 2, kn - 1)
                        _dot43(nv, dyl, ob * LDB, r1 * LDB, r2 * LDB, r3 * LDB, bcol, kb * LDB,
                               kk1 * LDB, kk2 * LDB, out)
                        for r in range(min(4, OCg - ob)):
                            dst = acc + (grp * OCg + ob + r) * K + k0 + kb
                            for t in range(min(3, kn - kb)):
                                partial[dst + t] += out[r * 3 + t]


@njit(cache=True)
def _reduce_partials(partial, nparts, size, dw):
    for e in range(size):
        s = partial[e]
        for t in range(1, nparts):
            s += partial[t * size + e]
        dw[e] = s


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


def _ldb(cols, itemsize):
    """Row stride of an im2col tile: cols rounded up to 16 elements, off multiples of 1 KiB so
    the rows a micro-kernel reads do not share L1 sets."""
    ld = -(-cols // 16) * 16
    return ld + 16 if (ld * itemsize) % 1024 == 0 else ld


def _fwd_tile(k, cols, nr):
    """Columns of a forward tile: an im2col block of about 48K elements (L2-resident)."""
    pt = max(nr, (49152 // max(k, 1)) // nr * nr)
    return min(pt, -(-cols // nr) * nr)


# Tuning knobs (module attributes, so a tuning script can set them; see
# benchmarks/conv_numba_tuning.py): output-grid columns per stride-1 forward item, whether the
# 4 x 3-vector tile may be used, pixel columns per backward_weight tile, im2col elements per
# backward_weight block.
TARGET_COLS = 512
MR4 = 1
BW_COLS = 1024
BW_BLOCK = 32768


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
    ocg = oc // groups
    ones = np.ones(nr, dtype=x.dtype)
    relu = activation == "relu"
    if stride == (1, 1):
        # 4 x 3 tiles where they pad no more rows (and K is small: more panels re-read B)
        mr = 4 if MR4 and k <= 2048 and -(-ocg // 4) * 4 <= -(-ocg // MR) * MR else MR
        tn = nr if mr == MR else nr * 3 // 2
        npan = -(-ocg // mr)
        biasp = np.zeros((groups, npan * mr), dtype=x.dtype)
        if bias is not None:
            biasp[:, :ocg] = bias.reshape(groups, ocg)
        wp = x.shape[3] + 2 * padding[1]
        rb = max(1, TARGET_COLS // wp)  # row blocks of about TARGET_COLS columns
        jb_outer = k * npan * mr * x.itemsize <= 16384  # every weight panel fits L1
        rb = min(rb, -(-oh // -(-2 * numba.get_num_threads() // (n * groups))))  # 2 items/thread
        rb = -(-oh // -(-oh // rb))  # balanced
        ld = _ldb(-(-(rb * wp) // tn) * tn, x.itemsize)
        _forward_direct(x.reshape(-1), w.reshape(-1), biasp.reshape(-1), relu, y.reshape(-1),
                        *geo[:9], *geo[11:], groups, mr, tn, rb, ld, ones, jb_outer)
        return y
    npan = -(-ocg // MR)
    biasp = np.zeros((groups, npan * MR), dtype=x.dtype)
    if bias is not None:
        biasp[:, :ocg] = bias.reshape(groups, ocg)
    jb_outer = k * npan * MR * x.itemsize <= 16384
    pt = _fwd_tile(k, n * oh * ow, nr)
    _forward_v3(x.reshape(-1), w.reshape(-1), biasp.reshape(-1), relu, y.reshape(-1), *geo,
                groups, nr, pt, _ldb(pt, x.itemsize), ones, jb_outer)
    return y


def conv2d_backward_input(grad_out, w, input_shape, stride, padding, dilation, groups):
    geo = _geometry(input_shape, w.shape, stride, padding, dilation)
    n, c, h, wd, oc, kh, kw, oh, ow = geo[:9]
    # The stride-1 path convolves a zero-padded dY: a non-finite weight times a padding zero is
    # NaN, which would reach every grad_x element instead of only those whose taps touch real
    # dY entries (torch's result). With a non-finite weight the col2im path below runs instead.
    if (stride == (1, 1) and padding[0] <= dilation[0] * (kh - 1)
            and padding[1] <= dilation[1] * (kw - 1) and grad_out.size
            and np.isfinite(w).all()):
        # stride 1: a forward convolution of dY with each group's weights transposed and flipped
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
    ocg = oc // groups
    cols = n * oh * ow
    pt = min(BW_COLS, -(-cols // 16) * 16)
    ldb = _ldb(pt, x.itemsize)
    kb = min(k, max(3, BW_BLOCK // ldb // 3 * 3))  # im2col block of about BW_BLOCK elements
    nkb = -(-k // kb)
    threads = numba.get_num_threads()
    ksplit = nkb >= threads
    nparts = max(1, min(threads, nkb if ksplit else groups * -(-cols // pt)))
    dw = np.zeros(tuple(weight_shape), dtype=x.dtype)
    if ksplit or nparts == 1:  # one sum per weight: straight into dw
        _backward_weight_v3(x.reshape(-1), grad_out.reshape(-1), dw.reshape(-1), *geo, groups,
                            pt, ldb, kb, nparts, True)
        return dw, db
    size = groups * ocg * k
    partial = np.zeros(nparts * size, dtype=x.dtype)
    _backward_weight_v3(x.reshape(-1), grad_out.reshape(-1), partial, *geo, groups, pt, ldb, kb,
                        nparts, False)
    _reduce_partials(partial, nparts, size, dw.reshape(-1))
    return dw, db


@njit(cache=True, parallel=True)
def _bias_grad_kernel(g, out, n, oc, p):
    """out[o] = sum of g[:, o, :] (g flat, n x oc x p): each image's row summed in 4 SIMD
    accumulators, the rows' sums added in float64."""
    w = _lanes(g)
    for o in prange(oc):
        s = 0.0
        for i in range(n):
            base = (i * oc + o) * p
            a0 = a1 = a2 = a3 = _vzero(g)
            q = 0
            while q + 4 * w <= p:
                a0 = _vadd(a0, _vload(g, base + q))
                a1 = _vadd(a1, _vload(g, base + q + w))
                a2 = _vadd(a2, _vload(g, base + q + 2 * w))
                a3 = _vadd(a3, _vload(g, base + q + 3 * w))
                q += 4 * w
            while q + w <= p:
                a0 = _vadd(a0, _vload(g, base + q))
                q += w
            t = _vhsum(_vadd(_vadd(a0, a1), _vadd(a2, a3)))
            while q < p:
                t += g[base + q]
                q += 1
            s += t
        out[o] = s


def _bias_grad(grad_out):
    n, oc = grad_out.shape[:2]
    out = np.zeros(oc, dtype=grad_out.dtype)
    if grad_out.size:
        _bias_grad_kernel(grad_out.reshape(-1), out, n, oc, grad_out.size // (n * oc))
    return out
