"""brainsim performance suite: every canonical wiring, replica scaling, and the pbwm twins.

    python benchmarks/run.py [--json OUT.json] [--quick] [--twins | --no-twins]

Reports numbers measured in one run on one machine (ratios are the
comparable quantities): compile seconds, train steps/s, sample-steps/s and
compiled kernels per time step of every wiring's train step; for
``replicas: K`` the compile-time ratio K=64 / K=1 (vmap: should stay ~1; target <= 1.2); and
the twin table (:mod:`benchmarks.twins.bench`): brainsim's pbwm train step
against the same step written by hand in JAX and in PyTorch eager (speed,
compile time and kernel-count ratios). ``--twins`` runs only the twin table.
Tests never assert wall-clock times; this script is where speed is measured.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.twins import bench as twins  # noqa: E402
from brainsim.bench import bench_brain  # noqa: E402
from brainsim.brain import from_yaml, load  # noqa: E402

REPLICA_WIRING = """
name: columns
inputs: {{x: 16, y: {out}}}
areas:
  col: {{type: rnn, hidden: 32, replicas: {K}}}
  out: {{type: readout, size: {out}, costs: {{supervised: {{target: y}}}}}}
connections:
  - x -> col.input
  - {{from: col.h, to: out.input, projection: linear}}
  - x -> out.input
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", default=None)
    ap.add_argument("--quick", action="store_true", help="fewer iterations and rounds")
    which = ap.add_mutually_exclusive_group()
    which.add_argument("--twins", action="store_true", help="only the pbwm twin table")
    which.add_argument("--no-twins", action="store_true", help="skip the pbwm twin table")
    args = ap.parse_args()
    iters = 3 if args.quick else 20
    results = {"wirings": {}, "replicas": {}}
    if not args.twins:
        suite(results, iters)
    if not args.no_twins:
        print(flush=True)
        results["twins"] = twins.run_twins(quick=args.quick)
        twins.print_table(results["twins"])
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


def suite(results: dict, iters: int) -> None:
    for path in sorted((ROOT / "wiring").glob("*.yaml")):
        r = bench_brain(load(path), batch=16, time_steps=50, iters=iters)
        results["wirings"][path.stem] = r
        print(f"{path.stem:<16} compile {r['compile_seconds']:6.2f}s  {r['train_steps_per_second']:8.1f} steps/s  "
              f"{r['sample_steps_per_second']:10.0f} sample-steps/s  {r['kernels_per_step']:4d} kernels/step "
              f"(+{r['kernels_outside_loop']} outside)", flush=True)
    for K in (1, 64):
        r = bench_brain(from_yaml(REPLICA_WIRING.format(K=K, out=2)), batch=16, time_steps=50, iters=iters,
                        kernels=False)
        results["replicas"][f"K={K}"] = r
    ratio = results["replicas"]["K=64"]["compile_seconds"] / max(results["replicas"]["K=1"]["compile_seconds"], 1e-9)
    results["replicas"]["compile_ratio_64_over_1"] = round(ratio, 2)
    print(f"replicas: compile time K=64 / K=1 = {ratio:.2f}")


if __name__ == "__main__":
    main()
