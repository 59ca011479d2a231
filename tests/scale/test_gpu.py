"""GPU checks (marked ``gpu``; benchmarks/gpu_check.sh runs them; skipped where JAX sees no GPU)."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from brainsim import from_yaml
from brainsim.population import Population, member

from _tiny import TINY, batch

pytestmark = pytest.mark.gpu


def _gpu():
    try:
        return jax.devices("gpu")
    except RuntimeError:
        return []


needs_gpu = pytest.mark.skipif(not _gpu(), reason="no GPU visible to JAX")


@needs_gpu
def test_population_on_the_gpu_equals_separate_runs():
    with jax.default_matmul_precision("highest"):  # no TF32: compare like with like
        brain = from_yaml(TINY)
        pop = Population(brain, 3, {"lr": {"core/0": [1e-2, 3e-3, 1e-2]}})
        keys = jnp.stack([jax.random.key(s) for s in range(3)])
        params, opt = pop.init(keys)
        data = batch(np.random.default_rng(0), 6, 4, lead=(3,))
        p, o, m = pop.train_step(params, opt, data, keys, 0)
        assert next(iter(p["areas"]["core"]["w_in"]["kernel"].devices())).platform == "gpu"
        single = from_yaml(TINY)
        p0, _ = single.init(keys[0])
        p0, _, _, m0 = single.train_step(p0, single.init_opt_state(p0), single.init_state(4),
                                         {k: v[0] for k, v in data.items()}, jax.random.fold_in(keys[0], 0), 0)
        np.testing.assert_allclose(float(m["loss"][0]), float(m0["loss"]), rtol=1e-5)
        for a, b in zip(jax.tree.leaves(p0), jax.tree.leaves(member(p, 0))):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)


@needs_gpu
def test_bf16_matmuls_on_the_gpu_stay_near_fp32():
    brain = from_yaml(TINY)
    params, state = brain.init(jax.random.key(0), batch=8)
    opt = brain.init_opt_state(params)
    data = brain.check_inputs(batch(np.random.default_rng(1), 10, 8))
    losses = []
    for plan in (brain.plan, dataclasses.replace(brain.plan, matmul_dtype="bfloat16")):
        step = jax.jit(brain.pure_train_step(plan))
        losses.append(float(step(params, opt, state, data, jax.random.key(1), np.int32(0))[3]["loss"]))
    np.testing.assert_allclose(losses[1], losses[0], rtol=3e-2)
