"""LSTM tuning measurements: fastnn (cpp, numba) vs PyTorch CPU, timed interleaved in one run.

    PYTHONPATH=. .venv/bin/python benchmarks/lstm_tuning.py [--reps 15] [--only seq128,seq512,cell]
        [--threads 1 --cpu-time]   (single-thread CPU time: the robust figure on a loaded machine)

Cases (the issue's targets):
  seq128  nn.LSTM(64, 128) forward+backward, batch 64, T 100 (target >= 1.2x; numba >= 0.5x)
  seq512  nn.LSTM(512, 512) forward+backward, batch 64, T 100  (target >= 1.2x PyTorch)
  cell    nn.LSTMCell(64, 128) one step, batch 64: forward only and forward+backward (target >= 2x)
Also the raw kernels (fastnn.ops.lstm_sequence_forward/backward) to separate framework overhead.
Each repetition runs every contender once, in turn; the figure is the median over repetitions,
and the spread (min..max of the per-repetition ratio) says how noisy the shared machine was.
"""

# ruff: noqa: E741  (I is the input size, as in the kernel contract's (T, B, I, H) notation)

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

import fastnn
import fastnn.nn as fnn
import fastnn.ops as ops
from fastnn import backends


def _copy(src, dst):
    params = dict(dst.named_parameters())
    for name, p in src.named_parameters():
        params[name].array[...] = p.detach().numpy()


def seq_case(I, H, B=64, T=100):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((B, T, I)).astype(np.float32)
    tm = torch.nn.LSTM(I, H, batch_first=True)
    fm = fnn.LSTM(I, H, batch_first=True)
    _copy(tm, fm)
    tx = torch.tensor(x, requires_grad=True)
    fx = fastnn.tensor(x, requires_grad=True)

    def run_torch():
        y, (h, c) = tm(tx)
        y.sum().backward()

    def run_fastnn(backend):
        def f():
            with backends.use(backend):
                y, (h, c) = fm(fx)
                y.sum().backward()

        return f

    return {"torch": run_torch, "cpp": run_fastnn("cpp"), "numba": run_fastnn("numba")}


def kernel_case(I, H, B=64, T=100):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((T, B, I)).astype(np.float32)
    h0 = np.zeros((B, H), np.float32)
    w_ih = (rng.standard_normal((4 * H, I)) * 0.1).astype(np.float32)
    w_hh = (rng.standard_normal((4 * H, H)) * 0.1).astype(np.float32)
    b = np.zeros(4 * H, np.float32)
    gy = np.ones((T, B, H), np.float32)

    def run(backend):
        def f():
            y, hn, cn, cs, g = ops.lstm_sequence_forward(
                x, h0, h0, w_ih, w_hh, b, b, backend=backend
            )
            ops.lstm_sequence_backward(gy, h0, h0, x, h0, h0, w_ih, w_hh, y, cs, g, backend=backend)

        return f

    def fwd(backend):
        return lambda: ops.lstm_sequence_forward(x, h0, h0, w_ih, w_hh, b, b, backend=backend)

    return {"cpp fwd+bwd": run("cpp"), "cpp fwd": fwd("cpp"), "numba fwd+bwd": run("numba")}


def cell_case(I=64, H=128, B=64):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((B, I)).astype(np.float32)
    hx = rng.standard_normal((B, H)).astype(np.float32)
    tm, fm = torch.nn.LSTMCell(I, H), fnn.LSTMCell(I, H)
    _copy(tm, fm)
    tx, th, tc = (torch.tensor(a, requires_grad=True) for a in (x, hx, hx))
    fx, fh, fc = (fastnn.tensor(a, requires_grad=True) for a in (x, hx, hx))

    def t_fwd():
        with torch.no_grad():
            tm(tx, (th, tc))

    def f_fwd():
        with fastnn.no_grad():
            fm(fx, (fh, fc))

    def t_both():
        h, c = tm(tx, (th, tc))
        (h.sum() + c.sum()).backward()

    def f_both():
        h, c = fm(fx, (fh, fc))
        (h.sum() + c.sum()).backward()

    return {
        "torch fwd": t_fwd,
        "fastnn fwd": f_fwd,
        "torch fwd+bwd": t_both,
        "fastnn fwd+bwd": f_both,
    }


CLOCK = time.perf_counter


def measure(fns, reps, inner=1):
    for f in fns.values():  # warm-up (Numba compile, caches)
        f()
        f()
    times = {k: [] for k in fns}
    for _ in range(reps):
        for k, f in fns.items():
            t0 = CLOCK()
            for _ in range(inner):
                f()
            times[k].append((CLOCK() - t0) / inner)
    return {k: np.array(v) for k, v in times.items()}


def report(title, times, base):
    print(f"\n{title}")
    for k, v in times.items():
        line = f"  {k:16s} median {np.median(v) * 1e3:9.3f} ms  (min {v.min() * 1e3:.3f})"
        if base and k != base:
            r = times[base] / v
            line += (
                f"   speedup vs {base}: {np.median(r):.2f}x (range {r.min():.2f}..{r.max():.2f})"
            )
        print(line)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--only", default="seq128,seq512,cell,kernels")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument(
        "--cpu-time",
        action="store_true",
        help="time with the calling thread's CPU clock (needs --threads 1): immune to "
        "the time slicing of a loaded shared machine, not to cache contention",
    )
    args = ap.parse_args()
    global CLOCK
    if args.cpu_time:
        if args.threads != 1:
            ap.error("--cpu-time measures the calling thread only: use --threads 1")
        CLOCK = time.thread_time
    torch.set_num_threads(args.threads)
    fastnn.set_num_threads(args.threads)
    only = args.only.split(",")
    print(
        f"torch {torch.__version__} threads {torch.get_num_threads()}; fastnn threads "
        f"{fastnn.get_num_threads()}; {backends.available('cpp')[1]}"
    )
    if "seq128" in only:
        report("nn.LSTM(64,128) fwd+bwd B64 T100", measure(seq_case(64, 128), args.reps), "torch")
    if "seq512" in only:
        cases = seq_case(512, 512)
        report("nn.LSTM(512,512) fwd+bwd B64 T100", measure(cases, max(3, args.reps // 2)), "torch")
    if "cell" in only:
        report("nn.LSTMCell(64,128) B64 one step", measure(cell_case(), args.reps, inner=50), None)
        t = measure(cell_case(), args.reps, inner=50)
        for kind in ("fwd", "fwd+bwd"):
            r = t[f"torch {kind}"] / t[f"fastnn {kind}"]
            print(
                f"  cell {kind}: speedup {np.median(r):.2f}x (range {r.min():.2f}..{r.max():.2f})"
            )
    if "kernels" in only:
        report("raw kernels, I=64 H=128 B64 T100", measure(kernel_case(64, 128), args.reps), None)


if __name__ == "__main__":
    main()
