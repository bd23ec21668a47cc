"""The framework's part of fastnn.nn.functional (PyTorch's names and signatures): linear,
activations, softmax, dropout, embedding, one_hot, layer_norm, normalize and the losses."""

from __future__ import annotations

import warnings

import numpy as np

from ..._util import xp_of
from ...functions.activation import (
    ELUFunction,
    GELUFunction,
    HardtanhFunction,
    LeakyReLUFunction,
    SiLUFunction,
    SoftplusFunction,
)
from ...functions.gemm import LinearFunction
from ...functions.loss import (
    REDUCTIONS,
    BCEFunction,
    BCEWithLogitsFunction,
    CrossEntropyFunction,
    HuberFunction,
    KLDivFunction,
    L1LossFunction,
    MSELossFunction,
    NLLLossFunction,
)
from ...functions.nn_ops import DropoutFunction, EmbeddingFunction, LayerNormFunction
from ...tensor import Tensor, wrap

__all__ = [
    "linear",
    "relu", "relu_", "relu6", "leaky_relu", "gelu", "sigmoid", "tanh", "elu", "silu", "softplus",
    "logsigmoid", "hardtanh", "softmax", "log_softmax",
    "dropout", "dropout1d", "dropout2d", "dropout3d",
    "embedding", "one_hot", "layer_norm", "normalize",
    "cross_entropy", "nll_loss", "mse_loss", "l1_loss", "binary_cross_entropy",
    "binary_cross_entropy_with_logits", "smooth_l1_loss", "huber_loss", "kl_div",
]


def _as_tensor(x, name):
    if isinstance(x, Tensor):
        return x
    if isinstance(x, np.ndarray) or hasattr(x, "__cuda_array_interface__"):
        return wrap(x)
    raise TypeError(f"{name}: expected a fastnn Tensor, got {type(x).__name__}")


def _reduction(size_average, reduce, reduction):
    """PyTorch's legacy (size_average, reduce) flags -> reduction string; validates it."""
    if size_average is not None or reduce is not None:
        size_average = True if size_average is None else size_average
        reduce = True if reduce is None else reduce
        reduction = "mean" if (size_average and reduce) else "sum" if reduce else "none"
    if reduction not in REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return reduction


# ------------------------------------------------------------------------------------- linear


def linear(input, weight, bias=None):
    """y = input @ weight^T + bias: one GEMM with the bias fused.

    Shapes: input (*, in_features), weight (out_features, in_features), bias (out_features,).
    """
    xs, ws = input.array.shape, weight.array.shape
    if not xs or xs[-1] != ws[-1]:
        raise RuntimeError(
            f"mat1 and mat2 shapes cannot be multiplied "
            f"({int(np.prod(xs[:-1]))}x{xs[-1] if xs else 0} and {ws[-1]}x{ws[0]})"
        )
    return LinearFunction.apply(input, weight, bias)


# -------------------------------------------------------------------------------- activations


def relu(input, inplace: bool = False):
    """max(input, 0); ``inplace=True`` writes into ``input`` and returns it (autograd-safe)."""
    return input.relu_() if inplace else input.relu()


def relu_(input):
    return input.relu_()


def relu6(input, inplace: bool = False):
    return HardtanhFunction.apply(input, 0.0, 6.0)


def hardtanh(input, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False):
    return HardtanhFunction.apply(input, min_val, max_val)


def leaky_relu(input, negative_slope: float = 0.01, inplace: bool = False):
    """max(0, x) + negative_slope * min(0, x)."""
    return LeakyReLUFunction.apply(input, negative_slope)


def gelu(input, approximate: str = "none"):
    """x * Phi(x) (``approximate="none"``) or its tanh approximation (``"tanh"``)."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"approximate argument must be either none or tanh, got {approximate!r}")
    return GELUFunction.apply(input, approximate)


def sigmoid(input):
    return input.sigmoid()


def tanh(input):
    return input.tanh()


def elu(input, alpha: float = 1.0, inplace: bool = False):
    return ELUFunction.apply(input, alpha)


def silu(input, inplace: bool = False):
    return SiLUFunction.apply(input)


def softplus(input, beta: float = 1.0, threshold: float = 20.0):
    return SoftplusFunction.apply(input, beta, threshold)


def logsigmoid(input):
    """log(sigmoid(x)) = -softplus(-x), stable."""
    return -SoftplusFunction.apply(-input, 1.0, 20.0)


def _get_softmax_dim(name, ndim):
    warnings.warn(
        f"Implicit dimension choice for {name} has been deprecated. "
        "Change the call to include dim=X as an argument.",
        stacklevel=3,
    )
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input, dim=None, _stacklevel: int = 3, dtype=None):
    """exp(x) / sum(exp(x)) along ``dim`` (stable)."""
    if dim is None:
        dim = _get_softmax_dim("softmax", input.dim())
    if dtype is not None:
        input = input.to(dtype)
    if input.numel() == 0:  # an empty softmax dim has no maximum to subtract
        return input * 1.0
    return input.softmax(dim)


def log_softmax(input, dim=None, _stacklevel: int = 3, dtype=None):
    """x - logsumexp(x) along ``dim`` (stable)."""
    if dim is None:
        dim = _get_softmax_dim("log_softmax", input.dim())
    if dtype is not None:
        input = input.to(dtype)
    if input.numel() == 0:  # an empty softmax dim has no maximum to subtract
        return input * 1.0
    return input.log_softmax(dim)


# ------------------------------------------------------------------------------------ dropout


def _check_p(p):
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def dropout(input, p: float = 0.5, training: bool = True, inplace: bool = False):
    """Zero each element with probability p and scale the rest by 1/(1-p) (identity when not
    training). The mask comes from fastnn's generator (``fastnn.manual_seed``)."""
    _check_p(p)
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return input * 0.0
    return DropoutFunction.apply(input, p, None)


def _channel_dropout(input, p, training, min_dim, name):
    _check_p(p)
    if input.dim() not in (min_dim, min_dim + 1):
        raise RuntimeError(
            f"{name}: Expected {min_dim}D or {min_dim + 1}D input, but received a "
            f"{input.dim()}D input"
        )
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return input * 0.0
    shape = tuple(input.shape)
    lead = 2 if input.dim() == min_dim + 1 else 1
    return DropoutFunction.apply(input, p, shape[:lead] + (1,) * (len(shape) - lead))


def dropout1d(input, p: float = 0.5, training: bool = True, inplace: bool = False):
    """Zero whole channels of (N, C, L) / (C, L) input."""
    return _channel_dropout(input, p, training, 2, "dropout1d")


def dropout2d(input, p: float = 0.5, training: bool = True, inplace: bool = False):
    """Zero whole channels of (N, C, H, W) / (C, H, W) input."""
    return _channel_dropout(input, p, training, 3, "dropout2d")


def dropout3d(input, p: float = 0.5, training: bool = True, inplace: bool = False):
    """Zero whole channels of (N, C, D, H, W) / (C, D, H, W) input."""
    return _channel_dropout(input, p, training, 4, "dropout3d")


# ------------------------------------------------------------------------ embedding, one_hot


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type: float = 2.0,
              scale_grad_by_freq: bool = False, sparse: bool = False):
    """Rows of ``weight`` (num_embeddings, embedding_dim) picked by integer ``input`` (*):
    output (*, embedding_dim). The ``padding_idx`` row gets no gradient. ``max_norm`` renormalises
    the looked-up rows of ``weight`` in place first, as in PyTorch."""
    input = _as_tensor(input, "input")
    if input.dtype.kind not in "iu":
        raise RuntimeError(
            "Expected tensor for argument #1 'indices' to have one of the following scalar "
            f"types: Long, Int; but got {input.dtype} instead"
        )
    if weight.dim() != 2:
        raise RuntimeError(f"'weight' must be 2-D, got {weight.dim()}-D with shape "
                           f"{list(weight.shape)}")
    n = weight.shape[0]
    if padding_idx is not None:
        if padding_idx < 0:
            padding_idx += n
        if not 0 <= padding_idx < n:
            raise ValueError("Padding_idx must be within num_embeddings")
    idx = input.array
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= n):
        raise IndexError("index out of range in self")
    if max_norm is not None:  # renormalise the looked-up rows in place, outside autograd
        w = weight.array
        xp = xp_of(w)
        rows = xp.unique(idx.reshape(-1))
        norms = (xp.abs(w[rows]) ** norm_type).sum(axis=1) ** (1.0 / norm_type)
        scale = xp.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0).astype(w.dtype)
        w[rows] = w[rows] * scale[:, None]
    if sparse:
        raise NotImplementedError("embedding: sparse gradients are not supported")
    return EmbeddingFunction.apply(weight, input, padding_idx, bool(scale_grad_by_freq))


def one_hot(tensor, num_classes: int = -1):
    """int64 (*, num_classes) with a 1 at each index of ``tensor`` (*)."""
    idx = _as_tensor(tensor, "tensor").array
    if idx.dtype.kind not in "iu":
        raise RuntimeError("one_hot is only applicable to index tensor.")
    if num_classes == -1:
        num_classes = int(idx.max()) + 1 if idx.size else 0
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= num_classes):
        raise RuntimeError("Class values must be smaller than num_classes.")
    out = (idx[..., None] == xp_of(idx).arange(num_classes)).astype(np.int64)
    return wrap(out)


# ---------------------------------------------------------------------------- normalisation


def layer_norm(input, normalized_shape, weight=None, bias=None, eps: float = 1e-5):
    """Normalise over the trailing dims ``normalized_shape`` (biased variance), then scale/shift."""
    if isinstance(normalized_shape, int):
        normalized_shape = (normalized_shape,)
    normalized_shape = tuple(normalized_shape)
    k = len(normalized_shape)
    if k == 0 or tuple(input.shape[input.dim() - k:]) != normalized_shape or input.dim() < k:
        raise RuntimeError(
            f"Given normalized_shape={list(normalized_shape)}, expected input with shape "
            f"[*, {', '.join(map(str, normalized_shape))}], but got input of size"
            f"{list(input.shape)}"
        )
    return LayerNormFunction.apply(input, weight, bias, k, eps)


def normalize(input, p: float = 2.0, dim: int = 1, eps: float = 1e-12, out=None):
    """input / max(||input||_p along dim, eps)."""
    denom = input.norm(p, dim, keepdim=True).clamp(min=eps)
    return input / denom


# -------------------------------------------------------------------------------------- losses


def cross_entropy(input, target, weight=None, size_average=None, ignore_index: int = -100,
                  reduce=None, reduction: str = "mean", label_smoothing: float = 0.0):
    """Cross-entropy between logits ``input`` (N, C) / (N, C, d1..dk) / (C,) and ``target``:
    class indices (N) / (N, d1..dk) / () or class probabilities shaped like ``input``.

    Fused log-softmax + NLL (stable for any logits); ``weight`` (C,) rescales classes,
    ``ignore_index`` skips targets, ``label_smoothing`` mixes in the uniform distribution.
    """
    reduction = _reduction(size_average, reduce, reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    target = _as_tensor(target, "target")
    _check_class_shapes(input, target, weight, "cross_entropy")
    return CrossEntropyFunction.apply(input, target, weight, ignore_index, reduction,
                                      label_smoothing)


def _check_class_shapes(input, target, weight, name):
    if input.dim() == 0:
        raise ValueError(f"{name}: input must have at least 1 dimension (the classes)")
    C = input.shape[1] if input.dim() >= 2 else input.shape[0]
    if weight is not None and tuple(weight.shape) != (C,):
        raise RuntimeError(
            f"weight tensor should be defined either for all {C} classes or no classes but got "
            f"weight tensor of shape: {list(weight.shape)}"
        )
    if target.dtype.kind == "f":
        return
    if target.dtype not in (np.int64, np.uint8):  # torch: Long or Byte class indices
        raise RuntimeError(f"{name}: expected target dtype to be Long or Byte, but got "
                           f"{target.dtype}")
    expected = (tuple(input.shape[:1]) + tuple(input.shape[2:])) if input.dim() >= 2 else ()
    if tuple(target.shape) != expected:
        raise ValueError(
            f"Expected target size {list(expected)}, got {list(target.shape)}"
        )


def nll_loss(input, target, weight=None, size_average=None, ignore_index: int = -100,
             reduce=None, reduction: str = "mean"):
    """Negative log-likelihood of class indices ``target`` under log-probabilities ``input``."""
    reduction = _reduction(size_average, reduce, reduction)
    target = _as_tensor(target, "target")
    if target.dtype.kind == "f":
        raise RuntimeError("nll_loss: expected target of integer class indices, got floating point")
    _check_class_shapes(input, target, weight, "nll_loss")
    return NLLLossFunction.apply(input, target, weight, ignore_index, reduction)


def _warn_broadcast(input, target, name):
    if tuple(target.shape) != tuple(input.shape):
        warnings.warn(
            f"Using a target size ({list(target.shape)}) that is different to the input size "
            f"({list(input.shape)}). This will likely lead to incorrect results due to "
            "broadcasting. Please ensure they have the same size.",
            stacklevel=3,
        )


def mse_loss(input, target, size_average=None, reduce=None, reduction: str = "mean"):
    """(input - target)^2, reduced."""
    reduction = _reduction(size_average, reduce, reduction)
    target = _as_tensor(target, "target")
    _warn_broadcast(input, target, "mse_loss")
    return MSELossFunction.apply(input, target, reduction)


def l1_loss(input, target, size_average=None, reduce=None, reduction: str = "mean"):
    """|input - target|, reduced."""
    reduction = _reduction(size_average, reduce, reduction)
    target = _as_tensor(target, "target")
    _warn_broadcast(input, target, "l1_loss")
    return L1LossFunction.apply(input, target, reduction)


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,
                         reduction: str = "mean"):
    """-w [t log(x) + (1 - t) log(1 - x)] for probabilities x (logs clamped at -100)."""
    reduction = _reduction(size_average, reduce, reduction)
    target = _as_tensor(target, "target")
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(
            f"Using a target size ({list(target.shape)}) that is different to the input size "
            f"({list(input.shape)}) is deprecated. Please ensure they have the same size."
        )
    return BCEFunction.apply(input, target, weight, reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction: str = "mean", pos_weight=None):
    """sigmoid + binary cross-entropy in one stable formula; ``pos_weight`` weighs positives."""
    reduction = _reduction(size_average, reduce, reduction)
    target = _as_tensor(target, "target")
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(
            f"Target size ({list(target.shape)}) must be the same as input size "
            f"({list(input.shape)})"
        )
    return BCEWithLogitsFunction.apply(input, target, weight, pos_weight, reduction)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction: str = "mean",
                   beta: float = 1.0):
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta (d = input - target)."""
    reduction = _reduction(size_average, reduce, reduction)
    if beta < 0:
        raise ValueError("smooth_l1_loss does not support negative values for beta.")
    target = _as_tensor(target, "target")
    _warn_broadcast(input, target, "smooth_l1_loss")
    return HuberFunction.apply(input, target, reduction, beta, True)


def huber_loss(input, target, reduction: str = "mean", delta: float = 1.0, weight=None):
    """0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta)."""
    reduction = _reduction(None, None, reduction)
    if weight is not None:
        raise NotImplementedError("huber_loss: weight is not supported")
    target = _as_tensor(target, "target")
    _warn_broadcast(input, target, "huber_loss")
    return HuberFunction.apply(input, target, reduction, delta, False)


def kl_div(input, target, size_average=None, reduce=None, reduction: str = "mean",
           log_target: bool = False):
    """KL divergence with ``input`` as log-probabilities: target (log target - input);
    ``reduction="batchmean"`` gives the mathematical KL (sum / batch size)."""
    if reduction == "mean":
        warnings.warn(
            "reduction: 'mean' divides the total loss by both the batch size and the support "
            "size.'batchmean' divides only by the batch size, and aligns with the KL div math "
            "definition.'mean' will be changed to behave the same as 'batchmean' in the next "
            "major release.",
            stacklevel=2,
        )
    if reduction != "batchmean":
        reduction = _reduction(size_average, reduce, reduction)
    target = _as_tensor(target, "target")
    return KLDivFunction.apply(input, target, reduction, log_target)
