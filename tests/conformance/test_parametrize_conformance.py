"""torch.nn.utils.parametrize / parametrizations against torch: weight_norm and spectral_norm
(forward, gradients of the originals, state_dict keys, loading torch's state_dict), a custom
parametrization with right_inverse, caching, removal."""

import numpy as np
import pytest
import torch

import fastnn
import fastnn.nn as nn
from fastnn.nn.utils import parametrizations as fpar
from fastnn.nn.utils import parametrize as fp
from fastnn.tensor import wrap


def _np(x):
    return x.detach().numpy()


def _load(fm, tm):
    fm.load_state_dict({k: wrap(v.detach().numpy().copy()) for k, v in tm.state_dict().items()})


def _linear_pair(seed=0, dtype=torch.float64):
    torch.manual_seed(seed)
    tm = torch.nn.Linear(5, 4).to(dtype)
    fm = nn.Linear(5, 4).double() if dtype == torch.float64 else nn.Linear(5, 4)
    _load(fm, tm)
    return fm, tm


def _compare_forward_backward(fm, tm, shape=(3, 5), steps=1, seed=1):
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        x = rng.standard_normal(shape)
        fy, ty = fm(wrap(x.copy())), tm(torch.from_numpy(x.copy()))
        np.testing.assert_allclose(_np(fy), _np(ty), rtol=1e-10, atol=1e-12)
        g = rng.standard_normal(tuple(ty.shape))
        (fy * wrap(g)).sum().backward()
        (ty * torch.from_numpy(g)).sum().backward()
    fparams, tparams = dict(fm.named_parameters()), dict(tm.named_parameters())
    assert sorted(fparams) == sorted(tparams)
    for name, tp in tparams.items():
        np.testing.assert_allclose(_np(fparams[name].grad), _np(tp.grad), rtol=1e-10,
                                   atol=1e-12, err_msg=name)


@pytest.mark.parametrize("dim", [0, 1, None])
def test_weight_norm_matches_torch(dim):
    fm, tm = _linear_pair()
    fpar.weight_norm(fm, dim=dim)
    torch.nn.utils.parametrizations.weight_norm(tm, dim=dim)
    assert type(fm).__name__ == type(tm).__name__ == "ParametrizedLinear"
    assert sorted(fm.state_dict()) == sorted(tm.state_dict())
    for k, v in tm.state_dict().items():
        np.testing.assert_allclose(_np(fm.state_dict()[k]), _np(v), rtol=1e-12, err_msg=k)
    _compare_forward_backward(fm, tm)


def test_weight_norm_on_conv_and_loading_torch_state_dict():
    torch.manual_seed(0)
    tm = torch.nn.utils.parametrizations.weight_norm(torch.nn.Conv2d(2, 3, 3).double())
    with torch.no_grad():  # g no longer equal to ||v||: the load must carry both
        tm.parametrizations.weight.original0.mul_(1.5)
    fm = fpar.weight_norm(nn.Conv2d(2, 3, 3).double())
    _load(fm, tm)
    _compare_forward_backward(fm, tm, shape=(2, 2, 6, 6))


@pytest.mark.parametrize("n_power_iterations", [1, 3])
def test_spectral_norm_matches_torch_train_and_eval(n_power_iterations):
    fm, tm = _linear_pair()
    torch.nn.utils.parametrizations.spectral_norm(tm, n_power_iterations=n_power_iterations)
    fpar.spectral_norm(fm, n_power_iterations=n_power_iterations)
    assert sorted(fm.state_dict()) == sorted(tm.state_dict())
    _load(fm, tm)  # the random start vectors u, v: torch's
    _compare_forward_backward(fm, tm, steps=3)  # the power iteration advances per forward
    for k in ("parametrizations.weight.0._u", "parametrizations.weight.0._v"):
        np.testing.assert_allclose(_np(fm.state_dict()[k]), _np(tm.state_dict()[k]),
                                   rtol=1e-10, atol=1e-12)
    fm.eval()
    tm.eval()
    _compare_forward_backward(fm, tm, steps=2, seed=5)
    # the spectral norm of the effective weight is ~1
    assert np.linalg.norm(_np(fm.weight), 2) == pytest.approx(1.0, rel=1e-2)


class _Symmetric:
    """X -> triu(X) + triu(X, 1)^T, with a right_inverse (the same module in both libraries)."""

    @staticmethod
    def make(lib):
        class Symmetric(lib.nn.Module):
            def forward(self, x):
                return x.triu() + x.triu(1).transpose(-1, -2)

            def right_inverse(self, a):
                return a.triu()

        return Symmetric()


def test_custom_parametrization_assignment_cached_and_removal():
    torch.manual_seed(0)
    tm = torch.nn.Linear(4, 4).double()
    fm = nn.Linear(4, 4).double()
    _load(fm, tm)
    fp.register_parametrization(fm, "weight", _Symmetric.make(fastnn))
    torch.nn.utils.parametrize.register_parametrization(tm, "weight", _Symmetric.make(torch))
    assert fp.is_parametrized(fm) and fp.is_parametrized(fm, "weight")
    assert not fp.is_parametrized(fm, "bias")
    assert fp.type_before_parametrizations(fm) is nn.Linear
    np.testing.assert_allclose(_np(fm.weight), _np(tm.weight), rtol=1e-12)
    np.testing.assert_allclose(_np(fm.weight), _np(fm.weight).T)
    original = fm.parametrizations.weight.original
    a = np.arange(16.0).reshape(4, 4)
    fm.weight = wrap(a.copy())  # through right_inverse; the Parameter object stays
    with torch.no_grad():
        tm.weight = torch.from_numpy(a.copy())
    assert fm.parametrizations.weight.original is original
    np.testing.assert_allclose(_np(fm.weight), _np(tm.weight))
    _compare_forward_backward(fm, tm, shape=(2, 4))
    with fp.cached():
        assert fm.weight is fm.weight
    assert fm.weight is not fm.weight
    fp.remove_parametrizations(fm, "weight")
    torch.nn.utils.parametrize.remove_parametrizations(tm, "weight")
    assert type(fm) is nn.Linear and sorted(fm.state_dict()) == sorted(tm.state_dict())
    np.testing.assert_allclose(_np(fm.weight), _np(tm.weight))
    with pytest.raises(ValueError, match="does not have a parametrization on weight"):
        fp.remove_parametrizations(fm, "weight")
    with pytest.raises(ValueError, match="does not have a parameter, a buffer"):
        fp.register_parametrization(fm, "nope", _Symmetric.make(fastnn))


def test_parametrized_weight_trains_with_an_optimizer():
    fm, tm = _linear_pair()
    fpar.weight_norm(fm)
    torch.nn.utils.parametrizations.weight_norm(tm)
    fo = fastnn.optim.SGD(fm.parameters(), lr=0.1, momentum=0.9)
    to = torch.optim.SGD(tm.parameters(), lr=0.1, momentum=0.9)
    x = np.random.default_rng(3).standard_normal((6, 5))
    for _ in range(5):
        fo.zero_grad()
        to.zero_grad()
        (fm(wrap(x)) ** 2).mean().backward()
        (tm(torch.from_numpy(x)) ** 2).mean().backward()
        fo.step()
        to.step()
    np.testing.assert_allclose(_np(fm.weight), _np(tm.weight), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("dim", [0, 1])
def test_hook_based_weight_norm_matches_torch(dim):
    fm, tm = _linear_pair()
    fastnn.nn.utils.weight_norm(fm, dim=dim)
    torch.nn.utils.weight_norm(tm, dim=dim)
    assert sorted(fm.state_dict()) == sorted(tm.state_dict())
    _load(fm, tm)
    _compare_forward_backward(fm, tm, steps=2)
    fastnn.nn.utils.remove_weight_norm(fm)
    torch.nn.utils.remove_weight_norm(tm)
    assert sorted(fm.state_dict()) == sorted(tm.state_dict()) == ["bias", "weight"]
    np.testing.assert_allclose(_np(fm.weight), _np(tm.weight), rtol=1e-12)
    with pytest.raises(ValueError, match="weight_norm of 'weight' not found"):
        fastnn.nn.utils.remove_weight_norm(fm)


def test_hook_based_spectral_norm_matches_torch():
    torch.manual_seed(0)
    tm = torch.nn.utils.spectral_norm(torch.nn.Conv2d(2, 3, 3).double(), n_power_iterations=2)
    fm = fastnn.nn.utils.spectral_norm(nn.Conv2d(2, 3, 3).double(), n_power_iterations=2)
    assert sorted(fm.state_dict()) == sorted(tm.state_dict())
    _load(fm, tm)  # torch's random start vectors
    _compare_forward_backward(fm, tm, shape=(2, 2, 5, 5), steps=3)
    fm.eval()
    tm.eval()
    _compare_forward_backward(fm, tm, shape=(2, 2, 5, 5), steps=1, seed=7)
    fastnn.nn.utils.remove_spectral_norm(fm)
    torch.nn.utils.remove_spectral_norm(tm)
    assert sorted(fm.state_dict()) == sorted(tm.state_dict())
    np.testing.assert_allclose(_np(fm.weight), _np(tm.weight), rtol=1e-10)
