"""fastnn.nn.utils.parametrizations: weight_norm and spectral_norm as parametrizations
(PyTorch's torch.nn.utils.parametrizations; same state_dict keys: ``original0``/``original1``
for weight_norm's g and v; ``_u``/``_v`` buffers for spectral_norm's power iteration)."""

from __future__ import annotations

import numpy as np

from ...autograd.grad_mode import no_grad
from ...tensor import Tensor, wrap
from ..modules.module import Module
from . import parametrize

__all__ = ["weight_norm", "spectral_norm"]


def _norm_except_dim(v: Tensor, dim) -> Tensor:
    """The 2-norm over every dimension but ``dim`` (kept, size 1 elsewhere); all of v for -1 or
    None."""
    if dim is None or dim == -1:
        return (v * v).sum().sqrt()
    dim = dim % v.dim()
    others = tuple(d for d in range(v.dim()) if d != dim)
    return (v * v).sum(dim=others, keepdim=True).sqrt() if others else (v * v).sqrt()


class _WeightNorm(Module):
    def __init__(self, dim=0):
        super().__init__()
        self.dim = -1 if dim is None else dim

    def forward(self, weight_g, weight_v):
        return weight_v * (weight_g / _norm_except_dim(weight_v, self.dim))

    def right_inverse(self, weight):
        return _norm_except_dim(weight, self.dim), weight


def weight_norm(module, name: str = "weight", dim=0):
    """Reparametrize ``module.<name>`` as ``g * v / ||v||`` (norm over every dim but ``dim``;
    ``dim=None``: the whole tensor); g is ``parametrizations.<name>.original0``, v ``original1``."""
    parametrize.register_parametrization(module, name, _WeightNorm(dim), unsafe=True)
    return module


def _normalize(a, eps):
    return a / max(float(np.linalg.norm(a)), eps)


class _SpectralNorm(Module):
    def __init__(self, weight, n_power_iterations: int = 1, dim: int = 0, eps: float = 1e-12):
        super().__init__()
        ndim = weight.dim()
        if dim >= ndim or dim < -ndim:
            raise IndexError(
                "Dimension out of range (expected to be in range of "
                f"[-{ndim}, {ndim - 1}] but got {dim})"
            )
        if n_power_iterations <= 0:
            raise ValueError(
                "Expected n_power_iterations to be positive, but got "
                f"n_power_iterations={n_power_iterations}"
            )
        self.dim = dim if dim >= 0 else dim + ndim
        self.eps = eps
        if ndim > 1:
            self.n_power_iterations = n_power_iterations
            mat = self._matrix(weight).detach().numpy()
            h, w = mat.shape
            from ... import random as _random

            g = _random.generator()
            u = g.standard_normal(h).astype(mat.dtype)
            v = g.standard_normal(w).astype(mat.dtype)
            self.register_buffer("_u", wrap(_normalize(u, eps)))
            self.register_buffer("_v", wrap(_normalize(v, eps)))
            self._power_method(mat, 15)

    def _matrix(self, weight):
        if self.dim != 0:
            weight = weight.permute(self.dim, *(d for d in range(weight.dim()) if d != self.dim))
        return weight.reshape(weight.shape[0], -1)

    def _power_method(self, mat, n: int) -> None:
        """n steps of u = normalize(W v), v = normalize(W^T u), in place in the buffers."""
        u, v = self._u.array, self._v.array
        for _ in range(n):
            u[...] = _normalize(mat @ v, self.eps)
            v[...] = _normalize(mat.T @ u, self.eps)

    def forward(self, weight):
        import fastnn

        if weight.dim() == 1:
            return fastnn.nn.functional.normalize(weight, dim=0, eps=self.eps)
        mat = self._matrix(weight)
        if self.training:
            with no_grad():
                self._power_method(mat.detach().numpy(), self.n_power_iterations)
        u, v = wrap(self._u.array.copy()), wrap(self._v.array.copy())
        sigma = (u * fastnn.matmul(mat, v)).sum()
        return weight / sigma

    def right_inverse(self, value):
        return value


def spectral_norm(module, name: str = "weight", n_power_iterations: int = 1, eps: float = 1e-12,
                  dim=None):
    """Reparametrize ``module.<name>`` as W / sigma(W), sigma estimated by power iteration (one
    step per training forward; buffers ``_u``, ``_v``). ``dim`` defaults to 1 for
    ConvTranspose modules, else 0."""
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"Module '{module}' has no parameter or buffer with name '{name}'")
    if dim is None:
        dim = 1 if "ConvTranspose" in type(module).__name__ else 0
    parametrize.register_parametrization(
        module, name, _SpectralNorm(weight, n_power_iterations, dim, eps))
    return module
