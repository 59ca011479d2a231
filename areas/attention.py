"""attention — soft query-key attention over a set of input slots, with per-slot gains.

Biological role: top-down attention selects part of the visual scene for
further processing.  It comes in several kinds: *feature-based* (a gain on
every neuron tuned to the attended feature, wherever it is; Treue &
Martinez-Trujillo 1999), *location-based* (a spotlight on a place, independent
of what is there; Posner 1980) and *object-based* (the whole object that
matches a template is selected; Duncan 1984).  Prefrontal and parietal areas
send the query; the pulvinar / thalamic reticular nucleus applies per-location
gains (the thalamus area's ``attention`` port takes them).
ML analogue: scaled dot-product attention (Bahdanau et al. 2015; Vaswani et al.
2017) with one query and ``n_slots`` keys.

One step, slots ``s_i`` [slot_dim], query ``q`` [query_dim]::

    object:    score_i = (W_q q) . (W_k s_i) / sqrt(key_dim)              (template matching)
    feature:   g = 2 sigmoid(W_f q);  score_i = (W_q q) . (W_k (g * s_i)) / sqrt(key_dim)
               and the attended vector carries the gain:  s_i -> g * s_i
    location:  score_i = (W_l q + b_l)_i                                  (content-free spotlight)
    gains    = softmax(score / temperature)                               [n_slots]
    attended = sum_i gains_i * s_i                                        [slot_dim]

Ports:
    in  ``slots`` [n_slots * slot_dim]: the slot vectors, slot i at ``[i*slot_dim, (i+1)*slot_dim)``.
        ``query`` [auto] (optional, default 1): the top-down query / template / cue.
    out ``attended`` [slot_dim]: the gain-weighted sum of the slots.
        ``gains`` [n_slots]: the attention map (sums to 1); feed it to ``thalamus.attention``
            (with ``channels = n_slots``) for a top-down gain on the relay.
        ``scores`` [n_slots]: the logits before the softmax.
State: none.
Params: ``w_q``, ``w_k`` (object, feature), ``w_f`` (feature), ``w_l`` (location).
Cost terms: ``entropy`` — the entropy of the attention map (a positive weight sharpens it).
References: Posner (1980) Q J Exp Psychol 32:3-25; Duncan (1984) J Exp Psychol Gen
    113:501-517; Treue & Martinez-Trujillo (1999) Nature 399:575-579; Bahdanau, Cho &
    Bengio (2015) ICLR; Vaswani et al. (2017) NeurIPS.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import jax
import jax.numpy as jnp
from flax import nnx

from brainsim.area import Area, Port, register_area


class _Attention(nnx.Module):
    def __init__(self, mode: str, n_query: int, slot_dim: int, n_slots: int, key_dim: int, rngs: nnx.Rngs):
        if mode in ("object", "feature"):
            self.w_q = nnx.Linear(n_query, key_dim, rngs=rngs)
            self.w_k = nnx.Linear(slot_dim, key_dim, use_bias=False, rngs=rngs)
        if mode == "feature":
            self.w_f = nnx.Linear(n_query, slot_dim, kernel_init=nnx.initializers.zeros, rngs=rngs)
        if mode == "location":
            self.w_l = nnx.Linear(n_query, n_slots, rngs=rngs)


@register_area("attention")
class Attention(Area):
    """One-query soft attention over slots (object-, feature- or location-based)."""

    color = "#DA8BC3"  # in drawings (brainsim viz)

    @dataclasses.dataclass(frozen=True)
    class Config:
        n_slots: int = 4  # slots attended over
        slot_dim: int = 8  # units per slot
        key_dim: int = 16  # dimension of the query/key projections
        mode: Literal["object", "feature", "location"] = "object"  # object (template), feature (gain) or location (spotlight)
        temperature: float = 1.0  # softmax temperature of the attention map

        def check(self):
            if min(self.n_slots, self.slot_dim, self.key_dim) < 1:
                return (f"n_slots, slot_dim and key_dim must be >= 1, found {self.n_slots}, {self.slot_dim}, "
                        f"{self.key_dim}")
            if self.temperature <= 0:
                return f"temperature must be > 0, found {self.temperature}"
            return None

    # documented example configs: the contract suite (tests/areas/test_contract.py) checks each one
    examples = ({}, {"mode": "feature"}, {"mode": "location", "n_slots": 3, "slot_dim": 4})
    inputs = {
        "slots": Port("n_slots * slot_dim", doc="slot vectors, concatenated"),
        "query": Port("auto", required=False, default=1.0, doc="top-down query / template"),
    }
    outputs = {
        "attended": Port("slot_dim", doc="gain-weighted sum of the slots"),
        "gains": Port("n_slots", doc="attention map (sums to 1)"),
        "scores": Port("n_slots", doc="attention logits"),
    }
    cost_terms = {"entropy": "entropy of the attention map (a positive weight sharpens it)"}

    def build(self, rngs):
        c = self.config
        return _Attention(c.mode, self.in_dims["query"], c.slot_dim, c.n_slots, c.key_dim, rngs)

    def score(self, module, slots, query):
        """Phase 1: ``(scores [n_slots], slots [n_slots, slot_dim])`` (slots feature-gained in feature mode)."""
        c = self.config
        if c.mode == "location":
            return module.w_l(query), slots
        if c.mode == "feature":
            slots = slots * (2.0 * jax.nn.sigmoid(module.w_f(query)))[None, :]
        keys = module.w_k(slots)
        return keys @ module.w_q(query) / jnp.sqrt(float(c.key_dim)), slots

    def forward(self, module, state, inputs, key):
        c = self.config
        slots = inputs["slots"].reshape(c.n_slots, c.slot_dim)
        scores, slots = self.score(module, slots, inputs["query"])
        gains = jax.nn.softmax(scores / c.temperature)
        return state, {"attended": gains @ slots, "gains": gains, "scores": scores}

    def cost(self, term, module, ctx):
        if term == "entropy":
            g = ctx.outputs["gains"]
            return -jnp.sum(g * jnp.log(g + 1e-8))
        return super().cost(term, module, ctx)
