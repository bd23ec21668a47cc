"""The kernel contract and backend selection: discovery, availability reasons, explicit requests,
no silent downgrade, the op x backend table, `python -m fastnn info`."""

import inspect
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import fastnn
from fastnn import backends
from fastnn.backends import contract

from .conftest import AVAILABLE


def _contract_params(kernel):
    return list(inspect.signature(getattr(contract, kernel)).parameters)


@pytest.mark.parametrize("name", AVAILABLE)
def test_backend_kernels_match_contract_signatures(name):
    mod = backends.get_backend(name)
    assert mod.NAME == name and mod.DEVICE in ("cpu", "cuda")
    for kernel in backends.KERNELS:
        fn = getattr(mod, kernel, None)
        if fn is None:
            continue
        got = _params(fn)
        want = _contract_params(kernel)
        # a binding may add trailing optional arguments of its own (cpp conv2d: version="auto")
        assert got[: len(want)] == want and set(got[len(want):]) <= {"version"}, (
            f"{name}.{kernel} parameters {got}")


def _params(fn) -> list:
    """Parameter names of a Python function, or of a pybind11 function from the signature line
    pybind11 writes at the top of its docstring."""
    try:
        return list(inspect.signature(fn).parameters)
    except ValueError:
        head = fn.__doc__.split("(", 1)[1].split(") ->", 1)[0]
        return re.findall(r"(?:^|, )(\w+): ", head)


def test_reference_is_complete_and_available():
    ok, reason = backends.available("reference")
    assert ok and reason
    row = {r["kernel"]: r["reference"] for r in backends.table()}
    assert set(row) == set(backends.KERNELS)


def test_table_cells_are_known_states():
    for r in backends.table():
        for name in backends.names():
            assert r[name] in ("native", "fallback", "unavailable", "missing")
    text = backends.format_table()
    assert "gemm" in text and "reference" in text


def test_unknown_backend_raises_with_names():
    with pytest.raises(backends.BackendUnavailable, match="no backend named 'nope'"):
        with backends.use("nope"):
            pass


def test_unavailable_backend_raises_not_downgrades(monkeypatch):
    mod = backends.get_backend("reference")
    monkeypatch.setattr(mod, "available", lambda: (False, "switched off for this test"))
    with pytest.raises(backends.BackendUnavailable, match="switched off for this test"):
        with backends.use("reference"):
            pass
    a = np.ones((2, 2), np.float32)
    with pytest.raises(backends.BackendUnavailable, match="switched off"):
        fastnn.ops.gemm(a, a, backend="reference")


def test_use_selects_backend_and_restores():
    a = np.ones((3, 3), np.float32)
    before = backends.current("cpu", "float32")
    with backends.use("reference"):
        assert backends.current("cpu", "float32") == "reference"
        assert backends.get("gemm", a)[1] == "reference"
    assert backends.current("cpu", "float32") == before


def test_env_override(monkeypatch):
    monkeypatch.setattr(backends, "_ENV_BACKEND", "reference")
    assert backends.current("cpu", "float32") == "reference"
    monkeypatch.setattr(backends, "_ENV_BACKEND", "nope")
    with pytest.raises(backends.BackendUnavailable):
        fastnn.ops.gemm(np.ones((2, 2), np.float32), np.ones((2, 2), np.float32))


@pytest.mark.parametrize(
    "value, expect", [("reference", "reference"), ("nope", "BackendUnavailable")]
)
def test_env_override_in_a_fresh_process(value, expect):
    code = (
        "import numpy as np, fastnn\n"
        "a = np.ones((2, 2), np.float32)\n"
        "try:\n"
        "    print(fastnn.backends.get('gemm', a)[1])\n"
        "except fastnn.backends.BackendUnavailable as e:\n"
        "    print('BackendUnavailable', e)\n"
    )
    env = dict(os.environ, FASTNN_BACKEND=value)
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(expect), out.stdout


def test_default_picks_best_cpu_backend_per_dtype():
    cpu = [n for n in AVAILABLE if backends.get_backend(n).DEVICE == "cpu"]
    best32 = max(cpu, key=lambda n: backends.get_backend(n).PRIORITY)
    assert backends.current("cpu", "float32") == best32
    best64 = max(
        (n for n in cpu if "float64" in backends.get_backend(n).DTYPES),
        key=lambda n: backends.get_backend(n).PRIORITY,
    )
    assert backends.current("cpu", "float64") == best64


def test_explicit_backend_rejects_unsupported_dtype():
    if "cpp" not in AVAILABLE:
        pytest.skip("cpp backend unavailable: " + backends.available("cpp")[1])
    a = np.ones((2, 2), np.float64)
    with pytest.raises(TypeError, match="does not support dtype float64"):
        fastnn.ops.gemm(a, a, backend="cpp")


def test_cpu_backend_rejects_wrong_device_name():
    with pytest.raises(ValueError, match="unknown kernel"):
        backends.get("not_a_kernel")


def test_fallback_is_visible(monkeypatch):
    """A backend without a kernel uses reference and says so (warning + table)."""
    mod = backends.get_backend("numba")
    monkeypatch.delattr(mod, "gemm", raising=False)
    backends._warned.discard(("numba", "gemm"))
    a = np.ones((2, 2), np.float32)
    with pytest.warns(RuntimeWarning, match="no gemm kernel"):
        fn, name = backends.get("gemm", a, backend="numba")
    assert name == "reference"
    row = next(r for r in backends.table() if r["kernel"] == "gemm")
    assert row["numba"] == "fallback"


def test_set_num_threads_validates_and_applies():
    with pytest.raises(ValueError, match="n: expected a positive int"):
        fastnn.set_num_threads(0)
    fastnn.set_num_threads(1)
    assert fastnn.get_num_threads() == 1
    import numba

    assert numba.get_num_threads() == 1
    if "cpp" in AVAILABLE:
        from fastnn.backends.cpp import lib

        assert lib().get_num_threads() == 1


def test_info_command_reports_everything():
    env = dict(os.environ)
    out = subprocess.run(
        [sys.executable, "-m", "fastnn", "info"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    text = out.stdout
    for needle in (
        "fastnn",
        "Backends:",
        "reference",
        "numba",
        "cpp",
        "cuda",
        "ISA",
        "GPU",
        "threads",
    ):
        assert needle in text, needle


def test_cli_rejects_unknown_command():
    out = subprocess.run(
        [sys.executable, "-m", "fastnn", "frobnicate"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 2 and "unknown command" in out.stderr
