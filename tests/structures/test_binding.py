"""binding area: HRR algebra (circular convolution, involution, unbinding) and a superposed trace."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from brainsim.areas.binding import bind, cosine, involution, random_items, unbind, unitary
from brainsim.testing import make_area, run_area


def test_bind_is_circular_convolution():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(12), rng.standard_normal(12)
    direct = np.array([sum(a[k] * b[(j - k) % 12] for k in range(12)) for j in range(12)])
    np.testing.assert_allclose(np.asarray(bind(jnp.asarray(a), jnp.asarray(b))), direct, rtol=1e-4, atol=1e-4)
    # commutative and associative, like multiplication
    c = rng.standard_normal(12)
    np.testing.assert_allclose(bind(a, b), bind(b, a), atol=1e-4)
    np.testing.assert_allclose(bind(bind(a, b), c), bind(a, bind(b, c)), atol=1e-4)


def test_involution_reverses_all_but_the_first_element():
    a = jnp.arange(6.0)
    np.testing.assert_array_equal(np.asarray(involution(a)), [0, 5, 4, 3, 2, 1])


def test_unitary_roles_unbind_exactly_random_roles_approximately():
    d = 512
    f = random_items(jax.random.key(1), 1, d)[0]
    u = unitary(jax.random.key(2), d)
    assert float(jnp.linalg.norm(u)) == pytest.approx(1.0, abs=1e-4)
    assert float(cosine(unbind(u, bind(u, f)), f[None])[0]) > 0.999
    r = random_items(jax.random.key(3), 1, d)[0]
    c = float(cosine(unbind(r, bind(r, f)), f[None])[0])
    assert 0.5 < c < 0.85  # Plate: about 1/sqrt(2) for Gaussian roles
    assert float(cosine(unbind(r, bind(r, f), exact=True), f[None])[0]) > 0.999


def _episode(area, params, k, rng):
    """Write k pairs (roles random, fillers from the vocabulary) then query each role: inputs [2k, 1, D]."""
    d = area.config.dim
    vocab = np.asarray(params["vocab"][...])
    roles = rng.standard_normal((k, 1, d)).astype(np.float32) / np.sqrt(d)
    idx = rng.choice(vocab.shape[0], size=k, replace=False)
    z = np.zeros_like(roles)
    inputs = {"role": np.concatenate([roles, z]), "filler": np.concatenate([vocab[idx][:, None], z]),
              "write": np.concatenate([np.ones((k, 1, 1)), np.zeros((k, 1, 1))]).astype(np.float32),
              "query": np.concatenate([z, roles])}
    return inputs, idx, roles


def test_trace_holds_superposed_pairs_and_cleanup_names_each_filler():
    area = make_area("binding", dim=256, vocab=100)
    params, _ = area.init(jax.random.key(0))
    inputs, idx, roles = _episode(area, params, 6, np.random.default_rng(0))
    state, out, _ = run_area(area, params, inputs, jax.random.key(1))
    sim = np.asarray(out["similarity"])[6:, 0]  # [k, vocab]
    np.testing.assert_array_equal(sim.argmax(-1), idx)
    # the clean-up memory returns the stored item itself, not the noisy unbound vector
    cleaned = np.asarray(out["cleaned"])[6:, 0]
    vocab = np.asarray(params["vocab"][...])
    np.testing.assert_allclose(cleaned, vocab[idx], atol=2e-2)
    # the trace is the sum of the bound pairs
    expect = sum(np.asarray(bind(jnp.asarray(roles[i, 0]), jnp.asarray(vocab[idx[i]]))) for i in range(6))
    np.testing.assert_allclose(np.asarray(state["trace"][0]), expect, atol=1e-4)
    # an unknown role retrieves nothing: its best match is far below a stored role's
    unknown = np.random.default_rng(9).standard_normal(256).astype(np.float32) / 16
    u = np.asarray(cosine(unbind(jnp.asarray(unknown), state["trace"][0]), jnp.asarray(vocab)))
    assert u.max() < 0.75 * sim.max(-1).min()


def test_write_gate_and_clear():
    area = make_area("binding", dim=64, vocab=8)
    params, state = area.init(jax.random.key(0))
    x = {"role": jnp.ones(64) / 8, "filler": jnp.arange(64.0) / 64, "query": jnp.zeros(64)}
    s0, _ = area.step(params, state, {**x, "write": jnp.zeros(1)}, key=jax.random.key(1))
    assert float(jnp.abs(s0["trace"]).max()) == 0.0  # write 0 stores nothing
    s1, o1 = area.step(params, state, x, key=jax.random.key(1))  # write defaults to 1
    np.testing.assert_allclose(np.asarray(s1["trace"]), np.asarray(o1["bound"]), atol=1e-6)
    s2, _ = area.step(params, s1, {**x, "write": jnp.zeros(1), "clear": jnp.ones(1)}, key=jax.random.key(2))
    assert float(jnp.abs(s2["trace"]).max()) == 0.0


def test_bad_options_name_the_option():
    from brainsim.errors import AreaError

    with pytest.raises(AreaError, match="decay"):
        make_area("binding", decay=2.0)
    with pytest.raises(AreaError, match="unbinding"):
        make_area("binding", unbinding="fourier")


def test_binding_capacity_quick(tmp_path):
    from brainsim.scenario import run_scenario

    s = run_scenario("binding_capacity", quick=True, out=tmp_path / "run", progress=False)
    assert s["passed"], s["metrics"]
    acc = s["metrics"]["accuracy"]
    assert acc["256"]["4"] >= acc["256"]["16"] and acc["128"]["8"] < acc["256"]["8"]
    assert (tmp_path / "run" / "figures" / "capacity.png").exists()
