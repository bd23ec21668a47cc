"""ASGD: averaged SGD (PyTorch's formulas and state: step, eta, mu, ax)."""

from __future__ import annotations

import numpy as np

from .._util import xp_of
from ..tensor import wrap
from ._functional import fma
from .optimizer import Optimizer, check_nonneg, scalar_zero

__all__ = ["ASGD"]


class ASGD(Optimizer):
    """p = p (1 - lambd eta) - eta g; ax = running average of p from step t0 on;
    eta = lr / (1 + lambd lr t)^alpha; mu = 1 / max(1, t - t0)."""

    def __init__(self, params, lr: float = 1e-2, lambd: float = 1e-4, alpha: float = 0.75,
                 t0: float = 1e6, weight_decay: float = 0, foreach=None, maximize: bool = False,
                 differentiable: bool = False, capturable: bool = False):
        check_nonneg(lr=lr, weight_decay=weight_decay)
        defaults = dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay,
                        foreach=foreach, maximize=maximize, differentiable=differentiable,
                        capturable=capturable)
        super().__init__(params, defaults)

    @staticmethod
    def _init(arr, state, group):
        state["step"] = scalar_zero()
        state["eta"] = scalar_zero(group["lr"])
        state["mu"] = scalar_zero(1.0)
        state["ax"] = wrap(xp_of(arr).zeros_like(arr))

    @staticmethod
    def _update(p, g, st, group):
        dt = p.dtype.type
        lr, lambd, alpha, t0 = group["lr"], group["lambd"], group["alpha"], group["t0"]
        if group["maximize"]:
            g = -g
        st["step"] += 1
        if group["weight_decay"] != 0:
            g = fma(g, group["weight_decay"], p)
        eta = float(st["eta"])  # the float32-rounded value, as eta.item() in PyTorch
        p *= dt(1 - lambd * eta)
        fma(p, -eta, g, out=p)
        ax, mu = st["ax"], st["mu"]
        if float(mu) != 1:
            ax += (p - ax) * mu.astype(p.dtype)
        else:
            ax[...] = p
        step = float(st["step"])
        # torch.as_tensor(python float) is float32: rounded there even if the state is float64
        st["eta"][...] = np.float32(lr / ((1 + lambd * lr * step) ** alpha))
        st["mu"][...] = np.float32(1 / max(1, step - t0))

    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns closure's loss if given."""
        return self._step_each(closure, self._init, self._update)
