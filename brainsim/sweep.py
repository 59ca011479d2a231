"""Sweeps: ``brainsim sweep SPEC.yaml`` over ``--set`` values and seeds, on existing engines.

A sweep file (YAML) names what each member runs and the values to sweep::

    name: lr-sweep
    wiring: pbwm                      # a TRAINING sweep: wiring + task (+ train) ...
    task: {name: twelve_ax, outer_loops: 2}
    train: {steps: 100, batch: 8, log_every: 10}
    # scenario: twelve_ax             # ... or a SCENARIO sweep: one `brainsim run` per member
    # quick: true
    seeds: 0-3
    set: {areas.cortex.hidden: 16}    # fixed overrides for every member
    grid: {optimizer.adam.learning_rate: [1.0e-3, 1.0e-2]}
    random:                           # and/or sampled values
      samples: 4
      seed: 0
      space: {areas.motor.costs.supervised.weight: {loguniform: [0.1, 10.0]}, areas.cortex.hidden: {choice: [8, 16]}}
    executor: local                   # local | ray | slurm
    workers: 2
    retries: 1
    slurm: {cluster: null, timeout_min: 60, partition: null}   # submitit options (cluster: local in tests)

Members = every grid point x every random sample x every seed. On the command line
``--set key=v1,v2`` adds a grid axis, ``--seeds 0-15`` replaces the seeds and ``--executor`` the
engine.

Executors (never a home-made scheduler):

* ``local`` (default): a training sweep trains each group of members that share a wiring shape
  as ONE population (:mod:`brainsim.population`; different shapes are separate programs), in this
  process; a scenario sweep runs each member as a separate ``brainsim run`` process (``workers`` at
  a time).
* ``ray``: every job (a population group, or a scenario member) is a Ray task, on the cluster at
  ``RAY_ADDRESS`` or a local ``ray.init()`` with ``workers`` CPUs.
* ``slurm``: every job is a submitit job (``slurm`` options; ``cluster: local`` runs them as local
  processes through submitit's local executor).

A member that fails (an exception, a crashed process, a NaN/Inf in its training) is retried without
the others (the failed members of a training sweep form new, smaller populations) up to ``retries``
times; the others keep their first results. Everything lands in ``OUT/results.csv``,
``OUT/results.json`` (one row per member: id, seed, swept values, status, attempts, metrics) and
``OUT/index.html``.
"""

from __future__ import annotations

import csv
import html
import itertools
import json
import math
import os
import subprocess
import sys
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from .errors import ScenarioError
from .population import parse_seeds

__all__ = ["load_spec", "expand_members", "plan_jobs", "run_sweep", "run_job", "EXECUTORS"]

EXECUTORS = ("local", "ray", "slurm")
_KEYS = {"name", "wiring", "task", "train", "inputs", "scenario", "quick", "seeds", "set", "grid", "random",
         "executor", "workers", "retries", "slurm", "out"}
_TRAIN_DEFAULTS = {"steps": 100, "batch": 8, "log_every": 10}


# --------------------------------------------------------------------------- the spec

def load_spec(path: "str | Path") -> dict:
    """Read and check a sweep file.

    Raises:
        ScenarioError: unreadable YAML, unknown keys, neither/both of ``wiring`` and ``scenario``.
    """
    import yaml

    p = Path(path)
    try:
        spec = yaml.safe_load(p.read_text())
    except FileNotFoundError:
        raise ScenarioError(f"sweep file '{p}' not found", str(p), hint="give a path to a .yaml sweep file") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{p}:{mark.line + 1}:{mark.column + 1}" if mark else str(p)
        raise ScenarioError(f"sweep file is not valid YAML: {getattr(e, 'problem', e)}", where) from None
    return check_spec(spec, str(p))


def check_spec(spec: Any, where: str = "sweep") -> dict:
    """Validate a sweep spec (a dict) and fill in defaults."""
    if not isinstance(spec, dict):
        raise ScenarioError(f"a sweep file holds a mapping, found {type(spec).__name__}", where,
                            hint="e.g. {wiring: pbwm, task: {name: twelve_ax}, seeds: 0-3}")
    unknown = sorted(set(spec) - _KEYS)
    if unknown:
        raise ScenarioError(f"unknown sweep key(s) {unknown}", where, hint="keys: " + ", ".join(sorted(_KEYS)))
    if ("wiring" in spec) == ("scenario" in spec):
        raise ScenarioError("a sweep names either a wiring (+ task: a training sweep) or a scenario", where,
                            hint="add `wiring: pbwm` and `task: {name: twelve_ax}`, or `scenario: twelve_ax`")
    if "wiring" in spec and "task" not in spec:
        raise ScenarioError("a training sweep needs a task", f"{where}: task", hint="task: {name: twelve_ax}")
    out = dict(spec)
    out.setdefault("name", Path(where).stem if where != "sweep" else "sweep")
    out["seeds"] = parse_seeds(spec.get("seeds", 0))
    out["executor"] = spec.get("executor", "local")
    if out["executor"] not in EXECUTORS:
        raise ScenarioError(f"unknown executor {out['executor']!r}", f"{where}: executor",
                            hint="executors: " + ", ".join(EXECUTORS))
    for k in ("set", "grid"):
        if not isinstance(out.get(k, {}), dict):
            raise ScenarioError(f"'{k}' must be a mapping of dotted keys", f"{where}: {k}")
    for k, v in out.get("grid", {}).items():
        if not isinstance(v, list) or not v:
            raise ScenarioError(f"grid value of '{k}' must be a non-empty list, found {v!r}", f"{where}: grid.{k}")
    if isinstance(out.get("task"), str):
        out["task"] = {"name": out["task"]}
    out["train"] = {**_TRAIN_DEFAULTS, **(spec.get("train") or {})}
    out["workers"] = int(spec.get("workers", 1))
    out["retries"] = int(spec.get("retries", 1))
    return out


def _sample(space: Mapping, rng: np.random.Generator, where: str) -> dict:
    out = {}
    for k, dist in space.items():
        if not isinstance(dist, dict) or len(dist) != 1:
            raise ScenarioError(f"random.space.{k} must be one of {{choice: [...]}}, {{uniform: [lo, hi]}}, "
                                f"{{loguniform: [lo, hi]}}, {{randint: [lo, hi]}}", where)
        (kind, arg), = dist.items()
        if kind == "choice":
            out[k] = arg[int(rng.integers(len(arg)))]
        elif kind == "uniform":
            out[k] = float(rng.uniform(*arg))
        elif kind == "loguniform":
            out[k] = float(math.exp(rng.uniform(math.log(arg[0]), math.log(arg[1]))))
        elif kind == "randint":
            out[k] = int(rng.integers(arg[0], arg[1] + 1))
        else:
            raise ScenarioError(f"random.space.{k}: unknown distribution {kind!r}", where,
                                hint="choice, uniform, loguniform, randint")
    return out


def expand_members(spec: Mapping) -> list[dict]:
    """Every member: ``{"id": "m000", "seed": s, "set": {dotted key: value}}`` (fixed ``set`` values,
    then one grid point, then one random sample; seeds innermost)."""
    grid = spec.get("grid", {})
    points = [dict(zip(grid, vals)) for vals in itertools.product(*grid.values())] if grid else [{}]
    rnd = spec.get("random")
    if rnd:
        rng = np.random.default_rng(int(rnd.get("seed", 0)))
        samples = [_sample(rnd.get("space", {}), rng, "random.space") for _ in range(int(rnd.get("samples", 1)))]
    else:
        samples = [{}]
    members = []
    for point in points:
        for sample in samples:
            for seed in spec["seeds"]:
                members.append({"id": f"m{len(members):03d}", "seed": int(seed),
                                "set": {**spec.get("set", {}), **point, **sample}})
    return members


def plan_jobs(spec: Mapping, members: Sequence[dict]) -> list[dict]:
    """Group members into jobs: a training sweep's members that share a wiring shape form one
    population job; a scenario sweep has one job per member."""
    if "scenario" in spec:
        return [{"kind": "scenario", "spec": dict(spec), "members": [m]} for m in members]
    from .errors import BrainsimError
    from .population import group_members
    from .wiring import load_wiring

    specs, ok, invalid = [], [], []
    for m in members:  # a member whose overrides make an invalid wiring fails alone, at once
        try:
            specs.append(load_wiring(spec["wiring"], m["set"]))
            ok.append(m)
        except BrainsimError as e:
            invalid.append({"kind": "invalid", "spec": dict(spec), "members": [m],
                            "error": f"invalid configuration: {e}"[:600]})
    return [{"kind": "population", "spec": dict(spec), "members": [ok[i] for i in g]}
            for g in group_members(specs)] + invalid


# --------------------------------------------------------------------------- jobs (run anywhere: picklable)

def _task_batch(brain, spec: Mapping, b) -> dict:
    """Map a task :class:`~brainsim.tasks.base.Batch` onto the wiring's inputs."""
    mapping = spec.get("inputs")
    if mapping is None:
        names = list(brain.inputs)
        mapping = {}
        for n in names:
            low = n.lower()
            mapping[n] = "mask" if low == "mask" else "targets" if low in ("target", "targets", "y") else "inputs"
    return {n: np.asarray(getattr(b, field), np.float32) for n, field in mapping.items()}


def _population_job(job: Mapping) -> list[dict]:
    import jax
    import jax.numpy as jnp

    from .population import Population
    from .tasks import get_task

    spec, members = job["spec"], job["members"]
    tr = spec["train"]
    task_opts = dict(spec["task"])
    task = get_task(task_opts.pop("name"), **task_opts)
    pop = Population.from_wiring(spec["wiring"], [m["set"] for m in members])
    seeds = [m["seed"] for m in members]
    keys = jnp.stack([jax.random.key(s) for s in seeds])
    run_keys = jnp.stack([jax.random.fold_in(jax.random.key(s), 1) for s in seeds])
    rngs = {m["id"]: np.random.default_rng(m["seed"]) for m in members}

    def batch_fn(step):
        parts = [_task_batch(pop.brain, spec, task.sample(rngs[m["id"]], int(tr["batch"]))) for m in members]
        return {k: np.stack([p[k] for p in parts]) for k in parts[0]}

    params, opt = pop.init(keys)
    t0 = time.perf_counter()
    res = pop.fit(params, opt, batch_fn, int(tr["steps"]), run_keys, log_every=int(tr["log_every"]))
    wall = time.perf_counter() - t0
    out = []
    for i, m in enumerate(members):
        hist = res.history[i]
        last = hist[-1] if hist else {}
        tail = hist[-max(1, len(hist) // 10):]
        metrics = {k: v for k, v in last.items() if k not in ("step", "finite")}
        metrics["loss_tail_mean"] = float(np.mean([h["loss"] for h in tail if isinstance(h["loss"], float)] or
                                                  [float("nan")]))
        row = {"id": m["id"], "metrics": metrics, "population": len(members), "wall_seconds": wall,
               "compile_seconds": res.compile_seconds}
        if i in res.failed:
            row["error"] = f"non-finite loss, cost term or gradient at training step {res.failed[i]}"
        out.append(row)
    return out


def _scenario_job(job: Mapping) -> list[dict]:
    spec, (m,) = job["spec"], job["members"]
    out_dir = Path(job["out"]) / m["id"]
    cmd = [sys.executable, "-m", "brainsim.cli", "run", str(spec["scenario"]), "--seed", str(m["seed"]),
           "--out", str(out_dir), "--force", "--no-progress"]
    if spec.get("quick"):
        cmd.append("--quick")
    for k, v in m["set"].items():
        cmd += ["--set", f"{k}={json.dumps(v) if not isinstance(v, str) else v}"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    row = {"id": m["id"], "wall_seconds": time.perf_counter() - t0, "run_dir": str(out_dir)}
    summary = out_dir / "summary.json"
    if proc.returncode in (0, 1) and summary.exists():
        s = json.loads(summary.read_text())
        row["metrics"] = {"passed": s.get("passed"), **_flat(s.get("metrics", {}))}
    else:
        row["error"] = f"exit {proc.returncode}: {(proc.stderr or proc.stdout).strip()[-400:]}"
    return [row]


def _flat(d: Mapping, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(_flat(v, key + "."))
        elif isinstance(v, (int, float, str, bool)) or v is None:
            out[key] = v
    return out


def run_job(job: Mapping) -> list[dict]:
    """Run one job (a population group or a scenario member): a row per member; failures become rows
    with an ``error`` (the job itself raises only when it cannot start at all)."""
    if job["kind"] == "invalid":
        return [{"id": m["id"], "error": job["error"], "invalid": True} for m in job["members"]]
    try:
        return _population_job(job) if job["kind"] == "population" else _scenario_job(job)
    except Exception as e:  # noqa: BLE001 - a member's failure is data for the table, not a crash of the sweep
        msg = f"{type(e).__name__}: {e}"
        tb = traceback.format_exc(limit=3)
        return [{"id": m["id"], "error": msg[:600], "traceback": tb[-1500:]} for m in job["members"]]


# --------------------------------------------------------------------------- executors

def _run_local(jobs: list, spec: Mapping, fn: Callable) -> list:
    if all(j["kind"] == "population" for j in jobs):
        return [fn(j) for j in jobs]  # populations: in this process, one program per group
    with ThreadPoolExecutor(max_workers=max(1, spec["workers"])) as pool:  # scenario members: processes
        return list(pool.map(fn, jobs))


def _run_ray(jobs: list, spec: Mapping, fn: Callable) -> list:
    try:
        import ray
    except ImportError:
        raise ScenarioError("the ray executor needs Ray", "executor",
                            hint="pip install 'brainsim[ray]'") from None
    started = False
    if not ray.is_initialized():
        address = os.environ.get("RAY_ADDRESS")
        kw = {"address": address} if address else {"num_cpus": max(1, spec["workers"]), "include_dashboard": False}
        ray.init(ignore_reinit_error=True, log_to_driver=False, **kw)
        started = True
    try:
        remote = ray.remote(num_cpus=1, max_retries=0)(fn)
        refs = [remote.remote(j) for j in jobs]
        out = []
        for j, r in zip(jobs, refs):
            try:
                out.append(ray.get(r))
            except Exception as e:  # noqa: BLE001 - a worker that died
                out.append([{"id": m["id"], "error": f"ray: {type(e).__name__}: {str(e)[:400]}"} for m in j["members"]])
        return out
    finally:
        if started:
            ray.shutdown()


def _run_slurm(jobs: list, spec: Mapping, fn: Callable, folder: Path) -> list:
    try:
        import submitit
    except ImportError:
        raise ScenarioError("the slurm executor needs submitit", "executor",
                            hint="pip install 'brainsim[slurm]'") from None
    opts = dict(spec.get("slurm") or {})
    cluster = opts.pop("cluster", None)
    ex = submitit.AutoExecutor(folder=str(folder), cluster=cluster)
    params = {"timeout_min": int(opts.pop("timeout_min", 60))}
    if opts.get("partition"):
        params["slurm_partition"] = opts.pop("partition")
    opts.pop("partition", None)
    params.update({k if cluster == "local" or k.startswith("slurm_") else f"slurm_{k}": v for k, v in opts.items()})
    ex.update_parameters(**params)
    submitted = [ex.submit(fn, j) for j in jobs]
    out = []
    for j, s in zip(jobs, submitted):
        try:
            out.append(s.result())
        except Exception as e:  # noqa: BLE001 - a job that failed or was killed
            out.append([{"id": m["id"], "error": f"submitit: {type(e).__name__}: {str(e)[:400]}"} for m in j["members"]])
    return out


def _execute(jobs: list, spec: Mapping, out: Path, fn: Callable) -> list[dict]:
    if not jobs:
        return []
    ex = spec["executor"]
    if ex == "ray":
        nested = _run_ray(jobs, spec, fn)
    elif ex == "slurm":
        nested = _run_slurm(jobs, spec, fn, out / "submitit")
    else:
        nested = _run_local(jobs, spec, fn)
    return [row for rows in nested for row in rows]


# --------------------------------------------------------------------------- the sweep

def run_sweep(spec: Mapping, out: "str | Path", *, job_fn: Callable = run_job,
              log: Callable[[str], None] = lambda s: print(s, file=sys.stderr, flush=True)) -> list[dict]:
    """Run every member of a checked spec (:func:`check_spec`), retry the failed ones, write the table.

    Returns:
        one row per member: ``id, seed, <swept keys>, status (ok | failed), attempts, error, metrics...``.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    members = expand_members(spec)
    by_id = {m["id"]: m for m in members}
    jobs = plan_jobs(spec, members)
    for j in jobs:
        j["out"] = str(out)
    log(f"sweep {spec['name']}: {len(members)} members in {len(jobs)} job(s) on the {spec['executor']} executor")
    rows = {r["id"]: {**r, "attempts": 1} for r in _execute(jobs, spec, out, job_fn)}
    for attempt in range(2, spec["retries"] + 2):
        failed = [i for i in by_id if "error" in rows.get(i, {"error": "missing"}) and not rows.get(i, {}).get("invalid")]
        if not failed:
            break
        log(f"retrying {len(failed)} failed member(s) without the others (attempt {attempt}): {', '.join(failed)}")
        retry = plan_jobs(spec, [by_id[i] for i in failed])  # the failed members only (grouped by shape)
        for j in retry:
            j["out"] = str(out)
        for r in _execute(retry, spec, out, job_fn):
            rows[r["id"]] = {**r, "attempts": attempt}
    table = [_row(by_id[i], rows.get(i, {"error": "no result", "attempts": 0})) for i in by_id]
    write_results(out, spec, table)
    ok = sum(r["status"] == "ok" for r in table)
    log(f"sweep {spec['name']}: {ok}/{len(table)} members ok; results in {out / 'results.csv'}")
    return table


def _row(m: Mapping, r: Mapping) -> dict:
    row = {"id": m["id"], "seed": m["seed"], **{f"set:{k}": v for k, v in m["set"].items()},
           "status": "failed" if "error" in r else "ok", "attempts": r.get("attempts", 1),
           "error": r.get("error", ""), "population": r.get("population", 1)}
    row.update({k: v for k, v in (r.get("metrics") or {}).items()})
    if "run_dir" in r:
        row["run_dir"] = r["run_dir"]
    return row


def write_results(out: Path, spec: Mapping, table: list[dict]) -> None:
    """``results.json``, ``results.csv`` and ``index.html`` (one row per member)."""
    cols: list = []
    for r in table:
        cols += [k for k in r if k not in cols]
    (out / "results.json").write_text(json.dumps({"sweep": spec.get("name"), "executor": spec.get("executor"),
                                                  "members": table}, indent=1, default=str))
    with open(out / "results.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols)
        w.writeheader()
        for r in table:
            w.writerow({k: r.get(k, "") for k in cols})
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in cols)
    body = []
    for r in table:
        cells = []
        for c in cols:
            v = r.get(c, "")
            text = f"{v:.4g}" if isinstance(v, float) else str(v)
            if c == "run_dir" and v:
                text = f'<a href="{html.escape(os.path.relpath(str(v), out))}/report.html">{html.escape(text)}</a>'
            else:
                text = html.escape(text)
            cells.append(f"<td>{text}</td>")
        cls = "ok" if r["status"] == "ok" else "failed"
        body.append(f'<tr class="{cls}">{"".join(cells)}</tr>')
    n_ok = sum(r["status"] == "ok" for r in table)
    (out / "index.html").write_text(
        "<!doctype html><html><head><meta charset='utf-8'><title>sweep "
        f"{html.escape(str(spec.get('name')))}</title><style>body{{font-family:sans-serif}}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px;font-size:13px}"
        "tr.failed{background:#fdd}</style></head><body>"
        f"<h1>sweep {html.escape(str(spec.get('name')))}</h1><p>{n_ok}/{len(table)} members ok; executor "
        f"{html.escape(str(spec.get('executor')))}</p><table><tr>{head}</tr>{''.join(body)}</table></body></html>")


def parse_set_axes(items: Sequence[str]) -> dict:
    """``["k=v1,v2", "j=3"]`` (the sweep command's ``--set``) -> ``{k: [v1, v2], j: [3]}`` (YAML scalars)."""
    import yaml

    out = {}
    for item in items:
        if "=" not in item:
            raise ScenarioError(f"--set {item!r}: expected KEY=VALUE[,VALUE...]", "--set",
                                hint="e.g. --set optimizer.adam.learning_rate=1.0e-3,1.0e-2")
        k, v = item.split("=", 1)
        out[k.strip()] = [yaml.safe_load(x) for x in v.split(",")]
    return out
