"""``torch.linalg``: a few primitives (inv, det/slogdet, solve, solve_triangular, cholesky,
eigh, svd, matrix_exp), each with its derivative beside it, written against the array module's
linalg (NumPy; CuPy on GPU); the rest (norms, pinv, lstsq, matrix_power, multi_dot, cond,
tensorinv/tensorsolve, vander, ...) are compositions of those and the elementwise/reduce ops.

Matrices are the last two dims; leading dims are batch dims, as in torch.
"""

from __future__ import annotations

import builtins
import collections
import math

import numpy as np

from ._util import xp_of
from .autograd.function import Function
from .functions import compose as _cp
from .functions import elementwise as _ew
from .functions import reduce as _rd
from .functions import shape as _sh
from .functions.gemm import matmul
from .tensor import Tensor, _make


def _mT(a):
    return a.swapaxes(-1, -2)


def _la(a):
    return xp_of(a).linalg


def _check_square(name, A):
    a = A.array
    if a.ndim < 2:
        raise RuntimeError(f"linalg.{name}: The input tensor A must have at least 2 dimensions.")
    if a.shape[-1] != a.shape[-2]:
        raise RuntimeError(
            f"linalg.{name}: A must be batches of square matrices, but they are "
            f"{a.shape[-2]} by {a.shape[-1]} matrices"
        )
    if a.dtype.kind != "f":
        raise RuntimeError(
            f"linalg.{name}: Expected a floating point tensor as input. Got {a.dtype}"
        )


def _nt(name, fields):
    return collections.namedtuple(name, fields)


_slogdet_t = _nt("slogdet", ["sign", "logabsdet"])
_eigh_t = _nt("eigh", ["eigenvalues", "eigenvectors"])
_svd_t = _nt("svd", ["U", "S", "Vh"])
_qr_t = _nt("qr", ["Q", "R"])
_inv_ex_t = _nt("inv_ex", ["inverse", "info"])
_chol_ex_t = _nt("cholesky_ex", ["L", "info"])
_solve_ex_t = _nt("solve_ex", ["result", "info"])
_lstsq_t = _nt("lstsq", ["solution", "residuals", "rank", "singular_values"])


def _info(a):
    return _make(np.zeros(a.array.shape[:-2], np.int32), False, None, 0)


# ------------------------------------------------------------------------------ primitives
class Inv(Function):
    @staticmethod
    def forward(ctx, a):
        y = _la(a).inv(a) if a.size else a.copy()
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        yT = _mT(y)
        return -(yT @ g @ yT)


class SlogDet(Function):
    @staticmethod
    def forward(ctx, a):
        sign, logabs = _la(a).slogdet(a)
        ctx.save_for_backward(a)
        ctx.mark_non_differentiable(sign)
        return np.asarray(sign, dtype=a.dtype), np.asarray(logabs, dtype=a.dtype)

    @staticmethod
    def backward(ctx, gsign, glog):
        (a,) = ctx.saved_tensors
        if a.size == 0:
            return a * 0
        return glog[..., None, None] * _mT(_la(a).inv(a))


class Det(Function):
    @staticmethod
    def forward(ctx, a):
        d = np.asarray(_la(a).det(a), dtype=a.dtype)
        ctx.save_for_backward(a, d)
        return d

    @staticmethod
    def backward(ctx, g):
        a, d = ctx.saved_tensors
        if a.size == 0:
            return a * 0
        # d det / dA = adj(A)^T, computed from the SVD so singular matrices work too:
        # adj(A) = V diag(prod_{j != i} s_j) U^T * det(U) det(V)
        u, s, vh = _la(a).svd(a)
        n = s.shape[-1]
        prods = (
            np.stack([np.prod(np.delete(s, i, axis=-1), axis=-1) for i in range(n)], axis=-1)
            if n > 1
            else np.ones_like(s)
        )
        sign = _la(u).det(u) * _la(vh).det(vh)
        adjT = (u * prods[..., None, :]) @ vh * sign[..., None, None]
        return (g[..., None, None] * adjT).astype(a.dtype, copy=False)


class Solve(Function):
    """X = A^-1 B (B a batch of matrices)."""

    @staticmethod
    def forward(ctx, a, b):
        x = (
            _la(a).solve(a, b)
            if a.size and b.size
            else np.zeros(
                np.broadcast_shapes(a.shape[:-2], b.shape[:-2]) + (a.shape[-1], b.shape[-1]),
                a.dtype,
            )
        )
        ctx.save_for_backward(a, x)
        ctx.shapes = (a.shape, b.shape)
        return x

    @staticmethod
    def backward(ctx, g):
        a, x = ctx.saved_tensors
        sa, sb = ctx.shapes
        gb = _la(a).solve(_mT(a), g) if g.size else g * 0
        ga = -(gb @ _mT(x))
        return _sum_to(ga, sa), _sum_to(gb, sb)


def _sum_to(g, shape):
    """Sum broadcast batch dims away (the matrix dims stay)."""
    while g.ndim > len(shape):
        g = g.sum(0)
    for i, n in enumerate(shape[:-2]):
        if n == 1 and g.shape[i] != 1:
            g = g.sum(i, keepdims=True)
    return g


class SolveTriangular(Function):
    @staticmethod
    def forward(ctx, a, b, upper, left, unitriangular):
        ctx.meta = (upper, left, unitriangular, a.shape, b.shape)
        x = _solve_tri(a, b, upper, left, unitriangular)
        ctx.save_for_backward(a, x)
        return x

    @staticmethod
    def backward(ctx, g):
        a, x = ctx.saved_tensors
        upper, left, unit, sa, sb = ctx.meta
        if left:  # X = A^-1 B: gB = A^-T g, gA = -gB X^T
            gb = _solve_tri(_mT(a), g, not upper, True, unit)
            ga = -(gb @ _mT(x))
        else:  # X = B A^-1: gB = g A^-T, gA = -X^T gB
            gb = _solve_tri(_mT(a), g, not upper, False, unit)
            ga = -(_mT(x) @ gb)
        ga = np.triu(ga) if upper else np.tril(ga)
        if unit:
            ga = ga - np.tril(np.triu(ga))  # the diagonal is not read
        return _sum_to(ga, sa), _sum_to(gb, sb), None, None, None


def _solve_tri(a, b, upper, left, unit):
    if unit:
        n = a.shape[-1]
        eye = xp_of(a).eye(n, dtype=a.dtype)
        a = a * (1 - eye) + eye
    tri = np.triu(a) if upper else np.tril(a)
    if not left:  # X A = B  <=>  A^T X^T = B^T (the transpose swaps the triangle)
        return _mT(_solve_tri_left(_mT(tri), _mT(b), lower=upper))
    return _solve_tri_left(tri, b, lower=not upper)


def _solve_tri_left(tri, b, lower):
    shape = np.broadcast_shapes(tri.shape[:-2], b.shape[:-2])
    if tri.size == 0 or b.size == 0:
        return xp_of(b).zeros(shape + (tri.shape[-1], b.shape[-1]), b.dtype)
    if xp_of(tri) is not np:  # CuPy: a general solve of the (zero-filled) triangle
        return _la(tri).solve(tri, b)
    import scipy.linalg as sl

    t = np.broadcast_to(tri, shape + tri.shape[-2:]).reshape((-1,) + tri.shape[-2:])
    bb = np.broadcast_to(b, shape + b.shape[-2:]).reshape((-1,) + b.shape[-2:])
    out = np.stack([sl.solve_triangular(ti, bi, lower=lower) for ti, bi in zip(t, bb)])
    return out.reshape(shape + b.shape[-2:]).astype(b.dtype, copy=False)


class Cholesky(Function):
    @staticmethod
    def forward(ctx, a, upper):
        low = _la(a).cholesky(a) if a.size else a.copy()
        ctx.save_for_backward(low)
        ctx.upper = upper
        return _mT(low).copy() if upper else low

    @staticmethod
    def backward(ctx, g):
        (low,) = ctx.saved_tensors
        if ctx.upper:
            g = _mT(g)
        if low.size == 0:
            return g * 0, None
        # torch's cholesky_backward: gA = L^-H Phi(L^H gL) L^-1, symmetrized
        p = _mT(low) @ g
        p = np.tril(p) - 0.5 * np.tril(np.triu(p))
        s = _solve_tri(
            _mT(low), _mT(_solve_tri(_mT(low), _mT(p), True, True, False)), True, True, False
        )
        return 0.5 * (s + _mT(s)), None


class Eigh(Function):
    @staticmethod
    def forward(ctx, a, lower):
        w, v = _la(a).eigh(a, UPLO="L" if lower else "U")
        w, v = w.astype(a.dtype, copy=False), v.astype(a.dtype, copy=False)
        ctx.save_for_backward(w, v)
        return w, v

    @staticmethod
    def backward(ctx, gw, gv):
        w, v = ctx.saved_tensors
        vt = _mT(v)
        xp = xp_of(v)
        inner = xp.zeros(v.shape, v.dtype) if gv is None else vt @ gv
        with np.errstate(divide="ignore"):
            f = w[..., None, :] - w[..., :, None]
            f = np.where(f == 0, np.inf, f)
        inner = (inner - _mT(inner)) / (2 * f) if gv is not None else inner
        if gw is not None:
            inner = inner + gw[..., :, None] * xp.eye(w.shape[-1], dtype=v.dtype)
        return v @ inner @ vt, None


class Svd(Function):
    """Reduced SVD; the backward is torch's svd_backward for real inputs."""

    @staticmethod
    def forward(ctx, a):
        u, s, vh = _la(a).svd(a, full_matrices=False)
        u, s, vh = (t.astype(a.dtype, copy=False) for t in (u, s, vh))
        ctx.save_for_backward(u, s, vh)
        return u, s, vh

    @staticmethod
    def backward(ctx, gu, gs, gvh):
        u, s, vh = ctx.saved_tensors
        v = _mT(vh)
        m, n = u.shape[-2], vh.shape[-1]
        k = s.shape[-1]
        # outputs nobody used arrive as zeros: drop them (their terms divide by s_i^2 - s_j^2)
        gu = None if gu is None or not gu.any() else gu
        gvh = None if gvh is None or not gvh.any() else gvh
        if gu is None and gvh is None:
            return (u * gs[..., None, :]) @ vh
        xp = xp_of(s)
        eye = xp.eye(k, dtype=s.dtype)
        gv = None if gvh is None else _mT(gvh)
        ut_gu = xp.zeros(s.shape + (k,), s.dtype) if gu is None else _mT(u) @ gu
        vt_gv = xp.zeros(s.shape + (k,), s.dtype) if gv is None else _mT(v) @ gv
        s2 = s * s
        with np.errstate(divide="ignore"):
            e = s2[..., None, :] - s2[..., :, None]
            e = np.where(eye.astype(bool), 1, e)
            e = 1 / e
        e = e * (1 - eye)
        skew_u = ut_gu - _mT(ut_gu)
        skew_v = vt_gv - _mT(vt_gv)
        # sym part: (skew_U * E) S + S (skew_V * E), i.e. torch's formula for real inputs
        inner = (skew_u * e) * s[..., None, :] + s[..., :, None] * (skew_v * e)
        if gs is not None:
            inner = inner + gs[..., :, None] * eye
        ga = u @ inner @ vh
        sinv = np.where(s == 0, 0, 1 / np.where(s == 0, 1, s))
        if gu is not None and m > k:
            ga = ga + ((gu - u @ ut_gu) * sinv[..., None, :]) @ vh
        if gv is not None and n > k:
            ga = ga + u @ (_mT(gv - v @ vt_gv) * sinv[..., :, None])
        return ga


class MatrixExp(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return _expm(a)

    @staticmethod
    def backward(ctx, g):
        # d exp(A): the top-right block of exp([[A^T, G], [0, A^T]])
        (a,) = ctx.saved_tensors
        n = a.shape[-1]
        big = np.zeros(a.shape[:-2] + (2 * n, 2 * n), a.dtype)
        big[..., :n, :n] = _mT(a)
        big[..., n:, n:] = _mT(a)
        big[..., :n, n:] = g
        return _expm(big)[..., :n, n:]


def _expm(a):
    import scipy.linalg as sl

    if a.size == 0:
        return a.copy()
    flat = a.reshape((-1,) + a.shape[-2:]).astype(np.float64)  # float32 Pade loses digits
    return np.stack([sl.expm(m) for m in flat]).reshape(a.shape).astype(a.dtype, copy=False)


# ---------------------------------------------------------------------------- public API
def inv(A, *, out=None):  # noqa: N803 - torch's argument names
    _check_square("inv", A)
    return Inv.apply(A)


def inv_ex(A, *, check_errors=False, out=None):  # noqa: N803
    return _inv_ex_t(inv(A), _info(A))


def det(A, *, out=None):  # noqa: N803
    _check_square("det", A)
    return Det.apply(A)


def slogdet(A, *, out=None):  # noqa: N803
    _check_square("slogdet", A)
    return _slogdet_t(*SlogDet.apply(A))


def logdet(input):  # noqa: A002
    sign, logabs = slogdet(input)
    return _ew.where(_ew.lt(sign, 0), float("nan"), _ew.where(_ew.eq(sign, 0), -math.inf, logabs))


def _is_vector_rhs(A, B):  # noqa: N803
    b, a = B.array, A.array
    return b.ndim == 1 or (b.ndim == a.ndim - 1 and b.shape == a.shape[:-1])


def solve(A, B, *, left=True, out=None):  # noqa: N803
    _check_square("solve", A)
    if not left:  # X A = B  <=>  A^T X^T = B^T
        return _sh.transpose(solve(_sh.transpose(A, -2, -1), _sh.transpose(B, -2, -1)), -2, -1)
    if _is_vector_rhs(A, B):
        return _sh.squeeze(Solve.apply(A, _sh.unsqueeze(B, -1)), -1)
    return Solve.apply(A, B)


def solve_ex(A, B, *, left=True, check_errors=False, out=None):  # noqa: N803
    return _solve_ex_t(solve(A, B, left=left), _info(A))


def solve_triangular(A, B, *, upper, left=True, unitriangular=False, out=None):  # noqa: N803
    return SolveTriangular.apply(A, B, bool(upper), bool(left), bool(unitriangular))


def cholesky(A, *, upper=False, out=None):  # noqa: N803
    _check_square("cholesky", A)
    try:
        return Cholesky.apply(A, bool(upper))
    except np.linalg.LinAlgError:
        raise RuntimeError(
            "linalg.cholesky: The factorization could not be completed because "
            "the input is not positive-definite."
        ) from None


def cholesky_ex(A, *, upper=False, check_errors=False, out=None):  # noqa: N803
    return _chol_ex_t(cholesky(A, upper=upper), _info(A))


def eigh(A, UPLO="L", *, out=None):  # noqa: N803
    _check_square("eigh", A)
    return _eigh_t(*Eigh.apply(A, UPLO == "L"))


def eigvalsh(A, UPLO="L", *, out=None):  # noqa: N803
    return eigh(A, UPLO)[0]


def svd(A, full_matrices=True, *, driver=None, out=None):  # noqa: N803
    a = A.array
    k = builtins.min(a.shape[-2:])
    if full_matrices and a.shape[-2] != a.shape[-1] and not k:  # empty: U, Vh are identities
        m, n = a.shape[-2:]
        eye = np.eye
        return _svd_t(
            _make(
                np.broadcast_to(eye(m, dtype=a.dtype), a.shape[:-2] + (m, m)).copy(), False, None, 0
            ),
            _make(np.zeros(a.shape[:-2] + (0,), a.dtype), False, None, 0),
            _make(
                np.broadcast_to(eye(n, dtype=a.dtype), a.shape[:-2] + (n, n)).copy(), False, None, 0
            ),
        )
    if full_matrices and a.shape[-2] != a.shape[-1] and k:
        u, s, vh = np.linalg.svd(a, full_matrices=True)
        return _svd_t(*(_make(t.astype(a.dtype), False, None, 0) for t in (u, s, vh)))
    if a.size == 0:
        m, n = a.shape[-2:]
        z = np.zeros
        return _svd_t(
            _make(z(a.shape[:-2] + (m, k), a.dtype), False, None, 0),
            _make(z(a.shape[:-2] + (k,), a.dtype), False, None, 0),
            _make(z(a.shape[:-2] + (k, n), a.dtype), False, None, 0),
        )
    return _svd_t(*Svd.apply(A))


def svdvals(A, *, driver=None, out=None):  # noqa: N803
    return svd(A, full_matrices=False)[1]


def matrix_exp(A):  # noqa: N803
    _check_square("matrix_exp", A)
    return MatrixExp.apply(A)


def qr(A, mode="reduced", *, out=None):  # noqa: N803
    """QR by Householder (NumPy); not differentiable in fastnn."""
    a = A.array
    q, r = np.linalg.qr(a, mode="complete" if mode == "complete" else "reduced")
    if mode == "r":
        return _qr_t(_make(np.zeros((0,), a.dtype), False, None, 0), _make(r, False, None, 0))
    return _qr_t(_make(q.astype(a.dtype), False, None, 0), _make(r.astype(a.dtype), False, None, 0))


# ------------------------------------------------------------------------- compositions
def _dims(dim, ndim):
    if dim is None:
        return None
    return tuple(d % builtins.max(ndim, 1) for d in ((dim,) if isinstance(dim, int) else dim))


def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None, out=None):  # noqa: A002
    """``(sum |x|^ord)^(1/ord)`` over ``dim`` (all when None); inf / -inf / 0 as in torch."""
    if dtype is not None:
        x = _ew.cast(x, dtype)
    if x.array.dtype.kind != "f":
        raise RuntimeError(
            f"linalg.vector_norm: Expected a floating point input. Got {x.array.dtype}"
        )
    dims = _dims(dim, x.array.ndim)
    if x.array.ndim == 0:
        dims = None
    a = _ew.abs(x)
    if ord == math.inf:
        return _rd.amax(a, dims if dims else (), keepdim)
    if ord == -math.inf:
        return _rd.amin(a, dims if dims else (), keepdim)
    if ord == 0:
        return _rd.sum(_ew.cast(_ew.ne(x, 0), x.array.dtype), dims, keepdim)
    if ord == 1:
        return _rd.sum(a, dims, keepdim)
    return _rd.norm(x, ord, dims, keepdim)  # zero subgradient at 0, as torch


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None, out=None):  # noqa: N803
    if dtype is not None:
        A = _ew.cast(A, dtype)  # noqa: N806
    d0, d1 = (d % A.array.ndim for d in dim)
    if ord == "fro":
        return vector_norm(A, 2, (d0, d1), keepdim)
    if ord in ("nuc", 2, -2):
        x = _sh.movedim(A, (d0, d1), (-2, -1))
        s = svdvals(x)
        r = _rd.sum(s, -1) if ord == "nuc" else (_rd.amax(s, -1) if ord == 2 else _rd.amin(s, -1))
        if keepdim:
            r = _sh.unsqueeze(_sh.unsqueeze(r, builtins.min(d0, d1)), builtins.max(d0, d1))
        return r
    if ord in (1, -1, math.inf, -math.inf):
        sum_dim, red_dim = (d0, d1) if ord in (1, -1) else (d1, d0)
        s = _rd.sum(_ew.abs(A), sum_dim, keepdim=True)
        red = _rd.amax if ord > 0 else _rd.amin
        r = red(s, red_dim, keepdim=True)
        return (
            r
            if keepdim
            else _sh.squeeze(_sh.squeeze(r, builtins.max(d0, d1)), builtins.min(d0, d1))
        )
    raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")


def norm(A, ord=None, dim=None, keepdim=False, *, dtype=None, out=None):  # noqa: N803
    if dtype is not None:
        A = _ew.cast(A, dtype)  # noqa: N806
    if isinstance(ord, str) or (dim is not None and not isinstance(dim, int) and len(dim) == 2):
        return matrix_norm(
            A, "fro" if ord is None else ord, dim if dim is not None else (-2, -1), keepdim
        )
    if ord is not None and dim is None and A.array.ndim == 2:
        return matrix_norm(A, ord, (-2, -1), keepdim)
    if ord is None and dim is None:
        return (
            vector_norm(_sh.reshape(A, (-1,)), 2, None, keepdim)
            if not keepdim
            else vector_norm(A, 2, None, True)
        )
    return vector_norm(A, 2 if ord is None else ord, dim, keepdim)


def cond(A, p=None):  # noqa: N803
    if p in (None, 2, -2):
        s = svdvals(A)
        hi, lo = _rd.amax(s, -1), _rd.amin(s, -1)
        return _ew.div(hi, lo) if p != -2 else _ew.div(lo, hi)
    return _ew.mul(matrix_norm(A, p), matrix_norm(inv(A), p))


def matrix_power(A, n):  # noqa: N803
    _check_square("matrix_power", A)
    if n == 0:
        eye = np.broadcast_to(np.eye(A.array.shape[-1], dtype=A.array.dtype), A.array.shape)
        return _make(eye.copy(), False, None, 0)
    base = inv(A) if n < 0 else A
    n = builtins.abs(n)
    result = None
    while n:  # square-and-multiply
        if n & 1:
            result = base if result is None else matmul(result, base)
        n >>= 1
        if n:
            base = matmul(base, base)
    return result


def multi_dot(tensors, *, out=None):
    ts = list(tensors)
    if len(ts) < 2:
        raise RuntimeError("multi_dot(): expected at least 2 tensors but got " + str(len(ts)))
    first_1d, last_1d = ts[0].array.ndim == 1, ts[-1].array.ndim == 1
    if first_1d:
        ts[0] = _sh.unsqueeze(ts[0], 0)
    if last_1d:
        ts[-1] = _sh.unsqueeze(ts[-1], -1)
    out_t = ts[0]
    for t in ts[1:]:
        out_t = matmul(out_t, t)
    if first_1d:
        out_t = _sh.squeeze(out_t, 0)
    if last_1d:
        out_t = _sh.squeeze(out_t, -1)
    return out_t


def pinv(A, *, atol=None, rtol=None, hermitian=False, out=None):  # noqa: N803
    """Moore-Penrose inverse from the SVD, singular values below the cutoff dropped."""
    if hermitian:  # from eigh: only the lower triangle is read
        w, v = eigh(A)
        wa = np.abs(w.array)
        wmax = wa.max(-1, keepdims=True) if wa.size else wa[..., :1]
        if rtol is None:
            rtol = (
                0.0
                if atol is not None and atol > 0
                else max(A.array.shape[-2:]) * np.finfo(A.array.dtype).eps
            )
        keep = _make(wa > np.maximum(0.0 if atol is None else atol, rtol * wmax), False, None, 0)
        winv = _ew.where(keep, _ew.reciprocal(_ew.where(keep, w, 1.0)), 0.0)
        return matmul(v * _sh.unsqueeze(winv, -2), _sh.transpose(v, -2, -1))
    if A.array.size == 0:
        shape = A.array.shape[:-2] + (A.array.shape[-1], A.array.shape[-2])
        return _make(np.zeros(shape, A.array.dtype), False, None, 0)
    u, s, vh = svd(A, full_matrices=False)
    sa = s.array
    smax = sa.max(-1, keepdims=True) if sa.size else sa[..., :1]
    if rtol is None:
        rtol = (
            0.0
            if atol is not None and atol > 0
            else max(A.array.shape[-2:]) * np.finfo(A.array.dtype).eps
        )
    cutoff = np.maximum(0.0 if atol is None else atol, rtol * smax)
    keep = _make(sa > cutoff, False, None, 0)
    sinv = _ew.where(keep, _ew.reciprocal(_ew.where(keep, s, 1.0)), 0.0)
    return matmul(_sh.transpose(vh, -2, -1) * _sh.unsqueeze(sinv, -2), _sh.transpose(u, -2, -1))


def lstsq(A, B, rcond=None, *, driver=None):  # noqa: N803
    vec = B.array.ndim == A.array.ndim - 1
    b = _sh.unsqueeze(B, -1) if vec else B
    x = matmul(pinv(A), b)
    if vec:
        x = _sh.squeeze(x, -1)
    empty = _make(np.zeros((0,), A.array.dtype), False, None, 0)
    if driver in (None, "gelsy", "gelsd", "gelss"):
        rank = _make(np.asarray(np.linalg.matrix_rank(A.array), dtype=np.int64), False, None, 0)
    else:  # 'gels' computes no rank
        rank = _make(np.zeros((0,), np.int64), False, None, 0)
    return _lstsq_t(x, empty, rank, empty)


def matrix_rank(A, *, atol=None, rtol=None, hermitian=False, out=None):  # noqa: N803
    a = A.array
    s = np.linalg.svd(a, compute_uv=False) if a.size else np.zeros(a.shape[:-2] + (0,))
    smax = s.max(-1, keepdims=True) if s.size else np.zeros(s.shape[:-1] + (1,))
    atol = atol.array[..., None] if isinstance(atol, Tensor) else atol
    rtol = rtol.array[..., None] if isinstance(rtol, Tensor) else rtol
    if rtol is None:  # torch: eps * max(m, n), unless a positive atol is given
        eps = max(a.shape[-2:]) * np.finfo(a.dtype).eps
        rtol = eps if atol is None else np.where(np.asarray(atol) > 0, 0.0, eps)
    tol = np.maximum(0.0 if atol is None else atol, rtol * smax)
    return _make(np.asarray((s > tol).sum(-1), dtype=np.int64), False, None, 0)


def tensorinv(A, ind=2, *, out=None):  # noqa: N803
    shape = A.array.shape
    rows, cols = math.prod(shape[:ind]), math.prod(shape[ind:])
    return _sh.reshape(inv(_sh.reshape(A, (rows, cols))), shape[ind:] + shape[:ind])


def tensorsolve(A, B, dims=None, *, out=None):  # noqa: N803
    if dims is not None:
        dims = [d % A.array.ndim for d in dims]
        rest = [d for d in range(A.array.ndim) if d not in dims]
        A = _sh.permute(A, *(rest + dims))  # noqa: N806
    bs = B.array.shape
    xs = A.array.shape[len(bs) :]
    x = solve(_sh.reshape(A, (math.prod(bs), math.prod(xs))), _sh.reshape(B, (-1,)))
    return _sh.reshape(x, xs)


def vander(x, N=None):  # noqa: N803
    if x.array.ndim == 0:
        x = _sh.reshape(x, (1,))
    n = x.array.shape[-1] if N is None else N
    if n == 0:
        return _make(np.zeros(x.array.shape + (0,), x.array.dtype), False, None, 0)
    cols = [_ew.mul(x, 0) + 1] + [x] * (n - 1)
    return _rd.cumprod(_sh.stack(cols, -1), -1)


def vecdot(x, y, *, dim=-1, out=None):
    return _rd.sum(_ew.mul(x, y), dim)


def cross(input, other, *, dim=-1, out=None):  # noqa: A002
    return _cp.cross(input, other, dim)


def diagonal(A, *, offset=0, dim1=-2, dim2=-1):  # noqa: N803
    return _cp.diagonal(A, offset, dim1, dim2)


def cholesky_inverse(L, upper=False, *, out=None):  # noqa: N803
    low = _sh.transpose(L, -2, -1) if upper else L
    return inv(matmul(low, _sh.transpose(low, -2, -1)))


def cholesky_solve(B, L, upper=False, *, out=None):  # noqa: N803
    """``(L L^T)^-1 B``; differentiable in every entry of L, as torch's cholesky_solve is."""
    low = _sh.transpose(L, -2, -1) if upper else L
    return solve(matmul(low, _sh.transpose(low, -2, -1)), B)


_eig_t = _nt("eig", ["eigenvalues", "eigenvectors"])


def _complex_of(a):
    return np.complex128 if a.dtype == np.float64 else np.complex64


def eig(A, *, out=None):  # noqa: N803
    """Eigen-decomposition of a general matrix (LAPACK geev): complex results, not
    differentiable in fastnn (no complex autograd)."""
    _check_square("eig", A)
    w, v = np.linalg.eig(A.array)
    ct = _complex_of(A.array)
    return _eig_t(_make(w.astype(ct), False, None, 0), _make(v.astype(ct), False, None, 0))


def eigvals(A, *, out=None):  # noqa: N803
    _check_square("eigvals", A)
    return _make(np.linalg.eigvals(A.array).astype(_complex_of(A.array)), False, None, 0)


_ldl_t = _nt("ldl_factor", ["LD", "pivots"])
_ldl_ex_t = _nt("ldl_factor_ex", ["LD", "pivots", "info"])


def _lapack(name, dtype):
    from scipy.linalg import lapack

    return getattr(lapack, ("d" if dtype == np.float64 else "s") + name)


def ldl_factor_ex(A, *, hermitian=False, check_errors=False, out=None):  # noqa: N803
    """LAPACK's sytrf (lower): the compact LD factor and 1-based pivots; not differentiable."""
    _check_square("ldl_factor", A)
    a = A.array
    fn = _lapack("sytrf", a.dtype)
    flat = a.reshape((-1,) + a.shape[-2:]) if a.size else []
    lds, pivs = [], []
    for m in flat:
        ld, piv, _ = fn(m, lower=1)
        lds.append(np.tril(ld))
        pivs.append(piv)
    n = a.shape[-1]
    ld = np.stack(lds).reshape(a.shape) if lds else np.zeros(a.shape, a.dtype)
    piv = np.stack(pivs).reshape(a.shape[:-1]) if pivs else np.zeros(a.shape[:-2] + (n,))
    return _ldl_ex_t(
        _make(ld.astype(a.dtype), False, None, 0),
        _make(piv.astype(np.int32), False, None, 0),
        _make(np.zeros(a.shape[:-2], np.int32), False, None, 0),
    )


def ldl_factor(A, *, hermitian=False, out=None):  # noqa: N803
    ld, piv, _ = ldl_factor_ex(A, hermitian=hermitian)
    return _ldl_t(ld, piv)


def ldl_solve(LD, pivots, B, *, hermitian=False, out=None):  # noqa: N803
    """Solve with ldl_factor's output (LAPACK's sytrs); not differentiable."""
    ld, b = LD.array, B.array
    fn = _lapack("sytrs", ld.dtype)
    shape = np.broadcast_shapes(ld.shape[:-2], b.shape[:-2])
    if ld.size == 0 or b.size == 0:
        return _make(np.zeros(shape + b.shape[-2:], b.dtype), False, None, 0)
    lds = np.broadcast_to(ld, shape + ld.shape[-2:]).reshape((-1,) + ld.shape[-2:])
    bs = np.broadcast_to(b, shape + b.shape[-2:]).reshape((-1,) + b.shape[-2:])
    ps = np.broadcast_to(pivots.array, shape + pivots.array.shape[-1:]).reshape(
        (-1, pivots.array.shape[-1])
    )
    xs = [fn(li, pi, bi, lower=1)[0] for li, pi, bi in zip(lds, ps, bs)]
    x = np.stack(xs).reshape(shape + b.shape[-2:]) if xs else np.zeros(shape + b.shape[-2:])
    return _make(x.astype(b.dtype), False, None, 0)
