"""Reductions and softmax against PyTorch, with dim (int/tuple/None) and keepdim."""

import numpy as np
import pytest
import torch

import fastnn
from tests.helpers import helper_test_op


@pytest.mark.parametrize("name", ["sum", "mean", "var", "std", "logsumexp", "amax", "amin", "norm"])
@pytest.mark.parametrize(
    "dim,keepdim", [(None, False), (1, False), (-1, True), ((0, 2), False), ((0, 2), True)]
)
def test_reductions(name, dim, keepdim):
    if name == "logsumexp" and dim is None:
        dim = (0, 1, 2)
    if dim is None:
        fn = (
            (lambda x: getattr(x, name)())
            if name not in ("amax", "amin")
            else (lambda x: getattr(x, name)(dim=(0, 1, 2)))
        )
    else:
        fn = lambda x: getattr(x, name)(dim=dim, keepdim=keepdim)  # noqa: E731
    helper_test_op([(3, 4, 5)], fn)


def test_reduction_noncontiguous_and_function_forms():
    helper_test_op([(4, 6)], lambda x: x.sum(0) + x.mean(1).sum(), noncontig=True)
    helper_test_op(
        [(4, 6)], lambda x: (torch if isinstance(x, torch.Tensor) else fastnn).sum(x, dim=1)
    )
    helper_test_op([(4, 6)], lambda x: x.var(1, unbiased=False))
    helper_test_op([(4, 6)], lambda x: x.std(0, correction=0))


def test_prod():
    helper_test_op([(3, 4)], lambda x: x.prod())
    helper_test_op([(3, 4)], lambda x: x.prod(1))
    helper_test_op([(3, 4)], lambda x: x.prod(0, keepdim=True))
    # zeros: gradient is the product of the others
    helper_test_op([(3,)], lambda x: x.prod(), vals=[[0.0, 2.0, 3.0]], gradcheck_f64=False)


@pytest.mark.parametrize("op", ["max", "min"])
def test_max_min(op):
    helper_test_op([(3, 5)], lambda x: getattr(x, op)())
    helper_test_op([(3, 5)], lambda x: tuple(getattr(x, op)(1))[0])
    helper_test_op([(3, 5)], lambda x: getattr(x, op)(dim=0, keepdim=True).values)
    x = np.random.default_rng(0).standard_normal((3, 5)).astype(np.float32)
    fr, tr = getattr(fastnn.tensor(x), op)(1), getattr(torch.tensor(x), op)(1)
    np.testing.assert_array_equal(fr.indices.array, tr.indices.numpy())
    assert fr.indices.dtype == fastnn.int64
    helper_test_op(
        [(3, 5), (3, 5)],
        lambda a, b: getattr(torch if isinstance(a, torch.Tensor) else fastnn, op)(a, b),
    )


def test_max_ties_share_gradient():
    helper_test_op([(4,)], lambda x: x.max(), vals=[[1.0, 3.0, 3.0, 2.0]], gradcheck_f64=False)
    helper_test_op([(4,)], lambda x: x.amax(0), vals=[[1.0, 3.0, 3.0, 2.0]], gradcheck_f64=False)


def test_argmax_argmin_all_any():
    x = np.random.default_rng(1).standard_normal((3, 4, 5)).astype(np.float32)
    f, t = fastnn.tensor(x), torch.tensor(x)
    for name in ["argmax", "argmin"]:
        np.testing.assert_array_equal(getattr(f, name)().array, getattr(t, name)().numpy())
        np.testing.assert_array_equal(getattr(f, name)(1).array, getattr(t, name)(1).numpy())
        np.testing.assert_array_equal(
            getattr(f, name)(-1, keepdim=True).array, getattr(t, name)(-1, keepdim=True).numpy()
        )
    for name in ["all", "any"]:
        np.testing.assert_array_equal(getattr(f > 0, name)().array, getattr(t > 0, name)().numpy())
        np.testing.assert_array_equal(
            getattr(f > 0, name)(1).array, getattr(t > 0, name)(1).numpy()
        )


def test_softmax_log_softmax_stable():
    for dim in (0, 1, -1):
        helper_test_op([(3, 4, 5)], lambda x, d=dim: x.softmax(d))
        helper_test_op([(3, 4, 5)], lambda x, d=dim: x.log_softmax(d))
    big = fastnn.tensor([[1e4, 0.0, -1e4]])
    assert np.all(np.isfinite(big.softmax(1).array)) and np.all(
        np.isfinite(big.log_softmax(1).array[:, :2])
    )
    np.testing.assert_allclose(
        big.log_softmax(1).array, torch.tensor(big.array).log_softmax(1).numpy()
    )
    helper_test_op(
        [(3, 4)], lambda x: x.logsumexp(1), vals=[np.full((3, 4), 500.0)], gradcheck_f64=False
    )


def test_cumsum_and_norm_variants():
    helper_test_op([(3, 4)], lambda x: x.cumsum(1))
    for p in [1, 2, 3]:
        helper_test_op([(3, 4)], lambda x, p=p: x.norm(p, dim=1))
    helper_test_op([(3, 4)], lambda x: x.norm(float("inf"), dim=1))


def test_int_reductions_dtype():
    i = fastnn.tensor([[1, 2], [3, 4]])
    assert i.sum().dtype == fastnn.int64 and i.sum().item() == 10
    assert (i > 1).sum().item() == 3
    with pytest.raises(RuntimeError, match="mean"):
        i.mean()
