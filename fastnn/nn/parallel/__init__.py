"""fastnn.nn.parallel: ``DistributedDataParallel`` over fastnn.distributed (MPI)."""

from .distributed import DistributedDataParallel

DDP = DistributedDataParallel

__all__ = ["DistributedDataParallel"]
