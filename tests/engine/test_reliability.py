"""Reliability under hostile input and damaged runs (issue 9): nothing a user has is deleted, resume is
exact or refuses, validation means it can be built, exit codes mean one thing, the Python API names
the wrong argument.  The --force manifest is tested in test_safe_runs.py, the wiring-file cases in the
corpus (tests/wiring_errors/), SIGKILL/SIGTERM resumes in test_resume.py."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

import brainsim
from brainsim import rundir
from brainsim.checkpoint import Checkpointer, label_dir
from brainsim.cli import main
from brainsim.errors import NonFiniteError, ScenarioError, ShapeError, WiringError
from brainsim.scenario import resume_scenario, run_scenario
from brainsim.train import MetricsLog

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

# steps=12, checkpoints every 5: steps 5, 10 and the final 12.  `boom` makes run() fail on purpose.
SCENARIO = '''\
from pathlib import Path

import jax
import numpy as np

from brainsim.scenario import Result, Scenario

WIRING = str(Path(__file__).with_name("small.yaml"))


class Small(Scenario):
    name = "small"
    wirings = (WIRING,)
    defaults = {"steps": 12, "boom": "", "lr": 0.01}

    def run(self, ctx):
        if ctx.options["boom"] == "internal":
            raise RuntimeError("a bug in the scenario")
        if ctx.options["boom"] == "interrupt":
            raise KeyboardInterrupt
        brain = ctx.load_brain(WIRING)
        params, _ = brain.init(ctx.key)
        rng = ctx.rng(1)

        def batch(step):
            x = rng.normal(size=(5, 4, 3)).astype(np.float32)
            return {"x": x, "y": np.cumsum(x[..., :2], axis=0).astype(np.float32)}

        res = ctx.fit(brain, params, brain.init_opt_state(params), batch, ctx.options["steps"],
                      jax.random.fold_in(ctx.key, 1), rngs={"train": rng}, log_every=4)
        np.savez(ctx.out / "params.npz", *[np.asarray(x) for x in jax.tree.leaves(res.params)])
        return Result(True, "runs", {"steps": res.steps})


SCENARIO = Small()
'''


@pytest.fixture()
def scenario(tmp_path) -> Path:
    (tmp_path / "small.yaml").write_text(WIRING)
    path = tmp_path / "small.py"
    path.write_text(SCENARIO)
    return path


@pytest.fixture(autouse=True)
def _no_report(monkeypatch):  # figures and report.html are the viz suite's business
    monkeypatch.setattr("brainsim.viz.report.finalize_run", lambda run_dir: None)


def params_of(run: Path) -> list:
    with np.load(run / "params.npz") as z:
        return [z[k] for k in sorted(z.files, key=lambda k: int(k.split("_")[1]))]


def unfinish(run: Path, keep_after: int | None = None) -> None:
    """Make a finished run look killed after its checkpoint ``keep_after`` (default: the last one)."""
    (run / "summary.json").unlink()
    (run / "params.npz").unlink()
    if keep_after is not None:
        for d in (run / "checkpoints" / "small").iterdir():
            if d.name.isdigit() and int(d.name) > keep_after:
                shutil.rmtree(d)


# --------------------------------------------------------------------------- names used as paths

@pytest.mark.parametrize("bad", ["..", ".", "a/b", "x\n", "", "-rf", "a\x00b", "/abs", ".hidden", "ok."])
def test_labels_that_would_escape_the_run_directory_are_refused(tmp_path, bad):
    with pytest.raises(ScenarioError, match="must be a plain name"):
        label_dir(tmp_path, bad)
    assert label_dir(tmp_path, "lstm_baseline-2.0").name == "lstm_baseline-2.0"


def test_checkpoint_cleanup_touches_only_its_own_step_folders(tmp_path):
    d = tmp_path / "checkpoints" / "m"
    ck = Checkpointer(d, every=1, keep=2)
    for s in (1, 2):
        ck.save(s, {"w": np.ones(3, np.float32)})
    (d / "notes.txt").write_text("mine")
    (d / "mine").mkdir()
    ck.clear()
    assert sorted(p.name for p in d.iterdir()) == ["mine", "notes.txt"]


# --------------------------------------------------------------------------- damaged checkpoints and metrics

def _flip_one_bit(step_dir: Path) -> None:
    files = sorted((p for p in (step_dir / "arrays").rglob("*") if p.is_file()), key=lambda p: -p.stat().st_size)
    data = bytearray(files[0].read_bytes())
    data[len(data) // 2] ^= 0x10
    files[0].write_bytes(bytes(data))


def test_a_damaged_newest_checkpoint_falls_back_to_the_newest_intact_one(tmp_path):
    d = tmp_path / "ck"
    ck = Checkpointer(d, every=1, keep=5)
    for s in (1, 2, 3):
        ck.save(s, {"w": np.full((64,), float(s), np.float32)})
    ck.close()
    _flip_one_bit(d / "3")
    (d / "4").mkdir()  # an empty step folder
    warnings = []
    ck = Checkpointer(d, every=1, keep=5, warn=warnings.append)
    assert ck.newest_intact() == 2
    assert ck.damaged == [4, 3] and len(warnings) == 2
    assert "checkpoint" in warnings[1] and "/3'" in warnings[1] and "falling back" in warnings[1]
    r = ck.restore({"w": np.zeros((64,), np.float32)})
    assert r.step == 2 and float(r.tree["w"][0]) == 2.0
    assert (d / "3").is_dir() and (d / "4").is_dir()  # damaged ones are kept for the user to inspect
    ck.close()


def test_truncated_meta_counts_as_damage(tmp_path):
    d = tmp_path / "ck"
    ck = Checkpointer(d, every=1, keep=5)
    for s in (1, 2):
        ck.save(s, {"w": np.ones(4, np.float32)})
    ck.close()
    meta = [p for p in (d / "2" / "meta").rglob("*") if p.is_file() and p.stat().st_size > 0]
    for p in meta:
        p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
    ck = Checkpointer(d, warn=lambda m: None)
    assert ck.newest_intact() == 1 and ck.damaged == [2]
    ck.close()


def test_resume_past_a_damaged_checkpoint_is_still_exact(scenario, tmp_path, capsys):
    full = tmp_path / "full"
    run_scenario(str(scenario), out=full, progress=False, checkpoint_every=5)
    killed = tmp_path / "killed"
    shutil.copytree(full, killed)
    unfinish(killed)
    _flip_one_bit(killed / "checkpoints" / "small" / "12")  # the newest (final) checkpoint is damaged
    s = resume_scenario(killed, progress=False)
    assert s["passed"] and s["resumed"]
    err = capsys.readouterr().err
    assert "checkpoints/small/12' is damaged" in err and "falling back" in err
    for a, b in zip(params_of(full), params_of(killed)):
        np.testing.assert_array_equal(a, b)  # retrained 10 -> 12 exactly
    assert (full / "metrics.jsonl").read_text() == (killed / "metrics.jsonl").read_text()


def test_a_damaged_metrics_record_in_the_middle_is_kept_and_reported(tmp_path):
    p = tmp_path / "metrics.jsonl"
    p.write_text('{"step": 0}\n{"step": 1, "lo\n{"step": 2}\n')
    log = MetricsLog(p)
    assert log.damaged == [2] and not log.dropped_torn
    log.rewrite(lambda r: r["step"] < 2)
    log.close()
    assert p.read_text() == '{"step": 0}\n{"step": 1, "lo\n'  # never silently lost


# --------------------------------------------------------------------------- resume is exact or refuses

def test_resume_refuses_an_edited_wiring_or_scenario_and_names_it(scenario, tmp_path, capsys):
    run = tmp_path / "run"
    run_scenario(str(scenario), out=run, progress=False, checkpoint_every=5)
    cfg = json.loads((run / "config.json").read_text())
    assert set(cfg["fingerprint"]) == {"package", "scenario", f"wiring {scenario.with_name('small.yaml')}"}
    unfinish(run, keep_after=5)
    wiring = scenario.with_name("small.yaml")
    wiring.write_text(WIRING.replace("hidden: 6", "hidden: 6  # tuned"))  # same shapes, other file
    assert main(["run", "--resume", str(run), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "cannot resume" in err and f"wiring {wiring} (changed)" in err and "--resume-anyway" in err
    wiring.write_text(WIRING)
    scenario.write_text(SCENARIO.replace("log_every=4", "log_every=3"))
    assert main(["run", "--resume", str(run), "--no-progress"]) == 2
    assert "the scenario file" in capsys.readouterr().err and "changed since the run started" in err + \
        "changed since the run started"
    # --resume-anyway continues, with a warning naming what changed
    assert main(["run", "--resume", str(run), "--no-progress", "--resume-anyway"]) == 0
    assert "scenario (changed)" in capsys.readouterr().err


def test_a_damaged_config_json_is_bad_input(scenario, tmp_path, capsys):
    run = tmp_path / "run"
    run_scenario(str(scenario), out=run, progress=False, checkpoint_every=5)
    unfinish(run)
    cfg = json.loads((run / "config.json").read_text())
    for bad in ("{not json", json.dumps({**cfg, "seed": "zero"}), json.dumps([1, 2]),
                json.dumps({**cfg, "options": None})):
        (run / "config.json").write_text(bad)
        assert main(["run", "--resume", str(run), "--no-progress"]) == 2
        err = capsys.readouterr().err
        assert "config.json" in err and "Traceback" not in err


def test_a_second_process_cannot_use_a_run_directory_in_use(scenario, tmp_path):
    run = tmp_path / "run"
    run_scenario(str(scenario), out=run, progress=False, checkpoint_every=5)
    unfinish(run)
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time\nfrom brainsim.rundir import RunLock\n"
                               f"RunLock({str(run)!r}).acquire(); print('locked', flush=True); time.sleep(60)"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(ScenarioError, match=rf"is in use by another brainsim process \(pid {holder.pid}\)"):
            resume_scenario(run, progress=False)
        with pytest.raises(ScenarioError, match="in use by another brainsim process"):
            run_scenario(str(scenario), out=run, progress=False, force=True)
        assert (run / "config.json").exists() and (run / "checkpoints" / "small" / "12").is_dir()  # untouched
    finally:
        holder.kill()
        holder.wait()
    assert resume_scenario(run, progress=False, resume_anyway=True)["resumed"]  # the lock went with the process


# --------------------------------------------------------------------------- exit codes

@pytest.mark.parametrize("args, fragment", [
    (["--set", "steps=.nan"], "--set steps=nan: expected a finite number"),
    (["--set", "steps=0"], "--set steps=0: must be >= 1"),
    (["--set", "lr=-1"], "--set lr=-1: must be >= 0"),
    (["--set", "boom=[1, 2]"], "expected a string"),
    (["--seed", "-1"], "--seed must be an integer in [0, 2**32)"),
    (["--out", "/proc/brainsim-x"], "cannot write the run directory"),
    (["--set", "x=[&a [1,1,1,1,1,1,1,1,1], &b [*a,*a,*a,*a,*a,*a,*a,*a,*a], &c [*b,*b,*b,*b,*b,*b,*b,*b,*b],"
              " &d [*c,*c,*c,*c,*c,*c,*c,*c,*c], &e [*d,*d,*d,*d,*d,*d,*d,*d,*d], &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]]"],
     "alias/anchor bomb"),
])
def test_bad_run_arguments_exit_2_and_leave_no_run_directory(scenario, tmp_path, capsys, args, fragment):
    out = tmp_path / "run"
    argv = ["run", str(scenario), "--no-progress"] + (["--out", str(out)] if "--out" not in args else []) + args
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert fragment in err and "Traceback" not in err
    assert not out.exists()


def test_a_bad_wiring_value_from_set_names_the_flag_and_leaves_no_directory(scenario, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", str(scenario), "--out", str(out), "--no-progress", "--set", "areas.rnn.hidden=-3"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("--set areas.rnn.hidden=-3: error: ") and "hidden must be >= 1" in err
    assert not out.exists()  # a run that fails to start leaves no half-made directory: a rerun works
    assert main(["run", str(scenario), "--out", str(out), "--no-progress"]) == 0


def test_a_scenario_file_that_fails_to_import_is_bad_input(tmp_path, capsys):
    bad = tmp_path / "broken.py"
    bad.write_text("from brainsim.scenario import Scenario\n\nclass X(Scenario:\n    pass\n")
    assert main(["run", str(bad), "--no-progress", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{bad}:3:") and "syntax error" in err
    bad.write_text("import no_such_module_xyz\n")
    assert main(["run", str(bad), "--no-progress", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{bad}:1:1: error: the scenario file failed to import: ModuleNotFoundError")


def test_an_internal_error_exits_4_with_one_line_and_a_log(scenario, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", str(scenario), "--out", str(out), "--no-progress", "--set", "boom=internal"]) == 4
    err = capsys.readouterr().err
    assert err.startswith("brainsim: internal error: RuntimeError: a bug in the scenario")
    assert len(err.strip().splitlines()) == 2 and "Traceback" not in err
    log = out / ".brainsim" / "run.log"
    assert f"the full traceback is in {log}" in err
    assert "Traceback (most recent call last)" in log.read_text() and "a bug in the scenario" in log.read_text()


def test_an_interrupt_exits_130_and_says_how_to_resume(scenario, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", str(scenario), "--out", str(out), "--no-progress", "--set", "boom=interrupt"]) == 130
    assert "interrupted before the first checkpoint" in capsys.readouterr().err


# --------------------------------------------------------------------------- files that are not wiring files

def test_fifos_devices_directories_and_huge_files_are_refused_before_reading(tmp_path, capsys, monkeypatch):
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)  # opening it would block forever
    assert main(["validate", str(fifo)]) == 2
    assert "is a FIFO (named pipe), not a regular file" in capsys.readouterr().err
    assert main(["validate", "/dev/zero"]) == 2  # reading it would never end
    assert "is a device, not a regular file" in capsys.readouterr().err
    assert main(["validate", str(tmp_path) + "/"]) == 2
    assert "is a directory" in capsys.readouterr().err
    big = tmp_path / "big.yaml"
    big.write_text("inputs: {x: 1}\n" + "# padding\n" * 120_000)  # 1.2 MB
    assert main(["validate", str(big)]) == 2
    assert "1,200,015 bytes; the limit is 1,048,576" in capsys.readouterr().err
    monkeypatch.setenv("BRAINSIM_MAX_WIRING_BYTES", "4000000")
    assert main(["validate", str(big)]) == 2
    assert "the wiring has no 'areas' section" in capsys.readouterr().err  # read, then rejected as a wiring


def test_integer_schedule_keys_are_accepted(tmp_path):
    w = tmp_path / "w.yaml"
    w.write_text(WIRING.replace("areas:\n", "optimizer:\n  adam:\n    learning_rate: {piecewise_constant_schedule: "
                                "{init_value: 1.0e-2, boundaries_and_scales: {3: 0.1, 6: 0.5}}}\nareas:\n", 1))
    brain = brainsim.load(w)
    params, state = brain.init(jax.random.key(0), batch=2)
    x = np.ones((3, 2, 3), np.float32)
    out = brain.train_step(params, brain.init_opt_state(params), state, {"x": x, "y": x[..., :2]},
                           jax.random.key(1), 4)
    assert bool(out[3]["finite"])


def test_resource_limit_is_configurable_and_names_the_part(tmp_path, monkeypatch):
    w = tmp_path / "w.yaml"
    w.write_text(WIRING.replace("hidden: 6", "hidden: 2000"))
    brain = brainsim.load(w)
    est = brain.check_resources(batch=8)  # 2000 x 2000 recurrent weights: fine at the default limit
    assert est.params["rnn"] > 16e6 and est.state["rnn"] == 8 * 2000 * 4
    monkeypatch.setenv("BRAINSIM_MEMORY_LIMIT", "32M")
    brain = brainsim.load(w)
    with pytest.raises(WiringError, match=r"the brain needs about .* \(the limit is 32.0 MiB\); the largest part "
                                          r"is area 'rnn''s params") as e:
        brain.init(jax.random.key(0), batch=8)
    assert str(e.value.where).endswith(":4:3")
    monkeypatch.setenv("BRAINSIM_MEMORY_LIMIT", "lots")
    with pytest.raises(WiringError, match="BRAINSIM_MEMORY_LIMIT must be a size"):
        brainsim.load(w).init(jax.random.key(0))


# --------------------------------------------------------------------------- the Python API names the argument

@pytest.fixture(scope="module")
def brains():
    a = brainsim.from_yaml(WIRING)
    b = brainsim.from_yaml(WIRING.replace("hidden: 6", "hidden: 7"))
    pa, sa = a.init(jax.random.key(0), batch=4)
    pb, _ = b.init(jax.random.key(0), batch=4)
    x = {"x": np.zeros((5, 4, 3), np.float32), "y": np.zeros((5, 4, 2), np.float32)}
    return a, b, pa, sa, pb, x


@pytest.mark.parametrize("case, arg, fragment", [
    ("params of another brain", "params", "params['areas']['motor']['layers'][0]['kernel'] (area 'motor') has "
                                          "float32[7, 2], this brain expects float32[6, 2]"),
    ("state of another batch size", "state", "(area 'rnn') has float32[3, 6], this brain expects float32[4, 6]"),
    ("a batch of keys", "key", "key must be one typed PRNG key"),
    ("T = 0", "x", "T (time) and B (batch) must be >= 1"),
    ("B = 0", "x", "T (time) and B (batch) must be >= 1"),
    ("strings", "x", "must hold real numbers"),
    ("opt_state of another brain", "opt_state", "(area 'motor') has float32[7, 2]"),
])
def test_python_api_mismatches_raise_shape_errors_naming_the_argument(brains, case, arg, fragment):
    a, b, pa, sa, pb, x = brains
    k = jax.random.key(1)
    calls = {
        "params of another brain": lambda: a.run(pb, sa, x, k),
        "state of another batch size": lambda: a.run(pa, a.init_state(3), x, k),
        "a batch of keys": lambda: a.run(pa, sa, x, jax.random.split(k, 4)),
        "T = 0": lambda: a.run(pa, sa, {n: v[:0] for n, v in x.items()}, k),
        "B = 0": lambda: a.loss(pa, a.init_state(1), {n: v[:, :0] for n, v in x.items()}, k),
        "strings": lambda: a.run(pa, sa, {"x": np.full((5, 4, 3), "a"), "y": x["y"]}, k),
        "opt_state of another brain": lambda: a.train_step(pa, b.init_opt_state(pb), sa, x, k, 0),
    }
    with pytest.raises(ShapeError) as e:
        calls[case]()
    assert e.value.where == arg and fragment in str(e.value), str(e.value)


def test_opt_in_finite_input_check_names_the_input_and_index(brains):
    a, _, pa, sa, _, x = brains
    bad = {n: v.copy() for n, v in x.items()}
    bad["y"][3, 2, 1] = np.inf
    a.run(pa, sa, bad, jax.random.key(0))  # off by default: no cost on the hot path
    a.check_finite_inputs = True
    try:
        with pytest.raises(NonFiniteError, match=r"input 'y' holds inf at index \[3, 2, 1\]"):
            a.run(pa, sa, bad, jax.random.key(0))
    finally:
        a.check_finite_inputs = False
    with pytest.raises(ShapeError, match="batch must be a positive integer"):
        a.init(jax.random.key(0), batch=0)


def test_the_report_embeds_only_the_wiring_file_the_run_used(tmp_path):
    from brainsim.viz.report import _trusted_wiring_text

    used = tmp_path / "used.yaml"
    used.write_text(WIRING)
    other = tmp_path / "private.yaml"
    other.write_text("password: hunter2\n")
    config = {"fingerprint": {f"wiring {used}": rundir.file_hash(used)}}
    assert _trusted_wiring_text(config, str(used), used) == WIRING
    # a hand-edited config.json naming another file, with or without a hash, embeds nothing
    assert _trusted_wiring_text(config, str(other), other) is None
    config["fingerprint"][f"wiring {other}"] = rundir.file_hash(used)
    assert _trusted_wiring_text(config, str(other), other) is None
    used.write_text(WIRING + "# edited after the run\n")
    assert _trusted_wiring_text(config, str(used), used) is None
