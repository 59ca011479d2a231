"""switchboard area: routes copy whole vectors between buffers; a swap is one step; BG routes train."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from brainsim.testing import make_area


def _load_three(area, params, state, items):
    for i in range(3):
        state, _ = area.step(params, state, {"item": items[i], "load": jnp.eye(3)[i]}, key=jax.random.key(i))
    return state


def test_copy_swap_and_compare():
    area = make_area("switchboard", buffers=3, width=4)
    params, state = area.init(jax.random.key(0))
    items = jnp.arange(12.0).reshape(3, 4) + 1.0
    state = _load_three(area, params, state, items)
    np.testing.assert_array_equal(np.asarray(state["buffers"]), np.asarray(items))
    copy_0_to_2 = jnp.zeros((3, 3)).at[2, 0].set(1.0)  # route[dst, src]
    s, out = area.step(params, state, {"route": copy_0_to_2.reshape(-1)}, key=jax.random.key(5))
    np.testing.assert_array_equal(np.asarray(s["buffers"]), np.asarray(items[jnp.array([0, 1, 0])]))
    sim = np.asarray(out["similarity"]).reshape(3, 3)
    assert sim[0, 2] > 0.999 and sim[0, 1] < 0.999 and np.allclose(np.diag(sim), 1.0, atol=1e-5)
    swap_0_1 = jnp.zeros((3, 3)).at[0, 1].set(1.0).at[1, 0].set(1.0)
    s, _ = area.step(params, state, {"route": swap_0_1.reshape(-1)}, key=jax.random.key(6))
    np.testing.assert_array_equal(np.asarray(s["buffers"]), np.asarray(items[jnp.array([1, 0, 2])]))
    # no route, no load: the buffers hold their items
    s, _ = area.step(params, state, {}, key=jax.random.key(7))
    np.testing.assert_array_equal(np.asarray(s["buffers"]), np.asarray(items))


def test_gradient_through_empty_buffers_is_finite():
    area = make_area("switchboard", buffers=2, width=3)
    params, state = area.init(jax.random.key(0))

    def f(r):
        _, out = area.step(params, state, {"route": r}, key=jax.random.key(1))
        return jnp.sum(out["similarity"]) + jnp.sum(out["read"])

    g = jax.grad(f)(jnp.full((4,), 0.5))
    assert bool(jnp.all(jnp.isfinite(g)))


def test_buffer_routing_quick(tmp_path):
    from brainsim.scenario import run_scenario

    s = run_scenario("buffer_routing", quick=True, out=tmp_path / "run", progress=False)
    assert s["passed"], s["metrics"]
    assert s["metrics"]["exact_by_command"]["copy"] >= 0.9 and s["metrics"]["exact_by_command"]["swap"] >= 0.9
    # role binding: who did what to whom, on name/role combinations never seen in training, in every frame
    roles = s["metrics"]["roles"]["held_out"]
    assert roles["correct"] >= 0.9 and min(roles["by_frame"].values()) >= 0.8, roles
    assert (tmp_path / "run" / "figures" / "role_gates.png").exists()


def test_role_sentences_hold_out_name_role_combinations():
    from brainsim.scenarios import buffer_routing as br

    rng = np.random.default_rng(0)
    vocab = rng.standard_normal((12, 16)).astype(np.float32)
    roles = rng.standard_normal((3, 16)).astype(np.float32)
    for held_out in (False, True):
        x, info = br.role_episodes(rng, 200, vocab, roles, held_out)
        t = info["targets"]  # [B, role] name or -1
        unseen = np.any((t >= 0) & (t % 3 == np.arange(3)), axis=1)
        assert np.all(unseen == held_out)  # training never puts name i in role i mod 3; every test sentence does
        # the answer at each question is the asked role's name vector; the parser sees only <name>, not the name
        q = br.T_SENT + 1
        r = info["asked"][:, 1]
        ok = t[np.arange(200), r] >= 0
        np.testing.assert_allclose(x["answer"][q][ok], vocab[t[np.arange(200), r][ok]])
        names = x["word"][:, :, :12].sum()
        assert names == 0 and x["word"][:, :, -1].sum() == (t >= 0).sum()
