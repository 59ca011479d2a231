"""A checked graph -> pure, jitted ``step`` / ``run`` / ``train_step``.

Shapes (``B`` batch, ``T`` time):

* ``params = {"areas": {name: nnx.State}, "projections": {"e<i>": {"w": [src_dim, dst_dim]}}}``;
  a replicated area (``replicas: K``) has every leaf stacked ``[K, ...]``.
* ``state = {"areas": {name: area_state}, "delays": {"e<i>": [delay, src_dim]}, "t": int32}``,
  every leaf with a leading batch axis ``[B, ...]`` (and ``[B, K, ...]`` for replicas).
* ``inputs = {input_name: [T, B, dim]}`` for :meth:`Brain.run`, ``[B, dim]`` for :meth:`Brain.step`.

Semantics of one step (per sample, vmapped over the batch): delayed signals are
read from ring buffers, areas run generation by generation (the schedule), each
input port receives the sum over its edges of ``gate * projection(weight *
signal)`` (``stop_gradient`` first when the receiving area's credit is
``local``; the gate acts after the projection), then every delayed edge writes its source's current value.  A
signal sent at step t over a ``delay: d`` edge arrives at step t + d.

Keys: ``run`` gives step i the key ``fold_in(key, i)``; within a step sample b
gets ``fold_in(step_key, b)``, area n ``fold_in(sample_key, n)`` and replica r
``fold_in(area_key, r)``: no key is used twice.

Replicas: every replica receives the same inputs; a replicated area's output
port of dim d has dim ``K * d`` (replica r at ``[r*d:(r+1)*d]``); its cost
terms are summed over replicas.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Optional

import jax
import jax.numpy as jnp
import numpy as np
import optax

from .area import merge_learned, split_learned
from .costs import reduce_cost
from .errors import ShapeError
from .graph import BrainGraph, build_graph
from .optim import make_optimizer
from .rules import RuleContext, make_rule
from .wiring import Ref, WiringSpec, load_wiring, parse_wiring


def load(path: "str | Path", overrides: Optional[Mapping[str, Any]] = None) -> "Brain":
    """Read, check and build a brain from a wiring file.

    Args:
        path: the YAML wiring file.
        overrides: ``{"areas.lstm.hidden": 64, …}`` applied before validation.
    """
    return Brain(build_graph(load_wiring(path, overrides)))


def from_yaml(text: str, file: str = "<string>") -> "Brain":
    """Build a brain from wiring text (handy in tests and notebooks)."""
    return Brain(build_graph(parse_wiring(text, file)))


class Brain:
    """A compiled modular brain. Build it with :func:`load`.

    Attributes:
        graph: the checked :class:`~brainsim.graph.BrainGraph` (``graph.graph`` is the networkx graph).
        spec: the wiring spec.
        trace_count: how many times ``train_step`` has been traced (compiled).
    """

    def __init__(self, graph: BrainGraph):
        self.graph = graph
        self.spec: WiringSpec = graph.spec
        self.areas = graph.areas
        self.inputs = dict(graph.spec.inputs)
        self.rules = {n: make_rule(*node.spec.rule) for n, node in self.areas.items()}
        self.optimizers = {n: make_optimizer(node.spec.optimizer) for n, node in self.areas.items()}
        self._delayed = tuple(e for e in graph.edges if e.delay > 0)
        self._into = {n: graph.edges_into(n) for n in self.areas}
        self._targets = {n: tuple(sorted({c.opts[o] for c, _ in node.costs for o in ("target", "mask") if o in c.opts}))
                         for n, node in self.areas.items()}
        self.trace_count = 0
        self._fresh_states: dict[int, dict] = {}
        self.probe_refs = self._probe_refs()
        self._run = jax.jit(self._run_impl)
        self._step = jax.jit(self._step_impl)
        self._train_step = jax.jit(self._train_step_impl)
        self._eval = jax.jit(self._eval_impl)

    # ------------------------------------------------------------------ probes
    def _probe_refs(self) -> tuple:
        refs = []
        for p in self.spec.probes:
            ports = [p.port] if p.port else list(self.areas[p.node].area.outputs)
            refs += [(f"{p.node}.{q}", Ref(p.node, q, p.channel)) for q in ports]
        refs += [(name, ref) for name, ref in self.spec.outputs]
        seen, out = set(), []
        for k, r in refs:
            if k not in seen:
                seen.add(k)
                out.append((k, r))
        return tuple(out)

    # ------------------------------------------------------------------ init
    def init(self, key: jax.Array, batch: int = 1) -> tuple[dict, dict]:
        """Create ``(params, state)`` for a batch of ``batch`` samples."""
        if not hasattr(self, "_init_params"):
            self._init_params = jax.jit(self._init_params_impl)  # one compilation, not op-by-op dispatch
        return self._init_params(key), self.init_state(batch)

    def _init_params_impl(self, key: jax.Array) -> dict:
        params = {"areas": {}, "projections": {}}
        for name, node in self.areas.items():
            k = jax.random.fold_in(key, node.index)
            if node.replicas > 1:
                keys = jax.random.split(k, node.replicas)
                params["areas"][name] = jax.vmap(lambda kk, a=node.area: a.init(kk)[0])(keys)
            else:
                params["areas"][name] = node.area.init(k)[0]
        for e in self.graph.edges:
            if e.projection == "linear":
                k = jax.random.fold_in(jax.random.fold_in(key, 1_000_003), e.index)
                w = jax.random.normal(k, (e.src_dim, e.dst_dim)) / np.sqrt(e.src_dim)
                params["projections"][e.name] = {"w": w}
        return params

    def init_state(self, batch: int = 1) -> dict:
        """A fresh state (every area's initial state, empty delay lines, t = 0) for ``batch`` samples.

        Built once per batch size and reused (JAX arrays are immutable), so starting every training
        episode from a fresh state costs nothing on the hot path.
        """
        if batch not in self._fresh_states:
            self._fresh_states[batch] = self._build_state(batch)
        return self._fresh_states[batch]

    def _build_state(self, batch: int) -> dict:
        areas = {}
        for name, node in self.areas.items():
            s = node.area.initial_state()
            if node.replicas > 1:
                s = jax.tree.map(lambda x, K=node.replicas: jnp.broadcast_to(x, (K, *x.shape)), s)
            areas[name] = s
        one = {"areas": areas,
               "delays": {e.name: jnp.zeros((e.delay, e.src_dim), jnp.float32) for e in self._delayed},
               "t": jnp.zeros((), jnp.int32)}
        return jax.tree.map(lambda x: jnp.broadcast_to(x, (batch, *x.shape)), one)

    def param_counts(self, params: dict) -> dict[str, int]:
        """Learnable scalars per area (its projections included)."""
        out = {}
        for name in self.areas:
            learned, _ = split_learned(params["areas"][name])
            n = sum(int(x.size) for x in jax.tree.leaves(learned))
            n += sum(int(params["projections"][e.name]["w"].size) for e in self._into[name] if e.projection)
            out[name] = n
        return out

    # ------------------------------------------------------------------ one step, one sample
    @staticmethod
    def _value(sig: dict, ref: Ref) -> jax.Array:
        v = sig[(ref.node, ref.port)]
        return v if ref.channel is None else v[..., ref.channel:ref.channel + 1]

    def _sample_step(self, params, state, ext, key, with_costs: bool):
        t = state["t"]
        sig = {(k, None): v for k, v in ext.items()}
        delayed = {e.name: state["delays"][e.name][t % e.delay] for e in self._delayed}
        new_areas, costs = {}, {}
        for generation in self.graph.schedule:
            for name in generation:
                node = self.areas[name]
                inputs = {}
                for e in self._into[name]:
                    v = delayed[e.name] if e.delay else self._value(sig, e.src)
                    if e.weight != 1.0:
                        v = v * e.weight
                    if node.spec.credit == "local":
                        v = jax.lax.stop_gradient(v)
                    if e.projection == "linear":
                        v = v @ params["projections"][e.name]["w"]
                    if e.gate is not None:  # after the projection: a gate has dim 1 or the port's dim
                        g = self._value(sig, e.gate)
                        v = v * (jax.lax.stop_gradient(g) if node.spec.credit == "local" else g)
                    inputs[e.dst.port] = inputs[e.dst.port] + v if e.dst.port in inputs else v
                akey = jax.random.fold_in(key, node.index)
                targets = {k: ext[k] for k in self._targets[name]}
                terms = {c.name: fn for c, fn in node.costs} if with_costs else {}
                s, out, c = self._area_step(node, params["areas"][name], state["areas"][name], inputs, akey,
                                            terms, targets)
                new_areas[name] = s
                for port, v in out.items():
                    sig[(name, port)] = v
                for term, v in c.items():
                    costs[(name, term)] = v
        delays = {e.name: state["delays"][e.name].at[t % e.delay].set(self._value(sig, e.src)) for e in self._delayed}
        return {"areas": new_areas, "delays": delays, "t": t + 1}, sig, costs

    @staticmethod
    def _area_step(node, params, state, inputs, key, terms, targets):
        area = node.area
        if node.replicas == 1:
            s, out, c = area.step_costs(params, state, inputs, key, terms, targets)
            return s, out, {k: reduce_cost(v) for k, v in c.items()}
        keys = jax.vmap(lambda r: jax.random.fold_in(key, r))(jnp.arange(node.replicas))
        s, out, c = jax.vmap(lambda p, st, k: area.step_costs(p, st, inputs, k, terms, targets))(params, state, keys)
        out = {k: v.reshape(-1) for k, v in out.items()}
        c = {k: jax.vmap(reduce_cost)(v) for k, v in c.items()}
        return s, out, {k: (jnp.sum(num), den[0]) for k, (num, den) in c.items()}

    # ------------------------------------------------------------------ batched step and scan
    def _batched_step(self, params, state, ext, key, with_costs):
        B = next(iter(jax.tree.leaves(state["t"]))).shape[0]
        keys = jax.vmap(lambda b: jax.random.fold_in(key, b))(jnp.arange(B))
        return jax.vmap(lambda s, x, k: self._sample_step(params, s, x, k, with_costs))(state, ext, keys)

    def _scan(self, params, state, inputs, key, keep, with_costs, edges=False):
        def body(carry, x):
            st, i = carry
            delayed = {e.name: jax.vmap(lambda buf, t, d=e.delay: buf[t % d])(st["delays"][e.name], st["t"])
                       for e in self._delayed} if edges else None
            st, sig, costs = self._batched_step(params, st, x, jax.random.fold_in(key, i), with_costs)
            trace = {k: self._value(sig, r) for k, r in keep}
            if edges:
                trace.update(self._edge_activity(sig, delayed))
            if with_costs:  # finite-value flags of every area output (cheap: one reduction per port)
                costs = {**costs, **{("finite", f"{n}.{p}"): jnp.all(jnp.isfinite(v))
                                     for (n, p), v in sig.items() if p is not None}}
            return (st, i + 1), (trace, costs)

        (state, _), (trace, costs) = jax.lax.scan(body, (state, jnp.zeros((), jnp.int32)), inputs)
        return state, trace, costs

    def _edge_activity(self, sig, delayed) -> dict:
        """Per edge: mean |signal| sent (after weight, times the mean gate) and gate openness."""
        out = {}
        for e in self.graph.edges:
            v = delayed[e.name] if e.delay else self._value(sig, e.src)
            v = v * e.weight
            g = jnp.ones(v.shape[:-1]) if e.gate is None else jnp.mean(self._value(sig, e.gate), axis=-1)
            # mean |signal| sent, times the mean gate openness (a per-channel gate acts after a projection)
            out[f"edge:{e.name}"] = jnp.mean(jnp.abs(v), axis=-1) * jnp.abs(g)
            out[f"gate:{e.name}"] = g
        return out

    def _flow_impl(self, params, state, inputs, key):
        keep = tuple((f"{n}.{p}", Ref(n, p)) for n in self.areas for p in self.areas[n].area.outputs)
        keep += tuple((f"{k}", Ref(k)) for k in self.inputs)
        _, trace, _ = self._scan(params, state, inputs, key, keep, False, edges=True)
        return trace

    def flow(self, params, state, inputs, key) -> dict:
        """Run and record everything needed to show information flow.

        Returns:
            ``{"area.port": [T, B, d], input: [T, B, d], "edge:e<i>": [T, B] mean |signal| on edge i,
            "gate:e<i>": [T, B] mean gate value on edge i (1 when ungated)}``.
        """
        if not hasattr(self, "_flow"):
            self._flow = jax.jit(self._flow_impl)
        return self._flow(params, state, self.check_inputs(inputs), key)

    def _run_impl(self, params, state, inputs, key):
        state, trace, _ = self._scan(params, state, inputs, key, self.probe_refs, False)
        return state, trace

    def _step_impl(self, params, state, inputs, key):
        state, sig, _ = self._batched_step(params, state, inputs, key, False)
        return state, {f"{n}.{p}": v for (n, p), v in sig.items() if p is not None}

    # ------------------------------------------------------------------ public API
    def check_inputs(self, inputs: Mapping[str, Any], time_axis: bool = True) -> dict:
        """Validate ``{name: [T, B, dim]}`` (or ``[B, dim]``) against the wiring's inputs."""
        if not isinstance(inputs, Mapping):
            raise ShapeError(f"inputs must be a dict {{input name: array}}, found {type(inputs).__name__}",
                             hint="names: " + ", ".join(self.inputs))
        missing = [k for k in self.inputs if k not in inputs]
        extra = [k for k in inputs if k not in self.inputs]
        if missing or extra:
            raise ShapeError(f"inputs do not match the wiring '{self.spec.name}': "
                             + (f"missing {missing}" if missing else "") + (f" unknown {extra}" if extra else ""),
                             hint="declared inputs: " + ", ".join(f"{k}[{d}]" for k, d in self.inputs.items()))
        out, lead = {}, None
        for k, d in self.inputs.items():
            a = jnp.asarray(inputs[k], jnp.float32)
            nd = 3 if time_axis else 2
            if a.ndim != nd or a.shape[-1] != d:
                want = "[T, B, %d]" % d if time_axis else "[B, %d]" % d
                raise ShapeError(f"input '{k}' must have shape {want}, found {tuple(a.shape)}")
            if lead is not None and a.shape[:-1] != lead:
                raise ShapeError(f"input '{k}' has leading shape {a.shape[:-1]} but others have {lead}",
                                 hint="every input must share T and B")
            lead = a.shape[:-1]
            out[k] = a
        return out

    def step(self, params: dict, state: dict, inputs: Mapping[str, Any], key: jax.Array) -> tuple[dict, dict]:
        """One time step for the whole batch.

        Args:
            inputs: ``{input name: [B, dim]}``.
            key: this step's key (``run`` uses ``fold_in(key, i)`` for step i).

        Returns:
            ``(state, {"area.port": [B, dim]})`` with every area output.
        """
        return self._step(params, state, self.check_inputs(inputs, time_axis=False), key)

    def run(self, params: dict, state: dict, inputs: Mapping[str, Any], key: jax.Array) -> tuple[dict, dict]:
        """Run the brain over ``[T, B, dim]`` inputs as one ``lax.scan``.

        Returns:
            ``(state, trace)`` where ``trace`` maps each probe (``"area.port"``) and each
            declared output name to ``[T, B, dim]``.
        """
        return self._run(params, state, self.check_inputs(inputs), key)

    # ------------------------------------------------------------------ training
    def _trainables(self, params) -> tuple[dict, dict]:
        """Split params into ``{area: {"area": learned, "projections": {...}}}`` and the rest."""
        train, fixed = {}, {}
        for name in self.areas:
            learned, rest = split_learned(params["areas"][name])
            proj = {e.name: params["projections"][e.name] for e in self._into[name] if e.projection}
            train[name] = {"area": learned, "projections": proj}
            fixed[name] = rest
        return train, fixed

    @staticmethod
    def _merge(train, fixed) -> dict:
        params = {"areas": {}, "projections": {}}
        for name, tp in train.items():
            params["areas"][name] = merge_learned(tp["area"], fixed[name])
            params["projections"].update(tp["projections"])
        return params

    def init_opt_state(self, params: dict) -> dict:
        """Optimiser state of every area (over its learnable params and incoming projections)."""
        train, _ = self._trainables(params)
        return {n: self.optimizers[n].init(train[n]) for n in self.areas}

    def _loss(self, train, fixed, state, batch, key, step, keep):
        params = self._merge(train, fixed)
        state, trace, costs = self._scan(params, state, batch, key, keep, True)
        total = jnp.zeros((), jnp.float32)
        metrics = {}
        for name, node in self.areas.items():
            for spec, _ in node.costs:
                num, den = costs[(name, spec.name)]
                value = jnp.sum(num) / jnp.maximum(jnp.sum(den), 1e-8)
                metrics[f"{name}/{spec.name}"] = value
                total = total + spec.weight_at(step) * value
        metrics["loss"] = total
        for key_, ok in costs.items():
            if key_[0] == "finite":
                metrics[f"finite:{key_[1]}"] = jnp.all(ok)
        return total, (state, metrics, trace)

    def loss(self, params, state, batch, key, step=0):
        """The weighted sum of every area's cost terms over an episode.

        Returns:
            ``(total, (final_state, metrics, trace))``; ``metrics`` has ``"area/term"`` values, ``"loss"``
            and ``"finite:area.port"`` booleans (False when that output held a NaN/Inf in the episode).
        """
        train, fixed = self._trainables(params)
        return self._loss(train, fixed, state, self.check_inputs(batch), key, step, self.probe_refs)

    def _train_step_impl(self, params, opt_state, state, batch, key, step):
        self.trace_count += 1  # Python side effect: runs only when (re)traced
        train, fixed = self._trainables(params)
        grad_areas = [n for n in self.areas if self.rules[n].needs_grad]
        keep = self.probe_refs + tuple((f"{n}.{p}", Ref(n, p)) for n in self.areas if self.rules[n].needs_trace
                                       for p in self.areas[n].area.outputs)

        def loss_of(tr_grad):
            return self._loss({**train, **tr_grad}, fixed, state, batch, key, step, keep)

        tr_grad = {n: train[n] for n in grad_areas}
        if grad_areas:
            (_, (new_state, metrics, trace)), grads = jax.value_and_grad(loss_of, has_aux=True)(tr_grad)
        else:
            _, (new_state, metrics, trace) = loss_of(tr_grad)
            grads = {}
        new_train, new_opt = {}, {}
        for name, node in self.areas.items():
            rule = self.rules[name]

            def cost_fn(p, name=name):
                return self._loss({**train, name: p}, fixed, state, batch, key, step, ())[0]

            ctx = RuleContext(node.area, train[name], grads.get(name), cost_fn,
                              {k: v for k, v in trace.items() if k.startswith(name + ".")},
                              jax.random.fold_in(jax.random.fold_in(key, 7919), node.index), dict(node.spec.rule[1]))
            pseudo_grad = rule.update(ctx)
            upd, new_opt[name] = self.optimizers[name].update(pseudo_grad, opt_state[name], train[name])
            new_train[name] = optax.apply_updates(train[name], upd)
        return self._merge(new_train, fixed), new_opt, new_state, metrics

    def train_step(self, params, opt_state, state, batch, key, step):
        """ONE compiled update of every area: scan the episode, every cost, every rule, every optimiser.

        Args:
            params, opt_state: from :meth:`init` / :meth:`init_opt_state`.
            state: the brain state at the episode start (``init_state(B)`` for a fresh episode).
            batch: ``{input name: [T, B, dim]}``.
            key: this step's key.
            step: the training step (drives cost-weight schedules).

        Returns:
            ``(params, opt_state, state, metrics)``.
        """
        return self._train_step(params, opt_state, state, self.check_inputs(batch), key,
                                jnp.asarray(step, jnp.int32))

    def _eval_impl(self, params, state, batch, key, step):
        train, fixed = self._trainables(params)
        _, (state, metrics, trace) = self._loss(train, fixed, state, batch, key, step, self.probe_refs)
        return state, metrics, trace

    def evaluate(self, params, state, batch, key, step=0):
        """Run an episode without learning: ``(state, metrics, trace)`` (compiled once)."""
        return self._eval(params, state, self.check_inputs(batch), key, jnp.asarray(step, jnp.int32))
