"""Array-level LSTM API: validate, lay out (C-contiguous), dispatch to the chosen backend.

``lstm_cell`` / ``lstm`` are the convenient forms (state optional, returns only the new state and
outputs); the ``*_forward`` / ``*_backward`` functions are the contract kernels with validation,
for autograd Functions and for users who train at the array level.
"""

# ruff: noqa: E741  (I is the input size, as in the kernel contract's (T, B, I, H) notation)

from __future__ import annotations

import numpy as np

from .. import backends
from .._util import FLOAT_DTYPES, check_array, contiguous, xp_of

__all__ = [
    "lstm_cell",
    "lstm",
    "lstm_cell_forward",
    "lstm_cell_backward",
    "lstm_sequence_forward",
    "lstm_sequence_backward",
]


def _shape_error(name, want, got):
    return ValueError(f"{name}: expected shape {tuple(want)}, got {tuple(got)}")


def _check_weights(w_ih, w_hh, b_ih, b_hh, dtype):
    check_array(w_ih, "w_ih", 2, dtype)
    if w_ih.shape[0] % 4:
        raise ValueError(
            f"w_ih: expected shape (4*hidden_size, input_size), got {tuple(w_ih.shape)} "
            "(first dimension not a multiple of 4)"
        )
    H = w_ih.shape[0] // 4
    check_array(w_hh, "w_hh", 2, dtype)
    if tuple(w_hh.shape) != (4 * H, H):
        raise _shape_error("w_hh", (4 * H, H), w_hh.shape)
    for name, b in (("b_ih", b_ih), ("b_hh", b_hh)):
        if b is not None:
            check_array(b, name, 1, dtype)
            if b.shape[0] != 4 * H:
                raise _shape_error(name, (4 * H,), b.shape)
    return H, w_ih.shape[1]


def _check_input(x, name, ndim, I, dtype=None):
    check_array(x, name, ndim, dtype)
    if x.shape[-1] != I:
        raise ValueError(
            f"{name}: expected input size {I} (the last dimension, matching w_ih's "
            f"{I} columns), got shape {tuple(x.shape)}"
        )


def _check_state(a, name, B, H, dtype):
    check_array(a, name, 2, dtype)
    if tuple(a.shape) != (B, H):
        raise _shape_error(name, (B, H), a.shape)


def _c(*arrays):
    return tuple(None if a is None else contiguous(a) for a in arrays)


_NDARRAY = np.ndarray


def _ready(arrays, shapes):
    """True when every array is a C-contiguous NumPy array of arrays[0]'s float dtype with exactly
    the expected shape (None arrays must have shape None): the common case, checked in a few
    microseconds; anything else goes through the full validation and its messages."""
    dt = arrays[0].dtype if type(arrays[0]) is _NDARRAY else None
    if dt not in FLOAT_DTYPES:
        return False
    for a, shape in zip(arrays, shapes):
        if a is None:
            if shape is not None:
                return False
            continue
        if type(a) is not _NDARRAY or a.dtype != dt or a.shape != shape or not a.flags.c_contiguous:
            return False
    return True


def _weight_shapes(x, w_hh, b_ih, b_hh):
    H = w_hh.shape[1] if type(w_hh) is _NDARRAY and w_hh.ndim == 2 else -1
    I = x.shape[-1] if type(x) is _NDARRAY and x.ndim else -1
    return (
        H,
        I,
        (4 * H, I),
        (4 * H, H),
        None if b_ih is None else (4 * H,),
        (None if b_hh is None else (4 * H,)),
    )


def _validate_cell(x, h, c, w_ih, w_hh, b_ih, b_hh, hname="h", cname="c"):
    check_array(x, "x", 2)
    H, I = _check_weights(w_ih, w_hh, b_ih, b_hh, x.dtype)
    _check_input(x, "x", 2, I)
    _check_state(h, hname, x.shape[0], H, x.dtype)
    _check_state(c, cname, x.shape[0], H, x.dtype)
    return H, I


def _validate_seq(x, h0, c0, w_ih, w_hh, b_ih, b_hh):
    check_array(x, "x", 3)
    H, I = _check_weights(w_ih, w_hh, b_ih, b_hh, x.dtype)
    _check_input(x, "x", 3, I)
    _check_state(h0, "h0", x.shape[1], H, x.dtype)
    _check_state(c0, "c0", x.shape[1], H, x.dtype)
    return H, I


def lstm_cell_forward(x, h, c, w_ih, w_hh, b_ih=None, b_hh=None, *, backend=None):
    """One LSTM step (gate order i, f, g, o, as PyTorch).

    Args:
        x: (B, I); h, c: (B, H); w_ih: (4H, I); w_hh: (4H, H); b_ih, b_hh: None or (4H,).
        backend: optional backend name for this call.

    Returns:
        (h_new (B, H), c_new (B, H), gates (B, 4H) activated gates saved for the backward).
    """
    args = (x, h, c, w_ih, w_hh, b_ih, b_hh)
    H, I, swi, swh, sbi, sbh = _weight_shapes(x, w_hh, b_ih, b_hh)
    B = x.shape[0] if getattr(x, "ndim", 0) == 2 else -1
    if not _ready(args, ((B, I), (B, H), (B, H), swi, swh, sbi, sbh)):
        _validate_cell(*args)
        args = _c(*args)
    fn, _ = backends.get("lstm_cell_forward", *args, backend=backend)
    return fn(*args)


def lstm_cell_backward(grad_h, grad_c, x, h, c, c_new, gates, w_ih, w_hh, *, backend=None):
    """Backward of :func:`lstm_cell_forward`.

    Returns:
        (grad_x (B, I), grad_h (B, H), grad_c (B, H), grad_w_ih (4H, I), grad_w_hh (4H, H),
        grad_b (4H,)); grad_b is the gradient of b_ih and of b_hh alike.
    """
    args = (grad_h, grad_c, x, h, c, c_new, gates, w_ih, w_hh)
    H, I, swi, swh, _, _ = _weight_shapes(x, w_hh, None, None)
    B = x.shape[0] if getattr(x, "ndim", 0) == 2 else -1
    if not _ready(
        (x,) + args, ((B, I), (B, H), (B, H), (B, I), (B, H), (B, H), (B, H), (B, 4 * H), swi, swh)
    ):
        H, _ = _validate_cell(x, h, c, w_ih, w_hh, None, None)
        B = x.shape[0]
        for name, a in (("grad_h", grad_h), ("grad_c", grad_c), ("c_new", c_new)):
            _check_state(a, name, B, H, x.dtype)
        check_array(gates, "gates", 2, x.dtype)
        if tuple(gates.shape) != (B, 4 * H):
            raise _shape_error("gates", (B, 4 * H), gates.shape)
        args = _c(*args)
    fn, _ = backends.get("lstm_cell_backward", *args, backend=backend)
    return fn(*args)


def lstm_sequence_forward(x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None, *, backend=None):
    """One LSTM layer over a time-major sequence in one call.

    Args:
        x: (T, B, I); h0, c0: (B, H); w_ih: (4H, I); w_hh: (4H, H); b_ih, b_hh: None or (4H,).

    Returns:
        (y (T, B, H), h_n (B, H), c_n (B, H), cs (T, B, H), gates (T, B, 4H)); cs and gates
        are what :func:`lstm_sequence_backward` needs.
    """
    args = (x, h0, c0, w_ih, w_hh, b_ih, b_hh)
    H, I, swi, swh, sbi, sbh = _weight_shapes(x, w_hh, b_ih, b_hh)
    TB = x.shape[:2] if getattr(x, "ndim", 0) == 3 else (-1, -1)
    if not _ready(args, (TB + (I,), (TB[1], H), (TB[1], H), swi, swh, sbi, sbh)):
        _validate_seq(*args)
        args = _c(*args)
    fn, _ = backends.get("lstm_sequence_forward", *args, backend=backend)
    return fn(*args)


def lstm_sequence_backward(
    grad_y, grad_hn, grad_cn, x, h0, c0, w_ih, w_hh, y, cs, gates, *, backend=None
):
    """Backward through time of :func:`lstm_sequence_forward`.

    Returns:
        (grad_x (T, B, I), grad_h0 (B, H), grad_c0 (B, H), grad_w_ih (4H, I), grad_w_hh (4H, H),
        grad_b (4H,)).
    """
    args = (grad_y, grad_hn, grad_cn, x, h0, c0, w_ih, w_hh, y, cs, gates)
    H, I, swi, swh, _, _ = _weight_shapes(x, w_hh, None, None)
    T, B = x.shape[:2] if getattr(x, "ndim", 0) == 3 else (-1, -1)
    if not _ready(
        (x,) + args,
        (
            (T, B, I),
            (T, B, H),
            (B, H),
            (B, H),
            (T, B, I),
            (B, H),
            (B, H),
            swi,
            swh,
            (T, B, H),
            (T, B, H),
            (T, B, 4 * H),
        ),
    ):
        H, _ = _validate_seq(x, h0, c0, w_ih, w_hh, None, None)
        T, B = x.shape[:2]
        for name, a in (("grad_hn", grad_hn), ("grad_cn", grad_cn)):
            _check_state(a, name, B, H, x.dtype)
        for name, a, n in (
            ("grad_y", grad_y, H),
            ("y", y, H),
            ("cs", cs, H),
            ("gates", gates, 4 * H),
        ):
            check_array(a, name, 3, x.dtype)
            if tuple(a.shape) != (T, B, n):
                raise _shape_error(name, (T, B, n), a.shape)
        args = _c(*args)
    fn, _ = backends.get("lstm_sequence_backward", *args, backend=backend)
    return fn(*args)


def _zeros_state(x, B, H):
    return xp_of(x).zeros((B, H), dtype=x.dtype)


def lstm_cell(x, h, c, w_ih, w_hh, b_ih=None, b_hh=None, *, backend=None):
    """One LSTM step; ``h`` and ``c`` may be None (zeros). Returns (h_new, c_new)."""
    check_array(x, "x", 2)
    if w_hh is not None and hasattr(w_hh, "shape") and len(w_hh.shape) == 2:
        H = w_hh.shape[1]
        h = _zeros_state(x, x.shape[0], H) if h is None else h
        c = _zeros_state(x, x.shape[0], H) if c is None else c
    h_new, c_new, _ = lstm_cell_forward(x, h, c, w_ih, w_hh, b_ih, b_hh, backend=backend)
    return h_new, c_new


def lstm(x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None, *, backend=None):
    """One LSTM layer over a time-major sequence; ``h0``/``c0`` may be None (zeros).

    Args:
        x: (T, B, I); h0, c0: None or (B, H); w_ih: (4H, I); w_hh: (4H, H);
            b_ih, b_hh: None or (4H,).

    Returns:
        (y (T, B, H), h_n (B, H), c_n (B, H)).
    """
    check_array(x, "x", 3)
    if w_hh is not None and hasattr(w_hh, "shape") and len(w_hh.shape) == 2:
        H = w_hh.shape[1]
        h0 = _zeros_state(x, x.shape[1], H) if h0 is None else h0
        c0 = _zeros_state(x, x.shape[1], H) if c0 is None else c0
    y, h_n, c_n, _, _ = lstm_sequence_forward(x, h0, c0, w_ih, w_hh, b_ih, b_hh, backend=backend)
    return y, h_n, c_n
