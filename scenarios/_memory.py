"""Helpers shared by the memory scenarios: drive one hippocampus area over time, make patterns.

Not a scenario (the leading underscore keeps it out of ``brainsim list``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from brainsim.testing import make_area


def area_runner(**config):
    """``(area, run)``: ``run(seq {port: [T, dim]}, seed, state=None) -> (final state, outputs {port: [T, dim]})``.

    One ``lax.scan`` over time, compiled once per sequence shape (the area's params from key 0).
    """
    area = make_area("hippocampus", **config)
    params, state0 = area.init(jax.random.key(0))

    @jax.jit
    def run_jit(state, seq, key):
        def body(s, xs):
            t, x = xs
            return area.step(params, s, x, key=jax.random.fold_in(key, t))

        T = next(iter(seq.values())).shape[0]
        return jax.lax.scan(body, state, (jnp.arange(T), seq))

    def run(seq, seed=0, state=None):
        seq = {k: jnp.asarray(v, jnp.float32) for k, v in seq.items()}
        return run_jit(state0 if state is None else state, seq, jax.random.key(seed))

    return area, run


def patterns(rng: np.random.Generator, p: int, n: int) -> np.ndarray:
    """``[p, n]`` random +-1 patterns."""
    return rng.choice(np.float32([-1, 1]), (p, n))


def flip(rng: np.random.Generator, x: np.ndarray, frac: float) -> np.ndarray:
    """``x`` with exactly ``round(frac * n)`` randomly chosen bits of each row flipped."""
    n = x.shape[1]
    k = int(round(frac * n))
    idx = np.argsort(rng.random(x.shape), axis=1)[:, :k]
    out = x.copy()
    np.put_along_axis(out, idx, -np.take_along_axis(x, idx, 1), 1)
    return out


def pad(a: np.ndarray, length: int) -> np.ndarray:
    """``a [L, ...]`` padded with zero rows to ``[length, ...]`` (float32)."""
    a = np.asarray(a, np.float32)
    return np.concatenate([a, np.zeros((length - len(a), *a.shape[1:]), np.float32)])


def store_then_cue(area, run, stored: np.ndarray, cues: np.ndarray, length: int, seed: int = 0):
    """Write ``stored [P, n]`` one per step (no recall on write steps), then present ``cues [Q, n]``.

    Both phases are padded to ``length`` steps (so one compilation serves every load).
    Returns ``(state, {port: [Q, dim]})`` of the cue steps.
    """
    n = area.config.size
    z = np.zeros((length, n), np.float32)
    seq = {"store": np.concatenate([pad(stored, length), z]),
           "write": np.concatenate([pad(np.ones((len(stored), 1)), length), np.zeros((length, 1), np.float32)]),
           "cue": np.concatenate([z, pad(cues, length)])}
    for port, d in area.in_dims.items():
        seq.setdefault(port, np.zeros((2 * length, d), np.float32))
    state, out = run(seq, seed)
    return state, {k: np.asarray(v[length:length + len(cues)]) for k, v in out.items()}


def overlaps(recall: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Per-pattern overlap ``m = recall . target / n`` ``[P]``."""
    return np.sum(recall * target, axis=1) / target.shape[1]
