"""CPU-time probes for the framework costs real clients hit (issue 19), fastnn against torch:

    python benchmarks/compat_hotspots.py bn          # BatchNorm2d fwd+bwd, tut-resnet's 3 shapes
    python benchmarks/compat_hotspots.py lm-sample   # tut-lm's one-token sampling step (H = 1024)
    python benchmarks/compat_hotspots.py lstm-train  # tut-lm's LSTM layer fwd / bwd (B20 T30)

CPU time (time.process_time), not wall time: the development machine is shared, and wall time
there measures the other jobs. Run with OMP_NUM_THREADS=2 as the compat suite does.
"""

import sys
import time


def _bn(torch):
    tot = 0.0
    for shape in [(100, 16, 32, 32), (100, 32, 16, 16), (100, 64, 8, 8)]:
        bn = torch.nn.BatchNorm2d(shape[1])
        x = torch.randn(*shape, requires_grad=True)
        for rep in range(12):
            t = time.process_time()
            y = bn(x)
            y.backward(torch.ones_like(y))
            if rep >= 2:
                tot += (time.process_time() - t) / 10
    return f"BatchNorm2d fwd+bwd, 3 shapes: {1e3 * tot:.1f} ms CPU"


def _lm_sample(torch, steps=200):
    nn = torch.nn
    embed, lstm, linear = nn.Embedding(800, 128), nn.LSTM(128, 1024, 1, batch_first=True), \
        nn.Linear(1024, 800)
    with torch.no_grad():
        state = (torch.zeros(1, 1, 1024), torch.zeros(1, 1, 1024))
        inp = torch.multinomial(torch.ones(800), num_samples=1).unsqueeze(1)
        for _warm_then_timed in range(2):
            t = time.process_time()
            for _ in range(steps):
                out, state = lstm(embed(inp), state)
                prob = linear(out.reshape(1, 1024)).exp()
                inp.fill_(torch.multinomial(prob, num_samples=1).item())
    return f"one sampling step: {1e3 * (time.process_time() - t) / steps:.2f} ms CPU"


def _lstm_train(torch):
    m = torch.nn.LSTM(128, 1024, 1, batch_first=True)
    x = torch.randn(20, 30, 128)
    st = (torch.zeros(1, 20, 1024), torch.zeros(1, 20, 1024))
    f = b = 0.0
    for rep in range(6):
        c = time.process_time()
        y, _ = m(x, st)
        c2 = time.process_time()
        y.sum().backward()
        if rep >= 1:
            f, b = f + c2 - c, b + time.process_time() - c2
    return f"LSTM layer: forward {f / 5 * 1e3:.1f} ms, backward {b / 5 * 1e3:.1f} ms CPU"


if __name__ == "__main__":
    probe = {"bn": _bn, "lm-sample": _lm_sample, "lstm-train": _lstm_train}[sys.argv[1]]
    for name in ("fastnn", "torch"):
        lib = __import__(name)
        lib.manual_seed(0)
        print(f"{name:6s} {probe(lib)}", flush=True)
