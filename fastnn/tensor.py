"""``Tensor``: one array (NumPy on "cpu", CuPy on "cuda") plus what autograd needs.

Operators and methods are thin: each one calls a Function (``fastnn/functions/``) whose forward and
backward work on the raw arrays. ``wrap(array)`` makes a Tensor around an array without copying.
"""

from __future__ import annotations

import builtins
import math
import weakref

import numpy as np

from . import dtypes as _dt


class Tensor:
    """A multi-dimensional array with reverse-mode autograd, mirroring ``torch.Tensor``.

    ``Tensor(data)`` copies ``data`` into a float tensor of the default dtype (like
    ``torch.Tensor``); ``Tensor(2, 3)`` makes an uninitialised 2x3 tensor. Prefer
    ``fastnn.tensor(data)``.
    """

    # array, _rg (requires_grad) and grad_fn are set on every op; the rest live in __dict__
    # (created lazily) with class-level defaults, so making a Tensor costs three slot stores.
    # Internal code reads and writes ``_rg``; the public ``requires_grad`` property validates.
    __slots__ = ("array", "_rg", "grad_fn", "__weakref__", "__dict__")
    grad = None
    _out_idx = 0
    _vc = None  # the storage's version counter, shared with detach() (and views: via _base)
    _base = None  # for a view: the tensor whose storage it shares (PyTorch's ._base)
    _views = None  # for a base: weak references to its views (their history follows in-place ops)
    _views_prune = 32
    _multi = None  # (output index, Function name) for a view from split/unbind/chunk
    _untracked = False  # .data: in-place writes through it are invisible to autograd's checks
    _hooks = None
    _post_acc_hooks = None
    __array_priority__ = 1000  # ndarray (op) Tensor defers to Tensor's reflected operator

    def __init__(self, *args, dtype=None, device=None, requires_grad=False):
        if len(args) == 1 and isinstance(args[0], Tensor):
            arr = args[0].array
        elif args and all(isinstance(a, (builtins.int, np.integer)) for a in args):
            arr = np.empty(tuple(builtins.int(a) for a in args), dtype or _dt.get_default_dtype())
        elif len(args) == 1 and isinstance(args[0], _dt.Size):  # Tensor(t.shape): uninitialised
            arr = np.empty(args[0], dtype or _dt.get_default_dtype())
        elif len(args) == 1:
            arr = np.array(args[0], dtype=dtype or _dt.get_default_dtype())
        else:
            arr = np.empty((0,), dtype or _dt.get_default_dtype())
        if device is not None and _dt.device(device).type == "cuda":
            arr = _to_device(arr, "cuda")
        self.array = arr
        self._rg = False
        self.grad_fn = None
        if requires_grad:
            self.requires_grad = True

    @staticmethod
    def _make_subclass(cls, data, require_grad=False):
        """An instance of ``cls`` (a Tensor subclass) sharing ``data``'s array (PyTorch's hook for
        ``Parameter``)."""
        t = object.__new__(cls)
        t.array = data.array if isinstance(data, Tensor) else data
        t._rg = False
        t.grad_fn = None
        if require_grad:
            t.requires_grad = True
        return t

    # ------------------------------------------------------------------ attributes
    @property
    def data(self) -> Tensor:
        """A tensor sharing this one's storage, outside the graph; unlike ``detach()``, writes
        through it are not seen by autograd's checks (PyTorch's documented difference)."""
        t = _make(self.array, False, None, 0)
        t._untracked = True
        return t

    @data.setter
    def data(self, value):
        self.array = value.array if isinstance(value, Tensor) else value

    @property
    def shape(self):
        return _dt.Size(self.array.shape)

    def size(self, dim=None):
        if dim is None:
            return _dt.Size(self.array.shape)
        return self.array.shape[dim]

    @property
    def dtype(self):
        return self.array.dtype

    @property
    def device(self):
        return (
            _dt.CPU
            if type(self.array) is np.ndarray
            else _dt.device("cuda", _cuda_index(self.array))
        )

    @property
    def is_cuda(self) -> bool:
        return type(self.array) is not np.ndarray

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    @property
    def ndim(self) -> int:
        return self.array.ndim

    def dim(self) -> int:
        return self.array.ndim

    def ndimension(self) -> int:
        return self.array.ndim

    def numel(self) -> int:
        return builtins.int(self.array.size)

    nelement = numel

    def element_size(self) -> int:
        return self.array.itemsize

    def is_floating_point(self) -> bool:
        dt = self.array.dtype
        return dt.kind == "f" or _dt.is_bfloat16(dt)  # ml_dtypes' bfloat16 has kind "V"

    def is_contiguous(self) -> bool:
        return bool(self.array.flags["C_CONTIGUOUS"])

    def stride(self, dim=None):
        st = tuple(s // self.array.itemsize for s in self.array.strides)
        return st if dim is None else st[dim]

    def data_ptr(self) -> int:
        return (
            self.array.__array_interface__["data"][0]
            if type(self.array) is np.ndarray
            else (self.array.data.ptr)
        )

    def get_device(self) -> int:
        return -1 if type(self.array) is np.ndarray else _cuda_index(self.array)

    @property
    def T(self):
        return _sh.permute(self, tuple(range(self.array.ndim - 1, -1, -1)))

    @property
    def mT(self):
        return _sh.transpose(self, -2, -1)

    # ------------------------------------------------------------------ autograd
    @property
    def requires_grad(self) -> bool:
        return self._rg

    @requires_grad.setter
    def requires_grad(self, value):
        value = bool(value)
        if not value and self.grad_fn is not None:
            raise RuntimeError(
                "you can only change requires_grad flags of leaf variables. If you want to use a "
                "computed variable in a subgraph that doesn't require differentiation use "
                "var_no_grad = var.detach()."
            )
        if value and not _differentiable(self.array.dtype):
            raise RuntimeError(
                "only Tensors of floating point and complex dtype can require gradients"
            )
        self._rg = value

    @property
    def _version(self) -> int:
        """How many in-place writes this tensor's storage has had (shared with its views)."""
        b = self._base
        vc = self._vc if b is None else b._vc
        return 0 if vc is None else vc.v

    @_version.setter
    def _version(self, value):  # ``t._version += 1`` after an in-place write bumps the storage's
        _views.counter(self).v = value

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad`` (``gradient`` for non-scalars)."""
        _engine.backward(self, gradient, retain_graph, create_graph, inputs)

    def detach(self) -> Tensor:
        """A tensor sharing storage (and its version counter) with this one, cut from the graph."""
        t = _make(self.array, False, None, 0)
        t._vc = _views.counter(self)
        return t

    def detach_(self) -> Tensor:
        self.grad_fn = None
        self._rg = False
        return self

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if self.grad_fn is not None and not requires_grad:
            raise RuntimeError(
                "you can only change requires_grad flags of leaf variables. If you want to use a "
                "computed variable in a subgraph that doesn't require differentiation use "
                "var_no_grad = var.detach()."
            )
        if requires_grad and not _differentiable(self.array.dtype):
            raise RuntimeError("only Tensors of floating point dtype can require gradients")
        self._rg = bool(requires_grad)
        return self

    def retain_grad(self) -> None:
        """Keep this non-leaf tensor's gradient in ``.grad`` during backward."""
        if not self.requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        node = self.grad_fn
        if node is None:
            return
        if node._retained is None:
            node._retained = {}
        node._retained[self._out_idx] = weakref.ref(self)

    @property
    def retains_grad(self) -> bool:
        node = self.grad_fn
        return bool(node is not None and node._retained and self._out_idx in node._retained)

    def register_hook(self, hook):
        """Call ``hook(grad)`` when this tensor's gradient is computed; a returned tensor replaces
        the gradient. Returns a handle with ``remove()``."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is None:
            if self._hooks is None:
                self._hooks = []
            hooks = self._hooks
        else:
            node = self.grad_fn
            if node._hooks is None:
                node._hooks = {}
            hooks = node._hooks.setdefault(self._out_idx, [])
        hooks.append(hook)
        return _HookHandle(hooks, hook)

    def register_post_accumulate_grad_hook(self, hook):
        """Call ``hook(tensor)`` on a leaf once per backward, after its ``.grad`` has received
        every contribution of that backward (PyTorch's name; DistributedDataParallel starts its
        gradient allreduce from it). Returns a handle with ``remove()``."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is not None:
            raise RuntimeError(
                "post accumulate grad hooks cannot be registered on non-leaf tensors"
            )
        if self._post_acc_hooks is None:
            self._post_acc_hooks = []
        self._post_acc_hooks.append(hook)
        return _HookHandle(self._post_acc_hooks, hook)

    # ------------------------------------------------------------------ conversion
    def item(self):
        if self.array.size != 1:
            raise RuntimeError(
                f"a Tensor with {self.array.size} elements cannot be converted to Scalar"
            )
        return (
            self.array.reshape(()).item()
            if type(self.array) is np.ndarray
            else (self.array.reshape(()).get().item())
        )

    def tolist(self):
        return _to_numpy(self.array).tolist()

    def numpy(self, force: bool = False) -> np.ndarray:
        if type(self.array) is not np.ndarray:
            if not force:
                raise TypeError(
                    "can't convert cuda tensor to numpy. Use Tensor.cpu() to copy the tensor to "
                    "host memory first."
                )
            return _to_numpy(self.array)
        if self.requires_grad and not force:
            raise RuntimeError(
                "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() "
                "instead."
            )
        return self.array

    def __array__(self, dtype=None, copy=None):
        a = _to_numpy(self.array)
        return a if dtype is None else a.astype(dtype, copy=False)

    def to(self, *args, **kwargs) -> Tensor:
        """``to(dtype)``, ``to(device)``, ``to(device, dtype)``, ``to(other)``; returns self when
        nothing changes (unless ``copy=True``)."""
        dtype = kwargs.pop("dtype", None)
        device = kwargs.pop("device", None)
        copy = kwargs.pop("copy", False)
        kwargs.pop("non_blocking", None)
        kwargs.pop("memory_format", None)
        if kwargs:
            raise TypeError(f"to() got unexpected keyword arguments {sorted(kwargs)}")
        for a in args:
            if isinstance(a, Tensor):
                dtype, device = a.dtype, a.device
            elif isinstance(a, (str, _dt.device)) and not (
                isinstance(a, str) and a.replace("torch.", "") in _dt._NAMES.values()
            ):
                device = a
            elif isinstance(a, builtins.bool):
                continue
            elif isinstance(a, builtins.int):
                device = _dt.device("cuda", a)
            else:
                dtype = a
        out = self
        if device is not None:
            dev = _dt.device(device)
            if dev.type != self.device.type:
                out = _sh.ToDevice.apply(out, dev.type)
        if dtype is not None:
            dtype = _dt.as_dtype(dtype)
            if dtype != out.array.dtype:
                out = _ew.cast(out, dtype)
        if copy and out is self:
            out = self.clone()
        return out

    def cpu(self) -> Tensor:
        return self.to("cpu")

    def cuda(self, device=None, non_blocking=False) -> Tensor:
        return self.to(
            "cuda"
            if device is None
            else _dt.device("cuda", device)
            if isinstance(device, builtins.int)
            else device
        )

    def type(self, dtype=None, non_blocking=False):
        """``t.type()`` names the tensor type ("fastnn.FloatTensor"); ``t.type(T)`` converts to
        the dtype of ``T`` (a dtype, a name, or a class such as ``fastnn.LongTensor``)."""
        if dtype is None:
            return "fastnn." + _TYPE_NAMES.get(self.array.dtype, "Tensor")
        if isinstance(dtype, str):
            name = dtype.split(".")[-1]
            inv = {v: k for k, v in _TYPE_NAMES.items()}
            dtype = inv[name] if name in inv else dtype
        elif isinstance(dtype, builtins.type) and hasattr(dtype, "dtype"):
            dtype = dtype.dtype
        return self.to(dtype)

    def float(self):
        return self.to(_dt.float32)

    def double(self):
        return self.to(_dt.float64)

    def half(self):
        return self.to(_dt.float16)

    def long(self):
        return self.to(_dt.int64)

    def int(self):
        return self.to(_dt.int32)

    def bool(self):
        return self.to(_dt.bool)

    def type_as(self, other):
        return self.to(other.dtype)

    def clone(self, memory_format=None):
        return _ew.Clone.apply(self)

    def contiguous(self, memory_format=None):
        if self.array.flags["C_CONTIGUOUS"]:
            return self
        return _ew.Clone.apply(self)

    def pin_memory(self):
        return self

    def share_memory_(self):
        return self

    def __len__(self):
        if self.array.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.array.shape[0]

    def __iter__(self):
        if self.array.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.array.shape[0]))

    def __bool__(self):
        if self.array.size != 1:
            raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
        return builtins.bool(self.item())

    def __float__(self):
        return builtins.float(self.item())

    def __int__(self):
        return builtins.int(self.item())

    def __index__(self):
        if self.array.dtype.kind not in "iub" or self.array.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return builtins.int(self.item())

    def __hash__(self):
        return id(self)

    def __repr__(self, *, tensor_contents=None):
        return _format(self)

    def __format__(self, spec):
        if self.array.ndim == 0:
            return self.item().__format__(spec)
        return object.__format__(self, spec)

    def __reduce_ex__(self, proto):
        return (_rebuild, (_to_numpy(self.array), self.requires_grad))

    def __deepcopy__(self, memo):
        if self.grad_fn is not None:
            raise RuntimeError(
                "Only Tensors created explicitly by the user (graph leaves) support the deepcopy "
                "protocol at the moment"
            )
        t = Tensor._make_subclass(type(self), self.array.copy(), self.requires_grad)
        if self.grad is not None:
            t.grad = _make(self.grad.array.copy(), False, None, 0)
        if self.__dict__:
            import copy as _copy

            for k, v in self.__dict__.items():
                if k not in _STORAGE_KEYS:  # the copy owns new storage: not a view, own counter
                    t.__dict__[k] = _copy.deepcopy(v, memo)
        memo[id(self)] = t
        return t

    # ------------------------------------------------------------------ arithmetic
    def __add__(self, other):
        if type(other) is Tensor and other.array.dtype is self.array.dtype:  # the common case
            return _Add.apply(self, other)
        return _binary(_ew.Add, self, other)

    def __radd__(self, other):
        return _binary(_ew.Add, self, other)

    def __sub__(self, other):
        if type(other) is Tensor and other.array.dtype is self.array.dtype:  # the common case
            return _Sub.apply(self, other)
        return _binary(_ew.Sub, self, other)

    def __rsub__(self, other):
        return _rbinary(_ew.Sub, other, self)

    def __mul__(self, other):
        if type(other) is Tensor and other.array.dtype is self.array.dtype:  # the common case
            return _Mul.apply(self, other)
        return _binary(_ew.Mul, self, other)

    def __rmul__(self, other):
        return _binary(_ew.Mul, self, other)

    def __truediv__(self, other):
        if self.array.dtype.kind == "f" and (
            (type(other) is Tensor and other.array.dtype is self.array.dtype)
            or type(other) is builtins.float
            or type(other) is builtins.int
        ):
            return _Div.apply(self, other)
        return _ew.div(self, other)

    def __rtruediv__(self, other):
        return _ew.div(other, self)

    def __floordiv__(self, other):
        return _ew.floor_divide(self, other)

    def __rfloordiv__(self, other):
        return _ew.floor_divide(other, self)

    def __mod__(self, other):
        return _ew.remainder(self, other)

    def __rmod__(self, other):
        return _ew.remainder(other, self)

    def __pow__(self, other):
        if self.array.dtype.kind == "f" and (
            type(other) is builtins.float or type(other) is builtins.int
        ):
            return _Pow.apply(self, other)
        return _ew.pow(self, other)

    def __rpow__(self, other):
        return _ew.pow(other, self)

    def __matmul__(self, other):
        return _la.matmul(self, other)

    def __rmatmul__(self, other):
        return _la.matmul(other, self)

    def __neg__(self):
        return _ew.Neg.apply(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return _ew.abs(self)

    def __invert__(self):
        return _ew.bitwise_not(self)

    def __and__(self, other):
        return _ew.logical_op(np.bitwise_and, self, other)

    __rand__ = __and__

    def __or__(self, other):
        return _ew.logical_op(np.bitwise_or, self, other)

    __ror__ = __or__

    def __xor__(self, other):
        return _ew.logical_op(np.bitwise_xor, self, other)

    __rxor__ = __xor__

    def __eq__(self, other):
        return _ew.compare(np.equal, self, other)

    def __ne__(self, other):
        return _ew.compare(np.not_equal, self, other)

    def __lt__(self, other):
        return _ew.compare(np.less, self, other)

    def __le__(self, other):
        return _ew.compare(np.less_equal, self, other)

    def __gt__(self, other):
        return _ew.compare(np.greater, self, other)

    def __ge__(self, other):
        return _ew.compare(np.greater_equal, self, other)

    def __iadd__(self, other):
        return _ew.inplace(self, _ew.Add, other)

    def __isub__(self, other):
        return _ew.inplace(self, _ew.Sub, other)

    def __imul__(self, other):
        return _ew.inplace(self, _ew.Mul, other)

    def __itruediv__(self, other):
        return _ew.inplace(self, _ew.Div, other)

    def __getitem__(self, index):
        return _ix.getitem(self, index)

    def __setitem__(self, index, value):
        _ix.setitem(self, index, value)


_STORAGE_KEYS = frozenset(("_vc", "_base", "_views", "_views_prune", "_multi", "_untracked"))

_TYPE_NAMES = {
    np.dtype(np.float32): "FloatTensor",
    np.dtype(np.float64): "DoubleTensor",
    np.dtype(np.float16): "HalfTensor",
    np.dtype(np.int64): "LongTensor",
    np.dtype(np.int32): "IntTensor",
    np.dtype(np.int16): "ShortTensor",
    np.dtype(np.int8): "CharTensor",
    np.dtype(np.uint8): "ByteTensor",
    np.dtype(np.bool_): "BoolTensor",
}


class _TypedTensorMeta(builtins.type):
    def __instancecheck__(cls, obj):
        return isinstance(obj, Tensor) and obj.array.dtype == cls.dtype


def _typed_tensor(name, dtype):
    """PyTorch's legacy constructors (``fastnn.LongTensor([1, 2])``, ``FloatTensor(2, 3)``);
    ``isinstance(t, fastnn.FloatTensor)`` checks the dtype."""

    def __new__(cls, *args, **kwargs):
        return Tensor(*args, dtype=cls.dtype, **kwargs)

    return _TypedTensorMeta(name, (), {"dtype": dtype, "__new__": __new__})


FloatTensor = _typed_tensor("FloatTensor", np.dtype(np.float32))
DoubleTensor = _typed_tensor("DoubleTensor", np.dtype(np.float64))
HalfTensor = _typed_tensor("HalfTensor", np.dtype(np.float16))
LongTensor = _typed_tensor("LongTensor", np.dtype(np.int64))
IntTensor = _typed_tensor("IntTensor", np.dtype(np.int32))
BoolTensor = _typed_tensor("BoolTensor", np.dtype(np.bool_))
ByteTensor = _typed_tensor("ByteTensor", np.dtype(np.uint8))


def _binary(fn, a, b):
    """``fn.apply(a, b)`` for a Tensor ``a`` after PyTorch's type promotion."""
    if isinstance(b, Tensor):
        if b.array.dtype != a.array.dtype:
            a, b = promote(a, b)
    elif type(b) is builtins.float:
        if a.array.dtype.kind not in "fc":
            a = _ew.cast(a, _dt.get_default_dtype())
    elif type(b) is not builtins.int:
        a, b = promote(a, b)
    return fn.apply(a, b)


def _rbinary(fn, a, b):
    """``fn.apply(a, b)`` for a scalar/array ``a`` and a Tensor ``b``."""
    if type(a) is builtins.float and b.array.dtype.kind not in "fc":
        b = _ew.cast(b, _dt.get_default_dtype())
    elif type(a) not in (builtins.int, builtins.float):
        a, b = promote(a, b)
    return fn.apply(a, b)


_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}


def result_type(a, b):
    """PyTorch's result dtype of a binary op between Tensors/scalars ``a`` and ``b``: a higher
    category (bool < int < float) wins; within a category dimensioned tensors beat 0-d tensors,
    which beat Python scalars."""

    def info(x):
        if isinstance(x, Tensor):
            return x.array.dtype, (2 if x.array.ndim else 1)
        if isinstance(x, builtins.bool):
            return _dt.bool, 0
        if isinstance(x, builtins.int):
            return _dt.int64, 0
        if isinstance(x, builtins.float):
            return _dt.get_default_dtype(), 0
        if isinstance(x, np.generic):
            return info(x.item())
        arr = np.asarray(x)
        return arr.dtype, 2

    (da, pa), (db, pb) = info(a), info(b)
    ca, cb = _CATEGORY[da.kind], _CATEGORY[db.kind]
    if ca != cb:
        hi_d, hi_p = (da, pa) if ca > cb else (db, pb)
        if hi_p == 0 and hi_d.kind == "f":
            return _dt.get_default_dtype()
        return hi_d
    if pa == pb:
        return np.promote_types(da, db)
    return da if pa > pb else db


def promote(a, b):
    """Both operands as Tensors (or Python scalars) of PyTorch's result dtype."""
    dt = result_type(a, b)

    def conv(x):
        if isinstance(x, Tensor):
            return x if x.array.dtype == dt else _ew.cast(x, dt)
        if isinstance(x, (builtins.int, builtins.float, np.generic)) and not isinstance(
            x, np.ndarray
        ):
            x = x.item() if isinstance(x, np.generic) else x
            return x
        return _make(np.asarray(x, dtype=dt), False, None, 0)

    return conv(a), conv(b)


class _HookHandle:
    def __init__(self, hooks, hook):
        self._hooks, self._hook = hooks, hook

    def remove(self):
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


def _differentiable(dtype) -> bool:
    return dtype.kind in "fc" or _dt.is_bfloat16(dtype)  # ml_dtypes' bfloat16 has kind "V"


def _make(array, requires_grad, grad_fn, out_idx):
    t = _new(Tensor)
    t.array = array
    t._rg = requires_grad
    t.grad_fn = grad_fn
    if out_idx:
        t._out_idx = out_idx
    return t


_new = object.__new__


def wrap(array, requires_grad: bool = False) -> Tensor:
    """A Tensor around ``array`` (NumPy or CuPy) without copying it."""
    if not (isinstance(array, np.ndarray) or hasattr(array, "__cuda_array_interface__")):
        array = np.asarray(array)
    return _make(array, bool(requires_grad), None, 0)


def _rebuild(array, requires_grad):
    return _make(array, requires_grad, None, 0)


def _cuda_index(arr) -> int:
    dev = getattr(arr, "device", None)
    return builtins.int(getattr(dev, "id", 0) or 0)


def _cupy():
    try:
        import cupy
    except ImportError as exc:
        raise RuntimeError(
            "CUDA tensors need CuPy (pip install fastnn[cuda12] or cupy-cuda12x); "
            f"it could not be imported: {exc}"
        ) from None
    return cupy


def _to_device(arr, device_type: str):
    if device_type == "cuda":
        return _cupy().asarray(arr)
    if type(arr) is np.ndarray:
        return arr
    if isinstance(arr, (np.ndarray, np.generic)):  # a NumPy scalar (0-d results): not CuPy
        return np.asarray(arr)
    return _cupy().asnumpy(arr)


def _to_numpy(arr):
    return arr if type(arr) is np.ndarray else _to_device(arr, "cpu")


# ------------------------------------------------------------------------- printing (PyTorch's)
_PRINT = {"precision": 4, "threshold": 1000, "edgeitems": 3, "linewidth": 80, "sci_mode": None}


def set_printoptions(
    precision=None, threshold=None, edgeitems=None, linewidth=None, profile=None, sci_mode=None
):
    """Same options as ``torch.set_printoptions``."""
    if profile == "default":
        _PRINT.update(precision=4, threshold=1000, edgeitems=3, linewidth=80)
    elif profile == "short":
        _PRINT.update(precision=2, threshold=1000, edgeitems=2, linewidth=80)
    elif profile == "full":
        _PRINT.update(precision=4, threshold=math.inf, edgeitems=3, linewidth=80)
    for k, v in (
        ("precision", precision),
        ("threshold", threshold),
        ("edgeitems", edgeitems),
        ("linewidth", linewidth),
    ):
        if v is not None:
            _PRINT[k] = v
    _PRINT["sci_mode"] = sci_mode


class _Formatter:
    def __init__(self, values: np.ndarray):
        self.floating = values.dtype.kind == "f"
        self.int_mode, self.sci_mode, self.max_width = True, False, 1
        p = _PRINT["precision"]
        if not self.floating:
            for v in values.reshape(-1).tolist():
                self.max_width = max(self.max_width, len(str(v)))
            return
        vals = values.astype(np.float64)
        nz = vals[np.isfinite(vals) & (vals != 0)]
        if nz.size == 0:
            return
        a = np.abs(nz)
        lo, hi = a.min(), a.max()
        self.int_mode = builtins.bool(np.all(nz == np.ceil(nz)))
        if self.int_mode:
            if hi / lo > 1000.0 or hi > 1.0e8:
                self.sci_mode = True
                self.max_width = max(len(f"{v:.{p}e}") for v in nz.tolist())
            else:
                self.max_width = max(len(f"{v:.0f}") + 1 for v in nz.tolist())
        elif hi / lo > 1000.0 or hi > 1.0e8 or lo < 1.0e-4:
            self.sci_mode = True
            self.max_width = max(len(f"{v:.{p}e}") for v in nz.tolist())
        else:
            self.max_width = max(len(f"{v:.{p}f}") for v in nz.tolist())
        if _PRINT["sci_mode"] is not None:
            self.sci_mode = _PRINT["sci_mode"]

    def format(self, v) -> str:
        p = _PRINT["precision"]
        if self.floating:
            if self.sci_mode:
                s = f"{v:{self.max_width}.{p}e}"
            elif self.int_mode:
                s = f"{v:.0f}"
                if not (math.isinf(v) or math.isnan(v)):
                    s += "."
            else:
                s = f"{v:.{p}f}"
        elif isinstance(v, builtins.bool):
            s = str(v)
        else:
            s = str(v)
        return (self.max_width - len(s)) * " " + s


def _summarized(a: np.ndarray, e: int) -> np.ndarray:
    """The edge items that a summarised print shows (the formatter's width comes from these)."""
    if a.ndim == 0:
        return a
    if a.ndim == 1:
        return np.concatenate([a[:e], a[-e:]]) if a.shape[0] > 2 * e else a
    rows = list(a[:e]) + list(a[-e:]) if a.shape[0] > 2 * e else list(a)
    return np.stack([_summarized(r, e) for r in rows])


def _str_nd(a, indent, summarize, fmt):
    e = _PRINT["edgeitems"]
    if a.ndim == 0:
        return fmt.format(a.item())
    if a.ndim == 1:
        width = fmt.max_width + 2
        per_line = max(1, builtins.int(math.floor((_PRINT["linewidth"] - indent) / width)))
        if summarize and a.shape[0] > 2 * e:
            data = (
                [fmt.format(v) for v in a[:e].tolist()]
                + [" ..."]
                + [fmt.format(v) for v in a[-e:].tolist()]
            )
        else:
            data = [fmt.format(v) for v in a.tolist()]
        lines = [", ".join(data[i : i + per_line]) for i in range(0, len(data), per_line)]
        return "[" + ("," + "\n" + " " * (indent + 1)).join(lines) + "]"
    if summarize and a.shape[0] > 2 * e:
        slices = (
            [_str_nd(a[i], indent + 1, summarize, fmt) for i in range(e)]
            + ["..."]
            + [_str_nd(a[i], indent + 1, summarize, fmt) for i in range(a.shape[0] - e, a.shape[0])]
        )
    else:
        slices = [_str_nd(a[i], indent + 1, summarize, fmt) for i in range(a.shape[0])]
    return "[" + ("," + "\n" * (a.ndim - 1) + " " * (indent + 1)).join(slices) + "]"


def _format(t: Tensor, prefix: str = "tensor(") -> str:
    a = _to_numpy(t.array)
    indent = len(prefix)
    suffixes = []
    if t.device.type != "cpu":
        suffixes.append(f"device='{t.device}'")
    if a.size == 0:
        if a.ndim != 1:
            suffixes.append("size=" + str(tuple(a.shape)))
        if a.dtype != _dt.get_default_dtype():
            suffixes.append("dtype=" + _dt.dtype_name(a.dtype))
        body = "[]"
    else:
        if a.dtype not in (_dt.get_default_dtype(), _dt.int64, _dt.bool):
            suffixes.append("dtype=" + _dt.dtype_name(a.dtype))
        summarize = a.size > _PRINT["threshold"]
        fmt = _Formatter(_summarized(a, _PRINT["edgeitems"]) if summarize else a)
        body = _str_nd(a, indent, summarize, fmt)
    if t.grad_fn is not None:
        suffixes.append(f"grad_fn=<{type(t.grad_fn).__name__}>")
    elif t.requires_grad:
        suffixes.append("requires_grad=True")
    out = [prefix + body]
    last = len(out[0]) - out[0].rfind("\n") + 1
    for s in suffixes:
        if last + len(s) + 2 > _PRINT["linewidth"]:
            out.append(",\n" + " " * indent + s)
            last = indent + len(s)
        else:
            out.append(", " + s)
            last += len(s) + 2
    out.append(")")
    return "".join(out)


# Late imports: these modules subclass Function, which needs Tensor defined above.
from .autograd import engine as _engine  # noqa: E402
from .autograd import views as _views  # noqa: E402
from .functions import _methods  # noqa: E402,F401  (attaches the remaining Tensor methods)
from .functions import elementwise as _ew  # noqa: E402
from .functions import gemm as _la  # noqa: E402
from .functions import indexing as _ix  # noqa: E402
from .functions import reduce as _rd  # noqa: E402,F401
from .functions import shape as _sh  # noqa: E402

_Add, _Sub, _Mul, _Div, _Pow = _ew.Add, _ew.Sub, _ew.Mul, _ew.Div, _ew.Pow
