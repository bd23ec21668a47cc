"""Reverse-mode autograd: ``Function``, the backward engine, grad mode, ``grad`` and ``gradcheck``."""

from .engine import backward, grad
from .function import BackwardNode, Function, unbroadcast
from .grad_mode import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from .gradcheck import GradcheckError, gradcheck

__all__ = [
    "BackwardNode", "Function", "GradcheckError", "backward", "enable_grad", "grad", "gradcheck",
    "inference_mode", "is_grad_enabled", "no_grad", "set_grad_enabled", "unbroadcast",
]
