"""Array-level softmax family: row softmax / log_softmax (forward, backward), fused cross-entropy
over class indices, dropout masks and the Embedding backward scatter-add.

Each function runs the cpp kernel (csrc/softmax.cpp) for float32 NumPy arrays when ``cpp`` is the
backend selected for CPU float32 (``fastnn.backends.current``, so ``backends.use("reference")``
switches it off) and the extension has the kernel; otherwise the NumPy/CuPy code here, which is
the reference (any float dtype). ``backend="cpp"`` or ``"reference"`` forces one; other names
raise ValueError. Non-contiguous inputs are copied once for the kernels.

Dropout masks are counter-based: one 64-bit seed drawn from fastnn's generator per call
(``fastnn.manual_seed`` reproduces them), element i keeps when the 24-bit uniform made from
splitmix64(seed + (i // 2) * golden) is >= p. Both paths compute the same mask bit for bit.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from .. import backends
from .._util import xp_of

__all__ = [
    "softmax", "softmax_backward", "cross_entropy_forward", "cross_entropy_backward",
    "dropout_forward", "dropout_backward", "dropout_keep", "embedding_backward",
]

_BACKENDS = (None, "cpp", "reference")
_GOLDEN, _M1, _M2 = np.uint64(0x9E3779B97F4A7C15), np.uint64(0xBF58476D1CE4E5B9), np.uint64(
    0x94D049BB133111EB)


def _lib(backend, *arrays):
    """The extension when this call runs the cpp kernels, else None (the NumPy path)."""
    if backend not in _BACKENDS:
        raise ValueError(f"backend: expected None, 'cpp' or 'reference', got {backend!r}")
    if backend == "reference":
        return None
    ok = all(type(a) is np.ndarray and a.dtype == np.float32 for a in arrays)
    if backend is None:
        if not ok or backends.current("cpu", "float32") != "cpp":
            return None
    elif not ok:
        raise TypeError("backend='cpp' takes float32 NumPy arrays, got "
                        + ", ".join(f"{type(a).__name__} {a.dtype}" for a in arrays))
    from ..backends import cpp

    lib = cpp._C
    if lib is None or not hasattr(lib, "softmax_forward"):
        if backend == "cpp":
            raise backends.BackendUnavailable(
                "cpp: the extension has no softmax kernels (rebuild it)" if lib is not None
                else f"cpp: {cpp.available()[1]}")
        return None
    return lib


def _c(a):
    return a if a.flags.c_contiguous else np.ascontiguousarray(a)


def _axis(x, dim):
    if x.ndim == 0:
        raise ValueError("x: expected at least one dimension")
    if not -x.ndim <= dim < x.ndim:
        raise IndexError(f"dim: {dim} is out of range for a {x.ndim}-D array")
    return dim % x.ndim


def _as_rows(x, axis):
    """(M, N) C-contiguous rows with ``axis`` last, and how to put a result back."""
    last = axis == x.ndim - 1
    xm = x if last else np.moveaxis(x, axis, -1)
    moved = xm.shape
    rows = _c(xm).reshape(-1, moved[-1]) if moved[-1] else None

    def back(r):
        r = r.reshape(moved)
        return r if last else np.ascontiguousarray(np.moveaxis(r, -1, axis))

    return rows, back


def softmax(x, dim: int = -1, *, log: bool = False, masked_rows_zero: bool = False,
            backend=None):
    """softmax (``log=True``: log_softmax) of ``x`` along ``dim``, max-subtracted (stable).

    Like PyTorch, a row holding NaN or +inf, or only -inf, comes out NaN; with
    ``masked_rows_zero`` (softmax only; attention's rule) an all -inf row comes out 0."""
    axis = _axis(x, dim)
    if log and masked_rows_zero:
        raise ValueError("masked_rows_zero: only for softmax, not log_softmax")
    lib = _lib(backend, x)
    if lib is None or x.size == 0:
        xp = xp_of(x)
        if x.size == 0:
            return x.copy()
        mx = x.max(axis=axis, keepdims=True)
        if masked_rows_zero:
            mx = xp.where(xp.isfinite(mx), mx, x.dtype.type(0))
        s = x - mx
        if log:
            return s - xp.log(xp.exp(s).sum(axis=axis, keepdims=True))
        e = xp.exp(s)
        den = e.sum(axis=axis, keepdims=True)
        if masked_rows_zero:
            den = xp.where(den > 0, den, x.dtype.type(1))
        return e / den
    rows, back = _as_rows(x, axis)
    return back(lib.softmax_forward(rows, log, masked_rows_zero))


def softmax_backward(y, grad, dim: int = -1, *, log: bool = False, backend=None):
    """dx of :func:`softmax` from its output ``y`` and the output gradient ``grad``:
    ``y (grad - sum(grad y))``, or for log_softmax ``grad - exp(y) sum(grad)``."""
    if tuple(grad.shape) != tuple(y.shape):
        raise ValueError(f"grad: expected shape {tuple(y.shape)}, got {tuple(grad.shape)}")
    axis = _axis(y, dim)
    lib = _lib(backend, y, grad)
    if lib is None or y.size == 0:
        xp = xp_of(y)
        if log:
            return grad - xp.exp(y) * grad.sum(axis=axis, keepdims=True)
        return y * (grad - (grad * y).sum(axis=axis, keepdims=True))
    yr, back = _as_rows(y, axis)
    gr, _ = _as_rows(grad, axis)
    return back(lib.softmax_backward(yr, gr, log))


def _targets(target, m):
    if np.dtype(target.dtype).kind not in "iu":
        raise TypeError(f"target: expected integer class indices, got dtype {target.dtype}")
    t = target.reshape(-1)
    if t.shape[0] != m:
        raise ValueError(f"target: expected {m} class indices, got shape {tuple(target.shape)}")
    return t.astype(np.int64, copy=False)


def cross_entropy_forward(x, target, ignore_index: int = -100, label_smoothing: float = 0.0, *,
                          backend=None):
    """Per-row cross-entropy of logits ``x`` (M, C) against int ``target`` (M,).

    loss_i = (1 - eps)(lse_i - x[i, t_i]) + eps (lse_i - mean_c x[i, c]), 0 where t_i ==
    ignore_index; lse_i = log sum_c exp(x[i, c]). Returns (loss (M,), lse (M,)) in x's dtype; lse
    is what :func:`cross_entropy_backward` needs. Out-of-range targets raise IndexError."""
    if x.ndim != 2:
        raise ValueError(f"x: expected (M, C) logits, got shape {tuple(x.shape)}")
    m, c = x.shape
    t = _targets(target, m)
    lib = _lib(backend, x)
    if lib is not None:
        return lib.cross_entropy_forward(_c(x), _c(t), int(ignore_index), float(label_smoothing))
    xp = xp_of(x)
    valid = t != ignore_index
    safe = xp.where(valid, t, 0)
    if safe.size and bool(((safe < 0) | (safe >= c)).any()):
        raise IndexError(f"target: Target {int(t[(safe < 0) | (safe >= c)][0])} is out of bounds.")
    if c == 0:
        lse = xp.full((m,), -np.inf, x.dtype)
        return xp.zeros((m,), x.dtype), lse
    mx = x.max(axis=1)
    lse = mx + xp.log(xp.exp(x - mx[:, None]).sum(axis=1))
    loss = (1 - label_smoothing) * (lse - x[xp.arange(m), safe])
    if label_smoothing:
        loss = loss + label_smoothing * (lse - x.mean(axis=1))
    return xp.where(valid, loss, 0).astype(x.dtype, copy=False), lse


def cross_entropy_backward(x, target, lse, coef, ignore_index: int = -100,
                           label_smoothing: float = 0.0, *, backend=None):
    """dx (M, C) of per-row losses scaled by ``coef`` (M,): coef_i (softmax(x_i) - eps / C -
    (1 - eps) onehot(t_i)), zero rows where t_i == ignore_index."""
    m, c = x.shape
    t = _targets(target, m)
    for name, a in (("lse", lse), ("coef", coef)):
        if tuple(a.shape) != (m,):
            raise ValueError(f"{name}: expected shape ({m},), got {tuple(a.shape)}")
    lib = _lib(backend, x, lse, coef)
    if lib is not None:
        return lib.cross_entropy_backward(_c(x), _c(t), _c(lse), _c(coef), int(ignore_index),
                                          float(label_smoothing))
    xp = xp_of(x)
    valid = t != ignore_index
    k = xp.where(valid, coef, 0).astype(x.dtype)
    dx = xp.exp(x - lse[:, None]) * k[:, None]
    if label_smoothing:
        dx -= k[:, None] * x.dtype.type(label_smoothing / c)
    rows = xp.arange(m)[valid]
    dx[rows, t[valid]] -= k[valid] * x.dtype.type(1 - label_smoothing)
    return dx


# --------------------------------------------------------------------------------- dropout
def _seed():
    from .. import random

    return int(random.generator().integers(0, 2**63, dtype=np.int64))


def _threshold(p):
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0.0 <= p <= 1.0:
        raise ValueError(f"p: expected a probability in [0, 1], got {p!r}")
    return math.ceil(p * 16777216.0)


def dropout_keep(n: int, seed: int, threshold: int):
    """The keep mask (uint8 0/1, n elements) for ``seed`` in NumPy: element i keeps when
    (bits_i >> 8) >= threshold, bits_i the 32-bit half (low for even i) of splitmix64's finaliser
    of seed + (i // 2) * golden."""
    k = np.arange((n + 1) // 2, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = np.uint64(seed) + k * _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
    z ^= z >> np.uint64(31)
    bits = z.astype("<u8").view("<u4")[:n]
    return ((bits >> np.uint32(8)) >= np.uint32(threshold)).astype(np.uint8)


def dropout_forward(x, p: float, mask_shape=None, *, float_mask: bool = False, seed=None,
                    backend=None):
    """Inverted dropout ``y = x * keep / (1 - p)`` (0 <= p < 1).

    Args:
        x: float array; p: drop probability; mask_shape: None (one draw per element) or a shape
            broadcastable to x (whole channels: Dropout1d/2d/3d).
        float_mask: return the mask as x's dtype, values 0 or 1/(1-p) (the attention path).
        seed: the mask's 64-bit seed; default one draw from fastnn's generator.

    Returns:
        (y, mask): mask uint8 0/1 (or scaled float) of mask_shape (default x's shape).
    """
    thr = _threshold(p)
    if p >= 1.0:
        raise ValueError("p: dropout_forward takes p < 1 (p = 1 zeroes everything)")
    seed = _seed() if seed is None else int(seed)
    scale = x.dtype.type(1.0 / (1.0 - p))
    shape = tuple(x.shape) if mask_shape is None else tuple(mask_shape)
    n = int(np.prod(shape, dtype=np.int64))
    lib = _lib(backend, x)
    if lib is not None and shape == tuple(x.shape):
        y, mask = lib.dropout_forward(_c(x).reshape(-1), seed, thr, float(scale), float_mask)
        return y.reshape(x.shape), mask.reshape(shape)
    xp = xp_of(x)
    keep = lib.dropout_mask(n, seed, thr) if lib is not None else dropout_keep(n, seed, thr)
    keep = xp.asarray(keep.reshape(shape))
    maskf = keep.astype(x.dtype) * scale
    return x * maskf, (maskf if float_mask else keep)


def dropout_backward(grad, mask, scale, *, backend=None):
    """``grad * mask * scale`` for the uint8 0/1 mask of :func:`dropout_forward` (broadcast when it
    was drawn per channel)."""
    lib = _lib(backend, grad)
    scale = grad.dtype.type(scale)
    if lib is not None and tuple(mask.shape) == tuple(grad.shape) and type(mask) is np.ndarray:
        return lib.dropout_backward(_c(grad).reshape(-1), _c(mask).reshape(-1),
                                    float(scale)).reshape(grad.shape)
    return grad * (mask.astype(grad.dtype) * scale)


# ------------------------------------------------------------------------------- embedding
def embedding_backward(grad, indices, num_weights: int, padding_idx=None,
                       scale_grad_by_freq: bool = False, *, backend=None):
    """Weight gradient of an embedding lookup: rows of ``grad`` (*, D) summed into a zeroed
    (num_weights, D) array at ``indices`` (*), in index order (deterministic). The padding_idx row
    gets none; ``scale_grad_by_freq`` divides each row's contribution by its index's count."""
    d = grad.shape[-1]
    idx = indices.reshape(-1).astype(np.int64, copy=False)
    g2 = grad.reshape(-1, d)
    if g2.shape[0] != idx.shape[0]:
        raise ValueError(f"grad: expected {idx.shape[0]} rows of {d}, got shape "
                         f"{tuple(grad.shape)}")
    pad = -1 if padding_idx is None else int(padding_idx)
    lib = _lib(backend, grad)
    if lib is not None and type(indices) is np.ndarray:
        return lib.embedding_backward(_c(g2), _c(idx), int(num_weights), pad,
                                      bool(scale_grad_by_freq))
    xp = xp_of(grad)
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= num_weights):
        raise IndexError(f"indices: index out of range for {num_weights} embeddings")
    if scale_grad_by_freq:
        counts = xp.bincount(idx, minlength=num_weights)
        g2 = g2 / counts[idx][:, None].astype(grad.dtype)
    gw = xp.zeros((num_weights, d), dtype=grad.dtype)
    if xp is np:
        np.add.at(gw, idx, g2)
    else:
        import cupyx

        cupyx.scatter_add(gw, idx, g2)
    if padding_idx is not None:
        gw[pad] = 0
    return gw
