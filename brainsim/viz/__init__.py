"""See what you wired and how information moved through it (matplotlib Agg + networkx; no GUI).

Figures (each returns a :class:`matplotlib.figure.Figure`, for notebooks and papers):

* :func:`draw_wiring` — the architecture left to right (inputs -> areas by schedule generation -> outputs);
* :func:`plot_flow` — the same drawing, edge widths from a recorded evaluation trial (mean |signal| or MI);
* :func:`plot_gate_raster`, :func:`plot_activity` — gates and area activity over the trial;
* :func:`plot_cost_curves` — each area's cost terms over training;
* :func:`animate_flow` — the trial step by step (a GIF, or the frames).

Files of a run directory: :func:`flow_figures`, :func:`write_report` (``report.html``),
:func:`write_index` (``runs/index.html``), :func:`finalize_run` (both, after every ``brainsim run``; from
Python: ``run_scenario(..., on_finish=viz.finalize_run)``).  The run-directory format is :mod:`brainsim.rundir`.

Example::

    import brainsim.viz as viz
    fig = viz.draw_wiring("wiring/lstm_baseline.yaml"); fig.savefig("lstm.svg")
    flow = viz.load_flow("runs/demo")                  # RUN/flow/<wiring>.npz
    viz.plot_flow(flow, measure="mi").savefig("flow.png")
"""

import importlib

_HOME = {
    "_common": ("VizError", "save_figure", "type_color"),
    "costs": ("cost_panels", "cost_series", "plot_cost_curves", "read_metrics"),
    "drawing": ("compute_layout", "draw_wiring", "edge_widths"),
    "flow": ("FlowData", "animate_flow", "edge_information", "edge_magnitudes", "edge_table", "flow_files",
             "gate_openness", "gaussian_mi", "load_flow", "plot_activity", "plot_flow", "plot_gate_raster",
             "plugin_entropy"),
    "report": ("cost_figure", "finalize_run", "find_runs", "flow_figures", "wiring_figure", "write_index",
               "write_report"),
}
_WHERE = {name: module for module, names in _HOME.items() for name in names}
__all__ = sorted(_WHERE)


def __getattr__(name):
    """Import on first use: the CLI registers the viz commands without loading matplotlib."""
    if name in _WHERE:
        return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
