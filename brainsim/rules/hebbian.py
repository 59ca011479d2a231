"""Hebbian rules on an area's synapses: ``hebbian``, ``oja``, ``sanger``, ``bcm``.

Each acts on every synapse of the area (a learned ``W [in, out]`` from an input
port to an output port, ``y = W^T x (+ b)``, see :func:`~brainsim.rules.base.synapses_of`),
with ``x`` its presynaptic input and ``y`` its postsynaptic output at each step;
``<.>`` is the (modulator-weighted) mean over the episode's steps and samples.
The pseudo-gradient is ``-dW`` (the optimiser descends it: ``sgd(eta)`` gives
``W += eta dW``); other leaves (biases, projections) get zero.

* ``hebbian``: ``dW = <x y^T> - decay W``; ``normalize: true`` keeps each unit's
  weight norm fixed to first order (the Hebbian change projected on the sphere:
  ``dw_j - w_j (w_j . dw_j) / |w_j|^2``).  Biology: Hebb (1949) "cells that fire
  together wire together"; ML: unnormalised power iteration.
* ``oja``: ``mode: subspace`` (Oja 1989): ``dW = <x y^T> - W <y y^T>``, the
  columns converge to an orthonormal basis of the top-k principal subspace;
  ``mode: single`` (Oja 1982): each unit alone, ``dw_j = <y_j x> - <y_j^2> w_j``.
* ``sanger``: the generalized Hebbian algorithm (Sanger 1989):
  ``dW = <x y^T> - W triu(<y y^T>)``, i.e. ``dw_j = <y_j (x - sum_{k<=j} y_k w_k)>``:
  unit j converges to the j-th eigenvector (ordered).
* ``bcm``: Bienenstock, Cooper & Munro (1982), Intrator & Cooper (1992):
  ``dW = <x (y (y - theta))^T>`` with the sliding threshold
  ``theta <- theta + (<y^2> - theta) / tau_theta`` (rule state, per unit).
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp

from .base import Option, Rule, RuleContext, get_path, register_rule, set_path, synapses_of, weighted_mean, zeros_like


class SynapticRule(Rule):
    """Base of rules computing ``dW`` per synapse from ``(x, y, W)``."""

    needs = frozenset({"pre", "post", "synapses"})

    def delta(self, x, y, W, w, state) -> Any:
        """``dW [in, out]`` from ``x [T, B, in]``, ``y [T, B, out]``, ``W``, weights ``w [T, B]``."""
        raise NotImplementedError

    def update(self, ctx: RuleContext, state: Any) -> tuple[Any, Any]:
        pre = ctx.pre()
        g = zeros_like(ctx.params)
        area = g["area"]
        for s in synapses_of(ctx.area):
            W = get_path(ctx.params["area"], s.path)
            dW = self.delta(pre[s.pre], ctx.outputs[s.post], W, ctx.weights, state)
            area = set_path(area, s.path, -dW)
        return {**g, "area": area}, self.next_state(ctx, state)

    def next_state(self, ctx: RuleContext, state: Any) -> Any:
        return state


def hebb(x, y, w):
    """``<x y^T>`` weighted: ``sum_tb w x y^T / (T B)``."""
    T, B = w.shape
    return jnp.einsum("tb,tbi,tbo->io", w, x, y) / (T * B)


def corr(y, w):
    T, B = w.shape
    return jnp.einsum("tb,tbi,tbo->io", w, y, y) / (T * B)


@register_rule("hebbian")
class Hebbian(SynapticRule):
    """Plain Hebbian learning dW = <x y^T> - decay W (optionally norm-preserving)."""

    formula = "ΔW = η(<x yᵀ> − λW); normalize: Δw_j − w_j(w_j·Δw_j)/|w_j|²"
    reference = "Hebb (1949)"
    options = (Option("decay", "float", 0.0, "weight decay λ", lo=0.0),
               Option("normalize", "bool", False, "keep each unit's weight norm (project the change on the sphere)"))

    def delta(self, x, y, W, w, state):
        d = hebb(x, y, w) - self.config["decay"] * W
        if self.config["normalize"]:
            d = d - W * jnp.sum(W * d, axis=0, keepdims=True) / jnp.maximum(jnp.sum(W * W, axis=0, keepdims=True),
                                                                            1e-12)
        return d


@register_rule("oja")
class Oja(SynapticRule):
    """Oja's rule: single-unit (1982) or subspace (1989) principal component learning."""

    formula = "subspace: ΔW = η(<x yᵀ> − W<y yᵀ>); single: Δw_j = η(<y_j x> − <y_j²> w_j)"
    reference = "Oja (1982) J Math Biol 15:267; Oja (1989) Int J Neural Syst 1:61"
    options = (Option("mode", "str", "subspace", "subspace (Oja 1989) or single (Oja 1982, per unit)",
                      choices=("subspace", "single")),)

    def delta(self, x, y, W, w, state):
        C = corr(y, w)
        if self.config["mode"] == "single":
            return hebb(x, y, w) - W * jnp.diagonal(C)[None, :]
        return hebb(x, y, w) - W @ C


@register_rule("sanger")
class Sanger(SynapticRule):
    """Sanger's generalized Hebbian algorithm: ordered principal components."""

    formula = "ΔW = η(<x yᵀ> − W triu(<y yᵀ>))"
    reference = "Sanger (1989) Neural Networks 2:459"

    def delta(self, x, y, W, w, state):
        return hebb(x, y, w) - W @ jnp.triu(corr(y, w))


@register_rule("bcm")
class BCM(SynapticRule):
    """BCM rule with a sliding modification threshold θ = E[y²]."""

    formula = "ΔW = η<x (y(y − θ))ᵀ>;  θ ← θ + (<y²> − θ)/τ_θ"
    reference = "Bienenstock, Cooper & Munro (1982) J Neurosci 2:32; Intrator & Cooper (1992)"
    options = (Option("tau_theta", "float", 10.0, "threshold time constant (in updates)", lo=1.0),
               Option("theta0", "float", 0.0, "initial threshold", lo=0.0))
    stateful = True

    def init(self, params):
        return {"theta": {k: jnp.full((n_out,), self.config["theta0"], jnp.float32)
                          for k, n_out in matrices_of(params)}}

    def delta(self, x, y, W, w, state):
        raise NotImplementedError  # per synapse with its threshold: see update

    def update(self, ctx: RuleContext, state: Any) -> tuple[Any, Any]:
        pre = ctx.pre()
        g = zeros_like(ctx.params)
        area, theta = g["area"], dict(state["theta"])
        for s in synapses_of(ctx.area):
            key = "/".join(map(str, s.path))
            x, y, th = pre[s.pre], ctx.outputs[s.post], state["theta"][key]
            area = set_path(area, s.path, -weighted_mean(ctx.weights, x[..., :, None] * (y * (y - th))[..., None, :]))
            theta[key] = th + (jnp.mean(jnp.square(y), axis=(0, 1)) - th) / self.config["tau_theta"]
        return {**g, "area": area}, {"theta": theta}


def matrices_of(params) -> list:
    """``[("a/b/c", out_dim)]`` for every 2-D learned leaf of ``params["area"]`` (BCM keeps a threshold per
    output unit of each; the synapses the update uses are among them, keyed the same way)."""
    import jax

    out = []
    for p, v in jax.tree_util.tree_flatten_with_path(params["area"])[0]:
        if getattr(v, "ndim", 0) == 2:
            out.append(("/".join(str(getattr(k, "key", getattr(k, "idx", k))) for k in p), v.shape[1]))
    return out
