"""The fast paths added for real clients' speed (issue 19), against torch: the CPU fused
batch-norm kernels (functions/_batchnorm_numba.py: float32 with a large mean, non-contiguous
input, no affine, NaN propagation), clip_grad_norm_'s chunked 2-norm, the one-step LSTM call."""

import numpy as np
import pytest
import torch

import fastnn
from fastnn.functions import _batchnorm_numba as fused


def _both(x, affine=True, momentum=0.1):
    rng = np.random.default_rng(1)
    c = x.shape[1]
    w, b = rng.uniform(0.5, 1.5, c), rng.uniform(-0.5, 0.5, c)
    out = {}
    for mod in (torch, fastnn):
        cls = mod.nn.BatchNorm2d if x.ndim == 4 else mod.nn.BatchNorm1d
        bn = cls(c, affine=affine, momentum=momentum, dtype=getattr(mod, str(x.dtype)))
        if affine:
            with mod.no_grad():
                bn.weight.copy_(mod.tensor(w.astype(x.dtype)))
                bn.bias.copy_(mod.tensor(b.astype(x.dtype)))
        xt = mod.tensor(x, requires_grad=True)
        y = bn(xt)
        g = np.random.default_rng(2).standard_normal(y.shape).astype(x.dtype)
        (y * mod.tensor(g)).sum().backward()
        grads = [xt.grad.numpy()] + ([bn.weight.grad.numpy(), bn.bias.grad.numpy()] if affine
                                     else [])
        out[mod.__name__] = [y.detach().numpy(), *grads, bn.running_mean.numpy(),
                             bn.running_var.numpy()]
    return out["fastnn"], out["torch"]


@pytest.mark.parametrize("shape", [(16, 8, 9, 7), (5, 3, 1, 1), (32, 6), (7, 4, 13)])
@pytest.mark.parametrize("affine", [True, False])
def test_fused_batchnorm_float32_matches_torch(shape, affine):
    x = (np.random.default_rng(0).standard_normal(shape) * 3 + 50).astype(np.float32)
    assert fused.applies(x)
    ours, theirs = _both(x, affine)
    for a, b, name in zip(ours, theirs, ["y", "dx", "dw", "db", "rmean", "rvar"]):
        # float32: x - mean loses ~log2(50/3) bits; y and dx are O(1), the sums O(sqrt(N))
        np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-4 * max(1, np.abs(b).max()),
                                   err_msg=name)


def test_fused_batchnorm_non_contiguous_input_and_float64():
    x = np.random.default_rng(3).standard_normal((6, 10, 5, 4)).transpose(0, 1, 3, 2)
    ours, theirs = _both(x)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)


def test_fused_batchnorm_nan_propagates_to_its_channel_only():
    x = np.random.default_rng(4).standard_normal((4, 3, 5, 5)).astype(np.float32)
    x[1, 2, 3, 3] = np.nan
    ours, theirs = _both(x)
    for a, b in zip(ours[:2], theirs[:2]):  # y and dx: NaN exactly where torch has it
        np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
        assert np.isnan(a[:, 2]).all() and not np.isnan(a[:, :2]).any()


@pytest.mark.parametrize("max_norm", [0.5, 1e9])  # clipped, and coefficient 1 (no pass)
def test_clip_grad_norm_large_and_non_contiguous_vs_torch(max_norm):
    rng = np.random.default_rng(5)
    grads = [rng.standard_normal((300, 700)).astype(np.float32),  # > one 64K chunk
             rng.standard_normal((50, 40)).astype(np.float32).T,  # non-contiguous
             rng.standard_normal(3).astype(np.float32)]
    norms, after = {}, {}
    for mod in (torch, fastnn):
        ps = [mod.nn.Parameter(mod.zeros(*g.shape)) for g in grads]
        for p, g in zip(ps, grads):
            p.grad = mod.tensor(g.copy())
        norms[mod.__name__] = float(mod.nn.utils.clip_grad_norm_(ps, max_norm))
        after[mod.__name__] = [p.grad.numpy() for p in ps]
    exact = np.sqrt(sum((g.astype(np.float64) ** 2).sum() for g in grads))
    np.testing.assert_allclose(norms["fastnn"], exact, rtol=2e-7)
    # torch accumulates the float32 norm in float32: 1.4e-6 off the exact norm here
    np.testing.assert_allclose(norms["fastnn"], norms["torch"], rtol=3e-6)
    for a, b in zip(after["fastnn"], after["torch"]):
        np.testing.assert_allclose(a, b, rtol=3e-6, atol=1e-9)


def test_clip_grad_norm_nan_propagates_like_torch():
    out = {}
    for mod in (torch, fastnn):
        p = mod.nn.Parameter(mod.zeros(70000))
        g = np.ones(70000, np.float32)
        g[123] = np.nan
        p.grad = mod.tensor(g)
        out[mod.__name__] = (float(mod.nn.utils.clip_grad_norm_([p], 1.0)), p.grad.numpy())
    assert np.isnan(out["fastnn"][0]) and np.isnan(out["torch"][0])
    np.testing.assert_array_equal(np.isnan(out["fastnn"][1]), np.isnan(out["torch"][1]))


@pytest.mark.parametrize("T,B,H", [(1, 1, 200), (1, 3, 130), (5, 2, 130), (4, 3, 37)])
def test_lstm_one_step_and_tiled_transpose_vs_torch(T, B, H):
    """T = 1 takes the kernel's single-step path (no W_hh transpose); T > 1 the 32x32-tiled
    transpose, with edge tiles when H is not a multiple of 32 and threads from H >= 128."""
    rng = np.random.default_rng(6)
    x = rng.standard_normal((B, T, 33)).astype(np.float32)
    h0 = rng.standard_normal((1, B, H)).astype(np.float32)
    c0 = rng.standard_normal((1, B, H)).astype(np.float32)
    ref = torch.nn.LSTM(33, H, batch_first=True)
    ours = fastnn.nn.LSTM(33, H, batch_first=True)
    ours.load_state_dict({k: fastnn.tensor(v.detach().numpy())
                          for k, v in ref.state_dict().items()})
    res = {}
    for mod, m in ((torch, ref), (fastnn, ours)):
        xt = mod.tensor(x, requires_grad=True)
        y, (h, c) = m(xt, (mod.tensor(h0), mod.tensor(c0)))
        (y.sum() + (h * c).sum()).backward()
        res[mod.__name__] = [y.detach().numpy(), h.detach().numpy(), c.detach().numpy(),
                             xt.grad.numpy(), m.weight_hh_l0.grad.numpy()]
    for a, b in zip(res["fastnn"], res["torch"]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
