"""Fused attention cases (non-causal, no mask), forward and backward.

FLOPs: forward 4*B*H*Lq*Lk*D (q k^T and p v); backward 10*B*H*Lq*Lk*D, FlashAttention-2's
convention (2.5x the forward: the scores are recomputed, then four GEMMs).
Reference: PyTorch CPU F.scaled_dot_product_attention (backward: autograd.grad over a retained
graph); PyTorch CUDA on a GPU.
"""

from __future__ import annotations

import math

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

FORWARD = ("attention_forward",)
BACKWARD = ("attention_backward",)


def attention_flops(b: int, h: int, lq: int, lk: int, d: int) -> float:
    """Forward FLOPs of softmax(q k^T) v: two (Lq x D x Lk) products per head."""
    return 4.0 * b * h * lq * lk * d


def _inputs(rng, b, h, length, d):
    return {
        "q": randn(rng, b, h, length, d),
        "k": randn(rng, b, h, length, d),
        "v": randn(rng, b, h, length, d),
    }


def forward_case(b, h, length, d):
    scale = 1.0 / math.sqrt(d)

    def make(rng):
        return _inputs(rng, b, h, length, d)

    def call(mod, x):
        return mod.attention_forward(x["q"], x["k"], x["v"], None, False, scale)

    def torch_ref(x, device="cpu"):
        torch, _ = optional("torch")
        t = torch_tensors(torch, x, device, ("q", "k", "v"))
        sdpa = torch.nn.functional.scaled_dot_product_attention

        def run():
            with torch.no_grad():
                return (sdpa(t["q"], t["k"], t["v"], scale=scale),)

        return run

    def naive_ref(x, device="cpu"):  # python -m fastnn bench --naive: the unfused composition
        torch, _ = optional("torch")
        t = torch_tensors(torch, x, device, ("q", "k", "v"))

        def run():
            with torch.no_grad():
                scores = (t["q"] @ t["k"].transpose(-1, -2)) * scale
                return (torch.softmax(scores, -1) @ t["v"],)

        return run

    return Case(
        "attention",
        f"fwd {b}x{h}x{length}x{d}",
        attention_flops(b, h, length, length, d),
        FORWARD,
        make,
        call,
        expect64(FORWARD, call),
        {"torch": torch_ref, "naive": naive_ref},
        reduction=max(d, length),
    )


def backward_case(b, h, length, d):
    scale = 1.0 / math.sqrt(d)

    def make(rng):
        x = _inputs(rng, b, h, length, d)
        ref = reference_backend()
        why = native(ref, FORWARD)
        if why:
            raise Unavailable(f"cannot make the forward state to differentiate: {why}")
        out, lse = ref.attention_forward(*(f64(x)[n] for n in ("q", "k", "v")), None, False, scale)
        x.update(out=out.astype("float32"), lse=lse.astype("float32"), go=randn(rng, *out.shape))
        return x

    def call(mod, x):
        return mod.attention_backward(
            x["go"], x["q"], x["k"], x["v"], x["out"], x["lse"], None, False, scale
        )

    def torch_ref(x, device="cpu"):
        torch, _ = optional("torch")
        t = torch_tensors(torch, x, device, ("q", "k", "v", "go"), requires_grad=("q", "k", "v"))
        out = torch.nn.functional.scaled_dot_product_attention(t["q"], t["k"], t["v"], scale=scale)
        wrt = [t["q"], t["k"], t["v"]]
        return lambda: torch.autograd.grad(out, wrt, t["go"], retain_graph=True)

    return Case(
        "attention",
        f"bwd {b}x{h}x{length}x{d}",
        2.5 * attention_flops(b, h, length, length, d),
        BACKWARD,
        make,
        call,
        expect64(BACKWARD, call),
        {"torch": torch_ref},
        reduction=max(d, length),
    )


def cases(sizes: str) -> list[Case]:
    shapes = {
        "tiny": [(1, 2, 5, 3)],
        "quick": [(4, 8, 256, 64), (1, 8, 512, 64)],
        "full": [(8, 8, 512, 64), (1, 8, 2048, 64), (1, 8, 4096, 64)],
    }[sizes]
    out = []
    for s in shapes:
        out += [forward_case(*s), backward_case(*s)]
    return out
