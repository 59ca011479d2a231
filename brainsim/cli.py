"""The ``brainsim`` command.

    brainsim validate WIRING
    brainsim run NAME|PATH|WIRING.yaml [--quick] [--seed N | --seeds 0-15] [--out DIR] [--set key=value]... [--force]
                 [--checkpoint-every N] [--keep-checkpoints K] [--check-finite | --no-check-finite]
    brainsim run --resume DIR
    brainsim list [areas|rules|costs|tasks|scenarios|wirings|NAME]
    brainsim schema [-o FILE]
    brainsim bench WIRING [--json] [--batch B] [--time T] [--iters N]
    brainsim --version

Every command takes ``--import MODULE`` (a plugin module name or a ``.py`` path; repeatable).

WIRING is a wiring file or a canonical wiring name (``pbwm``: ``wiring/pbwm.yaml``).  ``run``
ends every run with :func:`brainsim.viz.finalize_run` (flow figures + ``report.html``): this
module is the only place that wires viz to runs.

Exit codes (each means one thing):

* 0 success (criterion met);
* 1 the scenario ran and its criterion was not met;
* 2 bad input: any usage or configuration error (a wiring file, ``--set``, ``--seed``, ``--out``,
  a scenario file that fails to import, a damaged ``config.json``), printed as
  ``file:line:col: error: message`` (or ``--flag: error: ...``) with a ``hint:``, no traceback;
* 3 a NaN/Inf during training (``areas.<area>: error: non-finite value ... at training step N``;
  the last good checkpoint is kept);
* 4 an unexpected internal error: one line on stderr naming the log file that holds the full
  traceback (``DIR/.brainsim/run.log`` for a run, else a file in the temp directory);
* 130 interrupted (Ctrl-C); the message says how to resume.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path
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


_RUN_DEFAULTS = {"quick": False, "seed": 0, "seeds": None, "out": None, "set": [], "force": False, "checkpoint_every": None,
                 "keep_checkpoints": None, "check_finite": None}

# the run directory a command is working in (for the crash log and the resume hint)
_CURRENT = {"run_dir": None}


def _resume_conflicts(args, cfg: dict) -> list:
    """The flags given with ``--resume`` that differ from the run's ``config.json`` (same ones are fine)."""
    from .scenario import DEFAULT_CHECKPOINT_EVERY, DEFAULT_KEEP_CHECKPOINTS

    out = []
    if args.scenario is not None and args.scenario not in (cfg.get("scenario"), cfg.get("source")) and \
            str(Path(args.scenario).resolve()) != cfg.get("source"):
        out.append(f"scenario {args.scenario!r} (the run's: {cfg.get('scenario')!r})")
    recorded = {"quick": cfg.get("quick"), "seed": cfg.get("seed"), "set": cfg.get("sets"),
                "checkpoint_every": cfg.get("checkpoint_every"), "keep_checkpoints": cfg.get("keep_checkpoints"),
                "check_finite": cfg.get("check_finite")}
    defaults = {"checkpoint_every": DEFAULT_CHECKPOINT_EVERY, "keep_checkpoints": DEFAULT_KEEP_CHECKPOINTS,
                "check_finite": True}
    for k, default in _RUN_DEFAULTS.items():
        given = getattr(args, k)
        if given == default:
            continue
        if k == "force":
            out.append("--force (resume never deletes anything)")
        elif k == "out":
            if Path(given).resolve() != Path(args.resume).resolve():
                out.append(f"--out {given} (resuming {args.resume})")
        elif given != recorded.get(k, defaults.get(k)):
            out.append(f"--{k.replace('_', '-')} {given!r} (the run's: {recorded.get(k)!r})")
    return out


def _finalize_run(run_dir) -> None:
    """Flow figures and report.html of a finished run (looked up at call time)."""
    from .viz import report

    report.finalize_run(run_dir)


def _seeds_verdict(summary: dict) -> int:
    """Print a ``--seeds`` run's table; exit 0 (every seed passed), 3 (a wiring member went NaN/Inf)
    or 1 (a scenario seed missed its criterion)."""
    if summary.get("kind") != "seeds":  # a scenario that ran the seed list itself
        print(f"{summary['scenario']}: criterion {'PASSED' if summary['passed'] else 'NOT MET'} "
              f"({summary['criterion']}); wall {summary['wall_seconds']:.1f}s")
        return 0 if summary["passed"] else 1
    for r in summary["seeds"]:
        extra = f"final loss {r['final_loss']}" if "final_loss" in r else f"dir {r['run_dir']}"
        print(f"  seed {r['seed']}: {'ok' if r['passed'] else 'FAILED'}  {extra}")
    print(f"{summary['scenario']}: {len(summary['seeds'])} seeds in {summary['programs']} program(s); "
          f"{'PASSED' if summary['passed'] else 'NOT MET'} ({summary['criterion']}); "
          f"wall {summary['wall_seconds']:.1f}s")
    if summary["passed"]:
        return 0
    return 3 if "steps" in summary else 1  # a wiring run's members fail only by going NaN/Inf


def _cmd_run(args) -> int:
    from .scenario import DEFAULT_CHECKPOINT_EVERY, DEFAULT_KEEP_CHECKPOINTS, resume_scenario, run_scenario

    from . import rundir

    if args.resume is not None:
        _CURRENT["run_dir"] = Path(args.resume)
        cfg = rundir.read_config(args.resume)
        if isinstance(cfg, dict):
            conflicts = _resume_conflicts(args, cfg)
            if conflicts:
                raise ScenarioError(f"--resume takes the scenario, seed, options and checkpoint settings from "
                                    f"'{args.resume}/config.json'; these arguments differ from it: "
                                    f"{'; '.join(conflicts)}", "--resume",
                                    hint=f"drop them: `brainsim run --resume {args.resume}`")
        from .seeds import is_seeds_run, resume_seeds

        resume = resume_seeds if is_seeds_run(args.resume) else resume_scenario
        summary = resume(args.resume, progress=not args.no_progress, resume_anyway=args.resume_anyway,
                         on_finish=_finalize_run)
    else:
        if args.resume_anyway:
            raise ScenarioError("--resume-anyway only goes with --resume DIR", "--resume-anyway",
                                hint="e.g. brainsim run --resume runs/x --resume-anyway")
        if args.scenario is None:
            raise ScenarioError("run needs a scenario name or path, or --resume DIR", "run",
                                hint="e.g. brainsim run twelve_ax --quick; `brainsim list` shows the scenarios")
        if args.out is not None:
            _CURRENT["run_dir"] = Path(args.out)
        from .seeds import is_wiring_target, run_seeds, seeds_arg

        if args.seeds is not None or is_wiring_target(args.scenario):
            if args.seeds is not None and args.seed != 0:
                raise ScenarioError("--seed and --seeds both name the seeds", "--seeds", hint="give one of them")
            summary = run_seeds(args.scenario, seeds_arg(args.seeds) if args.seeds is not None else [args.seed],
                                quick=args.quick, out=args.out, sets=args.set, force=args.force,
                                progress=not args.no_progress,
                                checkpoint_every=DEFAULT_CHECKPOINT_EVERY if args.checkpoint_every is None
                                else args.checkpoint_every,
                                keep_checkpoints=DEFAULT_KEEP_CHECKPOINTS if args.keep_checkpoints is None
                                else args.keep_checkpoints,
                                check_finite=True if args.check_finite is None else args.check_finite,
                                on_finish=_finalize_run)
            return _seeds_verdict(summary)
        summary = run_scenario(args.scenario, quick=args.quick, seed=args.seed, out=args.out, sets=args.set,
                               force=args.force, progress=not args.no_progress,
                               checkpoint_every=DEFAULT_CHECKPOINT_EVERY if args.checkpoint_every is None
                               else args.checkpoint_every,
                               keep_checkpoints=DEFAULT_KEEP_CHECKPOINTS if args.keep_checkpoints is None
                               else args.keep_checkpoints,
                               check_finite=True if args.check_finite is None else args.check_finite,
                               on_finish=_finalize_run, on_start=lambda d: _CURRENT.update(run_dir=Path(d)),
                               imports=args.imports)
    if summary.get("kind") == "seeds":
        return _seeds_verdict(summary)
    verdict = "PASSED" if summary["passed"] else "NOT MET"
    print(f"{summary['scenario']}: criterion {verdict} ({summary['criterion']}); "
          f"wall {summary['wall_seconds']:.1f}s, compile {summary['compile_seconds']:.1f}s")
    return 0 if summary["passed"] else 1


# --------------------------------------------------------------------------- list, schema, --version, --import

LIST_KINDS = ("areas", "rules", "costs", "tasks", "scenarios", "wirings")


def _version() -> str:
    import importlib.metadata

    try:
        return importlib.metadata.version("brainsim")
    except importlib.metadata.PackageNotFoundError:  # a source checkout that was never installed
        return "0+unknown"


def _catalogue() -> dict:
    """``{kind: {name: object}}`` of everything registered (built-ins and plugins)."""
    from .area import area_types
    from .costs import GENERIC_TERMS
    from .plugins import load_plugins, rule_registry
    from .scenario import scenario_names
    from .tasks import TASKS
    from .wiring import wiring_names

    load_plugins()
    costs = {n: ("generic", fn) for n, fn in GENERIC_TERMS.items()}
    for aname, cls in area_types().items():
        for t in cls.cost_terms:
            costs.setdefault(t, ("area", []))
            if costs[t][0] == "area":
                costs[t][1].append(cls)
    return {"areas": area_types(), "rules": dict(sorted(rule_registry().items())),
            "costs": dict(sorted(costs.items())), "tasks": dict(sorted(TASKS.items())),
            "scenarios": {n: None for n in scenario_names()}, "wirings": {n: None for n in wiring_names()}}


def _first_line(text) -> str:
    lines = [ln.strip() for ln in str(text or "").strip().splitlines()]
    return lines[0] if lines else ""


def _print_options(options, indent: str = "    ") -> None:
    from .schema import format_default

    if not options:
        print(f"{indent}(no options)")
        return
    width = max(len(o.name) for o in options)
    for o in options:
        doc = f"  {o.doc}" if o.doc else "  (undocumented)"
        print(f"{indent}{o.name:<{width}}  {o.type} = {format_default(o.default)}{doc}")


def _show_area(name: str, cls) -> None:
    from .costs import GENERIC_TERMS
    from .schema import options_of

    print(f"area {name}: {_first_line(cls.__doc__)}")
    print("  inputs (? = optional):")
    for p, spec in cls.inputs.items():
        print(f"    {p}[{spec.dim}]{'' if spec.required else '?'}  {spec.doc}")
    print("  outputs:")
    for p, spec in cls.outputs.items():
        print(f"    {p}[{spec.dim}]  {spec.doc}")
    print("  cost terms: " + (", ".join(cls.cost_terms) or "-") + "; generic: " + ", ".join(GENERIC_TERMS))
    print("  options:")
    _print_options(options_of(cls))


def _show_rule(name: str, rule) -> None:
    from .schema import options_of

    print(f"rule {name}: {_first_line(getattr(rule, '__doc__', ''))}")
    for attr in ("formula", "reference"):
        if getattr(rule, attr, ""):
            print(f"  {attr}: {getattr(rule, attr)}")
    print("  options:")
    _print_options(options_of(rule))


def _show_cost(name: str, entry) -> None:
    import inspect

    from .costs import GENERIC_OPTIONS
    from .schema import Option

    kind, obj = entry
    if kind == "generic":
        print(f"cost term {name} (generic, any area): {_first_line(inspect.getdoc(obj))}")
        opts = GENERIC_OPTIONS.get(name, ())
    else:
        print(f"cost term {name} (area-specific): offered by " + ", ".join(c.type_name for c in obj))
        for c in obj:
            print(f"  {c.type_name}: {c.cost_terms[name]}")
        opts = sorted({o for c in obj for o in getattr(c, "cost_options", {}).get(name, ())})
    import dataclasses

    base = [Option("weight", "float", 1.0, "the term's weight in the area's cost"),
            Option("schedule", "optax schedule", None, "the weight is multiplied by this schedule of the training step")]
    docs = {"target": "the external input holding the target", "mask": "an external input of dim 1 weighting the steps",
            "port": "the output port the term reads (default: the area's first output)",
            "loss": "mse (default) or cross_entropy (one-hot target)"}
    if kind == "generic":
        docs.update(getattr(obj, "option_docs", None) or {})
    print("  options:")
    _print_options(base + [Option(o, "str" if o in ("target", "mask", "port", "loss") else "any",
                                  dataclasses.MISSING if o == "target" else None, docs.get(o, "")) for o in opts])


def _show_task(name: str, cls) -> None:
    from .schema import options_of

    print(f"task {name}: {_first_line(cls.__doc__)}")
    print("  options:")
    _print_options(options_of(cls))


def _show_scenario(name: str) -> None:
    from pathlib import Path

    from .scenario import get_scenario
    from .schema import format_default, options_of

    sc = get_scenario(name)
    print(f"scenario {name}: {sc.description}")
    print(f"  anchor: {sc.anchor}")
    print(f"  wirings: {', '.join(Path(w).name if '/' in w else w for w in sc.wirings) or '-'}")
    print("  options (--set NAME=VALUE; --quick uses the quick value):")
    opts = options_of(sc)
    if not opts:
        print("    (no options)")
    width = max([len(o.name) for o in opts] + [1])
    for o in opts:
        quick = f" (quick: {format_default(sc.quick[o.name])})" if o.name in sc.quick else ""
        print(f"    {o.name:<{width}}  {o.type} = {format_default(o.default)}{quick}  {o.doc or '(undocumented)'}")


def _show_wiring(name: str) -> None:
    from .wiring import load_wiring

    spec = load_wiring(name)
    print(f"wiring {name}: {spec.description or spec.name}")
    print("  inputs: " + ", ".join(f"{k}[{d}]" for k, d in spec.inputs))
    print("  areas: " + ", ".join(f"{a.name} ({a.type})" for a in spec.areas))
    print("  outputs: " + (", ".join(f"{k} = {r}" for k, r in spec.outputs) or "-"))
    print(f"  draw it: brainsim viz {name} -o {name}.svg; check it: brainsim validate {name}")


def _list_kind(kind: str, items: dict) -> None:
    print(f"{kind}:")
    for name, obj in items.items():
        if kind == "areas":
            ins = ", ".join(f"{p}[{s.dim}]{'' if s.required else '?'}" for p, s in obj.inputs.items())
            outs = ", ".join(f"{p}[{s.dim}]" for p, s in obj.outputs.items())
            print(f"  {name}")
            print(f"    inputs:  {ins or '-'}   (? = optional)")
            print(f"    outputs: {outs or '-'}")
            print(f"    costs:   {', '.join(obj.cost_terms) or '-'}")
        elif kind == "costs":
            what = "generic" if obj[0] == "generic" else "area: " + ", ".join(c.type_name for c in obj[1])
            print(f"  {name:<18} ({what})")
        elif kind == "scenarios":
            from .errors import BrainsimError
            from .scenario import get_scenario

            try:
                sc = get_scenario(name)
                print(f"  {name:<18} {sc.description}  [{sc.anchor}]")
            except BrainsimError as e:  # one broken scenario must not hide the others
                print(f"  {name:<18} (cannot be loaded: {e.message})")
        elif kind == "wirings":
            from .errors import BrainsimError
            from .wiring import load_wiring

            try:
                print(f"  {name:<18} {load_wiring(name).description}")
            except BrainsimError as e:
                print(f"  {name:<18} (invalid: {str(e).splitlines()[0]})")
        else:
            print(f"  {name:<18} {_first_line(getattr(obj, '__doc__', ''))}")


def _cmd_list(args) -> int:
    """``brainsim list [areas|rules|costs|tasks|scenarios|wirings|NAME]``."""
    cat = _catalogue()
    what = args.what
    if what is None:
        for kind in LIST_KINDS:
            _list_kind(kind, cat[kind])
        print("details of one item: brainsim list NAME (e.g. brainsim list cortex)")
        return 0
    if what in LIST_KINDS:
        _list_kind(what, cat[what])
        return 0
    shown = {"areas": _show_area, "rules": _show_rule, "costs": _show_cost, "tasks": _show_task,
             "scenarios": lambda n, _o: _show_scenario(n), "wirings": lambda n, _o: _show_wiring(n)}
    found = [(kind, cat[kind][what]) for kind in LIST_KINDS if what in cat[kind]]
    if not found:
        from .errors import did_you_mean

        names = sorted({n for kind in LIST_KINDS for n in cat[kind]} | set(LIST_KINDS))
        raise ScenarioError(f"nothing named '{what}' to list{did_you_mean(what, names)}", "list",
                            hint="brainsim list " + "|".join(LIST_KINDS) + " shows the names")
    for i, (kind, obj) in enumerate(found):
        if i:
            print()
        shown[kind](what, obj)
    return 0


def _cmd_schema(args) -> int:
    """``brainsim schema [-o FILE]``: the JSON Schema of the wiring format."""
    from .schema import wiring_schema

    text = json.dumps(wiring_schema(), indent=1)
    if args.output:
        from pathlib import Path

        from .train import atomic_write_text

        atomic_write_text(Path(args.output), text + "\n")
        print(f"wrote {args.output}; put `# yaml-language-server: $schema={args.output}` on a wiring's first line",
              file=sys.stderr)
    else:
        print(text)
    return 0


def _with_imports(fn):
    """Wrap a subcommand: import the ``--import`` modules first (plugins registering areas, rules, ...)."""
    def run(args) -> int:
        from .plugins import import_module_or_path, load_plugins

        load_plugins()
        specs = [str(Path(s).resolve()) if s.endswith(".py") else s for s in getattr(args, "imports", None) or []]
        for spec in specs:
            import_module_or_path(spec, None, "--import")
        if getattr(args, "resume", None) is not None:  # the run's own --import modules, from config.json
            from . import rundir

            cfg = rundir.read_config(args.resume)
            recorded = (cfg.get("imports") if isinstance(cfg, dict) else None) or []
            for spec in recorded if isinstance(recorded, list) else []:
                if isinstance(spec, str) and spec not in specs:
                    import_module_or_path(spec, None, f"{args.resume}/config.json imports")
        if hasattr(args, "imports"):
            args.imports = specs
        return fn(args)

    run.__wrapped__ = fn
    return run


def _register_extras(p: argparse.ArgumentParser, sub) -> None:
    """``--version``, ``list [WHAT]``, ``schema`` and ``--import MODULE`` on every subcommand."""
    p.add_argument("--version", action="version", version=f"brainsim {_version()}")
    ls = sub.choices["list"]
    ls.add_argument("what", nargs="?", default=None, metavar="areas|rules|costs|tasks|scenarios|wirings|NAME",
                    help="one kind of item, or one item by name (its options with type, default and doc)")
    sc = sub.add_parser("schema", help="print the JSON Schema of the wiring format (for YAML language servers)")
    sc.add_argument("-o", "--output", default=None, help="write it to this file instead of stdout")
    sc.set_defaults(fn=_cmd_schema)
    for name, sp in sub.choices.items():
        sp.add_argument("--import", dest="imports", action="append", default=[], metavar="MODULE",
                        help="import a plugin module (a module name or a .py path) first; repeatable")
        sp.set_defaults(fn=_with_imports(sp.get_default("fn")))


def _cmd_bench(args) -> int:
    from .bench import bench_wiring

    result = bench_wiring(args.wiring, batch=args.batch, time=args.time, iters=args.iters)
    if args.json:
        print(json.dumps(result, indent=2, sort_keys=True))
    else:
        for k, v in result.items():
            print(f"{k:<28} {v}")
    return 0


def _cmd_sweep(args) -> int:
    """``brainsim sweep SPEC.yaml``: every member on the chosen executor; exit 0 when every member ran."""
    from .population import parse_seeds
    from .sweep import load_spec, parse_set_axes, run_sweep

    spec = load_spec(args.spec)
    if args.seeds is not None:
        spec["seeds"] = parse_seeds(args.seeds)
    if args.executor is not None:
        spec["executor"] = args.executor
    if args.workers is not None:
        spec["workers"] = args.workers
    spec["grid"] = {**spec.get("grid", {}), **parse_set_axes(args.set)}
    out = args.out or spec.get("out") or f"runs/sweep-{spec['name']}"
    table = run_sweep(spec, out)
    bad = [r["id"] for r in table if r["status"] != "ok"]
    print(f"{len(table) - len(bad)}/{len(table)} members ok" + (f"; failed: {', '.join(bad)}" if bad else "")
          + f"; table: {out}/results.csv, {out}/index.html")
    return 0 if not bad else 1


def _register_sweep(sub) -> None:
    s = sub.add_parser("sweep", help="run a sweep file over --set values and seeds (local, Ray or Slurm)")
    s.add_argument("spec", help="a sweep .yaml file (see brainsim.sweep)")
    s.add_argument("--seeds", default=None, help="seeds, e.g. 0-15 or 0,3,7-9 (replaces the file's)")
    s.add_argument("--set", action="append", default=[], metavar="KEY=V1[,V2...]",
                   help="a grid axis over these values (added to the file's grid)")
    s.add_argument("--executor", choices=("local", "ray", "slurm"), default=None)
    s.add_argument("--workers", type=int, default=None, help="parallel jobs (local processes, Ray CPUs)")
    s.add_argument("--out", default=None, help="results folder (default runs/sweep-NAME)")
    s.set_defaults(fn=_cmd_sweep)


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
    r.add_argument("--seeds", default=None, metavar="0-15",
                   help="run these seeds (0-15 or 0,3,7-9): a wiring's as ONE population program, a scenario's "
                        "as separate runs in DIR/seed-N; a table in DIR/seeds.csv (see brainsim.seeds)")
    r.add_argument("--out", default=None, help="run directory (default runs/NAME-seedN[-quick])")
    r.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a scenario option (max_epochs=100) or a wiring value (areas.lstm.hidden=64)")
    r.add_argument("--force", action="store_true", help="overwrite an existing run directory")
    r.add_argument("--resume", metavar="DIR", default=None,
                   help="continue a killed run from its latest checkpoints (settings from DIR/config.json); "
                        "refused when the scenario, a wiring or brainsim changed since")
    r.add_argument("--resume-anyway", action="store_true",
                   help="with --resume: continue even though the scenario, a wiring or brainsim changed")
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
    ls = sub.add_parser("list", help="list areas, rules, costs, tasks, scenarios, wirings, or one item's options")
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
    _register_sweep(sub)
    _register_extras(p, sub)
    return p


def _crash_log(exc: BaseException) -> Path:
    """Write the full traceback of an unexpected error to the run's log (or a temp file); return its path."""
    text = f"brainsim {' '.join(sys.argv[1:])}\n{time.strftime('%Y-%m-%d %H:%M:%S')}\n\n" + \
        "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    run_dir = _CURRENT["run_dir"]
    if run_dir is not None and Path(run_dir).is_dir():
        from .rundir import RunDir

        try:
            log = RunDir(run_dir).crash_log
            log.parent.mkdir(parents=True, exist_ok=True)
            with open(log, "a", encoding="utf-8") as f:
                f.write(text + "\n")
            return log
        except OSError:
            pass
    fd, name = tempfile.mkstemp(prefix="brainsim-crash-", suffix=".log")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    return Path(name)


def _interrupted_hint() -> str:
    run_dir = _CURRENT["run_dir"]
    if run_dir is None:
        return "interrupted"
    from .checkpoint import has_checkpoint

    if has_checkpoint(run_dir):
        return f"interrupted; continue with `brainsim run --resume {run_dir}`"
    return f"interrupted before the first checkpoint of '{run_dir}'; start it again with --force"


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the ``brainsim`` console script (exit codes: see the module docstring)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse: 0 for --help, 2 for a usage error (message already printed)
        return int(e.code) if isinstance(e.code, int) else 2
    _CURRENT["run_dir"] = None
    try:
        return args.fn(args)
    except NonFiniteError as e:
        print(str(e), file=sys.stderr)
        return 3
    except BrainsimError as e:
        print(str(e), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(_interrupted_hint(), file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `brainsim list | head`
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return 0
    except Exception as e:  # noqa: BLE001 — a bug: one line, the traceback in a log file, exit 4
        log = _crash_log(e)
        first = (str(e).splitlines() or [""])[0][:300]
        print(f"brainsim: internal error: {type(e).__name__}: {first}\n  the full traceback is in {log}; "
              "please report it", file=sys.stderr)
        return 4


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
