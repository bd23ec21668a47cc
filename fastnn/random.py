"""One global random generator (a ``numpy.random.Generator``); every random op draws from it.

``fastnn.manual_seed(n)`` reseeds it, so runs are reproducible. ``Generator`` is PyTorch's
explicit-generator object for APIs that take ``generator=`` (``random_split``, ``randperm``...).
"""

from __future__ import annotations

import numpy as np

_gen = [np.random.default_rng()]
_initial_seed = [None]


def generator(gen=None) -> np.random.Generator:
    """The numpy Generator random ops draw from: ``gen``'s if given (a ``Generator`` or a numpy
    Generator), else the global one."""
    if gen is None:
        return _gen[0]
    if isinstance(gen, Generator):
        return gen.rng
    if isinstance(gen, np.random.Generator):
        return gen
    raise TypeError(f"generator: expected a fastnn.Generator, got {type(gen).__name__}")


def manual_seed(seed: int) -> Generator:
    """Reseed the global generator; returns it as a ``Generator``."""
    seed = int(seed)
    _gen[0] = np.random.default_rng(seed)
    _initial_seed[0] = seed
    return _GLOBAL


def seed() -> int:
    """Reseed from OS entropy; returns the seed used."""
    s = int(np.random.SeedSequence().entropy % (2**63))
    manual_seed(s)
    return s


def initial_seed() -> int:
    return _initial_seed[0] if _initial_seed[0] is not None else 0


def get_rng_state():
    """The generator's state (a dict, NumPy's bit generator state)."""
    return _gen[0].bit_generator.state


def set_rng_state(state) -> None:
    _gen[0].bit_generator.state = state


class Generator:
    """An explicit random generator (``fastnn.Generator().manual_seed(0)``)."""

    def __init__(self, device="cpu"):
        self.rng = np.random.default_rng()
        self._seed = None

    def manual_seed(self, seed: int) -> Generator:
        self._seed = int(seed)
        self.rng = np.random.default_rng(self._seed)
        return self

    def seed(self) -> int:
        s = int(np.random.SeedSequence().entropy % (2**63))
        self.manual_seed(s)
        return s

    def initial_seed(self) -> int:
        return self._seed or 0

    def get_state(self):
        return self.rng.bit_generator.state

    def set_state(self, state) -> Generator:
        self.rng.bit_generator.state = state
        return self


class _GlobalGenerator(Generator):
    """The global generator seen as a ``Generator`` (what ``manual_seed`` returns)."""

    def __init__(self):
        pass

    @property
    def rng(self):
        return _gen[0]

    def manual_seed(self, seed):
        return manual_seed(seed)

    def initial_seed(self):
        return initial_seed()

    def get_state(self):
        return get_rng_state()

    def set_state(self, state):
        set_rng_state(state)
        return self


_GLOBAL = _GlobalGenerator()
default_generator = _GLOBAL
