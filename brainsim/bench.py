"""``brainsim bench``: compile time, steady-state speed and compiled kernels of a wiring.

Numbers, not assertions: tests never check wall-clock times.  Ratios are
meaningful only within one run on one machine.

Kernel counts (:func:`count_kernels`, :func:`kernel_counts`) are read from the
*optimised* HLO of the compiled function (``jitted.lower(...).compile().as_text()``):

* a *kernel* is one instruction of a non-fused computation that does work: every
  opcode except ``parameter``, ``constant``, ``tuple``, ``get-tuple-element`` and
  ``bitcast`` (free: aliases and bookkeeping) and ``while`` (control: its body is
  counted instead). A ``fusion`` counts as one kernel (on CPU one fused loop or one
  library call), whatever it contains; unfused ``dot``, ``copy``,
  ``dynamic-update-slice`` … count one each. ``call`` / ``conditional`` are opened
  and their computations counted where they are called from.
* ``per_step``: the kernels inside the bodies of the ``while`` loops (the time
  ``lax.scan`` and, in a train step, its transpose: the forward and the backward pass
  of one time step together), summed over every loop found (a loop nested in a body
  counts once, not times its trip count); the loop conditions are not counted.
* ``outside``: every other kernel (once per call: setup, loss reductions, optimiser).

A scan of length 1 is usually removed by XLA (no loop left, ``per_step`` 0): count at
T > 1.
"""

from __future__ import annotations

import functools
import inspect
import re
import time
from typing import Any, Callable, Mapping

import jax
import jax.numpy as jnp
import numpy as np


def random_batch(brain, batch: int, T: int, key: jax.Array) -> dict:
    """Gaussian inputs ``{name: [T, B, dim]}`` for every external input of ``brain``."""
    return {k: jax.random.normal(jax.random.fold_in(key, i), (T, batch, d))
            for i, (k, d) in enumerate(brain.inputs.items())}


def bench_brain(brain, batch: int = 16, time_steps: int = 100, iters: int = 20, kernels: bool = True) -> dict:
    """Time ``train_step`` and ``run`` of a built brain, and count the kernels of its train step.

    Args:
        kernels: also compile the train step once more to count its kernels (:func:`kernel_counts`).

    Returns:
        ``compile_seconds`` (first train_step minus a steady one), ``train_steps_per_second``,
        ``sample_steps_per_second`` (T * B * train steps per second), ``run_steps_per_second``,
        ``finite_check_overhead``: the relative cost of the NaN/Inf guard of ``fit`` (``--check-finite``),
        ``(t_checked - t_plain) / t_plain`` per train step, measured in this run (best of 3 alternating
        rounds of each; a value near 0 or slightly negative is noise),
        ``retraces_after_first_call``, and (``kernels``) ``kernels_per_step`` / ``kernels_outside_loop``
        of the train step as timed here (``check_finite`` on), from its optimised HLO.
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
    retraces = brain.trace_count - 1
    kernels = kernel_counts(brain, data) if kernels else {}
    return {"wiring": brain.spec.name, "backend": jax.default_backend(), "batch": batch, "time_steps": time_steps,
            "compile_seconds": round(max(first - steady, 0.0), 3),
            "train_steps_per_second": round(1.0 / steady, 2),
            "sample_steps_per_second": round(batch * time_steps / steady, 1),
            "run_steps_per_second": round(batch * time_steps / run_s, 1),
            **overhead,
            "retraces_after_first_call": retraces,
            **({"kernels_per_step": kernels["per_step"], "kernels_outside_loop": kernels["outside"]}
               if kernels else {})}


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
    """:func:`bench_brain` of the wiring at ``path`` (the ``brainsim bench`` command)."""
    from .brain import load

    return bench_brain(load(path), batch, time, iters)


# --------------------------------------------------------------------------- kernels in the optimised HLO

#: opcodes that are not kernels (aliases, bookkeeping) — see the module docstring
FREE_OPCODES = frozenset({"parameter", "constant", "tuple", "get-tuple-element", "bitcast"})
_HEADER = re.compile(r"^(ENTRY\s+)?%?([\w.\-]+)\s*\(")
_OPCODE = re.compile(r"([\w\-]+)\(")
_CALLED = re.compile(r"\b(condition|body|calls|to_apply|branch_computations|true_computation|false_computation)"
                     r"=(?:\{([^}]*)\}|%?([\w.\-]+))")


def _skip_type(rest: str) -> str:
    """``rest`` of an instruction line after its result type (a tuple type may hold spaces)."""
    if rest.startswith("("):
        depth = 0
        for i, ch in enumerate(rest):
            depth += ch == "("
            depth -= ch == ")"
            if depth == 0:
                return rest[i + 1:].lstrip()
    return rest.split(" ", 1)[1] if " " in rest else ""


def parse_hlo(text: str) -> tuple[dict, str]:
    """Optimised HLO text -> ``({computation: [(opcode, {attr: [called computation, …]}), …]}, entry name)``."""
    comps: dict = {}
    entry, cur = None, None
    for line in text.splitlines():
        if not line.strip():
            continue
        if not line[0].isspace():
            m = _HEADER.match(line) if line.rstrip().endswith("{") else None
            cur = m.group(2) if m else None
            if m:
                comps[cur] = []
                entry = cur if m.group(1) else entry
            continue
        s = line.strip()
        if cur is None or " = " not in s:
            continue
        rest = _skip_type(s.split(" = ", 1)[1])
        m = _OPCODE.match(rest)
        if m is None:
            continue
        called: dict = {}
        for attr, braced, single in _CALLED.findall(rest):
            names = [n.strip().lstrip("%") for n in braced.split(",") if n.strip()] if braced else [single]
            called.setdefault(attr, []).extend(names)
        comps[cur].append((m.group(1), called))
    if entry is None:
        raise ValueError("no ENTRY computation in the HLO text")
    return comps, entry


def hlo_kernel_counts(text: str) -> dict:
    """Kernels of an optimised HLO module (see the module docstring for what counts).

    Returns:
        ``{"per_step": kernels in while bodies, "outside": the others, "while_loops": loops found}``.
    """
    comps, entry = parse_hlo(text)
    counts = {"per_step": 0, "outside": 0, "while_loops": 0}

    def walk(name: str, bucket: str, seen: tuple) -> None:
        if name in seen or name not in comps:  # defensive: HLO has no recursion
            return
        for op, called in comps[name]:
            if op == "while":
                counts["while_loops"] += 1
                for body in called.get("body", ()):
                    walk(body, "per_step", seen + (name,))
            elif op == "call":
                for c in [*called.get("to_apply", ()), *called.get("calls", ())]:
                    walk(c, bucket, seen + (name,))
            elif op not in FREE_OPCODES:
                counts[bucket] += 1
                if op == "conditional":
                    for attr in ("branch_computations", "true_computation", "false_computation"):
                        for c in called.get(attr, ()):
                            walk(c, bucket, seen + (name,))

    walk(entry, "outside", ())
    return counts


def count_kernels(jitted_fn: Callable, *args, **kwargs) -> dict:
    """Compile ``jitted_fn`` (anything with ``.lower``, e.g. ``jax.jit(f)``) for ``args`` and count its kernels.

    Returns:
        :func:`hlo_kernel_counts` of its optimised HLO: ``{"per_step", "outside", "while_loops"}``.
    """
    return hlo_kernel_counts(jitted_fn.lower(*args, **kwargs).compile().as_text())


def _train_step_options(brain, check_finite: bool) -> dict:
    try:
        names = inspect.signature(brain.train_step).parameters
    except (TypeError, ValueError):  # pragma: no cover
        names = {}
    return {"check_finite": check_finite} if "check_finite" in names else {}


def jitted_train_step(brain, check_finite: bool = True) -> Callable:
    """``brain.train_step`` as one fresh ``jax.jit`` (through the public method: what a user calls).

    Its ``.lower(params, opt_state, state, batch, key, step)`` takes ``step`` as an int32 array.
    """
    return jax.jit(functools.partial(brain.train_step, **_train_step_options(brain, check_finite)))


def train_step_args(brain, batch: "int | Mapping[str, Any]", time_steps: int = 100, seed: int = 0) -> tuple:
    """``(params, opt_state, state, batch, key, step)`` for one train step of ``brain``.

    Args:
        batch: a batch size (Gaussian inputs from :func:`random_batch`) or ``{input: [T, B, dim]}``.
    """
    key = jax.random.key(seed)
    if isinstance(batch, Mapping):
        data = {k: jnp.asarray(v, jnp.float32) for k, v in batch.items()}
        B = next(iter(data.values())).shape[1]
    else:
        B, data = int(batch), random_batch(brain, int(batch), time_steps, key)
    params, state = brain.init(key, B)
    return params, brain.init_opt_state(params), state, data, key, jnp.zeros((), jnp.int32)


def kernel_counts(brain, batch: "int | Mapping[str, Any]" = 16, time_steps: int = 100, *,
                  check_finite: bool = True) -> dict:
    """Kernels of ``brain``'s compiled ``train_step`` (see the module docstring).

    Args:
        batch: batch size, or a batch ``{input: [T, B, dim]}`` (then ``time_steps`` is its T).
        time_steps: episode length T (use T > 1: a length-1 scan has no loop left).
        check_finite: as ``brain.train_step``'s option.

    Returns:
        ``{"per_step": kernels per time step (forward + backward), "outside": kernels once per call,
        "while_loops": n}``.
    """
    return count_kernels(jitted_train_step(brain, check_finite), *train_step_args(brain, batch, time_steps))


__all__ = ["bench_brain", "bench_wiring", "count_kernels", "hlo_kernel_counts", "jitted_train_step",
           "kernel_counts", "parse_hlo", "random_batch", "train_step_args", "jnp"]
