"""CUDA fused attention (numba-cuda), float32: FlashAttention-style forward and backward.

Version 1 (this one) -- one thread per query row (forward, dQ) or per key row (dK/dV):
* forward: block = 32 query rows; K and V are staged through shared memory in tiles of 16 keys
  (cooperative, coalesced loads); each thread computes its row's 16 scores into registers, takes
  the tile max, rescales its running output (online softmax) and accumulates P V from shared
  memory. Causal: tiles right of the block's last query are never loaded.
* backward (FA-2 algorithm, scores recomputed from the saved lse): a small kernel computes
  D = rowsum(dO * O); the dQ kernel (thread per query row, K/V tiles in shared memory) and the
  dK/dV kernel (thread per key row, Q/dO/lse/D tiles in shared memory) each recompute P, so no
  atomics are needed.
syncthreads discipline: every thread of a block runs the same tile loop (trip counts depend on
the block index only), out-of-range threads still take part in loads and barriers, and each tile
is bracketed by a barrier after the loads and one before the next overwrite.
Head sizes up to 256 (shared/local arrays are sized for that). Tested in Numba's CUDA simulator
on tiny sizes; GPU speed is not measured here.

Versions (GPU speed not measured: tested in Numba's CUDA simulator only):
  version  idea                                          measured                     date
  1 (now)  thread per query row (fwd, dQ) / key row      -                            2026-11-23
           (dK, dV), 16-key shared tiles, online softmax
"""

from __future__ import annotations

import math

import numpy as np
from numba import cuda, float32

from ._arrays import device_view, empty, launch_1d, stream_of, zeros

DMAX = 256
BQ = 32  # query rows (threads) per block
BK = 16  # keys per shared-memory tile
TQ = 16  # queries per shared-memory tile in the dK/dV kernel


@cuda.jit
def _forward(q, k, v, mask, has_mask, causal, scale, out, lse):
    B, H, Lq, D = q.shape
    Lk = k.shape[2]
    Dv = v.shape[3]
    bh = cuda.blockIdx.y
    b = bh // H
    h = bh - b * H
    mb = b if mask.shape[0] > 1 else 0
    mh = h if mask.shape[1] > 1 else 0
    tid = cuda.threadIdx.x
    i = cuda.blockIdx.x * BQ + tid
    valid = i < Lq
    ks = cuda.shared.array((BK, DMAX), float32)
    vs = cuda.shared.array((BK, DMAX), float32)
    acc = cuda.local.array(DMAX, float32)
    sc = cuda.local.array(BK, float32)
    ninf = float32(-math.inf)
    zero = float32(0.0)
    for e in range(Dv):
        acc[e] = zero
    m = ninf
    lsum = zero
    kend = Lk
    if causal:
        kend = min(Lk, (cuda.blockIdx.x + 1) * BQ)
    for j0 in range(0, kend, BK):
        nk = min(BK, kend - j0)
        for idx in range(tid, nk * D, BQ):
            c = idx // D
            ks[c, idx - c * D] = k[b, h, j0 + c, idx - c * D]
        for idx in range(tid, nk * Dv, BQ):
            c = idx // Dv
            vs[c, idx - c * Dv] = v[b, h, j0 + c, idx - c * Dv]
        cuda.syncthreads()
        if valid:
            lim = nk
            if causal:
                lim = max(0, min(nk, i - j0 + 1))
            bmax = ninf
            for c in range(lim):
                s = zero
                for p in range(D):
                    s += q[b, h, i, p] * ks[c, p]
                s = s * scale
                if has_mask:
                    s += mask[mb, mh, i, j0 + c]
                sc[c] = s
                bmax = max(bmax, s)
            mnew = max(m, bmax)
            muse = zero if mnew == ninf else mnew
            alpha = zero if m == ninf else math.exp(m - muse)
            for e in range(Dv):
                acc[e] *= alpha
            lsum *= alpha
            for c in range(lim):
                pc = math.exp(sc[c] - muse)
                lsum += pc
                for e in range(Dv):
                    acc[e] += pc * vs[c, e]
            m = mnew
        cuda.syncthreads()
    if valid:
        if lsum != zero:
            for e in range(Dv):
                out[b, h, i, e] = acc[e] / lsum
            lse[b, h, i] = m + math.log(lsum)
        else:
            for e in range(Dv):
                out[b, h, i, e] = zero
            lse[b, h, i] = -ninf


@cuda.jit
def _delta(go, o, delta):
    n = cuda.grid(1)
    B, H, Lq, Dv = o.shape
    if n < B * H * Lq:
        bh = n // Lq
        i = n - bh * Lq
        b = bh // H
        h = bh - b * H
        t = float32(0.0)
        for e in range(Dv):
            t += go[b, h, i, e] * o[b, h, i, e]
        delta[b, h, i] = t


@cuda.jit
def _backward_dq(go, q, k, v, lse, delta, mask, has_mask, causal, scale, dq):
    B, H, Lq, D = q.shape
    Lk = k.shape[2]
    Dv = v.shape[3]
    bh = cuda.blockIdx.y
    b = bh // H
    h = bh - b * H
    mb = b if mask.shape[0] > 1 else 0
    mh = h if mask.shape[1] > 1 else 0
    tid = cuda.threadIdx.x
    i = cuda.blockIdx.x * BQ + tid
    ks = cuda.shared.array((BK, DMAX), float32)
    vs = cuda.shared.array((BK, DMAX), float32)
    acc = cuda.local.array(DMAX, float32)
    zero = float32(0.0)
    inf = float32(math.inf)
    valid = i < Lq
    li = inf
    di = zero
    if valid:
        li = lse[b, h, i]
        di = delta[b, h, i]
    for p in range(D):
        acc[p] = zero
    kend = Lk
    if causal:
        kend = min(Lk, (cuda.blockIdx.x + 1) * BQ)
    for j0 in range(0, kend, BK):
        nk = min(BK, kend - j0)
        for idx in range(tid, nk * D, BQ):
            c = idx // D
            ks[c, idx - c * D] = k[b, h, j0 + c, idx - c * D]
        for idx in range(tid, nk * Dv, BQ):
            c = idx // Dv
            vs[c, idx - c * Dv] = v[b, h, j0 + c, idx - c * Dv]
        cuda.syncthreads()
        if valid and li != inf:
            lim = nk
            if causal:
                lim = max(0, min(nk, i - j0 + 1))
            for c in range(lim):
                s = zero
                for p in range(D):
                    s += q[b, h, i, p] * ks[c, p]
                s = s * scale
                if has_mask:
                    s += mask[mb, mh, i, j0 + c]
                pr = math.exp(s - li)
                dp = zero
                for e in range(Dv):
                    dp += go[b, h, i, e] * vs[c, e]
                ds = pr * (dp - di)
                for p in range(D):
                    acc[p] += ds * ks[c, p]
        cuda.syncthreads()
    if valid:
        for p in range(D):
            dq[b, h, i, p] = acc[p] * scale


@cuda.jit
def _backward_dkdv(go, q, k, v, lse, delta, mask, has_mask, causal, scale, dk, dv):
    B, H, Lq, D = q.shape
    Lk = k.shape[2]
    Dv = v.shape[3]
    bh = cuda.blockIdx.y
    b = bh // H
    h = bh - b * H
    mb = b if mask.shape[0] > 1 else 0
    mh = h if mask.shape[1] > 1 else 0
    tid = cuda.threadIdx.x
    j = cuda.blockIdx.x * BQ + tid
    qs = cuda.shared.array((TQ, DMAX), float32)
    gs = cuda.shared.array((TQ, DMAX), float32)
    ls = cuda.shared.array(TQ, float32)
    ds_ = cuda.shared.array(TQ, float32)
    dka = cuda.local.array(DMAX, float32)
    dva = cuda.local.array(DMAX, float32)
    zero = float32(0.0)
    inf = float32(math.inf)
    valid = j < Lk
    for p in range(D):
        dka[p] = zero
    for e in range(Dv):
        dva[e] = zero
    istart = 0
    if causal:
        istart = cuda.blockIdx.x * BQ // TQ * TQ
    for i0 in range(istart, Lq, TQ):
        mq = min(TQ, Lq - i0)
        for idx in range(tid, mq * D, BQ):
            r = idx // D
            qs[r, idx - r * D] = q[b, h, i0 + r, idx - r * D]
        for idx in range(tid, mq * Dv, BQ):
            r = idx // Dv
            gs[r, idx - r * Dv] = go[b, h, i0 + r, idx - r * Dv]
        if tid < mq:
            ls[tid] = lse[b, h, i0 + tid]
            ds_[tid] = delta[b, h, i0 + tid]
        cuda.syncthreads()
        if valid:
            for r in range(mq):
                i = i0 + r
                if ls[r] == inf or (causal and j > i):
                    continue
                s = zero
                for p in range(D):
                    s += qs[r, p] * k[b, h, j, p]
                s = s * scale
                if has_mask:
                    s += mask[mb, mh, i, j]
                pr = math.exp(s - ls[r])
                dp = zero
                for e in range(Dv):
                    dva[e] += pr * gs[r, e]
                    dp += gs[r, e] * v[b, h, j, e]
                dsv = pr * (dp - ds_[r])
                for p in range(D):
                    dka[p] += dsv * qs[r, p]
        cuda.syncthreads()
    if valid:
        for p in range(D):
            dk[b, h, j, p] = dka[p] * scale
        for e in range(Dv):
            dv[b, h, j, e] = dva[e]


def _check_head(q, v):
    if q.shape[3] > DMAX or v.shape[3] > DMAX:
        raise ValueError(
            f"q, v: the cuda attention kernels support head sizes up to {DMAX}, got "
            f"{q.shape[3]} and {v.shape[3]}; use a CPU backend"
        )


def _mask_arg(mask, like):
    if mask is None:
        return zeros((1, 1, 1, 1), np.float32, like), False
    return device_view(mask, "mask"), True


def attention_forward(q, k, v, mask, causal, scale):
    _check_head(q, v)
    B, H, Lq, _ = q.shape
    out = empty((B, H, Lq, v.shape[3]), q.dtype, like=q)
    lse = empty((B, H, Lq), q.dtype, like=q)
    if B * H * Lq == 0:
        return out, lse
    m, has = _mask_arg(mask, q)
    grid = ((Lq + BQ - 1) // BQ, B * H)
    _forward[grid, BQ, stream_of(q)](
        device_view(q, "q"),
        device_view(k, "k"),
        device_view(v, "v"),
        m,
        has,
        bool(causal),
        np.float32(scale),
        device_view(out),
        device_view(lse),
    )
    return out, lse


def attention_backward(grad_out, q, k, v, out, lse, mask, causal, scale):
    _check_head(q, v)
    B, H, Lq, _ = q.shape
    Lk = k.shape[2]
    dq = zeros(q.shape, q.dtype, like=q)
    dk = zeros(k.shape, q.dtype, like=q)
    dv = zeros(v.shape, q.dtype, like=q)
    if B * H * Lq == 0 or Lk == 0:
        return dq, dk, dv
    st = stream_of(q)
    m, has = _mask_arg(mask, q)
    gov, qv, kv, vv, lv = (
        device_view(x, n)
        for x, n in ((grad_out, "grad_out"), (q, "q"), (k, "k"), (v, "v"), (lse, "lse"))
    )
    delta = empty((B, H, Lq), q.dtype, like=q)
    launch_1d(_delta, B * H * Lq, 128, gov, device_view(out, "out"), device_view(delta), stream=st)
    sc = np.float32(scale)
    _backward_dq[((Lq + BQ - 1) // BQ, B * H), BQ, st](
        gov, qv, kv, vv, lv, device_view(delta), m, has, bool(causal), sc, device_view(dq)
    )
    _backward_dkdv[((Lk + BQ - 1) // BQ, B * H), BQ, st](
        gov,
        qv,
        kv,
        vv,
        lv,
        device_view(delta),
        m,
        has,
        bool(causal),
        sc,
        device_view(dk),
        device_view(dv),
    )
    return dq, dk, dv
