"""Kernel versions (llm.c's habit): a backend may keep several implementations of one kernel.

A backend package lists them in ``VERSIONS = {kernel: Versions(rule, {name: Version(...)})}``.
The function named by the contract is the automatic choice, and ``rule`` says how it chooses; each
registered version is a function with the contract's signature that always runs that version.
``fastnn.backends.use_version(backend, kernel, name)`` runs a block on one version,
``python -m fastnn info`` lists them, and ``python -m fastnn bench --variant kernel=name`` times
one. A version that the rule never picks and nobody needs to compare against is deleted, not kept
selectable.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Version:
    fn: Callable
    idea: str  # one line: what this version does differently


@dataclass(frozen=True)
class Versions:
    rule: str  # how the contract-named (automatic) function picks among them
    choices: dict[str, Version] = field(default_factory=dict)
