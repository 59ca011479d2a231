"""actor — stochastic action selection from learned action preferences (softmax choice).

Biological role: premotor / dorsal-striatal action values that compete for
the next action; the choice is stochastic, and which synapses led to it is
kept as an eligibility trace until dopamine reports whether the outcome was
better or worse than expected (three-factor plasticity: Izhikevich 2007;
Frémaux & Gerstner 2016).  Choice behaviour of humans and animals in bandit
tasks is well described by a softmax over action values (Daw, O'Doherty,
Dayan, Seymour & Dolan 2006).
ML analogue: the policy of a gradient bandit / REINFORCE agent (Williams 1992;
Sutton & Barto 2018, section 2.8): preferences ``u = x W``, policy
``pi = softmax(u / temperature)``, one sampled action per step.  With the rule
``reward_modulated`` on its synapse (``dW = <m (y - ybar) x^T>``, ``y`` the
one-hot choice, ``m`` the dopamine TD error) it learns exactly the gradient
bandit update ``dH_a = alpha (R - Rbar)(1{A = a} - pi_a)`` up to the baseline.

    u = x W  (no bias: no input, no preference)      pi = softmax(u / temperature)
    choice = one-hot(a), a ~ pi (step key; ``explore: false``: a = argmax u)

Ports:
    in  ``input`` [auto]: the state / cue the actor acts on.
    out ``choice`` [actions]: one-hot chosen action (the synapse's post-synaptic side).
        ``probability`` [actions]: the policy pi.
State: none (the eligibility trace of a three-factor rule lives in the rule, see
    ``brainsim.rules.base.step_weights``).
Cost terms: only the generic ones (``activity_*``, ``weight_l2``): the actor is
    meant to learn by a reward-modulated rule.
Synapses: ``prefs`` = ``W [input, actions]`` from ``input`` to ``choice``.
References: Williams (1992) Mach Learn 8:229-256; Sutton & Barto (2018)
    Reinforcement Learning, 2nd ed., section 2.8; Daw et al. (2006) Nature
    441:876-879; Izhikevich (2007) Cereb Cortex 17:2443-2452; Frémaux &
    Gerstner (2016) Front Neural Circuits 9:85.
"""

from __future__ import annotations

import dataclasses

import jax
from flax import nnx

from brainsim.area import Area, Port, register_area


class _Prefs(nnx.Module):
    def __init__(self, n_in, actions, rngs):
        self.prefs = nnx.Linear(n_in, actions, use_bias=False, kernel_init=nnx.initializers.zeros, rngs=rngs)


@register_area("actor")
class Actor(Area):
    """Softmax choice among ``actions`` from learned preferences ``x W``."""

    color = "#DD8452"  # in drawings (brainsim viz)

    @dataclasses.dataclass(frozen=True)
    class Config:
        actions: int = 2  # number of actions (arms) to choose among
        temperature: float = 1.0  # softmax temperature of the policy
        explore: bool = True  # sample the action from the policy with the step key (else the argmax)

        def check(self):
            if self.actions < 1:
                return f"actions must be >= 1, found {self.actions}"
            if self.temperature <= 0:
                return f"temperature must be > 0, found {self.temperature}"
            return None

    inputs = {"input": Port("auto", doc="state / cue acted on")}
    outputs = {"choice": Port("actions", doc="one-hot chosen action"),
               "probability": Port("actions", doc="policy softmax(x W / temperature)")}
    synapses = {"prefs": (("prefs", "kernel"), "input", "choice")}

    def build(self, rngs):
        return _Prefs(self.in_dims["input"], self.config.actions, rngs)

    def forward(self, module, state, inputs, key):
        logits = module.prefs(inputs["input"]) / self.config.temperature
        pi = jax.nn.softmax(logits)
        sg = jax.lax.stop_gradient(logits)
        idx = jax.random.categorical(key, sg) if self.config.explore else jax.numpy.argmax(sg)
        return state, {"choice": jax.nn.one_hot(idx, self.config.actions, dtype=pi.dtype), "probability": pi}
