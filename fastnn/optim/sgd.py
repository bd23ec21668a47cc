"""SGD with momentum, dampening, Nesterov, weight decay and maximize (PyTorch's formulas)."""

from __future__ import annotations

from ..tensor import wrap
from ._functional import sgd_step
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
            for p in group["params"]:
                if p.grad is None:
                    continue
                if group["momentum"] == 0:  # no state at all, like PyTorch
                    sgd_step(p.array, p.grad.array, None, **kw)
                    continue
                state = self.state[p]
                buf = state.get("momentum_buffer")
                new = sgd_step(p.array, p.grad.array, None if buf is None else buf.array, **kw)
                if buf is None:
                    state["momentum_buffer"] = wrap(new)
        return loss
