"""Shape ops against PyTorch (forward and gradients, incl. non-contiguous inputs)."""

import numpy as np
import pytest
import torch

import fastnn
from tests.helpers import helper_test_op


def _ns(x):
    return torch if isinstance(x, torch.Tensor) else fastnn


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: x.reshape(6, 4),
        lambda x: x.reshape(-1),
        lambda x: x.view(2, 12),
        lambda x: x.view(-1, 3),
        lambda x: x.flatten(),
        lambda x: x.flatten(1),
        lambda x: x.unflatten(2, (2, 2)),
        lambda x: x.unsqueeze(0),
        lambda x: x.unsqueeze(-1),
        lambda x: x.unsqueeze(1).squeeze(),
        lambda x: x.unsqueeze(1).squeeze(1),
        lambda x: x.transpose(0, 2),
        lambda x: x.permute(2, 0, 1),
        lambda x: x[0].T,
        lambda x: x.expand(2, 2, 3, 4),
        lambda x: x[:, :1].expand(2, 3, 4),
        lambda x: x.repeat(2, 1, 3),
        lambda x: x.repeat(2, 1, 1, 1),
        lambda x: x.flip(0),
        lambda x: x.flip(0, 2),
        lambda x: x.narrow(2, 1, 2),
        lambda x: x.tril(),
        lambda x: x.triu(1),
        lambda x: x.roll(1, 2),
        lambda x: x.movedim(0, -1),
        lambda x: x.swapaxes(0, 1),
        lambda x: x.mT,
    ],
)
def test_unary_shape_ops(fn):
    helper_test_op([(2, 3, 4)], fn)


def test_shape_ops_noncontiguous():
    helper_test_op([(4, 5)], lambda x: x.reshape(-1) * 2, noncontig=True)
    helper_test_op([(4, 5)], lambda x: x.t().contiguous().view(-1), noncontig=True)
    helper_test_op([(4, 5)], lambda x: x.t() @ x, noncontig=True)


def test_view_refuses_copy():
    x = fastnn.randn(3, 4).t()
    with pytest.raises(RuntimeError, match="view size is not compatible"):
        x.view(12)
    assert x.reshape(12).shape == (12,)
    with pytest.raises(RuntimeError, match="invalid for input of size"):
        fastnn.randn(3, 4).view(5, 3)


def test_t_matrix():
    helper_test_op([(3, 5)], lambda x: x.t())


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_cat_stack(dim):
    helper_test_op(
        [(2, 3), (2, 3), (2, 3)],
        lambda a, b, c: _ns(a).cat([a, b, c], dim) if dim != 0 else _ns(a).cat((a, b, c)),
    )
    helper_test_op([(2, 3), (2, 3)], lambda a, b: _ns(a).stack([a, b], dim))
    helper_test_op([(2, 3), (4, 3)], lambda a, b: _ns(a).cat([a, b], 0))


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: x.split(2, 1),
        lambda x: x.split([1, 4], 1),
        lambda x: x.chunk(3, 1),
        lambda x: x.chunk(2, 0),
        lambda x: x.unbind(1),
        lambda x: x.unbind(0),
        lambda x: x.split(2, 1)[1],
    ],
)
def test_split_family(fn):
    helper_test_op([(3, 5)], fn)


def test_split_partial_use_gets_zero_grads():
    x = fastnn.randn(4, 3, requires_grad=True)
    a, b = x.split(2)
    (a * 2).sum().backward()
    np.testing.assert_allclose(x.grad.array, np.r_[np.full((2, 3), 2.0), np.zeros((2, 3))])


def test_expand_as_and_broadcast_to():
    helper_test_op([(3, 1), (3, 4)], lambda a, b: a.expand_as(b) * b)
    helper_test_op([(1, 4)], lambda a: a.broadcast_to((3, 4)))
    with pytest.raises(RuntimeError, match="expanded size"):
        fastnn.randn(3, 2).expand(3, 4)


def test_shape_metadata():
    x = fastnn.zeros(2, 3, 4)
    assert x.shape == (2, 3, 4) and x.size() == (2, 3, 4) and x.size(1) == 3 and x.size(-1) == 4
    assert x.dim() == 3 and x.ndim == 3 and x.numel() == 24 and len(x) == 2
    assert x.shape.numel() == 24
    assert x.transpose(0, 1).stride() == (4, 12, 1)
    assert not x.transpose(0, 1).is_contiguous() and x.transpose(0, 1).contiguous().is_contiguous()


def test_meshgrid_diag_trace():
    for indexing in ("ij", "xy"):
        helper_test_op([(3,), (4,)], lambda a, b, i=indexing: _ns(a).meshgrid(a, b, indexing=i))
    helper_test_op([(4,)], lambda x: x.diag())
    helper_test_op([(4,)], lambda x: x.diag(1))
    helper_test_op([(3, 4)], lambda x: x.diag())
    helper_test_op([(3, 4)], lambda x: x.diag(-1))
    helper_test_op([(4, 4)], lambda x: x.trace())
