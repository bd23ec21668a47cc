"""The update formulas, on raw arrays in place, in PyTorch's single-tensor order of operations
(scalars cast to the parameter dtype first, as PyTorch's CPU kernels do) so that float32 runs match
PyTorch to rounding."""

from __future__ import annotations

import math

import numpy as np

from .._util import xp_of as _xp


def fma(a, alpha, b, out=None):
    """``a + alpha * b`` rounded once, as PyTorch's CPU ``add(b, alpha=alpha)`` computes it (a
    fused multiply-add; alpha cast to the dtype first). Rounding the product separately, as
    ``a + dt(alpha) * b`` does, differs in the last bit often enough that SGD with Nesterov and
    weight decay (three such adds a step) drifted 1e-7 relative per step from torch, compounding
    over training. float32 is computed in float64, where the product is exact, then rounded once;
    float64 has no wider type here (one more rounding than torch at worst)."""
    dt = a.dtype
    if (dt == np.float32 and alpha != 1 and type(a) is np.ndarray and type(b) is np.ndarray
            and b.dtype == dt and a.shape == b.shape and a.flags.c_contiguous
            and b.flags.c_contiguous and (out is None or out.flags.c_contiguous)):
        from ._fma_numba import fma_f32

        if out is None:
            out = np.empty_like(a)
        fma_f32(a.reshape(-1), float(dt.type(alpha)), b.reshape(-1), out.reshape(-1))
        return out
    if alpha == 1:
        r = a + b
    elif dt.itemsize < 8 and dt.kind == "f":
        r = a.astype("float64") + float(dt.type(alpha)) * b.astype("float64")
    else:
        r = a + dt.type(alpha) * b
    if out is None:
        return r.astype(dt, copy=False)
    out[...] = r
    return out


def sgd_step(p, g, buf, *, lr, momentum, dampening, weight_decay, nesterov, maximize):
    """One SGD step on array p with gradient g; returns the (new or updated) momentum buffer."""
    dt = p.dtype.type
    if maximize:
        g = -g
    if weight_decay != 0:
        g = fma(g, weight_decay, p)  # grad.add(param, alpha=weight_decay)
    if momentum != 0:
        if buf is None:
            buf = g.copy()
        else:
            buf *= dt(momentum)  # buf.mul_(momentum).add_(grad, alpha=1 - dampening)
            fma(buf, 1 - dampening, g, out=buf)
        g = fma(g, momentum, buf) if nesterov else buf
    fma(p, -lr, g, out=p)  # param.add_(grad, alpha=-lr)
    return buf


def adam_step(p, g, state, *, lr, beta1, beta2, eps, weight_decay, amsgrad, maximize, decoupled):
    """One Adam (decoupled=False) or AdamW (decoupled=True) step; state holds arrays
    exp_avg, exp_avg_sq, [max_exp_avg_sq] and the step count. In-place ufuncs with one scratch
    array (same operations in the same order as PyTorch, so the same rounding)."""
    xp = _xp(p)
    dt = p.dtype.type
    if maximize:
        g = -g
    step = state["step"]
    if decoupled:
        p *= dt(1 - lr * weight_decay)
    elif weight_decay != 0:
        g = fma(g, weight_decay, p)  # grad.add(param, alpha=weight_decay): one rounding
    exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
    tmp = xp.subtract(g, exp_avg)  # exp_avg.lerp_(g, 1 - beta1)
    tmp *= dt(1 - beta1)
    exp_avg += tmp
    exp_avg_sq *= dt(beta2)  # .mul_(beta2).addcmul_(g, g, value=1 - beta2)
    xp.multiply(g, dt(1 - beta2), out=tmp)
    tmp *= g
    exp_avg_sq += tmp
    bias_correction1 = 1 - beta1**step
    bias_correction2 = 1 - beta2**step
    step_size = lr / bias_correction1
    bc2_sqrt = math.sqrt(bias_correction2)
    if amsgrad:
        mx = state["max_exp_avg_sq"]
        xp.maximum(mx, exp_avg_sq, out=mx)
        xp.sqrt(mx, out=tmp)
    else:
        xp.sqrt(exp_avg_sq, out=tmp)
    tmp /= dt(bc2_sqrt)
    tmp += dt(eps)  # denom
    num = xp.multiply(exp_avg, dt(-step_size))  # p.addcdiv_(exp_avg, denom, value=-step_size)
    num /= tmp
    p += num


def adagrad_step(p, g, state, *, lr, lr_decay, weight_decay, eps, maximize):
    xp = _xp(p)
    dt = p.dtype.type
    step = state["step"]
    if maximize:
        g = -g
    if weight_decay != 0:
        g = fma(g, weight_decay, p)  # grad.add(param, alpha=weight_decay): one rounding
    clr = lr / (1 + (step - 1) * lr_decay)
    s = state["sum"]
    s += g * g
    std = xp.sqrt(s) + dt(eps)
    p += dt(-clr) * g / std


def rmsprop_step(p, g, state, *, lr, alpha, eps, weight_decay, momentum, centered, maximize):
    xp = _xp(p)
    dt = p.dtype.type
    if maximize:
        g = -g
    if weight_decay != 0:
        g = fma(g, weight_decay, p)  # grad.add(param, alpha=weight_decay): one rounding
    sq = state["square_avg"]
    sq *= dt(alpha)
    sq += dt(1 - alpha) * g * g
    if centered:
        ga = state["grad_avg"]
        ga += dt(1 - alpha) * (g - ga)  # lerp_(g, 1 - alpha)
        avg = xp.sqrt(sq + dt(-1) * ga * ga)
    else:
        avg = xp.sqrt(sq)
    avg += dt(eps)
    if momentum > 0:
        buf = state["momentum_buffer"]
        buf *= dt(momentum)
        buf += g / avg
        p += dt(-lr) * buf
    else:
        p += dt(-lr) * g / avg


# ------------------------------------------------------------- multi-tensor steps (C++ extension)


def multi_tensor_lib(dtype_name: str = "float32"):
    """The C++ extension when the cpp backend is the one selected now for CPU float32 arrays
    (``fastnn.backends.current``; so ``backends.use("numba")`` keeps the per-parameter path),
    else None. The multi-tensor steps compute exactly what the single-tensor functions above
    compute, bit for bit, in one call per parameter group."""
    from .. import backends

    if dtype_name != "float32" or backends.current("cpu", "float32") != "cpp":
        return None
    from ..backends import cpp

    lib = cpp._C
    return lib if lib is not None and hasattr(lib, "adam_multi") else None


def multi_tensor_ok(*arrays) -> bool:
    """Whether the arrays can go to a multi-tensor step: C-contiguous float32 NumPy arrays."""
    for a in arrays:
        if type(a) is not np.ndarray or a.dtype != np.float32 or not a.flags.c_contiguous:
            return False
    return True


def adam_multi_step(lib, params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps, *, lr,
                    beta1, beta2, eps, weight_decay, amsgrad, maximize, decoupled):
    """:func:`adam_step` over lists of float32 arrays in one C++ call (steps: float per array);
    the per-step scalars are computed here exactly as adam_step computes them."""
    dt = np.float32
    scal = {}
    neg_ss, bc2 = [], []
    for s in steps:
        v = scal.get(s)
        if v is None:
            v = scal[s] = (float(dt(-(lr / (1 - beta1**s)))), float(dt(math.sqrt(1 - beta2**s))))
        neg_ss.append(v[0])
        bc2.append(v[1])
    lib.adam_multi(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, neg_ss, bc2,
                   1 - lr * weight_decay, weight_decay, 1 - beta1, beta2, 1 - beta2, eps,
                   amsgrad, maximize, decoupled)


def sgd_multi_step(lib, params, grads, bufs, fresh, *, lr, momentum, dampening, weight_decay,
                   nesterov, maximize):
    """:func:`sgd_step` over lists of float32 arrays in one C++ call; ``bufs[i]`` is the
    momentum buffer (``fresh[i]``: allocated this step, filled with the gradient)."""
    lib.sgd_multi(params, grads, bufs, fresh, lr, momentum, dampening, weight_decay, nesterov,
                  maximize)
