"""LSTM cases: one layer over a whole sequence (time-major), forward and backward through time.

FLOPs: forward T * 2*B*4H*(I+H) (the input projection and the recurrent GEMMs; the gate
nonlinearities are not counted); backward twice that (data and weight gradients of both GEMMs).
Reference: PyTorch CPU (torch.lstm, and autograd.grad over a retained graph so only the backward
is timed); PyTorch CUDA on a GPU.
"""

from __future__ import annotations

from .base import (
    Case,
    Unavailable,
    expect64,
    f64,
    native,
    optional,
    randn,
    reference_backend,
    torch_forward_ref,
    torch_tensors,
)

FORWARD = ("lstm_sequence_forward",)
BACKWARD = ("lstm_sequence_backward",)
_W = ("x", "h0", "c0", "w_ih", "w_hh", "b_ih", "b_hh")


def lstm_flops(t: int, b: int, i: int, h: int) -> float:
    """Forward GEMM FLOPs of one LSTM layer over T steps: gates = x W_ih^T + h W_hh^T."""
    return 2.0 * t * b * 4 * h * (i + h)


def _inputs(rng, t, b, i, h, bias=True):
    s = h**-0.5  # PyTorch's init range, so the gates do not saturate
    return {
        "x": randn(rng, t, b, i),
        "h0": randn(rng, b, h),
        "c0": randn(rng, b, h),
        "w_ih": randn(rng, 4 * h, i, scale=s),
        "w_hh": randn(rng, 4 * h, h, scale=s),
        "b_ih": randn(rng, 4 * h, scale=s) if bias else None,
        "b_hh": randn(rng, 4 * h, scale=s) if bias else None,
    }


def _torch_forward(torch, t):
    bias = t["b_ih"] is not None
    weights = [t["w_ih"], t["w_hh"]] + ([t["b_ih"], t["b_hh"]] if bias else [])
    y, hn, cn = torch.lstm(
        t["x"],
        (t["h0"][None], t["c0"][None]),
        weights,
        bias,
        1,
        0.0,
        False,
        False,
        False,
    )
    return y, hn[0], cn[0]


def _bias_label(bias):
    return "" if bias else " nobias"


def forward_case(t, b, i, h, bias=True):
    def make(rng):
        return _inputs(rng, t, b, i, h, bias)

    def call(mod, x):
        return mod.lstm_sequence_forward(*(x[n] for n in _W))

    return Case(
        "lstm",
        f"fwd T{t} B{b} I{i} H{h}{_bias_label(bias)}",
        lstm_flops(t, b, i, h),
        FORWARD,
        make,
        call,
        expect64(FORWARD, call),
        {"torch": torch_forward_ref(_W, _torch_forward)},
        reduction=t * (i + h),
    )


def backward_case(t, b, i, h, bias=True):
    def make(rng):
        x = _inputs(rng, t, b, i, h, bias)
        ref = reference_backend()
        why = native(ref, FORWARD)
        if why:
            raise Unavailable(f"cannot make the forward state to differentiate: {why}")
        y, _, _, cs, gates = ref.lstm_sequence_forward(*(f64(x)[n] for n in _W))
        x.update(
            y=y.astype("float32"),
            cs=cs.astype("float32"),
            gates=gates.astype("float32"),
            gy=randn(rng, t, b, h),
            ghn=randn(rng, b, h),
            gcn=randn(rng, b, h),
        )
        return x

    def call(mod, x):
        return mod.lstm_sequence_backward(
            x["gy"],
            x["ghn"],
            x["gcn"],
            x["x"],
            x["h0"],
            x["c0"],
            x["w_ih"],
            x["w_hh"],
            x["y"],
            x["cs"],
            x["gates"],
        )

    def torch_ref(x, device="cpu"):
        torch, _ = optional("torch")
        wrt = ("x", "h0", "c0", "w_ih", "w_hh", "b_ih")
        tt = torch_tensors(torch, x, device, _W + ("gy", "ghn", "gcn"), requires_grad=wrt)
        outs = _torch_forward(torch, tt)
        params = [tt[n] for n in wrt if tt[n] is not None]
        grads = (tt["gy"], tt["ghn"], tt["gcn"])
        return lambda: torch.autograd.grad(outs, params, grads, retain_graph=True)

    return Case(
        "lstm",
        f"bwd T{t} B{b} I{i} H{h}{_bias_label(bias)}",
        2 * lstm_flops(t, b, i, h),
        BACKWARD,
        make,
        call,
        expect64(BACKWARD, call),
        {"torch": torch_ref},
        reduction=t * b,
    )


def cases(sizes: str) -> list[Case]:
    shapes = {
        "tiny": [(3, 2, 5, 4)],
        "quick": [(100, 64, 64, 128)],
        "full": [(100, 64, 64, 128), (100, 64, 512, 512)],
    }[sizes]
    out = []
    for s in shapes:
        out += [forward_case(*s), backward_case(*s)]
    return out


_CELL = ("x", "h", "c", "w_ih", "w_hh", "b_ih", "b_hh")


def _cell_inputs(rng, b, i, h, bias):
    x = _inputs(rng, 1, b, i, h, bias)
    return {**x, "x": x["x"][0], "h": x.pop("h0"), "c": x.pop("c0")}


def _torch_cell(torch, t):
    return torch.lstm_cell(t["x"], (t["h"], t["c"]), *(t[n] for n in _CELL[3:]))


def cell_forward_case(b, i, h, bias=True):
    """One lstm_cell_forward step (FLOPs 2*B*4H*(I+H))."""

    def make(rng):
        return _cell_inputs(rng, b, i, h, bias)

    def call(mod, x):
        return mod.lstm_cell_forward(*(x[n] for n in _CELL))

    return Case(
        "lstm",
        f"cell fwd B{b} I{i} H{h}{_bias_label(bias)}",
        lstm_flops(1, b, i, h),
        ("lstm_cell_forward",),
        make,
        call,
        expect64(("lstm_cell_forward",), call),
        {"torch": torch_forward_ref(_CELL, _torch_cell)},
        reduction=i + h,
    )


def cell_backward_case(b, i, h, bias=True):
    """lstm_cell_backward from the float64 reference's forward state."""

    def make(rng):
        x = _cell_inputs(rng, b, i, h, bias)
        ref = reference_backend()
        _, c_new, gates = ref.lstm_cell_forward(*(f64(x)[n] for n in _CELL))
        x.update(
            c_new=c_new.astype("float32"),
            gates=gates.astype("float32"),
            gh=randn(rng, b, h),
            gc=randn(rng, b, h),
        )
        return x

    def call(mod, x):
        return mod.lstm_cell_backward(
            x["gh"], x["gc"], x["x"], x["h"], x["c"], x["c_new"], x["gates"], x["w_ih"],
            x["w_hh"],
        )

    def torch_ref(x, device="cpu"):
        torch, _ = optional("torch")
        wrt = ("x", "h", "c", "w_ih", "w_hh", "b_ih")
        tt = torch_tensors(torch, x, device, _CELL + ("gh", "gc"), requires_grad=wrt)
        outs = _torch_cell(torch, tt)
        params = [tt[n] for n in wrt if tt[n] is not None]
        return lambda: torch.autograd.grad(outs, params, (tt["gh"], tt["gc"]), retain_graph=True)

    return Case(
        "lstm",
        f"cell bwd B{b} I{i} H{h}{_bias_label(bias)}",
        2 * lstm_flops(1, b, i, h),
        ("lstm_cell_backward",),
        make,
        call,
        expect64(("lstm_cell_backward",), call),
        {"torch": torch_ref},
        reduction=b,
    )


# (T, B, I, H, bias)
TEST_GRID = [
    (1, 1, 1, 1, True),
    (3, 2, 3, 5, True),
    (7, 3, 5, 8, False),
    (4, 5, 13, 7, True),
    (3, 17, 31, 24, True),
    (0, 3, 5, 8, True),  # empty sequence: h_n, c_n are copies of h0, c0
    (3, 0, 5, 8, True),  # empty batch
]


def test_cases() -> list[Case]:
    """The correctness grid tests/test_lstm.py runs on every backend and every registered
    version: sequence forward/backward and cell forward/backward, sizes 1 to odd/prime, with and
    without bias, an empty sequence and an empty batch."""
    out = []
    for t, b, i, h, bias in TEST_GRID:
        out += [forward_case(t, b, i, h, bias), backward_case(t, b, i, h, bias)]
        if t:
            out += [cell_forward_case(b, i, h, bias), cell_backward_case(b, i, h, bias)]
    return out
