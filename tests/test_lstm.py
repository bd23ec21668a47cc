"""LSTM kernel family: every kernel on every backend vs the float64 reference (forward and
backward, odd / zero-size / non-contiguous shapes), the array API's validation, the C++ checks
and its vectorised transcendental functions. Module-level parity with PyTorch is in
test_lstm_modules.py."""

# ruff: noqa: E741  (I is the input size, as in the kernel contract's (T, B, I, H) notation)

import numpy as np
import pytest

import fastnn.ops as ops
from fastnn import backends
from tests.conftest import require_native, tol

# (T, B, I, H); cuda runs in the simulator, so it gets the tiny ones only
SHAPES = [(1, 1, 5, 8), (7, 3, 5, 8), (4, 5, 13, 7), (3, 64, 64, 24), (0, 3, 5, 8), (3, 0, 5, 8)]
TINY = [(3, 2, 3, 5), (1, 1, 1, 1), (0, 2, 3, 4), (2, 0, 3, 4)]


def _shapes(backend, full=True):
    if backend == "cuda":  # the simulator is slow: every tiny shape once, one in other variants
        return TINY if full else TINY[:1]
    return SHAPES


def _inputs(rng, T, B, I, H, bias=True):
    scale = 1 / np.sqrt(H)
    return dict(
        x=rng.standard_normal((T, B, I)),
        h0=rng.standard_normal((B, H)),
        c0=rng.standard_normal((B, H)),
        w_ih=rng.uniform(-scale, scale, (4 * H, I)) * 2,
        w_hh=rng.uniform(-scale, scale, (4 * H, H)) * 2,
        b_ih=rng.uniform(-scale, scale, 4 * H) if bias else None,
        b_hh=rng.uniform(-scale, scale, 4 * H) if bias else None,
    )


def _cast(d, dtype):
    return {k: None if v is None else v.astype(dtype) for k, v in d.items()}


def _close(got, ref, dtype, what):
    rtol, atol = tol(dtype)
    assert got.shape == ref.shape, what
    assert got.dtype == np.dtype(dtype), what
    if ref.size:
        err = np.abs(got.astype(np.float64) - ref).max()
        assert err <= atol + rtol * max(1.0, np.abs(ref).max()), f"{what}: max error {err:.3g}"


def _seq_case(backend, rng, T, B, I, H, bias, dtype):
    inp = _inputs(rng, T, B, I, H, bias)
    ref = ops.lstm_sequence_forward(**inp, backend="reference")
    got = ops.lstm_sequence_forward(**_cast(inp, dtype), backend=backend)
    for name, g, r in zip(("y", "h_n", "c_n", "cs", "gates"), got, ref):
        _close(g, r, dtype, name)
    grads = dict(
        grad_y=rng.standard_normal((T, B, H)),
        grad_hn=rng.standard_normal((B, H)),
        grad_cn=rng.standard_normal((B, H)),
    )
    saved = dict(
        x=inp["x"],
        h0=inp["h0"],
        c0=inp["c0"],
        w_ih=inp["w_ih"],
        w_hh=inp["w_hh"],
        y=ref[0],
        cs=ref[3],
        gates=ref[4],
    )
    refb = ops.lstm_sequence_backward(**grads, **saved, backend="reference")
    gotb = ops.lstm_sequence_backward(**_cast({**grads, **saved}, dtype), backend=backend)
    for name, g, r in zip(
        ("grad_x", "grad_h0", "grad_c0", "grad_w_ih", "grad_w_hh", "grad_b"), gotb, refb
    ):
        _close(g, r, dtype, name)


@pytest.mark.parametrize("bias", [True, False])
def test_sequence_matches_reference(backend, rng, bias):
    require_native(backend, "lstm_sequence_forward")
    for T, B, I, H in _shapes(backend, full=bias):
        _seq_case(backend, rng, T, B, I, H, bias, np.float32)


@pytest.mark.slow  # compiles the float64 specialisations of every Numba kernel (~35 s cold)
def test_sequence_float64(rng):
    # numba is the other float64 backend; against the same reference the error is rounding only
    if not backends.available("numba")[0]:
        pytest.skip("numba unavailable")
    _seq_case("numba", rng, 5, 3, 4, 6, True, np.float64)


def test_cell_matches_reference(backend, rng):
    require_native(backend, "lstm_cell_forward")
    for _, B, I, H in _shapes(backend, full=False):
        inp = _inputs(rng, 1, B, I, H)
        x = inp.pop("x")[0]
        h, c = inp.pop("h0"), inp.pop("c0")
        ref = ops.lstm_cell_forward(x, h, c, **inp, backend="reference")
        f32 = _cast(dict(x=x, h=h, c=c, **inp), np.float32)
        got = ops.lstm_cell_forward(**f32, backend=backend)
        for name, g, r in zip(("h_new", "c_new", "gates"), got, ref):
            _close(g, r, np.float32, name)
        gh, gc = rng.standard_normal((B, H)), rng.standard_normal((B, H))
        args = (gh, gc, x, h, c, ref[1], ref[2], inp["w_ih"], inp["w_hh"])
        refb = ops.lstm_cell_backward(*args, backend="reference")
        gotb = ops.lstm_cell_backward(*(a.astype(np.float32) for a in args), backend=backend)
        for name, g, r in zip(
            ("grad_x", "grad_h", "grad_c", "grad_w_ih", "grad_w_hh", "grad_b"), gotb, refb
        ):
            _close(g, r, np.float32, name)


def test_cell_is_one_sequence_step(rng):
    # the two reference kernels agree with each other (the cell is the T = 1 sequence)
    inp = _inputs(rng, 1, 3, 4, 5)
    seq = ops.lstm_sequence_forward(**inp, backend="reference")
    cell = ops.lstm_cell_forward(
        inp["x"][0],
        inp["h0"],
        inp["c0"],
        inp["w_ih"],
        inp["w_hh"],
        inp["b_ih"],
        inp["b_hh"],
        backend="reference",
    )
    np.testing.assert_allclose(cell[0], seq[1], rtol=1e-12)
    np.testing.assert_allclose(cell[2], seq[4][0], rtol=1e-12)


def test_reference_against_finite_differences(rng):
    T, B, I, H = 3, 2, 3, 4
    inp = _inputs(rng, T, B, I, H)
    gy = rng.standard_normal((T, B, H))

    def loss(**kw):
        y, hn, cn, _, _ = ops.lstm_sequence_forward(**{**inp, **kw}, backend="reference")
        return (y * gy).sum() + hn.sum() + 2 * cn.sum()

    y, hn, cn, cs, gates = ops.lstm_sequence_forward(**inp, backend="reference")
    grads = ops.lstm_sequence_backward(
        gy,
        np.ones((B, H)),
        2 * np.ones((B, H)),
        inp["x"],
        inp["h0"],
        inp["c0"],
        inp["w_ih"],
        inp["w_hh"],
        y,
        cs,
        gates,
        backend="reference",
    )
    for name, g in zip(("x", "h0", "c0", "w_ih", "w_hh", "b_ih"), grads):
        a = inp[name]
        idx = tuple(rng.integers(0, n) for n in a.shape)
        eps = 1e-6
        plus, minus = a.copy(), a.copy()
        plus[idx] += eps
        minus[idx] -= eps
        fd = (loss(**{name: plus}) - loss(**{name: minus})) / (2 * eps)
        assert abs(fd - g[idx]) < 1e-6 * max(1, abs(fd)), name


def test_non_contiguous_inputs(backend, rng):
    require_native(backend, "lstm_sequence_forward")
    T, B, I, H = (3, 2, 3, 4) if backend == "cuda" else (5, 4, 6, 7)
    inp = _cast(_inputs(rng, T, B, I, H), np.float32)
    ref = ops.lstm_sequence_forward(**inp, backend="reference")
    x_bt = np.ascontiguousarray(inp["x"].transpose(1, 0, 2)).transpose(
        1, 0, 2
    )  # batch-first buffer
    w_ih = np.asfortranarray(inp["w_ih"])
    got = ops.lstm_sequence_forward(
        x_bt, inp["h0"], inp["c0"], w_ih, inp["w_hh"], inp["b_ih"], inp["b_hh"], backend=backend
    )
    np.testing.assert_allclose(got[0], ref[0], rtol=1e-5, atol=1e-5)


def test_convenience_api_defaults_state_to_zeros(rng):
    inp = _cast(_inputs(rng, 4, 3, 5, 6), np.float32)
    y, hn, cn = ops.lstm(inp["x"], None, None, inp["w_ih"], inp["w_hh"], inp["b_ih"], inp["b_hh"])
    z = np.zeros((3, 6), np.float32)
    ref = ops.lstm_sequence_forward(
        inp["x"], z, z, inp["w_ih"], inp["w_hh"], inp["b_ih"], inp["b_hh"], backend="reference"
    )
    np.testing.assert_allclose(y, ref[0], rtol=1e-5, atol=1e-6)
    h1, c1 = ops.lstm_cell(inp["x"][0], None, None, inp["w_ih"], inp["w_hh"])
    assert h1.shape == c1.shape == (3, 6)


def test_bad_input_raises_naming_the_argument():
    f = np.float32
    x, h = np.zeros((4, 3, 5), f), np.zeros((3, 6), f)
    w_ih, w_hh = np.zeros((24, 5), f), np.zeros((24, 6), f)
    cases = [
        (ValueError, "x: expected input size 5", (x[..., :4], h, h, w_ih, w_hh)),
        (ValueError, "h0: expected shape \\(3, 6\\)", (x, h[:2], h, w_ih, w_hh)),
        (ValueError, "c0: expected shape", (x, h, h[:, :5], w_ih, w_hh)),
        (ValueError, "x: expected a 3-D array", (x[0], h, h, w_ih, w_hh)),
        (ValueError, "w_hh: expected shape \\(24, 6\\)", (x, h, h, w_ih, w_hh[:, :5])),
        (ValueError, "w_ih: expected shape \\(4\\*hidden_size", (x, h, h, w_ih[:23], w_hh)),
        (TypeError, "w_ih: dtype float64", (x, h, h, w_ih.astype(np.float64), w_hh)),
        (TypeError, "x: expected a float32 or float64", (x.astype(np.int64), h, h, w_ih, w_hh)),
    ]
    for exc, msg, args in cases:
        with pytest.raises(exc, match=msg):
            ops.lstm_sequence_forward(*args)
    with pytest.raises(ValueError, match="b_ih: expected shape \\(24,\\)"):
        ops.lstm_sequence_forward(x, h, h, w_ih, w_hh, np.zeros(23, f))
    with pytest.raises(ValueError, match="h: expected shape"):
        ops.lstm_cell_forward(x[0], h[:, :2], h, w_ih, w_hh)
    with pytest.raises(ValueError, match="gates: expected shape"):
        ops.lstm_sequence_backward(
            x[..., :1].repeat(6, -1),
            h,
            h,
            x,
            h,
            h,
            w_ih,
            w_hh,
            x[..., :1].repeat(6, -1),
            x[..., :1].repeat(6, -1),
            x,
        )


def test_cpp_rechecks_what_it_indexes():
    require_native("cpp", "lstm_sequence_forward")
    from fastnn.backends.cpp import lib

    f = np.float32
    x, h = np.zeros((4, 3, 5), f), np.zeros((3, 6), f)
    w_ih, w_hh = np.zeros((24, 5), f), np.zeros((24, 6), f)
    with pytest.raises(ValueError, match="x"):
        lib().lstm_sequence_forward(x[..., :4].copy(), h, h, w_ih, w_hh, None, None)
    with pytest.raises(ValueError, match="h0"):
        lib().lstm_sequence_forward(x, h[:2].copy(), h, w_ih, w_hh, None, None)
    with pytest.raises(TypeError, match="w_hh"):
        lib().lstm_sequence_forward(x, h, h, w_ih, w_hh.astype(np.float64), None, None)
    with pytest.raises(ValueError, match="b_hh"):
        lib().lstm_sequence_forward(x, h, h, w_ih, w_hh, None, np.zeros(5, f))
    with pytest.raises(ValueError, match="gates"):
        lib().lstm_cell_backward(h, h, x[0], h, h, h, h, w_ih, w_hh)


def test_cpp_vectorised_activations_accuracy():
    require_native("cpp", "lstm_sequence_forward")
    from fastnn.backends.cpp import lib

    x = np.concatenate(
        [
            np.linspace(-90, 90, 400_001),
            np.logspace(-9, 1.5, 20_001),
            -np.logspace(-9, 1.5, 20_001),
            [0.0, -0.0],
        ]
    ).astype(np.float32)
    xd = x.astype(np.float64)
    for which, ref in (("tanh", np.tanh(xd)), ("sigmoid", 1 / (1 + np.exp(-xd)))):
        got = lib().lstm_activation(x, which).astype(np.float64)
        keep = np.abs(ref) > 1e-30  # sigmoid(-90) underflows float32 anyway
        rel = np.abs(got - ref)[keep] / np.abs(ref)[keep]
        assert rel.max() < 2e-6, (which, rel.max())
        assert np.all(np.abs(got) <= 1.0)
    special = np.array([np.nan, np.inf, -np.inf], np.float32)
    s = lib().lstm_activation(special, "sigmoid")
    t = lib().lstm_activation(special, "tanh")
    assert np.isnan(s[0]) and s[1] == 1 and s[2] < 1e-30
    assert np.isnan(t[0]) and t[1] == 1 and t[2] == -1
    with pytest.raises(ValueError, match="which"):
        lib().lstm_activation(x, "relu")


def test_cpp_threads_agree(rng):
    require_native("cpp", "lstm_sequence_forward")
    import fastnn

    inp = _cast(_inputs(rng, 6, 9, 7, 10), np.float32)
    fastnn.set_num_threads(1)
    one = ops.lstm_sequence_forward(**inp, backend="cpp")
    fastnn.set_num_threads(2)
    two = ops.lstm_sequence_forward(**inp, backend="cpp")
    for a, b in zip(one, two):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


# (T, B, I, H) that reach every branch of the C++ recurrence with W_hh packed once per call:
# hidden sizes not a multiple of the 16-column panels (181 = 11*16 + 5, 257, 300), several depth
# passes (forward K = H > 256, backward K = 4H), row panels 6/4/3 (B 13) and 1 (B 1), and the
# threaded split over hidden units (from ~1 MFLOP per step: B 7 H 181, B 13 H 257) or over batch
# rows (B >= 16 and a W_hh that fits half the L2: B 17 H 97)
PACKED = [(5, 7, 9, 181), (3, 1, 4, 300), (2, 13, 3, 257), (1, 13, 3, 257), (4, 0, 3, 181),
          (3, 17, 5, 97)]


@pytest.mark.parametrize("T,B,I,H", PACKED, ids=lambda v: str(v))
def test_cpp_packed_recurrence_matches_reference(rng, T, B, I, H):
    require_native("cpp", "lstm_sequence_forward")
    import fastnn

    for threads in (1, 2):
        fastnn.set_num_threads(threads)  # conftest restores the count afterwards
        _seq_case("cpp", rng, T, B, I, H, True, np.float32)


def test_cpp_packed_recurrence_is_bitwise_the_same_on_1_and_2_threads(rng):
    require_native("cpp", "lstm_sequence_forward")
    import fastnn

    for T, B, I, H in ((4, 13, 5, 181), (3, 17, 5, 97)):  # split over units, over rows
        inp = _cast(_inputs(rng, T, B, I, H), np.float32)
        g = [rng.standard_normal(s).astype(np.float32) for s in ((T, B, H), (B, H), (B, H))]
        out = []
        for threads in (1, 2):
            fastnn.set_num_threads(threads)
            y, hn, cn, cs, gates = ops.lstm_sequence_forward(**inp, backend="cpp")
            back = ops.lstm_sequence_backward(*g, inp["x"], inp["h0"], inp["c0"], inp["w_ih"],
                                              inp["w_hh"], y, cs, gates, backend="cpp")
            out.append((y, hn, cn, cs, gates) + tuple(back))
        for a, b in zip(out[0][:-1], out[1][:-1]):
            np.testing.assert_array_equal(a, b)
        # grad_b: per-thread partial sums, added in another order when the rows are split
        np.testing.assert_allclose(out[0][-1], out[1][-1], rtol=1e-5, atol=1e-6)


def test_cpp_packed_recurrence_propagates_nan_and_inf_per_batch_row(rng):
    """A NaN or Inf input at step 1 of batch row 3: the non-finite entries of every output are
    where the float64 reference has them (NaN reaches that row's outputs from step 1 on; an Inf
    saturates the gates), the other batch rows stay finite and match; for NaN the gradients'
    NaNs too."""
    require_native("cpp", "lstm_sequence_forward")
    T, B, I, H = 4, 7, 5, 181
    ok = np.arange(B) != 3
    for bad in (np.nan, np.inf, -np.inf):
        inp = _inputs(rng, T, B, I, H)
        inp["x"][1, 3, 2] = bad
        ref = ops.lstm_sequence_forward(**inp, backend="reference")
        got = ops.lstm_sequence_forward(**_cast(inp, np.float32), backend="cpp")
        for name, g, r in zip(("y", "h_n", "c_n", "cs", "gates"), got, ref):
            np.testing.assert_array_equal(np.isfinite(g), np.isfinite(r), err_msg=name)
            row = (slice(None), ok) if g.ndim == 3 else ok
            assert np.isfinite(g[row]).all(), name
            _close(g[row], r[row], np.float32, name)
        if bad == bad:  # an Inf saturates gates: whether dG is exactly 0 there (0 * Inf = NaN in
            continue  # the weight gradients) is float32-vs-float64 rounding, so NaN only below
        assert np.isnan(got[0][1:, 3]).all()
        grads = [rng.standard_normal(s) for s in ((T, B, H), (B, H), (B, H))]
        saved = [inp[k] for k in ("x", "h0", "c0", "w_ih", "w_hh")]
        refb = ops.lstm_sequence_backward(*grads, *saved, *(ref[i] for i in (0, 3, 4)),
                                          backend="reference")
        gotb = ops.lstm_sequence_backward(
            *(a.astype(np.float32) for a in grads + saved), *(got[i] for i in (0, 3, 4)),
            backend="cpp")
        for name, g, r in zip(("gx", "gh0", "gc0", "gwi", "gwh", "gb"), gotb, refb):
            np.testing.assert_array_equal(np.isnan(g), np.isnan(r), err_msg=name)
        assert np.isnan(gotb[3]).any() and np.isnan(gotb[4]).any()


# ------------------------------------------- the spec's grid, every backend and version; gradcheck

from fastnn.bench.specs import lstm as spec  # noqa: E402
from fastnn.functions.lstm import LSTMCellFunction, LSTMLayerFunction  # noqa: E402
from tests.conftest import (  # noqa: E402
    F64_BACKENDS,
    check_kernel_case,
    gradcheck_function,
    kernel_params,
)


@pytest.mark.parametrize("backend,version,dtype,case", kernel_params(spec.test_cases()))
def test_lstm_kernel_spec(backend, version, dtype, case):
    check_kernel_case(backend, version, dtype, case)


def _lstm_shapes(lead, I, H, bias):
    b = (4 * H,) if bias else None
    return [lead + (I,), lead[-1:] + (H,), lead[-1:] + (H,), (4 * H, I), (4 * H, H), b, b]


@pytest.mark.parametrize("backend", F64_BACKENDS)
@pytest.mark.parametrize(
    "bias,reverse,batch_first",
    [(True, False, False), (False, True, False), (True, True, True)],
    ids=["bias", "nobias-reverse", "bias-reverse-batch_first"],
)
def test_lstm_layer_function_gradcheck(backend, bias, reverse, batch_first):
    T, B, I, H = 3, 2, 3, 2
    shapes = _lstm_shapes((T, B), I, H, bias)
    if batch_first:
        shapes[0] = (B, T, I)
    gradcheck_function(
        backend,
        lambda *t: LSTMLayerFunction.apply(*t, reverse, batch_first),
        shapes,
    )


@pytest.mark.parametrize("backend", F64_BACKENDS)
@pytest.mark.parametrize("bias", [True, False])
def test_lstm_cell_function_gradcheck(backend, bias):
    gradcheck_function(backend, LSTMCellFunction.apply, _lstm_shapes((2,), 3, 4, bias))
