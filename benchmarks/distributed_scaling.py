"""Data-parallel scaling of DistributedDataParallel over MPI: 1 rank vs 2 ranks, 1 thread each.

    python benchmarks/distributed_scaling.py [--steps 40] [--models mlp,cnn]

Weak scaling, as DDP is used: every rank trains on its own batch of the same size, so at 2 ranks
a step processes twice the samples. For each model it reports
- steps/s at 1 rank (the plain model, no DDP: the honest baseline) and at 2 ranks (DDP);
- scaling efficiency = steps/s(2 ranks) / steps/s(1 rank) (1.0 = twice the samples per second);
- bytes allreduced per step (the gradient buckets);
- CPU ms per step of the busiest rank (``time.process_time``): on a shared machine, where other
  tenants' processes stretch wall time, this shows what DDP itself adds (1 rank vs 2 ranks);
- share of communication hidden behind backward = 1 - (time backward's last hook waited for the
  allreduce per step) / (time the same buckets take to allreduce alone, blocking). The wait also
  absorbs any imbalance between the ranks, so this is a lower bound on what was hidden; and the
  share of the bytes whose allreduce had already completed when backward's last gradient arrived.
Each rank is one process with one thread (OMP_NUM_THREADS=1, fastnn.set_num_threads(1)); the
ranks are started by ``python -m fastnn.distributed.run`` on this machine (loopback).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

HERE = os.path.abspath(__file__)
ROOT = os.path.dirname(os.path.dirname(HERE))
BATCH = {"mlp": 64, "cnn": 32}


def make(name, torch):
    nn = torch.nn
    if name == "mlp":
        model = nn.Sequential(
            nn.Linear(784, 1024), nn.ReLU(), nn.Linear(1024, 1024), nn.ReLU(), nn.Linear(1024, 10)
        )
        return model, (784,)
    model = nn.Sequential(
        nn.Conv2d(3, 32, 3),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(64 * 6 * 6, 256),
        nn.ReLU(),
        nn.Linear(256, 10),
    )
    return model, (3, 32, 32)


def worker(name, steps, warmup, hooks_only):
    import fastnn as torch
    import fastnn.distributed as dist
    from fastnn.nn.parallel import DistributedDataParallel as DDP

    torch.set_num_threads(1)
    DDP.progress_thread = not hooks_only
    dist.init_process_group("gloo")
    n, r = dist.get_world_size(), dist.get_rank()
    torch.manual_seed(0)
    model, shape = make(name, torch)
    ddp = DDP(model) if n > 1 else None
    run = ddp or model
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    rng = np.random.default_rng(r)
    B = BATCH[name]
    x = torch.from_numpy(rng.standard_normal((B, *shape)).astype(np.float32))
    y = torch.from_numpy(rng.integers(0, 10, B))
    F = torch.nn.functional

    def step():
        opt.zero_grad()
        F.cross_entropy(run(x), y).backward()
        opt.step()

    for _ in range(warmup):
        step()
    if ddp:
        ddp.stats.update(steps=0, bytes=0, overlapped_bytes=0, wait_s=0.0)
    dist.barrier()
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(steps):
        step()
    cpu = time.process_time() - c0
    dist.barrier()
    elapsed = time.perf_counter() - t0
    cpus = [None] * n
    dist.all_gather_object(cpus, cpu)
    out = {"model": name, "ranks": n, "steps_per_s": steps / elapsed, "batch_per_rank": B}
    out["cpu_ms_per_step"] = 1e3 * max(cpus) / steps  # the busiest rank's CPU time
    if ddp:
        s = ddp.stats
        out["bytes_per_step"] = s["bytes"] / s["steps"]
        out["overlapped_share"] = s["overlapped_bytes"] / max(s["bytes"], 1)
        out["buckets"] = s["buckets"]
        out["wait_ms_per_step"] = 1e3 * s["wait_s"] / s["steps"]
        # the same buckets, reduced alone (blocking), median of 20
        MPI = dist.collectives._State.mpi
        comm = ddp.process_group.comm
        times = []
        for _ in range(20):
            comm.Barrier()
            t = time.perf_counter()
            reqs = [comm.Iallreduce(MPI.IN_PLACE, b.buffer, MPI.SUM) for b in ddp._buckets]
            MPI.Request.Waitall(reqs)
            times.append(time.perf_counter() - t)
        out["comm_alone_ms"] = 1e3 * float(np.median(times))
        hidden = 1 - out["wait_ms_per_step"] / max(out["comm_alone_ms"], 1e-9)
        out["hidden_share"] = min(max(hidden, 0.0), 1.0)
    if r == 0:
        print("RESULT " + json.dumps(out), flush=True)
    dist.destroy_process_group()


def launch(name, ranks, steps, warmup, hooks_only):
    env = dict(os.environ, OMP_NUM_THREADS="1", NUMBA_NUM_THREADS="1")
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    cmd = [sys.executable, "-m", "fastnn.distributed.run", "--nproc-per-node", str(ranks), HERE]
    cmd += ["--worker", name, "--steps", str(steps), "--warmup", str(warmup)]
    cmd += ["--hooks-only"] if hooks_only else []
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    line = [ln for ln in p.stdout.splitlines() if ln.startswith("RESULT ")]
    if p.returncode != 0 or not line:
        raise SystemExit(f"{name} on {ranks} ranks failed:\n{p.stdout[-3000:]}{p.stderr[-3000:]}")
    return json.loads(line[-1][7:])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default="mlp,cnn")
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    ap.add_argument(
        "--hooks-only",
        action="store_true",
        help="DDP.progress_thread = False: test the allreduces only from the gradient hooks",
    )
    a = ap.parse_args()
    if a.worker:
        return worker(a.worker, a.steps, a.warmup, a.hooks_only)
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(
        "| model | batch/rank | 1 rank steps/s | 2 ranks steps/s | scaling efficiency "
        "| CPU ms/step 1 rank | CPU ms/step 2 ranks | bytes allreduced/step | buckets "
        "| comm alone ms | wait ms/step | comm hidden | bytes reduced during backward |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name in a.models.split(","):
        one = launch(name, 1, a.steps, a.warmup, a.hooks_only)
        two = launch(name, 2, a.steps, a.warmup, a.hooks_only)
        eff = two["steps_per_s"] / one["steps_per_s"]
        print(
            f"| {name} | {one['batch_per_rank']} | {one['steps_per_s']:.1f} | "
            f"{two['steps_per_s']:.1f} | {eff:.0%} | {one['cpu_ms_per_step']:.1f} | "
            f"{two['cpu_ms_per_step']:.1f} | {two['bytes_per_step'] / 2**20:.2f} MiB | "
            f"{two['buckets']} | {two['comm_alone_ms']:.2f} | {two['wait_ms_per_step']:.2f} | "
            f"{two['hidden_share']:.0%} | {two['overlapped_share']:.0%} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
