"""``import fastnn`` stays light: numba.cuda (~1.3 s here) and ml_dtypes (~0.9 s) load on first use,
not at import, so CPU-only scripts do not pay them in wall time; using them still works."""

import subprocess
import sys

import pytest

_PROBE = """
import sys, fastnn
print(sorted(m for m in ("numba.cuda", "ml_dtypes") if m in sys.modules))
"""


def _run(code):
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip().splitlines()


def test_import_does_not_load_cuda_or_ml_dtypes():
    assert _run(_PROBE) == ["[]"]


def test_bfloat16_and_cuda_backend_load_on_use():
    lines = _run(
        "import sys, fastnn\n"
        "t = fastnn.zeros(3, dtype=fastnn.bfloat16)\n"
        "print(t.dtype, t.is_floating_point(), 'ml_dtypes' in sys.modules)\n"
        "ok, why = fastnn.backends.available('cuda')\n"
        "print('numba.cuda' in sys.modules, isinstance(why, str) and len(why) > 0)\n"
    )
    assert lines == ["bfloat16 True True", "True True"]


def test_bfloat16_name_lookup_and_unknown_attribute():
    import fastnn

    assert fastnn.dtypes.as_dtype("bfloat16") == fastnn.bfloat16
    with pytest.raises(AttributeError, match="no_such_dtype"):
        fastnn.no_such_dtype  # noqa: B018
    with pytest.raises(AttributeError, match="no_such_kernel"):
        fastnn.backends.cuda.no_such_kernel  # noqa: B018
