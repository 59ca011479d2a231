"""Write your own learning rule: normalised gradient descent, registered and used from a wiring.

Run it:  python examples/own_rule.py   (tests/examples/test_examples.py runs it too)

Normalised gradient descent (Hazan, Levy & Shalev-Shwartz 2015, NeurIPS; Nesterov 1984): the
pseudo-gradient is the gradient divided by its norm, ``g / (||g|| + eps)``, so with ``sgd`` every
update moves the area's weights by exactly ``learning_rate`` (in the Euclidean norm), whatever the
scale of the cost — a step size that does not blow up on steep cliffs.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

import brainsim
from brainsim.rules import Option, Rule, register_rule


@register_rule("normalized_gradient")
class NormalizedGradient(Rule):
    """Normalised gradient descent: the pseudo-gradient is g / (||g|| + eps) (Hazan et al. 2015)."""

    formula = "g / (||g||₂ + eps)"                     # shown by `brainsim list normalized_gradient`
    reference = "Hazan, Levy & Shalev-Shwartz (2015) NeurIPS"
    needs = frozenset({"grad"})                      # what the step must supply (here: the gradient)
    modulatable = False                              # no three-factor `modulated_by` option
    options = (Option("eps", "float", 1e-8, "added to the norm", lo=0.0),)   # type- and range-checked

    def update(self, ctx, state):                    # (pseudo-gradient shaped like ctx.params, rule state)
        norm = jnp.sqrt(sum(jnp.sum(g ** 2) for g in jax.tree.leaves(ctx.grads)))
        return jax.tree.map(lambda g: g / (norm + self.config["eps"]), ctx.grads), state


WIRING = """
name: normalized
inputs: {x: 4, target: 2}
areas:
  out:
    type: readout
    size: 2
    rule: {name: normalized_gradient, eps: 1.0e-12}
    optimizer: {sgd: {learning_rate: 0.05}}
    costs: {supervised: {weight: 100.0, target: target}}   # a steep cost: plain SGD would jump
connections:
  - x -> out.input
outputs: {y: out.output}
"""


def main() -> dict:
    brain = brainsim.from_yaml(WIRING)
    params, _ = brain.init(jax.random.key(0), batch=8)
    opt = brain.init_opt_state(params)
    rng = np.random.default_rng(0)
    w_true = rng.normal(size=(4, 2)).astype(np.float32)
    steps, losses = [], []
    for step in range(25):
        x = rng.normal(size=(3, 8, 4)).astype(np.float32)
        new, opt, _, m = brain.train_step(params, opt, brain.init_state(8), {"x": x, "target": x @ w_true},
                                          jax.random.key(step), step)
        moved = jnp.sqrt(sum(jnp.sum((a - b) ** 2) for a, b in zip(jax.tree.leaves(new), jax.tree.leaves(params))))
        steps.append(float(moved))
        losses.append(float(m["loss"]))
        params = new
    return {"step_norms": steps, "first_loss": losses[0], "last_loss": losses[-1]}


if __name__ == "__main__":
    out = main()
    print(f"every update moved the weights by {min(out['step_norms']):.4f}-{max(out['step_norms']):.4f} "
          f"(learning rate 0.05); loss {out['first_loss']:.3f} -> {out['last_loss']:.3f}")
