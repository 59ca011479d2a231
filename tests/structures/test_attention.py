"""attention area: object-, feature- and location-based selection; gains drive the thalamus; visual search."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

from brainsim.testing import fit_area, make_area, run_area


def _scenes(rng, n_slots, dim, batch):
    slots = rng.standard_normal((1, batch, n_slots, dim)).astype(np.float32)
    target = rng.integers(0, n_slots, size=batch)
    query = slots[0, np.arange(batch), target][None] + 0.1 * rng.standard_normal((1, batch, dim)).astype(np.float32)
    return slots.reshape(1, batch, -1), query, target, slots[0, np.arange(batch), target][None]


def test_object_attention_learns_to_select_the_slot_matching_the_template():
    area = make_area("attention", dims={"query": 8}, n_slots=4, slot_dim=8, key_dim=8, mode="object")
    rng = np.random.default_rng(0)

    def batch(step):
        s, q, _, want = _scenes(rng, 4, 8, 32)
        return {"slots": s, "query": q}, {"want": want}

    params, hist = fit_area(area, batch, {"supervised": {"target": "want", "port": "attended"}}, 300,
                            optimizer=optax.adam(3e-2))
    s, q, target, _ = _scenes(np.random.default_rng(1), 4, 8, 200)
    _, out, _ = run_area(area, params, {"slots": s, "query": q}, jax.random.key(0))
    gains = np.asarray(out["gains"])[0]
    np.testing.assert_allclose(gains.sum(-1), 1.0, atol=1e-5)
    assert np.mean(gains.argmax(-1) == target) >= 0.95
    assert hist[-1]["supervised"] < 0.2 * hist[0]["supervised"]


def test_location_attention_ignores_slot_contents_and_attended_is_the_gain_weighted_sum():
    area = make_area("attention", dims={"query": 3}, n_slots=4, slot_dim=5, mode="location")
    params, state = area.init(jax.random.key(0))
    q = jnp.array([1.0, 0.0, 0.0])
    a = jax.random.normal(jax.random.key(1), (20,))
    b = jax.random.normal(jax.random.key(2), (20,))
    _, oa = area.step(params, state, {"slots": a, "query": q}, key=jax.random.key(3))
    _, ob = area.step(params, state, {"slots": b, "query": q}, key=jax.random.key(3))
    np.testing.assert_allclose(oa["gains"], ob["gains"], atol=1e-6)
    np.testing.assert_allclose(oa["attended"], oa["gains"] @ a.reshape(4, 5), atol=1e-5)


def test_feature_attention_scales_features_by_the_query_gain():
    area = make_area("attention", dims={"query": 2}, n_slots=3, slot_dim=4, mode="feature")
    params, state = area.init(jax.random.key(0))
    params["w_f"]["bias"][...] = jnp.array([10.0, -10.0, 10.0, -10.0])  # attend features 0 and 2
    slots = jnp.ones(12)
    _, out = area.step(params, state, {"slots": slots, "query": jnp.zeros(2)}, key=jax.random.key(1))
    np.testing.assert_allclose(out["attended"], [2.0, 0.0, 2.0, 0.0], atol=1e-3)


def test_gains_drive_the_thalamus_attention_port():
    import brainsim

    brain = brainsim.from_yaml("""
name: attend_relay
inputs: {slots: 12, cue: 3}
areas:
  attention: {type: attention, n_slots: 3, slot_dim: 4, mode: location}
  thalamus: {type: thalamus, channels: 3, hidden: 4}
connections:
  - slots -> attention.slots
  - cue -> attention.query
  - slots -> thalamus.input
  - attention.gains -> thalamus.attention
probes: [attention.gains]
outputs: {relay: thalamus.relay}
""")
    params, state = brain.init(jax.random.key(0), batch=2)
    x = {"slots": np.ones((1, 2, 12), np.float32), "cue": np.eye(3, dtype=np.float32)[None, :2]}
    _, trace = brain.run(params, state, x, jax.random.key(1))
    relay, gains = np.asarray(trace["relay"])[0], np.asarray(trace["attention.gains"])[0]
    np.testing.assert_allclose(relay, np.repeat(gains, 4, axis=-1), atol=1e-5)  # input 1 times the cell's gain


def test_attention_search_quick(tmp_path):
    from brainsim.scenario import run_scenario

    s = run_scenario("attention_search", quick=True, out=tmp_path / "run", progress=False)
    assert s["passed"], s["metrics"]
    m = s["metrics"]["models"]["attention_search"]
    assert m["map_on_target"] >= 0.9 and m["samples_to_criterion"] is not None
