"""The brain facade: ``load`` a wiring, then ``init``, ``run``, ``step``, ``train_step``, ``evaluate``.

A :class:`Brain` holds a checked graph (:mod:`brainsim.graph`), its frozen
:class:`~brainsim.plan.StepPlan`, each area's rule and optimiser, and the jitted
pure functions of :mod:`brainsim.step` and :mod:`brainsim.learn`. Shapes are
documented in :mod:`brainsim.plan` (``state["t"]`` is one scalar clock for the
batch); step semantics and key streams in :mod:`brainsim.step`.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any, Mapping, Optional

import jax
import jax.numpy as jnp
import numpy as np

from .errors import ShapeError
from .graph import BrainGraph, build_graph
from .learn import diagnose, episode_loss, init_opt_states, make_train_step, trainables
from .optim import make_optimizer
from .plan import INIT_PROJECTIONS, build_plan
from .rules import make_rule
from .step import batched_step, scan, step_key
from .wiring import Ref, WiringSpec, load_wiring, parse_wiring


def load(path: "str | Path", overrides: Optional[Mapping[str, Any]] = None) -> "Brain":
    """Read, check and build a brain from a wiring file or a canonical wiring name (``"pbwm"``).

    Args:
        path: the YAML wiring file, or the name of a canonical wiring.
        overrides: ``{"areas.lstm.hidden": 64, …}`` applied before validation.
    """
    return Brain(build_graph(load_wiring(path, overrides)))


def from_yaml(text: str, file: str = "<string>") -> "Brain":
    """Build a brain from wiring text (handy in tests and notebooks)."""
    return Brain(build_graph(parse_wiring(text, file)))


def check_finite_inputs(inputs: Mapping[str, Any]) -> None:
    """Raise :class:`NonFiniteError` naming the first input holding NaN/Inf and where (``[t, b, i]``)."""
    from .errors import NonFiniteError

    for k, v in inputs.items():
        a = np.asarray(v)
        if a.dtype.kind == "f" and not np.isfinite(a).all():
            idx = tuple(int(i) for i in np.argwhere(~np.isfinite(a))[0])
            raise NonFiniteError(f"input '{k}' holds {a[idx]} at index {list(idx)} ({int((~np.isfinite(a)).sum())} "
                                 "non-finite values)", k, hint="fix the data (the brain was not run)")


def _compare_tree(arg: str, got: Any, expected: Any, areas: Mapping, hint: Optional[str] = None) -> None:
    """ShapeError naming ``arg``, the path (and area) and both shapes where ``got`` differs from ``expected``."""
    if not isinstance(got, Mapping):
        raise ShapeError(f"{arg} must be a dict like the brain's, found {type(got).__name__}", arg, hint=hint)
    try:
        got_flat = dict((jax.tree_util.keystr(p), v) for p, v in jax.tree_util.tree_flatten_with_path(got)[0])
    except Exception:  # noqa: BLE001 — an unflattenable object
        raise ShapeError(f"{arg} is not a pytree of arrays", arg, hint=hint) from None
    exp_flat = dict((jax.tree_util.keystr(p), v) for p, v in jax.tree_util.tree_flatten_with_path(expected)[0])

    def area_of(path: str) -> str:
        for name in areas:
            if f"['{name}']" in path:
                return f" (area '{name}')"
        return ""

    missing = [p for p in exp_flat if p not in got_flat]
    extra = [p for p in got_flat if p not in exp_flat]
    if missing or extra:
        what = (f"missing {missing[0]}{area_of(missing[0])}" if missing else "") + \
               ("; " if missing and extra else "") + (f"unexpected {extra[0]}{area_of(extra[0])}" if extra else "")
        more = len(missing) + len(extra) - 1
        raise ShapeError(f"{arg} does not fit this brain: {what}" + (f" (and {more} more)" if more > 0 else ""),
                         arg, hint=hint or f"use the {arg} made by this brain's init")
    for p, e in exp_flat.items():
        g = got_flat[p]
        gs, gd = tuple(getattr(g, "shape", ())), getattr(g, "dtype", type(g).__name__)
        if gs != tuple(e.shape) or str(gd) != str(e.dtype):
            raise ShapeError(f"{arg}{p}{area_of(p)} has {gd}{list(gs)}, this brain expects {e.dtype}{list(e.shape)}",
                             arg, hint=hint or f"use the {arg} made by this brain's init (another wiring or size?)")


def _pure(state) -> dict:
    """An area's ``nnx.State`` as a plain nested dict of arrays (fast to flatten at the jit boundary)."""
    return state.to_pure_dict() if hasattr(state, "to_pure_dict") else dict(state)


def _shared_optimizers(chains: Mapping[str, tuple]) -> dict:
    """``{area: optax transform}``; areas whose optimiser chains are identical share one transform."""
    built: dict = {}
    for chain in chains.values():
        if chain not in built:
            built[chain] = make_optimizer(chain)
    return {n: built[chain] for n, chain in chains.items()}


class Brain:
    """A compiled modular brain. Build it with :func:`load`.

    Attributes:
        graph: the checked :class:`~brainsim.graph.BrainGraph` (``graph.graph`` is the networkx graph).
        plan: the frozen :class:`~brainsim.plan.StepPlan` the compiled functions close over.
        spec: the wiring spec.
        trace_count: how many times a training step has been traced (compiled).
    """

    check_finite_inputs: bool = False  # opt-in: check every input batch for NaN/Inf (reads the values)

    def __init__(self, graph: BrainGraph):
        self.graph = graph
        self.spec: WiringSpec = graph.spec
        self.areas = graph.areas
        self.inputs = dict(graph.spec.inputs)
        self.plan = build_plan(graph)
        self.rules = {n: make_rule(*node.spec.rule) for n, node in self.areas.items()}
        self.optimizers = _shared_optimizers({n: node.spec.optimizer for n, node in self.areas.items()})
        self.probe_refs = self.plan.probes
        self._rule_keep = self.probe_refs + tuple(
            (f"{n}.{p}", Ref(n, p)) for n in self.areas if self.rules[n].needs_trace for p in self.areas[n].area.outputs)
        self.trace_count = 0
        self._input_checks: dict = {}
        self._resource_checks: dict = {}  # batch -> resources.Estimate (checked once per batch size)
        self._run = jax.jit(partial(self._run_impl, self.plan))
        self._step = jax.jit(partial(self._step_impl, self.plan))
        self._train_steps: dict = {}
        self._eval = jax.jit(partial(self._eval_impl, self.plan))
        self._diagnose = jax.jit(partial(diagnose, self.plan))
        self._init_params = jax.jit(self._init_params_impl)
        self._fresh_states: dict = {}

    # ------------------------------------------------------------------ init
    def init(self, key: jax.Array, batch: int = 1) -> tuple[dict, dict]:
        """Create ``(params, state)`` for a batch of ``batch`` samples (params: plain nested dicts of arrays).

        Raises:
            WiringError: the brain would not fit (:func:`brainsim.resources.check`: shapes only,
                checked before anything is allocated; limit ``BRAINSIM_MEMORY_LIMIT``).
            ShapeError: ``batch`` is not a positive integer.
        """
        self.check_resources(batch)
        return self._init_params(key), self.init_state(batch)

    def check_resources(self, batch: int = 1):
        """Refuse (WiringError) a brain whose params, state and delay lines at ``batch`` do not fit
        (from shapes alone); returns the :class:`~brainsim.resources.Estimate` (cached per batch)."""
        from . import resources

        if isinstance(batch, bool) or not isinstance(batch, (int, np.integer)) or batch < 1:
            raise ShapeError(f"batch must be a positive integer, found {batch!r}", "batch",
                             hint="e.g. brain.init(key, batch=8)")
        if int(batch) not in self._resource_checks:
            self._resource_checks[int(batch)] = resources.check(self.graph, int(batch))
        return self._resource_checks[int(batch)]

    def _init_params_impl(self, key: jax.Array) -> dict:
        params = {"areas": {}, "projections": {}}
        for name, node in self.areas.items():
            k = jax.random.fold_in(key, node.index)
            if node.replicas > 1:
                keys = jax.random.split(k, node.replicas)
                params["areas"][name] = jax.vmap(lambda kk, a=node.area: _pure(a.init(kk)[0]))(keys)
            else:
                params["areas"][name] = _pure(node.area.init(k)[0])
        for e in self.graph.edges:
            if e.projection == "linear":
                k = jax.random.fold_in(jax.random.fold_in(key, INIT_PROJECTIONS), e.index)
                w = jax.random.normal(k, (e.src_dim, e.dst_dim)) / np.sqrt(e.src_dim)
                params["projections"][e.name] = {"w": w}
        return params

    def init_state(self, batch: int = 1) -> dict:
        """A fresh state (every area's initial state, empty delay lines, t = 0) for ``batch`` samples.

        Built once per batch size and reused (JAX arrays are immutable), so starting every training
        episode from a fresh state costs nothing on the hot path. A state built under a JAX
        transform (``jax.eval_shape``, ``jit``) holds tracers: it is returned but never cached.
        """
        state = self._fresh_states.get(batch)
        if state is None:
            state = self._build_state(batch)
            if not any(isinstance(x, jax.core.Tracer) for x in jax.tree.leaves(state)):
                self._fresh_states[batch] = state
        return state

    def _build_state(self, batch: int) -> dict:
        areas = {}
        for name, node in self.areas.items():
            s = node.area.initial_state()
            if node.replicas > 1:
                s = jax.tree.map(lambda x, K=node.replicas: jnp.broadcast_to(x, (K, *x.shape)), s)
            areas[name] = s
        one = {"areas": areas,
               "delays": {e.name: jnp.zeros((e.delay, e.src_dim), jnp.float32) for e in self.plan.delayed}}
        state = jax.tree.map(lambda x: jnp.broadcast_to(x, (batch, *x.shape)), one)
        state["t"] = jnp.zeros((), jnp.int32)
        return state

    def param_counts(self, params: dict) -> dict[str, int]:
        """Learnable scalars per area (its projections included): the sizes of what its optimiser sees."""
        train, _ = trainables(self.plan, params)
        return {name: sum(int(x.size) for x in jax.tree.leaves(train[name])) for name in self.areas}

    # ------------------------------------------------------------------ compiled pure functions
    @staticmethod
    def _run_impl(plan, params, state, inputs, key):
        state, trace, _, _ = scan(plan, params, state, inputs, key)
        return state, trace

    @staticmethod
    def _step_impl(plan, params, state, inputs, key):
        state, sig, _, _ = batched_step(plan, params, state, inputs, key)
        return state, {f"{n}.{p}": v for (n, p), v in sig.items() if p is not None}

    @staticmethod
    def _flow_impl(plan, params, state, inputs, key):
        keep = plan.output_keys() + tuple((k, Ref(k)) for k, _ in plan.inputs)
        _, trace, _, _ = scan(plan, params, state, inputs, key, keep, edges=True)
        return trace

    @staticmethod
    def _eval_impl(plan, params, state, batch, key, step):
        train, fixed = trainables(plan, params)
        _, (state, metrics, trace, _) = episode_loss(plan, train, fixed, state, batch, key, step, plan.probes)
        return state, metrics, trace

    def pure_train_step(self, plan=None, optimizers: Optional[Mapping] = None, **kw):
        """The un-jitted pure train step (:func:`brainsim.learn.make_train_step`) of this brain, optionally
        with another ``plan`` (e.g. ``dataclasses.replace(brain.plan, unroll=4)``: same structure, other
        scan options) or other ``optimizers``; ``kw``: ``check_finite``, ``return_state``. Used by
        :mod:`brainsim.population` and :mod:`brainsim.sharding`."""
        return make_train_step(self.plan if plan is None else plan, self.rules,
                               self.optimizers if optimizers is None else optimizers, keep=self._rule_keep, **kw)

    def _compiled_train_step(self, check_finite: bool, return_state: bool):
        fn = self._train_steps.get((check_finite, return_state))
        if fn is None:
            pure = make_train_step(self.plan, self.rules, self.optimizers, keep=self._rule_keep,
                                   check_finite=check_finite, return_state=return_state)

            def counted(params, opt_state, state, batch, key, step):
                self.trace_count += 1  # Python side effect: runs only when (re)traced
                return pure(params, opt_state, state, batch, key, step) + (step + 1,)

            fn = self._train_steps[(check_finite, return_state)] = jax.jit(counted)
        return fn

    # ------------------------------------------------------------------ public API
    def check_inputs(self, inputs: Mapping[str, Any], time_axis: bool = True) -> dict:
        """Validate ``{name: [T, B, dim]}`` (or ``[B, dim]``) against the wiring's inputs.

        Checks are cached by (names, shapes, dtypes): a second batch of the same shape is only
        converted, not re-validated.  With ``brain.check_finite_inputs = True`` (off by default: it
        reads every value) a NaN/Inf in an input raises :class:`NonFiniteError` naming the input and
        the first bad ``[t, b, i]``.
        """
        if not isinstance(inputs, Mapping):
            raise ShapeError(f"inputs must be a dict {{input name: array}}, found {type(inputs).__name__}",
                             hint="names: " + ", ".join(self.inputs))
        if self.check_finite_inputs:
            check_finite_inputs(inputs)
        try:
            sig = (time_axis,) + tuple((k, type(v), v.shape, v.dtype) for k, v in inputs.items())
        except AttributeError:
            sig = None
        as_is = self._input_checks.get(sig) if sig is not None else None
        if as_is is not None:  # seen before: only convert (nothing to do for float32 device arrays)
            return inputs if as_is else {k: jnp.asarray(inputs[k], jnp.float32) for k in self.inputs}
        out = self._validate_inputs(inputs, time_axis)
        if sig is not None:
            self._input_checks[sig] = all(isinstance(v, jax.Array) and v.dtype == jnp.float32
                                          for v in inputs.values())
        return out

    def _validate_inputs(self, inputs: Mapping[str, Any], time_axis: bool) -> dict:
        missing = [k for k in self.inputs if k not in inputs]
        extra = [k for k in inputs if k not in self.inputs]
        if missing or extra:
            raise ShapeError(f"inputs do not match the wiring '{self.spec.name}': "
                             + (f"missing {missing}" if missing else "") + (f" unknown {extra}" if extra else ""),
                             hint="declared inputs: " + ", ".join(f"{k}[{d}]" for k, d in self.inputs.items()))
        out, lead = {}, None
        for k, d in self.inputs.items():
            raw = inputs[k]
            if np.iscomplexobj(raw) or getattr(np.asarray(raw) if not hasattr(raw, "dtype") else raw,
                                               "dtype", np.float32).kind not in "biuf":
                kind = getattr(raw, "dtype", type(raw).__name__)
                raise ShapeError(f"input '{k}' must hold real numbers, found {kind}", k,
                                 hint="inputs are converted to float32: pass a float, int or bool array")
            a = jnp.asarray(raw, jnp.float32)
            nd = 3 if time_axis else 2
            if a.ndim != nd or a.shape[-1] != d:
                want = "[T, B, %d]" % d if time_axis else "[B, %d]" % d
                raise ShapeError(f"input '{k}' must have shape {want}, found {tuple(a.shape)}")
            if 0 in a.shape[:-1]:
                axes = "T (time) and B (batch)" if time_axis else "B (batch)"
                raise ShapeError(f"input '{k}' has shape {tuple(a.shape)}: {axes} must be >= 1", k,
                                 hint="an episode needs at least one time step and one sample")
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
            key: this step's key (``run`` uses :func:`brainsim.step.step_key` ``(key, i)`` for step i).

        Returns:
            ``(state, {"area.port": [B, dim]})`` with every area output.
        """
        inputs = self.check_inputs(inputs, time_axis=False)
        return self._guarded(self._step, params, state, inputs, key, time_axis=False)

    def step_key(self, key: jax.Array, i: int) -> jax.Array:
        """The key :meth:`run` gives step ``i`` of an episode run with ``key``."""
        return step_key(key, i)

    def run(self, params: dict, state: dict, inputs: Mapping[str, Any], key: jax.Array) -> tuple[dict, dict]:
        """Run the brain over ``[T, B, dim]`` inputs as one ``lax.scan``.

        Returns:
            ``(state, trace)`` where ``trace`` maps each probe (``"area.port"``) and each
            declared output name to ``[T, B, dim]``.
        """
        return self._guarded(self._run, params, state, self.check_inputs(inputs), key)

    def flow(self, params, state, inputs, key) -> dict:
        """Run and record everything needed to show information flow.

        Returns:
            ``{"area.port": [T, B, d], input: [T, B, d], "edge:e<i>": [T, B] mean |signal| on edge i,
            "gate:e<i>": [T, B] mean gate value on edge i (1 when ungated)}``.
        """
        if not hasattr(self, "_flow"):
            self._flow = jax.jit(partial(self._flow_impl, self.plan))
        return self._guarded(self._flow, params, state, self.check_inputs(inputs), key)

    def init_opt_state(self, params: dict) -> dict:
        """Optimiser state of every area (over its learnable params and incoming projections); a stateful
        rule's state rides along as ``{"rule": rule state, "opt": optimiser state}``."""
        train, _ = trainables(self.plan, params)
        return init_opt_states(self.plan, self.rules, self.optimizers, train)

    def loss(self, params, state, batch, key, step=0):
        """The weighted sum of every area's cost terms over an episode.

        Returns:
            ``(total, (final_state, metrics, trace))``; ``metrics`` has ``"area/term"`` values and ``"loss"``.
        """
        batch = self.check_inputs(batch)

        def loss(params, state, batch, key, step):
            train, fixed = trainables(self.plan, params)
            total, (state, metrics, trace, _) = episode_loss(self.plan, train, fixed, state, batch, key, step,
                                                             self.probe_refs)
            return total, (state, metrics, trace)

        return self._guarded(loss, params, state, batch, key, step)

    def train_step(self, params, opt_state, state, batch, key, step, *, check_finite: bool = True,
                   return_state: bool = False):
        """ONE compiled update of every area: scan the episode, every cost, every rule, every optimiser.

        Args:
            params, opt_state: from :meth:`init` / :meth:`init_opt_state`.
            state: the brain state at the episode start (``init_state(B)`` for a fresh episode).
            batch: ``{input name: [T, B, dim]}``.
            key: this step's key.
            step: the training step (drives cost-weight schedules): an int or an int32 device scalar.
            check_finite: add ``metrics["finite"]`` (one boolean; :meth:`diagnose` names the culprit).
                Off, the step computes nothing for it.
            return_state: return the episode's final state (else ``None``).

        Returns:
            ``(params, opt_state, state or None, metrics)``.
        """
        if not isinstance(step, jax.Array):
            step = np.int32(step)  # a numpy scalar goes to the device with the call (jnp.asarray costs ~0.1 ms)
        fn = self._compiled_train_step(check_finite, return_state)
        return self._guarded(lambda p, s, b, k, t: fn(p, opt_state, s, b, k, t)[:4], params, state,
                             self.check_inputs(batch), key, step, opt_state=opt_state)

    def train_step_fn(self, *, check_finite: bool = True, return_state: bool = False):
        """The compiled train step for a training loop that keeps its step counter on the device.

        Returns:
            ``fn(params, opt_state, state, batch, key, step) -> (params, opt_state, state or None, metrics,
            step + 1)`` with ``step`` an int32 device scalar and ``batch`` already checked
            (:meth:`check_inputs`); the same compilation :meth:`train_step` uses.
        """
        return self._compiled_train_step(check_finite, return_state)

    def diagnose(self, params, state, batch, key, step=0) -> dict:
        """Re-run a batch in the NaN/Inf diagnostic mode (see :func:`brainsim.learn.diagnose`)."""
        return self._guarded(self._diagnose, params, state, self.check_inputs(batch), key, np.int32(step))

    def evaluate(self, params, state, batch, key, step=0):
        """Run an episode without learning: ``(state, metrics, trace)`` (compiled once)."""
        return self._guarded(self._eval, params, state, self.check_inputs(batch), key, np.int32(step))

    # ------------------------------------------------------------------ errors that teach
    def _guarded(self, fn, params, state, inputs, key, *rest, time_axis: bool = True, opt_state=None):
        """Call a compiled function; when JAX rejects the arguments, explain which one is wrong
        (:class:`ShapeError` naming the argument, the area and both shapes) instead of a raw JAX error."""
        try:
            return fn(params, state, inputs, key, *rest)
        except (TypeError, ValueError, KeyError, IndexError) as e:
            self.explain_arguments(params, state, inputs, key, time_axis=time_axis, opt_state=opt_state)
            raise e

    def explain_arguments(self, params, state, inputs, key, *, time_axis: bool = True, opt_state=None) -> None:
        """Raise :class:`ShapeError` for the first argument that does not fit this brain: ``params``
        (per area, e.g. an area's params from another brain), ``state`` (structure, batch size),
        ``key`` (a scalar typed PRNG key), ``opt_state``; return quietly when all fit."""
        expected = jax.eval_shape(self._init_params_impl, jax.random.key(0))
        _compare_tree("params", params, expected, self.areas)
        B = next(iter(inputs.values())).shape[1 if time_axis else 0] if inputs else 1
        exp_state = jax.eval_shape(lambda: self._build_state(B))
        _compare_tree("state", state, exp_state, self.areas,
                      hint=f"use brain.init_state({B}) (the inputs' batch size is {B})")
        if not isinstance(key, jax.Array) or not jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key) \
                or key.shape != ():
            found = f"{type(key).__name__}" + (f" {key.dtype}{list(key.shape)}" if hasattr(key, "shape") else "")
            raise ShapeError(f"key must be one typed PRNG key (shape ()), found {found}", "key",
                             hint="use jax.random.key(seed) (not jax.random.PRNGKey) and one key per call; "
                                  "split or fold_in for more")
        if opt_state is not None:
            exp_opt = jax.eval_shape(self.init_opt_state, expected)
            _compare_tree("opt_state", opt_state, exp_opt, self.areas,
                          hint="use brain.init_opt_state(params) of this brain")
