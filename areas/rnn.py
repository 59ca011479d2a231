"""rnn — a vanilla (Elman) tanh recurrent layer.

Biological role: a generic recurrent cortical circuit whose activity carries
information over time through its recurrent weights.
ML analogue: the Elman network, h_t = tanh(W_in x_t + W_rec h_{t-1} + b).

Ports:
    in  ``input`` [auto]: the drive.
    out ``h`` [hidden]: the hidden state after the step.
State: ``h`` [hidden].
Cost terms: generic only (``supervised`` on ``h``, ``activity_l1``, …).
References: Elman (1990), "Finding structure in time".
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from flax import nnx

from brainsim.area import Area, Port, register_area


class _Cell(nnx.Module):
    def __init__(self, n_in, n_h, rngs):
        self.w_in = nnx.Linear(n_in, n_h, rngs=rngs)
        self.w_rec = nnx.Linear(n_h, n_h, use_bias=False, rngs=rngs,
                                kernel_init=nnx.initializers.orthogonal())


@register_area("rnn")
class RNN(Area):
    """Elman RNN: ``h' = tanh(W_in x + W_rec h + b)``."""

    color = "#8DA0CB"  # in drawings (brainsim viz)

    @dataclasses.dataclass(frozen=True)
    class Config:
        hidden: int = 32  # recurrent units

        def check(self):
            return None if self.hidden >= 1 else f"hidden must be >= 1, found {self.hidden}"

    inputs = {"input": Port("auto", doc="drive")}
    outputs = {"h": Port("hidden", doc="hidden state")}

    def build(self, rngs):
        return _Cell(self.in_dims["input"], self.config.hidden, rngs)

    def initial_state(self):
        return {"h": jnp.zeros((self.config.hidden,), jnp.float32)}

    def forward(self, module, state, inputs, key):
        h = jax.nn.tanh(module.w_in(inputs["input"]) + module.w_rec(state["h"]))
        return {"h": h}, {"h": h}
