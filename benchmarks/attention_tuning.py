"""Attention tuning script (not a test): fastnn cpp fused attention vs PyTorch CPU SDPA and the
naive matmul-softmax-matmul, timed interleaved in one run (the machine is shared; only ratios in
the same run mean anything).

    .venv/bin/python benchmarks/attention_tuning.py [--bwd] [--reps 5] [--shapes 8,8,512,64 ...]
"""

import argparse
import time

import numpy as np
import torch

import fastnn
import fastnn.ops as ops


def best(fn, reps):
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return min(ts)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shapes", nargs="*", default=["8,8,512,64", "1,8,2048,64", "1,8,4096,64"])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--bwd", action="store_true")
    ap.add_argument("--causal", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--naive", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    fastnn.set_num_threads(a.threads)
    rng = np.random.default_rng(0)
    for sh in a.shapes:
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
                s = (tq @ tk.transpose(-1, -2)) * (d ** -0.5)
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
        line = "  ".join(f"{n} {t[n]*1e3:8.2f} ms {fl/t[n]/1e9:6.1f} GF/s (spread {spread[n]:.2f})" for n in fns)
        names = list(fns)
        print(f"{sh:14s} {line}  ratio {t[names[1]]/t[names[0]]:.2f}x"
              + (f"  vs naive {t['naive']/t['ours']:.2f}x" if 'naive' in t else ""), flush=True)


if __name__ == "__main__":
    main()
