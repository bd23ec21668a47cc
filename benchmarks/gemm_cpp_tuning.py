"""C++ GEMM vs NumPy (OpenBLAS) vs PyTorch, float32, timed interleaved in one process.

For each shape every implementation is timed in turn, round after round (A/B/C, A/B/C, ...), so
load from other processes hits all of them alike; the ratio columns are what to read on a shared
machine. Every implementation is first checked against the
float64 result (validate, then time).

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python benchmarks/gemm_cpp_tuning.py
    ... --groups square,small --rounds 15      # a subset; more rounds for less noise

Columns: GFLOP/s of cpp (the extension call), NumPy, torch from each one's best round; cpp/NumPy and
cpp/torch as ratios of those best rounds (on a machine shared with other jobs the best round is
the one least disturbed); `paired` = median over rounds of the NumPy/cpp time ratio, each pair
timed back to back; cpp as % of the FMA roof measured at start (roof_fma, all threads, best of 3).
`fused` rows compare gemm(a, b, bias, "relu") with np.maximum(a @ b + bias, 0) and
torch.relu(torch.addmm(bias, a, b)).
`small` rows also show fastnn.ops.gemm (the public API with its Python validation).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, uninstalled
import fastnn  # noqa: E402
from fastnn.backends.cpp._loader import load  # noqa: E402

TRAIN_M = (32, 64, 128, 512)
TRAIN_KN = ((784, 256), (256, 10), (128, 512), (1024, 1024), (4096, 1024))


def cases(groups):
    """(group, label, M, N, K, trans_a, trans_b, fused)."""
    out = []
    if "square" in groups:
        out += [("square", f"{n}", n, n, n, False, False, False) for n in (256, 512, 1024, 2048)]
    if "train" in groups:
        out += [
            ("train", f"{m}x{k}x{n}", m, n, k, False, False, False)
            for m in TRAIN_M
            for k, n in TRAIN_KN
        ]
    if "trans" in groups:
        # backward of y = x @ w (x: MxK, w: KxN): dx = dy @ w^T (A B^T), dw = x^T @ dy (A^T B)
        for m in TRAIN_M:
            for k, n in TRAIN_KN:
                out.append(("A B^T", f"dx {m}x{n}x{k}", m, k, n, False, True, False))
                out.append(("A^T B", f"dw {k}x{m}x{n}", k, n, m, True, False, False))
        out += [("A B^T", f"{n}", n, n, n, False, True, False) for n in (512, 1024)]
        out += [("A^T B", f"{n}", n, n, n, True, False, False) for n in (512, 1024)]
    if "fused" in groups:
        out += [
            ("fused", f"{m}x{k}x{n}", m, n, k, False, False, True)
            for m in TRAIN_M
            for k, n in TRAIN_KN
        ]
    if "small" in groups:
        out += [("small", f"{n}", n, n, n, False, False, False) for n in (8, 16, 24, 32, 48, 64)]
    return out


def impls(C, torch, a, b, bias, ta, tb, fused, with_ops):
    at = a.T if ta else a
    bt = b.T if tb else b
    fns = {}
    if fused:
        fns["cpp"] = lambda: C.gemm(a, b, bias, "relu", ta, tb, 1.0, 0.0, None)
        fns["numpy"] = lambda: np.maximum(at @ bt + bias, 0)
    else:
        fns["cpp"] = lambda: C.gemm(a, b, None, None, ta, tb, 1.0, 0.0, None)
        fns["numpy"] = lambda: at @ bt
    if torch is not None:
        ta_t, tb_t = torch.from_numpy(a), torch.from_numpy(b)
        ta_t = ta_t.T if ta else ta_t
        tb_t = tb_t.T if tb else tb_t
        if fused:
            bias_t = torch.from_numpy(bias)
            fns["torch"] = lambda: torch.relu(torch.addmm(bias_t, ta_t, tb_t))
        else:
            fns["torch"] = lambda: torch.mm(ta_t, tb_t)
    if with_ops:
        fns["ops"] = lambda: fastnn.ops.gemm(at, bt, backend="cpp")
    return fns


def time_interleaved(fns, rounds, target_s=0.002, clock=time.perf_counter):
    """Per-call seconds of each fn, timed round-robin: {name: [one sample per round]}."""
    reps = {}
    for name, fn in fns.items():  # calls per timing so one timing lasts about target_s
        fn()
        t0 = clock()
        fn()
        dt = max(clock() - t0, 1e-7)
        reps[name] = max(1, min(10000, int(target_s / dt)))
    samples = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            n = reps[name]
            t0 = clock()
            for _ in range(n):
                fn()
            samples[name].append((clock() - t0) / n)
    return samples


def paired_ratio(samples, other, base="cpp"):
    """Median over rounds of other/base time, each pair timed back to back: robust to load that
    drifts over seconds (other engineers' jobs on the same cores)."""
    return statistics.median(o / b for o, b in zip(samples[other], samples[base]))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--groups", default="square,train,trans,fused,small")
    p.add_argument("--rounds", type=int, default=25)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--no-torch", action="store_true")
    p.add_argument(
        "--clock",
        choices=("wall", "thread"),
        default="wall",
        help="thread = CPU time of the calling thread (only with --threads 1): immune to the "
        "time other processes take the core away, for comparing kernels on a loaded machine",
    )
    args = p.parse_args()

    if args.clock == "thread" and args.threads != 1:
        p.error("--clock thread measures one thread: use it with --threads 1")
    clock = time.thread_time if args.clock == "thread" else time.perf_counter
    fastnn.set_num_threads(args.threads)
    torch = None
    if not args.no_torch:
        import torch

        torch.set_num_threads(args.threads)
    C = load()
    try:
        from threadpoolctl import threadpool_info, threadpool_limits

        threadpool_limits(args.threads, user_api="blas")  # NumPy's BLAS on as many threads

        blas = [
            f"{d['internal_api']} {d.get('version')} kernel={d.get('architecture')} "
            f"threads={d['num_threads']}"
            for d in threadpool_info()
            if d["user_api"] == "blas"
        ]
    except ImportError:
        blas = ["threadpoolctl not installed"]
    roof = max(C.roof_fma(0.2, 0) for _ in range(3))
    print(
        f"# fastnn {fastnn.__version__}, ISA {C.ISA}, threads {args.threads}; "
        f"numpy {np.__version__} ({'; '.join(blas)}); torch {torch.__version__ if torch else '-'}"
    )
    print(
        f"# OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE')} "
        f"OPENBLAS_L2_SIZE={os.environ.get('OPENBLAS_L2_SIZE')}; roof_fma {roof:.0f} GFLOP/s; "
        f"{args.rounds} interleaved rounds, {args.clock} clock; {time.strftime('%Y-%m-%d %H:%M')}"
    )
    hdr = (
        f"{'group':7} {'shape MxNxK / label':22} {'cpp':>7} {'numpy':>7} {'torch':>7} "
        f"{'cpp/np':>7} {'cpp/pt':>7} {'%roof':>6}  extra"
    )
    print(hdr)
    rng = np.random.default_rng(0)
    ratios = {}
    # Warm up both thread pools (OpenMP's and OpenBLAS's): on a loaded machine the first second
    # of 2-thread calls in a process runs 100x slow while the worker threads get scheduled.
    w = rng.standard_normal((256, 256), dtype=np.float32)
    t_end = time.perf_counter() + 1.0
    while time.perf_counter() < t_end:
        C.gemm(w, w)
        w @ w
    for group, label, M, N, K, ta, tb, fused in cases(args.groups.split(",")):
        a = rng.standard_normal((K, M) if ta else (M, K), dtype=np.float32)
        b = rng.standard_normal((N, K) if tb else (K, N), dtype=np.float32)
        bias = rng.standard_normal(N, dtype=np.float32)
        fns = impls(C, torch, a, b, bias, ta, tb, fused, with_ops=group == "small")
        ref = (a.T if ta else a).astype(np.float64) @ (b.T if tb else b).astype(np.float64)
        if fused:
            ref = np.maximum(ref + bias, 0)
        for name, fn in fns.items():  # validate, then time
            got = np.asarray(fn())
            err = np.max(np.abs(got - ref)) / (1 + np.max(np.abs(ref)))
            if err > 1e-4:
                raise SystemExit(f"{name} wrong on {group} {label}: rel err {err:.2e}")
        flops = 2.0 * M * N * K
        samples = time_interleaved(fns, args.rounds, clock=clock)
        t = {k: min(v) for k, v in samples.items()}  # best round: the least disturbed
        gf = {k: flops / v / 1e9 for k, v in t.items()}
        r_np = t["numpy"] / t["cpp"]
        r_pt = t["torch"] / t["cpp"] if "torch" in t else float("nan")
        ratios.setdefault(group, []).append(r_np)
        extra = f"paired {paired_ratio(samples, 'numpy'):.2f}"
        if "ops" in t:
            us = {k: f"{v * 1e6:.1f}" for k, v in t.items()}
            extra += f"  us: cpp {us['cpp']} numpy {us['numpy']} ops.gemm {us['ops']}"
        print(
            f"{group:7} {label:22} {gf['cpp']:7.1f} {gf['numpy']:7.1f} {gf.get('torch', 0):7.1f} "
            f"{r_np:7.2f} {r_pt:7.2f} {100 * gf['cpp'] / roof:6.1f}  {extra}",
            flush=True,
        )
    print(
        "# cpp/numpy per group: "
        + ", ".join(
            f"{g} min {min(r):.2f} median {statistics.median(r):.2f}" for g, r in ratios.items()
        )
    )


if __name__ == "__main__":
    main()
