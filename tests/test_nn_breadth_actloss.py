"""Issue 18 breadth: the long tail of activations, losses and norms, forward and backward against
PyTorch (helpers.helper_test_op: float32 and float64, every input's gradient, a float64
gradcheck), including zero-size batches where torch accepts them, and the argument errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import fastnn
import fastnn.nn.functional as F

from .helpers import helper_test_op


def _both(name, *args, **kwargs):
    """(torch_fn, fastnn_fn): F.<name>(inputs..., *args, **kwargs) on each side."""
    return (lambda *xs: getattr(TF, name)(*xs, *args, **kwargs),
            lambda *xs: getattr(F, name)(*xs, *args, **kwargs))


# ------------------------------------------------------------------------------ activations
UNARY = [
    ("celu", (), {"alpha": 0.7}),
    ("selu", (), {}),
    ("hardshrink", (0.3,), {}),
    ("softshrink", (0.3,), {}),
    ("hardsigmoid", (), {}),
    ("hardswish", (), {}),
    ("mish", (), {}),
    ("softsign", (), {}),
    ("tanhshrink", (), {}),
    ("threshold", (0.1, -2.0), {}),
    ("rrelu", (), {}),  # eval: the mean slope
    ("gelu", (), {"approximate": "tanh"}),
]


@pytest.mark.parametrize("name,args,kwargs", UNARY, ids=[u[0] for u in UNARY])
@pytest.mark.parametrize("shape", [(5,), (2, 3, 4), ()], ids=["1d", "3d", "0d"])
def test_unary_activation_matches_torch(name, args, kwargs, shape):
    # torch's float64 hardsigmoid and celu backward use float32 constants (1.0f / 6.0f, the
    # alpha): 3e-8 relative from the exact values fastnn computes
    grad_rtol = 1e-7 if name in ("hardsigmoid", "celu") else None
    # no float64 gradcheck of 0-d inputs: fastnn's gradcheck trips on the NumPy scalars some
    # backward formulas return for 0-d arrays (autograd/, not these ops)
    helper_test_op([shape], *_both(name, *args, **kwargs), low=-4.0, high=4.0,
                   grad_rtol=grad_rtol, gradcheck_f64=shape != ())


@pytest.mark.parametrize("name,args,kwargs", UNARY, ids=[u[0] for u in UNARY])
def test_unary_activation_zero_size(name, args, kwargs):
    helper_test_op([(0, 3)], *_both(name, *args, **kwargs), gradcheck_f64=False)


def test_kinks_take_torchs_derivative():
    vals = [[-3.0, 3.0, -3.5, 0.0, 2.5]]
    for name in ("hardswish", "hardsigmoid", "hardshrink", "softshrink", "threshold"):
        args = {"hardshrink": (0.5,), "softshrink": (0.5,), "threshold": (0.0, 1.0)}
        helper_test_op(None, *_both(name, *args.get(name, ())), vals=vals,
                       gradcheck_f64=False, grad_rtol=1e-7)  # torch's 1.0f / 6.0f


def test_gelu_zero_dim_backward_both_modes():
    for approximate in ("none", "tanh"):
        helper_test_op([()], *_both("gelu", approximate=approximate), gradcheck_f64=False)


@pytest.mark.parametrize("shape,dim", [((3, 4), 1), ((2, 6, 3), -2), ((0, 4), 1)])
def test_glu_matches_torch(shape, dim):
    helper_test_op([shape], *_both("glu", dim), gradcheck_f64=0 not in shape)


@pytest.mark.parametrize("shapes", [[(2, 3, 4), (3,)], [(4, 3), (1,)], [(5,), (1,)],
                                    [(0, 3), (3,)]])
def test_prelu_matches_torch(shapes):
    helper_test_op(shapes, *_both("prelu"), gradcheck_f64=0 not in shapes[0])


@pytest.mark.parametrize("dtype", [None, torch.float64])
def test_softmin_matches_torch(dtype):
    helper_test_op([(3, 5)], lambda x: TF.softmin(x, 1, dtype=dtype),
                   lambda x: F.softmin(x, 1, dtype=None if dtype is None else fastnn.float64),
                   dtypes=(np.float32,), gradcheck_f64=False)
    helper_test_op([(0, 5)], *_both("softmin", 0), gradcheck_f64=False)


def test_activation_modules_match_torch():
    cases = [("CELU", (0.5,)), ("SELU", ()), ("GLU", ()), ("Hardshrink", (0.2,)),
             ("Softshrink", (0.2,)), ("Hardsigmoid", ()), ("Hardswish", ()), ("Mish", ()),
             ("Softsign", ()), ("Tanhshrink", ()), ("Threshold", (0.2, 5.0)), ("Softmin", (1,)),
             ("Softmax2d", ()), ("PReLU", (3,))]
    for name, args in cases:
        tm, fm = getattr(torch.nn, name)(*args), getattr(fastnn.nn, name)(*args)
        fm.load_state_dict({k: fastnn.tensor(v.detach().numpy()) for k, v in
                            tm.state_dict().items()})
        helper_test_op([(2, 3, 4, 2)], tm, fm, dtypes=(np.float32,), gradcheck_f64=False)
        assert repr(fm) == repr(tm)


def test_rrelu_training_slopes_in_range_and_gradient_is_the_slope():
    x = fastnn.tensor(np.linspace(-3, 3, 50, dtype=np.float32), requires_grad=True)
    y = F.rrelu(x, 0.1, 0.3, training=True)
    y.sum().backward()
    neg = x.array < 0
    slope = y.array[neg] / x.array[neg]
    assert np.all((slope >= 0.1 - 1e-6) & (slope <= 0.3 + 1e-6))
    np.testing.assert_allclose(x.grad.array[neg], slope, rtol=1e-6)
    np.testing.assert_array_equal(x.grad.array[~neg], 1)


@pytest.mark.parametrize("fn", ["alpha_dropout", "feature_alpha_dropout"])
def test_alpha_dropout_keeps_selu_statistics(fn):
    fastnn.manual_seed(0)
    x = fastnn.tensor(np.random.default_rng(0).standard_normal((64, 32, 8)).astype(np.float32))
    y = getattr(F, fn)(x, 0.2, training=True).array
    assert abs(y.mean()) < 0.1 and abs(y.std() - 1) < 0.1
    assert getattr(F, fn)(x, 0.2, training=False) is x
    # kept units: a x + alpha a p; dropped: alpha a p - alpha a (torch's affine correction)
    alpha, p = 1.7580993408473766, 0.2
    a = 1 / np.sqrt((alpha * alpha * p + 1) * (1 - p))
    kept = np.isclose(y, a * x.array + alpha * a * p, atol=1e-5)
    assert np.all(kept | np.isclose(y, alpha * a * p - alpha * a, atol=1e-5))
    if fn == "feature_alpha_dropout":  # whole channels kept or dropped
        assert np.all(kept.all(-1) | ~kept.any(-1)) and 0 < kept.mean() < 1


# ----------------------------------------------------------------------------------- losses
REDUCTIONS = ["none", "mean", "sum"]


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_pairwise_embedding_losses_match_torch(reduction):
    y = np.array([1.0, -1.0, 1.0, -1.0], dtype=np.float32)
    helper_test_op(
        [(4, 5), (4, 5)],
        lambda a, b: TF.cosine_embedding_loss(a, b, torch.tensor(y, dtype=a.dtype), 0.1,
                                              reduction=reduction),
        lambda a, b: F.cosine_embedding_loss(a, b, fastnn.tensor(y.astype(a.dtype)), 0.1,
                                             reduction=reduction))
    helper_test_op(
        [(4,), (4,)],
        lambda a, b: TF.margin_ranking_loss(a, b, torch.tensor(y, dtype=a.dtype), 0.3,
                                            reduction=reduction),
        lambda a, b: F.margin_ranking_loss(a, b, fastnn.tensor(y.astype(a.dtype)), 0.3,
                                           reduction=reduction))
    helper_test_op(
        [(4,)],
        lambda a: TF.hinge_embedding_loss(a, torch.tensor(y, dtype=a.dtype), 0.5,
                                          reduction=reduction),
        lambda a: F.hinge_embedding_loss(a, fastnn.tensor(y.astype(a.dtype)), 0.5,
                                         reduction=reduction))
    helper_test_op([(4,), (4,)], *_both("soft_margin_loss", reduction=reduction),
                   requires_grad=[True, False])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_multilabel_and_multi_margin_losses_match_torch(reduction):
    t = np.array([[3, 0, -1, 1], [1, 2, 3, -1], [-1, 0, 0, 0]])
    helper_test_op(
        [(3, 4)],
        lambda x: TF.multilabel_margin_loss(x, torch.tensor(t), reduction=reduction),
        lambda x: F.multilabel_margin_loss(x, fastnn.tensor(t), reduction=reduction))
    tgt = np.array([0, 3, 2])
    w = [0.5, 1.0, 2.0, 1.5]
    for p, weighted in ((1, False), (2, True)):
        helper_test_op(
            [(3, 4)],
            lambda x, p=p, weighted=weighted: TF.multi_margin_loss(
                x, torch.tensor(tgt), p, 0.7, torch.tensor(w, dtype=x.dtype) if weighted else None,
                reduction=reduction),
            lambda x, p=p, weighted=weighted: F.multi_margin_loss(
                x, fastnn.tensor(tgt), p, 0.7,
                fastnn.tensor(np.array(w, dtype=x.dtype)) if weighted else None,
                reduction=reduction))
    helper_test_op([(3, 4), (3, 4)], *_both("multilabel_soft_margin_loss", reduction=reduction),
                   requires_grad=[True, False])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_family_losses_match_torch(reduction):
    helper_test_op([(3, 4), (3, 4)], *_both("poisson_nll_loss", reduction=reduction))
    helper_test_op([(3, 4), (3, 4)], *_both("poisson_nll_loss", log_input=False, full=True,
                                            reduction=reduction), low=0.5, high=3.0)
    for var_shape in ((3, 4), (3,), (3, 1)):
        helper_test_op([(3, 4), (3, 4), var_shape],
                       *_both("gaussian_nll_loss", full=True, reduction=reduction),
                       low=0.1, high=2.0)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("swap", [False, True])
def test_triplet_losses_match_torch(reduction, swap):
    helper_test_op([(4, 5)] * 3, *_both("triplet_margin_loss", margin=0.5, p=1.5, swap=swap,
                                        reduction=reduction))
    helper_test_op([(4, 5)] * 3, *_both("triplet_margin_with_distance_loss", swap=swap,
                                        reduction=reduction))


def test_distances_match_torch():
    helper_test_op([(4, 5), (4, 5)], *_both("cosine_similarity", 1))
    helper_test_op([(4, 5), (1, 5)], *_both("cosine_similarity", -1, 1e-6))
    helper_test_op([(4, 5), (4, 5)], *_both("pairwise_distance", 3.0, keepdim=True))
    helper_test_op([(5, 3)], *_both("pdist"))
    helper_test_op([(5, 3)], *_both("pdist", 1.0))
    helper_test_op([(1, 3)], *_both("pdist"), gradcheck_f64=False)


def test_losses_zero_size_batch():
    for name in ("soft_margin_loss", "multilabel_soft_margin_loss", "poisson_nll_loss"):
        for reduction in ("none", "sum"):
            helper_test_op([(0, 4), (0, 4)], *_both(name, reduction=reduction),
                           gradcheck_f64=False, requires_grad=[True, False])
    helper_test_op([(0, 5)] * 3, *_both("triplet_margin_loss", reduction="sum"),
                   gradcheck_f64=False)


def test_kl_div_target_gradient_is_torchs_including_nan_at_zero():
    x = np.log(np.array([[0.2, 0.3, 0.5]]))
    t = np.array([[0.0, 0.4, 0.6]])
    helper_test_op(None, *_both("kl_div", reduction="batchmean"), vals=[x, t],
                   gradcheck_f64=False)


def test_loss_modules_match_torch():
    rng = np.random.default_rng(1)
    a, b, c = (rng.standard_normal((4, 5)).astype(np.float32) for _ in range(3))
    y = np.array([1.0, -1.0, -1.0, 1.0], dtype=np.float32)
    cases = [  # name, constructor kwargs, inputs, how many of them are differentiable
        ("CosineEmbeddingLoss", {"margin": 0.2}, (a, b, y), 2),
        ("MarginRankingLoss", {"margin": 0.1}, (a[:, 0], b[:, 0], y), 2),
        ("HingeEmbeddingLoss", {}, (a[:, 0], y), 1),
        ("SoftMarginLoss", {}, (a, np.sign(b)), 1),
        ("MultiLabelSoftMarginLoss", {}, (a, (b > 0).astype(np.float32)), 1),
        ("MultiMarginLoss", {"p": 2}, (a, np.array([0, 4, 2, 1])), 1),
        ("MultiLabelMarginLoss", {}, (a, np.array([[0, 1, -1, 0, 0]] * 4)), 1),
        ("PoissonNLLLoss", {"full": True}, (a, np.abs(b) * 3), 2),
        ("GaussianNLLLoss", {}, (a, b, np.abs(c)), 3),
        ("TripletMarginLoss", {"swap": True}, (a, b, c), 3),
        ("TripletMarginWithDistanceLoss", {}, (a, b, c), 3),
    ]
    for name, kwargs, arrays, n_grad in cases:
        tm, fm = getattr(torch.nn, name)(**kwargs), getattr(fastnn.nn, name)(**kwargs)
        tt = [torch.tensor(x, requires_grad=i < n_grad) for i, x in enumerate(arrays)]
        ft = [fastnn.tensor(x, requires_grad=i < n_grad) for i, x in enumerate(arrays)]
        to, fo = tm(*tt), fm(*ft)
        np.testing.assert_allclose(fo.array, to.detach().numpy(), rtol=1e-5, atol=1e-6,
                                   err_msg=name)
        to.backward()
        fo.backward()
        for t_in, f_in in zip(tt, ft):
            if t_in.grad is not None:
                np.testing.assert_allclose(f_in.grad.array, t_in.grad.numpy(), rtol=1e-4,
                                           atol=1e-6, err_msg=name)


# ------------------------------------------------------------------------------------ CTC
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("concatenated", [False, True])
def test_ctc_loss_matches_torch(reduction, concatenated):
    rng = np.random.default_rng(0)
    T, N, C = 12, 3, 5
    logits = rng.standard_normal((T, N, C))
    padded = np.array([[1, 1, 2, 3], [2, 4, 0, 0], [3, 3, 3, 0]])
    tl, il = (4, 2, 3), (12, 9, 10)
    tgt = np.concatenate([padded[n, :tl[n]] for n in range(N)]) if concatenated else padded
    helper_test_op(
        None,
        lambda x: TF.ctc_loss(x.log_softmax(2), torch.tensor(tgt), torch.tensor(il),
                              torch.tensor(tl), reduction=reduction),
        lambda x: F.ctc_loss(x.log_softmax(2), fastnn.tensor(tgt), il, fastnn.tensor(tl),
                             reduction=reduction),
        vals=[logits])


def test_ctc_loss_unbatched_blank_and_zero_infinity():
    rng = np.random.default_rng(1)
    lp = rng.standard_normal((6, 4))
    helper_test_op(None, lambda x: TF.ctc_loss(x.log_softmax(1), torch.tensor([0, 1, 2]),
                                               torch.tensor(6), torch.tensor(3), blank=3,
                                               reduction="none"),
                   lambda x: F.ctc_loss(x.log_softmax(1), fastnn.tensor(np.array([0, 1, 2])), 6, 3,
                                        blank=3, reduction="none"), vals=[lp])
    # target longer than the input: impossible alignment (inf), zeroed with zero_infinity
    lp3 = rng.standard_normal((3, 2, 4))
    t = np.array([[1, 2, 1, 2], [1, 2, 0, 0]])
    helper_test_op(None, lambda x: TF.ctc_loss(x.log_softmax(2), torch.tensor(t), (3, 3), (4, 2),
                                               reduction="sum", zero_infinity=True),
                   lambda x: F.ctc_loss(x.log_softmax(2), fastnn.tensor(t), (3, 3), (4, 2),
                                        reduction="sum", zero_infinity=True), vals=[lp3],
                   gradcheck_f64=False)


# ------------------------------------------------------------------------------------ norms
@pytest.mark.parametrize("shape,groups", [((2, 6, 5), 3), ((3, 4, 2, 3), 2), ((0, 4, 3), 4)])
def test_group_norm_matches_torch(shape, groups):
    C = shape[1]
    helper_test_op([shape, (C,), (C,)], lambda x, w, b: TF.group_norm(x, groups, w, b),
                   lambda x, w, b: F.group_norm(x, groups, w, b), gradcheck_f64=shape[0] > 0)
    helper_test_op([shape], *_both("group_norm", groups, eps=1e-3), gradcheck_f64=False)


@pytest.mark.parametrize("shape", [(2, 3, 5), (2, 3, 4, 3), (1, 2, 2, 2, 3)])  # torch: no N=0
def test_instance_norm_matches_torch(shape):
    C = shape[1]
    helper_test_op([shape, (C,), (C,)],
                   lambda x, w, b: TF.instance_norm(x, weight=w, bias=b),
                   lambda x, w, b: F.instance_norm(x, weight=w, bias=b),
                   gradcheck_f64=shape[0] > 0)


def test_instance_norm_running_stats_and_eval_match_torch():
    x = np.random.default_rng(0).standard_normal((4, 3, 6)).astype(np.float32)
    tm = torch.nn.InstanceNorm1d(3, affine=True, track_running_stats=True, momentum=0.3)
    fm = fastnn.nn.InstanceNorm1d(3, affine=True, track_running_stats=True, momentum=0.3)
    for _ in range(2):
        tm(torch.tensor(x))
        fm(fastnn.tensor(x))
    for k, v in tm.state_dict().items():
        if v.dtype.is_floating_point:
            np.testing.assert_allclose(fm.state_dict()[k].array, v.numpy(), rtol=1e-5, err_msg=k)
    tm.eval()
    fm.eval()
    helper_test_op([(2, 3, 6)], tm, fm, dtypes=(np.float32,), gradcheck_f64=False)
    helper_test_op([(3, 6)], tm, fm, dtypes=(np.float32,), gradcheck_f64=False)  # unbatched


@pytest.mark.parametrize("shape,normalized", [((3, 4), (4,)), ((2, 3, 4), (3, 4)),
                                              ((0, 5), (5,))])
def test_rms_norm_matches_torch(shape, normalized):
    helper_test_op([shape, normalized], lambda x, w: TF.rms_norm(x, normalized, w),
                   lambda x, w: F.rms_norm(x, normalized, w), gradcheck_f64=shape[0] > 0)
    helper_test_op([shape], *_both("rms_norm", normalized, eps=1e-3), gradcheck_f64=False)


@pytest.mark.parametrize("shape,size", [((2, 5, 3), 3), ((2, 6, 3, 2), 4), ((1, 4, 2, 2, 2), 2),
                                        ((2, 3, 4), 1)])
def test_local_response_norm_matches_torch(shape, size):
    helper_test_op([shape], *_both("local_response_norm", size, alpha=0.1, beta=0.6, k=1.5))


@pytest.mark.parametrize("lead", [(4,), (2, 3), (0,)])
def test_bilinear_matches_torch(lead):
    helper_test_op([lead + (3,), lead + (2,), (5, 3, 2), (5,)], *_both("bilinear"),
                   gradcheck_f64=0 not in lead)


def test_norm_and_bilinear_modules_match_torch():
    torch.manual_seed(0)
    cases = [("GroupNorm", (2, 4), (2, 4, 3)), ("InstanceNorm2d", (4,), (2, 4, 3, 3)),
             ("RMSNorm", ((3, 3),), (2, 4, 3, 3)), ("LocalResponseNorm", (3,), (2, 4, 3, 3))]
    for name, args, shape in cases:
        tm, fm = getattr(torch.nn, name)(*args), getattr(fastnn.nn, name)(*args)
        fm.load_state_dict({k: fastnn.tensor(v.detach().numpy()) for k, v in
                            tm.state_dict().items()})
        helper_test_op([shape], tm, fm, dtypes=(np.float32,), gradcheck_f64=False)
        assert repr(fm) == repr(tm)
    tm, fm = torch.nn.Bilinear(3, 2, 4), fastnn.nn.Bilinear(3, 2, 4)
    fm.load_state_dict({k: fastnn.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    helper_test_op([(5, 3), (5, 2)], tm, fm, dtypes=(np.float32,), gradcheck_f64=False)
    assert repr(fm) == repr(tm)
    bound = 1 / np.sqrt(3)
    assert np.abs(fm.weight.array).max() <= bound and fm.weight.shape == (4, 3, 2)


# ------------------------------------------------------------------------------------ errors
def _t(*shape, dtype=np.float32):
    return fastnn.tensor(np.ones(shape, dtype=dtype))


ERRORS = [
    (lambda: F.glu(_t(3, 5)), RuntimeError, "Halving dimension must be even"),
    (lambda: F.glu(_t()), RuntimeError, "does not support scalars"),
    (lambda: F.celu(_t(3), 0.0), RuntimeError, "alpha cannot be 0"),
    (lambda: F.softshrink(_t(3), -1.0), RuntimeError, "lambda must be in range"),
    (lambda: F.prelu(_t(2, 3), _t(2)), RuntimeError, "Mismatch of parameter numbers"),
    (lambda: F.rrelu(_t(3), 0.5, 0.1), RuntimeError, "Lower bound should be less"),
    (lambda: F.alpha_dropout(_t(3), 1.5, True), ValueError, "dropout probability"),
    (lambda: fastnn.nn.Softmax2d()(_t(3, 4)), ValueError, "expected input to be 3D or 4D"),
    (lambda: F.multi_margin_loss(_t(2, 3), fastnn.tensor(np.array([0, 1])), p=3), ValueError,
     "only p == 1 and p == 2"),
    (lambda: F.multi_margin_loss(_t(2, 3), fastnn.tensor(np.array([0, 3]))), RuntimeError,
     "target out of range"),
    (lambda: F.multilabel_margin_loss(_t(2, 3), fastnn.tensor(np.zeros((2, 2), np.int64))),
     RuntimeError, "inconsistent target size"),
    (lambda: F.margin_ranking_loss(_t(3), _t(3, 1), _t(3)), RuntimeError, "same dimension"),
    (lambda: F.cosine_embedding_loss(_t(3, 2), _t(3, 2), _t(3, 1)), RuntimeError,
     "0D or 1D target"),
    (lambda: F.triplet_margin_loss(_t(2, 3), _t(2, 3), _t(2, 3), margin=0.0), ValueError,
     "margin must be greater than 0"),
    (lambda: F.triplet_margin_loss(_t(2, 3), _t(3), _t(2, 3)), RuntimeError,
     "same number of dimensions"),
    (lambda: F.gaussian_nll_loss(_t(2, 3), _t(2, 3), -_t(2, 3)), ValueError, "var has negative"),
    (lambda: F.gaussian_nll_loss(_t(2, 3), _t(2, 3), _t(3, 3)), ValueError, "incorrect size"),
    (lambda: F.soft_margin_loss(_t(2), _t(2), reduction="avg"), ValueError,
     "not a valid value for reduction"),
    (lambda: F.pdist(_t(2, 3, 4)), RuntimeError, "pdist only supports 2D"),
    (lambda: F.group_norm(_t(2, 5, 3), 2), RuntimeError, "divisible by num_groups"),
    (lambda: F.group_norm(_t(3), 1), RuntimeError, "at least 2 dimensions"),
    (lambda: fastnn.nn.GroupNorm(2, 5), ValueError, "must be divisible by num_groups"),
    (lambda: F.instance_norm(_t(2, 3, 1)), ValueError, "more than 1 spatial element"),
    (lambda: fastnn.nn.InstanceNorm2d(3)(_t(3, 4)), ValueError, "expected 3D or 4D input"),
    (lambda: fastnn.nn.InstanceNorm1d(3, affine=True)(_t(2, 4, 5)), ValueError,
     "to match num_features"),
    (lambda: F.rms_norm(_t(2, 3), (4,)), RuntimeError, "expected input with shape"),
    (lambda: F.local_response_norm(_t(2, 3), 2), ValueError, "Expected 3D or higher"),
    (lambda: F.bilinear(_t(2, 3), _t(2, 2), _t(4, 3, 3)), RuntimeError, "input2 size"),
    (lambda: F.bilinear(_t(2, 3), _t(3, 2), _t(4, 3, 2)), RuntimeError, "batch dimensions"),
    (lambda: F.ctc_loss(_t(5, 2, 4), fastnn.tensor(np.ones((2, 3), np.int64)), (6, 5), (3, 3)),
     RuntimeError, "input_lengths to have value at most 5"),
    (lambda: F.ctc_loss(_t(5, 2, 4), fastnn.tensor(np.ones((2, 3), np.int64)), (5, 5), (4, 3)),
     RuntimeError, "size at least 4"),
    (lambda: F.ctc_loss(_t(5, 2, 4), fastnn.tensor(np.ones((2, 3), np.int64)), (5, 5), (3, 3),
                        blank=4), RuntimeError, "blank must be in label range"),
    (lambda: F.ctc_loss(_t(5, 2, 4), _t(2, 3), (5, 5), (3, 3)), RuntimeError,
     "integer dtype"),
]


@pytest.mark.parametrize("call,exc,msg", ERRORS, ids=[f"error{i}" for i in range(len(ERRORS))])
def test_bad_arguments_raise_clear_errors(call, exc, msg):
    with pytest.raises(exc, match=msg):
        call()
