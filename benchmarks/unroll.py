"""Scan unroll and bf16 matmuls: steps/s and compile time of one train step for each setting.

    python benchmarks/unroll.py [--wiring pbwm] [--batch 16] [--time 50] [--iters 10] [--unrolls 1,2,4,8]
                                [--dtypes float32,bfloat16] [--large WIDTH] [--json OUT]

``StepPlan.unroll`` is the episode ``lax.scan``'s ``unroll`` (time steps per loop iteration: fewer
loop trips, bigger bodies); ``StepPlan.matmul_dtype="bfloat16"`` runs the areas' products in bf16
with float32 master params. ``--large W`` benchmarks the width-W RNN brain of
``benchmarks/large_brain.py`` instead of a wiring. Each setting is compiled once and timed after a
warm-up (median of ``--iters`` steps); losses after the timed steps are printed so bf16 can be
compared with fp32.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import jax  # noqa: E402
import numpy as np  # noqa: E402

from brainsim import from_yaml, load  # noqa: E402
from brainsim.bench import random_batch  # noqa: E402

LARGE = """
name: large
inputs: {{x: {W}, y: {W}}}
areas:
  r: {{type: rnn, hidden: {W}, credit: global}}
  o: {{type: readout, size: {W}, credit: global, costs: {{supervised: {{target: y}}}}}}
connections:
  - x -> r.input
  - r.h -> o.input
"""


def bench_setting(brain, plan, params, opt, state, batch, iters: int) -> dict:
    step = jax.jit(brain.pure_train_step(plan, check_finite=False))
    key = jax.random.key(1)
    t0 = time.perf_counter()
    out = step(params, opt, state, batch, key, np.int32(0))
    jax.block_until_ready(out[3]["loss"])
    first = time.perf_counter() - t0
    times = []
    p, o = params, opt
    for i in range(iters):
        t0 = time.perf_counter()
        p, o, _, m = step(p, o, state, batch, jax.random.fold_in(key, i), np.int32(i))
        jax.block_until_ready(m["loss"])
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    return {"compile_s": max(0.0, first - med), "step_s": med, "steps_per_s": 1.0 / med, "loss": float(m["loss"])}


def main(argv=None) -> list:
    ap = argparse.ArgumentParser()
    ap.add_argument("--wiring", default="pbwm")
    ap.add_argument("--large", type=int, default=None, metavar="WIDTH")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--time", type=int, default=50)
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--unrolls", default="1,2,4,8")
    ap.add_argument("--dtypes", default="float32,bfloat16")
    ap.add_argument("--json", default=None)
    a = ap.parse_args(argv)
    brain = from_yaml(LARGE.format(W=a.large)) if a.large else load(a.wiring)
    params, state = brain.init(jax.random.key(0), batch=a.batch)
    opt = brain.init_opt_state(params)
    batch = brain.check_inputs(random_batch(brain, a.batch, a.time, jax.random.key(2)))
    rows = []
    for dtype in a.dtypes.split(","):
        for u in (int(x) for x in a.unrolls.split(",")):
            plan = dataclasses.replace(brain.plan, unroll=u, matmul_dtype=None if dtype == "float32" else dtype)
            r = {"wiring": f"large{a.large}" if a.large else a.wiring, "batch": a.batch, "time": a.time,
                 "unroll": u, "matmul_dtype": dtype, **bench_setting(brain, plan, params, opt, state, batch, a.iters)}
            print(json.dumps(r), flush=True)
            rows.append(r)
    if a.json:
        Path(a.json).write_text(json.dumps(rows, indent=1))
    return rows


if __name__ == "__main__":
    main()
