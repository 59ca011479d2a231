"""The write-your-own examples in examples/ run as documented."""

import json
import runpy
from pathlib import Path

from brainsim.cli import main

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_own_area_example_passes_the_contract_saturates_and_trains():
    out = runpy.run_path(str(EXAMPLES / "own_area.py"))["main"]()
    assert out["saturation"] < 1.1  # 16x the drive energy, almost the same normalised output
    assert out["last_loss"] < out["first_loss"]


def test_own_scenario_example_runs_by_path_with_its_wiring_next_to_it(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # the scenario's wiring path is relative to the scenario file, not the cwd
    rc = main(["run", str(EXAMPLES / "own_scenario.py"), "--quick", "--out", "run", "--no-progress"])
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert rc == 0, summary
    assert summary["scenario"] == "one_step_recall" and summary["metrics"]["test_mse"] < 0.25
    assert (tmp_path / "run" / "report.html").exists()


def test_own_rule_example_moves_the_weights_by_exactly_the_learning_rate():
    out = runpy.run_path(str(EXAMPLES / "own_rule.py"))["main"]()
    assert all(abs(n - 0.05) < 1e-4 for n in out["step_norms"])  # normalised: every update has norm lr
    assert out["last_loss"] < 0.5 * out["first_loss"]
