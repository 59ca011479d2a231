"""The finite-value guard (issue 5, point 3): a NaN/Inf stops the run, named by area, port/cost and step."""

from __future__ import annotations

import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from brainsim.brain import from_yaml
from brainsim.checkpoint import latest_arrays
from brainsim.cli import main
from brainsim.errors import NonFiniteError
from brainsim.train import check_finite, finite_order, fit, read_metrics

# A deliberately unstable config: plain SGD with a learning rate far too high for the read-out ('motor').
UNSTABLE = """\
name: unstable
inputs: {x: 3, y: 2}
areas:
  rnn: {type: rnn, hidden: 8}
  motor:
    type: readout
    size: 2
    optimizer: {sgd: {learning_rate: 20.0}}
    costs: {supervised: {weight: 1.0, target: y}}
connections:
  - x -> rnn.input
  - rnn.h -> motor.input
outputs: {response: motor.output}
"""

SCENARIO = '''\
from pathlib import Path

import jax
import numpy as np

from brainsim.scenario import Result, Scenario

WIRING = str(Path(__file__).with_name("unstable.yaml"))


class Unstable(Scenario):
    name = "unstable"
    wirings = (WIRING,)
    defaults = {"steps": 200}

    def run(self, ctx):
        brain = ctx.load_brain(WIRING)
        params, _ = brain.init(ctx.key)
        rng = ctx.rng(1)

        def batch(step):
            x = rng.normal(size=(12, 8, 3)).astype(np.float32)
            return {"x": x, "y": (np.cumsum(x[..., :2], axis=0) / 4).astype(np.float32)}

        res = ctx.fit(brain, params, brain.init_opt_state(params), batch, ctx.options["steps"],
                      jax.random.fold_in(ctx.key, 1), rngs={"train": rng}, log_every=1)
        return Result(True, "never reached", {"steps": res.steps})


SCENARIO = Unstable()
'''


def test_nan_stops_the_run_with_exit_3_naming_area_term_and_step(tmp_path, capsys):
    (tmp_path / "unstable.yaml").write_text(UNSTABLE)
    (tmp_path / "unstable.py").write_text(SCENARIO)
    out = tmp_path / "run"
    code = main(["run", str(tmp_path / "unstable.py"), "--out", str(out), "--checkpoint-every", "5", "--no-progress"])
    stdout, stderr = capsys.readouterr()
    assert code == 3, stderr
    assert "Traceback" not in stderr + stdout
    # e.g. "areas.motor.costs.supervised: error: non-finite value (NaN or Inf) at training step 19 of model
    #       'unstable': area 'motor', cost term 'supervised'"
    first = stderr.strip().splitlines()[0]
    assert first.startswith("areas.motor")
    assert "error: non-finite value (NaN or Inf) at training step " in first
    assert "area 'motor'" in first and "rnn" not in first
    assert "cost term 'supervised'" in first or "output port 'output'" in first
    step = int(first.split("at training step ")[1].split()[0])
    # metrics.jsonl logged every step up to and including the bad one, which shows the non-finite loss
    recs = read_metrics(out / "metrics.jsonl")
    assert [x["step"] for x in recs] == list(range(step + 1))
    assert recs[-1]["loss"] in ("nan", "inf") and all(np.isfinite(x["loss"]) for x in recs[:-1])
    # the last good checkpoint is kept: the one before the bad step, all finite, named in the hint
    last, arrays = latest_arrays(out, "unstable")
    assert last == 5 * (step // 5) and last <= step
    assert f"the last good checkpoint is kept in '{(out / 'checkpoints' / 'unstable' / str(last)).absolute()}'" \
        in stderr
    assert all(np.all(np.isfinite(a)) for k, a in arrays.items() if a.dtype.kind == "f")
    assert not (out / "summary.json").exists()


_BRAIN = []


def _brain():
    """The unstable brain, compiled once for the in-process tests (batch 8, 12 time steps)."""
    if not _BRAIN:
        _BRAIN.append(from_yaml(UNSTABLE))
    return _BRAIN[0]


def test_guard_is_off_with_no_check_finite():
    brain = _brain()
    params, _ = brain.init(jax.random.key(0))
    rng = np.random.default_rng(0)

    def batch(step):
        x = rng.normal(size=(12, 8, 3)).astype(np.float32)
        return {"x": x, "y": (np.cumsum(x[..., :2], axis=0) / 4).astype(np.float32)}

    res = fit(brain, params, brain.init_opt_state(params), batch, 40, jax.random.key(1), progress=False,
              check_finite_values=False, log_every=40)
    assert not np.isfinite(res.history[-1]["loss"])  # it went non-finite and nothing stopped it


ORDER = {"cortex": 0, "wm": 1, "motor": 2}


def _metrics(**over):
    m = {"finite:cortex.code": True, "finite:wm.read": True, "finite:motor.output": True,
         "cortex/sparsity": 0.1, "motor/supervised": 0.3, "loss": 0.4}
    m.update(over)
    return {k: jnp.asarray(v) for k, v in m.items()}


def test_all_finite_passes():
    check_finite(_metrics(), 3, order=ORDER)


def test_most_upstream_area_output_is_named_first_and_others_listed():
    m = _metrics(**{"finite:wm.read": False, "finite:motor.output": False, "motor/supervised": np.nan,
                    "loss": np.nan})
    with pytest.raises(NonFiniteError) as e:
        check_finite(m, 41, order=ORDER, label="pbwm", checkpoint="runs/x/checkpoints/pbwm/40")
    text = str(e.value)
    assert text.startswith("areas.wm: error: non-finite value (NaN or Inf) at training step 41 of model 'pbwm': "
                           "area 'wm', output port 'read'")
    assert "also non-finite: motor.output, motor/supervised, loss" in text
    assert "the last good checkpoint is kept in 'runs/x/checkpoints/pbwm/40'" in text


def test_a_cost_term_is_named_when_outputs_are_finite():
    with pytest.raises(NonFiniteError, match=r"^areas\.cortex\.costs\.sparsity: error: .* step 7: area 'cortex', "
                                             r"cost term 'sparsity'"):
        check_finite(_metrics(**{"cortex/sparsity": np.inf, "loss": np.inf}), 7, order=ORDER)


def test_finite_order_follows_the_schedule():
    assert finite_order(_brain()) == {"rnn": 0, "motor": 1}


def test_bench_reports_the_guard_overhead():
    from brainsim.bench import bench_brain

    res = bench_brain(_brain(), batch=8, time_steps=12, iters=3)  # 3 steps from the start: still finite
    assert isinstance(res["finite_check_overhead"], float) and res["finite_check_seconds"] > 0
    json.dumps(res)


def test_a_gradient_is_named_when_outputs_and_costs_are_finite():
    m = {"motor/supervised": jnp.asarray(0.3), "loss": jnp.asarray(0.3), "finite": jnp.asarray(False),
         "finite:cortex.code": jnp.asarray(True), "finite:grad:cortex": jnp.asarray(True),
         "finite:grad:motor": jnp.asarray(False)}
    with pytest.raises(NonFiniteError, match=r"^areas\.motor: error: .* step 5: area 'motor', the gradient"):
        check_finite(m, 5, order=ORDER)
