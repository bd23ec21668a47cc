"""pytest-benchmark: one training step (zero_grad, forward, loss, backward, optimizer step) of the
race's models, one group per model; parameters are the fastnn CPU backends and PyTorch.
fastnn's initial loss is cross-checked against PyTorch's on the same weights first."""

import numpy as np
import pytest

from benchmarks.common import FASTNN, contender, sizes
from fastnn.bench import train
from fastnn.bench.specs.base import Unavailable, optional


def pytest_generate_tests(metafunc):
    models = train.SIZES["tiny" if sizes(metafunc.config) == "tiny" else "quick"]
    metafunc.parametrize("model", models, ids=[m.name.split()[0] for m in models])
    metafunc.parametrize("who", FASTNN + ["torch"])


def test_train_step(benchmark, model, who):
    torch, why = optional("torch")
    if who == "torch" and torch is None:
        pytest.skip(f"reference missing: {why}")
    ref = train._Trainer(torch, model, seed=0) if torch is not None else None
    if who == "torch":
        step = ref.step
    else:
        c = contender(who)
        try:
            trainer, _note = train.fastnn_trainer(c, model, 0, ref)
        except Unavailable as exc:
            pytest.skip(str(exc))
        step = train._bound(c, trainer)
    benchmark.group = f"train {model.name}"
    loss = benchmark(step)
    assert np.isfinite(float(train._value(loss)))
