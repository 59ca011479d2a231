"""A tiny stochastic brain for the scale tests: a denoising cortex (noise from the per-sample keys), an
RNN, a masked cross-entropy read-out and a learned delay-2 feedback projection (ring buffers)."""

from __future__ import annotations

import numpy as np

TINY = """
name: tiny
inputs: {x: 3, y: 2, mask: 1}
optimizer: {adam: {learning_rate: 1.0e-2}}
areas:
  sense: {type: cortex, hidden: 4, noise: 0.1, costs: {reconstruction: 1.0}}
  core: {type: rnn, hidden: 6, credit: global}
  out:
    type: readout
    size: 2
    credit: global
    costs: {supervised: {weight: 1.0, target: y, loss: cross_entropy, mask: mask}}
connections:
  - x -> sense.input
  - sense.code -> core.input
  - {from: out.output, to: core.input, delay: 2, projection: linear}
  - core.h -> out.input
outputs: {response: out.output}
"""


def write_tiny(tmp_path) -> str:
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY)
    return str(path)


def batch(rng: np.random.Generator, T: int, B: int, lead: tuple = ()) -> dict:
    """A random masked batch ``{x, y, mask}`` of shape ``[*lead, T, B, dim]`` (masks differ per sample)."""
    shape = (*lead, T, B)
    y = np.eye(2, dtype=np.float32)[rng.integers(0, 2, size=shape)]
    return {"x": rng.normal(size=(*shape, 3)).astype(np.float32), "y": y,
            "mask": (rng.random((*shape, 1)) > 0.3).astype(np.float32)}
