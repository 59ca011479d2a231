"""hippocampus — episodic memory: EC -> DG -> CA3 -> CA1 -> EC, one-shot storage, completion, sequences, replay.

Biological role: the hippocampus stores episodes in one shot and recalls a
whole episode from a partial or noisy cue (Marr 1971; McNaughton & Morris
1987; Treves & Rolls 1992).  The dentate gyrus (DG) turns each entorhinal
(EC) input into a sparse code in a larger population (fixed random
perforant-path synapses + lateral inhibition, modelled as k-winners-take-all):
pattern separation.  At storage the DG's mossy fibres impose that code on CA3,
whose recurrent collaterals store it (autoassociation) and whose links from one
state to the next store sequences (heteroassociation, Levy 1996); CA1 maps
the CA3 code back to EC space.  At retrieval the direct perforant path drives
CA3 (Treves & Rolls 1992: the DG is needed at storage, not at recall), CA3
settles to an attractor, CA1 reads it out.  Encoding and retrieval are
separate phases (Hasselmo, Bodelon & Wyble 2002): a step that writes does no
recall.  During rest and sleep stored episodes are replayed, sequences in
order, and in reverse after reward (Wilson & McNaughton 1994; Foster & Wilson
2006).  ML analogue: a slot memory (memory networks, the DNC's LRU allocation)
read by a Hopfield network — the classical binary one or the modern one whose
update is softmax attention (Ramsauer et al. 2020).

Pathways (``pathway``):
    ``dg`` (default): CA3 codes are DG codes (k of D = dg_factor * size cells).
        Retrieval: perforant path s0 = sum_mu softmax_mu(beta sqrt(N) cos(x, ec_mu)) xi_mu (modern)
        or k-WTA(sum_mu (xi_mu - a)(ec_mu . x) / N) (classical; a = k / D), then CA3 completion,
        then CA1: recall = sum_mu w_mu(s) ec_mu (classical: its sign).
    ``direct``: CA3 stores the EC patterns themselves (the network the Hopfield capacity
        results describe; ``hopfield_capacity`` uses it); CA1 is the identity.
CA3 completion (``mode``), with w_mu(s) the slot weights:
    classical: w_mu = (xi_mu - a) . (s - a) / C (Hebbian W = sum_mu (xi_mu - a)(xi_mu - a)^T / C with
        zero diagonal, never formed); s <- sign(W s) (direct) or k-WTA(W s) (dg), synchronous.
        Capacity ~0.138 N for +-1 patterns (Amit et al. 1985).
    modern: w = softmax(beta sqrt(C) cos(s, xi_mu)) (``similarity: cosine``) or
        softmax(beta xi_mu . s) (``dot``, Ramsauer's form); s <- sum_mu w_mu xi_mu.
    Recall iterates until nothing changes — classical: no unit flips (or a 2-cycle, the other
    end state of synchronous symmetric threshold dynamics); modern: max |ds| <= ``tolerance`` —
    capped at ``iterations`` updates; ``iterations: 1`` is "one update".  Recall runs only on
    steps that do not write and have a non-zero cue (a while loop with zero trips otherwise).
Familiarity: the best fraction of the cue's active DG cells that a stored DG code shares (1 for a
    stored pattern, about ``dg_sparsity`` for a novel one); ``match`` = familiarity >=
    ``recognition``; with ``reject_novel`` a cue without a match recalls zeros (modern Hopfield
    always returns *some* mixture; this is its "no match" answer).
Sequences (``sequence: true``): consecutive write steps chain into an episode (a step without a
    write ends it).  The heteroassociative CA3 weights W_h = sum_t xi_{t+1} xi_t^T are kept in slot
    form: slot mu's successor ``succ[mu]`` and predecessor ``pred[mu]``.  ``next`` is the
    heteroassociative read sum_mu w_mu(s) ec_succ(mu) of the completed cue (zero after an
    episode's last state).  Replay with ``replay`` on emits one state per step: forward from a
    random episode start along ``succ``; with ``reverse`` on, backwards along ``pred`` from the
    newest memory (where the animal is when reward arrives); a change of direction restarts; after
    an episode's end one silent step, then the next replay.  Without ``sequence``, replay draws a
    stored memory uniformly with the step key.
Storage: a write (``write`` > 0.5) stores ``store`` (or the cue when ``store`` is all zeros) in the
    least-recently-used slot (empty slots first); a slot is "used" when written and when
    recognised (match).  Writing P patterns costs P slot writes, no recall.  The store is not
    differentiable (inputs to completion are stop_gradient'ed): it is state, not params.

Config: ``size`` N; ``slots`` M; ``mode``; ``pathway``; ``beta``; ``similarity``; ``iterations``
    (cap); ``tolerance``; ``dg_factor``; ``dg_sparsity``; ``dg_fan_in`` (inputs per DG cell,
    capped at N); ``recognition``; ``reject_novel``; ``sequence``.
Ports:
    in  ``cue`` [size]; ``store`` [size] (optional); ``write`` [1]; ``replay`` [1]; ``reverse`` [1].
    out ``recall`` [size] (zeros on write steps, with an empty memory, or a rejected cue);
        ``familiarity`` [1]; ``match`` [1] (0/1); ``next`` [size] (sequence mode, else zeros);
        ``replayed`` [size]; ``separated`` [dg_factor * size] (the cue's DG code, 0/1, k active).
State (lifelong, kept across episodes, see ``Area.lifelong``): ``memory`` [M, N] EC patterns;
    ``ca3`` [M, D] DG/CA3 codes (``[M, 0]`` on the direct pathway); ``keys`` [M, k] int32 active DG
    cells; ``last_used`` [M] int32; ``valid`` [M] bool; ``clock`` [] int32; ``succ``, ``pred`` [M]
    int32 (-1: none); ``newest`` [] int32 the last written slot.  Episodic (reset): ``prev_slot``
    [] the slot written on the previous step; ``replay_slot`` [] and ``replay_reverse`` [] bool.
Params: the DG projection only (``Fixed``, never learned).
Cost terms: none of its own (use the generic ``supervised`` term on ``recall``).
Costs: recall O(iterations * M * C); a write O(M + N * D); familiarity O(M * k).
References: Marr (1971) Phil Trans R Soc B 262; Hopfield (1982) PNAS 79;
    Amit, Gutfreund & Sompolinsky (1985) Phys Rev Lett 55; Goles-Chacc, Fogelman-Soulie &
    Pellegrin (1985) Discrete Appl Math 12; McNaughton & Morris (1987) Trends Neurosci 10;
    Treves & Rolls (1992) Hippocampus 2; Levy (1996) Hippocampus 6; Wilson & McNaughton (1994)
    Science 265; Hasselmo, Bodelon & Wyble (2002) Neural Comput 14; Foster & Wilson (2006)
    Nature 440; Graves et al. (2016) Nature 538; Ramsauer et al. (2020) arXiv:2008.02217.
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
_NONE = -1  # "no slot" in the sequence links and the replay pointer


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


def _sign(h, s):
    """``sign(h)``, keeping the old state ``s`` where ``h == 0``."""
    return jnp.where(h > 0, 1.0, jnp.where(h < 0, -1.0, jnp.sign(s)))


def _kwta(h, k: int):
    """0/1 vector with ones on the ``k`` largest entries of ``h``."""
    _, idx = jax.lax.top_k(h, k)
    return jnp.zeros_like(h).at[idx].set(1.0)


@register_area("hippocampus")
class Hippocampus(Area):
    """EC -> DG -> CA3 -> CA1 -> EC: one-shot slot memory, completion to a fixed point, sequences, replay."""

    color = "#DD8452"  # in drawings (brainsim viz)
    # memories (and the clock that orders them) outlive an episode; the replay pointer and the
    # sequence chain under construction are activity and reset (see brainsim.phases)
    lifelong = ("memory", "ca3", "keys", "last_used", "valid", "clock", "succ", "pred", "newest")

    @dataclasses.dataclass(frozen=True)
    class Config:
        size: int = 64  # pattern size N (EC units)
        slots: int = 128  # memory slots M (LRU storage)
        mode: Literal["classical", "modern"] = "modern"  # CA3 completion: classical (Hebbian) or modern (softmax) Hopfield
        pathway: Literal["dg", "direct"] = "dg"  # CA3 stores DG codes (dg) or the EC patterns themselves (direct)
        beta: float = 8.0  # inverse temperature of modern-Hopfield retrieval
        similarity: Literal["cosine", "dot"] = "cosine"  # modern retrieval score: cosine or dot product
        iterations: int = 100  # cap on recall updates (1: one update)
        tolerance: float = 1e-4  # modern recall stops when max |ds| <= tolerance
        dg_factor: int = 4  # DG cells per EC unit (D = dg_factor * size)
        dg_sparsity: float = 0.05  # fraction of DG cells active (k-WTA)
        dg_fan_in: int = 16  # EC inputs per DG cell (capped at size)
        recognition: float = 0.5  # familiarity threshold of a match
        reject_novel: bool = False  # a cue without a match recalls zeros
        sequence: bool = False  # chain consecutive writes into episodes (succ/pred links, ordered replay)

        def check(self):
            if self.size < 1 or self.slots < 1:
                return f"size and slots must be >= 1, found size={self.size}, slots={self.slots}"
            if self.beta <= 0:
                return f"beta (modern inverse temperature) must be > 0, found {self.beta}"
            if self.iterations < 1:
                return f"iterations (the cap on recall updates) must be >= 1, found {self.iterations}"
            if self.tolerance < 0:
                return f"tolerance must be >= 0, found {self.tolerance}"
            if self.dg_factor < 1:
                return f"dg_factor (DG cells per input unit) must be >= 1, found {self.dg_factor}"
            if not 0.0 < self.dg_sparsity < 1.0:
                return f"dg_sparsity (fraction of active DG cells) must be in (0, 1), found {self.dg_sparsity}"
            if self.dg_fan_in < 1:
                return f"dg_fan_in must be >= 1, found {self.dg_fan_in}"
            if not 0.0 < self.recognition <= 1.0:
                return f"recognition must be in (0, 1], found {self.recognition}"
            return None

    # documented example configs: the contract suite (tests/areas/test_contract.py) checks each one
    examples = ({}, {"mode": "classical", "pathway": "direct", "size": 32, "slots": 16},
                {"sequence": True, "reject_novel": True, "size": 32, "slots": 16})
    inputs = {
        "cue": Port("size", doc="retrieval cue (EC input)"),
        "store": Port("size", required=False, doc="pattern stored when write is on (default: the cue)"),
        "write": Port(1, required=False, doc="> 0.5: store one-shot in the least-recently-used slot (no recall)"),
        "replay": Port(1, required=False, doc="> 0.5: emit a stored memory (sequence mode: the next of an episode)"),
        "reverse": Port(1, required=False, doc="> 0.5 with replay (e.g. after reward): sequences replay backwards"),
    }
    outputs = {
        "recall": Port("size", doc="CA1 output of the completed CA3 state (zeros on write steps / empty memory)"),
        "familiarity": Port(1, doc="DG-space recognition in [0, 1] (low = novel)"),
        "match": Port(1, doc="1 when familiarity >= recognition (a stored item), else 0 (novel)"),
        "next": Port("size", doc="sequence mode: the heteroassociative prediction of the cue's successor"),
        "replayed": Port("size", doc="a replayed memory (zeros when replay is off)"),
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

    @property
    def n_ca3(self) -> int:
        """Width of the CA3 code: D (``pathway: dg``) or N (``direct``)."""
        return self.n_dg if self.config.pathway == "dg" else self.config.size

    def build(self, rngs):
        return _DentateGyrus(self.config.size, self.n_dg, min(self.config.dg_fan_in, self.config.size), rngs)

    def initial_state(self):
        m, n = self.config.slots, self.config.size
        c = self.n_dg if self.config.pathway == "dg" else 0  # direct: CA3 stores `memory` itself
        # built in numpy: no per-shape XLA compile for constant arrays
        return {"memory": jnp.asarray(np.zeros((m, n), np.float32)),
                "ca3": jnp.asarray(np.zeros((m, c), np.float32)),
                "keys": jnp.asarray(np.zeros((m, self.k_dg), np.int32)),
                "last_used": jnp.asarray(np.full((m,), -1, np.int32)),
                "valid": jnp.asarray(np.zeros((m,), bool)),
                "clock": jnp.asarray(np.zeros((), np.int32)),
                "succ": jnp.asarray(np.full((m,), _NONE, np.int32)),
                "pred": jnp.asarray(np.full((m,), _NONE, np.int32)),
                "newest": jnp.asarray(np.full((), _NONE, np.int32)),
                "prev_slot": jnp.asarray(np.full((), _NONE, np.int32)),
                "replay_slot": jnp.asarray(np.full((), _NONE, np.int32)),
                "replay_reverse": jnp.asarray(np.zeros((), bool))}

    # ---- dentate gyrus -------------------------------------------------------
    def separate(self, w, x):
        """DG code of ``x [size]`` through ``w [size, D]``: ``(code [D] 0/1, active indices [k] int32)``."""
        _, idx = jax.lax.top_k(x @ w, self.k_dg)
        return jnp.zeros((self.n_dg,), jnp.float32).at[idx].set(1.0), idx.astype(jnp.int32)

    # ---- CA3 -----------------------------------------------------------------
    def weights(self, ca3, valid, s):
        """Slot weights ``[slots]`` of CA3 state ``s [C]`` over the stored codes ``ca3 [slots, C]``.

        Modern: the softmax attention ``p``; classical: the Hebbian overlaps ``(xi_mu - a) . (s - a) / C``
        (``a`` = mean activity of sparse DG codes, 0 for +-1 patterns), i.e. ``W s = sum_mu xi_mu w_mu``.
        """
        cfg, c = self.config, ca3.shape[1]
        if cfg.mode == "classical":
            a = self.k_dg / self.n_dg if cfg.pathway == "dg" else 0.0
            return valid * ((ca3 - a) @ (s - a)) / c
        if cfg.similarity == "dot":
            logits = cfg.beta * (ca3 @ s)
        else:
            unit = ca3 * jax.lax.rsqrt(jnp.sum(jnp.square(ca3), axis=1, keepdims=True) + _EPS)
            logits = cfg.beta * jnp.sqrt(float(c)) * (unit @ (s * jax.lax.rsqrt(jnp.sum(jnp.square(s)) + _EPS)))
        return jax.nn.softmax(jnp.where(valid, logits, -1e30))

    def update(self, ca3, valid, s):
        """One synchronous CA3 update ``s -> s'`` ``[C]``."""
        cfg = self.config
        w = self.weights(ca3, valid, s)
        if cfg.mode == "modern":
            return w @ ca3
        a = self.k_dg / self.n_dg if cfg.pathway == "dg" else 0.0
        self_coupling = (valid @ jnp.square(ca3 - a)) / ca3.shape[1]  # the Hebbian W's diagonal, removed
        h = (w @ (ca3 - a)) - self_coupling * (s - a)
        return _kwta(h, self.k_dg) if cfg.pathway == "dg" else _sign(h, s)

    def complete(self, ca3, valid, s0, active=True):
        """CA3 completion of ``s0 [C]`` to a fixed point (at most ``iterations`` updates; none when not ``active``).

        Returns ``(s [C], updates int32)``. Classical: until no unit changes (or the state repeats the one
        two updates back: symmetric synchronous threshold networks end in a fixed point or a 2-cycle,
        Goles-Chacc et al. 1985); modern: until ``max |s' - s| <= tolerance``.
        Not differentiable (the store is state): inputs are stop_gradient'ed.
        """
        cfg = self.config
        ca3, s0 = jax.lax.stop_gradient(ca3), jax.lax.stop_gradient(s0)
        valid = valid.astype(jnp.float32)

        def cond(c):
            return (~c[3]) & (c[2] < cfg.iterations)

        def body(c):
            before, s, n, _ = c
            s2 = self.update(ca3, valid, s)
            done = jnp.max(jnp.abs(s2 - s)) <= cfg.tolerance
            if cfg.mode == "classical":  # synchronous threshold dynamics end in a fixed point or a 2-cycle
                done = done | jnp.array_equal(s2, before)
            return s, s2, n + 1, done

        _, s, n, _ = jax.lax.while_loop(cond, body, (s0, s0, jnp.zeros((), jnp.int32), ~jnp.asarray(active)))
        return s, n

    def ca3_code(self, memory, ca3):
        """The stored CA3 codes ``[slots, C]`` (the EC patterns themselves on the direct pathway)."""
        return ca3 if self.config.pathway == "dg" else memory

    def perforant(self, memory, ca3, valid, x):
        """CA3 state ``[C]`` the cue ``x [size]`` drives through the direct perforant path (EC -> CA3).

        ``direct``: the cue itself. ``dg``: the Hebbian EC -> CA3 association formed at storage
        (``W_pp = sum_mu (xi_mu - a) ec_mu^T``) read by the cue: modern, the stored codes weighted by
        ``softmax(beta sqrt(N) cos(x, ec_mu))``; classical, k-WTA of ``W_pp x``.  Retrieval does not go
        through the DG (Treves & Rolls 1992: the DG is needed at storage, the perforant path at recall).
        """
        if self.config.pathway == "direct":
            return x
        v = valid.astype(jnp.float32)
        if self.config.mode == "classical":
            a = self.k_dg / self.n_dg
            return _kwta(((v * (memory @ x)) / self.config.size) @ (ca3 - a), self.k_dg)
        unit = memory * jax.lax.rsqrt(jnp.sum(jnp.square(memory), axis=1, keepdims=True) + _EPS)
        cos = unit @ (x * jax.lax.rsqrt(jnp.sum(jnp.square(x)) + _EPS))
        p = jax.nn.softmax(jnp.where(valid, self.config.beta * jnp.sqrt(float(self.config.size)) * cos, -1e30))
        return p @ ca3

    def ca1(self, ca3, valid, s, values):
        """CA1 / EC output ``[size]``: the patterns ``values [slots, size]`` read by CA3 state ``s``."""
        if self.config.pathway == "direct" and values is None:
            return s
        w = self.weights(ca3, valid.astype(jnp.float32), s)
        out = w @ values
        return _sign(out, out) if self.config.mode == "classical" else out

    # ---- the step ------------------------------------------------------------
    def forward(self, module, state, inputs, key):
        return self._step(module.w.value, state, inputs, key)

    # one compiled unit even when called eagerly (eager JAX compiles every primitive on its own)
    @functools.partial(jax.jit, static_argnums=0)
    def _step(self, w, state, inputs, key):
        cue = inputs["cue"]
        write = inputs["write"][0] > 0.5
        code, _ = self.separate(w, cue)
        familiarity, best = self.recognise(state, code)
        match = familiarity >= self.config.recognition
        recall, nxt = self.retrieve(state, cue, match, active=~write & jnp.any(cue != 0))
        last_used = state["last_used"].at[best].set(jnp.where(match, state["clock"], state["last_used"][best]))
        new_state = self.store({**state, "last_used": last_used}, w, inputs, write)
        replayed, new_state["replay_slot"], new_state["replay_reverse"] = self.replay(state, inputs, key)
        new_state["clock"] = state["clock"] + 1
        return new_state, {"recall": recall, "familiarity": familiarity[None], "match": match.astype(jnp.float32)[None],
                           "next": nxt, "replayed": replayed, "separated": code}

    def recognise(self, state, code):
        """DG-space familiarity ``[]`` of a cue's DG code and the best-matching slot (memory before the write)."""
        shared = jnp.where(state["valid"], jnp.mean(code[state["keys"]], axis=1), 0.0)
        best = jnp.argmax(shared)
        return shared[best], best

    def retrieve(self, state, cue, match, active):
        """Completion to a fixed point, CA1 readout and (sequence mode) the successor: ``(recall, next)`` ``[size]``.

        Nothing runs (zero updates) unless ``active`` (a recall step with a non-empty memory).
        """
        mem, valid = state["memory"], state["valid"]
        ca3 = self.ca3_code(mem, state["ca3"])
        active = active & jnp.any(valid)
        s, _ = self.complete(ca3, valid, self.perforant(mem, state["ca3"], valid, cue), active)
        keep = active & (match | (not self.config.reject_novel))
        recall = jnp.where(keep, self.ca1(ca3, valid, s, None if self.config.pathway == "direct" else mem), 0.0)
        if not self.config.sequence:
            return recall, jnp.zeros_like(cue)
        # heteroassociative read: the successors of the slots the completed state activates
        has = state["succ"] >= 0
        succ_patterns = jnp.where(has[:, None], mem[jnp.maximum(state["succ"], 0)], 0.0)
        nxt = self.ca1(ca3, valid, s, succ_patterns)  # zero weight lands on slots without a successor
        return recall, jnp.where(keep, nxt, 0.0)

    def store(self, state, w, inputs, write):
        """One-shot write of ``store`` (or the cue) in the least-recently-used slot; sequence links chain
        consecutive writes (a step without a write ends the episode). Returns the new state."""
        valid, last_used = state["valid"], state["last_used"]
        pattern = jnp.where(jnp.any(inputs["store"] != 0), inputs["store"], inputs["cue"])
        pcode, pidx = self.separate(w, pattern)
        slot = jnp.argmin(jnp.where(valid, last_used, -1)).astype(jnp.int32)
        put = lambda a, v: a.at[slot].set(jnp.where(write, v, a[slot]))  # noqa: E731
        new = dict(state)
        new["memory"] = put(state["memory"], pattern)
        if self.config.pathway == "dg":
            new["ca3"] = put(state["ca3"], pcode)
        new["keys"] = put(state["keys"], pidx)
        new["last_used"] = put(last_used, state["clock"])
        new["valid"] = valid.at[slot].set(valid[slot] | write)
        new["newest"] = jnp.where(write, slot, state["newest"])
        # links into an overwritten slot die with it; then prev -> slot
        prev = state["prev_slot"]
        succ = jnp.where(write & (state["succ"] == slot), _NONE, state["succ"])
        pred = jnp.where(write & (state["pred"] == slot), _NONE, state["pred"])
        chain = write & (prev >= 0) & (prev != slot)
        succ = succ.at[slot].set(jnp.where(write, _NONE, succ[slot]))
        pred = pred.at[slot].set(jnp.where(write, jnp.where(chain, prev, _NONE), pred[slot]))
        succ = succ.at[jnp.maximum(prev, 0)].set(jnp.where(chain, slot, succ[jnp.maximum(prev, 0)]))
        new["succ"], new["pred"] = succ, pred
        new["prev_slot"] = jnp.where(write, slot, _NONE)
        return new

    def replay(self, state, inputs, key):
        """``(replayed [size], replay_slot [], replay_reverse [])``: the memory emitted this step (zeros when
        replay is off), the slot it came from (-1: none) and the direction.

        Plain mode: a filled slot drawn uniformly with the step key.  Sequence mode: an episode is
        replayed one state per step, following the heteroassociative links forward (``succ``) or, with
        ``reverse`` on, backwards (``pred``); a replay starts at a random episode start (forward) or at
        the newest memory, where the animal is (reverse, as after reward); after an episode's last
        state one silent step, then the next replay begins.
        """
        valid, mem = state["valid"], state["memory"]
        on = (inputs["replay"][0] > 0.5) & jnp.any(valid)
        if not self.config.sequence:
            pick = jax.random.categorical(key, jnp.where(valid, 0.0, -1e30))
            return jnp.where(on, mem[pick], 0.0), jnp.asarray(_NONE, jnp.int32), jnp.asarray(False)
        rev = inputs["reverse"][0] > 0.5
        cur = state["replay_slot"]
        starts = valid & (state["pred"] < 0)
        first = jax.random.categorical(key, jnp.where(starts, 0.0, -1e30)).astype(jnp.int32)
        onset = jnp.where(rev, state["newest"], first)
        link = jnp.where(rev, state["pred"], state["succ"])[jnp.maximum(cur, 0)]
        restart = (cur < 0) | (rev != state["replay_reverse"])  # a change of direction starts a new replay
        target = jnp.where(on, jnp.where(restart, onset, link), _NONE)
        return jnp.where(target >= 0, mem[jnp.maximum(target, 0)], 0.0), target.astype(jnp.int32), rev
