"""``torch.signal``: window functions (``fastnn.signal.windows``)."""

from . import windows

__all__ = ["windows"]
