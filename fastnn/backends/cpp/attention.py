"""C++ fused attention adapter (csrc/attention.cpp); the extension re-checks every argument."""

from ._loader import load


def attention_forward(q, k, v, mask, causal, scale):
    return load().attention_forward(q, k, v, mask, bool(causal), float(scale))


def attention_backward(grad_out, q, k, v, out, lse, mask, causal, scale):
    return load().attention_backward(grad_out, q, k, v, out, lse, mask, bool(causal), float(scale))
