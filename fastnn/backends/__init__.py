"""Backend discovery and selection.

A backend is a package in this folder (``reference``, ``numba_cpu``, ``cpp``, ``cuda``; adding one
touches nothing else). Its ``__init__`` exposes ``NAME``, ``DEVICE`` ("cpu" or "cuda"),
``PRIORITY`` (higher wins on its device), ``available() -> (bool, reason)`` and functions named
exactly as the kernels in :mod:`fastnn.backends.contract`.

Selection for a kernel call: the backend named by ``use(name)`` (innermost) or ``FASTNN_BACKEND``,
else the best available backend for the arrays' device. Asking for an unavailable backend raises
:class:`BackendUnavailable` with its reason -- never a silent downgrade. A backend that is available
but lacks a kernel falls back to ``reference`` for that kernel; ``table()`` shows every such cell.
"""

from __future__ import annotations

import contextlib
import contextvars
import importlib
import os
import pkgutil
import warnings

from .contract import KERNEL_FAMILIES, KERNELS

__all__ = [
    "BackendUnavailable",
    "KERNELS",
    "KERNEL_FAMILIES",
    "available",
    "current",
    "get",
    "get_backend",
    "names",
    "table",
    "use",
]


class BackendUnavailable(RuntimeError):
    """Raised when a backend is requested explicitly but cannot run here."""


_modules: dict = {}
_errors: dict = {}
_requested: contextvars.ContextVar = contextvars.ContextVar("fastnn_backend", default=None)
_warned: set = set()


def _discover():
    if _modules or _errors:
        return
    for info in pkgutil.iter_modules(__path__):
        if not info.ispkg:
            continue
        try:
            mod = importlib.import_module(f"{__name__}.{info.name}")
        except Exception as exc:  # a backend that cannot even import is reported, not hidden
            _errors[info.name] = f"import failed: {type(exc).__name__}: {exc}"
            continue
        _modules[mod.NAME] = mod


def names() -> list[str]:
    """All backend names found, available or not, best first."""
    _discover()
    mods = sorted(_modules.values(), key=lambda m: (m.DEVICE != "cpu", -m.PRIORITY))
    return [m.NAME for m in mods] + sorted(_errors)


def available(name: str) -> tuple[bool, str]:
    """(is the backend usable here, why not / what it is)."""
    _discover()
    if name in _errors:
        return False, _errors[name]
    if name not in _modules:
        return False, f"no backend named {name!r}; known: {', '.join(names())}"
    return _available(_modules[name])


_avail_cache: dict = {}


def _available(mod) -> tuple[bool, str]:
    """``mod.available()``, asked once per process: every kernel call selects a backend, and
    asking each backend again (imports, driver queries) cost 10-19 us per call here (0.5-3 us
    cached; /tmp timing, 4 backends). Keyed by the
    function, so a replaced (monkeypatched) ``available`` is asked afresh."""
    fn = mod.available
    res = _avail_cache.get(fn)
    if res is None:
        res = _avail_cache[fn] = fn()
    return res


def get_backend(name: str):
    """The backend module ``name``; raises BackendUnavailable (with the reason) if it cannot run."""
    ok, reason = available(name)
    if not ok:
        raise BackendUnavailable(f"fastnn backend {name!r} is unavailable: {reason}")
    return _modules[name]


def _device_of(arrays) -> str:
    for a in arrays:
        if a is None:
            continue
        if hasattr(a, "__cuda_array_interface__") and not hasattr(a, "__array_interface__"):
            return "cuda"
    return "cpu"


_dtype_names: dict = {}


def _dtype_of(arrays) -> str | None:
    for a in arrays:
        if a is not None:
            dt = getattr(a, "dtype", None)
            if dt is None:
                continue
            name = _dtype_names.get(dt)  # str(dtype) costs ~1 us per call; a dict hit ~0.05 us
            if name is None:
                name = _dtype_names[dt] = str(dt)
            return name
    return None


# FASTNN_BACKEND is read once, at import (reading os.environ costs microseconds per kernel
# call); ``use()`` switches at run time.
_ENV_BACKEND = os.environ.get("FASTNN_BACKEND") or None
_SIMULATED = os.environ.get("NUMBA_ENABLE_CUDASIM", "0") == "1"
_best_cache: dict = {}
# (kernel, backend, device, dtype) -> (fn, module): a validated selection, re-checked only by
# identity of the module's attribute (so a backend patched at run time is looked at again).
_get_cache: dict = {}


def current(device: str = "cpu", dtype: str | None = None) -> str:
    """Name of the backend a kernel call on ``device`` with ``dtype`` arrays would pick now.

    An explicit choice (``use`` or ``FASTNN_BACKEND``) wins; otherwise the highest-priority
    available backend for the device that supports the dtype (float64 skips cpp and cuda).
    """
    req = _requested.get() or _ENV_BACKEND
    if req:
        return req
    key = (device, dtype)
    hit = _best_cache.get(key)
    if hit is not None:
        return hit
    _discover()
    best = [
        m
        for m in _modules.values()
        if m.DEVICE == device and (dtype is None or dtype in m.DTYPES) and _available(m)[0]
    ]
    if not best:
        if device == "cuda":
            raise BackendUnavailable(
                f"CUDA arrays ({dtype}) were given but no cuda backend can run them: "
                + available("cuda")[1]
            )
        return "reference"
    name = _best_cache[key] = max(best, key=lambda m: m.PRIORITY).NAME
    return name


def _has_native(mod, kernel: str) -> bool:
    return callable(getattr(mod, kernel, None))


def get(kernel: str, *arrays, backend: str | None = None):
    """The function implementing ``kernel`` for these arrays, and the backend name that runs it.

    Returns ``(fn, name)``; ``name`` is "reference" when the chosen backend lacks the kernel.
    Raises BackendUnavailable for an unavailable backend, TypeError for a dtype it cannot run.
    """
    device, dtype = _device_of(arrays), _dtype_of(arrays)
    name = backend or current(device, dtype)
    fast = _get_cache.get((kernel, name, device, dtype))
    if (
        fast is not None
        and getattr(fast[1], kernel, None) is fast[0]
        and fast[1].available is fast[2]
    ):
        return fast[0], name
    if kernel not in KERNELS:
        raise ValueError(f"unknown kernel {kernel!r}; kernels: {', '.join(KERNELS)}")
    mod = get_backend(name)
    if mod.DEVICE != device and not (mod.DEVICE == "cuda" and _simulated()):
        raise ValueError(
            f"backend {name!r} runs on {mod.DEVICE} but the arrays are on {device}; "
            f"move them or choose a {device} backend"
        )
    if dtype is not None and dtype not in mod.DTYPES:
        raise TypeError(
            f"backend {name!r} does not support dtype {dtype} (it supports "
            f"{', '.join(mod.DTYPES)}); use float32 or another backend"
        )
    if _has_native(mod, kernel):
        fn = getattr(mod, kernel)
        if _available(mod)[0]:
            _get_cache[(kernel, name, device, dtype)] = (fn, mod, mod.available)
        return fn, name
    if (name, kernel) not in _warned:
        _warned.add((name, kernel))
        warnings.warn(
            f"fastnn: backend {name!r} has no {kernel} kernel; using the reference implementation",
            RuntimeWarning,
            stacklevel=3,
        )
    return getattr(get_backend("reference"), kernel), "reference"


def _simulated() -> bool:
    return _SIMULATED


@contextlib.contextmanager
def use(name: str):
    """Run the enclosed kernel calls on backend ``name``; raises at once if it is unavailable.

    Example::

        with fastnn.backends.use("numba"):
            y = fastnn.ops.gemm(a, b)
    """
    get_backend(name)
    token = _requested.set(name)
    try:
        yield
    finally:
        _requested.reset(token)


def table() -> list[dict]:
    """Rows of kernel x backend: "native", "fallback" (to reference) or "unavailable"."""
    rows = []
    for kernel in KERNELS:
        row = {"kernel": kernel}
        for name in names():
            ok, reason = available(name)
            if not ok:
                row[name] = "unavailable"
            else:
                native = _has_native(_modules[name], kernel)
                row[name] = (
                    "native" if native else ("missing" if name == "reference" else "fallback")
                )
        rows.append(row)
    return rows


def format_table() -> str:
    """``table()`` as aligned text."""
    rows = table()
    cols = ["kernel"] + names()
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in cols}
    lines = ["  ".join(c.ljust(widths[c]) for c in cols)]
    lines += ["  ".join(str(r[c]).ljust(widths[c]) for c in cols) for r in rows]
    return "\n".join(lines)
