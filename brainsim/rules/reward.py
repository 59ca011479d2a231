"""``reward_modulated``: a neo-Hebbian three-factor rule with a reward signal (e.g. dopamine) as third factor.

    dW = <m_t (y_t - ybar) x_t^T>          (m: the modulator, required; y - ybar: the post-synaptic
                                            fluctuation around its running mean; x: the input)
    ybar <- ybar + (<y> - ybar) / tau_baseline     (rule state, per output unit)

With a stochastic area (exploration noise on y) and m the reward prediction
error this is REINFORCE-style node perturbation in Hebbian form: the weight
moves along the fluctuation that came with better-than-expected outcomes.
Reference: Williams (1992) Mach Learn 8:229; Frémaux & Gerstner (2016) Front
Neural Circuits 9:85; Gerstner et al. (2018) Front Neural Circuits 12:53.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp

from ..errors import WiringError
from .base import Option, RuleContext, register_rule, set_path, synapses_of, zeros_like
from .hebbian import SynapticRule, matrices_of


@register_rule("reward_modulated")
class RewardModulated(SynapticRule):
    """Reward-modulated Hebbian learning: modulator × (post − its running mean) × pre."""

    formula = "ΔW = η<m (y − ȳ) xᵀ>, ȳ ← ȳ + (<y> − ȳ)/τ_b"
    reference = "Williams (1992); Frémaux & Gerstner (2016) Front Neural Circuits 9:85"
    options = (Option("tau_baseline", "float", 10.0, "running-mean time constant of y (updates)", lo=1.0),)
    stateful = True

    @classmethod
    def check_combination(cls, opts: dict, where) -> None:
        if opts.get("modulated_by") is None:
            raise WiringError("rule 'reward_modulated' needs modulated_by: area.port (the reward signal)",
                              where("modulated_by"), hint="e.g. modulated_by: bg.dopamine")

    def init(self, params):
        return {"baseline": {k: jnp.zeros((n,), jnp.float32) for k, n in matrices_of(params)}}

    def update(self, ctx: RuleContext, state: Any) -> tuple[Any, Any]:
        pre = ctx.pre()
        g = zeros_like(ctx.params)
        area, base = g["area"], dict(state["baseline"])
        T, B = ctx.weights.shape
        for s in synapses_of(ctx.area):
            key = "/".join(map(str, s.path))
            x, y, yb = pre[s.pre], ctx.outputs[s.post], state["baseline"][key]
            dW = jnp.einsum("tb,tbi,tbo->io", ctx.weights, x, y - yb) / (T * B)
            area = set_path(area, s.path, -dW)
            base[key] = yb + (jnp.mean(y, axis=(0, 1)) - yb) / self.config["tau_baseline"]
        return {**g, "area": area}, {"baseline": base}
