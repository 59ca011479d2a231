"""The 20 cognitive tasks of Yang et al. (2019), trained through the NeuroGym client.

Published anchor: Yang, Joglekar, Song, Newsome & Wang (2019), Nature
Neuroscience 22:297-306: one recurrent network learns 20 interleaved cognitive
tasks (go, anti, delayed, decision-making, context, match tasks); NeuroGym's
``yang19`` collection reimplements them.  A plain RNN trained in this setting
(dt 100, dim_ring 2, task-id input) reached mean performance 0.931 and worst
task 0.69 (the issue's reference run); without protection, training tasks one
after another forgets the earlier ones (catastrophic forgetting; Yang et al.'s
figure 7 and continual-learning work).

Setup: task ``neurogym`` with the 20 ``yang19.*-v0`` envs (``dt=100``,
``dim_ring=2``), one trial per batch element padded to the longest trial,
the task id as a one-hot input (input 5 + 20 = 25), targets fixate / choice 1 /
choice 2 (cross-entropy on every step).  The modular brain
``wiring/yang19_modular.yaml`` (thalamic GRU relay, basal-ganglia-gated PFC
working memory, read-out) vs ``wiring/yang19_rnn.yaml`` (one tanh RNN) sized to
the same parameter count, trained on all tasks interleaved (batch 64, Adam).
Performance (NeuroGym's measure): the argmax at a trial's last step equals
the ground truth; 64 fresh trials per task.

Pass criterion (full): after <= 2,000 batches of 64 the modular brain's mean
performance >= 0.90 and its worst task >= 0.65; and sequential training (the
modular brain, ``sequential_batches`` per task, no protection) leaves the
earliest tasks at <= 0.6 mean (forgetting visible).
Quick: 2 tasks (go, dm1), 120 batches of 32, modular brain only: mean
performance >= 0.6 (chance 0.5 for the two choices; learning is under way).
Figure: ``figures/per_task.png``, per-task performance of both models.
"""

from __future__ import annotations

import jax
import numpy as np

from brainsim.scenario import Result, RunContext, Scenario
from brainsim.scenarios.twelve_ax import _param_count
from brainsim.tasks.neurogym import NeuroGymTask, performance_by_task

MODULAR, RNN = "yang19_modular", "yang19_rnn"
YANG19 = ("go", "rtgo", "dlygo", "anti", "rtanti", "dlyanti", "dm1", "dm2", "ctxdm1", "ctxdm2", "multidm",
          "dlydm1", "dlydm2", "ctxdlydm1", "ctxdlydm2", "multidlydm", "dms", "dnms", "dmc", "dnmc")


def _inputs(b) -> dict:
    return {"stimulus": b.inputs, "target": b.targets, "mask": b.mask}


class Yang19Multitask(Scenario):
    name = "yang19_multitask"
    description = "20 NeuroGym yang19 tasks interleaved: modular brain vs a parameter-matched RNN; forgetting"
    anchor = "Yang et al. (2019) Nature Neuroscience 22:297-306 (plain RNN here: mean 0.931, worst 0.69)"
    wirings = (MODULAR, RNN)
    defaults = {"tasks": ",".join(YANG19), "batches": 2000, "batch": 64, "eval_trials": 64, "log_every": 50,
                "models": "both", "sequential": True, "sequential_batches": 100, "mean_min": 0.9,
                "worst_min": 0.65, "forgotten_max": 0.6, "match_params": True}
    option_docs = {"tasks": "comma-separated yang19 task names", "batches": "training batches (interleaved tasks)",
                   "batch": "trials per batch", "eval_trials": "fresh trials per task for the performance",
                   "log_every": "log metrics every this many batches", "models": "both, or modular only",
                   "sequential": "also train the modular brain task after task (forgetting)",
                   "sequential_batches": "batches per task in sequential training",
                   "mean_min": "pass: modular mean performance >= this", "worst_min": "pass: modular worst task >= this",
                   "forgotten_max": "pass: after sequential training, first-half tasks' mean <= this",
                   "match_params": "size the RNN to the modular brain's parameter count"}
    quick = {"tasks": "go,dm1", "batches": 120, "batch": 32, "eval_trials": 32, "models": "modular",
             "sequential": False, "mean_min": 0.6, "worst_min": 0.0}

    def make_task(self, ctx: RunContext) -> NeuroGymTask:
        names = [t.strip() for t in str(ctx.options["tasks"]).split(",") if t.strip()]
        env = [f"yang19.{t}-v0" for t in names]
        # the wiring's stimulus width is fixed: always append the 20-task id one-hot slots
        task = NeuroGymTask(env, env_kwargs={"dt": 100, "dim_ring": 2}, seq_len="max", task_input=True,
                            stats_trials=100, seed=ctx.seed, task_slots=len(YANG19))
        task.names = names
        return task

    def evaluate(self, brain, params, task, rng, key, B) -> dict:
        """Performance per task on ``B`` fresh trials each."""
        state, out = brain.init_state(B), {}
        for i, name in enumerate(task.names):
            b = task.sample(rng, B, task=i)
            _, _, trace = brain.evaluate(params, state, _inputs(b), jax.random.fold_in(key, i))
            out.update(performance_by_task(np.asarray(trace["response"]), b, task.names))
        return out

    def train(self, ctx, wiring, task, batches, label, rng, task_index=None, params=None, opt_state=None):
        o = ctx.options
        brain = ctx.load_brain(wiring)
        if params is None:
            params, _ = brain.init(jax.random.fold_in(ctx.key, 1), batch=o["batch"])
            opt_state = brain.init_opt_state(params)
        res = ctx.fit(brain, params, opt_state, lambda s: _inputs(task.sample(rng, o["batch"], task=task_index)),
                      batches, jax.random.fold_in(ctx.key, 2), log_every=o["log_every"], rngs={"train": rng},
                      label=label, desc=label)
        ctx.compile_seconds += res.compile_seconds
        return brain, res

    def match_baseline(self, ctx: RunContext) -> None:
        if any(k == "areas.rnn.hidden" for _, k in ctx.overrides):
            return
        target, best = _param_count(ctx.load_brain(MODULAR)), None
        for h in range(8, 257, 2):
            ctx.overrides[(RNN, "areas.rnn.hidden")] = h
            n = _param_count(ctx.load_brain(RNN))
            if best is None or abs(n - target) < best[1]:
                best = (h, abs(n - target))
            if n > target:
                break
        ctx.overrides[(RNN, "areas.rnn.hidden")] = best[0]
        ctx.log(f"{RNN} sized to {best[0]} units to match {MODULAR}'s {target} parameters")

    def run(self, ctx: RunContext) -> Result:
        o = ctx.options
        task = self.make_task(ctx)
        models = (MODULAR, RNN) if o["models"] == "both" else (MODULAR,)
        if o["match_params"] and RNN in models:
            self.match_baseline(ctx)
        per = {}
        for w in models:
            brain, res = self.train(ctx, w, task, o["batches"], w, ctx.rng(1))
            perf = self.evaluate(brain, res.params, task, ctx.rng(9), jax.random.fold_in(ctx.key, 9), o["eval_trials"])
            per[w] = {"per_task": perf, "mean": float(np.mean(list(perf.values()))),
                      "worst": float(min(perf.values())), "batches": res.steps,
                      "params": int(sum(brain.param_counts(res.params).values()))}
            ctx.log(f"{w}: mean performance {per[w]['mean']:.3f}, worst {per[w]['worst']:.3f}")
        metrics = {"models": per, "tasks": task.names, "seq_len": task.max_len,
                   "trial_length_stats": {n: s for n, s in zip(task.names, task.stats)}}
        checks = {"mean": per[MODULAR]["mean"] >= o["mean_min"], "worst": per[MODULAR]["worst"] >= o["worst_min"]}
        if o["sequential"]:
            metrics["sequential"] = self.sequential(ctx, task)
            checks["forgetting"] = metrics["sequential"]["early_mean"] <= o["forgotten_max"]
        metrics["checks"] = checks
        crit = (f"{MODULAR}: mean performance >= {o['mean_min']}, worst task >= {o['worst_min']} after "
                f"{o['batches']} batches of {o['batch']}")
        if o["sequential"]:
            crit += f"; sequential training leaves the first half of the tasks at <= {o['forgotten_max']}"
        return Result(all(checks.values()), ("quick: " if ctx.quick else "") + crit, metrics)

    def sequential(self, ctx: RunContext, task) -> dict:
        """Train the modular brain on one task after another; performance of every task at the end."""
        params = opt_state = None
        rng = ctx.rng(5)
        for i, name in enumerate(task.names):
            brain, res = self.train(ctx, MODULAR, task, ctx.options["sequential_batches"], f"sequential-{name}",
                                    rng, task_index=i, params=params, opt_state=opt_state)
            params, opt_state = res.params, res.opt_state
        perf = self.evaluate(brain, params, task, ctx.rng(10), jax.random.fold_in(ctx.key, 10),
                             ctx.options["eval_trials"])
        early = task.names[: max(1, len(task.names) // 2)]
        return {"per_task": perf, "early_mean": float(np.mean([perf[n] for n in early])), "early_tasks": early,
                "last_task": task.names[-1], "last_task_perf": perf[task.names[-1]]}

    def figures(self, ctx: RunContext, result: Result) -> None:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        names = result.metrics["tasks"]
        series = {w: r["per_task"] for w, r in result.metrics["models"].items()}
        if "sequential" in result.metrics:
            series["sequential (modular)"] = result.metrics["sequential"]["per_task"]
        fig, ax = plt.subplots(figsize=(max(5, 0.45 * len(names) + 2), 3.4))
        x, w = np.arange(len(names)), 0.8 / len(series)
        for j, (label, perf) in enumerate(series.items()):
            ax.bar(x + (j - (len(series) - 1) / 2) * w, [perf.get(n, np.nan) for n in names], w, label=label)
        ax.set_xticks(x, names, rotation=60, fontsize=8)
        ax.axhline(0.5, color="k", ls=":", lw=1)
        ax.set_ylabel("performance (last step)")
        ax.set_ylim(0, 1.05)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(ctx.figures / "per_task.png", dpi=120)
        plt.close(fig)


SCENARIO = Yang19Multitask()
