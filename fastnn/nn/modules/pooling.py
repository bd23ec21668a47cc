"""Pooling modules (PyTorch's arguments and reprs): Max/Avg/LP pools in 1-3 D, adaptive
avg/max pools, MaxUnpool1d/2d/3d, FractionalMaxPool2d/3d."""

from __future__ import annotations

from .module import Module

__all__ = ["MaxPool1d", "MaxPool2d", "MaxPool3d", "AvgPool1d", "AvgPool2d", "AvgPool3d",
           "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d", "AdaptiveMaxPool1d",
           "AdaptiveMaxPool2d", "AdaptiveMaxPool3d", "LPPool1d", "LPPool2d", "LPPool3d",
           "MaxUnpool1d", "MaxUnpool2d", "MaxUnpool3d", "FractionalMaxPool2d",
           "FractionalMaxPool3d"]


class MaxPool2d(Module):
    """Max over kernel_size windows (stride defaults to kernel_size; padding is -inf, at most half
    the kernel; ceil_mode keeps a last partial window; return_indices also returns the argmax
    positions)."""

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False,
                 ceil_mode=False):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def forward(self, input):
        from ..functional._conv import max_pool2d

        return max_pool2d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                          ceil_mode=self.ceil_mode, return_indices=self.return_indices)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class AvgPool2d(Module):
    """Mean over kernel_size windows (count_include_pad, ceil_mode, divisor_override as in
    PyTorch)."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True, divisor_override=None):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def forward(self, input):
        from ..functional._conv import avg_pool2d

        return avg_pool2d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                          self.count_include_pad, self.divisor_override)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool2d(Module):
    """Average pooling to a fixed output_size (int or pair; None keeps the input's size)."""

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, input):
        from ..functional._conv import adaptive_avg_pool2d

        return adaptive_avg_pool2d(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


def _functional(name):
    from .. import functional

    return getattr(functional, name)


class _MaxPoolNd(MaxPool2d):
    _fn = ""

    def forward(self, input):
        return _functional(self._fn)(input, self.kernel_size, self.stride, self.padding,
                                     self.dilation, self.ceil_mode, self.return_indices)


class MaxPool1d(_MaxPoolNd):
    """Max over kernel_size windows of (N, C, L) or (C, L) input (arguments as MaxPool2d)."""

    _fn = "max_pool1d"


class MaxPool3d(_MaxPoolNd):
    """Max over kernel_size windows of (N, C, D, H, W) or (C, D, H, W) input (arguments as
    MaxPool2d, with triples)."""

    _fn = "max_pool3d"


class AvgPool1d(Module):
    """Mean over kernel_size windows of (N, C, L) or (C, L) input."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad

    def forward(self, input):
        return _functional("avg_pool1d")(input, self.kernel_size, self.stride, self.padding,
                                         self.ceil_mode, self.count_include_pad)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool3d(AvgPool2d):
    """Mean over kernel_size windows of (N, C, D, H, W) or (C, D, H, W) input (arguments as
    AvgPool2d, with triples)."""

    def forward(self, input):
        return _functional("avg_pool3d")(input, self.kernel_size, self.stride, self.padding,
                                         self.ceil_mode, self.count_include_pad,
                                         self.divisor_override)


class AdaptiveAvgPool1d(AdaptiveAvgPool2d):
    """Average pooling of (N, C, L) or (C, L) input to a fixed output_size."""

    def forward(self, input):
        return _functional("adaptive_avg_pool1d")(input, self.output_size)


class AdaptiveAvgPool3d(AdaptiveAvgPool2d):
    """Average pooling of (N, C, D, H, W) or (C, D, H, W) input to a fixed output_size (int or
    triple; None keeps that dim)."""

    def forward(self, input):
        return _functional("adaptive_avg_pool3d")(input, self.output_size)


class _AdaptiveMaxPoolNd(Module):
    _fn = ""

    def __init__(self, output_size, return_indices: bool = False):
        super().__init__()
        self.output_size = output_size
        self.return_indices = return_indices

    def forward(self, input):
        return _functional(self._fn)(input, self.output_size, self.return_indices)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveMaxPool1d(_AdaptiveMaxPoolNd):
    """Max pooling of (N, C, L) or (C, L) input to a fixed output_size."""

    _fn = "adaptive_max_pool1d"


class AdaptiveMaxPool2d(_AdaptiveMaxPoolNd):
    """Max pooling of (N, C, H, W) or (C, H, W) input to a fixed output_size."""

    _fn = "adaptive_max_pool2d"


class AdaptiveMaxPool3d(_AdaptiveMaxPoolNd):
    """Max pooling of (N, C, D, H, W) or (C, D, H, W) input to a fixed output_size."""

    _fn = "adaptive_max_pool3d"


class _LPPoolNd(Module):
    _fn = ""

    def __init__(self, norm_type: float, kernel_size, stride=None, ceil_mode: bool = False):
        super().__init__()
        self.norm_type = norm_type
        self.kernel_size = kernel_size
        self.stride = stride
        self.ceil_mode = ceil_mode

    def forward(self, input):
        return _functional(self._fn)(input, float(self.norm_type), self.kernel_size,
                                     self.stride, self.ceil_mode)

    def extra_repr(self) -> str:
        return (f"norm_type={self.norm_type}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, ceil_mode={self.ceil_mode}")


class LPPool1d(_LPPoolNd):
    """Power-average pooling (sum of x**p over each window) ** (1/p) over (N, C, L)."""

    _fn = "lp_pool1d"


class LPPool2d(_LPPoolNd):
    """Power-average pooling (sum of x**p over each window) ** (1/p) over (N, C, H, W)."""

    _fn = "lp_pool2d"


class LPPool3d(_LPPoolNd):
    """Power-average pooling (sum of x**p over each window) ** (1/p) over (N, C, D, H, W)."""

    _fn = "lp_pool3d"


class _MaxUnpoolNd(Module):
    _fn = ""

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding

    def forward(self, input, indices, output_size=None):
        return _functional(self._fn)(input, indices, self.kernel_size, self.stride,
                                     self.padding, output_size)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxUnpool1d(_MaxUnpoolNd):
    """Inverse of MaxPool1d: values to their indices in a zero output."""

    _fn = "max_unpool1d"


class MaxUnpool2d(_MaxUnpoolNd):
    """Inverse of MaxPool2d: values to their indices in a zero output."""

    _fn = "max_unpool2d"


class MaxUnpool3d(_MaxUnpoolNd):
    """Inverse of MaxPool3d: values to their indices in a zero output."""

    _fn = "max_unpool3d"


class _FractionalMaxPoolNd(Module):
    _n = 2

    def __init__(self, kernel_size, output_size=None, output_ratio=None,
                 return_indices: bool = False, _random_samples=None):
        from ..functional._conv import ntuple

        super().__init__()
        n = self._n
        self.kernel_size = ntuple(kernel_size, n, "kernel_size", 1)
        self.return_indices = return_indices
        self.register_buffer("_random_samples", _random_samples)
        self.output_size = None if output_size is None else ntuple(output_size, n,
                                                                   "output_size", 1)
        if output_ratio is not None:
            ratio = output_ratio if isinstance(output_ratio, (tuple, list)) else \
                (output_ratio,) * n
            output_ratio = tuple(float(r) for r in ratio)
        self.output_ratio = output_ratio
        if (output_size is None) == (output_ratio is None):
            raise ValueError(f"output_size, output_ratio: {type(self).__name__} needs exactly "
                             f"one of them")
        if output_ratio is not None and not all(0 < r < 1 for r in output_ratio):
            raise ValueError(f"output_ratio: must be between 0 and 1 (got {output_ratio})")

    def forward(self, input):
        return _functional(f"fractional_max_pool{self._n}d")(
            input, self.kernel_size, self.output_size, self.output_ratio, self.return_indices,
            _random_samples=self._random_samples)


class FractionalMaxPool2d(_FractionalMaxPoolNd):
    """Fractional max pooling (Graham, 2014) over (N, C, H, W) or (C, H, W) to output_size or
    output_ratio of the input; pseudo-random window starts (``_random_samples`` fixes them)."""

    _n = 2


class FractionalMaxPool3d(_FractionalMaxPoolNd):
    """Fractional max pooling over (N, C, D, H, W) or (C, D, H, W)."""

    _n = 3
