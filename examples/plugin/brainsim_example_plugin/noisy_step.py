"""noisy_step — an example plugin scenario: a leaky integrator denoises a step signal.

Published anchor: low-pass filtering white noise — an exponential moving average with time
constant tau keeps a fraction 1 / (2 tau - 1) of the noise variance in steady state (Brown 1956,
"Exponential smoothing for predicting demand"; any signal-processing text).

Setup: ``noisy_step.yaml`` (leaky_integrator tau 6 -> linear read-out trained with the Huber cost),
task ``noisy_step`` (constant levels in white noise, std 0.5).  Criterion: on fresh episodes the
read-out's mean squared error over the second half of each episode is below half the raw input's
(the theory predicts about 1/11 of it plus a transient).  Quick: the same with fewer updates.
"""

from __future__ import annotations

import jax
import numpy as np

from brainsim.scenario import Result, RunContext, Scenario
from brainsim.tasks import get_task

WIRING = "noisy_step.yaml"  # a wiring path in a scenario resolves relative to the scenario's file


class NoisyStepScenario(Scenario):
    name = "noisy_step"
    description = "a plugin's leaky integrator denoises a step signal (example plugin scenario)"
    anchor = "exponential smoothing keeps 1/(2 tau - 1) of white-noise variance (Brown 1956)"
    wirings = (WIRING,)
    defaults = {"updates": 150, "batch": 16}
    quick = {"updates": 40}
    option_docs = {"updates": "training steps", "batch": "episodes per step"}

    def run(self, ctx: RunContext) -> Result:
        task = get_task("noisy_step")
        brain = ctx.load_brain(WIRING)
        params, _ = brain.init(jax.random.fold_in(ctx.key, 1), batch=ctx.options["batch"])
        rng = ctx.rng(1)

        def batch(_step):
            b = task.sample(rng, ctx.options["batch"])
            return {"stimulus": b.inputs, "target": b.targets}

        res = ctx.fit(brain, params, brain.init_opt_state(params), batch, ctx.options["updates"],
                      jax.random.fold_in(ctx.key, 2), label="noisy_step", log_every=10)
        ctx.compile_seconds += res.compile_seconds
        test = task.sample(ctx.rng(2), 32)
        _, trace = brain.run(res.params, brain.init_state(32), {"stimulus": test.inputs, "target": test.targets},
                             jax.random.fold_in(ctx.key, 3))
        half = test.inputs.shape[0] // 2
        mse = float(np.mean((np.asarray(trace["estimate"])[half:] - test.targets[half:]) ** 2))
        raw = float(np.mean((test.inputs[half:] - test.targets[half:]) ** 2))
        ctx.save_flow(brain, res.params, {"stimulus": test.inputs[:, :1], "target": test.targets[:, :1]}, WIRING)
        return Result(mse < 0.5 * raw, "read-out MSE < half the raw input's (second half of each episode)",
                      {"mse": mse, "raw_input_mse": raw, "ratio": mse / raw})


SCENARIO = NoisyStepScenario()
