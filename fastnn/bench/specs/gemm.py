"""GEMM cases: square sizes, the shapes the training race actually runs, and a fused epilogue.

FLOPs = 2*M*N*K (the bias/activation epilogue is not counted: it is what fusion makes cheap).
References: NumPy (OpenBLAS) and PyTorch CPU; on a GPU CuPy/cuBLAS (TF32 off) and PyTorch CUDA.
"""

from __future__ import annotations

import os

from ..._math import ACTIVATIONS
from .base import Case, expect64, randn, torch_tensors

KERNELS = ("gemm",)


def gemm_flops(m: int, n: int, k: int) -> float:
    """Multiply-adds of an (M, K) x (K, N) product, counted as 2 FLOPs each."""
    return 2.0 * m * n * k


def _call(ta, tb, act):
    def call(mod, x):
        return (mod.gemm(x["a"], x["b"], x["bias"], act, ta, tb, 1.0, 0.0, None),)

    return call


def _numpy(ta, tb, act):
    def build(x, device="cpu"):
        a = x["a"].T if ta else x["a"]
        b = x["b"].T if tb else x["b"]
        bias, f = x["bias"], ACTIVATIONS[act]
        if bias is None:
            return lambda: (f(a @ b),)
        return lambda: (f(a @ b + bias),)

    return build


def _torch(ta, tb, act):
    def build(x, device="cpu"):
        from .base import optional

        torch, _ = optional("torch")
        if device == "cuda":
            torch.backends.cuda.matmul.allow_tf32 = False  # full float32, as in our kernels
        t = torch_tensors(torch, x, device, ("a", "b", "bias"))
        a = t["a"].t() if ta else t["a"]
        b = t["b"].t() if tb else t["b"]
        bias = t["bias"]
        f = {
            None: lambda y: y,
            "relu": torch.relu,
            "gelu": torch.nn.functional.gelu,
            "sigmoid": torch.sigmoid,
            "tanh": torch.tanh,
        }[act]

        def run():
            with torch.no_grad():
                y = torch.mm(a, b) if bias is None else torch.addmm(bias, a, b)
                return (f(y),)

        return run

    return build


def _cupy(ta, tb, act):
    def build(x, device="cuda"):
        os.environ.setdefault("CUPY_TF32", "0")  # TF32 off: compare float32 with float32
        import cupy

        a, b = cupy.asarray(x["a"]), cupy.asarray(x["b"])
        a, b = (a.T if ta else a), (b.T if tb else b)
        bias = None if x["bias"] is None else cupy.asarray(x["bias"])
        if act not in (None, "relu"):
            raise NotImplementedError(act)

        def run():
            y = a @ b
            if bias is not None:
                y += bias
            return (cupy.maximum(y, 0) if act == "relu" else y,)

        return run

    return build


def case(m, n, k, *, trans_a=False, trans_b=False, bias=False, activation=None, label=None):
    """A GEMM case: op(a) is (M, K), op(b) is (K, N)."""

    def make(rng):
        a = randn(rng, *((k, m) if trans_a else (m, k)))
        b = randn(rng, *((n, k) if trans_b else (k, n)))
        return {"a": a, "b": b, "bias": randn(rng, n) if bias else None}

    call = _call(trans_a, trans_b, activation)
    epi = ("+bias" if bias else "") + (f"+{activation}" if activation else "")
    return Case(
        family="gemm",
        size=label or f"{m}x{n}x{k}{epi}",
        flops=gemm_flops(m, n, k),
        kernels=KERNELS,
        make=make,
        call=call,
        expect=expect64(KERNELS, call),
        refs={
            "numpy": _numpy(trans_a, trans_b, activation),
            "torch": _torch(trans_a, trans_b, activation),
            "cupy": _cupy(trans_a, trans_b, activation),
        },
        reduction=k,
    )


def cases(sizes: str) -> list[Case]:
    if sizes == "tiny":
        return [case(64, 64, 64), case(37, 29, 23, trans_b=True, bias=True, activation="relu")]
    squares = (256, 512, 1024) if sizes == "quick" else (256, 512, 1024, 1536, 2048)
    out = [case(s, s, s) for s in squares]
    # Training shapes: Linear forward x @ W^T (MLP 784->256, batch 64), its weight gradient
    # grad^T @ x, and the transformer FFN (batch*L = 2048 rows, 128 -> 512) with and without
    # its fused bias + ReLU epilogue.
    out += [
        case(64, 256, 784, trans_b=True, label="MLP fwd 64x256x784"),
        case(256, 784, 64, trans_a=True, label="MLP dW 256x784x64"),
        case(
            2048,
            512,
            128,
            trans_b=True,
            bias=True,
            activation="relu",
            label="FFN 2048x512x128+bias+relu",
        ),
    ]
    if sizes == "full":
        out += [
            case(2048, 512, 128, trans_b=True, label="FFN 2048x512x128"),
            case(6400, 512, 64, trans_b=True, label="LSTM proj 6400x512x64"),
        ]
    return out


def test_cases() -> list[Case]:
    """The correctness grid tests/test_gemm.py runs on every backend and every registered version
    (forward vs the float64 reference and vs PyTorch): 1x1x1, odd and prime sizes, sizes one past
    a tile or a cache block, every transpose pair, each activation with and without bias, and
    zero-size M, N and K (K == 0 gives act(bias))."""
    return [
        case(1, 1, 1),
        case(7, 13, 5, trans_a=True),
        case(5, 3, 7, trans_b=True, bias=True, activation="tanh"),
        case(17, 31, 37, trans_b=True, bias=True, activation="relu"),
        case(65, 33, 129, trans_a=True, trans_b=True, bias=True, activation="gelu"),
        case(37, 29, 23, activation="sigmoid"),
        case(23, 19, 300, bias=True, activation="tanh"),
        case(130, 67, 71),
        case(0, 5, 3),
        case(4, 0, 3, bias=True),
        case(4, 5, 0, bias=True, activation="relu"),
    ]
