"""The run-directory format: what a scenario run writes, and how ``--set`` wiring overrides are recorded.

One module owns the format, so the runner (:mod:`brainsim.scenario`), the checkpoints and the
figures / report (:mod:`brainsim.viz`) agree on it without importing each other::

    DIR/summary.json     scenario, seed, quick, passed, criterion, metrics, compile_seconds,
                         wall_seconds, anchor [, resumed]           (written atomically, last)
    DIR/config.json      the keys of CONFIG_KEYS: the resolved options and wiring overrides
    DIR/metrics.jsonl    training metrics, one JSON object per logged step ({"model": label, ...})
    DIR/figures/         figures the scenario draws; figures/flow/ and figures/costs.png by viz
    DIR/results/<model>.json          finished models' results
    DIR/checkpoints/<model>/<step>/   training checkpoints
    DIR/flow/<wiring>.npz             one recorded evaluation trial per wiring (``brainsim flow``)
    DIR/report.html                   the self-contained HTML report (viz)

Wiring overrides: ``--set areas.lstm.hidden=64`` (every wiring of the scenario that has the path)
or ``--set lstm_baseline:areas.lstm.hidden=64`` (one wiring).  In memory they are
``{(target or None, dotted.path): value}``; in ``config.json`` ``{"target:dotted.path": value}``
(``"dotted.path"`` without a target).  A ``--set`` key without ``.`` or ``:`` is a scenario option.

This module imports nothing of brainsim but its errors.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional

import yaml

from .errors import ScenarioError

SUMMARY = "summary.json"
CONFIG = "config.json"
METRICS = "metrics.jsonl"
REPORT = "report.html"
FIGURES = "figures"
RESULTS = "results"
CHECKPOINTS = "checkpoints"
FLOW = "flow"
FLOW_FIGURES = "flow"  # under FIGURES: the figures viz makes from the flow recordings
COST_FIGURE = "costs.png"  # under FIGURES

# what a run writes into its directory (``--force`` deletes these first, nothing else)
RUN_OUTPUTS = (SUMMARY, CONFIG, METRICS, REPORT, CHECKPOINTS, RESULTS, FLOW, FIGURES)

# the keys of config.json ("source": the scenario's name or the resolved path of its .py file;
# "sets": the --set arguments as given; "overrides": the encoded wiring overrides)
CONFIG_KEYS = ("scenario", "seed", "quick", "options", "overrides", "wirings", "source", "sets",
               "checkpoint_every", "keep_checkpoints", "check_finite")

TARGET_SEP = ":"


class RunDir:
    """The paths of one run directory (nothing is created or read)."""

    def __init__(self, root: "str | Path"):
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"RunDir({str(self.root)!r})"

    summary = property(lambda self: self.root / SUMMARY)
    config = property(lambda self: self.root / CONFIG)
    metrics = property(lambda self: self.root / METRICS)
    report = property(lambda self: self.root / REPORT)
    figures = property(lambda self: self.root / FIGURES)
    flow_figures = property(lambda self: self.root / FIGURES / FLOW_FIGURES)
    cost_figure = property(lambda self: self.root / FIGURES / COST_FIGURE)
    results = property(lambda self: self.root / RESULTS)
    checkpoints = property(lambda self: self.root / CHECKPOINTS)
    flow = property(lambda self: self.root / FLOW)

    def flow_file(self, wiring: str) -> Path:
        """``DIR/flow/<wiring>.npz`` (``wiring``: a canonical name or a path; its stem is used)."""
        return self.flow / f"{Path(wiring).stem}.npz"

    def flow_files(self) -> list:
        """The flow recordings ``DIR/flow/*.npz`` (sorted; temporary files left out)."""
        d = self.flow
        return sorted(p for p in d.glob("*.npz") if not p.name.startswith(".")) if d.is_dir() else []

    def outputs(self) -> list:
        """The paths a run writes (see :data:`RUN_OUTPUTS`)."""
        return [self.root / name for name in RUN_OUTPUTS]


# --------------------------------------------------------------------------- JSON files

def read_json(path: "str | Path") -> Optional[dict]:
    """A JSON file's content, or ``None`` when it is missing or not valid JSON."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def read_config(run_dir: "str | Path") -> Optional[dict]:
    """``DIR/config.json`` (``None`` when missing or unreadable)."""
    return read_json(RunDir(run_dir).config)


def read_summary(run_dir: "str | Path") -> Optional[dict]:
    """``DIR/summary.json`` (``None`` when missing or unreadable: the run did not finish)."""
    return read_json(RunDir(run_dir).summary)


def config_record(*, scenario: str, seed: int, quick: bool, options: Mapping[str, Any],
                  overrides: Mapping[tuple, Any], wirings: Iterable[str], source: str, sets: Iterable[str],
                  checkpoint_every: int, keep_checkpoints: int, check_finite: bool) -> dict:
    """The content of ``config.json`` (keys :data:`CONFIG_KEYS`, overrides encoded)."""
    return {"scenario": scenario, "seed": seed, "quick": quick, "options": dict(options),
            "overrides": encode_overrides(overrides), "wirings": list(wirings), "source": source,
            "sets": list(sets), "checkpoint_every": checkpoint_every, "keep_checkpoints": keep_checkpoints,
            "check_finite": check_finite}


# --------------------------------------------------------------------------- --set and wiring overrides

def parse_sets(sets: Optional[Iterable[str]]) -> dict:
    """``["a=1", "areas.x.y=2"]`` -> ``{"a": 1, "areas.x.y": 2}`` (values parsed as YAML scalars).

    Raises:
        ScenarioError: an item without ``=``.
    """
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


def is_wiring_key(key: str) -> bool:
    """A ``--set`` key that overrides a wiring value (it has a dotted path or a ``wiring:`` target)."""
    return "." in key or TARGET_SEP in key


def decode_override(key: str) -> tuple:
    """``"lstm_baseline:areas.lstm.hidden"`` -> ``("lstm_baseline", "areas.lstm.hidden")``;
    ``"areas.lstm.hidden"`` -> ``(None, "areas.lstm.hidden")``."""
    target, _, dotted = key.rpartition(TARGET_SEP)
    return (target or None, dotted)


def encode_override(target: Optional[str], dotted: str) -> str:
    """The inverse of :func:`decode_override`."""
    return f"{target}{TARGET_SEP}{dotted}" if target else dotted


def encode_overrides(overrides: Mapping[tuple, Any]) -> dict:
    """``{(target, dotted): value}`` -> ``{"target:dotted": value}`` (as in ``config.json``)."""
    return {encode_override(t, k): v for (t, k), v in overrides.items()}


def decode_overrides(encoded: Optional[Mapping[str, Any]]) -> dict:
    """``{"target:dotted": value}`` (``config.json``) -> ``{(target or None, dotted): value}``."""
    return {decode_override(k): v for k, v in (encoded or {}).items()}


def targets(target: Optional[str], wiring: str) -> bool:
    """Whether an override aimed at ``target`` (``None``: every wiring) applies to ``wiring``
    (a canonical name or a path; a target may name either, or the path's stem)."""
    return target is None or target in (str(wiring), Path(wiring).stem)


def overrides_for(overrides: Mapping[tuple, Any], wiring: str) -> dict:
    """The ``{dotted: value}`` overrides of ``{(target, dotted): value}`` that apply to ``wiring``."""
    return {k: v for (t, k), v in overrides.items() if targets(t, wiring)}


def config_overrides(config: Optional[Mapping[str, Any]], wiring: str) -> dict:
    """The ``{dotted: value}`` overrides a run's ``config.json`` applies to ``wiring``."""
    return overrides_for(decode_overrides((config or {}).get("overrides")), wiring)
