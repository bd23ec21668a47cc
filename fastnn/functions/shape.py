"""Shape Functions: view/reshape (and flatten, unflatten, squeeze, unsqueeze), permute/transpose,
expand, repeat, cat/stack/split/chunk/unbind, flip, roll, tril/triu, and device moves.

Views stay views where NumPy can express them (reshape of contiguous data, transpose, expand);
``view`` refuses a shape that would need a copy, like PyTorch.
"""

from __future__ import annotations

import numpy as np

from .. import tensor as _tensor_mod
from .._util import xp_of
from ..autograd import views as _views
from ..autograd.function import Function, unbroadcast
from ..tensor import Tensor, _make, result_type
from .elementwise import _to_tensor, cast


def _dim(d, ndim):
    n = max(ndim, 1)
    d = int(d)
    if not -n <= d < n:
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {d})"
        )
    return d % n


def _sizes(args):
    """``f(2, 3)``, ``f((2, 3))`` and ``f([2, 3])`` all give (2, 3)."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = args[0]
    return tuple(int(a) for a in args)


class Reshape(_views.ViewFunction):
    @staticmethod
    def forward(ctx, x, shape, view):
        ctx.shape = x.shape
        if view:
            try:
                return x.reshape(shape, copy=False)
            except ValueError as exc:
                if "copy" not in str(exc) and "cannot reshape" in str(exc):
                    raise RuntimeError(
                        f"shape '{list(shape)}' is invalid for input of size {x.size}"
                    ) from None
                raise RuntimeError(
                    "view size is not compatible with input tensor's size and stride (at least "
                    "one dimension spans across two contiguous subspaces). Use .reshape(...) "
                    "instead."
                ) from None
        try:
            return x.reshape(shape)
        except ValueError:
            raise RuntimeError(
                f"shape '{list(shape)}' is invalid for input of size {x.size}"
            ) from None

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.shape), None, None


def reshape(input, *shape):  # noqa: A002
    if shape and type(shape[0]) is int:
        return Reshape.apply(input, shape, False)
    return Reshape.apply(input, _sizes(shape), False)


def view(input, *shape):  # noqa: A002
    if shape and type(shape[0]) is int:  # the common view(a, b, ...) / view(-1)
        return Reshape.apply(input, shape, True)
    if len(shape) == 1 and not isinstance(shape[0], (int, tuple, list, np.integer)):
        # view(dtype): reinterpret the bytes (not differentiable)
        from .. import dtypes as _dt

        return _make(input.array.view(_dt.as_dtype(shape[0])), False, None, 0)
    return Reshape.apply(input, _sizes(shape), True)


def flatten(input, start_dim=0, end_dim=-1):  # noqa: A002
    s = input.array.shape
    if len(s) == 0:
        return Reshape.apply(input, (1,), False)
    a, b = _dim(start_dim, len(s)), _dim(end_dim, len(s))
    if a > b:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    n = 1
    for d in s[a : b + 1]:
        n *= d
    return Reshape.apply(input, s[:a] + (n,) + s[b + 1 :], False)


def unflatten(input, dim, sizes):  # noqa: A002
    s = input.array.shape
    d = _dim(dim, len(s))
    sizes = tuple(int(x) for x in sizes)
    if -1 in sizes:
        known = 1
        for x in sizes:
            if x != -1:
                known *= x
        sizes = tuple(s[d] // known if x == -1 else x for x in sizes)
    return Reshape.apply(input, s[:d] + sizes + s[d + 1 :], False)


def squeeze(input, dim=None):  # noqa: A002
    s = input.array.shape
    if dim is None:
        new = tuple(x for x in s if x != 1)
    else:
        dims = dim if isinstance(dim, (tuple, list)) else (dim,)
        dims = {_dim(d, len(s)) for d in dims} if s else set()
        new = tuple(x for i, x in enumerate(s) if not (i in dims and x == 1))
    return Reshape.apply(input, new, False)


def unsqueeze(input, dim):  # noqa: A002
    s = input.array.shape
    d = _dim(dim, len(s) + 1)
    return Reshape.apply(input, s[:d] + (1,) + s[d:], False)


class Permute(_views.ViewFunction):
    @staticmethod
    def forward(ctx, x, axes):
        ctx.axes = axes
        return np.transpose(x, axes)

    @staticmethod
    def backward(ctx, g):
        return np.transpose(g, np.argsort(ctx.axes)), None


def permute(input, *dims):  # noqa: A002
    n = input.array.ndim
    dims = tuple(_dim(d, n) for d in _sizes(dims))
    if sorted(dims) != list(range(n)):
        raise RuntimeError(f"permute(): dims {list(dims)} are not a permutation of {n} dims")
    return Permute.apply(input, dims)


def transpose(input, dim0, dim1):  # noqa: A002
    n = input.array.ndim
    if n == 0:
        return input
    axes = list(range(n))
    a, b = _dim(dim0, n), _dim(dim1, n)
    axes[a], axes[b] = axes[b], axes[a]
    return Permute.apply(input, tuple(axes))


swapaxes = swapdims = transpose


def t(input):  # noqa: A002
    if input.array.ndim > 2:
        raise RuntimeError(
            f"t() expects a tensor with <= 2 dimensions, but self is {input.array.ndim}D"
        )
    return Permute.apply(input, tuple(range(input.array.ndim - 1, -1, -1)))


def movedim(input, source, destination):  # noqa: A002
    n = input.array.ndim
    src = [source] if isinstance(source, int) else list(source)
    dst = [destination] if isinstance(destination, int) else list(destination)
    src = [_dim(s, n) for s in src]
    dst = [_dim(d, n) for d in dst]
    order = [i for i in range(n) if i not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return Permute.apply(input, tuple(order))


moveaxis = movedim


class Expand(_views.ViewFunction):
    @staticmethod
    def forward(ctx, x, shape):
        ctx.shape = x.shape
        return np.broadcast_to(x, shape)

    @staticmethod
    def backward(ctx, g):
        return unbroadcast(g, ctx.shape), None


def expand(input, *sizes):  # noqa: A002
    sizes = _sizes(sizes)
    s = input.array.shape
    lead = len(sizes) - len(s)
    if lead < 0:
        raise RuntimeError(
            f"expand: the number of sizes provided ({len(sizes)}) must be greater or equal to the "
            f"number of dimensions in the tensor ({len(s)})"
        )
    shape = tuple(s[i - lead] if (x == -1 and i >= lead) else x for i, x in enumerate(sizes))
    try:
        return Expand.apply(input, shape)
    except ValueError:
        raise RuntimeError(
            f"The expanded size of the tensor must match the existing size at "
            f"non-singleton dimensions: {list(s)} -> {list(sizes)}"
        ) from None


def expand_as(input, other):  # noqa: A002
    return expand(input, tuple(other.array.shape))


def broadcast_to(input, shape):  # noqa: A002
    return expand(input, tuple(shape))


def broadcast_tensors(*tensors):
    shape = np.broadcast_shapes(*(t.array.shape for t in tensors))
    return tuple(expand(t, shape) for t in tensors)


class Repeat(Function):
    @staticmethod
    def forward(ctx, x, reps):
        xs = (1,) * (len(reps) - x.ndim) + x.shape
        ctx.meta = (x.shape, xs, reps)
        return np.tile(x.reshape(xs), reps)

    @staticmethod
    def backward(ctx, g):
        shape, xs, reps = ctx.meta
        inter = []
        for r, s in zip(reps, xs):
            inter += [r, s]
        g = g.reshape(inter).sum(axis=tuple(range(0, 2 * len(reps), 2)))
        return g.reshape(shape), None


def repeat(input, *sizes):  # noqa: A002
    sizes = _sizes(sizes)
    if len(sizes) < input.array.ndim:
        raise RuntimeError(
            "Number of dimensions of repeat dims can not be smaller than number of "
            "dimensions of tensor"
        )
    return Repeat.apply(input, sizes)


def _common(tensors):
    tensors = [t if isinstance(t, Tensor) else _to_tensor(t) for t in tensors]
    dt = tensors[0].array.dtype
    for t in tensors[1:]:
        if t.array.dtype != dt:
            dt = result_type(_make(np.empty(1, dt), False, None, 0), t)
    return [cast(t, dt) for t in tensors]


class Cat(Function):
    @staticmethod
    def forward(ctx, axis, *arrays):
        ctx.meta = (axis, [a.shape[axis] for a in arrays])
        return np.concatenate(arrays, axis=axis)

    @staticmethod
    def backward(ctx, g):
        axis, sizes = ctx.meta
        return (None, *np.split(g, np.cumsum(sizes)[:-1], axis=axis))


def cat(tensors, dim=0, *, axis=None):
    """Concatenate along ``dim`` (PyTorch's type promotion across inputs)."""
    if axis is not None:
        dim = axis
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("torch.cat(): expected a non-empty list of Tensors")
    tensors = _common(tensors)
    # legacy: 1-D empty tensors are skipped
    tensors = [t for t in tensors if not (t.array.ndim == 1 and t.array.shape[0] == 0)] or tensors
    nd = tensors[0].array.ndim
    if nd == 0:
        raise RuntimeError("zero-dimensional tensor cannot be concatenated")
    for t in tensors[1:]:
        if t.array.ndim != nd:
            raise RuntimeError(
                f"Tensors must have same number of dimensions: got {nd} and {t.array.ndim}"
            )
    axis_ = _dim(dim, nd)
    try:
        return Cat.apply(axis_, *tensors)
    except ValueError as exc:
        raise RuntimeError(
            f"Sizes of tensors must match except in dimension {dim}: {exc}"
        ) from None


concat = concatenate = cat


class Stack(Function):
    @staticmethod
    def forward(ctx, axis, *arrays):
        ctx.axis = axis
        return np.stack(arrays, axis=axis)

    @staticmethod
    def backward(ctx, g):
        return (None, *np.moveaxis(g, ctx.axis, 0))


def stack(tensors, dim=0):
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    tensors = _common(tensors)
    shape = tensors[0].array.shape
    for t in tensors[1:]:
        if t.array.shape != shape:
            raise RuntimeError(
                f"stack expects each tensor to be equal size, but got "
                f"{list(shape)} and {list(t.array.shape)}"
            )
    return Stack.apply(_dim(dim, len(shape) + 1), *tensors)


def hstack(tensors):
    tensors = list(tensors)
    return cat(tensors, 0 if tensors[0].array.ndim == 1 else 1)


def vstack(tensors):
    return cat([t if t.array.ndim > 1 else t.reshape(1, -1) for t in tensors], 0)


class Split(_views.ViewFunction):
    @staticmethod
    def forward(ctx, x, sizes, axis):
        ctx.meta = axis
        return tuple(np.split(x, np.cumsum(sizes)[:-1], axis=axis))

    @staticmethod
    def backward(ctx, *grads):
        return np.concatenate(grads, axis=ctx.meta), None, None


def split(tensor, split_size_or_sections, dim=0):
    """Pieces of ``split_size`` along ``dim`` (the last may be smaller), or the given sizes."""
    axis = _dim(dim, tensor.array.ndim)
    n = tensor.array.shape[axis]
    if isinstance(split_size_or_sections, int):
        s = split_size_or_sections
        if s <= 0 and n > 0:
            raise RuntimeError(f"split_size can only be 0 if dimension size is 0, but got {s}")
        sizes = [s] * (n // s) + ([n % s] if n % s else []) if s else [0]
        if not sizes:
            sizes = [0]
    else:
        sizes = [int(x) for x in split_size_or_sections]
        if sum(sizes) != n:
            raise RuntimeError(
                f"split_with_sizes expects split_sizes to sum exactly to {n} (input "
                f"tensor's size at dimension {dim}), but got split_sizes={sizes}"
            )
    out = Split.apply(tensor, sizes, axis)
    return out if isinstance(out, tuple) else (out,)


def tensor_split(tensor, indices_or_sections, dim=0):
    axis = _dim(dim, tensor.array.ndim)
    n = tensor.array.shape[axis]
    if isinstance(indices_or_sections, int):
        k = indices_or_sections
        sizes = [n // k + 1] * (n % k) + [n // k] * (k - n % k)
    else:
        idx = [0] + [min(max(int(i), 0), n) for i in indices_or_sections] + [n]
        sizes = [max(b - a, 0) for a, b in zip(idx[:-1], idx[1:])]
    out = Split.apply(tensor, sizes, axis)
    return out if isinstance(out, tuple) else (out,)


def chunk(input, chunks, dim=0):  # noqa: A002
    """Up to ``chunks`` pieces of size ceil(n / chunks) (PyTorch's rule; may give fewer)."""
    if chunks <= 0:
        raise RuntimeError("chunk expects `chunks` to be greater than 0")
    n = input.array.shape[_dim(dim, input.array.ndim)]
    size = -(-n // chunks) if n else 0
    return split(input, size if size else 1, dim) if n else split(input, [0], dim)


class Unbind(_views.ViewFunction):
    @staticmethod
    def forward(ctx, x, axis):
        ctx.axis = axis
        return tuple(np.moveaxis(x, axis, 0))

    @staticmethod
    def backward(ctx, *grads):
        return np.stack(grads, axis=ctx.axis), None


def unbind(input, dim=0):  # noqa: A002
    axis = _dim(dim, input.array.ndim)
    if input.array.shape[axis] == 0:
        return ()
    out = Unbind.apply(input, axis)
    return out if isinstance(out, tuple) else (out,)


class Flip(Function):
    @staticmethod
    def forward(ctx, x, axes):
        ctx.axes = axes
        return np.flip(x, axes)

    @staticmethod
    def backward(ctx, g):
        return np.flip(g, ctx.axes), None


def flip(input, *dims):  # noqa: A002
    dims = _sizes(dims)
    return Flip.apply(input, tuple(_dim(d, input.array.ndim) for d in dims))


def fliplr(input):  # noqa: A002
    return flip(input, 1)


def flipud(input):  # noqa: A002
    return flip(input, 0)


class Roll(Function):
    @staticmethod
    def forward(ctx, x, shifts, axes):
        ctx.meta = (shifts, axes)
        return np.roll(x, shifts, axes)

    @staticmethod
    def backward(ctx, g):
        shifts, axes = ctx.meta
        neg = -shifts if isinstance(shifts, int) else tuple(-s for s in shifts)
        return np.roll(g, neg, axes), None, None


def roll(input, shifts, dims=None):  # noqa: A002
    return Roll.apply(
        input,
        shifts if isinstance(shifts, int) else tuple(shifts),
        dims if dims is None or isinstance(dims, int) else tuple(dims),
    )


class Tri(Function):
    @staticmethod
    def forward(ctx, x, k, upper):
        ctx.meta = (k, upper)
        return np.triu(x, k) if upper else np.tril(x, k)

    @staticmethod
    def backward(ctx, g):
        k, upper = ctx.meta
        return (np.triu(g, k) if upper else np.tril(g, k)), None, None


def tril(input, diagonal=0):  # noqa: A002
    return Tri.apply(input, int(diagonal), False)


def triu(input, diagonal=0):  # noqa: A002
    return Tri.apply(input, int(diagonal), True)


def narrow(input, dim, start, length):  # noqa: A002
    axis = _dim(dim, input.array.ndim)
    start = int(start)
    if start < 0:
        start += input.array.shape[axis]
    idx = (slice(None),) * axis + (slice(start, start + int(length)),)
    return input[idx]


class ToDevice(Function):
    @staticmethod
    def forward(ctx, x, device_type):
        ctx.src = "cpu" if type(x) is np.ndarray else "cuda"
        return _tensor_mod._to_device(x, device_type)

    @staticmethod
    def backward(ctx, g):
        return _tensor_mod._to_device(g, ctx.src), None


def meshgrid(*tensors, indexing="ij"):
    """Coordinate grids from 1-D tensors (differentiable: each grid is an expanded view)."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing not in ("ij", "xy"):
        raise ValueError(f"meshgrid: indexing must be 'ij' or 'xy', got {indexing!r}")
    ts = list(tensors)
    swap = indexing == "xy" and len(ts) >= 2
    if swap:
        ts[0], ts[1] = ts[1], ts[0]
    shape = tuple(t.array.size for t in ts)
    n = len(ts)
    grids = [
        expand(reshape(t, tuple(-1 if j == i else 1 for j in range(n))), shape)
        for i, t in enumerate(ts)
    ]
    if swap:  # "xy": the ij grids of (y, x, ...), first two outputs swapped
        grids[0], grids[1] = grids[1], grids[0]
    return tuple(grids)


class Diag(Function):
    @staticmethod
    def forward(ctx, x, k):
        ctx.meta = (x.shape, k)
        return np.diag(x, k).copy()

    @staticmethod
    def backward(ctx, g):
        shape, k = ctx.meta
        if len(shape) == 1:
            return np.diagonal(g, k).copy(), None
        xp = xp_of(g)
        gx = xp.zeros(shape, g.dtype)
        idx = xp.arange(g.shape[0])
        rows, cols = (idx, idx + k) if k >= 0 else (idx - k, idx)
        gx[rows, cols] = g
        return gx, None


def diag(input, diagonal=0):  # noqa: A002
    """1-D -> a square matrix with it on the ``diagonal``; 2-D -> that diagonal."""
    if input.array.ndim not in (1, 2):
        raise RuntimeError("diag(): Supports 1D or 2D tensors. Got " + f"{input.array.ndim}D")
    return Diag.apply(input, int(diagonal))


def trace(input):  # noqa: A002
    return diag(input).sum()
