"""Populations: many brains that share a wiring shape, trained in ONE compiled program.

A population of ``P`` members (seeds, and configurations that differ only in *traced* values)
stacks every member's parameters and optimiser states along a leading axis ``[P, ...]`` and
``vmap`` s the brain's one ``train_step`` over it, so ``P`` brains cost one compilation and one
dispatch per step instead of ``P``.

Traced values (may differ between members of one population):

* **cost weights**: ``areas.<a>.costs.<term>`` / ``.weight`` (the weight that multiplies the
  term's schedule);
* **learning rates**: a numeric ``learning_rate`` in an area's optimiser chain (its own or the
  wiring's default ``optimizer``).

Anything else (sizes, types, edges, gains, rules, schedules, credit) changes the compiled program:
members that differ there cannot share one and :func:`group_members` puts them in separate
populations (separate programs).

Semantics: member ``i`` of a population trained with :meth:`Population.fit` ends with exactly the
parameters (to float rounding of the batched kernels, ~1e-7) of :func:`brainsim.train.fit` run on
member ``i``'s brain with key ``keys[i]`` and member ``i``'s batches: step ``s`` uses
``fold_in(keys[i], s)``, every episode starts from a fresh state, and members never mix (a NaN in one
member cannot reach another).

Shapes: ``params``/``opt_state`` ``[P, ...]`` (every leaf); ``keys`` ``[P]`` typed keys;
a batch is ``{input: [P, T, B, dim]}`` (one per member) or ``{input: [T, B, dim]}`` (shared by all);
metrics ``{name: [P]}``.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from .brain import Brain, load
from .errors import ScenarioError
from .optim import make_optimizer
from .wiring import WiringSpec

__all__ = ["Population", "PopulationResult", "parse_seeds", "shape_signature", "traced_values",
           "group_members", "stack", "unstack", "member"]

_LR = "learning_rate"


# --------------------------------------------------------------------------- seeds

def parse_seeds(text: "str | int | Sequence[int]") -> list[int]:
    """``"0-15"`` -> ``[0, ..., 15]``; ``"0,3,7-9"`` -> ``[0, 3, 7, 8, 9]``; an int or a list passes through.

    Raises:
        ScenarioError: a malformed range (named ``--seeds``).
    """
    if isinstance(text, int):
        return [text]
    if not isinstance(text, str):
        return [int(s) for s in text]
    out: list[int] = []
    hint = "write seeds as 0-15, or 0,3,7-9 (ranges inclusive, integers in [0, 2**32))"
    for part in text.replace(" ", "").split(","):
        try:
            if "-" in part[1:] and not part.startswith("-"):
                a, b = part.split("-", 1)
                lo, hi = int(a), int(b)
                if hi < lo:
                    raise ValueError
                out.extend(range(lo, hi + 1))
            else:
                out.append(int(part))
                if out[-1] < 0:
                    raise ValueError
        except ValueError:
            raise ScenarioError(f"expected seeds like 0-15 or 0,3,7-9, got {part!r}"
                                + (f" in {text!r}" if part != text else ""), "--seeds", hint=hint) from None
    if any(s >= 2 ** 32 for s in out):
        raise ScenarioError(f"expected seeds below 2**32, got {max(out)}", "--seeds", hint=hint)
    if len(set(out)) != len(out):
        raise ScenarioError(f"expected each seed once, got {text!r} (a seed named twice)", "--seeds", hint="each seed once")
    return out


# --------------------------------------------------------------------------- what is traced, what is shape

def _blank_chain(chain: tuple) -> tuple:
    """An optimiser chain with every numeric learning rate replaced by a marker."""
    out = []
    for name, kwargs in chain:
        kw = tuple((k, "<traced>") if k == _LR and _is_number(v) else (k, v) for k, v in (kwargs or ()))
        out.append((name, kw))
    return tuple(out)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def shape_signature(spec: WiringSpec) -> tuple:
    """What must be equal for two wirings to share one compiled program: the spec without cost
    weights, numeric learning rates, file locations, names and descriptions."""
    areas = tuple(dataclasses.replace(
        a, loc=None, costs=tuple(dataclasses.replace(c, weight=None) for c in a.costs),
        optimizer=_blank_chain(a.optimizer)) for a in spec.areas)
    conns = tuple(dataclasses.replace(e, loc=None) for e in spec.connections)
    return (spec.inputs, areas, conns, spec.probes, spec.outputs)


def traced_values(spec: WiringSpec) -> dict:
    """The traced values of a wiring: ``{"cost": {"area/term": weight}, "lr": {"area/i": rate}}``
    (``i``: the transform's index in the area's optimiser chain)."""
    cost, lr = {}, {}
    for a in spec.areas:
        for c in a.costs:
            cost[f"{a.name}/{c.name}"] = float(c.weight)
        for i, (_, kwargs) in enumerate(a.optimizer):
            for k, v in kwargs or ():
                if k == _LR and _is_number(v):
                    lr[f"{a.name}/{i}"] = float(v)
    return {"cost": cost, "lr": lr}


def group_members(specs: Sequence[WiringSpec]) -> list[list[int]]:
    """Indices of ``specs`` grouped by :func:`shape_signature` (first-seen order): each group can
    train as one population; different groups need separate programs."""
    sigs: list = []
    groups: list = []
    for i, s in enumerate(specs):
        sig = shape_signature(s)  # compared by equality (raw option values may be unhashable lists)
        for j, other in enumerate(sigs):
            if other == sig:
                groups[j].append(i)
                break
        else:
            sigs.append(sig)
            groups.append([i])
    return groups


# --------------------------------------------------------------------------- pytree helpers

def stack(trees: Sequence[Any]) -> Any:
    """Stack member pytrees along a new leading axis ``[P, ...]`` (typed keys too)."""
    return jax.tree.map(lambda *xs: jnp.stack(xs), *trees)


def member(tree: Any, i: int) -> Any:
    """Member ``i`` of a stacked pytree."""
    return jax.tree.map(lambda x: x[i], tree)


def unstack(tree: Any, size: int) -> list:
    """The ``size`` member pytrees of a stacked pytree."""
    return [member(tree, i) for i in range(size)]


# --------------------------------------------------------------------------- the population

@dataclass
class PopulationResult:
    """What :meth:`Population.fit` returns.

    Attributes:
        params, opt_state: stacked ``[P, ...]``.
        steps: completed steps.
        history: one list per member of ``{"step", "loss", "area/term", ...}`` records.
        failed: ``{member index: first step whose loss, a cost term or a gradient was NaN/Inf}``.
        compile_seconds: the first step's time minus a steady step's.
        wall_seconds: training time (earlier, killed sessions included, up to their checkpoint).
    """

    params: Any
    opt_state: Any
    steps: int
    history: list
    failed: dict = field(default_factory=dict)
    compile_seconds: float = 0.0
    wall_seconds: float = 0.0


class Population:
    """``P`` brains with one wiring shape, trained by one ``vmap`` ped, jitted ``train_step``.

    Args:
        brain: the members' shared structure (member 0's brain).
        size: ``P``.
        hyper: traced values per member, ``{"cost": {"area/term": [P]}, "lr": {"area/i": [P]}}``;
            only the entries that differ between members need to be given (the others keep
            ``brain``'s values as constants). See :meth:`from_brains`.

    Raises:
        ScenarioError: ``size < 1`` or a ``hyper`` entry that is not ``[P]`` or names no such term /
            optimiser transform.
    """

    def __init__(self, brain: Brain, size: int, hyper: Optional[Mapping[str, Mapping[str, Any]]] = None, *,
                 check_finite: bool = True):
        if int(size) < 1:
            raise ScenarioError(f"a population needs at least one member, found size {size}", "size")
        self.brain, self.size, self.check_finite = brain, int(size), check_finite
        self.hyper = self._check_hyper(hyper or {})
        self.trace_count = 0
        self._steps: dict = {}

    # ------------------------------------------------------------------ building
    @classmethod
    def from_brains(cls, brains: Sequence[Brain], **kw) -> "Population":
        """A population of these brains (one per member; seeds are given to :meth:`init`).

        Raises:
            ScenarioError: the brains differ in more than traced values (sizes, edges, rules, ...).
        """
        groups = group_members([b.spec for b in brains])
        if len(groups) != 1:
            raise ScenarioError(f"these {len(brains)} brains need {len(groups)} separate programs (groups "
                                f"{groups}): they differ in more than cost weights and learning rates",
                                "population", hint="split them with brainsim.population.group_members")
        values = [traced_values(b.spec) for b in brains]
        hyper: dict = {"cost": {}, "lr": {}}
        for kind in ("cost", "lr"):
            for k in values[0][kind]:
                col = [v[kind][k] for v in values]
                if len(set(col)) > 1:
                    hyper[kind][k] = np.asarray(col, np.float32)
        return cls(brains[0], len(brains), hyper, **kw)

    @classmethod
    def from_wiring(cls, wiring: str, overrides: Sequence[Optional[Mapping[str, Any]]], **kw) -> "Population":
        """A population of ``wiring`` under each member's ``--set`` overrides (one dict per member)."""
        return cls.from_brains([load(wiring, o) for o in overrides], **kw)

    def with_hyper(self, hyper: Mapping[str, Mapping[str, Any]]) -> "Population":
        """The same population with other traced values: it shares this one's compiled step (no
        recompilation while ``hyper`` names the same entries)."""
        other = Population.__new__(Population)
        other.__dict__.update(self.__dict__)
        other.hyper = other._check_hyper(hyper)
        return other

    def _check_hyper(self, hyper: Mapping) -> dict:
        known = traced_values(self.brain.spec)
        out = {"cost": {}, "lr": {}}
        for kind, entries in hyper.items():
            if kind not in out:
                raise ScenarioError(f"unknown traced value kind {kind!r}", "hyper", hint="kinds: cost, lr")
            for k, v in entries.items():
                if k not in known[kind]:
                    raise ScenarioError(f"hyper[{kind!r}] names {k!r}, which this wiring does not have",
                                        f"hyper.{kind}.{k}", hint="known: " + ", ".join(sorted(known[kind])))
                a = jnp.asarray(v, jnp.float32)
                if a.shape != (self.size,):
                    raise ScenarioError(f"hyper[{kind!r}][{k!r}] must have shape [{self.size}], found "
                                        f"{tuple(a.shape)}", f"hyper.{kind}.{k}")
                out[kind][k] = a
        return out

    # ------------------------------------------------------------------ init
    def init(self, keys: jax.Array) -> tuple[Any, Any]:
        """``(params [P, ...], opt_state [P, ...])``; member ``i`` initialised from ``keys[i]`` exactly
        as ``brain.init(keys[i])`` would."""
        keys = self._keys(keys)
        members = [self.brain.init(keys[i])[0] for i in range(self.size)]  # the brain's one compiled init
        return stack(members), stack([self.brain.init_opt_state(p) for p in members])

    def _keys(self, keys) -> jax.Array:
        if isinstance(keys, (list, tuple)) and keys and isinstance(keys[0], int):
            keys = jnp.stack([jax.random.key(s) for s in keys])
        if keys.shape != (self.size,):
            raise ScenarioError(f"a population of {self.size} needs {self.size} keys, found shape "
                                f"{tuple(keys.shape)}", "keys")
        return keys

    # ------------------------------------------------------------------ one member's pure step
    def _member_plan(self, cost: Mapping):
        plan = self.brain.plan
        if not cost:
            return plan
        areas = []
        for a in plan.areas:
            costs = tuple((dataclasses.replace(spec, weight=cost[f"{a.name}/{spec.name}"])
                           if f"{a.name}/{spec.name}" in cost else spec, fn) for spec, fn in a.costs)
            areas.append(dataclasses.replace(a, costs=costs))
        return dataclasses.replace(plan, areas=tuple(areas))

    def _member_optimizers(self, lr: Mapping) -> dict:
        opts = dict(self.brain.optimizers)
        for name in {k.rsplit("/", 1)[0] for k in lr}:
            chain = self.brain.areas[name].spec.optimizer
            new = []
            for i, (oname, kwargs) in enumerate(chain):
                if f"{name}/{i}" in lr:
                    kwargs = tuple((k, lr[f"{name}/{i}"] if k == _LR else v) for k, v in kwargs)
                new.append((oname, kwargs))
            opts[name] = make_optimizer(tuple(new))
        return opts

    def member_train_step(self, hyper: Mapping, **kw) -> Callable:
        """The pure train step of one member whose traced values are ``hyper`` (arrays or tracers)."""
        return self.brain.pure_train_step(self._member_plan(hyper.get("cost", {})),
                                          self._member_optimizers(hyper.get("lr", {})),
                                          check_finite=kw.get("check_finite", self.check_finite))

    def _compiled(self, shared_batch: bool) -> Callable:
        fn = self._steps.get(shared_batch)
        if fn is None:
            def one(params, opt_state, state, batch, key, step, hyper):
                p, o, _, m = self.member_train_step(hyper)(params, opt_state, state, batch, key, step)
                return p, o, m

            def population_step(params, opt_state, state, batch, keys, step, hyper):
                self.trace_count += 1  # Python side effect: runs only when (re)traced
                step_keys = jax.vmap(lambda k: jax.random.fold_in(k, step))(keys)
                return jax.vmap(one, in_axes=(0, 0, None, None if shared_batch else 0, 0, None, 0))(
                    params, opt_state, state, batch, step_keys, step, hyper)

            fn = self._steps[shared_batch] = jax.jit(population_step)
        return fn

    def train_step(self, params, opt_state, batch: Mapping[str, Any], keys: jax.Array, step) -> tuple:
        """One compiled update of every member from a fresh state.

        Args:
            batch: ``{input: [P, T, B, dim]}`` or ``{input: [T, B, dim]}`` (shared).
            keys: ``[P]`` run keys; member ``i`` uses ``fold_in(keys[i], step)`` (as :func:`brainsim.train.fit`).
            step: the training step (cost-weight schedules).

        Returns:
            ``(params, opt_state, metrics {name: [P]})``.
        """
        batch, shared = self.check_batch(batch)
        B = next(iter(batch.values())).shape[-2]
        step = step if isinstance(step, jax.Array) else np.int32(step)
        return self._compiled(shared)(params, opt_state, self.brain.init_state(B), batch, keys, step, self.hyper)

    def check_batch(self, batch: Mapping[str, Any]) -> tuple[dict, bool]:
        """``(batch as float32 arrays, shared?)``; a per-member batch has a leading ``[P]`` axis."""
        first = next(iter(batch.values()))
        if np.ndim(first) == 3:
            return self.brain.check_inputs(batch), True
        if np.ndim(first) != 4 or np.shape(first)[0] != self.size:
            raise ScenarioError(f"a population batch is {{input: [P={self.size}, T, B, dim]}} or "
                                f"{{input: [T, B, dim]}}, found shape {tuple(np.shape(first))}", "batch")
        self.brain.check_inputs({k: v[0] for k, v in batch.items()})  # names, dims
        return {k: jnp.asarray(v, jnp.float32) for k, v in batch.items()}, False

    # ------------------------------------------------------------------ the training loop
    def fit(self, params, opt_state, batch_fn: Callable[[int], Mapping[str, Any]], steps: int, keys: jax.Array, *,
            log_every: int = 10, on_log: Optional[Callable[[int, int, dict], None]] = None,
            checkpointer=None, resume: bool = False, rngs: Optional[Mapping[str, np.random.Generator]] = None,
            start_step: int = 0) -> PopulationResult:
        """Train every member for ``steps`` steps (:func:`brainsim.train.fit`'s semantics, per member).

        Args:
            batch_fn: ``step -> {input: [P, T, B, dim]}`` (or a shared ``[T, B, dim]`` batch).
            keys: ``[P]`` run keys (member ``i``'s step ``s`` uses ``fold_in(keys[i], s)``).
            log_every: record metrics every this many steps (and at the last).
            on_log: ``(step, member, record)`` called for each recorded member metrics.
            checkpointer: a :class:`~brainsim.checkpoint.Checkpointer`: saves the stacked params,
                optimiser states, keys, ``rngs`` positions and the failed members every
                ``checkpointer.every`` steps and at the end.
            resume: continue from the checkpointer's newest intact checkpoint (bit-exact).
            rngs: ``{name: numpy Generator}`` the batch function draws from (their positions are saved).

        Returns:
            a :class:`PopulationResult`. A member that goes NaN/Inf is recorded in ``failed`` with its
            first bad step; the others train on unaffected (members never mix).
        """
        rngs = dict(rngs or {})
        history: list = [[] for _ in range(self.size)]
        failed: dict = {}
        earlier, t0 = 0.0, time.perf_counter()
        if resume and checkpointer is not None and checkpointer.newest_intact() is not None:
            r = checkpointer.restore({"params": params, "opt_state": opt_state, "keys": keys})
            params, opt_state, keys = r.tree["params"], r.tree["opt_state"], r.tree["keys"]
            for name, st in r.meta.get("rngs", {}).items():
                if name in rngs:
                    rngs[name].bit_generator.state = st
            failed = {int(k): v for k, v in r.meta.get("failed", {}).items()}
            earlier, start_step = float(r.meta.get("train_seconds", 0.0)), r.step
            if r.meta.get("done"):
                return PopulationResult(params, opt_state, r.step, history, failed, 0.0, earlier)
        times: list = []
        step = start_step - 1

        def save(n: int, done: bool) -> None:
            meta = {"rngs": {k: g.bit_generator.state for k, g in rngs.items()}, "done": done,
                    "failed": {str(k): v for k, v in failed.items()}, "size": self.size,
                    "train_seconds": earlier + time.perf_counter() - t0, "total_steps": steps}
            checkpointer.save(n, {"params": params, "opt_state": opt_state, "keys": keys}, meta)

        for step in range(start_step, steps):
            ts = time.perf_counter()
            params, opt_state, m = self.train_step(params, opt_state, batch_fn(step), keys, step)
            if len(times) < 2:
                jax.block_until_ready(m["loss"])
                times.append(time.perf_counter() - ts)
            if "finite" in m:
                for i in np.flatnonzero(~np.asarray(m["finite"])):
                    failed.setdefault(int(i), step)
            if (step + 1) % log_every == 0 or step == steps - 1:
                host = jax.device_get(m)
                for i in range(self.size):
                    rec = {"step": step, **{k: _py(v[i]) for k, v in host.items()}}
                    history[i].append(rec)
                    if on_log is not None:
                        on_log(step, i, rec)
            if checkpointer is not None and checkpointer.due(step + 1) and step + 1 < steps:
                save(step + 1, False)
        if checkpointer is not None and step + 1 > start_step:
            save(step + 1, True)
        compile_s = max(0.0, times[0] - times[1]) if len(times) == 2 else 0.0
        return PopulationResult(params, opt_state, step + 1, history, failed, compile_s,
                                earlier + time.perf_counter() - t0)


def _py(x) -> Any:
    x = np.asarray(x)
    if x.dtype == bool:
        return bool(x)
    v = float(x)
    return v if math.isfinite(v) else str(v)
