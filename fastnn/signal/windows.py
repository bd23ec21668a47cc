"""``torch.signal.windows``: the window functions, from scipy.signal.windows (same definitions,
``sym=False`` giving the periodic window), evaluated in float64 and returned in ``dtype``."""

from __future__ import annotations

import numpy as np

from .. import dtypes as _dt
from ..functions.creation import tensor as _tensor

__all__ = [
    "bartlett",
    "blackman",
    "cosine",
    "exponential",
    "gaussian",
    "general_cosine",
    "general_hamming",
    "hamming",
    "hann",
    "kaiser",
    "nuttall",
]


def _window(name, M, sym, dtype, device, requires_grad, **params):
    if not isinstance(M, int) or M < 0:
        raise ValueError(f"{name} requires non-negative window length, got M={M}")
    dt = _dt.get_default_dtype() if dtype is None else _dt.as_dtype(dtype)
    if np.dtype(dt).kind != "f":
        raise ValueError(f"{name} expects float32 or float64 dtypes, got: {dt}")
    import scipy.signal.windows as w

    vals = getattr(w, name)(M, **params, sym=sym) if M else np.zeros(0)
    return _tensor(np.asarray(vals, dtype=dt), device=device, requires_grad=requires_grad)


def _simple(name):
    def fn(M, *, sym=True, dtype=None, layout=None, device=None, requires_grad=False):  # noqa: N803
        return _window(name, M, sym, dtype, device, requires_grad)

    fn.__name__ = name
    fn.__doc__ = f"The {name} window of length ``M`` (periodic when ``sym=False``)."
    return fn


bartlett = _simple("bartlett")
blackman = _simple("blackman")
cosine = _simple("cosine")
hamming = _simple("hamming")
hann = _simple("hann")
nuttall = _simple("nuttall")


def exponential(
    M,
    *,
    center=None,
    tau=1.0,
    sym=True,
    dtype=None,
    layout=None,
    device=None,  # noqa: N803
    requires_grad=False,
):
    if tau <= 0:
        raise ValueError(f"Tau must be positive, got: {tau} instead.")
    if sym and center is not None:
        raise ValueError("Center must be None for symmetric windows")
    return _window("exponential", M, sym, dtype, device, requires_grad, center=center, tau=tau)


def gaussian(M, *, std=1.0, sym=True, dtype=None, layout=None, device=None, requires_grad=False):  # noqa: N803
    if std <= 0:
        raise ValueError(f"Standard deviation must be positive, got: {std} instead.")
    return _window("gaussian", M, sym, dtype, device, requires_grad, std=std)


def general_cosine(
    M,
    *,
    a,
    sym=True,
    dtype=None,
    layout=None,
    device=None,  # noqa: N803
    requires_grad=False,
):
    return _window("general_cosine", M, sym, dtype, device, requires_grad, a=list(a))


def general_hamming(
    M,
    *,
    alpha=0.54,
    sym=True,
    dtype=None,
    layout=None,
    device=None,  # noqa: N803
    requires_grad=False,
):
    return _window("general_hamming", M, sym, dtype, device, requires_grad, alpha=alpha)


def kaiser(
    M,
    *,
    beta=12.0,
    sym=True,
    dtype=None,
    layout=None,
    device=None,  # noqa: N803
    requires_grad=False,
):
    if beta < 0:
        raise ValueError(f"beta must be non-negative, got: {beta} instead.")
    return _window("kaiser", M, sym, dtype, device, requires_grad, beta=beta)
