"""Flow figures and the self-contained HTML report of a run directory, and an index of many runs.

Every ``brainsim run`` ends with :func:`finalize_run` (the CLI passes it to ``run_scenario`` as
``on_finish``; Python users pass it themselves), which writes::

    RUN/figures/flow/<wiring>-wiring.png     the architecture
    RUN/figures/flow/<wiring>-flow.png       edge widths = mean |signal| in the evaluation trial
    RUN/figures/flow/<wiring>-flow-mi.png    edge widths = MI (bits)   (``brainsim flow --measure mi``)
    RUN/figures/flow/<wiring>-trial.gif      one frame per step of the trial
    RUN/figures/flow/<wiring>-gates.png      gate raster with the input symbols
    RUN/figures/flow/<wiring>-activity.png   activity heatmaps per area
    RUN/figures/flow/<wiring>-edges.json     per-edge numbers (mean |signal|, mean gate, MI)
    RUN/figures/costs.png                    per-area cost curves over training
    RUN/report.html                          ONE file: every figure embedded (base64), no external URL

``write_index(runs_dir)`` writes ``runs_dir/index.html`` comparing every run's verdict and headline
metrics.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import json
import os
import re
from pathlib import Path
from typing import Any, Optional

import numpy as np

from .. import rundir
from ..rundir import RunDir
from ._common import VizError, save_figure

IMAGE_TYPES = {".png": "image/png", ".gif": "image/gif", ".svg": "image/svg+xml", ".jpg": "image/jpeg",
               ".jpeg": "image/jpeg"}
FLOW_KINDS = ("wiring", "flow", "flow-mi", "trial", "gates", "activity")
_HEADLINE_WORDS = ("error", "accuracy", "acc", "epochs", "reward", "loss", "score", "rate", "correct", "return")


def _png_dpi(fig, dpi: float = 150.0, max_px: int = 3600) -> float:
    w, h = fig.get_size_inches()
    return float(min(dpi, max_px / max(w, h, 1e-6)))


def _close(fig) -> None:
    fig.clf()


def _require_run_dir(run_dir: "str | Path") -> Path:
    d = Path(run_dir)
    if not d.is_dir():
        raise VizError(f"run directory '{d}' does not exist", str(d),
                       hint="run a scenario first: brainsim run NAME --out DIR")
    return d


# --------------------------------------------------------------------------- figures of a run

def wiring_figure(run_dir: "str | Path", wiring: str) -> Path:
    """Draw a wiring of the run (with the run's overrides) to ``RUN/figures/flow/<wiring>-wiring.png``."""
    from ..errors import BrainsimError
    from .drawing import draw_wiring, resolve_graph

    d = _require_run_dir(run_dir)
    over = rundir.config_overrides(rundir.read_config(d), wiring)
    try:
        graph = resolve_graph(wiring, over)
    except BrainsimError:
        if not over:
            raise
        graph = resolve_graph(wiring)  # an override aimed at another wiring of the scenario
    fig = draw_wiring(graph)
    path = save_figure(fig, RunDir(d).flow_figures / f"{Path(wiring).stem}-wiring.png", dpi=_png_dpi(fig))
    _close(fig)
    return path


def flow_figures(run_dir: "str | Path", measure: str = "magnitude", gif: bool = True,
                 wiring: Optional[str] = None, strict: bool = True, problems: Optional[list] = None) -> dict:
    """Make every flow figure of a run directory (see the module docstring for the files).

    Args:
        measure: ``"magnitude"``, or ``"mi"`` to also draw the MI-weighted wiring (``-flow-mi.png``).
        gif: also write the animated trial.
        wiring: only this wiring's recording.
        strict: raise on the first failure; otherwise record ``"what: error"`` in ``problems`` and go on.

    Returns:
        ``{wiring: {kind: path}}`` plus ``{"costs": path}`` when metrics were logged.

    Raises:
        VizError: no run directory, or (strict) no flow recording in it.
    """
    from .drawing import draw_wiring
    from .flow import (MEASURES, animate_flow, edge_table, flow_files, load_flow, plot_activity, plot_flow,
                       plot_gate_raster)

    d = _require_run_dir(run_dir)
    if measure not in MEASURES:
        raise VizError(f"unknown flow measure '{measure}'", hint="measures: " + ", ".join(MEASURES))
    problems = problems if problems is not None else []
    files = flow_files(d)
    if wiring is not None:
        files = [f for f in files if f.stem == Path(wiring).stem]
    if strict and not files:
        what = f"for wiring '{wiring}' " if wiring else ""
        raise VizError(f"run directory '{d}' has no flow recording {what}(no {d / 'flow'}/*.npz)", str(d),
                       hint="the scenario must call ctx.save_flow(brain, params, batch, wiring) after training")
    out: dict = {}
    fdir = RunDir(d).flow_figures

    def attempt(what, fn):
        try:
            return fn()
        except Exception as e:  # noqa: BLE001 — collected for the report unless strict
            if strict:
                raise
            problems.append(f"{what}: {type(e).__name__}: {e}")
            return None

    for f in files:
        name = f.stem
        flow = attempt(f"flow recording {f.name}", lambda: load_flow(f))
        if flow is None:
            continue
        paths = out.setdefault(name, {})

        def save(kind, make, dpi=None):
            def go():
                fig = make()
                p = save_figure(fig, fdir / f"{name}-{kind}.png", dpi=dpi or _png_dpi(fig))
                _close(fig)
                return p
            p = attempt(f"{name} {kind} figure", go)
            if p is not None:
                paths[kind] = p

        save("wiring", lambda: draw_wiring(flow.graph))
        save("flow", lambda: plot_flow(flow, "magnitude"))
        if measure == "mi":
            save("flow-mi", lambda: plot_flow(flow, "mi"))
        save("gates", lambda: plot_gate_raster(flow), dpi=110)
        save("activity", lambda: plot_activity(flow), dpi=110)
        if gif:
            p = attempt(f"{name} trial animation", lambda: animate_flow(flow, fdir / f"{name}-trial.gif"))
            if p is not None:
                paths["trial"] = p

        def table():
            p = fdir / f"{name}-edges.json"
            p.write_text(json.dumps(edge_table(flow, information=True), indent=1), encoding="utf-8")
            return p
        p = attempt(f"{name} edge table", table)
        if p is not None:
            paths["edges"] = p
    if RunDir(d).metrics.exists():
        p = attempt("cost curves", lambda: cost_figure(d))
        if p is not None:
            out["costs"] = p
    return out


def cost_figure(run_dir: "str | Path") -> Path:
    """Draw ``RUN/figures/costs.png`` from ``RUN/metrics.jsonl``."""
    from .costs import plot_cost_curves

    d = _require_run_dir(run_dir)
    fig = plot_cost_curves(d, x_note=update_note(rundir.read_config(d)))
    p = save_figure(fig, RunDir(d).cost_figure, dpi=110)
    _close(fig)
    return p


def update_note(config: Optional[dict]) -> Optional[str]:
    """What one update of a run is, from its options (``batch``: episodes per update), or None."""
    opts = (config or {}).get("options") or {}
    scen = (config or {}).get("scenario")
    per = {"twelve_ax": "epochs"}.get(scen, "episodes")  # a 12-AX episode is one epoch of outer loops
    b = opts.get("batch")
    return f"{b} {per} per update" if isinstance(b, int) and not isinstance(b, bool) else None


def _trusted_wiring_text(config: dict, wiring: str, path: Path) -> "str | None":
    """A wiring's source, only when it is the file the run used: its hash must be the one recorded in
    ``config.json``'s fingerprint (a hand-edited config.json cannot make the report embed an arbitrary
    file), and it must be a small regular wiring file."""
    from ..errors import BrainsimError
    from ..wiring import read_wiring_text

    recorded = (config.get("fingerprint") or {}).get(f"wiring {wiring}")
    try:
        if recorded is None or rundir.file_hash(path) != recorded:
            return None
        return read_wiring_text(path)
    except (OSError, BrainsimError):
        return None


def finalize_run(run_dir: "str | Path") -> Path:
    """End of every scenario run: flow figures (never fatal: failures are listed in the report) + report.html."""
    problems: list = []
    d = _require_run_dir(run_dir)
    flow_figures(d, strict=False, problems=problems)
    config = rundir.read_config(d) or {}
    recorded = {f.stem for f in RunDir(d).flow.glob("*.npz")} if RunDir(d).flow.is_dir() else set()
    for w in config.get("wirings") or []:
        if Path(w).stem not in recorded:
            try:
                wiring_figure(d, w)
            except Exception as e:  # noqa: BLE001
                problems.append(f"wiring {w}: {type(e).__name__}: {e}")
    return write_report(d, problems=problems, make_figures=False)


# --------------------------------------------------------------------------- HTML

_CSS = """
body{font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;margin:0;color:#222;background:#fafafa}
main{max-width:1200px;margin:0 auto;padding:16px 28px 40px}
h1{font-size:1.6em;margin:.4em 0}h2{border-bottom:2px solid #ddd;padding-bottom:4px;margin-top:1.8em}
h3{margin:1.2em 0 .4em}
.badge{display:inline-block;padding:3px 12px;border-radius:12px;color:#fff;font-size:.6em;vertical-align:middle}
.pass{background:#2e7d32}.fail{background:#c62828}
table{border-collapse:collapse;margin:.5em 0;font-size:.9em;background:#fff}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f0f0f0}td.num{text-align:right;font-variant-numeric:tabular-nums}
figure{margin:.8em 0;background:#fff;border:1px solid #e3e3e3;padding:8px;overflow-x:auto}
figure img{max-width:100%;height:auto}figcaption{font-size:.85em;color:#555;margin-top:4px}
pre{background:#fff;border:1px solid #e3e3e3;padding:8px;overflow-x:auto;font-size:.85em}
nav a{margin-right:14px}.warn{background:#fff3e0;border:1px solid #ffb74d;padding:6px 10px}
.muted{color:#666}
table.index{table-layout:fixed;width:100%}table.index th,table.index td{overflow-wrap:anywhere}
"""


# an absolute path (two components or more; not a URL's //host/...): reports show only its last
# component, never where a machine keeps its files
_ABS_PATH = re.compile(r"(?<![\w.~:/-])/(?:[^\s/<>\"'|:;,()\[\]{}]+/)+([^\s/<>\"'|:;,()\[\]{}]+)")


def scrub(text: str) -> str:
    """``text`` with every absolute path replaced by its file name (``/home/x/runs/a.yaml`` -> ``a.yaml``)."""
    return _ABS_PATH.sub(lambda m: m.group(1), str(text))


def _e(x: Any) -> str:
    return html.escape(scrub(str(x)), quote=True)


def _img(path: Path, alt: str, caption: str = "") -> str:
    mime = IMAGE_TYPES.get(path.suffix.lower())
    if mime is None or not path.exists():
        return ""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    cap = f"<figcaption>{_e(caption)}</figcaption>" if caption else ""
    return (f'<figure><img src="data:{mime};base64,{data}" alt="{_e(alt)}" '
            f'data-file="{_e(path.name)}">{cap}</figure>')


def _fmt(v: Any, digits: int = 6) -> str:
    """A value as a reader wants it: yes/no, "—" for none, numbers to ``digits`` significant digits, JSON for
    containers (never a Python repr such as ``None`` or ``True``)."""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.{digits}g}"
    if isinstance(v, (list, tuple, dict)):
        return json.dumps(v)
    return str(v)


def _flatten(d: Any, prefix: str = "") -> list:
    if isinstance(d, dict):
        out = []
        for k in d:
            out += _flatten(d[k], f"{prefix}.{k}" if prefix else str(k))
        return out
    return [(prefix, d)]


def _num_cell(v: Any, digits: int = 6) -> str:
    cls = ' class="num"' if isinstance(v, (int, float)) and not isinstance(v, bool) else ""
    return f"<td{cls}>{_e(_fmt(v, digits))}</td>"


def _metrics_html(metrics: Any) -> str:
    if not isinstance(metrics, dict) or not metrics:
        return '<p class="muted">no metrics</p>'
    parts = []
    rest = dict(metrics)
    models = rest.get("models")
    if isinstance(models, dict) and models and all(isinstance(v, dict) for v in models.values()):
        rest.pop("models")
        flat = {m: dict(_flatten(v)) for m, v in models.items()}
        keys = list(dict.fromkeys(k for f in flat.values() for k in f))
        head = "".join(f"<th>{_e(m)}</th>" for m in flat)
        rows = "".join(f"<tr><th>{_e(k)}</th>" + "".join(_num_cell(flat[m].get(k, "")) for m in flat) + "</tr>"
                       for k in keys)
        parts.append(f"<table><thead><tr><th>metric</th>{head}</tr></thead><tbody>{rows}</tbody></table>")
    if rest:
        rows = "".join(f"<tr><th>{_e(k)}</th>{_num_cell(v)}</tr>" for k, v in _flatten(rest))
        parts.append(f"<table><thead><tr><th>metric</th><th>value</th></tr></thead><tbody>{rows}</tbody></table>")
    return "\n".join(parts)


def _edges_html(path: Path) -> str:
    rows = rundir.read_json(path) if path.exists() else None
    if not rows:
        return ""
    cols = [("edge", "edge"), ("from", "from"), ("to", "to"), ("delay", "delay"), ("gate", "gate"),
            ("projection", "projection"), ("mean_abs_signal", "mean |signal|"), ("mean_gate", "mean gate"),
            ("mi_bits", "MI (bits)")]
    cols = [c for c in cols if any(c[0] in r for r in rows)]
    head = "".join(f"<th>{_e(t)}</th>" for _, t in cols)
    body = "".join("<tr>" + "".join(_num_cell(r.get(k, "")) for k, _ in cols) + "</tr>" for r in rows)
    return (f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
            '<p class="muted">mean |signal|: mean absolute value delivered on the edge per step (after weight and '
            "gate); MI: linear-Gaussian mutual information between what the source sent and what the destination "
            "port received, capped by the plug-in entropy of either side (never more bits than the recorded values "
            "hold: at most log2(8) = 3 for a one-hot edge over 8 symbols).</p>")


def _safe(text: str) -> str:
    """Never let the report contain a URL scheme (the text stays readable: ':' becomes '&#58;')."""
    return text.replace("://", "&#58;//")


def _page(title: str, body: str) -> str:
    stamp = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    return _safe("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                 "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                 f"<title>{_e(title)}</title>\n"
                 f"<style>{_CSS}</style>\n</head>\n<body>\n<main>\n{body}\n"
                 f"<footer><p class=\"muted\">generated by brainsim on {_e(stamp)}</p></footer>\n"
                 "</main>\n</body>\n</html>\n")


def _config_html(d: Path, config: Optional[dict]) -> str:
    from ..errors import BrainsimError

    if not config:
        return '<p class="muted">no config.json in this run directory</p>'
    parts = []
    opts = config.get("options") or {}
    if opts:
        rows = "".join(f"<tr><th>{_e(k)}</th>{_num_cell(v)}</tr>" for k, v in opts.items())
        parts.append(f"<h3>scenario options</h3><table><tbody>{rows}</tbody></table>")
    over = config.get("overrides") or {}
    if over:
        rows = "".join(f"<tr><th>{_e(k)}</th>{_num_cell(v)}</tr>" for k, v in over.items())
        parts.append(f"<h3>wiring overrides (--set)</h3><table><tbody>{rows}</tbody></table>")
    applied = {w: a for w, a in (config.get(rundir.APPLIED_OVERRIDES) or {}).items() if a}
    if applied:
        rows = "".join(f"<tr><th>{_e(Path(w).stem)}</th><td>{_e(k)}</td>{_num_cell(v)}</tr>"
                       for w, a in applied.items() for k, v in a.items())
        parts.append("<h3>overrides applied (--set and the scenario's own, e.g. a matched size)</h3>"
                     f"<table><thead><tr><th>wiring</th><th>path</th><th>value</th></tr></thead><tbody>{rows}"
                     "</tbody></table>")
    for w in config.get("wirings") or []:
        from ..graph import summary_lines
        from ..wiring import find_wiring
        from .drawing import resolve_graph

        try:
            path = find_wiring(w)
        except BrainsimError:
            path = Path(w)
        try:
            try:
                graph = resolve_graph(w, rundir.config_overrides(config, w))
            except BrainsimError:
                graph = resolve_graph(w)
            summary = "\n".join(summary_lines(graph))
        except Exception as e:  # noqa: BLE001 — the report shows the problem instead of failing
            summary = f"(cannot build wiring '{w}': {e})"
        parts.append(f"<h3>wiring '{_e(Path(w).stem)}' (resolved)</h3><pre>{_e(summary)}</pre>")
        text = _trusted_wiring_text(config, w, path)
        if text is not None:
            parts.append(f"<details><summary>{_e(path.name)} (source)</summary><pre>{_e(text)}</pre></details>")
    parts.append(f"<details><summary>config.json</summary><pre>{_e(json.dumps(config, indent=2))}</pre></details>")
    return "\n".join(parts)


def write_report(run_dir: "str | Path", problems: Optional[list] = None, make_figures: bool = True) -> Path:
    """Write ``RUN/report.html``: summary and verdict, wiring drawings, flow figures, cost curves, metrics,
    resolved configuration; one file with every figure embedded (base64) and no external reference.

    Args:
        make_figures: first make the flow figures / cost curves that are missing.

    Raises:
        VizError: no run directory, or no ``summary.json`` in it (the run did not finish).
    """
    d = _require_run_dir(run_dir)
    run = RunDir(d)
    summary = rundir.read_summary(d)
    if summary is None:
        raise VizError(f"run directory '{d}' has no readable summary.json", str(run.summary),
                       hint="the run did not finish; run it again (brainsim run NAME --out DIR --force)")
    problems = list(problems or [])
    config = rundir.read_config(d)
    fdir = run.flow_figures
    recordings = [f.stem for f in run.flow_files()]
    if make_figures:
        for w in recordings:
            if not (fdir / f"{w}-flow.png").exists():
                flow_figures(d, wiring=w, strict=False, problems=problems)
        if run.metrics.exists() and not run.cost_figure.exists():
            try:
                cost_figure(d)
            except Exception as e:  # noqa: BLE001
                problems.append(f"cost curves: {type(e).__name__}: {e}")
        for w in (config or {}).get("wirings") or []:
            if Path(w).stem not in recordings and not (fdir / f"{Path(w).stem}-wiring.png").exists():
                try:
                    wiring_figure(d, w)
                except Exception as e:  # noqa: BLE001
                    problems.append(f"wiring {w}: {type(e).__name__}: {e}")

    passed = bool(summary.get("passed"))
    name = summary.get("scenario", d.name)
    badge = '<span class="badge pass">criterion met</span>' if passed else \
        '<span class="badge fail">criterion not met</span>'
    facts = [("scenario", name), ("verdict", "PASSED" if passed else "NOT MET"),
             ("criterion", summary.get("criterion", "")), ("published anchor", summary.get("anchor", "")),
             ("seed", summary.get("seed", "")), ("quick mode", summary.get("quick", "")),
             ("wall seconds", summary.get("wall_seconds", "")), ("compile seconds", summary.get("compile_seconds", "")),
             ("run directory", d.resolve().name)]
    body = [f"<header><h1>{_e(name)} {badge}</h1>",
            f"<p><b>criterion:</b> {_e(summary.get('criterion', ''))}</p>",
            "<table><tbody>" + "".join(f"<tr><th>{_e(k)}</th>{_num_cell(v)}</tr>" for k, v in facts) +
            "</tbody></table></header>",
            '<nav><a href="#architecture">architecture</a><a href="#flow">information flow</a>'
            '<a href="#costs">cost curves</a><a href="#figures">scenario figures</a><a href="#metrics">metrics</a>'
            '<a href="#config">configuration</a></nav>']
    if problems:
        body.append('<div class="warn"><b>some figures could not be made:</b><ul>' +
                    "".join(f"<li>{_e(p)}</li>" for p in problems) + "</ul></div>")

    wirings = list(dict.fromkeys(recordings + [Path(w).stem for w in (config or {}).get("wirings") or []]))
    arch = [_img(fdir / f"{w}-wiring.png", f"wiring {w}", f"wiring '{w}': inputs → areas by schedule generation → "
                                                           "outputs") for w in wirings]
    body.append('<section id="architecture"><h2>Architecture</h2>' +
                ("".join(arch) or '<p class="muted">no wiring drawing</p>') + "</section>")
    flow = ['<section id="flow"><h2>Information flow (one evaluation trial)</h2>']
    if not recordings:
        flow.append('<p class="muted">this scenario recorded no flow (it does not call ctx.save_flow)</p>')
    captions = {"flow": "edge width and colour ∝ mean |signal| carried during the trial",
                "flow-mi": "edge width ∝ linear-Gaussian mutual information (bits) between source and destination",
                "trial": "the trial step by step: edge width ∝ |signal| at that step, ◆ filled = gate open",
                "gates": "gates over time (basal-ganglia gate channels and gated edges), input symbols on the x axis",
                "activity": "activity of every area output (each port scaled by its max |value|)"}
    for w in recordings:
        flow.append(f"<h3>{_e(w)}</h3>")
        for kind in ("flow", "flow-mi", "trial", "gates", "activity"):
            ext = ".gif" if kind == "trial" else ".png"
            flow.append(_img(fdir / f"{w}-{kind}{ext}", f"{w} {kind}", captions[kind]))
        flow.append(_edges_html(fdir / f"{w}-edges.json"))
    flow.append("</section>")
    body += flow
    costs = run.cost_figure
    body.append('<section id="costs"><h2>Cost curves</h2>' +
                (_img(costs, "cost curves", "each area's cost terms over training (log scale where all values are "
                                            "positive and span > 4x)") if costs.exists()
                 else '<p class="muted">no metrics were logged</p>') + "</section>")
    figdir = run.figures
    extra = sorted(p for p in figdir.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_TYPES
                   and p != costs and fdir not in p.parents) if figdir.is_dir() else []
    extra += sorted(p for p in fdir.glob("*") if p.is_file() and p.suffix.lower() in IMAGE_TYPES
                    and not any(p.name == f"{w}-{k}{'.gif' if k == 'trial' else '.png'}"
                                for w in wirings for k in FLOW_KINDS)) if fdir.is_dir() else []
    body.append('<section id="figures"><h2>Scenario figures</h2>' +
                ("".join(_img(p, p.stem, str(p.relative_to(d))) for p in extra) or
                 '<p class="muted">the scenario drew no figures of its own</p>') + "</section>")
    body.append(f'<section id="metrics"><h2>Metrics</h2>{_metrics_html(summary.get("metrics"))}</section>')
    body.append(f'<section id="config"><h2>Resolved configuration</h2>{_config_html(d, config)}</section>')
    page = _page(f"brainsim run: {name}", "\n".join(body))
    out = run.report
    tmp = d / f".{out.name}.tmp"
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, out)
    return out


# --------------------------------------------------------------------------- index of runs

HEADLINE_COLUMNS = 5  # headline metrics per scenario in runs/index.html (the page must fit 1280 px)


def _headline(metrics: Any, n: int = HEADLINE_COLUMNS) -> dict:
    """The ``n`` most telling scalar metrics (errors, accuracies, epochs, ... first); nested tables left out."""
    words = ("criterion",) + _HEADLINE_WORDS
    flat = [(k, v) for k, v in (metrics.items() if isinstance(metrics, dict) else [])
            if not k.endswith(("seconds", "params")) and (
                (isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v))
                or (v is None and any(w in k.lower() for w in words)))]  # e.g. epochs to criterion: not reached

    def rank(kv):
        k = kv[0].lower()
        hit = next((i for i, w in enumerate(words) if w in k), len(words))
        return (hit, k)

    return dict(sorted(flat, key=rank)[:n])


def _model_rows(metrics: Any) -> list:
    """``[(model or "", {metric: value})]``: one row per model of a multi-model scenario, else one row."""
    models = metrics.get("models") if isinstance(metrics, dict) else None
    if isinstance(models, dict) and models and all(isinstance(v, dict) for v in models.values()):
        return [(m, v) for m, v in models.items()]
    return [("", metrics if isinstance(metrics, dict) else {})]


def _short(name: str) -> str:
    return name.replace("_", " ")


def find_runs(runs_dir: "str | Path") -> list:
    """Run directories (holding ``summary.json``) directly under ``runs_dir`` or one level deeper."""
    d = Path(runs_dir)
    found = sorted({p.parent for pat in (f"*/{rundir.SUMMARY}", f"*/*/{rundir.SUMMARY}") for p in d.glob(pat)})
    return found


def write_index(runs_dir: "str | Path") -> Path:
    """Write ``runs_dir/index.html``: every run's scenario, seed, verdict, criterion and headline metrics,
    grouped by scenario, each linking to its ``report.html``.

    Raises:
        VizError: the directory does not exist or holds no run.
    """
    d = Path(runs_dir)
    if not d.is_dir():
        raise VizError(f"runs directory '{d}' does not exist", str(d), hint="e.g. brainsim report --index runs/")
    runs = []
    for r in find_runs(d):
        s = rundir.read_summary(r)
        if s is not None:
            runs.append((r, s))
    if not runs:
        raise VizError(f"no run directories (with summary.json) in '{d}'", str(d),
                       hint="run a scenario with --out inside it, e.g. brainsim run twelve_ax --quick --out "
                            f"{d}/demo")
    groups: dict = {}
    for r, s in runs:
        groups.setdefault(str(s.get("scenario", "?")), []).append((r, s))
    n_pass = sum(bool(s.get("passed")) for _, s in runs)
    body = [f"<h1>brainsim runs in {_e(d.resolve().name)}/</h1>",
            f"<p>{len(runs)} run(s), {n_pass} met their criterion, {len(runs) - n_pass} did not.</p>"]
    for scen, items in sorted(groups.items()):
        rows_of = [(r, s, _model_rows(s.get("metrics"))) for r, s in items]
        cols = list(dict.fromkeys(k for _, _, mr in rows_of for _, m in mr for k in _headline(m)))[:HEADLINE_COLUMNS]
        with_models = any(m for _, _, mr in rows_of for m, _ in mr)
        th = "".join(f"<th>{_e(_short(c))}</th>" for c in cols)
        rows = []
        for r, s, mr in rows_of:
            rel = RunDir(r).report.relative_to(d).as_posix()
            name = r.relative_to(d).as_posix()
            link = f'<a href="{_e(rel)}">{_e(name)}</a>' if RunDir(r).report.exists() else _e(name)
            verdict = '<span class="badge pass">met</span>' if s.get("passed") else \
                '<span class="badge fail">not met</span>'
            span = f' rowspan="{len(mr)}"' if len(mr) > 1 else ""
            head = (f"<td{span}>{link}</td><td{span} class=\"num\">{_e(_fmt(s.get('seed', '')))}</td>"
                    f"<td{span}>{_e(_fmt(s.get('quick', '')))}</td><td{span}>{verdict}</td>"
                    f"<td{span} class=\"num\">{_e(_fmt(s.get('wall_seconds', ''), 3))}</td>")
            for i, (model, m) in enumerate(mr):
                cells = (f"<td>{_e(model)}</td>" if with_models else "") + \
                    "".join(_num_cell(m.get(c, ""), 4) for c in cols)
                rows.append(f"<tr>{head if i == 0 else ''}{cells}</tr>")
        crit = sorted({str(s.get("criterion", "")) for _, s in items})
        model_th = "<th>model</th>" if with_models else ""
        body.append(f"<h2>{_e(scen)}</h2><p class=\"muted\">criterion: {_e(' | '.join(crit))}</p>"
                    f"<table class=\"index\"><thead><tr><th>run</th><th>seed</th><th>quick</th><th>verdict</th>"
                    f"<th>wall s</th>{model_th}{th}</tr></thead><tbody>{''.join(rows)}</tbody></table>")
    out = d / "index.html"
    out.write_text(_page("brainsim runs", "\n".join(body)), encoding="utf-8")
    return out
