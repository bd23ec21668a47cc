"""SparseAdam on dense gradients: Adam's moments and update only where the gradient is non-zero
(the entries a sparse gradient would hold, e.g. the looked-up rows of an Embedding), in
PyTorch's formulas. fastnn has no sparse tensors, so the gradient arrives dense."""

from __future__ import annotations

import math

from .._util import xp_of
from ..tensor import wrap
from .optimizer import Optimizer

__all__ = ["SparseAdam"]


class SparseAdam(Optimizer):
    """Lazy Adam: entries whose gradient is zero keep their moments and parameter values."""

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 maximize: bool = False):
        if not 0.0 < lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 < eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= betas[0] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
        if not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, maximize=maximize))

    @staticmethod
    def _init(arr, state, group):
        xp = xp_of(arr)
        state["step"] = 0  # a Python int in PyTorch's SparseAdam
        state["exp_avg"] = wrap(xp.zeros_like(arr))
        state["exp_avg_sq"] = wrap(xp.zeros_like(arr))

    def _update_one(self, p_tensor, p, g, group):
        dt = p.dtype.type
        beta1, beta2 = group["betas"]
        state = self.state[p_tensor]
        state["step"] += 1
        if group["maximize"]:
            g = -g
        mask = g != 0
        gv = g[mask]
        m, v = state["exp_avg"].array, state["exp_avg_sq"].array
        old_m, old_v = m[mask], v[mask]
        m_update = (gv - old_m) * dt(1 - beta1)
        m[mask] += m_update
        v_update = (gv**2 - old_v) * dt(1 - beta2)
        v[mask] += v_update
        numer = m_update + old_m
        denom = xp_of(p).sqrt(v_update + old_v) + dt(group["eps"])
        step = state["step"]
        step_size = group["lr"] * math.sqrt(1 - beta2**step) / (1 - beta1**step)
        p[mask] += dt(-step_size) * (numer / denom)

    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns closure's loss if given."""
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if len(self.state[p]) == 0:
                    self._init(p.array, self.state[p], group)
                self._update_one(p, p.array, p.grad.array, group)
        return loss
