"""``python -m fastnn.smoke``: is this install sound? Each kernel family's forward, once, at tiny
odd sizes, on each backend that runs here, compared with the reference backend in float64.

For checking an installed wheel (CI's wheel step, a new GPU machine); the tests under tests/ are
the real check. Exit status 1 if a result is wrong or a named backend cannot run.

    python -m fastnn.smoke                      # every available backend
    python -m fastnn.smoke --backend cuda       # only these (repeatable); fails if unavailable
    FASTNN_CPU_CAPABILITY=baseline python -m fastnn.smoke --backend cpp   # one ISA variant
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from . import backends
from .ops.attention import attention_forward
from .ops.conv2d import conv2d
from .ops.gemm import gemm
from .ops.lstm import lstm


def _cases(rng):
    """(name, function(*arrays, backend=...), float32 input arrays)."""
    r = lambda *shape: rng.standard_normal(shape).astype(np.float32)  # noqa: E731
    T, B, n_in, H = 3, 2, 5, 7
    return [
        ("gemm", lambda a, b, bias, backend: gemm(a, b, bias, "relu", backend=backend),
         (r(5, 7), r(7, 3), r(3))),
        ("gemm trans_b", lambda a, b, backend: gemm(a, b, trans_b=True, backend=backend),
         (r(4, 9), r(6, 9))),
        ("conv2d", lambda x, w, bias, backend: conv2d(x, w, bias, stride=1, padding=1,
                                                              backend=backend),
         (r(2, 3, 7, 5), r(4, 3, 3, 3), r(4))),
        ("lstm", lambda x, h, c, wi, wh, bi, bh, backend: lstm(x, h, c, wi, wh, bi, bh,
                                                                     backend=backend),
         (r(T, B, n_in), r(B, H), r(B, H), r(4 * H, n_in), r(4 * H, H), r(4 * H), r(4 * H))),
        ("attention", lambda q, k, v, backend: attention_forward(
            q, k, v, causal=True, backend=backend)[0],
         (r(1, 2, 5, 4), r(1, 2, 6, 4), r(1, 2, 6, 3))),
    ]


def _to_device(backend, arrays):
    """Inputs as the backend takes them: NumPy, or on a real GPU CuPy (else Numba) arrays."""
    if backend != "cuda" or backends.get_backend("cuda").simulated():
        return arrays, np.asarray
    try:
        import cupy

        return [cupy.asarray(a) for a in arrays], cupy.asnumpy
    except ImportError:
        from numba import cuda

        return [cuda.to_device(a) for a in arrays], lambda d: d.copy_to_host()


def _outputs(result):
    return list(result) if isinstance(result, tuple) else [result]


def check(backend: str) -> list[str]:
    """Run every case on ``backend``; the failures as messages (empty when all agree)."""
    failures = []
    for name, fn, inputs in _cases(np.random.default_rng(0)):
        want = _outputs(fn(*[a.astype(np.float64) for a in inputs], backend="reference"))
        args, to_host = _to_device(backend, inputs)
        got = [to_host(o) for o in _outputs(fn(*args, backend=backend))]
        for i, (g, w) in enumerate(zip(got, want)):
            # float32 kernels against a float64 reference: a few float32 ulps of the largest
            # magnitude per accumulation step is ample at these sizes
            tol = 1e-5 * max(1.0, float(np.abs(w).max(initial=0.0))) * 16
            err = float(np.abs(g.astype(np.float64) - w).max(initial=0.0))
            if g.shape != w.shape or g.dtype != np.float32 or not err <= tol:
                failures.append(f"{backend} {name} output {i}: shape {g.shape} {g.dtype}, "
                                f"max error {err:.3g} (tolerance {tol:.3g})")
    return failures


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m fastnn.smoke", description=__doc__.split("\n")[0])
    p.add_argument("--backend", action="append", help="backend to check (default: all available)")
    args = p.parse_args(argv)
    names = args.backend or [n for n in backends.names() if backends.available(n)[0]]
    failed = False
    for name in names:
        ok, reason = backends.available(name)
        if not ok:
            print(f"{name:10s} UNAVAILABLE: {reason}")
            failed = True
            continue
        failures = check(name)
        print(f"{name:10s} {'FAIL' if failures else 'ok'} ({reason})")
        for f in failures:
            print("  " + f)
        failed |= bool(failures)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
