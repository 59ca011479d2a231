"""Behavioural tests of the hippocampus area: CA3 completion and capacity (classical Hopfield
collapses above ~0.138 N, modern Hopfield recalls 2 N patterns), DG pattern separation,
familiarity, least-recently-used storage and replay.

Data are made in numpy and every run of one area has the same shapes, so each area compiles
once (eager JAX compiles every new op shape, which dominates the run time on small CPUs).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from brainsim.testing import check_area, make_area

N = 256  # pattern width of the capacity tests


@pytest.mark.parametrize("config", [
    {},
    {"mode": "classical", "slots": 16, "iterations": 3, "dg_factor": 2, "dg_sparsity": 0.1},
])
def test_contract(config):
    check_area("hippocampus", **config)


# --------------------------------------------------------------------------- helpers

@functools.lru_cache(maxsize=None)
def _area(**config):
    """``(area, params, run)`` where ``run(seq {port: [T, dim]}, seed) -> (final state, outputs [T, ...])``."""
    area = make_area("hippocampus", **config)
    params, state = area.init(jax.random.key(0))

    @jax.jit
    def run(seq, key):
        def body(s, xs):
            t, x = xs
            return area.step(params, s, x, key=jax.random.fold_in(key, t))

        T = next(iter(seq.values())).shape[0]
        return jax.lax.scan(body, state, (jnp.arange(T), seq))

    return area, params, lambda seq, seed=0: run(seq, jax.random.key(seed))


def _patterns(seed, p, n=N):
    return np.random.default_rng(seed).choice(np.float32([-1, 1]), (p, n))


def _flip(seed, x, frac):
    return np.where(np.random.default_rng(seed).random(x.shape) < frac, -x, x)


def _pad(a, length):
    return np.concatenate([a, np.zeros((length - len(a), *a.shape[1:]), np.float32)]).astype(np.float32)


def _store_then_cue(run, stored, cues, length):
    """Write ``stored [P, n]`` one-shot (one per step), then present ``cues [Q, n]`` one per step.

    Both phases are padded with idle steps to ``length``; returns ``(state, outputs of the Q cue steps)``.
    """
    n, z = stored.shape[1], np.zeros((length, stored.shape[1]), np.float32)
    seq = {"store": np.concatenate([_pad(stored, length), z]),
           "write": np.concatenate([_pad(np.ones((len(stored), 1)), length), np.zeros((length, 1))]),
           "cue": np.concatenate([z, _pad(cues, length)])}
    state, out = run(seq)
    return state, {k: np.asarray(v[length:length + len(cues)]) for k, v in out.items()}


def _overlap(recall, target):
    """Mean overlap ``m = recall . target / n`` over patterns."""
    return float(np.mean(np.sum(recall * target, axis=1) / target.shape[1]))


# --------------------------------------------------------------------------- CA3 completion and capacity

def test_classical_recall_below_capacity_and_collapse_above():
    _, _, run = _area(size=N, slots=80, mode="classical", pathway="direct")
    overlaps = {}
    for p in (int(0.1 * N), int(0.3 * N)):          # 25 and 76 patterns, the same 20%-flipped cues
        pats = _patterns(p, p)
        _, out = _store_then_cue(run, pats, _flip(p + 1, pats, 0.2), 80)
        overlaps[p] = _overlap(out["recall"], pats)
        assert set(np.unique(out["recall"])) <= {-1.0, 1.0}
    assert overlaps[25] >= 0.95, overlaps            # P = 0.1 N < 0.138 N: the cues are completed
    assert overlaps[76] < 0.8, overlaps              # P = 0.3 N >> 0.138 N: the memory has collapsed


def test_modern_recall_at_twice_n_patterns():
    _, _, run = _area(size=N, slots=2 * N)
    pats = _patterns(3, 2 * N)
    cues = _flip(4, pats, 0.3)
    assert _overlap(cues, pats) < 0.45               # the cues really are degraded (overlap ~0.4)
    _, out = _store_then_cue(run, pats, cues, 2 * N)
    assert _overlap(out["recall"], pats) >= 0.95


# --------------------------------------------------------------------------- DG and familiarity

def _pearson(a, b):
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    return float(np.mean(np.sum(a * b, 1) / np.sqrt(np.sum(a * a, 1) * np.sum(b * b, 1))))


def test_dg_separates_similar_inputs():
    area, params, run = _area(size=N, slots=2 * N)
    w = np.asarray(params["w"].value)
    assert w.shape == (N, 4 * N) and np.all(np.sum(w != 0, axis=0) == 16)  # fixed, 16 inputs per DG cell
    base = _patterns(5, N // 2)
    fracs = (0.05, 0.1, 0.2)
    similar = [_flip(6 + i, base, f) for i, f in enumerate(fracs)]
    _, out = _store_then_cue(run, base[:0], np.concatenate([base, *similar]), 2 * N)
    code = out["separated"]
    assert np.all(code.sum(1) == area.k_dg) and set(np.unique(code)) == {0.0, 1.0}  # k-WTA, 5% active
    for i, (f, sim) in enumerate(zip(fracs, similar)):
        r_in = _pearson(base, sim)
        r_dg = _pearson(code[:N // 2], code[(i + 1) * N // 2:(i + 2) * N // 2])
        assert r_dg < r_in - 0.05, (f, r_in, r_dg)


def test_familiarity_high_for_stored_low_for_novel():
    area, _, run = _area(size=N, slots=2 * N)
    pats = _patterns(7, 2 * N)
    q = N // 2
    cues = np.concatenate([pats[:q], _flip(9, pats[q:2 * q], 0.05), _patterns(8, N)])  # exact, noisy, novel
    _, out = _store_then_cue(run, pats, cues, 2 * N)
    fam = out["familiarity"][:, 0]
    exact, noisy, novel = fam[:q], fam[q:2 * q], fam[2 * q:]
    assert np.all(exact == 1.0)
    assert noisy.min() > novel.max(), (noisy.min(), novel.max())
    assert novel.max() < area.config.recognition     # best of 512 chance overlaps (chance = 5% active)


# --------------------------------------------------------------------------- storage and replay

T_SMALL = 40


def _steps(area, **ports):
    """A ``T_SMALL``-step sequence ``{port: [T, dim]}`` from per-port lists (padded / missing: zeros)."""
    return {p: _pad(np.asarray(ports.get(p, np.zeros((0, d))), np.float32), T_SMALL)
            for p, d in area.in_dims.items()}


def _rows(state):
    return {tuple(r) for r in np.asarray(state["memory"]).astype(int)}


def test_lru_replacement_and_refresh_on_recognition():
    area, _, run = _area(size=32, slots=8)
    pats = _patterns(10, 9, 32)
    as_rows = lambda ps: {tuple(p.astype(int)) for p in ps}
    zero = np.zeros(32)

    # storing M + 1 patterns evicts the oldest and keeps the rest
    state, _ = run(_steps(area, store=pats, write=[[1]] * 9))
    assert _rows(state) == as_rows(pats[1:])
    # recognising the oldest (cueing it) makes it recently used: the next write evicts the second oldest
    state, out = run(_steps(area, store=[*pats[:8], zero, pats[8]], write=[[1]] * 8 + [[0], [1]],
                            cue=[zero] * 8 + [pats[0]]))
    assert float(out["familiarity"][8, 0]) == 1.0
    assert _rows(state) == as_rows(np.delete(pats, 1, axis=0))


def test_replay_returns_stored_memories_only_when_on():
    area, _, run = _area(size=32, slots=8)
    pats = _patterns(11, 5, 32)
    # step 0 replays an empty memory; steps 0-4 store; afterwards replay is on every other step
    replay = [[1.0]] + [[0.0]] * 4 + [[float(t % 2 == 0)] for t in range(T_SMALL - 5)]
    _, out = run(_steps(area, store=pats, write=[[1]] * 5, replay=replay), 2)
    rep = np.asarray(out["replayed"])
    on = [t for t in range(5, T_SMALL) if replay[t][0] == 1.0]
    off = [t for t in range(T_SMALL) if t not in on]
    assert np.all(rep[off] == 0)                     # off, or nothing stored yet: zeros
    replayed = [tuple(r.astype(int)) for r in rep[on]]
    assert set(replayed) <= {tuple(p.astype(int)) for p in pats}
    assert len(set(replayed)) >= 4                   # drawn over the slots with the step key
