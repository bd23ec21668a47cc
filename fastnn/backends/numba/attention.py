"""Numba fused attention (FlashAttention-2 algorithm), float32 and float64.

Forward: prange over (batch x heads x query blocks of 32 rows); each task walks key blocks of 64
keys: the K block is packed transposed, scores of the block are computed as axpy rows
(s[r, :] += q[r, p] * K^T[p, :], vectorisable without reassociation), then the online softmax
(running max / running sum, rescale of the output row) and out += P V. Only BQ x BK scores exist.
Backward: prange over batch x heads; per key block (K^T, V^T packed; dK, dV accumulators of 64
rows) and query row, the scores and dP = dO V^T of the block are axpy rows like the forward's,
the probabilities are recomputed from the saved lse; dQ accumulates per head.
Fully masked rows: out = 0, lse = +inf, gradient 0. Scalars are passed in the arrays' dtype so
float32 stays float32.

Versions (ratio vs PyTorch 2.13 CPU SDPA, 2 threads, docs/benchmarks.md results table):
  version  idea                                          measured                     date
  1        scalar dot product per (query, key) pair      4x8x256x64 10 GFLOP/s, 0.08x 2026-11-23
  2 (now)  axpy score rows, K^T/V^T packed per block     1x8x2048x64 fwd 0.22x, bwd   2026-12-01
                                                         0.28x (Zen 3 AVX2)
"""

import math

import numpy as np
from numba import njit, prange

BQ = 32
BK = 64


@njit(parallel=True, cache=True)
def _forward(q, k, v, mask, has_mask, causal, scale, zero, ninf, out, lse):
    B, H, Lq, D = q.shape
    Lk = k.shape[2]
    Dv = v.shape[3]
    Bm, Hm = mask.shape[0], mask.shape[1]
    nqb = (Lq + BQ - 1) // BQ
    for task in prange(B * H * nqb):
        bh = task // nqb
        qb = task - bh * nqb
        b = bh // H
        h = bh - b * H
        mbi = b if Bm > 1 else 0
        mhi = h if Hm > 1 else 0
        i0 = qb * BQ
        mq = min(BQ, Lq - i0)
        acc = np.zeros((BQ, Dv), q.dtype)
        mrow = np.full(BQ, ninf, q.dtype)
        lrow = np.zeros(BQ, q.dtype)
        s = np.empty((BQ, BK), q.dtype)
        kt = np.empty((D, BK), q.dtype)
        kend = min(Lk, i0 + mq) if causal else Lk
        for j0 in range(0, kend, BK):
            nk = min(BK, kend - j0)
            for c in range(nk):
                for p in range(D):
                    kt[p, c] = k[b, h, j0 + c, p]
            for r in range(mq):
                i = i0 + r
                for c in range(nk):
                    s[r, c] = zero
                for p in range(D):
                    a = q[b, h, i, p]
                    for c in range(nk):
                        s[r, c] += a * kt[p, c]
                lim = nk
                if causal:
                    lim = max(0, min(nk, i - j0 + 1))
                bmax = ninf
                for c in range(lim):
                    x = s[r, c] * scale
                    if has_mask:
                        x += mask[mbi, mhi, i, j0 + c]
                    s[r, c] = x
                    bmax = max(bmax, x)
                mold = mrow[r]
                mnew = max(mold, bmax)
                muse = zero if mnew == ninf else mnew
                alpha = zero if mold == ninf else math.exp(mold - muse)
                tot = zero
                for c in range(lim):
                    e = math.exp(s[r, c] - muse)
                    s[r, c] = e
                    tot += e
                lrow[r] = lrow[r] * alpha + tot
                mrow[r] = mnew
                for e in range(Dv):
                    acc[r, e] *= alpha
                for c in range(lim):
                    pc = s[r, c]
                    for e in range(Dv):
                        acc[r, e] += pc * v[b, h, j0 + c, e]
        for r in range(mq):
            i = i0 + r
            if lrow[r] != zero:  # NaN scores give NaN rows, not zeros
                for e in range(Dv):
                    out[b, h, i, e] = acc[r, e] / lrow[r]
                lse[b, h, i] = mrow[r] + math.log(lrow[r])
            else:
                for e in range(Dv):
                    out[b, h, i, e] = zero
                lse[b, h, i] = -ninf


@njit(parallel=True, cache=True)
def _backward(go, q, k, v, o, lse, mask, has_mask, causal, scale, zero, ninf, dq, dk, dv):
    B, H, Lq, D = q.shape
    Lk = k.shape[2]
    Dv = v.shape[3]
    Bm, Hm = mask.shape[0], mask.shape[1]
    for bh in prange(B * H):
        b = bh // H
        h = bh - b * H
        mbi = b if Bm > 1 else 0
        mhi = h if Hm > 1 else 0
        delta = np.zeros(Lq, q.dtype)
        for i in range(Lq):
            t = zero
            for e in range(Dv):
                t += go[b, h, i, e] * o[b, h, i, e]
            delta[i] = t
        dqa = np.zeros((Lq, D), q.dtype)
        dka = np.zeros((BK, D), q.dtype)
        dva = np.zeros((BK, Dv), q.dtype)
        kt = np.empty((D, BK), q.dtype)
        vt = np.empty((Dv, BK), q.dtype)
        s = np.empty(BK, q.dtype)
        dps = np.empty(BK, q.dtype)
        for j0 in range(0, Lk, BK):
            nk = min(BK, Lk - j0)
            dka[:, :] = zero
            dva[:, :] = zero
            for c in range(nk):  # K and V blocks transposed: scores as axpy rows
                for p in range(D):
                    kt[p, c] = k[b, h, j0 + c, p]
                for e in range(Dv):
                    vt[e, c] = v[b, h, j0 + c, e]
            istart = j0 if causal else 0
            for i in range(istart, Lq):
                li = lse[b, h, i]
                if li == -ninf:
                    continue  # fully masked row: P = 0
                lim = nk
                if causal:
                    lim = max(0, min(nk, i - j0 + 1))
                di = delta[i]
                # s = q_i K_blk^T and dp = dO_i V_blk^T, each as axpy rows over the block's
                # keys (vectorisable without reassociating a dot product)
                for c in range(lim):
                    s[c] = zero
                    dps[c] = zero
                for p in range(D):
                    qp = q[b, h, i, p]
                    for c in range(lim):
                        s[c] += qp * kt[p, c]
                for e in range(Dv):
                    ge = go[b, h, i, e]
                    for c in range(lim):
                        dps[c] += ge * vt[e, c]
                for c in range(lim):
                    j = j0 + c
                    x = s[c] * scale
                    if has_mask:
                        x += mask[mbi, mhi, i, j]
                    pr = math.exp(x - li)
                    ds = pr * (dps[c] - di)
                    for e in range(Dv):
                        dva[c, e] += pr * go[b, h, i, e]
                    for p in range(D):
                        dka[c, p] += ds * q[b, h, i, p]
                        dqa[i, p] += ds * k[b, h, j, p]
            for c in range(nk):
                for p in range(D):
                    dk[b, h, j0 + c, p] = dka[c, p] * scale
                for e in range(Dv):
                    dv[b, h, j0 + c, e] = dva[c, e]
        for i in range(Lq):
            for p in range(D):
                dq[b, h, i, p] = dqa[i, p] * scale


def _mask_arg(mask, dtype):
    if mask is None:
        return np.zeros((1, 1, 1, 1), dtype), False
    return mask, True


def attention_forward(q, k, v, mask, causal, scale):
    B, H, Lq, _ = q.shape
    out = np.empty((B, H, Lq, v.shape[3]), q.dtype)
    lse = np.empty((B, H, Lq), q.dtype)
    m, has = _mask_arg(mask, q.dtype)
    t = q.dtype.type
    _forward(q, k, v, m, has, bool(causal), t(scale), t(0), t(-np.inf), out, lse)
    return out, lse


def attention_backward(grad_out, q, k, v, out, lse, mask, causal, scale):
    dq = np.empty_like(q)
    dk = np.empty_like(k)
    dv = np.empty_like(v)
    m, has = _mask_arg(mask, q.dtype)
    t = q.dtype.type
    _backward(
        grad_out, q, k, v, out, lse, m, has, bool(causal), t(scale), t(0), t(-np.inf), dq, dk, dv
    )
    return dq, dk, dv
