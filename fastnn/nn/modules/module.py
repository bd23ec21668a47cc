"""Module and Parameter: PyTorch's nn.Module surface (registration through attribute assignment,
recursive parameter/buffer/module iteration, state_dict with PyTorch's key names, train/eval,
hooks, to()/cpu()/float(), and PyTorch's repr)."""

from __future__ import annotations

import itertools
from collections import OrderedDict, namedtuple

import numpy as np

from ...dtypes import as_dtype, get_default_dtype
from ...dtypes import device as _device
from ...tensor import Tensor, wrap

__all__ = ["Module", "Parameter"]


# --------------------------------------------------------------------------------------- Parameter


def _as_array(data):
    if data is None:
        return np.empty((0,), dtype=get_default_dtype())
    if isinstance(data, Tensor):
        return data.array
    if isinstance(data, np.ndarray) or hasattr(data, "__cuda_array_interface__"):
        return data
    return np.asarray(data)


class Parameter(Tensor):
    """A Tensor that a Module registers as a parameter when assigned as an attribute.

    Args:
        data: the initial values (a Tensor, whose storage is shared, or array-like).
        requires_grad: default True.
    """

    def __new__(cls, data=None, requires_grad=True):
        return Tensor._make_subclass(cls, _as_array(data), requires_grad)

    def __init__(self, data=None, requires_grad=True):  # state is set in __new__
        pass

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    def __reduce_ex__(self, proto):
        rebuild, (array, requires_grad) = super().__reduce_ex__(proto)
        return (type(self), (array, requires_grad))


# ------------------------------------------------------------------------------------------ hooks


class RemovableHandle:
    """Returned by the register_*_hook methods; ``remove()`` unregisters the hook."""

    _next_id = itertools.count()

    def __init__(self, hooks_dict):
        self.hooks_dict = hooks_dict
        self.id = next(RemovableHandle._next_id)

    def remove(self):
        self.hooks_dict.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


class _IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    def __repr__(self):
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__


def _addindent(s_, num_spaces):
    s = s_.split("\n")
    if len(s) == 1:
        return s_
    first = s.pop(0)
    s = [(num_spaces * " ") + line for line in s]
    return first + "\n" + "\n".join(s)


def _shape_str(shape):
    return f"fastnn.Size({list(shape)})"


# ----------------------------------------------------------------------------------------- Module


class Module:
    """Base class for all neural network modules (PyTorch's nn.Module).

    Subclasses assign Parameters, Tensors registered with ``register_buffer`` and sub-Modules as
    attributes in ``__init__`` (after ``super().__init__()``) and implement ``forward``.
    """

    training: bool
    _version = 1

    def __init__(self, *args, **kwargs):
        if args or kwargs:
            raise TypeError(
                f"{type(self).__name__}.__init__() got unexpected arguments "
                f"{args!r} {kwargs!r}"
            )
        d = self.__dict__
        d["training"] = True
        d["_parameters"] = OrderedDict()
        d["_buffers"] = OrderedDict()
        d["_non_persistent_buffers_set"] = set()
        d["_modules"] = OrderedDict()
        d["_forward_hooks"] = OrderedDict()
        d["_forward_pre_hooks"] = OrderedDict()

    def forward(self, *args, **kwargs):
        """Subclasses define the computation here; call the module itself, not forward."""
        raise NotImplementedError(
            f'Module [{type(self).__name__}] is missing the required "forward" function'
        )

    # -------------------------------------------------------------------------------- calling
    def __call__(self, *args, **kwargs):
        d = self.__dict__
        if not (d["_forward_hooks"] or d["_forward_pre_hooks"]):
            return self.forward(*args, **kwargs)
        for hook in list(d["_forward_pre_hooks"].values()):
            res = hook(self, args)
            if res is not None:
                args = res if isinstance(res, tuple) else (res,)
        result = self.forward(*args, **kwargs)
        for hook in list(d["_forward_hooks"].values()):
            res = hook(self, args, result)
            if res is not None:
                result = res
        return result

    def _call_impl(self, *args, **kwargs):
        return self.__call__(*args, **kwargs)

    def register_forward_pre_hook(self, hook):
        """``hook(module, args) -> None or new args``, run before forward."""
        handle = RemovableHandle(self._forward_pre_hooks)
        self._forward_pre_hooks[handle.id] = hook
        return handle

    def register_forward_hook(self, hook):
        """``hook(module, args, output) -> None or new output``, run after forward."""
        handle = RemovableHandle(self._forward_hooks)
        self._forward_hooks[handle.id] = hook
        return handle

    # ----------------------------------------------------------------------------- registration
    def _check_name(self, name, kind):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot assign {kind} before Module.__init__() call")
        if not isinstance(name, str):
            raise TypeError(f"{kind} name should be a string. Got {type(name).__name__}")
        if "." in name:
            raise KeyError(f'{kind} name can\'t contain ".", got: {name}')
        if name == "":
            raise KeyError(f'{kind} name can\'t be empty string ""')

    def register_buffer(self, name: str, tensor, persistent: bool = True) -> None:
        """Add a buffer (state that is not a parameter, e.g. running statistics).

        Persistent buffers are part of ``state_dict``; ``tensor`` may be None.
        """
        self._check_name(name, "buffer")
        if hasattr(self, name) and name not in self._buffers:
            raise KeyError(f"attribute '{name}' already exists")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(
                f"cannot assign '{type(tensor).__name__}' object to buffer '{name}' "
                "(fastnn Tensor or None required)"
            )
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def register_parameter(self, name: str, param) -> None:
        """Add a parameter (a Parameter or None)."""
        self._check_name(name, "parameter")
        if hasattr(self, name) and name not in self._parameters:
            raise KeyError(f"attribute '{name}' already exists")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"cannot assign '{type(param).__name__}' object to parameter '{name}' "
                "(fastnn.nn.Parameter or None required)"
            )
        self._parameters[name] = param

    def add_module(self, name: str, module) -> None:
        """Add a child module (a Module or None) under ``name``."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        self._check_name(name, "module")
        if hasattr(self, name) and name not in self._modules:
            raise KeyError(f"attribute '{name}' already exists")
        self._modules[name] = module

    register_module = add_module

    def __getattr__(self, name):
        d = self.__dict__
        if "_parameters" in d:
            if name in d["_parameters"]:
                return d["_parameters"][name]
            if name in d["_buffers"]:
                return d["_buffers"][name]
            if name in d["_modules"]:
                return d["_modules"][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __setattr__(self, name, value):
        d = self.__dict__
        params = d.get("_parameters")
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError("cannot assign parameters before Module.__init__() call")
            self._remove_from(name, d, d["_buffers"], d["_modules"],
                              d["_non_persistent_buffers_set"])
            self.register_parameter(name, value)
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(
                    f"cannot assign '{type(value).__name__}' as parameter '{name}' "
                    "(fastnn.nn.Parameter or None expected)"
                )
            params[name] = None
        elif isinstance(value, Module):
            if params is None:
                raise AttributeError("cannot assign module before Module.__init__() call")
            self._remove_from(name, d, params, d["_buffers"], d["_non_persistent_buffers_set"])
            d["_modules"][name] = value
        elif params is not None and name in d["_modules"]:
            if value is not None:
                raise TypeError(
                    f"cannot assign '{type(value).__name__}' as child module '{name}' "
                    "(fastnn.nn.Module or None expected)"
                )
            d["_modules"][name] = None
        elif params is not None and name in d["_buffers"]:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(
                    f"cannot assign '{type(value).__name__}' as buffer '{name}' "
                    "(fastnn Tensor or None expected)"
                )
            d["_buffers"][name] = value
        else:
            object.__setattr__(self, name, value)

    @staticmethod
    def _remove_from(name, *dicts_or_sets):
        for ds in dicts_or_sets:
            if name in ds:
                if isinstance(ds, dict):
                    del ds[name]
                else:
                    ds.discard(name)

    def __delattr__(self, name):
        d = self.__dict__
        if name in d.get("_parameters", ()):
            del d["_parameters"][name]
        elif name in d.get("_buffers", ()):
            del d["_buffers"][name]
            d["_non_persistent_buffers_set"].discard(name)
        elif name in d.get("_modules", ()):
            del d["_modules"][name]
        else:
            object.__delattr__(self, name)

    def __dir__(self):
        keys = list(object.__dir__(self))
        keys += list(self._parameters) + list(self._modules) + list(self._buffers)
        return sorted(set(k for k in keys if not k[:1].isdigit()))

    def get_submodule(self, target: str) -> Module:
        """The submodule at dotted path ``target`` ("" is self)."""
        if target == "":
            return self
        mod = self
        for item in target.split("."):
            if item not in mod._modules:
                raise AttributeError(f"{mod._get_name()} has no attribute `{item}`")
            mod = mod._modules[item]
        return mod

    def get_parameter(self, target: str) -> Parameter:
        module_path, _, name = target.rpartition(".")
        mod = self.get_submodule(module_path)
        if name not in mod._parameters:
            raise AttributeError(f"{mod._get_name()} has no parameter `{name}`")
        return mod._parameters[name]

    def get_buffer(self, target: str):
        module_path, _, name = target.rpartition(".")
        mod = self.get_submodule(module_path)
        if name not in mod._buffers:
            raise AttributeError(f"{mod._get_name()} has no buffer `{name}`")
        return mod._buffers[name]

    # -------------------------------------------------------------------------------- iteration
    def _named_members(self, get_members_fn, prefix="", recurse=True, remove_duplicate=True):
        memo = set()
        modules = (
            self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate)
            if recurse
            else [(prefix, self)]
        )
        for module_prefix, module in modules:
            for k, v in get_members_fn(module):
                if v is None or (remove_duplicate and id(v) in memo):
                    continue
                if remove_duplicate:
                    memo.add(id(v))
                yield (module_prefix + ("." if module_prefix else "") + k, v)

    def parameters(self, recurse: bool = True):
        """Iterator over parameters (each shared one once); recurse=False: this module's own."""
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True):
        """Iterator over (dotted name, parameter)."""
        yield from self._named_members(
            lambda m: m._parameters.items(), prefix, recurse, remove_duplicate
        )

    def buffers(self, recurse: bool = True):
        """Iterator over buffers (persistent or not)."""
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True):
        """Iterator over (dotted name, buffer)."""
        yield from self._named_members(
            lambda m: m._buffers.items(), prefix, recurse, remove_duplicate
        )

    def children(self):
        """Iterator over immediate child modules."""
        for _, m in self.named_children():
            yield m

    def named_children(self):
        memo = set()
        for name, m in self._modules.items():
            if m is not None and id(m) not in memo:
                memo.add(id(m))
                yield name, m

    def modules(self):
        """Iterator over all modules in the tree, self first (each shared one once)."""
        for _, m in self.named_modules():
            yield m

    def named_modules(self, memo=None, prefix: str = "", remove_duplicate: bool = True):
        """Iterator over (dotted name, module), self first with name ``prefix``."""
        if memo is None:
            memo = set()
        if id(self) in memo:
            return
        if remove_duplicate:
            memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            if module is None:
                continue
            sub = prefix + ("." if prefix else "") + name
            yield from module.named_modules(memo, sub, remove_duplicate)

    # ------------------------------------------------------------------------------- state_dict
    def _save_to_state_dict(self, destination, prefix, keep_vars):
        for name, param in self._parameters.items():
            if param is not None:
                destination[prefix + name] = param if keep_vars else param.detach()
        for name, buf in self._buffers.items():
            if buf is not None and name not in self._non_persistent_buffers_set:
                destination[prefix + name] = buf if keep_vars else buf.detach()

    def state_dict(self, *args, destination=None, prefix: str = "", keep_vars: bool = False):
        """OrderedDict of every parameter and persistent buffer by dotted name (PyTorch's keys).

        Values are detached tensors sharing storage with the module (``keep_vars=True``: the
        Parameters themselves).
        """
        if args:  # PyTorch's deprecated positional form (destination, prefix, keep_vars)
            destination = args[0]
            if len(args) > 1:
                prefix = args[1]
            if len(args) > 2:
                keep_vars = args[2]
        if destination is None:
            destination = OrderedDict()
        self._save_to_state_dict(destination, prefix, keep_vars)
        for name, module in self._modules.items():
            if module is not None:
                module.state_dict(destination=destination, prefix=prefix + name + ".",
                                  keep_vars=keep_vars)
        return destination

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):
        persistent_buffers = {
            k: v for k, v in self._buffers.items() if k not in self._non_persistent_buffers_set
        }
        local_state = {k: v for k, v in itertools.chain(self._parameters.items(),
                                                        persistent_buffers.items())
                       if v is not None}
        for name, param in local_state.items():
            key = prefix + name
            if key not in state_dict:
                if strict:
                    missing_keys.append(key)
                continue
            src = state_dict[key]
            src_arr = _source_array(src)
            if src_arr is None:
                error_msgs.append(
                    f'While copying the parameter named "{key}", expected a Tensor or array '
                    f"from checkpoint but received {type(src).__name__}"
                )
                continue
            if tuple(src_arr.shape) != tuple(param.shape):
                error_msgs.append(
                    f"size mismatch for {key}: copying a param with shape "
                    f"{_shape_str(src_arr.shape)} from checkpoint, the shape in current model "
                    f"is {_shape_str(param.shape)}."
                )
                continue
            dst = param.array
            try:
                if isinstance(dst, np.ndarray):
                    if not isinstance(src_arr, np.ndarray):  # CuPy -> host
                        src_arr = src_arr.get()
                    dst[...] = src_arr
                else:
                    import cupy

                    dst[...] = cupy.asarray(src_arr)
            except Exception as ex:
                error_msgs.append(
                    f'While copying the parameter named "{key}", whose dimensions in the model '
                    f"are {_shape_str(param.shape)} and whose dimensions in the checkpoint are "
                    f"{_shape_str(src_arr.shape)}, an exception occurred : {ex.args}."
                )
        if strict:
            for key in state_dict:
                if key.startswith(prefix):
                    input_name = key[len(prefix):].split(".", 1)
                    if input_name[0] not in self._modules and input_name[0] not in local_state:
                        unexpected_keys.append(key)

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """Copy parameters and persistent buffers from ``state_dict`` (values: Tensors or arrays).

        With ``strict`` every key must match; missing/unexpected keys and shape mismatches raise
        RuntimeError listing all of them. Returns ``(missing_keys, unexpected_keys)``.
        """
        if not isinstance(state_dict, dict):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict)}.")
        missing_keys, unexpected_keys, error_msgs = [], [], []

        def load(module, prefix=""):
            module._load_from_state_dict(state_dict, prefix, {}, True, missing_keys,
                                         unexpected_keys, error_msgs)
            for name, child in module._modules.items():
                if child is not None:
                    load(child, prefix + name + ".")

        load(self)
        if strict:
            if unexpected_keys:
                error_msgs.insert(0, "Unexpected key(s) in state_dict: {}. ".format(
                    ", ".join(f'"{k}"' for k in unexpected_keys)))
            if missing_keys:
                error_msgs.insert(0, "Missing key(s) in state_dict: {}. ".format(
                    ", ".join(f'"{k}"' for k in missing_keys)))
        if error_msgs:
            raise RuntimeError("Error(s) in loading state_dict for {}:\n\t{}".format(
                self._get_name(), "\n\t".join(error_msgs)))
        return _IncompatibleKeys(missing_keys, unexpected_keys)

    # ---------------------------------------------------------------------------- modes, grads
    def train(self, mode: bool = True):
        """Set training mode on this module and every descendant; returns self."""
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        self.training = mode
        for module in self.children():
            module.train(mode)
        return self

    def eval(self):
        """``train(False)``."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True):
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset every parameter's ``.grad`` (to None, or to zeros in place)."""
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                g = p.grad
                if g.grad_fn is not None:
                    p.grad = g.detach()
                    g = p.grad
                g.array[...] = 0

    def apply(self, fn):
        """Call ``fn(module)`` on every descendant (children first), then on self; returns self."""
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    # ------------------------------------------------------------------------- device / dtype
    def _apply(self, fn, recurse=True):
        """Replace each parameter's, gradient's and buffer's array with ``fn(array)`` in place
        (Parameters keep their identity, so optimizers built earlier still see them)."""
        if recurse:
            for module in self.children():
                module._apply(fn)
        for param in self._parameters.values():
            if param is None:
                continue
            new = fn(param.array)
            if new is not param.array:
                _set_array(param, new)
                if param.grad is not None:
                    _set_array(param.grad, fn(param.grad.array))
        for key, buf in self._buffers.items():
            if buf is not None:
                new = fn(buf.array)
                if new is not buf.array:
                    self._buffers[key] = wrap(new, requires_grad=buf.requires_grad)
        return self

    def to(self, *args, **kwargs):
        """``to(device)``, ``to(dtype)``, ``to(device, dtype)``, ``to(tensor)``: moves parameters
        and buffers in place (dtype applies to floating-point ones only, as in PyTorch)."""
        device, dtype = _parse_to(*args, **kwargs)

        def convert(arr):
            if dtype is not None and arr.dtype.kind == "f" and arr.dtype != dtype:
                arr = arr.astype(dtype)
            if device is not None:
                arr = _to_device(arr, device)
            return arr

        return self._apply(convert)

    def cpu(self):
        return self.to("cpu")

    def cuda(self, device=None):
        return self.to("cuda" if device is None else f"cuda:{device}" if isinstance(device, int)
                       else device)

    def float(self):
        return self.to(np.float32)

    def double(self):
        return self.to(np.float64)

    def type(self, dst_type):
        return self.to(dst_type)

    # ------------------------------------------------------------------------------------ repr
    def _get_name(self):
        return type(self).__name__

    def extra_repr(self) -> str:
        """One-line description of this module's own settings, shown in ``repr``."""
        return ""

    def __repr__(self):
        extra_lines = []
        extra_repr = self.extra_repr()
        if extra_repr:
            extra_lines = extra_repr.split("\n")
        child_lines = []
        for key, module in self._modules.items():
            mod_str = _addindent(repr(module), 2)
            child_lines.append("(" + key + "): " + mod_str)
        lines = extra_lines + child_lines
        main_str = self._get_name() + "("
        if lines:
            if len(extra_lines) == 1 and not child_lines:
                main_str += extra_lines[0]
            else:
                main_str += "\n  " + "\n  ".join(lines) + "\n"
        return main_str + ")"


# ------------------------------------------------------------------------------------- helpers


def _source_array(src):
    if isinstance(src, Tensor):
        return src.array
    if isinstance(src, np.ndarray) or hasattr(src, "__cuda_array_interface__"):
        return src
    if hasattr(src, "__array__") and hasattr(src, "shape"):
        return np.asarray(src)
    return None


def _set_array(tensor, new_array):
    """Point an existing tensor at a new array (identity kept)."""
    tensor.array = new_array


def _parse_device(device):
    if device is None:
        return None
    s = str(getattr(device, "type", device))
    if s.startswith("cuda"):
        return "cuda"
    if s == "cpu":
        return "cpu"
    raise ValueError(f"device: expected 'cpu' or 'cuda[:n]', got {device!r}")


def _np_dtype(dtype):
    try:
        return as_dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype: expected a fastnn/NumPy dtype, got {dtype!r}") from None


def _parse_to(*args, device=None, dtype=None, non_blocking=False, copy=False, memory_format=None):
    for a in args:
        if isinstance(a, Tensor):
            device, dtype = a.device, a.dtype
        elif isinstance(a, _device) or (isinstance(a, str) and a.split(":")[0] in ("cpu", "cuda")):
            device = a
        elif isinstance(a, int) and not isinstance(a, bool):
            device = f"cuda:{a}"
        else:
            dtype = a
    return _parse_device(device), (None if dtype is None else _np_dtype(dtype))


def _to_device(arr, device):
    if device == "cpu":
        return arr if isinstance(arr, np.ndarray) else arr.get()
    try:
        import cupy
    except ImportError:
        raise RuntimeError(
            "moving a module to cuda needs CuPy (pip install fastnn[cuda12])"
        ) from None
    return arr if isinstance(arr, cupy.ndarray) else cupy.asarray(arr)
