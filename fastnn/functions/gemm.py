"""The GEMM family's Functions: matrix products and Linear (one GEMM with fused bias) on
``fastnn.ops.gemm`` (so on the selected backend), forward and backward.

Backward uses gemm's transpose flags: dA = dC @ B^T is ``gemm(dC, B, trans_b=True)`` and
dB = A^T @ dC is ``gemm(A, dC, trans_a=True)``; no transpose is materialised. Batched operands
against a 2-D weight fold the batch into the row dimension (one GEMM instead of a loop).
"""

from __future__ import annotations

import numpy as np

from .. import dtypes as _dt
from .._util import xp_of
from ..autograd.function import Function, unbroadcast
from ..ops import gemm
from ..tensor import Tensor, _make, promote
from .elementwise import _to_tensor, cast


def _bmm(a, b, trans_a=False, trans_b=False):
    """op(a) @ op(b) for 2-D or batched (broadcast) 3+-D operands, one gemm per matrix; a 2-D ``b``
    against a batched ``a`` (no trans_a) is folded into a single GEMM."""
    if a.ndim == 2 and b.ndim == 2:
        return gemm(a, b, trans_a=trans_a, trans_b=trans_b)
    if b.ndim == 2 and not trans_a:
        K = a.shape[-1]
        out = gemm(a.reshape(-1, K), b, trans_b=trans_b)
        return out.reshape(a.shape[:-1] + (out.shape[-1],))
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    M = a.shape[-1] if trans_a else a.shape[-2]
    N = b.shape[-2] if trans_b else b.shape[-1]
    xp = xp_of(a)
    ab = xp.broadcast_to(a, batch + a.shape[-2:]).reshape((-1,) + a.shape[-2:])
    bb = xp.broadcast_to(b, batch + b.shape[-2:]).reshape((-1,) + b.shape[-2:])
    out = xp.empty((ab.shape[0], M, N), dtype=a.dtype)
    for i in range(out.shape[0]):
        gemm(ab[i], bb[i], trans_a=trans_a, trans_b=trans_b, out=out[i])
    return out.reshape(batch + (M, N))


class MatMul(Function):
    """``a @ b`` with NumPy/PyTorch matmul semantics (1-D operands, broadcast batch dims)."""

    @staticmethod
    def forward(ctx, a, b):
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        if a2.shape[-1] != b2.shape[-2]:
            raise RuntimeError(
                f"mat1 and mat2 shapes cannot be multiplied ({a2.shape[-2]}x{a2.shape[-1]} and "
                f"{b2.shape[-2]}x{b2.shape[-1]})"
            )
        out = _bmm(a2, b2)
        ctx.save_for_backward(a2, b2)
        ctx.shapes = (a.shape, b.shape, out.shape)
        if a.ndim == 1:
            out = out[..., 0, :]
        if b.ndim == 1:
            out = out[..., 0]
        return out

    @staticmethod
    def backward(ctx, g):
        a2, b2 = ctx.saved_tensors
        sa, sb, so = ctx.shapes
        na, nb = ctx.needs_input_grad
        g = g.reshape(so)
        ga = gb = None
        if na:  # dA = dC @ B^T
            ga = _bmm(g, b2, trans_b=True)
            ga = unbroadcast(ga, a2.shape).reshape(sa)
        if nb:  # dB = A^T @ dC
            if a2.ndim > 2 and b2.ndim == 2:  # fold the batch: one (K x rows) @ (rows x N) GEMM
                K, N = a2.shape[-1], g.shape[-1]
                gb = gemm(a2.reshape(-1, K), g.reshape(-1, N), trans_a=True)
            else:
                gb = _bmm(a2, g, trans_a=True)
                gb = unbroadcast(gb, b2.shape)
            gb = gb.reshape(sb)
        return ga, gb


def _operands(a, b):
    if not isinstance(a, Tensor):
        a = _to_tensor(a)
    if not isinstance(b, Tensor):
        b = _to_tensor(b)
    if a.array.dtype != b.array.dtype:
        a, b = promote(a, b)
    return a, b


def matmul(input, other):  # noqa: A002
    """Matrix product with broadcasting (``@``), on ``fastnn.ops.gemm``."""
    a, b = _operands(input, other)
    if a.array.ndim == 0 or b.array.ndim == 0:
        raise RuntimeError(
            "both arguments to matmul need to be at least 1D, but they are "
            f"{a.array.ndim}D and {b.array.ndim}D"
        )
    if a.array.dtype.kind != "f" or a.array.dtype == _dt.float16:
        # integer (and half) products are outside the gemm kernels: plain array matmul
        return _make(a.array @ b.array, False, None, 0)
    return MatMul.apply(a, b)


def mm(input, mat2):  # noqa: A002
    if input.array.ndim != 2 or mat2.array.ndim != 2:
        raise RuntimeError(
            f"mm: expected 2D tensors, got {input.array.ndim}D and {mat2.array.ndim}D"
        )
    return matmul(input, mat2)


def bmm(input, mat2):  # noqa: A002
    if input.array.ndim != 3 or mat2.array.ndim != 3:
        raise RuntimeError(
            f"bmm: expected 3D tensors, got {input.array.ndim}D and {mat2.array.ndim}D"
        )
    if input.array.shape[0] != mat2.array.shape[0]:
        raise RuntimeError(
            f"bmm: batch sizes differ: {input.array.shape[0]} and {mat2.array.shape[0]}"
        )
    return matmul(input, mat2)


def mv(input, vec):  # noqa: A002
    return matmul(input, vec)


def dot(input, other):  # noqa: A002
    if input.array.ndim != 1 or other.array.ndim != 1:
        raise RuntimeError(
            f"1D tensors expected, but got {input.array.ndim}D and {other.array.ndim}D tensors"
        )
    return matmul(input, other)


inner = dot


def outer(input, vec2):  # noqa: A002
    return input.reshape(-1, 1) * vec2.reshape(1, -1)


ger = outer


def addmm(input, mat1, mat2, *, beta=1, alpha=1):  # noqa: A002
    prod = matmul(mat1, mat2)
    if alpha != 1:
        prod = prod * alpha
    return prod + (input if beta == 1 else input * beta)


def baddbmm(input, batch1, batch2, *, beta=1, alpha=1):  # noqa: A002
    return addmm(input, batch1, batch2, beta=beta, alpha=alpha)


# ------------------------------------------------------------------------------------ einsum
def _einsum_parse(equation, shapes):
    """Explicit subscripts per operand and for the output, with '...' spelled out as capitals."""
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    ins = lhs.split(",")
    if len(ins) != len(shapes):
        raise ValueError(f"einsum(): {len(ins)} operand subscripts for {len(shapes)} operands")
    n_ell = max(
        (len(s) - len(sub.replace("...", "")) for sub, s in zip(ins, shapes) if "..." in sub),
        default=0,
    )
    ell = "".join(chr(ord("A") + i) for i in range(n_ell))
    subs = []
    for sub, s in zip(ins, shapes):
        if "..." in sub:
            k = len(s) - len(sub.replace("...", ""))
            sub = sub.replace("...", ell[n_ell - k :])
        if len(sub) != len(s):
            raise ValueError(
                f"einsum(): subscripts {sub!r} do not match an operand of {len(s)} dims"
            )
        subs.append(sub)
    if arrow:
        out = rhs.replace("...", ell)
    else:
        letters = "".join(subs)
        out = ell + "".join(
            sorted(c for c in set(letters) if letters.count(c) == 1 and c not in ell)
        )
    return subs, out


class Einsum(Function):
    """``numpy.einsum`` with autograd: each operand's gradient is another einsum of the upstream
    gradient with the other operands. (Runs on NumPy's einsum, not on the gemm kernels.)"""

    @staticmethod
    def forward(ctx, subs, out, *arrays):
        ctx.save_for_backward(*arrays)
        ctx.meta = (subs, out)
        return np.asarray(np.einsum(",".join(subs) + "->" + out, *arrays))

    @staticmethod
    def backward(ctx, g):
        arrays = ctx.saved_tensors
        subs, out = ctx.meta
        needs = ctx.needs_input_grad[2:]
        sizes = {}
        for sub, a in zip(subs, arrays):
            for c, n in zip(sub, a.shape):
                sizes[c] = max(sizes.get(c, 1), n)
        grads = []
        for i, (sub, a) in enumerate(zip(subs, arrays)):
            if not needs[i]:
                grads.append(None)
                continue
            if len(set(sub)) != len(sub):
                raise NotImplementedError(
                    "einsum backward with a repeated index in one operand "
                    "(a diagonal) is not supported by fastnn"
                )
            others = [(s, x) for j, (s, x) in enumerate(zip(subs, arrays)) if j != i]
            avail = set(out).union(*[set(s) for s, _ in others])
            kept = "".join(c for c in sub if c in avail)
            spec = ",".join([out] + [s for s, _ in others]) + "->" + kept
            r = np.asarray(np.einsum(spec, g, *[x for _, x in others]))
            missing = [k for k, c in enumerate(sub) if c not in avail]
            if missing:
                r = np.broadcast_to(np.expand_dims(r, missing), tuple(sizes[c] for c in sub))
            axes = tuple(k for k, n in enumerate(a.shape) if n == 1 and r.shape[k] != 1)
            if axes:
                r = r.sum(axis=axes, keepdims=True)
            grads.append(r.astype(a.dtype, copy=False))
        return (None, None, *grads)


def einsum(equation, *operands):
    """Einstein summation (``torch.einsum``), differentiable; '...' and implicit output allowed."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    ops = [o if isinstance(o, Tensor) else _to_tensor(o) for o in operands]
    dt = ops[0].array.dtype
    for o in ops[1:]:
        if o.array.dtype != dt:
            dt = promote(_make(np.empty(1, dt), False, None, 0), o)[1].array.dtype
    ops = [cast(o, dt) for o in ops]
    subs, out = _einsum_parse(equation, [o.array.shape for o in ops])
    return Einsum.apply(subs, out, *ops)


class LinearFunction(Function):
    """y = x @ W^T + b over the last dim of x (any leading dims): one GEMM with fused bias.

    Backward: dx = dy @ W, dW = dy^T @ x, db = sum(dy) -- transposes via trans flags, never copies.
    """

    @staticmethod
    def forward(ctx, x, weight, bias=None):
        lead = x.shape[:-1]
        x2 = x.reshape(-1, x.shape[-1]) if x.ndim != 2 else x
        y = gemm(x2, weight, bias, trans_b=True)
        ctx.save_for_backward(x2, weight)
        ctx.lead = lead
        ctx.x_shape = x.shape
        ctx.has_bias = bias is not None
        return y.reshape(lead + (weight.shape[0],)) if x.ndim != 2 else y

    @staticmethod
    def backward(ctx, grad):
        x2, weight = ctx.saved_tensors
        g2 = grad.reshape(-1, grad.shape[-1]) if grad.ndim != 2 else grad
        need = ctx.needs_input_grad
        gx = gw = gb = None
        if need[0]:
            gx = gemm(g2, weight).reshape(ctx.x_shape)
        if need[1]:
            gw = gemm(g2, x2, trans_a=True)
        if ctx.has_bias and len(need) > 2 and need[2]:
            gb = g2.sum(axis=0)
        return gx, gw, gb
