"""Adagrad (PyTorch's formulas)."""

from __future__ import annotations

import numpy as np

from .._util import xp_of
from ..tensor import wrap
from ._functional import adagrad_step
from .optimizer import Optimizer

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """s += g^2; p -= lr / (1 + (t-1) lr_decay) * g / (sqrt(s) + eps)."""

    def __init__(self, params, lr: float = 1e-2, lr_decay: float = 0, weight_decay: float = 0,
                 initial_accumulator_value: float = 0, eps: float = 1e-10, foreach=None, *,
                 maximize: bool = False, differentiable: bool = False, fused=None):
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= lr_decay:
            raise ValueError(f"Invalid lr_decay value: {lr_decay}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= initial_accumulator_value:
            raise ValueError(
                f"Invalid initial_accumulator_value value: {initial_accumulator_value}"
            )
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)
        for group in self.param_groups:  # PyTorch creates Adagrad's state eagerly
            for p in group["params"]:
                state = self.state[p]
                state["step"] = wrap(np.zeros((), dtype=np.float32))
                xp = xp_of(p.array)
                state["sum"] = wrap(xp.full_like(p.array, group["initial_accumulator_value"]))

    def step(self, closure=None):
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                state["step"].array += 1
                adagrad_step(p.array, p.grad.array,
                             {"step": float(state["step"].array), "sum": state["sum"].array},
                             lr=group["lr"], lr_decay=group["lr_decay"],
                             weight_decay=group["weight_decay"], eps=group["eps"],
                             maximize=group["maximize"])
        return loss
