"""Clocks and statistics. CPU work is timed with perf_counter (``--clock wall``, the default) or
with the CPU time of the calling thread or of the process (``--clock thread|process``); GPU work
with CUDA events recorded after a synchronisation (CuPy's for CuPy/numba-cuda arrays, PyTorch's
for torch)."""

from __future__ import annotations

import functools
import math
import statistics
import time
from dataclasses import dataclass

# CPU timers. thread/process CPU time leave out the time the scheduler gave the core to other
# processes, so on a shared machine they compare kernels where the wall clock measures the load;
# they only mean something single-threaded (``--threads 1``: every library then computes in the
# calling thread), and they do not remove cache and memory-bandwidth contention.
TIMERS = {"wall": time.perf_counter, "thread": time.thread_time, "process": time.process_time}


def cpu_clock(fn, n: int, timer=time.perf_counter) -> float:
    """Seconds (of ``timer``) for n back-to-back calls of fn."""
    t = timer()
    for _ in range(n):
        fn()
    return timer() - t


def cupy_clock(fn, n: int) -> float:  # pragma: no cover - needs a GPU
    import cupy

    cupy.cuda.Device().synchronize()
    start, end = cupy.cuda.Event(), cupy.cuda.Event()
    start.record()
    for _ in range(n):
        fn()
    end.record()
    end.synchronize()
    return cupy.cuda.get_elapsed_time(start, end) / 1e3


def torch_cuda_clock(fn, n: int) -> float:  # pragma: no cover - needs a GPU
    import torch

    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(n):
        fn()
    end.record()
    end.synchronize()
    return start.elapsed_time(end) / 1e3


CLOCKS = {"cpu": cpu_clock, "cupy": cupy_clock, "torch-cuda": torch_cuda_clock}


def clock(kind: str, cpu_timer: str = "wall"):
    """The sampling function for a contender's clock kind ("cpu", "cupy", "torch-cuda"); CPU
    work is timed with ``TIMERS[cpu_timer]``, GPU work always with CUDA events."""
    if kind == "cpu":
        return functools.partial(cpu_clock, timer=TIMERS[cpu_timer])
    return CLOCKS[kind]


@dataclass
class Budget:
    """How long to time each contender of a case: ``seconds`` of samples per contender, at least
    ``min_reps`` and at most ``max_reps`` samples, each sample at least ``min_sample`` seconds
    (short kernels are called ``inner`` times per sample so timer overhead stays negligible).
    A contender whose single call already takes longer than ``seconds`` (a slow backend) gets
    ``slow_reps`` samples, taken in the first rounds, so it cannot eat the whole run.
    Samples are taken in ``blocks`` rounds; before its block in a round each contender runs,
    untimed, for ``settle`` seconds (at least one call): thread pools spin for a while after a
    parallel region, and on a 2-core machine the previous library's spinning threads would
    otherwise steal the cores from the next one (harness._settle has the measurement).
    ``clock`` names the CPU timer of the samples (a key of ``TIMERS``)."""

    seconds: float = 0.3
    min_reps: int = 3
    max_reps: int = 30
    min_sample: float = 0.002
    slow_reps: int = 3
    settle: float = 0.0
    blocks: int = 3
    clock: str = "wall"


BUDGETS = {
    "tiny": Budget(0.01, 2, 3, 0.0005, 2),
    "quick": Budget(0.25, 3, 15, 0.002, 2, 0.1),
    "full": Budget(1.0, 5, 40, 0.005, 3, 0.1),
}


def inner_count(estimate_s: float, budget: Budget) -> int:
    if estimate_s <= 0 or not math.isfinite(estimate_s):
        return 1
    return max(1, min(10_000, math.ceil(budget.min_sample / estimate_s)))


def rep_count(round_s: float, budget: Budget) -> int:
    """Samples per contender when one interleaved round (every contender once) takes round_s."""
    if round_s <= 0:
        return budget.max_reps
    return max(budget.min_reps, min(budget.max_reps, int(budget.seconds / round_s)))


def sample_caps(estimates, inners, budget: Budget) -> tuple[int, list]:
    """(rounds, samples wanted per contender): the fast contenders set the number of rounds; a
    slow one (one call > budget.seconds) is capped at budget.slow_reps samples."""
    slow = [e > budget.seconds for e in estimates]
    fast_round = sum(e * n for e, n, s in zip(estimates, inners, slow) if not s)
    reps = rep_count(fast_round, budget) if not all(slow) else budget.slow_reps
    return reps, [min(reps, budget.slow_reps) if s else reps for s in slow]


def summary(samples_s) -> dict:
    """median, min, max (ms) and the relative spread (max - min) / median."""
    if not samples_s:
        return {"median_ms": None, "min_ms": None, "max_ms": None, "spread": None}
    med = statistics.median(samples_s)
    lo, hi = min(samples_s), max(samples_s)
    return {
        "median_ms": med * 1e3,
        "min_ms": lo * 1e3,
        "max_ms": hi * 1e3,
        "spread": (hi - lo) / med if med > 0 else None,
    }
