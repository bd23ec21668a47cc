"""parameters_to_vector / vector_to_parameters (PyTorch's torch.nn.utils.convert_parameters)."""

from __future__ import annotations

from ...tensor import Tensor

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def parameters_to_vector(parameters) -> Tensor:
    """One 1-D tensor holding every parameter flattened, in order (differentiable)."""
    import fastnn

    vec = []
    for param in parameters:
        vec.append(param.reshape(-1))
    if not vec:
        raise ValueError("parameters: expected at least one Tensor")
    return fastnn.cat(vec)


def vector_to_parameters(vec: Tensor, parameters) -> None:
    """Slice ``vec`` (1-D, as from parameters_to_vector) back into the parameters' ``.data``:
    each parameter then shares storage with its slice of ``vec``, as in PyTorch."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected torch.Tensor, but got: {type(vec).__name__}")
    parameters = list(parameters)
    total = sum(p.numel() for p in parameters)
    if vec.dim() != 1 or vec.numel() != total:
        raise ValueError(
            f"vec: expected a 1-D tensor of {total} elements (the parameters' total), got shape "
            f"{tuple(vec.shape)}"
        )
    pointer = 0
    for param in parameters:
        n = param.numel()
        param.data = vec.array[pointer:pointer + n].reshape(param.shape)
        pointer += n
