"""stack area (push-down stack) and the context-free language generators it is tested on."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from brainsim.areas.stack import NOOP, POP, PUSH, stack_update
from brainsim.errors import AreaError, ScenarioError
from brainsim.tasks.structures_syntax import (
    ContextFree, anbn_string, anbn_targets, dyck2_string, dyck2_targets, strings_correct)
from brainsim.testing import make_area

EYE = jnp.eye(3)


def test_discrete_actions_are_last_in_first_out():
    s, f = jnp.full((4, 1), -1.0), jnp.zeros(4)
    for v in (1.0, 2.0, 3.0):
        s, f = stack_update(s, f, EYE[PUSH], jnp.array([v]), -1.0)
    np.testing.assert_array_equal(np.asarray(s[:, 0]), [3, 2, 1, -1])
    assert float(f.sum()) == 3
    s, f = stack_update(s, f, EYE[NOOP], jnp.array([9.0]), -1.0)
    np.testing.assert_array_equal(np.asarray(s[:, 0]), [3, 2, 1, -1])
    popped = []
    for _ in range(4):
        popped.append(float(s[0, 0]))
        s, f = stack_update(s, f, EYE[POP], jnp.array([9.0]), -1.0)
    assert popped == [3, 2, 1, -1]  # then empty
    assert float(f.sum()) == 0


def test_soft_actions_mix_the_three_outcomes_linearly():
    s = jnp.array([[1.0], [2.0], [-1.0]])
    f = jnp.array([1.0, 1.0, 0.0])
    p = jnp.array([0.5, 0.3, 0.2])
    new, nf = stack_update(s, f, p, jnp.array([7.0]), -1.0)
    push = np.array([7.0, 1.0, 2.0])
    pop = np.array([2.0, -1.0, -1.0])
    np.testing.assert_allclose(np.asarray(new[:, 0]), 0.5 * push + 0.3 * pop + 0.2 * np.array([1.0, 2.0, -1.0]))
    np.testing.assert_allclose(np.asarray(nf), 0.5 * np.array([1, 1, 1]) + 0.3 * np.array([1, 0, 0]) + 0.2 * np.asarray(f))


def test_action_modes():
    x = {"control": jax.random.normal(jax.random.key(0), (6,))}
    areas = {m: make_area("stack", actions=m, no_op=False) for m in ("soft", "hard", "straight_through")}
    params, state = areas["soft"].init(jax.random.key(1))
    outs = {m: a.step(params, state, x, key=jax.random.key(2))[1] for m, a in areas.items()}
    assert float(outs["soft"]["action"][NOOP]) == 0.0  # no_op: false
    assert set(np.asarray(outs["hard"]["action"]).tolist()) == {0.0, 1.0}
    np.testing.assert_allclose(outs["straight_through"]["action"], outs["hard"]["action"], atol=1e-6)
    # straight-through passes the softmax's gradient; hard passes none
    from brainsim.area import merge_learned, split_learned

    learned, fixed = split_learned(params)

    def top(lp, mode):
        return jnp.sum(areas[mode].step(merge_learned(lp, fixed), state, x, key=jax.random.key(2))[1]["read"])

    g_st = jax.grad(top)(learned, "straight_through")
    g_hard = jax.grad(top)(learned, "hard")
    assert float(jnp.abs(g_st["act"]["kernel"][...]).sum()) > 0
    assert float(jnp.abs(g_hard["act"]["kernel"][...]).sum()) == 0
    with pytest.raises(AreaError, match="read_depth"):
        make_area("stack", depth=4, read_depth=5)


def test_anbn_and_dyck2_targets_by_hand():
    # a a b b: after a -> {a, b}; after the 1st b -> {b}; after the 2nd -> {END}
    np.testing.assert_array_equal(anbn_targets(anbn_string(2)),
                                  [[1, 1, 0, 0, 0], [1, 1, 0, 0, 0], [0, 1, 0, 0, 0], [0, 0, 0, 0, 1]])
    # ( [ ] ) -> openers always allowed; closer of the top, or END when balanced
    np.testing.assert_array_equal(dyck2_targets([0, 2, 3, 1]),
                                  [[1, 1, 1, 0, 0], [1, 0, 1, 1, 0], [1, 1, 1, 0, 0], [1, 0, 1, 0, 1]])
    with pytest.raises(ScenarioError, match="Dyck-2"):
        dyck2_targets([0, 3])


def test_dyck2_strings_are_balanced_and_batches_are_masked():
    rng = np.random.default_rng(0)
    for n in (1, 5, 30):
        s = dyck2_string(rng, n)
        assert len(s) == 2 * n
        dyck2_targets(s)  # raises if unbalanced
        assert dyck2_targets(s)[-1, 4] == 1  # ends balanced
    task = ContextFree("dyck2", 3, 7)
    b = task.sample(np.random.default_rng(1), 8)
    assert b.inputs.shape == (14, 8, 4) and b.targets.shape == (14, 8, 5)
    np.testing.assert_array_equal(b.mask[..., 0].sum(0), b.info["lengths"])
    assert strings_correct(b.targets, b.targets, b.mask).all()
    wrong = b.targets.copy()
    wrong[0, 3, 4] = 1.0
    assert strings_correct(wrong, b.targets, b.mask).tolist() == [i != 3 for i in range(8)]
    with pytest.raises(ScenarioError, match="n_min"):
        ContextFree("anbn", 5, 2)


def test_stack_generalisation_quick(tmp_path):
    from brainsim.scenario import run_scenario

    s = run_scenario("stack_generalisation", quick=True, out=tmp_path / "run", progress=False)
    assert s["passed"], s["metrics"]
    m = s["metrics"]["languages"]["anbn"]["pushdown"]
    assert m["test_accuracy"] >= 0.5 and m["val_accuracy_per_restart"][0] >= 0.9
