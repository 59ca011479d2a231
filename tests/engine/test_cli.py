"""The brainsim command: validate, list, bench, run (exit codes, summary.json, error format)."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from brainsim.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_validate_prints_summary_and_exits_0(capsys):
    assert main(["validate", str(ROOT / "wiring/lstm_baseline.yaml")]) == 0
    out = capsys.readouterr().out
    assert "OK" in out and "lstm" in out and "motor" in out
    assert "parameters: 5,314" in out  # 4*32*(8+32)+4*32 LSTM + 32*2+2 readout
    assert "schedule: lstm | motor" in out


def test_validate_bad_wiring_exit_2_with_location_and_no_traceback(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(textwrap.dedent("""\
        name: bad
        inputs: {x: 3}
        areas:
          a: {type: lstn, hidden: 4}
        connections:
          - x -> a.input
        """))
    r = subprocess.run([sys.executable, "-m", "brainsim.cli", "validate", str(bad)], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 2
    assert r.stderr.startswith(f"{bad}:4:")
    assert "unknown area type 'lstn' (did you mean 'lstm'?)" in r.stderr
    assert "Traceback" not in r.stderr + r.stdout


def test_list_shows_areas_ports_costs_rules_scenarios(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for word in ("lstm", "readout", "rnn", "inputs:", "outputs:", "costs:", "backprop", "twelve_ax", "supervised"):
        assert word in out


def test_bench_json_reports_compile_and_speed(capsys):
    assert main(["bench", str(ROOT / "wiring/lstm_baseline.yaml"), "--json", "--batch", "2", "--time", "5",
                 "--iters", "2"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["train_steps_per_second"] > 0 and res["compile_seconds"] >= 0
    assert res["retraces_after_first_call"] == 0


def test_run_unknown_scenario_and_bad_set_exit_2(tmp_path, capsys):
    assert main(["run", "twelve_axx", "--out", str(tmp_path / "a")]) == 2
    assert "did you mean 'twelve_ax'" in capsys.readouterr().err
    assert main(["run", "twelve_ax", "--quick", "--out", str(tmp_path / "b"), "--set", "max_epochz=3"]) == 2
    assert "has no option 'max_epochz' (did you mean 'max_epochs'?)" in capsys.readouterr().err


def test_run_twelve_ax_quick_writes_valid_summary(tmp_path):
    out = tmp_path / "run"
    # a short run (the quick criterion itself is tests/engine/test_twelve_ax.py's business)
    r = subprocess.run([sys.executable, "-m", "brainsim.cli", "run", "twelve_ax", "--quick", "--out", str(out),
                        "--no-progress", "--set", "max_epochs=8", "--set", "test_epochs=2"],
                       capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert r.returncode in (0, 1), r.stderr
    summary = json.loads((out / "summary.json").read_text())
    for k in ("scenario", "seed", "quick", "passed", "criterion", "metrics", "compile_seconds", "wall_seconds"):
        assert k in summary
    assert summary["scenario"] == "twelve_ax" and summary["quick"] is True and summary["seed"] == 0
    assert r.returncode == (0 if summary["passed"] else 1)
    assert 0 <= summary["compile_seconds"] <= summary["wall_seconds"]  # tests never assert wall-clock limits
    models = summary["metrics"]["models"]
    assert "lstm_baseline" in models
    for m in models.values():
        assert set(m["per_symbol_accuracy"]) >= {"1", "2", "A", "B", "X", "Y", "R-targets"}
        assert "epochs_to_criterion" in m
    lines = (out / "metrics.jsonl").read_text().splitlines()
    assert lines and all("loss" in json.loads(x) for x in lines)
