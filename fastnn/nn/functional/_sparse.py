"""embedding_bag (PyTorch's F.embedding_bag), composed from differentiable primitives: the bags'
rows are gathered into a padded (bags, longest bag, dim) block by one index_select, then summed,
averaged or maxed over the bag axis, so autograd (weight and per_sample_weights) comes free."""

from __future__ import annotations

import numpy as np

from ..._util import xp_of
from ...tensor import Tensor, wrap

__all__ = ["embedding_bag"]


def _host(x):
    a = x.array if isinstance(x, Tensor) else x
    return np.asarray(a.get() if hasattr(a, "get") else a)


def _bags(n_idx, offsets, include_last_offset):
    """(starts, ends) of each bag from 1-D ``offsets`` over ``n_idx`` indices, checked."""
    off = _host(offsets).astype(np.int64)
    if off.ndim != 1:
        raise ValueError(f"offsets: has to be a 1-D Tensor, got {off.ndim}-D")
    if off.size and off[0] != 0:
        raise ValueError(
            f"offsets: offsets[0] has to be 0, i.e., the first sequence in the mini-batch has to "
            f"start from position 0. However, got {off[0]}"
        )
    if np.any(np.diff(off) < 0) or (off.size and off[-1] > n_idx):
        raise ValueError(
            f"offsets: expected non-decreasing offsets within 0..{n_idx}, got {off.tolist()}"
        )
    if include_last_offset:
        if off.size == 0:
            raise ValueError("offsets: include_last_offset needs at least one offset")
        return off[:-1], off[1:]
    return off, np.append(off[1:], n_idx).astype(np.int64)


def embedding_bag(
    input,  # noqa: A002
    weight,
    offsets=None,
    max_norm=None,
    norm_type: float = 2,
    scale_grad_by_freq: bool = False,
    mode: str = "mean",
    sparse: bool = False,
    per_sample_weights=None,
    include_last_offset: bool = False,
    padding_idx=None,
):
    """Sums, means or maxes of bags of embeddings, without the per-index intermediate.

    Args:
        input: int (B, N) -- B bags of N indices, ``offsets`` None -- or 1-D (total,) with
            ``offsets`` (B,) the start of each bag (B+1 with ``include_last_offset``).
        weight: (num_embeddings, embedding_dim).
        max_norm, norm_type: renormalise the looked-up rows of weight in place first.
        mode: "sum", "mean" (default) or "max".
        per_sample_weights: float, input's shape; each looked-up row is scaled by it (sum only).
        padding_idx: indices equal to it are left out (not counted in the mean); an empty bag
            gives zeros.

    Returns:
        (B, embedding_dim).
    """
    from ...functions.shape import cat
    from ._core import embedding

    for name, t in (("input", input), ("weight", weight)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{name}: expected a Tensor, got {type(t).__name__}")
    if input.dtype.kind not in "iu":
        raise TypeError(f"input: expected an integer (Long or Int) tensor, got {input.dtype}")
    if per_sample_weights is not None and tuple(input.shape) != tuple(per_sample_weights.shape):
        raise ValueError(
            f"per_sample_weights: if not None, must have the same shape as the input "
            f"({tuple(input.shape)}), got {tuple(per_sample_weights.shape)}"
        )
    if weight.dim() != 2:
        raise ValueError(f"weight: has to be a 2-D Tensor, got {weight.dim()}-D")
    if mode not in ("sum", "mean", "max"):
        raise ValueError(f"mode: has to be one of sum, mean or max, got {mode!r}")
    if mode == "max" and (scale_grad_by_freq or sparse):
        raise ValueError("mode: max mode does not support scale_grad_by_freq or sparse weights")
    if scale_grad_by_freq or sparse:
        raise NotImplementedError("embedding_bag: scale_grad_by_freq and sparse are not supported")
    if per_sample_weights is not None and mode != "sum":
        raise NotImplementedError(
            "embedding_bag: per_sample_weights was not None. per_sample_weights is only supported "
            f"for mode='sum' (got mode='{mode}')."
        )
    if input.dim() == 2:
        if offsets is not None:
            raise ValueError(
                "offsets: if input is 2D, then offsets has to be None, as input is treated as a "
                f"mini-batch of fixed length sequences. However, found {type(offsets).__name__}"
            )
        B, n = input.shape
        starts = np.arange(B, dtype=np.int64) * n
        ends = starts + n
        input = input.reshape(-1)
        if per_sample_weights is not None:
            per_sample_weights = per_sample_weights.reshape(-1)
    elif input.dim() == 1:
        if offsets is None:
            raise ValueError("offsets: has to be a 1D Tensor but got None")
        starts, ends = _bags(input.shape[0], offsets, include_last_offset)
    else:
        raise ValueError(f"input: has to be a 1D or 2D Tensor, got {input.dim()}-D")
    num = weight.shape[0]
    if padding_idx is not None:
        if not -num <= padding_idx < num:
            raise ValueError(f"padding_idx: must be within num_embeddings ({num}), got "
                             f"{padding_idx}")
        padding_idx = padding_idx + num if padding_idx < 0 else padding_idx
    # the per-bag layout, on the host: position of each (bag, slot) in input, or N (a fill row)
    idx = _host(input)
    N = idx.shape[0]
    lengths = ends - starts
    L = max(int(lengths.max()) if lengths.size else 0, 1)
    slot = np.arange(L, dtype=np.int64)
    pos = starts[:, None] + slot[None, :]
    used = slot[None, :] < lengths[:, None]
    if padding_idx is not None:
        used &= idx[np.minimum(pos, max(N - 1, 0))] != padding_idx if N else False
    pos = np.where(used, pos, N)
    count = used.sum(axis=1)
    rows = embedding(input, weight, None, max_norm, norm_type)  # (N, D)
    xp = xp_of(weight.array)
    dt = weight.array.dtype
    fill = dt.type(-np.inf) if mode == "max" else dt.type(0)
    rows = cat([rows, wrap(xp.full((1, weight.shape[1]), fill, dtype=dt))], 0)
    flat = wrap(xp.asarray(pos.reshape(-1)))
    block = rows.index_select(0, flat).reshape(len(starts), L, weight.shape[1])
    if mode == "max":
        out = block.max(1)[0]
        if (count == 0).any():
            empty = wrap(xp.asarray((count == 0)[:, None]))
            out = out.masked_fill(empty, 0.0)
        return out
    if per_sample_weights is not None:
        psw = cat([per_sample_weights.reshape(-1), wrap(xp.zeros((1,), dtype=dt))], 0)
        block = block * psw.index_select(0, flat).reshape(len(starts), L, 1)
    out = block.sum(1)
    if mode == "mean":
        out = out / wrap(xp.asarray(np.maximum(count, 1)[:, None].astype(dt)))
    return out
