"""Max-pooling cases (the pooling family's max_pool2d kernels), forward and backward.

Not yet a ``python -m fastnn bench`` family (``specs.FAMILIES``): pooling is memory-bound and the
bench reports GFLOP/s; the kernel tests (tests/test_pooling.py) run ``test_cases()``.
FLOPs: one comparison per window tap and output, KH*KW*N*C*OH*OW (backward: one add per output).
Reference: PyTorch CPU F.max_pool2d (backward: autograd.grad over a retained graph); the window
argmax (``arg``, a tap index) has no PyTorch twin, so it is checked against the float64 reference
only.
"""

from __future__ import annotations

from ..._util import pool_output_size
from .base import (
    Case,
    expect64,
    f64,
    optional,
    randn,
    reference_backend,
    torch_forward_ref,
    torch_tensors,
)

FORWARD = ("max_pool2d_forward",)
BACKWARD = ("max_pool2d_backward",)


def _pair(v) -> tuple:
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def _geometry(kernel, stride, padding, dilation):
    kernel = _pair(kernel)
    stride = kernel if stride is None else _pair(stride)
    return kernel, stride, _pair(padding), _pair(dilation)


def _label(kind, n, c, h, w, geo, ceil_mode):
    k, s, p, d = geo
    return (f"{kind} {n}x{c}x{h}x{w} k{k[0]}x{k[1]} s{s[0]}x{s[1]} p{p[0]}x{p[1]} "
            f"d{d[0]}x{d[1]}" + (" ceil" if ceil_mode else ""))


def _out(h, w, geo, ceil_mode):
    k, s, p, d = geo
    return tuple(pool_output_size(size, k[a], s[a], p[a], d[a], ceil_mode)
                 for a, size in enumerate((h, w)))


def _torch_pool(torch, t, geo, ceil_mode):
    k, s, p, d = geo
    return torch.nn.functional.max_pool2d(t["x"], k, s, p, d, ceil_mode)


def forward_case(n, c, h, w, kernel, stride=None, padding=0, dilation=1, ceil_mode=False):
    """max_pool2d_forward: the pooled values and each window's argmax tap."""
    geo = _geometry(kernel, stride, padding, dilation)
    oh, ow = _out(h, w, geo, ceil_mode)
    pool = (geo, ceil_mode)

    def make(rng):
        return {"x": randn(rng, n, c, h, w)}

    def call(mod, x):
        return mod.max_pool2d_forward(x["x"], *geo, ceil_mode)

    return Case(
        "pooling",
        _label("fwd", n, c, h, w, geo, ceil_mode),
        float(n * c * oh * ow * geo[0][0] * geo[0][1]),
        FORWARD,
        make,
        call,
        expect64(FORWARD, call),
        {"torch": torch_forward_ref(("x",), lambda torch, t: (_torch_pool(torch, t, *pool),))},
        reduction=1,  # a max is exact: the only error allowed is the floor
    )


def backward_case(n, c, h, w, kernel, stride=None, padding=0, dilation=1, ceil_mode=False):
    """max_pool2d_backward from the float64 reference's argmax taps."""
    geo = _geometry(kernel, stride, padding, dilation)
    oh, ow = _out(h, w, geo, ceil_mode)

    def make(rng):
        x = {"x": randn(rng, n, c, h, w)}
        _, arg = reference_backend().max_pool2d_forward(f64(x)["x"], *geo, ceil_mode)
        return {**x, "arg": arg, "gy": randn(rng, n, c, oh, ow)}

    def call(mod, x):
        return (mod.max_pool2d_backward(x["gy"], x["arg"], (n, c, h, w), *geo, ceil_mode),)

    def torch_ref(x, device="cpu"):
        torch, _ = optional("torch")
        t = torch_tensors(torch, x, device, ("x", "gy"), requires_grad=("x",))
        y = _torch_pool(torch, t, geo, ceil_mode)
        return lambda: torch.autograd.grad(y, [t["x"]], t["gy"], retain_graph=True)

    return Case(
        "pooling",
        _label("bwd", n, c, h, w, geo, ceil_mode),
        float(n * c * oh * ow),
        BACKWARD,
        make,
        call,
        expect64(BACKWARD, call),
        {"torch": torch_ref},
        reduction=geo[0][0] * geo[0][1],  # overlapping windows add up to KH*KW gradients
    )


# (N, C, H, W, kernel, stride, padding, dilation, ceil_mode)
TEST_GRID = [
    (1, 1, 1, 1, 1, None, 0, 1, False),
    (1, 2, 4, 4, 2, None, 0, 1, False),
    (2, 3, 7, 5, 3, 2, 1, 1, True),  # overlapping windows, padded, a last partial window
    (1, 2, 9, 9, 3, 1, 1, 2, False),  # dilated, stride 1: every input in several windows
    (2, 3, 13, 11, (3, 2), (2, 1), (1, 0), (1, 2), True),
    (3, 5, 24, 24, 2, None, 0, 1, False),  # the CNN's 2x2 / stride 2
    (2, 4, 17, 31, 5, 3, 2, 1, False),
    (0, 3, 8, 8, 2, None, 0, 1, False),  # empty batch
    (2, 0, 8, 8, 2, None, 0, 1, False),  # no channels
]


def test_cases() -> list[Case]:
    """The correctness grid tests/test_pooling.py runs on every backend and every registered
    version: 1x1 input, odd and prime sizes, square and non-square windows, overlapping windows,
    padding up to half the kernel, dilation, ceil_mode with a partial last window, empty batch
    and channel dims."""
    out = []
    for n, c, h, w, k, s, p, d, ceil in TEST_GRID:
        geo = (n, c, h, w, k, s, p, d, ceil)
        out += [forward_case(*geo), backward_case(*geo)]
    return out


def cases(sizes: str) -> list[Case]:
    """Benchmark shapes (not in ``specs.FAMILIES`` yet; see the module docstring)."""
    if sizes == "tiny":
        return [forward_case(2, 3, 7, 5, 3, 2, 1), backward_case(2, 3, 7, 5, 3, 2, 1)]
    out = []
    for n, c, h in ((64, 32, 24), (64, 64, 12), (8, 64, 112)):
        out += [forward_case(n, c, h, h, 2), backward_case(n, c, h, h, 2)]
    return out
