"""PyTorch's safety rules for in-place ops: shared storage, version counters, views' history.

- A view (basic indexing, view/reshape, permute/transpose, expand, split/unbind, ...) shares its
  source's memory; a ``ViewFunction``'s output records its ``_base`` (the root tensor, as in
  PyTorch), whose version counter it uses (``detach()`` shares the counter too; ``.data`` does
  not).
- Every in-place op writes into the storage, so the base and all its views see it, and bumps the
  counter (``bump``); ``check_saved`` refuses to run a backward whose saved arrays were written
  since its forward.
- ``inplace`` is the recorded path of every in-place op: on a view it differentiates through the
  base the way PyTorch's CopySlices does (the base gets a new history whose backward routes the
  view's region through the op and leaves the rest as it was) and regenerates its views' history
  (PyTorch's AsStridedBackward0).
"""

from __future__ import annotations

import weakref

import numpy as np

from ..tensor import Tensor
from .function import _CLOCK, Function
from .grad_mode import state as _grad_state


class VersionCounter:
    """A storage's version (``v``), with the clock and version of its recent writes (``hist``)
    and the array last written through it (``last``: the registry below already knows it)."""

    __slots__ = ("v", "hist", "last")

    def __init__(self):
        self.v = 0
        self.hist = []
        self.last = None


def counter(t: Tensor) -> VersionCounter:
    """``t``'s storage version counter (a view uses its base's), made on first need."""
    b = t._base
    if b is not None:
        t = b
    vc = t._vc
    if vc is None:
        vc = t._vc = VersionCounter()
    return vc


# Saved-for-backward checks. Saving costs a Function one integer (``ctx._t``, the clock when it
# saved); an in-place write advances the clock, records (clock, version) on the storage's
# counter and notes the written tensor's array and its base's array here: {id(array): [weakref,
# counter]}. Backward refuses a node whose saved array (or the array it is a view of) was
# written after the node saved it. This matches PyTorch's per-storage version counters (a write
# through any view of a storage invalidates every saved view of it); ``.data`` writes are not
# noted, as in PyTorch.
CLOCK = _CLOCK
_WRITTEN: dict = {}


def bump(t: Tensor) -> None:
    """Count an in-place write to ``t``'s storage."""
    b = t._base
    owner = t if b is None else b
    vc = owner._vc
    if vc is None:
        vc = owner._vc = VersionCounter()
    vc.v += 1
    if owner._untracked or t._untracked:
        return
    clock = CLOCK[0] = CLOCK[0] + 1
    hist = vc.hist
    hist.append((clock, vc.v))
    if len(hist) > 16:
        del hist[:8]
    arr = t.array
    if vc.last is not arr:  # (the common repeated write to one tensor skips the registry)
        vc.last = arr
        _note(arr, vc)
        if b is not None:
            _note(b.array, vc)


def _note(arr, vc) -> None:
    key = id(arr)
    entry = _WRITTEN.get(key)
    if entry is None or entry[0]() is not arr or entry[1] is not vc:
        _WRITTEN[key] = [weakref.ref(arr, lambda _r, k=key, pop=_WRITTEN.pop: pop(k, None)), vc]


_MODIFIED = (
    "one of the variables needed for gradient computation has been modified by an inplace "
    "operation: [{what}], which is saved by {node}, is at version {now}; expected version "
    "{then} instead. Hint: the backtrace further above shows the operation that failed to "
    "compute its gradient. The variable in question was changed in there or anywhere later."
)


def check_saved(node) -> None:
    """Raise PyTorch's error if an array ``node`` saved for backward was written in place since
    ``node`` ran."""
    t = node._t
    for s in node._saved:
        for a in (s, getattr(s, "base", None)):
            entry = _WRITTEN.get(id(a))
            if entry is None or entry[0]() is not a:
                continue
            hist = entry[1].hist
            if not hist or hist[-1][0] <= t:
                continue
            earlier = [v for c, v in hist if c <= t]
            then = earlier[-1] if earlier else hist[0][1] - 1
            from ..tensor import _TYPE_NAMES

            what = f"fastnn.{_TYPE_NAMES.get(s.dtype, 'Tensor')} {list(s.shape)}"
            raise RuntimeError(
                _MODIFIED.format(what=what, node=type(node).__name__, now=entry[1].v, then=then)
            )


# ------------------------------------------------------------------------------------ views
def _mark_outputs(out, src: Tensor, cls) -> None:
    # An output whose memory owner is neither src's array nor its owner is a copy (reshape of
    # strided data, advanced indexing).
    sa = src.array
    if type(out) is not tuple:
        owner = out.array.base
        if owner is not None and (owner is sa or owner is sa.base):
            _mark_view(out, src)
            if src._multi is not None:
                out._multi = src._multi
        return
    for i, o in enumerate(out):
        owner = o.array.base
        if owner is not None and (owner is sa or owner is sa.base):
            _mark_view(o, src)
            if o._rg:  # PyTorch refuses in-place writes to these (see ``inplace``)
                o._multi = (i, cls.__name__)


class ViewFunction(Function):
    """A Function whose output (or each output) may be a view of its first argument's memory:
    such an output records its ``_base`` (the root tensor, as in PyTorch) and shares the base's
    version counter; a non-leaf base keeps weak references to its views."""

    _mark_view = staticmethod(_mark_outputs)


_ref = weakref.ref


def _mark_view(out: Tensor, src: Tensor) -> None:
    base = src._base
    if base is None:
        base = src
    out._base = base  # (its version counter is its base's: ``counter``)
    if base.grad_fn is not None:
        # Its views' history must follow in-place writes to its storage (``_refresh_views``). A
        # leaf's views need not: their history already leads straight to the leaf, and a leaf
        # that requires grad is only written under no_grad.
        views = base._views
        if views is None:
            base._views = [_ref(out)]
            return
        views.append(_ref(out))
        if len(views) >= base._views_prune:  # drop dead references (amortised O(1) per view)
            views[:] = [r for r in views if r() is not None]
            base._views_prune = max(32, 2 * len(views))


def _positions(view: np.ndarray, base: np.ndarray) -> np.ndarray:
    """For each element of ``view`` (an array inside ``base``'s memory), its flat index in
    ``base``'s logical (C) order."""
    itemsize = base.itemsize
    if base.flags.c_contiguous:
        idx = np.asarray((_address(view) - _address(base)) // itemsize, dtype=np.int64)
        for n, st in zip(view.shape, view.strides):
            idx = np.add.outer(idx, np.arange(n, dtype=np.int64) * (st // itemsize))
        return idx.reshape(view.shape)
    # General layout: lay the logical indices out in a buffer with base's memory layout and read
    # them back through view's layout.
    lo, hi = np.lib.array_utils.byte_bounds(base)
    buf = np.zeros((hi - lo) // itemsize + 1, np.int64)
    as_strided = np.lib.stride_tricks.as_strided

    def like(a):
        start = (_address(a) - lo) // itemsize
        strides = tuple(s // itemsize * 8 for s in a.strides)
        return as_strided(buf[start:], a.shape, strides)

    like(base)[...] = np.arange(base.size, dtype=np.int64).reshape(base.shape)
    return like(view).copy()


def _address(a) -> int:
    return a.__array_interface__["data"][0] if type(a) is np.ndarray else a.data.ptr


class AsStrided(Function):
    """A view's history regenerated from its base's (PyTorch's AsStridedBackward0)."""

    @staticmethod
    def forward(ctx, base, positions, view):
        repeated = any(st == 0 and n > 1 for st, n in zip(view.strides, view.shape))
        ctx.meta = (base.shape, base.dtype, positions, repeated)
        return view

    @staticmethod
    def backward(ctx, g):
        shape, dtype, pos, repeated = ctx.meta
        xp = np if type(g) is np.ndarray else _xp(g)
        gb = xp.zeros(shape, dtype)
        flat = gb.reshape(-1)
        if not repeated:
            flat[xp.asarray(pos)] = g
        elif type(flat) is np.ndarray:
            np.add.at(flat, pos, g)  # an expanded view: repeated positions accumulate
        else:
            import cupyx

            cupyx.scatter_add(flat, xp.asarray(pos), g)
        return gb, None, None


class CopySlices(Function):
    """The base's history after an in-place op on one of its views: the view's region comes
    from the op's result, the rest from the base's previous history."""

    @staticmethod
    def forward(ctx, base, result, positions):
        ctx.pos = positions
        return base

    @staticmethod
    def backward(ctx, g):
        pos = ctx.pos
        xp = np if type(g) is np.ndarray else _xp(g)
        gb = xp.array(g, copy=True, order="C")
        flat = gb.reshape(-1)
        g_result = flat[xp.asarray(pos)]  # a gather: a copy, taken before the region is zeroed
        flat[xp.asarray(pos)] = 0
        return gb, g_result, None


CopySlices._Node.__name__ = CopySlices._Node.__qualname__ = "CopySlices"


def _xp(a):
    from .._util import xp_of

    return xp_of(a)


def _region(base: Tensor, view: Tensor):
    """A tensor aliasing ``view``'s array whose history is the base's current one, and the
    view's positions inside the base."""
    pos = _positions(view.array, base.array)
    return AsStrided.apply(base, pos, view.array), pos


_VIEW_OF_LEAF = (
    "a view of a leaf Variable that requires grad is being used in an in-place operation."
)
_LEAF = "a leaf Variable that requires grad is being used in an in-place operation."
_MULTI = (
    "Output {} of {} is a view and is being modified inplace. This view is the output of a "
    "function that returns multiple views. Such functions do not allow the output views to be "
    "modified inplace. You should replace the inplace operation by an out-of-place one."
)
_OVERLAP = (
    "unsupported operation: more than one element of the written-to tensor refers to a single "
    "memory location. Please clone() the tensor before performing the operation."
)


def inplace(self: Tensor, fn, *args, **kwargs) -> Tensor:
    """The recorded form of an in-place op: ``fn.apply(self, *args)`` written into ``self``'s
    storage, with ``self`` (and, for a view, its base and the base's other views) taking the
    op's history."""
    base = self._base
    if base is None:
        if self._rg and self.grad_fn is None:
            raise RuntimeError(_LEAF)
        src = self
    else:
        if base._rg and base.grad_fn is None:
            raise RuntimeError(_VIEW_OF_LEAF)
        if self._multi is not None:
            raise RuntimeError(_MULTI.format(*self._multi))
        src, pos = _region(base, self)
    out = fn.apply(src, *args, **kwargs)
    arr = self.array
    if out.array.dtype != arr.dtype:
        from ..functions.elementwise import cast

        out = cast(out, arr.dtype)
    if out.array.shape != arr.shape:
        raise RuntimeError(
            f"output with shape {list(arr.shape)} doesn't match the broadcast shape "
            f"{list(out.array.shape)}"
        )
    node = out.grad_fn
    if node is not None:
        _keep_saved(node, arr)
    write(self, out.array)
    bump(self)
    if node is None:  # nothing required grad after all (a non-float result)
        return self
    if base is None:
        self.grad_fn, self._out_idx, self._rg = node, out._out_idx, True
        _refresh_views(self, None)
    else:
        cs = CopySlices.apply(base, out, pos)
        base.grad_fn, base._out_idx, base._rg = cs.grad_fn, 0, True
        _refresh_views(base, self)
        self.grad_fn, self._out_idx, self._rg = AsStrided.apply(base, pos, arr).grad_fn, 0, True
    return self


def write(self: Tensor, values) -> None:
    """Write ``values`` into ``self``'s storage (refusing overlapping memory as PyTorch does)."""
    arr = self.array
    if type(arr) is np.ndarray:
        if not arr.flags.writeable:
            if 0 in arr.strides and arr.size > 1:
                raise RuntimeError(_OVERLAP)
            raise RuntimeError("in-place operation on a read-only tensor")
        np.copyto(arr, values, casting="unsafe")
    else:
        arr[...] = values


def _keep_saved(node, arr) -> None:
    """The op's own saved arrays that alias the storage about to be overwritten: keep copies
    (PyTorch saves the original ``self`` of an in-place op the same way)."""
    saved = node._saved
    if saved and any(_aliases(s, arr) for s in saved):
        node._saved = tuple(s.copy() if _aliases(s, arr) else s for s in saved)


def _aliases(s, arr) -> bool:
    if s is arr:
        return True
    return type(s) is np.ndarray and type(arr) is np.ndarray and np.may_share_memory(s, arr)


def _refresh_views(base: Tensor, skip) -> None:
    """After ``base``'s storage changed under autograd, each live view's history becomes a view
    of the base's new history (PyTorch regenerates it lazily; here it is done at once)."""
    views = base._views
    if not views:
        return
    live = []
    for r in views:
        v = r()
        if v is None:
            continue
        live.append(r)
        if v is skip or v.array.dtype.kind not in "fc":
            continue
        v.grad_fn = AsStrided.apply(base, _positions(v.array, base.array), v.array).grad_fn
        v._out_idx, v._rg = 0, True
    views[:] = live


def recording(self: Tensor, args) -> bool:
    """Does an in-place op on ``self`` with ``args`` need recording (grad mode on and something,
    ``self``'s base included, requiring grad)?"""
    if not _grad_state.enabled:
        return False
    if self._rg or (self._base is not None and self._base._rg):
        return True
    for a in args:
        if isinstance(a, Tensor) and a._rg:
            return True
    return False
