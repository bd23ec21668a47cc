"""The contract's argument checks, for backends whose kernels would otherwise index memory on
trust (numba's @njit loops and the CUDA kernels do no bounds checks: a wrong shape there reads or
writes past an array's end). ``fastnn.ops`` validates (and lays out) every call before it gets
here; these checks make the backend functions themselves safe when reached directly through
``fastnn.backends.get`` or the backend modules. The C++ extension does the same checks in C++.

Shapes are written as patterns over named sizes: ``"B,H"`` binds B and H on first sight and
requires the same values afterwards; ``"4H"`` is a multiple of 4 that binds H to a quarter of it.
"""

from __future__ import annotations

import functools
import numbers
import re

import numpy as np

from .._util import is_array

_FLOATS = ("float32", "float64")
_TOKEN = re.compile(r"^(\d*)([A-Za-z]\w*)$")


class _Shapes:
    def __init__(self, kernel):
        self.kernel, self.sizes, self.dtype = kernel, {}, None

    def array(self, x, name, pattern, *, dtype=None, optional=False, writable=False):
        if x is None and optional:
            return
        if not is_array(x):
            raise TypeError(f"{self.kernel}: {name}: expected an array, got {type(x).__name__}")
        dt = str(x.dtype)
        if dtype is None:  # the float operands share one dtype
            if dt not in _FLOATS:
                raise TypeError(f"{self.kernel}: {name}: expected float32/float64, got {dt}")
            if self.dtype is None:
                self.dtype = dt
            elif dt != self.dtype:
                raise TypeError(f"{self.kernel}: {name}: dtype {dt} differs from {self.dtype}")
        elif dt != dtype:
            raise TypeError(f"{self.kernel}: {name}: expected {dtype}, got {dt}")
        if not _flag_of(x, "C_CONTIGUOUS"):
            raise ValueError(f"{self.kernel}: {name}: expected a C-contiguous array")
        if writable and not _flag_of(x, "WRITEABLE"):
            raise ValueError(f"{self.kernel}: {name}: expected a writable array")
        self.shape(tuple(x.shape), name, pattern)

    def shape(self, shape, name, pattern):
        tokens = pattern.split(",")
        if len(shape) != len(tokens):
            raise ValueError(f"{self.kernel}: {name}: expected shape ({pattern}), got {shape}")
        for size, tok in zip(shape, tokens):
            mult, sym = _TOKEN.match(tok).groups()
            mult = int(mult or 1)
            if size % mult:
                raise ValueError(f"{self.kernel}: {name}: expected shape ({pattern}), got {shape}")
            want = self.sizes.setdefault(sym, size // mult)
            if want * mult != size:
                raise ValueError(
                    f"{self.kernel}: {name}: expected shape ({pattern}) with {sym}={want}, "
                    f"got {shape}"
                )


def _flag_of(x, flag) -> bool:
    """A NumPy/CuPy/Numba array flag; True where the array type does not report it."""
    try:
        return bool(x.flags[flag])
    except (AttributeError, KeyError, TypeError):
        return True


def _ints(v, name, kernel, count=2, minimum=0):
    if (not isinstance(v, tuple) or len(v) != count
            or not all(isinstance(i, numbers.Integral) and not isinstance(i, bool) for i in v)
            or min(v) < minimum):
        raise TypeError(f"{kernel}: {name}: expected a tuple of {count} ints >= {minimum}, "
                        f"got {v!r}")
    return tuple(int(i) for i in v)


def _flag(v, name, kernel):
    if not isinstance(v, (bool, np.bool_)):
        raise TypeError(f"{kernel}: {name}: expected a bool, got {v!r}")


def _real(v, name, kernel):
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        raise TypeError(f"{kernel}: {name}: expected a float, got {v!r}")


def _conv_geometry(k, s, x_shape, w_shape, stride, padding, dilation, groups):
    stride = _ints(stride, "stride", k, minimum=1)
    padding = _ints(padding, "padding", k)
    dilation = _ints(dilation, "dilation", k, minimum=1)
    if isinstance(groups, bool) or not isinstance(groups, numbers.Integral) or groups < 1:
        raise TypeError(f"{k}: groups: expected a positive int, got {groups!r}")
    n, c, h, w = x_shape
    oc, cg = w_shape[:2]
    if cg * groups != c or oc % groups:
        raise ValueError(f"{k}: w: shape {tuple(w_shape)} does not fit {c} input channels "
                         f"in {groups} groups")
    out = []
    for a in (0, 1):
        span = (h, w)[a] + 2 * padding[a] - dilation[a] * (w_shape[2 + a] - 1) - 1
        if span < 0:
            raise ValueError(f"{k}: the kernel is larger than the padded input")
        out.append(span // stride[a] + 1)
    s.sizes.update(OH=out[0], OW=out[1])


def _check(kernel, args):  # noqa: C901  (one branch per kernel, each a few lines)
    s = _Shapes(kernel)
    a = args
    if kernel == "gemm":
        x, y, bias, act, ta, tb, alpha, beta, out = a
        _flag(ta, "trans_a", kernel)
        _flag(tb, "trans_b", kernel)
        s.array(x, "a", "K,M" if ta else "M,K")
        s.array(y, "b", "N,K" if tb else "K,N")
        s.array(bias, "bias", "N", optional=True)
        s.array(out, "out", "M,N", optional=True, writable=True)
        if act not in (None, "relu", "gelu", "sigmoid", "tanh"):
            raise ValueError(f"gemm: activation: unknown {act!r}")
        _real(alpha, "alpha", kernel)
        _real(beta, "beta", kernel)
    elif kernel == "conv2d_forward":
        x, w, bias, stride, padding, dilation, groups, act = a
        s.array(x, "x", "N,C,H,W")
        s.array(w, "w", "OC,CG,KH,KW")
        s.array(bias, "bias", "OC", optional=True)
        _conv_geometry(kernel, s, x.shape, w.shape, stride, padding, dilation, groups)
        if act not in (None, "relu"):
            raise ValueError(f"{kernel}: activation: expected None or 'relu', got {act!r}")
    elif kernel == "conv2d_backward_input":
        g, w, shape, stride, padding, dilation, groups = a
        s.shape(_ints(shape, "input_shape", kernel, 4), "input_shape", "N,C,H,W")
        s.array(w, "w", "OC,CG,KH,KW")
        _conv_geometry(kernel, s, shape, w.shape, stride, padding, dilation, groups)
        s.array(g, "grad_out", "N,OC,OH,OW")
    elif kernel == "conv2d_backward_weight":
        x, g, wshape, stride, padding, dilation, groups, _need_bias = a
        s.array(x, "x", "N,C,H,W")
        s.shape(_ints(wshape, "weight_shape", kernel, 4), "weight_shape", "OC,CG,KH,KW")
        _conv_geometry(kernel, s, x.shape, wshape, stride, padding, dilation, groups)
        s.array(g, "grad_out", "N,OC,OH,OW")
    elif kernel in ("max_pool2d_forward", "max_pool2d_backward"):
        if kernel == "max_pool2d_forward":
            x, kern, stride, padding, dilation, _ceil = a
            s.array(x, "x", "N,C,H,W")
        else:
            g, arg, shape, kern, stride, padding, dilation, _ceil = a
            s.shape(_ints(shape, "input_shape", kernel, 4), "input_shape", "N,C,H,W")
            s.array(g, "grad_out", "N,C,OH,OW")
            s.array(arg, "arg", "N,C,OH,OW", dtype="int32")
        kern = _ints(kern, "kernel", kernel, minimum=1)
        _ints(stride, "stride", kernel, minimum=1)
        padding = _ints(padding, "padding", kernel)
        _ints(dilation, "dilation", kernel, minimum=1)
        if padding[0] > kern[0] // 2 or padding[1] > kern[1] // 2:
            raise ValueError(f"{kernel}: padding: at most half the kernel, got {padding}")
        if kernel == "max_pool2d_backward" and arg.size and (
                int(arg.min()) < 0 or int(arg.max()) >= kern[0] * kern[1]):
            raise ValueError(f"{kernel}: arg: tap indices outside [0, {kern[0] * kern[1]})")
    elif kernel.startswith("lstm_"):
        names = {
            "lstm_cell_forward": ("x h c w_ih w_hh b_ih b_hh", "B,I B,H B,H 4H,I 4H,H 4H 4H"),
            "lstm_cell_backward": ("grad_h grad_c x h c c_new gates w_ih w_hh",
                                   "B,H B,H B,I B,H B,H B,H B,4H 4H,I 4H,H"),
            "lstm_sequence_forward": ("x h0 c0 w_ih w_hh b_ih b_hh",
                                      "T,B,I B,H B,H 4H,I 4H,H 4H 4H"),
            "lstm_sequence_backward": ("grad_y grad_hn grad_cn x h0 c0 w_ih w_hh y cs gates",
                                       "T,B,H B,H B,H T,B,I B,H B,H 4H,I 4H,H T,B,H T,B,H "
                                       "T,B,4H"),
        }[kernel]
        for name, pattern, value in zip(names[0].split(), names[1].split(), a):
            s.array(value, name, pattern, optional=name.startswith("b_"))
    elif kernel.startswith("attention_"):
        if kernel == "attention_forward":
            q, k, v, mask, causal, scale = a
        else:
            g, q, k, v, out, lse, mask, causal, scale = a
        s.array(q, "q", "B,H,LQ,D")
        s.array(k, "k", "B,H,LK,D")
        s.array(v, "v", "B,H,LK,DV")
        if kernel == "attention_backward":
            s.array(g, "grad_out", "B,H,LQ,DV")
            s.array(out, "out", "B,H,LQ,DV")
            s.array(lse, "lse", "B,H,LQ")
        if mask is not None:
            s.array(mask, "mask", "BM,HM,LQ,LK")
            if s.sizes["BM"] not in (1, s.sizes["B"]) or s.sizes["HM"] not in (1, s.sizes["H"]):
                raise ValueError(f"{kernel}: mask: leading dims must be 1 or match q's")
        _flag(causal, "causal", kernel)
        _real(scale, "scale", kernel)
    else:  # pragma: no cover - every contract kernel has a branch
        raise ValueError(f"no checks for kernel {kernel!r}")


def checked(fn):
    """``fn`` (named after its contract kernel) behind the contract's argument checks."""
    kernel = fn.__name__

    @functools.wraps(fn)
    def kernel_with_checks(*args):
        _check(kernel, args)
        return fn(*args)

    return kernel_with_checks
