"""Science figures a scenario draws of its own result (its ``Scenario.figures(ctx, result)`` hook).

* :func:`plot_learning_curves` — each model's training curves against one named x unit (epochs, trials,
  updates), every quantity on its own axis, the point where each model met the criterion marked;
* :func:`plot_accuracy_bars` — grouped bars of accuracies per category (e.g. per input symbol), one
  colour per model, with an optional chance / baseline line.

Both return a :class:`matplotlib.figure.Figure` (no pyplot); save with :func:`brainsim.viz.save_figure`.
The report (``report.html``) embeds every figure under ``RUN/figures/`` in its "Scenario figures" section.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

import numpy as np

from ._common import VizError, new_figure

_COLORS = ("#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860")


def plot_learning_curves(records: Sequence[Mapping[str, Any]], models: Sequence[str], *, x_per_update: float = 1.0,
                         x_unit: str = "update", series: Sequence[tuple] = (("loss", "training loss"),),
                         marks: Optional[Mapping[str, Optional[float]]] = None, title: str = "learning curves"):
    """Learning curves of several models on shared x units, one panel per quantity.

    Args:
        records: ``metrics.jsonl`` records (``{"model", "step", key: value, ...}``; ``step`` is the update index).
        models: the models to draw (their ``"model"`` tag), in legend order.
        x_per_update: x units per update (e.g. 8 epochs per update): ``x = (step + 1) * x_per_update``.
        x_unit: the x axis's unit, named on the axis (``"epochs"``).
        series: ``((record key, axis label), ...)``: each on its own panel (different scales never share an axis).
        marks: ``{model: x}`` where the model met its criterion (None: not met); drawn as dashed lines.

    Raises:
        VizError: no record of any model holds any of the series.
    """
    data = {}
    for key, _ in series:
        for m in models:
            pts = sorted((float(r["step"]) + 1.0, float(r[key])) for r in records
                         if r.get("model") == m and isinstance(r.get("step"), (int, float))
                         and isinstance(r.get(key), (int, float)) and not isinstance(r.get(key), bool)
                         and np.isfinite(r[key]))
            if pts:
                data[(key, m)] = np.asarray(pts)
    shown = [(k, label) for k, label in series if any((k, m) in data for m in models)]
    if not shown:
        raise VizError("no learning-curve values in the records", hint=f"series: {', '.join(k for k, _ in series)}")
    W, h = 7.5, 2.3
    H = h * len(shown) + 1.0
    fig = new_figure(W, H)
    axes = fig.subplots(len(shown), 1, sharex=True, squeeze=False).ravel()
    fig.subplots_adjust(left=0.11, right=0.97, top=1 - 0.55 / H, bottom=0.5 / H, hspace=0.25)
    for ax, (key, label) in zip(axes, shown):
        vals = []
        for i, m in enumerate(models):
            if (key, m) not in data:
                continue
            pts = data[(key, m)]
            ax.plot(pts[:, 0] * x_per_update, pts[:, 1], lw=1.3, color=_COLORS[i % len(_COLORS)], label=m)
            vals.append(pts[:, 1])
        v = np.concatenate(vals)
        if np.all(v > 0) and v.max() / v.min() > 10:
            ax.set_yscale("log")
        ax.set_ylabel(label, fontsize=8)
        ax.grid(alpha=0.3, which="both")
        ax.tick_params(labelsize=7)
        for i, m in enumerate(models):
            x = (marks or {}).get(m)
            if x is not None:
                ax.axvline(float(x), color=_COLORS[i % len(_COLORS)], ls="--", lw=1.0)
    top = axes[0]
    for i, m in enumerate(models):
        x = (marks or {}).get(m)
        if x is not None:
            top.annotate(f"{m}: criterion at {x:,.0f} {x_unit}", xy=(float(x), 1.0), xycoords=("data", "axes fraction"),
                         xytext=(3, -10 - 11 * i), textcoords="offset points", fontsize=7,
                         color=_COLORS[i % len(_COLORS)])
    top.legend(fontsize=7, frameon=False, loc="upper right")
    axes[-1].set_xlabel(x_unit, fontsize=9)
    missed = [m for m in models if marks is not None and marks.get(m) is None]
    note = f" (criterion not met: {', '.join(missed)})" if missed else ""
    fig.suptitle(f"{title} — x axis: {x_unit}{note}", fontsize=10, y=1 - 0.15 / H)
    return fig


def plot_accuracy_bars(per_model: Mapping[str, Mapping[str, float]], *, title: str = "accuracy per category",
                       baseline: Optional[float] = None, baseline_label: str = "baseline",
                       ylabel: str = "accuracy"):
    """Grouped bars: one group per category (the union of the models' keys, in first-seen order), one bar per model.

    Raises:
        VizError: no accuracies given.
    """
    models = [m for m, v in per_model.items() if v]
    cats = list(dict.fromkeys(c for m in models for c in per_model[m]))
    if not cats:
        raise VizError("no accuracies to draw")
    W = max(6.0, 0.55 * len(cats) * max(1, len(models)) + 1.5)
    fig = new_figure(W, 3.2)
    ax = fig.add_axes([0.9 / W, 0.14, 1 - 1.1 / W, 0.66])
    width = 0.8 / max(1, len(models))
    x = np.arange(len(cats))
    for i, m in enumerate(models):
        vals = [per_model[m].get(c, np.nan) for c in cats]
        ax.bar(x + (i - (len(models) - 1) / 2) * width, vals, width, color=_COLORS[i % len(_COLORS)], label=m)
    if baseline is not None:
        ax.axhline(baseline, color="#555555", ls=":", lw=1.0, label=baseline_label)
    ax.set_xticks(x)
    ax.set_xticklabels(cats, fontsize=8)
    ax.set_ylim(0.0, 1.05)
    ax.set_ylabel(ylabel, fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7, frameon=False, loc="lower center", bbox_to_anchor=(0.5, 1.0),
              ncol=len(models) + (baseline is not None))  # above the bars, never on them
    ax.set_title(title, fontsize=10, pad=18)
    return fig
