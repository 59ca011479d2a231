"""JAX-native tasks: (seed, index) reproducibility, phase structure, and each task's rule and statistics.

Statistical checks use fixed seeds and 4-sigma binomial tolerances. Every task is compiled for
one batch size only (module fixtures), so the whole file compiles each generator once.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from brainsim.errors import ScenarioError
from brainsim.tasks import (TASKS, ChangeDetection, ContextDM, DelayedMatchToSample, EmbeddedReber, Fixation,
                            Response, Stimulus, Delay, TwelveAXJax, get_task, response_accuracy, task_catalogue)
from brainsim.tasks.jax_base import Draws
from brainsim.tasks.phases import phase_index
from brainsim.tasks.reber import SYMBOLS as RSYM, decode, is_embedded_reber, is_reber, reber_metrics
from brainsim.tasks.twelve_ax import SYMBOLS, epoch_errors, target_of

B = 64


def _close(est, p, n, what):
    se = np.sqrt(p * (1 - p) / n)
    assert abs(est - p) <= 4 * se, f"{what}: {est:.4f} vs {p:.4f} (n={n})"


@pytest.fixture(scope="module")
def tasks():
    return {"twelve_ax_jax": TwelveAXJax(outer_loops=8), "embedded_reber": EmbeddedReber(max_len=30),
            "dms": DelayedMatchToSample(items=4), "change_detection": ChangeDetection(locations=6, colors=4,
                                                                                    set_size=(1, 6)),
            "context_dm": ContextDM(stimulus=6)}


@pytest.fixture(scope="module")
def batches(tasks):
    return {n: {k: jax_np(v) for k, v in _fields(t.generate(11, jnp.arange(B))).items()} for n, t in tasks.items()}


def jax_np(v):
    return np.asarray(v)


def _fields(b):
    return {"inputs": b.inputs, "targets": b.targets, "mask": b.mask, **b.info}


# ------------------------------------------------------------------ (seed, index) contract


@pytest.mark.parametrize("name", ["twelve_ax_jax", "embedded_reber", "dms", "change_detection", "context_dm"])
def test_any_trial_regenerates_from_seed_and_index(tasks, batches, name):
    task, ref = tasks[name], batches[name]
    perm = np.arange(B)[::-1].copy()
    again = {k: np.asarray(v) for k, v in _fields(task.generate(11, jnp.asarray(perm))).items()}
    for k in ("inputs", "targets", "mask"):  # time-major: trial i is column i
        np.testing.assert_array_equal(again[k], ref[k][:, perm], err_msg=k)
    other = np.asarray(task.generate(12, jnp.arange(B)).inputs)
    assert not np.array_equal(other, ref["inputs"])
    assert task._generate._cache_size() == 1  # three calls of one batch size: one compilation
    assert ref["inputs"].shape == (task.max_len, B, task.input_dim) and ref["inputs"].dtype == np.float32
    assert ref["targets"].shape == (task.max_len, B, task.target_dim)
    assert ref["mask"].shape == (task.max_len, B, 1)
    assert len({ref["inputs"][:, b].tobytes() for b in range(B)}) > B // 2  # trials differ


def test_stream_step_is_a_slice_of_the_seed_stream(tasks, batches):
    task = tasks["dms"]
    s = task.stream(11, B)
    np.testing.assert_array_equal(np.asarray(s(0).inputs), batches["dms"]["inputs"])
    np.testing.assert_array_equal(np.asarray(s(1).inputs),
                                  np.asarray(task.generate(11, jnp.arange(B, 2 * B)).inputs))


def test_sample_draws_its_seed_from_the_numpy_generator(tasks):
    task = tasks["dms"]
    a = task.sample(np.random.default_rng(5), B)
    b = task.sample(np.random.default_rng(5), B)
    np.testing.assert_array_equal(np.asarray(a.inputs), np.asarray(b.inputs))
    with pytest.raises(ScenarioError, match="Generator"):
        task.sample(0, B)


# ------------------------------------------------------------------------------ phases


def test_phase_index_and_durations():
    trial = Fixation(2) >> Stimulus(3) >> Delay((1, 4)) >> Response(2)
    assert trial.max_len == 11 and trial.names == ("fixation", "stimulus", "delay", "response")
    np.testing.assert_array_equal(phase_index(jnp.array([2, 3, 3, 2]), 11), [0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 4])
    np.testing.assert_array_equal(phase_index(jnp.array([1, 0, 2]), 4), [0, 2, 2, 3])  # an empty phase
    d = np.stack([np.asarray(trial.durations(Draws(jnp.full((4,), u)))) for u in (0.01, 0.3, 0.6, 0.99)])
    np.testing.assert_array_equal(d[:, 2], [1, 2, 3, 4])  # uniform over lo..hi by the inverse CDF
    assert np.all(d[:, [0, 1, 3]] == [2, 3, 2])
    with pytest.raises(ScenarioError, match="two phases named"):
        Fixation(1) >> Fixation(2)
    with pytest.raises(ScenarioError, match="duration"):
        Delay((4, 2))


# ------------------------------------------------------------------------------- 12-AX


def test_twelve_ax_jax_targets_follow_the_independent_rule(batches):
    b = batches["twelve_ax_jax"]
    sym, tgt, lengths = b["symbols"], b["target_idx"], b["lengths"]
    for j in range(B):
        n = lengths[j]
        assert tgt[:n, j].tolist() == target_of([SYMBOLS[i] for i in sym[:n, j]])
        assert np.all(sym[n:, j] == -1) and np.all(b["mask"][n:, j] == 0) and np.all(b["mask"][:n, j] == 1)
    assert np.all((lengths >= 3 * 8) & (lengths <= 9 * 8))
    np.testing.assert_array_equal(epoch_errors(b["targets"], b["targets"], b["mask"]), np.zeros(B))


def test_twelve_ax_jax_statistics(tasks):
    b = tasks["twelve_ax_jax"].generate(2006, jnp.arange(B))  # the fixture's compilation
    sym, tgt = np.asarray(b.info["symbols"]), np.asarray(b.info["target_idx"])
    digits = sym[(sym == 0) | (sym == 1)]
    _close(float((digits == 0).mean()), 0.5, digits.size, "P(digit 1)")
    firsts = np.isin(sym, [2, 3, 4])
    n_pairs = int(firsts.sum())
    _close(n_pairs / digits.size / 4, 2.5 / 4, digits.size, "mean inner loops / 4")
    _close(float((tgt == 1).sum()) / n_pairs, 0.25, n_pairs, "P(R | pair)")


# ------------------------------------------------------------------------ embedded Reber


def test_reber_reference_recogniser():
    for s in ("BTXSE", "BPVVE", "BTSSXXTVVE", "BPTVPSE"):
        assert is_reber(s), s
    for s in ("BTXXE", "BTSE", "BPVE", "TXSE"):
        assert not is_reber(s), s
    assert is_embedded_reber("BTBTXSETE") and not is_embedded_reber("BTBTXSEPE")


def test_embedded_reber_strings_and_legal_successor_targets(batches):
    b = batches["embedded_reber"]
    strings = decode(b["symbols"])
    assert all(is_embedded_reber(s) for s in strings) and b["fitted"].all()
    assert [len(s) for s in strings] == b["lengths"].tolist()
    tgt, m = b["targets"] > 0.5, b["mask"][..., 0] > 0
    for j, s in enumerate(strings):
        n = len(s)
        assert m[: n - 1, j].all() and not m[n - 1:, j].any()  # the last E predicts nothing
        for t in range(n - 1):
            legal = {RSYM[k] for k in np.flatnonzero(tgt[t, j])}
            assert s[t + 1] in legal and 1 <= len(legal) <= 2
        assert {RSYM[k] for k in np.flatnonzero(tgt[n - 3, j])} == {s[1]}  # the long-lag prediction
        assert b["memory_step"][j] == n - 3 and RSYM[b["second"][j]] == s[1]
        assert {RSYM[k] for k in np.flatnonzero(tgt[0, j])} == {"T", "P"}
    _close(float(np.mean([s[1] == "T" for s in strings])), 0.5, B, "P(T second)")


def test_reber_metrics_on_constructed_outputs(batches, tasks):
    from brainsim.tasks.base import Batch
    b = batches["embedded_reber"]
    batch = Batch(b["inputs"], b["targets"], b["mask"], {k: b[k] for k in ("memory_step", "second")})
    perfect = reber_metrics(b["targets"], batch)
    assert perfect == {"legal_accuracy": 1.0, "string_accuracy": 1.0, "memory_accuracy": 1.0,
                       "both_tp_accuracy": 1.0}
    forgetful = b["targets"].copy()
    cols = np.arange(B)
    forgetful[b["memory_step"], cols, 1] = forgetful[b["memory_step"], cols, 2] = 1.0  # answers "T or P"
    r = reber_metrics(forgetful, batch)
    assert r["memory_accuracy"] == 0.0 and r["string_accuracy"] == 0.0 and 0.9 < r["legal_accuracy"] < 1.0


# ---------------------------------------------------------------------------------- DMS


def test_dms_match_rule_fixation_and_response(batches, tasks):
    b, task = batches["dms"], tasks["dms"]
    match, sample, test = b["match"], b["sample"], b["test"]
    assert np.all((test == sample) == match)
    _close(float(match.mean()), 0.5, B, "P(match)")
    resp = b["response"]
    cls = b["targets"].argmax(-1)
    for j in range(B):
        assert np.all(cls[resp[:, j], j] == (1 if match[j] else 2))
        valid = b["mask"][:, j, 0] > 0
        assert np.all(cls[valid & ~resp[:, j], j] == 0)  # fixate until the response phase
        assert np.all(b["inputs"][valid & ~resp[:, j], j, 0] == 1) and np.all(b["inputs"][resp[:, j], j, 0] == 0)
        shown = b["inputs"][:, j, 1:].argmax(-1)[b["inputs"][:, j, 1:].sum(-1) > 0]
        assert set(shown.tolist()) == {sample[j], test[j]}
    delays = (b["phase"] == 2).sum(0)
    assert delays.min() >= 2 and delays.max() <= 6 and len(set(delays.tolist())) > 1
    from brainsim.tasks.base import Batch
    batch = Batch(b["inputs"], b["targets"], b["mask"], {"response": resp})
    assert float(response_accuracy(b["targets"], batch)) == 1.0
    swapped = b["targets"][..., [0, 2, 1]]
    assert float(response_accuracy(swapped, batch)) == 0.0


# ---------------------------------------------------------------------- change detection


def test_change_detection_displays(batches, tasks):
    b, task = batches["change_detection"], tasks["change_detection"]
    n, s, t, change = b["n"], b["sample_colors"], b["test_colors"], b["change"]
    assert np.all((s >= 0).sum(1) == n) and np.all((n >= 1) & (n <= 6)) and len(set(n.tolist())) >= 4
    diff = (s != t).sum(1)
    np.testing.assert_array_equal(diff, change.astype(int))  # exactly one item changes on change trials
    assert np.all((t >= 0) == (s >= 0))
    loc = b["changed_location"]
    assert np.all((loc >= 0) == change) and np.all(s[change, loc[change]] >= 0)
    _close(float(change.mean()), 0.5, B, "P(change)")
    cls = b["targets"].argmax(-1)
    for j in range(B):
        assert np.all(cls[b["response"][:, j], j] == (2 if change[j] else 1))
        sample_steps = np.flatnonzero(b["phase"][:, j] == 1)
        shown = b["inputs"][sample_steps[0], j, 1:].reshape(6, 4)
        np.testing.assert_array_equal(np.where(shown.sum(1) > 0, shown.argmax(1), -1), s[j])


# ---------------------------------------------------------------------------- context DM


def test_context_dm_answers_the_cued_stream(batches):
    b = batches["context_dm"]
    ctx, coh, choice = b["context"], b["coherence"], b["choice"]
    relevant = coh[np.arange(B), ctx]
    np.testing.assert_array_equal(choice, np.where(relevant > 0, 1, 2))
    assert np.all(b["inputs"][0, np.arange(B), 1 + ctx] == 1)  # the context cue from the first step
    irrelevant = coh[np.arange(B), 1 - ctx]
    assert 0 < np.mean(np.sign(irrelevant) == np.sign(relevant)) < 1  # the other stream is uninformative
    stim = b["phase"] == 1
    ev = b["inputs"][..., 3:]
    mean_diff = np.array([(ev[stim[:, j], j, 0] - ev[stim[:, j], j, 1]).mean() for j in range(B)])
    assert np.corrcoef(mean_diff, coh[:, 0])[0, 1] > 0.5  # motion units carry the motion coherence
    cls = b["targets"].argmax(-1)
    for j in range(B):
        assert np.all(cls[b["response"][:, j], j] == choice[j])


# ------------------------------------------------------------------------------ registry


def test_catalogue_lists_every_task_with_documented_options():
    cat = {t["name"]: t for t in task_catalogue()}
    ours = {"twelve_ax", "twelve_ax_jax", "embedded_reber", "dms", "change_detection", "context_dm",
            "conditioning", "neurogym"}
    assert ours <= set(cat)
    for t in (cat[n] for n in ours):  # plugins may register more
        assert t["doc"] and t["options"], t["name"]
        assert all(o["doc"] and o["type"] for o in t["options"])
    assert cat["dms"]["kind"] == "jax" and cat["twelve_ax"]["kind"] == "numpy"
    assert TASKS["twelve_ax_jax"] is TwelveAXJax


def test_get_task_checks_option_names_and_types():
    with pytest.raises(ScenarioError, match="task.item"):
        get_task("dms", item=3)
    with pytest.raises(ScenarioError, match="expected int"):
        get_task("dms", items="many")
    with pytest.raises(ScenarioError, match="exceeds locations"):
        get_task("change_detection", locations=4, set_size=(1, 6))
    with pytest.raises(ScenarioError, match="did you mean 'context_dm'"):
        get_task("context-dm")
    assert isinstance(get_task("change_detection", set_size=3), ChangeDetection)
