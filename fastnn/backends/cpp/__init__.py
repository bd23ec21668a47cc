"""The cpp backend: the pybind11 extension fastnn._C (OpenMP, ISA-dispatched; see _loader.py)."""

from .._family import export_families
from ._loader import load

NAME = "cpp"
DEVICE = "cpu"
PRIORITY = 20
DTYPES = ("float32",)


def available():
    try:
        mod = load()
    except Exception as exc:
        return False, str(exc)
    return True, f"fastnn._C, ISA level {mod.ISA}"


def lib():
    """The loaded extension module (raises with the reason when it is unavailable)."""
    return load()


export_families(globals(), __name__)
