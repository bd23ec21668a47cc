"""Indexing read/write, gather/scatter/index_select, sort/topk against PyTorch."""

import numpy as np
import pytest
import torch

import fastnn
from tests.helpers import helper_test_op


def _idx(x, a):
    return torch.tensor(a) if isinstance(x, torch.Tensor) else fastnn.tensor(a)


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: x[1],
        lambda x: x[-1, 2],
        lambda x: x[:, 1:3],
        lambda x: x[::2, :: -1 if False else 2],
        lambda x: x[..., 1],
        lambda x: x[None, :, None],
        lambda x: x[1:, ..., :2],
        lambda x: x[[0, 2, 2]],
        lambda x: x[:, [3, 0, 3]],
        lambda x: x[[0, 1], [2, 3]],
        lambda x: x[_idx(x, [[0, 1], [2, 2]])],
        lambda x: x[x > 0],
        lambda x: x[:, 1:4:2][[1, 2]],
        lambda x: x[_idx(x, np.array([True, False, True, False]))],
    ],
)
def test_getitem(fn):
    helper_test_op([(4, 5, 3)], fn)


def test_getitem_noncontiguous():
    helper_test_op([(4, 6)], lambda x: x[1:, ::2][[0, 2]], noncontig=True)


def test_setitem_strided_slice_like_positional_encoding():
    max_len, d = 7, 6
    pe_f, pe_t = fastnn.zeros(max_len, 1, d), torch.zeros(max_len, 1, d)
    pos = np.arange(max_len, dtype=np.float32)[:, None]
    div = np.exp(np.arange(0, d, 2, dtype=np.float32) * (-np.log(10000.0) / d))
    pe_f[:, 0, 0::2] = fastnn.sin(fastnn.tensor(pos * div))
    pe_f[:, 0, 1::2] = fastnn.cos(fastnn.tensor(pos * div))
    pe_t[:, 0, 0::2] = torch.sin(torch.tensor(pos * div))
    pe_t[:, 0, 1::2] = torch.cos(torch.tensor(pos * div))
    np.testing.assert_allclose(pe_f.array, pe_t.numpy(), rtol=1e-6)


def test_setitem_forms():
    x = fastnn.zeros(4, 5)
    x[0] = 1.0
    x[1, 2] = 5
    x[:, -1] = fastnn.tensor([1.0, 2.0, 3.0, 4.0])
    x[x > 4] = -1.0
    x[[2, 3], [0, 1]] = 7.0
    t = torch.zeros(4, 5)
    t[0] = 1.0
    t[1, 2] = 5
    t[:, -1] = torch.tensor([1.0, 2.0, 3.0, 4.0])
    t[t > 4] = -1.0
    t[[2, 3], [0, 1]] = 7.0
    np.testing.assert_array_equal(x.array, t.numpy())


def test_setitem_autograd():
    def f(x, v):
        y = x * 1
        y[1:3, ::2] = v * 2
        return y

    helper_test_op([(4, 5), (2, 3)], f)
    w = fastnn.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        w[0] = 2.0
    buf = fastnn.zeros(2, 3)
    v = fastnn.ones(3, requires_grad=True)
    buf[1] = v * 3  # a plain buffer receiving a differentiable value joins the graph
    buf.sum().backward()
    np.testing.assert_allclose(v.grad.array, [3.0, 3.0, 3.0])


def test_gather_scatter_index_select():
    idx = np.array([[0, 2, 1], [1, 1, 0]])
    helper_test_op([(3, 4)], lambda x: x.gather(1, _idx(x, idx)))
    helper_test_op([(3, 4)], lambda x: x.gather(0, _idx(x, idx)))
    sidx = np.array([[0, 2, 1], [1, 3, 0]])
    helper_test_op([(3, 4), (2, 3)], lambda x, s: x.scatter(1, _idx(x, sidx), s))
    helper_test_op([(3, 4), (2, 3)], lambda x, s: x.scatter_add(1, _idx(x, sidx), s))
    helper_test_op([(3, 4)], lambda x: x.scatter(1, _idx(x, sidx), 2.5))
    helper_test_op([(5, 4)], lambda x: x.index_select(0, _idx(x, np.array([4, 0, 4]))))
    helper_test_op([(5, 4)], lambda x: x.index_select(1, _idx(x, np.array([1, 3]))))
    helper_test_op([(3, 4)], lambda x: x.masked_select(x > 0))
    x = fastnn.zeros(3, 4)
    x.scatter_(1, fastnn.tensor([[1], [0], [3]]), 1.0)
    np.testing.assert_array_equal(
        x.array, torch.zeros(3, 4).scatter_(1, torch.tensor([[1], [0], [3]]), 1.0).numpy()
    )


def test_sort_topk_argsort():
    helper_test_op([(3, 6)], lambda x: x.sort(1)[0])
    helper_test_op([(3, 6)], lambda x: x.sort(0, descending=True)[0])
    helper_test_op([(3, 6)], lambda x: x.topk(2)[0])
    helper_test_op([(3, 6)], lambda x: x.topk(3, dim=0, largest=False).values)
    a = np.random.default_rng(2).standard_normal((3, 6)).astype(np.float32)
    np.testing.assert_array_equal(fastnn.tensor(a).argsort(1).array, torch.tensor(a).argsort(1))
    np.testing.assert_array_equal(
        fastnn.tensor(a).topk(2).indices.array, torch.tensor(a).topk(2).indices.numpy()
    )
    np.testing.assert_array_equal(
        fastnn.tensor(a > 0).nonzero().array, torch.tensor(a > 0).nonzero().numpy()
    )


def test_index_errors():
    with pytest.raises(IndexError):
        fastnn.zeros(3)[5]
    with pytest.raises(IndexError):
        fastnn.zeros(3)[fastnn.tensor([0.5])]


def test_repeat_interleave_unique_bincount():
    helper_test_op([(3, 2)], lambda x: x.repeat_interleave(2, dim=0))
    helper_test_op([(3, 2)], lambda x: x.repeat_interleave(3))
    a = np.array([3, 1, 3, 2, 1, 3])
    fu = fastnn.unique(fastnn.tensor(a), return_inverse=True, return_counts=True)
    tu = torch.unique(torch.tensor(a), return_inverse=True, return_counts=True)
    for f, t in zip(fu, tu):
        np.testing.assert_array_equal(f.array, t.numpy())
    np.testing.assert_array_equal(
        fastnn.bincount(fastnn.tensor(a)).array, torch.bincount(torch.tensor(a)).numpy()
    )
