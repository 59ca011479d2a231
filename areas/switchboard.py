"""switchboard — buffers that copy whole vectors between each other under basal-ganglia control.

Biological role: prefrontal working-memory buffers pass items to each other
(rehearse "chair" in one buffer, then use it in another) through
cortico-basal-ganglia-thalamo-cortical loops: the basal ganglia choose which
route opens, i.e. the source and the destination (Stocco, Lebiere & Anderson
2010, "conditional routing"; O'Reilly & Frank 2006).  A copy only makes sense
because every buffer uses the **same code** for an item, so the copied vector
means the same thing at its destination.
ML analogue: a differentiable register machine whose move instructions are
soft routing matrices (the read/write heads of a Neural Turing Machine with
location addressing; Graves et al. 2014).

One step, buffers ``b`` [n, width] and routes ``R`` [n, n] (row = destination,
column = source, each in [0, 1])::

    incoming = R @ b                                  (all routes read the OLD contents, so
    b'       = (1 - min(1, sum_src R)) * b + incoming  a swap is two simultaneous copies)
    b''      = (1 - load) * b' + load * item          (an external item loaded into buffers)
    similarity_ij = cos(b''_i, b''_j)                 (compare: same item in two buffers?)

Ports:
    in  ``item`` [width] (optional): an item offered from outside (e.g. a cortical code).
        ``load`` [buffers] (optional): 1 loads ``item`` into that buffer.
        ``route`` [buffers * buffers] (optional): ``R`` row-major (``route[dst * n + src]``),
            e.g. a basal-ganglia ``gate`` with one channel per route (``selection: stripes``).
    out ``read`` [buffers * width]: every buffer after the step.
        ``similarity`` [buffers * buffers]: cosine similarity of every pair of buffers.
State: ``buffers`` [buffers, width] (episodic).
Cost terms: none (the routes are learnt by the area that sends them).
References: Stocco, Lebiere & Anderson (2010) Psychol Rev 117:541-574; O'Reilly &
    Frank (2006) Neural Computation 18:283-328; Graves, Wayne & Danihelka (2014)
    arXiv:1410.5401 (Neural Turing Machines).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from brainsim.area import Area, Port, register_area


def route(buffers: jnp.ndarray, r: jnp.ndarray) -> jnp.ndarray:
    """Apply routes ``r [n, n]`` (dst, src) to ``buffers [n, width]``; every route reads the old contents."""
    keep = 1.0 - jnp.minimum(1.0, jnp.sum(r, axis=1, keepdims=True))
    return keep * buffers + r @ buffers


@register_area("switchboard")
class Switchboard(Area):
    """Working-memory buffers with BG-selected copy routes between them."""

    color = "#CCB974"  # in drawings (brainsim viz)

    @dataclasses.dataclass(frozen=True)
    class Config:
        buffers: int = 3  # number of buffers
        width: int = 8  # size of one buffer

        def check(self):
            if self.buffers < 2 or self.width < 1:
                return f"buffers must be >= 2 and width >= 1, found buffers={self.buffers}, width={self.width}"
            return None

    inputs = {
        "item": Port("width", required=False, doc="item offered from outside"),
        "load": Port("buffers", required=False, doc="1 loads the item into that buffer"),
        "route": Port("buffers * buffers", required=False, doc="routes dst <- src, row-major [dst * n + src]"),
    }
    outputs = {
        "read": Port("buffers * width", doc="every buffer, concatenated"),
        "similarity": Port("buffers * buffers", doc="cosine similarity of every pair of buffers"),
    }

    def initial_state(self):
        return {"buffers": jnp.zeros((self.config.buffers, self.config.width), jnp.float32)}

    def forward(self, module, state, inputs, key):
        n = self.config.buffers
        b = route(state["buffers"], inputs["route"].reshape(n, n))
        load = inputs["load"][:, None]
        b = (1.0 - load) * b + load * inputs["item"][None, :]
        unit = b * jax.lax.rsqrt(jnp.sum(b * b, axis=1, keepdims=True) + 1e-8)  # finite gradient at 0
        return {"buffers": b}, {"read": b.reshape(-1), "similarity": (unit @ unit.T).reshape(-1)}
