"""``backprop`` (gradient descent on the area's cost) and ``none`` (an exact freeze).

``backprop``: ``g = dC/dtheta``, the gradient from the brain's one ``jax.grad`` pass
(through the whole graph under ``credit: global``).  With ``modulated_by`` it
becomes three-factor: the gradient of the area's own cost replayed with each
step weighted by the (eligibility-filtered) modulator, ``g = d/dtheta sum_t w_t C_t``.
References: Rumelhart, Hinton & Williams (1986) Nature 323:533-536.
"""

from __future__ import annotations

from typing import Any

import jax

from .base import Rule, RuleContext, register_rule, zeros_like


@register_rule("backprop")
class Backprop(Rule):
    """Gradient descent on the area's cost (through the whole graph under credit: global)."""

    formula = "g = dC/dθ (modulated: d/dθ Σ_t w_t C_t on a local replay)"
    reference = "Rumelhart, Hinton & Williams (1986)"
    needs = frozenset({"grad"})

    @property
    def needs_replay(self) -> bool:
        return self.modulator is not None

    def update(self, ctx: RuleContext, state: Any) -> tuple[Any, Any]:
        if self.modulator is None:
            return ctx.grads, state
        return jax.grad(ctx.local_cost)(ctx.params), state


@register_rule("none")
class NoLearning(Rule):
    """Frozen params: bit-identical after any number of steps (the area still runs and its costs are reported).

    The engine never calls the area's optimiser (so weight decay, momentum or a schedule cannot move
    it); :meth:`update` returning zeros is only for callers that apply a rule themselves.
    """

    formula = "Δθ = 0 (the optimiser is not called)"
    reference = "-"
    frozen = True
    modulatable = False

    def update(self, ctx: RuleContext, state: Any) -> tuple[Any, Any]:
        return zeros_like(ctx.params), state
