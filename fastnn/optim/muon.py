"""Muon: momentum, then the update orthogonalised by a quintic Newton-Schulz iteration
(PyTorch's torch.optim.Muon, for 2-D parameters). PyTorch runs the iteration in bfloat16; NumPy
has no bfloat16, so each step's result is rounded to bfloat16 precision here (round to nearest
even on float32's upper 16 bits) — equal to torch's up to bfloat16 rounding, not bit for bit."""

from __future__ import annotations

import math

import numpy as np

from .._util import xp_of
from ..tensor import wrap
from .optimizer import Optimizer

__all__ = ["Muon"]

EPS = 1e-7
DEFAULT_A, DEFAULT_B, DEFAULT_C = 3.4445, -4.7750, 2.0315
DEFAULT_NS_STEPS = 5


def _bf16(a):
    """float32 values rounded to the nearest bfloat16 (ties to even), kept as float32."""
    xp = xp_of(a)
    bits = xp.ascontiguousarray(a, dtype=xp.float32).view(xp.uint32)
    rounded = (bits + (((bits >> 16) & 1) + 0x7FFF)) & 0xFFFF0000
    return rounded.astype(xp.uint32).view(xp.float32)


def _zeropower_via_newtonschulz(grad, ns_coefficients, ns_steps: int, eps: float):
    if ns_steps >= 100:
        raise ValueError("Number of steps must be less than 100 for computational efficiency")
    if grad.ndim != 2:
        raise ValueError("Input tensor gradient must be a 2D matrix")
    if len(ns_coefficients) != 3:
        raise ValueError("Coefficients must be a tuple of exactly 3 values")
    a, b, c = ns_coefficients
    x = _bf16(grad)
    tall = grad.shape[0] > grad.shape[1]
    if tall:
        x = x.T
    norm = float(_bf16(np.array([np.sqrt((x.astype(np.float64) ** 2).sum())], np.float32))[0])
    x = _bf16(x / np.float32(max(norm, eps)))
    for _ in range(ns_steps):
        gram = _bf16(x @ x.T)
        gram_update = _bf16(np.float32(b) * gram + np.float32(c) * (gram @ gram))
        x = _bf16(np.float32(a) * x + gram_update @ x)
    return x.T if tall else x


def _adjust_lr(lr, adjust_lr_fn, shape):
    rows, cols = shape[:2]
    if adjust_lr_fn is None or adjust_lr_fn == "original":
        ratio = math.sqrt(max(1, rows / cols))
    elif adjust_lr_fn == "match_rms_adamw":
        ratio = 0.2 * math.sqrt(max(rows, cols))
    else:
        ratio = 1.0
    return lr * ratio


class Muon(Optimizer):
    """b = lerp(b, g, 1 - momentum); u = lerp(g, b, momentum) (Nesterov) or b;
    p = p (1 - lr wd) - lr' NS(u), lr' = lr * sqrt(max(1, rows/cols)) (adjust_lr_fn "original")
    or 0.2 lr sqrt(max(rows, cols)) ("match_rms_adamw"). 2-D parameters only."""

    def __init__(self, params, lr: float = 1e-3, weight_decay: float = 0.1,
                 momentum: float = 0.95, nesterov: bool = True,
                 ns_coefficients=(DEFAULT_A, DEFAULT_B, DEFAULT_C), eps: float = EPS,
                 ns_steps: int = DEFAULT_NS_STEPS, adjust_lr_fn=None):
        if not 0.0 <= lr:
            raise ValueError(f"Learning rate should be >= 0 but is: {lr}")
        if not 0.0 <= momentum:
            raise ValueError(f"momentum should be >= 0 but is: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"weight decay should be >= 0 but is: {weight_decay}")
        if adjust_lr_fn is not None and adjust_lr_fn not in ("original", "match_rms_adamw"):
            raise ValueError(f"Adjust learning rate function {adjust_lr_fn} is not supported")
        defaults = dict(lr=lr, weight_decay=weight_decay, momentum=momentum, nesterov=nesterov,
                        ns_coefficients=ns_coefficients, eps=eps, ns_steps=ns_steps,
                        adjust_lr_fn=adjust_lr_fn)
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                if p.dim() != 2:
                    raise ValueError(
                        "Muon only supports 2D parameters whereas we found a parameter with "
                        f"size: {p.size()}"
                    )

    @staticmethod
    def _init(arr, state, group):
        state["momentum_buffer"] = wrap(xp_of(arr).zeros_like(arr))

    @staticmethod
    def _update(p, g, st, group):
        dt = p.dtype.type
        momentum, lr = group["momentum"], group["lr"]
        buf = st["momentum_buffer"]
        buf += dt(1 - momentum) * (g - buf)  # buf.lerp_(grad, 1 - momentum)
        update = g + dt(momentum) * (buf - g) if group["nesterov"] else buf
        update = _zeropower_via_newtonschulz(update, group["ns_coefficients"],
                                             group["ns_steps"], group["eps"])
        adjusted_lr = _adjust_lr(lr, group["adjust_lr_fn"], p.shape)
        p *= dt(1 - lr * group["weight_decay"])
        p += (dt(-adjusted_lr) * update).astype(p.dtype)

    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns closure's loss if given."""
        return self._step_each(closure, self._init, self._update)
