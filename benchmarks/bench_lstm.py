"""pytest-benchmark: lstm, one group per shape; parameters are the fastnn backends and the
references (shapes, FLOPs and validation from benchmarks/common.py).

Run as a script it races nn.LSTM forward + backward (module level, as a training step calls it)
against torch.nn.LSTM, same weights, contenders interleaved, best of ``--rounds`` rounds, at 1
and 2 threads (``--threads``); prints ``uptime`` beside the ratios:

    PYTHONPATH=. python benchmarks/bench_lstm.py                     # B16 T50 I512 H512, LM H1024
    PYTHONPATH=. python benchmarks/bench_lstm.py --shape 20,30,128,1024 --rounds 7
"""

# ruff: noqa: E741  (I is the input size, as in the kernel contract's (T, B, I, H) notation)

import sys

if __name__ != "__main__":
    from benchmarks.common import generate, run

    def pytest_generate_tests(metafunc):
        generate(metafunc, "lstm")

    def test_lstm(benchmark, case, contender):
        run(benchmark, case, contender)


def _race(shape, threads, rounds, reps):
    import os
    import time

    import numpy as np
    import torch

    import fastnn

    B, T, I, H = shape
    torch.set_num_threads(threads)
    fastnn.set_num_threads(threads)
    torch.manual_seed(0)
    tl = torch.nn.LSTM(I, H, batch_first=True)
    fl = fastnn.nn.LSTM(I, H, batch_first=True)
    fl.load_state_dict({k: fastnn.tensor(v.detach().numpy()) for k, v in tl.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((B, T, I)).astype(np.float32)
    g = np.random.default_rng(1).standard_normal((B, T, H)).astype(np.float32)

    def step(lib, net, xa, ga):
        def f():
            out, _ = net(xa)
            out.backward(ga)
        return f

    tx, tg = torch.tensor(x, requires_grad=True), torch.tensor(g)
    fx, fg = fastnn.tensor(x, requires_grad=True), fastnn.tensor(g)
    fns = {"torch": step(torch, tl, tx, tg), "fastnn": step(fastnn, fl, fx, fg)}
    best = {k: float("inf") for k in fns}
    for f in fns.values():
        f()
        f()
    for _ in range(rounds):
        for k, f in fns.items():
            f()  # settle
            t = time.perf_counter()
            for _ in range(reps):
                f()
            best[k] = min(best[k], (time.perf_counter() - t) / reps)
    flops = 3 * T * 2 * B * 4 * H * (I + H)
    load = os.getloadavg()[0]
    t, f = best["torch"], best["fastnn"]
    print(f"B{B} T{T} I{I} H{H} {threads} thr: torch {t * 1e3:.2f} ms, fastnn {f * 1e3:.2f} ms "
          f"({flops / f / 1e9:.1f} GFLOP/s), fastnn/torch speed {t / f:.2f}x  (load {load:.2f})",
          flush=True)


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("--shape", action="append", help="B,T,I,H (repeatable)")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--reps", type=int, default=3)
    a = ap.parse_args()
    shapes = [tuple(map(int, s.split(","))) for s in a.shape or ["16,50,512,512", "20,30,128,1024"]]
    for s in shapes:
        for n in map(int, a.threads.split(",")):
            _race(s, n, a.rounds, a.reps)
    sys.exit(0)
