"""The example training scripts are plain PyTorch scripts: run each text twice, once as written
(``import fastnn as torch``) and once with the imports pointed at real PyTorch, and compare.

The data come from a fixed NumPy seed in both runs; initial weights and shuffling come from each
framework's own generator, so the runs are not bit-identical: the final losses must agree within
the run-to-run spread measured over seeds (MLP: ~0.01 in loss; linear regression converges to the
same least-squares optimum)."""

import math
import re
from pathlib import Path

import pytest
import torch

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture(autouse=True)
def _one_torch_thread():
    # PyTorch's intra-op threads fight over this shared 2-core machine: one thread runs these
    # small models several times faster
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _run(script, framework, **kwargs):
    src = (EXAMPLES / script).read_text()
    assert "import fastnn as torch" in src and "import torch" not in src
    if framework == "torch":
        src = re.sub(r"\bfastnn\b", "torch", src)
    ns = {"__name__": f"example_{framework}", "__file__": str(EXAMPLES / script)}
    exec(compile(src, script, "exec"), ns)
    return ns["main"](verbose=False, **kwargs)


def test_linear_regression_script_matches_pytorch():
    ours = _run("linear_regression.py", "fastnn")
    ref = _run("linear_regression.py", "torch")
    assert ours == pytest.approx(ref, rel=0.02)
    assert ours < 0.0105  # converged to the noise floor (noise variance 0.01)


def test_mlp_script_matches_pytorch():
    loss, acc = _run("mlp.py", "fastnn")
    ref_loss, ref_acc = _run("mlp.py", "torch")
    assert loss < 0.5 * math.log(4)  # learned far beyond chance
    assert abs(loss - ref_loss) < 0.03
    assert abs(acc - ref_acc) < 0.03
