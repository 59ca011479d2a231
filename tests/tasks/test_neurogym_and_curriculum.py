"""The NeuroGym client (batches equal the env's own trials; multi-task ids; length statistics; errors)
and closed-loop curricula."""

from __future__ import annotations

import numpy as np
import pytest

from brainsim.errors import ScenarioError
from brainsim.tasks import get_task
from brainsim.tasks.curriculum import Curriculum

ngym = pytest.importorskip("neurogym")

from brainsim.tasks.neurogym import NeuroGymTask, make_env, performance_by_task, trial_performance  # noqa: E402

YANG = ["yang19.go-v0", "yang19.dms-v0", "yang19.dm1-v0"]


@pytest.fixture(scope="module")
def pdm():
    return get_task("neurogym", env="PerceptualDecisionMaking-v0", env_kwargs={"dt": 100}, stats_trials=50)


@pytest.fixture(scope="module")
def multi():
    return NeuroGymTask(YANG, env_kwargs={"dt": 100, "dim_ring": 2}, stats_trials=100, seq_len="max")


def test_batch_holds_the_envs_own_trials(pdm):
    rng = np.random.default_rng(0)
    batch = pdm.sample(rng, 6)
    T = pdm.max_len
    assert batch.inputs.shape == (T, 6, 3) and batch.targets.shape == (T, 6, 3) and batch.mask.shape == (T, 6, 1)
    assert pdm.input_names == {"fixation": [0], "stimulus": [1, 2]}
    # replay: a fresh env seeded as sample() seeds it yields the same trials in order
    env = make_env("PerceptualDecisionMaking-v0", dt=100)
    rng2 = np.random.default_rng(0)
    env.unwrapped.seed(int(rng2.integers(0, 2**31 - 1)))
    rng2.integers(0, 1, size=6)
    for b in range(6):
        env.unwrapped.new_trial()
        ob, gt = env.unwrapped.ob, env.unwrapped.gt
        n = len(gt)
        np.testing.assert_allclose(batch.inputs[:n, b], ob, rtol=1e-6)
        np.testing.assert_array_equal(batch.targets[:n, b].argmax(-1), gt)
        np.testing.assert_array_equal(batch.info["gt"][:n, b], gt)
        assert batch.mask[:n, b].all() and not batch.mask[n:, b].any() and batch.info["lengths"][b] == n
    again = pdm.sample(np.random.default_rng(0), 6)
    np.testing.assert_array_equal(again.inputs, batch.inputs)  # reproducible from the generator's state


def test_trial_performance_is_read_at_the_last_step(pdm):
    batch = pdm.sample(np.random.default_rng(1), 8)
    assert trial_performance(batch.targets, batch).all()
    wrong = batch.targets.copy()
    last = batch.info["lengths"] - 1
    wrong[last, np.arange(8)] = np.roll(wrong[last, np.arange(8)], 1, axis=-1)
    assert not trial_performance(wrong, batch).any()


def test_multi_task_batches_carry_a_task_id_and_pad_to_the_longest_trial(multi):
    assert multi.input_dim == 5 + 3 and multi.input_names["task"] == [5, 6, 7]
    assert multi.max_len == max(s["max"] for s in multi.stats)
    for s in multi.stats:
        assert s["mean"] <= s["p95"] <= s["max"] and s["over"] == 0.0
    batch = multi.sample(np.random.default_rng(2), 48)
    task, lengths = batch.info["task"], batch.info["lengths"]
    assert set(task.tolist()) == {0, 1, 2}
    for b in range(48):
        n = lengths[b]
        np.testing.assert_array_equal(batch.inputs[:n, b, 5:], np.tile(np.eye(3)[task[b]], (n, 1)))
        assert not batch.inputs[n:, b].any()
    perf = performance_by_task(batch.targets, batch, YANG)
    assert perf == {n: 1.0 for n in YANG}


def test_seq_len_from_statistics_and_decision_mask():
    t = NeuroGymTask("yang19.dm1-v0", env_kwargs={"dt": 100, "dim_ring": 2}, seq_len="mean", stats_trials=200,
                     mask="decision", fixation_weight=0.25)
    assert t.max_len == int(np.ceil(t.stats[0]["mean"])) and t.max_len < t.stats[0]["max"]
    assert 0 < t.stats[0]["over"] < 0.6
    batch = t.sample(np.random.default_rng(3), 16)
    assert batch.info["lengths"].max() <= t.max_len  # longer trials were redrawn
    gt, m = batch.info["gt"], batch.mask[..., 0]
    assert np.all(m[gt > 0] == 1.0) and np.all(m[gt == 0] == 0.25) and np.all(m[gt < 0] == 0.0)


def test_bad_envs_are_clear_errors():
    with pytest.raises(ScenarioError, match="close matches: yang19.dms-v0"):
        get_task("neurogym", env="yang19.dsm-v0")
    with pytest.raises(ScenarioError, match="not Discrete"):
        get_task("neurogym", env="SpatialSuppressMotion-v0")
    with pytest.raises(ScenarioError, match="rejects env_kwargs"):
        get_task("neurogym", env="PerceptualDecisionMaking-v0", env_kwargs={"no_such_option": 1})
    with pytest.raises(ScenarioError, match="seq_len"):
        get_task("neurogym", env="PerceptualDecisionMaking-v0", seq_len="median", stats_trials=5)

    class NoTrials:
        import gymnasium as gym
        observation_space = gym.spaces.Box(-1, 1, (2,))
        action_space = gym.spaces.Discrete(2)
        unwrapped = None

    env = NoTrials()
    env.unwrapped = env
    with pytest.raises(ScenarioError, match="new_trial"):
        NeuroGymTask(env)


# ---------------------------------------------------------------------------- curricula


def test_curriculum_advances_after_patience_and_stops_at_the_end():
    cur = Curriculum(["easy", "medium", "hard"], metric="accuracy", threshold=0.9, patience=2)
    recs = [cur.update(s, v) for s, v in enumerate([0.95, 0.5, 0.95, 0.92, 0.95, 0.99, 0.3, 0.91, 0.97])]
    stages = [r["curriculum_stage"] for r in recs]
    assert stages == [0, 0, 0, 1, 1, 2, 2, 2, 2]  # a failure resets the streak
    assert [s for s, r in enumerate(recs) if r.get("curriculum_advanced")] == [3, 5]
    assert recs[-1].get("stop") is True and cur.finished and cur.state["history"] == [[3, 1], [5, 2], [8, 3]]
    assert recs[3]["curriculum_name"] == "stage1" and recs[3]["curriculum_accuracy"] == 0.92


def test_curriculum_state_round_trips_through_json():
    import json
    cur = Curriculum([1, 2, 3], metric="loss", threshold=0.1, mode="min")
    cur.update(0, 0.05)
    restored = Curriculum([1, 2, 3], metric="loss", threshold=0.1, mode="min",
                          state=json.loads(json.dumps(cur.state)))
    assert restored.current == 2 and restored.update(1, 0.2)["curriculum_stage"] == 1
    with pytest.raises(ScenarioError, match="mode"):
        Curriculum([1], metric="m", threshold=0, mode="up")
    with pytest.raises(ScenarioError, match="at least one stage"):
        Curriculum([], metric="m", threshold=0)


def test_curriculum_in_fit_is_logged_and_checkpointed(tmp_path):
    """A curriculum over conditioning delays drives fit: its stage is in metrics.jsonl and in the checkpoint."""
    import jax

    import brainsim
    from brainsim.checkpoint import Checkpointer
    from brainsim.tasks import Conditioning
    from brainsim.train import MetricsLog, fit, read_metrics

    brain = brainsim.load("dopamine_td")
    stages = [Conditioning(delay=2, cue_onset=2), Conditioning(delay=4, cue_onset=2)]
    cur = Curriculum(stages, metric="td", threshold=0.03, mode="min", patience=3, names=["delay2", "delay4"])
    streams = [t.stream(0, 8) for t in stages]

    def batch_fn(step):
        x = streams[cur.stage](step).inputs
        return {"stimulus": x[..., :6], "reward": x[..., 6:]}

    params, _ = brain.init(jax.random.key(0), batch=8)
    log = MetricsLog(tmp_path / "metrics.jsonl")
    ck = Checkpointer(tmp_path / "ck", every=0)
    fit(brain, params, brain.init_opt_state(params), batch_fn, 300, jax.random.key(1), log_every=1, metrics=log,
        progress=False, callback=lambda s, m, p: cur.update(s, float(m["bg/td"])), callback_state=cur.state,
        checkpointer=ck)
    log.close()
    recs = read_metrics(tmp_path / "metrics.jsonl")
    stages_logged = [r["curriculum_stage"] for r in recs]
    # td at init: 0.5 / T = 0.036 (the unpredicted reward); trained: the cue surprise 0.5 (gamma^delay)^2 / T,
    # 0.023 (delay 2) and 0.015 (delay 4): the threshold 0.03 needs learning at each stage
    assert min(r["curriculum_td"] for r in recs) < 0.03, min(r["curriculum_td"] for r in recs)
    assert stages_logged[0] == 0 and 1 in stages_logged and stages_logged == sorted(stages_logged)
    assert cur.finished and len(recs) < 300  # the last stage passed: training stopped early
    saved = ck.restore({"params": params, "opt_state": brain.init_opt_state(params), "key": jax.random.key(1)})
    assert saved.meta["callback_state"]["stage"] == 1 and saved.meta["callback_state"]["finished"] is True
    ck.close()
