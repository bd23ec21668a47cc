"""The elementwise long tail as table rows: each op is its forward and, beside it, its derivative
(torch's derivatives.yaml, one line per input), written against the array module so CuPy arrays
take the same path (NumPy ufuncs dispatch to CuPy; scipy.special's go through ``_special``).

``UNARY``: name -> (forward(x), d(g, x, y)) or (forward, None) for a non-differentiable op.
``BINARY``: name -> (forward(a, b), d_a(g, a, b, y), d_b(g, a, b, y)); either derivative may be
None (the op is not differentiable in that input, as in torch).
Rows become Function classes with ``elementwise._unary`` / ``_binary_cls`` once, at import.
"""

from __future__ import annotations

import collections
import math

import numpy as np

from .. import dtypes as _dt
from .._util import xp_of
from ..autograd.function import Function, unbroadcast
from ..tensor import Tensor, _make, result_type
from . import elementwise as ew


def _special(x):
    """scipy.special, or cupyx.scipy.special for a CuPy array."""
    if xp_of(x) is not np:
        import cupyx.scipy.special as sp

        return sp
    import scipy.special as sp

    return sp


def _like(y, x):
    """``y`` in ``x``'s dtype (scipy's loops may widen float32 to float64)."""
    dt = getattr(x, "dtype", None)
    if dt is not None and getattr(y, "dtype", dt) != dt and dt.kind in "fc":
        return y.astype(dt, copy=False)
    return y


def _sp(name):
    def fwd(x):
        return _like(getattr(_special(x), name)(x), x)

    return fwd


_PI = math.pi
_SQRT_PI = math.sqrt(math.pi)
_SQRT_2PI = math.sqrt(2 * math.pi)


def _where0(cond, v):
    return np.where(cond, v.dtype.type(0), v)


def _sinc(x):
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sinc(x)


def _d_sinc(g, x, y):
    px = _PI * x
    with np.errstate(invalid="ignore", divide="ignore"):
        d = (np.cos(px) * px - np.sin(px)) / (px * x)
    return g * _where0(x == 0, d)


def _entr(x):
    with np.errstate(invalid="ignore", divide="ignore"):
        return _like(_special(x).entr(x), x)


def _d_entr(g, x, y):
    with np.errstate(divide="ignore"):
        return g * -(np.log(x) + 1)


def _i1(x):
    return _like(_special(x).i1(x), x)


def _d_i1(g, x, y):
    sp = _special(x)
    with np.errstate(invalid="ignore", divide="ignore"):
        d = _like(sp.i0(x), x) - y / x
    return g * np.where(x == 0, x.dtype.type(0.5), d)


def _d_i1e(g, x, y):
    sp = _special(x)
    with np.errstate(invalid="ignore", divide="ignore"):
        d = _like(sp.i0e(x), x) - y * (np.sign(x) + 1 / x)
    return g * np.where(x == 0, x.dtype.type(0.5), d)


def _d_log_ndtr(g, x, y):
    # derivatives.yaml's order of evaluation: exp(-(y + x^2 / 2)) / sqrt(2 pi)
    return g / g.dtype.type(_SQRT_2PI) * np.exp(-(y + x * x / 2))


# name: (forward, derivative(g, x, y)); x is always floating here
UNARY = {
    "acos": (np.arccos, lambda g, x, y: -g / np.sqrt(1 - x * x)),
    "asin": (np.arcsin, lambda g, x, y: g / np.sqrt(1 - x * x)),
    "atan": (np.arctan, lambda g, x, y: g / (1 + x * x)),
    "acosh": (np.arccosh, lambda g, x, y: g / np.sqrt(x * x - 1)),
    "asinh": (np.arcsinh, lambda g, x, y: g / np.sqrt(x * x + 1)),
    "atanh": (np.arctanh, lambda g, x, y: g / (1 - x * x)),
    "cosh": (np.cosh, lambda g, x, y: g * np.sinh(x)),
    "sinh": (np.sinh, lambda g, x, y: g * np.cosh(x)),
    "deg2rad": (np.deg2rad, lambda g, x, y: g * (_PI / 180)),
    "rad2deg": (np.rad2deg, lambda g, x, y: g * (180 / _PI)),
    "sinc": (_sinc, _d_sinc),
    "erf": (_sp("erf"), lambda g, x, y: g * (2 / _SQRT_PI) * np.exp(-x * x)),
    "erfc": (_sp("erfc"), lambda g, x, y: g * (-2 / _SQRT_PI) * np.exp(-x * x)),
    "erfinv": (_sp("erfinv"), lambda g, x, y: g * (_SQRT_PI / 2) * np.exp(y * y)),
    "lgamma": (_sp("gammaln"), lambda g, x, y: g * _like(_special(x).digamma(x), x)),
    "digamma": (_sp("digamma"), lambda g, x, y: g * _like(_special(x).polygamma(1, x), x)),
    "i0": (_sp("i0"), lambda g, x, y: g * _i1(x)),
    "erfcx": (_sp("erfcx"), lambda g, x, y: g * (2 * x * y - 2 / _SQRT_PI)),
    "i0e": (_sp("i0e"), lambda g, x, y: g * (_like(_special(x).i1e(x), x) - np.sign(x) * y)),
    "i1": (_i1, _d_i1),
    "i1e": (_sp("i1e"), _d_i1e),
    "ndtr": (_sp("ndtr"), lambda g, x, y: g * np.exp(-0.5 * x * x) / _SQRT_2PI),
    "ndtri": (_sp("ndtri"), lambda g, x, y: g * _SQRT_2PI * np.exp(0.5 * y * y)),
    "log_ndtr": (_sp("log_ndtr"), _d_log_ndtr),
    "entr": (_entr, _d_entr),
    "expit": (ew._sigmoid, lambda g, x, y: g * y * (1 - y)),
    # not differentiable in torch (op_db: supports_autograd=False)
    "bessel_j0": (_sp("j0"), None),
    "bessel_j1": (_sp("j1"), None),
    "bessel_y0": (_sp("y0"), None),
    "bessel_y1": (_sp("y1"), None),
    "modified_bessel_i0": (_sp("i0"), None),
    "modified_bessel_i1": (_sp("i1"), None),
    "modified_bessel_k0": (_sp("k0"), None),
    "modified_bessel_k1": (_sp("k1"), None),
    "scaled_modified_bessel_k0": (_sp("k0e"), None),
    "scaled_modified_bessel_k1": (_sp("k1e"), None),
    "spherical_bessel_j0": (
        lambda x: _like(np.where(x == 0, 1.0, np.sin(x) / np.where(x == 0, 1.0, x)), x),
        None,
    ),
    "airy_ai": (lambda x: _like(_special(x).airy(x)[0], x), None),
}


def _nodiff(g, x, y):
    return None


UNARY_CLS = {
    name: ew._unary(name.title().replace("_", ""), f, d or _nodiff)
    for name, (f, d) in UNARY.items()
}


def unary_fn(name):
    fn = ew._unary_fn(UNARY_CLS[name], name)
    fn.__doc__ = f"Elementwise ``{name}`` (a pointwise.UNARY row)."
    return fn


# ------------------------------------------------------------------------------- binary rows
def _xlogy(a, b):
    with np.errstate(divide="ignore", invalid="ignore"):
        return _like(_special(a if hasattr(a, "dtype") else b).xlogy(a, b), a)


def _xlog1py(a, b):
    with np.errstate(divide="ignore", invalid="ignore"):
        return _like(_special(a if hasattr(a, "dtype") else b).xlog1py(a, b), a)


def _log_or_zero(a, v):
    """``v`` where ``a != 0``, else 0 (torch's xlogy convention: 0 * log(anything) = 0)."""
    return np.where(np.asarray(a) == 0, 0, v)


def _copysign_da(g, a, b, y):
    with np.errstate(invalid="ignore"):
        return g * _where0(np.asarray(a) == 0, np.sign(a) * np.sign(y))


def _err(fn):
    def wrapped(*args):
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return fn(*args)

    return wrapped


BINARY = {
    "atan2": (
        np.arctan2,
        lambda g, a, b, y: g * b / (a * a + b * b),
        lambda g, a, b, y: -g * a / (a * a + b * b),
    ),
    "hypot": (np.hypot, lambda g, a, b, y: g * a / y, lambda g, a, b, y: g * b / y),
    "copysign": (np.copysign, _copysign_da, lambda g, a, b, y: g * 0),
    "fmod": (np.fmod, lambda g, a, b, y: g, lambda g, a, b, y: -g * np.trunc(a / b)),
    "logaddexp": (
        np.logaddexp,
        lambda g, a, b, y: g * np.exp(a - y),
        lambda g, a, b, y: g * np.exp(b - y),
    ),
    "logaddexp2": (
        np.logaddexp2,
        lambda g, a, b, y: g * np.exp2(a - y),
        lambda g, a, b, y: g * np.exp2(b - y),
    ),
    "xlogy": (
        _xlogy,
        lambda g, a, b, y: g * _log_or_zero(a, np.log(b)),
        lambda g, a, b, y: g * a / b,
    ),
    "xlog1py": (
        _xlog1py,
        lambda g, a, b, y: g * _log_or_zero(a, np.log1p(b)),
        lambda g, a, b, y: g * a / (1 + b),
    ),
    "zeta": (
        lambda a, b: _like(_special(a if hasattr(a, "dtype") else b).zeta(a, b), a),
        None,
        None,
    ),
    "nextafter": (np.nextafter, lambda g, a, b, y: g, None),
    "igamma": (
        lambda a, b: _like(_special(a if hasattr(a, "dtype") else b).gammainc(a, b), a),
        None,
        None,
    ),
    "igammac": (
        lambda a, b: _like(_special(a if hasattr(a, "dtype") else b).gammaincc(a, b), a),
        None,
        None,
    ),
    "heaviside": (np.heaviside, None, None),
}


def _binary_cls(name, forward, d_a, d_b):
    """A two-input Function from a BINARY row (broadcasting; scalars allowed on either side)."""
    forward, d_a, d_b = _err(forward), d_a and _err(d_a), d_b and _err(d_b)

    def fwd(ctx, a, b):
        y = forward(a, b)
        ctx.save_for_backward(a, b, y)
        return y

    def bwd(ctx, g):
        a, b, y = ctx.saved_tensors
        na, nb = ctx.needs_input_grad
        ga = gb = None
        if na and d_a is not None:
            ga = unbroadcast(np.asarray(d_a(g, a, b, y), dtype=g.dtype), ew._shape(a))
        if nb and d_b is not None:
            gb = unbroadcast(np.asarray(d_b(g, a, b, y), dtype=g.dtype), ew._shape(b))
        return ga, gb

    cls = type(
        name.title().replace("_", ""),
        (Function,),
        {"forward": staticmethod(fwd), "backward": staticmethod(bwd)},
    )
    cls.__module__ = __name__
    return cls


BINARY_CLS = {name: _binary_cls(name, *row) for name, row in BINARY.items()}


def _float_operands(a, b):
    """Both operands in torch's result dtype, integers promoted to the default float dtype."""
    dt = result_type(a, b)
    if dt.kind not in "fc":
        dt = np.dtype(_dt.get_default_dtype())

    def conv(x):
        if isinstance(x, Tensor):
            return x if x.array.dtype == dt else ew.cast(x, dt)
        if isinstance(x, (int, float)) and not isinstance(x, bool):
            return x
        return _make(np.asarray(x, dtype=dt), False, None, 0)

    return conv(a), conv(b)


def binary_fn(name, float_only=True):
    cls = BINARY_CLS[name]

    def fn(input, other, *, out=None):  # noqa: A002 - PyTorch's argument names
        if out is not None:
            raise TypeError(f"{name}: the out= argument is not supported")
        if float_only:
            a, b = _float_operands(input, other)
        else:
            a, b = input, other
        if not isinstance(a, Tensor) and not isinstance(b, Tensor):
            a = ew._to_tensor(a)
        res = cls.apply(a, b)
        if not float_only and isinstance(res, Tensor):
            dt = result_type(input, other)
            if res.array.dtype != dt:
                res = ew.cast(res, dt)
        return res

    fn.__name__ = name
    fn.__doc__ = f"Elementwise ``{name}(input, other)`` with broadcasting (a pointwise.BINARY row)."
    return fn


# ------------------------------------------------------------------ the public functions
acos = unary_fn("acos")
asin = unary_fn("asin")
atan = unary_fn("atan")
acosh = unary_fn("acosh")
asinh = unary_fn("asinh")
atanh = unary_fn("atanh")
cosh = unary_fn("cosh")
sinh = unary_fn("sinh")
deg2rad = unary_fn("deg2rad")
rad2deg = unary_fn("rad2deg")
sinc = unary_fn("sinc")
erf = unary_fn("erf")
erfc = unary_fn("erfc")
erfinv = unary_fn("erfinv")
lgamma = unary_fn("lgamma")
digamma = unary_fn("digamma")
i0 = unary_fn("i0")
arccos, arcsin, arctan, arccosh, arcsinh, arctanh = acos, asin, atan, acosh, asinh, atanh
psi = digamma

atan2 = binary_fn("atan2")
arctan2 = atan2
hypot = binary_fn("hypot")
copysign = binary_fn("copysign")
fmod = binary_fn("fmod", float_only=False)
logaddexp = binary_fn("logaddexp")
logaddexp2 = binary_fn("logaddexp2")
xlogy = binary_fn("xlogy")
nextafter = binary_fn("nextafter")
heaviside = binary_fn("heaviside", float_only=False)
igamma = binary_fn("igamma")
igammac = binary_fn("igammac")


# ----------------------------------------------------- compositions of the rows above
class Polygamma(Function):
    @staticmethod
    def forward(ctx, x, n):
        ctx.save_for_backward(x)
        ctx.n = n
        return _like(_special(x).polygamma(n, x), x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * _like(_special(x).polygamma(ctx.n + 1, x), x), None


def polygamma(n, input):  # noqa: A002
    """The ``n``-th derivative of digamma."""
    if not isinstance(n, int) or n < 0:
        raise ValueError(f"polygamma: n must be a non-negative integer, got {n!r}")
    x = input if input.array.dtype.kind == "f" else ew.cast(input, _dt.get_default_dtype())
    return Polygamma.apply(x, n)


def mvlgamma(input, p):  # noqa: A002
    """Multivariate log-gamma of dimension ``p``: a sum of lgamma rows."""
    if not isinstance(p, int) or p < 1:
        raise ValueError(f"mvlgamma: p must be a positive integer, got {p!r}")
    if bool((input.array <= (p - 1) / 2).any()):
        raise RuntimeError(f"All elements must be greater than (p-1)/2 = {(p - 1) / 2}")
    out = lgamma(input)
    for j in range(1, p):
        out = out + lgamma(input - j / 2)
    return out + (p * (p - 1) / 4 * math.log(math.pi))


def logit(input, eps=None):  # noqa: A002
    """``log(x / (1 - x))``; ``eps`` clamps x into [eps, 1 - eps] first (zero gradient outside)."""
    x = input if input.array.dtype.kind == "f" else ew.cast(input, _dt.get_default_dtype())
    if eps is not None:
        x = ew.clamp(x, eps, 1 - eps)
    return ew.log(x / (1 - x))


def float_power(input, exponent):  # noqa: A002
    """``pow`` computed in float64."""
    a = ew.cast(input, _dt.float64) if isinstance(input, Tensor) else float(input)
    b = ew.cast(exponent, _dt.float64) if isinstance(exponent, Tensor) else float(exponent)
    if not isinstance(a, Tensor):
        a = ew._to_tensor(np.float64(a))
    return ew.pow(a, b)


def ldexp(input, other):  # noqa: A002
    """``input * 2 ** other``."""
    a, b = _float_operands(input, other)
    return ew.mul(a, ew.exp2(b) if isinstance(b, Tensor) else 2.0**b)


class Frexp(Function):
    @staticmethod
    def forward(ctx, x):
        m, e = np.frexp(x)
        e = np.asarray(e, dtype=np.int32)
        ctx.e = e
        ctx.mark_non_differentiable(e)
        return np.asarray(m), e

    @staticmethod
    def backward(ctx, g, ge):
        return g / np.exp2(ctx.e).astype(g.dtype)


_frexp_result = collections.namedtuple("frexp", ["mantissa", "exponent"])


def frexp(input):  # noqa: A002
    """(mantissa, exponent) with ``input = mantissa * 2 ** exponent``; the mantissa's gradient is
    ``grad / 2 ** exponent``."""
    if input.array.dtype.kind != "f":
        raise TypeError(f"frexp: input must be a floating point tensor, got {input.array.dtype}")
    return _frexp_result(*Frexp.apply(input))


def rsub(input, other, *, alpha=1):  # noqa: A002
    """``other - alpha * input``."""
    return (
        ew.sub(other, input, alpha=alpha)
        if isinstance(other, Tensor)
        else ew._bin(ew.Sub, other, input if alpha == 1 else input * alpha)
    )


def positive(input):  # noqa: A002
    if input.array.dtype == np.bool_:
        raise TypeError("The `+` operator, on a bool tensor is not supported.")
    return input


def sgn(input):  # noqa: A002
    return ew.sign(input)


def angle(input):  # noqa: A002
    """Argument of each element: 0 for x >= 0, pi for x < 0 (NaN stays NaN); zero gradient."""
    x = input if input.array.dtype.kind == "f" else ew.cast(input, _dt.get_default_dtype())
    return ew.where(x < 0, math.pi, ew.where(ew.isnan(x), x, x * 0))


def _pred(fn):
    def pred(input):  # noqa: A002
        return ew._nondiff(fn(input.array))

    return pred


signbit = _pred(np.signbit)
isposinf = _pred(np.isposinf)
isneginf = _pred(np.isneginf)
isreal = _pred(lambda a: np.ones(a.shape, dtype=bool) if a.dtype.kind != "c" else a.imag == 0)


def nan_to_num(input, nan=0.0, posinf=None, neginf=None):  # noqa: A002
    """NaN, +inf, -inf replaced by ``nan``, ``posinf`` (default: the dtype's max) and ``neginf``
    (its min); the gradient passes where the input was finite."""
    a = input.array
    if a.dtype.kind not in "fc":
        return input.clone()
    info = np.finfo(a.dtype)
    pi = info.max if posinf is None else posinf
    ni = info.min if neginf is None else neginf
    out = ew.where(ew.isnan(input), nan, input)
    out = ew.where(ew._nondiff(np.isposinf(a)), pi, out)
    return ew.where(ew._nondiff(np.isneginf(a)), ni, out)


def _int_binary(ufunc, name):
    def fn(input, other):  # noqa: A002
        a = input.array if isinstance(input, Tensor) else input
        b = other.array if isinstance(other, Tensor) else other
        for arg, v in (("input", a), ("other", b)):
            if getattr(v, "dtype", np.dtype(np.int64)).kind == "f" or isinstance(v, float):
                raise TypeError(f"{name}: {arg} must be an integer or bool tensor, got a float")
        res = ew._nondiff(ufunc(a, b))
        dt = result_type(input, other)
        return res if res.array.dtype == dt else ew.cast(res, dt)

    fn.__name__ = name
    return fn


gcd = _int_binary(np.gcd, "gcd")
lcm = _int_binary(np.lcm, "lcm")
bitwise_and = _int_binary(np.bitwise_and, "bitwise_and")
bitwise_or = _int_binary(np.bitwise_or, "bitwise_or")
bitwise_xor = _int_binary(np.bitwise_xor, "bitwise_xor")
bitwise_left_shift = _int_binary(np.left_shift, "bitwise_left_shift")
bitwise_right_shift = _int_binary(np.right_shift, "bitwise_right_shift")
