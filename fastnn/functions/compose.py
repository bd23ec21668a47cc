"""Shape, indexing and reduction long tail as compositions of the existing Functions (no new
derivatives: autograd flows through reshape, index_select, gather, cat, ... underneath).

Also the 0-d and zero-size edge cases of indexing.py's ops, handled here by lifting a 0-d input
to 1-d and back (indexing.py/shape.py are append-only while the view machinery is reworked).
"""

from __future__ import annotations

import builtins
import collections

import numpy as np

from ..tensor import Tensor, _make
from . import elementwise as ew
from . import indexing as ix
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
