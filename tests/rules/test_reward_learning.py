"""reward_learning: the reward_modulated actor with basal-ganglia dopamine learns a bandit and reverses."""

from __future__ import annotations

import numpy as np
import pytest

from brainsim.scenario import run_scenario


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("rw") / "r"
    return run_scenario("reward_learning", quick=True, out=out, progress=False), out


def test_quick_learns_the_better_arm_and_reverses_after_the_swap(quick):
    s, out = quick
    m = s["metrics"]
    assert s["passed"], (s["criterion"], m)
    assert (out / "figures" / "choice.png").exists()
    curve = np.asarray(m["curve_p_arm0"])
    n = m["trials_per_phase"]
    assert abs(curve[0] - 0.5) < 0.1  # starts indifferent (zero preferences)
    assert curve[n - 1] > 0.9 and curve[-1] < 0.1  # arm 0 preferred, then abandoned after the swap
    assert curve[n + 5] > 0.5  # the reversal is learnt, not instantaneous


def test_critic_value_tracks_the_expected_reward_of_the_policy(quick):
    m = quick[0]["metrics"]
    for v in (m["value_end_phase1"], m["value_end_phase2"]):
        assert 0.6 < v < 0.95  # V(cue) ~ 0.8 * P(good) + 0.2 * P(bad) ~ 0.79


def test_equal_arms_give_no_preference(tmp_path):
    s = run_scenario("reward_learning", quick=True, out=tmp_path / "r", progress=False,
                     sets=["p_good=0.5", "p_bad=0.5"])
    assert not s["passed"]
    assert abs(s["metrics"]["p_better_end_phase1"] - 0.5) < 0.25
