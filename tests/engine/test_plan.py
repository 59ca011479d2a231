"""The frozen step plan and the jit boundary (issue 8): static, hashable, plain pytrees, lean delay lines."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import jax
import numpy as np
import pytest

from brainsim.brain import from_yaml, load
from brainsim.bench import random_batch
from brainsim.plan import StepPlan

WIRING = Path(__file__).resolve().parents[2] / "wiring"

DELAY1 = """
name: d1
inputs: {x: 3, y: 2}
areas:
  r: {type: rnn, hidden: 4}
  o: {type: readout, size: 2, costs: {supervised: {target: y}}}
connections:
  - x -> r.input
  - {from: r.h, to: o.input, delay: 1}
outputs: {out: o.output}
"""


def test_plan_is_frozen_and_hashable():
    brain = load(WIRING / "pbwm.yaml")
    plan = brain.plan
    assert isinstance(plan, StepPlan) and hash(plan) == hash(plan)
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.name = "other"
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.areas[0].replicas = 3
    # schedule order: an area comes after every zero-delay source feeding it
    order = [a.name for a in plan.areas]
    for a in plan.areas:
        for e in a.edges:
            if e.delay == 0 and e.src.port is not None:
                assert order.index(e.src.node) < order.index(a.name)


def test_params_and_state_at_the_jit_boundary_are_plain_dicts():
    brain = load(WIRING / "pbwm.yaml")
    params, state = brain.init(jax.random.key(0), batch=2)
    opt = brain.init_opt_state(params)
    for tree in (params, state, opt):
        for path, _ in jax.tree_util.tree_flatten_with_path(tree)[0]:
            assert all(isinstance(k, (jax.tree_util.DictKey, jax.tree_util.SequenceKey, jax.tree_util.GetAttrKey))
                       for k in path), path
    assert state["t"].shape == ()  # one clock for the batch


def test_fixed_leaves_never_train_and_learned_ones_do():
    brain = load(WIRING / "motor.yaml")  # the cerebellum's granule expansion is Fixed
    params, state = brain.init(jax.random.key(0), batch=2)
    opt = brain.init_opt_state(params)
    p = params
    for i in range(3):
        p, opt, _, _ = brain.train_step(p, opt, state, random_batch(brain, 2, 5, jax.random.key(i)),
                                        jax.random.key(i), i)
    fixed = [(n, path) for a in brain.plan.areas for n in [a.name]
             for path, _ in jax.tree_util.tree_flatten_with_path(params["areas"][n])[0]
             if tuple(getattr(k, "key", getattr(k, "idx", None)) for k in path) not in a.learned]
    assert fixed, "expected Fixed leaves in the motor wiring"
    flat_before = dict(jax.tree_util.tree_flatten_with_path(params)[0])
    flat_after = dict(jax.tree_util.tree_flatten_with_path(p)[0])
    learned_moved = False
    for path, before in flat_before.items():
        keys = tuple(getattr(k, "key", getattr(k, "idx", None)) for k in path)
        if keys[0] != "areas":
            continue
        area = brain.plan.area(keys[1])
        same = np.array_equal(np.asarray(before), np.asarray(flat_after[path]))
        if keys[2:] in area.learned:
            learned_moved |= not same
        else:
            assert same, f"Fixed leaf {keys} changed"
    assert learned_moved


def test_delay_one_edges_compile_without_gather_or_scatter():
    brain = from_yaml(DELAY1)
    params, state = brain.init(jax.random.key(0), batch=2)
    batch = brain.check_inputs(random_batch(brain, 2, 7, jax.random.key(1)))
    hlo = brain._run.lower(params, state, batch, jax.random.key(2)).compile().as_text()
    assert " gather(" not in hlo and " scatter(" not in hlo


def test_second_call_does_not_recompile_and_checks_are_cached_by_shape():
    brain = from_yaml(DELAY1)
    params, state = brain.init(jax.random.key(0), batch=2)
    opt = brain.init_opt_state(params)
    for i in range(3):
        params, opt, out_state, m = brain.train_step(params, opt, state, random_batch(brain, 2, 7, jax.random.key(i)),
                                                     jax.random.key(i), i)
        assert out_state is None  # the final state only when asked
    assert brain.trace_count == 1 and len(brain._input_checks) == 1
    _, _, out_state, _ = brain.train_step(params, opt, state, random_batch(brain, 2, 7, jax.random.key(9)),
                                          jax.random.key(9), 9, return_state=True)
    assert int(out_state["t"]) == 7


def test_cached_input_checks_still_reject_a_new_bad_shape_and_convert_numpy():
    from brainsim.errors import ShapeError

    brain = from_yaml(DELAY1)
    good = random_batch(brain, 2, 7, jax.random.key(0))
    dev = {k: jax.numpy.asarray(v) for k, v in good.items()}
    first = brain.check_inputs(dev)  # validated
    assert all(first[k] is dev[k] for k in dev)
    assert brain.check_inputs(dev) is dev  # cached: float32 device arrays pass as they are
    host = {k: np.asarray(v, np.float64) for k, v in good.items()}  # same shapes, other type and dtype
    out = brain.check_inputs(host)
    assert all(isinstance(v, jax.Array) and v.dtype == np.float32 for v in out.values())
    bad = dict(dev, x=dev["x"][..., :2])
    with pytest.raises(ShapeError, match="input 'x' must have shape"):
        brain.check_inputs(bad)
