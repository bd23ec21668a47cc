"""Numba LSTM kernels (cell + sequence, forward + backward), float32/float64.

* GEMMs: the numba backend's own packed, register-blocked ``_gemm`` (gemm.py), called from @njit
  code -- all four gates in one product; the sequence's input projection for all T steps is one
  (T*B) x I x 4H product with the bias fused in its epilogue; per step ``G_t += h W_hh^T``
  (beta = 1).
* pointwise: one fused prange loop per step (activations in place -- they are the saved gates --
  cell update, h); backward likewise produces dG and dc_{t-1} in one pass.
* weight gradients: GEMMs over all T*B rows at the end; bias gradient a column sum.
Constants are typed through a ``one`` argument of the array dtype, so float32 stays float32.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba import njit, prange

from .gemm import _gemm


@njit(cache=True, inline="always")
def _sigmoid(v, one):
    return one / (one + math.exp(-v))


@njit(parallel=True, cache=True)
def _pointwise_forward(G, c_prev, c_out, h_out, one):
    B, H = c_prev.shape
    for b in prange(B):
        for j in range(H):
            i = _sigmoid(G[b, j], one)
            f = _sigmoid(G[b, H + j], one)
            g = math.tanh(G[b, 2 * H + j])
            o = _sigmoid(G[b, 3 * H + j], one)
            G[b, j] = i
            G[b, H + j] = f
            G[b, 2 * H + j] = g
            G[b, 3 * H + j] = o
            c = f * c_prev[b, j] + i * g
            c_out[b, j] = c
            h_out[b, j] = o * math.tanh(c)


@njit(parallel=True, cache=True)
def _pointwise_backward(dh, gy, has_gy, dc, c_prev, c_new, gates, dG, one):
    B, H = dc.shape
    for b in prange(B):
        for j in range(H):
            i = gates[b, j]
            f = gates[b, H + j]
            g = gates[b, 2 * H + j]
            o = gates[b, 3 * H + j]
            tc = math.tanh(c_new[b, j])
            dhj = dh[b, j] + gy[b, j] if has_gy else dh[b, j]
            dcj = dc[b, j] + dhj * o * (one - tc * tc)
            dG[b, j] = dcj * g * i * (one - i)
            dG[b, H + j] = dcj * c_prev[b, j] * f * (one - f)
            dG[b, 2 * H + j] = dcj * i * (one - g * g)
            dG[b, 3 * H + j] = dhj * tc * o * (one - o)
            dc[b, j] = dcj * f


@njit(parallel=True, cache=True)
def _column_sums(a, out):
    rows, n = a.shape
    for j in prange(n):
        s = out[j] - out[j]
        for r in range(rows):
            s += a[r, j]
        out[j] = s


@njit(cache=True)
def _sequence_forward(x2, h0, c0, w_ih, w_hh, bias, has_bias, y, cs, G, G2, one, nthreads):
    T = y.shape[0]
    zero = one - one
    _gemm(x2, w_ih, bias, has_bias, 0, False, True, one, zero, G2, nthreads)
    for t in range(T):
        hp = h0 if t == 0 else y[t - 1]
        cp = c0 if t == 0 else cs[t - 1]
        _gemm(hp, w_hh, bias, False, 0, False, True, one, one, G[t], nthreads)
        _pointwise_forward(G[t], cp, cs[t], y[t], one)


@njit(cache=True)
def _sequence_backward(gy, x2, h0, c0, w_ih, w_hh, y_head, cs, gates, dG, dG2, dG_tail, dh, dc,
                       gx2, gwi, gwh, gb, one, nthreads):
    T = gates.shape[0]
    zero = one - one
    empty = gb[:0]
    for t in range(T - 1, -1, -1):
        cp = c0 if t == 0 else cs[t - 1]
        _pointwise_backward(dh, gy[t], True, dc, cp, cs[t], gates[t], dG[t], one)
        _gemm(dG[t], w_hh, empty, False, 0, False, False, one, zero, dh, nthreads)
    _gemm(dG2, w_ih, empty, False, 0, False, False, one, zero, gx2, nthreads)
    _gemm(dG2, x2, empty, False, 0, True, False, one, zero, gwi, nthreads)
    _gemm(dG2[: h0.shape[0] if T > 0 else 0], h0, empty, False, 0, True, False, one, zero, gwh,
          nthreads)
    if T > 1:
        _gemm(dG_tail, y_head, empty, False, 0, True, False, one, one, gwh, nthreads)
    _column_sums(dG2, gb)


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
    _sequence_forward(x.reshape(T * B, I), h0, c0, w_ih, w_hh, bias, has_bias, y, cs, G,
                      G.reshape(T * B, 4 * H), dt.type(1), numba.get_num_threads())
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
    _sequence_backward(grad_y, x.reshape(T * B, I), h0, c0, w_ih, w_hh, y_head, cs, gates, dG,
                       dG2, dG2[B:], dh, dc, gx.reshape(T * B, I), gwi, gwh, gb, dt.type(1),
                       numba.get_num_threads())
    return gx, dh, dc, gwi, gwh, gb


def lstm_cell_forward(x, h, c, w_ih, w_hh, b_ih, b_hh):
    y, h_n, c_n, _, G = lstm_sequence_forward(x[None], h, c, w_ih, w_hh, b_ih, b_hh)
    return h_n, c_n, G[0]


def lstm_cell_backward(grad_h, grad_c, x, h, c, c_new, gates, w_ih, w_hh):
    gx, dh, dc, gwi, gwh, gb = lstm_sequence_backward(
        grad_h[None], np.zeros_like(grad_h), grad_c, x[None], h, c, w_ih, w_hh, h[None],
        c_new[None], gates[None])
    return gx[0], dh, dc, gwi, gwh, gb
