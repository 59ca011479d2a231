"""The benchmark twins compute brainsim's pbwm train step: same losses, step for step.

brainsim's ``train_step`` and the hand-written twins (plain JAX; PyTorch eager) start from
brainsim's initial params and take 5 Adam steps on the same fixed 12-AX-like batch; the
losses agree to 1e-5 (JAX) and 1e-4 (PyTorch, float32) relative, and so do the params.
No timing is asserted anywhere.
"""

from __future__ import annotations

import sys
from pathlib import Path

import jax
import numpy as np
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import brainsim  # noqa: E402
from benchmarks.twins import hand_jax  # noqa: E402

B, T, STEPS = 4, 20, 5


@pytest.fixture(scope="module")
def reference():
    """brainsim's losses over STEPS train steps, its initial and final params, and the batch."""
    brain = brainsim.load(str(ROOT / "wiring" / "pbwm.yaml"))
    key = jax.random.key(0)
    params, state = brain.init(key, batch=B)
    opt = brain.init_opt_state(params)
    batch = hand_jax.twelve_ax_like_batch(B, T, seed=3)
    p, losses = params, []
    for i in range(STEPS):
        p, opt, _, m = brain.train_step(p, opt, brain.init_state(B), batch, jax.random.fold_in(key, i), i)
        losses.append(float(m["loss"]))
    return {"brain": brain, "init": params, "final": p, "losses": np.array(losses), "batch": batch}


def test_twin_constants_are_pbwm_yaml_settings():
    w = yaml.safe_load((ROOT / "wiring" / "pbwm.yaml").read_text())
    areas = w["areas"]
    assert w["optimizer"] == {"adam": {"learning_rate": hand_jax.LEARNING_RATE}}
    assert all("optimizer" not in a and "rule" not in a and "replicas" not in a for a in areas.values())
    assert areas["thalamus"]["costs"] == {"prediction": hand_jax.W_PREDICTION}
    assert areas["cortex"]["costs"] == {"reconstruction": hand_jax.W_RECONSTRUCTION}
    assert areas["motor"]["costs"]["supervised"]["weight"] == hand_jax.W_SUPERVISED
    assert "costs" not in areas["bg"] and "costs" not in areas["pfc"]
    assert areas["thalamus"]["tau"] == hand_jax.TAU_THALAMUS and areas["thalamus"].get("cell", "rnn") == "rnn"
    assert areas["bg"]["selection"] == "stripes" and areas["bg"].get("temperature", 1.0) == hand_jax.TEMPERATURE
    # nothing random to reproduce: no exploration, no noise
    assert areas["bg"]["explore"] is False
    assert areas["cortex"].get("noise", 0.0) == 0.0 and areas["pfc"].get("noise", 0.0) == 0.0


def test_converter_reads_every_learned_leaf_but_the_critic(reference):
    leaves = {jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_flatten_with_path(reference["init"])[0]}
    read = {jax.tree_util.keystr(tuple(jax.tree_util.DictKey(k) for k in path))
            for path in hand_jax.PARAM_PATHS.values()}
    assert leaves - read == {"['areas']['bg']['critic']['kernel']"}  # gets no gradient in pbwm (no td cost)


def test_hand_jax_twin_gives_brainsims_losses_over_five_adam_steps(reference):
    p = hand_jax.from_brainsim(reference["init"])
    opt = hand_jax.init_opt_state(p)
    step = hand_jax.make_train_step()
    losses = []
    for _ in range(STEPS):
        p, opt, loss = step(p, opt, reference["batch"])
        losses.append(float(loss))
    np.testing.assert_allclose(losses, reference["losses"], rtol=1e-5)
    assert len(set(losses)) == STEPS  # the params moved
    final = hand_jax.from_brainsim(reference["final"])
    for name in final:
        np.testing.assert_allclose(np.asarray(p[name]), np.asarray(final[name]), rtol=1e-4, atol=1e-6,
                                   err_msg=name)
    critic = np.asarray(reference["final"]["areas"]["bg"]["critic"]["kernel"])
    np.testing.assert_array_equal(critic, np.asarray(reference["init"]["areas"]["bg"]["critic"]["kernel"]))


def test_torch_eager_twin_gives_brainsims_losses_over_five_adam_steps(reference):
    pytest.importorskip("torch")
    from benchmarks.twins.torch_eager import TorchTwin

    twin = TorchTwin(reference["init"], reference["batch"])
    losses = [twin.step() for _ in range(STEPS)]
    np.testing.assert_allclose(losses, reference["losses"], rtol=1e-4)
    final = hand_jax.from_brainsim(reference["final"])
    got = twin.numpy_params()
    for name in final:
        np.testing.assert_allclose(got[name], np.asarray(final[name]), rtol=1e-3, atol=1e-5, err_msg=name)
