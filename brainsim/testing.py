"""Test one area in isolation: the area contract checks and small helpers.

``check_area`` runs, for any registered area (yours too), the contract every
area must keep:

* jit == eager (one step, same key),
* vmap over a batch equals a Python loop over samples,
* no retrace on the second call of a jitted step,
* ``init`` and ``step`` return the same state structure, shapes and dtypes,
* every cost term the area offers has a finite gradient w.r.t. the params,
* the same key gives the same result,
* several steps (not only one from the initial state): outputs and state stay finite after every
  step (a NaN/Inf at step k is reported with k and the port),
* every optional input both connected (random values) and not (its ``Port.default``),
* a cost term whose gradient w.r.t. the params is identically zero over the rollout is flagged
  (unless the area lists it in ``param_free_costs``),
* a state key that is never used (it never changes and changing it changes nothing) is flagged with an
  :class:`UnusedStateWarning` (state kept for another mode of the area is legitimate),
* ``examples``: an area's documented example configs (``examples = ({}, {"k": 4})``, optionally with
  ``"dims"``); :func:`example_configs` lists them and the contract suite runs every (area, example) pair.

``run_area`` and ``fit_area`` drive one area over ``[T, B, dim]`` inputs with
one ``lax.scan`` (vmapped over the batch), for behavioural tests.

Example::

    from brainsim.testing import check_area
    check_area("cortex", dims={"input": 16}, hidden=8)
"""

from __future__ import annotations

import functools
import warnings
from typing import Any, Callable, Mapping, Optional

import jax
import jax.numpy as jnp
import numpy as np
import optax

from .area import Area, get_area_type, merge_learned, split_learned
from .costs import CostSpec, reduce_cost, resolve_term

DEFAULT_DIM = 6
CONTRACT_STEPS = 4  # steps of the multi-step checks


def make_area(area_type: "str | type[Area]", dims: Optional[Mapping[str, int]] = None, **config) -> Area:
    """Build an area by type name (or class); "auto" inputs default to ``DEFAULT_DIM``."""
    cls = get_area_type(area_type) if isinstance(area_type, str) else area_type
    auto = {p: DEFAULT_DIM for p, s in cls.inputs.items() if s.dim == "auto"}
    auto.update(dims or {})
    return cls(dims=auto, **config)


def _specs(area: Area, costs: Mapping[str, Any]) -> dict[str, tuple[float, Callable]]:
    out = {}
    for name, value in costs.items():
        if isinstance(value, Mapping):
            opts = dict(value)
            weight = float(opts.pop("weight", 1.0))
        else:
            opts, weight = {}, float(value)
        spec = CostSpec(name, weight, None, tuple(sorted(opts.items())))
        out[name] = (weight, resolve_term(type(area), spec))
    return out


def run_area(area: Area, params, inputs: Mapping[str, Any], key, state=None,
             targets: Optional[Mapping[str, Any]] = None, costs: Optional[Mapping[str, Any]] = None):
    """Run one area over time and batch.

    Args:
        area: the area.
        params: from ``area.init``.
        inputs: ``{port: [T, B, dim]}`` (ports left out read their Port.default).
        key: PRNG key; step t of sample b uses ``fold_in(fold_in(key, t), b)``.
        state: per-sample state batched ``[B, ...]``; default: the initial state.
        targets: ``{name: [T, B, dim]}`` arrays cost terms refer to.
        costs: ``{term: weight | {weight, options…}}`` to evaluate.

    Returns:
        ``(state [B, ...], outputs {port: [T, B, dim]}, costs {term: scalar})`` where a
        cost is its mean over time and batch (unweighted).
    """
    inputs = {k: jnp.asarray(v) for k, v in inputs.items()}
    targets = {k: jnp.asarray(v) for k, v in (targets or {}).items()}
    T, B = next(iter(inputs.values())).shape[:2]
    if state is None:
        state = jax.tree.map(lambda x: jnp.broadcast_to(x, (B, *x.shape)), area.initial_state())
    frozen = tuple(sorted((k, tuple(sorted(v.items())) if isinstance(v, Mapping) else v)
                          for k, v in (costs or {}).items()))
    return _run_area_jit(area, frozen, params, state, inputs, targets, key)


@functools.partial(jax.jit, static_argnums=(0, 1))
def _run_area_jit(area, frozen_costs, params, state, inputs, targets, key):
    """``run_area`` compiled once per (area, costs, shapes)."""
    costs = {k: dict(v) if isinstance(v, tuple) else v for k, v in frozen_costs}
    B = next(iter(inputs.values())).shape[1]
    terms = {n: fn for n, (_, fn) in _specs(area, costs).items()}

    def one(p, s, x, tg, k):
        return area.step_costs(p, s, x, k, terms, tg)

    def body(carry, xs):
        s, t = carry
        x, tg = xs
        keys = jax.vmap(lambda b: jax.random.fold_in(jax.random.fold_in(key, t), b))(jnp.arange(B))
        s, out, c = jax.vmap(one, in_axes=(None, 0, 0, 0, 0))(params, s, x, tg, keys)
        c = {n: jax.tree.map(jnp.sum, jax.vmap(reduce_cost)(v)) for n, v in c.items()}
        return (s, t + 1), (out, c)

    (state, _), (outs, cs) = jax.lax.scan(body, (state, jnp.zeros((), jnp.int32)), (inputs, targets))
    cost_means = {n: jnp.sum(num) / jnp.maximum(jnp.sum(den), 1e-8) for n, (num, den) in cs.items()}
    return state, outs, cost_means


def fit_area(area: Area, batch_fn: Callable[[int], tuple[dict, dict]], costs: Mapping[str, Any], steps: int,
             key=None, optimizer: Optional[optax.GradientTransformation] = None, params=None):
    """Train one area on its own cost terms by gradient descent.

    Args:
        area: the area.
        batch_fn: ``step -> (inputs {port: [T,B,d]}, targets {name: [T,B,d]})``.
        costs: ``{term: weight | {weight, options…}}``; the loss is the weighted sum.
        steps: number of updates.
        key: PRNG key (default ``jax.random.key(0)``).
        optimizer: optax transform (default ``adam(1e-2)``).
        params: start from these params instead of ``area.init(key)``.

    Returns:
        ``(params, history)`` where ``history`` is a list of ``{term: float}`` per step.
    """
    key = jax.random.key(0) if key is None else key
    optimizer = optimizer or optax.adam(1e-2)
    if params is None:
        params, _ = area.init(key)
    learned, fixed = split_learned(params)
    weights = {n: w for n, (w, _) in _specs(area, costs).items()}
    opt_state = optimizer.init(learned)

    def loss(learned, inputs, targets, k):
        _, _, c = run_area(area, merge_learned(learned, fixed), inputs, k, targets=targets, costs=costs)
        return sum(weights[n] * v for n, v in c.items()), c

    @jax.jit
    def update(learned, opt_state, inputs, targets, k):
        (_, c), g = jax.value_and_grad(loss, has_aux=True)(learned, inputs, targets, k)
        upd, opt_state = optimizer.update(g, opt_state, learned)
        return optax.apply_updates(learned, upd), opt_state, c

    history = []
    for step in range(steps):
        inputs, targets = batch_fn(step)
        learned, opt_state, c = update(learned, opt_state, inputs, targets, jax.random.fold_in(key, step))
        history.append({n: float(v) for n, v in c.items()})
    return merge_learned(learned, fixed), history


# --------------------------------------------------------------------------- the contract

def _random_inputs(area: Area, key, batch: Optional[int] = None) -> dict:
    shape = () if batch is None else (batch,)
    return {p: jax.random.normal(jax.random.fold_in(key, i), (*shape, d))
            for i, (p, d) in enumerate(sorted(area.in_dims.items()))}


def _assert_tree_close(a, b, what: str, rtol=1e-5, atol=1e-5) -> None:
    la, lb = jax.tree.leaves(a), jax.tree.leaves(b)
    assert jax.tree.structure(a) == jax.tree.structure(b), f"{what}: tree structures differ"
    for x, y in zip(la, lb):
        np.testing.assert_allclose(np.asarray(x, np.float64), np.asarray(y, np.float64), rtol=rtol, atol=atol,
                                   err_msg=what)


def _signature(tree) -> list:
    return [(tuple(x.shape), str(x.dtype)) for x in jax.tree.leaves(tree)]


def check_area(area_type: "str | type[Area]", dims: Optional[Mapping[str, int]] = None, batch: int = 3,
               targets: Optional[Mapping[str, int]] = None, **config) -> Area:
    """Run the area contract on one area type and config; raise ``AssertionError`` on a breach.

    Args:
        area_type: registered name or class.
        dims: dims of "auto" inputs (default ``DEFAULT_DIM`` each).
        batch: batch size for the vmap check.
        targets: ``{option value: dim}`` external arrays cost options refer to
            (only needed for terms with a ``target``; generic ones are skipped).
        **config: the area's options.

    Returns:
        The area built, for further checks.
    """
    area = make_area(area_type, dims, **config)
    key = jax.random.key(42)
    params, state = area.init(key)
    params2, _ = area.init(key)
    _assert_tree_close(params, params2, f"{area.type_name}: init is not deterministic in its key")
    x = _random_inputs(area, jax.random.key(1))
    k = jax.random.key(7)

    # state structure and dtypes are stable across a step
    s1, out = area.step(params, state, x, key=k)
    assert jax.tree.structure(s1) == jax.tree.structure(state), \
        f"{area.type_name}: step changed the state structure"
    assert _signature(s1) == _signature(state), \
        f"{area.type_name}: step changed state shapes/dtypes: {_signature(state)} -> {_signature(s1)}"
    assert set(out) == set(area.outputs), f"{area.type_name}: outputs {sorted(out)} != declared {sorted(area.outputs)}"
    for p, v in out.items():
        assert v.shape == (area.out_dims[p],), f"{area.type_name}.{p}: shape {v.shape} != ({area.out_dims[p]},)"
        assert bool(jnp.all(jnp.isfinite(v))), f"{area.type_name}.{p}: non-finite output"

    # jit == eager, and no retrace on the second call
    traces = []

    def f(p, s, xx, kk):
        traces.append(1)
        return area.step(p, s, xx, key=kk)

    jf = jax.jit(f)
    s_j, out_j = jf(params, state, x, k)
    _assert_tree_close((s1, out), (s_j, out_j), f"{area.type_name}: jit differs from eager", rtol=1e-4, atol=1e-4)
    x2 = _random_inputs(area, jax.random.key(2))
    jf(params, s_j, x2, jax.random.key(8))
    assert len(traces) == 1, f"{area.type_name}: the jitted step was traced {len(traces)} times (expected 1)"

    # same key -> same result
    _assert_tree_close(jf(params, state, x, k), (s_j, out_j), f"{area.type_name}: same key gave different results",
                       rtol=0, atol=0)

    # vmap over batch == loop
    xb = _random_inputs(area, jax.random.key(3), batch)
    sb = jax.tree.map(lambda a: jnp.broadcast_to(a, (batch, *a.shape)), state)
    kb = jax.random.split(jax.random.key(9), batch)
    vs, vo = jax.jit(jax.vmap(lambda s, xx, kk: area.step(params, s, xx, key=kk)))(sb, xb, kb)
    for b in range(batch):
        ls, lo = area.step(params, state, {p: v[b] for p, v in xb.items()}, key=kb[b])
        _assert_tree_close((ls, lo), jax.tree.map(lambda a: a[b], (vs, vo)),
                           f"{area.type_name}: vmap differs from a loop (sample {b})", rtol=1e-4, atol=1e-4)

    # finite gradients of every cost term
    learned, fixed = split_learned(params)
    tdims = dict(targets or {})
    for term in area.cost_terms:
        def loss(lp):
            _, _, c = area.step_costs(merge_learned(lp, fixed), state, x, k, {term: resolve_term(type(area), CostSpec(term))},
                                      {n: jnp.ones((d,)) for n, d in tdims.items()})
            num, den = reduce_cost(c[term])
            return num / jnp.maximum(den, 1e-8)

        val, g = jax.jit(jax.value_and_grad(loss))(learned)
        assert bool(jnp.isfinite(val)), f"{area.type_name}: cost '{term}' is not finite ({val})"
        for leaf in jax.tree.leaves(g):
            assert bool(jnp.all(jnp.isfinite(leaf))), f"{area.type_name}: cost '{term}' has a non-finite gradient"

    _check_rollout(area, params, state, tdims)
    return area


def example_configs(area_type: "str | type[Area]") -> list[dict]:
    """The area's documented example configs (its ``examples`` attribute; ``[{}]``: the defaults)."""
    cls = get_area_type(area_type) if isinstance(area_type, str) else area_type
    return [dict(c) for c in (getattr(cls, "examples", None) or ({},))]


def _rollout_inputs(area: Area, key, steps: int, ports) -> dict:
    return {p: jax.random.normal(jax.random.fold_in(key, i), (steps, area.in_dims[p]))
            for i, p in enumerate(sorted(ports))}


def _check_rollout(area: Area, params, state, tdims: Mapping[str, int], steps: int = CONTRACT_STEPS) -> None:
    """The multi-step checks: finite after every step, optional inputs on and off, zero-gradient costs,
    unused state keys (one compiled rollout, reused)."""
    name = area.type_name
    optional = [p for p, spec in area.inputs.items() if not spec.required]
    required = [p for p in area.inputs if p not in optional]
    targets = {n: jnp.ones((steps, d)) for n, d in tdims.items()}
    terms = {t: resolve_term(type(area), CostSpec(t)) for t in area.cost_terms}

    def rollout(p, s0, xs, key):
        def body(s, xk):
            x, tg, t = xk
            s2, out, c = area.step_costs(p, s, x, jax.random.fold_in(key, t), terms, tg)
            cost = {n: reduce_cost(v) for n, v in c.items()}
            return s2, (out, s2, cost)

        ts = jnp.arange(steps)
        return jax.lax.scan(body, s0, (xs, targets, ts))

    run = jax.jit(rollout)
    key = jax.random.key(11)
    for connected in ([], optional) if optional else ([],):
        xs = _rollout_inputs(area, jax.random.key(5), steps, required + list(connected))
        _, (outs, states, _) = run(params, state, xs, key)
        what = "with every optional input connected" if connected else "with the optional inputs unconnected"
        for t in range(steps):
            for port, v in outs.items():
                assert bool(jnp.all(jnp.isfinite(v[t]))), \
                    f"{name}.{port}: non-finite output at step {t} {what if optional else ''}".rstrip()
            for leaf in jax.tree.leaves(states):
                if jnp.issubdtype(leaf.dtype, jnp.floating):
                    assert bool(jnp.all(jnp.isfinite(leaf[t]))), f"{name}: non-finite state after step {t} {what}"

    xs = _rollout_inputs(area, jax.random.key(5), steps, list(area.inputs))
    learned, fixed = split_learned(params)
    has_params = any(np.size(x) for x in jax.tree.leaves(learned))
    exempt = set(getattr(area, "param_free_costs", ()))
    checked = [t for t in terms if t not in exempt] if has_params else []
    if checked:
        def all_grads(lp):  # every term's gradient in one compiled function
            def loss(p, term):
                _, (_, _, cost) = rollout(merge_learned(p, fixed), state, xs, key)
                num, den = cost[term]
                return jnp.sum(num) / jnp.maximum(jnp.sum(den), 1e-8)
            return {t: jax.grad(loss)(lp, t) for t in checked}

        for term, g in jax.jit(all_grads)(learned).items():
            assert any(bool(jnp.any(leaf != 0)) for leaf in jax.tree.leaves(g)), \
                (f"{name}: cost '{term}' has an identically zero gradient w.r.t. the area's params over {steps} "
                 "steps (it cannot train anything; list it in `param_free_costs` if that is intended)")

    _check_state_used(area, params, state, xs, run, key)


class UnusedStateWarning(UserWarning):
    """A state key the area carries but never uses in this config (e.g. state of another mode)."""


def _check_state_used(area: Area, params, state, xs, run, key, strict_state: bool = False) -> None:
    """Flag a state key that never changes over the rollout and whose value changes nothing: a warning
    (a key kept for another mode of the area is legitimate), an error with ``strict_state``."""
    if not isinstance(state, Mapping):
        return
    _, (outs, states, _) = run(params, state, xs, key)
    for k, v0 in state.items():
        leaves = jax.tree.leaves(v0)
        if not leaves or not all(jnp.issubdtype(x.dtype, jnp.floating) for x in leaves):
            continue
        changes = any(bool(jnp.any(st != x[None])) for st, x in zip(jax.tree.leaves(states[k]), leaves))
        if changes:
            continue
        bumped = dict(state)
        bumped[k] = jax.tree.map(lambda x: x + 0.5 + 0.25 * jnp.arange(x.size, dtype=x.dtype).reshape(x.shape), v0)
        _, (outs2, states2, _) = run(params, bumped, xs, key)
        others = {j: s for j, s in states.items() if j != k}
        others2 = {j: s for j, s in states2.items() if j != k}
        read = any(bool(jnp.any(a != b)) for a, b in zip(jax.tree.leaves((outs, others)), jax.tree.leaves((outs2, others2))))
        if not read:
            msg = (f"{area.type_name}: state key '{k}' is never used with this config (it never changes over "
                   f"{CONTRACT_STEPS} steps and changing it changes no output or "
                   "other state)")
            if strict_state:
                raise AssertionError(msg + "; remove it")
            warnings.warn(msg, UnusedStateWarning, stacklevel=3)
