"""Shared fixtures. Without a GPU the cuda backend is tested in Numba's CUDA simulator: that has to
be decided before numba is first imported, hence the environment set at the top."""

import os
import shutil

if shutil.which("nvidia-smi") is None:
    os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import fastnn  # noqa: E402
from fastnn import backends  # noqa: E402

AVAILABLE = [n for n in backends.names() if backends.available(n)[0]]


@pytest.fixture(params=AVAILABLE)
def backend(request):
    """Every available backend by name (cuda runs in the simulator on machines without a GPU)."""
    return request.param


def require_native(backend_name: str, kernel: str):
    """Skip (with the reason) when ``backend_name`` has no own ``kernel`` (it would test the
    reference fallback against itself)."""
    mod = backends.get_backend(backend_name)
    if not callable(getattr(mod, kernel, None)):
        pytest.skip(f"{backend_name} has no native {kernel} kernel yet")


def tol(dtype, backend_name=None):
    """(rtol, atol) for comparing with the float64 reference: float32 accumulation error grows
    with K, so tolerances are relative to the result's scale."""
    if np.dtype(dtype) == np.float64:
        return 1e-10, 1e-10
    return 2e-4, 2e-4


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture(autouse=True)
def _restore_threads():
    n = fastnn.get_num_threads()
    yield
    if fastnn.get_num_threads() != n:
        fastnn.set_num_threads(n)


# ------------------------------------------------------------ kernel tests driven by the spec
# Each family's spec (fastnn/bench/specs/<family>.py) lists its correctness grid in test_cases():
# the same Case objects -- inputs, contract call, float64 reference, PyTorch twin, tolerance --
# that `python -m fastnn bench` and benchmarks/bench_<family>.py validate before timing.

# The CUDA simulator runs every GPU thread as a Python thread: only cases this small run there.
SIMULATOR_FLOPS = 2e4


class _Versioned:
    """A backend module whose ``kernel`` is one registered version (the rest pass through)."""

    def __init__(self, mod, kernel, fn):
        self._mod, self._kernel, self._fn = mod, kernel, fn

    def __getattr__(self, name):
        return self._fn if name == self._kernel else getattr(self._mod, name)


def kernel_params(cases):
    """pytest params (backend, version, dtype, case) for every backend in ``backends.names()``
    on its automatic choice (version None) in each dtype it supports, and every version it
    registers for a kernel ``case`` calls, as ``(kernel, version)``, in float32."""
    params = []
    for name in backends.names():
        mod = backends._modules[name]
        registered = backends.versions(name)
        for case in cases:
            cid = case.size.replace(" ", "_")
            for dtype in mod.DTYPES:
                params.append(pytest.param(name, None, dtype, case, id=f"{name}-{dtype}-{cid}"))
            for kernel in case.kernels:
                for v in registered[kernel].choices if kernel in registered else ():
                    params.append(
                        pytest.param(name, (kernel, v), "float32", case, id=f"{name}-{v}-{cid}")
                    )
    return params


def check_kernel_case(backend_name, version, dtype, case, seed=0):
    """Run ``case`` on one backend (and version) in ``dtype``: every output against the float64
    reference within the spec's tolerance, and in float32 against PyTorch as well."""
    from fastnn._util import simulated
    from fastnn.bench.harness import Contender, _runner
    from fastnn.bench.specs.base import (
        Unavailable,
        f64,
        native,
        optional,
        rel_error,
        to_numpy,
        tolerance,
    )

    ok, why = backends.available(backend_name)
    if not ok:
        pytest.skip(f"backend {backend_name} unavailable: {why}")
    mod = backends.get_backend(backend_name)
    if version is not None:
        kernel, v = version
        mod = _Versioned(mod, kernel, backends.versions(backend_name)[kernel].choices[v].fn)
    missing = native(mod, case.kernels)
    if missing:
        pytest.skip(missing)  # it would test the reference fallback against itself
    if mod.DEVICE == "cuda" and simulated() and case.flops > SIMULATOR_FLOPS:
        pytest.skip(f"{case.flops:.0f} FLOPs is too slow for the CUDA simulator")
    x = case.make(np.random.default_rng(seed))
    if np.dtype(dtype) == np.float64:
        x = f64(x)
    want = case.expect(x)
    # the simulator takes NumPy arrays; a real GPU gets CuPy copies (the bench's own transfer)
    device = "cpu" if simulated() else mod.DEVICE
    try:
        run = _runner(case, Contender(backend_name, "fastnn", device, mod), x)
    except Unavailable as exc:
        pytest.skip(str(exc))
    got = run()
    got = tuple(to_numpy(g) for g in (got if isinstance(got, (tuple, list)) else (got,)))
    for i, g in enumerate(got):
        if g is not None and g.dtype.kind == "f":
            assert g.dtype == np.dtype(dtype), f"output {i}: dtype {g.dtype}, expected {dtype}"
    tol, reason = tolerance(case.reduction, dtype)
    err = rel_error(got, want)
    assert err <= tol, f"{case.label}: max rel error {err:.3g} vs float64 > {tol:.3g} ({reason})"
    torch, _ = optional("torch")
    empty = any(isinstance(a, np.ndarray) and a.size == 0 for a in x.values())
    # float32 only (the backward cases carry float32 forward state that PyTorch recomputes);
    # empty inputs only against the reference (PyTorch rejects an empty LSTM sequence, and
    # attention over no keys is NaN there, 0 in the contract)
    if torch is None or np.dtype(dtype) != np.float32 or empty or "torch" not in case.refs:
        return
    theirs = tuple(to_numpy(t) for t in case.refs["torch"](x, "cpu")())
    err = rel_error(got[: len(theirs)], theirs)
    # both sides are float32 within tol of the exact result: they may differ by twice that
    assert err <= 2 * tol, f"{case.label}: max rel error {err:.3g} vs PyTorch > {2 * tol:.3g}"


# float64 runs on these (gradcheck's central differences need it)
F64_BACKENDS = [n for n in AVAILABLE if "float64" in backends.get_backend(n).DTYPES]


def gradcheck_function(backend_name, fn, shapes, seed=0, grad=None, **arrays):
    """``fastnn.autograd.gradcheck`` of ``fn(*tensors)`` on ``backend_name`` in float64: one
    standard-normal tensor requiring grad per shape (None: an input passed as None), then the
    ``arrays`` given by name as constants. ``grad`` flags which inputs require grad."""
    from fastnn.autograd import gradcheck

    rng = np.random.default_rng(seed)
    flags = grad or [True] * len(shapes)
    inputs = [
        None if s is None else fastnn.wrap(rng.standard_normal(s), requires_grad=f)
        for s, f in zip(shapes, flags)
    ]
    with backends.use(backend_name):
        assert gradcheck(lambda *t: fn(*t, **arrays), inputs, eps=1e-6, atol=1e-6, rtol=1e-4)
