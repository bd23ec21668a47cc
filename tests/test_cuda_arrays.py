"""The cuda backend's array helpers (fastnn/backends/cuda/_arrays.py): input kinds, same-type
outputs, launch geometry and zero-size handling. Runs in the simulator without a GPU; on a GPU it
also covers Numba device arrays and (when installed) CuPy."""

import numpy as np
import pytest

from fastnn import backends

if not backends.available("cuda")[0]:
    pytest.skip("cuda unavailable: " + backends.available("cuda")[1], allow_module_level=True)

from numba import cuda  # noqa: E402

from fastnn.backends.cuda import _arrays  # noqa: E402


@cuda.jit
def _add_one_2d(x, out):
    r = cuda.blockIdx.y * cuda.blockDim.y + cuda.threadIdx.y
    c = cuda.blockIdx.x * cuda.blockDim.x + cuda.threadIdx.x
    if r < out.shape[0] and c < out.shape[1]:
        out[r, c] = x[r, c] + 1


@cuda.jit
def _tile_owner(out, tile_r, tile_c):
    """Each block writes its linear block id into the (tile_r x tile_c) tile it owns."""
    bid = cuda.blockIdx.y * cuda.gridDim.x + cuda.blockIdx.x
    r0 = cuda.blockIdx.y * tile_r
    c0 = cuda.blockIdx.x * tile_c
    for r in range(r0 + cuda.threadIdx.y, min(r0 + tile_r, out.shape[0]), cuda.blockDim.y):
        for c in range(c0 + cuda.threadIdx.x, min(c0 + tile_c, out.shape[1]), cuda.blockDim.x):
            out[r, c] = bid


@cuda.jit
def _iota(out):
    i = cuda.grid(1)
    if i < out.shape[0]:
        out[i] = i


class _NoLaunch:
    """Stands in for a kernel: any launch configuration is a test failure."""

    def __getitem__(self, config):
        raise AssertionError(f"launched with {config} for zero-size work")


def _host(x):
    return x.get() if type(x).__module__.startswith("cupy") else (
        x.copy_to_host() if hasattr(x, "copy_to_host") else np.asarray(x))


def _inputs():
    """(label, make(host_array) -> array of that kind) for every kind usable here."""
    kinds = [("numba", cuda.to_device)]
    if _arrays.simulated():
        kinds.append(("numpy", lambda h: h))
    else:
        try:
            import cupy

            kinds.append(("cupy", cupy.asarray))
        except ImportError:
            pass
    return kinds


@pytest.mark.parametrize("label,make", _inputs(), ids=[k for k, _ in _inputs()])
def test_same_type_out_and_2d_launch(label, make):
    host = np.arange(35, dtype=np.float32).reshape(5, 7)
    x = make(host)
    assert _arrays.array_kind(x) == label
    out = _arrays.empty((5, 7), np.float32, like=x)
    assert type(out) is type(x) and out.shape == (5, 7) and out.dtype == np.float32
    _arrays.launch_2d(_add_one_2d, (5, 7), (2, 4), _arrays.device_view(x),
                      _arrays.device_view(out), stream=_arrays.stream_of(x))
    np.testing.assert_array_equal(_host(out), host + 1)
    z = _arrays.zeros((3, 4), np.float32, like=x)
    assert type(z) is type(x)
    np.testing.assert_array_equal(_host(z), np.zeros((3, 4), np.float32))


def test_device_view_shares_memory():
    x = np.zeros(4, np.float32)
    x = x if _arrays.simulated() else cuda.to_device(x)
    _arrays.launch_1d(_iota, 4, 32, _arrays.device_view(x))
    np.testing.assert_array_equal(_host(x), [0, 1, 2, 3])
    assert _arrays.device_view(None) is None


def test_launch_geometry_with_tiles():
    # 7x9 output, 4x4 tiles, 2x2 threads per block: grid (x=3 column tiles, y=2 row tiles)
    assert _arrays.grid_2d((7, 9), (4, 4)) == (3, 2)
    assert _arrays.grid_1d(0, 128) == 0 and _arrays.grid_1d(129, 128) == 2
    out = _arrays.zeros((7, 9), np.int32, like=cuda.to_device(np.zeros(1, np.float32)))
    _arrays.launch_2d(_tile_owner, (7, 9), (2, 2), out, 4, 4, tile=(4, 4))
    want = np.array([[(r // 4) * 3 + c // 4 for c in range(9)] for r in range(7)])
    np.testing.assert_array_equal(_host(out), want)


@pytest.mark.parametrize("shape", [(0, 5), (5, 0), (0, 0)])
def test_zero_size_launches_nothing(shape):
    _arrays.launch_2d(_NoLaunch(), shape, (16, 16))
    _arrays.launch_1d(_NoLaunch(), 0, 256)
    like = cuda.to_device(np.zeros(1, np.float32))
    assert _arrays.zeros(shape, np.float32, like=like).shape == shape
    assert _arrays.empty(shape, np.float32, like=like).shape == shape


def test_rejects_non_arrays_with_the_name():
    with pytest.raises(TypeError, match="weight"):
        _arrays.array_kind([1.0, 2.0], "weight")
    with pytest.raises(TypeError, match="like"):
        _arrays.empty((2,), np.float32, like="nope")
    if not _arrays.simulated():
        with pytest.raises(TypeError, match="x: a NumPy"):
            _arrays.device_view(np.zeros(2, np.float32), "x")


def test_too_many_row_blocks_is_a_clear_error():
    with pytest.raises(ValueError, match="65535"):
        _arrays.launch_2d(_NoLaunch(), (65536 * 2, 1), (1, 1))


def test_read_only_input_in_the_simulator():
    if not _arrays.simulated():
        pytest.skip("simulator-only behaviour")
    x = np.broadcast_to(np.arange(3, dtype=np.float32), (2, 3))  # read-only view
    out = _arrays.empty((2, 3), np.float32, like=x)
    _arrays.launch_2d(_add_one_2d, (2, 3), (2, 2), _arrays.device_view(x), _arrays.device_view(out))
    np.testing.assert_array_equal(out, x + 1)
