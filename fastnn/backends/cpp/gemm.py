"""C++ GEMM adapter (csrc/gemm.cpp); the extension re-checks every argument itself."""

from ._loader import load


def gemm(a, b, bias, activation, trans_a, trans_b, alpha, beta, out):
    return load().gemm(a, b, bias, activation, trans_a, trans_b, alpha, beta, out)
