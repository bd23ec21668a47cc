"""fastnn.ops: the array-level kernel API. NumPy (or CuPy) arrays in, the same type out; each call
is validated here and then runs on the backend ``fastnn.backends`` selects. Drop-in for NumPy code:

    >>> import numpy as np, fastnn.ops as ops
    >>> y = ops.gemm(np.ones((4, 3), np.float32), np.ones((3, 2), np.float32), activation="relu")
"""

import importlib.util as _ilu

from .gemm import gemm, matmul

__all__ = ["gemm", "matmul"]

# Each kernel family's array API lives in its own module (conv2d.py, lstm.py, attention.py) and
# lists its public names in __all__; families that are not written yet are simply absent.
for _family in ("conv2d", "lstm", "attention"):
    if _ilu.find_spec(f"{__name__}.{_family}") is not None:
        _mod = __import__(f"{__name__}.{_family}", fromlist=["__all__"])
        for _name in _mod.__all__:
            globals()[_name] = getattr(_mod, _name)
            __all__.append(_name)

