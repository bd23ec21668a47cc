"""Attention tuning script (not a test): fastnn cpp fused attention vs PyTorch CPU SDPA and the
naive matmul-softmax-matmul, timed interleaved in one run (the machine is shared; only ratios in
the same run mean anything).

    .venv/bin/python benchmarks/attention_tuning.py [--bwd] [--reps 5] [--shapes 8,8,512,64 ...]
    .venv/bin/python benchmarks/attention_tuning.py --threads 1 --thread-time   # shared machine
    .venv/bin/python benchmarks/attention_tuning.py --train     # encoder training step vs torch
    .venv/bin/python benchmarks/attention_tuning.py --memory    # peak RSS: fused vs naive, L=4096
"""

import argparse
import time

import numpy as np
import torch

import fastnn
import fastnn.ops as ops

CLOCK = time.perf_counter


def best(fn, reps):
    ts = []
    for _ in range(reps):
        t = CLOCK()
        fn()
        ts.append(CLOCK() - t)
    return min(ts)


def _encoder_step(lib, F, optim, x, y, layers=2, d=128, heads=4, ff=512):
    lib.manual_seed(0)
    nn = lib.nn
    model = nn.Sequential()
    enc = nn.TransformerEncoder(
        nn.TransformerEncoderLayer(d, heads, ff, 0.1),
        layers,
        **({"enable_nested_tensor": False} if lib is torch else {}),
    )
    emb, head = nn.Linear(x.shape[-1], d), nn.Linear(d, 4)
    params = list(enc.parameters()) + list(emb.parameters()) + list(head.parameters())
    opt = optim.Adam(params, lr=1e-3)
    xt, yt = lib.tensor(x), lib.tensor(y)
    del model

    def step():
        opt.zero_grad()
        loss = F.cross_entropy(head(enc(emb(xt)).mean(dim=0)), yt)
        loss.backward()
        opt.step()

    return step


def train(a):
    import fastnn.nn.functional as FF
    import fastnn.optim as foptim

    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 32, 16)).astype(np.float32)  # (L, batch, features)
    y = rng.integers(0, 4, 32)
    fns = {
        "ours": _encoder_step(fastnn, FF, foptim, x, y),
        "torch": _encoder_step(torch, torch.nn.functional, torch.optim, x, y),
    }
    res = {n: [] for n in fns}
    for _ in range(a.rounds):
        for n, f in fns.items():
            f()
            res[n].append(best(f, a.reps))
    t = {n: min(v) for n, v in res.items()}
    print(
        "encoder train step (2 layers, d 128, 4 heads, ff 512, batch 32, L 64): "
        + "  ".join(
            f"{n} {t[n] * 1e3:.1f} ms (spread {max(v) / min(v):.2f})" for n, v in res.items()
        )
        + f"  ratio {t['torch'] / t['ours']:.2f}x"
    )


_MEM_CHILD = """
import numpy as np, sys, fastnn, fastnn.ops as ops
def hwm():
    for line in open('/proc/self/status'):
        if line.startswith('VmHWM'):
            return int(line.split()[1]) * 1024
L, d, mode = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
rng = np.random.default_rng(0)
q, k, v = (rng.standard_normal((1, 1, L, d)).astype(np.float32) for _ in range(3))
if mode == 'naive':
    import fastnn.backends.reference.attention  # noqa: warm imports
ops.attention_forward(q[:, :, :16], k[:, :, :16], v[:, :, :16], backend='cpp')  # load the extension
base = hwm()
if mode == 'fused':
    out, lse = ops.attention_forward(q, k, v, backend='cpp')
else:  # naive float32 matmul-softmax-matmul: the (L, L) score matrix exists
    s = q[0, 0] @ k[0, 0].T * np.float32(d ** -0.5)
    s = np.exp(s - s.max(axis=1, keepdims=True)); s /= s.sum(axis=1, keepdims=True)
    out = s @ v[0, 0]
print(hwm() - base)
"""


def memory(a):
    import subprocess
    import sys

    L, d = 4096, 64
    for mode in ("fused", "naive"):
        r = subprocess.run(
            [sys.executable, "-c", _MEM_CHILD, str(L), str(d), mode],
            capture_output=True,
            text=True,
            check=True,
        )
        extra = int(r.stdout.split()[-1])
        print(
            f"peak extra RSS, (1,1,{L},{d}) forward, {mode}: {extra / 2**20:.1f} MiB "
            f"(inputs are {3 * L * d * 4 / 2**20:.1f} MiB, one LxL float32 matrix is "
            f"{L * L * 4 / 2**20:.1f} MiB)"
        )


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shapes", nargs="*", default=["8,8,512,64", "1,8,2048,64", "1,8,4096,64"])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--bwd", action="store_true")
    ap.add_argument("--causal", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--naive", action="store_true")
    ap.add_argument("--train", action="store_true")
    ap.add_argument("--memory", action="store_true")
    ap.add_argument(
        "--thread-time",
        action="store_true",
        help="time by the calling thread's CPU time (with --threads 1: robust to other load on a "
        "shared machine; both libraries then run in the calling thread)",
    )
    a = ap.parse_args()
    if a.thread_time:
        global CLOCK
        if a.threads != 1:
            ap.error("--thread-time needs --threads 1")
        CLOCK = time.thread_time
    torch.set_num_threads(a.threads)
    fastnn.set_num_threads(a.threads)
    if a.memory:
        return memory(a)
    if a.train:
        return train(a)
    rng = np.random.default_rng(0)
    for sh in a.shapes:
        bench_shape(a, sh, rng)


def bench_shape(a, sh, rng):
    B, H, L, d = map(int, sh.split(","))
    q, k, v, g = (rng.standard_normal((B, H, L, d)).astype(np.float32) for _ in range(4))
    tq, tk, tv, tg = (torch.from_numpy(x) for x in (q, k, v, g))
    flops = 4 * B * H * L * L * d * (0.5 if a.causal else 1.0)
    o, lse = ops.attention_forward(q, k, v, causal=a.causal, backend="cpp")

    def ours_f():
        ops.attention_forward(q, k, v, causal=a.causal, backend="cpp")

    def torch_f():
        with torch.no_grad():
            torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, is_causal=a.causal)

    def naive_f():
        with torch.no_grad():
            s = (tq @ tk.transpose(-1, -2)) * (d**-0.5)
            torch.softmax(s, -1) @ tv

    tqr, tkr, tvr = (x.clone().requires_grad_() for x in (tq, tk, tv))
    to = torch.nn.functional.scaled_dot_product_attention(tqr, tkr, tvr, is_causal=a.causal)

    def ours_b():
        ops.attention_backward(g, q, k, v, o, lse, causal=a.causal, backend="cpp")

    def torch_b():
        torch.autograd.grad(to, (tqr, tkr, tvr), tg, retain_graph=True)

    fns = {"ours": ours_f, "torch": torch_f}
    if a.naive:
        fns["naive"] = naive_f
    if a.bwd:
        fns = {"ours_bwd": ours_b, "torch_bwd": torch_b}
    res = {n: [] for n in fns}
    for _ in range(a.rounds):
        for n, f in fns.items():
            f()
            res[n].append(best(f, a.reps))
    t = {n: min(v) for n, v in res.items()}
    spread = {n: max(v) / min(v) for n, v in res.items()}
    fl = flops * (2.5 if a.bwd else 1.0)
    line = "  ".join(
        f"{n} {t[n] * 1e3:8.2f} ms {fl / t[n] / 1e9:6.1f} GF/s (spread {spread[n]:.2f})"
        for n in fns
    )
    names = list(fns)
    print(
        f"{sh:14s} {line}  ratio {t[names[1]] / t[names[0]]:.2f}x"
        + (f"  vs naive {t['naive'] / t['ours']:.2f}x" if "naive" in t else ""),
        flush=True,
    )


if __name__ == "__main__":
    main()
