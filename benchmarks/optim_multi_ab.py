"""A/B: the single-tensor optimizer formulas (fastnn/optim/_functional.py, one NumPy/Numba pass
per term per parameter) vs the multi-tensor C++ steps (csrc/optim.cpp), on the parameter shapes of
the training race, interleaved; median ms per optimizer step.

    PYTHONPATH=. python benchmarks/optim_multi_ab.py [THREADS]
"""

import sys
import time

import numpy as np

import fastnn
from fastnn.optim import _functional as F

SHAPES = {
    "MLP": [(256, 784), (256,), (10, 256), (10,)],
    "CNN": [(32, 3, 3, 3), (32,), (64, 32, 3, 3), (64,), (128, 2304), (128,), (10, 128), (10,)],
    "Transformer": [(384, 128), (384,), (128, 128), (128,), (512, 128), (512,), (128, 512),
                    (128,), (128,), (128,), (128,), (128,)] * 2,
}
ADAM = dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, amsgrad=False,
            maximize=False, decoupled=False)
SGD = dict(lr=0.01, momentum=0.9, dampening=0.0, weight_decay=0.0, nesterov=False,
           maximize=False)


def contenders(lib, ps, gs):
    m, v, bufs = ([np.zeros_like(p) for p in ps] for _ in range(3))

    def adam_single():
        for p, g, a, b in zip(ps, gs, m, v):
            F.adam_step(p, g, dict(exp_avg=a, exp_avg_sq=b, step=3.0), **ADAM)

    def adam_multi():
        F.adam_multi_step(lib, ps, gs, m, v, [], [3.0] * len(ps), **ADAM)

    def sgd_single():
        for p, g, b in zip(ps, gs, bufs):
            F.sgd_step(p, g, b, **SGD)

    def sgd_multi():
        F.sgd_multi_step(lib, ps, gs, bufs, [False] * len(ps), **SGD)

    return adam_single, adam_multi, sgd_single, sgd_multi


def main():
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    fastnn.set_num_threads(threads)
    lib = F.multi_tensor_lib()
    rng = np.random.default_rng(0)
    for name, shapes in SHAPES.items():
        ps = [rng.standard_normal(s).astype(np.float32) for s in shapes]
        gs = [rng.standard_normal(s).astype(np.float32) for s in shapes]
        res = {}
        for _round in range(7):
            for f in contenders(lib, ps, gs):
                for _ in range(5):
                    f()
                t = time.perf_counter()
                for _ in range(20):
                    f()
                res.setdefault(f.__name__, []).append((time.perf_counter() - t) / 20 * 1e3)
        md = {k: float(np.median(v)) for k, v in res.items()}
        n = sum(p.size for p in ps)
        print(f"{name} ({n} params, {len(ps)} tensors) threads {threads}: Adam single-tensor "
              f"{md['adam_single']:.3f} ms, multi {md['adam_multi']:.3f} ms "
              f"({md['adam_single'] / md['adam_multi']:.2f}x); SGD-m single "
              f"{md['sgd_single']:.3f}, multi {md['sgd_multi']:.3f} "
              f"({md['sgd_single'] / md['sgd_multi']:.2f}x)")


if __name__ == "__main__":
    main()
