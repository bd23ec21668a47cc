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
