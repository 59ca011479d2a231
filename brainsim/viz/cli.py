"""``brainsim viz``, ``brainsim flow`` and ``brainsim report`` (registered into the main parser).

    brainsim viz WIRING [-o OUT.png|OUT.svg|OUT.pdf] [--set key=value]... [--dpi N]
    brainsim flow RUN_DIR [--measure magnitude|mi] [--wiring NAME] [--no-gif]
    brainsim report RUN_DIR
    brainsim report --index RUNS_DIR

Errors are :class:`~brainsim.viz.VizError` (or other ``BrainsimError``): the CLI prints them and exits 2.
"""

from __future__ import annotations

from pathlib import Path

from ..rundir import RunDir


def _cmd_viz(args) -> int:
    from ..rundir import parse_sets
    from ._common import SAVE_FORMATS, VizError, save_figure
    from .drawing import draw_wiring

    out = Path(args.output) if args.output else Path(f"{Path(args.wiring).stem}.png")
    if out.suffix.lower().lstrip(".") not in SAVE_FORMATS:
        raise VizError(f"cannot write '{out}': unknown figure format '{out.suffix or '(none)'}'", "-o",
                       hint="use a .png, .svg or .pdf file name, e.g. -o pbwm.svg")
    fig = draw_wiring(args.wiring, overrides=parse_sets(args.set) or None)
    save_figure(fig, out, dpi=args.dpi)
    print(f"wrote {out}")
    return 0


def _cmd_flow(args) -> int:
    from .report import flow_figures, write_report

    made = flow_figures(args.run_dir, measure=args.measure, gif=not args.no_gif, wiring=args.wiring, strict=True)
    for wiring, paths in made.items():
        if isinstance(paths, dict):
            for p in paths.values():
                print(f"wrote {p}")
        else:
            print(f"wrote {paths}")
    if RunDir(args.run_dir).summary.exists():
        print(f"wrote {write_report(args.run_dir, make_figures=False)}")
    return 0


def _cmd_report(args) -> int:
    from ._common import VizError
    from .report import write_index, write_report

    if (args.run_dir is None) == (args.index is None):
        raise VizError("give either a run directory or --index RUNS_DIR (not both, not neither)", "report",
                       hint="brainsim report runs/demo   or   brainsim report --index runs/")
    path = write_index(args.index) if args.index is not None else write_report(args.run_dir)
    print(f"wrote {path}")
    return 0


def register(subparsers) -> None:
    """Add the ``viz``, ``flow`` and ``report`` subcommands to ``brainsim``'s subparsers."""
    v = subparsers.add_parser("viz", help="draw a wiring (architecture) to PNG, SVG or PDF")
    v.add_argument("wiring", help="a wiring file or a canonical wiring name (e.g. pbwm)")
    v.add_argument("-o", "--output", default=None, help="OUT.png | OUT.svg | OUT.pdf (default: WIRING.png)")
    v.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a wiring value first (areas.lstm.hidden=64)")
    v.add_argument("--dpi", type=float, default=150.0, help="resolution of PNG output (default 150)")
    v.set_defaults(fn=_cmd_viz)
    f = subparsers.add_parser("flow", help="information-flow figures of a run directory (from its flow recordings)")
    f.add_argument("run_dir")
    f.add_argument("--measure", choices=("magnitude", "mi"), default="magnitude",
                   help="edge widths: mean |signal| (default), or also linear-Gaussian mutual information (mi)")
    f.add_argument("--wiring", default=None, help="only this wiring's recording")
    f.add_argument("--no-gif", action="store_true", help="skip the animated trial")
    f.set_defaults(fn=_cmd_flow)
    r = subparsers.add_parser("report", help="(re)write RUN_DIR/report.html, or --index RUNS_DIR/index.html")
    r.add_argument("run_dir", nargs="?", default=None)
    r.add_argument("--index", default=None, metavar="RUNS_DIR", help="write RUNS_DIR/index.html comparing all runs")
    r.set_defaults(fn=_cmd_report)
