"""novelty — curiosity: turns visit counts or prediction errors into an intrinsic reward.

Biological role: novel stimuli drive dopamine neurons and the hippocampal-VTA
loop (Lisman & Grace 2005; Kakade & Dayan 2002, "dopamine: generalization and
bonuses"); an animal explores what it has seen least or predicts worst.
ML analogue: exploration bonuses for reinforcement learning: a count-based
bonus ``beta / sqrt(N(s))`` (MBIE-EB, Strehl & Littman 2008; pseudo-counts,
Bellemare et al. 2016), with states hashed by SimHash when they are not
tabular (Tang et al. 2017), or a prediction-error bonus ``beta * |e|^2`` from a
forward model (Schmidhuber 1991; Pathak et al. 2017) — e.g. a cerebellum's or
a predictive cortex's ``error`` port.

One step (``counts`` mode)::

    cell   = argmax(state)                  (hash: onehot, tabular states: bins = state dim)
           | sum_i [A state > 0]_i 2^i      (hash: simhash, A a fixed Gaussian [bits, state dim])
    N'     = N + one_hot(cell) * visit       (visit defaults to 1)
    bonus  = beta / sqrt(N'[cell])
(``error`` mode): ``bonus = beta * mean(error^2)``.
Both: ``reward_out = reward + bonus`` (feed it to a basal ganglia's ``reward`` port).

Ports:
    in  ``state`` [auto]: the current state / observation code.
        ``error`` [auto] (optional): a forward model's prediction error (``error`` mode).
        ``reward`` [1] (optional): the extrinsic reward, passed through with the bonus added.
        ``visit`` [1] (optional, default 1): 0 looks a state up without counting it.
    out ``bonus`` [1]: the intrinsic reward.  ``reward`` [1]: extrinsic + intrinsic.
        ``count`` [1]: N(s) after this visit (counts mode; 0 in error mode).
State: ``counts`` [bins] (counts mode only; carry it across episodes to keep the agent's lifelong experience).
Params: ``hash`` [bits, state] (Fixed; simhash only).
Cost terms: none.
References: Strehl & Littman (2008) J Comput Syst Sci 74:1309-1331; Bellemare et al.
    (2016) NeurIPS; Tang et al. (2017) NeurIPS (#Exploration); Schmidhuber (1991)
    SAB; Pathak et al. (2017) ICML; Kakade & Dayan (2002) Neural Netw 15:549-559.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import jax
import jax.numpy as jnp
from flax import nnx

from brainsim.area import Area, Fixed, Port, register_area


class _Hash(nnx.Module):
    def __init__(self, bits: int, n_in: int, rngs: nnx.Rngs):
        self.hash = Fixed(jax.random.normal(rngs.params(), (bits, n_in)))


@register_area("novelty")
class Novelty(Area):
    """Count-based or prediction-error intrinsic reward."""

    color = "#F0A868"  # in drawings (brainsim viz)

    @dataclasses.dataclass(frozen=True)
    class Config:
        mode: Literal["counts", "error"] = "counts"  # bonus from visit counts or prediction error
        hash: Literal["onehot", "simhash"] = "onehot"  # count cell: argmax of the state or SimHash
        bits: int = 8  # SimHash bits (2**bits cells)
        beta: float = 1.0  # bonus scale

        def check(self):
            if not 1 <= self.bits <= 20:
                return f"bits must be in [1, 20] (2**bits count cells), found {self.bits}"
            if self.beta < 0:
                return f"beta (bonus scale) must be >= 0, found {self.beta}"
            return None

    # documented example configs: the contract suite (tests/areas/test_contract.py) checks each one
    examples = ({}, {"mode": "error"}, {"hash": "simhash", "bits": 4})
    inputs = {
        "state": Port("auto", doc="state / observation code"),
        "error": Port("auto", required=False, doc="forward-model prediction error"),
        "reward": Port(1, required=False, doc="extrinsic reward"),
        "visit": Port(1, required=False, default=1.0, doc="1 counts this visit, 0 only looks up"),
    }
    outputs = {
        "bonus": Port(1, doc="intrinsic reward"),
        "reward": Port(1, doc="extrinsic + intrinsic reward"),
        "count": Port(1, doc="visits of this state so far"),
    }

    @property
    def bins(self) -> int:
        return self.in_dims["state"] if self.config.hash == "onehot" else 2 ** self.config.bits

    def build(self, rngs):
        return _Hash(self.config.bits, self.in_dims["state"], rngs) if self.config.hash == "simhash" else None

    def initial_state(self):
        if self.config.mode != "counts":
            return {}
        return {"counts": jnp.zeros((self.bins,), jnp.float32)}

    def cell(self, module, state):
        """Phase 1: the count cell of ``state [dim]`` (an int32 scalar)."""
        if self.config.hash == "onehot":
            return jnp.argmax(state)
        bits = (module.hash[...] @ state > 0).astype(jnp.int32)
        return jnp.sum(bits * (2 ** jnp.arange(self.config.bits, dtype=jnp.int32)))

    def forward(self, module, state, inputs, key):
        cfg = self.config
        if cfg.mode == "counts":
            c = self.cell(module, jax.lax.stop_gradient(inputs["state"]))
            counts = state["counts"].at[c].add(inputs["visit"][0])
            n = counts[c]
            bonus = cfg.beta * jax.lax.rsqrt(jnp.maximum(n, 1.0))
            state = {"counts": counts}
        else:
            n = jnp.zeros(())
            bonus = cfg.beta * jnp.mean(jnp.square(inputs["error"]))
        bonus = bonus[None]
        return state, {"bonus": bonus, "reward": inputs["reward"] + bonus, "count": n[None]}
