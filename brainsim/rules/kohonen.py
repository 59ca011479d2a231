"""``kohonen``: the self-organising map rule with shrinking neighbourhood and learning rate.

For a map area (``area.lattice [units, 2]``, a ``coords`` output with the
best-matching unit's lattice position ``r_c``, weights ``W [units, in]``)::

    h_j = exp(-||r_j - r_c||^2 / (2 sigma(s)^2))
    dw_j = eta(s) <h_j (x - w_j)>

``sigma`` and ``learning_rate`` are numbers or optax schedules of the training
step ``s`` (evaluated inside the compiled step: no recompilation as they
shrink).  Use ``optimizer: {sgd: {learning_rate: 1.0}}`` so the update is
exactly ``W += dW``; with one sample per step this is Kohonen's sequential
algorithm (as in MiniSom's ``train``).
Biology: topographic maps formed by competition and lateral cooperation.
Reference: Kohonen (1982) Biol Cybern 43:59-69; Kohonen (1990) Proc IEEE 78:1464.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp

from .base import Option, Rule, RuleContext, register_rule, schedule_value, set_path, weighted_mean, zeros_like


def map_weights_path(area, params) -> tuple:
    """The path of the map's ``[units, in]`` weight matrix in the area's params."""
    units = area.lattice.shape[0]
    for k, v in params.items():
        if hasattr(v, "shape") and v.shape == (units, next(iter(area.in_dims.values()))):
            return (k,)
    raise KeyError("no [units, in] weight matrix")


@register_rule("kohonen")
class Kohonen(Rule):
    """Kohonen's SOM rule; neighbourhood width and learning rate follow schedules."""

    formula = "Δw_j = η(s)<h_j (x − w_j)>, h_j = exp(−|r_j − r_c|²/(2σ(s)²))"
    reference = "Kohonen (1982) Biol Cybern 43:59"
    needs = frozenset({"pre", "post", "lattice"})
    options = (Option("sigma", "schedule", 1.0, "neighbourhood width in lattice units (number or schedule)",
                      lo=0.0, lo_open=True),
               Option("learning_rate", "schedule", 0.5, "η (number or schedule); use sgd(1.0) as optimiser",
                      lo=0.0))

    def update(self, ctx: RuleContext, state: Any) -> tuple[Any, Any]:
        area = ctx.area
        port = next(iter(area.in_dims))
        x = ctx.pre()[port]  # [T, B, in]
        rc = ctx.outputs["coords"]  # [T, B, 2]
        sigma = schedule_value(self.config["sigma"], ctx.step)
        eta = schedule_value(self.config["learning_rate"], ctx.step)
        lat2 = jnp.sum(jnp.square(area.lattice[None, None] - rc[:, :, None, :]), -1)  # [T, B, units]
        h = jnp.exp(-lat2 / (2.0 * sigma ** 2))
        path = map_weights_path(area, ctx.params["area"])
        W = ctx.params["area"][path[0]]
        dW = weighted_mean(ctx.weights, h[..., None] * (x[:, :, None, :] - W))
        g = zeros_like(ctx.params)
        return {**g, "area": set_path(g["area"], path, -eta * dW)}, state
