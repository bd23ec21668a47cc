"""dtypes (NumPy dtypes under PyTorch's names), the default dtype, ``device`` and ``Size``."""

from __future__ import annotations

import builtins

import numpy as np

float32 = float = np.dtype(np.float32)
float64 = double = np.dtype(np.float64)
float16 = half = np.dtype(np.float16)
int64 = long = np.dtype(np.int64)
int32 = int = np.dtype(np.int32)
int16 = short = np.dtype(np.int16)
int8 = np.dtype(np.int8)
uint8 = np.dtype(np.uint8)
bool = np.dtype(np.bool_)  # noqa: A001 - PyTorch's name
complex64 = cfloat = np.dtype(np.complex64)
complex128 = cdouble = np.dtype(np.complex128)


class _UnavailableDtype:
    """A dtype name whose NumPy type needs an optional package; using it raises saying which."""

    def __init__(self, name: str, package: str):
        self.name, self.package = name, package

    def __repr__(self) -> str:
        return f"fastnn.{self.name}"

    def error(self) -> TypeError:
        return TypeError(
            f"dtype {self.name} needs the {self.package!r} package (pip install {self.package})"
        )


_bfloat16 = None


def _load_bfloat16():
    """``bfloat16``, made on first use: NumPy has no bfloat16 and ml_dtypes (JAX's) adds it as a
    NumPy dtype, but importing ml_dtypes 0.7 costs ~0.9 s here (its extension registers every
    cast), which ``import fastnn`` paid for every script; now only a script that names
    ``fastnn.bfloat16`` does."""
    global _bfloat16
    if _bfloat16 is None:
        try:
            import ml_dtypes

            _bfloat16 = np.dtype(ml_dtypes.bfloat16)
            _NAMES[_bfloat16] = "bfloat16"
        except ImportError:  # scripts still build {"bfloat16": torch.bfloat16, ...} tables
            _bfloat16 = _UnavailableDtype("bfloat16", "ml_dtypes")
    return _bfloat16


def __getattr__(name):  # PEP 562: fastnn.dtypes.bfloat16 is made on first access
    if name == "bfloat16":
        return _load_bfloat16()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def is_bfloat16(dt) -> builtins.bool:
    """Whether a NumPy dtype is ml_dtypes' bfloat16 (kind "V"), without importing ml_dtypes."""
    return dt.kind == "V" and dt.name == "bfloat16"

_builtin_bool, _builtin_int, _builtin_float = builtins.bool, builtins.int, builtins.float

_NAMES = {
    np.dtype(np.float32): "float32",
    np.dtype(np.float64): "float64",
    np.dtype(np.float16): "float16",
    np.dtype(np.int64): "int64",
    np.dtype(np.int32): "int32",
    np.dtype(np.int16): "int16",
    np.dtype(np.int8): "int8",
    np.dtype(np.uint8): "uint8",
    np.dtype(np.bool_): "bool",
    np.dtype(np.complex64): "complex64",
    np.dtype(np.complex128): "complex128",
}

_default = [float32]


def get_default_dtype():
    """The dtype of floating-point tensors created without one (float32 unless changed)."""
    return _default[0]


def set_default_dtype(d) -> None:
    """Set the default floating-point dtype (float32 or float64)."""
    d = as_dtype(d)
    if d not in (float32, float64, float16):
        raise TypeError(f"set_default_dtype: only floating-point types are supported, got {d}")
    _default[0] = d


def as_dtype(d):
    """A NumPy dtype from a fastnn/NumPy dtype, a Python type (float -> default, int -> int64,
    bool -> bool) or a name."""
    if d is None:
        return None
    if d is _builtin_float:
        return _default[0]
    if d is _builtin_int:
        return int64
    if d is _builtin_bool:
        return bool
    if isinstance(d, _UnavailableDtype):
        raise d.error()
    if isinstance(d, str) and d.startswith("torch."):
        d = d[6:]
    return np.dtype(d)


def dtype_name(d) -> str:
    return "fastnn." + _NAMES.get(np.dtype(d), str(d))


def is_floating_point_dtype(d) -> _builtin_bool:
    d = np.dtype(d)
    return d.kind == "f" or is_bfloat16(d)


class device:
    """``fastnn.device("cpu")``, ``device("cuda")``, ``device("cuda:1")``, ``device("cuda", 0)``."""

    __slots__ = ("type", "index")

    def __init__(self, type, index=None):  # noqa: A002 - PyTorch's name
        if isinstance(type, device):
            type, index = type.type, type.index
        elif isinstance(type, _builtin_int):
            type, index = "cuda", type
        elif ":" in type:
            type, idx = type.split(":", 1)
            index = _builtin_int(idx)
        if type not in ("cpu", "cuda"):
            raise RuntimeError(
                f"Expected one of cpu, cuda device type at start of device string: {type}"
            )
        self.type = type
        self.index = index

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self):
        return (
            f"device(type='{self.type}')"
            if self.index is None
            else (f"device(type='{self.type}', index={self.index})")
        )

    def __eq__(self, other):
        if isinstance(other, str):
            other = device(other)
        if not isinstance(other, device):
            return NotImplemented
        return self.type == other.type and (
            self.index == other.index or None in (self.index, other.index)
        )

    def __hash__(self):
        return hash((self.type, self.index))


CPU = device("cpu")


class Size(tuple):
    """A tensor's shape: a tuple with ``numel()``."""

    def numel(self):
        n = 1
        for s in self:
            n *= s
        return n

    def __repr__(self):
        return f"fastnn.Size({list(self)})"
