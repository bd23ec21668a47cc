"""The numba backend: Numba @njit CPU kernels with prange threads (no compiler at install)."""

from .._family import export_families

NAME = "numba"
DEVICE = "cpu"
PRIORITY = 10
DTYPES = ("float32", "float64")


def available():
    try:
        import numba
    except Exception as exc:  # pragma: no cover - numba is a dependency
        return False, f"numba does not import: {exc}"
    return True, f"Numba {numba.__version__}, threading layer {_threading_layer()}"


def _threading_layer():
    import numba

    try:
        return numba.config.THREADING_LAYER
    except Exception:  # pragma: no cover
        return "default"


export_families(globals(), __name__)
