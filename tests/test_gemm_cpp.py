"""C++-specific GEMM tests: every ISA variant of the extension (forced in a subprocess), direct
calls of the extension with bad input, zero-size and edge-tile shapes, the threading threshold, the
single-thread path, and the roof micro-benchmarks. The cross-backend grid is tests/test_gemm.py."""

import importlib
import importlib.util
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fastnn
from fastnn.backends.cpp import _loader

ROOT = Path(__file__).resolve().parents[1]
LEVELS = ("baseline", "avx2", "avx512")


def _ext():
    try:
        return _loader.load()
    except Exception as exc:  # noqa: BLE001 - the reason is the skip message
        pytest.skip(f"C++ extension unavailable: {exc}")


def _erf(x):
    return np.vectorize(math.erf, otypes=[np.float64])(x)


ACTS = {
    None: lambda x: x,
    "relu": lambda x: np.maximum(x, 0),
    "gelu": lambda x: 0.5 * x * (1 + _erf(x / np.sqrt(2))),
    "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
    "tanh": np.tanh,
}


def reference(a, b, bias=None, act=None, ta=False, tb=False, alpha=1.0, beta=0.0, out=None):
    r = alpha * ((a.T if ta else a).astype(np.float64) @ (b.T if tb else b).astype(np.float64))
    if beta:
        r = r + beta * out.astype(np.float64)
    if bias is not None:
        r = r + bias
    return ACTS[act](r)


def operands(rng, M, N, K, ta=False, tb=False):
    a = rng.standard_normal((K, M) if ta else (M, K), dtype=np.float32)
    b = rng.standard_normal((N, K) if tb else (K, N), dtype=np.float32)
    return a, b


def assert_close(got, ref, K):
    # float32 accumulation: error grows like sqrt(K) * eps * |a||b|; unit-normal inputs
    tol = 2e-6 * (8 + np.sqrt(max(K, 1)))
    np.testing.assert_allclose(got, ref, rtol=tol, atol=tol * np.sqrt(max(K, 1)))


# ---------------------------------------------------------------------------------- ISA variants

# Run inside a subprocess with FASTNN_CPU_CAPABILITY forced: the shapes cross the micro-tile edges
# of every variant (MR = 6 rows; NR = 8 / 16 / 64 columns; KC = 256 depth), the thread threshold,
# both transposes, every activation, bias, alpha/beta.
VARIANT_SCRIPT = r"""
import sys
import numpy as np
sys.path.insert(0, {root!r})
from tests.test_gemm_cpp import operands, reference, assert_close, ACTS
from fastnn.backends.cpp import _loader
C = _loader.load()
assert C.ISA == {level!r}, C.ISA
rng = np.random.default_rng(7)
shapes = [(1, 1, 1), (17, 31, 13), (6, 64, 256), (7, 65, 257), (5, 9, 3), (13, 130, 600),
          (97, 96, 95), (33, 10, 256), (2, 300, 40)]
n = 0
for M, N, K in shapes:
    for ta in (False, True):
        for tb in (False, True):
            a, b = operands(rng, M, N, K, ta, tb)
            for act in ACTS:
                bias = rng.standard_normal(N, dtype=np.float32) if act else None
                got = C.gemm(a, b, bias, act, ta, tb, 1.0, 0.0, None)
                assert got.dtype == np.float32 and got.shape == (M, N)
                assert_close(got, reference(a, b, bias, act, ta, tb), K)
                n += 1
            out = rng.standard_normal((M, N), dtype=np.float32)
            old = out.copy()
            got = C.gemm(a, b, None, None, ta, tb, -0.5, 1.5, out)
            assert got is out
            assert_close(out, reference(a, b, None, None, ta, tb, -0.5, 1.5, old), K)
            n += 1
print("ok", n)
"""


def _variant_env(level):
    env = dict(os.environ, FASTNN_CPU_CAPABILITY=level)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    return env


def _run_python(args, level, timeout=60):
    """A fresh interpreter (so the loader's choice is made anew) with FASTNN_CPU_CAPABILITY=level;
    fails the test with its stderr if it does not exit 0."""
    res = subprocess.run(
        [sys.executable, *args],
        env=_variant_env(level),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    return res.stdout


@pytest.mark.parametrize("level", LEVELS)
def test_isa_variant_matches_float64(level):
    base = _ext()
    if not base.cpu_supports(level):
        pytest.skip(f"this CPU lacks {level}")
    if not _loader._built(level):
        pytest.skip(f"fastnn._C_{level} is not built here (FASTNN_ISA_VARIANTS build)")
    script = VARIANT_SCRIPT.format(root=str(ROOT), level=level)
    out = _run_python(["-c", script], level, timeout=120)
    assert out.startswith("ok"), out


def test_info_never_imports_a_variant():
    """`python -m fastnn info` lists the built variants without importing them: importing a variant
    built for an ISA the CPU lacks dies with SIGILL (seen on an AVX2-only EPYC with the avx512
    variant built). The listing must touch no module but the one load() chooses (the cpp backend
    binds it when fastnn is imported) and the baseline one (it answers the CPU-feature query)."""
    _ext()
    script = (
        "import sys\n"
        "from fastnn.backends.cpp import _loader\n"
        "levels = _loader.built_levels()\n"
        "print(levels)\n"
        "print(_loader.load().ISA)\n"
        "print(' '.join(sorted(k for k in sys.modules if k.startswith('fastnn._C'))))\n"
    )
    out = _run_python(["-c", script], "", timeout=60)
    levels, chosen, loaded = out.strip().splitlines()[-3:]
    assert "'baseline'" in levels, out
    assert set(loaded.split()) <= {"fastnn._C", "fastnn._C_baseline", f"fastnn._C_{chosen}"}, out
    out = _run_python(["-m", "fastnn", "info"], "", timeout=120)
    assert "C++ ISA level" in out


def test_a_broken_variant_is_an_error_not_a_silent_fallback(monkeypatch):
    """A variant the CPU runs that is installed but fails to import (seen: a parallel build put
    the baseline objects into _C_avx2.so) must not quietly hand out a slower variant."""
    base = _ext()
    best = next(lv for lv in _loader.LEVELS if base.cpu_supports(lv) and _loader._built(lv))
    if best == "baseline":
        pytest.skip("only the baseline variant runs here")
    real = _loader._import

    def fake(level):
        if level == best:
            raise ImportError("dynamic module does not define module export function")
        return real(level)

    monkeypatch.setattr(_loader, "_import", fake)
    monkeypatch.delenv("FASTNN_CPU_CAPABILITY", raising=False)
    with pytest.raises(ImportError, match=f"fastnn._C_{best} is installed but does not import"):
        _loader._choose()


def test_bogus_capability_is_a_clear_error():
    _ext()
    script = (
        "from fastnn.backends.cpp import _loader\n"
        "try:\n    _loader.load()\nexcept _loader.CapabilityError as e:\n    print('ERR', e)\n"
    )
    out = _run_python(["-c", script], "bogus", timeout=60)
    assert out.startswith("ERR") and "FASTNN_CPU_CAPABILITY" in out, out
    assert "bogus" in out and "avx512" in out  # names the value and the choices


# ------------------------------------------------------------------------------------- bad input


def _bad_cases():
    f = np.float32
    a, b = np.ones((4, 5), f), np.ones((5, 3), f)
    ro = np.zeros((4, 3), f)
    ro.flags.writeable = False
    return [
        ("a", TypeError, (a.astype(np.float64), b), {}),
        ("a", TypeError, (a.astype(np.int32), b), {}),
        ("b", TypeError, (a, b.astype(np.float64)), {}),
        ("a", ValueError, (np.ones(5, f), b), {}),
        ("a", ValueError, (np.ones((2, 4, 5), f), b), {}),
        ("a", ValueError, (np.ones((4, 10), f)[:, ::2], b), {}),
        ("b", ValueError, (a, np.ones((5, 6), f)[:, ::2]), {}),
        ("b", ValueError, (a, np.ones((6, 3), f)), {}),
        ("b", ValueError, (a, b), {"trans_b": True}),
        ("bias", ValueError, (a, b), {"bias": np.ones(4, f)}),
        ("bias", TypeError, (a, b), {"bias": np.ones(3, np.float64)}),
        ("bias", TypeError, (a, b), {"bias": [1.0, 2.0, 3.0]}),
        ("bias", ValueError, (a, b), {"bias": np.ones((1, 3), f)}),
        ("activation", ValueError, (a, b), {"activation": "swish"}),
        ("activation", TypeError, (a, b), {"activation": 3}),
        ("out", ValueError, (a, b), {"out": np.zeros((3, 4), f)}),
        ("out", ValueError, (a, b), {"out": ro}),
        ("out", TypeError, (a, b), {"out": np.zeros((4, 3), np.float64)}),
        ("out", ValueError, (a, b), {"out": np.zeros((4, 6), f)[:, ::2]}),
        ("out", TypeError, (a, b), {"out": [[0.0] * 3] * 4}),
    ]


@pytest.mark.parametrize("name,exc,args,kwargs", _bad_cases())
def test_bad_input_names_the_argument(name, exc, args, kwargs):
    C = _ext()
    with pytest.raises(exc, match=rf"^{name}\b"):
        C.gemm(*args, **kwargs)


def test_non_array_operand_is_type_error():
    C = _ext()
    with pytest.raises(TypeError):
        C.gemm([[1.0]], np.ones((1, 1), np.float32))


# ------------------------------------------------------------------------------- shapes, threads


@pytest.mark.parametrize("M,N,K", [(0, 5, 3), (4, 0, 3), (0, 0, 0), (4, 5, 0), (1, 1, 0)])
def test_zero_size_dims(M, N, K, rng):
    C = _ext()
    a, b = operands(rng, M, N, K)
    got = C.gemm(a, b)
    assert got.shape == (M, N)
    np.testing.assert_array_equal(got, np.zeros((M, N), np.float32))
    # K == 0: act(beta * out + bias), even with NaN in out when beta == 0
    bias = rng.standard_normal(N, dtype=np.float32)
    out = np.full((M, N), np.nan, np.float32)
    C.gemm(a, b, bias, "relu", out=out)
    np.testing.assert_allclose(out, np.broadcast_to(np.maximum(bias, 0), (M, N)))
    out = np.ones((M, N), np.float32)
    C.gemm(a, b, bias, "tanh", False, False, 1.0, 2.0, out)
    np.testing.assert_allclose(out, np.tanh(2.0 + np.broadcast_to(bias, (M, N))), rtol=1e-6)


@pytest.mark.parametrize("ta", [False, True])
@pytest.mark.parametrize("tb", [False, True])
def test_large_ish_300x257x129(ta, tb, rng):
    C = _ext()
    a, b = operands(rng, 300, 257, 129, ta, tb)
    bias = rng.standard_normal(257, dtype=np.float32)
    assert_close(C.gemm(a, b, bias, "gelu", ta, tb), reference(a, b, bias, "gelu", ta, tb), 129)


def test_beta_zero_ignores_nan_in_out(rng):
    C = _ext()
    a, b = operands(rng, 70, 90, 300)  # two depth passes: the second accumulates into out
    out = np.full((70, 90), np.nan, np.float32)
    C.gemm(a, b, None, None, False, False, 1.0, 0.0, out)
    assert_close(out, reference(a, b), 300)


# The size threshold for threads is 2*96^3 flops; cubes around it, and shapes whose work crosses
# it through one long dimension (small M: split over N; small N: split over M).
@pytest.mark.parametrize(
    "M,N,K",
    [
        (95, 95, 95),
        (96, 96, 96),
        (97, 97, 97),
        (8, 8, 8),
        (64, 64, 64),
        (2, 1000, 900),
        (900, 3, 700),
        (40, 70, 700),
    ],
)
def test_threshold_and_single_thread_equal(M, N, K, rng):
    C = _ext()
    a, b = operands(rng, M, N, K)
    bias = rng.standard_normal(N, dtype=np.float32)
    fastnn.set_num_threads(2)
    two = C.gemm(a, b, bias, "relu")
    fastnn.set_num_threads(1)
    one = C.gemm(a, b, bias, "relu")
    assert_close(one, reference(a, b, bias, "relu"), K)
    # every output element is accumulated in the same order whichever thread computes it
    np.testing.assert_array_equal(one, two)


def test_threads_split_transposed(rng):
    C = _ext()
    a, b = operands(rng, 200, 333, 300, True, True)
    fastnn.set_num_threads(2)
    two = C.gemm(a, b, None, "sigmoid", True, True)
    fastnn.set_num_threads(1)
    one = C.gemm(a, b, None, "sigmoid", True, True)
    np.testing.assert_array_equal(one, two)
    assert_close(one, reference(a, b, None, "sigmoid", True, True), 300)


# nanoGPT's CPU recipe (768 rows, n_embd 128, vocab 65) as fastnn's Linear calls gemm:
# forward x W^T (NT), dX = dY W (NN), dW = dY^T X (TN); benchmarks/gemm_shapes_ab.py times them
_NANOGPT_LIN = [(128, 384), (128, 128), (128, 512), (512, 128), (128, 65)]  # (in, out)


@pytest.mark.parametrize(
    "M, N, K, ta, tb",
    [(768, o, i, False, True) for i, o in _NANOGPT_LIN]
    + [(768, i, o, False, False) for i, o in _NANOGPT_LIN]
    + [(o, i, 768, True, False) for i, o in _NANOGPT_LIN],
)
def test_training_shapes_match_reference_at_1_and_2_threads(M, N, K, ta, tb, rng):
    C = _ext()
    a, b = operands(rng, M, N, K, ta, tb)
    bias = rng.standard_normal(N, dtype=np.float32)
    fastnn.set_num_threads(2)
    two = C.gemm(a, b, bias, None, ta, tb)
    fastnn.set_num_threads(1)
    one = C.gemm(a, b, bias, None, ta, tb)
    assert_close(one, reference(a, b, bias, None, ta, tb), K)
    np.testing.assert_array_equal(one, two)


def test_backend_adapter_and_ops_use_the_extension(rng):
    _ext()
    cpp_gemm = importlib.import_module("fastnn.backends.cpp")  # binds the extension's `gemm`
    assert cpp_gemm.gemm is cpp_gemm.lib().gemm
    a, b = operands(rng, 9, 11, 7)
    assert_close(cpp_gemm.gemm(a, b, None, None, False, False, 1.0, 0.0, None), reference(a, b), 7)
    assert_close(fastnn.ops.gemm(a.T.copy().T, b, backend="cpp"), reference(a, b), 7)


# ---------------------------------------------------------------------------------------- roofs


def test_roof_functions_positive_finite():
    C = _ext()
    fma = C.roof_fma(0.02, 1)
    assert math.isfinite(fma) and fma > 0.5  # GFLOP/s; even the baseline SSE loop does more
    assert math.isfinite(C.roof_fma(0.02)) and C.roof_fma(0.02) > 0
    bw = C.roof_copy(1 << 22, 2)
    assert math.isfinite(bw) and bw > 0.05  # GB/s
    with pytest.raises(ValueError, match="^seconds"):
        C.roof_fma(-1.0)
    with pytest.raises(ValueError, match="^threads"):
        C.roof_fma(0.01, -2)
    with pytest.raises(ValueError, match="^nbytes"):
        C.roof_copy(16)
    with pytest.raises(ValueError, match="^reps"):
        C.roof_copy(1 << 20, 0)
