"""Numba conv2d tuning: times the numba backend's conv2d entry points one by one (forward,
backward_input, backward_weight) against PyTorch CPU, interleaved in one process.

    PYTHONPATH=. python benchmarks/conv_numba_tuning.py                    # 2 threads, wall
    PYTHONPATH=. python benchmarks/conv_numba_tuning.py --threads 1 --clock cpu --layers CNN1
    PYTHONPATH=. python benchmarks/conv_numba_tuning.py --passes bw --set BW_COLS=512

Each round times every contender once in turn (reps calls each, median); the figure is the median
over rounds. Torch's backward is aten.convolution_backward with both gradients (and the bias one),
so compare it with the sum of ours ("bwd" row).
"""

from __future__ import annotations

import argparse
import importlib
import time

import numpy as np
import torch

import fastnn
from benchmarks.conv_tuning import CLOCK, LAYERS, _median_time


def contenders(nc, spec, dtype):
    n, c, h, w, oc = spec
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    wt = (rng.standard_normal((oc, c, 3, 3)) / np.sqrt(c * 9)).astype(dtype)
    b = rng.standard_normal(oc).astype(dtype)
    gy = rng.standard_normal((n, oc, h, w)).astype(dtype)
    tx, tw, tb, tg = (torch.from_numpy(a) for a in (x, wt, b, gy))
    s, p, d = (1, 1), (1, 1), (1, 1)

    def fwd():
        return nc.conv2d_forward(x, wt, b, s, p, d, 1, None)

    def bin_():
        return nc.conv2d_backward_input(gy, wt, x.shape, s, p, d, 1)

    def bw():
        return nc.conv2d_backward_weight(x, gy, wt.shape, s, p, d, 1, True)

    def bwd():
        bin_()
        bw()

    def t_fwd():
        with torch.no_grad():
            return torch.nn.functional.conv2d(tx, tw, tb, 1, 1)

    def t_bwd():
        with torch.no_grad():
            return torch.ops.aten.convolution_backward(tg, tx, tw, [oc], [1, 1], [1, 1], [1, 1],
                                                       False, [0, 0], 1, [True, True, True])

    tol = 1e-3 if dtype == np.float32 else 1e-9
    y, ref = fwd(), t_fwd().numpy()
    assert np.abs(y - ref).max() <= tol * max(1.0, np.abs(ref).max()), "forward mismatch"
    gx, gw, gb = t_bwd()
    for ours, theirs in ((bin_(), gx), (bw()[0], gw)):
        theirs = theirs.numpy()
        err = np.abs(ours - theirs).max()
        assert err <= tol * 10 * max(1.0, np.abs(theirs).max()), f"backward mismatch {err}"
    flops = 2.0 * n * oc * h * w * c * 9
    return flops, {"fwd": fwd, "bin": bin_, "bw": bw, "bwd": bwd}, {"fwd": t_fwd, "bwd": t_bwd}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--layers", default=",".join(LAYERS))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--dtype", default="float32")
    p.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    p.add_argument("--module", default="fastnn.backends.numba.conv2d",
                   help="the module whose conv2d_* functions are timed (e.g. an older copy)")
    p.add_argument("--passes", default="fwd,bin,bw,bwd")
    p.add_argument("--set", action="append", default=[], metavar="NAME=INT",
                   help="set one of the module's tuning knobs (TARGET_COLS, MR4, BW_COLS, ...)")
    a = p.parse_args()
    if a.clock == "cpu":
        CLOCK[0] = time.process_time
    torch.set_num_threads(a.threads)
    fastnn.set_num_threads(a.threads)
    nc = importlib.import_module(a.module)
    for kv in a.set:
        name, value = kv.split("=")
        if not hasattr(nc, name):
            p.error(f"{a.module} has no {name}")
        setattr(nc, name, int(value))
    print(f"threads {a.threads}, clock {a.clock}, dtype {a.dtype}")
    print(f"{'layer':6s} {'pass':4s} {'ours ms':>8s} {'torch ms':>8s} {'GF/s':>6s} {'ratio':>6s}")
    for name in a.layers.split(","):
        flops, ours, theirs = contenders(nc, LAYERS[name], np.dtype(a.dtype))
        ours = {k: f for k, f in ours.items() if k in a.passes.split(",")}
        theirs = {k: f for k, f in theirs.items() if k in ours}
        names = list(ours) + [f"t_{k}" for k in theirs]
        fns = {**ours, **{f"t_{k}": f for k, f in theirs.items()}}
        for f in fns.values():
            f()
        times = {k: [] for k in names}
        for _ in range(a.rounds):
            for k in names:
                times[k].append(_median_time(fns[k], a.reps))
        med = {k: float(np.median(v)) for k, v in times.items()}
        for k in ours:
            fl = flops * (2 if k == "bwd" else 1)
            t = med.get(f"t_{k}")
            ratio = f"{t / med[k]:6.2f}" if t else ""
            tt = f"{t * 1e3:8.2f}" if t else " " * 8
            print(f"{name:6s} {k:4s} {med[k] * 1e3:8.2f} {tt} {fl / med[k] / 1e9:6.1f} {ratio}")


if __name__ == "__main__":
    main()
