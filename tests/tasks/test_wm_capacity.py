"""wm_capacity quick mode: an S-slot working memory and a compare area give Cowan's K = min(N, S)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from brainsim import run_scenario
from brainsim.testing import make_area


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("wm") / "r"
    return run_scenario("wm_capacity", quick=True, out=out, progress=False), out


def test_quick_capacity_follows_min_of_set_size_and_slots(quick):
    s, out = quick
    k = s["metrics"]["K"]["4"]
    assert s["passed"], s["metrics"]["detail"]
    assert abs(k["2"] - 2) <= 0.5 and abs(k["4"] - 4) <= 0.5  # below capacity: every change is seen
    assert abs(k["8"] - 4) <= 0.5 and k["8"] < 6  # above it: K plateaus at S, far below N
    d8 = s["metrics"]["detail"]["4"]["8"]
    assert 0.35 <= d8["H"] <= 0.65 and d8["FA"] <= 0.05  # half the changes fall on unstored items
    assert (out / "figures" / "capacity.png").exists()


def test_compare_flags_a_changed_colour_only_at_a_stored_location():
    area = make_area("compare", None, slots=2, groups=3, features=2)
    params, state = area.init(jax.random.key(0))
    item = lambda loc, col: jnp.zeros((3, 2)).at[loc, col].set(1.0).reshape(-1)  # noqa: E731
    memory = jnp.concatenate([item(0, 0), item(1, 1)])
    probe_same = item(0, 0) + item(1, 1) + item(2, 0)
    probe_changed = item(0, 1) + item(1, 1) + item(2, 0)  # slot 0's location now has the other colour
    probe_unstored = item(0, 0) + item(1, 1) + item(2, 1)  # only the unstored location changed
    outs = {}
    for name, probe in (("same", probe_same), ("changed", probe_changed), ("unstored", probe_unstored)):
        _, outs[name] = area.step(params, state, {"memory": memory, "occupancy": jnp.ones(2), "probe": probe},
                                  key=jax.random.key(1))
    np.testing.assert_allclose(outs["same"]["mismatch"], 0.0, atol=1e-3)
    np.testing.assert_allclose(outs["changed"]["mismatch"], [1.0, 0.0], atol=1e-2)
    np.testing.assert_allclose(outs["unstored"]["evidence"], 0.0, atol=1e-3)
    s2, o = area.step(params, state, {"memory": memory, "occupancy": jnp.array([0.0, 1.0]), "probe": probe_changed},
                      key=jax.random.key(1))
    assert float(o["evidence"][0]) < 1e-3  # an empty slot detects nothing


def test_spotlight_visits_each_item_once_and_fills_slots_in_order():
    area = make_area("spotlight", None, groups=5, features=2, slots=2)
    params, state = area.init(jax.random.key(0))
    display = jnp.zeros((5, 2)).at[jnp.array([0, 2, 4]), 0].set(1.0).reshape(-1)  # items at 0, 2, 4
    occ, seen, gates = jnp.zeros(2), [], []
    for t in range(4):
        state, out = area.step(params, state, {"display": display, "occupancy": occ}, key=jax.random.key(t))
        seen.append(int(jnp.argmax(out["location"])) if out["location"].sum() > 0 else -1)
        gates.append(np.asarray(out["gate"]))
        occ = jnp.maximum(occ, out["gate"])
    assert sorted(seen[:3]) == [0, 2, 4] and seen[3] == -1  # inhibition of return, then nothing left
    np.testing.assert_array_equal(np.stack(gates), [[1, 0], [0, 1], [0, 0], [0, 0]])  # memory full after two
