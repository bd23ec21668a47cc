"""Interop with PyTorch without importing it in fastnn: torch.save archives read by fastnn.load,
DLPack both ways, torch.accelerator on a CPU-only machine."""

import io

import numpy as np
import pytest

import fastnn

torch = pytest.importorskip("torch")


def _torch_checkpoint():
    torch.manual_seed(0)
    m = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.LayerNorm(4), torch.nn.Linear(4, 2))
    opt = torch.optim.AdamW(m.parameters(), lr=1e-3, betas=(0.9, 0.95))
    m(torch.randn(5, 3)).square().sum().backward()
    opt.step()
    return m, opt, {
        "model": m.state_dict(), "optimizer": opt.state_dict(), "iter_num": 7,
        "best_val_loss": torch.tensor(1.25), "config": {"n_layer": 2, "bias": True},
        "dtype": torch.float16, "size": torch.Size([2, 3]), "device": torch.device("cpu"),
        "bf16": torch.tensor([1.5, -2.25], dtype=torch.bfloat16),
        "noncontig": torch.arange(12.0).reshape(3, 4).t(), "long": torch.arange(5),
    }


def test_torch_checkpoint_loads_weights_only(tmp_path):
    m, opt, ck = _torch_checkpoint()
    torch.save(ck, tmp_path / "ckpt.pt")
    out = fastnn.load(tmp_path / "ckpt.pt")
    fm = fastnn.nn.Sequential(fastnn.nn.Linear(3, 4), fastnn.nn.LayerNorm(4),
                              fastnn.nn.Linear(4, 2))
    fm.load_state_dict(out["model"])
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    np.testing.assert_allclose(fm(fastnn.tensor(x)).detach().numpy(),
                               m(torch.tensor(x)).detach().numpy(), rtol=1e-6, atol=1e-6)
    fopt = fastnn.optim.AdamW(fm.parameters(), lr=1e-3)
    fopt.load_state_dict(out["optimizer"])
    assert fopt.param_groups[0]["betas"] == (0.9, 0.95)
    np.testing.assert_array_equal(out["optimizer"]["state"][0]["exp_avg"].numpy(),
                                  opt.state_dict()["state"][0]["exp_avg"].numpy())
    assert out["iter_num"] == 7 and out["config"] == {"n_layer": 2, "bias": True}
    assert out["best_val_loss"].item() == 1.25 and out["best_val_loss"].shape == ()
    assert out["dtype"] == fastnn.float16 and tuple(out["size"]) == (2, 3)
    assert str(out["device"]) == "cpu"
    np.testing.assert_array_equal(out["bf16"].numpy(), ck["bf16"].float().numpy())
    np.testing.assert_array_equal(out["noncontig"].numpy(), ck["noncontig"].numpy())
    assert out["long"].dtype == fastnn.int64


def test_torch_pickled_module_needs_explicit_opt_in(tmp_path):
    torch.save(torch.nn.Linear(2, 3), tmp_path / "m.pt")
    with pytest.raises(ValueError, match="weights_only=False"):
        fastnn.load(tmp_path / "m.pt")


def test_truncated_torch_archive_is_a_clear_error(tmp_path):
    _, _, ck = _torch_checkpoint()
    buf = io.BytesIO()
    torch.save(ck, buf)
    raw = buf.getvalue()
    with pytest.raises(ValueError, match="bytes"):
        fastnn.load(raw[: len(raw) // 2])


def test_dlpack_shares_memory_both_ways():
    t = torch.arange(6.0).reshape(2, 3)
    x = fastnn.from_dlpack(t)
    assert isinstance(x, fastnn.Tensor) and np.shares_memory(x.numpy(), t.numpy())
    y = torch.from_dlpack(x)
    y[0, 0] = 100.0
    assert x[0, 0].item() == 100.0
    x2 = fastnn.utils.dlpack.from_dlpack(torch.utils.dlpack.to_dlpack(t))
    np.testing.assert_array_equal(x2.numpy(), t.numpy())
    np.testing.assert_array_equal(fastnn.from_dlpack(np.arange(3)).numpy(), np.arange(3))
    with pytest.raises(RuntimeError, match="require gradient"):
        torch.from_dlpack(fastnn.ones(2, requires_grad=True))
    with pytest.raises(TypeError, match="ext_tensor"):
        fastnn.from_dlpack([1, 2])


def test_accelerator_matches_torch_on_this_machine():
    assert fastnn.accelerator.is_available() == torch.accelerator.is_available()
    assert fastnn.accelerator.device_count() == torch.accelerator.device_count()
    if not torch.accelerator.is_available():
        assert fastnn.accelerator.current_accelerator() is None
        for name in ("synchronize", "current_device_index", "empty_cache"):
            with pytest.raises(RuntimeError, match="none is available"):
                getattr(torch.accelerator, name)()
            with pytest.raises(RuntimeError, match="none is available"):
                getattr(fastnn.accelerator, name)()
