"""Machine facts for the report: fastnn.info.collect() plus what a benchmark reader needs to
trust or discount a figure (CPU flags, the BLAS kernel NumPy uses and the environment that
chose it, PyTorch/CuPy versions and threads, load average)."""

from __future__ import annotations

import datetime
import os
import platform

from .specs.base import optional

BLAS_ENV = (
    "OPENBLAS_CORETYPE",
    "OPENBLAS_L2_SIZE",
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "FASTNN_BACKEND",
    "FASTNN_CPU_CAPABILITY",
    "NUMBA_NUM_THREADS",
)
SIMD_FLAGS = (
    "sse4_2",
    "avx",
    "avx2",
    "fma",
    "avx512f",
    "avx512bw",
    "avx512vl",
    "avx512dq",
    "avx512_bf16",
    "avx512_vnni",
    "amx_tile",
)


def cpu_flags() -> list:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return line.split(":", 1)[1].split()
    except OSError:
        pass
    return []


def blas_info() -> list:
    """threadpoolctl's view of the BLAS libraries loaded (OpenBLAS's kernel "architecture")."""
    try:
        import numpy  # noqa: F401  (loads OpenBLAS)
        from threadpoolctl import threadpool_info

        return [{k: v for k, v in d.items() if k != "filepath"} for d in threadpool_info()]
    except Exception as exc:
        return [{"error": str(exc)}]


def collect() -> dict:
    from ..info import collect as fastnn_info

    info = fastnn_info()
    flags = cpu_flags()
    info["cpu_flags"] = flags
    info["simd"] = [f for f in SIMD_FLAGS if f in flags]
    info["platform"] = platform.platform()
    info["date"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    info["env"] = {k: os.environ[k] for k in BLAS_ENV if k in os.environ}
    info["blas"] = blas_info()
    info["loadavg"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    torch, why = optional("torch")
    info["torch"] = (
        {"version": torch.__version__, "threads": torch.get_num_threads()}
        if torch
        else {"missing": why}
    )
    if info.get("gpu", "none").startswith("none"):
        info["cupy"] = {"missing": "no GPU"}
    else:  # pragma: no cover - needs a GPU
        cupy, why = optional("cupy")
        info["cupy"] = {"version": cupy.__version__} if cupy else {"missing": why}
    return info


def blas_line(info: dict) -> str:
    """e.g. "OpenBLAS 0.3.31 (kernel SkylakeX, 2 threads); OPENBLAS_CORETYPE unset"."""
    parts = []
    for d in info.get("blas", []):
        if d.get("user_api") == "blas":
            parts.append(
                f"{d.get('internal_api', '?')} {d.get('version', '?')} "
                f"(kernel {d.get('architecture', '?')}, "
                f"{d.get('num_threads', '?')} threads)"
            )
    env = info.get("env", {})
    for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        parts.append(f"{k}={env[k]}" if k in env else f"{k} unset")
    return "; ".join(parts)


def machine_line(info: dict) -> str:
    """One line: CPU, cores, SIMD, threads, ISA, versions, BLAS, GPU."""
    t = info.get("torch", {})
    torch = (
        f"PyTorch {t['version']} ({t['threads']} threads)" if "version" in t else "PyTorch missing"
    )
    simd = " ".join(info.get("simd", [])) or "no SIMD flags"
    return (
        f"{info.get('cpu')}, {info.get('cores')} cores ({simd}); "
        f"fastnn {info.get('fastnn')} threads {info.get('threads')}, "
        f"C++ ISA {info.get('isa')}; "
        f"Python {info.get('python')}, NumPy {info.get('numpy')}, Numba {info.get('numba')}, "
        f"{torch}; BLAS: {blas_line(info)}; GPU: {info.get('gpu')}"
    )
