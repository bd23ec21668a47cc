"""fastnn.nn: modules, functional, init and utils, mirroring torch.nn."""

from . import functional, init, parallel, utils  # noqa: F401
from .modules import *  # noqa: F401,F403
from .modules import __all__ as _modules_all

__all__ = ["functional", "init", "parallel", "utils", *_modules_all]
