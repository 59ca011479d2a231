"""brainsim.rundir: the run-directory format shared by the runner and viz."""

from __future__ import annotations

import json

import pytest

from brainsim import rundir
from brainsim.errors import ScenarioError
from brainsim.rundir import RunDir


def test_the_paths_of_a_run_directory(tmp_path):
    run = RunDir(tmp_path)
    assert run.summary == tmp_path / "summary.json" and run.config == tmp_path / "config.json"
    assert run.metrics == tmp_path / "metrics.jsonl" and run.report == tmp_path / "report.html"
    assert run.flow_figures == tmp_path / "figures" / "flow" and run.cost_figure == tmp_path / "figures" / "costs.png"
    assert run.flow_file("wiring/pbwm.yaml") == run.flow_file("pbwm") == tmp_path / "flow" / "pbwm.npz"
    assert [p.name for p in run.outputs()] == list(rundir.RUN_OUTPUTS)
    run.flow.mkdir()
    for name in ("b.npz", "a.npz", ".a.tmp.npz"):
        (run.flow / name).write_bytes(b"")
    assert [p.name for p in run.flow_files()] == ["a.npz", "b.npz"]


def test_overrides_round_trip_through_config_json(tmp_path):
    sets = rundir.parse_sets(["max_epochs=3", "areas.lstm.hidden=64", "lstm_baseline:areas.x=[1, 2]", "name="])
    assert sets == {"max_epochs": 3, "areas.lstm.hidden": 64, "lstm_baseline:areas.x": [1, 2], "name": ""}
    assert [k for k in sets if rundir.is_wiring_key(k)] == ["areas.lstm.hidden", "lstm_baseline:areas.x"]
    over = {rundir.decode_override(k): v for k, v in sets.items() if rundir.is_wiring_key(k)}
    assert over == {(None, "areas.lstm.hidden"): 64, ("lstm_baseline", "areas.x"): [1, 2]}
    record = rundir.config_record(scenario="s", seed=1, quick=True, options={"max_epochs": 3}, overrides=over,
                                  wirings=("pbwm", "lstm_baseline"), source="s", sets=["max_epochs=3"],
                                  checkpoint_every=5, keep_checkpoints=2, check_finite=True)
    assert tuple(record) == rundir.CONFIG_KEYS
    RunDir(tmp_path).config.write_text(json.dumps(record))
    config = rundir.read_config(tmp_path)
    assert rundir.decode_overrides(config["overrides"]) == over
    assert rundir.config_overrides(config, "pbwm") == {"areas.lstm.hidden": 64}
    assert rundir.config_overrides(config, "wiring/lstm_baseline.yaml") == {"areas.lstm.hidden": 64, "areas.x": [1, 2]}
    assert rundir.read_summary(tmp_path) is None  # missing: the run did not finish
    with pytest.raises(ScenarioError, match="--set expects key=value"):
        rundir.parse_sets(["oops"])
