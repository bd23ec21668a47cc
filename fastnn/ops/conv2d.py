"""Array-level conv2d (NCHW, PyTorch semantics) and its two backward kernels: validate, resolve
padding, lay out, dispatch to the chosen backend."""

from __future__ import annotations

import numbers

from .. import backends
from .._util import check_array, check_grad_shape, contiguous, pair, shape4, xp_of

__all__ = ["conv2d", "conv2d_backward_input", "conv2d_backward_weight", "conv2d_output_shape"]

ACTIVATIONS = (None, "relu")


def _resolve(x_shape, w_shape, stride, padding, dilation, groups):
    """Checks the geometry and returns (stride, padding, dilation, groups, extra, out_hw).

    ``padding`` comes back symmetric; ``extra`` = (bottom, right) additional zero rows/columns that
    "same" needs when the total padding is odd (PyTorch puts the odd one at the end)."""
    stride = pair(stride, "stride", 1)
    dilation = pair(dilation, "dilation", 1)
    if not isinstance(groups, numbers.Integral) or isinstance(groups, bool):
        raise TypeError(f"groups: expected an int, got {groups!r}")
    groups = int(groups)
    if groups < 1:
        raise ValueError(f"groups: expected a positive int, got {groups}")
    n, c, h, w = x_shape
    oc, cg, kh, kw = w_shape
    if c % groups:
        raise ValueError(f"groups: {groups} does not divide the input's {c} channels")
    if oc % groups:
        raise ValueError(f"groups: {groups} does not divide the weight's {oc} output channels")
    if cg * groups != c:
        raise ValueError(
            f"w: channel mismatch: input has {c} channels, so with groups={groups} the weight "
            f"needs shape ({oc}, {c // groups}, {kh}, {kw}) but has {tuple(w_shape)}"
        )
    if kh < 1 or kw < 1:
        raise ValueError(f"w: kernel size must be >= 1, got {kh}x{kw}")
    extra = (0, 0)
    if isinstance(padding, str):
        if padding == "valid":
            padding = (0, 0)
        elif padding == "same":
            if stride != (1, 1):
                raise ValueError("padding: 'same' is only supported with stride 1 (as in PyTorch)")
            th, tw = dilation[0] * (kh - 1), dilation[1] * (kw - 1)
            padding = (th // 2, tw // 2)
            extra = (th - 2 * (th // 2), tw - 2 * (tw // 2))
        else:
            raise ValueError(
                f"padding: expected an int, a pair, 'same' or 'valid', got {padding!r}")
    else:
        padding = pair(padding, "padding", 0)
    hp, wp = h + 2 * padding[0] + extra[0], w + 2 * padding[1] + extra[1]
    eh, ew = dilation[0] * (kh - 1) + 1, dilation[1] * (kw - 1) + 1
    if eh > hp or ew > wp:
        raise ValueError(
            f"w: kernel {kh}x{kw} (dilated extent {eh}x{ew}) is larger than the padded input "
            f"{hp}x{wp}"
        )
    out_hw = ((hp - eh) // stride[0] + 1, (wp - ew) // stride[1] + 1)
    return stride, padding, dilation, groups, extra, out_hw


def conv2d_output_shape(x_shape, w_shape, stride=1, padding=0, dilation=1, groups=1):
    """(N, OC, OH, OW) that ``conv2d`` returns for these shapes (validating them)."""
    *_, (oh, ow) = _resolve(tuple(x_shape), tuple(w_shape), stride, padding, dilation, groups)
    return (x_shape[0], w_shape[0], oh, ow)


def _pad_extra(x, extra):
    if extra == (0, 0):
        return x
    xp = xp_of(x)
    return xp.pad(x, ((0, 0), (0, 0), (0, extra[0]), (0, extra[1])))


def conv2d(x, w, bias=None, stride=1, padding=0, dilation=1, groups=1, activation=None,
           backend=None):
    """2-D cross-correlation over NCHW input, as ``torch.nn.functional.conv2d``, with an optional
    fused ReLU.

    Args:
        x: (N, C, H, W) float32 or float64 array.
        w: (OC, C // groups, KH, KW) array of x's dtype.
        bias: optional (OC,) array.
        stride, dilation: int or (h, w) pair, >= 1.
        padding: int or (h, w) pair >= 0 (zeros), "valid" (0) or "same" (output size = input
            size; stride 1 only; an odd total goes to the bottom/right as in PyTorch).
        groups: int dividing C and OC (groups == C is depthwise).
        activation: None or "relu", fused into the epilogue.
        backend: optional backend name for this call.

    Returns:
        (N, OC, OH, OW) array of x's type and dtype.
    """
    check_array(x, "x", 4)
    check_array(w, "w", 4, x.dtype)
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation: expected None or 'relu', got {activation!r}")
    stride, padding, dilation, groups, extra, _ = _resolve(
        tuple(x.shape), tuple(w.shape), stride, padding, dilation, groups)
    if bias is not None:
        check_array(bias, "bias", 1, x.dtype)
        if bias.shape[0] != w.shape[0]:
            raise ValueError(f"bias: expected shape ({w.shape[0]},), got {tuple(bias.shape)}")
        bias = contiguous(bias)
    x = contiguous(_pad_extra(x, extra))
    w = contiguous(w)
    fn, _ = backends.get("conv2d_forward", x, w, bias, backend=backend)
    return fn(x, w, bias, stride, padding, dilation, groups, activation)


def conv2d_backward_input(grad_out, w, input_shape, stride=1, padding=0, dilation=1, groups=1,
                          backend=None):
    """Gradient of ``conv2d`` (without activation) with respect to x.

    Args:
        grad_out: (N, OC, OH, OW) gradient of the output.
        w: (OC, C // groups, KH, KW).
        input_shape: (N, C, H, W) of x.
        stride, padding, dilation, groups: as given to ``conv2d``.

    Returns:
        grad_x, an (N, C, H, W) array.
    """
    check_array(grad_out, "grad_out", 4)
    check_array(w, "w", 4, grad_out.dtype)
    input_shape = shape4(input_shape, "input_shape")
    stride, padding, dilation, groups, extra, out_hw = _resolve(
        input_shape, tuple(w.shape), stride, padding, dilation, groups)
    check_grad_shape(grad_out, (input_shape[0], w.shape[0], *out_hw))
    n, c, h, wd = input_shape
    padded = (n, c, h + extra[0], wd + extra[1])
    fn, _ = backends.get("conv2d_backward_input", grad_out, w, backend=backend)
    gx = fn(contiguous(grad_out), contiguous(w), padded, stride, padding, dilation, groups)
    if extra != (0, 0):
        gx = contiguous(gx[:, :, :h, :wd])
    return gx


def conv2d_backward_weight(x, grad_out, weight_shape, stride=1, padding=0, dilation=1, groups=1,
                           need_bias=False, backend=None):
    """Gradients of ``conv2d`` (without activation) with respect to w and bias.

    Args:
        x: (N, C, H, W) forward input.
        grad_out: (N, OC, OH, OW) gradient of the output.
        weight_shape: (OC, C // groups, KH, KW).
        stride, padding, dilation, groups: as given to ``conv2d``.
        need_bias: also return the bias gradient (grad_out summed over N, OH, OW).

    Returns:
        (grad_w, grad_bias): grad_w of ``weight_shape``; grad_bias (OC,) or None.
    """
    check_array(x, "x", 4)
    check_array(grad_out, "grad_out", 4, x.dtype)
    weight_shape = shape4(weight_shape, "weight_shape")
    stride, padding, dilation, groups, extra, out_hw = _resolve(
        tuple(x.shape), weight_shape, stride, padding, dilation, groups)
    check_grad_shape(grad_out, (x.shape[0], weight_shape[0], *out_hw))
    x = contiguous(_pad_extra(x, extra))
    fn, _ = backends.get("conv2d_backward_weight", x, grad_out, backend=backend)
    return fn(x, contiguous(grad_out), weight_shape, stride, padding, dilation, groups,
              bool(need_bias))
