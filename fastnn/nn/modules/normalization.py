"""LayerNorm (PyTorch's; one fused Function forward and backward)."""

from __future__ import annotations

import numbers

import numpy as np

from .. import functional as F
from .. import init
from .linear import _factory_dtype
from .module import Module, Parameter

__all__ = ["LayerNorm"]


class LayerNorm(Module):
    """Normalise over the trailing ``normalized_shape`` dims, then ``* weight + bias``.

    Args:
        normalized_shape: int or tuple, the trailing dims to normalise over.
        eps: added to the variance (default 1e-5).
        elementwise_affine: learn weight (ones) and bias (zeros) of that shape.
        bias: learn the bias (with elementwise_affine).
    """

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, device=None, dtype=None):
        super().__init__()
        if isinstance(normalized_shape, numbers.Integral):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        dt = _factory_dtype(dtype)
        if elementwise_affine:
            self.weight = Parameter(np.empty(self.normalized_shape, dtype=dt))
            if bias:
                self.bias = Parameter(np.empty(self.normalized_shape, dtype=dt))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        self.reset_parameters()
        if device is not None:
            self.to(device)

    def reset_parameters(self) -> None:
        if self.elementwise_affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def forward(self, input):
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}")
