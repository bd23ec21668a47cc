# ruff: noqa: F401, E402, I001  (re-exports the torch-style API in dependency order, not sorted)
"""fastnn: compiled kernels (GEMM, conv2d, LSTM, fused attention) behind a PyTorch-style API.

``import fastnn as torch`` runs ordinary PyTorch training scripts; ``fastnn.ops`` is the
array-level kernel API; ``fastnn.backends`` chooses among reference, numba, cpp and cuda.
"""

__version__ = "0.1.0"

from . import _malloc

_malloc.apply()  # freed arrays kept for the next step (FASTNN_MALLOC=default: glibc's defaults)
from . import backends, ops
from ._threads import get_num_threads, set_num_threads

# ---- Tensor and autograd. tensor.py comes first: autograd and the Functions build on Tensor
from .tensor import (
    BoolTensor,
    ByteTensor,
    DoubleTensor,
    FloatTensor,
    HalfTensor,
    IntTensor,
    LongTensor,
    Tensor,
    set_printoptions,
    wrap,
)
from . import autograd, cuda, random
from .autograd import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from .dtypes import (
    Size,
    bool,
    cdouble,
    cfloat,
    complex64,
    complex128,
    device,
    double,
    float,
    float16,
    float32,
    float64,
    get_default_dtype,
    half,
    int,
    int8,
    int16,
    int32,
    int64,
    long,
    set_default_dtype,
    short,
    uint8,
)
from .random import Generator, get_rng_state, initial_seed, manual_seed, seed, set_rng_state
from .functions.creation import (
    arange,
    as_tensor,
    asarray,
    bernoulli,
    empty,
    empty_like,
    eye,
    from_numpy,
    full,
    full_like,
    linspace,
    logspace,
    multinomial,
    normal,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randint_like,
    randn,
    randn_like,
    randperm,
    tensor,
    zeros,
    zeros_like,
)
from .functions.elementwise import (
    abs,
    absolute,
    add,
    addcdiv,
    addcmul,
    allclose,
    bitwise_not,
    ceil,
    clamp,
    clamp_max,
    clamp_min,
    clip,
    clone,
    cos,
    div,
    divide,
    eq,
    equal,
    exp,
    exp2,
    expm1,
    floor,
    floor_divide,
    fmax,
    fmin,
    frac,
    ge,
    greater,
    greater_equal,
    gt,
    isclose,
    isfinite,
    isinf,
    isnan,
    le,
    lerp,
    less,
    less_equal,
    log,
    log1p,
    log2,
    log10,
    logical_and,
    logical_not,
    logical_or,
    logical_xor,
    lt,
    masked_fill,
    maximum,
    minimum,
    mul,
    multiply,
    ne,
    neg,
    negative,
    not_equal,
    pow,
    reciprocal,
    relu,
    remainder,
    round,
    rsqrt,
    sigmoid,
    sign,
    sin,
    sqrt,
    square,
    sub,
    subtract,
    tan,
    tanh,
    true_divide,
    trunc,
    where,
)
from .functions.reduce import (
    all,
    amax,
    amin,
    any,
    argmax,
    argmin,
    count_nonzero,
    cumsum,
    log_softmax,
    logsumexp,
    max,
    mean,
    min,
    norm,
    prod,
    softmax,
    std,
    std_mean,
    sum,
    var,
    var_mean,
)
from .functions.shape import (
    broadcast_tensors,
    broadcast_to,
    cat,
    chunk,
    concat,
    concatenate,
    diag,
    expand,
    flatten,
    flip,
    fliplr,
    flipud,
    hstack,
    meshgrid,
    moveaxis,
    movedim,
    narrow,
    permute,
    reshape,
    roll,
    split,
    squeeze,
    stack,
    swapaxes,
    swapdims,
    t,
    tensor_split,
    trace,
    transpose,
    tril,
    triu,
    unbind,
    unflatten,
    unsqueeze,
    vstack,
)
from .functions.indexing import (
    argsort,
    bincount,
    gather,
    index_select,
    kthvalue,
    masked_select,
    nonzero,
    repeat_interleave,
    scatter,
    scatter_add,
    sort,
    take_along_dim,
    topk,
    unique,
)
from .functions.gemm import addmm, baddbmm, bmm, dot, einsum, inner, matmul, mm, mv, outer

# ---- nn, optim, data and checkpoints (they build on everything above)
from . import nn, optim, utils
from . import distributed  # torch.distributed over MPI; mpi4py is imported only when used
from . import amp
from .amp import autocast, get_autocast_dtype, is_autocast_enabled
from .serialization import load, save
from . import accelerator
from .utils.dlpack import from_dlpack, _attach as _attach_dlpack

_attach_dlpack(Tensor)

# ---- what scripts set or ask around the training loop (compatibility, documented no-ops)

# ``torch.backends.cudnn.benchmark = True``, ``torch.backends.cuda.matmul.allow_tf32 = True`` and
# ``torch.backends.mps.is_available()`` appear in many scripts; fastnn.backends is the kernel
# registry, so torch's flag modules are plain modules in it (fastnn.backends.cuda, the CUDA kernel
# package, carries torch.backends.cuda's flags).
from .backends import cuda as _backends_cuda, cudnn as _cudnn, mkldnn as _mkldnn, mps as _mps
from .backends import openmp as _openmp


def compile(model=None, **kwargs):  # noqa: A001 - PyTorch's name
    """``torch.compile``: fastnn's kernels are compiled ahead of time; returns ``model`` as is
    (usable as a decorator too)."""
    if model is None:
        return lambda m: m
    return model


def set_float32_matmul_precision(precision: str) -> None:
    """Accepted for compatibility; fastnn's float32 GEMMs always accumulate in float32."""
    if precision not in ("highest", "high", "medium"):
        raise ValueError(f"set_float32_matmul_precision: unknown precision {precision!r}")


def use_deterministic_algorithms(mode: bool, *, warn_only: bool = False) -> None:
    """Accepted for compatibility (fastnn's CPU kernels are deterministic for a thread count)."""


def is_tensor(obj) -> "bool":
    """True for fastnn Tensors (and Parameters)."""
    return isinstance(obj, Tensor)


def numel(input) -> "int":  # noqa: A002
    return input.numel()


def is_floating_point(input) -> "bool":  # noqa: A002
    return input.is_floating_point()


def detach(input):  # noqa: A002
    return input.detach()


__all__ = ["__version__"] + sorted(n for n in globals() if not n.startswith("_"))

from .nn.functional._conv import constant_pad_nd  # noqa: E402

__all__.append("constant_pad_nd")

from .nn.functional._resample import grid_sampler_2d, grid_sampler_3d  # noqa: E402

__all__ += ["grid_sampler_2d", "grid_sampler_3d"]
# ---- the op long tail (issue 18): pointwise table rows (functions/pointwise.py), compositions
# (functions/compose.py), torch.special, torch.linalg and torch.fft
from . import fft, linalg, masked, signal, special
from .functions.pointwise import (
    acos,
    acosh,
    angle,
    arccos,
    arccosh,
    arcsin,
    arcsinh,
    arctan,
    arctan2,
    arctanh,
    asin,
    asinh,
    atan,
    atan2,
    atanh,
    bitwise_and,
    bitwise_left_shift,
    bitwise_or,
    bitwise_right_shift,
    bitwise_xor,
    copysign,
    cosh,
    deg2rad,
    digamma,
    erf,
    erfc,
    erfinv,
    float_power,
    fmod,
    frexp,
    gcd,
    heaviside,
    hypot,
    i0,
    igamma,
    igammac,
    isneginf,
    isposinf,
    isreal,
    lcm,
    ldexp,
    lgamma,
    logaddexp,
    logaddexp2,
    logit,
    mvlgamma,
    nan_to_num,
    nextafter,
    polygamma,
    positive,
    rad2deg,
    rsub,
    sgn,
    signbit,
    sinc,
    sinh,
    xlogy,
)
from .functions.compose import (
    addbmm,
    addmv,
    addr,
    alias_copy,
    aminmax,
    argwhere,
    as_strided,
    as_strided_copy,
    as_strided_scatter,
    atleast_1d,
    atleast_2d,
    atleast_3d,
    block_diag,
    broadcast_shapes,
    bucketize,
    cartesian_prod,
    cdist,
    cholesky,
    complex,
    column_stack,
    combinations,
    conj,
    conj_physical,
    corrcoef,
    cov,
    cross,
    cummax,
    cummin,
    cumulative_trapezoid,
    diag_embed,
    diagflat,
    diagonal,
    diagonal_copy,
    diagonal_scatter,
    diff,
    dist,
    dsplit,
    dstack,
    empty_permuted,
    empty_strided,
    expand_copy,
    fill,
    geqrf,
    gradient,
    histc,
    histogram,
    histogramdd,
    hsplit,
    index_add,
    index_copy,
    index_fill,
    index_put,
    index_reduce,
    isin,
    kron,
    lu_unpack,
    masked_scatter,
    median,
    msort,
    nanmean,
    nanmedian,
    nanquantile,
    nansum,
    narrow_copy,
    nonzero_static,
    permute_copy,
    pinverse,
    polar,
    put,
    qr,
    quantile,
    ravel,
    real,
    renorm,
    resolve_conj,
    resolve_neg,
    rot90,
    scalar_tensor,
    scatter_reduce,
    searchsorted,
    select,
    select_scatter,
    slice,
    slice_scatter,
    split_with_sizes,
    split_with_sizes_copy,
    squeeze_copy,
    sum_to_size,
    svd,
    t_copy,
    take,
    tensordot,
    tile,
    transpose_copy,
    trapezoid,
    trapz,
    triangular_solve,
    tril_indices,
    triu_indices,
    unbind_copy,
    unfold,
    unfold_copy,
    unique_consecutive,
    unravel_index,
    unsafe_chunk,
    unsafe_split,
    unsqueeze_copy,
    vdot,
    view_copy,
    vsplit,
    zero_,
)
from .functions.compose import (  # noqa: F811 - 0-d, empty, dims=
    flip,
    gather,
    index_select,
    kthvalue,
    nonzero,
    scatter,
    scatter_add,
    take_along_dim,
    tensor_split,
    topk,
)
from .functions.reduce import cumprod, logcumsumexp
from .functions.compose import (  # noqa: E402 - aten internals that op_db lists
    _softmax_backward_data,
    _unsafe_masked_index,
    _unsafe_masked_index_put_accumulate,
)
from .linalg import cholesky_inverse, cholesky_solve, det, logdet, matrix_exp, slogdet
from .functions import compose as _compose

mode = _compose.mode  # an import would clash with use_deterministic_algorithms' argument
inverse = linalg.inv
matrix_power = linalg.matrix_power


class memory_format:  # noqa: N801 - torch's name
    """``torch.contiguous_format`` and friends: fastnn arrays are always row-major, so these are
    accepted and otherwise ignored."""

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return f"fastnn.{self.name}"


contiguous_format = memory_format("contiguous_format")
preserve_format = memory_format("preserve_format")
channels_last = memory_format("channels_last")
channels_last_3d = memory_format("channels_last_3d")


def __getattr__(name):  # PEP 562: fastnn.bfloat16 imports ml_dtypes on first use (fastnn.dtypes)
    if name == "bfloat16":
        from . import dtypes as _dtypes

        return _dtypes.bfloat16
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["__version__", "bfloat16"] + sorted(
    n
    for n in globals()
    if not n.startswith("_") and n != "slice"  # slice: not the builtin
)
