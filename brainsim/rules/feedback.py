"""``feedback_alignment`` and ``direct_feedback_alignment`` for layered feedforward areas.

A layered area (``area.ff_layers()``: kernels ``W_l [d_{l-1}, d_l]``, biases ``b_l``,
hidden activation ``f``, linear last layer; a ``readout`` MLP is one) computes
``z_l = a_{l-1} W_l + b_l``, ``a_l = f(z_l)``.  With ``e = dC/dy`` the error at its
output (from one replay of this area: the gradient of its own cost w.r.t. its
output), backprop sends ``delta_{l-1} = (delta_l W_l^T) * f'(z_{l-1})``.

* ``feedback_alignment`` (Lillicrap, Cownden, Tweed & Akerman 2016): fixed random
  ``B_l [d_l, d_{l-1}]`` replace ``W_l^T``: ``delta_{l-1} = (delta_l B_l) * f'(z_{l-1})``.
* ``direct_feedback_alignment`` (Nøkland 2016): the output error goes straight to
  every hidden layer, ``delta_l = (e D_l) * f'(z_l)`` with fixed random ``D_l [d_out, d_l]``.

Both: ``g_W_l = sum_tb a_{l-1}^T delta_l``, ``g_b_l = sum_tb delta_l`` (the
pseudo-gradient; the last layer's is the true gradient).  The feedback matrices
are drawn once from ``seed`` (entries ``N(0, scale^2 / d)``) and kept in the
rule state.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp

from .base import Option, Rule, RuleContext, ff_layers_of, get_path, register_rule, set_path, zeros_like

ACTIVATIONS: dict[str, Callable] = {"tanh": jnp.tanh, "linear": lambda z: z, "relu": jax.nn.relu,
                                    "sigmoid": jax.nn.sigmoid}


def forward(Ws: Sequence, bs: Sequence, x: jax.Array, act: str) -> tuple[list, list]:
    """``(pre-activations z_l, activities a_l with a_0 = x)`` of a layered net on ``x [..., d_0]``."""
    f = ACTIVATIONS[act]
    zs, acts = [], [x]
    for i, (W, b) in enumerate(zip(Ws, bs)):
        z = acts[-1] @ W + b
        zs.append(z)
        acts.append(z if i == len(Ws) - 1 else f(z))
    return zs, acts


def feedback_deltas(zs: Sequence, e: jax.Array, feedback: Sequence, act: str, direct: bool,
                    Ws: Sequence = None) -> list:
    """Per-layer errors ``delta_l [..., d_l]``.

    Args:
        zs: pre-activations from :func:`forward`.
        e: ``dC/dy [..., d_L]``.
        feedback: FA: ``B_l [d_l, d_{l-1}]`` for l = 2..L (L-1 matrices); DFA: ``D_l [d_L, d_l]`` for
            the hidden layers l = 1..L-1; ``None`` with ``Ws``: backprop (``B_l = W_l^T``).
        direct: DFA.
    """
    f = ACTIVATIONS[act]
    fprime = [jax.grad(lambda u: jnp.sum(f(u)))(z) for z in zs[:-1]]
    L = len(zs)
    deltas = [None] * L
    deltas[-1] = e
    for l in range(L - 2, -1, -1):
        if direct:
            back = e @ feedback[l]
        elif feedback is None:
            back = deltas[l + 1] @ Ws[l + 1].T
        else:
            back = deltas[l + 1] @ feedback[l]
        deltas[l] = back * fprime[l]
    return deltas


def layer_grads(acts: Sequence, deltas: Sequence) -> tuple[list, list]:
    """``(g_W_l = sum a_{l-1}^T delta_l, g_b_l = sum delta_l)`` over every leading axis."""
    gW = [jnp.einsum("...i,...o->io", a, d) for a, d in zip(acts[:-1], deltas)]
    gb = [jnp.sum(d.reshape(-1, d.shape[-1]), 0) for d in deltas]
    return gW, gb


class _FeedbackRule(Rule):
    needs = frozenset({"pre", "local_cost", "layers"})
    options = (Option("seed", "int", 0, "seed of the fixed random feedback matrices", lo=0),
               Option("scale", "float", 1.0, "feedback entries ~ N(0, scale²/d)", lo=0.0, lo_open=True))
    stateful = True
    direct = False

    def init(self, params):
        paths, _ = ff_layers_of_params(self, params)
        dims = [get_path(params["area"], p).shape for p, _ in paths]  # [(d_{l-1}, d_l)]
        key = jax.random.key(self.config["seed"])
        mats = []
        for l in range(len(dims) - 1):
            k = jax.random.fold_in(key, l)
            if self.direct:  # D_l [d_L, d_l] for hidden layer l
                shape = (dims[-1][1], dims[l][1])
            else:  # B_{l+1} [d_{l+1}, d_l]
                shape = (dims[l + 1][1], dims[l + 1][0])
            mats.append(self.config["scale"] * jax.random.normal(k, shape) / jnp.sqrt(shape[0]))
        return {"feedback": mats}

    def update(self, ctx: RuleContext, state: Any) -> tuple[Any, Any]:
        paths, act = ff_layers_of(ctx.area)
        Ws = [get_path(ctx.params["area"], p) for p, _ in paths]
        bs = [get_path(ctx.params["area"], q) for _, q in paths]
        x = ctx.pre()[next(iter(ctx.area.in_dims))]
        out_port = next(iter(ctx.area.out_dims))
        zs, acts = forward(Ws, bs, x, act)
        zero = jnp.zeros_like(acts[-1])
        e = jax.grad(lambda n: ctx.replay(ctx.params, noise={out_port: n}).cost)(zero)
        deltas = feedback_deltas(zs, e, state["feedback"], act, self.direct)
        gW, gb = layer_grads(acts, deltas)
        g = zeros_like(ctx.params)
        area = g["area"]
        for (p, q), w, b in zip(paths, gW, gb):
            area = set_path(set_path(area, p, w), q, b)
        return {**g, "area": area}, state


def ff_layers_of_params(rule, params):
    """``(((kernel path, bias path), ...), act)`` for ``init``: the bound area's, else a readout-like MLP's."""
    area = getattr(rule, "area", None)
    if area is not None:
        return ff_layers_of(area)
    layers = params["area"].get("layers")
    n = len(layers)
    return tuple((("layers", i, "kernel"), ("layers", i, "bias")) for i in range(n)), "tanh"


@register_rule("feedback_alignment")
class FeedbackAlignment(_FeedbackRule):
    """Feedback alignment: fixed random matrices carry the error back instead of Wᵀ."""

    formula = "δ_{l−1} = (δ_l B_l) ⊙ f'(z_{l−1}), g_W_l = a_{l−1}ᵀ δ_l, B_l fixed random"
    reference = "Lillicrap, Cownden, Tweed & Akerman (2016) Nat Commun 7:13276"


@register_rule("direct_feedback_alignment")
class DirectFeedbackAlignment(_FeedbackRule):
    """Direct feedback alignment: the output error reaches every layer through a fixed random matrix."""

    formula = "δ_l = (e D_l) ⊙ f'(z_l), g_W_l = a_{l−1}ᵀ δ_l, D_l fixed random"
    reference = "Nøkland (2016) NeurIPS"
    direct = True
