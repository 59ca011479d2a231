"""lstm — a standard LSTM layer: the deep-learning baseline.

Biological role: none claimed; it is the gated recurrent network every modular
brain in brainsim is compared against (Hochreiter & Schmidhuber 1997, with the
forget gate of Gers et al. 2000).
ML analogue: ``torch.nn.LSTMCell`` / ``flax.nnx.LSTMCell``.

    i, f, o = sigmoid(W x + U h + b)  (three gates),  g = tanh(W_g x + U_g h + b_g)
    c' = f * c + i * g,  h' = o * tanh(c')

Ports:
    in  ``input`` [auto].
    out ``h`` [hidden] (hidden state), ``c`` [hidden] (cell state).
State: ``h``, ``c`` [hidden].
Cost terms: generic only.
References: Hochreiter & Schmidhuber (1997); Gers, Schmidhuber & Cummins (2000).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from flax import nnx

from brainsim.area import Area, Port, register_area


class _Cell(nnx.Module):
    def __init__(self, n_in, n_h, forget_bias, rngs):
        self.w = nnx.Linear(n_in, 4 * n_h, rngs=rngs)
        self.u = nnx.Linear(n_h, 4 * n_h, use_bias=False, rngs=rngs)
        bias = jnp.zeros((4 * n_h,)).at[n_h:2 * n_h].set(forget_bias)
        self.w.bias.value = bias


@register_area("lstm")
class LSTM(Area):
    """A standard LSTM layer with a forget gate."""

    color = "#64B5CD"  # in drawings (brainsim viz)

    @dataclasses.dataclass(frozen=True)
    class Config:
        hidden: int = 32  # LSTM units
        forget_bias: float = 1.0  # initial bias of the forget gate (1.0 keeps memories early in training)

        def check(self):
            return None if self.hidden >= 1 else f"hidden must be >= 1, found {self.hidden}"

    inputs = {"input": Port("auto", doc="drive")}
    outputs = {"h": Port("hidden", doc="hidden state"), "c": Port("hidden", doc="cell state")}

    def build(self, rngs):
        return _Cell(self.in_dims["input"], self.config.hidden, self.config.forget_bias, rngs)

    def initial_state(self):
        z = jnp.zeros((self.config.hidden,), jnp.float32)
        return {"h": z, "c": z}

    def forward(self, module, state, inputs, key):
        z = module.w(inputs["input"]) + module.u(state["h"])
        i, f, g, o = jnp.split(z, 4)
        c = jax.nn.sigmoid(f) * state["c"] + jax.nn.sigmoid(i) * jnp.tanh(g)
        h = jax.nn.sigmoid(o) * jnp.tanh(c)
        return {"h": h, "c": c}, {"h": h, "c": c}
