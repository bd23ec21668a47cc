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


def _inputs(rng, b, h, length, d, lk=None, dv=None, mask=None):
    """q, k, v and the additive mask: ``mask`` None, "float" (random, (1, H, Lq, Lk)
    broadcast over the batch) or "dead" (-inf at random keys, key 0 always open so no row is
    fully masked, which PyTorch turns into NaN where the contract gives 0)."""
    lk = length if lk is None else lk
    dv = d if dv is None else dv
    x = {
        "q": randn(rng, b, h, length, d),
        "k": randn(rng, b, h, lk, d),
        "v": randn(rng, b, h, lk, dv),
        "mask": None,
    }
    if mask == "float":
        x["mask"] = randn(rng, 1, h, length, lk)
    elif mask == "dead":
        m = randn(rng, b, 1, length, lk)
        m[rng.random(m.shape) < 0.4] = float("-inf")
        m[..., 0] = 0.0
        x["mask"] = m
    return x


def _shape_label(b, h, length, d, lk, dv, causal, mask):
    lbl = f"{b}x{h}x{length}x{d}"
    if lk is not None and lk != length:
        lbl += f" Lk{lk}"
    if dv is not None and dv != d:
        lbl += f" Dv{dv}"
    return lbl + (" causal" if causal else "") + (f" mask={mask}" if mask else "")


def _sdpa(torch, t, causal, scale):
    return torch.nn.functional.scaled_dot_product_attention(
        t["q"], t["k"], t["v"], attn_mask=t["mask"], is_causal=causal, scale=scale
    )


def forward_case(b, h, length, d, *, lk=None, dv=None, causal=False, mask=None):
    """attention_forward; ``lk``/``dv`` default to ``length``/``d``, ``mask`` as in _inputs."""
    scale = 1.0 / math.sqrt(d) if d else 1.0
    lk_ = length if lk is None else lk

    def make(rng):
        return _inputs(rng, b, h, length, d, lk, dv, mask)

    def call(mod, x):
        return mod.attention_forward(x["q"], x["k"], x["v"], x.get("mask"), causal, scale)

    def torch_ref(x, device="cpu"):
        torch, _ = optional("torch")
        t = torch_tensors(torch, {"mask": None, **x}, device, ("q", "k", "v", "mask"))

        def run():
            with torch.no_grad():
                return (_sdpa(torch, t, causal, scale),)

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
        f"fwd {_shape_label(b, h, length, d, lk, dv, causal, mask)}",
        attention_flops(b, h, length, lk_, d),
        FORWARD,
        make,
        call,
        expect64(FORWARD, call),
        {"torch": torch_ref, "naive": naive_ref},
        reduction=max(d, length),
    )


def backward_case(b, h, length, d, *, lk=None, dv=None, causal=False, mask=None):
    """attention_backward from the float64 reference's forward (out, lse)."""
    scale = 1.0 / math.sqrt(d) if d else 1.0
    lk_ = length if lk is None else lk

    def make(rng):
        x = _inputs(rng, b, h, length, d, lk, dv, mask)
        ref = reference_backend()
        why = native(ref, FORWARD)
        if why:
            raise Unavailable(f"cannot make the forward state to differentiate: {why}")
        x64 = f64(x)
        out, lse = ref.attention_forward(x64["q"], x64["k"], x64["v"], x64["mask"], causal, scale)
        x.update(out=out.astype("float32"), lse=lse.astype("float32"), go=randn(rng, *out.shape))
        return x

    def call(mod, x):
        return mod.attention_backward(
            x["go"], x["q"], x["k"], x["v"], x["out"], x["lse"], x.get("mask"), causal, scale
        )

    def torch_ref(x, device="cpu"):
        torch, _ = optional("torch")
        t = torch_tensors(
            torch, {"mask": None, **x}, device, ("q", "k", "v", "mask", "go"),
            requires_grad=("q", "k", "v"),
        )
        out = _sdpa(torch, t, causal, scale)
        wrt = [t["q"], t["k"], t["v"]]
        return lambda: torch.autograd.grad(out, wrt, t["go"], retain_graph=True)

    return Case(
        "attention",
        f"bwd {_shape_label(b, h, length, d, lk, dv, causal, mask)}",
        2.5 * attention_flops(b, h, length, lk_, d),
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


# (B, H, Lq, D, Lk, Dv, causal, mask)
TEST_GRID = [
    (1, 1, 1, 1, 1, 1, False, None),
    (1, 2, 7, 5, 7, 5, True, None),
    (1, 1, 16, 5, 9, 3, False, "dead"),
    (2, 1, 1, 8, 7, 8, False, "float"),
    (2, 3, 7, 8, 7, 8, False, None),
    (1, 2, 65, 33, 65, 33, True, None),  # one past a 64-row block, odd head size
    (2, 1, 100, 64, 257, 50, False, "dead"),  # Lq != Lk, D != Dv
    (1, 2, 257, 16, 100, 16, True, None),  # causal with Lq > Lk
    (1, 1, 33, 200, 40, 256, False, "float"),  # head sizes up to 256
    (1, 2, 5, 4, 0, 4, False, None),  # no keys: out = 0, lse = +inf
    (0, 2, 5, 4, 5, 4, False, None),  # empty batch
]


def test_cases() -> list[Case]:
    """The correctness grid tests/test_attention.py runs on every backend and every registered
    version, forward (out, lse) and backward (dq, dk, dv): single-token and odd/prime lengths,
    Lq != Lk, D != Dv up to 256, causal, float and -inf masks broadcast over batch or heads, no
    keys at all, an empty batch."""
    out = []
    for b, h, lq, d, lk, dv, causal, mask in TEST_GRID:
        kw = dict(lk=lk, dv=dv, causal=causal, mask=mask)
        out += [forward_case(b, h, lq, d, **kw), backward_case(b, h, lq, d, **kw)]
    return out
