"""Shared helpers for the pytest-benchmark files (one per kernel family).

Cases, inputs, FLOP counts and validation come from ``fastnn.bench.specs``, the same definitions
``python -m fastnn bench`` uses, so the two never disagree. Each benchmark validates its
contender against the float64 reference before timing it, and skips (with the reason) what
cannot run here: a backend without a native kernel (never a timing of the reference fallback),
an unavailable backend, a missing PyTorch.

With ``--benchmark-disable`` (CI's default, see pyproject.toml) the cases are the tiny smoke-test
shapes and each runs once; with ``--benchmark-enable`` they are the ``--sizes quick`` shapes
(``FASTNN_BENCH_SIZES=full`` for the full ones).
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from fastnn import backends
from fastnn.bench import specs
from fastnn.bench.harness import Contender, _runner
from fastnn.bench.specs.attention import attention_flops  # noqa: F401  (re-exported)
from fastnn.bench.specs.base import Unavailable, optional, rel_error, to_numpy, tolerance
from fastnn.bench.specs.conv2d import conv2d_flops  # noqa: F401
from fastnn.bench.specs.gemm import gemm_flops  # noqa: F401
from fastnn.bench.specs.lstm import lstm_flops  # noqa: F401

FASTNN = [n for n in backends.names() if n != "reference"]  # the oracle is not a contender
REFERENCES = ["numpy", "torch"]


def sizes(config) -> str:
    disabled = config.getoption("benchmark_disable", default=True) and not config.getoption(
        "benchmark_enable", default=False
    )
    if disabled:
        return "tiny"
    return os.environ.get("FASTNN_BENCH_SIZES", "quick")


def generate(metafunc, family: str) -> None:
    """pytest_generate_tests body: ``case`` over the family's shapes (one benchmark group each),
    ``contender`` over the fastnn backends and the references."""
    if "case" in metafunc.fixturenames:
        cases = specs.cases(family, sizes(metafunc.config))
        metafunc.parametrize("case", cases, ids=[c.size.replace(" ", "_") for c in cases])
    if "contender" in metafunc.fixturenames:
        metafunc.parametrize("contender", FASTNN + REFERENCES)


def contender(name: str) -> Contender:
    """The contender ``name``, or pytest.skip with the reason it cannot run here."""
    if name in REFERENCES:
        mod, why = optional(name) if name != "numpy" else (np, "")
        if mod is None:
            pytest.skip(f"reference missing: {why}")
        return Contender(name, "reference")
    ok, why = backends.available(name)
    if not ok:
        pytest.skip(f"backend {name} unavailable: {why}")
    mod = backends.get_backend(name)
    if mod.DEVICE == "cuda":
        if backends._simulated():
            pytest.skip(
                "cuda in Numba's CUDA simulator: checks indexing, not speed "
                "(tests/ cover its correctness)"
            )
        pytest.skip("cuda benchmarks run through `python -m fastnn bench` (CUDA events)")
    return Contender(name, "fastnn", mod.DEVICE, mod)


def inputs_and_expected(case, seed: int = 0):
    """Fresh random inputs and the float64 reference outputs (skip when there is no oracle)."""
    try:
        x = case.make(np.random.default_rng(seed))
        want = case.expect(x)
    except Unavailable as exc:
        pytest.skip(str(exc))
    return x, tuple(None if w is None else np.asarray(w) for w in want)


def validated(case, c: Contender, x, want):
    """The zero-argument callable for ``c`` on ``case``, after checking its result against the
    float64 reference (validate, then time). Skips when ``c`` cannot compute this case."""
    try:
        fn = _runner(case, c, x)
    except Unavailable as exc:
        pytest.skip(str(exc))
    if fn is None:
        pytest.skip(f"{c.name} has no {case.family} to compare with")
    got = fn()
    got = tuple(got) if isinstance(got, (tuple, list)) else (got,)
    err = rel_error(tuple(to_numpy(g) for g in got), want[: len(got)])
    tol, why = tolerance(case.reduction)
    assert err <= tol, f"{c.name} {case.label}: max rel error {err:.3g} > {tol:.3g} ({why})"
    return fn


def run(benchmark, case, name: str) -> None:
    """Validate ``name`` on ``case``, then benchmark it in the case's group."""
    c = contender(name)
    x, want = inputs_and_expected(case)
    fn = validated(case, c, x, want)
    benchmark.group = case.label
    benchmark.extra_info.update(flops=case.flops, kind=c.kind)
    benchmark(fn)
    if not benchmark.disabled and benchmark.stats:
        benchmark.extra_info["gflops"] = case.flops / benchmark.stats.stats.median / 1e9
