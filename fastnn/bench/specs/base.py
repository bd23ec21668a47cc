"""What a benchmark case is, and the helpers every kernel family's spec shares.

A :class:`Case` is one kernel (or kernel pair, e.g. conv2d's two backward kernels) at one shape:
its FLOP count, a maker of fresh random float32 inputs, how a fastnn backend module runs it
(through the contract functions, so a backend that lacks a kernel is seen as n/a, never timed as
the reference fallback), the float64 reference result it is validated against, and how each
reference library (NumPy, PyTorch, CuPy) computes the same thing.
"""

from __future__ import annotations

import importlib
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

EPS32 = float(np.finfo(np.float32).eps)
EPS64 = float(np.finfo(np.float64).eps)


class Unavailable(Exception):
    """A case or contender cannot run here; the message is the reason shown as n/a."""


_optional_cache: dict = {}


def optional(name: str):
    """(module, "") or (None, why): PyTorch and CuPy are references, never dependencies."""
    if name in sys.modules and sys.modules[name] is None:  # import blocked (tests do this)
        return None, f"{name} is not importable"
    if name not in _optional_cache:
        try:
            _optional_cache[name] = (importlib.import_module(name), "")
        except Exception as exc:  # ImportError, or a broken install
            _optional_cache[name] = (None, f"{name} is not installed ({type(exc).__name__}: {exc})")
    return _optional_cache[name]


def native(mod, kernels) -> str | None:
    """None when backend module ``mod`` has its own version of every kernel, else the reason."""
    missing = [k for k in kernels if not callable(getattr(mod, k, None))]
    if missing:
        return f"{getattr(mod, 'NAME', mod)} has no native {', '.join(missing)} yet"
    return None


def reference_backend():
    from ... import backends

    return backends.get_backend("reference")


def f64(inputs: dict) -> dict:
    """The same inputs in float64 for the reference oracle (non-arrays pass through)."""
    return {
        k: (v.astype(np.float64) if isinstance(v, np.ndarray) and v.dtype.kind == "f" else v)
        for k, v in inputs.items()
    }


def expect64(kernels, call):
    """Build a case's ``expect``: run ``call(reference_module, float64 inputs)``; n/a when the
    reference lacks a kernel (nothing trustworthy to validate against)."""

    def expect(inputs):
        ref = reference_backend()
        why = native(ref, kernels)
        if why:
            raise Unavailable(f"nothing to validate against: {why}")
        return call(ref, f64(inputs))

    return expect


def randn(rng: np.random.Generator, *shape, scale: float = 1.0) -> np.ndarray:
    """Fresh standard-normal float32 (never zeros: a kernel that skips work must show it)."""
    return (rng.standard_normal(shape, dtype=np.float32) * np.float32(scale)).astype(np.float32)


def to_numpy(x):
    """Host NumPy view of a NumPy, CuPy, Numba device or PyTorch array."""
    if x is None or isinstance(x, np.ndarray):
        return x
    if hasattr(x, "detach"):  # torch
        return x.detach().cpu().numpy()
    if hasattr(x, "get") and type(x).__module__.startswith("cupy"):
        return x.get()
    if hasattr(x, "copy_to_host"):
        return x.copy_to_host()
    return np.asarray(x)


def tolerance(reduction: int, dtype="float32") -> tuple[float, str]:
    """Allowed error relative to the result's largest magnitude, and why.

    A float32 dot product of length K accumulates rounding error that grows like
    eps32 * sqrt(K) for random data (eps32 * K in the worst case); 50x that bound still catches
    a wrong kernel (a dropped term, tile or gate shows up at ~1/K or far worse), and 1e-5 is the
    floor for short reductions that pass through exp/tanh. A float64 kernel gets the same rule
    with eps64 (floor 1e-12): it differs from the float64 reference only by summation order."""
    k = max(int(reduction), 1)
    if np.dtype(dtype) == np.float64:
        tol = max(1e-12, 50.0 * EPS64 * math.sqrt(k))
        return tol, f"50 * eps64 * sqrt(K={k}) relative to max|reference|"
    tol = max(1e-5, 50.0 * EPS32 * math.sqrt(k))
    return tol, f"50 * eps32 * sqrt(K={k}) relative to max|reference|"


def rel_error(got, want) -> float:
    """max over outputs of max|got - want| / max|want| (inf for NaN/Inf or a shape mismatch)."""
    if not isinstance(got, (tuple, list)):
        got, want = (got,), (want,)
    if len(got) != len(want):
        return math.inf
    worst = 0.0
    for g, w in zip(got, want):
        if w is None:
            continue
        g = to_numpy(g)
        if g is None or tuple(g.shape) != tuple(w.shape):
            return math.inf
        if g.size == 0:
            continue
        g = np.asarray(g, dtype=np.float64)
        w = np.asarray(w, dtype=np.float64)
        fin = np.isfinite(w)
        if not np.array_equal(np.isfinite(g), fin):
            return math.inf
        if not fin.any():
            continue
        scale = max(float(np.max(np.abs(w[fin]))), 1e-30)
        worst = max(worst, float(np.max(np.abs(g[fin] - w[fin]))) / scale)
    return worst


@dataclass
class Case:
    """One kernel benchmark at one shape.

    Attributes:
        family: "gemm", "conv2d", "lstm" or "attention".
        size: the label shown in the size column.
        flops: floating-point operations per call (a multiply-add counts 2).
        kernels: the contract kernels the case calls (all must be native in a backend).
        make: rng -> dict of fresh float32 inputs (and plain Python parameters).
        call: (backend module, inputs) -> output arrays, through the contract functions.
        expect: inputs -> float64 outputs of the reference backend (raises Unavailable).
        refs: reference library name ("numpy", "torch", "cupy") -> builder(inputs, device)
            returning a zero-argument callable that computes the same outputs.
        reduction: the longest float32 reduction in the kernel; sets the tolerance.
    """

    family: str
    size: str
    flops: float
    kernels: tuple
    make: Callable
    call: Callable
    expect: Callable
    refs: dict = field(default_factory=dict)
    reduction: int = 1

    @property
    def label(self) -> str:
        return f"{self.family} {self.size}"


def torch_tensors(torch, inputs: dict, device: str, names, requires_grad=()):
    """Torch copies of ``inputs[names]`` on ``device`` (float32; None stays None)."""
    out = {}
    for n in names:
        v = inputs[n]
        if v is None:
            out[n] = None
            continue
        t = torch.from_numpy(np.ascontiguousarray(v)).to(device)
        if n in requires_grad:
            t.requires_grad_(True)
        out[n] = t
    return out


def torch_forward_ref(names, forward):
    """A ``refs["torch"]`` builder: torch copies of ``inputs[names]`` on the device, then
    ``forward(torch, tensors)`` under no_grad on each call."""

    def build(x, device="cpu"):
        torch, _ = optional("torch")
        t = torch_tensors(torch, x, device, names)

        def run():
            with torch.no_grad():
                return forward(torch, t)

        return run

    return build


def torch_sync(torch, device: str):
    """Callable that waits for the device (a no-op on CPU)."""
    if device == "cuda":
        return torch.cuda.synchronize
    return lambda: None
