"""hopfield_capacity: the storage capacity of CA3 (classical Hopfield) and of modern Hopfield memory.

Published anchors:
    Amit, Gutfreund & Sompolinsky (1985) Phys Rev Lett 55:1530 — a Hopfield network with the
    Hebbian rule retrieves its patterns (overlap ~0.97) up to a load P/N = 0.138 and then collapses.
    Ramsauer et al. (2020) "Hopfield Networks is All You Need" (arXiv:2008.02217) — the modern
    (continuous, softmax) Hopfield network stores exponentially many patterns and retrieves them
    in ONE update.

Setup: the ``hippocampus`` area with ``pathway: direct`` (CA3 stores the +-1 EC patterns
themselves, the network the anchors analyse), one-shot writes (one pattern a step, no recall on
write steps), then one cue per stored pattern.
    classical: N = 1000, loads P/N = 0.02 ... 0.20, cues with 10 % of the bits flipped, synchronous
        sign updates until no unit changes (cap ``iterations``); the overlap m = recall . xi / N
        averaged over patterns and ``trials`` independent pattern sets.
    modern: d = 128, beta = 1 on raw dot products (``similarity: dot``, Ramsauer's update
        xi <- X softmax(beta X^T xi)), 10,000 patterns, cues with 25 % of the bits flipped, one
        update; a retrieval is exact when sign(recall) equals the stored pattern in every bit.

Pass criterion (full mode): classical overlap >= 0.95 at P/N = 0.10, the first load with overlap
< 0.95 in [0.12, 0.16], overlap <= 0.70 at 0.20; modern >= 95 % exact retrievals.
Quick mode (CI): N = 200 and loads {0.05, 0.25}, 1,000 modern patterns: overlap >= 0.95 at
0.05, <= 0.70 at 0.25, modern >= 95 % exact (finite-size effects at N = 200 blur the transition,
so the quick criterion does not locate it).
Figure: ``figures/capacity.png`` overlap vs load (classical) and exact fraction (modern).
"""

from __future__ import annotations

import numpy as np

from brainsim.scenario import Result, RunContext, Scenario
from brainsim.scenarios._memory import area_runner, flip, overlaps, patterns, store_then_cue


class HopfieldCapacity(Scenario):
    name = "hopfield_capacity"
    description = "CA3 capacity: classical collapse near 0.138 N; modern Hopfield one-update retrieval"
    anchor = "Amit, Gutfreund & Sompolinsky (1985) PRL 55; Ramsauer et al. (2020) arXiv:2008.02217"
    defaults = {"n": 1000, "loads": [round(0.02 * i, 2) for i in range(1, 11)] + [0.11, 0.13, 0.15, 0.17, 0.19],
                "noise": 0.10, "trials": 3, "iterations": 100,
                "modern_d": 128, "modern_patterns": 10000, "modern_noise": 0.25, "modern_beta": 1.0}
    quick = {"n": 200, "loads": [0.05, 0.25], "trials": 1, "modern_patterns": 1000}
    option_docs = {  # `brainsim list hopfield_capacity`
        "n": "units of the classical network (N)",
        "loads": "loads P/N tested (the classical curve)",
        "noise": "fraction of bits flipped in a classical cue",
        "trials": "independent pattern sets averaged per load",
        "iterations": "cap on the synchronous recall updates (recall stops earlier at a fixed point)",
        "modern_d": "pattern dimension of the modern (softmax) network",
        "modern_patterns": "patterns stored in the modern network",
        "modern_noise": "fraction of bits flipped in a modern cue",
        "modern_beta": "inverse temperature of the modern update"}

    def classical(self, ctx: RunContext) -> dict:
        o = ctx.options
        n, loads = int(o["n"]), sorted(float(x) for x in o["loads"])
        p_max = int(round(max(loads) * n))
        area, run = area_runner(size=n, slots=p_max, mode="classical", pathway="direct",
                                iterations=int(o["iterations"]), dg_factor=1, dg_fan_in=1)
        rng = ctx.rng(1)
        curve = {}
        for load in loads:
            p = int(round(load * n))
            ms = []
            for _ in range(int(o["trials"])):
                pats = patterns(rng, p, n)
                _, out = store_then_cue(area, run, pats, flip(rng, pats, o["noise"]), p_max)
                ms.append(overlaps(out["recall"], pats))
            curve[load] = float(np.mean(np.concatenate(ms)))
            ctx.log(f"classical N={n} P/N={load:.2f}: overlap {curve[load]:.3f}")
        below = [load for load in loads if curve[load] < 0.95]
        return {"n": n, "noise": o["noise"], "overlap_by_load": {f"{k:.2f}": v for k, v in curve.items()},
                "first_load_below_0.95": below[0] if below else None}

    def modern(self, ctx: RunContext) -> dict:
        o = ctx.options
        d, p = int(o["modern_d"]), int(o["modern_patterns"])
        area, run = area_runner(size=d, slots=p, mode="modern", pathway="direct", similarity="dot",
                                beta=float(o["modern_beta"]), iterations=1, dg_factor=1, dg_fan_in=1)
        rng = ctx.rng(2)
        pats = patterns(rng, p, d)
        cues = flip(rng, pats, o["modern_noise"])
        _, out = store_then_cue(area, run, pats, cues, p)
        exact = np.all(np.sign(out["recall"]) == pats, axis=1)
        res = {"d": d, "patterns": p, "noise": o["modern_noise"], "beta": o["modern_beta"],
               "exact_fraction": float(np.mean(exact)), "mean_overlap": float(np.mean(overlaps(out["recall"], pats))),
               "cue_overlap": float(np.mean(overlaps(cues, pats)))}
        ctx.log(f"modern d={d} P={p}: exact {res['exact_fraction']:.4f}")
        return res

    def run(self, ctx: RunContext) -> Result:
        c, m = self.classical(ctx), self.modern(ctx)
        curve = {float(k): v for k, v in c["overlap_by_load"].items()}
        _figure(ctx, curve, m)
        modern_ok = m["exact_fraction"] >= 0.95
        if ctx.quick:
            lo, hi = min(curve), max(curve)
            passed = curve[lo] >= 0.95 and curve[hi] <= 0.70 and modern_ok
            crit = (f"quick: classical overlap >= 0.95 at P/N = {lo:.2f} and <= 0.70 at {hi:.2f} (N = {c['n']}); "
                    f"modern >= 95 % exact ({m['patterns']} patterns)")
        else:
            first = c["first_load_below_0.95"]
            passed = (curve.get(0.10, 0.0) >= 0.95 and first is not None and 0.12 <= first <= 0.16
                      and curve.get(0.20, 1.0) <= 0.70 and modern_ok)
            crit = ("classical: overlap >= 0.95 at P/N = 0.10, first load < 0.95 in [0.12, 0.16], <= 0.70 at 0.20 "
                    "(Amit et al. 1985); modern: >= 95 % exact in one update (Ramsauer et al. 2020)")
        return Result(bool(passed), crit, {"classical": c, "modern": m})


def _figure(ctx: RunContext, curve: dict, modern: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.5))
    loads = sorted(curve)
    a.plot(loads, [curve[k] for k in loads], "o-", label="classical CA3")
    a.axvline(0.138, color="grey", ls="--", label="0.138 N (Amit et al.)")
    a.axhline(0.95, color="grey", ls=":")
    a.set(xlabel="load P/N", ylabel="overlap after recall", title="classical Hopfield", ylim=(0, 1.05))
    a.legend(fontsize=8)
    b.bar(["exact", "mean overlap", "cue overlap"],
          [modern["exact_fraction"], modern["mean_overlap"], modern["cue_overlap"]], color=["C1", "C2", "C7"])
    b.set(ylim=(0, 1.05), title=f"modern, d={modern['d']}, {modern['patterns']} patterns, 1 update")
    fig.tight_layout()
    fig.savefig(ctx.figures / "capacity.png", dpi=100)
    plt.close(fig)


SCENARIO = HopfieldCapacity()
