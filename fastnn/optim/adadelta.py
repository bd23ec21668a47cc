"""Adadelta (PyTorch's formulas and state: square_avg, acc_delta, step)."""

from __future__ import annotations

from .._util import xp_of
from ..tensor import wrap
from ._functional import fma
from .optimizer import Optimizer, check_nonneg, scalar_zero

__all__ = ["Adadelta"]


class Adadelta(Optimizer):
    """v = rho v + (1-rho) g^2; delta = sqrt(u + eps) / sqrt(v + eps) * g;
    u = rho u + (1-rho) delta^2; p -= lr * delta."""

    def __init__(self, params, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0, foreach=None, *, capturable: bool = False,
                 maximize: bool = False, differentiable: bool = False):
        check_nonneg(lr=lr, eps=eps, weight_decay=weight_decay)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
                        capturable=capturable, foreach=foreach, differentiable=differentiable)
        super().__init__(params, defaults)

    @staticmethod
    def _init(arr, state, group):
        xp = xp_of(arr)
        state["step"] = scalar_zero()
        state["square_avg"] = wrap(xp.zeros_like(arr))
        state["acc_delta"] = wrap(xp.zeros_like(arr))

    @staticmethod
    def _update(p, g, st, group):
        xp, dt = xp_of(p), p.dtype.type
        rho, eps = group["rho"], group["eps"]
        st["step"] += 1
        if group["maximize"]:
            g = -g
        if group["weight_decay"] != 0:
            g = fma(g, group["weight_decay"], p)
        sq, acc = st["square_avg"], st["acc_delta"]
        sq *= dt(rho)
        sq += dt(1 - rho) * g * g
        std = xp.sqrt(sq + dt(eps))
        delta = xp.sqrt(acc + dt(eps))
        delta /= std
        delta *= g
        acc *= dt(rho)
        acc += dt(1 - rho) * delta * delta
        fma(p, -group["lr"], delta, out=p)

    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns closure's loss if given."""
        return self._step_each(closure, self._init, self._update)
