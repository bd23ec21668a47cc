"""The cpp backend: the pybind11 extension fastnn._C_<isa> (OpenMP; the ISA variant is picked by
_loader.py). The extension's functions carry the contract's names and are bound here, in one
place; each re-checks its arguments (types, shapes, dtypes, contiguity) as the last line of
defence behind fastnn.ops."""

from functools import partial

from ..versions import Version, Versions
from ._loader import load

NAME = "cpp"
DEVICE = "cpu"
PRIORITY = 20
DTYPES = ("float32",)

try:
    _C = load()
    _ERROR = None
except Exception as exc:  # reported by available(); asking for the backend raises with it
    _C, _ERROR = None, exc

VERSIONS: dict = {}
if _C is not None:
    gemm = _C.gemm
    conv2d_forward = _C.conv2d_forward
    conv2d_backward_input = _C.conv2d_backward_input

    def conv2d_backward_weight(x, grad_out, weight_shape, stride, padding, dilation, groups,
                               need_bias):
        """_C.conv2d_backward_weight on version 4 where it measured faster than version 1 (stride
        1, >= 1024 output pixels per plane, >= 8 input channels per group: 1.4-1.6x on the
        tutorial ResNet's 16->16 32x32 layer), else version 1 (the extension re-checks every
        argument either way)."""
        version = "v1"
        try:
            if (stride in (1, (1, 1), [1, 1]) and grad_out.shape[2] * grad_out.shape[3] >= 1024
                    and x.shape[1] // groups >= 8):
                version = "v4"
        except (AttributeError, IndexError, TypeError, ZeroDivisionError):
            pass
        return _C.conv2d_backward_weight(x, grad_out, weight_shape, stride, padding, dilation,
                                         groups, need_bias, version=version)

    max_pool2d_forward = _C.max_pool2d_forward
    max_pool2d_backward = _C.max_pool2d_backward
    lstm_cell_forward = _C.lstm_cell_forward
    lstm_cell_backward = _C.lstm_cell_backward
    lstm_sequence_forward = _C.lstm_sequence_forward
    lstm_sequence_backward = _C.lstm_sequence_backward
    attention_forward = _C.attention_forward
    attention_backward = _C.attention_backward

    _V1 = "im2col tiles of PT pixels, one L2-blocked sgemm call per tile"
    _V3 = "depth-blocked packed implicit GEMM on the GEMM register tile (AVX2 masked gather)"
    VERSIONS = {
        "conv2d_forward": Versions(
            rule="v3 on every ISA",
            choices={
                "v1": Version(partial(_C.conv2d_forward, version="v1"), _V1),
                "v3": Version(partial(_C.conv2d_forward, version="v3"), _V3),
            },
        ),
        "conv2d_backward_input": Versions(
            rule="v3 (a forward of dY with flipped weights) when stride 1 and >= 16 input "
            "channels per group, else v1 (sgemm + col2im)",
            choices={
                "v1": Version(partial(_C.conv2d_backward_input, version="v1"), _V1),
                "v3": Version(partial(_C.conv2d_backward_input, version="v3"),
                              _V3 + "; stride 1 only, other strides run v1"),
            },
        ),
        "conv2d_backward_weight": Versions(
            rule="v4 (AVX2; else v1) when stride 1, >= 1024 output pixels per plane and >= 8 "
            "input channels per group, else v1",
            choices={
                "v1": Version(partial(_C.conv2d_backward_weight, version="v1"),
                              "im2col tiles, sgemm into per-thread partial dW"),
                "v4": Version(partial(_C.conv2d_backward_weight, version="v4"),
                              "direct: lane-vector partial sums over pixels, register tile of "
                              "4 output channels x 3 taps, no im2col (AVX2; else v1)"),
            },
        ),
    }


def available():
    if _C is None:
        return False, str(_ERROR)
    return True, f"fastnn._C, ISA level {_C.ISA}"


def lib():
    """The loaded extension module (raises with the reason when it is unavailable)."""
    if _C is None:
        raise _ERROR
    return _C
