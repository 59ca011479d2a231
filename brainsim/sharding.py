"""Sharding on JAX's own distributed runtime: a device mesh with named axes ``(population, batch)``.

* :func:`make_mesh` lays the devices (every process's, under :func:`initialize`) out as a
  ``[population, batch]`` grid.
* :func:`data_parallel_step` is a brain's ONE ``train_step`` run data-parallel over the ``batch``
  axis (``shard_map``): each device scans the episode for its slice of the batch, with its own
  samples' keys (global sample indices, so the randomness is the single-device run's); the cost
  denominators are summed over devices once (a forward, scalar all-reduce: a masked mean over the
  whole batch), then ONE all-reduce sums the gradients (and metrics) before every area's optimiser
  runs, identically, on every device. Nothing collective runs inside the time loop
  (:func:`collective_counts` checks the compiled program).
* :func:`population_step` runs a :class:`~brainsim.population.Population` with members split over
  the ``population`` axis and each member's batch over the ``batch`` axis.
* Multi-host: call :func:`initialize` (``jax.distributed.initialize``) in every process first; the
  mesh then spans every process's devices and :func:`global_batch` assembles each process's slice
  of the batch into one global array. On CPU the processes talk through gloo collectives.

Results equal the single-device run to float rounding (a gradient summed in a different order,
~1e-7 relative). Rules that learn from the trace or re-evaluate the cost (Hebbian,
perturbation, ...) would see only their device's slice of the batch: :func:`data_parallel_step`
refuses them (use a population axis, or one device, for those).
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Optional, Sequence

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from .errors import ScenarioError

__all__ = ["AXES", "make_mesh", "initialize", "data_parallel_step", "population_step", "global_batch",
           "replicate", "collective_counts", "check_data_parallel_rules"]

AXES = ("population", "batch")
BATCH = "batch"
POPULATION = "population"

try:  # JAX >= 0.6 exports shard_map at the top level; older releases keep it experimental
    _shard_map = jax.shard_map
    _NO_CHECK = {"check_vma": False}
except AttributeError:  # pragma: no cover - old JAX
    from jax.experimental.shard_map import shard_map as _shard_map
    _NO_CHECK = {"check_rep": False}


# --------------------------------------------------------------------------- processes and meshes

def initialize(coordinator_address: Optional[str] = None, num_processes: Optional[int] = None,
               process_id: Optional[int] = None, *, cpu_collectives: str = "gloo", **kw) -> None:
    """Join a multi-process (multi-host) run: ``jax.distributed.initialize`` with the given
    coordinator (``host:port``), process count and this process's id (``None``: taken from the
    cluster environment, e.g. Slurm). On CPU, cross-process collectives use ``cpu_collectives``
    (``gloo``). Call it before anything else touches JAX devices."""
    if cpu_collectives:
        try:
            jax.config.update("jax_cpu_collectives_implementation", cpu_collectives)
        except Exception:  # noqa: BLE001 - an option older/newer JAX may not know
            pass
    jax.distributed.initialize(coordinator_address=coordinator_address, num_processes=num_processes,
                               process_id=process_id, **kw)


def make_mesh(population: int = 1, batch: Optional[int] = None, devices: Optional[Sequence] = None) -> Mesh:
    """A ``[population, batch]`` mesh over ``devices`` (default: every device of every process).

    Args:
        population: devices along the population axis.
        batch: devices along the batch axis (default: the rest, ``len(devices) // population``).

    Raises:
        ScenarioError: the grid does not fit the devices.
    """
    devices = list(jax.devices() if devices is None else devices)
    n = len(devices)
    if batch is None:
        batch = n // max(population, 1)
    if population < 1 or batch < 1 or population * batch > n:
        raise ScenarioError(f"a mesh of population {population} x batch {batch} needs {population * batch} "
                            f"devices, found {n}", "mesh",
                            hint="on CPU, XLA_FLAGS=--xla_force_host_platform_device_count=N makes N devices")
    return Mesh(np.asarray(devices[:population * batch], dtype=object).reshape(population, batch), AXES)


def replicate(tree: Any, mesh: Mesh) -> Any:
    """Put ``tree`` on every device of ``mesh`` (params, optimiser states, keys).

    Across processes (every process passes the same values) each leaf becomes a global array; a
    typed PRNG key travels as its ``uint32`` key data (the sharded steps wrap it back)."""
    sharding = NamedSharding(mesh, P())
    if jax.process_count() == 1:
        return jax.device_put(tree, sharding)

    def one(x):
        if _is_key(x):
            x = jax.random.key_data(x)
        return jax.make_array_from_process_local_data(sharding, np.asarray(x))

    return jax.tree.map(one, tree)


def _is_key(x: Any) -> bool:
    return hasattr(x, "dtype") and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)


def _as_key(k: Any) -> Any:
    """A typed key from a typed key or its ``uint32`` key data (inside the compiled step)."""
    return k if _is_key(k) else jax.random.wrap_key_data(k)


def global_batch(mesh: Mesh, local: dict, *, population: bool = False) -> dict:
    """Assemble each process's slice of a batch into global arrays sharded over the mesh.

    Args:
        local: ``{input: [T, B_local, dim]}`` (``[P, T, B_local, dim]`` with ``population``): this
            process's consecutive slice of the global batch (process ``i`` holds slice ``i``).

    Returns:
        ``{input: global [T, B, dim]}`` arrays sharded ``P(None, "batch")``.
    """
    spec = P(POPULATION, None, BATCH) if population else P(None, BATCH)
    sharding = NamedSharding(mesh, spec)
    return {k: jax.make_array_from_process_local_data(sharding, np.asarray(v, np.float32)) for k, v in local.items()}


# --------------------------------------------------------------------------- the data-parallel step

def check_data_parallel_rules(brain) -> None:
    """Raise unless every area learns by gradient (or is frozen): only gradients are reduced exactly."""
    bad = [n for n, r in brain.rules.items()
           if not getattr(r, "frozen", False) and not (getattr(r, "needs_grad", False)
                                                        and not getattr(r, "needs_trace", False))]
    if bad:
        raise ScenarioError(f"data-parallel training reduces gradients; areas {bad} learn by rules that read "
                            "their own trace or cost", "sharding",
                            hint="shard those over the population axis, or train them on one device")


def _state_specs(state: Any, lead: tuple) -> Any:
    """Per leaf: ``P(*lead, "batch")`` for batched leaves, ``P(*lead)`` for the scalar clock."""
    return jax.tree.map(lambda x: P(*lead, BATCH) if np.ndim(x) > len(lead) else P(*lead), state)


def _sharded_plan(brain):
    return dataclasses.replace(brain.plan, axis_name=BATCH)


def data_parallel_step(brain, mesh: Mesh, *, check_finite: bool = True):
    """The brain's train step, data-parallel over the mesh's ``batch`` axis.

    Returns:
        jitted ``fn(params, opt_state, state, batch, key, step) -> (params, opt_state, metrics)``
        with ``batch`` ``{input: [T, B, dim]}`` (``B`` divisible by the batch axis; split into
        consecutive slices) and ``state`` a fresh ``brain.init_state(B)``; params, optimiser state
        and metrics come back replicated. The population axis of ``mesh`` must be 1.
    """
    check_data_parallel_rules(brain)
    if mesh.shape[POPULATION] != 1:
        raise ScenarioError(f"data_parallel_step runs one brain; the mesh has population axis "
                            f"{mesh.shape[POPULATION]}", "mesh", hint="use population_step for a population")
    flat = Mesh(mesh.devices.reshape(-1), (BATCH,))
    pure = brain.pure_train_step(_sharded_plan(brain), check_finite=check_finite)

    def local(params, opt_state, state, batch, key, step):
        p, o, _, m = pure(params, opt_state, state, batch, _as_key(key), step)
        return p, o, m

    compiled: dict = {}

    def fn(params, opt_state, state, batch, key, step):
        specs = jax.tree.structure(state)
        f = compiled.get(specs)
        if f is None:
            in_specs = (P(), P(), _state_specs(state, ()), P(None, BATCH), P(), P())
            f = compiled[specs] = jax.jit(_shard_map(local, mesh=flat, in_specs=in_specs,
                                                     out_specs=(P(), P(), P()), **_NO_CHECK))
        return f(params, opt_state, state, batch, key, np.int32(step) if isinstance(step, int) else step)

    fn.lower = lambda *a: compiled_lower(fn, compiled, *a)
    return fn


def compiled_lower(fn, compiled, params, opt_state, state, batch, key, step):
    """``.lower`` of the jitted step ``fn`` builds for these arguments (for HLO inspection)."""
    fn(params, opt_state, state, batch, key, step)  # builds it
    return compiled[jax.tree.structure(state)].lower(params, opt_state, state, batch, key,
                                                     np.int32(step) if isinstance(step, int) else step)


def population_step(pop, mesh: Mesh):
    """A population's train step with members over the ``population`` axis and each member's batch
    over the ``batch`` axis.

    Returns:
        jitted ``fn(params [P, ...], opt_state [P, ...], batch {input: [P, T, B, dim]}, keys [P], step)
        -> (params, opt_state, metrics {name: [P]})`` (``P`` divisible by the population axis, ``B``
        by the batch axis).
    """
    check_data_parallel_rules(pop.brain)
    sharded = _with_plan(pop, _sharded_plan(pop.brain))
    compiled: dict = {}

    def one(params, opt_state, state, batch, key, step, hyper):
        p, o, _, m = sharded.member_train_step(hyper)(params, opt_state, state, batch, key, step)
        return p, o, m

    def local(params, opt_state, state, batch, keys, step, hyper):
        step_keys = jax.vmap(lambda k: jax.random.fold_in(k, step))(keys)
        return jax.vmap(one, in_axes=(0, 0, None, 0, 0, None, 0))(params, opt_state, state, batch, step_keys,
                                                                  step, hyper)

    def fn(params, opt_state, batch, keys, step):
        batch, _ = pop.check_batch(batch)
        B = next(iter(batch.values())).shape[-2]
        state = pop.brain.init_state(B)
        key = jax.tree.structure(state)
        f = compiled.get(key)
        if f is None:
            pp = P(POPULATION)
            in_specs = (pp, pp, _state_specs(state, ()), P(POPULATION, None, BATCH), pp, P(), pp)
            f = compiled[key] = jax.jit(_shard_map(local, mesh=mesh, in_specs=in_specs, out_specs=(pp, pp, pp),
                                                   **_NO_CHECK))
        return f(params, opt_state, state, batch, keys, np.int32(step) if isinstance(step, int) else step,
                 pop.hyper)

    return fn


def _with_plan(pop, plan):
    """A shallow copy of population ``pop`` whose member steps use ``plan``."""
    import copy

    clone = copy.copy(pop)
    brain = copy.copy(pop.brain)
    brain.plan = plan
    clone.brain = brain
    return clone


# --------------------------------------------------------------------------- checking the compiled program

_COLLECTIVES = ("all-reduce", "all-gather", "reduce-scatter", "collective-permute", "all-to-all",
                "all-reduce-start", "all-gather-start", "collective-permute-start")
_HEAD = re.compile(r"^(ENTRY\s+)?%?([\w.\-]+)\s")
_OPCODE = re.compile(r"([a-z][\w\-]*)\(")
_REFS = re.compile(r"(?:body|condition|calls|to_apply|branch_computations|true_computation|false_computation)="
                   r"(\{[^}]*\}|%?[\w.\-]+)")


def _opcode(line: str) -> str:
    """The opcode of an HLO instruction line ``%x = TYPE opcode(...)`` (a tuple TYPE may hold spaces)."""
    rest = line.split(" = ", 1)[1]
    if rest.startswith("("):
        depth = 0
        for i, ch in enumerate(rest):
            depth += ch == "("
            depth -= ch == ")"
            if depth == 0:
                rest = rest[i + 1:].lstrip()
                break
    else:
        rest = rest.split(" ", 1)[1] if " " in rest else ""
    m = _OPCODE.match(rest)
    return m.group(1) if m else ""


def collective_counts(hlo_text: str) -> dict:
    """Collectives in an optimised HLO module: ``{"in_loops": n, "outside": n, "ops": [opcodes outside]}``.

    ``in_loops`` counts those in any computation reached from a ``while`` body (the time loop).
    """
    comps: dict = {}
    entry = cur = None
    for line in hlo_text.splitlines():
        if line and not line[0].isspace() and line.rstrip().endswith("{"):
            m = _HEAD.match(line)
            cur = m.group(2) if m else None
            if m:
                comps[cur] = []
                entry = cur if m.group(1) else entry
        elif cur is not None and " = " in line:
            comps[cur].append(line.strip())
    counts = {"in_loops": 0, "outside": 0, "ops": []}

    def refs(line: str) -> list:
        out = []
        for r in _REFS.findall(line):
            out += [n.strip().lstrip("%") for n in r.strip("{}").split(",") if n.strip()]
        return out

    def walk(name: str, in_loop: bool, seen: frozenset) -> None:
        if name in seen or name not in comps:
            return
        for line in comps[name]:
            op = _opcode(line)
            if op in _COLLECTIVES:
                counts["in_loops" if in_loop else "outside"] += 1
                if not in_loop:
                    counts["ops"].append(op)
            for r in refs(line):
                walk(r, in_loop or op == "while", seen | {name})

    if entry is not None:
        walk(entry, False, frozenset())
    return counts
