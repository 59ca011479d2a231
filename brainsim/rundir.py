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
    DIR/.brainsim/written             the manifest: every path the run wrote (``--force`` deletes only these)
    DIR/.brainsim/lock                held (flock) while a run or resume uses the directory
    DIR/.brainsim/run.log             the full traceback of an unexpected internal error

Wiring overrides: ``--set areas.lstm.hidden=64`` (every wiring of the scenario that has the path)
or ``--set lstm_baseline:areas.lstm.hidden=64`` (one wiring).  In memory they are
``{(target or None, dotted.path): value}``; in ``config.json`` ``{"target:dotted.path": value}``
(``"dotted.path"`` without a target).  A ``--set`` key without ``.`` or ``:`` is a scenario option.

This module imports nothing of brainsim but its errors (and, lazily, the bounded YAML loader of
:mod:`brainsim.wiring` for ``--set`` values).
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional

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

STATE = ".brainsim"  # the run's own bookkeeping: manifest, lock, crash log
MANIFEST = "written"
LOCK = "lock"
CRASH_LOG = "run.log"

# where a run writes (``--force`` deletes, among these, only what the manifest lists)
RUN_OUTPUTS = (SUMMARY, CONFIG, METRICS, REPORT, CHECKPOINTS, RESULTS, FLOW, FIGURES)

# the keys of config.json ("source": the scenario's name or the resolved path of its .py file;
# "sets": the --set arguments as given; "overrides": the encoded wiring overrides)
CONFIG_KEYS = ("scenario", "seed", "quick", "options", "overrides", "wirings", "source", "sets",
               "checkpoint_every", "keep_checkpoints", "check_finite", "fingerprint", "imports")

# config.json's "applied_overrides": {wiring: {dotted.path: value}}, the overrides the run's latest load of
# each wiring actually applied (--set ones and those the scenario chose), written as the run goes
APPLIED_OVERRIDES = "applied_overrides"

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
        """The places a run writes (see :data:`RUN_OUTPUTS`)."""
        return [self.root / name for name in RUN_OUTPUTS]

    state = property(lambda self: self.root / STATE)
    manifest = property(lambda self: self.root / STATE / MANIFEST)
    lock_file = property(lambda self: self.root / STATE / LOCK)
    crash_log = property(lambda self: self.root / STATE / CRASH_LOG)

    def record(self, *paths: "str | Path") -> None:
        """Add ``paths`` (files or folders the run created under the directory) to the manifest."""
        rels = []
        for p in paths:
            try:
                rels.append(Path(os.path.abspath(p)).relative_to(os.path.abspath(self.root)).as_posix())
            except ValueError:  # outside the run directory: never deleted by --force
                continue
        if not rels:
            return
        self.state.mkdir(parents=True, exist_ok=True)
        with open(self.manifest, "a", encoding="utf-8") as f:
            f.write("".join(json.dumps(r) + "\n" for r in rels))

    def written(self) -> list:
        """The manifest's paths (relative, deduplicated, in order); unreadable lines are skipped."""
        out: dict = {}
        try:
            lines = self.manifest.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return []
        for line in lines:
            try:
                rel = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(rel, str) and rel and not Path(rel).is_absolute() and ".." not in Path(rel).parts:
                out[rel] = None
        return list(out)

    def clean(self) -> list:
        """Delete what an earlier run wrote here (``--force``): the manifest's files, checkpoint step
        folders inside the manifest's checkpoint folders, then folders left empty.  Files the manifest
        does not list (a user's own) are never touched.  Returns the deleted paths."""
        deleted = []
        for rel in reversed(self.written()):
            p = self.root / rel
            if p.is_symlink() or p.is_file():
                p.unlink()
                deleted.append(p)
            elif p.is_dir() and Path(rel).parts[:1] == (CHECKPOINTS,):
                for q in p.iterdir():
                    if is_step_dir(q):
                        shutil.rmtree(q)
                        deleted.append(q)
        for rel in sorted(self.written(), key=lambda r: -len(Path(r).parts)):
            for d in [self.root / rel, *(self.root / rel).parents]:
                if d == self.root or self.root not in d.parents:
                    break
                try:
                    d.rmdir()  # only when empty
                except OSError:
                    break
        if self.manifest.exists():
            self.manifest.unlink()
        return deleted


# a checkpoint step folder: complete (``N``) or being written by orbax (``N.orbax-checkpoint-tmp-M``)
_STEP_LIKE = re.compile(r"\A\d+(\.orbax-checkpoint-tmp-\d+)?\Z")


def is_step_dir(p: Path) -> bool:
    """A checkpoint step folder (complete or being written): the only entries clean-up ever deletes."""
    return p.is_dir() and not p.is_symlink() and bool(_STEP_LIKE.match(p.name))


# --------------------------------------------------------------------------- safe path components

_COMPONENT = re.compile(r"\A[A-Za-z0-9_][A-Za-z0-9_.+-]{0,127}\Z", re.ASCII)


def check_component(text: str, what: str) -> str:
    """``text`` if it is safe as one path component (letters, digits, ``_ . + -``, not starting with
    ``.`` or ``-``, at most 128 characters: no ``..``, separators or control characters).

    Raises:
        ScenarioError: it is not (the message names ``what``).
    """
    if not isinstance(text, str) or not _COMPONENT.match(text) or text.endswith("."):
        raise ScenarioError(f"{what} must be a plain name (letters, digits, _ . + -, not starting with '.' or '-'), "
                            f"found {text!r}", what,
                            hint="names become file and folder names in the run directory; rename it")
    return text


# --------------------------------------------------------------------------- the lock

class RunLock:
    """An exclusive lock on a run directory (``DIR/.brainsim/lock``, ``flock``): a second run or resume
    of the same directory fails at once with a clear message; the lock goes with the process, so a
    killed run never leaves it stuck."""

    def __init__(self, root: "str | Path"):
        self.run = RunDir(root)
        self._fd: Optional[int] = None

    def acquire(self) -> "RunLock":
        import fcntl

        self.run.state.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.run.lock_file, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "?"
            os.close(fd)
            if e.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise ScenarioError(f"run directory '{self.run.root}' is in use by another brainsim process "
                                    f"(pid {holder})", str(self.run.root),
                                    hint="wait for it to finish (or stop it), or use --out another directory") from None
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the flock
            self._fd = None

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


# --------------------------------------------------------------------------- fingerprints (exact resume)

def file_hash(path: "str | Path") -> str:
    """``sha256:<hex>`` of a file's bytes."""
    return "sha256:" + hashlib.sha256(Path(path).read_bytes()).hexdigest()


def fingerprint_diff(recorded: Mapping[str, Any], current: Mapping[str, Any]) -> list:
    """What changed between two fingerprints (``{what: hash}``): human-readable lines."""
    out = []
    for k in sorted(set(recorded) | set(current)):
        a, b = recorded.get(k), current.get(k)
        if a != b:
            out.append(f"{k} ({'added' if a is None else 'removed' if b is None else 'changed'})")
    return out


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
                  checkpoint_every: int, keep_checkpoints: int, check_finite: bool,
                  fingerprint: Optional[Mapping[str, str]] = None, imports: Iterable[str] = ()) -> dict:
    """The content of ``config.json`` (keys :data:`CONFIG_KEYS`, overrides encoded; ``fingerprint``:
    ``{what: hash}`` of the scenario source, the wiring files and the package, checked on resume;
    ``imports``: the ``--import`` modules (``.py`` paths resolved), imported again on resume)."""
    return {"scenario": scenario, "seed": seed, "quick": quick, "options": dict(options),
            "overrides": encode_overrides(overrides), "wirings": list(wirings), "source": source,
            "sets": list(sets), "checkpoint_every": checkpoint_every, "keep_checkpoints": keep_checkpoints,
            "check_finite": check_finite, "fingerprint": dict(fingerprint or {}), "imports": list(imports)}


# --------------------------------------------------------------------------- --set and wiring overrides

def parse_sets(sets: Optional[Iterable[str]]) -> dict:
    """``["a=1", "areas.x.y=2"]`` -> ``{"a": 1, "areas.x.y": 2}``.

    Values are read by the same bounded safe YAML loader as wiring files (no tags, no alias bombs,
    bounded depth); a value that is not valid YAML is taken as a plain string.

    Raises:
        ScenarioError: an item without ``=``, an empty key, or a value the safe loader refuses.
    """
    from .errors import WiringError
    from .wiring import load_yaml

    out = {}
    for s in sets or []:
        if not isinstance(s, str) or "=" not in s:
            raise ScenarioError(f"--set expects key=value, found {s!r}", "--set", hint="e.g. --set max_steps=100")
        k, v = s.split("=", 1)
        k = k.strip()
        if not k:
            raise ScenarioError(f"--set {s}: the key before '=' is empty", "--set", hint="e.g. --set max_steps=100")
        if not v.strip():
            out[k] = ""
            continue
        try:
            out[k] = load_yaml(v, f"--set {k}")[0]
        except WiringError as e:
            if e.message.startswith("invalid YAML"):
                out[k] = v  # not YAML: a plain string
                continue
            raise ScenarioError(f"--set {k}: {e.message}", "--set", hint=e.hint) from None
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
    """The ``{dotted: value}`` overrides a run's ``config.json`` applies to ``wiring``: the ones the run
    recorded as applied (``applied_overrides``, which include those the scenario chose itself), else the
    ``--set`` ones."""
    applied = (config or {}).get(APPLIED_OVERRIDES) or {}
    for key in (str(wiring), Path(wiring).stem):
        if isinstance(applied.get(key), dict):
            return dict(applied[key])
    for key, value in applied.items():  # recorded under a path, asked for by name (or the reverse)
        if Path(key).stem == Path(wiring).stem and isinstance(value, dict):
            return dict(value)
    return overrides_for(decode_overrides((config or {}).get("overrides")), wiring)
