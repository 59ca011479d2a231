"""pattern_separation: the dentate gyrus decorrelates similar inputs (sparse expansion coding).

Published anchor: Marr (1971) Phil Trans R Soc B 262 and Rolls & Treves / Rolls (2013) Front Syst
Neurosci 7:74 (the DG's sparse, expanded code separates overlapping entorhinal inputs; emergent's
hip model: DG = 5 x CA3, ~1 % active).  O'Reilly & McClelland (1994) Hippocampus 4:661: a sparse
k-WTA layer maps input overlap to a much lower output overlap.

Setup: the ``hippocampus`` area's DG (``dg_factor`` = 5 granule cells per EC unit, each with
``dg_fan_in`` random Gaussian perforant-path synapses, 0 = all N inputs: a granule cell samples
thousands of EC cells; with a small fan-in, cells that see none of the changed inputs keep their
drive and the separation is weaker: fan-in 16 gives 0.43-0.49 at N = 100; k-winners-take-all at
sparsity s).  Pairs of
+-1 EC patterns with overlap m_in = x . y / N (exactly round((1 - m_in) N / 2) bits flipped) go
through the area's ``separated`` port; the output overlap is |A cap B| / k, the fraction of
active granule cells the two codes share (chance = s).  Curves of m_out vs m_in at several
sparsities.

Pass criterion (full and quick): at 1 % and 2 % activity, input overlap 0.8 maps to output
overlap <= 0.45.  Quick mode: N = 100 (D = 500) and fewer pairs.
Figure: ``figures/separation.png`` output vs input overlap per sparsity (identity line dashed).
"""

from __future__ import annotations

import numpy as np

from brainsim.scenario import Result, RunContext, Scenario
from brainsim.scenarios._memory import area_runner, patterns, store_then_cue


class PatternSeparation(Scenario):
    name = "pattern_separation"
    description = "DG k-WTA expansion: input overlap 0.8 -> output overlap <= 0.45 at 1-2 % activity"
    anchor = "Marr (1971); Rolls (2013) Front Syst Neurosci 7:74; O'Reilly & McClelland (1994) Hippocampus 4"
    defaults = {"n": 200, "dg_factor": 5, "dg_fan_in": 0, "sparsities": [0.01, 0.02, 0.05, 0.10, 0.20],
                "input_overlaps": [0.0, 0.2, 0.4, 0.6, 0.8, 0.9, 0.95, 1.0], "pairs": 200}
    quick = {"n": 100, "sparsities": [0.01, 0.02], "input_overlaps": [0.4, 0.8, 1.0], "pairs": 60}
    option_docs = {  # `brainsim list pattern_separation`
        "n": "EC input units (N); the DG has dg_factor * N cells",
        "dg_factor": "DG cells per EC unit (emergent's hip: DG = 5x CA3)",
        "dg_fan_in": "EC inputs per DG cell (0: all of them)",
        "sparsities": "DG activity levels (fraction of cells active, k-WTA)",
        "input_overlaps": "input overlaps m_in of the pattern pairs",
        "pairs": "pattern pairs per (sparsity, overlap) point"}

    def curve(self, ctx: RunContext, sparsity: float, rng: np.random.Generator) -> dict:
        o = ctx.options
        n, pairs, m_ins = int(o["n"]), int(o["pairs"]), [float(m) for m in o["input_overlaps"]]
        area, run = area_runner(size=n, slots=1, dg_factor=int(o["dg_factor"]), dg_sparsity=sparsity,
                                dg_fan_in=int(o["dg_fan_in"]) or n)
        base = patterns(rng, pairs, n)
        cues = [base]
        for m in m_ins:
            k = int(round((1 - m) * n / 2))
            idx = np.argsort(rng.random(base.shape), axis=1)[:, :k]
            y = base.copy()
            np.put_along_axis(y, idx, -np.take_along_axis(base, idx, 1), 1)
            cues.append(y)
        cues = np.concatenate(cues)
        _, out = store_then_cue(area, run, cues[:0], cues, len(cues))
        code = out["separated"].reshape(len(m_ins) + 1, pairs, -1)
        k = area.k_dg
        assert np.all(code.sum(-1) == k)
        m_out = {f"{m:.2f}": float(np.mean(np.sum(code[0] * code[i + 1], -1) / k)) for i, m in enumerate(m_ins)}
        return {"k": k, "cells": area.n_dg, "output_overlap": m_out}

    def run(self, ctx: RunContext) -> Result:
        rng = ctx.rng(1)
        curves = {f"{s:.2f}": self.curve(ctx, float(s), rng) for s in ctx.options["sparsities"]}
        for s, c in curves.items():
            ctx.log(f"sparsity {s}: " + ", ".join(f"{k}->{v:.3f}" for k, v in c["output_overlap"].items()))
        _figure(ctx, curves)
        at = {s: curves[s]["output_overlap"]["0.80"] for s in ("0.01", "0.02") if s in curves}
        passed = len(at) == 2 and all(v <= 0.45 for v in at.values())
        crit = "input overlap 0.8 -> DG output overlap <= 0.45 at 1 % and 2 % activity (Marr 1971; Rolls 2013)"
        return Result(bool(passed), crit, {"curves": curves, "output_overlap_at_0.8": at,
                                           "n": int(ctx.options["n"]), "dg_factor": int(ctx.options["dg_factor"])})


def _figure(ctx: RunContext, curves: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.5, 4))
    for s, c in curves.items():
        xs = [float(k) for k in c["output_overlap"]]
        ax.plot(xs, list(c["output_overlap"].values()), "o-", label=f"{float(s) * 100:.0f} % active")
    ax.plot([0, 1], [0, 1], "k--", lw=0.8)
    ax.axvline(0.8, color="grey", ls=":")
    ax.axhline(0.45, color="grey", ls=":")
    ax.set(xlabel="EC input overlap", ylabel="DG output overlap (shared active cells / k)",
           title="dentate gyrus pattern separation")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(ctx.figures / "separation.png", dpi=100)
    plt.close(fig)


SCENARIO = PatternSeparation()
