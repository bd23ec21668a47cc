"""A/B: our C++ gemm (fastnn._C_*.gemm, called directly) vs NumPy (OpenBLAS) vs torch.mm at the
shapes training calls it with, interleaved in one process, at 1 and 2 threads.

    PYTHONPATH=. python benchmarks/gemm_shapes_ab.py [--threads 1,2] [--rounds 7] [--only SUBSTR]
        [--dev PATH.so]   (adds a second build of the extension, e.g. a tuning build, as "dev")

Shapes (M, N, K, trans_a, trans_b), exactly as fastnn calls gemm:
  square      256/512/1024/2048, no transposes
  nanoGPT     (batch 12 x block 64 = 768 rows, n_embd 128, vocab 65): nn.Linear forward is
              gemm(x, W, trans_b=True) (M=768, N=out, K=in); backward dX = gemm(dY, W)
              (768, in, out, NN) and dW = gemm(dY, X, trans_a=True) (out, in, 768, TN)
              (fastnn/functions/gemm.py, linear), for c_attn 128->384, attn c_proj 128->128,
              mlp c_fc 128->512, mlp c_proj 512->128 and lm_head 128->65
  LSTM-LM     input projection 20x4096x1024 (NT) and the output layer 600x10000x1024 (NT)
  MLP         64x256x784 (NT)
Contenders are interleaved: each round runs a warm-up call and a batch of calls (sized to ~20 ms)
of each in turn. At 1 thread a contender's time is the best over rounds of its batch's mean, on
the calling thread's CPU clock (every contender computes on the calling thread then), so other
processes' load on this shared machine does not count. At 2 threads it is the fastest single
call over all rounds, in wall time: on a busy machine a batch's mean measures the scheduler, and
the fastest call is the one no other process interrupted (optimistic, alike for all three).
The ratios are time(other) / time(ours): above 1 means ours is faster.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

import numpy as np

SQUARE = [(n, n, n, False, False) for n in (256, 512, 1024, 2048)]
_LIN = [(128, 384), (128, 128), (128, 512), (512, 128), (128, 65)]  # (in, out)
NANOGPT = (
    [(768, o, i, False, True) for i, o in _LIN]  # forward x W^T
    + [(768, i, o, False, False) for i, o in _LIN]  # dX = dY W
    + [(o, i, 768, True, False) for i, o in _LIN]  # dW = dY^T X
)
OTHER = [
    (20, 4096, 1024, False, True),  # LSTM-LM input projection, weight-bandwidth bound
    (600, 10000, 1024, False, True),  # LSTM-LM output layer
    (64, 256, 784, False, True),  # MLP first layer
]
SHAPES = [("square", s) for s in SQUARE] + [("nanogpt", s) for s in NANOGPT] + [
    ("other", s) for s in OTHER
]


def _operands(M, N, K, ta, tb, rng):
    a = rng.standard_normal((K, M) if ta else (M, K)).astype(np.float32)
    b = rng.standard_normal((N, K) if tb else (K, N)).astype(np.float32)
    return a, b


def _load_dev(path: str):
    import importlib.util

    name = os.path.basename(path).split(".")[0]
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def run_threads(threads: int, rounds: int, only: str | None, dev_path: str | None) -> None:
    import threadpoolctl
    import torch

    import fastnn
    from fastnn.backends import cpp

    fastnn.set_num_threads(threads)
    torch.set_num_threads(threads)
    threadpoolctl.threadpool_limits(threads, user_api="blas")
    lib = cpp._C
    dev = _load_dev(dev_path) if dev_path else None
    rng = np.random.default_rng(0)
    load = os.getloadavg()
    print(f"# {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}  threads {threads}  "
          f"{lib.__name__}  load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(f"{'group':8s} {'M':>5s} {'N':>5s} {'K':>5s} op  {'ours ms':>8s} {'GF/s':>6s} "
          f"{'numpy ms':>8s} {'torch ms':>8s} {'np/ours':>7s} {'th/ours':>7s}"
          + ("  dev ms  np/dev  ours/dev" if dev else ""))
    ratios = {"numpy": [], "torch": [], "np/dev": [], "ours/dev": []}
    for group, (M, N, K, ta, tb) in SHAPES:
        name = f"{group} {M}x{N}x{K}"
        if only and only not in name:
            continue
        a, b = _operands(M, N, K, ta, tb, rng)
        an, bn = (a.T if ta else a), (b.T if tb else b)
        at, bt = torch.from_numpy(a), torch.from_numpy(b)
        at, bt = (at.t() if ta else at), (bt.t() if tb else bt)
        ref = an.astype(np.float64) @ bn.astype(np.float64)
        got = lib.gemm(a, b, None, None, ta, tb, 1.0, 0.0, None)
        err = np.abs(got - ref).max() / max(1.0, np.abs(ref).max())
        assert err < 1e-4, (name, err)
        if dev:
            got = dev.gemm(a, b, None, None, ta, tb, 1.0, 0.0, None)
            err = np.abs(got - ref).max() / max(1.0, np.abs(ref).max())
            assert err < 1e-4, ("dev", name, err)
        fns = {
            "ours": lambda a=a, b=b, ta=ta, tb=tb: lib.gemm(a, b, None, None, ta, tb, 1.0, 0.0,
                                                            None),
            "numpy": lambda an=an, bn=bn: an @ bn,
            "torch": lambda at=at, bt=bt: torch.mm(at, bt),
        }
        if dev:
            fns["dev"] = lambda a=a, b=b, ta=ta, tb=tb: dev.gemm(a, b, None, None, ta, tb, 1.0,
                                                                 0.0, None)
        t0 = time.perf_counter()
        fns["ours"]()
        one = max(time.perf_counter() - t0, 1e-6)
        reps = max(1, min(2000, int(0.02 / one)))
        clock = time.thread_time if threads == 1 else time.perf_counter
        times = {k: [] for k in fns}
        for _ in range(rounds):
            for k, f in fns.items():
                f()
                if threads == 1:
                    t = clock()
                    for _ in range(reps):
                        f()
                    times[k].append((clock() - t) / reps)
                else:
                    for _ in range(reps):
                        t = clock()
                        f()
                        times[k].append(clock() - t)
        md = {k: float(np.min(v)) for k, v in times.items()}
        rn, rt = md["numpy"] / md["ours"], md["torch"] / md["ours"]
        ratios["numpy"].append(rn)
        ratios["torch"].append(rt)
        op = ("T" if ta else "N") + ("T" if tb else "N")
        print(f"{group:8s} {M:5d} {N:5d} {K:5d} {op}  {md['ours'] * 1e3:8.3f} "
              f"{2 * M * N * K / md['ours'] / 1e9:6.1f} {md['numpy'] * 1e3:8.3f} "
              f"{md['torch'] * 1e3:8.3f} {rn:7.2f} {rt:7.2f}"
              + (f"  {md['dev'] * 1e3:6.3f} {md['numpy'] / md['dev']:7.2f} "
                 f"{md['ours'] / md['dev']:8.2f}" if dev else ""))
        if dev:
            ratios["np/dev"].append(md["numpy"] / md["dev"])
            ratios["ours/dev"].append(md["ours"] / md["dev"])
    if ratios["numpy"]:
        g = {k: float(np.exp(np.mean(np.log(v)))) for k, v in ratios.items() if v}
        print(f"geomean ratio: numpy/ours {g['numpy']:.3f}  torch/ours {g['torch']:.3f}  "
              + (f"numpy/dev {g['np/dev']:.3f}  ours/dev {g['ours/dev']:.3f}  " if dev else "")
              + f"load after {os.getloadavg()[0]:.2f}")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", default="1,2")
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--only", default=None)
    p.add_argument("--dev", default=None)
    p.add_argument("--child", type=int, default=None)
    args = p.parse_args()
    if args.child is not None:
        run_threads(args.child, args.rounds, args.only, args.dev)
        return
    for t in (int(x) for x in args.threads.split(",")):
        # one process per thread count: the BLAS and OpenMP pools start at that size
        env = dict(os.environ, OMP_NUM_THREADS=str(t), OPENBLAS_NUM_THREADS=str(t))
        cmd = [sys.executable, __file__, "--child", str(t), "--rounds", str(args.rounds)]
        if args.only:
            cmd += ["--only", args.only]
        if args.dev:
            cmd += ["--dev", args.dev]
        subprocess.run(cmd, env=env, check=True)


if __name__ == "__main__":
    main()
