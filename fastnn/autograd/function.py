"""``Function``: an op's forward and backward side by side, and the graph node it records.

A Function's ``forward(ctx, *args, **kwargs)`` receives the raw arrays of Tensor arguments
(other arguments as given) and returns an array or a tuple of arrays; ``backward(ctx, *grads)``
receives one array per output and returns one array-or-None per positional forward argument.
``apply`` wraps the outputs in Tensors and, when grad mode is on and an input requires grad,
records ``ctx`` as their ``grad_fn``. ``ctx`` is the graph node itself (PyTorch's design): an
instance of ``<Name>Backward0``, a class made for each Function subclass.
"""

from __future__ import annotations

import numpy as np

from ..tensor import Tensor, _make
from .grad_mode import state as _grad_state

_CLOCK = [0]  # views.CLOCK (views imports this module)

_new = object.__new__

_FREED_MSG = (
    "Trying to backward through the graph a second time (or directly access saved tensors after "
    "they have already been freed). Saved intermediate values of the graph are freed when you call "
    ".backward() or autograd.grad(). Specify retain_graph=True if you need to backward through "
    "the graph a second time or if you need to access saved tensors after calling backward."
)


def unbroadcast(grad, shape):
    """Sum ``grad`` over the dims that broadcasting added or stretched, back to ``shape``."""
    if grad.shape == shape:
        return grad
    lead = grad.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and grad.shape[lead + i] != 1
    )
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad.reshape(shape)


class BackwardNode:
    """A recorded op (also its ``ctx``). ``_next[i]`` says where the gradient of positional input
    ``i`` goes: None, a leaf Tensor, or ``(node, output_index)``."""

    _fn = None  # the Function subclass (set on each per-Function subclass)
    _next = ()
    _saved = ()
    _out_meta = None  # ((shape, dtype, xp), ...) for multi-output nodes: zeros for unused outputs
    _retained = None  # {output_index: weakref to a Tensor that called retain_grad()}
    _hooks = None  # {output_index: [hook, ...]} from Tensor.register_hook
    _freed = False
    _non_diff = None
    _t = 0  # views.CLOCK when the forward saved arrays

    @property
    def needs_input_grad(self):
        """One bool per positional forward argument: does it need a gradient?"""
        return tuple([e is not None for e in self._next])

    def save_for_backward(self, *arrays):
        self._saved = arrays
        self._t = _CLOCK[0]  # backward checks they were not written in place since (views.py)

    @property
    def saved_tensors(self):
        if self._freed:
            raise RuntimeError(_FREED_MSG)
        return self._saved

    def mark_non_differentiable(self, *arrays):
        self._non_diff = {id(a) for a in arrays}

    def name(self) -> str:
        return type(self).__name__

    @property
    def next_functions(self):
        out = []
        for e in self._next:
            if e is None:
                out.append((None, 0))
            elif type(e) is tuple:
                out.append(e)
            else:
                out.append(("AccumulateGrad", 0))
        return tuple(out)

    def _release(self):
        had = bool(self._saved) or bool(self.__dict__.keys() - _ENGINE_KEYS)
        for k in list(self.__dict__.keys() - _ENGINE_KEYS):
            del self.__dict__[k]
        self._saved = ()
        self._freed = had

    def __repr__(self):
        return f"<{type(self).__name__} object at {hex(id(self))}>"


_ENGINE_KEYS = frozenset(
    ("_next", "_saved", "_out_meta", "_retained", "_hooks", "_freed", "_non_diff")
)


class Function:
    """Base class for differentiable operations (PyTorch's ``torch.autograd.Function``).

    Example::

        class Exp(Function):
            @staticmethod
            def forward(ctx, x):
                y = np.exp(x)
                ctx.save_for_backward(y)
                return y

            @staticmethod
            def backward(ctx, grad):
                (y,) = ctx.saved_tensors
                return grad * y

        y = Exp.apply(x)
    """

    _Node = BackwardNode
    _mark_view = None  # ViewFunction's hook: record outputs that share args[0]'s memory

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls._Node = type(f"{cls.__name__}Backward0", (BackwardNode,), {"_fn": cls})

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("Function subclasses must implement forward(ctx, *args)")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("Function subclasses must implement backward(ctx, *grads)")

    @classmethod
    def apply(cls, *args, **kwargs):
        # Hot path (every op goes through here): one pass over the arguments, no per-call dicts.
        ctx = cls._Node()
        arrays = []
        nexts = []
        record = False
        for a in args:
            if isinstance(a, Tensor):
                arrays.append(a.array)
                if a._rg:
                    record = True
                    fn = a.grad_fn
                    nexts.append(a if fn is None else (fn, a._out_idx))
                    continue
            else:
                arrays.append(a)
            nexts.append(None)
        if kwargs:
            for k, v in kwargs.items():
                if isinstance(v, Tensor):
                    kwargs[k] = v.array
        if record and _grad_state.enabled:
            ctx._next = tuple(nexts)
            out = cls.forward(ctx, *arrays, **kwargs)
            if type(out) is tuple:
                ctx._out_meta = tuple((o.shape, o.dtype) for o in out)
                nd = ctx._non_diff or ()
                res = []
                for i, o in enumerate(out):
                    if type(o) is not np.ndarray:
                        o = _as_array(o)
                    if o.dtype.kind in "fc" and id(o) not in nd:
                        res.append(_make(o, True, ctx, i))
                    else:
                        res.append(_make(o, False, None, 0))
                res = tuple(res)
                if cls._mark_view is not None:
                    cls._mark_view(res, args[0], cls)
                return res
            if type(out) is not np.ndarray:
                out = _as_array(out)
            if out.dtype.kind not in "fc" or (ctx._non_diff and id(out) in ctx._non_diff):
                t = _make(out, False, None, 0)
            else:
                t = _new(Tensor)  # _make, inlined: this is the path every recorded op takes
                t.array = out
                t._rg = True
                t.grad_fn = ctx
            if cls._mark_view is not None:
                cls._mark_view(t, args[0], cls)
            return t
        ctx._next = (None,) * len(args)
        out = cls.forward(ctx, *arrays, **kwargs)
        if type(out) is tuple:
            t = tuple(_make(_as_array(o), False, None, 0) for o in out)
        else:
            if type(out) is not np.ndarray:
                out = _as_array(out)
            t = _make(out, False, None, 0)
        if cls._mark_view is not None:
            cls._mark_view(t, args[0], cls)
        return t


def _as_array(x):
    if type(x) is np.ndarray or hasattr(x, "__cuda_array_interface__"):
        return x
    return np.asarray(x)
