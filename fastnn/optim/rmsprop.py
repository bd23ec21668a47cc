"""RMSprop with momentum and centering (PyTorch's formulas)."""

from __future__ import annotations

import numpy as np

from .._util import xp_of
from ..tensor import wrap
from ._functional import rmsprop_step
from .optimizer import Optimizer

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """v = alpha v + (1-alpha) g^2; avg = sqrt(v [- mean(g)^2 if centered]) + eps;
    p -= lr * g / avg (or through a momentum buffer b = momentum b + g / avg)."""

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0, momentum: float = 0, centered: bool = False,
                 capturable: bool = False, foreach=None, maximize: bool = False,
                 differentiable: bool = False):
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= momentum:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= alpha:
            raise ValueError(f"Invalid alpha value: {alpha}")
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, capturable=capturable, foreach=foreach,
                        maximize=maximize, differentiable=differentiable)
        super().__init__(params, defaults)

    def step(self, closure=None):
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                arr = p.array
                state = self.state[p]
                if len(state) == 0:
                    xp = xp_of(arr)
                    state["step"] = wrap(np.zeros((), dtype=np.float32))
                    state["square_avg"] = wrap(xp.zeros_like(arr))
                    if group["momentum"] > 0:
                        state["momentum_buffer"] = wrap(xp.zeros_like(arr))
                    if group["centered"]:
                        state["grad_avg"] = wrap(xp.zeros_like(arr))
                state["step"].array += 1
                arrays = {k: v.array for k, v in state.items()}
                rmsprop_step(arr, p.grad.array, arrays, lr=group["lr"], alpha=group["alpha"],
                             eps=group["eps"], weight_decay=group["weight_decay"],
                             momentum=group["momentum"], centered=group["centered"],
                             maximize=group["maximize"])
        return loss
