"""som — a Kohonen self-organising map: a topographic sheet of units.

Biological role: a topographic cortical map (retinotopy, somatotopy, tonotopy,
orientation / colour maps): units laid out on a 2-D sheet, each tuned to an
input pattern, where neighbouring units come to prefer similar inputs through
competition (the best-matching unit wins) and cooperation (its lattice
neighbours learn with it, through lateral excitation).
ML analogue: the self-organising feature map (Kohonen 1982), a topology-
preserving vector quantiser.

A ``rows x cols`` lattice of units; unit ``j`` at lattice position ``r_j`` has
a weight vector ``w_j``::

    c     = argmin_j ||x - w_j||                 (best-matching unit, BMU)
    h_j   = exp(-||r_j - r_c||^2 / (2 sigma^2))  (Gaussian neighbourhood on the lattice)
    cost  = 0.5 * sum_j sg(h_j) ||x - w_j||^2    (c and h held fixed: stop-gradient)

``d cost / d w_j = -h_j (x - w_j)``, so plain SGD with learning rate ``eta``
on the ``som`` term *is* the Kohonen rule ``w_j += eta h_j (x - w_j)``
(batched: its average over the samples and steps of a batch).  Shrinking
``sigma`` over training (the classical schedule) is done by the user, e.g. by
training in phases with decreasing ``sigma``.

Ports:
    in  ``input`` [auto]: the input vector.
    out ``activation`` [rows*cols]: the neighbourhood response ``h`` around the BMU.
        ``bmu`` [rows*cols]: one-hot of the best-matching unit.
        ``coords`` [2]: (row, col) lattice coordinates of the BMU, as floats.
        ``quantization_error`` [1]: ``||x - w_bmu||``.
State: none.
Cost terms:
    ``som``: ``0.5 sum_j sg(h_j) ||x - w_j||^2``; its gradient is the Kohonen update.
    ``quantization``: ``||x - w_bmu||`` (the quantisation error; gradient moves the BMU only).
Weights: ``weights`` [rows*cols, input] (nnx.Param), drawn uniformly in [0, 1)
    (the usual convention for data scaled to [0, 1]); unit ``j`` sits at
    row ``j // cols``, column ``j % cols``.
References: Kohonen (1982) Biol Cybern 43:59-69; Kohonen (1990) Proc IEEE 78:1464;
    Ritter, Martinetz & Schulten (1992) "Neural Computation and Self-Organizing Maps";
    Erwin, Obermayer & Schulten (1992) Biol Cybern 67 (the SOM's energy function).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from flax import nnx

from brainsim.area import Area, Port, register_area


class _Map(nnx.Module):
    def __init__(self, units, n_in, rngs):
        self.weights = nnx.Param(jax.random.uniform(rngs.params(), (units, n_in), jnp.float32))


@register_area("som")
class SOM(Area):
    """Kohonen self-organising map on a ``rows x cols`` lattice."""

    color = "#A6D854"  # in drawings (brainsim viz)

    @dataclasses.dataclass(frozen=True)
    class Config:
        rows: int = 8  # lattice rows
        cols: int = 8  # lattice columns
        sigma: float = 1.0  # width of the Gaussian neighbourhood, in lattice units

        def check(self):
            if self.rows < 1 or self.cols < 1:
                return f"rows and cols must be >= 1, found {self.rows} x {self.cols}"
            if not self.sigma > 0:
                return f"sigma (neighbourhood width, in lattice units) must be > 0, found {self.sigma}"
            return None

    inputs = {"input": Port("auto", doc="input vector")}
    outputs = {
        "activation": Port("rows * cols", doc="Gaussian neighbourhood response around the BMU"),
        "bmu": Port("rows * cols", doc="one-hot best-matching unit"),
        "coords": Port(2, doc="(row, col) of the BMU"),
        "quantization_error": Port(1, doc="distance of the input to the BMU's weights"),
    }
    cost_terms = {
        "som": "0.5 sum_j h(j, bmu) ||x - w_j||^2 with bmu and h fixed: SGD on it is the Kohonen rule",
        "quantization": "distance ||x - w_bmu|| of the input to its best-matching unit",
    }

    @property
    def lattice(self) -> jax.Array:
        """``[rows*cols, 2]`` (row, col) position of every unit."""
        r, c = jnp.meshgrid(jnp.arange(self.config.rows), jnp.arange(self.config.cols), indexing="ij")
        return jnp.stack([r.ravel(), c.ravel()], -1).astype(jnp.float32)

    def build(self, rngs):
        return _Map(self.config.rows * self.config.cols, self.in_dims["input"], rngs)

    def distances(self, module, x):
        """Squared distances ``[rows*cols]`` of ``x [input]`` to every unit's weights."""
        return jnp.sum(jnp.square(x[None, :] - module.weights[...]), axis=-1)

    def forward(self, module, state, inputs, key):
        x = inputs["input"]
        d2 = self.distances(module, x)
        bmu = jnp.argmin(d2)
        pos = self.lattice
        coords = pos[bmu]
        lat2 = jnp.sum(jnp.square(pos - coords), axis=-1)
        h = jnp.exp(-lat2 / (2.0 * self.config.sigma ** 2))
        onehot = jax.nn.one_hot(bmu, d2.shape[0], dtype=jnp.float32)
        qe = jnp.sqrt(jnp.sum(onehot * d2) + 1e-12)
        return state, {"activation": h, "bmu": onehot, "coords": coords, "quantization_error": qe[None]}

    def cost(self, term, module, ctx):
        d2 = self.distances(module, ctx.inputs["input"])
        if term == "som":
            h = jax.lax.stop_gradient(ctx.outputs["activation"])
            return 0.5 * jnp.sum(h * d2)
        if term == "quantization":
            onehot = jax.lax.stop_gradient(ctx.outputs["bmu"])
            return jnp.sqrt(jnp.sum(onehot * d2) + 1e-12)
        return super().cost(term, module, ctx)
