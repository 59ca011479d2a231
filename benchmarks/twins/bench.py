"""brainsim's pbwm train step against its twins: hand-written JAX and PyTorch eager.

    python benchmarks/twins/bench.py [--quick] [--json OUT.json] [--batch 16] [--time 100]

(``benchmarks/run.py`` runs it too.) Everything runs in one process, from the same initial
params (brainsim's, converted) and the same fixed 12-AX-like batch.

* Speed: after a warm-up, the contenders run interleaved, round after round (brainsim,
  brainsim with ``check_finite``, hand JAX, torch 1 thread, torch default threads, …); each
  block runs enough train steps to last ~``block_seconds`` and gives seconds per step; a
  ratio is the median over rounds of the per-round (paired) ratio, which cancels slow drifts
  of a shared machine. brainsim is called as a user calls it: ``brain.train_step(params,
  opt_state, state, batch, key, i)`` (``check_finite=False`` unless said: the twins check
  nothing), with one fixed key (pbwm draws no random numbers).
* Compile: ``jax.jit(f).lower(*args)`` then ``.compile()``, timed, on a fresh brain / fresh
  jit each round (a warm-up round first); brainsim's is its public ``train_step`` under one
  ``jax.jit``, so tracing brainsim's Python is included.
* Kernels: :func:`brainsim.bench.hlo_kernel_counts` of those compiled programs (kernels per
  time step = inside the forward and backward scan loops).

Numbers are measured in this run on this machine; no test asserts them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

import brainsim  # noqa: E402
from brainsim.bench import _train_step_options, hlo_kernel_counts, jitted_train_step  # noqa: E402
from benchmarks.twins import hand_jax  # noqa: E402

WIRING = ROOT / "wiring" / "pbwm.yaml"

#: the targets of the engine-core issue (ratio, comparison, bound)
TARGETS = {
    "train_T100": ("<=", 1.05), "train_T1": ("<=", 1.3), "kernels_per_step": ("<=", 1.05),
    "compile": ("<=", 1.1), "torch_1thread": (">=", 10.0),
}


def _torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


# --------------------------------------------------------------------------- contenders

class Setup:
    """One brain, its initial params, and the twins' copies of them, for a batch of ``B`` x ``T``."""

    def __init__(self, B: int, T: int, seed: int = 0):
        self.brain = brainsim.load(str(WIRING))
        self.key = jax.random.key(seed)
        self.params, self.state = self.brain.init(self.key, batch=B)
        self.opt = self.brain.init_opt_state(self.params)
        self.np_batch = hand_jax.twelve_ax_like_batch(B, T, seed)
        self.batch = {k: jnp.asarray(v) for k, v in self.np_batch.items()}
        self.hand_params = hand_jax.from_brainsim(self.params)
        self.hand_opt = hand_jax.init_opt_state(self.hand_params)


def brainsim_runner(s: Setup, check_finite: bool = False, device_step: bool = False) -> Callable[[int], float]:
    """``run(n)``: n train steps of brainsim (params chained), returns seconds per step.

    ``step`` is the Python int ``i`` (as ``fit`` passes it), or with ``device_step`` one int32
    device scalar made once (pbwm has no schedule, so the step's value changes nothing): the
    difference is the cost of converting the int on every call.
    """
    brain, opts = s.brain, _train_step_options(s.brain, check_finite)
    carry = [s.params, s.opt, 0]
    fixed_step = jnp.zeros((), jnp.int32)

    def run(n: int) -> float:
        p, o, i0 = carry
        t0 = time.perf_counter()
        for i in range(i0, i0 + n):
            p, o, _, m = brain.train_step(p, o, s.state, s.batch, s.key, fixed_step if device_step else i, **opts)
        jax.block_until_ready((p, m["loss"]))
        dt = (time.perf_counter() - t0) / n
        carry[:] = [p, o, i0 + n]
        return dt

    return run


def hand_runner(s: Setup) -> Callable[[int], float]:
    step = hand_jax.make_train_step()
    carry = [s.hand_params, s.hand_opt]

    def run(n: int) -> float:
        p, o = carry
        t0 = time.perf_counter()
        for _ in range(n):
            p, o, loss = step(p, o, s.batch)
        jax.block_until_ready((p, loss))
        dt = (time.perf_counter() - t0) / n
        carry[:] = [p, o]
        return dt

    return run


def torch_runner(s: Setup, threads: int) -> Callable[[int], float]:
    torch = _torch()
    from benchmarks.twins.torch_eager import TorchTwin

    twin = TorchTwin(s.params, s.np_batch)

    def run(n: int) -> float:
        torch.set_num_threads(threads)
        t0 = time.perf_counter()
        for _ in range(n):
            twin.step()
        return (time.perf_counter() - t0) / n

    return run


def interleaved(runners: dict, rounds: int, block_seconds: float) -> dict:
    """``{name: [seconds per step, one per round]}``: A B C … A B C …, after one warm-up call each.

    A block repeats a step as often as fits ``block_seconds`` (at least once), from one timed call.
    """
    reps = {}
    for name, run in runners.items():
        run(1)  # warm-up (compiles)
        reps[name] = max(1, round(block_seconds / max(run(1), 1e-7)))
    out = {name: [] for name in runners}
    for _ in range(rounds):
        for name, run in runners.items():
            out[name].append(run(reps[name]))
    return out


def paired(times: dict, num: str, den: str) -> float:
    return statistics.median(a / b for a, b in zip(times[num], times[den]))


# --------------------------------------------------------------------------- compile time and kernels

def _timed_compile(jitted, args) -> tuple[float, float, str]:
    t0 = time.perf_counter()
    lowered = jitted.lower(*args)
    t1 = time.perf_counter()
    compiled = lowered.compile()
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1, compiled.as_text()


def compile_and_kernels(B: int, T: int, rounds: int) -> dict:
    """Lower+compile seconds of brainsim's and the hand twin's step (fresh each round; medians) and kernels."""
    def brainsim_once():
        s = Setup(B, T)
        args = (s.params, s.opt, s.state, s.batch, s.key, jnp.zeros((), jnp.int32))
        return _timed_compile(jitted_train_step(s.brain, check_finite=False), args)

    def hand_once():
        s = Setup(B, T)
        return _timed_compile(hand_jax.make_train_step(), (s.hand_params, s.hand_opt, s.batch))

    brainsim_once(), hand_once()  # warm-up: JAX's and XLA's own first-use costs
    res = {"brainsim": [], "hand": []}
    for _ in range(rounds):
        res["brainsim"].append(brainsim_once())
        res["hand"].append(hand_once())
    out = {}
    for name, rs in res.items():
        out[name] = {"lower_seconds": statistics.median(r[0] for r in rs),
                     "compile_seconds": statistics.median(r[1] for r in rs),
                     "total_seconds": statistics.median(r[0] + r[1] for r in rs),
                     "kernels": hlo_kernel_counts(rs[-1][2])}
    out["ratio"] = statistics.median((a[0] + a[1]) / (b[0] + b[1]) for a, b in zip(res["brainsim"], res["hand"]))
    return out


# --------------------------------------------------------------------------- the table

def run_twins(batch: int = 16, time_steps: int = 100, quick: bool = False, torch_twin: bool = True) -> dict:
    """Measure everything; returns the numbers (see :func:`print_table`)."""
    rounds, block = (5, 0.1) if quick else (11, 0.3)
    torch = _torch() if torch_twin else None
    s = Setup(batch, time_steps)
    runners = {"brainsim": brainsim_runner(s), "brainsim_checked": brainsim_runner(s, check_finite=True),
               "hand": hand_runner(s)}
    default_threads = None
    if torch is not None:
        default_threads = torch.get_num_threads()
        runners["torch_1thread"] = torch_runner(s, 1)
        runners["torch_default"] = torch_runner(s, default_threads)
    long = interleaved(runners, rounds, block)
    s1 = Setup(batch, 1)
    short = interleaved({"brainsim": brainsim_runner(s1), "brainsim_device_step": brainsim_runner(s1, device_step=True),
                         "hand": hand_runner(s1)}, rounds, block)
    comp = compile_and_kernels(batch, time_steps, 1 if quick else 3)
    kb, kh = comp["brainsim"]["kernels"], comp["hand"]["kernels"]
    res = {
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "backend": jax.default_backend(),
                    "jax": jax.__version__, "torch": getattr(torch, "__version__", None),
                    "torch_default_threads": default_threads},
        "batch": batch, "time_steps": time_steps, "rounds": rounds, "quick": quick,
        "seconds_per_step": {f"T{time_steps}": {k: statistics.median(v) for k, v in long.items()},
                             "T1": {k: statistics.median(v) for k, v in short.items()}},
        "ratios": {
            "train_T100": paired(long, "brainsim", "hand"),
            "train_T100_checked": paired(long, "brainsim_checked", "hand"),
            "train_T1": paired(short, "brainsim", "hand"),
            "train_T1_device_step": paired(short, "brainsim_device_step", "hand"),
            "compile": comp["ratio"],
            "kernels_per_step": kb["per_step"] / max(kh["per_step"], 1),
            "kernels_outside": kb["outside"] / max(kh["outside"], 1),
        },
        "compile": comp,
    }
    if torch is not None:
        res["ratios"]["torch_1thread"] = paired(long, "torch_1thread", "brainsim")
        res["ratios"]["torch_default"] = paired(long, "torch_default", "brainsim")
    return res


def _verdict(key: str, value: float) -> str:
    if key not in TARGETS:
        return ""
    op, bound = TARGETS[key]
    ok = value <= bound if op == "<=" else value >= bound
    return f"{op} {bound:<5g} {'met' if ok else 'NOT met'}"


def print_table(res: dict) -> None:
    m, r, T = res["machine"], res["ratios"], res["time_steps"]
    sp, comp = res["seconds_per_step"], res["compile"]
    kb, kh = comp["brainsim"]["kernels"], comp["hand"]["kernels"]
    print(f"pbwm twins: B{res['batch']} T{T}, {res['rounds']} interleaved rounds; {m['backend']}, "
          f"{m['cpus']} cpus, jax {m['jax']}, torch {m['torch'] or 'not installed'}")
    rows = [
        ("train_T100", f"train_step brainsim / hand JAX  (B{res['batch']} T{T})", r["train_T100"],
         f"{sp[f'T{T}']['brainsim'] * 1e3:.3f} / {sp[f'T{T}']['hand'] * 1e3:.3f} ms"),
        ("train_T100_checked", "  same, brainsim check_finite=True", r["train_T100_checked"],
         f"{sp[f'T{T}']['brainsim_checked'] * 1e3:.3f} ms"),
        ("train_T1", f"train_step brainsim / hand JAX  (B{res['batch']} T1)", r["train_T1"],
         f"{sp['T1']['brainsim'] * 1e3:.3f} / {sp['T1']['hand'] * 1e3:.3f} ms"),
        ("train_T1_device_step", "  same, step given as an int32 device scalar", r["train_T1_device_step"],
         f"{sp['T1']['brainsim_device_step'] * 1e3:.3f} ms"),
    ]
    if "torch_1thread" in r:
        rows += [("torch_1thread", f"torch eager 1 thread / brainsim  (T{T})", r["torch_1thread"],
                  f"{sp[f'T{T}']['torch_1thread'] * 1e3:.2f} ms"),
                 ("torch_default", f"torch eager {m['torch_default_threads']} threads / brainsim", r["torch_default"],
                  f"{sp[f'T{T}']['torch_default'] * 1e3:.2f} ms")]
    rows += [
        ("compile", f"compile (lower+compile) brainsim / hand  (T{T})", r["compile"],
         f"{comp['brainsim']['total_seconds']:.2f} / {comp['hand']['total_seconds']:.2f} s"),
        ("kernels_per_step", "kernels per time step brainsim / hand", r["kernels_per_step"],
         f"{kb['per_step']} / {kh['per_step']}"),
        ("kernels_outside", "kernels outside the loop brainsim / hand", r["kernels_outside"],
         f"{kb['outside']} / {kh['outside']}"),
    ]
    print(f"{'':<50} {'ratio':>7}  {'target':<16} measured")
    for key, label, value, detail in rows:
        print(f"{label:<50} {value:7.3f}  {_verdict(key, value):<16} {detail}")
    if "torch_1thread" not in r:
        print("(torch not installed: pip install torch for the PyTorch eager rows)")


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer rounds and shorter blocks")
    ap.add_argument("--json", default=None)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--time", type=int, default=100)
    ap.add_argument("--no-torch", action="store_true")
    args = ap.parse_args(argv)
    res = run_twins(args.batch, args.time, args.quick, not args.no_torch)
    print_table(res)
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2))
    return res


if __name__ == "__main__":
    main()
