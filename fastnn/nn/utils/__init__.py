"""fastnn.nn.utils: clip_grad (framework) and rnn (pad_sequence, LSTM family)."""

from ..._families import gather
from . import parametrizations, parametrize  # noqa: F401  (torch.nn.utils.parametrize etc.)

__all__ = gather(globals(), __name__, ["clip_grad", "convert_parameters", "weight_norm"])
from . import rnn  # noqa: E402,F401  (fastnn.nn.utils.rnn.pad_sequence, as in PyTorch)
