"""Elementwise Functions: arithmetic with broadcasting, unary math, clamp/where/masked_fill/lerp,
casts, comparisons and in-place updates.

Array code works on NumPy and (through ``__array_ufunc__``) CuPy arrays alike.
"""

from __future__ import annotations

import builtins
import math

import numpy as np

from .. import dtypes as _dt
from ..autograd import views as _views
from ..autograd.function import Function, unbroadcast
from ..tensor import Tensor, _binary, _make, _rbinary, promote, result_type


def _shape(x):
    return x.shape if type(x) is np.ndarray or hasattr(x, "shape") else ()


def _arr(x):
    return x.array if isinstance(x, Tensor) else x


# ------------------------------------------------------------------------------- arithmetic
class Add(Function):
    @staticmethod
    def forward(ctx, a, b):
        try:
            ctx.shapes = (a.shape, b.shape)
        except AttributeError:  # a Python scalar operand
            ctx.shapes = (_shape(a), _shape(b))
        return a + b

    @staticmethod
    def backward(ctx, g):
        na, nb = ctx.needs_input_grad
        sa, sb = ctx.shapes
        return (unbroadcast(g, sa) if na else None), (unbroadcast(g, sb) if nb else None)


class Sub(Function):
    @staticmethod
    def forward(ctx, a, b):
        try:
            ctx.shapes = (a.shape, b.shape)
        except AttributeError:  # a Python scalar operand
            ctx.shapes = (_shape(a), _shape(b))
        return a - b

    @staticmethod
    def backward(ctx, g):
        na, nb = ctx.needs_input_grad
        sa, sb = ctx.shapes
        return (unbroadcast(g, sa) if na else None), (unbroadcast(-g, sb) if nb else None)


class Mul(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        na, nb = ctx.needs_input_grad
        return (unbroadcast(g * b, a.shape) if na else None), (
            unbroadcast(g * a, b.shape) if nb else None
        )


class Div(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a / b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        na, nb = ctx.needs_input_grad
        ga = unbroadcast(g / b, a.shape) if na else None
        gb = unbroadcast(-g * ((a / b) / b), b.shape) if nb else None  # torch's order
        return ga, gb


class Neg(Function):
    @staticmethod
    def forward(ctx, x):
        return -x

    @staticmethod
    def backward(ctx, g):
        return -g


class Pow(Function):
    @staticmethod
    def forward(ctx, a, b):
        y = a**b
        ctx.save_for_backward(a, b, y)
        return y

    @staticmethod
    def backward(ctx, g):
        a, b, y = ctx.saved_tensors
        na, nb = ctx.needs_input_grad
        ga = gb = None
        if na:
            with np.errstate(divide="ignore", invalid="ignore"):
                ga = (g * b * a ** (b - 1)).astype(g.dtype, copy=False)
            if not hasattr(b, "shape"):  # a Python exponent
                if b == 0:  # d/da a**0 is 0, also at a == 0 (not 0 * inf)
                    ga = g * 0
            elif (b == 0).any():
                ga = np.where(b == 0, 0, ga).astype(g.dtype, copy=False)
            ga = unbroadcast(ga, _shape(a))
        if nb:
            with np.errstate(divide="ignore", invalid="ignore"):
                gb = g * (y * np.log(a))  # torch's order of evaluation
            # d/db a**b at a == 0 is taken as 0 for b >= 0 (PyTorch's convention)
            gb = np.where((np.asarray(a) == 0) & (np.asarray(b) >= 0), 0, gb).astype(g.dtype)
            gb = unbroadcast(gb, _shape(b))
        return ga, gb


class Remainder(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return np.remainder(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        na, nb = ctx.needs_input_grad
        return (unbroadcast(g, _shape(a)) if na else None), (
            unbroadcast(-g * np.floor_divide(a, b), _shape(b)) if nb else None
        )


class Maximum(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return np.maximum(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        na, nb = ctx.needs_input_grad
        half = g.dtype.type(0.5)  # typed: a float32 graph keeps float32 gradients
        wa = (a > b) + half * (a == b)  # ties split the gradient, as PyTorch does
        return (unbroadcast(g * wa, _shape(a)) if na else None), (
            unbroadcast(g * (1 - wa), _shape(b)) if nb else None
        )


class Minimum(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return np.minimum(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        na, nb = ctx.needs_input_grad
        wa = (a < b) + g.dtype.type(0.5) * (a == b)
        return (unbroadcast(g * wa, _shape(a)) if na else None), (
            unbroadcast(g * (1 - wa), _shape(b)) if nb else None
        )


# ------------------------------------------------------------------------------- unary math
def _unary(name, forward, backward, float_only=True, saves="xy"):
    """A one-input Function class: ``forward(x) -> y``, ``backward(g, x, y) -> grad_x``; only the
    arrays named in ``saves`` are kept (the others reach backward as None), as PyTorch saves only
    what the derivative uses (an in-place write to an unsaved one is then allowed)."""

    def fwd(ctx, x):
        y = forward(x)
        ctx.save_for_backward(x if "x" in saves else None, y if "y" in saves else None)
        return y

    def bwd(ctx, g):
        x, y = ctx.saved_tensors
        return backward(g, x, y)

    cls = type(
        name,
        (Function,),
        {"forward": staticmethod(fwd), "backward": staticmethod(bwd), "float_only": float_only},
    )
    cls.__module__ = __name__
    return cls


def _sigmoid(x):
    # 1 / (1 + exp(-x)), term for term as ATen computes it, so float32 results round as torch's
    # do (the gradient y * (1 - y) near saturation depends on that rounding: the earlier
    # exp(-logaddexp(0, -x)) failed torch's GRU tolerance on 16 of 200 seeds); exp(-x) may
    # overflow to inf for x << 0, giving the correct 0
    with np.errstate(over="ignore"):
        return (1 / (1 + np.exp(-x))).astype(x.dtype, copy=False)


def _zero(g, x, y):
    return g * 0


# The most used activations and maths, written out (no closure layers on the hot path).
class Exp(Function):
    float_only = True

    @staticmethod
    def forward(ctx, x):
        y = np.exp(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        return g * ctx._saved[0]


class Log(Function):
    float_only = True

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.log(x)

    @staticmethod
    def backward(ctx, g):
        return g / ctx._saved[0]


class Tanh(Function):
    float_only = True

    @staticmethod
    def forward(ctx, x):
        y = np.tanh(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        y = ctx._saved[0]
        return g * (1 - y * y)


class Sigmoid(Function):
    float_only = True

    @staticmethod
    def forward(ctx, x):
        y = _sigmoid(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        y = ctx._saved[0]
        return g * y * (1 - y)


class Relu(Function):
    float_only = False

    @staticmethod
    def forward(ctx, x):
        y = np.maximum(x, 0)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        return g * (ctx._saved[0] > 0)


_LN2, _LN10 = math.log(2.0), math.log(10.0)
Exp2 = _unary("Exp2", np.exp2, lambda g, x, y: g * y * _LN2, saves="y")
Expm1 = _unary("Expm1", np.expm1, lambda g, x, y: g * (y + 1), saves="y")
Log2 = _unary("Log2", np.log2, lambda g, x, y: g / (x * _LN2), saves="x")
Log10 = _unary("Log10", np.log10, lambda g, x, y: g / (x * _LN10), saves="x")
Log1p = _unary("Log1p", np.log1p, lambda g, x, y: g / (1 + x), saves="x")
Sqrt = _unary("Sqrt", np.sqrt, lambda g, x, y: g / (2 * y), saves="y")
Rsqrt = _unary("Rsqrt", lambda x: 1 / np.sqrt(x), lambda g, x, y: -0.5 * g * y * y * y, saves="y")
Reciprocal = _unary("Reciprocal", lambda x: 1 / x, lambda g, x, y: -g * y * y, saves="y")
Sin = _unary("Sin", np.sin, lambda g, x, y: g * np.cos(x), saves="x")
Cos = _unary("Cos", np.cos, lambda g, x, y: -g * np.sin(x), saves="x")
Tan = _unary("Tan", np.tan, lambda g, x, y: g * (1 + y * y), saves="y")
Abs = _unary("Abs", np.abs, lambda g, x, y: g * np.sign(x), float_only=False, saves="x")
Square = _unary("Square", lambda x: x * x, lambda g, x, y: 2 * g * x, float_only=False, saves="x")
Sign = _unary("Sign", np.sign, _zero, float_only=False, saves="")
Floor = _unary("Floor", np.floor, _zero, float_only=False, saves="")
Ceil = _unary("Ceil", np.ceil, _zero, float_only=False, saves="")
Round = _unary("Round", np.round, _zero, float_only=False, saves="")
Trunc = _unary("Trunc", np.trunc, _zero, float_only=False, saves="")
Frac = _unary("Frac", lambda x: x - np.trunc(x), lambda g, x, y: g, saves="")


def _apply_unary(cls, x):
    if not isinstance(x, Tensor):
        x = _to_tensor(x)
    if cls.float_only and x.array.dtype.kind not in "fc":
        x = cast(x, _dt.get_default_dtype())
    return cls.apply(x)


def _unary_fn(cls, name):
    float_only = cls.float_only

    def fn(input):  # noqa: A002 - PyTorch's argument name
        if isinstance(input, Tensor) and (not float_only or input.array.dtype.kind in "fc"):
            return cls.apply(input)
        return _apply_unary(cls, input)

    fn.__name__ = name
    fn.__doc__ = f"Elementwise {name} (differentiable)."
    return fn


exp = _unary_fn(Exp, "exp")
exp2 = _unary_fn(Exp2, "exp2")
expm1 = _unary_fn(Expm1, "expm1")
log = _unary_fn(Log, "log")
log2 = _unary_fn(Log2, "log2")
log10 = _unary_fn(Log10, "log10")
log1p = _unary_fn(Log1p, "log1p")
sqrt = _unary_fn(Sqrt, "sqrt")
rsqrt = _unary_fn(Rsqrt, "rsqrt")
reciprocal = _unary_fn(Reciprocal, "reciprocal")
sin = _unary_fn(Sin, "sin")
cos = _unary_fn(Cos, "cos")
tan = _unary_fn(Tan, "tan")
tanh = _unary_fn(Tanh, "tanh")
sigmoid = _unary_fn(Sigmoid, "sigmoid")
relu = _unary_fn(Relu, "relu")
abs = _unary_fn(Abs, "abs")  # noqa: A001
absolute = abs
square = _unary_fn(Square, "square")
sign = _unary_fn(Sign, "sign")
floor = _unary_fn(Floor, "floor")
ceil = _unary_fn(Ceil, "ceil")
_round0 = _unary_fn(Round, "round")
trunc = _unary_fn(Trunc, "trunc")
frac = _unary_fn(Frac, "frac")


class RoundDecimals(Function):
    @staticmethod
    def forward(ctx, x, decimals):
        # torch: nearbyint(x * 10**d) / 10**d, or nearbyint(x / 10**-d) * 10**-d for d < 0
        if decimals > 0:
            ten = x.dtype.type(10.0**decimals)
            return np.round(x * ten) / ten
        ten = x.dtype.type(10.0 ** (-decimals))
        return np.round(x / ten) * ten

    @staticmethod
    def backward(ctx, g):
        return g * 0, None


def round(input, *, decimals=0):  # noqa: A001,A002
    """Round half to even; ``decimals`` rounds at that decimal place (zero gradient)."""
    if decimals == 0 or input.array.dtype.kind != "f":
        return _round0(input)
    return RoundDecimals.apply(input, int(decimals))


def neg(input):  # noqa: A002
    return Neg.apply(input)


negative = neg


# -------------------------------------------------------------------------- binary wrappers
def _to_tensor(x):
    if isinstance(x, Tensor):
        return x
    arr = np.asarray(x)
    if arr.dtype == np.float64 and not isinstance(x, np.ndarray):
        arr = arr.astype(_dt.get_default_dtype())
    return _make(arr, False, None, 0)


def _bin(fn, a, b):
    if isinstance(a, Tensor):
        return _binary(fn, a, b)
    if isinstance(b, Tensor):
        return _rbinary(fn, a, b)
    return _binary(fn, _to_tensor(a), b)


def add(input, other, *, alpha=1):  # noqa: A002
    """``input + alpha * other``."""
    return _bin(Add, input, other if alpha == 1 else other * alpha)


def sub(input, other, *, alpha=1):  # noqa: A002
    """``input - alpha * other``."""
    return _bin(Sub, input, other if alpha == 1 else other * alpha)


subtract = sub


def mul(input, other):  # noqa: A002
    return _bin(Mul, input, other)


multiply = mul


def div(input, other, *, rounding_mode=None):  # noqa: A002
    """True division (integers give the default float dtype); ``rounding_mode`` "trunc" or
    "floor" rounds the quotient (not differentiable)."""
    if rounding_mode is not None:
        if rounding_mode == "floor":
            return floor_divide(input, other)
        if rounding_mode == "trunc":
            q = _bin(Div, input, other)
            out = _make(np.trunc(q.array), False, None, 0)
            dt = result_type(input, other)
            return out if dt.kind == "f" else cast(out, dt)
        raise ValueError(
            f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but "
            f"found '{rounding_mode}'"
        )
    a, b = input, other
    if result_type(a, b).kind not in "fc":  # int / int -> default float, as PyTorch
        a = cast(_to_tensor(a), _dt.get_default_dtype())
        if isinstance(b, Tensor):
            b = cast(b, _dt.get_default_dtype())
    return _bin(Div, a, b)


divide = true_divide = div


def floor_divide(input, other):  # noqa: A002
    """Floor of the quotient (PyTorch >= 1.13 semantics); not differentiable."""
    a, b = promote(_to_tensor(input) if not isinstance(input, Tensor) else input, other)
    res = np.floor_divide(_arr(a), _arr(b))
    return _make(np.asarray(res), False, None, 0)


def remainder(input, other):  # noqa: A002
    """Python-style modulus (sign of the divisor), like ``torch.remainder``."""
    return _bin(Remainder, input, other)


def pow(input, exponent):  # noqa: A001,A002
    """``input ** exponent``; either may be a scalar."""
    if not isinstance(input, Tensor):
        if (
            isinstance(exponent, Tensor)
            and exponent.array.dtype.kind not in "fc"
            and isinstance(input, float)
        ):
            exponent = cast(exponent, _dt.get_default_dtype())
        return _rbinary(Pow, input, exponent)
    if (
        isinstance(exponent, int)
        and not isinstance(exponent, builtins.bool)
        and exponent < 0
        and (input.array.dtype.kind in "iu")
    ):
        raise RuntimeError("Integers to negative integer powers are not allowed.")
    return _binary(Pow, input, exponent)


def maximum(input, other):  # noqa: A002
    return _bin(Maximum, input, other)


def minimum(input, other):  # noqa: A002
    return _bin(Minimum, input, other)


def fmax(input, other):  # noqa: A002
    return maximum(input, other)


def fmin(input, other):  # noqa: A002
    return minimum(input, other)


# -------------------------------------------------------------------------------- selection
class Clamp(Function):
    @staticmethod
    def forward(ctx, x, lo, hi):
        ctx.save_for_backward(x)
        ctx.bounds = (lo, hi)
        y = x
        if lo is not None:
            y = np.maximum(y, lo)
        if hi is not None:
            y = np.minimum(y, hi)
        return y.astype(x.dtype, copy=False) if y is not x else x.copy()

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        lo, hi = ctx.bounds
        mask = True
        if lo is not None:
            mask = x >= lo
        if hi is not None:
            mask = mask & (x <= hi)
        return g * mask, None, None


def clamp(input, min=None, max=None):  # noqa: A001,A002
    """Clamp into [min, max] (scalars or tensors). Gradient passes where min <= x <= max."""
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        out = input
        if min is not None:
            out = maximum(out, min)
        if max is not None:
            out = minimum(out, max)
        return out
    if isinstance(min, float) or isinstance(max, float):
        if input.array.dtype.kind not in "fc":
            input = cast(input, _dt.get_default_dtype())
    return Clamp.apply(input, min, max)


clip = clamp


def clamp_min(input, min):  # noqa: A001,A002
    return clamp(input, min=min)


def clamp_max(input, max):  # noqa: A001,A002
    return clamp(input, max=max)


def addcmul(input, tensor1, tensor2, *, value=1):  # noqa: A002
    """``input + value * tensor1 * tensor2``."""
    prod = tensor1 * tensor2
    return input + (prod if value == 1 else prod * value)


def addcdiv(input, tensor1, tensor2, *, value=1):  # noqa: A002
    """``input + value * tensor1 / tensor2``."""
    q = tensor1 / tensor2
    return input + (q if value == 1 else q * value)


class Where(Function):
    @staticmethod
    def forward(ctx, cond, a, b):
        ctx.cond = cond
        ctx.shapes = (_shape(a), _shape(b))
        return np.where(cond, a, b)

    @staticmethod
    def backward(ctx, g):
        c = ctx.cond
        _, na, nb = ctx.needs_input_grad
        sa, sb = ctx.shapes
        zero = g.dtype.type(0)
        return (
            None,
            unbroadcast(np.where(c, g, zero), sa) if na else None,
            unbroadcast(np.where(c, zero, g), sb) if nb else None,
        )


def where(condition, input=None, other=None):  # noqa: A002
    """``input`` where ``condition`` else ``other`` (broadcast); ``where(cond)`` is nonzero."""
    if input is None and other is None:
        return tuple(_make(i, False, None, 0) for i in np.nonzero(_arr(condition)))
    dt = result_type(input, other)
    a = cast(input, dt) if isinstance(input, Tensor) and input.array.dtype != dt else input
    b = cast(other, dt) if isinstance(other, Tensor) and other.array.dtype != dt else other
    if not isinstance(a, Tensor):
        a = np.asarray(a, dtype=dt)
    if not isinstance(b, Tensor):
        b = np.asarray(b, dtype=dt)
    cond = _arr(condition)
    if cond.dtype != np.bool_:
        cond = cond.astype(bool)
    return Where.apply(cond, a, b)


class MaskedFill(Function):
    @staticmethod
    def forward(ctx, x, mask, value):
        ctx.mask = mask
        ctx.vshape = _shape(value)
        out = np.where(
            mask,
            np.asarray(value, dtype=x.dtype)
            if not hasattr(value, "shape")
            else value.astype(x.dtype, copy=False),
            x,
        )
        ctx.xshape = x.shape
        return out

    @staticmethod
    def backward(ctx, g):
        m = ctx.mask
        nx, _, nv = ctx.needs_input_grad
        zero = g.dtype.type(0)
        gx = unbroadcast(np.where(m, zero, g), ctx.xshape) if nx else None
        gv = np.where(m, g, zero).sum().reshape(ctx.vshape) if nv else None
        return gx, None, gv


def masked_fill(input, mask, value):  # noqa: A002
    """Copy of ``input`` with ``value`` where the bool ``mask`` (broadcast) is True."""
    m = _arr(mask)
    if m.dtype != np.bool_:
        raise RuntimeError(
            f"masked_fill only supports boolean masks, but got mask with dtype {m.dtype}"
        )
    if isinstance(value, Tensor) and value.array.ndim != 0:
        raise RuntimeError(
            "masked_fill only supports a 0-dimensional value tensor, but got tensor "
            f"with {value.array.ndim} dimension(s)."
        )
    return MaskedFill.apply(input, m, value)


class Lerp(Function):
    @staticmethod
    def forward(ctx, start, end, weight):
        ctx.save_for_backward(start, end, weight)
        return start + weight * (end - start)

    @staticmethod
    def backward(ctx, g):
        s, e, w = ctx.saved_tensors
        ns, ne, nw = ctx.needs_input_grad
        return (
            unbroadcast(g * (1 - w), _shape(s)) if ns else None,
            unbroadcast(g * w, _shape(e)) if ne else None,
            unbroadcast(g * (e - s), _shape(w)) if nw else None,
        )


def lerp(input, end, weight):  # noqa: A002
    """``input + weight * (end - input)``."""
    if not isinstance(weight, Tensor):
        weight = float(weight)
    return Lerp.apply(input, end, weight)


# ------------------------------------------------------------------------- casts and copies
class Cast(Function):
    @staticmethod
    def forward(ctx, x, dtype):
        ctx.src = x.dtype
        return x.astype(dtype)

    @staticmethod
    def backward(ctx, g):
        return (g.astype(ctx.src) if ctx.src.kind in "fc" else None), None


def cast(x, dtype):
    """``x`` converted to ``dtype`` (a copy; differentiable between float dtypes)."""
    dtype = _dt.as_dtype(dtype)
    if x.array.dtype == dtype:
        return x
    return Cast.apply(x, dtype)


class Clone(Function):
    @staticmethod
    def forward(ctx, x):
        return x.copy()

    @staticmethod
    def backward(ctx, g):
        return g


def clone(input, memory_format=None):  # noqa: A002
    return Clone.apply(input)


# -------------------------------------------------------------------- comparisons and logic
def _nondiff(res):
    """A non-differentiable tensor around a ufunc's result: a ufunc on 0-d arrays returns a NumPy
    scalar, which Tensor must not hold (item(), views and in-place ops need an ndarray)."""
    return _make(np.asarray(res) if isinstance(res, np.generic) else res, False, None, 0)


def compare(op, a, b):
    """A bool tensor from the NumPy comparison ufunc ``op`` (never differentiable)."""
    if not isinstance(a, Tensor):
        a, b = b, a
        op = _SWAP.get(op, op)
    if isinstance(b, Tensor):
        b = b.array
    elif isinstance(b, (list, tuple)):
        b = np.asarray(b)
    elif b is None:
        return _make(np.full(a.array.shape, op is np.not_equal), False, None, 0)
    return _nondiff(op(a.array, b))


_SWAP = {
    np.less: np.greater,
    np.greater: np.less,
    np.less_equal: np.greater_equal,
    np.greater_equal: np.less_equal,
}


def logical_op(op, a, b):
    """``& | ^`` on bool or integer tensors (not differentiable)."""
    if not isinstance(a, Tensor):
        a, b = b, a
    b = b.array if isinstance(b, Tensor) else b
    if a.array.dtype.kind == "f" or (hasattr(b, "dtype") and b.dtype.kind == "f"):
        raise TypeError(f"{op.__name__} is only supported for integer and bool tensors")
    return _nondiff(op(a.array, b))


def bitwise_not(input):  # noqa: A002
    if input.array.dtype.kind == "f":
        raise TypeError("~ (bitwise_not) is only supported for integer and bool tensors")
    return _nondiff(np.invert(input.array))


def logical_not(input):  # noqa: A002
    return _nondiff(np.logical_not(_arr(input)))


def logical_and(input, other):  # noqa: A002
    return _nondiff(np.logical_and(_arr(input), _arr(other)))


def logical_or(input, other):  # noqa: A002
    return _nondiff(np.logical_or(_arr(input), _arr(other)))


def logical_xor(input, other):  # noqa: A002
    return _nondiff(np.logical_xor(_arr(input), _arr(other)))


def eq(input, other):  # noqa: A002
    return compare(np.equal, input, other)


def ne(input, other):  # noqa: A002
    return compare(np.not_equal, input, other)


def lt(input, other):  # noqa: A002
    return compare(np.less, input, other)


def le(input, other):  # noqa: A002
    return compare(np.less_equal, input, other)


def gt(input, other):  # noqa: A002
    return compare(np.greater, input, other)


def ge(input, other):  # noqa: A002
    return compare(np.greater_equal, input, other)


greater, greater_equal, less, less_equal, not_equal = gt, ge, lt, le, ne


def isnan(input):  # noqa: A002
    return _nondiff(np.isnan(_arr(input)))


def isinf(input):  # noqa: A002
    return _nondiff(np.isinf(_arr(input)))


def isfinite(input):  # noqa: A002
    return _nondiff(np.isfinite(_arr(input)))


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):  # noqa: A002
    return _make(
        np.isclose(_arr(input), _arr(other), rtol=rtol, atol=atol, equal_nan=equal_nan),
        False,
        None,
        0,
    )


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False) -> bool:  # noqa: A002
    return builtins.bool(
        np.allclose(_arr(input), _arr(other), rtol=rtol, atol=atol, equal_nan=equal_nan)
    )


def equal(input, other) -> bool:  # noqa: A002
    a, b = _arr(input), _arr(other)
    return builtins.bool(a.shape == b.shape and (a == b).all())


# ------------------------------------------------------------------------------- in place
_LEAF_MSG = "a leaf Variable that requires grad is being used in an in-place operation."


def inplace(self, fn, *args, **kwargs):
    """Run Function ``fn`` on ``(self, *args)`` and write the result into ``self``'s storage
    (views, ``.data`` and ``detach()`` see it), bumping its version counter.

    When the op is recorded, ``self`` takes the op's history (a view's base too, as PyTorch's
    CopySlices; see ``autograd/views.py``); a leaf that requires grad, or a view of one, refuses.
    """
    if _views.recording(self, args):
        return _views.inplace(self, fn, *args, **kwargs)
    if fn is Add or fn is Sub or fn is Mul or fn is Div:
        other = args[0]
        other = other.array if isinstance(other, Tensor) else other
        ufunc = _UFUNCS[fn]
        try:
            ufunc(self.array, other, out=self.array, casting="same_kind")
        except (TypeError, ValueError) as exc:
            raise RuntimeError(f"in-place {fn.__name__.lower()}: {exc}") from None
    else:
        res = fn.apply(self, *args, **kwargs).array
        if res.shape != self.array.shape:
            raise RuntimeError(
                f"output with shape {list(self.array.shape)} doesn't match the broadcast "
                f"shape {list(res.shape)}"
            )
        if type(self.array) is np.ndarray:
            np.copyto(self.array, res, casting="same_kind")
        else:
            self.array[...] = res
    _views.bump(self)
    return self


_UFUNCS = {Add: np.add, Sub: np.subtract, Mul: np.multiply, Div: np.true_divide}


def fill_(self, value):
    """Fill with ``value`` (a number or a 0-d tensor)."""
    if _views.recording(self, (value,)):
        return _views.inplace(self, _Fill, value)
    self.array[...] = value.item() if isinstance(value, Tensor) else value
    _views.bump(self)
    return self


class _Fill(Function):
    @staticmethod
    def forward(ctx, x, v):
        return np.full_like(x, v)

    @staticmethod
    def backward(ctx, g):
        nx, nv = ctx.needs_input_grad
        return (g * 0 if nx else None), (g.sum().reshape(()) if nv else None)


def zero_(self):
    return fill_(self, 0)


class _Copy(Function):
    @staticmethod
    def forward(ctx, x, src):
        ctx.sshape = src.shape
        ctx.sdtype = src.dtype
        return np.broadcast_to(src, x.shape).astype(x.dtype, copy=True)

    @staticmethod
    def backward(ctx, g):
        _, ns = ctx.needs_input_grad
        gs = unbroadcast(g, ctx.sshape).astype(ctx.sdtype, copy=False) if ns else None
        return None, gs


def copy_(self, src, non_blocking=False):
    """Copy ``src`` (broadcast, cast to self's dtype, moved to self's device) into self."""
    if not isinstance(src, Tensor):
        src = _make(np.asarray(src), False, None, 0)
    if type(src.array) is not type(self.array):
        src = src.to(self.device)
    if _views.recording(self, (src,)):
        return _views.inplace(self, _Copy, src)
    self.array[...] = src.array
    _views.bump(self)
    return self
