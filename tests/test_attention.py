"""Fused attention kernels (attention_forward / attention_backward) on every backend against the
float64 reference and against torch.nn.functional.scaled_dot_product_attention (output and dq,
dk, dv); masks, causal, fully masked rows, 100x scores, non-contiguous inputs; the C++ exp; the
ops API's validation; F.scaled_dot_product_attention with autograd (gradcheck, PyTorch parity,
dropout path)."""

import numpy as np
import pytest

import fastnn
from fastnn import backends, ops

from .conftest import require_native

torch = pytest.importorskip("torch")
import torch.nn.functional as TF  # noqa: E402

# A sample of the grid: L in {1, 7, 64, 100, 257} (Lq != Lk too), d in {8, 50, 64, 128},
# causal on/off, masks none / bool / float / bool with fully masked rows, scores scaled 100x
# ("big"), non-contiguous inputs. Every value of every axis appears at least once.
# (B, H, Lq, Lk, d, dv), causal, mask, big, noncontig
GRID = [
    ((2, 3, 7, 7, 8, 8), False, None, False, False),
    ((1, 2, 64, 64, 64, 64), True, None, False, True),
    ((2, 1, 100, 257, 50, 50), False, "bool", False, False),
    ((1, 2, 257, 100, 128, 64), True, "float", False, False),
    ((1, 1, 1, 7, 8, 8), False, "float", True, True),
    ((2, 2, 7, 1, 64, 8), True, None, True, False),
    ((1, 2, 100, 64, 8, 50), False, "dead", False, False),
    ((1, 1, 257, 257, 64, 64), True, "bool", True, False),
    ((2, 1, 64, 100, 128, 128), False, None, True, True),
    ((1, 1, 100, 100, 50, 50), True, "dead", False, True),
    ((1, 3, 1, 1, 8, 8), True, "bool", False, False),
    ((1, 1, 7, 257, 64, 64), False, "float", False, False),
    ((1, 1, 33, 40, 200, 256), True, "bool", False, False),  # d up to 256, any value
]
# The CUDA simulator runs every thread in Python: tiny shapes only.
CUDA_GRID = [
    ((1, 2, 7, 5, 8, 8), True, "float", False, True),
    ((1, 1, 16, 9, 5, 3), False, "dead", True, False),
    ((2, 1, 1, 7, 8, 8), False, "bool", False, False),
]


def _ids(cases):
    return ["{}-c{}-{}-big{}-nc{}".format(*c).replace(" ", "") for c in cases]


def _make(rng, shape, causal, mask, big, noncontig):
    B, H, Lq, Lk, d, dv = shape
    q = rng.standard_normal((B, H, Lq, d)) * (10.0 if big else 1.0)  # 100x the scores
    k = rng.standard_normal((B, H, Lk, d)) * (10.0 if big else 1.0)
    v = rng.standard_normal((B, H, Lk, dv))
    g = rng.standard_normal((B, H, Lq, dv))
    m = None
    if mask == "bool":
        m = rng.random((Lq, Lk)) > 0.3
    elif mask == "dead":  # every key masked for some queries; broadcast over heads
        m = rng.random((B, 1, Lq, Lk)) > 0.3
        m[:, :, ::3] = False
    elif mask == "float":
        m = rng.standard_normal((1, H, Lq, Lk)) * 2.0
    if noncontig:  # (B, L, H, d) memory seen as (B, H, L, d); v and g as strided views
        q = np.ascontiguousarray(q.transpose(0, 2, 1, 3)).transpose(0, 2, 1, 3)
        k = np.ascontiguousarray(k.transpose(0, 2, 1, 3)).transpose(0, 2, 1, 3)
        v = np.concatenate([v, v], axis=-1)[..., ::2]
    return q, k, v, g, m


def _cast(arrs, dtype):
    return [None if a is None else (a.astype(dtype) if a.dtype != np.bool_ else a) for a in arrs]


def _torch_sdpa(q, k, v, g, m, causal):
    tq, tk, tv = (torch.tensor(x, requires_grad=True) for x in (q, k, v))
    tm = None if m is None else torch.tensor(m)
    if causal:
        keep = torch.ones(q.shape[2], k.shape[2], dtype=torch.bool).tril()
        tm = (
            keep
            if tm is None
            else (tm & keep if tm.dtype == torch.bool else tm.masked_fill(~keep, float("-inf")))
        )
    out = TF.scaled_dot_product_attention(tq, tk, tv, attn_mask=tm)
    out.backward(torch.tensor(g))
    res = [out.detach().numpy(), tq.grad.numpy(), tk.grad.numpy(), tv.grad.numpy()]
    return [np.nan_to_num(r) for r in res]  # torch may give NaN on fully masked rows


def _run(backend, q, k, v, g, m, causal):
    out, lse = ops.attention_forward(q, k, v, m, causal, backend=backend)
    dq, dk, dv = ops.attention_backward(g, q, k, v, out, lse, m, causal, backend=backend)
    return [out, dq, dk, dv], lse


def _check_case(backend, case, dtype, rng):
    shape, causal, mask, big, noncontig = case
    q, k, v, g, m = _make(rng, shape, causal, mask, big, noncontig)
    ref, ref_lse = _run("reference", *(_cast([q, k, v, g, m], np.float64)), causal)
    got, lse = _run(backend, *_cast([q, k, v, g, m], dtype), causal)
    names = ["out", "dq", "dk", "dv"]
    for name, a, r in zip(names, got, ref):
        assert a.dtype == dtype and a.shape == r.shape, name
        assert np.isfinite(a).all(), f"{name}: NaN/Inf"
    # fully masked rows: out = 0, lse = +inf
    np.testing.assert_array_equal(np.isinf(lse), np.isinf(ref_lse))
    if np.dtype(dtype) == np.float64:
        for name, a, r in zip(names, got, ref):
            np.testing.assert_allclose(
                a, r, rtol=1e-9, atol=1e-9 * max(1, np.abs(r).max()), err_msg=name
            )
        return
    # float32: FlashAttention's rule -- at most twice PyTorch's own float32 error against the
    # float64 oracle, plus a floor of 2e-5 of the result's scale (float32 accumulation).
    tch = _torch_sdpa(*_cast([q, k, v, g, m], np.float32), causal)
    for name, a, r, t in zip(names, got, ref, tch):
        scale = max(1.0, float(np.abs(r).max()))
        terr = float(np.abs(t - r).max())
        err = float(np.abs(a - r).max())
        assert err <= 2 * terr + 2e-5 * scale, f"{name}: error {err:.3g} vs torch's {terr:.3g}"
        assert float(np.abs(a - t).max()) <= 3 * terr + 2e-5 * scale, f"{name} vs torch"


@pytest.mark.parametrize("case", GRID, ids=_ids(GRID))
def test_attention_kernels(backend, case):
    require_native(backend, "attention_forward")
    if backend == "cuda":
        pytest.skip("cuda runs the tiny CUDA_GRID in the simulator")
    rng = np.random.default_rng(7)
    _check_case(backend, case, np.float32, rng)


@pytest.mark.parametrize("case", GRID[:6], ids=_ids(GRID[:6]))
def test_attention_kernels_float64(backend, case):
    require_native(backend, "attention_forward")
    if "float64" not in backends.get_backend(backend).DTYPES:
        pytest.skip(f"{backend} is float32 only")
    _check_case(backend, case, np.float64, np.random.default_rng(8))


@pytest.mark.parametrize("case", CUDA_GRID, ids=_ids(CUDA_GRID))
def test_attention_cuda_simulator(case):
    if not backends.available("cuda")[0]:
        pytest.skip(backends.available("cuda")[1])
    _check_case("cuda", case, np.float32, np.random.default_rng(9))


@pytest.mark.parametrize(
    "shape",
    [
        (0, 2, 5, 5, 8, 8),
        (1, 2, 0, 5, 8, 8),
        (1, 2, 5, 0, 8, 8),
        (1, 1, 3, 4, 0, 5),
        (1, 1, 3, 4, 8, 0),
    ],
)
def test_attention_zero_size(backend, shape):
    B, H, Lq, Lk, d, dv = shape
    rng = np.random.default_rng(0)
    q = rng.standard_normal((B, H, Lq, d)).astype(np.float32)
    k = rng.standard_normal((B, H, Lk, d)).astype(np.float32)
    v = rng.standard_normal((B, H, Lk, dv)).astype(np.float32)
    out, lse = ops.attention_forward(q, k, v, backend=backend)
    ref, ref_lse = ops.attention_forward(q, k, v, backend="reference")
    np.testing.assert_allclose(out, ref, atol=1e-5)
    np.testing.assert_array_equal(np.isinf(lse), np.isinf(ref_lse))
    g = np.ones_like(out)
    for a, r in zip(
        ops.attention_backward(g, q, k, v, out, lse, backend=backend),
        ops.attention_backward(g, q, k, v, ref, ref_lse, backend="reference"),
    ):
        assert a.shape == r.shape
        np.testing.assert_allclose(a, r, atol=1e-5)


def test_attention_nan_propagates(backend):
    q = np.ones((1, 1, 3, 4), np.float32)
    q[0, 0, 1, 2] = np.nan
    out, _ = ops.attention_forward(
        q, np.ones((1, 1, 5, 4), np.float32), np.ones((1, 1, 5, 4), np.float32), backend=backend
    )
    assert np.isnan(out[0, 0, 1]).all() and np.isfinite(out[0, 0, [0, 2]]).all()


def test_cpp_exp_accuracy():
    require_native("cpp", "attention_forward")
    lib = backends.get_backend("cpp").lib()
    x = np.concatenate(
        [np.linspace(-90, 0, 200001), np.linspace(0, 88, 2001), [-87.3, -87.4, -1e30]]
    ).astype(np.float32)
    y = lib.attention_exp_test(x)
    r = np.exp(x.astype(np.float64))
    ok = r > 1.2e-38  # normal range; below it the kernels' exp gives 0 (flushed)
    rel = np.abs(y[ok] - r[ok]) / r[ok]
    assert rel.max() < 5e-7, rel.max()
    assert (y[~ok] <= 1.2e-38).all()
    special = lib.attention_exp_test(np.array([-np.inf, np.nan, 0.0], np.float32))
    assert special[0] == 0.0 and np.isnan(special[1]) and special[2] == 1.0


def test_attention_mask_forms():
    rng = np.random.default_rng(3)
    q = rng.standard_normal((2, 3, 5, 8)).astype(np.float32)
    k = rng.standard_normal((2, 3, 6, 8)).astype(np.float32)
    v = rng.standard_normal((2, 3, 6, 4)).astype(np.float32)
    full = rng.random((2, 3, 5, 6)) > 0.4
    want = ops.attention(q, k, v, full, backend="reference")
    got = ops.attention(q, k, v, full)
    np.testing.assert_allclose(got, want, atol=1e-5)
    for m in (full[0, 0], full[:, :1], full[:1, 1:2], full[0, 0, :1]):  # broadcastable forms
        want = ops.attention(q, k, v, np.broadcast_to(m, full.shape).copy(), backend="reference")
        np.testing.assert_allclose(ops.attention(q, k, v, m), want, atol=1e-5)
    # 3-D inputs (N, L, d) and an additive float mask equal to the bool one
    add = np.where(full, 0.0, -np.inf).astype(np.float32)
    np.testing.assert_allclose(
        ops.attention(q[0], k[0], v[0], add[0]), ops.attention(q[0], k[0], v[0], full[0]), atol=1e-6
    )


def test_attention_validation():
    q = np.zeros((1, 2, 3, 4), np.float32)
    with pytest.raises(TypeError, match="q"):
        ops.attention([[1.0]], q, q)
    with pytest.raises(TypeError, match="k"):
        ops.attention(q, q.astype(np.float64), q)
    with pytest.raises(ValueError, match="k"):
        ops.attention(q, np.zeros((1, 2, 3, 5), np.float32), q)
    with pytest.raises(ValueError, match="v"):
        ops.attention(q, q, np.zeros((1, 2, 4, 4), np.float32))
    with pytest.raises(ValueError, match="k, v"):
        ops.attention(q, np.zeros((1, 3, 3, 4), np.float32), np.zeros((1, 3, 3, 4), np.float32))
    with pytest.raises(ValueError, match="mask"):
        ops.attention(q, q, q, np.ones((2, 3), bool))
    with pytest.raises(TypeError, match="mask"):
        ops.attention(q, q, q, np.ones((3, 3), np.int64))
    with pytest.raises(TypeError, match="causal"):
        ops.attention(q, q, q, causal="yes")
    with pytest.raises(ValueError, match="dropout_p"):
        ops.attention(q, q, q, dropout_p=1.5)
    require_native("cpp", "attention_forward")
    lib = backends.get_backend("cpp").lib()
    with pytest.raises(ValueError, match="k"):  # the extension re-checks what it indexes
        lib.attention_forward(q, np.zeros((1, 2, 3, 5), np.float32), q, None, False, 1.0)
    with pytest.raises(TypeError, match="v"):
        lib.attention_forward(q, q, q.astype(np.float64), None, False, 1.0)
    with pytest.raises(ValueError, match="mask"):
        lib.attention_forward(q, q, q, np.zeros((3, 1, 3, 3), np.float32), False, 1.0)


# ------------------------------------------------------------------- functional + autograd
F = pytest.importorskip("fastnn.nn.functional")


@pytest.mark.parametrize(
    "causal,mask", [(False, None), (True, None), (False, "bool"), (False, "float")]
)
def test_sdpa_matches_torch(causal, mask):
    rng = np.random.default_rng(11)
    q, k, v = (
        rng.standard_normal(s).astype(np.float32)
        for s in [(2, 3, 9, 16), (2, 3, 11, 16), (2, 3, 11, 8)]
    )
    m = (
        None
        if mask is None
        else (
            rng.random((9, 11)) > 0.3
            if mask == "bool"
            else rng.standard_normal((3, 9, 11)).astype(np.float32)
        )
    )
    fq, fk, fv = (fastnn.tensor(x, requires_grad=True) for x in (q, k, v))
    tq, tk, tv = (torch.tensor(x, requires_grad=True) for x in (q, k, v))
    fo = F.scaled_dot_product_attention(
        fq, fk, fv, None if m is None else fastnn.tensor(m), is_causal=causal, scale=0.3
    )
    to = TF.scaled_dot_product_attention(
        tq, tk, tv, None if m is None else torch.tensor(m), is_causal=causal, scale=0.3
    )
    g = rng.standard_normal(to.shape).astype(np.float32)
    fo.backward(fastnn.tensor(g))
    to.backward(torch.tensor(g))
    np.testing.assert_allclose(fo.detach().numpy(), to.detach().numpy(), atol=1e-5)
    for a, b in zip((fq, fk, fv), (tq, tk, tv)):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), atol=2e-5)


def test_sdpa_gradcheck_and_gqa():
    from fastnn.autograd import gradcheck

    rng = np.random.default_rng(12)
    q, k, v = (
        fastnn.tensor(rng.standard_normal(s), requires_grad=True)
        for s in [(1, 2, 4, 3), (1, 2, 5, 3), (1, 2, 5, 2)]
    )
    m = fastnn.tensor(rng.random((4, 5)) > 0.3)
    assert gradcheck(lambda a, b, c: F.scaled_dot_product_attention(a, b, c, m), (q, k, v))
    assert gradcheck(
        lambda a, b, c: F.scaled_dot_product_attention(a, b, c, is_causal=True), (q, k, v)
    )
    q4, k2 = rng.standard_normal((2, 4, 5, 8)), rng.standard_normal((2, 2, 6, 8))
    fo = F.scaled_dot_product_attention(
        fastnn.tensor(q4), fastnn.tensor(k2), fastnn.tensor(k2), enable_gqa=True
    )
    to = TF.scaled_dot_product_attention(
        torch.tensor(q4), torch.tensor(k2), torch.tensor(k2), enable_gqa=True
    )
    np.testing.assert_allclose(fo.numpy(), to.numpy(), atol=1e-10)
    with pytest.raises(ValueError, match="attn_mask"):
        F.scaled_dot_product_attention(q, k, v, m, is_causal=True)


def test_sdpa_dropout_composed_path():
    rng = np.random.default_rng(13)
    # float32: the composed path's matmuls then run on the cpp gemm (no float64 JIT compile)
    q, k, v = (rng.standard_normal((1, 2, 6, 4)).astype(np.float32) for _ in range(3))
    fq, fk, fv = (fastnn.tensor(x, requires_grad=True) for x in (q, k, v))
    fastnn.manual_seed(5)
    o1 = F.scaled_dot_product_attention(fq, fk, fv, dropout_p=0.5)
    fastnn.manual_seed(5)
    o2 = F.scaled_dot_product_attention(fq, fk, fv, dropout_p=0.5)
    np.testing.assert_array_equal(o1.detach().numpy(), o2.detach().numpy())  # seeded
    assert not np.allclose(
        o1.detach().numpy(), F.scaled_dot_product_attention(fq, fk, fv).detach().numpy()
    )
    # the same keep mask through torch's math: softmax, * keep, @ v
    fastnn.manual_seed(5)
    _, probs, keep = ops.attention_dropout_forward(q, k, v, dropout_p=0.5)
    tq, tk, tv = (torch.tensor(x, requires_grad=True) for x in (q, k, v))
    to = (torch.softmax(tq @ tk.transpose(-1, -2) * 0.5, -1) * torch.tensor(keep)) @ tv
    np.testing.assert_allclose(o1.detach().numpy(), to.detach().numpy(), atol=1e-5)
    g = rng.standard_normal(to.shape).astype(np.float32)
    o1.backward(fastnn.tensor(g))
    to.backward(torch.tensor(g))
    for a, b in zip((fq, fk, fv), (tq, tk, tv)):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), atol=2e-5)


# ------------------------------------------- the spec's grid, every backend and version; gradcheck

from fastnn.bench.specs import attention as spec  # noqa: E402
from fastnn.functions.attention import AttentionFunction  # noqa: E402

from .conftest import F64_BACKENDS, check_kernel_case, gradcheck_function, kernel_params  # noqa: E402,I001


@pytest.mark.parametrize("backend,version,dtype,case", kernel_params(spec.test_cases()))
def test_attention_kernel_spec(backend, version, dtype, case):
    check_kernel_case(backend, version, dtype, case)


@pytest.mark.parametrize("backend", F64_BACKENDS)
@pytest.mark.parametrize("mask", [None, "float", "dead"])
@pytest.mark.parametrize("causal", [False, True])
def test_attention_function_gradcheck(backend, mask, causal):
    # (B, H, Lq, D), (B, H, Lk, D), (B, H, Lk, Dv): Lq != Lk and D != Dv
    shapes = [(1, 2, 3, 4), (1, 2, 5, 4), (1, 2, 5, 3)]
    m = None
    if mask is not None:
        m = np.random.default_rng(1).standard_normal((1, 2, 3, 5))
        if mask == "dead":  # -inf at some keys (key 0 stays open) and one fully masked row
            m[..., 1::2] = -np.inf
            m[0, 1, 2, :] = -np.inf
    gradcheck_function(
        backend, lambda q, k, v, mask=None: AttentionFunction.apply(q, k, v, mask, causal, 0.7),
        shapes, mask=m,
    )
