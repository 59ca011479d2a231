"""The memory scenarios' quick modes meet their quick criteria (issue 12, item 4)."""

from __future__ import annotations

import json

import pytest

from brainsim.scenario import run_scenario


def _run(name, tmp_path, *sets):
    s = run_scenario(name, quick=True, out=tmp_path / name, progress=False, sets=list(sets))
    summary = json.loads((tmp_path / name / "summary.json").read_text())
    assert summary["passed"] is True, summary["metrics"]
    return summary["metrics"], s


def test_hopfield_capacity_quick(tmp_path):
    m, _ = _run("hopfield_capacity", tmp_path)
    curve = m["classical"]["overlap_by_load"]
    assert curve["0.05"] >= 0.95 and curve["0.25"] <= 0.70          # retrieval below capacity, collapse above
    assert m["modern"]["exact_fraction"] >= 0.95 and m["modern"]["cue_overlap"] == pytest.approx(0.5)
    assert (tmp_path / "hopfield_capacity" / "figures" / "capacity.png").is_file()


def test_pattern_separation_quick(tmp_path):
    m, _ = _run("pattern_separation", tmp_path)
    for s, c in m["curves"].items():
        out = c["output_overlap"]
        assert out["1.00"] == 1.0 and out["0.80"] < 0.8 and out["0.40"] < 0.4   # decorrelated, identity kept
    assert m["output_overlap_at_0.8"]["0.01"] <= 0.45 and m["output_overlap_at_0.8"]["0.02"] <= 0.45


def test_sequence_replay_quick(tmp_path):
    m, _ = _run("sequence_replay", tmp_path)
    assert all(m["forward_events_whole_and_ordered"]) and m["reverse_ok"]
    rev = m["reverse_event"]
    assert [p for _, p in rev] == sorted((p for _, p in rev), reverse=True)


def test_cls_abac_quick(tmp_path):
    m, _ = _run("cls_abac", tmp_path)
    assert m["cortex_AB_error_after_AC"] >= 0.8                     # catastrophic interference
    assert m["hippocampus_AB_retained"] >= 0.5
    assert m["cls_cortex_alone_AB"] >= 0.8 and m["cls_cortex_alone_AC"] >= 0.8


def test_one_shot_quick(tmp_path):
    m, _ = _run("one_shot", tmp_path)
    assert m["hippocampus_one_exposure"] >= 0.95 and m["cortex_one_exposure"] < 0.95
    ys = [y for _, y in m["consolidation_curve"]]
    assert ys[-1] >= ys[0] + 0.2
