r"""A/B of the softmax-family kernels (csrc/softmax.cpp through fastnn.ops.softmax, "new") against
the NumPy passes they replace ("old", the formulas fastnn used before) and PyTorch's aten ops
("torch"), forward + backward of each op as one unit, at the shapes of the training race's
Transformer, nanoGPT (shakespeare-char) and the LSTM-LM client. Contenders interleaved, several
rounds, median ms per call; each op is validated against the old path first.

    PYTHONPATH=. python benchmarks/softmax_ab.py [THREADS ...]     (default: 1 2)

Whole training steps before/after (the race's Transformer and Emb-LSTM; torch eager beside them)
need the old package importable under another name, e.g. from the commit before this work:

    mkdir -p /tmp/base && git archive 83f237e fastnn | tar -x -C /tmp/base
    mv /tmp/base/fastnn /tmp/base/fastnn_base && cp fastnn/_C_*.so /tmp/base/fastnn_base/
    sed -i 's/"fastnn\._C/"fastnn_base._C/g' /tmp/base/fastnn_base/backends/cpp/_loader.py
(the old Python code over today's extension: the kernels it calls are unchanged)
    PYTHONPATH=.:/tmp/base python benchmarks/softmax_ab.py --steps [THREADS ...]
"""

import os
import sys
import time

import numpy as np
import torch

import fastnn
from fastnn.ops import softmax as S

RNG = np.random.default_rng(0)


def _f32(*shape, scale=3.0):
    return (RNG.standard_normal(shape) * scale).astype(np.float32)


def softmax_case(m, n, log):
    x, g = _f32(m, n), _f32(m, n, scale=1.0)
    tx, tg = torch.tensor(x), torch.tensor(g)

    def new():
        y = S.softmax(x, -1, log=log, backend="cpp")
        return y, S.softmax_backward(y, g, -1, log=log, backend="cpp")

    def old():
        s = x - x.max(axis=-1, keepdims=True)
        if log:
            y = s - np.log(np.exp(s).sum(axis=-1, keepdims=True))
            return y, g - np.exp(y) * g.sum(axis=-1, keepdims=True)
        e = np.exp(s)
        y = e / e.sum(axis=-1, keepdims=True)
        return y, y * (g - (g * y).sum(axis=-1, keepdims=True))

    def ref():
        if log:
            y = torch._log_softmax(tx, -1, False)
            return y, torch._log_softmax_backward_data(tg, y, -1, torch.float32)
        y = torch._softmax(tx, -1, False)
        return y, torch._softmax_backward_data(tg, y, -1, torch.float32)

    return new, old, ref


def cross_entropy_case(m, c):
    x = _f32(m, c)
    t = RNG.integers(0, c, m)
    tx, tt = torch.tensor(x), torch.tensor(t)
    coef = np.full(m, 1.0 / m, np.float32)

    def new():
        loss, lse = S.cross_entropy_forward(x, t, backend="cpp")
        return loss.sum() / m, S.cross_entropy_backward(x, t, lse, coef, backend="cpp")

    def old():  # fastnn/functions/loss.py before: log-softmax rows, gather, p = exp(logp)
        z = x - x.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        rows = np.arange(m)
        loss = (-logp[rows, t]).sum() / np.float32(m)
        dx = np.exp(logp) * coef[:, None]
        dx[rows, t] -= coef
        return loss, dx

    def ref():
        logp = torch._log_softmax(tx, 1, False)
        loss, tw = torch.ops.aten.nll_loss_forward(logp, tt, None, 1, -100)
        gl = torch.ops.aten.nll_loss_backward(torch.ones(()), logp, tt, None, 1, -100, tw)
        return loss, torch._log_softmax_backward_data(gl, logp, 1, torch.float32)

    return new, old, ref


def dropout_case(shape, p):
    x, g = _f32(*shape), _f32(*shape, scale=1.0)
    tx, tg = torch.tensor(x), torch.tensor(g)
    scale = 1.0 / (1.0 - p)

    def new():
        y, mask = S.dropout_forward(x, p, backend="cpp")
        return y, S.dropout_backward(g, mask, scale, backend="cpp")

    def old():  # fastnn/functions/nn_ops.py before: a float64 uniform per element
        keep = fastnn.random.generator().random(shape) >= p
        mask = keep.astype(np.float32) * np.float32(scale)
        return x * mask, g * mask

    def ref():
        y, mask = torch.ops.aten.native_dropout(tx, p, True)
        return y, torch.ops.aten.native_dropout_backward(tg, mask, scale)

    return new, old, ref


def embedding_case(n_idx, vocab, dim):
    idx = RNG.integers(0, vocab, n_idx)
    g = _f32(n_idx, dim, scale=1.0)
    ti, tg = torch.tensor(idx), torch.tensor(g)

    def new():
        return S.embedding_backward(g, idx, vocab, backend="cpp")

    def old():
        gw = np.zeros((vocab, dim), np.float32)
        np.add.at(gw, idx, g)
        return gw

    def ref():
        return torch.ops.aten.embedding_dense_backward(tg, ti, vocab, -1, False)

    return new, old, ref


CASES = [
    ("Transformer attn softmax (B*H*L=8192, 64)", lambda: softmax_case(8192, 64, False)),
    ("Transformer dropout (32,64,128) p=0.1", lambda: dropout_case((32, 64, 128), 0.1)),
    ("Transformer dropout (32,64,512) p=0.1", lambda: dropout_case((32, 64, 512), 0.1)),
    ("Transformer CE (2048, 128)", lambda: cross_entropy_case(2048, 128)),
    ("nanoGPT log_softmax (768, 65)", lambda: softmax_case(768, 65, True)),
    ("nanoGPT CE (12*64, 65)", lambda: cross_entropy_case(768, 65)),
    ("LSTM-LM CE (600, 10000)", lambda: cross_entropy_case(600, 10000)),
    ("LSTM-LM embedding bwd (600 -> 10000x128)", lambda: embedding_case(600, 10000, 128)),
    ("Emb-LSTM embedding bwd (6400 -> 10000x64)", lambda: embedding_case(6400, 10000, 64)),
]


def _check(new, old):
    a, b = new(), old()
    for u, v in zip(a if isinstance(a, tuple) else (a,), b if isinstance(b, tuple) else (b,)):
        if u.shape == v.shape and u.dtype != np.uint8:
            np.testing.assert_allclose(u, v, rtol=2e-4, atol=2e-5)


def _time(fns, rounds=9, min_s=0.02):
    """Median seconds per call of each fn, interleaved A, B, C per round."""
    per = []
    for f in fns:  # warm up and size the repeat count
        f()
        t = time.perf_counter()
        f()
        per.append(max(1, int(min_s / max(time.perf_counter() - t, 1e-7))))
    res = [[] for _ in fns]
    for _ in range(rounds):
        for i, f in enumerate(fns):
            t = time.perf_counter()
            for _ in range(per[i]):
                f()
            res[i].append((time.perf_counter() - t) / per[i])
    return [float(np.median(r)) for r in res]


def steps(threads):
    """ms/step of the race's Emb-LSTM and Transformer: this fastnn, the old one, torch eager."""
    import fastnn_base

    from fastnn.bench import train

    for n in threads:
        for mod in (fastnn, fastnn_base, torch):
            mod.set_num_threads(n)
        print(f"--- threads {n}  (median ms per training step)")
        for model in (train.MODELS[2], train.MODELS[3]):
            runs = []
            for mod in (fastnn, fastnn_base):
                with mod.backends.use("cpp"):
                    tr = train._Trainer(mod, model, 0)

                def step(tr=tr, mod=mod):
                    with mod.backends.use("cpp"):
                        tr.step()

                runs.append(step)
            runs.append(train._Trainer(torch, model, 0).step)
            t_new, t_old, t_ref = _time(runs, rounds=7, min_s=0.3)
            print(f"{model.name:36s} new {t_new * 1e3:6.1f}  old {t_old * 1e3:6.1f}  torch "
                  f"{t_ref * 1e3:6.1f}   old/new {t_old / t_new:5.2f}x  torch/new "
                  f"{t_ref / t_new:5.2f}x (old: {t_ref / t_old:5.2f}x)", flush=True)


def main():
    args = sys.argv[1:]
    print("load:", os.getloadavg())
    if args and args[0] == "--steps":
        steps([int(a) for a in args[1:]] or [1, 2])
        print("load:", os.getloadavg())
        return
    threads = [int(a) for a in args] or [1, 2]
    for n in threads:
        fastnn.set_num_threads(n)
        torch.set_num_threads(n)
        print(f"--- threads {n}  (median ms per fwd+bwd call; ratios > 1: new faster)")
        for name, make in CASES:
            new, old, ref = make()
            if "dropout" not in name:
                _check(new, old)
            t_new, t_old, t_ref = _time([new, old, ref])
            print(f"{name:44s} new {t_new * 1e3:7.3f}  old {t_old * 1e3:7.3f}  torch "
                  f"{t_ref * 1e3:7.3f}   old/new {t_old / t_new:5.2f}x  torch/new "
                  f"{t_ref / t_new:5.2f}x", flush=True)
    print("load:", os.getloadavg())


if __name__ == "__main__":
    main()
