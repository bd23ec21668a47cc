"""Convolution, pooling, padding, batchnorm and resampling breadth (issue 18): each functional
compared with PyTorch forward and backward (float64, odd sizes, stride/padding/dilation/groups,
unbatched and zero-size inputs where PyTorch accepts them), the modules' construction and
laziness, and bad arguments raising a clear error."""

from __future__ import annotations

import numpy as np
import pytest

import fastnn
import fastnn.nn.functional as FF

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def check(name, *shapes, args=(), positive=False, indices=False, atol=1e-10, **kwargs):
    """fastnn's F.<name> against torch's: output (and int indices) and every input gradient."""
    rng = np.random.default_rng(0)
    arrays = [rng.uniform(0.1, 2.0, s) if positive else rng.standard_normal(s) for s in shapes]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    fs = [fastnn.tensor(a, requires_grad=True) for a in arrays]
    t_out = getattr(TF, name)(*ts, *args, **kwargs)
    f_out = getattr(FF, name)(*fs, *args, **kwargs)
    if indices:
        np.testing.assert_array_equal(f_out[1].numpy(), t_out[1].numpy())
        t_out, f_out = t_out[0], f_out[0]
    assert tuple(f_out.shape) == tuple(t_out.shape)
    np.testing.assert_allclose(f_out.detach().numpy(), t_out.detach().numpy(), atol=atol)
    grad = rng.standard_normal(tuple(t_out.shape))
    t_out.backward(torch.tensor(grad))
    f_out.backward(fastnn.tensor(grad))
    for t, f in zip(ts, fs):
        np.testing.assert_allclose(f.grad.numpy(), t.grad.numpy(), atol=atol)


# ------------------------------------------------------------------------------ convolution
@pytest.mark.parametrize("shapes, kw", [
    (((2, 4, 9), (6, 2, 3), (6,)), dict(stride=2, padding=1, dilation=2, groups=2)),
    (((4, 9), (6, 4, 5)), dict(padding="same")),
    (((0, 4, 7), (5, 4, 3)), dict(padding="valid")),
])
def test_conv1d(shapes, kw):
    check("conv1d", *shapes, **kw)


@pytest.mark.parametrize("shapes, kw", [
    (((2, 4, 7, 6, 5), (6, 2, 3, 2, 3), (6,)),
     dict(stride=(2, 1, 2), padding=(1, 0, 1), dilation=(2, 1, 1), groups=2)),
    (((4, 7, 6, 5), (6, 4, 3, 2, 2)), dict(padding="same")),
])
def test_conv3d(shapes, kw):
    check("conv3d", *shapes, **kw)


@pytest.mark.parametrize("name, shapes, kw", [
    ("conv_transpose1d", ((2, 4, 7), (4, 3, 3), (3,)), dict(stride=2, padding=1,
                                                            output_padding=1)),
    ("conv_transpose2d", ((2, 4, 5, 6), (4, 3, 3, 2), (6,)),
     dict(stride=(2, 3), padding=1, output_padding=(1, 2), groups=2)),
    ("conv_transpose2d", ((4, 5, 6), (4, 3, 3, 2)), dict(dilation=2)),
    # output_padding >= stride, allowed by the larger dilation
    ("conv_transpose2d", ((2, 2, 4, 5), (2, 3, 3, 3), (3,)),
     dict(stride=1, padding=1, output_padding=1, dilation=2)),
    ("conv_transpose3d", ((2, 4, 4, 5, 3), (4, 3, 3, 2, 2), (6,)),
     dict(stride=(2, 2, 1), padding=(1, 0, 1), output_padding=(1, 1, 0), groups=2,
          dilation=(2, 1, 2))),
    ("conv_transpose3d", ((4, 3, 4, 3), (4, 2, 2, 2, 2)), {}),
])
def test_conv_transpose(name, shapes, kw):
    check(name, *shapes, **kw)


@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("transposed", [False, True])
def test_conv_modules_match_torch_and_lazy_infers_in_channels(n, transposed):
    kind = "ConvTranspose" if transposed else "Conv"
    tm = getattr(torch.nn, f"{kind}{n}d")(4, 6, 3, stride=2, padding=1, groups=2).double()
    lazy = getattr(fastnn.nn, f"Lazy{kind}{n}d")(6, 3, stride=2, padding=1, groups=2)
    assert isinstance(lazy.weight, fastnn.nn.UninitializedParameter)
    x = np.random.default_rng(1).standard_normal((2, 4) + (7,) * n)
    lazy(fastnn.tensor(x.astype(np.float32)))  # materializes with in_channels=4
    assert type(lazy).__name__ == f"{kind}{n}d" and lazy.in_channels == 4
    assert tuple(lazy.weight.shape) == tuple(tm.weight.shape)
    fm = getattr(fastnn.nn, f"{kind}{n}d")(4, 6, 3, stride=2, padding=1, groups=2).double()
    fm.load_state_dict({k: fastnn.tensor(v.detach().numpy()) for k, v in
                        tm.state_dict().items()})
    np.testing.assert_allclose(fm(fastnn.tensor(x)).detach().numpy(),
                               tm(torch.tensor(x)).detach().numpy(), atol=1e-10)


def test_conv_transpose_output_size():
    tm = torch.nn.ConvTranspose2d(3, 2, 3, stride=2).double()
    fm = fastnn.nn.ConvTranspose2d(3, 2, 3, stride=2).double()
    fm.load_state_dict({k: fastnn.tensor(v.detach().numpy()) for k, v in
                        tm.state_dict().items()})
    x = np.random.default_rng(2).standard_normal((1, 3, 4, 5))
    y = fm(fastnn.tensor(x), output_size=(10, 12))
    np.testing.assert_allclose(y.detach().numpy(),
                               tm(torch.tensor(x), output_size=(10, 12)).detach().numpy(),
                               atol=1e-10)
    with pytest.raises(ValueError, match="output_size"):
        fm(fastnn.tensor(x), output_size=(20, 12))


def test_conv_bad_arguments():
    x = fastnn.randn(2, 4, 9)
    with pytest.raises(ValueError, match="input"):
        FF.conv1d(fastnn.randn(9), fastnn.randn(2, 1, 3))
    with pytest.raises(ValueError, match="weight"):
        FF.conv3d(fastnn.randn(1, 2, 2, 2, 2), fastnn.randn(1, 2, 3, 3, 3))
    with pytest.raises(ValueError, match="output_padding"):
        FF.conv_transpose1d(x, fastnn.randn(4, 2, 3), stride=2, output_padding=2)
    with pytest.raises(ValueError, match="padding_mode"):
        fastnn.nn.ConvTranspose2d(2, 2, 3, padding_mode="reflect")
    with pytest.raises(ValueError, match="same"):
        fastnn.nn.Conv3d(2, 2, 3, stride=2, padding="same")


# ---------------------------------------------------------------------------------- padding
@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("shape, pad", [((2, 3, 5, 6), (-1, 3, 2, -2)), ((0, 3, 5), (1, 2)),
                                        ((2, 3, 4, 5, 6), (1, 2, 0, 1, 2, 1))])
def test_pad_modes(mode, shape, pad):
    check("pad", shape, pad=pad, mode=mode)


def test_replicate_pad_past_a_crop_reads_the_edge():
    check("pad", (5, 3, 4, 4), pad=(-4, 5, 0, 0), mode="replicate")


@pytest.mark.parametrize("kind, n", [(k, n) for k in ("Zero", "Constant", "Reflection",
                                                      "Replication", "Circular")
                                     for n in (1, 2, 3)])
def test_padding_modules(kind, n):
    args = (1, 2.5) if kind == "Constant" else (1,)
    x = np.random.default_rng(3).standard_normal((2, 3) + (4,) * n)
    t = getattr(torch.nn, f"{kind}Pad{n}d")(*args)(torch.tensor(x))
    f = getattr(fastnn.nn, f"{kind}Pad{n}d")(*args)
    np.testing.assert_array_equal(f(fastnn.tensor(x)).numpy(), t.numpy())
    assert repr(f) == repr(getattr(torch.nn, f"{kind}Pad{n}d")(*args))


def test_pad_bad_arguments():
    with pytest.raises(ValueError, match="reflect"):
        FF.pad(fastnn.randn(1, 2, 3), (3, 0), mode="reflect")
    with pytest.raises(ValueError, match="circular"):
        FF.pad(fastnn.randn(1, 2, 3), (4, 0), mode="circular")
    with pytest.raises(TypeError, match="padding"):
        fastnn.nn.ZeroPad2d((1, 2, 3))


# ---------------------------------------------------------------------------------- pooling
@pytest.mark.parametrize("name, shape, kw, idx", [
    ("max_pool1d", (2, 3, 9), dict(kernel_size=3, stride=2, padding=1, dilation=2,
                                   ceil_mode=True), False),
    ("max_pool1d", (3, 9), dict(kernel_size=2, return_indices=True), True),
    ("max_pool3d", (2, 3, 7, 6, 5), dict(kernel_size=3, stride=(2, 1, 2), padding=1,
                                         dilation=(1, 2, 1), ceil_mode=True,
                                         return_indices=True), True),
    ("max_pool3d", (3, 5, 6, 5), dict(kernel_size=2, return_indices=True), True),
    ("max_pool2d_with_indices", (2, 3, 7, 6), dict(kernel_size=3, stride=2, padding=1), True),
    ("avg_pool1d", (2, 3, 9), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True,
                                   count_include_pad=False), False),
    ("avg_pool3d", (2, 3, 7, 6, 5), dict(kernel_size=3, stride=(2, 1, 2), padding=1,
                                         ceil_mode=True, count_include_pad=False), False),
    ("avg_pool3d", (3, 5, 6, 5), dict(kernel_size=(2, 3, 2), divisor_override=3), False),
    ("adaptive_avg_pool1d", (2, 3, 9), dict(output_size=4), False),
    ("adaptive_avg_pool3d", (2, 3, 7, 6, 5), dict(output_size=(3, 4, 2)), False),
    ("adaptive_avg_pool3d", (3, 7, 6, 5), dict(output_size=(None, 4, 5)), False),
    ("adaptive_max_pool1d", (2, 3, 9), dict(output_size=4, return_indices=True), True),
    ("adaptive_max_pool2d", (3, 7, 6), dict(output_size=(4, 3), return_indices=True), True),
    ("adaptive_max_pool3d", (2, 3, 7, 6, 5), dict(output_size=(4, 3, 2),
                                                  return_indices=True), True),
])
def test_pooling(name, shape, kw, idx):
    check(name, shape, indices=idx, **kw)


@pytest.mark.parametrize("name, shape, kw", [
    ("lp_pool1d", (2, 3, 9), dict(norm_type=2, kernel_size=3, stride=2)),
    ("lp_pool2d", (2, 3, 9, 8), dict(norm_type=1.5, kernel_size=(3, 2), ceil_mode=True)),
    ("lp_pool3d", (2, 3, 5, 6, 4), dict(norm_type=3, kernel_size=2)),
])
def test_lp_pool(name, shape, kw):
    check(name, shape, positive=True, **kw)


@pytest.mark.parametrize("n, shape", [(1, (2, 3, 8)), (2, (2, 3, 6, 7)), (3, (2, 2, 4, 6, 5))])
def test_max_unpool_inverts_max_pool(n, shape):
    x = np.random.default_rng(4).standard_normal(shape)
    tv, ti = getattr(TF, f"max_pool{n}d")(torch.tensor(x), 2, return_indices=True)
    tv.requires_grad_()
    fv = fastnn.tensor(tv.detach().numpy(), requires_grad=True)
    fi = fastnn.tensor(ti.numpy())
    t = getattr(TF, f"max_unpool{n}d")(tv, ti, 2, output_size=shape[-n:])
    f = getattr(FF, f"max_unpool{n}d")(fv, fi, 2, output_size=shape[-n:])
    np.testing.assert_array_equal(f.detach().numpy(), t.detach().numpy())
    g = np.random.default_rng(5).standard_normal(tuple(t.shape))
    t.backward(torch.tensor(g))
    f.backward(fastnn.tensor(g))
    np.testing.assert_array_equal(fv.grad.numpy(), tv.grad.numpy())


def test_pooling_modules_repr_and_forward():
    x = np.random.default_rng(6).standard_normal((2, 3, 6, 5, 7))
    for name, args in [("MaxPool3d", (2,)), ("AvgPool3d", (3, 2, 1)), ("LPPool3d", (2, 2)),
                       ("AdaptiveMaxPool3d", ((2, 3, 2),)), ("AdaptiveAvgPool3d", (3,))]:
        tm, fm = getattr(torch.nn, name)(*args), getattr(fastnn.nn, name)(*args)
        arr = np.abs(x) if name.startswith("LP") else x
        np.testing.assert_allclose(fm(fastnn.tensor(arr)).numpy(),
                                   tm(torch.tensor(arr)).numpy(), atol=1e-10)


def test_pooling_bad_arguments():
    with pytest.raises(ValueError, match="input"):
        FF.max_pool3d(fastnn.randn(2, 3, 4), 2)
    with pytest.raises(ValueError, match="padding"):
        FF.avg_pool3d(fastnn.randn(1, 1, 4, 4, 4), 2, padding=2)
    with pytest.raises(ValueError, match="indices"):
        FF.max_unpool2d(fastnn.randn(1, 1, 2, 2), fastnn.tensor(np.full((1, 1, 2, 2), 99)), 2)
    with pytest.raises(ValueError, match="output_size"):
        FF.adaptive_max_pool2d(fastnn.randn(1, 1, 4, 4), (2, 2, 2))


@pytest.mark.parametrize("n, shape, kw", [
    (2, (2, 3, 7, 9), dict(kernel_size=(2, 3), output_size=(4, 3))),
    (2, (3, 5, 7), dict(kernel_size=2, output_ratio=(0.5, 0.5))),
    (3, (2, 4, 16, 7, 5), dict(kernel_size=(4, 2, 3), output_size=(10, 3, 2))),
    (3, (4, 5, 5, 5), dict(kernel_size=2, output_ratio=(0.5, 0.5, 0.5))),
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fractional_max_pool_with_given_samples(n, shape, kw, dtype):
    rng = np.random.default_rng(10)
    x = rng.standard_normal(shape).astype(dtype)
    batch = shape[0] if len(shape) == n + 2 else 1
    samples = rng.random((batch, shape[-n - 1], n)).astype(dtype)
    tx, fx = torch.tensor(x, requires_grad=True), fastnn.tensor(x, requires_grad=True)
    name = f"fractional_max_pool{n}d"
    tv, ti = getattr(TF, name)(tx, return_indices=True, _random_samples=torch.tensor(samples),
                               **kw)
    fv, fi = getattr(FF, name)(fx, return_indices=True, _random_samples=fastnn.tensor(samples),
                               **kw)
    np.testing.assert_array_equal(fv.detach().numpy(), tv.detach().numpy())
    np.testing.assert_array_equal(fi.numpy(), ti.numpy())
    g = rng.standard_normal(tuple(tv.shape)).astype(dtype)
    tv.backward(torch.tensor(g))
    fv.backward(fastnn.tensor(g))
    np.testing.assert_allclose(fx.grad.numpy(), tx.grad.numpy(), atol=1e-6)


def test_max_pool2d_function_gradient_count():
    # MaxPool2dFunction takes 7 inputs (x and 6 settings) and returns 7 gradients
    x = fastnn.randn(1, 2, 5, 5, requires_grad=True)
    FF.max_pool2d(x, 2).sum().backward()
    assert x.grad.shape == x.shape


# -------------------------------------------------------------------------------- batchnorm
@pytest.mark.parametrize("cls, shape", [("BatchNorm1d", (0, 5, 9)), ("BatchNorm2d", (0, 5, 2, 2)),
                                        ("BatchNorm3d", (3, 5, 2, 3, 2))])
@pytest.mark.parametrize("training", [True, False])
def test_batchnorm_zero_batch_and_3d(cls, shape, training):
    tm = getattr(torch.nn, cls)(5, bias=False).double().train(training)
    fm = getattr(fastnn.nn, cls)(5, bias=False).double().train(training)
    assert fm.bias is None
    x = np.random.default_rng(7).standard_normal(shape)
    tx, fx = torch.tensor(x, requires_grad=True), fastnn.tensor(x, requires_grad=True)
    t, f = tm(tx), fm(fx)
    np.testing.assert_allclose(f.detach().numpy(), t.detach().numpy(), atol=1e-10)
    g = np.random.default_rng(8).standard_normal(shape)
    t.backward(torch.tensor(g))
    f.backward(fastnn.tensor(g))
    np.testing.assert_allclose(fx.grad.numpy(), tx.grad.numpy(), atol=1e-10)
    np.testing.assert_allclose(fm.weight.grad.numpy(), tm.weight.grad.numpy(), atol=1e-10)
    np.testing.assert_allclose(fm.running_mean.numpy(), tm.running_mean.numpy(), atol=1e-12)
    np.testing.assert_allclose(fm.running_var.numpy(), tm.running_var.numpy(), atol=1e-12)


def test_batchnorm3d_rejects_4d_input():
    with pytest.raises(ValueError, match="5D"):
        fastnn.nn.BatchNorm3d(3)(fastnn.randn(2, 3, 4, 4))


# ------------------------------------------------------------------------------- resampling
@pytest.mark.parametrize("shape, kw", [
    ((2, 3, 5), dict(size=8, mode="nearest")),
    ((2, 3, 5, 4), dict(scale_factor=1.7, mode="nearest")),
    ((2, 3, 5, 4, 3), dict(size=(3, 7, 2), mode="nearest-exact")),
    ((2, 3, 5), dict(size=9, mode="linear", align_corners=True)),
    ((2, 3, 5, 4), dict(scale_factor=(2.5, 0.6), mode="bilinear")),
    ((2, 3, 5, 4), dict(size=(3, 9), mode="bicubic", align_corners=False)),
    ((2, 3, 5, 4), dict(size=(8, 3), mode="bicubic", align_corners=True)),
    ((1, 2, 3, 4, 5), dict(size=(5, 3, 7), mode="trilinear")),
    ((2, 3, 7, 6), dict(size=(3, 4), mode="area")),
])
def test_interpolate(shape, kw):
    check("interpolate", shape, **kw)


@pytest.mark.parametrize("name, shape, args", [
    ("pixel_shuffle", (2, 8, 3, 5), (2,)),
    ("pixel_shuffle", (3, 2, 18, 2, 3), (3,)),
    ("pixel_unshuffle", (2, 3, 4, 6), (2,)),
    ("channel_shuffle", (2, 6, 3, 4), (3,)),
    ("unfold", (2, 3, 7, 6), ((3, 2), 2, 1, (2, 1))),
    ("unfold", (3, 5, 5), (2,)),
    ("fold", (2, 3 * 6, 12), ((5, 6), (3, 2), 1, 1, 2)),
    ("fold", (4 * 4, 9), ((4, 4), 2, 1, 0, 1)),
])
def test_shuffles_unfold_fold(name, shape, args):
    check(name, shape, args=args)


@pytest.mark.parametrize("dim, mode", [(2, "bilinear"), (2, "nearest"), (2, "bicubic"),
                                       (3, "bilinear"), (3, "nearest")])
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("align_corners", [False, True])
def test_grid_sample(dim, mode, padding_mode, align_corners):
    rng = np.random.default_rng(11)
    x = rng.uniform(-2, 2, (2, 3) + (5,) * dim)
    grid = rng.uniform(-2, 2, (2,) + (4,) * dim + (dim,))
    tx, tg = torch.tensor(x, requires_grad=True), torch.tensor(grid, requires_grad=True)
    fx, fg = fastnn.tensor(x, requires_grad=True), fastnn.tensor(grid, requires_grad=True)
    kw = dict(mode=mode, padding_mode=padding_mode, align_corners=align_corners)
    t, f = TF.grid_sample(tx, tg, **kw), FF.grid_sample(fx, fg, **kw)
    np.testing.assert_allclose(f.detach().numpy(), t.detach().numpy(), atol=1e-12)
    g = rng.standard_normal(tuple(t.shape))
    t.backward(torch.tensor(g))
    f.backward(fastnn.tensor(g))
    np.testing.assert_allclose(fx.grad.numpy(), tx.grad.numpy(), atol=1e-12)
    fgrad = fg.grad.numpy() if fg.grad is not None else np.zeros_like(grid)  # nearest: none
    np.testing.assert_allclose(fgrad, tg.grad.numpy(), atol=1e-12)


def test_resample_modules_and_bad_arguments():
    x = np.random.default_rng(9).standard_normal((1, 4, 3, 5))
    for name, args in [("Upsample", (None, 2.0, "bilinear")), ("UpsamplingNearest2d", ((4, 4),)),
                       ("UpsamplingBilinear2d", (None, 2)), ("PixelShuffle", (2,)),
                       ("PixelUnshuffle", (1,)), ("ChannelShuffle", (2,))]:
        t = getattr(torch.nn, name)(*args)(torch.tensor(x))
        f = getattr(fastnn.nn, name)(*args)(fastnn.tensor(x))
        np.testing.assert_allclose(f.numpy(), t.numpy(), atol=1e-10)
    with pytest.raises(ValueError, match="size, scale_factor"):
        FF.interpolate(fastnn.randn(1, 1, 4), size=2, scale_factor=2.0)
    with pytest.raises(ValueError, match="align_corners"):
        FF.interpolate(fastnn.randn(1, 1, 4), size=2, mode="nearest", align_corners=True)
    with pytest.raises(ValueError, match="mode"):
        FF.interpolate(fastnn.randn(1, 1, 4), size=2, mode="bilinear")
    with pytest.raises(ValueError, match="upscale_factor"):
        FF.pixel_shuffle(fastnn.randn(1, 3, 2, 2), 2)
    with pytest.raises(ValueError, match="grid"):
        FF.grid_sample(fastnn.randn(1, 1, 4, 4), fastnn.randn(1, 3, 3, 3))
    with pytest.raises(ValueError, match="blocks"):
        FF.fold(fastnn.randn(1, 4, 5), (4, 4), 2)
