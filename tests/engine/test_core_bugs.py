"""Regression tests for the engine-core bugs of issue 8 (each failed before its fix)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from brainsim.brain import from_yaml
from brainsim.errors import WiringError
from brainsim.step import step_key, stream_key

RNN = """
name: small
inputs: {x: 3, y: 2}
areas:
  NAME: {type: rnn, hidden: 5}
  motor: {type: readout, size: 2, RULE OPT costs: {supervised: {target: y}}}
connections:
  - x -> NAME.input
  - {from: NAME.h, to: motor.input, delay: 1}
outputs: {out: motor.output}
"""


def _wiring(name="rnn", rule="", opt=""):
    return RNN.replace("NAME", name).replace("RULE", rule).replace("OPT", opt)


def _batch(T=6, B=2, seed=0):
    rng = np.random.default_rng(seed)
    return {"x": rng.normal(size=(T, B, 3)).astype(np.float32), "y": rng.normal(size=(T, B, 2)).astype(np.float32)}


def test_init_state_made_under_eval_shape_does_not_leak_tracers_into_run():
    brain = from_yaml(_wiring())
    params, _ = brain.init(jax.random.key(0), batch=2)
    jax.eval_shape(lambda: brain.init_state(2))  # as scenarios/twelve_ax.py does when matching sizes
    state = brain.init_state(2)
    assert not any(isinstance(x, jax.core.Tracer) for x in jax.tree.leaves(state))
    _, trace = brain.run(params, state, {"x": _batch()["x"], "y": _batch()["y"]}, jax.random.key(1))
    assert np.all(np.isfinite(np.asarray(trace["out"])))


def _motor_after_5_steps(rule):
    brain = from_yaml(_wiring(rule=rule, opt="optimizer: {adamw: {learning_rate: 0.1, weight_decay: 0.5}},"))
    params, state = brain.init(jax.random.key(0), batch=2)
    opt = brain.init_opt_state(params)
    p = params
    for i in range(5):
        p, opt, _, m = brain.train_step(p, opt, state, _batch(seed=i), jax.random.key(i), i)
    return jax.tree.leaves(params["areas"]["motor"]), jax.tree.leaves(p["areas"]["motor"])


def test_rule_none_with_adamw_keeps_params_bit_identical():
    before, after = _motor_after_5_steps("rule: none,")
    assert before and all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(before, after))
    before, after = _motor_after_5_steps("rule: backprop,")  # control: the same area learns with a rule
    assert any(not np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(before, after))


@pytest.mark.parametrize("name", ["finite", "loss", "t", "areas", "delays"])
def test_area_names_colliding_with_internal_keys_train_and_report(name):
    brain = from_yaml(_wiring(name=name).replace("motor: {type: readout, size: 2,",
                                                 "motor: {type: readout, size: 2, credit: global,"))
    params, state = brain.init(jax.random.key(0), batch=2)
    opt = brain.init_opt_state(params)
    _, _, _, m = brain.train_step(params, opt, state, _batch(), jax.random.key(0), 0)
    assert set(m) == {"loss", "motor/supervised", "finite"}
    assert bool(m["finite"]) and np.isfinite(float(m["loss"]))
    diag = brain.diagnose(params, state, _batch(), jax.random.key(0), 0)
    assert bool(diag[f"finite:{name}.h"]) and bool(diag["finite:motor.output"])


def test_misspelled_option_of_an_area_cost_term_is_a_wiring_error_with_location():
    text = """
name: typo
inputs: {x: 4}
areas:
  cortex:
    type: cortex
    hidden: 3
    costs: {reconstruction: {wieght: 0.0}}
connections:
  - x -> cortex.input
"""
    with pytest.raises(WiringError) as e:
        from_yaml(text, "typo.yaml")
    msg = str(e.value)
    assert msg.startswith("typo.yaml:8:")
    assert "no option 'wieght'" in msg and "did you mean 'weight'" in msg


def test_misspelled_option_of_a_generic_cost_term_suggests_weight():
    text = _wiring().replace("supervised: {target: y}", "supervised: {target: y, wieght: 2.0}")
    with pytest.raises(WiringError, match="did you mean 'weight'"):
        from_yaml(text, "typo.yaml")


def test_no_key_is_reused_in_a_long_episode():
    key = jax.random.key(3)
    T = 12_000
    steps = jax.vmap(lambda i: jax.random.key_data(step_key(key, i)))(jnp.arange(T))
    rules = jax.random.key_data(stream_key(key, "rules"))
    data = {tuple(np.asarray(k).tolist()) for k in steps}
    assert len(data) == T  # every step its own key
    assert tuple(np.asarray(rules).tolist()) not in data  # the rules' stream never meets a step key
    # and the brain's run uses exactly these step keys: a noisy area differs at every step of a long episode
    brain = from_yaml("""
name: noisy
inputs: {x: 2, g: 1}
areas:
  wm: {type: working_memory, slots: 1, width: 2, decay: 1.0, noise: 1.0}  # read = this step's noise
connections:
  - x -> wm.write
  - g -> wm.gate
outputs: {read: wm.read}
""")
    params, state = brain.init(jax.random.key(0), batch=1)
    x = np.zeros((T, 1, 2), np.float32)
    _, trace = brain.run(params, state, {"x": x, "g": x[..., :1]}, key)
    noise = np.asarray(trace["read"])[:, 0]
    assert len({tuple(np.round(v, 6)) for v in noise}) == T
