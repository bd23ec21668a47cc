"""Numba GEMM vs NumPy/OpenBLAS, float32, one thread each, best process CPU time (robust to load
from other processes). Usage: PYTHONPATH=. python benchmarks/gemm_numba_tuning.py
"""

import time

import numpy as np
from threadpoolctl import threadpool_limits

import fastnn
from fastnn import ops

SHAPES = [  # M, K, N, trans_a
    (256, 256, 256, False),
    (512, 512, 512, False),
    (1024, 1024, 1024, False),
    (64, 784, 256, False),
    (256, 784, 64, True),
    (512, 1024, 1024, False),
]


def best(f, n):
    ts = []
    for _ in range(n):
        t = time.process_time()
        f()
        ts.append(time.process_time() - t)
    return min(ts)


def main():
    fastnn.set_num_threads(1)
    rng = np.random.default_rng(0)
    with threadpool_limits(1):
        for m, k, n, ta in SHAPES:
            a = rng.standard_normal((k, m) if ta else (m, k)).astype(np.float32)
            b = rng.standard_normal((k, n)).astype(np.float32)

            def ours(a=a, b=b, ta=ta):
                with fastnn.backends.use("numba"):
                    ops.gemm(a, b, trans_a=ta)

            def numpy(a=a, b=b, ta=ta):
                (a.T if ta else a) @ b

            ours()
            numpy()
            reps = max(3, int(0.3 / max(best(numpy, 1), 1e-4)))
            t_ours, t_np = best(ours, reps), best(numpy, reps)
            gf = 2 * m * n * k / 1e9
            label = f"{m}x{k}x{n}{' AtB' if ta else ''}"
            print(
                f"{label}: numba {gf / t_ours:6.1f} numpy {gf / t_np:6.1f} GFLOP/s"
                f" ratio {t_np / t_ours:.2f}"
            )


if __name__ == "__main__":
    main()
