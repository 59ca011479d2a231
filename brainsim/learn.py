"""Losses, rules and optimisers -> ONE ``train_step`` function per brain.

Everything here is a pure function of a :class:`~brainsim.plan.StepPlan` and
arrays; :class:`~brainsim.brain.Brain` jits them. Shapes as in
:mod:`brainsim.plan`; ``train`` is ``{area: {"area": its learnable leaves (a nested dict),
"projections": {"e<i>": {"w": ...}}}}`` (what an area's rule and optimiser
see), ``fixed`` is ``{area: its other leaves}``.

Metrics: ``"loss"`` (the weighted total) and ``"area/term"`` (each term's mean
over time and batch; area names never contain ``/``, so they cannot collide
with the engine's keys). With ``check_finite`` a train step also returns
``"finite"``: one boolean, False when the loss, a cost term or a gradient held
a NaN/Inf. Which area or port went wrong is found by re-running that batch in
the diagnostic mode (:func:`diagnose`), so a healthy step pays nothing for it.
"""

from __future__ import annotations

from typing import Mapping

import jax
import jax.numpy as jnp
import optax

from .plan import StepPlan
from .rules import RuleContext
from .step import scan, stream_key


def split_paths(tree: Mapping, paths: frozenset, prefix: tuple = ()) -> tuple[dict, dict]:
    """Split a nested dict into ``(leaves at paths, the rest)``, both nested dicts (empty branches dropped)."""
    picked, rest = {}, {}
    for k, v in tree.items():
        p = prefix + (k,)
        if isinstance(v, Mapping):
            a, b = split_paths(v, paths, p)
            if a:
                picked[k] = a
            if b:
                rest[k] = b
        elif p in paths:
            picked[k] = v
        else:
            rest[k] = v
    return picked, rest


def merge_trees(a: Mapping, b: Mapping) -> dict:
    """Deep union of two nested dicts with disjoint leaves (inverse of :func:`split_paths`)."""
    out = dict(a)
    for k, v in b.items():
        out[k] = merge_trees(out[k], v) if k in out and isinstance(v, Mapping) else v
    return out


def trainables(plan: StepPlan, params) -> tuple[dict, dict]:
    """Split params into ``(train, fixed)`` (see the module docstring)."""
    train, fixed = {}, {}
    for a in plan.areas:
        learned, rest = split_paths(params["areas"][a.name], a.learned)
        proj = {e.name: params["projections"][e.name] for e in a.edges if e.projection}
        train[a.name] = {"area": learned, "projections": proj}
        fixed[a.name] = rest
    return train, fixed


def merge(train: Mapping, fixed: Mapping) -> dict:
    """Inverse of :func:`trainables`."""
    params = {"areas": {}, "projections": {}}
    for name in sorted(train):
        params["areas"][name] = merge_trees(train[name]["area"], fixed[name])
        params["projections"].update(train[name]["projections"])
    return params


def cost_metrics(plan: StepPlan, costs: Mapping, step) -> tuple[jax.Array, dict]:
    """``(total, {"area/term": mean})`` from a scan's ``{(area, term): (num [T, B], den [T, B])}``."""
    total = jnp.zeros((), jnp.float32)
    metrics = {}
    dens = {k: jnp.sum(den) for k, (_, den) in costs.items()}
    if plan.axis_name is not None:  # the batch is split over devices: one all-reduce of the denominators
        dens = jax.lax.psum(dens, plan.axis_name)
    for a in sorted(plan.areas, key=lambda a: a.name):
        for spec, _ in a.costs:
            num, _ = costs[(a.name, spec.name)]
            value = jnp.sum(num) / jnp.maximum(dens[(a.name, spec.name)], 1e-8)
            metrics[f"{a.name}/{spec.name}"] = value
            total = total + spec.weight_at(step) * value
    metrics["loss"] = total
    return total, metrics


def episode_loss(plan: StepPlan, train, fixed, state, batch, key, step, keep: tuple, flags: bool = False):
    """The weighted sum of every area's cost terms over an episode.

    Returns:
        ``(total, (final_state, metrics, trace, flags))``; ``flags`` is ``{"area.port": bool}`` when
        ``flags`` is set (False where that output held a NaN/Inf), else empty.
    """
    state, trace, costs, ok = scan(plan, merge(train, fixed), state, batch, key, keep, with_costs=True, flags=flags)
    total, metrics = cost_metrics(plan, costs, step)
    return total, (state, metrics, trace, {k: jnp.all(v) for k, v in ok.items()})


def _all_finite(tree) -> jax.Array:
    leaves = jax.tree.leaves(tree)
    if not leaves:
        return jnp.asarray(True)
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in leaves]))  # a sum could overflow


def make_train_step(plan: StepPlan, rules: Mapping, optimizers: Mapping, *, keep: tuple,
                    check_finite: bool = True, return_state: bool = False):
    """Build the pure train step ``(params, opt_state, state, batch, key, step) -> (params, opt_state, state, metrics)``.

    Args:
        rules: ``{area: Rule}``; a frozen area (``rule.frozen``) is left out of the gradient, its
            optimiser is never called and its params and optimiser state come back unchanged.
        optimizers: ``{area: optax.GradientTransformation}``.
        keep: the signals the rules need in the trace.
        check_finite: add ``metrics["finite"]`` (loss, cost terms and gradients all finite).
        return_state: return the episode's final state (else ``None``: training does not need it).
    """
    def train_step(params, opt_state, state, batch, key, step):
        train, fixed = trainables(plan, params)
        grad_areas = [a.name for a in plan.areas if rules[a.name].needs_grad]

        def loss_of(tr_grad):
            total, (st, metrics, trace, _) = episode_loss(plan, {**train, **tr_grad}, fixed, state, batch, key,
                                                          step, keep)
            return total, (st, metrics, trace)

        tr_grad = {n: train[n] for n in grad_areas}
        if grad_areas:
            (_, (new_state, metrics, trace)), grads = jax.value_and_grad(loss_of, has_aux=True)(tr_grad)
        else:
            _, (new_state, metrics, trace) = loss_of(tr_grad)
            grads = {}
        if plan.axis_name is not None:  # batch split over devices: ONE all-reduce of gradients and metrics
            grads, metrics = jax.lax.psum((grads, metrics), plan.axis_name)

        def area_cost(name, p):  # the brain's summed cost with one area's params replaced
            return episode_loss(plan, {**train, name: p}, fixed, state, batch, key, step, ())[0]

        new_train, new_opt = apply_rules(plan, rules, optimizers, train, opt_state, grads, trace, area_cost,
                                         stream_key(key, "rules"))
        if check_finite:
            metrics = {**metrics, "finite": jnp.all(jnp.stack(
                [jnp.isfinite(v) for v in metrics.values()] + [_all_finite(grads)]))}
        return merge(new_train, fixed), new_opt, (new_state if return_state else None), metrics

    return train_step


def apply_rules(plan: StepPlan, rules: Mapping, optimizers: Mapping, train: dict, opt_state: dict, grads: dict,
                trace: Mapping, area_cost, rule_keys: jax.Array) -> tuple[dict, dict]:
    """Every non-frozen area: its rule's pseudo-gradient through its own optimiser -> ``(train, opt_state)``.

    ``area_cost(name, params)`` is the cost closure perturbation rules use; area n's rule key is
    ``fold_in(rule_keys, n)``.
    """
    new_train, new_opt = dict(train), dict(opt_state)
    for a in plan.areas:
        rule = rules[a.name]
        if rule.frozen:
            continue
        ctx = RuleContext(a.area, train[a.name], grads.get(a.name), lambda p, name=a.name: area_cost(name, p),
                          {k: v for k, v in trace.items() if k.startswith(a.name + ".")},
                          jax.random.fold_in(rule_keys, a.index), dict(rule.config))
        pseudo_grad = rule.update(ctx)
        upd, new_opt[a.name] = optimizers[a.name].update(pseudo_grad, opt_state[a.name], train[a.name])
        new_train[a.name] = optax.apply_updates(train[a.name], upd)
    return new_train, new_opt


def diagnose(plan: StepPlan, params, state, batch, key, step) -> dict:
    """The NaN/Inf diagnostic mode: re-run a batch and name what went non-finite.

    Returns:
        the train step's metrics plus ``"finite:area.port"`` booleans (False when that output held a
        NaN/Inf in the episode) and ``"finite:grad:area"`` (False when that area's gradient did).
    """
    train, fixed = trainables(plan, params)

    def loss_of(tr):
        total, (_, metrics, _, flags) = episode_loss(plan, tr, fixed, state, batch, key, step, (), flags=True)
        return total, (metrics, flags)

    (_, (metrics, flags)), grads = jax.value_and_grad(loss_of, has_aux=True)(train)
    out = dict(metrics)
    out.update({f"finite:{k}": v for k, v in flags.items()})
    out.update({f"finite:grad:{n}": _all_finite(g) for n, g in grads.items()})
    return out
