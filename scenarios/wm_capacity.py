"""wm_capacity: Cowan's K of a slot-limited working memory in change detection (Luck & Vogel 1997).

Setup: task ``change_detection`` (L = 10 locations, C = 8 colours, one-hot
colour per location; a sample array of N items, a delay, the test array with
one colour changed on half of the trials, then the response step).  The sample
array stays on for L steps so that a serial spotlight can visit every item.
Wiring ``wm_capacity``: a ``spotlight`` selects one unvisited item per step
and routes it into the first free stripe of an S-slot ``working_memory``;
a ``compare`` area matches every stored item against the test array at the
item's location and holds the peak mismatch; a linear read-out, trained by
cross-entropy on fixate / same / changed (``train_batches`` batches, Adam),
answers from that evidence and the fixation cue.  The harness only scores
the read-out's answer at the response step: the comparison is the brain's.

Measure, for each S in ``slots`` and each set size N in ``set_sizes``, on
``eval_trials`` fresh trials: hits H = P(changed | change), false alarms
FA = P(changed | no change), and Cowan's K = N (H - FA).

Published anchor: Luck & Vogel (1997) Nature 390:279-281 (accuracy perfect up
to about 4 items, then falling: a capacity of about 4 objects); Cowan (2001)
Behav Brain Sci 24:87-185 (K = N (H - FA); K follows min(N, capacity) and
plateaus at the capacity).

Pass criterion (full): |K - min(N, S)| <= ``tolerance`` (0.5) for N = 1..10 and
S in {4, 7}.  Quick: S = 4, N in {2, 4, 8}, 600 trials each, a short training:
the same criterion on those points.
Figure: ``figures/capacity.png``, K vs N for each S against min(N, S).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from brainsim.errors import ScenarioError
from brainsim.scenario import Result, RunContext, Scenario
from brainsim.tasks import ChangeDetection

WIRING = "wm_capacity"
LOCATIONS, COLORS = 10, 8  # the wiring's display: 10 locations x 8 colours


def _inputs(b) -> dict:
    x = b.inputs
    return {"display": x[..., 1:], "stimulus": x, "target": b.targets, "mask": b.mask}


def _task(set_size) -> ChangeDetection:
    return ChangeDetection(locations=LOCATIONS, colors=COLORS, set_size=set_size, sample=LOCATIONS)


def hits_false_alarms(response, batch) -> tuple[float, float, float]:
    """``(H, FA, accuracy)`` from the read-out ``response [T, B, 3]`` at each trial's response step.

    "Changed" is class 2; a trial is answered by its response step (one step in this task)."""
    resp = np.asarray(batch.info["response"])  # [T, B] bool
    choice = np.asarray(jnp.argmax(response, -1))  # [T, B]
    said = (choice == 2) & resp
    said_change = said.sum(0) * 2 > resp.sum(0)
    change = np.asarray(batch.info["change"]).astype(bool)
    correct = np.where(change, said_change, (np.asarray(choice == 1) & resp).sum(0) * 2 > resp.sum(0))
    h = float(said_change[change].mean()) if change.any() else float("nan")
    fa = float(said_change[~change].mean()) if (~change).any() else float("nan")
    return h, fa, float(correct.mean())


class WMCapacity(Scenario):
    name = "wm_capacity"
    description = "change detection with an S-slot working memory and a compare area: Cowan's K vs set size"
    anchor = "Luck & Vogel (1997) Nature 390:279-281; Cowan (2001) Behav Brain Sci 24:87-185 (K = N (H - FA))"
    wirings = (WIRING,)
    defaults = {"slots": [4, 7], "set_sizes": list(range(1, LOCATIONS + 1)), "train_batches": 300, "batch": 64,
                "eval_trials": 2000, "tolerance": 0.5, "log_every": 50}
    option_docs = {"slots": "working-memory capacities S measured", "set_sizes": "set sizes N measured (1..10)",
                   "train_batches": "training batches of the read-out (mixed set sizes 1..10)",
                   "batch": "trials per training batch", "eval_trials": "fresh trials per (S, N)",
                   "tolerance": "pass: |K - min(N, S)| <= this at every (S, N)",
                   "log_every": "log metrics every this many batches"}
    quick = {"slots": [4], "set_sizes": [2, 4, 8], "train_batches": 120, "batch": 32, "eval_trials": 600}

    def brain_for(self, ctx: RunContext, s: int):
        for area in ("spotlight", "vwm", "compare"):
            ctx.overrides[(WIRING, f"areas.{area}.slots")] = s
        return ctx.load_brain(WIRING)

    def check_options(self, o) -> tuple[list, list]:
        slots, sizes = [int(s) for s in o["slots"]], [int(n) for n in o["set_sizes"]]
        if not slots or min(slots) < 1:
            raise ScenarioError(f"slots must be a non-empty list of integers >= 1; got {o['slots']!r}",
                                where="options.slots")
        if not sizes or min(sizes) < 1 or max(sizes) > LOCATIONS:
            raise ScenarioError(f"set_sizes must be integers in 1..{LOCATIONS}; got {o['set_sizes']!r}",
                                where="options.set_sizes", hint=f"the display has {LOCATIONS} locations")
        return slots, sizes

    def run(self, ctx: RunContext) -> Result:
        o = ctx.options
        slots, sizes = self.check_options(o)
        train_task = _task((1, LOCATIONS))
        curves, detail = {}, {}
        for s in slots:
            brain = self.brain_for(ctx, s)
            params, _ = brain.init(jax.random.fold_in(ctx.key, s), batch=int(o["batch"]))
            stream = train_task.stream(ctx.seed * 1000 + s, int(o["batch"]))
            res = ctx.fit(brain, params, brain.init_opt_state(params), lambda step: _inputs(stream(step)),
                          int(o["train_batches"]), jax.random.fold_in(ctx.key, 100 + s), label=f"S{s}",
                          log_every=int(o["log_every"]), desc=f"S={s}")
            ctx.compile_seconds += res.compile_seconds
            curves[s], detail[s] = {}, {}
            B = int(o["eval_trials"])
            for n in sizes:
                b = _task(n).generate(10_000 + 100 * s + n + 1_000_000 * ctx.seed, jnp.arange(B))
                _, _, trace = brain.evaluate(res.params, brain.init_state(B), _inputs(b),
                                             jax.random.fold_in(ctx.key, 1000 * s + n))
                h, fa, acc = hits_false_alarms(trace["response"], b)
                k = n * (h - fa)
                curves[s][n] = k
                detail[s][n] = {"K": k, "H": h, "FA": fa, "accuracy": acc, "ideal": min(n, s)}
                ctx.metrics.write({"model": f"S{s}", "slots": s, "set_size": n, "K": k, "H": h, "FA": fa,
                                   "accuracy": acc})
                ctx.log(f"S={s} N={n}: H={h:.3f} FA={fa:.3f} K={k:.2f} (ideal {min(n, s)})")
        gaps = {s: {n: abs(k - min(n, s)) for n, k in c.items()} for s, c in curves.items()}
        worst = max(g for c in gaps.values() for g in c.values())
        self._curves = curves
        metrics = {"K": {str(s): {str(n): k for n, k in c.items()} for s, c in curves.items()},
                   "detail": {str(s): {str(n): d for n, d in c.items()} for s, c in detail.items()},
                   "max_gap": worst, "plateau": {str(s): float(np.mean([k for n, k in c.items() if n >= s] or [np.nan]))
                                                 for s, c in curves.items()}}
        crit = (f"{'quick: ' if ctx.quick else ''}|K - min(N, S)| <= {o['tolerance']} for N in {sizes}, "
                f"S in {slots} (Cowan's K = N (H - FA); Luck & Vogel 1997)")
        return Result(bool(worst <= float(o["tolerance"])), crit, metrics)

    def figures(self, ctx: RunContext, result: Result) -> None:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        curves = getattr(self, "_curves", None)
        if not curves:
            return
        fig, ax = plt.subplots(figsize=(5, 3.6))
        for s, c in sorted(curves.items()):
            ns = sorted(c)
            line, = ax.plot(ns, [c[n] for n in ns], "o-", label=f"brain, S = {s}")
            ax.plot(ns, [min(n, s) for n in ns], "--", color=line.get_color(), alpha=0.6, label=f"min(N, {s})")
        ax.set_xlabel("set size N")
        ax.set_ylabel("Cowan's K = N (H - FA)")
        ax.set_title("change detection: capacity")
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(ctx.figures / "capacity.png", dpi=110)
        plt.close(fig)


SCENARIO = WMCapacity()
