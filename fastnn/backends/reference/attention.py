"""Reference attention: the naive softmax(q k^T * scale + mask) v, computed in float64 (the oracle
every other backend is tested against) and returned in the inputs' dtype.

Rows whose keys are all masked give out = 0 and lse = +inf (so their backward is 0), instead of
the NaN a naive softmax would produce.
"""

import numpy as np


def _scores(q, k, mask, causal, scale):
    s = np.matmul(q.astype(np.float64), np.swapaxes(k.astype(np.float64), -1, -2)) * scale
    if mask is not None:
        s = s + mask.astype(np.float64)
    if causal:
        lq, lk = s.shape[-2], s.shape[-1]
        keep = np.arange(lk)[None, :] <= np.arange(lq)[:, None]  # top-left aligned, like PyTorch
        s = np.where(keep, s, -np.inf)
    return s


def attention_forward(q, k, v, mask, causal, scale):
    B, H, Lq, _ = q.shape
    Dv = v.shape[-1]
    s = _scores(q, k, mask, causal, scale)
    if s.shape[-1] == 0:
        return np.zeros((B, H, Lq, Dv), q.dtype), np.full((B, H, Lq), np.inf, q.dtype)
    m = s.max(axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)  # fully masked row: exp(-inf - 0) = 0, no NaN
    e = np.exp(s - m)
    denom = e.sum(axis=-1, keepdims=True)
    p = e / np.where(denom > 0, denom, 1.0)
    out = np.matmul(p, v.astype(np.float64))
    d = denom[..., 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        # +inf for a row with no key (nothing to attend); NaN when a score was NaN or +inf
        # (the row's out is NaN too); the same on every backend (contract)
        lse = np.where(np.isfinite(d) & (d > 0), np.log(d) + m[..., 0],
                       np.where(d == 0, np.inf, np.nan))
    return out.astype(q.dtype), lse.astype(q.dtype)


def attention_backward(grad_out, q, k, v, out, lse, mask, causal, scale):
    s = _scores(q, k, mask, causal, scale)
    lse64 = lse.astype(np.float64)[..., None]
    with np.errstate(invalid="ignore"):
        p = np.exp(s - lse64)
    p = np.where(np.isposinf(lse64), 0.0, p)  # no key: 0; a NaN row (NaN lse) stays NaN
    do = grad_out.astype(np.float64)
    dv = np.matmul(np.swapaxes(p, -1, -2), do)
    dp = np.matmul(do, np.swapaxes(v.astype(np.float64), -1, -2))
    delta = (do * out.astype(np.float64)).sum(axis=-1, keepdims=True)
    ds = p * (dp - delta)
    dq = np.matmul(ds, k.astype(np.float64)) * scale
    dk = np.matmul(np.swapaxes(ds, -1, -2), q.astype(np.float64)) * scale
    return dq.astype(q.dtype), dk.astype(q.dtype), dv.astype(q.dtype)
