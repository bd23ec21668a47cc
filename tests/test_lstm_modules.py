"""nn.LSTM / LSTMCell / GRU / GRUCell / pad_sequence against PyTorch with copied weights: outputs,
final states and every parameter and input gradient, over a pairwise sample of the issue's grid
(batch 1/3/64, T 1/7/40, input 5/64, hidden 8/128, 1-2 layers, batch_first, bidirectional, with
and without (h0, c0)); zero-length batch; bad input; weights transfer both ways."""

# ruff: noqa: E741  (I is the input size, as in the kernel contract's (T, B, I, H) notation)

import numpy as np
import pytest

import fastnn
import fastnn.nn as nn
from fastnn import backends
from fastnn.nn.utils.rnn import pad_sequence

torch = pytest.importorskip("torch")

# (B, T, I, H, layers, batch_first, bidirectional, with_state)
GRID = [
    (1, 1, 5, 8, 1, False, False, False),
    (3, 7, 5, 8, 2, True, True, True),
    (64, 7, 64, 128, 1, True, False, True),
    (3, 40, 64, 8, 1, False, True, False),
    (1, 40, 5, 128, 2, False, False, True),
    (64, 1, 5, 8, 2, True, True, False),
    (3, 1, 64, 128, 1, False, True, True),
    (64, 40, 5, 8, 1, True, False, False),
]
SMALL = [GRID[0], GRID[1], GRID[5]]


def _copy_weights(src_torch, dst):
    params = dict(dst.named_parameters())
    assert sorted(params) == sorted(n for n, _ in src_torch.named_parameters())
    for name, p in src_torch.named_parameters():
        assert tuple(params[name].shape) == tuple(p.shape), name
        params[name].array[...] = p.detach().numpy()


def _close(got, ref, what, scale_tol=2e-4):
    got = got.detach().numpy() if hasattr(got, "detach") else np.asarray(got)
    ref = ref.detach().numpy()
    assert got.shape == ref.shape, f"{what}: shape {got.shape} vs {ref.shape}"
    if ref.size:
        err = np.abs(got.astype(np.float64) - ref).max()
        assert err <= scale_tol * max(1.0, np.abs(ref).max()), f"{what}: max error {err:.3g}"


def _rnn_case(kind, case, seed=0):
    B, T, I, H, L, bf, bi, with_state = case
    rng = np.random.default_rng(seed)
    tm = getattr(torch.nn, kind)(I, H, num_layers=L, batch_first=bf, bidirectional=bi)
    fm = getattr(nn, kind)(I, H, num_layers=L, batch_first=bf, bidirectional=bi)
    _copy_weights(tm, fm)
    D = 2 if bi else 1
    x = rng.standard_normal((B, T, I) if bf else (T, B, I)).astype(np.float32)
    states = [
        rng.standard_normal((L * D, B, H)).astype(np.float32)
        for _ in range(2 if kind == "LSTM" else 1)
    ]
    tx = torch.tensor(x, requires_grad=True)
    fx = fastnn.tensor(x, requires_grad=True)
    ts = [torch.tensor(s, requires_grad=True) for s in states]
    fs = [fastnn.tensor(s, requires_grad=True) for s in states]
    if kind == "LSTM":
        targ = (ts[0], ts[1]) if with_state else None
        farg = (fs[0], fs[1]) if with_state else None
    else:
        targ = ts[0] if with_state else None
        farg = fs[0] if with_state else None
    ty, tstate = tm(tx, targ)
    fy, fstate = fm(fx, farg)
    tstate = tstate if kind == "LSTM" else (tstate,)
    fstate = fstate if kind == "LSTM" else (fstate,)
    ry = rng.standard_normal(tuple(ty.shape)).astype(np.float32)
    rs = [rng.standard_normal(tuple(s.shape)).astype(np.float32) for s in tstate]
    tloss = (ty * torch.tensor(ry)).sum() + sum(
        (s * torch.tensor(r)).sum() for s, r in zip(tstate, rs)
    )
    floss = (fy * fastnn.tensor(ry)).sum() + sum(
        (s * fastnn.tensor(r)).sum() for s, r in zip(fstate, rs)
    )
    tloss.backward()
    floss.backward()
    _close(fy, ty, "output")
    for i, (f, t) in enumerate(zip(fstate, tstate)):
        _close(f, t, f"state[{i}]")
    _close(fx.grad, tx.grad, "input grad")
    if with_state:
        for i, (f, t) in enumerate(zip(fs, ts)):
            _close(f.grad, t.grad, f"hx[{i}] grad")
    fparams = dict(fm.named_parameters())
    for name, p in tm.named_parameters():
        _close(fparams[name].grad, p.grad, f"{name} grad")


@pytest.mark.parametrize(
    "case", GRID, ids=lambda c: "B{}-T{}-I{}-H{}-L{}-bf{:d}-bi{:d}-hx{:d}".format(*c)
)
def test_lstm_matches_torch(case):
    _rnn_case("LSTM", case)


@pytest.mark.parametrize(
    "case",
    [(7, 5, 9, 181, 2, True, True, True), (13, 3, 3, 257, 1, False, False, True),
     (1, 4, 6, 181, 1, True, False, False)],
    ids=lambda c: "B{}-T{}-I{}-H{}-L{}-bf{:d}-bi{:d}-hx{:d}".format(*c),
)
@pytest.mark.parametrize("threads", [1, 2])
def test_lstm_packed_recurrence_matches_torch(case, threads):
    """Hidden sizes off the 16-column panels, several depth passes, the threaded split over
    hidden units (C++ backend, the default), forward and backward vs PyTorch."""
    fastnn.set_num_threads(threads)  # conftest restores the count afterwards
    _rnn_case("LSTM", case)


@pytest.mark.parametrize("name", ["reference", "numba"])
@pytest.mark.parametrize("case", SMALL[:2], ids=lambda c: f"B{c[0]}-T{c[1]}-L{c[4]}-bi{c[6]:d}")
def test_lstm_matches_torch_other_backends(name, case):
    if not backends.available(name)[0]:
        pytest.skip(f"{name} unavailable")
    with backends.use(name):
        _rnn_case("LSTM", case)


@pytest.mark.parametrize("case", SMALL, ids=lambda c: f"B{c[0]}-T{c[1]}-L{c[4]}-bi{c[6]:d}")
def test_gru_matches_torch(case):
    _rnn_case("GRU", case)


@pytest.mark.parametrize("kind", ["LSTMCell", "GRUCell"])
@pytest.mark.parametrize(
    "B,I,H,with_state", [(1, 5, 8, True), (3, 64, 128, False), (64, 5, 128, True)]
)
def test_cells_match_torch(kind, B, I, H, with_state):
    rng = np.random.default_rng(1)
    tm, fm = getattr(torch.nn, kind)(I, H), getattr(nn, kind)(I, H)
    _copy_weights(tm, fm)
    x = rng.standard_normal((B, I)).astype(np.float32)
    n_states = 2 if kind == "LSTMCell" else 1
    states = [rng.standard_normal((B, H)).astype(np.float32) for _ in range(n_states)]
    tx, fx = torch.tensor(x, requires_grad=True), fastnn.tensor(x, requires_grad=True)
    ts = [torch.tensor(s, requires_grad=True) for s in states]
    fs = [fastnn.tensor(s, requires_grad=True) for s in states]
    if kind == "LSTMCell":
        tout = tm(tx, tuple(ts) if with_state else None)
        fout = fm(fx, tuple(fs) if with_state else None)
    else:
        tout = (tm(tx, ts[0] if with_state else None),)
        fout = (fm(fx, fs[0] if with_state else None),)
    rs = [rng.standard_normal((B, H)).astype(np.float32) for _ in tout]
    sum((o * torch.tensor(r)).sum() for o, r in zip(tout, rs)).backward()
    sum((o * fastnn.tensor(r)).sum() for o, r in zip(fout, rs)).backward()
    for i, (f, t) in enumerate(zip(fout, tout)):
        _close(f, t, f"out[{i}]")
    _close(fx.grad, tx.grad, "input grad")
    if with_state:
        for f, t in zip(fs, ts):
            _close(f.grad, t.grad, "state grad")
    fparams = dict(fm.named_parameters())
    for name, p in tm.named_parameters():
        _close(fparams[name].grad, p.grad, f"{name} grad")


def test_unbatched_inputs_match_torch():
    tm, fm = torch.nn.LSTM(5, 8, num_layers=2), nn.LSTM(5, 8, num_layers=2)
    _copy_weights(tm, fm)
    x = np.random.default_rng(2).standard_normal((6, 5)).astype(np.float32)
    ty, (th, tc) = tm(torch.tensor(x))
    fy, (fh, fc) = fm(fastnn.tensor(x))
    _close(fy, ty, "output")
    _close(fh, th, "h_n")
    _close(fc, tc, "c_n")
    tcell, fcell = torch.nn.LSTMCell(5, 8), nn.LSTMCell(5, 8)
    _copy_weights(tcell, fcell)
    for f, t in zip(fcell(fastnn.tensor(x[0])), tcell(torch.tensor(x[0]))):
        _close(f, t, "cell")


def test_zero_length_batch():
    m = nn.LSTM(5, 8, num_layers=2, bidirectional=True, batch_first=True)
    x = fastnn.zeros(0, 7, 5, requires_grad=True)
    y, (h, c) = m(x)
    assert tuple(y.shape) == (0, 7, 16) and tuple(h.shape) == tuple(c.shape) == (4, 0, 8)
    (y.sum() + h.sum()).backward()
    assert tuple(x.grad.shape) == (0, 7, 5)
    assert float(np.abs(m.weight_ih_l0.grad.detach().numpy()).max()) == 0.0
    hc, cc = nn.LSTMCell(5, 8)(fastnn.zeros(0, 5))
    assert tuple(hc.shape) == (0, 8)
    # zero-length sequences: the state passes through unchanged
    h0 = fastnn.randn(1, 3, 8)
    y, (h, _) = nn.LSTM(5, 8)(fastnn.zeros(0, 3, 5), (h0, fastnn.zeros(1, 3, 8)))
    assert tuple(y.shape) == (0, 3, 8)
    np.testing.assert_array_equal(h.detach().numpy(), h0.numpy())


def test_bad_input_raises_clear_errors():
    m = nn.LSTM(5, 8, num_layers=2)
    x = fastnn.randn(7, 3, 5)
    with pytest.raises(ValueError, match="input: expected input_size 5"):
        m(fastnn.randn(7, 3, 4))
    with pytest.raises(RuntimeError, match="input: expected input_size 5"):  # PyTorch's type too
        m(fastnn.randn(7, 3, 4))
    with pytest.raises(ValueError, match="input: LSTM expects a 2-D .* or 3-D"):
        m(fastnn.randn(2, 7, 3, 5))
    with pytest.raises(ValueError, match=r"hx\[0\] \(h_0\): expected shape \(2, 3, 8\)"):
        m(x, (fastnn.zeros(1, 3, 8), fastnn.zeros(2, 3, 8)))
    with pytest.raises(ValueError, match=r"hx\[1\] \(c_0\): expected shape \(2, 3, 8\)"):
        m(x, (fastnn.zeros(2, 3, 8), fastnn.zeros(2, 4, 8)))
    with pytest.raises(TypeError, match="hx: expected a tuple"):
        m(x, fastnn.zeros(2, 3, 8))
    with pytest.raises(ValueError, match="input: expected input_size 5"):
        nn.LSTMCell(5, 8)(fastnn.randn(3, 6))
    with pytest.raises(ValueError, match=r"hx\[0\] \(h\): expected shape \(3, 8\)"):
        nn.LSTMCell(5, 8)(fastnn.randn(3, 5), (fastnn.zeros(3, 7), fastnn.zeros(3, 8)))
    with pytest.raises(ValueError, match="hx .h_0.: expected shape"):
        nn.GRU(5, 8)(x, fastnn.zeros(2, 3, 8))
    with pytest.raises(ValueError, match="dropout"):
        nn.LSTM(5, 8, dropout=1.5)
    with pytest.raises(ValueError, match="proj_size: has to be smaller than hidden_size"):
        nn.LSTM(5, 8, proj_size=8)


def test_dropout_between_layers():
    fastnn.manual_seed(0)
    m = nn.LSTM(5, 8, num_layers=2, dropout=0.5)
    x = fastnn.randn(6, 3, 5)
    m.eval()
    y_eval, _ = m(x)
    m.p_free = nn.LSTM(5, 8, num_layers=2)
    m.p_free.load_state_dict(m.state_dict(), strict=False)
    ref, _ = m.p_free(x)
    np.testing.assert_allclose(
        y_eval.detach().numpy(), ref.detach().numpy(), rtol=1e-6
    )  # eval: no dropout
    m.train()
    y1, _ = m(x)
    y2, _ = m(x)
    assert not np.allclose(y1.detach().numpy(), y_eval.detach().numpy())
    assert not np.allclose(y1.detach().numpy(), y2.detach().numpy())


def test_weights_transfer_both_ways():
    tm = torch.nn.LSTM(5, 8, num_layers=2, bidirectional=True)
    fm = nn.LSTM(5, 8, num_layers=2, bidirectional=True)
    assert [n for n, _ in fm.named_parameters()] == [n for n, _ in tm.named_parameters()]
    tm.load_state_dict({k: torch.tensor(v.detach().numpy()) for k, v in fm.state_dict().items()})
    x = np.random.default_rng(3).standard_normal((4, 2, 5)).astype(np.float32)
    _close(fm(fastnn.tensor(x))[0], tm(torch.tensor(x))[0], "output")
    # PyTorch's init: U(-1/sqrt(H), 1/sqrt(H)) for every parameter
    big = nn.LSTM(64, 128)
    w = np.concatenate([p.detach().numpy().ravel() for p in big.parameters()])
    assert np.abs(w).max() <= 1 / np.sqrt(128) and np.abs(w).max() > 0.98 / np.sqrt(128)
    assert repr(nn.LSTM(64, 128, batch_first=True)) == repr(
        torch.nn.LSTM(64, 128, batch_first=True)
    )


def test_pad_sequence_matches_torch():
    rng = np.random.default_rng(4)
    seqs = [rng.standard_normal((n, 3)).astype(np.float32) for n in (2, 5, 1)]
    for bf in (False, True):
        for side in ("right", "left"):
            fs = [fastnn.tensor(s, requires_grad=True) for s in seqs]
            ts = [torch.tensor(s, requires_grad=True) for s in seqs]
            fp = pad_sequence(fs, batch_first=bf, padding_value=-1.0, padding_side=side)
            tp = torch.nn.utils.rnn.pad_sequence(
                ts, batch_first=bf, padding_value=-1.0, padding_side=side
            )
            _close(fp, tp, "padded")
            r = rng.standard_normal(tuple(tp.shape)).astype(np.float32)
            (fp * fastnn.tensor(r)).sum().backward()
            (tp * torch.tensor(r)).sum().backward()
            for f, t in zip(fs, ts):
                _close(f.grad, t.grad, "grad")
    with pytest.raises(ValueError, match=r"sequences\[1\]: trailing dimensions"):
        pad_sequence([fastnn.zeros(2, 3), fastnn.zeros(2, 4)])
