"""The long tail of torch.nn.functional's losses and distances, composed from differentiable
Tensor ops as ATen composes them (so the gradients, kinks included, are torch's): margin, embedding,
soft-margin, Poisson/Gaussian NLL, triplet losses, cosine_similarity, pairwise_distance, pdist."""

from __future__ import annotations

import math

import numpy as np

from ...functions.elementwise import where
from ...functions.loss import CTCLossFunction
from ...tensor import wrap
from ._activation import _like
from ._core import _as_tensor, _reduction, logsigmoid

__all__ = [
    "cosine_similarity", "pairwise_distance", "pdist", "cosine_embedding_loss",
    "hinge_embedding_loss", "margin_ranking_loss", "soft_margin_loss",
    "multilabel_soft_margin_loss", "multilabel_margin_loss", "multi_margin_loss",
    "poisson_nll_loss", "gaussian_nll_loss", "triplet_margin_loss",
    "triplet_margin_with_distance_loss", "ctc_loss",
]


def _apply_reduction(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _clamp_min_values(t, lo):
    """``t`` with its values clamped at ``lo`` but its gradient untouched (torch's
    ``with no_grad(): t.clamp_min_(lo)`` on a tensor that stays in the graph)."""
    a = t.array
    return t + wrap(np.maximum(a, a.dtype.type(lo)) - a)


# ---------------------------------------------------------------------------- distances


def cosine_similarity(x1, x2, dim: int = 1, eps: float = 1e-8):
    """sum(x1 * x2) / (max(||x1||, eps) * max(||x2||, eps)) along ``dim`` (each input divided
    by its norm first, as torch does, so the result stays in [-1, 1])."""
    shape = np.broadcast_shapes(tuple(x1.shape), tuple(x2.shape))
    if tuple(x1.shape) != shape:
        x1 = x1.expand(shape)
    if tuple(x2.shape) != shape:
        x2 = x2.expand(shape)
    n1 = _clamp_min_values(x1.norm(2, dim, keepdim=True), eps)
    n2 = _clamp_min_values(x2.norm(2, dim, keepdim=True), eps)
    return ((x1 / n1) * (x2 / n2)).sum(dim)


def pairwise_distance(x1, x2, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False):
    """||x1 - x2 + eps||_p over the last dimension (inputs broadcast)."""
    dim = max(x1.dim(), x2.dim()) - 1
    return (x1 - x2 + eps).norm(p, dim, keepdim=keepdim)


def pdist(input, p: float = 2.0):
    """The p-norm distances between the rows of ``input`` (N, M): the upper triangle of the
    distance matrix, N (N - 1) / 2 values in row order."""
    if input.dim() != 2:
        raise RuntimeError(f"pdist only supports 2D tensors, got: {input.dim()}D")
    if p < 0:
        raise RuntimeError("pdist only supports non-negative p values")
    i, j = np.triu_indices(input.shape[0], 1)
    return (input[i] - input[j]).norm(p, 1)


# -------------------------------------------------------------------------------- losses


def cosine_embedding_loss(input1, input2, target, margin: float = 0.0, size_average=None,
                          reduce=None, reduction: str = "mean"):
    """1 - cos(x1, x2) where target == 1, max(0, cos(x1, x2) - margin) where target == -1."""
    reduction = _reduction(size_average, reduce, reduction)
    target = _as_tensor(target, "target")
    if target.dim() not in (0, 1):
        raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    want = target.dim() + 1
    if input1.dim() != want or input2.dim() != want:
        raise RuntimeError(
            f"{target.dim()}D target tensor expects {want}D input tensors, but found inputs "
            f"with sizes {list(input1.shape)} and {list(input2.shape)}."
        )
    d = target.dim()  # the feature dim
    eps = 1e-12
    prod = (input1 * input2).sum(d)
    mag = ((input1 * input1).sum(d) + eps) * ((input2 * input2).sum(d) + eps)
    cos = prod / mag.sqrt()
    pos = where(target == 1, 1 - cos, 0.0)
    neg = where(target == -1, (cos - margin).clamp(min=0), 0.0)
    return _apply_reduction(pos + neg, reduction)


def hinge_embedding_loss(input, target, margin: float = 1.0, size_average=None, reduce=None,
                         reduction: str = "mean"):
    """x where target == 1, max(0, margin - x) where target == -1."""
    reduction = _reduction(size_average, reduce, reduction)
    target = _as_tensor(target, "target")
    out_margin = where(target != 1, (margin - input).clamp(min=0), 0.0)
    out_self = where(target != -1, input, 0.0)
    return _apply_reduction(out_margin + out_self, reduction)


def margin_ranking_loss(input1, input2, target, margin: float = 0.0, size_average=None,
                        reduce=None, reduction: str = "mean"):
    """max(0, -target * (x1 - x2) + margin)."""
    reduction = _reduction(size_average, reduce, reduction)
    target = _as_tensor(target, "target")
    if input1.dim() != input2.dim() or input1.dim() != target.dim():
        raise RuntimeError(
            "margin_ranking_loss : All input tensors should have same dimension but got sizes: "
            f"input1: {list(input1.shape)}, input2: {list(input2.shape)}, "
            f"target: {list(target.shape)} "
        )
    return _apply_reduction((-target * (input1 - input2) + margin).clamp(min=0), reduction)


def soft_margin_loss(input, target, size_average=None, reduce=None, reduction: str = "mean"):
    """log(1 + exp(-target * x))."""
    reduction = _reduction(size_average, reduce, reduction)
    target = _as_tensor(target, "target")
    return _apply_reduction((-input * target).exp().log1p(), reduction)


def multilabel_soft_margin_loss(input, target, weight=None, size_average=None, reduce=None,
                                reduction: str = "mean"):
    """Mean over classes of the binary cross-entropy of sigmoid(x) against 0/1 ``target``."""
    reduction = _reduction(size_average, reduce, reduction)
    target = _as_tensor(target, "target")
    loss = -(target * logsigmoid(input) + (1 - target) * logsigmoid(-input))
    if weight is not None:
        loss = loss * weight
    class_dim = input.dim() - 1
    loss = loss.sum(class_dim) / input.shape[class_dim]
    return _apply_reduction(loss, reduction)


def _host(a):
    """A NumPy copy of a (NumPy or CuPy) array, for index bookkeeping."""
    return np.asarray(a.get() if hasattr(a, "get") else a)


def _as_rows(input, name):
    """(N, C) views of a (C,) / (N, C) input and its target; validates the dims."""
    if input.dim() > 2 or (input.dim() == 2 and input.shape[1] == 0):
        raise RuntimeError(
            f"{name}: Expected non-empty vector or matrix with optional 0-dim batch size, but "
            f"got: {list(input.shape)}"
        )
    rows = input.reshape(1, -1) if input.dim() < 2 else input
    return rows


def multilabel_margin_loss(input, target, size_average=None, reduce=None,
                           reduction: str = "mean"):
    """sum over target classes j (``target`` rows list them, ended by -1) and non-target
    classes k of max(0, 1 - (x[j] - x[k])), divided by C."""
    reduction = _reduction(size_average, reduce, reduction)
    target = _as_tensor(target, "target")
    if target.dtype.kind not in "iu":
        raise RuntimeError(f"multilabel_margin_loss: expected target of dtype int64, got "
                           f"{target.dtype}")
    if tuple(target.shape) != tuple(input.shape):
        raise RuntimeError(
            f"inconsistent target size: {list(target.shape)} for input of size: "
            f"{list(input.shape)}"
        )
    rows = _as_rows(input, "multilabel_margin_loss")
    N, C = rows.shape
    t = _host(target.array).reshape(N, C)
    if t.size and (t.min() < -1 or t.max() >= C):
        raise RuntimeError(f"multilabel_margin_loss: target values must be in [-1, {C - 1}]")
    # weights[n, j, k]: how often j is listed before the first -1, times "k is not listed"
    listed = np.cumprod(t != -1, axis=1).astype(bool)
    count = np.zeros((N, C), dtype=np.float64)
    n_idx = np.repeat(np.arange(N), C).reshape(N, C)
    np.add.at(count, (n_idx[listed], t[listed]), 1.0)
    weights = count[:, :, None] * (count == 0)[:, None, :]
    a = rows.array
    w = _like(weights.astype(a.dtype), a)
    z = (1.0 - rows.unsqueeze(2) + rows.unsqueeze(1)).relu()  # torch counts z > 0 only
    loss = (z * w).sum((1, 2)) / C
    if input.dim() < 2:
        loss = loss.reshape(())
    return _apply_reduction(loss, reduction)


def multi_margin_loss(input, target, p: int = 1, margin: float = 1.0, weight=None,
                      size_average=None, reduce=None, reduction: str = "mean"):
    """sum over j != y of max(0, margin - x[y] + x[j])^p (times weight[y]), divided by C."""
    reduction = _reduction(size_average, reduce, reduction)
    if p not in (1, 2):
        raise ValueError("only p == 1 and p == 2 supported")
    if weight is not None and weight.dim() != 1:
        raise ValueError("weight must be one-dimensional")
    target = _as_tensor(target, "target")
    rows = _as_rows(input, "multi_margin_loss")
    N, C = rows.shape
    if target.numel() != N or target.dim() > 1:
        raise RuntimeError(
            f"inconsistent target size, expected {N} but got {list(target.shape)}"
        )
    t = target.reshape(N, 1)
    if N and (int(t.array.min()) < 0 or int(t.array.max()) >= C):
        raise RuntimeError("target out of range")
    z = (margin - rows.gather(1, t) + rows).relu()  # torch counts z > 0 only
    if p == 2:
        z = z * z
    if weight is not None:
        z = z * weight[t.array.reshape(-1)].reshape(N, 1)
    other = np.arange(C) != _host(t.array)
    a = rows.array
    mask = _like(other.astype(a.dtype), a)
    loss = (z * mask).sum(1) / C
    if input.dim() < 2:
        loss = loss.reshape(())
    return _apply_reduction(loss, reduction)


def poisson_nll_loss(input, target, log_input: bool = True, full: bool = False,
                     size_average=None, eps: float = 1e-8, reduce=None, reduction: str = "mean"):
    """exp(x) - target * x (``log_input``), or x - target * log(x + eps); ``full`` adds the
    Stirling term where target > 1."""
    reduction = _reduction(size_average, reduce, reduction)
    target = _as_tensor(target, "target")
    if log_input:
        loss = input.exp() - target * input
    else:
        loss = input - target * (input + eps).log()
    if full:
        with np.errstate(divide="ignore", invalid="ignore"):
            stirling = target * target.log() - target + 0.5 * (2 * math.pi * target).log()
        loss = loss + stirling.masked_fill(target <= 1, 0)
    return _apply_reduction(loss, reduction)


def gaussian_nll_loss(input, target, var, full: bool = False, eps: float = 1e-6,
                      reduction: str = "mean"):
    """0.5 (log(max(var, eps)) + (input - target)^2 / max(var, eps)) (+ 0.5 log(2 pi))."""
    if isinstance(var, (int, float)):
        if var < 0:
            raise ValueError("var has negative entry/entries")
        var = input.detach() * 0 + float(var)
    elif bool((var.array < 0).any()):
        raise ValueError("var has negative entry/entries")
    if tuple(var.shape) != tuple(input.shape):
        if tuple(input.shape[:-1]) == tuple(var.shape):
            var = var.unsqueeze(-1)
        elif input.dim() == var.dim() and sum(
            y for x, y in zip(input.shape, var.shape) if x != y
        ) == 1:
            pass
        else:
            raise ValueError("var is of incorrect size")
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(reduction + " is not valid")
    var = _clamp_min_values(var, eps)
    loss = 0.5 * (var.log() + (input - target) ** 2 / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _apply_reduction(loss, reduction)


def _check_triplet_dims(anchor, positive, negative):
    a, p, n = anchor.dim(), positive.dim(), negative.dim()
    if not (a == p and p == n):
        raise RuntimeError(
            "The anchor, positive, and negative tensors are expected to have the same number of "
            f"dimensions, but got: anchor {a}D, positive {p}D, and negative {n}D inputs"
        )


def triplet_margin_loss(anchor, positive, negative, margin: float = 1.0, p: float = 2,
                        eps: float = 1e-6, swap: bool = False, size_average=None, reduce=None,
                        reduction: str = "mean"):
    """max(0, margin + d(a, p) - d(a, n)) with d the pairwise p-norm distance (``swap``: d(a, n)
    replaced by d(p, n) where smaller)."""
    reduction = _reduction(size_average, reduce, reduction)
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    _check_triplet_dims(anchor, positive, negative)
    d_pos = pairwise_distance(anchor, positive, p, eps)
    d_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_neg = d_neg.minimum(pairwise_distance(positive, negative, p, eps))
    return _apply_reduction((margin + d_pos - d_neg).clamp(min=0), reduction)


def triplet_margin_with_distance_loss(anchor, positive, negative, *, distance_function=None,
                                      margin: float = 1.0, swap: bool = False,
                                      reduction: str = "mean"):
    """triplet_margin_loss with any ``distance_function`` (default pairwise_distance)."""
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    _check_triplet_dims(anchor, positive, negative)
    dist = pairwise_distance if distance_function is None else distance_function
    d_pos = dist(anchor, positive)
    d_neg = dist(anchor, negative)
    if swap:
        d_neg = d_neg.minimum(dist(positive, negative))
    return _apply_reduction((margin + d_pos - d_neg).clamp(min=0), reduction)



def _lengths(x, name):
    """A list of ints from a tuple/list or an integer Tensor of lengths."""
    if hasattr(x, "array"):
        if x.dtype.kind not in "iu":
            raise RuntimeError(f"ctc_loss: {name} must be integral, got {x.dtype}")
        return [int(v) for v in _host(x.array).reshape(-1)]
    if isinstance(x, int):
        return [x]
    return [int(v) for v in x]


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank: int = 0,
             reduction: str = "mean", zero_infinity: bool = False):
    """Connectionist temporal classification loss.

    Args:
        log_probs: (T, N, C) or unbatched (T, C) log-probabilities (e.g. log_softmax output).
        targets: (N, S) padded class indices, or all N targets concatenated (sum(target_lengths),);
            unbatched (S,).
        input_lengths, target_lengths: N lengths (tuple/list of ints or an integer Tensor).
        blank: the blank class. reduction: "none" | "mean" (each loss divided by its target
            length, then the batch mean) | "sum". zero_infinity: impossible alignments give 0.
    """
    reduction = _reduction(None, None, reduction)
    targets = _as_tensor(targets, "targets")
    if log_probs.dim() not in (2, 3):
        raise RuntimeError(f"ctc_loss: expected log_probs to be 2-D or 3-D, got "
                           f"{log_probs.dim()}-D")
    if targets.dtype.kind not in "iu":
        raise RuntimeError(f"ctc_loss: expected targets of an integer dtype, got {targets.dtype}")
    unbatched = log_probs.dim() == 2
    lp = log_probs.unsqueeze(1) if unbatched else log_probs
    T, N, C = lp.shape
    if not 0 <= blank < C:
        raise RuntimeError("blank must be in label range")
    il = _lengths(input_lengths, "input_lengths")
    tl = _lengths(target_lengths, "target_lengths")
    if len(il) != N:
        raise RuntimeError(f"input_lengths must be of size batch_size ({N}), got {len(il)}")
    if len(tl) != N:
        raise RuntimeError(f"target_lengths must be of size batch_size ({N}), got {len(tl)}")
    t = _host(targets.array).astype(np.int64)
    if unbatched:
        t = t.reshape(1, -1)
    labels = []
    offset = 0
    for n in range(N):
        if not 0 <= il[n] <= T:
            raise RuntimeError(
                f"Expected input_lengths to have value at most {T}, but got value {il[n]}"
            )
        if tl[n] < 0:
            raise RuntimeError(f"ctc_loss: target_lengths must be non-negative, got {tl[n]}")
        if t.ndim == 1:  # concatenated targets
            row = t[offset:offset + tl[n]]
            offset += tl[n]
            if len(row) != tl[n]:
                raise RuntimeError("ctc_loss: targets are shorter than sum(target_lengths)")
        else:
            if tl[n] > t.shape[1]:
                raise RuntimeError(
                    f"Expected tensor to have size at least {tl[n]} at dimension 1, but got "
                    f"size {t.shape[1]} for argument #2 'targets'"
                )
            row = t[n, :tl[n]]
        if row.size and (row.min() < 0 or row.max() >= C):
            raise RuntimeError(f"ctc_loss: target values must be in [0, {C - 1}]")
        labels.append(row)
    losses = CTCLossFunction.apply(lp, labels, il, blank, zero_infinity)
    if reduction == "mean":
        a = losses.array
        denom = _like(np.maximum(np.asarray(tl, dtype=np.float64), 1).astype(a.dtype), a)
        return (losses / denom).mean()
    if reduction == "sum":
        return losses.sum()
    return losses.reshape(()) if unbatched else losses
