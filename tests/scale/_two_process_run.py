"""One of two processes on localhost (run by test_sharding.py): data-parallel training over both
processes' CPU devices (gloo collectives) vs the same steps on one device; process 0 writes JSON.

    python _two_process_run.py PROCESS_ID PORT OUT.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from brainsim.sharding import initialize  # noqa: E402

pid, port, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
initialize(f"localhost:{port}", num_processes=2, process_id=pid)

import jax  # noqa: E402
import numpy as np  # noqa: E402
from jax.sharding import NamedSharding  # noqa: E402
from jax.sharding import PartitionSpec as P  # noqa: E402

from _tiny import TINY, batch  # noqa: E402
from brainsim import from_yaml  # noqa: E402
from brainsim.sharding import data_parallel_step, global_batch, make_mesh, replicate  # noqa: E402

T, B, STEPS = 5, 8, 2
brain = from_yaml(TINY)
key = jax.random.key(3)
params, state = brain.init(key, batch=B)
opt = brain.init_opt_state(params)
data = [batch(np.random.default_rng(s), T, B) for s in range(STEPS)]  # every process draws the whole batch
half = slice(pid * B // 2, (pid + 1) * B // 2)                          # and feeds its own half

mesh = make_mesh(1, 2)
assert len(jax.devices()) == 2 and jax.process_count() == 2
step = data_parallel_step(brain, mesh)
g_params, g_opt = replicate(params, mesh), replicate(opt, mesh)
g_state = jax.tree.map(lambda x: jax.make_array_from_process_local_data(
    NamedSharding(mesh, P("batch") if np.ndim(x) else P()), np.asarray(x)[half] if np.ndim(x) else np.asarray(x)),
    state)
losses = []
for s, d in enumerate(data):
    g_params, g_opt, m = step(g_params, g_opt, g_state, global_batch(mesh, {k: v[:, half] for k, v in d.items()}),
                              replicate(jax.random.fold_in(key, s), mesh), s)
    losses.append(float(np.asarray(m["loss"].addressable_data(0))))

if pid == 0:  # the same steps on this process's one device, no collectives
    p1, o1 = params, opt
    ref = []
    for s, d in enumerate(data):
        p1, o1, _, m1 = brain.train_step(p1, o1, state, d, jax.random.fold_in(key, s), s)
        ref.append(float(m1["loss"]))
    diff = max(float(np.max(np.abs(np.asarray(a.addressable_data(0)) - np.asarray(b))))
               for a, b in zip(jax.tree.leaves(g_params), jax.tree.leaves(p1)))
    Path(out).write_text(json.dumps({"losses_two_processes": losses, "losses_one": ref, "param_diff": diff,
                                     "processes": jax.process_count(), "devices": len(jax.devices())}))
jax.distributed.shutdown()
