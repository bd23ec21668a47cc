"""Rprop: resilient backpropagation (PyTorch's formulas and state: prev, step_size, step)."""

from __future__ import annotations

from .._util import xp_of
from ..tensor import wrap
from .optimizer import Optimizer, check_nonneg, scalar_zero

__all__ = ["Rprop"]


class Rprop(Optimizer):
    """Per element: the step size grows by etaplus while the gradient keeps its sign, shrinks by
    etaminus when it flips (that step is skipped), clamped to step_sizes; p -= sign(g) * step."""

    def __init__(self, params, lr: float = 1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *,
                 capturable: bool = False, foreach=None, maximize: bool = False,
                 differentiable: bool = False):
        check_nonneg(lr=lr)
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]}")
        defaults = dict(lr=lr, etas=tuple(etas), step_sizes=tuple(step_sizes), foreach=foreach,
                        maximize=maximize, differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults)

    @staticmethod
    def _init(arr, state, group):
        xp = xp_of(arr)
        state["step"] = scalar_zero()
        state["prev"] = wrap(xp.zeros_like(arr))
        state["step_size"] = wrap(xp.full_like(arr, group["lr"]))

    @staticmethod
    def _update(p, g, st, group):
        xp, dt = xp_of(p), p.dtype.type
        etaminus, etaplus = group["etas"]
        lo, hi = group["step_sizes"]
        if group["maximize"]:
            g = -g
        st["step"] += 1
        prev, step_size = st["prev"], st["step_size"]
        s = xp.sign(g * prev)
        factor = xp.where(s > 0, dt(etaplus), xp.where(s < 0, dt(etaminus), dt(1)))
        step_size *= factor
        xp.clip(step_size, dt(lo), dt(hi), out=step_size)
        g = xp.where(factor == dt(etaminus), dt(0), g)
        p -= xp.sign(g) * step_size  # addcmul_(g.sign(), step_size, value=-1)
        prev[...] = g

    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns closure's loss if given."""
        return self._step_each(closure, self._init, self._update)
