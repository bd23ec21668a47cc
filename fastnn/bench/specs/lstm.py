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
    torch_tensors,
)

FORWARD = ("lstm_sequence_forward",)
BACKWARD = ("lstm_sequence_backward",)
_W = ("x", "h0", "c0", "w_ih", "w_hh", "b_ih", "b_hh")


def lstm_flops(t: int, b: int, i: int, h: int) -> float:
    """Forward GEMM FLOPs of one LSTM layer over T steps: gates = x W_ih^T + h W_hh^T."""
    return 2.0 * t * b * 4 * h * (i + h)


def _inputs(rng, t, b, i, h):
    s = h**-0.5  # PyTorch's init range, so the gates do not saturate
    return {
        "x": randn(rng, t, b, i),
        "h0": randn(rng, b, h),
        "c0": randn(rng, b, h),
        "w_ih": randn(rng, 4 * h, i, scale=s),
        "w_hh": randn(rng, 4 * h, h, scale=s),
        "b_ih": randn(rng, 4 * h, scale=s),
        "b_hh": randn(rng, 4 * h, scale=s),
    }


def _torch_forward(torch, t):
    y, hn, cn = torch.lstm(
        t["x"],
        (t["h0"][None], t["c0"][None]),
        [t["w_ih"], t["w_hh"], t["b_ih"], t["b_hh"]],
        True,
        1,
        0.0,
        False,
        False,
        False,
    )
    return y, hn[0], cn[0]


def forward_case(t, b, i, h):
    def make(rng):
        return _inputs(rng, t, b, i, h)

    def call(mod, x):
        return mod.lstm_sequence_forward(*(x[n] for n in _W))

    def torch_ref(x, device="cpu"):
        torch, _ = optional("torch")
        tt = torch_tensors(torch, x, device, _W)

        def run():
            with torch.no_grad():
                return _torch_forward(torch, tt)

        return run

    return Case(
        "lstm",
        f"fwd T{t} B{b} I{i} H{h}",
        lstm_flops(t, b, i, h),
        FORWARD,
        make,
        call,
        expect64(FORWARD, call),
        {"torch": torch_ref},
        reduction=t * (i + h),
    )


def backward_case(t, b, i, h):
    def make(rng):
        x = _inputs(rng, t, b, i, h)
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
        params = [tt[n] for n in wrt]
        grads = (tt["gy"], tt["ghn"], tt["gcn"])
        return lambda: torch.autograd.grad(outs, params, grads, retain_graph=True)

    return Case(
        "lstm",
        f"bwd T{t} B{b} I{i} H{h}",
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
