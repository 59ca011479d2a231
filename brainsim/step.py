"""Pure step and scan over ``(plan, params, state, inputs, key)``.

Semantics of one step: delayed signals are read from their ring buffers (one
scalar clock ``state["t"]`` for the whole batch, so the buffers are indexed
outside the batch ``vmap``; a ``delay: 1`` edge reads and writes its single
slot with static slices), then, per sample (vmapped over the batch), areas run
in schedule order; each input port receives the sum over its edges of
``gate * projection(weight * signal)`` (``stop_gradient`` first when the
receiving area's credit is ``local``; the gate acts after the projection);
finally every delayed edge writes its source's current value. A signal sent at
step t over a ``delay: d`` edge arrives at step t + d.

Keys (named streams, see :data:`brainsim.plan.KEY_STREAMS`): step i of an
episode uses ``fold_in(fold_in(key, STEPS), i)``; within a step sample b gets
``fold_in(step_key, b)``, area n ``fold_in(sample_key, n)`` and replica r
``fold_in(area_key, r)``. Rules draw from the separate ``rules`` stream, so no
key is used twice however long the episode.

Replicas: every replica receives the same inputs; a replicated area's output
port of dim d has dim ``K * d`` (replica r at ``[r*d:(r+1)*d]``); its cost
terms are summed over replicas.
"""

from __future__ import annotations

from typing import Mapping

import jax
import jax.numpy as jnp

from .costs import reduce_cost
from .plan import KEY_STREAMS, AreaPlan, StepPlan
from .wiring import Ref


def _first_sample(plan: StepPlan, B: int):
    """Global index of this device's first sample (0 unless the batch is split over ``plan.axis_name``)."""
    return 0 if plan.axis_name is None else jax.lax.axis_index(plan.axis_name) * B


def _cast_floats(tree, dtype):
    """Every floating leaf of ``tree`` as ``dtype`` (ints, bools and keys untouched)."""
    return jax.tree.map(lambda x: x.astype(dtype) if jnp.issubdtype(x.dtype, jnp.floating) else x, tree)


def _cast_like(tree, like):
    """``tree`` with each leaf cast to the dtype of the matching leaf of ``like``."""
    return jax.tree.map(lambda x, y: x.astype(y.dtype), tree, like)


def stream_key(key: jax.Array, stream: str) -> jax.Array:
    """The root key of a named stream (``"steps"``, ``"rules"``) of a run or training-step key."""
    return jax.random.fold_in(key, KEY_STREAMS[stream])


def step_key(key: jax.Array, i) -> jax.Array:
    """The key of step ``i`` of an episode run with ``key``."""
    return jax.random.fold_in(stream_key(key, "steps"), i)


def signal(sig: Mapping, ref: Ref) -> jax.Array:
    """The value of ``ref`` (``[..., dim]``, one channel when ``ref.channel`` is set) in a step's signals."""
    v = sig[(ref.node, ref.port)]
    return v if ref.channel is None else v[..., ref.channel:ref.channel + 1]


# --------------------------------------------------------------------------- delay lines (batched, outside vmap)

def read_delays(plan: StepPlan, delays: Mapping, t: jax.Array) -> dict:
    """``{edge name: [B, src_dim]}``: the value each delayed edge delivers at clock ``t``."""
    out = {}
    for e in plan.delayed:
        buf = delays[e.name]  # [B, d, src_dim]
        out[e.name] = buf[:, 0] if e.delay == 1 else jax.lax.dynamic_index_in_dim(buf, t % e.delay, 1, False)
    return out


def write_delays(plan: StepPlan, delays: Mapping, t: jax.Array, sig: Mapping) -> dict:
    """The delay lines after every delayed edge wrote its source's value ``[B, src_dim]`` at clock ``t``."""
    out = {}
    for e in plan.delayed:
        v = signal(sig, e.src)[:, None].astype(delays[e.name].dtype)  # (a no-op unless bf16 matmuls mix dtypes)
        out[e.name] = v if e.delay == 1 else jax.lax.dynamic_update_index_in_dim(delays[e.name], v, t % e.delay, 1)
    return out


# --------------------------------------------------------------------------- one sample

def _gather_inputs(a: AreaPlan, params: Mapping, sig: Mapping, delayed: Mapping) -> dict:
    """``{port: [dim]}``: the summed, weighted, projected, gated signals into area ``a``."""
    inputs = {}
    for e in a.edges:
        v = delayed[e.name] if e.delay else signal(sig, e.src)
        if e.weight != 1.0:
            v = v * e.weight
        if e.stop_gradient:
            v = jax.lax.stop_gradient(v)
        if e.projection:
            v = v @ params["projections"][e.name]["w"]
        if e.gate is not None:  # after the projection: a gate has dim 1 or the port's dim
            g = signal(sig, e.gate)
            v = v * (jax.lax.stop_gradient(g) if e.stop_gradient else g)
        inputs[e.dst_port] = inputs[e.dst_port] + v if e.dst_port in inputs else v
    return inputs


def area_step(a: AreaPlan, params, state, inputs, key, targets, with_costs: bool):
    """One area for one sample: ``(state, {port: [dim]}, {term: (num, den)})`` (replicas vmapped)."""
    terms = {c.name: fn for c, fn in a.costs} if with_costs else {}
    area = a.area
    if a.replicas == 1:
        s, out, c = area.step_costs(params, state, inputs, key, terms, targets)
        return s, out, {k: reduce_cost(v) for k, v in c.items()}
    keys = jax.vmap(lambda r: jax.random.fold_in(key, r))(jnp.arange(a.replicas))
    s, out, c = jax.vmap(lambda p, st, k: area.step_costs(p, st, inputs, k, terms, targets))(params, state, keys)
    out = {k: v.reshape(-1) for k, v in out.items()}
    c = {k: jax.vmap(reduce_cost)(v) for k, v in c.items()}
    return s, out, {k: (jnp.sum(num), den[0]) for k, (num, den) in c.items()}


def sample_step(plan: StepPlan, params, area_states, ext, delayed, key, with_costs: bool):
    """Every area once, for one sample.

    Args:
        area_states: ``{area: state}`` (one sample).
        ext: ``{input name: [dim]}``.
        delayed: ``{edge name: [src_dim]}`` from :func:`read_delays` (one sample).
        key: this sample's key.

    Returns:
        ``(area_states, signals {(node, port): [dim]}, costs {(area, term): (num, den)})``.
    """
    sig = {(k, None): v for k, v in ext.items()}
    new_states, costs = {}, {}
    for a in plan.areas:
        inputs = _gather_inputs(a, params, sig, delayed)
        targets = {k: ext[k] for k in a.targets}
        s, out, c = area_step(a, params["areas"][a.name], area_states[a.name], inputs,
                              jax.random.fold_in(key, a.index), targets, with_costs)
        new_states[a.name] = s
        for port, v in out.items():
            sig[(a.name, port)] = v
        for term, v in c.items():
            costs[(a.name, term)] = v
    return new_states, sig, costs


# --------------------------------------------------------------------------- the batch and the episode

def batched_step(plan: StepPlan, params, state, ext, key, with_costs: bool = False):
    """One step for the whole batch: ``(state, signals {(node, port): [B, dim]}, costs, delayed)``.

    ``key`` is this step's key; ``delayed`` is what each delayed edge delivered (``[B, src_dim]``).
    """
    B = next(iter(ext.values())).shape[0]
    t = state["t"]
    delayed = read_delays(plan, state["delays"], t)
    keys = jax.vmap(lambda b: jax.random.fold_in(key, b))(jnp.arange(B) + _first_sample(plan, B))
    areas, sig, costs = jax.vmap(lambda s, x, d, k: sample_step(plan, params, s, x, d, k, with_costs))(
        state["areas"], ext, delayed, keys)
    new = {"areas": areas, "delays": write_delays(plan, state["delays"], t, sig), "t": t + 1}
    return new, sig, costs, delayed


def edge_activity(plan: StepPlan, sig, delayed) -> dict:
    """Per edge: mean |signal| sent (after weight, times the mean gate) ``[B]`` and the gate's mean ``[B]``."""
    out = {}
    for e in plan.edges:
        v = delayed[e.name] if e.delay else signal(sig, e.src)
        v = v * e.weight
        g = jnp.ones(v.shape[:-1]) if e.gate is None else jnp.mean(signal(sig, e.gate), axis=-1)
        out[f"edge:{e.name}"] = jnp.mean(jnp.abs(v), axis=-1) * jnp.abs(g)
        out[f"gate:{e.name}"] = g
    return out


def output_flags(sig) -> dict:
    """``{"area.port": bool}``: whether each area output is finite (the diagnostic mode's check)."""
    return {f"{n}.{p}": jnp.all(jnp.isfinite(v)) for (n, p), v in sig.items() if p is not None}


def scan(plan: StepPlan, params, state, inputs, key, keep: tuple = None, *, with_costs: bool = False,
         edges: bool = False, flags: bool = False, delayed_keep: tuple = ()):
    """Run an episode as one ``lax.scan``.

    Args:
        inputs: ``{input name: [T, B, dim]}``.
        key: the episode's key (step i uses :func:`step_key` ``(key, i)``).
        keep: ``(("name", Ref), ...)`` to record (default: the plan's probes).
        with_costs: also compute every area's cost terms.
        edges: also record :func:`edge_activity` (for flow pictures).
        flags: also record :func:`output_flags` (the NaN/Inf diagnostic mode).
        delayed_keep: edge names whose delivered values to record as ``"delayed:e<i>"`` (the rules' replay).

    Returns:
        ``(state, trace {name: [T, B, dim]}, costs {(area, term): ([T, B], [T, B])}, flags {"area.port": [T]})``.
    """
    keep = plan.probes if keep is None else keep
    steps = stream_key(key, "steps")

    low = None if plan.matmul_dtype is None else jnp.dtype(plan.matmul_dtype)
    if low is not None:  # cast once, outside the loop (gradients reach the float32 params through it)
        params = _cast_floats(params, low)

    def body(carry, x):
        st, i = carry
        if low is not None:  # bf16 matmuls: this step computes in bf16, the carry stays in its dtypes
            new, sig, costs, delayed = batched_step(plan, params, _cast_floats(st, low), _cast_floats(x, low),
                                                    jax.random.fold_in(steps, i), with_costs)
            st, costs = _cast_like(new, st), _cast_floats(costs, jnp.float32)
            sig, delayed = _cast_floats(sig, jnp.float32), _cast_floats(delayed, jnp.float32)
        else:
            st, sig, costs, delayed = batched_step(plan, params, st, x, jax.random.fold_in(steps, i), with_costs)
        trace = {k: signal(sig, r) for k, r in keep}
        trace.update({f"delayed:{n}": delayed[n] for n in delayed_keep})
        if edges:
            trace.update(edge_activity(plan, sig, delayed))
        return (st, i + 1), (trace, costs, output_flags(sig) if flags else {})

    (state, _), (trace, costs, ok) = jax.lax.scan(body, (state, jnp.zeros((), jnp.int32)), inputs,
                                                  unroll=plan.unroll)
    return state, trace, costs, ok
