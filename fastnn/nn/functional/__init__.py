"""fastnn.nn.functional: PyTorch's functional API. _core.py has the framework's functions; the
kernel families add theirs: _conv.py (conv2d, pooling, batch_norm, pad), _attention.py; the long
tail of activations, losses and norms is composed in _activation.py, _loss.py, _norm.py."""

from . import _attention, _conv, _core
from ._attention import *  # noqa: F401,F403
from ._conv import *  # noqa: F401,F403
from ._core import *  # noqa: F401,F403

__all__ = [*_core.__all__, *_conv.__all__, *_attention.__all__]

from . import _activation  # noqa: E402
from ._activation import *  # noqa: E402,F401,F403

__all__ += _activation.__all__

from . import _loss  # noqa: E402
from ._loss import *  # noqa: E402,F401,F403

__all__ += _loss.__all__

from . import _norm  # noqa: E402
from ._norm import *  # noqa: E402,F401,F403

__all__ += _norm.__all__
