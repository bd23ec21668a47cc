"""A/B: fastnn's cpp conv2d kernels (every selectable version) against torch (oneDNN) on the conv
layers of the CIFAR ResNet tutorial (compat case tut-resnet: batch 100, 32x32, 16/32/64 channels,
3x3 pad 1, stride-2 downsampling whose shortcut is also a 3x3 conv), forward, backward-input and
backward-weight, at 1 and 2 threads.

Contenders are interleaved (torch, v1, v3, auto, torch, ...) in one process after a warm-up; each
figure is the best of ``--rounds`` rounds of ``--reps`` calls; ratios are torch time / fastnn time
(> 1: fastnn faster).

    PYTHONPATH=$PWD python benchmarks/conv_resnet_ab.py                 # 1 and 2 threads
    PYTHONPATH=$PWD python benchmarks/conv_resnet_ab.py --threads 2 --kernels fwd
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

import fastnn
from fastnn import backends, ops

# (C_in, C_out, H=W, stride) at N=100, kernel 3x3, padding 1.
LAYERS = [(3, 16, 32, 1), (16, 16, 32, 1), (16, 32, 32, 2), (32, 32, 16, 1), (32, 64, 16, 2),
          (64, 64, 8, 1)]
N = 100
KERNELS = {"fwd": "conv2d_forward", "bwd_in": "conv2d_backward_input",
           "bwd_w": "conv2d_backward_weight"}


def _versions(kernel):
    vs = backends.versions("cpp").get(KERNELS[kernel])
    return list(vs.choices) if vs else []


def _calls(kernel, c, oc, hw, s):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, c, hw, hw), dtype=np.float32)
    w = rng.standard_normal((oc, c, 3, 3), dtype=np.float32) * 0.1
    ohw = (hw - 1) // s + 1
    dy = rng.standard_normal((N, oc, ohw, ohw), dtype=np.float32)
    tx, tw, tdy = torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(dy)
    if kernel == "fwd":
        ref = lambda: torch.nn.functional.conv2d(tx, tw, None, s, 1)  # noqa: E731
        ours = lambda: ops.conv2d(x, w, None, stride=s, padding=1, backend="cpp")  # noqa: E731
    elif kernel == "bwd_in":
        ref = lambda: torch.nn.grad.conv2d_input(tx.shape, tw, tdy, s, 1)  # noqa: E731
        ours = lambda: ops.conv2d_backward_input(  # noqa: E731
            dy, w, x.shape, stride=s, padding=1, backend="cpp")
    else:
        ref = lambda: torch.nn.grad.conv2d_weight(tx, tw.shape, tdy, s, 1)  # noqa: E731
        ours = lambda: ops.conv2d_backward_weight(  # noqa: E731
            x, dy, w.shape, stride=s, padding=1, backend="cpp")
    return ref, ours


def _best(f, reps):
    t = time.perf_counter()
    for _ in range(reps):
        f()
    return (time.perf_counter() - t) / reps


def bench(kernel, layer, rounds, reps):
    ref, ours = _calls(kernel, *layer)
    contenders = {"torch": ref}
    for v in _versions(kernel):
        def f(v=v):
            with backends.use_version("cpp", KERNELS[kernel], v):
                return ours()
        contenders[v] = f
    contenders["auto"] = ours
    for f in contenders.values():  # warm-up
        f(), f()
    best = dict.fromkeys(contenders, float("inf"))
    for _ in range(rounds):
        for name, f in contenders.items():
            best[name] = min(best[name], _best(f, reps))
    return best


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, nargs="*", default=[1, 2])
    ap.add_argument("--kernels", nargs="*", default=list(KERNELS), choices=list(KERNELS))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--reps", type=int, default=3)
    a = ap.parse_args(argv)
    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}  fastnn {fastnn.__file__}")
    for nt in a.threads:
        torch.set_num_threads(nt)
        fastnn.set_num_threads(nt)
        for kernel in a.kernels:
            for layer in LAYERS:
                if kernel == "bwd_in" and layer[0] == 3:
                    continue  # the image input needs no gradient
                best = bench(kernel, layer, a.rounds, a.reps)
                t = best.pop("torch")
                c, oc, hw, s = layer
                figs = " ".join(f"{k} {v * 1e3:6.2f}ms ({t / v:4.2f}x)" for k, v in best.items())
                print(f"{nt}t {kernel:6s} {c:2d}->{oc:2d} {hw:2d}x{hw:<2d} s{s}: "
                      f"torch {t * 1e3:6.2f}ms  {figs}", flush=True)
    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}")


if __name__ == "__main__":
    main()
