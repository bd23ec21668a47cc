"""Collects a backend's kernels from its per-family modules (gemm.py, conv2d.py, lstm.py,
attention.py): one file per family keeps forward and backward together and lets families grow
independently. A missing file means the backend lacks that family (table() shows the fallback); a
file that fails to import makes the whole backend unavailable with the error as its reason."""

import importlib
import importlib.util

from .contract import KERNEL_FAMILIES


def export_families(namespace: dict, package: str) -> None:
    for family, kernels in KERNEL_FAMILIES.items():
        if importlib.util.find_spec(f"{package}.{family}") is None:
            continue
        mod = importlib.import_module(f"{package}.{family}")
        for kernel in kernels:
            fn = getattr(mod, kernel, None)
            if fn is not None:
                namespace[kernel] = fn
