"""Activation Functions the Tensor ops do not already cover: GELU (exact and tanh), LeakyReLU,
ELU, SiLU, Softplus. Forward and backward side by side, on NumPy or CuPy arrays."""

from __future__ import annotations

import math

import numpy as np

from .._util import xp_of
from ..autograd import Function
from ..ops import eltwise

__all__ = [
    "GELUFunction", "LeakyReLUFunction", "ELUFunction", "SiLUFunction", "SoftplusFunction",
    "HardtanhFunction",
]

_SQRT_HALF = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_TANH_K = math.sqrt(2.0 / math.pi)
_erf_ufunc = None


def erf(x):
    """Elementwise erf in x's dtype: a cached Numba ufunc over math.erf on the CPU (exact, fast),
    cupyx.scipy.special.erf on CUDA."""
    global _erf_ufunc
    if xp_of(x) is not np:
        from cupyx.scipy.special import erf as cupy_erf

        return cupy_erf(x)
    if _erf_ufunc is None:
        import numba

        @numba.vectorize(["float32(float32)", "float64(float64)"], cache=True)
        def _erf(v):
            return math.erf(v)

        _erf_ufunc = _erf
    return _erf_ufunc(x)


# Numerical Recipes' Chebyshev fit: erfc(z) = t exp(-z^2 + P(t)), t = 1 / (1 + z/2), z >= 0, with
# relative error < 1.2e-7 everywhere (so the far tails of the normal CDF stay accurate).
_ERFC_COEFFS = (-1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806, 0.27886807,
                -1.13520398, 1.48851587, -0.82215223, 0.17087277)


def _normal_cdf(x):
    """Phi(x) = 0.5 erfc(-x / sqrt(2)) in x's dtype. float32 on the CPU: the vectorised erfc fit
    above (~20 NumPy passes instead of a scalar libm erf per element: 7.7 ms -> ~1 ms for 262k
    elements here); float64 and CUDA: exact erf."""
    if x.ndim == 0:  # the in-place passes below need an array, not a NumPy scalar
        return _normal_cdf(x.reshape(1)).reshape(())
    if x.dtype != np.float32 or xp_of(x) is not np:
        return x.dtype.type(0.5) * (x.dtype.type(1) + erf(x * x.dtype.type(_SQRT_HALF)))
    f = np.float32
    z = np.abs(x)  # three buffers in all: fresh 1 MB arrays cost page faults on this machine
    z *= f(_SQRT_HALF)
    t = np.multiply(z, f(0.5))
    t += f(1)
    np.reciprocal(t, out=t)
    p = np.multiply(t, f(_ERFC_COEFFS[9]))
    for c in _ERFC_COEFFS[8:0:-1]:
        p += f(c)
        p *= t
    p += f(_ERFC_COEFFS[0])
    z *= z
    p -= z
    np.exp(p, out=p)
    p *= t
    p *= f(0.5)  # 0.5 erfc(|x| / sqrt 2) = Phi(-|x|)
    # Phi(x) = p where x < 0, 1 - p where x > 0: p + step(x) (1 - 2p), exact for the negative
    # tail (a masked ufunc, where=, is ~50x slower here)
    np.sign(x, out=z)
    np.maximum(z, f(0), out=z)
    np.multiply(p, f(-2), out=t)
    t += f(1)
    t *= z
    p += t
    return p


def _sigmoid(x):
    xp = xp_of(x)
    # 0.5 * (1 + tanh(x / 2)) is the logistic function without overflow for any x
    return x.dtype.type(0.5) * (xp.tanh(x * x.dtype.type(0.5)) + x.dtype.type(1))


class GELUFunction(Function):
    """GELU: x * Phi(x) ("none"; Phi from ``_normal_cdf``) or PyTorch's tanh approximation
    ("tanh"). Backward: Phi(x) + x phi(x), or the derivative of the tanh form. Float32 NumPy
    arrays run the one-pass C++ kernels (``fastnn.ops.eltwise``) when the cpp backend is
    selected; the NumPy/CuPy code below is their reference and every other array's path."""

    @staticmethod
    def forward(ctx, x, approximate="none"):
        xp = xp_of(x)
        ctx.approximate = approximate
        if eltwise.lib_for(x) is not None:
            ctx.save_for_backward(x, None)
            return eltwise.gelu_forward(x, approximate)
        if approximate == "tanh":
            ctx.save_for_backward(x, None)
            one, half = x.dtype.type(1), x.dtype.type(0.5)
            inner = x.dtype.type(_TANH_K) * (x + x.dtype.type(0.044715) * x * x * x)
            return half * x * (one + xp.tanh(inner))
        cdf = _normal_cdf(x)
        ctx.save_for_backward(x, cdf)
        return x * cdf

    @staticmethod
    def backward(ctx, grad):
        xp = xp_of(grad)
        x, cdf = ctx.saved_tensors
        if eltwise.lib_for(grad, x) is not None:
            return eltwise.gelu_backward(grad, x, ctx.approximate), None
        if ctx.approximate == "tanh":
            dt = x.dtype.type
            one, half = dt(1), dt(0.5)
            x2 = x * x
            t = xp.tanh(dt(_TANH_K) * (x + dt(0.044715) * x2 * x))
            d = half * (one + t) + half * x * (one - t * t) * dt(_TANH_K) * (
                one + dt(3 * 0.044715) * x2
            )
            return grad * d, None
        if cdf is None:  # forward ran the C++ kernel
            cdf = _normal_cdf(x)
        if x.ndim == 0:  # 0-d products are NumPy scalars, which out= cannot take
            x, cdf = x.reshape(1), cdf.reshape(1)
        dt = x.dtype.type
        d = x * x  # one buffer: ((exp(-x^2/2) * x / sqrt(2 pi)) + Phi) * grad
        d *= dt(-0.5)
        xp.exp(d, out=d)
        d *= x
        d *= dt(_INV_SQRT_2PI)
        d += cdf
        d *= grad
        return d.reshape(grad.shape), None


class LeakyReLUFunction(Function):
    """max(0, x) + negative_slope * min(0, x); the gradient at 0 is negative_slope (PyTorch)."""

    @staticmethod
    def forward(ctx, x, negative_slope=0.01):
        xp = xp_of(x)
        pos = x > 0
        ctx.save_for_backward(pos)
        ctx.slope = x.dtype.type(negative_slope)
        return xp.where(pos, x, x * ctx.slope)

    @staticmethod
    def backward(ctx, grad):
        (pos,) = ctx.saved_tensors
        return xp_of(grad).where(pos, grad, grad * ctx.slope), None


class ELUFunction(Function):
    """x if x > 0 else alpha * (exp(x) - 1)."""

    @staticmethod
    def forward(ctx, x, alpha=1.0):
        xp = xp_of(x)
        a = x.dtype.type(alpha)
        y = xp.where(x > 0, x, a * xp.expm1(xp.minimum(x, 0)))
        ctx.save_for_backward(x, y)
        ctx.alpha = a
        return y

    @staticmethod
    def backward(ctx, grad):
        x, y = ctx.saved_tensors
        return xp_of(x).where(x > 0, grad, grad * (y + ctx.alpha)), None


class SiLUFunction(Function):
    """x * sigmoid(x)."""

    @staticmethod
    def forward(ctx, x):
        s = _sigmoid(x)
        ctx.save_for_backward(x, s)
        return x * s

    @staticmethod
    def backward(ctx, grad):
        x, s = ctx.saved_tensors
        return grad * (s * (x.dtype.type(1) + x * (x.dtype.type(1) - s)))


class SoftplusFunction(Function):
    """log(1 + exp(beta * x)) / beta, linear where beta * x > threshold (PyTorch)."""

    @staticmethod
    def forward(ctx, x, beta=1.0, threshold=20.0):
        xp = xp_of(x)
        bx = x * x.dtype.type(beta)
        ctx.save_for_backward(bx)
        ctx.params = (beta, threshold)
        soft = (xp.maximum(bx, 0) + xp.log1p(xp.exp(-xp.abs(bx)))) / x.dtype.type(beta)
        return xp.where(bx > threshold, x, soft)

    @staticmethod
    def backward(ctx, grad):
        (bx,) = ctx.saved_tensors
        beta, threshold = ctx.params
        return xp_of(bx).where(bx > threshold, grad, grad * _sigmoid(bx)), None, None


class HardtanhFunction(Function):
    """clamp(x, min_val, max_val); unlike clamp, the gradient is 0 at the boundaries (PyTorch's
    hardtanh/relu6)."""

    @staticmethod
    def forward(ctx, x, min_val=-1.0, max_val=1.0):
        xp = xp_of(x)
        ctx.save_for_backward((x > min_val) & (x < max_val))
        return xp.clip(x, x.dtype.type(min_val), x.dtype.type(max_val))

    @staticmethod
    def backward(ctx, grad):
        (inside,) = ctx.saved_tensors
        return grad * inside, None, None
