"""``torch.backends.openmp``: whether the C++ kernels were built with OpenMP (they are)."""


def is_available() -> bool:
    try:
        from fastnn.backends import cpp
    except Exception:
        return False
    return bool(cpp.available()[0])
