"""Tensor basics: creation, dtypes, conversion, devices, repr (character for character)."""

import copy
import pickle

import numpy as np
import pytest
import torch

import fastnn


def _same(f, t):
    assert tuple(f.shape) == tuple(t.shape)
    assert str(f.dtype) == str(t.dtype).replace("torch.", ""), (f.dtype, t.dtype)
    np.testing.assert_array_equal(
        f.numpy() if not f.requires_grad else f.detach().numpy(), t.detach().numpy()
    )


@pytest.mark.parametrize(
    "data",
    [
        [1.0, 2.0],
        [[1, 2], [3, 4]],
        [True, False],
        3.5,
        7,
        [[1, 2.5]],
        np.arange(4, dtype=np.float64),
        np.arange(3, dtype=np.int32),
    ],
)
def test_tensor_dtype_inference(data):
    _same(fastnn.tensor(data), torch.tensor(data))


def test_creation_functions():
    _same(fastnn.zeros(2, 3), torch.zeros(2, 3))
    _same(fastnn.ones((2, 3), dtype=fastnn.int64), torch.ones((2, 3), dtype=torch.int64))
    _same(fastnn.full((2, 2), 3.0), torch.full((2, 2), 3.0))
    _same(fastnn.full((2,), 3), torch.full((2,), 3))
    _same(fastnn.full((2,), True), torch.full((2,), True))
    _same(fastnn.arange(5), torch.arange(5))
    _same(fastnn.arange(1, 4, 0.5), torch.arange(1, 4, 0.5))
    _same(fastnn.arange(10, 0, -3), torch.arange(10, 0, -3))
    np.testing.assert_allclose(fastnn.linspace(0, 1, 7).array, torch.linspace(0, 1, 7).numpy())
    _same(fastnn.eye(3), torch.eye(3))
    _same(fastnn.eye(2, 3), torch.eye(2, 3))
    x = fastnn.ones(2, 3, dtype=fastnn.float64)
    for name in ["zeros_like", "ones_like", "empty_like"]:
        y = getattr(fastnn, name)(x)
        assert y.shape == (2, 3) and y.dtype == fastnn.float64
    assert fastnn.full_like(x, 7).array.max() == 7
    assert fastnn.empty(3, 4).shape == (3, 4)
    assert fastnn.zeros(3, requires_grad=True).requires_grad


def test_from_numpy_shares_and_as_tensor():
    a = np.zeros(3, np.float32)
    t = fastnn.from_numpy(a)
    t[0] = 5
    assert a[0] == 5
    a[1] = 2
    assert t.array[1] == 2
    assert fastnn.as_tensor(a).array is a
    assert fastnn.tensor(a).array is not a
    assert fastnn.as_tensor([1.0, 2.0]).dtype == fastnn.float32


def test_random_reproducible_and_ranges():
    fastnn.manual_seed(0)
    a = fastnn.randn(4, 5)
    b = fastnn.rand(3)
    fastnn.manual_seed(0)
    np.testing.assert_array_equal(a.array, fastnn.randn(4, 5).array)
    np.testing.assert_array_equal(b.array, fastnn.rand(3).array)
    assert a.dtype == fastnn.float32 and fastnn.randn(2, dtype=fastnn.float64).dtype == np.float64
    r = fastnn.randint(0, 5, (100,))
    assert r.dtype == fastnn.int64 and r.array.min() >= 0 and r.array.max() < 5
    assert fastnn.randint(3, (4,)).array.max() < 3
    assert sorted(fastnn.randperm(6).tolist()) == list(range(6))
    n = fastnn.normal(2.0, 0.1, (1000,))
    assert abs(n.mean().item() - 2.0) < 0.05
    g = fastnn.Generator().manual_seed(3)
    assert (
        fastnn.randperm(5, generator=g).tolist()
        == fastnn.randperm(5, generator=fastnn.Generator().manual_seed(3)).tolist()
    )
    assert isinstance(fastnn.random.generator(), np.random.Generator)


def test_default_dtype():
    assert fastnn.get_default_dtype() == fastnn.float32
    fastnn.set_default_dtype(fastnn.float64)
    try:
        assert fastnn.tensor([1.0]).dtype == fastnn.float64
        assert fastnn.zeros(2).dtype == fastnn.float64
        assert fastnn.randn(2).dtype == fastnn.float64
    finally:
        fastnn.set_default_dtype(fastnn.float32)
    assert fastnn.float is fastnn.float32 and fastnn.double is fastnn.float64
    assert fastnn.long is fastnn.int64


def test_conversions():
    x = fastnn.tensor([[1.5, -2.0], [3.0, 4.0]], requires_grad=True)
    assert x.double().dtype == fastnn.float64 and x.long().dtype == fastnn.int64
    assert x.int().dtype == fastnn.int32 and x.bool().dtype == fastnn.bool
    assert x.float() is x and x.to(fastnn.float32) is x
    assert x.type_as(fastnn.zeros(1, dtype=fastnn.float64)).dtype == fastnn.float64
    assert x.to("cpu") is x and x.cpu() is x and x.to(fastnn.zeros(1)).dtype == fastnn.float32
    assert x.to("cpu", fastnn.float64).dtype == fastnn.float64
    assert x.tolist() == [[1.5, -2.0], [3.0, 4.0]]
    assert x[0, 0].item() == 1.5 and isinstance(x.sum().item(), float)
    assert float(x[1, 1]) == 4.0 and int(fastnn.tensor(3)) == 3
    with pytest.raises(RuntimeError, match="requires grad"):
        x.numpy()
    assert x.detach().numpy() is x.array
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(x > 0)
    with pytest.raises(RuntimeError, match="cannot be converted to Scalar"):
        x.item()
    d = x.double()
    d.sum().backward()  # casts are differentiable
    np.testing.assert_allclose(x.grad.array, np.ones((2, 2)))
    assert x.grad.dtype == fastnn.float32
    c = x.clone()
    assert c.array is not x.array and c.grad_fn is not None
    assert fastnn.device("cpu") == x.device and str(x.device) == "cpu"
    assert x.device.type == "cpu"


def test_cuda_without_cupy_is_clear():
    if fastnn.cuda.is_available():
        pytest.skip("a GPU is present")
    assert fastnn.cuda.device_count() == 0
    fastnn.cuda.synchronize()
    with pytest.raises(RuntimeError, match="CuPy"):
        fastnn.ones(2).cuda()


REPR_CASES = [
    lambda m: m.tensor([[1.0, 2.0]], requires_grad=True),
    lambda m: m.tensor([0.1, 0.2]),
    lambda m: m.tensor([1, 2, 3]),
    lambda m: m.tensor(3.0),
    lambda m: m.tensor(5),
    lambda m: m.tensor([True, False]),
    lambda m: m.zeros(0, 3),
    lambda m: m.zeros(0),
    lambda m: m.tensor([1.0, 2.0], dtype=m.float64),
    lambda m: m.tensor([1e-5, 1.0]),
    lambda m: m.tensor([1e5, 1.0, 2.5]),
    lambda m: m.tensor([float("nan"), float("inf"), 1.0]),
    lambda m: m.tensor([-1.0, 2.0]),
    lambda m: m.arange(2000).reshape(40, 50).float() / 7,
    lambda m: m.arange(24.0).reshape(2, 3, 4),
    lambda m: m.tensor([1, 2], dtype=m.int32),
    lambda m: m.tensor([[1.0, 2.0]], requires_grad=True) * 2,
    lambda m: m.arange(30.0) / 3,
]


@pytest.mark.parametrize("case", REPR_CASES)
def test_repr_matches_pytorch(case):
    expect = repr(case(torch)).replace("torch.", "fastnn.")
    got = repr(case(fastnn))
    assert got == expect


def test_pickle_deepcopy_and_hash():
    x = fastnn.tensor([1.0, 2.0], requires_grad=True)
    y = pickle.loads(pickle.dumps(x))
    assert y.requires_grad and y.tolist() == [1.0, 2.0]
    z = copy.deepcopy(x)
    assert z.array is not x.array and z.requires_grad
    assert len({x, y}) == 2


def test_iteration_and_len():
    x = fastnn.arange(6).reshape(3, 2)
    rows = [r.tolist() for r in x]
    assert rows == [[0, 1], [2, 3], [4, 5]] and len(x) == 3
    assert fastnn.is_tensor(x) and not fastnn.is_tensor(np.zeros(1))
    assert fastnn.numel(x) == 6


def test_script_compatibility_shims(monkeypatch):
    # monkeypatch restores the process-wide flags (test_torch_api_glue checks their defaults)
    monkeypatch.setattr(fastnn.backends.cudnn, "benchmark", True)
    monkeypatch.setattr(fastnn.backends.cudnn, "deterministic", True)
    assert not fastnn.backends.mps.is_available()
    model = object()
    assert fastnn.compile(model) is model
    fastnn.set_float32_matmul_precision("high")
    with pytest.raises(ValueError):
        fastnn.set_float32_matmul_precision("fastest")
    dev = fastnn.device("cuda" if fastnn.cuda.is_available() else "cpu")
    assert fastnn.ones(2).to(dev).device == dev
    assert f"{fastnn.tensor(0.123456):.3f}" == "0.123"


def test_grad_accumulates_in_place():
    w = fastnn.ones(2, requires_grad=True)
    (w * 2).sum().backward()
    held = w.grad.array
    (w * 3).sum().backward()
    assert w.grad.array is held
    np.testing.assert_allclose(held, [5.0, 5.0])
