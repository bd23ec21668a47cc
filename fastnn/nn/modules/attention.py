"""nn.MultiheadAttention (PyTorch's parameters, names, init and semantics) over the fused
attention kernels (``F.scaled_dot_product_attention``); the unfused path runs only when the
attention weights are requested (``need_weights=True``, PyTorch's default)."""

from __future__ import annotations

import numpy as np

from .. import init
from .linear import Linear, _factory_dtype
from .module import Module, Parameter

__all__ = ["MultiheadAttention", "NonDynamicallyQuantizableLinear"]


class NonDynamicallyQuantizableLinear(Linear):
    """PyTorch's name for MultiheadAttention.out_proj's class (a plain Linear)."""


class MultiheadAttention(Module):
    """Multi-head attention: ``out_proj(concat_h softmax(q_h k_h^T / sqrt(hd) + mask) v_h)``.

    Args:
        embed_dim: model size E; num_heads: heads (E divisible by it).
        dropout: dropout on the attention probabilities in training.
        bias: biases on the input and output projections.
        add_bias_kv: learn one extra key and value position (bias_k, bias_v, each (1, 1, E)).
        add_zero_attn: append one all-zero key and value position.
        kdim, vdim: key/value feature sizes (default E); when they differ from E the input
            projection is three separate weights q_proj_weight, k_proj_weight, v_proj_weight.
        batch_first: inputs and outputs are (N, L, E) instead of (L, N, E).

    Parameters (PyTorch's names, so state_dicts transfer both ways): in_proj_weight (3E, E) and
    in_proj_bias (3E,), or q/k/v_proj_weight; out_proj.weight, out_proj.bias.
    Init: xavier_uniform_ on the input projections, zero biases, out_proj.weight as Linear.
    """

    def __init__(
        self,
        embed_dim,
        num_heads,
        dropout=0.0,
        bias=True,
        add_bias_kv=False,
        add_zero_attn=False,
        kdim=None,
        vdim=None,
        batch_first=False,
        device=None,
        dtype=None,
    ):
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(
                f"embed_dim and num_heads must be greater than 0, got "
                f"embed_dim={embed_dim} and num_heads={num_heads} instead"
            )
        self.embed_dim = embed_dim
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.num_heads = num_heads
        self.dropout = dropout
        self.batch_first = batch_first
        self.head_dim = embed_dim // num_heads
        if self.head_dim * num_heads != embed_dim:
            raise ValueError("embed_dim must be divisible by num_heads")
        dt = _factory_dtype(dtype)
        if not self._qkv_same_embed_dim:
            self.q_proj_weight = Parameter(np.empty((embed_dim, embed_dim), dt))
            self.k_proj_weight = Parameter(np.empty((embed_dim, self.kdim), dt))
            self.v_proj_weight = Parameter(np.empty((embed_dim, self.vdim), dt))
            self.register_parameter("in_proj_weight", None)
        else:
            self.in_proj_weight = Parameter(np.empty((3 * embed_dim, embed_dim), dt))
            self.register_parameter("q_proj_weight", None)
            self.register_parameter("k_proj_weight", None)
            self.register_parameter("v_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(np.empty((3 * embed_dim,), dt))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = NonDynamicallyQuantizableLinear(
            embed_dim, embed_dim, bias=bias, dtype=dtype
        )
        if add_bias_kv:
            self.bias_k = Parameter(np.empty((1, 1, embed_dim), dt))
            self.bias_v = Parameter(np.empty((1, 1, embed_dim), dt))
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = add_zero_attn
        self._reset_parameters()
        if device is not None:
            self.to(device)

    def _reset_parameters(self):
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            init.xavier_uniform_(self.q_proj_weight)
            init.xavier_uniform_(self.k_proj_weight)
            init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            init.constant_(self.in_proj_bias, 0.0)
            init.constant_(self.out_proj.bias, 0.0)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
        if self.bias_v is not None:
            init.xavier_normal_(self.bias_v)

    def forward(
        self,
        query,
        key,
        value,
        key_padding_mask=None,
        need_weights=True,
        attn_mask=None,
        average_attn_weights=True,
        is_causal=False,
    ):
        """Args: query (L, N, E) [(N, L, E) with batch_first; (L, E) unbatched], key (S, N, kdim),
        value (S, N, vdim); key_padding_mask (N, S) and attn_mask (L, S) or (N*H, L, S), bool
        True = not allowed or float added; need_weights returns the attention weights
        (averaged over heads when average_attn_weights); is_causal is a hint that attn_mask is
        the causal mask (the fused causal kernel then runs when no weights are needed).

        Returns: (attn_output, attn_weights or None)."""
        from ..functional._attention import multi_head_attention_forward

        if query.dim() not in (2, 3):
            raise ValueError(f"query: expected an unbatched 2-D or batched 3-D tensor, got "
                             f"{query.dim()}-D with shape {list(query.shape)}")
        for name, t in (("key", key), ("value", value)):
            if t.dim() != query.dim():
                raise ValueError(f"{name}: expected {query.dim()}-D like query, got {t.dim()}-D")
        if tuple(key.shape[:-1]) != tuple(value.shape[:-1]):
            raise ValueError(f"key shape {list(key.shape)} does not match value shape "
                             f"{list(value.shape)} (all dims but the last must agree)")
        is_batched = query.dim() == 3
        if self.batch_first and is_batched:
            if key is value:
                if query is key:
                    query = key = value = query.transpose(1, 0)
                else:
                    query, key = (x.transpose(1, 0) for x in (query, key))
                    value = key
            else:
                query, key, value = (x.transpose(1, 0) for x in (query, key, value))
        out, weights = multi_head_attention_forward(
            query,
            key,
            value,
            self.embed_dim,
            self.num_heads,
            self.in_proj_weight,
            self.in_proj_bias,
            self.bias_k,
            self.bias_v,
            self.add_zero_attn,
            self.dropout,
            self.out_proj.weight,
            self.out_proj.bias,
            training=self.training,
            key_padding_mask=key_padding_mask,
            need_weights=need_weights,
            attn_mask=attn_mask,
            use_separate_proj_weight=not self._qkv_same_embed_dim,
            q_proj_weight=self.q_proj_weight,
            k_proj_weight=self.k_proj_weight,
            v_proj_weight=self.v_proj_weight,
            average_attn_weights=average_attn_weights,
            is_causal=is_causal,
        )
        if self.batch_first and is_batched:
            out = out.transpose(1, 0)
        return out, weights

    def extra_repr(self) -> str:
        return (
            f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, "
            f"batch_first={self.batch_first}"
        )
