"""``torch.special``: the rows of functions/pointwise.py under torch.special's names, and the
orthogonal polynomials (evaluated by their three-term recurrences; not differentiable, as in
torch)."""

from __future__ import annotations

import numpy as np

from .functions import elementwise as _ew
from .functions import pointwise as _pw
from .functions import reduce as _rd
from .functions.pointwise import (  # noqa: F401 - re-exported under torch.special's names
    digamma,
    erf,
    erfc,
    erfinv,
    i0,
    logit,
    polygamma,
    sinc,
    xlogy,
)
from .tensor import Tensor, _make, result_type

psi = digamma
gammaln = _pw.lgamma
multigammaln = _pw.mvlgamma
expit = _pw.unary_fn("expit")
entr = _pw.unary_fn("entr")
erfcx = _pw.unary_fn("erfcx")
i0e = _pw.unary_fn("i0e")
i1 = _pw.unary_fn("i1")
i1e = _pw.unary_fn("i1e")
ndtr = _pw.unary_fn("ndtr")
ndtri = _pw.unary_fn("ndtri")
log_ndtr = _pw.unary_fn("log_ndtr")
bessel_j0 = _pw.unary_fn("bessel_j0")
bessel_j1 = _pw.unary_fn("bessel_j1")
bessel_y0 = _pw.unary_fn("bessel_y0")
bessel_y1 = _pw.unary_fn("bessel_y1")
modified_bessel_i0 = _pw.unary_fn("modified_bessel_i0")
modified_bessel_i1 = _pw.unary_fn("modified_bessel_i1")
modified_bessel_k0 = _pw.unary_fn("modified_bessel_k0")
modified_bessel_k1 = _pw.unary_fn("modified_bessel_k1")
scaled_modified_bessel_k0 = _pw.unary_fn("scaled_modified_bessel_k0")
scaled_modified_bessel_k1 = _pw.unary_fn("scaled_modified_bessel_k1")
spherical_bessel_j0 = _pw.unary_fn("spherical_bessel_j0")
airy_ai = _pw.unary_fn("airy_ai")
xlog1py = _pw.binary_fn("xlog1py")
zeta = _pw.binary_fn("zeta")
gammainc, gammaincc = _pw.igamma, _pw.igammac
exp2, expm1, log1p, round = _ew.exp2, _ew.expm1, _ew.log1p, _ew.round  # noqa: A001
softmax, log_softmax, logsumexp = _rd.softmax, _rd.log_softmax, _rd.logsumexp


# ------------------------------------------------------------------ orthogonal polynomials
def _recurrence(kind, x, k, p1, p0):
    """p_{k+1} from p_k = p1 and p_{k-1} = p0."""
    if kind in "tuvw":
        return 2 * x * p1 - p0
    if kind == "h":
        return 2 * x * p1 - 2 * k * p0
    if kind == "he":
        return x * p1 - k * p0
    if kind == "l":
        return ((2 * k + 1 - x) * p1 - k * p0) / (k + 1)
    return ((2 * k + 1) * x * p1 - k * p0) / (k + 1)  # legendre


_P1 = {
    "t": lambda x: x,
    "u": lambda x: 2 * x,
    "v": lambda x: 2 * x - 1,
    "w": lambda x: 2 * x + 1,
    "h": lambda x: 2 * x,
    "he": lambda x: x,
    "l": lambda x: 1 - x,
    "p": lambda x: x,
}


def _polynomial(kind, shifted=False):
    def fn(input, n, *, out=None):  # noqa: A002 - PyTorch's argument names
        dt = result_type(input, n)
        if dt.kind != "f":
            dt = np.dtype(np.float32)
        x = np.asarray(input.array if isinstance(input, Tensor) else input, dtype=np.float64)
        nn_ = np.asarray(n.array if isinstance(n, Tensor) else n, dtype=np.float64)
        if shifted:
            x = 2 * x - 1
        x, nn_ = np.broadcast_arrays(x, np.trunc(nn_))
        p0, p1 = np.ones_like(x), _P1[kind](x)
        res = np.where(nn_ == 0, p0, np.where(nn_ == 1, p1, 0.0))
        top = int(nn_.max()) if nn_.size else 0
        for k in range(1, top):
            p0, p1 = p1, _recurrence(kind, x, k, p1, p0)
            res = np.where(nn_ == k + 1, p1, res)
        return _make(np.asarray(res, dtype=dt), False, None, 0)

    return fn


chebyshev_polynomial_t = _polynomial("t")
chebyshev_polynomial_u = _polynomial("u")
chebyshev_polynomial_v = _polynomial("v")
chebyshev_polynomial_w = _polynomial("w")
shifted_chebyshev_polynomial_t = _polynomial("t", shifted=True)
shifted_chebyshev_polynomial_u = _polynomial("u", shifted=True)
shifted_chebyshev_polynomial_v = _polynomial("v", shifted=True)
shifted_chebyshev_polynomial_w = _polynomial("w", shifted=True)
hermite_polynomial_h = _polynomial("h")
hermite_polynomial_he = _polynomial("he")
laguerre_polynomial_l = _polynomial("l")
legendre_polynomial_p = _polynomial("p")
