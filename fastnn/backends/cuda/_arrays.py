"""Array plumbing shared by every cuda kernel family (gemm, conv2d, lstm, attention).

A cuda kernel adapter does three things with these helpers::

    from ._arrays import device_view, empty, launch_2d, stream_of

    def my_kernel(a, b):
        out = empty((m, n), a.dtype, like=a)          # same array type as the input
        launch_2d(_kernel, (m, n), (16, 16), device_view(a), device_view(b), device_view(out),
                  stream=stream_of(a))                # no launch when m or n is 0
        return out

Accepted inputs (what ``fastnn.ops`` hands the cuda backend):

* on a GPU: anything exposing ``__cuda_array_interface__`` -- CuPy arrays, Numba device arrays,
  other CAI producers -- viewed zero-copy through ``numba.cuda.as_cuda_array``;
* under ``NUMBA_ENABLE_CUDASIM=1``: NumPy arrays (the simulator runs kernels on them directly) and
  the simulator's own device arrays (``cuda.to_device`` / ``cuda.device_array``).

Outputs are allocated as the same array type as the ``like`` input: CuPy in -> CuPy out, Numba
device array in -> Numba device array out, NumPy in (simulator) -> NumPy out. A foreign CAI type
we cannot allocate (e.g. a torch CUDA tensor) gets a Numba device array.

Launches go to the input's stream: CuPy's current stream for CuPy arrays (so no synchronisation is
needed with the CuPy code around us), the default stream otherwise. Zero-size work launches nothing
(a grid dimension of 0 is a CUDA launch error).
"""

from __future__ import annotations

import numpy as np
from numba import cuda

from ..._util import simulated

__all__ = [
    "array_kind",
    "device_view",
    "empty",
    "grid_1d",
    "grid_2d",
    "launch_1d",
    "launch_2d",
    "simulated",
    "stream_of",
    "zeros",
]


def array_kind(x, name: str = "array") -> str:
    """"numpy", "cupy", "numba" (a Numba device array, real or simulated) or "cai" (another
    ``__cuda_array_interface__`` producer). TypeError naming ``name`` for anything else, and for
    NumPy arrays when a real GPU (not the simulator) is in use."""
    if isinstance(x, np.ndarray):
        if not simulated():
            raise TypeError(
                f"{name}: a NumPy (host) array was given to the cuda backend; move it to the GPU "
                "(cupy.asarray / numba.cuda.to_device) or use a CPU backend"
            )
        return "numpy"
    module = type(x).__module__
    if module.startswith("cupy"):
        return "cupy"
    if module.startswith("numba"):
        return "numba"
    if hasattr(x, "__cuda_array_interface__"):
        return "cai"
    raise TypeError(
        f"{name}: expected a CUDA array (CuPy, Numba device array"
        + (", or NumPy in the simulator" if simulated() else "")
        + f"), got {type(x).__name__}"
    )


def device_view(x, name: str = "array"):
    """What a ``@cuda.jit`` kernel can take for ``x``, sharing its memory: the array itself for
    NumPy (simulator) and Numba device arrays, a zero-copy Numba view of any other
    ``__cuda_array_interface__`` array; a read-only NumPy array (an input) becomes a simulated
    device copy. ``None`` stays ``None``."""
    if x is None:
        return None
    kind = array_kind(x, name)
    if kind == "numpy" and not x.flags.writeable:
        # the simulator copies NumPy kernel arguments back after a launch, which a read-only
        # array (e.g. a broadcast view) refuses: hand it a simulated device copy instead
        return cuda.to_device(x)
    if kind in ("numpy", "numba"):
        return x
    return cuda.as_cuda_array(x)


def empty(shape, dtype, like):
    """An uninitialised array of ``shape``/``dtype``, of the same array type as ``like``."""
    shape = tuple(int(s) for s in shape)
    kind = array_kind(like, "like")
    if kind == "numpy":
        return np.empty(shape, dtype=dtype)
    if kind == "cupy":
        import cupy

        return cupy.empty(shape, dtype=dtype)
    return cuda.device_array(shape, dtype=dtype, stream=stream_of(like))


def zeros(shape, dtype, like):
    """Like :func:`empty`, filled with zeros (on the device, with no host transfer)."""
    kind = array_kind(like, "like")
    if kind == "numpy":
        return np.zeros(tuple(int(s) for s in shape), dtype=dtype)
    if kind == "cupy":
        import cupy

        return cupy.zeros(tuple(int(s) for s in shape), dtype=dtype)
    out = empty(shape, dtype, like)
    flat = out.reshape(out.size) if out.size else out
    launch_1d(_fill, out.size, 256, flat, np.dtype(dtype).type(0), stream=stream_of(like))
    return out


def stream_of(x):
    """The stream to launch on for input ``x``: CuPy's current stream (wrapped for Numba) for
    CuPy arrays, else 0 (the default stream)."""
    if x is not None and not simulated() and type(x).__module__.startswith("cupy"):
        import cupy

        ptr = cupy.cuda.get_current_stream().ptr
        return cuda.external_stream(ptr) if ptr else 0
    return 0


def _ceil_div(a: int, b: int) -> int:
    return -(-int(a) // int(b))


def grid_1d(n: int, threads: int) -> int:
    """Blocks needed to cover ``n`` items with ``threads`` per block (0 when n is 0)."""
    return _ceil_div(n, threads)


def grid_2d(shape, tile) -> tuple[int, int]:
    """Grid covering a (rows, cols) output with (tile_rows, tile_cols) outputs per block, in
    CUDA order: x over columns (threadIdx.x fastest -> coalesced rows), y over rows."""
    rows, cols = shape
    return _ceil_div(cols, tile[1]), _ceil_div(rows, tile[0])


def launch_1d(kernel, n: int, threads: int, *args, stream=0) -> None:
    """``kernel[blocks, threads, stream](*args)`` with enough blocks for ``n`` items; nothing
    when n is 0. The kernel guards ``cuda.grid(1) < n`` itself."""
    if n <= 0:
        return
    kernel[grid_1d(n, threads), threads, stream](*args)


def launch_2d(kernel, shape, block, *args, tile=None, stream=0) -> None:
    """Launch ``kernel`` over a (rows, cols) output with ``block`` = (threads_y, threads_x)
    threads per block, each block covering ``tile`` = (tile_rows, tile_cols) outputs (default:
    one output per thread, tile = block). Nothing is launched when rows or cols is 0.

    The kernel sees blockIdx.x / threadIdx.x along columns and blockIdx.y / threadIdx.y along
    rows; it must bounds-check its edges. gridDim.y is limited to 65535 blocks of rows.
    """
    rows, cols = (int(s) for s in shape)
    if rows <= 0 or cols <= 0:
        return
    tile = tuple(block) if tile is None else tuple(tile)
    grid = grid_2d((rows, cols), tile)
    if grid[1] > 65535:
        raise ValueError(f"launch_2d: {rows} rows need {grid[1]} blocks in y (CUDA's limit: 65535)")
    kernel[grid, (int(block[1]), int(block[0])), stream](*args)


@cuda.jit
def _fill(x, value):
    """x[i] = value over a 1-D array."""
    i = cuda.grid(1)
    if i < x.shape[0]:
        x[i] = value
