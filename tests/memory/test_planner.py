"""The planner stores each experienced transition once and plans by rollouts in its model (issue 12, item 3).

Its area contract runs in tests/areas/test_contract.py (every registered area)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from brainsim.scenarios.maze_planning import make_maze, shortest
from brainsim.testing import make_area


def test_one_walk_then_shortest_paths_and_unknown_goals_get_no_action():
    rng = np.random.default_rng(0)
    table = make_maze(rng, 4, 4, 2)
    S = 16
    area = make_area("planner", states=S, actions=4)
    params, st = area.init(jax.random.key(0))
    step = jax.jit(lambda s, x: area.step(params, s, x, key=jax.random.key(0)))
    eye = np.eye(S, dtype=np.float32)
    # a walk that only ever goes along the first half of the cells (the rest never experienced)
    pos, prev = 0, np.zeros(4, np.float32)
    for a in rng.integers(0, 4, 3000):
        st, _ = step(st, {"state": eye[pos], "action": prev, "goal": np.zeros(S, np.float32)})
        prev = np.eye(4, dtype=np.float32)[a]
        pos = int(table[pos, a])
    model = np.asarray(st["model"])
    seen = model >= 0
    assert np.array_equal(model[seen], table[seen])               # one-shot storage, and only what happened
    assert seen.all()                                              # 3000 steps explore a 4 x 4 maze
    for start, goal in ((0, 15), (5, 10), (12, 3)):
        x, steps = start, 0
        while x != goal and steps < 50:
            _, out = step(st, {"state": eye[x], "action": np.zeros(4, np.float32), "goal": eye[goal],
                               "learn": np.zeros(1, np.float32)})
            assert int(out["distance"][0]) == shortest(table, x, goal)   # imagined distance = true distance
            x, steps = int(table[x, int(np.argmax(out["action"]))]), steps + 1
        assert x == goal and steps == shortest(table, start, goal)
    # a fresh planner knows nothing: no path, no action
    _, out = step(area.initial_state(), {"state": eye[0], "action": np.zeros(4, np.float32), "goal": eye[15]})
    assert float(jnp.sum(out["action"])) == 0 and int(out["distance"][0]) == S + 1


def test_maze_planning_quick(tmp_path):
    import json

    from brainsim.scenario import run_scenario

    run_scenario("maze_planning", quick=True, out=tmp_path / "m", progress=False)
    s = json.loads((tmp_path / "m" / "summary.json").read_text())
    assert s["passed"] and s["metrics"]["max_ratio"] <= 1.2 and s["metrics"]["planner_exploration_episodes"] == 1
    assert s["metrics"]["actor_critic_episodes_to_1.2x"] is None or s["metrics"]["actor_critic_episodes_to_1.2x"] > 1
