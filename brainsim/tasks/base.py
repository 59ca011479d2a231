"""The task interface: what a scenario trains and evaluates a brain on.

A task is a **numpy** generator driven by a :class:`numpy.random.Generator`.
Keeping task sampling in numpy (outside the compiled JAX step) has two
purposes:

* **Exact resumption.** The position of the generator is plain data,
  ``rng.bit_generator.state`` (a dict of ints), which a checkpoint can store
  next to the parameters. Restoring it with
  ``rng.bit_generator.state = saved`` makes the next ``task.sample(rng, B)``
  return exactly the batch an uninterrupted run would have drawn::

      rng = np.random.default_rng(seed)
      saved = rng.bit_generator.state      # put this in the checkpoint
      a = task.sample(rng, 32)
      rng.bit_generator.state = saved      # ... after restarting
      b = task.sample(rng, 32)             # b == a, array for array

* **Fixed shapes.** Every call of ``sample`` returns arrays of the same shape
  (variable-length episodes are padded and masked), so the jitted
  ``train_step`` that consumes them is compiled once.

A task draws from ``rng`` only, never from global numpy state, so two tasks
with their own generators never interfere.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Dict

import numpy as np

__all__ = ["Batch", "Task"]


@dataclass(frozen=True)
class Batch:
    """One batch of episodes, time-major.

    Attributes:
        inputs: ``[T, B, input_dim]`` float32; zero on padded steps.
        targets: ``[T, B, target_dim]`` float32; zero on padded steps.
        mask: ``[T, B, 1]`` float32; 1 where a step counts, 0 on padding.
        info: task-specific numpy arrays for evaluation and plots (for
            example the symbol index of each step, or episode lengths);
            never fed to the brain.
    """

    inputs: np.ndarray
    targets: np.ndarray
    mask: np.ndarray
    info: Dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def shape(self) -> tuple:
        """``(T, B)``: time steps and batch size."""
        return tuple(self.inputs.shape[:2])


class Task(abc.ABC):
    """Abstract base of every task.

    Subclasses set the class or instance attributes ``name`` (registry name),
    ``input_dim`` and ``target_dim`` and implement :meth:`sample`.

    Attributes:
        name: the task's registry name (``"twelve_ax"``).
        input_dim: size of the last axis of ``Batch.inputs``.
        target_dim: size of the last axis of ``Batch.targets``.
    """

    name: str = "task"
    input_dim: int
    target_dim: int

    @abc.abstractmethod
    def sample(self, rng: np.random.Generator, batch: int) -> Batch:
        """Draw ``batch`` independent episodes.

        Args:
            rng: the generator to draw from (advanced in place; checkpoint
                ``rng.bit_generator.state`` to resume exactly).
            batch: number of episodes ``B`` (>= 1).

        Returns:
            A :class:`Batch` whose shapes depend only on ``batch`` and the
            task's configuration, never on the random draw.
        """

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, input_dim={self.input_dim}, target_dim={self.target_dim})"
