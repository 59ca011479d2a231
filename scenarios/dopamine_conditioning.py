"""Dopamine as a reward-prediction error (Schultz, Dayan & Montague 1997).

Published anchor: Schultz, Dayan & Montague (1997), Science 275:1593-1599.
Midbrain dopamine neurons, after conditioning, fire at the reward-predicting
cue, not at the (now predicted) reward; they dip below baseline when a
predicted reward is omitted, and still fire for a reward that comes without a
cue.  TD learning with a tapped-delay-line stimulus representation reproduces
all four (the paper's model).

Setup: ``wiring/dopamine_td.yaml``: the basal-ganglia critic (ventral striatum,
V = w . context, semi-gradient TD(0), gamma 0.9) receives the cue as a complete
serial compound (task ``conditioning``: one unit per step since the cue, the
cue at an unpredictable step 1-4, reward 4 steps after it); its ``dopamine``
output is the TD error.  Training: paired cue-reward trials only (batch 16,
Adam).  Test, with the trained weights and the cue at step 3: dopamine at the
cue and at the reward on a paired trial, at the reward time when it is
omitted, and at a reward given without a cue.

Pass criterion (full): dopamine at the cue >= 0.5 (TD's value here is
gamma^K = 0.66), |dopamine at a predicted reward| <= 0.05, at an omitted
reward <= -0.5, at an unexpected reward >= 0.8; before training the paired
reward itself gives >= 0.8 (the signal moved from the reward to the cue).
Quick: 80 updates, thresholds 0.3, 0.15, -0.3, 0.5.

Figure: ``figures/dopamine.png``, the dopamine trace of the four cases (and
the naive paired trial).
"""

from __future__ import annotations

import jax
import numpy as np

from brainsim.scenario import Result, RunContext, Scenario
from brainsim.tasks import Conditioning

_WIRING = "dopamine_td"


def _inputs(batch, csc: int) -> dict:
    x = batch.inputs
    return {"stimulus": x[..., :csc], "reward": x[..., csc:]}


class DopamineConditioning(Scenario):
    name = "dopamine_conditioning"
    description = "dopamine = TD error: moves from reward to cue, dips at omission (Schultz et al. 1997)"
    anchor = "Schultz, Dayan & Montague (1997) Science 275:1593-1599"
    wirings = (_WIRING,)
    defaults = {"steps": 1000, "batch": 16, "onset": 3, "log_every": 50,
                "cue_min": 0.5, "predicted_max": 0.05, "omitted_max": -0.5, "unexpected_min": 0.8}
    option_docs = {"steps": "training updates", "batch": "paired trials per update", "onset": "cue step of the test trials",
                   "log_every": "log metrics every this many updates", "cue_min": "pass: dopamine at the cue >= this",
                   "predicted_max": "pass: |dopamine at the predicted reward| <= this",
                   "omitted_max": "pass: dopamine at the omitted reward <= this",
                   "unexpected_min": "pass: dopamine at an uncued reward (and the naive paired one) >= this"}
    quick = {"steps": 80, "cue_min": 0.3, "predicted_max": 0.15, "omitted_max": -0.3, "unexpected_min": 0.5}

    def dopamine(self, brain, params, probes, key, csc: int) -> np.ndarray:
        """Dopamine ``[T, 3]`` of the paired / omitted / unexpected probe trials."""
        _, _, trace = brain.evaluate(params, brain.init_state(3), _inputs(probes, csc), key)
        return np.asarray(trace["dopamine"])[..., 0]

    def run(self, ctx: RunContext) -> Result:
        o = ctx.options
        brain = ctx.load_brain(_WIRING)
        csc = int(dict(brain.spec.inputs)["stimulus"])  # the delay line's length (a --set can change it)
        task = Conditioning(csc=csc, delay=4, max_len=14, cue_onset=(1, 4), probe="paired")
        params, _ = brain.init(jax.random.fold_in(ctx.key, 1), batch=o["batch"])
        probes = task.probe_batch(int(o["onset"]))
        naive = self.dopamine(brain, params, probes, jax.random.fold_in(ctx.key, 3), csc)
        stream = task.stream(ctx.seed, o["batch"])  # trial i of the seed's stream: no host generator
        res = ctx.fit(brain, params, brain.init_opt_state(params), lambda s: _inputs(stream(s), csc), o["steps"],
                      jax.random.fold_in(ctx.key, 2), log_every=o["log_every"], label=_WIRING)
        ctx.compile_seconds += res.compile_seconds
        da = self.dopamine(brain, res.params, probes, jax.random.fold_in(ctx.key, 3), csc)
        on, rew = int(o["onset"]), int(o["onset"]) + task.delay
        m = {"cue": float(da[on, 0]), "predicted_reward": float(da[rew, 0]), "omitted_reward": float(da[rew, 1]),
             "unexpected_reward": float(da[rew, 2]), "naive_reward": float(naive[rew, 0]),
             "naive_cue": float(naive[on, 0]), "pre_cue_max_abs": float(np.abs(da[:on, 0]).max()),
             "updates": res.steps, "trace": {"paired": da[:, 0].tolist(), "omitted": da[:, 1].tolist(),
                                             "unexpected": da[:, 2].tolist(), "naive": naive[:, 0].tolist()}}
        ctx.log(f"dopamine: cue {m['cue']:.3f}, predicted reward {m['predicted_reward']:.3f}, omitted "
                f"{m['omitted_reward']:.3f}, unexpected {m['unexpected_reward']:.3f} (naive reward {m['naive_reward']:.3f})")
        checks = {"cue": m["cue"] >= o["cue_min"], "predicted": abs(m["predicted_reward"]) <= o["predicted_max"],
                  "omitted": m["omitted_reward"] <= o["omitted_max"],
                  "unexpected": m["unexpected_reward"] >= o["unexpected_min"],
                  "naive": m["naive_reward"] >= o["unexpected_min"]}
        m["checks"] = checks
        crit = (f"dopamine at cue >= {o['cue_min']}, |at predicted reward| <= {o['predicted_max']}, at omitted "
                f"reward <= {o['omitted_max']}, at unexpected reward >= {o['unexpected_min']} (and the naive "
                f"paired reward >= {o['unexpected_min']})")
        return Result(all(checks.values()), ("quick: " if ctx.quick else "") + crit, m)

    def figures(self, ctx: RunContext, result: Result) -> None:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        tr = result.metrics["trace"]
        on = int(ctx.options["onset"])
        fig, axes = plt.subplots(1, 4, figsize=(11, 2.6), sharey=True)
        cases = [("naive: cue + reward", tr["naive"], True, True), ("trained: cue + reward", tr["paired"], True, True),
                 ("trained: reward omitted", tr["omitted"], True, False),
                 ("trained: reward without cue", tr["unexpected"], False, True)]
        for ax, (title, y, cue, rew) in zip(axes, cases):
            ax.bar(np.arange(len(y)), y, color=["#C44E52" if v < 0 else "#4C72B0" for v in y])
            if cue:
                ax.axvline(on, color="k", ls=":", lw=1)
            if rew:
                ax.axvline(on + 4, color="g", ls="--", lw=1)
            ax.axhline(0, color="k", lw=0.5)
            ax.set_title(title, fontsize=9)
            ax.set_xlabel("step")
        axes[0].set_ylabel("dopamine (TD error)")
        fig.tight_layout()
        fig.savefig(ctx.figures / "dopamine.png", dpi=120)
        plt.close(fig)


SCENARIO = DopamineConditioning()
