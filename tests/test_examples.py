"""The five examples under examples/ run as a user runs them (``python examples/X.py ...``, one
process each) under fastnn and, where it is installed, PyTorch, on tiny data for one or two
epochs: they write the curves PNG, the checkpoint and the history; a run resumed from the
checkpoint keeps the first epoch's numbers and trains the second epoch exactly as the
uninterrupted run does (each epoch reseeds the shuffle and dropout, and the optimizer state is
restored); ``--compare`` draws both libraries; and with a little more data every classifier
learns, under fastnn as under PyTorch."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
HAVE_TORCH = importlib.util.find_spec("torch") is not None
LIBS = ["fastnn", pytest.param("torch", marks=pytest.mark.skipif(
    not HAVE_TORCH, reason="PyTorch is not installed"))]

# a few steps each: seconds per run
TINY = {
    "linear_regression": ["--samples", "200", "--batch", "32"],
    "mlp": ["--samples", "200", "--batch", "32"],
    "cnn": ["--samples", "100", "--batch", "16"],
    "lstm_text": ["--samples", "120", "--batch", "16", "--seq-len", "12"],
    "transformer": ["--samples", "100", "--batch", "16", "--seq", "8", "--d-model", "16",
                    "--heads", "2", "--ff", "32"],
}


def run(script, *argv, timeout=300):
    """``python examples/<script>.py argv`` with this checkout first on the path and one thread
    (PyTorch's intra-op threads fight over a small shared CI machine)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH",
                                                                                  "")])}
    res = subprocess.run(
        [sys.executable, str(EXAMPLES / f"{script}.py"), "--threads", "1", *argv],
        capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=env,
    )
    assert res.returncode == 0, f"{script} {argv}:\n{res.stdout[-2000:]}\n{res.stderr[-3000:]}"
    return res.stdout


def history(path):
    with open(path) as fh:
        return json.load(fh)


def assert_png(path):
    data = Path(path).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    assert 5_000 < len(data) < 300_000, len(data)


@pytest.mark.parametrize("lib", LIBS)
@pytest.mark.parametrize("script", sorted(TINY))
def test_example_saves_plots_and_resumes(script, lib, tmp_path):
    t = tmp_path
    tiny = [*TINY[script], "--lib", lib, "--quiet"]
    run(script, *tiny, "--epochs", "1", "--save", t / "a.ckpt", "--history", t / "a.json")
    out = run(script, *tiny, "--epochs", "2", "--resume", t / "a.ckpt", "--save", t / "b.ckpt",
              "--history", t / "b.json", "--plot", t / "b.png")
    run(script, *tiny, "--epochs", "2", "--history", t / "full.json")
    first, resumed, full = (history(t / f) for f in ("a.json", "b.json", "full.json"))

    assert_png(t / "b.png")
    keys = set(first["history"])
    metric = "r2" if script == "linear_regression" else "accuracy"
    assert keys == {"loss", "val_loss", metric, "val_" + metric}
    for k in keys:
        assert len(first["history"][k]) == 1 and len(resumed["history"][k]) == 2, k
        # the resumed run carries the first epoch over from the checkpoint ...
        assert resumed["history"][k][0] == first["history"][k][0], k
        # ... and its second epoch is the uninterrupted run's second epoch; the tolerance
        # covers summation order only (the same library, data, seeds and state each time)
        assert resumed["history"][k][1] == pytest.approx(full["history"][k][1], rel=1e-4,
                                                         abs=1e-6), k
    for k, v in resumed["test"].items():
        assert np.isfinite(v), k
        assert v == pytest.approx(full["test"][k], rel=1e-4, abs=1e-6), k
    if metric == "accuracy":
        assert {"accuracy", "macro_precision", "macro_recall", "macro_f1"} <= set(resumed["test"])
        assert "macro avg" in out  # scikit-learn's per-class report
    else:
        assert {"mse", "r2"} <= set(resumed["test"])

    if lib == "fastnn":
        import fastnn as lib_module
    else:
        import torch as lib_module
    ckpt = lib_module.load(t / "b.ckpt")
    assert ckpt["epoch"] == 2
    assert {"model", "optimizer", "history"} <= set(ckpt)
    assert list(ckpt["history"]["loss"]) == pytest.approx(resumed["history"]["loss"])


@pytest.mark.skipif(not HAVE_TORCH, reason="PyTorch is not installed")
def test_compare_draws_both_libraries(tmp_path):
    out = run("linear_regression", *TINY["linear_regression"], "--epochs", "2", "--compare",
              "--plot", tmp_path / "both.png")
    assert "fastnn test:" in out and "torch test:" in out
    assert_png(tmp_path / "both.png")


def test_bad_flags_are_refused(tmp_path):
    res = subprocess.run(
        [sys.executable, str(EXAMPLES / "mlp.py"), "--compare", "--save", str(tmp_path / "x")],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
    )
    assert res.returncode == 2 and "--compare" in res.stderr


# (data, epochs) at which each classifier is far past chance on its validation split in a few
# seconds; chance is 1/classes
LEARN = {
    "mlp": (["--samples", "1200"], 4, 0.25),
    # at batch 32 and 4 epochs both runs sat on the knee of the curve (0.77 vs 0.60, 2026-12-06)
    "cnn": (["--samples", "600", "--batch", "16"], 5, 0.1),
    "lstm_text": (["--samples", "900", "--seq-len", "20", "--lr", "5e-3"], 4, 1 / 3),
    "transformer": (["--samples", "400", "--seq", "12", "--d-model", "32", "--ff", "64",
                     "--lr", "3e-3"], 4, 0.25),
}


@pytest.mark.parametrize("script", sorted(LEARN))
def test_example_learns_like_pytorch(script, tmp_path):
    argv, epochs, chance = LEARN[script]
    libs = ("fastnn", "torch") if HAVE_TORCH else ("fastnn",)
    final = {}
    for lib in libs:
        run(script, *argv, "--epochs", str(epochs), "--lib", lib, "--quiet", "--history",
            tmp_path / f"{lib}.json")
        h = history(tmp_path / f"{lib}.json")["history"]
        assert h["val_loss"][-1] < h["val_loss"][0], (lib, h)
        final[lib] = h["val_accuracy"][-1]
        assert final[lib] > chance + 0.5 * (1 - chance), (lib, h)
    if HAVE_TORCH:
        # same data, different random streams (initial weights, shuffles): the two runs end close
        assert abs(final["fastnn"] - final["torch"]) < 0.15, final
