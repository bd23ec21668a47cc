"""``torch.backends.mkldnn``: fastnn's CPU kernels are its own (cpp/numba), not oneDNN's."""

enabled = True


def is_available() -> bool:
    return False
