"""Scenarios: wiring + task + training protocol + evaluation + a published pass criterion.

A scenario is a :class:`Scenario` subclass in ``scenarios/<name>.py`` (exported
as ``SCENARIO``), or any ``.py`` file holding one.  ``run_scenario`` gives it a
:class:`RunContext` and writes the run directory::

    DIR/summary.json   scenario, seed, quick, passed, criterion, metrics,
                       compile_seconds, wall_seconds (written atomically)
    DIR/config.json    the resolved options and wiring overrides
    DIR/metrics.jsonl  training metrics, one JSON object per logged step
    DIR/figures/       figures the scenario draws

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
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar, Mapping, Optional

import jax
import numpy as np
import yaml

from .errors import BrainsimError, ScenarioError, WiringError, did_you_mean
from .train import MetricsLog, atomic_write_json

ROOT = Path(__file__).resolve().parent.parent
WIRING_DIR = ROOT / "wiring"
SCENARIO_DIR = ROOT / "scenarios"


def wiring_path(name: str) -> Path:
    """``"pbwm"`` -> ``<repo>/wiring/pbwm.yaml`` (a path is returned as is)."""
    p = Path(name)
    if p.suffix in (".yaml", ".yml"):
        return p
    return WIRING_DIR / f"{name}.yaml"


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
    _metrics: Optional[MetricsLog] = None
    _applied: set = field(default_factory=set)

    @property
    def key(self) -> jax.Array:
        return jax.random.key(self.seed)

    def rng(self, stream: int = 0) -> np.random.Generator:
        """An independent numpy generator for data stream ``stream``."""
        return np.random.default_rng([self.seed, stream])

    @property
    def metrics(self) -> MetricsLog:
        if self._metrics is None:
            self._metrics = MetricsLog(self.out / "metrics.jsonl")
        return self._metrics

    @property
    def figures(self) -> Path:
        d = self.out / "figures"
        d.mkdir(parents=True, exist_ok=True)
        return d

    def log(self, msg: str) -> None:
        if self.progress:
            print(f"[{self.scenario.name}] {msg}", flush=True)

    def load_brain(self, wiring: str):
        """Load a wiring by name with this run's ``--set`` overrides applied."""
        from .brain import Brain
        from .graph import build_graph
        from .wiring import build_spec, load_yaml, set_path

        path = wiring_path(wiring)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ScenarioError(f"scenario '{self.scenario.name}' needs wiring '{path}', which does not exist") from None
        data, locs = load_yaml(text, str(path))
        for (target, dotted), value in self.overrides.items():
            if target not in (None, path.stem):
                continue
            if _has_parent(data, dotted):
                set_path(data, dotted, value)
                self._applied.add((target, dotted))
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
        B = next(iter(batch.values())).shape[1]
        trace = brain.flow(params, brain.init_state(B), batch, jax.random.fold_in(self.key, 99))
        arrays = {k: np.asarray(v)[:, sample] for k, v in trace.items()}
        d = self.out / "flow"
        d.mkdir(parents=True, exist_ok=True)
        path = d / f"{Path(wiring).stem}.npz"
        tmp = d / f".{path.stem}.tmp.npz"
        overrides = {k: v for (t, k), v in self.overrides.items() if t in (None, Path(wiring).stem)}
        np.savez_compressed(tmp, wiring=str(wiring_path(wiring).resolve()), overrides=json.dumps(overrides),
                            labels=np.asarray(labels if labels is not None else [], dtype=str), **arrays)
        os.replace(tmp, path)
        return path


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
    """Names of the built-in scenarios (``scenarios/*.py``)."""
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.py") if not p.stem.startswith("_"))


def get_scenario(name_or_path: str) -> Scenario:
    """Find a scenario by built-in name or by path to a ``.py`` file."""
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
        module = importlib.import_module(f"scenarios.{name_or_path}")
    sc = getattr(module, "SCENARIO", None)
    if not isinstance(sc, Scenario):
        raise ScenarioError(f"'{name_or_path}' defines no SCENARIO = <Scenario instance>",
                            hint="end the file with SCENARIO = MyScenario()")
    return sc


def parse_sets(sets: list[str]) -> dict:
    """``["a=1", "areas.x.y=2"]`` -> ``{"a": 1, "areas.x.y": 2}`` (values parsed as YAML scalars)."""
    out = {}
    for s in sets or []:
        if "=" not in s:
            raise ScenarioError(f"--set expects key=value, found '{s}'", "--set", hint="e.g. --set max_steps=100")
        k, v = s.split("=", 1)
        try:
            out[k.strip()] = yaml.safe_load(v) if v.strip() else ""
        except yaml.YAMLError:
            out[k.strip()] = v
    return out


def resolve_options(sc: Scenario, quick: bool, sets: Mapping[str, Any]) -> tuple[dict, dict]:
    """Merge defaults, quick overrides and ``--set`` values; split off wiring overrides."""
    options = dict(sc.defaults)
    if quick:
        options.update(sc.quick)
    overrides = {}
    for k, v in sets.items():
        if "." in k or ":" in k:
            target, _, dotted = k.rpartition(":")
            if target and target not in sc.wirings:
                raise ScenarioError(f"--set {k}: scenario '{sc.name}' uses no wiring '{target}'"
                                    f"{did_you_mean(target, sc.wirings)}", "--set",
                                    hint="its wirings: " + ", ".join(sc.wirings))
            overrides[(target or None, dotted)] = v
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


def run_scenario(name_or_path: str, *, quick: bool = False, seed: int = 0, out: "str | Path | None" = None,
                 sets: Optional[list[str]] = None, force: bool = False, progress: bool = True) -> dict:
    """Run a scenario and write its run directory; return the summary dict.

    Raises:
        ScenarioError / WiringError: bad input (the CLI exits 2).
    """
    sc = get_scenario(name_or_path)
    options, overrides = resolve_options(sc, quick, parse_sets(sets or []))
    out = Path(out) if out is not None else default_out(sc, seed, quick)
    if out.exists() and any(out.iterdir()) and not force:
        raise ScenarioError(f"run directory '{out}' already exists and is not empty", str(out),
                            hint="pass --force to overwrite it, or --out another directory")
    out.mkdir(parents=True, exist_ok=True)
    for stale in ("metrics.jsonl", "summary.json"):
        if (out / stale).exists():
            (out / stale).unlink()
    ctx = RunContext(sc, out, seed, quick, options, overrides, progress)
    atomic_write_json(out / "config.json", {"scenario": sc.name, "seed": seed, "quick": quick, "options": options,
                                            "overrides": {f"{t + ':' if t else ''}{k}": v
                                                          for (t, k), v in overrides.items()},
                                            "wirings": list(sc.wirings)})
    t0 = time.perf_counter()
    try:
        result = sc.run(ctx)
    finally:
        if ctx._metrics is not None:
            ctx._metrics.close()
    unused = [f"{t + ':' if t else ''}{k}" for (t, k) in overrides if (t, k) not in ctx._applied]
    if unused:
        raise WiringError(f"--set {unused[0]}: no wiring of scenario '{sc.name}' has this path", "--set",
                          hint="wirings: " + ", ".join(sc.wirings) + "; check `brainsim validate` for their keys")
    wall = time.perf_counter() - t0
    summary = {"scenario": sc.name, "seed": seed, "quick": quick, "passed": bool(result.passed),
               "criterion": result.criterion, "metrics": result.metrics,
               "compile_seconds": round(ctx.compile_seconds, 3), "wall_seconds": round(wall, 3),
               "anchor": sc.anchor}
    atomic_write_json(out / "summary.json", summary)
    try:
        sc.figures(ctx, result)
        from .viz.report import finalize_run  # flow figures + report.html for every run

        finalize_run(out)
    except Exception as e:  # a figure must never lose a finished run
        ctx.log(f"figures failed: {type(e).__name__}: {e}")
    return json.loads((out / "summary.json").read_text())
