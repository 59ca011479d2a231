"""The training loop: one compiled ``train_step`` per brain, a progress bar, metrics.jsonl.

``fit`` drives :meth:`brainsim.brain.Brain.train_step` from a batch function and
writes one JSON line per logged step to ``metrics.jsonl`` (flushed as it goes,
so a killed run keeps everything logged so far).  A callback may stop training
early (a scenario's criterion).
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Optional

import jax
import numpy as np

from .errors import NonFiniteError

if TYPE_CHECKING:  # pragma: no cover
    from .checkpoint import Checkpointer


def to_python(x: Any) -> Any:
    """Arrays and numpy scalars -> plain Python (for JSON)."""
    if isinstance(x, dict):
        return {str(k): to_python(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [to_python(v) for v in x]
    if hasattr(x, "shape") and getattr(x, "shape", None) == ():
        x = x.item() if hasattr(x, "item") else x
    elif hasattr(x, "tolist"):
        return x.tolist()
    if isinstance(x, float) and not math.isfinite(x):
        return str(x)
    return x


class MetricsLog:
    """Append-only ``metrics.jsonl``: one complete JSON object per line, flushed per write.

    Opening an existing file whose last line is torn (a job killed mid-write) drops that line
    first, so appended records never merge with it.  Damaged lines in the middle (not JSON) are
    never dropped: their line numbers are in :attr:`damaged`, and :meth:`rewrite` keeps them as they are.
    """

    def __init__(self, path: "str | Path"):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.dropped_torn = _drop_torn_tail(self.path)
        self.damaged = damaged_lines(self.path)
        self._f = open(self.path, "a", encoding="utf-8")

    def write(self, record: dict) -> None:
        self._f.write(json.dumps(to_python(record), sort_keys=True) + "\n")
        self._f.flush()

    def rewrite(self, keep: Callable[[dict], bool]) -> int:
        """Keep only the records for which ``keep(record)`` is true (atomically); return how many were dropped."""
        self._f.close()
        lines = self.path.read_text(encoding="utf-8", errors="replace").splitlines() if self.path.exists() else []
        kept, dropped = [], 0
        for line in lines:
            try:
                r = json.loads(line)
            except json.JSONDecodeError:
                kept.append(line)  # a damaged record: kept for the user to see, never silently lost
                continue
            if keep(r):
                kept.append(line)
            else:
                dropped += 1
        atomic_write_text(self.path, "".join(line + "\n" for line in kept))
        self._f = open(self.path, "a", encoding="utf-8")
        return dropped

    def close(self) -> None:
        self._f.close()


def _drop_torn_tail(path: Path) -> bool:
    """Truncate ``path`` after its last complete line when the tail is not complete JSON; True if it did."""
    if not path.exists():
        return False
    data = path.read_bytes()
    if not data or data.endswith(b"\n"):
        tail_start = data.rstrip(b"\n").rfind(b"\n") + 1
        last = data[tail_start:].strip()
        if not last:
            return False
        try:
            json.loads(last)
            return False
        except (json.JSONDecodeError, UnicodeDecodeError):
            pass
    else:
        tail_start = data.rfind(b"\n") + 1
    with open(path, "r+b") as f:
        f.truncate(tail_start)
    return True


def damaged_lines(path: "str | Path") -> list[int]:
    """1-based numbers of the lines of ``metrics.jsonl`` that are not JSON objects (blank lines aside)."""
    p = Path(path)
    if not p.exists():
        return []
    out = []
    for i, line in enumerate(p.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            ok = isinstance(json.loads(line), dict)
        except json.JSONDecodeError:
            ok = False
        if not ok:
            out.append(i)
    return out


def read_metrics(path: "str | Path") -> list[dict]:
    """Read ``metrics.jsonl``, dropping a torn (incomplete) last line."""
    out = []
    p = Path(path)
    if not p.exists():
        return out
    for line in p.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


# the progress bar (rich on a terminal, a line per log step elsewhere; rates exclude compilation)
from .progress import Progress  # noqa: E402


@dataclass
class FitResult:
    """What :func:`fit` returns."""

    params: Any
    opt_state: Any
    steps: int
    history: list = field(default_factory=list)
    compile_seconds: float = 0.0
    wall_seconds: float = 0.0
    stopped_early: bool = False


def finite_order(brain) -> dict[str, int]:
    """Rank of every area in the brain's schedule (upstream first), to name where a NaN started."""
    order = [n for gen in getattr(brain.graph, "schedule", ()) for n in gen]
    order += [n for n in brain.areas if n not in order]
    return {n: i for i, n in enumerate(order)}


def is_flag(key: str) -> bool:
    """True for the engine's finite-value flags (``"finite"``, ``"finite:area.port"``), never for ``"area/term"``."""
    return key == "finite" or key.startswith("finite:")


def check_finite(metrics: Mapping[str, Any], step: int, *, order: Optional[Mapping[str, int]] = None,
                 label: Optional[str] = None, checkpoint: Optional[str] = None) -> None:
    """Raise :class:`~brainsim.errors.NonFiniteError` if a training step produced a NaN or Inf.

    Args:
        metrics: ``"area/term"`` and ``"loss"`` scalars, the train step's ``"finite"`` flag, and, from
            the diagnostic re-run (:meth:`brainsim.brain.Brain.diagnose`), ``"finite:area.port"`` (False
            when that output held a NaN/Inf during the episode) and ``"finite:grad:area"`` booleans.
        step: the training step (as in ``metrics.jsonl``).
        order: area -> schedule rank (:func:`finite_order`); the most upstream culprit is named first.
        label: the model being trained (a scenario may train several).
        checkpoint: the last good checkpoint, mentioned in the hint.

    The error names the area and the output port (or, when every output is finite, the cost term),
    the step, and lists every other non-finite value in the hint. It is a host-side check of a
    few scalars the step already computes: one small device-to-host transfer per step.
    """
    flags = [k for k in metrics if is_flag(k)]
    # fast path: the flags and the total loss (a NaN/Inf in any weighted cost term reaches it)
    quick = jax.device_get([metrics[k] for k in flags] + ([metrics["loss"]] if "loss" in metrics else []))
    if all(bool(v) for v in quick[:len(flags)]) and all(np.isfinite(v) for v in quick[len(flags):]):
        return
    host = jax.device_get(dict(metrics))
    ports = [k[len("finite:"):] for k, v in host.items()
             if k.startswith("finite:") and not k.startswith("finite:grad:") and not bool(v)]
    grads = [k[len("finite:grad:"):] for k, v in host.items() if k.startswith("finite:grad:") and not bool(v)]
    costs = [k for k, v in host.items() if not is_flag(k) and not np.all(np.isfinite(v))]
    if not ports and not costs and not grads and bool(host.get("finite", True)):
        return
    order = order or {}
    rank = lambda name: (order.get(name.replace("/", ".").split(".", 1)[0], len(order)), name)  # noqa: E731
    area_costs = sorted((c for c in costs if "/" in c), key=rank)
    if ports:
        first = min(ports, key=rank)
        area, port = first.split(".", 1)
        what, where = f"area '{area}', output port '{port}'", f"areas.{area}"
        others = sorted(set(ports) - {first}, key=rank) + area_costs + [c for c in costs if "/" not in c]
    elif area_costs:
        area, term = area_costs[0].split("/", 1)
        what, where = f"area '{area}', cost term '{term}'", f"areas.{area}.costs.{term}"
        others = area_costs[1:] + [c for c in costs if "/" not in c]
    elif grads:
        area = min(grads, key=rank)
        what, where = f"area '{area}', the gradient of its parameters", f"areas.{area}"
        others = [f"gradient of {g}" for g in sorted(set(grads) - {area}, key=rank)] + costs
    elif not costs:
        what, where = "a gradient", "loss"
        others = []
    else:
        what, where = "the total cost 'loss'", "loss"
        others = [c for c in costs if c != "loss"]
    model = f" of model '{label}'" if label else ""
    hint = (f"also non-finite: {', '.join(others)}; " if others else "")
    hint += (f"the last good checkpoint is kept in '{checkpoint}'; " if checkpoint
             else "no checkpoint was written before it (see --checkpoint-every); ")
    hint += f"check the config of {what.split(',')[0]} (a smaller learning rate, gain or edge weight often helps)"
    raise NonFiniteError(f"non-finite value (NaN or Inf) at training step {step}{model}: {what}", where, hint=hint)


class FiniteGuard:
    """Checks every training step for NaN/Inf without stalling the device.

    ``add(step, metrics, replay)`` queues a step.  Once ``depth + in_flight`` steps are queued, all but
    the newest ``in_flight`` ones are checked with ONE device-to-host transfer of their ``finite`` flags
    and losses: the host only ever waits for steps that are already followed by queued work, so the
    device never idles because of the guard.  :meth:`flush` checks everything (before every checkpoint
    and at the end), so a checkpoint never holds a state that came after a non-finite step.  When a
    step's flag trips, its batch is re-run once in the diagnostic mode (``replay`` = the arguments of
    :meth:`brainsim.brain.Brain.diagnose`: the params *before* that step, state, batch, key, step) to
    name the area, port or cost term (:func:`check_finite`), at most ``depth + in_flight`` steps late.
    """

    def __init__(self, brain, *, depth: int = 8, in_flight: int = 2, label: Optional[str] = None,
                 checkpoint: Optional[Callable[[], Optional[str]]] = None):
        self.brain = brain
        self.order = finite_order(brain)
        self.depth, self.in_flight, self.label, self.checkpoint = depth, in_flight, label, checkpoint
        self.pending: list = []

    def add(self, step: int, metrics: Mapping[str, Any], replay: Optional[tuple] = None) -> None:
        self.pending.append((step, metrics, replay))
        if len(self.pending) >= self.depth + self.in_flight:
            ready, self.pending = self.pending[:-self.in_flight], self.pending[-self.in_flight:]
            self._check(ready)

    def flush(self) -> None:
        pending, self.pending = self.pending, []
        self._check(pending)

    def _check(self, pending: list) -> None:
        if not pending:
            return
        keys = [k for k in pending[0][1] if is_flag(k) or k == "loss"]
        values = jax.device_get([[m[k] for k in keys] for _, m, _ in pending])
        for (step, m, replay), vals in zip(pending, values):
            if not all(bool(v) if is_flag(k) else np.isfinite(v) for k, v in zip(keys, vals)):
                self.pending = []
                if replay is not None:
                    m = {**m, **self.brain.diagnose(*replay)}
                check_finite(m, step, order=self.order, label=self.label,
                             checkpoint=self.checkpoint() if self.checkpoint else None)


def fit(brain, params, opt_state, batch_fn: Callable[[int], dict], steps: int, key: jax.Array, *,
        batch_size: Optional[int] = None, log_every: int = 10, metrics: Optional[MetricsLog] = None,
        progress: bool = True, callback: Optional[Callable[[int, dict, Any], Optional[dict]]] = None,
        start_step: int = 0, desc: str = "train", check_finite_values: bool = True,
        checkpointer: Optional["Checkpointer"] = None, resume: bool = False,
        rngs: Optional[Mapping[str, np.random.Generator]] = None,
        callback_state: Optional[dict] = None, label: Optional[str] = None) -> FitResult:
    """Train ``brain`` for up to ``steps`` steps, optionally checkpointed and resumable.

    Args:
        brain: a :class:`~brainsim.brain.Brain`.
        params, opt_state: from ``brain.init`` / ``brain.init_opt_state``.
        batch_fn: ``step -> {input name: [T, B, dim]}``; each episode starts from a fresh state
            (so no brain state is carried between steps, and none needs checkpointing).
        steps: the last step (exclusive).
        key: the run key; step s uses ``fold_in(key, s)``.
        log_every: write metrics every this many steps (and at the last step).
        metrics: where to log (``MetricsLog``) or None.
        callback: ``(step, metrics, params) -> None | dict``; a dict with ``{"stop": True}`` ends
            training, and its other entries are logged with the step.
        start_step: first step (without a checkpointer).
        check_finite_values: stop with :class:`~brainsim.errors.NonFiniteError` when an area output or
            a cost becomes NaN/Inf (a :class:`FiniteGuard`: every step is checked, a few steps late,
            so the host never waits for the device; a checkpoint is only written after its steps
            were checked, so the last checkpoint is always a good one).
        checkpointer: a :class:`~brainsim.checkpoint.Checkpointer`; saves params, optimiser states,
            the key, the generator positions of ``rngs`` and ``callback_state`` every
            ``checkpointer.every`` steps and once at the end (``done``).
        resume: continue from the checkpointer's latest checkpoint (if any): the restored run
            draws the same batches and keys as an uninterrupted one, so it ends with equal
            parameters and metrics.  A checkpoint marked ``done`` returns at once.
        rngs: ``{name: numpy Generator}`` the batch function and callback draw from.
        callback_state: a JSON-serialisable dict the callback mutates; saved and restored in place.
        label: the model's name (in error messages).

    Returns:
        A :class:`FitResult`; ``compile_seconds`` is the first step's time minus a steady step's;
        ``wall_seconds`` adds the training time of earlier (killed) sessions up to their checkpoint.
    """
    rngs = dict(rngs or {})
    run = _FitRun(brain, steps, key, rngs, callback_state, checkpointer, label, check_finite_values)
    if resume and checkpointer is not None and checkpointer.newest_intact() is not None:
        params, opt_state, start_step, done = run.restore(params, opt_state)
        if done is not None:
            return done
    bar = Progress(steps, desc, enabled=progress, start=start_step)
    step = start_step - 1
    for step in range(start_step, steps):
        batch = batch_fn(step)
        params, opt_state, m = run.train(params, opt_state, batch, step, batch_size)
        if step == start_step:  # the first step compiled: rates and ETA count from here
            bar.first_step_done(step + 1)
        extra = callback(step, m, params) if callback is not None else None
        if (step + 1) % log_every == 0 or step == steps - 1 or (extra and extra.get("stop")):
            record = run.log(step, m, extra, metrics)
            bar.update(step + 1, f"loss {record['loss']:.4g}")
        if extra and extra.get("stop"):
            run.stopped = True
            break
        if checkpointer is not None and checkpointer.due(step + 1) and step + 1 < steps:
            run.save(step + 1, params, opt_state, done=False)
    run.check()
    bar.close()
    if checkpointer is not None and step + 1 > start_step:
        run.save(step + 1, params, opt_state, done=True)
    return run.result(params, opt_state, step + 1)


class _FitRun:
    """The phases of :func:`fit`: restore, train one step, log, save, finish (state shared between them)."""

    def __init__(self, brain, steps, key, rngs, callback_state, checkpointer, label, check_finite_values):
        self.brain, self.steps, self.key, self.rngs = brain, steps, key, rngs
        self.callback_state, self.checkpointer, self.label = callback_state, checkpointer, label
        self.checked = check_finite_values
        self.train_step = brain.train_step_fn(check_finite=check_finite_values)
        self.step_dev, self.step_host = None, None
        self.guard = FiniteGuard(brain, label=label, checkpoint=self._last_good) if check_finite_values else None
        self.earlier, self.t_start = 0.0, time.perf_counter()
        self.first = self.second = None
        self.history: list = []
        self.stopped = False

    def _last_good(self) -> Optional[str]:
        s = self.checkpointer.latest_step() if self.checkpointer is not None else None
        return None if s is None else str(self.checkpointer.path(s))

    def restore(self, params, opt_state):
        """Load the latest checkpoint: ``(params, opt_state, start_step, FitResult if it was done else None)``."""
        r = self.checkpointer.restore({"params": params, "opt_state": opt_state, "key": self.key})
        params, opt_state, self.key = r.tree["params"], r.tree["opt_state"], r.tree["key"]
        for name, st in r.meta.get("rngs", {}).items():
            if name in self.rngs:
                self.rngs[name].bit_generator.state = st
        if self.callback_state is not None:
            self.callback_state.clear()
            self.callback_state.update(r.meta.get("callback_state", {}))
        self.earlier = float(r.meta.get("train_seconds", 0.0))
        self.t_start = time.perf_counter()
        done = FitResult(params, opt_state, r.step, [], 0.0, self.earlier, bool(r.meta.get("stopped"))) \
            if r.meta.get("done") else None
        return params, opt_state, r.step, done

    def train(self, params, opt_state, batch, step: int, batch_size: Optional[int]):
        """One compiled train step from a fresh state; the guard queues it (with what a re-run needs)."""
        B = batch_size or next(iter(batch.values())).shape[1]
        state, key = self.brain.init_state(B), jax.random.fold_in(self.key, step)
        batch = self.brain.check_inputs(batch)
        if self.step_dev is None or self.step_host != step:  # the counter lives on the device
            self.step_dev = jax.numpy.asarray(step, jax.numpy.int32)
        t0 = time.perf_counter()
        new_params, opt_state, _, m, self.step_dev = self.train_step(params, opt_state, state, batch, key,
                                                                     self.step_dev)
        self.step_host = step + 1
        if self.guard is not None:
            self.guard.add(step, m, replay=(params, state, batch, key, step))
        if self.first is None or self.second is None:
            jax.block_until_ready(m["loss"])
            dt = time.perf_counter() - t0
            self.first, self.second = (dt, None) if self.first is None else (self.first, dt)
        return new_params, opt_state, m

    def log(self, step: int, m: Mapping, extra: Optional[dict], metrics: Optional[MetricsLog]) -> dict:
        record = {"step": step, **{k: float(v) for k, v in m.items() if not is_flag(k)}}
        if extra:
            record.update({k: v for k, v in extra.items() if k != "stop"})
        self.history.append(record)
        if metrics is not None:
            metrics.write(record)
        self.check()  # cheap here: the host has just waited for this step's values
        return record

    def check(self) -> None:
        if self.guard is not None:
            self.guard.flush()

    def save(self, n: int, params, opt_state, done: bool) -> None:
        self.check()  # never checkpoint a non-finite state
        meta = {"rngs": {k: g.bit_generator.state for k, g in self.rngs.items()},
                "callback_state": dict(self.callback_state or {}), "done": done, "stopped": self.stopped,
                "train_seconds": self.earlier + time.perf_counter() - self.t_start, "label": self.label,
                "total_steps": self.steps}
        self.checkpointer.save(n, {"params": params, "opt_state": opt_state, "key": self.key}, meta)

    def result(self, params, opt_state, steps: int) -> FitResult:
        compile_s = max(0.0, (self.first or 0.0) - (self.second or 0.0))
        return FitResult(params, opt_state, steps, self.history, compile_s,
                         self.earlier + time.perf_counter() - self.t_start, self.stopped)


def atomic_write_text(path: "str | Path", text: str) -> None:
    """Write a file via a temporary file and ``os.replace`` (never a half-written file)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.name}.tmp{os.getpid()}")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, p)
    finally:
        if tmp.exists():
            tmp.unlink()


def atomic_write_json(path: "str | Path", data: Any) -> None:
    atomic_write_text(path, json.dumps(to_python(data), indent=2, sort_keys=True) + "\n")
