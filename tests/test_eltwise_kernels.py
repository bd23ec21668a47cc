"""The C++ GELU and LayerNorm kernels (csrc/eltwise.cpp via fastnn.ops.eltwise): against a
float64 reference (ulp-level for GELU, tails included) and against torch forward and backward,
through GELUFunction / LayerNormFunction and by direct calls; zero-size, odd and prime shapes,
non-contiguous input, NaN/Inf, bad arguments."""

import math

import numpy as np
import pytest

import fastnn
import fastnn.nn.functional as F
from fastnn import backends
from fastnn.ops import eltwise

torch = pytest.importorskip("torch")


def _lib():
    lib = eltwise.lib_for(np.zeros(1, np.float32))
    if lib is None:
        pytest.skip("the cpp backend is not the one selected for float32 here")
    return lib


_erfc = np.frompyfunc(math.erfc, 1, 1)
SQ2 = math.sqrt(2.0)
K = math.sqrt(2.0 / math.pi)
TINY = float(np.finfo(np.float32).tiny)  # below it, float32 spacing is absolute (denormals)
ULP = 2.0**-23


def gelu_ref(x, approximate):
    """float64 GELU and its derivative, accurate in both tails."""
    x = np.asarray(x, np.float64)
    if approximate == "tanh":
        w = 2 * K * (x + 0.044715 * x**3)
        with np.errstate(over="ignore"):
            e = np.exp(-np.abs(w))
        sig = np.where(w >= 0, 1 / (1 + e), e / (1 + e))
        dw = 2 * K * (1 + 3 * 0.044715 * x * x)
        y = x * sig
        d = sig + x * dw * e / (1 + e) ** 2
        return y, d, np.abs(sig) + np.abs(x * dw * e / (1 + e) ** 2)
    cdf = 0.5 * _erfc(-x / SQ2).astype(np.float64)
    pdf = np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
    return x * cdf, cdf + x * pdf, cdf + np.abs(x * pdf)


def ulp_err(got, ref, scale=None):
    """|got - ref| in float32 ulps of |ref| (or of ``scale``, the size of the terms summed),
    with denormal spacing as the floor."""
    scale = np.abs(ref) if scale is None else scale
    unit = np.maximum(scale, TINY) * ULP
    return np.abs(got.astype(np.float64) - ref) / unit


def grid():
    # every float32 in dense bands plus the tails down to where x * Phi(x) underflows
    parts = [np.linspace(-15, 12, 400_001), np.linspace(-1, 1, 100_001),
             -np.logspace(-30, 1.2, 20_001), np.logspace(-30, 1.2, 20_001), [0.0, -0.0]]
    return np.concatenate(parts).astype(np.float32)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_ulp_accuracy_vs_float64_and_torch(approximate):
    lib = _lib()
    x = grid()
    y = lib.gelu_forward(x, approximate)
    d = lib.gelu_backward(np.ones_like(x), x, approximate)
    yr, dr, dscale = gelu_ref(x, approximate)
    xt = torch.from_numpy(x).requires_grad_()
    yt = torch.nn.functional.gelu(xt, approximate=approximate)
    yt.backward(torch.ones_like(yt))
    ours_y, torch_y = ulp_err(y, yr), ulp_err(yt.detach().numpy(), yr)
    ours_d = ulp_err(d, dr, dscale)
    torch_d = ulp_err(xt.grad.numpy(), dr, dscale)
    # a few ulps everywhere, tails included (torch's own float32 error there is 2^23 ulps: it
    # returns 0 for x Phi(x) below x ~ -5.9); the derivative relative to the size of the terms
    # it sums (Phi(x) + x phi(x) cancels near x = -0.75, like any float evaluation)
    assert ours_y.max() <= 4, (x[ours_y.argmax()], ours_y.max(), torch_y.max())
    assert ours_d.max() <= 8, (x[ours_d.argmax()], ours_d.max(), torch_d.max())
    assert ours_y.max() <= torch_y.max() and ours_d.max() <= max(torch_d.max(), 8)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
@pytest.mark.parametrize("shape", [(), (0,), (3, 0, 2), (1,), (7, 13), (17,), (2, 3, 5, 7)])
def test_gelu_function_vs_torch(shape, approximate):
    _lib()
    rng = np.random.default_rng(sum(shape) + 1)
    x = (rng.standard_normal(shape) * 3).astype(np.float32)
    g = rng.standard_normal(shape).astype(np.float32)
    xf = fastnn.tensor(x, requires_grad=True)
    yf = F.gelu(xf, approximate=approximate)
    yf.backward(fastnn.tensor(g))
    xt = torch.tensor(x, requires_grad=True)
    yt = torch.nn.functional.gelu(xt, approximate=approximate)
    yt.backward(torch.tensor(g))
    assert yf.shape == tuple(yt.shape) and xf.grad.shape == tuple(xt.grad.shape)
    # torch's float32 1 + erf(x / sqrt 2) (or 1 + tanh) carries an absolute error ~|x| 2^-24
    np.testing.assert_allclose(yf.detach().numpy(), yt.detach().numpy(), rtol=2e-6, atol=2e-6)
    np.testing.assert_allclose(xf.grad.numpy(), xt.grad.numpy(), rtol=2e-6, atol=4e-6)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_non_contiguous_and_reference_path(approximate):
    lib = _lib()
    rng = np.random.default_rng(3)
    base = (rng.standard_normal((11, 18)) * 4).astype(np.float32)
    for x in (base.T, base[:, ::3], base[::2]):
        want = lib.gelu_forward(np.ascontiguousarray(x), approximate)
        np.testing.assert_array_equal(eltwise.gelu_forward(x, approximate), want)
        g = np.ones_like(x)
        np.testing.assert_array_equal(eltwise.gelu_backward(g, x, approximate),
                                      lib.gelu_backward(np.ascontiguousarray(g),
                                                        np.ascontiguousarray(x), approximate))
        xf = fastnn.tensor(base, requires_grad=True)
        view = xf.t() if x is base.T else (xf[:, ::3] if x.shape[1] == 6 else xf[::2])
        F.gelu(view, approximate=approximate).sum().backward()
        # the NumPy path (the reference) agrees with the kernel through the Function
        with backends.use("reference"):
            xr = fastnn.tensor(base, requires_grad=True)
            vr = xr.t() if x is base.T else (xr[:, ::3] if x.shape[1] == 6 else xr[::2])
            yr = F.gelu(vr, approximate=approximate)
            yr.sum().backward()
        # the NumPy path's 1 + tanh cancels: absolute error ~|x| 2^-24 in the negative tail
        np.testing.assert_allclose(F.gelu(view, approximate=approximate).detach().numpy(),
                                   yr.detach().numpy(), rtol=1e-6, atol=2e-6)
        np.testing.assert_allclose(xf.grad.numpy(), xr.grad.numpy(), rtol=1e-5, atol=4e-6)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_nan_inf_like_torch(approximate):
    lib = _lib()
    x = np.array([np.nan, np.inf, -np.inf, -20, 20, -0.0, 0.0, 1e30, -1e30, 1e-40],
                 np.float32)
    xt = torch.tensor(x, requires_grad=True)
    yt = torch.nn.functional.gelu(xt, approximate=approximate)
    yt.backward(torch.ones_like(yt))
    np.testing.assert_array_equal(lib.gelu_forward(x, approximate), yt.detach().numpy())
    want = xt.grad.numpy()
    if approximate == "tanh":  # torch: NaN from x^3 overflowing; the derivative there is 1 / 0
        want[7:9] = [1, 0]
    np.testing.assert_array_equal(lib.gelu_backward(np.ones_like(x), x, approximate), want)


def test_gelu_gradcheck_float64_path():
    x = fastnn.tensor(np.random.default_rng(0).standard_normal((3, 5)) * 2, requires_grad=True)
    for approximate in ("none", "tanh"):
        assert fastnn.autograd.gradcheck(lambda t, a=approximate: F.gelu(t, approximate=a), (x,))


# ----------------------------------------------------------------------------------- LayerNorm


def layer_norm_ref(x, w, b, k, eps, g):
    """float64 forward and gradients (dx, dw, db) over the trailing k dims."""
    x, g = x.astype(np.float64), g.astype(np.float64)
    axes = tuple(range(x.ndim - k, x.ndim))
    mean = x.mean(axis=axes, keepdims=True)
    rstd = 1 / np.sqrt(((x - mean) ** 2).mean(axis=axes, keepdims=True) + eps)
    xhat = (x - mean) * rstd
    w64 = np.ones(x.shape[x.ndim - k:]) if w is None else w.astype(np.float64)
    y = xhat * w64 + (0 if b is None else b.astype(np.float64))
    gw = g * w64
    dx = rstd * (gw - gw.mean(axis=axes, keepdims=True)
                 - xhat * (gw * xhat).mean(axis=axes, keepdims=True))
    lead = tuple(range(x.ndim - k))
    return y, dx, (g * xhat).sum(axis=lead), g.sum(axis=lead)


LN_CASES = [((768, 128), 1), ((5, 7), 1), ((3, 4, 13), 2), ((0, 8), 1), ((6, 1), 1),
            ((2, 3, 97), 1), ((1, 31), 1)]


@pytest.mark.parametrize("affine", [(True, True), (True, False), (False, True), (False, False)])
@pytest.mark.parametrize("shape,k", LN_CASES)
def test_layer_norm_vs_float64_and_torch(shape, k, affine):
    _lib()
    rng = np.random.default_rng(sum(shape) + k)
    x = (rng.standard_normal(shape) * 2 + 3).astype(np.float32)
    g = rng.standard_normal(shape).astype(np.float32)
    ns = shape[len(shape) - k:]
    w = (1 + 0.5 * rng.standard_normal(ns)).astype(np.float32) if affine[0] else None
    b = rng.standard_normal(ns).astype(np.float32) if affine[1] else None
    eps = 1e-5
    tens = [None if a is None else fastnn.tensor(a, requires_grad=True) for a in (x, w, b)]
    y = F.layer_norm(tens[0], ns, tens[1], tens[2], eps)
    y.backward(fastnn.tensor(g))
    tt = [None if a is None else torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    yt = torch.nn.functional.layer_norm(tt[0], ns, tt[1], tt[2], eps)
    yt.backward(torch.tensor(g))
    yr, dxr, dwr, dbr = layer_norm_ref(x, w, b, k, eps, g)
    n = int(np.prod(ns))
    # float32 sums over n (rows) elements: errors grow like sqrt(n) ulps of the summands
    tol = dict(rtol=1e-5, atol=1e-5 * math.sqrt(max(n, shape[0] if shape else 1)))
    # dx carries the factor rstd (1/sqrt(eps) ~ 316 for one-element rows) and so does its error
    dtol = dict(rtol=1e-5, atol=tol["atol"] * max(1.0, 1 / math.sqrt(eps) if n == 1 else 1.0))
    np.testing.assert_allclose(y.detach().numpy(), yr, **tol)
    np.testing.assert_allclose(y.detach().numpy(), yt.detach().numpy(), **tol)
    np.testing.assert_allclose(tens[0].grad.numpy(), dxr, **dtol)
    np.testing.assert_allclose(tens[0].grad.numpy(), tt[0].grad.numpy(), **dtol)
    if w is not None:
        np.testing.assert_allclose(tens[1].grad.numpy(), dwr, **tol)
        np.testing.assert_allclose(tens[1].grad.numpy(), tt[1].grad.numpy(), **tol)
    if b is not None:
        np.testing.assert_allclose(tens[2].grad.numpy(), dbr, **tol)
        np.testing.assert_allclose(tens[2].grad.numpy(), tt[2].grad.numpy(), **tol)


def test_layer_norm_module_affine_on_off_and_large_mean():
    _lib()
    rng = np.random.default_rng(7)
    # a large offset: a one-pass E[x^2] - E[x]^2 in float32 would lose the variance entirely
    x = (1e4 + rng.standard_normal((9, 37))).astype(np.float32)
    for affine in (True, False):
        m = fastnn.nn.LayerNorm(37, elementwise_affine=affine)
        mt = torch.nn.LayerNorm(37, elementwise_affine=affine)
        xf = fastnn.tensor(x, requires_grad=True)
        xt = torch.tensor(x, requires_grad=True)
        (m(xf) ** 2).sum().backward()
        (mt(xt) ** 2).sum().backward()
        yr = layer_norm_ref(x, None, None, 1, 1e-5, np.zeros_like(x))[0]
        np.testing.assert_allclose(m(xf).detach().numpy(), yr, rtol=1e-3, atol=2e-3)
        np.testing.assert_allclose(xf.grad.numpy(), xt.grad.numpy(), rtol=1e-3, atol=1e-2)
        if affine:
            np.testing.assert_allclose(m.weight.grad.numpy(), mt.weight.grad.numpy(),
                                       rtol=1e-3, atol=1e-2)


def test_layer_norm_non_contiguous_nan_inf():
    lib = _lib()
    rng = np.random.default_rng(5)
    base = rng.standard_normal((12, 10)).astype(np.float32)
    x = base.T  # (10, 12), non-contiguous
    w = rng.standard_normal(12).astype(np.float32)
    y, mean, rstd = eltwise.layer_norm_forward(x, w, None, 12, 1e-5)
    y2, _, _ = lib.layer_norm_forward(np.ascontiguousarray(x), w, None, 1e-5)
    np.testing.assert_array_equal(y, y2)
    x = np.ascontiguousarray(x)
    x[2, 3], x[5, 0] = np.nan, np.inf
    y, mean, rstd = lib.layer_norm_forward(x, w, None, 1e-5)
    yt = torch.nn.functional.layer_norm(torch.tensor(x), (12,), torch.tensor(w), None, 1e-5)
    np.testing.assert_allclose(y, yt.numpy(), rtol=1e-5, atol=1e-5)  # NaN where torch has NaN
    assert np.isnan(y[[2, 5]]).all() and np.isfinite(np.delete(y, [2, 5], 0)).all()
    g = np.ones_like(x)
    dx, dw, db = lib.layer_norm_backward(g, x, mean, rstd, w, True, True, True)
    assert np.isnan(dx[2]).all() and np.isfinite(np.delete(dx, [2, 5], 0)).all()
    assert np.isnan(dw).all() and np.isfinite(db).all()


def test_layer_norm_gradcheck_float64_path():
    rng = np.random.default_rng(1)
    x = fastnn.tensor(rng.standard_normal((3, 5)), requires_grad=True)
    w = fastnn.tensor(rng.standard_normal(5), requires_grad=True)
    b = fastnn.tensor(rng.standard_normal(5), requires_grad=True)
    assert fastnn.autograd.gradcheck(lambda *t: F.layer_norm(t[0], (5,), t[1], t[2]), (x, w, b))


def test_layer_norm_backward_matches_reference_backward():
    """The cpp backward against the NumPy backward of the same Function (float32 both)."""
    _lib()
    rng = np.random.default_rng(9)
    x = rng.standard_normal((33, 29)).astype(np.float32)
    w = rng.standard_normal(29).astype(np.float32)
    grads = []
    for name in ("cpp", "reference"):
        with backends.use(name):
            xf = fastnn.tensor(x, requires_grad=True)
            wf = fastnn.tensor(w, requires_grad=True)
            F.layer_norm(xf, (29,), wf, None).sin().sum().backward()
            grads.append((xf.grad.numpy(), wf.grad.numpy()))
    np.testing.assert_allclose(grads[0][0], grads[1][0], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(grads[0][1], grads[1][1], rtol=1e-4, atol=1e-5)


# --------------------------------------------------------------------------------- bad input


def test_direct_calls_reject_bad_arguments():
    lib = _lib()
    x = np.ones((4, 6), np.float32)
    with pytest.raises(TypeError, match="x: expected a float32"):
        lib.gelu_forward(x.astype(np.float64))
    with pytest.raises(ValueError, match="x: expected a C-contiguous"):
        lib.gelu_forward(x.T)
    with pytest.raises(ValueError, match="approximate"):
        lib.gelu_forward(x, "fast")
    with pytest.raises(ValueError, match="grad: expected the shape of x"):
        lib.gelu_backward(np.ones((4, 5), np.float32), x)
    with pytest.raises(TypeError, match="grad: expected a float32"):
        lib.gelu_backward(x.astype(np.float16), x)
    with pytest.raises(ValueError, match="x: expected 2-D"):
        lib.layer_norm_forward(np.ones(6, np.float32), None, None, 1e-5)
    with pytest.raises(ValueError, match="weight: expected size 6"):
        lib.layer_norm_forward(x, np.ones(5, np.float32), None, 1e-5)
    with pytest.raises(TypeError, match="bias: expected a float32 array or None"):
        lib.layer_norm_forward(x, None, 1.5, 1e-5)
    _, mean, rstd = lib.layer_norm_forward(x, None, None, 1e-5)
    with pytest.raises(ValueError, match="mean: expected size 4"):
        lib.layer_norm_backward(x, x, mean[:3], rstd, None, True, False, False)
    with pytest.raises(ValueError, match="grad: expected size 6"):
        lib.layer_norm_backward(np.ones((4, 5), np.float32), x, mean, rstd, None, True, True,
                                True)
    with pytest.raises(ValueError, match="x: expected trailing dims of 5"):
        eltwise.layer_norm_forward(x, None, None, 5, 1e-5)
    with pytest.raises(ValueError, match="approximate"):
        eltwise.gelu_forward(x, "erf")
    with pytest.raises(TypeError, match="float32"):
        eltwise.gelu_forward(x.astype(np.float64))


def test_layer_norm_parallel_rows_match_one_thread():
    """Above 1M elements the rows run in an OpenMP region with per-thread dgamma/dbeta partials."""
    _lib()
    rng = np.random.default_rng(11)
    x = rng.standard_normal((1031, 1024)).astype(np.float32)
    g = rng.standard_normal(x.shape).astype(np.float32)
    w, b = (rng.standard_normal(1024).astype(np.float32) for _ in range(2))
    before = fastnn.get_num_threads()
    out = []
    try:
        for n in (1, 2):
            fastnn.set_num_threads(n)
            y, mean, rstd = eltwise.layer_norm_forward(x, w, b, 1024, 1e-5)
            out.append((y, *eltwise.layer_norm_backward(g, x, mean, rstd, w, 1024)))
    finally:
        fastnn.set_num_threads(before)
    yr, dxr, dwr, dbr = layer_norm_ref(x, w, b, 1, 1e-5, g)
    for got in out:
        for a, r in zip(got, (yr, dxr, dwr, dbr)):
            np.testing.assert_allclose(a, r, rtol=1e-4, atol=1e-3)  # sums over 1031 rows
    np.testing.assert_array_equal(out[0][1], out[1][1])  # rows are independent: same dx


@pytest.mark.parametrize("eps", [-0.05, 0.0])
def test_layer_norm_takes_any_eps_as_torch(eps):
    """torch does not range-check eps (its OpInfo samples pass eps=-0.5): neither do we."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((5, 7)).astype(np.float32)
    with fastnn.backends.use("cpp"):
        y = fastnn.nn.functional.layer_norm(fastnn.tensor(x), (7,), eps=eps)
    yt = torch.nn.functional.layer_norm(torch.tensor(x), (7,), eps=eps)
    np.testing.assert_allclose(y.numpy(), yt.numpy(), rtol=1e-4, atol=1e-4)
