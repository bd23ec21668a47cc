"""A/B: GELU and LayerNorm forward + backward at nanoGPT's shapes (GELU on the MLP hidden
activations (12*64, 512), LayerNorm over (768, 128)), through the autograd API: the C++ kernels
(csrc/eltwise.cpp) vs the NumPy path they replace (``backends.use("reference")``) vs torch.
Validated first, then timed interleaved (A, B, C, A, B, C ...); median ms per fwd+bwd.

    PYTHONPATH=. python benchmarks/eltwise_ab.py [THREADS ...]     # default: 1 2
"""

import os
import sys
import time

import numpy as np
import torch

import fastnn
import fastnn.nn.functional as F
from fastnn import backends

GELU_SHAPE, LN_SHAPE = (12 * 64, 512), (768, 128)


def cases(rng):
    xg = rng.standard_normal(GELU_SHAPE).astype(np.float32)
    gg = rng.standard_normal(GELU_SHAPE).astype(np.float32)
    xl = rng.standard_normal(LN_SHAPE).astype(np.float32)
    gl = rng.standard_normal(LN_SHAPE).astype(np.float32)
    w = rng.standard_normal(LN_SHAPE[1]).astype(np.float32)
    b = rng.standard_normal(LN_SHAPE[1]).astype(np.float32)

    def fn_gelu(approximate):
        def run():
            x = fastnn.tensor(xg, requires_grad=True)
            F.gelu(x, approximate=approximate).backward(fastnn.tensor(gg))
            return x.grad.numpy()
        return run

    def torch_gelu(approximate):
        def run():
            x = torch.tensor(xg, requires_grad=True)
            torch.nn.functional.gelu(x, approximate=approximate).backward(torch.tensor(gg))
            return x.grad.numpy()
        return run

    def fn_ln():
        x = fastnn.tensor(xl, requires_grad=True)
        wt, bt = fastnn.tensor(w, requires_grad=True), fastnn.tensor(b, requires_grad=True)
        F.layer_norm(x, (LN_SHAPE[1],), wt, bt).backward(fastnn.tensor(gl))
        return x.grad.numpy()

    def torch_ln():
        x = torch.tensor(xl, requires_grad=True)
        wt, bt = torch.tensor(w, requires_grad=True), torch.tensor(b, requires_grad=True)
        torch.nn.functional.layer_norm(x, (LN_SHAPE[1],), wt, bt).backward(torch.tensor(gl))
        return x.grad.numpy()

    out = {f"gelu {a}": (fn_gelu(a), torch_gelu(a)) for a in ("none", "tanh")}
    out["layer_norm"] = (fn_ln, torch_ln)
    return out


def reference(fn):
    def run():
        with backends.use("reference"):
            return fn()
    return run


def median_ms(fns, rounds=9, reps=20):
    res = {k: [] for k in fns}
    for _ in range(rounds):
        for k, f in fns.items():
            f()
            t = time.perf_counter()
            for _ in range(reps):
                f()
            res[k].append((time.perf_counter() - t) / reps * 1e3)
    return {k: float(np.median(v)) for k, v in res.items()}


def main():
    threads = [int(a) for a in sys.argv[1:]] or [1, 2]
    for name, (fast, ref_torch) in cases(np.random.default_rng(0)).items():
        fns = {"cpp": fast, "numpy": reference(fast), "torch": ref_torch}
        want = fns["torch"]()
        for k in ("cpp", "numpy"):  # validate, then time
            np.testing.assert_allclose(fns[k](), want, rtol=1e-4, atol=1e-4)
        for n in threads:
            fastnn.set_num_threads(n)
            torch.set_num_threads(n)
            md = median_ms(fns)
            print(f"{name:10s} threads {n}: cpp {md['cpp']:.3f} ms, numpy {md['numpy']:.3f} ms "
                  f"({md['numpy'] / md['cpp']:.1f}x), torch {md['torch']:.3f} ms "
                  f"(torch/cpp {md['torch'] / md['cpp']:.2f}x)   load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
