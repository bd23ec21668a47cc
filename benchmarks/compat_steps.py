"""Training-loop speed of the real clients in ../shared/compat (issue 19), fastnn against torch.

Each client runs unchanged through the suite's own ``launch.py`` (torch resolved to fastnn, or
real torch), in a copy of its folder prepared exactly as ``run.py`` prepares it. The timing is
profiler-free: a tiny shim wraps ``Tensor.backward`` of the library under test to record
``time.perf_counter()`` at every call, so one interval is one whole training step (data, forward,
backward, optimizer, logging); after ``--steps`` steps the shim ends the script. Steps/s is
1 / median interval after the warm-up steps (the median ignores the intervals that contain an
evaluation pass or a checkpoint). The two libraries alternate, ``--rounds`` times, and the best
round of each is kept, so a load burst on a shared machine does not decide the ratio.

    python benchmarks/compat_steps.py                       # tut-resnet tut-lm nanogpt-train
    python benchmarks/compat_steps.py nanogpt-train --steps 60 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
COMPAT = os.path.normpath(os.path.join(HERE, "..", "..", "shared", "compat"))

SHIM = r"""
import importlib, json, os, runpy, sys, time
mode, steps, warm, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
lib = importlib.import_module("fastnn" if mode == "fastnn" else "torch")
stamps = []
orig = lib.Tensor.backward
def backward(self, *a, **k):
    stamps.append(time.perf_counter())
    if len(stamps) > steps:
        ivals = sorted(b - a for a, b in zip(stamps[warm:], stamps[warm + 1:]))
        json.dump({"median_s": ivals[len(ivals) // 2], "n": len(ivals)}, open(out, "w"))
        sys.stdout.flush()
        os._exit(0)
    return orig(self, *a, **k)
lib.Tensor.backward = backward
sys.argv = [sys.argv[5], mode] + sys.argv[6:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def _load_run():
    """run.py's CASES and ENV, without running its main block."""
    src = open(os.path.join(COMPAT, "run.py")).read().split('\nif "--list" in sys.argv:')[0]
    ns = {"__file__": os.path.join(COMPAT, "run.py"), "__name__": "compat_run"}
    exec(compile(src, "run.py", "exec"), ns)
    return ns


def measure(run, name, mode, steps, warm):
    client, sub, scripts, setup, *_ = run["CASES"][name]
    work = tempfile.mkdtemp(prefix=f"steps-{name}-{mode}-")
    try:
        shutil.copytree(os.path.join(COMPAT, "clients", client), os.path.join(work, client))
        cwd = os.path.join(work, client, sub)
        if setup:
            setup(cwd)
        env = {**os.environ, **run["ENV"], **run["CASE_ENV"].get(name, {})}
        res = os.path.join(work, "steps.json")
        for i, (script, args) in enumerate(scripts):
            last = i == len(scripts) - 1
            if last and script == "train.py":  # nanoGPT: its own ms/iter and MFU every 5 iters
                args = [*args, "--log_interval=5"]
            cmd = ([sys.executable, "-c", SHIM, mode, str(steps), str(warm), res,
                    os.path.join(COMPAT, "launch.py"), script, *args] if last else
                   [sys.executable, os.path.join(COMPAT, "launch.py"), mode, script, *args])
            p = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True,
                               timeout=1800)
            if p.returncode != 0:
                raise RuntimeError(f"{name} under {mode}: {script} exited {p.returncode}: "
                                   f"{(p.stderr or p.stdout).strip().splitlines()[-1:]}")
        if not os.path.exists(res):
            raise RuntimeError(f"{name} under {mode}: the script ended before {steps} steps")
        own = [(float(t), float(m)) for it, t, m in
               re.findall(r"iter (\d+): loss [\d.]+, time ([\d.]+)ms, mfu (-?[\d.]+)%", p.stdout)
               if int(it) >= warm]
        return json.load(open(res))["median_s"], own
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("cases", nargs="*", default=["tut-resnet", "tut-lm", "nanogpt-train"])
    ap.add_argument("--steps", type=int, default=40, help="timed steps per run (default 40)")
    ap.add_argument("--warm", type=int, default=5, help="untimed warm-up steps (default 5)")
    ap.add_argument("--rounds", type=int, default=2, help="alternating rounds (default 2)")
    a = ap.parse_args(argv)
    if not os.path.isdir(COMPAT):
        sys.exit(f"compat suite not found at {COMPAT}")
    run = _load_run()
    print("| case | torch steps/s | fastnn steps/s | fastnn / torch |\n|---|---|---|---|")
    notes = []
    for name in a.cases:
        best = {"torch": float("inf"), "fastnn": float("inf")}
        own = {"torch": [], "fastnn": []}
        for _ in range(a.rounds):
            for mode in ("torch", "fastnn"):
                med, lines = measure(run, name, mode, a.steps + a.warm, a.warm)
                best[mode] = min(best[mode], med)
                own[mode] += lines
        t, f = 1 / best["torch"], 1 / best["fastnn"]
        print(f"| {name} | {t:.2f} | {f:.2f} | {f / t:.2f}x |", flush=True)
        if own["torch"] and own["fastnn"]:
            med = {k: sorted(v)[len(v) // 2] for k, v in own.items()}
            notes.append(f"{name}, its own log (median over the rounds' iterations): torch "
                         f"{med['torch'][0]:.1f} ms/iter, MFU {med['torch'][1]:.2f}%; fastnn "
                         f"{med['fastnn'][0]:.1f} ms/iter, MFU {med['fastnn'][1]:.2f}%")
    for line in notes:
        print(line)


if __name__ == "__main__":
    main()
