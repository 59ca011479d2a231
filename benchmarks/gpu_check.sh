#!/usr/bin/env bash
# GPU readiness check: run once on a machine with a GPU (e.g. the lent H200); under 8 minutes.
#
#   bash benchmarks/gpu_check.sh [OUT_DIR]      # default OUT_DIR: ${OUT:-/tmp}/gpu_check
#
# Prints (and writes as JSON lines under OUT_DIR): the JAX/flax versions and devices, the tests
# marked `gpu`, `brainsim bench` on pbwm at several batch sizes, the large brain's fraction of the
# fp32 matmul peak at several batch sizes, the scan-unroll x bf16 sweep, and the population benchmark.
# Every step has its own time limit (450 s in all), so one slow step cannot eat the others' time. CI never runs it.
set -u
cd "$(dirname "$0")/.."
OUT_DIR="${1:-${OUT:-/tmp}/gpu_check}"
mkdir -p "$OUT_DIR"
PY="${PYTHON:-python}"
if [ -x .venv/bin/python ] && [ -z "${PYTHON:-}" ]; then PY=.venv/bin/python; fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export XLA_PYTHON_CLIENT_PREALLOCATE=false
T0=$(date +%s)
step() {  # step NAME LIMIT_S CMD...: run with a time limit, keep its output
  local name=$1 limit=$2; shift 2
  echo "== $name (limit ${limit}s, t=$(( $(date +%s) - T0 ))s)"
  timeout "$limit" "$@" > "$OUT_DIR/$name.log" 2>&1
  local rc=$?
  tail -n 25 "$OUT_DIR/$name.log"
  echo "-- $name: exit $rc"
}

command -v nvidia-smi > /dev/null && nvidia-smi --query-gpu=name,memory.total,clocks.max.sm --format=csv
step env 45 "$PY" - <<'PY'
import importlib, json, jax
info = {"jax": jax.__version__, "devices": [str(d) for d in jax.devices()], "backend": jax.default_backend()}
for m in ("flax", "optax", "orbax.checkpoint"):
    try:
        info[m] = importlib.import_module(m).__version__
    except Exception as e:
        info[m] = f"IMPORT FAILED: {type(e).__name__}: {e}"
try:
    import flax.nnx  # noqa: F401
    import brainsim  # noqa: F401
    info["brainsim_import"] = "ok"
except Exception as e:
    info["brainsim_import"] = (f"FAILED: {type(e).__name__}: {e} -- jax {jax.__version__} needs flax >= 0.12.10 "
                               "(0.12.8 fails on jax >= 0.11.1, 0.12.9 on jax 0.11.2)")
print(json.dumps(info))
PY
step gpu_tests 75 "$PY" -m pytest -q -p no:cacheprovider -m gpu tests/scale/test_gpu.py
for B in 256 1024 4096; do
  step "bench_pbwm_B$B" 40 "$PY" -m brainsim.cli bench pbwm --json --batch "$B" --time 50 --iters 10
done
for B in 256 1024; do
  step "large_brain_B$B" 40 "$PY" benchmarks/large_brain.py --width 4096 --batch "$B" --time 20 --iters 5
done
step unroll_pbwm 40 "$PY" benchmarks/unroll.py --wiring pbwm --batch 1024 --time 50 --iters 5 --unrolls 1,4,8 \
  --json "$OUT_DIR/unroll_pbwm.json"
step unroll_large 40 "$PY" benchmarks/unroll.py --large 4096 --batch 1024 --time 20 --iters 5 --unrolls 1,4 \
  --json "$OUT_DIR/unroll_large.json"
step population 50 "$PY" benchmarks/population.py --members 64 --batch 8 --time 20 --iters 5 \
  --json "$OUT_DIR/population.json"
echo "== done in $(( $(date +%s) - T0 ))s; logs in $OUT_DIR"
