"""nn.TransformerEncoderLayer and nn.TransformerEncoder, PyTorch's structure and submodule names
(self_attn, linear1, dropout, linear2, norm1, norm2, dropout1, dropout2; layers.N.*), so
state_dicts transfer both ways. Self-attention runs the fused kernels (need_weights=False)."""

from __future__ import annotations

import copy

import numpy as np

from ...tensor import Tensor
from .attention import MultiheadAttention
from .container import ModuleList
from .dropout import Dropout
from .linear import Linear
from .module import Module
from .normalization import LayerNorm

__all__ = ["TransformerEncoderLayer", "TransformerEncoder"]


def _activation(name):
    from ..functional import _core as F

    if name == "relu":
        return F.relu
    if name == "gelu":
        return F.gelu
    raise RuntimeError(f"activation should be relu/gelu, not {name}")


class TransformerEncoderLayer(Module):
    """Self-attention + feed-forward block (PyTorch's TransformerEncoderLayer).

    Args:
        d_model, nhead, dim_feedforward (2048), dropout (0.1), activation ("relu", "gelu" or a
        callable), layer_norm_eps (1e-5), batch_first (False), norm_first (False, post-norm),
        bias (True).
    """

    def __init__(
        self,
        d_model,
        nhead,
        dim_feedforward=2048,
        dropout=0.1,
        activation="relu",
        layer_norm_eps=1e-5,
        batch_first=False,
        norm_first=False,
        bias=True,
        device=None,
        dtype=None,
    ):
        super().__init__()
        self.self_attn = MultiheadAttention(
            d_model,
            nhead,
            dropout=dropout,
            bias=bias,
            batch_first=batch_first,
            device=device,
            dtype=dtype,
        )
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, device=device, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, device=device, dtype=dtype)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, device=device, dtype=dtype)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, device=device, dtype=dtype)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.activation = _activation(activation) if isinstance(activation, str) else activation

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
        """src (S, N, E) [(N, S, E) with batch_first]; src_mask (S, S) or (N*nhead, S, S);
        src_key_padding_mask (N, S); bool True = not allowed, float added."""
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            x = x + self._ff_block(self.norm2(x))
        else:
            x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
            x = self.norm2(x + self._ff_block(x))
        return x

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal):
        x = self.self_attn(
            x,
            x,
            x,
            attn_mask=attn_mask,
            key_padding_mask=key_padding_mask,
            need_weights=False,
            is_causal=is_causal,
        )[0]
        return self.dropout1(x)

    def _ff_block(self, x):
        x = self.linear2(self.dropout(self.activation(self.linear1(x))))
        return self.dropout2(x)


def _is_causal_mask(mask, size):
    """Whether ``mask`` is the (size, size) causal mask (bool True above the diagonal, or float
    -inf above and 0 on/below it), so the fused causal kernel can run instead."""
    m = mask.array if isinstance(mask, Tensor) else mask
    if m is None or m.ndim != 2 or tuple(m.shape) != (size, size):
        return False
    m = np.asarray(m.get() if hasattr(m, "get") else m)
    upper = np.triu(np.ones((size, size), dtype=bool), 1)
    if m.dtype == np.bool_:
        return bool((m == upper).all())
    return bool(((m == -np.inf) == upper).all() and (m[~upper] == 0).all())


class TransformerEncoder(Module):
    """A stack of ``num_layers`` deep copies of ``encoder_layer`` (keys layers.N.*), then the
    optional final ``norm``.

    forward(src, mask=None, src_key_padding_mask=None, is_causal=None): is_causal None detects
    a causal ``mask`` (then the fused causal kernel runs)."""

    def __init__(
        self, encoder_layer, num_layers, norm=None, enable_nested_tensor=True, mask_check=True
    ):
        super().__init__()
        self.layers = ModuleList([copy.deepcopy(encoder_layer) for _ in range(num_layers)])
        self.num_layers = num_layers
        self.norm = norm
        self.enable_nested_tensor = enable_nested_tensor
        self.mask_check = mask_check

    def forward(self, src, mask=None, src_key_padding_mask=None, is_causal=None):
        if is_causal is None:
            seq = (
                src.shape[1]
                if (self.layers and self.layers[0].self_attn.batch_first and src.dim() == 3)
                else src.shape[0]
            )
            is_causal = mask is not None and _is_causal_mask(mask, seq)
        out = src
        for mod in self.layers:
            out = mod(
                out, src_mask=mask, is_causal=is_causal, src_key_padding_mask=src_key_padding_mask
            )
        if self.norm is not None:
            out = self.norm(out)
        return out
