"""Write your own scenario: an Elman network remembers its input for one step.

Run it:  brainsim run examples/own_scenario.py --quick     (tests/examples/test_examples.py does)

Published anchor: Elman (1990) "Finding structure in time", Cognitive Science 14:179-211 — a simple
recurrent network learns to use its context units as a memory of the previous input.
Setup: ``own_scenario.yaml`` (rnn 8 -> readout, ``credit: global``, Adam), next to this file: a wiring
path in a scenario resolves relative to the scenario's file.  Task: a random +-1 sequence, target = the
previous input.  Criterion: test mean squared error below 0.25 (chance, answering 0: 1.0).  Quick mode:
fewer updates, the same criterion.
"""

from __future__ import annotations

import jax
import numpy as np

from brainsim.scenario import Result, RunContext, Scenario


class OneStepRecall(Scenario):
    name = "one_step_recall"
    description = "an Elman network recalls its input one step later (write-your-own example)"
    anchor = "Elman (1990) Cognitive Science 14:179-211"
    wirings = ("own_scenario.yaml",)                 # relative to this file
    defaults = {"updates": 300, "batch": 16, "steps": 20}
    quick = {"updates": 120}                          # --quick: these replace the defaults
    option_docs = {"updates": "training steps", "batch": "sequences per update", "steps": "time steps per sequence"}

    def batch(self, rng: np.random.Generator, n: int) -> dict:
        x = rng.choice([-1.0, 1.0], size=(self.T, n, 1)).astype(np.float32)
        target = np.concatenate([np.zeros_like(x[:1]), x[:-1]])  # the previous input
        return {"x": x, "target": target}

    def run(self, ctx: RunContext) -> Result:
        o = ctx.options                                    # defaults, quick values and --set, resolved
        self.T = o["steps"]
        brain = ctx.load_brain("own_scenario.yaml")        # with the run's --set overrides applied
        params, _ = brain.init(jax.random.fold_in(ctx.key, 1), batch=o["batch"])
        train = ctx.rng(1)                                 # independent, reproducible numpy streams
        res = ctx.fit(brain, params, brain.init_opt_state(params), lambda step: self.batch(train, o["batch"]),
                      o["updates"], jax.random.fold_in(ctx.key, 2), label="elman", rngs={"train": train})
        ctx.compile_seconds += res.compile_seconds         # checkpointed, resumable, NaN-guarded training
        test = self.batch(ctx.rng(2), 64)
        _, trace = brain.run(res.params, brain.init_state(64), test, jax.random.fold_in(ctx.key, 3))
        mse = float(np.mean((np.asarray(trace["recall"])[1:] - test["target"][1:]) ** 2))
        ctx.save_flow(brain, res.params, {k: v[:, :1] for k, v in test.items()}, "own_scenario.yaml")
        return Result(mse < 0.25, "test MSE of the recalled input < 0.25 (chance 1.0)", {"test_mse": mse})


SCENARIO = OneStepRecall()
