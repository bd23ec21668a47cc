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


def _pair(v) -> tuple:
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def _geometry(stride, pad, dilation=1, groups=1):
    return _pair(stride), _pair(pad), _pair(dilation), groups


def _extras(k, stride, pad, dilation, groups, activation) -> str:
    """Label suffix naming what differs from the bench's plain 3x3 / stride 1 / pad 1 layer."""
    out = f"k{k[0]}x{k[1]}" if k[0] != k[1] else f"k{k[0]}"
    for name, v, plain in (("s", stride, (1, 1)), ("p", pad, (1, 1)), ("d", dilation, (1, 1))):
        if v != plain:
            out += f" {name}{v[0]}" + (f"x{v[1]}" if v[1] != v[0] else "")
    out += f" g{groups}" if groups != 1 else ""
    return out + (f" +{activation}" if activation else "")


def _shape(n, c, h, w, oc, k, stride, pad, dilation, groups):
    """(kh, kw), (oh, ow), the FLOPs of the forward and the per-output reduction length."""
    kh, kw = _pair(k)
    oh = out_size(h, kh, stride[0], pad[0], dilation[0])
    ow = out_size(w, kw, stride[1], pad[1], dilation[1])
    flops = 2.0 * n * oc * oh * ow * (c // groups) * kh * kw
    return (kh, kw), (oh, ow), flops, (c // groups) * kh * kw


def forward_case(n, c, h, w, oc, k=3, stride=1, pad=1, label="", *, dilation=1, groups=1,
                 activation=None):
    """A conv2d_forward case; k, stride, pad and dilation are ints or (h, w) pairs."""
    st, pd, dl, g = _geometry(stride, pad, dilation, groups)
    (kh, kw), _, flops, red = _shape(n, c, h, w, oc, k, st, pd, dl, g)

    def make(rng):
        return {
            "x": randn(rng, n, c, h, w),
            "w": randn(rng, oc, c // g, kh, kw, scale=red**-0.5),
            "b": randn(rng, oc),
        }

    def call(mod, x):
        return (mod.conv2d_forward(x["x"], x["w"], x["b"], st, pd, dl, g, activation),)

    def torch_ref(x, device="cpu"):
        torch, _ = optional("torch")
        t = torch_tensors(torch, x, device, ("x", "w", "b"))
        conv = torch.nn.functional.conv2d
        act = torch.relu if activation == "relu" else (lambda y: y)

        def run():
            with torch.no_grad():
                return (act(conv(t["x"], t["w"], t["b"], st, pd, dl, g)),)

        return run

    return Case(
        "conv2d",
        f"{label} fwd {n}x{c}x{h}x{w} {_extras((kh, kw), st, pd, dl, g, activation)} "
        f"oc{oc}".strip(),
        flops,
        FORWARD,
        make,
        call,
        expect64(FORWARD, call),
        {"torch": torch_ref},
        reduction=red,
    )


def backward_case(n, c, h, w, oc, k=3, stride=1, pad=1, label="", *, dilation=1, groups=1):
    """conv2d_backward_input and conv2d_backward_weight (with the bias gradient) together."""
    st, pd, dl, g = _geometry(stride, pad, dilation, groups)
    (kh, kw), (oh, ow), flops, red = _shape(n, c, h, w, oc, k, st, pd, dl, g)

    def make(rng):
        return {
            "x": randn(rng, n, c, h, w),
            "w": randn(rng, oc, c // g, kh, kw, scale=red**-0.5),
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
        f"{label} bwd {n}x{c}x{h}x{w} {_extras((kh, kw), st, pd, dl, g, None)} oc{oc}".strip(),
        2 * flops,
        BACKWARD,
        make,
        call,
        expect64(BACKWARD, call),
        {"torch": torch_ref},
        reduction=max((oc // g) * kh * kw, n * oh * ow),
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


# (N, C, H, W, OC, kernel, stride, padding, dilation, groups, fused activation of the forward)
TEST_GRID = [
    (1, 1, 7, 7, 1, 3, 1, 1, 1, 1, None),
    (1, 3, 7, 7, 4, 3, 2, 1, 1, 1, "relu"),
    (1, 4, 5, 6, 4, (3, 1), 1, (2, 0), 2, 4, None),  # depthwise, dilated, non-square
    (2, 4, 3, 3, 5, 3, 1, 0, 1, 1, None),  # 1x1 output
    (3, 3, 13, 13, 5, 5, 2, 2, 1, 1, "relu"),
    (1, 5, 24, 24, 16, (3, 1), 3, 0, 2, 1, None),
    (3, 16, 7, 13, 16, 1, 1, 0, 1, 1, None),
    (1, 16, 13, 7, 16, 3, 1, 2, 2, 16, "relu"),  # depthwise, dilated, "same"-sized
    (3, 16, 24, 24, 32, 3, 2, 1, 1, 2, None),
    (2, 6, 11, 17, 9, 3, (1, 2), (2, 1), (2, 1), 3, None),
    (2, 32, 9, 11, 40, 3, 1, 1, 1, 1, "relu"),  # >= 32 channels per group, stride 1
    (0, 3, 7, 7, 4, 3, 1, 1, 1, 1, None),  # empty batch
]


def test_cases() -> list[Case]:
    """The correctness grid tests/test_conv2d.py runs on every backend and every registered
    version, forward (with its fused activation) and backward (input, weight and bias gradients):
    odd and prime spatial sizes, 1x1 to 5x5 and non-square kernels, stride 1-3, padding 0-2 and
    per-axis, dilation 1-2, grouped and depthwise, a 1x1 output, an empty batch."""
    out = []
    for n, c, h, w, oc, k, s, p, d, g, act in TEST_GRID:
        out += [
            forward_case(n, c, h, w, oc, k, s, p, dilation=d, groups=g, activation=act),
            backward_case(n, c, h, w, oc, k, s, p, dilation=d, groups=g),
        ]
    return out
