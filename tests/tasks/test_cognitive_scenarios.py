"""Quick modes of the cognitive scenarios pass their quick criteria; the conditioning task's probes."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from brainsim import run_scenario
from brainsim.errors import ScenarioError
from brainsim.tasks import Conditioning


def test_conditioning_probe_trials_follow_the_trial_rule():
    task = Conditioning(csc=6, delay=4, max_len=14, cue_onset=3, probe="mixed", p_probe=0.3)
    b = task.generate(0, jnp.arange(48))
    x, kind = np.asarray(b.inputs), np.asarray(b.info["kind"])
    assert set(kind.tolist()) == {0, 1, 2}
    probes = task.probe_batch(3)
    for j in range(48):  # every generated trial equals the probe trial of its kind
        np.testing.assert_array_equal(x[:, j], probes.inputs[:, kind[j]])
    np.testing.assert_array_equal(probes.inputs[3:9, 0, :6], np.eye(6))  # the tapped delay line
    assert probes.inputs[7, 0, 6] == 1 and probes.inputs[:, 1, 6].sum() == 0 and probes.inputs[:, 2, :6].sum() == 0
    with pytest.raises(ScenarioError, match="delay"):
        Conditioning(csc=4, delay=4)


def test_dopamine_conditioning_quick_reproduces_the_schultz_signature(tmp_path):
    s = run_scenario("dopamine_conditioning", quick=True, out=tmp_path / "r", progress=False)
    m = s["metrics"]
    assert s["passed"], m["checks"]
    assert m["naive_reward"] > 0.9 and m["naive_cue"] == 0.0  # before learning: the reward is the surprise
    assert m["cue"] > 0.5 and abs(m["predicted_reward"]) < 0.1 and m["omitted_reward"] < -0.5
    assert (tmp_path / "r" / "figures" / "dopamine.png").exists()


def test_embedded_reber_quick_learns_the_grammar(tmp_path):
    s = run_scenario("embedded_reber", quick=True, out=tmp_path / "r", progress=False)
    final = s["metrics"]["models"]["reber_gated"]["0"]["final"]
    assert s["passed"], final
    assert final["legal_accuracy"] >= 0.6
    curve = s["metrics"]["models"]["reber_gated"]["0"]["curve"]
    assert curve[-1][1] > curve[0][1] + 0.1  # accuracy rises with training
    assert (tmp_path / "r" / "figures" / "learning.png").exists()


def test_yang19_quick_trains_neurogym_tasks_through_the_runner(tmp_path):
    pytest.importorskip("neurogym")
    s = run_scenario("yang19_multitask", quick=True, out=tmp_path / "r", progress=False)
    m = s["metrics"]["models"]["yang19_modular"]
    assert s["passed"], m
    assert set(m["per_task"]) == {"go", "dm1"} and m["mean"] >= 0.6
    assert (tmp_path / "r" / "figures" / "per_task.png").exists()
