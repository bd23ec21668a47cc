"""Identity, Linear (PyTorch's default init; one GEMM with fused bias) and Bilinear (one GEMM,
a product and a sum)."""

from __future__ import annotations

import math

import numpy as np

from ...dtypes import as_dtype, get_default_dtype
from .. import init
from ..functional._core import linear as _linear
from ..functional._norm import bilinear as _bilinear
from .module import Module, Parameter

__all__ = ["Identity", "Linear"]


def _factory_dtype(dtype):
    """The dtype a module creates its parameters in (``dtype=None``: the default dtype)."""
    return get_default_dtype() if dtype is None else as_dtype(dtype)


class Identity(Module):
    """Returns its input; accepts and ignores any constructor arguments."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):
        return input


class Linear(Module):
    """y = x W^T + b over the last dimension.

    Args:
        in_features, out_features: sizes of the last dimension of input and output.
        bias: learn an additive bias (default True).
        device, dtype: where and in what dtype to create the parameters.

    Shape: input (*, in_features) -> output (*, out_features).
    Init (PyTorch's): weight ~ kaiming_uniform_(a=sqrt(5)), i.e. U(-1/sqrt(in), 1/sqrt(in));
    bias ~ U(-1/sqrt(in), 1/sqrt(in)).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device=None,
                 dtype=None):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        dt = _factory_dtype(dtype)
        self.weight = Parameter(np.empty((out_features, in_features), dtype=dt))
        if bias:
            self.bias = Parameter(np.empty((out_features,), dtype=dt))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()
        if device is not None:
            self.to(device)

    def reset_parameters(self) -> None:
        init._reset_linear_like(self.weight, self.bias)

    def forward(self, input):
        return _linear(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Bilinear(Module):
    """y = x1^T A x2 + b per output feature.

    Args:
        in1_features, in2_features, out_features: sizes of x1's, x2's and y's last dimension.
        bias: learn an additive bias (default True).

    Shape: input1 (*, in1_features), input2 (*, in2_features) -> output (*, out_features).
    Init (PyTorch's): weight and bias ~ U(-1/sqrt(in1_features), 1/sqrt(in1_features)).
    """

    def __init__(self, in1_features: int, in2_features: int, out_features: int,
                 bias: bool = True, device=None, dtype=None):
        super().__init__()
        self.in1_features, self.in2_features = in1_features, in2_features
        self.out_features = out_features
        dt = _factory_dtype(dtype)
        self.weight = Parameter(np.empty((out_features, in1_features, in2_features), dtype=dt))
        if bias:
            self.bias = Parameter(np.empty((out_features,), dtype=dt))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()
        if device is not None:
            self.to(device)

    def reset_parameters(self) -> None:
        bound = 1 / math.sqrt(self.weight.shape[1])
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input1, input2):
        return _bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")


__all__ += ["Bilinear"]
