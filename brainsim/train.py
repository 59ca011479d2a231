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
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import jax
import numpy as np


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
    """Append-only ``metrics.jsonl``: one complete JSON object per line, flushed per write."""

    def __init__(self, path: "str | Path"):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._f = open(self.path, "a", encoding="utf-8")

    def write(self, record: dict) -> None:
        self._f.write(json.dumps(to_python(record), sort_keys=True) + "\n")
        self._f.flush()

    def close(self) -> None:
        self._f.close()


def read_metrics(path: "str | Path") -> list[dict]:
    """Read ``metrics.jsonl``, dropping a torn (incomplete) last line."""
    out = []
    p = Path(path)
    if not p.exists():
        return out
    for line in p.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


class Progress:
    """A dependency-free progress bar on stderr (a line per update when not a terminal)."""

    def __init__(self, total: int, desc: str = "train", enabled: bool = True, stream=None):
        self.total, self.desc, self.enabled = total, desc, enabled
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.t0 = time.perf_counter()

    def update(self, step: int, info: str = "") -> None:
        if not self.enabled:
            return
        done = step / max(self.total, 1)
        rate = step / max(time.perf_counter() - self.t0, 1e-9)
        bar = "#" * int(24 * done) + "-" * (24 - int(24 * done))
        text = f"{self.desc} [{bar}] {step}/{self.total} {rate:.1f} it/s {info}"
        if self.tty:
            self.stream.write("\r" + text[:120].ljust(120))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled and self.tty:
            self.stream.write("\n")
            self.stream.flush()


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


def fit(brain, params, opt_state, batch_fn: Callable[[int], dict], steps: int, key: jax.Array, *,
        batch_size: Optional[int] = None, log_every: int = 10, metrics: Optional[MetricsLog] = None,
        progress: bool = True, callback: Optional[Callable[[int, dict, Any], Optional[dict]]] = None,
        start_step: int = 0, desc: str = "train") -> FitResult:
    """Train ``brain`` for up to ``steps`` steps.

    Args:
        brain: a :class:`~brainsim.brain.Brain`.
        params, opt_state: from ``brain.init`` / ``brain.init_opt_state``.
        batch_fn: ``step -> {input name: [T, B, dim]}``; each episode starts from a fresh state.
        steps: the last step (exclusive).
        key: the run key; step s uses ``fold_in(key, s)``.
        log_every: write metrics every this many steps (and at the last step).
        metrics: where to log (``MetricsLog``) or None.
        callback: ``(step, metrics, params) -> None | dict``; a dict with ``{"stop": True}`` ends
            training, and its other entries are logged with the step.
        start_step: resume from this step.

    Returns:
        A :class:`FitResult`; ``compile_seconds`` is the first step's time minus a steady step's.
    """
    bar = Progress(steps, desc, enabled=progress)
    t_start = time.perf_counter()
    first = second = None
    history, stopped, step = [], False, start_step
    for step in range(start_step, steps):
        batch = batch_fn(step)
        B = batch_size or next(iter(batch.values())).shape[1]
        t0 = time.perf_counter()
        params, opt_state, _, m = brain.train_step(params, opt_state, brain.init_state(B), batch,
                                                   jax.random.fold_in(key, step), step)
        extra = callback(step, m, params) if callback is not None else None
        if first is None or second is None:
            jax.block_until_ready(m["loss"])
            dt = time.perf_counter() - t0
            first, second = (dt, None) if first is None else (first, dt)
        record = None
        if (step + 1) % log_every == 0 or step == steps - 1 or (extra and extra.get("stop")):
            record = {"step": step, **{k: float(v) for k, v in m.items() if not k.startswith("finite:")}}
            if extra:
                record.update({k: v for k, v in extra.items() if k != "stop"})
            history.append(record)
            if metrics is not None:
                metrics.write(record)
            bar.update(step + 1, f"loss {record['loss']:.4g}")
        if extra and extra.get("stop"):
            stopped = True
            break
    bar.close()
    compile_s = max(0.0, (first or 0.0) - (second or 0.0))
    return FitResult(params, opt_state, step + 1, history, compile_s, time.perf_counter() - t_start, stopped)


def atomic_write_text(path: "str | Path", text: str) -> None:
    """Write a file via a temporary file and ``os.replace`` (never a half-written file)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.name}.tmp{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, p)


def atomic_write_json(path: "str | Path", data: Any) -> None:
    atomic_write_text(path, json.dumps(to_python(data), indent=2, sort_keys=True) + "\n")


def seed_everything(seed: int) -> tuple[jax.Array, np.random.Generator]:
    """The run's JAX key and numpy generator from one seed."""
    return jax.random.key(seed), np.random.default_rng(seed)
