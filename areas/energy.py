"""energy — a layered continuous Hopfield network that settles to a fixed point of its energy in one step.

Biological role: a recurrent cortical hierarchy with reciprocal (symmetric)
connections whose activity relaxes to an attractor; learning contrasts the
attractor reached without a teacher (the "minus" / free phase) with the one
reached when the outcome is observed (the "plus" / clamped or nudged phase),
as in O'Reilly's Leabra account of cortical error-driven learning.
ML analogue: an energy-based model trained by contrastive Hebbian learning or
equilibrium propagation (``brainsim.rules.contrastive``); with ``rule:
backprop`` it is a recurrent net trained through its settling iterations (BPTT).

Units: the clamped input ``x = s_0`` and layers ``s_1 .. s_L`` (the ``hidden``
layers, then the ``size`` output units). Energy of one sample (Scellier & Bengio 2017, eq. 1,
layered, no intra-layer connections)::

    E(s; x) = 1/2 sum_{l>=1} |s_l|^2 - sum_{l=1..L} rho(s_{l-1})^T W_l rho(s_l) - sum_{l>=1} b_l^T rho(s_l)

with ``rho(s_0) = x`` and ``W_l [d_{l-1}, d_l]`` used in both directions
(feedforward ``W_l``, feedback ``W_l^T``: a symmetric network). The total
energy of a phase is ``F = E + beta C`` with ``C = 1/2 |s_L - y|^2`` (``y`` the
``target``); settling is ``iterations`` Euler steps of ``ds/dt = -dF/ds`` with
step ``dt``, from ``s = 0`` (``hard_sigmoid``: states clipped to [0, 1] after
each step, as in Scellier & Bengio).  Phases (:meth:`Energy.settle`):

* free (minus) phase: ``beta = 0``, what :meth:`forward` emits;
* nudged phase: ``beta != 0`` (equilibrium propagation), started from the free state;
* clamped (plus) phase: ``clamp=True``, ``s_L = y`` held fixed (contrastive Hebbian learning).

Ports:
    in  ``input`` [auto]: ``x``, clamped during every phase (digits in [0, 1]).
    in  ``target`` [size]: ``y``, what the clamped / nudged phases pull the output towards (the free
        phase, and so the output, never reads it).
    out ``output`` [size]: ``s_L`` at the free fixed point.
State: none (each step settles from ``s = 0``: the fixed point is reached within the step).
Cost terms: the generic ones (``supervised`` on ``output`` reads the free phase's prediction).
Interface for the rules (the ``energy`` need): :meth:`Energy.energy`, :meth:`Energy.settle`,
    :meth:`Energy.activities`, :meth:`Energy.energy_layers`.
References: Hopfield (1984) PNAS 81:3088; Movellan (1990) Connectionist Models Summer School;
    O'Reilly (1996) Neural Comput 8:895; Scellier & Bengio (2017) Front Comput Neurosci 11:24.
"""

from __future__ import annotations

import dataclasses
from typing import Literal, Optional, Sequence

import jax
import jax.numpy as jnp
from flax import nnx

from brainsim.area import Area, Port, register_area


def hard_sigmoid(s: jax.Array) -> jax.Array:
    """``clip(s, 0, 1)`` with derivative 1 on the closed interval [0, 1] (so a unit at 0 is not stuck)."""
    return jnp.where((s >= 0.0) & (s <= 1.0), s, jnp.clip(s, 0.0, 1.0))


ACTIVATIONS = {"hard_sigmoid": hard_sigmoid, "sigmoid": jax.nn.sigmoid, "tanh": jnp.tanh}


class _Layers(nnx.Module):
    def __init__(self, sizes, rngs):
        ws, bs = [], []
        for a, b in zip(sizes[:-1], sizes[1:]):  # Glorot-uniform, as Scellier & Bengio (2017)
            lim = (6.0 / (a + b)) ** 0.5
            ws.append(nnx.Param(jax.random.uniform(rngs.params(), (a, b), minval=-lim, maxval=lim)))
            bs.append(nnx.Param(jnp.zeros((b,))))
        self.weights = nnx.List(ws)
        self.biases = nnx.List(bs)


@register_area("energy")
class Energy(Area):
    """Layered continuous Hopfield network (free, nudged and clamped phases of one energy)."""

    color = "#8172B3"  # in drawings (brainsim viz)
    examples = ({"size": 3, "hidden": (5,)}, {"size": 2, "hidden": (4, 3), "activation": "sigmoid", "iterations": 5},
                {"size": 2, "hidden": (), "activation": "tanh", "dt": 0.2})

    @dataclasses.dataclass(frozen=True)
    class Config:
        size: int = 1  # output units (the layer the target clamps or nudges)
        hidden: tuple[int, ...] = (16,)  # widths of the hidden layers (empty: input -> output only)
        iterations: int = 20  # Euler steps of the settling dynamics per phase (within one brain step)
        dt: float = 0.5  # Euler step size (ds = -dt dF/ds)
        activation: Literal["hard_sigmoid", "sigmoid", "tanh"] = "hard_sigmoid"  # rho; hard_sigmoid clips s

        def check(self):
            if self.size < 1:
                return f"size must be >= 1, found {self.size}"
            if any(h < 1 for h in self.hidden):
                return f"hidden sizes must be >= 1, found {list(self.hidden)}"
            if len(self.hidden) > 16:
                return f"at most 16 hidden layers, found {len(self.hidden)}"
            if not 1 <= self.iterations <= 10_000:
                return f"iterations must be in [1, 10000], found {self.iterations}"
            if not 0.0 < self.dt <= 1.0:
                return f"dt must be in (0, 1], found {self.dt}"
            return None

    inputs = {"input": Port("auto", doc="clamped input x"),
              "target": Port("size", doc="teacher y for the clamped / nudged phases (the output never reads it)")}
    outputs = {"output": Port("size", doc="output layer at the free fixed point")}

    def build(self, rngs):
        return _Layers((self.in_dims["input"], *self.config.hidden, self.config.size), rngs)

    # ---- the interface the contrastive rules use --------------------------------
    @staticmethod
    def energy_layers(n_layers: int) -> tuple:
        """``((kernel path, bias path), ...)`` of ``W_l``, ``b_l`` inside the area's params."""
        return tuple((("weights", i), ("biases", i)) for i in range(n_layers))

    def _wb(self, p) -> tuple[list, list]:
        n = len(self.config.hidden) + 1
        if isinstance(p, nnx.Module):
            return [p.weights[i][...] for i in range(n)], [p.biases[i][...] for i in range(n)]
        return [p["weights"][i] for i in range(n)], [p["biases"][i] for i in range(n)]

    def activities(self, layers: Sequence, x: jax.Array) -> list:
        """``[rho(s_0) = x, rho(s_1), ..., rho(s_L)]`` (each ``[..., d_l]``)."""
        rho = ACTIVATIONS[self.config.activation]
        return [x] + [rho(s) for s in layers]

    def energy(self, p, layers: Sequence, x: jax.Array) -> jax.Array:
        """``E(s; x)`` per sample, ``[...]``.

        Args:
            p: the area's params (a nested dict ``{"weights": {l: W_l}, "biases": {l: b_l}}`` or its module).
            layers: ``[s_1 [..., d_1], ..., s_L [..., size]]``.
            x: ``[..., d_0]`` the clamped input.
        """
        Ws, bs = self._wb(p)
        r = self.activities(layers, x)
        e = sum(0.5 * jnp.sum(s * s, axis=-1) for s in layers)
        for l, (W, b) in enumerate(zip(Ws, bs)):
            e = e - jnp.sum((r[l] @ W) * r[l + 1], axis=-1) - r[l + 1] @ b
        return e

    def settle(self, p, x: jax.Array, target: Optional[jax.Array] = None, beta=0.0, clamp: bool = False,
               start: Optional[Sequence] = None, iterations: Optional[int] = None) -> list:
        """One phase: ``iterations`` Euler steps of ``ds/dt = -d(E + beta C)/ds``; the layers ``[..., d_l]``.

        Args:
            p: the area's params (see :meth:`energy`).
            x: ``[..., d_0]``; leading axes are independent samples.
            target: ``[..., size]`` (the nudged and clamped phases).
            beta: nudging strength (a float or a traced scalar); 0: the free phase.
            clamp: hold ``s_L = target`` (the clamped / plus phase).
            start: initial layers (default zeros; the nudged phase starts from the free fixed point).
            iterations: Euler steps (default the area's ``iterations``).
        """
        cfg = self.config
        lead = x.shape[:-1]
        sizes = (*cfg.hidden, cfg.size)
        layers = list(start) if start is not None else [jnp.zeros((*lead, d), x.dtype) for d in sizes]
        if clamp:
            layers[-1] = target

        def total(ls):
            f = jnp.sum(self.energy(p, ls, x))
            if target is not None and not clamp:
                f = f + beta * 0.5 * jnp.sum(jnp.square(ls[-1] - target))
            return f

        def body(ls, _):
            g = jax.grad(total)(ls)
            new = [s - cfg.dt * gs for s, gs in zip(ls, g)]
            if cfg.activation == "hard_sigmoid":
                new = [jnp.clip(s, 0.0, 1.0) for s in new]
            if clamp:
                new[-1] = target
            return new, None

        layers, _ = jax.lax.scan(body, layers, None, length=iterations or cfg.iterations)
        return layers

    # ---- the step ----------------------------------------------------------------
    def forward(self, module, state, inputs, key):
        layers = self.settle(module, inputs["input"])
        return state, {"output": layers[-1]}
