"""Optimizer base class (PyTorch's torch.optim.Optimizer surface and state_dict format).

Updates run on the parameters' raw arrays in place (no autograd), so they cost one array op per
formula term. ``state_dict()`` has PyTorch's layout: ``{"state": {int id: {name: tensor}},
"param_groups": [{..., "params": [int ids]}]}`` with ids numbered across groups in order.
"""

from __future__ import annotations

import functools
from collections import OrderedDict, defaultdict
from copy import deepcopy
from itertools import chain

import numpy as np

from ..autograd import views as _views
from ..autograd.grad_mode import enable_grad
from ..tensor import Tensor, wrap

__all__ = [
    "Optimizer",
    "required",
    "scalar_zero",
    "check_nonneg",
    "register_optimizer_step_pre_hook",
    "register_optimizer_step_post_hook",
]

# torch.optim.optimizer's global hooks (every optimizer, before its own)
_global_step_pre_hooks: OrderedDict = OrderedDict()
_global_step_post_hooks: OrderedDict = OrderedDict()


def _handle(hooks: OrderedDict, hook):
    from ..nn.modules.module import RemovableHandle

    handle = RemovableHandle(hooks)
    hooks[handle.id] = hook
    return handle


def register_optimizer_step_pre_hook(hook):
    """``hook(optimizer, args, kwargs)`` before every optimizer's ``step``; it may return new
    ``(args, kwargs)``. Returns a handle whose ``remove()`` unregisters it."""
    return _handle(_global_step_pre_hooks, hook)


def register_optimizer_step_post_hook(hook):
    """``hook(optimizer, args, kwargs)`` after every optimizer's ``step``."""
    return _handle(_global_step_post_hooks, hook)


def _wrap_step(step):
    """An optimizer's ``step`` as torch runs it: step pre-hooks (global, then the optimizer's),
    the update, then the version bump of every parameter it may have written (torch's updates
    are in-place ops, so a graph that saved a parameter before the step refuses to backward
    through it after), then the post-hooks (the optimizer's, then global). A subclass's step
    that calls ``super().step()`` runs the hooks at both levels, as torch does once the parent
    class has been instantiated (torch patches each class's step on its first instance)."""

    @functools.wraps(step)
    def wrapper(*args, **kwargs):  # args[0] is the optimizer; hooks see (self, ...) as torch's
        self = args[0]
        own_pre = self.__dict__.get("_optimizer_step_pre_hooks")
        for hook in chain(tuple(_global_step_pre_hooks.values()),
                          tuple(own_pre.values()) if own_pre else ()):
            result = hook(self, args, kwargs)
            if result is not None:
                if isinstance(result, tuple) and len(result) == 2:
                    args, kwargs = result
                else:
                    raise RuntimeError(
                        f"{hook} must return None or a tuple of (new_args, new_kwargs), but "
                        f"got {result}."
                    )
        out = step(*args, **kwargs)
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    _views.bump(p)
        own_post = self.__dict__.get("_optimizer_step_post_hooks")
        for hook in chain(tuple(own_post.values()) if own_post else (),  # torch: own first
                          tuple(_global_step_post_hooks.values())):
            hook(self, args, kwargs)
        return out

    wrapper._fastnn_step_wrapper = True
    return wrapper


class _RequiredParameter:
    def __repr__(self):
        return "<required parameter>"


required = _RequiredParameter()


def scalar_zero(value: float = 0.0) -> Tensor:
    """A 0-d float32 tensor (PyTorch keeps ``step`` and other scalar state as one)."""
    return wrap(np.full((), value, dtype=np.float32))


def check_nonneg(**values) -> None:
    """PyTorch's argument checks: ``Invalid <name>: <value>`` for a negative hyper-parameter."""
    names = {"lr": "learning rate", "eps": "epsilon value"}
    for name, v in values.items():
        if not 0.0 <= v:
            raise ValueError(f"Invalid {names.get(name, name + ' value')}: {v}")


class Optimizer:
    """Base class: holds ``param_groups`` (dicts with "params" plus hyper-parameters) and per-
    parameter ``state``; subclasses implement ``step`` (wrapped as torch does: step hooks and
    the parameters' version counters, see ``_wrap_step``)."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        step = cls.__dict__.get("step")
        if step is not None and not getattr(step, "_fastnn_step_wrapper", False):
            cls.step = _wrap_step(step)

    def register_step_pre_hook(self, hook):
        """``hook(optimizer, args, kwargs)`` before ``step``; it may return new
        ``(args, kwargs)``. Returns a handle whose ``remove()`` unregisters it."""
        hooks = self.__dict__.setdefault("_optimizer_step_pre_hooks", OrderedDict())
        return _handle(hooks, hook)

    def register_step_post_hook(self, hook):
        """``hook(optimizer, args, kwargs)`` after ``step``."""
        hooks = self.__dict__.setdefault("_optimizer_step_post_hooks", OrderedDict())
        return _handle(hooks, hook)

    def __init__(self, params, defaults: dict):
        self.defaults = defaults
        self.state = defaultdict(dict)
        self.param_groups = []
        if isinstance(params, Tensor):
            raise TypeError(
                "params argument given to the optimizer should be an iterable of Tensors or "
                f"dicts, but got {type(params).__name__}"
            )
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)

    def __repr__(self):
        s = self.__class__.__name__ + " ("
        for i, group in enumerate(self.param_groups):
            s += f"\nParameter Group {i}"
            for key in sorted(group.keys()):
                if key != "params":
                    s += f"\n    {key}: {group[key]}"
        return s + "\n)"

    def add_param_group(self, param_group: dict) -> None:
        """Add a group of parameters (a dict with "params" and optional hyper-parameters)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            param_group["params"] = [params]
        elif isinstance(params, set):
            raise TypeError(
                "optimizer parameters need to be organized in ordered collections, but the "
                "ordering of tensors in sets will change between runs. Please use a list instead."
            )
        else:
            param_group["params"] = list(params)
        for p in param_group["params"]:
            if not isinstance(p, Tensor):
                raise TypeError(
                    "optimizer can only optimize Tensors, but one of the params is "
                    + type(p).__name__
                )
            if not p.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor")
        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError(
                    "parameter group didn't specify a value of required optimization parameter "
                    + name
                )
            param_group.setdefault(name, default)
        if len({id(p) for p in param_group["params"]}) != len(param_group["params"]):
            import warnings

            warnings.warn(
                "optimizer contains a parameter group with duplicate parameters; in future, "
                "this will cause an error",
                stacklevel=3,
            )
        seen = set()
        for group in self.param_groups:
            seen.update(id(p) for p in group["params"])
        if seen & {id(p) for p in param_group["params"]}:
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all optimised parameters (to None, or zeros in place)."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    if p.grad.grad_fn is not None:
                        p.grad = p.grad.detach()
                    p.grad.array[...] = 0

    def step(self, closure=None):
        raise NotImplementedError

    def _eval_closure(self, closure):
        if closure is None:
            return None
        with enable_grad():
            return closure()

    def _step_each(self, closure, init, update):
        """The common loop: for every parameter with a gradient, ``init(arr, state, group)`` once
        (state values as Tensors, PyTorch's keys), then ``update(arr, grad_arr, arrays, group)``
        with the state's raw arrays (0-d ``step`` arrays are incremented in place)."""
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if len(state) == 0:
                    init(p.array, state, group)
                arrays = {k: (v.array if isinstance(v, Tensor) else v) for k, v in state.items()}
                update(p.array, p.grad.array, arrays, group)
        return loss

    # ----------------------------------------------------------------------------- state_dict
    def state_dict(self) -> dict:
        """``{"state": {id: {...}}, "param_groups": [...]}`` with integer parameter ids."""
        param_mappings = {}
        start_index = 0

        def pack_group(group):
            nonlocal start_index
            packed = {k: v for k, v in group.items() if k != "params"}
            param_mappings.update(
                {id(p): i for i, p in enumerate(group["params"], start_index)
                 if id(p) not in param_mappings}
            )
            packed["params"] = [param_mappings[id(p)] for p in group["params"]]
            start_index += len(packed["params"])
            return packed

        param_groups = [pack_group(g) for g in self.param_groups]
        packed_state = {
            param_mappings[id(k)]: v for k, v in self.state.items() if id(k) in param_mappings
        }
        return {"state": packed_state, "param_groups": param_groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Load a state_dict from ``state_dict()`` (or ``fastnn.load``); state tensors are
        copied to each parameter's dtype (except ``step``) and device."""
        state_dict = {"state": state_dict["state"], "param_groups": state_dict["param_groups"]}
        groups = self.param_groups
        saved_groups = deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        param_lens = (len(g["params"]) for g in groups)
        saved_lens = (len(g["params"]) for g in saved_groups)
        if any(p_len != s_len for p_len, s_len in zip(param_lens, saved_lens)):
            raise ValueError(
                "loaded state dict contains a parameter group that doesn't match the size of "
                "optimizer's group"
            )
        id_map = dict(
            zip(
                chain.from_iterable(g["params"] for g in saved_groups),
                chain.from_iterable(g["params"] for g in groups),
            )
        )
        state = defaultdict(dict)
        for k, v in state_dict["state"].items():
            k = int(k)
            if k in id_map:
                param = id_map[k]
                state[param] = {key: _cast(param, value, key) for key, value in v.items()}
            else:
                state[k] = v
        new_groups = []
        for group, saved in zip(groups, saved_groups):
            saved["params"] = group["params"]
            new_groups.append(saved)
        self.state = state
        self.param_groups = new_groups


def _cast(param, value, key):
    """A copy of a saved state value on the parameter's device (floats in its dtype; ``step``
    keeps its own dtype)."""
    if isinstance(value, (Tensor, np.ndarray)) or hasattr(value, "__cuda_array_interface__"):
        arr = value.array if isinstance(value, Tensor) else value
        target = param.array
        if not isinstance(target, np.ndarray):  # parameter on CUDA
            import cupy

            arr = cupy.asarray(arr)
        elif not isinstance(arr, np.ndarray):
            arr = arr.get()
        if key != "step" and np.dtype(arr.dtype).kind == "f":
            arr = arr.astype(target.dtype, copy=True)
        else:
            arr = arr.copy()
        return wrap(arr)
    if isinstance(value, dict):
        return {k: _cast(param, v, k) for k, v in value.items()}
    return value
