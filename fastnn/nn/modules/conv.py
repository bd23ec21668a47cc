"""Convolution modules (PyTorch's arguments, default init and state_dict keys): Conv1d/2d/3d,
ConvTranspose1d/2d/3d and their Lazy variants (in_channels inferred on the first call)."""

from __future__ import annotations

import numpy as np

from ...dtypes import as_dtype, get_default_dtype
from .. import init
from .module import Module, Parameter, _set_array

__all__ = ["Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d",
           "LazyConv1d", "LazyConv2d", "LazyConv3d", "LazyConvTranspose1d",
           "LazyConvTranspose2d", "LazyConvTranspose3d", "UninitializedParameter"]


class _ConvNd(Module):
    _n = 2

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 device=None, dtype=None, transposed: bool = False, output_padding=0):
        from ..functional._conv import ntuple

        super().__init__()
        n = self._n
        if groups < 1 or in_channels % groups or out_channels % groups:
            raise ValueError(f"groups: {groups} must be positive and divide in_channels "
                             f"({in_channels}) and out_channels ({out_channels})")
        if padding_mode not in ("zeros", "reflect", "replicate", "circular"):
            raise ValueError(f"padding_mode: expected 'zeros', 'reflect', 'replicate' or "
                             f"'circular', got {padding_mode!r}")
        if transposed and padding_mode != "zeros":
            raise ValueError(f"padding_mode: only 'zeros' is supported for "
                             f"{type(self).__name__}, got {padding_mode!r}")
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"padding: expected 'same' or 'valid', got {padding!r}")
            if padding == "same" and ntuple(stride, n, "stride") != (1,) * n:
                raise ValueError("padding='same' is not supported for strided convolutions")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = ntuple(kernel_size, n, "kernel_size", 1)
        self.stride = ntuple(stride, n, "stride", 1)
        self.padding = padding if isinstance(padding, str) else ntuple(padding, n, "padding", 0)
        self.dilation = ntuple(dilation, n, "dilation", 1)
        self.groups = groups
        self.padding_mode = padding_mode
        self.transposed = transposed
        self.output_padding = ntuple(output_padding, n, "output_padding", 0)
        dt = get_default_dtype() if dtype is None else as_dtype(dtype)
        shape = ((in_channels, out_channels // groups) if transposed
                 else (out_channels, in_channels // groups))
        self.weight = Parameter(np.empty(shape + self.kernel_size, dtype=dt))
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
                return (0, 0) * self._n
            out = []
            for d, k in zip(reversed(self.dilation), reversed(self.kernel_size)):
                total = d * (k - 1)
                out += [total // 2, total - total // 2]
            return tuple(out)
        return tuple(p for p in reversed(self.padding) for _ in (0, 1))

    def _conv(self, input, fn):
        from ..functional._conv import pad

        if self.padding_mode != "zeros":
            return fn(pad(input, self._reversed_padding(), mode=self.padding_mode), self.weight,
                      self.bias, self.stride, 0, self.dilation, self.groups)
        return fn(input, self.weight, self.bias, self.stride, self.padding, self.dilation,
                  self.groups)

    def extra_repr(self) -> str:
        n = self._n
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0,) * n:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * n:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * n:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class Conv1d(_ConvNd):
    """1-D convolution over (N, C_in, L) (or unbatched (C_in, L)) input; arguments as Conv2d.

    Parameters: weight (out_channels, in_channels // groups, K), bias (out_channels,).
    """

    _n = 1

    def forward(self, input):
        from ..functional._conv import conv1d

        return self._conv(input, conv1d)


class Conv2d(_ConvNd):
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

    def forward(self, input):
        from ..functional._conv import conv2d, pad

        if self.padding_mode != "zeros":
            return conv2d(pad(input, self._reversed_padding(), mode=self.padding_mode),
                          self.weight, self.bias, self.stride, 0, self.dilation, self.groups)
        return conv2d(input, self.weight, self.bias, self.stride, self.padding, self.dilation,
                      self.groups)


class Conv3d(_ConvNd):
    """3-D convolution over (N, C_in, D, H, W) (or unbatched (C_in, D, H, W)) input; arguments
    as Conv2d with triples. Parameters: weight (out_channels, in_channels // groups, KD, KH, KW),
    bias (out_channels,)."""

    _n = 3

    def forward(self, input):
        from ..functional._conv import conv3d

        return self._conv(input, conv3d)


class _ConvTransposeNd(_ConvNd):
    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 output_padding=0, groups: int = 1, bias: bool = True, dilation=1,
                 padding_mode: str = "zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, device, dtype, True, output_padding)

    def _output_padding(self, input, output_size):
        """output_padding, or the one that makes the output ``output_size`` (PyTorch's rule)."""
        if output_size is None:
            return self.output_padding
        n = self._n
        output_size = [int(s) for s in output_size]
        lead = input.ndim - n
        if len(output_size) == n + lead:
            output_size = output_size[lead:]
        if len(output_size) != n:
            raise ValueError(f"output_size: expected {n} or {n + lead} elements, got "
                             f"{len(output_size)}")
        out = []
        for d in range(n):
            low = ((input.shape[lead + d] - 1) * self.stride[d] - 2 * self.padding[d]
                   + self.dilation[d] * (self.kernel_size[d] - 1) + 1)
            if not low <= output_size[d] < low + self.stride[d]:
                raise ValueError(f"output_size: requested {output_size} is not in the valid "
                                 f"range [{low}, {low + self.stride[d] - 1}] along dim {d}")
            out.append(output_size[d] - low)
        return tuple(out)

    def forward(self, input, output_size=None):
        from ..functional import _conv

        fn = getattr(_conv, f"conv_transpose{self._n}d")
        return fn(input, self.weight, self.bias, self.stride, self.padding,
                  self._output_padding(input, output_size), self.groups, self.dilation)


class ConvTranspose1d(_ConvTransposeNd):
    """1-D transposed convolution (the adjoint of Conv1d) over (N, C_in, L) or (C_in, L).
    Parameters: weight (in_channels, out_channels // groups, K), bias (out_channels,)."""

    _n = 1


class ConvTranspose2d(_ConvTransposeNd):
    """2-D transposed convolution (the adjoint of Conv2d) over (N, C_in, H, W) or (C_in, H, W);
    output size (H - 1) * stride - 2 * padding + dilation * (KH - 1) + output_padding + 1.
    Parameters: weight (in_channels, out_channels // groups, KH, KW), bias (out_channels,)."""

    _n = 2


class ConvTranspose3d(_ConvTransposeNd):
    """3-D transposed convolution over (N, C_in, D, H, W) or (C_in, D, H, W).
    Parameters: weight (in_channels, out_channels // groups, KD, KH, KW), bias (out_channels,)."""

    _n = 3


# ----------------------------------------------------------------------------------------- lazy
class UninitializedParameter(Parameter):
    """A parameter whose shape is not known yet (LazyModules); ``materialize(shape)`` gives it
    one and turns it into a plain Parameter."""

    def materialize(self, shape, dtype=None) -> None:
        arr = self.array
        _set_array(self, np.empty(tuple(shape), dtype=arr.dtype if dtype is None else dtype))
        self.__class__ = Parameter

    def __repr__(self):
        return "<UninitializedParameter>"


class _LazyConvMixin:
    """in_channels comes from the first input (dim 1, or dim 0 when unbatched); until then the
    weight and bias are UninitializedParameters. The first call (or a load_state_dict with
    shapes) materializes them, and the module becomes its non-lazy class (PyTorch's
    cls_to_become)."""

    cls_to_become = None

    def __init__(self, out_channels, kernel_size, *args, **kwargs):
        super().__init__(0, out_channels, kernel_size, *args, **kwargs)
        dt = self.weight.array.dtype
        self.weight = UninitializedParameter(np.empty((0,), dtype=dt))
        if self.bias is not None:
            self.bias = UninitializedParameter(np.empty((0,), dtype=dt))

    def reset_parameters(self) -> None:
        if not self.has_uninitialized_params() and self.in_channels != 0:
            super().reset_parameters()

    def has_uninitialized_params(self) -> bool:
        return any(isinstance(p, UninitializedParameter) for p in self._parameters.values())

    def _weight_shape(self):
        g = self.groups
        lead = ((self.in_channels, self.out_channels // g) if self.transposed
                else (self.out_channels, self.in_channels // g))
        return lead + self.kernel_size

    def initialize_parameters(self, input) -> None:
        if not self.has_uninitialized_params():
            return
        self.in_channels = int(input.shape[0 if input.ndim == self._n + 1 else 1])
        if self.in_channels % self.groups:
            raise ValueError(f"input: {self.in_channels} channels are not divisible by "
                             f"groups={self.groups}")
        self.weight.materialize(self._weight_shape())
        if self.bias is not None:
            self.bias.materialize((self.out_channels,))
        self.reset_parameters()

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        for name, param in self._parameters.items():
            src = state_dict.get(prefix + name)
            if isinstance(param, UninitializedParameter) and src is not None:
                param.materialize(tuple(src.shape))
        w = self._parameters.get("weight")
        if self.in_channels == 0 and not isinstance(w, UninitializedParameter):
            self.in_channels = w.shape[0] if self.transposed else w.shape[1] * self.groups
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def forward(self, input, *args, **kwargs):
        self.initialize_parameters(input)
        self.__class__ = self.cls_to_become
        return self.forward(input, *args, **kwargs)


class LazyConv1d(_LazyConvMixin, Conv1d):
    """Conv1d whose in_channels is inferred from the first input."""

    cls_to_become = Conv1d


class LazyConv2d(_LazyConvMixin, Conv2d):
    """Conv2d whose in_channels is inferred from the first input."""

    cls_to_become = Conv2d


class LazyConv3d(_LazyConvMixin, Conv3d):
    """Conv3d whose in_channels is inferred from the first input."""

    cls_to_become = Conv3d


class LazyConvTranspose1d(_LazyConvMixin, ConvTranspose1d):
    """ConvTranspose1d whose in_channels is inferred from the first input."""

    cls_to_become = ConvTranspose1d


class LazyConvTranspose2d(_LazyConvMixin, ConvTranspose2d):
    """ConvTranspose2d whose in_channels is inferred from the first input."""

    cls_to_become = ConvTranspose2d


class LazyConvTranspose3d(_LazyConvMixin, ConvTranspose3d):
    """ConvTranspose3d whose in_channels is inferred from the first input."""

    cls_to_become = ConvTranspose3d
