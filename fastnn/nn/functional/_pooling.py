"""Pooling beyond 2-D max/avg (PyTorch's names, signatures and semantics), composed from the 2-D
pooling Functions and Tensor ops, so autograd only knows the 2-D kernels' derivatives:

* 1-D pools run the 2-D ones over a unit height;
* 3-D max/avg pools run the 2-D pool on every depth plane (depth folded into the batch), then a
  max/sum over the depth windows; avg divides by PyTorch's per-window divisor;
* adaptive pools use the start/end index formula (window i covers [floor(i*L/O),
  ceil((i+1)*L/O))): average pooling as averaging matrices, max pooling as a gather of the
  (padded) windows and a max;
* lp_pool is PyTorch's own composition over avg_pool; max_unpool is a scatter into zeros.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ..._util import pool_output_size
from ...functions.pooling import _adaptive_matrix, _avg_count
from ...functions.shape import stack
from ...tensor import wrap
from ._conv import adaptive_avg_pool2d, avg_pool2d, max_pool2d, ntuple, pad

__all__ = ["max_pool1d", "max_pool1d_with_indices", "max_pool3d", "max_pool3d_with_indices",
           "avg_pool1d", "avg_pool3d", "adaptive_avg_pool1d", "adaptive_avg_pool3d",
           "adaptive_max_pool1d", "adaptive_max_pool1d_with_indices", "adaptive_max_pool2d",
           "adaptive_max_pool2d_with_indices", "adaptive_max_pool3d",
           "adaptive_max_pool3d_with_indices", "lp_pool1d", "lp_pool2d", "lp_pool3d",
           "max_unpool1d", "max_unpool2d", "max_unpool3d", "fractional_max_pool2d",
           "fractional_max_pool2d_with_indices", "fractional_max_pool3d",
           "fractional_max_pool3d_with_indices"]


def _check_dims(input, n, name):
    if input.ndim not in (n + 1, n + 2):
        raise ValueError(f"input: {name} expects a {n + 1}-D (unbatched) or {n + 2}-D (batched) "
                         f"input, got {input.ndim}-D with shape {tuple(input.shape)}")
    if any(s == 0 for s in input.shape[-n - 1 if input.ndim == n + 2 else -n:]):
        raise ValueError(f"input: {name} expects non-empty channel and spatial dims, got shape "
                         f"{tuple(input.shape)}")


def _stride(stride, kernel, n):
    if stride is None or (isinstance(stride, (tuple, list)) and not stride):
        return kernel
    return ntuple(stride, n, "stride", 1)


# ------------------------------------------------------------------------------------- 1-D
def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """Max pooling over (N, C, L) or (C, L): max_pool2d over a unit height. Indices (with
    ``return_indices``) are positions along L."""
    _check_dims(input, 1, "max_pool1d")
    k = ntuple(kernel_size, 1, "kernel_size", 1)
    out = max_pool2d(input.unsqueeze(-2), (1, *k), (1, *_stride(stride, k, 1)),
                     (0, *ntuple(padding, 1, "padding", 0)),
                     (1, *ntuple(dilation, 1, "dilation", 1)), ceil_mode, return_indices)
    if return_indices:
        return out[0].squeeze(-2), out[1].squeeze(-2)
    return out.squeeze(-2)


def max_pool1d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=True):
    return max_pool1d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True):
    """Average pooling over (N, C, L) or (C, L): avg_pool2d over a unit height."""
    _check_dims(input, 1, "avg_pool1d")
    k = ntuple(kernel_size, 1, "kernel_size", 1)
    return avg_pool2d(input.unsqueeze(-2), (1, *k), (1, *_stride(stride, k, 1)),
                      (0, *ntuple(padding, 1, "padding", 0)), ceil_mode,
                      count_include_pad).squeeze(-2)


def adaptive_avg_pool1d(input, output_size):
    """Adaptive average pooling over (N, C, L) or (C, L) to ``output_size``."""
    _check_dims(input, 1, "adaptive_avg_pool1d")
    (o,) = ntuple(output_size, 1, "output_size", 1)
    return adaptive_avg_pool2d(input.unsqueeze(-2), (1, o)).squeeze(-2)


# ------------------------------------------------------------------------------------- 3-D
def _depth_windows(t, d_out, k, s, dil):
    """The k strided depth slices (dim 2) that the d_out depth windows read, one per tap."""
    return [t[:, :, j * dil:j * dil + s * (d_out - 1) + 1:s] for j in range(k)]


def _fold_depth(x):
    """(N, C, D, H, W) -> (N*D, C, H, W)."""
    n, c, d = x.shape[:3]
    return x.permute(0, 2, 1, 3, 4).reshape(n * d, c, *x.shape[3:])


def _unfold_depth(y, n, d):
    """(N*D, C, H, W) -> (N, C, D, H, W)."""
    return y.reshape(n, d, *y.shape[1:]).permute(0, 2, 1, 3, 4)


def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """Max pooling over (N, C, D, H, W) or (C, D, H, W): the 2-D max pool of every depth plane,
    then the max over each depth window (first maximum wins, as PyTorch's d, h, w scan).
    Indices are flat positions in each D*H*W volume."""
    _check_dims(input, 3, "max_pool3d")
    k = ntuple(kernel_size, 3, "kernel_size", 1)
    s = _stride(stride, k, 3)
    p = ntuple(padding, 3, "padding", 0)
    dil = ntuple(dilation, 3, "dilation", 1)
    if p[0] > k[0] // 2:
        raise ValueError(f"padding: should be at most half of the kernel size, got padding={p} "
                         f"and kernel_size={k}")
    unbatched = input.ndim == 4
    x = input.unsqueeze(0) if unbatched else input
    n, _, d, h, w = x.shape
    od = pool_output_size(d, k[0], s[0], p[0], dil[0], ceil_mode)
    if od < 1:
        raise ValueError(f"kernel_size: the pooling window does not fit the input {x.shape}")
    planes = max_pool2d(_fold_depth(x), k[1:], s[1:], p[1:], dil[1:], ceil_mode,
                        return_indices=True)
    vals, idx = (_unfold_depth(t, n, d) for t in planes)
    right = max((od - 1) * s[0] + dil[0] * (k[0] - 1) + 1 - d - p[0], 0)
    vals = pad(vals, (0, 0, 0, 0, p[0], right), value=-math.inf)
    best, tap = stack(_depth_windows(vals, od, k[0], s[0], dil[0]), 0).max(dim=0)
    if not return_indices:
        return best.squeeze(0) if unbatched else best
    tap = tap.array
    depth = (np.arange(od) * s[0] - p[0])[:, None, None] + tap * dil[0]
    idx_pad = np.pad(idx.array, ((0, 0), (0, 0), (p[0], right), (0, 0), (0, 0)))
    hw = np.take_along_axis(idx_pad, depth + p[0], axis=2)
    indices = wrap((depth * (h * w) + hw).astype(np.int64))
    if unbatched:
        return best.squeeze(0), indices.squeeze(0)
    return best, indices


def max_pool3d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=True):
    return max_pool3d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """Average pooling over (N, C, D, H, W) or (C, D, H, W): window sums of every depth plane
    (avg_pool2d with divisor 1), summed over each depth window, divided by PyTorch's divisor."""
    _check_dims(input, 3, "avg_pool3d")
    k = ntuple(kernel_size, 3, "kernel_size", 1)
    s = _stride(stride, k, 3)
    p = ntuple(padding, 3, "padding", 0)
    if any(pi > ki // 2 for pi, ki in zip(p, k)):
        raise ValueError(f"padding: should be at most half of the kernel size, got padding={p} "
                         f"and kernel_size={k}")
    if divisor_override is not None and int(divisor_override) == 0:
        raise ValueError("divisor_override: must be nonzero")
    unbatched = input.ndim == 4
    x = input.unsqueeze(0) if unbatched else input
    n, _, d, h, w = x.shape
    outs = [pool_output_size(size, k[a], s[a], p[a], 1, ceil_mode)
            for a, size in enumerate((d, h, w))]
    if min(outs) < 1:
        raise ValueError(f"kernel_size: the pooling window does not fit the input {x.shape}")
    sums = _unfold_depth(avg_pool2d(_fold_depth(x), k[1:], s[1:], p[1:], ceil_mode, True, 1),
                         n, d)
    right = max((outs[0] - 1) * s[0] + k[0] - d - p[0], 0)
    sums = pad(sums, (0, 0, 0, 0, p[0], right))
    total = None
    for t in _depth_windows(sums, outs[0], k[0], s[0], 1):
        total = t if total is None else total + t
    if divisor_override:
        div = np.asarray(float(divisor_override))
    else:
        counts = [_avg_count(size, o, k[a], s[a], p[a], count_include_pad)
                  for a, (size, o) in enumerate(zip((d, h, w), outs))]
        div = (counts[0][:, None, None] * counts[1][None, :, None]
               * counts[2][None, None, :]).astype(np.float64)
    y = total * wrap((1.0 / div).astype(total.array.dtype))
    return y.squeeze(0) if unbatched else y


def _output_sizes(output_size, sizes, name):
    n = len(sizes)
    if isinstance(output_size, numbers.Integral):
        output_size = (output_size,) * n
    if len(output_size) != n:
        raise ValueError(f"output_size: expected an int or {n} values, got {output_size!r}")
    out = tuple(s if o is None else int(o) for o, s in zip(output_size, sizes))
    if min(out) < 0 or (min(out) == 0 and min(sizes) > 0):
        raise ValueError(f"output_size: {name} expects positive sizes, got {output_size!r}")
    return out


def adaptive_avg_pool3d(input, output_size):
    """Adaptive average pooling over (N, C, D, H, W) or (C, D, H, W): adaptive_avg_pool2d over
    (H, W), then a depth averaging matrix."""
    _check_dims(input, 3, "adaptive_avg_pool3d")
    od, oh, ow = _output_sizes(output_size, input.shape[-3:], "adaptive_avg_pool3d")
    d, h, w = input.shape[-3:]
    lead = input.shape[:-3]
    y = adaptive_avg_pool2d(input.reshape(-1, d, h, w), (oh, ow))  # (L, D, OH, OW)
    if od != d:
        a = wrap(_adaptive_matrix(d, od, y.array.dtype).T.copy())  # (D, OD)
        y = (y.reshape(-1, d, oh * ow).transpose(1, 2) @ a).transpose(1, 2)
    return y.reshape(*lead, od, oh, ow)


# ----------------------------------------------------------------------------- adaptive max
def _adaptive_index(size, out):
    """(out, K) input positions of each adaptive window, K the longest window; shorter windows
    repeat their first position (a repeat never changes the max nor the first argmax)."""
    starts = (np.arange(out) * size) // out
    ends = -(-((np.arange(out) + 1) * size) // out)
    k = int((ends - starts).max()) if out else 0
    idx = starts[:, None] + np.arange(k)[None, :]
    return np.where(idx < ends[:, None], idx, starts[:, None]), k


def _adaptive_max(input, output_size, n, name, return_indices):
    _check_dims(input, n, name)
    sizes = tuple(input.shape[-n:])
    outs = _output_sizes(output_size, sizes, name)
    idxs, ks = zip(*(_adaptive_index(s, o) for s, o in zip(sizes, outs)))
    # index arrays broadcasting to (O1, .., On, K1, .., Kn)
    grid = []
    for a, ix in enumerate(idxs):
        shape = [1] * (2 * n)
        shape[a], shape[n + a] = ix.shape
        grid.append(ix.reshape(shape))
    windows = input[(Ellipsis, *grid)]
    windows = windows.reshape(*windows.shape[:-n], int(np.prod(ks)))
    best, arg = windows.max(dim=-1)
    if not return_indices:
        return best
    taps = np.unravel_index(arg.array, ks)
    flat = np.zeros(arg.shape, dtype=np.int64)
    for a in range(n):
        o_index = np.arange(outs[a]).reshape([-1] + [1] * (n - 1 - a))
        flat = flat * sizes[a] + idxs[a][o_index, taps[a]]
    return best, wrap(flat)


def adaptive_max_pool1d(input, output_size, return_indices=False):
    """Adaptive max pooling over (N, C, L) or (C, L) to ``output_size``."""
    return _adaptive_max(input, output_size, 1, "adaptive_max_pool1d", return_indices)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Adaptive max pooling over (N, C, H, W) or (C, H, W) to ``output_size`` (int or pair;
    None keeps that dim); indices are flat positions in each H*W plane."""
    return _adaptive_max(input, output_size, 2, "adaptive_max_pool2d", return_indices)


def adaptive_max_pool3d(input, output_size, return_indices=False):
    """Adaptive max pooling over (N, C, D, H, W) or (C, D, H, W) to ``output_size``."""
    return _adaptive_max(input, output_size, 3, "adaptive_max_pool3d", return_indices)


def adaptive_max_pool1d_with_indices(input, output_size, return_indices=True):
    return adaptive_max_pool1d(input, output_size, True)


def adaptive_max_pool2d_with_indices(input, output_size, return_indices=True):
    return adaptive_max_pool2d(input, output_size, True)


def adaptive_max_pool3d_with_indices(input, output_size, return_indices=True):
    return adaptive_max_pool3d(input, output_size, True)


# -------------------------------------------------------------------------------------- lp
def _lp(out, norm_type, taps):
    from ._core import relu

    return ((out.sign() * relu(out.abs())) * taps).pow(1.0 / norm_type)


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """Power-average pooling over (N, C, L): (sum over the window of x**p) ** (1/p)."""
    (k,) = ntuple(kernel_size, 1, "kernel_size", 1)
    out = avg_pool1d(input.pow(norm_type), k, stride if stride is not None else k, 0, ceil_mode)
    return _lp(out, norm_type, k)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """Power-average pooling over (N, C, H, W): (sum over the window of x**p) ** (1/p)."""
    from ._conv import _check_ndim

    _check_ndim(input, "input")
    k = ntuple(kernel_size, 2, "kernel_size", 1)
    out = avg_pool2d(input.pow(norm_type), k, stride if stride is not None else k, 0, ceil_mode)
    return _lp(out, norm_type, k[0] * k[1])


def lp_pool3d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """Power-average pooling over (N, C, D, H, W): (sum over the window of x**p) ** (1/p)."""
    k = ntuple(kernel_size, 3, "kernel_size", 1)
    out = avg_pool3d(input.pow(norm_type), k, stride if stride is not None else k, 0, ceil_mode)
    return _lp(out, norm_type, k[0] * k[1] * k[2])


# ----------------------------------------------------------------------------------- unpool
def _max_unpool(input, indices, kernel_size, stride, padding, output_size, n, name):
    from ...functions.indexing import scatter

    if input.ndim not in (n + 1, n + 2):
        raise ValueError(f"input: {name} expects a {n + 1}-D or {n + 2}-D input, got "
                         f"{input.ndim}-D")
    if tuple(indices.shape) != tuple(input.shape):
        raise ValueError(f"indices: expected the input's shape {tuple(input.shape)}, got "
                         f"{tuple(indices.shape)}")
    k = ntuple(kernel_size, n, "kernel_size", 1)
    s = _stride(stride, k, n)
    p = ntuple(padding, n, "padding", 0)
    sizes = input.shape[-n:]
    default = [(sizes[a] - 1) * s[a] - 2 * p[a] + k[a] for a in range(n)]
    if output_size is None:
        out = default
    else:
        out = [int(o) for o in output_size][-n:]
        if len(out) != n:
            raise ValueError(f"output_size: expected {n} spatial sizes, got {output_size!r}")
        for a in range(n):
            if not default[a] - s[a] < out[a] < default[a] + s[a]:
                raise ValueError(f"output_size: {tuple(out)} is not between "
                                 f"{tuple(d - st for d, st in zip(default, s))} and "
                                 f"{tuple(d + st for d, st in zip(default, s))}")
    lead = tuple(input.shape[:-n])
    volume = int(np.prod(out))
    idx = indices.reshape(*lead, -1)
    if idx.numel() and (int(idx.array.min()) < 0 or int(idx.array.max()) >= volume):
        raise ValueError(f"indices: values must lie in [0, {volume}) for output size "
                         f"{tuple(out)}")
    zeros = wrap(np.zeros(lead + (volume,), dtype=input.array.dtype))
    return scatter(zeros, -1, idx, input.reshape(*lead, -1)).reshape(*lead, *out)


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Inverse of max_pool1d: each value goes to its index in a zero (N, C, L_out) output."""
    return _max_unpool(input, indices, kernel_size, stride, padding, output_size, 1,
                       "max_unpool1d")


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Inverse of max_pool2d: each value goes to its flat index in a zero (N, C, H, W) output."""
    return _max_unpool(input, indices, kernel_size, stride, padding, output_size, 2,
                       "max_unpool2d")


def max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Inverse of max_pool3d: each value goes to its flat index in a zero (N, C, D, H, W)
    output."""
    return _max_unpool(input, indices, kernel_size, stride, padding, output_size, 3,
                       "max_unpool3d")


# ------------------------------------------------------------------------------- fractional
def _fractional_starts(sample, size, out, k):
    """PyTorch's generate_intervals, in the input's dtype: window starts along one dim."""
    dt = sample.dtype.type
    starts = np.empty(sample.shape + (out,), dtype=np.int64)
    if out > 1:
        alpha = dt(size - k) / dt(out - 1)
        i = np.arange(out - 1, dtype=sample.dtype)
        starts[..., :-1] = (((i + sample[..., None]) * alpha).astype(np.int64)
                            - (sample * alpha).astype(np.int64)[..., None])
    starts[..., -1] = size - k
    return starts


def _fractional_max(input, kernel_size, output_size, output_ratio, return_indices,
                    _random_samples, n, name):
    _check_dims(input, n, name)
    unbatched = input.ndim == n + 1
    x = input.unsqueeze(0) if unbatched else input
    k = ntuple(kernel_size, n, "kernel_size", 1)
    sizes = tuple(x.shape[2:])
    if (output_size is None) == (output_ratio is None):
        raise ValueError(f"output_size, output_ratio: {name} needs exactly one of them")
    if output_size is None:
        ratio = ((float(output_ratio),) * n if isinstance(output_ratio, numbers.Real)
                 else tuple(float(r) for r in output_ratio))
        if len(ratio) != n or not all(0 < r < 1 for r in ratio):
            raise ValueError(f"output_ratio: expected {n} values in (0, 1), got "
                             f"{output_ratio!r}")
        out = tuple(int(s * r) for s, r in zip(sizes, ratio))
    else:
        out = ntuple(output_size, n, "output_size", 1)
    for a in range(n):
        if out[a] + k[a] - 1 > sizes[a]:
            raise ValueError(f"output_size: {out} with kernel_size={k} needs input sizes of at "
                             f"least {tuple(o + kk - 1 for o, kk in zip(out, k))}, got {sizes}")
    batch, chans = x.shape[:2]
    dtype = x.array.dtype
    if _random_samples is None:
        from ...random import generator  # fastnn's global generator (manual_seed applies)

        samples = generator().random((batch, chans, n)).astype(dtype)
    else:
        samples = np.asarray(getattr(_random_samples, "array", _random_samples)).astype(dtype)
        if samples.ndim != 3 or samples.shape[0] < batch or samples.shape[1:] != (chans, n):
            raise ValueError(f"_random_samples: expected shape {(batch, chans, n)}, got "
                             f"{samples.shape}")
        samples = samples[:batch]  # PyTorch reads the first (an unbatched input: batch 0)
    # PyTorch reads the samples last dim first for 2-D (W, H) and in order for 3-D (T, H, W)
    order = (1, 0) if n == 2 else tuple(range(n))
    grid = [np.arange(batch).reshape((batch,) + (1,) * (2 * n + 1)),
            np.arange(chans).reshape((1, chans) + (1,) * (2 * n))]
    idxs = []
    for a in range(n):
        starts = _fractional_starts(samples[..., order[a]], sizes[a], out[a], k[a])
        ix = starts[..., None] + np.arange(k[a])  # (N, C, O_a, K_a)
        idxs.append(ix)
        shape = [batch, chans] + [1] * (2 * n)
        shape[2 + a], shape[2 + n + a] = out[a], k[a]
        grid.append(ix.reshape(shape))
    windows = x[tuple(grid)]
    windows = windows.reshape(batch, chans, *out, int(np.prod(k)))
    best, arg = windows.max(dim=-1)
    if unbatched:
        best = best.squeeze(0)
    if not return_indices:
        return best
    taps = np.unravel_index(arg.array, k)
    flat = np.zeros(arg.shape, dtype=np.int64)
    for a in range(n):
        b_index = np.arange(batch).reshape((batch,) + (1,) * (n + 1))
        c_index = np.arange(chans).reshape((1, chans) + (1,) * n)
        o_index = np.arange(out[a]).reshape([-1] + [1] * (n - 1 - a))
        flat = flat * sizes[a] + idxs[a][b_index, c_index, o_index, taps[a]]
    indices = wrap(flat)
    return best, indices.squeeze(0) if unbatched else indices


def fractional_max_pool2d(input, kernel_size, output_size=None, output_ratio=None,
                          return_indices=False, _random_samples=None):
    """Fractional max pooling (Graham) over (N, C, H, W) or (C, H, W): pseudo-random window
    starts from ``_random_samples`` (N, C, 2) in [0, 1) (drawn when None)."""
    return _fractional_max(input, kernel_size, output_size, output_ratio, return_indices,
                           _random_samples, 2, "fractional_max_pool2d")


def fractional_max_pool3d(input, kernel_size, output_size=None, output_ratio=None,
                          return_indices=False, _random_samples=None):
    """Fractional max pooling over (N, C, D, H, W) or (C, D, H, W); ``_random_samples`` is
    (N, C, 3)."""
    return _fractional_max(input, kernel_size, output_size, output_ratio, return_indices,
                           _random_samples, 3, "fractional_max_pool3d")


def fractional_max_pool2d_with_indices(input, kernel_size, output_size=None, output_ratio=None,
                                       return_indices=True, _random_samples=None):
    return fractional_max_pool2d(input, kernel_size, output_size, output_ratio, True,
                                 _random_samples)


def fractional_max_pool3d_with_indices(input, kernel_size, output_size=None, output_ratio=None,
                                       return_indices=True, _random_samples=None):
    return fractional_max_pool3d(input, kernel_size, output_size, output_ratio, True,
                                 _random_samples)
