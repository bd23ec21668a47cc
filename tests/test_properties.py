"""Property tests (hypothesis): every kernel family on every CPU backend, and every registered
kernel version, against the float64 reference over random shapes (zero-size and primes
included), strides (transposed, negative, sliced), aliasing of ``out`` and NaN/Inf placement.

The example counts are kept small so the file runs in CI in about a minute; set
``HYPOTHESIS_PROFILE=thorough`` for a long local run.
"""

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fastnn import backends, ops

from .conftest import AVAILABLE

CPU = [b for b in AVAILABLE if b != "cuda"]
settings.register_profile(
    "ci", max_examples=25, deadline=None, suppress_health_check=list(HealthCheck)
)
settings.register_profile(
    "thorough", max_examples=500, deadline=None, suppress_health_check=list(HealthCheck)
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

SIZES = st.sampled_from([0, 1, 2, 3, 5, 7, 13, 17, 31, 64, 67])


def _layout(draw, a):
    """The same values through another memory layout: a transposed copy viewed back, a
    negative-stride view, or a strided slice of a larger buffer."""
    kind = draw(st.sampled_from(["c", "transposed", "negative", "sliced"]))
    if kind == "transposed" and a.ndim == 2:
        return np.ascontiguousarray(a.T).T
    if kind == "negative" and a.size:
        return np.flip(np.flip(a, 0).copy(), 0)
    if kind == "sliced":
        big = np.zeros(tuple(2 * s for s in a.shape), a.dtype)
        view = big[tuple(slice(None, None, 2) for _ in a.shape)]
        view[...] = a
        return view
    return a


def _poison(draw, a):
    """Maybe put a NaN or an Inf at a random position."""
    if a.size and draw(st.booleans()):
        flat = a.reshape(-1).copy()
        flat[draw(st.integers(0, a.size - 1))] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
        return flat.reshape(a.shape)
    return a


def _close(got, want, dt, k):
    """float32 results within a bound that grows with the reduction length k; non-finite
    entries must agree exactly in kind (NaN where NaN, the same infinities)."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    fin = np.isfinite(want)
    np.testing.assert_array_equal(got[~fin & ~np.isnan(want)], want[~fin & ~np.isnan(want)])
    tol = (1e-5 if dt == np.float32 else 1e-12) * max(1, k)
    np.testing.assert_allclose(got[fin], want[fin], rtol=tol * 10, atol=tol * 10)


@pytest.mark.parametrize("backend", CPU)
@given(data=st.data(), m=SIZES, n=SIZES, k=SIZES)
def test_gemm_property(backend, data, m, n, k):
    dtypes = [d for d in ("float32", "float64") if d in backends.get_backend(backend).DTYPES]
    dt = np.dtype(data.draw(st.sampled_from(dtypes)))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    a = _poison(data.draw, rng.standard_normal((m, k)).astype(dt))
    b = rng.standard_normal((k, n)).astype(dt)
    bias = rng.standard_normal(n).astype(dt) if data.draw(st.booleans()) else None
    act = data.draw(st.sampled_from([None, "relu"]))
    want = a.astype(np.float64) @ b.astype(np.float64)
    if bias is not None:
        want = want + bias
    if act == "relu":
        want = np.where(want < 0, 0.0, want)  # NaN stays NaN
    al, bl = _layout(data.draw, a), _layout(data.draw, b)
    got = ops.gemm(al, bl, bias, act, backend=backend)
    _close(got, want, dt, k)
    if k == n and data.draw(st.booleans()):  # out aliasing the left operand
        out = al.copy()
        res = ops.gemm(out, bl, bias, act, out=out, backend=backend)
        assert res is out
        _close(out, want, dt, k)


@pytest.mark.parametrize("backend", CPU)
@given(data=st.data())
def test_conv2d_property(backend, data):
    n = data.draw(st.sampled_from([0, 1, 2, 3]))
    c = data.draw(st.sampled_from([1, 2, 3, 5]))
    groups = data.draw(st.sampled_from([g for g in (1, c) if c % g == 0]))
    oc = groups * data.draw(st.sampled_from([1, 2, 3]))
    kh, kw = data.draw(st.sampled_from([1, 2, 3])), data.draw(st.sampled_from([1, 3, 5]))
    stride = data.draw(st.sampled_from([1, 2]))
    padding = data.draw(st.sampled_from([0, 1]))
    h = data.draw(st.integers(max(1, kh - 2 * padding), 11))
    w = data.draw(st.integers(max(1, kw - 2 * padding), 11))
    dt = np.dtype(np.float32)
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    x = _poison(data.draw, rng.standard_normal((n, c, h, w)).astype(dt))
    wt = rng.standard_normal((oc, c // groups, kh, kw)).astype(dt)
    kw_ = dict(stride=stride, padding=padding, groups=groups)
    want = ops.conv2d(x.astype(np.float64), wt.astype(np.float64), backend="reference", **kw_)
    got = ops.conv2d(_layout(data.draw, x), wt, backend=backend, **kw_)
    _close(got, want, dt, c * kh * kw)
    for version in backends.versions(backend).get("conv2d_forward", backends.Versions("")).choices:
        with backends.use_version(backend, "conv2d_forward", version):
            _close(ops.conv2d(x, wt, backend=backend, **kw_), want, dt, c * kh * kw)


@pytest.mark.parametrize("backend", CPU)
@given(data=st.data())
def test_max_pool_property(backend, data):
    k = data.draw(st.sampled_from([1, 2, 3]))
    stride = data.draw(st.sampled_from([1, 2, 3]))
    padding = data.draw(st.integers(0, k // 2))
    h, w = data.draw(st.integers(k, 9)), data.draw(st.integers(k, 9))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    x = _poison(data.draw, rng.standard_normal((2, 3, h, w)).astype(np.float32))
    ceil = data.draw(st.booleans())
    want, warg = ops.max_pool2d(x.astype(np.float64), k, stride, padding, ceil_mode=ceil,
                                backend="reference")
    got, arg = ops.max_pool2d(_layout(data.draw, x), k, stride, padding, ceil_mode=ceil,
                              backend=backend)
    np.testing.assert_array_equal(arg, warg)
    _close(got, want, np.float32, 1)
    g = rng.standard_normal(got.shape).astype(np.float32)
    gw = ops.max_pool2d_backward(g.astype(np.float64), warg, x.shape, k, stride, padding,
                                 ceil_mode=ceil, backend="reference")
    _close(ops.max_pool2d_backward(g, arg, x.shape, k, stride, padding, ceil_mode=ceil,
                                   backend=backend), gw, np.float32, k * k)


@pytest.mark.parametrize("backend", CPU)
@given(data=st.data())
def test_attention_property(backend, data):
    b, hh = data.draw(st.sampled_from([1, 2])), data.draw(st.sampled_from([1, 3]))
    lq, lk = data.draw(SIZES.filter(lambda s: s < 40)), data.draw(SIZES.filter(lambda s: s < 40))
    d = data.draw(st.sampled_from([1, 3, 8, 17]))
    causal = data.draw(st.booleans())
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    q, k, v = (rng.standard_normal((b, hh, s, d)).astype(np.float32) for s in (lq, lk, lk))
    want = ops.attention(*(t.astype(np.float64) for t in (q, k, v)), causal=causal,
                         backend="reference")
    got = ops.attention(_layout(data.draw, q), k, _layout(data.draw, v), causal=causal,
                        backend=backend)
    _close(got, want, np.float32, lk * d)


@pytest.mark.parametrize("backend", CPU)
@given(data=st.data())
def test_lstm_property(backend, data):
    t, b = data.draw(st.sampled_from([0, 1, 3, 7])), data.draw(st.sampled_from([0, 1, 2, 5]))
    i, h = data.draw(st.sampled_from([1, 3, 8])), data.draw(st.sampled_from([1, 2, 5, 16]))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    x = rng.standard_normal((t, b, i)).astype(np.float32)
    h0, c0 = (rng.standard_normal((b, h)).astype(np.float32) for _ in range(2))
    w_ih = (rng.standard_normal((4 * h, i)) * 0.3).astype(np.float32)
    w_hh = (rng.standard_normal((4 * h, h)) * 0.3).astype(np.float32)
    bias = rng.standard_normal(4 * h).astype(np.float32)
    args = (x, h0, c0, w_ih, w_hh, bias, None)
    want = ops.lstm_sequence_forward(*(a.astype(np.float64) if a is not None else None
                                       for a in args), backend="reference")
    got = ops.lstm_sequence_forward(_layout(data.draw, x), *args[1:], backend=backend)
    for g_, w_ in zip(got, want):
        _close(g_, w_, np.float32, max(t, 1) * (i + h))
