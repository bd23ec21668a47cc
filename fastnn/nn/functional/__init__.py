"""fastnn.nn.functional: PyTorch's functional API. _core.py has the framework's functions; the
kernel families add theirs: _conv.py (conv1d/2d/3d, transposed convs, pad, batch_norm),
_pooling.py, _attention.py; the long tail is composed in _activation.py, _loss.py, _norm.py,
_sparse.py (embedding bags) and _resample.py (interpolate, pixel shuffle, fold/unfold,
grid_sample)."""

from . import _activation, _attention, _conv, _core, _loss, _norm, _pooling, _resample, _sparse
from ._activation import *  # noqa: F401,F403
from ._attention import *  # noqa: F401,F403
from ._conv import *  # noqa: F401,F403
from ._core import *  # noqa: F401,F403
from ._loss import *  # noqa: F401,F403
from ._norm import *  # noqa: F401,F403
from ._pooling import *  # noqa: F401,F403
from ._resample import *  # noqa: F401,F403
from ._sparse import *  # noqa: F401,F403

__all__ = [*_core.__all__, *_conv.__all__, *_attention.__all__, *_sparse.__all__,
           *_activation.__all__, *_loss.__all__, *_norm.__all__, *_pooling.__all__,
           *_resample.__all__]
