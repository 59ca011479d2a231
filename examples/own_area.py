"""Write your own area: a divisive-normalisation population, registered, contract-checked and wired.

Run it:  python examples/own_area.py   (tests/examples/test_examples.py runs it too)

Biology: divisive normalisation (Heeger 1992; Carandini & Heeger 2012) — each unit's drive is divided by
the pooled activity of its neighbours, a canonical cortical computation (contrast gain control).
ML analogue: a learned linear map followed by a normalisation layer (like layer/group norm).

    d = W x + b              (learned)
    y = d^2 / (sigma^2 + mean(d^2))      (divisive normalisation)
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

import brainsim
from brainsim import Area, Port, register_area
from brainsim.testing import check_area


class _Linear(nnx.Module):
    def __init__(self, n_in: int, n_out: int, rngs: nnx.Rngs):
        self.w = nnx.Param(jax.random.normal(rngs.params(), (n_in, n_out)) / np.sqrt(n_in))
        self.b = nnx.Param(jnp.zeros((n_out,)))


@register_area("divisive_norm")
class DivisiveNorm(Area):
    """Divisive normalisation of a learned linear drive (Heeger 1992)."""

    color = "#2A9D8F"  # its colour in `brainsim viz` drawings

    @dataclasses.dataclass(frozen=True)
    class Config:  # every option: a type, a default and a one-line doc (shown by `brainsim list divisive_norm`)
        units: int = 8  # normalised units
        sigma: float = 0.5  # semi-saturation constant

        def check(self):  # a message (-> a located error in the wiring file) or None
            return None if self.units >= 1 and self.sigma > 0 else "units must be >= 1 and sigma > 0"

    inputs = {"input": Port("auto", doc="drive"),
              "gain": Port(1, required=False, default=1.0, doc="optional multiplicative gain (default 1)")}
    outputs = {"output": Port("units", doc="normalised responses"), "pool": Port(1, doc="pooled activity")}
    cost_terms = {"sparsity": "mean response (an energy cost)"}
    examples = ({}, {"units": 3, "sigma": 2.0})  # configs the contract suite checks (`check_area`)

    def build(self, rngs):
        return _Linear(self.in_dims["input"], self.config.units, rngs)

    def initial_state(self):
        return {"last_pool": jnp.zeros((1,), jnp.float32)}

    def forward(self, module, state, inputs, key):
        d = inputs["input"] @ module.w[...] + module.b[...]
        pool = jnp.mean(d ** 2, keepdims=True)
        y = inputs["gain"] * d ** 2 / (self.config.sigma ** 2 + pool)
        return {"last_pool": pool}, {"output": y, "pool": pool}

    def cost(self, term, module, ctx):
        if term == "sparsity":
            return jnp.mean(ctx.outputs["output"])
        return super().cost(term, module, ctx)


WIRING = """
name: normalised
inputs: {x: 6, target: 8}
areas:
  v1: {type: divisive_norm, units: 8, sigma: 0.5, costs: {sparsity: 0.01}}
  out:
    type: readout
    size: 8
    costs: {supervised: {weight: 1.0, target: target}}
connections:
  - x -> v1.input
  - v1.output -> out.input
outputs: {y: out.output}
"""


def main() -> dict:
    # 1. the contract every area keeps (jit == eager, vmap, no retrace, stable state, finite gradients,
    #    several steps, optional inputs connected and not, no dead state, every example config)
    for cfg in DivisiveNorm.examples:
        check_area("divisive_norm", dims={"input": 6}, **cfg)
    # 2. normalisation does what the biology says: doubling the input contrast barely changes the output
    area = DivisiveNorm(dims={"input": 6}, units=8, sigma=0.1)
    params, state = area.init(jax.random.key(0))
    x = jax.random.normal(jax.random.key(1), (6,))
    _, lo = area.step(params, state, {"input": x}, key=jax.random.key(2))
    _, hi = area.step(params, state, {"input": 4 * x}, key=jax.random.key(2))
    saturation = float(jnp.sum(hi["output"]) / jnp.sum(lo["output"]))  # 16x the drive energy, < 1.1x the output
    # 3. wire it into a brain and train it a few steps
    brain = brainsim.from_yaml(WIRING)
    params, _ = brain.init(jax.random.key(0), batch=4)
    opt = brain.init_opt_state(params)
    rng = np.random.default_rng(0)
    losses = []
    for step in range(30):
        xb = rng.normal(size=(5, 4, 6)).astype(np.float32)
        tb = np.tanh(xb @ np.ones((6, 8), np.float32) / 3)
        params, opt, _, m = brain.train_step(params, opt, brain.init_state(4), {"x": xb, "target": tb},
                                             jax.random.key(step), step)
        losses.append(float(m["loss"]))
    return {"saturation": saturation, "first_loss": losses[0], "last_loss": losses[-1]}


if __name__ == "__main__":
    print(main())
