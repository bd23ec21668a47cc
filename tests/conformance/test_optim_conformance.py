"""Every torch.optim optimizer and lr_scheduler against torch 2.13: 20 steps from the same start
on the same gradients (parameters and every state entry to float32 rounding), and state_dict()
round trips — fastnn's own, and torch's state_dict loaded into fastnn mid-run."""

import copy
import itertools

import numpy as np
import pytest
import torch

import fastnn
import fastnn.nn as nn
import fastnn.optim as optim
from fastnn.tensor import wrap

SHAPES = [(5, 4), (3,), (2, 3, 2)]
STEPS = 20


def _combos(**options):
    keys = list(options)
    return [dict(zip(keys, vals)) for vals in itertools.product(*options.values())]


CASES = (
    [("Adadelta", dict(lr=0.5, **c)) for c in _combos(weight_decay=[0.0, 0.1],
                                                       maximize=[False, True])]
    + [("Adadelta", dict(rho=0.8, eps=1e-4))]
    + [("Adamax", dict(lr=0.01, **c)) for c in _combos(weight_decay=[0.0, 0.1],
                                                        maximize=[False, True])]
    + [("ASGD", dict(lr=0.05, **c)) for c in _combos(weight_decay=[0.0, 0.1], t0=[1e6, 5.0],
                                                      maximize=[False, True])]
    + [("NAdam", dict(lr=0.01, **c)) for c in _combos(
        weight_decay=[0.0, 0.1], decoupled_weight_decay=[False, True], maximize=[False, True])]
    + [("NAdam", dict(lr=0.01, momentum_decay=0.01, betas=(0.8, 0.9)))]
    + [("RAdam", dict(lr=0.01, **c)) for c in _combos(
        weight_decay=[0.0, 0.1], decoupled_weight_decay=[False, True], maximize=[False, True])]
    + [("RAdam", dict(lr=0.01, betas=(0.5, 0.6)))]  # rho_t > 5 from step 7 on: both branches
    + [("Rprop", dict(lr=0.01, **c)) for c in _combos(maximize=[False, True])]
    + [("Rprop", dict(lr=0.1, etas=(0.3, 1.5), step_sizes=(0.02, 0.2)))]
    + [("Adafactor", dict(lr=0.01, **c)) for c in _combos(weight_decay=[0.0, 0.1],
                                                           maximize=[False, True])]
    + [("Adafactor", dict(lr=0.05, beta2_decay=-0.5, eps=(1e-3, 1e-2), d=0.9 + 0.2))]
    + [("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.05)),
       ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.1, weight_decay=0.05)),
       ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.1)),
       ("AdamW", dict(lr=0.01)),
       ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.1)),
       ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True, weight_decay=0.1))]
)


def _ids(case):
    name, kw = case
    return name + "-" + "-".join(f"{k}={v}" for k, v in kw.items() if k != "lr")


def _grads(rng, shapes, dtype, step, sparse_rows=False):
    out = []
    for i, s in enumerate(shapes):
        if i == 1 and step % 7 == 3:
            out.append(None)  # a parameter without gradient this step is skipped
            continue
        g = rng.standard_normal(s).astype(dtype)
        if sparse_rows:  # an embedding-like gradient: some rows untouched
            g[rng.random(s[0]) < 0.4] = 0
        out.append(g)
    return out


def _pair(name, kw, dtype, rng):
    init = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    fps = [nn.Parameter(wrap(a.copy())) for a in init]
    tps = [torch.nn.Parameter(torch.from_numpy(a.copy())) for a in init]
    return fps, tps, getattr(optim, name)(fps, **kw), getattr(torch.optim, name)(tps, **kw)


def _run(fo, to, fps, tps, rng, steps, dtype, sparse=False):
    for step in range(steps):
        fo.zero_grad()
        to.zero_grad()
        for fp, tp, g in zip(fps, tps, _grads(rng, SHAPES, dtype, step, sparse)):
            if g is None:
                continue
            fp.grad = wrap(g.copy())
            tg = torch.from_numpy(g.copy())
            tp.grad = tg.to_sparse() if sparse else tg
        fo.step()
        to.step()


def _assert_close(f, t, rtol, what):
    scale = max(1.0, float(np.abs(t).max())) if np.size(t) else 1.0
    np.testing.assert_allclose(f, t, rtol=rtol, atol=rtol * scale, err_msg=what)


def _assert_match(fps, tps, fo, to, rtol):
    for i, (fp, tp) in enumerate(zip(fps, tps)):
        _assert_close(fp.detach().numpy(), tp.detach().numpy(), rtol, f"param {i}")
    fsd, tsd = fo.state_dict(), to.state_dict()
    assert sorted(fsd["state"]) == sorted(tsd["state"])
    for pid, tstate in tsd["state"].items():
        fstate = fsd["state"][pid]
        assert sorted(fstate) == sorted(tstate)
        for k, v in tstate.items():
            if isinstance(v, torch.Tensor):
                f = fstate[k].numpy()
                assert f.dtype == np.dtype(str(v.dtype).replace("torch.", "")), k
                _assert_close(f, v.numpy(), rtol * 10, f"state {pid}.{k}")
            else:
                assert fstate[k] == v, k
    for fg, tg in zip(fsd["param_groups"], tsd["param_groups"]):
        assert sorted(fg) == sorted(tg)
        for k, v in tg.items():
            assert fg[k] == v, k


def _torch_state_to_fastnn(tsd):
    return {"state": {k: {n: wrap(v.detach().numpy().copy()) if isinstance(v, torch.Tensor)
                          else v for n, v in s.items()} for k, s in tsd["state"].items()},
            "param_groups": copy.deepcopy(tsd["param_groups"])}


@pytest.mark.parametrize("case", CASES, ids=[_ids(c) for c in CASES])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_optimizer_20_steps_and_state_dict_round_trip(case, dtype):
    name, kw = case
    rtol = 1e-6 if dtype == np.float32 else 1e-12
    rng = np.random.default_rng(0)
    fps, tps, fo, to = _pair(name, kw, dtype, rng)
    _run(fo, to, fps, tps, rng, STEPS // 2, dtype)
    _assert_match(fps, tps, fo, to, rtol)
    # continue from state_dict()s — fastnn's own, and torch's — beside a torch optimizer that
    # reloaded its own (loading casts floating state to the parameter dtype on both sides)
    tsd = to.state_dict()
    tps2 = [torch.nn.Parameter(p.detach().clone()) for p in tps]
    to2 = getattr(torch.optim, name)(tps2, **kw)
    to2.load_state_dict(copy.deepcopy(tsd))
    seed = rng.integers(1 << 30)
    for source in (_torch_state_to_fastnn(tsd), fo.state_dict()):
        fps2 = [nn.Parameter(wrap(p.detach().numpy().copy())) for p in fps]
        fo2 = getattr(optim, name)(fps2, **kw)
        fo2.load_state_dict(source)
        tps3 = [torch.nn.Parameter(p.detach().clone()) for p in tps2]
        to3 = getattr(torch.optim, name)(tps3, **kw)
        to3.load_state_dict(copy.deepcopy(to2.state_dict()))
        _run(fo2, to3, fps2, tps3, np.random.default_rng(seed), STEPS // 2, dtype)
        _assert_match(fps2, tps3, fo2, to3, rtol)


@pytest.mark.parametrize("kw", [dict(), dict(lr=0.01, betas=(0.8, 0.9), maximize=True)])
def test_sparse_adam_on_dense_gradients_matches_torch_sparse(kw):
    """fastnn has no sparse tensors: SparseAdam takes the dense gradient and updates only its
    non-zero entries, exactly what torch's SparseAdam does with the same gradient made sparse."""
    rng = np.random.default_rng(1)
    fps, tps, fo, to = _pair("SparseAdam", kw, np.float32, rng)
    _run(fo, to, fps, tps, rng, STEPS, np.float32, sparse=True)
    _assert_match(fps, tps, fo, to, 1e-6)
    fo2 = optim.SparseAdam(fps, **kw)
    fo2.load_state_dict(_torch_state_to_fastnn(to.state_dict()))
    _run(fo2, to, fps, tps, rng, 5, np.float32, sparse=True)
    _assert_match(fps, tps, fo2, to, 1e-6)


def _lbfgs_problem(lib, x, a, b):
    r = lib.matmul(a, x) - b
    return (r * r).sum() + 0.1 * (x * x * x * x).sum()


@pytest.mark.parametrize("kw", [dict(), dict(lr=0.5, max_iter=5, history_size=3),
                                dict(line_search_fn="strong_wolfe"),
                                dict(line_search_fn="strong_wolfe", max_iter=4, history_size=2)])
def test_lbfgs_matches_torch(kw):
    rng = np.random.default_rng(2)
    a, b, x0 = rng.standard_normal((6, 4)), rng.standard_normal(6), rng.standard_normal(4)
    fx, tx = nn.Parameter(wrap(x0.copy())), torch.nn.Parameter(torch.from_numpy(x0.copy()))
    fa, fb = wrap(a), wrap(b)
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    fo, to = optim.LBFGS([fx], **kw), torch.optim.LBFGS([tx], **kw)

    def fclosure():
        fo.zero_grad()
        loss = _lbfgs_problem(fastnn, fx, fa, fb)
        loss.backward()
        return loss

    def tclosure():
        to.zero_grad()
        loss = _lbfgs_problem(torch, tx, ta, tb)
        loss.backward()
        return loss

    for _ in range(5):
        fl, tl = fo.step(fclosure), to.step(tclosure)
        assert float(fl) == pytest.approx(float(tl), rel=1e-10, abs=1e-12)
        np.testing.assert_allclose(fx.detach().numpy(), tx.detach().numpy(), rtol=1e-9,
                                   atol=1e-10)
    fs, ts = fo.state[fx], to.state[tx]
    assert fs["func_evals"] == ts["func_evals"] and fs["n_iter"] == ts["n_iter"]
    assert sorted(fo.state_dict()["param_groups"][0]) == sorted(to.state_dict()["param_groups"][0])
    with pytest.raises(ValueError, match="per-parameter options"):
        optim.LBFGS([{"params": [fx]}, {"params": [nn.Parameter(fastnn.ones(1))]}])


def test_optimizer_argument_errors_match_torch():
    p = [nn.Parameter(fastnn.ones(2))]
    tp = [torch.nn.Parameter(torch.ones(2))]
    bad = [("Adadelta", dict(rho=1.5)), ("Adamax", dict(betas=(0.9, 1.0))),
           ("NAdam", dict(momentum_decay=-1)), ("RAdam", dict(lr=-1)),
           ("Rprop", dict(etas=(1.5, 1.2))), ("ASGD", dict(weight_decay=-1)),
           ("Adafactor", dict(d=0.5)), ("SparseAdam", dict(eps=0.0))]
    for name, kw in bad:
        with pytest.raises(ValueError) as theirs:
            getattr(torch.optim, name)(tp, **kw)
        with pytest.raises(ValueError) as ours:
            getattr(optim, name)(p, **kw)
        assert str(ours.value) == str(theirs.value), name


# ------------------------------------------------------------------------------------ schedulers
def _sgd(lib, momentum=0.9):
    P = lib.nn.Parameter  # noqa: N806
    return lib.optim.SGD([{"params": [P(lib.ones(1))]}, {"params": [P(lib.ones(1))], "lr": 0.3}],
                         lr=0.1, momentum=momentum)


def _adam(lib):
    return lib.optim.Adam([lib.nn.Parameter(lib.ones(1))], lr=0.1)


SCHEDULERS = {
    "CyclicLR-triangular": (_sgd, lambda s, o: s.CyclicLR(o, 0.01, [0.1, 0.2], step_size_up=4)),
    "CyclicLR-triangular2": (_sgd, lambda s, o: s.CyclicLR(o, 0.01, 0.1, step_size_up=3,
                                                           step_size_down=5, mode="triangular2")),
    "CyclicLR-exp_range": (_sgd, lambda s, o: s.CyclicLR(o, [0.01, 0.02], 0.1, step_size_up=3,
                                                         mode="exp_range", gamma=0.9)),
    "CyclicLR-adam-beta1": (_adam, lambda s, o: s.CyclicLR(o, 0.01, 0.1, step_size_up=2)),
    "CyclicLR-scale_fn": (_sgd, lambda s, o: s.CyclicLR(o, 0.01, 0.1, step_size_up=3,
                                                        scale_fn=lambda x: 0.5 ** x,
                                                        scale_mode="iterations",
                                                        cycle_momentum=False)),
    "ChainedScheduler": (_sgd, lambda s, o: s.ChainedScheduler(
        [s.ConstantLR(o, factor=0.1, total_iters=4), s.ExponentialLR(o, gamma=0.9)])),
    "ChainedScheduler-cosine-linear": (_sgd, lambda s, o: s.ChainedScheduler(
        [s.LinearLR(o, 0.5, total_iters=6), s.CosineAnnealingLR(o, T_max=7)], optimizer=o)),
    "SequentialLR": (_sgd, lambda s, o: s.SequentialLR(
        o, [s.LinearLR(o, 0.2, total_iters=5), s.PolynomialLR(o, total_iters=10, power=2.0)],
        milestones=[6])),
    "OneCycleLR-cos": (_sgd, lambda s, o: s.OneCycleLR(o, max_lr=[1.0, 2.0],
                                                       total_steps=STEPS + 1)),
    "OneCycleLR-adam": (_adam, lambda s, o: s.OneCycleLR(o, max_lr=0.5, epochs=3,
                                                         steps_per_epoch=7)),
    "PolynomialLR": (_sgd, lambda s, o: s.PolynomialLR(o, total_iters=12, power=0.5)),
    "LinearLR": (_sgd, lambda s, o: s.LinearLR(o, 1.0, 0.1, total_iters=8)),
    "CosineAnnealingWarmRestarts": (_sgd, lambda s, o: s.CosineAnnealingWarmRestarts(
        o, T_0=3, T_mult=2, eta_min=0.01)),
}


def _groups(o, key):
    return [g.get(key) for g in o.param_groups]


@pytest.mark.parametrize("name", list(SCHEDULERS))
def test_scheduler_20_steps_and_state_dict(name):
    make_opt, make = SCHEDULERS[name]
    fo, to = make_opt(fastnn), make_opt(torch)
    fs, ts = make(fastnn.optim.lr_scheduler, fo), make(torch.optim.lr_scheduler, to)
    for step in range(STEPS):
        assert fs.get_last_lr() == pytest.approx(ts.get_last_lr(), rel=1e-12), step
        for key in ("lr", "momentum", "betas"):
            if key in to.param_groups[0]:
                np.testing.assert_allclose(_groups(fo, key), _groups(to, key), rtol=1e-12,
                                           err_msg=f"step {step} {key}")
        fo.step()
        to.step()
        fs.step()
        ts.step()
        if step == STEPS // 2:  # a fresh scheduler resumed from the state_dict carries on
            fsd = fs.state_dict()
            tsd = ts.state_dict()
            assert "optimizer" not in fsd
            public = lambda sd: sorted(k for k in sd if not k.startswith("_"))  # noqa: E731
            assert public(fsd) == public(tsd)
            fs = make(fastnn.optim.lr_scheduler, fo)
            fs.load_state_dict(fsd)
            ts = make(torch.optim.lr_scheduler, to)
            ts.load_state_dict(tsd)
            assert fs.get_last_lr() == pytest.approx(ts.get_last_lr(), rel=1e-12)


def test_every_torch_optimizer_and_scheduler_name_exists():
    skip = {"swap_in_optimizer_params_and_state", "swa_utils"}
    missing = [n for n in torch.optim.__all__ if n not in skip and not hasattr(optim, n)]
    missing += [n for n in torch.optim.lr_scheduler.__all__
                if not hasattr(optim.lr_scheduler, n)]
    assert missing == []


@pytest.mark.parametrize("kw", [dict(), dict(lr=0.02, nesterov=False, weight_decay=0.0),
                                dict(lr=0.01, adjust_lr_fn="match_rms_adamw", momentum=0.9)])
def test_muon_matches_torch_to_bfloat16_rounding(kw):
    """torch runs Muon's Newton-Schulz iteration in bfloat16; fastnn rounds each step's result to
    bfloat16 in float32 arithmetic, so the updates agree to bfloat16 precision (2^-8 relative),
    not to the bit: the parameters' difference stays below 1% of the total change."""
    rng = np.random.default_rng(4)
    shapes = [(5, 4), (3, 6), (8, 8)]
    init = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    fps = [nn.Parameter(wrap(a.copy())) for a in init]
    tps = [torch.nn.Parameter(torch.from_numpy(a.copy())) for a in init]
    fo, to = optim.Muon(fps, **kw), torch.optim.Muon(tps, **kw)
    for _ in range(STEPS):
        for fp, tp in zip(fps, tps):
            g = rng.standard_normal(fp.shape).astype(np.float32)
            fp.grad, tp.grad = wrap(g.copy()), torch.from_numpy(g.copy())
        fo.step()
        to.step()
    for a, fp, tp in zip(init, fps, tps):
        change = np.abs(tp.detach().numpy() - a).max()
        assert np.abs(fp.detach().numpy() - tp.detach().numpy()).max() < 0.01 * change
    fsd, tsd = fo.state_dict(), to.state_dict()
    assert sorted(fsd["param_groups"][0]) == sorted(tsd["param_groups"][0])
    assert sorted(fsd["state"][0]) == sorted(tsd["state"][0]) == ["momentum_buffer"]
    with pytest.raises(ValueError, match="Muon only supports 2D parameters"):
        optim.Muon([nn.Parameter(fastnn.ones(3))])


@pytest.mark.parametrize("kw", [dict(momentum=0.9, nesterov=True, weight_decay=0.05),
                                dict(momentum=0.9, dampening=0.2, weight_decay=0.01),
                                dict(momentum=0.0, weight_decay=0.1, maximize=True)])
def test_sgd_is_bit_exact_with_torch(kw):
    """torch's add(alpha=) rounds once (a fused multiply-add); so does fastnn's SGD. Rounding the
    product separately left ~half the elements 1 ulp off after 20 steps, and the drift grew."""
    rng = np.random.default_rng(5)
    a = rng.standard_normal(4099).astype(np.float32)  # odd size: the kernels' scalar tails too
    fp, tp = nn.Parameter(wrap(a.copy())), torch.nn.Parameter(torch.from_numpy(a.copy()))
    fo, to = optim.SGD([fp], lr=0.05, **kw), torch.optim.SGD([tp], lr=0.05, **kw)
    for _ in range(STEPS):
        g = rng.standard_normal(a.shape).astype(np.float32)
        fp.grad, tp.grad = wrap(g.copy()), torch.from_numpy(g.copy())
        fo.step()
        to.step()
    np.testing.assert_array_equal(fp.detach().numpy(), tp.detach().numpy())
