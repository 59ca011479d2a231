"""The ``brainsim`` command.

    brainsim validate WIRING
    brainsim run NAME|PATH [--quick] [--seed N] [--out DIR] [--set key=value]... [--force]
                 [--checkpoint-every N] [--keep-checkpoints K] [--check-finite | --no-check-finite]
    brainsim run --resume DIR
    brainsim list
    brainsim bench WIRING [--json] [--batch B] [--time T] [--iters N]

WIRING is a wiring file or a canonical wiring name (``pbwm``: ``wiring/pbwm.yaml``).  ``run``
ends every run with :func:`brainsim.viz.finalize_run` (flow figures + ``report.html``): this
module is the only place that wires viz to runs.

Exit codes: 0 success (criterion met), 1 criterion not met, 2 bad input
(printed as ``file:line:col: error: message`` without a traceback), 3 a NaN/Inf
during training (``areas.<area>: error: non-finite value ... at training step
N ...``; the last good checkpoint is kept).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Optional, Sequence

from .errors import BrainsimError, NonFiniteError, ScenarioError


def _cmd_validate(args) -> int:
    import jax

    from .brain import load

    brain = load(args.wiring)
    params, _ = brain.init(jax.random.key(0), batch=1)
    from .graph import summary_lines

    for w in brain.graph.warnings:
        print(w, file=sys.stderr)
    print("\n".join(summary_lines(brain.graph, brain.param_counts(params))))
    return 0


_RUN_DEFAULTS = {"quick": False, "seed": 0, "out": None, "set": [], "force": False, "checkpoint_every": None,
                 "keep_checkpoints": None, "check_finite": None}


def _finalize_run(run_dir) -> None:
    """Flow figures and report.html of a finished run (looked up at call time)."""
    from .viz import report

    report.finalize_run(run_dir)


def _cmd_run(args) -> int:
    from .scenario import DEFAULT_CHECKPOINT_EVERY, DEFAULT_KEEP_CHECKPOINTS, resume_scenario, run_scenario

    if args.resume is not None:
        given = [k for k, v in _RUN_DEFAULTS.items() if getattr(args, k) != v]
        if args.scenario is not None or given:
            extra = ([args.scenario] if args.scenario is not None else []) + \
                    ["--" + k.replace("_", "-") for k in given]
            raise ScenarioError(f"--resume takes the scenario, seed, options and checkpoint settings from "
                                f"'{args.resume}/config.json'; found also: {' '.join(extra)}", "--resume",
                                hint=f"run `brainsim run --resume {args.resume}` alone (--no-progress allowed)")
        summary = resume_scenario(args.resume, progress=not args.no_progress, on_finish=_finalize_run)
    else:
        if args.scenario is None:
            raise ScenarioError("run needs a scenario name or path, or --resume DIR", "run",
                                hint="e.g. brainsim run twelve_ax --quick; `brainsim list` shows the scenarios")
        summary = run_scenario(args.scenario, quick=args.quick, seed=args.seed, out=args.out, sets=args.set,
                               force=args.force, progress=not args.no_progress,
                               checkpoint_every=DEFAULT_CHECKPOINT_EVERY if args.checkpoint_every is None
                               else args.checkpoint_every,
                               keep_checkpoints=DEFAULT_KEEP_CHECKPOINTS if args.keep_checkpoints is None
                               else args.keep_checkpoints,
                               check_finite=True if args.check_finite is None else args.check_finite,
                               on_finish=_finalize_run)
    verdict = "PASSED" if summary["passed"] else "NOT MET"
    print(f"{summary['scenario']}: criterion {verdict} ({summary['criterion']}); "
          f"wall {summary['wall_seconds']:.1f}s, compile {summary['compile_seconds']:.1f}s")
    return 0 if summary["passed"] else 1


def _cmd_list(args) -> int:
    from .area import area_types
    from .costs import GENERIC_TERMS
    from .rules import RULES
    from .scenario import get_scenario, scenario_names

    print("areas:")
    for name, cls in area_types().items():
        ins = ", ".join(f"{p}[{s.dim}]{'' if s.required else '?'}" for p, s in cls.inputs.items())
        outs = ", ".join(f"{p}[{s.dim}]" for p, s in cls.outputs.items())
        print(f"  {name}")
        print(f"    inputs:  {ins or '-'}   (? = optional)")
        print(f"    outputs: {outs or '-'}")
        print(f"    costs:   {', '.join(cls.cost_terms) or '-'}")
    print("generic cost terms (any area): " + ", ".join(GENERIC_TERMS))
    print("rules: " + ", ".join(RULES))
    print("scenarios:")
    for n in scenario_names():
        sc = get_scenario(n)
        print(f"  {n:<16} {sc.description}  [{sc.anchor}]")
    return 0


def _cmd_bench(args) -> int:
    from .bench import bench_wiring

    result = bench_wiring(args.wiring, batch=args.batch, time=args.time, iters=args.iters)
    if args.json:
        print(json.dumps(result, indent=2, sort_keys=True))
    else:
        for k, v in result.items():
            print(f"{k:<28} {v}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="brainsim", description="Modular brain architectures wired in YAML, "
                                                             "compiled by JAX.")
    sub = p.add_subparsers(dest="command", required=True)
    v = sub.add_parser("validate", help="check a wiring file and print a one-screen summary")
    v.add_argument("wiring", help="a wiring file or a canonical wiring name (e.g. pbwm)")
    v.set_defaults(fn=_cmd_validate)
    r = sub.add_parser("run", help="run a scenario (by name or path to a .py file)")
    r.add_argument("scenario", nargs="?", default=None)
    r.add_argument("--quick", action="store_true", help="short run with a smoke criterion (CI, demos)")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--out", default=None, help="run directory (default runs/NAME-seedN[-quick])")
    r.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a scenario option (max_epochs=100) or a wiring value (areas.lstm.hidden=64)")
    r.add_argument("--force", action="store_true", help="overwrite an existing run directory")
    r.add_argument("--resume", metavar="DIR", default=None,
                   help="continue a killed run from its latest checkpoints (settings from DIR/config.json)")
    r.add_argument("--checkpoint-every", type=int, default=None, metavar="N",
                   help="checkpoint every N training steps, 0 = never (default 1000; one more at the end)")
    r.add_argument("--keep-checkpoints", type=int, default=None, metavar="K",
                   help="keep the last K checkpoints per model (default 3)")
    r.add_argument("--check-finite", dest="check_finite", action="store_true", default=None,
                   help="stop with exit 3 when an area output or cost becomes NaN/Inf (default)")
    r.add_argument("--no-check-finite", dest="check_finite", action="store_false",
                   help="do not check for NaN/Inf")
    r.add_argument("--no-progress", action="store_true", help="no progress bar or log lines")
    r.set_defaults(fn=_cmd_run)
    ls = sub.add_parser("list", help="list areas (ports, costs), rules and scenarios")
    ls.set_defaults(fn=_cmd_list)
    b = sub.add_parser("bench", help="compile time and steady-state speed of a wiring's train_step")
    b.add_argument("wiring", help="a wiring file or a canonical wiring name (e.g. pbwm)")
    b.add_argument("--json", action="store_true")
    b.add_argument("--batch", type=int, default=16)
    b.add_argument("--time", type=int, default=100, help="time steps per episode")
    b.add_argument("--iters", type=int, default=20, help="timed train steps")
    b.set_defaults(fn=_cmd_bench)
    from .viz.cli import register as _register_viz
    _register_viz(sub)
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the ``brainsim`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.fn(args)
    except NonFiniteError as e:
        print(str(e), file=sys.stderr)
        return 3
    except BrainsimError as e:
        print(str(e), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `brainsim list | head`
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
