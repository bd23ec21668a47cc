"""The hook-based (pre-parametrize) weight_norm and spectral_norm of torch.nn.utils, still common
in older scripts: ``weight_norm(m)`` adds parameters ``weight_g``/``weight_v``, ``spectral_norm(m)``
``weight_orig`` with buffers ``weight_u``/``weight_v``; a forward pre-hook recomputes ``weight``
(PyTorch's state_dict keys, so checkpoints load both ways). New code: parametrizations."""

from __future__ import annotations

from ...autograd.grad_mode import no_grad
from ...tensor import wrap
from ..modules.module import Parameter
from .parametrizations import _norm_except_dim, _normalize

__all__ = ["weight_norm", "remove_weight_norm", "spectral_norm", "remove_spectral_norm"]


class _WeightNormHook:
    def __init__(self, name, dim):
        self.name, self.dim = name, (-1 if dim is None else dim)

    def compute_weight(self, module):
        g = getattr(module, self.name + "_g")
        v = getattr(module, self.name + "_v")
        return v * (g / _norm_except_dim(v, self.dim))

    def __call__(self, module, inputs):
        setattr(module, self.name, self.compute_weight(module))


def weight_norm(module, name: str = "weight", dim=0):
    """w = g * v / ||v|| with parameters ``<name>_g`` and ``<name>_v`` (deprecated in PyTorch in
    favour of parametrizations.weight_norm)."""
    for hook in module._forward_pre_hooks.values():
        if isinstance(hook, _WeightNormHook) and hook.name == name:
            raise RuntimeError(
                f"Cannot register two weight_norm hooks on the same parameter {name}")
    fn = _WeightNormHook(name, dim)
    weight = getattr(module, name)
    del module._parameters[name]
    module.register_parameter(name + "_g", Parameter(_norm_except_dim(weight, fn.dim).detach()))
    module.register_parameter(name + "_v", Parameter(weight.detach()))
    setattr(module, name, fn.compute_weight(module))
    module.register_forward_pre_hook(fn)
    return module


def remove_weight_norm(module, name: str = "weight"):
    """Undo weight_norm: ``<name>`` is a plain parameter again (its current value)."""
    for k, hook in list(module._forward_pre_hooks.items()):
        if isinstance(hook, _WeightNormHook) and hook.name == name:
            weight = hook.compute_weight(module)
            delattr(module, name)
            del module._parameters[name + "_g"]
            del module._parameters[name + "_v"]
            module.register_parameter(name, Parameter(weight.detach()))
            del module._forward_pre_hooks[k]
            return module
    raise ValueError(f"weight_norm of '{name}' not found in {module}")


class _SpectralNormHook:
    def __init__(self, name, n_power_iterations, dim, eps):
        if n_power_iterations <= 0:
            raise ValueError(
                "Expected n_power_iterations to be positive, but got "
                f"n_power_iterations={n_power_iterations}"
            )
        self.name, self.dim, self.eps = name, dim, eps
        self.n_power_iterations = n_power_iterations

    def matrix(self, weight):
        if self.dim != 0:
            weight = weight.permute(self.dim, *(d for d in range(weight.dim()) if d != self.dim))
        return weight.reshape(weight.shape[0], -1)

    def compute_weight(self, module, do_power_iteration: bool):
        weight = getattr(module, self.name + "_orig")
        u = getattr(module, self.name + "_u").array
        v = getattr(module, self.name + "_v").array
        mat = self.matrix(weight)
        if do_power_iteration:
            with no_grad():
                m = mat.detach().numpy()
                for _ in range(self.n_power_iterations):
                    v[...] = _normalize(m.T @ u, self.eps)
                    u[...] = _normalize(m @ v, self.eps)
        import fastnn

        sigma = (wrap(u.copy()) * fastnn.matmul(mat, wrap(v.copy()))).sum()
        return weight / sigma

    def __call__(self, module, inputs):
        setattr(module, self.name, self.compute_weight(module, module.training))


def spectral_norm(module, name: str = "weight", n_power_iterations: int = 1, eps: float = 1e-12,
                  dim=None):
    """w = w_orig / sigma(w_orig), sigma by power iteration on buffers ``<name>_u``/``<name>_v``
    (deprecated in PyTorch in favour of parametrizations.spectral_norm)."""
    for hook in module._forward_pre_hooks.values():
        if isinstance(hook, _SpectralNormHook) and hook.name == name:
            raise RuntimeError(
                f"Cannot register two spectral_norm hooks on the same parameter {name}")
    if dim is None:
        dim = 1 if "ConvTranspose" in type(module).__name__ else 0
    fn = _SpectralNormHook(name, n_power_iterations, dim, eps)
    weight = getattr(module, name)
    with no_grad():
        m = fn.matrix(weight).detach().numpy()
    h, w = m.shape
    from ... import random as _random

    g = _random.generator()
    u = _normalize(g.standard_normal(h).astype(m.dtype), eps)
    v = _normalize(g.standard_normal(w).astype(m.dtype), eps)
    del module._parameters[name]
    module.register_parameter(name + "_orig", weight)
    setattr(module, name, wrap(weight.detach().numpy().copy()))
    module.register_buffer(name + "_u", wrap(u))
    module.register_buffer(name + "_v", wrap(v))
    module.register_forward_pre_hook(fn)
    return module


def remove_spectral_norm(module, name: str = "weight"):
    """Undo spectral_norm: ``<name>`` is a plain parameter holding the normalised weight."""
    for k, hook in list(module._forward_pre_hooks.items()):
        if isinstance(hook, _SpectralNormHook) and hook.name == name:
            weight = hook.compute_weight(module, do_power_iteration=False)
            delattr(module, name)
            del module._parameters[name + "_orig"]
            del module._buffers[name + "_u"]
            del module._buffers[name + "_v"]
            module.register_parameter(name, Parameter(weight.detach()))
            del module._forward_pre_hooks[k]
            return module
    raise ValueError(f"spectral_norm of '{name}' not found in {module}")
