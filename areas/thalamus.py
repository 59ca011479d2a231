"""thalamus — a gated, leaky recurrent relay between areas.

Biological role: thalamic nuclei relay signals to cortex. The relay is gated:
the basal ganglia's output nuclei (GPi/SNr) tonically inhibit thalamus, and a
"Go" decision disinhibits the channel, letting its signal through to cortex
(Alexander, DeLong & Strick 1986; O'Reilly & Frank 2006); the thalamic
reticular nucleus scales relay gain for attention (Crick 1984; Halassa &
Kastner 2017). Thalamocortical loops also hold a leaky recurrent state that
can predict the next input (Sherman & Guillery 2002).
ML analogue: an input gate (per channel group) in front of a leaky-integrator
RNN or GRU cell with a linear next-input predictor.

One step::

    relay = input * repeat(gate, n / channels) * repeat(attention, n / channels)
    s' = s + (cell(relay, s) - s) / tau         cell = tanh(W relay + U s + b)   (rnn)
                                                cell = GRU(relay, s)            (gru)
    prediction = V s' + c                       (of the next input)

Ports:
    in  ``input`` [auto]: the signal to relay (its dim must divide into ``channels`` groups).
        ``gate`` [channels] (optional, default 1 = open): per-group gate (basal ganglia).
        ``attention`` [channels] (optional, default 1): per-group gain.
    out ``relay`` [input]: the gated signal passed on; ``state`` [hidden]: the
        recurrent state; ``prediction`` [input]: the predicted next input.
State: ``s`` [hidden], ``prev_prediction`` [input], ``started`` [].
Cost terms: ``prediction`` — squared error between the prediction made at t-1
    and the input at t (the first step of an episode is not counted).
References: Alexander, DeLong & Strick (1986) Annu Rev Neurosci 9:357-381;
    Crick (1984) PNAS 81:4586-4590; Sherman & Guillery (2002) Phil Trans R Soc
    B 357:1695-1708; Halassa & Kastner (2017) Nat Neurosci 20:1669-1679;
    Cho et al. (2014) (GRU).
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import jax
import jax.numpy as jnp
from flax import nnx

from brainsim.area import Area, AreaError, Port, register_area


class _Cell(nnx.Module):
    def __init__(self, n_in, hidden, cell, rngs):
        gates = 3 if cell == "gru" else 1
        self.w = nnx.Linear(n_in, gates * hidden, rngs=rngs)
        self.u = nnx.Linear(hidden, gates * hidden, use_bias=False, rngs=rngs)
        self.readout = nnx.Linear(hidden, n_in, rngs=rngs)


@register_area("thalamus")
class Thalamus(Area):
    """Gated leaky recurrent relay with a next-input predictor."""

    color = "#937860"  # in drawings (brainsim viz)

    @dataclasses.dataclass(frozen=True)
    class Config:
        hidden: int = 32  # recurrent state units
        tau: float = 5.0  # time constant of the leaky state, in steps (1 = no leak)
        cell: Literal["rnn", "gru"] = "rnn"  # recurrent cell: rnn (tanh) or gru
        channels: int = 1  # gate / attention groups the input is split into

        def check(self):
            if self.hidden < 1 or self.channels < 1:
                return f"hidden and channels must be >= 1, found {self.hidden}, {self.channels}"
            if self.tau < 1.0:
                return f"tau must be >= 1 step (1 = no leak), found {self.tau}"
            return None

    # documented example configs: the contract suite (tests/areas/test_contract.py) checks each one
    examples = ({}, {"cell": "gru", "channels": 2})
    inputs = {
        "input": Port("auto", doc="signal to relay"),
        "gate": Port("channels", required=False, default=1.0, doc="per-group gate (1 = open)"),
        "attention": Port("channels", required=False, default=1.0, doc="per-group gain"),
    }
    outputs = {
        "relay": Port("input", doc="gated signal"),
        "state": Port("hidden", doc="recurrent state"),
        "prediction": Port("input", doc="predicted next input"),
    }
    cost_terms = {"prediction": "squared error of the previous step's prediction of this input"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        n, c = self.in_dims["input"], self.config.channels
        if n % c:
            raise AreaError(f"thalamus '{self.name}': input dim {n} does not split into {c} channel groups",
                            hint=f"use channels that divide {n}, or project the input to a multiple of {c}")

    def build(self, rngs):
        return _Cell(self.in_dims["input"], self.config.hidden, self.config.cell, rngs)

    def initial_state(self):
        n, h = self.in_dims["input"], self.config.hidden
        return {"s": jnp.zeros((h,), jnp.float32), "prev_prediction": jnp.zeros((n,), jnp.float32),
                "started": jnp.zeros((), jnp.float32)}

    def _cell(self, module, x, s):
        if self.config.cell == "rnn":
            return jnp.tanh(module.w(x) + module.u(s))
        wz, wr, wh = jnp.split(module.w(x), 3)
        uz, ur, uh = jnp.split(module.u(s), 3)
        z, r = jax.nn.sigmoid(wz + uz), jax.nn.sigmoid(wr + ur)
        return (1 - z) * jnp.tanh(wh + r * uh) + z * s

    def forward(self, module, state, inputs, key):
        rep = self.in_dims["input"] // self.config.channels
        gain = jnp.repeat(inputs["gate"] * inputs["attention"], rep)
        relay = inputs["input"] * gain
        s = state["s"] + (self._cell(module, relay, state["s"]) - state["s"]) / self.config.tau
        pred = module.readout(s)
        new_state = {"s": s, "prev_prediction": pred, "started": jnp.ones((), jnp.float32)}
        return new_state, {"relay": relay, "state": s, "prediction": pred}

    def cost(self, term, module, ctx):
        if term == "prediction":
            started = ctx.state["started"]
            err = jnp.mean(jnp.square(ctx.state["prev_prediction"] - ctx.inputs["input"]))
            return started * err, started
        return super().cost(term, module, ctx)
