"""See what you wired and how information moved through it (matplotlib Agg + networkx; no GUI).

Figures (each returns a :class:`matplotlib.figure.Figure`, for notebooks and papers):

* :func:`draw_wiring` — the architecture left to right (inputs -> areas by schedule generation -> outputs);
* :func:`plot_flow` — the same drawing, edge widths from a recorded evaluation trial (mean |signal| or MI);
* :func:`plot_gate_raster`, :func:`plot_activity` — gates and area activity over the trial;
* :func:`plot_cost_curves` — each area's cost terms over training;
* :func:`animate_flow` — the trial step by step (a GIF, or the frames).

Files of a run directory: :func:`flow_figures`, :func:`write_report` (``report.html``),
:func:`write_index` (``runs/index.html``), :func:`finalize_run` (both, after every scenario run).

Example::

    import brainsim.viz as viz
    fig = viz.draw_wiring("wiring/lstm_baseline.yaml"); fig.savefig("lstm.svg")
    flow = viz.load_flow("runs/demo")                  # RUN/flow/<wiring>.npz
    viz.plot_flow(flow, measure="mi").savefig("flow.png")
"""

from ._common import VizError, save_figure, type_color
from .costs import cost_series, plot_cost_curves, read_metrics
from .drawing import compute_layout, draw_wiring, edge_widths
from .flow import (FlowData, animate_flow, edge_information, edge_magnitudes, edge_table, flow_files, gate_openness,
                   gaussian_mi, load_flow, plot_activity, plot_flow, plot_gate_raster)
from .report import cost_figure, finalize_run, find_runs, flow_figures, wiring_figure, write_index, write_report

__all__ = [
    "VizError", "save_figure", "type_color",
    "draw_wiring", "compute_layout", "edge_widths",
    "FlowData", "load_flow", "flow_files", "edge_magnitudes", "gate_openness", "edge_information", "gaussian_mi",
    "edge_table", "plot_flow", "plot_gate_raster", "plot_activity", "animate_flow",
    "read_metrics", "cost_series", "plot_cost_curves",
    "flow_figures", "cost_figure", "wiring_figure", "write_report", "write_index", "find_runs", "finalize_run",
]
