"""CUDA SGEMM (numba-cuda): shared-memory block tiling with register-blocked threads.

Version 1 (this file), after the classic SGEMM ladder (naive -> shared tiles -> 2-D register
blocking):

* each 16 x 16 thread block computes a BM x BN = 64 x 64 tile of C; the K loop walks BK = 16 deep
  slices of op(a) and op(b) staged in shared memory (As[BK][BM], Bs[BK][BN]: k-major, so the
  compute loop reads rows of both);
* staging: 256 threads load 1024 elements of each operand, 4 per thread; consecutive threads read
  consecutive addresses of the operand's contiguous axis (coalesced for both trans flags), out of
  range elements load as 0 (odd sizes need no special path);
* each thread keeps a 4 x 4 block of float32 accumulators in registers (cuda.local.array with
  constant indices) and owns rows ty + 16*i, columns tx + 16*j of the tile: per k it reads 4 A
  values (a broadcast within a half-warp) and 4 B values (consecutive tx -> consecutive banks, no
  bank conflicts), then 16 FMAs;
* cuda.syncthreads() after the staging stores and again before the next slice overwrites them;
* epilogue in registers: alpha, beta * old C (skipped when beta == 0, NaN-safe), bias,
  relu/gelu(erf)/sigmoid/tanh; stores are coalesced along rows; edges are bounds-checked.

Correctness is tested in Numba's CUDA simulator (odd sizes, every flag). The kernel also compiles
for real GPUs: `numba.cuda.compile_ptx(..., cc=(8, 0))` (with NVVM from the nvidia-cuda-nvcc-cu12
wheel) gives 16 fma.rn.f32 per 8 ld.shared.f32 in the inner loop, accumulators in registers, two
bar.sync per slice. The shared-memory reads are scalar (numba-cuda has no 128-bit shared load;
the per-thread layout is chosen conflict-free instead); float4 loads and 8 x 8 outputs per thread
are the next version. GPU speed against cuBLAS is measured in the GPU issue: not measured here
(no GPU on the development machine).

Versions (GPU speed not measured: tested in Numba's CUDA simulator only):
  version  idea                                          measured                     date
  1 (now)  64x64 block tile, 16x16 threads x 4x4 outputs, -                          2026-11-23
           16-deep shared slices, fused epilogue
"""

from __future__ import annotations

import math

import numpy as np
from numba import cuda, float32

from ._arrays import device_view, empty, launch_2d, stream_of

BM = 64  # tile rows per block
BN = 64  # tile columns per block
BK = 16  # depth of a shared-memory slice
TM = 4  # rows per thread
TN = 4  # columns per thread
TY = BM // TM  # 16 threads along y
TX = BN // TN  # 16 threads along x
NTHREADS = TY * TX
A_LOADS = BM * BK // NTHREADS  # staging loads per thread per slice (4)
B_LOADS = BN * BK // NTHREADS

_ACT = {None: 0, "relu": 1, "gelu": 2, "sigmoid": 3, "tanh": 4}


@cuda.jit(device=True, inline=True)
def _activate(x, act):
    if act == 1:
        return x if not x < float32(0.0) else float32(0.0)
    if act == 2:
        return float32(0.5) * x * (float32(1.0) + math.erf(x * float32(0.7071067811865476)))
    if act == 3:
        if x >= float32(0.0):
            return float32(1.0) / (float32(1.0) + math.exp(-x))
        e = math.exp(x)
        return e / (float32(1.0) + e)
    if act == 4:
        return math.tanh(x)
    return x


@cuda.jit
def _sgemm_kernel(a, b, bias, has_bias, act, trans_a, trans_b, alpha, beta, c):
    m = c.shape[0]
    n = c.shape[1]
    k = a.shape[0] if trans_a else a.shape[1]
    tx = cuda.threadIdx.x
    ty = cuda.threadIdx.y
    tid = ty * TX + tx
    row0 = cuda.blockIdx.y * BM
    col0 = cuda.blockIdx.x * BN

    a_s = cuda.shared.array((BK, BM), float32)
    b_s = cuda.shared.array((BK, BN), float32)
    acc = cuda.local.array((TM, TN), float32)
    a_r = cuda.local.array(TM, float32)
    b_r = cuda.local.array(TN, float32)
    for i in range(TM):
        for j in range(TN):
            acc[i, j] = float32(0.0)

    for k0 in range(0, k, BK):
        # stage op(a)[row0:row0+BM, k0:k0+BK] -> a_s[kk, mm]; threads run along a's contiguous axis
        for s in range(A_LOADS):
            lin = tid + s * NTHREADS
            if trans_a:  # a is (K, M): contiguous along m
                mm = lin % BM
                kk = lin // BM
                r = row0 + mm
                kg = k0 + kk
                a_s[kk, mm] = a[kg, r] if (r < m and kg < k) else float32(0.0)
            else:  # a is (M, K): contiguous along k
                kk = lin % BK
                mm = lin // BK
                r = row0 + mm
                kg = k0 + kk
                a_s[kk, mm] = a[r, kg] if (r < m and kg < k) else float32(0.0)
        # stage op(b)[k0:k0+BK, col0:col0+BN] -> b_s[kk, nn]
        for s in range(B_LOADS):
            lin = tid + s * NTHREADS
            if trans_b:  # b is (N, K): contiguous along k
                kk = lin % BK
                nn = lin // BK
                cg = col0 + nn
                kg = k0 + kk
                b_s[kk, nn] = b[cg, kg] if (cg < n and kg < k) else float32(0.0)
            else:  # b is (K, N): contiguous along n
                nn = lin % BN
                kk = lin // BN
                cg = col0 + nn
                kg = k0 + kk
                b_s[kk, nn] = b[kg, cg] if (cg < n and kg < k) else float32(0.0)
        cuda.syncthreads()  # the slice is staged
        for kk in range(BK):
            for i in range(TM):
                a_r[i] = a_s[kk, ty + i * TY]
            for j in range(TN):
                b_r[j] = b_s[kk, tx + j * TX]
            for i in range(TM):
                for j in range(TN):
                    acc[i, j] += a_r[i] * b_r[j]
        cuda.syncthreads()  # every thread is done reading before the next slice is staged

    for i in range(TM):
        r = row0 + ty + i * TY
        if r < m:
            for j in range(TN):
                cg = col0 + tx + j * TX
                if cg < n:
                    v = alpha * acc[i, j]
                    if beta != float32(0.0):
                        v += beta * c[r, cg]
                    if has_bias:
                        v += bias[cg]
                    c[r, cg] = _activate(v, act)


def gemm(a, b, bias, activation, trans_a, trans_b, alpha, beta, out):
    """The contract's gemm (fastnn.backends.contract.gemm) for float32 CUDA arrays; returns the
    same array type as ``a`` (``out`` itself when given)."""
    m = a.shape[1] if trans_a else a.shape[0]
    n = b.shape[0] if trans_b else b.shape[1]
    if out is None:
        out = empty((m, n), a.dtype, like=a)
        beta = 0.0
    has_bias = bias is not None
    bias_arr = bias if has_bias else empty((1,), a.dtype, like=a)
    launch_2d(
        _sgemm_kernel, (m, n), (TY, TX),
        device_view(a, "a"), device_view(b, "b"), device_view(bias_arr, "bias"),
        has_bias, _ACT[activation], bool(trans_a), bool(trans_b),
        np.float32(alpha), np.float32(beta), device_view(out, "out"),
        tile=(BM, BN), stream=stream_of(a),
    )
    return out
