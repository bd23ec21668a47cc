"""Losses (modules and nn.functional) against PyTorch: every option, reductions, extreme logits,
gradients of input (and of probability/binary targets), float64 gradcheck."""

import warnings

import numpy as np
import pytest
import torch

import fastnn
import fastnn.nn as nn
import fastnn.nn.functional as F
from fastnn.tensor import wrap

RNG = np.random.default_rng(7)
TF = torch.nn.functional


def _t2n(t):
    return t.detach().numpy()


def run_both(f_call, t_call, x, target, x_grad=True, t_grad=False, rtol=1e-5, atol=1e-6,
             **kw):
    """Loss through fastnn and torch on the same arrays; compares the value and the gradients."""
    fx, tx = wrap(x.copy(), requires_grad=x_grad), torch.tensor(x, requires_grad=x_grad)
    ft, tt = wrap(target.copy(), requires_grad=t_grad), torch.tensor(target, requires_grad=t_grad)
    fkw = {k: (wrap(v) if isinstance(v, np.ndarray) else v) for k, v in kw.items()}
    tkw = {k: (torch.from_numpy(v) if isinstance(v, np.ndarray) else v) for k, v in kw.items()}
    lf, lt = f_call(fx, ft, **fkw), t_call(tx, tt, **tkw)
    assert lf.dtype == np.dtype(str(lt.dtype).replace("torch.", ""))
    assert tuple(lf.shape) == tuple(lt.shape)
    np.testing.assert_allclose(lf.detach().numpy(), _t2n(lt), rtol=rtol, atol=atol)
    up = RNG.standard_normal(tuple(lt.shape)).astype(np.float32 if x.dtype == np.float32
                                                     else np.float64)
    lf.backward(wrap(up))
    lt.backward(torch.from_numpy(up))
    if x_grad:
        np.testing.assert_allclose(fx.grad.numpy(), tx.grad.numpy(), rtol=rtol, atol=atol)
    if t_grad:
        np.testing.assert_allclose(ft.grad.numpy(), tt.grad.numpy(), rtol=rtol, atol=atol)
    return lf


def logits(*shape, scale=3.0):
    return (RNG.standard_normal(shape) * scale).astype(np.float32)


def classes(C, *shape, ignore=None, frac=0.25):
    t = RNG.integers(0, C, size=shape).astype(np.int64)
    if ignore is not None:
        t[RNG.random(shape) < frac] = ignore
    return t


SHAPES = [((6, 5), (6,)), ((3, 4, 2, 3), (3, 2, 3)), ((5,), ())]


@pytest.mark.parametrize("xs,ts", SHAPES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.15])
@pytest.mark.parametrize("ignore", [None, -100, 1])
def test_cross_entropy_class_indices(xs, ts, reduction, weighted, smoothing, ignore):
    C = xs[1] if len(xs) > 1 else xs[0]
    x = logits(*xs)
    t = classes(C, *ts, ignore=ignore)
    if ignore is not None and t.ndim and (t != ignore).sum() == 0:
        t.flat[0] = (ignore + 1) % C
    kw = {"reduction": reduction, "label_smoothing": smoothing}
    if weighted:
        kw["weight"] = RNG.random(C).astype(np.float32) + 0.5
    if ignore is not None:
        kw["ignore_index"] = ignore
    run_both(F.cross_entropy, TF.cross_entropy, x, t, **kw)
    mod_kw = {k: (wrap(v) if isinstance(v, np.ndarray) else v) for k, v in kw.items()}
    tmod_kw = {k: (torch.from_numpy(v) if isinstance(v, np.ndarray) else v) for k, v in kw.items()}
    run_both(nn.CrossEntropyLoss(**mod_kw), torch.nn.CrossEntropyLoss(**tmod_kw), x, t)


@pytest.mark.parametrize("xs", [(6, 5), (2, 3, 4)])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_cross_entropy_probabilities(xs, reduction, weighted, smoothing):
    x = logits(*xs)
    p = RNG.random(xs).astype(np.float32)
    p /= p.sum(axis=1, keepdims=True)
    kw = {"reduction": reduction, "label_smoothing": smoothing}
    if weighted:
        kw["weight"] = RNG.random(xs[1]).astype(np.float32) + 0.5
    run_both(F.cross_entropy, TF.cross_entropy, x, p, t_grad=True, **kw)


@pytest.mark.parametrize("scale", [1e4, 1e3])
def test_cross_entropy_extreme_logits_stable(scale):
    x = logits(8, 6, scale=1.0) * scale
    x[0] = [scale, -scale, 0, 0, 0, scale]
    t = classes(6, 8)
    for red in ["mean", "none"]:
        lf = run_both(F.cross_entropy, TF.cross_entropy, x, t, reduction=red, rtol=1e-5, atol=1e-3)
        assert np.isfinite(lf.detach().numpy()).all()
    run_both(F.cross_entropy, TF.cross_entropy, x, t, label_smoothing=0.1, rtol=1e-5, atol=1e-2)


def test_cross_entropy_errors_and_module():
    x = fastnn.randn(4, 3)
    with pytest.raises(IndexError, match="out of bounds"):
        F.cross_entropy(x, fastnn.tensor([0, 1, 3, 0]))
    with pytest.raises(ValueError, match="not a valid value for reduction"):
        F.cross_entropy(x, fastnn.tensor([0, 1, 2, 0]), reduction="avg")
    with pytest.raises(ValueError, match="Expected target size"):
        F.cross_entropy(x, fastnn.tensor([0, 1]))
    with pytest.raises(RuntimeError, match="weight tensor should be defined"):
        F.cross_entropy(x, fastnn.tensor([0, 1, 2, 0]), weight=fastnn.ones(4))
    w = np.array([1.0, 2.0, 3.0], np.float32)
    fm = nn.CrossEntropyLoss(weight=wrap(w), label_smoothing=0.1)
    tm = torch.nn.CrossEntropyLoss(weight=torch.from_numpy(w), label_smoothing=0.1)
    assert repr(fm) == repr(tm) == "CrossEntropyLoss()"
    assert list(fm.state_dict()) == list(tm.state_dict()) == ["weight"]
    assert list(nn.CrossEntropyLoss().state_dict()) == []
    assert nn.CrossEntropyLoss(size_average=False).reduction == "sum"
    assert nn.MSELoss(reduce=False).reduction == "none"
    # every target ignored: mean is nan like PyTorch
    lf = F.cross_entropy(x, fastnn.tensor([-100] * 4))
    assert np.isnan(lf.item()) and np.isnan(TF.cross_entropy(torch.randn(4, 3),
                                                             torch.full((4,), -100)).item())


@pytest.mark.parametrize("xs,ts", SHAPES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
def test_nll_loss(xs, ts, reduction, weighted):
    C = xs[1] if len(xs) > 1 else xs[0]
    x = logits(*xs)
    t = classes(C, *ts, ignore=2)
    if t.ndim and (t != 2).sum() == 0:
        t.flat[0] = 0
    kw = {"reduction": reduction, "ignore_index": 2}
    if weighted:
        kw["weight"] = RNG.random(C).astype(np.float32) + 0.5
    run_both(F.nll_loss, TF.nll_loss, x, t, **kw)
    wt = kw.pop("weight", None)
    run_both(nn.NLLLoss(weight=None if wt is None else wrap(wt), **kw),
             torch.nn.NLLLoss(weight=None if wt is None else torch.from_numpy(wt), **kw), x, t)
    seq = nn.Sequential(nn.LogSoftmax(dim=1))
    tseq = torch.nn.Sequential(torch.nn.LogSoftmax(dim=1))
    if len(xs) > 1:
        run_both(lambda a, b: F.nll_loss(seq(a), b), lambda a, b: TF.nll_loss(tseq(a), b), x, t)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("pos_weight", [False, True])
def test_bce_with_logits(reduction, weighted, pos_weight):
    x = logits(5, 4)
    y = RNG.random((5, 4)).astype(np.float32)
    kw = {"reduction": reduction}
    if weighted:
        kw["weight"] = RNG.random((5, 4)).astype(np.float32)
    if pos_weight:
        kw["pos_weight"] = RNG.random(4).astype(np.float32) * 3
    run_both(F.binary_cross_entropy_with_logits, TF.binary_cross_entropy_with_logits, x, y,
             t_grad=True, **kw)
    mk = {k: wrap(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
    tk = {k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
    fm, tm = nn.BCEWithLogitsLoss(**mk), torch.nn.BCEWithLogitsLoss(**tk)
    assert list(fm.state_dict()) == list(tm.state_dict())
    run_both(fm, tm, x, y)


def test_bce_with_logits_extreme():
    x = np.array([[1e4, -1e4, 50.0, -50.0, 0.0]], np.float32)
    y = np.array([[0.0, 1.0, 1.0, 0.0, 1.0]], np.float32)
    lf = run_both(F.binary_cross_entropy_with_logits, TF.binary_cross_entropy_with_logits, x, y,
                  reduction="none", pos_weight=np.full(5, 2.0, np.float32), atol=1e-3)
    assert np.isfinite(lf.detach().numpy()).all()


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
def test_bce(reduction, weighted):
    x = RNG.random((4, 6)).astype(np.float32) * 0.98 + 0.01
    x[0, :3] = [0.0, 1.0, 0.5]  # log clamped at -100 like PyTorch
    y = (RNG.random((4, 6)) > 0.5).astype(np.float32)
    y[0, :2] = [1.0, 0.0]
    kw = {"reduction": reduction}
    if weighted:
        kw["weight"] = RNG.random((4, 6)).astype(np.float32)
    fx, tx = wrap(x.copy()), torch.tensor(x)
    np.testing.assert_allclose(F.binary_cross_entropy(fx, wrap(y), **{
        k: wrap(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}).numpy(),
        TF.binary_cross_entropy(tx, torch.tensor(y), **{
            k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
        ).numpy(), rtol=1e-5)
    xs = RNG.random((4, 6)).astype(np.float32) * 0.9 + 0.05
    run_both(F.binary_cross_entropy, TF.binary_cross_entropy, xs, y, t_grad=True, **kw)
    with pytest.raises(RuntimeError, match="between 0 and 1"):
        F.binary_cross_entropy(fastnn.tensor([1.5]), fastnn.tensor([1.0]))
    with pytest.raises(ValueError, match="different to the input size"):
        F.binary_cross_entropy(fastnn.tensor([0.5, 0.5]), fastnn.tensor([1.0]))


@pytest.mark.parametrize("name", ["mse_loss", "l1_loss"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_l1(name, reduction):
    x, y = logits(3, 4, 5), logits(3, 4, 5)
    y.flat[:3] = x.flat[:3]  # |x - y| = 0: gradient 0 like PyTorch's sign
    run_both(getattr(F, name), getattr(TF, name), x, y, t_grad=True, reduction=reduction)
    cls = {"mse_loss": "MSELoss", "l1_loss": "L1Loss"}[name]
    run_both(getattr(nn, cls)(reduction=reduction), getattr(torch.nn, cls)(reduction=reduction),
             x, y, t_grad=True)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        run_both(getattr(F, name), getattr(TF, name), x, y[:1, :, :1].copy(), t_grad=True,
                 reduction=reduction)
    assert any("different to the input size" in str(r.message) for r in rec)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name,kw", [("smooth_l1_loss", {}), ("smooth_l1_loss", {"beta": 0.5}),
                                     ("smooth_l1_loss", {"beta": 0.0}), ("huber_loss", {}),
                                     ("huber_loss", {"delta": 2.0})])
def test_smooth_l1_and_huber(name, kw, reduction):
    x, y = logits(4, 5), logits(4, 5)
    y.flat[:2] = x.flat[:2]
    run_both(getattr(F, name), getattr(TF, name), x, y, t_grad=True, reduction=reduction, **kw)
    cls = {"smooth_l1_loss": ("SmoothL1Loss", "beta"), "huber_loss": ("HuberLoss", "delta")}[name]
    mk = {cls[1]: kw[cls[1]]} if kw else {}
    run_both(getattr(nn, cls[0])(reduction=reduction, **mk),
             getattr(torch.nn, cls[0])(reduction=reduction, **mk), x, y, t_grad=True)


@pytest.mark.parametrize("reduction", ["batchmean", "sum", "none", "mean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div(reduction, log_target):
    x = np.log(RNG.dirichlet(np.ones(5), size=4)).astype(np.float32)
    t = RNG.dirichlet(np.ones(5), size=4).astype(np.float32)
    if log_target:
        t = np.log(t).astype(np.float32)
    t0 = t.copy()
    t0[0, 0] = -np.inf if log_target else 0.0  # 0 log 0 = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run_both(F.kl_div, TF.kl_div, x, t, t_grad=True, reduction=reduction,
                 log_target=log_target)
        # a zero target: the loss term is 0 (PyTorch's target gradient there is nan; ours is 0)
        run_both(nn.KLDivLoss(reduction=reduction, log_target=log_target),
                 torch.nn.KLDivLoss(reduction=reduction, log_target=log_target), x, t0)


def test_losses_float64_gradcheck():
    def t(a, rg=True):
        return fastnn.tensor(a, dtype=fastnn.float64 if a.dtype.kind == "f" else None,
                             requires_grad=rg and a.dtype.kind == "f")

    x = t(RNG.standard_normal((4, 3, 2)))
    idx = t(np.array([[0, 2], [1, -100], [2, 2], [0, 1]]))
    w = t(RNG.random(3) + 0.5, rg=False)
    gc = fastnn.autograd.gradcheck
    assert gc(lambda a: F.cross_entropy(a, idx, weight=w, label_smoothing=0.1), (x,))
    p = RNG.random((4, 3, 2))
    pt = t(p / p.sum(1, keepdims=True))
    assert gc(lambda a, b: F.cross_entropy(a, b, weight=w, label_smoothing=0.1,
                                           reduction="sum"), (x, pt))
    assert gc(lambda a: F.nll_loss(a, idx, weight=w), (x,))
    z, y = t(RNG.standard_normal((3, 4))), t(RNG.random((3, 4)))
    pw = t(RNG.random(4) * 2, rg=False)
    assert gc(lambda a, b: F.binary_cross_entropy_with_logits(a, b, pos_weight=pw), (z, y))
    pr = t(RNG.random((3, 4)) * 0.8 + 0.1)
    assert gc(lambda a, b: F.binary_cross_entropy(a, b), (pr, y))
    assert gc(lambda a, b: F.mse_loss(a, b, reduction="sum"), (z, y))
    assert gc(lambda a, b: F.l1_loss(a, b), (z, y))
    assert gc(lambda a, b: F.smooth_l1_loss(a, b, beta=0.7), (z, y))
    assert gc(lambda a, b: F.huber_loss(a, b, delta=0.6), (z, y))
    lp = t(np.log(RNG.dirichlet(np.ones(4), size=3)))
    assert gc(lambda a, b: F.kl_div(a, b, reduction="batchmean"), (lp, y))
