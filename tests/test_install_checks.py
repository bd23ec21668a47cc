"""The install checks a wheel is judged by: `python -m fastnn.smoke` (CI's wheel step and a GPU
user's first command) and the OpenMP report of `python -m fastnn info`."""

import os

import numpy as np
import pytest

from fastnn import backends, info, smoke


def test_smoke_reference_float32_agrees_with_float64():
    assert smoke.check("reference") == []


def test_smoke_reports_a_wrong_kernel(monkeypatch):
    ref = backends.get_backend("reference")
    right = ref.gemm

    def off_by_a_little(a, b, *args):
        out = right(a, b, *args)
        return out + np.asarray(1e-3, out.dtype) if out.dtype == np.float32 else out

    monkeypatch.setattr(ref, "gemm", off_by_a_little)
    failures = smoke.check("reference")
    assert failures and all(" gemm" in f for f in failures), failures


def test_smoke_main_fails_for_an_unknown_backend(capsys):
    assert smoke.main(["--backend", "no-such-backend"]) == 1
    assert "no-such-backend" in capsys.readouterr().out


def _mapped_libgomp():
    with open("/proc/self/maps") as f:
        paths = {line.split()[-1] for line in f if "libgomp" in line and "/" in line}
    return {os.path.realpath(p) for p in paths}


@pytest.mark.skipif(not os.path.exists("/proc/self/maps"), reason="needs Linux /proc")
def test_openmp_report_names_the_runtime_the_extension_loaded():
    ok, why = backends.available("cpp")
    if not ok:
        pytest.skip(why)
    from fastnn.backends.cpp._loader import load

    load()
    found = info.openmp_runtimes()
    assert {r["path"] for r in found} == _mapped_libgomp()
    assert found
    line = info.report()
    assert f"OpenMP: {found[0]['runtime']} at {found[0]['path']}" in line


def test_openmp_report_warns_about_two_runtimes():
    two = [
        {"runtime": "libgomp", "path": "/a/libgomp.so.1", "bundled": True, "threads": 2},
        {"runtime": "libgomp", "path": "/b/libgomp-1234.so.1", "bundled": False, "threads": 2},
    ]
    assert "WARNING: 2 OpenMP runtimes" in info._openmp_line(two)
    assert "WARNING" not in info._openmp_line(two[:1])
