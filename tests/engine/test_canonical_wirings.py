"""Every wiring in wiring/ validates (built and initialised); the engine's own canonical wirings also
train for a few steps here (finite costs and gradients, one compilation).  The wirings a scenario
brings with it are trained by that scenario's quick-mode test (tests/rules, tests/memory,
tests/tasks, tests/structures), so they are not compiled a second time here."""

from pathlib import Path

import jax
import numpy as np
import pytest

from brainsim.bench import random_batch
from brainsim.brain import load
from brainsim.cli import main

WIRINGS = sorted((Path(__file__).resolve().parents[2] / "wiring").glob("*.yaml"))
CORE = {"pbwm", "cls", "motor", "full_brain", "lstm_baseline"}  # trained here; the rest by their scenarios


def test_the_canonical_wirings_exist():
    names = {p.stem for p in WIRINGS}
    assert {"pbwm", "cls", "motor", "full_brain", "lstm_baseline"} <= names


@pytest.mark.parametrize("path", WIRINGS, ids=lambda p: p.stem)
def test_wiring_validates(path, capsys):
    assert main(["validate", str(path)]) == 0
    assert "OK" in capsys.readouterr().out


@pytest.mark.parametrize("path", [p for p in WIRINGS if p.stem in CORE], ids=lambda p: p.stem)
def test_wiring_trains_a_few_steps(path):
    brain = load(path)
    params, state = brain.init(jax.random.key(0), batch=2)
    opt = brain.init_opt_state(params)
    batch = random_batch(brain, 2, 6, jax.random.key(1))
    losses = []
    for i in range(3):
        new_params, opt, _, m = brain.train_step(params, opt, state, batch, jax.random.key(i), i)
        losses.append(float(m["loss"]))
        assert bool(m["finite"]), path.stem
        diag = brain.diagnose(params, state, batch, jax.random.key(i), i)  # every output and gradient finite
        assert all(bool(v) for k, v in diag.items() if k.startswith("finite:")) and len(diag) > len(m), path.stem
        moved = any(not np.array_equal(np.asarray(a), np.asarray(b))
                    for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(new_params)))
        params = new_params
    assert np.all(np.isfinite(losses))
    assert moved, f"{path.stem}: no parameter changed"
    assert brain.trace_count == 1
