"""``torch.autocast`` / ``torch.amp.autocast``: accepted, validated and reported, but fastnn runs
the region in the tensors' own dtype (float32 stays float32): its kernels are float32, so lowering
precision would cost a cast and gain nothing. Results are therefore at least as precise as
torch's autocast results, not bit-identical to them."""

from __future__ import annotations

import functools
import threading

__all__ = ["autocast", "is_autocast_enabled", "get_autocast_dtype", "custom_fwd", "custom_bwd"]

_DEFAULT_DTYPE = {"cpu": "bfloat16", "cuda": "float16"}


class _State(threading.local):
    def __init__(self):
        self.stack = []  # (device_type, dtype, enabled)


_state = _State()


class autocast:  # noqa: N801 - torch's name
    """Context manager / decorator marking a mixed-precision region.

    Args:
        device_type: "cpu" or "cuda" (others raise, naming the argument).
        dtype: the lower-precision dtype torch would use (float16 or bfloat16); default per device.
        enabled: False marks a full-precision region.
        cache_enabled: accepted for compatibility.
    """

    def __init__(self, device_type: str, dtype=None, enabled: bool = True, cache_enabled=None):
        from .. import dtypes

        if not isinstance(device_type, str):
            raise ValueError(
                f"autocast: device_type must be a str, got {type(device_type).__name__}"
            )
        if device_type not in _DEFAULT_DTYPE:
            raise RuntimeError(
                f"autocast: device_type must be 'cpu' or 'cuda' in fastnn, got {device_type!r}"
            )
        dtype = dtypes.as_dtype(_DEFAULT_DTYPE[device_type] if dtype is None else dtype)
        if dtype not in (dtypes.float16, dtypes.bfloat16, dtypes.float32):
            raise ValueError(f"autocast: dtype must be float16 or bfloat16, got {dtype}")
        self.device = device_type
        self.fast_dtype = dtype
        self._enabled = bool(enabled)

    def __enter__(self):
        _state.stack.append((self.device, self.fast_dtype, self._enabled))
        return self

    def __exit__(self, *exc):
        _state.stack.pop()
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__(self.device, self.fast_dtype, self._enabled):
                return fn(*args, **kwargs)

        return wrapper


def is_autocast_enabled(device_type: str | None = None) -> bool:
    """Whether the innermost autocast region (for ``device_type``, default cuda) is enabled."""
    device_type = device_type or "cuda"
    for dev, _, enabled in reversed(_state.stack):
        if dev == device_type:
            return enabled
    return False


def get_autocast_dtype(device_type: str):
    from .. import dtypes

    for dev, dtype, _ in reversed(_state.stack):
        if dev == device_type:
            return dtype
    return dtypes.as_dtype(_DEFAULT_DTYPE.get(device_type, "bfloat16"))


def custom_fwd(fwd=None, *, device_type: str = "cuda", cast_inputs=None):
    """Decorator for a custom Function's forward (torch.amp.custom_fwd); runs it as is."""
    if fwd is None:
        return functools.partial(custom_fwd, device_type=device_type, cast_inputs=cast_inputs)
    return fwd


def custom_bwd(bwd=None, *, device_type: str = "cuda"):
    """Decorator for a custom Function's backward (torch.amp.custom_bwd); runs it as is."""
    if bwd is None:
        return functools.partial(custom_bwd, device_type=device_type)
    return bwd
