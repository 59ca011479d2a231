"""Scan unroll (same results) and bf16 matmuls (losses within tolerance of fp32, really bf16) on CPU."""

from __future__ import annotations

import dataclasses

import jax
import numpy as np
import pytest

from brainsim import from_yaml

from _tiny import TINY, batch

T, B = 8, 4


@pytest.fixture(scope="module")
def tiny():
    brain = from_yaml(TINY)
    params, state = brain.init(jax.random.key(0), batch=B)
    data = [brain.check_inputs(batch(np.random.default_rng(s), T, B)) for s in range(3)]
    return brain, params, state, data


def _train(brain, plan, params, state, data):
    step = jax.jit(brain.pure_train_step(plan, check_finite=True))
    opt = brain.init_opt_state(params)
    losses = []
    for s, d in enumerate(data):
        params, opt, _, m = step(params, opt, state, d, jax.random.fold_in(jax.random.key(1), s), np.int32(s))
        losses.append(float(m["loss"]))
    return params, losses, step


def test_scan_unroll_changes_speed_not_results(tiny):
    brain, params, state, data = tiny
    p1, l1, _ = _train(brain, brain.plan, params, state, data)
    p3, l3, _ = _train(brain, dataclasses.replace(brain.plan, unroll=3), params, state, data)  # 8 = 3 + 3 + 2
    np.testing.assert_allclose(l1, l3, rtol=1e-6)
    for a, b in zip(jax.tree.leaves(p1), jax.tree.leaves(p3)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)


def test_bf16_matmuls_stay_within_tolerance_of_fp32_and_really_run_in_bf16(tiny):
    brain, params, state, data = tiny
    p32, l32, _ = _train(brain, brain.plan, params, state, data)
    plan16 = dataclasses.replace(brain.plan, matmul_dtype="bfloat16")
    p16, l16, step16 = _train(brain, plan16, params, state, data)
    np.testing.assert_allclose(l16, l32, rtol=3e-2)  # bf16 has an 8-bit mantissa: ~0.4 % per product
    assert l16 != l32  # it did change the arithmetic
    for a in jax.tree.leaves(p16):  # master params and the carried state stay float32
        assert a.dtype == np.float32
    hlo = step16.lower(params, brain.init_opt_state(params), state, data[0], jax.random.key(1),
                       np.int32(0)).as_text()
    assert "bf16" in hlo and "dot_general" in hlo
