"""NAdam: Adam with Nesterov momentum (PyTorch's formulas and state, incl. mu_product)."""

from __future__ import annotations

from .._util import xp_of
from ..tensor import wrap
from ._functional import fma
from .adam import _check
from .optimizer import Optimizer, scalar_zero

__all__ = ["NAdam"]


class NAdam(Optimizer):
    """mu_t = b1 (1 - 0.5 * 0.96^(t psi)); Adam's moments; p -= lr (1-mu_t)/(1-prod mu) g / d
    + lr mu_{t+1} / (1 - prod mu * mu_{t+1}) m / d with d = sqrt(v / (1-b2^t)) + eps."""

    def __init__(self, params, lr: float = 2e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, momentum_decay: float = 4e-3,
                 decoupled_weight_decay: bool = False, *, foreach=None, maximize: bool = False,
                 capturable: bool = False, differentiable: bool = False):
        _check(lr, betas, eps, weight_decay)
        if not 0.0 <= momentum_decay:
            raise ValueError(f"Invalid momentum_decay value: {momentum_decay}")
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize,
                        foreach=foreach, capturable=capturable, differentiable=differentiable)
        super().__init__(params, defaults)

    @staticmethod
    def _init(arr, state, group):
        xp = xp_of(arr)
        state["step"] = scalar_zero()
        state["mu_product"] = scalar_zero(1.0)
        state["exp_avg"] = wrap(xp.zeros_like(arr))
        state["exp_avg_sq"] = wrap(xp.zeros_like(arr))

    @staticmethod
    def _update(p, g, st, group):
        xp, dt = xp_of(p), p.dtype.type
        beta1, beta2 = group["betas"]
        lr, wd, psi = group["lr"], group["weight_decay"], group["momentum_decay"]
        if group["maximize"]:
            g = -g
        st["step"] += 1
        step = float(st["step"])
        bias_correction2 = 1 - beta2**step
        if wd != 0:
            if group["decoupled_weight_decay"]:
                p *= dt(1 - lr * wd)
            else:
                g = fma(g, wd, p)
        mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * psi)))
        mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * psi)))
        st["mu_product"] *= mu  # a float32 scalar, as PyTorch's state tensor
        mu_product = float(st["mu_product"])
        m, v = st["exp_avg"], st["exp_avg_sq"]
        m += dt(1 - beta1) * (g - m)  # lerp_(g, 1 - beta1)
        v *= dt(beta2)
        v += dt(1 - beta2) * g * g
        denom = xp.sqrt(v / dt(bias_correction2))
        denom += dt(group["eps"])
        mu_product_next = mu_product * mu_next
        p += dt(-lr * (1.0 - mu) / (1.0 - mu_product)) * (g / denom)
        p += dt(-lr * mu_next / (1.0 - mu_product_next)) * (m / denom)

    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns closure's loss if given."""
        return self._step_each(closure, self._init, self._update)
