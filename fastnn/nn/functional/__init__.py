"""fastnn.nn.functional: PyTorch's functional API. _core.py has the framework's functions; the
kernel families add theirs: _conv.py (conv2d, pooling, batch_norm, pad), _attention.py; the long
tail of activations, losses, norms and embedding bags is composed in _activation.py, _loss.py,
_norm.py, _sparse.py."""

from . import _activation, _attention, _conv, _core, _loss, _norm, _sparse
from ._activation import *  # noqa: F401,F403
from ._attention import *  # noqa: F401,F403
from ._conv import *  # noqa: F401,F403
from ._core import *  # noqa: F401,F403
from ._loss import *  # noqa: F401,F403
from ._norm import *  # noqa: F401,F403
from ._sparse import *  # noqa: F401,F403

__all__ = [*_core.__all__, *_conv.__all__, *_attention.__all__, *_sparse.__all__,
           *_activation.__all__, *_loss.__all__, *_norm.__all__]
