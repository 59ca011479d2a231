"""compare — match / mismatch detection between working-memory slots and a probe.

Biological role: in delayed matching and change detection, prefrontal and
inferotemporal neurons compare the remembered item with the one on the screen
and signal a match (match suppression / enhancement) or a mismatch (Miller &
Desimone 1994; Miller, Erickson & Desimone 1996); in the slot model of visual
working memory a change is detected only when the changed item is one of the
stored ones (Luck & Vogel 1997; Cowan 2001), so the comparison is made slot
by slot against the test item at the same location (Hyun, Woodman, Vogel,
Hollingworth & Luck 2009: an unlimited-capacity comparison process).
ML analogue: cosine similarity between memory rows and a query, restricted to
the query features a row attends to (content plus location addressing), and
a max-pool over rows; the decision itself is left to a trained read-out.

Each slot holds an item of ``groups`` feature groups (locations) of
``features`` units; the probe has the same layout.  One step, slot i::

    w_ig     = ||m_ig|| / sum_g ||m_ig||                       (where the stored item is)
    q_i      = w_i * probe                                      (the probe at the item's location)
    present_i = sum_g w_ig min(1, ||probe_g||)                  (the probe shows something there)
    match_i   = occupancy_i present_i cos(m_i, q_i)
    mismatch_i = occupancy_i present_i (1 - cos(m_i, q_i))       (clipped to [0, 1])
    evidence' = max(retain * evidence, max_i mismatch_i)        (the peak mismatch so far)

With ``groups = 1`` the whole item is compared with the whole probe (delayed
match-to-sample); with ``groups = L`` each slot is compared with the probe
at its own location only (change detection).

Ports:
    in  ``memory`` [slots * groups * features]: the slots (a working memory's ``read``).
        ``occupancy`` [slots] (optional, default 1): which slots hold an item.
        ``probe`` [groups * features]: the item(s) on the screen now.
    out ``mismatch`` [slots], ``match`` [slots]: the per-slot signals in [0, 1].
        ``evidence`` [1]: the accumulated change evidence (the peak mismatch this episode
            when ``retain = 1``): feed it to a read-out that answers same / different.
State: ``evidence`` [1] (reset each episode).
Params: none.
Cost terms: none (the decision is learned by the read-out it feeds).
References: Miller & Desimone (1994) Science 263:520-522; Miller, Erickson & Desimone (1996)
    J Neurosci 16:5154-5167; Luck & Vogel (1997) Nature 390:279-281; Cowan (2001) Behav
    Brain Sci 24:87-185; Hyun et al. (2009) J Exp Psychol Hum Percept Perform 35:1140-1160.
"""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp

from brainsim.area import Area, Port, register_area

_EPS = 1e-6


def _norm(x, axis=-1):
    return jnp.sqrt(jnp.sum(jnp.square(x), axis) + _EPS)


@register_area("compare")
class Compare(Area):
    """Per-slot match / mismatch of memory against a probe, and the peak change evidence."""

    color = "#C44E52"  # in drawings (brainsim viz)

    @dataclasses.dataclass(frozen=True)
    class Config:
        slots: int = 7  # memory slots compared (the working memory's slots)
        groups: int = 1  # feature groups (locations) per item; 1 compares whole items
        features: int = 16  # units per group (slot width = groups * features)
        retain: float = 1.0  # fraction of the evidence kept per step (1: hold the peak until the episode ends)

        def check(self):
            if self.slots < 1 or self.groups < 1 or self.features < 1:
                return (f"slots, groups and features must be >= 1, found slots={self.slots}, "
                        f"groups={self.groups}, features={self.features}")
            if not 0.0 <= self.retain <= 1.0:
                return f"retain must be in [0, 1] (fraction of the evidence kept per step), found {self.retain}"
            return None

    inputs = {
        "memory": Port("slots * groups * features", doc="memory slots, slot i at [i*groups*features, ...)"),
        "occupancy": Port("slots", required=False, default=1.0, doc="which slots hold an item"),
        "probe": Port("groups * features", doc="the item(s) on the screen"),
    }
    outputs = {
        "mismatch": Port("slots", doc="per-slot mismatch in [0, 1]"),
        "match": Port("slots", doc="per-slot match in [0, 1]"),
        "evidence": Port(1, doc="peak change evidence this episode"),
    }

    def initial_state(self):
        return {"evidence": jnp.zeros((1,), jnp.float32)}

    def forward(self, module, state, inputs, key):
        cfg = self.config
        m = inputs["memory"].reshape(cfg.slots, cfg.groups, cfg.features)
        p = inputs["probe"].reshape(cfg.groups, cfg.features)
        mass = _norm(m)  # [slots, groups]
        w = mass / jnp.sum(mass, -1, keepdims=True)
        q = w[:, :, None] * p[None]
        cos = jnp.sum(m * q, (1, 2)) / (_norm(m.reshape(cfg.slots, -1)) * _norm(q.reshape(cfg.slots, -1)))
        present = jnp.sum(w * jnp.minimum(1.0, _norm(p))[None], -1)
        occ = jnp.clip(inputs["occupancy"], 0.0, 1.0) * jnp.clip(present, 0.0, 1.0)
        match = occ * jnp.clip(cos, 0.0, 1.0)
        mismatch = occ * jnp.clip(1.0 - cos, 0.0, 1.0)
        evidence = jnp.maximum(cfg.retain * state["evidence"], jnp.max(mismatch))
        return {"evidence": evidence}, {"mismatch": mismatch, "match": match, "evidence": evidence}
