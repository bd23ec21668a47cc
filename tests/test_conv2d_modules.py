"""CNN modules and functional ops against PyTorch (copied weights, float64, forward and
every gradient), state_dict keys and buffers (the seed CNN, examples/cnn.py, trains in
tests/test_examples.py)."""

import numpy as np
import pytest

import fastnn
import fastnn.nn as nn
import fastnn.nn.functional as F

torch = pytest.importorskip("torch")


def _t(a, grad=True):
    return fastnn.wrap(np.array(a), requires_grad=grad)


def _close(a, b, what, tol=1e-10):
    a = np.asarray(a.array if hasattr(a, "array") else a)
    b = b.detach().numpy() if hasattr(b, "detach") else np.asarray(b)
    assert a.shape == tuple(b.shape), f"{what}: shape {a.shape} != {tuple(b.shape)}"
    err = float(np.abs(a.astype(np.float64) - b).max(initial=0.0))
    assert err <= tol * max(1.0, float(np.abs(b).max(initial=0.0))), f"{what}: error {err:.3g}"


def _compare(ours, theirs, x, what, params=()):
    """Forward and backward of two callables on the same float64 input; params: (ours, theirs)
    parameter pairs whose gradients must agree too."""
    xf, xt = _t(x), torch.tensor(x, requires_grad=True)
    yf, yt = ours(xf), theirs(xt)
    _close(yf, yt, f"{what} forward")
    g = np.random.default_rng(7).standard_normal(tuple(yt.shape))
    yf.backward(_t(g, False))
    yt.backward(torch.tensor(g))
    _close(xf.grad, xt.grad, f"{what} grad input")
    for i, (pf, pt) in enumerate(params):
        _close(pf.grad, pt.grad, f"{what} grad param {i}")


def _copy_params(ours, theirs):
    for (name, p), (tname, tp) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert name == tname
        p.array[...] = tp.detach().numpy()


CONV_CASES = [
    dict(in_channels=3, out_channels=8, kernel_size=3, padding=1),
    dict(in_channels=4, out_channels=6, kernel_size=(3, 1), stride=2, padding=(1, 0), bias=False),
    dict(in_channels=4, out_channels=4, kernel_size=5, padding="same", dilation=2, groups=4),
    dict(in_channels=6, out_channels=4, kernel_size=3, stride=(2, 1), groups=2, padding="valid"),
    dict(in_channels=3, out_channels=5, kernel_size=3, padding=2, padding_mode="reflect"),
    dict(in_channels=3, out_channels=5, kernel_size=(2, 3), padding=1, padding_mode="replicate"),
    dict(in_channels=3, out_channels=5, kernel_size=3, padding=1, padding_mode="circular"),
]


@pytest.mark.parametrize("kw", CONV_CASES, ids=[str(i) for i in range(len(CONV_CASES))])
def test_conv2d_module_matches_torch(kw):
    ours = nn.Conv2d(**kw, dtype=np.float64)
    theirs = torch.nn.Conv2d(**kw, dtype=torch.float64)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    _copy_params(ours, theirs)
    x = np.random.default_rng(1).standard_normal((2, kw["in_channels"], 9, 11))
    _compare(ours, theirs, x, f"Conv2d{kw}", list(zip(ours.parameters(), theirs.parameters())))


def test_conv2d_default_init_matches_torch_bounds():
    fastnn.manual_seed(0)
    m = nn.Conv2d(16, 32, 3)
    bound = 1 / np.sqrt(16 * 9)  # kaiming_uniform_(a=sqrt(5)) on fan_in = 144
    w, b = m.weight.array, m.bias.array
    assert w.dtype == np.float32 and w.shape == (32, 16, 3, 3)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    assert np.abs(b).max() <= bound and abs(float(w.std()) - bound / np.sqrt(3)) < 0.01
    assert "Conv2d(16, 32, kernel_size=(3, 3), stride=(1, 1))" == repr(m)


def test_conv2d_unbatched_and_float32_fused_backend():
    m = nn.Conv2d(3, 4, 3, padding=1)
    t = torch.nn.Conv2d(3, 4, 3, padding=1)
    _copy_params(m, t)
    x = np.random.default_rng(2).standard_normal((3, 6, 6)).astype(np.float32)
    y = m(_t(x))
    _close(y, t(torch.tensor(x)), "unbatched", 1e-5)


POOL_CASES = [
    ("max", dict(kernel_size=2)),
    ("max", dict(kernel_size=3, stride=2, padding=1)),
    ("max", dict(kernel_size=3, stride=2, ceil_mode=True)),
    ("max", dict(kernel_size=(2, 3), stride=1, dilation=2)),
    ("max", dict(kernel_size=3, stride=2, padding=1, dilation=(1, 2), ceil_mode=True)),
    ("avg", dict(kernel_size=2)),
    ("avg", dict(kernel_size=3, stride=2, padding=1)),
    ("avg", dict(kernel_size=3, stride=2, padding=1, count_include_pad=False)),
    ("avg", dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ("avg", dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False)),
    ("avg", dict(kernel_size=(3, 2), stride=(2, 1), divisor_override=5)),
    ("adaptive", dict(output_size=1)),
    ("adaptive", dict(output_size=(3, 4))),
    ("adaptive", dict(output_size=(4, None))),
]


@pytest.mark.parametrize("kind,kw", POOL_CASES, ids=[str(i) for i in range(len(POOL_CASES))])
def test_pooling_modules_match_torch(kind, kw):
    ours, theirs = {
        "max": (nn.MaxPool2d, torch.nn.MaxPool2d),
        "avg": (nn.AvgPool2d, torch.nn.AvgPool2d),
        "adaptive": (nn.AdaptiveAvgPool2d, torch.nn.AdaptiveAvgPool2d),
    }[kind]
    x = np.random.default_rng(3).standard_normal((2, 3, 11, 8))
    _compare(ours(**kw), theirs(**kw), x, f"{kind}{kw}")
    _compare(ours(**kw), theirs(**kw), x[0], f"{kind}{kw} unbatched")


def test_max_pool_return_indices_and_overlap():
    x = np.random.default_rng(4).standard_normal((2, 3, 9, 9))
    kw = dict(kernel_size=3, stride=2, padding=1, return_indices=True)
    (yf, idx), (yt, it) = nn.MaxPool2d(**kw)(_t(x)), torch.nn.MaxPool2d(**kw)(torch.tensor(x))
    _close(yf, yt, "values")
    assert idx.array.dtype == np.int64 and np.array_equal(idx.array, it.numpy())
    assert not idx.requires_grad
    x[0, 0, 0, 0] = np.nan  # NaN propagates like PyTorch
    yf = F.max_pool2d(_t(x, False), 2)
    assert np.isnan(yf.array[0, 0, 0, 0]) and not np.isnan(yf.array[0, 0, 1, 1])


@pytest.mark.parametrize("cls,shape", [("BatchNorm2d", (4, 3, 5, 6)), ("BatchNorm1d", (8, 3)),
                                       ("BatchNorm1d", (4, 3, 7))])
@pytest.mark.parametrize("momentum", [0.1, None])
def test_batchnorm_train_eval_matches_torch(cls, shape, momentum):
    ours = getattr(nn, cls)(3, momentum=momentum, dtype=np.float64)
    theirs = getattr(torch.nn, cls)(3, momentum=momentum, dtype=torch.float64)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    rng = np.random.default_rng(5)
    with torch.no_grad():
        theirs.weight.uniform_(0.5, 1.5)
        theirs.bias.uniform_(-0.5, 0.5)
    _copy_params(ours, theirs)
    for step in range(3):
        x = rng.standard_normal(shape) * 2 + step
        for p in (*ours.parameters(), *theirs.parameters()):
            p.grad = None
        _compare(ours, theirs, x, f"{cls} train step {step}",
                 list(zip(ours.parameters(), theirs.parameters())))
        for name in ("running_mean", "running_var", "num_batches_tracked"):
            _close(getattr(ours, name), getattr(theirs, name), f"{name} after step {step}")
    ours.eval()
    theirs.eval()
    _compare(ours, theirs, rng.standard_normal(shape), f"{cls} eval",
             list(zip(ours.parameters(), theirs.parameters())))


def test_batchnorm_state_dict_roundtrip_and_no_affine():
    src = torch.nn.BatchNorm2d(4)
    src.train()
    src(torch.randn(8, 4, 3, 3))
    ours = nn.BatchNorm2d(4)
    ours.load_state_dict({k: fastnn.wrap(v.numpy()) for k, v in src.state_dict().items()})
    _close(ours.running_var, src.running_var, "loaded running_var", 1e-7)
    assert int(ours.num_batches_tracked.array) == 1
    bare = nn.BatchNorm2d(4, affine=False, track_running_stats=False)
    assert list(bare.state_dict()) == []
    x = np.random.default_rng(6).standard_normal((3, 4, 2, 2))
    bare.eval()  # without running stats eval still uses the batch statistics
    _compare(bare, torch.nn.BatchNorm2d(4, affine=False, track_running_stats=False).eval(), x,
             "bare batchnorm")
    with pytest.raises(ValueError):
        ours(_t(np.zeros((2, 4, 3)), False))


@pytest.mark.parametrize("pad,mode", [((1, 2), "constant"), ((1, 0, 2, 1), "constant"),
                                      ((-1, 2, 0, -2), "constant"), ((2, 1, 1, 2), "reflect"),
                                      ((2, 1, 1, 3), "replicate"), ((1, 2, 2, 1), "circular"),
                                      ((1, 1, 1, 1, 1, 1), "constant")])
def test_pad_matches_torch(pad, mode):
    x = np.random.default_rng(7).standard_normal((2, 3, 5, 6))
    value = 0.5 if mode == "constant" else None
    kw = {"value": value} if value is not None else {}
    _compare(lambda t: F.pad(t, pad, mode=mode, **kw),
             lambda t: torch.nn.functional.pad(t, pad, mode=mode, **kw), x, f"pad {pad} {mode}")


def test_functional_bad_input():
    x = _t(np.zeros((2, 3, 8, 8)), False)
    w = _t(np.zeros((4, 2, 3, 3)), False)
    with pytest.raises(ValueError, match="channel mismatch"):
        F.conv2d(x, w)
    with pytest.raises(ValueError, match="3-D"):
        F.conv2d(_t(np.zeros((3, 8)), False), w)
    with pytest.raises(ValueError, match="padding"):
        F.max_pool2d(x, 2, padding=2)
    with pytest.raises(ValueError):
        F.pad(x, (1,))
    with pytest.raises(ValueError):
        nn.Conv2d(3, 4, 3, groups=2)


@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
                                dict(kernel_size=(3, 2), stride=1, dilation=2, ceil_mode=True),
                                dict(kernel_size=3, stride=2, ceil_mode=True)])
def test_max_pool_kernels_every_backend(kw):
    """The max_pool2d kernels of the conv2d family on each CPU backend (float32 for cpp)."""
    from fastnn import backends

    x = np.random.default_rng(8).standard_normal((3, 4, 11, 9)).astype(np.float32)
    x[0, 0, 0, :3] = np.nan
    xt = torch.tensor(x, requires_grad=True)
    yt = torch.nn.functional.max_pool2d(xt, **kw)
    g = np.random.default_rng(9).standard_normal(tuple(yt.shape)).astype(np.float32)
    yt.backward(torch.tensor(g))
    for name in [b for b in backends.names() if backends.available(b)[0] and b != "cuda"]:
        with backends.use(name):
            xf = _t(x)
            yf = F.max_pool2d(xf, **kw)
            yf.backward(_t(g, False))
        ours, theirs = yf.array, yt.detach().numpy()
        assert np.array_equal(np.isnan(ours), np.isnan(theirs)), name
        _close(np.nan_to_num(ours), np.nan_to_num(theirs), f"{name} values", 1e-7)
        _close(xf.grad, xt.grad, f"{name} grad", 1e-6)
