"""Regression tests for the defects found by the hostile-input probe (issue 17): each test names
the defect it pins down."""

import threading

import numpy as np
import pytest

import fastnn
from fastnn import backends, ops

from .conftest import AVAILABLE

CPU = [b for b in AVAILABLE if b != "cuda"]


def test_set_num_threads_is_process_wide():
    """Defect 7: the setting reached only the calling thread's OpenMP/Numba."""
    import numba

    before = fastnn.get_num_threads()
    seen = {}

    def work():
        a = np.ones((8, 8), np.float32)
        ops.gemm(a, a)  # the first kernel call in this thread applies the setting
        seen["fastnn"] = fastnn.get_num_threads()
        seen["numba"] = numba.get_num_threads()
        if "cpp" in AVAILABLE:
            seen["cpp"] = backends.get_backend("cpp").lib().get_num_threads()

    try:
        fastnn.set_num_threads(1)
        t = threading.Thread(target=work)
        t.start()
        t.join()
        assert seen["fastnn"] == 1 and seen["numba"] == 1
        if "cpp" in AVAILABLE:
            assert seen["cpp"] == 1
    finally:
        fastnn.set_num_threads(before)


@pytest.mark.parametrize("backend", CPU)
@pytest.mark.parametrize("n", [5, 17, 32])
def test_gemm_out_aliasing_an_operand(backend, n):
    """Defect 1: cpp gemm(a, b, out=a) was wrong from n=17; numba when bias aliased out."""
    rng = np.random.default_rng(n)
    dt = np.float32
    a = rng.standard_normal((n, n)).astype(dt)
    b = rng.standard_normal((n, n)).astype(dt)
    want = a.astype(np.float64) @ b.astype(np.float64)
    for alias in ("a", "b", "shifted"):
        a2, b2 = a.copy(), b.copy()
        if alias == "a":
            out = a2
        elif alias == "b":
            out = b2
        else:  # out overlaps a shifted by one row
            buf = np.concatenate([a2, np.zeros((1, n), dt)])
            a2, out = buf[:n], buf[1:]
            want_s = a.astype(np.float64) @ b.astype(np.float64)
        res = ops.gemm(a2, b2, out=out, backend=backend)
        assert res is out
        np.testing.assert_allclose(out, want if alias != "shifted" else want_s,
                                   rtol=1e-4, atol=1e-3 * n)
    # bias aliasing a row of out, with beta: act(alpha*a@b + beta*out + bias)
    out = rng.standard_normal((n, n)).astype(dt)
    old = out.astype(np.float64)
    bias = out[0]
    want = a.astype(np.float64) @ b.astype(np.float64) + 0.5 * old + old[0]
    ops.gemm(a, b, bias, out=out, beta=0.5, backend=backend)
    np.testing.assert_allclose(out, want, rtol=1e-4, atol=1e-3 * n)


@pytest.mark.parametrize("backend", CPU)
def test_max_pool_backward_nan_gradient_stays_at_its_tap(backend):
    """Defect 3: reference max_pool2d_backward spread a NaN/Inf upstream gradient over the whole
    window (torch: only the argmax tap)."""
    import torch

    rng = np.random.default_rng(3)
    dt = np.float32
    x = rng.standard_normal((1, 2, 6, 6)).astype(dt)
    y, arg = ops.max_pool2d(x, 3, 2, 1, backend=backend)
    g = rng.standard_normal(y.shape).astype(dt)
    g[0, 0, 1, 1] = np.nan
    g[0, 1, 0, 2] = np.inf
    got = ops.max_pool2d_backward(g, arg, x.shape, 3, 2, 1, backend=backend)
    xt = torch.tensor(x, requires_grad=True)
    torch.nn.functional.max_pool2d(xt, 3, 2, 1).backward(torch.tensor(g))
    want = xt.grad.numpy()
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(np.isinf(got), np.isinf(want))
    fin = np.isfinite(want)
    np.testing.assert_allclose(got[fin], want[fin], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("backend", CPU)
def test_max_pool_backward_checks_arg(backend):
    """Defect 4: max_pool2d_backward never checked ``arg`` (numba added out-of-range taps into
    neighbouring pixels, cpp/reference dropped them)."""
    x = np.ones((1, 1, 4, 4), np.float32)
    y, arg = ops.max_pool2d(x, 2, backend=backend)
    g = np.ones_like(y)
    for bad in (9, 4, -1):
        a = arg.copy()
        a[0, 0, 0, 0] = bad
        with pytest.raises(ValueError, match="arg: tap indices"):
            ops.max_pool2d_backward(g, a, x.shape, 2, backend=backend)
    with pytest.raises(ValueError, match="arg: expected an int32"):
        ops.max_pool2d_backward(g, arg.astype(np.int64), x.shape, 2, backend=backend)
    with pytest.raises(TypeError, match="arg"):
        ops.max_pool2d_backward(g, [[0]], x.shape, 2, backend=backend)
    with pytest.raises(TypeError, match="grad_out"):
        ops.max_pool2d_backward(None, arg, x.shape, 2, backend=backend)


def test_ops_errors_name_the_argument():
    """Defect 9 (fastnn.ops part): lists/None gave AttributeError, bad flags and fractions were
    accepted or truncated, attention_dropout_backward checked nothing."""
    f = np.float32
    x = np.ones((3, 2, 4), f)
    h = np.ones((2, 5), f)
    wih, whh = np.ones((20, 4), f), np.ones((20, 5), f)
    cases = [
        (TypeError, "x:", lambda: ops.lstm_sequence_forward(x.tolist(), h, h, wih, whh)),
        (TypeError, "x:", lambda: ops.lstm_cell_forward(x[0].tolist(), h, h, wih, whh)),
        (TypeError, "grad_y:", lambda: ops.lstm_sequence_backward(
            [1], h, h, x, h, h, wih, whh, x, x, x)),
        (TypeError, "trans_a:", lambda: ops.gemm(h, h.T, trans_a="no")),
        (TypeError, "trans_b:", lambda: ops.gemm(h, h.T, trans_b=1)),
        (TypeError, "input_shape:", lambda: ops.conv2d_backward_input(
            np.ones((1, 1, 3, 3), f), np.ones((1, 1, 3, 3), f), (1, 1, 5, 6.5))),
        (ValueError, "dropout_p:", lambda: ops.attention(x, x, x, dropout_p=-0.1)),
        (ValueError, "dropout_p:", lambda: ops.attention(x, x, x, dropout_p=float("nan"))),
        (TypeError, "dropout_p:", lambda: ops.attention(x, x, x, dropout_p="0.5")),
        (TypeError, "keep:", lambda: ops.attention_dropout_backward(
            x, x, x, x, np.ones((3, 2, 2), f), np.ones((3, 2, 2), np.int32))),
        (ValueError, "probs:", lambda: ops.attention_dropout_backward(
            x, x, x, x, np.ones((3, 2, 3), f), np.ones((3, 2, 2), f))),
    ]
    for exc, msg, fn in cases:
        with pytest.raises(exc, match=msg):
            fn()


@pytest.mark.parametrize("backend", CPU)
def test_fused_relu_keeps_nan(backend):
    """Defect 2: the cpp fused ReLU turned NaN into 0 in gemm and conv2d (torch keeps NaN)."""
    f = np.float32
    for m, n, k in ((1, 1, 1), (7, 37, 5), (64, 64, 64)):
        a = np.ones((m, k), f)
        a[0, 0] = np.nan
        b = np.ones((k, n), f)
        y = ops.gemm(a, b, np.zeros(n, f), activation="relu", backend=backend)
        assert np.isnan(y[0]).all() and not np.isnan(y[1:]).any()
    x = np.ones((2, 4, 9, 9), f)
    x[0, 0, 4, 4] = np.nan
    w = np.ones((8, 4, 3, 3), f)
    y = ops.conv2d(x, w, np.zeros(8, f), padding=1, activation="relu", backend=backend)
    want = np.zeros(y.shape, bool)
    want[0, :, 3:6, 3:6] = True  # every output whose window holds the NaN
    np.testing.assert_array_equal(np.isnan(y), want)


def test_cpp_bindings_refuse_non_arrays_for_optional_arrays():
    """Defect 6: cpp kernels given a float/int/str/tuple for an optional array argument (conv2d
    bias, attention mask, lstm b_ih/b_hh) read arbitrary memory or crashed."""
    if "cpp" not in AVAILABLE:
        pytest.skip("no cpp backend")
    C = backends.get_backend("cpp").lib()
    f = np.float32
    x, w = np.ones((1, 2, 5, 5), f), np.ones((3, 2, 3, 3), f)
    q = np.ones((1, 1, 4, 8), f)
    xs, h = np.ones((3, 2, 4), f), np.ones((2, 5), f)
    wih, whh = np.ones((20, 4), f), np.ones((20, 5), f)
    for bad in (1.5, 3, "abc", (1.0, 2.0, 3.0)):
        with pytest.raises(TypeError, match="bias"):
            C.conv2d_forward(x, w, bad, (1, 1), (0, 0), (1, 1), 1, None)
        with pytest.raises(TypeError, match="mask"):
            C.attention_forward(q, q, q, bad, False, 0.5)
        with pytest.raises(TypeError, match="b_ih"):
            C.lstm_sequence_forward(xs, h, h, wih, whh, bad, None)
        with pytest.raises(TypeError, match="b_hh"):
            C.lstm_cell_forward(xs[0], h, h, wih, whh, None, bad)


@pytest.mark.parametrize("backend", [b for b in AVAILABLE if b in ("numba", "cuda")])
def test_unchecked_backends_validate_direct_calls(backend):
    """Defect 6: numba kernels checked nothing when called through fastnn.backends (a 5x2e6 `a`
    with a 4x3 `b` segfaulted; a wrong-shaped `out` was written past its end)."""
    mod = backends.get_backend(backend)
    f = np.float32
    a = np.ones((5, 7), f)
    with pytest.raises(ValueError, match="gemm: b"):
        mod.gemm(a, np.ones((4, 3), f), None, None, False, False, 1.0, 0.0, None)
    with pytest.raises(ValueError, match="gemm: out"):
        mod.gemm(a, np.ones((7, 3), f), None, None, False, False, 1.0, 0.0, np.ones((2, 2), f))
    with pytest.raises(TypeError, match="bias"):
        mod.conv2d_forward(np.ones((1, 2, 5, 5), f), np.ones((3, 2, 3, 3), f), 1.5, (1, 1),
                           (0, 0), (1, 1), 1, None)
    with pytest.raises(ValueError, match="w_hh"):
        mod.lstm_cell_forward(np.ones((2, 4), f), np.ones((2, 5), f), np.ones((2, 5), f),
                              np.ones((20, 4), f), np.ones((20, 6), f), None, None)
    with pytest.raises(ValueError, match="C-contiguous"):
        mod.gemm(np.ones((7, 5), f).T, np.ones((7, 3), f), None, None, False, False, 1.0, 0.0,
                 None)


@pytest.mark.parametrize("root", [
    "deep", {"__tensor__": "w", "device": "evil"}, {"__tuple__": 3}, {"__dict__": [[[1], 2]]},
    {"__dict__": "x"}, {"__tensor__": ["w"]}, {"__tensor__": "w", "scalar": True},
])
def test_load_malformed_metadata_raises_value_error(tmp_path, root):
    """Defect 9 (load): malformed fastnn metadata raised raw TypeError/RecursionError (deep
    nesting) instead of ValueError naming the file; device 'evil' was reported as a CuPy
    problem."""
    import json

    from safetensors.numpy import save_file

    path = tmp_path / "bad.safetensors"
    if root == "deep":  # written as text: json.dumps itself cannot nest this deep
        meta = '{"format": 1, "root": ' + "[" * 5000 + "]" * 5000 + "}"
    else:
        meta = json.dumps({"format": 1, "root": root})
    save_file({"w": np.ones(3, np.float32)}, str(path), metadata={"fastnn": meta})
    with pytest.raises(ValueError, match="bad.safetensors"):
        fastnn.load(path)


def test_attention_non_finite_inputs_agree_across_backends():
    """Defect 5: with non-finite inputs the backends disagreed on lse (+inf vs NaN)."""
    rng = np.random.default_rng(0)
    q, k, v = (rng.standard_normal((1, 2, 5, 8)).astype(np.float32) for _ in range(3))
    cases = []
    for which, pos, val in (("q", (0, 0, 1, 2), np.nan), ("k", (0, 1, 0, 0), np.inf),
                            ("k", (0, 0, 3, 1), -np.inf), ("v", (0, 1, 2, 1), np.inf)):
        t = {"q": q.copy(), "k": k.copy(), "v": v.copy()}
        t[which][pos] = val
        cases.append((t["q"], t["k"], t["v"]))
    for a, b, c in cases:
        results = {}
        for be in CPU:
            out, lse = ops.attention_forward(a, b, c, backend=be)
            grads = ops.attention_backward(np.ones_like(out), a, b, c, out, lse, backend=be)
            results[be] = (out, lse, *grads)
        ref = results.pop("reference")
        for be, res in results.items():
            for name, x, y in zip(("out", "lse", "dq", "dk", "dv"), res, ref):
                np.testing.assert_array_equal(np.isnan(x), np.isnan(y), err_msg=f"{be} {name}")
                np.testing.assert_array_equal(np.isposinf(x), np.isposinf(y),
                                              err_msg=f"{be} {name}")
                fin = np.isfinite(y)
                np.testing.assert_allclose(x[fin], y[fin], rtol=1e-4, atol=1e-4,
                                           err_msg=f"{be} {name}")


def test_nn_errors_match_torch():
    """Defect 9 (nn part): cross-entropy accepted int32/bool targets, BCELoss NaN input,
    F.embedding a 1-D weight, and MultiheadAttention gave reshape/unpack errors for a k/v length
    mismatch or a 4-D query -- where torch raises."""
    import torch

    F = fastnn.nn.functional
    x = fastnn.randn(4, 5)
    for dt in (np.int32, np.bool_):
        t = np.array([1, 0, 0, 1]).astype(dt)
        with pytest.raises(RuntimeError, match="Long or Byte"):
            F.cross_entropy(x, fastnn.tensor(t))
        with pytest.raises(RuntimeError):
            torch.nn.functional.cross_entropy(torch.randn(4, 5), torch.tensor(t))
    assert np.isfinite(F.cross_entropy(x, fastnn.tensor(np.array([1, 0, 2, 1]))).item())
    with pytest.raises(RuntimeError, match="between 0 and 1"):
        F.binary_cross_entropy(fastnn.tensor([0.5, float("nan")]), fastnn.tensor([1.0, 0.0]))
    with pytest.raises(RuntimeError, match="2-D"):
        F.embedding(fastnn.tensor([0, 1]), fastnn.randn(5))
    m = fastnn.nn.MultiheadAttention(8, 2)
    with pytest.raises(ValueError, match="does not match value shape"):
        m(fastnn.randn(3, 2, 8), fastnn.randn(4, 2, 8), fastnn.randn(5, 2, 8))
    with pytest.raises(ValueError, match="query"):
        q = fastnn.randn(3, 2, 2, 8)
        m(q, q, q)


@pytest.mark.parametrize("backend", CPU)
@pytest.mark.parametrize("channels", [2, 40])  # 40: the cpp version 3 (stride-1) path
def test_conv2d_backward_input_nan_weight_matches_torch(backend, channels):
    """Defect 3 (numba): one NaN weight made every grad_x entry NaN (torch/cpp/reference: only
    those whose taps touch real grad_out entries)."""
    import torch

    dt = np.float32 if backend != "reference" else np.float64
    rng = np.random.default_rng(1)
    w = rng.standard_normal((3, channels, 3, 3)).astype(dt)
    w[0, 0, 0, 0] = np.nan
    g = rng.standard_normal((1, 3, 5, 5)).astype(dt)
    got = ops.conv2d_backward_input(g, w, (1, channels, 5, 5), padding=1, backend=backend)
    xt = torch.zeros((1, channels, 5, 5), dtype=torch.float64, requires_grad=True)
    torch.nn.functional.conv2d(xt, torch.tensor(w, dtype=torch.float64), padding=1).backward(
        torch.tensor(g, dtype=torch.float64))
    want = xt.grad.numpy()
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    fin = np.isfinite(want)
    np.testing.assert_allclose(got[fin], want[fin], rtol=1e-4, atol=1e-4)
