"""planner — imagination: one-shot storage of experienced transitions, planning by mental rollouts.

Biological role: during exploration, hippocampal place-cell sequences record which place follows
which (a cognitive map, Tolman 1948; O'Keefe & Nadel 1978); at a choice point the hippocampus
plays out possible trajectories towards a goal (forward sweeps and preplay, Johnson & Redish
2007; Pfeiffer & Foster 2013 "Hippocampal place-cell sequences depict future paths to remembered
goals"), and the first step of the best imagined path is taken.  ML analogue: model-based RL with
a learned tabular transition model; planning by breadth-first rollouts backwards from the goal
(value iteration with unit costs, Bellman 1957; Dyna, Sutton 1990).

    store:  model[s_{t-1}, a_{t-1}] <- s_t            (one exposure is enough; ``learn`` > 0.5)
    plan:   d(goal) = 0; repeat: d(s) <- min(d(s), 1 + min_a d(model[s, a]))   until nothing changes
            (each sweep extends every imagined rollout by one step; capped at ``horizon`` sweeps)
    act:    a = argmin_a d(model[s, a])    (unknown transitions count as unreachable)
    imagine: the greedy rollout s -> model[s, a*] -> ... from the current state, up to ``horizon`` steps

Ports:
    in  ``state`` [states]: the current place (one-hot; argmax is taken).
        ``action`` [actions]: the action taken at the previous step (one-hot; zeros: none).
        ``goal`` [states]: the goal place (one-hot; zeros: no goal, no planning).
        ``learn`` [1] (optional, default 1): > 0.5 stores the transition (prev state, prev action) -> state.
    out ``action`` [actions]: one-hot, the first step of the best imagined path (zeros: no path known).
        ``distance`` [1]: imagined steps to the goal (``horizon + 1``: unreachable in the model).
        ``imagined`` [states]: 1 on the places the imagined rollout visits.
State: lifelong ``model`` [states, actions] int32 (-1: not experienced); episodic ``prev_state`` []
    int32 (-1: none).
Params: none.  Cost terms: none.  Costs: planning O(horizon * states * actions) per step.
References: Tolman (1948) Psychol Rev 55; Sutton (1990) ICML (Dyna); Johnson & Redish (2007)
    J Neurosci 27; Pfeiffer & Foster (2013) Nature 497; Mattar & Daw (2018) Nat Neurosci 21.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

from brainsim.area import Area, Port, register_area


@register_area("planner")
class Planner(Area):
    """A one-shot transition memory and planning by imagined rollouts to a goal."""

    color = "#C44E52"
    lifelong = ("model",)

    @dataclasses.dataclass(frozen=True)
    class Config:
        states: int = 100  # discrete states (one-hot state input and goal)
        actions: int = 4  # discrete actions (one-hot action input and plan output)
        horizon: int = 0  # rollout depth; 0: states (enough for any shortest path)

        def check(self):
            if self.states < 1 or self.actions < 1:
                return f"states and actions must be >= 1, found states={self.states}, actions={self.actions}"
            if self.horizon < 0:
                return f"horizon must be >= 0 (0: states), found {self.horizon}"
            return None

    # documented example configs: the contract suite (tests/areas/test_contract.py) checks each one
    examples = ({}, {"states": 16, "actions": 4, "horizon": 8})
    inputs = {
        "state": Port("states", doc="current place (one-hot)"),
        "action": Port("actions", doc="previous action (one-hot; zeros: none)"),
        "goal": Port("states", doc="goal place (one-hot; zeros: no goal)"),
        "learn": Port(1, required=False, default=1.0, doc="> 0.5: store the experienced transition"),
    }
    outputs = {
        "action": Port("actions", doc="first step of the best imagined path (one-hot)"),
        "distance": Port(1, doc="imagined steps to the goal (horizon + 1: unreachable)"),
        "imagined": Port("states", doc="places the imagined rollout visits"),
    }

    @property
    def horizon(self) -> int:
        return self.config.horizon or self.config.states

    def initial_state(self):
        S, A = self.config.states, self.config.actions
        return {"model": jnp.asarray(np.full((S, A), -1, np.int32)),
                "prev_state": jnp.asarray(np.full((), -1, np.int32))}

    def store(self, model, prev_s, prev_a, s, learn):
        """``model`` with the transition ``(prev_s, prev_a) -> s`` written (when known and ``learn``)."""
        ok = learn & (prev_s >= 0) & (prev_a >= 0)
        i, j = jnp.maximum(prev_s, 0), jnp.maximum(prev_a, 0)
        return model.at[i, j].set(jnp.where(ok, s, model[i, j]))

    def distances(self, model, goal):
        """Imagined steps from every place to ``goal`` ``[states]`` (``horizon + 1``: unreachable)."""
        far = self.horizon + 1
        d0 = jnp.where(jnp.arange(self.config.states) == goal, 0, far).astype(jnp.int32)
        known = model >= 0

        def sweep(d):
            nxt = jnp.where(known, d[jnp.maximum(model, 0)], far)   # [S, A]
            return jnp.minimum(d, jnp.minimum(jnp.min(nxt, axis=1) + 1, far))

        def cond(c):
            d, prev, n = c
            return (n == 0) | (jnp.any(d != prev) & (n < self.horizon))

        d, _, _ = jax.lax.while_loop(cond, lambda c: (sweep(c[0]), c[0], c[2] + 1), (d0, d0, jnp.int32(0)))
        return d

    def forward(self, module, state, inputs, key):
        return self._step(state, inputs)

    # one compiled unit even when called eagerly (eager JAX compiles every primitive on its own)
    @functools.partial(jax.jit, static_argnums=0)
    def _step(self, state, inputs):
        S, far = self.config.states, self.horizon + 1
        s = jnp.argmax(inputs["state"]).astype(jnp.int32)
        has_prev_a = jnp.any(inputs["action"] > 0)
        prev_a = jnp.where(has_prev_a, jnp.argmax(inputs["action"]), -1).astype(jnp.int32)
        model = self.store(state["model"], state["prev_state"], prev_a, s, inputs["learn"][0] > 0.5)
        has_goal = jnp.any(inputs["goal"] > 0)
        d = self.distances(model, jnp.where(has_goal, jnp.argmax(inputs["goal"]), -1))
        known = model >= 0

        def value(x):  # imagined distance after each action from place x
            return jnp.where(known[x], d[jnp.maximum(model[x], 0)], far)

        q = value(s)
        reachable = has_goal & (d[s] < far) & (d[s] > 0)
        action = jnp.where(reachable, jax.nn.one_hot(jnp.argmin(q), self.config.actions), 0.0)

        def roll(c, _):  # the greedy imagined rollout from the current place
            x, seen = c
            nx = jnp.where(d[x] > 0, model[x, jnp.argmin(value(x))], x)
            nx = jnp.where(nx >= 0, nx, x)
            return (nx, seen.at[nx].set(1.0)), None

        (_, seen), _ = jax.lax.scan(roll, (s, jnp.zeros((S,)).at[s].set(1.0)), None, length=self.horizon)
        imagined = jnp.where(reachable, seen, 0.0)
        new = {"model": model, "prev_state": s}
        return new, {"action": action, "distance": d[s].astype(jnp.float32)[None], "imagined": imagined}
