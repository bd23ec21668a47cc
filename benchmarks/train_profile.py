"""cProfile of one training-race model's steps (fastnn.bench.train), cpp backend: the top costs
by own time.

    PYTHONPATH=. python benchmarks/train_profile.py MODEL_INDEX [STEPS] [THREADS]

MODEL_INDEX: 0 MLP, 1 CNN, 2 Emb-LSTM, 3 Transformer (fastnn.bench.train.MODELS), 4 ResNet and
5 LSTM-LM at their quick shapes, 6 ResNet and 7 LSTM-LM at their full shapes.
"""

import cProfile
import pstats
import sys
import time

import fastnn
from fastnn import backends
from fastnn.bench.train import LSTM_LM, LSTM_LM_QUICK, MODELS, RESNET, RESNET_QUICK, _Trainer


def main():
    model = [*MODELS, RESNET_QUICK, LSTM_LM_QUICK, RESNET, LSTM_LM][int(sys.argv[1])]
    steps = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    fastnn.set_num_threads(int(sys.argv[3]) if len(sys.argv) > 3 else 1)
    with backends.use("cpp"):
        tr = _Trainer(fastnn, model, 0)
        for _ in range(3):
            tr.step()
        t = time.perf_counter()
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(steps):
            tr.step()
        prof.disable()
    print(f"{model.name}: {(time.perf_counter() - t) / steps * 1e3:.3g} ms/step (profiled)")
    pstats.Stats(prof).sort_stats("tottime").print_stats(22)


if __name__ == "__main__":
    main()
