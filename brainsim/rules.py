"""Learning rules (H1): how an area turns its episode into a parameter update.

A rule is a small object built from its wiring options, with one pure method::

    rule.update(ctx: RuleContext) -> pseudo-gradient   (a pytree shaped like ctx.params)

The pseudo-gradient is what the area's optax optimiser consumes (it *descends*
it), so ``backprop`` returns the true gradient of the area's cost, and a
Hebbian rule returns minus its weight change.  ``RuleContext`` gives the rule
the area, its learnable params, the gradient from the brain's single
``jax.grad`` pass (for rules with ``needs_grad``), a closure re-evaluating the
cost for other params (for perturbation rules), the area's trace and a key.

Rules here: ``backprop`` and ``none``; more (feedback alignment, perturbation,
Oja/Sanger, SOM, contrastive) plug into :data:`RULES` with the same interface.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Mapping, Optional

import jax
import jax.numpy as jnp

from .errors import WiringError, did_you_mean


@dataclass(frozen=True)
class RuleContext:
    """Everything a rule may use for one area and one training step.

    Attributes:
        area: the :class:`~brainsim.area.Area` (its replica 0 when replicated).
        params: the area's learnable params ``{"area": nnx.State, "projections": {...}}``.
        grads: gradient of the brain's summed cost w.r.t. ``params`` (None unless ``needs_grad``).
        cost_fn: ``params -> scalar``: the brain's summed cost with this area's params replaced.
        trace: ``{port: [T, B, dim]}`` of this area's outputs during the episode.
        key: a PRNG key for this rule at this step.
        options: the rule's options from the wiring.
    """

    area: Any
    params: Any
    grads: Any
    cost_fn: Optional[Callable]
    trace: Mapping[str, Any]
    key: Any
    options: Mapping[str, Any]


class Rule:
    """Base class; subclasses set ``name``, ``options`` and implement :meth:`update`."""

    name: ClassVar[str] = ""
    options: ClassVar[tuple] = ()
    needs_grad: ClassVar[bool] = False
    needs_trace: ClassVar[bool] = False  # keep all the area's outputs in the training trace
    frozen: ClassVar[bool] = False  # True: the engine skips the area's update entirely (exact freeze)

    def __init__(self, config: Mapping[str, Any] = None):
        self.config = dict(config or {})

    @classmethod
    def check_options(cls, opts: Mapping[str, Any], where: Callable[[str], Any]) -> None:
        for k in opts:
            if k not in cls.options:
                raise WiringError(f"rule '{cls.name}' has no option '{k}'{did_you_mean(k, cls.options)}", where(k),
                                  hint=("options: " + ", ".join(cls.options)) if cls.options else
                                  f"rule '{cls.name}' takes no options")

    def update(self, ctx: RuleContext) -> Any:
        raise NotImplementedError


class Backprop(Rule):
    """Gradient descent on the area's cost (through the whole graph under ``credit: global``)."""

    name = "backprop"
    needs_grad = True

    def update(self, ctx: RuleContext) -> Any:
        return ctx.grads


class NoLearning(Rule):
    """Frozen params: bit-identical after any number of steps (the area still runs and its costs are reported).

    The engine never calls the area's optimiser (so weight decay, momentum or a schedule cannot move
    it); :meth:`update` returning zeros is only for callers that apply a rule themselves.
    """

    name = "none"
    frozen = True

    def update(self, ctx: RuleContext) -> Any:
        return jax.tree.map(jnp.zeros_like, ctx.params)


RULES: dict[str, type[Rule]] = {r.name: r for r in (Backprop, NoLearning)}


def make_rule(name: str, options: tuple = ()) -> Rule:
    """Instantiate a rule from its wiring ``(name, options)``."""
    return RULES[name](dict(options))
