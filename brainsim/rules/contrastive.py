"""Contrastive rules for energy-based areas: ``contrastive_hebbian`` (``xcal``) and ``equilibrium_propagation``.

Both act on an area that supplies an energy ``E(s; x; theta)`` and a settling
procedure (the ``energy`` need: ``area.energy``, ``area.settle``; the built-in
one is ``type: energy``, a layered continuous Hopfield network with
``E = 1/2 sum |s_l|^2 - sum rho(s_{l-1})^T W_l rho(s_l) - sum b_l^T rho(s_l)``,
so ``dE/dW_l = -rho(s_{l-1}) rho(s_l)^T`` and ``dE/db_l = -rho(s_l)``).  Each
training step the rule replays the area on its recorded ``input`` and
``target`` (``[T, B, d]``), settles two phases and contrasts them;
``<.>`` is the (modulator-weighted) mean over the episode's steps and samples,
so three-factor modulation (``modulated_by``, ``tau``) weights each sample's
contrast.  The pseudo-gradient ``g`` is what the area's optimiser descends.

* ``contrastive_hebbian`` (CHL; Movellan 1990, Hinton 1989 deterministic Boltzmann
  machine): the free (minus) phase ``s^-`` settles with the input clamped, the
  clamped (plus) phase ``s^+`` with the output clamped to the target too (started
  from ``s^-``); ``dW_l = <rho(s_{l-1}^+) rho(s_l^+)^T - rho(s_{l-1}^-) rho(s_l^-)^T>``,
  i.e. ``g = <dE/dtheta(s^+) - dE/dtheta(s^-)>``.  ``xcal: true`` replaces the linear
  difference of the sender-receiver coproducts by O'Reilly's XCAL "checkmark"
  ``f(xy^+, xy^-)`` (Leabra / emergent)::

      f(xy, th) = 0                          if xy < d_thr
                = xy - th                    if xy > th * d_rev
                = -xy (1 - d_rev) / d_rev    otherwise

  (biases keep the linear difference ``rho(s_l^+) - rho(s_l^-)``).
  Biology: the minus phase is the expectation, the plus phase the outcome; the
  checkmark is the calcium-dependent LTD/LTP curve (Shouval, Bear & Cooper 2002)
  that XCAL abstracts.  ML: a contrastive divergence of a deterministic energy
  model; for symmetric nets and small output differences it approximates
  backprop (Xie & Seung 2003).
* ``equilibrium_propagation`` (Scellier & Bengio 2017): the free phase ``s^0``
  (``beta = 0``) then the nudged phase ``s^beta`` of ``F = E + beta C``,
  ``C = 1/2 |s_L - y|^2``, started from ``s^0``;
  ``g = (1/beta) <dF/dtheta(s^beta) - dF/dtheta(s^0)>`` (``C`` does not depend on
  ``theta``, so ``dF/dtheta = dE/dtheta``), which tends to the gradient of the cost
  at the free fixed point ``dC(s^0)/dtheta`` as ``beta -> 0`` (their Theorem 1), so
  descending ``g`` learns.  ``random_sign: true`` draws the sign of ``beta``
  at random each step (as in Scellier & Bengio's experiments; on average it
  cancels the O(beta) bias of the estimate); the formula keeps the signed ``beta``.  Biology: the nudged phase is
  a weak teaching signal at the output, and the update is the difference of two
  local Hebbian terms (an STDP-like rule); ML: an unbiased-in-the-limit gradient
  estimator for energy-based (implicit, fixed-point) models, the same update as
  recurrent backprop (Almeida-Pineda) for small ``beta``.
"""

from __future__ import annotations

from typing import Any, Mapping

import jax
import jax.numpy as jnp

from .base import Option, Rule, RuleContext, register_rule, set_path, zeros_like


def _merge(a: Mapping, b: Mapping) -> dict:
    """Deep union of the area's learned leaves ``a`` and its fixed leaves ``b``."""
    out = dict(a)
    for k, v in (b or {}).items():
        out[k] = _merge(out[k], v) if k in out and isinstance(v, Mapping) else v
    return out


def xcal(xy: jax.Array, th: jax.Array, d_rev: float = 0.1, d_thr: float = 1e-4) -> jax.Array:
    """O'Reilly's XCAL checkmark ``f(xy, th)`` (elementwise; see the module docstring)."""
    return jnp.where(xy < d_thr, 0.0, jnp.where(xy > th * d_rev, xy - th, -xy * (1.0 - d_rev) / d_rev))


class _ContrastiveRule(Rule):
    """Base: the two phases of an energy area on its recorded inputs, and ``<dE/dtheta>`` at a state."""

    needs = frozenset({"pre", "energy"})

    def _episode(self, ctx: RuleContext):
        pre = ctx.pre()
        x, y = pre["input"], pre["target"]  # [T, B, d]
        return x, y, _merge(ctx.params["area"], ctx.fixed)

    @staticmethod
    def _energy_grad(ctx: RuleContext, layers, x) -> Any:
        """``<dE/dtheta>`` over ``(T, B)`` with the step weights, shaped like ``ctx.params["area"]``."""
        T, B = ctx.weights.shape
        layers = [jax.lax.stop_gradient(s) for s in layers]

        def mean_energy(learned):
            return jnp.sum(ctx.weights * ctx.area.energy(_merge(learned, ctx.fixed), layers, x)) / (T * B)

        return jax.grad(mean_energy)(ctx.params["area"])

    def _result(self, ctx: RuleContext, area_grad: Any) -> dict:
        g = zeros_like(ctx.params)
        return {**g, "area": area_grad}


@register_rule("contrastive_hebbian")
class ContrastiveHebbian(_ContrastiveRule):
    """Contrastive Hebbian learning: clamped-phase minus free-phase coproducts (XCAL checkmark optional)."""

    formula = ("ΔW_l = <ρ(s⁺_{l−1})ρ(s⁺_l)ᵀ − ρ(s⁻_{l−1})ρ(s⁻_l)ᵀ> (g = ∂E/∂θ(s⁺) − ∂E/∂θ(s⁻)); "
               "xcal: ΔW = <f(x⁺y⁺, x⁻y⁻)>, f(xy, θ) = xy − θ if xy > θ·d_rev else −xy(1 − d_rev)/d_rev")
    reference = "Movellan (1990); O'Reilly (1996) Neural Comput 8:895; O'Reilly et al. (2012) Comp Cog Neurosci (XCAL)"
    options = (Option("xcal", "bool", False, "use O'Reilly's XCAL checkmark f(x⁺y⁺, x⁻y⁻) instead of the difference"),
               Option("d_rev", "float", 0.1, "XCAL: reversal point of the checkmark, as a fraction of θ",
                      lo=0.0, hi=1.0, lo_open=True),
               Option("d_thr", "float", 1e-4, "XCAL: coproducts below this give no change", lo=0.0),
               Option("iterations", "int", 0, "settling steps of the clamped phase (0: the area's own)", lo=0))

    def update(self, ctx: RuleContext, state: Any) -> tuple[Any, Any]:
        x, y, p = self._episode(ctx)
        area = ctx.area
        minus = area.settle(p, x, y)
        plus = area.settle(p, x, y, clamp=True, start=minus, iterations=self.config["iterations"] or None)
        if not self.config["xcal"]:
            gp, gm = self._energy_grad(ctx, plus, x), self._energy_grad(ctx, minus, x)
            return self._result(ctx, jax.tree.map(lambda a, b: a - b, gp, gm)), state
        T, B = ctx.weights.shape
        w = ctx.weights
        rp, rm = area.activities(plus, x), area.activities(minus, x)
        g = zeros_like(ctx.params["area"])
        for l, (wp, bp) in enumerate(area.energy_layers(len(rp) - 1)):
            f = xcal(rp[l][..., :, None] * rp[l + 1][..., None, :], rm[l][..., :, None] * rm[l + 1][..., None, :],
                     self.config["d_rev"], self.config["d_thr"])
            g = set_path(g, wp, -jnp.einsum("tb,tbio->io", w, f) / (T * B))
            g = set_path(g, bp, -jnp.einsum("tb,tbo->o", w, rp[l + 1] - rm[l + 1]) / (T * B))
        return self._result(ctx, g), state


@register_rule("equilibrium_propagation")
class EquilibriumPropagation(_ContrastiveRule):
    """Equilibrium propagation: (1/β)(∂E/∂θ at the nudged fixed point − at the free one)."""

    formula = "g = (1/β) <∂F/∂θ(s^β) − ∂F/∂θ(s⁰)>, F = E + βC, C = ½|s_L − y|² (→ dC(s⁰)/dθ as β → 0)"
    reference = "Scellier & Bengio (2017) Front Comput Neurosci 11:24"
    options = (Option("beta", "float", 1.0, "nudging strength β of the second phase", lo=0.0, lo_open=True),
               Option("random_sign", "bool", False, "draw the sign of β at random each step (as Scellier & Bengio 2017 do)"),
               Option("iterations", "int", 0, "settling steps of the nudged phase (0: the area's own)", lo=0))

    def update(self, ctx: RuleContext, state: Any) -> tuple[Any, Any]:
        x, y, p = self._episode(ctx)
        beta = jnp.asarray(self.config["beta"], jnp.float32)
        if self.config["random_sign"]:
            beta = jnp.where(jax.random.bernoulli(ctx.key), beta, -beta)
        area = ctx.area
        free = area.settle(p, x, y)
        nudged = area.settle(p, x, y, beta=beta, start=free, iterations=self.config["iterations"] or None)
        gn, gf = self._energy_grad(ctx, nudged, x), self._energy_grad(ctx, free, x)
        return self._result(ctx, jax.tree.map(lambda a, b: (a - b) / beta, gn, gf)), state
