"""Adafactor (PyTorch's torch.optim.Adafactor: factored second moments for >= 2-D parameters,
relative step size, update clipping by ``d``)."""

from __future__ import annotations

import numpy as np

from .._util import xp_of
from ..tensor import wrap
from .optimizer import Optimizer, scalar_zero

__all__ = ["Adafactor"]


class Adafactor(Optimizer):
    """For a matrix, row and column means of g^2 (lerped with 1 - beta2_t = t^beta2_decay)
    estimate the second moment; u = g / sqrt(max(v, eps1^2)); p -= alpha * u / max(1, RMS(u)/d)
    with alpha = max(eps2, RMS(p)) * min(lr, 1/sqrt(t))."""

    def __init__(self, params, lr: float = 1e-2, beta2_decay: float = -0.8, eps=(None, 1e-3),
                 d: float = 1.0, weight_decay: float = 0.0, *, foreach=None,
                 maximize: bool = False):
        if not 0.0 <= lr:
            raise ValueError(f"Learning rate should be >= 0 but is: {lr}")
        if not 0.0 >= beta2_decay:
            raise ValueError(f"beta2_decay should be <= 0 but is: {beta2_decay}")
        if eps[0] is not None and not 0.0 <= eps[0]:
            raise ValueError(f"epsilon1 should be >= 0 but is: {eps[0]}")
        if not 0.0 <= eps[1]:
            raise ValueError(f"epsilon2 should be >= 0 but is: {eps[1]}")
        if not 1.0 <= d:
            raise ValueError(f"Clipping threshold d should be >= 1 but is: {d}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"weight_decay should be >= 0 but is: {weight_decay}")
        defaults = dict(lr=lr, beta2_decay=beta2_decay, eps=tuple(eps), d=d,
                        weight_decay=weight_decay, foreach=foreach, maximize=maximize)
        super().__init__(params, defaults)

    @staticmethod
    def _init(arr, state, group):
        xp = xp_of(arr)
        state["step"] = scalar_zero()
        if arr.ndim > 1:
            row_shape, col_shape = list(arr.shape), list(arr.shape)
            row_shape[-1] = 1
            col_shape[-2] = 1
            state["row_var"] = wrap(xp.zeros(row_shape, dtype=arr.dtype))
            state["col_var"] = wrap(xp.zeros(col_shape, dtype=arr.dtype))
        else:
            state["variance"] = wrap(xp.zeros_like(arr))

    @staticmethod
    def _update(p, g, st, group):
        xp, dt = xp_of(p), p.dtype.type
        lr, wd, d = group["lr"], group["weight_decay"], group["d"]
        eps1, eps2 = group["eps"]
        if eps1 is None:
            eps1 = float(np.finfo(p.dtype).eps)
        if group["maximize"]:
            g = -g
        st["step"] += 1
        step = float(st["step"])
        one_minus_beta2_t = step ** group["beta2_decay"]
        rho_t = min(lr, 1 / (step**0.5))
        alpha = max(eps2, float(xp.linalg.norm(p.ravel())) / (p.size**0.5)) * rho_t
        if wd != 0:
            p *= dt(1 - lr * wd)
        w = dt(one_minus_beta2_t)
        if g.ndim > 1:
            row_var, col_var = st["row_var"], st["col_var"]
            row_mean = xp.sum(g * g, axis=-1, keepdims=True) / dt(g.shape[-1])
            row_var += w * (row_mean - row_var)
            col_mean = xp.sum(g * g, axis=-2, keepdims=True) / dt(g.shape[-2])
            col_var += w * (col_mean - col_var)
            var_estimate = row_var @ col_var
            var_estimate /= xp.maximum(row_var.mean(axis=-2, keepdims=True), dt(eps1))
        else:
            variance = st["variance"]
            variance += w * (g * g - variance)
            var_estimate = variance.copy()
        update = 1 / xp.sqrt(xp.maximum(var_estimate, dt(eps1 * eps1)))
        update *= g
        denom = max(1.0, float(xp.linalg.norm(update.ravel())) / ((update.size**0.5) * d))
        p += dt(-alpha / denom) * update

    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns closure's loss if given."""
        return self._step_each(closure, self._init, self._update)
