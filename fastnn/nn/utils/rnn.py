"""fastnn.nn.utils.rnn: sequence helpers (PyTorch's torch.nn.utils.rnn)."""

from __future__ import annotations

from ...functions.lstm import PadSequenceFunction
from ...tensor import Tensor

__all__ = ["pad_sequence"]


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
