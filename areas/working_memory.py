"""working_memory — S slots ("stripes") of persistent activity with gated updating.

Biological role: prefrontal cortex maintains items by persistent (recurrent,
bistable) activity in separate stripes; the basal ganglia decide, per stripe,
when the stripe updates (Go: the new item replaces the old one) and when it
maintains (NoGo), which protects memories from distractors (O'Reilly & Frank
2006; Frank, Loughry & O'Reilly 2001). Capacity is limited: "the magical
number seven, plus or minus two" (Miller 1956), here the default S = 7.
ML analogue: a gated memory (the input gate of an LSTM, Hochreiter &
Schmidhuber 1997) with one gate per slot, differentiable in its gates.

Update for slot i (one step)::

    m_i' = (1 - clear_i) * ((1 - g_i) * (1 - decay) * m_i + g_i * write) + noise * N(0, 1)
    o_i' = (1 - clear_i) * (o_i + g_i - o_i g_i)          (occupancy in [0, 1])

Ports:
    in  ``write`` [width]: the item offered for storage (e.g. a cortical code).
        ``gate`` [slots]: per-slot update gates in [0, 1] (from the basal ganglia).
        ``clear`` [slots] (optional): 1 empties a slot.
    out ``read`` [slots * width]: all slots after the update (slot i at ``[i*width, (i+1)*width)``).
        ``occupancy`` [slots]: how full each slot is (0 empty, 1 holds an item).
State: ``memory`` [slots, width], ``occupancy`` [slots].
Cost terms: ``energy`` — mean squared activity of the memory (a metabolic cost
    on persistent firing), usable to keep unused stripes quiet.
References: Miller (1956) Psychol Rev 63:81-97; Frank, Loughry & O'Reilly
    (2001) Cogn Affect Behav Neurosci 1:137-160; O'Reilly & Frank (2006)
    Neural Computation 18:283-328; Hochreiter & Schmidhuber (1997).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from brainsim.area import Area, Port, register_area


@register_area("working_memory")
class WorkingMemory(Area):
    """Gated slots of persistent activity."""

    color = "#8172B3"  # in drawings (brainsim viz)

    @dataclasses.dataclass(frozen=True)
    class Config:
        slots: int = 7  # memory slots (stripes), each gated on its own
        width: int = 16  # units per slot (the dim of the written item)
        decay: float = 0.0  # fraction of a maintained item lost per step
        noise: float = 0.0  # std of the Gaussian noise added to the memory each step

        def check(self):
            if self.slots < 1 or self.width < 1:
                return f"slots and width must be >= 1, found slots={self.slots}, width={self.width}"
            if not 0.0 <= self.decay <= 1.0:
                return f"decay must be in [0, 1] (fraction lost per step), found {self.decay}"
            if self.noise < 0:
                return f"noise must be >= 0, found {self.noise}"
            return None

    # documented example configs: the contract suite (tests/areas/test_contract.py) checks each one
    examples = ({}, {"slots": 2, "decay": 0.1, "noise": 0.05})
    inputs = {
        "write": Port("width", doc="item offered for storage"),
        "gate": Port("slots", doc="per-slot update gate in [0, 1]"),
        "clear": Port("slots", required=False, doc="1 empties a slot"),
    }
    outputs = {
        "read": Port("slots * width", doc="all slots, concatenated"),
        "occupancy": Port("slots", doc="fullness of each slot in [0, 1]"),
    }
    cost_terms = {"energy": "mean squared memory activity (metabolic cost of persistent firing)"}

    def initial_state(self):
        cfg = self.config
        return {"memory": jnp.zeros((cfg.slots, cfg.width), jnp.float32),
                "occupancy": jnp.zeros((cfg.slots,), jnp.float32)}

    def forward(self, module, state, inputs, key):
        cfg = self.config
        g = inputs["gate"][:, None]
        keep = 1.0 - inputs["clear"][:, None]
        m = keep * ((1.0 - g) * (1.0 - cfg.decay) * state["memory"] + g * inputs["write"][None, :])
        if cfg.noise > 0:
            m = m + cfg.noise * jax.random.normal(key, m.shape)
        o = keep[:, 0] * (state["occupancy"] + inputs["gate"] - state["occupancy"] * inputs["gate"])
        return {"memory": m, "occupancy": o}, {"read": m.reshape(-1), "occupancy": o}

    def cost(self, term, module, ctx):
        if term == "energy":
            return jnp.mean(jnp.square(ctx.new_state["memory"]))
        return super().cost(term, module, ctx)
