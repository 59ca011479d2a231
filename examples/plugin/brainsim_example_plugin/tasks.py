"""The task ``noisy_step`` (an example plugin task): recover a step signal from white noise.

Each episode holds ``dim`` channels, each a constant level drawn uniformly in [-1, 1] (the clean
signal, the target) seen through additive Gaussian noise of std ``noise`` (the input).  An
exponential moving average with time constant tau leaves a noise variance of ``noise² / (2 tau - 1)``
in steady state, so a leaky integrator should beat the raw input once tau > 1.
"""

from __future__ import annotations

import numpy as np

from brainsim.tasks import Batch, Task, TaskOption, register_task


@register_task("noisy_step")
class NoisyStep(Task):
    """A constant level per channel seen through white noise; the target is the level."""

    options = {
        "steps": TaskOption(int, 40, "time steps per episode"),
        "dim": TaskOption(int, 2, "channels (input and target dim)"),
        "noise": TaskOption((int, float), 0.5, "std of the additive Gaussian noise"),
    }

    def __init__(self, steps: int = 40, dim: int = 2, noise: float = 0.5):
        self.steps, self.dim, self.noise = int(steps), int(dim), float(noise)
        self.input_dim = self.target_dim = self.dim

    def sample(self, rng: np.random.Generator, batch: int) -> Batch:
        level = rng.uniform(-1.0, 1.0, size=(1, batch, self.dim))
        clean = np.broadcast_to(level, (self.steps, batch, self.dim)).astype(np.float32)
        noisy = (clean + self.noise * rng.standard_normal(clean.shape)).astype(np.float32)
        return Batch(noisy, clean.copy(), np.ones((self.steps, batch, 1), np.float32), {"level": level[0]})
