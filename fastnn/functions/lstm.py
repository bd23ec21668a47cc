"""Recurrent Functions over the LSTM kernel family (``fastnn.ops.lstm_*``), and pad_sequence's.

``LSTMLayerFunction`` runs one layer in one direction over a whole sequence in one kernel call
(forward) and backpropagates through time in one kernel call (backward); the time reversal of a
``_reverse`` direction and the batch-first layout are handled here on the arrays, so the module
builds no extra autograd nodes for them. ``GRUGatesFunction`` and ``LSTMGatesFunction`` are the
elementwise part of one GRU / LSTM step (the composed recurrences of nn/modules/rnn.py: RNN, GRU,
LSTM with projections or a PackedSequence), written as ATen writes them.
"""

from __future__ import annotations

import numpy as np

from .._util import xp_of
from ..autograd import Function
from ..ops.lstm import (
    lstm_cell_backward,
    lstm_cell_forward,
    lstm_sequence_backward,
    lstm_sequence_forward,
)

__all__ = [
    "LSTMLayerFunction",
    "LSTMCellFunction",
    "PadSequenceFunction",
    "GRUGatesFunction",
    "LSTMGatesFunction",
]


def _to_time_major(x, batch_first, reverse):
    """The (T, B, F) view of a (T, B, F) / (B, T, F) array, reversed in time when asked
    (``fastnn.ops`` makes it contiguous: at most one copy)."""
    if batch_first:
        x = x.transpose(1, 0, 2)
    return x[::-1] if reverse else x


def _from_time_major(y, batch_first, reverse):
    """Inverse of :func:`_to_time_major`, as a C-contiguous array."""
    if reverse:
        y = y[::-1]
    if batch_first:
        y = y.transpose(1, 0, 2)
    return xp_of(y).ascontiguousarray(y)


class LSTMLayerFunction(Function):
    """(y, h_n, c_n) = one LSTM layer over x (T, B, I) -- (B, T, I) when ``batch_first`` --
    from state (h0, c0) (B, H); ``reverse`` runs from the last step to the first (the
    ``_reverse`` direction of a bidirectional LSTM), y staying in input time order."""

    @staticmethod
    def forward(ctx, x, h0, c0, w_ih, w_hh, b_ih, b_hh, reverse=False, batch_first=False):
        xt = _to_time_major(x, batch_first, reverse)
        y, h_n, c_n, cs, gates = lstm_sequence_forward(xt, h0, c0, w_ih, w_hh, b_ih, b_hh)
        if any(ctx.needs_input_grad):
            ctx.save_for_backward(xt, h0, c0, w_ih, w_hh, y, cs, gates)
        ctx.layout = (batch_first, reverse)
        ctx.has_bias = (b_ih is not None, b_hh is not None)
        return _from_time_major(y, batch_first, reverse), h_n, c_n

    @staticmethod
    def backward(ctx, grad_y, grad_hn, grad_cn):
        xt, h0, c0, w_ih, w_hh, y, cs, gates = ctx.saved_tensors
        batch_first, reverse = ctx.layout
        gy = _to_time_major(grad_y, batch_first, reverse)
        gx, gh0, gc0, gwi, gwh, gb = lstm_sequence_backward(
            gy, grad_hn, grad_cn, xt, h0, c0, w_ih, w_hh, y, cs, gates
        )
        gx = _from_time_major(gx, batch_first, reverse)
        gb_ih = gb if ctx.has_bias[0] else None
        gb_hh = (gb.copy() if ctx.has_bias[0] else gb) if ctx.has_bias[1] else None
        return gx, gh0, gc0, gwi, gwh, gb_ih, gb_hh, None, None


class LSTMCellFunction(Function):
    """(h', c') = one LSTM step from x (B, I) and state (h, c) (B, H)."""

    @staticmethod
    def forward(ctx, x, h, c, w_ih, w_hh, b_ih, b_hh):
        h_new, c_new, gates = lstm_cell_forward(x, h, c, w_ih, w_hh, b_ih, b_hh)
        if any(ctx.needs_input_grad):
            ctx.save_for_backward(x, h, c, c_new, gates, w_ih, w_hh)
        ctx.has_bias = (b_ih is not None, b_hh is not None)
        return h_new, c_new

    @staticmethod
    def backward(ctx, grad_h, grad_c):
        x, h, c, c_new, gates, w_ih, w_hh = ctx.saved_tensors
        gx, gh, gc, gwi, gwh, gb = lstm_cell_backward(
            grad_h, grad_c, x, h, c, c_new, gates, w_ih, w_hh
        )
        gb_ih = gb if ctx.has_bias[0] else None
        gb_hh = (gb.copy() if ctx.has_bias[0] else gb) if ctx.has_bias[1] else None
        return gx, gh, gc, gwi, gwh, gb_ih, gb_hh


class PadSequenceFunction(Function):
    """Stacks sequences (L_i, *) into (T_max, B, *) -- (B, T_max, *) when ``batch_first`` --
    filling with ``padding_value`` after (``padding_side="right"``) or before each sequence."""

    @staticmethod
    def forward(ctx, *seqs, batch_first=False, padding_value=0.0, padding_side="right"):
        xp = xp_of(seqs[0])
        T = max(s.shape[0] for s in seqs)
        trailing = seqs[0].shape[1:]
        out = xp.full((len(seqs), T) + trailing, padding_value, dtype=seqs[0].dtype)
        spans = []
        for b, s in enumerate(seqs):
            lo = 0 if padding_side == "right" else T - s.shape[0]
            spans.append((lo, lo + s.shape[0]))
            out[b, lo : lo + s.shape[0]] = s
        ctx.spans = spans
        ctx.batch_first = batch_first
        return out if batch_first else xp.ascontiguousarray(out.swapaxes(0, 1))

    @staticmethod
    def backward(ctx, grad):
        if not ctx.batch_first:
            grad = grad.swapaxes(0, 1)
        return tuple(grad[b, lo:hi].copy() for b, (lo, hi) in enumerate(ctx.spans))


def _sigmoid(x):
    """1 / (1 + exp(-x)), ATen's formula: near saturation (y close to 1) the rounding of y decides
    1 - y and so every gate gradient; the overflow-free exp(-logaddexp(0, -x)) of the Tensor op
    rounds differently there, and a 2-layer bidirectional GRU then drifts from PyTorch by more
    than torch.testing's float32 tolerance (though no further from float64 than PyTorch's own).
    exp(-x) overflowing to inf gives 1 / inf = 0, the right limit."""
    xp = xp_of(x)
    one = x.dtype.type(1)
    with np.errstate(over="ignore"):
        return one / (one + xp.exp(-x))


class GRUGatesFunction(Function):
    """h' = (h - n) * z + n from the gate pre-activations gi = x W_ih^T + b_ih and
    gh = h W_hh^T + b_hh (B, 3H; gate order r, z, n) and h (B, H): ATen's GRUCell term for term
    (forward and the backward its autograd builds), so float32 rounding follows PyTorch's;
    one node per step instead of fourteen."""

    @staticmethod
    def forward(ctx, gi, gh, h):
        H = h.shape[-1]
        r = _sigmoid(gh[..., :H] + gi[..., :H])
        z = _sigmoid(gh[..., H : 2 * H] + gi[..., H : 2 * H])
        hn = gh[..., 2 * H :]
        n = xp_of(h).tanh(gi[..., 2 * H :] + hn * r)
        h_minus_n = h - n
        ctx.save_for_backward(r, z, n, hn, h_minus_n)
        return h_minus_n * z + n

    @staticmethod
    def backward(ctx, g):
        r, z, n, hn, h_minus_n = ctx.saved_tensors
        xp = xp_of(g)
        one = g.dtype.type(1)
        gz = g * z
        da_n = (g - gz) * (one - n * n)
        da_r = da_n * hn * (one - r) * r
        da_z = g * h_minus_n * (one - z) * z
        return (
            xp.concatenate([da_r, da_z, da_n], -1),
            xp.concatenate([da_r, da_z, da_n * r], -1),
            gz,
        )


class LSTMGatesFunction(Function):
    """(h', c') of one LSTM step from the gate pre-activations (B, 4H; order i, f, g, o) and c
    (B, H): ATen's LSTMCell term for term (c' = f c + i g, h' = o tanh(c')), one node per step;
    the composed LSTM (projections, packed input) projects h' outside."""

    @staticmethod
    def forward(ctx, gates, c):
        H = c.shape[-1]
        xp = xp_of(c)
        i = _sigmoid(gates[..., :H])
        f = _sigmoid(gates[..., H : 2 * H])
        g = xp.tanh(gates[..., 2 * H : 3 * H])
        o = _sigmoid(gates[..., 3 * H :])
        c_new = f * c + i * g
        tc = xp.tanh(c_new)
        ctx.save_for_backward(i, f, g, o, c, tc)
        return o * tc, c_new

    @staticmethod
    def backward(ctx, grad_h, grad_c):
        i, f, g, o, c, tc = ctx.saved_tensors
        one = grad_h.dtype.type(1)
        dc = grad_c + grad_h * o * (one - tc * tc)
        return (
            xp_of(c).concatenate(
                [
                    dc * g * (one - i) * i,
                    dc * c * (one - f) * f,
                    dc * i * (one - g * g),
                    grad_h * tc * (one - o) * o,
                ],
                -1,
            ),
            dc * f,
        )
