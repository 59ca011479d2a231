"""Training progress on stderr, with ``rich``: a live bar on a terminal, one summary line per log step otherwise.

The rate (it/s) and the ETA leave out compilation: they are measured from the end of the first step
of the session (:meth:`Progress.first_step_done`), which is where ``jax.jit`` compiles, so a 5 s
compile does not make a 200 it/s run look like 20 it/s.  The compile time is shown on its own.

On a terminal (``stream.isatty()``) a :class:`rich.progress.Progress` bar is redrawn at each update;
elsewhere (CI logs, ``nohup``, a pipe) each update prints one plain line::

    pbwm: step 120/400 (30%) · 45.2 it/s · ETA 6 s · compile 3.1 s · loss 0.1234
"""

from __future__ import annotations

import sys
import time
from typing import Optional, TextIO


def format_seconds(s: Optional[float]) -> str:
    """``4 s``, ``2 min 05 s``, ``1 h 02 min``; ``?`` when unknown."""
    if s is None or s != s or s < 0:
        return "?"
    s = int(round(s))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {(s % 3600) // 60:02d} min"


class Progress:
    """Progress of one training session of ``total`` steps (steps ``start`` .. ``total``).

    Args:
        total: the last step (exclusive), as in :func:`brainsim.train.fit`.
        desc: a label (the model's name).
        enabled: ``False``: print nothing.
        stream: where to write (default ``sys.stderr``).
        start: the first step of this session (a resumed run starts later).
        clock: a ``time.perf_counter``-like function (for tests).
    """

    def __init__(self, total: int, desc: str = "train", enabled: bool = True, stream: Optional[TextIO] = None,
                 start: int = 0, clock=time.perf_counter):
        self.total, self.desc, self.enabled, self.start = int(total), desc, enabled, int(start)
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.clock = clock
        self.t0 = clock()
        self.t_first: Optional[float] = None  # when the first (compiling) step ended
        self.step_first: Optional[int] = None
        self.compile_seconds: Optional[float] = None
        self._bar = None
        self._task = None

    # ---- numbers ------------------------------------------------------------------
    def first_step_done(self, step: int) -> None:
        """Mark the end of the session's first step (``step``: the steps done so far); rates start here."""
        if self.t_first is None:
            self.t_first = self.clock()
            self.step_first = int(step)
            self.compile_seconds = self.t_first - self.t0

    def rate(self, step: int) -> Optional[float]:
        """Steps per second since the first step ended (compilation excluded); None before a second step."""
        if self.t_first is None or step <= self.step_first:
            return None
        dt = self.clock() - self.t_first
        return (step - self.step_first) / dt if dt > 0 else None

    def eta(self, step: int) -> Optional[float]:
        """Seconds left at the current rate (None while unknown)."""
        r = self.rate(step)
        return None if not r else max(self.total - step, 0) / r

    def line(self, step: int, info: str = "") -> str:
        """The plain summary line for ``step``."""
        pct = 100.0 * step / max(self.total, 1)
        r = self.rate(step)
        parts = [f"{self.desc}: step {step}/{self.total} ({pct:.0f}%)",
                 f"{r:.1f} it/s" if r else "— it/s", f"ETA {format_seconds(self.eta(step))}"]
        if self.compile_seconds is not None:
            parts.append(f"compile {self.compile_seconds:.1f} s")
        if info:
            parts.append(info)
        return " · ".join(parts)

    # ---- output -------------------------------------------------------------------
    def _rich(self):
        if self._bar is None:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress as _RichProgress, TextColumn

            console = Console(file=self.stream, force_terminal=True, highlight=False)
            self._bar = _RichProgress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                      TextColumn("{task.fields[rate]}"), TextColumn("ETA {task.fields[eta]}"),
                                      TextColumn("{task.fields[info]}"), console=console, auto_refresh=False,
                                      transient=False)
            self._bar.start()
            self._task = self._bar.add_task(self.desc, total=self.total, completed=self.start, rate="— it/s",
                                            eta="?", info="")
        return self._bar

    def update(self, step: int, info: str = "") -> None:
        """Show progress at ``step`` (steps done); ``info``: e.g. ``"loss 0.123"``."""
        if not self.enabled:
            return
        if not self.tty:
            self.stream.write(self.line(step, info) + "\n")
            self.stream.flush()
            return
        bar = self._rich()
        r = self.rate(step)
        bar.update(self._task, completed=step, rate=f"{r:.1f} it/s" if r else "— it/s",
                   eta=format_seconds(self.eta(step)), info=info)
        bar.refresh()

    def close(self) -> None:
        """End the bar (a terminal gets its final state and a newline)."""
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
