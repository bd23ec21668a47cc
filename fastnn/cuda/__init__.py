"""``fastnn.cuda``: what ``torch.cuda`` offers scripts (availability, device count, sync).

CUDA tensors hold CuPy arrays; without CuPy (or without a GPU) ``is_available()`` is False and
``tensor.cuda()`` raises a clear error.
"""

from __future__ import annotations


def _cupy():
    try:
        import cupy

        return cupy
    except Exception:  # ImportError, or a CuPy that cannot load its CUDA libraries
        return None


def is_available() -> bool:
    """True when CuPy is installed and sees at least one GPU."""
    return device_count() > 0


def device_count() -> int:
    cp = _cupy()
    if cp is None:
        return 0
    try:
        return int(cp.cuda.runtime.getDeviceCount())
    except Exception:  # no driver / no device
        return 0


def current_device() -> int:
    cp = _cupy()
    return int(cp.cuda.runtime.getDevice()) if cp is not None and is_available() else 0


def get_device_name(device=None) -> str:
    cp = _cupy()
    if cp is None or not is_available():
        raise RuntimeError("fastnn.cuda: no CUDA device (CuPy missing or no GPU)")
    idx = 0 if device is None else int(getattr(device, "index", device) or 0)
    name = cp.cuda.runtime.getDeviceProperties(idx)["name"]
    return name.decode() if isinstance(name, bytes) else name


def is_bf16_supported(including_emulation: bool = True) -> bool:
    """False: fastnn's CUDA kernels compute in float32 and CuPy has no bfloat16 arrays (scripts
    such as nanoGPT then choose float16 + GradScaler, which fastnn runs in float32)."""
    return False


def set_device(device) -> None:
    """Make ``device`` (an index, "cuda:N" or a fastnn.device) the current CUDA device."""
    from ..dtypes import device as _device

    if isinstance(device, str):
        device = _device(device)
    idx = getattr(device, "index", device)
    if getattr(device, "type", "cuda") != "cuda":
        raise ValueError(f"set_device: expected a CUDA device, got {device!r}")
    idx = 0 if idx is None else int(idx)
    if idx < 0 or idx >= device_count():
        raise RuntimeError(f"set_device: CUDA device {idx} is not available "
                           f"({device_count()} device(s))")
    _cupy().cuda.Device(idx).use()


def synchronize(device=None) -> None:
    """Wait for all kernels on the current device to finish (no-op without CUDA)."""
    cp = _cupy()
    if cp is not None and is_available():
        cp.cuda.runtime.deviceSynchronize()


def manual_seed(seed: int) -> None:
    """Seeds CuPy's generator too (fastnn draws random numbers on the host, so mostly a no-op)."""
    cp = _cupy()
    if cp is not None and is_available():
        cp.random.seed(int(seed))


manual_seed_all = manual_seed


def empty_cache() -> None:
    cp = _cupy()
    if cp is not None and is_available():
        cp.get_default_memory_pool().free_all_blocks()


# torch.cuda.amp (GradScaler, autocast); imported last: it builds on fastnn.amp
from . import amp  # noqa: E402, F401
