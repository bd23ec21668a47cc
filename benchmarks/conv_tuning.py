"""conv2d tuning script (the conv engineer's own measuring tool; bench_conv2d.py is the official
benchmark). Times fastnn's conv2d forward and backward (grad input + grad weight + grad bias)
against PyTorch CPU interleaved in one process, and the seed-CNN training step.

    python benchmarks/conv_tuning.py                       # cpp, all layers, 2 threads
    python benchmarks/conv_tuning.py --backend numba --layers CNN1,CNN2
    python benchmarks/conv_tuning.py --step                # also the whole seed-CNN step

    python benchmarks/conv_tuning.py --threads 1 --clock cpu   # on a loaded machine

Each repeat times every contender once in turn (so machine load hits them alike); the figure is
the median over repeats, and the spread (min..max of the ratio) says how noisy the run was.
FLOPs: forward 2*N*OC*OH*OW*C*KH*KW, backward twice that. Roof: ~233 GFLOP/s (2 Zen 4 cores,
float32 FMA).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

import fastnn
from fastnn import ops

ROOF = 233.0
LAYERS = {  # name: (N, C, H, W, OC), 3x3, stride 1, padding 1
    "CNN1": (64, 3, 24, 24, 32),
    "CNN2": (64, 32, 12, 12, 64),
    "RN64": (8, 64, 56, 56, 64),
    "RN128": (8, 128, 28, 28, 128),
    "RN256": (8, 256, 14, 14, 256),
    "RN512": (8, 512, 7, 7, 512),
}


CLOCK = [time.perf_counter]


def _median_time(fn, reps):
    fn()
    ts = []
    for _ in range(reps):
        t0 = CLOCK[0]()
        fn()
        ts.append(CLOCK[0]() - t0)
    return float(np.median(ts))


def layer_contenders(spec, backend):
    n, c, h, w, oc = spec
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, c, h, w), dtype=np.float32)
    wt = (rng.standard_normal((oc, c, 3, 3), dtype=np.float32) / np.sqrt(c * 9)).astype(np.float32)
    b = rng.standard_normal(oc, dtype=np.float32)
    gy = rng.standard_normal((n, oc, h, w), dtype=np.float32)
    tx, tw, tb, tg = (torch.from_numpy(a) for a in (x, wt, b, gy))
    kw = dict(stride=1, padding=1, backend=backend)

    def ours_fwd():
        return ops.conv2d(x, wt, b, **kw)

    def ours_bwd():
        ops.conv2d_backward_input(gy, wt, x.shape, **kw)
        ops.conv2d_backward_weight(x, gy, wt.shape, need_bias=True, **kw)

    def torch_fwd():
        with torch.no_grad():
            return torch.nn.functional.conv2d(tx, tw, tb, 1, 1)

    def torch_bwd():
        with torch.no_grad():
            torch.ops.aten.convolution_backward(tg, tx, tw, [oc], [1, 1], [1, 1], [1, 1], False,
                                                [0, 0], 1, [True, True, True])

    # validate before timing
    y = ours_fwd()
    ref = torch_fwd().numpy()
    assert np.abs(y - ref).max() <= 1e-3 * max(1.0, np.abs(ref).max()), "forward mismatch"
    flops = 2.0 * n * oc * h * w * c * 9
    return flops, (ours_fwd, torch_fwd), (ours_bwd, torch_bwd)


def bench_layers(names, backend, reps, rounds):
    print(f"backend {backend}, torch threads {torch.get_num_threads()}, fastnn threads "
          f"{fastnn.get_num_threads()}")
    print(f"{'layer':6s} {'pass':4s} {'ours ms':>8s} {'torch ms':>8s} {'ours GF/s':>9s} "
          f"{'%roof':>6s} {'torch GF/s':>10s} {'ratio':>6s} {'ratio spread':>13s}")
    for name in names:
        flops, fwd, bwd = layer_contenders(LAYERS[name], backend)
        for label, (ours, theirs), fl in (("fwd", fwd, flops), ("bwd", bwd, 2 * flops)):
            to, tt, ratios = [], [], []
            for _ in range(rounds):
                a = _median_time(ours, reps)
                t = _median_time(theirs, reps)
                to.append(a)
                tt.append(t)
                ratios.append(t / a)
            a, t = float(np.median(to)), float(np.median(tt))
            print(f"{name:6s} {label:4s} {a * 1e3:8.2f} {t * 1e3:8.2f} {fl / a / 1e9:9.1f} "
                  f"{100 * fl / a / 1e9 / ROOF:5.0f}% {fl / t / 1e9:10.1f} {t / a:6.2f} "
                  f"{min(ratios):6.2f}..{max(ratios):.2f}")


def bench_step(reps, rounds, batch=64):
    """The seed-CNN training step (zero_grad, forward, loss, backward, SGD-momentum step)."""
    import fastnn.nn  # noqa: F401
    import fastnn.optim  # noqa: F401

    def build(lib):
        nn = lib.nn
        lib.manual_seed(0)
        net = nn.Sequential(
            nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(2304, 128), nn.ReLU(), nn.Linear(128, 10))
        opt = lib.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
        rng = np.random.default_rng(0)
        x = lib.tensor(rng.standard_normal((batch, 3, 24, 24), dtype=np.float32))
        y = lib.tensor(rng.integers(0, 10, batch))

        def step():
            opt.zero_grad()
            loss = lib.nn.functional.cross_entropy(net(x), y)
            loss.backward()
            opt.step()

        return step

    ours, theirs = build(fastnn), build(torch)
    to, tt = [], []
    for _ in range(rounds):
        to.append(_median_time(ours, reps))
        tt.append(_median_time(theirs, reps))
    a, t = float(np.median(to)), float(np.median(tt))
    ratios = [b / c for b, c in zip(tt, to)]
    print(f"seed-CNN step b{batch}: fastnn {a * 1e3:.2f} ms, torch {t * 1e3:.2f} ms, ratio "
          f"{t / a:.2f} (spread {min(ratios):.2f}..{max(ratios):.2f})")


def profile_step(reps, batch=64):
    """Per-op split of fastnn's seed-CNN step (cProfile, cumulative)."""
    import cProfile
    import pstats

    import fastnn.nn as nn
    import fastnn.optim  # noqa: F401

    fastnn.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(2304, 128), nn.ReLU(), nn.Linear(128, 10))
    opt = fastnn.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    rng = np.random.default_rng(0)
    x = fastnn.tensor(rng.standard_normal((batch, 3, 24, 24), dtype=np.float32))
    y = fastnn.tensor(rng.integers(0, 10, batch))

    def step():
        opt.zero_grad()
        fastnn.nn.functional.cross_entropy(net(x), y).backward()
        opt.step()

    step()
    prof = cProfile.Profile(CLOCK[0])
    prof.enable()
    for _ in range(reps):
        step()
    prof.disable()
    pstats.Stats(prof).sort_stats("tottime").print_stats(18)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--backend", default="cpp")
    p.add_argument("--layers", default=",".join(LAYERS))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--step", action="store_true")
    p.add_argument("--profile", action="store_true")
    p.add_argument("--no-layers", action="store_true")
    p.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                   help="cpu: process CPU time (only meaningful with --threads 1; on a loaded "
                   "machine it leaves out the time other processes held the core)")
    a = p.parse_args()
    if a.clock == "cpu":
        if a.threads != 1:
            p.error("--clock cpu needs --threads 1")
        CLOCK[0] = time.process_time
    torch.set_num_threads(a.threads)
    fastnn.set_num_threads(a.threads)
    if not a.no_layers:
        bench_layers(a.layers.split(","), a.backend, a.reps, a.rounds)
    if a.step:
        bench_step(a.reps, a.rounds)
    if a.profile:
        profile_step(a.reps)


if __name__ == "__main__":
    main()
