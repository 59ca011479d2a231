"""Each rule's update against its formula written out by hand on a tiny example.

The brains train with ``sgd(learning_rate=1)``, so one train step changes a weight by exactly minus the
rule's pseudo-gradient; the expected changes are computed here in numpy from the same inputs.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import brainsim
from brainsim.errors import WiringError

T, B, N, M = 2, 3, 4, 3

WIRING = """
name: t
inputs: {x: 4, y: 3, m: 1}
areas:
  mod: {type: readout, size: 1, rule: none}
  r:
    type: readout
    size: 3
    HIDDEN
    costs: {supervised: {target: y}}
    rule: RULE
    optimizer: {sgd: {learning_rate: 1.0}}
connections: [x -> r.input, m -> mod.input]
"""


def _brain(rule: str, hidden: str = ""):
    return brainsim.from_yaml(WIRING.replace("RULE", rule).replace("HIDDEN", hidden))


def _data(seed=0, m=None):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(T, B, N)).astype(np.float32)
    y = rng.normal(size=(T, B, M)).astype(np.float32)
    mm = np.ones((T, B, 1), np.float32) if m is None else np.asarray(m, np.float32).reshape(T, B, 1)
    return {"x": x, "y": y, "m": mm}


def _init(brain, seed=0):
    params, state = brain.init(jax.random.key(seed), batch=B)
    # the modulator area passes m through unchanged: output = 1 * m + 0
    params["areas"]["mod"]["layers"][0]["kernel"] = jnp.ones((1, 1))
    params["areas"]["mod"]["layers"][0]["bias"] = jnp.zeros((1,))
    return params, state


def _step(brain, params, state, batch, opt_state=None, step=0, key=1):
    opt_state = brain.init_opt_state(params) if opt_state is None else opt_state
    return brain.train_step(params, opt_state, state, batch, jax.random.key(key), step)


def _W(params, i=0):
    return np.asarray(params["areas"]["r"]["layers"][i]["kernel"])


def _dW(rule, hidden="", batch=None, seed=0):
    brain = _brain(rule, hidden)
    params, state = _init(brain, seed)
    batch = _data() if batch is None else batch
    new, *_ = _step(brain, params, state, batch)
    return _W(params), _W(new) - _W(params), batch


def _mean(a):
    return a.mean(axis=(0, 1))


def _xy(W, batch):
    x = batch["x"]
    return x, x @ W  # the readout's bias starts at 0


def test_hebbian_is_mean_outer_product_minus_decay():
    W, dW, b = _dW("{name: hebbian, decay: 0.3}")
    x, y = _xy(W, b)
    np.testing.assert_allclose(dW, _mean(x[..., :, None] * y[..., None, :]) - 0.3 * W, rtol=1e-4, atol=1e-6)


def test_hebbian_normalize_keeps_the_change_tangent_to_each_unit_norm():
    W, dW, b = _dW("{name: hebbian, normalize: true}")
    x, y = _xy(W, b)
    h = _mean(x[..., :, None] * y[..., None, :])
    expected = h - W * (W * h).sum(0) / (W * W).sum(0)
    np.testing.assert_allclose(dW, expected, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose((W * dW).sum(0), 0.0, atol=1e-5)


def test_oja_subspace_and_single_unit():
    W, dW, b = _dW("oja")
    x, y = _xy(W, b)
    C = _mean(y[..., :, None] * y[..., None, :])
    h = _mean(x[..., :, None] * y[..., None, :])
    np.testing.assert_allclose(dW, h - W @ C, rtol=1e-4, atol=1e-6)
    W, dW, b = _dW("{name: oja, mode: single}")
    x, y = _xy(W, b)
    for j in range(M):  # dw_j = <y_j x> - <y_j^2> w_j
        want = _mean(y[..., j:j + 1] * x) - _mean(y[..., j] ** 2) * W[:, j]
        np.testing.assert_allclose(dW[:, j], want, rtol=1e-4, atol=1e-6)


def test_sanger_unit_j_subtracts_units_up_to_j():
    W, dW, b = _dW("sanger")
    x, y = _xy(W, b)
    for j in range(M):
        resid = x - sum(y[..., k:k + 1] * W[:, k] for k in range(j + 1))
        np.testing.assert_allclose(dW[:, j], _mean(y[..., j:j + 1] * resid), rtol=1e-4, atol=1e-6)


def test_bcm_threshold_slides_towards_mean_square_and_lives_in_optimizer_state():
    brain = _brain("{name: bcm, tau_theta: 4.0, theta0: 0.5}")
    params, state = _init(brain)
    batch = _data()
    opt = brain.init_opt_state(params)
    theta0 = opt["r"]["rule"]["theta"]["layers/0/kernel"]
    np.testing.assert_allclose(theta0, 0.5)
    new, opt2, _, _ = _step(brain, params, state, batch, opt)
    W = _W(params)
    x, y = _xy(W, batch)
    phi = y * (y - 0.5)
    np.testing.assert_allclose(_W(new) - W, _mean(x[..., :, None] * phi[..., None, :]), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(opt2["r"]["rule"]["theta"]["layers/0/kernel"], 0.5 + (_mean(y ** 2) - 0.5) / 4.0,
                               rtol=1e-5)


def test_modulator_zero_gives_exactly_zero_update_for_every_rule_family():
    zero = _data(m=np.zeros((T, B)))
    for rule in ("{name: oja, modulated_by: mod.output, tau: 3.0}",  # Hebbian family, through a trace
                 "{name: backprop, modulated_by: mod.output}",  # gradient, through the local replay
                 "{name: node_perturbation, modulated_by: mod.output}"):  # perturbation
        brain = _brain(rule)
        params, state = _init(brain)
        new, *_ = _step(brain, params, state, zero)
        assert np.array_equal(_W(new), _W(params)), rule
        assert np.array_equal(np.asarray(new["areas"]["r"]["layers"][0]["bias"]),
                              np.asarray(params["areas"]["r"]["layers"][0]["bias"])), rule


def test_modulator_gates_each_step_and_eligibility_trace_carries_it_back():
    m = np.array([[0.0, 2.0, 1.0], [1.0, 0.0, -1.0]])  # [T, B]
    b = _data(m=m)
    W, dW, _ = _dW("{name: hebbian, modulated_by: mod.output}", batch=b)
    x, y = _xy(W, b)
    c = x[..., :, None] * y[..., None, :]
    np.testing.assert_allclose(dW, _mean(m[..., None, None] * c), rtol=1e-4, atol=1e-6)
    # tau: update = sum_t m_t e_t with e_t = sum_{s<=t} exp(-(t-s)/tau) c_s
    tau = 2.0
    W, dW, _ = _dW(f"{{name: hebbian, modulated_by: mod.output, tau: {tau}}}", batch=b)
    e0 = c[0]
    e1 = c[1] + np.exp(-1 / tau) * c[0]
    expected = (m[0][:, None, None] * e0 + m[1][:, None, None] * e1).sum(0) / (T * B)
    np.testing.assert_allclose(dW, expected, rtol=1e-4, atol=1e-6)


def test_modulated_backprop_with_unit_modulator_equals_backprop_through_the_local_replay():
    # a delayed edge, a projected edge and a gate: the replay must rebuild the area's inputs exactly
    text = """
name: t
inputs: {x: 4, z: 5, g: 1, y: 3, m: 1}
areas:
  mod: {type: readout, size: 1, rule: none}
  r: {type: readout, size: 3, hidden: [4], costs: {supervised: {target: y}}, RULE optimizer: {sgd: {learning_rate: 1.0}}}
connections:
  - {from: x, to: r.input, delay: 1, gate: g}
  - {from: z, to: r.input, projection: linear, weight: 0.5}
  - m -> mod.input
"""
    rng = np.random.default_rng(3)
    batch = {"x": rng.normal(size=(3, B, 4)), "z": rng.normal(size=(3, B, 5)), "g": rng.uniform(size=(3, B, 1)),
             "y": rng.normal(size=(3, B, 3)), "m": np.ones((3, B, 1))}
    out = []
    for rule in ("", "rule: {name: backprop, modulated_by: mod.output},"):
        brain = brainsim.from_yaml(text.replace("RULE", rule))
        params, state = _init(brain)
        new, *_ = _step(brain, params, state, batch)
        out.append(new)
    for a, b in zip(jax.tree.leaves(out[0]), jax.tree.leaves(out[1])):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=2e-4, atol=1e-6)


def _loss_np(W, bias, batch):
    pred = batch["x"] @ W + bias
    return 0.5 * np.mean((pred - batch["y"]) ** 2)  # the supervised term: 0.5 mean squared error


def test_serial_perturbation_changes_one_weight_by_a_finite_difference_and_cycles():
    brain = _brain("{name: serial_perturbation, sigma: 1.0e-2}")
    params, state = _init(brain)
    batch = _data()
    opt = brain.init_opt_state(params)
    W0, b0 = _W(params).astype(np.float64), np.asarray(params["areas"]["r"]["layers"][0]["bias"], np.float64)
    new, opt, _, _ = _step(brain, params, state, batch, opt)
    db = np.asarray(new["areas"]["r"]["layers"][0]["bias"]) - b0
    # the flattened order puts the bias first: weight 0 is bias[0]
    e = np.zeros(M)
    e[0] = 1e-2
    fd = (_loss_np(W0, b0 + e, batch) - _loss_np(W0, b0, batch)) / 1e-2
    np.testing.assert_allclose(db[0], -fd, rtol=2e-3)
    assert np.all(db[1:] == 0) and np.array_equal(_W(new), _W(params))
    assert int(opt["r"]["rule"]["index"]) == 1


def _grad_np(W, batch):
    pred = batch["x"] @ W
    return np.einsum("tbi,tbo->io", batch["x"], (pred - batch["y"]) / (T * B * M))


def _cos(a, b):
    return float((a * b).sum() / np.linalg.norm(a) / np.linalg.norm(b))


def test_weight_perturbation_estimates_the_gradient():
    W, dW, b = _dW("{name: weight_perturbation, sigma: 1.0e-3, samples: 1500, antithetic: true}")
    assert _cos(-dW, _grad_np(W, b)) > 0.9
    np.testing.assert_allclose(np.linalg.norm(dW), np.linalg.norm(_grad_np(W, b)), rtol=0.25)


def test_node_perturbation_estimates_the_gradient():
    # one batch of 4,000 samples: sum_b x_b dC_b xi_b / sigma^2 averages the per-sample estimates
    global B
    old, B = B, 4000
    try:
        W, dW, b = _dW("{name: node_perturbation, sigma: 1.0e-3}", batch=_data(seed=5))
        assert _cos(-dW, _grad_np(W, b)) > 0.9
    finally:
        B = old


def _fa_by_hand(params, opt, batch, direct):
    L0, L1 = (params["areas"]["r"]["layers"][i] for i in (0, 1))
    W1, b1, W2, b2 = (np.asarray(v, np.float64) for v in (L0["kernel"], L0["bias"], L1["kernel"], L1["bias"]))
    x = batch["x"]
    z1 = x @ W1 + b1
    a1 = np.tanh(z1)
    yhat = a1 @ W2 + b2
    e = (yhat - batch["y"]) / (T * B * M)
    F = np.asarray(opt["r"]["rule"]["feedback"][0], np.float64)
    back = e @ F  # FA: B_2 [d_out, d_hidden]; DFA: D_1 [d_out, d_hidden] (the same shape here)
    d1 = back * (1 - a1 ** 2)
    return np.einsum("tbi,tbo->io", x, d1), np.einsum("tbi,tbo->io", a1, e)


@pytest.mark.parametrize("rule", ["feedback_alignment", "direct_feedback_alignment"])
def test_feedback_alignment_sends_error_through_fixed_random_matrix(rule):
    brain = _brain(f"{{name: {rule}, seed: 3}}", hidden="hidden: [5]")
    params, state = _init(brain)
    batch = _data()
    opt = brain.init_opt_state(params)
    F = np.asarray(opt["r"]["rule"]["feedback"][0])
    assert F.shape == (3, 5)
    new, opt2, _, _ = _step(brain, params, state, batch, opt)
    g1, g2 = _fa_by_hand(params, opt, batch, rule.startswith("direct"))
    np.testing.assert_allclose(_W(params, 0) - _W(new, 0), g1, rtol=1e-3, atol=1e-6)
    np.testing.assert_allclose(_W(params, 1) - _W(new, 1), g2, rtol=1e-3, atol=1e-6)
    np.testing.assert_array_equal(np.asarray(opt2["r"]["rule"]["feedback"][0]), F)  # fixed


def test_kohonen_moves_units_towards_input_weighted_by_the_scheduled_neighbourhood():
    text = """
name: k
inputs: {x: 3}
areas:
  map:
    type: som
    rows: 2
    cols: 3
    rule: {name: kohonen, sigma: {linear_schedule: {init_value: 2.0, end_value: 0.5, transition_steps: 10}},
           learning_rate: {linear_schedule: {init_value: 0.5, end_value: 0.1, transition_steps: 10}}}
    optimizer: {sgd: {learning_rate: 1.0}}
connections: [x -> map.input]
"""
    brain = brainsim.from_yaml(text)
    params, state = brain.init(jax.random.key(0), batch=1)
    x = np.random.default_rng(0).uniform(size=(1, 1, 3)).astype(np.float32)
    opt = brain.init_opt_state(params)
    for step in (0, 6):  # the schedules are evaluated at the training step, in one compilation
        Wm = np.asarray(params["areas"]["map"]["weights"], np.float64)
        new, opt, _, _ = brain.train_step(params, opt, state, {"x": x}, jax.random.key(step), step)
        sigma, eta = 2.0 - 1.5 * step / 10, 0.5 - 0.4 * step / 10
        c = np.argmin(((x[0, 0] - Wm) ** 2).sum(1))
        pos = np.array([(j // 3, j % 3) for j in range(6)], float)
        h = np.exp(-((pos - pos[c]) ** 2).sum(1) / (2 * sigma ** 2))
        np.testing.assert_allclose(np.asarray(new["areas"]["map"]["weights"]) - Wm,
                                   eta * h[:, None] * (x[0, 0] - Wm), rtol=1e-4, atol=1e-6)
        params = new
    assert brain.trace_count == 1


def test_reward_modulated_is_modulator_times_post_fluctuation_times_pre():
    m = np.array([[1.0, -2.0, 0.5], [0.0, 1.0, 3.0]])
    b = _data(m=m)
    brain = _brain("{name: reward_modulated, modulated_by: mod.output, tau_baseline: 2.0}")
    params, state = _init(brain)
    opt = brain.init_opt_state(params)
    new, opt1, _, _ = _step(brain, params, state, b, opt)
    W = _W(params)
    x, y = _xy(W, b)
    np.testing.assert_allclose(_W(new) - W, _mean(m[..., None, None] * x[..., :, None] * y[..., None, :]),
                               rtol=1e-4, atol=1e-6)  # the baseline starts at 0
    np.testing.assert_allclose(opt1["r"]["rule"]["baseline"]["layers/0/kernel"], _mean(y) / 2.0, rtol=1e-5)
    with pytest.raises(WiringError, match="needs modulated_by"):
        _brain("reward_modulated")


def test_write_your_own_rule_example_from_the_readme():
    from brainsim.rules import Option, Rule, register_rule
    from brainsim.rules.base import set_path, synapses_of, zeros_like

    @register_rule("anti_hebbian_readme")
    class AntiHebbian(Rule):
        """Anti-Hebbian decorrelation: dW = -<x y^T>."""
        formula = "ΔW = −η⟨x yᵀ⟩"
        reference = "Földiák (1990) Biol Cybern 64:165"
        needs = frozenset({"pre", "post", "synapses"})
        options = (Option("gain", "float", 1.0, "scales the change", lo=0.0),)

        def update(self, ctx, state):
            pre, g = ctx.pre(), zeros_like(ctx.params)
            for s in synapses_of(ctx.area):
                x, y = pre[s.pre], ctx.outputs[s.post]
                dW = -self.config["gain"] * jnp.einsum("tb,tbi,tbo->io", ctx.weights, x, y) / x[..., 0].size
                g = {**g, "area": set_path(g["area"], s.path, -dW)}
            return g, state

    W, dW, b = _dW("{name: anti_hebbian_readme, gain: 0.5}")
    x, y = _xy(W, b)
    np.testing.assert_allclose(dW, -0.5 * _mean(x[..., :, None] * y[..., None, :]), rtol=1e-4, atol=1e-6)


# --------------------------------------------------------------------------- the graph check and option checks

def test_rule_on_an_area_that_cannot_supply_it_is_a_located_wiring_error():
    with pytest.raises(WiringError) as e:
        _brain("oja", hidden="hidden: [5]")
    msg = str(e.value)
    assert "area 'r'" in msg and "rule 'oja'" in msg and "synapse" in msg and "<string>:" in msg
    with pytest.raises(WiringError, match="map lattice"):
        _brain("kohonen")
    with pytest.raises(WiringError, match="has dim 3, a third factor must have dim 1"):
        brainsim.from_yaml(WIRING.replace("RULE", "{name: hebbian, modulated_by: r.output}").replace("HIDDEN", ""))
    with pytest.raises(WiringError, match="not an area output"):
        brainsim.from_yaml(WIRING.replace("RULE", "{name: hebbian, modulated_by: bg.dopamine}").replace("HIDDEN", ""))


@pytest.mark.parametrize("opts, match", [
    ("{name: oja, mode: sideways}", "must be one of subspace, single"),
    ("{name: weight_perturbation, sigma: -1.0}", "must be > 0.0"),
    ("{name: weight_perturbation, sigma: .nan}", "must be finite"),
    ("{name: weight_perturbation, sigma: .inf}", "must be finite"),
    ("{name: weight_perturbation, samples: 2.5}", "must be an integer"),
    ("{name: hebbian, normalize: 1}", "must be true or false"),
    ("{name: hebbian, tau: 0.0}", "must be > 0.0"),
    ("{name: hebbian, decay: 1e-3}", "must be a number"),
    ("{name: hebbian, modulated_by: dopamine}", "area.port"),
    ("{name: hebbian, decy: 0.1}", "did you mean 'decay'"),
])
def test_rule_options_are_type_and_range_checked_with_locations(opts, match):
    with pytest.raises(WiringError, match=match) as e:
        _brain(opts)
    assert str(e.value).startswith("<string>:11:")


def test_every_rule_is_listed_with_its_options():
    from brainsim.rules import RULES, rule_catalogue

    names = {r["name"] for r in rule_catalogue()}
    assert {"backprop", "none", "hebbian", "oja", "sanger", "bcm", "kohonen", "weight_perturbation",
            "serial_perturbation", "node_perturbation", "feedback_alignment", "direct_feedback_alignment",
            "reward_modulated"} <= names
    for r in rule_catalogue():
        assert r["doc"] and r["formula"] and r["reference"], r["name"]
        for name, typ, default, doc in r["options"]:
            assert doc and typ in ("float", "int", "bool", "str", "ref", "schedule")
    assert RULES["oja"]().config == {"mode": "subspace", "modulated_by": None, "tau": None}
