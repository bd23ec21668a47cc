"""``torch.backends.cuda``'s flags, on fastnn's cuda backend package (which is what
``import torch.backends.cuda`` resolves to under ``import fastnn as torch``).

fastnn's CUDA kernels always compute float32 in float32 and its attention has one fused kernel,
so these flags are recorded and reported back (scripts set and read them) but select nothing.
"""

from __future__ import annotations

import contextlib

__all__ = [
    "enable_flash_sdp",
    "enable_math_sdp",
    "enable_mem_efficient_sdp",
    "enable_cudnn_sdp",
    "flash_sdp_enabled",
    "is_built",
    "math_sdp_enabled",
    "matmul",
    "mem_efficient_sdp_enabled",
    "cudnn_sdp_enabled",
    "preferred_linalg_library",
    "sdp_kernel",
]


def is_built() -> bool:
    """``torch.backends.cuda.is_built()``: whether this build supports CUDA (numba-cuda present)."""
    try:
        import numba.cuda  # noqa: F401
    except Exception:
        return False
    return True


class _CuBLASFlags:
    """``torch.backends.cuda.matmul``: cuBLAS precision switches. Unknown names raise
    AttributeError, as in torch."""

    _names = (
        "allow_tf32",
        "allow_fp16_reduced_precision_reduction",
        "allow_bf16_reduced_precision_reduction",
        "allow_fp16_accumulation",
        "fp32_precision",
    )

    def __init__(self):
        object.__setattr__(
            self,
            "_values",
            {
                "allow_tf32": False,
                "allow_fp16_reduced_precision_reduction": True,
                "allow_bf16_reduced_precision_reduction": True,
                "allow_fp16_accumulation": False,
            },
        )

    def __getattr__(self, name):
        values = object.__getattribute__(self, "_values")
        if name == "fp32_precision":
            return "tf32" if values["allow_tf32"] else "none"
        if name in values:
            return values[name]
        raise AttributeError("Unknown attribute " + name)

    def __setattr__(self, name, value):
        if name == "fp32_precision":
            if value not in ("none", "ieee", "tf32"):
                raise ValueError(f"fp32_precision must be 'none', 'ieee' or 'tf32', got {value!r}")
            self._values["allow_tf32"] = value == "tf32"
            return
        if name not in self._values:
            raise AttributeError("Unknown attribute " + name)
        if name.endswith("reduced_precision_reduction") and isinstance(value, (tuple, list)):
            value = value[0]
        if not isinstance(value, bool):
            raise TypeError(f"{name} expects a bool, got {type(value).__name__}")
        self._values[name] = value


matmul = _CuBLASFlags()

_sdp = {"flash": True, "mem_efficient": True, "math": True, "cudnn": True}


def flash_sdp_enabled() -> bool:
    return _sdp["flash"]


def enable_flash_sdp(enabled: bool) -> None:
    _sdp["flash"] = bool(enabled)


def mem_efficient_sdp_enabled() -> bool:
    return _sdp["mem_efficient"]


def enable_mem_efficient_sdp(enabled: bool) -> None:
    _sdp["mem_efficient"] = bool(enabled)


def math_sdp_enabled() -> bool:
    return _sdp["math"]


def enable_math_sdp(enabled: bool) -> None:
    _sdp["math"] = bool(enabled)


def cudnn_sdp_enabled() -> bool:
    return _sdp["cudnn"]


def enable_cudnn_sdp(enabled: bool) -> None:
    _sdp["cudnn"] = bool(enabled)


@contextlib.contextmanager
def sdp_kernel(
    enable_flash: bool = True,
    enable_math: bool = True,
    enable_mem_efficient: bool = True,
    enable_cudnn: bool = True,
):
    """``torch.backends.cuda.sdp_kernel`` (deprecated in torch for ``nn.attention.sdpa_kernel``):
    sets the four switches for the block and restores them after."""
    saved = dict(_sdp)
    _sdp.update(
        flash=bool(enable_flash),
        math=bool(enable_math),
        mem_efficient=bool(enable_mem_efficient),
        cudnn=bool(enable_cudnn),
    )
    try:
        yield
    finally:
        _sdp.update(saved)


_linalg = ["default"]


def preferred_linalg_library(backend: str | None = None) -> str:
    """Accepted for compatibility; returns the (recorded) choice."""
    if backend is not None:
        if backend not in ("default", "cusolver", "magma"):
            raise ValueError(
                f"preferred_linalg_library: backend must be 'default', 'cusolver' or 'magma', "
                f"got {backend!r}"
            )
        _linalg[0] = backend
    return _linalg[0]
