"""The learning rule ``sign_sgd`` (an example plugin rule): descend the sign of the gradient.

signSGD (Bernstein, Wang, Azizzadenesheli & Anandkumar 2018, ICML): the pseudo-gradient is
``scale * sign(dC/dθ)``, which the area's optimiser then descends (with ``sgd`` every weight moves
by exactly ``learning_rate * scale`` per step).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from brainsim.rules import Option, Rule, register_rule


@register_rule("sign_sgd")
class SignSGD(Rule):
    """signSGD: the pseudo-gradient is scale * sign(gradient) (Bernstein et al. 2018)."""

    formula = "g = scale · sign(dC/dθ)"
    reference = "Bernstein, Wang, Azizzadenesheli & Anandkumar (2018) ICML"
    needs = frozenset({"grad"})
    modulatable = False
    options = (Option("scale", "float", 1.0, "multiplies the sign of each gradient entry", lo=0.0, lo_open=True),)

    def update(self, ctx, state):
        return jax.tree.map(lambda g: self.config["scale"] * jnp.sign(g), ctx.grads), state
