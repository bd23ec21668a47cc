"""Activations, softmax, dropout, embedding and layer norm (modules and nn.functional) against
PyTorch: same weights -> same outputs and gradients; float64 gradcheck of the own Functions."""

import numpy as np
import pytest
import torch

import fastnn
import fastnn.nn as nn
import fastnn.nn.functional as F
from fastnn.tensor import wrap

RNG = np.random.default_rng(0)


def _t2n(t):
    return t.detach().numpy()


def parity(f_fn, t_fn, *arrays, grad=None, rtol=1e-5, atol=1e-5):
    """Run f_fn on fastnn tensors and t_fn on torch tensors built from the same arrays; compare the
    outputs and the gradients of every float input (``grad`` selects which ones need grad)."""
    grad = [a.dtype.kind == "f" for a in arrays] if grad is None else grad
    fs = [wrap(a.copy(), requires_grad=g) for a, g in zip(arrays, grad)]
    ts = [torch.tensor(a, requires_grad=g) for a, g in zip(arrays, grad)]
    yf, yt = f_fn(*fs), t_fn(*ts)
    np.testing.assert_allclose(yf.detach().numpy(), _t2n(yt), rtol=rtol, atol=atol)
    if any(grad):
        up = RNG.standard_normal(tuple(yt.shape)).astype(_t2n(yt).dtype)
        yf.backward(wrap(up))
        yt.backward(torch.from_numpy(up))
        for f, t, g in zip(fs, ts, grad):
            if g:
                np.testing.assert_allclose(f.grad.numpy(), t.grad.numpy(), rtol=rtol, atol=atol)
    return yf, yt


def rand(*shape, dtype=np.float32, scale=1.0):
    return (RNG.standard_normal(shape) * scale).astype(dtype)


ACTIVATIONS = [
    ("ReLU", {}), ("LeakyReLU", {}), ("LeakyReLU", {"negative_slope": 0.2}),
    ("GELU", {}), ("GELU", {"approximate": "tanh"}), ("Sigmoid", {}), ("Tanh", {}),
    ("ELU", {"alpha": 0.7}), ("SiLU", {}), ("Softplus", {"beta": 2.0, "threshold": 5.0}),
    ("ReLU6", {}), ("Hardtanh", {"min_val": -0.5, "max_val": 0.5}), ("LogSigmoid", {}),
    ("Softmax", {"dim": 1}), ("Softmax", {"dim": -1}), ("LogSoftmax", {"dim": 1}),
    ("LogSoftmax", {"dim": 0}),
]


@pytest.mark.parametrize("name,kw", ACTIVATIONS)
def test_activation_modules_vs_torch(name, kw):
    fm, tm = getattr(nn, name)(**kw), getattr(torch.nn, name)(**kw)
    assert repr(fm) == repr(tm)
    x = rand(4, 5, 3, scale=3.0)
    x[0, 0, :] = [0.0, 1e-3, -1e-3]  # values at and around the kinks
    parity(fm, tm, x)


@pytest.mark.parametrize("fname,kw", [
    ("relu", {}), ("leaky_relu", {"negative_slope": 0.3}), ("gelu", {}),
    ("gelu", {"approximate": "tanh"}), ("sigmoid", {}), ("tanh", {}), ("elu", {}), ("silu", {}),
    ("softplus", {}), ("relu6", {}), ("logsigmoid", {}), ("softmax", {"dim": 0}),
    ("log_softmax", {"dim": 1}), ("hardtanh", {}),
])
def test_functional_activations_vs_torch(fname, kw):
    x = rand(6, 7, scale=4.0)
    parity(lambda a: getattr(F, fname)(a, **kw),
           lambda a: getattr(torch.nn.functional, fname)(a, **kw), x)


def test_relu_inplace_like_pytorch():
    x = rand(3, 4)
    lin_f, lin_t = nn.Linear(4, 4), torch.nn.Linear(4, 4)
    lin_f.load_state_dict({k: _t2n(v) for k, v in lin_t.state_dict().items()})
    seq_f = nn.Sequential(lin_f, nn.ReLU(inplace=True), nn.Linear(4, 2))
    seq_t = torch.nn.Sequential(lin_t, torch.nn.ReLU(inplace=True), torch.nn.Linear(4, 2))
    seq_f[2].load_state_dict({k: _t2n(v) for k, v in seq_t[2].state_dict().items()})
    assert repr(seq_f) == repr(seq_t)
    parity(seq_f, seq_t, x)
    h = lin_f(wrap(x))
    out = F.relu(h, inplace=True)
    assert out is h and float(h.detach().numpy().min()) >= 0  # the input itself is updated


def test_extreme_inputs_are_finite():
    x = np.array([[-1e4, -50.0, 0.0, 50.0, 1e4]], dtype=np.float32)
    for fname in ["gelu", "silu", "softplus", "logsigmoid", "elu", "sigmoid"]:
        parity(getattr(F, fname), getattr(torch.nn.functional, fname), x)
    parity(lambda a: F.log_softmax(a, 1), lambda a: torch.log_softmax(a, 1), x)


def test_gelu_float32_accuracy_over_the_range():
    """float32 GELU uses a vectorised erfc fit: compare with the float64 exact form everywhere,
    including the negative tail where x * Phi(x) is tiny."""
    import math

    x = np.concatenate([np.linspace(-12, 12, 20001), [0.0, 1e-20, -1e-20]]).astype(np.float32)
    ref = np.array([v * 0.5 * math.erfc(-v / math.sqrt(2)) for v in x.astype(np.float64)])
    got = F.gelu(wrap(x)).numpy().astype(np.float64)
    rel = np.abs(got - ref) / np.maximum(np.abs(ref), 1e-30)
    assert rel.max() < 2e-5, (x[rel.argmax()], rel.max())
    assert got[-3] == 0.0


def test_softmax_implicit_dim_warns():
    with pytest.warns(UserWarning, match="Implicit dimension"):
        y = nn.Softmax()(fastnn.randn(2, 3))
    np.testing.assert_allclose(y.numpy().sum(1), 1, rtol=1e-6)


@pytest.mark.parametrize("Fn,args", [
    ("GELUFunction", ("none",)), ("GELUFunction", ("tanh",)), ("LeakyReLUFunction", (0.1,)),
    ("ELUFunction", (1.3,)), ("SiLUFunction", ()), ("SoftplusFunction", (1.5, 20.0)),
])
def test_activation_gradcheck(Fn, args):
    from fastnn.functions import activation

    x = fastnn.tensor(RNG.standard_normal((3, 4)) * 2 + 0.05, dtype=fastnn.float64,
                      requires_grad=True)
    assert fastnn.autograd.gradcheck(lambda a: getattr(activation, Fn).apply(a, *args), (x,))


# ---------------------------------------------------------------------------------------- dropout


def test_dropout_statistics_eval_and_seed():
    x = fastnn.ones(200, 300, requires_grad=True)
    d = nn.Dropout(p=0.3)
    assert repr(d) == repr(torch.nn.Dropout(p=0.3))
    fastnn.manual_seed(5)
    y = d(x)
    a = y.detach().numpy()
    kept = a != 0
    assert abs(kept.mean() - 0.7) < 0.01
    np.testing.assert_allclose(a[kept], 1 / 0.7, rtol=1e-6)  # inverted scaling
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), a)  # the same mask in backward
    fastnn.manual_seed(5)
    np.testing.assert_array_equal(d(x).detach().numpy(), a)  # reproducible from the seed
    d.eval()
    assert d(x) is x
    assert F.dropout(x, 0.5, training=False) is x
    assert float(F.dropout(x, 1.0).detach().numpy().max()) == 0
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout(1.5)


def test_dropout2d_zeroes_whole_channels():
    x = fastnn.ones(8, 16, 5, 5)
    y = nn.Dropout2d(0.5)(x).numpy()
    per_channel = y.reshape(8, 16, -1)
    assert ((per_channel == 0).all(-1) | (per_channel == 2).all(-1)).all()
    assert 0.2 < (per_channel[..., 0] == 0).mean() < 0.8


# -------------------------------------------------------------------------------------- embedding


@pytest.mark.parametrize("padding_idx", [None, 0, -1])
def test_embedding_vs_torch(padding_idx):
    tm = torch.nn.Embedding(10, 4, padding_idx=padding_idx)
    fm = nn.Embedding(10, 4, padding_idx=padding_idx)
    assert repr(fm) == repr(tm)
    assert list(fm.state_dict()) == list(tm.state_dict())
    if padding_idx is not None:
        assert (fm.weight.array[padding_idx] == 0).all()
    fm.load_state_dict({k: _t2n(v) for k, v in tm.state_dict().items()})
    idx = np.array([[1, 0, 9, 1], [9, 3, 3, 0]], dtype=np.int64)
    yf, yt = fm(wrap(idx)), tm(torch.from_numpy(idx))
    np.testing.assert_array_equal(yf.detach().numpy(), _t2n(yt))
    up = rand(2, 4, 4)
    yf.backward(wrap(up))
    yt.backward(torch.from_numpy(up))
    np.testing.assert_allclose(fm.weight.grad.numpy(), tm.weight.grad.numpy(), rtol=1e-6)
    with pytest.raises(IndexError):
        fm(fastnn.tensor([10]))


def test_embedding_from_pretrained_and_functional():
    w = fastnn.randn(5, 3)
    e = nn.Embedding.from_pretrained(w)
    assert not e.weight.requires_grad
    np.testing.assert_array_equal(e(fastnn.tensor([4])).numpy()[0], w.numpy()[4])
    wt = torch.from_numpy(w.numpy().copy())
    idx = np.array([0, 2, 2, 4])
    parity(lambda a: F.embedding(wrap(idx), a, max_norm=1.0),
           lambda a: torch.nn.functional.embedding(torch.from_numpy(idx), a, max_norm=1.0),
           _t2n(wt))
    oh = F.one_hot(fastnn.tensor([0, 2, 1]), 4)
    assert oh.dtype == np.int64
    np.testing.assert_array_equal(oh.numpy(),
                                  torch.nn.functional.one_hot(torch.tensor([0, 2, 1]), 4).numpy())
    assert F.one_hot(fastnn.tensor([[3], [1]])).shape == (2, 1, 4)


# ------------------------------------------------------------------------------------- layer norm


@pytest.mark.parametrize("shape,norm", [((4, 7), (7,)), ((2, 3, 5, 6), (5, 6)), ((3, 1), 1),
                                        ((0, 4), (4,))])
@pytest.mark.parametrize("affine,bias", [(True, True), (True, False), (False, False)])
def test_layernorm_vs_torch(shape, norm, affine, bias):
    tm = torch.nn.LayerNorm(norm, eps=1e-4, elementwise_affine=affine, bias=bias)
    fm = nn.LayerNorm(norm, eps=1e-4, elementwise_affine=affine, bias=bias)
    assert repr(fm) == repr(tm)
    assert list(fm.state_dict()) == list(tm.state_dict())
    if affine:
        with torch.no_grad():
            for p in tm.parameters():
                p.copy_(torch.randn(p.shape))
        fm.load_state_dict({k: _t2n(v) for k, v in tm.state_dict().items()})
    parity(fm, tm, rand(*shape, scale=3.0) + 2.0, rtol=1e-4, atol=1e-4)  # n=1: rounding noise
    if affine:
        names = [n for n, _ in tm.named_parameters()]
        for n in names:
            np.testing.assert_allclose(dict(fm.named_parameters())[n].grad.numpy(),
                                       dict(tm.named_parameters())[n].grad.numpy(),
                                       rtol=1e-4, atol=1e-4)


def test_layernorm_gradcheck_and_errors():
    x = fastnn.tensor(RNG.standard_normal((3, 4, 5)), dtype=fastnn.float64, requires_grad=True)
    w = fastnn.tensor(RNG.standard_normal((4, 5)), dtype=fastnn.float64, requires_grad=True)
    b = fastnn.tensor(RNG.standard_normal((4, 5)), dtype=fastnn.float64, requires_grad=True)
    assert fastnn.autograd.gradcheck(lambda a, c, d: F.layer_norm(a, (4, 5), c, d), (x, w, b))
    with pytest.raises(RuntimeError, match="normalized_shape"):
        nn.LayerNorm(6)(fastnn.randn(2, 5))


# ------------------------------------------------------------------------------------ clip_grad


@pytest.mark.parametrize("norm_type", [2.0, 1.0, float("inf")])
def test_clip_grad_norm_vs_torch(norm_type):
    grads = [rand(4, 3, scale=5.0), rand(7, scale=5.0)]
    fps = [nn.Parameter(fastnn.zeros(*g.shape)) for g in grads]
    tps = [torch.nn.Parameter(torch.zeros(g.shape)) for g in grads]
    for fp, tp, g in zip(fps, tps, grads):
        fp.grad = wrap(g.copy())
        tp.grad = torch.from_numpy(g.copy())
    nf = nn.utils.clip_grad_norm_(fps, 1.5, norm_type=norm_type)
    nt = torch.nn.utils.clip_grad_norm_(tps, 1.5, norm_type=norm_type)
    np.testing.assert_allclose(float(nf.item()), float(nt), rtol=1e-5)
    for fp, tp in zip(fps, tps):
        np.testing.assert_allclose(fp.grad.numpy(), tp.grad.numpy(), rtol=1e-5, atol=1e-7)
    nn.utils.clip_grad_value_(fps, 0.1)
    torch.nn.utils.clip_grad_value_(tps, 0.1)
    for fp, tp in zip(fps, tps):
        np.testing.assert_allclose(fp.grad.numpy(), tp.grad.numpy(), rtol=1e-6)
    p = nn.Parameter(fastnn.zeros(2))
    p.grad = wrap(np.array([np.inf, 1.0], np.float32))
    with pytest.raises(RuntimeError, match="non-finite"):
        nn.utils.clip_grad_norm_([p], 1.0, error_if_nonfinite=True)
