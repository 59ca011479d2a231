"""Sharding on 4 forced CPU devices (a subprocess: the device count is fixed when JAX starts)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def sharded():
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=4", "JAX_PLATFORMS": "cpu"}
    out = subprocess.run([sys.executable, str(HERE / "_sharded_run.py")], env=env, capture_output=True, text=True,
                         timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_data_parallel_on_four_devices_equals_one_device(sharded):
    assert sharded["devices"] == 4 and sharded["dp_sharded_over"] == 4
    assert sharded["dp_param_diff"] < 1e-6 and sharded["dp_opt_diff"] < 1e-6
    one, four = sharded["dp_losses"]
    assert all(abs(a - b) < 1e-6 for a, b in zip(one, four))
    assert sharded["dp_finite"] is True


def test_one_gradient_reduction_per_step_and_no_collective_in_the_time_loop(sharded):
    c = sharded["dp_collectives"]
    assert c["in_loops"] == 0
    # one all-reduce of the cost denominators (forward) and one of the gradients + metrics
    assert c["ops"] == ["all-reduce", "all-reduce"]


def test_population_over_a_two_by_two_mesh_equals_the_unsharded_population(sharded):
    assert sharded["pop_param_diff"] < 1e-6 and sharded["pop_opt_diff"] < 1e-6
    a, b = sharded["pop_losses"]
    assert all(abs(x - y) < 1e-6 for x, y in zip(a, b))


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def test_two_processes_on_localhost_give_the_result_of_one(tmp_path):
    port, out = _free_port(), tmp_path / "two.json"
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    env["JAX_PLATFORMS"] = "cpu"
    procs = [subprocess.Popen([sys.executable, str(HERE / "_two_process_run.py"), str(i), str(port), str(out)],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in (0, 1)]
    errs = []
    for p in procs:
        try:
            _, err = p.communicate(timeout=600)
        except subprocess.TimeoutExpired:
            p.kill()
            _, err = p.communicate()
        errs.append((p.returncode, err[-2000:]))
    assert all(rc == 0 for rc, _ in errs), errs
    r = json.loads(out.read_text())
    assert r["processes"] == 2 and r["devices"] == 2
    assert r["param_diff"] < 1e-6
    assert all(abs(a - b) < 1e-6 for a, b in zip(r["losses_two_processes"], r["losses_one"]))
