"""spotlight — serial attentional selection of one display item per step, with inhibition of return.

Biological role: items enter visual working memory one attentional
selection at a time: a winner-take-all over the salient locations picks one
item, inhibition of return keeps the spotlight from revisiting it, and the
next most salient item wins on the next step (Koch & Ullman 1985; Itti & Koch
2001; Posner & Cohen 1984 for inhibition of return).  The selected item is
routed into the first free working-memory stripe (the prefrontal "update"
signal of O'Reilly & Frank 2006); when every stripe is full the item is seen
but not stored, which is what limits capacity in the slot model of visual
working memory (Luck & Vogel 1997; Cowan 2001).
ML analogue: hard attention (a sampled one-hot glimpse) with a visited mask,
as in sequential-glimpse models (Mnih et al. 2014), plus a pointer to the
next empty memory row (a write head that appends, Graves et al. 2014).

The display is ``groups`` locations of ``features`` units each (location g at
``[g*features, (g+1)*features)``).  One step::

    present_g = ||display_g|| > threshold
    avail_g   = present_g and not visited_g
    g*        = argmax_g (avail_g ? u_g : -1),  u_g ~ U(0, 1)   (random order among equally salient items)
    location  = one_hot(g*) * any(avail)                              [groups]
    item      = display * repeat(location, features)                  [groups * features]
    gate      = one_hot(first i with occupancy_i < 0.5) * any(free) * any(avail)   [slots]
    visited'  = visited or location

Ports:
    in  ``display`` [groups * features]: the visual array (e.g. one-hot colour per location).
        ``occupancy`` [slots] (optional, default 0): how full each memory slot is
            (a working memory's ``occupancy`` output, through a ``delay: 1`` edge).
    out ``item`` [groups * features]: the selected item alone (zeros when nothing is selected).
        ``location`` [groups]: one-hot of the selected location (zeros when none).
        ``gate`` [slots]: one-hot of the memory slot the item should be written to (zeros when
            none is free or nothing is selected): feed it to ``working_memory.gate``.
State: ``visited`` [groups] (1 where the spotlight has been this episode).
Params: none.
Cost terms: none.
References: Koch & Ullman (1985) Hum Neurobiol 4:219-227; Posner & Cohen (1984) Attention
    and Performance X:531-556; Itti & Koch (2001) Nat Rev Neurosci 2:194-203; Luck & Vogel
    (1997) Nature 390:279-281; Cowan (2001) Behav Brain Sci 24:87-185; Mnih et al. (2014)
    NeurIPS; Graves, Wayne & Danihelka (2014) arXiv:1410.5401.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from brainsim.area import Area, Port, register_area


@register_area("spotlight")
class Spotlight(Area):
    """Winner-take-all selection of one unvisited item per step, routed to the first free slot."""

    color = "#DA8BC3"  # in drawings (brainsim viz)

    @dataclasses.dataclass(frozen=True)
    class Config:
        groups: int = 10  # locations in the display (each a group of `features` units)
        features: int = 8  # units per location (e.g. one-hot colours)
        slots: int = 7  # working-memory slots the gate addresses
        threshold: float = 0.5  # a location holds an item when the norm of its units exceeds this

        def check(self):
            if self.groups < 1 or self.features < 1 or self.slots < 1:
                return (f"groups, features and slots must be >= 1, found groups={self.groups}, "
                        f"features={self.features}, slots={self.slots}")
            if self.threshold < 0:
                return f"threshold must be >= 0 (a norm), found {self.threshold}"
            return None

    inputs = {
        "display": Port("groups * features", doc="visual array, location g at [g*features, (g+1)*features)"),
        "occupancy": Port("slots", required=False, doc="fullness of each memory slot (delay-1 edge)"),
    }
    outputs = {
        "item": Port("groups * features", doc="the selected item alone"),
        "location": Port("groups", doc="one-hot selected location"),
        "gate": Port("slots", doc="one-hot slot to write the item to"),
    }

    def initial_state(self):
        return {"visited": jnp.zeros((self.config.groups,), jnp.float32)}

    def forward(self, module, state, inputs, key):
        cfg = self.config
        x = inputs["display"].reshape(cfg.groups, cfg.features)
        norm = jnp.sqrt(jnp.sum(jnp.square(jax.lax.stop_gradient(x)), -1))
        avail = (norm > cfg.threshold) & (state["visited"] < 0.5)
        score = jnp.where(avail, jax.random.uniform(key, (cfg.groups,)), -1.0)
        any_avail = jnp.any(avail).astype(jnp.float32)
        loc = jax.nn.one_hot(jnp.argmax(score), cfg.groups) * any_avail
        free = inputs["occupancy"] < 0.5
        gate = jax.nn.one_hot(jnp.argmax(free), cfg.slots) * jnp.any(free).astype(jnp.float32) * any_avail
        item = (x * loc[:, None]).reshape(-1)
        return {"visited": jnp.maximum(state["visited"], loc)}, {"item": item, "location": loc, "gate": gate}
