"""``gradcheck``: analytical gradients (backward) against central finite differences."""

from __future__ import annotations

import warnings

import numpy as np

from ..tensor import Tensor, _make, _to_numpy
from .engine import grad as _grad
from .grad_mode import no_grad


class GradcheckError(RuntimeError):
    """Raised by gradcheck when the analytical and numerical Jacobians differ."""


def _outputs(func, inputs):
    out = func(*inputs)
    return (out,) if isinstance(out, Tensor) else tuple(out)


def gradcheck(
    func,
    inputs,
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    nondet_tol: float = 0.0,
    **unused,
) -> bool:
    """Check ``func``'s gradients w.r.t. the ``inputs`` that require grad (float64 recommended).

    Every entry of the Jacobian from backward (one backward per output element) is compared with
    the central difference ``(f(x + eps) - f(x - eps)) / (2 eps)`` by
    ``|analytical - numerical| <= atol + rtol * |numerical|``.

    Returns:
        True when they match; otherwise raises ``GradcheckError`` (or returns False with
        ``raise_exception=False``).
    """
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    diff = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not diff:
        raise ValueError("gradcheck expects at least one input tensor to require gradient")
    for i in diff:
        if inputs[i].dtype != np.float64:
            warnings.warn(
                f"Input #{i} requires gradient and is not a double precision floating point. "
                "gradcheck's finite differences are only reliable in float64.",
                stacklevel=2,
            )
    outs = _outputs(func, inputs)
    douts = [k for k, o in enumerate(outs) if o.requires_grad]

    # analytical: row m of d(out_k)/d(inputs) from one backward with a one-hot grad_output
    analytical = {}
    for k in douts:
        o = outs[k]
        n_out = o.numel()
        rows = {i: np.zeros((n_out, inputs[i].numel())) for i in diff}
        for m in range(n_out):
            onehot = np.zeros(o.array.shape, o.array.dtype)
            onehot.reshape(-1)[m] = 1
            gs = _grad(
                o,
                [inputs[i] for i in diff],
                grad_outputs=_make(onehot, False, None, 0),
                retain_graph=True,
                allow_unused=True,
            )
            for i, g in zip(diff, gs):
                if g is not None:
                    rows[i][m] = _to_numpy(g.array).reshape(-1)
        for i in diff:
            analytical[(k, i)] = rows[i]

    # numerical: column j of d(out)/d(input_i) from perturbing element j
    numerical = {(k, i): np.zeros_like(analytical[(k, i)]) for k in douts for i in diff}
    with no_grad():
        for i in diff:
            arr = inputs[i].array
            flat_idx = list(np.ndindex(arr.shape))
            for j, idx in enumerate(flat_idx):
                orig = arr[idx].item()
                arr[idx] = orig + eps
                plus = [
                    _to_numpy(o.array).astype(np.float64).reshape(-1)
                    for o in _outputs(func, inputs)
                ]
                arr[idx] = orig - eps
                minus = [
                    _to_numpy(o.array).astype(np.float64).reshape(-1)
                    for o in _outputs(func, inputs)
                ]
                arr[idx] = orig
                for k in douts:
                    numerical[(k, i)][:, j] = (plus[k] - minus[k]) / (2 * eps)

    for (k, i), a in analytical.items():
        n = numerical[(k, i)]
        if not np.allclose(a, n, rtol=rtol, atol=atol, equal_nan=True):
            msg = (
                f"Jacobian mismatch for output {k} with respect to input {i},\n"
                f"numerical:{n}\nanalytical:{a}\n"
            )
            if raise_exception:
                raise GradcheckError(msg)
            return False
    return True
