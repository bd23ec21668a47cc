"""Adam (PyTorch's formulas: bias correction, eps outside the square root, amsgrad)."""

from __future__ import annotations

import numpy as np

from .._util import xp_of as _xp
from ..tensor import wrap
from ._functional import adam_multi_step, adam_step, multi_tensor_lib, multi_tensor_ok
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
            kw = dict(lr=group["lr"], beta1=beta1, beta2=beta2, eps=group["eps"],
                      weight_decay=group["weight_decay"], amsgrad=amsgrad,
                      maximize=group["maximize"],
                      decoupled=group.get("decoupled_weight_decay", self._decoupled))
            lib = multi_tensor_lib()
            multi = ([], [], [], [], [], [])  # params, grads, exp_avgs, sqs, maxes, steps
            batched = set()  # ids of the arrays in `multi`
            for p in group["params"]:
                if p.grad is None:
                    continue
                arr = p.array
                if id(arr) in batched:  # a duplicate parameter updates twice, in order (torch)
                    adam_multi_step(lib, *multi[:4], multi[4] if amsgrad else [], multi[5], **kw)
                    for lst in multi:
                        lst.clear()
                    batched.clear()
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
                step = float(state["step"].array)
                g = p.grad.array
                mx = arrays.get("max_exp_avg_sq") if amsgrad else None
                if lib is not None and multi_tensor_ok(
                    arr, g, arrays["exp_avg"], arrays["exp_avg_sq"], *([mx] if amsgrad else [])
                ):
                    for lst, a in zip(multi, (arr, g, arrays["exp_avg"], arrays["exp_avg_sq"],
                                              mx, step)):
                        lst.append(a)
                    batched.add(id(arr))
                    continue
                arrays["step"] = step
                adam_step(arr, g, arrays, **kw)
            if multi[0]:  # one C++ call for the group, bit-identical to adam_step
                maxes = multi[4] if amsgrad else []
                adam_multi_step(lib, *multi[:4], maxes, multi[5], **kw)
        return loss
