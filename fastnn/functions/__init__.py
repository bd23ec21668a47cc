"""Differentiable Functions by family (forward and backward side by side, on raw arrays):

elementwise (arithmetic, unary math, comparisons, where, clamp...), reduce (sum, mean, max...,
softmax), shape (view, transpose, cat...), indexing (getitem/setitem, gather, scatter...),
linalg (matmul, linear through ``fastnn.ops.gemm``), creation (tensor, zeros, randn...).
Kernel families add their own files (conv, rnn, attention).
"""
