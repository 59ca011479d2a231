"""cls_abac: AB-AC paired associates — catastrophic interference and complementary learning systems.

Published anchors: McCloskey & Cohen (1989) Psychol Learn Motiv 24 — a network trained on list AB
and then on AC forgets AB almost entirely (catastrophic interference), unlike humans (Barnes &
Underwood 1959: ~50 % of AB retained).  McClelland, McNaughton & O'Reilly (1995) Psychol Rev 102:
a fast hippocampus storing episodes one-shot plus a slow neocortex that learns from interleaved
hippocampal replay avoids it.  emergent's cortex-only AB-AC model: AB error ~0.88 after AC.

Setup: 10 pairs per list, A / B / C random +-1 patterns (16 units) and a list-context pattern
(8 units, one per list).  Cortex = ``wiring/cls_abac.yaml`` (an MLP, 64 tanh units, trained by
gradient descent on its supervised error, ``cue = [A, context] -> B or C``).  Hippocampus = the
``hippocampus`` area (size 40, modern, DG pathway) storing each event ``[A, context, B]`` one-shot;
recall from ``[A, context, 0]`` completes the response part.  A response is scored correct when
the nearest of the 20 B and C patterns is the right one.  Three conditions, every seed:
    cortex: ``steps`` updates on AB, then ``steps`` on AC;
    cortex + hippocampus: the same, and the response is the hippocampal recall;
    CLS: as ``cortex``, but after each list a sleep phase of ``sleep_steps`` updates in which the
        hippocampus replays its stored events (drawn uniformly over both lists: interleaved) and
        the cortex learns from them; then the hippocampus is removed and the cortex is tested alone.

Pass criterion (full: 10 seeds; quick: 1 seed, fewer steps): cortex-alone mean AB error >= 0.8
after AC; cortex + hippocampus retains >= 50 % of AB; CLS cortex alone recalls >= 80 % of AB and
of AC.  Figure: ``figures/abac.png`` AB and AC accuracy over training, three conditions.
"""

from __future__ import annotations

import jax
import numpy as np

from brainsim.scenario import Result, RunContext, Scenario
from brainsim.scenarios._memory import area_runner

N_ITEM, N_CTX = 16, 8


class ClsAbac(Scenario):
    name = "cls_abac"
    description = "AB-AC interference: cortex alone forgets AB; hippocampus retains; sleep replay consolidates"
    anchor = "McCloskey & Cohen (1989); McClelland, McNaughton & O'Reilly (1995) Psychol Rev 102"
    wirings = ("cls_abac",)
    defaults = {"seeds": 10, "pairs": 10, "steps": 100, "sleep_steps": 300, "eval_every": 10}
    quick = {"seeds": 1, "steps": 40, "sleep_steps": 100, "eval_every": 20}
    option_docs = {  # `brainsim list cls_abac`
        "seeds": "independent seeds (each: its own patterns, cortex and hippocampus)",
        "pairs": "paired associates per list (AB, then AC)",
        "steps": "cortex updates per list",
        "sleep_steps": "updates of each sleep phase (hippocampal replay, interleaved AB and AC)",
        "eval_every": "evaluate AB and AC recall every this many updates (the figure's points)"}

    def run(self, ctx: RunContext) -> Result:
        o = ctx.options
        brain = ctx.load_brain("cls_abac")
        P = int(o["pairs"])
        hip, run_hip = area_runner(size=2 * N_ITEM + N_CTX, slots=4 * P)
        per_seed = [self.one_seed(ctx, brain, hip, run_hip, s) for s in range(int(o["seeds"]))]
        mean = lambda k: float(np.mean([r[k] for r in per_seed]))  # noqa: E731
        metrics = {"cortex_AB_error_after_AC": mean("cortex_ab_error"), "cortex_AC_accuracy": mean("cortex_ac"),
                   "hippocampus_AB_retained": mean("hip_ab"), "hippocampus_AC_accuracy": mean("hip_ac"),
                   "cls_cortex_alone_AB": mean("cls_ab"), "cls_cortex_alone_AC": mean("cls_ac"),
                   "seeds": len(per_seed)}
        ctx.log(", ".join(f"{k} {v:.3f}" for k, v in metrics.items()))
        _figure(ctx, per_seed)
        passed = (metrics["cortex_AB_error_after_AC"] >= 0.8 and metrics["hippocampus_AB_retained"] >= 0.5
                  and metrics["cls_cortex_alone_AB"] >= 0.8 and metrics["cls_cortex_alone_AC"] >= 0.8)
        crit = ("cortex alone: mean AB error >= 0.8 after AC; cortex + hippocampus: >= 50 % of AB retained; "
                "after interleaved sleep replay, cortex alone >= 80 % on AB and AC")
        return Result(bool(passed), crit, {**metrics, "curves": [r["curves"] for r in per_seed]})

    def one_seed(self, ctx, brain, hip, run_hip, seed: int) -> dict:
        o = ctx.options
        P, steps, every = int(o["pairs"]), int(o["steps"]), int(o["eval_every"])
        rng = ctx.rng(100 + seed)
        A, B, C = (rng.choice(np.float32([-1, 1]), (P, N_ITEM)) for _ in range(3))
        context = rng.choice(np.float32([-1, 1]), (2, N_CTX))
        cues = {"AB": np.concatenate([A, np.repeat(context[:1], P, 0)], 1),
                "AC": np.concatenate([A, np.repeat(context[1:], P, 0)], 1)}
        targets = {"AB": B, "AC": C}
        cands = np.concatenate([B, C])
        key = jax.random.fold_in(ctx.key, seed)
        state0 = brain.init_state(P)

        def batch(lst):
            return {"cue": cues[lst][None], "target": targets[lst][None]}

        def score(out, lst):
            return float(np.mean(np.argmax(out @ cands.T, 1) == np.argmax(targets[lst] @ cands.T, 1)))

        def cortex_acc(params):
            res = {}
            for lst in ("AB", "AC"):
                _, _, tr = brain.evaluate(params, state0, batch(lst), key)
                res[lst] = score(np.asarray(tr["response"][0]), lst)
            return res

        def train(params, opt, b, n, t0, curve):
            for s in range(n):
                params, opt, _, _ = brain.train_step(params, opt, state0, b, jax.random.fold_in(key, t0 + s), t0 + s,
                                                     check_finite=False)
                if (s + 1) % every == 0:
                    curve.append((t0 + s + 1, cortex_acc(params)))
            return params, opt

        # hippocampus: one-shot storage of list AB, later of list AC; recall of both lists after AC
        events = {k: np.concatenate([cues[k], targets[k]], 1) for k in ("AB", "AC")}
        n = 2 * N_ITEM + N_CTX
        hip_after = {}
        st = None
        for k in ("AB", "AC"):
            st, _ = run_hip({"store": events[k], "write": np.ones((P, 1), np.float32),
                             "cue": np.zeros((P, n), np.float32)}, seed, state=st)
            hip_after[k] = st
        recall_cues = np.concatenate([np.concatenate([cues[k], np.zeros((P, N_ITEM), np.float32)], 1)
                                      for k in ("AB", "AC")])
        _, out = run_hip({"cue": recall_cues}, seed, state=st)
        rec = np.asarray(out["recall"][:, N_ITEM + N_CTX:])
        hip_ab, hip_ac = score(rec[:P], "AB"), score(rec[P:], "AC")

        # cortex alone: AB then AC
        params, _ = brain.init(jax.random.fold_in(key, 1), batch=P)
        opt = brain.init_opt_state(params)
        curve_c: list = []
        params, opt = train(params, opt, batch("AB"), steps, 0, curve_c)
        params, opt = train(params, opt, batch("AC"), steps, steps, curve_c)
        final_c = cortex_acc(params)

        # CLS: AB awake, sleep (replay of AB), AC awake, sleep (replay of AB and AC, interleaved)
        params, _ = brain.init(jax.random.fold_in(key, 1), batch=P)
        opt = brain.init_opt_state(params)
        curve_s: list = []
        t = 0
        for lst in ("AB", "AC"):
            params, opt = train(params, opt, batch(lst), steps, t, curve_s)
            t += steps
            replayed = self.replay(run_hip, hip_after[lst], int(o["sleep_steps"]) * P, seed + t)
            for s in range(int(o["sleep_steps"])):
                ev = replayed[s * P:(s + 1) * P]
                b = {"cue": ev[None, :, :N_ITEM + N_CTX], "target": ev[None, :, N_ITEM + N_CTX:]}
                params, opt, _, _ = brain.train_step(params, opt, state0, b, jax.random.fold_in(key, t), t,
                                                     check_finite=False)
                t += 1
                if (s + 1) % every == 0:
                    curve_s.append((t, cortex_acc(params)))
        final_s = cortex_acc(params)  # the hippocampus is gone: the cortex answers alone
        return {"cortex_ab_error": 1.0 - final_c["AB"], "cortex_ac": final_c["AC"], "hip_ab": hip_ab, "hip_ac": hip_ac,
                "cls_ab": final_s["AB"], "cls_ac": final_s["AC"],
                "curves": {"cortex": curve_c, "cls": curve_s, "hippocampus": {"AB": hip_ab, "AC": hip_ac}}}

    @staticmethod
    def replay(run_hip, hip_state, count: int, seed: int) -> np.ndarray:
        """``[count, n]`` events the hippocampus replays in sleep (no cue; uniform over its filled slots)."""
        n = hip_state["memory"].shape[1]
        seq = {"cue": np.zeros((count, n), np.float32), "replay": np.ones((count, 1), np.float32)}
        _, out = run_hip(seq, seed, state=hip_state)
        return np.asarray(out["replayed"])


def _figure(ctx: RunContext, per_seed: list) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(12, 3.4), sharey=True)
    for ax, cond in zip(axes, ("cortex", "cls")):
        for lst, col in (("AB", "C0"), ("AC", "C1")):
            xs = [t for t, _ in per_seed[0]["curves"][cond]]
            ys = np.mean([[a[lst] for _, a in r["curves"][cond]] for r in per_seed], axis=0)
            ax.plot(xs, ys, color=col, label=lst)
        ax.set(xlabel="cortical update", title={"cortex": "cortex alone", "cls": "cortex + sleep replay (CLS)"}[cond])
        ax.legend()
    axes[0].set_ylabel("accuracy (nearest of 20)")
    hip = [r["curves"]["hippocampus"] for r in per_seed]
    axes[2].bar(["AB", "AC"], [np.mean([h["AB"] for h in hip]), np.mean([h["AC"] for h in hip])], color=["C0", "C1"])
    axes[2].set(title="cortex + hippocampus (after AC)", ylim=(0, 1.05))
    fig.tight_layout()
    fig.savefig(ctx.figures / "abac.png", dpi=100)
    plt.close(fig)


SCENARIO = ClsAbac()
