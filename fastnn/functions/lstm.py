"""Recurrent Functions over the LSTM kernel family (``fastnn.ops.lstm_*``), and pad_sequence's.

``LSTMLayerFunction`` runs one layer in one direction over a whole sequence in one kernel call
(forward) and backpropagates through time in one kernel call (backward); the time reversal of a
``_reverse`` direction and the batch-first layout are handled here on the arrays, so the module
builds no extra autograd nodes for them. GRU runs on ordinary Tensor ops (nn/modules/rnn.py).
"""

from __future__ import annotations

from .._util import xp_of
from ..autograd import Function
from ..ops.lstm import (
    lstm_cell_backward,
    lstm_cell_forward,
    lstm_sequence_backward,
    lstm_sequence_forward,
)

__all__ = ["LSTMLayerFunction", "LSTMCellFunction", "PadSequenceFunction"]


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
