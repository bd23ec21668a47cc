"""Adamax: Adam with the infinity norm (PyTorch's formulas and state)."""

from __future__ import annotations

from .._util import xp_of
from ..tensor import wrap
from ._functional import fma
from .adam import _check
from .optimizer import Optimizer, scalar_zero

__all__ = ["Adamax"]


class Adamax(Optimizer):
    """m = lerp(m, g, 1-b1); u = max(b2 u, |g| + eps); p -= lr / (1 - b1^t) * m / u."""

    def __init__(self, params, lr: float = 2e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, foreach=None, *, maximize: bool = False,
                 differentiable: bool = False, capturable: bool = False):
        _check(lr, betas, eps, weight_decay)
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        foreach=foreach, maximize=maximize, differentiable=differentiable,
                        capturable=capturable)
        super().__init__(params, defaults)

    @staticmethod
    def _init(arr, state, group):
        xp = xp_of(arr)
        state["step"] = scalar_zero()
        state["exp_avg"] = wrap(xp.zeros_like(arr))
        state["exp_inf"] = wrap(xp.zeros_like(arr))

    @staticmethod
    def _update(p, g, st, group):
        xp, dt = xp_of(p), p.dtype.type
        beta1, beta2 = group["betas"]
        if group["maximize"]:
            g = -g
        st["step"] += 1
        if group["weight_decay"] != 0:
            g = fma(g, group["weight_decay"], p)
        m, u = st["exp_avg"], st["exp_inf"]
        m += dt(1 - beta1) * (g - m)  # lerp_(g, 1 - beta1)
        u *= dt(beta2)
        xp.maximum(u, xp.abs(g) + dt(group["eps"]), out=u)
        clr = group["lr"] / (1 - beta1 ** float(st["step"]))
        p += dt(-clr) * (m / u)  # addcdiv_(m, u, value=-clr)

    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns closure's loss if given."""
        return self._step_each(closure, self._init, self._update)
