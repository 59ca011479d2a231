"""``brainsim bench``: compile time and steady-state speed of a wiring.

Numbers, not assertions: tests never check wall-clock times.  Ratios are
meaningful only within one run on one machine.
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp


def random_batch(brain, batch: int, T: int, key: jax.Array) -> dict:
    """Gaussian inputs ``{name: [T, B, dim]}`` for every external input of ``brain``."""
    return {k: jax.random.normal(jax.random.fold_in(key, i), (T, batch, d))
            for i, (k, d) in enumerate(brain.inputs.items())}


def bench_brain(brain, batch: int = 16, time_steps: int = 100, iters: int = 20) -> dict:
    """Time ``train_step`` and ``run`` of a built brain.

    Returns:
        ``compile_seconds`` (first train_step minus a steady one), ``train_steps_per_second``,
        ``sample_steps_per_second`` (T * B * train steps per second), ``run_steps_per_second``.
    """
    key = jax.random.key(0)
    params, state = brain.init(key, batch)
    opt = brain.init_opt_state(params)
    data = random_batch(brain, batch, time_steps, key)
    t0 = time.perf_counter()
    p, o, _, m = brain.train_step(params, opt, state, data, key, 0)
    jax.block_until_ready(m["loss"])
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    for i in range(iters):
        p, o, _, m = brain.train_step(p, o, state, data, jax.random.fold_in(key, i), i)
    jax.block_until_ready(m["loss"])
    steady = (time.perf_counter() - t0) / iters
    _, tr = brain.run(params, state, data, key)
    jax.block_until_ready(tr)
    t0 = time.perf_counter()
    for i in range(iters):
        _, tr = brain.run(params, state, data, jax.random.fold_in(key, i))
    jax.block_until_ready(tr)
    run_s = (time.perf_counter() - t0) / iters
    return {"wiring": brain.spec.name, "backend": jax.default_backend(), "batch": batch, "time_steps": time_steps,
            "compile_seconds": round(max(first - steady, 0.0), 3),
            "train_steps_per_second": round(1.0 / steady, 2),
            "sample_steps_per_second": round(batch * time_steps / steady, 1),
            "run_steps_per_second": round(batch * time_steps / run_s, 1),
            "retraces_after_first_call": brain.trace_count - 1}


def bench_wiring(path: str, batch: int = 16, time: int = 100, iters: int = 20) -> dict:
    from .brain import load

    return bench_brain(load(path), batch, time, iters)


__all__ = ["bench_brain", "bench_wiring", "random_batch", "jnp"]
