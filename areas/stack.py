"""stack — a differentiable push-down stack (stack-augmented RNN, Joulin & Mikolov 2015).

Biological role: hierarchical syntax (nested clauses, matched brackets) needs a
last-in-first-out store; a push-down automaton is the minimal machine for
context-free languages, and the basal-ganglia / prefrontal loop has been
proposed to implement one for language (e.g. Friederici 2017; Ullman 2004).
ML analogue: the continuous stack of Joulin & Mikolov (2015): the controller
emits a probability for each action (push, pop, no-op) and a value to push; the
new stack is the action-weighted mixture of the three discrete outcomes, so
the whole machine is differentiable and trained by backprop through time
(Grefenstette et al. 2015 use a related neural stack).

One step (``p = softmax(A c + a)``, ``v = sigmoid(V c + b)``, ``c`` the control input)::

    s'[0] = p_push * v        + p_pop * s[1]   + p_noop * s[0]
    s'[i] = p_push * s[i - 1] + p_pop * s[i+1] + p_noop * s[i]      (s[depth] = empty)
    read  = s'[0:read_depth]  (flattened)

With ``actions: hard`` the action is the argmax (one-hot), which is how Joulin &
Mikolov run the trained stack on long test strings (no blurring of the contents
over hundreds of steps); ``no_op: false`` leaves push and pop only (the
paper's basic stack: the controller must use the stack at every step);
``straight_through`` takes the argmax in the forward pass and the softmax's
gradient in the backward pass (Bengio et al. 2013).  Empty cells hold
``empty`` (default -1, as in the paper).

Ports:
    in  ``control`` [auto]: the controller's state (e.g. an ``rnn`` area's ``h``).
    out ``read`` [read_depth * width]: the top ``read_depth`` cells after the update.
        ``action`` [3]: the action probabilities (push, pop, no-op).
        ``depth`` [1]: expected number of filled cells (sum over cells of the filled mass).
State: ``stack`` [depth, width]; ``filled`` [depth] (how full each cell is, in [0, 1]).
Params: ``act`` (Linear control -> 3), ``push`` (Linear control -> width).
Cost terms: ``action_entropy`` — the entropy of the action distribution (a small
    positive weight pushes actions towards discrete choices).
References: Joulin & Mikolov (2015) NeurIPS "Inferring algorithmic patterns with
    stack-augmented recurrent nets"; Grefenstette et al. (2015) NeurIPS "Learning to
    transduce with unbounded memory"; Delétang et al. (2023) ICLR "Neural networks and
    the Chomsky hierarchy"; Bengio, Léonard & Courville (2013) arXiv:1308.3432 (straight-through).
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import jax
import jax.numpy as jnp
from flax import nnx

from brainsim.area import Area, Port, register_area

PUSH, POP, NOOP = 0, 1, 2


class _Controller(nnx.Module):
    def __init__(self, n_in: int, width: int, rngs: nnx.Rngs):
        self.act = nnx.Linear(n_in, 3, rngs=rngs)
        self.push = nnx.Linear(n_in, width, rngs=rngs)


def stack_update(stack: jax.Array, filled: jax.Array, p: jax.Array, value: jax.Array, empty: float):
    """The action-weighted mixture of push, pop and no-op.

    Args:
        stack: ``[depth, width]``; filled: ``[depth]``; p: ``[3]`` (push, pop, no-op); value: ``[width]``.
        empty: the value of an empty cell.

    Returns:
        ``(stack [depth, width], filled [depth])`` after the step.
    """
    pushed = jnp.concatenate([value[None], stack[:-1]], axis=0)
    popped = jnp.concatenate([stack[1:], jnp.full_like(stack[:1], empty)], axis=0)
    new = p[PUSH] * pushed + p[POP] * popped + p[NOOP] * stack
    f_push = jnp.concatenate([jnp.ones((1,), filled.dtype), filled[:-1]])
    f_pop = jnp.concatenate([filled[1:], jnp.zeros((1,), filled.dtype)])
    return new, p[PUSH] * f_push + p[POP] * f_pop + p[NOOP] * filled


@register_area("stack")
class Stack(Area):
    """Continuous push-down stack driven by a controller (push / pop / no-op)."""

    color = "#937860"  # in drawings (brainsim viz)

    @dataclasses.dataclass(frozen=True)
    class Config:
        depth: int = 16  # stack cells
        width: int = 2  # units per cell (the dim of a pushed value)
        read_depth: int = 2  # top cells read out each step
        actions: Literal["soft", "hard", "straight_through"] = "soft"  # action mixture: soft, hard (argmax) or straight_through
        empty: float = -1.0  # value an empty cell holds
        no_op: bool = True  # offer the no-op action besides push and pop

        def check(self):
            if self.depth < 2 or self.width < 1:
                return f"depth must be >= 2 and width >= 1, found depth={self.depth}, width={self.width}"
            if not 1 <= self.read_depth <= self.depth:
                return f"read_depth must be in [1, depth={self.depth}], found {self.read_depth}"
            return None

    # documented example configs: the contract suite (tests/areas/test_contract.py) checks each one
    examples = ({}, {"actions": "hard"}, {"actions": "straight_through", "no_op": False})
    inputs = {"control": Port("auto", doc="controller state")}
    outputs = {
        "read": Port("read_depth * width", doc="top cells after the update"),
        "action": Port(3, doc="push, pop, no-op probabilities"),
        "depth": Port(1, doc="expected number of filled cells"),
    }
    cost_terms = {"action_entropy": "entropy of the push/pop/no-op distribution (towards discrete actions)"}

    def build(self, rngs):
        return _Controller(self.in_dims["control"], self.config.width, rngs)

    def initial_state(self):
        cfg = self.config
        return {"stack": jnp.full((cfg.depth, cfg.width), cfg.empty, jnp.float32),
                "filled": jnp.zeros((cfg.depth,), jnp.float32)}

    def soft_actions(self, module, control):
        """``softmax(A control + a)`` ``[3]``; with ``no_op: false`` the no-op gets probability 0."""
        logits = module.act(control)
        if not self.config.no_op:  # push and pop only (Joulin & Mikolov's basic stack)
            logits = logits.at[NOOP].set(-1e9)
        return jax.nn.softmax(logits)

    def actions(self, module, control):
        """Phase 1: ``(p [3], value [width])`` from the control input (one-hot p when ``hard``)."""
        p = self.soft_actions(module, control)
        if self.config.actions != "soft":
            hard = jax.nn.one_hot(jnp.argmax(p), 3, dtype=p.dtype)
            # straight-through: the forward pass takes the discrete action, the gradient that of p
            p = hard if self.config.actions == "hard" else p + jax.lax.stop_gradient(hard - p)
        return p, jax.nn.sigmoid(module.push(control))

    def forward(self, module, state, inputs, key):
        cfg = self.config
        p, value = self.actions(module, inputs["control"])
        stack, filled = stack_update(state["stack"], state["filled"], p, value, cfg.empty)
        read = stack[:cfg.read_depth].reshape(-1)
        return {"stack": stack, "filled": filled}, {"read": read, "action": p, "depth": jnp.sum(filled, keepdims=True)}

    def cost(self, term, module, ctx):
        if term == "action_entropy":
            p = self.soft_actions(module, ctx.inputs["control"])
            return -jnp.sum(p * jnp.log(p + 1e-8))
        return super().cost(term, module, ctx)
