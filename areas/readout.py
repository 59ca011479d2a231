"""readout — a supervised linear or MLP read-out ("motor cortex" output layer).

Biological role: the last, task-specific mapping from a representation to a
response (premotor / motor output), trained by an error signal.
ML analogue: a linear probe or a small MLP head trained by supervised learning.

Ports:
    in  ``input`` [auto]: the representation read out.
    out ``output`` [size]: the response (logits or values; no output nonlinearity).
State: none.
Cost terms: the generic ``supervised`` term (MSE or cross-entropy to a target),
    ``activity_*`` and ``weight_l2``.
References: Rosenblatt (1958); Widrow & Hoff (1960).
"""

from __future__ import annotations

import dataclasses

import jax
from flax import nnx

from brainsim.area import Area, Port, register_area


class _MLP(nnx.Module):
    def __init__(self, sizes, rngs):
        self.layers = nnx.List([nnx.Linear(a, b, rngs=rngs) for a, b in zip(sizes[:-1], sizes[1:])]) \
            if hasattr(nnx, "List") else [nnx.Linear(a, b, rngs=rngs) for a, b in zip(sizes[:-1], sizes[1:])]

    def __call__(self, x):
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = jax.nn.tanh(x)
        return x


@register_area("readout")
class Readout(Area):
    """Linear (``hidden: []``) or MLP read-out."""

    color = "#E5C494"  # in drawings (brainsim viz)

    @dataclasses.dataclass(frozen=True)
    class Config:
        size: int = 1  # output units (e.g. classes or response channels)
        hidden: tuple[int, ...] = ()  # widths of tanh hidden layers; empty: a linear read-out

        def check(self):
            if self.size < 1:
                return f"size must be >= 1, found {self.size}"
            if any(h < 1 for h in self.hidden):
                return f"hidden sizes must be >= 1, found {list(self.hidden)}"
            if len(self.hidden) > 64:
                return f"at most 64 hidden layers (they are unrolled when the brain is built), found {len(self.hidden)}"
            return None

    # documented example configs: the contract suite (tests/areas/test_contract.py) checks each one
    examples = ({}, {"size": 3, "hidden": (8, 8)})
    inputs = {"input": Port("auto", doc="representation to read out")}
    outputs = {"output": Port("size", doc="response (logits / values)")}

    def build(self, rngs):
        return _MLP((self.in_dims["input"], *self.config.hidden, self.config.size), rngs)

    def forward(self, module, state, inputs, key):
        return state, {"output": module(inputs["input"])}
