"""basal_ganglia — a gating switchboard over C channels, trained as an actor-critic.

Biological role: the basal ganglia select one of several competing channels
(actions, or working-memory stripes to update) by disinhibition: the output
nuclei (GPi/SNr) tonically inhibit every channel, and the winning channel is
released when its striatal input silences its GPi neurons (Mink 1996; Redgrave,
Prescott & Gurney 1999).  Striatal "Go" (direct, D1) and "NoGo" (indirect, D2)
populations encode how good / bad opening each channel is (Frank 2005); the
ventral striatum learns the value of the current state, and midbrain dopamine
neurons emit the temporal-difference error (Schultz, Dayan & Montague 1997).
ML analogue: an actor-critic agent (Barto, Sutton & Anderson 1983) with a
softmax policy trained by REINFORCE with the TD error as advantage
(Williams 1992) and a linear TD(0) critic (Sutton 1988).

    x = [context, memory];  Go = W_go x + b_go;  NoGo = W_nogo x + b_nogo
    utility u = Go - NoGo  [C];  policy pi = softmax(u / temperature)
    value V(s_t) = w_v . context  (zero at start: a naive animal predicts nothing)
    dopamine delta_t = r_t + gamma V(s_t) - V(s_{t-1})  (0 at an episode's first step)

Selection (``selection``):
    ``softmax``: gate = pi.
    ``argmax``: gate = one-hot(action) with a straight-through gradient (that of pi).
    ``gpr``: the rate model of Gurney, Prescott & Redgrave (2001): salience
        c = sigmoid(u / temperature) drives D1 (gain 1+lambda) and D2 (gain
        1-lambda) striatum; STN (cortical input, inhibited by GPe) excites GPe
        and GPi diffusely (summed over channels); D2 inhibits GPe; D1 and GPe
        inhibit GPi.  Leaky units ``tau da/dt = -a + drive`` with piecewise
        linear outputs ``y = clip(a - eps, 0, 1)`` are integrated with
        ``gpr_steps`` Euler substeps per brain step; the activations are state,
        so the circuit settles over several steps and switches when the
        utilities change.  gate = clip(gate_gain * (1 - y_GPi / y_GPi_tonic),
        0, 1): the selection efficiency of GPR (the relative drop of GPi output
        below its tonic level with no input), so a disinhibited channel opens
        (~1) and the others, pushed above tonic by the STN, stay closed (0).
    ``stripes``: PBWM's independent Go/NoGo competition per stripe (O'Reilly &
        Frank 2006): gate_c = sigmoid(u_c / temperature), so any number of
        stripes may update at once; the action is a multi-hot Bernoulli sample
        of the gates (``explore``) or gate > 0.5, and ``policy`` uses the
        Bernoulli log-likelihood of the previous action.
Action: sampled from pi with the step key (``explore``), else the argmax of the
    utility (``gpr``: of the gate, i.e. the channel the circuit disinhibits).
    With ``gpr`` and ``explore`` the action is the actor's sample while the
    gate stays the circuit's output (the circuit itself is deterministic).
Ports:
    in  ``context`` [auto]: cortical state (drives striatum and the critic).
        ``memory`` [auto] (optional): e.g. working-memory contents (striatum only).
        ``reward`` [1] (optional): the reward received at this step (for the
        transition s_{t-1} -> s_t, i.e. for the previous action).
    out ``gate`` [channels] in [0, 1]; ``action`` [channels] one-hot;
        ``dopamine`` [1] the TD error; ``value`` [1] V(s_t).
State: ``prev_input`` [context + memory] and ``prev_action`` [channels] (for the
    critic's and the actor's update of the previous step), ``started`` [] (0.0
    before the first step), GPR activations ``d1``, ``d2``, ``stn``, ``gpe``,
    ``gpi`` [channels] (starting at the circuit's tonic equilibrium).
Cost terms:
    ``td``: 0.5 (stop_gradient(r_t + gamma V(s_t)) - V(s_{t-1}))^2, semi-gradient TD(0).
    ``policy``: -stop_gradient(delta_t) log pi(a_{t-1} | s_{t-1}) (actor update).
    ``entropy``: -H(pi(. | s_t)) (an exploration bonus when given a positive weight).
    V(s_{t-1}) and log pi(a_{t-1} | s_{t-1}) are recomputed from the stored
    previous input with the current weights (same value as at t-1, and the
    gradient does not need to flow back through the state).
References: Gurney, Prescott & Redgrave (2001) Biol Cybern 84:401-410 and
    84:411-423; Mink (1996) Prog Neurobiol 50:381-425; Redgrave, Prescott &
    Gurney (1999) Neuroscience 89:1009-1023; Humphries & Gurney (2002) Network 13:131-156; Frank (2005)
    J Cogn Neurosci 17:51-72; Schultz, Dayan & Montague (1997) Science
    275:1593-1599; Sutton (1988) Mach Learn 3:9-44; Barto, Sutton & Anderson
    (1983) IEEE SMC 13:834-846; Williams (1992) Mach Learn 8:229-256.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from brainsim.area import Area, Port, register_area

#: output thresholds eps of the GPR units (Gurney et al. 2001b; Humphries & Gurney 2002)
GPR_EPS = {"d1": 0.2, "d2": 0.2, "stn": -0.25, "gpe": -0.2, "gpi": -0.2}
W_CTX_STN = 1.0   # cortex -> STN
W_GPE_STN = 1.0   # GPe -| STN
W_D2_GPE = 1.0    # D2 striatum -| GPe
W_D1_GPI = 1.0    # D1 striatum -| GPi
W_GPE_GPI = 0.3   # GPe -| GPi
_UNITS = ("d1", "d2", "stn", "gpe", "gpi")


def gpr_output(a, eps, xp=jnp):
    """Piecewise linear output of a GPR unit (slope 1): ``clip(a - eps, 0, 1)``."""
    return xp.clip(a - eps, 0.0, 1.0)


def gpr_drive(a: dict, c, dopamine: float, stn_weight: float, xp=jnp) -> dict:
    """The input each GPR population integrates, given activations ``a`` and salience ``c`` [C]."""
    y = {k: gpr_output(a[k], GPR_EPS[k], xp) for k in _UNITS}
    stn_total = xp.sum(y["stn"])  # STN excitation is diffuse: every channel of GPe / GPi gets the sum
    return {
        "d1": c * (1.0 + dopamine),
        "d2": c * (1.0 - dopamine),
        "stn": W_CTX_STN * c - W_GPE_STN * y["gpe"],
        "gpe": stn_weight * stn_total - W_D2_GPE * y["d2"],
        "gpi": stn_weight * stn_total - W_D1_GPI * y["d1"] - W_GPE_GPI * y["gpe"],
    }


@functools.partial(jax.jit, static_argnums=(2, 3, 4, 5))
def gpr_integrate(acts: dict, salience, dopamine: float, stn_weight: float, rate: float, steps: int) -> dict:
    """``steps`` Euler steps ``a += rate (drive - a)`` of the GPR circuit (jitted: cached across eager calls)."""

    def substep(_, a):
        d = gpr_drive(a, salience, dopamine, stn_weight)
        return {k: a[k] + rate * (d[k] - a[k]) for k in _UNITS}

    return jax.lax.fori_loop(0, steps, substep, acts)


class _Striatum(nnx.Module):
    def __init__(self, n_in, n_ctx, channels, rngs):
        init = nnx.initializers.normal(0.1)
        self.go = nnx.Linear(n_in, channels, kernel_init=init, rngs=rngs)      # D1 "Go" units
        self.nogo = nnx.Linear(n_in, channels, kernel_init=init, rngs=rngs)    # D2 "NoGo" units
        self.critic = nnx.Linear(n_ctx, 1, use_bias=False, kernel_init=nnx.initializers.zeros, rngs=rngs)


@register_area("basal_ganglia")
class BasalGanglia(Area):
    """Go/NoGo striatum, softmax / hard / GPR selection, actor-critic learning with a dopamine TD error."""

    color = "#C44E52"  # in drawings (brainsim viz)

    @dataclasses.dataclass(frozen=True)
    class Config:
        channels: int = 4  # channels (actions / stripes) the switchboard selects among
        # softmax, argmax (straight-through), gpr (GPR rate circuit) or stripes (PBWM per-stripe Go/NoGo)
        selection: Literal["softmax", "argmax", "gpr", "stripes"] = "softmax"
        temperature: float = 1.0  # softmax / sigmoid temperature of the policy and gates
        explore: bool = True  # sample the action from the policy with the step key (else take the argmax)
        gamma: float = 0.9  # TD discount factor of the critic
        tau: float = 2.0            # GPR time constant, in brain steps
        gpr_steps: int = 10         # Euler substeps of the GPR circuit per brain step
        dopamine_level: float = 0.2  # tonic dopamine lambda of the GPR striatum
        stn_weight: float = 0.8     # diffuse STN -> GPe / GPi excitation (0.8 or 0.9 in GPR)
        gate_gain: float = 2.0      # GPR gate = clip(gain * selection efficiency, 0, 1)

        def check(self):
            if self.channels < 1:
                return f"channels must be >= 1, found {self.channels}"
            if self.temperature <= 0:
                return f"temperature must be > 0, found {self.temperature}"
            if not 0.0 <= self.gamma <= 1.0:
                return f"gamma must be in [0, 1], found {self.gamma}"
            if self.tau <= 0 or not 1 <= self.gpr_steps <= 1000:
                return (f"tau must be > 0 and gpr_steps in [1, 1000] (Euler substeps per brain step), found "
                        f"tau={self.tau}, gpr_steps={self.gpr_steps}")
            if self.tau * self.gpr_steps < 1.0:
                return (f"the GPR Euler step 1/(gpr_steps*tau) = {1 / (self.tau * self.gpr_steps):.3g} "
                        "must be <= 1 for stability: raise gpr_steps or tau")
            if not 0.0 <= self.dopamine_level < 1.0:
                return f"dopamine_level must be in [0, 1), found {self.dopamine_level}"
            if self.stn_weight <= 0 or self.gate_gain <= 0:
                return f"stn_weight and gate_gain must be > 0, found {self.stn_weight}, {self.gate_gain}"
            return None

    # documented example configs: the contract suite (tests/areas/test_contract.py) checks each one
    examples = ({}, {"selection": "gpr", "gpr_steps": 5}, {"selection": "stripes", "channels": 3})
    inputs = {
        "context": Port("auto", doc="cortical state: drives striatum and critic"),
        "memory": Port("auto", required=False, doc="extra striatal input (e.g. working memory)"),
        "reward": Port(1, required=False, doc="reward for the previous action"),
    }
    outputs = {
        "gate": Port("channels", doc="per-channel gate in [0, 1]"),
        "action": Port("channels", doc="one-hot selected channel (multi-hot for stripes)"),
        "dopamine": Port(1, doc="TD error r + gamma V(s) - V(s_prev)"),
        "value": Port(1, doc="critic value V(s)"),
    }
    cost_terms = {
        "td": "semi-gradient TD(0): 0.5 (sg(r + gamma V(s_t)) - V(s_t-1))^2",
        "policy": "actor: -sg(delta) log pi(a_t-1 | s_t-1)",
        "entropy": "negative policy entropy (exploration bonus)",
    }

    # ---- helpers -----------------------------------------------------------------
    def _n_in(self):
        return self.in_dims["context"] + self.in_dims["memory"]

    def _logits(self, module, x):
        return (module.go(x) - module.nogo(x)) / self.config.temperature

    def _value(self, module, x):
        return module.critic(x[: self.in_dims["context"]])[0]

    def tonic(self) -> dict:
        """Equilibrium of the GPR circuit with no input: ``{unit: activation [C]}`` and ``gpi_output``."""
        if getattr(self, "_tonic", None) is None:
            cfg = self.config
            a = {k: np.zeros(cfg.channels) for k in _UNITS}
            c = np.zeros(cfg.channels)
            for _ in range(4000):
                d = gpr_drive(a, c, cfg.dopamine_level, cfg.stn_weight, np)
                a = {k: a[k] + 0.05 * (d[k] - a[k]) for k in _UNITS}
            a["gpi_output"] = gpr_output(a["gpi"], GPR_EPS["gpi"], np)
            self._tonic = {k: v.astype(np.float32) for k, v in a.items()}
        return self._tonic

    def _gpr(self, state, salience):
        cfg = self.config
        a = gpr_integrate({k: state[k] for k in _UNITS}, salience, cfg.dopamine_level, cfg.stn_weight,
                          1.0 / (cfg.tau * cfg.gpr_steps), cfg.gpr_steps)
        y_tonic = float(max(self.tonic()["gpi_output"][0], 1e-6))
        efficiency = 1.0 - gpr_output(a["gpi"], GPR_EPS["gpi"]) / y_tonic
        return a, jnp.clip(cfg.gate_gain * efficiency, 0.0, 1.0)

    # ---- hooks -------------------------------------------------------------------
    def build(self, rngs):
        return _Striatum(self._n_in(), self.in_dims["context"], self.config.channels, rngs)

    def initial_state(self):
        tonic = self.tonic()
        state = {"prev_input": jnp.zeros((self._n_in(),), jnp.float32),
                 "prev_action": jnp.zeros((self.config.channels,), jnp.float32),
                 "started": jnp.zeros((), jnp.float32)}
        state.update({k: jnp.asarray(tonic[k]) for k in _UNITS})
        return state

    def forward(self, module, state, inputs, key):
        cfg = self.config
        x = jnp.concatenate([inputs["context"], inputs["memory"]])
        logits = self._logits(module, x)
        pi = jax.nn.softmax(logits)
        v = self._value(module, x)
        v_prev = self._value(module, state["prev_input"])
        delta = state["started"] * (inputs["reward"][0] + cfg.gamma * v - v_prev)

        new_state = {}
        if cfg.selection == "gpr":
            acts, gate = self._gpr(state, jax.nn.sigmoid(logits))
            new_state.update(acts)
        else:
            new_state.update({k: state[k] for k in _UNITS})
        if cfg.selection == "stripes":
            gate = jax.nn.sigmoid(logits)
            p = jax.lax.stop_gradient(gate)
            action = (jax.random.uniform(key, p.shape) < p if cfg.explore else p > 0.5).astype(jnp.float32)
        elif cfg.explore:
            idx = jax.random.categorical(key, jax.lax.stop_gradient(logits))
        else:
            idx = jnp.argmax(gate if cfg.selection == "gpr" else logits)
        if cfg.selection != "stripes":
            action = jax.nn.one_hot(idx, cfg.channels, dtype=jnp.float32)
        if cfg.selection == "softmax":
            gate = pi
        elif cfg.selection == "argmax":
            gate = action + pi - jax.lax.stop_gradient(pi)  # hard forward, softmax gradient
        new_state.update(prev_input=x, prev_action=action, started=jnp.ones((), jnp.float32))
        outputs = {"gate": gate, "action": action, "dopamine": delta[None], "value": v[None]}
        return new_state, outputs

    def cost(self, term, module, ctx):
        started = ctx.state["started"]
        if term == "td":
            target = jax.lax.stop_gradient(ctx.inputs["reward"][0] + self.config.gamma * ctx.outputs["value"][0])
            v_prev = self._value(module, ctx.state["prev_input"])
            return 0.5 * started * jnp.square(target - v_prev)
        if term == "policy":
            logits = self._logits(module, ctx.state["prev_input"])
            delta = jax.lax.stop_gradient(ctx.outputs["dopamine"][0])
            a = ctx.state["prev_action"]
            if self.config.selection == "stripes":  # independent Bernoulli stripes
                logp = jnp.sum(a * jax.nn.log_sigmoid(logits) + (1 - a) * jax.nn.log_sigmoid(-logits))
                return -started * delta * logp
            return -started * delta * jnp.sum(a * jax.nn.log_softmax(logits))
        if term == "entropy":
            x = jnp.concatenate([ctx.inputs["context"], ctx.inputs["memory"]])
            logp = jax.nn.log_softmax(self._logits(module, x))
            return jnp.sum(jnp.exp(logp) * logp)
        return super().cost(term, module, ctx)
