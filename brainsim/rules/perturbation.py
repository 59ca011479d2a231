"""Perturbation rules: ``weight_perturbation``, ``serial_perturbation``, ``node_perturbation``.

Each estimates the gradient of the area's *own* cost from cost differences,
with one replay of this area alone on its recorded inputs per evaluation
(``ctx.replay``; several samples are vmapped), never a re-run of the brain
(``credit: global`` areas use the whole-brain cost instead).

* ``weight_perturbation`` (parallel; Jabri & Flower 1992, Werfel, Xie & Seung 2005):
  ``xi ~ N(0, sigma^2 I)`` on every learned weight at once,
  ``g = (C(theta + xi) - C(theta)) xi / sigma^2`` (``antithetic``:
  ``(C(theta + xi) - C(theta - xi)) xi / (2 sigma^2)``), averaged over ``samples``.
* ``serial_perturbation`` ("twiddle"; Jabri & Flower 1992): one weight ``i`` per update,
  ``g_i = (C(theta + sigma e_i) - C(theta)) / sigma``; ``i`` cycles through the weights
  (rule state), so a sweep over all ``n`` weights costs ``n`` updates.
* ``node_perturbation`` (Williams 1992; Fiete & Seung 2006; Werfel et al. 2005): noise
  ``xi_tb ~ N(0, sigma^2 I)`` on the area's outputs (the post side of each synapse),
  ``dC/dW ~ sum_tb x_tb (Delta C_tb xi_tb)^T / sigma^2`` with ``Delta C_tb`` each step's
  and sample's cost change.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from .base import Option, Rule, RuleContext, register_rule, set_path, synapses_of, zeros_like

_SIGMA = Option("sigma", "float", 1e-3, "perturbation standard deviation", lo=0.0, lo_open=True)


_LEAVES = Option("leaves", "str", "all", "perturb all learned leaves, or only the weight matrices (2-D leaves)",
                 choices=("all", "matrices"))


def _mask(tree, leaves: str):
    """1 on the leaves a rule perturbs (every leaf, or the 2-D ones), 0 elsewhere."""
    return jax.tree.map(lambda v: jnp.ones_like(v) if leaves == "all" or v.ndim == 2 else jnp.zeros_like(v), tree)


def _noise_like(key, tree, sigma, leaves="all"):
    flat, unravel = ravel_pytree(tree)
    mask, _ = ravel_pytree(_mask(tree, leaves))
    return unravel(mask * sigma * jax.random.normal(key, flat.shape, flat.dtype))


def _cost_of(ctx: RuleContext):
    """The cost a perturbation rule probes: the area's own (one replay) unless its credit is global."""
    return ctx.cost_fn if ctx.cost_fn is not None else ctx.local_cost


@register_rule("weight_perturbation")
class WeightPerturbation(Rule):
    """Parallel weight perturbation: all weights perturbed at once, update from the cost change."""

    formula = "g = (C(θ+ξ) − C(θ)) ξ/σ², ξ ~ N(0, σ²I)  (antithetic: (C(θ+ξ) − C(θ−ξ)) ξ/(2σ²))"
    reference = "Jabri & Flower (1992) IEEE TNN 3:154; Werfel, Xie & Seung (2005) Neural Comput 17:2699"
    needs = frozenset({"local_cost"})
    options = (_SIGMA, Option("samples", "int", 1, "perturbations per update (vmapped)", lo=1),
               Option("antithetic", "bool", False, "use ±ξ pairs (central differences)"), _LEAVES)

    def update(self, ctx: RuleContext, state: Any) -> tuple[Any, Any]:
        sigma = self.config["sigma"]
        keys = jax.random.split(ctx.key, self.config["samples"])
        cost = _cost_of(ctx)
        c0 = None if self.config["antithetic"] else cost(ctx.params)

        def one(k):
            xi = _noise_like(k, ctx.params, sigma, self.config["leaves"])
            plus = cost(jax.tree.map(jnp.add, ctx.params, xi))
            if self.config["antithetic"]:
                dc = 0.5 * (plus - cost(jax.tree.map(jnp.subtract, ctx.params, xi)))
            else:
                dc = plus - c0
            return jax.tree.map(lambda n: dc * n / sigma ** 2, xi)

        return jax.tree.map(lambda g: jnp.mean(g, axis=0), jax.vmap(one)(keys)), state


@register_rule("serial_perturbation")
class SerialPerturbation(Rule):
    """Serial perturbation ("twiddle"): one weight at a time, cycling through all of them."""

    formula = "g_i = (C(θ + σe_i) − C(θ))/σ, i ← (i + 1) mod n"
    reference = "Jabri & Flower (1992) IEEE TNN 3:154"
    needs = frozenset({"local_cost"})
    options = (_SIGMA, _LEAVES)
    stateful = True

    def init(self, params):
        return {"index": jnp.zeros((), jnp.int32)}

    def update(self, ctx: RuleContext, state: Any) -> tuple[Any, Any]:
        flat, unravel = ravel_pytree(ctx.params)
        which = jnp.flatnonzero(ravel_pytree(_mask(ctx.params, self.config["leaves"]))[0],
                                size=flat.shape[0], fill_value=0)
        n = int(sum(v.size for v in jax.tree.leaves(ctx.params)
                    if self.config["leaves"] == "all" or v.ndim == 2))
        i, sigma = state["index"], self.config["sigma"]
        e = jax.nn.one_hot(which[i], flat.shape[0], dtype=flat.dtype)
        cost = _cost_of(ctx)
        gi = (cost(unravel(flat + sigma * e)) - cost(ctx.params)) / sigma
        return unravel(gi * e), {"index": (i + 1) % n}


@register_rule("node_perturbation")
class NodePerturbation(Rule):
    """Node perturbation: noise on the area's outputs, update from the cost change times the noise."""

    formula = "g_W = Σ_tb x_tb (ΔC_tb ξ_tb)ᵀ/σ², ξ_tb ~ N(0, σ²I) on the outputs"
    reference = "Williams (1992) Mach Learn 8:229; Fiete & Seung (2006) PRL 97:048104; Werfel et al. (2005)"
    needs = frozenset({"local_cost", "pre", "synapses"})
    options = (_SIGMA,)

    def update(self, ctx: RuleContext, state: Any) -> tuple[Any, Any]:
        sigma = self.config["sigma"]
        clean = ctx.replay(ctx.params)
        syn = synapses_of(ctx.area)
        noise = {}
        for j, port in enumerate(sorted({s.post for s in syn})):
            y = clean.outputs[port]
            noise[port] = sigma * jax.random.normal(jax.random.fold_in(ctx.key, j), y.shape, y.dtype)
        dc = ctx.replay(ctx.params, noise=noise).per_step - clean.per_step  # [T, B]
        g = zeros_like(ctx.params)
        area = g["area"]
        for s in syn:
            area = set_path(area, s.path, jnp.einsum("tb,tbi,tbo->io", dc, clean.inputs[s.pre], noise[s.post])
                            / sigma ** 2)
        return {**g, "area": area}, state
