"""conv2d cases: the seed CNN's layers (batch 64) and ResNet's 3x3 layers (batch 8), forward and
backward (input + weight gradients together, as one training step needs them).

FLOPs: forward 2*N*OC*OH*OW*(C/groups)*KH*KW; backward twice that (grad input + grad weight;
the bias gradient's sum is not counted). Reference: PyTorch CPU (F.conv2d, and
aten.convolution_backward so only the backward is timed); PyTorch CUDA on a GPU.
"""

from __future__ import annotations

from .base import Case, expect64, optional, randn, torch_tensors

FORWARD = ("conv2d_forward",)
BACKWARD = ("conv2d_backward_input", "conv2d_backward_weight")


def out_size(h: int, k: int, stride: int, pad: int, dil: int = 1) -> int:
    return (h + 2 * pad - dil * (k - 1) - 1) // stride + 1


def conv2d_flops(n, c, h, w, oc, kh, kw, stride=1, pad=1, groups=1) -> float:
    """Forward multiply-adds x2 of an NCHW convolution (PyTorch's conv2d semantics)."""
    oh, ow = out_size(h, kh, stride, pad), out_size(w, kw, stride, pad)
    return 2.0 * n * oc * oh * ow * (c // groups) * kh * kw


def _geometry(stride, pad):
    return (stride, stride), (pad, pad), (1, 1), 1


def forward_case(n, c, h, w, oc, k=3, stride=1, pad=1, label=""):
    st, pd, dl, g = _geometry(stride, pad)

    def make(rng):
        fan_in = c * k * k
        return {
            "x": randn(rng, n, c, h, w),
            "w": randn(rng, oc, c, k, k, scale=fan_in**-0.5),
            "b": randn(rng, oc),
        }

    def call(mod, x):
        return (mod.conv2d_forward(x["x"], x["w"], x["b"], st, pd, dl, g, None),)

    def torch_ref(x, device="cpu"):
        torch, _ = optional("torch")
        t = torch_tensors(torch, x, device, ("x", "w", "b"))
        conv = torch.nn.functional.conv2d

        def run():
            with torch.no_grad():
                return (conv(t["x"], t["w"], t["b"], st, pd, dl, g),)

        return run

    return Case(
        "conv2d",
        f"{label} fwd {n}x{c}x{h}x{w} k{k} oc{oc}".strip(),
        conv2d_flops(n, c, h, w, oc, k, k, stride, pad),
        FORWARD,
        make,
        call,
        expect64(FORWARD, call),
        {"torch": torch_ref},
        reduction=c * k * k,
    )


def backward_case(n, c, h, w, oc, k=3, stride=1, pad=1, label=""):
    st, pd, dl, g = _geometry(stride, pad)
    oh, ow = out_size(h, k, stride, pad), out_size(w, k, stride, pad)

    def make(rng):
        return {
            "x": randn(rng, n, c, h, w),
            "w": randn(rng, oc, c, k, k, scale=(c * k * k) ** -0.5),
            "gy": randn(rng, n, oc, oh, ow),
        }

    def call(mod, x):
        gx = mod.conv2d_backward_input(x["gy"], x["w"], tuple(x["x"].shape), st, pd, dl, g)
        gw, gb = mod.conv2d_backward_weight(
            x["x"], x["gy"], tuple(x["w"].shape), st, pd, dl, g, True
        )
        return gx, gw, gb

    def torch_ref(x, device="cpu"):
        torch, _ = optional("torch")
        t = torch_tensors(torch, x, device, ("x", "w", "gy"))
        backward = torch.ops.aten.convolution_backward

        def run():
            with torch.no_grad():
                return backward(
                    t["gy"],
                    t["x"],
                    t["w"],
                    [oc],
                    list(st),
                    list(pd),
                    list(dl),
                    False,
                    [0, 0],
                    g,
                    [True, True, True],
                )

        return run

    return Case(
        "conv2d",
        f"{label} bwd {n}x{c}x{h}x{w} k{k} oc{oc}".strip(),
        2 * conv2d_flops(n, c, h, w, oc, k, k, stride, pad),
        BACKWARD,
        make,
        call,
        expect64(BACKWARD, call),
        {"torch": torch_ref},
        reduction=max(oc * k * k, n * oh * ow),
    )


def cases(sizes: str) -> list[Case]:
    if sizes == "tiny":
        layers = [(2, 3, 7, 5, 4, "")]
    else:
        layers = [
            (64, 3, 24, 24, 32, "CNN1"),
            (64, 32, 12, 12, 64, "CNN2"),
            (8, 64, 56, 56, 64, "RN64"),
        ]
        layers += (
            [(8, 256, 14, 14, 256, "RN256")]
            if sizes == "quick"
            else [
                (8, 128, 28, 28, 128, "RN128"),
                (8, 256, 14, 14, 256, "RN256"),
                (8, 512, 7, 7, 512, "RN512"),
            ]
        )
    out = []
    for n, c, h, w, oc, label in layers:
        out += [
            forward_case(n, c, h, w, oc, label=label),
            backward_case(n, c, h, w, oc, label=label),
        ]
    return out
