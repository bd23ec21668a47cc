"""fastnn.save / fastnn.load: checkpoints in the safetensors format, never pickle.

Tensors go into the safetensors body; the structure around them (nested dicts, lists, tuples,
integer keys such as an optimizer's parameter ids, numbers, strings, None) goes into the header's
metadata as JSON under ``"fastnn"``. A model's state_dict keeps its own key names as tensor names,
so the file is an ordinary safetensors file that other tools (``safetensors.torch.load_file``)
read; any safetensors file without fastnn metadata loads as a flat ``{name: tensor}`` dict.
"""

from __future__ import annotations

import json
import os
import struct
from collections import OrderedDict

import numpy as np

__all__ = ["save", "load"]

_META_KEY = "fastnn"
_FORMAT = 1


def _is_tensor(x):
    from .tensor import Tensor

    return isinstance(x, Tensor)


def _host(arr):
    if not isinstance(arr, np.ndarray):
        arr = arr.get()
    return np.ascontiguousarray(arr)


def _encode(obj, path, tensors, where):
    """JSON-able description of obj; tensors are moved into ``tensors`` under unique names."""
    if _is_tensor(obj) or isinstance(obj, np.ndarray):
        arr = obj.array if _is_tensor(obj) else obj
        name = path or "tensor"
        if name in tensors or name.startswith("__"):
            k = 1
            while f"{name}#{k}" in tensors:
                k += 1
            name = f"{name}#{k}"
        tensors[name] = _host(arr)
        enc = {"__tensor__": name}
        if arr.ndim == 0:  # safetensors' NumPy reader returns 0-d tensors as shape (1,)
            enc["scalar"] = True
        if _is_tensor(obj):
            dev = "cpu" if isinstance(arr, np.ndarray) else "cuda"
            if dev != "cpu":
                enc["device"] = dev
        else:
            enc["numpy"] = True
        return enc
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, (int, float)):
        return obj
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, dict):
        if all(isinstance(k, str) for k in obj) and not any(k.startswith("__") for k in obj):
            return {k: _encode(v, _join(path, k), tensors, where) for k, v in obj.items()}
        items = []
        for k, v in obj.items():
            if not isinstance(k, (str, int, float, bool)) and k is not None:
                raise TypeError(
                    f"fastnn.save({where}): dict key {k!r} at '{path}' is a "
                    f"{type(k).__name__}; keys must be strings or numbers"
                )
            items.append([k, _encode(v, _join(path, str(k)), tensors, where)])
        return {"__dict__": items}
    if isinstance(obj, tuple):
        return {"__tuple__": [_encode(v, _join(path, str(i)), tensors, where)
                              for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [_encode(v, _join(path, str(i)), tensors, where) for i, v in enumerate(obj)]
    raise _NotEncodable(
        f"fastnn.save({where}): cannot store a {type(obj).__name__} at '{path or '<root>'}' "
        "in the safe format (tensors, numbers, strings, bools, None and dicts/lists/tuples of "
        "them)"
    )


class _NotEncodable(TypeError):
    pass


_PICKLE_MAGIC = b"\x00fastnn-pickle\x00"


def _pickle_bytes(obj, why, protocol):
    """``obj`` pickled behind fastnn's marker (torch.save's behaviour for arbitrary objects)."""
    import pickle

    try:
        return _PICKLE_MAGIC + pickle.dumps(obj, protocol=protocol or 4)
    except Exception as exc:  # PicklingError, AttributeError (lambdas, local classes), ...
        raise TypeError(f"{why}, and it cannot be pickled either: {exc}") from None


def _unpickle(buf, where, weights_only):
    import pickle

    from ._torch_format import UnpicklingError

    if weights_only:
        raise UnpicklingError(
            f"fastnn.load({where}): the file is a pickle (e.g. a whole model saved with "
            "save(model, f)); weights-only loading refuses pickles. If you trust its source, "
            "pass weights_only=False (it can run arbitrary code), or save model.state_dict()")
    return pickle.loads(buf)


def _join(path, key):
    return f"{path}.{key}" if path else key


def save(obj, f, pickle_module=None, pickle_protocol=None, _use_new_zipfile_serialization=True):
    """Save ``obj`` to ``f`` (a path or a writable binary file).

    A state_dict, an optimizer state_dict, or dicts/lists/tuples of tensors, numbers, strings,
    bools and None are written as safetensors (safe to load anywhere). Anything else -- a whole
    module (``torch.save(model, f)``), an arbitrary object -- is pickled, as torch does; such a
    file loads only with ``load(f, weights_only=False)``, the explicit and unsafe opt-in."""
    from safetensors.numpy import save as st_save

    where = repr(os.fspath(f)) if isinstance(f, (str, os.PathLike)) else type(f).__name__
    tensors = OrderedDict()
    try:
        structure = _encode(obj, "", tensors, where)
    except _NotEncodable as exc:
        data = _pickle_bytes(obj, exc, pickle_protocol)
    else:
        metadata = {_META_KEY: json.dumps({"format": _FORMAT, "root": structure})}
        data = st_save(dict(tensors), metadata=metadata)
    if isinstance(f, (str, os.PathLike)):
        with open(f, "wb") as fh:
            fh.write(data)
    else:
        f.write(data)


def _read_header(buf, where):
    if len(buf) < 8:
        raise ValueError(f"fastnn.load({where}): file is too short to be a safetensors file "
                         f"({len(buf)} bytes); it is truncated or not a fastnn checkpoint")
    (n,) = struct.unpack("<Q", buf[:8])
    if n > len(buf) - 8:
        hint = (" (it looks like a pickle; fastnn loads pickles only with weights_only=False)"
                if buf[:2] in (b"\x80\x02", b"\x80\x04", b"\x80\x05") else "")
        raise ValueError(
            f"fastnn.load({where}): not a safetensors file or truncated: header says {n} bytes "
            f"but the file has {len(buf) - 8}{hint}"
        )
    try:
        header = json.loads(buf[8 : 8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"fastnn.load({where}): corrupt safetensors header: {exc}") from None
    if not isinstance(header, dict):
        raise ValueError(f"fastnn.load({where}): corrupt safetensors header (not a JSON object)")
    return header


_MAX_DEPTH = 100  # deeper metadata is refused (a hostile file would exhaust the stack)


def _decode(enc, arrays, place, where, depth=0):
    """The object ``enc`` describes. Everything read from the file is checked before use: a
    malformed structure raises ValueError naming the file, never TypeError/RecursionError."""
    from .tensor import wrap

    def bad(what):
        return ValueError(f"fastnn.load({where}): corrupt fastnn metadata: {what}")

    if depth > _MAX_DEPTH:
        raise bad(f"nested deeper than {_MAX_DEPTH} levels")
    sub = depth + 1
    if isinstance(enc, dict):
        if "__tensor__" in enc:
            name = enc["__tensor__"]
            if not isinstance(name, str) or name not in arrays:
                raise ValueError(f"fastnn.load({where}): corrupt file, tensor {name!r} is missing")
            arr = arrays[name]
            if enc.get("scalar"):
                if arr.size != 1:
                    raise bad(f"tensor {name!r} is marked scalar but has shape {arr.shape}")
                arr = arr.reshape(())
            if enc.get("numpy"):
                return arr
            device = enc.get("device", "cpu")
            if device not in ("cpu", "cuda"):
                raise bad(f"tensor {name!r} has an unknown device {device!r}")
            return wrap(place(arr, device))
        if "__tuple__" in enc:
            items = enc["__tuple__"]
            if not isinstance(items, list):
                raise bad("__tuple__ is not a list")
            return tuple(_decode(v, arrays, place, where, sub) for v in items)
        if "__dict__" in enc:
            pairs = enc["__dict__"]
            if not isinstance(pairs, list) or not all(
                isinstance(p, list) and len(p) == 2
                and (p[0] is None or isinstance(p[0], (str, int, float, bool)))
                for p in pairs
            ):
                raise bad("__dict__ is not a list of [key, value] pairs")
            return {k: _decode(v, arrays, place, where, sub) for k, v in pairs}
        out = OrderedDict()
        for k, v in enc.items():
            out[k] = _decode(v, arrays, place, where, sub)
        return out
    if isinstance(enc, list):
        return [_decode(v, arrays, place, where, sub) for v in enc]
    return enc


def _placer(map_location):
    """fn(array, saved_device) -> array on the target device."""

    def to(arr, dev):
        if dev == "cpu":
            return arr
        try:
            import cupy
        except ImportError:
            raise RuntimeError(
                "Attempting to deserialize a tensor on a CUDA device but CuPy is not available; "
                "pass map_location='cpu'"
            ) from None
        return cupy.asarray(arr)

    def norm(d):
        s = str(getattr(d, "type", d))
        return "cuda" if s.startswith("cuda") else "cpu"

    if map_location is None:
        return to
    if isinstance(map_location, dict):
        mapping = {norm(k): norm(v) for k, v in map_location.items()}
        return lambda arr, dev: to(arr, mapping.get(dev, dev))
    if callable(map_location) and not isinstance(map_location, str):
        def call(arr, dev):
            from .tensor import Tensor, wrap

            res = map_location(wrap(arr), dev)
            return res.array if isinstance(res, Tensor) else arr
        return call
    target = norm(map_location)
    return lambda arr, dev: to(arr, target)


def load(f, map_location=None, pickle_module=None, *, weights_only=True, mmap=None, **kwargs):
    """Load what ``save`` wrote (or any safetensors file, as a flat dict) from a path, a readable
    binary file or bytes; also torch.save's zip archives (read without torch, weights only unless
    ``weights_only=False``) and pickled objects from ``save`` (only with ``weights_only=False``,
    which trusts the file: unpickling can run arbitrary code). ``map_location``: None (the saved
    device), "cpu", "cuda", a ``fastnn.device``, a {saved: target} dict, or fn(tensor,
    saved_device) (safetensors files). A truncated, corrupt or foreign file, or a pickle without
    ``weights_only=False``, raises ValueError naming the file."""
    from safetensors.numpy import load as st_load

    if isinstance(f, (str, os.PathLike)):
        where = repr(os.fspath(f))
        with open(f, "rb") as fh:
            buf = fh.read()
    elif isinstance(f, (bytes, bytearray)):
        where, buf = "bytes", bytes(f)
    else:  # a readable binary file object
        where, buf = type(f).__name__, f.read()
    if buf.startswith(_PICKLE_MAGIC):
        return _unpickle(buf[len(_PICKLE_MAGIC):], where, weights_only)
    from . import _torch_format

    if _torch_format.is_torch_zip(buf):  # torch.save's archive: read without torch
        return _torch_format.load(buf, where, weights_only)
    if weights_only is False and buf[:1] == b"\x80":  # a bare pickle, explicitly trusted
        return _unpickle(buf, where, weights_only)
    header = _read_header(buf, where)
    meta = header.get("__metadata__") or {}
    if not isinstance(meta, dict):
        raise ValueError(f"fastnn.load({where}): corrupt safetensors header (__metadata__ is "
                         "not an object)")
    try:
        arrays = st_load(buf)
    except Exception as exc:  # safetensors' own error type is not exported uniformly
        raise ValueError(f"fastnn.load({where}): corrupt safetensors file: {exc}") from None
    place = _placer(map_location)
    if _META_KEY not in meta:  # a plain safetensors file: flat {name: tensor}
        from .tensor import wrap

        return OrderedDict((k, wrap(place(arrays[k], "cpu"))) for k in header
                           if k != "__metadata__")
    try:
        info = json.loads(meta[_META_KEY])
        root = info["root"]
    except (json.JSONDecodeError, KeyError, TypeError, RecursionError) as exc:
        raise ValueError(f"fastnn.load({where}): corrupt fastnn metadata: {exc!r}") from None
    return _decode(root, arrays, place, where)
