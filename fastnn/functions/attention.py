"""Scaled dot-product attention as differentiable Functions over the attention kernel family.

``AttentionFunction``: the fused kernels (``fastnn.ops.attention_forward`` / ``_backward``,
FlashAttention-2: only out and the per-row logsumexp are saved; backward recomputes the scores).
``AttentionDropoutFunction``: the unfused composed path ``dropout_p > 0`` needs (the kernels take
no dropout); it saves the (Lq, Lk) probabilities and the keep mask.
The mask is never differentiated (a float mask that requires grad gets no gradient).
"""

from __future__ import annotations

from ..autograd import Function
from ..ops.attention import (
    attention_backward,
    attention_dropout_backward,
    attention_dropout_forward,
    attention_forward,
)

__all__ = ["AttentionFunction", "AttentionDropoutFunction"]


class AttentionFunction(Function):
    """out = softmax(q k^T * scale + mask [causal]) v on (..., L, d) arrays."""

    @staticmethod
    def forward(ctx, q, k, v, mask, causal, scale):
        out, lse = attention_forward(q, k, v, mask, causal, scale)
        ctx.save_for_backward(q, k, v, out, lse)
        ctx.mask, ctx.causal, ctx.scale = mask, causal, scale
        return out

    @staticmethod
    def backward(ctx, grad):
        q, k, v, out, lse = ctx.saved_tensors
        dq, dk, dv = attention_backward(grad, q, k, v, out, lse, ctx.mask, ctx.causal, ctx.scale)
        return dq, dk, dv, None, None, None


class AttentionDropoutFunction(Function):
    """Attention with dropout on the probabilities (unfused; materialises (Lq, Lk))."""

    @staticmethod
    def forward(ctx, q, k, v, mask, causal, scale, dropout_p):
        out, probs, keep = attention_dropout_forward(q, k, v, mask, causal, scale, dropout_p)
        ctx.save_for_backward(q, k, v, probs, keep)
        ctx.scale = scale
        return out

    @staticmethod
    def backward(ctx, grad):
        q, k, v, probs, keep = ctx.saved_tensors
        dq, dk, dv = attention_dropout_backward(grad, q, k, v, probs, keep, ctx.scale)
        return dq, dk, dv, None, None, None, None
