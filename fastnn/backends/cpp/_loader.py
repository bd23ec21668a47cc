"""Loads the C++ extension built for the best ISA level this CPU runs.

setup.py builds fastnn._C_baseline, _C_avx2 and _C_avx512 from the same sources with different
flags. FASTNN_CPU_CAPABILITY=baseline|avx2|avx512 forces a level (an error if the CPU lacks it or
that variant was not built). The chosen module is also importable as ``fastnn._C``.
"""

import importlib
import importlib.util
import os
import sys

LEVELS = ("avx512", "avx2", "baseline")
_state = {}


class CapabilityError(RuntimeError):
    """FASTNN_CPU_CAPABILITY asks for a level this CPU or this build cannot provide."""


def _import(level):
    return importlib.import_module(f"fastnn._C_{level}")


def load():
    """The chosen extension module (cached). Raises ImportError/CapabilityError with the reason."""
    if "module" in _state:
        return _state["module"]
    if "error" in _state:
        raise _state["error"]
    try:
        mod = _choose()
    except Exception as exc:
        _state["error"] = exc
        raise
    _state["module"] = mod
    sys.modules["fastnn._C"] = mod
    return mod


def _choose():
    try:
        base = _import("baseline")
    except ImportError as exc:
        raise ImportError(
            f"the C++ extension fastnn._C_baseline is not built ({exc}); "
            "install fastnn with pip (it compiles csrc/) or run "
            "`python setup.py build_ext --inplace`"
        ) from exc
    forced = os.environ.get("FASTNN_CPU_CAPABILITY", "").strip().lower()
    if forced:
        if forced not in LEVELS:
            raise CapabilityError(
                f"FASTNN_CPU_CAPABILITY={forced!r}: expected one of {', '.join(LEVELS)}"
            )
        if not base.cpu_supports(forced):
            raise CapabilityError(f"FASTNN_CPU_CAPABILITY={forced!r}: this CPU does not support it")
        try:
            return _import(forced)
        except ImportError as exc:
            raise CapabilityError(
                f"FASTNN_CPU_CAPABILITY={forced!r}: variant not built in this install ({exc})"
            ) from exc
    for level in LEVELS:
        if not base.cpu_supports(level) or not _built(level):
            continue  # a development build may have fewer variants; info() lists them
        try:
            return _import(level)
        except ImportError as exc:
            # present but broken (e.g. a build that mixed up variants' objects): say so rather
            # than run a slower variant in silence
            raise ImportError(
                f"fastnn._C_{level} is installed but does not import ({exc}); rebuild the "
                "extension, or set FASTNN_CPU_CAPABILITY to a level that imports"
            ) from exc
    return base


def _built(level):
    return importlib.util.find_spec(f"fastnn._C_{level}") is not None


def built_levels():
    """The ISA variants present in this install.

    Found by looking for the module files, never by importing them: a variant built for an ISA
    this CPU lacks may execute those instructions in its module initialiser (SIGILL).
    """
    return [level for level in LEVELS if _built(level)]
