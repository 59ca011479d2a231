"""Run in a subprocess by test_sharding.py: 4 forced CPU devices; prints one JSON line of results.

    XLA_FLAGS=--xla_force_host_platform_device_count=4 python _sharded_run.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from _tiny import TINY, batch  # noqa: E402
from brainsim import from_yaml  # noqa: E402
from brainsim.population import Population, stack  # noqa: E402
from brainsim.sharding import collective_counts, data_parallel_step, make_mesh, population_step  # noqa: E402

T, B, STEPS = 5, 8, 2


def maxdiff(a, b) -> float:
    return max(float(np.max(np.abs(np.asarray(x, np.float64) - np.asarray(y, np.float64))))
               for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


def main() -> dict:
    out = {"devices": len(jax.devices())}
    brain = from_yaml(TINY)
    key = jax.random.key(3)
    params, state = brain.init(key, batch=B)
    opt = brain.init_opt_state(params)
    data = [batch(np.random.default_rng(s), T, B) for s in range(STEPS)]

    # one brain: single device vs data-parallel over 4 devices
    p1, o1, losses1 = params, opt, []
    for s, d in enumerate(data):
        p1, o1, _, m = brain.train_step(p1, o1, state, d, jax.random.fold_in(key, s), s)
        losses1.append(float(m["loss"]))
    dp = data_parallel_step(brain, make_mesh(1, 4))
    p4, o4, losses4 = params, opt, []
    for s, d in enumerate(data):
        p4, o4, m = dp(p4, o4, state, brain.check_inputs(d), jax.random.fold_in(key, s), s)
        losses4.append(float(m["loss"]))
    out.update(dp_param_diff=maxdiff(p1, p4), dp_opt_diff=maxdiff(o1, o4), dp_losses=[losses1, losses4],
               dp_finite=bool(m["finite"]))
    hlo = dp.lower(params, opt, state, brain.check_inputs(data[0]), key, 0).compile().as_text()
    out["dp_collectives"] = collective_counts(hlo)
    out["dp_sharded_over"] = len(p4["areas"]["core"]["w_in"]["kernel"].sharding.device_set)

    # a population of 4: members over 2 devices, each member's batch over 2
    pop = Population(brain, 4, {"lr": {"core/0": [1e-2, 3e-3, 1e-2, 3e-2]}})
    keys = jnp.stack([jax.random.key(s) for s in range(4)])
    pp, po = pop.init(keys)
    pdata = [batch(np.random.default_rng(10 + s), T, B, lead=(4,)) for s in range(STEPS)]
    a_p, a_o = pp, po
    for s, d in enumerate(pdata):
        a_p, a_o, am = pop.train_step(a_p, a_o, d, keys, s)
    step = population_step(pop, make_mesh(2, 2))
    b_p, b_o = pp, po
    for s, d in enumerate(pdata):
        b_p, b_o, bm = step(b_p, b_o, d, keys, s)
    out.update(pop_param_diff=maxdiff(a_p, b_p), pop_opt_diff=maxdiff(a_o, b_o),
               pop_losses=[np.asarray(am["loss"]).tolist(), np.asarray(bm["loss"]).tolist()])
    return out


if __name__ == "__main__":
    print(json.dumps(main()))
