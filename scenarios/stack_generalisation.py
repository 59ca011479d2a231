"""stack_generalisation: train short, test long on context-free languages (the Chomsky-hierarchy protocol).

Setup: two languages, each learnt separately (``brainsim.tasks.structures_syntax``):
a^n b^n and Dyck-2 (balanced strings of two bracket types), fed one symbol per
step; after each symbol the brain predicts the set of allowed next symbols
(multi-hot over a, b / ( ) [ ] and END); a string counts as correct only if
every step's set is right.  Training strings have n = 1..``train_n_max`` (20);
test strings n = ``test_n_min``..``test_n_max`` (21..60), never seen.

Models: the stack brain ``wiring/pushdown.yaml`` (a feed-forward controller whose
only memory is a ``stack`` area with push/pop actions, and a read-out; after
Joulin & Mikolov 2015) and the LSTM baseline
``wiring/lstm_syntax.yaml`` sized to the same parameter count; both trained by
BPTT with Adam on the same batches.  Each model is trained from ``restarts``
initialisations and the one with the best accuracy on fresh strings of the
*training* lengths is kept (no test lengths are used for selection).  The
stack brain trains with soft actions and is tested with discrete ones
(``actions: hard``, argmax push/pop, as Joulin & Mikolov run it on long
strings); ``test_accuracy_trained`` reports it with its soft actions too.

Published anchor: Joulin & Mikolov (2015) NeurIPS; Delétang et al. (2023) ICLR
"Neural networks and the Chomsky hierarchy" (stack-augmented RNNs generalise on
context-free tasks, LSTMs do not); Suzgun et al. (2019) (Dyck-2 next-set protocol).

Pass criterion (full mode): for both languages the stack brain gets >= 90 % of
test strings (n = 21..60) fully correct and the LSTM < 50 %.
Quick mode: a^n b^n only, train n <= 6 for a few hundred steps, test n = 7..12;
passes when the stack brain gets >= 50 % of test strings fully correct.
"""

from __future__ import annotations

import jax
import numpy as np

from brainsim.scenario import Result, RunContext, Scenario
from brainsim.tasks.structures_syntax import ContextFree, strings_correct

STACK, LSTM = "pushdown", "lstm_syntax"


def _batch(b) -> dict:
    return {"symbol": b.inputs, "target": b.targets, "mask": b.mask}


def _param_count(brain) -> int:
    params = jax.eval_shape(lambda k: brain.init(k, batch=1)[0], jax.random.key(0))
    return int(sum(brain.param_counts(params).values()))


class StackGeneralisation(Scenario):
    name = "stack_generalisation"
    description = "a^n b^n and Dyck-2: stack brain vs parameter-matched LSTM, trained n <= 20, tested n = 21..60"
    anchor = "Joulin & Mikolov (2015) NeurIPS; Deletang et al. (2023) ICLR (Chomsky hierarchy)"
    wirings = (STACK, LSTM)
    defaults = {"languages": ["anbn", "dyck2"], "train_n_max": 20, "test_n_min": 21, "test_n_max": 60,
                "steps": 1200, "batch": 32, "restarts": 2, "val_strings": 128, "test_strings": 200,
                "depth": 64, "log_every": 50, "models": [STACK, LSTM]}
    option_docs = {"languages": "anbn and/or dyck2", "train_n_max": "longest training n", "test_n_min": "shortest test n",
                   "test_n_max": "longest test n", "steps": "training updates per model", "batch": "strings per update",
                   "restarts": "initialisations per model (best on training lengths kept)",
                   "val_strings": "strings for restart selection", "test_strings": "test strings per language",
                   "depth": "stack cells", "log_every": "metrics every this many steps", "models": "wirings trained"}
    quick = {"languages": ["anbn"], "train_n_max": 6, "test_n_min": 7, "test_n_max": 12, "steps": 400,
             "batch": 16, "restarts": 1, "val_strings": 16, "test_strings": 24, "depth": 16, "log_every": 100,
             "models": [STACK]}

    # ------------------------------------------------------------------ phases
    def configure(self, ctx: RunContext) -> None:
        """Stack depth from the options; the LSTM sized to the stack brain's parameter count."""
        ctx.overrides[(STACK, "areas.stack.depth")] = int(ctx.options["depth"])
        if LSTM not in ctx.options["models"] or any(k == "areas.lstm.hidden" for _, k in ctx.overrides):
            return
        target = _param_count(ctx.load_brain(STACK))
        best, gap = 1, None
        for h in range(1, 129):
            ctx.overrides[(LSTM, "areas.lstm.hidden")] = h
            g = abs(_param_count(ctx.load_brain(LSTM)) - target)
            if gap is None or g < gap:
                best, gap = h, g
        ctx.overrides[(LSTM, "areas.lstm.hidden")] = best
        ctx.log(f"{LSTM} sized to {best} units to match {STACK}'s {target} parameters")

    def accuracy(self, brain, params, task: ContextFree, ns, rng, key) -> float:
        """Fraction of strings (one per entry of ``ns``) predicted fully correctly."""
        b = task.batch_of(rng, ns)
        _, _, trace = brain.evaluate(params, brain.init_state(len(ns)), _batch(b), key)
        return float(np.mean(strings_correct(np.asarray(trace["response"]), b.targets, b.mask)))

    def train_one(self, ctx: RunContext, wiring: str, language: str, restart: int):
        o = ctx.options
        task = ContextFree(language, 1, int(o["train_n_max"]))
        brain = ctx.load_brain(wiring)
        key = jax.random.fold_in(jax.random.fold_in(ctx.key, restart), {"anbn": 0, "dyck2": 1}[language])
        params, _ = brain.init(jax.random.fold_in(key, 1), batch=int(o["batch"]))
        rng = ctx.rng(100 + restart)  # the same batches for every model with this restart index
        label = f"{wiring}-{language}-{restart}"
        res = ctx.fit(brain, params, brain.init_opt_state(params), lambda s: _batch(task.sample(rng, int(o["batch"]))),
                      int(o["steps"]), jax.random.fold_in(key, 2), log_every=int(o["log_every"]),
                      rngs={"train": rng}, label=label, desc=label)
        ctx.compile_seconds += res.compile_seconds
        val_ns = np.arange(int(o["val_strings"])) % int(o["train_n_max"]) + 1
        val = self.accuracy(brain, res.params, task, val_ns, ctx.rng(200 + restart), jax.random.fold_in(key, 3))
        return res.params, val, res.history[-1].get("loss") if res.history else None

    def evaluate_model(self, ctx: RunContext, wiring: str, language: str) -> dict:
        o = ctx.options
        runs = [self.train_one(ctx, wiring, language, r) for r in range(int(o["restarts"]))]
        vals = [v for _, v, _ in runs]
        best = int(np.argmax(vals))
        params = runs[best][0]
        test_task = ContextFree(language, int(o["test_n_min"]), int(o["test_n_max"]))
        span = int(o["test_n_max"]) - int(o["test_n_min"]) + 1
        ns = int(o["test_n_min"]) + np.arange(int(o["test_strings"])) % span
        key = jax.random.fold_in(ctx.key, 4)
        out = {"val_accuracy_per_restart": vals, "selected_restart": best, "params": _param_count(ctx.load_brain(wiring))}
        b = test_task.batch_of(ctx.rng(300), ns)
        variants = {"trained": ctx.load_brain(wiring)}
        if wiring == STACK:  # discrete push / pop on long strings (Joulin & Mikolov)
            ctx.overrides[(STACK, "areas.stack.actions")] = "hard"
            variants["hard"] = ctx.load_brain(wiring)
            del ctx.overrides[(STACK, "areas.stack.actions")]
        for name, brain in variants.items():
            _, _, trace = brain.evaluate(params, brain.init_state(len(ns)), _batch(b), key)
            ok = strings_correct(np.asarray(trace["response"]), b.targets, b.mask)
            out[f"test_accuracy_{name}"] = float(ok.mean())
            out[f"accuracy_by_n_{name}"] = {int(n): float(ok[ns == n].mean()) for n in np.unique(ns)}
        best = "hard" if wiring == STACK else "trained"
        out["test_accuracy"], out["accuracy_by_n"] = out[f"test_accuracy_{best}"], out[f"accuracy_by_n_{best}"]
        ctx.log(f"{wiring} on {language}: validation {vals}, test accuracy {out['test_accuracy']:.3f}")
        return out

    def run(self, ctx: RunContext) -> Result:
        o = ctx.options
        self.configure(ctx)
        per = {lang: {w: self.evaluate_model(ctx, w, lang) for w in o["models"]} for lang in o["languages"]}
        self._per = per
        metrics = {"languages": per, "train_n_max": o["train_n_max"],
                   "test_range": [o["test_n_min"], o["test_n_max"]]}
        if ctx.quick:
            passed = all(m[STACK]["test_accuracy"] >= 0.5 for m in per.values())
            crit = (f"quick: stack brain >= 50 % fully correct on n = {o['test_n_min']}..{o['test_n_max']} "
                    f"(trained n <= {o['train_n_max']})")
        else:
            passed = all(m[STACK]["test_accuracy"] >= 0.9 and m.get(LSTM, {}).get("test_accuracy", 0.0) < 0.5
                         for m in per.values())
            crit = "stack brain >= 90 % and LSTM < 50 % of test strings (n = 21..60) fully correct, both languages"
        return Result(bool(passed), crit, metrics)

    def figures(self, ctx: RunContext, result: Result) -> None:
        import matplotlib.pyplot as plt

        per = getattr(self, "_per", None)
        if not per:
            return
        fig, axes = plt.subplots(1, len(per), figsize=(5 * len(per), 3.6), squeeze=False)
        for ax, (lang, models) in zip(axes[0], per.items()):
            for w, m in models.items():
                acc = m["accuracy_by_n"]
                ax.plot(list(acc), list(acc.values()), "o-", ms=3, label=w)
            ax.set_title(f"{lang}: trained n <= {result.metrics['train_n_max']}")
            ax.set_xlabel("n (test)")
            ax.set_ylabel("strings fully correct")
            ax.set_ylim(-0.05, 1.05)
            ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(ctx.figures / "accuracy_vs_length.png", dpi=100)
        plt.close(fig)


SCENARIO = StackGeneralisation()
