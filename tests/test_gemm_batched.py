"""fastnn._C.gemm_batched (csrc/gemm_batched.cpp, the per-head products of the unfused attention
path) against a float64 reference, over odd and zero sizes, both trans flags and batch counts
below and above the thread count; each head bit-identical to the 2-D gemm kernel on it."""

import itertools

import numpy as np
import pytest

from fastnn.backends import cpp

lib = cpp._C
pytestmark = pytest.mark.skipif(
    lib is None or not hasattr(lib, "gemm_batched"), reason="cpp extension without gemm_batched"
)


@pytest.mark.parametrize("n,m,k,p", [(1, 5, 3, 7), (3, 64, 32, 64), (7, 17, 1, 13),
                                     (4, 0, 5, 3), (2, 3, 0, 4), (0, 3, 4, 5), (5, 33, 65, 31)])
@pytest.mark.parametrize("ta,tb", list(itertools.product([False, True], repeat=2)))
def test_gemm_batched_matches_reference(n, m, k, p, ta, tb):
    rng = np.random.default_rng(n * 1000 + m * 10 + k)
    a = rng.standard_normal((n, k, m) if ta else (n, m, k)).astype(np.float32)
    b = rng.standard_normal((n, p, k) if tb else (n, k, p)).astype(np.float32)
    opa = a.astype(np.float64).transpose(0, 2, 1) if ta else a.astype(np.float64)
    opb = b.astype(np.float64).transpose(0, 2, 1) if tb else b.astype(np.float64)
    want = 0.5 * (opa @ opb)
    got = lib.gemm_batched(a, b, ta, tb, 0.5)
    assert got.shape == (n, m, p) and got.dtype == np.float32
    tol = 50 * np.finfo(np.float32).eps * np.sqrt(max(k, 1)) * max(np.abs(want).max(initial=1), 1)
    np.testing.assert_allclose(got, want, rtol=0, atol=tol)
    for i in range(n):  # same code per head as the 2-D kernel: same bits
        assert got[i].tobytes() == lib.gemm(a[i], b[i], None, None, ta, tb, 0.5, 0.0).tobytes()
    out = np.full((n, m, p), np.nan, np.float32)
    assert lib.gemm_batched(a, b, ta, tb, 0.5, out) is out
    np.testing.assert_array_equal(out, got)


def test_gemm_batched_rejects_bad_arguments():
    a = np.zeros((2, 3, 4), np.float32)
    with pytest.raises(ValueError, match="inner"):
        lib.gemm_batched(a, np.zeros((2, 5, 6), np.float32))
    with pytest.raises(ValueError, match="size"):
        lib.gemm_batched(a, np.zeros((3, 4, 6), np.float32))
    with pytest.raises(ValueError, match="C-contiguous"):
        lib.gemm_batched(np.zeros((2, 4, 6), np.float32)[:, :, ::2], np.zeros((2, 3, 5),
                                                                              np.float32))
    with pytest.raises(TypeError, match="float32"):
        lib.gemm_batched(a.astype(np.float64), np.zeros((2, 4, 6), np.float32))
    with pytest.raises(ValueError, match="size"):
        lib.gemm_batched(a, np.zeros((2, 4, 6), np.float32), out=np.zeros((2, 3, 5), np.float32))
