"""Coverage-guided fuzzing of ``fastnn.load`` with atheris (libFuzzer for Python).

Every input is a candidate checkpoint; ``fastnn.load`` must either return an object or raise
ValueError naming the input -- any other exception (TypeError, RecursionError, KeyError, a
crash) is a finding. The seed corpus under ``corpus_load/`` holds real checkpoints written by
``fastnn.save`` (made by ``python tests/fuzz/fuzz_load.py --make-corpus``) and one
``torch.save`` archive (``torch_checkpoint.pt``, made by the same command when torch is
installed), which ``fastnn.load`` reads with its weights-only unpickler.

    python tests/fuzz/fuzz_load.py tests/fuzz/corpus_load -max_total_time=60   # CI runs this
"""

import io
import sys

import atheris

import fastnn
import fastnn._torch_format as _tf
import fastnn.serialization as _ser

# coverage feedback from the loader's own code only (instrumenting every import -- numba,
# numpy -- costs minutes before the first input)
for _fn in (_ser.load, _ser._read_header, _ser._decode, _ser._placer, _tf._load,
            _tf._rebuild_tensor_v2, _tf._Unpickler.find_class, _tf._Unpickler.persistent_load):
    atheris.instrument_func(_fn)


def test_one_input(data: bytes) -> None:
    try:
        fastnn.load(io.BytesIO(data))
    except ValueError:
        pass


def make_corpus(folder: str) -> None:
    import os

    import numpy as np

    os.makedirs(folder, exist_ok=True)
    model = fastnn.nn.Sequential(fastnn.nn.Linear(3, 4), fastnn.nn.ReLU(), fastnn.nn.Linear(4, 2))
    opt = fastnn.optim.Adam(model.parameters())
    model(fastnn.randn(5, 3)).sum().backward()
    opt.step()
    objects = {
        "state_dict": model.state_dict(),
        "checkpoint": {"model": model.state_dict(), "optimizer": opt.state_dict(), "iter": 7,
                       "config": {"n_layer": 2, "bias": False, "name": "x"}, "best": 1.5},
        "nested": [(1, 2.0, None, "s"), {3: fastnn.zeros(2)}, np.arange(4)],
        "scalar": fastnn.tensor(3.0),
    }
    for name, obj in objects.items():
        fastnn.save(obj, os.path.join(folder, name + ".safetensors"))
    try:
        import torch
    except ImportError:
        return
    lin = torch.nn.Linear(3, 2)
    torch.save({"model": lin.state_dict(), "iter": 3, "size": torch.Size([2]),
                "dtype": torch.float16, "p": torch.nn.Parameter(torch.ones(2))},
               os.path.join(folder, "torch_checkpoint.pt"))


if __name__ == "__main__":
    if "--make-corpus" in sys.argv:
        make_corpus(sys.argv[sys.argv.index("--make-corpus") + 1]
                    if len(sys.argv) > sys.argv.index("--make-corpus") + 1 else
                    "tests/fuzz/corpus_load")
    else:
        atheris.Setup(sys.argv, test_one_input)
        atheris.Fuzz()
