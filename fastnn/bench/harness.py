"""Validate, then time (llm.c's rule), fastnn and the references in alternating blocks.

For one case: fresh random inputs are made once and shared by every contender; the float64
reference result is computed; each contender's first call is timed on its own (first-call
latency: Numba JIT compilation, CUDA context, allocator warm-up) and its output validated; a
wrong output is FAIL and is not timed. The survivors are then timed in a few rounds, each round
giving every contender one block of consecutive samples (``inner`` calls per sample for short
kernels), after 0.1 s of untimed calls of that contender so the previous library's spinning
threads have let go of the cores (see ``_settle``); a machine that drifts slows all of them alike
and the ratio survives.
"""

from __future__ import annotations

import math
import time
import traceback
from dataclasses import asdict, dataclass, field

import numpy as np

from . import timing
from .specs.base import Unavailable, native, optional, rel_error, to_numpy, tolerance

REFERENCE_LABELS = {
    "numpy": "NumPy",
    "torch": "PyTorch",
    "torch.compile": "torch.compile",  # the training-step race
    "cupy": "CuPy",
    "torch-cuda": "PyTorch CUDA",
    "naive": "naive",  # --naive: PyTorch matmul-softmax-matmul (attention forward only)
}


@dataclass
class Contender:
    """A fastnn backend (``module`` set) or a reference library, and where it runs."""

    name: str
    kind: str  # "fastnn" or "reference"
    device: str = "cpu"
    module: object = None
    why_na: str = ""

    @property
    def clock(self) -> str:
        if self.device == "cpu":
            return "cpu"
        return "torch-cuda" if self.name == "torch-cuda" else "cupy"


@dataclass
class Result:
    """One row of the report (also one record of the JSON)."""

    kernel: str
    size: str
    backend: str
    kind: str
    status: str  # "ok", "FAIL", "n/a", "error"
    reason: str = ""
    device: str = "cpu"
    flops: float | None = None
    first_call_ms: float | None = None
    inner: int = 1
    samples_ms: list = field(default_factory=list)
    median_ms: float | None = None
    min_ms: float | None = None
    max_ms: float | None = None
    spread: float | None = None
    error: float | None = None
    tolerance: float | None = None
    ratios: dict = field(default_factory=dict)
    gflops: float | None = None
    pct_roof: float | None = None
    unit: str = "GFLOP/s"
    rate: float | None = None  # steps/s for the training race

    def to_dict(self) -> dict:
        d = asdict(self)
        return {
            k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in d.items()
        }


def _to_device(inputs: dict, device: str) -> dict:
    if device == "cpu":
        return inputs
    cupy, why = optional("cupy")  # pragma: no cover - needs a GPU
    if cupy is None:
        raise Unavailable(f"GPU inputs are CuPy arrays: {why}")
    return {k: cupy.asarray(v) if isinstance(v, np.ndarray) else v for k, v in inputs.items()}


def _sync(contender):
    if contender.device == "cpu":
        return
    if contender.name == "torch-cuda":  # pragma: no cover - needs a GPU
        optional("torch")[0].cuda.synchronize()
    else:  # pragma: no cover
        import cupy

        cupy.cuda.Device().synchronize()


def _runner(case, c: Contender, inputs: dict):
    """Zero-argument callable computing the case on contender c, or None when c has no way to
    compute this family (no row at all, e.g. NumPy for conv2d)."""
    if c.kind == "fastnn":
        why = native(c.module, case.kernels)
        if why:
            raise Unavailable(why)
        x = _to_device(inputs, c.device)
        return lambda: case.call(c.module, x)
    build = case.refs.get("torch" if c.name == "torch-cuda" else c.name)
    if build is None:
        return None
    if c.why_na:
        raise Unavailable(c.why_na)
    return build(inputs, c.device)


def _first_call(c, fn):
    """(output, ms) of the very first call: includes JIT compilation and any warm-up."""
    _sync(c)
    t0 = time.perf_counter()
    out = fn()
    _sync(c)
    return out, (time.perf_counter() - t0) * 1e3


def measure_case(case, contenders, *, seed: int, budget: timing.Budget, progress=None) -> list:
    """Rows for one case: every contender validated against float64, then timed interleaved."""
    rows, live = [], []
    base = {"kernel": case.family, "size": case.size, "flops": case.flops}
    tol, _why = tolerance(case.reduction)

    def row(c, status, reason="", **kw):
        r = Result(
            backend=c.name,
            kind=c.kind,
            status=status,
            reason=reason,
            device=c.device,
            tolerance=tol,
            **base,
            **kw,
        )
        rows.append(r)
        return r

    def tick():
        if progress is not None:
            progress.update(1)

    try:
        inputs = case.make(np.random.default_rng(seed))
        want = case.expect(inputs)
        want = tuple(None if w is None else np.asarray(w) for w in want)
        setup_error = None
    except Unavailable as exc:
        setup_error = ("n/a", str(exc))
    except Exception as exc:
        setup_error = ("error", f"setting up the case failed: {type(exc).__name__}: {exc}")
    if setup_error is not None:
        for c in contenders:
            if c.kind == "fastnn" or case.refs.get("torch" if c.name == "torch-cuda" else c.name):
                row(c, *setup_error)
            tick()
        return rows

    # fastnn contenders first: references are only worth timing next to a correct fastnn kernel
    ordered = [c for c in contenders if c.kind == "fastnn"] + [
        c for c in contenders if c.kind != "fastnn"
    ]
    for c in ordered:
        if c.kind != "fastnn" and not live:
            if c.why_na or case.refs.get("torch" if c.name == "torch-cuda" else c.name):
                row(c, "n/a", c.why_na or "no fastnn kernel passed validation to compare with")
            tick()
            continue
        try:
            fn = _runner(case, c, inputs)
            if fn is None:
                tick()
                continue
            got, first_ms = _first_call(c, fn)
            got = tuple(got) if isinstance(got, (tuple, list)) else (got,)
            err = rel_error(tuple(to_numpy(g) for g in got), want[: len(got)])
        except Unavailable as exc:
            row(c, "n/a", str(exc))
            tick()
            continue
        except Exception as exc:
            tb = traceback.format_exception_only(type(exc), exc)[-1].strip()
            row(c, "error", tb)
            tick()
            continue
        if not err <= tol:
            row(
                c,
                "FAIL",
                f"max rel error {err:.3g} > tolerance {tol:.3g} (float64 reference); not timed",
                first_call_ms=first_ms,
                error=err,
            )
            tick()
            continue
        live.append((c, fn, row(c, "ok", first_call_ms=first_ms, error=err)))

    if live:
        _time_interleaved(live, budget, progress)
    _ratios(rows)
    return rows


def _time_interleaved(live, budget, progress):
    """Samples for every live contender, in ``budget.blocks`` rounds A..A B..B C..C A..A ...

    Each round gives each contender one block: ``_settle`` (untimed calls), then its share of
    the samples back to back. Rounds alternate the libraries so drift hits all of them alike;
    blocks (not single calls) let each library run in the steady state a user sees.
    """
    clocks = [timing.clock(c.clock, budget.clock) for c, _, _ in live]
    # calibration: one settled call of each, which says how many calls make one sample; where
    # every contender needs just one call per sample it is kept as a sample (that saves one call
    # of each slow kernel)
    estimates = []
    for (_c, fn, r), clock in zip(live, clocks):
        first = r.first_call_ms / 1e3 if r.first_call_ms else None
        _settle(fn, budget.settle, first)
        estimates.append(clock(fn, 1))
    inners = [timing.inner_count(e, budget) for e in estimates]
    reps, caps = timing.sample_caps(estimates, inners, budget)
    keep = all(n == 1 for n in inners)
    samples = [[e] if keep else [] for e in estimates]
    blocks = max(1, min(budget.blocks, reps))
    for b in range(blocks):
        for i, ((_c, fn, _r), clock) in enumerate(zip(live, clocks)):
            want = caps[i] * (b + 1) // blocks - len(samples[i])
            if want <= 0:
                continue
            _settle(fn, budget.settle, estimates[i])
            for _ in range(want):
                samples[i].append(clock(fn, inners[i]) / inners[i])
    for i, (_c, _fn, r) in enumerate(live):
        r.inner = inners[i]
        r.samples_ms = [s * 1e3 for s in samples[i]]
        for k, v in timing.summary(samples[i]).items():
            setattr(r, k, v)
        if r.flops and r.median_ms:
            r.gflops = r.flops / (r.median_ms * 1e-3) / 1e9
        if progress is not None:
            progress.update(1)


def _settle(fn, seconds, estimate):
    """Untimed calls of this contender for about ``seconds`` (at least one) before its block.

    On a 2-core machine the previous library's thread pool (OpenBLAS, PyTorch's OpenMP, ours)
    keeps spinning after its call, and the scheduler gives it a core for ~4 ms out of every ~8
    for up to ~100 ms: strict A B A B timing measured 4.0 ms for both NumPy and C++ on a
    256x784x64 A^T B product that each runs in 0.21-0.29 ms alone (2026-12-01, idle machine).
    Sleeping does not help (the spinners keep spinning); running the contender itself until the
    other pool has gone to sleep does. A call longer than ``seconds`` is not repeated (it is
    itself the settling, and a few ms lost are then a small fraction of it).
    """
    if not seconds or (estimate is not None and estimate > seconds):
        return
    end = time.perf_counter() + seconds
    fn()
    while time.perf_counter() < end:
        fn()


def _ratios(rows):
    """ratio = reference median time / this row's median time (> 1: this row is faster)."""
    refs = {r.backend: r.median_ms for r in rows if r.kind == "reference" and r.median_ms}
    for r in rows:
        if r.kind == "fastnn" and r.median_ms:
            r.ratios = {name: ms / r.median_ms for name, ms in refs.items()}


def contenders(fastnn_names, *, gpu: bool | None = None, naive: bool = False) -> list:
    """Contenders for this machine: the named fastnn backends, then the references.

    A fastnn backend that cannot run here, or the cuda backend inside Numba's simulator (which
    checks indexing, not speed), is n/a with the reason. References: NumPy and PyTorch CPU always
    (PyTorch n/a when it does not import); with ``naive``, the unfused attention forward on
    PyTorch CPU; CuPy and PyTorch CUDA when a GPU is present.
    """
    from .. import backends

    out = []
    for name in fastnn_names:
        ok, reason = backends.available(name)
        if not ok:
            out.append(Contender(name, "fastnn", why_na=reason))
            continue
        mod = backends.get_backend(name)
        if mod.DEVICE == "cuda" and backends._simulated():
            out.append(
                Contender(
                    name,
                    "fastnn",
                    device="cuda",
                    why_na="Numba CUDA simulator: checks indexing, not speed",
                )
            )
            continue
        out.append(Contender(name, "fastnn", device=mod.DEVICE, module=mod))
    if gpu is None:
        gpu = any(c.device == "cuda" and not c.why_na for c in out)
    torch, why = optional("torch")
    out.append(Contender("numpy", "reference"))
    out.append(Contender("torch", "reference", why_na="" if torch else f"reference missing: {why}"))
    if naive:
        out.append(
            Contender("naive", "reference", why_na="" if torch else f"reference missing: {why}")
        )
    if gpu:  # pragma: no cover - needs a GPU
        cupy, why_cp = optional("cupy")
        out.append(
            Contender(
                "cupy",
                "reference",
                device="cuda",
                why_na="" if cupy else f"reference missing: {why_cp}",
            )
        )
        cuda_ok = bool(torch) and torch.cuda.is_available()
        out.append(
            Contender(
                "torch-cuda",
                "reference",
                device="cuda",
                why_na="" if cuda_ok else "reference missing: PyTorch without CUDA",
            )
        )
    return out
