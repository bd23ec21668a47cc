"""Numba LSTM kernels (cell + sequence, forward + backward), float32/float64.

* GEMMs: the numba backend's own packed, register-blocked ``_gemm`` (gemm.py), called from @njit
  code -- all four gates in one product; the sequence's input projection for all T steps is one
  (T*B) x I x 4H product with the bias fused in its epilogue; per step ``G_t += h W_hh^T``
  (beta = 1).
* pointwise: one fused prange loop per step (activations in place -- they are the saved gates --
  cell update, h); backward likewise produces dG and dc_{t-1} in one pass. float32 uses a
  rational tanh (and sigmoid(x) = (1 + tanh(x/2)) / 2) that LLVM vectorises; float64 uses libm.
  error_model="numpy" drops the ZeroDivisionError checks that would block vectorisation.
* weight gradients: GEMMs over all T*B rows at the end; bias gradient a column sum.
Constants are typed through a ``one`` argument of the array dtype, so float32 stays float32.

Versions (ratio vs torch.lstm CPU, 2 threads, docs/benchmarks.md results table):
  version  idea                                          measured                     date
  1 (now)  hoisted input projection, fused pointwise     T100 B64 I64 H128 fwd 0.67x, 2026-11-23
           pass, vectorisable float32 tanh               bwd 0.59x (Zen 3 AVX2)
"""

# ruff: noqa: E741  (I is the input size, as in the kernel contract's (T, B, I, H) notation)

from __future__ import annotations

import math

import numba
import numpy as np
from numba import njit, prange, types
from numba.extending import overload

from .gemm import _gemm


@njit(cache=True, error_model="numpy")
def _tanh32(x):
    # Eigen's float tanh: odd rational approximation on [-7.9, 7.9], pure arithmetic so LLVM
    # vectorises the loops that call it (Numba has no vector libm here); NaN propagates.
    lim = np.float32(7.90531110763549805)
    xc = lim if x > lim else x
    xc = -lim if xc < -lim else xc
    x2 = xc * xc
    p = np.float32(-2.76076847742355e-16)
    p = p * x2 + np.float32(2.00018790482477e-13)
    p = p * x2 + np.float32(-8.60467152213735e-11)
    p = p * x2 + np.float32(5.12229709037114e-08)
    p = p * x2 + np.float32(1.48572235717979e-05)
    p = p * x2 + np.float32(6.37261928875436e-04)
    p = p * x2 + np.float32(4.89352455891786e-03)
    p = p * xc
    q = np.float32(1.19825839466702e-06)
    q = q * x2 + np.float32(1.18534705686654e-04)
    q = q * x2 + np.float32(2.26843463243900e-03)
    q = q * x2 + np.float32(4.89352518554385e-03)
    t = p / q
    t = np.float32(1.0) if t > np.float32(1.0) else t
    t = np.float32(-1.0) if t < np.float32(-1.0) else t
    return x if abs(x) < np.float32(0.0004) else t


def _tanh(x):
    """tanh in the argument's precision: the vectorisable rational form for float32, libm for
    float64 (which must match the float64 reference to rounding)."""


def _sigmoid(x):
    """Logistic function, as _tanh: float32 via 0.5 + 0.5 tanh(x / 2) (absolute error < 1e-7),
    float64 via exp."""


@overload(_tanh)
def _tanh_impl(x):
    if x == types.float32:
        return lambda x: _tanh32(x)
    return lambda x: math.tanh(x)


@overload(_sigmoid)
def _sigmoid_impl(x):
    if x == types.float32:
        half = np.float32(0.5)
        return lambda x: half + half * _tanh32(half * x)
    return lambda x: 1.0 / (1.0 + math.exp(-x))


@njit(parallel=True, cache=True, error_model="numpy")
def _pointwise_forward(G, c_prev, c_out, h_out):
    B, H = c_prev.shape
    for b in prange(B):
        gi, gf, gg, go = G[b, :H], G[b, H : 2 * H], G[b, 2 * H : 3 * H], G[b, 3 * H :]
        cp, cn, hn = c_prev[b], c_out[b], h_out[b]
        for j in range(H):
            i = _sigmoid(gi[j])
            f = _sigmoid(gf[j])
            g = _tanh(gg[j])
            o = _sigmoid(go[j])
            gi[j] = i
            gf[j] = f
            gg[j] = g
            go[j] = o
            c = f * cp[j] + i * g
            cn[j] = c
            hn[j] = o * _tanh(c)


@njit(parallel=True, cache=True, error_model="numpy")
def _pointwise_backward(dh, gy, dc, c_prev, c_new, gates, dG, one):
    B, H = dc.shape
    for b in prange(B):
        ai, af, ag, ao = (
            gates[b, :H],
            gates[b, H : 2 * H],
            gates[b, 2 * H : 3 * H],
            gates[b, 3 * H :],
        )
        di, df, dg, do = dG[b, :H], dG[b, H : 2 * H], dG[b, 2 * H : 3 * H], dG[b, 3 * H :]
        dhr, gyr, dcr, cp, cn = dh[b], gy[b], dc[b], c_prev[b], c_new[b]
        for j in range(H):
            i, f, g, o = ai[j], af[j], ag[j], ao[j]
            tc = _tanh(cn[j])
            dhj = dhr[j] + gyr[j]
            dcj = dcr[j] + dhj * o * (one - tc * tc)
            di[j] = dcj * g * i * (one - i)
            df[j] = dcj * cp[j] * f * (one - f)
            dg[j] = dcj * i * (one - g * g)
            do[j] = dhj * tc * o * (one - o)
            dcr[j] = dcj * f


@njit(parallel=True, cache=True)
def _column_sums(a, out, nthreads):
    # rows split across threads (contiguous reads), one partial row of sums each, then reduced
    rows, n = a.shape
    parts = np.zeros((nthreads, n), a.dtype)
    for w in prange(nthreads):
        acc = parts[w]
        for r in range(rows * w // nthreads, rows * (w + 1) // nthreads):
            row = a[r]
            for j in range(n):
                acc[j] += row[j]
    for j in range(n):
        out[j] = parts[:, j].sum()


@njit(cache=True)
def _sequence_forward(x2, h0, c0, w_ih, w_hh, bias, has_bias, y, cs, G, G2, one, nthreads):
    T = y.shape[0]
    zero = one - one
    _gemm(x2, w_ih, bias, has_bias, 0, False, True, one, zero, G2, nthreads)
    for t in range(T):
        hp = h0 if t == 0 else y[t - 1]
        cp = c0 if t == 0 else cs[t - 1]
        _gemm(hp, w_hh, bias, False, 0, False, True, one, one, G[t], nthreads)
        _pointwise_forward(G[t], cp, cs[t], y[t])


@njit(cache=True)
def _sequence_backward(
    gy,
    x2,
    h0,
    c0,
    w_ih,
    w_hh,
    y_head,
    cs,
    gates,
    dG,
    dG2,
    dG_tail,
    dh,
    dc,
    gx2,
    gwi,
    gwh,
    gb,
    one,
    nthreads,
):
    T = gates.shape[0]
    zero = one - one
    empty = gb[:0]
    for t in range(T - 1, -1, -1):
        cp = c0 if t == 0 else cs[t - 1]
        _pointwise_backward(dh, gy[t], dc, cp, cs[t], gates[t], dG[t], one)
        _gemm(dG[t], w_hh, empty, False, 0, False, False, one, zero, dh, nthreads)
    _gemm(dG2, w_ih, empty, False, 0, False, False, one, zero, gx2, nthreads)
    _gemm(dG2, x2, empty, False, 0, True, False, one, zero, gwi, nthreads)
    _gemm(
        dG2[: h0.shape[0] if T > 0 else 0],
        h0,
        empty,
        False,
        0,
        True,
        False,
        one,
        zero,
        gwh,
        nthreads,
    )
    if T > 1:
        _gemm(dG_tail, y_head, empty, False, 0, True, False, one, one, gwh, nthreads)
    _column_sums(dG2, gb, nthreads)


def _bias(b_ih, b_hh, n, dt):
    if b_ih is None and b_hh is None:
        return np.empty(0, dt), False
    b = np.zeros(n, dt)
    for v in (b_ih, b_hh):
        if v is not None:
            b += v
    return b, True


def lstm_sequence_forward(x, h0, c0, w_ih, w_hh, b_ih, b_hh):
    T, B, I = x.shape
    H = w_hh.shape[1]
    dt = x.dtype
    bias, has_bias = _bias(b_ih, b_hh, 4 * H, dt)
    y = np.empty((T, B, H), dt)
    cs = np.empty((T, B, H), dt)
    G = np.empty((T, B, 4 * H), dt)
    _sequence_forward(
        x.reshape(T * B, I),
        h0,
        c0,
        w_ih,
        w_hh,
        bias,
        has_bias,
        y,
        cs,
        G,
        G.reshape(T * B, 4 * H),
        dt.type(1),
        numba.get_num_threads(),
    )
    h_n = y[T - 1].copy() if T else h0.copy()
    c_n = cs[T - 1].copy() if T else c0.copy()
    return y, h_n, c_n, cs, G


def lstm_sequence_backward(grad_y, grad_hn, grad_cn, x, h0, c0, w_ih, w_hh, y, cs, gates):
    T, B, I = x.shape
    H = w_hh.shape[1]
    dt = x.dtype
    dG = np.empty((T, B, 4 * H), dt)
    dG2 = dG.reshape(T * B, 4 * H)
    dh, dc = grad_hn.copy(), grad_cn.copy()
    gx = np.empty((T, B, I), dt)
    gwi = np.empty((4 * H, I), dt)
    gwh = np.empty((4 * H, H), dt)
    gb = np.empty(4 * H, dt)
    y_head = y.reshape(T * B, H)[: max(T - 1, 0) * B]
    _sequence_backward(
        grad_y,
        x.reshape(T * B, I),
        h0,
        c0,
        w_ih,
        w_hh,
        y_head,
        cs,
        gates,
        dG,
        dG2,
        dG2[B:],
        dh,
        dc,
        gx.reshape(T * B, I),
        gwi,
        gwh,
        gb,
        dt.type(1),
        numba.get_num_threads(),
    )
    return gx, dh, dc, gwi, gwh, gb


def lstm_cell_forward(x, h, c, w_ih, w_hh, b_ih, b_hh):
    y, h_n, c_n, _, G = lstm_sequence_forward(x[None], h, c, w_ih, w_hh, b_ih, b_hh)
    return h_n, c_n, G[0]


def lstm_cell_backward(grad_h, grad_c, x, h, c, c_new, gates, w_ih, w_hh):
    gx, dh, dc, gwi, gwh, gb = lstm_sequence_backward(
        grad_h[None],
        np.zeros_like(grad_h),
        grad_c,
        x[None],
        h,
        c,
        w_ih,
        w_hh,
        h[None],
        c_new[None],
        gates[None],
    )
    return gx[0], dh, dc, gwi, gwh, gb
