"""``brainsim run TARGET --seeds 0-15``: many seeds of one run, as a population where possible.

Two kinds of TARGET:

* **a wiring** (a ``.yaml`` file, or a canonical wiring name that is not also a scenario name) is
  trained on a task; every seed shares the wiring shape, so all seeds train as ONE population
  program (:class:`brainsim.population.Population`: one compilation, one dispatch per step)::

      brainsim run wiring/pbwm.yaml --seeds 0-15 --set task=twelve_ax --set task.outer_loops=2 \\
          --set steps=500 --set batch=8 --out runs/pbwm-seeds

  ``--set`` keys: ``task`` (a task name, required), ``task.<option>`` (the task's options),
  ``steps``, ``batch``, ``log_every``; any other dotted key overrides the wiring (every member).
  Member ``s`` is exactly :func:`brainsim.train.fit` run alone: parameters from
  ``brain.init(key(s))``, run key ``fold_in(key(s), 1)`` (step ``t`` uses ``fold_in(run key, t)``),
  batches ``task.sample(default_rng([s, 0]), batch)``.

  ``DIR/config.json`` (``"kind": "seeds"``), ``DIR/checkpoints/population/<step>/`` (stacked
  ``[P, ...]`` params, optimiser states, keys and every seed's generator position),
  ``DIR/seed-<s>/metrics.jsonl`` and ``DIR/seed-<s>/summary.json`` per seed, ``DIR/seeds.csv`` and
  ``DIR/summary.json`` (the table).  A member that goes NaN/Inf is recorded with its first bad step
  while the others train on; the command then exits 3.

* **a scenario**: a scenario trains its own models in its own ways, so its seeds run as separate
  programs, automatically: ``DIR/seed-<s>/`` is an ordinary run directory of ``brainsim run
  SCENARIO --seed s`` (one after another, in this process), and ``DIR/seeds.csv`` /
  ``DIR/summary.json`` tabulate them (passed when every seed passed).  A scenario that already runs
  a seed list itself (an option ``seeds`` whose default is a text such as ``"0-4"``: twelve_ax,
  embedded_reber) gets ``--set seeds=0-15`` instead, so its own multi-seed criterion is judged.

``brainsim run --resume DIR`` continues either kind exactly: the population from its newest intact
checkpoint (metrics records after it are dropped first), a scenario's seeds by resuming the
unfinished seed directories and running those that had not started.
"""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Sequence

import numpy as np

from . import rundir
from .errors import ScenarioError
from .population import parse_seeds

__all__ = ["KIND", "is_wiring_target", "seeds_arg", "run_seeds", "resume_seeds", "is_seeds_run"]

KIND = "seeds"
LABEL = "population"
RUN_OPTIONS = {"task": None, "steps": 100, "batch": 8, "log_every": 10}
QUICK_OPTIONS = {"steps": 20}


def seeds_arg(text: Any) -> list[int]:
    """``--seeds`` text -> seeds (errors name ``--seeds``: see :func:`brainsim.population.parse_seeds`)."""
    return parse_seeds(text)


def is_wiring_target(target: str) -> bool:
    """A ``run`` target that is a wiring: a ``.yaml``/``.yml`` path, or a canonical wiring name that
    no scenario has."""
    from .scenario import scenario_names
    from .wiring import wiring_names

    if Path(target).suffix in (".yaml", ".yml"):
        return True
    return target in wiring_names() and target not in scenario_names()


def is_seeds_run(run_dir: "str | Path") -> bool:
    cfg = rundir.read_config(run_dir)
    return isinstance(cfg, dict) and cfg.get("kind") == KIND


def _label(seeds: Sequence[int]) -> str:
    if len(seeds) > 1 and list(seeds) == list(range(seeds[0], seeds[-1] + 1)):
        return f"{seeds[0]}-{seeds[-1]}"
    return ",".join(map(str, seeds))


def _seed_dir(out: Path, seed: int) -> Path:
    return out / f"seed-{seed}"


def _prepare(out: Path, force: bool) -> None:
    """Refuse a non-empty directory without ``force``; with it, remove only what a seeds run writes."""
    if out.exists() and not out.is_dir():
        raise ScenarioError(f"--out '{out}' is a file", "--out", hint="give a directory")
    if out.is_dir() and any(out.iterdir()):
        if not force:
            raise ScenarioError(f"run directory '{out}' exists and is not empty", "--out",
                                hint="pass --force to overwrite it, --resume to continue it, or another --out")
        cfg = rundir.read_config(out)
        if cfg is not None and cfg.get("kind") != KIND:
            raise ScenarioError(f"'{out}' holds a single run, not a --seeds run; --force will not delete it "
                                "for a --seeds run", "--out", hint="give another --out")
        for name in ("config.json", "summary.json", "seeds.csv"):
            (out / name).unlink(missing_ok=True)
        for d in sorted(out.glob("seed-*")):
            if d.is_dir():
                _clean_seed_dir(d)
        _remove_step_dirs(out / rundir.CHECKPOINTS)
    out.mkdir(parents=True, exist_ok=True)


def _clean_seed_dir(d: Path) -> None:
    """One seed's directory: a scenario seed's run cleans by its own manifest; a wiring seed's two files go.
    Anything else (a user's own files) stays, and so does the folder then."""
    run = rundir.RunDir(d)
    if run.manifest.exists():
        run.clean()
    for name in ("metrics.jsonl", "summary.json"):
        (d / name).unlink(missing_ok=True)
    _remove_step_dirs(d / rundir.CHECKPOINTS)
    _rmdir_if_empty(d)


def _remove_step_dirs(checkpoints: Path) -> None:
    """Under ``checkpoints/<label>/``: only checkpoint step folders (``rundir.is_step_dir``), then empty folders."""
    import shutil

    if not checkpoints.is_dir():
        return
    for label in checkpoints.iterdir():
        if label.is_dir() and not label.is_symlink():
            for q in label.iterdir():
                if rundir.is_step_dir(q):
                    shutil.rmtree(q)
            _rmdir_if_empty(label)
    _rmdir_if_empty(checkpoints)


def _rmdir_if_empty(d: Path) -> None:
    try:
        d.rmdir()
    except OSError:  # not empty: something that is not ours is inside
        pass


def _write_table(out: Path, rows: list[dict], summary: dict) -> None:
    from .train import atomic_write_json, atomic_write_text

    keys: list = []
    for r in rows:
        keys += [k for k in r if k not in keys]
    import io

    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=keys)
    w.writeheader()
    for r in rows:
        w.writerow(r)
    atomic_write_text(out / "seeds.csv", buf.getvalue())
    atomic_write_json(out / "summary.json", summary)


# --------------------------------------------------------------------------- entry points

def run_seeds(target: str, seeds: Sequence[int], *, quick: bool = False, out: "str | Path | None" = None,
              sets: Optional[list] = None, force: bool = False, progress: bool = True,
              checkpoint_every: int = 1000, keep_checkpoints: int = 3, check_finite: bool = True,
              on_finish: Optional[Callable[[Path], None]] = None) -> dict:
    """Run ``target`` (a wiring or a scenario) for every seed; return the table's summary dict
    (``{"passed", "seeds": [row per seed], ...}``; a scenario with its own seed list: its summary).

    Raises:
        ScenarioError / WiringError: bad input, before anything is written.
    """
    from .scenario import _check_run_flags

    seeds = list(seeds)
    for s in seeds:
        _check_run_flags(checkpoint_every, keep_checkpoints, s)
    if is_wiring_target(target):
        return _WiringSeeds.start(target, seeds, quick=quick, out=out, sets=sets or [], force=force,
                                  progress=progress, checkpoint_every=checkpoint_every,
                                  keep_checkpoints=keep_checkpoints, check_finite=check_finite).run()
    return _scenario_seeds(target, seeds, quick=quick, out=out, sets=sets or [], force=force, progress=progress,
                           checkpoint_every=checkpoint_every, keep_checkpoints=keep_checkpoints,
                           check_finite=check_finite, on_finish=on_finish)


def resume_seeds(run_dir: "str | Path", *, progress: bool = True, resume_anyway: bool = False,
                 on_finish: Optional[Callable[[Path], None]] = None) -> dict:
    """Continue a killed ``--seeds`` run (either kind) exactly."""
    out = Path(run_dir)
    cfg = rundir.read_config(out)
    if (out / "summary.json").exists():
        raise ScenarioError(f"run '{out}' already finished (summary.json exists): nothing to resume", "--resume",
                            hint="start a new run with --out another directory, or rerun it with --force")
    if cfg.get("target_kind") == "wiring":
        return _WiringSeeds.from_config(out, cfg, progress, resume_anyway).run(resume=True)
    return _scenario_seeds(cfg["target"], cfg["seeds"], quick=cfg["quick"], out=out, sets=cfg["sets"],
                           force=False, progress=progress, checkpoint_every=cfg["checkpoint_every"],
                           keep_checkpoints=cfg["keep_checkpoints"], check_finite=cfg["check_finite"],
                           on_finish=on_finish, resume=True, resume_anyway=resume_anyway)


def _config(target, target_kind, seeds, quick, sets, ck_every, keep, check_finite, **extra) -> dict:
    return {"kind": KIND, "target_kind": target_kind, "target": target, "scenario": target,
            "source": target, "seed": None, "seeds": list(seeds), "quick": quick, "sets": list(sets),
            "checkpoint_every": ck_every, "keep_checkpoints": keep, "check_finite": check_finite, **extra}


# --------------------------------------------------------------------------- scenarios: separate programs

def _own_seed_list(target: str) -> bool:
    from .scenario import get_scenario

    return isinstance(dict(get_scenario(target).defaults).get("seeds"), str)


def _scenario_seeds(target, seeds, *, quick, out, sets, force, progress, checkpoint_every, keep_checkpoints,
                    check_finite, on_finish, resume=False, resume_anyway=False) -> dict:
    from .checkpoint import has_checkpoint
    from .scenario import get_scenario, resume_scenario, run_scenario
    from .train import atomic_write_json

    sc = get_scenario(target)
    flags = dict(progress=progress, on_finish=on_finish)
    run_flags = dict(checkpoint_every=checkpoint_every, keep_checkpoints=keep_checkpoints, check_finite=check_finite)
    if not resume and _own_seed_list(target):  # the scenario runs and judges a seed list itself
        if any(str(s).split("=", 1)[0].strip() == "seeds" for s in sets):
            raise ScenarioError("--seeds and --set seeds=... both name the seeds", "--seeds", hint="give one")
        return run_scenario(target, quick=quick, seed=seeds[0], out=out, sets=list(sets) + [f"seeds={_label(seeds)}"],
                            force=force, **flags, **run_flags)
    out = Path(out) if out is not None else \
        Path("runs") / f"{rundir.check_component(sc.name, 'a scenario name')}-seeds{_label(seeds)}{'-quick' if quick else ''}"
    if not resume:
        _prepare(out, force)
        atomic_write_json(out / "config.json", _config(target if Path(target).suffix != ".py" else
                                                       str(Path(target).resolve()), "scenario", seeds, quick, sets,
                                                       checkpoint_every, keep_checkpoints, check_finite))
    rows, t0 = [], time.perf_counter()
    for s in seeds:
        d = _seed_dir(out, s)
        if resume and rundir.read_summary(d) is not None:
            summary = rundir.read_summary(d)
        elif resume and has_checkpoint(d):
            summary = resume_scenario(d, resume_anyway=resume_anyway, **flags)
        else:
            summary = run_scenario(target, quick=quick, seed=s, out=d, sets=list(sets), force=True, **flags,
                                   **run_flags)
        rows.append({"seed": s, "passed": summary["passed"], "run_dir": str(d),
                     "wall_seconds": summary.get("wall_seconds"),
                     **{f"metrics.{k}": v for k, v in _flat(summary.get("metrics", {})).items()}})
    summary = {"scenario": sc.name, "kind": KIND, "seeds": rows, "passed": all(r["passed"] for r in rows),
               "criterion": f"every seed passes ({sum(r['passed'] for r in rows)}/{len(rows)} did); each seed: "
                            f"{sc.name}'s own criterion", "programs": len(seeds), "population": 1,
               "wall_seconds": round(time.perf_counter() - t0, 3), "compile_seconds": 0.0, "quick": quick}
    _write_table(out, rows, summary)
    return summary


def _flat(d: Mapping, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, Mapping):
            out.update(_flat(v, f"{prefix}{k}."))
        elif isinstance(v, (int, float, str, bool)) or v is None:
            out[f"{prefix}{k}"] = v
    return out


# --------------------------------------------------------------------------- wirings: one population

def _split_sets(sets: Sequence[str], quick: bool) -> tuple[dict, dict, dict]:
    """``--set`` items -> (run options, task options, wiring overrides)."""
    from .errors import did_you_mean

    opts = dict(RUN_OPTIONS, **(QUICK_OPTIONS if quick else {}))
    task_opts, overrides = {}, {}
    for k, v in rundir.parse_sets(sets).items():
        if k.startswith("task."):
            task_opts[k[len("task."):]] = v
        elif rundir.is_wiring_key(k):
            overrides[k] = v
        elif k in opts:
            if k == "task":
                if not isinstance(v, str):
                    raise ScenarioError(f"--set task={v!r}: expected a task name, found {type(v).__name__}", "--set")
            elif isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ScenarioError(f"--set {k}={v!r}: expected an integer >= 1", "--set",
                                    hint=f"e.g. --set {k}={RUN_OPTIONS[k]}")
            opts[k] = v
        else:
            raise ScenarioError(f"--set {k}: a wiring run has no option '{k}'{did_you_mean(k, opts)}", "--set",
                                hint="options: task, task.<option>, steps, batch, log_every, or a dotted "
                                     "wiring key (areas.cortex.hidden=16)")
    if opts["task"] is None:
        from .tasks import TASKS

        raise ScenarioError("a wiring run trains on a task: --set task=NAME is missing", "--set",
                            hint="tasks: " + ", ".join(sorted(TASKS)) + " (e.g. --set task=twelve_ax)")
    return opts, task_opts, overrides


class _WiringSeeds:
    """One population run of a wiring over seeds (see the module docstring)."""

    def __init__(self, out: Path, cfg: dict, progress: bool):
        from .brain import load
        from .population import Population
        from .tasks import get_task

        self.out, self.cfg, self.progress = out, cfg, progress
        self.seeds = list(cfg["seeds"])
        self.opts, task_opts, self.overrides = _split_sets(cfg["sets"], cfg["quick"])
        self.task = get_task(self.opts["task"], **task_opts)
        brain = load(cfg["wiring"], self.overrides or None)
        self.pop = Population(brain, len(self.seeds), check_finite=cfg["check_finite"])

    @classmethod
    def start(cls, target, seeds, *, quick, out, sets, force, progress, checkpoint_every, keep_checkpoints,
              check_finite) -> "_WiringSeeds":
        from .train import atomic_write_json
        from .wiring import find_wiring

        path = find_wiring(target)
        out = Path(out) if out is not None else Path("runs") / f"{Path(target).stem}-seeds{_label(seeds)}"
        cfg = _config(str(target), "wiring", seeds, quick, sets, checkpoint_every, keep_checkpoints, check_finite,
                      wiring=str(path.resolve()), fingerprint=cls.fingerprint(path))
        self = cls(out, cfg, progress)  # everything is checked (task, options, wiring) before writing
        _prepare(out, force)
        atomic_write_json(out / "config.json", cfg)
        return self

    @classmethod
    def from_config(cls, out: Path, cfg: dict, progress: bool, resume_anyway: bool) -> "_WiringSeeds":
        from .scenario import warn

        changed = rundir.fingerprint_diff(cfg.get("fingerprint") or {}, cls.fingerprint(Path(cfg["wiring"])))
        if changed:
            msg = f"cannot resume '{out}' exactly: changed since the run started: {'; '.join(changed)}"
            if not resume_anyway:
                raise ScenarioError(msg, "--resume", hint="restore what changed, or pass --resume-anyway")
            warn("warning: " + msg + " (continuing: --resume-anyway)")
        return cls(out, cfg, progress)

    @staticmethod
    def fingerprint(path: Path) -> dict:
        from .scenario import package_fingerprint

        return {"package": package_fingerprint(), "wiring": rundir.file_hash(path) if path.is_file() else "missing"}

    def batch(self, rngs: Mapping[int, np.random.Generator]) -> dict:
        from .sweep import _task_batch

        B = int(self.opts["batch"])
        parts = [_task_batch(self.pop.brain, {}, self.task.sample(rngs[s], B)) for s in self.seeds]
        return {k: np.stack([p[k] for p in parts]) for k in parts[0]}

    def run(self, resume: bool = False) -> dict:
        import jax
        import jax.numpy as jnp

        from .checkpoint import Checkpointer, label_dir
        from .scenario import warn
        from .train import MetricsLog, atomic_write_json

        cfg, out, steps = self.cfg, self.out, int(self.opts["steps"])
        init_keys = jnp.stack([jax.random.key(s) for s in self.seeds])
        run_keys = jnp.stack([jax.random.fold_in(jax.random.key(s), 1) for s in self.seeds])
        rngs = {s: np.random.default_rng([s, 0]) for s in self.seeds}
        ck = Checkpointer(label_dir(out, LABEL), cfg["checkpoint_every"], cfg["keep_checkpoints"], warn=warn) \
            if cfg["checkpoint_every"] > 0 or resume else None
        start = (ck.newest_intact() or 0) if (resume and ck is not None) else 0
        logs = {}
        for s in self.seeds:
            _seed_dir(out, s).mkdir(parents=True, exist_ok=True)
            logs[s] = MetricsLog(_seed_dir(out, s) / "metrics.jsonl")
            if resume:  # the records of steps at or after the checkpoint will be logged again
                logs[s].rewrite(lambda r: not (isinstance(r.get("step"), int) and r["step"] >= start))
        if self.progress:
            print(f"[{Path(cfg['wiring']).stem}] {len(self.seeds)} seeds as one population program"
                  + (f", resuming at step {start}" if resume else ""), flush=True)

        def on_log(step, i, rec):
            logs[self.seeds[i]].write(rec)
            if self.progress and i == 0:
                print(f"  step {step + 1}/{steps}: loss " + " ".join(
                    f"{h[-1]['loss']:.4g}" if isinstance(h[-1]["loss"], float) else str(h[-1]["loss"])
                    for h in [[rec]]), flush=True)

        params, opt = self.pop.init(init_keys)
        rng_names = {str(s): g for s, g in rngs.items()}
        try:
            res = self.pop.fit(params, opt, lambda step: self.batch(rngs), steps, run_keys,
                               log_every=int(self.opts["log_every"]), on_log=on_log, checkpointer=ck,
                               resume=resume, rngs=rng_names)
        finally:
            for log in logs.values():
                log.close()
            if ck is not None:
                ck.close()
        rows = []
        for i, s in enumerate(self.seeds):
            records = [json.loads(line) for line in (_seed_dir(out, s) / "metrics.jsonl").read_text().splitlines()
                       if line.strip()]
            last = records[-1] if records else {}
            tail = records[-max(1, len(records) // 10):]
            losses = [r["loss"] for r in tail if isinstance(r.get("loss"), float)]
            metrics = {k: v for k, v in last.items() if k not in ("step", "finite")}
            metrics["loss_tail_mean"] = float(np.mean(losses)) if losses else float("nan")
            failed = res.failed.get(i)
            seed_summary = {"seed": s, "wiring": cfg["wiring"], "steps": res.steps, "metrics": metrics,
                            "non_finite_step": failed, "population": len(self.seeds)}
            atomic_write_json(_seed_dir(out, s) / "summary.json", seed_summary)
            rows.append({"seed": s, "passed": failed is None, "non_finite_step": failed,
                         "final_loss": metrics.get("loss"), "loss_tail_mean": metrics["loss_tail_mean"],
                         "run_dir": str(_seed_dir(out, s))})
        ok = not res.failed
        summary = {"scenario": f"wiring {Path(cfg['wiring']).stem}", "kind": KIND, "seeds": rows, "passed": ok,
                   "criterion": "every seed trains without a NaN/Inf" + ("" if ok else f" (failed seeds: "
                                f"{[self.seeds[i] for i in sorted(res.failed)]})"),
                   "programs": 1, "population": len(self.seeds), "steps": res.steps, "task": self.opts["task"],
                   "wall_seconds": round(res.wall_seconds, 3), "compile_seconds": round(res.compile_seconds, 3),
                   "quick": cfg["quick"]}
        if resume:
            summary["resumed"] = True
        _write_table(out, rows, summary)
        return summary
