"""Per-area cost curves over training, from a run's ``metrics.jsonl``.

Each logged record is ``{"step": s, "loss": total, "<area>/<term>": value, …}``, optionally with
``"model"`` naming the wiring when a scenario trains several. The figure has one panel per (model,
area) with one line per cost term, a panel for the total loss, and one for any other numeric metric
logged (e.g. evaluation errors). A panel uses a log y-axis when all its values are positive and span
more than a factor of 4.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable, Optional

import numpy as np

from ..rundir import RunDir
from ._common import VizError, new_figure

_SKIP = {"step", "model"}


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


def plot_cost_curves(source: Any, ncols: int = 3):
    """Cost curves per area over training steps.

    Args:
        source: a run directory, a ``metrics.jsonl`` path, or a list of records.

    Returns:
        A figure with one panel per (model, area), one line per cost term (log scale where suitable),
        plus the total loss and other logged numbers.

    Raises:
        VizError: nothing numeric was logged.
    """
    records = read_metrics(source) if isinstance(source, (str, Path)) else list(source)
    series = cost_series(records)
    panels = []
    for model in sorted(series):
        per = series[model]
        order = sorted(p for p in per if p not in ("total", "other")) + [p for p in ("total", "other") if p in per]
        panels += [(model, p, per[p]) for p in order]
    if not panels:
        raise VizError("no cost values were logged (metrics.jsonl is empty or holds no numbers)",
                       hint="train with a MetricsLog (scenarios do this through ctx.metrics)")
    ncols = max(1, min(ncols, len(panels)))
    nrows = int(np.ceil(len(panels) / ncols))
    W, H = 4.2 * ncols, 2.9 * nrows + 0.5
    fig = new_figure(W, H)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    fig.subplots_adjust(left=1.0 / W, right=1 - 0.2 / W, top=1 - 0.6 / H, bottom=0.5 / H, wspace=0.42,
                        hspace=0.55)
    for ax, (model, panel, lines) in zip(axes, panels):
        allv = [v for _, vs in lines.values() for v in vs]
        for name, (steps, vals) in sorted(lines.items()):
            order = np.argsort(steps, kind="stable")
            ax.plot(np.asarray(steps)[order], np.asarray(vals)[order], marker="o" if len(steps) < 12 else None,
                    ms=3, lw=1.4, label=name)
        if _log_suitable(allv):
            ax.set_yscale("log")
        what = {"total": "total loss", "other": "other logged metrics"}.get(panel, f"area '{panel}'")
        ax.set_title(f"{model + ': ' if model else ''}{what}", fontsize=9)
        ax.set_xlabel("training step", fontsize=8)
        ax.set_ylabel("cost" if panel != "other" else "value", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7, frameon=False)
    for ax in axes[len(panels):]:
        ax.set_axis_off()
    fig.suptitle("cost terms over training (one line per term)", fontsize=10, y=1 - 0.12 / H)
    return fig
