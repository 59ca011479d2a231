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

from functools import partial
from typing import Callable, Mapping, NamedTuple, Optional

import jax
import jax.numpy as jnp
import optax

from .area import StepContext
from .costs import reduce_cost
from .plan import StepPlan
from .rules import Replay, RuleContext, step_weights
from .step import scan, stream_key
from .wiring import Ref


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


def episode_loss(plan: StepPlan, train, fixed, state, batch, key, step, keep: tuple, flags: bool = False,
                 delayed_keep: tuple = ()):
    """The weighted sum of every area's cost terms over an episode (``delayed_keep``: edges whose delivered
    values the trace keeps as ``"delayed:e<i>"``, for the rules' local replay).

    Returns:
        ``(total, (final_state, metrics, trace, flags))``; ``flags`` is ``{"area.port": bool}`` when
        ``flags`` is set (False where that output held a NaN/Inf), else empty.
    """
    state, trace, costs, ok = scan(plan, merge(train, fixed), state, batch, key, keep, with_costs=True, flags=flags,
                                   delayed_keep=delayed_keep)
    total, metrics = cost_metrics(plan, costs, step)
    return total, (state, metrics, trace, {k: jnp.all(v) for k, v in ok.items()})


def _all_finite(tree) -> jax.Array:
    leaves = jax.tree.leaves(tree)
    if not leaves:
        return jnp.asarray(True)
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in leaves]))  # a sum could overflow


def rule_keep(plan: StepPlan, rules: Mapping) -> tuple[tuple, tuple]:
    """What the rules need recorded: ``(keep ((name, Ref), ...), delayed edge names)``.

    An area whose rule needs its trace gets its outputs (``"area.port"``); one that replays gets every
    incoming edge's signal (``"rule:area:e<i>"``, gates ``"...:gate"``; delayed edges as
    ``"delayed:e<i>"``); a modulated rule gets its modulator.
    """
    keep, delayed = [], []
    for a in plan.areas:
        rule = rules[a.name]
        if rule.frozen or not rule.needs_trace:
            continue
        keep += [(f"{a.name}.{p}", Ref(a.name, p)) for p in a.outputs]
        if rule.needs_replay:
            for e in a.edges:
                if e.delay:
                    delayed.append(e.name)
                else:
                    keep.append((f"rule:{a.name}:{e.name}", e.src))
                if e.gate is not None:
                    keep.append((f"rule:{a.name}:{e.name}:gate", e.gate))
        if rule.modulator is not None:
            keep.append((".".join(rule.modulator), Ref(*rule.modulator)))
    return tuple(dict(keep).items()), tuple(sorted(set(delayed)))


def _dedupe(keep: tuple) -> tuple:
    return tuple(dict(keep).items())


def make_train_step(plan: StepPlan, rules: Mapping, optimizers: Mapping, *, keep: tuple,
                    check_finite: bool = True, return_state: bool = False):
    """Build the pure train step ``(params, opt_state, state, batch, key, step) -> (params, opt_state, state, metrics)``.

    Args:
        rules: ``{area: Rule}``; a frozen area (``rule.frozen``) is left out of the gradient, its
            optimiser is never called and its params and optimiser state come back unchanged.
        optimizers: ``{area: optax.GradientTransformation}``.
        keep: signals to keep in the trace (the rules' own needs are added, see :func:`rule_keep`).
        check_finite: add ``metrics["finite"]`` (loss, cost terms and gradients all finite).
        return_state: return the episode's final state (else ``None``: training does not need it).
    """
    extra, delayed_keep = rule_keep(plan, rules)
    keep = _dedupe(tuple(keep) + extra)

    def train_step(params, opt_state, state, batch, key, step):
        train, fixed = trainables(plan, params)
        grad_areas = [a.name for a in plan.areas if rules[a.name].needs_grad]

        def loss_of(tr_grad):
            total, (st, metrics, trace, _) = episode_loss(plan, {**train, **tr_grad}, fixed, state, batch, key,
                                                          step, keep, delayed_keep=delayed_keep)
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

        episode = Episode(train, fixed, state, batch, key, step, trace, area_cost)
        new_train, new_opt = apply_rules(plan, rules, optimizers, opt_state, grads, episode,
                                         stream_key(key, "rules"))
        if check_finite:
            metrics = {**metrics, "finite": jnp.all(jnp.stack(
                [jnp.isfinite(v) for v in metrics.values()] + [_all_finite(grads)]))}
        return merge(new_train, fixed), new_opt, (new_state if return_state else None), metrics

    return train_step


class Episode(NamedTuple):
    """What one training step recorded, for the rules: params split, start state, batch, key, step,
    the trace (:func:`rule_keep`'s signals included) and the whole-brain cost closure."""

    train: dict
    fixed: dict
    state: dict
    batch: dict
    key: jax.Array
    step: jax.Array
    trace: dict
    area_cost: Callable


def init_opt_states(plan: StepPlan, rules: Mapping, optimizers: Mapping, train: Mapping) -> dict:
    """Every area's optimiser state; a stateful rule's state rides along: ``{"rule": ..., "opt": ...}``."""
    out = {}
    for a in plan.areas:
        rule, os_ = rules[a.name], optimizers[a.name].init(train[a.name])
        if rule.stateful:
            rule.area = a.area
            out[a.name] = {"rule": rule.init(train[a.name]), "opt": os_}
        else:
            out[a.name] = os_
    return out


def _is_global(a) -> bool:
    return any(not e.stop_gradient for e in a.edges)


def apply_rules(plan: StepPlan, rules: Mapping, optimizers: Mapping, opt_state: dict, grads: dict,
                episode: Episode, rule_keys: jax.Array) -> tuple[dict, dict]:
    """Every non-frozen area: its rule's pseudo-gradient through its own optimiser -> ``(train, opt_state)``.

    Area n's rule key is ``fold_in(rule_keys, n)``; see :class:`~brainsim.rules.RuleContext` for what a
    rule sees.
    """
    train, trace = episode.train, episode.trace
    new_train, new_opt = dict(train), dict(opt_state)
    for a in plan.areas:
        rule = rules[a.name]
        if rule.frozen:
            continue
        T, B = next(iter(episode.batch.values())).shape[:2]
        if rule.modulator is not None:
            m = jax.lax.stop_gradient(trace[".".join(rule.modulator)][..., 0])
            weights = step_weights(m, rule.config.get("tau"))
        else:
            weights = jnp.ones((T, B), jnp.float32)
        replay = partial(replay_area, plan, a, episode, weights) if rule.needs_replay else None
        cost_fn = (lambda p, name=a.name: episode.area_cost(name, p)) if _is_global(a) else None
        outputs = {p: trace[f"{a.name}.{p}"] for p in a.outputs if f"{a.name}.{p}" in trace}
        ctx = RuleContext(a.area, train[a.name], grads.get(a.name), cost_fn, replay, outputs, weights,
                          jax.random.fold_in(rule_keys, a.index), episode.step, dict(rule.config),
                          episode.fixed[a.name])
        if rule.stateful:
            rule.area = a.area
            pseudo_grad, rs = rule.update(ctx, opt_state[a.name]["rule"])
            upd, os_ = optimizers[a.name].update(pseudo_grad, opt_state[a.name]["opt"], train[a.name])
            new_opt[a.name] = {"rule": rs, "opt": os_}
        else:
            pseudo_grad, _ = rule.update(ctx, ())
            upd, new_opt[a.name] = optimizers[a.name].update(pseudo_grad, opt_state[a.name], train[a.name])
        new_train[a.name] = optax.apply_updates(train[a.name], upd)
    return new_train, new_opt


# --------------------------------------------------------------------------- local replay

def _replay_inputs(a, proj: Mapping, rec: Mapping) -> dict:
    """``{port: [dim]}`` into area ``a`` from its recorded edge signals (one sample, one step)."""
    inputs = {}
    for e in a.edges:
        v = rec[e.name]
        if e.weight != 1.0:
            v = v * e.weight
        if e.projection:
            v = v @ proj[e.name]["w"]
        if e.gate is not None:
            v = v * rec[e.name + ":gate"]
        inputs[e.dst_port] = inputs[e.dst_port] + v if e.dst_port in inputs else v
    return inputs


def _replay_step(a, params, proj, state, rec, targets, key, noise, step):
    """One step of area ``a`` alone for one sample: ``(state, inputs, outputs, {term: (num, den)})``."""
    area = a.area
    inputs = area.fill_inputs(_replay_inputs(a, proj, rec))
    module = area.module(params)
    new_state, outputs = area.forward(module, state, inputs, key)
    outputs = {p: v + noise[p] if p in noise else v for p, v in outputs.items()}
    costs = {}
    for spec, fn in a.costs:
        ctx = StepContext(inputs, outputs, state, new_state, targets, getattr(fn, "options", {}))
        costs[spec.name] = reduce_cost(fn(area, module, ctx))
    return new_state, inputs, outputs, costs


def replay_area(plan: StepPlan, a, episode: Episode, weights: jax.Array, p_train: Mapping,
                noise: Optional[Mapping] = None) -> Replay:
    """Area ``a`` alone, re-run on its recorded inputs with learnable params ``p_train`` (one ``lax.scan``).

    The keys are the ones the brain's step used (step i, sample b, area index), so with the recorded
    params the replay reproduces the episode exactly; each step's cost is weighted by ``weights [T, B]``.

    Args:
        p_train: ``{"area": learned leaves, "projections": {...}}`` of the area.
        noise: ``{output port: [T, B, d]}`` added to the outputs before the costs (node perturbation).
    """
    params = merge_trees(p_train["area"], episode.fixed[a.name])
    proj = p_train["projections"]
    trace = episode.trace
    rec = {e.name: trace[f"delayed:{e.name}" if e.delay else f"rule:{a.name}:{e.name}"] for e in a.edges}
    rec.update({e.name + ":gate": trace[f"rule:{a.name}:{e.name}:gate"] for e in a.edges if e.gate is not None})
    targets = {k: episode.batch[k] for k in a.targets}
    T, B = weights.shape
    steps = stream_key(episode.key, "steps")
    noise = dict(noise or {})

    def body(st, xs):
        i, rec_t, tgt_t, noise_t = xs
        keys = jax.vmap(lambda b: jax.random.fold_in(jax.random.fold_in(jax.random.fold_in(steps, i), b),
                                                     a.index))(jnp.arange(B))
        new, inp, out, costs = jax.vmap(
            lambda s, r, t, k, n: _replay_step(a, params, proj, s, r, t, k, n, episode.step))(
            st, rec_t, tgt_t, keys, noise_t)
        return new, (inp, out, costs)

    _, (inputs, outputs, costs) = jax.lax.scan(body, episode.state["areas"][a.name],
                                               (jnp.arange(T), rec, targets, noise))
    per_step = jnp.zeros((T, B), jnp.float32)
    for spec, _ in a.costs:
        num, den = costs[spec.name]
        per_step = per_step + spec.weight_at(episode.step) * weights * num / jnp.maximum(jnp.sum(den), 1e-8)
    return Replay(jnp.sum(per_step), per_step, inputs, outputs)


def train_scan(plan: StepPlan, rules: Mapping, optimizers: Mapping, params, opt_state, state, batches, key,
               step0=0, lr_scale=None, observe=None):
    """Many train steps as one ``lax.scan`` (a fresh episode state each step): for sweeps and scenarios.

    Args:
        batches: ``{input: [S, T, B, dim]}``: S steps' batches.
        key: step s uses ``fold_in(key, s)``.
        lr_scale: a scalar multiplying each step's parameter change (with ``sgd(1.0)`` it is the learning
            rate, so a learning-rate grid can be vmapped over one compilation); None: 1.
        observe: ``params -> pytree`` recorded after every step as ``metrics["observed"]``.

    Returns:
        ``(params, opt_state, metrics {name: [S]})``.
    """
    step_fn = make_train_step(plan, rules, optimizers, keep=(), check_finite=False)

    def body(carry, xs):
        p, o, s = carry
        i, batch = xs
        p2, o2, _, m = step_fn(p, o, state, batch, jax.random.fold_in(key, i), s)
        if lr_scale is not None:
            p2 = jax.tree.map(lambda a, b: a + lr_scale * (b - a), p, p2)
        if observe is not None:
            m = {**m, "observed": observe(p2)}
        return (p2, o2, s + 1), m

    S = next(iter(batches.values())).shape[0]
    (params, opt_state, _), metrics = jax.lax.scan(body, (params, opt_state, jnp.asarray(step0, jnp.int32)),
                                                   (jnp.arange(S), batches))
    return params, opt_state, metrics


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
