"""The benchmark harness (python -m fastnn bench): FLOP formulas, validate-before-time, the JSON
schema, the PNG, clear errors for unknown names, a run without PyTorch, and the tuning options
(--clock, --shape, --naive)."""

import json
import sys
import time
import types

import numpy as np
import pytest

import fastnn
from fastnn.bench import cli, harness, report, shapes, timing, train
from fastnn.bench.specs import base, conv2d, gemm, lstm
from fastnn.bench.specs.attention import attention_flops, backward_case
from fastnn.bench.specs.conv2d import conv2d_flops
from fastnn.bench.specs.gemm import gemm_flops
from fastnn.bench.specs.lstm import lstm_flops

TINY = timing.BUDGETS["tiny"]


# ------------------------------------------------------------------------------- FLOP formulas


def _count_conv_macs(n, c, h, w, oc, k, stride, pad):
    """Brute force: multiply-adds that land inside the (unpadded) input."""
    oh, ow = conv2d.out_size(h, k, stride, pad), conv2d.out_size(w, k, stride, pad)
    return n * oc * oh * ow * c * k * k, (oh, ow)


def test_flop_formulas():
    assert gemm_flops(2, 3, 4) == 48  # 2*3 outputs, 4 multiply-adds each
    macs, (oh, ow) = _count_conv_macs(2, 3, 5, 7, 4, 3, 1, 1)
    assert (oh, ow) == (5, 7)
    assert conv2d_flops(2, 3, 5, 7, 4, 3, 3, stride=1, pad=1) == 2 * macs
    assert conv2d_flops(1, 4, 8, 8, 6, 3, 3, stride=2, pad=0) == 2 * 6 * 3 * 3 * 4 * 9
    assert conv2d_flops(1, 4, 8, 8, 6, 3, 3, pad=1, groups=2) == 2 * 6 * 64 * 2 * 9
    # LSTM step: gates (B, 4H) = x (B, I) W_ih^T + h (B, H) W_hh^T
    assert lstm_flops(t=3, b=2, i=5, h=4) == 3 * (2 * 2 * 16 * 5 + 2 * 2 * 16 * 4)
    assert attention_flops(1, 2, 3, 5, 4) == 2 * (2 * 3 * 5 * 4) * 2  # q k^T and p v, 2 heads
    assert backward_case(1, 2, 5, 3).flops == 2.5 * attention_flops(1, 2, 5, 5, 3)
    fwd, bwd = conv2d.cases("tiny")
    assert bwd.flops == 2 * fwd.flops
    lf, lb = lstm.cases("tiny")
    assert lb.flops == 2 * lf.flops
    assert gemm.case(7, 5, 3).flops == gemm_flops(7, 5, 3)


def test_tolerance_grows_with_the_reduction_and_has_a_reason():
    small, why = base.tolerance(1)
    big, _ = base.tolerance(1 << 16)
    assert small == 1e-5 and big > small and "eps32" in why
    assert base.rel_error((np.ones(3),), (np.ones(3),)) == 0.0
    assert base.rel_error((np.array([1.0, np.nan]),), (np.ones(2),)) == np.inf
    assert base.rel_error((np.ones(2),), (np.ones(3),)) == np.inf


# -------------------------------------------------------------------- validate, then time


class _Backend(types.SimpleNamespace):
    """A stand-in fastnn backend whose gemm counts its calls."""

    def __init__(self, name, result):
        super().__init__(NAME=name, DEVICE="cpu", calls=0)
        self._result = result

    def gemm(self, a, b, bias, activation, trans_a, trans_b, alpha, beta, out):
        self.calls += 1
        opb = b.T if trans_b else b
        return self._result(a, opb)


def _run(*mods, refs=("numpy",)):
    case = gemm.case(33, 17, 9, trans_b=True)
    cs = [harness.Contender(m.NAME, "fastnn", module=m) for m in mods]
    cs += [harness.Contender(r, "reference") for r in refs]
    return {r.backend: r for r in harness.measure_case(case, cs, seed=1, budget=TINY)}


def test_a_wrong_kernel_is_fail_and_not_timed():
    wrong = _Backend("wrong", lambda a, b: a @ b + np.float32(1e-2))
    nan = _Backend("nan", lambda a, b: np.full((a.shape[0], b.shape[1]), np.nan, np.float32))
    good = _Backend("good", lambda a, b: (a.astype(np.float64) @ b).astype(np.float32))
    rows = _run(wrong, nan, good)
    for name, mod in (("wrong", wrong), ("nan", nan)):
        r = rows[name]
        assert r.status == "FAIL" and "not timed" in r.reason, r
        assert r.samples_ms == [] and r.median_ms is None and r.gflops is None
        assert mod.calls == 1  # the validation call only
    ok = rows["good"]
    assert ok.status == "ok" and ok.error <= ok.tolerance
    assert len(ok.samples_ms) >= TINY.min_reps and good.calls > 2
    assert ok.min_ms <= ok.median_ms <= ok.max_ms and ok.first_call_ms > 0
    assert rows["numpy"].status == "ok" and set(ok.ratios) == {"numpy"}
    assert ok.ratios["numpy"] == pytest.approx(rows["numpy"].median_ms / ok.median_ms)


def test_a_backend_without_the_kernel_is_na_not_a_fallback_timing():
    rows = _run(types.SimpleNamespace(NAME="empty", DEVICE="cpu"))
    assert rows["empty"].status == "n/a" and "no native gemm" in rows["empty"].reason
    # nothing of ours to compare with: the reference is not timed either
    assert rows["numpy"].status == "n/a" and rows["numpy"].samples_ms == []


def _recording_contenders(order):
    """Live contenders A and B whose calls append their name to ``order``."""
    return [
        (
            harness.Contender(n, "fastnn"),
            (lambda n=n: order.append(n)),
            harness.Result("gemm", "s", n, "fastnn", "ok", flops=1.0),
        )
        for n in "AB"
    ]


def test_interleaved_order_is_a_b_a_b(monkeypatch):
    order = []
    live = _recording_contenders(order)
    monkeypatch.setattr(timing, "inner_count", lambda est, budget: 1)
    harness._time_interleaved(live, timing.Budget(0.0, 3, 3), None)
    # one call per sample: the calibration round is the first of the three sample rounds
    assert order == ["A", "B"] * 3
    assert all(len(r.samples_ms) == 3 for _, _, r in live)
    order.clear()
    monkeypatch.setattr(timing, "inner_count", lambda est, budget: 2)
    harness._time_interleaved(live, timing.Budget(0.0, 3, 3), None)
    assert order == ["A", "B"] + ["A", "A", "B", "B"] * 3  # calibration, then 3 rounds of 2 calls


def test_samples_come_in_settled_blocks(monkeypatch):
    """More samples than rounds: each round gives each contender a block of consecutive
    samples, after untimed settling calls of that same contender (other pools go quiet)."""
    order = []
    live = _recording_contenders(order)
    monkeypatch.setattr(timing, "inner_count", lambda est, budget: 1)
    harness._time_interleaved(live, timing.Budget(1.0, 6, 6), None)
    # calibration (kept), then blocks of 1, 2 and 2 more samples per contender
    assert order == ["A", "B"] + ["A", "B"] + ["A", "A", "B", "B"] * 2
    assert all(len(r.samples_ms) == 6 for _, _, r in live)
    settled = []
    monkeypatch.setattr(harness, "_settle", lambda fn, s, est: settled.append((fn, s)))
    order.clear()
    harness._time_interleaved(live, timing.Budget(1.0, 6, 6, settle=0.01), None)
    # one settle per contender for calibration and one per block (3 blocks)
    fns = [fn for _, fn, _ in live]
    assert [fns.index(f) for f, _ in settled] == [0, 1] * 4
    assert all(s == 0.01 for _, s in settled)


def test_settle_runs_the_contender_untimed():
    calls = []
    harness._settle(lambda: calls.append(1), 0.005, 1e-5)
    assert len(calls) >= 1
    calls.clear()
    harness._settle(lambda: calls.append(1), 0.005, 1.0)  # one call longer than settle: no repeat
    harness._settle(lambda: calls.append(1), 0.0, None)
    assert calls == []


def test_a_slow_contender_is_capped_not_the_fast_ones():
    quick = timing.BUDGETS["quick"]
    reps, caps = timing.sample_caps([0.001, 10.0], [2, 1], quick)
    assert reps == quick.max_reps and caps == [quick.max_reps, quick.slow_reps]
    slow = quick.slow_reps
    assert timing.sample_caps([10.0, 20.0], [1, 1], quick) == (slow, [slow, slow])


# ------------------------------------------------------------------------------------ the CLI


def _main(capsys, *argv):
    rc = cli.main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_json_schema_and_markdown(tmp_path, capsys):
    js, md = tmp_path / "b.json", tmp_path / "b.md"
    rc, out, _ = _main(
        capsys,
        "roof",
        "gemm",
        "--sizes",
        "tiny",
        "--backend",
        "cpp",
        "--json",
        str(js),
        "--markdown",
        str(md),
    )
    assert rc == 0, out
    data = json.loads(js.read_text())
    assert data["schema"] == report.SCHEMA and data["sizes"] == "tiny"
    assert data["command"].startswith("python -m fastnn bench roof gemm")
    m = data["machine"]
    for key in (
        "cpu",
        "cpu_flags",
        "simd",
        "isa",
        "threads",
        "numpy",
        "numba",
        "torch",
        "blas",
        "env",
        "gpu",
        "date",
        "backends",
    ):
        assert key in m, key
    assert set(data["roof"]) >= {"fma_gflops", "copy_gbs"}
    fields = set(harness.Result("k", "s", "b", "fastnn", "ok").to_dict())
    assert data["results"] and all(set(r) == fields for r in data["results"])
    timed = [r for r in data["results"] if r["kernel"] == "gemm" and r["status"] == "ok"]
    assert {r["backend"] for r in timed} >= {"cpp", "numpy"}
    for r in timed:
        assert r["samples_ms"] and all(isinstance(s, float) and s > 0 for s in r["samples_ms"])
        assert r["min_ms"] <= r["median_ms"] <= r["max_ms"] and r["gflops"] > 0
    cpp = [r for r in timed if r["backend"] == "cpp"]
    assert all("numpy" in r["ratios"] for r in cpp)
    assert (
        "| kernel | size | backend |" in md.read_text()
        and "Command: `python -m fastnn" in md.read_text()
    )
    assert "vs NumPy" in out and "gemm" in out


def test_plot_writes_a_readable_png(tmp_path, capsys):
    import matplotlib.image

    png = tmp_path / "b.png"
    rc, _, _ = _main(capsys, "gemm", "--sizes", "tiny", "--backend", "cpp", "--plot", str(png))
    assert rc == 0
    img = matplotlib.image.imread(str(png))
    assert img.ndim == 3 and img.shape[0] >= 300 and img.shape[1] >= 400
    assert np.ptp(img[..., :3]) > 0.5  # bars and text, not a blank canvas


@pytest.mark.parametrize(
    "argv, words",
    [
        (["conv3d"], ["unknown kernel 'conv3d'", "gemm, conv2d"]),
        (["gemm", "--backend", "tpu"], ["unknown backend 'tpu'", "cpp"]),
        (["--sizes", "huge"], ["invalid choice"]),
    ],
)
def test_unknown_names_are_a_clear_error(capsys, argv, words):
    rc, out, err = _main(capsys, *argv)
    assert rc == 2 and out == ""
    for w in words:
        assert w in err


def test_without_pytorch_the_run_works_and_says_the_reference_is_missing(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    monkeypatch.setattr(base, "_optional_cache", {})
    rc, out, _ = _main(capsys, "gemm", "--sizes", "tiny", "--backend", "cpp")
    assert rc == 0, out
    assert "PyTorch missing" in out
    lines = out.splitlines()
    torch_rows = [line for line in lines if line.startswith("gemm") and " torch " in line]
    assert torch_rows and all("n/a: reference missing" in line for line in torch_rows)
    assert any(" cpp " in line and line.rstrip().endswith("ok") for line in out.splitlines())


def test_threads_option_sets_fastnn_threads(capsys):
    import fastnn

    rc, _, _ = _main(capsys, "roof", "--sizes", "tiny", "--threads", "1")
    assert rc == 0 and fastnn.get_num_threads() == 1  # conftest restores it afterwards


# ----------------------------------------------------------------------------- training race


def test_train_race_machinery_with_pytorch_standing_in_for_fastnn(monkeypatch):
    torch, why = base.optional("torch")
    if torch is None:
        pytest.skip(why)
    from fastnn import backends

    small = train.Model(
        "small MLP",
        lambda t: t.nn.Sequential(t.nn.Linear(8, 16), t.nn.ReLU(), t.nn.Linear(16, 4)),
        lambda r: (r.standard_normal((16, 8), np.float32), r.integers(0, 4, 16)),
        train._adam,
        ("gemm",),
    )
    monkeypatch.setitem(train.SIZES, "tiny", [small])
    cpp = harness.Contender("cpp", "fastnn", module=backends.get_backend("cpp"))
    rows = train.race([cpp], "tiny", seed=0, budget=timing.Budget(0.05, 2, 3, 0.0), framework=torch,
                      one_thread=False, compile=False)
    by = {r.backend: r for r in rows}
    assert by["cpp"].status == "ok" and by["torch"].status == "ok", rows
    assert by["cpp"].rate > 0 and by["cpp"].unit == "steps/s"
    assert by["cpp"].ratios["torch"] == pytest.approx(by["torch"].median_ms / by["cpp"].median_ms)
    assert by["torch.compile"].status == "n/a"
    # FLOPs of the step (FlopCounterMode): 2 layers, batch 16, fwd + dW + db-free dX of layer 2
    assert by["cpp"].flops == 2 * 16 * (8 * 16 * 2 + 16 * 4 * 3)

    # a failing torch.compile is a visible error row; the 1-thread rows follow the others
    def broken(*a, **k):
        raise RuntimeError("no C++ compiler")

    monkeypatch.setattr(torch, "compile", broken)
    fastnn.set_num_threads(2)  # conftest restores the count afterwards
    rows = train.race([cpp], "tiny", seed=0, budget=timing.Budget(0.05, 2, 3, 0.0), framework=torch)
    sizes = [(r.size, r.backend, r.status) for r in rows]
    assert ("small MLP", "torch.compile", "error") in sizes, sizes
    assert ("small MLP 1 thread", "cpp", "ok") in sizes, sizes
    assert "no C++ compiler" in [r for r in rows if r.backend == "torch.compile"][0].reason
    assert fastnn.get_num_threads() == 2


@pytest.mark.parametrize("which", ["resnet", "lstm_lm"])
def test_train_race_resnet_and_lstm_lm_at_tiny_sizes(monkeypatch, which):
    """The two client models (yunjey's CIFAR ResNet and LSTM language model) race in fastnn: same
    weights as PyTorch (the loss cross-check passes), timed, FLOPs stated; shrunk here (1 block
    per stage, batch 2; vocab 50, hidden 12, T 3) so the test stays cheap."""
    torch, why = base.optional("torch")
    if torch is None:
        pytest.skip(why)
    from fastnn import backends

    if which == "resnet":
        model = train.Model("tiny ResNet", lambda t: train.resnet(t, (1, 1, 1)), train._images(2),
                            train._adam, train._CONV)
    else:
        model = train.Model("tiny LSTM-LM", lambda t: train.lstm_lm(t, 50, 8, 12),
                            train._tokens(2, 3, 50), train._lm_adam, train._LSTM,
                            train._lstm_step_flops(3, 2, 8, 12), clip=0.5)
    monkeypatch.setitem(train.SIZES, "tiny", [model])
    cpp = harness.Contender("cpp", "fastnn", module=backends.get_backend("cpp"))
    rows = train.race([cpp], "tiny", seed=0, budget=timing.Budget(0.02, 2, 3, 0.0),
                      one_thread=False, compile=False)
    by = {r.backend: r for r in rows}
    assert by["cpp"].status == "ok" and by["torch"].status == "ok", rows
    assert by["cpp"].reason == "", by["cpp"].reason  # the loss cross-check ran and agreed
    assert by["cpp"].rate > 0 and by["cpp"].flops == by["torch"].flops
    counted = train.step_flops(torch, train.Model(model.name, model.build, model.data,
                                                  model.optimizer, model.kernels), 0)
    if which == "resnet":  # every conv and the Linear are counted by FlopCounterMode
        assert by["cpp"].flops == counted > 0
    else:  # the LSTM's GEMMs are added: FlopCounterMode does not see aten's CPU LSTM
        assert by["cpp"].flops == counted + 3 * 3 * 2 * 2 * 4 * 12 * (8 + 12)


def test_lstm_lm_carries_detached_state_between_training_steps():
    """Truncated BPTT as the client trains: a training forward starts from the last step's
    detached (h, c); an eval forward starts from zeros and leaves the state alone."""
    import fastnn

    net = train.lstm_lm(fastnn, 20, 4, 6)
    x = fastnn.tensor(np.random.default_rng(0).integers(0, 20, (2, 3)))
    first = net(x).detach().numpy()
    h, c = net.state
    assert h.shape == (1, 2, 6) and not h.requires_grad and not c.requires_grad
    second = net(x).detach().numpy()
    assert not np.allclose(first, second)  # the second step started from the first's state
    kept = net.state
    assert kept[0] is not h
    net.eval()
    with fastnn.no_grad():
        np.testing.assert_allclose(net(x).numpy(), first, rtol=1e-6)
    assert net.state is kept


# ------------------------------------------------------------ tuning options: clock and shapes


def test_thread_and_process_clocks_leave_out_time_off_the_cpu():
    nap = 0.02  # sleeping holds no CPU: the wall clock sees it, the CPU-time clocks do not
    assert timing.clock("cpu", "wall")(lambda: time.sleep(nap), 2) >= 2 * nap
    for name in ("thread", "process"):
        assert timing.clock("cpu", name)(lambda: time.sleep(nap), 2) < nap, name
    spin = timing.clock("cpu", "thread")
    assert spin(lambda: sum(range(200_000)), 3) > 0  # real work is counted
    assert timing.clock("cupy", "thread") is timing.CLOCKS["cupy"]  # GPU rows keep CUDA events


def test_the_budget_clock_times_the_samples(monkeypatch):
    monkeypatch.setattr(timing, "inner_count", lambda est, budget: 1)

    def sleeper_rows(clock):
        live = [
            (
                harness.Contender("nap", "fastnn"),
                lambda: time.sleep(0.004),
                harness.Result("gemm", "s", "nap", "fastnn", "ok", flops=1.0),
            )
        ]
        harness._time_interleaved(live, timing.Budget(0.0, 3, 3, clock=clock), None)
        return live[0][2].samples_ms

    assert len(sleeper_rows("wall")) == 3 and min(sleeper_rows("wall")) >= 4.0
    assert len(sleeper_rows("thread")) == 3 and max(sleeper_rows("thread")) < 2.0


def test_clock_option_needs_one_thread_and_is_reported(tmp_path, capsys):
    rc, out, err = _main(capsys, "gemm", "--sizes", "tiny", "--clock", "thread")
    assert rc == 2 and out == "" and "--threads 1" in err
    js = tmp_path / "b.json"
    argv = ["gemm", "--sizes", "tiny", "--backend", "cpp", "--threads", "1", "--clock", "process"]
    rc, out, _ = _main(capsys, *argv, "--json", str(js))
    assert rc == 0, out
    assert "Clock: process CPU time" in out
    data = json.loads(js.read_text())
    assert data["clock"] == "process"
    timed = [r for r in data["results"] if r["status"] == "ok" and r["kernel"] == "gemm"]
    assert timed and all(r["error"] <= r["tolerance"] and r["median_ms"] > 0 for r in timed)


def test_shape_dims_build_the_spec_cases():
    family, (c,) = shapes.parse("gemm=20,30,40,ta,bias,relu")
    assert family == "gemm" and c.flops == gemm_flops(20, 30, 40)
    x = c.make(np.random.default_rng(0))
    assert x["a"].shape == (40, 20) and x["b"].shape == (40, 30) and x["bias"].shape == (30,)
    want = np.maximum(x["a"].T.astype(np.float64) @ x["b"] + x["bias"], 0)
    np.testing.assert_allclose(c.expect(x)[0], want, rtol=1e-12, atol=1e-12)

    family, (fwd, bwd) = shapes.parse("conv2d=2,3,9,9,4,5,2")  # k5 stride 2, padding (5-1)//2
    assert family == "conv2d" and "s2 p2" in fwd.size
    assert fwd.flops == conv2d_flops(2, 3, 9, 9, 4, 5, 5, stride=2, pad=2)
    assert bwd.flops == 2 * fwd.flops and bwd.kernels == conv2d.BACKWARD
    assert fwd.make(np.random.default_rng(0))["w"].shape == (4, 3, 5, 5)
    _, (valid, _) = shapes.parse("conv2d=1,3,8,8,4,3,1,0")  # padding 0 is a shape, not an error
    assert valid.flops == conv2d_flops(1, 3, 8, 8, 4, 3, 3, stride=1, pad=0)

    _, (lf, lb) = shapes.parse("lstm=7,3,5,4")
    assert lf.flops == lstm_flops(7, 3, 5, 4) and "T7 B3 I5 H4" in lb.size
    _, (af, ab) = shapes.parse("attention=1,2,16,8")
    assert af.flops == attention_flops(1, 2, 16, 16, 8) and ab.size == "bwd 1x2x16x8"


def test_shape_sets():
    assert [c.size for c in shapes.parse("lstm=h512")[1]] == [
        "fwd T100 B64 I512 H512",
        "bwd T100 B64 I512 H512",
    ]
    assert [c.size for c in shapes.parse("attention=full")[1]] == [
        c.size for c in specs_cases("attention", "full")
    ]
    rn512 = shapes.parse("conv2d=RN512")[1]
    assert len(rn512) == 2 and rn512[0].flops == conv2d_flops(8, 512, 7, 7, 512, 3, 3)
    trans = shapes.parse("gemm=trans")[1]
    assert len(trans) == 2 * len(shapes._TRAIN_M) * len(shapes._TRAIN_KN)
    # dx = dy W^T and dW = x^T dy of y = x W for x (32, 784), W (784, 256)
    labels = {c.size for c in trans}
    assert {"32x784x256", "784x256x32"} <= labels
    both = shapes.parse_all(["gemm=small", "gemm=64,64,64"])
    assert list(both) == ["gemm"] and len(both["gemm"]) == 7


def specs_cases(family, sizes):
    from fastnn.bench import specs

    return specs.cases(family, sizes)


@pytest.mark.parametrize(
    "spec, words",
    [
        ("conv=1,2", ["unknown family 'conv'", "conv2d"]),
        ("gemm", ["expected gemm=SET"]),
        ("gemm=1,2", ["M,N,K", "train"]),
        ("gemm=1,2,3,tx", ["flags are ta, tb, bias", "tx"]),
        ("gemm=1,2,3,relu,gelu", ["one activation"]),
        ("lstm=1,2,0,4", ["T,B,I,H", "positive"]),
        ("conv2d=1,3,2,2,4,5,1,0", ["leaves no output"]),
        ("attention=big", ["B,H,L,D"]),
    ],
)
def test_bad_shape_is_a_clear_error(capsys, spec, words):
    with pytest.raises(ValueError) as info:
        shapes.parse(spec)
    for w in words:
        assert w in str(info.value)
    rc, out, err = _main(capsys, "--shape", spec)
    assert rc == 2 and out == "" and words[0] in err


def test_a_shape_for_a_family_the_kernel_arguments_leave_out_is_an_error(capsys):
    rc, out, err = _main(capsys, "gemm", "--shape", "lstm=2,3,4,5", "--sizes", "tiny")
    assert rc == 2 and out == "" and "--shape for lstm" in err and "(gemm)" in err


def test_shape_option_runs_only_those_families_validated(tmp_path, capsys):
    js = tmp_path / "b.json"
    argv = ["--shape", "lstm=2,3,4,5", "--backend", "cpp", "--sizes", "tiny", "--json", str(js)]
    rc, out, _ = _main(capsys, *argv)
    assert rc == 0, out
    data = json.loads(js.read_text())
    assert data["shapes"] == ["lstm=2,3,4,5"]
    assert {r["kernel"] for r in data["results"]} == {"lstm"}  # no roof row, no other family
    cpp = {r["size"]: r for r in data["results"] if r["backend"] == "cpp"}
    assert set(cpp) == {"fwd T2 B3 I4 H5", "bwd T2 B3 I4 H5"}
    assert all(r["status"] == "ok" and r["error"] <= r["tolerance"] for r in cpp.values())


def test_naive_attention_is_a_validated_reference(tmp_path, capsys):
    torch, why = base.optional("torch")
    if torch is None:
        pytest.skip(why)
    js = tmp_path / "b.json"
    argv = ["--shape", "attention=1,2,16,8", "--naive", "--backend", "cpp", "--sizes", "tiny"]
    rc, out, _ = _main(capsys, *argv, "--json", str(js))
    assert rc == 0, out
    assert "vs naive" in out
    rows = {(r["size"], r["backend"]): r for r in json.loads(js.read_text())["results"]}
    naive = rows[("fwd 1x2x16x8", "naive")]
    assert naive["status"] == "ok" and naive["error"] <= naive["tolerance"]
    cpp = rows[("fwd 1x2x16x8", "cpp")]
    assert cpp["ratios"]["naive"] == pytest.approx(naive["median_ms"] / cpp["median_ms"])
    assert ("bwd 1x2x16x8", "naive") not in rows  # the naive contender has no backward
    # the naive composition is a real attention: wrong if the softmax axis were wrong
    case = shapes.parse("attention=1,2,16,8")[1][0]
    x = case.make(np.random.default_rng(0))
    got = case.refs["naive"](x)()[0].numpy()
    assert base.rel_error((got,), tuple(case.expect(x))[:1]) < 1e-5  # (out, lse): out
