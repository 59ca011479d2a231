"""attention_search: visual search for a cued digit among distractors, with and without attention.

Setup (``brainsim.tasks.structures_search``): a grid of ``n_slots`` cells, each
an 8x8 digit (scikit-learn's bundled digits) painted in one of 3 colours; the
cue names the target's colour; the brain must name the target's digit.  Test
scenes are built from 500 held-out digit images.

Models: ``wiring/attention_search.yaml`` (an ``attention`` area whose query is
the cue, object-based mode, over the cells; the attended cell goes to an MLP
read-out) and ``wiring/search_baseline.yaml`` (the same MLP read-out over all
cells and the cue: no attention).  Both are trained online on fresh scenes
(``batch`` per step, Adam) and evaluated on ``test_scenes`` fixed test scenes
every ``eval_every`` steps; "samples to criterion" counts the training scenes
seen when test accuracy first reaches ``target_accuracy`` (0.9).

Published anchor: Treisman & Gelade (1980) Cogn Psychol 12:97-136 (conjunction
search needs attention to bind colour to shape); attention as a learned
query-key selection: Bahdanau et al. (2015), Vaswani et al. (2017); the gain
map as the thalamic / pulvinar attention signal (Saalmann & Kastner 2011).

Pass criterion (full mode): the attention brain reaches 90 % test accuracy in
fewer training samples than the baseline (``metrics.sample_ratio`` =
attention / baseline < 1; a baseline that never gets there counts as
``max_steps * batch`` samples, so the ratio is then an upper bound), and its
attention map's largest gain is on the target cell in >= 90 % of test trials.
Quick mode: 3 cells, at most 300 steps: the attention brain reaches 80 % test
accuracy and its map points to the target in >= 90 % of trials.
"""

from __future__ import annotations

import jax
import numpy as np

from brainsim.scenario import Result, RunContext, Scenario
from brainsim.tasks.structures_search import VisualSearch

ATT, BASE = "attention_search", "search_baseline"


def _batch(b) -> dict:
    return {"slots": b.inputs, "cue": b.info["cue"], "target": b.targets, "mask": b.mask}


class AttentionSearch(Scenario):
    name = "attention_search"
    description = "find the cued-colour digit among distractors: attention brain vs MLP without attention"
    anchor = "Treisman & Gelade (1980) Cogn Psychol 12:97-136; Bahdanau et al. (2015) ICLR"
    wirings = (ATT, BASE)
    defaults = {"n_slots": 9, "n_colours": 3, "batch": 32, "max_steps": 6000, "eval_every": 50,
                "test_scenes": 500, "target_accuracy": 0.9, "map_criterion": 0.9, "models": [ATT, BASE]}
    option_docs = {"n_slots": "grid cells", "n_colours": "colours", "batch": "scenes per update",
                   "max_steps": "most training updates", "eval_every": "test every this many updates",
                   "test_scenes": "fixed test scenes", "target_accuracy": "test accuracy to reach",
                   "map_criterion": "fraction of trials whose largest gain is on the target", "models": "wirings trained"}
    quick = {"n_slots": 3, "max_steps": 300, "eval_every": 25, "test_scenes": 200, "target_accuracy": 0.8,
             "models": [ATT]}

    def configure(self, ctx: RunContext) -> None:
        o = ctx.options
        dim = int(o["n_slots"]) * (64 + int(o["n_colours"]))
        for w in (ATT, BASE):
            ctx.overrides[(w, "inputs.slots")] = dim
            ctx.overrides[(w, "inputs.cue")] = int(o["n_colours"])
        ctx.overrides[(ATT, "areas.attention.n_slots")] = int(o["n_slots"])
        ctx.overrides[(ATT, "areas.attention.slot_dim")] = 64 + int(o["n_colours"])

    def train_one(self, ctx: RunContext, wiring: str, test) -> dict:
        o = ctx.options
        task = VisualSearch(int(o["n_slots"]), int(o["n_colours"]), "train")
        brain = ctx.load_brain(wiring)
        key = ctx.key
        params, _ = brain.init(jax.random.fold_in(key, 1))
        rng = ctx.rng(1)  # the same training scenes for both models
        test_state = brain.init_state(test.inputs.shape[1])
        reached: dict = {}
        curve: list = []

        def check(step, metrics, params):
            if (step + 1) % int(o["eval_every"]):
                return None
            _, _, trace = brain.evaluate(params, test_state, _batch(test), jax.random.fold_in(key, 3))
            acc = float(np.mean(np.asarray(trace["response"])[0].argmax(-1) == test.info["label"]))
            curve.append(((step + 1) * int(o["batch"]), acc))
            if acc >= float(o["target_accuracy"]) and "samples" not in reached:
                reached["samples"] = (step + 1) * int(o["batch"])
                return {"stop": True, "test_accuracy": acc}
            return {"test_accuracy": acc}

        res = ctx.fit(brain, params, brain.init_opt_state(params), lambda s: _batch(task.sample(rng, int(o["batch"]))),
                      int(o["max_steps"]), jax.random.fold_in(key, 2), log_every=int(o["eval_every"]),
                      callback=check, callback_state=reached, rngs={"train": rng}, label=wiring, desc=wiring)
        ctx.compile_seconds += res.compile_seconds
        _, _, trace = brain.evaluate(res.params, test_state, _batch(test), jax.random.fold_in(key, 4))
        out = {"samples_to_criterion": reached.get("samples"), "samples_seen": res.steps * int(o["batch"]),
               "test_accuracy": float(np.mean(np.asarray(trace["response"])[0].argmax(-1) == test.info["label"])),
               "params": int(sum(brain.param_counts(res.params).values())), "curve": curve}
        if "attention.gains" in trace:
            gains = np.asarray(trace["attention.gains"])[0]
            out["map_on_target"] = float(np.mean(gains.argmax(-1) == test.info["target_slot"]))
            out["mean_gain_on_target"] = float(np.mean(gains[np.arange(len(gains)), test.info["target_slot"]]))
            self._example = (test.inputs[0, :4], gains[:4], test.info["target_slot"][:4])
        ctx.log(f"{wiring}: samples to {o['target_accuracy']:.0%}: {out['samples_to_criterion']}, "
                f"test accuracy {out['test_accuracy']:.3f}" +
                (f", map on target {out['map_on_target']:.3f}" if "map_on_target" in out else ""))
        return out

    def run(self, ctx: RunContext) -> Result:
        o = ctx.options
        self.configure(ctx)
        test = VisualSearch(int(o["n_slots"]), int(o["n_colours"]), "test").sample(ctx.rng(2), int(o["test_scenes"]))
        per = {w: self.train_one(ctx, w, test) for w in o["models"]}
        self._per = per
        metrics = {"models": per, "n_slots": o["n_slots"]}
        att = per[ATT]
        map_ok = att.get("map_on_target", 0.0) >= float(o["map_criterion"])
        if ctx.quick:
            passed = att["samples_to_criterion"] is not None and map_ok
            crit = f"quick: attention brain reaches {o['target_accuracy']:.0%} test accuracy; map on target >= 90 %"
        else:
            cap = int(o["max_steps"]) * int(o["batch"])
            a = att["samples_to_criterion"]
            b = per[BASE]["samples_to_criterion"]
            ratio = (a if a is not None else cap) / (b if b is not None else cap)
            metrics.update(sample_ratio=ratio, ratio_is_upper_bound=b is None)
            passed = a is not None and ratio < 1.0 and map_ok
            crit = ("attention reaches 90 % test accuracy in fewer samples than the no-attention baseline; "
                    "attention map on the target in >= 90 % of trials")
        return Result(bool(passed), crit, metrics)

    def figures(self, ctx: RunContext, result: Result) -> None:
        import matplotlib.pyplot as plt

        per = getattr(self, "_per", None)
        if not per:
            return
        fig, ax = plt.subplots(figsize=(5, 3.6))
        for w, m in per.items():
            if m["curve"]:
                x, y = zip(*m["curve"])
                ax.plot(x, y, "-", label=w)
        ax.axhline(ctx.options["target_accuracy"], color="grey", ls=":")
        ax.set_xlabel("training scenes")
        ax.set_ylabel("test accuracy")
        ax.legend()
        fig.tight_layout()
        fig.savefig(ctx.figures / "learning_curves.png", dpi=100)
        plt.close(fig)
        ex = getattr(self, "_example", None)
        if ex is not None:
            cells, gains, tslot = ex
            n, S = len(gains), gains.shape[-1]
            fig, axes = plt.subplots(n, S, figsize=(1.3 * S, 1.4 * n), squeeze=False)
            for i in range(n):
                c = cells[i].reshape(S, -1)
                for j in range(S):
                    axes[i, j].imshow(c[j, :64].reshape(8, 8), cmap="gray_r")
                    axes[i, j].set_title(f"{gains[i, j]:.2f}" + (" *" if j == tslot[i] else ""), fontsize=7)
                    axes[i, j].axis("off")
            fig.suptitle("attention gains per cell (* = target)", fontsize=8)
            fig.tight_layout()
            fig.savefig(ctx.figures / "attention_maps.png", dpi=100)
            plt.close(fig)


SCENARIO = AttentionSearch()
