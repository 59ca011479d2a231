"""hippocampus — a content-addressable episodic memory: DG pattern separation + CA3 pattern completion.

Biological role: the hippocampus stores episodes in one shot and recalls a
whole episode from a partial or noisy cue (Marr 1971; McNaughton & Morris
1987; Treves & Rolls 1992).  The dentate gyrus (DG) turns each entorhinal
input into a sparse code in a much larger population (fixed, sparse random
perforant-path synapses + strong lateral inhibition, modelled as
k-winners-take-all), which decorrelates similar inputs (pattern separation).
CA3, with its recurrent collaterals, is an autoassociative memory that
completes a degraded cue into the stored pattern.  During rest, stored
episodes are replayed to cortex for consolidation (Wilson & McNaughton 1994).
ML analogue: a slot memory (as in memory networks / the DNC) read by a
Hopfield network — the classical binary one or the modern continuous one whose
update is softmax attention (Ramsauer et al. 2020).

How DG and CA3 combine (Treves & Rolls 1992: the DG is needed at storage, the
direct perforant path cue -> CA3 at retrieval): a write stores the raw pattern
in an M-slot CA3 memory and, alongside it, the pattern's DG code (the indices
of its k active granule cells: the mossy-fibre "index" of the episode).
Recall runs CA3 completion directly on the cue.  Recognition runs in DG
space: ``familiarity`` is the best fraction of the cue's active DG cells that
an episode's stored DG code shares (1 for a stored pattern, about
``dg_sparsity`` by chance for a novel one); because the DG separates,
a new input that is merely *similar* to a stored one reads as less familiar
than its raw similarity would suggest.

    DG:   h = W_dg^T x  (each DG cell sums ``dg_fan_in`` random inputs, Gaussian weights, Fixed),
          dg = 1 on the top k = round(dg_sparsity * D) cells of h, else 0
    CA3 classical: h = sum_mu v_mu xi_mu (xi_mu . x) / N - (sum_mu v_mu xi_mu^2 / N) * x
          (Hebbian W = sum_mu xi_mu xi_mu^T / N with zero diagonal, never formed)
          x <- sign(h)   (synchronous, ``iterations`` times).  Capacity ~0.138 N
          (Amit et al. 1985); at N = 256 and P = 0.1 N it completes 20%-flipped
          cues (overlap > 0.99) but 30%-flipped ones only to ~0.9 (finite-size
          basins: ~0.99 at N = 4096).
    CA3 modern:    p = softmax_mu(beta * sqrt(N) * cos(x, xi_mu)),  x <- sum_mu p_mu xi_mu
          (``iterations`` times; invalid slots masked).  For +-1 patterns
          beta * sqrt(N) * cos = beta * (xi . x) / sqrt(N): beta is the inverse
          temperature on dot products scaled by 1/sqrt(N) as in attention, so
          the crispness does not degrade with N; beta = 8 recalls 2N patterns of
          N = 256 from cues with 30% of the bits flipped.

The outputs of a step read the memory *before* this step's write (so
``familiarity`` is the novelty of the input being offered for storage).
A write (``write`` > 0.5) stores ``store`` (or the cue when ``store`` is all
zeros, i.e. unconnected) in the least-recently-used slot (empty slots first).
A slot is "used" when written and when recognised (the cue's familiarity with
it >= ``recognition``); replay does not count as use.  Classical mode assumes
+-1 patterns (its recall is +-1); modern mode accepts any real patterns.

Config:
    ``size`` pattern width N; ``slots`` number of memories M; ``mode`` CA3
    completion, ``classical`` or ``modern``; ``beta`` modern inverse temperature
    (see above); ``iterations`` classical sign updates / modern softmax updates;
    ``dg_factor`` DG cells per input unit (D = dg_factor * size);
    ``dg_sparsity`` fraction of DG cells active (k-WTA); ``dg_fan_in`` inputs
    per DG cell (capped at ``size``); ``recognition`` familiarity at which a
    cue counts as a use of its best-matching slot (LRU refresh).

Ports:
    in  ``cue`` [size]: the retrieval cue (entorhinal input).
        ``store`` [size] (optional): the pattern to store when ``write`` is on.
        ``write`` [1] (optional): > 0.5 stores one-shot.
        ``replay`` [1] (optional): > 0.5 emits a stored memory on ``replayed``.
    out ``recall`` [size]: the CA3-completed pattern (zeros while the memory is empty).
        ``familiarity`` [1]: DG-space recognition in [0, 1] (low = novel).
        ``replayed`` [size]: a stored memory drawn uniformly over filled slots
        with the step key when ``replay`` is on, else zeros.
        ``separated`` [dg_factor * size]: the DG code (0/1, k active) of the cue.
State: ``memory`` [slots, size] stored patterns; ``keys`` [slots, k] int32 the
    active DG cells of each stored pattern; ``last_used`` [slots] int32 step of
    the last write / recognition; ``valid`` [slots] bool filled slots;
    ``clock`` [] int32 step counter.
Params: the DG projection only (``Fixed``, never learned); storage is state.
Cost terms: none of its own (use the generic ``supervised`` term on ``recall``).
References: Marr (1971) Phil Trans R Soc B 262; Hopfield (1982) PNAS 79;
    Amit, Gutfreund & Sompolinsky (1985) Phys Rev Lett 55 (capacity 0.138 N);
    McNaughton & Morris (1987) Trends Neurosci 10; Treves & Rolls (1992)
    Hippocampus 2; Wilson & McNaughton (1994) Science 265; Ramsauer et al.
    (2020) "Hopfield Networks is All You Need", arXiv:2008.02217;
    Graves et al. (2016) Nature 538 (least-recently-used slot allocation).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Literal

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from brainsim.area import Area, Fixed, Port, register_area

_EPS = 1e-8


@functools.partial(jax.jit, static_argnums=(1, 2, 3))
def _dg_weights(key, n_in: int, n_dg: int, fan_in: int):
    """``[n_in, n_dg]``: each DG cell gets ``fan_in`` distinct random inputs with N(0, 1/fan_in) weights."""
    k_conn, k_w = jax.random.split(key)
    # the fan_in distinct inputs of a cell: the fan_in smallest of a random ranking
    rank = jnp.argsort(jnp.argsort(jax.random.uniform(k_conn, (n_dg, n_in)), axis=1), axis=1)
    mask = (rank < fan_in).astype(jnp.float32)
    return (jax.random.normal(k_w, (n_dg, n_in)) * mask / jnp.sqrt(fan_in)).T


class _DentateGyrus(nnx.Module):
    """Fixed sparse random perforant-path projection ``w [size, D]`` (``fan_in`` nonzeros per column)."""

    def __init__(self, n_in: int, n_dg: int, fan_in: int, rngs: nnx.Rngs):
        self.w = Fixed(_dg_weights(rngs.params(), n_in, n_dg, fan_in))


@register_area("hippocampus")
class Hippocampus(Area):
    """DG pattern separation + CA3 autoassociative slot memory (classical or modern Hopfield)."""

    color = "#DD8452"  # in drawings (brainsim viz)

    @dataclasses.dataclass(frozen=True)
    class Config:
        size: int = 64
        slots: int = 128
        mode: Literal["classical", "modern"] = "modern"
        beta: float = 8.0
        iterations: int = 5
        dg_factor: int = 4
        dg_sparsity: float = 0.05
        dg_fan_in: int = 16
        recognition: float = 0.5

        def check(self):
            if self.size < 1 or self.slots < 1:
                return f"size and slots must be >= 1, found size={self.size}, slots={self.slots}"
            if self.beta <= 0:
                return f"beta (modern inverse temperature) must be > 0, found {self.beta}"
            if self.iterations < 1:
                return f"iterations must be >= 1, found {self.iterations}"
            if self.dg_factor < 1:
                return f"dg_factor (DG cells per input unit) must be >= 1, found {self.dg_factor}"
            if not 0.0 < self.dg_sparsity < 1.0:
                return f"dg_sparsity (fraction of active DG cells) must be in (0, 1), found {self.dg_sparsity}"
            if self.dg_fan_in < 1:
                return f"dg_fan_in must be >= 1, found {self.dg_fan_in}"
            if not 0.0 < self.recognition <= 1.0:
                return f"recognition must be in (0, 1], found {self.recognition}"
            return None

    inputs = {
        "cue": Port("size", doc="retrieval cue"),
        "store": Port("size", required=False, doc="pattern stored when write is on (default: the cue)"),
        "write": Port(1, required=False, doc="> 0.5: store one-shot in the least-recently-used slot"),
        "replay": Port(1, required=False, doc="> 0.5: emit a stored memory on replayed"),
    }
    outputs = {
        "recall": Port("size", doc="CA3-completed pattern"),
        "familiarity": Port(1, doc="DG-space recognition in [0, 1] (low = novel)"),
        "replayed": Port("size", doc="a stored memory sampled for consolidation (zeros when replay is off)"),
        "separated": Port("dg_factor * size", doc="DG code of the cue (0/1, k active)"),
    }

    @property
    def n_dg(self) -> int:
        """Number of DG granule cells ``D = dg_factor * size``."""
        return self.config.dg_factor * self.config.size

    @property
    def k_dg(self) -> int:
        """Number of active DG cells (k-winners-take-all), at least 1."""
        return max(1, round(self.config.dg_sparsity * self.n_dg))

    def build(self, rngs):
        return _DentateGyrus(self.config.size, self.n_dg, min(self.config.dg_fan_in, self.config.size), rngs)

    def initial_state(self):
        m, n = self.config.slots, self.config.size
        # built in numpy: no per-shape XLA compile for constant arrays
        return {"memory": jnp.asarray(np.zeros((m, n), np.float32)),
                "keys": jnp.asarray(np.zeros((m, self.k_dg), np.int32)),
                "last_used": jnp.asarray(np.full((m,), -1, np.int32)),
                "valid": jnp.asarray(np.zeros((m,), bool)),
                "clock": jnp.asarray(np.zeros((), np.int32))}

    # ---- dentate gyrus -------------------------------------------------------
    def separate(self, w, x):
        """DG code of ``x [size]`` through ``w [size, D]``: ``(code [D] 0/1, active indices [k] int32)``."""
        _, idx = jax.lax.top_k(x @ w, self.k_dg)
        return jnp.zeros((self.n_dg,), jnp.float32).at[idx].set(1.0), idx.astype(jnp.int32)

    # ---- CA3 -----------------------------------------------------------------
    def complete(self, memory, valid, x):
        """CA3 pattern completion of cue ``x [size]`` over ``memory [slots, size]`` masked by ``valid``."""
        n = self.config.size
        v = valid.astype(jnp.float32)
        if self.config.mode == "classical":
            self_coupling = (v @ jnp.square(memory)) / n  # the diagonal of the Hebbian W, removed

            def update(_, s):
                h = memory.T @ (v * (memory @ s)) / n - self_coupling * s
                return jnp.where(h > 0, 1.0, jnp.where(h < 0, -1.0, jnp.sign(s)))

            return jax.lax.fori_loop(0, self.config.iterations, update, x)
        unit = memory * jax.lax.rsqrt(jnp.sum(jnp.square(memory), axis=1, keepdims=True) + _EPS)
        scale = self.config.beta * jnp.sqrt(float(n))

        def update(_, s):
            cos = unit @ (s * jax.lax.rsqrt(jnp.sum(jnp.square(s)) + _EPS))
            p = jax.nn.softmax(jnp.where(valid, scale * cos, -1e30))
            return p @ memory

        return jax.lax.fori_loop(0, self.config.iterations, update, x)

    def forward(self, module, state, inputs, key):
        return self._step(module.w.value, state, inputs, key)

    # one compiled unit even when called eagerly (eager JAX compiles every primitive on its own)
    @functools.partial(jax.jit, static_argnums=0)
    def _step(self, w, state, inputs, key):
        mem, keys, valid, clock = state["memory"], state["keys"], state["valid"], state["clock"]
        last_used = state["last_used"]
        any_valid = jnp.any(valid)
        cue = inputs["cue"]

        # recognition in DG space, recall in CA3 (both read the memory before this step's write)
        code, _ = self.separate(w, cue)
        shared = jnp.where(valid, jnp.mean(code[keys], axis=1), 0.0)
        best = jnp.argmax(shared)
        familiarity = shared[best]
        recall = jnp.where(any_valid, self.complete(mem, valid, cue), 0.0)
        last_used = last_used.at[best].set(jnp.where(familiarity >= self.config.recognition, clock, last_used[best]))

        # one-shot storage in the least-recently-used slot (empty slots first)
        write = inputs["write"][0] > 0.5
        pattern = jnp.where(jnp.any(inputs["store"] != 0), inputs["store"], cue)
        _, pattern_idx = self.separate(w, pattern)
        slot = jnp.argmin(jnp.where(valid, last_used, -1))
        new_state = {
            "memory": mem.at[slot].set(jnp.where(write, pattern, mem[slot])),
            "keys": keys.at[slot].set(jnp.where(write, pattern_idx, keys[slot])),
            "last_used": last_used.at[slot].set(jnp.where(write, clock, last_used[slot])),
            "valid": valid.at[slot].set(valid[slot] | write),
            "clock": clock + 1,
        }

        # replay: a filled slot drawn uniformly with the step key
        pick = jax.random.categorical(key, jnp.where(valid, 0.0, -1e30))
        on = (inputs["replay"][0] > 0.5) & any_valid
        replayed = jnp.where(on, mem[pick], 0.0)
        return new_state, {"recall": recall, "familiarity": familiarity[None], "replayed": replayed,
                           "separated": code}
