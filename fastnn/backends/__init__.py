"""Backend selection.

A backend is a package in this folder (``reference``, ``numba``, ``cpp``, ``cuda``), imported
below and listed in ``_BACKENDS``: adding one is one folder and one name there. Its ``__init__``
exposes ``NAME``, ``DEVICE`` ("cpu" or "cuda"), ``PRIORITY`` (higher wins on its device),
``DTYPES``, ``VERSIONS`` (see :mod:`fastnn.backends.versions`), ``available() -> (bool, reason)``
and functions named exactly as the kernels in :mod:`fastnn.backends.contract`.

Selection for a kernel call: the backend named by ``use(name)`` (innermost) or ``FASTNN_BACKEND``,
else the best available backend for the arrays' device. Asking for an unavailable backend raises
:class:`BackendUnavailable` with its reason -- never a silent downgrade. A backend that is available
but lacks a kernel falls back to ``reference`` for that kernel; ``table()`` shows every such cell.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import warnings

from .._threads import apply_to_this_thread as _apply_threads
from .._util import simulated as _simulated
from . import cpp, cuda, numba, reference
from .contract import KERNEL_FAMILIES, KERNELS
from .versions import Version, Versions

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
    "use_version",
    "versions",
    "Version",
    "Versions",
]


class BackendUnavailable(RuntimeError):
    """Raised when a backend is requested explicitly but cannot run here."""


_BACKENDS = (cpp, numba, reference, cuda)
_modules: dict = {m.NAME: m for m in _BACKENDS}
_requested: contextvars.ContextVar = contextvars.ContextVar("fastnn_backend", default=None)
# (backend, kernel) -> the version's function, set by use_version(); None (the fast path) unless
# a block asked for one
_versions: contextvars.ContextVar = contextvars.ContextVar("fastnn_versions", default=None)
_warned: set = set()


def names() -> list[str]:
    """All backend names, available or not, best first."""
    mods = sorted(_modules.values(), key=lambda m: (m.DEVICE != "cpu", -m.PRIORITY))
    return [m.NAME for m in mods]


def available(name: str) -> tuple[bool, str]:
    """(is the backend usable here, why not / what it is)."""
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
    _apply_threads()
    device, dtype = _device_of(arrays), _dtype_of(arrays)
    name = backend or current(device, dtype)
    chosen = _versions.get()
    if chosen and (name, kernel) in chosen:
        return chosen[(name, kernel)], name
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


def versions(name: str) -> dict:
    """``{kernel: Versions}`` registered by backend ``name`` (empty when it keeps one each)."""
    if name not in _modules:
        raise ValueError(f"no backend named {name!r}; known: {', '.join(names())}")
    return dict(getattr(_modules[name], "VERSIONS", {}))


@contextlib.contextmanager
def use_version(backend: str, kernel: str, version: str):
    """Run the enclosed ``kernel`` calls that go to ``backend`` on one of its registered versions
    (``"auto"``: its rule). Calls on other backends are unaffected.

    Example::

        with fastnn.backends.use_version("cpp", "conv2d_forward", "v1"):
            y = fastnn.ops.conv2d(x, w)          # on the cpp backend: the version 1 lowering

    Raises ValueError at once if the backend registers no such version.
    """
    if kernel not in KERNELS:
        raise ValueError(f"kernel: unknown kernel {kernel!r}; kernels: {', '.join(KERNELS)}")
    mod = get_backend(backend)
    if version == "auto":
        fn = getattr(mod, kernel)
    else:
        registered = versions(backend).get(kernel)
        if registered is None or version not in registered.choices:
            have = ", ".join(registered.choices) if registered else "none"
            raise ValueError(
                f"version: backend {backend!r} has no version {version!r} of {kernel} "
                f"(registered: {have}; 'auto' is its rule)"
            )
        fn = registered.choices[version].fn
    token = _versions.set({**(_versions.get() or {}), (backend, kernel): fn})
    try:
        yield
    finally:
        _versions.reset(token)


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
    """``table()`` as aligned text, then each backend's registered kernel versions."""
    rows = table()
    cols = ["kernel"] + names()
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in cols}
    lines = ["  ".join(c.ljust(widths[c]) for c in cols)]
    lines += ["  ".join(str(r[c]).ljust(widths[c]) for c in cols) for r in rows]
    for name in names():
        for kernel, reg in versions(name).items():
            lines.append(f"{name} {kernel}: auto = {reg.rule}")
            lines += [f"    {v}: {ver.idea}" for v, ver in reg.choices.items()]
    return "\n".join(lines)
