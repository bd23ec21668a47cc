"""fastnn.distributed, DistributedDataParallel and DistributedSampler on 2 and 4 ranks (loopback).

The pytest functions start ranks with ``python -m fastnn.distributed.run`` running this same file
as a script (``python tests/test_distributed.py CASE``); each rank checks its results against
NumPy (collectives) or against single-process training on the concatenated batch (DDP), and
prints ``OK CASE rank R``. Every launch has a subprocess timeout, so a hang fails, never stalls.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np
import pytest

HERE = os.path.abspath(__file__)
ROOT = os.path.dirname(os.path.dirname(HERE))
LOOPBACK = {"MPIR_CVAR_CH4_NETMOD": "ofi", "FI_PROVIDER": "tcp", "FI_TCP_IFACE": "lo"}


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    env.update(OMP_NUM_THREADS="1", NUMBA_NUM_THREADS="1", **LOOPBACK)
    for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE"):
        env.pop(k, None)
    return env


def launch(nproc, case, timeout=240, *extra):
    """Run CASE on ``nproc`` ranks through the launcher; (returncode, output, seconds)."""
    cmd = [sys.executable, "-m", "fastnn.distributed.run", "--nproc-per-node", str(nproc)]
    cmd += [HERE, case, *extra]
    t0 = time.perf_counter()
    p = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    return p.returncode, p.stdout + p.stderr, time.perf_counter() - t0


def _ok(nproc, case, timeout=240):
    rc, out, _ = launch(nproc, case, timeout)
    assert rc == 0, out[-6000:]
    for r in range(nproc):
        assert f"OK {case} rank {r}" in out, out[-6000:]


try:
    import mpi4py  # noqa: F401

    HAVE_MPI = True
except ImportError:  # pip install "fastnn[distributed]"
    HAVE_MPI = False
needs_mpi = pytest.mark.skipif(not HAVE_MPI, reason="mpi4py not installed (the distributed extra)")


# ------------------------------------------------------------------------------ pytest side
@needs_mpi
@pytest.mark.parametrize("nproc", [2, 4])
def test_collectives_match_numpy(nproc):
    _ok(nproc, "collectives")


@needs_mpi
@pytest.mark.parametrize("nproc", [2, 4])
def test_ddp_equals_single_process_training(nproc):
    _ok(nproc, "ddp")


@needs_mpi
def test_plain_mpiexec_without_launcher():
    from fastnn.distributed.run import find_mpiexec

    cmd = [find_mpiexec(), "-hosts", "localhost", "-n", "2", sys.executable, HERE, "plain"]
    p = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=120, cwd=ROOT)
    out = p.stdout + p.stderr
    assert p.returncode == 0, out[-4000:]
    assert "OK plain rank 0" in out and "OK plain rank 1" in out, out[-4000:]


@needs_mpi
@pytest.mark.parametrize("fault", ["raise", "die", "hang", "exit"])
def test_a_failing_rank_ends_the_job_quickly(fault):
    rc, out, seconds = launch(2, "fault", 120, fault)
    assert rc != 0, out[-4000:]
    assert seconds < 60, f"took {seconds:.0f} s"
    assert "OK fault" not in out
    if fault == "raise":
        assert "rank 1 failed" in out and "deliberate failure" in out, out[-4000:]
    if fault == "hang":  # rank 0 times out (2 s) instead of waiting for the hung rank forever
        assert "did not complete within 2 s" in out, out[-4000:]


@needs_mpi
def test_env_rank_that_disagrees_with_mpi_is_refused():
    env = _env()
    env.update(RANK="1", WORLD_SIZE="2")
    code = "import fastnn.distributed as d; d.init_process_group('gloo')"
    p = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert p.returncode != 0
    assert "WORLD_SIZE=2 but MPI started this process as rank 0 of 1" in p.stderr, p.stderr


def test_use_before_init_raises():
    import fastnn as torch
    import fastnn.distributed as dist

    assert not dist.is_initialized()
    with pytest.raises(RuntimeError, match="init_process_group"):
        dist.get_rank()
    with pytest.raises(RuntimeError, match="init_process_group"):
        dist.all_reduce(torch.ones(2))
    with pytest.raises(ValueError, match="backend"):
        dist.init_process_group("nccl")
    with pytest.raises(RuntimeError, match="init_process_group"):
        torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(2, 2))


@pytest.mark.parametrize("n", [0, 1, 7, 10, 13])
@pytest.mark.parametrize("replicas", [1, 2, 3, 4])
@pytest.mark.parametrize("drop_last", [False, True])
def test_sampler_matches_torch_unshuffled(n, replicas, drop_last):
    torch = pytest.importorskip("torch")
    from fastnn.utils.data import DistributedSampler

    data = list(range(n))
    for rank in range(replicas):
        ours = DistributedSampler(data, replicas, rank, shuffle=False, drop_last=drop_last)
        ref = torch.utils.data.DistributedSampler(data, replicas, rank, False, drop_last=drop_last)
        if n == 0 and not drop_last:
            continue  # torch itself divides by zero padding an empty dataset
        assert list(ours) == list(ref) and len(ours) == len(ref)


@pytest.mark.parametrize("n,replicas", [(10, 2), (10, 3), (13, 4), (8, 4)])
def test_sampler_shards_partition_the_shuffled_dataset(n, replicas):
    from fastnn.utils.data import DistributedSampler

    data = list(range(n))
    shards = [DistributedSampler(data, replicas, r, seed=3) for r in range(replicas)]
    got = [list(s) for s in shards]
    flat = sum(got, [])
    assert all(len(g) == len(shards[0]) for g in got)
    assert set(flat) == set(data)  # every index, once (plus the padding repeats)
    assert len(flat) - len(set(flat)) == (-n) % replicas
    for s in shards:
        s.set_epoch(1)
    again = [list(s) for s in shards]
    assert again != got and set(sum(again, [])) == set(data)
    kept = [list(DistributedSampler(data, replicas, r, drop_last=True)) for r in range(replicas)]
    assert len(sum(kept, [])) == len(set(sum(kept, []))) == n - n % replicas
    with pytest.raises(ValueError, match="Invalid rank"):
        DistributedSampler(data, replicas, replicas)


def test_post_accumulate_grad_hook_runs_once_after_all_contributions():
    import fastnn as torch

    w = torch.randn(3, requires_grad=True)
    seen = []
    h = w.register_post_accumulate_grad_hook(lambda p: seen.append(p.grad.numpy().copy()))
    ((w * 2).sum() + (w * w).sum()).backward()  # two contributions: one call, with their sum
    assert len(seen) == 1
    np.testing.assert_allclose(seen[0], 2 + 2 * w.detach().numpy(), rtol=1e-6)
    h.remove()
    (w * 3).sum().backward()
    assert len(seen) == 1
    with pytest.raises(RuntimeError, match="non-leaf"):
        (w * 2).register_post_accumulate_grad_hook(lambda p: None)


def test_launcher_command_one_node_and_hostfile(tmp_path):
    from fastnn.distributed.run import _parser, build_command

    fake = tmp_path / "mpiexec"  # an MPICH-style mpiexec: its --version does not say Open MPI
    fake.write_text("#!/bin/sh\necho HYDRA build details\n")
    fake.chmod(0o755)
    cmd, env = build_command(
        _parser().parse_args(
            ["--mpiexec", str(fake), "--nproc-per-node", "3", "train.py", "--lr", "1"]
        )
    )
    assert cmd[:6] == [str(fake), "-hosts", "localhost", "-n", "3", sys.executable]
    assert cmd[-4:] == ["fastnn.distributed._worker", "train.py", "--lr", "1"]
    assert env["FI_TCP_IFACE"] == "lo" and env["OMP_NUM_THREADS"] == "1"
    hosts = tmp_path / "hosts"
    hosts.write_text("node1\n# comment\nnode2 slots=8\n")
    cmd, env = build_command(
        _parser().parse_args(
            ["--mpiexec", str(fake), "--hostfile", str(hosts), "--nproc-per-node", "8", "t.py"]
        )
    )
    assert cmd[1:7] == ["-f", str(hosts), "-ppn", "8", "-n", "16"]
    assert "FI_TCP_IFACE" not in env or env["FI_TCP_IFACE"] == os.environ.get("FI_TCP_IFACE")
    with pytest.raises(SystemExit, match="hostfile"):
        build_command(_parser().parse_args(["--mpiexec", str(fake), "--nnodes", "2", "t.py"]))


# ------------------------------------------------------------------------------- rank side
def _rank_data(rank, shape, dtype, seed=0):
    rng = np.random.default_rng(seed * 100 + rank)
    if np.dtype(dtype).kind == "f":
        return (rng.random(shape) + 0.5).astype(dtype)
    return rng.integers(1, 4, shape).astype(dtype)


def case_collectives():
    import fastnn as torch
    import fastnn.distributed as dist

    dist.init_process_group("gloo")
    r, n = dist.get_rank(), dist.get_world_size()
    assert dist.is_initialized() and dist.get_backend() == "mpi"
    t = lambda a: torch.from_numpy(np.array(a))  # noqa: E731
    ops = {
        dist.ReduceOp.SUM: lambda xs: np.sum(xs, 0),
        dist.ReduceOp.AVG: lambda xs: np.mean(xs, 0),
        dist.ReduceOp.MAX: lambda xs: np.max(xs, 0),
        dist.ReduceOp.MIN: lambda xs: np.min(xs, 0),
        dist.ReduceOp.PRODUCT: lambda xs: np.prod(xs, 0),
    }
    for dtype in (np.float32, np.float64, np.int64):
        for shape in ((5,), (3, 7), (0, 2)):
            xs = [_rank_data(k, shape, dtype) for k in range(n)]
            for op, ref in ops.items():
                if op == dist.ReduceOp.AVG and dtype == np.int64:
                    continue
                x = t(xs[r])
                dist.all_reduce(x, op=op)
                np.testing.assert_allclose(x.numpy(), ref(xs).astype(dtype), rtol=1e-6)
            x = t(xs[r])
            work = dist.all_reduce(x, async_op=True)
            assert work.wait() and work.is_completed()
            np.testing.assert_allclose(x.numpy(), np.sum(xs, 0), rtol=1e-6)
            src = n - 1
            x = t(xs[r])
            dist.broadcast(x, src=src)
            np.testing.assert_array_equal(x.numpy(), xs[src])
            outs = [t(np.zeros(shape, dtype)) for _ in range(n)]
            dist.all_gather(outs, t(xs[r]))
            for k in range(n):
                np.testing.assert_array_equal(outs[k].numpy(), xs[k])
            ins = [_rank_data(r, shape, dtype, seed=1 + k) for k in range(n)]
            out = t(np.zeros(shape, dtype))
            dist.reduce_scatter(out, [t(a) for a in ins])
            want = np.sum([_rank_data(k, shape, dtype, seed=1 + r) for k in range(n)], 0)
            np.testing.assert_allclose(out.numpy(), want, rtol=1e-6)
    # non-contiguous tensor: reduced in a copy, written back through the view
    base = t(_rank_data(r, (4, 6), np.float32))
    view = base.t()
    dist.all_reduce(view)
    want = np.sum([_rank_data(k, (4, 6), np.float32) for k in range(n)], 0)
    np.testing.assert_allclose(base.numpy(), want, rtol=1e-6)
    # tensor variants, reduce, gather, scatter
    big = t(np.zeros((n * 2, 3), np.float32))
    dist.all_gather_into_tensor(big, t(np.full((2, 3), r, np.float32)))
    np.testing.assert_array_equal(big.numpy(), np.repeat(np.arange(n), 6).reshape(n * 2, 3))
    out = t(np.zeros(2, np.float32))
    dist.reduce_scatter_tensor(out, t(np.arange(2 * n, dtype=np.float32) * (r + 1)))
    tri = n * (n + 1) / 2
    np.testing.assert_allclose(out.numpy(), np.arange(2 * r, 2 * r + 2) * tri)
    x = t(np.full(3, r + 1.0))
    dist.reduce(x, dst=1, op=dist.ReduceOp.SUM)
    if r == 1:
        np.testing.assert_allclose(x.numpy(), np.full(3, tri))
    gl = [t(np.zeros(2)) for _ in range(n)] if r == 0 else None
    dist.gather(t(np.full(2, float(r))), gl, dst=0)
    if r == 0:
        assert [g.numpy()[0] for g in gl] == list(range(n))
    x = t(np.zeros(2))
    sl = [t(np.full(2, 10.0 + k)) for k in range(n)] if r == 0 else None
    dist.scatter(x, sl, src=0)
    np.testing.assert_array_equal(x.numpy(), np.full(2, 10.0 + r))
    # objects
    objs = [None] * n
    dist.all_gather_object(objs, {"rank": r, "name": "x" * r})
    assert objs == [{"rank": k, "name": "x" * k} for k in range(n)]
    lst = [r, "mine"] if r == 0 else [None, None]
    dist.broadcast_object_list(lst, src=0)
    assert lst == [0, "mine"]
    # point to point: a ring
    nxt, prv = (r + 1) % n, (r - 1) % n
    buf = t(np.zeros(4, np.float32))
    if r % 2 == 0:
        dist.send(t(np.full(4, r, np.float32)), nxt)
        src = dist.recv(buf, prv)
    else:
        src = dist.recv(buf)
        dist.send(t(np.full(4, r, np.float32)), nxt)
    assert src == prv and (buf.numpy() == prv).all()
    w1 = dist.isend(t(np.full(2, r, np.float32)), nxt, tag=5)
    rb = t(np.zeros(2, np.float32))
    w2 = dist.irecv(rb, prv, tag=5)
    w1.wait()
    w2.wait()
    assert (rb.numpy() == prv).all()
    # a sub-group of the first and last ranks
    sub = dist.new_group([0, n - 1])
    x = t(np.full(2, r + 1.0))
    res = dist.all_reduce(x, group=sub)
    if r in (0, n - 1):
        assert dist.get_rank(sub) == (0 if r == 0 else 1) and dist.get_world_size(sub) == 2
        np.testing.assert_allclose(x.numpy(), np.full(2, 1.0 + n))
    else:
        assert dist.get_rank(sub) == -1 and res is None and (x.numpy() == r + 1).all()
    dist.barrier()
    # bad calls raise on every rank instead of mis-reducing
    for bad, match in (
        (lambda: dist.all_reduce(t(np.zeros(2 + r, np.float32))), "shape"),
        (lambda: dist.all_reduce(t(np.zeros(2, np.float32 if r else np.float64))), "dtype"),
        (lambda: dist.all_reduce(t(np.zeros(2)), op="median"), "ReduceOp"),
        (lambda: dist.broadcast(t(np.zeros(2)), src=n), "src"),
        (lambda: dist.broadcast(t(np.zeros(2)), src=r % 2), "src/dst rank is 0 on rank 0"),
        (
            lambda: dist.all_reduce(t(np.zeros(2))) if r else dist.barrier(),
            "called a different collective",
        ),
        (lambda: dist.all_gather([t(np.zeros(2))], t(np.zeros(2))), "tensor_list"),
        (lambda: dist.init_process_group("gloo"), "twice"),
    ):
        try:
            bad()
        except (ValueError, RuntimeError) as e:
            assert match in str(e), e
        else:
            raise AssertionError(f"no error for {match}")
    if r == 0:
        dist.send(t(np.zeros(3, np.float32)), 1)
    elif r == 1:
        try:
            dist.recv(t(np.zeros(4, np.float32)), 0)
        except ValueError as e:
            assert "shapes differ" in str(e)
        else:
            raise AssertionError("recv of a wrong-sized message did not raise")
    # DistributedSampler takes rank and world size from the process group; shards partition
    from fastnn.utils.data import DistributedSampler

    sampler = DistributedSampler(list(range(11)), seed=5)
    sampler.set_epoch(2)
    shards = [None] * n
    dist.all_gather_object(shards, list(sampler))
    flat = sum(shards, [])
    assert len({len(x) for x in shards}) == 1 and set(flat) == set(range(11))
    assert len(flat) == 11 + (-11) % n
    dist.barrier()
    dist.destroy_process_group()
    assert not dist.is_initialized()
    print(f"OK collectives rank {r}", flush=True)


def _mlp(torch):
    nn = torch.nn
    return nn.Sequential(
        nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 5)
    )


def _cnn(torch):
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(16 * 2 * 2, 5),
    )


def _params(m):
    return [p.detach().numpy().copy() for p in m.parameters()]


def case_ddp():
    import fastnn as torch
    import fastnn.distributed as dist
    from fastnn.nn.parallel import DistributedDataParallel as DDP

    dist.init_process_group("gloo")
    r, n = dist.get_rank(), dist.get_world_size()
    F = torch.nn.functional
    B, steps = 6, 3
    for make, xshape, cap, thread in (
        (_mlp, (20,), None, True),
        (_mlp, (20,), 0.004, True),  # 4 KiB buckets: several buckets in flight
        (_mlp, (20,), 0.004, False),  # allreduces tested from the gradient hooks only
        (_cnn, (3, 8, 8), None, True),
    ):
        DDP.progress_thread = thread
        torch.manual_seed(100)
        ref = make(torch)
        torch.manual_seed(100 + r)  # different on every rank: DDP must broadcast rank 0's
        model = DDP(make(torch), bucket_cap_mb=cap)
        for a, b in zip(_params(ref), _params(model.module)):
            np.testing.assert_array_equal(a, b)
        opt_ref = torch.optim.SGD(ref.parameters(), lr=0.1, momentum=0.9)
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        rng = np.random.default_rng(7)
        for _ in range(steps):
            x = torch.from_numpy(rng.standard_normal((B * n, *xshape)).astype(np.float32))
            y = torch.from_numpy(rng.integers(0, 5, B * n))
            opt_ref.zero_grad()
            F.cross_entropy(ref(x), y).backward()
            opt_ref.step()
            opt.zero_grad()
            shard = slice(r * B, (r + 1) * B)
            F.cross_entropy(model(x[shard]), y[shard]).backward()
            opt.step()
        for a, b in zip(_params(ref), _params(model.module)):
            np.testing.assert_allclose(b, a, rtol=2e-5, atol=2e-6)
        if cap is not None:
            assert model.stats["buckets"] > 2, model.stats
        assert model.stats["steps"] == steps
    DDP.progress_thread = True
    # no_sync: two micro-batches accumulated locally, one allreduce == the whole batch
    torch.manual_seed(1)
    ref = _mlp(torch)
    torch.manual_seed(1)
    model = DDP(_mlp(torch))
    rng = np.random.default_rng(3)
    x = torch.from_numpy(rng.standard_normal((4 * n, 20)).astype(np.float32))
    y = torch.from_numpy(rng.integers(0, 5, 4 * n))
    F.cross_entropy(ref(x), y).backward()
    mine = [slice(r * 4, r * 4 + 2), slice(r * 4 + 2, r * 4 + 4)]
    xr = torch.cat([x[mine[0]], x[mine[1]]])  # this rank's 4 rows, as 2 micro-batches
    yr = torch.cat([y[mine[0]], y[mine[1]]])
    with model.no_sync():
        (F.cross_entropy(model(xr[:2]), yr[:2]) / 2).backward()
    local = [p.grad.numpy().copy() for p in model.parameters()]
    (F.cross_entropy(model(xr[2:]), yr[2:]) / 2).backward()
    for p, g in zip(ref.parameters(), model.parameters()):
        np.testing.assert_allclose(g.grad.numpy(), p.grad.numpy(), rtol=2e-5, atol=1e-6)
    if n > 1:  # inside no_sync nothing was averaged: the local gradient differs from the global
        assert any(not np.allclose(a, p.grad.numpy()) for a, p in zip(local, ref.parameters()))
    # find_unused_parameters: a head the loss never uses keeps grad None; without it, error
    nn = torch.nn

    class TwoHeads(nn.Module):
        def __init__(self):
            super().__init__()
            self.body, self.used, self.unused = nn.Linear(4, 4), nn.Linear(4, 2), nn.Linear(4, 2)

        def forward(self, x):
            return self.used(torch.relu(self.body(x)))

    m = DDP(TwoHeads(), find_unused_parameters=True)
    for _ in range(2):
        m(torch.randn(3, 4)).sum().backward()
    assert m.module.unused.weight.grad is None and m.module.used.weight.grad is not None
    m = DDP(TwoHeads())
    m(torch.randn(3, 4)).sum().backward()
    try:
        m(torch.randn(3, 4))
    except RuntimeError as e:
        assert "find_unused_parameters=True" in str(e)
    else:
        raise AssertionError("an unused parameter without find_unused_parameters did not raise")
    # buffers follow rank 0 at every forward (broadcast_buffers=True)
    bn = nn.BatchNorm1d(4)
    m = DDP(bn)
    bn.running_mean.fill_(float(r))
    m.eval()
    m(torch.randn(2, 4))
    np.testing.assert_array_equal(bn.running_mean.numpy(), np.zeros(4))
    # state_dict keys carry the "module." prefix, as torch's
    assert next(iter(DDP(_mlp(torch)).state_dict())).startswith("module.")
    try:
        DDP(_mlp(torch), device_ids=[0])
    except ValueError as e:
        assert "device_ids" in str(e)
    else:
        raise AssertionError("device_ids on a CPU module did not raise")
    dist.destroy_process_group()
    print(f"OK ddp rank {r}", flush=True)


def case_plain():
    import fastnn as torch
    import fastnn.distributed as dist

    assert "RANK" not in os.environ  # plain mpiexec: ranks come from MPI
    dist.init_process_group(backend="mpi")
    r = dist.get_rank()
    x = torch.ones(3) * r
    dist.all_reduce(x)
    assert (x.numpy() == sum(range(dist.get_world_size()))).all()
    print(f"OK plain rank {r}", flush=True)


def case_fault(kind):
    from datetime import timedelta

    import fastnn as torch
    import fastnn.distributed as dist

    dist.init_process_group("gloo", timeout=timedelta(seconds=2))
    r = dist.get_rank()
    dist.barrier()
    if r == 1:
        if kind == "raise":
            raise RuntimeError("deliberate failure")
        if kind == "exit":
            sys.exit(3)
        if kind == "die":
            os.kill(os.getpid(), 9)
        if kind == "hang":
            time.sleep(100)
    dist.all_reduce(torch.ones(3))
    print(f"OK fault rank {r}", flush=True)


if __name__ == "__main__":
    case = sys.argv[1]
    if case == "fault":
        case_fault(sys.argv[2])
    else:
        globals()[f"case_{case}"]()
