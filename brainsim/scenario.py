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
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar, Iterable, Mapping, Optional

import jax
import numpy as np

from . import rundir
from .checkpoint import Checkpointer, has_checkpoint, label_dir
from .errors import BrainsimError, ScenarioError, WiringError, did_you_mean
from .rundir import RunDir, parse_sets
from .train import FitResult, MetricsLog, atomic_write_json, fit as _fit
from .wiring import find_wiring, read_wiring_text


def warn(msg: str) -> None:
    """A warning the user must see (stderr, even with --no-progress)."""
    import sys

    print(msg, file=sys.stderr, flush=True)

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
    fingerprint: dict = field(default_factory=dict)  # config.json's: {what: hash} (checked on resume)
    resume_anyway: bool = False
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
            RunDir(self.out).record(self._metrics.path)
            for line in self._metrics.damaged:
                warn(f"{self._metrics.path}:{line}: a damaged record (not JSON) in the middle of the file; "
                     "it is kept as it is and left out of the figures")
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
        label = rundir.check_component(str(label or brain.spec.name), "a model label (fit label= or the wiring's name)")
        if label in self._labels:
            raise ScenarioError(f"scenario '{self.scenario.name}' trains two models labelled '{label}'",
                                hint="pass a distinct label= to RunContext.fit")
        self._labels.add(label)
        ck = Checkpointer(label_dir(self.out, label), self.checkpoint_every, self.keep_checkpoints, warn=warn) \
            if self.checkpoint_every > 0 else None
        if ck is not None:
            RunDir(self.out).record(ck.directory)
        if self.resume:
            n = ck.newest_intact() if ck is not None else None
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
        path = RunDir(self.out).results / f"{rundir.check_component(str(label), 'a result label')}.json"
        if self.resume and path.exists():
            self.log(f"{label}: finished before the interruption; using {path}")
            return json.loads(path.read_text(encoding="utf-8"))
        out = compute()
        atomic_write_json(path, out)
        RunDir(self.out).record(path)
        return json.loads(path.read_text(encoding="utf-8"))

    def load_brain(self, wiring: str):
        """Load a wiring by name with this run's ``--set`` overrides applied (a relative path: relative to the
        scenario's file)."""
        wiring = scenario_wiring(self.scenario, wiring)
        from .brain import Brain
        from .graph import build_graph
        from .wiring import build_spec, load_yaml, set_path

        path = find_wiring(wiring)
        text = read_wiring_text(path)
        self._check_wiring_unchanged(wiring, path)
        data, locs = load_yaml(text, str(path))
        applied = {}
        for dotted, value in rundir.overrides_for(self.overrides, wiring).items():
            if _has_parent(data, dotted):
                set_path(data, dotted, value)
                applied[dotted] = value
        brain = Brain(build_graph(build_spec(data, locs)))
        self._record_applied(wiring, applied)
        for w in brain.graph.warnings:
            self.log(w)
        return brain

    def _check_wiring_unchanged(self, wiring: str, path: Path) -> None:
        """On resume: the wiring file must be the one the run started with (config.json's hash)."""
        key = f"wiring {wiring}"
        if not self.resume or key not in self.fingerprint:
            return
        now = rundir.file_hash(path)
        if now != self.fingerprint[key]:
            msg = (f"wiring '{path}' changed since the run started (its hash differs from {self.out}/config.json); "
                   "resuming would mix two configurations")
            if not self.resume_anyway:
                raise ScenarioError(msg, str(path), hint="restore the file, or pass --resume-anyway to continue "
                                                         "with the edited wiring (the results mix both)")
            warn("warning: " + msg + " (--resume-anyway)")


    def _record_applied(self, wiring: str, applied: Mapping[str, Any]) -> None:
        """Keep ``config.json``'s ``applied_overrides[wiring]`` = the overrides the latest load of ``wiring``
        applied (``--set`` ones and those the scenario chose, e.g. twelve_ax's matched LSTM size), so that
        the run's brains can be rebuilt, and its checkpoints restored, from ``config.json`` alone."""
        path = RunDir(self.out).config
        cfg = rundir.read_json(path)
        if not isinstance(cfg, dict):
            return
        record = cfg.setdefault(rundir.APPLIED_OVERRIDES, {})
        if record.get(wiring) != dict(applied):
            record[wiring] = dict(applied)
            atomic_write_json(path, cfg)

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
        rundir.check_component(Path(wiring).stem, "a wiring name (flow recording file name)")
        path = run.flow_file(wiring)
        tmp = run.flow / f".{path.stem}.tmp.npz"
        overrides = rundir.overrides_for(self.overrides, wiring)
        np.savez_compressed(tmp, wiring=str(find_wiring(wiring).resolve()), overrides=json.dumps(overrides),
                            labels=np.asarray(labels if labels is not None else [], dtype=str), **arrays)
        os.replace(tmp, path)
        run.record(path)
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


def get_scenario(name_or_path: str) -> Scenario:
    """Find a scenario by built-in name or by path to a ``.py`` file."""
    from .plugins import load_plugins, load_scenario_entry_point, scenario_entry_points

    load_plugins()  # plugin tasks, areas, rules and cost terms the scenario may use
    p = Path(name_or_path)
    if p.suffix == ".py":
        if not p.exists():
            raise ScenarioError(f"scenario file '{p}' does not exist")
        if not p.is_file():
            raise ScenarioError(f"scenario '{p}' is not a regular file", str(p), hint="give the path to a .py file")
        spec = importlib.util.spec_from_file_location(f"_brainsim_scenario_{p.stem}", p)
        module = importlib.util.module_from_spec(spec)
        _exec_scenario(spec, module, str(p))
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
    if p.suffix == ".py":
        sc._source_file = str(p.resolve())  # hashed into config.json's fingerprint
    if any(scenario_wiring(sc, w) != w for w in sc.wirings):  # relative paths: relative to the scenario file
        sc.wirings = tuple(scenario_wiring(sc, w) for w in sc.wirings)
    return sc


def _exec_scenario(spec, module, where: str) -> None:
    """Import a scenario file; any error in it (syntax, a failing import, ...) is bad input, reported
    with the file and line where Python found it."""
    import sys
    import traceback

    sys.modules[spec.name] = module  # so inspect.getfile() finds the file of its classes
    try:
        spec.loader.exec_module(module)
    except SyntaxError as e:
        raise ScenarioError(f"syntax error in the scenario file: {e.msg}",
                            f"{e.filename or where}:{e.lineno or 1}:{e.offset or 1}",
                            hint="fix the Python syntax there") from None
    except BrainsimError:
        raise
    except Exception as e:  # noqa: BLE001 — the user's code failed while being imported
        frames = [f for f in traceback.extract_tb(e.__traceback__) if f.filename == where]
        line = frames[-1].lineno if frames else 1
        raise ScenarioError(f"the scenario file failed to import: {type(e).__name__}: {e}", f"{where}:{line}:1",
                            hint="fix the error there (run `python " + where + "` to see the full traceback)") from None


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
        options[k] = check_option(sc, k, v, options[k])
    return options, overrides


def check_option(sc: Scenario, key: str, value: Any, default: Any) -> Any:
    """A ``--set`` scenario option checked against its default's type and the scenario's
    ``option_bounds`` (``{name: (low, high)}``, either ``None``); without bounds a number must be
    finite, an integer whose default is >= 1 must stay >= 1 (sizes, counts, intervals) and a number
    whose default is >= 0 must stay >= 0.

    Raises:
        ScenarioError: the value does not fit (the message names ``--set key=value``).
    """
    flag = f"--set {key}={value!r}"
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ScenarioError(f"{flag}: expected true or false, found {_kind(value)}", "--set",
                                hint=f"e.g. --set {key}=true")
        return value
    if not isinstance(default, (int, float)):
        if default is not None and isinstance(value, (dict, list)) != isinstance(default, (dict, list, tuple)):
            raise ScenarioError(f"{flag}: expected {_kind(default)} like the default {default!r}, found {_kind(value)}",
                                "--set")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ScenarioError(f"{flag}: expected a number, found {_kind(value)}", "--set",
                            hint=f"e.g. --set {key}={default!r}")
    if not math.isfinite(value):
        raise ScenarioError(f"{flag}: expected a finite number, found {value!r}", "--set",
                            hint=f"e.g. --set {key}={default!r}")
    if isinstance(default, int):
        if isinstance(value, float) and value != int(value):
            raise ScenarioError(f"{flag}: expected an integer, found {value!r}", "--set")
        value = int(value)
    else:
        value = float(value)
    low, high = dict(getattr(sc, "option_bounds", {}) or {}).get(key, (None, None))
    if low is None and high is None:
        low = 1 if isinstance(default, int) and default >= 1 else 0 if default >= 0 else None
    if (low is not None and value < low) or (high is not None and value > high):
        rng = f">= {low}" if high is None else f"<= {high}" if low is None else f"in [{low}, {high}]"
        raise ScenarioError(f"{flag}: must be {rng}, found {value!r}", "--set",
                            hint=f"the default is {default!r}")
    return value


def _kind(v) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean", int: "an integer",
            float: "a number", type(None): "nothing (null)"}.get(type(v), type(v).__name__)


def default_out(sc: Scenario, seed: int, quick: bool) -> Path:
    return Path("runs") / f"{rundir.check_component(sc.name, 'a scenario name')}-seed{seed}{'-quick' if quick else ''}"


def _check_run_flags(checkpoint_every: Any, keep_checkpoints: Any, seed: Any = 0) -> None:
    def bad_int(v):
        return isinstance(v, bool) or not isinstance(v, (int, np.integer))

    if bad_int(checkpoint_every) or checkpoint_every < 0:
        raise ScenarioError(f"--checkpoint-every must be an integer >= 0, found {checkpoint_every!r}",
                            "--checkpoint-every", hint="0 turns checkpoints off")
    if bad_int(keep_checkpoints) or keep_checkpoints < 1:
        raise ScenarioError(f"--keep-checkpoints must be an integer >= 1, found {keep_checkpoints!r}",
                            "--keep-checkpoints", hint="e.g. --keep-checkpoints 3")
    if bad_int(seed) or not 0 <= seed < 2 ** 32:
        raise ScenarioError(f"--seed must be an integer in [0, 2**32), found {seed!r}", "--seed",
                            hint="e.g. --seed 0")


def package_fingerprint() -> str:
    """``<version>+sha256:<hex>``: brainsim's version and a hash of its code (``brainsim/`` and the
    built-in areas), so a resume after the package was upgraded or edited is refused."""
    import hashlib

    from . import area as _area

    try:
        import importlib.metadata as md
        version = md.version("brainsim")
    except Exception:  # noqa: BLE001 — not installed (a source checkout on sys.path)
        version = "0+unknown"
    h = hashlib.sha256()
    roots = [Path(__file__).resolve().parent]
    spec = importlib.util.find_spec(_area.BUILTIN_CATALOGUE)
    if spec is not None and spec.submodule_search_locations:
        roots.append(Path(next(iter(spec.submodule_search_locations))))
    for root in roots:
        for p in sorted(root.rglob("*.py")):
            if "__pycache__" not in p.parts:
                h.update(p.relative_to(root).as_posix().encode() + b"\0" + p.read_bytes() + b"\0")
    return f"{version}+sha256:{h.hexdigest()}"


def scenario_file(sc: Scenario) -> Optional[Path]:
    """The ``.py`` file a scenario was defined in (``None`` when it has none, e.g. made in a notebook)."""
    import sys

    f = getattr(sc, "_source_file", None) or getattr(sys.modules.get(type(sc).__module__), "__file__", None)
    return Path(f) if f else None


def fingerprint(sc: Scenario) -> dict:
    """``{what: hash}`` of what a run's results depend on besides its options: the scenario's source
    file, each wiring file it names, and the package (see :func:`package_fingerprint`)."""
    out = {"package": package_fingerprint()}
    src = scenario_file(sc)
    if src is not None and src.is_file():
        out["scenario"] = rundir.file_hash(src)
    for w in sc.wirings:
        try:
            p = find_wiring(w)
            if p.is_file():
                out[f"wiring {w}"] = rundir.file_hash(p)
        except (BrainsimError, OSError):
            continue  # load_brain reports it
    return out


def _prepare_out(out: Path, force: bool) -> bool:
    """Check (and with ``force`` clean) the run directory; return whether it was created here.

    ``force`` deletes only what an earlier run recorded in its manifest (``DIR/.brainsim/written``),
    never a user's own files.

    Raises:
        ScenarioError: a file, a non-empty directory without ``force``, or (with ``force``) a
            directory holding files by run-output names that no run recorded.
    """
    run = RunDir(out)
    if out.exists() and not out.is_dir():
        raise ScenarioError(f"run directory '{out}' is a file", "--out", hint="pass --out a directory")
    if out.exists() and any(out.iterdir()):
        if not force:
            hint = "pass --force to replace the earlier run's outputs, or --out another directory"
            if run.config.exists() and not run.summary.exists() and has_checkpoint(out):
                hint = f"it holds an unfinished run: continue it with `brainsim run --resume {out}`, or " + hint
            raise ScenarioError(f"run directory '{out}' already exists and is not empty", "--out", hint=hint)
        if not run.manifest.exists() and rundir.read_config(out) is not None:
            _legacy_manifest(run)
        run.clean()
        foreign = [p.name for p in (run.summary, run.config, run.metrics, run.report) if p.exists()]
        if foreign:
            raise ScenarioError(f"--force: '{out}' holds {', '.join(foreign)}, which no brainsim run recorded "
                                "writing; refusing to overwrite", "--out",
                                hint="move those files away, or use --out another directory")
        return False
    try:
        created = not out.exists()
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".brainsim-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise ScenarioError(f"cannot write the run directory '{out}': {e.strerror or e}", "--out",
                            hint="pass --out a writable directory") from None
    return created


def _legacy_manifest(run: RunDir) -> None:
    """A run directory written before manifests existed: its fixed-name outputs and checkpoint
    folders count as written by that run (nothing else)."""
    names = [run.summary, run.config, run.metrics, run.report]
    if run.checkpoints.is_dir():
        names += [d for d in run.checkpoints.iterdir() if d.is_dir() and not d.is_symlink()]
    run.record(*[p for p in names if p.exists()])


def _discard_new_dir(out: Path, remove_root: bool = True) -> None:
    """A run that failed before it started leaves nothing behind: what it wrote (config.json, its
    bookkeeping) is removed, and the directory too when it created it (``remove_root``)."""
    run = RunDir(out)
    run.clean()
    if run.state.is_dir():
        for p in run.state.iterdir():
            if p.name in (rundir.LOCK,) and p.is_file():
                p.unlink()
        try:
            run.state.rmdir()
        except OSError:
            pass
    if not remove_root:
        return
    try:
        out.rmdir()
    except OSError:
        pass


def run_scenario(name_or_path: str, *, quick: bool = False, seed: int = 0, out: "str | Path | None" = None,
                 sets: Optional[list[str]] = None, force: bool = False, progress: bool = True,
                 checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY, keep_checkpoints: int = DEFAULT_KEEP_CHECKPOINTS,
                 check_finite: bool = True, on_finish: Optional[Callable[[Path], None]] = None,
                 on_start: Optional[Callable[[Path], None]] = None, imports: Iterable[str] = ()) -> dict:
    """Run a scenario and write its run directory; return the summary dict.

    Args:
        force: write into an existing non-empty directory, deleting first only what the earlier run
            there wrote (its manifest ``DIR/.brainsim/written``); a user's own files stay.
        checkpoint_every: checkpoint every this many training steps (0: never); keep_checkpoints: how many.
        check_finite: stop with NonFiniteError when an output or cost becomes NaN/Inf.
        on_finish: called with the run directory once ``summary.json`` and the scenario's figures are
            written, e.g. :func:`brainsim.viz.finalize_run` (flow figures + ``report.html``; the
            ``brainsim run`` command passes it).  An exception it raises is logged, never fatal.
        on_start: called with the run directory once it is prepared and locked (the CLI notes it
            for its crash log and resume hint).
        imports: the plugin modules the caller imported (``--import``), recorded in ``config.json``
            so that ``--resume`` imports them again.

    Everything is checked before the directory is touched (options, ``--set`` values against the
    wirings, flags); a run that fails before training starts removes a directory it created.
    Another process using the same directory makes it fail at once (a lock).

    Raises:
        ScenarioError / WiringError: bad input (the CLI exits 2).
        NonFiniteError: a NaN/Inf during training (the CLI exits 3).
    """
    _check_run_flags(checkpoint_every, keep_checkpoints, seed)
    sc = get_scenario(name_or_path)
    options, overrides = resolve_options(sc, quick, parse_sets(sets or []))
    _check_overrides(sc, overrides)
    out = Path(out) if out is not None else default_out(sc, seed, quick)
    # every wiring builds with the --set values before the directory is touched (--force included)
    _check_wirings_build(sc, RunContext(sc, out, seed, quick, options, overrides, False))
    lock = None
    if out.is_dir() and RunDir(out).state.is_dir():  # lock first: never clean a directory in use
        lock = rundir.RunLock(out).acquire()
    try:
        created = _prepare_out(out, force)
        lock = lock or rundir.RunLock(out).acquire()
    except BaseException:
        if lock is not None:
            lock.release()
        raise
    started = False
    if on_start is not None:
        on_start(out)
    try:
        source = str(Path(name_or_path).resolve()) if Path(name_or_path).suffix == ".py" else name_or_path
        fp = fingerprint(sc)
        run = RunDir(out)
        atomic_write_json(run.config, rundir.config_record(
            scenario=sc.name, seed=seed, quick=quick, options=options, overrides=overrides, wirings=sc.wirings,
            source=source, sets=sets or [], checkpoint_every=checkpoint_every, keep_checkpoints=keep_checkpoints,
            check_finite=check_finite, fingerprint=fp, imports=imports))
        run.record(run.config)
        ctx = RunContext(sc, out, seed, quick, options, overrides, progress, checkpoint_every=checkpoint_every,
                         keep_checkpoints=keep_checkpoints, check_finite=check_finite, fingerprint=fp)
        started = True
        return _execute(sc, ctx, on_finish)
    except BrainsimError:
        if not started:
            lock.release()
            _discard_new_dir(out, remove_root=created)
        raise
    finally:
        lock.release()


def resume_scenario(run_dir: "str | Path", *, progress: bool = True, resume_anyway: bool = False,
                    on_finish: Optional[Callable[[Path], None]] = None) -> dict:
    """Continue a killed run from its checkpoints; return the summary dict.

    The scenario, seed, ``--quick``, options, overrides and checkpoint settings come from
    ``DIR/config.json``.  Each model resumes from its newest intact checkpoint (a damaged newer one
    is skipped with a warning; models that had finished are not retrained); its ``metrics.jsonl``
    records after that checkpoint and a torn last line are dropped first, so the finished run's
    metrics and parameters equal an uninterrupted run's.

    Resume is exact or refuses: when the scenario source, a wiring file or the package differ from
    the hashes in ``config.json`` it raises, naming what changed, unless ``resume_anyway``.
    ``on_finish``: as for :func:`run_scenario`.

    Raises:
        ScenarioError: DIR is not a run directory, has finished, holds no checkpoint, is in use by
            another process, or its inputs changed.
    """
    out = Path(run_dir)
    run = RunDir(out)
    cfg_path = run.config
    if not out.is_dir():
        raise ScenarioError(f"'{out}' is not a directory", "--resume",
                            hint="--resume takes the --out directory of an interrupted `brainsim run`")
    if not cfg_path.is_file():
        raise ScenarioError(f"'{out}' is not a brainsim run directory (no config.json)", "--resume",
                            hint="--resume takes the --out directory of an interrupted `brainsim run`")
    try:
        cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ScenarioError(f"'{cfg_path}' is not valid JSON ({e})", str(cfg_path),
                            hint="the run cannot be resumed; start it again with --force") from None
    cfg = _check_config(cfg, cfg_path)
    with rundir.RunLock(out):
        if run.summary.exists():
            raise ScenarioError(f"run '{out}' already finished (summary.json exists): nothing to resume", "--resume",
                                hint="start a new run with --out another directory, or rerun it with --force")
        if not has_checkpoint(out):
            raise ScenarioError(f"run '{out}' holds no checkpoint to resume from (no {run.checkpoints}/<model>/<step>)",
                                "--resume", hint=f"it stopped before its first checkpoint (every "
                                                 f"{cfg.get('checkpoint_every')} steps); start it again with --force")
        recorded = cfg.get("fingerprint") or {}
        sc = _recorded_scenario(cfg, recorded, resume_anyway)
        current = fingerprint(sc)
        changed = rundir.fingerprint_diff({k: v for k, v in recorded.items()}, current) if recorded else \
            ["config.json records no fingerprint (written by an older brainsim)"]
        if changed:
            msg = f"cannot resume '{out}' exactly: changed since the run started: {'; '.join(changed)}"
            if not resume_anyway:
                raise ScenarioError(msg, "--resume", hint="restore what changed, or pass --resume-anyway to "
                                                          "continue anyway (the results then mix both versions)")
            warn("warning: " + msg + " (continuing: --resume-anyway)")
        overrides = rundir.decode_overrides(cfg.get("overrides"))
        ctx = RunContext(sc, out, cfg["seed"], cfg["quick"], dict(cfg["options"]), overrides, progress,
                         resume=True, checkpoint_every=cfg["checkpoint_every"],
                         keep_checkpoints=cfg["keep_checkpoints"], check_finite=cfg["check_finite"],
                         fingerprint=dict(recorded), resume_anyway=resume_anyway)
        if ctx.metrics.dropped_torn:
            ctx.log(f"{run.metrics}: dropped a torn last line (the job was killed while writing it)")
        return _execute(sc, ctx, on_finish)


def _check_config(cfg: Any, path: Path) -> dict:
    """config.json's fields, type-checked (a damaged or hand-edited file is bad input, not a crash)."""
    def bad(key, expected):
        raise ScenarioError(f"'{path}': '{key}' must be {expected}, found {cfg.get(key)!r}" if isinstance(cfg, dict)
                            else f"'{path}' must hold a JSON object", str(path),
                            hint="config.json is written by `brainsim run`; restore it or start again with --force")

    if not isinstance(cfg, dict):
        bad("", "")
    if "source" not in cfg:
        raise ScenarioError(f"'{path}' was written by a brainsim without resume support", str(path),
                            hint="start the run again with --force")
    checks = {"source": (str, "a string"), "options": (dict, "a mapping"), "quick": (bool, "true or false"),
              "check_finite": (bool, "true or false")}
    for k, (tp, what) in checks.items():
        if not isinstance(cfg.get(k), tp):
            bad(k, what)
    for k, low in (("seed", 0), ("checkpoint_every", 0), ("keep_checkpoints", 1)):
        v = cfg.get(k)
        if isinstance(v, bool) or not isinstance(v, int) or v < low:
            bad(k, f"an integer >= {low}")
    if not isinstance(cfg.get("overrides", {}), dict) or not isinstance(cfg.get("fingerprint", {}), dict):
        bad("overrides", "a mapping")
    return cfg


def _recorded_scenario(cfg: dict, recorded: Mapping[str, str], resume_anyway: bool) -> Scenario:
    """The scenario config.json names; a ``.py`` source runs only when its hash is the recorded one
    (so an edited or swapped file is refused before any of it executes)."""
    source = cfg["source"]
    if Path(source).suffix == ".py":
        p = Path(source)
        if not p.is_file():
            raise ScenarioError(f"the run's scenario file '{source}' no longer exists", "--resume",
                                hint="restore it, or start the run again with --force")
        if "scenario" not in recorded:
            raise ScenarioError(f"config.json records no hash for the scenario file '{source}'", "--resume",
                                hint="start the run again with --force")
        if rundir.file_hash(p) != recorded["scenario"] and not resume_anyway:
            raise ScenarioError(f"the scenario file '{source}' changed since the run started", "--resume",
                                hint="restore it, or pass --resume-anyway to run the edited file")
    return get_scenario(source)


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
            raw[w] = load_yaml(read_wiring_text(path), str(path))[0]
    for target, dotted in overrides:
        if not any(_has_parent(data, dotted) for w, data in raw.items() if rundir.targets(target, w)):
            shown = rundir.encode_override(target, dotted)
            raise WiringError(f"--set {shown}: no wiring of scenario '{sc.name}' has this path", "--set",
                              hint="wirings: " + ", ".join(sc.wirings) + "; check `brainsim validate` for their keys")


def _check_wirings_build(sc: Scenario, ctx: RunContext) -> None:
    """Build every wiring the scenario names with the run's ``--set`` values before training starts, so
    a bad value fails now; an error caused by a ``--set`` value names the flag."""
    for w in sc.wirings:
        over = rundir.overrides_for(ctx.overrides, w)
        try:
            ctx.load_brain(w)
        except BrainsimError as e:
            if over and not isinstance(e, ScenarioError):
                flags = " ".join(f"--set {k}={_yaml_scalar(v)}" for k, v in over.items())
                raise type(e)(f"{e.message} (in wiring '{w}' with {flags}; found at {e.where})", flags,
                              e.hint) from None
            raise


def _yaml_scalar(v: Any) -> str:
    import yaml

    return yaml.safe_dump(v, default_flow_style=True).strip().removesuffix("...").strip()


def _execute(sc: Scenario, ctx: RunContext, on_finish: Optional[Callable[[Path], None]] = None) -> dict:
    out = ctx.out
    run = RunDir(out)
    t_wall = time.time()
    t0 = time.perf_counter()
    try:
        result = sc.run(ctx)
    finally:
        if ctx._metrics is not None:
            ctx._metrics.close()
    if not isinstance(result, Result):
        raise ScenarioError(f"scenario '{sc.name}': run() returned {type(result).__name__}, not a Result",
                            hint="return Result(passed=..., criterion=..., metrics={...})")
    wall = time.perf_counter() - t0
    summary = {"scenario": sc.name, "seed": ctx.seed, "quick": ctx.quick, "passed": bool(result.passed),
               "criterion": result.criterion, "metrics": result.metrics,
               "compile_seconds": round(ctx.compile_seconds, 3), "wall_seconds": round(wall, 3),
               "anchor": sc.anchor}
    if ctx.resume:
        summary["resumed"] = True
    atomic_write_json(run.summary, summary)
    run.record(run.summary)
    try:
        sc.figures(ctx, result)
        if on_finish is not None:  # e.g. viz.finalize_run: flow figures + report.html
            on_finish(out)
    except Exception as e:  # a figure must never lose a finished run
        ctx.log(f"figures failed: {type(e).__name__}: {e}")
    finally:
        _record_new_files(run, t_wall)
    return json.loads(run.summary.read_text())


def _record_new_files(run: RunDir, since: float) -> None:
    """Add the figures and the report this run wrote (files modified since it started) to the manifest."""
    new = []
    for d in (run.figures, run.flow_figures):
        if d.is_dir():
            new += [p for p in d.rglob("*") if p.is_file() and p.stat().st_mtime >= since - 1]
    if run.report.is_file() and run.report.stat().st_mtime >= since - 1:
        new.append(run.report)
    run.record(*new)
