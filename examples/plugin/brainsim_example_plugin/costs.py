"""The generic cost term ``huber`` (an example plugin cost term), usable on any area.

Huber (1964): quadratic for errors below ``delta``, linear above, so outliers pull less than
under the squared error.  Options: ``target`` (external input), ``port`` (default: the area's first
output), ``delta`` (default 1.0), ``mask`` (external input of dim 1).
"""

from __future__ import annotations

import jax.numpy as jnp

from brainsim.plugins import register_cost


@register_cost("huber", options={"target": "the external input holding the target",
                                 "port": "the output port compared (default: the area's first output)",
                                 "delta": "where the loss turns from quadratic to linear (default 1.0)",
                                 "mask": "an external input of dim 1 weighting the steps"})
def huber(area, module, ctx):
    """Huber loss of an output port against an external target (Huber 1964)."""
    port = ctx.options.get("port") or next(iter(area.outputs))
    err = ctx.outputs[port] - ctx.targets[ctx.options["target"]]
    delta = float(ctx.options.get("delta", 1.0))
    a = jnp.abs(err)
    loss = jnp.mean(jnp.where(a <= delta, 0.5 * err ** 2, delta * (a - 0.5 * delta)))
    mask = ctx.options.get("mask")
    if mask is None:
        return loss
    m = jnp.reshape(ctx.targets[mask], ())
    return loss * m, m
