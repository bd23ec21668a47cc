"""Array-level fused attention: validate, lay out, dispatch to the chosen backend.

``attention`` is scaled dot-product attention with PyTorch's semantics on arrays of shape
(..., L, d): boolean masks mean True = attend, float masks are added to the scores, both
broadcast against (..., Lq, Lk); ``causal`` is top-left aligned (query i sees keys j <= i).

Fully masked rows: a query whose keys are all masked gets an output row of zeros (and its
gradient is zero), never NaN. (PyTorch's math path returns NaN there.)

Dropout: the fused kernels take none. With ``dropout_p > 0`` the unfused composed path runs
instead (scores, softmax, dropout mask, matmul through ``fastnn.ops.matmul``), materialising the
(Lq, Lk) probabilities; it is only for training small models and says so here.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from .. import backends
from .._util import check_array, contiguous, is_array, xp_of
from . import softmax as _softmax

__all__ = [
    "attention",
    "attention_forward",
    "attention_backward",
    "attention_dropout_forward",
    "attention_dropout_backward",
    "attention_mask",
]


def _check_qkv(q, k, v):
    check_array(q, "q")
    check_array(k, "k", None, q.dtype)
    check_array(v, "v", None, q.dtype)
    for name, x in (("q", q), ("k", k), ("v", v)):
        if x.ndim < 2:
            raise ValueError(
                f"{name}: expected an array of shape (..., L, d), got {tuple(x.shape)}"
            )
    if k.ndim != q.ndim or v.ndim != q.ndim:
        raise ValueError(
            f"k, v: expected as many dimensions as q ({q.ndim}), got k {k.ndim}-D and v {v.ndim}-D"
        )
    lead = tuple(q.shape[:-2])
    if tuple(k.shape[:-2]) != lead or tuple(v.shape[:-2]) != lead:
        raise ValueError(
            f"k, v: leading (batch, heads) dimensions must equal q's {lead}, got k "
            f"{tuple(k.shape[:-2])} and v {tuple(v.shape[:-2])}"
        )
    if k.shape[-1] != q.shape[-1]:
        raise ValueError(f"k: feature size {k.shape[-1]} does not match q's {q.shape[-1]}")
    if v.shape[-2] != k.shape[-2]:
        raise ValueError(f"v: sequence length {v.shape[-2]} does not match k's {k.shape[-2]}")
    return lead


def _bh(lead):
    """(B, H) the kernels see for leading dims ``lead`` (4-D inputs keep theirs)."""
    if len(lead) == 2:
        return lead
    n = int(np.prod(lead)) if lead else 1
    return (n, 1)


def attention_mask(mask, lead, lq, lk, dtype):
    """The additive float mask the kernels take: (Bm, Hm, Lq, Lk), C-contiguous, ``dtype``, with
    Bm in {1, B} and Hm in {1, H} for the kernels' (B, H). Boolean True = attend -> 0, False ->
    -inf; float masks are added as they are. None stays None."""
    if mask is None:
        return None
    if not is_array(mask):
        raise TypeError(f"mask: expected an array or None, got {type(mask).__name__}")
    xp = xp_of(mask)
    kind = np.dtype(mask.dtype).kind
    full = tuple(lead) + (lq, lk)
    if mask.ndim > len(full):
        raise ValueError(
            f"mask: shape {tuple(mask.shape)} has more dimensions than the scores {full}"
        )
    try:
        ok = np.broadcast_shapes(tuple(mask.shape), full) == full
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(
            f"mask: shape {tuple(mask.shape)} does not broadcast to the scores' {full}"
        )
    if kind == "b":
        add = xp.where(mask, dtype.type(0), dtype.type(-np.inf)).astype(dtype)
    elif kind == "f":
        add = mask.astype(dtype, copy=False)
    else:
        raise TypeError(f"mask: expected a bool or float array, got dtype {mask.dtype}")
    add = add.reshape((1,) * (len(full) - add.ndim) + tuple(add.shape))
    if len(lead) == 2:
        shape = (add.shape[0], add.shape[1], lq, lk)
    elif any(s != 1 for s in add.shape[:-2]):
        shape = (_bh(lead)[0], 1, lq, lk)
        add = xp.broadcast_to(add, full).reshape(shape)
    else:
        shape = (1, 1, lq, lk)
        add = add.reshape((1, 1) + tuple(add.shape[-2:]))
    return xp.ascontiguousarray(xp.broadcast_to(add, shape))


def _scale(scale, d):
    if scale is None:
        return 1.0 / math.sqrt(d) if d > 0 else 1.0
    if not isinstance(scale, (int, float)) or isinstance(scale, bool):
        raise TypeError(f"scale: expected a Python float or None, got {type(scale).__name__}")
    return float(scale)


def _prepare(q, k, v, mask, causal, scale):
    lead = _check_qkv(q, k, v)
    if not isinstance(causal, (bool, np.bool_)):
        raise TypeError(f"causal: expected a bool, got {type(causal).__name__}")
    lq, lk, d, dv = q.shape[-2], k.shape[-2], q.shape[-1], v.shape[-1]
    B, H = _bh(lead)
    m = attention_mask(mask, lead, lq, lk, np.dtype(q.dtype))
    q4 = contiguous(q).reshape(B, H, lq, d)
    k4 = contiguous(k).reshape(B, H, lk, d)
    v4 = contiguous(v).reshape(B, H, lk, dv)
    return lead, q4, k4, v4, m, bool(causal), _scale(scale, d)


def attention_forward(q, k, v, mask=None, causal=False, scale=None, *, backend=None):
    """Fused attention forward.

    Args:
        q: (..., Lq, d); k: (..., Lk, d); v: (..., Lk, dv); same leading dims, same float dtype.
        mask: None, or a bool (True = attend) or additive float array broadcastable to
            (..., Lq, Lk).
        causal: top-left aligned causal masking (query i attends keys j <= i).
        scale: multiplier of q k^T; default 1/sqrt(d).
        backend: optional backend name for this call.

    Returns:
        (out (..., Lq, dv), lse (..., Lq)): lse is the natural-log sum of exp of each row's
        scores (+inf for a fully masked row, whose output is 0).
    """
    lead, q4, k4, v4, m, causal, scale = _prepare(q, k, v, mask, causal, scale)
    fn, _ = backends.get("attention_forward", q4, k4, v4, m, backend=backend)
    out, lse = fn(q4, k4, v4, m, causal, scale)
    return out.reshape(lead + out.shape[-2:]), lse.reshape(lead + lse.shape[-1:])


def attention_backward(
    grad_out, q, k, v, out, lse, mask=None, causal=False, scale=None, *, backend=None
):
    """Backward of :func:`attention_forward` (FlashAttention-2: scores recomputed from lse).

    Args:
        grad_out: (..., Lq, dv) gradient of ``out``; q, k, v, mask, causal, scale: as given to
            the forward; out, lse: what the forward returned.

    Returns:
        (dq, dk, dv) shaped like q, k, v.
    """
    lead, q4, k4, v4, m, causal, scale = _prepare(q, k, v, mask, causal, scale)
    B, H = _bh(lead)
    lq, dv = q4.shape[2], v4.shape[3]
    check_array(grad_out, "grad_out", q.ndim, q.dtype)
    check_array(out, "out", q.ndim, q.dtype)
    check_array(lse, "lse", q.ndim - 1, q.dtype)
    for name, x, want in (
        ("grad_out", grad_out, lead + (lq, dv)),
        ("out", out, lead + (lq, dv)),
        ("lse", lse, lead + (lq,)),
    ):
        if tuple(x.shape) != want:
            raise ValueError(f"{name}: expected shape {want}, got {tuple(x.shape)}")
    go4 = contiguous(grad_out).reshape(B, H, lq, dv)
    o4 = contiguous(out).reshape(B, H, lq, dv)
    l4 = contiguous(lse).reshape(B, H, lq)
    fn, _ = backends.get("attention_backward", go4, q4, k4, v4, o4, l4, m, backend=backend)
    dq, dk, dvv = fn(go4, q4, k4, v4, o4, l4, m, causal, scale)
    return dq.reshape(q.shape), dk.reshape(k.shape), dvv.reshape(v.shape)


def _bmm(a, b, trans_a=False, trans_b=False, alpha=1.0, backend=None):
    """Per-head GEMMs on the gemm kernel (chosen once): a (N, ., .) and b (N, ., .) C-contiguous;
    returns (N, M, P) of op(a[i]) @ op(b[i]) * alpha."""
    xp = xp_of(a)
    n = a.shape[0]
    m = a.shape[2] if trans_a else a.shape[1]
    p = b.shape[1] if trans_b else b.shape[2]
    out = xp.empty((n, m, p), a.dtype)
    if out.size == 0:
        return out
    if (a.shape[1] if trans_a else a.shape[2]) == 0:
        out[...] = 0
        return out
    fn, name = backends.get("gemm", a, b, out, backend=backend)
    if name == "cpp" and a.flags.c_contiguous and b.flags.c_contiguous:
        from ..backends import cpp  # one call for all heads (csrc/gemm_batched.cpp)

        batched = getattr(cpp._C, "gemm_batched", None)
        if batched is not None:
            return batched(a, b, trans_a, trans_b, float(alpha), out)
    for i in range(n):
        fn(a[i], b[i], None, None, trans_a, trans_b, float(alpha), 0.0, out[i])
    return out


def attention_dropout_forward(
    q, k, v, mask=None, causal=False, scale=None, dropout_p=0.0, *, backend=None
):
    """The unfused composed path used when ``dropout_p > 0`` (the kernels take no dropout).

    Materialises the (Lq, Lk) probabilities: scores by per-head GEMMs on the gemm kernel, a
    max-subtracted softmax (fully masked rows -> 0), a keep mask drawn from fastnn's global
    generator scaled by 1/(1-p), and the product with v.

    Returns:
        (out, probs, keep): probs the softmax (..., Lq, Lk) before dropout; keep the scaled
        keep mask (same shape, values 0 or 1/(1-p)); both are what the backward needs.
    """
    lead, q4, k4, v4, m, causal, scale = _prepare(q, k, v, mask, causal, scale)
    dropout_p = _dropout_p(dropout_p)
    xp = xp_of(q4)
    B, H, lq, d = q4.shape
    lk, dv = k4.shape[2], v4.shape[3]
    t = q4.dtype.type
    s = _bmm(
        q4.reshape(B * H, lq, d),
        k4.reshape(B * H, lk, d),
        trans_b=True,
        alpha=scale,
        backend=backend,
    ).reshape(B, H, lq, lk)
    if m is not None:
        s += m
    if causal:
        s = xp.where(xp.tril(xp.ones((lq, lk), dtype=bool)), s, t(-np.inf))
    # softmax and dropout: fastnn.ops.softmax (the cpp kernels for float32 NumPy arrays)
    sb = _softmax_backend(backend)
    p = _softmax.softmax(s, -1, masked_rows_zero=True, backend=sb) if lk > 0 else s
    if dropout_p >= 1.0:
        keep = xp.zeros(p.shape, q4.dtype)
        pk = p * keep
    else:
        pk, keep = _softmax.dropout_forward(p, dropout_p, float_mask=True, backend=sb)
    out = _bmm(pk.reshape(B * H, lq, lk), v4.reshape(B * H, lk, dv), backend=backend)
    shape = lead + (lq, lk)
    return out.reshape(lead + (lq, dv)), p.reshape(shape), keep.reshape(shape)


def _softmax_backend(backend):
    """fastnn.ops.softmax's backend for an attention call's: cpp and reference have those
    kernels; another named backend (numba, cuda) runs them on the reference path."""
    return backend if backend in (None, "cpp", "reference") else "reference"


def _dropout_p(p) -> float:
    if isinstance(p, bool) or not isinstance(p, numbers.Real):
        raise TypeError(f"dropout_p: expected a float in [0, 1], got {p!r}")
    if not 0.0 <= p <= 1.0:  # NaN fails both comparisons
        raise ValueError(f"dropout_p: expected a float in [0, 1], got {p!r}")
    return float(p)


def attention_dropout_backward(grad_out, q, k, v, probs, keep, scale=None, *, backend=None):
    """Backward of :func:`attention_dropout_forward`; returns (dq, dk, dv) shaped like q, k, v."""
    lead, q4, k4, v4, _, _, sc = _prepare(q, k, v, None, False, scale)
    lk, dv = k.shape[-2], v.shape[-1]
    for name, arr, want in (("grad_out", grad_out, q.shape[:-1] + (dv,)),
                            ("probs", probs, q.shape[:-1] + (lk,)),
                            ("keep", keep, q.shape[:-1] + (lk,))):
        check_array(arr, name, None, q.dtype)
        if tuple(arr.shape) != tuple(want):
            raise ValueError(f"{name}: expected shape {tuple(want)}, got {tuple(arr.shape)}")
    xp = xp_of(q4)
    B, H, lq, d = q4.shape
    lk, dv = k4.shape[2], v4.shape[3]
    n = B * H
    go = contiguous(grad_out).reshape(n, lq, dv)
    p3 = contiguous(probs).reshape(n, lq, lk)
    keep3 = contiguous(keep).reshape(n, lq, lk)
    q3, k3, v3 = q4.reshape(n, lq, d), k4.reshape(n, lk, d), v4.reshape(n, lk, dv)
    # transposed left operands are materialised per head (small (Lq, Lk) blocks): the gemm's
    # trans_a path is ~10x slower than trans_b at these sizes
    dv_ = _bmm(xp.ascontiguousarray(xp.swapaxes(p3 * keep3, 1, 2)), go, backend=backend)
    da = _bmm(go, v3, trans_b=True, backend=backend)
    da *= keep3
    ds = _softmax.softmax_backward(p3, da, -1, backend=_softmax_backend(backend))
    dq = _bmm(ds, k3, alpha=sc, backend=backend)
    dk = _bmm(xp.ascontiguousarray(xp.swapaxes(ds, 1, 2)), q3, alpha=sc, backend=backend)
    return dq.reshape(q.shape), dk.reshape(k.shape), dv_.reshape(v.shape)


def attention(q, k, v, mask=None, causal=False, scale=None, dropout_p=0.0, *, backend=None):
    """Scaled dot-product attention ``softmax(q k^T * scale + mask) v`` on arrays.

    Args:
        q: (..., Lq, d); k: (..., Lk, d); v: (..., Lk, dv) of one float dtype (float32 on
            every backend, float64 on reference/numba); the leading dims (e.g. batch, heads) equal.
        mask: None, bool (True = attend) or additive float, broadcastable to (..., Lq, Lk).
        causal: top-left aligned causal mask.
        scale: default 1/sqrt(d).
        dropout_p: > 0 runs the unfused composed path (see the module docstring).
        backend: optional backend name.

    Returns:
        out (..., Lq, dv). Fully masked rows are 0.
    """
    if _dropout_p(dropout_p) > 0.0:
        return attention_dropout_forward(q, k, v, mask, causal, scale, dropout_p, backend=backend)[
            0
        ]
    return attention_forward(q, k, v, mask, causal, scale, backend=backend)[0]
