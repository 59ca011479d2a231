"""The hippocampus uses its parts: CA3 stores the DG code and completes it to a fixed point, CA1 maps
it back, write steps skip recall, a match output rejects novel cues, and sequence mode chains
episodes that replay forward and in reverse (issue 12, item 2)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from brainsim.scenarios._memory import area_runner, flip, overlaps, pad, patterns, store_then_cue


def test_ca3_stores_the_dg_code_and_ca1_maps_the_completed_code_back():
    area, run = area_runner(size=64, slots=32)
    rng = np.random.default_rng(0)
    pats = patterns(rng, 32, 64)
    cues = flip(rng, pats, 0.3)
    state, out = store_then_cue(area, run, pats, np.concatenate([pats[:4], cues]), 36)
    # CA3 holds the DG code (k active of D granule cells) of each stored pattern, EC patterns stay in `memory`
    dg_of_stored = out["separated"][:4]
    ca3 = np.asarray(state["ca3"])
    assert ca3.shape == (32, area.n_dg) and np.all(ca3.sum(1) == area.k_dg)
    assert {tuple(r) for r in dg_of_stored} <= {tuple(r) for r in ca3}
    # a 30 %-flipped cue (overlap 0.4): perforant path -> CA3 completion in DG space -> CA1 -> EC pattern
    assert np.mean(overlaps(cues, pats)) < 0.45
    assert np.mean(overlaps(out["recall"][4:], pats)) >= 0.95


def _complete_fn(area, n_slots):
    @jax.jit
    def complete(mem, s0):
        return area.complete(mem, jnp.ones((n_slots,), bool), s0)

    @jax.jit
    def update(mem, s):
        return area.update(mem, jnp.ones((n_slots,), jnp.float32), s)

    return complete, update


def test_classical_recall_runs_to_a_fixed_point_which_five_updates_do_not_reach_near_capacity():
    n, p = 300, 39                                   # P/N = 0.13, just below 0.138
    area, _ = area_runner(size=n, slots=p, mode="classical", pathway="direct", dg_factor=1, dg_fan_in=1)
    rng = np.random.default_rng(1)
    pats = jnp.asarray(patterns(rng, p, n))
    cues = jnp.asarray(flip(rng, np.asarray(pats), 0.15))
    complete, update = _complete_fn(area, p)
    counts, moved_after_five, cycles = [], 0, 0
    for c in cues[:20]:
        s, k = complete(pats, c)
        assert int(k) < area.config.iterations               # converged before the cap
        s1 = update(pats, s)                                 # a fixed point (or, rarely, a 2-cycle)
        assert np.array_equal(np.asarray(s1), np.asarray(s)) or np.array_equal(np.asarray(update(pats, s1)), s)
        cycles += int(not np.array_equal(np.asarray(s1), np.asarray(s)))
        five = c
        for _ in range(5):
            five = update(pats, five)
        moved_after_five += int(not np.array_equal(np.asarray(five), np.asarray(s)))
        counts.append(int(k))
    assert max(counts) > 5 and moved_after_five >= 1, counts   # a fixed 5 updates stops short
    assert cycles <= 5, cycles                                   # mostly true fixed points (3 of 20 here)


def test_write_steps_skip_recall_and_inactive_completion_does_no_update():
    area, run = area_runner(size=32, slots=8)
    rng = np.random.default_rng(2)
    pats = patterns(rng, 4, 32)
    T = 8
    # steps 0-3 write (cue = the stored pattern), steps 4-7 cue the same patterns
    seq = {"cue": pad(np.concatenate([pats, pats]), T), "write": pad(np.ones((4, 1)), T),
           "store": np.zeros((T, 32), np.float32)}
    _, out = run(seq)
    rec = np.asarray(out["recall"])
    assert np.all(rec[:4] == 0)                              # encoding steps: no CA3 recall
    assert np.mean(overlaps(rec[4:], pats)) > 0.99
    s, k = jax.jit(lambda m: area.complete(m, jnp.ones((8,), bool), m[0], False))(jnp.ones((8, 32)))
    assert int(k) == 0 and np.array_equal(np.asarray(s), np.ones(32))


def test_modern_mode_rejects_a_novel_cue_by_its_familiarity():
    area, run = area_runner(size=128, slots=64, reject_novel=True)
    rng = np.random.default_rng(3)
    pats = patterns(rng, 64, 128)
    novel = patterns(rng, 16, 128)
    _, out = store_then_cue(area, run, pats, np.concatenate([flip(rng, pats[:16], 0.05), novel]), 64)
    match, rec = out["match"][:, 0], out["recall"]
    assert np.all(match[:16] == 1) and np.all(match[16:] == 0)
    assert np.mean(overlaps(rec[:16], pats[:16])) > 0.99    # a familiar cue is completed
    assert np.all(rec[16:] == 0)                             # "no match": nothing is recalled


def _seq_run(area, run, store, write, replay=(), reverse=(), cue=(), T=40, seed=0):
    n = area.config.size
    seq = {"store": pad(np.asarray(store, np.float32).reshape(-1, n), T),
           "write": pad(np.asarray(write, np.float32).reshape(-1, 1), T),
           "replay": pad(np.asarray(replay, np.float32).reshape(-1, 1), T),
           "reverse": pad(np.asarray(reverse, np.float32).reshape(-1, 1), T),
           "cue": pad(np.asarray(cue, np.float32).reshape(-1, n), T)}
    return run(seq, seed)


def test_sequence_links_chain_consecutive_writes_and_die_with_an_overwritten_slot():
    area, run = area_runner(size=32, slots=6, sequence=True)
    rng = np.random.default_rng(4)
    a, b = patterns(rng, 4, 32), patterns(rng, 3, 32)
    z = np.zeros((1, 32))
    state, _ = _seq_run(area, run, np.concatenate([a, z, b]), [1] * 4 + [0] + [1] * 3)
    succ, pred = np.asarray(state["succ"]), np.asarray(state["pred"])
    mem = np.asarray(state["memory"])
    slot = {tuple(r.astype(int)): i for i, r in enumerate(mem)}
    sa = [slot.get(tuple(x.astype(int))) for x in a]
    sb = [slot[tuple(x.astype(int))] for x in b]
    # 7 writes into 6 slots: a[0] was evicted (least recently used); links into it are gone
    assert sa[0] is None and pred[sa[1]] == -1
    assert [succ[s] for s in sa[1:]] == [sa[2], sa[3], -1]
    assert [succ[s] for s in sb] == [sb[1], sb[2], -1] and pred[sb[0]] == -1   # the idle step ended episode a


def test_sequence_replay_forward_from_an_episode_start_reverse_from_the_newest_state():
    area, run = area_runner(size=32, slots=16, sequence=True)
    rng = np.random.default_rng(5)
    ep = patterns(rng, 6, 32)
    on = [0] * 7 + [1] * 7 + [1] * 6      # 6 writes + 1 idle, 7 forward steps, then 6 reverse steps
    rev = [0] * 14 + [1] * 6
    _, out = _seq_run(area, run, ep, [1] * 6, replay=on, reverse=rev, T=20)
    r = np.asarray(out["replayed"])
    decoded = [int(np.argmax(ep @ x)) if np.any(x) else -1 for x in r[7:]]
    assert decoded[:7] == [0, 1, 2, 3, 4, 5, -1]          # forward, then one silent step at the end
    assert decoded[7:] == [5, 4, 3, 2, 1, 0]              # direction change: restart at the newest, backwards


def test_next_port_predicts_the_successor_from_a_noisy_cue():
    area, run = area_runner(size=64, slots=16, sequence=True)
    rng = np.random.default_rng(6)
    ep = patterns(rng, 8, 64)
    cues = flip(rng, ep, 0.2)
    z = np.zeros((9, 64))
    _, out = _seq_run(area, run, np.concatenate([ep, z]), [1] * 8, cue=np.concatenate([z[:8], cues]), T=17)
    nxt = np.asarray(out["next"][8:16])
    assert np.mean(overlaps(nxt[:7], ep[1:])) > 0.95
    assert np.abs(nxt[7]).sum() < 1e-3                    # the last state has no successor


def test_memories_are_declared_lifelong_activity_is_not():
    area, _ = area_runner(size=8, slots=2, sequence=True)
    state = area.initial_state()
    assert set(area.lifelong) < set(state)
    assert {"memory", "ca3", "valid", "succ", "pred"} <= set(area.lifelong)
    assert not {"replay_slot", "prev_slot", "replay_reverse"} & set(area.lifelong)
