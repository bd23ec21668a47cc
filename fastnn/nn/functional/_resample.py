"""Resampling (PyTorch's names, signatures and semantics): interpolate/upsample, pixel_shuffle,
pixel_unshuffle, channel_shuffle, unfold, fold, grid_sample.

interpolate is separable: each spatial axis is resampled on its own, nearest modes as an index
gather, linear/cubic modes as a product with an (out, in) interpolation matrix (the GEMM kernel;
its adjoint is the backward), area as adaptive average pooling. unfold (im2col) is conv2d with a
one-hot weight and fold (col2im) is its adjoint, conv_transpose2d with the same weight, so both
stay on the conv2d kernels. grid_sample is PyTorch's GridSampler arithmetic as Tensor ops
(unnormalize, pad the coordinates, gather the 2**n corners or 4x4 cubic taps, weight), so the
input and grid gradients come from autograd.
"""

from __future__ import annotations

import itertools
import math
import numbers

import numpy as np

from ...tensor import wrap
from ._conv import conv2d, conv_transpose2d, ntuple

__all__ = ["interpolate", "upsample", "upsample_nearest", "upsample_bilinear", "pixel_shuffle",
           "pixel_unshuffle", "channel_shuffle", "unfold", "fold", "grid_sample"]

_MODES = {"nearest": None, "nearest-exact": None, "area": None, "linear": 1, "bilinear": 2,
          "bicubic": 2, "trilinear": 3}


def _source_scale(size, out, align_corners, scale_factor):
    """PyTorch's area_pixel_compute_scale."""
    if align_corners:
        return (size - 1) / (out - 1) if out > 1 else 0.0
    if scale_factor is not None and scale_factor > 0:
        return 1.0 / scale_factor
    return size / out


def _nearest_index(size, out, scale_factor, exact):
    scale = scale_factor and 1.0 / scale_factor or size / out
    dst = np.arange(out, dtype=np.float64)
    src = np.floor((dst + 0.5) * scale) if exact else np.floor(dst * scale)
    return np.minimum(src.astype(np.int64), size - 1)


def _cubic_weights(t, a=-0.75):
    """Keys' cubic convolution weights of the four taps at offsets -1, 0, 1, 2 (PyTorch's A)."""
    def near(x):  # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x):  # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    return far(t + 1), near(t), near(1 - t), far(2 - t)


def _interp_matrix(size, out, mode, align_corners, scale_factor):
    """(out, size) float64 matrix of the linear or cubic interpolation along one axis."""
    scale = _source_scale(size, out, align_corners, scale_factor)
    dst = np.arange(out, dtype=np.float64)
    src = scale * dst if align_corners else scale * (dst + 0.5) - 0.5
    m = np.zeros((out, size), dtype=np.float64)
    rows = np.arange(out)
    if mode == "cubic":
        i0 = np.floor(src)
        t = src - i0
        for off, w in zip((-1, 0, 1, 2), _cubic_weights(t)):
            np.add.at(m, (rows, np.clip(i0.astype(np.int64) + off, 0, size - 1)), w)
        return m
    src = np.maximum(src, 0.0)
    i0 = np.minimum(np.floor(src).astype(np.int64), size - 1)
    i1 = np.minimum(i0 + 1, size - 1)
    lam = src - i0
    np.add.at(m, (rows, i0), 1.0 - lam)
    np.add.at(m, (rows, i1), lam)
    return m


def _output_size(input, n, size, scale_factor, recompute_scale_factor):
    if (size is None) == (scale_factor is None):
        raise ValueError("size, scale_factor: exactly one of them must be defined")
    if size is not None:
        sizes = ((int(size),) * n if isinstance(size, numbers.Integral)
                 else tuple(int(s) for s in size))
        if len(sizes) != n:
            raise ValueError(f"size: expected {n} spatial sizes for a {input.ndim}-D input, got "
                             f"{size!r}")
        return sizes, (None,) * n
    scales = ((float(scale_factor),) * n if isinstance(scale_factor, numbers.Real)
              else tuple(float(s) for s in scale_factor))
    if len(scales) != n:
        raise ValueError(f"scale_factor: expected {n} values for a {input.ndim}-D input, got "
                         f"{scale_factor!r}")
    sizes = tuple(math.floor(input.shape[2 + a] * scales[a]) for a in range(n))
    return sizes, ((None,) * n if recompute_scale_factor else scales)


def _along(x, axis, fn):
    """Apply fn to x with ``axis`` moved last, then move it back."""
    if axis == x.ndim - 1:
        return fn(x)
    return fn(x.transpose(axis, -1)).transpose(axis, -1)


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resamples (N, C, *spatial) input (1-3 spatial dims) to ``size`` or by ``scale_factor``.

    Modes: "nearest", "nearest-exact", "area" (any rank), "linear" (3-D input), "bilinear",
    "bicubic" (4-D), "trilinear" (5-D). ``align_corners`` (linear modes only) maps corner
    pixel centres onto each other.
    """
    from ._conv import adaptive_avg_pool2d
    from ._pooling import adaptive_avg_pool1d, adaptive_avg_pool3d

    if mode not in _MODES:
        raise ValueError(f"mode: expected one of {sorted(_MODES)}, got {mode!r}")
    if input.ndim not in (3, 4, 5):
        raise ValueError(f"input: expected a 3-D, 4-D or 5-D (N, C, *spatial) input, got "
                         f"{input.ndim}-D")
    n = input.ndim - 2
    if _MODES[mode] is not None and _MODES[mode] != n:
        raise ValueError(f"input: mode {mode!r} expects a {_MODES[mode] + 2}-D input, got "
                         f"{input.ndim}-D")
    if align_corners is not None and _MODES[mode] is None:
        raise ValueError("align_corners: only valid for the linear, bilinear, bicubic and "
                         "trilinear modes")
    if antialias:
        raise NotImplementedError("interpolate: antialias=True")
    sizes, scales = _output_size(input, n, size, scale_factor, recompute_scale_factor)
    if min(sizes) < 1:
        raise ValueError(f"size: the output sizes {sizes} must be positive")
    if mode == "area":
        pool = (adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_avg_pool3d)[n - 1]
        return pool(input, sizes)
    y = input
    for a in range(n):
        axis, src, out = 2 + a, input.shape[2 + a], sizes[a]
        if mode in ("nearest", "nearest-exact"):
            if out == src and scales[a] in (None, 1.0):
                continue
            idx = wrap(_nearest_index(src, out, scales[a], mode == "nearest-exact"))
            y = y.index_select(axis, idx)
        else:
            m = _interp_matrix(src, out, "cubic" if mode == "bicubic" else "linear",
                               bool(align_corners), scales[a])
            mt = wrap(m.T.astype(y.array.dtype))
            y = _along(y, axis, lambda t, mt=mt: t @ mt)
    return y


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """Deprecated alias of interpolate (PyTorch's F.upsample)."""
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    """interpolate(mode="nearest")."""
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    """interpolate(mode="bilinear", align_corners=True)."""
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


# ------------------------------------------------------------------------------- shuffles
def pixel_shuffle(input, upscale_factor):
    """(*, C * r**2, H, W) -> (*, C, H * r, W * r)."""
    r = int(upscale_factor)
    if input.ndim < 3:
        raise ValueError(f"input: pixel_shuffle expects at least 3 dims, got {input.ndim}-D")
    if r < 1 or input.shape[-3] % (r * r):
        raise ValueError(f"upscale_factor: the channel count {input.shape[-3]} must be "
                         f"divisible by upscale_factor**2 = {r * r}")
    *lead, c, h, w = input.shape
    k = len(lead)
    y = input.reshape(*lead, c // (r * r), r, r, h, w)
    y = y.permute(*range(k), k, k + 3, k + 1, k + 4, k + 2)
    return y.reshape(*lead, c // (r * r), h * r, w * r)


def pixel_unshuffle(input, downscale_factor):
    """(*, C, H * r, W * r) -> (*, C * r**2, H, W)."""
    r = int(downscale_factor)
    if input.ndim < 3:
        raise ValueError(f"input: pixel_unshuffle expects at least 3 dims, got {input.ndim}-D")
    if r < 1 or input.shape[-2] % r or input.shape[-1] % r:
        raise ValueError(f"downscale_factor: the height {input.shape[-2]} and width "
                         f"{input.shape[-1]} must be divisible by {r}")
    *lead, c, h, w = input.shape
    k = len(lead)
    y = input.reshape(*lead, c, h // r, r, w // r, r)
    y = y.permute(*range(k), k, k + 2, k + 4, k + 1, k + 3)
    return y.reshape(*lead, c * r * r, h // r, w // r)


def channel_shuffle(input, groups):
    """(N, C, *) with C = g * k: the channels as a (g, k) grid, transposed to (k, g)."""
    g = int(groups)
    if input.ndim < 3:
        raise ValueError(f"input: channel_shuffle expects at least 3 dims, got {input.ndim}-D")
    if g < 1 or input.shape[1] % g:
        raise ValueError(f"groups: must be positive and divide the {input.shape[1]} channels, "
                         f"got {groups}")
    n, c, *rest = input.shape
    return input.reshape(n, g, c // g, *rest).transpose(1, 2).reshape(n, c, *rest)


# ---------------------------------------------------------------------------- unfold / fold
def _one_hot_weight(kernel, dtype):
    """(KH*KW, 1, KH, KW): output channel t picks kernel tap t."""
    taps = kernel[0] * kernel[1]
    return wrap(np.eye(taps, dtype=dtype).reshape(taps, 1, *kernel))


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """im2col: (N, C, H, W) (or (C, H, W)) -> (N, C * KH * KW, L) sliding local blocks, L the
    number of block positions: conv2d of each channel with a one-hot weight."""
    if input.ndim not in (3, 4):
        raise ValueError(f"input: unfold expects a 3-D or 4-D input, got {input.ndim}-D")
    kernel = ntuple(kernel_size, 2, "kernel_size", 1)
    unbatched = input.ndim == 3
    x = input.unsqueeze(0) if unbatched else input
    n, c, h, w = x.shape
    cols = conv2d(x.reshape(n * c, 1, h, w), _one_hot_weight(kernel, x.array.dtype), None,
                  ntuple(stride, 2, "stride", 1), ntuple(padding, 2, "padding", 0),
                  ntuple(dilation, 2, "dilation", 1))
    y = cols.reshape(n, c * kernel[0] * kernel[1], cols.shape[-2] * cols.shape[-1])
    return y.squeeze(0) if unbatched else y


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """col2im, the adjoint of unfold: (N, C * KH * KW, L) (or unbatched) -> (N, C, H, W),
    overlapping blocks summed: conv_transpose2d with unfold's one-hot weight."""
    if input.ndim not in (2, 3):
        raise ValueError(f"input: fold expects a 2-D or 3-D input, got {input.ndim}-D")
    kernel = ntuple(kernel_size, 2, "kernel_size", 1)
    out = ntuple(output_size, 2, "output_size", 1)
    dil = ntuple(dilation, 2, "dilation", 1)
    pad = ntuple(padding, 2, "padding", 0)
    st = ntuple(stride, 2, "stride", 1)
    unbatched = input.ndim == 2
    x = input.unsqueeze(0) if unbatched else input
    n, ck, length = x.shape
    taps = kernel[0] * kernel[1]
    if ck % taps:
        raise ValueError(f"input: dim 1 ({ck}) must be divisible by the kernel's "
                         f"{kernel[0]}x{kernel[1]} = {taps} taps")
    blocks = [(out[a] + 2 * pad[a] - dil[a] * (kernel[a] - 1) - 1) // st[a] + 1 for a in (0, 1)]
    if min(blocks) < 1 or blocks[0] * blocks[1] != length:
        raise ValueError(f"input: {length} blocks do not match output_size={out}, "
                         f"kernel_size={kernel}, dilation={dil}, padding={pad}, stride={st} "
                         f"(which give {blocks[0]} x {blocks[1]})")
    c = ck // taps
    cols = x.reshape(n * c, taps, *blocks)
    extra = [out[a] - ((blocks[a] - 1) * st[a] - 2 * pad[a] + dil[a] * (kernel[a] - 1) + 1)
             for a in (0, 1)]
    y = conv_transpose2d(cols, _one_hot_weight(kernel, x.array.dtype), None, st, pad, extra, 1,
                         dil)
    y = y.reshape(n, c, *out)
    return y.squeeze(0) if unbatched else y


# ------------------------------------------------------------------------------ grid_sample
def _unnormalize(coord, size, align_corners):
    if align_corners:
        return (coord + 1) * ((size - 1) / 2)
    return ((coord + 1) * size - 1) / 2


def _reflect(coord, twice_low, twice_high):
    """PyTorch's reflect_coordinates: fold ``coord`` into [low, high] by mirroring."""
    if twice_low == twice_high:
        return coord * 0
    low, span = twice_low / 2, (twice_high - twice_low) / 2
    coord = (coord - low).abs()
    flips = np.floor(coord.array / span)
    extra = coord - wrap((flips * span).astype(coord.array.dtype))
    even = flips % 2 == 0
    sign = np.where(even, 1, -1).astype(coord.array.dtype)
    offset = np.where(even, low, span + low).astype(coord.array.dtype)
    return extra * wrap(sign) + wrap(offset)


def _pad_coordinate(coord, size, padding_mode, align_corners):
    """PyTorch's compute_coordinates: border clips, reflection mirrors then clips."""
    if padding_mode == "border":
        return coord.clamp(0, size - 1)
    if padding_mode == "reflection":
        coord = (_reflect(coord, 0, 2 * (size - 1)) if align_corners
                 else _reflect(coord, -1, 2 * size - 1))
        return coord.clamp(0, size - 1)
    return coord


def _gather_taps(input, index, sizes):
    """input (N, C, *S) at integer positions ``index`` (one (N, *O) array per spatial dim),
    zero where out of bounds: (N, C, *O)."""
    inside = np.ones(index[0].shape, dtype=bool)
    clipped = []
    for ix, size in zip(index, sizes):
        inside &= (ix >= 0) & (ix < size)
        clipped.append(np.clip(ix, 0, size - 1))
    batch = np.arange(input.shape[0]).reshape((-1,) + (1,) * (index[0].ndim - 1))
    values = input[(batch, slice(None), *clipped)]  # (N, *O, C)
    values = values.movedim(-1, 1)
    if inside.all():
        return values
    return values * wrap(inside[:, None].astype(input.array.dtype))


def grid_sample(input, grid, mode="bilinear", padding_mode="zeros", align_corners=None):
    """Samples (N, C, H, W) (or (N, C, D, H, W)) input at the normalized (x, y[, z]) positions
    of grid (N, H_out, W_out, 2) (or (N, D_out, H_out, W_out, 3)); -1 and 1 are the corner
    pixels' centres (align_corners=True) or outer edges (False, the default).

    mode: "bilinear" (trilinear for 5-D), "nearest" or "bicubic" (4-D only); padding_mode:
    "zeros", "border" or "reflection" for positions outside the input.
    """
    if mode not in ("bilinear", "nearest", "bicubic"):
        raise ValueError(f"mode: expected 'bilinear', 'nearest' or 'bicubic', got {mode!r}")
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError(f"padding_mode: expected 'zeros', 'border' or 'reflection', got "
                         f"{padding_mode!r}")
    if input.ndim not in (4, 5):
        raise ValueError(f"input: grid_sample expects a 4-D or 5-D input, got {input.ndim}-D")
    n = input.ndim - 2
    if grid.ndim != input.ndim or grid.shape[-1] != n or grid.shape[0] != input.shape[0]:
        raise ValueError(f"grid: expected shape ({input.shape[0]}, ..., {n}) with "
                         f"{input.ndim} dims for input {tuple(input.shape)}, got "
                         f"{tuple(grid.shape)}")
    if mode == "bicubic" and n != 2:
        raise ValueError("mode: 'bicubic' needs a 4-D input")
    align = bool(align_corners)
    sizes = tuple(input.shape[2:])
    # grid's last dim is (x, y[, z]): x indexes the last spatial dim
    coords = [_unnormalize(grid[..., n - 1 - a], sizes[a], align) for a in range(n)]
    if mode == "bicubic":
        lows = [np.floor(c.array) for c in coords]
        weights = [_cubic_weights(c - wrap(lo)) for c, lo in zip(coords, lows)]
        out = None
        for taps in itertools.product(range(4), repeat=n):
            index = []
            for a, t in enumerate(taps):
                at = wrap(lows[a] - 1 + t)
                at = _pad_coordinate(at, sizes[a], padding_mode, align).array
                index.append(at.astype(np.int64))
            w = weights[0][taps[0]] * weights[1][taps[1]]
            term = _gather_taps(input, index, sizes) * w.unsqueeze(1)
            out = term if out is None else out + term
        return out
    coords = [_pad_coordinate(c, sizes[a], padding_mode, align) for a, c in enumerate(coords)]
    if mode == "nearest":  # nearbyint: halves round to even
        return _gather_taps(input, [np.rint(c.array).astype(np.int64) for c in coords], sizes)
    lows = [np.floor(c.array) for c in coords]
    fracs = [c - wrap(lo) for c, lo in zip(coords, lows)]
    out = None
    for corner in itertools.product((0, 1), repeat=n):
        w = None
        for a, bit in enumerate(corner):
            f = fracs[a] if bit else 1 - fracs[a]
            w = f if w is None else w * f
        index = [(lo + bit).astype(np.int64) for lo, bit in zip(lows, corner)]
        term = _gather_taps(input, index, sizes) * w.unsqueeze(1)
        out = term if out is None else out + term
    return out


def grid_sampler_2d(input, grid, interpolation_mode, padding_mode, align_corners):
    """torch.grid_sampler_2d: grid_sample with integer modes (0 bilinear, 1 nearest, 2 bicubic;
    padding 0 zeros, 1 border, 2 reflection)."""
    if input.ndim != 4:
        raise ValueError(f"input: grid_sampler_2d expects a 4-D input, got {input.ndim}-D")
    return grid_sample(input, grid, ("bilinear", "nearest", "bicubic")[interpolation_mode],
                       ("zeros", "border", "reflection")[padding_mode], align_corners)


def grid_sampler_3d(input, grid, interpolation_mode, padding_mode, align_corners):
    """torch.grid_sampler_3d: grid_sample of a 5-D input with integer modes."""
    if input.ndim != 5:
        raise ValueError(f"input: grid_sampler_3d expects a 5-D input, got {input.ndim}-D")
    return grid_sample(input, grid, ("bilinear", "nearest", "bicubic")[interpolation_mode],
                       ("zeros", "border", "reflection")[padding_mode], align_corners)
