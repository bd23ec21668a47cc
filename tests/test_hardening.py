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
