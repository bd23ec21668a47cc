"""``DistributedDataParallel``: data-parallel training over ``fastnn.distributed`` (MPI).

How gradients are averaged (torch's Reducer, in a few hundred lines of Python):
- Parameters are grouped into buckets in reverse registration order (the order backward produces
  them), the first bucket capped at 1 MiB so communication starts early, the rest at
  ``bucket_cap_mb`` (25 MiB); one dtype per bucket. After the first synchronised iteration the
  buckets are rebuilt in the order the gradients actually arrived (rank 0's order).
- Each parameter has a post-accumulate-grad hook. When the last gradient of a bucket arrives, the
  bucket (gradients pre-divided by the world size, copied into one flat buffer) is handed to a
  progress thread that starts a non-blocking ``MPI_Iallreduce``; buckets start in bucket order
  on every rank, as MPI requires. MPI moves a request only inside MPI calls, so the thread tests
  the requests every 0.2 ms while backward's kernels run without the GIL: the reduction of
  bucket k proceeds while backward computes the gradients of bucket k+1 (with
  ``progress_thread = False`` only the hooks test them, which hides far less).
- When every bucket has started, the hook of the last gradient waits for all of them and writes
  the averages back into ``param.grad``; ``optimizer.step()`` then sees averaged gradients.
"""

from __future__ import annotations

import contextlib
import threading
import time
import zlib

import numpy as np

from ...autograd.grad_mode import is_grad_enabled
from ...distributed import collectives as _c
from ...tensor import Tensor, _make
from ..modules.module import Module

_MB = 1024 * 1024
_DEFAULT_FIRST_BUCKET_BYTES = 1 * _MB
_DEFAULT_BUCKET_CAP_MB = 25


def _assign_buckets(params, order, caps):
    """Indices of ``params`` grouped as torch's ``_compute_bucket_assignment_by_size``: walk
    ``order``, one open bucket per dtype, closed once it reaches its cap (``caps[0]`` for each
    dtype's first bucket, then ``caps[-1]``); buckets sorted by their first index in ``order``."""
    open_ = {}
    done = []
    ncap = {}
    for i in order:
        a = params[i].array
        key = a.dtype.str
        b = open_.setdefault(key, [[], 0])
        b[0].append(i)
        b[1] += a.nbytes
        k = ncap.get(key, 0)
        if b[1] >= caps[min(k, len(caps) - 1)]:
            done.append(b[0])
            del open_[key]
            ncap[key] = k + 1
    done += [b[0] for b in open_.values()]
    pos = {i: n for n, i in enumerate(order)}
    return sorted(done, key=lambda b: pos[b[0]])


class _Bucket:
    def __init__(self, index, params, members):
        self.index = index
        self.members = members  # parameter indices
        self.offsets = []
        off = 0
        for i in members:
            self.offsets.append(off)
            off += params[i].array.size
        self.buffer = np.empty(off, params[members[0]].array.dtype)
        self.pending = len(members)
        self.request = None


def _tensors_in(obj, out):
    if isinstance(obj, Tensor):
        out.append(obj)
    elif isinstance(obj, (list, tuple)):
        for o in obj:
            _tensors_in(o, out)
    elif isinstance(obj, dict):
        for o in obj.values():
            _tensors_in(o, out)
    return out


def _reachable_leaves(outputs):
    """ids of the leaf tensors the autograd graph of ``outputs`` reaches."""
    seen_nodes, leaves = set(), set()
    stack = []
    for t in outputs:
        if t.grad_fn is None:
            leaves.add(id(t))
        else:
            stack.append(t.grad_fn)
    while stack:
        node = stack.pop()
        if id(node) in seen_nodes:
            continue
        seen_nodes.add(id(node))
        for e in node._next:
            if type(e) is tuple:
                stack.append(e[0])
            elif e is not None:
                leaves.add(id(e))
    return leaves


class _Progress:
    """A thread that starts the buckets' allreduces and tests them every ``poll_s`` while
    backward computes (MPI advances a non-blocking collective only inside MPI calls, and the
    kernels release the GIL), then without pause while the main thread waits for them. While
    it has work it is the only thread calling MPI; it is idle whenever the main thread calls
    MPI, so MPI_THREAD_SERIALIZED suffices."""

    poll_s = 0.0002

    def __init__(self, comm):
        self.comm = comm
        self.cv = threading.Condition()
        self.queue = []
        self.finished = 0
        self.urgent = False
        self.all_done = threading.Event()
        self.thread = None

    def submit(self, bucket):
        with self.cv:
            self.queue.append(bucket)
            self.cv.notify()
        if self.thread is None:
            self.thread = threading.Thread(target=self._run, name="ddp-allreduce", daemon=True)
            self.thread.start()

    def wait(self, nbuckets, g):
        with self.cv:
            self.target = nbuckets
            self.urgent = True
            if self.finished >= nbuckets:
                self.all_done.set()
            self.cv.notify()
        ok = self.all_done.wait(g.timeout_s)
        with self.cv:
            self.urgent = False
            self.finished = 0
            self.all_done.clear()
        if not ok:
            raise _c.DistBackendError(
                f"rank {_c.get_rank()}: DistributedDataParallel gradient allreduce did not "
                f"complete within {g.timeout_s:g} s; another rank may have died or hung"
            )

    def _run(self):
        MPI = _c._State.mpi
        pending = []
        backoff = None
        while True:
            with self.cv:
                while not self.queue and not pending:
                    self.cv.wait()
                new, self.queue = self.queue, []
            for b in new:
                b.request = self.comm.Iallreduce(MPI.IN_PLACE, b.buffer, MPI.SUM)
                pending.append(b)
            still = []
            for b in pending:
                if b.request.Test():
                    b.done = True
                else:
                    still.append(b)
            with self.cv:
                self.finished += len(pending) - len(still)
                if self.urgent and not still and not self.queue and self.finished >= self.target:
                    self.all_done.set()
                urgent = self.urgent
            pending = still
            if not urgent:
                backoff = None
                if pending:  # backward computes on this core: a gentle poll
                    time.sleep(self.poll_s)
            elif pending:  # the main thread waits: poll at once
                backoff = backoff or _c.Backoff()
                backoff.pause()


class DistributedDataParallel(Module):
    """Replicates ``module`` across the ranks of ``process_group`` and averages its gradients
    during backward (``torch.nn.parallel.DistributedDataParallel`` for CPU modules).

    Args:
        module: the model; its parameters and buffers are broadcast from rank 0 at construction.
        device_ids, output_device: must be None (CPU modules), as in torch.
        broadcast_buffers: copy rank 0's buffers (e.g. BatchNorm statistics) at every forward.
        process_group: the group to average over (default: the world).
        bucket_cap_mb: bucket size in MiB (default 25; the first bucket is 1 MiB).
        find_unused_parameters: after each forward, mark the parameters the output does not
            depend on as ready, so backward does not wait for them; parameters unused on every
            rank keep their ``.grad``.
    Attributes:
        module: the wrapped model. ``require_backward_grad_sync``: False inside ``no_sync()``.
        progress_thread: class attribute (default True): a helper thread starts and tests the
            allreduces while backward computes; False tests them only from the gradient hooks.
    """

    progress_thread = True

    def __init__(
        self,
        module,
        device_ids=None,
        output_device=None,
        dim=0,
        broadcast_buffers=True,
        init_sync=True,
        process_group=None,
        bucket_cap_mb=None,
        find_unused_parameters=False,
        check_reduction=False,
        gradient_as_bucket_view=False,
        static_graph=False,
        **kwargs,
    ):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"module: expected a fastnn.nn.Module, got {type(module).__name__}")
        if device_ids or output_device is not None:
            raise ValueError(
                "DistributedDataParallel device_ids and output_device arguments only work with "
                "single-device/multiple-device GPU modules or CPU modules, but got device_ids "
                f"{device_ids}, output_device {output_device}, and module parameters on cpu. "
                "Pass device_ids=None for a CPU module."
            )
        unknown = sorted(k for k, v in kwargs.items() if v not in (None, False))
        if unknown:
            raise NotImplementedError(f"DistributedDataParallel: unsupported arguments {unknown}")
        g = _c._group(process_group)
        if g.comm is None:
            raise ValueError("process_group: this rank is not a member of the group")
        self.module = module
        self.process_group = g
        self.broadcast_buffers = bool(broadcast_buffers)
        self.find_unused_parameters = bool(find_unused_parameters)
        self.require_backward_grad_sync = True
        self.require_forward_param_sync = True
        cap_mb = _DEFAULT_BUCKET_CAP_MB if bucket_cap_mb is None else bucket_cap_mb
        self.bucket_bytes_cap = int(cap_mb * _MB)
        first = _DEFAULT_FIRST_BUCKET_BYTES if bucket_cap_mb is None else self.bucket_bytes_cap
        self._caps = [min(first, self.bucket_bytes_cap), self.bucket_bytes_cap]
        params = []
        seen = set()
        for p in module.parameters():
            if p.requires_grad and id(p) not in seen:
                seen.add(id(p))
                params.append(p)
        for i, p in enumerate(params):
            if type(p.array) is not np.ndarray:
                raise ValueError(f"module: parameter {i} is on {p.device}; DDP handles CPU only")
        self._params = params
        self._index = {id(p): i for i, p in enumerate(params)}
        self._verify_shapes()
        if init_sync:
            self._sync_module_states()
        self._build_buckets(list(reversed(range(len(params)))))
        self._rebuilt = False
        self._ready_order = []
        self._armed = False
        self._hooks_fired = 0
        self._progress = _Progress(g.comm) if self.progress_thread and g.size() > 1 else None
        self.stats = {
            "steps": 0,
            "bytes": 0,
            "overlapped_bytes": 0,
            "wait_s": 0.0,
            "buckets": len(self._buckets),
        }
        for p in params:
            p.register_post_accumulate_grad_hook(self._on_grad_ready)

    # ----------------------------------------------------------------------------- setup
    def _verify_shapes(self):
        desc = repr([(p.array.shape, p.array.dtype.str) for p in self._params]).encode()
        mine = np.array([len(self._params), zlib.crc32(desc)], np.int64)
        g = self.process_group
        rows = np.empty((g.size(), 2), np.int64)
        _c._wait([g.comm.Iallgather(mine, rows)], g, "DistributedDataParallel construction")
        if (rows != rows[0]).any():
            raise ValueError(
                "module: DistributedDataParallel's parameters differ in number, shape or dtype "
                "across ranks; every rank must build the same model"
            )

    def _sync_module_states(self):
        g = self.process_group
        root = 0
        arrays = [p.array for p in self._params] + [b.array for b in self.module.buffers()]
        reqs = []
        for a in arrays:
            if not (a.flags.c_contiguous and a.flags.writeable):
                raise ValueError("module: parameters and buffers must be contiguous to broadcast")
            reqs.append(g.comm.Ibcast(a, root=root))
        _c._wait(reqs, g, "DistributedDataParallel broadcast of rank 0's parameters")

    def _build_buckets(self, order):
        groups = _assign_buckets(self._params, order, self._caps)
        self._buckets = [_Bucket(k, self._params, m) for k, m in enumerate(groups)]
        self._where = {}
        for b in self._buckets:
            for slot, i in enumerate(b.members):
                self._where[i] = (b, slot)

    # --------------------------------------------------------------------------- forward
    @contextlib.contextmanager
    def no_sync(self):
        """Gradients of the forward/backward passes run inside accumulate locally, unreduced;
        the first synchronised backward after it averages the accumulated sum."""
        old = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = old

    def forward(self, *inputs, **kwargs):
        if self._armed and self._hooks_fired:
            raise RuntimeError(
                "Expected to have finished reduction in the prior iteration before starting a new "
                "one. This error indicates that your module has parameters that were not used in "
                "producing loss. You can enable unused parameter detection by passing the keyword "
                "argument `find_unused_parameters=True` to `torch.nn.parallel."
                "DistributedDataParallel`, and by making sure all `forward` function outputs "
                "participate in calculating loss."
            )
        if self.broadcast_buffers and self.require_forward_param_sync:
            bufs = [b.array for b in self.module.buffers()]
            if bufs:
                g = self.process_group
                _c._wait([g.comm.Ibcast(a, root=0) for a in bufs], g, "DDP buffer broadcast")
        out = self.module(*inputs, **kwargs)
        self._armed = False
        if is_grad_enabled() and self.require_backward_grad_sync:
            self._prepare_for_backward(out)
        return out

    def _prepare_for_backward(self, out):
        self._armed = True
        self._hooks_fired = 0
        self._next_launch = 0
        self._in_flight = []
        self._t_first = None
        for b in self._buckets:
            b.pending = len(b.members)
            b.request = None
        self._local_used = np.ones(len(self._params), np.int8)
        if self.find_unused_parameters:
            reached = _reachable_leaves(_tensors_in(out, []))
            for i, p in enumerate(self._params):
                if id(p) not in reached:
                    self._local_used[i] = 0
                    self._mark_ready(i, None)

    # -------------------------------------------------------------------------- backward
    def _on_grad_ready(self, p):
        if not self._armed:
            return
        i = self._index[id(p)]
        self._hooks_fired += 1
        self._mark_ready(i, p.grad.array)

    def _mark_ready(self, i, grad):
        b, slot = self._where[i]
        if not self._rebuilt:
            self._ready_order.append(i)
        n = self._params[i].array.size
        dst = b.buffer[b.offsets[slot] : b.offsets[slot] + n]
        if grad is None:
            dst.fill(0)
        else:
            # pre-divide while copying: one pass; the allreduce then sums the averages' parts
            np.multiply(grad.reshape(-1), 1.0 / self.process_group.size(), out=dst)
        b.pending -= 1
        if b.pending == 0:
            self._launch_ready()
        elif self._in_flight and self._progress is None:
            _c._State.mpi.Request.Testall(self._in_flight)  # drive MPI's progress engine

    def _launch_ready(self):
        MPI = _c._State.mpi
        comm = self.process_group.comm
        bs = self._buckets
        while self._next_launch < len(bs) and bs[self._next_launch].pending == 0:
            b = bs[self._next_launch]
            b.done = False
            if self._progress is not None:
                self._progress.submit(b)
            else:
                b.request = comm.Iallreduce(MPI.IN_PLACE, b.buffer, MPI.SUM)
                self._in_flight.append(b.request)
            self.stats["bytes"] += b.buffer.nbytes
            self._next_launch += 1
        if self._next_launch == len(bs):
            self._finalize()
        elif self._progress is None:
            MPI.Request.Testall(self._in_flight)

    def _finalize(self):
        g = self.process_group
        t0 = time.perf_counter()
        if self._progress is not None:
            self.stats["overlapped_bytes"] += sum(b.buffer.nbytes for b in self._buckets if b.done)
            self._progress.wait(len(self._buckets), g)
        else:
            for b in self._buckets:  # reduced while backward still ran: communication hidden
                if b.request.Test():
                    self.stats["overlapped_bytes"] += b.buffer.nbytes
            _c._wait(self._in_flight, g, "DistributedDataParallel gradient allreduce")
        self.stats["wait_s"] += time.perf_counter() - t0
        self.stats["steps"] += 1
        used = None
        if self.find_unused_parameters:
            used = self._local_used.copy()
            MPI = _c._State.mpi
            _c._wait([g.comm.Iallreduce(MPI.IN_PLACE, used, MPI.MAX)], g, "DDP unused parameters")
        for b in self._buckets:
            for slot, i in enumerate(b.members):
                if used is not None and not used[i]:
                    continue  # unused on every rank: .grad stays as it was, as in torch
                p = self._params[i]
                a = p.array
                avg = b.buffer[b.offsets[slot] : b.offsets[slot] + a.size].reshape(a.shape)
                if p.grad is None:
                    p.grad = _make(avg.copy(), False, None, 0)
                else:
                    ga = p.grad.array
                    if type(ga) is np.ndarray and ga.flags.writeable and ga.shape == a.shape:
                        ga[...] = avg
                    else:
                        p.grad.array = avg.copy()
        self._armed = False
        self._in_flight = []
        if not self._rebuilt:
            self._rebuild_buckets()

    def _rebuild_buckets(self):
        """Buckets in the order gradients arrived in this first iteration (rank 0's order, so
        every rank launches the same buckets in the same order)."""
        self._rebuilt = True
        order = np.array(self._ready_order, np.int64)
        if order.size != len(self._params):
            return
        g = self.process_group
        _c._wait([g.comm.Ibcast(order, root=0)], g, "DDP bucket rebuild")
        self._build_buckets([int(i) for i in order])
        self.stats["buckets"] = len(self._buckets)


__all__ = ["DistributedDataParallel"]
