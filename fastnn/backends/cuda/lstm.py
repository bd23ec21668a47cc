"""CUDA LSTM kernels (numba-cuda), float32: cell + sequence, forward + backward.

* GEMMs: the cuda backend's shared-memory tiled sgemm (gemm.py) -- one product for all four gates;
  the sequence's input projection for all T steps is one (T*B) x I x 4H launch with the combined
  bias fused in its epilogue; per step ``G_t += h_{t-1} W_hh^T`` (beta = 1).
* pointwise: one fused kernel per step, one thread per (row, hidden unit) (consecutive threads ->
  consecutive hidden units: coalesced); it activates the four gates in place (they are the saved
  gates) and writes c_t and h_t. The backward kernel writes dG_t and dc_{t-1} the same way.
* weight gradients: sgemm over all T*B rows at the end; bias gradient a column-sum kernel (one
  thread per gate column, rows walked in order: coalesced across the warp).
No kernel here uses shared memory, so there is no syncthreads discipline to keep beyond gemm.py's.
Tested in Numba's CUDA simulator on tiny sizes; GPU speed is not measured here.

Versions (GPU speed not measured: tested in Numba's CUDA simulator only):
  version  idea                                          measured                     date
  1 (now)  tiled sgemm + one fused pointwise kernel per  -                            2026-11-23
           step, column-sum bias gradient
"""

# ruff: noqa: E741  (I is the input size, as in the kernel contract's (T, B, I, H) notation)

from __future__ import annotations

import math

from numba import cuda, float32

from ._arrays import device_view, empty, launch_1d, stream_of
from .gemm import gemm

THREADS = 128


@cuda.jit(device=True, inline=True)
def _sigmoid(v):
    return float32(1.0) / (float32(1.0) + math.exp(-v))


@cuda.jit
def _pointwise_forward(G, c_prev, c_out, h_out, B, H):
    k = cuda.grid(1)
    if k < B * H:
        b = k // H
        j = k - b * H
        i = _sigmoid(G[b, j])
        f = _sigmoid(G[b, H + j])
        g = math.tanh(G[b, 2 * H + j])
        o = _sigmoid(G[b, 3 * H + j])
        G[b, j] = i
        G[b, H + j] = f
        G[b, 2 * H + j] = g
        G[b, 3 * H + j] = o
        c = f * c_prev[b, j] + i * g
        c_out[b, j] = c
        h_out[b, j] = o * math.tanh(c)


@cuda.jit
def _pointwise_backward(dh, gy, dc, c_prev, c_new, gates, dG, B, H):
    k = cuda.grid(1)
    if k < B * H:
        b = k // H
        j = k - b * H
        one = float32(1.0)
        i = gates[b, j]
        f = gates[b, H + j]
        g = gates[b, 2 * H + j]
        o = gates[b, 3 * H + j]
        tc = math.tanh(c_new[b, j])
        dhj = dh[b, j] + gy[b, j]
        dcj = dc[b, j] + dhj * o * (one - tc * tc)
        dG[b, j] = dcj * g * i * (one - i)
        dG[b, H + j] = dcj * c_prev[b, j] * f * (one - f)
        dG[b, 2 * H + j] = dcj * i * (one - g * g)
        dG[b, 3 * H + j] = dhj * tc * o * (one - o)
        dc[b, j] = dcj * f


@cuda.jit
def _column_sums(a, out, rows, n):
    j = cuda.grid(1)
    if j < n:
        s = float32(0.0)
        for r in range(rows):
            s += a[r, j]
        out[j] = s


@cuda.jit
def _add_vectors(out, a, has_a, b, has_b, n):
    j = cuda.grid(1)
    if j < n:
        v = float32(0.0)
        if has_a:
            v += a[j]
        if has_b:
            v += b[j]
        out[j] = v


@cuda.jit
def _copy(dst, src, n):
    k = cuda.grid(1)
    if k < n:
        dst[k] = src[k]


@cuda.jit
def _fill(dst, value, n):
    k = cuda.grid(1)
    if k < n:
        dst[k] = value


def _copy_2d(src, like):
    out = empty(src.shape, src.dtype, like=like)
    n = src.shape[0] * src.shape[1]
    if n:
        launch_1d(
            _copy,
            n,
            THREADS,
            device_view(out.reshape(n)),
            device_view(src.reshape(n)),
            n,
            stream=stream_of(like),
        )
    return out


def _zeros_2d(shape, like):
    out = empty(shape, like.dtype, like=like)
    n = shape[0] * shape[1]
    if n:
        launch_1d(
            _fill, n, THREADS, device_view(out.reshape(n)), float32(0.0), n, stream=stream_of(like)
        )
    return out


def lstm_sequence_forward(x, h0, c0, w_ih, w_hh, b_ih, b_hh):
    T, B, I = x.shape
    H = w_hh.shape[1]
    stream = stream_of(x)
    bias = None
    if b_ih is not None or b_hh is not None:
        bias = empty((4 * H,), x.dtype, like=x)
        launch_1d(
            _add_vectors,
            4 * H,
            THREADS,
            device_view(bias),
            device_view(b_ih if b_ih is not None else bias),
            b_ih is not None,
            device_view(b_hh if b_hh is not None else bias),
            b_hh is not None,
            4 * H,
            stream=stream,
        )
    y = empty((T, B, H), x.dtype, like=x)
    cs = empty((T, B, H), x.dtype, like=x)
    G = empty((T, B, 4 * H), x.dtype, like=x)
    gemm(x.reshape(T * B, I), w_ih, bias, None, False, True, 1.0, 0.0, G.reshape(T * B, 4 * H))
    for t in range(T):
        hp = h0 if t == 0 else y[t - 1]
        cp = c0 if t == 0 else cs[t - 1]
        gemm(hp, w_hh, None, None, False, True, 1.0, 1.0, G[t])
        launch_1d(
            _pointwise_forward,
            B * H,
            THREADS,
            device_view(G[t]),
            device_view(cp),
            device_view(cs[t]),
            device_view(y[t]),
            B,
            H,
            stream=stream,
        )
    h_n = _copy_2d(y[T - 1] if T else h0, x)
    c_n = _copy_2d(cs[T - 1] if T else c0, x)
    return y, h_n, c_n, cs, G


def lstm_sequence_backward(grad_y, grad_hn, grad_cn, x, h0, c0, w_ih, w_hh, y, cs, gates):
    T, B, I = x.shape
    H = w_hh.shape[1]
    stream = stream_of(x)
    dG = empty((T, B, 4 * H), x.dtype, like=x)
    dG2 = dG.reshape(T * B, 4 * H)
    dh = _copy_2d(grad_hn, x)
    dc = _copy_2d(grad_cn, x)
    for t in range(T - 1, -1, -1):
        cp = c0 if t == 0 else cs[t - 1]
        launch_1d(
            _pointwise_backward,
            B * H,
            THREADS,
            device_view(dh),
            device_view(grad_y[t]),
            device_view(dc),
            device_view(cp),
            device_view(cs[t]),
            device_view(gates[t]),
            device_view(dG[t]),
            B,
            H,
            stream=stream,
        )
        gemm(dG[t], w_hh, None, None, False, False, 1.0, 0.0, dh)
    gx = empty((T, B, I), x.dtype, like=x)
    gemm(dG2, w_ih, None, None, False, False, 1.0, 0.0, gx.reshape(T * B, I))
    gwi = gemm(dG2, x.reshape(T * B, I), None, None, True, False, 1.0, 0.0, None)
    if T:
        gwh = gemm(dG[0], h0, None, None, True, False, 1.0, 0.0, None)
        if T > 1:
            gemm(
                dG2[B:], y.reshape(T * B, H)[: (T - 1) * B], None, None, True, False, 1.0, 1.0, gwh
            )
    else:
        gwh = _zeros_2d((4 * H, H), x)
    gb = empty((4 * H,), x.dtype, like=x)
    launch_1d(
        _column_sums, 4 * H, THREADS, device_view(dG2), device_view(gb), T * B, 4 * H, stream=stream
    )
    return gx, dh, dc, gwi, gwh, gb


def lstm_cell_forward(x, h, c, w_ih, w_hh, b_ih, b_hh):
    _, h_n, c_n, _, G = lstm_sequence_forward(x.reshape(1, *x.shape), h, c, w_ih, w_hh, b_ih, b_hh)
    return h_n, c_n, G[0]


def lstm_cell_backward(grad_h, grad_c, x, h, c, c_new, gates, w_ih, w_hh):
    zeros = _zeros_2d(grad_h.shape, x)
    gx, dh, dc, gwi, gwh, gb = lstm_sequence_backward(
        grad_h.reshape(1, *grad_h.shape),
        zeros,
        grad_c,
        x.reshape(1, *x.shape),
        h,
        c,
        w_ih,
        w_hh,
        h.reshape(1, *h.shape),
        c_new.reshape(1, *c_new.shape),
        gates.reshape(1, *gates.shape),
    )
    return gx[0], dh, dc, gwi, gwh, gb
