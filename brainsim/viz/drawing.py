"""Draw a wiring left to right: external inputs -> areas by schedule generation -> outputs.

The layout is computed in points (1 data unit = 1 pt, the figure is sized to fit), so every text
extent is known before anything is drawn and labels are placed without overlaps *by construction*
(a layered, Sugiyama-style drawing):

* columns: inputs, then one column per schedule generation, then the named outputs; an edge that
  spans several columns gets a slot in each column it crosses (so it never runs behind a box); the
  order inside a column is refined by barycenter sweeps (fewer crossings);
* a forward edge's label sits in one of the gaps between the columns it spans (the least crowded),
  packed vertically with the other labels of that gap (1-D cluster packing around the wanted heights);
* an edge that goes back (or to its own area: recurrence through a delay) leaves to the right, runs
  over the drawing and comes down into its target from the left; its label sits on that run, in a
  band above everything, packed into rows;
* title on top, legend at the bottom, each in its own band.

Marks: solid = same step, dashed = delayed (label ``delay d``), a purple diamond (and a dotted line
from the gate's source) = gated (label ``gate: source``), ``W a→b learned`` = learned projection,
``×w`` = weight; areas are coloured by type; replicated areas are stacked boxes (``×K``). In flow
mode (``edge_values``) an edge's width is an affine function of its value (0 -> thinnest) and its
label shows the value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

import numpy as np
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, PathPatch, Rectangle
from matplotlib.path import Path as MPath

from ._common import (EDGE_COLOR, GATE_COLOR, INPUT_COLOR, OUTPUT_COLOR, TextMeasure, VizError, new_figure,
                      type_color)

TITLE_FS, SUB_FS, LABEL_FS, LEGEND_FS, HEAD_FS = 9.0, 7.0, 6.5, 7.0, 11.0
MIN_GAP, CLEAR, VSPACE, MARGIN, LABEL_SEP = 46.0, 16.0, 18.0, 12.0, 3.0
MIN_W, MAX_W = 0.5, 6.0  # edge widths (pt) in flow mode
MAX_GATE_LINES = 12  # above this many gated edges, no dotted line from each gate source (labels name it)


def resolve_graph(wiring: Any, overrides: Optional[Mapping[str, Any]] = None):
    """A :class:`~brainsim.graph.BrainGraph` from a Brain, a BrainGraph, a path or a canonical wiring name."""
    if hasattr(wiring, "schedule") and hasattr(wiring, "edges"):
        return wiring
    if hasattr(wiring, "graph") and hasattr(wiring.graph, "schedule"):
        return wiring.graph
    from ..graph import build_graph
    from ..wiring import load_wiring

    return build_graph(load_wiring(wiring, overrides))  # a path or a canonical name (wiring.find_wiring)


# --------------------------------------------------------------------------- layout data

@dataclass
class _Box:
    name: str
    kind: str  # input | area | output
    col: int
    title: str
    subtitle: str
    color: str
    replicas: int = 1
    in_ports: tuple = ()
    out_ports: tuple = ()
    w: float = 0.0
    h: float = 0.0
    x: float = 0.0  # left
    y: float = 0.0  # centre
    tsize: tuple = (0.0, 0.0)
    ssize: tuple = (0.0, 0.0)

    @property
    def top(self) -> float:
        return self.y + self.h / 2

    @property
    def bottom(self) -> float:
        return self.y - self.h / 2

    @property
    def cx(self) -> float:
        return self.x + self.w / 2

    def port_y(self, ports: tuple, port) -> float:
        if port not in ports or len(ports) <= 1:
            return self.y
        i = ports.index(port)
        return self.top - (i + 1) * self.h / (len(ports) + 1)

    def out_anchor(self, port) -> tuple:
        return self.x + self.w, self.port_y(self.out_ports, port)

    def in_anchor(self, port) -> tuple:
        return self.x, self.port_y(self.in_ports, port)


@dataclass
class _Label:
    key: str  # edge name
    text: str
    w: float
    h: float
    x: float = 0.0  # centre
    y: float = 0.0
    want: float = 0.0


@dataclass
class Layout:
    """Positions of everything (points). ``boxes`` by node name, ``labels`` by edge name, ``routes`` by edge
    name (and ``output:<name>``): ``("smooth", runs)`` with horizontal runs ``(x0, x1, y)`` joined by
    S-curves, or ``("ortho", points)`` (a back edge: right, up over the drawing, left, down, in)."""

    boxes: dict
    labels: dict
    routes: dict = field(default_factory=dict)
    back: set = field(default_factory=set)
    bounds: tuple = (0.0, 0.0, 1.0, 1.0)  # xmin, ymin, xmax, ymax of the drawing (before title/legend)


def _edge_text(e, value_text: Optional[str]) -> str:
    src = e.src.port if e.src.port is not None else e.src.node
    if e.src.channel is not None:
        src = f"{src}[{e.src.channel}]"
    extra = []
    if e.delay:
        extra.append(f"delay {e.delay}")
    if e.weight != 1.0:
        extra.append(f"×{e.weight:g}")
    if e.gate is not None:
        extra.append(f"gate: {e.gate}")
    if e.projection:
        extra.append(f"W {e.src_dim}→{e.dst_dim} learned")
    lines = [f"{src} → {e.dst.port}"]
    if extra:
        lines.append(" · ".join(extra))
    if value_text:
        lines.append(value_text)
    return "\n".join(lines)


def _pack_1d(items: list, sep: float) -> None:
    """Place labels (``.want`` centre, ``.h`` size) at ``.y`` with no overlap, order kept, least displacement."""
    items.sort(key=lambda it: it.want)
    clusters: list = []  # [items, offsets (centre - first centre), base]
    for it in items:
        clusters.append([[it], [0.0], it.want])
        while len(clusters) > 1:
            a, b = clusters[-2], clusters[-1]
            a_top = a[2] + a[1][-1] + a[0][-1].h / 2
            b_bot = b[2] + b[1][0] - b[0][0].h / 2
            if a_top + sep <= b_bot:
                break
            its = a[0] + b[0]
            offs = list(a[1])
            for prev, cur in zip(its[len(a[0]) - 1:], b[0]):
                offs.append(offs[-1] + (prev.h + cur.h) / 2 + sep)
            base = float(np.mean([i.want - o for i, o in zip(its, offs)]))
            clusters[-2:] = [[its, offs, base]]
    for its, offs, base in clusters:
        for i, o in zip(its, offs):
            i.y = base + o


def _order_columns(cols: list, preds: dict, succs: dict, sweeps: int = 4) -> None:
    """Barycenter heuristic: reorder each column by the mean rank of its neighbours (in place)."""
    def ranks():
        return {n: i / max(len(c) - 1, 1) for c in cols for i, n in enumerate(c)}

    for _ in range(sweeps):
        for order, nb in ((range(1, len(cols)), preds), (range(len(cols) - 2, -1, -1), succs)):
            for c in order:
                r = ranks()
                col = cols[c]
                keys = {}
                for i, n in enumerate(col):
                    ns = [r[m] for m in nb.get(n, ()) if m in r and m not in col]
                    keys[n] = (float(np.mean(ns)) if ns else r[n], i)
                col.sort(key=lambda n: keys[n])


DUMMY_H = 2.0  # a long edge's slot in a column it passes through


def _spacing(a, b) -> float:
    if a.kind != "dummy" and b.kind != "dummy":
        return VSPACE
    return 10.0 if (a.kind == "dummy") != (b.kind == "dummy") else 6.0


@dataclass
class _Grid:
    """The layout in progress: columns of node names (dummies included) and the links between them."""

    boxes: dict
    links: list  # (key, src node, src port, dst node, dst port)
    cols: list = field(default_factory=list)
    chains: dict = field(default_factory=dict)  # forward link -> the nodes it passes, source to destination
    back: set = field(default_factory=set)  # links that go back (or to their own column)
    col_x: list = field(default_factory=list)
    col_w: list = field(default_factory=list)

    @property
    def ncols(self) -> int:
        return len(self.cols)

    def y_at(self, key, s_port, d_port, col) -> float:
        """Height of forward link ``key`` in column ``col``."""
        chain = self.chains[key]
        n = chain[col - self.boxes[chain[0]].col]
        if n == chain[0]:
            return self.boxes[n].out_anchor(s_port)[1]
        if n == chain[-1]:
            return self.boxes[n].in_anchor(d_port)[1]
        return self.boxes[n].y


def compute_layout(graph, value_texts: Optional[Mapping[str, str]] = None, measure: Optional[TextMeasure] = None
                   ) -> Layout:
    """Lay a :class:`~brainsim.graph.BrainGraph` out (see the module docstring), in phases: boxes, columns
    (long links get a slot in each column crossed; barycenter ordering), vertical stacking, edge labels in
    the gaps, x positions, forward routes, back routes (labels in rows above), bounds."""
    m = measure or TextMeasure()
    boxes = _make_boxes(graph, m)
    grid = _Grid(boxes, _links(graph))
    _make_columns(grid, graph.spec)
    _stack_columns(grid)
    labels, label_gap, gap_w = _place_labels(grid, graph, value_texts or {}, m)
    _place_columns(grid, labels, label_gap, gap_w)
    routes = _forward_routes(grid, labels, label_gap)
    routes.update(_back_routes(grid, labels, label_gap))
    bounds = _bounds(boxes, labels, routes)
    boxes = {k: b for k, b in boxes.items() if b.kind != "dummy"}
    return Layout(boxes, labels, routes, grid.back, bounds)


def _make_boxes(graph, m: TextMeasure) -> dict:
    """One box per input, area and named output, sized to its text; columns: inputs, schedule generations,
    outputs, with empty columns dropped."""
    spec = graph.spec
    gen_of = {n: g for g, gen in enumerate(graph.schedule) for n in gen}
    used_by_cost = {}
    for n in graph.areas.values():
        for c, _ in n.costs:
            for opt in ("target", "mask"):
                if opt in c.opts:
                    used_by_cost.setdefault(c.opts[opt], f"{opt} of {n.name}")
    connected = {e.src.node for e in graph.edges} | {e.gate.node for e in graph.edges if e.gate is not None}

    boxes: dict = {}
    for name, dim in spec.inputs:
        sub = f"input [{dim}]" if name in connected or name not in used_by_cost else f"{used_by_cost[name]} [{dim}]"
        boxes[name] = _Box(name, "input", 0, name, sub, INPUT_COLOR)
    out_col = len(graph.schedule) + 1
    for name, node in graph.areas.items():
        rep = f" ×{node.replicas}" if node.replicas > 1 else ""
        ins = tuple(p for p in node.area.inputs if any(e.dst.node == name and e.dst.port == p for e in graph.edges))
        used = {e.src.port for e in graph.edges if e.src.node == name}
        used |= {e.gate.port for e in graph.edges if e.gate is not None and e.gate.node == name}
        used |= {ref.port for _, ref in spec.outputs if ref.node == name}
        outs = tuple(p for p in node.area.outputs if p in used)
        boxes[name] = _Box(name, "area", gen_of[name] + 1, name, f"{node.area.type_name}{rep}",
                           type_color(node.area), node.replicas, ins, outs)
    for oname, ref in spec.outputs:
        key = f"output:{oname}"
        boxes[key] = _Box(key, "output", out_col, oname, f"= {ref}", OUTPUT_COLOR)
    for b in boxes.values():
        b.tsize = m.size(b.title, TITLE_FS, "bold")
        b.ssize = m.size(b.subtitle, SUB_FS)
        b.w = max(b.tsize[0], b.ssize[0]) + 14
        b.h = max(b.tsize[1] + b.ssize[1] + 10, 11.0 * max(len(b.in_ports), len(b.out_ports), 1) + 6)

    used_cols = sorted({b.col for b in boxes.values()})  # drop empty columns
    remap = {c: i for i, c in enumerate(used_cols)}
    for b in boxes.values():
        b.col = remap[b.col]
    return boxes


def _links(graph) -> list:
    """Signal edges (labelled) and output edges, as ``(key, src node, src port, dst node, dst port)``."""
    links = [(e.name, e.src.node, e.src.port, e.dst.node, e.dst.port) for e in graph.edges]
    links += [(f"output:{o}", ref.node, ref.port, f"output:{o}", None) for o, ref in graph.spec.outputs]
    return links


def _make_columns(grid: _Grid, spec) -> None:
    """Fill the columns; a forward link gets a dummy slot in each column it crosses, a link to the same
    or an earlier column is a back link; then order the columns (barycenter sweeps)."""
    boxes = grid.boxes
    ncols = len({b.col for b in boxes.values()})
    cols: list = [[] for _ in range(ncols)]
    for b in boxes.values():
        cols[b.col].append(b.name)
    cols[0].sort(key=lambda n: [k for k, _ in spec.inputs].index(n) if n in spec.input_dims else 0)
    for c in range(1, ncols):
        cols[c].sort()
    preds: dict = {}
    succs: dict = {}
    for key, s, _, d, _ in grid.links:
        cs, cd = boxes[s].col, boxes[d].col
        if cs >= cd:
            grid.back.add(key)
            continue
        chain = [s]
        for c in range(cs + 1, cd):
            dn = f"~{key}@{c}"
            boxes[dn] = _Box(dn, "dummy", c, "", "", "none", h=DUMMY_H)
            cols[c].append(dn)
            chain.append(dn)
        chain.append(d)
        grid.chains[key] = chain
        for a, b in zip(chain[:-1], chain[1:]):
            succs.setdefault(a, []).append(b)
            preds.setdefault(b, []).append(a)
    _order_columns(cols, preds, succs)
    grid.cols = cols


def _stack_columns(grid: _Grid) -> None:
    """Vertical positions: each column stacked with its spacings, centred on the tallest."""
    boxes = grid.boxes

    def stack_h(col):
        return sum(boxes[n].h for n in col) + sum(_spacing(boxes[a], boxes[b]) for a, b in zip(col[:-1], col[1:]))

    H = max(stack_h(col) for col in grid.cols)
    for col in grid.cols:
        top = H / 2 + stack_h(col) / 2
        for i, n in enumerate(col):
            b = boxes[n]
            b.y = top - b.h / 2
            top -= b.h + (_spacing(b, boxes[col[i + 1]]) if i + 1 < len(col) else 0)


def _place_labels(grid: _Grid, graph, value_texts: Mapping[str, str], m: TextMeasure) -> tuple:
    """Every edge's label; a forward edge's goes into the least loaded gap it spans, wanted halfway
    between the link's heights on either side.  Returns ``(labels, label_gap, gap widths)``."""
    boxes, ncols = grid.boxes, grid.ncols
    labels: dict = {}
    label_gap: dict = {}
    load = [0.0] * max(ncols - 1, 1)
    edge_of = {e.name: e for e in graph.edges}
    for key, s, sp, d, dp in grid.links:
        if key not in edge_of:
            continue
        text = _edge_text(edge_of[key], value_texts.get(key))
        w, h = m.size(text, LABEL_FS)
        lab = _Label(key, text, w + 6, h + 4)
        labels[key] = lab
        if key in grid.back:
            continue
        cs, cd = boxes[s].col, boxes[d].col
        gap = min(range(cs, cd), key=lambda g: (load[g], g))
        load[gap] += lab.h
        label_gap[key] = gap
        lab.want = (grid.y_at(key, sp, dp, gap) + grid.y_at(key, sp, dp, gap + 1)) / 2
    gap_w = [MIN_GAP] * max(ncols - 1, 0)
    for key, g in label_gap.items():
        gap_w[g] = max(gap_w[g], labels[key].w + 2 * CLEAR)
    return labels, label_gap, gap_w


def _place_columns(grid: _Grid, labels: dict, label_gap: dict, gap_w: list) -> None:
    """x positions of the columns (and their boxes), then the labels of each gap packed vertically."""
    boxes, cols, ncols = grid.boxes, grid.cols, grid.ncols
    col_w = [max([boxes[n].w for n in col if boxes[n].kind != "dummy"] or [10.0]) for col in cols]
    x = MARGIN
    col_x = []
    for c in range(ncols):
        col_x.append(x)
        x += col_w[c] + (gap_w[c] if c < ncols - 1 else 0)
    for b in boxes.values():
        b.x = col_x[b.col] + (col_w[b.col] - b.w) / 2 if b.kind != "dummy" else col_x[b.col]
        if b.kind == "dummy":
            b.w = col_w[b.col]
    for g in range(ncols - 1):
        items = [labels[k] for k, gg in label_gap.items() if gg == g]
        for it in items:
            it.x = col_x[g] + col_w[g] + gap_w[g] / 2
        _pack_1d(items, LABEL_SEP)
    grid.col_x, grid.col_w = col_x, col_w


def _forward_routes(grid: _Grid, labels: dict, label_gap: dict) -> dict:
    """Forward links: horizontal runs (through their dummy slots and their label) joined by S-curves."""
    boxes, col_x, col_w = grid.boxes, grid.col_x, grid.col_w
    routes: dict = {}
    for key, s, sp, d, dp in grid.links:
        if key in grid.back:
            continue
        chain = grid.chains[key]
        runs = [(boxes[s].out_anchor(sp)[0], boxes[s].out_anchor(sp)[0], boxes[s].out_anchor(sp)[1])]
        for c, n in enumerate(chain[1:-1], start=boxes[s].col + 1):
            if key in label_gap and label_gap[key] == c - 1:
                lab = labels[key]
                runs.append((lab.x - lab.w / 2, lab.x + lab.w / 2, lab.y))
            runs.append((col_x[c], col_x[c] + col_w[c], boxes[n].y))
        if key in label_gap and label_gap[key] == boxes[d].col - 1:
            lab = labels[key]
            runs.append((lab.x - lab.w / 2, lab.x + lab.w / 2, lab.y))
        ax_, ay_ = boxes[d].in_anchor(dp)
        runs.append((ax_, ax_, ay_))
        routes[key] = ("smooth", runs)
    return routes


def _back_routes(grid: _Grid, labels: dict, label_gap: dict) -> dict:
    """Back links: out to the right, up to a band above everything, left, down, in from the left; their
    labels sit on the top run, packed into rows."""
    boxes, col_x, col_w, back = grid.boxes, grid.col_x, grid.col_w, grid.back
    top = max([b.top + 6 * (b.replicas > 1) for b in boxes.values()] +
              [labels[k].y + labels[k].h / 2 for k in label_gap])
    k_out: dict = {}
    k_in: dict = {}
    runs_x: dict = {}
    for key, s, sp, d, dp in sorted((lk for lk in grid.links if lk[0] in back), key=lambda lk: lk[0]):
        cs, cd = boxes[s].col, boxes[d].col
        k_out[cs] = k_out.get(cs, -1) + 1
        k_in[cd] = k_in.get(cd, -1) + 1
        xs = col_x[cs] + col_w[cs] + 5 + 3 * (k_out[cs] % 4)
        xd = col_x[cd] - 5 - 3 * (k_in[cd] % 4)
        runs_x[key] = (xs, xd)
        labels[key].x = (xs + xd) / 2
    rows: list = []  # [intervals, height, labels]
    for key in sorted(back, key=lambda k: (labels[k].x, k)):
        lab = labels[key]
        lo, hi = lab.x - lab.w / 2 - LABEL_SEP, lab.x + lab.w / 2 + LABEL_SEP
        for row in rows:
            if all(hi <= a or lo >= b for a, b in row[0]):
                row[0].append((lo, hi))
                row[1] = max(row[1], lab.h)
                row[2].append(lab)
                break
        else:
            rows.append([[(lo, hi)], lab.h, [lab]])
    y = top + 22
    for _, h, labs in rows:
        for lab in labs:
            lab.y = y + h / 2
        y += h + LABEL_SEP
    routes: dict = {}
    for key, s, sp, d, dp in grid.links:
        if key not in back:
            continue
        xs, xd = runs_x[key]
        p0 = boxes[s].out_anchor(sp)
        p1 = boxes[d].in_anchor(dp)
        yb = labels[key].y
        routes[key] = ("ortho", [p0, (xs, p0[1]), (xs, yb), (xd, yb), (xd, p1[1]), p1])
    return routes


def _bounds(boxes: dict, labels: dict, routes: dict) -> tuple:
    """``(xmin, ymin, xmax, ymax)`` of boxes (and their replica stacks), labels and routes."""
    xs_, ys_ = [], []
    for b in boxes.values():
        if b.kind != "dummy":
            xs_ += [b.x, b.x + b.w + 6]
            ys_ += [b.bottom, b.top + 6]
    for lab in labels.values():
        xs_ += [lab.x - lab.w / 2, lab.x + lab.w / 2]
        ys_ += [lab.y - lab.h / 2, lab.y + lab.h / 2]
    for kind, pts in routes.values():
        for p in pts:
            xs_ += [p[0], p[1]] if kind == "smooth" else [p[0]]
            ys_ += [p[2]] if kind == "smooth" else [p[1]]
    return (min(xs_), min(ys_), max(xs_), max(ys_))


# --------------------------------------------------------------------------- drawing

def _curve(p0, p3, bend: float = 0.5) -> list:
    """Control points of a cubic from p0 to p3 with horizontal tangents at both ends."""
    dx = (p3[0] - p0[0]) * bend
    return [p0, (p0[0] + dx, p0[1]), (p3[0] - dx, p3[1]), p3]


def _route_path(route) -> MPath:
    kind, pts = route
    if kind == "smooth":
        verts, codes = [(pts[0][0], pts[0][2])], [MPath.MOVETO]
        prev = (pts[0][1], pts[0][2])
        if pts[0][1] > pts[0][0]:
            verts.append(prev)
            codes.append(MPath.LINETO)
        for x0, x1, y in pts[1:]:
            verts += _curve(prev, (x0, y))[1:]
            codes += [MPath.CURVE4] * 3
            if x1 > x0:
                verts.append((x1, y))
                codes.append(MPath.LINETO)
            prev = (x1, y)
        return MPath(verts, codes)
    r = 7.0
    verts, codes = [pts[0]], [MPath.MOVETO]
    for i in range(1, len(pts) - 1):
        p, a, b = np.asarray(pts[i]), np.asarray(pts[i - 1]), np.asarray(pts[i + 1])
        l_in, l_out = np.linalg.norm(p - a), np.linalg.norm(b - p)
        if l_in < 1e-9 or l_out < 1e-9:
            continue
        rr = min(r, l_in / 2, l_out / 2)
        verts += [tuple(p - (p - a) / l_in * rr), tuple(p), tuple(p + (b - p) / l_out * rr)]
        codes += [MPath.LINETO, MPath.CURVE3, MPath.CURVE3]
    verts.append(pts[-1])
    codes.append(MPath.LINETO)
    return MPath(verts, codes)


def edge_widths(values: Mapping[str, float]) -> dict:
    """Flow-mode line widths: affine in the value, 0 -> ``MIN_W``, the largest -> ``MAX_W`` (points)."""
    vmax = max([float(v) for v in values.values() if np.isfinite(v)] + [0.0])
    return {k: MIN_W + (MAX_W - MIN_W) * (max(float(v), 0.0) / vmax if vmax > 0 and np.isfinite(v) else 0.0)
            for k, v in values.items()}


def draw_wiring(wiring: Any, *, edge_values: Optional[Mapping[str, float]] = None,
                value_name: str = "mean |signal|", value_format: str = "{:.3g}", title: Optional[str] = None,
                overrides: Optional[Mapping[str, Any]] = None, dpi: float = 100):
    """Draw a wiring (architecture) left to right.

    Args:
        wiring: a wiring path, a canonical wiring name (``"pbwm"``), a :class:`~brainsim.brain.Brain` or a
            :class:`~brainsim.graph.BrainGraph`.
        edge_values: flow mode: ``{"e<i>": value}`` (e.g. the mean |signal| per edge); widths are affine
            in the value (0 is the thinnest) and labels show ``value_name`` and the value.
        value_name: what the values are, for labels and the legend.
        title: defaults to the wiring's name (and description).
        overrides: ``{dotted.path: value}`` applied when ``wiring`` is a path or name.

    Returns:
        A :class:`matplotlib.figure.Figure` sized to fit (1 data unit = 1 point). ``fig.brainsim`` holds
        ``edge_artists``, ``edge_widths``, ``label_artists``, ``gate_markers``, ``node_artists``,
        ``title_artist`` and the ``layout`` (used by the animation).
    """
    graph = resolve_graph(wiring, overrides)
    m = TextMeasure()
    value_texts = None
    if edge_values is not None:
        missing = [e.name for e in graph.edges if e.name not in edge_values]
        if missing:
            raise VizError(f"edge_values has no value for edge(s) {', '.join(missing)}",
                           hint="give one value per edge name e<i> of the wiring")
        short = value_name.replace("mean ", "")
        value_texts = {e.name: f"{short} " + value_format.format(float(edge_values[e.name])) for e in graph.edges}
    lay = compute_layout(graph, value_texts, m)
    xmin, ymin, xmax, ymax = lay.bounds

    # ---- title and legend bands
    spec = graph.spec
    head = title if title is not None else f"wiring '{spec.name}'"
    width = max(xmax - xmin, 260.0)
    hw, hh = m.size(head, HEAD_FS, "bold")
    width = max(width, hw)
    desc = _fit(m, " ".join(spec.description.split()), SUB_FS, width) if title is None and spec.description else ""
    dh = m.size(desc, SUB_FS)[1] + 2 if desc else 0.0
    legend = _legend_items(graph, edge_values is not None, value_name, edge_values)
    leg_rows = _legend_rows(m, legend, width)
    leg_h = 16.0 * len(leg_rows) + 6
    X0, X1 = xmin - MARGIN, xmin + width + MARGIN
    Y0 = ymin - MARGIN - leg_h
    Y1 = ymax + MARGIN + hh + dh + 8
    fig = new_figure((X1 - X0) / 72, (Y1 - Y0) / 72, dpi=dpi)
    ax = fig.add_axes([0, 0, 1, 1])
    ax.set_xlim(X0, X1)
    ax.set_ylim(Y0, Y1)
    ax.set_axis_off()
    title_artist = ax.text(xmin, Y1 - 6 - hh / 2, head, fontsize=HEAD_FS, fontweight="bold", ha="left", va="center",
                           gid="title")
    if desc:
        ax.text(xmin, Y1 - 6 - hh - 1 - dh / 2, desc, fontsize=SUB_FS, ha="left", va="center", color="#444444",
                style="italic", gid="description")

    # ---- edges
    widths = edge_widths(edge_values) if edge_values is not None else {e.name: 1.1 for e in graph.edges}
    if edge_values is not None:
        import matplotlib

        cmap = matplotlib.colormaps["Blues"]
        vmax = max([float(v) for v in edge_values.values() if np.isfinite(v)] + [0.0])
        colors = {k: cmap(0.35 + 0.65 * (max(float(v), 0) / vmax if vmax > 0 and np.isfinite(v) else 0.0))
                  for k, v in edge_values.items()}
    else:
        colors = {e.name: EDGE_COLOR for e in graph.edges}
    edge_artists, label_artists, gate_markers, gate_lines = {}, {}, {}, {}
    n_gated = sum(e.gate is not None for e in graph.edges)
    for e in graph.edges:
        w = widths[e.name]
        art = FancyArrowPatch(path=_route_path(lay.routes[e.name]), arrowstyle="-|>", mutation_scale=7 + 1.2 * w, lw=w,
                              color=colors[e.name], linestyle=(0, (4, 2.5)) if e.delay else "-",
                              zorder=1, gid=f"edge:{e.name}", shrinkA=0, shrinkB=0)
        ax.add_artist(art)
        edge_artists[e.name] = art
        lab = lay.labels[e.name]
        label_artists[e.name] = ax.text(lab.x, lab.y, lab.text, fontsize=LABEL_FS, ha="center", va="center",
                                        multialignment="center", zorder=4, gid=f"label:{e.name}",
                                        bbox=dict(boxstyle="round,pad=0.12", fc="white", ec="#BBBBBB", lw=0.4,
                                                  alpha=0.92))
        if e.gate is not None:
            gx, gy = lab.x - lab.w / 2 - 3, lab.y
            (mk,) = ax.plot([gx], [gy], marker="D", ms=4.5, mfc=GATE_COLOR, mec=GATE_COLOR, zorder=5, ls="none",
                            gid=f"gate:{e.name}")
            gate_markers[e.name] = mk
            if n_gated > MAX_GATE_LINES:  # too many to draw: the labels name the source
                continue
            src = lay.boxes[e.gate.node]
            p0 = src.out_anchor(e.gate.port) if src.kind == "area" else src.out_anchor(None)
            verts = _curve(p0, (gx, gy), 0.4)
            gl = PathPatch(MPath(verts, [MPath.MOVETO, MPath.CURVE4, MPath.CURVE4, MPath.CURVE4]), fill=False,
                           ec=GATE_COLOR, lw=0.8, ls=(0, (1, 1.5)), alpha=0.7, zorder=2, gid=f"gateline:{e.name}")
            ax.add_artist(gl)
            gate_lines[e.name] = gl
    # outputs
    for oname, ref in spec.outputs:
        ax.add_artist(FancyArrowPatch(path=_route_path(lay.routes[f"output:{oname}"]), arrowstyle="-|>",
                                      mutation_scale=8, lw=1.1, color=EDGE_COLOR, zorder=1, shrinkA=0, shrinkB=0,
                                      gid=f"output:{oname}"))

    # ---- boxes
    node_artists = {}
    for b in lay.boxes.values():
        style = "round,pad=0,rounding_size=5" if b.kind != "input" else "round,pad=0,rounding_size=9"
        for k in range(min(b.replicas, 3) - 1, 0, -1):  # stacked copies behind a replicated area
            ax.add_artist(FancyBboxPatch((b.x + 3 * k, b.bottom + 3 * k), b.w, b.h, boxstyle=style, fc=b.color,
                                        ec="#333333", lw=0.7, zorder=3, alpha=0.85))
        patch = FancyBboxPatch((b.x, b.bottom), b.w, b.h, boxstyle=style, fc=b.color, ec="#333333",
                               lw=1.3 if b.kind == "output" else 0.9, zorder=3, gid=f"node:{b.name}")
        ax.add_artist(patch)
        node_artists[b.name] = patch
        ax.text(b.cx, b.y + (b.ssize[1] + 2) / 2, b.title, fontsize=TITLE_FS, fontweight="bold", ha="center",
                va="center", zorder=5)
        ax.text(b.cx, b.y - (b.tsize[1] + 2) / 2, b.subtitle, fontsize=SUB_FS, ha="center", va="center", zorder=5,
                color="#222222")

    # ---- legend
    _draw_legend(ax, m, leg_rows, xmin, ymin - MARGIN - 10)
    fig.brainsim = {"edge_artists": edge_artists, "edge_widths": widths, "label_artists": label_artists,
                    "gate_markers": gate_markers, "gate_lines": gate_lines, "node_artists": node_artists,
                    "title_artist": title_artist, "layout": lay, "graph": graph}
    return fig


def _fit(m: TextMeasure, text: str, fs: float, width: float, weight: str = "normal") -> str:
    if m.size(text, fs, weight)[0] <= width:
        return text
    while len(text) > 4 and m.size(text + "…", fs, weight)[0] > width:
        text = text[:-1]
    return text.rstrip() + "…"


def _legend_items(graph, flow: bool, value_name: str, values) -> list:
    items = [("box", INPUT_COLOR, "external input")]
    classes = {type(n.area).type_name: type(n.area) for n in graph.areas.values()}
    for t in sorted(classes):
        items.append(("box", type_color(classes[t]), t))
    if graph.spec.outputs:
        items.append(("box", OUTPUT_COLOR, "named output"))
    items.append(("line", "-", "same-step edge"))
    if any(e.delay for e in graph.edges):
        items.append(("line", (0, (4, 2.5)), "delayed edge (delay d)"))
    if any(e.gate is not None for e in graph.edges):
        items.append(("gate", None, "gated by (gate: source)"))
    if any(e.projection for e in graph.edges):
        items.append(("text", "W", "learned projection (W a→b)"))
    if any(n.replicas > 1 for n in graph.areas.values()):
        items.append(("replicas", None, "replicated area (×K)"))
    if flow:
        vmax = max([float(v) for v in values.values() if np.isfinite(v)] + [0.0])
        items.append(("width", None, f"width ∝ {value_name} (max {vmax:.3g})"))
    return items


def _legend_rows(m: TextMeasure, items: list, width: float) -> list:
    rows, cur, x = [], [], 0.0
    for it in items:
        w = 22 + m.size(it[2], LEGEND_FS)[0] + 14
        if cur and x + w > width:
            rows.append(cur)
            cur, x = [], 0.0
        cur.append((it, x, w))
        x += w
    if cur:
        rows.append(cur)
    return rows


def _draw_legend(ax, m: TextMeasure, rows: list, x0: float, y_top: float) -> None:
    y = y_top
    for row in rows:
        for (kind, style, text), x, _ in row:
            xx = x0 + x
            if kind == "box":
                ax.add_artist(Rectangle((xx, y - 5), 16, 10, fc=style, ec="#333333", lw=0.7))
            elif kind == "replicas":
                for k in (2, 1, 0):
                    ax.add_artist(Rectangle((xx + 2 * k, y - 5 + 2 * k), 12, 8, fc="white", ec="#333333", lw=0.7))
            elif kind == "line":
                ax.plot([xx, xx + 16], [y, y], color=EDGE_COLOR, lw=1.1, ls=style)
            elif kind == "gate":
                ax.plot([xx, xx + 16], [y, y], color=GATE_COLOR, lw=0.8, ls=(0, (1, 1.5)))
                ax.plot([xx + 16], [y], marker="D", ms=4, color=GATE_COLOR)
            elif kind == "width":
                for k, lw in enumerate((MIN_W, 2.5, MAX_W)):
                    ax.plot([xx + 6 * k, xx + 6 * k + 5], [y, y], color="#2171B5", lw=lw, solid_capstyle="butt")
            elif kind == "text":
                ax.add_artist(Rectangle((xx, y - 5), 16, 10, fc="white", ec="#BBBBBB", lw=0.5))
                ax.text(xx + 8, y, style, fontsize=LEGEND_FS - 1, ha="center", va="center", fontweight="bold")
            ax.text(xx + 22, y, text, fontsize=LEGEND_FS, ha="left", va="center")
        y -= 16
