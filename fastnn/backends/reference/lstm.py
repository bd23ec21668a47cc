"""Reference LSTM kernels: NumPy, float32/float64, written to read like the contract's equations.

Gate order is PyTorch's (i, f, g, o). The saved ``gates`` hold the *activated* values, so the
backward needs no transcendental except tanh(c).
"""

# ruff: noqa: E741  (I is the input size, as in the kernel contract's (T, B, I, H) notation)

import numpy as np

from ..._math import sigmoid


def _activate(pre, H):
    """Pre-activations (..., 4H) -> activated gates (i, f, o sigmoid; g tanh), a new array."""
    act = np.empty_like(pre)
    act[..., : 2 * H] = sigmoid(pre[..., : 2 * H])
    act[..., 2 * H : 3 * H] = np.tanh(pre[..., 2 * H : 3 * H])
    act[..., 3 * H :] = sigmoid(pre[..., 3 * H :])
    return act


def _bias(b_ih, b_hh, n, dtype):
    b = np.zeros(n, dtype)
    if b_ih is not None:
        b = b + b_ih
    if b_hh is not None:
        b = b + b_hh
    return b


def _cell_pointwise_backward(dh, dc, c_prev, c_new, gates, H):
    """(dG pre-activation gradient (B, 4H), dc_prev) of one step, given dh/dc flowing in."""
    i, f, g, o = (gates[:, k * H : (k + 1) * H] for k in range(4))
    tc = np.tanh(c_new)
    dc = dc + dh * o * (1 - tc * tc)
    dG = np.empty_like(gates)
    dG[:, :H] = dc * g * i * (1 - i)
    dG[:, H : 2 * H] = dc * c_prev * f * (1 - f)
    dG[:, 2 * H : 3 * H] = dc * i * (1 - g * g)
    dG[:, 3 * H :] = dh * tc * o * (1 - o)
    return dG, dc * f


def lstm_cell_forward(x, h, c, w_ih, w_hh, b_ih, b_hh):
    H = w_hh.shape[1]
    pre = x @ w_ih.T + h @ w_hh.T + _bias(b_ih, b_hh, 4 * H, x.dtype)
    gates = _activate(pre.astype(x.dtype, copy=False), H)
    i, f, g, o = (gates[:, k * H : (k + 1) * H] for k in range(4))
    c_new = f * c + i * g
    h_new = o * np.tanh(c_new)
    return h_new, c_new, gates


def lstm_cell_backward(grad_h, grad_c, x, h, c, c_new, gates, w_ih, w_hh):
    H = w_hh.shape[1]
    dG, dc_prev = _cell_pointwise_backward(grad_h, grad_c, c, c_new, gates, H)
    return dG @ w_ih, dG @ w_hh, dc_prev, dG.T @ x, dG.T @ h, dG.sum(axis=0)


def lstm_sequence_forward(x, h0, c0, w_ih, w_hh, b_ih, b_hh):
    T, B, I = x.shape
    H = w_hh.shape[1]
    # the input projection of every step at once: one (T*B, I) x (I, 4H) product
    xg = (x.reshape(T * B, I) @ w_ih.T + _bias(b_ih, b_hh, 4 * H, x.dtype)).reshape(T, B, 4 * H)
    y = np.empty((T, B, H), x.dtype)
    cs = np.empty((T, B, H), x.dtype)
    gates = np.empty((T, B, 4 * H), x.dtype)
    h, c = h0, c0
    for t in range(T):
        gates[t] = _activate(xg[t] + h @ w_hh.T, H)
        i, f, g, o = (gates[t, :, k * H : (k + 1) * H] for k in range(4))
        c = cs[t] = f * c + i * g
        h = y[t] = o * np.tanh(c)
    return y, h.copy(), c.copy(), cs, gates


def lstm_sequence_backward(grad_y, grad_hn, grad_cn, x, h0, c0, w_ih, w_hh, y, cs, gates):
    T, B, I = x.shape
    H = w_hh.shape[1]
    dG = np.empty((T, B, 4 * H), x.dtype)
    dh, dc = grad_hn.copy(), grad_cn.copy()
    for t in range(T - 1, -1, -1):
        c_prev = cs[t - 1] if t > 0 else c0
        dG[t], dc = _cell_pointwise_backward(dh + grad_y[t], dc, c_prev, cs[t], gates[t], H)
        dh = dG[t] @ w_hh
    h_prev = np.concatenate([h0[None], y[:-1]], axis=0)[:T].reshape(T * B, H)
    dG2 = dG.reshape(T * B, 4 * H)
    grad_x = (dG2 @ w_ih).reshape(T, B, I)
    return grad_x, dh, dc, dG2.T @ x.reshape(T * B, I), dG2.T @ h_prev, dG2.sum(axis=0)
