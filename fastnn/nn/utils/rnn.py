"""fastnn.nn.utils.rnn: sequence helpers (PyTorch's torch.nn.utils.rnn)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ...functions.lstm import PadSequenceFunction
from ...tensor import Tensor, wrap

__all__ = ["pad_sequence", "PackedSequence", "pack_padded_sequence", "pad_packed_sequence",
           "pack_sequence", "unpack_sequence", "unpad_sequence", "invert_permutation"]


class _PackedSequenceBase(NamedTuple):
    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Tensor | None
    unsorted_indices: Tensor | None


class PackedSequence(_PackedSequenceBase):
    """A batch of variable-length sequences packed time step by time step: ``data`` holds the
    ``batch_sizes[t]`` still-running sequences of step t one after another (sequences sorted by
    decreasing length; ``sorted_indices`` maps back to the caller's order)."""

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        if batch_sizes is None:  # PackedSequence((data, batch_sizes)) as PyTorch allows
            data, batch_sizes = data[0], data[1]
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs):
        data = self.data.to(*args, **kwargs)
        return self if data is self.data else type(self)(
            data, self.batch_sizes, self.sorted_indices, self.unsorted_indices)

    def cpu(self):
        return self.to("cpu")

    @property
    def is_cuda(self):
        return self.data.is_cuda

    def is_pinned(self):
        return False


def invert_permutation(permutation):
    """The inverse permutation (``None`` stays ``None``)."""
    if permutation is None:
        return None
    perm = permutation.array if isinstance(permutation, Tensor) else np.asarray(permutation)
    out = np.empty_like(perm)
    out[perm] = np.arange(perm.size, dtype=perm.dtype)
    return wrap(out)


def _lengths_array(lengths):
    if isinstance(lengths, Tensor):
        return np.asarray(lengths.detach().numpy(), dtype=np.int64).ravel()
    return np.asarray(list(lengths), dtype=np.int64).ravel()


def pack_padded_sequence(input, lengths, batch_first: bool = False,
                         enforce_sorted: bool = True) -> PackedSequence:
    """Pack a padded batch (T, B, *) (or (B, T, *) with ``batch_first``) of sequences with the
    given lengths (differentiable in ``input``).

    Args:
        input: the padded batch.
        lengths: the B sequence lengths (list or 1-D CPU int64 tensor), each in 1..T.
        enforce_sorted: lengths must be decreasing; with False they are sorted here and the
            permutation is kept in ``sorted_indices``.
    """
    import fastnn

    if not isinstance(input, Tensor):
        raise TypeError(f"input: expected a Tensor, got {type(input).__name__}")
    lens = _lengths_array(lengths)
    batch_dim = 0 if batch_first else 1
    if input.dim() < 2:
        raise ValueError(f"input: expected at least 2 dimensions, got {input.dim()}")
    if lens.size != input.shape[batch_dim]:
        raise ValueError(
            f"Expected `len(lengths)` to be equal to batch_size, but got {lens.size} (batch_size="
            f"{input.shape[batch_dim]})"
        )
    if enforce_sorted:
        if np.any(np.diff(lens) > 0):
            raise RuntimeError(
                "`lengths` array must be sorted in decreasing order when `enforce_sorted` is "
                "True. You can pass `enforce_sorted=False` to pack_padded_sequence and/or "
                "pack_sequence to sidestep this requirement if you do not need ONNX "
                "exportability."
            )
        sorted_indices = None
    else:
        order = np.argsort(-lens, kind="stable")
        lens = lens[order]
        sorted_indices = wrap(order.astype(np.int64))
        input = input.index_select(batch_dim, sorted_indices)
    if lens.size and lens.min() <= 0:
        raise RuntimeError(
            "Length of all samples has to be greater than 0, but found an element in 'lengths' "
            "that is <= 0"
        )
    if batch_first:
        input = input.transpose(0, 1)
    max_len = int(lens.max()) if lens.size else 0
    if max_len > input.shape[0]:
        raise RuntimeError(
            f"lengths: the longest sequence ({max_len}) is longer than the input ({input.shape[0]} "
            "steps)"
        )
    batch_sizes = np.array([(lens > t).sum() for t in range(max_len)], dtype=np.int64)
    data = fastnn.cat([input[t, : int(b)] for t, b in enumerate(batch_sizes)])
    return PackedSequence(data, wrap(batch_sizes), sorted_indices, None)


def pad_packed_sequence(sequence, batch_first: bool = False, padding_value: float = 0.0,
                        total_length=None):
    """Inverse of pack_padded_sequence: ``(padded, lengths)`` with padded (T, B, *) (or
    (B, T, *)), T = ``total_length`` or the longest sequence; lengths a CPU int64 tensor, both
    in the caller's original batch order (differentiable in ``sequence.data``)."""
    import fastnn

    data, batch_sizes = sequence.data, np.asarray(sequence.batch_sizes.numpy(), dtype=np.int64)
    max_len = int(batch_sizes.size)
    if total_length is not None:
        if total_length < max_len:
            raise ValueError(
                "Expected total_length to be at least the length of the longest sequence in "
                f"input, but got total_length={total_length} and max sequence length being "
                f"{max_len}"
            )
    else:
        total_length = max_len
    batch = int(batch_sizes[0]) if max_len else 0
    tail = tuple(data.shape[1:])
    steps, offset = [], 0
    for b in batch_sizes:
        b = int(b)
        chunk = data[offset:offset + b]
        offset += b
        if b < batch:
            pad = fastnn.full((batch - b, *tail), padding_value, dtype=data.dtype)
            chunk = fastnn.cat([chunk, pad])
        steps.append(chunk)
    if total_length > max_len:
        steps += [fastnn.full((batch, *tail), padding_value, dtype=data.dtype)] * (
            total_length - max_len)
    padded = fastnn.stack(steps) if steps else fastnn.zeros((0, 0, *tail), dtype=data.dtype)
    lengths = np.array([(batch_sizes > i).sum() for i in range(batch)], dtype=np.int64)
    if sequence.unsorted_indices is not None:
        padded = padded.index_select(1, sequence.unsorted_indices)
        lengths = lengths[sequence.unsorted_indices.numpy()]
    if batch_first:
        padded = padded.transpose(0, 1)
    return padded, wrap(lengths)


def pack_sequence(sequences, enforce_sorted: bool = True) -> PackedSequence:
    """Pack a list of variable-length tensors (L_i, *)."""
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpad_sequence(padded_sequences, lengths, batch_first: bool = False) -> list:
    """The list of unpadded sequences of a padded batch."""
    if not batch_first:
        padded_sequences = padded_sequences.transpose(0, 1)
    return [seq[: int(n)] for seq, n in zip(padded_sequences, _lengths_array(lengths))]


def unpack_sequence(packed_sequences) -> list:
    """The list of sequences in a PackedSequence, in their original order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)


def pad_sequence(
    sequences, batch_first: bool = False, padding_value: float = 0.0, padding_side: str = "right"
):
    """Pad a list of variable-length Tensors (L_i, *) to one Tensor (differentiable).

    Args:
        sequences: non-empty list of Tensors whose dimensions after the first agree.
        batch_first: output (B, T_max, *) instead of (T_max, B, *).
        padding_value: value of the padded elements.
        padding_side: "right" (default) or "left".

    Returns:
        (T_max, B, *) or (B, T_max, *) Tensor.
    """
    sequences = list(sequences)
    if not sequences:
        raise ValueError("sequences: expected a non-empty list of Tensors")
    for i, s in enumerate(sequences):
        if not isinstance(s, Tensor):
            raise TypeError(f"sequences[{i}]: expected a Tensor, got {type(s).__name__}")
        if s.dim() < 1:
            raise ValueError(f"sequences[{i}]: expected at least 1 dimension, got a 0-D Tensor")
        if tuple(s.shape[1:]) != tuple(sequences[0].shape[1:]):
            raise ValueError(
                f"sequences[{i}]: trailing dimensions {tuple(s.shape[1:])} do not match "
                f"sequences[0]'s {tuple(sequences[0].shape[1:])}"
            )
    if padding_side not in ("right", "left"):
        raise ValueError(f"padding_side: expected 'right' or 'left', got {padding_side!r}")
    return PadSequenceFunction.apply(
        *sequences, batch_first=batch_first, padding_value=padding_value, padding_side=padding_side
    )
