"""``brainsim run ... --seeds``: a wiring's seeds train as one population equal to separate runs,
resume exactly after a kill; a scenario's seeds run as separate programs; bad flags name themselves."""

from __future__ import annotations

import json

import jax
import numpy as np
import pytest

from brainsim import load
from brainsim.checkpoint import latest_arrays
from brainsim.cli import main
from brainsim.seeds import _WiringSeeds
from brainsim.sweep import _task_batch
from brainsim.tasks import get_task
from brainsim.train import fit

# a tiny stochastic brain sized for the `conditioning` task (inputs 7, target 1, mask)
WIRING = """
name: tinyc
inputs: {x: 7, y: 1, mask: 1}
optimizer: {adam: {learning_rate: 1.0e-2}}
areas:
  sense: {type: cortex, hidden: 4, noise: 0.1, costs: {reconstruction: 1.0}}
  core: {type: rnn, hidden: 6, credit: global}
  out: {type: readout, size: 1, credit: global, costs: {supervised: {weight: 1.0, target: y, mask: mask}}}
connections: [x -> sense.input, sense.code -> core.input, core.h -> out.input]
outputs: {response: out.output}
"""
SEEDS, STEPS, B = (0, 1, 2), 4, 4
SETS = ["--set", "task=conditioning", "--set", f"steps={STEPS}", "--set", f"batch={B}", "--set", "log_every=1"]

SCENARIO = '''
from brainsim.scenario import Result, Scenario

class Draw(Scenario):
    name = "draw"
    description = "draws one number from the seed's generator (no training)"
    anchor = "none (a test scenario)"
    defaults = {"scale": 1.0}

    def run(self, ctx):
        x = float(ctx.rng(0).random()) * self.defaults["scale"]
        return Result(passed=x < 0.9, criterion="x < 0.9", metrics={"x": x})

SCENARIO = Draw()
'''


def _records(d):
    return [json.loads(line) for line in (d / "metrics.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def population_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("seeds")
    (root / "tiny.yaml").write_text(WIRING)
    out = root / "whole"
    rc = main(["run", str(root / "tiny.yaml"), "--seeds", "0-2", *SETS, "--checkpoint-every", "2",
               "--out", str(out), "--no-progress"])
    assert rc == 0
    return root, out


def test_population_members_equal_separate_single_seed_runs(population_run):
    root, out = population_run
    table = json.loads((out / "summary.json").read_text())
    assert table["programs"] == 1 and table["population"] == 3 and [r["seed"] for r in table["seeds"]] == [0, 1, 2]
    assert (out / "seeds.csv").read_text().splitlines()[0].startswith("seed,passed")
    step, stacked = latest_arrays(out, "population")
    assert step == STEPS
    brain, task = load(str(root / "tiny.yaml")), get_task("conditioning")
    for i, s in enumerate(SEEDS):  # seed s alone: brainsim.train.fit with the documented keys and batches
        rng = np.random.default_rng([s, 0])
        params, _ = brain.init(jax.random.key(s))
        res = fit(brain, params, brain.init_opt_state(params), lambda _: _task_batch(brain, {}, task.sample(rng, B)),
                  STEPS, jax.random.fold_in(jax.random.key(s), 1), log_every=1, progress=False)
        recs = _records(out / f"seed-{s}")
        np.testing.assert_allclose([r["loss"] for r in recs], [h["loss"] for h in res.history], rtol=1e-6, atol=1e-6)
        mine = {p: a[i] for p, a in stacked.items() if p.startswith("['params']")}
        alone = jax.tree_util.tree_flatten_with_path(res.params)[0]
        assert len(mine) == len(alone) > 0
        for path, leaf in alone:
            np.testing.assert_allclose(mine["['params']" + jax.tree_util.keystr(path)], np.asarray(leaf),
                                       rtol=1e-6, atol=1e-6)
    assert len({round(r["final_loss"], 6) for r in table["seeds"]}) == 3  # the seeds really differ


def test_population_run_killed_then_resumed_equals_the_whole_run(population_run, monkeypatch):
    root, whole = population_run
    out = root / "killed"
    real, calls = _WiringSeeds.batch, []

    def dying(self, rngs):
        calls.append(1)
        if len(calls) == 4:  # step 3, after the step-2 checkpoint
            raise KeyboardInterrupt
        return real(self, rngs)

    monkeypatch.setattr(_WiringSeeds, "batch", dying)
    assert main(["run", str(root / "tiny.yaml"), "--seeds", "0-2", *SETS, "--checkpoint-every", "2",
                 "--out", str(out), "--no-progress"]) == 130
    assert not (out / "summary.json").exists()
    monkeypatch.setattr(_WiringSeeds, "batch", real)
    assert main(["run", "--resume", str(out), "--no-progress"]) == 0
    for s in SEEDS:
        assert _records(out / f"seed-{s}") == _records(whole / f"seed-{s}")  # each step's record once, equal
    a, b = latest_arrays(out, "population")[1], latest_arrays(whole, "population")[1]
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])  # bit for bit (params, optimiser states, keys)
    assert json.loads((out / "summary.json").read_text())["resumed"] is True


def test_scenario_seeds_run_as_separate_programs_equal_single_runs(tmp_path):
    (tmp_path / "draw.py").write_text(SCENARIO)
    out = tmp_path / "many"
    rc = main(["run", str(tmp_path / "draw.py"), "--seeds", "3,5", "--out", str(out), "--no-progress"])
    table = json.loads((out / "summary.json").read_text())
    assert table["programs"] == 2 and [r["seed"] for r in table["seeds"]] == [3, 5]
    assert rc == (0 if table["passed"] else 1)
    single = tmp_path / "single"
    main(["run", str(tmp_path / "draw.py"), "--seed", "5", "--out", str(single), "--no-progress"])
    alone = json.loads((single / "summary.json").read_text())
    assert json.loads((out / "seed-5" / "summary.json").read_text())["metrics"] == alone["metrics"]
    assert table["seeds"][1]["metrics.x"] == alone["metrics"]["x"] != table["seeds"][0]["metrics.x"]


@pytest.mark.parametrize("argv, needle", [
    (["--seeds", "3-1"], "--seeds: error: expected seeds like 0-15 or 0,3,7-9, got '3-1'"),
    (["--seeds", "0-x"], "--seeds: error: expected"),
    (["--seeds", "1,1"], "--seeds: error: expected each seed once"),
    (["--seeds", "0-1", "--seed", "4"], "--seeds: error: --seed and --seeds"),
])
def test_bad_seeds_flags_exit_2_naming_the_flag(tmp_path, capsys, argv, needle):
    (tmp_path / "draw.py").write_text(SCENARIO)
    assert main(["run", str(tmp_path / "draw.py"), *argv, "--out", str(tmp_path / "o"), "--no-progress"]) == 2
    assert needle in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_a_wiring_run_without_a_task_is_refused_before_writing(tmp_path, capsys):
    (tmp_path / "tiny.yaml").write_text(WIRING)
    assert main(["run", str(tmp_path / "tiny.yaml"), "--seeds", "0-1", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "--set: error:" in err and "task=NAME" in err and not (tmp_path / "o").exists()


def test_force_rerun_of_a_seeds_run_keeps_a_users_own_files(tmp_path):
    """``--force`` on a seeds directory deletes what the seeds run wrote (each seed's run by its manifest),
    never a user's own file inside a seed directory or under checkpoints/."""
    (tmp_path / "draw.py").write_text(SCENARIO)
    out = tmp_path / "many"
    argv = ["run", str(tmp_path / "draw.py"), "--seeds", "3,5", "--out", str(out), "--no-progress"]
    main(argv)
    first = json.loads((out / "seed-3" / "summary.json").read_text())
    (out / "seed-3" / "my_notes.txt").write_text("mine")
    (out / "checkpoints" / "population").mkdir(parents=True)
    (out / "checkpoints" / "population" / "README").write_text("mine too")
    assert main(argv) == 2  # not empty: refused without --force
    main([*argv, "--force"])
    assert (out / "seed-3" / "my_notes.txt").read_text() == "mine"
    assert (out / "checkpoints" / "population" / "README").read_text() == "mine too"
    assert json.loads((out / "seed-3" / "summary.json").read_text())["metrics"] == first["metrics"]
    assert json.loads((out / "summary.json").read_text())["programs"] == 2
