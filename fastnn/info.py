"""What `python -m fastnn info` prints: version, backends (and why not), ISA, threads, GPU."""

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
    info["gpu"] = _gpu()
    return info


def _gpu() -> str:
    if os.environ.get("NUMBA_ENABLE_CUDASIM", "0") == "1":
        return "none (CUDA simulator on)"
    try:
        from numba import cuda

        if not cuda.is_available():
            return "none"
        name = cuda.get_current_device().name
        return name.decode() if isinstance(name, bytes) else str(name)
    except Exception as exc:
        return f"none ({type(exc).__name__})"


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
