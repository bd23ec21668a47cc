"""Fuzzing of the kernel bindings' argument checking (atheris): every contract kernel of the
cpp and numba backends is called, directly through ``fastnn.backends``, with arguments drawn from
the fuzzer's bytes -- arrays of random dtype, rank, shape and layout, None, numbers, strings,
tuples -- mixed with well-formed ones. A call must return or raise TypeError/ValueError; a crash
(segfault, abort) or another exception is a finding.

    python tests/fuzz/fuzz_bindings.py -max_total_time=60 -rss_limit_mb=4096
"""

import inspect
import sys

import atheris
import numpy as np

from fastnn import backends
from fastnn.backends import checks, contract

# coverage feedback from the Python argument checks (the C++ checks are not instrumented)
for _fn in (checks._check, checks._Shapes.array, checks._Shapes.shape, checks._conv_geometry):
    atheris.instrument_func(_fn)

BACKENDS = [backends.get_backend(n) for n in ("cpp", "numba") if backends.available(n)[0]]
PARAMS = {k: list(inspect.signature(getattr(contract, k)).parameters) for k in backends.KERNELS}
DTYPES = (np.float32, np.float64, np.int32, np.int64, np.bool_, np.float16)


def _array(fdp):
    ndim = fdp.ConsumeIntInRange(0, 4)
    shape = tuple(fdp.ConsumeIntInRange(0, 9) for _ in range(ndim))
    a = np.zeros(shape, DTYPES[fdp.ConsumeIntInRange(0, len(DTYPES) - 1)])
    if a.size:
        a.reshape(-1)[:] = fdp.ConsumeIntInRange(-3, 3)
    if ndim >= 2 and fdp.ConsumeBool():
        a = a.swapaxes(0, 1)  # non-contiguous
    return a


def _value(fdp):
    kind = fdp.ConsumeIntInRange(0, 9)
    if kind <= 3:
        return _array(fdp)
    if kind == 4:
        return None
    if kind == 5:
        return fdp.ConsumeIntInRange(-(2**40), 2**40)
    if kind == 6:
        return fdp.ConsumeFloat()
    if kind == 7:
        return fdp.ConsumeUnicode(4)
    if kind == 8:
        return tuple(fdp.ConsumeIntInRange(-2, 9) for _ in range(fdp.ConsumeIntInRange(0, 5)))
    return fdp.ConsumeBool()


def test_one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    if not BACKENDS:
        return
    mod = BACKENDS[fdp.ConsumeIntInRange(0, len(BACKENDS) - 1)]
    kernel = backends.KERNELS[fdp.ConsumeIntInRange(0, len(backends.KERNELS) - 1)]
    fn = getattr(mod, kernel, None)
    if fn is None:
        return
    args = [_value(fdp) for _ in PARAMS[kernel]]
    try:
        fn(*args)
    except (TypeError, ValueError, OverflowError):
        pass
    except MemoryError:  # a huge but well-formed request, refused by the allocator
        pass


if __name__ == "__main__":
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
