"""``python -m fastnn.distributed.run``: torchrun's role, over ``mpiexec``.

    python -m fastnn.distributed.run --nproc-per-node 4 train.py --backend=gloo
    python -m fastnn.distributed.run --hostfile hosts --nproc-per-node 8 train.py   # 2+ machines

Starts ``nproc-per-node`` processes per node with the MPI library's ``mpiexec`` (the one installed
beside this Python by ``pip install "fastnn[distributed]"``, else the first on PATH). Each process
runs ``script.py ARGS`` with torchrun's variables set from MPI's: RANK, WORLD_SIZE, LOCAL_RANK,
LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT. On one node the ranks talk over shared memory and
loopback only; with ``--hostfile`` (MPI's host file: one host per line) they use the network.
When one rank raises or dies, mpiexec ends the others and this command exits non-zero.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys

# Single node: keep every socket the MPI library opens on the loopback interface (MPICH's ch4
# with libfabric's tcp provider; same-node messages go through shared memory anyway).
LOOPBACK_ENV = {"MPIR_CVAR_CH4_NETMOD": "ofi", "FI_PROVIDER": "tcp", "FI_TCP_IFACE": "lo"}


def find_mpiexec(explicit: str | None = None) -> str:
    """The mpiexec to use: ``explicit``, else the one beside this Python, else PATH's."""
    if explicit:
        return explicit
    here = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    if os.path.exists(here):
        return here
    found = shutil.which("mpiexec") or shutil.which("mpirun")
    if found is None:
        raise SystemExit(
            'fastnn.distributed.run: no mpiexec found; pip install "fastnn[distributed]" (mpi4py '
            "and the MPICH wheel) or put an MPI library's mpiexec on PATH"
        )
    return found


def _is_open_mpi(mpiexec: str) -> bool:
    try:
        out = subprocess.run([mpiexec, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return "open mpi" in (out.stdout + out.stderr).lower()


def _nproc(value: str) -> int:
    if value in ("auto", "cpu"):
        return os.cpu_count() or 1
    n = int(value)
    if n < 1:
        raise argparse.ArgumentTypeError(f"--nproc-per-node: expected >= 1, got {n}")
    return n


def _parser():
    p = argparse.ArgumentParser(
        prog="python -m fastnn.distributed.run",
        description="Run a training script on N ranks with mpiexec (torchrun's interface).",
    )
    p.add_argument("--nproc-per-node", "--nproc_per_node", type=_nproc, default=1)
    p.add_argument("--nnodes", type=int, default=None, help="nodes (default: hosts in --hostfile)")
    p.add_argument("--hostfile", default=None, help="MPI host file for several machines")
    p.add_argument("--standalone", action="store_true", help="accepted for torchrun; the default")
    p.add_argument("--master-addr", "--master_addr", default="127.0.0.1")
    p.add_argument("--master-port", "--master_port", type=int, default=29500)
    p.add_argument("--node-rank", "--node_rank", type=int, default=None)
    p.add_argument("--mpiexec", default=None, help="path of mpiexec (default: beside python)")
    p.add_argument("--mpiexec-args", default="", help="extra arguments for mpiexec")
    p.add_argument("-m", "--module", action="store_true", help="run script as a module")
    p.add_argument("script")
    p.add_argument("script_args", nargs=argparse.REMAINDER)
    return p


def build_command(args) -> tuple[list, dict]:
    """The mpiexec command line and environment for parsed ``args``."""
    if args.node_rank not in (None, 0):
        raise SystemExit(
            "--node-rank: with MPI one command on the first machine starts every node's ranks; "
            "list the machines in --hostfile instead of running this on each node"
        )
    mpiexec = find_mpiexec(args.mpiexec)
    ompi = _is_open_mpi(mpiexec)
    env = dict(os.environ)
    env.setdefault("MASTER_ADDR", args.master_addr)
    env.setdefault("MASTER_PORT", str(args.master_port))
    if args.nproc_per_node > 1 and "OMP_NUM_THREADS" not in env:
        env["OMP_NUM_THREADS"] = "1"  # as torchrun: one thread per rank unless told otherwise
    ppn = args.nproc_per_node
    cmd = [mpiexec]
    if args.hostfile:
        with open(args.hostfile) as f:
            hosts = [ln.split()[0] for ln in f if ln.strip() and not ln.lstrip().startswith("#")]
        nnodes = args.nnodes or len(hosts)
        cmd += (
            ["--hostfile", args.hostfile, "--npernode", str(ppn)]
            if ompi
            else ["-f", args.hostfile, "-ppn", str(ppn)]
        )
    else:
        if args.nnodes not in (None, 1):
            raise SystemExit("--nnodes: several nodes need --hostfile (MPI's list of machines)")
        nnodes = 1
        cmd += ["--host", f"localhost:{ppn}"] if ompi else ["-hosts", "localhost"]
        if not ompi:
            for k, v in LOOPBACK_ENV.items():
                env.setdefault(k, v)
    if ompi and os.geteuid() == 0:
        cmd.append("--allow-run-as-root")
    cmd += ["-n", str(ppn * nnodes)]
    cmd += args.mpiexec_args.split()
    cmd += [sys.executable, "-m", "fastnn.distributed._worker"]
    cmd += (["-m"] if args.module else []) + [args.script, *args.script_args]
    return cmd, env


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    cmd, env = build_command(args)
    proc = subprocess.Popen(cmd, env=env)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        return proc.wait()


if __name__ == "__main__":
    sys.exit(main())
