"""curiosity_deep_sea: deep sea dynamics as bsuite defines them; the train step replays the closed loop's actions."""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np

from brainsim.tasks.deep_sea import MOVE_COST, action_mapping, env_step, observation, rollout


def test_only_the_all_right_path_opens_the_treasure_and_costs_follow_bsuite():
    size, n_max = 6, 8
    mapping = action_mapping(jax.random.key(3), n_max)
    seqs = np.array(list(itertools.product([0, 1], repeat=size)), np.int32)  # all 2^6 action sequences
    acts = np.concatenate([seqs, np.zeros((len(seqs), n_max - size), np.int32)], 1)
    cols, rewards, found = jax.vmap(lambda a: rollout(mapping, size, jnp.asarray(a)))(acts)
    found, rewards, cols = np.asarray(found), np.asarray(rewards), np.asarray(cols)
    assert found.sum() == 1  # exactly one of the 64 sequences reaches the treasure
    best = seqs[found][0]
    m = np.asarray(mapping)
    np.testing.assert_array_equal(best, [m[i, i] for i in range(size)])  # "right" in every diagonal cell
    np.testing.assert_allclose(rewards[found].sum(), 1.0 - MOVE_COST, rtol=1e-6)  # bsuite's optimal return
    np.testing.assert_allclose(rewards[found][0, :size], [-MOVE_COST / size] * (size - 1) + [1 - MOVE_COST / size],
                               rtol=1e-6)
    assert np.all(rewards[:, size:] == 0) and np.all(cols[:, size + 1:] == cols[:, size:size + 1])  # padding inert
    assert np.all((cols >= 0) & (cols < size))
    # an all-left path stays in column 0 and costs nothing
    left = np.array([1 - m[i, 0] for i in range(size)] + [0] * (n_max - size), np.int32)
    c, r, f = rollout(mapping, size, jnp.asarray(left))
    assert not bool(f) and float(np.sum(r)) == 0.0 and np.all(np.asarray(c) == 0)


def test_action_mapping_is_random_per_cell_and_right_means_the_mapped_action():
    m = np.asarray(action_mapping(jax.random.key(0), 20))
    assert 0.4 < m.mean() < 0.6 and len(np.unique(m)) == 2  # Bernoulli(0.5) per cell
    assert not np.array_equal(m, np.asarray(action_mapping(jax.random.key(1), 20)))
    mapping = jnp.asarray(m)
    for row, col in [(0, 0), (3, 2), (7, 7)]:
        a_right = int(m[row, col])
        c, r, right, _ = env_step(mapping, 10, row, col, a_right)
        assert bool(right) and int(c) == min(col + 1, 9) and np.isclose(float(r), -MOVE_COST / 10)
        c, r, right, _ = env_step(mapping, 10, row, col, 1 - a_right)
        assert not bool(right) and int(c) == max(col - 1, 0) and float(r) == 0.0
    # the observation is the one-hot cell on the padded grid, then the terminal unit
    o = np.asarray(observation(2, 1, 5, 8))
    assert o.shape == (65,) and o[2 * 8 + 1] == 1 and o.sum() == 1
    assert np.asarray(observation(5, 3, 5, 8))[-1] == 1


def test_closed_loop_actions_are_what_the_replayed_train_step_sees():
    import brainsim
    from brainsim.wiring import find_wiring
    from scenarios.curiosity_deep_sea import TERMINAL_COUNT, make_act

    n_max, size = 6, 6
    brain = brainsim.load(find_wiring("curiosity_deep_sea"), {"inputs.observation": n_max * n_max + 1,
                                                                "areas.novelty.beta": 0.5})
    params, state = brain.init(jax.random.key(0))
    state["areas"]["novelty"]["counts"] = state["areas"]["novelty"]["counts"].at[:, -1].set(TERMINAL_COUNT)
    key = jax.random.key(5)
    xs, acts, _ = jax.jit(make_act(brain, n_max))(params, state, action_mapping(jax.random.key(1), n_max), size, key)
    _, trace = brain.run(params, state, xs, key)  # the replay the train step does: same inputs, same key
    np.testing.assert_array_equal(np.asarray(trace["bg.action"])[:, 0].argmax(-1), np.asarray(acts))
    bonus = np.asarray(trace["novelty.bonus"])[:, 0, 0]
    np.testing.assert_allclose(bonus[:size], 0.5, rtol=1e-6)  # all new cells
    assert bonus[size] < 1e-5  # the terminal state is never novel


def test_quick_mode_the_count_bonus_solves_sizes_dithering_cannot(tmp_path):
    """The quick run (sizes 9-20, at most 2,200 episodes each): the novelty-bonus agent solves >= 50 % of the
    sizes within bsuite's budget, the softmax-dithering agent <= 20 % (it never finds the treasure there)."""
    from brainsim import run_scenario

    s = run_scenario("curiosity_deep_sea", quick=True, out=tmp_path / "run", progress=False)
    models = s["metrics"]["models"]
    assert s["passed"], s["metrics"]["checks"]
    assert models["curiosity_deep_sea"]["fraction_solved"] >= 0.5
    assert models["deep_sea_dither"]["fraction_solved"] <= 0.2
    assert max(models["curiosity_deep_sea"]["treasure_rate_last_100"]) > 0.9  # it then goes there reliably
