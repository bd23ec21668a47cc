"""Elementwise ops against PyTorch (forward, every input's gradient, float64 gradcheck)."""

import numpy as np
import pytest
import torch

import fastnn
from tests.helpers import helper_test_op

BINARY = [
    lambda x, y: x + y,
    lambda x, y: x - y,
    lambda x, y: x * y,
    lambda x, y: x / y,
    lambda x, y: y - x,
    lambda x, y: x.maximum(y),
    lambda x, y: x.minimum(y),
    lambda x, y: x.sub(y, alpha=2),
    lambda x, y: x.add(y, alpha=0.5),
]


@pytest.mark.parametrize("fn", BINARY)
@pytest.mark.parametrize("shapes", [[(3, 4), (3, 4)], [(3, 4), (4,)], [(2, 1, 4), (3, 1)]])
def test_binary_broadcast(fn, shapes):
    helper_test_op(shapes, fn, low=0.5, high=2.0)


def test_binary_noncontiguous():
    helper_test_op([(4, 5), (4, 5)], lambda x, y: x * y + x / y, low=0.5, noncontig=True)


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: x + 2,
        lambda x: 2 + x,
        lambda x: x - 1.5,
        lambda x: 3 - x,
        lambda x: x * 2.5,
        lambda x: 2 * x,
        lambda x: x / 4,
        lambda x: 2 / x,
        lambda x: -x,
        lambda x: x**2,
        lambda x: x**0.5,
        lambda x: 2**x,
        lambda x: x**-1.5,
        lambda x: x % 0.7,
    ],
)
def test_scalar_ops(fn):
    helper_test_op([(3, 5)], fn, low=0.5, high=2.0)


def test_pow_tensor_tensor():
    helper_test_op([(3, 4), (3, 4)], lambda x, y: x**y, low=0.5, high=2.0)


UNARY = [
    "exp",
    "log",
    "log1p",
    "sqrt",
    "rsqrt",
    "sin",
    "cos",
    "tanh",
    "sigmoid",
    "relu",
    "abs",
    "neg",
    "reciprocal",
    "square",
    "expm1",
    "log2",
    "log10",
    "exp2",
    "tan",
]


@pytest.mark.parametrize("name", UNARY)
def test_unary(name):
    positive = name in ("log", "sqrt", "rsqrt", "log2", "log10", "reciprocal", "log1p")
    helper_test_op(
        [(4, 6)],
        lambda x: getattr(x, name)(),
        low=0.3 if positive else -1.2,
        high=1.2 if name == "tan" else 2.0,
    )


@pytest.mark.parametrize("name", ["exp", "tanh", "sigmoid", "relu", "abs", "sqrt", "log"])
def test_unary_function_form(name):
    helper_test_op(
        [(5,)],
        lambda x: getattr(torch if isinstance(x, torch.Tensor) else fastnn, name)(x),
        low=0.3,
    )


def test_sigmoid_is_stable():
    x = fastnn.tensor([-1000.0, -20.0, 0.0, 20.0, 1000.0])
    y = x.sigmoid().array
    assert np.all(np.isfinite(y))
    np.testing.assert_allclose(y, torch.tensor(x.array).sigmoid().numpy(), rtol=1e-6)


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: x.clamp(-0.5, 0.5),
        lambda x: x.clamp(min=0.1),
        lambda x: x.clamp(max=0.2),
        lambda x: x.clip(-1, 1),
        lambda x: x.sign(),
        lambda x: x.floor(),
        lambda x: x.round(),
    ],
)
def test_clamp_and_piecewise(fn):
    helper_test_op([(4, 5)], fn, gradcheck_f64=False)


def test_clamp_tensor_bounds():
    helper_test_op([(3, 4), (3, 4), (3, 4)], lambda x, lo, hi: x.clamp(lo - 1, hi + 1))


def test_where_masked_fill_lerp():
    cond = np.random.default_rng(0).random((3, 4)) > 0.5
    helper_test_op(
        [(3, 4), (4,)],
        lambda x, y: (torch if isinstance(x, torch.Tensor) else fastnn).where(
            (torch.tensor(cond) if isinstance(x, torch.Tensor) else fastnn.tensor(cond)), x, y
        ),
    )
    helper_test_op(
        [(3, 4)],
        lambda x: x.masked_fill(
            (torch.tensor(cond) if isinstance(x, torch.Tensor) else fastnn.tensor(cond)), -1.0
        ),
    )
    helper_test_op([(3, 4), (3, 4)], lambda x, y: x.lerp(y, 0.3))
    helper_test_op([(3, 4), (3, 4), (4,)], lambda x, y, w: x.lerp(y, w))


def test_comparisons_and_logic():
    a = np.array([[1.0, 2.0, 3.0]], dtype=np.float32)
    b = np.array([[3.0, 2.0, 1.0]], dtype=np.float32)
    fa, fb, ta, tb = fastnn.tensor(a), fastnn.tensor(b), torch.tensor(a), torch.tensor(b)
    for op in ["__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__"]:
        r = getattr(fa, op)(fb)
        assert r.dtype == fastnn.bool
        np.testing.assert_array_equal(r.array, getattr(ta, op)(tb).numpy())
        np.testing.assert_array_equal(getattr(fa, op)(2.0).array, getattr(ta, op)(2.0).numpy())
    np.testing.assert_array_equal((2.0 < fa).array, (2.0 < ta).numpy())
    m1, m2 = fa > 1, fa < 3
    np.testing.assert_array_equal((m1 & m2).array, ((ta > 1) & (ta < 3)).numpy())
    np.testing.assert_array_equal((m1 | m2).array, ((ta > 1) | (ta < 3)).numpy())
    np.testing.assert_array_equal((~m1).array, (~(ta > 1)).numpy())
    assert not (fa > 1).requires_grad


def test_type_promotion_like_pytorch():
    i = fastnn.tensor([1, 2, 3])
    f = fastnn.tensor([0.5, 0.5, 0.5])
    d = fastnn.tensor([1.0], dtype=fastnn.float64)
    assert (i + f).dtype == fastnn.float32
    assert (i * 2.5).dtype == fastnn.float32
    assert (i / 2).dtype == fastnn.float32
    assert (i // 2).dtype == fastnn.int64
    assert (f + d).dtype == fastnn.float64
    assert (f + fastnn.tensor(2.0, dtype=fastnn.float64)).dtype == fastnn.float32  # 0-d loses
    assert (f * np.float64(2.0)).dtype == fastnn.float32
    np.testing.assert_array_equal((fastnn.tensor([-7, 7]) // 2).array, [-4, 3])
    np.testing.assert_array_equal((fastnn.tensor([-7.0, 7.0]) % 3).array, [2.0, 1.0])


def test_inplace_ops():
    x = fastnn.ones(2, 3)
    v = x[0]
    x.add_(1).mul_(3).sub_(fastnn.ones(3)).div_(2)
    np.testing.assert_allclose(x.array, 2.5)
    np.testing.assert_allclose(v.array, 2.5)  # a view sees in-place updates
    x += 1
    x -= 0.5
    x *= 2
    x /= 4
    np.testing.assert_allclose(x.array, 1.5)
    x.clamp_(max=1.0)
    np.testing.assert_allclose(x.array, 1.0)
    x.zero_()
    assert not x.array.any()
    x.fill_(3)
    x.copy_(fastnn.tensor([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(x.array, [[1, 2, 3], [1, 2, 3]])
    with pytest.raises(RuntimeError):
        fastnn.tensor([1, 2]).add_(0.5)  # float into int: PyTorch refuses too


def test_addcmul_addcdiv_and_inplace_forms():
    helper_test_op([(3, 4), (3, 4), (4,)], lambda x, a, b: x.addcmul(a, b, value=0.5))
    helper_test_op([(3, 4), (3, 4), (4,)], lambda x, a, b: x.addcdiv(a, b, value=2), low=0.5)
    x, t = fastnn.ones(3), torch.ones(3)
    a = np.array([1.0, 2.0, 3.0], np.float32)
    x.addcmul_(fastnn.tensor(a), fastnn.tensor(a), value=2).addcdiv_(
        fastnn.tensor(a), fastnn.tensor(a + 1)
    )
    t.addcmul_(torch.tensor(a), torch.tensor(a), value=2).addcdiv_(
        torch.tensor(a), torch.tensor(a + 1)
    )
    np.testing.assert_allclose(x.array, t.numpy(), rtol=1e-6)
    helper_test_op([(3, 4)], lambda x: x.clamp_min(0.1) + x.clamp_max(-0.1))


def test_new_and_legacy_constructors():
    x = fastnn.ones(2, dtype=fastnn.float64)
    assert x.new_zeros(3).dtype == fastnn.float64 and x.new_ones((2, 2)).shape == (2, 2)
    assert x.new_full((2,), 7).tolist() == [7.0, 7.0]
    assert x.new_tensor([1, 2]).dtype == fastnn.float64
    assert fastnn.LongTensor([1, 2]).dtype == fastnn.int64 and fastnn.FloatTensor(2, 3).shape == (
        2,
        3,
    )
    assert isinstance(fastnn.zeros(2), fastnn.FloatTensor) and not isinstance(x, fastnn.FloatTensor)
    assert x.type() == "fastnn.DoubleTensor" and x.type(fastnn.LongTensor).dtype == fastnn.int64
    v = fastnn.autograd.Variable(fastnn.zeros(2), requires_grad=True)
    assert v.requires_grad and v.is_leaf
