"""A checked graph -> a frozen, hashable :class:`StepPlan` (static index data only).

The plan is everything the compiled step needs to know that is *not* an array:
which areas run in which order, which edges feed which port (with their delay,
gain, gate and projection), which external inputs are targets, which signals a
trace keeps. It is built once per brain, never changes, and is hashable, so
the step functions in :mod:`brainsim.step` are pure functions of
``(plan, params, state, inputs, key)`` (jraph's ``GraphsTuple`` plays the same
role for a message-passing network).

Shapes the plan implies (``B`` batch, ``K`` replicas of an area, ``d`` a delay):

* ``params = {"areas": {name: {...}}, "projections": {"e<i>": {"w": [src_dim, dst_dim]}}}``: plain
  nested dicts of arrays (an area's ``nnx.State.to_pure_dict()``, so the jit boundary flattens only
  dicts); a replicated area has every leaf stacked ``[K, ...]``. ``AreaPlan.learned`` names the
  learnable leaves.
* ``state = {"areas": {name: area_state [B, ...]}, "delays": {"e<i>": [B, d, src_dim]}, "t": int32 []}``.
  ``t`` is one scalar for the whole batch (every sample shares the clock); a ``delay: d`` edge
  keeps a ring buffer of its last ``d`` values, slot ``t % d`` holds the value sent at ``t - d``.
* ``inputs = {input name: [T, B, dim]}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import jax

from .area import split_learned
from .wiring import Ref


# Named key streams (fold_in data of the run key): a stream never shares a key with another.
KEY_STREAMS = {"steps": 0, "rules": 1}
# Parameter initialisation: area n uses fold_in(init_key, n); projections use a sub-stream.
INIT_PROJECTIONS = 1_000_003


@dataclass(frozen=True)
class EdgePlan:
    """One connection, as static data.

    Attributes:
        name: ``"e<i>"``: the key of its projection in ``params["projections"]`` and of its
            delay line in ``state["delays"]`` (``i`` its index in the wiring's ``connections``).
        src: the source (``src.port is None`` for an external input; ``src.channel`` selects one channel).
        dst_port: the receiving port of the receiving area.
        src_dim: dimension of the signal sent (after channel selection).
        dst_dim: dimension of the receiving port.
        delay: steps between sending and arrival (0: same step).
        weight: scalar gain applied before the projection (1.0: none).
        gate: another area's output (channel) multiplying the signal after the projection, or None.
        projection: True when a learned ``[src_dim, dst_dim]`` matrix maps the signal.
        stop_gradient: True when the receiving area's credit is ``local`` (its inputs, gates
            included, are cut from the gradient).
    """

    name: str
    src: Ref
    dst_port: str
    src_dim: int
    dst_dim: int
    delay: int
    weight: float
    gate: Optional[Ref]
    projection: bool
    stop_gradient: bool


@dataclass(frozen=True)
class AreaPlan:
    """One area, as static data.

    Attributes:
        name: the area's name in the wiring.
        index: its rank in the sorted area names (the fold_in data of its key).
        area: the built :class:`~brainsim.area.Area` (hashed by identity).
        replicas: ``K`` copies with stacked params (1: not replicated).
        edges: the edges into this area, in wiring order.
        targets: the external inputs its cost terms read (``target``/``mask`` options), sorted.
        costs: ``((CostSpec, term fn), ...)`` in wiring order.
        outputs: its output port names.
        learned: key paths (tuples) of its learnable (``nnx.Param``) leaves in its plain-dict params;
            the other leaves (``Fixed``: random projections, masks) are never trained.
    """

    name: str
    index: int
    area: Any
    replicas: int
    edges: tuple
    targets: tuple
    costs: tuple
    outputs: tuple
    learned: frozenset


@dataclass(frozen=True)
class StepPlan:
    """A whole brain as static data; see the module docstring for the array shapes it implies.

    Attributes:
        name: the wiring's name.
        inputs: ``((input name, dim), ...)`` in wiring order.
        areas: :class:`AreaPlan` s in schedule order (a generation's areas sorted by name).
        delayed: the edges with ``delay > 0`` (each owns a ring buffer), in wiring order.
        edges: every edge, in wiring order.
        probes: ``(("area.port" or output name, Ref), ...)``: what :func:`brainsim.step.scan` keeps by default.
        unroll: time steps per iteration of the episode's ``lax.scan`` (its ``unroll``; 1: none).
        axis_name: the mesh axis the batch is split over inside ``shard_map`` (``None``: not split):
            samples draw their keys by global index and cost denominators and gradients are summed
            over it (:mod:`brainsim.sharding`).
        matmul_dtype: ``"bfloat16"`` runs the areas' matrix products in bf16 (params and signals cast
            at the episode start, state and costs kept in float32); ``None``: float32.
    """

    name: str
    inputs: tuple
    areas: tuple
    delayed: tuple
    edges: tuple
    probes: tuple
    unroll: int = 1
    axis_name: Optional[str] = None
    matmul_dtype: Optional[str] = None

    def area(self, name: str) -> AreaPlan:
        """The :class:`AreaPlan` named ``name``."""
        for a in self.areas:
            if a.name == name:
                return a
        raise KeyError(name)

    @property
    def area_names(self) -> tuple:
        """Area names, sorted (the order of ``params["areas"]``)."""
        return tuple(sorted(a.name for a in self.areas))

    def output_keys(self) -> tuple:
        """``(("area.port", Ref), ...)`` for every output port of every area."""
        return tuple((f"{a.name}.{p}", Ref(a.name, p)) for a in sorted(self.areas, key=lambda a: a.name)
                     for p in a.outputs)


# --------------------------------------------------------------------------- building

def _edge_plan(e, credit: str) -> EdgePlan:
    return EdgePlan(e.name, e.src, e.dst.port, e.src_dim, e.dst_dim, e.delay, float(e.weight), e.gate,
                    e.projection == "linear", credit == "local")


def _targets(node) -> tuple:
    return tuple(sorted({c.opts[o] for c, _ in node.costs for o in ("target", "mask") if o in c.opts}))


def _probe_refs(graph) -> tuple:
    """Probes (an area alone means all its outputs) then declared outputs, first occurrence kept."""
    refs = []
    for p in graph.spec.probes:
        ports = [p.port] if p.port else list(graph.areas[p.node].area.outputs)
        refs += [(f"{p.node}.{q}", Ref(p.node, q, p.channel)) for q in ports]
    refs += [(name, ref) for name, ref in graph.spec.outputs]
    seen, out = set(), []
    for k, r in refs:
        if k not in seen:
            seen.add(k)
            out.append((k, r))
    return tuple(out)


def key_paths(tree) -> frozenset:
    """The key paths (tuples of dict keys) of every leaf of a nested dict."""
    out = set()
    for path, _ in jax.tree_util.tree_flatten_with_path(tree)[0]:
        out.add(tuple(getattr(k, "key", getattr(k, "idx", k)) for k in path))
    return frozenset(out)


def _learned_paths(area) -> frozenset:
    """Paths of an area's ``nnx.Param`` leaves, from its abstract params (nothing is computed)."""
    abstract = jax.eval_shape(lambda: area.init(jax.random.key(0))[0])
    learned, _ = split_learned(abstract)
    return key_paths(learned.to_pure_dict()) if hasattr(learned, "to_pure_dict") else frozenset()


def build_plan(graph) -> StepPlan:
    """Freeze a checked :class:`~brainsim.graph.BrainGraph` into a :class:`StepPlan`."""
    areas = []
    for generation in graph.schedule:
        for name in generation:
            node = graph.areas[name]
            edges = tuple(_edge_plan(e, node.spec.credit) for e in graph.edges_into(name))
            areas.append(AreaPlan(name, node.index, node.area, node.replicas, edges, _targets(node),
                                  tuple(node.costs), tuple(node.area.outputs), _learned_paths(node.area)))
    credit = {n: node.spec.credit for n, node in graph.areas.items()}
    edges = tuple(_edge_plan(e, credit[e.dst.node]) for e in graph.edges)
    return StepPlan(graph.spec.name, tuple(graph.spec.inputs), tuple(areas),
                    tuple(e for e in edges if e.delay > 0), edges, _probe_refs(graph))
