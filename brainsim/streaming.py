"""Long runs in bounded memory: probes and flow traces streamed to disk in chunks.

:func:`stream_run` runs a brain for ``steps`` time steps as ``ceil(steps / chunk)`` calls of ONE
compiled ``chunk``-step scan, carrying the brain state (area states, delay lines, clock) from chunk
to chunk, and appends each chunk's trace to one raw file per signal (``DIR/<name>.f32`` plus
``DIR/stream.json`` with shapes), so host memory holds one chunk at a time whatever the run's length.
:func:`load_stream` maps the files back as ``[steps, B, dim]`` numpy memmaps (nothing is read until
used). Chunk ``c`` runs with key ``fold_in(key, c)``; a brain without randomness gives exactly the
trace of one long :meth:`~brainsim.brain.Brain.run`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Mapping, Optional

import jax
import numpy as np

from .step import scan

__all__ = ["stream_run", "load_stream"]

_META = "stream.json"


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def stream_run(brain, params, state, inputs_fn: Callable[[int, int], Mapping[str, Any]], steps: int, out_dir,
               key: jax.Array, *, chunk: int = 1000, edges: bool = False,
               on_chunk: Optional[Callable[[int, int], None]] = None) -> dict:
    """Run ``steps`` time steps, streaming the trace to ``out_dir``; returns the final state.

    Args:
        inputs_fn: ``(start, n) -> {input: [n, B, dim]}``: the inputs of steps ``start .. start + n``.
        chunk: time steps per compiled call (the last chunk may be shorter: a second compilation).
        edges: also stream the flow traces (``edge:e<i>``/``gate:e<i>``: mean |signal| and gate per edge).
        on_chunk: ``(chunk index, steps done)`` after each chunk is on disk (progress, memory probes).

    Writes ``out_dir/<signal>.f32`` (float32, C order ``[steps, B, dim]``) and ``out_dir/stream.json``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    plan = brain.plan
    fn = jax.jit(lambda p, s, x, k: scan(plan, p, s, x, k, plan.probes, edges=edges)[:2])
    files: dict = {}
    shapes: dict = {}
    done, c = 0, 0
    try:
        while done < steps:
            n = min(chunk, steps - done)
            state, trace = fn(params, state, brain.check_inputs(inputs_fn(done, n)), jax.random.fold_in(key, c))
            for name, v in jax.device_get(trace).items():
                a = np.ascontiguousarray(v, np.float32)
                if name not in files:
                    files[name] = open(out / (_safe(name) + ".f32"), "wb")
                    shapes[name] = list(a.shape[1:])
                files[name].write(a.tobytes())
            done += n
            c += 1
            if on_chunk is not None:
                on_chunk(c, done)
    finally:
        for f in files.values():
            f.close()
        meta = {"steps": done, "chunk": chunk, "signals": {k: {"file": _safe(k) + ".f32", "shape": s}
                                                          for k, s in shapes.items()}}
        (out / _META).write_text(json.dumps(meta, indent=1))
    return state


def load_stream(out_dir) -> dict:
    """``{signal: np.memmap [steps, B, dim]}`` of a :func:`stream_run` directory (read lazily)."""
    d = Path(out_dir)
    meta = json.loads((d / _META).read_text())
    return {k: np.memmap(d / s["file"], np.float32, "r", shape=(meta["steps"], *s["shape"]))
            for k, s in meta["signals"].items()}
