"""fastnn.nn.utils (torch.nn.utils): clip_grad, parameter/vector conversion, the hook-based
weight_norm/spectral_norm, and the submodules rnn (pad/pack sequences), parametrize and
parametrizations."""

from . import (  # noqa: F401  (submodules, as in PyTorch)
    clip_grad,
    convert_parameters,
    parametrizations,
    parametrize,
    rnn,
    weight_norm,
)
from . import weight_norm as _weight_norm_module
from .clip_grad import *  # noqa: F401,F403
from .convert_parameters import *  # noqa: F401,F403
from .weight_norm import *  # noqa: F401,F403  (the function weight_norm, as torch.nn.utils has)

__all__ = [*clip_grad.__all__, *convert_parameters.__all__, *_weight_norm_module.__all__]
