"""SGD with momentum, dampening, Nesterov, weight decay and maximize (PyTorch's formulas)."""

from __future__ import annotations

import numpy as np

from ..tensor import wrap
from ._functional import multi_tensor_lib, multi_tensor_ok, sgd_multi_step, sgd_step
from .optimizer import Optimizer

__all__ = ["SGD"]


class SGD(Optimizer):
    """Stochastic gradient descent.

    g = grad (+ weight_decay * p); with momentum: b = momentum * b + (1 - dampening) * g (b = g
    on the first step), g = g + momentum * b (Nesterov) or b; p -= lr * g.
    """

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0, dampening: float = 0,
                 weight_decay: float = 0, nesterov: bool = False, *, maximize: bool = False,
                 foreach=None, differentiable: bool = False, fused=None):
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov, maximize=maximize,
                        foreach=foreach, differentiable=differentiable, fused=fused)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, defaults)

    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns closure's loss if given."""
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            kw = dict(lr=group["lr"], momentum=group["momentum"], dampening=group["dampening"],
                      weight_decay=group["weight_decay"], nesterov=group["nesterov"],
                      maximize=group["maximize"])
            lib = multi_tensor_lib()
            params, grads, bufs, fresh = [], [], [], []
            batched = set()  # ids of the arrays in `params`
            # the buffers as they were before this step: torch collects them first, so a
            # parameter listed twice starts both updates from the same (or no) buffer
            held = ({id(p): self.state[p].get("momentum_buffer") for p in group["params"]
                     if p.grad is not None} if group["momentum"] != 0 else {})
            for p in group["params"]:
                if p.grad is None:
                    continue
                arr, g = p.array, p.grad.array
                if id(arr) in batched:  # a duplicate parameter updates twice, in order (torch)
                    sgd_multi_step(lib, params, grads, bufs, fresh, **kw)
                    params, grads, bufs, fresh = [], [], [], []
                    batched.clear()
                buf = None
                if group["momentum"] != 0:  # no state at all without momentum, like PyTorch
                    state = self.state[p]
                    buf = held[id(p)]
                extra = () if buf is None else (buf.array,)
                if lib is not None and multi_tensor_ok(arr, g, *extra):
                    params.append(arr)
                    batched.add(id(arr))
                    grads.append(g)
                    if group["momentum"] != 0:
                        fresh.append(buf is None)
                        if buf is None:
                            buf = state["momentum_buffer"] = wrap(np.empty_like(arr))
                        bufs.append(buf.array)
                    continue
                new = sgd_step(arr, g, None if buf is None else buf.array, **kw)
                if group["momentum"] != 0 and buf is None:
                    state["momentum_buffer"] = wrap(new)
            if params:  # one C++ call for the group, bit-identical to sgd_step
                sgd_multi_step(lib, params, grads, bufs, fresh, **kw)
        return loss
