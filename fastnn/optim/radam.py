"""RAdam: rectified Adam (PyTorch's formulas and state)."""

from __future__ import annotations

import math

from .._util import xp_of
from ..tensor import wrap
from ._functional import fma
from .adam import _check
from .optimizer import Optimizer, scalar_zero

__all__ = ["RAdam"]


class RAdam(Optimizer):
    """Adam's moments; while the variance's degrees of freedom rho_t <= 5 an SGD-with-momentum
    step lr * m / (1 - b1^t), after that Adam's step times the rectification term."""

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, decoupled_weight_decay: bool = False, *, foreach=None,
                 maximize: bool = False, capturable: bool = False, differentiable: bool = False):
        _check(lr, betas, eps, weight_decay)
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        maximize=maximize, foreach=foreach, capturable=capturable,
                        decoupled_weight_decay=decoupled_weight_decay,
                        differentiable=differentiable)
        super().__init__(params, defaults)

    @staticmethod
    def _init(arr, state, group):
        xp = xp_of(arr)
        state["step"] = scalar_zero()
        state["exp_avg"] = wrap(xp.zeros_like(arr))
        state["exp_avg_sq"] = wrap(xp.zeros_like(arr))

    @staticmethod
    def _update(p, g, st, group):
        xp, dt = xp_of(p), p.dtype.type
        beta1, beta2 = group["betas"]
        lr, wd = group["lr"], group["weight_decay"]
        if group["maximize"]:
            g = -g
        st["step"] += 1
        step = float(st["step"])
        if wd != 0:
            if group["decoupled_weight_decay"]:
                p *= dt(1 - lr * wd)
            else:
                g = fma(g, wd, p)
        m, v = st["exp_avg"], st["exp_avg_sq"]
        m += dt(1 - beta1) * (g - m)
        v *= dt(beta2)
        v += dt(1 - beta2) * g * g
        bias_correction1 = 1 - beta1**step
        bias_correction2 = 1 - beta2**step
        corrected = m / dt(bias_correction1)
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * step * (beta2**step) / bias_correction2
        if rho_t > 5.0:
            rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf
                             / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            adaptive = dt(bias_correction2**0.5) / (xp.sqrt(v) + dt(group["eps"]))
            p -= corrected * dt(lr) * adaptive * dt(rect)
        else:
            p -= corrected * dt(lr)

    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns closure's loss if given."""
        return self._step_each(closure, self._init, self._update)
