"""``torch.masked`` on strided tensors: each reduction is the plain one over
``where(mask, input, identity)`` (the identity of the reduction: 0 for sums, 1 for products,
-inf for max/logsumexp, ...), as torch/masked/_ops.py defines them; compositions only.
"""

from __future__ import annotations

import math

import numpy as np

from . import linalg as _la
from .functions import compose as _cp
from .functions import elementwise as _ew
from .functions import pointwise as _pw
from .functions import reduce as _rd
from .tensor import Tensor, _make


def _dims(dim, ndim):
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    return tuple(sorted({d % max(ndim, 1) for d in dims})) if dims else tuple(range(ndim))


def _mask(input, mask):  # noqa: A002
    """The mask as a bool tensor of input's shape (None: every element is in)."""
    if mask is None:
        return _make(np.ones(input.array.shape, bool), False, None, 0)
    m = mask.array if isinstance(mask, Tensor) else np.asarray(mask)
    return _make(np.broadcast_to(m.astype(bool, copy=False), input.array.shape), False, None, 0)


def _fill(input, mask, identity):  # noqa: A002
    if mask is None:
        return input
    return _ew.where(_mask(input, mask), input, identity)


def _cast(input, dtype):  # noqa: A002
    return input if dtype is None else _ew.cast(input, dtype)


def _int_sum_dtype(input, dtype):  # noqa: A002
    if dtype is None and input.array.dtype.kind in "biu" and input.array.dtype != np.int64:
        return np.dtype(np.int64)
    return dtype


def sum(input, dim=None, *, keepdim=False, dtype=None, mask=None):  # noqa: A001,A002
    dt = _int_sum_dtype(input, dtype)
    return _rd.sum(_fill(input, mask, 0), _dims(dim, input.array.ndim), bool(keepdim), dtype=dt)


def prod(input, dim=None, *, keepdim=False, dtype=None, mask=None):  # noqa: A002
    x = _cast(_fill(input, mask, 1), _int_sum_dtype(input, dtype))
    if x.array.ndim == 0:
        return _ew.clone(x)
    for d in reversed(_dims(dim, x.array.ndim)):
        x = _rd.prod(x, d, keepdim=True)
    if not keepdim:
        x = x.reshape(
            tuple(n for i, n in enumerate(x.shape) if i not in _dims(dim, input.array.ndim))
        )
    return x


def cumsum(input, dim, *, dtype=None, mask=None):  # noqa: A002
    return _rd.cumsum(_fill(input, mask, 0), dim, dtype=dtype)


def cumprod(input, dim, *, dtype=None, mask=None):  # noqa: A002
    return _rd.cumprod(_fill(input, mask, 1), dim, dtype=dtype)


def _ext(input, sign):  # noqa: A002
    a = input.array
    if a.dtype.kind == "f":
        return sign * math.inf
    info = np.iinfo(a.dtype)
    return int(info.min if sign < 0 else info.max)


def amax(input, dim=None, *, keepdim=False, dtype=None, mask=None):  # noqa: A002
    x = _cast(_fill(input, mask, _ext(input, -1)), dtype)
    return _rd.amax(x, _dims(dim, x.array.ndim), bool(keepdim))


def amin(input, dim=None, *, keepdim=False, dtype=None, mask=None):  # noqa: A002
    x = _cast(_fill(input, mask, _ext(input, 1)), dtype)
    return _rd.amin(x, _dims(dim, x.array.ndim), bool(keepdim))


def argmax(input, dim=None, *, keepdim=False, dtype=None, mask=None):  # noqa: A002
    idx = _rd.argmax(_fill(input, mask, _ext(input, -1)), dim, bool(keepdim))
    return _ew.cast(idx, input.array.dtype if dtype is None else dtype)  # torch casts to dtype


def argmin(input, dim=None, *, keepdim=False, dtype=None, mask=None):  # noqa: A002
    idx = _rd.argmin(_fill(input, mask, _ext(input, 1)), dim, bool(keepdim))
    return _ew.cast(idx, input.array.dtype if dtype is None else dtype)


def mean(input, dim=None, *, keepdim=False, dtype=None, mask=None):  # noqa: A002
    dt = input.array.dtype if dtype is None else np.dtype(dtype)
    if dt.kind not in "fc":
        raise ValueError(
            f"mean(): Could not infer output dtype. dtype must be either a floating "
            f"point or complex dtype. Got: {dt}"
        )
    count = sum(_ew.cast(_mask(input, mask), np.int64), dim, keepdim=keepdim)
    return _ew.div(sum(input, dim, keepdim=keepdim, dtype=dt, mask=mask), count)


def median(input, dim=-1, *, keepdim=False, dtype=None, mask=None):  # noqa: A002
    x = _cast(_fill(input, mask, math.nan), dtype)
    if x.array.ndim == 0:
        return _ew.clone(x)
    return _cp.nanmedian(x, dim, bool(keepdim)).values


def logsumexp(input, dim=None, *, keepdim=False, dtype=None, mask=None):  # noqa: A002
    x = _cast(_fill(input, mask, -math.inf), dtype)
    return _rd.logsumexp(x, _dims(dim, x.array.ndim), bool(keepdim))


def logaddexp(input, other, *, dtype=None, input_mask=None, other_mask=None):  # noqa: A002
    a = _cast(_fill(input, input_mask, -math.inf), dtype)
    b = _cast(_fill(other, other_mask, -math.inf), dtype)
    return _pw.logaddexp(a, b)


def norm(input, ord=2.0, dim=None, *, keepdim=False, dtype=None, mask=None):  # noqa: A002
    x = _cast(_fill(input, mask, math.inf if ord == -math.inf else 0.0), dtype)
    return _la.vector_norm(x, ord, _dims(dim, x.array.ndim), bool(keepdim))


def var(
    input,
    dim=None,
    unbiased=None,
    *,
    correction=None,
    keepdim=False,
    dtype=None,  # noqa: A002
    mask=None,
):
    if unbiased is not None and correction is None:
        correction = int(bool(unbiased))
    correction = 1 if correction is None else correction
    x = _cast(input, dtype)
    m = _mask(x, mask)
    dims = _dims(dim, x.array.ndim)
    count = _rd.sum(_ew.cast(m, x.array.dtype), dims, keepdim=True)
    avg = _ew.div(_rd.sum(_fill(x, mask, 0), dims, keepdim=True), count)
    dev = _ew.where(m, _ew.sub(x, avg), 0.0)
    total = _rd.sum(_ew.mul(dev, dev), dims, bool(keepdim))
    cnt = count if keepdim else count.reshape(total.shape)
    return _ew.div(total, _ew.clamp(_ew.sub(cnt, correction), min=0))


def std(
    input,
    dim=None,
    unbiased=None,
    *,
    correction=None,
    keepdim=False,
    dtype=None,  # noqa: A002
    mask=None,
):
    return _ew.sqrt(
        var(input, dim, unbiased, correction=correction, keepdim=keepdim, dtype=dtype, mask=mask)
    )


def softmax(input, dim, *, dtype=None, mask=None):  # noqa: A002
    return _rd.softmax(_cast(_fill(input, mask, -math.inf), dtype), dim)


def log_softmax(input, dim, *, dtype=None, mask=None):  # noqa: A002
    return _rd.log_softmax(_cast(_fill(input, mask, -math.inf), dtype), dim)


def softmin(input, dim, *, dtype=None, mask=None):  # noqa: A002
    return _rd.softmax(_ew.neg(_cast(_fill(input, mask, math.inf), dtype)), dim)


def normalize(input, ord, dim, *, eps=1e-12, dtype=None, mask=None):  # noqa: A002
    x = _cast(_fill(input, mask, 0.0), dtype)
    nrm = norm(input, ord, dim, keepdim=True, dtype=dtype, mask=mask)
    return _ew.div(x, _ew.clamp(nrm, min=eps))
