"""thalamus: gating, attention gain, leaky impulse response with tau, learning a periodic sequence."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from brainsim.testing import check_area, fit_area, make_area, run_area


@pytest.mark.parametrize("config", [{}, {"cell": "gru", "channels": 2, "hidden": 8, "tau": 2.0}])
def test_contract(config):
    check_area("thalamus", **config)


def test_gate_zero_blocks_gate_one_passes_per_channel_group():
    area = make_area("thalamus", dims={"input": 4}, channels=2, hidden=5)
    params, state = area.init(jax.random.key(0))
    x = jnp.array([1.0, -2.0, 3.0, 4.0])
    _, out = area.step(params, state, {"input": x, "gate": jnp.array([0.0, 1.0])}, key=jax.random.key(0))
    np.testing.assert_array_equal(out["relay"], [0.0, 0.0, 3.0, 4.0])
    _, out = area.step(params, state, {"input": x, "gate": jnp.array([0.0, 0.0])}, key=jax.random.key(0))
    np.testing.assert_array_equal(out["relay"], 0.0)
    np.testing.assert_array_equal(out["state"], np.asarray(jnp.tanh(params["w"]["bias"].value)) / 5.0)
    _, out = area.step(params, state, {"input": x}, key=jax.random.key(0))  # unconnected gate: open
    np.testing.assert_array_equal(out["relay"], x)
    _, out = area.step(params, state, {"input": x, "attention": jnp.array([2.0, 0.5])}, key=jax.random.key(0))
    np.testing.assert_allclose(out["relay"], [2.0, -4.0, 1.5, 2.0])


@pytest.mark.parametrize("tau", [2.0, 8.0])
def test_impulse_response_decays_with_tau(tau):
    area = make_area("thalamus", dims={"input": 3}, hidden=3, tau=tau)
    params, _ = area.init(jax.random.key(0))
    m = area.module(params)  # linear regime: W = 0.1 I, no recurrence, no bias
    m.w.kernel.value = 0.1 * jnp.eye(3)
    m.w.bias.value = jnp.zeros(3)
    m.u.kernel.value = jnp.zeros((3, 3))
    params = nnx.state(m)
    T = 30
    x = jnp.zeros((T, 1, 3)).at[0, 0].set(1.0)
    _, outs, _ = run_area(area, params, {"input": x}, jax.random.key(0))
    s = np.asarray(outs["state"])[:, 0, 0]
    rates = s[2:] / s[1:-1]
    np.testing.assert_allclose(rates, 1.0 - 1.0 / tau, rtol=1e-4)  # s_t = (1 - 1/tau)^t s_1
    assert s[0] > 0


def test_prediction_cost_learns_a_periodic_sequence():
    area = make_area("thalamus", dims={"input": 4}, hidden=16, tau=1.0)
    period = np.eye(4, dtype=np.float32)[[0, 1, 2, 3]]
    seq = np.tile(period, (6, 1))[:, None, :]  # [24, 1, 4]
    batch = lambda step: ({"input": np.repeat(seq, 4, axis=1)}, {})
    params, hist = fit_area(area, batch, {"prediction": 1.0}, steps=150, optimizer=optax.adam(0.03))
    assert hist[-1]["prediction"] < 0.1 * hist[0]["prediction"]
    _, outs, _ = run_area(area, params, {"input": seq}, jax.random.key(0))
    pred = np.asarray(outs["prediction"])[:-1, 0]
    assert (pred.argmax(-1) == seq[1:, 0].argmax(-1)).mean() == 1.0  # predicts every next item
