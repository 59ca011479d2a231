"""working_memory: persistence, decay, slot independence, clearing, differentiable gates."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from brainsim.testing import check_area, make_area, run_area


@pytest.mark.parametrize("config", [{}, {"slots": 3, "width": 4, "decay": 0.1, "noise": 0.05}])
def test_contract(config):
    check_area("working_memory", **config)


def _hold(decay=0.0, noise=0.0, steps=100, slots=4, width=8):
    area = make_area("working_memory", slots=slots, width=width, decay=decay, noise=noise)
    params, _ = area.init(jax.random.key(0))
    item = jax.random.normal(jax.random.key(1), (width,))
    T = steps + 1
    write = jnp.broadcast_to(item, (T, 1, width))
    gate = jnp.zeros((T, 1, slots)).at[0, 0, 1].set(1.0)  # write into slot 1 at t = 0, then hold
    _, outs, _ = run_area(area, params, {"write": write, "gate": gate}, jax.random.key(2))
    read = np.asarray(outs["read"])[:, 0].reshape(T, slots, width)
    return item, read, np.asarray(outs["occupancy"])[:, 0]


def cosine(a, b):
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_item_held_for_100_steps_without_noise():
    item, read, occ = _hold()
    assert cosine(read[-1, 1], np.asarray(item)) >= 0.99
    np.testing.assert_allclose(read[-1, 1], item, rtol=1e-6)
    assert occ[-1, 1] == 1.0 and occ[-1, 0] == 0.0


def test_decay_as_configured_and_noise_degrades():
    item, read, _ = _hold(decay=0.01)
    ratio = np.linalg.norm(read[-1, 1]) / np.linalg.norm(item)
    np.testing.assert_allclose(ratio, 0.99 ** 100, rtol=1e-4)
    assert cosine(read[-1, 1], np.asarray(item)) >= 0.99  # decay shrinks, it does not rotate
    item, read, _ = _hold(noise=0.3)
    assert cosine(read[-1, 1], np.asarray(item)) < 0.9


def test_slots_are_independent_and_clear_empties_a_slot():
    area = make_area("working_memory", slots=3, width=5)
    params, state = area.init(jax.random.key(0))
    a, b = jnp.arange(5.0), -jnp.ones(5)
    s, out = area.step(params, state, {"write": a, "gate": jnp.array([1.0, 0, 0])}, key=jax.random.key(0))
    s, out = area.step(params, s, {"write": b, "gate": jnp.array([0, 0, 1.0])}, key=jax.random.key(1))
    m = np.asarray(out["read"]).reshape(3, 5)
    np.testing.assert_array_equal(m[0], a)  # writing slot 2 left slot 0 unchanged
    np.testing.assert_array_equal(m[2], b)
    np.testing.assert_array_equal(m[1], 0)
    s, out = area.step(params, s, {"write": b, "gate": jnp.zeros(3), "clear": jnp.array([1.0, 0, 0])},
                       key=jax.random.key(2))
    m = np.asarray(out["read"]).reshape(3, 5)
    np.testing.assert_array_equal(m[0], 0)
    np.testing.assert_array_equal(m[2], b)
    np.testing.assert_array_equal(out["occupancy"], [0.0, 0.0, 1.0])


def test_differentiable_in_its_gates():
    area = make_area("working_memory", slots=2, width=3)
    params, state = area.init(jax.random.key(0))
    x = jnp.array([1.0, 2.0, 3.0])

    def read_sum(gate):
        return jnp.sum(area.step(params, state, {"write": x, "gate": gate}, key=jax.random.key(0))[1]["read"][:3])

    g = jax.grad(read_sum)(jnp.array([0.3, 0.7]))
    np.testing.assert_allclose(g, [6.0, 0.0])  # d/dg0 of sum(g0 * x) = sum(x); slot 1 not read
