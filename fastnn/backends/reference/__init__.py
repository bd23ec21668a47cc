"""The reference backend: plain NumPy, the specification every other backend is tested against.
Clear over fast; float32 and float64 (the tests run it in float64 as the oracle)."""

from .._family import export_families

NAME = "reference"
DEVICE = "cpu"
PRIORITY = 0
DTYPES = ("float32", "float64")


def available():
    return True, "NumPy (the specification)"


export_families(globals(), __name__)
