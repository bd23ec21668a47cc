"""What `python -m fastnn info` prints: version, backends (and why not), ISA, threads, OpenMP
runtime, GPU and CUDA version."""

import os
import platform


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def collect() -> dict:
    """Machine and build facts as a dict (also embedded in benchmark JSON)."""
    import numba
    import numpy

    from . import __version__, backends, get_num_threads

    info = {
        "fastnn": __version__,
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "numba": numba.__version__,
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "threads": get_num_threads(),
        "backends": {
            n: dict(zip(("available", "reason"), backends.available(n))) for n in backends.names()
        },
        "cuda_simulator": os.environ.get("NUMBA_ENABLE_CUDASIM", "0") == "1",
    }
    try:
        from .backends.cpp._loader import built_levels, load

        mod = load()
        info["isa"] = mod.ISA
        info["isa_built"] = built_levels()
        info["isa_cpu"] = [lvl for lvl in ("baseline", "avx2", "avx512") if mod.cpu_supports(lvl)]
    except Exception as exc:
        info["isa"] = f"unavailable: {exc}"
    info["openmp"] = openmp_runtimes()  # after load(): the extension is what brings libgomp in
    info["gpu"] = _gpu()
    return info


def openmp_runtimes() -> list[dict]:
    """The OpenMP runtimes loaded in this process, as threadpoolctl finds them.

    A wheel ships libgomp as ``fastnn/libgomp.so.1`` with that soname (as torch ships
    ``torch/lib/libgomp.so.1``), so the dynamic loader shares one copy with torch in either import
    order; more than one entry here means two thread pools that can oversubscribe the cores.
    """
    from threadpoolctl import threadpool_info

    here = os.path.realpath(os.path.dirname(os.path.abspath(__file__)))
    ours = (here, here + ".libs")  # ours, or auditwheel's grafted copy (fastnn.libs/)
    found = []
    for lib in threadpool_info():
        if lib.get("user_api") != "openmp":
            continue
        path = os.path.realpath(lib["filepath"])
        found.append(
            {
                "runtime": lib.get("prefix"),
                "path": path,
                "bundled": os.path.dirname(path) in ours,
                "threads": lib.get("num_threads"),
            }
        )
    return found


def _openmp_line(runtimes: list[dict]) -> str:
    if not runtimes:
        return "none loaded (the C++ extension is unavailable)"
    parts = [
        f"{r['runtime']} at {r['path']} ({'bundled with fastnn, ' if r['bundled'] else ''}"
        f"{r['threads']} threads)"
        for r in runtimes
    ]
    warn = f"  WARNING: {len(runtimes)} OpenMP runtimes in one process" if len(runtimes) > 1 else ""
    return "; ".join(parts) + warn


def _gpu() -> str:
    if os.environ.get("NUMBA_ENABLE_CUDASIM", "0") == "1":
        return "none (CUDA simulator on)"
    try:
        from numba import cuda

        if not cuda.is_available():
            return "none"
        dev = cuda.get_current_device()
        name = dev.name.decode() if isinstance(dev.name, bytes) else str(dev.name)
        cc = ".".join(map(str, dev.compute_capability))
    except Exception as exc:
        return f"none ({type(exc).__name__})"
    return f"{name} (compute {cc}); {_cuda_versions(cuda)}"


def _cuda_versions(cuda) -> str:
    """CUDA driver and runtime versions, and CuPy's, each 'unknown' if it cannot be read."""
    parts = []
    try:
        from numba.cuda.cudadrv.driver import driver

        parts.append("CUDA driver " + ".".join(map(str, driver.get_version())))
    except Exception:
        parts.append("CUDA driver unknown")
    try:
        parts.append("runtime " + ".".join(map(str, cuda.runtime.get_version())))
    except Exception:
        parts.append("runtime unknown")
    try:
        import cupy

        parts.append(f"CuPy {cupy.__version__}")
    except Exception as exc:
        parts.append(f"CuPy missing ({type(exc).__name__}; fastnn.cuda tensors need it)")
    return ", ".join(parts)


def _malloc_status() -> str:
    from . import _malloc

    return _malloc.status()


def report() -> str:
    from . import backends

    i = collect()
    lines = [
        f"fastnn {i['fastnn']}  (Python {i['python']}, NumPy {i['numpy']}, Numba {i['numba']})",
        f"CPU: {i['cpu']}, {i['cores']} cores; threads: {i['threads']}",
        f"C++ ISA level: {i['isa']}"
        + (
            f"  (built: {', '.join(i['isa_built'])}; CPU supports: {', '.join(i['isa_cpu'])})"
            if "isa_built" in i
            else ""
        ),
        f"OpenMP: {_openmp_line(i['openmp'])}",
        f"malloc: {_malloc_status()}",
        f"GPU: {i['gpu']}; CUDA simulator: {'on' if i['cuda_simulator'] else 'off'}",
        "",
        "Backends:",
    ]
    for name, b in i["backends"].items():
        lines.append(
            f"  {name:10s} {'available' if b['available'] else 'UNAVAILABLE'}: {b['reason']}"
        )
    lines += [
        "",
        "Kernels (native = own kernel, fallback = uses reference):",
        backends.format_table(),
    ]
    return "\n".join(lines)
