"""novelty area: count bonus beta / sqrt(N(s)), SimHash cells, prediction-error bonus, reward pass-through."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from brainsim.testing import make_area, run_area


def test_count_bonus_falls_as_one_over_sqrt_visits_and_a_new_state_is_novel():
    area = make_area("novelty", dims={"state": 5}, beta=0.5)
    params, _ = area.init(jax.random.key(0))
    seq = [0, 0, 0, 0, 3, 0]  # state 0 four times, then a new state, then 0 again
    x = {"state": np.eye(5, dtype=np.float32)[seq][:, None], "reward": np.ones((6, 1, 1), np.float32)}
    state, out, _ = run_area(area, params, x, jax.random.key(1))
    bonus = np.asarray(out["bonus"])[:, 0, 0]
    np.testing.assert_allclose(bonus, 0.5 / np.sqrt([1, 2, 3, 4, 1, 5]), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(out["reward"])[:, 0, 0], 1.0 + bonus, rtol=1e-5)
    np.testing.assert_array_equal(np.asarray(state["counts"][0]), [5, 0, 0, 1, 0])
    # visit = 0 looks up without counting
    _, o = area.step(params, {"counts": state["counts"][0]}, {"state": jnp.eye(5)[3], "visit": jnp.zeros(1)},
                     key=jax.random.key(2))
    assert float(o["count"][0]) == 1.0


def test_simhash_maps_near_states_to_one_cell_and_far_states_apart():
    area = make_area("novelty", dims={"state": 32}, hash="simhash", bits=12)
    params, state = area.init(jax.random.key(0))
    module = area.module(params)
    s = jax.random.normal(jax.random.key(1), (32,))
    same = area.cell(module, s) == area.cell(module, s * 3.0)  # SimHash depends on direction only
    other = jax.random.normal(jax.random.key(2), (32,))
    assert bool(same) and int(area.cell(module, s)) != int(area.cell(module, other))


def test_error_mode_bonus_is_the_mean_squared_prediction_error():
    area = make_area("novelty", dims={"state": 3, "error": 4}, mode="error", beta=2.0)
    params, state = area.init(jax.random.key(0))
    assert state == {}  # nothing to count
    _, out = area.step(params, state, {"state": jnp.zeros(3), "error": jnp.array([1.0, -1.0, 2.0, 0.0])},
                       key=jax.random.key(1))
    assert float(out["bonus"][0]) == 2.0 * 1.5
