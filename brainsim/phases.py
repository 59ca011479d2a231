"""Training in phases with lifelong state: task episodes, offline sleep, tests.

A training run is a sequence of :class:`Phase` objects, each a number of episodes of one kind:

* ``task``: external inputs from the phase's ``inputs(i)`` (episode ``i`` of the phase), learning on;
* ``sleep``: NO external input — every input is zero except the constant ``drive`` signals (e.g.
  ``{"replay": 1.0}``, the neuromodulatory "offline" state that makes the hippocampus replay);
  areas learn from the replayed activity (learning on by default);
* ``test``: inputs from ``inputs(i)``, no learning (the brain's ``evaluate``).

Between episodes, and between phases, each area's *lifelong* state (``Area.lifelong``: memories,
maps, slow traces) is carried over; everything else (activity, delay lines, the clock) starts
fresh (:func:`carry_lifelong`).  Every episode has the same shape ``[T, B, dim]``, so task, sleep
and test episodes reuse the same compiled train / evaluate programs (no recompilation per phase).

Checkpoints (``checkpointer``, every ``checkpointer.every`` episodes and at the end) hold the
params, optimiser states, the carried brain state and the key; ``resume=True`` continues from the
latest one and, because episode ``e`` uses ``fold_in(key, e)`` and ``inputs`` must be a pure
function of the episode index, ends bit-identical to an uninterrupted run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Literal, Mapping, Optional

import jax
import jax.numpy as jnp
import numpy as np

from .checkpoint import Checkpointer
from .errors import AreaError, ScenarioError, did_you_mean

KINDS = ("task", "sleep", "test")


@dataclass(frozen=True)
class Phase:
    """One phase of training.

    Attributes:
        name: shown in the history and in messages.
        episodes: how many episodes it lasts (>= 1).
        kind: ``task``, ``sleep`` or ``test``.
        inputs: ``i -> {input: [T, B, dim]}`` for episode ``i`` of the phase (task and test; a pure
            function of ``i`` for exact resumption). Unused by sleep.
        drive: sleep only: ``{input: value}`` held constant over the episode (all other inputs 0).
        learn: override whether parameters are updated (default: task and sleep learn, test does not).
    """

    name: str
    episodes: int
    kind: Literal["task", "sleep", "test"] = "task"
    inputs: Optional[Callable[[int], Mapping[str, Any]]] = None
    drive: Mapping[str, float] = field(default_factory=dict)
    learn: Optional[bool] = None

    @property
    def learns(self) -> bool:
        return self.kind != "test" if self.learn is None else bool(self.learn)


@dataclass
class PhaseResult:
    """What :func:`run_phases` returns: the final params, optimiser states and carried brain state, and
    one record per episode (``phase``, ``kind``, ``episode`` (global), ``loss`` and any callback values)."""

    params: Any
    opt_state: Any
    state: Any
    history: list


def lifelong_keys(brain) -> dict[str, tuple[str, ...]]:
    """``{area: lifelong state keys}`` of the areas that keep any; an undeclared key is an error."""
    out = {}
    for name, node in brain.areas.items():
        keys = tuple(getattr(type(node.area), "lifelong", ()))
        if not keys:
            continue
        state = node.area.initial_state()
        bad = [k for k in keys if k not in state]
        if bad:
            raise AreaError(f"area '{name}' ({node.area.type_name}) declares lifelong state {bad} that its "
                            f"initial_state does not have{did_you_mean(bad[0], state)}", f"areas.{name}",
                            hint="Area.lifelong must name keys of initial_state(): " + ", ".join(state))
        out[name] = keys
    return out


def carry_lifelong(brain, state: Mapping, keys: Optional[Mapping[str, tuple]] = None) -> dict:
    """The state an episode starts from: a fresh state with every area's lifelong keys taken from ``state``.

    Args:
        state: a brain state ``{"areas", "delays", "t"}`` (batch ``B``) at the end of the last episode.
        keys: :func:`lifelong_keys` (computed when left out).
    """
    keys = lifelong_keys(brain) if keys is None else keys
    B = jax.tree.leaves(state["areas"])[0].shape[0] if jax.tree.leaves(state["areas"]) else 1
    fresh = brain.init_state(B)
    areas = dict(fresh["areas"])
    for name, ks in keys.items():
        areas[name] = {**fresh["areas"][name], **{k: state["areas"][name][k] for k in ks}}
    return {**fresh, "areas": areas}


def sleep_inputs(brain, T: int, B: int, drive: Mapping[str, float], where: str = "sleep") -> dict:
    """``{input: [T, B, dim]}``: zeros, except the ``drive`` inputs held at their constant value."""
    bad = [k for k in drive if k not in brain.inputs]
    if bad:
        raise ScenarioError(f"phase '{where}' drives input '{bad[0]}', which the wiring '{brain.spec.name}' does not "
                            f"declare{did_you_mean(bad[0], brain.inputs)}",
                            hint="declared inputs: " + ", ".join(brain.inputs))
    return {k: jnp.full((T, B, d), float(drive.get(k, 0.0)), jnp.float32) for k, d in brain.inputs.items()}


def _check(phases) -> None:
    for p in phases:
        if p.kind not in KINDS:
            raise ScenarioError(f"phase '{p.name}': kind must be one of {', '.join(KINDS)}, found {p.kind!r}"
                                f"{did_you_mean(str(p.kind), KINDS)}")
        if p.episodes < 1:
            raise ScenarioError(f"phase '{p.name}': episodes must be >= 1, found {p.episodes}")
        if p.kind != "sleep" and p.inputs is None:
            raise ScenarioError(f"phase '{p.name}' ({p.kind}) has no inputs function",
                                hint="pass inputs=lambda i: {input: [T, B, dim]}")


def _schedule(phases) -> list[tuple[int, int]]:
    """``[(phase index, episode within the phase)]`` for every global episode."""
    return [(j, i) for j, p in enumerate(phases) for i in range(p.episodes)]


def run_phases(brain, params, opt_state, phases: list, key: jax.Array, *, shape: tuple[int, int],
               state: Optional[Mapping] = None, checkpointer: Optional[Checkpointer] = None, resume: bool = False,
               on_episode: Optional[Callable[..., Optional[dict]]] = None) -> PhaseResult:
    """Run ``phases`` in order, carrying lifelong state; optionally checkpointed and resumable.

    Args:
        brain: a :class:`~brainsim.brain.Brain`.
        params, opt_state: from ``brain.init`` / ``brain.init_opt_state``.
        phases: :class:`Phase` list.
        key: the run key; global episode ``e`` uses ``fold_in(key, e)``.
        shape: ``(T, B)`` of every episode (sleep episodes are built with it).
        state: the state to start from (default: a fresh one).
        checkpointer: saves ``{params, opt_state, state, key}`` every ``checkpointer.every`` episodes
            and at the end; meta holds the episode counter and the history.
        resume: continue from the checkpointer's latest checkpoint (if any).
        on_episode: ``(phase, i, out) -> None | dict`` after each episode, where ``out`` has
            ``metrics`` and (test episodes) ``trace``, ``params`` and ``state``; a dict is added to
            the episode's history record (JSON values).

    Returns:
        A :class:`PhaseResult`.
    """
    _check(phases)
    T, B = shape
    keys = lifelong_keys(brain)
    state = brain.init_state(B) if state is None else state
    history: list = []
    start = 0
    if resume and checkpointer is not None and checkpointer.latest_step() is not None:
        r = checkpointer.restore({"params": params, "opt_state": opt_state, "state": state, "key": key})
        params, opt_state, state, key = r.tree["params"], r.tree["opt_state"], r.tree["state"], r.tree["key"]
        start, history = r.step, list(r.meta.get("history", []))
    train = brain.train_step_fn(check_finite=False, return_state=True)
    schedule = _schedule(phases)
    sleep_cache: dict = {}
    for e in range(start, len(schedule)):
        j, i = schedule[e]
        phase = phases[j]
        state = carry_lifelong(brain, state, keys)
        if phase.kind == "sleep":
            items = tuple(sorted(phase.drive.items()))
            if items not in sleep_cache:
                sleep_cache[items] = sleep_inputs(brain, T, B, phase.drive, phase.name)
            batch = sleep_cache[items]
        else:
            batch = brain.check_inputs(phase.inputs(i))
        k = jax.random.fold_in(key, e)
        out: dict = {}
        if phase.learns:
            params, opt_state, state, m, _ = train(params, opt_state, state, batch, k, jnp.asarray(e, jnp.int32))
        else:
            state, m, trace = brain.evaluate(params, state, batch, k, step=e)
            out["trace"] = trace
        out.update(metrics=m, params=params, state=state)
        record = {"phase": phase.name, "kind": phase.kind, "episode": e, "loss": float(m["loss"])}
        if not np.isfinite(record["loss"]):
            raise ScenarioError(f"phase '{phase.name}', episode {i} (global {e}): the loss is not finite "
                                f"({record['loss']})", hint="a smaller learning rate or edge weight often helps")
        extra = on_episode(phase, i, out) if on_episode is not None else None
        if extra:
            record.update(extra)
        history.append(record)
        if checkpointer is not None and (checkpointer.due(e + 1) or e + 1 == len(schedule)):
            checkpointer.save(e + 1, {"params": params, "opt_state": opt_state, "state": state, "key": key},
                              {"history": history, "done": e + 1 == len(schedule), "phase": phase.name})
    return PhaseResult(params, opt_state, state, history)
