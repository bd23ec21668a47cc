"""Grad mode: whether operations are recorded for backward (thread-local, like PyTorch's).

``no_grad``, ``enable_grad``, ``set_grad_enabled`` and ``inference_mode`` work as context managers
and as decorators.
"""

from __future__ import annotations

import functools
import threading


class _State(threading.local):
    enabled = True


state = _State()


def is_grad_enabled() -> bool:
    """True when operations on tensors that require grad are recorded."""
    return state.enabled


class _GradModeContext:
    """Context manager and decorator that sets grad mode to ``self.mode`` and restores it."""

    mode = True

    def __enter__(self):
        self._prev = state.enabled
        state.enabled = self.mode
        return self

    def __exit__(self, *exc):
        state.enabled = self._prev
        return False

    def __call__(self, fn):
        mode = self.mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            prev = state.enabled
            state.enabled = mode
            try:
                return fn(*args, **kwargs)
            finally:
                state.enabled = prev

        return wrapper


class no_grad(_GradModeContext):
    """Disable gradient recording inside the block (or the decorated function)."""

    mode = False

    def __init__(self, fn=None):  # allows the bare ``@no_grad`` form too
        self._fn = fn

    def __call__(self, *args, **kwargs):
        if self._fn is not None:
            return _GradModeContext.__call__(self, self._fn)(*args, **kwargs)
        return _GradModeContext.__call__(self, args[0])


class enable_grad(no_grad):
    """Enable gradient recording inside the block (or the decorated function)."""

    mode = True


class inference_mode(no_grad):
    """Same as ``no_grad`` here (fastnn has no separate inference tensors)."""

    def __init__(self, mode: bool = True):
        self._fn = None
        if callable(mode):
            self._fn, mode = mode, True
        self.mode = not mode


class set_grad_enabled(_GradModeContext):
    """``set_grad_enabled(mode)`` sets grad mode at once; as a context manager it restores the
    previous mode on exit; as a decorator it applies ``mode`` around each call."""

    def __init__(self, mode: bool):
        self._prev = state.enabled
        self.mode = bool(mode)
        state.enabled = self.mode

    def __enter__(self):
        return self

    def __call__(self, fn):
        state.enabled = self._prev  # used as a decorator: do not change the mode now
        return _GradModeContext.__call__(self, fn)
