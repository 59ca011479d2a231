"""brainsim.viz: wiring drawings, flow figures, the trial GIF, cost curves, report.html and the CLI.

One quick 12-AX run (module fixture) feeds every run-directory test; one small gated brain (module
fixture, compiled once) feeds the flow tests.
"""

import base64
import io
import itertools
import json
import textwrap
from html.parser import HTMLParser
from pathlib import Path

import jax
import numpy as np
import pytest
from matplotlib.text import Text
from PIL import Image

import brainsim.viz as viz
from brainsim.brain import from_yaml
from brainsim.cli import main
from brainsim.viz._common import TextMeasure
from _viz_wirings import big_wiring

ROOT = Path(__file__).resolve().parents[2]
WIRINGS = sorted(p for p in (ROOT / "wiring").glob("*.yaml") if not p.name.startswith("_"))  # _*: scratch files


# --------------------------------------------------------------------------- helpers

def _png(path_or_bytes) -> np.ndarray:
    src = io.BytesIO(path_or_bytes) if isinstance(path_or_bytes, bytes) else path_or_bytes
    return np.asarray(Image.open(src).convert("RGB"), dtype=np.float64)


def _not_blank(img: np.ndarray, floor: float = 50.0) -> None:
    assert img.var() > floor, f"image looks blank (pixel variance {img.var():.1f})"


def _text_overlaps(fig) -> list:
    """Pairs of visible, non-empty texts whose rendered bounding boxes intersect."""
    r = fig.canvas.get_renderer()
    fig.canvas.draw()
    boxes = [(t.get_text(), t.get_window_extent(r)) for t in fig.findobj(Text) if t.get_visible() and t.get_text()]
    return [(a[0], b[0]) for a, b in itertools.combinations(boxes, 2) if a[1].overlaps(b[1])]


class _StrictHTML(HTMLParser):
    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.errors, self.imgs, self.text = [], [], [], []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.imgs.append(dict(attrs))
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1] if self.stack else None}>")
        else:
            self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def _check_html(text: str) -> _StrictHTML:
    assert text.startswith("<!DOCTYPE html>")
    assert "http://" not in text and "https://" not in text
    assert "<script" not in text.lower() and "<link" not in text.lower()
    p = _StrictHTML()
    p.feed(text)
    p.close()
    assert not p.errors, p.errors[:5]
    assert p.stack == [], f"unclosed tags: {p.stack}"
    return p


# --------------------------------------------------------------------------- wiring drawings

@pytest.mark.parametrize("path", WIRINGS, ids=[p.stem for p in WIRINGS])
def test_every_wiring_file_draws_readably(path, tmp_path):
    fig = viz.draw_wiring(path)
    graph = fig.brainsim["graph"]
    png = viz.save_figure(fig, tmp_path / "w.png", dpi=80)
    img = _png(png)
    w, h = fig.get_size_inches() * 80
    assert abs(img.shape[1] - w) <= 1 and abs(img.shape[0] - h) <= 1
    _not_blank(img)
    svg = viz.save_figure(fig, tmp_path / "w.svg").read_text()
    for name in graph.areas:
        assert f">{name}<" in svg, f"area {name} missing from the SVG"
    assert set(fig.brainsim["edge_artists"]) == {e.name for e in graph.edges}
    assert _text_overlaps(fig) == []


def test_thirty_area_wiring_labels_do_not_overlap(tmp_path):
    brain = from_yaml(big_wiring(30))
    g = brain.graph
    assert len(g.areas) == 30 and any(e.delay for e in g.edges) and any(e.gate for e in g.edges) \
        and any(e.projection for e in g.edges)
    fig = viz.draw_wiring(brain)
    assert _text_overlaps(fig) == []
    labels = {k: a.get_text() for k, a in fig.brainsim["label_artists"].items()}
    for e in g.edges:
        lab = labels[e.name]
        src = e.src.port if e.src.port else e.src.node
        assert lab.startswith(f"{src} → {e.dst.port}")
        assert (f"delay {e.delay}" in lab) == bool(e.delay)
        assert (f"gate: {e.gate}" in lab) == (e.gate is not None)
        assert (f"W {e.src_dim}→{e.dst_dim}" in lab) == bool(e.projection)
        ls = fig.brainsim["edge_artists"][e.name].get_linestyle()
        assert (ls != "-" and ls != "solid") == bool(e.delay), (e.name, ls)
    assert set(fig.brainsim["gate_markers"]) == {e.name for e in g.edges if e.gate is not None}
    svg = viz.save_figure(fig, tmp_path / "big.svg").read_text()
    assert all(f">{n}<" in svg for n in g.areas)
    _not_blank(_png(viz.save_figure(fig, tmp_path / "big.png", dpi=40)))


def test_replicated_areas_are_stacked_and_the_legend_explains_the_marks():
    brain = from_yaml(textwrap.dedent("""\
        name: cols
        inputs: {x: 3, g: 1}
        areas:
          col: {type: rnn, hidden: 4, replicas: 3}
          out: {type: readout, size: 2}
        connections:
          - x -> col.input
          - {from: col.h, to: out.input, gate: g}
          - {from: out.output, to: col.input, delay: 2, projection: linear}
        outputs: {y: out.output}
        """))
    fig = viz.draw_wiring(brain)
    node = fig.brainsim["node_artists"]["col"]
    x0, y0 = node.get_x(), node.get_y()
    stacked = [p for p in fig.axes[0].patches if type(p) is type(node) and p is not node
               and abs(p.get_width() - node.get_width()) < 1e-6 and p.get_x() > x0 and p.get_y() > y0]
    assert len(stacked) == 2  # three boxes for three replicas
    texts = [t.get_text() for t in fig.findobj(Text)]
    assert "rnn ×3" in texts
    for legend in ("delayed edge (delay d)", "gated by (gate: source)", "learned projection (W a→b)",
                   "replicated area (×K)", "rnn", "readout", "external input"):
        assert legend in texts
    assert _text_overlaps(fig) == []


def test_layout_packs_labels_without_overlap_in_points():
    g = from_yaml(big_wiring(30, seed=3)).graph
    lay = viz.compute_layout(g, measure=TextMeasure())
    labs = list(lay.labels.values())
    for a, b in itertools.combinations(labs, 2):
        sep_x = abs(a.x - b.x) >= (a.w + b.w) / 2
        sep_y = abs(a.y - b.y) >= (a.h + b.h) / 2
        assert sep_x or sep_y, (a.key, b.key)
    for lab in labs:  # no label on a box
        for box in lay.boxes.values():
            assert (abs(lab.x - box.cx) >= (lab.w + box.w) / 2) or (abs(lab.y - box.y) >= (lab.h + box.h) / 2)


# --------------------------------------------------------------------------- flow on a small gated brain

GATED = textwrap.dedent("""\
    name: gated
    inputs: {x: 4, z: 1}
    areas:
      a: {type: rnn, hidden: 5}
      bg: {type: basal_ganglia, channels: 5}
      b: {type: rnn, hidden: 5}
    connections:
      - x -> a.input
      - a.h -> bg.context
      - a.h -> b.input
      - {from: x, to: bg.memory, gate: z}
      - {from: a.h, to: b.input, weight: 0.3, gate: bg.gate}
      - {from: b.h, to: a.input, delay: 1, projection: linear}
    outputs: {y: b.h}
    """)
T_SMALL = 12


@pytest.fixture(scope="module")
def gated_flow():
    brain = from_yaml(GATED)
    params, state = brain.init(jax.random.key(0), batch=2)
    rng = np.random.default_rng(0)
    inputs = {"x": rng.normal(size=(T_SMALL, 2, 4)).astype(np.float32), "z": np.zeros((T_SMALL, 2, 1), np.float32)}
    trace = brain.flow(params, state, inputs, jax.random.key(1))
    labels = [f"s{i}" for i in range(T_SMALL)]
    return viz.FlowData.from_trace(brain, trace, sample=0, labels=labels)


def test_edge_widths_follow_signal_magnitude_and_the_gated_off_route_is_thinnest(gated_flow):
    mags = viz.edge_magnitudes(gated_flow)
    fig = viz.plot_flow(gated_flow)
    widths = {k: a.get_linewidth() for k, a in fig.brainsim["edge_artists"].items()}
    assert widths == pytest.approx(fig.brainsim["edge_widths"])
    off = "e3"  # x -> bg.memory gated by z == 0
    assert mags[off] == 0.0 and all(mags[k] > 0 for k in mags if k != off)
    assert min(widths, key=widths.get) == off
    assert sorted(mags, key=mags.get) == sorted(widths, key=widths.get)
    assert widths[max(mags, key=mags.get)] == pytest.approx(6.0)
    assert "|signal| 0" in fig.brainsim["label_artists"][off].get_text()
    assert _text_overlaps(fig) == []


def test_mutual_information_per_edge(gated_flow):
    mi = viz.edge_information(gated_flow)
    assert mi["e3"] == 0.0  # nothing passes a closed gate (and nothing else reaches bg.memory)
    assert mi["e0"] > 1.0   # a.input is x (plus a delayed projection): x is almost fully recoverable
    rng = np.random.default_rng(1)
    x = rng.normal(size=(4000, 1))
    for rho in (0.3, 0.8):
        y = rho * x + np.sqrt(1 - rho ** 2) * rng.normal(size=(4000, 1))
        r = np.corrcoef(x[:, 0], y[:, 0])[0, 1]
        assert viz.gaussian_mi(x, y, eps=1e-6) == pytest.approx(-0.5 * np.log2(1 - r ** 2), abs=0.005)
        assert viz.gaussian_mi(x, y, eps=1e-6) == pytest.approx(-0.5 * np.log2(1 - rho ** 2), abs=0.08)
        assert viz.gaussian_mi(x, y) < viz.gaussian_mi(x, y, eps=1e-6)  # the noise floor only lowers it
    e = 1e-2  # the default noise floor caps a noiseless copy
    assert viz.gaussian_mi(x, x) == pytest.approx(0.5 * np.log2((1 + e) ** 2 / (2 * e + e ** 2)), abs=0.01)
    assert viz.gaussian_mi(x, rng.normal(size=(4000, 3))) < 0.01
    assert viz.gaussian_mi(x, np.zeros((4000, 2))) == 0.0
    fig = viz.plot_flow(gated_flow, measure="mi")
    w = fig.brainsim["edge_widths"]
    assert min(w, key=w.get) == "e3"


def test_gif_has_one_frame_per_step_and_shows_gates(gated_flow, tmp_path):
    path = viz.animate_flow(gated_flow, tmp_path / "trial.gif")
    im = Image.open(path)
    assert im.n_frames == T_SMALL == gated_flow.T
    frames = viz.animate_flow(gated_flow)
    assert frames.shape[0] == T_SMALL and frames.dtype == np.uint8
    _not_blank(frames[0].astype(np.float64))
    assert np.abs(frames[1].astype(int) - frames[0].astype(int)).sum() > 0  # edges change with the signal


def test_gate_raster_shows_basal_ganglia_channels_and_gated_edges(gated_flow):
    fig = viz.plot_gate_raster(gated_flow)
    ax = fig.axes[0]
    rows = [t.get_text() for t in ax.get_yticklabels()]
    assert rows[:5] == [f"bg.gate[{c}]" for c in range(5)]
    assert any(r.startswith("e3:") for r in rows) and any(r.startswith("e4:") for r in rows)
    img = ax.get_images()[0].get_array()
    assert img.shape == (7, T_SMALL)
    assert np.allclose(img[:5].sum(axis=0), 1.0, atol=1e-4)  # softmax selection: the channels share one unit
    assert np.allclose(img[rows.index(next(r for r in rows if r.startswith("e3:")))], 0.0)
    assert [t.get_text() for t in ax.get_xticklabels()] == gated_flow.labels
    _not_blank(_png(viz._common.figure_png_bytes(fig)))


def test_activity_heatmaps_one_panel_per_area(gated_flow):
    fig = viz.plot_activity(gated_flow)
    titles = [ax.get_title(loc="left") for ax in fig.axes if ax.get_title(loc="left")]
    assert [t.split(" ")[0] for t in titles] == sorted(gated_flow.graph.areas)
    _not_blank(_png(viz._common.figure_png_bytes(fig)))


def test_every_activity_panel_lies_inside_the_figure_and_every_area_is_titled(gated_flow):
    fig = viz.plot_activity(gated_flow)  # bg has four output ports: the port separators once moved the panels
    fig.canvas.draw()
    W, H = fig.get_size_inches() * fig.dpi
    panels = [ax for ax in fig.axes if ax.get_title(loc="left")]
    assert len(panels) == len(gated_flow.graph.areas)
    for ax in panels:
        bb = ax.get_window_extent()
        assert 0 <= bb.x0 < bb.x1 <= W and 0 <= bb.y0 < bb.y1 <= H, (ax.get_title(loc="left"), bb)
    tops = sorted((ax.get_window_extent().y0 for ax in panels), reverse=True)
    assert all(a > b for a, b in zip(tops, tops[1:]))  # stacked, none on top of another
    titled = {ax.get_title(loc="left").split(" ")[0] for ax in panels}
    assert titled == set(gated_flow.graph.areas)


def test_mutual_information_never_exceeds_the_entropy_of_a_one_hot_edge():
    brain = from_yaml(textwrap.dedent("""\
        name: onehot
        inputs: {stimulus: 8}
        areas:
          cx: {type: rnn, hidden: 16}
        connections:
          - stimulus -> cx.input
        outputs: {h: cx.h}
        """))
    params, state = brain.init(jax.random.key(0), batch=1)
    T = 200
    x = np.eye(8, dtype=np.float32)[np.random.default_rng(0).integers(0, 8, T)][:, None]
    flow = viz.FlowData.from_trace(brain, brain.flow(params, state, {"stimulus": x}, jax.random.key(1)))
    bits = viz.edge_information(flow)["e0"]
    assert 2.0 < bits <= np.log2(8) + 1e-9  # a one-hot over 8 symbols carries at most 3 bits
    onehot = x[:, 0]
    assert viz.gaussian_mi(onehot, onehot) <= viz.plugin_entropy(onehot) <= 3.0
    assert viz.plugin_entropy(onehot) == pytest.approx(3.0, abs=0.05)  # 8 symbols, close to uniform


def test_cost_curves_put_different_scales_on_separate_axes_with_one_named_x_unit():
    recs = [{"step": s, "model": "m", "loss": 1.0 / (s + 1), "a/recon": 1.0 / (s + 1), "a/energy": 1e-4,
             "eval_errors": 20 - s, "criterion_epochs": 1000 + s} for s in range(10)]
    fig = viz.plot_cost_curves(recs, x_note="8 epochs per update")
    panels = {ax.get_title(): ax for ax in fig.axes if ax.get_title()}
    assert {"m: area 'a': energy", "m: area 'a': recon", "m: eval_errors", "m: criterion_epochs",
            "m: total loss"} == set(panels)
    assert {ax.get_xlabel() for ax in panels.values()} == {"update"}
    assert "8 epochs per update" in fig._suptitle.get_text()


def test_cost_curves_one_line_per_term_log_scale_when_suitable():
    recs = [{"step": s, "model": m, "loss": 10.0 / (s + 1), "cx/recon": 10.0 / (s + 1), "cx/sparsity": 0.5,
             "bg/td": 0.1 * s - 0.5} for m in ("pbwm", "lstm") for s in range(20)]
    fig = viz.plot_cost_curves(recs)
    panels = {ax.get_title(): ax for ax in fig.axes if ax.get_title()}
    assert {"pbwm: area 'cx'", "pbwm: area 'bg'", "pbwm: total loss", "lstm: area 'cx'"} <= set(panels)
    cx = panels["pbwm: area 'cx'"]
    assert sorted(line.get_label() for line in cx.get_lines()) == ["recon", "sparsity"]
    assert cx.get_yscale() == "log"  # positive, spans 20x
    assert panels["pbwm: area 'bg'"].get_yscale() == "linear"  # crosses zero
    with pytest.raises(viz.VizError, match="no cost values"):
        viz.plot_cost_curves([{"step": 1, "model": "x"}])


# --------------------------------------------------------------------------- a real quick run

@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    from brainsim.scenario import run_scenario

    out = tmp_path_factory.mktemp("runs") / "twelve"
    run_scenario("twelve_ax", quick=True, out=out, progress=False,
                 sets=["max_epochs=160", "test_epochs=4", "log_every=2"],
                 on_finish=viz.finalize_run)  # what `brainsim run` passes
    return out


def test_every_run_gets_flow_figures_and_a_report(quick_run):
    fdir = quick_run / "figures" / "flow"
    z = np.load(quick_run / "flow" / "lstm_baseline.npz")
    T = len(z["labels"])
    for kind in ("wiring", "flow", "gates", "activity"):
        img = _png(fdir / f"lstm_baseline-{kind}.png")
        assert 150 <= img.shape[0] <= 4000 and 300 <= img.shape[1] <= 4000, (kind, img.shape)
        _not_blank(img)
    gif = Image.open(fdir / "lstm_baseline-trial.gif")
    assert gif.n_frames == T > 0 and max(gif.size) <= 960
    _not_blank(_png(quick_run / "figures" / "costs.png"))
    edges = json.loads((fdir / "lstm_baseline-edges.json").read_text())
    assert [r["edge"] for r in edges] == ["e0", "e1"] and all(r["mean_abs_signal"] > 0 for r in edges)
    assert (quick_run / "report.html").exists()


def test_report_is_one_valid_self_contained_file_embedding_every_figure(quick_run):
    text = (quick_run / "report.html").read_text(encoding="utf-8")
    p = _check_html(text)
    summary = json.loads((quick_run / "summary.json").read_text())
    body = " ".join(p.text)
    assert summary["criterion"] in body
    assert ("criterion met" if summary["passed"] else "criterion not met") in body
    for word in ("Architecture", "Information flow", "Cost curves", "Metrics", "Resolved configuration",
                 "test_error_rate", "max_epochs", "schedule: lstm | motor"):
        assert word in body, word
    srcs = [i["src"] for i in p.imgs]
    assert all(s.startswith("data:image/") for s in srcs)
    figures = [f for f in (quick_run / "figures").rglob("*") if f.suffix in (".png", ".gif")]
    assert len(figures) >= 6
    for f in figures:
        assert base64.b64encode(f.read_bytes()).decode() in text, f"{f.name} not embedded"


def test_cli_flow_mi_report_and_index(quick_run, capsys):
    assert main(["flow", str(quick_run), "--measure", "mi", "--no-gif"]) == 0
    mi_png = quick_run / "figures" / "flow" / "lstm_baseline-flow-mi.png"
    _not_blank(_png(mi_png))
    assert "flow-mi.png" in capsys.readouterr().out
    text = (quick_run / "report.html").read_text()
    assert base64.b64encode(mi_png.read_bytes()).decode() in text  # flow rewrote the report
    assert "mi_bits" in (quick_run / "figures" / "flow" / "lstm_baseline-edges.json").read_text()
    (quick_run / "report.html").unlink()
    assert main(["report", str(quick_run)]) == 0
    _check_html((quick_run / "report.html").read_text())
    assert main(["report", "--index", str(quick_run.parent)]) == 0
    index = (quick_run.parent / "index.html").read_text()
    p = _check_html(index)
    assert "twelve_ax" in index and 'href="twelve/report.html"' in index
    assert "test error rate" in " ".join(p.text)


def _visible_text(html_text: str) -> str:
    """The page without its embedded images (base64 holds '/' and letters that look like anything)."""
    import re

    return re.sub(r'src="data:[^"]*"', 'src=""', html_text)


def test_reports_show_no_absolute_paths_and_no_python_reprs(quick_run):
    assert main(["report", "--index", str(quick_run.parent)]) == 0
    for page in (quick_run / "report.html", quick_run.parent / "index.html"):
        text = _visible_text(page.read_text(encoding="utf-8"))
        for where in (str(quick_run.resolve()), str(quick_run.parent.resolve()), str(ROOT), str(Path.home())):
            assert where not in text, (page.name, where)
        for py in (">None<", ">True<", ">False<", "'None'", "PosixPath("):
            assert py not in text, (page.name, py)


def test_index_shows_each_scenarios_headline_metrics_compactly(quick_run):
    assert main(["report", "--index", str(quick_run.parent)]) == 0
    p = _check_html((quick_run.parent / "index.html").read_text(encoding="utf-8"))
    text = " ".join(p.text)
    for word in ("pbwm", "lstm_baseline", "test error rate", "epochs to criterion"):
        assert word in text, word
    index = (quick_run.parent / "index.html").read_text(encoding="utf-8")
    header = index[index.index("<thead>"):index.index("</thead>")]
    assert header.count("<th>") <= 11  # run, seed, quick, verdict, wall, model + 5 metrics: fits 1280 px
    assert "table-layout:fixed" in index


def test_twelve_ax_draws_its_learning_curves_and_per_symbol_accuracy(quick_run):
    text = (quick_run / "report.html").read_text(encoding="utf-8")
    for name in ("learning_curves.png", "per_symbol_accuracy.png"):
        f = quick_run / "figures" / name
        _not_blank(_png(f))
        assert base64.b64encode(f.read_bytes()).decode() in text, f"{name} not in the report"


def test_config_json_alone_rebuilds_the_brains_and_restores_their_checkpoints(quick_run):
    from brainsim.brain import load
    from brainsim.checkpoint import Checkpointer, label_dir
    from brainsim.rundir import config_overrides

    config = json.loads((quick_run / "config.json").read_text())
    summary = json.loads((quick_run / "summary.json").read_text())
    assert config["applied_overrides"]["lstm_baseline"]["areas.lstm.hidden"] >= 1  # the matched size is recorded
    for w in config["wirings"]:
        brain = load(w, config_overrides(config, w) or None)
        params, _ = brain.init(jax.random.key(0), batch=1)
        assert sum(brain.param_counts(params).values()) == summary["metrics"]["models"][w]["params"]
        ck = Checkpointer(label_dir(quick_run, w))
        got = ck.restore({"params": params, "opt_state": brain.init_opt_state(params), "key": jax.random.key(0)})
        ck.close()
        assert got.step > 0


def test_cli_viz_writes_png_svg_pdf(tmp_path, capsys):
    w = str(ROOT / "wiring" / "lstm_baseline.yaml")
    for ext, magic in (("png", b"\x89PNG"), ("svg", b"<?xml"), ("pdf", b"%PDF")):
        out = tmp_path / f"arch.{ext}"
        assert main(["viz", w, "-o", str(out)]) == 0
        assert out.read_bytes().startswith(magic)
    assert ">lstm<" in (tmp_path / "arch.svg").read_text()
    assert main(["viz", w, "-o", str(tmp_path / "a.png"), "--set", "areas.lstm.hidden=7"]) == 0
    assert main(["viz", "lstm_baseline", "-o", str(tmp_path / "b.png")]) == 0  # a canonical name


def test_cli_errors_are_clear_and_exit_2(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    cases = [
        (["report", str(empty)], "summary.json"),
        (["report", str(tmp_path / "nope")], "does not exist"),
        (["report"], "give either a run directory or --index"),
        (["report", "--index", str(empty)], "no run directories"),
        (["flow", str(empty)], "no flow recording"),
        (["viz", str(ROOT / "wiring" / "lstm_baseline.yaml"), "-o", str(tmp_path / "x.bmp")], "unknown figure format"),
        (["viz", str(tmp_path / "missing.yaml"), "-o", str(tmp_path / "x.png")], "does not exist"),
    ]
    for argv, msg in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert msg in err and "Traceback" not in err, (argv, err)
    bad = tmp_path / "bad" / "flow"
    bad.mkdir(parents=True)
    (bad / "w.npz").write_bytes(b"not a zip")
    assert main(["flow", str(bad.parent)]) == 2
    assert "cannot read flow recording" in capsys.readouterr().err


def test_report_never_links_out_and_lists_figures_that_failed(tmp_path):
    run = tmp_path / "r1"
    (run / "flow").mkdir(parents=True)
    (run / "flow" / "broken.npz").write_bytes(b"not a zip")
    summary = {"scenario": "demo", "seed": 1, "quick": True, "passed": True, "criterion": "see https://example.org/x",
               "metrics": {"score": 0.9, "nested": {"reward": 3}}, "anchor": "http://doi.org/10/abc",
               "compile_seconds": 1.0, "wall_seconds": 2.0}
    (run / "summary.json").write_text(json.dumps(summary))
    (run / "config.json").write_text(json.dumps({"options": {"steps": 3}, "overrides": {}, "wirings": []}))
    viz.finalize_run(run)
    text = (run / "report.html").read_text()
    p = _check_html(text)
    body = " ".join(p.text)
    assert "https://example.org/x" in body and "http://doi.org/10/abc" in body  # readable, but not a link
    assert "criterion met" in body and "some figures could not be made" in body and "broken.npz" in body
    other = tmp_path / "r2"
    other.mkdir()
    (other / "summary.json").write_text(json.dumps({**summary, "passed": False, "seed": 2,
                                                    "metrics": {"score": 0.4}}))
    index = viz.write_index(tmp_path).read_text()
    p = _check_html(index)
    body = " ".join(p.text)
    assert "2 run(s), 1 met their criterion, 1 did not" in body
    assert 'href="r1/report.html"' in index and "r2" in body and "0.4" in body and "0.9" in body


_TINY_SCENARIO = '''\
from pathlib import Path

from brainsim.scenario import Result, Scenario

WIRING = str(Path(__file__).with_name("tiny.yaml"))


class Tiny(Scenario):
    name = "tiny"
    wirings = (WIRING,)

    def run(self, ctx):
        ctx.load_brain(WIRING)
        return Result(True, "loads", {"score": 1.0})


SCENARIO = Tiny()
'''


def test_the_cli_finishes_every_run_with_a_report_python_users_choose_with_on_finish(tmp_path, capsys):
    from brainsim.scenario import run_scenario

    (tmp_path / "tiny.yaml").write_text((ROOT / "wiring" / "lstm_baseline.yaml").read_text())
    sc = str(tmp_path / "tiny.py")
    (tmp_path / "tiny.py").write_text(_TINY_SCENARIO)
    run_scenario(sc, out=tmp_path / "plain", progress=False)  # the runner itself draws nothing
    assert (tmp_path / "plain" / "summary.json").exists() and not (tmp_path / "plain" / "report.html").exists()
    seen = []
    run_scenario(sc, out=tmp_path / "hooked", progress=False, on_finish=seen.append)
    assert seen == [tmp_path / "hooked"]

    def broken(run_dir):
        raise RuntimeError("no figures today")
    summary = run_scenario(sc, out=tmp_path / "broken", on_finish=broken)  # never loses the finished run
    assert summary["passed"] and "figures failed: RuntimeError: no figures today" in capsys.readouterr().out
    assert main(["run", sc, "--out", str(tmp_path / "cli"), "--no-progress"]) == 0
    assert (tmp_path / "cli" / "report.html").exists()
    assert (tmp_path / "cli" / "figures" / "flow" / "tiny-wiring.png").exists()
