"""fastnn.nn: modules, functional, init and utils, mirroring torch.nn."""

from . import functional, init, utils  # noqa: F401
from .modules import *  # noqa: F401,F403
from .modules import __all__ as _modules_all

__all__ = ["functional", "init", "utils", *_modules_all]
