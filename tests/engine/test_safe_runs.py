"""Safe runs and determinism (issue 5, points 6-7)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from brainsim.cli import main
from brainsim.errors import ScenarioError
from brainsim.scenario import run_scenario
from brainsim.train import atomic_write_json

WIRING = """\
name: small
inputs: {x: 3, y: 2}
areas:
  rnn: {type: rnn, hidden: 6}
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

SCENARIO = '''\
from pathlib import Path

import jax
import numpy as np

from brainsim.scenario import Result, Scenario

WIRING = str(Path(__file__).with_name("small.yaml"))


class Small(Scenario):
    name = "small"
    wirings = (WIRING,)
    defaults = {"steps": 12}

    def run(self, ctx):
        brain = ctx.load_brain(WIRING)
        params, _ = brain.init(ctx.key)
        rng = ctx.rng(1)

        def batch(step):
            x = rng.normal(size=(5, 4, 3)).astype(np.float32)
            return {"x": x, "y": np.cumsum(x[..., :2], axis=0).astype(np.float32)}

        res = ctx.fit(brain, params, brain.init_opt_state(params), batch, ctx.options["steps"],
                      jax.random.fold_in(ctx.key, 1), rngs={"train": rng}, log_every=4)
        test = batch(-1)
        _, m, _ = brain.evaluate(res.params, brain.init_state(4), test, ctx.key)
        ctx.compile_seconds += res.compile_seconds
        return Result(True, "runs", {"test_loss": float(m["loss"]), "losses": [r["loss"] for r in res.history],
                                     "train_seconds": res.wall_seconds})


SCENARIO = Small()
'''


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    """Three runs of a small scenario: a (seed 0), b (seed 0, forced over an existing directory), c (seed 1)."""
    with pytest.MonkeyPatch.context() as mp:  # figures and report.html are another suite's business
        mp.setattr("brainsim.viz.report.finalize_run", lambda run_dir: None)
        return _make_runs(tmp_path_factory.mktemp("safe"))


def _make_runs(d: Path) -> dict:
    (d / "small.yaml").write_text(WIRING)
    (d / "small.py").write_text(SCENARIO)
    sc = str(d / "small.py")
    out = {"scenario": sc, "dir": d}
    out["a"] = run_scenario(sc, seed=0, out=d / "a", progress=False, checkpoint_every=5)
    b = d / "b"  # a directory that holds someone's files, then an old run beside them, then more of theirs
    b.mkdir()
    (b / "notes.txt").write_text("my notes")
    out["refused"] = main(["run", sc, "--out", str(b), "--no-progress"])
    out["b_after_refusal"] = sorted((p.name, p.read_text()) for p in b.iterdir())
    out["old"] = main(["run", sc, "--out", str(b), "--force", "--no-progress", "--set", "steps=7"])
    for rel, text in USER_FILES.items():  # the user's own files inside the run's folders
        (b / rel).parent.mkdir(parents=True, exist_ok=True)
        (b / rel).write_text(text)
    (b / "checkpoints" / "small" / "999").mkdir(parents=True)  # a stale checkpoint step
    out["forced"] = main(["run", sc, "--out", str(b), "--force", "--no-progress", "--checkpoint-every", "5"])
    out["b"] = json.loads((b / "summary.json").read_text())
    out["c"] = run_scenario(sc, seed=1, out=d / "c", progress=False)
    return out


USER_FILES = {"figures/mine.txt": "my figure", "results/mine.json": "{}", "checkpoints/small/readme.txt": "mine",
              "flow/notes.md": "flow notes"}


def comparable(metrics: dict) -> dict:
    """Metrics without wall-clock timings (``*_seconds``), which no two runs share."""
    return {k: comparable(v) if isinstance(v, dict) else v for k, v in metrics.items() if not k.endswith("_seconds")}


def test_same_seed_same_summary_metrics_and_seed_changes_them(runs):
    a, b, c, d = runs["a"], runs["b"], runs["c"], runs["dir"]
    assert comparable(a["metrics"]) == comparable(b["metrics"])
    assert (d / "a" / "metrics.jsonl").read_text() == (d / "b" / "metrics.jsonl").read_text()
    assert comparable(a["metrics"])["test_loss"] != comparable(c["metrics"])["test_loss"]
    assert a["metrics"]["losses"] != c["metrics"]["losses"]
    assert (a["seed"], b["seed"], c["seed"]) == (0, 0, 1)


def test_existing_run_directory_is_never_overwritten_without_force(runs, capsys):
    b = runs["dir"] / "b"
    assert runs["refused"] == 2
    assert runs["b_after_refusal"] == [("notes.txt", "my notes")]  # untouched
    # --force replaces the earlier run's own outputs (its checkpoint steps and stale ones included) and
    # leaves every file it did not write alone, even inside the run's folders
    assert runs["old"] == 0 and runs["forced"] == 0 and runs["b"]["scenario"] == "small"
    assert (b / "notes.txt").read_text() == "my notes"
    for rel, text in USER_FILES.items():
        assert (b / rel).read_text() == text, rel
    assert sorted(p.name for p in (b / "checkpoints" / "small").iterdir()) == ["10", "12", "5", "readme.txt"]
    assert not [p for p in b.iterdir() if p.name.startswith(".") and p.name != ".brainsim"]  # no temporary files
    assert sorted(p.name for p in (b / ".brainsim").iterdir()) == ["lock", "written"]
    # the refusal message says where, what and how to fix it
    assert main(["run", runs["scenario"], "--out", str(b), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"--out: error: run directory '{b}' already exists and is not empty")
    assert "pass --force to replace the earlier run's outputs" in err


def test_force_never_overwrites_files_no_run_wrote(tmp_path, capsys):
    """A summary.json / metrics.jsonl that no brainsim run recorded is someone's file: --force refuses."""
    (tmp_path / "small.yaml").write_text(WIRING)
    (tmp_path / "small.py").write_text(SCENARIO)
    out = tmp_path / "x"
    out.mkdir()
    (out / "metrics.jsonl").write_text("my own measurements\n")
    assert main(["run", str(tmp_path / "small.py"), "--out", str(out), "--force", "--no-progress"]) == 2
    assert "which no brainsim run recorded writing; refusing to overwrite" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["metrics.jsonl"]
    assert (out / "metrics.jsonl").read_text() == "my own measurements\n"


def test_unfinished_run_suggests_resume(runs, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(runs["dir"] / "a", out)
    (out / "summary.json").unlink()  # as if killed after its last checkpoint
    with pytest.raises(ScenarioError, match="holds an unfinished run: continue it with `brainsim run --resume"):
        run_scenario(runs["scenario"], out=out, progress=False)


def test_summary_is_written_atomically(tmp_path, monkeypatch):
    path = tmp_path / "summary.json"
    atomic_write_json(path, {"passed": True})

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)  # the new content is written but never committed
    with pytest.raises(OSError):
        atomic_write_json(path, {"passed": False, "metrics": {"x": 1}})
    assert json.loads(path.read_text()) == {"passed": True}  # the old file is intact
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]  # and no temporary file remains


def test_bad_checkpoint_flags_exit_2(tmp_path, capsys):
    scenario = "twelve_ax"
    assert main(["run", scenario, "--out", str(tmp_path / "r"), "--checkpoint-every", "-1"]) == 2
    assert "--checkpoint-every must be an integer >= 0" in capsys.readouterr().err
    assert main(["run", scenario, "--out", str(tmp_path / "r"), "--keep-checkpoints", "0"]) == 2
    assert "--keep-checkpoints must be an integer >= 1" in capsys.readouterr().err
