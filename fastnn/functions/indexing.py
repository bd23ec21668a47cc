"""Indexing Functions: ``t[index]`` read (differentiable) and write, gather/scatter,
index_select, masked_select, sort/argsort/topk, nonzero.

Indices may mix ints, slices with steps, None, Ellipsis, integer tensors/lists/arrays (advanced
indexing) and bool masks, with NumPy's (= PyTorch's) semantics.
"""

from __future__ import annotations

import collections

import numpy as np

from .._util import xp_of
from ..autograd import views as _views
from ..autograd.function import Function, unbroadcast
from ..tensor import Tensor, _make, _to_device
from .shape import _dim


def _norm_one(i):
    if isinstance(i, Tensor):
        a = i.array
        if a.dtype == np.uint8:
            a = a.astype(bool)
        elif a.dtype.kind == "f":
            raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
        return a, True
    if isinstance(i, (list, np.ndarray)):
        a = np.asarray(i)
        if a.dtype.kind == "f":
            raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
        return a, True
    return i, False


def normalize_index(index):
    """(index NumPy understands, whether it uses advanced indexing)."""
    if isinstance(index, tuple):
        out, adv = [], False
        for i in index:
            a, is_adv = _norm_one(i)
            out.append(a)
            adv = adv or is_adv
        return tuple(out), adv
    a, adv = _norm_one(index)
    return a, adv


def _index_add(target, idx, values):
    """``target[idx] += values`` with repeated indices accumulated."""
    if type(target) is np.ndarray:
        np.add.at(target, idx, values)
    else:
        import cupyx

        cupyx.scatter_add(target, idx, values)
    return target


class GetItem(_views.ViewFunction):
    @staticmethod
    def forward(ctx, x, idx, advanced):
        ctx.meta = (x.shape, x.dtype, idx, advanced)
        out = x[idx]
        if isinstance(out, np.generic) or not hasattr(out, "shape"):
            # x[i, j] gives NumPy a scalar; x[i, j, ...] the 0-d view PyTorch returns
            out = x[(*idx, Ellipsis) if type(idx) is tuple else (idx, Ellipsis)]
        return out

    @staticmethod
    def backward(ctx, g):
        shape, dtype, idx, advanced = ctx.meta
        gx = xp_of(g).zeros(shape, dtype)
        if advanced:
            _index_add(gx, idx, g)
        else:
            gx[idx] = g
        return gx, None, None


def getitem(x, index):
    idx, adv = normalize_index(index)
    try:
        out = GetItem.apply(x, idx, adv)
    except IndexError as exc:
        raise IndexError(str(exc)) from None
    return out


class SetItem(Function):
    @staticmethod
    def forward(ctx, x, value, idx):
        out = x.copy()
        out[idx] = value
        ctx.meta = (idx, getattr(value, "shape", ()))
        return out

    @staticmethod
    def backward(ctx, g):
        idx, vshape = ctx.meta
        nx, nv = ctx.needs_input_grad[:2]
        gx = gv = None
        if nx:
            gx = g.copy()
            gx[idx] = 0
        if nv:
            gv = unbroadcast(g[idx], vshape)
        return gx, gv, None


def setitem(x, index, value):
    """``x[index] = value``: written into x's storage; recorded (as an in-place op on x) when
    autograd is involved."""
    idx, _ = normalize_index(index)
    if _views.recording(x, (value,)):
        v = value
        if isinstance(v, Tensor) and v.array.dtype != x.array.dtype:
            from .elementwise import cast

            v = cast(v, x.array.dtype)
        _views.inplace(x, SetItem, v, idx)
        return
    if isinstance(value, Tensor):
        v = value.array
        if type(v) is not type(x.array):
            v = _to_device(v, "cpu" if type(x.array) is np.ndarray else "cuda")
    else:
        v = value
    x.array[idx] = v
    _views.bump(x)


# ---------------------------------------------------------------------------- gather / scatter
def _full_index(index, axis):
    """The index tuple addressing ``input[..., index[...], ...]`` element by element."""
    grid = list(xp_of(index).indices(index.shape, sparse=True))
    grid[axis] = index
    return tuple(grid)


def _check_index(name, index, input_ndim):
    if index.dtype != np.int64 and index.dtype.kind not in "iu":
        raise RuntimeError(f"{name}(): Expected dtype int64 for index")
    if index.ndim != input_ndim and not (index.ndim <= 1 and input_ndim <= 1):
        raise RuntimeError("Index tensor must have the same number of dimensions as input tensor")


class Gather(Function):
    @staticmethod
    def forward(ctx, x, axis, index):
        full = _full_index(index, axis)
        ctx.meta = (x.shape, x.dtype, full)
        return x[full]

    @staticmethod
    def backward(ctx, g):
        shape, dtype, full = ctx.meta
        gx = xp_of(g).zeros(shape, dtype)
        _index_add(gx, full, g)
        return gx, None, None


def gather(input, dim, index, *, sparse_grad=False):  # noqa: A002
    """``out[i][j][k] = input[index[i][j][k]][j][k]`` (for dim 0), PyTorch's gather."""
    ix = index.array if isinstance(index, Tensor) else np.asarray(index)
    _check_index("gather", ix, input.array.ndim)
    return Gather.apply(input, _dim(dim, input.array.ndim), ix)


def take_along_dim(input, indices, dim=None):  # noqa: A002
    if dim is None:
        return gather(input.reshape(-1), 0, indices.reshape(-1))
    return gather(input, dim, indices)


class Scatter(Function):
    @staticmethod
    def forward(ctx, x, src, axis, index, add):
        full = _full_index(index, axis)
        out = x.copy()
        if hasattr(src, "shape") and src.ndim:
            vals = src[tuple(slice(0, n) for n in index.shape)]
        else:
            vals = src
        if add:
            _index_add(out, full, np.broadcast_to(vals, index.shape))
        else:
            out[full] = vals
        ctx.meta = (full, add, getattr(src, "shape", ()), index.shape)
        return out

    @staticmethod
    def backward(ctx, g):
        full, add, sshape, ishape = ctx.meta
        nx, ns = ctx.needs_input_grad[:2]
        gx = gs = None
        if nx:
            if add:
                gx = g
            else:
                gx = g.copy()
                gx[full] = 0
        if ns:
            gs = xp_of(g).zeros(sshape, g.dtype)
            gs[tuple(slice(0, n) for n in ishape)] = g[full]
        return gx, gs, None, None, None


def scatter(input, dim, index, src=None, *, value=None, reduce=None):  # noqa: A002
    """Copy of ``input`` with ``src`` (a tensor or a number) written at ``index`` along ``dim``;
    ``reduce="add"`` accumulates (see ``scatter_add``)."""
    if src is None:
        src = value
    ix = index.array if isinstance(index, Tensor) else np.asarray(index)
    _check_index("scatter", ix, input.array.ndim)
    if reduce not in (None, "add", "sum"):
        raise NotImplementedError(f"scatter(reduce={reduce!r}) is not supported by fastnn")
    if not isinstance(src, Tensor):
        src = float(src) if input.array.dtype.kind == "f" else src
    return Scatter.apply(input, src, _dim(dim, input.array.ndim), ix, reduce is not None)


def scatter_add(input, dim, index, src):  # noqa: A002
    return scatter(input, dim, index, src, reduce="add")


class IndexSelect(Function):
    @staticmethod
    def forward(ctx, x, axis, index):
        ctx.meta = (x.shape, x.dtype, axis, index)
        return np.take(x, index, axis=axis)

    @staticmethod
    def backward(ctx, g):
        shape, dtype, axis, index = ctx.meta
        gx = xp_of(g).zeros(shape, dtype)
        _index_add(gx, (slice(None),) * axis + (index,), g)
        return gx, None, None


def index_select(input, dim, index):  # noqa: A002
    ix = index.array if isinstance(index, Tensor) else np.asarray(index)
    if ix.ndim > 1:
        raise IndexError("index_select(): Index is supposed to be a vector")
    return IndexSelect.apply(input, _dim(dim, input.array.ndim), ix.reshape(-1))


def masked_select(input, mask):  # noqa: A002
    m = mask.array if isinstance(mask, Tensor) else np.asarray(mask)
    shape = np.broadcast_shapes(input.array.shape, m.shape)
    x = input if input.array.shape == shape else input.expand(shape)
    return getitem(x, np.broadcast_to(m, shape))


def nonzero(input, *, as_tuple=False):  # noqa: A002
    a = input.array
    if as_tuple:
        return tuple(_make(i.astype(np.int64), False, None, 0) for i in np.nonzero(a))
    return _make(np.argwhere(a).astype(np.int64), False, None, 0)


# ------------------------------------------------------------------------------ sort / topk
return_sort = collections.namedtuple("sort", ["values", "indices"])
return_topk = collections.namedtuple("topk", ["values", "indices"])


def argsort(input, dim=-1, descending=False, stable=False):  # noqa: A002
    a = input.array
    if a.ndim == 0:
        return _make(np.zeros((), np.int64), False, None, 0)
    axis = _dim(dim, a.ndim)
    if descending:
        key = -a.astype(np.int64) if a.dtype.kind in "bu" else -a
    else:
        key = a
    return _make(np.argsort(key, axis=axis, kind="stable").astype(np.int64), False, None, 0)


def sort(input, dim=-1, descending=False, stable=False):  # noqa: A002
    if isinstance(dim, bool):
        dim, descending = -1, dim
    idx = argsort(input, dim, descending)
    if input.array.ndim == 0:
        return return_sort(input.clone(), idx)
    return return_sort(gather(input, dim, idx), idx)


def topk(input, k, dim=-1, largest=True, sorted=True):  # noqa: A002
    a = input.array
    axis = _dim(dim, a.ndim) if a.ndim else 0
    if k > (a.shape[axis] if a.ndim else 1):
        raise RuntimeError("selected index k out of range")
    idx = argsort(input, axis, descending=largest)
    sl = (slice(None),) * axis + (slice(0, k),)
    idx = _make(np.ascontiguousarray(idx.array[sl]), False, None, 0)
    return return_topk(gather(input, axis, idx), idx)


def _kth(input, k, dim, keepdim):
    v, i = sort(input, dim)
    axis = _dim(dim, input.array.ndim)
    sl = (slice(None),) * axis + ((slice(k - 1, k)) if keepdim else (k - 1,))
    return v[sl], i[sl]


def kthvalue(input, k, dim=-1, keepdim=False):  # noqa: A002
    return _kth(input, k, dim, keepdim)


def repeat_interleave(input, repeats, dim=None, *, output_size=None):  # noqa: A002
    """Repeat each element ``repeats`` times (an int or a per-element tensor) along ``dim``
    (flattened when None); differentiable through index_select."""
    x = input.reshape(-1) if dim is None else input
    axis = 0 if dim is None else _dim(dim, x.array.ndim)
    n = x.array.shape[axis]
    reps = repeats.array if isinstance(repeats, Tensor) else repeats
    idx = np.repeat(np.arange(n), reps)
    return index_select(x, axis, idx)


def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):  # noqa: A002
    """Sorted unique values (and optionally inverse indices and counts); not differentiable."""
    a = input.array if type(input.array) is np.ndarray else np.asarray(input.array.get())
    res = np.unique(a, return_inverse=return_inverse, return_counts=return_counts, axis=dim)
    if not (return_inverse or return_counts):
        return _make(res, False, None, 0)
    out = [_make(res[0], False, None, 0)]
    k = 1
    if return_inverse:
        inv = res[k].reshape(a.shape if dim is None else -1).astype(np.int64)
        out.append(_make(inv, False, None, 0))
        k += 1
    if return_counts:
        out.append(_make(res[k].astype(np.int64), False, None, 0))
    return tuple(out)


def bincount(input, weights=None, minlength=0):  # noqa: A002
    w = None if weights is None else weights.array
    out = np.bincount(input.array, weights=w, minlength=minlength)
    if w is None:
        out = out.astype(np.int64)
    elif w.dtype == np.float32:
        out = out.astype(np.float32)
    return _make(out, False, None, 0)
