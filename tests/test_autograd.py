"""Autograd semantics against PyTorch's documented behaviour."""

import numpy as np
import pytest

import fastnn
from fastnn.autograd import Function


def test_accumulates_on_leaves_and_reuses_inputs():
    a = fastnn.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (a * a + a).sum().backward()
    np.testing.assert_allclose(a.grad.array, [3.0, 5.0, 7.0])
    (a * 2).sum().backward()  # a second backward accumulates
    np.testing.assert_allclose(a.grad.array, [5.0, 7.0, 9.0])


def test_shared_gradient_arrays_are_not_aliased():
    a = fastnn.ones(3, requires_grad=True)
    b = fastnn.ones(3, requires_grad=True)
    (a + b).sum().backward()
    a.grad.add_(1)  # optimizers update .grad in place; b.grad must not change
    np.testing.assert_allclose(b.grad.array, [1.0, 1.0, 1.0])


def test_retain_graph_error_and_retain():
    x = fastnn.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp().sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.array, 2 * np.exp([1.0, 2.0]), rtol=1e-6)
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()


def test_diamond_graph_runs_each_node_once():
    calls = []

    class Count(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, g):
            calls.append(1)
            return g

    x = fastnn.tensor([1.0], requires_grad=True)
    h = Count.apply(x)
    (h * 2 + h * 3).sum().backward()
    assert len(calls) == 1
    np.testing.assert_allclose(x.grad.array, [5.0])


def test_no_grad_and_modes():
    x = fastnn.ones(2, requires_grad=True)
    with fastnn.no_grad():
        y = x * 2
        assert not fastnn.is_grad_enabled()
        with fastnn.enable_grad():
            assert (x * 2).requires_grad
    assert not y.requires_grad and y.grad_fn is None
    assert fastnn.is_grad_enabled()

    @fastnn.no_grad()
    def f(t):
        return t * 2

    assert not f(x).requires_grad
    with fastnn.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert fastnn.is_grad_enabled()
    fastnn.set_grad_enabled(False)
    assert not fastnn.is_grad_enabled()
    fastnn.set_grad_enabled(True)


def test_detach_data_leaf_flags():
    x = fastnn.ones(2, requires_grad=True)
    y = x * 3
    assert x.is_leaf and not y.is_leaf and y.grad_fn is not None
    d = y.detach()
    assert not d.requires_grad and d.is_leaf
    d.array[0] = 7  # shares storage
    assert y.array[0] == 7
    x.data.mul_(2)  # .data: outside the graph, same storage
    np.testing.assert_allclose(x.array, [2.0, 2.0])
    with pytest.raises(RuntimeError, match="leaf Variable"):
        x.add_(1)
    with fastnn.no_grad():
        x += 1
    np.testing.assert_allclose(x.array, [3.0, 3.0])


def test_nonleaf_grad_retain_grad_and_hooks():
    x = fastnn.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.retain_grad()
    z = y * y
    seen = []
    z.register_hook(lambda g: seen.append(g.array.copy()))
    z.sum().backward()
    np.testing.assert_allclose(y.grad.array, 2 * y.array)
    assert seen and np.allclose(seen[0], 1.0)
    w = x * 3
    w.sum().backward()
    assert w.grad is None  # non-leaf without retain_grad


def test_backward_nonscalar_needs_gradient():
    x = fastnn.ones(3, requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match="implicitly created only for scalar"):
        y.backward()
    y.backward(fastnn.tensor([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(x.grad.array, [2.0, 4.0, 6.0])


def test_inplace_on_nonleaf_is_version_safe():
    x = fastnn.tensor([1.0, 2.0], requires_grad=True)
    y = x.sigmoid()  # saves its output
    z = y * 1
    z += 1
    z.mul_(2)
    z[0] = 0.0
    z.sum().backward()
    s = 1 / (1 + np.exp(-np.array([1.0, 2.0])))
    np.testing.assert_allclose(x.grad.array, [0.0, 2 * s[1] * (1 - s[1])], rtol=1e-6)


def test_autograd_grad_and_errors():
    x = fastnn.tensor([1.0, 2.0], requires_grad=True)
    y = (x**3).sum()
    (g,) = fastnn.autograd.grad(y, x)
    np.testing.assert_allclose(g.array, 3 * x.array**2)
    assert x.grad is None
    with pytest.raises(NotImplementedError, match="create_graph"):
        fastnn.autograd.grad((x * x).sum(), x, create_graph=True)
    u = fastnn.ones(1, requires_grad=True)
    with pytest.raises(RuntimeError, match="allow_unused"):
        fastnn.autograd.grad((x * 2).sum(), [x, u])
    gx, gu = fastnn.autograd.grad((x * 2).sum(), [x, u], allow_unused=True)
    assert gu is None


def test_gradcheck_catches_a_wrong_backward():
    class Wrong(Function):
        @staticmethod
        def forward(ctx, x):
            return x * x

        @staticmethod
        def backward(ctx, g):
            return g  # should be 2 x g

    x = fastnn.randn(3, dtype=fastnn.float64, requires_grad=True)
    with pytest.raises(fastnn.autograd.GradcheckError):
        fastnn.autograd.gradcheck(Wrong.apply, (x,))
    assert fastnn.autograd.gradcheck(lambda t: t.tanh(), (x,))


def test_custom_function_multi_output_and_non_differentiable():
    class SplitMax(Function):
        @staticmethod
        def forward(ctx, x):
            idx = np.argmax(x, keepdims=True)
            ctx.mark_non_differentiable(idx)
            ctx.save_for_backward(x)
            return x * 2, idx

        @staticmethod
        def backward(ctx, g, g_idx):
            return g * 2

    x = fastnn.tensor([1.0, 3.0], requires_grad=True)
    y, i = SplitMax.apply(x)
    assert y.requires_grad and not i.requires_grad
    y.sum().backward()
    np.testing.assert_allclose(x.grad.array, [2.0, 2.0])
    assert type(y.grad_fn).__name__ == "SplitMaxBackward0"


def test_none_gradients_skip_subgraphs_and_grad_wrt_nonleaf():
    class Block(Function):  # passes no gradient to its input
        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, g):
            return None

    x = fastnn.tensor([1.0, 2.0], requires_grad=True)
    h = x.exp()
    y = (Block.apply(h) + x * 3).sum()  # exp's node never gets a gradient
    y.backward()
    np.testing.assert_allclose(x.grad.array, [3.0, 3.0])
    x2 = fastnn.tensor([1.0, 2.0], requires_grad=True)
    h2 = x2 * 2
    (gh,) = fastnn.autograd.grad((h2 * h2).sum(), h2)  # w.r.t. a non-leaf
    np.testing.assert_allclose(gh.array, 2 * h2.array)
    (gx,) = fastnn.autograd.grad(h2, x2, grad_outputs=fastnn.tensor([1.0, 10.0]))
    np.testing.assert_allclose(gx.array, [2.0, 20.0])


def test_requires_grad_rules():
    with pytest.raises(RuntimeError, match="floating point"):
        fastnn.tensor([1, 2], requires_grad=True)
    y = fastnn.ones(2, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="leaf variables"):
        y.requires_grad_(False)
    with fastnn.inference_mode():
        assert not (y * 2).requires_grad

    @fastnn.set_grad_enabled(False)
    def f(t):
        return t * 2

    assert not f(y).requires_grad and fastnn.is_grad_enabled()
    x = fastnn.randn(3, dtype=fastnn.float64, requires_grad=True)
    assert not fastnn.autograd.gradcheck(lambda t: t.detach() * t, (x,), raise_exception=False)


def test_grad_with_an_input_listed_twice_matches_torch():
    torch = pytest.importorskip("torch")
    fx = fastnn.tensor([1.0, -2.0, 3.0], requires_grad=True)
    tx = torch.tensor([1.0, -2.0, 3.0], requires_grad=True)
    fg = fastnn.autograd.grad((fx * fx * fx).sum(), [fx, fx])
    tg = torch.autograd.grad((tx * tx * tx).sum(), [tx, tx])
    assert len(fg) == len(tg) == 2
    for a, b in zip(fg, tg):
        np.testing.assert_allclose(a.numpy(), b.numpy())


def test_to_numpy_takes_numpy_scalars_from_0d_results():
    """0-d NumPy results are NumPy scalars, not CuPy arrays: gradcheck's conversion keeps them."""
    import numpy as np

    from fastnn.tensor import _to_numpy

    out = _to_numpy(np.float32(2.5))
    assert type(out) is np.ndarray and out.shape == () and out == np.float32(2.5)
