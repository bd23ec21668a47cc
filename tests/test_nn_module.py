"""nn.Module surface, containers, Linear/Flatten/Unflatten and nn.init, with PyTorch as the oracle
(same construction -> same repr, state_dict keys and shapes; weights transfer both ways)."""

import copy
import math
import warnings
from collections import OrderedDict

import numpy as np
import pytest
import torch

import fastnn
import fastnn.nn as nn
from fastnn.tensor import wrap


def _t2n(t):
    return t.detach().numpy()


def build_mlp(m):
    """The same nested model in either framework (m is torch.nn or fastnn.nn)."""

    class Block(m.Module):
        def __init__(self):
            super().__init__()
            self.fc = m.Linear(6, 6)
            self.norm = m.LayerNorm(6)
            self.register_buffer("scale", (torch if m is torch.nn else fastnn).ones(6))
            self.register_buffer("tmp", (torch if m is torch.nn else fastnn).zeros(2),
                                 persistent=False)

        def forward(self, x):
            return self.norm(self.fc(x)) * self.scale

    class Net(m.Module):
        def __init__(self):
            super().__init__()
            self.inp = m.Sequential(m.Flatten(), m.Linear(12, 6), m.ReLU())
            self.blocks = m.ModuleList([Block() for _ in range(2)])
            self.heads = m.ModuleDict({"a": m.Linear(6, 3), "b": m.Linear(6, 2, bias=False)})
            self.shared = self.heads["a"]  # shared module: parameters listed once

        def forward(self, x):
            h = self.inp(x)
            for b in self.blocks:
                h = b(h)
            return self.heads["a"](h), self.heads["b"](h)

    return Net()


@pytest.fixture
def pair():
    tm, fm = build_mlp(torch.nn), build_mlp(nn)
    fm.load_state_dict({k: _t2n(v) for k, v in tm.state_dict().items()})
    return tm, fm


def test_repr_matches_pytorch(pair):
    tm, fm = pair
    assert repr(fm) == repr(tm)
    assert repr(nn.Unflatten(1, (2, 6))) == repr(torch.nn.Unflatten(1, (2, 6)))
    assert repr(nn.ModuleList()) == repr(torch.nn.ModuleList())


def test_state_dict_keys_shapes_and_transfer(pair):
    tm, fm = pair
    tsd, fsd = tm.state_dict(), fm.state_dict()
    assert list(fsd.keys()) == list(tsd.keys())
    for k in tsd:
        assert tuple(fsd[k].shape) == tuple(tsd[k].shape)
        np.testing.assert_array_equal(fsd[k].numpy(), _t2n(tsd[k]))
        assert not fsd[k].requires_grad
    # fastnn -> torch
    for p in fm.parameters():
        p.array[...] = np.random.default_rng(0).standard_normal(p.shape)
    tm.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in fm.state_dict().items()})
    x = np.random.default_rng(1).standard_normal((3, 2, 6)).astype(np.float32)
    for a, b in zip(fm(wrap(x)), tm(torch.from_numpy(x))):
        np.testing.assert_allclose(a.array, _t2n(b), rtol=1e-5, atol=1e-5)
    # state_dict values share storage (detached views), like PyTorch
    sd = fm.state_dict()
    assert np.shares_memory(sd["heads.a.weight"].array, fm.heads["a"].weight.array)


def test_named_members_match_pytorch(pair):
    tm, fm = pair
    assert [n for n, _ in fm.named_parameters()] == [n for n, _ in tm.named_parameters()]
    assert [n for n, _ in fm.named_buffers()] == [n for n, _ in tm.named_buffers()]
    assert [n for n, _ in fm.named_modules()] == [n for n, _ in tm.named_modules()]
    assert [n for n, _ in fm.named_children()] == [n for n, _ in tm.named_children()]
    assert len(list(fm.parameters(recurse=False))) == 0
    assert [n for n, _ in fm.heads.named_parameters(prefix="h")] == [
        n for n, _ in tm.heads.named_parameters(prefix="h")]
    assert len(list(fm.modules())) == len(list(tm.modules()))
    assert len(list(fm.named_parameters(remove_duplicate=False))) == len(
        list(tm.named_parameters(remove_duplicate=False)))


def test_load_state_dict_errors(pair):
    _, fm = pair
    sd = fm.state_dict()
    del sd["inp.1.bias"]
    sd["bogus.weight"] = fastnn.zeros(3)
    with pytest.raises(RuntimeError) as ei:
        fm.load_state_dict(sd)
    msg = str(ei.value)
    assert "Error(s) in loading state_dict for Net" in msg
    assert 'Missing key(s) in state_dict: "inp.1.bias"' in msg
    assert 'Unexpected key(s) in state_dict: "bogus.weight"' in msg
    res = fm.load_state_dict(sd, strict=False)  # reported, not raised (PyTorch)
    assert res.missing_keys == ["inp.1.bias"] and res.unexpected_keys == ["bogus.weight"]
    sd = fm.state_dict()
    sd["inp.1.weight"] = np.zeros((5, 12), np.float32)
    with pytest.raises(RuntimeError, match=r"size mismatch for inp\.1\.weight: copying a param "
                                           r"with shape .*\[5, 12\].*\[6, 12\]"):
        fm.load_state_dict(sd, strict=False)
    assert str(fm.load_state_dict(fm.state_dict())) == "<All keys matched successfully>"


def test_setattr_registration_and_errors():
    m = nn.Module()
    m.w = nn.Parameter(fastnn.ones(2))
    m.sub = nn.Linear(2, 2)
    m.register_buffer("buf", fastnn.zeros(1))
    m.plain = 3
    assert [n for n, _ in m.named_parameters()] == ["w", "sub.weight", "sub.bias"]
    assert list(m.state_dict()) == ["w", "buf", "sub.weight", "sub.bias"]
    with pytest.raises(TypeError, match="cannot assign"):
        m.w = fastnn.ones(2)  # a plain tensor cannot replace a parameter
    with pytest.raises(TypeError, match="cannot assign"):
        m.sub = 5
    with pytest.raises(KeyError, match="already exists"):
        m.register_buffer("plain", fastnn.zeros(1))
    with pytest.raises(KeyError, match="contain"):
        m.register_parameter("a.b", None)
    with pytest.raises(TypeError):
        m.register_parameter("q", fastnn.ones(1))
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        m.nope  # noqa: B018
    m.w = None
    assert "w" not in dict(m.named_parameters())
    del m.sub
    assert not hasattr(m, "sub")
    m.buf = fastnn.ones(3)
    assert m.state_dict()["buf"].shape == (3,)

    class Early(nn.Module):
        def __init__(self):
            self.p = nn.Parameter(fastnn.ones(1))

    with pytest.raises(AttributeError, match="before Module.__init__"):
        Early()


def test_parameter():
    p = nn.Parameter(fastnn.ones(2, 3))
    assert isinstance(p, fastnn.Tensor) and p.requires_grad and p.is_leaf
    assert repr(p).startswith("Parameter containing:\ntensor(")
    q = nn.Parameter(fastnn.ones(2), requires_grad=False)
    assert not q.requires_grad
    base = fastnn.zeros(3)
    r = nn.Parameter(base)
    r.array[0] = 5
    assert base.array[0] == 5  # shares storage, as PyTorch does
    assert nn.Parameter().shape == (0,)
    d = copy.deepcopy(r)
    assert isinstance(d, nn.Parameter) and not np.shares_memory(d.array, r.array)


def test_deepcopy_and_missing_forward(pair):
    _, fm = pair
    clone = copy.deepcopy(fm)
    assert isinstance(clone.heads["a"].weight, nn.Parameter)
    assert clone.shared is clone.heads["a"]  # sharing preserved
    for (k, a), b in zip(fm.state_dict().items(), clone.state_dict().values()):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
        assert not np.shares_memory(a.array, b.array), k
    with pytest.raises(NotImplementedError, match='missing the required "forward"'):
        nn.Module()(1)


def test_train_eval_zero_grad_requires_grad_apply(pair):
    tm, fm = pair
    assert fm.training and all(m.training for m in fm.modules())
    assert fm.eval() is fm and not any(m.training for m in fm.modules())
    fm.train()
    assert all(m.training for m in fm.modules())
    with pytest.raises(ValueError, match="boolean"):
        fm.train(1)
    x = fastnn.randn(2, 2, 6)
    a, b = fm(x)
    (a.sum() + b.sum()).backward()
    assert all(p.grad is not None for p in fm.parameters())
    fm.zero_grad(set_to_none=False)
    assert all(float(abs(p.grad.array).max()) == 0 for p in fm.parameters())
    fm.zero_grad()
    assert all(p.grad is None for p in fm.parameters())
    fm.requires_grad_(False)
    assert not any(p.requires_grad for p in fm.parameters())
    seen = []
    assert fm.apply(lambda m: seen.append(type(m).__name__)) is fm
    tseen = []
    tm.apply(lambda m: tseen.append(type(m).__name__))
    assert seen == tseen


def test_to_dtype_keeps_parameter_identity():
    m = nn.Linear(3, 2)
    w = m.weight
    m.register_buffer("steps", fastnn.zeros(1, dtype=fastnn.int64))
    m.double()
    assert m.weight is w and w.dtype == np.float64 and m.bias.dtype == np.float64
    assert m.steps.dtype == np.int64  # only floating point buffers change dtype
    y = m(fastnn.randn(4, 3, dtype=fastnn.float64))
    assert y.dtype == np.float64
    m.to(fastnn.float32)
    assert w.dtype == np.float32
    m.to("cpu")
    m.float()


def test_hooks():
    m = nn.Linear(2, 2)
    calls = []
    h1 = m.register_forward_pre_hook(lambda mod, args: calls.append("pre"))
    h2 = m.register_forward_hook(lambda mod, args, out: out * 0)
    y = m(fastnn.ones(1, 2))
    assert calls == ["pre"] and float(abs(y.array).max()) == 0
    h1.remove()
    h2.remove()
    assert float(abs(m(fastnn.ones(1, 2)).array).max()) > 0


def test_containers():
    s = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    assert len(s) == 3 and isinstance(s[-1], nn.Linear)
    assert isinstance(s[1:], nn.Sequential) and len(s[1:]) == 2
    s.append(nn.Sigmoid())
    assert list(s._modules) == ["0", "1", "2", "3"]
    del s[1]
    assert list(s._modules) == ["0", "1", "2"] and isinstance(s[1], nn.Linear)
    od = nn.Sequential(OrderedDict([("a", nn.Linear(2, 2)), ("b", nn.Tanh())]))
    assert list(dict(od.named_parameters())) == ["a.weight", "a.bias"]
    assert od(fastnn.ones(1, 2)).shape == (1, 2)
    ml = nn.ModuleList([nn.Linear(2, 2)])
    ml += [nn.ReLU()]
    ml.insert(0, nn.Identity())
    assert [type(m).__name__ for m in ml] == ["Identity", "Linear", "ReLU"]
    assert len(ml[:2]) == 2
    md = nn.ModuleDict({"x": nn.ReLU()})
    md["y"] = nn.Tanh()
    assert list(md.keys()) == ["x", "y"] and "y" in md and len(md) == 2
    assert repr(nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])) == repr(
        torch.nn.ModuleList([torch.nn.Linear(2, 2) for _ in range(3)]))
    pl = nn.ParameterList([nn.Parameter(fastnn.ones(2)), fastnn.zeros(3)])
    assert len(list(pl.parameters())) == 2
    pd = nn.ParameterDict({"a": nn.Parameter(fastnn.ones(1))})
    assert list(dict(pd.named_parameters())) == ["a"]


def test_linear_default_init_and_parity():
    fastnn.manual_seed(0)
    m = nn.Linear(50, 40)
    bound = 1 / math.sqrt(50)
    w, b = m.weight.array, m.bias.array
    assert w.dtype == np.float32 and w.shape == (40, 50) and b.shape == (40,)
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    assert np.abs(w).max() > 0.9 * bound  # really spread over U(-bound, bound)
    assert abs(w.std() - bound / math.sqrt(3)) < 0.1 * bound
    fastnn.manual_seed(0)
    np.testing.assert_array_equal(nn.Linear(50, 40).weight.array, w)  # reproducible
    assert nn.Linear(3, 2, bias=False).bias is None
    assert nn.Linear(3, 2, dtype=fastnn.float64).weight.dtype == np.float64


@pytest.mark.parametrize("shape", [(5, 7), (2, 3, 7), (7,), (0, 7), (4, 1, 2, 7)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_forward_backward_vs_torch(shape, bias):
    tm = torch.nn.Linear(7, 5, bias=bias)
    fm = nn.Linear(7, 5, bias=bias)
    fm.load_state_dict({k: _t2n(v) for k, v in tm.state_dict().items()})
    rng = np.random.default_rng(2)
    x = rng.standard_normal(shape).astype(np.float32)
    xt = torch.tensor(x, requires_grad=True)
    xf = wrap(x.copy(), requires_grad=True)
    yt, yf = tm(xt), fm(xf)
    np.testing.assert_allclose(yf.array, _t2n(yt), rtol=1e-5, atol=1e-5)
    g = rng.standard_normal(yt.shape).astype(np.float32)
    yt.backward(torch.from_numpy(g))
    yf.backward(wrap(g))
    np.testing.assert_allclose(xf.grad.numpy(), xt.grad.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(fm.weight.grad.numpy(), tm.weight.grad.numpy(), rtol=1e-5,
                               atol=1e-5)
    if bias:
        np.testing.assert_allclose(fm.bias.grad.numpy(), tm.bias.grad.numpy(), rtol=1e-5,
                                   atol=1e-5)


def test_linear_noncontiguous_and_gradcheck():
    fm = nn.Linear(4, 3).double()
    x = fastnn.randn(4, 6, dtype=fastnn.float64).t()  # non-contiguous (6, 4)
    x.requires_grad_()
    assert fastnn.autograd.gradcheck(lambda a, w, b: nn.functional.linear(a, w, b),
                                     (x, fm.weight, fm.bias))
    with pytest.raises(RuntimeError, match="cannot be multiplied"):
        fm(fastnn.randn(2, 5, dtype=fastnn.float64))


def test_flatten_unflatten_identity():
    x = fastnn.randn(2, 3, 4, 5)
    assert nn.Flatten()(x).shape == (2, 60)
    assert nn.Flatten(0, 2)(x).shape == (24, 5)
    assert nn.Unflatten(1, (3, 20))(fastnn.randn(2, 60)).shape == (2, 3, 20)
    assert nn.Identity(54, unused="x")(x) is x
    with pytest.raises(TypeError):
        nn.Unflatten(1, 5)


# ------------------------------------------------------------------------------------------ init


def test_calculate_gain_matches_pytorch():
    for nl in ["linear", "conv2d", "sigmoid", "tanh", "relu", "leaky_relu", "selu"]:
        assert nn.init.calculate_gain(nl) == pytest.approx(torch.nn.init.calculate_gain(nl))
    assert nn.init.calculate_gain("leaky_relu", 0.2) == pytest.approx(
        torch.nn.init.calculate_gain("leaky_relu", 0.2))
    with pytest.raises(ValueError, match="Unsupported nonlinearity"):
        nn.init.calculate_gain("swish")


@pytest.mark.parametrize("shape", [(64, 32), (16, 8, 3, 3)])
def test_init_distributions(shape):
    t = fastnn.empty(*shape)
    fan_in, fan_out = nn.init._calculate_fan_in_and_fan_out(t)
    assert (fan_in, fan_out) == torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    fastnn.manual_seed(3)
    cases = [
        (lambda: nn.init.xavier_uniform_(t, gain=2.0),
         ("U", 2.0 * math.sqrt(6.0 / (fan_in + fan_out)))),
        (lambda: nn.init.xavier_normal_(t), ("N", math.sqrt(2.0 / (fan_in + fan_out)))),
        (lambda: nn.init.kaiming_uniform_(t, a=math.sqrt(5)), ("U", 1 / math.sqrt(fan_in))),
        (lambda: nn.init.kaiming_normal_(t, mode="fan_out", nonlinearity="relu"),
         ("N", math.sqrt(2.0 / fan_out))),
        (lambda: nn.init.uniform_(t, -0.3, 0.3), ("U", 0.3)),
        (lambda: nn.init.normal_(t, 0.0, 0.02), ("N", 0.02)),
        (lambda: nn.init.trunc_normal_(t, std=1.0, a=-1.0, b=1.0), ("T", 1.0)),
    ]
    for fn, (kind, scale) in cases:
        assert fn() is t
        a = t.numpy()
        assert a.dtype == np.float32
        if kind == "U":
            assert np.abs(a).max() <= scale * (1 + 1e-6) and np.abs(a).max() > 0.9 * scale
            assert abs(a.std() - scale / math.sqrt(3)) < 0.1 * scale
        elif kind == "N":
            assert abs(a.std() - scale) < 0.1 * scale and abs(a.mean()) < 0.1 * scale
        else:
            assert np.abs(a).max() <= 1.0
    nn.init.constant_(t, 0.5)
    assert (t.numpy() == 0.5).all()
    nn.init.ones_(t)
    assert (t.numpy() == 1).all()
    nn.init.zeros_(t)
    assert (t.numpy() == 0).all()
    with pytest.raises(ValueError, match="Mode fan_avg not supported"):
        nn.init.kaiming_uniform_(t, mode="fan_avg")


def test_init_misc():
    e = fastnn.empty(3, 4)
    nn.init.eye_(e)
    np.testing.assert_array_equal(e.numpy(), np.eye(3, 4))
    q = fastnn.empty(6, 4)
    nn.init.orthogonal_(q)
    np.testing.assert_allclose(q.numpy().T @ q.numpy(), np.eye(4), atol=1e-5)
    d = fastnn.empty(4, 2, 3, 3)
    nn.init.dirac_(d)
    td = torch.empty(4, 2, 3, 3)
    torch.nn.init.dirac_(td)
    np.testing.assert_array_equal(d.numpy(), td.numpy())
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        nn.init.xavier_uniform_(fastnn.empty(5))
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        nn.init.kaiming_uniform_(fastnn.empty(0, 3))
