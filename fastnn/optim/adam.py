"""Adam (PyTorch's formulas: bias correction, eps outside the square root, amsgrad)."""

from __future__ import annotations

import numpy as np

from .._util import xp_of as _xp
from ..tensor import wrap
from ._functional import adam_step
from .optimizer import Optimizer

__all__ = ["Adam"]


def _check(lr, betas, eps, weight_decay):
    if not 0.0 <= lr:
        raise ValueError(f"Invalid learning rate: {lr}")
    if not 0.0 <= eps:
        raise ValueError(f"Invalid epsilon value: {eps}")
    if not 0.0 <= betas[0] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
    if not 0.0 <= betas[1] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
    if not 0.0 <= weight_decay:
        raise ValueError(f"Invalid weight_decay value: {weight_decay}")


class Adam(Optimizer):
    """Adam: m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
    p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)  (v -> running max with amsgrad).
    ``weight_decay`` adds weight_decay * p to g (L2; AdamW decouples it)."""

    _decoupled = False

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, amsgrad: bool = False, *, foreach=None,
                 maximize: bool = False, capturable: bool = False, differentiable: bool = False,
                 fused=None, decoupled_weight_decay: bool = False):
        _check(lr, betas, eps, weight_decay)
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        amsgrad=amsgrad, maximize=maximize, foreach=foreach,
                        capturable=capturable, differentiable=differentiable, fused=fused,
                        decoupled_weight_decay=decoupled_weight_decay or self._decoupled)
        super().__init__(params, defaults)

    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns closure's loss if given."""
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            amsgrad = group["amsgrad"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                arr = p.array
                state = self.state[p]
                if len(state) == 0:
                    xp = _xp(arr)
                    state["step"] = wrap(np.zeros((), dtype=np.float32))
                    state["exp_avg"] = wrap(xp.zeros_like(arr))
                    state["exp_avg_sq"] = wrap(xp.zeros_like(arr))
                    if amsgrad:
                        state["max_exp_avg_sq"] = wrap(xp.zeros_like(arr))
                state["step"].array += 1
                arrays = {k: v.array for k, v in state.items() if k != "step"}
                arrays["step"] = float(state["step"].array)
                adam_step(arr, p.grad.array, arrays, lr=group["lr"], beta1=beta1, beta2=beta2,
                          eps=group["eps"], weight_decay=group["weight_decay"], amsgrad=amsgrad,
                          maximize=group["maximize"],
                          decoupled=group.get("decoupled_weight_decay", self._decoupled))
        return loss
