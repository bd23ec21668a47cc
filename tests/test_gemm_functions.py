"""matmul / mm / bmm / linear against PyTorch, on every CPU backend, through fastnn.ops.gemm."""

import numpy as np
import pytest
import torch

import fastnn
from fastnn.functions import gemm as linalg
from tests.helpers import helper_test_op


def _ns(x):
    return torch if isinstance(x, torch.Tensor) else fastnn


MATMUL_SHAPES = [
    [(3, 5), (5, 4)],
    [(5,), (5, 4)],
    [(3, 5), (5,)],
    [(5,), (5,)],
    [(2, 3, 5), (5, 4)],
    [(2, 3, 5), (2, 5, 4)],
    [(2, 1, 3, 5), (3, 5, 2)],
    [(3, 5), (2, 5, 4)],
    [(7, 1), (1, 6)],
]


@pytest.mark.parametrize("shapes", MATMUL_SHAPES)
def test_matmul(shapes):
    helper_test_op(shapes, lambda a, b: a @ b, atol=1e-4, rtol=1e-4)


def test_matmul_forms_and_noncontiguous():
    helper_test_op([(4, 6), (6, 3)], lambda a, b: a @ b, noncontig=True, atol=1e-4, rtol=1e-4)
    helper_test_op([(4, 6), (3, 6)], lambda a, b: a @ b.t(), atol=1e-4, rtol=1e-4)
    helper_test_op([(4, 6), (6, 3)], lambda a, b: a.mm(b), atol=1e-4, rtol=1e-4)
    helper_test_op([(2, 4, 6), (2, 6, 3)], lambda a, b: _ns(a).bmm(a, b), atol=1e-4, rtol=1e-4)
    helper_test_op([(6,), (6,)], lambda a, b: a.dot(b), atol=1e-4, rtol=1e-4)
    helper_test_op([(3,), (4,)], lambda a, b: _ns(a).outer(a, b))


@pytest.mark.parametrize("xshape", [(5, 4), (2, 3, 4), (4,)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear(xshape, bias):
    shapes = [xshape, (3, 4)] + ([(3,)] if bias else [])
    helper_test_op(
        shapes,
        lambda x, w, *b: (
            torch.nn.functional.linear(x, w, *b)
            if isinstance(x, torch.Tensor)
            else fastnn.nn.functional.linear(x, w, *b)
        ),
        atol=1e-4,
        rtol=1e-4,
    )


def test_backward_uses_gemm_trans_flags(monkeypatch):
    calls = []
    real = linalg.gemm

    def spy(a, b, *args, **kwargs):
        calls.append((kwargs.get("trans_a", False), kwargs.get("trans_b", False)))
        return real(a, b, *args, **kwargs)

    monkeypatch.setattr(linalg, "gemm", spy)
    a = fastnn.randn(4, 5, requires_grad=True)
    b = fastnn.randn(5, 3, requires_grad=True)
    (a @ b).sum().backward()
    assert calls == [(False, False), (False, True), (True, False)]


@pytest.mark.parametrize(
    "name",
    [
        n
        for n in fastnn.backends.names()
        if fastnn.backends.available(n)[0] and fastnn.backends.get_backend(n).DEVICE == "cpu"
    ],
)
def test_matmul_on_each_backend(name):
    rng = np.random.default_rng(0)
    A, B = (
        rng.standard_normal((2, 7, 9)).astype(np.float32),
        rng.standard_normal((9, 5)).astype(np.float32),
    )
    with fastnn.backends.use(name):
        a, b = fastnn.tensor(A, requires_grad=True), fastnn.tensor(B, requires_grad=True)
        (a @ b).square().sum().backward()
    ta, tb = torch.tensor(A, requires_grad=True), torch.tensor(B, requires_grad=True)
    (ta @ tb).square().sum().backward()
    np.testing.assert_allclose(a.grad.array, ta.grad.numpy(), rtol=2e-4, atol=2e-4)
    np.testing.assert_allclose(b.grad.array, tb.grad.numpy(), rtol=2e-4, atol=2e-4)


def test_matmul_errors_and_ints():
    with pytest.raises(RuntimeError, match="cannot be multiplied"):
        fastnn.randn(3, 4) @ fastnn.randn(5, 2)
    i = fastnn.tensor([[1, 2], [3, 4]])
    np.testing.assert_array_equal((i @ i).array, [[7, 10], [15, 22]])
    assert (i @ i).dtype == fastnn.int64


@pytest.mark.parametrize(
    "eq,shapes",
    [
        ("ij,jk->ik", [(3, 4), (4, 5)]),
        ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
        ("ij->", [(3, 4)]),
        ("ij->j", [(3, 4)]),
        ("i,j->ij", [(3,), (4,)]),
        ("...ij,jk->...ik", [(2, 3, 4), (4, 2)]),
        ("bhqd,bhkd->bhqk", [(2, 2, 3, 4), (2, 2, 5, 4)]),
        ("ij,ij->i", [(3, 4), (3, 4)]),
        ("ij,kj", [(3, 4), (2, 4)]),
    ],
)
def test_einsum(eq, shapes):
    helper_test_op(shapes, lambda *xs: _ns(xs[0]).einsum(eq, *xs), atol=1e-5, rtol=1e-5)
