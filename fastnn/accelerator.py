"""``fastnn.accelerator``: torch's device-agnostic accelerator API (``torch.accelerator``).

fastnn's one accelerator is CUDA (CuPy arrays). Without it, ``is_available()`` is False,
``current_accelerator()`` is None, ``device_count()`` is 0 and every call that needs a device
raises RuntimeError, as torch does on a CPU-only build.
"""

from __future__ import annotations

from . import cuda as _cuda

__all__ = ["current_accelerator", "current_device_index", "current_device_idx", "device_count",
           "empty_cache", "is_available", "memory_allocated", "max_memory_allocated",
           "set_device_index", "set_device_idx", "synchronize"]

_NONE = "Cannot access accelerator device when none is available."


def is_available(check_device: bool = False) -> bool:
    return _cuda.is_available()


def device_count() -> int:
    return _cuda.device_count()


def current_accelerator(check_available: bool = False):
    """``fastnn.device("cuda")`` when CUDA is usable, else None."""
    from .dtypes import device

    return device("cuda") if _cuda.is_available() else None


def _need():
    if not _cuda.is_available():
        raise RuntimeError(_NONE)


def current_device_index() -> int:
    _need()
    return _cuda.current_device()


current_device_idx = current_device_index


def set_device_index(device) -> None:
    _need()
    _cuda.set_device(device)


set_device_idx = set_device_index


def synchronize(device=None) -> None:
    _need()
    _cuda.synchronize(device)


def empty_cache() -> None:
    _need()
    _cuda.empty_cache()


def memory_allocated(device=None) -> int:
    _need()
    return int(_cuda._cupy().get_default_memory_pool().used_bytes())


def max_memory_allocated(device=None) -> int:
    _need()
    return int(_cuda._cupy().get_default_memory_pool().total_bytes())
