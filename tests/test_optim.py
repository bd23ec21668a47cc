"""Optimizers and lr schedulers against PyTorch: 30 steps from the same start on the same
gradients match to 1e-6 relative, for every option combination; state_dict format and round trip."""

import copy
import itertools
import math

import numpy as np
import pytest
import torch

import fastnn
import fastnn.nn as nn
import fastnn.optim as optim
from fastnn.tensor import wrap

SHAPES = [(5, 4), (3,), (2, 3, 2)]
STEPS = 30


def _combos(**options):
    keys = list(options)
    return [dict(zip(keys, vals)) for vals in itertools.product(*options.values())]


SGD_CASES = [c for c in _combos(momentum=[0.0, 0.9], dampening=[0.0, 0.3], nesterov=[False, True],
                                weight_decay=[0.0, 0.05], maximize=[False, True])
             if not (c["nesterov"] and (c["momentum"] == 0 or c["dampening"] != 0))]
ADAM_CASES = _combos(amsgrad=[False, True], weight_decay=[0.0, 0.1], maximize=[False, True])
ADAGRAD_CASES = _combos(lr_decay=[0.0, 0.01], weight_decay=[0.0, 0.1],
                        initial_accumulator_value=[0.0, 0.5], maximize=[False, True])
RMSPROP_CASES = _combos(momentum=[0.0, 0.8], centered=[False, True], weight_decay=[0.0, 0.1],
                        maximize=[False, True])
CASES = (
    [("SGD", dict(lr=0.05, **c)) for c in SGD_CASES]
    + [("Adam", dict(lr=0.01, betas=(0.8, 0.95), **c)) for c in ADAM_CASES]
    + [("AdamW", dict(lr=0.01, **c)) for c in ADAM_CASES]
    + [("Adagrad", dict(lr=0.1, **c)) for c in ADAGRAD_CASES]
    + [("RMSprop", dict(lr=0.01, alpha=0.9, **c)) for c in RMSPROP_CASES]
)


def _ids(case):
    name, kw = case
    return name + "-" + "-".join(f"{k}={v}" for k, v in kw.items() if k not in ("lr", "betas"))


def run_pair(name, kw, dtype=np.float32, steps=STEPS, groups=False, seed=0):
    """The same parameters, gradients and schedule of steps through fastnn and torch."""
    rng = np.random.default_rng(seed)
    init = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    fps = [nn.Parameter(wrap(a.copy())) for a in init]
    tps = [torch.nn.Parameter(torch.from_numpy(a.copy())) for a in init]
    if groups:  # two groups, the second with its own lr; exercises per-group hyper-parameters
        fo = getattr(optim, name)([{"params": fps[:2]}, {"params": fps[2:], "lr": kw["lr"] * 3}],
                                  **kw)
        to = getattr(torch.optim, name)(
            [{"params": tps[:2]}, {"params": tps[2:], "lr": kw["lr"] * 3}], **kw)
    else:
        fo, to = getattr(optim, name)(fps, **kw), getattr(torch.optim, name)(tps, **kw)
    for step in range(steps):
        fo.zero_grad()
        to.zero_grad()
        for i, (fp, tp) in enumerate(zip(fps, tps)):
            if i == 1 and step % 7 == 3:
                continue  # a parameter without gradient this step is skipped
            g = rng.standard_normal(fp.shape).astype(dtype)
            fp.grad = wrap(g.copy())
            tp.grad = torch.from_numpy(g.copy())
        fo.step()
        to.step()
    return fps, tps, fo, to


def assert_params_match(fps, tps, rtol=1e-6):
    for fp, tp in zip(fps, tps):
        f, t = fp.detach().numpy(), tp.detach().numpy()
        scale = np.abs(t).max()
        np.testing.assert_allclose(f, t, rtol=rtol, atol=rtol * scale)


@pytest.mark.parametrize("case", CASES, ids=[_ids(c) for c in CASES])
def test_optimizer_matches_pytorch_30_steps(case):
    name, kw = case
    fps, tps, fo, to = run_pair(name, kw)
    assert_params_match(fps, tps)
    # the state has PyTorch's keys, shapes and values
    fsd, tsd = fo.state_dict(), to.state_dict()
    assert sorted(fsd["state"]) == sorted(tsd["state"])
    for pid, tstate in tsd["state"].items():
        fstate = fsd["state"][pid]
        assert sorted(fstate) == sorted(tstate)
        for k, v in tstate.items():
            if isinstance(v, torch.Tensor):
                assert fstate[k].dtype == np.dtype(str(v.dtype).replace("torch.", ""))
                np.testing.assert_allclose(fstate[k].numpy(), v.numpy(), rtol=1e-5,
                                           atol=1e-6 * max(1.0, float(v.abs().max())))


@pytest.mark.parametrize("name,kw", [("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
                                     ("Adam", dict(lr=0.02, amsgrad=True, weight_decay=0.01)),
                                     ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True))])
def test_float64_and_param_groups(name, kw):
    fps, tps, _, _ = run_pair(name, kw, dtype=np.float64)
    assert_params_match(fps, tps, rtol=1e-12)
    fps, tps, fo, to = run_pair(name, kw, groups=True)
    assert_params_match(fps, tps)
    assert [g["lr"] for g in fo.param_groups] == [g["lr"] for g in to.param_groups]


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "Adagrad", "RMSprop"])
def test_param_group_keys_match_pytorch(name):
    kw = {"momentum": 0.9} if name in ("SGD", "RMSprop") else {}
    fo = getattr(optim, name)([nn.Parameter(fastnn.ones(2))], lr=0.1, **kw)
    to = getattr(torch.optim, name)([torch.nn.Parameter(torch.ones(2))], lr=0.1, **kw)
    fsd, tsd = fo.state_dict(), to.state_dict()
    assert sorted(fsd["param_groups"][0]) == sorted(tsd["param_groups"][0])
    assert fsd["param_groups"][0]["params"] == [0]
    for k, v in tsd["param_groups"][0].items():
        assert fsd["param_groups"][0][k] == v, k


def test_state_dict_round_trip_and_from_torch():
    kw = dict(lr=0.01, amsgrad=True)
    fps, tps, fo, to = run_pair("Adam", kw, steps=10)
    # a fresh fastnn Adam loaded from fastnn's and a fresh one loaded from torch's state_dict
    tsd = to.state_dict()
    converted = {
        "state": {k: {n: wrap(v.detach().numpy().copy()) for n, v in s.items()}
                  for k, s in tsd["state"].items()},
        "param_groups": tsd["param_groups"],
    }
    for source in (fo.state_dict(), converted):
        params = [nn.Parameter(wrap(p.detach().numpy().copy())) for p in fps]
        o2 = optim.Adam(params, lr=0.5)
        o2.load_state_dict(source)
        assert o2.param_groups[0]["lr"] == 0.01 and o2.param_groups[0]["params"][0] is params[0]
        rng = np.random.default_rng(9)
        tps2 = [torch.nn.Parameter(p.detach().clone()) for p in tps]
        to2 = torch.optim.Adam(tps2, lr=0.5)
        to2.load_state_dict(copy.deepcopy(tsd))  # torch would share (and mutate) the tensors
        for _ in range(5):
            for p, tp in zip(params, tps2):
                g = rng.standard_normal(p.shape).astype(np.float32)
                p.grad, tp.grad = wrap(g.copy()), torch.from_numpy(g.copy())
            o2.step()
            to2.step()
        assert_params_match(params, tps2)
    with pytest.raises(ValueError, match="different number of parameter groups"):
        fo.load_state_dict({"state": {}, "param_groups": []})
    with pytest.raises(ValueError, match="doesn't match the size"):
        optim.Adam([nn.Parameter(fastnn.ones(1))]).load_state_dict(fo.state_dict())


def test_optimizer_api_errors_and_closure():
    p = nn.Parameter(fastnn.ones(3))
    with pytest.raises(TypeError, match="iterable of Tensors"):
        optim.SGD(p, lr=0.1)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="Invalid learning rate"):
        optim.Adam([p], lr=-1)
    with pytest.raises(ValueError, match="Invalid beta parameter at index 1"):
        optim.Adam([p], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="Nesterov momentum requires"):
        optim.SGD([p], lr=0.1, nesterov=True)
    o = optim.SGD([p], lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        o.add_param_group({"params": [p]})
    q = nn.Parameter(fastnn.ones(2))
    o.add_param_group({"params": q, "lr": 0.5})
    assert o.param_groups[1]["momentum"] == 0 and o.param_groups[1]["lr"] == 0.5

    def closure():
        o.zero_grad()
        loss = (p * p).sum() + (q * 2).sum()
        loss.backward()
        return loss

    loss = o.step(closure)
    assert loss.item() == pytest.approx(7.0)
    np.testing.assert_allclose(p.detach().numpy(), 1 - 0.1 * 2)
    np.testing.assert_allclose(q.detach().numpy(), 1 - 0.5 * 2)
    o.zero_grad(set_to_none=False)
    assert (p.grad.numpy() == 0).all()
    o.zero_grad()
    assert p.grad is None
    assert "Parameter Group 1" in repr(o)


def test_training_loop_with_backward_matches_torch():
    """Adam on a real model and loss (gradients from autograd on both sides)."""
    rng = np.random.default_rng(3)
    X = rng.standard_normal((32, 6)).astype(np.float32)
    Y = rng.integers(0, 3, 32)
    tm = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
    fm = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3))
    fm.load_state_dict({k: v.detach().numpy().copy() for k, v in tm.state_dict().items()})
    fo, to = optim.Adam(fm.parameters(), lr=0.01), torch.optim.Adam(tm.parameters(), lr=0.01)
    for _ in range(STEPS):
        fo.zero_grad()
        to.zero_grad()
        nn.functional.cross_entropy(fm(wrap(X)), wrap(Y)).backward()
        torch.nn.functional.cross_entropy(tm(torch.from_numpy(X)), torch.from_numpy(Y)).backward()
        fo.step()
        to.step()
    assert_params_match(list(fm.parameters()), list(tm.parameters()), rtol=2e-5)


# ------------------------------------------------------------------------------------ schedulers


SCHEDULERS = [
    ("StepLR", dict(step_size=4, gamma=0.5)),
    ("MultiStepLR", dict(milestones=[3, 7, 7, 20], gamma=0.3)),
    ("ExponentialLR", dict(gamma=0.9)),
    ("CosineAnnealingLR", dict(T_max=8)),
    ("CosineAnnealingLR", dict(T_max=5, eta_min=0.01)),
    ("LambdaLR", dict(lr_lambda=lambda e: 1.0 / (1 + e))),
    ("MultiplicativeLR", dict(lr_lambda=lambda e: 0.95)),
    ("ConstantLR", dict(factor=0.25, total_iters=6)),
    ("LinearLR", dict(start_factor=0.1, end_factor=1.0, total_iters=10)),
    ("PolynomialLR", dict(total_iters=12, power=2.0)),
    ("CosineAnnealingWarmRestarts", dict(T_0=4, T_mult=2, eta_min=0.001)),
    ("OneCycleLR", dict(max_lr=[1.0, 2.0], total_steps=STEPS)),
    ("OneCycleLR", dict(max_lr=0.5, total_steps=STEPS + 5, three_phase=True,
                        anneal_strategy="linear")),
    ("SequentialLR", None),
]


@pytest.mark.parametrize("name,kw", SCHEDULERS, ids=[f"{n}-{i}" for i, (n, _) in
                                                     enumerate(SCHEDULERS)])
def test_scheduler_matches_pytorch(name, kw):
    fo = optim.SGD([{"params": [nn.Parameter(fastnn.ones(1))]},
                    {"params": [nn.Parameter(fastnn.ones(1))], "lr": 0.3}], lr=0.1, momentum=0.9)
    to = torch.optim.SGD([{"params": [torch.nn.Parameter(torch.ones(1))]},
                          {"params": [torch.nn.Parameter(torch.ones(1))], "lr": 0.3}],
                         lr=0.1, momentum=0.9)
    def make(lib, opt):
        if name == "SequentialLR":  # warm-up then step decay, PyTorch's usual recipe
            s = lib.optim.lr_scheduler
            return s.SequentialLR(opt, [s.LinearLR(opt, 0.2, total_iters=5),
                                        s.StepLR(opt, 3, 0.5)], milestones=[6])
        return getattr(lib.optim.lr_scheduler, name)(opt, **kw)

    fs, ts = make(fastnn, fo), make(torch, to)
    for _ in range(STEPS):
        assert fs.get_last_lr() == pytest.approx(ts.get_last_lr(), rel=1e-12)
        assert [g["lr"] for g in fo.param_groups] == pytest.approx(
            [g["lr"] for g in to.param_groups], rel=1e-12)
        assert [g["momentum"] for g in fo.param_groups] == pytest.approx(
            [g["momentum"] for g in to.param_groups], rel=1e-12)
        fo.step()
        to.step()
        fs.step()
        ts.step()
    sd = fs.state_dict()
    assert "optimizer" not in sd and sd["last_epoch"] == STEPS
    fs2 = make(fastnn, fo)
    fs2.load_state_dict(sd)
    assert fs2.last_epoch == STEPS and fs2.get_last_lr() == fs.get_last_lr()


@pytest.mark.parametrize("kw", [dict(), dict(mode="max", factor=0.5, patience=2, cooldown=1),
                                dict(threshold_mode="abs", threshold=0.05, patience=1,
                                     min_lr=0.02)])
def test_reduce_lr_on_plateau_matches_pytorch(kw):
    fo = optim.SGD([nn.Parameter(fastnn.ones(1))], lr=0.1)
    to = torch.optim.SGD([torch.nn.Parameter(torch.ones(1))], lr=0.1)
    fs = optim.lr_scheduler.ReduceLROnPlateau(fo, **kw)
    ts = torch.optim.lr_scheduler.ReduceLROnPlateau(to, **kw)
    metrics = [1.0, 0.9, 0.95, 0.94, 0.96, 0.97, 0.8, 0.81, 0.82, 0.83, 0.79, 0.79] * 3
    for m in metrics:
        fs.step(m)
        ts.step(m)
        assert fo.param_groups[0]["lr"] == pytest.approx(to.param_groups[0]["lr"], rel=1e-12)
        assert fs.get_last_lr() == pytest.approx(ts.get_last_lr(), rel=1e-12)
    assert fs.num_bad_epochs == ts.num_bad_epochs and fs.best == ts.best
    with pytest.raises(ValueError, match="Factor should be < 1.0"):
        optim.lr_scheduler.ReduceLROnPlateau(fo, factor=1.0)


def test_cosine_matches_closed_form_midway():
    fo = optim.SGD([nn.Parameter(fastnn.ones(1))], lr=1.0)
    s = optim.lr_scheduler.CosineAnnealingLR(fo, T_max=10)
    for _ in range(5):
        fo.step()
        s.step()
    assert s.get_last_lr()[0] == pytest.approx((1 + math.cos(math.pi * 5 / 10)) / 2, rel=1e-12)
