"""fastnn.nn.utils: clip_grad (framework) and rnn (pad_sequence, LSTM family)."""

from . import clip_grad, rnn  # noqa: F401  (fastnn.nn.utils.rnn.pad_sequence, as in PyTorch)
from .clip_grad import *  # noqa: F401,F403

__all__ = [*clip_grad.__all__]
