"""The ``brainsim`` command.

    brainsim validate WIRING
    brainsim run NAME|PATH [--quick] [--seed N] [--out DIR] [--set key=value]... [--force]
    brainsim list
    brainsim bench WIRING [--json] [--batch B] [--time T] [--iters N]

Exit codes: 0 success (criterion met), 1 criterion not met, 2 bad input
(printed as ``file:line:col: error: message`` without a traceback).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Optional, Sequence

from .errors import BrainsimError


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


def _cmd_run(args) -> int:
    from .scenario import run_scenario

    summary = run_scenario(args.scenario, quick=args.quick, seed=args.seed, out=args.out, sets=args.set,
                           force=args.force, progress=not args.no_progress)
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
    v.add_argument("wiring")
    v.set_defaults(fn=_cmd_validate)
    r = sub.add_parser("run", help="run a scenario (by name or path to a .py file)")
    r.add_argument("scenario")
    r.add_argument("--quick", action="store_true", help="short run with a smoke criterion (CI, demos)")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--out", default=None, help="run directory (default runs/NAME-seedN[-quick])")
    r.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a scenario option (max_epochs=100) or a wiring value (areas.lstm.hidden=64)")
    r.add_argument("--force", action="store_true", help="overwrite an existing run directory")
    r.add_argument("--no-progress", action="store_true", help="no progress bar or log lines")
    r.set_defaults(fn=_cmd_run)
    ls = sub.add_parser("list", help="list areas (ports, costs), rules and scenarios")
    ls.set_defaults(fn=_cmd_list)
    b = sub.add_parser("bench", help="compile time and steady-state speed of a wiring's train_step")
    b.add_argument("wiring")
    b.add_argument("--json", action="store_true")
    b.add_argument("--batch", type=int, default=16)
    b.add_argument("--time", type=int, default=100, help="time steps per episode")
    b.add_argument("--iters", type=int, default=20, help="timed train steps")
    b.set_defaults(fn=_cmd_bench)
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the ``brainsim`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.fn(args)
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
