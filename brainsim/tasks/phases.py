"""Trials built from phases: ``Fixation(5) >> Stimulus(10) >> Delay((5, 20)) >> Response(5)``.

A trial structure is a static sequence of named phases (after braintools.cogtask).
Each phase has a duration in steps: an int (fixed) or a ``(lo, hi)`` pair (drawn
uniformly from ``lo..hi`` inclusive per trial, inside jit).  The padded trial
length ``T`` is the sum of the longest durations, so shapes never depend on a
draw; steps after a trial's end are padding (mask 0).

:func:`phase_index` turns a trial's drawn durations into, for every step, the
index of the phase it belongs to (``len(phases)`` on padding): tasks then build
inputs and targets with ``jnp.where(phase == k, ...)``, without any Python loop
over time.

Example::

    trial = Fixation(2) >> Stimulus(3) >> Delay((1, 4)) >> Response(2)
    trial.max_len                      # 11
    d = trial.durations(key)           # int32 [4], e.g. [2, 3, 3, 2]
    trial.phase_index(d)               # int32 [11]: 0 0 1 1 1 2 2 2 3 3 4
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple, Union

import jax
import jax.numpy as jnp

from ..errors import ScenarioError

__all__ = ["Phase", "Trial", "Fixation", "Stimulus", "Delay", "Response", "phase_index"]

Duration = Union[int, Tuple[int, int]]


def _check_duration(name: str, d: Duration) -> Tuple[int, int]:
    lo, hi = (d, d) if isinstance(d, int) and not isinstance(d, bool) else tuple(d) if isinstance(d, (tuple, list)) \
        else (None, None)
    if not (isinstance(lo, int) and isinstance(hi, int)) or lo < 0 or hi < lo:
        raise ScenarioError(f"phase {name!r}: duration must be an int >= 0 or a (lo, hi) pair with 0 <= lo <= hi, "
                            f"found {d!r}", where=f"task.phases.{name}")
    return int(lo), int(hi)


@dataclass(frozen=True)
class Phase:
    """A named phase of a trial; ``duration`` is an int or a ``(lo, hi)`` range (steps)."""

    name: str
    duration: Duration

    def __post_init__(self):
        object.__setattr__(self, "bounds", _check_duration(self.name, self.duration))

    def __rshift__(self, other: "Phase | Trial") -> "Trial":
        return Trial((self,)) >> other


@dataclass(frozen=True)
class Trial:
    """A static sequence of phases (hashable: usable as a jit static argument)."""

    phases: Tuple[Phase, ...]

    def __rshift__(self, other: "Phase | Trial") -> "Trial":
        more = other.phases if isinstance(other, Trial) else (other,)
        names = [p.name for p in self.phases + more]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ScenarioError(f"a trial has two phases named {dup[0]!r}", where="task.phases",
                                hint="give repeated phases distinct names, e.g. Stimulus(3, name='test')")
        return Trial(self.phases + more)

    @property
    def names(self) -> Tuple[str, ...]:
        return tuple(p.name for p in self.phases)

    @property
    def max_len(self) -> int:
        """Padded length ``T``: the sum of the longest durations."""
        return sum(p.bounds[1] for p in self.phases)

    def index(self, name: str) -> int:
        """Position of the phase called ``name``."""
        if name not in self.names:
            raise ScenarioError(f"trial has no phase {name!r}", where="task.phases", hint=f"phases: {self.names}")
        return self.names.index(name)

    def durations(self, draws) -> jax.Array:
        """Draw each phase's duration: int32 ``[P]`` (fixed phases keep theirs).

        Args:
            draws: a :class:`~brainsim.tasks.jax_base.Draws` (or a key, for use outside a task).
        """
        lo = jnp.array([p.bounds[0] for p in self.phases], jnp.int32)
        hi = jnp.array([p.bounds[1] for p in self.phases], jnp.int32)
        if isinstance(draws, jax.Array):
            return jax.random.randint(draws, lo.shape, lo, hi + 1, dtype=jnp.int32)
        return draws.randint(lo.shape, lo, hi + 1)

    def phase_index(self, durations: jax.Array) -> jax.Array:
        """int32 ``[T]``: the phase of each step; ``P`` (= number of phases) on padding."""
        return phase_index(durations, self.max_len)


def phase_index(durations: jax.Array, T: int) -> jax.Array:
    """For each of ``T`` steps, the index of its phase given ``durations`` ``[P]``; ``P`` after the end.

    Args:
        durations: int ``[P]``, steps per phase (zeros allowed).
        T: the number of steps (static).

    Returns:
        int32 ``[T]``.
    """
    ends = jnp.cumsum(durations)
    return jnp.searchsorted(ends, jnp.arange(T), side="right").astype(jnp.int32)


def _phase(default_name: str):
    def make(duration: Duration, name: str = default_name) -> Phase:
        return Phase(name, duration)

    make.__name__ = default_name.capitalize()
    make.__doc__ = f"A ``{default_name}`` phase of ``duration`` steps (int or (lo, hi))."
    return make


Fixation = _phase("fixation")
Stimulus = _phase("stimulus")
Delay = _phase("delay")
Response = _phase("response")
