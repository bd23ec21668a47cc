"""A/B: per-head gemm calls (the unfused attention path's old loop) vs one gemm_batched call
(csrc/gemm_batched.cpp) at the Transformer race's shapes (32x4 heads, L 64, D 32), interleaved.

    PYTHONPATH=. python benchmarks/gemm_batched_ab.py [THREADS]
"""

import sys
import time

import numpy as np

import fastnn
from fastnn.backends import cpp


def main():
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    fastnn.set_num_threads(threads)
    lib = cpp._C
    rng = np.random.default_rng(0)
    q, k = (rng.standard_normal((128, 64, 32)).astype(np.float32) for _ in range(2))
    p = rng.standard_normal((128, 64, 64)).astype(np.float32)

    def loop_qk():
        out = np.empty((128, 64, 64), np.float32)
        for i in range(128):
            lib.gemm(q[i], k[i], None, None, False, True, 0.5, 0.0, out[i])

    def batched_qk():
        lib.gemm_batched(q, k, False, True, 0.5)

    def loop_pv():
        out = np.empty((128, 64, 32), np.float32)
        for i in range(128):
            lib.gemm(p[i], k[i], None, None, False, False, 1.0, 0.0, out[i])

    def batched_pv():
        lib.gemm_batched(p, k, False, False, 1.0)

    res = {}
    for _round in range(7):
        for f in (loop_qk, batched_qk, loop_pv, batched_pv):
            for _ in range(3):
                f()
            t = time.perf_counter()
            for _ in range(10):
                f()
            res.setdefault(f.__name__, []).append((time.perf_counter() - t) / 10 * 1e3)
    md = {k: float(np.median(v)) for k, v in res.items()}
    print(f"threads {threads}: QK^T 128x(64x64x32) loop {md['loop_qk']:.3f} ms, batched "
          f"{md['batched_qk']:.3f} ({md['loop_qk'] / md['batched_qk']:.2f}x); PV 128x(64x32x64) "
          f"loop {md['loop_pv']:.3f}, batched {md['batched_pv']:.3f} "
          f"({md['loop_pv'] / md['batched_pv']:.2f}x)")


if __name__ == "__main__":
    main()
