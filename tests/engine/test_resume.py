"""Checkpoints and exact resumption (issue 5, points 1-2).

The main test kills a real training run with SIGKILL once a checkpoint exists,
resumes it with ``brainsim run --resume DIR`` and checks that the final
parameters (bit for bit) and ``metrics.jsonl`` (record for record) equal those
of an uninterrupted run with the same seed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np
import pytest

from brainsim.brain import from_yaml
from brainsim.checkpoint import Checkpointer, has_checkpoint, label_dir, latest_arrays
from brainsim.cli import main
from brainsim.errors import ScenarioError
from brainsim.train import MetricsLog, fit, read_metrics

ROOT = Path(__file__).resolve().parents[2]

WIRING = """\
name: tiny
inputs: {x: 3, y: 2}
areas:
  rnn: {type: rnn, hidden: 8}
  motor:
    type: readout
    size: 2
    credit: global
    costs: {supervised: {weight: 1.0, target: y}}
connections:
  - x -> rnn.input
  - rnn.h -> motor.input
outputs: {response: motor.output}
"""

# Two models trained in turn ("first", then "second"), each with a train and an eval generator and a
# callback that keeps state (evaluations so far, best eval loss): everything a resume must restore.
SCENARIO = '''\
from pathlib import Path

import jax
import numpy as np

from brainsim.scenario import Result, Scenario

WIRING = str(Path(__file__).with_name("tiny.yaml"))


class Tiny(Scenario):
    name = "tiny"
    wirings = (WIRING,)
    defaults = {"steps": 200, "first_steps": 20, "batch": 8, "T": 10}

    def run(self, ctx):
        o = ctx.options

        def batch(rng, B):
            x = rng.normal(size=(o["T"], B, 3)).astype(np.float32)
            return {"x": x, "y": (np.cumsum(x[..., :2], axis=0) / 4).astype(np.float32)}

        def train(label, stream, steps):
            brain = ctx.load_brain(WIRING)
            params, _ = brain.init(jax.random.fold_in(ctx.key, stream))
            tr, ev = ctx.rng(stream), ctx.rng(stream + 1)
            seen = {"evals": 0, "best": None}

            def check(step, m, p):
                if step % 7 == 0:
                    _, mm, _ = brain.evaluate(p, brain.init_state(4), batch(ev, 4), jax.random.fold_in(ctx.key, 5))
                    seen["evals"] += 1
                    loss = float(mm["loss"])
                    seen["best"] = loss if seen["best"] is None else min(seen["best"], loss)
                    return {"eval_loss": loss}
                return None

            res = ctx.fit(brain, params, brain.init_opt_state(params), lambda s: batch(tr, o["batch"]), steps,
                          jax.random.fold_in(ctx.key, stream + 2), label=label, rngs={"train": tr, "eval": ev},
                          callback=check, callback_state=seen, log_every=5)
            np.savez(ctx.out / f"params_{label}.npz", *[np.asarray(x) for x in jax.tree.leaves(res.params)])
            _, mm, _ = brain.evaluate(res.params, brain.init_state(4), batch(ctx.rng(99), 4), ctx.key)
            return {"test_loss": float(mm["loss"]), "best_eval": seen["best"], "evals": seen["evals"],
                    "steps": res.steps}

        per = {"first": ctx.result("first", lambda: train("first", 10, o["first_steps"])),
               "second": ctx.result("second", lambda: train("second", 20, o["steps"]))}
        return Result(per["second"]["test_loss"] < 10.0, "tiny: finite test loss", {"models": per})


SCENARIO = Tiny()
'''


def write_scenario(d: Path) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    (d / "tiny.yaml").write_text(WIRING)
    path = d / "tiny_scenario.py"
    path.write_text(SCENARIO)
    return path


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "brainsim.cli", "run", *args]


def env(cache: Path) -> dict:
    # a persistent XLA cache shared by the three processes only saves compile time (same executables)
    return {**os.environ, "JAX_PLATFORMS": "cpu", "MPLBACKEND": "Agg", "JAX_COMPILATION_CACHE_DIR": str(cache),
            "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0"}


def load_params(run: Path, label: str) -> list[np.ndarray]:
    with np.load(run / f"params_{label}.npz") as z:
        return [z[k] for k in sorted(z.files, key=lambda k: int(k.split("_")[1]))]


def test_sigkill_then_resume_equals_uninterrupted_run(tmp_path):
    sc = write_scenario(tmp_path / "sc")
    full, killed = tmp_path / "full", tmp_path / "killed"
    flags = ["--checkpoint-every", "20", "--keep-checkpoints", "2", "--no-progress"]
    ENV = env(tmp_path / "xla-cache")
    victim = subprocess.Popen(cli(str(sc), "--out", str(killed), *flags), cwd=ROOT, env=ENV,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ck_dir = label_dir(killed, "second")
    deadline = time.monotonic() + 120
    while not any(p.name.isdigit() and int(p.name) >= 40 for p in (ck_dir.iterdir() if ck_dir.is_dir() else [])):
        assert victim.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline, "no checkpoint appeared"
        time.sleep(0.01)
    victim.send_signal(signal.SIGKILL)
    assert victim.wait(timeout=30) == -signal.SIGKILL
    assert not (killed / "summary.json").exists(), "the run finished before the kill: nothing was tested"
    steps_kept = sorted(int(p.name) for p in ck_dir.iterdir() if p.name.isdigit())
    assert 1 <= len(steps_kept) <= 2  # --keep-checkpoints 2
    # a kill in the middle of a write leaves a torn last line: simulate the worst case
    with open(killed / "metrics.jsonl", "a") as f:
        f.write('{"model": "second", "step": 99999, "loss": 0.12')

    # the uninterrupted reference runs alongside the resumed run
    ref = subprocess.Popen(cli(str(sc), "--out", str(full), *flags), cwd=ROOT, env=ENV,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    r = subprocess.run(cli("--resume", str(killed)), cwd=ROOT, env=ENV, capture_output=True, text=True,
                       timeout=240)
    out, err = ref.communicate(timeout=240)
    assert r.returncode == 0, r.stderr
    assert ref.returncode == 0, err
    assert "first: finished before the interruption" in r.stdout  # not retrained
    assert "second: resuming from the checkpoint at step" in r.stdout

    # final parameters: bit for bit
    for label in ("first", "second"):
        a, b = load_params(full, label), load_params(killed, label)
        assert len(a) == len(b) == 5
        assert all(x.dtype == y.dtype and np.array_equal(x, y) for x, y in zip(a, b)), label
    # the final checkpoints hold the same params, optimiser states and key
    sa, arrays_a = latest_arrays(full, "second")
    sb, arrays_b = latest_arrays(killed, "second")
    assert sa == sb == 200 and arrays_a.keys() == arrays_b.keys()
    assert any("opt_state" in k for k in arrays_a) and any("key" in k for k in arrays_a)
    assert all(np.array_equal(arrays_a[k], arrays_b[k]) for k in arrays_a)

    # metrics.jsonl: identical records, every logged step exactly once, only complete lines
    lines = (killed / "metrics.jsonl").read_text().splitlines()
    recs = [json.loads(x) for x in lines]  # raises on a torn line
    assert recs == read_metrics(full / "metrics.jsonl")
    for label, n in (("first", 20), ("second", 200)):
        steps = [r["step"] for r in recs if r["model"] == label]
        assert steps == list(range(4, n, 5)), label
    assert sum("eval_loss" in r for r in recs) > 0
    sum_full = json.loads((full / "summary.json").read_text())
    sum_killed = json.loads((killed / "summary.json").read_text())
    assert sum_full["metrics"] == sum_killed["metrics"] and sum_killed["resumed"] is True


# --------------------------------------------------------------------------- in-process checks

_BRAIN = []


def _brain():
    """One brain for the in-process tests (compiled once)."""
    if not _BRAIN:
        _BRAIN.append(from_yaml(WIRING))
    return _BRAIN[0]


def _batches(seed):
    rng = np.random.default_rng(seed)

    def batch(step):
        x = rng.normal(size=(6, 4, 3)).astype(np.float32)
        return {"x": x, "y": x[..., :2]}
    return rng, batch


class _Crash(Exception):
    pass


def test_fit_interrupted_by_an_exception_resumes_exactly(tmp_path):
    """The same guarantee in-process: crash at step 13, resume from the checkpoint at step 10."""
    brain = _brain()
    p0, _ = brain.init(jax.random.key(0))
    o0 = brain.init_opt_state(p0)
    key = jax.random.key(7)

    rng, batch = _batches(1)
    ref = fit(brain, p0, o0, batch, 23, key, progress=False)

    rng, batch = _batches(1)

    def crashing(step):
        if step == 13:
            raise _Crash
        return batch(step)

    ck = Checkpointer(tmp_path / "ck", every=5, keep=2)
    with pytest.raises(_Crash):
        fit(brain, p0, o0, crashing, 23, key, progress=False, checkpointer=ck, rngs={"data": rng})
    assert ck.steps() == [5, 10]
    rng, batch = _batches(1)  # a fresh process: the generator starts over, the checkpoint moves it on
    res = fit(brain, p0, o0, batch, 23, jax.random.key(999), progress=False, checkpointer=ck, resume=True,
              rngs={"data": rng})  # the key comes from the checkpoint too
    assert ck.steps() == [20, 23] and ck.read_meta()["done"] is True
    for a, b in zip(jax.tree.leaves((ref.params, ref.opt_state)), jax.tree.leaves((res.params, res.opt_state))):
        assert np.array_equal(np.asarray(a), np.asarray(b))
    assert [r["step"] for r in res.history] == [19, 22]
    assert res.history == ref.history[-2:]
    # a finished checkpoint returns at once, without training
    again = fit(brain, p0, o0, batch, 23, key, progress=False, checkpointer=ck, resume=True)
    assert again.steps == 23 and again.history == []
    assert all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in
               zip(jax.tree.leaves(again.params), jax.tree.leaves(res.params)))


def test_checkpoint_roundtrip_is_exact_and_checks_the_model(tmp_path):
    brain = _brain()
    params, _ = brain.init(jax.random.key(3))
    opt = brain.init_opt_state(params)
    tree = {"params": params, "opt_state": opt, "key": jax.random.key(42)}
    rng = np.random.default_rng([0, 1])
    rng.random(5)
    ck = Checkpointer(tmp_path / "ck", every=10, keep=3)
    ck.save(10, tree, {"rngs": {"data": rng.bit_generator.state}, "callback_state": {"best": 0.5}})
    fresh_params, _ = brain.init(jax.random.key(4))
    template = {"params": fresh_params, "opt_state": brain.init_opt_state(fresh_params), "key": jax.random.key(0)}
    r = ck.restore(template)
    assert r.step == 10 and r.meta["callback_state"] == {"best": 0.5}
    for a, b in zip(jax.tree.leaves(tree), jax.tree.leaves(r.tree)):
        assert a.dtype == b.dtype
        if jax.dtypes.issubdtype(a.dtype, jax.dtypes.prng_key):
            a, b = jax.random.key_data(a), jax.random.key_data(b)
        assert np.array_equal(np.asarray(a), np.asarray(b))
    assert jax.tree.structure(r.tree) == jax.tree.structure(tree)
    g = np.random.default_rng(123)
    g.bit_generator.state = r.meta["rngs"]["data"]
    assert np.array_equal(g.random(4), rng.random(4))  # the generator continues where it stopped
    # another wiring's template is refused with a clear message
    other = from_yaml(WIRING.replace("hidden: 8", "hidden: 9"))
    p2, _ = other.init(jax.random.key(0))
    with pytest.raises(ScenarioError, match="does not match this model"):
        ck.restore({"params": p2, "opt_state": other.init_opt_state(p2), "key": jax.random.key(0)})
    # rotation keeps the last 3; an interrupted save (orbax's temporary directory) is ignored
    for s in (20, 30, 40):
        ck.save(s, tree)
    assert ck.steps() == [20, 30, 40]
    (ck.directory / "50.orbax-checkpoint-tmp-123").mkdir()
    assert ck.latest_step() == 40 and ck.restore(template).step == 40


def test_metrics_log_drops_a_torn_last_line_and_rewrites_atomically(tmp_path):
    p = tmp_path / "metrics.jsonl"
    p.write_text('{"step": 0, "loss": 1.0}\n{"step": 1, "loss": 0.5}\n{"step": 2, "lo')
    log = MetricsLog(p)
    assert log.dropped_torn
    log.write({"step": 2, "loss": 0.25})
    assert [r["step"] for r in read_metrics(p)] == [0, 1, 2]
    assert log.rewrite(lambda r: r["step"] < 1) == 2
    log.write({"step": 1, "loss": 0.5})
    log.close()
    assert p.read_text() == '{"step": 0, "loss": 1.0}\n{"loss": 0.5, "step": 1}\n'  # kept lines stay verbatim
    assert not MetricsLog(p).dropped_torn


def test_resume_errors_are_clear(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["run", "--resume", str(empty)]) == 2
    assert "not a brainsim run directory (no config.json)" in capsys.readouterr().err
    # a run killed before its first checkpoint
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"scenario": "tiny", "source": "x.py", "seed": 0, "quick": False,
                                                 "options": {}, "overrides": {}, "checkpoint_every": 50,
                                                 "keep_checkpoints": 3, "check_finite": True}))
    assert not has_checkpoint(run)
    assert main(["run", "--resume", str(run)]) == 2
    err = capsys.readouterr().err
    assert "holds no checkpoint to resume from" in err and "--force" in err and "Traceback" not in err
    # --resume takes everything from config.json: arguments that differ from it are refused, naming them
    assert main(["run", "twelve_ax", "--resume", str(run), "--seed", "3"]) == 2
    err = capsys.readouterr().err
    assert "these arguments differ from it: scenario 'twelve_ax' (the run's: 'tiny'); --seed 3 (the run's: 0)" in err
    # ... and the same arguments as the original run are accepted (then: no checkpoint, as above)
    assert main(["run", "x.py", "--resume", str(run), "--seed", "0", "--checkpoint-every", "50"]) == 2
    assert "holds no checkpoint to resume from" in capsys.readouterr().err
    assert main(["run"]) == 2
    assert "needs a scenario name or path, or --resume DIR" in capsys.readouterr().err
    (run / "summary.json").write_text("{}")
    assert main(["run", "--resume", str(run)]) == 2
    assert "already finished" in capsys.readouterr().err


def test_twelve_ax_scenario_is_checkpointed_per_wiring(tmp_path, monkeypatch):
    """The flagship scenario goes through RunContext.fit: per-wiring checkpoints with the generators."""
    monkeypatch.setattr("brainsim.viz.report.finalize_run", lambda run_dir: None)  # figures: not tested here
    out = tmp_path / "run"
    sets = [x for kv in ("max_epochs=40", "batch=4", "test_epochs=2", "outer_loops=2") for x in ("--set", kv)]
    assert main(["run", "twelve_ax", "--quick", *sets, "--checkpoint-every", "4", "--out", str(out),
                 "--no-progress"]) in (0, 1)
    for wiring in json.loads((out / "config.json").read_text())["wirings"]:
        ck = Checkpointer(label_dir(out, wiring))
        meta = ck.read_meta()
        assert ck.latest_step() == meta["step"] and meta["done"] is True
        assert set(meta["rngs"]) == {"train", "eval"}
        if meta["step"] > 4:  # a model that met the criterion before step 4 has only its final checkpoint
            assert ck.steps()[-2] == 4 * ((meta["step"] - 1) // 4)
        else:
            assert ck.steps() == [meta["step"]]
