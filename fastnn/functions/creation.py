"""Tensor creation: tensor/as_tensor/from_numpy, zeros/ones/full/empty (and *_like), arange,
linspace, logspace, eye, and random tensors drawn from ``fastnn.random.generator()``."""

from __future__ import annotations

import builtins
import math

import numpy as np

from .. import dtypes as _dt
from .. import random as _random
from ..tensor import Tensor, _make, _to_device, _to_numpy


def _finish(arr, device, requires_grad):
    if device is not None and _dt.device(device).type == "cuda":
        arr = _to_device(arr, "cuda")
    t = _make(arr, False, None, 0)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _size(size):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = size[0]
    return tuple(int(s) for s in size)


def _float(dtype):
    return _dt.get_default_dtype() if dtype is None else _dt.as_dtype(dtype)


def _has_tensor(data):
    if isinstance(data, Tensor):
        return True
    if isinstance(data, (list, tuple)) and data:
        return _has_tensor(data[0])
    return False


def _infer(data):
    """A NumPy array from Python data with PyTorch's dtype inference (floats -> default dtype)."""
    if isinstance(data, Tensor):
        return _to_numpy(data.array).copy()
    if isinstance(data, np.ndarray):
        return data
    if _has_tensor(data):
        data = _nested(data)
    arr = np.array(data)
    if arr.dtype == np.float64 and not isinstance(data, np.floating):
        arr = arr.astype(_dt.get_default_dtype())
    elif arr.dtype.kind == "i" and arr.dtype != np.int64:
        arr = arr.astype(np.int64)
    elif arr.dtype.kind in "OUS":
        raise TypeError(f"Could not infer dtype of {type(data).__name__}")
    return arr


def _nested(data):
    if isinstance(data, Tensor):
        return _to_numpy(data.array)
    if isinstance(data, (list, tuple)):
        return [_nested(d) for d in data]
    return data


def tensor(data, *, dtype=None, device=None, requires_grad=False, pin_memory=False) -> Tensor:
    """A new tensor holding a copy of ``data`` (nested lists, numbers, NumPy arrays, Tensors)."""
    arr = _infer(data)
    arr = np.array(arr, dtype=_dt.as_dtype(dtype) if dtype is not None else arr.dtype, copy=True)
    return _finish(arr, device, requires_grad)


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """Like ``tensor`` but shares memory with a NumPy array (or Tensor) when no conversion is
    needed."""
    if isinstance(data, Tensor):
        out = data
        if dtype is not None:
            out = out.to(dtype)
        if device is not None:
            out = out.to(device)
        return out
    if isinstance(data, np.ndarray):
        arr = data if dtype is None else data.astype(_dt.as_dtype(dtype), copy=False)
        return _finish(arr, device, False)
    arr = _infer(data)
    if dtype is not None:
        arr = arr.astype(_dt.as_dtype(dtype), copy=False)
    return _finish(arr, device, False)


asarray = as_tensor


def from_numpy(ndarray) -> Tensor:
    """A tensor sharing ``ndarray``'s memory (writes show through both ways)."""
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(ndarray).__name__})")
    return _make(ndarray, False, None, 0)


def _filled(fill, size, dtype, device, requires_grad):
    size = _size(size)
    d = _float(dtype)
    arr = np.empty(size, d) if fill is None else np.full(size, fill, d)
    return _finish(arr, device, requires_grad)


def zeros(*size, dtype=None, device=None, requires_grad=False, out=None, layout=None) -> Tensor:
    return _filled(0, size, dtype, device, requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False, out=None, layout=None) -> Tensor:
    return _filled(1, size, dtype, device, requires_grad)


def empty(
    *size,
    dtype=None,
    device=None,
    requires_grad=False,
    out=None,
    layout=None,
    pin_memory=False,
    memory_format=None,
) -> Tensor:
    return _filled(None, size, dtype, device, requires_grad)


def full(size, fill_value, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """``size`` filled with ``fill_value``; the dtype follows the value (bool, int64 or the
    default float) unless given."""
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    if dtype is None:
        dtype = (
            _dt.bool
            if isinstance(fill_value, builtins.bool)
            else _dt.int64
            if isinstance(fill_value, (builtins.int, np.integer))
            else _dt.get_default_dtype()
        )
    return _filled(
        fill_value,
        (tuple(size) if not isinstance(size, int) else (size,),),
        dtype,
        device,
        requires_grad,
    )


def _like(input, dtype, device):
    return (
        input.array.shape,
        input.array.dtype if dtype is None else _dt.as_dtype(dtype),
        input.device if device is None else device,
    )


def zeros_like(input, *, dtype=None, device=None, requires_grad=False, memory_format=None):  # noqa: A002
    s, d, dev = _like(input, dtype, device)
    return _filled(0, (s,), d, dev, requires_grad)


def ones_like(input, *, dtype=None, device=None, requires_grad=False, memory_format=None):  # noqa: A002
    s, d, dev = _like(input, dtype, device)
    return _filled(1, (s,), d, dev, requires_grad)


def empty_like(input, *, dtype=None, device=None, requires_grad=False, memory_format=None):  # noqa: A002
    s, d, dev = _like(input, dtype, device)
    return _filled(None, (s,), d, dev, requires_grad)


def full_like(
    input,
    fill_value,
    *,
    dtype=None,
    device=None,
    requires_grad=False,  # noqa: A002
    memory_format=None,
):
    s, d, dev = _like(input, dtype, device)
    return _filled(fill_value, (s,), d, dev, requires_grad)


def arange(start, end=None, step=1, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """[start, end) in steps; int64 when all of start/end/step are integers, else the default
    float dtype."""
    if end is None:
        start, end = 0, start
    vals = [v.item() if isinstance(v, Tensor) else v for v in (start, end, step)]
    start, end, step = vals
    if step == 0:
        raise RuntimeError("step must be nonzero")
    if dtype is None:
        is_int = all(isinstance(v, (builtins.int, np.integer)) for v in vals)
        dtype = _dt.int64 if is_int else _dt.get_default_dtype()
    dtype = _dt.as_dtype(dtype)
    n = max(0, math.ceil((end - start) / step))
    work = np.float64 if dtype.kind == "f" or any(isinstance(v, float) for v in vals) else np.int64
    arr = (start + np.arange(n, dtype=work) * step).astype(dtype)
    return _finish(arr, device, requires_grad)


def linspace(start, end, steps, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    arr = np.linspace(float(start), float(end), int(steps), dtype=np.float64).astype(_float(dtype))
    return _finish(arr, device, requires_grad)


def logspace(start, end, steps, base=10.0, *, dtype=None, device=None, requires_grad=False):
    arr = np.logspace(float(start), float(end), int(steps), base=base).astype(_float(dtype))
    return _finish(arr, device, requires_grad)


def eye(n, m=None, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _finish(
        np.eye(int(n), None if m is None else int(m), dtype=_float(dtype)), device, requires_grad
    )


# --------------------------------------------------------------------------------- random
def _draw(kind, size, dtype, generator):
    rng = _random.generator(generator)
    d = _float(dtype)
    work = d if d in (_dt.float32, _dt.float64) else _dt.float64
    arr = (
        rng.random(size, dtype=work) if kind == "uniform" else rng.standard_normal(size, dtype=work)
    )
    return arr.astype(d, copy=False)


def rand(*size, generator=None, dtype=None, device=None, requires_grad=False, out=None) -> Tensor:
    """Uniform [0, 1) samples from the fastnn generator."""
    return _finish(_draw("uniform", _size(size), dtype, generator), device, requires_grad)


def randn(*size, generator=None, dtype=None, device=None, requires_grad=False, out=None) -> Tensor:
    """Standard normal samples from the fastnn generator."""
    return _finish(_draw("normal", _size(size), dtype, generator), device, requires_grad)


def rand_like(input, *, dtype=None, device=None, requires_grad=False):  # noqa: A002
    s, d, dev = _like(input, dtype, device)
    return rand(s, dtype=d, device=dev, requires_grad=requires_grad)


def randn_like(input, *, dtype=None, device=None, requires_grad=False):  # noqa: A002
    s, d, dev = _like(input, dtype, device)
    return randn(s, dtype=d, device=dev, requires_grad=requires_grad)


def randint(
    low=0, high=None, size=None, *, generator=None, dtype=None, device=None, requires_grad=False
) -> Tensor:
    """Integers in [low, high): ``randint(high, size)`` or ``randint(low, high, size)``."""
    if size is None:  # randint(high, size)
        low, high, size = 0, low, high
    if high is None:
        raise TypeError("randint() missing required argument 'high'")
    size = (size,) if isinstance(size, int) else tuple(size)
    arr = _random.generator(generator).integers(int(low), int(high), size=size, dtype=np.int64)
    if dtype is not None:
        arr = arr.astype(_dt.as_dtype(dtype))
    return _finish(arr, device, requires_grad)


def randint_like(input, low=0, high=None, *, dtype=None, device=None):  # noqa: A002
    if high is None:
        low, high = 0, low
    s, d, dev = _like(input, dtype, device)
    return randint(low, high, s, dtype=d, device=dev)


def randperm(n, *, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    arr = (
        _random.generator(generator)
        .permutation(int(n))
        .astype(_dt.int64 if dtype is None else _dt.as_dtype(dtype))
    )
    return _finish(arr, device, requires_grad)


def normal(
    mean=0.0,
    std=1.0,
    size=None,
    *,
    generator=None,
    dtype=None,
    device=None,
    requires_grad=False,
    layout=None,
    pin_memory=False,
) -> Tensor:
    """Normal samples: ``normal(mean, std, size)`` with numbers, or elementwise with tensors."""
    rng = _random.generator(generator)
    if isinstance(mean, Tensor) or isinstance(std, Tensor):
        m = _to_numpy(mean.array) if isinstance(mean, Tensor) else mean
        s = _to_numpy(std.array) if isinstance(std, Tensor) else std
        ref = mean if isinstance(mean, Tensor) else std
        shape = np.broadcast_shapes(np.shape(m), np.shape(s))
        arr = (m + s * rng.standard_normal(shape)).astype(ref.array.dtype)
        return _finish(arr, ref.device, requires_grad)
    if size is None:
        raise TypeError("normal() with number mean and std needs size")
    size = (size,) if isinstance(size, int) else tuple(size)
    arr = (mean + std * rng.standard_normal(size)).astype(_float(dtype))
    return _finish(arr, device, requires_grad)


def bernoulli(input, p=None, *, generator=None):  # noqa: A002
    probs = _to_numpy(input.array) if p is None else np.full(input.array.shape, p)
    arr = (_random.generator(generator).random(probs.shape) < probs).astype(input.array.dtype)
    return _finish(arr, input.device, False)


def multinomial(input, num_samples, replacement=False, *, generator=None):  # noqa: A002
    rng = _random.generator(generator)
    p = _to_numpy(input.array).astype(np.float64)
    rows = p.reshape(-1, p.shape[-1])
    out = np.stack(
        [
            rng.choice(rows.shape[1], size=num_samples, replace=replacement, p=r / r.sum())
            for r in rows
        ]
    ).astype(np.int64)
    return _finish(out.reshape(p.shape[:-1] + (num_samples,)), input.device, False)
