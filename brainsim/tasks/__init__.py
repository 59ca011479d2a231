"""Tasks: padded, masked ``[T, B, dim]`` batches for scenarios.

* JAX-native tasks (:mod:`brainsim.tasks.jax_base`): generated on the device by jit + vmap,
  trial ``i`` of stream ``seed`` reproducible from ``(seed, i)``: ``twelve_ax_jax``,
  ``embedded_reber``, ``dms``, ``change_detection``, ``context_dm``; trials built from phases
  (:mod:`brainsim.tasks.phases`).
* numpy tasks driven by a :class:`numpy.random.Generator` (checkpoint ``rng.bit_generator.state``
  to resume exactly, see :mod:`brainsim.tasks.base`): ``twelve_ax``.
* the NeuroGym client (:mod:`brainsim.tasks.neurogym`): ``neurogym`` wraps any NeuroGym
  environment (optional dependency ``brainsim[neurogym]``).
* curricula (:mod:`brainsim.tasks.curriculum`): advance through stages when a metric passes a threshold.

:data:`TASKS` maps names to task classes; :func:`get_task` builds one from documented, type-checked
options; :func:`task_catalogue` lists them (``brainsim list tasks``).
"""

from __future__ import annotations

from .base import Batch, Task
from .registry import TASKS, TaskOption, check_options, get_task, register_task, task_catalogue
from .twelve_ax import TwelveAX
from .jax_base import JaxTask, TrialData, trial_key
from .phases import Delay, Fixation, Phase, Response, Stimulus, Trial
from .twelve_ax_jax import TwelveAXJax
from .reber import EmbeddedReber
from .cognitive import ChangeDetection, Conditioning, ContextDM, DelayedMatchToSample, response_accuracy
from .neurogym import NeuroGymTask

__all__ = ["Batch", "Task", "TwelveAX", "TASKS", "TaskOption", "get_task", "register_task", "task_catalogue",
           "check_options", "JaxTask", "TrialData", "trial_key", "Phase", "Trial", "Fixation", "Stimulus", "Delay",
           "Response", "TwelveAXJax", "EmbeddedReber", "DelayedMatchToSample", "ChangeDetection", "ContextDM",
           "response_accuracy", "NeuroGymTask", "Conditioning"]
