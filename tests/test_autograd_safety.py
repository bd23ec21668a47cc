"""PyTorch's autograd safety rules (issue 17 item 8), each case run in fastnn and in torch:
in-place ops through views reach the base and its gradient (CopySlices), in-place on a leaf or a
view of one is refused, a tensor saved for backward and modified in place since is caught by the
shared version counter, and only floating-point tensors may require grad."""

from __future__ import annotations

import numpy as np
import pytest

import fastnn

torch = pytest.importorskip("torch")

X = np.arange(1.0, 13.0).reshape(3, 4)
W = np.linspace(-1.0, 2.0, 12).reshape(3, 4)


def _np(t):
    return None if t is None else t.detach().cpu().numpy() if hasattr(t, "cpu") else t.numpy()


def _both(case):
    """``case(lib)`` -> a tuple of tensors/None/ints, run with fastnn and with torch; compared."""
    got, want = case(fastnn), case(torch)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        if isinstance(w, torch.Tensor):
            np.testing.assert_allclose(_np(g), _np(w), rtol=1e-6, atol=1e-6)
        elif isinstance(w, float):
            assert g == pytest.approx(w, rel=1e-9)
        else:
            assert g == w


def _both_raise(case, match):
    with pytest.raises(RuntimeError, match=match):
        case(torch)
    with pytest.raises(RuntimeError, match=match):
        case(fastnn)


def _leaves(lib):
    x = lib.tensor(X, dtype=lib.float64, requires_grad=True)
    w = lib.tensor(W, dtype=lib.float64, requires_grad=True)
    return x, w


# ------------------------------------------------------------------ in-place through a view
VIEW_EDITS = {
    "row_mul": lambda y, w: y[0].mul_(3),
    "slice_add_tensor": lambda y, w: y[:, 1:3].add_(w[:, :2] * 2),
    "view_of_view": lambda y, w: y[1:][0, ::2].mul_(w[0, :2]),
    "reshape_exp": lambda y, w: y.view(-1)[2:5].exp_(),
    "transpose_copy": lambda y, w: y.t()[1].copy_(w[:, 0]),
    "narrow_zero": lambda y, w: y.narrow(1, 1, 2).zero_(),
    "ellipsis_fill": lambda y, w: y[-1, ...].fill_(7.0),
    "element_mul": lambda y, w: y[1, 2].mul_(w[0, 3]),
    "squeeze_relu": lambda y, w: y[None, 1].squeeze(0).sub_(8).relu_(),
    "setitem_on_view": lambda y, w: y[2].__setitem__(slice(0, 2), w[0, :2]),
    "clamp_on_permute": lambda y, w: y.permute(1, 0)[::2].clamp_(2.0, 6.0),
}


@pytest.mark.parametrize("edit", list(VIEW_EDITS))
def test_inplace_through_view_reaches_base_and_its_gradient(edit):
    def case(lib):
        x, w = _leaves(lib)
        y = x * 1
        VIEW_EDITS[edit](y, w)
        (y * w.detach()).sum().backward()
        return y, x.grad, w.grad, y._version

    _both(case)


def test_inplace_on_base_updates_existing_views_history():
    def case(lib):
        x, w = _leaves(lib)
        y = x * 1
        v = y[0:2]
        s = y[2]
        e = y[1:2].expand(3, 4)
        y.mul_(w)  # v, s and e were made before: their values and history follow
        (v.sum() + (s * 3).sum() + (e * e).sum()).backward()
        return v, s, e, x.grad, w.grad

    _both(case)


def test_inplace_on_view_updates_sibling_views_history():
    def case(lib):
        x, _ = _leaves(lib)
        y = x * 1
        a, b = y[0], y[0, 1:]  # overlapping views
        a.mul_(2)
        (b * 5).sum().backward()
        return b, x.grad

    _both(case)


def test_view_of_base_without_grad_gets_history_from_written_values():
    def case(lib):
        _, w = _leaves(lib)
        y = lib.zeros(3, 4, dtype=lib.float64)
        y[1:, :2].copy_(w[:2, 1:3] * 2)
        (y * y).sum().backward()
        return y, w.grad, y.requires_grad

    _both(case)


@pytest.mark.parametrize(
    "edit",
    [
        lambda y: y.unbind(0)[2].fill_(7.0),
        lambda y: y.chunk(2, 1)[1].relu_(),
        lambda y: y.split(2, 0)[0][1:].mul_(2),
    ],
    ids=["unbind", "chunk", "view_of_split"],
)
def test_inplace_on_multi_output_view_raises(edit):
    def case(lib):
        x, _ = _leaves(lib)
        edit(x * 1)

    _both_raise(case, "function that returns multiple views")


def test_view_of_non_contiguous_base():
    def case(lib):
        _, w = _leaves(lib)
        y = lib.from_numpy(np.asfortranarray(np.arange(12.0).reshape(3, 4)))  # column-major
        assert not y.is_contiguous()
        y[1:, ::2].mul_(w[:2, 1:3])
        (y * y).sum().backward()
        return y, w.grad

    _both(case)


def test_deepcopy_of_view_owns_its_storage():
    def case(lib):
        import copy

        _, w = _leaves(lib)
        y = lib.zeros(3, 4, dtype=lib.float64)
        c = copy.deepcopy(y[1])
        c.copy_(w[0] * 2)
        c.sum().backward()
        return y, c, w.grad, y._version

    _both(case)


def test_write_through_view_is_visible_without_grad():
    def case(lib):
        x, _ = _leaves(lib)
        with lib.no_grad():
            x[0].mul_(3)
            x.view(-1)[-1] = 0.5
        y = x.detach()
        y.t()[0].add_(1)
        return x, x._version, y._version

    _both(case)


# ------------------------------------------------------------------ leaves refuse
LEAF_EDITS = {
    "slice": lambda x: x[:2].mul_(3),
    "view": lambda x: x.view(-1).add_(1),
    "transpose_zero": lambda x: x.t().zero_(),
    "setitem_on_view": lambda x: x[0].__setitem__(0, 1.0),
    "normal_on_view": lambda x: x[1].normal_(),
}


@pytest.mark.parametrize("edit", list(LEAF_EDITS))
def test_inplace_on_view_of_leaf_raises(edit):
    _both_raise(lambda lib: LEAF_EDITS[edit](_leaves(lib)[0]), "view of a leaf Variable")


@pytest.mark.parametrize("op", ["mul_", "zero_", "setitem", "copy_"])
def test_inplace_on_leaf_raises(op):
    def case(lib):
        x, w = _leaves(lib)
        if op == "mul_":
            x.mul_(3)
        elif op == "zero_":
            x.zero_()
        elif op == "setitem":
            x[0] = 1.0
        else:
            x.copy_(w)

    _both_raise(case, "a leaf Variable that requires grad is being used in an in-place")


def test_inplace_on_leaf_allowed_under_no_grad():
    def case(lib):
        x, _ = _leaves(lib)
        with lib.no_grad():
            x[:2].mul_(3)
            x.add_(1)
        (x * x).sum().backward()
        return x, x.grad

    _both(case)


# ------------------------------------------------------------------ version counter
MODIFIED = "modified by an inplace operation"


def test_detach_shares_version_counter_and_saved_output_is_checked():
    def case(lib):
        x, _ = _leaves(lib)
        y = x.exp()
        y.detach().zero_()
        y.sum().backward()

    _both_raise(case, MODIFIED)


@pytest.mark.parametrize(
    "edit",
    [
        lambda y: y.detach().zero_(),
        lambda y: y[1].zero_(),
        lambda y: y.view(-1).add_(1),
        lambda y: y.mul_(2),
        lambda y: y.__setitem__((0, 0), 3.0),
        lambda y: y.unbind(0)[1].zero_(),
    ],
    ids=["detach", "view", "view_add", "self", "setitem", "unbind_no_grad"],
)
@pytest.mark.parametrize("op", ["exp", "sigmoid", "tanh", "relu"])
def test_saved_output_modified_in_place_raises(op, edit):
    def case(lib):
        x, _ = _leaves(lib)
        y = getattr(x * 1, op)()
        with lib.no_grad():
            edit(y)
        y.sum().backward()

    _both_raise(case, MODIFIED)


@pytest.mark.parametrize(
    "make",
    [
        lambda h, w: h * w,  # saves both
        lambda h, w: h.log(),  # saves its input
        lambda h, w: h @ w.t(),  # matmul saves its inputs
    ],
    ids=["mul", "log", "matmul"],
)
def test_saved_input_modified_in_place_raises(make):
    def case(lib):
        x, w = _leaves(lib)
        h = x * 1
        z = make(h, w)
        h.add_(1)
        z.sum().backward()

    _both_raise(case, MODIFIED)


def test_unsaved_tensors_may_be_modified():
    """Add saves nothing; matmul saves its inputs, not its output; sqrt and tan their output;
    .data has its own counter."""

    def case(lib):
        x, w = _leaves(lib)
        h = x * 1
        z = h + w
        h.mul_(5)  # z's backward does not need h
        m = x @ w.t()
        m.relu_()  # matmul's backward does not need its output
        e = w.exp()
        e.data.zero_()  # .data: not tracked (PyTorch's documented difference from detach())
        e.data[1].fill_(2.0)
        r = x * 1
        q = r.sqrt() + r.tan()  # both save their result only
        r.mul_(3)
        (z.sum() + m.sum() + e.sum() + q.sum()).backward()
        return z, m, q, x.grad, w.grad, e._version, h._version, r._version

    _both(case)


def test_version_counts():
    def case(lib):
        x, _ = _leaves(lib)
        y = x * 1
        v = y[1]
        d = y.detach()
        v.add_(1)
        d.mul_(2)
        y[0] = 3.0
        return y._version, v._version, d._version, y.data._version, x._version

    _both(case)


def test_overlapping_expand_refuses_in_place():
    def case(lib):
        x, _ = _leaves(lib)
        (x * 1)[0].expand(2, 4).add_(1)

    _both_raise(case, "more than one element")


def test_retain_graph_second_backward_after_in_place_raises():
    def case(lib):
        x, _ = _leaves(lib)
        y = x.sigmoid()
        loss = y.sum()
        loss.backward(retain_graph=True)
        with lib.no_grad():
            y.mul_(0.5)  # still bumps the version, as in PyTorch
        loss.backward()

    _both_raise(case, MODIFIED)


# ------------------------------------------------------------------ requires_grad and dtypes
@pytest.mark.parametrize("dtype", ["int64", "int32", "bool", "uint8"])
@pytest.mark.parametrize("how", ["attribute", "method", "tensor", "parameter"])
def test_only_float_tensors_can_require_grad(dtype, how):
    def case(lib):
        t = lib.zeros(3, dtype=getattr(lib, dtype))
        if how == "attribute":
            t.requires_grad = True
        elif how == "method":
            t.requires_grad_()
        elif how == "tensor":
            lib.tensor([1, 0, 1], dtype=getattr(lib, dtype), requires_grad=True)
        else:
            lib.nn.Parameter(t)

    _both_raise(case, "(?i)only Tensors of floating point")


def test_requires_grad_false_on_ints_and_leaves_is_fine_but_not_on_non_leaves():
    def case(lib):
        t = lib.zeros(3, dtype=lib.int64)
        t.requires_grad = False
        t.requires_grad_(False)
        p = lib.nn.Parameter(t, requires_grad=False)
        x, _ = _leaves(lib)
        x.requires_grad = False
        x.requires_grad = True
        return t.requires_grad, p.requires_grad, x.requires_grad

    _both(case)

    def non_leaf(lib):
        x, _ = _leaves(lib)
        (x * 2).requires_grad = False

    _both_raise(non_leaf, "leaf variables")


def test_small_training_loop_with_in_place_views_matches_torch():
    """A few SGD steps of a model whose forward writes through views (a common RNN-buffer and
    masking pattern), in float64: losses and weights match torch."""

    def case(lib):
        lib.manual_seed(0)
        rng = np.random.default_rng(0)
        data = lib.tensor(rng.standard_normal((8, 5)), dtype=lib.float64)
        target = lib.tensor(rng.standard_normal((8, 3)), dtype=lib.float64)
        w1 = lib.tensor(rng.standard_normal((5, 6)) * 0.5, dtype=lib.float64, requires_grad=True)
        w2 = lib.tensor(rng.standard_normal((6, 3)) * 0.5, dtype=lib.float64, requires_grad=True)
        losses = []
        for _ in range(3):
            h = data @ w1
            h[:, :3].relu_()  # an activation on half the features, in place through a view
            buf = lib.zeros(8, 3, dtype=lib.float64)
            buf[:4] = h[:4] @ w2
            buf[4:].copy_(h[4:] @ w2 * 0.5)
            loss = ((buf - target) ** 2).mean()
            loss.backward()
            with lib.no_grad():
                for p in (w1, w2):
                    p.sub_(0.1 * p.grad)
                    p.grad.zero_()
            losses.append(loss.item())
        return (w1, w2, *losses)

    _both(case)
