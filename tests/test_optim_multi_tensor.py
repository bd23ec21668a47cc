"""The C++ multi-tensor optimizer steps (csrc/optim.cpp) against the single-tensor formulas in
fastnn/optim/_functional.py: bit-identical (the single-tensor ones match torch, see
tests/conformance/test_optim_conformance.py), on odd, zero-size and chunk-straddling sizes; and the
optimizers route non-contiguous parameters to the single-tensor path with the same result."""

import itertools

import numpy as np
import pytest

import fastnn
from fastnn import backends
from fastnn.optim import _functional as F

lib = F.multi_tensor_lib()
pytestmark = pytest.mark.skipif(lib is None, reason="cpp backend (fastnn._C) not available")

SIZES = [(0,), (1,), (7,), (3, 11), (16385,), (257, 263)]  # 16385, 67591: past one 16384 chunk


def _arrays(rng, scale=1.0):
    return [(rng.standard_normal(s) * scale).astype(np.float32) for s in SIZES]


@pytest.mark.parametrize(
    "amsgrad,maximize,decoupled,wd",
    [(False, False, False, 0.0), (True, False, False, 0.1), (False, True, True, 0.01),
     (True, True, False, 1.0), (False, False, True, 0.0)],
)
def test_adam_multi_bit_identical(amsgrad, maximize, decoupled, wd):
    rng = np.random.default_rng(0)
    ps = _arrays(rng)
    ref = [p.copy() for p in ps]
    st = [dict(exp_avg=np.zeros_like(p), exp_avg_sq=np.zeros_like(p),
               max_exp_avg_sq=np.zeros_like(p)) for p in ps]
    rst = [{k: v.copy() for k, v in s.items()} for s in st]
    kw = dict(lr=1e-2, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=wd, amsgrad=amsgrad,
              maximize=maximize, decoupled=decoupled)
    for step in range(1, 6):
        gs = _arrays(rng, 10.0 ** (step - 3))
        F.adam_multi_step(lib, ps, gs, [s["exp_avg"] for s in st],
                          [s["exp_avg_sq"] for s in st],
                          [s["max_exp_avg_sq"] for s in st] if amsgrad else [],
                          [float(step)] * len(ps), **kw)
        for p, g, s in zip(ref, gs, rst):
            F.adam_step(p, g, dict(s, step=float(step)), **kw)
        for a, b in itertools.chain(zip(ps, ref), ((s[k], r[k]) for s, r in zip(st, rst)
                                                   for k in s)):
            assert a.tobytes() == b.tobytes()


@pytest.mark.parametrize(
    "momentum,dampening,nesterov,wd,maximize",
    [(0.0, 0.0, False, 0.0, False), (0.9, 0.0, False, 0.0, False), (0.9, 0.0, True, 1e-3, False),
     (0.5, 0.3, False, 0.1, True), (0.9, 0.0, False, 1.0, False)],
)
def test_sgd_multi_bit_identical(momentum, dampening, nesterov, wd, maximize):
    rng = np.random.default_rng(1)
    ps = _arrays(rng)
    ref = [p.copy() for p in ps]
    bufs = [np.empty_like(p) for p in ps]
    rbufs = [None] * len(ps)
    kw = dict(lr=0.05, momentum=momentum, dampening=dampening, weight_decay=wd,
              nesterov=nesterov, maximize=maximize)
    for step in range(4):
        gs = _arrays(rng)
        F.sgd_multi_step(lib, ps, gs, bufs if momentum else [], [step == 0] * len(ps), **kw)
        rbufs = [F.sgd_step(p, g, b, **kw) for p, g, b in zip(ref, gs, rbufs)]
        for a, b in zip(ps, ref):
            assert a.tobytes() == b.tobytes()
        if momentum:
            for a, b in zip(bufs, rbufs):
                assert a.tobytes() == b.tobytes()


def test_multi_rejects_bad_lists():
    a = np.zeros(4, np.float32)
    with pytest.raises(ValueError, match="grads"):
        lib.sgd_multi([a], [], [], [], 0.1, 0.0, 0.0, 0.0, False, False)
    with pytest.raises(TypeError, match="float32"):
        lib.sgd_multi([a], [np.zeros(4)], [], [], 0.1, 0.0, 0.0, 0.0, False, False)
    with pytest.raises(ValueError, match="elements"):
        lib.sgd_multi([a], [np.zeros(5, np.float32)], [], [], 0.1, 0.0, 0.0, 0.0, False, False)
    with pytest.raises(ValueError, match="read-only"):
        ro = np.zeros(4, np.float32)
        ro.flags.writeable = False
        lib.sgd_multi([ro], [a], [], [], 0.1, 0.0, 0.0, 0.0, False, False)


@pytest.mark.parametrize("make", [
    lambda ps: fastnn.optim.Adam(ps, lr=1e-2, amsgrad=True, weight_decay=0.1),
    lambda ps: fastnn.optim.AdamW(ps, lr=1e-2),
    lambda ps: fastnn.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3),
])
def test_optimizers_same_with_and_without_multi_tensor(make):
    """Optimizer.step on the cpp backend (one C++ call; a non-contiguous parameter takes the
    single-tensor path) gives the same bits as on numba (single-tensor path throughout)."""
    rng = np.random.default_rng(2)
    base = [rng.standard_normal(s).astype(np.float32) for s in [(5, 7), (16390,), (0, 3)]]
    grads = [[rng.standard_normal(b.shape).astype(np.float32) for b in base] for _ in range(3)]
    big = np.zeros((9, 8), np.float32)
    big[:, ::2] = rng.standard_normal((9, 4))
    out = []
    for name in ("cpp", "numba"):
        ps = [fastnn.nn.Parameter(fastnn.tensor(b.copy())) for b in base]
        nc = fastnn.nn.Parameter(fastnn.tensor(big.copy()))
        nc.array = nc.array[:, ::2]  # a non-contiguous view
        assert not nc.array.flags.c_contiguous
        ps.append(nc)
        opt = make(ps)
        with backends.use(name):
            for gs in grads:
                for p, g in zip(ps, gs + [np.ones((9, 4), np.float32)]):
                    p.grad = fastnn.tensor(g)
                opt.step()
        out.append([p.array.tobytes() for p in ps])
    assert out[0] == out[1]
