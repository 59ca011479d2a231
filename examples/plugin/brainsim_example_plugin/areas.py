"""leaky_integrator — a leaky integrator neuron population (an example plugin area).

Biological role: a population whose membrane integrates its input with time
constant ``tau`` (the passive RC membrane, Lapicque 1907; Dayan & Abbott 2001
ch. 5): it low-pass filters what it receives, trading latency for noise.
ML analogue: an exponential moving average, ``x_t = x_{t-1} + (u_t - x_{t-1}) / tau``,
with a learned input gain per unit.

Ports:
    in  ``input`` [auto]: the drive ``u``.
    out ``output`` [input]: the filtered signal ``x``.
State: ``x`` [input] (reset every episode).
Cost terms: ``effort`` — mean squared output (an energy cost).
References: Dayan & Abbott (2001) "Theoretical Neuroscience", MIT Press, ch. 5.
"""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
from flax import nnx

from brainsim.area import Area, Port, register_area


class _Gain(nnx.Module):
    def __init__(self, n: int):
        self.gain = nnx.Param(jnp.ones((n,), jnp.float32))


@register_area("leaky_integrator")
class LeakyIntegrator(Area):
    """Leaky integration of the input with a learned per-unit gain."""

    color = "#4C9F70"

    @dataclasses.dataclass(frozen=True)
    class Config:
        tau: float = 4.0  # membrane time constant, in steps (1 = no memory)

        def check(self):
            return None if self.tau >= 1.0 else f"tau must be >= 1 step, found {self.tau}"

    inputs = {"input": Port("auto", doc="drive")}
    outputs = {"output": Port("input", doc="the filtered signal")}
    cost_terms = {"effort": "mean squared output (energy)"}

    def build(self, rngs):
        return _Gain(self.in_dims["input"])

    def initial_state(self):
        return {"x": jnp.zeros((self.in_dims["input"],), jnp.float32)}

    def forward(self, module, state, inputs, key):
        u = module.gain[...] * inputs["input"]
        x = state["x"] + (u - state["x"]) / self.config.tau
        return {"x": x}, {"output": x}

    def cost(self, term, module, ctx):
        if term == "effort":
            return jnp.mean(jnp.square(ctx.outputs["output"]))
        return super().cost(term, module, ctx)
