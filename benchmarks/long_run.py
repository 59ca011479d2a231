"""Host memory over a long run with probes and flow traces streamed to disk in chunks.

    python benchmarks/long_run.py [--wiring pbwm] [--steps 100000] [--chunk 1000] [--batch 1] [--out DIR]

Runs ``--steps`` time steps of a brain through :func:`brainsim.streaming.stream_run` (one compiled
chunk-long scan, state carried between chunks, every probe, output and edge flow trace appended to
disk) and samples the process's resident memory (psutil RSS) after every chunk. Reports RSS after
the first chunk, at the end, its maximum, and the growth per 10,000 steps over the second half
(flat = bounded memory; the trace on disk grows linearly).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import jax  # noqa: E402
import numpy as np  # noqa: E402
import psutil  # noqa: E402

from brainsim import load  # noqa: E402
from brainsim.streaming import stream_run  # noqa: E402


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser()
    ap.add_argument("--wiring", default="pbwm")
    ap.add_argument("--steps", type=int, default=100_000)
    ap.add_argument("--chunk", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--out", default=None)
    a = ap.parse_args(argv)
    brain = load(a.wiring)
    params, state = brain.init(jax.random.key(0), batch=a.batch)
    rng = np.random.default_rng(0)
    dims = dict(brain.inputs)
    block = {k: rng.normal(size=(a.chunk, a.batch, d)).astype(np.float32) for k, d in dims.items()}
    proc = psutil.Process()
    rss: list = []
    out = Path(a.out or tempfile.mkdtemp(prefix="brainsim-long-"))
    t0 = time.perf_counter()
    stream_run(brain, params, state, lambda s, n: {k: v[:n] for k, v in block.items()}, a.steps, out,
               jax.random.key(1), chunk=a.chunk, edges=True,
               on_chunk=lambda c, done: rss.append((done, proc.memory_info().rss / 2**20)))
    wall = time.perf_counter() - t0
    half = [r for r in rss if r[0] >= a.steps // 2]
    slope = (half[-1][1] - half[0][1]) / max(1, half[-1][0] - half[0][0]) * 10_000 if len(half) > 1 else 0.0
    disk = sum(f.stat().st_size for f in out.iterdir()) / 2**20
    result = {"wiring": a.wiring, "steps": a.steps, "chunk": a.chunk, "batch": a.batch, "wall_s": wall,
              "rss_after_first_chunk_mb": rss[0][1], "rss_end_mb": rss[-1][1], "rss_max_mb": max(r[1] for r in rss),
              "rss_growth_mb_per_10k_steps_second_half": slope, "trace_on_disk_mb": disk, "out": str(out)}
    print(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
