"""Loss Functions, fused and numerically stable: softmax cross-entropy (class indices or
probabilities; weight, ignore_index, label_smoothing), NLL, BCE, BCE-with-logits, MSE, L1.

Every loss computes per-element values, reduces ("none" | "mean" | "sum"), and its backward scales
the upstream gradient by the same reduction. Logits as large as 1e4 are fine: log-softmax subtracts
the row maximum and BCE-with-logits uses max(-x, 0) + log1p(exp(-|x|)).
"""

from __future__ import annotations

import numpy as np

from .._util import xp_of
from ..autograd import Function, unbroadcast
from ..ops.softmax import cross_entropy_backward, cross_entropy_forward

__all__ = [
    "CrossEntropyFunction",
    "NLLLossFunction",
    "BCEFunction",
    "BCEWithLogitsFunction",
    "MSELossFunction",
    "L1LossFunction",
    "HuberFunction",
    "KLDivFunction",
    "CTCLossFunction",
]

REDUCTIONS = ("none", "mean", "sum")


def _rows(x):
    """(M, C) view of an (N, C, d1..dk) / (N, C) / (C,) input, class dim last."""
    if x.ndim == 1:
        return x.reshape(1, -1)
    if x.ndim == 2:
        return x
    return xp_of(x).moveaxis(x, 1, -1).reshape(-1, x.shape[1])


def _unrows(g, shape):
    """Inverse of _rows for gradients."""
    if len(shape) <= 2:
        return g.reshape(shape)
    moved = (shape[0],) + tuple(shape[2:]) + (shape[1],)
    return xp_of(g).moveaxis(g.reshape(moved), -1, 1)


def _log_softmax_rows(xm):
    xp = xp_of(xm)
    z = xm - xm.max(axis=1, keepdims=True)
    return z - xp.log(xp.exp(z).sum(axis=1, keepdims=True))


def _class_targets(target, n_rows, n_classes, ignore_index):
    """(flat safe targets, valid mask) with a clear IndexError for out-of-range classes."""
    xp = xp_of(target)
    t = target.reshape(-1)
    if t.shape[0] != n_rows:
        raise ValueError(
            f"target: expected {n_rows} class indices, got shape {tuple(target.shape)}"
        )
    valid = t != ignore_index
    safe = xp.where(valid, t, 0).astype(np.int64)
    if safe.size:
        bad = (safe < 0) | (safe >= n_classes)
        if bool(bad.any()):
            raise IndexError(f"Target {int(t[bad][0])} is out of bounds.")
    return safe, valid


def _reduce(loss, reduction, denom=None):
    if reduction == "none":
        return loss
    total = loss.sum()
    if reduction == "sum":
        return total
    with np.errstate(invalid="ignore", divide="ignore"):
        return total / (loss.dtype.type(loss.size) if denom is None else denom)


def _coef(grad, reduction, n_rows, denom):
    """Per-row factor the upstream gradient contributes: shape (M,)."""
    xp = xp_of(grad)
    if reduction == "none":
        return grad.reshape(-1)
    g = grad.reshape(())
    if reduction == "mean":
        # every target ignored (total weight 0): the loss is nan but, as in PyTorch, no gradient
        g = g / denom if denom != 0 else g * 0
    return xp.full((n_rows,), g, dtype=grad.dtype)


class CrossEntropyFunction(Function):
    """log_softmax over dim 1 fused with NLL (class indices) or soft cross-entropy (probabilities).

    Indices: loss_i = -(1-eps) w[y_i] logp[i, y_i] - eps/C sum_c w[c] logp[i, c] (0 when
    y_i == ignore_index); "mean" divides by sum_i w[y_i] over non-ignored rows.
    Probabilities: loss_i = -sum_c w[c] ((1-eps) t[i, c] + eps/C) logp[i, c]; "mean" divides by
    the number of rows. Backward: dx = coef_i (p_i sum_c q_ic - q_i) for the target weights q.
    """

    @staticmethod
    def forward(ctx, x, target, weight=None, ignore_index=-100, reduction="mean",
                label_smoothing=0.0):
        xp = xp_of(x)
        C = x.shape[1] if x.ndim >= 2 else x.shape[0]
        xm = _rows(x)
        M = xm.shape[0]
        if weight is None and target.dtype.kind != "f":
            return _fused_forward(ctx, x, xm, target, ignore_index, reduction, label_smoothing)
        ctx.fused = False
        logp = _log_softmax_rows(xm)
        eps = x.dtype.type(label_smoothing)
        probs = target.dtype.kind == "f"
        ctx.meta = (x.shape, C, M, reduction, eps, probs)
        if probs:
            if tuple(target.shape) != tuple(x.shape):
                raise ValueError(
                    f"target: probabilities must have the input's shape {tuple(x.shape)}, "
                    f"got {tuple(target.shape)}"
                )
            q = _rows(target).astype(x.dtype, copy=False)
            if eps:
                q = q * (1 - eps) + eps / C
            if weight is not None:
                q = q * weight.reshape(1, C)
            loss = -(q * logp).sum(axis=1)
            denom = x.dtype.type(M)
            ctx.save_for_backward(logp, q, weight)
        else:
            safe, valid = _class_targets(target, M, C, ignore_index)
            validf = valid.astype(x.dtype)
            w_t = validf if weight is None else weight[safe] * validf
            rows = xp.arange(M)
            loss = -logp[rows, safe] * w_t
            if eps:
                smooth = -(logp.sum(axis=1) if weight is None else logp @ weight) * validf
                loss = (1 - eps) * loss + (eps / C) * smooth
            denom = w_t.sum()
            ctx.save_for_backward(logp, safe, validf, w_t, weight)
        ctx.denom = denom
        out = _reduce(loss, reduction, denom)
        if reduction == "none":
            out = out.reshape(target.shape if not probs else x.shape[:1] + x.shape[2:])
            if x.ndim == 1:
                out = out.reshape(())
        return xp.asarray(out, dtype=x.dtype)

    @staticmethod
    def backward(ctx, grad):
        x_shape, C, M, reduction, eps, probs = ctx.meta
        xp = xp_of(grad)
        if ctx.fused:
            xm, safe, lse = ctx.saved_tensors
            coef = _coef(grad, reduction, M, ctx.denom).astype(xm.dtype, copy=False)
            dx = cross_entropy_backward(xm, safe, lse, coef, ctx.ignore_index, float(eps))
            return _unrows(dx.astype(grad.dtype, copy=False), x_shape), None, None, None, None, None
        coef = _coef(grad, reduction, M, ctx.denom)[:, None]
        gt = None
        if probs:
            logp, q, weight = ctx.saved_tensors
            p = xp.exp(logp)
            dx = coef * (p * q.sum(axis=1, keepdims=True) - q)
            if ctx.needs_input_grad[1]:
                scale = (1 - eps) if eps else 1
                w = 1 if weight is None else weight.reshape(1, C)
                gt = _unrows(-coef * scale * w * logp, x_shape)
        else:
            logp, safe, validf, w_t, weight = ctx.saved_tensors
            p = xp.exp(logp)
            wsum = (C if weight is None else weight.sum()) * validf
            s = (1 - eps) * w_t + (eps / C) * wsum if eps else w_t
            dx = p * (coef * s[:, None])
            if eps:
                wrow = 1 if weight is None else weight.reshape(1, C)
                dx -= (coef * validf[:, None]) * ((eps / C) * wrow)
            dx[xp.arange(M), safe] -= coef[:, 0] * ((1 - eps) * w_t)
        return _unrows(dx.astype(grad.dtype, copy=False), x_shape), gt, None, None, None, None


def _fused_forward(ctx, x, xm, target, ignore_index, reduction, label_smoothing):
    """CrossEntropyFunction's forward for class indices without class weights: per-row losses and
    logsumexps in one pass (``fastnn.ops.softmax.cross_entropy_forward``, the cpp kernel for
    float32); only the (M,) lse is saved beside the logits."""
    xp = xp_of(x)
    C = x.shape[1] if x.ndim >= 2 else x.shape[0]
    M = xm.shape[0]
    t = target.reshape(-1)
    if t.shape[0] != M:
        raise ValueError(f"target: expected {M} class indices, got shape {tuple(target.shape)}")
    t = t.astype(np.int64, copy=False)
    loss, lse = cross_entropy_forward(xm, t, ignore_index, float(label_smoothing))
    denom = x.dtype.type(int((t != ignore_index).sum()))
    ctx.fused, ctx.ignore_index, ctx.denom = True, ignore_index, denom
    ctx.meta = (x.shape, C, M, reduction, x.dtype.type(label_smoothing), False)
    ctx.save_for_backward(xm, t, lse)
    out = _reduce(loss, reduction, denom)
    if reduction == "none":
        out = out.reshape(target.shape)
    return xp.asarray(out, dtype=x.dtype)


class NLLLossFunction(Function):
    """loss_i = -w[y_i] x[i, y_i] over log-probabilities x (N, C, d1..dk); ignore_index rows give 0;
    "mean" divides by sum_i w[y_i] over non-ignored rows."""

    @staticmethod
    def forward(ctx, x, target, weight=None, ignore_index=-100, reduction="mean"):
        xp = xp_of(x)
        C = x.shape[1] if x.ndim >= 2 else x.shape[0]
        xm = _rows(x)
        M = xm.shape[0]
        safe, valid = _class_targets(target, M, C, ignore_index)
        validf = valid.astype(x.dtype)
        w_t = validf if weight is None else weight[safe] * validf
        loss = -xm[xp.arange(M), safe] * w_t
        denom = w_t.sum()
        ctx.save_for_backward(safe, w_t)
        ctx.meta = (x.shape, M, C, reduction, denom)
        out = _reduce(loss, reduction, denom)
        if reduction == "none":
            out = out.reshape(target.shape)
        return xp.asarray(out, dtype=x.dtype)

    @staticmethod
    def backward(ctx, grad):
        safe, w_t = ctx.saved_tensors
        x_shape, M, C, reduction, denom = ctx.meta
        xp = xp_of(grad)
        coef = _coef(grad, reduction, M, denom)
        dx = xp.zeros((M, C), dtype=grad.dtype)
        dx[xp.arange(M), safe] = -coef * w_t
        return _unrows(dx, x_shape), None, None, None, None


def _reduce_grad(grad, reduction, shape, n):
    xp = xp_of(grad)
    if reduction == "none":
        return grad
    g = grad if reduction == "sum" else grad / grad.dtype.type(n)
    return xp.broadcast_to(g, shape)


class BCEWithLogitsFunction(Function):
    """loss = w * [(1 - y) x + (1 + (pw - 1) y) (max(-x, 0) + log1p(exp(-|x|)))] (stable)."""

    @staticmethod
    def forward(ctx, x, y, weight=None, pos_weight=None, reduction="mean"):
        xp = xp_of(x)
        shape = np.broadcast_shapes(x.shape, y.shape)
        sp = xp.maximum(-x, 0) + xp.log1p(xp.exp(-xp.abs(x)))  # softplus(-x)
        lw = 1 if pos_weight is None else (pos_weight - 1) * y + 1
        loss = (1 - y) * x + lw * sp
        if weight is not None:
            loss = loss * weight
        loss = xp.broadcast_to(loss, shape)
        ctx.save_for_backward(x, y, weight, pos_weight, sp)
        ctx.meta = (shape, reduction, loss.size)
        return xp.asarray(_reduce(loss, reduction), dtype=x.dtype)

    @staticmethod
    def backward(ctx, grad):
        x, y, weight, pos_weight, sp = ctx.saved_tensors
        shape, reduction, n = ctx.meta
        g = _reduce_grad(grad, reduction, shape, n)
        if weight is not None:
            g = g * weight
        xp = xp_of(x)
        sig = x.dtype.type(0.5) * (xp.tanh(x * x.dtype.type(0.5)) + 1)
        gx = gy = None
        if ctx.needs_input_grad[0]:
            if pos_weight is None:
                gx = g * (sig - y)
            else:
                lw = (pos_weight - 1) * y + 1
                gx = g * ((1 - y) + lw * (sig - 1))
            gx = unbroadcast(gx, x.shape)
        if ctx.needs_input_grad[1]:
            gy = -x + (0 if pos_weight is None else (pos_weight - 1) * sp)
            gy = unbroadcast(g * gy, y.shape)
        return gx, gy, None, None, None


class BCEFunction(Function):
    """loss = -w [y log(x) + (1 - y) log(1 - x)], each log clamped at -100 like PyTorch."""

    @staticmethod
    def forward(ctx, x, y, weight=None, reduction="mean"):
        xp = xp_of(x)
        if not bool(((x >= 0) & (x <= 1)).all()):  # NaN fails too, as in torch
            raise RuntimeError("all elements of input should be between 0 and 1")
        with np.errstate(divide="ignore"):
            logx = xp.maximum(xp.log(x), -100)
            log1mx = xp.maximum(xp.log1p(-x), -100)
        loss = -(y * logx + (1 - y) * log1mx)
        if weight is not None:
            loss = loss * weight
        shape = np.broadcast_shapes(x.shape, y.shape)
        loss = xp.broadcast_to(loss, shape)
        ctx.save_for_backward(x, y, weight, logx, log1mx)
        ctx.meta = (shape, reduction, loss.size)
        return xp.asarray(_reduce(loss, reduction), dtype=x.dtype)

    @staticmethod
    def backward(ctx, grad):
        x, y, weight, logx, log1mx = ctx.saved_tensors
        shape, reduction, n = ctx.meta
        xp = xp_of(x)
        g = _reduce_grad(grad, reduction, shape, n)
        if weight is not None:
            g = g * weight
        gx = gy = None
        if ctx.needs_input_grad[0]:
            gx = unbroadcast(g * (x - y) / xp.maximum((1 - x) * x, x.dtype.type(1e-12)), x.shape)
        if ctx.needs_input_grad[1]:
            gy = unbroadcast(g * (log1mx - logx), y.shape)
        return gx, gy, None, None


class MSELossFunction(Function):
    """(x - y)^2, reduced."""

    @staticmethod
    def forward(ctx, x, y, reduction="mean"):
        d = x - y
        ctx.save_for_backward(d)
        ctx.meta = (x.shape, y.shape, reduction)
        return xp_of(x).asarray(_reduce(d * d, reduction), dtype=d.dtype)

    @staticmethod
    def backward(ctx, grad):
        (d,) = ctx.saved_tensors
        xs, ys, reduction = ctx.meta
        g = _reduce_grad(grad, reduction, d.shape, d.size) * (2 * d)
        gx = unbroadcast(g, xs) if ctx.needs_input_grad[0] else None
        gy = unbroadcast(-g, ys) if ctx.needs_input_grad[1] else None
        return gx, gy, None


class L1LossFunction(Function):
    """|x - y|, reduced; the gradient at x == y is 0 (sign)."""

    @staticmethod
    def forward(ctx, x, y, reduction="mean"):
        xp = xp_of(x)
        d = x - y
        ctx.save_for_backward(xp.sign(d))
        ctx.meta = (x.shape, y.shape, reduction)
        return xp.asarray(_reduce(xp.abs(d), reduction), dtype=d.dtype)

    @staticmethod
    def backward(ctx, grad):
        (s,) = ctx.saved_tensors
        xs, ys, reduction = ctx.meta
        g = _reduce_grad(grad, reduction, s.shape, s.size) * s
        gx = unbroadcast(g, xs) if ctx.needs_input_grad[0] else None
        gy = unbroadcast(-g, ys) if ctx.needs_input_grad[1] else None
        return gx, gy, None


class HuberFunction(Function):
    """Huber (``smooth=False``): 0.5 d^2 if |d| < delta else delta (|d| - 0.5 delta).
    Smooth L1 (``smooth=True``, delta = beta): the Huber loss divided by beta (|d| when beta = 0).
    """

    @staticmethod
    def forward(ctx, x, y, reduction="mean", delta=1.0, smooth=False):
        xp = xp_of(x)
        d = x - y
        ad = xp.abs(d)
        dt = x.dtype.type
        if smooth and delta == 0:
            loss = ad
        elif smooth:
            loss = xp.where(ad < delta, dt(0.5) * d * d / dt(delta), ad - dt(0.5 * delta))
        else:
            loss = xp.where(ad < delta, dt(0.5) * d * d, dt(delta) * (ad - dt(0.5 * delta)))
        ctx.save_for_backward(d)
        ctx.meta = (x.shape, y.shape, reduction, delta, smooth)
        return xp.asarray(_reduce(loss, reduction), dtype=x.dtype)

    @staticmethod
    def backward(ctx, grad):
        (d,) = ctx.saved_tensors
        xs, ys, reduction, delta, smooth = ctx.meta
        xp = xp_of(d)
        dt = d.dtype.type
        if smooth and delta == 0:
            slope = xp.sign(d)
        elif smooth:
            slope = xp.clip(d / dt(delta), -1, 1)
        else:
            slope = xp.clip(d, -delta, delta)
        g = _reduce_grad(grad, reduction, d.shape, d.size) * slope
        gx = unbroadcast(g, xs) if ctx.needs_input_grad[0] else None
        gy = unbroadcast(-g, ys) if ctx.needs_input_grad[1] else None
        return gx, gy, None, None, None


class KLDivFunction(Function):
    """target * (log(target) - input) (0 where target == 0); with log_target:
    exp(target) * (target - input). "batchmean" divides the sum by input.shape[0]."""

    @staticmethod
    def forward(ctx, x, t, reduction="mean", log_target=False):
        xp = xp_of(x)
        if log_target:
            et = xp.exp(t)
            loss = et * (t - x)
            ctx.save_for_backward(x, t, et)
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                # torch's xlogy(t, t): 0 at t == 0, nan below 0
                logt = xp.where(t == 0, 0, xp.log(t)).astype(x.dtype)
            loss = t * (logt - x)
            ctx.save_for_backward(x, t, logt)
        shape = np.broadcast_shapes(x.shape, t.shape)
        loss = xp.broadcast_to(loss, shape)
        n = loss.size
        if reduction == "batchmean":
            out = loss.sum() / x.dtype.type(x.shape[0] if x.ndim else 1)
            n = x.shape[0] if x.ndim else 1
            red = "batchmean"
        else:
            out = _reduce(loss, reduction)
            red = reduction
        ctx.meta = (shape, red, n, log_target)
        return xp.asarray(out, dtype=x.dtype)

    @staticmethod
    def backward(ctx, grad):
        x, t, aux = ctx.saved_tensors
        shape, red, n, log_target = ctx.meta
        g = _reduce_grad(grad, "mean" if red == "batchmean" else red, shape, n)
        gx = gt = None
        if ctx.needs_input_grad[0]:
            gx = unbroadcast(-g * (aux if log_target else t), x.shape)
        if ctx.needs_input_grad[1]:
            if log_target:
                d = aux * (t - x + 1)
            else:  # torch differentiates xlogy(t, t): log(t) + t / t, so nan at t == 0
                with np.errstate(divide="ignore", invalid="ignore"):
                    d = aux + t / t - x
            gt = unbroadcast(g * d, t.shape)
        return gx, gt, None, None


def _ctc_ops(dtype):
    """exp and log as torch's CPU CTC kernel gets them (std::exp/std::log in the input's dtype,
    correctly rounded): float32 through float64 and back, so the float32 rounding of every
    alpha, beta and gradient follows torch's."""
    if dtype == np.float64:
        return np.exp, np.log
    return (lambda a: np.exp(a.astype(np.float64)).astype(dtype),
            lambda a: np.log(a.astype(np.float64)).astype(dtype))


def _ctc_logsumexp3(a, b, c, exp, log):
    """torch's log(exp(a-m) + exp(b-m) + exp(c-m)) + m with m = max (0 when all are -inf)."""
    m = np.maximum(np.maximum(a, b), c)
    m = np.where(m == -np.inf, m.dtype.type(0), m)
    return log(exp(a - m) + exp(b - m) + exp(c - m)) + m


def _ctc_extended(labels, blank):
    ext = np.full(2 * len(labels) + 1, blank, dtype=np.int64)  # blank, l1, blank, ..., blank
    ext[1::2] = labels
    return ext


def _ctc_alpha(lp, ext):
    """Log forward variables (T, 2S+1) of one sample and its NLL, in lp's dtype, in torch's
    order of operations. lp (T, C) log-probabilities of the sample's input length."""
    T, L = lp.shape[0], len(ext)
    dt = lp.dtype.type
    exp, log = _ctc_ops(lp.dtype)
    ninf = dt(-np.inf)
    la = np.full((T, L), ninf, dtype=lp.dtype)
    if T == 0:
        return la, (dt(0) if L == 1 else dt(np.inf))
    e = lp[:, ext]
    skip = np.zeros(L, dtype=bool)  # s-2 -> s where the label differs from the one two back
    skip[2:] = ext[2:] != ext[:-2]
    la[0, 0] = e[0, 0]
    if L > 1:
        la[0, 1] = e[0, 1]
    pad = np.full(2, ninf, dtype=lp.dtype)
    for t in range(1, T):
        prev = la[t - 1]
        one = np.concatenate((pad[:1], prev[:-1]))
        two = np.where(skip, np.concatenate((pad, prev[:-2])), ninf)
        la[t] = _ctc_logsumexp3(prev, one, two, exp, log) + e[t]
    if L == 1:
        return la, -la[T - 1, 0]
    l1, l2 = la[T - 1, L - 1], la[T - 1, L - 2]
    m = max(l1, l2)
    m = dt(0) if m == -np.inf else m
    return la, -(log(np.asarray(exp(np.asarray(l1 - m)) + exp(np.asarray(l2 - m)))) + m)


def _ctc_grad(lp, ext, la, nll, gr):
    """torch's CTC gradient of one sample: log beta in lp's dtype, the log-sum over positions s
    of alpha + beta per class (descending s), then (exp(lp) - exp(lcab + nll - lp)) * gr."""
    T, L = la.shape
    C = lp.shape[1]
    dt = lp.dtype.type
    exp, log = _ctc_ops(lp.dtype)
    ninf = dt(-np.inf)
    e = lp[:, ext]
    lb = np.full((T, L), ninf, dtype=lp.dtype)
    lb[T - 1, L - 1] = e[T - 1, L - 1]
    if L > 1:
        lb[T - 1, L - 2] = e[T - 1, L - 2]
    skip_next = np.zeros(L, dtype=bool)  # s -> s+2 where the label two on differs
    skip_next[:-2] = ext[2:] != ext[:-2]
    pad = np.full(2, ninf, dtype=lp.dtype)
    for t in range(T - 2, -1, -1):
        nxt = lb[t + 1]
        one = np.concatenate((nxt[1:], pad[:1]))
        two = np.where(skip_next, np.concatenate((nxt[2:], pad)), ninf)
        lb[t] = _ctc_logsumexp3(nxt, one, two, exp, log) + e[t]
    ab = la + lb
    lcab = np.full((T, C), ninf, dtype=lp.dtype)
    lcab[T - 1, ext[L - 1]] = ab[T - 1, L - 1]  # the last step: only the two end states
    if L > 1:
        lcab[T - 1, ext[L - 2]] = ab[T - 1, L - 2]
    for s in range(L - 1, -1, -1):
        c = ext[s]
        cur, new = lcab[:T - 1, c], ab[:T - 1, s]
        m = np.maximum(cur, new)
        summed = log(exp(cur - m) + exp(new - m)) + m
        lcab[:T - 1, c] = np.where(cur == -np.inf, new, summed)
    with np.errstate(over="ignore"):
        return (exp(lp) - exp(lcab + nll - lp)) * gr


class CTCLossFunction(Function):
    """Connectionist temporal classification: per-sample -log p(target | log_probs) by the
    forward (alpha) recursion over the blank-extended target. Backward is torch's:
    exp(lp) - exp(log sum_{s: l'(s) = c} alpha_t(s) beta_t(s) + nll - lp) for t below the input
    length (0 beyond), times the upstream gradient; ``zero_infinity`` zeroes the loss and the
    gradient of impossible alignments. On the host, in the input's dtype with torch's order of
    operations (float32 CTC gradients carry ~1e-5 of rounding, which a float64 computation would
    not share with torch).

    log_probs (T, N, C); ``targets`` a list of N label arrays; ``input_lengths`` N ints.
    Returns the N losses."""

    @staticmethod
    def forward(ctx, log_probs, targets, input_lengths, blank=0, zero_infinity=False):
        xp = xp_of(log_probs)
        lp = np.asarray(log_probs.get() if xp is not np else log_probs)
        N = lp.shape[1]
        nll = np.zeros(N, dtype=lp.dtype)
        alphas = []
        with np.errstate(divide="ignore", invalid="ignore"):  # log(0) = -inf: no alignment
            for n in range(N):
                ext = _ctc_extended(targets[n], blank)
                la, nll[n] = _ctc_alpha(lp[: input_lengths[n], n], ext)
                alphas.append((ext, la))
        ctx.meta = (lp, input_lengths, zero_infinity, nll, alphas)
        out = np.where(np.isinf(nll) & zero_infinity, 0, nll).astype(lp.dtype)
        return xp.asarray(out)

    @staticmethod
    def backward(ctx, grad):
        lp, input_lengths, zero_infinity, nll, alphas = ctx.meta
        xp = xp_of(grad)
        g = np.asarray(grad.get() if xp is not np else grad, dtype=lp.dtype)
        out = np.zeros_like(lp)
        for n, (ext, la) in enumerate(alphas):
            t_n = input_lengths[n]
            if t_n == 0 or (zero_infinity and np.isinf(nll[n])):
                continue
            with np.errstate(divide="ignore", invalid="ignore"):
                out[:t_n, n] = _ctc_grad(lp[:t_n, n], ext, la, nll[n], g[n])
        return (xp.asarray(out) if xp is not np else out), None, None, None, None
