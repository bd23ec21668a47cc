"""Shape, indexing and reduction long tail as compositions of the existing Functions (no new
derivatives: autograd flows through reshape, index_select, gather, cat, ... underneath).

Also the 0-d and zero-size edge cases of indexing.py's ops, handled here by lifting a 0-d input
to 1-d and back (indexing.py/shape.py are append-only while the view machinery is reworked).
"""

from __future__ import annotations

import builtins
import collections
import itertools
import math

import numpy as np

from .. import dtypes as _dt
from .._util import xp_of
from ..autograd.function import Function, unbroadcast
from ..tensor import Tensor, _make
from . import elementwise as ew
from . import indexing as ix
from . import reduce as rd
from . import shape as sh


def _t(x):
    return x if isinstance(x, Tensor) else ew._to_tensor(x)


def _arr(x):
    return x.array if isinstance(x, Tensor) else np.asarray(x)


def _nd(x):
    return x.array.ndim


def _lift(x):
    """A 0-d tensor as shape (1,)."""
    return sh.reshape(x, (1,)) if isinstance(x, Tensor) and x.array.ndim == 0 else x


def _check_dim0(dim, name):
    if dim not in (0, -1):
        raise IndexError(
            f"{name}: Dimension out of range (expected to be in range of [-1, 0], but got {dim})"
        )


# ------------------------------------------------------------------ indexing, 0-d and empty
def flip(input, *dims, **kwargs):  # noqa: A002
    """Reverse the order along ``dims`` (positional or ``dims=``)."""
    if "dims" in kwargs:
        dims = kwargs.pop("dims")
    if kwargs:
        raise TypeError(f"flip() got unexpected keyword arguments {sorted(kwargs)}")
    if len(dims) == 1 and isinstance(dims[0], (list, tuple)):
        dims = tuple(dims[0])
    if isinstance(dims, int):
        dims = (dims,)
    if _nd(input) == 0:
        return input.clone()
    return sh.flip(input, *dims)


def index_select(input, dim, index):  # noqa: A002
    if _nd(input) == 0:
        _check_dim0(dim, "index_select")
        out = ix.index_select(_lift(input), 0, index)
        return sh.reshape(out, ()) if _arr(index).ndim == 0 or out.array.size == 1 else out
    return ix.index_select(input, dim, index)


def gather(input, dim, index, *, sparse_grad=False):  # noqa: A002
    ia = _arr(index)
    if ia.size == 0:  # torch accepts an empty index of any rank
        return ix.getitem(sh.reshape(input, (-1,)), np.zeros(ia.shape, np.int64))
    if _nd(input) == 0:
        _check_dim0(dim, "gather")
        out = ix.gather(_lift(input), 0, ia.reshape(-1))
        return sh.reshape(out, ia.shape)
    return ix.gather(input, dim, index)


def take_along_dim(input, indices, dim=None):  # noqa: A002
    """``gather`` with ``indices`` broadcast against ``input`` in every dim but ``dim``."""
    if dim is None:
        return ix.gather(sh.reshape(input, (-1,)), 0, sh.reshape(_t(indices), (-1,)))
    x, idx = _arr(input), _arr(indices)
    d = dim % builtins.max(x.ndim, 1)
    xs, js = list(x.shape), list(idx.shape)
    xs[d] = js[d] = 1
    b = np.broadcast_shapes(tuple(xs), tuple(js))
    xshape = b[:d] + (x.shape[d],) + b[d + 1 :]
    ishape = b[:d] + (idx.shape[d],) + b[d + 1 :]
    inp = input if x.shape == xshape else sh.expand(input, xshape)
    return gather(inp, d, np.broadcast_to(idx, ishape).copy())


def scatter(input, dim, index, src=None, *, value=None, reduce=None):  # noqa: A002
    if _nd(input) == 0:
        _check_dim0(dim, "scatter")
        s = src if src is not None else value
        out = ix.scatter(_lift(input), 0, _arr(index).reshape(-1), _lift(s), reduce=reduce)
        return sh.reshape(out, ())
    return ix.scatter(input, dim, index, src, value=value, reduce=reduce)


def scatter_add(input, dim, index, src):  # noqa: A002
    return scatter(input, dim, index, src, reduce="add")


def nonzero(input, *, as_tuple=False):  # noqa: A002
    a = input.array
    if a.ndim == 0:
        n = int(bool(a))
        if as_tuple:
            return (_make(np.zeros(n, np.int64), False, None, 0),)
        return _make(np.zeros((n, 0), np.int64), False, None, 0)
    return ix.nonzero(input, as_tuple=as_tuple)


def argwhere(input):  # noqa: A002
    return nonzero(input)


def topk(input, k, dim=-1, largest=True, sorted=True):  # noqa: A002
    if _nd(input) == 0:
        if k > 1:
            raise RuntimeError("selected index k out of range")
        _check_dim0(dim, "topk")
        v, i = ix.topk(_lift(input), k, 0, largest, sorted)
        shape = () if k == 1 else (0,)
        return ix.return_topk(sh.reshape(v, shape), _make(i.array.reshape(shape), False, None, 0))
    return ix.topk(input, k, dim, largest, sorted)


_kthvalue = collections.namedtuple("kthvalue", ["values", "indices"])


def kthvalue(input, k, dim=-1, keepdim=False):  # noqa: A002
    """The k-th smallest element along ``dim`` (values differentiable, indices int64)."""
    if _nd(input) == 0:
        if k != 1:
            raise RuntimeError("kthvalue(): selected number k out of range")
        return _kthvalue(input.clone(), _make(np.zeros((), np.int64), False, None, 0))
    n = _nd(input)
    axis = dim % n
    if not 1 <= k <= input.array.shape[axis]:
        raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {dim}")
    v, i = ix.sort(input, axis)
    v, i = sh.narrow(v, axis, k - 1, 1), _make(np.take(i.array, [k - 1], axis=axis), False, None, 0)
    if not keepdim:
        v, i = sh.squeeze(v, axis), _make(np.squeeze(i.array, axis), False, None, 0)
    return _kthvalue(v, i)


def tensor_split(input, indices_or_sections, dim=0):  # noqa: A002
    ios = indices_or_sections
    if isinstance(ios, Tensor):
        a = ios.array
        ios = int(a) if a.ndim == 0 else [int(v) for v in a.tolist()]
    return sh.tensor_split(input, ios, dim)


# ------------------------------------------------------------- one primitive: accumulate
class IndexAdd(Function):
    """``out = x.copy(); out[idx] += v`` (repeated indices accumulate); d/dx = g, d/dv = g[idx]."""

    @staticmethod
    def forward(ctx, x, v, idx):
        out = x.copy()
        vv = v if hasattr(v, "shape") else np.asarray(v, dtype=x.dtype)
        ix._index_add(out, idx, vv.astype(x.dtype, copy=False))
        ctx.meta = (idx, getattr(v, "shape", ()))
        return out

    @staticmethod
    def backward(ctx, g):
        idx, vshape = ctx.meta
        nx, nv = ctx.needs_input_grad[:2]
        return (g if nx else None), (unbroadcast(g[idx], vshape) if nv else None), None


def _along(index, dim, ndim):
    """The index tuple selecting ``index`` along ``dim`` (all of every other dim)."""
    return (builtins.slice(None),) * dim + (np.asarray(index, dtype=np.int64),)


def _src_dtype(src, like):
    if isinstance(src, Tensor) and src.array.dtype != like.array.dtype:
        return ew.cast(src, like.array.dtype)
    return src


def index_add(input, dim, index, source, *, alpha=1):  # noqa: A002
    """``input`` with ``alpha * source`` added at ``index`` along ``dim``."""
    d = dim % builtins.max(_nd(input), 1)
    src = source if alpha == 1 else ew.mul(source, alpha)
    if _nd(input) == 0:
        return ew.add(input, sh.reshape(src, ()) if isinstance(src, Tensor) else src)
    return IndexAdd.apply(input, _src_dtype(src, input), _along(_arr(index).reshape(-1), d, 0))


def index_copy(input, dim, index, source):  # noqa: A002
    d = dim % builtins.max(_nd(input), 1)
    if _nd(input) == 0:
        return ew.clone(sh.reshape(source, ()))
    idx = _along(_arr(index).reshape(-1), d, 0)
    return ix.SetItem.apply(input, _src_dtype(source, input), idx)


def index_fill(input, dim, index, value):  # noqa: A002
    d = dim % builtins.max(_nd(input), 1)
    if _nd(input) == 0:
        return ew.masked_fill(input, np.asarray(True), value)
    mask = np.zeros(input.array.shape[d], dtype=bool)
    mask[_arr(index).reshape(-1)] = True
    mask = mask.reshape((-1,) + (1,) * (_nd(input) - d - 1))
    return ew.masked_fill(input, np.broadcast_to(mask, input.array.shape), value)


def index_put(input, indices, values, accumulate=False):  # noqa: A002
    idx, _ = ix.normalize_index(tuple(indices))
    values = _src_dtype(_t(values), input)
    if accumulate:
        return IndexAdd.apply(input, values, idx)
    return ix.SetItem.apply(input, values, idx)


def put(input, index, source, accumulate=False):  # noqa: A002
    """``input.flatten()[index] = source`` (or ``+=``), reshaped back."""
    flat = sh.reshape(input, (-1,))
    idx = (_arr(index).reshape(-1),)
    src = sh.reshape(_src_dtype(source, input), (-1,))
    out = IndexAdd.apply(flat, src, idx) if accumulate else ix.SetItem.apply(flat, src, idx)
    return sh.reshape(out, input.array.shape)


def take(input, index):  # noqa: A002
    return ix.getitem(sh.reshape(input, (-1,)), _arr(index))


def masked_scatter(input, mask, source):  # noqa: A002
    """``input`` with the True positions of ``mask`` (broadcast) filled from ``source`` in order."""
    m = _arr(mask)
    shape = np.broadcast_shapes(input.array.shape, m.shape)
    x = input if input.array.shape == shape else sh.expand(input, shape)
    m = np.broadcast_to(m, shape)
    n = int(m.sum())
    src = sh.reshape(source, (-1,))
    vals = ix.getitem(src, builtins.slice(0, n))
    return ix.SetItem.apply(x, _src_dtype(vals, x), np.nonzero(m))


# -------------------------------------------------------------------------------- shape
def atleast_1d(*tensors):
    ts = tensors[0] if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)) else tensors
    out = [sh.reshape(t, (1,)) if _nd(t) == 0 else t for t in ts]
    return out[0] if len(tensors) == 1 and isinstance(tensors[0], Tensor) else tuple(out)


def atleast_2d(*tensors):
    ts = tensors[0] if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)) else tensors
    out = [sh.reshape(t, (1,) * (2 - _nd(t)) + t.array.shape) if _nd(t) < 2 else t for t in ts]
    return out[0] if len(tensors) == 1 and isinstance(tensors[0], Tensor) else tuple(out)


def atleast_3d(*tensors):
    ts = tensors[0] if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)) else tensors
    out = []
    for t in ts:
        n = _nd(t)
        shape = {0: (1, 1, 1), 1: (1,) + t.array.shape + (1,), 2: t.array.shape + (1,)}
        out.append(sh.reshape(t, shape[n]) if n < 3 else t)
    return out[0] if len(tensors) == 1 and isinstance(tensors[0], Tensor) else tuple(out)


def ravel(input):  # noqa: A002
    return sh.reshape(input, (-1,))


def tile(input, dims):  # noqa: A002
    dims = tuple(dims) if isinstance(dims, (list, tuple)) else (dims,)
    n = _nd(input)
    if len(dims) < n:
        dims = (1,) * (n - len(dims)) + dims
    x = input if n >= len(dims) else sh.reshape(input, (1,) * (len(dims) - n) + input.array.shape)
    return sh.repeat(x, *dims)


def rot90(input, k=1, dims=(0, 1)):  # noqa: A002
    d0, d1 = (d % _nd(input) for d in dims)
    if len(dims) != 2 or d0 == d1:
        raise RuntimeError(f"rot90: expected two distinct dims, got {tuple(dims)}")
    k %= 4
    if k == 0:
        return ew.clone(input)
    if k == 2:
        return sh.flip(input, d0, d1)
    if k == 1:
        return sh.transpose(sh.flip(input, d1), d0, d1)
    return sh.flip(sh.transpose(input, d0, d1), d1)


def _diag_index(shape, offset, d1, d2):
    n1, n2 = shape[d1], shape[d2]
    if offset >= 0:
        m = builtins.max(builtins.min(n1, n2 - offset), 0)
        return np.arange(m), np.arange(m) + offset
    m = builtins.max(builtins.min(n1 + offset, n2), 0)
    return np.arange(m) - offset, np.arange(m)


def diagonal(input, offset=0, dim1=0, dim2=1):  # noqa: A002
    """The diagonal of dims (dim1, dim2), appended as the last dim."""
    n = _nd(input)
    d1, d2 = dim1 % n, dim2 % n
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    i, j = _diag_index(input.array.shape, offset, d1, d2)
    x = sh.movedim(input, (d1, d2), (-2, -1))
    return ix.getitem(x, (Ellipsis, i, j))


def diag_embed(input, offset=0, dim1=-2, dim2=-1):  # noqa: A002
    """Last dim of ``input`` placed on the ``offset`` diagonal of two new dims (dim1, dim2)."""
    n = input.array.shape[-1]
    m = n + builtins.abs(offset)
    batch = input.array.shape[:-1]
    zeros = _make(xp_of(input.array).zeros(batch + (m, m), input.array.dtype), False, None, 0)
    i, j = _diag_index((m, m), offset, 0, 1)
    out = ix.SetItem.apply(zeros, input, (Ellipsis, i, j))
    nd = out.array.ndim
    return sh.movedim(out, (nd - 2, nd - 1), (dim1 % nd, dim2 % nd))


def diagflat(input, offset=0):  # noqa: A002
    return diag_embed(sh.reshape(input, (-1,)), offset)


def split_with_sizes(input, split_sizes, dim=0):  # noqa: A002
    return sh.split(input, list(split_sizes), dim)


def select(input, dim, index):  # noqa: A002
    d = dim % _nd(input)
    return ix.getitem(input, (builtins.slice(None),) * d + (int(index),))


def slice(input, dim=0, start=None, end=None, step=1):  # noqa: A001,A002
    d = dim % _nd(input)
    return ix.getitem(input, (builtins.slice(None),) * d + (builtins.slice(start, end, step),))


def narrow_copy(input, dim, start, length):  # noqa: A002
    return ew.clone(sh.narrow(input, dim, start, length))


def _nsplit(name, min_nd, axis_of):
    def fn(input, indices_or_sections):  # noqa: A002
        if _nd(input) < min_nd:
            raise RuntimeError(
                f"torch.{name} requires a tensor with at least {min_nd} dimension, but got a "
                f"tensor with {_nd(input)} dimensions!"
            )
        ios = indices_or_sections
        axis = axis_of(_nd(input))
        if isinstance(ios, int) and input.array.shape[axis] % ios:
            raise RuntimeError(
                f"torch.{name} attempted to split along dimension {axis}, but the size of the "
                f"dimension {input.array.shape[axis]} is not divisible by the split_size {ios}!"
            )
        return tuple(tensor_split(input, ios, axis))

    fn.__name__ = name
    return fn


hsplit = _nsplit("hsplit", 1, lambda n: 1 if n > 1 else 0)
vsplit = _nsplit("vsplit", 2, lambda n: 0)
dsplit = _nsplit("dsplit", 3, lambda n: 2)


def column_stack(tensors):
    cols = [sh.reshape(t, (-1, 1)) if _nd(t) <= 1 else t for t in tensors]
    return sh.cat(cols, 1)


def dstack(tensors):
    return sh.cat(list(atleast_3d(*tensors)) if len(tensors) > 1 else [atleast_3d(tensors[0])], 2)


def block_diag(*tensors):
    """Tensors placed along the diagonal of a zero matrix."""
    mats = [sh.reshape(t, (1, -1)) if _nd(t) < 2 else t for t in tensors]
    mats = [sh.reshape(t, (1, 1)) if _nd(t) == 0 else m for t, m in zip(tensors, mats)]
    if not mats:
        return _make(np.zeros((0, 0), np.float32), False, None, 0)
    dt = mats[0].array.dtype
    for m in mats[1:]:
        dt = np.promote_types(dt, m.array.dtype)
    rows = builtins.sum(m.array.shape[0] for m in mats)
    cols = builtins.sum(m.array.shape[1] for m in mats)
    out = _make(xp_of(mats[0].array).zeros((rows, cols), dt), False, None, 0)
    r = c = 0
    for m in mats:
        h, w = m.array.shape
        out = ix.SetItem.apply(
            out, _src_dtype(m, out), (builtins.slice(r, r + h), builtins.slice(c, c + w))
        )
        r, c = r + h, c + w
    return out


def cartesian_prod(*tensors):
    if len(tensors) == 1:
        return tensors[0]
    grids = sh.meshgrid(*tensors, indexing="ij")
    return sh.stack([sh.reshape(g, (-1,)) for g in grids], 1)


def combinations(input, r=2, with_replacement=False):  # noqa: A002
    n = input.array.shape[0]
    gen = itertools.combinations_with_replacement if with_replacement else itertools.combinations
    idx = np.asarray(list(gen(range(n), r)), dtype=np.int64).reshape(-1, r)
    return ix.getitem(input, idx)


def kron(input, other):  # noqa: A002
    a, b = input, other
    n = builtins.max(_nd(a), _nd(b))
    a = sh.reshape(a, (1,) * (n - _nd(a)) + a.array.shape)
    b = sh.reshape(b, (1,) * (n - _nd(b)) + b.array.shape)
    sa, sb = a.array.shape, b.array.shape
    # a[i, None, j, None] * b[None, k, None, l] -> (i*k, j*l)
    ae = sh.reshape(a, tuple(v for s in sa for v in (s, 1)))
    be = sh.reshape(b, tuple(v for s in sb for v in (1, s)))
    return sh.reshape(ew.mul(ae, be), tuple(x * y for x, y in zip(sa, sb)))


def tensordot(a, b, dims=2, out=None):
    if isinstance(dims, Tensor):
        dims = dims.array.tolist()
    if isinstance(dims, int):
        da = list(range(_nd(a) - dims, _nd(a)))
        db = list(range(dims))
    else:
        da, db = ([d] if isinstance(d, int) else list(d) for d in dims)
    da = [d % _nd(a) for d in da]
    db = [d % _nd(b) for d in db]
    fa = [d for d in range(_nd(a)) if d not in da]
    fb = [d for d in range(_nd(b)) if d not in db]
    sa, sb = a.array.shape, b.array.shape
    k = math.prod(sa[d] for d in da)
    am = sh.reshape(sh.permute(a, *(fa + da)), (math.prod(sa[d] for d in fa), k))
    bm = sh.reshape(sh.permute(b, *(db + fb)), (k, math.prod(sb[d] for d in fb)))
    from .gemm import matmul

    return sh.reshape(matmul(am, bm), tuple(sa[d] for d in fa) + tuple(sb[d] for d in fb))


def vdot(input, other):  # noqa: A002
    if _nd(input) != 1 or _nd(other) != 1:
        raise RuntimeError(f"1D tensors expected, but got {_nd(input)}D and {_nd(other)}D tensors")
    return rd.sum(ew.mul(input, other))


def cross(input, other, dim=None):  # noqa: A002
    """Cross product of 3-vectors along ``dim`` (the first dim of size 3 when None)."""
    if input.array.shape != other.array.shape:
        shape = np.broadcast_shapes(input.array.shape, other.array.shape)
        input, other = sh.expand(input, shape), sh.expand(other, shape)
    if dim is None:
        dim = next((i for i, s in enumerate(input.array.shape) if s == 3), None)
        if dim is None:
            raise RuntimeError("no dimension of size 3 in input")
    d = dim % _nd(input)
    if input.array.shape[d] != 3:
        raise RuntimeError(
            f"linalg.cross: inputs dimension {dim} must have length 3. Got "
            f"{input.array.shape[d]} and {other.array.shape[d]}"
        )
    i1, i2 = np.array([1, 2, 0]), np.array([2, 0, 1])
    a1, a2 = ix.index_select(input, d, i1), ix.index_select(input, d, i2)
    b1, b2 = ix.index_select(other, d, i1), ix.index_select(other, d, i2)
    return ew.sub(ew.mul(a1, b2), ew.mul(a2, b1))


def broadcast_shapes(*shapes):
    shapes = [(s,) if isinstance(s, int) else tuple(s) for s in shapes]
    try:
        return _dt.Size(np.broadcast_shapes(*shapes))
    except ValueError:
        raise RuntimeError(
            f"Shape mismatch: objects cannot be broadcast to a single shape {shapes}"
        ) from None


def tril_indices(row, col, offset=0, *, dtype=None, device=None, layout=None):
    r, c = np.tril_indices(row, offset, col)
    return _make(np.stack([r, c]).astype(dtype or np.int64), False, None, 0)


def triu_indices(row, col, offset=0, *, dtype=None, device=None, layout=None):
    r, c = np.triu_indices(row, offset, col)
    return _make(np.stack([r, c]).astype(dtype or np.int64), False, None, 0)


def unravel_index(indices, shape):
    a = _arr(indices)
    if a.dtype.kind not in "iu":
        raise TypeError("unravel_index: expected 'indices' to be an integer tensor")
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    if (a < 0).any() or (a >= math.prod(shape)).any():
        raise RuntimeError("unravel_index: index out of bounds")
    res = np.unravel_index(a, shape) if shape else ()
    return tuple(_make(np.asarray(r, dtype=np.int64), False, None, 0) for r in res)


def fill(input, value):  # noqa: A002
    """A tensor shaped like ``input`` filled with ``value`` (differentiable in a 0-d value)."""
    v = (
        value
        if isinstance(value, Tensor)
        else _make(np.asarray(value, dtype=input.array.dtype), False, None, 0)
    )
    if v.array.dtype != input.array.dtype:
        v = ew.cast(v, input.array.dtype)
    return ew.clone(sh.expand(v, input.array.shape))


def zero_(input):  # noqa: A002
    return ew.zero_(input)


def _copy_of(fn):
    def copy_variant(*args, **kwargs):
        out = fn(*args, **kwargs)
        if isinstance(out, (list, tuple)):
            return type(out)(ew.clone(o) for o in out)
        return ew.clone(out)

    copy_variant.__name__ = fn.__name__ + "_copy"
    return copy_variant


expand_copy = _copy_of(sh.expand)
permute_copy = _copy_of(sh.permute)
t_copy = _copy_of(sh.t)
transpose_copy = _copy_of(sh.transpose)
unsqueeze_copy = _copy_of(sh.unsqueeze)
squeeze_copy = _copy_of(sh.squeeze)
view_copy = _copy_of(sh.view)
diagonal_copy = _copy_of(diagonal)
unbind_copy = _copy_of(sh.unbind)
split_with_sizes_copy = _copy_of(split_with_sizes)
alias_copy = _copy_of(lambda input: input)  # noqa: A002


# ------------------------------------------------------------- reductions and scans
_named = {}


def _ret(name, fields, *vals):
    if name not in _named:
        _named[name] = collections.namedtuple(name, fields)
    return _named[name](*vals)


def _long(a):
    return _make(np.asarray(a, dtype=np.int64), False, None, 0)


def _nan_zeroed(input):
    return ew.where(ew.isnan(input), 0.0, input) if input.array.dtype.kind == "f" else input


def nansum(input, dim=None, keepdim=False, *, dtype=None):  # noqa: A002
    return rd.sum(_nan_zeroed(input), dim, keepdim, dtype=dtype)


def nanmean(input, dim=None, keepdim=False, *, dtype=None):  # noqa: A002
    x = input if dtype is None else ew.cast(input, dtype)
    if x.array.dtype.kind != "f":
        raise RuntimeError("nanmean(): expected input to have floating point dtype")
    count = rd.sum(ew.logical_not(ew.isnan(x)), dim, keepdim)
    return ew.div(nansum(x, dim, keepdim), ew.cast(count, x.array.dtype))


def _median(input, dim, keepdim, ignore_nan):
    if dim is None:
        x = sh.reshape(input, (-1,))
        a = x.array
        if a.size == 0:
            return _make(np.asarray(np.nan, a.dtype), False, None, 0) * 1
        v, i = ix.sort(x, 0)
        nnan = int(np.isnan(a).sum())
        if nnan and not ignore_nan:
            return ix.getitem(v, int(np.argmax(np.isnan(v.array))))
        k = (a.size - nnan - 1) // 2 if ignore_nan else (a.size - 1) // 2
        return ix.getitem(v, builtins.max(k, 0))
    if _nd(input) == 0:
        return _ret("median", ["values", "indices"], ew.clone(input), _long(0))
    d = dim % _nd(input)
    v, i = ix.sort(input, d)
    nan = np.isnan(v.array)
    n = input.array.shape[d]
    cnt = n - nan.sum(axis=d, keepdims=True)
    if ignore_nan:
        k = np.maximum((cnt - 1) // 2, 0)
    else:  # a NaN in the slice is the median (sorted last: the first NaN)
        k = np.where(cnt < n, cnt, (n - 1) // 2)
    k = np.broadcast_to(k, v.array.shape[:d] + (1,) + v.array.shape[d + 1 :]).astype(np.int64)
    vals = ix.gather(v, d, k)
    idx = np.take_along_axis(i.array, k, axis=d)
    if not keepdim:
        vals, idx = sh.squeeze(vals, d), np.squeeze(idx, d)
    return _ret("median", ["values", "indices"], vals, _long(idx))


def median(input, dim=None, keepdim=False):  # noqa: A002
    """The lower median (NaN if the slice holds one); with ``dim``, (values, indices)."""
    return _median(input, dim, keepdim, False)


def nanmedian(input, dim=None, keepdim=False):  # noqa: A002
    return _median(input, dim, keepdim, True)


def mode(input, dim=-1, keepdim=False):  # noqa: A002
    """Most frequent value along ``dim`` (the smallest on ties) and the index of its last
    occurrence, as torch's CPU kernel."""
    if _nd(input) == 0:
        return _ret("mode", ["values", "indices"], ew.clone(input), _long(0))
    d = dim % _nd(input)
    a = np.moveaxis(np.asarray(input.array), d, -1)
    flat = a.reshape(-1, a.shape[-1])
    idx = np.zeros(flat.shape[0], np.int64)
    for r, row in enumerate(flat):
        if row.size == 0:
            continue
        vals, counts = np.unique(row, return_counts=True)
        best = vals[np.argmax(counts)]
        idx[r] = np.nonzero(row == best)[0][-1]
    idx = np.moveaxis(idx.reshape(a.shape[:-1] + (1,)), -1, d)
    vals = ix.gather(input, d, idx)
    if not keepdim:
        vals, idx = sh.squeeze(vals, d), np.squeeze(idx, d)
    return _ret("mode", ["values", "indices"], vals, _long(idx))


def _quantile(input, q, dim, keepdim, interpolation, ignore_nan):
    if interpolation not in ("linear", "lower", "higher", "midpoint", "nearest"):
        raise ValueError(
            f"quantile() interpolation must be one of linear, lower, higher, "
            f"midpoint or nearest. Got {interpolation}"
        )
    qs = _arr(q).astype(np.float64)
    if (qs < 0).any() or (qs > 1).any():
        raise RuntimeError("quantile() q values must be in the range [0, 1]")
    x = sh.reshape(input, (-1,)) if dim is None else input
    d = 0 if dim is None else dim % builtins.max(_nd(x), 1)
    if _nd(x) == 0:
        x = sh.reshape(x, (1,))
    v, _ = ix.sort(x, d)
    n = x.array.shape[d]
    nan = np.isnan(v.array)
    cnt = (
        (n - nan.sum(axis=d, keepdims=True))
        if ignore_nan
        else np.full(v.array.shape[:d] + (1,) + v.array.shape[d + 1 :], n)
    )
    has_nan = nan.any(axis=d, keepdims=True)
    outs = []
    q_grad = isinstance(q, Tensor) and q.requires_grad and interpolation == "linear"
    q_flat = sh.reshape(q, (-1,)) if q_grad else None
    for qi, qv in enumerate(qs.reshape(-1)):
        pos = qv * (cnt - 1).astype(np.float64)
        lo = np.floor(pos).astype(np.int64)
        hi = np.ceil(pos).astype(np.int64)
        if interpolation == "lower":
            hi = lo
        elif interpolation == "higher":
            lo = hi
        elif interpolation == "nearest":
            lo = hi = np.round(pos).astype(np.int64)  # torch rounds half to even too
        lo, hi = np.clip(lo, 0, builtins.max(n - 1, 0)), np.clip(hi, 0, builtins.max(n - 1, 0))
        a, b = ix.gather(v, d, lo), ix.gather(v, d, hi)
        if interpolation == "midpoint":
            w = np.full(lo.shape, 0.5)
        elif interpolation == "linear":
            w = pos - np.floor(pos)
        else:
            w = np.zeros(lo.shape)
        w = _make(w.astype(input.array.dtype), False, None, 0)
        if q_grad:  # w = q (n - 1) - floor(q (n - 1)): the gradient reaches q
            cm1 = _make((cnt - 1).astype(input.array.dtype), False, None, 0)
            qe = ew.cast(ix.getitem(q_flat, qi), input.array.dtype)
            qc = ew.mul(qe, cm1)
            w = ew.add(ew.sub(qc, qc.detach()), w)
        r = ew.add(a, ew.mul(ew.sub(b, a), w))
        bad = (cnt == 0) if ignore_nan else has_nan
        if bad.any():
            r = ew.where(_make(bad, False, None, 0), float("nan"), r)
        if not keepdim:
            r = sh.squeeze(r, d)
        elif dim is None:
            r = sh.reshape(r, (1,) * _nd(input))
        outs.append(r)
    if _nd(input) == 0:  # a 0-d input gives 0-d results, keepdim or not
        outs = [sh.reshape(o, ()) for o in outs]
    if qs.ndim == 0:
        return outs[0]
    return sh.stack(outs, 0)


def quantile(input, q, dim=None, keepdim=False, *, interpolation="linear"):  # noqa: A002
    return _quantile(input, q, dim, keepdim, interpolation, False)


def nanquantile(input, q, dim=None, keepdim=False, *, interpolation="linear"):  # noqa: A002
    return _quantile(input, q, dim, keepdim, interpolation, True)


def aminmax(input, *, dim=None, keepdim=False):  # noqa: A002
    d = () if dim is None else dim
    return _ret("aminmax", ["min", "max"], rd.amin(input, d, keepdim), rd.amax(input, d, keepdim))


def _cum_ext(input, dim, op, name):
    """cummax/cummin: indices from NumPy, values through gather (so differentiable)."""
    if _nd(input) == 0:
        return _ret(name, ["values", "indices"], ew.clone(input), _long(0))
    d = dim % _nd(input)
    a = np.moveaxis(np.asarray(input.array), d, -1)
    idx = np.zeros(a.shape, np.int64)
    if a.shape[-1]:
        best = a[..., 0].copy()
        for j in range(1, a.shape[-1]):
            c = a[..., j]
            # ties move to the later index, and a NaN sticks (torch's rule)
            take = (op(c, best) | (c == best) | np.isnan(c)) & ~np.isnan(best)
            idx[..., j] = np.where(take, j, idx[..., j - 1])
            best = np.where(take, c, best)
    idx = np.moveaxis(idx, -1, d)
    return _ret(name, ["values", "indices"], ix.gather(input, d, idx), _long(idx))


def cummax(input, dim):  # noqa: A002
    return _cum_ext(input, dim, np.greater, "cummax")


def cummin(input, dim):  # noqa: A002
    return _cum_ext(input, dim, np.less, "cummin")


def msort(input):  # noqa: A002
    return ix.sort(input, 0).values


def diff(input, n=1, dim=-1, prepend=None, append=None):  # noqa: A002
    d = dim % _nd(input)
    x = input
    if n == 0:
        return input
    if prepend is not None or append is not None:
        parts = [p if _nd(p) else sh.reshape(p, (1,)) for p in (prepend,) if p is not None]
        parts += [x] + [a for a in (append,) if a is not None]
        x = sh.cat([_t(p) for p in parts], d)
    for _ in range(n):
        m = x.array.shape[d]
        if m == 0:
            break
        hi, lo = sh.narrow(x, d, 1, m - 1), sh.narrow(x, d, 0, m - 1)
        x = ew.logical_xor(hi, lo) if x.array.dtype == np.bool_ else ew.sub(hi, lo)
    return x


def histc(input, bins=100, min=0, max=0):  # noqa: A001,A002
    a = np.asarray(input.array)
    lo, hi = float(min), float(max)
    if lo == hi and a.size:
        lo, hi = float(a.min()), float(a.max())
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    counts, _ = np.histogram(a, bins=bins, range=(lo, hi))
    return _make(counts.astype(a.dtype), False, None, 0)


def searchsorted(
    sorted_sequence,
    input,
    *,
    out_int32=False,
    right=False,
    side=None,  # noqa: A002
    sorter=None,
):
    seq = np.asarray(_arr(sorted_sequence))
    v = np.asarray(_arr(input))
    side = side or ("right" if right else "left")
    if sorter is not None:
        seq = np.take_along_axis(seq, _arr(sorter), -1)
    if v.size == 0:
        res = np.zeros(v.shape, np.int64)
    elif seq.ndim <= 1:
        res = np.searchsorted(seq, v, side=side)
    else:
        fs, fv = seq.reshape(-1, seq.shape[-1]), v.reshape(-1, v.shape[-1])
        res = np.stack([np.searchsorted(s, r, side=side) for s, r in zip(fs, fv)]).reshape(v.shape)
    return _make(np.asarray(res, dtype=np.int32 if out_int32 else np.int64), False, None, 0)


def bucketize(input, boundaries, *, out_int32=False, right=False):  # noqa: A002
    return searchsorted(
        boundaries, input, out_int32=out_int32, side="left" if not right else "right"
    )


def isin(elements, test_elements, *, assume_unique=False, invert=False):
    return _make(
        np.asarray(np.isin(_arr(elements), _arr(test_elements), invert=invert)), False, None, 0
    )


def unique_consecutive(input, return_inverse=False, return_counts=False, dim=None):  # noqa: A002
    a = np.asarray(input.array)
    if dim is None:
        flat = a.reshape(-1)
        keep = np.ones(flat.shape[0], bool)
        keep[1:] = flat[1:] != flat[:-1]
        vals = flat[keep]
        inv_shape = a.shape
    else:
        d = dim % a.ndim
        m = np.moveaxis(a, d, 0).reshape(a.shape[d], -1 if a.shape[d] else 0)
        keep = np.ones(m.shape[0], bool)
        keep[1:] = (m[1:] != m[:-1]).any(axis=1)
        vals = np.compress(keep, a, axis=d)
        inv_shape = (a.shape[d],)
    out = [_make(np.ascontiguousarray(vals), False, None, 0)]
    if return_inverse:
        out.append(_long((np.cumsum(keep) - 1).reshape(inv_shape)))
    if return_counts:
        starts = np.flatnonzero(keep)
        out.append(_long(np.diff(np.append(starts, keep.shape[0]))))
    return out[0] if len(out) == 1 else tuple(out)


def _dx_slices(y, x, dx, d):
    n = y.array.shape[d]
    hi, lo = sh.narrow(y, d, 1, n - 1), sh.narrow(y, d, 0, n - 1)
    avg = ew.div(ew.add(hi, lo), 2)
    if x is None:
        return ew.mul(avg, dx)
    xs = x if _nd(x) == 1 else x
    if _nd(xs) == 1:
        dxs = ew.sub(sh.narrow(xs, 0, 1, n - 1), sh.narrow(xs, 0, 0, n - 1))
        shape = [1] * _nd(y)
        shape[d] = n - 1
        dxs = sh.reshape(dxs, tuple(shape))
    else:
        dxs = diff(xs, dim=d if _nd(xs) == _nd(y) else -1)
    return ew.mul(avg, dxs)


def trapezoid(y, x=None, *, dx=None, dim=-1):
    d = dim % _nd(y)
    if y.array.shape[d] == 0:
        return rd.sum(y, d)
    return rd.sum(_dx_slices(y, x, 1 if dx is None else dx, d), d)


def trapz(y, x=None, *, dx=None, dim=-1):
    return trapezoid(y, x, dx=dx, dim=dim)


def cumulative_trapezoid(y, x=None, *, dx=None, dim=-1):
    d = dim % _nd(y)
    if y.array.shape[d] == 0:
        return ew.clone(y)
    return rd.cumsum(_dx_slices(y, x, 1 if dx is None else dx, d), d)


def cov(input, *, correction=1, fweights=None, aweights=None):  # noqa: A002
    x = input if _nd(input) == 2 else sh.reshape(input, (1, -1))
    if x.array.dtype.kind != "f":
        x = ew.cast(x, _dt.get_default_dtype())
    n = x.array.shape[1]
    w = None
    if fweights is not None:
        w = ew.cast(_t(fweights), x.array.dtype)
    if aweights is not None:
        aw = ew.cast(_t(aweights), x.array.dtype)
        w = aw if w is None else ew.mul(w, aw)
    if w is None:
        wsum = float(n)
        avg = rd.mean(x, 1, keepdim=True)
        norm = wsum - correction
    else:
        wsum = rd.sum(w)
        avg = ew.div(rd.sum(ew.mul(x, w), 1, keepdim=True), wsum)
        if correction == 0:
            norm = wsum
        elif aweights is None:
            norm = ew.sub(wsum, correction)
        else:
            aw = ew.cast(_t(aweights), x.array.dtype)
            norm = ew.sub(wsum, ew.div(ew.mul(rd.sum(ew.mul(w, aw)), correction), wsum))
    xc = ew.sub(x, avg)
    xw = xc if w is None else ew.mul(xc, w)
    from .gemm import matmul

    c = matmul(xw, sh.transpose(xc, 0, 1))
    if isinstance(norm, Tensor):
        norm = ew.clamp(norm, min=0.0)
    else:
        norm = builtins.max(norm, 0)
    c = ew.div(c, norm)
    return sh.reshape(c, ()) if x.array.shape[0] == 1 else c


def corrcoef(input):  # noqa: A002
    c = cov(input)
    if _nd(c) == 0:
        return ew.div(c, c)
    d = diagonal(c)
    sd = ew.sqrt(d)
    c = ew.div(ew.div(c, sh.reshape(sd, (-1, 1))), sh.reshape(sd, (1, -1)))
    return ew.clamp(c, -1.0, 1.0)


def dist(input, other, p=2):  # noqa: A002
    return rd.norm(ew.sub(input, other), p)


def renorm(input, p, dim, maxnorm):  # noqa: A002
    """Each slice along ``dim`` rescaled so its ``p``-norm is at most ``maxnorm``."""
    d = dim % _nd(input)
    others = tuple(i for i in range(_nd(input)) if i != d)
    norms = rd.norm(input, p, others, keepdim=True) if others else ew.abs(input)
    with_grad = ew.div(maxnorm, ew.add(norms, 1e-7))
    factor = ew.where(ew.gt(norms, maxnorm), with_grad, 1.0)
    return ew.mul(input, factor)


# ------------------------------------------------------------ GEMM-shaped compositions
def _scaled_sum(input, prod, beta, alpha):
    p = prod if alpha == 1 else ew.mul(prod, alpha)
    if beta == 0:  # input is ignored, NaN included (torch)
        return p
    return ew.add(input if beta == 1 else ew.mul(input, beta), p)


def addmv(input, mat, vec, *, beta=1, alpha=1):  # noqa: A002
    from .gemm import matmul

    return _scaled_sum(input, matmul(mat, vec), beta, alpha)


def addr(input, vec1, vec2, *, beta=1, alpha=1):  # noqa: A002
    prod = ew.mul(sh.unsqueeze(vec1, 1), sh.unsqueeze(vec2, 0))
    out = _scaled_sum(input, prod, beta, alpha)
    if out.array.shape != prod.array.shape:
        out = sh.expand(out, prod.array.shape)
    return out


def addbmm(input, batch1, batch2, *, beta=1, alpha=1):  # noqa: A002
    from .gemm import matmul

    return _scaled_sum(input, rd.sum(matmul(batch1, batch2), 0), beta, alpha)


# ------------------------------------------------- torch.* spellings of torch.linalg ops
def _linalg():
    from .. import linalg

    return linalg


def cholesky(input, upper=False, *, out=None):  # noqa: A002
    return _linalg().cholesky(input, upper=upper)


def qr(input, some=True, *, out=None):  # noqa: A002
    return _linalg().qr(input, "reduced" if some else "complete")


def svd(input, some=True, compute_uv=True, *, out=None):  # noqa: A002
    """torch.svd: (U, S, V) with V, not Vh (and zeros for U, V when compute_uv=False)."""
    u, s, vh = _linalg().svd(input, full_matrices=not some)
    v = sh.transpose(vh, -2, -1)
    if not compute_uv:
        u, v = ew.mul(u, 0), ew.mul(v, 0)
    return _linalg()._nt("svd", ["U", "S", "V"])(u, s, v)


def pinverse(input, rcond=1e-15):  # noqa: A002
    return _linalg().pinv(input, rtol=rcond)


def triangular_solve(b, A, upper=True, transpose=False, unitriangular=False):  # noqa: N803
    a = sh.transpose(A, -2, -1) if transpose else A
    x = _linalg().solve_triangular(a, b, upper=upper != transpose, unitriangular=unitriangular)
    return _linalg()._nt("triangular_solve", ["solution", "cloned_coefficient"])(x, ew.clone(A))


# --------------------------------------------- more views and scatters, as compositions
def sum_to_size(input, *size):  # noqa: A002
    """``input`` summed down to ``size`` (which it must expand to)."""
    size = tuple(size[0]) if len(size) == 1 and isinstance(size[0], (list, tuple)) else size
    shape = input.array.shape
    lead = len(shape) - len(size)
    dims = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(size) if n == 1 and shape[lead + i] != 1
    )
    out = rd.sum(input, dims, keepdim=True) if dims else input
    return sh.reshape(out, size) if out.array.shape != size else out


def unfold(input, dimension, size, step):  # noqa: A002
    """Sliding windows of ``size`` every ``step`` along ``dimension``, as a new last dim."""
    x = _lift(input)
    d = dimension % _nd(x)
    n = x.array.shape[d]
    if size > n:
        raise RuntimeError(f"maximum size for tensor at dimension {d} is {n} but size is {size}")
    starts = np.arange(0, n - size + 1, step)
    idx = starts[:, None] + np.arange(size)[None, :]
    out = ix.getitem(sh.movedim(x, d, -1), (Ellipsis, idx))
    out = sh.movedim(out, -2, d)
    return sh.reshape(out, (size,)) if _nd(input) == 0 else out


def as_strided(input, size, stride, storage_offset=None):  # noqa: A002
    """A strided window over ``input``'s elements in row-major order (a gather, so it is
    differentiable; fastnn tensors own contiguous storage for this purpose)."""
    numel = input.array.size
    off = 0 if storage_offset is None else int(storage_offset)
    base = np.arange(numel, dtype=np.int64)
    size, stride = tuple(size), tuple(stride)
    need = off + builtins.sum((s - 1) * st for s, st in zip(size, stride)) if all(size) else 0
    if all(size) and need >= numel:
        raise RuntimeError(
            f"setStorage: sizes {list(size)}, strides {list(stride)}, storage offset {off} "
            f"require more than the {numel} elements of the input"
        )
    idx = np.lib.stride_tricks.as_strided(
        base[off:] if numel > off else base, size, tuple(8 * s for s in stride)
    ).copy()
    return ix.getitem(sh.reshape(input, (-1,)), idx)


def select_scatter(input, src, dim, index):  # noqa: A002
    d = dim % _nd(input)
    return ix.SetItem.apply(input, _src_dtype(src, input), (builtins.slice(None),) * d + (index,))


def slice_scatter(input, src, dim=0, start=None, end=None, step=1):  # noqa: A002
    d = dim % _nd(input)
    sl = (builtins.slice(None),) * d + (builtins.slice(start, end, step),)
    return ix.SetItem.apply(input, _src_dtype(src, input), sl)


def diagonal_scatter(input, src, offset=0, dim1=0, dim2=1):  # noqa: A002
    n = _nd(input)
    d1, d2 = dim1 % n, dim2 % n
    i, j = _diag_index(input.array.shape, offset, d1, d2)
    moved = sh.movedim(input, (d1, d2), (-2, -1))
    out = ix.SetItem.apply(moved, _src_dtype(src, input), (Ellipsis, i, j))
    return sh.movedim(out, (n - 2, n - 1), (d1, d2))


def nonzero_static(input, *, size, fill_value=-1):  # noqa: A002
    nz = nonzero(input).array
    out = np.full((size, nz.shape[1]), fill_value, np.int64)
    k = builtins.min(size, nz.shape[0])
    out[:k] = nz[:k]
    return _long(out)


def histogram(input, bins, *, range=None, weight=None, density=False):  # noqa: A001,A002
    a = np.asarray(input.array).reshape(-1)
    b = _arr(bins) if isinstance(bins, Tensor) else bins
    if range is None and not isinstance(bins, Tensor) and a.size:
        range = (float(a.min()), float(a.max()))  # noqa: A001
    w = None if weight is None else np.asarray(_arr(weight)).reshape(-1)
    hist, edges = np.histogram(a, bins=b, range=range, weights=w, density=density)
    dt = input.array.dtype
    return _ret(
        "histogram",
        ["hist", "bin_edges"],
        _make(hist.astype(dt), False, None, 0),
        _make(edges.astype(dt), False, None, 0),
    )


def cdist(x1, x2, p=2.0, compute_mode=None):
    """Pairwise p-norm distances between the rows of x1 and x2 (batched)."""
    diff_ = ew.sub(sh.unsqueeze(x1, -2), sh.unsqueeze(x2, -3))
    if p == 0:
        return rd.sum(ew.cast(ew.ne(diff_, 0), x1.array.dtype), -1)
    return rd.norm(diff_, p, -1)


def scalar_tensor(
    s, *, dtype=None, device=None, layout=None, requires_grad=False, pin_memory=False
):
    from .creation import tensor

    return tensor(
        s, dtype=dtype or _dt.get_default_dtype(), device=device, requires_grad=requires_grad
    )


def empty_strided(
    size, stride, *, dtype=None, device=None, layout=None, requires_grad=False, pin_memory=False
):
    from .creation import empty

    return empty(tuple(size), dtype=dtype, device=device, requires_grad=requires_grad)


def empty_permuted(
    size,
    physical_layout,
    *,
    dtype=None,
    device=None,
    layout=None,
    requires_grad=False,
    pin_memory=False,
):
    from .creation import empty

    return empty(tuple(size), dtype=dtype, device=device, requires_grad=requires_grad)


def unsafe_chunk(input, chunks, dim=0):  # noqa: A002
    return sh.chunk(input, chunks, dim)


def unsafe_split(input, split_size, dim=0):  # noqa: A002
    return sh.split(input, split_size, dim)


def conj(input):  # noqa: A002
    """Real tensors are their own conjugate (fastnn has no complex autograd)."""
    return input


conj_physical = resolve_conj = resolve_neg = conj


def real(input):  # noqa: A002
    return input


def _randomize(draw):
    def method(self, *args, generator=None, **kwargs):
        from .. import random as _random

        vals = draw(_random.generator(generator), self.array.shape, *args, **kwargs)
        self.array[...] = np.asarray(vals).astype(self.array.dtype)
        self._version += 1
        return self

    return method


cauchy_ = _randomize(lambda g, shape, median=0, sigma=1: median + sigma * g.standard_cauchy(shape))
exponential_ = _randomize(lambda g, shape, lambd=1: g.exponential(1 / lambd, shape))
geometric_ = _randomize(lambda g, shape, p: g.geometric(p, shape))
log_normal_ = _randomize(lambda g, shape, mean=1, std=2: g.lognormal(mean, std, shape))


unfold_copy = _copy_of(unfold)
as_strided_copy = _copy_of(as_strided)


def as_strided_scatter(input, src, size, stride, storage_offset=None):  # noqa: A002
    """``input`` with ``src`` written over its ``as_strided(size, stride, offset)`` window."""
    numel = input.array.size
    off = 0 if storage_offset is None else int(storage_offset)
    base = np.arange(numel, dtype=np.int64)
    idx = np.lib.stride_tricks.as_strided(
        base[off:], tuple(size), tuple(8 * s for s in stride)
    ).copy()
    flat = ix.SetItem.apply(sh.reshape(input, (-1,)), _src_dtype(src, input), (idx,))
    return sh.reshape(flat, input.array.shape)


# ------------------------------------------------- the second primitive: scatter_reduce
class ScatterReduce(Function):
    """``out = input; out[index[i]] <reduce>= src[i]`` along ``axis`` (sum, prod, mean, amax,
    amin), ``include_self=False`` starting the scattered positions from the reduction's
    identity. Backward (torch's scatter_reduce_backward): sum/mean pass g (over the count);
    prod passes g times the product of the other contributors; amax/amin split g evenly
    among the elements equal to the result."""

    @staticmethod
    def forward(ctx, x, src, axis, index, reduce, include_self):
        full = ix._full_index(index, axis)
        vals = src[tuple(builtins.slice(0, n) for n in index.shape)]
        out = x.copy()
        xp = xp_of(x)
        hit = xp.zeros(x.shape, bool)
        hit[full] = True
        if reduce in ("sum", "mean"):
            if not include_self:
                out[hit] = 0
            np.add.at(out, full, vals)
        elif reduce == "prod":
            if not include_self:
                out[hit] = 1
            np.multiply.at(out, full, vals)
        else:
            big = np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).max
            if not include_self:
                out[hit] = -big if reduce == "amax" else big
            (np.maximum if reduce == "amax" else np.minimum).at(out, full, vals)
        count = None
        if reduce == "mean":
            count = np.where(hit & (not include_self), 0, 1).astype(x.dtype)
            np.add.at(count, full, 1)
            out = out / count if x.dtype.kind == "f" else out // count
        ctx.save_for_backward(x, vals, out)
        ctx.meta = (full, reduce, include_self, hit, count, src.shape, index.shape)
        return out

    @staticmethod
    def backward(ctx, g):
        x, vals, out = ctx.saved_tensors
        full, reduce, include_self, hit, count, sshape, ishape = ctx.meta
        xp = xp_of(g)
        keep_self = xp.ones(x.shape, bool) if include_self else ~hit
        if reduce == "sum":
            gx, gv = g * keep_self, g[full]
        elif reduce == "mean":
            gc = g / count
            gx, gv = gc * keep_self, gc[full]
        elif reduce == "prod":
            # product of the other contributors, zeros included: with one zero only the zero
            # gets a gradient (the product of the non-zeros), with two or more nobody does
            one = g.dtype.type(1)
            nz = np.where(keep_self & (x != 0), x, one)
            zeros = (keep_self & (x == 0)).astype(np.int64)
            np.multiply.at(nz, full, np.where(vals != 0, vals, one))
            np.add.at(zeros, full, (vals == 0).astype(np.int64))

            def others(v, z, p):
                with np.errstate(divide="ignore", invalid="ignore"):
                    return np.where(
                        z == 0, p / np.where(v == 0, one, v), np.where((z == 1) & (v == 0), p, 0)
                    )

            gx = np.where(keep_self, g * others(x, zeros, nz), 0)
            gv = g[full] * others(vals, zeros[full], nz[full])
        else:
            self_is = (x == out) & keep_self
            src_is = vals == out[full]
            n = self_is.astype(g.dtype)
            np.add.at(n, full, src_is.astype(g.dtype))
            gn = g / np.maximum(n, 1)
            gx, gv = gn * self_is, gn[full] * src_is
        gs = xp.zeros(sshape, g.dtype)
        gs[tuple(builtins.slice(0, k) for k in ishape)] = gv
        return gx.astype(g.dtype, copy=False), gs, None, None, None, None


_REDUCES = ("sum", "prod", "mean", "amax", "amin")


def scatter_reduce(input, dim, index, src, reduce, *, include_self=True):  # noqa: A002
    if reduce not in _REDUCES:
        raise ValueError(f"scatter_reduce: reduce must be one of {_REDUCES}, got {reduce!r}")
    if _nd(input) == 0:
        out = scatter_reduce(
            _lift(input), 0, _arr(index).reshape(-1), _lift(src), reduce, include_self=include_self
        )
        return sh.reshape(out, ())
    ia = _arr(index)
    ix._check_index("scatter_reduce", ia, _nd(input))
    return ScatterReduce.apply(
        input, _src_dtype(src, input), dim % _nd(input), ia, reduce, bool(include_self)
    )


def index_reduce(input, dim, index, source, reduce, *, include_self=True):  # noqa: A002
    """scatter_reduce with ``index`` (1-D) broadcast along ``dim`` of ``source``."""
    if reduce not in ("prod", "mean", "amax", "amin"):
        raise ValueError(f"index_reduce: reduce must be prod, mean, amax or amin, got {reduce!r}")
    if _nd(input) == 0:
        return scatter_reduce(
            input, 0, _arr(index).reshape(()), source, reduce, include_self=include_self
        )
    d = dim % _nd(input)
    src = _lift(source)
    shape = [1] * _nd(src)
    shape[d] = -1
    idx = np.broadcast_to(_arr(index).reshape(shape), src.array.shape).copy()
    return scatter_reduce(input, d, idx, src, reduce, include_self=include_self)


def geqrf(input):  # noqa: A002
    """LAPACK's geqrf: (a, tau), R above the diagonal and the Householder reflectors below."""
    from scipy.linalg import lapack

    a = np.asarray(input.array)
    flat = a.reshape((-1,) + a.shape[-2:]) if a.size else []
    outs, taus = [], []
    for m in flat:
        fn = lapack.dgeqrf if a.dtype == np.float64 else lapack.sgeqrf
        qr_, tau, _, _ = fn(m)
        outs.append(qr_)
        taus.append(tau)
    k = builtins.min(a.shape[-2:])
    qr_a = np.stack(outs).reshape(a.shape) if outs else np.zeros(a.shape, a.dtype)
    tau_a = (
        np.stack(taus).reshape(a.shape[:-2] + (k,))
        if taus
        else np.zeros(a.shape[:-2] + (k,), a.dtype)
    )
    return _ret(
        "geqrf",
        ["a", "tau"],
        _make(qr_a.astype(a.dtype), False, None, 0),
        _make(tau_a.astype(a.dtype), False, None, 0),
    )


def histogramdd(input, bins=10, *, range=None, weight=None, density=False):  # noqa: A001,A002
    a = np.asarray(input.array)
    d = a.shape[-1]
    pts = a.reshape(-1, d)
    if isinstance(bins, Tensor):
        bins = bins.tolist()
    if isinstance(bins, (list, tuple)) and bins and isinstance(bins[0], Tensor):
        bins = [np.asarray(b.array) for b in bins]
    rng = None if range is None else [(range[2 * i], range[2 * i + 1]) for i in builtins.range(d)]
    w = None if weight is None else np.asarray(_arr(weight)).reshape(-1)
    hist, edges = np.histogramdd(pts, bins=bins, range=rng, weights=w, density=density)
    return _ret(
        "histogramdd",
        ["hist", "bin_edges"],
        _make(hist.astype(a.dtype), False, None, 0),
        [_make(e.astype(a.dtype), False, None, 0) for e in edges],
    )


def gradient(input, *, spacing=1, dim=None, edge_order=1):  # noqa: A002
    """Central differences in the interior, one-sided (order ``edge_order``) at the edges, along
    each of ``dim``; ``spacing`` a number, one number per dim, or coordinates per dim (numpy's
    non-uniform formulas). A linear combination of shifted slices, so differentiable."""
    n = _nd(input)
    dims = (
        list(builtins.range(n))
        if dim is None
        else [d % n for d in ((dim,) if isinstance(dim, int) else dim)]
    )
    sp = 1 if spacing is None else spacing
    if not isinstance(sp, (list, tuple)):
        sp = [sp] * len(dims)
    if len(sp) != len(dims):
        raise RuntimeError(
            f"torch.gradient expected spacing to be unspecified, a scalar or it's spacing and dim "
            f"arguments to have the same length, but got a spacing argument of length {len(sp)} "
            f"and a dim argument of length {len(dims)}."
        )
    outs = []
    for d, s in zip(dims, sp):
        m = input.array.shape[d]
        if m < edge_order + 1:
            raise RuntimeError(
                "torch.gradient expected each dimension size to be at least edge_order+1"
            )
        if isinstance(s, Tensor):
            x = np.asarray(s.array, dtype=np.float64)
        else:
            x = np.arange(m, dtype=np.float64) * float(s.item() if hasattr(s, "item") else s)
        outs.append(_gradient_1d(input, d, x, edge_order))
    return tuple(outs)


def _coef(c, d, n):
    shape = [1] * n
    shape[d] = -1
    return np.asarray(c).reshape(shape)


def _gradient_1d(f, d, x, edge_order):
    n, m = _nd(f), f.array.shape[d]
    dt = f.array.dtype if f.array.dtype.kind == "f" else np.dtype(_dt.get_default_dtype())
    f = f if f.array.dtype == dt else ew.cast(f, dt)
    dx = np.diff(x)

    def sl(start, length):
        return sh.narrow(f, d, start, length)

    def lin(terms):
        out = None
        for c, t in terms:
            term = ew.mul(t, _make(_coef(c, d, n).astype(dt), False, None, 0))
            out = term if out is None else ew.add(out, term)
        return out

    parts = []
    # the first edge
    if edge_order == 1:
        parts.append(lin([(-1 / dx[0], sl(0, 1)), (1 / dx[0], sl(1, 1))]))
    else:
        h1, h2 = dx[0], dx[1]
        a, b, c = -(2 * h1 + h2) / (h1 * (h1 + h2)), (h1 + h2) / (h1 * h2), -h1 / (h2 * (h1 + h2))
        parts.append(lin([(a, sl(0, 1)), (b, sl(1, 1)), (c, sl(2, 1))]))
    if m > 2:  # the interior
        h1, h2 = dx[:-1], dx[1:]
        a = -h2 / (h1 * (h1 + h2))
        b = (h2 - h1) / (h1 * h2)
        c = h1 / (h2 * (h1 + h2))
        parts.append(lin([(a, sl(0, m - 2)), (b, sl(1, m - 2)), (c, sl(2, m - 2))]))
    # the last edge
    if edge_order == 1:
        parts.append(lin([(-1 / dx[-1], sl(m - 2, 1)), (1 / dx[-1], sl(m - 1, 1))]))
    else:
        h1, h2 = dx[-2], dx[-1]
        a, b, c = h2 / (h1 * (h1 + h2)), -(h2 + h1) / (h1 * h2), (2 * h2 + h1) / (h2 * (h1 + h2))
        parts.append(lin([(a, sl(m - 3, 1)), (b, sl(m - 2, 1)), (c, sl(m - 1, 1))]))
    return sh.cat(parts, d)


# --------------------------------------------------- internal aten ops that op_db lists
def _softmax_backward_data(grad_output, output, dim, input_dtype):
    """softmax's backward, ``output * (g - sum(g * output, dim))``, as a composition."""
    s = rd.sum(ew.mul(grad_output, output), dim, keepdim=True)
    return ew.mul(output, ew.sub(grad_output, s))


def _unsafe_masked_index(input, mask, indices, fill):  # noqa: A002
    """``where(mask, input[indices], fill)``; masked-out positions may hold any index."""
    idx = tuple(ew.where(mask, i, 0) if isinstance(i, Tensor) else i for i in indices)
    return ew.where(mask, ix.getitem(input, idx), fill)


def _unsafe_masked_index_put_accumulate(input, mask, indices, values):  # noqa: A002
    idx = tuple(ew.where(mask, i, 0) if isinstance(i, Tensor) else i for i in indices)
    return index_put(input, idx, ew.where(mask, values, 0.0), accumulate=True)


def lu_unpack(LU_data, LU_pivots, unpack_data=True, unpack_pivots=True):  # noqa: N803
    """(P, L, U) from a packed LU factorization and LAPACK's 1-based row swaps."""
    lu = LU_data
    m, n = lu.array.shape[-2:]
    k = builtins.min(m, n)
    low = sh.tril(ix.getitem(lu, (Ellipsis, builtins.slice(None), builtins.slice(0, k))), -1)
    eye = np.eye(m, k, dtype=lu.array.dtype)
    low = ew.add(low, _make(eye, False, None, 0))
    up = sh.triu(ix.getitem(lu, (Ellipsis, builtins.slice(0, k), builtins.slice(None))))
    piv = np.asarray(_arr(LU_pivots)).astype(np.int64) - 1
    batch = lu.array.shape[:-2]
    perm = np.broadcast_to(np.arange(m), batch + (m,)).copy()
    for b in np.ndindex(*batch):
        for i, p in enumerate(piv[b]):
            perm[b][i], perm[b][p] = perm[b][p], perm[b][i]
    pm = np.zeros(batch + (m, m), lu.array.dtype)
    for b in np.ndindex(*batch):
        pm[b][perm[b], np.arange(m)] = 1
    return _ret("lu_unpack", ["P", "L", "U"], _make(pm, False, None, 0), low, up)


def polar(abs, angle):  # noqa: A002
    """``abs * (cos(angle) + i sin(angle))`` (complex, not differentiable in fastnn)."""
    a, t = np.asarray(_arr(abs)), np.asarray(_arr(angle))
    ct = np.complex128 if a.dtype == np.float64 else np.complex64
    return _make(np.asarray(a * np.cos(t) + 1j * (a * np.sin(t))).astype(ct), False, None, 0)


def complex(real, imag):  # noqa: A001
    """``real + i imag`` (complex, not differentiable in fastnn)."""
    r, i = np.asarray(_arr(real)), np.asarray(_arr(imag))
    ct = np.complex128 if r.dtype == np.float64 else np.complex64
    return _make(np.asarray(r + 1j * i).astype(ct), False, None, 0)
