"""Population throughput: P brains in one vmapped train step vs the same P brains trained one after another.

    python benchmarks/population.py [--wiring pbwm] [--members 64] [--batch 8] [--time 20] [--iters 3] [--json OUT]

Sequential: one brain (compiled once), its train step called for each member in turn (P calls per
round: the best a loop of separate runs in one process can do; separate processes would also pay
P compilations). Population: one call of :class:`brainsim.population.Population`'s step per round.
Both are timed interleaved (A B A B, medians of rounds) in one process; the ratio is
``sequential seconds per round / population seconds per round`` (= throughput ratio). The
issue's target: >= 20 on the 2-core CPU for 64 pbwm brains at B 8. Compile times reported too, and the
end-to-end ratio of a run of N steps done as today (one process per seed: P compilations + P x N
steps) vs one population (one compilation + N population steps); process start-up is left out.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

from brainsim import load  # noqa: E402
from brainsim.bench import random_batch  # noqa: E402
from brainsim.population import Population  # noqa: E402


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser()
    ap.add_argument("--wiring", default="pbwm")
    ap.add_argument("--members", type=int, default=64)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--time", type=int, default=20)
    ap.add_argument("--iters", type=int, default=3, help="timed rounds (each: P sequential steps, 1 population step)")
    ap.add_argument("--json", default=None)
    a = ap.parse_args(argv)
    P, B, T = a.members, a.batch, a.time
    brain = load(a.wiring)
    keys = jnp.stack([jax.random.key(s) for s in range(P)])
    data = [brain.check_inputs(random_batch(brain, B, T, jax.random.fold_in(jax.random.key(9), i))) for i in range(P)]
    pdata = {k: jnp.stack([d[k] for d in data]) for k in data[0]}
    state = brain.init_state(B)

    pop = Population(brain, P)
    pp, po = pop.init(keys)
    seq = [(brain.init(keys[i])[0],) for i in range(P)]
    seq = [(p, brain.init_opt_state(p)) for (p,) in seq]
    step_fn = brain.train_step_fn(check_finite=True)

    def seq_round(s):
        out = []
        for i, (p, o) in enumerate(seq):
            p, o, _, m, _ = step_fn(p, o, state, data[i], jax.random.fold_in(keys[i], s), jnp.int32(s))
            out.append((p, o))
        jax.block_until_ready(out[-1][0])
        return out, m

    def pop_round(s, p, o):
        p, o, m = pop.train_step(p, o, pdata, keys, s)
        jax.block_until_ready(m["loss"])
        return p, o, m

    t0 = time.perf_counter()
    seq, _ = seq_round(0)
    seq_first = time.perf_counter() - t0
    t0 = time.perf_counter()
    pp, po, _ = pop_round(0, pp, po)
    pop_first = time.perf_counter() - t0
    ts, tp = [], []
    for r in range(1, a.iters + 1):
        t0 = time.perf_counter()
        seq, _ = seq_round(r)
        ts.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        pp, po, _ = pop_round(r, pp, po)
        tp.append(time.perf_counter() - t0)
    s_med, p_med = statistics.median(ts), statistics.median(tp)
    result = {"wiring": a.wiring, "members": P, "batch": B, "time": T, "rounds": a.iters,
              "sequential_round_s": s_med, "population_round_s": p_med, "throughput_ratio": s_med / p_med,
              "ratios_per_round": [x / y for x, y in zip(ts, tp)],
              "sequential_first_round_s": seq_first, "population_first_step_s": pop_first,
              "population_compile_s": max(0.0, pop_first - p_med),
              "sequential_compile_s": max(0.0, seq_first - s_med),
              "devices": str(jax.devices()[0].platform), "jax": jax.__version__}
    # end to end, as seeds are run today (one process per seed, each compiling its own step) vs one population
    for n in (100, 1000):
        seq_total = P * (result["sequential_compile_s"] + n * s_med / P)
        pop_total = result["population_compile_s"] + n * p_med
        result[f"end_to_end_ratio_{n}_steps"] = seq_total / pop_total
    print(json.dumps(result, indent=1))
    if a.json:
        Path(a.json).write_text(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
