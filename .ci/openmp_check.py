"""One OpenMP runtime in a process that imports fastnn (from a wheel) and torch.

Usage: python openmp_check.py fastnn-first|torch-first. Runs a C++ kernel and a torch op, then
asks threadpoolctl which OpenMP runtimes are loaded: exactly one is expected, and with fastnn
imported first it must be the libgomp the wheel bundles (fastnn/libgomp.so.1).
"""

import sys

import numpy as np


def use_fastnn():
    import fastnn.ops

    a = np.ones((64, 64), np.float32)
    assert fastnn.ops.gemm(a, a, backend="cpp")[0, 0] == 64.0


def use_torch():
    import torch

    assert float((torch.ones(64, 64) @ torch.ones(64, 64))[0, 0]) == 64.0


def main(order: str) -> int:
    steps = {"fastnn-first": (use_fastnn, use_torch), "torch-first": (use_torch, use_fastnn)}
    for step in steps[order]:
        step()
    from fastnn.info import openmp_runtimes

    found = openmp_runtimes()
    for r in found:
        print(f"{order}: {r['runtime']} at {r['path']} (bundled with fastnn: {r['bundled']})")
    if len(found) != 1:
        print(f"{order}: expected one OpenMP runtime, found {len(found)}", file=sys.stderr)
        return 1
    if order == "fastnn-first" and not found[0]["bundled"]:
        print(f"{order}: the wheel's own libgomp was not the one loaded", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
