"""DLPack exchange (``torch.utils.dlpack``): zero-copy tensors to and from NumPy, CuPy, PyTorch,
JAX and any other library that speaks the protocol.

``fastnn.from_dlpack(x)`` takes an object with ``__dlpack__`` (a torch or CuPy tensor, a NumPy
array, ...) or a legacy DLPack capsule, and returns a Tensor sharing its memory: CPU memory
becomes a NumPy-backed tensor, CUDA memory a CuPy-backed one. ``Tensor.__dlpack__`` exports
ours the same way, so ``torch.from_dlpack(fastnn_tensor)`` works too.
"""

from __future__ import annotations

import numpy as np

__all__ = ["from_dlpack", "to_dlpack"]

_CPU, _CUDA, _CUDA_HOST = 1, 2, 3


class _Capsule:
    """Wraps a legacy capsule so NumPy's from_dlpack (which wants ``__dlpack__``) accepts it;
    a capsule carries no device field of its own, so it is taken as CPU memory."""

    def __init__(self, capsule):
        self._capsule = capsule

    def __dlpack__(self, stream=None, **_):
        return self._capsule

    def __dlpack_device__(self):
        return (_CPU, 0)


def from_dlpack(ext_tensor):
    """A Tensor sharing ``ext_tensor``'s memory (no copy)."""
    from ..tensor import Tensor, wrap

    if isinstance(ext_tensor, Tensor):
        return ext_tensor
    if not hasattr(ext_tensor, "__dlpack__"):
        if type(ext_tensor).__name__ == "PyCapsule":
            ext_tensor = _Capsule(ext_tensor)
        else:
            raise TypeError(f"from_dlpack: ext_tensor must have __dlpack__ or be a DLPack "
                            f"capsule, got {type(ext_tensor).__name__}")
    kind = ext_tensor.__dlpack_device__()[0] if hasattr(ext_tensor, "__dlpack_device__") else _CPU
    if kind in (_CPU, _CUDA_HOST):
        arr = np.from_dlpack(ext_tensor)
    elif kind == _CUDA:
        from ..cuda import _cupy

        cp = _cupy()
        if cp is None:
            raise RuntimeError("from_dlpack: the tensor lives in CUDA memory but CuPy is not "
                               "available (fastnn's CUDA tensors are CuPy arrays)")
        arr = cp.from_dlpack(ext_tensor)
    else:
        raise RuntimeError(f"from_dlpack: unsupported DLPack device type {kind} (fastnn holds "
                           "CPU and CUDA memory)")
    return wrap(arr)


def to_dlpack(tensor):
    """A DLPack capsule of ``tensor`` (legacy API; prefer passing the tensor itself)."""
    return tensor.__dlpack__()


def _tensor_dlpack(self, *, stream=None, max_version=None, dl_device=None, copy=None):
    if self.requires_grad:
        raise RuntimeError("Can't export tensors that require gradient, use tensor.detach()")
    kw = {k: v for k, v in (("stream", stream), ("max_version", max_version),
                            ("dl_device", dl_device), ("copy", copy)) if v is not None}
    return self.array.__dlpack__(**kw)


def _tensor_dlpack_device(self):
    return self.array.__dlpack_device__()


def _attach(tensor_cls):
    tensor_cls.__dlpack__ = _tensor_dlpack
    tensor_cls.__dlpack_device__ = _tensor_dlpack_device
