"""Conv2d (PyTorch's arguments, default init and state_dict keys)."""

from __future__ import annotations

import numpy as np

from ..._util import pair
from ...dtypes import as_dtype, get_default_dtype
from .. import init
from .module import Module, Parameter

__all__ = ["Conv2d"]


class Conv2d(Module):
    """2-D convolution over (N, C_in, H, W) (or unbatched (C_in, H, W)) input.

    Args:
        in_channels, out_channels: channel counts; both divisible by ``groups``.
        kernel_size, stride, dilation: int or pair.
        padding: int, pair, "valid" or "same".
        groups: channel groups (groups == in_channels is depthwise).
        bias: learn a per-channel bias (default True).
        padding_mode: "zeros" (default), "reflect", "replicate" or "circular".
        device, dtype: where and in what dtype to create the parameters.

    Parameters: weight (out_channels, in_channels // groups, KH, KW), bias (out_channels,).
    Init (PyTorch's): kaiming_uniform_(a=sqrt(5)) for weight, U(-1/sqrt(fan_in), +) for bias.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 device=None, dtype=None):
        super().__init__()
        if groups < 1 or in_channels % groups or out_channels % groups:
            raise ValueError(f"groups: {groups} must be positive and divide in_channels "
                             f"({in_channels}) and out_channels ({out_channels})")
        if padding_mode not in ("zeros", "reflect", "replicate", "circular"):
            raise ValueError(f"padding_mode: expected 'zeros', 'reflect', 'replicate' or "
                             f"'circular', got {padding_mode!r}")
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"padding: expected 'same' or 'valid', got {padding!r}")
            if padding == "same" and pair(stride, "stride") != (1, 1):
                raise ValueError("padding='same' is not supported for strided convolutions")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = pair(kernel_size, "kernel_size")
        self.stride = pair(stride, "stride")
        self.padding = padding if isinstance(padding, str) else pair(padding, "padding")
        self.dilation = pair(dilation, "dilation")
        self.groups = groups
        self.padding_mode = padding_mode
        self.transposed = False
        self.output_padding = (0, 0)
        dt = get_default_dtype() if dtype is None else as_dtype(dtype)
        self.weight = Parameter(np.empty(
            (out_channels, in_channels // groups) + self.kernel_size, dtype=dt))
        if bias:
            self.bias = Parameter(np.empty((out_channels,), dtype=dt))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()
        if device is not None:
            self.to(device)

    def reset_parameters(self) -> None:
        init._reset_linear_like(self.weight, self.bias)

    def _reversed_padding(self):
        if isinstance(self.padding, str):  # "same" around a non-zeros padding mode
            if self.padding == "valid":
                return (0, 0, 0, 0)
            out = []
            for d, k in zip(reversed(self.dilation), reversed(self.kernel_size)):
                total = d * (k - 1)
                out += [total // 2, total - total // 2]
            return tuple(out)
        ph, pw = self.padding
        return (pw, pw, ph, ph)

    def forward(self, input):
        from ..functional._conv import conv2d, pad

        if self.padding_mode != "zeros":
            return conv2d(pad(input, self._reversed_padding(), mode=self.padding_mode),
                          self.weight, self.bias, self.stride, 0, self.dilation, self.groups)
        return conv2d(input, self.weight, self.bias, self.stride, self.padding, self.dilation,
                      self.groups)

    def extra_repr(self) -> str:
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0, 0):
            s += f", padding={self.padding if isinstance(self.padding, str) else self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s
