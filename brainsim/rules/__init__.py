"""Learning rules (H1): how an area turns its episode into a parameter update.

A rule is shaped like an optax transform, ``init(params) -> state`` and
``update(ctx, state) -> (pseudo_gradient, state)``, built by a factory (its
class) that type- and range-checks its options; see :mod:`brainsim.rules.base`
for the interface, the needs a rule declares and three-factor modulation.
One module per family:

* :mod:`~brainsim.rules.gradient`: ``backprop``, ``none``
* :mod:`~brainsim.rules.hebbian`: ``hebbian``, ``oja``, ``sanger``, ``bcm``
* :mod:`~brainsim.rules.kohonen`: ``kohonen``
* :mod:`~brainsim.rules.perturbation`: ``weight_perturbation``, ``serial_perturbation``, ``node_perturbation``
* :mod:`~brainsim.rules.feedback`: ``feedback_alignment``, ``direct_feedback_alignment``
* :mod:`~brainsim.rules.contrastive`: ``contrastive_hebbian`` (``xcal``), ``equilibrium_propagation``
* :mod:`~brainsim.rules.reward`: ``reward_modulated``

:data:`RULES` maps a name to its class; :func:`rule_catalogue` lists every rule
with its options (type, default, doc), needs, formula and reference.
"""

from .base import (MODULATION_OPTIONS, RULES, Option, Replay, Rule, RuleContext, Synapse, make_rule, register_rule,
                   rule_catalogue, step_weights, synapses_of)
from . import gradient, hebbian, kohonen, perturbation, feedback, reward, contrastive  # noqa: F401,E402  (register the built-ins)
from .gradient import Backprop, NoLearning

__all__ = ["MODULATION_OPTIONS", "RULES", "Backprop", "NoLearning", "Option", "Replay", "Rule", "RuleContext",
           "Synapse", "make_rule", "register_rule", "rule_catalogue", "step_weights", "synapses_of"]
