"""The kernel contract: the one list of kernels every backend implements.

Each stub below gives a kernel's exact signature and its specification. A backend package
(``fastnn/backends/<name>/``) exposes functions with exactly these names and parameter names,
imported in its ``__init__`` from one module per family (``<name>/<family>.py``; the cpp backend
binds the extension's functions by these names instead).
Backends receive inputs that ``fastnn.ops`` has already validated:

* dtypes agree and are supported by the backend (float32 everywhere; float64 on reference/numba),
* shapes are consistent, integers are plain Python ints, tuples are tuples of ints,
* arrays are C-contiguous (a transposed operand arrives as its contiguous buffer plus a
  ``trans_*`` flag where the kernel has one),
* arrays live on the backend's device (NumPy on CPU; ``__cuda_array_interface__`` arrays,
  or NumPy under ``NUMBA_ENABLE_CUDASIM=1``, for cuda).

Backends still must never crash on bad input: the C++ extension re-checks what it indexes.
A backend that lacks a kernel falls back to ``reference``; ``fastnn.backends.table()`` shows it.
Sections are grouped by kernel family; keep a family's forward and backward together.
"""

# ----------------------------------------------------------------------------------------- gemm


def gemm(a, b, bias, activation, trans_a, trans_b, alpha, beta, out):
    """General matrix multiply with a fused epilogue.

    ``out = act(alpha * op(a) @ op(b) + beta * out + bias)``

    Args:
        a: (M, K) array, or (K, M) when ``trans_a`` (then op(a) = a.T).
        b: (K, N) array, or (N, K) when ``trans_b``.
        bias: None or (N,) array, added to every row before the activation.
        activation: None, "relu", "gelu" (exact, erf-based like PyTorch), "sigmoid" or "tanh".
        trans_a, trans_b: bool.
        alpha, beta: Python floats. With ``beta == 0`` the old contents of ``out`` are ignored
            (even NaN), as in BLAS.
        out: None or a C-contiguous writable (M, N) array of the same dtype.

    Returns:
        The (M, N) result (``out`` itself when given). K == 0 gives ``act(beta*out + bias)``.
    """


# --------------------------------------------------------------------------------------- conv2d


def conv2d_forward(x, w, bias, stride, padding, dilation, groups, activation):
    """2-D cross-correlation over NCHW input (PyTorch's conv2d), fused bias and activation.

    Args:
        x: (N, C, H, W).
        w: (OC, C // groups, KH, KW).
        bias: None or (OC,).
        stride, dilation: (sh, sw) and (dh, dw), each >= 1.
        padding: (ph, pw), symmetric zero padding >= 0 (``fastnn.ops.conv2d`` turns "same"
            with an asymmetric need into explicit padding of x).
        groups: int dividing C and OC.
        activation: None or "relu".

    Returns:
        y: (N, OC, OH, OW), OH = (H + 2*ph - dh*(KH-1) - 1) // sh + 1, likewise OW.
    """


def conv2d_backward_input(grad_out, w, input_shape, stride, padding, dilation, groups):
    """Gradient of conv2d_forward (no activation) with respect to x.

    Args:
        grad_out: (N, OC, OH, OW).
        w: (OC, C // groups, KH, KW).
        input_shape: (N, C, H, W) of x.
        stride, padding, dilation, groups: as in conv2d_forward.

    Returns:
        grad_x: (N, C, H, W).
    """


def conv2d_backward_weight(x, grad_out, weight_shape, stride, padding, dilation, groups, need_bias):
    """Gradients of conv2d_forward (no activation) with respect to w and bias.

    Args:
        x: (N, C, H, W).
        grad_out: (N, OC, OH, OW).
        weight_shape: (OC, C // groups, KH, KW).
        stride, padding, dilation, groups: as in conv2d_forward.
        need_bias: bool.

    Returns:
        (grad_w, grad_bias): grad_w (OC, C // groups, KH, KW); grad_bias (OC,) or None.
    """


# -------------------------------------------------------------------------------------- pooling


def max_pool2d_forward(x, kernel, stride, padding, dilation, ceil_mode):
    """Max pooling over NCHW input (PyTorch's max_pool2d; padding counts as -inf).

    Args:
        x: (N, C, H, W).
        kernel, stride, dilation: (h, w) pairs >= 1; padding: (h, w), at most half the kernel.
        ceil_mode: bool; keeps a last partial window (never one starting in the far padding).

    Returns:
        (y (N, C, OH, OW), arg (N, C, OH, OW) int32): arg is the tap i*KW + j of the window's
        maximum -- the first one, except that NaN wins (the last NaN), as in PyTorch.
    """


def max_pool2d_backward(grad_out, arg, input_shape, kernel, stride, padding, dilation, ceil_mode):
    """Gradient of max_pool2d_forward: grad_x (N, C, H, W), each grad_out element added at the
    input pixel its ``arg`` tap names."""


# ----------------------------------------------------------------------------------------- lstm


def lstm_cell_forward(x, h, c, w_ih, w_hh, b_ih, b_hh):
    """One LSTM step, PyTorch's gate order (i, f, g, o).

    gates = x @ w_ih.T + b_ih + h @ w_hh.T + b_hh, split into i, f, g, o;
    i, f, o = sigmoid(.), g = tanh(.); c' = f*c + i*g; h' = o*tanh(c').

    Args:
        x: (B, I); h, c: (B, H); w_ih: (4H, I); w_hh: (4H, H); b_ih, b_hh: None or (4H,).

    Returns:
        (h_new (B, H), c_new (B, H), gates (B, 4H)): gates holds the activated i, f, g, o,
        saved for lstm_cell_backward.
    """


def lstm_cell_backward(grad_h, grad_c, x, h, c, c_new, gates, w_ih, w_hh):
    """Backward of lstm_cell_forward.

    Args:
        grad_h, grad_c: (B, H) gradients flowing into h_new and c_new (zeros when unused).
        x, h, c, w_ih, w_hh: the forward inputs; c_new, gates: the forward outputs.

    Returns:
        (grad_x (B, I), grad_h (B, H), grad_c (B, H), grad_w_ih (4H, I), grad_w_hh (4H, H),
        grad_b (4H,)). grad_b is the gradient of b_ih and of b_hh alike.
    """


def lstm_sequence_forward(x, h0, c0, w_ih, w_hh, b_ih, b_hh):
    """One LSTM layer over a whole sequence, one direction, time-major.

    The input projection for all T steps is one (T*B, I) x (I, 4H) GEMM; the recurrence runs
    step by step.

    Args:
        x: (T, B, I); h0, c0: (B, H); w_ih: (4H, I); w_hh: (4H, H); b_ih, b_hh: None or (4H,).

    Returns:
        (y (T, B, H), h_n (B, H), c_n (B, H), cs (T, B, H) cell states, gates (T, B, 4H)
        activated gates): cs and gates are what lstm_sequence_backward needs. h_n and c_n are
        new arrays (copies of h0 and c0 when T == 0); B == 0 gives empty results. No input is
        modified (the Functions keep them for the backward).
    """


def lstm_sequence_backward(grad_y, grad_hn, grad_cn, x, h0, c0, w_ih, w_hh, y, cs, gates):
    """Backward through time of lstm_sequence_forward.

    Args:
        grad_y: (T, B, H); grad_hn, grad_cn: (B, H) (zeros when unused);
        x, h0, c0, w_ih, w_hh: forward inputs; y, cs, gates: forward outputs.

    Returns:
        (grad_x (T, B, I), grad_h0 (B, H), grad_c0 (B, H), grad_w_ih (4H, I),
        grad_w_hh (4H, H), grad_b (4H,)); weight gradients are GEMMs over the whole sequence.
    """


# ------------------------------------------------------------------------------------ attention


def attention_forward(q, k, v, mask, causal, scale):
    """Fused scaled dot-product attention (flash-style, online softmax).

    out = softmax(q @ k^T * scale + mask [+ causal -inf above the diagonal]) @ v, computed in
    key blocks without materialising the (Lq, Lk) score matrix (extra memory O(L d)).

    Args:
        q: (B, H, Lq, D); k: (B, H, Lk, D); v: (B, H, Lk, Dv). Any Lq, Lk, D, Dv >= 0
            (Lq != Lk allowed; D, Dv need not be powers of two; cuda: D, Dv <= 256).
        mask: None or an additive float mask (Bm, Hm, Lq, Lk) of q's dtype with Bm in {1, B},
            Hm in {1, H} (``fastnn.ops.attention`` turns boolean masks -- True = attend -- into
            0 / -inf and materialises broadcast Lq/Lk dims).
        causal: bool; query i attends keys j <= i (top-left aligned, like PyTorch).
        scale: Python float.

    Returns:
        (out (B, H, Lq, Dv), lse (B, H, Lq)) in q's dtype; lse is the natural-log sum of exp of
        each row's scores. A row whose keys are all masked (or Lk == 0) gives out = 0 and
        lse = +inf (so its backward is 0), never NaN; a NaN or +inf score gives a NaN out row
        and a NaN lse, on every backend.
    """


def attention_backward(grad_out, q, k, v, out, lse, mask, causal, scale):
    """Backward of attention_forward (FlashAttention-2: recompute scores from lse).

    P = exp(q k^T * scale + mask - lse) (0 where lse = +inf), D = rowsum(grad_out * out),
    dV = P^T grad_out, dS = P * (grad_out v^T - D), dQ = dS k * scale, dK = dS^T q * scale.

    Args:
        grad_out: (B, H, Lq, Dv); q, k, v, mask, causal, scale: as given to the forward;
            out, lse: what the forward returned.

    Returns:
        (dq (B, H, Lq, D), dk (B, H, Lk, D), dv (B, H, Lk, Dv)); the mask gets no gradient.
    """


KERNEL_FAMILIES = {
    "gemm": ("gemm",),
    "conv2d": ("conv2d_forward", "conv2d_backward_input", "conv2d_backward_weight"),
    "pooling": ("max_pool2d_forward", "max_pool2d_backward"),
    "lstm": (
        "lstm_cell_forward",
        "lstm_cell_backward",
        "lstm_sequence_forward",
        "lstm_sequence_backward",
    ),
    "attention": ("attention_forward", "attention_backward"),
}
KERNELS = tuple(name for names in KERNEL_FAMILIES.values() for name in names)
