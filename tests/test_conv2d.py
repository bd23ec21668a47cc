"""conv2d kernels (forward with bias/ReLU, backward_input, backward_weight+bias) on every backend
against the float64 reference and against torch.nn.functional.conv2d; padding forms, zero-size
batch, non-contiguous input, bad input."""

import numpy as np
import pytest

from fastnn import backends, ops

from .conftest import AVAILABLE, require_native

torch = pytest.importorskip("torch")
hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

# A sample of the grid (batch 1/3; channels 1/3/5/16; kernel 1/3/5/(3,1); stride 1/2/3;
# padding 0/1/2/"same"; dilation 1/2; groups 1/2/depthwise; spatial 7/13/24): every value of every
# axis appears, in combinations that exercise tile edges (odd/prime sizes, partial tiles).
# (N, C, H, W), (OC, KH, KW), stride, padding, dilation, groups
GRID = [
    ((1, 1, 7, 7), (1, 3, 3), 1, 1, 1, 1),
    ((3, 3, 13, 13), (5, 5, 5), 2, 2, 1, 1),
    ((1, 5, 24, 24), (16, 3, 1), 3, 0, 2, 1),
    ((3, 16, 7, 13), (16, 1, 1), 1, 0, 1, 1),
    ((1, 16, 13, 7), (16, 3, 3), 1, "same", 2, 16),   # depthwise, dilated "same"
    ((3, 16, 24, 24), (32, 3, 3), 2, 1, 1, 2),
    ((1, 3, 13, 24), (3, 5, 5), 1, "same", 1, 3),     # depthwise 5x5
    ((3, 5, 7, 7), (5, 3, 1), 2, (1, 0), 1, 5),
    ((1, 16, 24, 24), (16, 5, 5), 3, 2, 2, 2),
    ((3, 1, 24, 13), (5, 3, 3), 1, "valid", 1, 1),
    ((1, 16, 7, 7), (3, 1, 1), 2, 1, 1, 1),
    ((3, 16, 13, 13), (16, 3, 3), (1, 2), (2, 1), (2, 1), 2),
]
# The CUDA simulator runs every thread in Python: tiny shapes only.
CUDA_GRID = [
    ((1, 3, 7, 7), (4, 3, 3), 2, 1, 1, 1),
    ((2, 4, 5, 6), (4, 3, 1), 1, "same", 2, 4),
]


def _ids(cases):
    return ["x{}-w{}-s{}-p{}-d{}-g{}".format(*c).replace(" ", "") for c in cases]


def _run_all(backend, x, w, b, g, stride, padding, dilation, groups):
    kw = dict(stride=stride, padding=padding, dilation=dilation, groups=groups, backend=backend)
    y = ops.conv2d(x, w, b, **kw)
    yr = ops.conv2d(x, w, b, activation="relu", **kw)
    gx = ops.conv2d_backward_input(g, w, x.shape, **kw)
    gw, gb = ops.conv2d_backward_weight(x, g, w.shape, need_bias=True, **kw)
    return y, yr, gx, gw, gb


def _case(rng, xs, wspec, groups):
    n, c, h, wd = xs
    oc, kh, kw = wspec
    x = rng.standard_normal(xs)
    w = rng.standard_normal((oc, c // groups, kh, kw))
    b = rng.standard_normal(oc)
    return x, w, b


def _torch_all(x, w, b, g, stride, padding, dilation, groups):
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    y = torch.nn.functional.conv2d(xt, wt, bt, stride, padding, dilation, groups)
    y.backward(torch.tensor(g))
    return y.detach().numpy(), xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy()


def _close(got, want, dtype, what):
    assert got.dtype == dtype, f"{what}: dtype {got.dtype}, expected {dtype}"
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    scale = max(float(np.abs(want).max(initial=0.0)), 1.0)
    err = float(np.abs(got.astype(np.float64) - want).max(initial=0.0))
    # float32: each output sums up to a few hundred products, so its error is a few ulps of the
    # result's scale; 2e-5 relative leaves an order of magnitude of headroom.
    limit = (2e-5 if dtype == np.float32 else 1e-12) * scale
    assert err <= limit, f"{what}: max error {err:.3g} > {limit:.3g}"


def _dtypes(backend):
    return [np.dtype(d) for d in backends.get_backend(backend).DTYPES]


def _check_case(backend, case, seed=0):
    xs, wspec, stride, padding, dilation, groups = case
    rng = np.random.default_rng(seed)
    x, w, b = _case(rng, xs, wspec, groups)
    kw = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    y64, yr64, gx64, gw64, gb64 = None, None, None, None, None
    y64 = ops.conv2d(x, w, b, backend="reference", **kw)
    g = rng.standard_normal(y64.shape)
    _, yr64, gx64, gw64, gb64 = _run_all("reference", x, w, b, g, **kw)
    for dt in _dtypes(backend):
        got = _run_all(backend, *(a.astype(dt) for a in (x, w, b, g)), **kw)
        for name, a, r in zip(("y", "relu(y)", "grad_x", "grad_w", "grad_b"), got,
                              (y64, yr64, gx64, gw64, gb64)):
            _close(a, r, dt, f"{backend} {dt} {name}")
    return x, w, b, g, (y64, gx64, gw64, gb64)


@pytest.mark.parametrize("case", GRID, ids=_ids(GRID))
def test_conv2d_grid_vs_reference_and_torch(backend, case):
    if backend == "cuda":
        pytest.skip("cuda runs CUDA_GRID (simulator)")
    if backend != "reference":
        for k in backends.KERNEL_FAMILIES["conv2d"]:
            require_native(backend, k)
    x, w, b, g, ref = _check_case(backend, case)
    xs, wspec, stride, padding, dilation, groups = case
    want = _torch_all(x, w, b, g, stride, padding, dilation, groups)
    for name, r, t in zip(("y", "grad_x", "grad_w", "grad_b"), ref, want):
        _close(r, t, np.dtype(np.float64), f"reference vs torch {name}")
    if backend != "reference":  # the backend itself against PyTorch's float32 result
        dt = _dtypes(backend)[0]
        got = _run_all(backend, *(a.astype(dt) for a in (x, w, b, g)), stride, padding,
                       dilation, groups)
        for name, a, t in zip(("y", "grad_x", "grad_w", "grad_b"), (got[0], *got[2:]), want):
            _close(a, t, dt, f"{backend} vs torch {name}")


@pytest.mark.cuda
@pytest.mark.parametrize("case", CUDA_GRID, ids=_ids(CUDA_GRID))
def test_conv2d_cuda_small(case):
    if "cuda" not in AVAILABLE:
        pytest.skip("cuda backend unavailable")
    _check_case("cuda", case)


@settings(max_examples=12, deadline=None)
@given(
    n=st.integers(1, 3), cg=st.integers(1, 4), ocg=st.integers(1, 5), groups=st.integers(1, 3),
    h=st.integers(1, 12), w=st.integers(1, 12), kh=st.integers(1, 4), kw=st.integers(1, 4),
    sh=st.integers(1, 3), sw=st.integers(1, 3), ph=st.integers(0, 2), pw=st.integers(0, 2),
    dh=st.integers(1, 2), dw=st.integers(1, 2), seed=st.integers(0, 2**16),
)
def test_conv2d_random_geometry(n, cg, ocg, groups, h, w, kh, kw, sh, sw, ph, pw, dh, dw, seed):
    if dh * (kh - 1) + 1 > h + 2 * ph or dw * (kw - 1) + 1 > w + 2 * pw:
        return  # kernel larger than the padded input: covered by test_bad_input
    case = ((n, cg * groups, h, w), (ocg * groups, kh, kw), (sh, sw), (ph, pw), (dh, dw), groups)
    for name in AVAILABLE:
        if name in ("cuda", "reference"):
            continue
        _check_case(name, case, seed)


def test_conv2d_zero_size_batch(backend):
    rng = np.random.default_rng(0)
    for dt in _dtypes(backend):
        x = np.zeros((0, 3, 7, 7), dt)
        w = rng.standard_normal((4, 3, 3, 3)).astype(dt)
        y = ops.conv2d(x, w, np.ones(4, dt), padding=1, backend=backend)
        assert y.shape == (0, 4, 7, 7) and y.dtype == dt
        g = np.zeros((0, 4, 7, 7), dt)
        gx = ops.conv2d_backward_input(g, w, x.shape, padding=1, backend=backend)
        assert gx.shape == x.shape
        gw, gb = ops.conv2d_backward_weight(x, g, w.shape, padding=1, need_bias=True,
                                            backend=backend)
        assert gw.shape == w.shape and not gw.any() and gb.shape == (4,) and not gb.any()


def test_conv2d_non_contiguous_input(backend):
    rng = np.random.default_rng(3)
    dt = _dtypes(backend)[0]
    base = rng.standard_normal((2, 3, 9, 11)).astype(dt)
    x = base.transpose(0, 1, 3, 2)  # (2, 3, 11, 9), not C-contiguous
    w = rng.standard_normal((4, 3, 3, 3)).astype(dt)[:, :, ::-1, :]  # negative strides
    assert not x.flags.c_contiguous and not w.flags.c_contiguous
    y = ops.conv2d(x, w, stride=2, padding=1, backend=backend)
    want = ops.conv2d(np.ascontiguousarray(x, np.float64), np.ascontiguousarray(w, np.float64),
                      stride=2, padding=1, backend="reference")
    _close(y, want, dt, "non-contiguous forward")
    g = rng.standard_normal(y.shape).astype(dt)[..., ::-1]  # non-contiguous gradient
    gx = ops.conv2d_backward_input(g, w, x.shape, stride=2, padding=1, backend=backend)
    gx64 = ops.conv2d_backward_input(np.ascontiguousarray(g, np.float64),
                                     np.ascontiguousarray(w, np.float64), x.shape, stride=2,
                                     padding=1, backend="reference")
    _close(gx, gx64, dt, "non-contiguous backward_input")


def test_same_padding_asymmetric_matches_torch():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 3, 8, 7))
    w = rng.standard_normal((4, 3, 4, 2))  # even kernels: PyTorch pads one more at the end
    b = rng.standard_normal(4)
    g = rng.standard_normal((2, 4, 8, 7))
    want = _torch_all(x, w, b, g, 1, "same", 1, 1)
    y, _, gx, gw, gb = _run_all("reference", x, w, b, g, 1, "same", 1, 1)
    for name, a, t in zip(("y", "gx", "gw", "gb"), (y, gx, gw, gb), want):
        _close(a, t, np.dtype(np.float64), name)


def test_output_shape_helper():
    assert ops.conv2d_output_shape((2, 3, 24, 24), (8, 3, 3, 3), 2, 1) == (2, 8, 12, 12)
    assert ops.conv2d_output_shape((1, 4, 7, 9), (4, 2, 3, 3), 1, "same", 2, 2) == (1, 4, 7, 9)


@pytest.mark.parametrize("backend_name", [b for b in AVAILABLE if b != "cuda"])
def test_bad_input(backend_name):
    f32 = np.float32
    x = np.zeros((2, 4, 8, 8), f32)
    w = np.zeros((6, 4, 3, 3), f32)
    bad = [
        (ValueError, "channel mismatch", dict(x=x, w=np.zeros((6, 3, 3, 3), f32))),
        (ValueError, "does not divide", dict(x=x, w=np.zeros((6, 4, 3, 3), f32), groups=3)),
        (ValueError, "does not divide", dict(x=np.zeros((2, 6, 8, 8), f32),
                                             w=np.zeros((4, 2, 3, 3), f32), groups=3)),
        (ValueError, "larger than the padded input", dict(x=x, w=np.zeros((6, 4, 9, 3), f32))),
        (ValueError, "padding", dict(x=x, w=w, padding=-1)),
        (ValueError, "stride", dict(x=x, w=w, stride=0)),
        (ValueError, "dilation", dict(x=x, w=w, dilation=(1, 0))),
        (ValueError, "groups", dict(x=x, w=w, groups=0)),
        (ValueError, "4-D", dict(x=x[0], w=w)),
        (ValueError, "4-D", dict(x=x, w=w[0])),
        (ValueError, "'same'", dict(x=x, w=w, stride=2, padding="same")),
        (ValueError, "padding", dict(x=x, w=w, padding="full")),
        (ValueError, "bias", dict(x=x, w=w, bias=np.zeros(5, f32))),
        (ValueError, "activation", dict(x=x, w=w, activation="gelu")),
        (TypeError, "dtype", dict(x=x, w=w.astype(np.float64))),
        (TypeError, "float32 or float64", dict(x=x.astype(np.int32), w=w)),
        (TypeError, "stride", dict(x=x, w=w, stride=1.5)),
    ]
    for exc, msg, kw in bad:
        with pytest.raises(exc, match=msg):
            ops.conv2d(backend=backend_name, **kw)
    g = np.zeros((2, 6, 6, 6), f32)
    with pytest.raises(ValueError, match="grad_out"):
        ops.conv2d_backward_input(g, w, (2, 4, 9, 9), backend=backend_name)
    with pytest.raises(ValueError, match="grad_out"):
        ops.conv2d_backward_weight(x, g[:, :5], w.shape, backend=backend_name)
    with pytest.raises(ValueError, match="input_shape"):
        ops.conv2d_backward_input(g, w, (2, 4, 8), backend=backend_name)


def test_cpp_extension_rechecks_arguments():
    require_native("cpp", "conv2d_forward") if "cpp" in AVAILABLE else pytest.skip("no cpp")
    lib = backends.get_backend("cpp").lib()
    x = np.zeros((1, 2, 5, 5), np.float32)
    w = np.zeros((3, 2, 3, 3), np.float32)
    with pytest.raises(TypeError):
        lib.conv2d_forward(x.astype(np.float64), w, None, (1, 1), (0, 0), (1, 1), 1, None)
    with pytest.raises(ValueError):
        lib.conv2d_forward(x, w[:, :1], None, (1, 1), (0, 0), (1, 1), 1, None)
    with pytest.raises(ValueError):
        lib.conv2d_forward(x, w, None, (1, 1), (0, 0), (1, 1), 2, None)
    with pytest.raises(ValueError):
        lib.conv2d_forward(x, np.zeros((3, 2, 7, 3), np.float32), None, (1, 1), (0, 0), (1, 1),
                           1, None)
    with pytest.raises(ValueError):
        lib.conv2d_forward(x, w, np.zeros(2, np.float32), (1, 1), (0, 0), (1, 1), 1, None)
    with pytest.raises(ValueError):
        lib.conv2d_forward(x.transpose(0, 1, 3, 2), w, None, (1, 1), (0, 0), (1, 1), 1, None)
    with pytest.raises(ValueError):
        lib.conv2d_forward(x, w, None, (1, 1), (-1, 0), (1, 1), 1, None)
    with pytest.raises(TypeError):
        lib.conv2d_forward(x, w, None, 1, (0, 0), (1, 1), 1, None)
    with pytest.raises(ValueError):
        lib.conv2d_backward_input(np.zeros((1, 3, 2, 2), np.float32), w, (1, 2, 5, 5), (1, 1),
                                  (0, 0), (1, 1), 1)
    with pytest.raises(ValueError):
        lib.conv2d_backward_weight(x, np.zeros((1, 3, 3, 2), np.float32), (3, 2, 3, 3), (1, 1),
                                   (0, 0), (1, 1), 1, True)


# Shapes for the C++ blocking paths the grid's small channel counts never reach: several depth
# blocks and several weight-panel blocks (K = 576, OC = 200), panels straddling two images
# (P = 49) with several images per backward-weight item (N = 9), a per-image gather plan over
# several images (P = 64), stride-1 backward_input through the forward (C >= 32), an output of
# 4 MiB (non-temporal output stores), >= 4096 pixels (transposed backward_weight) with groups.
BLOCKING_CASES = [
    ((4, 3, 64, 64), (64, 3, 3), 1, 1, 1, 1),
    ((2, 8, 48, 48), (8, 3, 3), 1, 1, 1, 2),
    ((2, 64, 8, 8), (200, 3, 3), 1, 1, 1, 1),
    ((9, 40, 7, 7), (36, 3, 3), 1, 1, 1, 1),
    ((3, 32, 12, 12), (20, 3, 3), 1, 1, 1, 1),
    ((2, 64, 9, 9), (48, 3, 3), 1, 1, 1, 1),
    ((3, 16, 7, 13), (16, 1, 1), 1, 0, 1, 1),
]


# Stride 1 and 2 along W (the AVX2 stride-2 gather of version 3's forward, version 4's
# backward_weight) at the tutorial ResNet's layer shapes, shrunk, and odd/prime ones: rows that are
# not a multiple of 8 lanes, the flat 8x8 path, groups, dilation, 1x1 and 5x5 kernels.
STRIDE_CASES = [
    ((3, 16, 32, 32), (32, 3, 3), 2, 1, 1, 1),
    ((5, 3, 32, 32), (16, 3, 3), 1, 1, 1, 1),
    ((3, 32, 16, 16), (64, 3, 3), 2, 1, 1, 1),
    ((7, 64, 8, 8), (64, 3, 3), 1, 1, 1, 1),
    ((3, 5, 13, 11), (7, 3, 3), 2, 1, 1, 1),
    ((2, 6, 17, 19), (6, 5, 4), 2, 2, 2, 2),
    ((2, 4, 11, 23), (8, 3, 3), (1, 2), (0, 3), 1, 2),
    ((1, 3, 7, 7), (5, 1, 1), 2, 0, 1, 1),
    ((2, 16, 16, 16), (16, 3, 3), 1, 1, 2, 1),
    ((2, 8, 32, 33), (12, 3, 3), 1, 1, 1, 1),   # auto runs version 4 of backward_weight
]


@pytest.mark.parametrize("version,bwd_w", [("auto", "auto"), ("v1", "v1"), ("v3", "v4")])
def test_cpp_versions_agree(version, bwd_w):
    """Every registered version of the cpp conv2d kernels (fastnn.backends.use_version) must
    match the reference wherever it is used, including the ones auto does not pick."""
    if "cpp" not in AVAILABLE:
        pytest.skip("no cpp backend")
    assert set(backends.versions("cpp")) == {"conv2d_forward", "conv2d_backward_input",
                                             "conv2d_backward_weight"}
    with backends.use_version("cpp", "conv2d_forward", version), \
            backends.use_version("cpp", "conv2d_backward_input", version), \
            backends.use_version("cpp", "conv2d_backward_weight", bwd_w):
        for case in GRID[:6] + BLOCKING_CASES + STRIDE_CASES:
            _check_case("cpp", case)


@pytest.mark.parametrize("version", ["v1", "v4"])
def test_cpp_backward_weight_nonfinite_and_edges(version):
    """backward_weight versions: NaN/Inf in dy and x propagate exactly as in the float64
    reference (where an Inf dy meets a padding tap, dy * 0 is NaN there; torch/oneDNN skips
    padding and stays finite), finite elements match torch; zero-size batch; non-contiguous
    input."""
    if "cpp" not in AVAILABLE:
        pytest.skip("no cpp backend")
    rng = np.random.default_rng(3)
    for xs, (oc, kh, kw), s, p, d, gr in STRIDE_CASES[:6]:
        x = rng.standard_normal(xs).astype(np.float32)
        w = rng.standard_normal((oc, xs[1] // gr, kh, kw)).astype(np.float32)
        y = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), None, s, p, d, gr)
        g = rng.standard_normal(tuple(y.shape)).astype(np.float32)
        g[0, 0, 0, 0] = np.inf            # a corner: its taps meet the padding
        g[-1, -1, -1, -1] = np.nan
        x[0, -1, xs[2] // 2, xs[3] // 2] = -np.inf
        want = torch.nn.grad.conv2d_weight(torch.tensor(x), w.shape, torch.tensor(g), s, p, d,
                                           gr).numpy()
        ref, _ = ops.conv2d_backward_weight(x.astype(np.float64), g.astype(np.float64), w.shape,
                                            stride=s, padding=p, dilation=d, groups=gr,
                                            backend="reference")
        with backends.use_version("cpp", "conv2d_backward_weight", version):
            got, _ = ops.conv2d_backward_weight(x, g, w.shape, stride=s, padding=p, dilation=d,
                                                groups=gr, backend="cpp")
        np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
        np.testing.assert_array_equal(np.isinf(got), np.isinf(ref))
        assert np.isnan(got).any()
        fin = np.isfinite(ref)
        np.testing.assert_allclose(got[fin], ref[fin], rtol=1e-4, atol=1e-3)
        np.testing.assert_allclose(got[fin], want[fin], rtol=1e-4, atol=1e-3)
    with backends.use_version("cpp", "conv2d_backward_weight", version):
        x = np.zeros((0, 16, 8, 8), np.float32)
        gw, gb = ops.conv2d_backward_weight(x, np.zeros((0, 16, 4, 4), np.float32),
                                            (16, 16, 3, 3), stride=2, padding=1,
                                            need_bias=True, backend="cpp")
        assert gw.shape == (16, 16, 3, 3) and not gw.any() and not gb.any()
        # non-contiguous x and dy (every other column) against the contiguous copies
        xb = rng.standard_normal((2, 8, 16, 32)).astype(np.float32)[..., ::2]
        gbig = rng.standard_normal((2, 8, 8, 16)).astype(np.float32)[..., ::2]
        got, _ = ops.conv2d_backward_weight(xb, gbig, (8, 8, 3, 3), stride=2, padding=1,
                                            backend="cpp")
        want, _ = ops.conv2d_backward_weight(np.ascontiguousarray(xb), np.ascontiguousarray(gbig),
                                             (8, 8, 3, 3), stride=2, padding=1,
                                             backend="reference")
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_unknown_version_raises():
    if "cpp" not in AVAILABLE:
        pytest.skip("no cpp backend")
    with pytest.raises(ValueError, match="no version 'v2'"):
        with backends.use_version("cpp", "conv2d_forward", "v2"):
            pass
    with pytest.raises(ValueError, match="registered: none"):
        with backends.use_version("cpp", "gemm", "v1"):
            pass
    with pytest.raises(ValueError, match="kernel"):
        with backends.use_version("cpp", "conv3d", "v1"):
            pass
    # a version applies to its backend only; the call really runs it (v1 and v3 round apart)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 64, 9, 9)).astype(np.float32)
    w = rng.standard_normal((48, 64, 3, 3)).astype(np.float32)
    with backends.use_version("cpp", "conv2d_forward", "v1"):
        v1 = ops.conv2d(x, w, padding=1, backend="cpp")
        ref = ops.conv2d(x, w, padding=1, backend="reference")
    with backends.use_version("cpp", "conv2d_forward", "v3"):
        v3 = ops.conv2d(x, w, padding=1, backend="cpp")
    assert not np.array_equal(v1, v3)
    np.testing.assert_allclose(v1, ref, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(v3, ref, rtol=1e-4, atol=1e-3)


# ------------------------------------------- the spec's grid, every backend and version; gradcheck

from fastnn.bench.specs import conv2d as spec  # noqa: E402
from fastnn.functions.conv2d import Conv2dFunction  # noqa: E402

from .conftest import F64_BACKENDS, check_kernel_case, gradcheck_function, kernel_params  # noqa: E402,I001


@pytest.mark.parametrize("backend,version,dtype,case", kernel_params(spec.test_cases()))
def test_conv2d_kernel_spec(backend, version, dtype, case):
    check_kernel_case(backend, version, dtype, case)


# x, w, bias shapes; stride, padding, dilation, groups, activation
GRADCHECK = [
    ((1, 3, 5, 5), (4, 3, 3, 3), (4,), 1, 1, 1, 1, None),
    ((2, 4, 6, 5), (6, 2, 3, 2), (6,), (2, 1), (1, 2), (1, 2), 2, None),
    ((1, 3, 6, 6), (3, 1, 3, 3), None, 1, "same", 2, 3, None),  # depthwise, dilated "same"
    ((2, 3, 5, 4), (4, 3, 2, 2), (4,), 2, 0, 1, 1, "relu"),  # fused ReLU
    ((3, 5, 5), (2, 3, 3, 1), (2,), 1, (0, 1), 1, 1, None),  # unbatched (C, H, W)
]


@pytest.mark.parametrize("backend", F64_BACKENDS)
@pytest.mark.parametrize("case", GRADCHECK, ids=[f"case{i}" for i in range(len(GRADCHECK))])
def test_conv2d_function_gradcheck(backend, case):
    xs, ws, bs, *geo = case
    gradcheck_function(
        backend, lambda x, w, b: Conv2dFunction.apply(x, w, b, *geo), [xs, ws, bs]
    )
