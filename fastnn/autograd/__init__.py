"""Reverse-mode autograd: ``Function``, the backward engine, grad modes, ``grad``, ``gradcheck``."""

from .engine import backward, grad
from .function import BackwardNode, Function, unbroadcast
from .grad_mode import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from .gradcheck import GradcheckError, gradcheck


def Variable(data, requires_grad=False, volatile=False):  # noqa: N802 - PyTorch's legacy name
    """Legacy ``torch.autograd.Variable``: a Tensor (``requires_grad`` set on a leaf)."""
    return data.detach().requires_grad_(requires_grad) if requires_grad else data


__all__ = [
    "Variable",
    "BackwardNode",
    "Function",
    "GradcheckError",
    "backward",
    "enable_grad",
    "grad",
    "gradcheck",
    "inference_mode",
    "is_grad_enabled",
    "no_grad",
    "set_grad_enabled",
    "unbroadcast",
]
