"""A/B of the issue-20 levers on the training-step race, same process, interleaved blocks:
fastnn as it is ("new"), fastnn with the levers switched off for its step ("old": the
single-tensor optimizer path and per-head attention GEMMs), and PyTorch eager.

    PYTHONPATH=. python benchmarks/train_ab.py [--threads N] [--models 0,1,2,3] [--seconds S]

Prints, per model, the median ms/step of each and the ratios new/old and vs PyTorch. A
measurement script (the switch-off is a monkeypatch here, not a fastnn option)."""

import argparse
import contextlib
import dataclasses

import numpy as np
import torch

import fastnn
from fastnn.backends import cpp
from fastnn.bench import harness, timing, train
from fastnn.optim import adam, sgd


class _NoBatched:
    def __init__(self, lib):
        self._lib = lib

    def __getattr__(self, name):
        if name == "gemm_batched":
            raise AttributeError(name)
        return getattr(self._lib, name)


@contextlib.contextmanager
def levers_off():
    saved = adam.multi_tensor_lib, sgd.multi_tensor_lib, cpp._C
    adam.multi_tensor_lib = sgd.multi_tensor_lib = lambda *a: None
    cpp._C = _NoBatched(saved[2])
    try:
        yield
    finally:
        adam.multi_tensor_lib, sgd.multi_tensor_lib, cpp._C = saved


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--models", default="0,1,2,3")
    ap.add_argument("--seconds", type=float, default=4.0)
    args = ap.parse_args()
    fastnn.set_num_threads(args.threads)
    torch.set_num_threads(args.threads)
    budget = dataclasses.replace(timing.BUDGETS["full"], seconds=args.seconds, min_sample=0.0)
    c = harness.contenders(["cpp"])[0]
    for i in map(int, args.models.split(",")):
        model = train.MODELS[i]
        ref = train._Trainer(torch, model, 0)
        new, _ = train.fastnn_trainer(c, model, 0, ref)
        old, _ = train.fastnn_trainer(c, model, 0, None)
        new_step = train._bound(c, new)
        old_bound = train._bound(c, old)

        def old_step(_f=old_bound):
            with levers_off():
                return _f()

        rows = []
        live = []
        for name, fn in (("new", new_step), ("old", old_step), ("torch", ref.step)):
            fn()
            r = harness.Result("train", model.name, name, "x", "ok", first_call_ms=None)
            rows.append(r)
            live.append((harness.Contender(name, "x"), fn, r))
        harness._time_interleaved(live, budget, None)
        ms = {r.backend: r.median_ms for r in rows}
        spread = {r.backend: f"{r.min_ms:.3g}-{r.max_ms:.3g}" for r in rows}
        print(f"{model.name:36s} threads {args.threads}: new {ms['new']:.3g} ms "
              f"({spread['new']}), old {ms['old']:.3g} ({spread['old']}), torch "
              f"{ms['torch']:.3g} ({spread['torch']}); new/old {ms['old'] / ms['new']:.2f}x, "
              f"vs torch new {ms['torch'] / ms['new']:.2f}x old {ms['torch'] / ms['old']:.2f}x",
              flush=True)
        assert np.isfinite(float(train._value(new.step())))


if __name__ == "__main__":
    main()
