"""Reference GEMM: NumPy matmul plus the epilogue, exactly as the contract states it."""

from ..._math import ACTIVATIONS


def gemm(a, b, bias, activation, trans_a, trans_b, alpha, beta, out):
    opa = a.T if trans_a else a
    opb = b.T if trans_b else b
    acc = opa @ opb
    if alpha != 1.0:
        acc = acc * alpha
    if out is not None and beta != 0.0:
        acc = acc + beta * out
    if bias is not None:
        acc = acc + bias
    acc = ACTIVATIONS[activation](acc).astype(a.dtype, copy=False)
    if out is None:
        return acc
    out[...] = acc
    return out
