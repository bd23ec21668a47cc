"""Optimizer.step as torch runs it: step pre/post hooks (per optimizer and global) and the
parameters' version counters (an update is an in-place write: a graph that saved a parameter
before the step refuses to backward after it). Each check runs in fastnn and in torch."""

import importlib

import pytest

import fastnn

torch = pytest.importorskip("torch")

FRAMEWORKS = [pytest.param(fastnn, id="fastnn"), pytest.param(torch, id="torch")]
OPTIMIZERS = ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad"]


def _param(mod):
    return mod.nn.Parameter(mod.tensor([1.0, -2.0, 3.0]))


@pytest.mark.parametrize("name", OPTIMIZERS)
@pytest.mark.parametrize("mod", FRAMEWORKS)
def test_step_bumps_version_and_stale_graph_refuses_backward(mod, name):
    p = _param(mod)
    opt = getattr(mod.optim, name)([p], lr=0.1)
    (p * p).sum().backward()
    v0 = p._version
    y = (p * p).sum()  # saves p
    opt.step()
    assert p._version > v0
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()


@pytest.mark.parametrize("mod", FRAMEWORKS)
def test_parameter_without_grad_keeps_its_version(mod):
    p, q = _param(mod), _param(mod)
    opt = mod.optim.SGD([p, q], lr=0.1)
    p.sum().backward()
    opt.step()
    assert q.grad is None and q._version == 0 and p._version > 0


@pytest.mark.parametrize("mod", FRAMEWORKS)
def test_step_hooks_order_arguments_and_removal(mod):
    p = _param(mod)
    opt = mod.optim.SGD([p], lr=0.1)
    calls = []
    h1 = opt.register_step_pre_hook(lambda o, a, k: calls.append(("pre", o is opt, a, k)))
    h2 = opt.register_step_post_hook(lambda o, a, k: calls.append(("post", o is opt, a, k)))
    glob = importlib.import_module(mod.__name__ + ".optim.optimizer")
    g1 = glob.register_optimizer_step_pre_hook(lambda o, a, k: calls.append(("gpre", o is opt)))
    g2 = glob.register_optimizer_step_post_hook(
        lambda o, a, k: calls.append(("gpost", o is opt)))
    try:
        p.sum().backward()
        opt.step()
        assert calls == [("gpre", True), ("pre", True, (opt,), {}),
                         ("post", True, (opt,), {}), ("gpost", True)]
        h1.remove()
        h2.remove()
        calls.clear()
        opt.step()
        assert calls == [("gpre", True), ("gpost", True)]
    finally:
        g1.remove()
        g2.remove()
    calls.clear()
    opt.step()
    assert calls == []


@pytest.mark.parametrize("mod", FRAMEWORKS)
def test_pre_hook_can_replace_arguments_or_must_return_a_pair(mod):
    p = _param(mod)
    opt = mod.optim.SGD([p], lr=0.1)
    p.sum().backward()
    seen = []
    h = opt.register_step_pre_hook(lambda o, a, k: ((o,), {"closure": lambda: seen.append(1)}))
    opt.step()
    assert seen == [1]
    h.remove()
    opt.register_step_pre_hook(lambda o, a, k: "bad")
    with pytest.raises(RuntimeError, match="must return None or a tuple"):
        opt.step()


def _clipped_run(mod):
    class Clipped(mod.optim.SGD):
        def step(self, closure=None):
            for g in self.param_groups:
                for q in g["params"]:
                    q.grad.clamp_(-1, 1)
            return super().step(closure)

    mod.optim.SGD([_param(mod)], lr=0.1)  # torch patches SGD.step on its first instance
    p = _param(mod)
    opt = Clipped([p], lr=0.5)
    n = []
    opt.register_step_post_hook(lambda o, a, k: n.append(1))
    (p * 10).sum().backward()
    opt.step()
    return len(n), p.detach().tolist()


def test_subclass_step_calling_super_matches_torch():
    ours, theirs = _clipped_run(fastnn), _clipped_run(torch)
    assert ours == theirs
    assert ours[1] == pytest.approx([0.5, -2.5, 2.5])


@pytest.mark.parametrize("name,kw", [("SGD", {"momentum": 0.9}), ("SGD", {}), ("Adam", {}),
                                     ("AdamW", {"amsgrad": True})])
@pytest.mark.parametrize("backend", ["cpp", "reference"])  # multi-tensor C++ / per-parameter
def test_duplicate_parameter_in_a_group_updates_twice_in_order_as_torch(name, kw, backend):
    """torch warns and updates a parameter listed twice twice, one after the other; the C++
    multi-tensor step must not run both updates at once on the same memory."""
    import numpy as np

    if not fastnn.backends.available(backend)[0]:
        pytest.skip(fastnn.backends.available(backend)[1])
    results = []
    for mod in (fastnn, torch):
        p = mod.nn.Parameter(mod.tensor(np.linspace(-1, 1, 50000, dtype=np.float32)))
        with pytest.warns(UserWarning, match="duplicate parameters"):
            opt = getattr(mod.optim, name)([p, p], lr=0.1, **kw)
        for _ in range(2):
            opt.zero_grad()
            (p * p).sum().backward()
            if mod is fastnn:
                with fastnn.backends.use(backend):
                    opt.step()
            else:
                opt.step()
        results.append(p.detach().numpy().copy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-6, atol=1e-7)
