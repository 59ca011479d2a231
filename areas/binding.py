"""binding — variable binding by circular convolution (holographic reduced representations).

Biological role: cortex must bind a role to whatever fills it ("subject = dog",
"object = chair") on the fly, without a dedicated neuron per combination; a
fixed-width distributed code that holds several role/filler pairs superposed
is the vector-symbolic answer (Plate 1995; Eliasmith 2013's semantic pointers
in prefrontal cortex), with a clean-up memory (a hippocampal or cortical
auto-associator) mapping the noisy unbound vector back to a known item.
ML analogue: holographic reduced representations (HRR): ``bind(a, b) = a ⊛ b``
(circular convolution, computed by FFT), superposition by addition, unbinding by
circular correlation with the role (its approximate inverse, the involution
``a*[i] = a[-i mod D]``), then nearest-neighbour clean-up over a vocabulary.

One step::

    bound    = role ⊛ filler                                     (rfft, product, irfft)
    trace'   = (1 - clear) * (1 - decay) * trace + write * bound  (superposition of pairs)
    unbound  = query^-1 ⊛ trace'      (involution: circular correlation; exact: FFT division)
    similarity_m = cos(unbound, vocab_m)                         (m = 1..vocab)
    cleaned  = softmax(sharpness * similarity) @ vocab           (clean-up memory)

Ports:
    in  ``role`` [dim], ``filler`` [dim]: the pair offered for binding.
        ``write`` [1] (optional, default 1): gain of the new pair in the trace (0: don't store).
        ``clear`` [1] (optional, default 0): 1 empties the trace before the write.
        ``query`` [dim] (optional, default 0): a role (or filler) to unbind from the trace.
    out ``bound`` [dim]: role ⊛ filler this step.
        ``trace`` [dim]: the superposed trace after the step.
        ``unbound`` [dim]: the noisy filler bound to ``query`` (feed it to a hippocampus
            in modern mode as ``cue`` for an external clean-up).
        ``cleaned`` [dim]: the built-in clean-up memory's answer.
        ``similarity`` [vocab]: cosine similarity of ``unbound`` with each vocabulary item.
State: ``trace`` [dim] (episodic).
Params: ``vocab`` [vocab, dim], Fixed random items with i.i.d. N(0, 1/dim) elements
    (Plate's distribution, expected norm 1): the clean-up memory's known fillers.
Cost terms: none (binding and unbinding are fixed algebra; storage is state).
References: Plate (1995) IEEE Trans Neural Netw 6:623-641; Plate (2003)
    Holographic Reduced Representations, CSLI; Eliasmith (2013) How to Build a Brain.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import jax
import jax.numpy as jnp
from flax import nnx

from brainsim.area import Area, Fixed, Port, register_area

_EPS = 1e-8


# --------------------------------------------------------------------------- HRR algebra (pure, [..., D])

def bind(a: jax.Array, b: jax.Array) -> jax.Array:
    """Circular convolution ``(a ⊛ b)_j = sum_k a_k b_{(j - k) mod D}`` over the last axis, by FFT."""
    d = a.shape[-1]
    return jnp.fft.irfft(jnp.fft.rfft(a) * jnp.fft.rfft(b), n=d)


def involution(a: jax.Array) -> jax.Array:
    """Plate's approximate inverse ``a*[i] = a[-i mod D]`` (exact for unitary vectors)."""
    return jnp.roll(jnp.flip(a, axis=-1), 1, axis=-1)


def unbind(query: jax.Array, trace: jax.Array, exact: bool = False) -> jax.Array:
    """``query^-1 ⊛ trace``: circular correlation (involution) or, ``exact``, division in the Fourier domain."""
    d = trace.shape[-1]
    fq, ft = jnp.fft.rfft(query), jnp.fft.rfft(trace)
    if exact:
        inv = jnp.conj(fq) / (jnp.abs(fq) ** 2 + 1e-6)
    else:
        inv = jnp.conj(fq)  # rfft(involution(q)) == conj(rfft(q)) for real q
    return jnp.fft.irfft(inv * ft, n=d)


def unitary(key: jax.Array, d: int) -> jax.Array:
    """A random unitary vector ``[d]`` (every Fourier coefficient of modulus 1): its involution is its inverse."""
    phase = jax.random.uniform(key, (d // 2 + 1,), minval=-jnp.pi, maxval=jnp.pi)
    phase = phase.at[0].set(0.0)
    if d % 2 == 0:
        phase = phase.at[-1].set(0.0)
    return jnp.fft.irfft(jnp.exp(1j * phase), n=d)


def random_items(key: jax.Array, n: int, d: int) -> jax.Array:
    """``[n, d]`` HRR items with i.i.d. N(0, 1/d) elements (expected norm 1)."""
    return jax.random.normal(key, (n, d)) / jnp.sqrt(d)


def cosine(x: jax.Array, items: jax.Array) -> jax.Array:
    """Cosine similarity of ``x [d]`` with every row of ``items [n, d]`` -> ``[n]``."""
    xn = x * jax.lax.rsqrt(jnp.sum(x * x) + _EPS)  # rsqrt(. + eps): a finite gradient at x = 0
    return (items @ xn) * jax.lax.rsqrt(jnp.sum(items * items, axis=-1) + _EPS)


# --------------------------------------------------------------------------- the area

class _Vocabulary(nnx.Module):
    def __init__(self, n: int, d: int, rngs: nnx.Rngs):
        self.vocab = Fixed(random_items(rngs.params(), n, d))


@register_area("binding")
class Binding(Area):
    """HRR role/filler binding with a superposed trace and a built-in clean-up memory."""

    color = "#64B5CD"  # in drawings (brainsim viz)

    @dataclasses.dataclass(frozen=True)
    class Config:
        dim: int = 64  # dimension D of role, filler and trace vectors
        vocab: int = 32  # items of the fixed clean-up vocabulary
        unbinding: Literal["involution", "exact"] = "involution"  # unbinding inverse: involution (Plate) or exact (FFT)
        decay: float = 0.0  # fraction of the trace lost per step
        sharpness: float = 50.0  # softmax sharpness of the clean-up memory

        def check(self):
            if self.dim < 2 or self.vocab < 1:
                return f"dim must be >= 2 and vocab >= 1, found dim={self.dim}, vocab={self.vocab}"
            if not 0.0 <= self.decay <= 1.0:
                return f"decay must be in [0, 1] (fraction of the trace lost per step), found {self.decay}"
            if self.sharpness <= 0:
                return f"sharpness (inverse temperature of the clean-up) must be > 0, found {self.sharpness}"
            return None

    # documented example configs: the contract suite (tests/areas/test_contract.py) checks each one
    examples = ({}, {"unbinding": "exact", "decay": 0.1, "dim": 32, "vocab": 8})
    inputs = {
        "role": Port("dim", doc="role vector"),
        "filler": Port("dim", doc="filler vector"),
        "write": Port(1, required=False, default=1.0, doc="gain of this step's pair in the trace"),
        "clear": Port(1, required=False, doc="1 empties the trace before writing"),
        "query": Port("dim", required=False, doc="role (or filler) to unbind from the trace"),
    }
    outputs = {
        "bound": Port("dim", doc="role ⊛ filler"),
        "trace": Port("dim", doc="superposed role/filler pairs"),
        "unbound": Port("dim", doc="noisy filler bound to the query"),
        "cleaned": Port("dim", doc="clean-up memory's answer"),
        "similarity": Port("vocab", doc="cosine of unbound with each vocabulary item"),
    }

    def build(self, rngs):
        return _Vocabulary(self.config.vocab, self.config.dim, rngs)

    def initial_state(self):
        return {"trace": jnp.zeros((self.config.dim,), jnp.float32)}

    def superpose(self, trace, bound, write, clear):
        """Phase 1: ``trace' = (1 - clear)(1 - decay) trace + write * bound``; all ``[dim]`` (gains ``[1]``)."""
        return (1.0 - clear) * (1.0 - self.config.decay) * trace + write * bound

    def clean_up(self, vocab, unbound):
        """Phase 2: ``(similarity [vocab], cleaned [dim])`` — a softmax over cosine similarities."""
        sim = cosine(unbound, vocab)
        cleaned = jax.nn.softmax(self.config.sharpness * sim) @ vocab
        return sim, cleaned

    def forward(self, module, state, inputs, key):
        bound = bind(inputs["role"], inputs["filler"])
        trace = self.superpose(state["trace"], bound, inputs["write"], inputs["clear"])
        unbound = unbind(inputs["query"], trace, exact=self.config.unbinding == "exact")
        sim, cleaned = self.clean_up(module.vocab[...], unbound)
        return {"trace": trace}, {"bound": bound, "trace": trace, "unbound": unbound, "cleaned": cleaned,
                                  "similarity": sim}
