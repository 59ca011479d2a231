"""Engine behaviour: delays, gates, sums, projections, replicas, credit, batching, determinism, compilation."""

import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from brainsim.brain import from_yaml
from brainsim.learn import episode_loss, trainables


def brain_of(text):
    return from_yaml(textwrap.dedent(text))


def impulse(T, B, dim, at=0):
    x = np.zeros((T, B, dim), np.float32)
    x[at] = 1.0
    return x


# A readout with identity weights and zero bias is a pure relay: output == input.
def make_identity(params, name):
    state = params["areas"][name]
    leaves, treedef = jax.tree.flatten(state)
    new = []
    for x in leaves:
        new.append(jnp.eye(*x.shape) if x.ndim == 2 else jnp.zeros_like(x))
    params["areas"][name] = jax.tree.unflatten(treedef, new)
    return params


RELAY = """
name: relay
inputs: {x: 3, g: 1}
areas:
  a: {type: readout, size: 3}
  b: {type: readout, size: 3}
connections:
  - x -> a.input
  - {from: a.output, to: b.input, delay: DELAY}
outputs: {out: b.output}
"""


@pytest.mark.parametrize("d", [1, 3, 5])
def test_signal_crosses_delay_edge_exactly_d_steps_later(d):
    brain = brain_of(RELAY.replace("DELAY", str(d)))
    params, state = brain.init(jax.random.key(0), batch=2)
    params = make_identity(make_identity(params, "a"), "b")
    T = 10
    x = impulse(T, 2, 3, at=2)
    _, trace = brain.run(params, state, {"x": x, "g": np.zeros((T, 2, 1), np.float32)}, jax.random.key(1))
    out = np.asarray(trace["out"])
    arrival = np.nonzero(out[:, 0, 0])[0]
    assert list(arrival) == [2 + d]
    np.testing.assert_allclose(out[2 + d], x[2])


GATED = """
name: gated
inputs: {x: 3, g: 1}
areas:
  a: {type: readout, size: 3}
connections:
  - {from: x, to: a.input, gate: g}
outputs: {out: a.output}
"""


def test_closed_gate_blocks_open_gate_passes():
    brain = brain_of(GATED)
    params, state = brain.init(jax.random.key(0), batch=1)
    params = make_identity(params, "a")
    T = 4
    x = np.ones((T, 1, 3), np.float32)
    g = np.array([0, 1, 0, 1], np.float32).reshape(T, 1, 1)
    _, trace = brain.run(params, state, {"x": x, "g": g}, jax.random.key(1))
    out = np.asarray(trace["out"])[:, 0]
    np.testing.assert_array_equal(out[[0, 2]], 0.0)
    np.testing.assert_allclose(out[[1, 3]], 1.0)


def test_gate_channel_selects_one_channel_of_an_area_output():
    brain = brain_of("""
    name: chan
    inputs: {x: 2, s: 3}
    areas:
      sw: {type: readout, size: 3}
      a: {type: readout, size: 2}
    connections:
      - s -> sw.input
      - {from: x, to: a.input, gate: "sw.output[1]"}
    outputs: {out: a.output}
    """)
    params, state = brain.init(jax.random.key(0), batch=1)
    params = make_identity(make_identity(params, "sw"), "a")
    s = np.array([[1, 0, 0], [0, 1, 0], [0, 0.5, 0]], np.float32).reshape(3, 1, 3)
    x = np.ones((3, 1, 2), np.float32)
    _, trace = brain.run(params, state, {"x": x, "s": s}, jax.random.key(1))
    np.testing.assert_allclose(np.asarray(trace["out"])[:, 0, 0], [0.0, 1.0, 0.5])


def test_two_edges_into_one_port_sum_and_weight_scales():
    brain = brain_of("""
    name: sum
    inputs: {x: 2, y: 2}
    areas:
      a: {type: readout, size: 2}
    connections:
      - x -> a.input
      - {from: y, to: a.input, weight: 0.5}
    outputs: {out: a.output}
    """)
    params, state = brain.init(jax.random.key(0), batch=1)
    params = make_identity(params, "a")
    x = np.random.default_rng(0).normal(size=(5, 1, 2)).astype(np.float32)
    y = np.random.default_rng(1).normal(size=(5, 1, 2)).astype(np.float32)
    _, trace = brain.run(params, state, {"x": x, "y": y}, jax.random.key(1))
    np.testing.assert_allclose(np.asarray(trace["out"]), x + 0.5 * y, rtol=1e-5, atol=1e-6)


def test_projection_maps_dims():
    brain = brain_of("""
    name: proj
    inputs: {x: 5}
    areas:
      a: {type: rnn, hidden: 4}
      b: {type: readout, size: 3}
    connections:
      - x -> a.input
      - x -> b.input
      - {from: a.h, to: b.input, projection: linear}
    outputs: {out: b.output}
    """)
    params, state = brain.init(jax.random.key(0), batch=2)
    assert brain.areas["b"].area.in_dims["input"] == 5  # from the direct edge
    w = params["projections"]["e2"]["w"]
    assert w.shape == (4, 5)
    params = make_identity(params, "b")  # b's output = first 3 components of its summed input
    x = np.random.default_rng(0).normal(size=(6, 2, 5)).astype(np.float32)
    flow = brain.flow(params, state, {"x": x}, jax.random.key(1))
    h = np.asarray(flow["a.h"])
    expect = (x + h @ np.asarray(w))[..., :3]
    np.testing.assert_allclose(np.asarray(flow["b.output"]), expect, rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------- replicas

def test_replicas_equal_separately_declared_copies():
    K = 3
    rep = brain_of(f"""
    name: rep
    inputs: {{x: 4}}
    areas:
      col: {{type: rnn, hidden: 5, replicas: {K}}}
    connections:
      - x -> col.input
    outputs: {{out: col.h}}
    """)
    sep_areas = "\n".join(f"  col{i}: {{type: rnn, hidden: 5}}" for i in range(K))
    sep_conns = "\n".join(f"  - x -> col{i}.input" for i in range(K))
    sep_outs = ", ".join(f"o{i}: col{i}.h" for i in range(K))
    sep = from_yaml(f"name: sep\ninputs: {{x: 4}}\nareas:\n{sep_areas}\nconnections:\n{sep_conns}\n"
                    f"outputs: {{{sep_outs}}}\n")
    p_rep, s_rep = rep.init(jax.random.key(0), batch=2)
    p_sep, s_sep = sep.init(jax.random.key(1), batch=2)
    assert rep.areas["col"].out_dim("h") == K * 5
    for i in range(K):  # give the copies the replicas' parameters
        p_sep["areas"][f"col{i}"] = jax.tree.map(lambda a: a[i], p_rep["areas"]["col"])
    x = np.random.default_rng(0).normal(size=(7, 2, 4)).astype(np.float32)
    _, tr = rep.run(p_rep, s_rep, {"x": x}, jax.random.key(2))
    _, ts = sep.run(p_sep, s_sep, {"x": x}, jax.random.key(2))
    out = np.asarray(tr["out"])
    for i in range(K):
        np.testing.assert_allclose(out[..., i * 5:(i + 1) * 5], np.asarray(ts[f"o{i}"]), rtol=1e-5, atol=1e-6)
    # the replicas really differ from each other (independent init)
    assert not np.allclose(out[..., :5], out[..., 5:10])


# ---------------------------------------------------------------- credit

CREDIT = """
name: credit
inputs: {x: 3, y: 2}
areas:
  b: {type: rnn, hidden: 4, costs: {activity_l2: 1.0}}
  a:
    type: readout
    size: 2
    credit: CREDIT
    costs: {supervised: {target: y}}
connections:
  - x -> b.input
  - b.h -> a.input
outputs: {out: a.output}
"""


def _grad_of_a_cost_wrt_b(credit):
    brain = brain_of(CREDIT.replace("CREDIT", credit))
    params, state = brain.init(jax.random.key(0), batch=2)
    rng = np.random.default_rng(0)
    batch = {"x": rng.normal(size=(5, 2, 3)).astype(np.float32), "y": rng.normal(size=(5, 2, 2)).astype(np.float32)}
    train, fixed = trainables(brain.plan, params)
    batch = brain.check_inputs(batch)

    def a_cost(tb):
        _, (_, metrics, _, _) = episode_loss(brain.plan, {**train, "b": tb}, fixed, state, batch, jax.random.key(1),
                                             0, ())
        return metrics["a/supervised"]

    return jax.grad(a_cost)(train["b"])


def test_local_credit_blocks_gradient_from_other_areas_cost():
    g = _grad_of_a_cost_wrt_b("local")
    assert all(float(jnp.max(jnp.abs(x))) == 0.0 for x in jax.tree.leaves(g))


def test_global_credit_passes_gradient_from_other_areas_cost():
    g = _grad_of_a_cost_wrt_b("global")
    assert max(float(jnp.max(jnp.abs(x))) for x in jax.tree.leaves(g)) > 1e-6


# ---------------------------------------------------------------- batching, stepping, determinism

LSTM = """
name: lstm
inputs: {x: 3, y: 2}
areas:
  l: {type: lstm, hidden: 6}
  r: {type: readout, size: 2, credit: global, costs: {supervised: {target: y}}}
connections:
  - x -> l.input
  - {from: l.h, to: r.input}
  - {from: r.output, to: l.input, delay: 2, projection: linear}
outputs: {out: r.output}
"""


def _data(T=8, B=2, seed=0):
    rng = np.random.default_rng(seed)
    return {"x": rng.normal(size=(T, B, 3)).astype(np.float32), "y": rng.normal(size=(T, B, 2)).astype(np.float32)}


def test_batch_of_two_equals_two_runs_of_batch_one():
    brain = brain_of(LSTM)
    params, state2 = brain.init(jax.random.key(0), batch=2)
    data = _data()
    key = jax.random.key(3)
    _, tr2 = brain.run(params, state2, data, key)
    for b in range(2):
        one = {k: v[:, b:b + 1] for k, v in data.items()}
        _, tr1 = brain.run(params, brain.init_state(1), one, key)
        np.testing.assert_allclose(np.asarray(tr1["out"])[:, 0], np.asarray(tr2["out"])[:, b], rtol=1e-5, atol=1e-6)


def test_run_equals_python_loop_of_step():
    brain = brain_of(LSTM)
    params, state = brain.init(jax.random.key(0), batch=2)
    data = _data()
    key = jax.random.key(5)
    final, trace = brain.run(params, state, data, key)
    s = state
    outs = []
    for t in range(8):
        s, o = brain.step(params, s, {k: v[t] for k, v in data.items()}, jax.random.fold_in(key, t))
        outs.append(o["r.output"])
    np.testing.assert_allclose(np.stack(outs), np.asarray(trace["out"]), rtol=1e-5, atol=1e-6)
    for a, b in zip(jax.tree.leaves(final), jax.tree.leaves(s)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)


def test_same_seed_identical_results_and_different_seed_differs():
    def train(seed):
        brain = brain_of(LSTM)
        params, state = brain.init(jax.random.key(seed), batch=2)
        opt = brain.init_opt_state(params)
        losses = []
        for i in range(3):
            params, opt, _, m = brain.train_step(params, opt, state, _data(seed=i), jax.random.key(i), i)
            losses.append(float(m["loss"]))
        return losses, params

    l1, p1 = train(0)
    l2, p2 = train(0)
    l3, _ = train(1)
    assert l1 == l2
    for a, b in zip(jax.tree.leaves(p1), jax.tree.leaves(p2)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert l1 != l3


def test_train_step_compiles_once_and_learns():
    brain = brain_of(LSTM.replace("name: lstm", "name: lstm\noptimizer: {adam: {learning_rate: 0.03}}"))
    params, state = brain.init(jax.random.key(0), batch=2)
    opt = brain.init_opt_state(params)
    data = _data()
    first = None
    for i in range(60):
        params, opt, _, m = brain.train_step(params, opt, state, data, jax.random.key(i), i)
        first = float(m["loss"]) if first is None else first
    assert brain.trace_count == 1
    assert float(m["loss"]) < 0.5 * first


def test_rule_none_freezes_params_and_cost_schedule_changes_weight():
    brain = brain_of("""
    name: frozen
    inputs: {x: 3, y: 2}
    areas:
      r:
        type: readout
        size: 2
        rule: none
        costs:
          supervised:
            target: y
            weight: 2.0
            schedule: {linear_schedule: {init_value: 0.0, end_value: 1.0, transition_steps: 10}}
    connections: [x -> r.input]
    """)
    params, state = brain.init(jax.random.key(0), batch=2)
    opt = brain.init_opt_state(params)
    data = _data()
    p1, _, _, m0 = brain.train_step(params, opt, state, data, jax.random.key(0), 0)
    for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(p1)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    total, (_, m5, _) = brain.loss(params, state, data, jax.random.key(0), step=5)
    assert float(m0["loss"]) == 0.0  # weight 2 * schedule(0) = 0
    np.testing.assert_allclose(float(total), 2.0 * 0.5 * float(m5["r/supervised"]), rtol=1e-5)


def test_probes_select_what_the_trace_keeps():
    brain = brain_of(LSTM.replace("outputs: {out: r.output}", "probes: [l.c]\noutputs: {out: r.output}"))
    params, state = brain.init(jax.random.key(0), batch=2)
    _, trace = brain.run(params, state, _data(), jax.random.key(0))
    assert set(trace) == {"l.c", "out"}
    assert trace["l.c"].shape == (8, 2, 6)


def test_per_area_optimizer_from_yaml():
    brain = brain_of(LSTM.replace("l: {type: lstm, hidden: 6}",
                                  "l: {type: lstm, hidden: 6, optimizer: {sgd: {learning_rate: 0.0}}}"))
    params, state = brain.init(jax.random.key(0), batch=2)
    opt = brain.init_opt_state(params)
    p1, _, _, _ = brain.train_step(params, opt, state, _data(), jax.random.key(0), 0)
    same = jax.tree.map(lambda a, b: bool(jnp.all(a == b)), trainables(brain.plan, params)[0]["l"],
                        trainables(brain.plan, p1)[0]["l"])
    assert all(jax.tree.leaves(same))  # lr 0: the LSTM did not move
    assert not np.allclose(np.asarray(jax.tree.leaves(params["areas"]["r"])[0]),
                           np.asarray(jax.tree.leaves(p1["areas"]["r"])[0]))


def test_bad_input_shapes_raise_shape_error():
    from brainsim.errors import ShapeError

    brain = brain_of(LSTM)
    params, state = brain.init(jax.random.key(0), batch=2)
    with pytest.raises(ShapeError, match="missing"):
        brain.run(params, state, {"x": np.zeros((3, 2, 3))}, jax.random.key(0))
    with pytest.raises(ShapeError, match=r"input 'x' must have shape \[T, B, 3\]"):
        brain.run(params, state, {"x": np.zeros((3, 2, 4)), "y": np.zeros((3, 2, 2))}, jax.random.key(0))


def test_gate_of_the_ports_size_on_a_projected_edge_and_flow_records_channel_gates():
    brain = brain_of("""
    name: projgate
    inputs: {x: 3, g: 4, s: 2}
    areas:
      sw: {type: readout, size: 2}
      a: {type: readout, size: 4}
    connections:
      - s -> sw.input
      - {from: x, to: a.input, projection: linear, gate: g}
      - {from: x, to: a.input, projection: linear, gate: "sw.output[1]"}
      - {from: g, to: a.input, weight: 0.0}   # fixes a.input's auto dim at 4
    outputs: {out: a.output}
    """)
    params, state = brain.init(jax.random.key(0), batch=2)
    params = make_identity(make_identity(params, "sw"), "a")
    T = 3
    x = np.ones((T, 2, 3), np.float32)
    g = np.zeros((T, 2, 4), np.float32)
    g[:, :, 2] = 1.0  # only channel 2 of the first edge open
    s = np.zeros((T, 2, 2), np.float32)
    s[1, :, 1] = 0.5  # second edge half open at t = 1 only
    flow = brain.flow(params, state, {"x": x, "g": g, "s": s}, jax.random.key(0))
    w1, w2 = (np.asarray(params["projections"][k]["w"]) for k in ("e1", "e2"))
    out = np.asarray(flow["a.output"])
    np.testing.assert_allclose(out[0, 0], (x[0, 0] @ w1) * g[0, 0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out[1, 0], (x[1, 0] @ w1) * g[1, 0] + 0.5 * (x[1, 0] @ w2), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(flow["gate:e2"])[:, 0], [0.0, 0.5, 0.0])  # the selected channel
    np.testing.assert_allclose(np.asarray(flow["gate:e1"])[:, 0], [0.25, 0.25, 0.25])
