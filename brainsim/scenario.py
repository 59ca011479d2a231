"""Scenarios: wiring + task + training protocol + evaluation + a published pass criterion.

A scenario is a :class:`Scenario` subclass in ``scenarios/<name>.py`` (exported
as ``SCENARIO``), or any ``.py`` file holding one.  ``run_scenario`` gives it a
:class:`RunContext` and writes the run directory (the format: :mod:`brainsim.rundir`)::

    DIR/summary.json   scenario, seed, quick, passed, criterion, metrics,
                       compile_seconds, wall_seconds (written atomically)
    DIR/config.json    the resolved options and wiring overrides
    DIR/metrics.jsonl  training metrics, one JSON object per logged step
    DIR/figures/       figures the scenario draws
    DIR/checkpoints/<model>/<step>/   training checkpoints (``RunContext.fit``)
    DIR/results/<model>.json          finished models' results (``RunContext.result``)
    DIR/flow/<wiring>.npz             recorded evaluation trials (``RunContext.save_flow``)

The runner draws no report: ``on_finish(DIR)`` (e.g. :func:`brainsim.viz.finalize_run`, which the
``brainsim run`` command passes) is called once the summary is written.

Safety: an existing, non-empty run directory is never written into without
``force`` (which first deletes the files a run writes); ``resume_scenario``
continues a killed run from its checkpoints, with the scenario, seed, options
and overrides recorded in ``config.json``.

``--set key=value``: a key without dots sets a scenario option (``--set
max_steps=100``); a dotted key overrides every wiring of the scenario that has
that path (``--set areas.lstm.hidden=64``), or one wiring with
``--set lstm_baseline:areas.lstm.hidden=64``.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar, Mapping, Optional

import jax
import numpy as np

from . import rundir
from .checkpoint import Checkpointer, has_checkpoint, label_dir
from .errors import BrainsimError, ScenarioError, WiringError, did_you_mean
from .rundir import RunDir, parse_sets
from .train import FitResult, MetricsLog, atomic_write_json, fit as _fit
from .wiring import find_wiring

DEFAULT_CHECKPOINT_EVERY = 1000
DEFAULT_KEEP_CHECKPOINTS = 3

SCENARIO_PACKAGE = "brainsim.scenarios"  # the repo's scenarios/ folder, mapped into the namespace
SCENARIO_DIR = Path(next(iter(importlib.util.find_spec(SCENARIO_PACKAGE).submodule_search_locations)))


@dataclass
class Result:
    """What a scenario's ``run`` returns."""

    passed: bool
    criterion: str
    metrics: dict = field(default_factory=dict)


@dataclass
class RunContext:
    """Everything a scenario run needs: options, seed, output directory, logging."""

    scenario: "Scenario"
    out: Path
    seed: int
    quick: bool
    options: dict
    overrides: dict  # {(wiring or None, dotted path): value}
    progress: bool = True
    compile_seconds: float = 0.0
    resume: bool = False
    checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY
    keep_checkpoints: int = DEFAULT_KEEP_CHECKPOINTS
    check_finite: bool = True
    _metrics: Optional[MetricsLog] = None
    _labels: set = field(default_factory=set)

    @property
    def key(self) -> jax.Array:
        return jax.random.key(self.seed)

    def rng(self, stream: int = 0) -> np.random.Generator:
        """An independent numpy generator for data stream ``stream``."""
        return np.random.default_rng([self.seed, stream])

    @property
    def metrics(self) -> MetricsLog:
        if self._metrics is None:
            self._metrics = MetricsLog(RunDir(self.out).metrics)
        return self._metrics

    @property
    def figures(self) -> Path:
        d = RunDir(self.out).figures
        d.mkdir(parents=True, exist_ok=True)
        return d

    def log(self, msg: str) -> None:
        if self.progress:
            print(f"[{self.scenario.name}] {msg}", flush=True)

    def fit(self, brain, params, opt_state, batch_fn: Callable[[int], dict], steps: int, key: jax.Array, *,
            label: Optional[str] = None, rngs: Optional[Mapping[str, np.random.Generator]] = None,
            callback: Optional[Callable] = None, callback_state: Optional[dict] = None, log_every: int = 10,
            metrics: Any = None, desc: Optional[str] = None) -> FitResult:
        """Train one model with this run's checkpointing, resumption and finite-value guard.

        Like :func:`brainsim.train.fit`, plus:

        * checkpoints every ``--checkpoint-every`` steps (and at the end) in
          ``DIR/checkpoints/<label>/<step>/``, the last ``--keep-checkpoints`` kept: params, optimiser
          states, the key, the positions of ``rngs`` and ``callback_state``;
        * on ``--resume``: restores the latest checkpoint of ``label``, first dropping this model's
          ``metrics.jsonl`` records of steps at or after it (they will be logged again), so every
          step's record appears exactly once; a model whose training had finished is not retrained;
        * ``--check-finite``: a NaN/Inf in an area output or cost stops the run with
          :class:`~brainsim.errors.NonFiniteError` (the last good checkpoint is kept).

        Args:
            label: the model's name, unique within the run (default: the wiring's name); every
                metrics record gets ``"model": label``.
            rngs: ``{name: numpy Generator}`` that ``batch_fn`` and ``callback`` draw from.
            callback_state: a JSON-serialisable dict the callback keeps its bookkeeping in.
            metrics: a writer with ``.write(record)`` (default: this run's ``metrics.jsonl``).
        """
        label = str(label or brain.spec.name)
        if label in self._labels:
            raise ScenarioError(f"scenario '{self.scenario.name}' trains two models labelled '{label}'",
                                hint="pass a distinct label= to RunContext.fit")
        self._labels.add(label)
        ck = Checkpointer(label_dir(self.out, label), self.checkpoint_every, self.keep_checkpoints) \
            if self.checkpoint_every > 0 else None
        if self.resume:
            n = ck.latest_step() if ck is not None else None
            start = n or 0
            dropped = self.metrics.rewrite(lambda r: not (r.get("model") == label and isinstance(r.get("step"), int)
                                                          and r["step"] >= start))
            self.log(f"{label}: " + (f"resuming from the checkpoint at step {n}" if n is not None
                                     else "no checkpoint: training from the start")
                     + (f" (dropped {dropped} metrics records of later steps)" if dropped else ""))
        elif ck is not None and ck.steps():
            ck.clear()
        sink = metrics if metrics is not None else self.metrics
        try:
            return _fit(brain, params, opt_state, batch_fn, steps, key, log_every=log_every,
                        metrics=_Tagged(sink, label), progress=self.progress, callback=callback,
                        desc=desc or label, check_finite_values=self.check_finite, checkpointer=ck,
                        resume=self.resume, rngs=rngs, callback_state=callback_state, label=label)
        finally:
            if ck is not None:
                ck.close()

    def result(self, label: str, compute: Callable[[], dict]) -> dict:
        """``compute()`` once per run: the dict is kept in ``DIR/results/<label>.json``, and a resumed
        run returns the kept one instead of computing it again (e.g. a finished model's evaluation)."""
        path = RunDir(self.out).results / f"{label_dir(self.out, label).name}.json"
        if self.resume and path.exists():
            self.log(f"{label}: finished before the interruption; using {path}")
            return json.loads(path.read_text(encoding="utf-8"))
        out = compute()
        atomic_write_json(path, out)
        return json.loads(path.read_text(encoding="utf-8"))

    def load_brain(self, wiring: str):
        """Load a wiring by name with this run's ``--set`` overrides applied (a relative path: relative to the
        scenario's file)."""
        wiring = scenario_wiring(self.scenario, wiring)
        from .brain import Brain
        from .graph import build_graph
        from .wiring import build_spec, load_yaml, set_path

        path = find_wiring(wiring)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ScenarioError(f"scenario '{self.scenario.name}' needs wiring '{path}', which does not exist") from None
        data, locs = load_yaml(text, str(path))
        for dotted, value in rundir.overrides_for(self.overrides, wiring).items():
            if _has_parent(data, dotted):
                set_path(data, dotted, value)
        brain = Brain(build_graph(build_spec(data, locs)))
        for w in brain.graph.warnings:
            self.log(w)
        return brain


    def save_flow(self, brain, params, batch: Mapping[str, Any], wiring: str, labels: Optional[list] = None,
                  sample: int = 0) -> Path:
        """Record one evaluation trial for ``brainsim flow``: ``DIR/flow/<wiring>.npz``.

        Args:
            brain: the trained brain; params: its params.
            batch: ``{input: [T, B, d]}`` evaluation inputs (sample ``sample`` is kept).
            wiring: the wiring name the brain was loaded from.
            labels: one label per time step (e.g. the input symbols) for plots.

        The file holds every area output and input ``[T, d]``, ``edge:e<i>`` / ``gate:e<i>`` ``[T]``,
        ``labels`` and ``wiring`` (the path, with ``config.json`` holding the overrides).
        """
        wiring = scenario_wiring(self.scenario, wiring)
        B = next(iter(batch.values())).shape[1]
        trace = brain.flow(params, brain.init_state(B), batch, jax.random.fold_in(self.key, 99))
        arrays = {k: np.asarray(v)[:, sample] for k, v in trace.items()}
        run = RunDir(self.out)
        run.flow.mkdir(parents=True, exist_ok=True)
        path = run.flow_file(wiring)
        tmp = run.flow / f".{path.stem}.tmp.npz"
        overrides = rundir.overrides_for(self.overrides, wiring)
        np.savez_compressed(tmp, wiring=str(find_wiring(wiring).resolve()), overrides=json.dumps(overrides),
                            labels=np.asarray(labels if labels is not None else [], dtype=str), **arrays)
        os.replace(tmp, path)
        return path


class _Tagged:
    """Tag every metrics record with the model it belongs to."""

    def __init__(self, sink, label: str):
        self.sink, self.label = sink, label

    def write(self, record: dict) -> None:
        self.sink.write({"model": self.label, **record})


def _has_parent(data: Any, dotted: str) -> bool:
    cur = data
    for k in dotted.split(".")[:-1]:
        if isinstance(cur, dict) and k in cur:
            cur = cur[k]
        elif isinstance(cur, list) and k.isdigit() and int(k) < len(cur):
            cur = cur[int(k)]
        else:
            return False
    return isinstance(cur, dict)


class Scenario:
    """Base class of scenarios.

    Attributes:
        name: the name used by ``brainsim run NAME``.
        description: one line.
        anchor: the published result the criterion comes from.
        wirings: wiring names the scenario loads (for ``--set`` checks and ``brainsim list``).
        defaults: option defaults (full mode); ``quick`` overrides them in ``--quick`` mode.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    anchor: ClassVar[str] = ""
    wirings: ClassVar[tuple] = ()
    defaults: ClassVar[dict] = {}
    quick: ClassVar[dict] = {}

    def run(self, ctx: RunContext) -> Result:
        raise NotImplementedError

    def figures(self, ctx: RunContext, result: Result) -> None:
        """Draw figures into ``ctx.figures`` (optional)."""


# --------------------------------------------------------------------------- discovery

def scenario_names() -> list[str]:
    """Names of the built-in scenarios (``scenarios/*.py``) and of the plugin ones (entry points of the
    group ``brainsim.scenarios``, see :mod:`brainsim.plugins`)."""
    from .plugins import scenario_entry_points

    builtin = {p.stem for p in SCENARIO_DIR.glob("*.py") if not p.stem.startswith("_")}
    return sorted(builtin | set(scenario_entry_points()))


def scenario_wiring(sc: "Scenario", wiring: str) -> str:
    """A wiring a scenario names: a canonical name as given; a relative ``.yaml`` path resolved against the
    directory of the scenario's own file (so a scenario and its wirings can live together anywhere)."""
    text = str(wiring)
    p = Path(text)
    if p.is_absolute() or not (p.suffix in (".yaml", ".yml") or "/" in text or "\\" in text):
        return text
    import inspect

    try:
        base = Path(inspect.getfile(type(sc))).resolve().parent
    except (TypeError, OSError):
        return text
    return str(base / p) if (base / p).exists() or not p.exists() else text


def scenario_wiring(sc: "Scenario", wiring: str) -> str:
    """A wiring a scenario names: a canonical name as given; a relative ``.yaml`` path resolved against the
    directory of the scenario's own file (so a scenario and its wirings can live together anywhere)."""
    text = str(wiring)
    p = Path(text)
    if p.is_absolute() or not (p.suffix in (".yaml", ".yml") or "/" in text or "\\" in text):
        return text
    import inspect

    try:
        base = Path(inspect.getfile(type(sc))).resolve().parent
    except (TypeError, OSError):
        return text
    return str(base / p) if (base / p).exists() or not p.exists() else text


def get_scenario(name_or_path: str) -> Scenario:
    """Find a scenario by built-in name or by path to a ``.py`` file."""
    from .plugins import load_plugins, load_scenario_entry_point, scenario_entry_points

    load_plugins()  # plugin tasks, areas, rules and cost terms the scenario may use
    p = Path(name_or_path)
    if p.suffix == ".py":
        if not p.exists():
            raise ScenarioError(f"scenario file '{p}' does not exist")
        spec = importlib.util.spec_from_file_location(f"_brainsim_scenario_{p.stem}", p)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    else:
        names = scenario_names()
        if name_or_path not in names:
            raise ScenarioError(f"unknown scenario '{name_or_path}'{did_you_mean(name_or_path, names)}",
                                hint="scenarios: " + ", ".join(names) + " (or a path to a .py file)")
        if (SCENARIO_DIR / f"{name_or_path}.py").is_file():
            module = importlib.import_module(f"{SCENARIO_PACKAGE}.{name_or_path}")
        else:
            assert name_or_path in scenario_entry_points()
            module = load_scenario_entry_point(name_or_path)
    sc = module if isinstance(module, Scenario) else getattr(module, "SCENARIO", None)
    if not isinstance(sc, Scenario):
        raise ScenarioError(f"'{name_or_path}' defines no SCENARIO = <Scenario instance>",
                            hint="end the file with SCENARIO = MyScenario()")
    if any(scenario_wiring(sc, w) != w for w in sc.wirings):  # relative paths: relative to the scenario file
        sc.wirings = tuple(scenario_wiring(sc, w) for w in sc.wirings)
    return sc


def resolve_options(sc: Scenario, quick: bool, sets: Mapping[str, Any]) -> tuple[dict, dict]:
    """Merge defaults, quick overrides and ``--set`` values; split off wiring overrides."""
    options = dict(sc.defaults)
    if quick:
        options.update(sc.quick)
    overrides = {}
    for k, v in sets.items():
        if rundir.is_wiring_key(k):
            target, dotted = rundir.decode_override(k)
            if target and target not in sc.wirings:
                raise ScenarioError(f"--set {k}: scenario '{sc.name}' uses no wiring '{target}'"
                                    f"{did_you_mean(target, sc.wirings)}", "--set",
                                    hint="its wirings: " + ", ".join(sc.wirings))
            overrides[(target, dotted)] = v
            continue
        if k not in options:
            raise ScenarioError(f"--set {k}: scenario '{sc.name}' has no option '{k}'{did_you_mean(k, options)}",
                                "--set", hint="options: " + ", ".join(f"{o}={options[o]!r}" for o in options))
        default = options[k]
        if isinstance(default, bool) and not isinstance(v, bool):
            raise ScenarioError(f"--set {k}: expected true/false, found {v!r}", "--set")
        if isinstance(default, (int, float)) and not isinstance(default, bool):
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise ScenarioError(f"--set {k}: expected a number, found {v!r}", "--set")
            v = type(default)(v) if not (isinstance(default, int) and isinstance(v, float) and v != int(v)) else v
        options[k] = v
    return options, overrides


def default_out(sc: Scenario, seed: int, quick: bool) -> Path:
    return Path("runs") / f"{sc.name}-seed{seed}{'-quick' if quick else ''}"


def _check_run_flags(checkpoint_every: int, keep_checkpoints: int) -> None:
    if not isinstance(checkpoint_every, int) or checkpoint_every < 0:
        raise ScenarioError(f"--checkpoint-every must be an integer >= 0, found {checkpoint_every!r}",
                            "--checkpoint-every", hint="0 turns checkpoints off")
    if not isinstance(keep_checkpoints, int) or keep_checkpoints < 1:
        raise ScenarioError(f"--keep-checkpoints must be an integer >= 1, found {keep_checkpoints!r}",
                            "--keep-checkpoints")


def run_scenario(name_or_path: str, *, quick: bool = False, seed: int = 0, out: "str | Path | None" = None,
                 sets: Optional[list[str]] = None, force: bool = False, progress: bool = True,
                 checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY, keep_checkpoints: int = DEFAULT_KEEP_CHECKPOINTS,
                 check_finite: bool = True, on_finish: Optional[Callable[[Path], None]] = None) -> dict:
    """Run a scenario and write its run directory; return the summary dict.

    Args:
        force: write into an existing non-empty directory, deleting the run outputs there first.
        checkpoint_every: checkpoint every this many training steps (0: never); keep_checkpoints: how many.
        check_finite: stop with NonFiniteError when an output or cost becomes NaN/Inf.
        on_finish: called with the run directory once ``summary.json`` and the scenario's figures are
            written, e.g. :func:`brainsim.viz.finalize_run` (flow figures + ``report.html``; the
            ``brainsim run`` command passes it).  An exception it raises is logged, never fatal.

    Raises:
        ScenarioError / WiringError: bad input (the CLI exits 2).
        NonFiniteError: a NaN/Inf during training (the CLI exits 3).
    """
    _check_run_flags(checkpoint_every, keep_checkpoints)
    sc = get_scenario(name_or_path)
    options, overrides = resolve_options(sc, quick, parse_sets(sets or []))
    out = Path(out) if out is not None else default_out(sc, seed, quick)
    if out.exists() and not out.is_dir():
        raise ScenarioError(f"run directory '{out}' is a file", str(out), hint="pass --out a directory")
    if out.exists() and any(out.iterdir()) and not force:
        hint = "pass --force to overwrite it, or --out another directory"
        if RunDir(out).config.exists() and not RunDir(out).summary.exists() and has_checkpoint(out):
            hint = f"it holds an unfinished run: continue it with `brainsim run --resume {out}`, or " + hint
        raise ScenarioError(f"run directory '{out}' already exists and is not empty", str(out), hint=hint)
    out.mkdir(parents=True, exist_ok=True)
    for p in RunDir(out).outputs():
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p)
        elif p.exists() or p.is_symlink():
            p.unlink()
    source = str(Path(name_or_path).resolve()) if Path(name_or_path).suffix == ".py" else name_or_path
    atomic_write_json(RunDir(out).config, rundir.config_record(
        scenario=sc.name, seed=seed, quick=quick, options=options, overrides=overrides, wirings=sc.wirings,
        source=source, sets=sets or [], checkpoint_every=checkpoint_every, keep_checkpoints=keep_checkpoints,
        check_finite=check_finite))
    ctx = RunContext(sc, out, seed, quick, options, overrides, progress, checkpoint_every=checkpoint_every,
                     keep_checkpoints=keep_checkpoints, check_finite=check_finite)
    return _execute(sc, ctx, on_finish)


def resume_scenario(run_dir: "str | Path", *, progress: bool = True,
                    on_finish: Optional[Callable[[Path], None]] = None) -> dict:
    """Continue a killed run from its checkpoints; return the summary dict.

    The scenario, seed, ``--quick``, options, overrides and checkpoint settings come from
    ``DIR/config.json``.  Each model resumes from its latest checkpoint (models that had finished
    are not retrained); its ``metrics.jsonl`` records after that checkpoint and a torn last line
    are dropped first, so the finished run's metrics and parameters equal an uninterrupted run's.
    ``on_finish``: as for :func:`run_scenario`.

    Raises:
        ScenarioError: DIR is not a run directory, has finished, or holds no checkpoint.
    """
    out = Path(run_dir)
    run = RunDir(out)
    cfg_path = run.config
    if not cfg_path.is_file():
        raise ScenarioError(f"'{out}' is not a brainsim run directory (no config.json)", str(out),
                            hint="--resume takes the --out directory of an interrupted `brainsim run`")
    try:
        cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ScenarioError(f"'{cfg_path}' is not valid JSON ({e})", str(cfg_path)) from None
    if "source" not in cfg:
        raise ScenarioError(f"'{cfg_path}' was written by a brainsim without resume support", str(cfg_path),
                            hint="start the run again with --force")
    if run.summary.exists():
        raise ScenarioError(f"run '{out}' already finished (summary.json exists): nothing to resume", str(out),
                            hint="start a new run with --out another directory, or rerun it with --force")
    if not has_checkpoint(out):
        raise ScenarioError(f"run '{out}' holds no checkpoint to resume from (no {run.checkpoints}/<model>/<step>)",
                            str(out), hint=f"it stopped before its first checkpoint (every {cfg.get('checkpoint_every')} "
                                           "steps); start it again with --force")
    sc = get_scenario(cfg["source"])
    overrides = rundir.decode_overrides(cfg.get("overrides"))
    ctx = RunContext(sc, out, int(cfg["seed"]), bool(cfg["quick"]), dict(cfg["options"]), overrides, progress,
                     resume=True, checkpoint_every=int(cfg["checkpoint_every"]),
                     keep_checkpoints=int(cfg["keep_checkpoints"]), check_finite=bool(cfg["check_finite"]))
    if ctx.metrics.dropped_torn:
        ctx.log(f"{run.metrics}: dropped a torn last line (the job was killed while writing it)")
    return _execute(sc, ctx, on_finish)


def _check_overrides(sc: Scenario, overrides: Mapping) -> None:
    """Fail before training when a ``--set`` wiring path exists in none of the scenario's wirings."""
    from .wiring import load_yaml

    raw = {}
    for w in sc.wirings:
        try:
            path = find_wiring(w)
        except WiringError:  # an unknown name: load_brain reports it
            continue
        if path.exists():
            raw[w] = load_yaml(path.read_text(encoding="utf-8"), str(path))[0]
    for target, dotted in overrides:
        if not any(_has_parent(data, dotted) for w, data in raw.items() if rundir.targets(target, w)):
            shown = rundir.encode_override(target, dotted)
            raise WiringError(f"--set {shown}: no wiring of scenario '{sc.name}' has this path", "--set",
                              hint="wirings: " + ", ".join(sc.wirings) + "; check `brainsim validate` for their keys")


def _execute(sc: Scenario, ctx: RunContext, on_finish: Optional[Callable[[Path], None]] = None) -> dict:
    out, overrides = ctx.out, ctx.overrides
    _check_overrides(sc, overrides)
    t0 = time.perf_counter()
    try:
        result = sc.run(ctx)
    finally:
        if ctx._metrics is not None:
            ctx._metrics.close()
    wall = time.perf_counter() - t0
    summary = {"scenario": sc.name, "seed": ctx.seed, "quick": ctx.quick, "passed": bool(result.passed),
               "criterion": result.criterion, "metrics": result.metrics,
               "compile_seconds": round(ctx.compile_seconds, 3), "wall_seconds": round(wall, 3),
               "anchor": sc.anchor}
    if ctx.resume:
        summary["resumed"] = True
    run = RunDir(out)
    atomic_write_json(run.summary, summary)
    try:
        sc.figures(ctx, result)
        if on_finish is not None:  # e.g. viz.finalize_run: flow figures + report.html
            on_finish(out)
    except Exception as e:  # a figure must never lose a finished run
        ctx.log(f"figures failed: {type(e).__name__}: {e}")
    return json.loads(run.summary.read_text())
