"""one_shot: one exposure suffices for the hippocampus; the cortex needs many, or hippocampal replay.

Published anchors: Marr (1971); McClelland, McNaughton & O'Reilly (1995) Psychol Rev 102 — the
hippocampus learns an episode from a single exposure and retrieves it from a partial cue; the
neocortex learns slowly and takes the memory over through repeated hippocampal replay
(consolidation; Wilson & McNaughton 1994 Science 265).

Setup: items are random +-1 patterns (64 units).  Cortex = ``wiring/one_shot.yaml`` (an MLP trained
by gradient descent to map an item with ``noise`` of its bits flipped to the clean item),
first trained on ``old`` familiar items.  A new item is then presented ONCE: the hippocampus
(``hippocampus`` area, modern, DG pathway) writes it in one step, the cortex takes one update
on it.  Recall = the fraction of bits of sign(output) equal to the item, from ``tests`` cues with
30 % of the bits flipped.  Then (a) the cortex alone is exposed to the item again and again:
exposures until its recall reaches 95 %; (b) from the one-exposure cortex, a sleep phase: the
hippocampus replays its memories (uniformly over old and new items, interleaved), each
replay a cortical update on the replayed pattern (corrupted like a cue); the consolidation curve
is cortex-alone recall of the new item vs the number of replays.

Pass criterion (quick and full; the issue names the first two, the third is ours): hippocampal
recall of the new item after one exposure >= 0.95; the cortex alone after one exposure < 0.95,
needing more exposures (the number is reported); consolidation: after the sleep phase the cortex
alone recalls the new item at least 0.2 better than after its one exposure (the curve rises; it
plateaus near 0.85 here, below the hippocampus's 1.0, as the interleaved cortex also keeps the
old items).
Figure: ``figures/consolidation.png`` cortex-alone recall vs replays (and vs direct exposures).
"""

from __future__ import annotations

import jax
import numpy as np

from brainsim.scenario import Result, RunContext, Scenario
from brainsim.scenarios._memory import area_runner, flip, patterns


class OneShot(Scenario):
    name = "one_shot"
    description = "one exposure: hippocampus recalls from a 30 %-corrupted cue; cortex needs many, or replay"
    anchor = "McClelland, McNaughton & O'Reilly (1995) Psychol Rev 102; Marr (1971)"
    wirings = ("one_shot",)
    defaults = {"old": 20, "noise": 0.3, "pretrain": 400, "batch": 20, "tests": 50, "max_exposures": 500,
                "sleep_replays": 1000}
    quick = {"pretrain": 200, "max_exposures": 100, "sleep_replays": 300, "tests": 20}
    option_docs = {  # `brainsim list one_shot`
        "old": "familiar items the cortex is trained on first",
        "noise": "fraction of bits flipped in training inputs and test cues",
        "pretrain": "cortex updates on the familiar items",
        "batch": "patterns per cortex update",
        "tests": "corrupted cues per recall measurement",
        "max_exposures": "cap on the repeated exposures of the cortex alone",
        "sleep_replays": "hippocampal replays (cortex updates) in the sleep phase"}

    def run(self, ctx: RunContext) -> Result:
        o = ctx.options
        brain = ctx.load_brain("one_shot")
        n, Bn, noise = brain.inputs["cue"], int(o["batch"]), float(o["noise"])
        rng = ctx.rng(1)
        old = patterns(rng, int(o["old"]), n)
        new = patterns(rng, 1, n)[0]
        tests = flip(rng, np.repeat(new[None], int(o["tests"]), 0), noise)
        key = ctx.key
        state0 = brain.init_state(Bn)
        params, _ = brain.init(jax.random.fold_in(key, 1), batch=Bn)
        opt = brain.init_opt_state(params)
        step = [0]

        def update(params, opt, items):
            """One cortical update on ``items [Bn, n]`` (their corrupted versions -> the items)."""
            b = {"cue": flip(rng, items, noise)[None], "target": items[None]}
            step[0] += 1
            return brain.train_step(params, opt, state0, b, jax.random.fold_in(key, step[0]), step[0],
                                    check_finite=False)[:2]

        def cortex_recall(params):
            accs = []
            for i in range(0, len(tests), Bn):
                chunk = tests[i:i + Bn]
                pad = np.concatenate([chunk, np.zeros((Bn - len(chunk), n), np.float32)])
                _, _, tr = brain.evaluate(params, state0, {"cue": pad[None], "target": pad[None]}, key)
                accs.append(np.mean(np.sign(np.asarray(tr["response"][0][:len(chunk)])) == new, axis=1))
            return float(np.mean(np.concatenate(accs)))

        for _ in range(int(o["pretrain"])):  # familiar items: the cortex knows them
            params, opt = update(params, opt, old[rng.integers(0, len(old), Bn)])
        # the new item, once
        params, opt = update(params, opt, np.repeat(new[None], Bn, 0))
        one_exposure = cortex_recall(params)
        hip, run_hip = area_runner(size=n, slots=64)
        st, _ = run_hip({"store": np.concatenate([old, new[None]]), "write": np.ones((len(old) + 1, 1), np.float32),
                         "cue": np.zeros((len(old) + 1, n), np.float32)}, ctx.seed)
        _, out = run_hip({"cue": tests}, ctx.seed, state=st)
        hip_recall = float(np.mean(np.mean(np.sign(np.asarray(out["recall"])) == new, axis=1)))

        # (a) the cortex alone, exposed again and again
        p_a, o_a = params, opt
        exposures, curve_a = 1, [(1, one_exposure)]
        while curve_a[-1][1] < 0.95 and exposures < int(o["max_exposures"]):
            p_a, o_a = update(p_a, o_a, np.repeat(new[None], Bn, 0))
            exposures += 1
            if exposures in (2, 3, 5) or exposures % 10 == 0:
                curve_a.append((exposures, cortex_recall(p_a)))
        reached = curve_a[-1][1] >= 0.95

        # (b) sleep: hippocampal replay (old and new memories, interleaved) trains the cortex
        n_rep = int(o["sleep_replays"])
        _, out = run_hip({"cue": np.zeros((n_rep * Bn, n), np.float32),
                          "replay": np.ones((n_rep * Bn, 1), np.float32)}, ctx.seed + 1, state=st)
        replayed = np.asarray(out["replayed"]).reshape(n_rep, Bn, n)
        p_b, o_b = params, opt
        new_replays, curve_b = 0, [(0, one_exposure)]
        marks = {1, 2, 5, 10, 20, 50, 100, 200, 400, 800}
        for r in range(n_rep):
            p_b, o_b = update(p_b, o_b, replayed[r])
            before = new_replays
            new_replays += int(np.sum(np.all(replayed[r] == new, axis=1)))
            if any(before < m <= new_replays for m in marks) or r == n_rep - 1:
                curve_b.append((new_replays, cortex_recall(p_b)))
        after_sleep = curve_b[-1][1]
        metrics = {"hippocampus_one_exposure": hip_recall, "cortex_one_exposure": one_exposure,
                   "cortex_exposures_to_0.95": exposures if reached else None, "cortex_reached": bool(reached),
                   "cortex_after_sleep": after_sleep, "new_item_replays": new_replays, "sleep_updates": n_rep,
                   "exposure_curve": curve_a, "consolidation_curve": curve_b}
        ctx.log(f"hippocampus {hip_recall:.3f}, cortex after 1 exposure {one_exposure:.3f}, cortex needs "
                f"{exposures} exposures, after sleep ({new_replays} replays of the new item) {after_sleep:.3f}")
        _figure(ctx, curve_a, curve_b, hip_recall)
        passed = hip_recall >= 0.95 and one_exposure < 0.95 and exposures > 1 and after_sleep >= one_exposure + 0.2
        crit = ("one exposure: hippocampal recall >= 0.95 from 30 %-corrupted cues, cortex alone < 0.95 (needs more "
                "exposures); sleep replay raises cortex-alone recall by >= 0.2")
        return Result(bool(passed), crit, metrics)


def _figure(ctx, curve_a, curve_b, hip) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.6))
    ax.plot(*zip(*[(max(x, 0.8), y) for x, y in curve_b]), "o-", label="cortex alone vs hippocampal replays")
    ax.plot(*zip(*curve_a), "s--", label="cortex alone vs direct exposures")
    ax.axhline(hip, color="C3", label="hippocampus after 1 exposure")
    ax.axhline(0.95, color="grey", ls=":")
    ax.set(xscale="log", xlabel="replays / exposures of the new item", ylabel="recall (bits correct)",
           title="one-shot learning and consolidation")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(ctx.figures / "consolidation.png", dpi=100)
    plt.close(fig)


SCENARIO = OneShot()
