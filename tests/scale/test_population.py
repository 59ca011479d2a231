"""Populations: P brains in one compiled program equal P separate runs; exact resume; grouping."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from brainsim import load
from brainsim.checkpoint import Checkpointer
from brainsim.errors import ScenarioError
from brainsim.population import Population, group_members, member, parse_seeds

from _tiny import batch, write_tiny

# members: seed 0 and seed 1 of the wiring as it is, seed 2 with another learning rate and cost weight
MIXED = {"optimizer.adam.learning_rate": 3.0e-3, "areas.out.costs.supervised.weight": 0.5}
OVERRIDES = [None, None, MIXED]
T, B, STEPS = 6, 4, 3


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The wiring path, its brain and a 3-member population (compiled once for the module)."""
    wiring = write_tiny(tmp_path_factory.mktemp("tiny"))
    return wiring, Population.from_wiring(wiring, OVERRIDES)


def _separate_run(brain, key, batches):
    params, _ = brain.init(key)
    opt = brain.init_opt_state(params)
    losses = []
    for s, b in enumerate(batches):
        params, opt, _, m = brain.train_step(params, opt, brain.init_state(B), b, jax.random.fold_in(key, s), s)
        losses.append(float(m["loss"]))
    return params, opt, losses


def test_population_members_equal_separate_runs_seeds_learning_rates_cost_weights(tiny):
    wiring, pop = tiny
    assert sorted(pop.hyper["cost"]) == ["out/supervised"] and "core/0" in pop.hyper["lr"]
    keys = jnp.stack([jax.random.key(s) for s in (0, 1, 2)])
    data = [batch(np.random.default_rng(s), T, B, lead=(3,)) for s in range(STEPS)]
    params, opt = pop.init(keys)
    res = pop.fit(params, opt, lambda s: data[s], STEPS, keys, log_every=1)
    assert pop.trace_count == 1  # one compilation for every member and every step
    assert res.failed == {}
    brains = {None: pop.brain, "mixed": load(wiring, MIXED)}  # members 0 and 1 share one separate brain
    for i, ov in enumerate(OVERRIDES):
        p, o, losses = _separate_run(brains[ov and "mixed"], keys[i], [{k: v[i] for k, v in d.items()} for d in data])
        np.testing.assert_allclose([h["loss"] for h in res.history[i]], losses, rtol=1e-6, atol=1e-6)
        for a, b in zip(jax.tree.leaves((p, o)), jax.tree.leaves((member(res.params, i), member(res.opt_state, i)))):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-6)
    # the members really differ (seeds, learning rate, cost weight all act)
    assert len({round(h[-1]["loss"], 6) for h in res.history}) == 3


class _Killed(Exception):
    pass


def test_population_checkpoint_and_exact_resume(tiny, tmp_path):
    _, pop = tiny
    keys = jnp.stack([jax.random.key(5), jax.random.key(6), jax.random.key(7)])

    def run(directory, resume, kill_at=None):
        rngs = {f"m{i}": np.random.default_rng(10 + i) for i in range(3)}

        def batch_fn(step):
            if step == kill_at:
                raise _Killed  # the job dies after its step-2 checkpoint
            parts = [batch(rngs[f"m{i}"], T, B) for i in range(3)]
            return {k: np.stack([p[k] for p in parts]) for k in parts[0]}

        params, opt = pop.init(keys)
        return pop.fit(params, opt, batch_fn, 4, keys, checkpointer=Checkpointer(directory, every=2),
                       resume=resume, rngs=rngs, log_every=1), rngs

    whole, rw = run(tmp_path / "a", False)
    with pytest.raises(_Killed):
        run(tmp_path / "b", False, kill_at=2)
    resumed, rr = run(tmp_path / "b", True)
    assert resumed.steps == 4 and [h["step"] for h in resumed.history[0]] == [2, 3]
    for a, b in zip(jax.tree.leaves((whole.params, whole.opt_state)),
                    jax.tree.leaves((resumed.params, resumed.opt_state))):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))  # bit for bit
    assert [h["loss"] for h in whole.history[1][2:]] == [h["loss"] for h in resumed.history[1]]
    assert rw["m1"].bit_generator.state == rr["m1"].bit_generator.state
    assert Checkpointer(tmp_path / "b").read_meta()["done"] is True


def test_a_nan_member_is_reported_and_the_others_train_on(tiny):
    _, pop = tiny
    lr = {k: np.asarray(v) for k, v in pop.hyper["lr"].items()}
    lr["core/0"] = np.asarray([1.0e-2, np.nan, 3.0e-3], np.float32)
    sick = pop.with_hyper({"cost": pop.hyper["cost"], "lr": lr})
    keys = jnp.stack([jax.random.key(0)] * 3)
    params, opt = sick.init(keys)
    data = batch(np.random.default_rng(0), T, B, lead=(3,))
    res = sick.fit(params, opt, lambda s: data, 2, keys, log_every=1)
    assert res.failed == {1: 1}  # the NaN learning rate poisons member 1's params in its first update
    for i in (0, 2):
        assert all(np.isfinite(np.asarray(x[i])).all() for x in jax.tree.leaves(res.params))
        assert res.history[i][-1]["finite"] is True
    assert res.history[1][-1]["finite"] is False


def test_members_that_differ_in_shape_need_separate_programs(tmp_path):
    wiring = write_tiny(tmp_path)
    specs = [load(wiring, o).spec for o in (None, {"areas.core.hidden": 7}, {"optimizer.adam.learning_rate": 0.1},
                                            {"areas.core.hidden": 7, "areas.out.costs.supervised.weight": 2.0})]
    assert group_members(specs) == [[0, 2], [1, 3]]
    with pytest.raises(ScenarioError, match="separate programs"):
        Population.from_brains([load(wiring), load(wiring, {"areas.core.hidden": 7})])


def test_seed_ranges():
    assert parse_seeds("0-3") == [0, 1, 2, 3]
    assert parse_seeds("0,3,7-9") == [0, 3, 7, 8, 9]
    with pytest.raises(ScenarioError, match="--seeds"):
        parse_seeds("3-1")
    with pytest.raises(ScenarioError, match="twice"):
        parse_seeds("1,1")
