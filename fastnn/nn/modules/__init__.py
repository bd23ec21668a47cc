"""nn modules, one file per kind (PyTorch's layout); each file lists its public names in
``__all__``."""

from . import (
    activation,
    attention,
    batchnorm,
    container,
    conv,
    dropout,
    flatten,
    linear,
    loss,
    module,
    normalization,
    pooling,
    rnn,
    sparse,
    transformer,
)
from .activation import *  # noqa: F401,F403
from .attention import *  # noqa: F401,F403
from .batchnorm import *  # noqa: F401,F403
from .container import *  # noqa: F401,F403
from .conv import *  # noqa: F401,F403
from .dropout import *  # noqa: F401,F403
from .flatten import *  # noqa: F401,F403
from .linear import *  # noqa: F401,F403
from .loss import *  # noqa: F401,F403
from .module import *  # noqa: F401,F403
from .normalization import *  # noqa: F401,F403
from .pooling import *  # noqa: F401,F403
from .rnn import *  # noqa: F401,F403
from .sparse import *  # noqa: F401,F403
from .transformer import *  # noqa: F401,F403

__all__ = [
    name
    for mod in (module, container, linear, activation, dropout, sparse, normalization, flatten,
                loss, conv, pooling, batchnorm, rnn, attention, transformer)
    for name in mod.__all__
]

from . import distance, padding, resample  # noqa: E402
from .distance import *  # noqa: E402,F401,F403
from .padding import *  # noqa: E402,F401,F403
from .resample import *  # noqa: E402,F401,F403

__all__ += [*distance.__all__, *padding.__all__, *resample.__all__]
