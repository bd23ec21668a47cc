"""Reading PyTorch's own checkpoint format (the zip archive ``torch.save`` writes) without torch.

``fastnn.load`` hands a zip file here. The pickle inside is read by a restricted unpickler that
only builds what a weights-only checkpoint holds -- tensors, Parameters, (Ordered)dicts, lists,
tuples, numbers, strings, ``torch.Size``, ``torch.device`` and dtypes -- as torch's own
``weights_only=True`` loader does; any other global (a pickled module or class) is refused unless
the caller passed ``weights_only=False``, which trusts the file (it can run arbitrary code).
"""

from __future__ import annotations

import collections
import io
import pickle
import zipfile

import numpy as np

_STORAGES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
    "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
    "ComplexFloatStorage": np.complex64, "ComplexDoubleStorage": np.complex128,
    "BFloat16Storage": "bfloat16",
}
_DTYPES = {"float32": np.float32, "float": np.float32, "float64": np.float64,
           "double": np.float64, "float16": np.float16, "half": np.float16,
           "bfloat16": np.float32, "int64": np.int64, "long": np.int64, "int32": np.int32,
           "int": np.int32, "int16": np.int16, "short": np.int16, "int8": np.int8,
           "uint8": np.uint8, "bool": np.bool_, "complex64": np.complex64,
           "complex128": np.complex128}


class UnpicklingError(pickle.UnpicklingError, ValueError):
    """A checkpoint that needs ``weights_only=False`` (or is not one fastnn can read)."""


def is_torch_zip(buf) -> bool:
    return buf[:4] == b"PK\x03\x04"


class _Storage:
    __slots__ = ("array",)

    def __init__(self, array):
        self.array = array


def _rebuild_tensor_v2(storage, offset, size, stride, requires_grad=False, hooks=None,
                       metadata=None):
    from .tensor import wrap

    arr = storage.array
    item = arr.itemsize
    n = 1 + sum((s - 1) * st for s, st in zip(size, stride)) if all(size) else 0
    if offset < 0 or offset + n > arr.size or any(st < 0 for st in stride):
        raise UnpicklingError(f"tensor of size {tuple(size)} and stride {tuple(stride)} at "
                              f"offset {offset} does not fit its storage of {arr.size} elements")
    view = np.lib.stride_tricks.as_strided(arr[offset:], shape=tuple(size),
                                           strides=tuple(s * item for s in stride))
    t = wrap(np.array(view))
    if requires_grad:
        t.requires_grad_(True)
    return t


def _rebuild_parameter(data, requires_grad, hooks, state=None):
    from .nn.modules.module import Parameter

    return Parameter(data, requires_grad=requires_grad)


def _safe_globals():
    from . import dtypes

    allowed = {
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
        ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
        ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
        ("torch", "Size"): dtypes.Size,
        ("torch", "device"): dtypes.device,
        ("builtins", "set"): set, ("builtins", "frozenset"): frozenset,
        ("builtins", "slice"): slice, ("builtins", "complex"): complex,
    }
    for name in _STORAGES:
        allowed[("torch", name)] = name
    for name, dt in _DTYPES.items():
        allowed[("torch", name)] = dtypes.as_dtype(dt)
    return allowed


class _Unpickler(pickle.Unpickler):
    def __init__(self, file, archive, zf, weights_only, where):
        super().__init__(file)
        self._archive, self._zf, self._weights_only, self._where = archive, zf, weights_only, where
        self._safe = _safe_globals()
        self._loaded = {}

    def find_class(self, module, name):
        if (module, name) in self._safe:
            return self._safe[(module, name)]
        if self._weights_only:
            raise UnpicklingError(
                f"fastnn.load({self._where}): weights-only load refused the global "
                f"{module}.{name}. The file holds more than tensors and plain data (e.g. a whole "
                "pickled model); if you trust its source, pass weights_only=False (it can run "
                "arbitrary code), or save and load model.state_dict() instead")
        if module == "torch" or module.startswith("torch."):
            import importlib

            try:  # a pickled torch class: fastnn's class of the same name
                return getattr(importlib.import_module("fastnn" + module[5:]), name)
            except (ImportError, AttributeError):
                raise UnpicklingError(f"fastnn.load({self._where}): the file needs "
                                      f"{module}.{name}, which fastnn does not provide") from None
        return super().find_class(module, name)

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"):
            raise UnpicklingError(f"fastnn.load({self._where}): unknown persistent id {pid!r}")
        _, kind, key, _location, numel = pid[:5]
        if key not in self._loaded:
            if kind not in _STORAGES:
                raise UnpicklingError(f"fastnn.load({self._where}): unsupported storage "
                                      f"type {kind!r}")
            try:
                raw = self._zf.read(f"{self._archive}/data/{key}")
            except KeyError:
                raise UnpicklingError(f"fastnn.load({self._where}): storage {key!r} is missing "
                                      "from the archive (truncated file?)") from None
            dt = _STORAGES[kind]
            if dt == "bfloat16":  # NumPy has no bfloat16: widen to float32 exactly
                arr = (np.frombuffer(raw, "<u2").astype(np.uint32) << 16).view(np.float32)
            else:
                arr = np.frombuffer(raw, np.dtype(dt).newbyteorder("<")).astype(dt)
            if arr.size < int(numel):
                raise UnpicklingError(f"fastnn.load({self._where}): storage {key!r} holds "
                                      f"{arr.size} elements, the pickle says {numel}")
            self._loaded[key] = _Storage(arr)
        return self._loaded[key]


def load(buf, where, weights_only=True):
    """The object in a torch.save zip archive ``buf``. A malformed archive raises ValueError
    naming ``where``, whatever part of it is broken."""
    try:
        return _load(buf, where, weights_only)
    except (UnpicklingError, ValueError):
        raise
    except Exception as exc:  # zlib.error, EOFError, NotImplementedError (compression), ...
        raise ValueError(f"fastnn.load({where}): corrupt torch checkpoint: {exc!r}") from None


def _load(buf, where, weights_only):
    try:
        zf = zipfile.ZipFile(io.BytesIO(buf))
        names = zf.namelist()
    except zipfile.BadZipFile as exc:
        raise ValueError(f"fastnn.load({where}): corrupt zip archive: {exc}") from None
    pkl = [n for n in names if n.endswith("/data.pkl") and n.count("/") == 1]
    if not pkl:
        raise ValueError(f"fastnn.load({where}): a zip file but not a torch.save archive "
                         "(no <archive>/data.pkl)")
    archive = pkl[0].split("/")[0]
    order = f"{archive}/byteorder"
    if order in names and zf.read(order).strip() not in (b"little", b""):
        raise ValueError(f"fastnn.load({where}): big-endian checkpoints are not supported")
    return _Unpickler(io.BytesIO(zf.read(pkl[0])), archive, zf, weights_only, where).load()
