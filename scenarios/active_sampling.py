"""active_sampling: pool-based active learning -- the brain picks the example it is least sure of.

Setup: scikit-learn's bundled digits (1,797 8x8 images, scaled to [0, 1]),
split per seed into a test set (``test`` images) and a pool (the rest).  The
learner is the wiring ``active_sampling`` (a softmax read-out, trained through
the engine's ``train_step``: ``steps_per_round`` Adam updates per round on
batches drawn from the labelled set, warm-started).  It starts with ``start``
labelled examples (random); each round it labels ``query`` more from the pool,
picked either by **uncertainty sampling** from the brain's own predictive
output on the pool (``strategy``: ``margin`` = smallest gap between the two most
probable classes, ``least_confidence`` = smallest top probability, ``entropy``)
or at **random**.  Both strategies see the same seeds, start sets and test sets.
Samples to target: the labelled-set size at which test accuracy first reaches
``target_accuracy``; ratio = uncertainty / random per seed; median over seeds.

Published anchor: Lewis & Gale (1994) SIGIR (uncertainty sampling reaches a
classifier's accuracy with far fewer labels than random sampling); Settles
(2009) Active Learning Literature Survey (least confidence, margin, entropy).

Pass criterion (full mode): median ratio (uncertainty / random labels to reach
``target_accuracy``) <= 0.7 over ``seeds``.  A strategy that never reaches the
target counts as the largest labelled-set size tried (the ratio is then a bound).
Quick mode: 2 seeds, target 0.85: median ratio <= 0.85.
"""

from __future__ import annotations

import jax
import numpy as np

from brainsim.errors import ScenarioError
from brainsim.scenario import Result, RunContext, Scenario

WIRING = "active_sampling"
STRATEGIES = ("margin", "least_confidence", "entropy")


def uncertainty(logits: np.ndarray, strategy: str) -> np.ndarray:
    """``[N]`` uncertainty of each example from logits ``[N, C]`` (larger = less sure)."""
    z = logits - logits.max(-1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(-1, keepdims=True)
    if strategy == "least_confidence":
        return 1.0 - p.max(-1)
    if strategy == "margin":
        top = np.sort(p, -1)
        return -(top[:, -1] - top[:, -2])
    return -(p * np.log(p + 1e-12)).sum(-1)


def _digits():
    from sklearn.datasets import load_digits

    d = load_digits()
    return (d.data / 16.0).astype(np.float32), d.target.astype(int)


class ActiveSampling(Scenario):
    name = "active_sampling"
    description = "uncertainty sampling from the brain's own output vs random labelling on digits"
    anchor = "Lewis & Gale (1994) SIGIR; Settles (2009) Active Learning Literature Survey"
    wirings = (WIRING,)
    defaults = {"seeds": [0, 1, 2, 3, 4], "test": 500, "start": 20, "query": 10, "rounds": 40,
                "steps_per_round": 30, "batch": 64, "target_accuracy": 0.9, "strategy": "margin",
                "criterion": 0.7}
    option_docs = {"seeds": "seeds (median ratio over them)", "test": "held-out test images",
                   "start": "random labelled examples at the start", "query": "examples labelled per round",
                   "rounds": "labelling rounds", "steps_per_round": "training updates after each round",
                   "batch": "labelled examples per update (drawn with replacement)",
                   "target_accuracy": "test accuracy to reach",
                   "strategy": "uncertainty measure: margin, least_confidence or entropy",
                   "criterion": "largest median ratio (uncertainty / random labels) that passes"}
    quick = {"seeds": [0, 1], "rounds": 16, "steps_per_round": 20, "target_accuracy": 0.85, "criterion": 0.85}

    def run_one(self, ctx: RunContext, brain, seed: int, strategy: str) -> list:
        """Test accuracy after each round: ``[(labelled, accuracy)]``."""
        o = ctx.options
        x, y = _digits()
        rng = np.random.default_rng(seed)  # the same split and start set for both strategies
        order = rng.permutation(len(x))
        test, pool = order[: int(o["test"])], order[int(o["test"]):]
        labelled = list(rng.choice(pool, int(o["start"]), replace=False))
        pick_rng = np.random.default_rng([seed, 1])
        key = jax.random.fold_in(ctx.key, seed)
        params, _ = brain.init(jax.random.fold_in(key, 0))
        opt = brain.init_opt_state(params)
        state, eye = brain.init_state(int(o["batch"])), np.eye(10, dtype=np.float32)
        step, curve = 0, []
        for r in range(int(o["rounds"]) + 1):
            lab = np.asarray(labelled)
            for _ in range(int(o["steps_per_round"])):
                b = lab[pick_rng.integers(0, len(lab), int(o["batch"]))]
                params, opt = brain.train_step(params, opt, state, {"image": x[b][None], "label": eye[y[b]][None]},
                                               jax.random.fold_in(key, step + 1), step)[:2]
                step += 1
            logits = self.logits(brain, params, x, jax.random.fold_in(key, 10 ** 6 + r))
            curve.append((len(lab), float(np.mean(logits[test].argmax(-1) == y[test]))))
            if r == int(o["rounds"]):
                break
            rest = np.setdiff1d(pool, lab)
            if strategy == "random":
                new = pick_rng.choice(rest, int(o["query"]), replace=False)
            else:
                new = rest[np.argsort(-uncertainty(logits[rest], strategy))[: int(o["query"])]]
            labelled += list(new)
        return curve

    @staticmethod
    def logits(brain, params, x, key) -> np.ndarray:
        """The brain's output for every image ``[N, 10]`` (one evaluation of the whole data set)."""
        inputs = {"image": x[None], "label": np.zeros((1, len(x), 10), np.float32)}
        _, _, trace = brain.evaluate(params, brain.init_state(len(x)), inputs, key)
        return np.asarray(trace["logits"])[0]

    def run(self, ctx: RunContext) -> Result:
        o = ctx.options
        if o["strategy"] not in STRATEGIES:
            raise ScenarioError(f"option strategy: expected one of {', '.join(STRATEGIES)}, found {o['strategy']!r}")
        brain = ctx.load_brain(WIRING)
        target = float(o["target_accuracy"])
        curves, ratios, reach = {}, [], {}
        for seed in [int(s) for s in o["seeds"]]:
            for strat in (o["strategy"], "random"):
                c = self.run_one(ctx, brain, seed, strat)
                curves[f"{strat}/{seed}"] = c
                hit = next((n for n, a in c if a >= target), None)
                reach[f"{strat}/{seed}"] = hit
                ctx.metrics.write({"seed": seed, "strategy": strat, "labels_to_target": hit, "final": c[-1][1]})
            cap = curves[f"random/{seed}"][-1][0]
            a, b = reach[f"{o['strategy']}/{seed}"], reach[f"random/{seed}"]
            ratios.append((a if a is not None else cap) / (b if b is not None else cap))
            ctx.log(f"seed {seed}: {o['strategy']} {a}, random {b} labels to {target:.0%}: ratio {ratios[-1]:.2f}")
        self._curves = curves
        median = float(np.median(ratios))
        metrics = {"median_ratio": median, "ratios": ratios, "labels_to_target": reach,
                   "final_accuracy": {k: c[-1][1] for k, c in curves.items()},
                   "any_unreached": any(v is None for v in reach.values())}
        level = float(o["criterion"])
        passed = median <= level and reach[f"{o['strategy']}/{int(o['seeds'][0])}"] is not None
        crit = (f"{'quick: ' if ctx.quick else ''}median over seeds of labels to {target:.0%} test accuracy, "
                f"{o['strategy']} uncertainty / random, <= {level}")
        return Result(bool(passed), crit, metrics)

    def figures(self, ctx: RunContext, result: Result) -> None:
        import matplotlib.pyplot as plt

        curves = getattr(self, "_curves", None)
        if not curves:
            return
        fig, ax = plt.subplots(figsize=(5.5, 3.8))
        for strat, colour in ((ctx.options["strategy"], "C0"), ("random", "C1")):
            runs = [c for k, c in curves.items() if k.split("/")[0] == strat]
            n = np.array([p[0] for p in runs[0]])
            acc = np.array([[p[1] for p in c] for c in runs])
            ax.plot(n, np.median(acc, 0), color=colour, label=f"{strat} (median of {len(runs)} seeds)")
            ax.fill_between(n, acc.min(0), acc.max(0), color=colour, alpha=0.2)
        ax.axhline(float(ctx.options["target_accuracy"]), color="grey", ls=":")
        ax.set_xlabel("labelled examples")
        ax.set_ylabel("test accuracy")
        ax.legend()
        fig.tight_layout()
        fig.savefig(ctx.figures / "accuracy_vs_labels.png", dpi=100)
        plt.close(fig)


SCENARIO = ActiveSampling()
