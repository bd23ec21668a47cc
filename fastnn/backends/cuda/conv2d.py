"""CUDA conv2d (float32, NCHW): tiled implicit GEMM in shared memory, forward and both backwards.

Version 1. Each kernel is a GEMM ``C[M, L] = A[M, R] . B[R, L]`` per group (blockIdx.z) whose
operands are gathered on the fly from the NCHW tensors (no im2col buffer in global memory):
    forward          C = y (OCg x N*OH*OW)     A = W_g                  B = im2col(x)
    backward_input   C = dx (Cg x N*H*W)       A = W_g^T (Cg x OCg*KH*KW) B = dY gathered through
                                                                        the transposed convolution
    backward_weight  C = dW_g (OCg x Cg*KH*KW) A = dY (OCg x N*OH*OW)   B = im2col(x)^T
Blocking: 16x16 threads, a 64x64 C tile per block (4x4 outputs per thread, rows ty+16i and columns
tx+16j so global loads and stores stay coalesced along the fast axis), a 16-deep reduction slab
staged through two shared tiles; every thread runs the same number of slab iterations, so the two
``cuda.syncthreads()`` per slab (after staging, after use) are reached uniformly. The forward
epilogue adds the bias and applies ReLU before the store. Bias gradient: one thread per channel.
Speed on a GPU has not been measured here (CI runs these in Numba's simulator on tiny shapes).

Versions (GPU speed not measured: tested in Numba's CUDA simulator only):
  version  idea                                          measured                     date
  1 (now)  implicit GEMM, 64x64 tiles, 4x4 per thread,   -                            2026-11-23
           16-deep shared slab, no im2col buffer
"""

import math

from numba import cuda, float32

from ._arrays import device_view, empty, launch_1d, stream_of

TM, TN, TK = 64, 64, 16  # C tile rows, C tile columns, reduction slab
THREADS = 16             # threads per block side (16 x 16)
PER = TM // THREADS      # outputs per thread along each side (4)


@cuda.jit(device=True, inline=True)
def _im2col(x, n, c, i, j, oh, ow, H, W, sh, sw, ph, pw, dh, dw):
    ih = oh * sh - ph + i * dh
    iw = ow * sw - pw + j * dw
    if ih >= 0 and ih < H and iw >= 0 and iw < W:
        return x[n, c, ih, iw]
    return float32(0.0)


@cuda.jit
def _forward(x, w, bias, has_bias, relu, y, N, C, H, W, OC, KH, KW, OH, OW, sh, sw, ph, pw, dh,
             dw, G):
    sa = cuda.shared.array((TK, TM), float32)
    sb = cuda.shared.array((TK, TN), float32)
    acc = cuda.local.array((PER, PER), float32)
    tx, ty = cuda.threadIdx.x, cuda.threadIdx.y
    tid = ty * THREADS + tx
    grp = cuda.blockIdx.z
    Cg, OCg = C // G, OC // G
    KK = KH * KW
    R, L, P = Cg * KK, N * OH * OW, OH * OW
    m0, l0 = cuda.blockIdx.y * TM, cuda.blockIdx.x * TN
    for a in range(PER):
        for b in range(PER):
            acc[a, b] = float32(0.0)
    for r0 in range(0, R, TK):
        for s in range(TM * TK // (THREADS * THREADS)):
            e = tid + s * THREADS * THREADS
            mm, kk = e // TK, e % TK          # A tile element (row mm, slab column kk)
            m, r = m0 + mm, r0 + kk
            v = float32(0.0)
            if m < OCg and r < R:
                v = w[grp * OCg + m, r // KK, (r // KW) % KH, r % KW]
            sa[kk, mm] = v
            kk2, ll = e // TN, e % TN          # B tile element (slab row kk2, column ll)
            r, col = r0 + kk2, l0 + ll
            v = float32(0.0)
            if r < R and col < L:
                n, p = col // P, col % P
                v = _im2col(x, n, grp * Cg + r // KK, (r // KW) % KH, r % KW, p // OW, p % OW,
                            H, W, sh, sw, ph, pw, dh, dw)
            sb[kk2, ll] = v
        cuda.syncthreads()
        for kk in range(TK):
            for a in range(PER):
                av = sa[kk, ty + THREADS * a]
                for b in range(PER):
                    acc[a, b] += av * sb[kk, tx + THREADS * b]
        cuda.syncthreads()
    for a in range(PER):
        m = m0 + ty + THREADS * a
        if m < OCg:
            oc = grp * OCg + m
            for b in range(PER):
                col = l0 + tx + THREADS * b
                if col < L:
                    v = acc[a, b]
                    if has_bias:
                        v += bias[oc]
                    if relu and v < float32(0.0):
                        v = float32(0.0)
                    n, p = col // P, col % P
                    y[n, oc, p // OW, p % OW] = v


@cuda.jit
def _backward_input(dy, w, dx, N, C, H, W, OC, KH, KW, OH, OW, sh, sw, ph, pw, dh, dw, G):
    sa = cuda.shared.array((TK, TM), float32)
    sb = cuda.shared.array((TK, TN), float32)
    acc = cuda.local.array((PER, PER), float32)
    tx, ty = cuda.threadIdx.x, cuda.threadIdx.y
    tid = ty * THREADS + tx
    grp = cuda.blockIdx.z
    Cg, OCg = C // G, OC // G
    KK = KH * KW
    R, L, HW = OCg * KK, N * H * W, H * W
    m0, l0 = cuda.blockIdx.y * TM, cuda.blockIdx.x * TN
    for a in range(PER):
        for b in range(PER):
            acc[a, b] = float32(0.0)
    for r0 in range(0, R, TK):
        for s in range(TM * TK // (THREADS * THREADS)):
            e = tid + s * THREADS * THREADS
            mm, kk = e // TK, e % TK
            m, r = m0 + mm, r0 + kk            # m: input channel in group; r: (oc, i, j)
            v = float32(0.0)
            if m < Cg and r < R:
                v = w[grp * OCg + r // KK, m, (r // KW) % KH, r % KW]
            sa[kk, mm] = v
            kk2, ll = e // TN, e % TN
            r, col = r0 + kk2, l0 + ll
            v = float32(0.0)
            if r < R and col < L:
                n, q = col // HW, col % HW
                ih, iw = q // W, q % W
                i, j = (r // KW) % KH, r % KW
                th, tw = ih + ph - i * dh, iw + pw - j * dw
                if th >= 0 and tw >= 0 and th % sh == 0 and tw % sw == 0:
                    oh, ow = th // sh, tw // sw
                    if oh < OH and ow < OW:
                        v = dy[n, grp * OCg + r // KK, oh, ow]
            sb[kk2, ll] = v
        cuda.syncthreads()
        for kk in range(TK):
            for a in range(PER):
                av = sa[kk, ty + THREADS * a]
                for b in range(PER):
                    acc[a, b] += av * sb[kk, tx + THREADS * b]
        cuda.syncthreads()
    for a in range(PER):
        m = m0 + ty + THREADS * a
        if m < Cg:
            for b in range(PER):
                col = l0 + tx + THREADS * b
                if col < L:
                    n, q = col // HW, col % HW
                    dx[n, grp * Cg + m, q // W, q % W] = acc[a, b]


@cuda.jit
def _backward_weight(x, dy, dwt, N, C, H, W, OC, KH, KW, OH, OW, sh, sw, ph, pw, dh, dw, G):
    sa = cuda.shared.array((TK, TM), float32)
    sb = cuda.shared.array((TK, TN), float32)
    acc = cuda.local.array((PER, PER), float32)
    tx, ty = cuda.threadIdx.x, cuda.threadIdx.y
    tid = ty * THREADS + tx
    grp = cuda.blockIdx.z
    Cg, OCg = C // G, OC // G
    KK = KH * KW
    R, L, P = N * OH * OW, Cg * KK, OH * OW   # reduction over pixels; columns are (c, i, j)
    m0, l0 = cuda.blockIdx.y * TM, cuda.blockIdx.x * TN
    for a in range(PER):
        for b in range(PER):
            acc[a, b] = float32(0.0)
    for r0 in range(0, R, TK):
        for s in range(TM * TK // (THREADS * THREADS)):
            e = tid + s * THREADS * THREADS
            mm, kk = e // TK, e % TK
            m, r = m0 + mm, r0 + kk
            v = float32(0.0)
            if m < OCg and r < R:
                n, p = r // P, r % P
                v = dy[n, grp * OCg + m, p // OW, p % OW]
            sa[kk, mm] = v
            kk2, ll = e // TN, e % TN
            r, col = r0 + kk2, l0 + ll
            v = float32(0.0)
            if r < R and col < L:
                n, p = r // P, r % P
                v = _im2col(x, n, grp * Cg + col // KK, (col // KW) % KH, col % KW, p // OW,
                            p % OW, H, W, sh, sw, ph, pw, dh, dw)
            sb[kk2, ll] = v
        cuda.syncthreads()
        for kk in range(TK):
            for a in range(PER):
                av = sa[kk, ty + THREADS * a]
                for b in range(PER):
                    acc[a, b] += av * sb[kk, tx + THREADS * b]
        cuda.syncthreads()
    for a in range(PER):
        m = m0 + ty + THREADS * a
        if m < OCg:
            for b in range(PER):
                col = l0 + tx + THREADS * b
                if col < L:
                    dwt[grp * OCg + m, col // KK, (col // KW) % KH, col % KW] = acc[a, b]


@cuda.jit
def _bias_grad(dy, db, N, OC, OH, OW):
    oc = cuda.grid(1)
    if oc < OC:
        s = float32(0.0)
        for n in range(N):
            for oh in range(OH):
                for ow in range(OW):
                    s += dy[n, oc, oh, ow]
        db[oc] = s


def _geometry(x_shape, w_shape, stride, padding, dilation):
    n, c, h, w = x_shape
    oc, _, kh, kw = w_shape
    oh = (h + 2 * padding[0] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    ow = (w + 2 * padding[1] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    return (n, c, h, w, oc, kh, kw, oh, ow, stride[0], stride[1], padding[0], padding[1],
            dilation[0], dilation[1])


def _launch(kernel, rows, cols, groups, args, stream):
    if rows <= 0 or cols <= 0 or groups <= 0:
        return
    grid = (math.ceil(cols / TN), math.ceil(rows / TM), groups)
    kernel[grid, (THREADS, THREADS), stream](*args)


def conv2d_forward(x, w, bias, stride, padding, dilation, groups, activation):
    geo = _geometry(x.shape, w.shape, stride, padding, dilation)
    n, c, _, _, oc, kh, kw, oh, ow = geo[:9]
    y = empty((n, oc, oh, ow), x.dtype, like=x)
    stream = stream_of(x)
    has_bias = bias is not None
    b = bias if has_bias else empty((1,), x.dtype, like=x)  # unread when has_bias is False
    _launch(_forward, oc // groups, n * oh * ow, groups,
            (device_view(x, "x"), device_view(w, "w"), device_view(b, "bias"), has_bias,
             activation == "relu", device_view(y), *geo, groups), stream)
    return y


def conv2d_backward_input(grad_out, w, input_shape, stride, padding, dilation, groups):
    geo = _geometry(input_shape, w.shape, stride, padding, dilation)
    n, c, h, wd = geo[:4]
    dx = empty((n, c, h, wd), grad_out.dtype, like=grad_out)
    _launch(_backward_input, c // groups, n * h * wd, groups,
            (device_view(grad_out, "grad_out"), device_view(w, "w"), device_view(dx), *geo,
             groups), stream_of(grad_out))
    return dx


def conv2d_backward_weight(x, grad_out, weight_shape, stride, padding, dilation, groups, need_bias):
    geo = _geometry(x.shape, weight_shape, stride, padding, dilation)
    n, c, _, _, oc, kh, kw, oh, ow = geo[:9]
    stream = stream_of(x)
    dwt = empty(tuple(weight_shape), x.dtype, like=x)
    _launch(_backward_weight, oc // groups, (c // groups) * kh * kw, groups,
            (device_view(x, "x"), device_view(grad_out, "grad_out"), device_view(dwt), *geo,
             groups), stream)
    db = None
    if need_bias:
        db = empty((oc,), x.dtype, like=x)
        launch_1d(_bias_grad, oc, 128, device_view(grad_out), device_view(db), n, oc, oh, ow,
                  stream=stream)
    return dwt, db

