"""fastnn.utils: data loading (fastnn.utils.data, PyTorch's torch.utils.data)."""

from . import data, dlpack

__all__ = ["data", "dlpack"]
