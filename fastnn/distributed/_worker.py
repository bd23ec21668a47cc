"""Per-rank entry of ``fastnn.distributed.run``: set torchrun's variables from the MPI
launcher's, then run the user's script (or ``-m module``) as ``__main__``."""

from __future__ import annotations

import os
import runpy
import sys

# (variable, MPICH hydra's, Open MPI's)
_FROM_LAUNCHER = (
    ("RANK", "PMI_RANK", "OMPI_COMM_WORLD_RANK"),
    ("WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE"),
    ("LOCAL_RANK", "MPI_LOCALRANKID", "OMPI_COMM_WORLD_LOCAL_RANK"),
    ("LOCAL_WORLD_SIZE", "MPI_LOCALNRANKS", "OMPI_COMM_WORLD_LOCAL_SIZE"),
)


def set_rank_env() -> None:
    missing = False
    for name, *sources in _FROM_LAUNCHER:
        value = next((os.environ[s] for s in sources if s in os.environ), None)
        if value is None:
            missing = True
        else:
            os.environ[name] = value
    if missing:  # another MPI: ask MPI itself (initialises it; the script's init reuses it)
        from . import collectives

        comm = collectives._import_mpi().COMM_WORLD
        local = comm.Split_type(collectives._State.mpi.COMM_TYPE_SHARED)
        os.environ.update(
            RANK=str(comm.Get_rank()),
            WORLD_SIZE=str(comm.Get_size()),
            LOCAL_RANK=str(local.Get_rank()),
            LOCAL_WORLD_SIZE=str(local.Get_size()),
        )
        local.Free()
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ.setdefault("MASTER_PORT", "29500")


def main() -> None:
    argv = sys.argv[1:]
    module = bool(argv) and argv[0] == "-m"
    if module:
        argv = argv[1:]
    if not argv:
        raise SystemExit("usage: python -m fastnn.distributed._worker [-m] script [args]")
    set_rank_env()
    sys.argv = argv
    try:
        if module:
            runpy.run_module(argv[0], run_name="__main__", alter_sys=True)
        else:
            sys.path.insert(0, os.path.dirname(os.path.abspath(argv[0])))
            runpy.run_path(argv[0], run_name="__main__")
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        if code:  # skip MPI_Finalize (it would wait for the others): mpiexec ends the job now
            if not isinstance(e.code, int):
                print(e.code, file=sys.stderr)
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
        raise


if __name__ == "__main__":
    main()
