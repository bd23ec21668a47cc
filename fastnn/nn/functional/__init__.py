"""fastnn.nn.functional: PyTorch's functional API. _core.py has the framework's functions; the
kernel families add theirs: _conv.py (conv2d, pooling, batch_norm, pad), _attention.py."""

from . import _attention, _conv, _core
from ._attention import *  # noqa: F401,F403
from ._conv import *  # noqa: F401,F403
from ._core import *  # noqa: F401,F403

__all__ = [*_core.__all__, *_conv.__all__, *_attention.__all__]

from . import _pooling  # noqa: E402
from ._pooling import *  # noqa: E402,F401,F403

__all__ += _pooling.__all__

from . import _resample  # noqa: E402
from ._resample import *  # noqa: E402,F401,F403

__all__ += _resample.__all__
