"""``torch.distributed`` for CPU tensors, served by MPI (mpi4py over an MPI library from PyPI).

One MPI process per rank: rank and world size are MPI's (``mpiexec -n N`` or
``python -m fastnn.distributed.run``). The backend names ``"mpi"`` and ``"gloo"`` (what CPU
scripts pass) both select this MPI transport; ``"nccl"`` is refused. torchrun's variables
(RANK, WORLD_SIZE, LOCAL_RANK) are checked against MPI's, and the launcher sets them, so scripts
that read them work unchanged.

Every wait is bounded by the group's ``timeout``: a rank that hangs or called a different
collective makes the others raise ``DistBackendError`` instead of hanging; a rank that dies or
raises ends the job, since mpiexec kills the others (see ``_install_fault_handlers``).
Collectives of the public API first compare their operation, dtype and shapes across the ranks
(one small allgather) and raise ``ValueError`` naming the argument on a mismatch.
"""

from __future__ import annotations

import os
import pickle
import sys
import time
import zlib
from datetime import timedelta

import numpy as np

from ..tensor import Tensor, _make

_DEFAULT_TIMEOUT = timedelta(minutes=30)  # torch's default for the CPU backends


class DistError(RuntimeError):
    """Base of the errors raised by fastnn.distributed (torch.distributed.DistError)."""


class DistBackendError(DistError):
    """A collective failed or timed out in the transport (torch.distributed.DistBackendError)."""


class ReduceOp:
    """Reduction operations of ``all_reduce``/``reduce``/``reduce_scatter`` (torch's names)."""

    SUM = "sum"
    AVG = "avg"
    PRODUCT = "product"
    MIN = "min"
    MAX = "max"
    BAND = "band"
    BOR = "bor"
    BXOR = "bxor"


class Backend(str):
    """Backend names: ``"mpi"``, and ``"gloo"`` served by the same MPI transport."""

    MPI = "mpi"
    GLOO = "gloo"
    NCCL = "nccl"

    def __new__(cls, name: str):
        return super().__new__(cls, name.lower())


class _State:
    mpi = None  # the mpi4py.MPI module once imported
    world = None  # the default ProcessGroup
    timeout_s = _DEFAULT_TIMEOUT.total_seconds()
    old_excepthook = None


def _import_mpi():
    if _State.mpi is None:
        try:
            import mpi4py
        except ImportError as e:
            raise ImportError(
                "fastnn.distributed needs mpi4py and an MPI library: "
                'pip install "fastnn[distributed]"'
            ) from e
        if "mpi4py.MPI" not in sys.modules:
            # Only the main thread calls MPI. MPI_Finalize still runs at a normal exit: mpiexec
            # (MPICH's hydra) kills the whole job when a rank exits without it, which is what
            # the failure paths below rely on, and must not happen on success.
            if "MPI4PY_RC_THREAD_LEVEL" not in os.environ:
                mpi4py.rc.thread_level = "serialized"
        from mpi4py import MPI

        _State.mpi = MPI
    return _State.mpi


class ProcessGroup:
    """A set of ranks with its own MPI communicator (``comm`` is None on non-members)."""

    def __init__(self, comm, ranks, timeout_s):
        self.comm = comm
        self.ranks = list(ranks)  # global ranks, in group-rank order
        self.timeout_s = timeout_s

    def rank(self) -> int:
        return self.comm.Get_rank() if self.comm is not None else -1

    def size(self) -> int:
        return len(self.ranks)

    def __repr__(self):
        return f"ProcessGroup(ranks={self.ranks}, backend='mpi')"


class group:  # noqa: N801  (torch.distributed.group.WORLD)
    WORLD = None


class GroupMember:
    WORLD = None
    NON_GROUP_MEMBER = -100


def is_available() -> bool:
    """True when mpi4py can be imported (``pip install "fastnn[distributed]"``)."""
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return False
    return True


def is_mpi_available() -> bool:
    return is_available()


def is_gloo_available() -> bool:  # "gloo" is served by the MPI transport
    return is_available()


def is_nccl_available() -> bool:
    return False


def is_initialized() -> bool:
    return _State.world is not None


def is_torchelastic_launched() -> bool:
    return os.environ.get("TORCHELASTIC_RUN_ID") is not None


def _env_int(name):
    v = os.environ.get(name)
    return None if v in (None, "") else int(v)


def init_process_group(
    backend=None,
    init_method=None,
    timeout=None,
    world_size: int = -1,
    rank: int = -1,
    store=None,
    group_name: str = "",
    pg_options=None,
    device_id=None,
) -> None:
    """Join the default process group: every MPI process of this job, ranked as MPI ranks them.

    Args:
        backend: ``"mpi"`` or ``"gloo"`` (both served by MPI), or None. ``"nccl"`` raises.
        init_method: None or ``"env://"``; MPI does the rendezvous, so other URLs are accepted
            and ignored only when they agree with MPI's world (see ``world_size``/``rank``).
        timeout: a ``datetime.timedelta`` bounding every wait (default 30 minutes, torch's).
        world_size, rank: when given (or set as WORLD_SIZE/RANK in the environment) they must
            equal MPI's, else ``ValueError`` says how to launch.
    """
    if _State.world is not None:
        raise RuntimeError("trying to initialize the default process group twice!")
    name = str(backend).lower() if backend is not None else "mpi"
    if name.startswith("cpu:"):
        name = name[4:]
    if name not in ("mpi", "gloo"):
        raise ValueError(
            f"backend: {backend!r} is not available in fastnn; use 'mpi' or 'gloo' (both run over "
            "MPI on CPU tensors)"
        )
    if store is not None:
        raise NotImplementedError("store: fastnn.distributed rendezvous through MPI, not a Store")
    if timeout is None:
        timeout = _DEFAULT_TIMEOUT
    if not isinstance(timeout, timedelta):
        raise TypeError(f"timeout: expected a datetime.timedelta, got {type(timeout).__name__}")
    MPI = _import_mpi()
    comm = MPI.COMM_WORLD
    mpi_rank, mpi_size = comm.Get_rank(), comm.Get_size()
    for what, given in (
        ("world_size", world_size),
        ("WORLD_SIZE", _env_int("WORLD_SIZE")),
        ("rank", rank),
        ("RANK", _env_int("RANK")),
    ):
        if given is None or given == -1:
            continue
        want = mpi_size if what.lower() == "world_size" else mpi_rank
        if int(given) != want:
            raise ValueError(
                f"{what}={given} but MPI started this process as rank {mpi_rank} of {mpi_size}. "
                "fastnn.distributed takes its ranks from MPI: launch with "
                "`python -m fastnn.distributed.run --nproc-per-node N script.py` or "
                "`mpiexec -n N python script.py` (processes started by torchrun are not "
                "connected by MPI)"
            )
    timeout_s = timeout.total_seconds()
    world = ProcessGroup(comm.Dup(), range(mpi_size), timeout_s)
    _State.world = world
    _State.timeout_s = timeout_s
    group.WORLD = GroupMember.WORLD = world
    _install_fault_handlers()


def destroy_process_group(group=None) -> None:
    """Leave ``group`` (default: the default group, after which every group is unusable)."""
    if group is None or group is _State.world:
        if _State.world is None:
            raise RuntimeError("Default process group has not been initialized")
        _State.world.comm.Free()
        _State.world = None
        globals()["group"].WORLD = GroupMember.WORLD = None
        if _State.old_excepthook is not None:
            sys.excepthook = _State.old_excepthook
            _State.old_excepthook = None
    elif group.comm is not None:
        group.comm.Free()
        group.comm = None


def _install_fault_handlers():
    """An uncaught exception on one rank ends the process without MPI_Finalize (so mpiexec kills
    the other ranks within moments), after printing the traceback with the rank in front."""
    if _State.old_excepthook is not None:
        return
    old = sys.excepthook

    def hook(tp, value, tb):
        sys.stderr.write(f"[fastnn.distributed] rank {get_rank()} failed:\n")
        old(tp, value, tb)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(1)

    _State.old_excepthook = old
    sys.excepthook = hook


def _world() -> ProcessGroup:
    if _State.world is None:
        raise RuntimeError(
            "Default process group has not been initialized, please make sure to call "
            "init_process_group."
        )
    return _State.world


def _group(g) -> ProcessGroup:
    w = _world()
    if g is None:
        return w
    if not isinstance(g, ProcessGroup):
        raise TypeError(f"group: expected a ProcessGroup from new_group, got {type(g).__name__}")
    return g


def get_rank(group=None) -> int:
    """This process's rank in ``group`` (default: the world); -1 when it is not a member."""
    return _group(group).rank()


def get_world_size(group=None) -> int:
    return _group(group).size()


def get_backend(group=None) -> str:
    _group(group)
    return "mpi"


def get_global_rank(group, group_rank: int) -> int:
    return _group(group).ranks[group_rank]


def get_group_rank(group, global_rank: int) -> int:
    g = _group(group)
    if global_rank not in g.ranks:
        raise ValueError(f"global_rank: rank {global_rank} is not part of {g}")
    return g.ranks.index(global_rank)


def get_process_group_ranks(group) -> list:
    return list(_group(group).ranks)


def new_group(ranks=None, timeout=None, backend=None, pg_options=None, **kwargs) -> ProcessGroup:
    """A group of the given global ``ranks`` (all ranks when None). Every rank of the world must
    call it, members or not, with the same ``ranks``."""
    w = _world()
    ranks = list(range(w.size())) if ranks is None else sorted(int(r) for r in ranks)
    if len(set(ranks)) != len(ranks) or any(r < 0 or r >= w.size() for r in ranks):
        raise ValueError(f"ranks: expected distinct ranks in [0, {w.size()}), got {ranks}")
    _check_same(w, "new_group", np.asarray(ranks, np.int64), None, "ranks")
    grp = w.comm.Get_group()
    sub = grp.Incl(ranks)
    comm = w.comm.Create(sub)
    sub.Free()
    grp.Free()
    MPI = _State.mpi
    t = w.timeout_s if timeout is None else timeout.total_seconds()
    return ProcessGroup(None if comm == MPI.COMM_NULL else comm, ranks, t)


# ------------------------------------------------------------------------ waiting with a deadline
class Backoff:
    """Pause between two tests of an MPI request: MPI moves a request only inside MPI calls, so
    the first 50 ms poll back to back, only yielding the core to runnable threads (a sleep costs
    ~2 ms of wake-up on a busy machine, and a large allreduce needs several rounds); later
    pauses sleep, so a rank waiting long for a slow peer does not burn a core."""

    def __init__(self):
        self.start = time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def pause(self) -> None:
        dt = self.elapsed()
        if dt < 0.05:
            os.sched_yield()
        else:
            time.sleep(0.0002 if dt < 1.0 else 0.001)


def _wait(requests, g: ProcessGroup, what: str):
    """Wait for MPI requests, polling, until the group's timeout: raise instead of hanging."""
    MPI = _State.mpi
    backoff = Backoff()
    while not MPI.Request.Testall(requests):
        if backoff.elapsed() > g.timeout_s:
            raise DistBackendError(
                f"rank {get_rank()}: {what} did not complete within {g.timeout_s:g} s; another "
                "rank may have died, hung, or called a different collective"
            )
        backoff.pause()


class Work:
    """Handle of an ``async_op=True`` call (torch's Work): ``wait()``, ``is_completed()``."""

    def __init__(self, requests, group, what, finish=None, result=None):
        self._requests, self._group, self._what = requests, group, what
        self._finish, self._result, self._done = finish, result, False

    def is_completed(self) -> bool:
        if not self._done and _State.mpi.Request.Testall(self._requests):
            self._complete()
        return self._done

    def wait(self, timeout=None) -> bool:
        if not self._done:
            if timeout is not None:
                g = ProcessGroup(self._group.comm, self._group.ranks, timeout.total_seconds())
            else:
                g = self._group
            _wait(self._requests, g, self._what)
            self._complete()
        return True

    def _complete(self):
        self._done = True
        if self._finish is not None:
            self._finish()

    def result(self):
        self.wait()
        return self._result

    def is_success(self) -> bool:
        return self._done


def _done_or_work(requests, g, what, async_op, finish=None, result=None):
    w = Work(requests, g, what, finish, result)
    if async_op:
        return w
    w.wait()
    return None


# ------------------------------------------------------------------------------ argument checks
def _array(t, name):
    if not isinstance(t, Tensor):
        raise TypeError(f"{name}: expected a Tensor, got {type(t).__name__}")
    a = t.array
    if type(a) is not np.ndarray:
        raise TypeError(f"{name}: fastnn.distributed handles CPU tensors only (got {t.device})")
    return a


def _signature(op, a, root):
    """op name, dtype, shape (up to 6 dims compared) and root rank as a fixed-size int64 row."""
    row = np.full(11, -1, np.int64)
    row[10] = -1 if root is None else root
    row[0] = zlib.crc32(op.encode())  # str hash() differs between processes
    if a is not None:
        row[1] = np.frombuffer(np.dtype(a.dtype).str.encode().ljust(8, b" "), np.int64)[0]
        row[2] = a.ndim
        row[3] = a.size
        row[4 : 4 + min(a.ndim, 6)] = a.shape[:6]
    return row


def _check_same(g, op, a, src, name):
    """Raise on the ranks of ``g`` that disagree on the collective, its dtype or shape (every rank
    raises, naming the first rank that differs from rank 0)."""
    mine = _signature(op, a, src)
    rows = np.empty((g.size(), mine.size), np.int64)
    _wait([g.comm.Iallgather(mine, rows)], g, f"{op} (argument check)")
    bad = np.flatnonzero((rows != rows[0]).any(axis=1))
    if bad.size:
        r = int(bad[0])
        if rows[r, 0] != rows[0, 0]:
            raise DistError(
                f"{op}: rank {g.ranks[r]} called a different collective than rank {g.ranks[0]} "
                "(collectives must be called in the same order on every rank)"
            )
        if rows[r, 10] != rows[0, 10]:
            raise ValueError(
                f"{op}: the src/dst rank is {rows[0, 10]} on rank {g.ranks[0]} but {rows[r, 10]} "
                f"on rank {g.ranks[r]}; every rank must pass the same"
            )

        def desc(row):
            nd = int(row[2])
            dt = row[1:2].tobytes().decode().strip()
            return f"dtype {np.dtype(dt)} shape {tuple(int(x) for x in row[4 : 4 + nd])}"

        raise ValueError(
            f"{op}: {name} has {desc(rows[0])} on rank {g.ranks[0]} but {desc(rows[r])} on rank "
            f"{g.ranks[r]}; every rank must pass the same dtype and shape"
        )


def _contig(a):
    """(buffer, write_back): a C-contiguous buffer for ``a`` and what copies results back."""
    if a.flags.c_contiguous and a.flags.writeable:
        return a, None
    buf = np.ascontiguousarray(a)

    def back():
        a[...] = buf

    return buf, back


def _mpi_op(op, a, name="op"):
    MPI = _State.mpi
    table = {
        ReduceOp.SUM: MPI.SUM,
        ReduceOp.AVG: MPI.SUM,
        ReduceOp.PRODUCT: MPI.PROD,
        ReduceOp.MIN: MPI.MIN,
        ReduceOp.MAX: MPI.MAX,
        ReduceOp.BAND: MPI.BAND,
        ReduceOp.BOR: MPI.BOR,
        ReduceOp.BXOR: MPI.BXOR,
    }
    if op not in table:
        raise ValueError(f"{name}: expected a dist.ReduceOp, got {op!r}")
    if op == ReduceOp.AVG and a.dtype.kind not in "fc":
        raise ValueError(f"{name}: ReduceOp.AVG needs a floating-point tensor, got {a.dtype}")
    if op in (ReduceOp.BAND, ReduceOp.BOR, ReduceOp.BXOR) and a.dtype.kind not in "iub":
        raise ValueError(f"{name}: bitwise reductions need an integer or bool tensor")
    return table[op]


def _member(g):
    return g.comm is not None


def _group_rank(g, global_rank, name):
    if global_rank not in g.ranks:
        raise ValueError(f"{name}: rank {global_rank} is not part of {g}")
    return g.ranks.index(global_rank)


# -------------------------------------------------------------------------------- collectives
def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduce ``tensor`` over the ranks of ``group`` in place; every rank gets the result."""
    g = _group(group)
    a = _array(tensor, "tensor")
    if not _member(g):
        return None
    mop = _mpi_op(op, a)
    _check_same(g, "all_reduce", a, None, "tensor")
    buf, back = _contig(a)
    req = g.comm.Iallreduce(_State.mpi.IN_PLACE, buf, mop)
    n = g.size()

    def finish():
        if op == ReduceOp.AVG:
            np.divide(buf, n, out=buf)
        if back:
            back()

    return _done_or_work([req], g, "all_reduce", async_op, finish)


def reduce(tensor, dst=0, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduce ``tensor`` over ``group`` into rank ``dst``'s tensor (others' are unspecified)."""
    g = _group(group)
    a = _array(tensor, "tensor")
    if not _member(g):
        return None
    mop = _mpi_op(op, a)
    root = _group_rank(g, dst, "dst")
    _check_same(g, "reduce", a, dst, "tensor")
    buf, back = _contig(a)
    MPI = _State.mpi
    mine = g.rank() == root
    send = MPI.IN_PLACE if mine else buf
    req = g.comm.Ireduce(send, buf if mine else None, mop, root=root)
    n = g.size()

    def finish():
        if mine:
            if op == ReduceOp.AVG:
                np.divide(buf, n, out=buf)
            if back:
                back()

    return _done_or_work([req], g, "reduce", async_op, finish)


def broadcast(tensor, src=0, group=None, async_op=False):
    """Copy rank ``src``'s ``tensor`` into every rank's ``tensor``."""
    g = _group(group)
    a = _array(tensor, "tensor")
    if not _member(g):
        return None
    root = _group_rank(g, src, "src")
    _check_same(g, "broadcast", a, src, "tensor")
    buf, back = _contig(a)
    req = g.comm.Ibcast(buf, root=root)
    return _done_or_work([req], g, "broadcast", async_op, back)


def all_gather(tensor_list, tensor, group=None, async_op=False):
    """Fill ``tensor_list`` (one tensor per rank) with every rank's ``tensor``."""
    g = _group(group)
    a = _array(tensor, "tensor")
    if not _member(g):
        return None
    if not isinstance(tensor_list, list) or len(tensor_list) != g.size():
        raise ValueError(
            f"tensor_list: expected a list of {g.size()} tensors (one per rank), got "
            f"{len(tensor_list) if isinstance(tensor_list, list) else type(tensor_list).__name__}"
        )
    outs = [_array(t, f"tensor_list[{i}]") for i, t in enumerate(tensor_list)]
    for i, o in enumerate(outs):
        if o.shape != a.shape or o.dtype != a.dtype:
            raise ValueError(
                f"tensor_list[{i}]: expected dtype {a.dtype} shape {a.shape} like tensor, got "
                f"{o.dtype} {o.shape}"
            )
    _check_same(g, "all_gather", a, None, "tensor")
    flat = np.empty((g.size(),) + a.shape, a.dtype)
    req = g.comm.Iallgather(np.ascontiguousarray(a), flat)

    def finish():
        for o, r in zip(outs, flat):
            o[...] = r

    return _done_or_work([req], g, "all_gather", async_op, finish)


def all_gather_into_tensor(output_tensor, input_tensor, group=None, async_op=False):
    """Concatenate every rank's ``input_tensor`` along dim 0 into ``output_tensor``."""
    g = _group(group)
    a = _array(input_tensor, "input_tensor")
    o = _array(output_tensor, "output_tensor")
    if not _member(g):
        return None
    if o.dtype != a.dtype or o.size != a.size * g.size():
        raise ValueError(
            f"output_tensor: expected {g.size()} x {a.size} elements of {a.dtype}, got "
            f"{o.size} of {o.dtype}"
        )
    _check_same(g, "all_gather_into_tensor", a, None, "input_tensor")
    buf, back = _contig(o)
    req = g.comm.Iallgather(np.ascontiguousarray(a), buf)
    return _done_or_work([req], g, "all_gather_into_tensor", async_op, back)


def reduce_scatter(output, input_list, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduce ``input_list[i]`` over the ranks into rank i's ``output``."""
    g = _group(group)
    o = _array(output, "output")
    if not _member(g):
        return None
    if not isinstance(input_list, list) or len(input_list) != g.size():
        raise ValueError(f"input_list: expected a list of {g.size()} tensors (one per rank)")
    ins = [_array(t, f"input_list[{i}]") for i, t in enumerate(input_list)]
    for i, x in enumerate(ins):
        if x.shape != o.shape or x.dtype != o.dtype:
            raise ValueError(
                f"input_list[{i}]: expected dtype {o.dtype} shape {o.shape} like output, got "
                f"{x.dtype} {x.shape}"
            )
    return reduce_scatter_tensor(output, _make(np.stack(ins), False, None, 0), op, group, async_op)


def reduce_scatter_tensor(output, input, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduce ``input`` (world_size equal chunks along dim 0) and give rank i chunk i."""
    g = _group(group)
    o = _array(output, "output")
    a = _array(input, "input")
    if not _member(g):
        return None
    if o.dtype != a.dtype or a.size != o.size * g.size():
        raise ValueError(
            f"input: expected {g.size()} x {o.size} elements of {o.dtype}, got {a.size} of "
            f"{a.dtype}"
        )
    mop = _mpi_op(op, a)
    _check_same(g, "reduce_scatter", o, None, "output")
    buf, back = _contig(o)
    req = g.comm.Ireduce_scatter_block(np.ascontiguousarray(a), buf, mop)
    n = g.size()

    def finish():
        if op == ReduceOp.AVG:
            np.divide(buf, n, out=buf)
        if back:
            back()

    return _done_or_work([req], g, "reduce_scatter", async_op, finish)


def gather(tensor, gather_list=None, dst=0, group=None, async_op=False):
    """Rank ``dst`` gets every rank's ``tensor`` in ``gather_list``."""
    g = _group(group)
    a = _array(tensor, "tensor")
    if not _member(g):
        return None
    root = _group_rank(g, dst, "dst")
    _check_same(g, "gather", a, dst, "tensor")
    mine = g.rank() == root
    if mine and (not isinstance(gather_list, list) or len(gather_list) != g.size()):
        raise ValueError(f"gather_list: expected a list of {g.size()} tensors on the dst rank")
    flat = np.empty((g.size(),) + a.shape, a.dtype) if mine else None
    req = g.comm.Igather(np.ascontiguousarray(a), flat, root=root)

    def finish():
        if mine:
            for i, t in enumerate(gather_list):
                _array(t, f"gather_list[{i}]")[...] = flat[i]

    return _done_or_work([req], g, "gather", async_op, finish)


def scatter(tensor, scatter_list=None, src=0, group=None, async_op=False):
    """Rank i gets rank ``src``'s ``scatter_list[i]`` in ``tensor``."""
    g = _group(group)
    a = _array(tensor, "tensor")
    if not _member(g):
        return None
    root = _group_rank(g, src, "src")
    _check_same(g, "scatter", a, src, "tensor")
    flat = None
    if g.rank() == root:
        if not isinstance(scatter_list, list) or len(scatter_list) != g.size():
            raise ValueError(f"scatter_list: expected a list of {g.size()} tensors on the src rank")
        flat = np.stack([_array(t, f"scatter_list[{i}]") for i, t in enumerate(scatter_list)])
        flat = np.ascontiguousarray(flat, a.dtype)
    buf, back = _contig(a)
    req = g.comm.Iscatter(flat, buf, root=root)
    return _done_or_work([req], g, "scatter", async_op, back)


def barrier(group=None, async_op=False, device_ids=None):
    """Wait until every rank of ``group`` has reached the barrier."""
    g = _group(group)
    if not _member(g):
        return None
    _check_same(g, "barrier", None, None, "group")
    return _done_or_work([g.comm.Ibarrier()], g, "barrier", async_op)


def _object_bytes(obj):
    return np.frombuffer(pickle.dumps(obj), np.uint8)


def all_gather_object(object_list, obj, group=None):
    """Fill ``object_list`` (length world_size) with every rank's picklable ``obj``."""
    g = _group(group)
    if not _member(g):
        return None
    if not isinstance(object_list, list) or len(object_list) != g.size():
        raise ValueError(f"object_list: expected a list of {g.size()} entries (one per rank)")
    _check_same(g, "all_gather_object", None, None, "obj")
    data = _object_bytes(obj)
    sizes = np.empty(g.size(), np.int64)
    _wait([g.comm.Iallgather(np.array([data.size], np.int64), sizes)], g, "all_gather_object")
    flat = np.empty(int(sizes.sum()), np.uint8)
    displs = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    req = g.comm.Iallgatherv(data, [flat, sizes, displs, _State.mpi.BYTE])
    _wait([req], g, "all_gather_object")
    for i in range(g.size()):
        object_list[i] = pickle.loads(flat[displs[i] : displs[i] + sizes[i]].tobytes())


def broadcast_object_list(object_list, src=0, group=None, device=None):
    """Replace ``object_list``'s entries with rank ``src``'s (same length on every rank)."""
    g = _group(group)
    if not _member(g):
        return None
    root = _group_rank(g, src, "src")
    _check_same(g, "broadcast_object_list", np.zeros(len(object_list)), src, "object_list")
    data = _object_bytes(list(object_list)) if g.rank() == root else None
    n = np.array([0 if data is None else data.size], np.int64)
    _wait([g.comm.Ibcast(n, root=root)], g, "broadcast_object_list")
    buf = data if data is not None else np.empty(int(n[0]), np.uint8)
    _wait([g.comm.Ibcast(buf, root=root)], g, "broadcast_object_list")
    object_list[:] = pickle.loads(buf.tobytes())


# ------------------------------------------------------------------------------ point to point
def isend(tensor, dst, group=None, tag=0):
    """Send ``tensor`` to global rank ``dst``; returns a Work."""
    g = _group(group)
    a = _array(tensor, "tensor")
    peer = _group_rank(g, dst, "dst")
    if peer == g.rank():
        raise ValueError("dst: a rank cannot send to itself")
    buf = np.ascontiguousarray(a)
    return Work([g.comm.Isend(buf, dest=peer, tag=tag)], g, f"send to rank {dst}")


def irecv(tensor, src=None, group=None, tag=0):
    """Receive into ``tensor`` from global rank ``src`` (any rank when None); returns a Work
    whose ``wait()`` fills ``tensor``."""
    g = _group(group)
    a = _array(tensor, "tensor")
    MPI = _State.mpi
    peer = MPI.ANY_SOURCE if src is None else _group_rank(g, src, "src")
    buf, back = _contig(a)
    return Work([g.comm.Irecv(buf, source=peer, tag=tag)], g, f"recv from rank {src}", back)


def send(tensor, dst, group=None, tag=0) -> None:
    isend(tensor, dst, group, tag).wait()


def recv(tensor, src=None, group=None, tag=0) -> int:
    """Receive into ``tensor``; returns the sender's global rank. A message larger than
    ``tensor`` raises (the shapes disagree)."""
    g = _group(group)
    a = _array(tensor, "tensor")
    MPI = _State.mpi
    peer = MPI.ANY_SOURCE if src is None else _group_rank(g, src, "src")
    status = MPI.Status()
    # Probe first (bounded by the timeout) so a size mismatch is reported, not truncated.
    backoff = Backoff()
    while not g.comm.Iprobe(source=peer, tag=tag, status=status):
        if backoff.elapsed() > g.timeout_s:
            raise DistBackendError(
                f"rank {get_rank()}: recv from rank {src} did not complete within "
                f"{g.timeout_s:g} s; the sender may have died or hung"
            )
        backoff.pause()
    nbytes = status.Get_count(MPI.BYTE)
    if nbytes != a.nbytes:  # take the message off the wire, then report it
        g.comm.Recv([np.empty(nbytes, np.uint8), MPI.BYTE], status.Get_source(), status.Get_tag())
        raise ValueError(
            f"tensor: recv got {nbytes} bytes from rank {g.ranks[status.Get_source()]} but tensor "
            f"holds {a.nbytes} ({a.dtype} {a.shape}); sender and receiver shapes differ"
        )
    buf, back = _contig(a)
    g.comm.Recv(buf, source=status.Get_source(), tag=status.Get_tag())
    if back:
        back()
    return g.ranks[status.Get_source()]
