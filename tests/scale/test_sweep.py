"""Sweeps: the local executor (populations, a NaN member, a transient failure retried), Ray (local,
2 workers) and submitit (its local executor)."""

from __future__ import annotations

import csv
import json

import pytest

from brainsim.sweep import check_spec, expand_members, plan_jobs, run_job, run_sweep

from _tiny import TINY


def _spec(tmp_path, **kw) -> dict:
    wiring = tmp_path / "tiny8.yaml"
    wiring.write_text(TINY.replace("x: 3", "x: 8"))  # the 12-AX task's 8 symbols
    spec = {"name": "t", "wiring": str(wiring), "task": {"name": "twelve_ax", "outer_loops": 1},
            "train": {"steps": 2, "batch": 2, "log_every": 1}, **kw}
    return check_spec(spec)


def test_members_expand_grid_random_and_seeds_and_group_by_wiring_shape(tmp_path):
    spec = _spec(tmp_path, seeds="0-1", grid={"areas.core.hidden": [6, 7]},
                 random={"samples": 2, "seed": 0, "space": {"optimizer.adam.learning_rate":
                                                            {"loguniform": [1e-3, 1e-1]}}})
    members = expand_members(spec)
    assert len(members) == 2 * 2 * 2 and [m["seed"] for m in members[:2]] == [0, 1]
    lrs = {m["set"]["optimizer.adam.learning_rate"] for m in members}
    assert len(lrs) == 2 and all(1e-3 <= v <= 1e-1 for v in lrs)
    jobs = plan_jobs(spec, members)  # hidden 6 and 7 need two programs; learning rates and seeds do not
    assert [len(j["members"]) for j in jobs] == [4, 4]
    assert {m["set"]["areas.core.hidden"] for m in jobs[0]["members"]} == {6}
    bad = plan_jobs(spec, [{"id": "x", "seed": 0, "set": {"optimizer.adam.learning_rate": float("nan")}}])
    assert bad[0]["kind"] == "invalid" and "finite" in bad[0]["error"]  # reported, never run
    assert run_job(bad[0])[0]["invalid"] is True


def test_local_sweep_trains_populations_reports_a_nan_member_and_retries_a_crashed_job(tmp_path):
    # 1e38: the first Adam step moves every weight by ~1e38, the next forward pass overflows to Inf/NaN
    spec = _spec(tmp_path, seeds=[0, 1], grid={"optimizer.adam.learning_rate": [1.0e-2, 1.0e38]})
    calls = []

    def flaky(job):  # the first job dies as a whole (a crashed worker); its retries run normally
        calls.append([m["id"] for m in job["members"]])
        if len(calls) == 1:
            return [{"id": m["id"], "error": "worker died"} for m in job["members"] if m["id"] == "m001"] + \
                [r for r in run_job(job) if r["id"] != "m001"]
        return run_job(job)

    table = run_sweep(spec, tmp_path / "out", job_fn=flaky, log=lambda s: None)
    assert calls[0] == ["m000", "m001", "m002", "m003"]  # one population for all four members
    rows = {r["id"]: r for r in table}
    assert rows["m000"]["status"] == "ok" and rows["m000"]["attempts"] == 1 and rows["m000"]["population"] == 4
    assert rows["m001"]["status"] == "ok" and rows["m001"]["attempts"] == 2  # retried, then fine
    assert calls[1] == ["m001", "m002", "m003"]  # the retry: the failed members only, one population
    for i in ("m002", "m003"):  # a diverging learning rate: reported with the step, retried, still failed
        assert rows[i]["status"] == "failed" and "non-finite" in rows[i]["error"] and rows[i]["attempts"] == 2
    assert rows["m000"]["loss"] != rows["m001"]["loss"]  # seeds differ
    with open(tmp_path / "out" / "results.csv") as f:
        assert [r["status"] for r in csv.DictReader(f)] == ["ok", "ok", "failed", "failed"]
    assert len(json.loads((tmp_path / "out" / "results.json").read_text())["members"]) == 4
    assert "2/4 members ok" in (tmp_path / "out" / "index.html").read_text()


def test_ray_executor_local_cluster_with_two_workers(tmp_path):
    pytest.importorskip("ray")
    spec = _spec(tmp_path, seeds=[0], grid={"areas.core.hidden": [5, 6]}, executor="ray", workers=2,
                 train={"steps": 1, "batch": 2, "log_every": 1})
    table = run_sweep(spec, tmp_path / "out", log=lambda s: None)
    assert [r["status"] for r in table] == ["ok", "ok"], table
    assert all(r["loss"] > 0 for r in table) and table[0]["loss"] != table[1]["loss"]


def test_slurm_executor_through_submitit_local(tmp_path):
    pytest.importorskip("submitit")
    spec = _spec(tmp_path, seeds=[0, 1], executor="slurm", slurm={"cluster": "local", "timeout_min": 10},
                 train={"steps": 1, "batch": 2, "log_every": 1})
    table = run_sweep(spec, tmp_path / "out", log=lambda s: None)
    assert [r["status"] for r in table] == ["ok", "ok"] and table[0]["population"] == 2
    assert list((tmp_path / "out" / "submitit").iterdir())  # submitit's job folders
