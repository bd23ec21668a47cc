"""Pooling family: the max_pool2d kernels on every backend and every registered version from the
spec's grid (fastnn/bench/specs/pooling.py) against the float64 reference and PyTorch, and the
pooling Functions (max, average, adaptive average) gradchecked in float64. The pooling modules
are tested with the other CNN modules in test_conv2d_modules.py."""

import pytest

from fastnn.bench.specs import pooling as spec
from fastnn.functions.pooling import (
    AdaptiveAvgPool2dFunction,
    AvgPool2dFunction,
    MaxPool2dFunction,
)

from .conftest import F64_BACKENDS, check_kernel_case, gradcheck_function, kernel_params


@pytest.mark.parametrize("backend,version,dtype,case", kernel_params(spec.test_cases()))
def test_pooling_kernel_spec(backend, version, dtype, case):
    check_kernel_case(backend, version, dtype, case)


# x shape, kernel, stride, padding, dilation, ceil_mode
MAX_CASES = [
    ((2, 2, 5, 6), (2, 2), (2, 2), (0, 0), (1, 1), False),
    ((1, 2, 7, 5), (3, 2), (2, 1), (1, 1), (1, 2), True),
    ((3, 6, 6), (3, 3), (1, 1), (1, 1), (2, 2), False),  # unbatched (C, H, W)
]


@pytest.mark.parametrize("backend", F64_BACKENDS)
@pytest.mark.parametrize("case", MAX_CASES, ids=lambda c: f"{c[0]}-k{c[1]}-s{c[2]}")
def test_max_pool2d_function_gradcheck(backend, case):
    shape, *geo = case
    gradcheck_function(backend, lambda x: MaxPool2dFunction.apply(x, *geo, False), [shape])


# x shape, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override
AVG_CASES = [
    ((2, 2, 5, 6), (2, 2), (2, 2), (0, 0), False, True, None),
    ((1, 2, 7, 5), (3, 3), (2, 2), (1, 1), True, False, None),
    ((2, 7, 6), (3, 2), (2, 1), (1, 0), False, True, 5),
]


@pytest.mark.parametrize("backend", F64_BACKENDS)
@pytest.mark.parametrize("case", AVG_CASES, ids=lambda c: f"{c[0]}-k{c[1]}-s{c[2]}")
def test_avg_pool2d_function_gradcheck(backend, case):
    shape, *geo = case
    gradcheck_function(backend, lambda x: AvgPool2dFunction.apply(x, *geo), [shape])


@pytest.mark.parametrize("shape,out", [((2, 3, 7, 5), (3, 2)), ((2, 6, 6), (1, 1))])
def test_adaptive_avg_pool2d_function_gradcheck(shape, out):
    gradcheck_function(
        "reference", lambda x: AdaptiveAvgPool2dFunction.apply(x, out), [shape]
    )
