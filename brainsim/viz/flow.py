"""Information flow: what each edge carried, when gates opened, how areas were active.

A flow recording is one evaluation trial of a trained brain (``RunContext.save_flow`` writes it to
``RUN/flow/<wiring>.npz``; :meth:`FlowData.from_trace` builds one from ``Brain.flow`` in a notebook).
Shapes (``T`` time steps of the trial):

* ``arrays["area.port"]``: ``[T, d]`` every area output; ``arrays[input]``: ``[T, d]`` every external input;
* ``arrays["edge:e<i>"]``: ``[T]`` mean |signal| delivered on edge i (after weight and gate, before projection);
* ``arrays["gate:e<i>"]``: ``[T]`` mean gate value on edge i (1 when ungated);
* ``labels``: ``T`` strings (e.g. the input symbol at each step), possibly empty.

Figures: :func:`plot_flow` (the wiring with edge widths from the recording), :func:`animate_flow` (a GIF,
one frame per step), :func:`plot_gate_raster`, :func:`plot_activity`; numbers: :func:`edge_magnitudes`,
:func:`gate_openness`, :func:`edge_information` (a linear-Gaussian mutual-information estimate, capped
by the entropy of what the edge carries).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from ..rundir import RunDir
from ._common import GATE_COLOR, TextMeasure, VizError, inch_axes, new_figure
from .drawing import MAX_W, MIN_W, draw_wiring, resolve_graph

MEASURES = ("magnitude", "mi")


@dataclass
class FlowData:
    """One recorded evaluation trial and the graph it ran on.

    Attributes:
        graph: the :class:`~brainsim.graph.BrainGraph`.
        arrays: ``{"area.port" | input | "edge:e<i>" | "gate:e<i>": array}`` (shapes in the module docstring).
        labels: one label per step (may be empty).
        name: the wiring name (the recording's file stem).
        wiring: the wiring file path, when known; overrides: the ``{dotted.path: value}`` applied to it.
    """

    graph: Any
    arrays: dict
    labels: list = field(default_factory=list)
    name: str = "wiring"
    wiring: Optional[str] = None
    overrides: dict = field(default_factory=dict)

    @property
    def T(self) -> int:
        """Number of time steps of the trial."""
        edge = next((v for k, v in self.arrays.items() if k.startswith("edge:")), None)
        if edge is not None:
            return int(edge.shape[0])
        return int(next(iter(self.arrays.values())).shape[0]) if self.arrays else 0

    @classmethod
    def from_trace(cls, brain_or_graph: Any, trace: Mapping[str, Any], sample: int = 0,
                   labels: Optional[Sequence[str]] = None, name: Optional[str] = None) -> "FlowData":
        """Build from ``Brain.flow(...)`` output (``[T, B, ...]`` arrays): keep batch element ``sample``."""
        graph = resolve_graph(brain_or_graph)
        arrays = {}
        for k, v in trace.items():
            a = np.asarray(v)
            if a.ndim < 2:
                raise VizError(f"flow trace entry '{k}' has shape {a.shape}; expected [T, B, ...] from Brain.flow")
            arrays[k] = np.asarray(a[:, sample], dtype=np.float32)
        return cls(graph, arrays, list(labels or []), name or graph.spec.name)

    def signal(self, ref) -> np.ndarray:
        """``[T, d]`` values of a :class:`~brainsim.wiring.Ref` (area output or external input, channel applied)."""
        key = ref.node if ref.port is None else f"{ref.node}.{ref.port}"
        if key not in self.arrays:
            raise VizError(f"the flow recording of '{self.name}' has no signal '{key}'",
                           hint="record it again with RunContext.save_flow / Brain.flow (they keep every output)")
        v = np.asarray(self.arrays[key], dtype=np.float64)
        v = v.reshape(v.shape[0], -1)
        return v if ref.channel is None else v[:, ref.channel:ref.channel + 1]

    def edge_trace(self, edge_name: str, kind: str = "edge") -> np.ndarray:
        key = f"{kind}:{edge_name}"
        if key not in self.arrays:
            raise VizError(f"the flow recording of '{self.name}' has no '{key}' (was it made with the same wiring?)",
                           hint="re-run the scenario, or pass the wiring the recording was made with")
        return np.asarray(self.arrays[key], dtype=np.float64).reshape(-1)


def load_flow(path: "str | Path", wiring: Optional[str] = None) -> FlowData:
    """Read a flow recording: an ``.npz`` file, or a run directory (``wiring`` picks one of its recordings).

    Raises:
        VizError: the file or directory is missing, unreadable, or its wiring cannot be found.
    """
    p = Path(path)
    if p.is_dir():
        files = flow_files(p)
        if wiring is not None:
            files = [f for f in files if f.stem == Path(wiring).stem]
            if not files:
                raise VizError(f"run directory '{p}' has no flow recording for wiring '{wiring}'", str(p),
                               hint="recordings: " + ", ".join(f.stem for f in flow_files(p)))
        p = files[0]
    if not p.exists():
        raise VizError(f"flow recording '{p}' does not exist", str(p),
                       hint="scenarios write RUN/flow/<wiring>.npz with ctx.save_flow(...); run one first")
    try:
        with np.load(p, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except Exception as e:  # zipfile / ValueError / OSError: report, never crash the CLI
        raise VizError(f"cannot read flow recording '{p}': {type(e).__name__}: {e}", str(p)) from None
    wpath = str(data.pop("wiring")) if "wiring" in data else None
    try:
        overrides = json.loads(str(data.pop("overrides"))) if "overrides" in data else {}
    except json.JSONDecodeError:
        overrides = {}
    labels = [str(x) for x in data.pop("labels", np.asarray([]))]
    graph = _load_recorded_graph(p, wpath, overrides)
    arrays = {k: np.asarray(v) for k, v in data.items()}
    return FlowData(graph, arrays, labels, p.stem, wpath, overrides)


def _load_recorded_graph(npz: Path, wpath: Optional[str], overrides: dict):
    from ..brain import load
    from ..wiring import WIRING_DIR

    candidates = [Path(wpath)] if wpath else []
    candidates.append(WIRING_DIR / f"{npz.stem}.yaml")  # the canonical wiring of that name
    for c in candidates:
        if c.exists():
            return load(c, overrides or None).graph
    raise VizError(f"the wiring of flow recording '{npz}' was not found (tried: {', '.join(map(str, candidates))})",
                   str(npz), hint="the run directory was moved away from its wiring files: put the wiring at one "
                                  "of these paths")


def flow_files(run_dir: "str | Path") -> list:
    """The flow recordings ``RUN/flow/*.npz`` of a run directory (sorted)."""
    return RunDir(run_dir).flow_files()


# --------------------------------------------------------------------------- numbers per edge

def edge_magnitudes(flow: FlowData) -> dict:
    """``{"e<i>": mean over the trial of the mean |signal| delivered on edge i}``."""
    return {e.name: float(np.mean(flow.edge_trace(e.name))) for e in flow.graph.edges}


def gate_openness(flow: FlowData) -> dict:
    """``{"e<i>": mean gate value over the trial}`` (1.0 for ungated edges)."""
    return {e.name: float(np.mean(flow.edge_trace(e.name, "gate"))) for e in flow.graph.edges}


def _delivered(flow: FlowData, e) -> np.ndarray:
    """``[T, src_dim]``: what edge ``e`` delivers at each step: weight * gate * source(t - delay)."""
    x = flow.signal(e.src)
    T = x.shape[0]
    if e.delay:
        x = np.concatenate([np.zeros((min(e.delay, T), x.shape[1])), x[:max(T - e.delay, 0)]])
    y = e.weight * x
    if e.gate is not None:
        y = y * flow.signal(e.gate)
    return y


def gaussian_mi(x: np.ndarray, y: np.ndarray, eps: float = 1e-2, max_dim: int = 8) -> float:
    """Linear-Gaussian mutual information (bits) between ``x`` ``[T, dx]`` and ``y`` ``[T, dy]``.

    ``I = ½ log2(det Σx det Σy / det Σxy)`` on the (at most ``max_dim``, and at most ``T/4``) principal
    components of each side, each whitened, with ``eps`` added to the diagonal: a noise floor of
    ``eps`` times each component's variance on both sides, so a noiseless copy is finite
    (``½ log2((1 + eps)² / (2 eps + eps²))`` ≈ 2.8 bits per component for the default). A constant side
    carries no information: 0.  The estimate is capped by the plug-in entropy of either side
    (:func:`plugin_entropy`), since ``I(X; Y) <= min(H(X), H(Y))``: a one-hot edge over 8 symbols never
    scores more than 3 bits, however many components the Gaussian model sees.
    """
    def prep(a):
        a = np.asarray(a, np.float64).reshape(a.shape[0], -1)
        a = a - a.mean(axis=0)
        if a.shape[0] < 3:
            return None
        u, s, _ = np.linalg.svd(a, full_matrices=False)
        var = s ** 2
        if var.sum() <= 1e-12:
            return None
        keep = var > 1e-9 * var.sum()
        k = int(min(max_dim, keep.sum(), max(1, a.shape[0] // 4)))
        return u[:, :k] * np.sqrt(a.shape[0] - 1)  # whitened principal components (unit variance)

    px, py = prep(x), prep(y)
    if px is None or py is None:
        return 0.0
    z = np.concatenate([px, py], axis=1)
    cov = np.cov(z, rowvar=False) + eps * np.eye(z.shape[1])
    dx = px.shape[1]
    ld = lambda m: np.linalg.slogdet(m)[1]  # noqa: E731
    mi = 0.5 * (ld(cov[:dx, :dx]) + ld(cov[dx:, dx:]) - ld(cov)) / np.log(2)
    # I(X; Y) <= min(H(X), H(Y)): never report more bits than the recorded values can hold
    return float(min(max(mi, 0.0), plugin_entropy(x), plugin_entropy(y)))


def plugin_entropy(a: np.ndarray, decimals: int = 6) -> float:
    """Plug-in (empirical) entropy in bits of the rows of ``a`` ``[T, d]``, values rounded to ``decimals``.

    A one-hot signal over k symbols gives at most ``log2(k)`` bits; a continuous one at most
    ``log2(T)`` (every row distinct): the most a recording of T steps can say about anything.
    """
    a = np.round(np.asarray(a, np.float64).reshape(np.shape(a)[0], -1), decimals)
    if a.shape[0] == 0:
        return 0.0
    _, counts = np.unique(a, axis=0, return_counts=True)
    p = counts / counts.sum()
    return float(max(-(p * np.log2(p)).sum(), 0.0))


def edge_information(flow: FlowData, eps: float = 1e-2, max_dim: int = 8) -> dict:
    """``{"e<i>": bits}``: linear-Gaussian MI between the source output and the destination input.

    The source side is what the source emitted (``source(t - delay)``); the destination side is what
    the destination port received at ``t``: the sum of every edge into that port (weights and gates
    applied), or, when an edge into the port has a learned projection (its matrix is not recorded),
    the concatenation of what each edge delivered. A gated-off edge whose port receives nothing else
    scores 0.
    """
    out = {}
    ports: dict = {}
    for e in flow.graph.edges:
        ports.setdefault((e.dst.node, e.dst.port), []).append(e)
    for e in flow.graph.edges:
        x = flow.signal(e.src)
        if e.delay:
            T = x.shape[0]
            x = np.concatenate([np.zeros((min(e.delay, T), x.shape[1])), x[:max(T - e.delay, 0)]])
        into = ports[(e.dst.node, e.dst.port)]
        parts = [_delivered(flow, f) for f in into]
        if any(f.projection for f in into) or len({p.shape[1] for p in parts}) > 1:
            y = np.concatenate(parts, axis=1)
        else:
            y = np.sum(parts, axis=0)
        out[e.name] = gaussian_mi(x, y, eps, max_dim)
    return out


def edge_table(flow: FlowData, information: bool = True) -> list:
    """One dict per edge: name, from, to, delay, gate, projection, mean |signal|, mean gate, [MI bits]."""
    mag, gate = edge_magnitudes(flow), gate_openness(flow)
    mi = edge_information(flow) if information else {}
    rows = []
    for e in flow.graph.edges:
        row = {"edge": e.name, "from": str(e.src), "to": str(e.dst), "delay": e.delay,
               "gate": str(e.gate) if e.gate is not None else "", "projection": e.projection or "",
               "mean_abs_signal": mag[e.name], "mean_gate": gate[e.name]}
        if information:
            row["mi_bits"] = mi[e.name]
        rows.append(row)
    return rows


# --------------------------------------------------------------------------- figures

def plot_flow(flow: FlowData, measure: str = "magnitude", **kwargs):
    """The wiring with each edge's width and colour set by what it carried during the trial.

    Args:
        flow: a :class:`FlowData`.
        measure: ``"magnitude"`` (mean |signal|, the default) or ``"mi"`` (:func:`edge_information`, bits).

    Returns:
        A figure (see :func:`~brainsim.viz.draw_wiring`; ``fig.brainsim["edge_widths"]`` has the widths).
    """
    if measure not in MEASURES:
        raise VizError(f"unknown flow measure '{measure}'", hint="measures: " + ", ".join(MEASURES))
    if measure == "mi":
        values, vname = edge_information(flow), "MI (bits)"
    else:
        values, vname = edge_magnitudes(flow), "mean |signal|"
    title = kwargs.pop("title", f"information flow in '{flow.name}' ({vname} per edge, one evaluation trial)")
    return draw_wiring(flow.graph, edge_values=values, value_name=vname, title=title, **kwargs)


def _tick_labels(ax, T: int, labels: Sequence[str], axis: str = "x", max_ticks: int = 160) -> None:
    if labels and len(labels) == T:
        step = max(1, int(np.ceil(T / max_ticks)))
        idx = np.arange(0, T, step)
        getattr(ax, f"set_{axis}ticks")(idx)
        getattr(ax, f"set_{axis}ticklabels")([labels[i] for i in idx], fontsize=6 if step == 1 else 7,
                                             fontfamily="monospace")
        getattr(ax, f"set_{axis}label")("time step (input symbol)")
    else:
        getattr(ax, f"set_{axis}label")("time step")


def _time_width(T: int) -> float:
    return float(np.clip(2.0 + 0.085 * T, 7.0, 24.0))


def plot_gate_raster(flow: FlowData):
    """Gates over time: every area output port named ``gate`` (the basal ganglia's), then every gated edge.

    Rows are channels / edges, columns time steps, the input symbols along the time axis. A wiring
    without gates gets a figure saying so.
    """
    rows, names = [], []
    for name, node in flow.graph.areas.items():
        for port in node.area.outputs:
            if port == "gate" and f"{name}.{port}" in flow.arrays:
                v = np.asarray(flow.arrays[f"{name}.{port}"], np.float64).reshape(flow.T, -1)
                for c in range(v.shape[1]):
                    rows.append(v[:, c])
                    names.append(f"{name}.gate[{c}]")
    for e in flow.graph.edges:
        if e.gate is not None:
            rows.append(flow.edge_trace(e.name, "gate"))
            names.append(f"{e.name}: {e.src} → {e.dst}  (gate {e.gate})")
    T = flow.T
    if not rows:
        fig = new_figure(7.0, 2.0)
        ax = fig.add_subplot()
        ax.set_axis_off()
        ax.text(0.5, 0.55, f"no gates in this wiring ('{flow.name}')", ha="center", va="center", fontsize=13,
                transform=ax.transAxes)
        ax.text(0.5, 0.3, "no area has a 'gate' output and no connection has a `gate:`", ha="center", va="center",
                fontsize=9, color="#555555", transform=ax.transAxes)
        return fig
    data = np.stack(rows)
    lo, hi = min(0.0, float(np.nanmin(data))), max(1.0, float(np.nanmax(data)))
    m = TextMeasure()
    left = max(m.size(n, 7)[0] for n in names) / 72 + 0.3
    W = max(_time_width(T), left + 4.0)
    plot_h = 0.24 * len(rows) + 0.2
    H = plot_h + 0.5 + 0.85
    fig = new_figure(W, H)
    ax = inch_axes(fig, left, 0.85, W - left - 1.1, plot_h)
    im = ax.imshow(data, aspect="auto", interpolation="nearest", cmap="Purples", vmin=lo, vmax=hi)
    ax.set_yticks(range(len(names)))
    ax.set_yticklabels(names, fontsize=7)
    _tick_labels(ax, T, flow.labels)
    ax.set_title(f"gates over one evaluation trial — '{flow.name}'", fontsize=10)
    cb = fig.colorbar(im, cax=inch_axes(fig, W - 0.95, 0.85, 0.12, plot_h))
    cb.set_label("gate openness", fontsize=8)
    cb.ax.tick_params(labelsize=7)
    return fig


def plot_activity(flow: FlowData, max_rows: int = 64):
    """Activity heatmaps: one panel per area (its output ports stacked), time along x.

    Each port is scaled by its own max |value| (colour: -1 blue … +1 red); at most ``max_rows``
    units per area are shown (a note says how many were left out).
    """
    panels = []
    for name, node in flow.graph.areas.items():
        blocks, ticks, total = [], [], 0
        for port in node.area.outputs:
            key = f"{name}.{port}"
            if key not in flow.arrays:
                continue
            v = np.asarray(flow.arrays[key], np.float64).reshape(flow.T, -1).T  # [d, T]
            total += v.shape[0]
            room = max_rows - sum(b.shape[0] for b in blocks)
            if room <= 0:
                continue
            v = v[:room]
            scale = float(np.max(np.abs(v))) or 1.0
            ticks.append((sum(b.shape[0] for b in blocks) + (v.shape[0] - 1) / 2, port))
            blocks.append(v / scale)
        if blocks:
            panels.append((name, node, np.concatenate(blocks), ticks, total, [b.shape[0] for b in blocks]))
    if not panels:
        raise VizError(f"the flow recording of '{flow.name}' holds no area outputs")
    T = flow.T
    heights = [0.18 + 0.045 * max(p[2].shape[0], 3) for p in panels]  # inches per panel
    m = TextMeasure()
    left = max(0.5, max(m.size(port, 7)[0] for p in panels for _, port in p[3]) / 72 + 0.3)
    gap, top, bottom, right = 0.3, 0.45, 0.8, 1.1
    W = max(_time_width(T), left + right + 3.0)
    H = top + bottom + sum(heights) + gap * (len(panels) - 1) + 0.25
    fig = new_figure(W, H)
    y = H - top - 0.25
    axes, im = [], None
    for h, (name, node, img, ticks, total, sizes) in zip(heights, panels):
        y -= h
        ax = inch_axes(fig, left, y, W - left - right, h)
        y -= gap
        axes.append(ax)
        im = ax.imshow(img, aspect="auto", interpolation="nearest", cmap="RdBu_r", vmin=-1, vmax=1)
        for boundary in np.cumsum(sizes)[:-1]:  # separate the ports (never reuse `y`: the panel position)
            ax.axhline(boundary - 0.5, color="black", lw=0.6)
        pitch = h * 72 / max(img.shape[0], 1)  # points per unit row
        kept, last = [], -1e9
        for t, port in ticks:  # drop tick labels that would collide (the title lists every port)
            if (t - last) * pitch >= 8.5:
                kept.append((t, port))
                last = t
        ax.set_yticks([t for t, _ in kept])
        ax.set_yticklabels([p for _, p in kept], fontsize=7)
        rep = f" ×{node.replicas}" if node.replicas > 1 else ""
        more = f"; first {img.shape[0]} of {total} units" if total > img.shape[0] else ""
        ports = ", ".join(p for _, p in ticks)
        ax.set_title(f"{name} ({node.area.type_name}{rep}{more}): {ports}", fontsize=8, loc="left", pad=3)
        ax.tick_params(axis="x", labelbottom=False)
    axes[-1].tick_params(axis="x", labelbottom=True)
    _tick_labels(axes[-1], T, flow.labels)
    fig.suptitle(f"area activity over one evaluation trial — '{flow.name}'", fontsize=10, y=1 - 0.12 / H)
    cb = fig.colorbar(im, cax=inch_axes(fig, W - right + 0.15, bottom, 0.12, H - top - bottom - 0.25))
    cb.set_label("activity / max |activity| of the port", fontsize=8)
    cb.ax.tick_params(labelsize=7)
    return fig


class _Layers:
    """Fast frames: the static drawing is rendered once; each frame renders only the changing artists
    (``under``: below the boxes and labels, on white; ``over``: above them) and composites the layers
    in integer arithmetic."""

    def __init__(self, fig, under: list, over: list):
        self.fig, self.under, self.over = fig, under, over
        dynamic = set(map(id, under + over))
        self.static = [a for a in fig.axes[0].get_children() if id(a) not in dynamic and a.get_visible()]
        self.static += [a for a in fig.texts if a.get_visible()]
        top = self._render(self.static, opaque=False).astype(np.uint16)
        a = top[..., 3:4]
        self.top_keep = 255 - a
        self.top_pm = top[..., :3] * a

    def _render(self, artists: list, opaque: bool) -> np.ndarray:
        keep = set(map(id, artists))
        for a in self.static + self.under + self.over:
            a.set_visible(id(a) in keep)
        self.fig.patch.set_alpha(1.0 if opaque else 0.0)
        self.fig.canvas.draw()
        return np.asarray(self.fig.canvas.buffer_rgba())

    def frame(self) -> np.ndarray:
        below = self._render(self.under, opaque=True)[..., :3].astype(np.uint16)
        img = (below * self.top_keep + self.top_pm + 255) >> 8
        above = self._render(self.over, opaque=False)
        alpha = above[..., 3]
        rows, cols = np.flatnonzero(alpha.any(axis=1)), np.flatnonzero(alpha.any(axis=0))
        if rows.size:
            sl = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
            src = above[sl].astype(np.uint16)
            a = src[..., 3:4]
            img[sl] = (src[..., :3] * a + img[sl] * (255 - a) + 255) >> 8
        return img.astype(np.uint8)


def animate_flow(flow: FlowData, path: "str | Path | None" = None, fps: float = 4.0, max_px: int = 960,
                 max_frames: int = 400):
    """An animation of the trial: one frame per step, edge width = |signal| at that step, gate markers
    filled by gate openness, the step and input symbol in the title.

    Args:
        path: write a GIF there and return the path; without it return the frames ``[T, H, W, 3]`` uint8.
        fps: frames per second of the GIF.
        max_px: the frames' longer side is at most this many pixels.
        max_frames: a longer trial is animated over its first ``max_frames`` steps only (said in the title).
    """
    import matplotlib

    T = min(flow.T, max_frames)
    if T == 0:
        raise VizError(f"the flow recording of '{flow.name}' has no time steps")
    graph = flow.graph
    act = {e.name: flow.edge_trace(e.name) for e in graph.edges}
    gates = {e.name: flow.edge_trace(e.name, "gate") for e in graph.edges}
    vmax = max([float(np.max(v)) for v in act.values()] + [0.0]) or 1.0
    longest = max([len(s) for s in flow.labels] + [1])
    head = lambda t, lab: (f"step {t + 1:>{len(str(flow.T))}}/{flow.T}"  # noqa: E731
                           + (f" · input {lab!r}" if lab is not None else ""))
    note = f"'{flow.name}': edge width ∝ |signal| at this step · ◆ filled = gate open"
    if T < flow.T:
        note += f" (first {T} of {flow.T} steps)"
    placeholder = head(flow.T - 1, "W" * longest if flow.labels else None) + "\n" + note
    fig = draw_wiring(graph, title=placeholder)
    info = fig.brainsim
    title = info["title_artist"]  # only the short first line changes; the second line is static
    tx, ty = title.get_position()
    hh = title.get_window_extent(fig.canvas.get_renderer()).height * 72.0 / fig.dpi
    title.set_position((tx, ty + hh / 4))
    fig.axes[0].text(tx, ty - hh / 4, note, fontsize=8, ha="left", va="center", color="#444444")
    title.set_text(head(T - 1, None))
    w_in, h_in = fig.get_size_inches()
    fig.set_dpi(float(np.clip(max_px / max(w_in, h_in), 30, 100)))
    cmap = matplotlib.colormaps["Blues"]
    gate_rgb = matplotlib.colors.to_rgb(GATE_COLOR)
    under = list(info["edge_artists"].values()) + list(info["gate_lines"].values())
    over = list(info["gate_markers"].values()) + [info["title_artist"]]
    layers = _Layers(fig, under, over)
    frames = []
    for t in range(T):
        for name, art in info["edge_artists"].items():
            r = float(act[name][t]) / vmax
            art.set_linewidth(MIN_W + (MAX_W - MIN_W) * max(r, 0.0))
            art.set_color(cmap(0.3 + 0.7 * float(np.clip(r, 0, 1))))
        for name, mk in info["gate_markers"].items():
            g = float(np.clip(gates[name][t], 0.0, 1.0))
            mk.set_markerfacecolor((*gate_rgb, g))
        for name, gl in info["gate_lines"].items():
            gl.set_alpha(0.15 + 0.85 * float(np.clip(gates[name][t], 0.0, 1.0)))
        lab = flow.labels[t] if len(flow.labels) == flow.T else None
        title.set_text(head(t, lab))
        frames.append(layers.frame())
    if path is None:
        return np.stack(frames)
    from PIL import Image

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ref = Image.fromarray(np.concatenate([frames[0], frames[len(frames) // 2], frames[-1]], axis=0))
    palette = ref.quantize(colors=64, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    ims = [Image.fromarray(f).quantize(palette=palette, dither=Image.Dither.NONE) for f in frames]
    try:
        ims[0].save(path, save_all=True, append_images=ims[1:], duration=int(1000 / fps), loop=0, optimize=False,
                    disposal=1)
    except OSError as e:
        raise VizError(f"cannot write '{path}': {e}", str(path)) from None
    return path
