"""Per-area cost curves over training, from a run's ``metrics.jsonl``.

Each logged record is ``{"step": s, "loss": total, "<area>/<term>": value, …}``, optionally with
``"model"`` naming the wiring when a scenario trains several. The figure has one panel per (model,
area) with one line per cost term, a panel for the total loss, and one panel for each other numeric
metric logged (e.g. evaluation errors): quantities of different scale never share an axis (an area's
terms whose typical values differ by more than :data:`SCALE_RATIO` get panels of their own).  A panel
uses a log y-axis when all its values are positive and span more than a factor of 4.  The x axis is
the same unit in every panel: the update (one training step of the compiled ``train_step``); the
caller states what one update is (``x_note``, e.g. "8 epochs per update").
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable, Optional

import numpy as np

from ..rundir import RunDir
from ._common import VizError, new_figure

_SKIP = {"step", "model"}
SCALE_RATIO = 10.0  # series whose median |value| differs by more than this get separate axes


def read_metrics(source: "str | Path") -> list:
    """The records of ``metrics.jsonl`` (a file or a run directory); unreadable lines are skipped.

    Raises:
        VizError: the file does not exist.
    """
    p = Path(source)
    if p.is_dir():
        p = RunDir(p).metrics
    if not p.exists():
        raise VizError(f"metrics file '{p}' does not exist", str(p),
                       hint="scenarios log training metrics to RUN/metrics.jsonl; run one first")
    out = []
    for line in p.read_text(encoding="utf-8", errors="replace").splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut short by an interrupted run
        if isinstance(rec, dict):
            out.append(rec)
    return out


def _number(v) -> Optional[float]:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    return float(v)


def cost_series(records: Iterable[dict]) -> dict:
    """``{model: {panel: {series: ([steps], [values])}}}``; panels are areas, ``"total"`` and ``"other"``."""
    out: dict = {}
    for i, rec in enumerate(records):
        model = str(rec.get("model", ""))
        step = _number(rec.get("step"))
        step = float(i) if step is None else step
        for k, v in rec.items():
            val = _number(v)
            if k in _SKIP or val is None or not np.isfinite(val):
                continue
            if "/" in k:
                panel, series = k.split("/", 1)
            elif k == "loss":
                panel, series = "total", "loss (weighted sum)"
            else:
                panel, series = "other", k
            s = out.setdefault(model, {}).setdefault(panel, {}).setdefault(series, ([], []))
            s[0].append(step)
            s[1].append(val)
    return out


def _log_suitable(values: list) -> bool:
    v = np.asarray(values, dtype=np.float64)
    return v.size > 0 and bool(np.all(v > 0)) and float(v.max() / v.min()) > 4.0


def _scale_groups(lines: dict) -> list:
    """Split ``{series: (steps, values)}`` into groups of similar scale (median |value| within SCALE_RATIO)."""
    def scale(item):
        v = np.abs(np.asarray(item[1][1], dtype=np.float64))
        return float(np.median(v)) if v.size else 0.0

    groups: list = []
    for item in sorted(lines.items(), key=scale):
        m = scale(item)
        if groups and (groups[-1][0] <= 0 or m <= groups[-1][0] * SCALE_RATIO) and not (groups[-1][0] <= 0 < m):
            groups[-1][1][item[0]] = item[1]
        else:
            groups.append((m, {item[0]: item[1]}))
    return [g for _, g in groups]


def cost_panels(series: dict) -> list:
    """``[(model, panel title, {series: (steps, values)})]``: one per area (split by scale), the total loss,
    and one per other logged metric."""
    panels = []
    for model in sorted(series):
        per = series[model]
        for p in sorted(k for k in per if k not in ("total", "other")):
            groups = _scale_groups(per[p])
            for g in groups:
                what = f"area '{p}'" if len(groups) == 1 else f"area '{p}': " + ", ".join(sorted(g))
                panels.append((model, what, g))
        if "total" in per:
            panels.append((model, "total loss", per["total"]))
        for name, line in sorted(per.get("other", {}).items()):
            panels.append((model, name, {name: line}))
    return panels


def plot_cost_curves(source: Any, ncols: int = 3, x_note: Optional[str] = None):
    """Cost curves per area over training updates.

    Args:
        source: a run directory, a ``metrics.jsonl`` path, or a list of records.
        x_note: what one update is (e.g. ``"8 epochs per update"``), stated in the title.

    Returns:
        A figure with one panel per (model, area) — split where its terms differ in scale — one line per
        cost term (log scale where suitable), the total loss, and one panel per other logged number.

    Raises:
        VizError: nothing numeric was logged.
    """
    records = read_metrics(source) if isinstance(source, (str, Path)) else list(source)
    panels = cost_panels(cost_series(records))
    if not panels:
        raise VizError("no cost values were logged (metrics.jsonl is empty or holds no numbers)",
                       hint="train with a MetricsLog (scenarios do this through ctx.metrics)")
    ncols = max(1, min(ncols, len(panels)))
    nrows = int(np.ceil(len(panels) / ncols))
    W, H = 4.2 * ncols, 2.9 * nrows + 0.7
    fig = new_figure(W, H)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    fig.subplots_adjust(left=1.0 / W, right=1 - 0.2 / W, top=1 - 0.8 / H, bottom=0.5 / H, wspace=0.42,
                        hspace=0.6)
    for ax, (model, what, lines) in zip(axes, panels):
        allv = [v for _, vs in lines.values() for v in vs]
        for name, (steps, vals) in sorted(lines.items()):
            order = np.argsort(steps, kind="stable")
            ax.plot(np.asarray(steps)[order], np.asarray(vals)[order], marker="o" if len(steps) < 12 else None,
                    ms=3, lw=1.4, label=name)
        if _log_suitable(allv):
            ax.set_yscale("log")
        ax.set_title(f"{model + ': ' if model else ''}{what}", fontsize=9)
        ax.set_xlabel("update", fontsize=8)
        is_cost = what.startswith("area") or what == "total loss"
        ax.set_ylabel("cost" if is_cost else "value", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3, which="both")
        if len(lines) > 1 or is_cost:
            ax.legend(fontsize=7, frameon=False)
    for ax in axes[len(panels):]:
        ax.set_axis_off()
    unit = f"x axis: update ({x_note})" if x_note else "x axis: update (one training step)"
    fig.suptitle(f"cost terms and logged metrics over training — {unit}", fontsize=10, y=1 - 0.15 / H)
    return fig
