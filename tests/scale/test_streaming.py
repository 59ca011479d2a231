"""Long runs stream their traces to disk chunk by chunk; the state crosses chunk boundaries exactly."""

from __future__ import annotations

import jax
import numpy as np

from brainsim import from_yaml
from brainsim.streaming import load_stream, stream_run

from _tiny import TINY, batch


def test_a_chunked_streamed_run_equals_one_long_run_and_keeps_flow_traces(tmp_path):
    brain = from_yaml(TINY.replace("noise: 0.1", "noise: 0.0"))  # no randomness: chunks == one run exactly
    params, state = brain.init(jax.random.key(0), batch=3)
    data = batch(np.random.default_rng(0), 14, 3)
    seen = []
    final = stream_run(brain, params, state, lambda s, n: {k: v[s:s + n] for k, v in data.items()}, 14,
                       tmp_path / "stream", jax.random.key(1), chunk=5, edges=True,
                       on_chunk=lambda c, done: seen.append(done))
    assert seen == [5, 10, 14]  # 5 + 5 + 4 steps (the delay-2 ring buffer crosses both boundaries)
    whole_state, whole = brain.run(params, state, data, jax.random.key(1))
    got = load_stream(tmp_path / "stream")
    assert got["response"].shape == (14, 3, 2)
    np.testing.assert_allclose(got["response"], np.asarray(whole["response"]), rtol=1e-6, atol=1e-6)
    for a, b in zip(jax.tree.leaves(final), jax.tree.leaves(whole_state)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-6)
    edge = [k for k in got if k.startswith("edge:")]
    assert len(edge) == 4 and got[edge[0]].shape == (14, 3)  # one flow trace per connection
