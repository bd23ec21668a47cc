"""Attaches the Function-backed methods to ``Tensor`` (``t.sum()``, ``t.exp_()``, ...), so
tensor.py stays small: each method is the functional form with ``self`` first."""

from __future__ import annotations

from ..autograd import views as _views
from ..tensor import Tensor
from . import elementwise as ew
from . import gemm as la
from . import indexing as ix
from . import reduce as rd
from . import shape as sh

_SAME_NAME = {
    ew: [
        "add",
        "sub",
        "mul",
        "div",
        "floor_divide",
        "remainder",
        "pow",
        "exp",
        "exp2",
        "expm1",
        "log",
        "log2",
        "log10",
        "log1p",
        "sqrt",
        "rsqrt",
        "reciprocal",
        "sin",
        "cos",
        "tan",
        "tanh",
        "sigmoid",
        "relu",
        "abs",
        "absolute",
        "neg",
        "negative",
        "square",
        "sign",
        "floor",
        "ceil",
        "round",
        "trunc",
        "frac",
        "maximum",
        "minimum",
        "fmax",
        "fmin",
        "clamp",
        "clip",
        "masked_fill",
        "lerp",
        "eq",
        "ne",
        "lt",
        "le",
        "gt",
        "ge",
        "greater",
        "greater_equal",
        "less",
        "less_equal",
        "not_equal",
        "isnan",
        "isinf",
        "isfinite",
        "isclose",
        "allclose",
        "equal",
        "logical_not",
        "logical_and",
        "logical_or",
        "logical_xor",
        "bitwise_not",
        "subtract",
        "multiply",
        "divide",
        "true_divide",
        "fill_",
        "zero_",
        "copy_",
        "clamp_min",
        "clamp_max",
        "addcmul",
        "addcdiv",
    ],
    rd: [
        "sum",
        "mean",
        "var",
        "std",
        "prod",
        "max",
        "min",
        "amax",
        "amin",
        "argmax",
        "argmin",
        "logsumexp",
        "norm",
        "all",
        "any",
        "count_nonzero",
        "cumsum",
        "softmax",
        "log_softmax",
    ],
    sh: [
        "reshape",
        "view",
        "flatten",
        "unflatten",
        "squeeze",
        "unsqueeze",
        "permute",
        "transpose",
        "swapaxes",
        "swapdims",
        "t",
        "movedim",
        "moveaxis",
        "expand",
        "expand_as",
        "repeat",
        "split",
        "tensor_split",
        "chunk",
        "unbind",
        "flip",
        "fliplr",
        "flipud",
        "roll",
        "tril",
        "triu",
        "narrow",
        "broadcast_to",
        "diag",
        "trace",
    ],
    ix: [
        "gather",
        "scatter",
        "scatter_add",
        "index_select",
        "masked_select",
        "nonzero",
        "argsort",
        "sort",
        "topk",
        "kthvalue",
        "take_along_dim",
        "repeat_interleave",
        "unique",
        "bincount",
    ],
    la: ["matmul", "mm", "bmm", "mv", "dot", "inner", "outer", "ger", "addmm"],
}

for _mod, _names in _SAME_NAME.items():
    for _name in _names:
        setattr(Tensor, _name, getattr(_mod, _name))


def _where(self, condition, y):
    return ew.where(condition, self, y)


def _view_as(self, other):
    return sh.view(self, tuple(other.array.shape))


def _reshape_as(self, other):
    return sh.reshape(self, tuple(other.array.shape))


Tensor.where = _where
Tensor.view_as = _view_as
Tensor.reshape_as = _reshape_as


# in-place forms: recorded ops rebind, unrecorded ones write into the storage (ew.inplace)
def _inplace_binary(fn):
    def method(self, other, *, alpha=1):
        return ew.inplace(self, fn, other if alpha == 1 else other * alpha)

    return method


def _inplace_div(self, other, *, rounding_mode=None):
    if rounding_mode is not None:
        return self.copy_(ew.div(self, other, rounding_mode=rounding_mode))
    return ew.inplace(self, ew.Div, other)


Tensor.add_ = _inplace_binary(ew.Add)
Tensor.sub_ = _inplace_binary(ew.Sub)
Tensor.subtract_ = Tensor.sub_
Tensor.mul_ = lambda self, other: ew.inplace(self, ew.Mul, other)
Tensor.multiply_ = Tensor.mul_
Tensor.div_ = _inplace_div
Tensor.divide_ = Tensor.div_
Tensor.pow_ = lambda self, exponent: ew.inplace(self, ew.Pow, exponent)


def _unary_inplace(cls):
    return lambda self: ew.inplace(self, cls)


for _name, _cls in [
    ("exp_", ew.Exp),
    ("log_", ew.Log),
    ("sqrt_", ew.Sqrt),
    ("rsqrt_", ew.Rsqrt),
    ("sin_", ew.Sin),
    ("cos_", ew.Cos),
    ("tanh_", ew.Tanh),
    ("sigmoid_", ew.Sigmoid),
    ("relu_", ew.Relu),
    ("abs_", ew.Abs),
    ("neg_", ew.Neg),
    ("sign_", ew.Sign),
    ("floor_", ew.Floor),
    ("ceil_", ew.Ceil),
    ("round_", ew.Round),
    ("trunc_", ew.Trunc),
    ("reciprocal_", ew.Reciprocal),
    ("square_", ew.Square),
    ("log1p_", ew.Log1p),
    ("expm1_", ew.Expm1),
]:
    setattr(Tensor, _name, _unary_inplace(_cls))


def _clamp_(self, min=None, max=None):  # noqa: A002
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        return self.copy_(ew.clamp(self, min, max))
    return ew.inplace(self, ew.Clamp, min, max)


Tensor.clamp_ = _clamp_
Tensor.clip_ = _clamp_


def _masked_fill_(self, mask, value):
    m = mask.array if isinstance(mask, Tensor) else mask
    return ew.inplace(self, ew.MaskedFill, m, value)


def _scatter_(self, dim, index, src=None, *, value=None, reduce=None):
    return self.copy_(ix.scatter(self, dim, index, src, value=value, reduce=reduce))


def _scatter_add_(self, dim, index, src):
    return self.copy_(ix.scatter_add(self, dim, index, src))


def _lerp_(self, end, weight):
    return self.copy_(ew.lerp(self, end, weight))


def _uniform_(self, a=0.0, b=1.0, *, generator=None):
    from .. import random as _random

    vals = _random.generator(generator).uniform(a, b, self.array.shape)
    return _fill_random(self, vals)


def _normal_(self, mean=0.0, std=1.0, *, generator=None):
    from .. import random as _random

    vals = _random.generator(generator).normal(mean, std, self.array.shape)
    return _fill_random(self, vals)


def _bernoulli_(self, p=0.5, *, generator=None):
    from .. import random as _random

    vals = _random.generator(generator).random(self.array.shape) < p
    return _fill_random(self, vals)


def _random_(self, low=0, high=None, *, generator=None):
    from .. import random as _random

    if high is None:
        low, high = 0, low
    vals = _random.generator(generator).integers(low, high, self.array.shape)
    return _fill_random(self, vals)


def _fill_random(self, vals):
    if _views.recording(self, ()):
        base = self._base
        if base is not None and base.requires_grad and base.grad_fn is None:
            raise RuntimeError(_views._VIEW_OF_LEAF)
        if self.requires_grad and self.grad_fn is None:
            raise RuntimeError(ew._LEAF_MSG)
    if type(self.array) is not type(vals):
        from ..tensor import _to_device

        vals = _to_device(vals, self.device.type)
    self.array[...] = vals
    _views.bump(self)
    return self


Tensor.masked_fill_ = _masked_fill_
Tensor.scatter_ = _scatter_
Tensor.scatter_add_ = _scatter_add_
Tensor.lerp_ = _lerp_
Tensor.uniform_ = _uniform_
Tensor.normal_ = _normal_
Tensor.bernoulli_ = _bernoulli_
Tensor.random_ = _random_


def _index_put_(self, indices, values, accumulate=False):
    if accumulate:
        ix._index_add(
            self.array,
            tuple(i.array if isinstance(i, Tensor) else i for i in indices),
            values.array if isinstance(values, Tensor) else values,
        )
        return self
    self[tuple(indices)] = values
    return self


Tensor.index_put_ = _index_put_


def _addc_(op):
    def method(self, tensor1, tensor2, *, value=1):
        other = op(tensor1, tensor2)
        return ew.inplace(self, ew.Add, other if value == 1 else other * value)

    return method


Tensor.addcmul_ = _addc_(ew.mul)
Tensor.addcdiv_ = _addc_(ew.div)


def _new(fn_name):
    def method(self, *args, dtype=None, device=None, requires_grad=False, **kwargs):
        from . import creation

        return getattr(creation, fn_name)(
            *args,
            dtype=dtype or self.array.dtype,
            device=device or self.device,
            requires_grad=requires_grad,
            **kwargs,
        )

    return method


Tensor.new_zeros = _new("zeros")
Tensor.new_ones = _new("ones")
Tensor.new_empty = _new("empty")
Tensor.new_full = _new("full")


def _new_tensor(self, data, *, dtype=None, device=None, requires_grad=False):
    from . import creation

    return creation.tensor(
        data,
        dtype=dtype or self.array.dtype,
        device=device or self.device,
        requires_grad=requires_grad,
    )


Tensor.new_tensor = _new_tensor


# ---- the op long tail (issue 18): methods of the pointwise rows and compositions
from . import pointwise as pw  # noqa: E402

for _name in [
    "acos",
    "acosh",
    "angle",
    "arccos",
    "arccosh",
    "arcsin",
    "arcsinh",
    "arctan",
    "arctan2",
    "arctanh",
    "asin",
    "asinh",
    "atan",
    "atan2",
    "atanh",
    "bitwise_and",
    "bitwise_left_shift",
    "bitwise_or",
    "bitwise_right_shift",
    "bitwise_xor",
    "copysign",
    "cosh",
    "deg2rad",
    "digamma",
    "erf",
    "erfc",
    "erfinv",
    "float_power",
    "fmod",
    "frexp",
    "gcd",
    "heaviside",
    "hypot",
    "i0",
    "isneginf",
    "isposinf",
    "isreal",
    "lcm",
    "ldexp",
    "lgamma",
    "logaddexp",
    "logaddexp2",
    "logit",
    "mvlgamma",
    "nan_to_num",
    "nextafter",
    "positive",
    "rad2deg",
    "sgn",
    "signbit",
    "sinc",
    "sinh",
    "xlogy",
]:
    setattr(Tensor, _name, getattr(pw, _name))
Tensor.polygamma = lambda self, n: pw.polygamma(n, self)

for _name in [
    "acos",
    "asin",
    "atan",
    "acosh",
    "asinh",
    "atanh",
    "cosh",
    "sinh",
    "deg2rad",
    "rad2deg",
    "sinc",
    "erf",
    "erfc",
    "erfinv",
    "lgamma",
    "digamma",
    "i0",
]:
    setattr(Tensor, _name + "_", _unary_inplace(pw.UNARY_CLS[_name]))


def _inplace_of(fn):
    def method(self, *args, **kwargs):
        return self.copy_(fn(self, *args, **kwargs))

    return method


for _name in [
    "atan2",
    "hypot",
    "copysign",
    "fmod",
    "xlogy",
    "logit",
    "nan_to_num",
    "ldexp",
    "nextafter",
    "heaviside",
    "float_power",
    "mvlgamma",
    "gcd",
    "lcm",
    "bitwise_and",
    "bitwise_or",
    "bitwise_xor",
    "bitwise_left_shift",
    "bitwise_right_shift",
]:
    setattr(Tensor, _name + "_", _inplace_of(getattr(pw, _name)))
Tensor.round_ = _inplace_of(ew.round)
Tensor.polygamma_ = lambda self, n: self.copy_(pw.polygamma(n, self))


def _rdiv(self, other):
    return ew.div(other, self)


Tensor.__rdiv__ = _rdiv


def _cast_method(dtype_name):
    def method(self, memory_format=None):
        from .. import dtypes

        return self.to(getattr(dtypes, dtype_name))

    method.__name__ = dtype_name
    return method


for _name, _dtype in [
    ("float", "float32"),
    ("double", "float64"),
    ("half", "float16"),
    ("long", "int64"),
    ("int", "int32"),
    ("short", "int16"),
    ("char", "int8"),
    ("byte", "uint8"),
    ("bool", "bool"),
]:
    setattr(Tensor, _name, _cast_method(_dtype))

# ---- compositions (functions/compose.py), including the 0-d / empty edge cases of indexing.py
from . import compose as cp  # noqa: E402

for _name in [
    "flip",
    "gather",
    "index_select",
    "kthvalue",
    "nonzero",
    "scatter",
    "scatter_add",
    "take_along_dim",
    "topk",
    "tensor_split",
    "argwhere",
]:
    setattr(Tensor, _name, getattr(cp, _name))

for _name in [
    "index_add",
    "index_copy",
    "index_fill",
    "index_put",
    "put",
    "take",
    "masked_scatter",
    "ravel",
    "tile",
    "rot90",
    "diagonal",
    "diag_embed",
    "split_with_sizes",
    "select",
    "narrow_copy",
    "hsplit",
    "vsplit",
    "dsplit",
    "kron",
    "vdot",
    "cross",
    "nansum",
    "nanmean",
    "median",
    "nanmedian",
    "mode",
    "quantile",
    "nanquantile",
    "aminmax",
    "cummax",
    "cummin",
    "msort",
    "diff",
    "histc",
    "unique_consecutive",
    "renorm",
    "dist",
    "cov",
    "corrcoef",
]:
    setattr(Tensor, _name, getattr(cp, _name))
Tensor.cumprod = rd.cumprod
Tensor.logcumsumexp = rd.logcumsumexp


def _index_put_out(self, indices, values, accumulate=False):
    return cp.index_put(self, indices, values, accumulate)


Tensor.index_put = _index_put_out
for _name in [
    "index_add",
    "index_copy",
    "index_fill",
    "put",
    "masked_scatter",
    "renorm",
    "cumprod",
]:
    setattr(Tensor, _name + "_", _inplace_of(getattr(Tensor, _name)))

for _name in [
    "sum_to_size",
    "unfold",
    "as_strided",
    "select_scatter",
    "slice_scatter",
    "diagonal_scatter",
    "nonzero_static",
    "histogram",
    "unsafe_chunk",
    "unsafe_split",
    "conj",
    "conj_physical",
    "resolve_conj",
    "resolve_neg",
    "cauchy_",
    "exponential_",
    "geometric_",
    "log_normal_",
]:
    setattr(Tensor, _name, getattr(cp, _name))
Tensor.igamma, Tensor.igammac = pw.igamma, pw.igammac
Tensor.real = property(cp.real)
Tensor.mT = property(lambda self: sh.transpose(self, -2, -1))
Tensor.mH = Tensor.mT  # real tensors: the conjugate transpose is the transpose
Tensor.H = property(lambda self: sh.t(self))


def _new_empty_strided(
    self, size, stride, *, dtype=None, device=None, requires_grad=False, **kwargs
):
    return self.new_empty(tuple(size), dtype=dtype, device=device, requires_grad=requires_grad)


Tensor.new_empty_strided = _new_empty_strided
Tensor.scatter_reduce, Tensor.index_reduce = cp.scatter_reduce, cp.index_reduce
Tensor.scatter_reduce_ = _inplace_of(cp.scatter_reduce)
Tensor.index_reduce_ = _inplace_of(cp.index_reduce)


def _to_complex(dtype):
    def method(self, memory_format=None):
        return ew._nondiff(self.array.astype(dtype))

    return method


Tensor.cfloat = _to_complex("complex64")
Tensor.cdouble = _to_complex("complex128")
