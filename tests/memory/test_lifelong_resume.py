"""Lifelong state across phases, and exact resumption after a kill during sleep (issue 12, item 1).

The subprocess test runs task episodes (the hippocampus stores patterns one-shot), a sleep phase
(no external input, the hippocampus replays to the cortex, which learns) and a test phase, with
checkpoints; the first run is SIGKILLed inside the sleep phase right after a checkpoint, resumed,
and must end bit-identical (params, optimiser states, the carried brain state) to an uninterrupted
run.  Modelled on tests/engine/test_resume.py.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np
import pytest

from brainsim.brain import load
from brainsim.errors import ScenarioError
from brainsim.phases import Phase, carry_lifelong, run_phases, sleep_inputs

ROOT = Path(__file__).resolve().parents[2]
TASK, SLEEP, TEST, T, B = 3, 12, 1, 6, 2

SCRIPT = f'''
import sys
from pathlib import Path

import jax
import numpy as np

from brainsim.brain import load
from brainsim.checkpoint import Checkpointer
from brainsim.phases import Phase, run_phases

T, B = {T}, {B}


class Blocking(Checkpointer):  # after the checkpoint at `block_at`: tell the parent, wait to be killed
    def save(self, step, tree, meta=None):
        path = super().save(step, tree, meta)
        if step == block_at:
            (out / "blocked").write_text(str(step))
            sys.stdin.read()
        return path


def task(i):
    rng = np.random.default_rng([1, i])
    x = rng.choice(np.float32([-1, 1]), (T, B, 64))
    return {{"stimulus": x, "write": np.ones((T, B, 1), np.float32), "replay": np.zeros((T, B, 1), np.float32)}}


brain = load("cls")
out, resume, block_at = Path(sys.argv[1]), sys.argv[2] == "resume", int(sys.argv[3])
params, state = brain.init(jax.random.key(0), batch=B)
phases = [Phase("learn", {TASK}, "task", task), Phase("sleep", {SLEEP}, "sleep", drive={{"replay": 1.0}}),
          Phase("test", {TEST}, "test", task)]
ck = Blocking(out / "ck", every=2, keep=2)
res = run_phases(brain, params, brain.init_opt_state(params), phases, jax.random.key(1), shape=(T, B),
                 checkpointer=ck, resume=resume)
ck.close()
leaves = jax.tree.leaves((res.params, res.opt_state, res.state))
np.savez(out / "final.npz", *[np.asarray(x) for x in leaves])
print("episodes", len(res.history), "valid", int(np.asarray(res.state["areas"]["hippocampus"]["valid"]).sum()))
'''


def _env(cache: Path) -> dict:
    return {**os.environ, "JAX_PLATFORMS": "cpu", "MPLBACKEND": "Agg", "JAX_COMPILATION_CACHE_DIR": str(cache),
            "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0"}


def _final(d: Path) -> list:
    with np.load(d / "final.npz") as z:
        return [z[k] for k in sorted(z.files, key=lambda k: int(k.split("_")[1]))]


def test_kill_during_sleep_then_resume_is_bit_identical(tmp_path):
    script = tmp_path / "run_phases.py"
    script.write_text(SCRIPT)
    env = _env(tmp_path / "xla")
    killed = tmp_path / "killed"
    killed.mkdir()
    block = TASK + 5                                   # a checkpoint (every 2 episodes) inside the sleep phase
    assert TASK < block < TASK + SLEEP and block % 2 == 0
    victim = subprocess.Popen([sys.executable, str(script), str(killed), "fresh", str(block)], cwd=ROOT, env=env,
                              stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    while not (killed / "blocked").exists():
        assert victim.poll() is None, victim.stderr.read().decode()[-2000:]
        assert time.monotonic() < deadline, "the run never reached its sleep-phase checkpoint"
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    assert victim.wait(timeout=30) == -signal.SIGKILL
    assert not (killed / "final.npz").exists()
    r = subprocess.run([sys.executable, str(script), str(killed), "resume", "-1"], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=240, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr[-3000:]
    assert f"episodes {TASK + SLEEP + TEST}" in r.stdout
    assert f"valid {B * (TASK + TEST) * T}" in r.stdout          # the memories survived the kill
    # the uninterrupted reference, in this process (same program, same XLA CPU kernels)
    ns: dict = {}
    exec(compile(SCRIPT.split("brain = load")[0], "script", "exec"), ns)  # noqa: S102 — its task() and constants
    brain = _cls()
    params, _ = brain.init(jax.random.key(0), batch=B)
    phases = [Phase("learn", TASK, "task", ns["task"]), Phase("sleep", SLEEP, "sleep", drive={"replay": 1.0}),
              Phase("test", TEST, "test", ns["task"])]
    ref = run_phases(brain, params, brain.init_opt_state(params), phases, jax.random.key(1), shape=(T, B))
    a = [np.asarray(x) for x in jax.tree.leaves((ref.params, ref.opt_state, ref.state))]
    b = _final(killed)
    assert len(a) == len(b) > 10
    assert all(x.dtype == y.dtype and np.array_equal(x, y) for x, y in zip(a, b))


# --------------------------------------------------------------------------- in-process checks

_BRAIN: list = []


def _cls():
    """One cls brain for the in-process checks (its train step and evaluation compile once)."""
    if not _BRAIN:
        _BRAIN.append(load("cls"))
    return _BRAIN[0]


def test_phases_carry_lifelong_memory_reset_activity_and_sleep_without_input():
    brain = _cls()
    s = sleep_inputs(brain, T, B, {"replay": 1.0})
    assert float(np.abs(np.asarray(s["stimulus"])).sum()) == 0 and np.all(np.asarray(s["replay"]) == 1)
    with pytest.raises(ScenarioError, match="does not declare"):
        sleep_inputs(brain, T, B, {"replya": 1.0})
    params, _ = brain.init(jax.random.key(0), batch=B)
    with pytest.raises(ScenarioError, match="no inputs function"):
        run_phases(brain, params, None, [Phase("t", 1, "task")], jax.random.key(0), shape=(T, B))

    def task(i, write=1.0):
        x = np.random.default_rng(i).choice(np.float32([-1, 1]), (T, B, 64))
        return {"stimulus": x, "write": np.full((T, B, 1), write, np.float32), "replay": np.zeros((T, B, 1), np.float32)}

    seen, replayed = [], []

    def on_episode(phase, i, out):
        seen.append((phase.kind, "trace" in out))
        hip = out["state"]["areas"]["hippocampus"]
        replayed.append(int(np.asarray(hip["valid"]).sum()))

    res = run_phases(brain, params, brain.init_opt_state(params),
                     [Phase("learn", 2, "task", task), Phase("sleep", 2, "sleep", drive={"replay": 1.0}),
                      Phase("test", 1, "test", lambda i: task(100 + i, 0.0))], jax.random.key(2), shape=(T, B),
                     on_episode=on_episode)
    assert [h["kind"] for h in res.history] == ["task", "task", "sleep", "sleep", "test"]
    assert seen == [("task", False), ("task", False), ("sleep", False), ("sleep", False), ("test", True)]
    # memories accumulate over task episodes and survive sleep and test (one-shot storage is state)
    assert replayed == [T * B, 2 * T * B, 2 * T * B, 2 * T * B, 2 * T * B]
    # the next episode starts from the lifelong keys only
    end = res.state
    nxt = carry_lifelong(brain, end)
    hip = nxt["areas"]["hippocampus"]
    assert np.array_equal(np.asarray(hip["memory"]), np.asarray(end["areas"]["hippocampus"]["memory"]))
    assert int(nxt["t"]) == 0 and all(float(np.abs(np.asarray(v)).sum()) == 0 for v in nxt["delays"].values())
    assert int(end["t"]) == T
    fresh = brain.init_state(B)["areas"]
    for k, v in nxt["areas"]["cortex"].items():             # the cortex keeps no lifelong state
        assert np.array_equal(np.asarray(v), np.asarray(fresh["cortex"][k]))
    assert not np.array_equal(np.asarray(end["areas"]["cortex"]["prev_code"]), np.asarray(fresh["cortex"]["prev_code"]))
