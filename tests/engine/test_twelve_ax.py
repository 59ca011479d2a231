"""The 12-AX generator (O'Reilly & Frank 2006): rule, statistics, padding, metrics.

The statistical tests use fixed seeds and 4-sigma tolerances from binomial (or
delta-method) standard errors, so they are deterministic and a wrong
probability anywhere in the generator moves an estimate by many sigmas.
"""

from __future__ import annotations

import numpy as np
import pytest

from brainsim.errors import ScenarioError
from brainsim.tasks import TASKS, Batch, Task, TwelveAX, get_task
from brainsim.tasks.twelve_ax import (
    PAIR_PROBS,
    PAIRS,
    SYMBOLS,
    epoch_errors,
    generate_sequence,
    per_symbol_accuracy,
    target_of,
)

SIGMAS = 4.0
L, R = 0, 1


def _seq(text: str):
    return text.split()


def _close(estimate: float, p: float, n: int, what: str) -> None:
    se = np.sqrt(p * (1 - p) / n)
    assert abs(estimate - p) <= SIGMAS * se, f"{what}: {estimate:.4f} vs {p:.4f} (n={n}, 4se={SIGMAS * se:.4f})"


def _parse(symbols):
    """Split a symbol stream into outer loops [(digit, [pair, ...]), ...], checking the grammar."""
    assert symbols and symbols[0] in ("1", "2"), "a sequence starts with a digit"
    loops = []
    i = 0
    while i < len(symbols):
        digit = symbols[i]
        assert digit in ("1", "2"), f"expected a digit at {i}, got {digit!r}"
        i += 1
        pairs = []
        while i < len(symbols) and symbols[i] not in ("1", "2"):
            assert i + 1 < len(symbols), "a pair is cut off"
            first, second = symbols[i], symbols[i + 1]
            assert first in "ABC" and second in "XYZ", f"bad pair {first}{second} at {i}"
            pairs.append(first + second)
            i += 2
        assert 1 <= len(pairs) <= 4, f"outer loop with {len(pairs)} inner loops"
        loops.append((digit, pairs))
    return loops


# --------------------------------------------------------------------------- rule


@pytest.mark.parametrize(
    "text, expected",
    [
        ("1 A X", [L, L, R]),
        ("2 A X", [L, L, L]),
        ("2 B Y", [L, L, R]),
        ("1 B Y", [L, L, L]),
        ("1 A Y", [L, L, L]),
        ("1 A Z", [L, L, L]),
        ("1 C X", [L, L, L]),
        ("1 B X", [L, L, L]),
        ("2 A Y", [L, L, L]),
        ("2 C Y", [L, L, L]),
        ("A X", [L, L]),  # no digit yet
        ("A Z", [L, L]),
        ("1 A X B Y 2 A X B Y", [L, L, R, L, L, L, L, L, L, R]),  # digit switch
        ("2 B Y 1 B Y A X", [L, L, R, L, L, L, L, R]),
        ("1 C Z A X C X A X", [L, L, L, L, R, L, L, L, R]),  # digit held over inner loops
        ("1 A Z X", [L, L, L, L]),  # X must follow A directly
        ("2 B Z Y", [L, L, L, L]),
    ],
)
def test_target_of_hand_written(text, expected):
    assert target_of(_seq(text)) == expected


def test_target_of_rejects_unknown_symbol():
    with pytest.raises(ScenarioError, match="unknown 12-AX symbol"):
        target_of(["1", "Q"])


def test_generated_targets_match_independent_rule():
    rng = np.random.default_rng(0)
    n_r = 0
    for _ in range(200):
        symbols, targets = generate_sequence(rng, 25)
        _parse(symbols)
        assert targets == target_of(symbols)
        n_r += sum(targets)
    assert n_r > 0


def test_sample_targets_match_independent_rule():
    task = TwelveAX()
    batch = task.sample(np.random.default_rng(1), 64)
    sym, tgt, lengths = batch.info["symbols"], batch.info["target_idx"], batch.info["lengths"]
    for b in range(64):
        n = lengths[b]
        symbols = [SYMBOLS[i] for i in sym[:n, b]]
        loops = _parse(symbols)
        assert len(loops) == 25
        expected = target_of(symbols)
        assert tgt[:n, b].tolist() == expected
        assert batch.targets[:n, b].argmax(-1).tolist() == expected
        assert batch.inputs[:n, b].argmax(-1).tolist() == sym[:n, b].tolist()


# ---------------------------------------------------------------------- statistics


@pytest.fixture(scope="module")
def stats_batch():
    """400 epochs x 25 = 10,000 outer loops, through the public sampling path."""
    return TwelveAX().sample(np.random.default_rng(2006), 400)


@pytest.fixture(scope="module")
def stats_loops(stats_batch):
    sym, lengths = stats_batch.info["symbols"], stats_batch.info["lengths"]
    loops = []
    for b in range(sym.shape[1]):
        loops.extend(_parse([SYMBOLS[i] for i in sym[: lengths[b], b]]))
    return loops


def test_digit_frequencies(stats_loops):
    n = len(stats_loops)
    assert n == 10_000
    ones = sum(d == "1" for d, _ in stats_loops)
    _close(ones / n, 0.5, n, "P(digit 1)")
    # digits are drawn independently: no alternation or stickiness
    same = sum(stats_loops[i][0] == stats_loops[i - 1][0] for i in range(1, n))
    _close(same / (n - 1), 0.5, n - 1, "P(digit repeats)")


def test_inner_loops_uniform_1_to_4(stats_loops):
    n = len(stats_loops)
    counts = np.bincount([len(p) for _, p in stats_loops], minlength=6)
    assert counts[0] == 0 and counts[5] == 0
    for k in range(1, 5):
        _close(counts[k] / n, 0.25, n, f"P({k} inner loops)")


def test_pair_frequencies(stats_loops):
    pairs = [p for _, ps in stats_loops for p in ps]
    n = len(pairs)
    # expected probabilities written out here, independently of the module's PAIR_PROBS
    expected = {"AX": 0.25, "BY": 0.25}
    expected.update({pr: 0.5 / 7 for pr in ("AY", "AZ", "BX", "BZ", "CX", "CY", "CZ")})
    assert set(pairs) <= set(expected) and set(PAIRS) == set(expected)
    assert dict(zip(PAIRS, PAIR_PROBS)) == pytest.approx(expected)
    for name, p in expected.items():
        _close(pairs.count(name) / n, p, n, f"P({name})")
    _close(sum(pr in ("AX", "BY") for pr in pairs) / n, 0.5, n, "P(AX or BY)")
    # pairs do not depend on the digit
    under_1 = [p for d, ps in stats_loops if d == "1" for p in ps]
    _close(under_1.count("AX") / len(under_1), 0.25, len(under_1), "P(AX | digit 1)")
    under_2 = [p for d, ps in stats_loops if d == "2" for p in ps]
    _close(under_2.count("BY") / len(under_2), 0.25, len(under_2), "P(BY | digit 2)")


def test_r_fraction_matches_analytic_value(stats_batch, stats_loops):
    # Per outer loop with k inner loops (k uniform on 1..4): s = 1 + 2k steps and
    # r ~ Binomial(k, 0.25) R targets. The R fraction is sum(r) / sum(s), whose
    # limit is E[r] / E[s] = (2.5 * 0.25) / 6.
    rho = (2.5 * 0.25) / (1 + 2 * 2.5)
    assert rho == pytest.approx(0.1041666, abs=1e-6)
    # delta-method variance per outer loop: E[(r - rho s)^2] (E[r - rho s] = 0)
    var = sum(0.25 * (k * 0.25 * 0.75 + (0.25 * k - rho * (1 + 2 * k)) ** 2) for k in range(1, 5))
    n_outer = len(stats_loops)
    se = np.sqrt(var / n_outer) / 6.0

    mask = stats_batch.mask[..., 0] > 0
    n_r = int(stats_batch.targets[..., R][mask].sum())
    n_steps = int(mask.sum())
    assert abs(n_r / n_steps - rho) <= SIGMAS * se, (n_r / n_steps, rho, se)
    # R per inner loop is Bernoulli(0.25)
    n_inner = sum(len(p) for _, p in stats_loops)
    _close(n_r / n_inner, 0.25, n_inner, "P(R | inner loop)")
    # mean epoch length 25 * 6 = 150; var per outer loop = 4 * Var(k) = 5
    mean_len = stats_batch.info["lengths"].mean()
    assert abs(mean_len - 150.0) <= SIGMAS * np.sqrt(25 * 5 / len(stats_batch.info["lengths"]))


# ------------------------------------------------------------- padding and shapes


def test_padding_and_mask():
    task = TwelveAX()
    assert task.max_len == 225 and task.input_dim == 8 and task.target_dim == 2
    batch = task.sample(np.random.default_rng(3), 32)
    assert isinstance(batch, Batch)
    T, B = 225, 32
    assert batch.inputs.shape == (T, B, 8) and batch.inputs.dtype == np.float32
    assert batch.targets.shape == (T, B, 2) and batch.targets.dtype == np.float32
    assert batch.mask.shape == (T, B, 1) and batch.mask.dtype == np.float32
    assert batch.shape == (T, B)
    lengths = batch.info["lengths"]
    assert lengths.shape == (B,)
    assert np.all((lengths >= 75) & (lengths <= 225)) and np.all(lengths % 2 == 1)
    np.testing.assert_array_equal(batch.mask[..., 0].sum(0), lengths)
    valid = np.arange(T)[:, None] < lengths[None, :]
    np.testing.assert_array_equal(batch.mask[..., 0], valid.astype(np.float32))
    # one-hot on valid steps, zeros on padding
    np.testing.assert_array_equal(batch.inputs.sum(-1), valid.astype(np.float32))
    np.testing.assert_array_equal(batch.targets.sum(-1), valid.astype(np.float32))
    assert set(np.unique(batch.inputs)) <= {0.0, 1.0}
    assert np.all(batch.inputs[~valid] == 0) and np.all(batch.targets[~valid] == 0)
    assert np.all(batch.info["symbols"][~valid] == -1) and np.all(batch.info["symbols"][valid] >= 0)
    assert np.all(batch.info["target_idx"][~valid] == -1)


def test_shapes_fixed_across_calls_and_custom_max_len():
    task = TwelveAX(outer_loops=3, max_len=40)
    rng = np.random.default_rng(4)
    shapes = {tuple(task.sample(rng, 5).inputs.shape) for _ in range(30)}
    assert shapes == {(40, 5, 8)}
    small = TwelveAX(outer_loops=2)
    assert small.sample(rng, 3).inputs.shape == (18, 3, 8)


def test_bad_configuration_raises_scenario_error():
    with pytest.raises(ScenarioError, match="max_len"):
        TwelveAX(outer_loops=25, max_len=224)
    with pytest.raises(ScenarioError, match="outer_loops"):
        TwelveAX(outer_loops=0)
    with pytest.raises(ScenarioError, match="batch"):
        TwelveAX().sample(np.random.default_rng(0), 0)
    with pytest.raises(ScenarioError, match="Generator"):
        TwelveAX().sample(0, 2)


# -------------------------------------------------------------------- determinism


def test_same_seed_same_batch_different_seed_different():
    task = TwelveAX()
    a = task.sample(np.random.default_rng(7), 8)
    b = task.sample(np.random.default_rng(7), 8)
    c = task.sample(np.random.default_rng(8), 8)
    np.testing.assert_array_equal(a.inputs, b.inputs)
    np.testing.assert_array_equal(a.targets, b.targets)
    np.testing.assert_array_equal(a.mask, b.mask)
    assert not np.array_equal(a.inputs, c.inputs)


def test_epochs_in_a_batch_are_independent_draws():
    batch = TwelveAX().sample(np.random.default_rng(9), 16)
    cols = {batch.info["symbols"][:, b].tobytes() for b in range(16)}
    assert len(cols) == 16


def test_resume_from_bit_generator_state():
    task = TwelveAX()
    rng = np.random.default_rng(10)
    task.sample(rng, 4)
    saved = rng.bit_generator.state
    second = task.sample(rng, 4)
    third = task.sample(rng, 4)
    resumed = np.random.default_rng(999)
    resumed.bit_generator.state = saved
    np.testing.assert_array_equal(task.sample(resumed, 4).inputs, second.inputs)
    np.testing.assert_array_equal(task.sample(resumed, 4).inputs, third.inputs)


def test_sample_draws_epochs_like_generate_sequence():
    batch = TwelveAX(outer_loops=5).sample(np.random.default_rng(11), 3)
    rng = np.random.default_rng(11)
    for b in range(3):
        symbols, targets = generate_sequence(rng, 5)
        n = batch.info["lengths"][b]
        assert n == len(symbols)
        assert [SYMBOLS[i] for i in batch.info["symbols"][:n, b]] == symbols
        assert batch.info["target_idx"][:n, b].tolist() == targets


# ------------------------------------------------------------------------ metrics


def test_epoch_errors_on_constructed_predictions():
    batch = TwelveAX().sample(np.random.default_rng(12), 6)
    t = batch.info["target_idx"]
    pred = np.where(t >= 0, t, 0)
    np.testing.assert_array_equal(epoch_errors(pred, t, batch.mask), np.zeros(6))
    # one-hot targets, [T, B] mask and logits are accepted too
    np.testing.assert_array_equal(epoch_errors(batch.targets * 5.0, batch.targets, batch.mask[..., 0]), np.zeros(6))

    flipped = pred.copy()
    flipped[10, 4] = 1 - flipped[10, 4]
    np.testing.assert_array_equal(epoch_errors(flipped, t, batch.mask), [0, 0, 0, 0, 1, 0])
    # a wrong answer on padding does not count
    lengths = batch.info["lengths"]
    short = int(np.argmin(lengths))
    assert lengths[short] < 225
    padded = pred.copy()
    padded[lengths[short]:, short] = 1
    np.testing.assert_array_equal(epoch_errors(padded, t, batch.mask), np.zeros(6))
    # always answering L misses exactly the R targets
    all_l = np.zeros_like(pred)
    np.testing.assert_array_equal(epoch_errors(all_l, t, batch.mask), (t == 1).sum(0))


def test_per_symbol_accuracy_on_constructed_predictions():
    batch = TwelveAX().sample(np.random.default_rng(13), 8)
    t, s = batch.info["target_idx"], batch.info["symbols"]
    perfect = np.where(t >= 0, t, 0)
    acc = per_symbol_accuracy(perfect, t, batch.mask, s)
    assert set(acc) == set(SYMBOLS) | {"R-targets", "all"}
    assert all(v == 1.0 for v in acc.values())

    acc = per_symbol_accuracy(np.zeros_like(t), t, batch.mask, s)  # always L
    assert acc["R-targets"] == 0.0
    for name in ("1", "2", "A", "B", "C", "Z"):  # never R targets
        assert acc[name] == 1.0
    valid = s >= 0
    for name in ("X", "Y"):
        sel = valid & (s == SYMBOLS.index(name))
        assert acc[name] == pytest.approx(float((t[sel] == 0).mean()))
        assert acc[name] < 1.0
    assert acc["all"] == pytest.approx(float((t[valid] == 0).mean()))

    # one wrong step on an X lowers only X (and "all", maybe "R-targets")
    pred = perfect.copy()
    tt, bb = np.argwhere(valid & (s == SYMBOLS.index("X")))[0]
    pred[tt, bb] = 1 - pred[tt, bb]
    acc = per_symbol_accuracy(pred, t, batch.mask, s)
    n_x = int((valid & (s == SYMBOLS.index("X"))).sum())
    assert acc["X"] == pytest.approx(1 - 1 / n_x)
    assert acc["A"] == 1.0 and acc["Y"] == 1.0


# ----------------------------------------------------------------------- registry


def test_registry_and_get_task():
    assert TASKS["twelve_ax"] is TwelveAX
    task = get_task("twelve_ax", outer_loops=4)
    assert isinstance(task, Task) and isinstance(task, TwelveAX)
    assert task.name == "twelve_ax" and task.max_len == 36
    with pytest.raises(ScenarioError, match="did you mean 'twelve_ax'"):
        get_task("twelve-ax")
    with pytest.raises(ScenarioError, match="unknown task"):
        get_task("nothing_like_it")
    with pytest.raises(ScenarioError, match="bad options"):
        get_task("twelve_ax", outer=3)


# ------------------------------------------------------------------- scenario: seeds and the claim


def test_parse_seeds_ranges_lists_and_errors():
    from brainsim.scenarios.twelve_ax import parse_seeds

    assert parse_seeds("") == [] and parse_seeds("0-4") == [0, 1, 2, 3, 4]
    assert parse_seeds("0,2,5") == [0, 2, 5] and parse_seeds(3) == [3] and parse_seeds([1, 2]) == [1, 2]
    assert parse_seeds("0-1,7") == [0, 1, 7]
    for bad in ("a-b", "4-2", "1,1", True):
        with pytest.raises(ScenarioError, match="seeds"):
            parse_seeds(bad)


def _model(epochs, err=0.01):
    return {"epochs_to_criterion": epochs, "test_error_rate": err, "always_L_error_rate": 0.1}


@pytest.mark.parametrize("pairs, passed", [
    ([(1000, 2000)] * 3 + [(3000, 2000)] * 2, True),    # PBWM first in 3 of 5
    ([(1000, 2000)] * 2 + [(3000, 2000)] * 3, False),   # only 2 of 5
    ([(1000, 2000)] * 4 + [(1000, None)], False),       # a model never reached the criterion
    ([(1000, 2000)], True), ([(2500, 2000)], False),    # one seed: PBWM must be first
])
def test_full_criterion_needs_pbwm_faster_in_three_of_five_seeds(pairs, passed):
    from types import SimpleNamespace

    from brainsim.scenarios.twelve_ax import SCENARIO

    runs = [{"pbwm": _model(a), "lstm_baseline": _model(b)} for a, b in pairs]
    res = SCENARIO.judge(SimpleNamespace(quick=False), runs, {})
    assert res.passed is passed and "fewer epochs" in res.criterion
    assert res.metrics["claim"]["needed"] == (3 if len(pairs) == 5 else 1)
    quick = SCENARIO.judge(SimpleNamespace(quick=True), [{"pbwm": _model(None, 0.04), "lstm_baseline": _model(None, 0.06)}], {})
    assert quick.passed is False  # 0.06 >= half of always-L's 0.1
