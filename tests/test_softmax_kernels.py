"""The softmax family's kernels (fastnn/ops/softmax.py, csrc/softmax.cpp): row softmax /
log_softmax, fused cross-entropy, dropout masks, Embedding backward. Each backend against a float64
NumPy reference and against torch (forward and backward), float64 gradcheck, edge shapes,
non-contiguous inputs, NaN/Inf, dropout statistics, and the errors of bad direct calls."""

import numpy as np
import pytest
import torch

import fastnn
import fastnn.nn.functional as F
from fastnn import backends
from fastnn.backends import cpp
from fastnn.ops import softmax as S

HAS_CPP = cpp._C is not None and hasattr(cpp._C, "softmax_forward")
BACKENDS = ["reference"] + (["cpp"] if HAS_CPP else [])
need_cpp = pytest.mark.skipif(not HAS_CPP, reason="the cpp extension has no softmax kernels")
SHAPES = [(1, 1), (3, 7), (13, 5), (4, 97), (2, 1031), (6, 8), (3, 16), (0, 5), (5, 0)]
# float32 results vs float64: a few roundings plus simd::exp's ~2e-7 relative error
RTOL, ATOL = 1e-5, 2e-6


def _x(shape, seed=0, scale=4.0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(np.float32)


def _softmax64(x, axis=-1, log=False):
    x = x.astype(np.float64)
    s = x - x.max(axis=axis, keepdims=True)
    ls = np.log(np.exp(s).sum(axis=axis, keepdims=True))
    return s - ls if log else np.exp(s - ls)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("log", [False, True])
def test_softmax_forward_backward_vs_float64(backend, shape, log):
    x, g = _x(shape), _x(shape, 1, 1.0)
    y = S.softmax(x, -1, log=log, backend=backend)
    assert y.dtype == np.float32 and y.shape == x.shape
    if x.size == 0:
        return
    ref = _softmax64(x, log=log)
    np.testing.assert_allclose(y, ref, rtol=RTOL, atol=ATOL)
    dx = S.softmax_backward(y, g, -1, log=log, backend=backend)
    y64, g64 = ref, g.astype(np.float64)
    if log:
        dref = g64 - np.exp(y64) * g64.sum(-1, keepdims=True)
    else:
        dref = y64 * (g64 - (g64 * y64).sum(-1, keepdims=True))
    np.testing.assert_allclose(dx, dref, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmax_non_contiguous_and_other_dims(backend, dim):
    x = _x((5, 11, 3)).transpose(2, 0, 1)  # (3, 5, 11), not contiguous
    for log in (False, True):
        y = S.softmax(x, dim, log=log, backend=backend)
        np.testing.assert_allclose(y, _softmax64(x, dim, log), rtol=RTOL, atol=ATOL)
        tx = torch.tensor(x, requires_grad=True)
        ty = torch.log_softmax(tx, dim) if log else torch.softmax(tx, dim)
        g = _x(x.shape, 2, 1.0)
        ty.backward(torch.tensor(g))
        dx = S.softmax_backward(y, g[:, ::-1, :][:, ::-1, :], dim, log=log, backend=backend)
        np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
def test_softmax_nan_inf_like_torch(backend):
    inf = np.inf
    x = np.array([[1.0, np.nan, 2.0, 0.5, 0, 0, 0, 0, 1],
                  [-inf, 1.0, 2.0, -inf, 3, 3, 3, 3, 3],
                  [-inf] * 9,
                  [inf, 1.0, 0, 0, 0, 0, 0, 0, 0],
                  [1e30, -1e30, 0, 0, 0, 0, 0, 0, 0]], np.float32)
    for log in (False, True):
        got = S.softmax(x, -1, log=log, backend=backend)
        tx = torch.tensor(x)
        want = (torch.log_softmax(tx, -1) if log else torch.softmax(tx, -1)).numpy()
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, equal_nan=True)
    # the attention rule: a fully masked row is 0, not NaN
    z = S.softmax(x[1:3], -1, masked_rows_zero=True, backend=backend)
    np.testing.assert_allclose(z[0], _softmax64(x[1:2])[0], rtol=RTOL, atol=ATOL)
    assert (z[1] == 0).all()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dim", [-1, 0, 1])
def test_functional_softmax_vs_torch(backend, dim):
    x, g = _x((4, 7, 13)), _x((4, 7, 13), 1, 1.0)
    with backends.use(backend):
        for fn in ("softmax", "log_softmax"):
            a = fastnn.tensor(x, requires_grad=True)
            ta = torch.tensor(x, requires_grad=True)
            y = getattr(F, fn)(a, dim)
            ty = getattr(torch.nn.functional, fn)(ta, dim)
            np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-5,
                                       atol=2e-6)
            y.backward(fastnn.tensor(g))
            ty.backward(torch.tensor(g))
            np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), rtol=1e-4, atol=1e-5)


def test_softmax_gradcheck_float64():
    x = fastnn.tensor(np.random.default_rng(3).standard_normal((3, 5, 4)), requires_grad=True)
    gc = fastnn.autograd.gradcheck
    assert gc(lambda a: F.softmax(a, 1), (x,))
    assert gc(lambda a: F.log_softmax(a, -1), (x,))


# ---------------------------------------------------------------------------- cross-entropy
def _ce64(x, t, ignore, eps):
    x = x.astype(np.float64)
    m, c = x.shape
    lse = np.log(np.exp(x - x.max(1, keepdims=True)).sum(1)) + x.max(1)
    valid = t != ignore
    safe = np.where(valid, t, 0)
    loss = (1 - eps) * (lse - x[np.arange(m), safe]) + eps * (lse - x.mean(1))
    return np.where(valid, loss, 0.0), lse


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("shape", [(1, 1), (7, 5), (13, 65), (3, 131), (0, 4), (4, 1031)])
@pytest.mark.parametrize("eps", [0.0, 0.1])
def test_cross_entropy_kernels_vs_float64(backend, shape, eps):
    m, c = shape
    x = _x(shape)
    t = np.random.default_rng(1).integers(0, c, m)
    t[::3] = -100
    loss, lse = S.cross_entropy_forward(x, t, -100, eps, backend=backend)
    rl, rlse = _ce64(x, t, -100, eps)
    np.testing.assert_allclose(loss, rl, rtol=RTOL, atol=1e-5)
    np.testing.assert_allclose(lse, rlse, rtol=RTOL, atol=1e-5)
    coef = np.random.default_rng(2).random(m).astype(np.float32)
    dx = S.cross_entropy_backward(x, t, lse, coef, -100, eps, backend=backend)
    p = _softmax64(x) if x.size else np.zeros(shape)
    want = p - eps / max(c, 1)
    want[np.arange(m), np.where(t == -100, 0, t)] -= np.where(t == -100, 0, 1 - eps)
    want *= np.where(t == -100, 0, coef)[:, None]
    np.testing.assert_allclose(dx, want, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("xs", [(9, 7), (4, 5, 3), (6,)])
@pytest.mark.parametrize("eps", [0.0, 0.2])
def test_cross_entropy_vs_torch(backend, reduction, xs, eps):
    x = _x(xs, 4, 3.0)
    c = xs[1] if len(xs) > 1 else xs[0]
    tshape = (xs[0],) + xs[2:] if len(xs) > 1 else ()
    t = np.random.default_rng(5).integers(0, c, tshape)
    if t.ndim:
        t.reshape(-1)[1] = 2  # an ignored row (ignore_index=2 below): class 2 gets skipped
    with backends.use(backend):
        a = fastnn.tensor(x, requires_grad=True)
        loss = F.cross_entropy(a, fastnn.tensor(t), ignore_index=2, reduction=reduction,
                               label_smoothing=eps)
        ta = torch.tensor(x, requires_grad=True)
        tl = torch.nn.functional.cross_entropy(ta, torch.tensor(t), ignore_index=2,
                                               reduction=reduction, label_smoothing=eps)
        np.testing.assert_allclose(loss.detach().numpy(), tl.detach().numpy(), rtol=1e-5,
                                   atol=1e-5, equal_nan=True)
        g = _x(tuple(tl.shape), 6, 1.0)
        loss.backward(fastnn.tensor(g))
        tl.backward(torch.tensor(g))
    np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_cross_entropy_extreme_logits_like_torch(backend):
    inf = np.inf
    x = np.array([[-inf, 1.0, 2.0, -inf], [1e4, -1e4, 0, 3], [np.nan, 0, 0, 0],
                  [0, 1, 2, 3]], np.float32)
    t = np.array([1, 1, 2, 0])
    for eps in (0.0, 0.1):
        with backends.use(backend):
            a = fastnn.tensor(x, requires_grad=True)
            loss = F.cross_entropy(a, fastnn.tensor(t), reduction="none", label_smoothing=eps)
            loss.sum().backward()
        ta = torch.tensor(x, requires_grad=True)
        tl = torch.nn.functional.cross_entropy(ta, torch.tensor(t), reduction="none",
                                               label_smoothing=eps)
        tl.sum().backward()
        np.testing.assert_allclose(loss.detach().numpy(), tl.detach().numpy(), rtol=1e-5,
                                   equal_nan=True)
        np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), rtol=1e-5, atol=1e-7,
                                   equal_nan=True)


def test_cross_entropy_gradcheck_float64():
    x = fastnn.tensor(np.random.default_rng(7).standard_normal((5, 4, 2)), requires_grad=True)
    t = fastnn.tensor(np.array([[0, 3], [1, -100], [2, 2], [0, 1], [3, -100]]))
    gc = fastnn.autograd.gradcheck
    for red in ("mean", "sum", "none"):
        assert gc(lambda a, red=red: F.cross_entropy(a, t, reduction=red, label_smoothing=0.15),
                  (x,))


# ---------------------------------------------------------------------------------- dropout
@need_cpp
@pytest.mark.parametrize("n", [0, 1, 2, 7, 8191, 8192, 8193, 100003])
def test_dropout_cpp_mask_equals_reference(n):
    x = _x((n,))
    y, m = S.dropout_forward(x, 0.3, seed=12345, backend="cpp")
    yr, mr = S.dropout_forward(x, 0.3, seed=12345, backend="reference")
    assert m.dtype == np.uint8 and mr.dtype == np.uint8
    np.testing.assert_array_equal(m, mr)
    np.testing.assert_array_equal(y, yr)
    np.testing.assert_array_equal(y, x * np.where(m == 1, np.float32(1 / 0.7), np.float32(0)))
    g = _x((n,), 1)
    np.testing.assert_array_equal(S.dropout_backward(g, m, 1 / 0.7, backend="cpp"),
                                  S.dropout_backward(g, m, 1 / 0.7, backend="reference"))
    yf, mf = S.dropout_forward(x, 0.3, seed=12345, float_mask=True, backend="cpp")
    np.testing.assert_array_equal(yf, y)
    np.testing.assert_array_equal(mf, m * np.float32(1 / 0.7))


@need_cpp
def test_dropout_mask_independent_of_threads():
    x = _x((300001,))
    masks = []
    for threads in (1, 2):
        fastnn.set_num_threads(threads)
        masks.append(S.dropout_forward(x, 0.5, seed=99, backend="cpp")[1])
    fastnn.set_num_threads(1)
    np.testing.assert_array_equal(*masks)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_dropout_statistics(backend, p):
    n = 400_000
    _, m = S.dropout_forward(np.ones(n, np.float32), p, seed=2024, backend=backend)
    # Bernoulli(1 - p) mean: 6 standard deviations is ~1e-9 false alarm for a sound generator
    assert abs(m.mean() - (1 - p)) < 6 * np.sqrt(p * (1 - p) / n)
    # neighbours (the two halves of one 64-bit draw) are uncorrelated
    a, b = m[0::2].astype(np.float64), m[1::2].astype(np.float64)
    assert abs(np.corrcoef(a, b)[0, 1]) < 6 / np.sqrt(n / 2)


@pytest.mark.parametrize("backend", BACKENDS)
def test_dropout_p0_p1_exact_and_nan(backend):
    x = _x((5, 37))
    y, m = S.dropout_forward(x, 0.0, backend=backend)
    np.testing.assert_array_equal(y, x)
    assert m.all()
    with pytest.raises(ValueError, match="p"):
        S.dropout_forward(x, 1.0, backend=backend)
    with pytest.raises(ValueError, match="p"):
        S.dropout_forward(x, 1.5, backend=backend)
    with backends.use(backend):
        t = fastnn.tensor(x, requires_grad=True)
        z = F.dropout(t, 1.0)
        assert (z.detach().numpy() == 0).all()
        xn = x.copy()
        xn[0, :] = np.nan
        yn = F.dropout(fastnn.tensor(xn), 0.5).numpy()
        assert np.isnan(yn[0]).all()  # NaN * 0 stays NaN, as in torch


@pytest.mark.parametrize("backend", BACKENDS)
def test_functional_dropout_seeded_and_backward(backend):
    x = _x((8, 33, 17))
    with backends.use(backend):
        fastnn.manual_seed(5)
        a = fastnn.tensor(x, requires_grad=True)
        y1 = F.dropout(a, 0.25)
        fastnn.manual_seed(5)
        y2 = F.dropout(fastnn.tensor(x), 0.25)
        y3 = F.dropout(fastnn.tensor(x), 0.25)
        np.testing.assert_array_equal(y1.detach().numpy(), y2.numpy())
        assert not np.array_equal(y2.numpy(), y3.numpy())
        g = _x(x.shape, 1)
        y1.backward(fastnn.tensor(g))
    keep = y1.detach().numpy() != 0
    np.testing.assert_array_equal(a.grad.numpy(), np.where(keep, g * np.float32(1 / 0.75), 0))
    # channel dropout: one draw per (N, C), shared over the spatial dims
    with backends.use(backend):
        z = F.dropout2d(fastnn.tensor(np.ones((6, 40, 3, 3), np.float32)), 0.5).numpy()
    assert ((z == 0).all(axis=(2, 3)) | (z == 2).all(axis=(2, 3))).all()


def test_dropout_same_mask_on_every_backend():
    x = _x((7, 129))
    outs = []
    for b in BACKENDS:
        with backends.use(b):
            fastnn.manual_seed(11)
            outs.append(F.dropout(fastnn.tensor(x), 0.4).numpy())
    for o in outs[1:]:
        np.testing.assert_array_equal(o, outs[0])


# -------------------------------------------------------------------------------- embedding
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("padding_idx", [None, 3])
@pytest.mark.parametrize("freq", [False, True])
@pytest.mark.parametrize("dim", [1, 5, 64, 67])
def test_embedding_backward_vs_torch(backend, padding_idx, freq, dim):
    rng = np.random.default_rng(0)
    idx = rng.integers(0, 11, (7, 13))  # 91 lookups of 11 rows: many repeats
    idx[0, :4] = 3
    w = rng.standard_normal((11, dim)).astype(np.float32)
    g = rng.standard_normal((7, 13, dim)).astype(np.float32)
    with backends.use(backend):
        fw = fastnn.tensor(w, requires_grad=True)
        F.embedding(fastnn.tensor(idx), fw, padding_idx=padding_idx,
                    scale_grad_by_freq=freq).backward(fastnn.tensor(g))
    tw = torch.tensor(w, requires_grad=True)
    torch.nn.functional.embedding(torch.tensor(idx), tw, padding_idx=padding_idx,
                                  scale_grad_by_freq=freq).backward(torch.tensor(g))
    np.testing.assert_allclose(fw.grad.numpy(), tw.grad.numpy(), rtol=1e-5, atol=1e-5)
    # float64 reference: the same sums in float64
    ref = np.zeros((11, dim))
    counts = np.bincount(idx.reshape(-1), minlength=11)
    for i, r in enumerate(idx.reshape(-1)):
        if r != padding_idx:
            ref[r] += g.reshape(-1, dim)[i] / (counts[r] if freq else 1)
    np.testing.assert_allclose(fw.grad.numpy(), ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
def test_embedding_max_norm_like_torch(backend):
    rng = np.random.default_rng(4)
    idx = np.array([[1, 4, 1], [0, 4, 2]])
    w = (rng.standard_normal((6, 5)) * 2).astype(np.float32)
    g = rng.standard_normal((2, 3, 5)).astype(np.float32)
    with backends.use(backend):
        fw = fastnn.tensor(w.copy(), requires_grad=True)
        y = F.embedding(fastnn.tensor(idx), fw, max_norm=1.5, padding_idx=0)
        y.backward(fastnn.tensor(g))
    tw = torch.tensor(w.copy(), requires_grad=True)
    ty = torch.nn.functional.embedding(torch.tensor(idx), tw, max_norm=1.5, padding_idx=0)
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fw.detach().numpy(), tw.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fw.grad.numpy(), tw.grad.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
def test_embedding_backward_edges(backend):
    g = np.ones((0, 4), np.float32)
    out = S.embedding_backward(g, np.zeros(0, np.int64), 6, backend=backend)
    assert out.shape == (6, 4) and not out.any()
    g = _x((3, 2, 4))[:, :, ::2]  # non-contiguous rows
    out = S.embedding_backward(g, np.array([[0, 5], [5, 5], [1, 0]], np.int32), 6,
                               backend=backend)
    np.testing.assert_allclose(out[5], g[0, 1] + g[1, 0] + g[1, 1], rtol=1e-6)
    with pytest.raises(IndexError, match="indices"):
        S.embedding_backward(np.ones((2, 3), np.float32), np.array([0, 6]), 6, backend=backend)


# ---------------------------------------------------------------------------- bad arguments
def test_ops_reject_bad_arguments():
    x = _x((3, 4))
    with pytest.raises(ValueError, match="backend"):
        S.softmax(x, backend="numba")
    with pytest.raises(IndexError, match="dim"):
        S.softmax(x, 2)
    with pytest.raises(ValueError, match="grad"):
        S.softmax_backward(x, x[:2])
    with pytest.raises(TypeError, match="target"):
        S.cross_entropy_forward(x, np.zeros(3, np.float32))
    with pytest.raises(ValueError, match="target"):
        S.cross_entropy_forward(x, np.zeros(2, np.int64))
    for b in BACKENDS:
        with pytest.raises(IndexError, match="out of bounds"):
            S.cross_entropy_forward(x, np.array([0, 4, 1]), backend=b)
    with pytest.raises(ValueError, match="p"):
        S.dropout_forward(x, -0.1)


@need_cpp
def test_cpp_backend_and_direct_calls_raise_clearly():
    C = cpp._C
    x = _x((3, 4))
    with pytest.raises(TypeError, match="float32"):
        S.softmax(x.astype(np.float64), backend="cpp")
    with pytest.raises(TypeError, match="x: expected a float32"):
        C.softmax_forward(x.astype(np.float64))
    with pytest.raises(ValueError, match="x: expected 2-D"):
        C.softmax_forward(x.reshape(-1))
    with pytest.raises(ValueError, match="C-contiguous"):
        C.softmax_forward(x.T)
    with pytest.raises(ValueError, match="grad"):
        C.softmax_backward(x, x[:2].copy())
    with pytest.raises(TypeError, match="target: expected an int64"):
        C.cross_entropy_forward(x, np.zeros(3, np.int32), -100, 0.0)
    with pytest.raises(ValueError, match="target"):
        C.cross_entropy_forward(x, np.zeros(4, np.int64), -100, 0.0)
    with pytest.raises(IndexError, match="Target 7"):
        C.cross_entropy_forward(x, np.array([0, 7, 1]), -100, 0.0)
    with pytest.raises(ValueError, match="label_smoothing"):
        C.cross_entropy_forward(x, np.zeros(3, np.int64), -100, 1.5)
    with pytest.raises(ValueError, match="lse"):
        C.cross_entropy_backward(x, np.zeros(3, np.int64), np.zeros(2, np.float32),
                                 np.zeros(3, np.float32), -100, 0.0)
    with pytest.raises(ValueError, match="threshold"):
        C.dropout_forward(x.reshape(-1), 1, 1 << 25, 1.0)
    with pytest.raises(TypeError, match="mask: expected a uint8"):
        C.dropout_backward(x.reshape(-1), np.ones(12, np.float32), 1.0)
    with pytest.raises(ValueError, match="mask"):
        C.dropout_backward(x.reshape(-1), np.ones(11, np.uint8), 1.0)
    with pytest.raises(IndexError, match="indices"):
        C.embedding_backward(x, np.array([0, 1, -1]), 5, -1, False)
    with pytest.raises(TypeError):
        C.embedding_backward(x, [0, 1, 2], 5, -1, False)
