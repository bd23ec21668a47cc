"""The attention family's part of fastnn.nn.functional (PyTorch's names, signatures and
semantics): scaled_dot_product_attention and multi_head_attention_forward."""

from __future__ import annotations

import math

import numpy as np

from ..._util import xp_of
from ...functions.attention import AttentionDropoutFunction, AttentionFunction
from ...tensor import Tensor, wrap

__all__ = ["scaled_dot_product_attention", "multi_head_attention_forward"]


def _raw(x):
    return x.array if isinstance(x, Tensor) else x


def scaled_dot_product_attention(
    query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False
):
    """softmax(query key^T * scale + mask) value, fused (flash-style) unless dropout_p > 0.

    Args:
        query: (..., L, E); key: (..., S, E); value: (..., S, Ev) -- same leading dims
            (with ``enable_gqa``, key/value may have fewer heads in dim -3, a divisor of query's).
        attn_mask: None, a bool Tensor (True = take part in attention) or a float Tensor added to
            the scores; broadcastable to (..., L, S). Never differentiated.
        dropout_p: dropout on the attention probabilities (always applied, as in PyTorch; pass
            0.0 in eval). > 0 runs the unfused composed path.
        is_causal: top-left aligned causal mask; an error together with attn_mask.
        scale: default 1/sqrt(E).

    Returns:
        (..., L, Ev). A query whose keys are all masked gets zeros (not NaN).
    """
    for name, t in (("query", query), ("key", key), ("value", value)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{name}: expected a Tensor, got {type(t).__name__}")
    if is_causal and attn_mask is not None:
        raise ValueError("attn_mask: an explicit attn_mask should not be set when is_causal=True")
    if enable_gqa and query.dim() >= 3 and key.shape[-3] != query.shape[-3]:
        hq, hk = query.shape[-3], key.shape[-3]
        if hk == 0 or hq % hk:
            raise ValueError(f"key: {hk} key/value heads do not divide {hq} query heads")
        key, value = _repeat_heads(key, hq // hk), _repeat_heads(value, hq // hk)
    mask = _raw(attn_mask)
    if dropout_p > 0.0:
        return AttentionDropoutFunction.apply(
            query, key, value, mask, bool(is_causal), scale, float(dropout_p)
        )
    return AttentionFunction.apply(query, key, value, mask, bool(is_causal), scale)


def _repeat_heads(x, g):
    """repeat_interleave(g, dim=-3) by expand + reshape (autograd flows through both)."""
    shape = tuple(x.shape)
    x = x.unsqueeze(-3).expand(*shape[:-2], g, *shape[-2:])
    return x.reshape(*shape[:-3], shape[-3] * g, *shape[-2:])


def _additive(mask, dtype, name):
    """PyTorch's MHA convention (bool True = NOT allowed) -> an additive float array."""
    if mask is None:
        return None
    m = _raw(mask)
    xp = xp_of(m)
    if m.dtype == np.bool_:
        return xp.where(m, dtype.type(-np.inf), dtype.type(0))
    if np.dtype(m.dtype).kind != "f":
        raise TypeError(
            f"{name}: only bool and floating types of masks are supported, got {m.dtype}"
        )
    return m.astype(dtype, copy=False)


def _heads(x, static, name, N, H, hd):
    """(seq, N, H*hd) -> (N, H, seq, hd), or the given ``static`` (N*H, seq, hd) key/value."""
    if static is None:
        return x.reshape(x.shape[0], N, H, hd).permute(1, 2, 0, 3)
    if static.dim() != 3 or static.shape[0] != N * H or static.shape[2] != hd:
        raise ValueError(
            f"{name}: expected shape ({N * H}, S, {hd}), got {tuple(static.shape)}"
        )
    return static.reshape(N, H, static.shape[1], hd)


def multi_head_attention_forward(
    query,
    key,
    value,
    embed_dim_to_check,
    num_heads,
    in_proj_weight,
    in_proj_bias,
    bias_k,
    bias_v,
    add_zero_attn,
    dropout_p,
    out_proj_weight,
    out_proj_bias,
    training=True,
    key_padding_mask=None,
    need_weights=True,
    attn_mask=None,
    use_separate_proj_weight=False,
    q_proj_weight=None,
    k_proj_weight=None,
    v_proj_weight=None,
    static_k=None,
    static_v=None,
    average_attn_weights=True,
    is_causal=False,
):
    """PyTorch's multi-head attention forward on seq-first inputs.

    query (L, N, E) or unbatched (L, E); key (S, N, kdim); value (S, N, vdim).
    key_padding_mask (N, S) and attn_mask (L, S) or (N*num_heads, L, S): bool True = masked
    out, float = added. Returns (attn_output (L, N, E), weights (N, L, S) averaged over heads,
    (N, H, L, S) otherwise, or None when need_weights is False). Without need_weights the
    fused kernels run; with it, the scores are materialised (PyTorch's math path).
    """
    from ...functions.shape import cat
    from ._core import dropout, linear, softmax

    if (bias_k is None) != (bias_v is None):
        raise ValueError("bias_k, bias_v: give both or neither")
    if bias_k is not None and (static_k is not None or static_v is not None):
        raise ValueError("bias_k, bias_v: bias cannot be added to a static key/value")
    unbatched = query.dim() == 2
    if unbatched:
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = _raw(key_padding_mask)[None]
    L, N, E = query.shape
    S = key.shape[0]
    if E != embed_dim_to_check:
        raise ValueError(
            f"query: was expecting embedding dimension of {embed_dim_to_check}, got {E}"
        )
    if E % num_heads:
        raise ValueError(f"embed_dim {E} not divisible by num_heads {num_heads}")
    hd = E // num_heads
    if is_causal and attn_mask is None:
        raise RuntimeError("Need attn_mask if specifying the is_causal hint")
    use_kernel_causal = bool(is_causal) and key_padding_mask is None and not need_weights
    if use_kernel_causal:
        attn_mask = None
    # projections
    if not use_separate_proj_weight:
        if query is key and key is value:
            q, k, v = linear(query, in_proj_weight, in_proj_bias).chunk(3, dim=-1)
        else:
            w_q, w_k, w_v = in_proj_weight.chunk(3)
            b_q = b_k = b_v = None
            if in_proj_bias is not None:
                b_q, b_k, b_v = in_proj_bias.chunk(3)
            q, k, v = linear(query, w_q, b_q), linear(key, w_k, b_k), linear(value, w_v, b_v)
    else:
        b_q = b_k = b_v = None
        if in_proj_bias is not None:
            b_q, b_k, b_v = in_proj_bias.chunk(3)
        q = linear(query, q_proj_weight, b_q)
        k = linear(key, k_proj_weight, b_k)
        v = linear(value, v_proj_weight, b_v)
    # bias_k / bias_v: one more key/value position shared by the batch; add_zero_attn: one more
    # zero key/value after it; the masks get a column of "allowed" for each (PyTorch's order)
    extra = 0
    if bias_k is not None:
        k = cat([k, bias_k.reshape(1, 1, E).expand(1, N, E)], 0)
        v = cat([v, bias_v.reshape(1, 1, E).expand(1, N, E)], 0)
        extra += 1
    # (seq, N, E) -> (N, H, seq, hd)
    q = q.reshape(L, N, num_heads, hd).permute(1, 2, 0, 3)
    k = _heads(k, static_k, "static_k", N, num_heads, hd)
    v = _heads(v, static_v, "static_v", N, num_heads, hd)
    if add_zero_attn:
        zero = wrap(xp_of(k.array).zeros((N, num_heads, 1, hd), dtype=k.array.dtype))
        k, v = cat([k, zero], 2), cat([v, zero], 2)
        extra += 1
    dt = np.dtype(q.array.dtype)
    mask = _additive(attn_mask, dt, "attn_mask")
    if mask is not None:
        if mask.ndim == 2:
            if tuple(mask.shape) != (L, S):
                raise ValueError(
                    f"attn_mask: the shape of the 2D attn_mask is {tuple(mask.shape)}, "
                    f"but should be {(L, S)}"
                )
            mask = mask[None, None]
        elif mask.ndim == 3:
            if tuple(mask.shape) != (N * num_heads, L, S):
                raise ValueError(
                    f"attn_mask: the shape of the 3D attn_mask is {tuple(mask.shape)},"
                    f" but should be {(N * num_heads, L, S)}"
                )
            mask = mask.reshape(N, num_heads, L, S)
        else:
            raise ValueError(f"attn_mask: expected a 2-D or 3-D mask, got {mask.ndim}-D")
    kpm = _additive(key_padding_mask, dt, "key_padding_mask")
    if kpm is not None:
        if tuple(kpm.shape) != (N, S):
            raise ValueError(f"key_padding_mask: expected shape {(N, S)}, got {tuple(kpm.shape)}")
        kpm = kpm.reshape(N, 1, 1, S)
        mask = kpm if mask is None else mask + kpm
    if mask is not None and extra:
        xp = xp_of(mask)
        mask = xp.concatenate(
            [mask, xp.zeros(mask.shape[:-1] + (extra,), dtype=mask.dtype)], axis=-1
        )
    p = dropout_p if training else 0.0
    weights = None
    if need_weights:
        # PyTorch scales q before the product (math.sqrt(1 / hd), not 1 / math.sqrt(hd)): the
        # same rounding as its math path
        scores = (q * math.sqrt(1.0 / hd)).matmul(k.transpose(-2, -1))
        if mask is not None:
            scores = scores + wrap(mask)
        attn = softmax(scores, dim=-1)
        if p > 0.0:
            attn = dropout(attn, p=p)
        out = attn.matmul(v)
        weights = attn.mean(dim=1) if average_attn_weights else attn
        if unbatched:
            weights = weights.squeeze(0)
    else:
        out = scaled_dot_product_attention(
            q,
            k,
            v,
            attn_mask=None if mask is None else wrap(mask),
            dropout_p=p,
            is_causal=use_kernel_causal,
        )
    out = out.permute(2, 0, 1, 3).reshape(L, N, E)
    out = linear(out, out_proj_weight, out_proj_bias)
    if unbatched:
        out = out.squeeze(1)
    return out, weights
