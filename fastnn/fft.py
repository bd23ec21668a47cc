"""``torch.fft`` over the array module's FFT (scipy.fft on CPU, which keeps single precision;
cupy.fft on GPU). Results keep torch's dtypes: float32 in gives complex64 / float32 out.

fftshift/ifftshift are rolls (differentiable). The transforms of real inputs with real outputs
(irfft*, hfft*) carry their derivative (the adjoint, from a forward rfft of the gradient); the
complex-valued results are not differentiable in fastnn (fastnn has no complex autograd).
"""

from __future__ import annotations

import numpy as np

from . import dtypes as _dt
from ._util import xp_of
from .autograd.function import Function
from .functions import shape as _sh
from .tensor import Tensor, _make

_NORMS = (None, "backward", "ortho", "forward")


def _fftmod(a):
    if xp_of(a) is not np:
        import cupy

        return cupy.fft
    import scipy.fft

    return scipy.fft


def _real_dtype(a):
    return (
        a.dtype
        if a.dtype.kind == "f"
        else (np.dtype(np.float64) if a.dtype == np.complex128 else np.dtype(np.float32))
    )


def _complex_dtype(a):
    return np.dtype(np.complex128) if _real_dtype(a) == np.float64 else np.dtype(np.complex64)


def _input(x, name):
    if not isinstance(x, Tensor):
        raise TypeError(f"fft.{name}: input must be a Tensor, got {type(x).__name__}")
    a = x.array
    if a.dtype.kind in "biu":
        a = a.astype(_dt.get_default_dtype())
    return a


def _check_norm(norm, name):
    if norm not in _NORMS:
        raise ValueError(f"fft.{name}: Invalid normalization mode: {norm}")


def _axes_sizes(a, s, dim, default_ndim):
    """(s, axes) in scipy's form from torch's (s, dim) conventions."""
    if dim is None and s is None:
        axes = tuple(range(a.ndim - default_ndim, a.ndim)) if default_ndim else None
        return None, axes
    if dim is None:
        axes = tuple(range(a.ndim - len(s), a.ndim))
    else:
        axes = (dim,) if isinstance(dim, int) else tuple(dim)
    if s is not None:
        s = tuple(a.shape[ax] if n == -1 else n for n, ax in zip(s, axes))
    return s, axes


def _c2c(fn_name, default_ndim):
    def fn(input, s=None, dim=None, norm=None, *, out=None):  # noqa: A002
        _check_norm(norm, fn_name)
        a = _input(input, fn_name)
        s_, axes = _axes_sizes(a, s, dim, default_ndim)
        y = getattr(_fftmod(a), fn_name)(a, s=s_, axes=axes, norm=norm)
        return _make(y.astype(_complex_dtype(a), copy=False), False, None, 0)

    fn.__name__ = fn_name
    return fn


def _c2c_1d(fn_name):
    def fn(input, n=None, dim=-1, norm=None, *, out=None):  # noqa: A002
        _check_norm(norm, fn_name)
        a = _input(input, fn_name)
        y = getattr(_fftmod(a), fn_name)(a, n=n, axis=dim, norm=norm)
        out_dt = _real_dtype(a) if fn_name in ("irfft", "hfft") else _complex_dtype(a)
        if fn_name in ("irfft", "hfft") and input.requires_grad and a.dtype.kind == "f":
            return _RealOut.apply(input, fn_name, (y.shape[dim],), (dim % a.ndim,), norm)
        return _make(y.astype(out_dt, copy=False), False, None, 0)

    fn.__name__ = fn_name
    return fn


def _real_out_nd(fn_name, default_ndim):
    def fn(input, s=None, dim=None, norm=None, *, out=None):  # noqa: A002
        _check_norm(norm, fn_name)
        a = _input(input, fn_name)
        s_, axes = _axes_sizes(a, s, dim, default_ndim)
        y = getattr(_fftmod(a), fn_name)(a, s=s_, axes=axes, norm=norm)
        if input.requires_grad and a.dtype.kind == "f":
            ax = tuple(range(a.ndim)) if axes is None else tuple(d % a.ndim for d in axes)
            return _RealOut.apply(input, fn_name[:-1], tuple(y.shape[d] for d in ax), ax, norm)
        return _make(y.astype(_real_dtype(a), copy=False), False, None, 0)

    fn.__name__ = fn_name
    return fn


class _RealOut(Function):
    """irfft / hfft (1-D or n-D) of a real input: y = L x with L linear and real.

    Its adjoint: with c_k the Hermitian weights (2 for the bins that stand for a conjugate
    pair, 1 for DC and Nyquist) of the last transformed dim, dL/dx = c * Re(rfftn(g)) scaled as
    the norm says, cropped or zero-padded to x's length along that dim.
    """

    @staticmethod
    def forward(ctx, x, kind, sizes, axes, norm):
        mod = _fftmod(x)
        if len(axes) == 1:
            y = getattr(mod, kind)(x, n=sizes[0], axis=axes[0], norm=norm)
        else:
            y = getattr(mod, kind + "n")(x, s=sizes, axes=axes, norm=norm)
        ctx.meta = (kind, sizes, axes, norm, x.shape)
        return y.astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        kind, sizes, axes, norm, xshape = ctx.meta
        mod = _fftmod(g)
        total = int(np.prod(sizes))
        # the adjoint of an inverse transform is a forward transform with the inverse scaling
        scale = {None: 1.0 / total, "backward": 1.0 / total, "ortho": total**-0.5, "forward": 1.0}[
            norm
        ]
        if kind == "hfft":  # hfft = conj-symmetric forward transform: scaled as a forward one
            scale = {None: 1.0, "backward": 1.0, "ortho": total**-0.5, "forward": 1.0 / total}[norm]
        spec = (
            mod.rfftn(g, s=sizes, axes=axes, norm="backward")
            if len(axes) > 1
            else mod.rfft(g, n=sizes[0], axis=axes[0], norm="backward")
        )
        # the e^{+i} of irfft vs the e^{-i} of rfft: the real parts agree
        last = axes[-1]
        m = spec.shape[last]
        w = np.full(m, 2.0)
        w[0] = 1.0
        if sizes[-1] % 2 == 0:
            w[-1] = 1.0
        shape = [1] * g.ndim
        shape[last] = m
        gx = (spec.real * w.reshape(shape)) * scale
        # crop / pad to x's shape along the transformed dims
        for ax in axes:
            n_in, n_now = xshape[ax], gx.shape[ax]
            if n_now > n_in:
                gx = np.take(gx, np.arange(n_in), axis=ax)
            elif n_now < n_in:
                pad = [(0, 0)] * gx.ndim
                pad[ax] = (0, n_in - n_now)
                gx = np.pad(gx, pad)
        return gx.astype(g.dtype, copy=False), None, None, None, None


fft = _c2c_1d("fft")
ifft = _c2c_1d("ifft")
rfft = _c2c_1d("rfft")
irfft = _c2c_1d("irfft")
hfft = _c2c_1d("hfft")
ihfft = _c2c_1d("ihfft")
fft2 = _c2c("fft2", 2)
ifft2 = _c2c("ifft2", 2)
rfft2 = _c2c("rfft2", 2)
ihfft2 = _c2c("ihfft2", 2)
fftn = _c2c("fftn", 0)
ifftn = _c2c("ifftn", 0)
rfftn = _c2c("rfftn", 0)
ihfftn = _c2c("ihfftn", 0)
irfft2 = _real_out_nd("irfft2", 2)
hfft2 = _real_out_nd("hfft2", 2)
irfftn = _real_out_nd("irfftn", 0)
hfftn = _real_out_nd("hfftn", 0)


def fftshift(input, dim=None):  # noqa: A002
    dims = (
        tuple(range(input.array.ndim))
        if dim is None
        else ((dim,) if isinstance(dim, int) else tuple(dim))
    )
    return _sh.roll(input, [input.array.shape[d] // 2 for d in dims], dims)


def ifftshift(input, dim=None):  # noqa: A002
    dims = (
        tuple(range(input.array.ndim))
        if dim is None
        else ((dim,) if isinstance(dim, int) else tuple(dim))
    )
    return _sh.roll(input, [-(input.array.shape[d] // 2) for d in dims], dims)


def fftfreq(n, d=1.0, *, dtype=None, device=None, requires_grad=False):
    return _make(
        np.fft.fftfreq(n, d).astype(dtype or _dt.get_default_dtype()), requires_grad, None, 0
    )


def rfftfreq(n, d=1.0, *, dtype=None, device=None, requires_grad=False):
    return _make(
        np.fft.rfftfreq(n, d).astype(dtype or _dt.get_default_dtype()), requires_grad, None, 0
    )
