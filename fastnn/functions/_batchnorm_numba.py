"""Batch-norm training forward and backward for CPU float32/float64 arrays, one Numba kernel each.

Why: the NumPy composition in batchnorm.py makes ~7 full passes over the activation per direction
(float64 channel means over non-contiguous axes, centred copy, square, normalise, scale, shift;
backward two reductions and a 4-term expression) and was 15% of tut-resnet's CPU time (cProfile,
8 epochs), a third of the convolutions' cost. Here each channel is one task over its
(N, S) slice, which stays in L2 between passes: forward reads x twice (mean, then centred variance
-- the two-pass form keeps float32 inputs with a large mean exact) and writes y once; backward
reads (g, x) twice and writes dx once. Statistics accumulate in float64. ``fastmath`` is limited
to reassociation and contraction (vectorised sums, FMA): NaN and Inf propagate as in NumPy.

Serial on purpose: one thread does (100, 16, 32, 32) float32 in 1.5 ms forward and 1.6 ms
backward CPU; fwd+bwd of the three ResNet shapes through autograd take 9 ms CPU (NumPy path:
25 ms; /tmp timing). A prange over channels with 2 Numba threads took 7-8 ms CPU per direction on
the shared 2-core machine (threads spinning at the join) for a memory-bound loop.

The backward recomputes x_hat from the saved input (as torch's native kernel does) instead of
keeping an x_hat array alive from forward to backward.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_FM = {"reassoc", "contract"}


@njit(cache=True, fastmath=_FM)
def _forward_train(x, weight, bias, eps, y, mean, var):  # pragma: no cover - compiled
    n_batch, channels, size = x.shape
    count = n_batch * size
    for c in range(channels):
        s = 0.0
        for n in range(n_batch):
            for i in range(size):
                s += x[n, c, i]
        m = s / count
        q = 0.0
        for n in range(n_batch):
            for i in range(size):
                d = x[n, c, i] - m
                q += d * d
        v = q / count
        inv = 1.0 / np.sqrt(v + eps)
        a = inv * weight[c]
        b = bias[c] - m * a
        for n in range(n_batch):
            for i in range(size):
                y[n, c, i] = x[n, c, i] * a + b
        mean[c] = m
        var[c] = v


@njit(cache=True, fastmath=_FM)
def _backward_train(g, x, mean, invstd, weight, need_gx, gx, gweight, gbias):  # pragma: no cover
    n_batch, channels, size = x.shape
    count = n_batch * size
    for c in range(channels):
        m = mean[c]
        sg = 0.0
        sgx = 0.0
        for n in range(n_batch):
            for i in range(size):
                gv = g[n, c, i]
                sg += gv
                sgx += gv * (x[n, c, i] - m)
        inv = invstd[c]
        gw = sgx * inv  # sum(g * x_hat)
        gbias[c] = sg
        gweight[c] = gw
        if need_gx:
            scale = inv * weight[c]
            a = sg / count
            b = gw / count * inv  # x_hat * gw/count = (x - m) * b
            for n in range(n_batch):
                for i in range(size):
                    gx[n, c, i] = (g[n, c, i] - a - (x[n, c, i] - m) * b) * scale


def applies(x) -> bool:
    """Whether the kernels serve ``x``: a CPU float32/float64 array with at least 2 dims."""
    return type(x) is np.ndarray and x.dtype in (np.float32, np.float64) and x.ndim >= 2


def forward_train(x, weight, bias, eps):
    """(y, mean, biased var, invstd) of x (N, C, *) over all dims but 1; weight/bias may be None.
    mean, var, invstd are float64 (C,)."""
    x3 = np.ascontiguousarray(x).reshape(x.shape[0], x.shape[1], -1)
    channels = x.shape[1]
    w = np.ones(channels, x.dtype) if weight is None else np.ascontiguousarray(weight, x.dtype)
    b = np.zeros(channels, x.dtype) if bias is None else np.ascontiguousarray(bias, x.dtype)
    y = np.empty_like(x3)
    mean = np.empty(channels, np.float64)
    var = np.empty(channels, np.float64)
    _forward_train(x3, w, b, float(eps), y, mean, var)
    return y.reshape(x.shape), mean, var, 1.0 / np.sqrt(var + eps)


def backward_train(grad, x, mean, invstd, weight, need_gx):
    """(dx or None, dweight, dbias) for the training-mode forward above; dweight/dbias in x's
    dtype (the sums of g * x_hat and g per channel)."""
    x3 = np.ascontiguousarray(x).reshape(x.shape[0], x.shape[1], -1)
    g3 = np.ascontiguousarray(grad, x.dtype).reshape(x3.shape)
    channels = x.shape[1]
    w = np.ones(channels, x.dtype) if weight is None else np.ascontiguousarray(weight, x.dtype)
    gx = np.empty_like(x3) if need_gx else np.empty((0, 0, 0), x.dtype)
    gweight = np.empty(channels, x.dtype)
    gbias = np.empty(channels, x.dtype)
    _backward_train(g3, x3, mean, invstd, w, bool(need_gx), gx, gweight, gbias)
    return (gx.reshape(x.shape) if need_gx else None), gweight, gbias
