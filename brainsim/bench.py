"""``brainsim bench``: compile time and steady-state speed of a wiring.

Numbers, not assertions: tests never check wall-clock times.  Ratios are
meaningful only within one run on one machine.
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np


def random_batch(brain, batch: int, T: int, key: jax.Array) -> dict:
    """Gaussian inputs ``{name: [T, B, dim]}`` for every external input of ``brain``."""
    return {k: jax.random.normal(jax.random.fold_in(key, i), (T, batch, d))
            for i, (k, d) in enumerate(brain.inputs.items())}


def bench_brain(brain, batch: int = 16, time_steps: int = 100, iters: int = 20) -> dict:
    """Time ``train_step`` and ``run`` of a built brain.

    Returns:
        ``compile_seconds`` (first train_step minus a steady one), ``train_steps_per_second``,
        ``sample_steps_per_second`` (T * B * train steps per second), ``run_steps_per_second``,
        ``finite_check_overhead``: the relative cost of the NaN/Inf guard of ``fit`` (``--check-finite``),
        ``(t_checked - t_plain) / t_plain`` per train step, measured in this run (best of 3 alternating
        rounds of each; a value near 0 or slightly negative is noise).
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
    overhead = finite_check_overhead(brain, params, opt, state, data, key, iters)
    return {"wiring": brain.spec.name, "backend": jax.default_backend(), "batch": batch, "time_steps": time_steps,
            "compile_seconds": round(max(first - steady, 0.0), 3),
            "train_steps_per_second": round(1.0 / steady, 2),
            "sample_steps_per_second": round(batch * time_steps / steady, 1),
            "run_steps_per_second": round(batch * time_steps / run_s, 1),
            **overhead,
            "retraces_after_first_call": brain.trace_count - 1}


def finite_check_overhead(brain, params, opt, state, data, key, iters: int = 20, rounds: int = 5) -> dict:
    """Per-step cost of the NaN/Inf guard as ``fit`` applies it (:class:`brainsim.train.FiniteGuard`).

    Returns:
        ``finite_check_overhead``: ``t_checked / t_plain - 1`` per train step, the median over
        ``rounds`` back-to-back pairs of timed loops without and with the guard (pairing cancels
        slow drifts of a shared machine; noise can make it slightly negative), and
        ``finite_check_seconds``: the host time of checking one step whose values are ready.
    """
    from .train import FiniteGuard

    def loop(checked: bool) -> float:
        p, o = params, opt
        guard = FiniteGuard(brain) if checked else None
        t0 = time.perf_counter()
        for i in range(iters):
            p, o, _, m = brain.train_step(p, o, state, data, jax.random.fold_in(key, i), i)
            if guard is not None:
                guard.add(i, m)
        if guard is not None:
            guard.flush()
        jax.block_until_ready(p)
        return (time.perf_counter() - t0) / iters

    ratios = []
    for r in range(rounds):
        if r % 2 == 0:  # alternate which loop runs first
            plain, checked = loop(False), loop(True)
        else:
            checked, plain = loop(True), loop(False)
        ratios.append(checked / plain - 1.0)
    _, _, _, m = brain.train_step(params, opt, state, data, key, 0)
    jax.block_until_ready(m)
    guard, n = FiniteGuard(brain, depth=10 ** 9), 200
    t0 = time.perf_counter()
    for i in range(n):
        guard.add(i, m)
    guard.flush()
    return {"finite_check_overhead": round(float(np.median(ratios)), 4),
            "finite_check_seconds": round((time.perf_counter() - t0) / n, 7)}


def bench_wiring(path: str, batch: int = 16, time: int = 100, iters: int = 20) -> dict:
    from .brain import load

    return bench_brain(load(path), batch, time, iters)


__all__ = ["bench_brain", "bench_wiring", "random_batch", "jnp"]
