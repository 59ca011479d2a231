"""Task generators: numpy generators of padded, masked ``[T, B, dim]`` batches.

Tasks are driven by a :class:`numpy.random.Generator`; checkpoint
``rng.bit_generator.state`` to resume the stream of batches exactly (see
:mod:`brainsim.tasks.base`).
"""

from __future__ import annotations

from typing import Dict, Type

from ..errors import ScenarioError, did_you_mean
from .base import Batch, Task
from .twelve_ax import TwelveAX

__all__ = ["Batch", "Task", "TwelveAX", "TASKS", "get_task"]

TASKS: Dict[str, Type[Task]] = {"twelve_ax": TwelveAX}
"""Registry: task name -> task class."""


def get_task(name: str, **kwargs) -> Task:
    """Build the task registered as ``name`` with keyword configuration.

    Args:
        name: a key of :data:`TASKS` (``"twelve_ax"``).
        **kwargs: passed to the task's constructor.

    Raises:
        ScenarioError: unknown name (with the closest known one), or a
            configuration the task rejects.
    """
    try:
        cls = TASKS[name]
    except (KeyError, TypeError):
        known = ", ".join(sorted(TASKS))
        raise ScenarioError(
            f"unknown task {name!r}{did_you_mean(name, TASKS)}",
            where="task",
            hint=f"known tasks: {known}",
        ) from None
    try:
        return cls(**kwargs)
    except TypeError as exc:  # unexpected keyword
        raise ScenarioError(f"bad options for task {name!r}: {exc}", where="task") from None
