"""PyTorch parity helpers (tinygrad's ``helper_test_op`` style) shared by the framework tests.

    helper_test_op([(3, 4), (4,)], lambda x, y: x * y)

builds random inputs, runs the function with ``torch`` tensors and with ``fastnn`` tensors
(the same lambda works for both when it only uses methods/operators; pass ``fastnn_fn`` otherwise),
compares the forward outputs and every input's gradient, and gradchecks fastnn in float64.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np
import torch

import fastnn
from fastnn.autograd import Function, gradcheck


class _DtypeProbe(Function):
    """Identity whose backward checks the gradient arriving at an input keeps its dtype (the
    engine casts at leaves, which would hide a float64 gradient flowing through a float32 graph)."""

    @staticmethod
    def forward(ctx, x):
        ctx.dtype = x.dtype
        return x

    @staticmethod
    def backward(ctx, g):
        assert g.dtype == ctx.dtype, f"a {ctx.dtype} input received a {g.dtype} gradient"
        return g


# float32 compares against float32 PyTorch: differences are rounding-order only
TOL = {np.float32: (1e-5, 1e-5), np.float64: (1e-10, 1e-10)}


def _inputs(shapes, dtype, low, high, vals, rng):
    if vals is not None:
        return [np.asarray(v, dtype=dtype) for v in vals]
    return [rng.uniform(low, high, size=s).astype(dtype) for s in shapes]


def _to_list(x):
    return list(x) if isinstance(x, (tuple, list)) else [x]


def helper_test_op(
    shapes,
    torch_fn,
    fastnn_fn=None,
    *,
    vals=None,
    low=-2.0,
    high=2.0,
    dtypes=(np.float32, np.float64),
    atol=None,
    rtol=None,
    grad_atol=None,
    grad_rtol=None,
    forward_only=False,
    gradcheck_f64=True,
    noncontig=False,
    requires_grad=None,
    seed=0,
):
    """Compare ``fastnn_fn`` (default: ``torch_fn``) with ``torch_fn`` on random inputs.

    Args:
        shapes: input shapes (ignored when ``vals`` gives the inputs).
        torch_fn / fastnn_fn: callables over the input tensors; may return a tensor or a tuple.
        low, high: uniform input range.
        dtypes: float dtypes to run (each compared with PyTorch in that dtype).
        atol, rtol / grad_atol, grad_rtol: override the per-dtype tolerances.
        forward_only: skip gradients (non-differentiable ops).
        gradcheck_f64: also run ``fastnn.autograd.gradcheck`` in float64 (small inputs only).
        noncontig: feed transposed (non-contiguous) views of the inputs.
        requires_grad: per-input flags (default: all inputs of float dtype).
    """
    fastnn_fn = fastnn_fn or torch_fn
    rng = np.random.default_rng(seed)
    opts = _Options(vals, low, high, atol, rtol, grad_atol, grad_rtol, forward_only, noncontig,
                    requires_grad)
    for dtype in dtypes:
        with _f64_backend(dtype):
            _compare(shapes, torch_fn, fastnn_fn, dtype, rng, opts)
    if gradcheck_f64 and not forward_only:
        arrays = _inputs(shapes, np.float64, low, high, vals, rng)
        flags = requires_grad or [True] * len(arrays)
        ft = [fastnn.wrap(a, requires_grad=bool(f)) for a, f in zip(arrays, flags)]
        with _f64_backend(np.float64):
            assert gradcheck(lambda *xs: fastnn_fn(*xs), ft, eps=1e-6, atol=1e-5, rtol=1e-3)


def _f64_backend(dtype):
    """float64 GEMMs on the reference backend: these tests check autograd, not kernels (the
    kernel tests cover every backend), and gradcheck makes hundreds of tiny GEMM calls."""
    if np.dtype(dtype) == np.float64:
        return fastnn.backends.use("reference")
    return contextlib.nullcontext()


@dataclass(frozen=True)
class _Options:
    """helper_test_op's keyword settings, as _compare reads them."""

    vals: object
    low: float
    high: float
    atol: float | None
    rtol: float | None
    grad_atol: float | None
    grad_rtol: float | None
    forward_only: bool
    noncontig: bool
    requires_grad: object


def _compare(shapes, torch_fn, fastnn_fn, dtype, rng, opt: _Options):
    arrays = _inputs(shapes, dtype, opt.low, opt.high, opt.vals, rng)
    if opt.noncontig:  # same values, but as transposed views of a reversed-shape buffer
        arrays = [np.ascontiguousarray(a.T).T if a.ndim >= 2 else a for a in arrays]
    flags = opt.requires_grad or [a.dtype.kind == "f" for a in arrays]
    flags = [bool(f and not opt.forward_only) for f in flags]
    tt = [torch.tensor(a, requires_grad=f) for a, f in zip(arrays, flags)]
    ft = [
        fastnn.wrap(a if opt.noncontig else a.copy(), requires_grad=f)
        for a, f in zip(arrays, flags)
    ]
    if opt.noncontig:
        assert any(not t.is_contiguous() for t in ft if t.dim() >= 2) or all(
            t.dim() < 2 or 1 in t.shape for t in ft
        )
    t_out = _to_list(torch_fn(*tt))
    f_out = _to_list(fastnn_fn(*[_DtypeProbe.apply(t) if t.requires_grad else t for t in ft]))
    rt, at = TOL[dtype]
    rt, at = opt.rtol or rt, opt.atol or at
    assert len(t_out) == len(f_out), f"{len(t_out)} outputs from torch, {len(f_out)} from fastnn"
    for i, (to, fo) in enumerate(zip(t_out, f_out)):
        assert isinstance(fo, fastnn.Tensor), f"output {i}: {type(fo).__name__}, not a Tensor"
        assert tuple(fo.shape) == tuple(to.shape), f"output {i}: shape {fo.shape} vs {to.shape}"
        tn = to.detach().numpy()
        assert fo.dtype == tn.dtype, f"output {i}: dtype {fo.dtype} vs torch {tn.dtype}"
        np.testing.assert_allclose(
            fo.array, tn, rtol=rt, atol=at, err_msg=f"forward output {i} ({np.dtype(dtype)})"
        )
    if opt.forward_only:
        return
    # a random upstream gradient for every differentiable output
    weights = [rng.standard_normal(tuple(o.shape)).astype(dtype) for o in t_out]
    t_loss = sum((o * torch.tensor(w)).sum() for o, w in zip(t_out, weights) if o.requires_grad)
    f_loss = sum(
        ((o * fastnn.wrap(w)).sum() for o, w in zip(f_out, weights) if o.requires_grad),
        fastnn.zeros((), dtype=dtype),
    )
    if not isinstance(t_loss, torch.Tensor):
        return
    t_loss.backward()
    f_loss.backward()
    grt, gat = opt.grad_rtol or rt * 10, opt.grad_atol or at * 10
    for i, (t_in, f_in) in enumerate(zip(tt, ft)):
        if not t_in.requires_grad:
            continue
        if t_in.grad is None:
            assert f_in.grad is None or not np.any(f_in.grad.array), f"input {i}: torch grad None"
            continue
        assert f_in.grad is not None, f"input {i}: fastnn got no gradient"
        assert f_in.grad.shape == f_in.shape
        np.testing.assert_allclose(
            f_in.grad.array,
            t_in.grad.numpy(),
            rtol=grt,
            atol=gat,
            err_msg=f"gradient of input {i} ({np.dtype(dtype)})",
        )
