"""The training-step race: one step (zero_grad, forward, loss, backward, optimizer step) of six
standard models in fastnn and in PyTorch, steps/s and the ratio.

Each model is written once against a ``torch``-like module (``fastnn`` or ``torch``), so both
frameworks build exactly the same network from the same code. Before timing, PyTorch's initial
weights are loaded into the fastnn model and the two eval-mode losses on the same batch are
compared (a framework that computes something else is FAIL, not timed).

Contenders: each fastnn CPU backend, PyTorch eager and PyTorch ``torch.compile`` (Inductor, the
model compiled, the optimizer eager; a compile that fails is an ``error`` row with the reason).
Each row carries the step's FLOPs (PyTorch's FlopCounterMode over one forward + backward: the
matmuls, convolutions, LSTM and attention products) so the report gives % of the FMA roof. The
race runs at the session's thread count and, when that is more than one, again at 1 thread
(those rows' % roof is of the 1-thread FMA roof).
"""

from __future__ import annotations

import contextlib
import importlib
import traceback
import warnings
from dataclasses import dataclass

import numpy as np

from .harness import Contender, Result, _ratios, _time_interleaved
from .specs.base import Unavailable, native, optional

LOSS_TOLERANCE = 1e-3  # float32 forward of a small network, different summation orders


def mlp(torch):
    nn = torch.nn
    return nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))


def cnn(torch):
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(2304, 128),
        nn.ReLU(),
        nn.Linear(128, 10),
    )


def lstm_classifier(torch):
    nn = torch.nn

    class LSTMClassifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(10000, 64)
            self.lstm = nn.LSTM(64, 128, batch_first=True)
            self.fc1 = nn.Linear(128, 64)
            self.dropout = nn.Dropout(0.2)
            self.fc2 = nn.Linear(64, 3)

        def forward(self, tokens):
            _, (h, _) = self.lstm(self.embedding(tokens))
            return self.fc2(self.dropout(self.fc1(h[-1])))

    return LSTMClassifier()


def transformer(torch):
    nn = torch.nn
    layer = nn.TransformerEncoderLayer(d_model=128, nhead=4, dim_feedforward=512, batch_first=True)
    return nn.TransformerEncoder(layer, num_layers=2)


def resnet(torch, blocks=(2, 2, 2)):
    """yunjey/pytorch-tutorial's CIFAR-10 ResNet (02-intermediate/deep_residual_network): a 3x3
    conv stem, three stages of residual blocks (Conv3x3-BN-ReLU-Conv3x3-BN, residual add, ReLU)
    at 16, 32 and 64 channels (stride 2 into the last two, a conv-BN downsample there),
    AvgPool2d(8), Linear(64, 10); ``blocks`` per stage ([2, 2, 2] as published)."""
    nn = torch.nn

    def conv3x3(cin, cout, stride=1):
        return nn.Conv2d(cin, cout, kernel_size=3, stride=stride, padding=1, bias=False)

    class ResidualBlock(nn.Module):
        def __init__(self, cin, cout, stride=1, downsample=None):
            super().__init__()
            self.conv1 = conv3x3(cin, cout, stride)
            self.bn1 = nn.BatchNorm2d(cout)
            self.relu = nn.ReLU(inplace=True)
            self.conv2 = conv3x3(cout, cout)
            self.bn2 = nn.BatchNorm2d(cout)
            self.downsample = downsample

        def forward(self, x):
            residual = x
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            if self.downsample:
                residual = self.downsample(x)
            out += residual
            return self.relu(out)

    class ResNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.in_channels = 16
            self.conv = conv3x3(3, 16)
            self.bn = nn.BatchNorm2d(16)
            self.relu = nn.ReLU(inplace=True)
            self.layer1 = self.make_layer(16, blocks[0])
            self.layer2 = self.make_layer(32, blocks[1], 2)
            self.layer3 = self.make_layer(64, blocks[2], 2)
            self.avg_pool = nn.AvgPool2d(8)
            self.fc = nn.Linear(64, 10)

        def make_layer(self, cout, n, stride=1):
            downsample = None
            if stride != 1 or self.in_channels != cout:
                downsample = nn.Sequential(conv3x3(self.in_channels, cout, stride),
                                           nn.BatchNorm2d(cout))
            layers = [ResidualBlock(self.in_channels, cout, stride, downsample)]
            self.in_channels = cout
            layers += [ResidualBlock(cout, cout) for _ in range(1, n)]
            return nn.Sequential(*layers)

        def forward(self, x):
            out = self.relu(self.bn(self.conv(x)))
            out = self.layer3(self.layer2(self.layer1(out)))
            out = self.avg_pool(out)
            return self.fc(out.view(out.size(0), -1))

    return ResNet()


def lstm_lm(torch, vocab=10000, embed=128, hidden=1024):
    """yunjey/pytorch-tutorial's LSTM language model (02-intermediate/language_model): Embedding,
    a 1-layer batch-first LSTM, Linear to the vocabulary over every step. Truncated BPTT as the
    client trains it: each training forward starts from the previous step's (h, c), detached
    (zeros on the first); an eval forward starts from zeros and keeps no state."""
    nn = torch.nn

    class RNNLM(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(vocab, embed)
            self.lstm = nn.LSTM(embed, hidden, 1, batch_first=True)
            self.linear = nn.Linear(hidden, vocab)
            self.state = None

        def forward(self, x):
            state = self.state if self.training else None
            if state is None:
                zeros = torch.zeros(1, x.shape[0], hidden)
                state = (zeros, zeros.clone())
            out, (h, c) = self.lstm(self.embed(x), state)
            if self.training:
                self.state = (h.detach(), c.detach())
            out = out.reshape(out.size(0) * out.size(1), out.size(2))
            return self.linear(out)

    return RNNLM()


def _cross_entropy(torch, out, y):
    return torch.nn.functional.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1))


@dataclass
class Model:
    name: str
    build: object
    data: object  # rng -> (x, y) NumPy arrays
    optimizer: object  # (torch, params) -> optimizer
    kernels: tuple  # contract kernels the step needs natively
    uncounted_flops: float = 0.0  # FLOPs FlopCounterMode does not see (aten LSTM on CPU)
    clip: float | None = None  # clip_grad_norm_ to this before the optimizer step


def _lstm_step_flops(t, b, i, h):
    """One LSTM layer's forward + backward GEMM FLOPs (FlopCounterMode does not see aten's
    CPU LSTM): forward T*2*B*4H*(I+H), backward twice that."""
    return 3 * t * 2 * b * 4 * h * (i + h)


def _adam(torch, params):
    return torch.optim.Adam(params, lr=1e-3)


def _lm_adam(torch, params):
    return torch.optim.Adam(params, lr=0.002)


def _sgd(torch, params):
    return torch.optim.SGD(params, lr=0.01, momentum=0.9)


def _images(batch):
    return lambda r: (r.standard_normal((batch, 3, 32, 32), np.float32), r.integers(0, 10, batch))


def _tokens(batch, seq, vocab=10000):
    return lambda r: (r.integers(0, vocab, (batch, seq)), r.integers(0, vocab, (batch, seq)))


_CONV = ("gemm", "conv2d_forward", "conv2d_backward_input", "conv2d_backward_weight")
_LSTM = ("gemm", "lstm_sequence_forward", "lstm_sequence_backward")
RESNET = Model(
    "ResNet-CIFAR [2,2,2] 16-32-64 BN Adam b100 3x32x32",
    resnet,
    _images(100),
    _adam,
    _CONV,
)
RESNET_QUICK = Model(
    "ResNet-CIFAR [1,1,1] 16-32-64 BN Adam b32 3x32x32",
    lambda t: resnet(t, (1, 1, 1)),
    _images(32),
    _adam,
    _CONV,
)
LSTM_LM = Model(
    "LSTM-LM V10k E128 H1024 Adam+clip b20 T30",
    lstm_lm,
    _tokens(20, 30),
    _lm_adam,
    _LSTM,
    _lstm_step_flops(30, 20, 128, 1024),
    clip=0.5,
)
LSTM_LM_QUICK = Model(
    "LSTM-LM V10k E128 H1024 Adam+clip b20 T10",
    lstm_lm,
    _tokens(20, 10),
    _lm_adam,
    _LSTM,
    _lstm_step_flops(10, 20, 128, 1024),
    clip=0.5,
)

MODELS = [
    Model(
        "MLP 784-256-10 Adam b64",
        mlp,
        lambda r: (r.standard_normal((64, 784), np.float32), r.integers(0, 10, 64)),
        _adam,
        ("gemm",),
    ),
    Model(
        "CNN 3x24x24 SGD-m b64",
        cnn,
        lambda r: (r.standard_normal((64, 3, 24, 24), np.float32), r.integers(0, 10, 64)),
        _sgd,
        ("gemm", "conv2d_forward", "conv2d_backward_input", "conv2d_backward_weight"),
    ),
    Model(
        "Emb-LSTM 64-128 Adam b64 T100",
        lstm_classifier,
        lambda r: (r.integers(0, 10000, (64, 100)), r.integers(0, 3, 64)),
        _adam,
        ("gemm", "lstm_sequence_forward", "lstm_sequence_backward"),
        _lstm_step_flops(100, 64, 64, 128),
    ),
    Model(
        "Transformer 2x128 h4 Adam b32 L64",
        transformer,
        lambda r: (r.standard_normal((32, 64, 128), np.float32), r.integers(0, 128, (32, 64))),
        _adam,
        ("gemm", "attention_forward", "attention_backward"),
    ),
]
SIZES = {
    "tiny": MODELS[:1],
    "quick": MODELS + [RESNET_QUICK, LSTM_LM_QUICK],
    "full": MODELS + [RESNET, LSTM_LM],
}


class _Trainer:
    """A built model, optimizer and batch in one framework; ``step()`` is what is timed."""

    def __init__(self, torch, model: Model, seed: int, compiled: bool = False):
        if hasattr(torch, "manual_seed"):
            torch.manual_seed(seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # PyTorch's nested-tensor notice for batch_first
            self.net = model.build(torch)
        self.opt = model.optimizer(torch, self.net.parameters())
        x, y = model.data(np.random.default_rng(seed))
        self.x, self.y = torch.tensor(x), torch.tensor(np.asarray(y, dtype=np.int64))
        self.torch = torch
        self.clip = model.clip
        self.forward = torch.compile(self.net) if compiled else self.net

    def loss(self):
        return _cross_entropy(self.torch, self.forward(self.x), self.y)

    def step(self):
        self.opt.zero_grad()
        loss = self.loss()
        loss.backward()
        if self.clip is not None:
            self.torch.nn.utils.clip_grad_norm_(self.net.parameters(), self.clip)
        self.opt.step()
        return loss

    def eval_loss(self) -> float:
        self.net.eval()
        try:
            with self.torch.no_grad():
                return float(np.asarray(_value(self.loss())))
        finally:
            self.net.train()


def _value(t):
    if hasattr(t, "detach"):
        t = t.detach()
    if hasattr(t, "numpy"):
        return t.numpy()
    return np.asarray(t)


def _copy_weights(src: _Trainer, dst: _Trainer, fastnn) -> None:
    state = {k: fastnn.tensor(np.array(_value(v))) for k, v in src.net.state_dict().items()}
    dst.net.load_state_dict(state)


class WrongResult(Exception):
    """fastnn's loss disagrees with PyTorch's on the same weights and batch."""

    def __init__(self, msg, error):
        super().__init__(msg)
        self.error = error


def fastnn_trainer(c, model: Model, seed: int, ref: _Trainer | None, framework=None):
    """(trainer, note) for fastnn backend contender ``c``, its loss cross-checked against
    PyTorch's trainer ``ref`` when given. Raises Unavailable (n/a) when the backend lacks a kernel
    the model needs (the step would time the reference fallback) or the framework lacks a piece,
    WrongResult when the losses disagree. ``framework`` replaces the fastnn module (tests)."""
    import fastnn

    from .. import backends

    fw = framework or fastnn
    missing = native(c.module, model.kernels)
    if missing:
        raise Unavailable(f"{missing} (the step would time the reference fallback)")
    note = ""
    with backends.use(c.name):
        try:
            for sub in ("nn", "nn.functional", "optim"):  # as a script would `import fastnn.nn`
                importlib.import_module(f"{fw.__name__}.{sub}")
            tr = _Trainer(fw, model, seed)
        except (AttributeError, ImportError, NotImplementedError, TypeError) as exc:
            raise Unavailable(f"fastnn framework: {_short(exc)}") from exc
        if ref is not None:
            try:
                _copy_weights(ref, tr, fw)
                want, got = ref.eval_loss(), tr.eval_loss()
            except Exception as exc:
                return tr, f"loss not cross-checked with PyTorch: {_short(exc)}"
            err = abs(got - want) / max(abs(want), 1e-30)
            if not err <= LOSS_TOLERANCE:
                raise WrongResult(
                    f"initial loss {got:.6g} vs PyTorch {want:.6g} (rel {err:.2g} > "
                    f"{LOSS_TOLERANCE}); not timed",
                    err,
                )
    return tr, note


def race(
    fastnn_contenders, sizes: str, *, seed: int, budget, progress=None, framework=None,
    one_thread: bool = True, compile: bool = True,
) -> list:
    """Rows for the training-step race (kernel "train", one size per model): at the session's
    thread count, then (``one_thread`` and more than one thread now) at 1 thread, sized
    "<model> 1 thread"; ``compile``: PyTorch's torch.compile contender too."""
    import fastnn

    kw = dict(seed=seed, budget=budget, progress=progress, framework=framework, compile=compile)
    rows = _race(fastnn_contenders, sizes, suffix="", **kw)
    threads = fastnn.get_num_threads()
    if one_thread and threads > 1:
        with _threads(1):
            one = _race(fastnn_contenders, sizes, suffix=" 1 thread", **kw)
            peak = _one_thread_roof()
        for r in one:  # % of the 1-thread roof (report.apply_roof keeps a figure already set)
            if peak and r.gflops:
                r.pct_roof = 100.0 * r.gflops / peak
        rows += one
    return rows


def _one_thread_roof() -> float | None:
    """The FMA roof of one thread (GFLOP/s, best of five 0.1 s windows), for the 1-thread rows."""
    try:
        from ..backends.cpp._loader import load

        fma = load().roof_fma
        return max(float(fma(seconds=0.1, threads=1)) for _ in range(5))
    except Exception:
        return None


@contextlib.contextmanager
def _threads(n: int):
    """fastnn, PyTorch and the BLAS pools at ``n`` threads; the previous counts restored after."""
    import fastnn

    torch, _ = optional("torch")
    before = fastnn.get_num_threads(), torch.get_num_threads() if torch is not None else None
    fastnn.set_num_threads(n)
    if torch is not None:
        torch.set_num_threads(n)
    try:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(n):
            yield
    finally:
        fastnn.set_num_threads(before[0])
        if torch is not None:
            torch.set_num_threads(before[1])


def step_flops(torch, model: Model, seed: int) -> float | None:
    """FLOPs of one training step's forward + backward as PyTorch's FlopCounterMode counts them
    (matmul, convolution, attention products; elementwise work and the optimizer not counted);
    None where the counter is missing or fails."""
    try:
        from torch.utils.flop_counter import FlopCounterMode

        tr = _Trainer(torch, model, seed)
        with FlopCounterMode(display=False) as counter:
            tr.loss().backward()
        total = counter.get_total_flops() + model.uncounted_flops
        return float(total) if total else None
    except Exception:
        return None


def _race(fastnn_contenders, sizes, *, seed, budget, progress, framework, suffix,
          compile) -> list:
    torch, why = optional("torch")
    rows = []
    cpu = [c for c in fastnn_contenders if c.kind == "fastnn" and c.device == "cpu"]
    for model in SIZES[sizes]:
        live, model_rows = [], []
        flops = step_flops(torch, model, seed) if torch is not None else None

        def row(c, status, reason="", _rows=model_rows, _name=model.name + suffix,
                _flops=flops, **kw):
            r = Result("train", _name, c.name, c.kind, status, reason, unit="steps/s",
                       flops=_flops, **kw)
            _rows.append(r)
            return r

        ref = None
        if torch is None:
            row(Contender("torch", "reference"), "n/a", f"reference missing: {why}")
        else:
            try:
                ref = _Trainer(torch, model, seed)
            except Exception as exc:
                row(Contender("torch", "reference"), "error", _short(exc))
        for c in cpu:
            if c.why_na or c.module is None:
                row(c, "n/a", c.why_na or "not a CPU backend")
                continue
            try:
                tr, note = fastnn_trainer(c, model, seed, ref, framework)
                first = _first_step(tr, c.name)
            except Unavailable as exc:
                row(c, "n/a", str(exc))
                continue
            except WrongResult as exc:
                row(c, "FAIL", str(exc), error=exc.error)
                continue
            except Exception as exc:
                row(c, "error", f"fastnn framework: {_short(exc)}")
                continue
            live.append((c, _bound(c, tr), row(c, "ok", note, first_call_ms=first)))
        if live and ref is not None:
            first = _first_step(ref)
            live.append(
                (
                    Contender("torch", "reference"),
                    ref.step,
                    row(Contender("torch", "reference"), "ok", first_call_ms=first),
                )
            )
            compiled = Contender("torch.compile", "reference")
            try:  # compiles on the first step (Inductor: C++ codegen, minutes on 2 cores)
                if not compile:
                    raise Unavailable("not requested")
                tc = _Trainer(torch, model, seed, compiled=True)
                first = _first_step(tc)
            except Unavailable as exc:
                row(compiled, "n/a", str(exc))
            except Exception as exc:
                row(compiled, "error", f"torch.compile: {_short(exc)}")
            else:
                live.append((compiled, tc.step, row(compiled, "ok", first_call_ms=first)))
        elif ref is not None:
            row(Contender("torch", "reference"), "n/a", "no fastnn step to race against")
        if live:
            _time_interleaved(live, budget, None)
            for _, _, r in live:
                r.rate = 1e3 / r.median_ms if r.median_ms else None
        _ratios(model_rows)
        rows += model_rows
        if progress is not None:
            progress.update(1)
    return rows


def _bound(c, trainer):
    from .. import backends

    def step():
        with backends.use(c.name):
            return trainer.step()

    return step


def _first_step(trainer, backend=None) -> float:
    import time

    from .. import backends

    t = time.perf_counter()
    if backend is None:
        loss = trainer.step()
    else:
        with backends.use(backend):
            loss = trainer.step()
    float(np.asarray(_value(loss)))
    return (time.perf_counter() - t) * 1e3


def _short(exc) -> str:
    return traceback.format_exception_only(type(exc), exc)[-1].strip()[:300]
