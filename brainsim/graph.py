"""WiringSpec -> ``networkx.MultiDiGraph`` -> checks -> a static schedule.

Nodes are external inputs (``kind="input"``) and areas (``kind="area"``); each
connection is one multi-edge keyed by its index in the wiring, carrying its
``delay``, ``weight``, ``gate`` and ``projection``.  Node lists are always
passed sorted: insertion order is not a contract.

Checks (each raises :class:`~brainsim.errors.WiringError` at the offending
``file:line:col`` with a fix hint): unknown area type, bad area options, unknown
area or port in a connection, dimension mismatch without ``projection``,
zero-delay cycle, required input port left unconnected, duplicate names,
gate referencing a missing output or channel, output/probe referencing a
missing port, cost targets naming a missing input.  An external input nobody
uses is a warning (``BrainGraph.warnings``).

The schedule is ``networkx.topological_generations`` of the zero-delay
subgraph of areas (gate sources count as zero-delay dependencies).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Optional

import networkx as nx

from .area import Area, AreaError, build_config, get_area_type
from .costs import TARGET_OPTIONS, resolve_term
from .errors import WiringError, did_you_mean
from .wiring import Ref, WiringSpec


@dataclass(frozen=True)
class Edge:
    """A checked connection with resolved dimensions (static, hashable).

    Attributes:
        index: position in the wiring's ``connections``.
        src: source reference (``port is None`` for an external input).
        dst: destination ``area.port``.
        src_dim: dimension after channel selection.
        dst_dim: dimension of the destination port.
        delay, weight, gate, projection: as in the wiring.
        gate_dim: dimension of the gate signal (1 or ``dst_dim``).
    """

    index: int
    src: Ref
    dst: Ref
    src_dim: int
    dst_dim: int
    delay: int
    weight: float
    gate: Optional[Ref]
    gate_dim: int
    projection: Optional[str]

    @property
    def name(self) -> str:
        return f"e{self.index}"

    def __str__(self) -> str:
        return f"{self.src} -> {self.dst}"


@dataclass(frozen=True)
class AreaNode:
    """An area in a built graph.

    Attributes:
        name: its name in the wiring.
        spec: its :class:`~brainsim.wiring.AreaSpec`.
        area: the built :class:`~brainsim.area.Area`.
        replicas: number of copies with stacked params.
        costs: ``((CostSpec, term fn), ...)``.
        index: rank in the sorted area names.
    """

    name: str
    spec: Any  # AreaSpec
    area: Area
    replicas: int
    costs: tuple  # ((CostSpec, term fn), …)
    index: int

    def out_dim(self, port: str) -> int:
        return self.area.out_dims[port] * self.replicas


@dataclass(frozen=True)
class BrainGraph:
    """A checked wiring: the graph, the built areas, the edges and the schedule.

    Attributes:
        spec: the wiring spec.
        graph: the ``networkx.MultiDiGraph`` (nodes: inputs and areas; one multi-edge per connection
            with ``kind="signal"``, plus ``kind="gate"`` edges from gate sources).
        areas: ``{name: AreaNode}`` sorted by name.
        edges: :class:`Edge` s in wiring order.
        schedule: generations of the zero-delay subgraph, each a sorted tuple of area names.
        warnings: ``file:line:col: warning: ...`` lines (e.g. an unused input).
    """

    spec: WiringSpec
    graph: nx.MultiDiGraph
    areas: dict  # name -> AreaNode (sorted by name)
    edges: tuple  # Edge, in wiring order
    schedule: tuple  # tuple of generations, each a sorted tuple of area names
    warnings: list

    def node_dim(self, ref: Ref) -> int:
        if ref.port is None:
            return self.spec.input_dims[ref.node]
        return self.areas[ref.node].out_dim(ref.port)

    def edges_into(self, area: str) -> tuple:
        return tuple(e for e in self.edges if e.dst.node == area)


def _ref_dim(spec: WiringSpec, nodes: dict, ref: Ref, where, role: str) -> Optional[int]:
    """Dimension of a source-like reference (after channel selection); checks it exists."""
    inputs = spec.input_dims
    if ref.node in inputs:
        if ref.port is not None:
            raise WiringError(f"{role} '{ref}': '{ref.node}' is an external input, it has no port '{ref.port}'",
                              where, hint=f"write just '{ref.node}'")
        dim = inputs[ref.node]
    elif ref.node in nodes:
        node = nodes[ref.node]
        if ref.port is None:
            raise WiringError(f"{role} '{ref}' must name an output port of area '{ref.node}'", where,
                              hint="outputs: " + ", ".join(f"{ref.node}.{p}" for p in node.area.outputs))
        if ref.port not in node.area.outputs:
            raise WiringError(f"{role} '{ref}': area '{ref.node}' (type {node.area.type_name}) has no output port "
                              f"'{ref.port}'{did_you_mean(ref.port, node.area.outputs)}", where,
                              hint="its outputs: " + ", ".join(node.area.outputs) +
                                   (f"; '{ref.port}' is an input port" if ref.port in node.area.inputs else ""))
        dim = node.out_dim(ref.port)
    else:
        known = list(inputs) + list(nodes)
        raise WiringError(f"{role} '{ref}': no area or input named '{ref.node}'{did_you_mean(ref.node, known)}",
                          where, hint="known: " + ", ".join(known))
    if ref.channel is not None:
        if not 0 <= ref.channel < dim:
            raise WiringError(f"{role} '{ref}': channel {ref.channel} does not exist ('{ref.node}"
                              f"{'.' + ref.port if ref.port else ''}' has {dim} channels: 0..{dim - 1})", where,
                              hint=f"channels count from 0: use [0] to [{dim - 1}]")
        return 1
    return dim


def build_graph(spec: WiringSpec) -> BrainGraph:
    """Check a wiring spec and build its graph, areas and schedule (each phase raises a located WiringError)."""
    classes, configs = _area_types_and_configs(spec)
    _check_target_ports(spec, classes)
    nodes = _build_areas(spec, classes, configs)
    edges = _build_edges(spec, nodes)
    _check_required_inputs(spec, nodes, edges)
    nodes = {n: replace(node, costs=_area_costs(spec, node)) for n, node in nodes.items()}
    _check_rules(spec, nodes)
    _check_probes_and_outputs(spec, nodes)
    g = _networkx_graph(spec, nodes, edges)
    schedule = _schedule(spec, nodes, edges, g)
    return BrainGraph(spec, g, nodes, tuple(edges), schedule, _unused_input_warnings(spec, nodes, edges))


def _area_types_and_configs(spec: WiringSpec) -> tuple[dict, dict]:
    """``({area: class}, {area: Config})``: every area type known and its options valid."""
    classes, configs = {}, {}
    for a in spec.areas:
        try:
            cls = get_area_type(a.type, spec.where("areas", a.name, "type"))
        except AreaError as e:
            raise WiringError(e.message, e.where, e.hint) from None
        classes[a.name] = cls
        try:
            configs[a.name] = build_config(cls, dict(a.options),
                                           lambda p, n=a.name: spec.locs.where(("areas", n) + tuple(p), key=True)
                                           if spec.locs else f"areas.{n}")
        except AreaError as e:
            raise WiringError(e.message, e.where, e.hint) from None
    return classes, configs


def _check_target_ports(spec: WiringSpec, classes: dict) -> None:
    """Every connection ends at an existing input port of an area."""
    for e in spec.connections:
        if e.dst.node not in classes:
            if e.dst.node in spec.input_dims:
                raise WiringError(f"connection '{e}': '{e.dst.node}' is an external input and cannot receive signals",
                                  e.loc, hint="connect into an area port, e.g. area.input")
            raise WiringError(f"connection '{e}': no area named '{e.dst.node}'{did_you_mean(e.dst.node, classes)}",
                              e.loc, hint="areas: " + ", ".join(classes))
        cls = classes[e.dst.node]
        if e.dst.port not in cls.inputs:
            raise WiringError(f"connection '{e}': area '{e.dst.node}' (type {cls.type_name}) has no input port "
                              f"'{e.dst.port}'{did_you_mean(e.dst.port, cls.inputs)}", e.loc,
                              hint="its inputs: " + ", ".join(cls.inputs) +
                                   (f"; '{e.dst.port}' is an output port" if e.dst.port in cls.outputs else ""))


def _build_areas(spec: WiringSpec, classes: dict, configs: dict) -> dict:
    """Build every area, resolving ``auto`` input dims to a fixed point; ``{name: AreaNode}`` sorted, indexed."""
    nodes: dict[str, AreaNode] = {}
    pending = {a.name: a for a in spec.areas}
    incoming = {n: [e for e in spec.connections if e.dst.node == n] for n in pending}
    while pending:
        progress = False
        for name in sorted(pending):
            a, cls = pending[name], classes[name]
            known, ready = {}, True
            for port, pspec in cls.inputs.items():
                if pspec.dim != "auto":
                    continue
                into = [e for e in incoming[name] if e.dst.port == port]
                direct = [e for e in into if not e.projection]
                if not direct:
                    if into or pspec.required:
                        _unresolvable(spec, name, cls, port, bool(into))
                    known[port] = 1  # optional and unconnected: reads its default
                    continue
                for e in direct:
                    if e.src.node not in spec.input_dims and e.src.node not in nodes:
                        _ref_exists(spec, classes, e.src, e.loc, f"connection '{e}': source")
                        ready = False
                if not ready:
                    break
                dims = [(_ref_dim(spec, nodes, e.src, e.loc, f"connection '{e}': source"), e) for e in direct]
                (d0, e0) = dims[0]
                for d, e in dims[1:]:
                    if d != d0:
                        raise WiringError(
                            f"dimension mismatch into '{name}.{port}': '{e0.src}' has dim {d0} but "
                            f"'{e.src}' has dim {d}", e.loc,
                            hint=f"edges into one port must agree; add `projection: linear` to the edge from "
                                 f"'{e.src}' to map {d} -> {d0}")
                known[port] = d0
            if not ready:
                continue
            try:
                area = cls(configs[name], dims=known, name=name)
            except AreaError as e:
                raise WiringError(e.message, _area_loc(spec, name), e.hint) from None
            nodes[name] = AreaNode(name, a, area, a.replicas, (), 0)
            del pending[name]
            progress = True
        if not progress:
            names = ", ".join(sorted(pending))
            raise WiringError(f"cannot infer the 'auto' input dimensions of {names}: they depend on each other",
                              _area_loc(spec, sorted(pending)[0]),
                              hint="give one of them a fixed size in its config, or break the loop")
    return {n: replace(nodes[n], index=i) for i, n in enumerate(sorted(nodes))}


def _build_edges(spec: WiringSpec, nodes: dict) -> list:
    """Every connection as an :class:`Edge` with resolved dims (dims agree or a projection maps them; gates fit)."""
    edges = []
    for e in spec.connections:
        src_dim = _ref_dim(spec, nodes, e.src, e.loc, f"connection '{e}': source")
        dst_dim = nodes[e.dst.node].area.in_dims[e.dst.port]
        if src_dim != dst_dim and e.projection is None:
            raise WiringError(
                f"dimension mismatch: '{e.src}' has dim {src_dim} but '{e.dst}' expects dim {dst_dim}", e.loc,
                hint=f"add `projection: linear` to this connection (a learned {src_dim}x{dst_dim} matrix) "
                     f"or change the sizes")
        gate_dim = 0
        if e.gate is not None:
            gloc = spec.where("connections", e.index, "gate") if spec.locs is not None else e.loc
            gate_dim = _ref_dim(spec, nodes, e.gate, gloc, f"gate of connection '{e}'")
            if gate_dim not in (1, dst_dim):
                raise WiringError(
                    f"gate '{e.gate}' of connection '{e}' has {gate_dim} channels: select one with "
                    f"'{e.gate}[k]' (k in 0..{gate_dim - 1}) or use a gate of dim {dst_dim}", gloc,
                    hint=f"e.g. gate: '{e.gate}[0]' (one channel gates the whole connection)")
        edges.append(Edge(e.index, e.src, e.dst, src_dim, dst_dim, e.delay, e.weight, e.gate, gate_dim, e.projection))
    return edges


def _check_required_inputs(spec: WiringSpec, nodes: dict, edges: list) -> None:
    for n in nodes.values():
        connected = {e.dst.port for e in edges if e.dst.node == n.name}
        for port, pspec in n.area.inputs.items():
            if pspec.required and port not in connected:
                raise WiringError(f"required input port '{n.name}.{port}' (type {n.area.type_name}) is not connected",
                                  _area_loc(spec, n.name),
                                  hint=f"add a connection like `- <source> -> {n.name}.{port}`")


def _area_costs(spec: WiringSpec, n: AreaNode) -> tuple:
    """``((CostSpec, term fn), ...)`` of one area: terms exist, options valid, targets are inputs of the right dim."""
    costs = []
    for c in n.spec.costs:
        path = ("areas", n.name, "costs", c.name)
        where = spec.where(*path, key=True)
        fn = resolve_term(type(n.area), c, where)
        for opt in TARGET_OPTIONS:
            tname = c.opts.get(opt)
            if opt in c.opts and tname not in spec.input_dims:
                raise WiringError(f"cost '{c.name}' of area '{n.name}': {opt} '{tname}' is not an external input"
                                  f"{did_you_mean(str(tname), spec.input_dims)}", spec.where(*path, opt),
                                  hint=f"declare it under `inputs:` (e.g. {tname}: <dim>)" if isinstance(tname, str)
                                  else f"name an external input: {', '.join(spec.input_dims)}")
        port = c.opts.get("port")
        if port is not None and port not in n.area.outputs:
            raise WiringError(f"cost '{c.name}' of area '{n.name}': no output port '{port}'"
                              f"{did_you_mean(str(port), n.area.outputs)}", spec.where(*path, "port"),
                              hint="outputs: " + ", ".join(n.area.outputs))
        if c.name == "supervised" and c.name not in n.area.cost_terms and \
                c.opts.get("loss", "mse") not in ("mse", "cross_entropy"):
            raise WiringError(f"cost 'supervised' of area '{n.name}': unknown loss {c.opts['loss']!r}"
                              f"{did_you_mean(str(c.opts['loss']), ('mse', 'cross_entropy'))}",
                              spec.where(*path, "loss"), hint="loss: mse (default) or cross_entropy")
        if c.name == "supervised":
            port = port or next(iter(n.area.outputs))
            tdim, pdim = spec.input_dims[c.opts["target"]], n.area.out_dims[port]
            if tdim != pdim:
                raise WiringError(f"cost 'supervised' of area '{n.name}': target '{c.opts['target']}' has dim "
                                  f"{tdim} but '{n.name}.{port}' has dim {pdim}", where,
                                  hint="make the readout size equal to the target's dimension")
            if "mask" in c.opts and spec.input_dims[c.opts["mask"]] != 1:
                raise WiringError(f"cost 'supervised' of area '{n.name}': mask '{c.opts['mask']}' must have dim 1",
                                  where)
        costs.append((c, fn))
    return tuple(costs)


def _check_rules(spec: WiringSpec, nodes: dict) -> None:
    """Every area can supply what its learning rule needs (synapses, a lattice, an energy, a modulator...)."""
    from .rules import RULES

    for n in nodes.values():
        name, opts = n.spec.rule
        cls, opts = RULES[name], dict(opts)
        where = spec.where("areas", n.name, "rule", key=True)
        what = f"area '{n.name}' (type {n.area.type_name}) cannot learn with rule '{name}'"
        if cls.frozen or (name == "backprop" and "modulated_by" not in opts):
            continue
        if n.replicas > 1:
            raise WiringError(f"{what}: the rule does not support replicas (replicas: {n.replicas})", where,
                              hint="use rule: backprop for a replicated area, or drop replicas")
        missing = cls.missing_need(n.area)
        if missing:
            raise WiringError(f"{what}: it needs {missing}", where,
                              hint="pick another rule for this area (see `brainsim list rules`)")
        ref = opts.get("modulated_by")
        if ref is not None:
            mwhere = spec.where("areas", n.name, "rule", "modulated_by")
            m_area, m_port = ref.split(".")
            if m_area not in nodes or m_port not in nodes[m_area].area.outputs:
                raise WiringError(f"{what}: modulated_by '{ref}' is not an area output"
                                  f"{did_you_mean(ref, [f'{a}.{p}' for a in nodes for p in nodes[a].area.outputs])}",
                                  mwhere, hint="name a dim-1 output such as bg.dopamine")
            if nodes[m_area].out_dim(m_port) != 1:
                raise WiringError(f"{what}: the modulator '{ref}' has dim {nodes[m_area].out_dim(m_port)}, "
                                  f"a third factor must have dim 1", mwhere, hint="use a scalar output (e.g. dopamine)")
            if name == "backprop" and n.spec.credit == "global":
                raise WiringError(f"{what}: a modulated backprop replays the area alone, which needs credit: local",
                                  mwhere, hint="set credit: local on this area or drop modulated_by")


def _check_probes_and_outputs(spec: WiringSpec, nodes: dict) -> None:
    for i, p in enumerate(spec.probes):
        if p.port is None:
            if p.node not in nodes:
                raise WiringError(f"probe '{p}': no area named '{p.node}'{did_you_mean(p.node, nodes)}",
                                  spec.where("probes", i))
        else:
            _ref_dim(spec, nodes, p, spec.where("probes", i), "probe")
    for name, ref in spec.outputs:
        if ref.node in spec.input_dims:
            raise WiringError(f"output '{name}': '{ref.node}' is an external input, not an area",
                              spec.where("outputs", name))
        _ref_dim(spec, nodes, ref, spec.where("outputs", name), f"output '{name}'")


def _networkx_graph(spec: WiringSpec, nodes: dict, edges: list) -> nx.MultiDiGraph:
    """Inputs and areas as nodes (sorted), one multi-edge per connection and one per gate."""
    g = nx.MultiDiGraph(name=spec.name)
    g.add_nodes_from([(k, {"kind": "input", "dim": d}) for k, d in sorted(spec.inputs)])
    g.add_nodes_from([(k, {"kind": "area", "type": n.area.type_name, "replicas": n.replicas})
                      for k, n in nodes.items()])
    for e in edges:
        g.add_edge(e.src.node, e.dst.node, key=e.index, edge=e, delay=e.delay, kind="signal")
        if e.gate is not None:
            g.add_edge(e.gate.node, e.dst.node, key=f"gate{e.index}", edge=e, delay=0, kind="gate")
    return g


def _schedule(spec: WiringSpec, nodes: dict, edges: list, g: nx.MultiDiGraph) -> tuple:
    """Topological generations of the zero-delay area subgraph (a zero-delay cycle is an error)."""
    zero = nx.DiGraph()
    zero.add_nodes_from(sorted(nodes))
    zero.add_edges_from(sorted({(u, v) for u, v, d in g.edges(data=True)
                                if d["delay"] == 0 and u in nodes and v in nodes}))
    try:
        cycle = nx.find_cycle(zero)
    except nx.NetworkXNoCycle:
        cycle = None
    if cycle:
        path = " -> ".join([u for u, _ in cycle] + [cycle[0][0]])
        u, v = cycle[0]
        first = next((e for e in edges if e.delay == 0 and (e.src.node, e.dst.node) == (u, v)), None)
        gate = next((e for e in edges if e.gate is not None and (e.gate.node, e.dst.node) == (u, v)), None) \
            if first is None else None
        signal = next((e for e in edges if e.delay == 0 and (e.src.node, e.dst.node) in
                       {(a, b) for a, b in cycle}), None)
        if gate is not None:  # the loop closes through a gate (gates act within the step)
            raise WiringError(f"zero-delay cycle through the gate of connection '{gate}': {path}",
                              spec.where("connections", gate.index, "gate"),
                              hint="a gate acts within the step, so the loop needs a delay on one of its signal "
                                   "connections" + (f", e.g. {{from: {signal.src}, to: {signal.dst}, delay: 1}}"
                                                    if signal is not None else ""))
        loc = spec.where("connections", first.index) if first is not None else spec.where("connections")
        raise WiringError(f"zero-delay cycle: {path}", loc,
                          hint="a loop needs a delay: add `delay: 1` to one of its connections, e.g. "
                               f"{{from: {first.src if first else u}, to: {first.dst if first else v}, delay: 1}}")
    return tuple(tuple(sorted(gen)) for gen in nx.topological_generations(zero))


def _unused_input_warnings(spec: WiringSpec, nodes: dict, edges: list) -> list:
    """A warning per external input no connection, gate or cost uses."""
    warnings: list[str] = []
    used = {e.src.node for e in edges} | {e.gate.node for e in edges if e.gate is not None}
    for n in nodes.values():
        for c, _ in n.costs:
            used |= {c.opts[o] for o in TARGET_OPTIONS if o in c.opts}
    for name, _ in spec.inputs:
        if name not in used:
            loc = spec.where("inputs", name)
            warnings.append(f"{loc}: warning: external input '{name}' is not used by any connection, gate or cost")
    return warnings


def _area_loc(spec: WiringSpec, name: str):
    """Where area ``name`` is declared (its key in ``areas:``)."""
    a = spec.area_map.get(name)
    return a.loc if a is not None and a.loc is not None else spec.where("areas", name)


def _unresolvable(spec: WiringSpec, name: str, cls, port: str, only_projections: bool) -> None:
    if not only_projections:
        raise WiringError(f"required input port '{name}.{port}' (type {cls.type_name}) is not connected",
                          _area_loc(spec, name), hint=f"add a connection like `- <source> -> {name}.{port}`")
    raise WiringError(f"cannot infer the dimension of '{name}.{port}' (type {cls.type_name}): it is 'auto' and only "
                      f"fed through projections", _area_loc(spec, name),
                      hint=f"connect '{name}.{port}' directly from a source of the wanted size")


def _ref_exists(spec: WiringSpec, classes: dict, ref: Ref, where, role: str) -> None:
    """Check a source reference names an existing area output before dims are known."""
    cls = classes.get(ref.node)
    if cls is None:
        known = list(spec.input_dims) + list(classes)
        raise WiringError(f"{role} '{ref}': no area or input named '{ref.node}'{did_you_mean(ref.node, known)}",
                          where, hint="known: " + ", ".join(known))
    if ref.port is None:
        raise WiringError(f"{role} '{ref}' must name an output port of area '{ref.node}'", where,
                          hint="outputs: " + ", ".join(f"{ref.node}.{p}" for p in cls.outputs))
    if ref.port not in cls.outputs:
        raise WiringError(f"{role} '{ref}': area '{ref.node}' (type {cls.type_name}) has no output port "
                          f"'{ref.port}'{did_you_mean(str(ref.port), cls.outputs)}", where,
                          hint="its outputs: " + ", ".join(cls.outputs))


def summary_lines(bg: BrainGraph, param_counts: Optional[dict] = None) -> list[str]:
    """A one-screen summary for ``brainsim validate``."""
    lines = [f"wiring '{bg.spec.name}' ({bg.spec.file}): OK",
             "inputs: " + ", ".join(f"{k}[{d}]" for k, d in bg.spec.inputs)]
    lines.append(f"areas ({len(bg.areas)}):")
    for n in bg.areas.values():
        pc = f", {param_counts[n.name]:,} params" if param_counts else ""
        rep = f" x{n.replicas}" if n.replicas > 1 else ""
        costs = ", ".join(f"{c.name}={c.weight:g}" for c, _ in n.costs) or "-"
        lines.append(f"  {n.name:<14} {n.area.type_name}{rep}{pc}; rule {n.spec.rule[0]}, credit {n.spec.credit}; "
                     f"costs: {costs}")
    lines.append(f"edges ({len(bg.edges)}):")
    for e in bg.edges:
        extra = [f"delay {e.delay}"] if e.delay else []
        extra += [f"weight {e.weight:g}"] if e.weight != 1.0 else []
        extra += [f"gate {e.gate}"] if e.gate else []
        extra += [f"projection {e.projection} {e.src_dim}->{e.dst_dim}"] if e.projection else []
        lines.append(f"  {str(e):<34} [{e.src_dim}]" + (f"  ({', '.join(extra)})" if extra else ""))
    if param_counts is not None:
        lines.append(f"parameters: {sum(param_counts.values()):,}")
    lines.append("schedule: " + " | ".join(", ".join(g) for g in bg.schedule))
    if bg.spec.outputs:
        lines.append("outputs: " + ", ".join(f"{k} = {r}" for k, r in bg.spec.outputs))
    return lines
