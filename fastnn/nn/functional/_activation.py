"""The long tail of torch.nn.functional's activations, composed from differentiable Tensor ops and
the activation Functions (autograd comes with them; the kinks take torch's derivatives)."""

from __future__ import annotations

import numpy as np

from ...functions.activation import ELUFunction, HardtanhFunction, SoftplusFunction
from ...functions.elementwise import where
from ...tensor import wrap
from ._core import _check_p, _get_softmax_dim, leaky_relu, softmax

__all__ = [
    "celu", "selu", "glu", "hardshrink", "softshrink", "hardsigmoid", "hardswish", "mish",
    "prelu", "rrelu", "softmin", "softsign", "tanhshrink", "threshold", "alpha_dropout",
    "feature_alpha_dropout",
]

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def celu(input, alpha: float = 1.0, inplace: bool = False):
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1))."""
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError: alpha cannot be 0 for CELU")
    # the clamp keeps exp() of the unused branch finite (inf * 0 would make the gradient nan)
    return where(input > 0, input, (input.clamp(max=0) / alpha).expm1() * alpha)


def selu(input, inplace: bool = False):
    """scale * elu(x, alpha) with the self-normalising constants."""
    return ELUFunction.apply(input, _SELU_ALPHA) * _SELU_SCALE


def glu(input, dim: int = -1):
    """a * sigmoid(b), where a and b are the two halves of ``input`` along ``dim``."""
    if input.dim() == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    d = dim + input.dim() if dim < 0 else dim
    if input.shape[d] % 2:
        raise RuntimeError(
            f"Halving dimension must be even, but dimension {d} is size {input.shape[d]}"
        )
    a, b = input.chunk(2, d)
    return a * b.sigmoid()


def hardshrink(input, lambd: float = 0.5):
    """x where |x| > lambd, else 0."""
    return where(input.abs() > lambd, input, 0.0)


def softshrink(input, lambd: float = 0.5):
    """x - lambd above lambd, x + lambd below -lambd, 0 between (= x - clamp(x, -l, l))."""
    if lambd < 0:
        raise RuntimeError(f"lambda must be in range [0, inf) for input dtype, but found {lambd}")
    return input - input.clamp(-lambd, lambd)


def hardsigmoid(input, inplace: bool = False):
    """relu6(x + 3) / 6 (gradient 0 at -3 and 3, as torch)."""
    return HardtanhFunction.apply(input + 3.0, 0.0, 6.0) / 6.0


def hardswish(input, inplace: bool = False):
    """x * relu6(x + 3) / 6 (gradient 0 at -3 and 1 at 3, as torch)."""
    return input * hardsigmoid(input)


def mish(input, inplace: bool = False):
    """x * tanh(softplus(x))."""
    return input * SoftplusFunction.apply(input, 1.0, 20.0).tanh()


def softsign(input):
    """x / (1 + |x|)."""
    return input / (input.abs() + 1.0)


def tanhshrink(input):
    """x - tanh(x)."""
    return input - input.tanh()


def threshold(input, threshold: float, value: float, inplace: bool = False):
    """x where x > threshold, else ``value``."""
    return where(input > threshold, input, float(value))


def prelu(input, weight):
    """max(0, x) + weight * min(0, x); ``weight`` has 1 or C (= input.shape[1]) elements."""
    channels = input.shape[1] if input.dim() >= 2 else 1
    n = weight.numel()
    if n != 1 and n != channels:
        raise RuntimeError(
            "Mismatch of parameter numbers and input channel size. Found parameter numbers = "
            f"{n} and channel size = {channels}."
        )
    if weight.dim() > 1:
        raise RuntimeError(f"prelu: Expected `weight` to be a scalar or 1D tensor, but got: "
                           f"ndim = {weight.dim()}")
    w = weight.reshape((n,) + (1,) * (input.dim() - 2)) if n > 1 else weight.reshape(())
    return where(input > 0, input, input * w)


def rrelu(input, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False,
          inplace: bool = False):
    """Leaky ReLU with a slope drawn from U(lower, upper) per element when training, and the
    mean slope (lower + upper) / 2 otherwise."""
    if lower > upper:
        raise RuntimeError("Lower bound should be less than or equal to the upper bound")
    if not training:
        return leaky_relu(input, (lower + upper) / 2)
    from ... import random

    x = input.array
    slope = random.generator().uniform(lower, upper, size=x.shape).astype(x.dtype)
    noise = np.where(np.asarray(x.get() if hasattr(x, "get") else x) > 0, 1, slope)  # host
    return input * _like(noise.astype(x.dtype), x)


def _like(arr, ref):
    """``arr`` (NumPy) on ``ref``'s device, as a Tensor outside autograd."""
    if not isinstance(ref, np.ndarray):
        import cupy

        arr = cupy.asarray(arr)
    return wrap(arr)


def softmin(input, dim=None, _stacklevel: int = 3, dtype=None):
    """softmax(-x) along ``dim`` (``dtype``: cast ``input`` first)."""
    if dim is None:
        dim = _get_softmax_dim("softmin", input.dim())
    if dtype is not None:
        input = input.to(dtype)
    return softmax(-input, dim)


_ALPHA = 1.7580993408473766  # -scale * alpha of SELU: the value a dropped unit takes


def _alpha_dropout(input, p, training, feature):
    _check_p(p)
    if not training or p == 0.0 or input.numel() == 0:
        return input
    if p == 1.0:
        return input * 0.0
    from ... import random

    shape = tuple(input.shape)
    if feature:
        if input.dim() < 2:
            raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
        shape = shape[:2] + (1,) * (len(shape) - 2)
    x = input.array
    keep = (random.generator().random(shape) >= p).astype(x.dtype)
    # torch's affine correction keeps the self-normalising mean 0 and variance 1
    a = 1.0 / np.sqrt((_ALPHA * _ALPHA * p + 1) * (1 - p))
    b = (keep - 1) * (_ALPHA * a) + _ALPHA * a * p
    return input * _like(keep * x.dtype.type(a), x) + _like(b.astype(x.dtype), x)


def alpha_dropout(input, p: float = 0.5, training: bool = False, inplace: bool = False):
    """Dropout that keeps SELU's self-normalisation: dropped units take the value -alpha', the
    output is affinely corrected (identity when not training)."""
    return _alpha_dropout(input, p, training, False)


def feature_alpha_dropout(input, p: float = 0.5, training: bool = False, inplace: bool = False):
    """Alpha dropout of whole channels of (N, C, ...) input."""
    return _alpha_dropout(input, p, training, True)
