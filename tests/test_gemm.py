"""fastnn.ops.gemm / matmul on every available backend against a float64 NumPy reference.

Tolerance (why it is what it is): a float32 dot product of length K has a rounding error bounded
by about K * eps * sum|a_ik||b_kj| in the worst case and typically sqrt(K) * eps times that sum,
whatever order the kernel accumulates in. So each element may be off by
``eps * (4 sqrt(K) + 8) * scale + 4 eps |expected|`` where ``scale = |alpha| |op(a)| @ |op(b)|
+ |beta out| + |bias|`` (the last term covers the final rounding to float32 and the activation,
whose slope is <= 1.13). A wrong element (a missed k, a shifted index, a lost bias) is off by
O(1) * scale, far above this bound; a correct one lands well inside it.

The cuda backend runs in Numba's CUDA simulator where there is no GPU, one Python thread per CUDA
thread: its cases use sizes <= ~33 (300x257x129 runs on the CPU backends only).
"""

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fastnn import backends, ops
from fastnn._math import ACTIVATIONS

from .conftest import require_native

ACTS = [None, "relu", "gelu", "sigmoid", "tanh"]
ON_GPU = backends.available("cuda")[0] and "simulator" not in backends.available("cuda")[1]


# ------------------------------------------------------------------------------------ helpers


def dev(x, backend):
    """x on the backend's device: CuPy on a real GPU for cuda, the NumPy array otherwise."""
    if backend == "cuda" and ON_GPU and isinstance(x, np.ndarray):
        cupy = pytest.importorskip("cupy")
        return cupy.asarray(x)
    return x


def host(x):
    return x.get() if type(x).__module__.startswith("cupy") else np.asarray(x)


def dtypes_of(backend):
    return [d for d in ("float32", "float64") if d in backends.get_backend(backend).DTYPES]


def expected_and_bound(a, b, bias, act, trans_a, trans_b, alpha, beta, out0):
    """(expected, allowed |error|) in float64, see the module docstring."""
    dt = a.dtype
    A = np.asarray(a, np.float64)
    B = np.asarray(b, np.float64)
    A, B = (A.T if trans_a else A), (B.T if trans_b else B)
    K = A.shape[1]
    pre = alpha * (A @ B)
    scale = abs(alpha) * (np.abs(A) @ np.abs(B))
    if beta != 0.0:
        pre = pre + beta * np.asarray(out0, np.float64)
        scale = scale + abs(beta) * np.abs(np.asarray(out0, np.float64))
    if bias is not None:
        pre = pre + np.asarray(bias, np.float64)
        scale = scale + np.abs(np.asarray(bias, np.float64))
    want = ACTIVATIONS[act](pre)
    eps = np.finfo(dt).eps
    bound = eps * (4 * math.sqrt(K) + 8) * scale + 4 * eps * np.abs(want) + np.finfo(dt).tiny
    return want, bound


def assert_close(got, want, bound, what=""):
    got = host(got).astype(np.float64)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    if got.size == 0:
        return
    err = np.abs(got - want)
    bad = ~(err <= bound)  # NaN counts as bad
    if bad.any():
        worst = np.where(bad, err / np.maximum(bound, 1e-300), 0)
        i = np.unravel_index(np.argmax(worst), err.shape)
        pytest.fail(
            f"{what}: {bad.sum()} of {err.size} elements off; worst at {i}: got {got[i]!r}, "
            f"want {want[i]!r}, |err| {err[i]:.3g} > bound {bound[i]:.3g}"
        )


def operands(rng, m, k, n, dtype, trans_a=False, trans_b=False):
    """a, b of op-shapes (m, k), (k, n) stored as the trans flags say, values ~ N(0, 1)."""
    a = rng.standard_normal((k, m) if trans_a else (m, k)).astype(dtype)
    b = rng.standard_normal((n, k) if trans_b else (k, n)).astype(dtype)
    return a, b


def run_and_check(backend, rng, m, k, n, dtype="float32", act=None, with_bias=False, trans_a=False,
                  trans_b=False, alpha=1.0, beta=0.0, with_out=False):
    a, b = operands(rng, m, k, n, dtype, trans_a, trans_b)
    bias = rng.standard_normal(n).astype(dtype) if with_bias else None
    out0 = rng.standard_normal((m, n)).astype(dtype) if with_out else None
    want, bound = expected_and_bound(a, b, bias, act, trans_a, trans_b, alpha, beta, out0)
    out = dev(out0.copy(), backend) if with_out else None
    got = ops.gemm(dev(a, backend), dev(b, backend), None if bias is None else dev(bias, backend),
                   act, trans_a=trans_a, trans_b=trans_b, alpha=alpha, beta=beta, out=out,
                   backend=backend)
    if with_out:
        assert got is out, "gemm(out=...) must return out itself"
    assert type(got) is type(dev(a, backend)), "result must be the input's array type"
    assert host(got).dtype == np.dtype(dtype)
    assert_close(got, want, bound, f"{backend} gemm {m}x{k}x{n} {dtype} act={act}")


# ------------------------------------------------------------------------------- correctness

SHAPES = [
    (1, 1, 1),
    (17, 31, 13),  # primes
    (33, 16, 65),  # one past tile multiples
    (6, 64, 32),  # exact multiples of the numba register tile
    (0, 5, 3),  # M = 0
    (4, 5, 0),  # N = 0
    (4, 0, 3),  # K = 0: act(bias) or zeros
]
CPU_ONLY_SHAPES = [
    (300, 257, 129),  # crosses the numba KC = 256 slice; non-multiples everywhere
    (13, 600, 70),  # several K slices, a thin M
]


@pytest.mark.parametrize("shape", SHAPES + CPU_ONLY_SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_gemm_shapes(backend, shape, rng):
    require_native(backend, "gemm")
    if backend == "cuda" and shape in CPU_ONLY_SHAPES:
        pytest.skip("large shape: too slow in the CUDA simulator")
    for dtype in dtypes_of(backend):
        run_and_check(backend, rng, *shape, dtype=dtype)
        run_and_check(backend, rng, *shape, dtype=dtype, act="relu", with_bias=True)


@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("trans_b", [False, True])
def test_gemm_trans_flags(backend, trans_a, trans_b, rng):
    require_native(backend, "gemm")
    for dtype in dtypes_of(backend):
        run_and_check(backend, rng, 17, 31, 13, dtype=dtype, trans_a=trans_a, trans_b=trans_b,
                      with_bias=True, act="tanh")


def _layout(x, kind):
    """x (contiguous, NumPy or CuPy) as a same-valued view: "T" (the transpose of a contiguous
    buffer, i.e. Fortran order) or "strided" (every other row, every third column of a bigger
    array)."""
    if kind == "C":
        return x
    if kind == "T":
        return x.T.copy().T
    big = _full_like_kind(x, (2 * x.shape[0] + 1, 3 * x.shape[1] + 2))
    big[1::2, 2::3] = x
    return big[1::2, 2::3]


def _full_like_kind(x, shape):
    if type(x).__module__.startswith("cupy"):
        import cupy

        return cupy.full(shape, np.nan, x.dtype)
    return np.full(shape, np.nan, x.dtype)


@pytest.mark.parametrize("layout_a", ["C", "T", "strided"])
@pytest.mark.parametrize("layout_b", ["C", "T", "strided"])
def test_gemm_views(backend, layout_a, layout_b, rng):
    """Transposed views and strided slices give the same result as contiguous copies."""
    require_native(backend, "gemm")
    if backend == "cuda" and not ON_GPU and "C" not in (layout_a, layout_b):
        pytest.skip("simulator time: each operand's layouts are covered against a contiguous one")
    a, b = operands(rng, 19, 23, 11, np.float32)
    bias = rng.standard_normal(11).astype(np.float32)
    av, bv = _layout(dev(a, backend), layout_a), _layout(dev(b, backend), layout_b)
    assert np.array_equal(host(av), a) and np.array_equal(host(bv), b)
    want, bound = expected_and_bound(a, b, bias, "gelu", False, False, 1.0, 0.0, None)
    got = ops.gemm(av, bv, dev(bias, backend), "gelu", backend=backend)
    assert_close(got, want, bound, f"{backend} views {layout_a}/{layout_b}")
    # a transposed view with trans_a=True is the original again
    got = ops.gemm(dev(a, backend).T, dev(b, backend), trans_a=True, backend=backend)
    assert_close(got, *expected_and_bound(a, b, None, None, False, False, 1.0, 0.0, None)[:2],
                 f"{backend} a.T with trans_a")


@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("with_bias", [False, True])
def test_gemm_activations(backend, act, with_bias, rng):
    require_native(backend, "gemm")
    for dtype in dtypes_of(backend):
        run_and_check(backend, rng, 9, 13, 37, dtype=dtype, act=act, with_bias=with_bias)


@pytest.mark.parametrize("alpha,beta", [(0.5, 0.0), (-1.5, 1.0), (1.0, -0.25), (0.0, 2.0)])
def test_gemm_alpha_beta_out(backend, alpha, beta, rng):
    require_native(backend, "gemm")
    for dtype in dtypes_of(backend):
        # 13 x 70: full and edge register tiles of every backend (numba: 6 x 32 float32)
        run_and_check(backend, rng, 13, 17, 70, dtype=dtype, act="sigmoid", with_bias=True,
                      alpha=alpha, beta=beta, with_out=True)
        if backend != "cuda" or ON_GPU:  # K = 600: several K slices (numba KC = 512)
            run_and_check(backend, rng, 13, 600, 70, dtype=dtype, with_bias=True, alpha=alpha,
                          beta=beta, with_out=True)
        run_and_check(backend, rng, 5, 0, 7, dtype=dtype, alpha=alpha, beta=beta, with_out=True)


def test_gemm_beta_zero_ignores_nan_out(backend, rng):
    require_native(backend, "gemm")
    a, b = operands(rng, 7, 9, 5, np.float32)
    out = dev(np.full((7, 5), np.nan, np.float32), backend)
    got = ops.gemm(dev(a, backend), dev(b, backend), out=out, beta=0.0, backend=backend)
    assert_close(got, *expected_and_bound(a, b, None, None, False, False, 1.0, 0.0, None)[:2],
                 f"{backend} beta=0 over NaN")


def test_gemm_noncontiguous_out(backend, rng):
    """out= a strided view: the result lands in the view, the gaps stay untouched."""
    require_native(backend, "gemm")
    a, b = operands(rng, 6, 10, 8, np.float32)
    big0 = rng.standard_normal((6, 15)).astype(np.float32)
    big = dev(big0.copy(), backend)
    view = big[:, ::2]
    res = ops.gemm(dev(a, backend), dev(b, backend), out=view, alpha=2.0, beta=0.5,
                   backend=backend)
    assert res is view
    want, bound = expected_and_bound(a, b, None, None, False, False, 2.0, 0.5, big0[:, ::2])
    assert_close(host(big)[:, ::2], want, bound, f"{backend} strided out")
    np.testing.assert_array_equal(host(big)[:, 1::2], big0[:, 1::2])


# ------------------------------------------------------------------------------- bad input


def _bad_cases():
    f32, f64 = np.float32, np.float64
    a = np.ones((4, 3), f32)
    b = np.ones((3, 5), f32)
    ro = np.zeros((4, 5), f32)
    ro.flags.writeable = False
    return {
        "a-1d": (dict(a=np.ones(3, f32), b=b), ValueError, "a:"),
        "a-3d": (dict(a=np.ones((2, 4, 3), f32), b=b), ValueError, "a:"),
        "b-1d": (dict(a=a, b=np.ones(3, f32)), ValueError, "b:"),
        "inner-mismatch": (dict(a=a, b=np.ones((4, 5), f32)), ValueError, "b: inner"),
        "trans-mismatch": (dict(a=a, b=b, trans_a=True), ValueError, "b: inner"),
        "a-int": (dict(a=a.astype(np.int32), b=b), TypeError, "a:"),
        "a-object": (dict(a=a.astype(object), b=b), TypeError, "a:"),
        "a-complex": (dict(a=a.astype(np.complex64), b=b), TypeError, "a:"),
        "a-list": (dict(a=[[1.0]], b=b), TypeError, "a:"),
        "b-dtype-mismatch": (dict(a=a, b=b.astype(f64)), TypeError, "b:"),
        "b-int": (dict(a=a, b=b.astype(np.int64)), TypeError, "b:"),
        "bias-shape": (dict(a=a, b=b, bias=np.ones(4, f32)), ValueError, "bias:"),
        "bias-2d": (dict(a=a, b=b, bias=np.ones((1, 5), f32)), ValueError, "bias:"),
        "bias-dtype": (dict(a=a, b=b, bias=np.ones(5, f64)), TypeError, "bias:"),
        "out-shape": (dict(a=a, b=b, out=np.zeros((5, 4), f32)), ValueError, "out:"),
        "out-dtype": (dict(a=a, b=b, out=np.zeros((4, 5), f64)), TypeError, "out:"),
        "out-readonly": (dict(a=a, b=b, out=ro), ValueError, "out:"),
        "activation": (dict(a=a, b=b, activation="softplus"), ValueError, "activation"),
        "beta-without-out": (dict(a=a, b=b, beta=1.0), ValueError, "beta"),
        "alpha-str": (dict(a=a, b=b, alpha="2"), TypeError, "alpha"),
        "beta-complex": (dict(a=a, b=b, beta=1j, out=np.zeros((4, 5), f32)), TypeError, "beta"),
    }


@pytest.mark.parametrize("case", list(_bad_cases()))
def test_gemm_bad_input(backend, case):
    kwargs, exc, match = _bad_cases()[case]
    if backend == "cuda" and ON_GPU:  # keep the host arrays host-side only where the case needs
        kwargs = {k: (dev(v, backend) if isinstance(v, np.ndarray) and v.dtype == np.float32
                      and v.flags.writeable else v) for k, v in kwargs.items()}
    with pytest.raises(exc, match=match):
        ops.gemm(**kwargs, backend=backend)


def test_gemm_float64_where_unsupported(backend):
    """cpp and cuda are float32-only: float64 raises TypeError naming the dtype."""
    if "float64" in backends.get_backend(backend).DTYPES:
        pytest.skip(f"{backend} supports float64")
    a = dev(np.ones((3, 2)), backend)
    with pytest.raises(TypeError, match="float64"):
        ops.gemm(a, a.T, backend=backend)


def test_cpp_kernel_rechecks_its_arguments():
    """The extension itself (below fastnn.ops) rejects what it would index wrongly."""
    if not backends.available("cpp")[0]:
        pytest.skip(backends.available("cpp")[1])
    raw = backends.get_backend("cpp").gemm
    a = np.ones((4, 3), np.float32)
    with pytest.raises(ValueError, match="b"):
        raw(a, np.ones((4, 5), np.float32), None, None, False, False, 1.0, 0.0, None)
    with pytest.raises((TypeError, ValueError), match="bias"):
        raw(a, np.ones((3, 5), np.float32), np.ones(2, np.float32), None, False, False, 1.0, 0.0,
            None)
    with pytest.raises((TypeError, ValueError), match="out"):
        raw(a, np.ones((3, 5), np.float32), None, None, False, False, 1.0, 0.0,
            np.zeros((5, 5), np.float32))
    with pytest.raises(TypeError, match="a"):
        raw(a.astype(np.float64), np.ones((3, 5), np.float32), None, None, False, False, 1.0, 0.0,
            None)


# ---------------------------------------------------------------------------------- matmul

MATMUL_SHAPES = [
    ((5,), (5,)),
    ((5,), (5, 3)),
    ((4, 5), (5,)),
    ((4, 5), (5, 3)),
    ((2, 4, 5), (5, 3)),
    ((3, 1, 4, 5), (2, 5, 6)),  # broadcast batch dims
    ((5,), (2, 5, 3)),
    ((2, 4, 5), (5,)),
    ((0, 4, 5), (5, 3)),  # empty batch
    ((4, 0), (0, 3)),  # K = 0
]


@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=lambda s: f"{s[0]}@{s[1]}")
def test_matmul_matches_numpy(backend, shapes, rng):
    require_native(backend, "gemm")
    for dtype in dtypes_of(backend):
        a = rng.standard_normal(shapes[0]).astype(dtype)
        b = rng.standard_normal(shapes[1]).astype(dtype)
        want = np.matmul(a.astype(np.float64), b.astype(np.float64))
        got = host(ops.matmul(dev(a, backend), dev(b, backend), backend=backend))
        assert got.shape == want.shape and got.dtype == np.dtype(dtype)
        k = shapes[0][-1]
        scale = np.matmul(np.abs(a).astype(np.float64), np.abs(b).astype(np.float64))
        bound = np.finfo(dtype).eps * (4 * math.sqrt(max(k, 1)) + 8) * scale + 1e-30
        assert np.all(np.abs(got - want) <= bound), f"{backend} matmul {shapes}"


def test_matmul_bad_input(backend):
    a = np.ones((4, 5), np.float32)
    with pytest.raises(ValueError, match="b: inner"):
        ops.matmul(a, np.ones((4, 3), np.float32), backend=backend)
    with pytest.raises(ValueError, match="a, b"):
        ops.matmul(np.ones((), np.float32), a, backend=backend)
    with pytest.raises(TypeError, match="b:"):
        ops.matmul(a, np.ones((5, 3), np.int32), backend=backend)
    with pytest.raises(ValueError, match="a, b: batch"):
        ops.matmul(np.ones((2, 4, 5), np.float32), np.ones((3, 5, 2), np.float32), backend=backend)


def test_gemm_accepts_numpy_scalars_for_alpha_beta(rng):
    a, b = operands(rng, 3, 4, 5, np.float32)
    want = 2.0 * (a.astype(np.float64) @ b)
    got = ops.gemm(a, b, alpha=np.float32(2.0), beta=np.float64(0.0), backend="reference")
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


# ------------------------------------------------------------------------ randomized sweep


@settings(max_examples=12, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    m=st.integers(0, 40), k=st.integers(0, 40), n=st.integers(0, 40),
    trans_a=st.booleans(), trans_b=st.booleans(), act=st.sampled_from(ACTS),
    with_bias=st.booleans(), with_out=st.booleans(),
    alpha=st.sampled_from([1.0, -0.75, 2.0]), beta=st.sampled_from([0.0, 1.0, -0.5]),
)
def test_gemm_random_sweep(backend, m, k, n, trans_a, trans_b, act, with_bias, with_out, alpha,
                           beta):
    require_native(backend, "gemm")
    if backend == "cuda" and not ON_GPU:
        m, k, n = min(m, 20), min(k, 20), min(n, 20)
    rng = np.random.default_rng(m * 10007 + k * 101 + n)
    dtype = dtypes_of(backend)[(m + n) % len(dtypes_of(backend))]
    run_and_check(backend, rng, m, k, n, dtype=dtype, act=act, with_bias=with_bias,
                  trans_a=trans_a, trans_b=trans_b, alpha=alpha,
                  beta=beta if with_out else 0.0, with_out=with_out)


def test_numba_small_gemm_keeps_the_thread_count(rng):
    """Small products run single-threaded inside the numba kernel; the caller's setting survives."""
    if not backends.available("numba")[0]:
        pytest.skip(backends.available("numba")[1])
    import numba

    before = numba.get_num_threads()
    a, b = operands(rng, 8, 8, 8, np.float32)
    ops.gemm(a, b, backend="numba")
    assert numba.get_num_threads() == before


# ------------------------------------------- the spec's grid, every backend and version; gradcheck

from fastnn.bench.specs import gemm as spec  # noqa: E402
from fastnn.functions.gemm import LinearFunction, MatMul  # noqa: E402

from .conftest import F64_BACKENDS, check_kernel_case, gradcheck_function, kernel_params  # noqa: E402,I001


@pytest.mark.parametrize("backend,version,dtype,case", kernel_params(spec.test_cases()))
def test_gemm_kernel_spec(backend, version, dtype, case):
    check_kernel_case(backend, version, dtype, case)


@pytest.mark.parametrize("backend", F64_BACKENDS)
@pytest.mark.parametrize(
    "shapes",
    [[(4, 3), (5, 3), (5,)], [(2, 3, 4), (2, 4), None], [(3,), (2, 3), (2,)]],
    ids=["2d+bias", "3d-nobias", "1d+bias"],
)
def test_linear_function_gradcheck(backend, shapes):
    gradcheck_function(backend, LinearFunction.apply, shapes)


@pytest.mark.parametrize("backend", F64_BACKENDS)
@pytest.mark.parametrize(
    "shapes",
    [[(3, 4), (4, 5)], [(2, 3, 4), (4, 2)], [(2, 1, 3, 4), (3, 4, 2)], [(4,), (4, 3)],
     [(3, 4), (4,)], [(4,), (4,)]],
    ids=lambda s: "@".join("x".join(map(str, t)) for t in s),
)
def test_matmul_function_gradcheck(backend, shapes):
    gradcheck_function(backend, MatMul.apply, shapes)
