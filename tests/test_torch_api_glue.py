"""The torch API around the training loop that real scripts touch (issue 19: nanoGPT and the
yunjey tutorials): torch.backends flags, torch.amp (GradScaler, autocast), torch.cuda.amp,
bfloat16, 0-d comparisons -- each checked against torch 2.13 doing the same thing."""

import warnings

import numpy as np
import pytest
import torch

import fastnn

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")


# ---------------------------------------------------------------- torch.backends flags
def test_backends_flag_defaults_match_torch_cpu_build():
    for name in ("allow_tf32", "allow_fp16_reduced_precision_reduction", "fp32_precision"):
        ours, theirs = fastnn.backends.cuda.matmul, torch.backends.cuda.matmul
        assert getattr(ours, name) == getattr(theirs, name), name
    for name in ("enabled", "benchmark", "deterministic", "allow_tf32"):
        assert getattr(fastnn.backends.cudnn, name) == getattr(torch.backends.cudnn, name), name
    assert fastnn.backends.cudnn.is_available() is False
    assert fastnn.backends.mps.is_available() == torch.backends.mps.is_available()
    assert fastnn.backends.cuda.flash_sdp_enabled() == torch.backends.cuda.flash_sdp_enabled()


def test_backends_cuda_matmul_set_read_back_and_unknown_name():
    for mod in (torch, fastnn):
        m = mod.backends.cuda.matmul
        saved = m.allow_tf32
        try:
            m.allow_tf32 = True
            assert m.allow_tf32 is True and m.fp32_precision == "tf32"
            m.allow_tf32 = False
            assert m.fp32_precision in ("none", "ieee")
        finally:
            m.allow_tf32 = saved
        with pytest.raises(AttributeError, match="Unknown attribute"):
            m.not_a_flag = True
        with pytest.raises(AttributeError, match="Unknown attribute"):
            m.not_a_flag  # noqa: B018


def test_cudnn_flags_context_restores():
    for mod in (torch, fastnn):
        before = mod.backends.cudnn.benchmark
        with mod.backends.cudnn.flags(enabled=False, benchmark=True):
            assert mod.backends.cudnn.benchmark is True and mod.backends.cudnn.enabled is False
        assert mod.backends.cudnn.benchmark == before and mod.backends.cudnn.enabled is True


def test_sdp_kernel_context_restores():
    for mod in (torch, fastnn):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with mod.backends.cuda.sdp_kernel(enable_flash=False):
                assert mod.backends.cuda.flash_sdp_enabled() is False
        assert mod.backends.cuda.flash_sdp_enabled() is True


def test_torch_backends_modules_import_by_name():
    import fastnn.backends.cudnn as cudnn  # `import torch.backends.cudnn as cudnn`
    import fastnn.backends.mps  # noqa: F401

    assert cudnn is fastnn.backends.cudnn
    assert "cudnn" not in fastnn.backends.names()  # a flag module, not a kernel backend


# ---------------------------------------------------------------- GradScaler
def _pair(seed=0):
    rng = np.random.default_rng(seed)
    w0 = rng.standard_normal((4, 3)).astype(np.float32)
    x = rng.standard_normal((5, 4)).astype(np.float32)
    out = []
    for mod in (torch, fastnn):
        w = mod.nn.Parameter(mod.tensor(w0.copy()))
        out.append((mod, w, mod.optim.SGD([w], lr=0.1), mod.tensor(x)))
    return out


def _scaled_step(mod, w, opt, x, scaler, poison=False, clip=None):
    loss = (x @ w).pow(2).mean()
    if poison:
        loss = loss * float("inf")
    scaler.scale(loss).backward()
    if clip is not None:
        scaler.unscale_(opt)
        mod.nn.utils.clip_grad_norm_([w], clip)
    scaler.step(opt)
    scaler.update()
    opt.zero_grad()
    return loss


@pytest.mark.parametrize("clip", [None, 0.5])
def test_grad_scaler_cpu_matches_torch(clip):
    runs = {}
    for mod, w, opt, x in _pair():
        scaler = mod.amp.GradScaler("cpu", init_scale=2.0**10, growth_interval=3)
        scales, grads_seen = [], []
        for step in range(8):
            _scaled_step(mod, w, opt, x, scaler, poison=step in (2, 5), clip=clip)
            scales.append(scaler.get_scale())
        grads_seen.append(w.detach().numpy().copy())
        runs[mod.__name__] = (scales, grads_seen, scaler.state_dict())
    ts, tw, tsd = runs["torch"]
    fs, fw, fsd = runs["fastnn"]
    assert fs == ts  # backoff on the two inf steps, growth after 3 clean ones
    np.testing.assert_allclose(fw[0], tw[0], rtol=1e-5, atol=1e-6)  # skipped steps skipped
    assert fsd == tsd


def test_grad_scaler_scale_and_unscale_values():
    (tmod, tw, topt, tx), (fmod, fw, fopt, fx) = _pair(1)
    ts, fs = tmod.amp.GradScaler("cpu", init_scale=8.0), fmod.amp.GradScaler("cpu", init_scale=8.0)
    tl, fl = (tx @ tw).sum(), (fx @ fw).sum()
    np.testing.assert_allclose(fs.scale(fl).item(), ts.scale(tl).item(), rtol=1e-6)
    a, b = fs.scale([fl, fl]), ts.scale([tl, tl])
    assert isinstance(a, list) and len(a) == len(b) == 2
    ts.scale(tl).backward()
    fs.scale(fl).backward()
    ts.unscale_(topt)
    fs.unscale_(fopt)
    np.testing.assert_allclose(fw.grad.numpy(), tw.grad.numpy(), rtol=1e-5)
    for s, opt in ((ts, topt), (fs, fopt)):
        with pytest.raises(RuntimeError, match="already been called"):
            s.unscale_(opt)
        s.step(opt)
        with pytest.raises(RuntimeError, match="step\\(\\) has already been called"):
            s.step(opt)
        with pytest.raises(RuntimeError, match="after step"):
            s.unscale_(opt)


def test_cuda_grad_scaler_without_gpu_disables_like_torch():
    with pytest.warns(UserWarning, match="CUDA is not available"):
        t = torch.cuda.amp.GradScaler(enabled=True)
    with pytest.warns(UserWarning, match="CUDA is not available"):
        f = fastnn.cuda.amp.GradScaler(enabled=True)
    assert f.is_enabled() == t.is_enabled() is False
    assert f.get_scale() == t.get_scale() == 1.0 and f.state_dict() == t.state_dict() == {}
    x = fastnn.ones(2)
    assert f.scale(x) is x


def test_grad_scaler_bad_factors_raise():
    for mod in (torch, fastnn):
        with pytest.raises(AssertionError, match="growth factor"):
            mod.amp.GradScaler("cpu", growth_factor=0.5)


# ---------------------------------------------------------------- autocast
def test_autocast_region_is_reported_and_keeps_float32():
    x = fastnn.randn(3, 4)
    assert not fastnn.is_autocast_enabled("cpu")
    with fastnn.autocast(device_type="cpu", dtype=fastnn.bfloat16):
        assert fastnn.is_autocast_enabled("cpu") and torch.is_autocast_enabled("cpu") is False
        assert fastnn.get_autocast_dtype("cpu") == fastnn.bfloat16
        y = x @ x.T
    assert y.dtype == fastnn.float32  # documented: fastnn computes the region in float32
    assert not fastnn.is_autocast_enabled("cpu")
    with fastnn.amp.autocast("cpu", enabled=False):
        assert not fastnn.is_autocast_enabled("cpu")

    @fastnn.cuda.amp.autocast()
    def f(a):
        return fastnn.is_autocast_enabled("cuda")

    assert f(x) is True and not fastnn.is_autocast_enabled("cuda")


def test_autocast_bad_device_type_raises():
    for mod in (torch, fastnn):
        with pytest.raises((RuntimeError, ValueError), match="device"):
            mod.autocast(device_type="tpu-not-a-device")


# ---------------------------------------------------------------- dtypes, compile, 0-d results
def test_bfloat16_dtype_round_trip():
    pytest.importorskip("ml_dtypes")
    x = np.array([1.0, 2.5, -3.25, 1e-3], np.float32)
    f = fastnn.tensor(x).to(fastnn.bfloat16)
    t = torch.tensor(x).to(torch.bfloat16)
    assert f.dtype == fastnn.bfloat16 and f.is_floating_point() and t.is_floating_point()
    np.testing.assert_array_equal(f.float().numpy(), t.float().numpy())


def test_compile_returns_the_callable():
    m = fastnn.nn.Linear(3, 2)
    assert fastnn.compile(m) is m
    assert fastnn.compile(mode="max-autotune")(m) is m


@pytest.mark.parametrize(
    "expr",
    ["a < 2", "a >= b", "a == b", "torch.isnan(a)", "torch.isfinite(a)", "~(a > 0)",
     "(a > 0) & (b < 1)", "torch.logical_not(a > b)"],
)
def test_zero_dim_comparisons_give_0d_bool_tensors(expr):
    res = {}
    for mod in (torch, fastnn):
        a, b = mod.tensor(1.5), mod.zeros(3).mean()
        r = eval(expr, {"torch": mod, "a": a, "b": b})
        assert r.dim() == 0 and r.dtype == mod.bool
        res[mod.__name__] = (bool(r), r.item(), r.tolist())
    assert res["fastnn"] == res["torch"]


def test_cuda_bf16_query_and_set_device_without_gpu():
    assert fastnn.cuda.is_bf16_supported() is False
    if not fastnn.cuda.is_available():  # (a CPU torch raises AttributeError from torch._C)
        with pytest.raises(RuntimeError, match="not available"):
            fastnn.cuda.set_device("cuda:0")
    with pytest.raises(ValueError, match="CUDA device"):
        fastnn.cuda.set_device(fastnn.device("cpu"))
