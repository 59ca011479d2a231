"""Behavioural tests of the basal_ganglia area: selection, GPR dynamics, bandit learning, dopamine TD error."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from areas.basal_ganglia import GPR_EPS, gpr_output
from brainsim.area import merge_learned, split_learned
from brainsim.costs import area_term
from brainsim.testing import check_area, fit_area, make_area, run_area

# same shapes in every case: check_area's eager steps then reuse compiled primitives (other shapes are
# covered, jitted, by the behavioural tests below)
CONFIGS = [
    {},
    {"selection": "argmax", "explore": False, "gamma": 0.5},
    {"selection": "gpr", "tau": 1.0, "gpr_steps": 4, "temperature": 0.5},
]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()) or "default")
def test_contract(config):
    check_area("basal_ganglia", **config)


def _identity_striatum(area, params):
    """Weights such that utility == context (Go = I, NoGo = 0, no biases)."""
    m = area.module(params)
    c = area.config.channels
    m.go.kernel.value = jnp.eye(area.in_dims["context"] + area.in_dims["memory"], c)
    m.go.bias.value = jnp.zeros((c,))
    m.nogo.kernel.value = jnp.zeros_like(m.nogo.kernel.value)
    m.nogo.bias.value = jnp.zeros((c,))
    return nnx.state(m)


def _area(**config):
    area = make_area("basal_ganglia", dims={"context": 4, "memory": 1}, **config)
    params, _ = area.init(jax.random.key(0))
    return area, _identity_striatum(area, params)


def test_hard_selection_picks_argmax_utility():
    area, params = _area(selection="argmax", explore=False)
    u = jax.random.normal(jax.random.key(1), (64, 4))  # utility == context
    step = lambda p, x: area.step(p, area.initial_state(), {"context": x}, key=jax.random.key(2))[1]
    out = jax.jit(jax.vmap(lambda x: step(params, x)))(u)
    want = jax.nn.one_hot(jnp.argmax(u, -1), 4)
    assert len(set(np.argmax(np.asarray(u), -1))) == 4  # every channel wins somewhere
    np.testing.assert_array_equal(out["action"], want)
    np.testing.assert_allclose(out["gate"], want, atol=1e-6)
    # straight-through: the hard gate carries the softmax gradient to the Go weights
    g = jax.jit(jax.grad(lambda p: step(p, u[0])["gate"][jnp.argmax(u[0])]))(params)
    assert float(jnp.abs(g["go"]["kernel"].value).sum()) > 1e-3


def test_exploration_samples_the_softmax_policy():
    area, params = _area(selection="softmax", temperature=0.5)
    u = jnp.array([0.0, 0.5, -0.5, 0.25])
    keys = jax.random.split(jax.random.key(4), 4000)
    outs = jax.jit(jax.vmap(lambda k: area.step(params, area.initial_state(), {"context": u}, key=k)[1]))(keys)
    freq = np.asarray(outs["action"].mean(0))
    pi = jax.nn.softmax(u / 0.5)
    np.testing.assert_allclose(outs["gate"][0], pi, rtol=1e-5)  # softmax gate: the policy itself
    np.testing.assert_allclose(freq, pi, atol=0.03)             # actions are samples of it


def test_gpr_settles_on_max_channel_and_switches():
    area, params = _area(selection="gpr", explore=False, tau=2.0, gpr_steps=10)
    u1, u2 = jnp.array([0.2, 1.0, 0.4, -0.5]), jnp.array([0.4, 0.0, -0.5, 1.2])
    run = jax.jit(lambda u, s: run_area(area, params, {"context": jnp.broadcast_to(u, (30, 1, 4))},
                                        jax.random.key(5), state=s))
    s0 = jax.tree.map(lambda x: x[None], area.initial_state())
    s1, o1, _ = run(u1, s0)
    gate = np.asarray(o1["gate"][:, 0])
    gpi = np.asarray(gpr_output(s1["gpi"][0], GPR_EPS["gpi"]))
    assert gate[0, 1] < 0.5 < gate[-1, 1]          # it takes several steps to settle: the state persists
    assert gpi.argmin() == 1 and gpi[1] < 0.5 * area.tonic()["gpi_output"][0]  # channel 1 disinhibited
    assert gate[-1, 1] > 0.9 and np.all(np.delete(gate[-1], 1) < 0.1)
    assert np.all(np.delete(gpi, 1) > area.tonic()["gpi_output"][0])  # losers pushed above tonic inhibition
    np.testing.assert_array_equal(o1["action"][-1, 0], [0, 1, 0, 0])

    s2, o2, _ = run(u2, s1)
    gate = np.asarray(o2["gate"][:, 0])
    gpi = np.asarray(gpr_output(s2["gpi"][0], GPR_EPS["gpi"]))
    assert gate[0, 1] > gate[0, 3]                  # right after the switch the old channel is still open
    assert gpi.argmin() == 3
    assert gate[-1, 3] > 0.9 and np.all(np.delete(gate[-1], 3) < 0.1)
    np.testing.assert_array_equal(o2["action"][-1, 0], [0, 0, 0, 1])


def test_bandit_policy_prefers_better_arm():
    area = make_area("basal_ganglia", dims={"context": 1, "memory": 1}, channels=2)
    params, _ = area.init(jax.random.key(0))
    learned, fixed = split_learned(params)
    terms = {"td": area_term("td"), "policy": area_term("policy")}
    pay = jnp.array([0.8, 0.2])  # arm 0 pays off more often
    T, B = 20, 16

    def episode(p, key):
        # each step's reward is for the action taken at the previous step
        def body(carry, t):
            s, r = carry
            k1, k2 = jax.random.split(jax.random.fold_in(key, t))
            s, out, c = area.step_costs(p, s, {"context": jnp.ones(1), "reward": r[None]}, k1, terms, {})
            a = jnp.argmax(out["action"])
            r_next = jax.random.bernoulli(k2, pay[a]).astype(jnp.float32)
            return (s, r_next), (c["td"] + c["policy"], a)

        _, (cost, acts) = jax.lax.scan(body, (area.initial_state(), jnp.zeros(())), jnp.arange(T))
        return cost.mean(), acts

    def batch(lp, key):
        cost, acts = jax.vmap(lambda k: episode(merge_learned(lp, fixed), k))(jax.random.split(key, B))
        return cost.mean(), acts

    opt = optax.adam(0.05)

    @jax.jit
    def train(learned, key):
        def upd(carry, k):
            lp, st = carry
            g = jax.grad(lambda q: batch(q, k)[0])(lp)
            u, st = opt.update(g, st, lp)
            return (optax.apply_updates(lp, u), st), None
        (learned, _), _ = jax.lax.scan(upd, (learned, opt.init(learned)), jax.random.split(key, 80))
        return learned

    before = float(jnp.mean(jax.jit(batch)(learned, jax.random.key(9))[1] == 0))
    learned = train(learned, jax.random.key(1))
    after = float(jnp.mean(jax.jit(batch)(learned, jax.random.key(9))[1] == 0))
    assert before < 0.7
    print(before, after)
    assert after >= 0.9, f"better arm chosen {after:.2f} of the time"


def test_dopamine_schultz_signature():
    L, K, T = 6, 4, 14   # tapped delay line of L steps; reward K steps after the cue
    area = make_area("basal_ganglia", dims={"context": L, "memory": 1}, channels=2, gamma=0.9)
    params, _ = area.init(jax.random.key(0))

    def trials(cues, rewarded=True):
        B = len(cues)
        ctx = np.zeros((T, B, L), np.float32)
        rew = np.zeros((T, B, 1), np.float32)
        for b, c in enumerate(cues):
            for j in range(L):
                ctx[c + j, b, j] = 1.0          # complete serial compound: one unit per time since cue
            rew[c + K, b, 0] = float(rewarded)
        return {"context": ctx, "reward": rew}

    run = jax.jit(lambda p, x: run_area(area, p, x, jax.random.key(1))[1]["dopamine"][:, 0, 0])

    def dopamine(p, x):
        return np.asarray(run(p, x))

    cue = 3
    da = dopamine(params, trials([cue]))
    assert da[cue + K] > 0.5                     # naive: the reward is unexpected
    assert abs(da[cue]) < 1e-6                   # and the cue predicts nothing yet

    rng = np.random.default_rng(0)
    params, hist = fit_area(area, lambda s: (trials(rng.integers(1, T - L, 16)), {}), {"td": 1.0}, steps=200,
                            optimizer=optax.adam(0.05), params=params)
    # what remains of the td cost is the cue's own, irreducible surprise: 0.5 (gamma^K)^2 / T
    assert hist[-1]["td"] < 0.5 * hist[0]["td"]
    da = dopamine(params, trials([cue]))
    assert abs(da[cue + K]) < 0.1                # the predicted reward no longer excites
    assert da[cue] > 0.4                         # the response moved to the cue (gamma^K ~ 0.66)
    assert np.all(np.abs(da[:cue]) < 0.05)       # nothing before the (unpredictable) cue
    omitted = dopamine(params, trials([cue], rewarded=False))
    assert omitted[cue + K] < -0.5               # dip at the time the omitted reward was due
    surprise = trials([cue])
    surprise["context"][:] = 0.0                 # a reward without a cue is unexpected again
    assert dopamine(params, surprise)[cue + K] > 0.5


def test_stripes_gate_each_stripe_independently():
    """PBWM selection: per-stripe Go/NoGo, gate = sigmoid(utility); several stripes may open at once."""
    area, params = _area(selection="stripes", explore=False)
    u = jnp.array([3.0, 2.5, -4.0, 0.1])
    out = jax.jit(lambda p: area.step(p, area.initial_state(), {"context": u}, key=jax.random.key(0))[1])(params)
    np.testing.assert_allclose(out["gate"], jax.nn.sigmoid(u), rtol=1e-5)
    np.testing.assert_array_equal(out["action"], [1.0, 1.0, 0.0, 1.0])  # two (here three) stripes open together
    # exploring: each stripe is an independent Bernoulli draw with p = gate
    area_e, params_e = _area(selection="stripes", explore=True)
    keys = jax.random.split(jax.random.key(3), 2000)
    acts = jax.jit(jax.vmap(lambda k: area_e.step(params_e, area_e.initial_state(), {"context": u}, key=k)[1]["action"]))(keys)
    np.testing.assert_allclose(np.asarray(acts).mean(0), jax.nn.sigmoid(u), atol=0.04)
